/* test_kava_e2e.c: KAVA end to end: the reference player with plugins.kava plays a real entry (real HLS bytes
 * from the mock back-end, real sockets on 127.0.0.1) and its beacons reach the back-end's
 * analytics sink. The sink's journal must hold the exact beacon sequence with eventIndex
 * 1..n; a sink that is down (or answers 503) makes every beacon fail with
 * kava_request_failed and leaves the playback events exactly as without KAVA. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hx/runner.h"
#include "hx/scenario.h"
#include "kp/buf.h"
#include "kp/jsonu.h"
#include "mbe/media.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static mbe_media_cache *media;

/* A 12 s two-rendition HLS entry played to the end with muted autoplay; `backend_extra`
 * goes under backend:, `kava` is the plugins.kava mapping (NULL: no KAVA). */
static void run(const char *backend_extra, const char *kava, hx_result *res)
{
    char *yaml = kp_asprintf("name: kava\n"
                             "backend:\n"
                             "  partner_id: 1234567\n"
                             "%s"
                             "  entries:\n"
                             "    - {id: 0_kavait01, duration: 12, formats: [hls], renditions: "
                             "[360p, 180p]}\n"
                             "player:\n"
                             "  network: {bandwidth: 8mbps, latency: 20ms}\n"
                             "  config:\n"
                             "    playback: {autoplay: true, muted: true}\n"
                             "%s%s%s"
                             "steps:\n"
                             "  - load_media: {entry_id: 0_kavait01}\n"
                             "  - wait_for: {event: playbackended, timeout: 60s}\n"
                             "  - wait: 1s\n"
                             "expect: {error: null}\n",
                             backend_extra ? backend_extra : "", kava ? "    plugins: {kava: " : "",
                             kava ? kava : "", kava ? "}\n" : "");
    assert_non_null(yaml);
    hx_scenario *sc = NULL;
    hx_diag diag = {0};
    int rc = hx_scenario_load_buffer("kava.yaml", yaml, strlen(yaml), &sc, &diag);
    for (size_t i = 0; i < diag.n; i++)
        fprintf(stderr, "%s\n", diag.msgs[i]);
    hx_diag_free(&diag);
    free(yaml);
    assert_int_equal(rc, 0);
    hx_run_opts opts = {.media = media, .check_expectations = true};
    assert_int_equal(hx_run(sc, &opts, res), 0);
    assert_int_equal(res->status, HX_PASSED);
    hx_scenario_free(sc);
}

/* The analytics records of the journal, in arrival order (a new array). */
static json_t *beacons(const hx_result *res)
{
    json_t *out = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(res->journal, i, r)
    {
        if (strcmp(kp_json_str(r, "server", ""), "analytics") == 0)
            json_array_append(out, r);
    }
    return out;
}

/* The trace events of type `type`. */
static size_t count_events(const hx_result *res, const char *type)
{
    size_t n = 0, i;
    json_t *e;
    json_array_foreach(res->trace, i, e)
    {
        n += strcmp(kp_json_str(e, "type", ""), type) == 0;
    }
    return n;
}

static const char *const expected_sequence[] = {
    "IMPRESSION",
    "PLAY_REQUEST",
    "PLAY",
    "VIEW",
    "FLAVOR_SWITCH",
    "PLAY_REACHED_25_PERCENT",
    "PLAY_REACHED_50_PERCENT",
    "PLAY_REACHED_75_PERCENT",
    /* the timer's 11th tick and the timeupdate that reaches 90 % fall on the same instant
     * (11 s of play); the tick was scheduled first */
    "VIEW",
    "PLAY_REACHED_90_PERCENT",
    "PLAY_REACHED_100_PERCENT",
    "PAUSE",
};
#define N_EXPECTED (sizeof(expected_sequence) / sizeof(expected_sequence[0]))

