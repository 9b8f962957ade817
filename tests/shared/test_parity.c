/* test_parity.c: the reference player against the real Kaltura Player 3.17.95.
 *
 * Each case runs one of the scenarios in scenarios/parity/ (set up like the oracle's run: same partner,
 * entry id, single 180p rendition, same steps) and compares its trace with the real player's
 * recording in $KPSIM_SHARED_DIR/conformance/oracle/events-<name>.json, after dropping
 * timeupdate, progress, fragloaded and the UI layout events (issue 2, point 5):
 *   - both traces are cut into segments at the actions (loadMedia, play, seek, pause);
 *   - every segment but the start-up one must be identical;
 *   - in the start-up segment (the one holding playbackstart), what precedes playbackstart
 *     must be identical, and the rest must hold the same events and follow an order the real
 *     player produced in one of its recordings with the same adapter (hls.js: the HLS runs;
 *     the NativeAdapter: the MP4 run), as its start-up order varies run to run
 *     (real-player-observations.md §5);
 *   - payload fields both record must agree: sourceselected (id without the mock's flavor
 *     id, mimetype, URL shape, list length),
 *     playerstatechanged (old/new state), error objects (severity, category, code, the nested
 *     provider error and its result slots), mutechange.
 * The test fails (it never skips) when the shared material is missing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hx/runner.h"
#include "hx/scenario.h"
#include "kp/buf.h"
#include "kp/jsonu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct token {
    const char *type;
    const json_t *payload; /* borrowed */
} token;

typedef struct segment {
    char label[16]; /* the action that opened it ("" for the part before any action) */
    token *t;
    size_t n;
} segment;

typedef struct trace {
    segment *seg;
    size_t n;
} trace;

static bool dropped(const char *type)
{
    static const char *const drop[] = {
        "timeupdate",
        "progress",
        "fragloaded",
        "playkit-ui-guiresize",
        "playkit-ui-playerresize",
        "playkit-ui-videoresize",
        "playkit-ui-bottombarneedsresize",
        "playkit-ui-bottombarclientrectchanged",
        "playkit-ui-uivisibilitychanged",
    };
    for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
        if (strcmp(type, drop[i]) == 0)
            return true;
    return false;
}

static segment *new_segment(trace *tr, const char *label)
{
    tr->seg = realloc(tr->seg, (tr->n + 1) * sizeof(*tr->seg));
    segment *s = &tr->seg[tr->n++];
    memset(s, 0, sizeof(*s));
    snprintf(s->label, sizeof(s->label), "%s", label);
    return s;
}

static void push(segment *s, const char *type, const json_t *payload)
{
    s->t = realloc(s->t, (s->n + 1) * sizeof(*s->t));
    s->t[s->n++] = (token){type, payload};
}

static void trace_free(trace *tr)
{
    for (size_t i = 0; i < tr->n; i++)
        free(tr->seg[i].t);
    free(tr->seg);
}

static bool is_action(const char *name)
{
    return strcmp(name, "loadMedia") == 0 || strcmp(name, "play") == 0 ||
           strcmp(name, "seek") == 0 || strcmp(name, "pause") == 0;
}

/* The oracle recording, normalised. */
static void oracle_trace(const json_t *doc, trace *tr)
{
    segment *cur = new_segment(tr, "");
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(doc, "events"), i, e)
    {
        const char *kind = kp_json_str(e, "kind", "");
        if (strcmp(kind, "action") == 0 && is_action(kp_json_str(e, "name", "")))
            cur = new_segment(tr, kp_json_str(e, "name", ""));
        else if (strcmp(kind, "event") == 0 && strcmp(kp_json_str(e, "ns", ""), "player") == 0 &&
                 !dropped(kp_json_str(e, "type", "")))
            push(cur, kp_json_str(e, "type", ""), json_object_get(e, "payload"));
    }
}

static const char *step_label(hx_step_kind k)
{
    switch (k) {
    case HX_STEP_LOAD_MEDIA:
        return "loadMedia";
    case HX_STEP_PLAY:
        return "play";
    case HX_STEP_SEEK:
        return "seek";
    case HX_STEP_PAUSE:
        return "pause";
    default:
        return NULL;
    }
}

