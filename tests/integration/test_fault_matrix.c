/* test_fault_matrix.c: every fault kind on every server, against reference scenarios.
 *
 * api, cdn and drm: a reference scenario (a 4 s HLS entry; a ClearKey DASH entry for drm) is
 * run with one fault rule {server, match, reply, times: 1}, through the whole harness (scenario
 * loader, runner, mock servers on 127.0.0.1, the player's network); each row asserts the
 * outcome (the player's error code, playback ended, or stuck waiting for an answer that never
 * comes), that the journal marks the faulted request with the rule and the reply kind, and
 * for delay/dribble that playback ends later in virtual time than without the fault; each row
 * runs twice and both traces must be byte-identical.
 * ads and analytics: the back-end is asked over real HTTP (libcurl) and what arrives is
 * asserted (scenarios/errors/ad-server-timeout.yaml and analytics-down.yaml run the plugins) (status, transport error, header of
 * the virtual timing), plus the journal.
 * The outcomes are the player's reactions with its loaders' retries (docs/model.md "Retries
 * and timeouts"): the rule fires once, so what is retried ends (later by the retry delay or
 * the request timeout): an hls.js fragment answered 5xx, every shaka license failure but a
 * 401/403 (30 s per attempt); what is not retried fails: an API call (the provider does not
 * retry), a 4xx manifest, a partial or garbled segment, a malformed answer. An HLS segment
 * whose connection drops is fetched again at once, as before. A fault with no timeout to end
 * it (an API call or a segment that never answers: hls.js's 120 s fragment limit is beyond
 * the 40 s run) stays STUCK.
 * Add a row to a table to cover a new kind or server.
 */
#include "hx/runner.h"
#include "hx/scenario.h"

#include "kp/buf.h"
#include "kp/err.h"
#include "kp/fault.h"
#include "kp/jsonu.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>

#include <cmocka.h>

enum { ENDED = -1, STUCK = -2 };

typedef struct row {
    const char *server;
    const char *match; /* YAML flow mapping */
    const char *reply; /* YAML */
    int outcome;       /* the player's error code, ENDED or STUCK */
    int later_ms;      /* ENDED: ends at least this much later than without the fault */
} row;

static const row ROWS[] = {
    /* the API: the playback start's multirequest */
    {"api", "{service: baseEntry}", "{status: 500}", 7002, 0},
    {"api", "{service: baseEntry}", "{status: 503, body: 'down'}", 7002, 0},
    {"api", "{service: baseEntry, action: list}",
     "{api_error: {code: INVALID_KS, message: 'Invalid KS'}}", 7002, 0},
    {"api", "{service: baseEntry}", "{delay: 5s}", ENDED, 5000},
    {"api", "{service: baseEntry}", "reset", 7002, 0},
    {"api", "{service: baseEntry}", "empty", 7002, 0},
    {"api", "{service: baseEntry}", "{truncate: 10}", 7002, 0},
    {"api", "{service: baseEntry}", "malformed", 7002, 0},
    {"api", "{service: baseEntry}", "random_then_close", 7002, 0},
    {"api", "{service: baseEntry}", "{dribble: {bytes: 100, every: 100ms}}", ENDED, 1000},
    {"api", "{service: baseEntry}", "timeout", STUCK, 0},
    /* the CDN: the master playlist, a media playlist, the first segment */
    {"cdn", "{kind: master}", "{status: 404}", 1002, 0},
    {"cdn", "{kind: playlist}", "malformed", 4015, 0},
    {"cdn", "{kind: segment}", "{status: 503}", ENDED, 1000}, /* hls.js: retried 1 s later */
    {"cdn", "{kind: segment}", "{delay: 5s}", ENDED, 5000},
    {"cdn", "{kind: segment}", "reset", ENDED, 0}, /* retried at once */
    {"cdn", "{kind: segment}", "empty", ENDED, 0}, /* retried at once */
    {"cdn", "{kind: segment}", "{truncate: 1000}", 1002, 0},
    {"cdn", "{kind: segment}", "{reset: {after: 1000}}", 1002, 0}, /* no status: no retry */
    {"cdn", "{kind: segment}", "malformed", 3019, 0},
    {"cdn", "{kind: segment}", "random_then_close", 1002, 0},
    {"cdn", "{kind: segment}", "{dribble: {bytes: 10000, every: 1s}}", ENDED, 5000},
    {"cdn", "{kind: segment}", "timeout", STUCK, 0},
    /* the license server: the ClearKey license request */
    {"drm", "{scheme: clearkey}", "{status: 403}", 6007, 0},
    {"drm", "{scheme: clearkey}", "{delay: 5s}", ENDED, 4800},
    {"drm", "{scheme: clearkey}", "reset", ENDED, 800}, /* shaka: 2nd attempt 1 s later */
    {"drm", "{scheme: clearkey}", "{reset: {after: 10}}", ENDED, 800},
    {"drm", "{scheme: clearkey}", "empty", ENDED, 800},
    {"drm", "{scheme: clearkey}", "{truncate: 10}", ENDED, 800},
    {"drm", "{scheme: clearkey}", "malformed", 6008, 0},
    {"drm", "{scheme: clearkey}", "random_then_close", ENDED, 800},
    {"drm", "{scheme: clearkey}", "{dribble: {bytes: 10, every: 1s}}", ENDED, 5000},
    {"drm", "{scheme: clearkey}", "timeout", ENDED, 30000}, /* 30 s per attempt */
};