static void test_beacon_sequence(void **state)
{
    (void)state;
    hx_result res;
    run(NULL, "{}", &res);
    json_t *b = beacons(&res);
    assert_int_equal(json_array_size(b), N_EXPECTED);
    const char *session = NULL;
    for (size_t i = 0; i < N_EXPECTED; i++) {
        const json_t *r = json_array_get(b, i);
        assert_string_equal(kp_json_str(r, "eventName", ""), expected_sequence[i]);
        assert_string_equal(kp_json_str(r, "kind", ""), "beacon");
        assert_string_equal(kp_json_str(r, "method", ""), "POST");
        assert_int_equal(kp_json_int(r, "status", 0), 200);
        assert_int_equal(kp_json_int(r, "params.eventIndex", 0), (long long)i + 1);
        assert_int_equal(kp_json_int(r, "params.partnerId", 0), 1234567);
        assert_string_equal(kp_json_str(r, "params.entryId", ""), "0_kavait01");
        assert_string_equal(kp_json_str(r, "params.service", ""), "analytics");
        assert_string_equal(kp_json_str(r, "params.action", ""), "trackEvent");
        /* the four identifying parameters travel in the URL, the rest in the JSON body */
        assert_non_null(json_object_get(json_object_get(r, "query"), "sessionId"));
        assert_null(json_object_get(json_object_get(r, "query"), "eventIndex"));
        const char *sid = kp_json_str(r, "params.sessionId", NULL);
        assert_non_null(sid);
        if (!session)
            session = sid;
        assert_string_equal(sid, session);
    }
    /* the second VIEW: 10 ticks after the first one, at 11 s of play */
    assert_true(kp_json_num(json_array_get(b, 8), "params.playTimeSum", 0) > 10.9);
    assert_true(kp_json_num(json_array_get(b, 8), "params.playTimeSum", 0) < 11.1);
    assert_int_equal(kp_json_int(json_array_get(b, 3), "params.playTimeSum", -1), 0);
    /* every answer is announced; none failed */
    assert_int_equal(count_events(&res, "kava_request_succeeded"), N_EXPECTED);
    assert_int_equal(count_events(&res, "kava_request_failed"), 0);
    json_decref(b);
    hx_result_free(&res);
}

/* The playback events of a trace: everything but kava_request_*; the plugin list (which
 * names kava when it is on) emptied. */
static json_t *playback_events(const hx_result *res)
{
    json_t *out = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(res->trace, i, e)
    {
        const char *type = kp_json_str(e, "type", "");
        if (kp_str_starts(type, "kava_request_"))
            continue;
        json_t *c = json_deep_copy(e);
        json_object_del(c, "seq");
        if (strcmp(type, "registeredpluginslistevent") == 0)
            json_object_set_new(c, "payload", json_array());
        json_array_append_new(out, c);
    }
    return out;
}

static void assert_same_playback(const hx_result *a, const hx_result *b)
{
    json_t *pa = playback_events(a), *pb = playback_events(b);
    assert_true(json_array_size(pa) > 50);
    assert_int_equal(json_array_size(pa), json_array_size(pb));
    for (size_t i = 0; i < json_array_size(pa); i++) {
        if (!json_equal(json_array_get(pa, i), json_array_get(pb, i))) {
            char *x = kp_json_dumps(json_array_get(pa, i)),
                 *y = kp_json_dumps(json_array_get(pb, i));
            fprintf(stderr, "event %zu differs:\n  %s\n  %s\n", i, x, y);
            free(x);
            free(y);
            fail();
        }
    }
    json_decref(pa);
    json_decref(pb);
}

static void check_all_failed(const hx_result *res, int code)
{
    assert_int_equal(count_events(res, "kava_request_succeeded"), 0);
    assert_int_equal(count_events(res, "kava_request_failed"), N_EXPECTED);
    size_t i, k = 0;
    json_t *e;
    json_array_foreach(res->trace, i, e)
    {
        if (strcmp(kp_json_str(e, "type", ""), "kava_request_failed") != 0)
            continue;
        assert_int_equal(kp_json_int(e, "payload.error.code", 0), code);
        assert_int_equal(kp_json_int(e, "payload.error.category", 0), 1);
        assert_int_equal(kp_json_int(e, "payload.model.eventIndex", 0), (long long)++k);
    }
}

