/* test_fetch_retry.c: the player's retried requests (fetch.h) over real sockets. A tiny HTTP
 * server in the test answers each path by a script ("fail this many times, then answer"), and
 * counts what it received; the retries of the hls.js and shaka policies are asserted from
 * those counts and from the virtual moments the answers reach the player: how many attempts,
 * after which delays (exponential or linear backoff, the caps), which failures are not retried
 * (hls.js: 4xx and answers without a status; shaka: 401/403), virtual timeouts that cost no
 * wall time, and the player config overrides (hls.js legacy keys and load policies, shaka
 * retryParameters).
 */
#include "fetch.h"

#include "kp/err.h"
#include "kp/log.h"
#include "kp/net.h"
#include "kp/sched.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <setjmp.h>

#include <cmocka.h>

/* ---- the scripted server ---- */

#define MAX_PATHS 32
#define BIG_BODY  (1024 * 1024)

typedef struct scripted {
    struct MHD_Daemon *d;
    uint16_t port;
    pthread_mutex_t mu;
    char paths[MAX_PATHS][64];
    int hits[MAX_PATHS];
    size_t n;
    char *big;
} scripted;

/* The hit count of path after adding one (under the lock). */
static int hit(scripted *s, const char *path)
{
    pthread_mutex_lock(&s->mu);
    int n = 0;
    size_t i;
    for (i = 0; i < s->n; i++)
        if (strcmp(s->paths[i], path) == 0)
            break;
    if (i == s->n && s->n < MAX_PATHS) {
        snprintf(s->paths[i], sizeof(s->paths[i]), "%s", path);
        s->n++;
    }
    if (i < MAX_PATHS)
        n = ++s->hits[i];
    pthread_mutex_unlock(&s->mu);
    return n;
}

static int hits_of(scripted *s, const char *path)
{
    pthread_mutex_lock(&s->mu);
    int n = 0;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->paths[i], path) == 0)
            n = s->hits[i];
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* Paths: /s/<c1>,<c2>,...[/anything]: the n-th request gets code c_n (the last one repeats);
 * 0 closes the connection without an answer. /big: 200 with 1 MiB. */
static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_len, void **con_cls)
{
    (void)method;
    (void)version;
    (void)upload;
    (void)upload_len;
    (void)con_cls;
    scripted *s = cls;
    int n = hit(s, url);
    struct MHD_Response *r;
    int status = 200;
    if (strcmp(url, "/big") == 0) {
        r = MHD_create_response_from_buffer(BIG_BODY, s->big, MHD_RESPMEM_PERSISTENT);
    } else {
        if (strncmp(url, "/s/", 3) != 0)
            return MHD_NO;
        const char *p = url + 3;
        for (int i = 1;; i++) {
            status = atoi(p);
            const char *comma = strchr(p, ',');
            if (i == n || !comma)
                break;
            p = comma + 1;
        }
        if (status == 0)
            return MHD_NO; /* a reset */
        static const char body[] = "answer";
        r = MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    }
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return rc;
}

static int srv_setup(void **state)
{
    scripted *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    pthread_mutex_init(&s->mu, NULL);
    s->big = malloc(BIG_BODY);
    assert_non_null(s->big);
    memset(s->big, 'x', BIG_BODY);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                            handler, s, MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_END);
    assert_non_null(s->d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info->port;
    *state = s;
    return 0;
}

static int srv_teardown(void **state)
{
    scripted *s = *state;
    MHD_stop_daemon(s->d);
    pthread_mutex_destroy(&s->mu);
    free(s->big);
    free(s);
    return 0;
}

/* ---- one request through a fetcher, on a fresh virtual clock ---- */

typedef struct outcome {
    int calls;
    int error;
    int status;
    kp_time started, finished;
} outcome;

static void on_done(void *ud, const kp_http_response *r)
{
    outcome *o = ud;
    o->calls++;
    o->error = r->error;
    o->status = r->status;
    o->started = r->started;
    o->finished = r->finished;
}

static const kp_net_profile FAST = {.bandwidth_bps = 100000000, .latency = KP_MS(10)};

static outcome run(scripted *s, const char *path, const kp_retry_policy *pol,
                   const kp_net_profile *prof)
{
    kp_sched *sch = kp_sched_new();
    kp_log *lg = kp_log_new(KP_LOG_ERROR, stderr);
    kp_net *net = kp_net_new(sch, prof, lg);
    kp_fetcher *f = kp_fetcher_new(net, sch, lg);
    assert_non_null(f);
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", s->port, path);
    outcome o = {0};
    kp_http_request req = {.url = url};
    assert_true(kp_fetcher_fetch(f, &req, pol, on_done, &o) != 0);
    while (kp_sched_step(sch)) {
    }
    kp_fetcher_free(f);
    kp_net_free(net);
    kp_log_free(lg);
    kp_sched_free(sch);
    assert_int_equal(o.calls, 1);
    return o;
}