static const char *const PLAIN =
    "name: fault matrix\n"
    "backend:\n"
    "  entries:\n"
    "    - {id: 0_vod00001, duration: 4, formats: [hls], renditions: [180p]}\n"
    "%s"
    "player:\n"
    "  config: {playback: {autoplay: true, muted: true}}\n"
    "steps:\n"
    "  - load_media: {entry_id: 0_vod00001}\n"
    "  - wait: 40s\n";

static const char *const PROTECTED =
    "name: fault matrix\n"
    "backend:\n"
    "  entries:\n"
    "    - {id: 0_drmck001, duration: 4, formats: [dash], drm: [clearkey]}\n"
    "%s"
    "player:\n"
    "  platform: firefox\n"
    "  config: {playback: {autoplay: true, muted: true}}\n"
    "steps:\n"
    "  - load_media: {entry_id: 0_drmck001}\n"
    "  - wait: 40s\n";

static char *scenario_text(const row *r)
{
    char faults[512] = "";
    if (r)
        snprintf(faults, sizeof(faults),
                 "  faults:\n    - {server: %s, match: %s, reply: %s, times: 1}\n", r->server,
                 r->match, r->reply);
    bool drm = r && strcmp(r->server, "drm") == 0;
    return kp_asprintf(drm ? PROTECTED : PLAIN, faults);
}

static mbe_media_cache *media;

static void run_text(const char *text, hx_result *res)
{
    hx_scenario *sc = NULL;
    hx_diag diag = {0};
    int rc = hx_scenario_load_buffer("matrix.yaml", text, strlen(text), &sc, &diag);
    for (size_t i = 0; i < diag.n; i++)
        fprintf(stderr, "%s\n", diag.msgs[i]);
    assert_int_equal(rc, KP_OK);
    hx_diag_free(&diag);
    hx_run_opts o = {.check_expectations = true, .media = media};
    assert_int_equal(hx_run(sc, &o, res), KP_OK);
    hx_scenario_free(sc);
}

/* The first error's code, ENDED when playback ended without one, else STUCK; *end_ms the
 * virtual time of `ended`. */
static int outcome(const hx_result *res, long long *end_ms)
{
    size_t i;
    json_t *e;
    *end_ms = -1;
    json_array_foreach(res->trace, i, e)
    {
        const char *type = kp_json_str(e, "type", "");
        if (strcmp(type, "error") == 0)
            return (int)kp_json_int(e, "payload.code", -3);
        if (strcmp(type, "ended") == 0) {
            *end_ms = kp_json_int(e, "t", -1);
            return ENDED;
        }
    }
    return STUCK;
}

static const char *kind_of(const char *reply)
{
    static const char *const kinds[] = {
        "api_error",         "status",    "delay",   "reset",   "empty", "truncate",
        "random_then_close", "malformed", "dribble", "timeout", NULL};
    for (size_t i = 0; kinds[i]; i++)
        if (strstr(reply, kinds[i]))
            return kinds[i];
    return "?";
}

