/* cenc.c: ISO BMFF protection boxes, CENC sample encryption and HLS AES-128 (kp/cenc.h). */
#include "kp/cenc.h"

#include "kp/err.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FOURCC KP_FOURCC

/* ---- small helpers ------------------------------------------------------------------------ */

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint64_t rd64(const uint8_t *p)
{
    return ((uint64_t)rd32(p) << 32) | rd32(p + 4);
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void wr64(uint8_t *p, uint64_t v)
{
    wr32(p, (uint32_t)(v >> 32));
    wr32(p + 4, (uint32_t)v);
}

/* "avc1" for printing; buf of 5. */
static const char *fourcc_str(uint32_t v, char buf[5])
{
    for (int i = 0; i < 4; i++) {
        char c = (char)(v >> (24 - 8 * i));
        buf[i] = c >= 0x20 && c < 0x7f ? c : '?';
    }
    buf[4] = '\0';
    return buf;
}

static int put32(kp_buf *b, uint32_t v)
{
    uint8_t x[4];
    wr32(x, v);
    return kp_buf_append(b, x, 4);
}

/* Starts a box: size placeholder + type; *start gets its offset. */
static int box_open(kp_buf *b, uint32_t type, size_t *start)
{
    *start = b->len;
    int rc = put32(b, 0);
    return rc < 0 ? rc : put32(b, type);
}

static int box_close(kp_buf *b, size_t start, char *err, size_t errlen)
{
    size_t size = b->len - start;
    if (size > UINT32_MAX)
        return fail(err, errlen, KP_ENOTSUP, "box of %zu bytes needs a 64-bit size", size);
    wr32((uint8_t *)b->data + start, (uint32_t)size);
    return KP_OK;
}

/* ---- boxes -------------------------------------------------------------------------------- */

int kp_cenc_box_next(const uint8_t *buf, size_t len, size_t *pos, kp_cenc_box *out, char *err,
                     size_t errlen)
{
    size_t p = *pos;
    if (p >= len)
        return 0;
    char t[5];
    if (len - p < 8)
        return fail(err, errlen, KP_EPARSE, "truncated box header at offset %zu (%zu bytes left)",
                    p, len - p);
    uint64_t size = rd32(buf + p);
    uint32_t type = rd32(buf + p + 4);
    size_t header = 8;
    if (size == 1) {
        if (len - p < 16)
            return fail(err, errlen, KP_EPARSE, "truncated 64-bit size of box '%s' at offset %zu",
                        fourcc_str(type, t), p);
        size = rd64(buf + p + 8);
        header = 16;
    } else if (size == 0) {
        size = len - p; /* to the end of the buffer */
    }
    if (size < header)
        return fail(err, errlen, KP_EPARSE, "box '%s' at offset %zu: size %llu below its header",
                    fourcc_str(type, t), p, (unsigned long long)size);
    if (size > len - p)
        return fail(err, errlen, KP_EPARSE,
                    "box '%s' at offset %zu: size %llu overruns the %zu bytes left",
                    fourcc_str(type, t), p, (unsigned long long)size, len - p);
    out->type = type;
    out->offset = p;
    out->header = header;
    out->size = (size_t)size;
    out->body = buf + p + header;
    out->body_size = (size_t)size - header;
    *pos = p + (size_t)size;
    return 1;
}

/* The first child of type `type` among the boxes of body; 1, 0 (none) or an error. */
static int find_child(const uint8_t *body, size_t len, uint32_t type, kp_cenc_box *out, char *err,
                      size_t errlen)
{
    size_t pos = 0;
    kp_cenc_box b;
    int rc;
    while ((rc = kp_cenc_box_next(body, len, &pos, &b, err, errlen)) > 0)
        if (b.type == type) {
            *out = b;
            return 1;
        }
    return rc;
}

static bool known_scheme(uint32_t s)
{
    return s == KP_CENC_SCHEME_CENC || s == KP_CENC_SCHEME_CBCS || s == KP_CENC_SCHEME_CENS ||
           s == KP_CENC_SCHEME_CBC1;
}

static bool visual_entry(uint32_t t)
{
    return t == FOURCC('a', 'v', 'c', '1') || t == FOURCC('a', 'v', 'c', '3') ||
           t == FOURCC('h', 'v', 'c', '1') || t == FOURCC('h', 'e', 'v', '1') ||
           t == FOURCC('e', 'n', 'c', 'v') || t == FOURCC('v', 'p', '0', '9') ||
           t == FOURCC('a', 'v', '0', '1');
}

static bool audio_entry(uint32_t t)
{
    return t == FOURCC('m', 'p', '4', 'a') || t == FOURCC('e', 'n', 'c', 'a') ||
           t == FOURCC('a', 'c', '-', '3') || t == FOURCC('e', 'c', '-', '3') ||
           t == FOURCC('O', 'p', 'u', 's');
}

/* Bytes of a sample entry before its child boxes (after the 8-byte box header). */
static int entry_fixed_size(const kp_cenc_box *e, bool video, bool audio, size_t *out, char *err,
                            size_t errlen)
{
    char t[5];
    size_t fixed = 8;
    if (video) {
        fixed = 78;
    } else if (audio) {
        fixed = 28;
        if (e->body_size >= 10) {
            uint16_t v = rd16(e->body + 8); /* QuickTime sound description version */
            fixed = v == 1 ? 44 : v == 2 ? 64 : 28;
        }
    }
    if (e->body_size < fixed)
        return fail(err, errlen, KP_EPARSE, "sample entry '%s' of %zu bytes is shorter than %zu",
                    fourcc_str(e->type, t), e->body_size, fixed);
    *out = fixed;
    return KP_OK;
}

static int parse_tenc(const kp_cenc_box *b, kp_cenc_track *tr, char *err, size_t errlen)
{
    const uint8_t *p = b->body;
    if (b->body_size < 24)
        return fail(err, errlen, KP_EPARSE, "truncated tenc (%zu bytes, 24 needed)", b->body_size);
    tr->tenc_version = p[0];
    if (p[0] > 1)
        return fail(err, errlen, KP_ENOTSUP, "tenc version %u", p[0]);
    if (p[0] >= 1) {
        tr->crypt_byte_block = p[5] >> 4;
        tr->skip_byte_block = p[5] & 15;
    }
    tr->is_protected = p[6];
    tr->iv_size = p[7];
    memcpy(tr->default_kid, p + 8, 16);
    if (tr->is_protected > 1)
        return fail(err, errlen, KP_EPARSE, "tenc default_isProtected %u (0 or 1)",
                    tr->is_protected);
    if (tr->iv_size != 0 && tr->iv_size != 8 && tr->iv_size != 16)
        return fail(err, errlen, KP_EPARSE, "tenc per-sample IV size %u (0, 8 or 16)", tr->iv_size);
    if (tr->is_protected && tr->iv_size == 0) {
        if (b->body_size < 25)
            return fail(err, errlen, KP_EPARSE, "tenc without per-sample IVs lacks a constant IV");
        uint8_t n = p[24];
        if (n != 8 && n != 16)
            return fail(err, errlen, KP_EPARSE, "tenc constant IV size %u (8 or 16)", n);
        if (b->body_size < 25 + (size_t)n)
            return fail(err, errlen, KP_EPARSE, "truncated tenc constant IV (%zu of %u bytes)",
                        b->body_size - 25, n);
        tr->constant_iv_size = n;
        memset(tr->constant_iv, 0, 16);
        memcpy(tr->constant_iv, p + 25, n);
    }
    return KP_OK;
}

static int parse_sinf(const kp_cenc_box *sinf, kp_cenc_track *tr, char *err, size_t errlen)
{
    kp_cenc_box b;
    char t[5];
    int rc = find_child(sinf->body, sinf->body_size, FOURCC('f', 'r', 'm', 'a'), &b, err, errlen);
    if (rc < 0)
        return rc;
    if (rc == 0 || b.body_size < 4)
        return fail(err, errlen, KP_EPARSE, "sinf without a frma (original format)");
    tr->format = rd32(b.body);
    rc = find_child(sinf->body, sinf->body_size, FOURCC('s', 'c', 'h', 'm'), &b, err, errlen);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return fail(err, errlen, KP_EPARSE, "sinf without a schm (scheme type)");
    if (b.body_size < 12)
        return fail(err, errlen, KP_EPARSE, "truncated schm (%zu bytes, 12 needed)", b.body_size);
    tr->scheme = rd32(b.body + 4);
    tr->scheme_version = rd32(b.body + 8);
    if (!known_scheme(tr->scheme))
        return fail(err, errlen, KP_ENOTSUP, "unknown protection scheme '%s'",
                    fourcc_str(tr->scheme, t));
    kp_cenc_box schi, tenc;
    rc = find_child(sinf->body, sinf->body_size, FOURCC('s', 'c', 'h', 'i'), &schi, err, errlen);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return fail(err, errlen, KP_EPARSE, "sinf without a schi");
    rc = find_child(schi.body, schi.body_size, FOURCC('t', 'e', 'n', 'c'), &tenc, err, errlen);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return fail(err, errlen, KP_EPARSE, "schi without a tenc");
    rc = parse_tenc(&tenc, tr, err, errlen);
    if (rc < 0)
        return rc;
    tr->encrypted = 1;
    return KP_OK;
}

static int parse_stsd(const kp_cenc_box *stsd, kp_cenc_track *tr, bool hvide, bool hsoun, char *err,
                      size_t errlen)
{
    if (stsd->body_size < 8)
        return fail(err, errlen, KP_EPARSE, "truncated stsd");
    size_t pos = 0;
    const uint8_t *entries = stsd->body + 8;
    size_t len = stsd->body_size - 8;
    kp_cenc_box e;
    int rc = kp_cenc_box_next(entries, len, &pos, &e, err, errlen);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return fail(err, errlen, KP_EPARSE, "stsd without a sample entry");
    tr->entry_type = tr->format = e.type;
    bool video = hvide || (!hsoun && visual_entry(e.type));
    bool audio = !video && (hsoun || audio_entry(e.type));
    tr->is_video = video;
    size_t fixed;
    rc = entry_fixed_size(&e, video, audio, &fixed, err, errlen);
    if (rc < 0)
        return rc;
    kp_cenc_box sinf;
    rc = find_child(e.body + fixed, e.body_size - fixed, FOURCC('s', 'i', 'n', 'f'), &sinf, err,
                    errlen);
    if (rc < 0)
        return rc;
    if (rc > 0)
        rc = parse_sinf(&sinf, tr, err, errlen);
    else if (e.type == FOURCC('e', 'n', 'c', 'v') || e.type == FOURCC('e', 'n', 'c', 'a'))
        return fail(err, errlen, KP_EPARSE, "encrypted sample entry without sinf");
    return rc < 0 ? rc : KP_OK;
}

static int parse_trak(const kp_cenc_box *trak, kp_cenc_track *tr, char *err, size_t errlen)
{
    kp_cenc_box tkhd, mdia, hdlr, minf, stbl, stsd;
    int rc =
        find_child(trak->body, trak->body_size, FOURCC('t', 'k', 'h', 'd'), &tkhd, err, errlen);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return fail(err, errlen, KP_EPARSE, "trak without tkhd");
    size_t need = tkhd.body_size >= 1 && tkhd.body[0] == 1 ? 24 : 16;
    if (tkhd.body_size < need)
        return fail(err, errlen, KP_EPARSE, "truncated tkhd");
    tr->track_id = rd32(tkhd.body + need - 4);
    struct {
        const kp_cenc_box *parent;
        uint32_t type;
        kp_cenc_box *out;
    } path[] = {{trak, FOURCC('m', 'd', 'i', 'a'), &mdia},
                {&mdia, FOURCC('m', 'i', 'n', 'f'), &minf},
                {&minf, FOURCC('s', 't', 'b', 'l'), &stbl},
                {&stbl, FOURCC('s', 't', 's', 'd'), &stsd}};
    char t[5];
    for (size_t i = 0; i < sizeof(path) / sizeof(path[0]); i++) {
        rc = find_child(path[i].parent->body, path[i].parent->body_size, path[i].type, path[i].out,
                        err, errlen);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return fail(err, errlen, KP_EPARSE, "track %u has no %s", tr->track_id,
                        fourcc_str(path[i].type, t));
    }
    uint32_t handler = 0;
    rc = find_child(mdia.body, mdia.body_size, FOURCC('h', 'd', 'l', 'r'), &hdlr, err, errlen);
    if (rc < 0)
        return rc;
    if (rc > 0 && hdlr.body_size >= 12)
        handler = rd32(hdlr.body + 8);
    return parse_stsd(&stsd, tr, handler == FOURCC('v', 'i', 'd', 'e'),
                      handler == FOURCC('s', 'o', 'u', 'n'), err, errlen);
}

int kp_cenc_parse_pssh(const uint8_t *buf, size_t len, kp_cenc_pssh *out, char *err, size_t errlen)
{
    size_t pos = 0;
    kp_cenc_box b;
    char t[5];
    int rc = kp_cenc_box_next(buf, len, &pos, &b, err, errlen);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return fail(err, errlen, KP_EPARSE, "empty pssh");
    if (b.type != FOURCC('p', 's', 's', 'h'))
        return fail(err, errlen, KP_EPARSE, "box '%s' is not a pssh", fourcc_str(b.type, t));
    const uint8_t *p = b.body;
    size_t n = b.body_size;
    memset(out, 0, sizeof(*out));
    if (n < 24)
        return fail(err, errlen, KP_EPARSE, "truncated pssh (%zu bytes)", n);
    out->version = p[0];
    if (p[0] > 1)
        return fail(err, errlen, KP_ENOTSUP, "pssh version %u", p[0]);
    memcpy(out->system_id, p + 4, 16);
    size_t q = 20;
    if (out->version == 1) {
        uint32_t k = rd32(p + q);
        q += 4;
        if (k > (n - q) / 16)
            return fail(err, errlen, KP_EPARSE, "pssh KID count %u overruns the box", k);
        out->n_kids = k;
        out->kids = p + q;
        q += (size_t)k * 16;
    }
    if (n - q < 4)
        return fail(err, errlen, KP_EPARSE, "pssh truncated before its data size");
    out->data_size = rd32(p + q);
    q += 4;
    if (out->data_size != n - q)
        return fail(err, errlen, KP_EPARSE, "pssh data size %u, %zu bytes left in the box",
                    out->data_size, n - q);
    out->data = p + q;
    out->offset = b.offset;
    out->size = b.size;
    return KP_OK;
}

static int add_pssh(kp_cenc_init *out, const uint8_t *buf, const kp_cenc_box *b, char *err,
                    size_t errlen)
{
    if (out->n_pssh == KP_CENC_MAX_PSSH)
        return fail(err, errlen, KP_ENOTSUP, "more than %d pssh boxes", KP_CENC_MAX_PSSH);
    kp_cenc_pssh *ps = &out->pssh[out->n_pssh];
    int rc = kp_cenc_parse_pssh(buf + b->offset, b->size, ps, err, errlen);
    if (rc < 0)
        return rc;
    ps->offset = b->offset;
    out->n_pssh++;
    return KP_OK;
}

int kp_cenc_parse_init(const uint8_t *buf, size_t len, kp_cenc_init *out, char *err, size_t errlen)
{
    if (!out || (!buf && len))
        return fail(err, errlen, KP_EINVAL, "no init segment");
    memset(out, 0, sizeof(*out));
    size_t pos = 0;
    kp_cenc_box top;
    int rc;
    bool moov_seen = false;
    while ((rc = kp_cenc_box_next(buf, len, &pos, &top, err, errlen)) > 0) {
        if (top.type == FOURCC('p', 's', 's', 'h')) {
            if ((rc = add_pssh(out, buf, &top, err, errlen)) < 0)
                return rc;
            continue;
        }
        if (top.type != FOURCC('m', 'o', 'o', 'v'))
            continue;
        moov_seen = true;
        size_t mpos = 0;
        kp_cenc_box b;
        const uint8_t *mb = top.body;
        while ((rc = kp_cenc_box_next(mb, top.body_size, &mpos, &b, err, errlen)) > 0) {
            if (b.type == FOURCC('t', 'r', 'a', 'k')) {
                if (out->n_tracks == KP_CENC_MAX_TRACKS)
                    return fail(err, errlen, KP_ENOTSUP, "more than %d tracks", KP_CENC_MAX_TRACKS);
                rc = parse_trak(&b, &out->tracks[out->n_tracks], err, errlen);
                if (rc < 0)
                    return rc;
                out->n_tracks++;
            } else if (b.type == FOURCC('p', 's', 's', 'h')) {
                kp_cenc_box abs = b;
                abs.offset += (size_t)(mb - buf);
                if ((rc = add_pssh(out, buf, &abs, err, errlen)) < 0)
                    return rc;
            } else if (b.type == FOURCC('m', 'v', 'e', 'x')) {
                size_t xpos = 0;
                kp_cenc_box x;
                while ((rc = kp_cenc_box_next(b.body, b.body_size, &xpos, &x, err, errlen)) > 0) {
                    if (x.type != FOURCC('t', 'r', 'e', 'x'))
                        continue;
                    if (x.body_size < 24)
                        return fail(err, errlen, KP_EPARSE, "truncated trex");
                    uint32_t id = rd32(x.body + 4), size = rd32(x.body + 16);
                    for (size_t i = 0; i < out->n_tracks; i++)
                        if (out->tracks[i].track_id == id)
                            out->tracks[i].default_sample_size = size;
                }
                if (rc < 0)
                    return rc;
            }
        }
        if (rc < 0)
            return rc;
    }
    if (rc < 0)
        return rc;
    if (!moov_seen)
        return fail(err, errlen, KP_EPARSE, "no moov in the init segment");
    /* trex may come before the traks it describes: a second pass */
    for (size_t i = 0; i < out->n_tracks; i++)
        if (out->tracks[i].default_sample_size == 0) {
            size_t p2 = 0;
            kp_cenc_box t2, mvex, x;
            while (kp_cenc_box_next(buf, len, &p2, &t2, NULL, 0) > 0)
                if (t2.type == FOURCC('m', 'o', 'o', 'v') &&
                    find_child(t2.body, t2.body_size, FOURCC('m', 'v', 'e', 'x'), &mvex, NULL, 0) >
                        0) {
                    size_t xpos = 0;
                    while (kp_cenc_box_next(mvex.body, mvex.body_size, &xpos, &x, NULL, 0) > 0)
                        if (x.type == FOURCC('t', 'r', 'e', 'x') && x.body_size >= 24 &&
                            rd32(x.body + 4) == out->tracks[i].track_id)
                            out->tracks[i].default_sample_size = rd32(x.body + 16);
                }
        }
    return KP_OK;
}

const kp_cenc_track *kp_cenc_init_track(const kp_cenc_init *init, uint32_t track_id)
{
    for (size_t i = 0; init && i < init->n_tracks; i++)
        if (init->tracks[i].track_id == track_id)
            return &init->tracks[i];
    return NULL;
}

int kp_cenc_pssh_build(int version, const uint8_t system_id[16], const uint8_t *kids, size_t n_kids,
                       const uint8_t *data, size_t data_len, kp_buf *out)
{
    if ((version != 0 && version != 1) || (version == 0 && n_kids) || !system_id ||
        (n_kids && !kids) || (data_len && !data) || n_kids > 65536 || data_len > (1u << 30))
        return KP_EINVAL;
    size_t start;
    int rc = box_open(out, FOURCC('p', 's', 's', 'h'), &start);
    if (rc == 0)
        rc = put32(out, (uint32_t)version << 24);
    if (rc == 0)
        rc = kp_buf_append(out, system_id, 16);
    if (rc == 0 && version == 1) {
        rc = put32(out, (uint32_t)n_kids);
        if (rc == 0)
            rc = kp_buf_append(out, kids, n_kids * 16);
    }
    if (rc == 0)
        rc = put32(out, (uint32_t)data_len);
    if (rc == 0)
        rc = kp_buf_append(out, data, data_len);
    return rc < 0 ? rc : box_close(out, start, NULL, 0);
}

/* ---- cipher context ----------------------------------------------------------------------- */

struct kp_cenc_ctx {
    EVP_CIPHER_CTX *ctx;
    EVP_CIPHER *ctr, *cbc, *ecb;
    uint8_t *scratch; /* keystream / gathered blocks, grown as samples need, reused */
    size_t scratch_cap;
    struct pending *pend; /* 'cenc' samples of one traf, awaiting their keystream */
    size_t pend_cap;
    const EVP_CIPHER *cur; /* cipher, direction and key the context is set up with */
    int cur_enc;
    uint8_t cur_key[16];
};

kp_cenc_ctx *kp_cenc_ctx_new(void)
{
    kp_cenc_ctx *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->ctx = EVP_CIPHER_CTX_new();
    c->ctr = EVP_CIPHER_fetch(NULL, "AES-128-CTR", NULL);
    c->cbc = EVP_CIPHER_fetch(NULL, "AES-128-CBC", NULL);
    c->ecb = EVP_CIPHER_fetch(NULL, "AES-128-ECB", NULL);
    if (!c->ctx || !c->ctr || !c->cbc || !c->ecb) {
        kp_cenc_ctx_free(c);
        return NULL;
    }
    return c;
}

void kp_cenc_ctx_free(kp_cenc_ctx *c)
{
    if (!c)
        return;
    EVP_CIPHER_CTX_free(c->ctx);
    EVP_CIPHER_free(c->ctr);
    EVP_CIPHER_free(c->cbc);
    EVP_CIPHER_free(c->ecb);
    if (c->scratch)
        OPENSSL_cleanse(c->scratch, c->scratch_cap);
    free(c->scratch);
    free(c->pend);
    OPENSSL_cleanse(c->cur_key, sizeof(c->cur_key));
    free(c);
}

/* Sets the cipher, direction and key (only when they change) and the IV. */
static int cipher_iv(kp_cenc_ctx *c, const EVP_CIPHER *cipher, int enc, const uint8_t key[16],
                     const uint8_t iv[16])
{
    if (c->cur != cipher || c->cur_enc != enc || CRYPTO_memcmp(c->cur_key, key, 16) != 0) {
        c->cur = NULL;
        if (!EVP_CipherInit_ex(c->ctx, cipher, NULL, key, iv, enc))
            return KP_ECRYPTO;
        c->cur = cipher;
        c->cur_enc = enc;
        memcpy(c->cur_key, key, 16);
    } else if (!EVP_CipherInit_ex(c->ctx, NULL, NULL, NULL, iv, -1)) {
        c->cur = NULL;
        return KP_ECRYPTO;
    }
    if (cipher == c->cbc)
        EVP_CIPHER_CTX_set_padding(c->ctx, 0);
    return KP_OK;
}

static int update(kp_cenc_ctx *c, uint8_t *p, size_t n)
{
    while (n) {
        int chunk = n > (1u << 30) ? (1 << 30) : (int)n, outl = 0;
        if (!EVP_CipherUpdate(c->ctx, p, &outl, p, chunk) || outl != chunk) {
            c->cur = NULL;
            return KP_ECRYPTO;
        }
        p += chunk;
        n -= (size_t)chunk;
    }
    return KP_OK;
}

/* ---- samples ------------------------------------------------------------------------------ */

/* A sample's subsamples: a big-endian table (senc) or an array. */
typedef struct subs_view {
    const uint8_t *raw; /* 6 bytes each */
    const kp_cenc_subsample *arr;
    size_t n;
} subs_view;

static void sub_at(const subs_view *v, size_t i, size_t *clear, size_t *prot)
{
    if (v->raw) {
        *clear = rd16(v->raw + 6 * i);
        *prot = rd32(v->raw + 6 * i + 2);
    } else {
        *clear = v->arr[i].clear;
        *prot = v->arr[i].protected_;
    }
}

/* CTR state of one sample: counter's low 64 bits wrap without carrying (as libavutil and
 * ISO/IEC 23001-7 count them). */
typedef struct ctr_state {
    uint8_t iv[16];
    uint64_t done; /* keystream bytes used */
} ctr_state;

static int ctr_run(kp_cenc_ctx *c, const uint8_t key[16], int enc, ctr_state *s, uint8_t *p,
                   size_t n)
{
    while (n) {
        uint64_t low = rd64(s->iv + 8) + s->done / 16;
        uint64_t blocks_left = (uint64_t)0 - low; /* before the low half wraps; 0: 2^64 */
        size_t take = n;
        if (blocks_left && blocks_left < ((uint64_t)1 << 59)) {
            uint64_t bytes_left = blocks_left * 16 - s->done % 16;
            if (bytes_left < take)
                take = (size_t)bytes_left;
        }
        int rc = update(c, p, take);
        if (rc < 0)
            return rc;
        s->done += take;
        p += take;
        n -= take;
        if (n) { /* at the wrap: restart with the low half at zero */
            uint8_t iv[16];
            memcpy(iv, s->iv, 8);
            memset(iv + 8, 0, 8);
            memcpy(s->iv, iv, 16);
            s->done = 0;
            if ((rc = cipher_iv(c, c->ctr, enc, key, iv)) < 0)
                return rc;
        }
    }
    return KP_OK;
}

/* ---- batched paths: one AES-ECB call per sample ------------------------------------------
 * OpenSSL's per-call cost dwarfs AES-NI on short inputs, and samples are many and small (an
 * AAC frame is ~200 bytes). So 'cenc' builds the sample's counter blocks and encrypts them in
 * one ECB call (the keystream; the counter's low 64 bits wrap by construction), and 'cbcs'
 * decryption gathers the sample's encrypted blocks, decrypts them in one ECB call and XORs
 * each with its predecessor (CBC decryption needs no chaining through the cipher). */

static int scratch_reserve(kp_cenc_ctx *c, size_t n)
{
    if (n <= c->scratch_cap)
        return KP_OK;
    size_t cap = c->scratch_cap ? c->scratch_cap : 65536;
    while (cap < n)
        cap = cap > SIZE_MAX / 2 ? n : cap * 2;
    uint8_t *p = malloc(cap);
    if (!p)
        return KP_ENOMEM;
    if (c->scratch)
        OPENSSL_cleanse(c->scratch, c->scratch_cap);
    free(c->scratch);
    c->scratch = p;
    c->scratch_cap = cap;
    return KP_OK;
}

static int ecb(kp_cenc_ctx *c, int enc, const uint8_t key[16], const uint8_t *in, uint8_t *out,
               size_t n)
{
    if (c->cur != c->ecb || c->cur_enc != enc || CRYPTO_memcmp(c->cur_key, key, 16) != 0) {
        c->cur = NULL;
        if (!EVP_CipherInit_ex(c->ctx, c->ecb, NULL, key, NULL, enc))
            return KP_ECRYPTO;
        EVP_CIPHER_CTX_set_padding(c->ctx, 0);
        c->cur = c->ecb;
        c->cur_enc = enc;
        memcpy(c->cur_key, key, 16);
    }
    while (n) {
        int chunk = n > (1u << 30) ? (1 << 30) : (int)n, outl = 0;
        if (!EVP_CipherUpdate(c->ctx, out, &outl, in, chunk) || outl != chunk) {
            c->cur = NULL;
            return KP_ECRYPTO;
        }
        in += chunk;
        out += chunk;
        n -= (size_t)chunk;
    }
    return KP_OK;
}

static void xor_into(uint8_t *d, const uint8_t *k, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t a, b;
        memcpy(&a, d + i, 8);
        memcpy(&b, k + i, 8);
        a ^= b;
        memcpy(d + i, &a, 8);
    }
    for (; i < n; i++)
        d[i] ^= k[i];
}

