/* pool.h: running scenarios each in its own process, so that a crash or a hang in one becomes
 * a failed test case while the run goes on.
 *
 * The unit is a case: a loaded scenario (a file, or one variant of a file's matrix). The
 * parent loads every case, then forks one child per case, at most `jobs` at a time; a child
 * runs the scenario (hx_run) with its stdout and stderr going to a file, and hands its result
 * back as JSON (hx/resultio.h) in files of the work directory: a summary the parent reads at
 * once, and the trace and journals, which it reads only when every case has run (so that the
 * parent, and with it every child forked from it, stays small). The parent turns a child that
 * dies by a signal or exits without a result into an HX_FAILED result carrying the child's
 * output, and kills a child still running after its scenario's `timeout:` (plus a second of
 * grace for the child's own watchdog to report with its trace) as HX_TIMEOUT. Failed and
 * timed-out cases are run again up to `retries` times; one that passes then is flaky.
 *
 * Test hooks (never set them outside tests): a child whose scenario is named by
 * KPSIM_TEST_CRASH dies by SIGSEGV, by KPSIM_TEST_HANG sleeps forever, by KPSIM_TEST_FLAKY
 * exits with code 3 on its first attempt and runs normally on the next ones.
 */
#ifndef HX_POOL_H
#define HX_POOL_H

#include "hx/runner.h"
#include "hx/scenario.h"

#include <stddef.h>

typedef struct hx_pool_case {
    const char *file;      /* borrowed */
    const hx_scenario *sc; /* borrowed, loaded */
} hx_pool_case;

typedef struct hx_pool_opts {
    mbe_media_cache *media; /* borrowed; the children inherit it */
    kp_log *log;
    unsigned jobs;        /* children at a time; 0 counts as 1 */
    unsigned retries;     /* extra attempts for a failed or timed-out case */
    double grace_ms;      /* added to a scenario's timeout before it is killed; <0: 1000 */
    const char *work_dir; /* created if missing; the children's files are removed again */
    /* Called when an attempt starts, and once per case with its final result. May be NULL. */
    void (*on_start)(void *ud, size_t i, unsigned attempt);
    void (*on_done)(void *ud, size_t i, const hx_result *r);
    void *ud;
} hx_pool_opts;

/* Runs every case; results[i] (n of them, owned by the caller: hx_result_free) gets case i's
 * final result. Returns 0, or a negative KP_E* code when the run could not go on at all (the
 * work directory cannot be made, fork fails) with `err` saying why; results of cases not run
 * are then zeroed. */
int hx_pool_run(const hx_pool_case *cases, size_t n, const hx_pool_opts *opts, hx_result *results,
                char *err, size_t errlen);

#endif
