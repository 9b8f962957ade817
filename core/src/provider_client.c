/* provider_client.c: the synchronous provider client (kp/provider.h, "the synchronous
 * client"): the requests of the pure OVP/OTT provider functions sent for real with libcurl,
 * blocking, and their outcomes parsed. Used by `kpsim provider` and the conformance tests;
 * the player itself goes through kp_net and the virtual clock instead. Results are owned by
 * the caller.
 *
 * What the real provider does that this reproduces: RequestBuilder's transport retries
 * (onerror/ontimeout retried at once, up to networkRetryParameters.maxAttempts, the attempt
 * number reported in 1002/1003), XHR's header list for error data, the OVP user.get that sets
 * session.isAnonymous, the eCDN ping before a REQUEST_HOST_REGEX rewrite, the empty-playlist
 * retry loop (every 10 s, 10 times, settable so tests can use 0), OTT single-request mode.
 *
 * Where it differs, and why
 * -------------------------
 * 1. user.get is asked (once, before the multirequest) whenever getMediaConfig has a KS,
 *    from the options or from mediaInfo, and the multirequest is parsed after its answer.
 *    The real provider fires it from its constructor for an options KS only and races it
 *    with the multirequest (isAnonymous may still be undefined); the recorded corpus shows
 *    user.get for mediaInfo KSs too, answered before the media. A user.get that fails
 *    (transport, status, not JSON) leaves isAnonymous as kp_provider_opts derives it.
 *    Playlists and entry lists ask no user.get: their output has no session.
 * 2. Redirects are followed (as XHR does) and the outcome's URL is the request URL.
 * 3. A connection that closes without an answer is a transport error (1002), as XHR's
 *    onerror. Response headers of a failed attempt are not kept (a real XHR has none).
 */
#include "kp/provider.h"

#include "kp/buf.h"
#include "kp/err.h"
#include "kp/log.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG_MOD "provider"

void kp_provider_client_init(kp_provider_client *c)
{
    memset(c, 0, sizeof(*c));
    c->max_attempts = 4;
    c->playlist_retry_interval_ms = KP_OVP_PLAYLIST_RETRY_INTERVAL_MS;
    c->user_get = true;
}

/* ---- one HTTP exchange ---------------------------------------------------------------------- */

typedef struct http_resp {
    int transport_error;
    char transport_text[CURL_ERROR_SIZE];
    int status;
    kp_buf body;
    char **headers;
    size_t n_headers;
    long long elapsed_ms;
    int attempt;
    const char *url; /* borrowed: the request URL */
} http_resp;

static void resp_clear_headers(http_resp *r)
{
    for (size_t i = 0; i < r->n_headers; i++)
        free(r->headers[i]);
    free(r->headers);
    r->headers = NULL;
    r->n_headers = 0;
}

static void resp_free(http_resp *r)
{
    resp_clear_headers(r);
    kp_buf_free(&r->body);
    memset(r, 0, sizeof(*r));
}

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    http_resp *r = ud;
    return kp_buf_append(&r->body, data, size * n) < 0 ? 0 : size * n;
}

/* Keeps "Name: value" lines of the last response (a new status line starts over). */
static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
    http_resp *r = ud;
    size_t len = size * n;
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        resp_clear_headers(r);
        return len;
    }
    size_t end = len;
    while (end > 0 && (data[end - 1] == '\r' || data[end - 1] == '\n'))
        end--;
    if (end == 0 || !memchr(data, ':', end))
        return len;
    char **grown = realloc(r->headers, (r->n_headers + 1) * sizeof(*grown));
    if (!grown)
        return 0;
    r->headers = grown;
    r->headers[r->n_headers] = kp_strndup(data, end);
    if (!r->headers[r->n_headers])
        return 0;
    r->n_headers++;
    return len;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long long ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* One attempt: POST body (JSON) or GET when body is NULL. Returns 0 (the outcome, possibly a
 * transport error, is in *r) or KP_ENOMEM. */
