/* runner.h: running one scenario: the mock back-end, the reference player and its recorder
 * on one virtual clock, the steps, then every expectation.
 *
 * A result owns everything in it (hx_result_free). The trace is kept in the result so that
 * reporters can write it; the runner never writes files.
 */
#ifndef HX_RUNNER_H
#define HX_RUNNER_H

#include "hx/scenario.h"
#include "kp/log.h"
#include "kp/recorder.h"
#include "mbe/mbe.h"
#include "mbe/media.h"
#include "mdrm/mdrm.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum hx_status {
    HX_PASSED = 0,
    HX_FAILED,      /* an expectation or a step failed */
    HX_TIMEOUT,     /* the wall-clock watchdog stopped it */
    HX_INVALID,     /* the scenario could not be loaded */
    HX_NOT_RECORDED /* it ran, but asserts nothing yet (no expect block, no step expect):
                       `kpsim record` writes its expectation; never counted as passed */
} hx_status;

/* "passed", "failed", "timeout", "invalid", "not recorded" */
const char *hx_status_name(hx_status s);

typedef struct hx_failure {
    char *message; /* "file:line:col: ..." one line */
    char *detail;  /* multi-line (side-by-side table), may be NULL */
    hx_loc loc;
} hx_failure;

typedef struct hx_step_info {
    size_t first_event; /* index of the first event recorded during the step */
    size_t end_event;   /* one past the last */
    long long t_start_ms;
    bool ran;
} hx_step_info;

/* One failed attempt of a scenario that was run again (`kpsim run --retries N`). */
typedef struct hx_attempt {
    hx_status status;
    char *message; /* its first failure, one line */
    char *output;  /* what its process wrote when it ended abnormally, or NULL */
} hx_attempt;

typedef struct hx_result {
    char *file;
    char *name;      /* the scenario name (the file's base name when invalid) */
    char *classname; /* the scenario's folder, for JUnit */
    hx_status status;
    double wall_ms;
    long long virtual_ms;
    json_t *trace; /* array of trace objects (seq, t, pos, type, payload) */
    hx_step_info *steps;
    size_t n_steps;
    hx_failure *failures;
    size_t n_failures;
    json_t *journal;     /* the mock back-end's request journal */
    json_t *drm_journal; /* the license server's, or NULL when there was none */
    char **diagnostics;  /* loader messages when invalid */
    size_t n_diagnostics;
    /* filled by the process pool (hx/pool.h); zero for an in-process run */
    char *output;        /* what the scenario's process wrote when it crashed or hung, or NULL */
    unsigned attempts;   /* runs made: 1, more with retries (0: never run, e.g. invalid) */
    bool flaky;          /* passed after failing: status is HX_PASSED */
    hx_attempt *earlier; /* the failed attempts before the last one, in order */
    size_t n_earlier;
    long peak_rss_kb; /* the last attempt's process: its peak resident set (getrusage), or 0 */
} hx_result;

void hx_result_free(hx_result *r);

typedef struct hx_run_opts {
    mbe_media_cache *media; /* shared media cache (borrowed) */
    kp_log *log;
    bool check_expectations; /* false for `kpsim record` */
    /* Called after the run with the recorder still alive (for `kpsim record`); may be NULL. */
    void (*on_recorded)(void *ud, const hx_scenario *sc, const kp_recorder *rec);
    void *ud;
} hx_run_opts;

/* Runs a loaded scenario. Returns 0 (the outcome is in out->status) or a negative KP_E*
 * code when the run could not happen at all (out->status is then HX_FAILED with a message). */
int hx_run(const hx_scenario *sc, const hx_run_opts *opts, hx_result *out);

/* The scenario's mock servers: the back-end (API, playManifest, CDN) and, when an entry is
 * protected with DRM, the license server the back-end's license URLs point at. */
typedef struct hx_servers {
    mbe_server *api;
    mdrm_server *drm; /* NULL when no entry has drm */
    /* the fault rules of backend.faults, shared by both servers (never NULL once started:
     * rules can be added while they run) */
    struct kp_fault_set *faults;
} hx_servers;

/* Starts them on 127.0.0.1: the back-end on `port` (0: ephemeral), the license server on
 * `drm_port` (0: ephemeral). 0, or a negative KP_E* code with nothing left running. */
int hx_servers_start(const hx_scenario *sc, mbe_media_cache *media, kp_log *log, uint16_t port,
                     uint16_t drm_port, hx_servers *out);
/* The same for `kpsim serve` when `serve` is true: faults really wait (a real browser is the
 * client) and the back-end serves the fault rules' admin path (mbe.h, fault_admin). */
int hx_servers_start_mode(const hx_scenario *sc, mbe_media_cache *media, kp_log *log, uint16_t port,
                          uint16_t drm_port, bool serve, hx_servers *out);
void hx_servers_stop(hx_servers *s);

/* The player's configuration for a scenario run against srv (a new object): player.config
 * with the placeholders in its text values replaced ({{ads}} = "<back-end>/ads",
 * {{analytics}} = "<back-end>/analytics", {{api}} = the back-end's base URL, {{drm}} = the
 * license server's, "" without one) and provider.partnerId / provider.env set to the
 * back-end. NULL when out of memory. */
json_t *hx_player_config(const hx_scenario *sc, const hx_servers *srv);

/* Loads and runs one file; a scenario that does not load gives an HX_INVALID result. */
int hx_run_file(const char *path, const hx_run_opts *opts, hx_result *out);

#endif
