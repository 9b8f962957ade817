/* test_fault_serve.c: fault delivery in both timing modes, over real sockets.
 *
 * serve mode (kpsim serve): the admin path /__admin/faults lists, adds (with located errors)
 * and removes rules while the back-end runs; a delay, a dribble and a timeout really take wall
 * time; stopping the server does not wait for a held connection.
 * virtual mode (kpsim run): the player's network turns the server's timing headers into
 * virtual time: a 30 s delay arrives 30 s later on the virtual clock in milliseconds of wall
 * time, a request timeout abandons it at the timer, a request that never gets an answer and has
 * no timer is never delivered; the headers never reach the player.
 */
#include "http_client.h"

#include "hx/runner.h"
#include "hx/scenario.h"

#include "kp/err.h"
#include "kp/jsonu.h"
#include "kp/net.h"
#include "kp/sched.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <setjmp.h>

#include <cmocka.h>

static mbe_media_cache *media;

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1000.0 + (double)t.tv_nsec / 1e6;
}

static hx_scenario *load(const char *text)
{
    hx_scenario *sc = NULL;
    hx_diag d = {0};
    int rc = hx_scenario_load_buffer("t.yaml", text, strlen(text), &sc, &d);
    for (size_t i = 0; i < d.n; i++)
        fprintf(stderr, "%s\n", d.msgs[i]);
    hx_diag_free(&d);
    assert_int_equal(rc, KP_OK);
    return sc;
}

static json_t *admin(const char *method, const char *url, const char *body, long want)
{
    test_reply r;
    test_http(method, url, body, "application/json", NULL, &r);
    if (r.status != want)
        fail_msg("%s %s: %ld (want %ld): %s", method, url, r.status, want,
                 r.body.data ? r.body.data : "");
    json_t *j = r.body.len ? json_loadb(r.body.data, r.body.len, 0, NULL) : NULL;
    test_reply_free(&r);
    return j;
}

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return s * n;
}

static CURLcode get(const char *url, long timeout_ms, long *status)
{
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    CURLcode rc = curl_easy_perform(c);
    *status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(c);
    return rc;
}

static void test_serve_admin(void **state)
{
    (void)state;
    hx_scenario *sc = load("name: serve\nsteps:\n  - wait: 1s\n");
    hx_servers srv;
    assert_int_equal(hx_servers_start_mode(sc, media, NULL, 0, 0, true, &srv), KP_OK);
    const char *base = mbe_server_url(srv.api);
    char *faults = kp_asprintf("%s/__admin/faults", base);
    char *hls = kp_asprintf("%s/hls/none", base);
    char *p = kp_asprintf("%s/p/none", base);

    json_t *j = admin("GET", faults, NULL, 200);
    assert_int_equal(json_array_size(j), 0);
    json_decref(j);
    /* a bad rule: 400 with the message and the key it is about */
    j = admin("POST", faults, "{\"server\":\"cdn\",\"reply\":{\"delay\":\"soon\"}}", 400);
    assert_string_equal(kp_json_str(j, "where", ""), "reply.delay");
    assert_non_null(strstr(kp_json_str(j, "error", ""), "duration"));
    json_decref(j);
    j = admin("POST", faults, "{not json", 400);
    json_decref(j);
    j = admin(
        "POST", faults,
        "{\"server\":\"cdn\",\"match\":{\"path\":\"/hls/*\"},\"reply\":{\"delay\":\"300ms\"}}",
        201);
    assert_int_equal(kp_json_int(j, "id", -1), 0);
    json_decref(j);
    j = admin("POST", faults,
              "{\"server\":\"cdn\",\"match\":{\"path\":\"/p/*\"},\"reply\":{\"status\":418}}", 201);
    assert_int_equal(kp_json_int(j, "id", -1), 1);
    json_decref(j);

    /* the delay really takes wall time; the answer is the normal one */
    long status;
    double t0 = now_ms();
    assert_int_equal(get(hls, 5000, &status), CURLE_OK);
    assert_true(now_ms() - t0 >= 290.0);
    assert_int_equal(status, 404);
    assert_int_equal(get(p, 5000, &status), CURLE_OK);
    assert_int_equal(status, 418);

    j = admin("GET", faults, NULL, 200);
    assert_int_equal(json_array_size(j), 2);
    assert_int_equal(kp_json_int(json_array_get(j, 0), "fired", -1), 1);
    assert_int_equal(kp_json_int(json_array_get(j, 1), "fired", -1), 1);
    json_decref(j);

    char *one = kp_asprintf("%s/1", faults), *nine = kp_asprintf("%s/9", faults);
    json_decref(admin("DELETE", one, NULL, 204));
    json_decref(admin("DELETE", nine, NULL, 404));
    assert_int_equal(get(p, 5000, &status), CURLE_OK);
    assert_int_equal(status, 404); /* the rule is gone */
    json_decref(admin("DELETE", faults, NULL, 204));
    j = admin("GET", faults, NULL, 200);
    assert_int_equal(json_array_size(j), 0);
    json_decref(j);

    /* a dribble: the 404 text trickles 4 bytes every 50 ms */
    json_decref(admin(
        "POST", faults,
        "{\"server\":\"cdn\",\"reply\":{\"dribble\":{\"bytes\":4,\"every\":\"50ms\"}}}", 201));
    t0 = now_ms();
    assert_int_equal(get(hls, 5000, &status), CURLE_OK);
    assert_true(now_ms() - t0 >= 150.0);
    assert_int_equal(status, 404);
    json_decref(admin("DELETE", faults, NULL, 204));

    /* a timeout: never answers; the client gives up */
    json_decref(admin("POST", faults, "{\"server\":\"cdn\",\"reply\":\"timeout\"}", 201));
    assert_int_equal(get(hls, 300, &status), CURLE_OPERATION_TIMEDOUT);

    /* admin requests are neither journaled nor faulted; the faulted ones are marked */
    j = mbe_server_journal(srv.api);
    size_t i, marked = 0;
    json_t *rec;
    json_array_foreach(j, i, rec)
    {
        assert_null(strstr(kp_json_str(rec, "path", ""), "__admin"));
        marked += json_object_get(rec, "fault") != NULL;
    }
    assert_int_equal(marked, 4);
    json_decref(j);

    /* a held connection does not hold the stop up */
    assert_int_equal(get(hls, 100, &status), CURLE_OPERATION_TIMEDOUT);
    t0 = now_ms();
    hx_servers_stop(&srv);
    assert_true(now_ms() - t0 < 3000.0);
    free(one);
    free(nine);
    free(faults);
    free(hls);
    free(p);
    hx_scenario_free(sc);
}

