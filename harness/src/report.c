/* report.c: JUnit XML, TAP 14, results.json, the per-scenario traces and request journals,
 * and reading a report directory back (see hx/report.h). The HTML page is report_html.c. */
#include "hx/report.h"

#include "hx/resultio.h"
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

void hx_xml_escape(kp_buf *b, const char *s)
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

/* A failure counts as a JUnit error when the test could not run as written (invalid
 * scenario, crashed process, watchdog); as a failure when the player did not do what the
 * scenario expects. */
static bool is_error(hx_status s)
{
    return s == HX_INVALID || s == HX_TIMEOUT;
}

static const char *first_message(const hx_result *r)
{
    if (r->status == HX_INVALID)
        return r->n_diagnostics ? r->diagnostics[0] : "invalid scenario";
    return r->n_failures ? r->failures[0].message : hx_status_name(r->status);
}

static void junit_attempt(kp_buf *b, const char *tag, const hx_attempt *a)
{
    kp_buf_printf(b, "      <%s type=\"%s\" message=\"", tag, hx_status_name(a->status));
    hx_xml_escape(b, a->message);
    kp_buf_puts(b, "\">\n        <stackTrace>");
    hx_xml_escape(b, a->message);
    kp_buf_puts(b, "</stackTrace>\n");
    if (a->output) {
        kp_buf_puts(b, "        <system-err>");
        hx_xml_escape(b, a->output);
        kp_buf_puts(b, "</system-err>\n");
    }
    kp_buf_printf(b, "      </%s>\n", tag);
}

static char *junit_text(const hx_result *rs, size_t n, double wall_ms)
{
    size_t failures = 0, errors = 0;
    for (size_t i = 0; i < n; i++) {
        if (rs[i].status == HX_PASSED)
            continue;
        if (is_error(rs[i].status))
            errors++;
        else
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
        hx_xml_escape(&b, r->name);
        kp_buf_puts(&b, "\" classname=\"");
        hx_xml_escape(&b, r->classname);
        kp_buf_puts(&b, "\" file=\"");
        hx_xml_escape(&b, r->file);
        kp_buf_printf(&b, "\" time=\"%.3f\"", r->wall_ms / 1000.0);
        if (r->status == HX_PASSED && !r->n_earlier) {
            kp_buf_puts(&b, "/>\n");
            continue;
        }
        kp_buf_puts(&b, ">\n");
        bool err = is_error(r->status);
        if (r->status != HX_PASSED) {
            const char *tag = err ? "error" : "failure";
            kp_buf_printf(&b, "      <%s type=\"%s\" message=\"", tag, hx_status_name(r->status));
            hx_xml_escape(&b, first_message(r));
            kp_buf_puts(&b, "\">");
            for (size_t k = 0; k < r->n_diagnostics; k++) {
                hx_xml_escape(&b, r->diagnostics[k]);
                kp_buf_putc(&b, '\n');
            }
            for (size_t k = 0; k < r->n_failures; k++) {
                hx_xml_escape(&b, r->failures[k].message);
                kp_buf_putc(&b, '\n');
                if (r->failures[k].detail)
                    hx_xml_escape(&b, r->failures[k].detail);
            }
            kp_buf_printf(&b, "</%s>\n", tag);
        }
        /* Surefire: flaky* on a case that passed at last, rerun* on one that never did */
        for (size_t k = 0; k < r->n_earlier; k++) {
            bool aerr = is_error(r->earlier[k].status);
            const char *tag = r->status == HX_PASSED ? (aerr ? "flakyError" : "flakyFailure")
                                                     : (aerr ? "rerunError" : "rerunFailure");
            junit_attempt(&b, tag, &r->earlier[k]);
        }
        if (r->output && r->status != HX_PASSED) {
            kp_buf_puts(&b, "      <system-err>");
            hx_xml_escape(&b, r->output);
            kp_buf_puts(&b, "</system-err>\n");
        }
        kp_buf_puts(&b, "    </testcase>\n");
    }
    kp_buf_puts(&b, "  </testsuite>\n</testsuites>\n");
    return b.data ? kp_buf_steal(&b) : NULL;
}

/* A TAP/YAML scalar: a JSON string is a valid YAML double-quoted scalar. */
static void yaml_str(kp_buf *b, const char *key, const char *v)
{
    json_t *s = json_string(v ? v : "");
    char *t = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
    kp_buf_printf(b, "  %s: %s\n", key, t ? t : "\"\"");
    free(t);
    json_decref(s);
}

static void tap_desc(kp_buf *b, const char *s)
{
    for (const char *p = s ? s : ""; *p; p++) {
        if (*p == '#' || *p == '\\')
            kp_buf_putc(b, '\\');
        kp_buf_putc(b, *p == '\n' ? ' ' : *p);
    }
}

