/* fetch.c: retried requests on the virtual clock (see fetch.h). */
#include "fetch.h"

#include "kp/buf.h"
#include "kp/err.h"
#include "kp/jsonu.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MOD "fetch"

typedef struct attempt_req {
    struct attempt_req *next;
    uint64_t id;
    kp_fetcher *f;
    kp_retry_policy policy;
    kp_http_fn cb;
    void *ud;
    /* the request, copied */
    char *method, *url;
    char **headers; /* NULL-terminated */
    void *body;
    size_t body_len;
    size_t max_body;
    void (*on_data)(void *ud, const kp_http_response *resp, size_t received);
    size_t data_step;
    /* state */
    uint64_t net_id;   /* the attempt in flight, 0 while waiting to retry */
    kp_task_id retry;  /* the pending retry */
    int attempts;      /* made so far */
    int error_retries; /* retries spent on failed answers */
    int timeout_retries;
} attempt_req;

struct kp_fetcher {
    kp_net *net;
    kp_sched *sched;
    kp_log *log;
    uint64_t next_id;
    attempt_req *reqs;
    kp_fetch_stats stats;
};

kp_time kp_retry_delay(const kp_retry_rule *r, int n)
{
    double d = (double)r->delay;
    for (int i = 0; i < n && d < 1e15; i++)
        d *= r->factor;
    if (r->max_delay > 0 && d > (double)r->max_delay)
        d = (double)r->max_delay;
    return d < 0 ? 0 : (kp_time)d;
}

bool kp_fetch_ok(const kp_http_response *r)
{
    return r->error == KP_OK && r->status >= 200 && r->status < 300;
}

/* ---- policies ---- */

static void rule_set(kp_retry_rule *r, int retries, double delay_ms, double max_ms, bool linear)
{
    r->max_retries = retries;
    r->delay = (kp_time)(delay_ms * 1000.0);
    r->max_delay = (kp_time)(max_ms * 1000.0);
    r->factor = linear ? 1.0 : 2.0;
}

/* hls.js RetryConfig {maxNumRetry, retryDelayMs, maxRetryDelayMs, backoff} over r. */
static void rule_from_json(kp_retry_rule *r, const json_t *o)
{
    if (!json_is_object(o))
        return;
    r->max_retries = (int)kp_json_int(o, "maxNumRetry", r->max_retries);
    if (r->max_retries < 0)
        r->max_retries = 0;
    r->delay = (kp_time)(kp_json_num(o, "retryDelayMs", (double)r->delay / 1000.0) * 1000.0);
    r->max_delay =
        (kp_time)(kp_json_num(o, "maxRetryDelayMs", (double)r->max_delay / 1000.0) * 1000.0);
    const char *b = kp_json_str(o, "backoff", NULL);
    if (b)
        r->factor = strcmp(b, "linear") == 0 ? 1.0 : 2.0;
}

void kp_retry_hlsjs(kp_retry_policy *p, const char *kind, const json_t *hls)
{
    memset(p, 0, sizeof(*p));
    p->filter = KP_RETRY_HLSJS;
    const char *legacy = NULL, *policy = NULL;
    /* hls.js 1.6 config.ts defaults (maxLoadTimeMs is the per-attempt timeout) */
    if (strcmp(kind, "manifest") == 0) {
        p->timeout = KP_MS(20000);
        rule_set(&p->on_timeout, 2, 0, 0, false);
        rule_set(&p->on_error, 1, 1000, 8000, false);
        legacy = "manifest";
        policy = "manifestLoadPolicy";
    } else if (strcmp(kind, "playlist") == 0) {
        p->timeout = KP_MS(20000);
        rule_set(&p->on_timeout, 2, 0, 0, false);
        rule_set(&p->on_error, 2, 1000, 8000, false);
        legacy = "level";
        policy = "playlistLoadPolicy";
    } else if (strcmp(kind, "key") == 0) {
        p->timeout = KP_MS(20000);
        rule_set(&p->on_timeout, 1, 1000, 20000, true);
        rule_set(&p->on_error, 8, 1000, 20000, true);
        policy = "keyLoadPolicy";
    } else { /* fragment */
        p->timeout = KP_MS(120000);
        rule_set(&p->on_timeout, 4, 0, 0, false);
        rule_set(&p->on_error, 6, 1000, 8000, false);
        legacy = "frag";
        policy = "fragLoadPolicy";
        /* playkit-js-hls default-config.json hlsConfig: fragLoadingMaxRetry 4 (a legacy key:
         * hls.js applies it to both retry kinds) */
        p->on_error.max_retries = p->on_timeout.max_retries = 4;
    }
    if (!json_is_object(hls))
        return;
    const json_t *pol = json_object_get(hls, policy);
    if (json_is_object(pol)) {
        /* an explicit policy wins over the legacy keys (hls.js mergeConfig) */
        const json_t *d = json_object_get(pol, "default");
        if (!json_is_object(d))
            return;
        if (json_is_number(json_object_get(d, "maxLoadTimeMs")))
            p->timeout = (kp_time)(kp_json_num(d, "maxLoadTimeMs", 0) * 1000.0);
        rule_from_json(&p->on_error, json_object_get(d, "errorRetry"));
        rule_from_json(&p->on_timeout, json_object_get(d, "timeoutRetry"));
        return;
    }
    if (!legacy)
        return;
    char key[64];
    snprintf(key, sizeof(key), "%sLoadingTimeOut", legacy);
    if (json_is_number(json_object_get(hls, key)))
        p->timeout = (kp_time)(kp_json_num(hls, key, 0) * 1000.0);
    snprintf(key, sizeof(key), "%sLoadingMaxRetry", legacy);
    if (json_is_number(json_object_get(hls, key))) {
        int n = (int)kp_json_num(hls, key, 0);
        p->on_error.max_retries = p->on_timeout.max_retries = n < 0 ? 0 : n;
    }
    snprintf(key, sizeof(key), "%sLoadingRetryDelay", legacy);
    if (json_is_number(json_object_get(hls, key)))
        p->on_error.delay = p->on_timeout.delay = (kp_time)(kp_json_num(hls, key, 0) * 1000.0);
    snprintf(key, sizeof(key), "%sLoadingMaxRetryTimeout", legacy);
    if (json_is_number(json_object_get(hls, key)))
        p->on_error.max_delay = p->on_timeout.max_delay =
            (kp_time)(kp_json_num(hls, key, 0) * 1000.0);
}

