/* report.h: the result files of a run (SCENARIOS.md "Results"): junit.xml, results.json and
 * traces/<name>.events.jsonl in the report directory, and besides them results.tap (TAP 14),
 * report.html (one self-contained page: timelines, failures side by side) and
 * traces/<name>.requests.json (the mock servers' request journals). Files are written
 * atomically (a temporary file renamed into place), so a reader never sees half a report.
 *
 * junit.xml follows the dialect Jenkins' JUnit plugin, GitLab and the GitHub reporters read
 * (reports/junit.xsd describes it); retries follow Maven Surefire: a case that passed after
 * failing carries <flakyFailure>/<flakyError> elements, one that failed every time carries
 * its last failure and a <rerunFailure>/<rerunError> per earlier attempt.
 */
#ifndef HX_REPORT_H
#define HX_REPORT_H

#include "hx/runner.h"
#include "kp/buf.h"

#include <stddef.h>

/* "<name>" made safe as a file name: characters outside [A-Za-z0-9._-] become '_'.
 * malloc'd. */
char *hx_trace_slug(const char *name);

/* Writes every file for the results. Returns 0 or a negative KP_E* code; on failure `err`
 * says which file and why. */
int hx_report_write(const char *dir, const hx_result *results, size_t n, double total_wall_ms,
                    char *err, size_t errlen);

/* The TAP 14 stream of the results (malloc'd; NULL when out of memory). */
char *hx_report_tap(const hx_result *results, size_t n);

/* Appends s (NULL: nothing) with & < > " ' as entities and the control characters XML 1.0
 * forbids as '?': text and attribute values of JUnit XML and of the HTML report. */
void hx_xml_escape(kp_buf *b, const char *s);

/* The HTML report of the results, appended to out. Returns 0 or KP_ENOMEM. */
int hx_report_html(const hx_result *results, size_t n, double total_wall_ms, kp_buf *out);

/* Reads back a report directory written by hx_report_write (results.json, the traces and
 * the request journals): *out gets *n results (the caller frees each and the array) and
 * *wall_ms the run's wall time. Returns 0, or KP_EIO / KP_EPARSE with `err` naming the file. */
int hx_report_load(const char *dir, hx_result **out, size_t *n, double *wall_ms, char *err,
                   size_t errlen);

#endif
