/* drmmsg.c: license messages of every key system and UDRM custom_data (kp/drmmsg.h). The
 * byte layouts are described in mock-drm/README.md. */
#include "kp/drmmsg.h"

#include "kp/cenc.h"

#include "kp/codec.h"
#include "kp/err.h"

#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return KP_EPARSE;
}

static void put_be32(kp_buf *b, uint32_t v, int *rc)
{
    unsigned char x[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    if (*rc == KP_OK)
        *rc = kp_buf_append(b, x, 4);
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* PlayReady writes a KID as a little-endian GUID: the first 4, 2 and 2 bytes reversed. */
static void guid_swap(const uint8_t in[16], uint8_t out[16])
{
    static const int order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
    for (int i = 0; i < 16; i++)
        out[i] = in[order[i]];
}

static void sha1_of(const void *a, size_t alen, const void *b, size_t blen, uint8_t out[20])
{
    unsigned n = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!(c && EVP_DigestInit_ex(c, EVP_sha1(), NULL) && EVP_DigestUpdate(c, a, alen) &&
          (!blen || EVP_DigestUpdate(c, b, blen)) && EVP_DigestFinal_ex(c, out, &n) && n == 20))
        memset(out, 0, 20); /* only when OpenSSL cannot allocate */
    EVP_MD_CTX_free(c);
}

/* A 16-byte ID from base64url text, or an error naming `what`. */
static int b64url_16(const json_t *v, uint8_t out[16], const char *what, char *err, size_t errlen)
{
    if (!json_is_string(v))
        return fail(err, errlen, "%s: not a string", what);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (memchr(s, '=', n))
        return fail(err, errlen, "%s: \"%s\" is padded ('='); base64url here has no padding", what,
                    s);
    uint8_t tmp[17];
    int got = kp_b64url_decode(s, n, tmp, sizeof(tmp));
    if (got == KP_EPARSE)
        return fail(err, errlen, "%s: \"%s\" is not base64url", what, s);
    if (got == KP_ERANGE)
        return fail(err, errlen, "%s: \"%s\" decodes to more than 16 bytes", what, s);
    if (got != 16)
        return fail(err, errlen, "%s: \"%s\" decodes to %d bytes, not 16", what, s, got);
    memcpy(out, tmp, 16);
    return KP_OK;
}

/* ---- ClearKey (W3C EME) ---- */

static int ck_kids(kp_buf *b, const uint8_t (*kids)[16], size_t n)
{
    int rc = kp_buf_puts(b, "{\"kids\":[");
    for (size_t i = 0; rc == KP_OK && i < n; i++) {
        char *k = kp_b64url_encode(kids[i], 16);
        rc = k ? kp_buf_printf(b, "%s\"%s\"", i ? "," : "", k) : KP_ENOMEM;
        free(k);
    }
    return rc == KP_OK ? kp_buf_puts(b, "]") : rc;
}

static int ck_build_request(const kp_drmmsg_request *rq, kp_buf *out)
{
    int rc = ck_kids(out, (const uint8_t(*)[16])rq->kids, rq->n_kids);
    if (rc == KP_OK)
        rc = kp_buf_printf(out, ",\"type\":\"%s\"}",
                           rq->persistent ? "persistent-license" : "temporary");
    return rc;
}

static json_t *load_json(const void *body, size_t len, const char *what, char *err, size_t errlen)
{
    json_error_t je;
    json_t *v = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!v)
        fail(err, errlen, "%s: not JSON: %s at line %d, column %d", what, je.text, je.line,
             je.column);
    else if (!json_is_object(v)) {
        fail(err, errlen, "%s: not a JSON object", what);
        json_decref(v);
        v = NULL;
    }
    return v;
}

/* "temporary" (0), "persistent-license" (1), or an error; absent: temporary. */
static int ck_type(const json_t *obj, const char *what, int *persistent, char *err, size_t errlen)
{
    const json_t *t = json_object_get(obj, "type");
    *persistent = 0;
    if (!t)
        return KP_OK;
    if (!json_is_string(t))
        return fail(err, errlen, "%s: \"type\" is not a string", what);
    if (strcmp(json_string_value(t), "persistent-license") == 0)
        *persistent = 1;
    else if (strcmp(json_string_value(t), "temporary") != 0)
        return fail(err, errlen,
                    "%s: \"type\" is \"%s\", not \"temporary\" or \"persistent-license\"", what,
                    json_string_value(t));
    return KP_OK;
}

static int ck_parse_request(const void *body, size_t len, kp_drmmsg_request *out, char *err,
                            size_t errlen)
{
    json_t *o = load_json(body, len, "ClearKey request", err, errlen);
    if (!o)
        return KP_EPARSE;
    int rc = KP_OK;
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        if (strcmp(k, "kids") != 0 && strcmp(k, "type") != 0) {
            rc = fail(err, errlen, "ClearKey request: unexpected member \"%s\"", k);
            break;
        }
    }
    const json_t *kids = json_object_get(o, "kids");
    if (rc == KP_OK && !json_is_array(kids))
        rc = fail(err, errlen, "ClearKey request: \"kids\" is %s",
                  kids ? "not an array" : "missing");
    if (rc == KP_OK && json_array_size(kids) == 0)
        rc = fail(err, errlen, "ClearKey request: \"kids\" is empty");
    if (rc == KP_OK && json_array_size(kids) > KP_DRMMSG_MAX_KIDS)
        rc = fail(err, errlen, "ClearKey request: %zu kids, at most %d", json_array_size(kids),
                  KP_DRMMSG_MAX_KIDS);
    for (size_t i = 0; rc == KP_OK && i < json_array_size(kids); i++) {
        char what[48];
        snprintf(what, sizeof(what), "ClearKey request: kids[%zu]", i);
        rc = b64url_16(json_array_get(kids, i), out->kids[i], what, err, errlen);
        out->n_kids = i + 1;
    }
    if (rc == KP_OK)
        rc = ck_type(o, "ClearKey request", &out->persistent, err, errlen);
    json_decref(o);
    return rc;
}

static int ck_build_license(const kp_drmmsg_license *lic, kp_buf *out)
{
    int rc = kp_buf_puts(out, "{\"keys\":[");
    for (size_t i = 0; rc == KP_OK && i < lic->n_keys; i++) {
        char *k = kp_b64url_encode(lic->keys[i].key, 16);
        char *kid = kp_b64url_encode(lic->keys[i].kid, 16);
        rc = k && kid ? kp_buf_printf(out, "%s{\"kty\":\"oct\",\"k\":\"%s\",\"kid\":\"%s\"}",
                                      i ? "," : "", k, kid)
                      : KP_ENOMEM;
        free(k);
        free(kid);
    }
    if (rc == KP_OK)
        rc = kp_buf_printf(out, "],\"type\":\"%s\"",
                           lic->persistent ? "persistent-license" : "temporary");
    if (rc == KP_OK && lic->duration_s > 0)
        rc = kp_buf_printf(out, ",\"kpsim:duration\":%lld", lic->duration_s);
    return rc == KP_OK ? kp_buf_putc(out, '}') : rc;
}

static int ck_parse_license(const void *body, size_t len, kp_drmmsg_license *out, char *err,
                            size_t errlen)
{
    json_t *o = load_json(body, len, "ClearKey license", err, errlen);
    if (!o)
        return KP_EPARSE;
    int rc = KP_OK;
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        if (strcmp(k, "keys") != 0 && strcmp(k, "type") != 0 && strcmp(k, "kpsim:duration") != 0) {
            rc = fail(err, errlen, "ClearKey license: unexpected member \"%s\"", k);
            break;
        }
    }
    const json_t *keys = json_object_get(o, "keys");
    if (rc == KP_OK && !json_is_array(keys))
        rc = fail(err, errlen, "ClearKey license: \"keys\" is %s",
                  keys ? "not an array" : "missing");
    if (rc == KP_OK && json_array_size(keys) == 0)
        rc = fail(err, errlen, "ClearKey license: \"keys\" is empty");
    if (rc == KP_OK && json_array_size(keys) > KP_DRMMSG_MAX_KIDS)
        rc = fail(err, errlen, "ClearKey license: %zu keys, at most %d", json_array_size(keys),
                  KP_DRMMSG_MAX_KIDS);
    for (size_t i = 0; rc == KP_OK && i < json_array_size(keys); i++) {
        const json_t *jwk = json_array_get(keys, i);
        char what[64];
        if (!json_is_object(jwk)) {
            rc = fail(err, errlen, "ClearKey license: keys[%zu] is not an object", i);
            break;
        }
        json_object_foreach((json_t *)jwk, k, v)
        {
            if (strcmp(k, "kty") != 0 && strcmp(k, "k") != 0 && strcmp(k, "kid") != 0 &&
                strcmp(k, "alg") != 0) {
                rc = fail(err, errlen, "ClearKey license: keys[%zu]: unexpected member \"%s\"", i,
                          k);
                break;
            }
        }
        const char *kty = json_string_value(json_object_get(jwk, "kty"));
        if (rc == KP_OK && (!kty || strcmp(kty, "oct") != 0))
            rc = fail(err, errlen, "ClearKey license: keys[%zu]: \"kty\" is %s%s%s, not \"oct\"", i,
                      kty ? "\"" : "", kty ? kty : "missing", kty ? "\"" : "");
        snprintf(what, sizeof(what), "ClearKey license: keys[%zu].kid", i);
        if (rc == KP_OK)
            rc = b64url_16(json_object_get(jwk, "kid"), out->keys[i].kid, what, err, errlen);
        snprintf(what, sizeof(what), "ClearKey license: keys[%zu].k", i);
        if (rc == KP_OK)
            rc = b64url_16(json_object_get(jwk, "k"), out->keys[i].key, what, err, errlen);
        out->n_keys = i + 1;
    }
    if (rc == KP_OK)
        rc = ck_type(o, "ClearKey license", &out->persistent, err, errlen);
    const json_t *d = json_object_get(o, "kpsim:duration");
    if (rc == KP_OK && d) {
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            rc = fail(err, errlen,
                      "ClearKey license: \"kpsim:duration\" is not a non-negative integer");
        else
            out->duration_s = json_integer_value(d);
    }
    json_decref(o);
    return rc;
}