char *hx_report_tap(const hx_result *rs, size_t n)
{
    kp_buf b;
    kp_buf_init(&b);
    kp_buf_printf(&b, "TAP version 14\n1..%zu\n", n);
    for (size_t i = 0; i < n; i++) {
        const hx_result *r = &rs[i];
        bool ok = r->status == HX_PASSED;
        kp_buf_printf(&b, "%s %zu - ", ok ? "ok" : "not ok", i + 1);
        tap_desc(&b, r->name);
        kp_buf_putc(&b, '\n');
        if (ok && !r->flaky)
            continue;
        kp_buf_puts(&b, "  ---\n");
        yaml_str(&b, "status", r->flaky ? "flaky" : hx_status_name(r->status));
        if (!ok) {
            yaml_str(&b, "message", first_message(r));
            yaml_str(&b, "severity", is_error(r->status) ? "error" : "fail");
        }
        yaml_str(&b, "file", r->file);
        if (!ok && r->n_failures)
            kp_buf_printf(&b, "  line: %d\n", r->failures[0].loc.line);
        if (r->attempts > 1)
            kp_buf_printf(&b, "  attempts: %u\n", r->attempts);
        for (size_t k = 0; k < r->n_earlier; k++) {
            if (k == 0)
                kp_buf_puts(&b, "  earlier:\n");
            json_t *s = json_string(r->earlier[k].message ? r->earlier[k].message : "");
            char *t = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
            kp_buf_printf(&b, "    - %s\n", t ? t : "\"\"");
            free(t);
            json_decref(s);
        }
        kp_buf_puts(&b, "  ...\n");
    }
    return b.data ? kp_buf_steal(&b) : NULL;
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

static int write_requests(const char *dir, const hx_result *r, char **rel_out)
{
    *rel_out = NULL;
    if (!r->journal && !r->drm_journal)
        return KP_OK;
    char *slug = hx_trace_slug(r->name);
    char *rel = kp_asprintf("traces/%s.requests.json", slug);
    char *path = kp_asprintf("%s/%s", dir, rel);
    free(slug);
    json_t *o = json_object();
    if (r->journal)
        json_object_set(o, "backend", r->journal);
    if (r->drm_journal)
        json_object_set(o, "drm", r->drm_journal);
    char *text = json_dumps(o, JSON_INDENT(1));
    json_decref(o);
    int rc = path && text ? kp_write_file_atomic(path, text, strlen(text)) : KP_ENOMEM;
    free(text);
    free(path);
    if (rc == KP_OK)
        *rel_out = rel;
    else
        free(rel);
    return rc;
}

static int write_text(const char *dir, const char *name, const char *text)
{
    char *path = kp_asprintf("%s/%s", dir, name);
    int rc = path && text ? kp_write_file_atomic(path, text, strlen(text)) : KP_ENOMEM;
    free(path);
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
    size_t passed = 0, failed = 0, timeout = 0, invalid = 0, flaky = 0, norec = 0;
    for (size_t i = 0; i < n; i++) {
        const hx_result *r = &rs[i];
        flaky += r->flaky;
        if (r->status == HX_PASSED)
            passed++;
        else if (r->status == HX_INVALID)
            invalid++;
        else if (r->status == HX_TIMEOUT)
            timeout++;
        else if (r->status == HX_NOT_RECORDED)
            norec++;
        else
            failed++;
        char *rel = NULL, *req = NULL;
        rc = write_trace(dir, r, &rel);
        if (rc == KP_OK)
            rc = write_requests(dir, r, &req);
        if (rc != KP_OK) {
            snprintf(err, errlen, "cannot write the trace of '%s' in %s/traces", r->name, dir);
            json_decref(scenarios);
            return rc;
        }
        json_t *o = hx_result_to_json(r, false);
        if (o && rel)
            json_object_set_new(o, "trace", json_string(rel));
        if (o && req)
            json_object_set_new(o, "requests", json_string(req));
        json_array_append_new(scenarios, o);
        free(rel);
        free(req);
    }
    json_t *doc = json_pack(
        "{s:s, s:i, s:{s:s, s:s}, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}, s:o}", "format",
        "kpsim-results", "version", 1, "tool", "name", "kpsim", "version", KPSIM_VERSION, "summary",
        "total", (json_int_t)n, "passed", (json_int_t)passed, "failed", (json_int_t)failed,
        "timeout", (json_int_t)timeout, "invalid", (json_int_t)invalid, "not_recorded",
        (json_int_t)norec, "flaky", (json_int_t)flaky, "wall_ms", wall_ms, "scenarios", scenarios);
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    json_decref(doc);
    rc = write_text(dir, "results.json", text);
    free(text);
    if (rc != KP_OK) {
        snprintf(err, errlen, "cannot write %s/results.json", dir);
        return rc;
    }
    text = junit_text(rs, n, wall_ms);
    rc = write_text(dir, "junit.xml", text);
    free(text);
    if (rc != KP_OK) {
        snprintf(err, errlen, "cannot write %s/junit.xml", dir);
        return rc;
    }
    text = hx_report_tap(rs, n);
    rc = write_text(dir, "results.tap", text);
    free(text);
    if (rc != KP_OK) {
        snprintf(err, errlen, "cannot write %s/results.tap", dir);
        return rc;
    }
    kp_buf h;
    kp_buf_init(&h);
    rc = hx_report_html(rs, n, wall_ms, &h);
    if (rc == KP_OK)
        rc = write_text(dir, "report.html", h.data);
    kp_buf_free(&h);
    if (rc != KP_OK)
        snprintf(err, errlen, "cannot write %s/report.html", dir);
    return rc;
}

/* ---- reading a report directory back ---- */

static json_t *load_jsonl(const char *path)
{
    kp_buf b;
    kp_buf_init(&b);
    if (kp_read_file(path, &b) != KP_OK) {
        kp_buf_free(&b);
        return NULL;
    }
    json_t *a = json_array();
    char *p = b.data;
    while (a && p && *p) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        if (*p) {
            json_t *e = json_loads(p, 0, NULL);
            if (!e) {
                json_decref(a);
                a = NULL;
                break;
            }
            json_array_append_new(a, e);
        }
        p = nl ? nl + 1 : NULL;
    }
    kp_buf_free(&b);
    return a;
}