/* A 'cenc' sample of a traf whose keystream is made with the others' in one call. */
typedef struct pending {
    uint8_t *data;
    size_t size, prot;
    uint8_t iv[16];
    subs_view subs;
} pending;

static int pend_add(kp_cenc_ctx *c, size_t k, const pending *p)
{
    if (k == c->pend_cap) {
        size_t cap = c->pend_cap ? 2 * c->pend_cap : 256;
        pending *np = realloc(c->pend, cap * sizeof(*np));
        if (!np)
            return KP_ENOMEM;
        c->pend = np;
        c->pend_cap = cap;
    }
    c->pend[k] = *p;
    return KP_OK;
}

/* The keystream of every pending sample in one ECB call, then XORed into their protected
 * ranges. */
static int cenc_batch(kp_cenc_ctx *c, const uint8_t key[16], size_t n)
{
    size_t nb = 0;
    for (size_t i = 0; i < n; i++) {
        size_t b = (c->pend[i].prot + 15) / 16;
        if (b > SIZE_MAX / 16 - nb)
            return KP_ENOMEM;
        nb += b;
    }
    if (nb == 0)
        return KP_OK;
    int rc = scratch_reserve(c, nb * 16);
    if (rc < 0)
        return rc;
    uint8_t *ks = c->scratch;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *iv = c->pend[i].iv;
        uint64_t low = rd64(iv + 8);
        for (size_t j = 0, b = (c->pend[i].prot + 15) / 16; j < b; j++, ks += 16) {
            memcpy(ks, iv, 8);
            wr64(ks + 8, low + j); /* wraps without carrying into the high half */
        }
    }
    if ((rc = ecb(c, 1, key, c->scratch, c->scratch, nb * 16)) < 0)
        return rc;
    ks = c->scratch;
    for (size_t i = 0; i < n; i++) {
        const pending *p = &c->pend[i];
        size_t pos = 0, m = p->subs.n ? p->subs.n : 1;
        const uint8_t *k = ks;
        for (size_t s = 0; s < m; s++) {
            size_t clear = 0, prot = p->size;
            if (p->subs.n)
                sub_at(&p->subs, s, &clear, &prot);
            pos += clear;
            xor_into(p->data + pos, k, prot);
            k += prot;
            pos += prot;
        }
        ks += 16 * ((p->prot + 15) / 16);
    }
    return KP_OK;
}