/* ---- protobuf (the few wire types the Widevine shapes use) ---- */

static int pb_varint(kp_buf *b, uint64_t v)
{
    uint8_t x[10];
    size_t n = 0;
    do {
        x[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return kp_buf_append(b, x, n);
}

static int pb_uint(kp_buf *b, unsigned field, uint64_t v)
{
    int rc = pb_varint(b, (uint64_t)field << 3);
    return rc == KP_OK ? pb_varint(b, v) : rc;
}

static int pb_bytes(kp_buf *b, unsigned field, const void *data, size_t len)
{
    int rc = pb_varint(b, (uint64_t)field << 3 | 2);
    if (rc == KP_OK)
        rc = pb_varint(b, len);
    return rc == KP_OK && len ? kp_buf_append(b, data, len) : rc;
}

typedef struct pb_field {
    unsigned num, wire;
    uint64_t value;      /* varint, fixed */
    const uint8_t *data; /* length-delimited */
    size_t len;
} pb_field;

/* The next field of [*p, end), or 0 at the end, or KP_EPARSE with err naming `what`. */
static int pb_next(const uint8_t **p, const uint8_t *end, pb_field *f, const char *what, char *err,
                   size_t errlen)
{
    if (*p >= end)
        return 0;
    uint64_t key = 0, v = 0;
    const uint8_t *q = *p;
    for (int shift = 0, done = 0; !done; shift += 7) {
        if (q >= end || shift > 63)
            return fail(err, errlen, "%s: truncated field key", what);
        key |= (uint64_t)(*q & 0x7f) << shift;
        done = !(*q++ & 0x80);
    }
    f->num = (unsigned)(key >> 3);
    f->wire = (unsigned)(key & 7);
    if (f->num == 0 || key >> 32)
        return fail(err, errlen, "%s: invalid field number %llu", what,
                    (unsigned long long)(key >> 3));
    switch (f->wire) {
    case 0:
    case 2:
        for (int shift = 0, done = 0; !done; shift += 7) {
            if (q >= end || shift > 63)
                return fail(err, errlen, "%s: field %u: truncated varint", what, f->num);
            v |= (uint64_t)(*q & 0x7f) << shift;
            done = !(*q++ & 0x80);
        }
        if (f->wire == 0) {
            f->value = v;
            break;
        }
        if (v > (uint64_t)(end - q))
            return fail(err, errlen, "%s: field %u: length %llu runs past the end (%td left)", what,
                        f->num, (unsigned long long)v, end - q);
        f->data = q;
        f->len = (size_t)v;
        q += v;
        break;
    case 1:
    case 5: {
        size_t n = f->wire == 1 ? 8 : 4;
        if ((size_t)(end - q) < n)
            return fail(err, errlen, "%s: field %u: truncated fixed%zu", what, f->num, n * 8);
        f->value = 0;
        for (size_t i = 0; i < n; i++)
            f->value |= (uint64_t)q[i] << (8 * i);
        q += n;
        break;
    }
    default:
        return fail(err, errlen, "%s: field %u has wire type %u (groups are not allowed)", what,
                    f->num, f->wire);
    }
    *p = q;
    return 1;
}

static int pb_want(const pb_field *f, unsigned wire, const char *what, const char *name, char *err,
                   size_t errlen)
{
    if (f->wire != wire)
        return fail(err, errlen, "%s: %s (field %u) has wire type %u, not %u", what, name, f->num,
                    f->wire, wire);
    return KP_OK;
}

/* ---- Widevine (shape only) ---- */

enum { WV_LICENSE_REQUEST = 1, WV_LICENSE = 2, WV_ERROR = 3, WV_CERT_REQUEST = 4, WV_CERT = 5 };

/* WidevinePsshData{key_ids (2), protection_scheme (9) 'cenc' or 'cbcs'} */
static int wv_pssh_data(kp_buf *b, const uint8_t (*kids)[16], size_t n, bool cbcs)
{
    int rc = KP_OK;
    for (size_t i = 0; rc == KP_OK && i < n; i++)
        rc = pb_bytes(b, 2, kids[i], 16);
    return rc == KP_OK ? pb_uint(b, 9, cbcs ? KP_CENC_SCHEME_CBCS : KP_CENC_SCHEME_CENC) : rc;
}

static int wv_build_request(const kp_drmmsg_request *rq, kp_buf *out)
{
    if (rq->kind == KP_DRMMSG_CERTIFICATE)
        return pb_uint(out, 1, WV_CERT_REQUEST);
    kp_buf pssh, wpd, cid, req;
    kp_buf_init(&pssh);
    kp_buf_init(&wpd);
    kp_buf_init(&cid);
    kp_buf_init(&req);
    int rc = wv_pssh_data(&pssh, (const uint8_t(*)[16])rq->kids, rq->n_kids, false);
    /* ContentIdentification.WidevinePsshData{pssh_data (1), license_type STREAMING (2),
     * request_id (3)} */
    if (rc == KP_OK)
        rc = pb_bytes(&wpd, 1, pssh.data, pssh.len);
    if (rc == KP_OK)
        rc = pb_uint(&wpd, 2, 1);
    if (rc == KP_OK)
        rc = pb_bytes(&wpd, 3, rq->nonce, 16);
    if (rc == KP_OK)
        rc = pb_bytes(&cid, 1, wpd.data, wpd.len);
    /* LicenseRequest{content_id (2), type NEW (3), protocol_version 2.1 (6)} */
    if (rc == KP_OK)
        rc = pb_bytes(&req, 2, cid.data, cid.len);
    if (rc == KP_OK)
        rc = pb_uint(&req, 3, 1);
    if (rc == KP_OK)
        rc = pb_uint(&req, 6, 21);
    /* SignedMessage{type LICENSE_REQUEST (1), msg (2)} */
    if (rc == KP_OK)
        rc = pb_uint(out, 1, WV_LICENSE_REQUEST);
    if (rc == KP_OK)
        rc = pb_bytes(out, 2, req.data, req.len);
    kp_buf_free(&pssh);
    kp_buf_free(&wpd);
    kp_buf_free(&cid);
    kp_buf_free(&req);
    return rc;
}

/* The key_ids of a WidevinePsshData, appended to kids[*n]. */
static int wv_pssh_kids(const uint8_t *p, size_t len, uint8_t (*kids)[16], size_t cap, size_t *n,
                        const char *what, char *err, size_t errlen)
{
    const uint8_t *end = p + len;
    pb_field f;
    int r;
    while ((r = pb_next(&p, end, &f, what, err, errlen)) > 0) {
        if (f.num != 2)
            continue;
        if (pb_want(&f, 2, what, "key_id", err, errlen) != KP_OK)
            return KP_EPARSE;
        if (f.len != 16)
            return fail(err, errlen, "%s: key_id %zu is %zu bytes, not 16", what, *n, f.len);
        if (*n >= cap)
            return fail(err, errlen, "%s: more than %zu key_ids", what, cap);
        memcpy(kids[(*n)++], f.data, 16);
    }
    return r < 0 ? r : KP_OK;
}

/* The one message (field 2) of a SignedMessage of the given type; KP_ENOENT-free errors. */
static int wv_signed(const void *body, size_t len, uint64_t *type, const uint8_t **msg,
                     size_t *msg_len, const char *what, char *err, size_t errlen)
{
    const uint8_t *p = body, *end = p + len;
    pb_field f;
    int r, have_type = 0;
    *msg = NULL;
    *msg_len = 0;
    if (len == 0)
        return fail(err, errlen, "%s: empty body", what);
    while ((r = pb_next(&p, end, &f, what, err, errlen)) > 0) {
        if (f.num == 1) {
            if (pb_want(&f, 0, what, "type", err, errlen) != KP_OK)
                return KP_EPARSE;
            *type = f.value;
            have_type = 1;
        } else if (f.num == 2) {
            if (pb_want(&f, 2, what, "msg", err, errlen) != KP_OK)
                return KP_EPARSE;
            *msg = f.data;
            *msg_len = f.len;
        }
    }
    if (r < 0)
        return r;
    if (!have_type)
        return fail(err, errlen, "%s: SignedMessage without a type (field 1)", what);
    return KP_OK;
}

static int wv_parse_request(const void *body, size_t len, kp_drmmsg_request *out, char *err,
                            size_t errlen)
{
    static const char what[] = "Widevine request";
    uint64_t type = 0;
    const uint8_t *msg;
    size_t mlen;
    int rc = wv_signed(body, len, &type, &msg, &mlen, what, err, errlen);
    if (rc != KP_OK)
        return rc;
    if (type == WV_CERT_REQUEST) {
        out->kind = KP_DRMMSG_CERTIFICATE;
        return KP_OK;
    }
    if (type != WV_LICENSE_REQUEST)
        return fail(err, errlen,
                    "%s: SignedMessage type %llu is not a request (1 LICENSE_REQUEST or 4 "
                    "SERVICE_CERTIFICATE_REQUEST)",
                    what, (unsigned long long)type);
    if (!msg)
        return fail(err, errlen, "%s: LICENSE_REQUEST without a msg (field 2)", what);
    /* LicenseRequest.content_id (2) */
    const uint8_t *p = msg, *end = msg + mlen, *cid = NULL;
    size_t cid_len = 0;
    pb_field f;
    int r;
    while ((r = pb_next(&p, end, &f, what, err, errlen)) > 0)
        if (f.num == 2) {
            if (pb_want(&f, 2, what, "content_id", err, errlen) != KP_OK)
                return KP_EPARSE;
            cid = f.data;
            cid_len = f.len;
        }
    if (r < 0)
        return r;
    if (!cid)
        return fail(err, errlen, "%s: LicenseRequest without content_id (field 2)", what);
    /* ContentIdentification: widevine_pssh_data (1) only */
    const uint8_t *wpd = NULL;
    size_t wpd_len = 0;
    p = cid;
    end = cid + cid_len;
    while ((r = pb_next(&p, end, &f, what, err, errlen)) > 0) {
        if (f.num == 1) {
            if (pb_want(&f, 2, what, "widevine_pssh_data", err, errlen) != KP_OK)
                return KP_EPARSE;
            wpd = f.data;
            wpd_len = f.len;
        } else {
            return fail(err, errlen,
                        "%s: content_id field %u: only widevine_pssh_data (1) is supported", what,
                        f.num);
        }
    }
    if (r < 0)
        return r;
    if (!wpd)
        return fail(err, errlen, "%s: content_id without widevine_pssh_data (field 1)", what);
    p = wpd;
    end = wpd + wpd_len;
    while ((r = pb_next(&p, end, &f, what, err, errlen)) > 0) {
        if (f.num == 1) {
            if (pb_want(&f, 2, what, "pssh_data", err, errlen) != KP_OK)
                return KP_EPARSE;
            rc = wv_pssh_kids(f.data, f.len, out->kids, KP_DRMMSG_MAX_KIDS, &out->n_kids, what, err,
                              errlen);
            if (rc != KP_OK)
                return rc;
        } else if (f.num == 3) {
            if (pb_want(&f, 2, what, "request_id", err, errlen) != KP_OK)
                return KP_EPARSE;
            if (f.len > 16)
                return fail(err, errlen, "%s: request_id is %zu bytes, at most 16", what, f.len);
            memcpy(out->nonce, f.data, f.len);
        }
    }
    if (r < 0)
        return r;
    if (out->n_kids == 0)
        return fail(err, errlen, "%s: no key_id in the pssh_data", what);
    out->kind = KP_DRMMSG_LICENSE;
    return KP_OK;
}

static int wv_build_license(const kp_drmmsg_license *lic, kp_buf *out)
{
    kp_buf id, pol, body;
    kp_buf_init(&id);
    kp_buf_init(&pol);
    kp_buf_init(&body);
    /* License{id (1) {request_id (1), type STREAMING (4)}, policy (2) {can_play (1),
     * license_duration_seconds (6)}, key (3) {id (1), key (3), type CONTENT (4)}...,
     * license_start_time (4)} */
    int rc = pb_bytes(&id, 1, lic->nonce, 16);
    if (rc == KP_OK)
        rc = pb_uint(&id, 4, 1);
    if (rc == KP_OK)
        rc = pb_uint(&pol, 1, 1);
    if (rc == KP_OK && lic->duration_s > 0)
        rc = pb_uint(&pol, 6, (uint64_t)lic->duration_s);
    if (rc == KP_OK)
        rc = pb_bytes(&body, 1, id.data, id.len);
    if (rc == KP_OK)
        rc = pb_bytes(&body, 2, pol.data, pol.len);
    for (size_t i = 0; rc == KP_OK && i < lic->n_keys; i++) {
        kp_buf kc;
        kp_buf_init(&kc);
        rc = pb_bytes(&kc, 1, lic->keys[i].kid, 16);
        if (rc == KP_OK)
            rc = pb_bytes(&kc, 3, lic->keys[i].key, 16);
        if (rc == KP_OK)
            rc = pb_uint(&kc, 4, 2);
        if (rc == KP_OK)
            rc = pb_bytes(&body, 3, kc.data, kc.len);
        kp_buf_free(&kc);
    }
    if (rc == KP_OK && lic->start_s > 0)
        rc = pb_uint(&body, 4, (uint64_t)lic->start_s);
    if (rc == KP_OK)
        rc = pb_uint(out, 1, WV_LICENSE);
    if (rc == KP_OK)
        rc = pb_bytes(out, 2, body.data, body.len);
    kp_buf_free(&id);
    kp_buf_free(&pol);
    kp_buf_free(&body);
    return rc;
}

int kp_drmmsg_build_wv_certificate(const void *cert, size_t len, kp_buf *out)
{
    int rc = pb_uint(out, 1, WV_CERT);
    return rc == KP_OK ? pb_bytes(out, 2, cert, len) : rc;
}

static int wv_parse_license(const void *body, size_t len, kp_drmmsg_license *out, char *err,
                            size_t errlen)
{
    static const char what[] = "Widevine license";
    uint64_t type = 0;
    const uint8_t *msg;
    size_t mlen;
    int rc = wv_signed(body, len, &type, &msg, &mlen, what, err, errlen);
    if (rc != KP_OK)
        return rc;
    if (type == WV_ERROR)
        return fail(err, errlen, "%s: the server answered ERROR_RESPONSE (type 3)", what);
    if (type != WV_LICENSE)
        return fail(err, errlen, "%s: SignedMessage type %llu is not LICENSE (2)", what,
                    (unsigned long long)type);
    if (!msg)
        return fail(err, errlen, "%s: LICENSE without a msg (field 2)", what);
    const uint8_t *p = msg, *end = msg + mlen;
    pb_field f;
    int r;
    while ((r = pb_next(&p, end, &f, what, err, errlen)) > 0) {
        pb_field g;
        const uint8_t *q, *qend;
        int r2;
        if (f.num == 1 || f.num == 2 || f.num == 3) {
            if (pb_want(&f, 2, what,
                        f.num == 1   ? "id"
                        : f.num == 2 ? "policy"
                                     : "key",
                        err, errlen) != KP_OK)
                return KP_EPARSE;
            q = f.data;
            qend = f.data + f.len;
        } else if (f.num == 4) {
            if (pb_want(&f, 0, what, "license_start_time", err, errlen) != KP_OK)
                return KP_EPARSE;
            out->start_s = (long long)f.value;
            continue;
        } else {
            continue;
        }
        const uint8_t *kid = NULL, *key = NULL;
        uint64_t ktype = 0;
        while ((r2 = pb_next(&q, qend, &g, what, err, errlen)) > 0) {
            if (f.num == 1 && g.num == 1 && g.wire == 2 && g.len <= 16)
                memcpy(out->nonce, g.data, g.len);
            else if (f.num == 2 && g.num == 6) {
                if (pb_want(&g, 0, what, "license_duration_seconds", err, errlen) != KP_OK)
                    return KP_EPARSE;
                if (g.value > (uint64_t)INT32_MAX * 1000)
                    return fail(err, errlen, "%s: license_duration_seconds %llu is out of range",
                                what, (unsigned long long)g.value);
                out->duration_s = (long long)g.value;
            } else if (f.num == 3 && (g.num == 1 || g.num == 3)) {
                if (pb_want(&g, 2, what, g.num == 1 ? "key.id" : "key.key", err, errlen) != KP_OK)
                    return KP_EPARSE;
                if (g.len != 16)
                    return fail(err, errlen, "%s: key %zu: %s is %zu bytes, not 16", what,
                                out->n_keys, g.num == 1 ? "id" : "key", g.len);
                if (g.num == 1)
                    kid = g.data;
                else
                    key = g.data;
            } else if (f.num == 3 && g.num == 4) {
                if (pb_want(&g, 0, what, "key.type", err, errlen) != KP_OK)
                    return KP_EPARSE;
                ktype = g.value;
            }
        }
        if (r2 < 0)
            return r2;
        if (f.num == 3 && ktype == 2) { /* CONTENT keys; SIGNING and others are skipped */
            if (!kid || !key)
                return fail(err, errlen, "%s: content key %zu without %s", what, out->n_keys,
                            kid ? "key" : "id");
            if (out->n_keys >= KP_DRMMSG_MAX_KIDS)
                return fail(err, errlen, "%s: more than %d content keys", what, KP_DRMMSG_MAX_KIDS);
            memcpy(out->keys[out->n_keys].kid, kid, 16);
            memcpy(out->keys[out->n_keys].key, key, 16);
            out->n_keys++;
        }
    }
    if (r < 0)
        return r;
    if (out->n_keys == 0)
        return fail(err, errlen, "%s: no content key (KeyContainer of type CONTENT)", what);
    return KP_OK;
}

/* ---- PlayReady (shape only) ---- */

#define NS_SOAP  "http://schemas.xmlsoap.org/soap/envelope/"
#define NS_PROTO "http://schemas.microsoft.com/DRM/2007/03/protocols"
#define NS_MSGS  "http://schemas.microsoft.com/DRM/2007/03/protocols/messages"
#define NS_WRM   "http://schemas.microsoft.com/DRM/2007/03/PlayReadyHeader"

/* A WRMHEADER 4.3 for the KIDs (ASCII XML). */
/* A WRMHEADER 4.3 for the KIDs: AESCTR (cenc), or AESCBC for cbcs content. */
static int wrmheader(kp_buf *b, const uint8_t (*kids)[16], size_t n, bool cbcs)
{
    int rc = kp_buf_puts(b, "<WRMHEADER xmlns=\"" NS_WRM "\" version=\"4.3.0.0\"><DATA>"
                            "<PROTECTINFO><KIDS>");
    for (size_t i = 0; rc == KP_OK && i < n; i++) {
        uint8_t g[16];
        guid_swap(kids[i], g);
        char *v = kp_base64_encode(g, 16);
        rc = v ? kp_buf_printf(b, "<KID ALGID=\"%s\" VALUE=\"%s\"></KID>",
                               cbcs ? "AESCBC" : "AESCTR", v)
               : KP_ENOMEM;
        free(v);
    }
    return rc == KP_OK ? kp_buf_puts(b, "</KIDS></PROTECTINFO></DATA></WRMHEADER>") : rc;
}

static bool named(const xmlNode *n, const char *name, const char *ns)
{
    return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0 &&
           (!ns || (n->ns && n->ns->href && strcmp((const char *)n->ns->href, ns) == 0));
}

/* The first child element named `name` (namespace `ns` unless NULL). */
static xmlNode *child(xmlNode *parent, const char *name, const char *ns)
{
    for (xmlNode *n = parent ? parent->children : NULL; n; n = n->next)
        if (named(n, name, ns))
            return n;
    return NULL;
}

static int xml_kid(const char *b64, uint8_t out[16], size_t index, const char *what, char *err,
                   size_t errlen)
{
    uint8_t g[20];
    int n = b64 ? kp_base64_decode(b64, g, sizeof(g)) : KP_EPARSE;
    if (n != 16)
        return fail(err, errlen, "%s: KID %zu \"%s\" is not base64 of 16 bytes", what, index,
                    b64 ? b64 : "");
    guid_swap(g, out);
    return KP_OK;
}

/* The KIDs of a WRMHEADER element: 4.0 (DATA/KID text), 4.1 (DATA/KID@VALUE), 4.2 and 4.3
 * (DATA/PROTECTINFO/KIDS/KID@VALUE). */
static int wrm_kids(xmlNode *wrm, uint8_t (*kids)[16], size_t cap, size_t *n, const char *what,
                    char *err, size_t errlen)
{
    if (!named(wrm, "WRMHEADER", NS_WRM))
        return fail(err, errlen, "%s: no WRMHEADER (namespace " NS_WRM ")", what);
    xmlChar *ver = xmlGetProp(wrm, (const xmlChar *)"version");
    char v[16] = "";
    if (ver)
        snprintf(v, sizeof(v), "%s", (const char *)ver);
    xmlFree(ver);
    xmlNode *data = child(wrm, "DATA", NS_WRM);
    if (!data)
        return fail(err, errlen, "%s: WRMHEADER without DATA", what);
    int rc = KP_OK;
    *n = 0;
    if (strcmp(v, "4.0.0.0") == 0 || strcmp(v, "4.1.0.0") == 0) {
        xmlNode *k = child(data, "KID", NS_WRM);
        if (!k)
            return fail(err, errlen, "%s: WRMHEADER %s without DATA/KID", what, v);
        xmlChar *t = v[2] == '0' ? xmlNodeGetContent(k) : xmlGetProp(k, (const xmlChar *)"VALUE");
        rc = xml_kid((const char *)t, kids[0], 0, what, err, errlen);
        xmlFree(t);
        *n = rc == KP_OK;
        return rc;
    }
    if (strcmp(v, "4.2.0.0") != 0 && strcmp(v, "4.3.0.0") != 0)
        return fail(err, errlen, "%s: WRMHEADER version \"%s\" (4.0, 4.1, 4.2 or 4.3 expected)",
                    what, v);
    xmlNode *list = child(child(data, "PROTECTINFO", NS_WRM), "KIDS", NS_WRM);
    if (!list)
        return fail(err, errlen, "%s: WRMHEADER %s without DATA/PROTECTINFO/KIDS", what, v);
    for (xmlNode *k = list->children; k && rc == KP_OK; k = k->next) {
        if (k->type != XML_ELEMENT_NODE)
            continue;
        if (!named(k, "KID", NS_WRM))
            return fail(err, errlen, "%s: unexpected <%s> in KIDS", what, (const char *)k->name);
        if (*n >= cap)
            return fail(err, errlen, "%s: more than %zu KIDs", what, cap);
        xmlChar *t = xmlGetProp(k, (const xmlChar *)"VALUE");
        rc = xml_kid((const char *)t, kids[*n], *n, what, err, errlen);
        xmlFree(t);
        (*n)++;
    }
    if (rc == KP_OK && *n == 0)
        return fail(err, errlen, "%s: KIDS is empty", what);
    return rc;
}

/* libxml2 initialises itself on first use, which is not safe from two threads at once (the
 * license server parses on a pool of them): done once here, first. */
static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init(void)
{
    xmlInitParser();
}

/* Parses XML without network access, entities or DTDs. */
static xmlDoc *read_xml(const void *body, size_t len, const char *encoding, const char *what,
                        char *err, size_t errlen)
{
    if (len > INT32_MAX) {
        fail(err, errlen, "%s: too large", what);
        return NULL;
    }
    pthread_once(&xml_once, xml_init);
    xmlDoc *doc = xmlReadMemory(body, (int)len, NULL, encoding,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) {
        const xmlError *e = xmlGetLastError();
        fail(err, errlen, "%s: not well-formed XML%s%s", what, e && e->message ? ": " : "",
             e && e->message ? e->message : "");
        if (err && errlen) { /* libxml2's messages end with a newline */
            size_t n = strlen(err);
            if (n && err[n - 1] == '\n')
                err[n - 1] = '\0';
        }
        return NULL;
    }
    if (doc->intSubset || doc->extSubset) {
        fail(err, errlen, "%s: a DOCTYPE is not allowed", what);
        xmlFreeDoc(doc);
        return NULL;
    }
    return doc;
}

static int pr_build_request(const kp_drmmsg_request *rq, kp_buf *out)
{
    char *nonce = kp_base64_encode(rq->nonce, 16);
    int rc = nonce ? KP_OK : KP_ENOMEM;
    if (rc == KP_OK)
        rc = kp_buf_puts(out, "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
                              "<soap:Envelope xmlns:soap=\"" NS_SOAP "\"><soap:Body>"
                              "<AcquireLicense xmlns=\"" NS_PROTO "\"><challenge>"
                              "<Challenge xmlns=\"" NS_MSGS "\">"
                              "<LA xmlns=\"" NS_PROTO "\" Id=\"SignedData\" xml:space=\"preserve\">"
                              "<Version>1</Version><ContentHeader>");
    if (rc == KP_OK)
        rc = wrmheader(out, (const uint8_t(*)[16])rq->kids, rq->n_kids, false);
    if (rc == KP_OK)
        rc = kp_buf_printf(out,
                           "</ContentHeader><CLIENTINFO><CLIENTVERSION>kpsim</CLIENTVERSION>"
                           "</CLIENTINFO><LicenseNonce>%s</LicenseNonce><ClientTime>0</ClientTime>"
                           "<EncryptedData/></LA><Signature/></Challenge></challenge>"
                           "</AcquireLicense></soap:Body></soap:Envelope>",
                           nonce);
    free(nonce);
    return rc;
}

static int pr_parse_request(const void *body, size_t len, kp_drmmsg_request *out, char *err,
                            size_t errlen)
{
    static const char what[] = "PlayReady challenge";
    xmlDoc *doc = read_xml(body, len, NULL, what, err, errlen);
    if (!doc)
        return KP_EPARSE;
    int rc = KP_OK;
    xmlNode *env = xmlDocGetRootElement(doc);
    xmlNode *n = NULL;
    if (!named(env, "Envelope", NS_SOAP))
        rc = fail(err, errlen, "%s: the root is not a SOAP 1.1 Envelope", what);
    else if (!(n = child(env, "Body", NS_SOAP)))
        rc = fail(err, errlen, "%s: no soap:Body in the Envelope", what);
    else if (!(n = child(n, "AcquireLicense", NS_PROTO)))
        rc = fail(err, errlen, "%s: no AcquireLicense (namespace " NS_PROTO ") in the Body", what);
    else if (!(n = child(n, "challenge", NULL)) || !(n = child(n, "Challenge", NS_MSGS)))
        rc = fail(err, errlen, "%s: no challenge/Challenge in AcquireLicense", what);
    else if (!(n = child(n, "LA", NULL)))
        rc = fail(err, errlen, "%s: no LA in the Challenge", what);
    xmlNode *la = n;
    if (rc == KP_OK && !(n = child(la, "ContentHeader", NULL)))
        rc = fail(err, errlen, "%s: no ContentHeader in LA", what);
    if (rc == KP_OK)
        rc = wrm_kids(child(n, "WRMHEADER", NULL), out->kids, KP_DRMMSG_MAX_KIDS, &out->n_kids,
                      what, err, errlen);
    xmlNode *nonce = rc == KP_OK ? child(la, "LicenseNonce", NULL) : NULL;
    if (nonce) {
        xmlChar *t = xmlNodeGetContent(nonce);
        uint8_t tmp[20];
        int got = t ? kp_base64_decode((const char *)t, tmp, sizeof(tmp)) : KP_EPARSE;
        if (got != 16)
            rc = fail(err, errlen, "%s: LicenseNonce is not base64 of 16 bytes", what);
        else
            memcpy(out->nonce, tmp, 16);
        xmlFree(t);
    }
    xmlFreeDoc(doc);
    out->kind = KP_DRMMSG_LICENSE;
    return rc;
}

/* kpsim's XMR-shaped license: "XMR\0", BE32 version 3, KID (GUID order), key, BE32 duration. */
enum { XMR_LEN = 44 };

static int pr_build_license(const kp_drmmsg_license *lic, kp_buf *out)
{
    if (lic->duration_s > (long long)UINT32_MAX)
        return KP_EINVAL;
    int rc = kp_buf_puts(out, "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
                              "<soap:Envelope xmlns:soap=\"" NS_SOAP "\"><soap:Body>"
                              "<AcquireLicenseResponse xmlns=\"" NS_PROTO "\">"
                              "<AcquireLicenseResult><Response>"
                              "<LicenseResponse xmlns=\"" NS_MSGS "\"><Version>1</Version>"
                              "<Licenses>");
    for (size_t i = 0; rc == KP_OK && i < lic->n_keys; i++) {
        kp_buf x;
        kp_buf_init(&x);
        uint8_t g[16];
        guid_swap(lic->keys[i].kid, g);
        rc = kp_buf_append(&x, "XMR\0", 4);
        put_be32(&x, 3, &rc);
        if (rc == KP_OK)
            rc = kp_buf_append(&x, g, 16);
        if (rc == KP_OK)
            rc = kp_buf_append(&x, lic->keys[i].key, 16);
        put_be32(&x, (uint32_t)lic->duration_s, &rc);
        char *b = rc == KP_OK ? kp_base64_encode(x.data, x.len) : NULL;
        rc = b ? kp_buf_printf(out, "<License>%s</License>", b) : KP_ENOMEM;
        free(b);
        kp_buf_free(&x);
    }
    return rc == KP_OK ? kp_buf_puts(out, "</Licenses></LicenseResponse></Response>"
                                          "</AcquireLicenseResult></AcquireLicenseResponse>"
                                          "</soap:Body></soap:Envelope>")
                       : rc;
}

static int pr_parse_license(const void *body, size_t len, kp_drmmsg_license *out, char *err,
                            size_t errlen)
{
    static const char what[] = "PlayReady license";
    xmlDoc *doc = read_xml(body, len, NULL, what, err, errlen);
    if (!doc)
        return KP_EPARSE;
    int rc = KP_OK;
    xmlNode *env = xmlDocGetRootElement(doc), *n = NULL;
    if (!named(env, "Envelope", NS_SOAP))
        rc = fail(err, errlen, "%s: the root is not a SOAP 1.1 Envelope", what);
    else if (!(n = child(env, "Body", NS_SOAP)))
        rc = fail(err, errlen, "%s: no soap:Body in the Envelope", what);
    else if (child(n, "Fault", NS_SOAP))
        rc = fail(err, errlen, "%s: the server answered a SOAP Fault", what);
    else if (!(n = child(n, "AcquireLicenseResponse", NS_PROTO)) ||
             !(n = child(n, "AcquireLicenseResult", NULL)) || !(n = child(n, "Response", NULL)) ||
             !(n = child(n, "LicenseResponse", NS_MSGS)) || !(n = child(n, "Licenses", NULL)))
        rc = fail(err, errlen,
                  "%s: no AcquireLicenseResponse/AcquireLicenseResult/Response/LicenseResponse/"
                  "Licenses in the Body",
                  what);
    for (xmlNode *l = n ? n->children : NULL; rc == KP_OK && l; l = l->next) {
        if (l->type != XML_ELEMENT_NODE)
            continue;
        if (!named(l, "License", NULL)) {
            rc = fail(err, errlen, "%s: unexpected <%s> in Licenses", what, (const char *)l->name);
            break;
        }
        if (out->n_keys >= KP_DRMMSG_MAX_KIDS) {
            rc = fail(err, errlen, "%s: more than %d licenses", what, KP_DRMMSG_MAX_KIDS);
            break;
        }
        xmlChar *t = xmlNodeGetContent(l);
        uint8_t x[XMR_LEN + 4];
        int got = t ? kp_base64_decode((const char *)t, x, sizeof(x)) : KP_EPARSE;
        xmlFree(t);
        if (got != XMR_LEN || memcmp(x, "XMR\0", 4) != 0 || get_be32(x + 4) != 3) {
            rc = fail(err, errlen,
                      "%s: License %zu is not a kpsim XMR (base64 of %d bytes, "
                      "\"XMR\\0\", version 3)",
                      what, out->n_keys, XMR_LEN);
            break;
        }
        guid_swap(x + 8, out->keys[out->n_keys].kid);
        memcpy(out->keys[out->n_keys].key, x + 24, 16);
        uint32_t d = get_be32(x + 40);
        if (out->n_keys && (long long)d != out->duration_s) {
            rc = fail(err, errlen, "%s: licenses with different durations", what);
            break;
        }
        out->duration_s = d;
        out->n_keys++;
    }
    if (rc == KP_OK && out->n_keys == 0)
        rc = fail(err, errlen, "%s: Licenses is empty", what);
    xmlFreeDoc(doc);
    return rc;
}

/* A PlayReady Object: LE32 length, LE16 record count 1, record type 1 (LE16), LE16 byte length,
 * the WRMHEADER in UTF-16LE. */
static int pro_build(kp_buf *b, const uint8_t (*kids)[16], size_t n, bool cbcs)
{
    kp_buf x;
    kp_buf_init(&x);
    int rc = wrmheader(&x, kids, n, cbcs);
    size_t rec = 2 * x.len, total = 10 + rec;
    if (rc == KP_OK && rec > 0xffff)
        rc = KP_EINVAL;
    uint8_t head[10] = {(uint8_t)total,
                        (uint8_t)(total >> 8),
                        (uint8_t)(total >> 16),
                        (uint8_t)(total >> 24),
                        1,
                        0,
                        1,
                        0,
                        (uint8_t)rec,
                        (uint8_t)(rec >> 8)};
    if (rc == KP_OK)
        rc = kp_buf_append(b, head, sizeof(head));
    for (size_t i = 0; rc == KP_OK && i < x.len; i++) {
        uint8_t u[2] = {(uint8_t)x.data[i], 0};
        rc = kp_buf_append(b, u, 2);
    }
    kp_buf_free(&x);
    return rc;
}

static int pro_kids(const uint8_t *p, size_t len, uint8_t (*kids)[16], size_t cap, size_t *n,
                    char *err, size_t errlen)
{
    static const char what[] = "PlayReady Object";
    if (len < 6 || get_le32(p) != len)
        return fail(err, errlen, "%s: its length field does not match its %zu bytes", what, len);
    unsigned count = p[4] | p[5] << 8;
    size_t at = 6;
    for (unsigned i = 0; i < count; i++) {
        if (len - at < 4)
            return fail(err, errlen, "%s: record %u is truncated", what, i);
        unsigned type = p[at] | p[at + 1] << 8, rlen = p[at + 2] | p[at + 3] << 8;
        at += 4;
        if (rlen > len - at)
            return fail(err, errlen, "%s: record %u runs past the end", what, i);
        if (type == 1) {
            xmlDoc *doc = read_xml(p + at, rlen, "UTF-16LE", what, err, errlen);
            if (!doc)
                return KP_EPARSE;
            int rc = wrm_kids(xmlDocGetRootElement(doc), kids, cap, n, what, err, errlen);
            xmlFreeDoc(doc);
            return rc;
        }
        at += rlen;
    }
    return fail(err, errlen, "%s: no Rights Management Header record (type 1)", what);
}

/* ---- FairPlay (shape only) ---- */

enum { FPS_TAG_ASSET = 1, FPS_TAG_KID = 2, FPS_TAG_KEY = 3, FPS_TAG_DURATION = 4 };

static void tlv(kp_buf *b, uint32_t tag, const void *v, size_t n, int *rc)
{
    put_be32(b, tag, rc);
    put_be32(b, (uint32_t)n, rc);
    if (*rc == KP_OK && n)
        *rc = kp_buf_append(b, v, n);
}

void kp_drm_fps_certificate(long long partner_id, uint8_t out[64])
{
    char label[64];
    snprintf(label, sizeof(label), "kpsim-fps-cert:%lld", partner_id);
    memset(out, 0, 64);
    memcpy(out, "KPSIMFPSCERT", 12);
    out[15] = 1;
    for (int i = 0; i < 8; i++)
        out[16 + i] = (uint8_t)((unsigned long long)partner_id >> (56 - 8 * i));
    unsigned n = 0;
    if (!EVP_Digest(label, strlen(label), out + 24, &n, EVP_sha256(), NULL))
        memset(out + 24, 0, 32);
}

void kp_drm_fps_certificate_hash(const uint8_t *cert, size_t len, uint8_t out[20])
{
    sha1_of(cert, len, NULL, 0, out);
}

/* SPC: BE32 version 1, BE32 0, IV (16), certificate SHA-1 (20), BE32 payload length, payload
 * of TLVs (BE32 tag, BE32 length, value): 1 asset id, 2 KID (any number). Sent as base64 text. */
static int fps_build_request(const kp_drmmsg_request *rq, kp_buf *out)
{
    size_t alen = strnlen(rq->asset_id, KP_DRMMSG_MAX_ASSET);
    if (alen == 0 || alen >= KP_DRMMSG_MAX_ASSET)
        return KP_EINVAL;
    kp_buf pay, spc;
    kp_buf_init(&pay);
    kp_buf_init(&spc);
    int rc = KP_OK;
    tlv(&pay, FPS_TAG_ASSET, rq->asset_id, alen, &rc);
    for (size_t i = 0; i < rq->n_kids; i++)
        tlv(&pay, FPS_TAG_KID, rq->kids[i], 16, &rc);
    put_be32(&spc, 1, &rc);
    put_be32(&spc, 0, &rc);
    if (rc == KP_OK)
        rc = kp_buf_append(&spc, rq->nonce, 16);
    if (rc == KP_OK)
        rc = kp_buf_append(&spc, rq->cert_hash, 20);
    put_be32(&spc, (uint32_t)pay.len, &rc);
    if (rc == KP_OK)
        rc = kp_buf_append(&spc, pay.data, pay.len);
    char *b = rc == KP_OK ? kp_base64_encode(spc.data, spc.len) : NULL;
    rc = b ? kp_buf_puts(out, b) : rc == KP_OK ? KP_ENOMEM : rc;
    free(b);
    kp_buf_free(&pay);
    kp_buf_free(&spc);
    return rc;
}

/* Decodes strict base64 text of at most cap bytes into a malloc'd buffer. */
static int b64_body(const void *body, size_t len, uint8_t **out, size_t cap, const char *what,
                    char *err, size_t errlen)
{
    *out = NULL;
    if (len == 0)
        return fail(err, errlen, "%s: empty body", what);
    if (len > cap * 4 / 3 + 4)
        return fail(err, errlen, "%s: %zu bytes of base64, at most %zu", what, len,
                    cap * 4 / 3 + 4);
    if (memchr(body, '\0', len))
        return fail(err, errlen, "%s: a NUL byte in the base64 text", what);
    char *text = kp_strndup(body, len);
    uint8_t *bin = malloc(len);
    if (!text || !bin) {
        free(text);
        free(bin);
        return KP_ENOMEM;
    }
    int n = kp_base64_decode(text, bin, len);
    if (n < 0 || len % 4 != 0) {
        size_t bad =
            strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=");
        free(text);
        free(bin);
        if (bad < len)
            return fail(err, errlen, "%s: not base64: byte 0x%02x at offset %zu", what,
                        ((const uint8_t *)body)[bad], bad);
        return fail(err, errlen, "%s: not base64 (%zu characters, not a multiple of 4)", what, len);
    }
    free(text);
    *out = bin;
    return n;
}

typedef struct fps_msg {
    uint8_t iv[16];
    const uint8_t *payload;
    size_t payload_len;
} fps_msg;

static int fps_tlvs(const uint8_t *p, size_t len,
                    int (*fn)(uint32_t, const uint8_t *, uint32_t, void *, char *, size_t),
                    void *ud, const char *what, char *err, size_t errlen)
{
    size_t at = 0;
    while (at < len) {
        if (len - at < 8)
            return fail(err, errlen, "%s: truncated TLV header at payload offset %zu", what, at);
        uint32_t tag = get_be32(p + at), n = get_be32(p + at + 4);
        at += 8;
        if (n > len - at)
            return fail(err, errlen, "%s: TLV %u of %u bytes runs past the payload", what, tag, n);
        int rc = fn(tag, p + at, n, ud, err, errlen);
        if (rc != KP_OK)
            return rc;
        at += n;
    }
    return KP_OK;
}

static int spc_tlv(uint32_t tag, const uint8_t *v, uint32_t n, void *ud, char *err, size_t errlen)
{
    kp_drmmsg_request *rq = ud;
    if (tag == FPS_TAG_ASSET) {
        if (rq->asset_id[0])
            return fail(err, errlen, "FairPlay SPC: two asset ids");
        if (n == 0 || n >= KP_DRMMSG_MAX_ASSET || memchr(v, '\0', n))
            return fail(err, errlen, "FairPlay SPC: the asset id is %u bytes (1 to %d, no NUL)", n,
                        KP_DRMMSG_MAX_ASSET - 1);
        memcpy(rq->asset_id, v, n);
        rq->asset_id[n] = '\0';
    } else if (tag == FPS_TAG_KID) {
        if (n != 16)
            return fail(err, errlen, "FairPlay SPC: a KID of %u bytes, not 16", n);
        if (rq->n_kids >= KP_DRMMSG_MAX_KIDS)
            return fail(err, errlen, "FairPlay SPC: more than %d KIDs", KP_DRMMSG_MAX_KIDS);
        memcpy(rq->kids[rq->n_kids++], v, 16);
    } else {
        return fail(err, errlen, "FairPlay SPC: unknown TLV tag %u", tag);
    }
    return KP_OK;
}

static int fps_parse_request(const void *body, size_t len, kp_drmmsg_request *out, char *err,
                             size_t errlen)
{
    static const char what[] = "FairPlay SPC";
    uint8_t *spc;
    int n = b64_body(body, len, &spc, 1 << 16, what, err, errlen);
    if (n < 0)
        return n;
    int rc = KP_OK;
    if (n < 48)
        rc = fail(err, errlen, "%s: %d bytes, shorter than its 48-byte header", what, n);
    else if (get_be32(spc) != 1)
        rc = fail(err, errlen, "%s: version %u, not 1", what, get_be32(spc));
    else if (get_be32(spc + 44) != (uint32_t)n - 48)
        rc = fail(err, errlen, "%s: payload length %u, but %d bytes follow the header", what,
                  get_be32(spc + 44), n - 48);
    if (rc == KP_OK) {
        memcpy(out->nonce, spc + 8, 16);
        memcpy(out->cert_hash, spc + 24, 20);
        rc = fps_tlvs(spc + 48, (size_t)n - 48, spc_tlv, out, what, err, errlen);
    }
    if (rc == KP_OK && !out->asset_id[0])
        rc = fail(err, errlen, "%s: no asset id (TLV 1)", what);
    free(spc);
    out->kind = KP_DRMMSG_LICENSE;
    return rc;
}

/* CKC: BE32 version 1, BE32 0, IV (16), BE32 payload length, TLVs: 1 asset id, then per key
 * 2 KID and 3 key, and 4 duration (BE32 seconds, 0: none). Sent as JSON {"ckc":"<base64>"}. */
static int fps_build_license(const kp_drmmsg_license *lic, kp_buf *out)
{
    size_t alen = strnlen(lic->asset_id, KP_DRMMSG_MAX_ASSET);
    if (alen == 0 || alen >= KP_DRMMSG_MAX_ASSET || lic->duration_s > (long long)UINT32_MAX)
        return KP_EINVAL;
    kp_buf pay, ckc;
    kp_buf_init(&pay);
    kp_buf_init(&ckc);
    int rc = KP_OK;
    tlv(&pay, FPS_TAG_ASSET, lic->asset_id, alen, &rc);
    for (size_t i = 0; i < lic->n_keys; i++) {
        tlv(&pay, FPS_TAG_KID, lic->keys[i].kid, 16, &rc);
        tlv(&pay, FPS_TAG_KEY, lic->keys[i].key, 16, &rc);
    }
    uint8_t d[4] = {(uint8_t)(lic->duration_s >> 24), (uint8_t)(lic->duration_s >> 16),
                    (uint8_t)(lic->duration_s >> 8), (uint8_t)lic->duration_s};
    tlv(&pay, FPS_TAG_DURATION, d, 4, &rc);
    put_be32(&ckc, 1, &rc);
    put_be32(&ckc, 0, &rc);
    if (rc == KP_OK)
        rc = kp_buf_append(&ckc, lic->nonce, 16);
    put_be32(&ckc, (uint32_t)pay.len, &rc);
    if (rc == KP_OK)
        rc = kp_buf_append(&ckc, pay.data, pay.len);
    char *b = rc == KP_OK ? kp_base64_encode(ckc.data, ckc.len) : NULL;
    rc = b ? kp_buf_printf(out, "{\"ckc\":\"%s\"}", b) : rc == KP_OK ? KP_ENOMEM : rc;
    free(b);
    kp_buf_free(&pay);
    kp_buf_free(&ckc);
    return rc;
}

typedef struct ckc_state {
    kp_drmmsg_license *lic;
    int have_kid, have_duration;
} ckc_state;

static int ckc_tlv(uint32_t tag, const uint8_t *v, uint32_t n, void *ud, char *err, size_t errlen)
{
    ckc_state *st = ud;
    kp_drmmsg_license *lic = st->lic;
    switch (tag) {
    case FPS_TAG_ASSET:
        if (n == 0 || n >= KP_DRMMSG_MAX_ASSET || memchr(v, '\0', n) || lic->asset_id[0])
            return fail(err, errlen, "FairPlay CKC: a bad or repeated asset id");
        memcpy(lic->asset_id, v, n);
        lic->asset_id[n] = '\0';
        return KP_OK;
    case FPS_TAG_KID:
    case FPS_TAG_KEY:
        if (n != 16)
            return fail(err, errlen, "FairPlay CKC: a %s of %u bytes, not 16",
                        tag == FPS_TAG_KID ? "KID" : "key", n);
        if ((tag == FPS_TAG_KID) == (st->have_kid != 0))
            return fail(err, errlen, "FairPlay CKC: a %s where a %s was expected",
                        tag == FPS_TAG_KID ? "KID" : "key", st->have_kid ? "key" : "KID");
        if (tag == FPS_TAG_KID) {
            if (lic->n_keys >= KP_DRMMSG_MAX_KIDS)
                return fail(err, errlen, "FairPlay CKC: more than %d keys", KP_DRMMSG_MAX_KIDS);
            memcpy(lic->keys[lic->n_keys].kid, v, 16);
            st->have_kid = 1;
        } else {
            memcpy(lic->keys[lic->n_keys++].key, v, 16);
            st->have_kid = 0;
        }
        return KP_OK;
    case FPS_TAG_DURATION:
        if (n != 4 || st->have_duration)
            return fail(err, errlen, "FairPlay CKC: a bad or repeated duration");
        lic->duration_s = get_be32(v);
        st->have_duration = 1;
        return KP_OK;
    default:
        return fail(err, errlen, "FairPlay CKC: unknown TLV tag %u", tag);
    }
}

static int fps_parse_license(const void *body, size_t len, kp_drmmsg_license *out, char *err,
                             size_t errlen)
{
    static const char what[] = "FairPlay license";
    json_t *o = load_json(body, len, what, err, errlen);
    if (!o)
        return KP_EPARSE;
    int rc = KP_OK;
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        if (strcmp(k, "ckc") != 0) {
            rc = fail(err, errlen, "%s: unexpected member \"%s\"", what, k);
            break;
        }
    }
    const json_t *c = json_object_get(o, "ckc");
    if (rc == KP_OK && !json_is_string(c))
        rc = fail(err, errlen, "%s: \"ckc\" is %s", what, c ? "not a string" : "missing");
    if (rc == KP_OK && json_string_length(c) == 0)
        rc = fail(err, errlen, "%s: ckc is missing (empty string)", what);
    uint8_t *ckc = NULL;
    int n = rc == KP_OK ? b64_body(json_string_value(c), json_string_length(c), &ckc, 1 << 16,
                                   "FairPlay CKC", err, errlen)
                        : rc;
    if (n < 0)
        rc = n;
    else if (n < 28)
        rc = fail(err, errlen, "FairPlay CKC: %d bytes, shorter than its 28-byte header", n);
    else if (get_be32(ckc) != 1)
        rc = fail(err, errlen, "FairPlay CKC: version %u, not 1", get_be32(ckc));
    else if (get_be32(ckc + 24) != (uint32_t)n - 28)
        rc = fail(err, errlen, "FairPlay CKC: payload length %u, but %d bytes follow the header",
                  get_be32(ckc + 24), n - 28);
    ckc_state st = {.lic = out};
    if (rc == KP_OK) {
        memcpy(out->nonce, ckc + 8, 16);
        rc = fps_tlvs(ckc + 28, (size_t)n - 28, ckc_tlv, &st, "FairPlay CKC", err, errlen);
    }
    if (rc == KP_OK && st.have_kid)
        rc = fail(err, errlen, "FairPlay CKC: a KID without its key");
    if (rc == KP_OK && (out->n_keys == 0 || !out->asset_id[0]))
        rc = fail(err, errlen, "FairPlay CKC: no %s", out->n_keys ? "asset id" : "key");
    free(ckc);
    json_decref(o);
    return rc;
}

/* ---- dispatch ---- */

const char *kp_drmmsg_request_type(kp_drm_system s)
{
    switch (s) {
    case KP_DRM_CLEARKEY:
    case KP_DRM_FAIRPLAY: /* Kaltura's FairPlay client sends base64 text as application/json */
        return "application/json";
    case KP_DRM_PLAYREADY:
        return "text/xml; charset=utf-8";
    default:
        return "application/octet-stream";
    }
}

const char *kp_drmmsg_license_type(kp_drm_system s)
{
    switch (s) {
    case KP_DRM_CLEARKEY:
    case KP_DRM_FAIRPLAY:
        return "application/json";
    case KP_DRM_PLAYREADY:
        return "text/xml; charset=utf-8";
    default:
        return "application/octet-stream";
    }
}

/* Each key system's message codec. */
static const struct codec {
    int (*build_request)(const kp_drmmsg_request *rq, kp_buf *out);
    int (*parse_request)(const void *body, size_t len, kp_drmmsg_request *out, char *err,
                         size_t errlen);
    int (*build_license)(const kp_drmmsg_license *lic, kp_buf *out);
    int (*parse_license)(const void *body, size_t len, kp_drmmsg_license *out, char *err,
                         size_t errlen);
} codecs[KP_DRM_SYSTEM_COUNT] = {
    [KP_DRM_CLEARKEY] = {ck_build_request, ck_parse_request, ck_build_license, ck_parse_license},
    [KP_DRM_WIDEVINE] = {wv_build_request, wv_parse_request, wv_build_license, wv_parse_license},
    [KP_DRM_PLAYREADY] = {pr_build_request, pr_parse_request, pr_build_license, pr_parse_license},
    [KP_DRM_FAIRPLAY] = {fps_build_request, fps_parse_request, fps_build_license,
                         fps_parse_license},
};

int kp_drmmsg_build_request(const kp_drmmsg_request *rq, kp_buf *out)
{
    bool cert = rq->system == KP_DRM_WIDEVINE && rq->kind == KP_DRMMSG_CERTIFICATE;
    if ((unsigned)rq->system >= KP_DRM_SYSTEM_COUNT || rq->n_kids > KP_DRMMSG_MAX_KIDS ||
        (!cert && rq->system != KP_DRM_FAIRPLAY && rq->n_kids == 0))
        return KP_EINVAL;
    return codecs[rq->system].build_request(rq, out);
}

int kp_drmmsg_parse_request(kp_drm_system s, const void *body, size_t len, kp_drmmsg_request *out,
                            char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->system = s;
    if (err && errlen)
        err[0] = '\0';
    if ((unsigned)s >= KP_DRM_SYSTEM_COUNT)
        return fail(err, errlen, "unknown key system %d", (int)s);
    if (!body && len)
        return fail(err, errlen, "no body");
    return codecs[s].parse_request(body ? body : "", len, out, err, errlen);
}

int kp_drmmsg_build_license(const kp_drmmsg_license *lic, kp_buf *out)
{
    if ((unsigned)lic->system >= KP_DRM_SYSTEM_COUNT || lic->n_keys == 0 ||
        lic->n_keys > KP_DRMMSG_MAX_KIDS || lic->duration_s < 0)
        return KP_EINVAL;
    return codecs[lic->system].build_license(lic, out);
}

int kp_drmmsg_parse_license(kp_drm_system s, const void *body, size_t len, kp_drmmsg_license *out,
                            char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->system = s;
    if (err && errlen)
        err[0] = '\0';
    if ((unsigned)s >= KP_DRM_SYSTEM_COUNT)
        return fail(err, errlen, "unknown key system %d", (int)s);
    if (!body && len)
        return fail(err, errlen, "no body");
    return codecs[s].parse_license(body ? body : "", len, out, err, errlen);
}

/* ---- init data ---- */

int kp_drm_pssh_build(kp_drm_system s, kp_enc_scheme scheme, const uint8_t (*kids)[16],
                      size_t n_kids, kp_buf *out)
{
    if (s == KP_DRM_FAIRPLAY || (unsigned)s >= KP_DRM_SYSTEM_COUNT || n_kids == 0 ||
        n_kids > KP_DRMMSG_MAX_KIDS)
        return KP_EINVAL;
    bool cbcs = scheme == KP_ENC_CBCS;
    kp_buf data;
    kp_buf_init(&data);
    int rc = KP_OK;
    if (s == KP_DRM_WIDEVINE)
        rc = wv_pssh_data(&data, kids, n_kids, cbcs);
    else if (s == KP_DRM_PLAYREADY)
        rc = pro_build(&data, kids, n_kids, cbcs);
    /* Widevine: v0 (the KIDs are in its data); ClearKey and PlayReady: v1 with the KIDs */
    int version = s == KP_DRM_WIDEVINE ? 0 : 1;
    if (rc == KP_OK)
        rc = kp_cenc_pssh_build(version, kp_drm_system_id(s), version ? kids[0] : NULL,
                                version ? n_kids : 0, (const uint8_t *)data.data, data.len, out);
    kp_buf_free(&data);
    return rc;
}

static int keyids_kids(const void *data, size_t len, uint8_t (*kids)[16], size_t cap, char *err,
                       size_t errlen)
{
    kp_drmmsg_request rq;
    memset(&rq, 0, sizeof(rq));
    json_t *o = load_json(data, len, "keyids init data", err, errlen);
    if (!o)
        return KP_EPARSE;
    const json_t *a = json_object_get(o, "kids");
    int rc = KP_OK;
    size_t n = json_array_size(a);
    if (!json_is_array(a) || n == 0)
        rc = fail(err, errlen, "keyids init data: \"kids\" is %s",
                  !a                  ? "missing"
                  : !json_is_array(a) ? "not an array"
                                      : "empty");
    else if (n > cap)
        rc = fail(err, errlen, "keyids init data: %zu kids, at most %zu", n, cap);
    for (size_t i = 0; rc == KP_OK && i < n; i++) {
        char what[48];
        snprintf(what, sizeof(what), "keyids init data: kids[%zu]", i);
        rc = b64url_16(json_array_get(a, i), kids[i], what, err, errlen);
    }
    json_decref(o);
    return rc == KP_OK ? (int)n : rc;
}

int kp_drm_initdata_kids(kp_drm_system s, const char *init_type, const void *data, size_t len,
                         uint8_t (*kids)[16], size_t cap, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!init_type || !data)
        return fail(err, errlen, "no init data");
    if (strcmp(init_type, "keyids") == 0)
        return keyids_kids(data, len, kids, cap, err, errlen);
    if (strcmp(init_type, "cenc") != 0)
        return fail(err, errlen, "init data type \"%s\" (\"cenc\" or \"keyids\" expected)",
                    init_type);
    const uint8_t *p = data;
    const uint8_t *want = kp_drm_system_id(s == KP_DRM_CLEARKEY ? KP_DRM_CLEARKEY : s);
    if (!want || s == KP_DRM_FAIRPLAY)
        return fail(err, errlen, "%s has no cenc init data",
                    kp_drm_system_name(s) ? kp_drm_system_name(s) : "this key system");
    size_t at = 0;
    int found = 0;
    while (at < len) {
        if (len - at < 32)
            return fail(err, errlen, "cenc init data: box at offset %zu is truncated", at);
        uint32_t size = get_be32(p + at);
        if (size < 32 || size > len - at)
            return fail(err, errlen, "cenc init data: box at offset %zu has size %u (%zu left)", at,
                        size, len - at);
        if (memcmp(p + at + 4, "pssh", 4) != 0)
            return fail(err, errlen, "cenc init data: box at offset %zu is not a pssh", at);
        const uint8_t *b = p + at;
        unsigned version = b[8];
        if (version > 1)
            return fail(err, errlen, "cenc init data: pssh version %u at offset %zu", version, at);
        size_t q = 28, n = 0;
        if (version == 1) {
            if (size < 36)
                return fail(err, errlen,
                            "cenc init data: pssh v1 at offset %zu has no room for "
                            "its KIDs and DataSize",
                            at);
            uint32_t count = get_be32(b + 28);
            q = 32;
            if (count > (size - q - 4) / 16)
                return fail(err, errlen, "cenc init data: KID_count %u overruns the box", count);
            if (memcmp(b + 12, want, 16) == 0 && count) {
                if (count > cap)
                    return fail(err, errlen, "cenc init data: %u KIDs, at most %zu", count, cap);
                for (uint32_t i = 0; i < count; i++)
                    memcpy(kids[i], b + q + 16 * i, 16);
                n = count;
            }
            q += 16 * (size_t)count;
        }
        if (size - q < 4)
            return fail(err, errlen, "cenc init data: pssh at offset %zu has no DataSize", at);
        uint32_t dsize = get_be32(b + q);
        if (dsize != size - q - 4)
            return fail(err, errlen, "cenc init data: DataSize %u does not fill the box", dsize);
        if (memcmp(b + 12, want, 16) == 0) {
            found = 1;
            if (n)
                return (int)n;
            int rc = KP_OK;
            if (s == KP_DRM_WIDEVINE)
                rc = wv_pssh_kids(b + q + 4, dsize, kids, cap, &n, "Widevine pssh data", err,
                                  errlen);
            else if (s == KP_DRM_PLAYREADY)
                rc = pro_kids(b + q + 4, dsize, kids, cap, &n, err, errlen);
            if (rc != KP_OK)
                return rc;
            if (n)
                return (int)n;
        }
        at += size;
    }
    if (found)
        return fail(err, errlen, "cenc init data: the %s pssh names no KID", kp_drm_system_name(s));
    if (err && errlen)
        snprintf(err, errlen, "cenc init data: no pssh box for %s", kp_drm_system_name(s));
    return KP_ENOENT;
}