/* Our trace, normalised and cut at the same actions. */
static void own_trace(const hx_scenario *sc, const hx_result *r, trace *tr)
{
    segment *cur = new_segment(tr, "");
    size_t next_step = 0;
    for (size_t i = 0; i < json_array_size(r->trace); i++) {
        while (next_step < r->n_steps && r->steps[next_step].ran &&
               r->steps[next_step].first_event <= i) {
            const char *label = step_label(sc->steps[next_step].kind);
            if (label)
                cur = new_segment(tr, label);
            next_step++;
        }
        const json_t *e = json_array_get(r->trace, i);
        const char *type = kp_json_str(e, "type", "");
        if (!dropped(type))
            push(cur, type, json_object_get(e, "payload"));
    }
    while (next_step < r->n_steps) { /* actions after the last event */
        const char *label = step_label(sc->steps[next_step].kind);
        if (label && r->steps[next_step].ran)
            new_segment(tr, label);
        next_step++;
    }
}

static char *seg_text(const token *t, size_t n)
{
    kp_buf b;
    kp_buf_init(&b);
    for (size_t i = 0; i < n; i++)
        kp_buf_printf(&b, "%s%s", i ? " " : "", t[i].type);
    return kp_buf_steal(&b);
}

static bool same_order(const token *a, size_t na, const token *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i].type, b[i].type) != 0)
            return false;
    return true;
}

static int cmp_type(const void *x, const void *y)
{
    return strcmp(((const token *)x)->type, ((const token *)y)->type);
}

static bool same_multiset(const token *a, size_t na, const token *b, size_t nb)
{
    if (na != nb)
        return false;
    token *sa = malloc(na * sizeof(*sa) + 1), *sb = malloc(nb * sizeof(*sb) + 1);
    memcpy(sa, a, na * sizeof(*sa));
    memcpy(sb, b, nb * sizeof(*sb));
    qsort(sa, na, sizeof(*sa), cmp_type);
    qsort(sb, nb, sizeof(*sb), cmp_type);
    bool ok = same_order(sa, na, sb, nb);
    free(sa);
    free(sb);
    return ok;
}

static size_t find_type(const segment *s, const char *type)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->t[i].type, type) == 0)
            return i;
    return s->n;
}

static char *shared_path(const char *rel)
{
    const char *dir = getenv("KPSIM_SHARED_DIR");
    if (!dir || !*dir)
        fail_msg("KPSIM_SHARED_DIR is not set: the parity test needs the real player's traces "
                 "(shared/conformance/oracle)");
    return kp_asprintf("%s/%s", dir, rel);
}

static json_t *load_oracle(const char *name)
{
    char *rel = kp_asprintf("conformance/oracle/events-%s.json", name);
    char *path = shared_path(rel);
    json_error_t err;
    json_t *doc = json_load_file(path, 0, &err);
    if (!doc)
        fail_msg("cannot read the oracle trace %s: %s", path, err.text);
    free(rel);
    free(path);
    return doc;
}

/* Start-up orders the real player produced: the part of each recording's start-up segment
 * from playbackstart on, for the adapter that played (hls.js: every HLS recording; shaka: the
 * DASH one, which starts differently: abort, videotrackchanged; the NativeAdapter: the MP4
 * one). NULL-terminated lists. */
static const char *const hls_pool[] = {"hls", "hls-manual", "hls-unmuted", "hls-unmuted-policy",
                                       "all", NULL};
static const char *const dash_pool[] = {"dash", NULL};
static const char *const mp4_pool[] = {"mp4", NULL};

static bool startup_order_seen(const char *const *startup_pool, const token *t, size_t n,
                               char **seen_text)
{
    kp_buf all;
    kp_buf_init(&all);
    bool found = false;
    for (size_t i = 0; startup_pool[i] && !found; i++) {
        json_t *doc = load_oracle(startup_pool[i]);
        trace tr = {0};
        oracle_trace(doc, &tr);
        for (size_t s = 0; s < tr.n; s++) {
            size_t k = find_type(&tr.seg[s], "playbackstart");
            if (k == tr.seg[s].n)
                continue;
            if (same_order(t, n, tr.seg[s].t + k, tr.seg[s].n - k))
                found = true;
            char *txt = seg_text(tr.seg[s].t + k, tr.seg[s].n - k);
            kp_buf_printf(&all, "  %s: %s\n", startup_pool[i], txt);
            free(txt);
        }
        trace_free(&tr);
        json_decref(doc);
    }
    *seen_text = kp_buf_steal(&all);
    return found;
}