typedef struct got {
    int calls;
    int error;
    int status;
    kp_time at;
    bool header;
} got;

static kp_sched *sched;

static void on_resp(void *ud, const kp_http_response *r)
{
    got *g = ud;
    g->calls++;
    g->error = r->error;
    g->status = r->status;
    g->at = r->finished;
    g->header =
        kp_http_header(r, "x-kpsim-fault-delay") || kp_http_header(r, "x-kpsim-fault-timeout");
    assert_int_equal(kp_sched_now(sched), r->finished);
}

static void fetch(kp_net *net, const char *base, const char *path, kp_time timeout, got *g)
{
    char *url = kp_asprintf("%s%s", base, path);
    kp_http_request rq = {.url = url, .timeout = timeout};
    assert_true(kp_net_fetch(net, &rq, on_resp, g) != 0);
    free(url);
}

static void test_virtual_timing(void **state)
{
    (void)state;
    hx_scenario *sc = load(
        "name: virtual\nbackend:\n  faults:\n"
        "    - {server: cdn, match: {path: /slow}, reply: {delay: 30s}}\n"
        "    - {server: cdn, match: {path: /never}, reply: timeout}\n"
        "    - {server: cdn, match: {path: /trickle}, reply: {dribble: {bytes: 1, every: 1s}}}\n"
        "steps:\n  - wait: 1s\n");
    hx_servers srv;
    assert_int_equal(hx_servers_start(sc, media, NULL, 0, 0, &srv), KP_OK);
    const char *base = mbe_server_url(srv.api);
    double t0 = now_ms();
    sched = kp_sched_new();
    kp_net_profile prof = {.bandwidth_bps = 8000000, .latency = KP_MS(20)};
    kp_net *net = kp_net_new(sched, &prof, NULL);
    got slow = {0}, slow_timed = {0}, never = {0}, never_timed = {0}, trickle = {0};
    fetch(net, base, "/slow", 0, &slow);
    fetch(net, base, "/slow", KP_SEC(10), &slow_timed);
    fetch(net, base, "/never", 0, &never);
    fetch(net, base, "/never", KP_SEC(5), &never_timed);
    fetch(net, base, "/trickle", 0, &trickle);
    while (kp_sched_step(sched)) {
    }
    /* 30 s of virtual delay: the normal answer (404) at >= 30 s, the header stripped */
    assert_int_equal(slow.calls, 1);
    assert_int_equal(slow.error, KP_OK);
    assert_int_equal(slow.status, 404);
    assert_true(slow.at >= KP_SEC(30));
    assert_false(slow.header);
    /* with a 10 s timer: abandoned at exactly 10 s */
    assert_int_equal(slow_timed.error, KP_ETIMEDOUT);
    assert_int_equal(slow_timed.at, KP_SEC(10));
    /* never answered: no timer, no callback; with a 5 s timer, a timeout at 5 s */
    assert_int_equal(never.calls, 0);
    assert_int_equal(never_timed.calls, 1);
    assert_int_equal(never_timed.error, KP_ETIMEDOUT);
    assert_int_equal(never_timed.at, KP_SEC(5));
    /* a dribble of 1 byte a second: the 404 text ("...not found") takes seconds */
    assert_int_equal(trickle.status, 404);
    assert_true(trickle.at >= KP_SEC(5));
    /* all of it in wall milliseconds */
    assert_true(now_ms() - t0 < 2000.0);
    kp_net_free(net); /* frees the never-answered request */
    kp_sched_free(sched);
    hx_servers_stop(&srv);
    hx_scenario_free(sc);
}