static long long baseline_end(bool drm)
{
    static long long cache[2] = {-2, -2};
    if (cache[drm] != -2)
        return cache[drm];
    row r = {.server = drm ? "drm" : "api"};
    char *text = scenario_text(NULL);
    if (drm) {
        free(text);
        text = kp_asprintf(PROTECTED, "");
    }
    (void)r;
    hx_result res;
    run_text(text, &res);
    free(text);
    long long end;
    assert_int_equal(outcome(&res, &end), ENDED);
    hx_result_free(&res);
    return cache[drm] = end;
}

static void test_player_servers(void **state)
{
    (void)state;
    bool print = getenv("FAULT_MATRIX_PRINT") != NULL;
    int bad = 0;
    for (size_t i = 0; i < sizeof(ROWS) / sizeof(ROWS[0]); i++) {
        const row *r = &ROWS[i];
        bool drm = strcmp(r->server, "drm") == 0;
        char *text = scenario_text(r);
        hx_result a, b;
        run_text(text, &a);
        run_text(text, &b);
        free(text);
        char *ta = json_dumps(a.trace, JSON_COMPACT), *tb = json_dumps(b.trace, JSON_COMPACT);
        assert_non_null(ta);
        assert_non_null(tb);
        if (strcmp(ta, tb) != 0) {
            fprintf(stderr, "row %zu (%s %s): the two traces differ\n", i, r->server, r->reply);
            bad++;
        }
        free(ta);
        free(tb);
        long long end;
        int got = outcome(&a, &end);
        if (print)
            fprintf(stderr, "row %zu %s %s %s -> %d (end %lld ms)\n", i, r->server, r->match,
                    r->reply, got, end);
        if (got != r->outcome) {
            fprintf(stderr, "row %zu (%s %s %s): outcome %d, expected %d\n", i, r->server, r->match,
                    r->reply, got, r->outcome);
            bad++;
        }
        if (r->later_ms && got == ENDED && end < baseline_end(drm) + r->later_ms) {
            fprintf(stderr, "row %zu (%s %s): ended at %lld ms, expected at least %lld\n", i,
                    r->server, r->reply, end, baseline_end(drm) + r->later_ms);
            bad++;
        }
        /* the journal marks the faulted request: rule 0, the reply kind, the server */
        json_t *journal = drm ? a.drm_journal : a.journal;
        json_t *want = json_pack("{s:i, s:s}", "fault", 0, "fault_reply", kind_of(r->reply));
        if (!drm)
            json_object_set_new(want, "server", json_string(r->server));
        size_t k, hits = 0;
        json_t *rec;
        const char *path = NULL;
        json_array_foreach(journal, k, rec)
        {
            if (kp_json_subset(want, rec)) {
                hits++;
                path = kp_json_str(rec, "path", NULL);
            }
        }
        json_decref(want);
        if (hits != 1) {
            fprintf(stderr, "row %zu (%s %s): %zu journal records marked with the fault\n", i,
                    r->server, r->reply, hits);
            bad++;
        }
        /* a fault that does not delay the answer and still lets playback end was retried:
         * the same path asked again, answered without a fault */
        const char *kind = kind_of(r->reply);
        if (got == ENDED && path && strcmp(kind, "delay") != 0 && strcmp(kind, "dribble") != 0) {
            size_t again = 0;
            json_array_foreach(journal, k, rec) again +=
                !json_object_get(rec, "fault") && strcmp(kp_json_str(rec, "path", ""), path) == 0;
            if (again < 1) {
                fprintf(stderr, "row %zu (%s %s): ended but %s was not asked again\n", i, r->server,
                        r->reply, path);
                bad++;
            }
        }
        hx_result_free(&a);
        hx_result_free(&b);
    }
    assert_int_equal(bad, 0);
}

/* ---- ads and analytics: over real HTTP ---- */

typedef struct http_row {
    const char *reply;
    CURLcode curl;      /* what libcurl reports */
    long status;        /* when curl is CURLE_OK */
    const char *header; /* a header the answer must carry (virtual timing), or NULL */
} http_row;