static const json_t *nth_payload(const trace *tr, const char *type, size_t nth)
{
    for (size_t s = 0; s < tr->n; s++)
        for (size_t i = 0; i < tr->seg[s].n; i++)
            if (strcmp(tr->seg[s].t[i].type, type) == 0 && nth-- == 0)
                return tr->seg[s].t[i].payload;
    return NULL;
}

static size_t count_type(const trace *tr, const char *type)
{
    size_t n = 0;
    for (size_t s = 0; s < tr->n; s++)
        for (size_t i = 0; i < tr->seg[s].n; i++)
            n += strcmp(tr->seg[s].t[i].type, type) == 0;
    return n;
}

/* The path and query keys of a playManifest URL, without host, flavor ids and query values. */
static char *url_shape(const char *url)
{
    /* drop the origin: "http://host:port" in the real player's, "{backend}" in ours */
    const char *p = strstr(url, "://");
    if (p)
        p = strchr(p + 3, '/');
    else if (url[0] == '{' && strchr(url, '}'))
        p = strchr(url, '}') + 1;
    else
        p = url;
    kp_buf b;
    kp_buf_init(&b);
    char *copy = kp_strdup(p ? p : "");
    char *q = strchr(copy, '?');
    if (q)
        *q++ = '\0';
    bool skip = false;
    for (char *tok = strtok(copy, "/"); tok; tok = strtok(NULL, "/")) {
        kp_buf_printf(&b, "/%s", skip ? "*" : tok);
        skip = strcmp(tok, "flavorIds") == 0;
    }
    if (q) {
        kp_buf_putc(&b, '?');
        for (char *kv = strtok(q, "&"); kv; kv = strtok(NULL, "&")) {
            char *eq = strchr(kv, '=');
            bool keep_value = eq && strncmp(kv, "clientTag=", 10) == 0;
            if (eq && !keep_value)
                *eq = '\0';
            kp_buf_printf(&b, "%s&", kv);
        }
    }
    free(copy);
    return kp_buf_steal(&b);
}

/* A source id without its flavor id: progressive ids are "<flavorId><deliveryProfileId>,url"
 * and the mock names its flavors itself (the oracle's stub used 0_flv00001); others are
 * "<entryId>_<deliveryProfileId>,<format>" and stay whole. */
static char *id_shape(const char *id)
{
    size_t n = strlen(id);
    if (n > 14 && strcmp(id + n - 4, ",url") == 0 && id[1] == '_')
        return kp_asprintf("*%s", id + 10);
    return kp_strdup(id);
}