/* 'cenc': both directions. */
static int cenc_sample(kp_cenc_ctx *c, const uint8_t key[16], const uint8_t iv[16],
                       const subs_view *subs, uint8_t *data, size_t size, size_t total)
{
    size_t nb = (total + 15) / 16;
    if (nb > SIZE_MAX / 16)
        return KP_ENOMEM;
    int rc = scratch_reserve(c, nb * 16);
    if (rc < 0)
        return rc;
    uint8_t *ks = c->scratch;
    uint64_t low = rd64(iv + 8);
    for (size_t j = 0; j < nb; j++) {
        memcpy(ks + 16 * j, iv, 8);
        wr64(ks + 16 * j + 8, low + j); /* wraps without carrying into the high half */
    }
    if ((rc = ecb(c, 1, key, ks, ks, nb * 16)) < 0)
        return rc;
    size_t pos = 0, n = subs->n ? subs->n : 1;
    for (size_t i = 0; i < n; i++) {
        size_t clear = 0, prot = size;
        if (subs->n)
            sub_at(subs, i, &clear, &prot);
        pos += clear;
        xor_into(data + pos, ks, prot);
        ks += prot;
        pos += prot;
    }
    return KP_OK;
}

/* 'cbcs' decryption (crypt:skip already normalised; crypt >= 1). */
static int cbcs_decrypt_sample(kp_cenc_ctx *c, const uint8_t key[16], const uint8_t iv[16],
                               const subs_view *subs, size_t crypt, size_t skip, uint8_t *data,
                               size_t size)
{
    size_t n = subs->n ? subs->n : 1, nb = 0;
    for (size_t i = 0; i < n; i++) { /* count the encrypted blocks */
        size_t clear = 0, left = size;
        if (subs->n)
            sub_at(subs, i, &clear, &left);
        while (left >= 16) {
            size_t m = crypt * 16 < (left & ~(size_t)15) ? crypt * 16 : (left & ~(size_t)15);
            nb += m / 16;
            left -= m;
            left -= skip * 16 < left ? skip * 16 : left;
        }
    }
    if (nb == 0)
        return KP_OK;
    if (nb > SIZE_MAX / 32)
        return KP_ENOMEM;
    int rc = scratch_reserve(c, nb * 32);
    if (rc < 0)
        return rc;
    uint8_t *ct = c->scratch, *pt = c->scratch + 16 * nb;
    /* gather, decrypt in one call, then XOR with the previous ciphertext block and scatter */
    for (int pass = 0; pass < 2; pass++) {
        size_t pos = 0, j = 0;
        for (size_t i = 0; i < n; i++) {
            size_t clear = 0, prot = size;
            if (subs->n)
                sub_at(subs, i, &clear, &prot);
            pos += clear;
            size_t p = pos, left = prot;
            const uint8_t *prev = iv;
            while (left >= 16) {
                size_t m = crypt * 16 < (left & ~(size_t)15) ? crypt * 16 : (left & ~(size_t)15);
                if (pass == 0) {
                    memcpy(ct + 16 * j, data + p, m);
                    j += m / 16;
                } else {
                    for (size_t b = 0; b < m; b += 16, j++) {
                        uint8_t *d = data + p + b;
                        memcpy(d, pt + 16 * j, 16);
                        xor_into(d, prev, 16);
                        prev = ct + 16 * j;
                    }
                }
                p += m;
                left -= m;
                size_t s = skip * 16 < left ? skip * 16 : left;
                p += s;
                left -= s;
            }
            pos += prot;
        }
        if (pass == 0 && (rc = ecb(c, 0, key, ct, pt, nb * 16)) < 0)
            return rc;
    }
    return KP_OK;
}