int hx_report_load(const char *dir, hx_result **out, size_t *n, double *wall_ms, char *err,
                   size_t errlen)
{
    *out = NULL;
    *n = 0;
    *wall_ms = 0;
    char *path = kp_asprintf("%s/results.json", dir);
    json_error_t je;
    json_t *doc = path ? json_load_file(path, 0, &je) : NULL;
    if (!doc) {
        snprintf(err, errlen, "%s:%d:%d: %s", path ? path : dir, path ? je.line : 0,
                 path ? je.column : 0, path ? je.text : "out of memory");
        free(path);
        return KP_EIO;
    }
    const json_t *sc = json_object_get(doc, "scenarios");
    if (strcmp(kp_json_str(doc, "format", ""), "kpsim-results") != 0 || !json_is_array(sc)) {
        snprintf(err, errlen,
                 "%s: not a kpsim results file (no \"format\": \"kpsim-results\" "
                 "with \"scenarios\")",
                 path);
        free(path);
        json_decref(doc);
        return KP_EPARSE;
    }
    *wall_ms = kp_json_num(doc, "summary.wall_ms", 0);
    size_t m = json_array_size(sc);
    hx_result *rs = calloc(m ? m : 1, sizeof(*rs));
    int rc = rs ? KP_OK : KP_ENOMEM;
    size_t k = 0;
    for (; rc == KP_OK && k < m; k++) {
        const json_t *o = json_array_get(sc, k);
        char why[256];
        rc = hx_result_from_json(o, &rs[k], why, sizeof(why));
        if (rc != KP_OK) {
            snprintf(err, errlen, "%s: scenarios[%zu]: %s", path, k, why);
            break;
        }
        const char *rel = kp_json_str(o, "trace", NULL);
        if (rel) {
            char *tp = kp_asprintf("%s/%s", dir, rel);
            rs[k].trace = tp ? load_jsonl(tp) : NULL;
            if (!rs[k].trace) {
                snprintf(err, errlen, "%s: cannot read the trace %s", path, tp ? tp : rel);
                rc = KP_EIO;
            }
            free(tp);
        }
        rel = kp_json_str(o, "requests", NULL);
        if (rc == KP_OK && rel) {
            char *rp = kp_asprintf("%s/%s", dir, rel);
            json_t *rq = rp ? json_load_file(rp, 0, &je) : NULL;
            if (!rq) {
                snprintf(err, errlen, "%s: cannot read the request journals %s", path,
                         rp ? rp : rel);
                rc = KP_EIO;
            } else {
                rs[k].journal = json_incref(json_object_get(rq, "backend"));
                rs[k].drm_journal = json_incref(json_object_get(rq, "drm"));
            }
            json_decref(rq);
            free(rp);
        }
    }
    free(path);
    json_decref(doc);
    if (rc != KP_OK) {
        for (size_t i = 0; rs && i < m; i++)
            hx_result_free(&rs[i]);
        free(rs);
        return rc;
    }
    *out = rs;
    *n = m;
    return KP_OK;
}