static void compare_payloads(const trace *ours, const trace *real, const char *name)
{
    /* sourceselected */
    const json_t *a = nth_payload(ours, "sourceselected", 0);
    const json_t *b = nth_payload(real, "sourceselected", 0);
    if (a || b) {
        assert_non_null(a);
        assert_non_null(b);
        char *ia = id_shape(kp_json_str(a, "selectedSource.0.id", "?"));
        char *ib = id_shape(kp_json_str(b, "selectedSource.0.id", "!"));
        assert_string_equal(ia, ib);
        free(ia);
        free(ib);
        assert_int_equal(json_array_size(json_object_get(a, "selectedSource")),
                         json_array_size(json_object_get(b, "selectedSource")));
        assert_string_equal(kp_json_str(a, "selectedSource.0.mimetype", "?"),
                            kp_json_str(b, "selectedSource.0.mimetype", "!"));
        char *ua = url_shape(kp_json_str(a, "selectedSource.0.url", ""));
        char *ub = url_shape(kp_json_str(b, "selectedSource.0.url", ""));
        if (strcmp(ua, ub) != 0)
            fail_msg("%s: sourceselected URL shapes differ:\n  ours: %s\n  real: %s", name, ua, ub);
        free(ua);
        free(ub);
    }
    /* playerstatechanged, in order */
    size_t n = count_type(ours, "playerstatechanged");
    assert_int_equal(n, count_type(real, "playerstatechanged"));
    for (size_t i = 0; i < n; i++) {
        a = nth_payload(ours, "playerstatechanged", i);
        b = nth_payload(real, "playerstatechanged", i);
        if (strcmp(kp_json_str(a, "oldState.type", "?"), kp_json_str(b, "oldState.type", "!")) ||
            strcmp(kp_json_str(a, "newState.type", "?"), kp_json_str(b, "newState.type", "!")))
            fail_msg("%s: playerstatechanged #%zu: ours %s->%s, real %s->%s", name, i + 1,
                     kp_json_str(a, "oldState.type", "?"), kp_json_str(a, "newState.type", "?"),
                     kp_json_str(b, "oldState.type", "?"), kp_json_str(b, "newState.type", "?"));
    }
    /* mutechange */
    n = count_type(ours, "mutechange");
    assert_int_equal(n, count_type(real, "mutechange"));
    for (size_t i = 0; i < n; i++)
        assert_int_equal(kp_json_bool(nth_payload(ours, "mutechange", i), "mute", false),
                         kp_json_bool(nth_payload(real, "mutechange", i), "mute", true));
    /* DASH: the track shaka starts with (ours: public getters; the real one: "_" fields) */
    if (strcmp(name, "dash") == 0) {
        a = nth_payload(ours, "videotrackchanged", 0);
        b = nth_payload(real, "videotrackchanged", 0);
        assert_non_null(a);
        assert_non_null(b);
        assert_string_equal(kp_json_str(a, "selectedVideoTrack.label", "?"),
                            kp_json_str(b, "selectedVideoTrack._label", "!"));
        assert_int_equal(kp_json_int(a, "selectedVideoTrack.width", -1),
                         kp_json_int(b, "selectedVideoTrack._width", -2));
        assert_int_equal(kp_json_int(a, "selectedVideoTrack.height", -1),
                         kp_json_int(b, "selectedVideoTrack._height", -2));
        /* trackschanged: one video and one audio track, audio language "und" */
        a = nth_payload(ours, "trackschanged", 0);
        b = nth_payload(real, "trackschanged", 0);
        assert_int_equal(json_array_size(json_object_get(a, "tracks")),
                         json_array_size(json_object_get(b, "tracks")));
        assert_string_equal(kp_json_str(a, "tracks.1.language", "?"),
                            kp_json_str(b, "tracks.1._language", "!"));
    }
    /* errors */
    n = count_type(ours, "error");
    assert_int_equal(n, count_type(real, "error"));
    static const char *const fields[] = {"severity",      "category",      "code",
                                         "data.severity", "data.category", "data.code"};
    for (size_t i = 0; i < n; i++) {
        a = nth_payload(ours, "error", i);
        b = nth_payload(real, "error", i);
        for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++)
            if (kp_json_int(a, fields[f], -1) != kp_json_int(b, fields[f], -2))
                fail_msg("%s: error #%zu: %s is %lld, the real player's is %lld", name, i + 1,
                         fields[f], kp_json_int(a, fields[f], -1), kp_json_int(b, fields[f], -1));
        /* a multirequest error: the same result slots, failing in the same places */
        const json_t *ra = kp_json_path(a, "data.data.results");
        const json_t *rb = kp_json_path(b, "data.data.results");
        assert_int_equal(json_array_size(ra), json_array_size(rb));
        for (size_t k = 0; k < json_array_size(rb); k++)
            assert_int_equal(kp_json_bool(json_array_get(ra, k), "hasError", false),
                             kp_json_bool(json_array_get(rb, k), "hasError", true));
        if (kp_json_path(b, "data.data.messages"))
            assert_string_equal(kp_json_str(a, "data.data.messages", "?"),
                                kp_json_str(b, "data.data.messages", "!"));
    }
}

