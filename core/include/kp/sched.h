/* sched.h: the virtual clock and its task scheduler.
 *
 * All player time is virtual, in microseconds since the scheduler was created. Nothing
 * sleeps: kp_sched_step() jumps the clock to the earliest pending task and runs it. Tasks
 * due at the same instant run in the order they were scheduled, so a run is a pure function
 * of its inputs. The scheduler owns nothing but its task records; callbacks own their data.
 */
#ifndef KP_SCHED_H
#define KP_SCHED_H

#include <stdbool.h>
#include <stdint.h>

typedef int64_t kp_time; /* microseconds of virtual time */

#define KP_MS(x)  ((kp_time)(x)*1000)
#define KP_SEC(x) ((kp_time)((x)*1000000.0))

typedef struct kp_sched kp_sched;
typedef void (*kp_task_fn)(void *ud);
typedef uint64_t kp_task_id; /* 0 is never a valid id */

kp_sched *kp_sched_new(void);
/* Drops pending tasks without running them. */
void kp_sched_free(kp_sched *s);

kp_time kp_sched_now(const kp_sched *s);
/* Schedules fn(ud) at absolute time `at` (clamped to now). Returns 0 when out of memory. */
kp_task_id kp_sched_at(kp_sched *s, kp_time at, kp_task_fn fn, void *ud);
kp_task_id kp_sched_after(kp_sched *s, kp_time delay, kp_task_fn fn, void *ud);
/* Cancels a pending task; true if it was pending. Safe on ids that already ran. */
bool kp_sched_cancel(kp_sched *s, kp_task_id id);

bool kp_sched_idle(const kp_sched *s);
/* Time of the earliest pending task, or -1 when idle. */
kp_time kp_sched_next_time(const kp_sched *s);
/* Runs the earliest task (advancing the clock to it). false when there was none. */
bool kp_sched_step(kp_sched *s);
/* Runs every task due at or before `until`, then sets the clock to `until`. */
void kp_sched_run_until(kp_sched *s, kp_time until);
/* Number of tasks run so far (for benchmarks and runaway detection). */
uint64_t kp_sched_tasks_run(const kp_sched *s);

#endif