int kp_drm_skd_asset(const char *uri, char *out, size_t cap, char *err, size_t errlen)
{
    if (!uri || strncmp(uri, "skd://", 6) != 0)
        return fail(err, errlen, "\"%s\" is not an skd:// URI", uri ? uri : "");
    const char *h = uri + 6;
    size_t n = strcspn(h, "/?#");
    if (n == 0)
        return fail(err, errlen, "\"%s\": no asset id after skd://", uri);
    if (n >= cap || n >= KP_DRMMSG_MAX_ASSET)
        return fail(err, errlen, "\"%s\": the asset id is longer than %d bytes", uri,
                    KP_DRMMSG_MAX_ASSET - 1);
    memcpy(out, h, n);
    out[n] = '\0';
    return KP_OK;
}

/* ---- UDRM ---- */

void kp_udrm_default_secret(long long partner_id, char *out, size_t cap)
{
    snprintf(out, cap, "kpsim-udrm-secret-%lld", partner_id);
}

/* PHP json_encode of a string: "\/", \uXXXX for non-ASCII; KP_EINVAL for bad UTF-8. */
static int php_string(kp_buf *b, const char *s)
{
    int rc = kp_buf_putc(b, '"');
    const uint8_t *p = (const uint8_t *)s;
    while (rc == KP_OK && *p) {
        uint32_t c = *p;
        size_t n = 1;
        if (c >= 0x80) {
            size_t need = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
            if (!need || c >= 0xf5)
                return KP_EINVAL;
            c &= need == 2 ? 0x1f : need == 3 ? 0x0f : 0x07;
            for (size_t i = 1; i < need; i++) {
                if ((p[i] & 0xc0) != 0x80)
                    return KP_EINVAL;
                c = c << 6 | (p[i] & 0x3f);
            }
            if ((need == 3 && c < 0x800) || (need == 4 && (c < 0x10000 || c > 0x10ffff)) ||
                (c >= 0xd800 && c < 0xe000))
                return KP_EINVAL;
            n = need;
            if (c >= 0x10000) {
                c -= 0x10000;
                rc = kp_buf_printf(b, "\\u%04x\\u%04x", 0xd800 + (c >> 10), 0xdc00 + (c & 0x3ff));
            } else {
                rc = kp_buf_printf(b, "\\u%04x", c);
            }
        } else if (c == '"' || c == '\\' || c == '/') {
            rc = kp_buf_printf(b, "\\%c", (char)c);
        } else if (c < 0x20) {
            const char *esc = c == '\b'   ? "\\b"
                              : c == '\f' ? "\\f"
                              : c == '\n' ? "\\n"
                              : c == '\r' ? "\\r"
                              : c == '\t' ? "\\t"
                                          : NULL;
            rc = esc ? kp_buf_puts(b, esc) : kp_buf_printf(b, "\\u%04x", c);
        } else {
            rc = kp_buf_putc(b, (char)c);
        }
        p += n;
    }
    return rc == KP_OK ? kp_buf_putc(b, '"') : rc;
}