void kp_retry_shaka(kp_retry_policy *p, const json_t *params)
{
    memset(p, 0, sizeof(*p));
    p->filter = KP_RETRY_SHAKA;
    int attempts = 2;
    double base = 1000, factor = 2, timeout = 30000;
    if (json_is_object(params)) {
        attempts = (int)kp_json_num(params, "maxAttempts", attempts);
        base = kp_json_num(params, "baseDelay", base);
        factor = kp_json_num(params, "backoffFactor", factor);
        timeout = kp_json_num(params, "timeout", timeout);
    }
    if (attempts < 1)
        attempts = 1;
    if (base < 0)
        base = 0;
    if (timeout < 0)
        timeout = 0;
    p->timeout = (kp_time)(timeout * 1000.0);
    /* shaka counts attempts over all failures together: one rule, shared (see retry_rule) */
    p->on_error.max_retries = attempts - 1;
    p->on_error.delay = (kp_time)(base * 1000.0);
    p->on_error.factor = factor;
    p->on_error.max_delay = 0;
    p->on_timeout = p->on_error;
}

/* ---- the fetcher ---- */

kp_fetcher *kp_fetcher_new(kp_net *net, kp_sched *sched, kp_log *log)
{
    kp_fetcher *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->net = net;
    f->sched = sched;
    f->log = log;
    f->next_id = 1;
    return f;
}

static void req_free(attempt_req *a)
{
    if (!a)
        return;
    free(a->method);
    free(a->url);
    if (a->headers)
        for (char **h = a->headers; *h; h++)
            free(*h);
    free(a->headers);
    free(a->body);
    free(a);
}

static void req_stop(attempt_req *a)
{
    if (a->net_id)
        kp_net_cancel(a->f->net, a->net_id);
    if (a->retry)
        kp_sched_cancel(a->f->sched, a->retry);
    a->net_id = 0;
    a->retry = 0;
}

void kp_fetcher_free(kp_fetcher *f)
{
    if (!f)
        return;
    while (f->reqs) {
        attempt_req *a = f->reqs;
        f->reqs = a->next;
        req_stop(a);
        req_free(a);
    }
    free(f);
}

static attempt_req *find(const kp_fetcher *f, uint64_t id)
{
    for (attempt_req *a = f->reqs; a; a = a->next)
        if (a->id == id)
            return a;
    return NULL;
}

static void unlink_req(kp_fetcher *f, attempt_req *a)
{
    for (attempt_req **pp = &f->reqs; *pp; pp = &(*pp)->next)
        if (*pp == a) {
            *pp = a->next;
            return;
        }
}

static void on_answer(void *ud, const kp_http_response *r);

static bool send_attempt(attempt_req *a)
{
    kp_http_request req = {.method = a->method,
                           .url = a->url,
                           .headers = (const char *const *)a->headers,
                           .body = a->body,
                           .body_len = a->body_len,
                           .max_body = a->max_body,
                           .on_data = a->on_data,
                           .data_step = a->data_step,
                           .timeout = a->policy.timeout};
    a->net_id = kp_net_fetch(a->f->net, &req, on_answer, a);
    if (!a->net_id)
        return false;
    a->attempts++;
    a->f->stats.attempts++;
    return true;
}

