/* report.c: JUnit XML, results.json and the per-scenario traces. */
#include "hx/report.h"

#include "kp/buf.h"
#include "kp/err.h"
#include "kp/jsonu.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KPSIM_VERSION "0.1.0"

char *hx_trace_slug(const char *name)
{
    char *s = kp_strdup(name ? name : "unnamed");
    for (char *p = s; p && *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
            *p = '_';
    return s;
}

static void xml_escape(kp_buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        switch (*p) {
        case '&':
            kp_buf_puts(b, "&amp;");
            break;
        case '<':
            kp_buf_puts(b, "&lt;");
            break;
        case '>':
            kp_buf_puts(b, "&gt;");
            break;
        case '"':
            kp_buf_puts(b, "&quot;");
            break;
        case '\'':
            kp_buf_puts(b, "&apos;");
            break;
        default:
            if (*p < 0x20 && *p != '\n' && *p != '\t' && *p != '\r')
                kp_buf_putc(b, '?'); /* not allowed in XML 1.0 */
            else
                kp_buf_putc(b, (char)*p);
        }
    }
}

static int write_junit(const char *dir, const hx_result *rs, size_t n, double wall_ms)
{
    size_t failures = 0, errors = 0;
    for (size_t i = 0; i < n; i++) {
        if (rs[i].status == HX_INVALID)
            errors++;
        else if (rs[i].status != HX_PASSED)
            failures++;
    }
    kp_buf b;
    kp_buf_init(&b);
    kp_buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    kp_buf_printf(&b,
                  "<testsuites name=\"kpsim\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" "
                  "time=\"%.3f\">\n",
                  n, failures, errors, wall_ms / 1000.0);
    kp_buf_printf(&b,
                  "  <testsuite name=\"kpsim\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" "
                  "skipped=\"0\" time=\"%.3f\">\n",
                  n, failures, errors, wall_ms / 1000.0);
    for (size_t i = 0; i < n; i++) {
        const hx_result *r = &rs[i];
        kp_buf_puts(&b, "    <testcase name=\"");
        xml_escape(&b, r->name);
        kp_buf_puts(&b, "\" classname=\"");
        xml_escape(&b, r->classname);
        kp_buf_puts(&b, "\" file=\"");
        xml_escape(&b, r->file);
        kp_buf_printf(&b, "\" time=\"%.3f\"", r->wall_ms / 1000.0);
        if (r->status == HX_PASSED) {
            kp_buf_puts(&b, "/>\n");
            continue;
        }
        kp_buf_puts(&b, ">\n");
        const char *tag = r->status == HX_INVALID ? "error" : "failure";
        const char *first = r->status == HX_INVALID
                                ? (r->n_diagnostics ? r->diagnostics[0] : "invalid scenario")
                                : (r->n_failures ? r->failures[0].message : "failed");
        kp_buf_printf(&b, "      <%s type=\"%s\" message=\"", tag, hx_status_name(r->status));
        xml_escape(&b, first);
        kp_buf_puts(&b, "\">");
        if (r->status == HX_INVALID) {
            for (size_t k = 0; k < r->n_diagnostics; k++) {
                xml_escape(&b, r->diagnostics[k]);
                kp_buf_putc(&b, '\n');
            }
        } else {
            for (size_t k = 0; k < r->n_failures; k++) {
                xml_escape(&b, r->failures[k].message);
                kp_buf_putc(&b, '\n');
                if (r->failures[k].detail)
                    xml_escape(&b, r->failures[k].detail);
            }
        }
        kp_buf_printf(&b, "</%s>\n    </testcase>\n", tag);
    }
    kp_buf_puts(&b, "  </testsuite>\n</testsuites>\n");
    char *path = kp_asprintf("%s/junit.xml", dir);
    int rc = path && b.data ? kp_write_file_atomic(path, b.data, b.len) : KP_ENOMEM;
    free(path);
    kp_buf_free(&b);
    return rc;
}

