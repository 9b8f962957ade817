/* test_sched.c: the virtual clock and task scheduler (kp/sched.h): order by time then by
 * insertion, cancellation, tasks scheduling tasks, run_until, next_time/idle, clamping of
 * past times, and thousands of random tasks coming out sorted (fixed seed).
 */
#include "kp/codec.h"
#include "kp/sched.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>

#include <cmocka.h>

/* ---- a log of what ran, and when ------------------------------------------------------------- */

#define LOG_CAP 8192

typedef struct run_log {
    kp_sched *s;
    int ids[LOG_CAP];
    kp_time at[LOG_CAP];
    size_t n;
} run_log;

typedef struct task_ctx {
    run_log *log;
    int id;
    kp_time extra; /* for chaining tasks: delay of the follow-up, or -1 for none */
    struct task_ctx *next;
} task_ctx;

static void record(void *ud)
{
    task_ctx *t = ud;
    assert_true(t->log->n < LOG_CAP);
    t->log->ids[t->log->n] = t->id;
    t->log->at[t->log->n] = kp_sched_now(t->log->s);
    t->log->n++;
}

/* Records itself, then schedules t->next after t->extra. */
static void record_then_chain(void *ud)
{
    task_ctx *t = ud;
    record(t);
    if (t->next)
        assert_int_not_equal(kp_sched_after(t->log->s, t->extra, record, t->next), 0);
}

static void run_all(kp_sched *s)
{
    while (kp_sched_step(s))
        ;
}