static const http_row HTTP_ROWS[] = {
    {"{status: 503}", CURLE_OK, 503, NULL},
    {"{delay: 30s}", CURLE_OK, 404, "X-Kpsim-Fault-Delay: 30000000"},
    {"reset", CURLE_RECV_ERROR, 0, NULL},
    {"{reset: {after: 2}}", CURLE_RECV_ERROR, 0, "Content-Length: "}, /* the head went out */
    {"empty", CURLE_GOT_NOTHING, 0, NULL},
    {"{truncate: 3}", CURLE_PARTIAL_FILE, 0, NULL},
    {"malformed", CURLE_OK, 200, NULL},
    {"random_then_close", CURLE_UNSUPPORTED_PROTOCOL, 0, NULL},
    {"{dribble: {bytes: 2, every: 1s}}", CURLE_OK, 404, "X-Kpsim-Fault-Dribble: 2/1000000"},
    {"timeout", CURLE_OK, 404, "X-Kpsim-Fault-Timeout: 1"},
};

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
    kp_buf_append(ud, p, s * n);
    return s * n;
}

static CURLcode fetch(const char *url, long *status, kp_buf *headers)
{
    CURL *c = curl_easy_init();
    kp_buf body;
    kp_buf_init(&body);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    CURLcode rc = curl_easy_perform(c);
    *status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(c);
    kp_buf_free(&body);
    return rc;
}

static void test_ads_analytics_paths(void **state)
{
    (void)state;
    static const char *const servers[] = {"ads", "analytics"};
    for (size_t s = 0; s < 2; s++) {
        for (size_t i = 0; i < sizeof(HTTP_ROWS) / sizeof(HTTP_ROWS[0]); i++) {
            const http_row *h = &HTTP_ROWS[i];
            char *text = kp_asprintf("name: http\nbackend:\n  faults:\n"
                                     "    - {server: %s, match: {path: '/%s/*'}, reply: %s}\n"
                                     "steps:\n  - wait: 1s\n",
                                     servers[s], servers[s], h->reply);
            hx_scenario *sc = NULL;
            assert_int_equal(hx_scenario_load_buffer("http.yaml", text, strlen(text), &sc, NULL),
                             KP_OK);
            free(text);
            hx_servers srv;
            assert_int_equal(hx_servers_start(sc, media, NULL, 0, 0, &srv), KP_OK);
            char *url = kp_asprintf("%s/%s/x", mbe_server_url(srv.api), servers[s]);
            /* a path of the other kind is not faulted */
            char *other = kp_asprintf("%s/hls/none", mbe_server_url(srv.api));
            long status;
            kp_buf hdrs;
            kp_buf_init(&hdrs);
            CURLcode rc = fetch(url, &status, &hdrs);
            /* the normal answer (a 404 in the table: no such ad) is a 200 at the analytics
             * sink, which takes any beacon */
            long want_status =
                h->status == 404 && strcmp(servers[s], "analytics") == 0 ? 200 : h->status;
            if (rc != h->curl || status != want_status)
                fprintf(stderr, "%s %s: curl %d status %ld\n", servers[s], h->reply, rc, status);
            assert_int_equal(rc, h->curl);
            assert_int_equal(status, want_status);
            if (h->header)
                assert_non_null(strstr(hdrs.data ? hdrs.data : "", h->header));
            kp_buf_reset(&hdrs);
            assert_int_equal(fetch(other, &status, &hdrs), CURLE_OK);
            assert_int_equal(status, 404);
            assert_null(strstr(hdrs.data ? hdrs.data : "", "X-Kpsim-Fault"));
            kp_buf_free(&hdrs);
            json_t *want = json_pack("{s:s, s:i, s:s}", "server", servers[s], "fault", 0,
                                     "fault_reply", kind_of(h->reply));
            json_t *j = mbe_server_journal(srv.api);
            size_t k, hits = 0;
            json_t *rec;
            json_array_foreach(j, k, rec) hits += kp_json_subset(want, rec);
            assert_int_equal(hits, 1);
            json_decref(j);
            json_decref(want);
            free(url);
            free(other);
            hx_servers_stop(&srv);
            hx_scenario_free(sc);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_player_servers),
        cmocka_unit_test(test_ads_analytics_paths),
    };
    media = mbe_media_cache_new(NULL, NULL);
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    mbe_media_cache_free(media);
    return rc;
}