static int crypt_sample(kp_cenc_ctx *c, const kp_cenc_track *t, const uint8_t key[16], int enc,
                        const uint8_t *iv_in, size_t iv_size, const subs_view *subs, uint8_t *data,
                        size_t size, kp_cenc_stats *st, char *err, size_t errlen)
{
    char fc[5];
    uint8_t iv[16] = {0};
    if (iv_size != 8 && iv_size != 16)
        return fail(err, errlen, KP_EINVAL, "IV size %zu (8 or 16)", iv_size);
    memcpy(iv, iv_in, iv_size);
    if (!known_scheme(t->scheme))
        return fail(err, errlen, KP_ENOTSUP, "unknown protection scheme '%s'",
                    fourcc_str(t->scheme, fc));
    size_t n = subs->n ? subs->n : 1;
    uint64_t sum = 0, prot_sum = size;
    if (subs->n)
        prot_sum = 0;
    for (size_t i = 0; subs->n && i < subs->n; i++) {
        size_t a, b;
        sub_at(subs, i, &a, &b);
        sum += (uint64_t)a + b;
        prot_sum += b;
    }
    if (subs->n && sum != size)
        return fail(err, errlen, KP_EPARSE, "subsamples add up to %llu bytes, the sample has %zu",
                    (unsigned long long)sum, size);
    bool ctr = t->scheme == KP_CENC_SCHEME_CENC || t->scheme == KP_CENC_SCHEME_CENS;
    bool pattern = t->scheme == KP_CENC_SCHEME_CENS || t->scheme == KP_CENC_SCHEME_CBCS;
    size_t crypt = t->crypt_byte_block, skip = t->skip_byte_block;
    if (!pattern || crypt == 0 || !subs->n) { /* all blocks (cbcs: whole-sample audio) */
        crypt = 1;
        skip = 0;
    }
    int rc;
    if (t->scheme == KP_CENC_SCHEME_CENC || (t->scheme == KP_CENC_SCHEME_CBCS && !enc)) {
        rc = t->scheme == KP_CENC_SCHEME_CENC
                 ? cenc_sample(c, key, iv, subs, data, size, (size_t)prot_sum)
                 : cbcs_decrypt_sample(c, key, iv, subs, crypt, skip, data, size);
        if (rc < 0)
            return fail(err, errlen, rc, rc == KP_ENOMEM ? "out of memory" : "AES failed");
        if (st) {
            st->protected_bytes += (size_t)prot_sum;
            st->samples++;
            st->bytes += size;
        }
        return KP_OK;
    }
    const EVP_CIPHER *cipher = ctr ? c->ctr : c->cbc;
    rc = cipher_iv(c, cipher, enc, key, iv);
    if (rc < 0)
        return fail(err, errlen, rc, "cipher setup failed");
    ctr_state cs;
    memcpy(cs.iv, iv, 16);
    cs.done = 0;
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        size_t clear = 0, prot = size;
        if (subs->n)
            sub_at(subs, i, &clear, &prot);
        pos += clear;
        uint8_t *p = data + pos;
        pos += prot;
        if (st)
            st->protected_bytes += prot;
        if (t->scheme == KP_CENC_SCHEME_CENC) {
            rc = ctr_run(c, key, enc, &cs, p, prot);
        } else if (t->scheme == KP_CENC_SCHEME_CBC1) {
            rc = update(c, p, prot & ~(size_t)15);
        } else {
            if (t->scheme == KP_CENC_SCHEME_CBCS && i > 0)
                rc = cipher_iv(c, cipher, enc, key, iv); /* IV reset per subsample */
            size_t left = prot;
            while (rc == 0 && left >= 16) {
                size_t m = crypt * 16 < (left & ~(size_t)15) ? crypt * 16 : (left & ~(size_t)15);
                rc = ctr ? ctr_run(c, key, enc, &cs, p, m) : update(c, p, m);
                p += m;
                left -= m;
                size_t s = skip * 16 < left ? skip * 16 : left;
                p += s;
                left -= s;
            }
        }
        if (rc < 0)
            return fail(err, errlen, rc, "AES failed");
    }
    if (st) {
        st->samples++;
        st->bytes += size;
    }
    return KP_OK;
}

int kp_cenc_crypt_sample(kp_cenc_ctx *c, const kp_cenc_track *t, const uint8_t key[16], int encrypt,
                         const uint8_t *iv, size_t iv_size, const kp_cenc_subsample *subs, size_t n,
                         uint8_t *data, size_t size, char *err, size_t errlen)
{
    if (!c || !t || !key || !iv || (n && !subs) || (size && !data))
        return fail(err, errlen, KP_EINVAL, "missing argument");
    subs_view v = {.arr = subs, .n = n};
    return crypt_sample(c, t, key, encrypt ? 1 : 0, iv, iv_size, &v, data, size, NULL, err, errlen);
}

/* ---- fragments ---------------------------------------------------------------------------- */

#define MAX_TRUNS 64

typedef struct traf_info {
    uint32_t flags, track_id;
    uint64_t base_offset; /* tfhd base_data_offset */
    uint32_t default_size;
    kp_cenc_box trun[MAX_TRUNS];
    size_t n_trun;
    kp_cenc_box senc, saiz, saio;
    bool has_senc, has_saiz, has_saio, has_seig;
} traf_info;

static int read_traf(const kp_cenc_box *traf, traf_info *ti, char *err, size_t errlen)
{
    memset(ti, 0, sizeof(*ti));
    size_t pos = 0;
    kp_cenc_box b;
    int rc;
    bool tfhd = false;
    while ((rc = kp_cenc_box_next(traf->body, traf->body_size, &pos, &b, err, errlen)) > 0) {
        switch (b.type) {
        case FOURCC('t', 'f', 'h', 'd'): {
            if (b.body_size < 8)
                return fail(err, errlen, KP_EPARSE, "truncated tfhd");
            ti->flags = rd32(b.body) & 0xffffff;
            ti->track_id = rd32(b.body + 4);
            size_t q = 8;
            size_t need = q + (ti->flags & 1 ? 8 : 0) + (ti->flags & 2 ? 4 : 0) +
                          (ti->flags & 8 ? 4 : 0) + (ti->flags & 0x10 ? 4 : 0) +
                          (ti->flags & 0x20 ? 4 : 0);
            if (b.body_size < need)
                return fail(err, errlen, KP_EPARSE, "truncated tfhd (flags 0x%x)", ti->flags);
            if (ti->flags & 1) {
                ti->base_offset = rd64(b.body + q);
                q += 8;
            }
            q += ti->flags & 2 ? 4 : 0;
            q += ti->flags & 8 ? 4 : 0;
            if (ti->flags & 0x10)
                ti->default_size = rd32(b.body + q);
            tfhd = true;
            break;
        }
        case FOURCC('t', 'r', 'u', 'n'):
            if (ti->n_trun == MAX_TRUNS)
                return fail(err, errlen, KP_ENOTSUP, "more than %d trun in a traf", MAX_TRUNS);
            ti->trun[ti->n_trun++] = b;
            break;
        case FOURCC('s', 'e', 'n', 'c'):
            ti->senc = b;
            ti->has_senc = true;
            break;
        case FOURCC('s', 'a', 'i', 'z'):
            ti->saiz = b;
            ti->has_saiz = true;
            break;
        case FOURCC('s', 'a', 'i', 'o'):
            ti->saio = b;
            ti->has_saio = true;
            break;
        case FOURCC('s', 'b', 'g', 'p'):
            if (b.body_size >= 8 && rd32(b.body + 4) == FOURCC('s', 'e', 'i', 'g'))
                ti->has_seig = true;
            break;
        default:
            break;
        }
    }
    if (rc < 0)
        return rc;
    if (!tfhd)
        return fail(err, errlen, KP_EPARSE, "traf without tfhd");
    return KP_OK;
}