static int http_once(const kp_provider_client *c, const char *url, const char *body,
                     long long timeout_ms, http_resp *r)
{
    CURL *h = curl_easy_init();
    if (!h)
        return KP_ENOMEM;
    struct curl_slist *hdrs = NULL;
    if (body) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        struct curl_slist *more = hdrs ? curl_slist_append(hdrs, "Expect:") : NULL;
        if (!more) {
            curl_slist_free_all(hdrs);
            curl_easy_cleanup(h);
            return KP_ENOMEM;
        }
        hdrs = more;
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, r->transport_text);
    if (timeout_ms > 0)
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    r->transport_text[0] = '\0';
    long long t0 = now_ms();
    CURLcode cc = curl_easy_perform(h);
    r->elapsed_ms = now_ms() - t0;
    if (cc == CURLE_OK) {
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        r->status = (int)status;
        r->transport_error = 0;
    } else {
        r->status = 0;
        r->transport_error = cc == CURLE_OPERATION_TIMEDOUT ? KP_ETIMEDOUT : KP_EHTTP;
        if (!r->transport_text[0])
            snprintf(r->transport_text, sizeof(r->transport_text), "%s", curl_easy_strerror(cc));
        KP_LOG_D(c->log, LOG_MOD, "%s: %s", url, r->transport_text);
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return cc == CURLE_OUT_OF_MEMORY ? KP_ENOMEM : 0;
}

/* An exchange with RequestBuilder's retries: transport errors are tried again at once, up to
 * max_attempts. Returns 0 or KP_ENOMEM. */
static int http_exchange(const kp_provider_client *c, const char *url, const json_t *body,
                         long long timeout_ms, http_resp *r)
{
    memset(r, 0, sizeof(*r));
    kp_buf_init(&r->body);
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (body && !text)
        return KP_ENOMEM;
    int max = c->max_attempts > 0 ? c->max_attempts : 1;
    int rc = 0;
    for (int attempt = 1; attempt <= max; attempt++) {
        resp_clear_headers(r);
        kp_buf_reset(&r->body);
        r->attempt = attempt;
        KP_LOG_D(c->log, LOG_MOD, "%s %s (attempt %d)", body ? "POST" : "GET", url, attempt);
        rc = http_once(c, url, text, timeout_ms, r);
        if (rc < 0 || !r->transport_error)
            break;
    }
    if (rc >= 0 && r->transport_error) {
        /* XHR keeps no response headers (nor a body) after onerror/ontimeout */
        resp_clear_headers(r);
        kp_buf_reset(&r->body);
    }
    r->url = url;
    free(text);
    if (rc < 0)
        resp_free(r);
    return rc;
}

static kp_http_outcome outcome_of(const http_resp *r)
{
    kp_http_outcome h = {
        .transport_error = r->transport_error,
        .transport_text = r->transport_error ? r->transport_text : NULL,
        .status = r->status,
        .body = r->body.data ? r->body.data : "",
        .body_len = r->body.len,
        .url = r->url,
        .headers = (const char *const *)r->headers,
        .n_headers = r->n_headers,
        .attempt = r->attempt,
        .elapsed_ms = r->elapsed_ms,
    };
    return h;
}

/* A request a builder made (url and body owned), once sent: the answer and the outcome that
 * views it. Zero-initialised, it can be freed whether or not it was built and sent. */
typedef struct exchange {
    char *url;
    json_t *body;
    http_resp r;
    kp_http_outcome h;
} exchange;

/* Sends x->url/x->body with c's timeout and retries; x->h is then the outcome. Returns 0 or
 * KP_ENOMEM. */
static int exchange_send(const kp_provider_client *c, exchange *x)
{
    int rc = http_exchange(c, x->url, x->body, c->timeout_ms, &x->r);
    if (rc >= 0)
        x->h = outcome_of(&x->r);
    return rc;
}

static void exchange_free(exchange *x)
{
    resp_free(&x->r);
    free(x->url);
    json_decref(x->body);
    memset(x, 0, sizeof(*x));
}

/* A request builder's answer: 0 to go on, 1 when it already produced the provider error
 * (KP_EINVAL/KP_ENOTSUP with *error set), or a negative KP_E* code. */