/* api_error: a KalturaAPIException in HTTP 200; in a multirequest only the sub-call the rule
 * names; on an OTT back-end inside Phoenix's envelope. */
static void test_api_error(void **state)
{
    (void)state;
    static const char *const kinds[] = {"ovp", "ott"};
    for (int k = 0; k < 2; k++) {
        bool ott = k == 1;
        char *text = kp_asprintf(
            "name: api error\nbackend:\n  kind: %s\n  faults:\n"
            "    - {server: api, match: {service: %s, action: %s}, reply: {api_error: {code: "
            "INVALID_KS, message: 'Invalid KS'}}}\nsteps:\n  - wait: 1s\n",
            kinds[k], ott ? "ottuser" : "session", ott ? "anonymousLogin" : "startWidgetSession");
        hx_scenario *sc = load(text);
        free(text);
        hx_servers srv;
        assert_int_equal(hx_servers_start(sc, media, NULL, 0, 0, &srv), KP_OK);
        const char *base = mbe_server_url(srv.api);
        char *single =
            kp_asprintf("%s/api_v3/service/%s/action/%s", base, ott ? "ottuser" : "session",
                        ott ? "anonymousLogin" : "startWidgetSession");
        char *multi = kp_asprintf("%s/api_v3/service/multirequest", base);
        json_t *j = admin("POST", single,
                          ott ? "{\"partnerId\":1234567}" : "{\"widgetId\":\"_1234567\"}", 200);
        const char *code = kp_json_str(j, ott ? "result.error.code" : "code", "");
        assert_string_equal(code, "INVALID_KS");
        json_decref(j);
        const char *body =
            ott ? "{\"1\":{\"service\":\"ottuser\",\"action\":\"anonymousLogin\",\"partnerId\":"
                  "1234567},\"2\":{\"service\":\"ottuser\",\"action\":\"anonymousLogin\","
                  "\"partnerId\":1234567}}"
                : "{\"1\":{\"service\":\"session\",\"action\":\"startWidgetSession\",\"widgetId\":"
                  "\"_1234567\"},\"2\":{\"service\":\"baseEntry\",\"action\":\"list\",\"ks\":"
                  "\"{1:result:ks}\"}}";
        j = admin("POST", multi, body, 200);
        if (ott) {
            assert_string_equal(kp_json_str(j, "result.0.error.code", ""), "INVALID_KS");
            assert_string_equal(kp_json_str(j, "result.1.error.code", ""), "INVALID_KS");
        } else {
            /* only the named sub-call is replaced */
            assert_string_equal(kp_json_str(j, "0.code", ""), "INVALID_KS");
            assert_string_equal(kp_json_str(j, "0.objectType", ""), "KalturaAPIException");
            assert_null(kp_json_path(j, "1.code"));
        }
        json_decref(j);
        free(single);
        free(multi);
        hx_servers_stop(&srv);
        hx_scenario_free(sc);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serve_admin),
        cmocka_unit_test(test_virtual_timing),
        cmocka_unit_test(test_api_error),
    };
    media = mbe_media_cache_new(NULL, NULL);
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    mbe_media_cache_free(media);
    return rc;
}
