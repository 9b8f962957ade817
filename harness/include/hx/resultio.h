/* resultio.h: a scenario result (hx_result) as JSON and back.
 *
 * One representation serves three readers: a scenario's process hands its result to the
 * parent `kpsim run` with everything inline (trace, request journals); results.json carries
 * the same object with the trace and the journals as paths relative to the report directory;
 * `kpsim merge` reads results.json files of several shards back into results.
 */
#ifndef HX_RESULTIO_H
#define HX_RESULTIO_H

#include "hx/runner.h"

#include <jansson.h>
#include <stdbool.h>

/* The result as a new JSON object: name, file, classname, status, wall_ms, virtual_ms,
 * events, attempts, flaky, peak_rss_kb (when known), failures[{message, line, column, detail?}], diagnostics[],
 * steps[{first_event, end_event, t_start_ms, ran}], earlier[{status, message, output?}],
 * output?. With `inline_data` also trace_events[], journal[] and drm_journal[] (what the
 * result holds). NULL only when out of memory. */
json_t *hx_result_to_json(const hx_result *r, bool inline_data);

/* Fills `out` (zeroed first; the caller frees it with hx_result_free) from an object made by
 * hx_result_to_json. Inline trace and journals are taken when present. Returns 0, or
 * KP_EPARSE with `err` naming the missing or mistyped key. */
int hx_result_from_json(const json_t *o, hx_result *out, char *err, size_t errlen);

/* The status named `name` ("passed", "failed", ...); -1 when none has that name. */
int hx_status_parse(const char *name);

#endif