static int request_rc(int rc, const json_t *error)
{
    if (rc >= 0)
        return 0;
    if ((rc == KP_EINVAL || rc == KP_ENOTSUP) && error)
        return 1;
    return rc;
}

static int finish(int rc, json_t **result, json_t **error)
{
    if (rc < 0) {
        json_decref(*result);
        json_decref(*error);
        *result = NULL;
        *error = NULL;
    }
    return rc < 0 ? rc : 0;
}

/* ---- OVP ------------------------------------------------------------------------------------ */

/* user.get: the 0/1 it says, or -1 when it gave no usable answer. */
static int user_get(const kp_provider_client *c, const kp_provider_opts *o, const char *ks)
{
    exchange x = {0};
    int anon = -1;
    if (kp_ovp_user_get_request(o, ks, &x.url, &x.body) >= 0 && exchange_send(c, &x) >= 0)
        anon = kp_ovp_user_get_parse(&x.h);
    exchange_free(&x);
    return anon;
}

/* The eCDN ping and rewrite of a media config (reference §2.8). */
static int ecdn(const kp_provider_client *c, const kp_provider_opts *o, const kp_media_info *mi,
                const kp_http_outcome *h, json_t *config)
{
    char *ping = NULL;
    long long timeout = 0;
    int rc = kp_ovp_ecdn_ping(o, mi, h, &ping, &timeout);
    if (rc != 1)
        return rc < 0 ? rc : 0;
    http_resp r;
    rc = http_exchange(c, ping, NULL, timeout, &r);
    if (rc >= 0) {
        if (!r.transport_error && r.status == 200)
            rc = kp_ovp_ecdn_apply(o, mi, h, config);
        resp_free(&r);
    }
    free(ping);
    return rc < 0 ? rc : 0;
}

int kp_ovp_fetch_media(const kp_provider_client *c, const kp_provider_opts *o,
                       const kp_media_info *mi, json_t **config, json_t **error)
{
    if (!c || !o || !mi || !config || !error)
        return KP_EINVAL;
    *config = NULL;
    *error = NULL;
    exchange x = {0};
    int rc = kp_ovp_media_request(o, mi, &x.url, &x.body, error);
    rc = request_rc(rc, *error);
    if (rc != 0)
        return finish(rc, config, error);
    kp_provider_opts eff = *o;
    const char *ks = mi->ks && *mi->ks ? mi->ks : o->ks;
    if (c->user_get && o->is_anonymous < 0 && ks && *ks) {
        int anon = user_get(c, o, ks);
        if (anon >= 0)
            eff.is_anonymous = anon;
    }
    rc = exchange_send(c, &x);
    if (rc >= 0)
        rc = kp_ovp_media_parse(&eff, mi, &x.h, config, error);
    if (rc >= 0 && *config)
        rc = ecdn(c, &eff, mi, &x.h, *config);
    exchange_free(&x);
    return finish(rc, config, error);
}

int kp_ovp_fetch_playlist(const kp_provider_client *c, const kp_provider_opts *o,
                          const kp_playlist_info *pi, json_t **playlist, json_t **error)
{
    if (!c || !o || !pi || !playlist || !error)
        return KP_EINVAL;
    *playlist = NULL;
    *error = NULL;
    int rc = 0;
    for (int retry = 0; rc >= 0 && retry <= KP_OVP_PLAYLIST_MAX_RETRIES; retry++) {
        if (retry > 0) {
            KP_LOG_I(c->log, LOG_MOD, "playlist %s is empty: retry %d of %d", pi->playlist_id,
                     retry, KP_OVP_PLAYLIST_MAX_RETRIES);
            sleep_ms(c->playlist_retry_interval_ms);
        }
        exchange x = {0};
        rc = kp_ovp_playlist_request(o, pi, retry, &x.url, &x.body, error);
        rc = request_rc(rc, *error);
        if (rc != 0)
            break;
        rc = exchange_send(c, &x);
        if (rc >= 0)
            rc = kp_ovp_playlist_parse(o, pi, retry, &x.h, playlist, error);
        exchange_free(&x);
        if (rc != KP_PROVIDER_RETRY)
            break;
        rc = 0;
    }
    return finish(rc, playlist, error);
}