char *kp_udrm_json(const char *ca_system, const char *user_token, long long account_id,
                   const char *content_id, const char *files)
{
    char acc[32];
    snprintf(acc, sizeof(acc), "%lld", account_id);
    const char *names[] = {"ca_system", "user_token", "account_id", "content_id", "files"};
    const char *values[] = {ca_system ? ca_system : "OVP", user_token ? user_token : "", acc,
                            content_id ? content_id : "", files ? files : ""};
    kp_buf b;
    kp_buf_init(&b);
    int rc = kp_buf_putc(&b, '{');
    for (size_t i = 0; rc == KP_OK && i < 5; i++) {
        rc = kp_buf_printf(&b, "%s\"%s\":", i ? "," : "", names[i]);
        if (rc == KP_OK)
            rc = php_string(&b, values[i]);
    }
    if (rc == KP_OK)
        rc = kp_buf_putc(&b, '}');
    if (rc != KP_OK) {
        kp_buf_free(&b);
        return NULL;
    }
    return kp_buf_steal(&b);
}

int kp_udrm_sign(const char *secret, const char *json, char **custom_data, char **signature)
{
    *custom_data = *signature = NULL;
    if (!secret || !json)
        return KP_EINVAL;
    uint8_t md[20];
    sha1_of(secret, strlen(secret), json, strlen(json), md);
    char *cd = kp_base64_encode(json, strlen(json));
    char *sig = kp_base64_encode(md, sizeof(md));
    *custom_data = cd ? kp_url_escape(cd) : NULL;
    *signature = sig ? kp_url_escape(sig) : NULL;
    free(cd);
    free(sig);
    if (!*custom_data || !*signature) {
        free(*custom_data);
        free(*signature);
        *custom_data = *signature = NULL;
        return KP_ENOMEM;
    }
    return KP_OK;
}

