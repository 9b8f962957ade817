/* eme.c: key system choice, the license exchange and fragment decryption (eme.h). */
#include "eme.h"
#include "fetch.h"

#include "cdm.h"
#include "kp/buf.h"
#include "kp/codec.h"
#include "kp/drmmsg.h"
#include "kp/err.h"
#include "kp/jsonu.h"
#include "kp/perror.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MOD "eme"

typedef struct waiter {
    void (*ready)(void *ud);
    void *ud;
} waiter;

struct kp_eme {
    kp_eme_host host;
    json_t *drm_data;
    unsigned supported;
    int preferred; /* kp_drm_system or -1 */
    int system;    /* chosen, or -1 */
    const char *license_url;
    kp_cdm *cdm;
    kp_cenc_ctx *cenc;
    uint64_t req;
    kp_fetcher *fetch;
    kp_retry_policy retry;
    kp_time req_started;
    kp_task_id expiry;
    bool licensed, failed;
    waiter *waiters;
    size_t n_waiters, cap_waiters;
};

static long long now_ms(const kp_eme *e)
{
    return kp_sched_now(e->host.sched) / 1000;
}

/* Reports a CRITICAL DRM (or media) error once; everything stops. */
static void fail(kp_eme *e, int category, int code, json_t *data)
{
    if (e->failed) {
        json_decref(data);
        return;
    }
    e->failed = true;
    if (e->req)
        kp_fetcher_cancel(e->fetch, e->req);
    e->req = 0;
    if (e->expiry)
        kp_sched_cancel(e->host.sched, e->expiry);
    e->expiry = 0;
    e->n_waiters = 0;
    KP_LOG_I(e->host.log, MOD, "DRM error %d: %s", code, kp_json_str(data, "reason", ""));
    e->host.fail(e->host.ud, kp_perror_new(KP_SEVERITY_CRITICAL, category, code, data));
}

static void fail_drm(kp_eme *e, int code, const char *reason)
{
    fail(e, KP_PCAT_DRM, code, json_pack("{s:s}", "reason", reason));
}

kp_eme *kp_eme_new(const kp_eme_host *host, const json_t *drm_data, unsigned supported,
                   const char *preferred)
{
    kp_eme *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->host = *host;
    e->drm_data = json_is_array(drm_data) ? json_deep_copy(drm_data) : json_array();
    e->cenc = kp_cenc_ctx_new();
    kp_retry_shaka(&e->retry, host->retry_parameters);
    e->host.retry_parameters = NULL;
    e->fetch = kp_fetcher_new(host->net, host->sched, host->log);
    if (!e->drm_data || !e->cenc || !e->fetch) {
        kp_eme_free(e);
        return NULL;
    }
    e->supported = supported;
    e->preferred = preferred && *preferred ? kp_drm_system_parse(preferred) : -1;
    e->system = -1;
    return e;
}

void kp_eme_free(kp_eme *e)
{
    if (!e)
        return;
    if (e->req)
        kp_fetcher_cancel(e->fetch, e->req);
    if (e->expiry)
        kp_sched_cancel(e->host.sched, e->expiry);
    kp_fetcher_free(e->fetch);
    kp_cdm_free(e->cdm);
    kp_cenc_ctx_free(e->cenc);
    json_decref(e->drm_data);
    free(e->waiters);
    free(e);
}

int kp_eme_system(const kp_eme *e)
{
    return e ? e->system : -1;
}

/* The drmData item of a key system, or NULL. */
static const json_t *server_of(const kp_eme *e, int sys)
{
    size_t i;
    const json_t *it;
    json_array_foreach(e->drm_data, i, it)
    {
        if (kp_drm_system_parse(kp_json_str(it, "scheme", "")) == sys &&
            *kp_json_str(it, "licenseUrl", ""))
            return it;
    }
    return NULL;
}

static json_t *names_json(const int *systems, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(kp_drm_key_system(systems[i])));
    return a;
}

/* shaka's choice: the content's systems in order (drm.keySystem first when offered), the
 * first with a server that the platform supports. */
