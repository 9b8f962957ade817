/* record.c: turning a recording into a scenario's expect block. */
#include "hx/record.h"

#include "hx/expect.h"
#include "hx/runner.h"
#include "kp/buf.h"
#include "kp/err.h"
#include "kp/jsonu.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A string that YAML reads back as the same string without quotes. */
static bool plain_safe(const char *s)
{
    if (!*s || strcmp(s, "true") == 0 || strcmp(s, "false") == 0 || strcmp(s, "null") == 0 ||
        strcmp(s, "~") == 0)
        return false;
    char *end;
    strtod(s, &end);
    if (*end == '\0')
        return false; /* would read back as a number */
    if (!isalpha((unsigned char)s[0]))
        return false;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.')
            return false;
    return true;
}

/* JSON → YAML flow style ({a: 1, b: [x, y]}); strings quoted only when needed. */
static void yaml_flow(kp_buf *b, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        kp_buf_putc(b, '{');
        const char *k;
        json_t *x;
        bool first = true;
        json_object_foreach((json_t *)v, k, x)
        {
            kp_buf_printf(b, "%s", first ? "" : ", ");
            json_t *key = json_string(k);
            if (plain_safe(k))
                kp_buf_puts(b, k);
            else
                yaml_flow(b, key);
            json_decref(key);
            kp_buf_puts(b, ": ");
            yaml_flow(b, x);
            first = false;
        }
        kp_buf_putc(b, '}');
        break;
    }
    case JSON_ARRAY: {
        kp_buf_putc(b, '[');
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            kp_buf_puts(b, i ? ", " : "");
            yaml_flow(b, x);
        }
        kp_buf_putc(b, ']');
        break;
    }
    case JSON_STRING:
        if (plain_safe(json_string_value(v))) {
            kp_buf_puts(b, json_string_value(v));
        } else {
            char *q = json_dumps(v, JSON_ENCODE_ANY); /* a JSON string is a YAML scalar */
            kp_buf_puts(b, q ? q : "\"\"");
            free(q);
        }
        break;
    default: {
        char *q = kp_json_dumps(v);
        kp_buf_puts(b, q ? q : "null");
        free(q);
    }
    }
}

static json_t *error_triple(const json_t *err)
{
    return json_pack("{s:I, s:I, s:I}", "severity", (json_int_t)kp_json_int(err, "severity", 0),
                     "category", (json_int_t)kp_json_int(err, "category", 0), "code",
                     (json_int_t)kp_json_int(err, "code", 0));
}

/* The payload fields worth asserting for an event, or NULL for the name alone. */
static json_t *meaningful_payload(const kp_recorded *e)
{
    const json_t *p = e->payload;
    switch (e->type) {
    case KP_EV_PLAYER_STATE_CHANGED:
        return json_pack("{s:{s:s}, s:{s:s}}", "oldState", "type",
                         kp_json_str(p, "oldState.type", ""), "newState", "type",
                         kp_json_str(p, "newState.type", ""));
    case KP_EV_ERROR: {
        json_t *out = error_triple(p);
        /* a player error wrapping the provider's (7002 LOAD_FAILED): assert that one too */
        const json_t *inner = json_object_get(p, "data");
        if (out && json_is_integer(json_object_get(inner, "code")))
            json_object_set_new(out, "data", error_triple(inner));
        return out;
    }
    case KP_EV_AD_ERROR:
        return error_triple(p);
    case KP_EV_AD_BREAK_START: {
        const json_t *pos = kp_json_path(p, "adBreak.position");
        return json_pack("{s:{s:s, s:O, s:I}}", "adBreak", "type",
                         kp_json_str(p, "adBreak.type", ""), "position", pos ? pos : json_null(),
                         "numAds", (json_int_t)kp_json_int(p, "adBreak.numAds", 0));
    }
    case KP_EV_AD_LOADED:
        return json_pack("{s:s, s:{s:s, s:I}}", "adType", kp_json_str(p, "adType", ""), "ad", "id",
                         kp_json_str(p, "ad.id", ""), "position",
                         (json_int_t)kp_json_int(p, "ad.position", 0));
    case KP_EV_AD_STARTED:
        return json_pack("{s:{s:s, s:I}}", "ad", "id", kp_json_str(p, "ad.id", ""), "position",
                         (json_int_t)kp_json_int(p, "ad.position", 0));
    case KP_EV_AD_MANIFEST_LOADED:
    case KP_EV_PLAYLIST_ITEM_CHANGED:
    case KP_EV_MUTE_CHANGE:
    case KP_EV_ABR_MODE_CHANGED:
    case KP_EV_VISIBILITY_CHANGE:
    case KP_EV_PLAYER_RESET:
    case KP_EV_UI_PRESET_CHANGE:
        return json_is_object(p) && json_object_size(p) ? json_deep_copy(p) : NULL;
    default:
        return NULL;
    }
}