/* Strict standard base64 of a query value; decoded length or KP_EPARSE with err. */
static int query_b64(const char *name, const char *v, uint8_t *out, size_t cap, char *err,
                     size_t errlen)
{
    size_t n = strlen(v);
    size_t bad = strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=");
    if (bad < n)
        return fail(err, errlen, "%s: not base64: %s at offset %zu%s", name,
                    v[bad] == ' ' ? "a space" : "a character outside the alphabet", bad,
                    v[bad] == ' ' ? " (a '+' sent without percent-encoding?)" : "");
    if (n % 4)
        return fail(err, errlen, "%s: not base64: %zu characters, not a multiple of 4", name, n);
    int got = kp_base64_decode(v, out, cap);
    if (got == KP_ERANGE)
        return fail(err, errlen, "%s: longer than %zu bytes decoded", name, cap);
    if (got < 0)
        return fail(err, errlen, "%s: not base64 ('=' inside the text)", name);
    return got;
}

void kp_udrm_data_free(kp_udrm_data *d)
{
    if (!d)
        return;
    free(d->ca_system);
    free(d->user_token);
    free(d->account_id);
    free(d->content_id);
    free(d->files);
    free(d->json);
    memset(d, 0, sizeof(*d));
}

int kp_udrm_verify(const char *secret, const char *custom_data, const char *signature,
                   kp_udrm_data *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (err && errlen)
        err[0] = '\0';
    if (!custom_data || !*custom_data)
        return fail(err, errlen, "custom_data: missing");
    if (!signature || !*signature)
        return fail(err, errlen, "signature: missing");
    size_t cap = strlen(custom_data);
    uint8_t *json = malloc(cap + 1);
    if (!json)
        return KP_ENOMEM;
    uint8_t sig[24];
    int n = query_b64("custom_data", custom_data, json, cap, err, errlen);
    int s = n >= 0 ? query_b64("signature", signature, sig, sizeof(sig), err, errlen) : n;
    if (n < 0 || s < 0) {
        free(json);
        return KP_EPARSE;
    }
    if (s != 20) {
        free(json);
        return fail(err, errlen, "signature: %d bytes decoded, a SHA-1 is 20", s);
    }
    uint8_t md[20];
    sha1_of(secret ? secret : "", secret ? strlen(secret) : 0, json, (size_t)n, md);
    if (CRYPTO_memcmp(md, sig, 20) != 0) {
        free(json);
        if (err && errlen)
            snprintf(err, errlen,
                     "signature does not match custom_data (tampered, or signed with another "
                     "secret)");
        return KP_EINVAL;
    }
    json[n] = '\0';
    json_t *o = load_json(json, (size_t)n, "custom_data", err, errlen);
    int rc = o ? KP_OK : KP_EPARSE;
    static const char *const names[] = {"ca_system", "user_token", "account_id", "content_id",
                                        "files"};
    char **slots[] = {&out->ca_system, &out->user_token, &out->account_id, &out->content_id,
                      &out->files};
    for (size_t i = 0; rc == KP_OK && i < 5; i++) {
        const json_t *v = json_object_get(o, names[i]);
        if (json_is_string(v))
            *slots[i] = kp_strdup(json_string_value(v));
        else if (i == 2 && json_is_integer(v))
            *slots[i] = kp_asprintf("%lld", (long long)json_integer_value(v));
        else {
            rc = fail(err, errlen, "custom_data: \"%s\" is %s", names[i],
                      v ? (i == 2 ? "not a string or an integer" : "not a string") : "missing");
            break;
        }
        if (!*slots[i])
            rc = KP_ENOMEM;
    }
    json_decref(o);
    if (rc == KP_OK) {
        out->json = (char *)json;
        return KP_OK;
    }
    free(json);
    kp_udrm_data_free(out);
    return rc;
}