/* How long one small exchange takes on FAST (the server's headers count): measured once. */
static kp_time one_exchange(scripted *s)
{
    kp_retry_policy none = {0};
    outcome o = run(s, "/s/200/one", &none, &FAST);
    assert_int_equal(o.status, 200);
    return o.finished - o.started;
}

/* hls.js fragments under playkit's config: 503 four times then 200 is retried four times,
 * after 1, 2, 4 and 8 s (exponential from retryDelayMs 1000, capped at 8000). */
static void test_hlsjs_fragment_backoff(void **state)
{
    scripted *s = *state;
    kp_time x = one_exchange(s);
    kp_retry_policy p;
    kp_retry_hlsjs(&p, "fragment", NULL);
    assert_int_equal(p.on_error.max_retries, 4);
    outcome o = run(s, "/s/503,503,503,503,200/frag", &p, &FAST);
    assert_int_equal(o.error, KP_OK);
    assert_int_equal(o.status, 200);
    assert_int_equal(hits_of(s, "/s/503,503,503,503,200/frag"), 5);
    /* the last attempt started after 4 failed exchanges and 1+2+4+8 s of waiting */
    assert_int_equal(o.started, 4 * x + KP_MS(1000 + 2000 + 4000 + 8000));
    /* one more failure than the budget: the 5th 503 is the answer */
    o = run(s, "/s/503/frag-always", &p, &FAST);
    assert_int_equal(o.status, 503);
    assert_int_equal(hits_of(s, "/s/503/frag-always"), 5);
}

/* hls.js never retries a 4xx nor an answer without status (a reset while online). */
static void test_hlsjs_no_retry(void **state)
{
    scripted *s = *state;
    kp_retry_policy p;
    kp_retry_hlsjs(&p, "fragment", NULL);
    outcome o = run(s, "/s/404,200/frag404", &p, &FAST);
    assert_int_equal(o.status, 404);
    assert_int_equal(hits_of(s, "/s/404,200/frag404"), 1);
    o = run(s, "/s/0,200/fragreset", &p, &FAST);
    assert_int_not_equal(o.error, KP_OK);
    assert_int_equal(hits_of(s, "/s/0,200/fragreset"), 1);
    /* the manifest policy: one error retry after 1 s */
    kp_time x = one_exchange(s);
    kp_retry_hlsjs(&p, "manifest", NULL);
    o = run(s, "/s/500,500,200/manifest", &p, &FAST);
    assert_int_equal(o.status, 500);
    assert_int_equal(hits_of(s, "/s/500,500,200/manifest"), 2);
    assert_int_equal(o.started, x + KP_MS(1000));
}

/* hls.js keys: linear backoff (1 s each time), 8 error retries. */
static void test_hlsjs_key_linear(void **state)
{
    scripted *s = *state;
    kp_time x = one_exchange(s);
    kp_retry_policy p;
    kp_retry_hlsjs(&p, "key", NULL);
    outcome o = run(s, "/s/502,502,502,200/key", &p, &FAST);
    assert_int_equal(o.status, 200);
    assert_int_equal(hits_of(s, "/s/502,502,502,200/key"), 4);
    assert_int_equal(o.started, 3 * x + KP_MS(3000));
}

/* A virtual timeout: 1 MiB at 100 kbit/s would take 84 s; the level playlist policy gives up
 * each attempt at 20 s and retries twice at once (timeoutRetry), so the answer is
 * KP_ETIMEDOUT at 60 s of virtual time, in far less wall time. */
static void test_hlsjs_timeout_virtual(void **state)
{
    scripted *s = *state;
    kp_retry_policy p;
    kp_retry_hlsjs(&p, "playlist", NULL);
    const kp_net_profile slow = {.bandwidth_bps = 100000, .latency = KP_MS(10)};
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    outcome o = run(s, "/big", &p, &slow);
    clock_gettime(CLOCK_MONOTONIC, &b);
    assert_int_equal(o.error, KP_ETIMEDOUT);
    assert_int_equal(hits_of(s, "/big"), 3);
    assert_int_equal(o.started, KP_SEC(40));
    assert_int_equal(o.finished, KP_SEC(60));
    double wall = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    assert_true(wall < 10.0);
}

/* shaka: maxAttempts 2 by default (one retry after baseDelay 1 s), a reset retried too,
 * 401/403 never; retryParameters from the config. */