static void assert_ids(const run_log *log, const int *want, size_t n)
{
    assert_int_equal(log->n, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(log->ids[i], want[i]);
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void test_new_is_idle(void **state)
{
    kp_sched *s = kp_sched_new();
    assert_non_null(s);
    assert_int_equal(kp_sched_now(s), 0);
    assert_true(kp_sched_idle(s));
    assert_int_equal(kp_sched_next_time(s), -1);
    assert_false(kp_sched_step(s));
    assert_int_equal(kp_sched_tasks_run(s), 0);
    kp_sched_free(s);
    kp_sched_free(NULL);
}

static void test_time_macros(void **state)
{
    assert_int_equal(KP_MS(1), 1000);
    assert_int_equal(KP_MS(250), 250000);
    assert_int_equal(KP_SEC(1), 1000000);
    assert_int_equal(KP_SEC(0.5), 500000);
    assert_int_equal(KP_SEC(90), 90000000);
}

static void test_order_time_then_fifo(void **state)
{
    kp_sched *s = kp_sched_new();
    run_log log = {.s = s};
    task_ctx t[7];
    static const kp_time at[] = {300, 100, 200, 100, 0, 200, 100};
    for (int i = 0; i < 7; i++) {
        t[i] = (task_ctx){.log = &log, .id = i};
        assert_int_not_equal(kp_sched_at(s, at[i], record, &t[i]), 0);
    }
    assert_false(kp_sched_idle(s));
    assert_int_equal(kp_sched_next_time(s), 0);
    run_all(s);
    static const int want[] = {4, 1, 3, 6, 2, 5, 0};
    assert_ids(&log, want, 7);
    static const kp_time want_at[] = {0, 100, 100, 100, 200, 200, 300};
    for (size_t i = 0; i < 7; i++)
        assert_int_equal(log.at[i], want_at[i]);
    assert_int_equal(kp_sched_now(s), 300);
    assert_int_equal(kp_sched_tasks_run(s), 7);
    assert_true(kp_sched_idle(s));
    kp_sched_free(s);
}

static void test_ids_unique_nonzero(void **state)
{
    kp_sched *s = kp_sched_new();
    run_log log = {.s = s};
    task_ctx t = {.log = &log};
    kp_task_id prev = 0;
    for (int i = 0; i < 200; i++) {
        kp_task_id id = kp_sched_after(s, i % 3, record, &t);
        assert_int_not_equal(id, 0);
        assert_true(id > prev);
        prev = id;
    }
    kp_sched_free(s); /* drops the pending tasks without running them */
    assert_int_equal(log.n, 0);
}

static void test_cancel(void **state)
{
    kp_sched *s = kp_sched_new();
    run_log log = {.s = s};
    task_ctx a = {.log = &log, .id = 1}, b = {.log = &log, .id = 2}, c = {.log = &log, .id = 3};
    kp_task_id ia = kp_sched_at(s, 10, record, &a);
    kp_task_id ib = kp_sched_at(s, 20, record, &b);
    kp_task_id ic = kp_sched_at(s, 30, record, &c);

    assert_false(kp_sched_cancel(s, 0));
    assert_false(kp_sched_cancel(s, ic + 1000)); /* never issued */
    assert_true(kp_sched_cancel(s, ib));         /* pending */
    assert_false(kp_sched_cancel(s, ib));        /* already cancelled */

    assert_true(kp_sched_step(s));
    assert_false(kp_sched_cancel(s, ia)); /* already ran */

    /* the cancelled task is skipped: next is c, at 30 */
    assert_int_equal(kp_sched_next_time(s), 30);
    assert_true(kp_sched_cancel(s, ic));
    assert_true(kp_sched_idle(s));
    assert_int_equal(kp_sched_next_time(s), -1);
    assert_false(kp_sched_step(s));
    assert_int_equal(kp_sched_now(s), 10); /* cancelled tasks do not move the clock */

    static const int want[] = {1};
    assert_ids(&log, want, 1);
    assert_int_equal(kp_sched_tasks_run(s), 1);
    kp_sched_free(s);
}

static void test_cancel_top_then_next_time(void **state)
{
    kp_sched *s = kp_sched_new();
    run_log log = {.s = s};
    task_ctx t[4];
    kp_task_id ids[4];
    for (int i = 0; i < 4; i++) {
        t[i] = (task_ctx){.log = &log, .id = i};
        ids[i] = kp_sched_at(s, (i + 1) * 100, record, &t[i]);
    }
    assert_true(kp_sched_cancel(s, ids[0]));
    assert_true(kp_sched_cancel(s, ids[2]));
    assert_false(kp_sched_idle(s));
    assert_int_equal(kp_sched_next_time(s), 200);
    run_all(s);
    static const int want[] = {1, 3};
    assert_ids(&log, want, 2);
    kp_sched_free(s);
}

typedef struct canceller {
    run_log *log;
    kp_task_id victim;
    bool cancelled;
} canceller;

static void cancel_other(void *ud)
{
    canceller *c = ud;
    c->cancelled = kp_sched_cancel(c->log->s, c->victim);
}

static void test_cancel_from_a_task(void **state)
{
    kp_sched *s = kp_sched_new();
    run_log log = {.s = s};
    task_ctx victim = {.log = &log, .id = 9};
    canceller c = {.log = &log};
    kp_sched_at(s, 50, cancel_other, &c);
    c.victim = kp_sched_at(s, 50, record, &victim); /* same instant, after the canceller */
    run_all(s);
    assert_true(c.cancelled);
    assert_int_equal(log.n, 0);
    assert_int_equal(kp_sched_tasks_run(s), 1);
    kp_sched_free(s);
}

static void test_same_instant_chain_runs_after(void **state)
{
    kp_sched *s = kp_sched_new();
    run_log log = {.s = s};
    task_ctx child = {.log = &log, .id = 10};
    task_ctx first = {.log = &log, .id = 1, .extra = 0, .next = &child};
    task_ctx second = {.log = &log, .id = 2};
    task_ctx later = {.log = &log, .id = 3};
    kp_sched_at(s, 100, record_then_chain, &first);
    kp_sched_at(s, 100, record, &second);
    kp_sched_at(s, 101, record, &later);
    run_all(s);
    /* the child is due at 100 too but was scheduled last: after `second`, before `later` */
    static const int want[] = {1, 2, 10, 3};
    assert_ids(&log, want, 4);
    assert_int_equal(log.at[2], 100);
    kp_sched_free(s);
}

static void test_run_until(void **state)
{
    kp_sched *s = kp_sched_new();
    run_log log = {.s = s};
    task_ctx t[3] = {{.log = &log, .id = 0}, {.log = &log, .id = 1}, {.log = &log, .id = 2}};
    kp_sched_at(s, 100, record, &t[0]);
    kp_sched_at(s, 200, record, &t[1]);
    kp_sched_at(s, 201, record, &t[2]);

    kp_sched_run_until(s, 200); /* due at or before 200 */
    static const int want[] = {0, 1};
    assert_ids(&log, want, 2);
    assert_int_equal(kp_sched_now(s), 200);
    assert_int_equal(kp_sched_next_time(s), 201);

    kp_sched_run_until(s, 150); /* never backwards */
    assert_int_equal(kp_sched_now(s), 200);
    assert_int_equal(log.n, 2);

    kp_sched_run_until(s, 1000);
    assert_int_equal(log.n, 3);
    assert_int_equal(log.at[2], 201);
    assert_int_equal(kp_sched_now(s), 1000);

    /* idle: the clock still moves */
    assert_true(kp_sched_idle(s));
    kp_sched_run_until(s, KP_SEC(60));
    assert_int_equal(kp_sched_now(s), KP_SEC(60));
    kp_sched_free(s);
}

static void test_run_until_runs_chained_tasks(void **state)
{
    kp_sched *s = kp_sched_new();
    run_log log = {.s = s};
    task_ctx in_window = {.log = &log, .id = 2};
    task_ctx out_window = {.log = &log, .id = 4};
    task_ctx a = {.log = &log, .id = 1, .extra = 50, .next = &in_window};   /* at 150 */
    task_ctx b = {.log = &log, .id = 3, .extra = 500, .next = &out_window}; /* at 700 */
    kp_sched_at(s, 100, record_then_chain, &a);
    kp_sched_at(s, 200, record_then_chain, &b);
    kp_sched_run_until(s, 300);
    static const int want[] = {1, 2, 3};
    assert_ids(&log, want, 3);
    assert_int_equal(log.at[1], 150);
    assert_int_equal(kp_sched_next_time(s), 700);
    assert_int_equal(kp_sched_now(s), 300);
    kp_sched_free(s);
}

static void test_clamp_past(void **state)
{
    kp_sched *s = kp_sched_new();
    run_log log = {.s = s};
    kp_sched_run_until(s, 1000);
    task_ctx t[4] = {{.log = &log, .id = 0},
                     {.log = &log, .id = 1},
                     {.log = &log, .id = 2},
                     {.log = &log, .id = 3}};
    kp_sched_at(s, 1000, record, &t[0]);
    kp_sched_at(s, 5, record, &t[1]);        /* in the past: runs now, in insertion order */
    kp_sched_after(s, -300, record, &t[2]);  /* a negative delay is no delay */
    kp_sched_at(s, -1000000, record, &t[3]); /* far in the past */
    assert_int_equal(kp_sched_next_time(s), 1000);
    run_all(s);
    static const int want[] = {0, 1, 2, 3};
    assert_ids(&log, want, 4);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(log.at[i], 1000);
    assert_int_equal(kp_sched_now(s), 1000);
    kp_sched_free(s);
}

static void test_after_is_relative(void **state)
{
    kp_sched *s = kp_sched_new();
    run_log log = {.s = s};
    task_ctx t = {.log = &log, .id = 1};
    kp_sched_run_until(s, KP_MS(40));
    kp_sched_after(s, KP_MS(10), record, &t);
    assert_int_equal(kp_sched_next_time(s), KP_MS(50));
    assert_true(kp_sched_step(s));
    assert_int_equal(kp_sched_now(s), KP_MS(50));
    kp_sched_free(s);
}

static void test_random_tasks_sorted(void **state)
{
    enum { N = 5000 };
    kp_sched *s = kp_sched_new();
    run_log *log = calloc(1, sizeof(*log));
    task_ctx *t = calloc(N, sizeof(*t));
    kp_time *due = calloc(N, sizeof(*due));
    kp_task_id *ids = calloc(N, sizeof(*ids));
    bool *cancelled = calloc(N, sizeof(*cancelled));
    assert_non_null(log);
    assert_non_null(t);
    assert_non_null(due);
    assert_non_null(ids);
    assert_non_null(cancelled);
    log->s = s;
    kp_rng rng;
    kp_rng_seed(&rng, 20240601);
    for (int i = 0; i < N; i++) {
        t[i] = (task_ctx){.log = log, .id = i};
        due[i] = (kp_time)(kp_rng_next(&rng) % 500); /* many equal times */
        ids[i] = kp_sched_at(s, due[i], record, &t[i]);
        assert_int_not_equal(ids[i], 0);
    }
    size_t n_cancelled = 0;
    for (int i = 0; i < N; i += 7) {
        assert_true(kp_sched_cancel(s, ids[i]));
        cancelled[i] = true;
        n_cancelled++;
    }
    run_all(s);
    assert_int_equal(log->n, N - n_cancelled);
    assert_int_equal(kp_sched_tasks_run(s), N - n_cancelled);
    for (size_t k = 0; k < log->n; k++) {
        int id = log->ids[k];
        assert_false(cancelled[id]);
        assert_int_equal(log->at[k], due[id]);
        if (k > 0) {
            int prev = log->ids[k - 1];
            assert_true(due[prev] <= due[id]);
            if (due[prev] == due[id])
                assert_true(prev < id); /* FIFO among equal times */
        }
    }
    assert_true(kp_sched_idle(s));
    free(cancelled);
    free(ids);
    free(due);
    free(t);
    free(log);
    kp_sched_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_is_idle),
        cmocka_unit_test(test_time_macros),
        cmocka_unit_test(test_order_time_then_fifo),
        cmocka_unit_test(test_ids_unique_nonzero),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_cancel_top_then_next_time),
        cmocka_unit_test(test_cancel_from_a_task),
        cmocka_unit_test(test_same_instant_chain_runs_after),
        cmocka_unit_test(test_run_until),
        cmocka_unit_test(test_run_until_runs_chained_tasks),
        cmocka_unit_test(test_clamp_past),
        cmocka_unit_test(test_after_is_relative),
        cmocka_unit_test(test_random_tasks_sorted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