/* Walks the samples of a traf's truns in order. */
typedef struct sample_iter {
    const traf_info *ti;
    size_t trun, idx;
    uint32_t tflags, count;
    const uint8_t *rec;
    size_t rec_size;
    uint64_t data; /* absolute offset (in the buffer) of the next sample */
    uint64_t base; /* the traf's base data offset */
    uint32_t default_size;
} sample_iter;

static int iter_trun(sample_iter *it, char *err, size_t errlen)
{
    const kp_cenc_box *b = &it->ti->trun[it->trun];
    if (b->body_size < 8)
        return fail(err, errlen, KP_EPARSE, "truncated trun");
    it->tflags = rd32(b->body) & 0xffffff;
    it->count = rd32(b->body + 4);
    size_t q = 8;
    if (it->tflags & 1) {
        if (b->body_size < q + 4)
            return fail(err, errlen, KP_EPARSE, "truncated trun data_offset");
        int32_t off = (int32_t)rd32(b->body + q);
        it->data = it->base + (uint64_t)(int64_t)off;
        q += 4;
    }
    q += it->tflags & 4 ? 4 : 0;
    it->rec_size = (it->tflags & 0x100 ? 4 : 0) + (it->tflags & 0x200 ? 4 : 0) +
                   (it->tflags & 0x400 ? 4 : 0) + (it->tflags & 0x800 ? 4 : 0);
    if (b->body_size < q || (it->rec_size && it->count > (b->body_size - q) / it->rec_size))
        return fail(err, errlen, KP_EPARSE, "trun of %u samples overruns its box", it->count);
    it->rec = b->body + q;
    it->idx = 0;
    return KP_OK;
}

/* 1 and the next sample's offset and size, 0 at the end, or an error. */
static int iter_next(sample_iter *it, uint64_t *off, uint32_t *size, char *err, size_t errlen)
{
    while (it->idx == it->count) {
        if (++it->trun >= it->ti->n_trun)
            return 0;
        int rc = iter_trun(it, err, errlen);
        if (rc < 0)
            return rc;
    }
    uint32_t s = it->default_size;
    if (it->tflags & 0x200)
        s = rd32(it->rec + it->rec_size * it->idx + (it->tflags & 0x100 ? 4 : 0));
    it->idx++;
    *off = it->data;
    *size = s;
    it->data += s;
    return 1;
}

static int iter_start(sample_iter *it, const traf_info *ti, uint64_t base, uint32_t dflt,
                      uint64_t *total, char *err, size_t errlen)
{
    memset(it, 0, sizeof(*it));
    it->ti = ti;
    it->base = it->data = base;
    it->default_size = dflt;
    *total = 0;
    for (size_t i = 0; i < ti->n_trun; i++) {
        if (ti->trun[i].body_size < 8)
            return fail(err, errlen, KP_EPARSE, "truncated trun");
        *total += rd32(ti->trun[i].body + 4);
    }
    if (*total > KP_CENC_MAX_TRAF_SAMPLES)
        return fail(err, errlen, KP_ENOTSUP, "track %u: %llu samples in one traf (at most %u)",
                    ti->track_id, (unsigned long long)*total, KP_CENC_MAX_TRAF_SAMPLES);
    if (ti->n_trun == 0)
        return KP_OK;
    it->trun = 0;
    return iter_trun(it, err, errlen);
}

/* The sample auxiliary information of a traf: from senc, or from saiz/saio. */
typedef struct aux_info {
    const uint8_t *p, *end;
    bool subsamples; /* senc flag 2 (saiz-only: inferred from each entry's size) */
    bool from_saiz;
    const uint8_t *sizes; /* saiz table, or NULL with default size */
    uint8_t default_size;
    size_t idx;
} aux_info;

static int saiz_read(const kp_cenc_box *b, uint8_t *dflt, uint32_t *count, const uint8_t **sizes,
                     char *err, size_t errlen)
{
    size_t q = 4;
    if (b->body_size < 4)
        return fail(err, errlen, KP_EPARSE, "truncated saiz");
    if (rd32(b->body) & 1)
        q += 8;
    if (b->body_size < q + 5)
        return fail(err, errlen, KP_EPARSE, "truncated saiz");
    *dflt = b->body[q];
    *count = rd32(b->body + q + 1);
    q += 5;
    *sizes = NULL;
    if (*dflt == 0) {
        if (*count > b->body_size - q)
            return fail(err, errlen, KP_EPARSE, "saiz table of %u entries overruns its box",
                        *count);
        *sizes = b->body + q;
    }
    return KP_OK;
}

static int saio_read(const kp_cenc_box *b, uint64_t *offset, char *err, size_t errlen)
{
    if (b->body_size < 4)
        return fail(err, errlen, KP_EPARSE, "truncated saio");
    uint8_t v = b->body[0];
    size_t q = 4 + (rd32(b->body) & 1 ? 8 : 0);
    if (b->body_size < q + 4)
        return fail(err, errlen, KP_EPARSE, "truncated saio");
    uint32_t n = rd32(b->body + q);
    q += 4;
    if (n != 1)
        return fail(err, errlen, KP_ENOTSUP, "saio with %u offsets (1 supported)", n);
    if (b->body_size < q + (v ? 8 : 4))
        return fail(err, errlen, KP_EPARSE, "truncated saio offset");
    *offset = v ? rd64(b->body + q) : rd32(b->body + q);
    return KP_OK;
}

/* Next sample's IV and subsamples. */
static int aux_next(aux_info *a, const kp_cenc_track *t, const uint8_t **iv, subs_view *subs,
                    char *err, size_t errlen)
{
    size_t entry = 0;
    if (a->from_saiz) {
        entry = a->sizes ? a->sizes[a->idx] : a->default_size;
        if ((size_t)(a->end - a->p) < entry)
            return fail(err, errlen, KP_EPARSE, "auxiliary information of sample %zu truncated",
                        a->idx);
        if (entry < t->iv_size)
            return fail(err, errlen, KP_EPARSE, "auxiliary information of sample %zu: %zu bytes",
                        a->idx, entry);
    }
    const uint8_t *start = a->p;
    if ((size_t)(a->end - a->p) < t->iv_size)
        return fail(err, errlen, KP_EPARSE, "senc truncated in the IV of sample %zu", a->idx);
    *iv = t->iv_size ? a->p : t->constant_iv;
    a->p += t->iv_size;
    subs->raw = NULL;
    subs->arr = NULL;
    subs->n = 0;
    bool has_subs = a->from_saiz ? entry > t->iv_size : a->subsamples;
    if (has_subs) {
        if (a->end - a->p < 2)
            return fail(err, errlen, KP_EPARSE,
                        "senc truncated in the subsample count of sample %zu", a->idx);
        size_t k = rd16(a->p);
        a->p += 2;
        if ((size_t)(a->end - a->p) / 6 < k)
            return fail(err, errlen, KP_EPARSE,
                        "senc truncated in the %zu subsamples of sample %zu", k, a->idx);
        subs->raw = a->p;
        subs->n = k;
        a->p += 6 * k;
    }
    if (a->from_saiz && (size_t)(a->p - start) != entry)
        return fail(err, errlen, KP_EPARSE,
                    "auxiliary information of sample %zu: %zu bytes used, saiz says %zu", a->idx,
                    (size_t)(a->p - start), entry);
    a->idx++;
    return KP_OK;
}

/* Encrypts or decrypts the samples of one moof (at moof->offset of buf). The mdat is the box
 * right after it. */
