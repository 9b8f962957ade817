/* net.h: the player's network client: real HTTP through libcurl, virtual duration.
 *
 * Bytes really move (libcurl to the in-process mock servers on 127.0.0.1), but the moment
 * the answer reaches the player is computed from the network profile, never measured:
 * a transfer started at virtual time t completes at
 *     max(t + latency, link_free) + bytes * 8 / bandwidth
 * where link_free is when the previous transfer on the shared link finished (one link per
 * kp_net, served first come, first served). Each redirect costs one more latency. So the
 * same inputs give the same timeline on any machine under any load.
 *
 * kp_net_fetch performs the transfer at once and schedules the callback on the virtual
 * clock; the response passed to the callback is owned by the net and valid only during it.
 *
 * Streamed answers (a media element reading a file): with `on_data`, the body is also
 * announced as it arrives, every `data_step` bytes, at the virtual moment those bytes are in
 * (start + bytes * 8 / bandwidth); the final callback follows as usual. With `max_body`, the
 * reader stops after that many body bytes (the connection is dropped, as a browser that has
 * buffered enough does): the answer is marked truncated and only those bytes take link time.
 * Cancelling a streamed answer frees the link at once when it was the last transfer on it.
 */
#ifndef KP_NET_H
#define KP_NET_H

#include "kp/buf.h"
#include "kp/log.h"
#include "kp/sched.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kp_net_profile {
    long long bandwidth_bps; /* > 0 */
    kp_time latency;         /* >= 0, per request (and per redirect) */
} kp_net_profile;

struct kp_http_response;

typedef struct kp_http_request {
    const char *method; /* "GET" (default when NULL) or "POST" */
    const char *url;
    const char *const *headers; /* "Name: value" lines, NULL-terminated; may be NULL */
    const void *body;           /* POST body */
    size_t body_len;
    size_t max_body; /* stop reading the body after this many bytes; 0: read it all */
    /* streamed answers: called with the number of body bytes arrived so far (resp->body may
     * already hold more: only the first `received` bytes are in); NULL: no streaming */
    void (*on_data)(void *ud, const struct kp_http_response *resp, size_t received);
    size_t data_step; /* bytes between on_data calls (0: 64 KiB) */
    /* virtual: when the whole answer would arrive later than `timeout` after the request
     * started, the request fails with KP_ETIMEDOUT at that moment instead (the XHR/fetch
     * timeouts of hls.js, shaka and the providers); 0: no timeout */
    kp_time timeout;
} kp_http_request;

typedef struct kp_http_response {
    int error;        /* KP_OK, or a negative KP_E* code: no HTTP answer arrived */
    char *error_text; /* libcurl's message when error != 0 */
    int status;       /* HTTP status of the final answer; 0 when error != 0 */
    kp_buf body;
    char **headers; /* "name: value" of the final answer, names lower-cased, in order */
    size_t n_headers;
    char *url;           /* the requested URL */
    char *effective_url; /* after redirects */
    int redirects;
    kp_time started;    /* virtual */
    kp_time first_byte; /* virtual: when the body starts to arrive */
    kp_time finished;   /* virtual */
    bool truncated;     /* the reader stopped at max_body */
} kp_http_response;

typedef void (*kp_http_fn)(void *ud, const kp_http_response *resp);

typedef struct kp_net kp_net;

kp_net *kp_net_new(kp_sched *sched, const kp_net_profile *profile, kp_log *log);
/* Cancels pending callbacks. */
void kp_net_free(kp_net *net);
void kp_net_set_profile(kp_net *net, const kp_net_profile *profile);
const kp_net_profile *kp_net_profile_get(const kp_net *net);

/* Returns a request id (never 0), or 0 if the request could not be made at all (then cb
 * is never called). Transport failures are reported through cb with resp->error set. */
uint64_t kp_net_fetch(kp_net *net, const kp_http_request *req, kp_http_fn cb, void *ud);
/* Drops a pending callback. true when it was still pending. */
bool kp_net_cancel(kp_net *net, uint64_t id);

/* The value of the first header `name` (case-insensitive), or NULL. Borrowed. */
const char *kp_http_header(const kp_http_response *resp, const char *name);

/* Totals for benchmarks and reports. */
typedef struct kp_net_stats {
    unsigned long long requests;
    unsigned long long bytes;
} kp_net_stats;
void kp_net_stats_get(const kp_net *net, kp_net_stats *out);

#endif