/* "name", or "name: {payload}" as a list item, "{name: {payload}}" inside a flow list. */
static void put_event(kp_buf *b, const kp_recorded *e, bool in_flow)
{
    json_t *p = meaningful_payload(e);
    if (!p) {
        kp_buf_puts(b, e->name);
        return;
    }
    kp_buf_printf(b, "%s%s: ", in_flow ? "{" : "", e->name);
    yaml_flow(b, p);
    if (in_flow)
        kp_buf_putc(b, '}');
    json_decref(p);
}

/* Events whose order is not guaranteed, recorded as one any_order group: a mutechange and the
 * volumechange of the same change of the muted state (the player's event is dispatched at once,
 * the media element's is queued as a task, so in a browser their order, and that of what fires
 * at the same instant between them, depends on where the change was made: config, API,
 * autoplay fallback). Returns how many events from v->ev[i] form the group (0: none): from a
 * mutechange or volumechange to the first event of the other kind, all at the same virtual
 * time, at most 4 events. docs/scenarios.md, "Recording goldens". */
static size_t unordered_group(const hx_view *v, size_t i)
{
    const kp_recorded *a = v->ev[i];
    kp_event_type other;
    if (a->type == KP_EV_MUTE_CHANGE)
        other = KP_EV_VOLUME_CHANGE;
    else if (a->type == KP_EV_VOLUME_CHANGE)
        other = KP_EV_MUTE_CHANGE;
    else
        return 0;
    for (size_t k = i + 1; k < v->n && k < i + 4; k++) {
        if (v->ev[k]->t_ms != a->t_ms)
            return 0;
        if (v->ev[k]->type == other)
            return k - i + 1;
        if (v->ev[k]->type == a->type)
            return 0;
    }
    return 0;
}

char *hx_record_block(const hx_scenario *sc, const kp_recorder *rec)
{
    kp_buf b;
    kp_buf_init(&b);
    kp_buf_puts(&b, "expect:\n  events:\n");
    if (sc->expect.n_ignore) {
        json_t *ign = json_array();
        for (size_t i = 0; i < sc->expect.n_ignore; i++)
            json_array_append_new(ign, json_string(sc->expect.ignore[i]));
        kp_buf_puts(&b, "    ignore: ");
        yaml_flow(&b, ign);
        kp_buf_putc(&b, '\n');
        json_decref(ign);
    }
    kp_buf_puts(&b, "    sequence:\n");
    hx_view v;
    hx_view_make(rec, 0, kp_recorder_count(rec), sc->expect.ignore, sc->expect.n_ignore, &v);
    const kp_recorded *first_error = NULL;
    for (size_t i = 0; i < v.n; i++) {
        const kp_recorded *e = v.ev[i];
        if (e->type == KP_EV_ERROR && !first_error)
            first_error = e;
        size_t group = unordered_group(&v, i);
        if (group) {
            kp_buf_puts(&b, "      - any_order: [");
            for (size_t k = 0; k < group; k++) {
                if (v.ev[i + k]->type == KP_EV_ERROR && !first_error)
                    first_error = v.ev[i + k];
                kp_buf_puts(&b, k ? ", " : "");
                put_event(&b, v.ev[i + k], true);
            }
            kp_buf_puts(&b, "]\n");
            i += group - 1;
            continue;
        }
        kp_buf_puts(&b, "      - ");
        put_event(&b, e, false);
        kp_buf_putc(&b, '\n');
    }
    if (v.n == 0)
        kp_buf_puts(&b, "      []\n");
    hx_view_free(&v);
    if (first_error) {
        json_t *p = meaningful_payload(first_error);
        kp_buf_puts(&b, "  error: ");
        yaml_flow(&b, p);
        kp_buf_putc(&b, '\n');
        json_decref(p);
    } else {
        kp_buf_puts(&b, "  error: null\n");
    }
    if (sc->expect.n_requests) {
        kp_buf_puts(&b, "  requests:\n");
        for (size_t i = 0; i < sc->expect.n_requests; i++) {
            const struct hx_request_expect *r = &sc->expect.requests[i];
            if (r->sequence) {
                /* the ordered form is kept as written: one item per line */
                kp_buf_printf(&b, "    - server: %s\n      sequence:\n", r->server);
                size_t j;
                json_t *item;
                json_array_foreach(r->sequence, j, item)
                {
                    kp_buf_puts(&b, "        - ");
                    yaml_flow(&b, item);
                    kp_buf_putc(&b, '\n');
                }
                continue;
            }
            kp_buf_printf(&b, "    - {server: %s, match: ", r->server);
            yaml_flow(&b, r->match);
            if (r->count >= 0)
                kp_buf_printf(&b, ", count: %lld", r->count);
            kp_buf_puts(&b, "}\n");
        }
    }
    return kp_buf_steal(&b);
}