static void compare(const char *scenario_rel, const char *oracle_name, const char *const *pool)
{
    const char *src = getenv("KPSIM_SOURCE_DIR");
    assert_non_null(src);
    char *path = kp_asprintf("%s/scenarios/parity/%s", src, scenario_rel);
    hx_scenario *sc = NULL;
    hx_diag diag = {0};
    int rc = hx_scenario_load(path, &sc, &diag);
    if (rc != 0)
        fail_msg("%s does not load: %s", path, diag.n ? diag.msgs[0] : "?");
    hx_run_opts opts = {.check_expectations = false};
    hx_result res;
    assert_int_equal(hx_run(sc, &opts, &res), 0);
    if (res.n_failures)
        fail_msg("%s: %s", path, res.failures[0].message);

    json_t *doc = load_oracle(oracle_name);
    trace real = {0}, ours = {0};
    oracle_trace(doc, &real);
    own_trace(sc, &res, &ours);

    kp_buf labels_a, labels_b;
    kp_buf_init(&labels_a);
    kp_buf_init(&labels_b);
    for (size_t s = 0; s < ours.n; s++)
        kp_buf_printf(&labels_a, ">%s ", ours.seg[s].label);
    for (size_t s = 0; s < real.n; s++)
        kp_buf_printf(&labels_b, ">%s ", real.seg[s].label);
    if (strcmp(labels_a.data, labels_b.data) != 0)
        fail_msg("%s: actions differ: ours %s, real %s", oracle_name, labels_a.data, labels_b.data);

    for (size_t s = 0; s < ours.n; s++) {
        segment *a = &ours.seg[s], *b = &real.seg[s];
        char *ta = seg_text(a->t, a->n), *tb = seg_text(b->t, b->n);
        size_t ka = find_type(a, "playbackstart"), kb = find_type(b, "playbackstart");
        if (kb < b->n) {
            /* the start-up segment */
            if (ka == a->n || !same_order(a->t, ka, b->t, kb))
                fail_msg("%s, segment >%s, before playbackstart:\n  ours: %s\n  real: %s",
                         oracle_name, a->label, ta, tb);
            if (!same_multiset(a->t + ka, a->n - ka, b->t + kb, b->n - kb))
                fail_msg("%s, segment >%s: not the same start-up events:\n  ours: %s\n  real: %s",
                         oracle_name, a->label, ta, tb);
            char *seen = NULL;
            if (!startup_order_seen(pool, a->t + ka, a->n - ka, &seen))
                fail_msg("%s: our start-up order was never produced by the real player:\n  ours: "
                         "%s\n  real player's orders:\n%s",
                         oracle_name, ta, seen);
            free(seen);
        } else if (!same_order(a->t, a->n, b->t, b->n)) {
            fail_msg("%s, segment >%s differs:\n  ours: %s\n  real: %s", oracle_name, a->label, ta,
                     tb);
        }
        free(ta);
        free(tb);
    }
    compare_payloads(&ours, &real, oracle_name);

    kp_buf_free(&labels_a);
    kp_buf_free(&labels_b);
    trace_free(&real);
    trace_free(&ours);
    json_decref(doc);
    hx_result_free(&res);
    hx_scenario_free(sc);
    hx_diag_free(&diag);
    free(path);
}

static void test_hls_muted_autoplay(void **state)
{
    compare("hls-muted-autoplay.yaml", "hls", hls_pool);
}

static void test_hls_autoplay_off(void **state)
{
    compare("hls-autoplay-off.yaml", "hls-manual", hls_pool);
}

static void test_hls_unmuted_autoplay(void **state)
{
    compare("hls-unmuted-autoplay.yaml", "hls-unmuted", hls_pool);
}

static void test_entry_without_sources(void **state)
{
    compare("error-no-sources.yaml", "err-nosrc", hls_pool);
}

static void test_entry_not_found(void **state)
{
    compare("error-entry-not-found.yaml", "err-listexc", hls_pool);
}

static void test_mp4_muted_autoplay(void **state)
{
    compare("mp4-muted-autoplay.yaml", "mp4", mp4_pool);
}

static void test_all_formats(void **state)
{
    compare("all-formats.yaml", "all", hls_pool);
}

/* shaka's start-up (abort before emptied, videotrackchanged before medialoaded, durationchange
 * before play) and the selected track: the 180p rendition with its size. */
static void test_dash_muted_autoplay(void **state)
{
    compare("dash-muted-autoplay.yaml", "dash", dash_pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hls_muted_autoplay),   cmocka_unit_test(test_hls_autoplay_off),
        cmocka_unit_test(test_hls_unmuted_autoplay), cmocka_unit_test(test_entry_without_sources),
        cmocka_unit_test(test_entry_not_found),      cmocka_unit_test(test_dash_muted_autoplay),
        cmocka_unit_test(test_mp4_muted_autoplay),   cmocka_unit_test(test_all_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