static int crypt_moof(kp_cenc_ctx *c, const kp_cenc_init *init, const uint8_t key[16], int enc,
                      uint8_t *buf, size_t len, const kp_cenc_box *moof, const kp_cenc_box *mdat,
                      kp_cenc_stats *st, char *err, size_t errlen)
{
    size_t pos = 0;
    kp_cenc_box traf;
    int rc;
    uint64_t prev_end = moof->offset;
    bool first = true;
    size_t mdat_lo = mdat->offset + mdat->header, mdat_hi = mdat->offset + mdat->size;
    while ((rc = kp_cenc_box_next(moof->body, moof->body_size, &pos, &traf, err, errlen)) > 0) {
        if (traf.type != FOURCC('t', 'r', 'a', 'f'))
            continue;
        traf_info ti;
        if ((rc = read_traf(&traf, &ti, err, errlen)) < 0)
            return rc;
        const kp_cenc_track *t = kp_cenc_init_track(init, ti.track_id);
        if (!t)
            return fail(err, errlen, KP_EPARSE, "traf of track %u, which the init lacks",
                        ti.track_id);
        uint64_t base = ti.flags & 1                    ? ti.base_offset
                        : (ti.flags & 0x20000) || first ? moof->offset
                                                        : prev_end;
        first = false;
        sample_iter it;
        uint64_t total;
        uint32_t dflt = ti.flags & 0x10 ? ti.default_size : t->default_sample_size;
        if ((rc = iter_start(&it, &ti, base, dflt, &total, err, errlen)) < 0)
            return rc;
        if (!t->encrypted || !t->is_protected) {
            uint64_t off;
            uint32_t size;
            while ((rc = iter_next(&it, &off, &size, err, errlen)) > 0)
                prev_end = off + size;
            if (rc < 0)
                return rc;
            continue;
        }
        if (ti.has_seig)
            return fail(err, errlen, KP_ENOTSUP,
                        "track %u: sample-group (seig) key or IV overrides", ti.track_id);
        aux_info a = {0};
        uint32_t saiz_count = 0;
        uint8_t saiz_dflt = 0;
        const uint8_t *saiz_sizes = NULL;
        uint64_t saio_off = 0;
        if (ti.has_saiz &&
            (rc = saiz_read(&ti.saiz, &saiz_dflt, &saiz_count, &saiz_sizes, err, errlen)) < 0)
            return rc;
        if (ti.has_saio && (rc = saio_read(&ti.saio, &saio_off, err, errlen)) < 0)
            return rc;
        if (ti.has_saiz && saiz_count != total)
            return fail(err, errlen, KP_EPARSE, "saiz has %u samples, trun %llu", saiz_count,
                        (unsigned long long)total);
        if (ti.has_senc) {
            const kp_cenc_box *s = &ti.senc;
            if (s->body_size < 8)
                return fail(err, errlen, KP_EPARSE, "truncated senc");
            uint32_t sflags = rd32(s->body) & 0xffffff;
            if (sflags & 1)
                return fail(err, errlen, KP_ENOTSUP, "senc overriding the track's parameters");
            uint32_t count = rd32(s->body + 4);
            if (count != total)
                return fail(err, errlen, KP_EPARSE, "senc has %u samples, trun %llu", count,
                            (unsigned long long)total);
            a.p = s->body + 8;
            a.end = s->body + s->body_size;
            a.subsamples = sflags & 2;
            if (ti.has_saio) {
                uint64_t at = (uint64_t)(a.p - buf);
                uint64_t base_aux = ti.flags & 1 ? ti.base_offset : moof->offset;
                if (base_aux + saio_off != at)
                    return fail(err, errlen, KP_EPARSE,
                                "saio points at offset %llu, senc's samples are at %llu",
                                (unsigned long long)(base_aux + saio_off), (unsigned long long)at);
            }
        } else if (ti.has_saiz && ti.has_saio) {
            uint64_t base_aux = ti.flags & 1 ? ti.base_offset : moof->offset;
            uint64_t sum = 0;
            for (uint32_t i = 0; i < saiz_count; i++)
                sum += saiz_sizes ? saiz_sizes[i] : saiz_dflt;
            uint64_t at = base_aux + saio_off;
            if (at > len || sum > len - at)
                return fail(err, errlen, KP_EPARSE,
                            "saio/saiz auxiliary information outside the segment");
            a.p = buf + at;
            a.end = a.p + sum;
            a.from_saiz = true;
            a.sizes = saiz_sizes;
            a.default_size = saiz_dflt;
        } else if (total) {
            return fail(err, errlen, KP_EPARSE,
                        "track %u: protected samples without senc or saiz/saio", ti.track_id);
        }
        uint64_t off;
        uint32_t size;
        size_t k = 0, n_pend = 0;
        while ((rc = iter_next(&it, &off, &size, err, errlen)) > 0) {
            const uint8_t *entry_start = a.p;
            const uint8_t *iv = NULL;
            subs_view sv = {0};
            if ((rc = aux_next(&a, t, &iv, &sv, err, errlen)) < 0)
                return rc;
            if (ti.has_saiz && !a.from_saiz) {
                size_t want = saiz_sizes ? saiz_sizes[k] : saiz_dflt;
                if ((size_t)(a.p - entry_start) != want)
                    return fail(err, errlen, KP_EPARSE,
                                "saiz gives sample %zu %zu bytes of senc, it has %zu", k, want,
                                (size_t)(a.p - entry_start));
            }
            if (off < mdat_lo || off > mdat_hi || size > mdat_hi - off)
                return fail(err, errlen, KP_EPARSE,
                            "sample %zu of track %u (%u bytes at %llu) lies outside the mdat", k,
                            ti.track_id, size, (unsigned long long)off);
            size_t ivs = t->iv_size ? t->iv_size : t->constant_iv_size;
            if (t->scheme == KP_CENC_SCHEME_CENC && (ivs == 8 || ivs == 16)) {
                pending pd = {.data = buf + off, .size = size, .prot = size, .subs = sv};
                uint64_t sum = 0;
                if (sv.n) {
                    pd.prot = 0;
                    for (size_t i = 0; i < sv.n; i++) {
                        size_t cl, pr;
                        sub_at(&sv, i, &cl, &pr);
                        sum += (uint64_t)cl + pr;
                        pd.prot += pr;
                    }
                    if (sum != size)
                        return fail(err, errlen, KP_EPARSE,
                                    "sample %zu of track %u: subsamples add up to %llu bytes, "
                                    "the sample has %u",
                                    k, ti.track_id, (unsigned long long)sum, size);
                }
                memset(pd.iv, 0, 16);
                memcpy(pd.iv, iv, ivs);
                if ((rc = pend_add(c, n_pend++, &pd)) < 0)
                    return fail(err, errlen, rc, "out of memory");
                if (st) {
                    st->samples++;
                    st->bytes += size;
                    st->protected_bytes += pd.prot;
                }
                prev_end = off + size;
                k++;
                continue;
            }
            rc = crypt_sample(c, t, key, enc, iv, ivs, &sv, buf + off, size, st, err, errlen);
            if (rc < 0) {
                char tmp[160];
                snprintf(tmp, sizeof(tmp), "%s", err ? err : "");
                return fail(err, errlen, rc, "sample %zu of track %u: %s", k, ti.track_id, tmp);
            }
            prev_end = off + size;
            k++;
        }
        if (rc < 0)
            return rc;
        if (a.p != a.end && !a.from_saiz)
            return fail(err, errlen, KP_EPARSE, "senc has %zu bytes beyond its %zu samples",
                        (size_t)(a.end - a.p), k);
        if (n_pend && (rc = cenc_batch(c, key, n_pend)) < 0)
            return fail(err, errlen, rc, rc == KP_ENOMEM ? "out of memory" : "AES failed");
    }
    return rc;
}

static int walk_fragment(kp_cenc_ctx *c, const kp_cenc_init *init, const uint8_t key[16], int enc,
                         uint8_t *buf, size_t len, kp_cenc_stats *st, char *err, size_t errlen)
{
    if (!c || !init || !key || (!buf && len))
        return fail(err, errlen, KP_EINVAL, "missing argument");
    size_t pos = 0;
    kp_cenc_box b, moof;
    bool have_moof = false;
    int rc;
    while ((rc = kp_cenc_box_next(buf, len, &pos, &b, err, errlen)) > 0) {
        if (b.type == FOURCC('m', 'o', 'o', 'f')) {
            if (have_moof)
                return fail(err, errlen, KP_EPARSE, "moof at offset %zu without its mdat",
                            moof.offset);
            moof = b;
            have_moof = true;
        } else if (b.type == FOURCC('m', 'd', 'a', 't')) {
            if (!have_moof)
                return fail(err, errlen, KP_EPARSE, "mdat at offset %zu without a moof", b.offset);
            if ((rc = crypt_moof(c, init, key, enc, buf, len, &moof, &b, st, err, errlen)) < 0)
                return rc;
            have_moof = false;
        }
    }
    if (rc < 0)
        return rc;
    if (have_moof)
        return fail(err, errlen, KP_EPARSE, "moof at offset %zu without its mdat", moof.offset);
    return KP_OK;
}

int kp_cenc_decrypt_fragment(kp_cenc_ctx *c, const kp_cenc_init *init, const uint8_t key[16],
                             uint8_t *buf, size_t len, kp_cenc_stats *stats, char *err,
                             size_t errlen)
{
    return walk_fragment(c, init, key, 0, buf, len, stats, err, errlen);
}

/* ---- packaging ---------------------------------------------------------------------------- */

static int copy_box(kp_buf *out, const kp_cenc_box *b, const uint8_t *base)
{
    return kp_buf_append(out, base + b->offset, b->size);
}

static int write_sinf(kp_buf *out, const kp_cenc_protect *p, uint32_t format, bool video, char *err,
                      size_t errlen)
{
    size_t sinf, box;
    int rc = box_open(out, FOURCC('s', 'i', 'n', 'f'), &sinf);
    if (rc == 0 && (rc = box_open(out, FOURCC('f', 'r', 'm', 'a'), &box)) == 0 &&
        (rc = put32(out, format)) == 0)
        rc = box_close(out, box, err, errlen);
    if (rc == 0 && (rc = box_open(out, FOURCC('s', 'c', 'h', 'm'), &box)) == 0 &&
        (rc = put32(out, 0)) == 0 && (rc = put32(out, p->scheme)) == 0 &&
        (rc = put32(out, 0x00010000)) == 0)
        rc = box_close(out, box, err, errlen);
    size_t schi = 0;
    if (rc == 0)
        rc = box_open(out, FOURCC('s', 'c', 'h', 'i'), &schi);
    if (rc == 0 && (rc = box_open(out, FOURCC('t', 'e', 'n', 'c'), &box)) == 0) {
        uint8_t t[4 + 4 + 16 + 1 + 16];
        size_t n;
        memset(t, 0, sizeof(t));
        if (p->scheme == KP_CENC_SCHEME_CENC) {
            t[6] = 1; /* isProtected */
            t[7] = 8; /* per-sample IV size */
            memcpy(t + 8, p->kid, 16);
            n = 24;
        } else {
            t[0] = 1;                /* version 1: pattern */
            t[5] = video ? 0x19 : 0; /* video 1:9, audio whole blocks */
            t[6] = 1;                /* isProtected */
            t[7] = 0;                /* constant IV */
            memcpy(t + 8, p->kid, 16);
            t[24] = 16;
            memcpy(t + 25, p->constant_iv, 16);
            n = 41;
        }
        rc = kp_buf_append(out, t, n);
        if (rc == 0)
            rc = box_close(out, box, err, errlen);
    }
    if (rc == 0)
        rc = box_close(out, schi, err, errlen);
    if (rc == 0)
        rc = box_close(out, sinf, err, errlen);
    return rc;
}