static void test_sink_down_leaves_playback_alone(void **state)
{
    (void)state;
    hx_result off, up, down, err;
    run(NULL, NULL, &off);
    run(NULL, "{}", &up);
    run("  analytics: {down: true}\n", "{}", &down);
    run("  analytics: {status: 503}\n", "{}", &err);
    assert_int_equal(count_events(&off, "kava_request_succeeded"), 0);
    /* the sink saw every beacon and closed each connection without an answer (libcurl tries
     * a request again on a fresh connection when a reused one dies: some arrive twice) */
    json_t *b = beacons(&down);
    bool seen[N_EXPECTED + 1] = {false};
    size_t i;
    json_t *r;
    json_array_foreach(b, i, r)
    {
        long long idx = kp_json_int(r, "params.eventIndex", 0);
        assert_in_range(idx, 1, N_EXPECTED);
        seen[idx] = true;
        assert_int_equal(kp_json_int(r, "status", -1), 0);
        assert_true(json_is_true(json_object_get(r, "down")));
    }
    for (size_t k = 1; k <= N_EXPECTED; k++)
        assert_true(seen[k]);
    json_decref(b);
    check_all_failed(&down, 1002); /* HTTP_ERROR */
    check_all_failed(&err, 1001);  /* BAD_HTTP_STATUS */
    assert_same_playback(&off, &up);
    assert_same_playback(&off, &down);
    assert_same_playback(&off, &err);
    hx_result_free(&off);
    hx_result_free(&up);
    hx_result_free(&down);
    hx_result_free(&err);
}

static void test_view_events_disabled_by_server(void **state)
{
    (void)state;
    hx_result res;
    run("  analytics: {view_events: false}\n", "{}", &res);
    json_t *b = beacons(&res);
    /* the IMPRESSION's answer says viewEventsEnabled:false: no VIEW at all */
    assert_int_equal(json_array_size(b), N_EXPECTED - 2);
    size_t i;
    json_t *r;
    json_array_foreach(b, i, r)
    {
        assert_string_not_equal(kp_json_str(r, "eventName", ""), "VIEW");
        assert_int_equal(kp_json_int(r, "params.eventIndex", 0), (long long)i + 1);
    }
    json_decref(b);
    hx_result_free(&res);
}

static void test_get_method_and_config(void **state)
{
    (void)state;
    hx_result res;
    run(NULL,
        "{requestMethod: GET, sessionId: my-session, playbackContext: ctx1, customVar2: v2, "
        "viewEventCountdown: 5}",
        &res);
    json_t *b = beacons(&res);
    /* VIEWs every 5 ticks: at PLAY, then 6 s and 11 s */
    size_t views = 0, i;
    json_t *r;
    json_array_foreach(b, i, r)
    {
        assert_string_equal(kp_json_str(r, "method", ""), "GET");
        /* GET: every parameter in the URL */
        const json_t *q = json_object_get(r, "query");
        assert_string_equal(kp_json_str(q, "sessionId", ""), "my-session");
        assert_string_equal(kp_json_str(q, "playbackContext", ""), "ctx1");
        assert_string_equal(kp_json_str(q, "customVar2", ""), "v2");
        assert_string_equal(kp_json_str(q, "apiVersion", ""), "3.3.0");
        assert_string_equal(kp_json_str(q, "kalturaApplication", ""), "21");
        assert_int_equal(kp_json_int(r, "params.eventIndex", 0), (long long)i + 1);
        views += strcmp(kp_json_str(r, "eventName", ""), "VIEW") == 0;
    }
    assert_int_equal(views, 3);
    json_decref(b);
    hx_result_free(&res);
}

static void test_disabled(void **state)
{
    (void)state;
    hx_result res;
    run(NULL, "{disable: true}", &res);
    json_t *b = beacons(&res);
    assert_int_equal(json_array_size(b), 0);
    json_decref(b);
    hx_result_free(&res);
}

int main(void)
{
    media = mbe_media_cache_new(getenv("KPSIM_CACHE_DIR"), NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_beacon_sequence),
        cmocka_unit_test(test_sink_down_leaves_playback_alone),
        cmocka_unit_test(test_view_events_disabled_by_server),
        cmocka_unit_test(test_get_method_and_config),
        cmocka_unit_test(test_disabled),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    mbe_media_cache_free(media);
    return rc;
}