typedef int (*list_request_fn)(const kp_provider_opts *, const kp_entry_list_info *, char **,
                               json_t **, json_t **);
typedef int (*list_parse_fn)(const kp_provider_opts *, const kp_entry_list_info *,
                             const kp_http_outcome *, json_t **, json_t **);

static int fetch_list(const kp_provider_client *c, const kp_provider_opts *o,
                      const kp_entry_list_info *el, list_request_fn req, list_parse_fn parse,
                      json_t **playlist, json_t **error)
{
    if (!c || !o || !el || !playlist || !error)
        return KP_EINVAL;
    *playlist = NULL;
    *error = NULL;
    exchange x = {0};
    int rc = req(o, el, &x.url, &x.body, error);
    rc = request_rc(rc, *error);
    if (rc != 0)
        return finish(rc, playlist, error);
    rc = exchange_send(c, &x);
    if (rc >= 0)
        rc = parse(o, el, &x.h, playlist, error);
    exchange_free(&x);
    return finish(rc, playlist, error);
}

int kp_ovp_fetch_entry_list(const kp_provider_client *c, const kp_provider_opts *o,
                            const kp_entry_list_info *el, json_t **playlist, json_t **error)
{
    return fetch_list(c, o, el, kp_ovp_entry_list_request, kp_ovp_entry_list_parse, playlist,
                      error);
}

/* ---- OTT ------------------------------------------------------------------------------------ */

static int ott_single(const kp_provider_client *c, const kp_provider_opts *o,
                      const kp_ott_media_info *mi, json_t **config, json_t **error)
{
    exchange x[3] = {{0}};
    kp_http_outcome h[3];
    size_t n = 0;
    int rc = 0;
    while (n < 3) {
        rc = kp_ott_single_next(o, mi, h, n, &x[n].url, &x[n].body, error);
        if (rc != 1) {
            rc = request_rc(rc, *error);
            break;
        }
        rc = exchange_send(c, &x[n]);
        if (rc < 0)
            break;
        h[n] = x[n].h;
        n++;
    }
    if (rc == 0 && !*error)
        rc = kp_ott_single_parse(o, mi, h, n, config, error);
    for (size_t i = 0; i < 3; i++)
        exchange_free(&x[i]);
    return rc == 1 ? 0 : rc;
}

int kp_ott_fetch_media(const kp_provider_client *c, const kp_provider_opts *o,
                       const kp_ott_media_info *mi, json_t **config, json_t **error)
{
    if (!c || !o || !mi || !config || !error)
        return KP_EINVAL;
    *config = NULL;
    *error = NULL;
    if (o->ott_disable_multirequest)
        return finish(ott_single(c, o, mi, config, error), config, error);
    exchange x = {0};
    int rc = kp_ott_media_request(o, mi, &x.url, &x.body, error);
    rc = request_rc(rc, *error);
    if (rc != 0)
        return finish(rc, config, error);
    rc = exchange_send(c, &x);
    if (rc >= 0)
        rc = kp_ott_media_parse(o, mi, &x.h, config, error);
    exchange_free(&x);
    return finish(rc, config, error);
}

int kp_ott_fetch_playlist(const kp_provider_client *c, const kp_provider_opts *o,
                          const kp_playlist_info *pi, json_t **playlist, json_t **error)
{
    if (!c || !o || !pi || !playlist || !error)
        return KP_EINVAL;
    *playlist = NULL;
    char *url;
    json_t *body;
    int rc = kp_ott_playlist_request(o, pi, &url, &body, error);
    rc = request_rc(rc, *error);
    return finish(rc == 1 ? 0 : rc, playlist, error);
}

int kp_ott_fetch_entry_list(const kp_provider_client *c, const kp_provider_opts *o,
                            const kp_entry_list_info *el, json_t **playlist, json_t **error)
{
    return fetch_list(c, o, el, kp_ott_entry_list_request, kp_ott_entry_list_parse, playlist,
                      error);
}
