/* test_manifest_errors.c: manifest failures per engine, over real sockets. The mock back-end
 * serves a real HLS and DASH entry; the source's manifest path is then answered 404, with
 * garbage, or empty (a canned reply), and the engine the player would use loads it:
 *   - HLS 404 (hls.js does not retry a 4xx): RECOVERABLE {1,1,1002 manifestLoadError,
 *     responseCode 404}, the element reset, the redirect loader's JSONP request, the original
 *     URL again, then CRITICAL {2,1,1002} once: three requests, as the real player's
 *     err-manifest404 journal shows (which also shows its CRITICAL twice and a 5 s wait);
 *   - HLS garbage / empty: CRITICAL {2,4,4015 HLS_PLAYLIST_HEADER_MISSING}, one request;
 *   - DASH 404: shaka retries once after 1 s (maxAttempts 2), then CRITICAL {2,1,1001
 *     BAD_HTTP_STATUS}; two requests, the second at 1 s plus the first exchange;
 *   - DASH garbage / empty: CRITICAL {2,4,4001 DASH_INVALID_XML}, one request.
 */
#include "engine.h"
#include "mock_server.h"

#include "kp/buf.h"
#include "kp/jsonu.h"
#include "kp/perror.h"
#include "kp/provider.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>

#include <cmocka.h>

#define PID 777

static const int formats[] = {MBE_FORMAT_HLS, MBE_FORMAT_DASH};
static const char *const low[] = {"180p"};

typedef struct run {
    json_t *errors; /* every error, in order */
    kp_sched *sched;
    kp_time critical_at;
    kp_buf media_events;
} run;

static void on_emit(void *ud, kp_event_type type, json_t *payload)
{
    (void)ud;
    (void)type;
    json_decref(payload);
}

static void on_loaded(void *ud, json_t *tracks)
{
    (void)ud;
    json_decref(tracks);
}

static void on_fail(void *ud, json_t *error)
{
    run *r = ud;
    if (kp_json_int(error, "severity", 0) == KP_SEVERITY_CRITICAL)
        r->critical_at = kp_sched_now(r->sched);
    json_array_append_new(r->errors, error);
}

static void on_relay(void *ud, kp_event_type t)
{
    run *r = ud;
    kp_buf_printf(&r->media_events, "%s ", kp_event_name(t));
}

static json_t *source(test_mock *m, const char *format)
{
    kp_provider_opts o;
    kp_provider_opts_init(&o);
    o.service_url = m->service;
    o.cdn_url = mbe_server_url(m->srv);
    o.partner_id = PID;
    kp_provider_client pc;
    kp_provider_client_init(&pc);
    pc.user_get = false;
    kp_media_info mi = {.entry_id = "0_mfst0001", .redirect_from_entry_id = -1};
    json_t *config = NULL, *error = NULL;
    assert_int_equal(kp_ovp_fetch_media(&pc, &o, &mi, &config, &error), 0);
    char path[64];
    snprintf(path, sizeof(path), "sources.%s.0", format);
    json_t *src = json_incref(kp_json_path(config, path));
    assert_non_null(src);
    json_decref(config);
    json_decref(error);
    return src;
}

/* The path of src's URL (no query), malloc'd. */
static char *path_of(const json_t *src)
{
    const char *url = kp_json_str(src, "url", "");
    const char *p = strstr(url, "://");
    p = p ? strchr(p + 3, '/') : NULL;
    assert_non_null(p);
    return kp_strndup(p, strcspn(p, "?"));
}

static void answer(test_mock *m, const char *path, int status, const char *body)
{
    mbe_override ov = {.method = "GET",
                       .path = path,
                       .kind = MBE_REPLY_HTTP,
                       .status = status,
                       .content_type = "text/plain",
                       .body = body,
                       .body_len = strlen(body)};
    assert_int_equal(mbe_server_override(m->srv, &ov), 0);
}

/* How many requests the journal has for path. */
static size_t requests_to(test_mock *m, const char *path)
{
    json_t *j = test_mock_journaled(m, path);
    size_t n = json_array_size(j);
    json_decref(j);
    return n;
}

/* Loads src with the engine for 30 virtual seconds; fills r (the caller frees r->errors). */
static void load(const kp_engine_ops *ops, const json_t *src, run *r)
{
    memset(r, 0, sizeof(*r));
    r->errors = json_array();
    kp_buf_init(&r->media_events);
    kp_sched *sched = kp_sched_new();
    r->sched = sched;
    kp_net *net = kp_net_new(sched, NULL, NULL);
    kp_media *media = kp_media_new(sched);
    kp_media_set_relay(media, on_relay, r);
    kp_engine_host host = {.sched = sched,
                           .net = net,
                           .media = media,
                           .ud = r,
                           .emit = on_emit,
                           .loaded = on_loaded,
                           .fail = on_fail};
    json_t *config = json_object();
    void *e = ops->create(&host, src, config);
    assert_non_null(e);
    ops->load(e);
    kp_sched_run_until(sched, KP_SEC(30));
    ops->destroy(e);
    kp_media_free(media);
    kp_net_free(net);
    kp_sched_free(sched);
    json_decref(config);
}

static void check_error(const json_t *err, int severity, int category, int code)
{
    assert_non_null(err);
    assert_int_equal(kp_json_int(err, "severity", 0), severity);
    assert_int_equal(kp_json_int(err, "category", 0), category);
    assert_int_equal(kp_json_int(err, "code", 0), code);
}

