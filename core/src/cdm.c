/* cdm.c: the simulated CDM (cdm.h). */
#include "cdm.h"

#include "kp/drmmsg.h"
#include "kp/err.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cdm_key {
    uint8_t kid[16], key[16];
    long long expires_ms; /* -1: never */
} cdm_key;

struct kp_cdm {
    kp_drm_system system;
    bool has_cert;
    uint8_t cert_hash[20];
    /* the pending request */
    bool pending;
    uint8_t nonce[16];
    char asset_id[KP_DRMMSG_MAX_ASSET];
    unsigned long long requests;
    cdm_key *keys;
    size_t n_keys, cap;
};

static int say(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int say(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static void hex16(const uint8_t *b, char out[33])
{
    static const char d[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = d[b[i] >> 4];
        out[2 * i + 1] = d[b[i] & 15];
    }
    out[32] = '\0';
}

kp_cdm *kp_cdm_new(kp_drm_system system)
{
    if ((unsigned)system >= KP_DRM_SYSTEM_COUNT)
        return NULL;
    kp_cdm *c = calloc(1, sizeof(*c));
    if (c)
        c->system = system;
    return c;
}

void kp_cdm_free(kp_cdm *c)
{
    if (!c)
        return;
    if (c->keys)
        OPENSSL_cleanse(c->keys, c->cap * sizeof(*c->keys));
    free(c->keys);
    free(c);
}

kp_drm_system kp_cdm_system(const kp_cdm *c)
{
    return c->system;
}

int kp_cdm_set_certificate(kp_cdm *c, const void *cert, size_t len, char *err, size_t errlen)
{
    if (c->system != KP_DRM_FAIRPLAY)
        return say(err, errlen, KP_ENOTSUP, "%s takes no application certificate here",
                   kp_drm_system_name(c->system));
    if (!cert || len != 64 || memcmp(cert, "KPSIMFPSCERT", 12) != 0)
        return say(err, errlen, KP_EPARSE,
                   "FairPlay certificate: %zu bytes, not kpsim's 64-byte \"KPSIMFPSCERT\" one",
                   cert ? len : 0);
    kp_drm_fps_certificate_hash(cert, len, c->cert_hash);
    c->has_cert = true;
    return KP_OK;
}

/* The n-th request's nonce: SHA-256("kpsim-cdm:" system ":" n ":" init data), first 16 bytes. */
static void derive_nonce(kp_cdm *c, const void *data, size_t len)
{
    char label[64];
    snprintf(label, sizeof(label), "kpsim-cdm:%s:%llu:", kp_drm_system_name(c->system),
             ++c->requests);
    uint8_t md[32];
    unsigned n = 0;
    EVP_MD_CTX *x = EVP_MD_CTX_new();
    if (x && EVP_DigestInit_ex(x, EVP_sha256(), NULL) &&
        EVP_DigestUpdate(x, label, strlen(label)) && (!len || EVP_DigestUpdate(x, data, len)) &&
        EVP_DigestFinal_ex(x, md, &n))
        memcpy(c->nonce, md, 16);
    else
        memset(c->nonce, 0, 16);
    EVP_MD_CTX_free(x);
}

int kp_cdm_generate_request(kp_cdm *c, const char *init_type, const void *data, size_t len,
                            kp_cdm_request *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    kp_buf_init(&out->body);
    if (err && errlen)
        err[0] = '\0';
    if (!init_type || !data || !len)
        return say(err, errlen, KP_EPARSE, "no init data");
    kp_drmmsg_request rq;
    memset(&rq, 0, sizeof(rq));
    rq.system = c->system;
    if (c->system == KP_DRM_FAIRPLAY) {
        if (strcmp(init_type, "skd") != 0)
            return say(err, errlen, KP_ENOTSUP,
                       "FairPlay takes \"skd\" init data (the key URI), not \"%s\"", init_type);
        if (!c->has_cert)
            return say(err, errlen, KP_ESTATE,
                       "FairPlay needs the application certificate before a request");
        char uri[512];
        if (len >= sizeof(uri) || memchr(data, '\0', len))
            return say(err, errlen, KP_EPARSE, "skd init data: not a URI of under %zu bytes",
                       sizeof(uri));
        memcpy(uri, data, len);
        uri[len] = '\0';
        int rc = kp_drm_skd_asset(uri, rq.asset_id, sizeof(rq.asset_id), err, errlen);
        if (rc != KP_OK)
            return rc;
        memcpy(rq.cert_hash, c->cert_hash, 20);
    } else {
        if (strcmp(init_type, "cenc") != 0 && strcmp(init_type, "keyids") != 0)
            return say(err, errlen, KP_ENOTSUP,
                       "%s takes \"cenc\" or \"keyids\" init data, not \"%s\"",
                       kp_drm_system_name(c->system), init_type);
        int n = kp_drm_initdata_kids(c->system, init_type, data, len, rq.kids, KP_DRMMSG_MAX_KIDS,
                                     err, errlen);
        if (n < 0)
            return n;
        rq.n_kids = (size_t)n;
    }
    derive_nonce(c, data, len);
    memcpy(rq.nonce, c->nonce, 16);
    int rc = kp_drmmsg_build_request(&rq, &out->body);
    if (rc != KP_OK) {
        kp_buf_free(&out->body);
        return say(err, errlen, rc, "the license request could not be built: %s", kp_strerror(rc));
    }
    out->content_type = kp_drmmsg_request_type(c->system);
    out->soap_action = c->system == KP_DRM_PLAYREADY
                           ? "http://schemas.microsoft.com/DRM/2007/03/protocols/AcquireLicense"
                           : NULL;
    out->n_kids = rq.n_kids;
    memcpy(c->asset_id, rq.asset_id, sizeof(c->asset_id));
    c->pending = true;
    return KP_OK;
}

void kp_cdm_request_free(kp_cdm_request *r)
{
    if (r)
        kp_buf_free(&r->body);
}

static cdm_key *find(const kp_cdm *c, const uint8_t kid[16])
{
    for (size_t i = 0; i < c->n_keys; i++)
        if (memcmp(c->keys[i].kid, kid, 16) == 0)
            return &c->keys[i];
    return NULL;
}

int kp_cdm_update(kp_cdm *c, const void *body, size_t len, long long now_ms, char *err,
                  size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!c->pending)
        return say(err, errlen, KP_ESTATE, "no license request is pending");
    kp_drmmsg_license lic;
    int rc = kp_drmmsg_parse_license(c->system, body, len, &lic, err, errlen);
    if (rc != KP_OK)
        return rc;
    if (c->system == KP_DRM_WIDEVINE && memcmp(lic.nonce, c->nonce, 16) != 0)
        rc = say(err, errlen, KP_EPARSE,
                 "Widevine license: it answers another request (request_id differs)");
    else if (c->system == KP_DRM_FAIRPLAY && memcmp(lic.nonce, c->nonce, 16) != 0)
        rc = say(err, errlen, KP_EPARSE, "FairPlay CKC: it answers another SPC (IV differs)");
    else if (c->system == KP_DRM_FAIRPLAY && strcmp(lic.asset_id, c->asset_id) != 0)
        rc = say(err, errlen, KP_EPARSE, "FairPlay CKC: for asset %s, the SPC asked for %s",
                 lic.asset_id, c->asset_id);
    if (rc != KP_OK) {
        OPENSSL_cleanse(&lic, sizeof(lic));
        return rc;
    }
    long long expires = lic.duration_s > 0 ? now_ms + lic.duration_s * 1000 : -1;
    for (size_t i = 0; i < lic.n_keys && rc == KP_OK; i++) {
        cdm_key *k = find(c, lic.keys[i].kid);
        if (!k) {
            if (c->n_keys == c->cap) {
                size_t cap = c->cap ? 2 * c->cap : 8;
                cdm_key *grown = calloc(cap, sizeof(*grown));
                if (!grown) {
                    rc = KP_ENOMEM;
                    break;
                }
                if (c->keys) {
                    memcpy(grown, c->keys, c->n_keys * sizeof(*grown));
                    OPENSSL_cleanse(c->keys, c->cap * sizeof(*c->keys));
                    free(c->keys);
                }
                c->keys = grown;
                c->cap = cap;
            }
            k = &c->keys[c->n_keys++];
            memcpy(k->kid, lic.keys[i].kid, 16);
        }
        memcpy(k->key, lic.keys[i].key, 16);
        k->expires_ms = expires;
    }
    size_t n = lic.n_keys;
    OPENSSL_cleanse(&lic, sizeof(lic));
    if (rc != KP_OK)
        return say(err, errlen, rc, "out of memory");
    c->pending = false;
    return (int)n;
}

kp_cdm_key_status kp_cdm_key(const kp_cdm *c, const uint8_t kid[16], long long now_ms,
                             uint8_t key[16], long long *expires_ms, char *err, size_t errlen)
{
    const cdm_key *k = find(c, kid);
    char h[33];
    hex16(kid, h);
    if (!k) {
        say(err, errlen, 0, "KID %s: no license gave this key", h);
        return KP_CDM_KEY_UNKNOWN;
    }
    if (expires_ms)
        *expires_ms = k->expires_ms;
    if (k->expires_ms >= 0 && now_ms >= k->expires_ms) {
        say(err, errlen, 0, "KID %s: its license expired at %lld ms (now %lld ms)", h,
            k->expires_ms, now_ms);
        return KP_CDM_KEY_EXPIRED;
    }
    if (key)
        memcpy(key, k->key, 16);
    if (err && errlen)
        err[0] = '\0';
    return KP_CDM_KEY_USABLE;
}

size_t kp_cdm_key_count(const kp_cdm *c)
{
    return c->n_keys;
}

long long kp_cdm_next_expiry(const kp_cdm *c, long long now_ms)
{
    long long best = -1;
    for (size_t i = 0; i < c->n_keys; i++) {
        long long e = c->keys[i].expires_ms;
        if (e > now_ms && (best < 0 || e < best))
            best = e;
    }
    return best;
}

const char *kp_cdm_key_status_name(kp_cdm_key_status s)
{
    switch (s) {
    case KP_CDM_KEY_USABLE:
        return "usable";
    case KP_CDM_KEY_EXPIRED:
        return "expired";
    default:
        return "unknown";
    }
}