static void test_shaka(void **state)
{
    scripted *s = *state;
    kp_time x = one_exchange(s);
    kp_retry_policy p;
    kp_retry_shaka(&p, NULL);
    assert_int_equal(p.timeout, KP_MS(30000));
    outcome o = run(s, "/s/0,200/seg", &p, &FAST);
    assert_int_equal(o.status, 200);
    assert_int_equal(hits_of(s, "/s/0,200/seg"), 2);
    o = run(s, "/s/404/seg404", &p, &FAST);
    assert_int_equal(o.status, 404);
    assert_int_equal(hits_of(s, "/s/404/seg404"), 2);
    assert_int_equal(o.started, x + KP_MS(1000));
    o = run(s, "/s/403,200/lic", &p, &FAST);
    assert_int_equal(o.status, 403);
    assert_int_equal(hits_of(s, "/s/403,200/lic"), 1);
    json_t *params =
        json_pack("{s:i, s:i, s:f}", "maxAttempts", 4, "baseDelay", 500, "backoffFactor", 3.0);
    kp_retry_shaka(&p, params);
    json_decref(params);
    o = run(s, "/s/500,500,500,200/seg3", &p, &FAST);
    assert_int_equal(o.status, 200);
    assert_int_equal(hits_of(s, "/s/500,500,500,200/seg3"), 4);
    assert_int_equal(o.started, 3 * x + KP_MS(500 + 1500 + 4500));
}

/* The hls.js config a player passes (playback.options.html5.hls). */
static void test_hlsjs_config(void **state)
{
    (void)state;
    kp_retry_policy p;
    json_t *c = json_pack("{s:i, s:i, s:i, s:i}", "fragLoadingMaxRetry", 1, "fragLoadingRetryDelay",
                          250, "fragLoadingTimeOut", 5000, "manifestLoadingMaxRetry", 3);
    kp_retry_hlsjs(&p, "fragment", c);
    assert_int_equal(p.on_error.max_retries, 1);
    assert_int_equal(p.on_timeout.max_retries, 1);
    assert_int_equal(p.on_error.delay, KP_MS(250));
    assert_int_equal(p.timeout, KP_MS(5000));
    kp_retry_hlsjs(&p, "manifest", c);
    assert_int_equal(p.on_error.max_retries, 3);
    assert_int_equal(p.timeout, KP_MS(20000));
    json_decref(c);
    c = json_pack("{s:{s:{s:i, s:{s:i, s:i, s:i, s:s}}}, s:i}", "playlistLoadPolicy", "default",
                  "maxLoadTimeMs", 7000, "errorRetry", "maxNumRetry", 5, "retryDelayMs", 100,
                  "maxRetryDelayMs", 300, "backoff", "exponential", "levelLoadingMaxRetry", 9);
    kp_retry_hlsjs(&p, "playlist", c);
    assert_int_equal(p.timeout, KP_MS(7000));
    assert_int_equal(p.on_error.max_retries, 5); /* the policy wins over the legacy key */
    assert_int_equal(p.on_timeout.max_retries, 2);
    assert_int_equal(kp_retry_delay(&p.on_error, 0), KP_MS(100));
    assert_int_equal(kp_retry_delay(&p.on_error, 1), KP_MS(200));
    assert_int_equal(kp_retry_delay(&p.on_error, 2), KP_MS(300));
    json_decref(c);
}

/* Cancelling while a retry waits: no callback, no more requests. */
static void test_cancel_during_backoff(void **state)
{
    scripted *s = *state;
    kp_sched *sch = kp_sched_new();
    kp_log *lg = kp_log_new(KP_LOG_ERROR, stderr);
    kp_net *net = kp_net_new(sch, &FAST, lg);
    kp_fetcher *f = kp_fetcher_new(net, sch, lg);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/s/503/cancel", s->port);
    kp_retry_policy p;
    kp_retry_hlsjs(&p, "fragment", NULL);
    outcome o = {0};
    kp_http_request req = {.url = url};
    uint64_t id = kp_fetcher_fetch(f, &req, &p, on_done, &o);
    kp_sched_run_until(sch, KP_MS(500)); /* the first 503 is in; the retry waits for 1 s */
    assert_int_equal(kp_fetcher_attempts(f, id), 1);
    assert_true(kp_fetcher_cancel(f, id));
    assert_false(kp_fetcher_cancel(f, id));
    while (kp_sched_step(sch)) {
    }
    assert_int_equal(o.calls, 0);
    assert_int_equal(hits_of(s, "/s/503/cancel"), 1);
    kp_fetch_stats st;
    kp_fetcher_stats(f, &st);
    assert_int_equal(st.attempts, 1);
    assert_int_equal(st.retries, 0);
    /* a request left in flight is dropped by kp_fetcher_free */
    assert_true(kp_fetcher_fetch(f, &req, &p, on_done, &o) != 0);
    kp_fetcher_free(f);
    while (kp_sched_step(sch)) {
    }
    assert_int_equal(o.calls, 0);
    kp_net_free(net);
    kp_log_free(lg);
    kp_sched_free(sch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hlsjs_fragment_backoff),
        cmocka_unit_test(test_hlsjs_no_retry),
        cmocka_unit_test(test_hlsjs_key_linear),
        cmocka_unit_test(test_hlsjs_timeout_virtual),
        cmocka_unit_test(test_shaka),
        cmocka_unit_test(test_hlsjs_config),
        cmocka_unit_test(test_cancel_during_backoff),
    };
    return cmocka_run_group_tests(tests, srv_setup, srv_teardown);
}
