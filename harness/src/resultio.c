/* resultio.c: hx_result <-> JSON (see hx/resultio.h). */
#include "hx/resultio.h"

#include "kp/buf.h"
#include "kp/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hx_status_parse(const char *name)
{
    if (!name)
        return -1;
    /* hx_status_name answers "failed" for a value past the last status: stop there */
    for (int s = 0; s < 64; s++) {
        const char *n = hx_status_name((hx_status)s);
        if (strcmp(n, name) == 0)
            return s;
        if (s > HX_FAILED && strcmp(n, "failed") == 0)
            break;
    }
    return -1;
}

static void set_str(json_t *o, const char *key, const char *v)
{
    if (v)
        json_object_set_new(o, key, json_string(v));
}

json_t *hx_result_to_json(const hx_result *r, bool inline_data)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "name", json_string(r->name ? r->name : ""));
    json_object_set_new(o, "file", json_string(r->file ? r->file : ""));
    json_object_set_new(o, "classname", json_string(r->classname ? r->classname : ""));
    json_object_set_new(o, "status", json_string(hx_status_name(r->status)));
    json_object_set_new(o, "wall_ms", json_real(r->wall_ms));
    json_object_set_new(o, "virtual_ms", json_integer(r->virtual_ms));
    json_object_set_new(o, "events",
                        json_integer(r->trace ? (json_int_t)json_array_size(r->trace) : 0));
    json_object_set_new(o, "attempts", json_integer(r->attempts));
    json_object_set_new(o, "flaky", json_boolean(r->flaky));
    if (r->peak_rss_kb)
        json_object_set_new(o, "peak_rss_kb", json_integer(r->peak_rss_kb));
    json_t *fails = json_array();
    for (size_t k = 0; k < r->n_failures; k++) {
        const hx_failure *f = &r->failures[k];
        json_t *fo = json_pack("{s:s, s:i, s:i}", "message", f->message ? f->message : "", "line",
                               f->loc.line, "column", f->loc.col);
        if (fo && f->detail)
            json_object_set_new(fo, "detail", json_string(f->detail));
        json_array_append_new(fails, fo);
    }
    json_object_set_new(o, "failures", fails);
    json_t *diags = json_array();
    for (size_t k = 0; k < r->n_diagnostics; k++)
        json_array_append_new(diags, json_string(r->diagnostics[k]));
    json_object_set_new(o, "diagnostics", diags);
    json_t *steps = json_array();
    for (size_t k = 0; k < r->n_steps; k++) {
        const hx_step_info *s = &r->steps[k];
        json_array_append_new(steps, json_pack("{s:I, s:I, s:I, s:b}", "first_event",
                                               (json_int_t)s->first_event, "end_event",
                                               (json_int_t)s->end_event, "t_start_ms",
                                               (json_int_t)s->t_start_ms, "ran", s->ran));
    }
    json_object_set_new(o, "steps", steps);
    json_t *earlier = json_array();
    for (size_t k = 0; k < r->n_earlier; k++) {
        const hx_attempt *a = &r->earlier[k];
        json_t *ao = json_pack("{s:s, s:s}", "status", hx_status_name(a->status), "message",
                               a->message ? a->message : "");
        if (ao && a->output)
            json_object_set_new(ao, "output", json_string(a->output));
        json_array_append_new(earlier, ao);
    }
    json_object_set_new(o, "earlier", earlier);
    set_str(o, "output", r->output);
    if (inline_data) {
        if (r->trace)
            json_object_set(o, "trace_events", r->trace);
        if (r->journal)
            json_object_set(o, "journal", r->journal);
        if (r->drm_journal)
            json_object_set(o, "drm_journal", r->drm_journal);
    }
    return o;
}

static char *dup_str(const json_t *v)
{
    const char *s = json_string_value(v);
    return kp_strdup(s ? s : "");
}

static char *dup_key(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? kp_strdup(s) : NULL;
}

int hx_result_from_json(const json_t *o, hx_result *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (!json_is_object(o)) {
        snprintf(err, errlen, "a scenario result is not an object");
        return KP_EPARSE;
    }
    const char *status = json_string_value(json_object_get(o, "status"));
    int st = hx_status_parse(status);
    if (!json_is_string(json_object_get(o, "name")) || st < 0) {
        snprintf(err, errlen, "a scenario result lacks \"name\" or a known \"status\" (%s)",
                 status ? status : "none");
        return KP_EPARSE;
    }
    out->status = (hx_status)st;
    out->name = dup_key(o, "name");
    out->file = dup_key(o, "file");
    out->classname = dup_key(o, "classname");
    out->output = dup_key(o, "output");
    out->wall_ms = json_number_value(json_object_get(o, "wall_ms"));
    out->virtual_ms = json_integer_value(json_object_get(o, "virtual_ms"));
    out->attempts = (unsigned)json_integer_value(json_object_get(o, "attempts"));
    out->flaky = json_is_true(json_object_get(o, "flaky"));
    out->peak_rss_kb = (long)json_integer_value(json_object_get(o, "peak_rss_kb"));
    const json_t *a = json_object_get(o, "failures");
    size_t n = json_array_size(a);
    if (n && (out->failures = calloc(n, sizeof(*out->failures)))) {
        for (size_t k = 0; k < n; k++) {
            const json_t *f = json_array_get(a, k);
            hx_failure *d = &out->failures[out->n_failures++];
            d->message = dup_key(f, "message");
            d->detail = dup_key(f, "detail");
            d->loc.line = (int)json_integer_value(json_object_get(f, "line"));
            d->loc.col = (int)json_integer_value(json_object_get(f, "column"));
        }
    }
    a = json_object_get(o, "diagnostics");
    n = json_array_size(a);
    if (n && (out->diagnostics = calloc(n, sizeof(char *))))
        for (size_t k = 0; k < n; k++)
            out->diagnostics[out->n_diagnostics++] = dup_str(json_array_get(a, k));
    a = json_object_get(o, "steps");
    n = json_array_size(a);
    if (n && (out->steps = calloc(n, sizeof(*out->steps)))) {
        for (size_t k = 0; k < n; k++) {
            const json_t *s = json_array_get(a, k);
            out->steps[k] = (hx_step_info){
                .first_event = (size_t)json_integer_value(json_object_get(s, "first_event")),
                .end_event = (size_t)json_integer_value(json_object_get(s, "end_event")),
                .t_start_ms = json_integer_value(json_object_get(s, "t_start_ms")),
                .ran = json_is_true(json_object_get(s, "ran"))};
        }
        out->n_steps = n;
    }
    a = json_object_get(o, "earlier");
    n = json_array_size(a);
    if (n && (out->earlier = calloc(n, sizeof(*out->earlier)))) {
        for (size_t k = 0; k < n; k++) {
            const json_t *e = json_array_get(a, k);
            int es = hx_status_parse(json_string_value(json_object_get(e, "status")));
            out->earlier[k] = (hx_attempt){.status = es < 0 ? HX_FAILED : (hx_status)es,
                                           .message = dup_key(e, "message"),
                                           .output = dup_key(e, "output")};
        }
        out->n_earlier = n;
    }
    json_t *t = json_object_get(o, "trace_events");
    if (json_is_array(t))
        out->trace = json_incref(t);
    t = json_object_get(o, "journal");
    if (json_is_array(t))
        out->journal = json_incref(t);
    t = json_object_get(o, "drm_journal");
    if (json_is_array(t))
        out->drm_journal = json_incref(t);
    return KP_OK;
}