static int protect_stsd(const kp_cenc_protect *p, const uint8_t *base, const kp_cenc_box *stsd,
                        kp_buf *out, char *err, size_t errlen)
{
    char fc[5];
    if (stsd->body_size < 8)
        return fail(err, errlen, KP_EPARSE, "truncated stsd");
    size_t start;
    int rc = box_open(out, stsd->type, &start);
    if (rc == 0)
        rc = kp_buf_append(out, stsd->body, 8);
    size_t pos = 0;
    kp_cenc_box e;
    const uint8_t *entries = stsd->body + 8;
    while (rc == 0 &&
           (rc = kp_cenc_box_next(entries, stsd->body_size - 8, &pos, &e, err, errlen)) > 0) {
        bool video = e.type == FOURCC('a', 'v', 'c', '1') || e.type == FOURCC('a', 'v', 'c', '3');
        bool audio = e.type == FOURCC('m', 'p', '4', 'a');
        if (!video && !audio)
            return fail(err, errlen, KP_ENOTSUP, "cannot protect sample entry '%s'",
                        fourcc_str(e.type, fc));
        size_t fixed, es;
        if ((rc = entry_fixed_size(&e, video, audio, &fixed, err, errlen)) < 0)
            return rc;
        rc = box_open(out, video ? FOURCC('e', 'n', 'c', 'v') : FOURCC('e', 'n', 'c', 'a'), &es);
        if (rc == 0)
            rc = kp_buf_append(out, e.body, e.body_size);
        if (rc == 0)
            rc = write_sinf(out, p, e.type, video, err, errlen);
        if (rc == 0)
            rc = box_close(out, es, err, errlen);
    }
    if (rc < 0)
        return rc;
    (void)base;
    return box_close(out, start, err, errlen);
}

/* Copies the boxes of body, rebuilding the containers on the way to stsd. */
static int protect_boxes(const kp_cenc_protect *p, const uint8_t *base, const uint8_t *body,
                         size_t len, int depth, kp_buf *out, char *err, size_t errlen)
{
    static const uint32_t path[] = {FOURCC('m', 'o', 'o', 'v'), FOURCC('t', 'r', 'a', 'k'),
                                    FOURCC('m', 'd', 'i', 'a'), FOURCC('m', 'i', 'n', 'f'),
                                    FOURCC('s', 't', 'b', 'l')};
    size_t pos = 0;
    kp_cenc_box b;
    int rc;
    bool stsd_seen = false;
    while ((rc = kp_cenc_box_next(body, len, &pos, &b, err, errlen)) > 0) {
        b.offset += (size_t)(body - base);
        bool down = depth < 5 &&
                    (b.type == path[depth] || (depth == 1 && b.type == FOURCC('t', 'r', 'a', 'k')));
        if (depth == 5 && b.type == FOURCC('s', 't', 's', 'd')) {
            rc = protect_stsd(p, base, &b, out, err, errlen);
            stsd_seen = true;
        } else if (down && (depth != 1 || b.type == FOURCC('t', 'r', 'a', 'k'))) {
            size_t start;
            if (b.header != 8)
                return fail(err, errlen, KP_ENOTSUP, "64-bit box size in the init segment");
            rc = box_open(out, b.type, &start);
            if (rc == 0)
                rc = protect_boxes(p, base, b.body, b.body_size, depth + 1, out, err, errlen);
            if (rc == 0 && depth == 0 && p->pssh_len)
                rc = kp_buf_append(out, p->pssh, p->pssh_len);
            if (rc == 0)
                rc = box_close(out, start, err, errlen);
        } else {
            rc = copy_box(out, &b, base);
        }
        if (rc < 0)
            return rc;
    }
    if (rc < 0)
        return rc;
    if (depth == 5 && !stsd_seen)
        return fail(err, errlen, KP_EPARSE, "stbl without stsd");
    return KP_OK;
}

int kp_cenc_protect_init(const kp_cenc_protect *p, const uint8_t *in, size_t len, kp_buf *out,
                         char *err, size_t errlen)
{
    if (!p || !out || (!in && len))
        return fail(err, errlen, KP_EINVAL, "missing argument");
    if (p->scheme != KP_CENC_SCHEME_CENC && p->scheme != KP_CENC_SCHEME_CBCS) {
        char fc[5];
        return fail(err, errlen, KP_ENOTSUP, "cannot package scheme '%s'",
                    fourcc_str(p->scheme, fc));
    }
    if (p->pssh_len) {
        size_t pos = 0;
        kp_cenc_box b;
        kp_cenc_pssh ps;
        int rc;
        while ((rc = kp_cenc_box_next(p->pssh, p->pssh_len, &pos, &b, err, errlen)) > 0)
            if ((rc = kp_cenc_parse_pssh(p->pssh + b.offset, b.size, &ps, err, errlen)) < 0)
                return rc;
        if (rc < 0)
            return rc;
    }
    size_t start = out->len;
    int rc = protect_boxes(p, in, in, len, 0, out, err, errlen);
    if (rc < 0)
        out->len = start;
    return rc;
}

/* Subsamples of an AVC sample (4-byte NAL lengths), as (clear, protected) pairs appended
 * to b as senc entries; *n gets their count. */
static int avc_subsamples(const uint8_t *s, size_t size, bool cbcs, uint8_t *tab, size_t cap,
                          size_t *n, char *err, size_t errlen)
{
    size_t pos = 0, carry = 0, k = 0;
    while (pos < size) {
        if (size - pos < 5)
            return fail(err, errlen, KP_EPARSE, "truncated NAL unit length at byte %zu", pos);
        size_t nal = rd32(s + pos);
        if (nal == 0 || nal > size - pos - 4)
            return fail(err, errlen, KP_EPARSE,
                        "NAL unit of %zu bytes at byte %zu overruns the %zu-byte sample", nal, pos,
                        size);
        int type = s[pos + 4] & 0x1f;
        size_t total = 4 + nal, clear = total;
        if ((type == 1 || type == 5) && nal > 48)
            clear = cbcs ? 4 + 32 : 4 + 1 + (nal - 1) % 16;
        pos += total;
        carry += clear;
        size_t prot = total - clear;
        if (!prot && pos < size)
            continue;
        while (carry > 0xffff) { /* the clear count is 16 bits: split long clear runs */
            if (k == cap)
                return fail(err, errlen, KP_ENOTSUP, "sample needs more than %zu subsamples", cap);
            tab[6 * k] = 0xff;
            tab[6 * k + 1] = 0xff;
            wr32(tab + 6 * k + 2, 0);
            k++;
            carry -= 0xffff;
        }
        if (k == cap)
            return fail(err, errlen, KP_ENOTSUP, "sample needs more than %zu subsamples", cap);
        tab[6 * k] = (uint8_t)(carry >> 8);
        tab[6 * k + 1] = (uint8_t)carry;
        wr32(tab + 6 * k + 2, (uint32_t)prot);
        k++;
        carry = 0;
    }
    *n = k;
    return KP_OK;
}

#define MAX_SUBS 41 /* saiz entries are one byte: 8 + 2 + 6 * 41 = 256 - 2 */

typedef struct patch {
    size_t trun_at;  /* out offset of a trun's data_offset field, or 0 */
    size_t saio_at;  /* out offset of saio's offset field */
    size_t senc_at;  /* out offset of senc's first sample entry */
    size_t moof_out; /* out offset of the moof */
} patch;