static int write_trace(const char *dir, const hx_result *r, char **rel_out)
{
    *rel_out = NULL;
    if (!r->trace)
        return KP_OK;
    char *slug = hx_trace_slug(r->name);
    char *rel = kp_asprintf("traces/%s.events.jsonl", slug);
    char *path = kp_asprintf("%s/%s", dir, rel);
    free(slug);
    kp_buf b;
    kp_buf_init(&b);
    size_t i;
    json_t *ev;
    json_array_foreach(r->trace, i, ev)
    {
        char *line = kp_json_dumps(ev);
        if (line) {
            kp_buf_puts(&b, line);
            kp_buf_putc(&b, '\n');
        }
        free(line);
    }
    int rc = path ? kp_write_file_atomic(path, b.data ? b.data : "", b.len) : KP_ENOMEM;
    kp_buf_free(&b);
    free(path);
    if (rc == KP_OK)
        *rel_out = rel;
    else
        free(rel);
    return rc;
}

int hx_report_write(const char *dir, const hx_result *rs, size_t n, double wall_ms, char *err,
                    size_t errlen)
{
    char *tdir = kp_asprintf("%s/traces", dir);
    int rc = tdir ? kp_mkdirs(tdir) : KP_ENOMEM;
    free(tdir);
    if (rc != KP_OK) {
        snprintf(err, errlen, "cannot create %s/traces", dir);
        return rc;
    }
    json_t *scenarios = json_array();
    size_t counts[HX_NOT_RECORDED + 1] = {0};
    for (size_t i = 0; i < n; i++) {
        const hx_result *r = &rs[i];
        counts[r->status]++;
        char *rel = NULL;
        rc = write_trace(dir, r, &rel);
        if (rc != KP_OK) {
            snprintf(err, errlen, "cannot write the trace of '%s' in %s/traces", r->name, dir);
            json_decref(scenarios);
            return rc;
        }
        json_t *fails = json_array();
        for (size_t k = 0; k < r->n_failures; k++) {
            json_t *f = json_pack("{s:s, s:i, s:i}", "message", r->failures[k].message, "line",
                                  r->failures[k].loc.line, "column", r->failures[k].loc.col);
            if (r->failures[k].detail)
                json_object_set_new(f, "detail", json_string(r->failures[k].detail));
            json_array_append_new(fails, f);
        }
        json_t *diags = json_array();
        for (size_t k = 0; k < r->n_diagnostics; k++)
            json_array_append_new(diags, json_string(r->diagnostics[k]));
        json_t *o = json_pack("{s:s, s:s, s:s, s:f, s:I, s:I}", "name", r->name ? r->name : "",
                              "file", r->file ? r->file : "", "status", hx_status_name(r->status),
                              "wall_ms", r->wall_ms, "virtual_ms", (json_int_t)r->virtual_ms,
                              "events", (json_int_t)(r->trace ? json_array_size(r->trace) : 0));
        if (rel)
            json_object_set_new(o, "trace", json_string(rel));
        json_object_set_new(o, "failures", fails);
        json_object_set_new(o, "diagnostics", diags);
        json_array_append_new(scenarios, o);
        free(rel);
    }
    json_t *doc = json_pack(
        "{s:s, s:i, s:{s:s, s:s}, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:f}, s:o}", "format",
        "kpsim-results", "version", 1, "tool", "name", "kpsim", "version", KPSIM_VERSION, "summary",
        "total", (json_int_t)n, "passed", (json_int_t)counts[HX_PASSED], "failed",
        (json_int_t)counts[HX_FAILED], "timeout", (json_int_t)counts[HX_TIMEOUT], "invalid",
        (json_int_t)counts[HX_INVALID], "not_recorded", (json_int_t)counts[HX_NOT_RECORDED],
        "wall_ms", wall_ms, "scenarios", scenarios);
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    json_decref(doc);
    char *path = kp_asprintf("%s/results.json", dir);
    rc = text && path ? kp_write_file_atomic(path, text, strlen(text)) : KP_ENOMEM;
    free(path);
    free(text);
    if (rc != KP_OK) {
        snprintf(err, errlen, "cannot write %s/results.json", dir);
        return rc;
    }
    rc = write_junit(dir, rs, n, wall_ms);
    if (rc != KP_OK)
        snprintf(err, errlen, "cannot write %s/junit.xml", dir);
    return rc;
}