static int choose(kp_eme *e, const kp_drm_system *offered, size_t n_offered)
{
    int cand[KP_DRM_SYSTEM_COUNT];
    size_t n = 0;
    if (n_offered) {
        for (size_t i = 0; i < n_offered && n < KP_DRM_SYSTEM_COUNT; i++) {
            bool dup = false;
            for (size_t k = 0; k < n; k++)
                dup = dup || cand[k] == (int)offered[i];
            if (!dup && (unsigned)offered[i] < KP_DRM_SYSTEM_COUNT)
                cand[n++] = (int)offered[i];
        }
    } else {
        size_t i;
        const json_t *it;
        json_array_foreach(e->drm_data, i, it)
        {
            int s = kp_drm_system_parse(kp_json_str(it, "scheme", ""));
            bool dup = s < 0;
            for (size_t k = 0; !dup && k < n; k++)
                dup = cand[k] == s;
            if (!dup && n < KP_DRM_SYSTEM_COUNT)
                cand[n++] = s;
        }
    }
    for (size_t i = 1; e->preferred >= 0 && i < n; i++) {
        if (cand[i] == e->preferred) {
            memmove(cand + 1, cand, i * sizeof(cand[0]));
            cand[0] = e->preferred;
        }
    }
    bool any_server = false;
    for (size_t i = 0; i < n; i++) {
        if (!server_of(e, cand[i]))
            continue;
        any_server = true;
        if (e->supported & (1u << cand[i]))
            return cand[i];
    }
    if (!any_server) {
        fail(e, KP_PCAT_DRM, KP_PCODE_NO_LICENSE_SERVER_GIVEN,
             json_pack("{s:s, s:o}", "reason",
                       "the content is protected and the source has no license server for any "
                       "of its key systems",
                       "keySystems", names_json(cand, n)));
    } else {
        fail(e, KP_PCAT_DRM, KP_PCODE_REQUESTED_KEY_SYSTEM_CONFIG_UNAVAILABLE,
             json_pack("{s:s, s:o}", "reason",
                       "the platform supports none of the content's key systems", "keySystems",
                       names_json(cand, n)));
    }
    return -1;
}

static void on_expiry(void *ud)
{
    kp_eme *e = ud;
    e->expiry = 0;
    char msg[160];
    snprintf(msg, sizeof(msg), "the license expired at %lld ms", now_ms(e));
    fail_drm(e, KP_PCODE_EXPIRED, msg);
}

static void arm_expiry(kp_eme *e)
{
    if (e->expiry)
        kp_sched_cancel(e->host.sched, e->expiry);
    e->expiry = 0;
    long long at = kp_cdm_next_expiry(e->cdm, now_ms(e));
    if (at >= 0)
        e->expiry = kp_sched_at(e->host.sched, KP_MS(at), on_expiry, e);
}

static void on_license(void *ud, const kp_http_response *r)
{
    kp_eme *e = ud;
    e->req = 0;
    if (r->error || r->status < 200 || r->status > 299) {
        json_t *data = json_pack("{s:s, s:s}", "url", e->license_url, "reason",
                                 r->error == KP_ETIMEDOUT ? "the license request timed out"
                                 : r->error ? (r->error_text ? r->error_text : "no answer")
                                            : "the license server refused the request");
        if (!r->error)
            json_object_set_new(data, "responseCode", json_integer(r->status));
        fail(e, KP_PCAT_DRM, KP_PCODE_LICENSE_REQUEST_FAILED, data);
        return;
    }
    char err[256];
    int n = kp_cdm_update(e->cdm, r->body.data, r->body.len, now_ms(e), err, sizeof(err));
    if (n < 0) {
        /* playkit's legacy FairPlay handler reports a CKC it cannot use as 6015 */
        fail_drm(e,
                 e->system == KP_DRM_FAIRPLAY ? KP_PCODE_BAD_FAIRPLAY_RESPONSE
                                              : KP_PCODE_LICENSE_RESPONSE_REJECTED,
                 err);
        return;
    }
    e->licensed = true;
    double seconds = (double)(r->finished - e->req_started) / 1e6;
    e->host.emit(
        e->host.ud, KP_EV_DRM_LICENSE_LOADED,
        json_pack("{s:f, s:s}", "licenseTime", seconds, "scheme", kp_drm_key_system(e->system)));
    if (e->failed)
        return;
    arm_expiry(e);
    /* the waiters may register again from their callbacks: take the list first */
    waiter *list = e->waiters;
    size_t count = e->n_waiters;
    e->waiters = NULL;
    e->n_waiters = e->cap_waiters = 0;
    for (size_t i = 0; i < count && !e->failed; i++)
        list[i].ready(list[i].ud);
    free(list);
}