/* Writes the protected traf into out, reading samples from in. */
static int protect_traf(const kp_cenc_init *init, const uint8_t *in, size_t in_len,
                        const kp_cenc_box *moof, const kp_cenc_box *traf, uint64_t *next_iv,
                        kp_buf *out, patch *pt, size_t *n_pt, size_t cap_pt, size_t moof_out,
                        char *err, size_t errlen)
{
    traf_info ti;
    int rc = read_traf(traf, &ti, err, errlen);
    if (rc < 0)
        return rc;
    const kp_cenc_track *t = kp_cenc_init_track(init, ti.track_id);
    if (!t)
        return fail(err, errlen, KP_EPARSE, "traf of track %u, which the init lacks", ti.track_id);
    if (ti.has_senc || ti.has_saiz || ti.has_saio)
        return fail(err, errlen, KP_EPARSE, "track %u is already protected", ti.track_id);
    if (!(ti.flags & 0x20000) || (ti.flags & 1))
        return fail(err, errlen, KP_ENOTSUP, "tfhd of track %u is not default-base-is-moof",
                    ti.track_id);
    size_t start;
    if ((rc = box_open(out, FOURCC('t', 'r', 'a', 'f'), &start)) < 0)
        return rc;
    size_t pos = 0;
    kp_cenc_box b;
    while ((rc = kp_cenc_box_next(traf->body, traf->body_size, &pos, &b, err, errlen)) > 0) {
        size_t at = out->len;
        if ((rc = kp_buf_append(out, b.body - b.header, b.size)) < 0)
            return rc;
        if (b.type == FOURCC('t', 'r', 'u', 'n') && b.body_size >= 12 && (rd32(b.body) & 1)) {
            if (*n_pt == cap_pt)
                return fail(err, errlen, KP_ENOTSUP, "too many trun boxes");
            pt[(*n_pt)++] = (patch){.trun_at = at + b.header + 8, .moof_out = moof_out};
        }
    }
    if (rc < 0)
        return rc;
    if (!t->encrypted)
        return box_close(out, start, err, errlen);
    bool cbcs = t->scheme == KP_CENC_SCHEME_CBCS;
    if (t->scheme != KP_CENC_SCHEME_CENC && !cbcs)
        return fail(err, errlen, KP_ENOTSUP, "cannot package this scheme");
    if (!cbcs && t->iv_size != 8)
        return fail(err, errlen, KP_ENOTSUP, "cenc packaging uses 8-byte IVs");
    sample_iter it;
    uint64_t total, off;
    uint32_t size;
    uint32_t dflt = ti.flags & 0x10 ? ti.default_size : t->default_sample_size;
    if ((rc = iter_start(&it, &ti, moof->offset, dflt, &total, err, errlen)) < 0)
        return rc;
    if (total > 1000000)
        return fail(err, errlen, KP_ENOTSUP, "fragment of %llu samples", (unsigned long long)total);
    bool subs = t->is_video;
    /* saiz (before senc: its sizes are known only after the senc entries) */
    kp_buf senc, sizes;
    kp_buf_init(&senc);
    kp_buf_init(&sizes);
    uint8_t tab[6 * MAX_SUBS];
    while ((rc = iter_next(&it, &off, &size, err, errlen)) > 0) {
        rc = 0;
        if (off < moof->offset + moof->size || off > in_len || size > in_len - off)
            rc = fail(err, errlen, KP_EPARSE, "sample of %u bytes at %llu lies outside the segment",
                      size, (unsigned long long)off);
        size_t before = senc.len, n = 0;
        if (rc == 0 && !cbcs) {
            uint8_t iv[8];
            wr64(iv, (*next_iv)++);
            rc = kp_buf_append(&senc, iv, 8);
        }
        if (rc == 0 && subs) {
            rc = avc_subsamples(in + off, size, cbcs, tab, MAX_SUBS, &n, err, errlen);
            uint8_t cnt[2] = {(uint8_t)(n >> 8), (uint8_t)n};
            if (rc == 0)
                rc = kp_buf_append(&senc, cnt, 2);
            if (rc == 0)
                rc = kp_buf_append(&senc, tab, 6 * n);
        }
        uint8_t sz = (uint8_t)(senc.len - before);
        if (rc == 0)
            rc = kp_buf_append(&sizes, &sz, 1);
        if (rc < 0)
            break;
    }
    bool same = true;
    for (size_t i = 1; i < sizes.len; i++)
        same = same && sizes.data[i] == sizes.data[0];
    size_t box;
    if (rc == 0 && (rc = box_open(out, FOURCC('s', 'a', 'i', 'z'), &box)) == 0 &&
        (rc = put32(out, 0)) == 0) {
        uint8_t d = same && sizes.len ? (uint8_t)sizes.data[0] : 0;
        if ((rc = kp_buf_append(out, &d, 1)) == 0 && (rc = put32(out, (uint32_t)total)) == 0 && !d)
            rc = kp_buf_append(out, sizes.data, sizes.len);
        if (rc == 0)
            rc = box_close(out, box, err, errlen);
    }
    size_t saio_field = 0;
    if (rc == 0 && (rc = box_open(out, FOURCC('s', 'a', 'i', 'o'), &box)) == 0 &&
        (rc = put32(out, 0)) == 0 && (rc = put32(out, 1)) == 0) {
        saio_field = out->len;
        if ((rc = put32(out, 0)) == 0)
            rc = box_close(out, box, err, errlen);
    }
    size_t senc_entries = 0;
    if (rc == 0 && (rc = box_open(out, FOURCC('s', 'e', 'n', 'c'), &box)) == 0 &&
        (rc = put32(out, subs ? 2 : 0)) == 0 && (rc = put32(out, (uint32_t)total)) == 0) {
        senc_entries = out->len;
        if ((rc = kp_buf_append(out, senc.data, senc.len)) == 0)
            rc = box_close(out, box, err, errlen);
    }
    kp_buf_free(&senc);
    kp_buf_free(&sizes);
    if (rc < 0)
        return rc;
    if (*n_pt == cap_pt)
        return fail(err, errlen, KP_ENOTSUP, "too many traf boxes");
    pt[(*n_pt)++] = (patch){.saio_at = saio_field, .senc_at = senc_entries, .moof_out = moof_out};
    return box_close(out, start, err, errlen);
}

int kp_cenc_protect_fragment(kp_cenc_ctx *c, const kp_cenc_init *init, const uint8_t key[16],
                             uint64_t *next_iv, const uint8_t *in, size_t len, kp_buf *out,
                             char *err, size_t errlen)
{
    if (!c || !init || !key || !next_iv || !out || (!in && len))
        return fail(err, errlen, KP_EINVAL, "missing argument");
    size_t start = out->len, sidx_at = SIZE_MAX, pos = 0, n_pt = 0, n_moof = 0;
    patch pt[2 * MAX_TRUNS];
    kp_cenc_box b, moof;
    bool have_moof = false;
    int64_t delta = 0;
    int rc;
    while ((rc = kp_cenc_box_next(in, len, &pos, &b, err, errlen)) > 0) {
        rc = 0;
        if (b.type == FOURCC('s', 'i', 'd', 'x')) {
            if (sidx_at != SIZE_MAX)
                rc = fail(err, errlen, KP_ENOTSUP, "several sidx boxes");
            sidx_at = out->len;
        }
        if (b.type == FOURCC('m', 'o', 'o', 'f')) {
            if (have_moof || n_moof++)
                rc = fail(err, errlen, KP_ENOTSUP, "more than one moof in the segment");
            moof = b;
            have_moof = true;
            size_t mstart = out->len, mpos = 0;
            kp_cenc_box x;
            if (rc == 0 && b.header != 8)
                rc = fail(err, errlen, KP_ENOTSUP, "64-bit moof size");
            if (rc == 0)
                rc = box_open(out, b.type, &mstart);
            while (rc == 0 &&
                   (rc = kp_cenc_box_next(b.body, b.body_size, &mpos, &x, err, errlen)) > 0) {
                x.offset += b.offset + b.header;
                if (x.type == FOURCC('t', 'r', 'a', 'f')) {
                    rc = protect_traf(init, in, len, &moof, &x, next_iv, out, pt, &n_pt,
                                      sizeof(pt) / sizeof(pt[0]), mstart, err, errlen);
                } else {
                    rc = copy_box(out, &x, in);
                }
            }
            if (rc == 0)
                rc = box_close(out, mstart, err, errlen);
            delta = (int64_t)(out->len - mstart) - (int64_t)b.size;
        } else if (rc == 0) {
            if (b.type == FOURCC('m', 'd', 'a', 't'))
                have_moof = false;
            rc = copy_box(out, &b, in);
        }
        if (rc < 0)
            break;
    }
    if (rc == 0 && have_moof)
        rc = fail(err, errlen, KP_EPARSE, "moof without its mdat");
    uint8_t *o = (uint8_t *)out->data;
    for (size_t i = 0; rc == 0 && i < n_pt; i++) {
        if (pt[i].trun_at) {
            int64_t v = (int32_t)rd32(o + pt[i].trun_at) + delta;
            if (v > INT32_MAX || v < INT32_MIN)
                rc = fail(err, errlen, KP_ERANGE, "trun data_offset overflows");
            else
                wr32(o + pt[i].trun_at, (uint32_t)(int32_t)v);
        } else {
            wr32(o + pt[i].saio_at, (uint32_t)(pt[i].senc_at - pt[i].moof_out));
        }
    }
    if (rc == 0 && sidx_at != SIZE_MAX) {
        uint8_t *s = o + sidx_at;
        size_t sz = rd32(s), q = 8 + 4 + 4 + 4 + (s[8] == 0 ? 8 : 16) + 2;
        if (sz < q + 2 + 12 || rd16(s + q) != 1) {
            rc = fail(err, errlen, KP_ENOTSUP, "sidx must have one reference");
        } else {
            uint32_t ref = rd32(s + q + 2);
            int64_t v = (int64_t)(ref & 0x7fffffff) + delta;
            if (v < 0 || v > 0x7fffffff)
                rc = fail(err, errlen, KP_ERANGE, "sidx referenced_size overflows");
            else
                wr32(s + q + 2, (ref & 0x80000000u) | (uint32_t)v);
        }
    }
    if (rc == 0)
        rc = walk_fragment(c, init, key, 1, (uint8_t *)out->data + start, out->len - start, NULL,
                           err, errlen);
    if (rc < 0)
        out->len = start;
    return rc;
}

/* ---- HLS AES-128 -------------------------------------------------------------------------- */

void kp_hls_aes_iv_from_sequence(uint64_t media_sequence, uint8_t iv[16])
{
    memset(iv, 0, 8);
    wr64(iv + 8, media_sequence);
}

int kp_hls_aes_encrypt(kp_cenc_ctx *c, const uint8_t key[16], const uint8_t iv[16],
                       const uint8_t *in, size_t len, kp_buf *out, char *err, size_t errlen)
{
    if (!c || !key || !iv || !out || (!in && len) || len > INT32_MAX - 32)
        return fail(err, errlen, KP_EINVAL, "missing argument or segment too large");
    int rc = kp_buf_reserve(out, len + 16);
    if (rc < 0)
        return fail(err, errlen, rc, "out of memory");
    c->cur = NULL;
    uint8_t *o = (uint8_t *)out->data + out->len;
    int n1 = 0, n2 = 0;
    if (!EVP_EncryptInit_ex(c->ctx, c->cbc, NULL, key, iv) ||
        !EVP_CIPHER_CTX_set_padding(c->ctx, 1) ||
        !EVP_EncryptUpdate(c->ctx, o, &n1, in, (int)len) ||
        !EVP_EncryptFinal_ex(c->ctx, o + n1, &n2))
        return fail(err, errlen, KP_ECRYPTO, "AES-128-CBC encryption failed");
    out->len += (size_t)n1 + (size_t)n2;
    out->data[out->len] = '\0';
    return KP_OK;
}

int kp_hls_aes_decrypt(kp_cenc_ctx *c, const uint8_t key[16], const uint8_t iv[16], uint8_t *buf,
                       size_t len, size_t *out_len, char *err, size_t errlen)
{
    if (!c || !key || !iv || !out_len || (!buf && len))
        return fail(err, errlen, KP_EINVAL, "missing argument");
    if (len == 0 || len % 16 || len > INT32_MAX)
        return fail(err, errlen, KP_EPARSE,
                    "AES-128 segment of %zu bytes is not a positive multiple of 16", len);
    c->cur = NULL;
    int n1 = 0, n2 = 0;
    if (!EVP_DecryptInit_ex(c->ctx, c->cbc, NULL, key, iv) ||
        !EVP_CIPHER_CTX_set_padding(c->ctx, 1) ||
        !EVP_DecryptUpdate(c->ctx, buf, &n1, buf, (int)len))
        return fail(err, errlen, KP_ECRYPTO, "AES-128-CBC decryption failed");
    if (!EVP_DecryptFinal_ex(c->ctx, buf + n1, &n2))
        return fail(err, errlen, KP_ECRYPTO,
                    "bad PKCS#7 padding after AES-128-CBC decryption: wrong key or IV");
    *out_len = (size_t)n1 + (size_t)n2;
    return KP_OK;
}