static void retry_fire(void *ud)
{
    attempt_req *a = ud;
    a->retry = 0;
    a->f->stats.retries++;
    if (!send_attempt(a)) {
        /* the net could not even make the request: give up with a transport failure */
        kp_fetcher *f = a->f;
        unlink_req(f, a);
        char text[] = "the request could not be made";
        kp_http_response r = {
            .error = KP_EHTTP, .error_text = text, .url = a->url, .effective_url = a->url};
        r.started = r.first_byte = r.finished = kp_sched_now(f->sched);
        a->cb(a->ud, &r);
        req_free(a);
    }
}

/* Whether the policy retries this failure; when it does, *rule and *used say which budget. */
static bool should_retry(attempt_req *a, const kp_http_response *r, const kp_retry_rule **rule,
                         int **used)
{
    bool timeout = r->error == KP_ETIMEDOUT;
    if (a->policy.filter == KP_RETRY_HLSJS) {
        if (!timeout) {
            if (r->error || r->status == 0)
                return false; /* no status: not retried while online */
            if (r->status >= 400 && r->status <= 499)
                return false;
        }
        *rule = timeout ? &a->policy.on_timeout : &a->policy.on_error;
        *used = timeout ? &a->timeout_retries : &a->error_retries;
    } else {
        if (!r->error && (r->status == 401 || r->status == 403))
            return false;
        /* shaka's Backoff: one attempt budget whatever the failure */
        *rule = &a->policy.on_error;
        *used = &a->error_retries;
    }
    return **used < (*rule)->max_retries;
}

static void on_answer(void *ud, const kp_http_response *r)
{
    attempt_req *a = ud;
    kp_fetcher *f = a->f;
    a->net_id = 0;
    const kp_retry_rule *rule = NULL;
    int *used = NULL;
    if (!kp_fetch_ok(r) && should_retry(a, r, &rule, &used)) {
        kp_time delay = kp_retry_delay(rule, *used);
        (*used)++;
        KP_LOG_I(f->log, LOG_MOD, "%s: %s (%d); retry %d in %lld ms", a->url,
                 r->error ? kp_strerror(r->error) : "HTTP status", r->status, *used,
                 (long long)(delay / 1000));
        a->retry = kp_sched_after(f->sched, delay, retry_fire, a);
        if (a->retry)
            return;
    }
    unlink_req(f, a);
    a->cb(a->ud, r);
    req_free(a);
}

uint64_t kp_fetcher_fetch(kp_fetcher *f, const kp_http_request *req, const kp_retry_policy *policy,
                          kp_http_fn cb, void *ud)
{
    if (!f || !req || !req->url || !policy || !cb)
        return 0;
    attempt_req *a = calloc(1, sizeof(*a));
    if (!a)
        return 0;
    a->f = f;
    a->policy = *policy;
    a->cb = cb;
    a->ud = ud;
    a->method = kp_strdup(req->method ? req->method : "GET");
    a->url = kp_strdup(req->url);
    size_t nh = 0;
    if (req->headers)
        while (req->headers[nh])
            nh++;
    a->headers = calloc(nh + 1, sizeof(char *));
    bool ok = a->method && a->url && a->headers;
    for (size_t i = 0; ok && i < nh; i++)
        ok = (a->headers[i] = kp_strdup(req->headers[i])) != NULL;
    if (ok && req->body && req->body_len) {
        a->body = malloc(req->body_len);
        ok = a->body != NULL;
        if (ok) {
            memcpy(a->body, req->body, req->body_len);
            a->body_len = req->body_len;
        }
    }
    a->max_body = req->max_body;
    a->on_data = req->on_data;
    a->data_step = req->data_step;
    if (!ok || !send_attempt(a)) {
        req_free(a);
        return 0;
    }
    a->id = f->next_id++;
    a->next = f->reqs;
    f->reqs = a;
    return a->id;
}

bool kp_fetcher_cancel(kp_fetcher *f, uint64_t id)
{
    if (!f || !id)
        return false;
    attempt_req *a = find(f, id);
    if (!a)
        return false;
    unlink_req(f, a);
    req_stop(a);
    req_free(a);
    return true;
}

int kp_fetcher_attempts(const kp_fetcher *f, uint64_t id)
{
    const attempt_req *a = f ? find(f, id) : NULL;
    return a ? a->attempts : 0;
}

void kp_fetcher_stats(const kp_fetcher *f, kp_fetch_stats *out)
{
    *out = f->stats;
}