/* A ClearKey request from a bare default KID (no pssh in the content). */
static int keyids_request(kp_eme *e, const uint8_t kid[16], kp_cdm_request *rq, char *err,
                          size_t errlen)
{
    char *b = kp_b64url_encode(kid, 16);
    if (!b)
        return KP_ENOMEM;
    char json[96];
    snprintf(json, sizeof(json), "{\"kids\":[\"%s\"],\"type\":\"temporary\"}", b);
    free(b);
    return kp_cdm_generate_request(e->cdm, "keyids", json, strlen(json), rq, err, errlen);
}

int kp_eme_choose(kp_eme *e, const kp_drm_system *offered, size_t n_offered)
{
    if (e->failed)
        return KP_ESTATE;
    if (e->system < 0)
        e->system = choose(e, offered, n_offered);
    return e->system >= 0 ? KP_OK : KP_ENOTSUP;
}

int kp_eme_encrypted(kp_eme *e, const kp_drm_system *offered, size_t n_offered,
                     const char *init_type, const uint8_t *init_data, size_t init_len,
                     const uint8_t *default_kid)
{
    int rc = kp_eme_choose(e, offered, n_offered);
    if (rc != KP_OK || e->cdm)
        return rc;
    int sys = e->system;
    const json_t *server = server_of(e, sys);
    e->license_url = kp_json_str(server, "licenseUrl", "");
    e->cdm = kp_cdm_new((kp_drm_system)sys);
    if (!e->cdm) {
        fail_drm(e, KP_PCODE_FAILED_TO_CREATE_CDM, "the CDM could not be created");
        return KP_ENOMEM;
    }
    char err[256];
    const char *cert = kp_json_str(server, "certificate", NULL);
    if (sys == KP_DRM_FAIRPLAY) {
        unsigned char der[4096];
        int n = cert ? kp_base64_decode(cert, der, sizeof(der)) : KP_EPARSE;
        rc = n >= 0 ? kp_cdm_set_certificate(e->cdm, der, (size_t)n, err, sizeof(err)) : KP_EPARSE;
        if (rc != KP_OK) {
            fail_drm(e, KP_PCODE_COULD_NOT_CREATE_KEY_SESSION,
                     n < 0 ? "the FairPlay certificate of drmData is missing or not base64" : err);
            return KP_EPARSE;
        }
    }
    kp_cdm_request rq = {0};
    rc = init_data && init_len ? kp_cdm_generate_request(e->cdm, init_type, init_data, init_len,
                                                         &rq, err, sizeof(err))
                               : KP_ENOENT;
    if (rc == KP_ENOENT && sys == KP_DRM_CLEARKEY && default_kid)
        rc = keyids_request(e, default_kid, &rq, err, sizeof(err));
    else if (rc == KP_ENOENT && !(init_data && init_len))
        snprintf(err, sizeof(err), "the content gives no init data for %s", kp_drm_key_system(sys));
    if (rc != KP_OK) {
        kp_cdm_request_free(&rq);
        fail_drm(e, KP_PCODE_FAILED_TO_GENERATE_LICENSE_REQUEST, err);
        return rc;
    }
    char ct[128], sa[256];
    snprintf(ct, sizeof(ct), "Content-Type: %s", rq.content_type);
    const char *headers[3] = {ct, NULL, NULL};
    if (rq.soap_action) {
        snprintf(sa, sizeof(sa), "SOAPAction: %s", rq.soap_action);
        headers[1] = sa;
    }
    kp_http_request req = {.method = "POST",
                           .url = e->license_url,
                           .headers = headers,
                           .body = rq.body.data,
                           .body_len = rq.body.len};
    KP_LOG_D(e->host.log, MOD, "%s license request (%zu bytes) to %s",
             kp_drm_system_name((kp_drm_system)sys), rq.body.len, e->license_url);
    e->req_started = kp_sched_now(e->host.sched);
    kp_retry_policy once = e->retry;
    once.on_error.max_retries = once.on_timeout.max_retries = 0;
    e->req = kp_fetcher_fetch(e->fetch, &req, e->system == KP_DRM_FAIRPLAY ? &once : &e->retry,
                              on_license, e);
    kp_cdm_request_free(&rq);
    if (!e->req) {
        fail(e, KP_PCAT_DRM, KP_PCODE_LICENSE_REQUEST_FAILED,
             json_pack("{s:s, s:s}", "url", e->license_url, "reason",
                       "the license request could not be sent"));
        return KP_EHTTP;
    }
    return KP_OK;
}

