/* report.h: the result files of a run (SCENARIOS.md "Results"): junit.xml, results.json and
 * traces/<name>.events.jsonl in the report directory. Files are written atomically (a
 * temporary file renamed into place), so a reader never sees half a report. */
#ifndef HX_REPORT_H
#define HX_REPORT_H

#include "hx/runner.h"

#include <stddef.h>

/* "<name>" made safe as a file name: characters outside [A-Za-z0-9._-] become '_'.
 * malloc'd. */
char *hx_trace_slug(const char *name);

/* Writes all three kinds of files for the results. Returns 0 or a negative KP_E* code; on
 * failure `err` says which file and why. */
int hx_report_write(const char *dir, const hx_result *results, size_t n, double total_wall_ms,
                    char *err, size_t errlen);

#endif
