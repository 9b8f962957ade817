/* fetch.h: requests retried the way the players' loaders retry them, on the virtual clock.
 *
 * A kp_fetcher sits on a kp_net and sends each request with a retry policy: the request is
 * tried, and when the answer is a failure the policy accepts, it is sent again after a delay
 * (a scheduler task, never a sleep). The caller's callback fires once, with the first answer
 * that is not retried: a success, a failure the policy does not retry, or the last attempt.
 *
 * The policies model the real player's loaders:
 *   - hls.js 1.6 LoadPolicy (config.ts): a per-attempt timeout (maxLoadTimeMs), an errorRetry
 *     and a timeoutRetry {maxNumRetry, retryDelayMs, maxRetryDelayMs, backoff}; the delay of
 *     retry n (0-based) is retryDelayMs * 2^n ("exponential") or retryDelayMs ("linear"),
 *     capped at maxRetryDelayMs; HTTP errors are retried only for a status outside 4xx, and
 *     an answer without status (a reset, a refused connection) is not retried at all
 *     (error-helper.ts retryForHttpStatus, the browser being online).
 *   - shaka RetryParameters (maxAttempts, baseDelay, backoffFactor, timeout): every failure
 *     is retried except 401/403 (shaka's HttpXHR plugin makes those CRITICAL); the delay
 *     of retry n is baseDelay * backoffFactor^n. kpsim applies no fuzz (fuzzFactor) so that
 *     timelines are deterministic (docs/parity.md).
 * A fetcher owns the requests in flight; kp_fetcher_free() cancels them (no callback fires).
 */
#ifndef KP_FETCH_H
#define KP_FETCH_H

#include "kp/log.h"
#include "kp/net.h"
#include "kp/sched.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct kp_retry_rule {
    int max_retries;   /* retries after the first attempt (>= 0) */
    kp_time delay;     /* before the first retry */
    double factor;     /* each later delay is the previous one times this (1: constant) */
    kp_time max_delay; /* cap of a delay; 0: none */
} kp_retry_rule;

typedef enum kp_retry_filter {
    KP_RETRY_HLSJS, /* timeouts; HTTP status < 400 or > 499; never an answer without status */
    KP_RETRY_SHAKA  /* everything but HTTP 401 and 403 */
} kp_retry_filter;

typedef struct kp_retry_policy {
    kp_time timeout;          /* per attempt (kp_http_request.timeout); 0: none */
    kp_retry_rule on_error;   /* a failed answer */
    kp_retry_rule on_timeout; /* an attempt that timed out */
    kp_retry_filter filter;
} kp_retry_policy;

/* The delay before retry n (0-based) under rule r. */
kp_time kp_retry_delay(const kp_retry_rule *r, int n);
/* Whether the answer r is a success (transport OK, HTTP 2xx). */
bool kp_fetch_ok(const kp_http_response *r);

/* ---- the real player's defaults ----
 * hls.js 1.6 (config.ts) with playkit-js-hls's hlsConfig (src/default-config.json:
 * fragLoadingMaxRetry 4), then overridden by `hls` (the player config's
 * playback.options.html5.hls, i.e. an hlsConfig: the legacy <kind>Loading{TimeOut,MaxRetry,
 * RetryDelay,MaxRetryTimeout} keys and <kind>LoadPolicy.default objects, as hls.js merges
 * them). kind: "manifest", "playlist" (level and audio playlists), "fragment", "key". */
void kp_retry_hlsjs(kp_retry_policy *p, const char *kind, const json_t *hls);
/* shaka's defaults (maxAttempts 2, baseDelay 1000, backoffFactor 2, timeout 30000),
 * overridden by `params` (a shaka RetryParameters object: the player config's
 * playback.options.html5.dash.{manifest,streaming,drm}.retryParameters). */
void kp_retry_shaka(kp_retry_policy *p, const json_t *params);

typedef struct kp_fetcher kp_fetcher;

kp_fetcher *kp_fetcher_new(kp_net *net, kp_sched *sched, kp_log *log);
/* Cancels every request in flight (no callback fires). NULL is fine. */
void kp_fetcher_free(kp_fetcher *f);

/* Sends req (copied: url, headers and body may go after the call) under policy (copied;
 * its timeout replaces req->timeout). Returns an id (never 0), or 0 when the request could
 * not be made at all (cb never fires). cb gets the final answer (owned by the net, valid
 * during the call). */
uint64_t kp_fetcher_fetch(kp_fetcher *f, const kp_http_request *req, const kp_retry_policy *policy,
                          kp_http_fn cb, void *ud);
/* Drops a request in flight, and any retry it waits for. true when it was in flight. */
bool kp_fetcher_cancel(kp_fetcher *f, uint64_t id);
/* How many attempts the request made so far (1 on its first try); 0 when unknown. */
int kp_fetcher_attempts(const kp_fetcher *f, uint64_t id);

/* Totals: attempts made, retries among them. */
typedef struct kp_fetch_stats {
    unsigned long long attempts;
    unsigned long long retries;
} kp_fetch_stats;
void kp_fetcher_stats(const kp_fetcher *f, kp_fetch_stats *out);

#endif