static int add_waiter(kp_eme *e, void (*ready)(void *), void *ud)
{
    for (size_t i = 0; i < e->n_waiters; i++) {
        if (e->waiters[i].ud == ud) {
            e->waiters[i].ready = ready;
            return KP_OK;
        }
    }
    if (e->n_waiters == e->cap_waiters) {
        size_t cap = e->cap_waiters ? 2 * e->cap_waiters : 4;
        waiter *w = realloc(e->waiters, cap * sizeof(*w));
        if (!w)
            return KP_ENOMEM;
        e->waiters = w;
        e->cap_waiters = cap;
    }
    e->waiters[e->n_waiters++] = (waiter){ready, ud};
    return KP_OK;
}

void kp_eme_forget(kp_eme *e, void *ud)
{
    for (size_t i = 0; e && i < e->n_waiters; i++) {
        if (e->waiters[i].ud == ud) {
            memmove(e->waiters + i, e->waiters + i + 1,
                    (e->n_waiters - i - 1) * sizeof(e->waiters[0]));
            e->n_waiters--;
            return;
        }
    }
}

int kp_eme_decrypt(kp_eme *e, const kp_cenc_init *init, uint8_t *buf, size_t len,
                   void (*ready)(void *ud), void *ud)
{
    const kp_cenc_track *t = NULL;
    for (size_t i = 0; i < init->n_tracks && !t; i++)
        if (init->tracks[i].encrypted && init->tracks[i].is_protected)
            t = &init->tracks[i];
    if (!t)
        return KP_OK;
    if (e->failed)
        return KP_ESTATE;
    if (!e->licensed) {
        int rc = add_waiter(e, ready, ud);
        return rc == KP_OK ? KP_EBUSY : rc;
    }
    char err[256];
    uint8_t key[16];
    kp_cdm_key_status st =
        kp_cdm_key(e->cdm, t->default_kid, now_ms(e), key, NULL, err, sizeof(err));
    if (st == KP_CDM_KEY_EXPIRED) {
        fail_drm(e, KP_PCODE_EXPIRED, err);
        return KP_ESTATE;
    }
    if (st != KP_CDM_KEY_USABLE) {
        fail_drm(e, KP_PCODE_LICENSE_RESPONSE_REJECTED, err);
        return KP_ENOENT;
    }
    int rc = kp_cenc_decrypt_fragment(e->cenc, init, key, buf, len, NULL, err, sizeof(err));
    memset(key, 0, sizeof(key));
    if (rc != KP_OK) {
        fail(e, KP_PCAT_MEDIA, KP_PCODE_VIDEO_ERROR, json_pack("{s:s}", "reason", err));
        return rc;
    }
    return KP_OK;
}