static void test_hls_manifest_404(void **state)
{
    test_mock *m = *state;
    json_t *src = source(m, "hls");
    char *path = path_of(src);
    answer(m, path, 404, "Not Found");
    run r;
    load(&kp_engine_hls, src, &r);
    assert_int_equal(json_array_size(r.errors), 2);
    const json_t *rec = json_array_get(r.errors, 0), *crit = json_array_get(r.errors, 1);
    check_error(rec, KP_SEVERITY_RECOVERABLE, KP_PCAT_NETWORK, KP_PCODE_HTTP_ERROR);
    assert_string_equal(kp_json_str(rec, "data.name", ""), "manifestLoadError");
    assert_int_equal(kp_json_int(rec, "data.responseCode", 0), 404);
    check_error(crit, KP_SEVERITY_CRITICAL, KP_PCAT_NETWORK, KP_PCODE_HTTP_ERROR);
    assert_int_equal(kp_json_int(crit, "data.responseCode", 0), 404);
    /* the element was reset for the second load */
    assert_non_null(strstr(r.media_events.data, "emptied loadstart emptied loadstart"));
    /* original, JSONP (responseFormat=jsonp), original: no hls.js retry of a 404 */
    json_t *j = test_mock_journaled(m, path);
    assert_int_equal(json_array_size(j), 3);
    assert_string_equal(kp_json_str(json_array_get(j, 1), "query.responseFormat", ""), "jsonp");
    assert_null(kp_json_path(json_array_get(j, 2), "query.responseFormat"));
    json_decref(j);
    /* no 5 s JSONP wait: the CRITICAL error comes within a second of virtual time */
    assert_true(r.critical_at < KP_SEC(1));
    json_decref(r.errors);
    kp_buf_free(&r.media_events);
    free(path);
    json_decref(src);
}

static void test_hls_manifest_malformed_and_empty(void **state)
{
    test_mock *m = *state;
    json_t *src = source(m, "hls");
    char *path = path_of(src);
    static const char *const bodies[] = {"<html>this is not a playlist</html>", ""};
    for (int i = 0; i < 2; i++) {
        size_t before = requests_to(m, path);
        answer(m, path, 200, bodies[i]);
        run r;
        load(&kp_engine_hls, src, &r);
        assert_int_equal(json_array_size(r.errors), 1);
        check_error(json_array_get(r.errors, 0), KP_SEVERITY_CRITICAL, KP_PCAT_MANIFEST,
                    KP_PCODE_HLS_PLAYLIST_HEADER_MISSING);
        assert_int_equal(requests_to(m, path) - before, 1);
        json_decref(r.errors);
        kp_buf_free(&r.media_events);
    }
    free(path);
    json_decref(src);
}

static void test_dash_manifest_404(void **state)
{
    test_mock *m = *state;
    json_t *src = source(m, "dash");
    char *path = path_of(src);
    answer(m, path, 404, "Not Found");
    run r;
    load(&kp_engine_dash, src, &r);
    assert_int_equal(json_array_size(r.errors), 1);
    const json_t *err = json_array_get(r.errors, 0);
    check_error(err, KP_SEVERITY_CRITICAL, KP_PCAT_NETWORK, KP_PCODE_BAD_HTTP_STATUS);
    assert_int_equal(kp_json_int(err, "data.responseCode", 0), 404);
    assert_int_equal(requests_to(m, path), 2);
    /* the retry waited shaka's baseDelay (1 s) after the first answer */
    assert_true(r.critical_at > KP_SEC(1) && r.critical_at < KP_MS(1200));
    json_decref(r.errors);
    kp_buf_free(&r.media_events);
    free(path);
    json_decref(src);
}

static void test_dash_manifest_malformed_and_empty(void **state)
{
    test_mock *m = *state;
    json_t *src = source(m, "dash");
    char *path = path_of(src);
    static const char *const bodies[] = {"{\"not\": \"xml\"}", ""};
    for (int i = 0; i < 2; i++) {
        size_t before = requests_to(m, path);
        answer(m, path, 200, bodies[i]);
        run r;
        load(&kp_engine_dash, src, &r);
        assert_int_equal(json_array_size(r.errors), 1);
        check_error(json_array_get(r.errors, 0), KP_SEVERITY_CRITICAL, KP_PCAT_MANIFEST, 4001);
        assert_int_equal(requests_to(m, path) - before, 1);
        json_decref(r.errors);
        kp_buf_free(&r.media_events);
    }
    free(path);
    json_decref(src);
}

static int setup(void **state)
{
    mbe_entry e = {.id = "0_mfst0001",
                   .duration = 4,
                   .formats = formats,
                   .n_formats = 2,
                   .renditions = low,
                   .n_renditions = 1};
    mbe_config cfg = {.partner_id = PID, .entries = &e, .n_entries = 1};
    *state = test_mock_new(&cfg);
    return 0;
}

static int teardown(void **state)
{
    test_mock_free(*state);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hls_manifest_404),
        cmocka_unit_test(test_hls_manifest_malformed_and_empty),
        cmocka_unit_test(test_dash_manifest_404),
        cmocka_unit_test(test_dash_manifest_malformed_and_empty),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