typedef struct record_ctx {
    char *block;
} record_ctx;

static void on_recorded(void *ud, const hx_scenario *sc, const kp_recorder *rec)
{
    record_ctx *c = ud;
    c->block = hx_record_block(sc, rec);
}

/* Replaces lines [first, end) (1-based; end 0 = to the end of the file) with block; when
 * first is 0 the block is appended. */
static char *splice(const char *text, int first, int end, const char *block)
{
    kp_buf b;
    kp_buf_init(&b);
    if (first <= 0) {
        kp_buf_puts(&b, text);
        if (b.len && b.data[b.len - 1] != '\n')
            kp_buf_putc(&b, '\n');
        kp_buf_puts(&b, block);
        return kp_buf_steal(&b);
    }
    int line = 1;
    const char *p = text;
    while (*p && line < first) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);
        kp_buf_append(&b, p, n);
        p += n;
        line++;
    }
    kp_buf_puts(&b, block);
    while (*p && (end <= 0 || line < end)) {
        const char *nl = strchr(p, '\n');
        p += nl ? (size_t)(nl - p + 1) : strlen(p);
        line++;
    }
    kp_buf_puts(&b, p);
    return kp_buf_steal(&b);
}

int hx_record_file(const char *path, const char *output, mbe_media_cache *media, kp_log *log,
                   char *msg, size_t msglen)
{
    hx_scenario *sc = NULL;
    hx_diag diag = {0};
    int rc = hx_scenario_load(path, &sc, &diag);
    if (rc != KP_OK) {
        kp_buf b;
        kp_buf_init(&b);
        for (size_t i = 0; i < diag.n; i++)
            kp_buf_printf(&b, "%s\n", diag.msgs[i]);
        snprintf(msg, msglen, "%s", b.data ? b.data : "invalid scenario\n");
        kp_buf_free(&b);
        hx_diag_free(&diag);
        return KP_EPARSE;
    }
    hx_diag_free(&diag);
    record_ctx ctx = {0};
    hx_run_opts opts = {.media = media,
                        .log = log,
                        .check_expectations = false,
                        .on_recorded = on_recorded,
                        .ud = &ctx};
    hx_result res;
    rc = hx_run(sc, &opts, &res);
    if (rc == KP_OK && res.status == HX_TIMEOUT)
        rc = KP_ETIMEDOUT;
    if (rc == KP_OK && res.n_failures) {
        snprintf(msg, msglen, "the run failed, nothing recorded: %s", res.failures[0].message);
        rc = KP_ESTATE;
    } else if (rc != KP_OK) {
        snprintf(msg, msglen, "the run failed (%s), nothing recorded", kp_strerror(rc));
    }
    kp_buf text;
    kp_buf_init(&text);
    if (rc == KP_OK && (rc = kp_read_file(path, &text)) != KP_OK)
        snprintf(msg, msglen, "cannot read %s", path);
    char *out = NULL;
    if (rc == KP_OK && ctx.block) {
        out = splice(text.data, sc->layout.expect_line, sc->layout.after_expect_line, ctx.block);
        const char *dest = output ? output : path;
        rc = out ? kp_write_file_atomic(dest, out, strlen(out)) : KP_ENOMEM;
        if (rc == KP_OK)
            snprintf(msg, msglen, "%s: recorded %zu events into the expect block of %s", sc->name,
                     json_array_size(res.trace), dest);
        else
            snprintf(msg, msglen, "cannot write %s", dest);
    }
    free(out);
    kp_buf_free(&text);
    free(ctx.block);
    hx_result_free(&res);
    hx_scenario_free(sc);
    return rc;
}
