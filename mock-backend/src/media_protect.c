/* media_protect.c: an entry's encrypted DASH and HLS media (media_protect.h). */
#include "media_protect.h"

#include "kp/buf.h"
#include "kp/cenc.h"
#include "kp/codec.h"
#include "kp/drm.h"
#include "kp/drmmsg.h"
#include "kp/err.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define MOD "media"

typedef struct pstream {
    uint8_t *init;
    size_t init_size;
    uint8_t **seg;
    size_t *seg_size;
    size_t n;
} pstream;

struct mbe__protected {
    int scheme; /* KP_ENC_* */
    pstream *video;
    size_t n_video;
    pstream audio;
    bool has_dash;
    pstream *hls; /* TS: one per rendition; fMP4: one per video rendition, then the audio */
    size_t n_hls;
    bool hls_fmp4;
    mbe_mpd_protection mpd;
    mbe_mpd_drm_system systems[KP_DRM_SYSTEM_COUNT];
    char *pssh_b64[KP_DRM_SYSTEM_COUNT];
};

static void pstream_clear(pstream *s)
{
    free(s->init);
    for (size_t i = 0; s->seg && i < s->n; i++)
        free(s->seg[i]);
    free(s->seg);
    free(s->seg_size);
    memset(s, 0, sizeof(*s));
}

void mbe__protected_free(mbe__protected *p)
{
    if (!p)
        return;
    for (size_t i = 0; p->video && i < p->n_video; i++)
        pstream_clear(&p->video[i]);
    free(p->video);
    pstream_clear(&p->audio);
    for (size_t i = 0; p->hls && i < p->n_hls; i++)
        pstream_clear(&p->hls[i]);
    free(p->hls);
    for (int i = 0; i < KP_DRM_SYSTEM_COUNT; i++)
        free(p->pssh_b64[i]);
    free(p);
}

/* SHA-256(label || kid || name), first n bytes. */
static void derive(const char *label, const uint8_t kid[16], const char *name, uint8_t *out,
                   size_t n)
{
    uint8_t md[32];
    unsigned len = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) &&
        EVP_DigestUpdate(c, label, strlen(label)) && EVP_DigestUpdate(c, kid, 16) &&
        EVP_DigestUpdate(c, name, strlen(name)) && EVP_DigestFinal_ex(c, md, &len))
        memcpy(out, md, n);
    else
        memset(out, 0, n);
    EVP_MD_CTX_free(c);
}

static const char *const system_values[KP_DRM_SYSTEM_COUNT] = {
    [KP_DRM_WIDEVINE] = "Widevine",
    [KP_DRM_PLAYREADY] = "MSPR 2.0",
};

/* The pssh boxes of the entry's key systems, concatenated into all; their base64 kept for
 * the MPD. */
static int build_pssh(mbe__protected *p, const mbe_drm *drm, kp_buf *all)
{
    for (int s = 0; s < KP_DRM_SYSTEM_COUNT; s++) {
        if (!(drm->systems & (1u << s)))
            continue;
        kp_buf box;
        kp_buf_init(&box);
        int rc;
        if (s == KP_DRM_FAIRPLAY) /* no pssh of its own: a v1 box with the KID */
            rc = kp_cenc_pssh_build(1, kp_drm_system_id((kp_drm_system)s), drm->kid, 1, NULL, 0,
                                    &box);
        else
            rc = kp_drm_pssh_build((kp_drm_system)s, (kp_enc_scheme)drm->scheme,
                                   (const uint8_t(*)[16])drm->kid, 1, &box);
        if (rc == 0)
            rc = kp_buf_append(all, box.data, box.len);
        if (rc == 0) {
            p->pssh_b64[s] = kp_base64_encode(box.data, box.len);
            rc = p->pssh_b64[s] ? 0 : KP_ENOMEM;
        }
        if (rc == 0) {
            mbe_mpd_drm_system *m = &p->systems[p->mpd.n_systems++];
            memcpy(m->system_id, kp_drm_system_id((kp_drm_system)s), 16);
            m->value = system_values[s];
            m->pssh_b64 = p->pssh_b64[s];
        }
        kp_buf_free(&box);
        if (rc < 0)
            return rc;
    }
    return KP_OK;
}

static int protect_dash(const mbe_dash_stream *in, const mbe_drm *drm, const char *name,
                        const kp_buf *pssh, kp_cenc_ctx *c, kp_log *log, pstream *out)
{
    kp_cenc_protect pr = {.scheme = drm->scheme == KP_ENC_CBCS ? KP_CENC_SCHEME_CBCS
                                                               : KP_CENC_SCHEME_CENC,
                          .pssh = (const uint8_t *)pssh->data,
                          .pssh_len = pssh->len};
    memcpy(pr.kid, drm->kid, 16);
    derive("kpsim-civ", drm->kid, name, pr.constant_iv, 16);
    uint8_t ivb[8];
    derive("kpsim-iv", drm->kid, name, ivb, 8);
    uint64_t next_iv = 0;
    for (int i = 0; i < 8; i++)
        next_iv = next_iv << 8 | ivb[i];
    char err[256] = "";
    kp_buf b;
    kp_buf_init(&b);
    kp_cenc_init init;
    int rc = kp_cenc_protect_init(&pr, in->init, in->init_size, &b, err, sizeof(err));
    if (rc == 0)
        rc = kp_cenc_parse_init((const uint8_t *)b.data, b.len, &init, err, sizeof(err));
    if (rc == 0) {
        out->init_size = b.len;
        out->init = (uint8_t *)kp_buf_steal(&b);
        out->seg = calloc(in->n_segments ? in->n_segments : 1, sizeof(*out->seg));
        out->seg_size = calloc(in->n_segments ? in->n_segments : 1, sizeof(*out->seg_size));
        rc = out->seg && out->seg_size ? 0 : KP_ENOMEM;
    }
    for (size_t k = 0; rc == 0 && k < in->n_segments; k++) {
        kp_buf_reset(&b);
        rc = kp_cenc_protect_fragment(c, &init, drm->key, &next_iv, in->segments[k].data,
                                      in->segments[k].size, &b, err, sizeof(err));
        if (rc == 0) {
            out->seg_size[k] = b.len;
            out->seg[k] = (uint8_t *)kp_buf_steal(&b);
            out->n = k + 1;
        }
    }
    kp_buf_free(&b);
    if (rc < 0 && rc != KP_ENOMEM) {
        KP_LOG_E(log, MOD, "cannot protect DASH stream %s: %s", name, err);
        rc = KP_EMEDIA;
    }
    return rc;
}

static int pstream_alloc(pstream *out, size_t n)
{
    out->seg = calloc(n ? n : 1, sizeof(*out->seg));
    out->seg_size = calloc(n ? n : 1, sizeof(*out->seg_size));
    return out->seg && out->seg_size ? KP_OK : KP_ENOMEM;
}

/* Encrypts segment k (0-based) whole into out->seg[k]: AES-128-CBC + PKCS#7, the IV its
 * media sequence number k + 1 (EXT-X-MEDIA-SEQUENCE is 1). */
static int encrypt_segment(kp_cenc_ctx *c, const mbe_drm *drm, size_t k, const uint8_t *data,
                           size_t size, pstream *out, char *err, size_t errlen)
{
    uint8_t iv[16];
    kp_hls_aes_iv_from_sequence(k + 1, iv);
    kp_buf b;
    kp_buf_init(&b);
    int rc = kp_hls_aes_encrypt(c, drm->key, iv, data, size, &b, err, errlen);
    if (rc == 0) {
        out->seg_size[k] = b.len;
        out->seg[k] = (uint8_t *)kp_buf_steal(&b);
        out->n = k + 1;
    }
    kp_buf_free(&b);
    return rc;
}

static int encrypt_failed(int rc, kp_log *log, const char *name, const char *err)
{
    if (rc < 0 && rc != KP_ENOMEM) {
        KP_LOG_E(log, MOD, "cannot encrypt HLS stream %s: %s", name, err);
        rc = KP_EMEDIA;
    }
    return rc;
}

/* A TS rendition's segments. */
static int protect_hls(const mbe_hls_rendition *in, const mbe_drm *drm, kp_cenc_ctx *c, kp_log *log,
                       pstream *out)
{
    char err[256] = "";
    int rc = pstream_alloc(out, in->n_segments);
    for (size_t k = 0; rc == 0 && k < in->n_segments; k++)
        rc = encrypt_segment(c, drm, k, in->segments[k].data, in->segments[k].size, out, err,
                             sizeof(err));
    return encrypt_failed(rc, log, in->r.name, err);
}

/* A DASH stream's media segments, for fMP4 HLS (its init stays clear). */
static int protect_hls_fmp4(const mbe_dash_stream *in, const char *name, const mbe_drm *drm,
                            kp_cenc_ctx *c, kp_log *log, pstream *out)
{
    char err[256] = "";
    int rc = pstream_alloc(out, in->n_segments);
    for (size_t k = 0; rc == 0 && k < in->n_segments; k++)
        rc = encrypt_segment(c, drm, k, in->segments[k].data, in->segments[k].size, out, err,
                             sizeof(err));
    return encrypt_failed(rc, log, name, err);
}

int mbe__protected_new(const mbe_media *m, const mbe_drm *drm, int hls_segments, kp_log *log,
                       mbe__protected **out)
{
    *out = NULL;
    if (!m || !drm || drm->scheme <= KP_ENC_NONE || drm->scheme >= KP_ENC_SCHEME_COUNT ||
        (hls_segments != MBE_HLS_TS && hls_segments != MBE_HLS_FMP4))
        return KP_EINVAL;
    if (drm->scheme == KP_ENC_AES128 && hls_segments == MBE_HLS_FMP4 &&
        (!m->dash_audio || !m->n_dash_video))
        return KP_EINVAL; /* fMP4 HLS is made from the DASH packaging */
    mbe__protected *p = calloc(1, sizeof(*p));
    kp_cenc_ctx *c = kp_cenc_ctx_new();
    kp_buf pssh;
    kp_buf_init(&pssh);
    int rc = p && c ? KP_OK : KP_ENOMEM;
    if (rc == 0)
        p->scheme = drm->scheme;
    if (rc == 0 && (drm->scheme == KP_ENC_CENC || drm->scheme == KP_ENC_CBCS) && m->dash_audio &&
        m->n_dash_video) {
        p->mpd.scheme = kp_enc_scheme_name((kp_enc_scheme)drm->scheme);
        memcpy(p->mpd.kid, drm->kid, 16);
        p->mpd.systems = p->systems;
        rc = build_pssh(p, drm, &pssh);
        if (rc == 0) {
            p->video = calloc(m->n_dash_video, sizeof(*p->video));
            rc = p->video ? 0 : KP_ENOMEM;
        }
        for (size_t i = 0; rc == 0 && i < m->n_dash_video; i++) {
            rc = protect_dash(&m->dash_video[i], drm, m->dash_video[i].r.name, &pssh, c, log,
                              &p->video[i]);
            p->n_video = i + 1;
        }
        if (rc == 0)
            rc = protect_dash(m->dash_audio, drm, "audio", &pssh, c, log, &p->audio);
        p->has_dash = rc == 0;
    }
    if (rc == 0 && drm->scheme == KP_ENC_AES128 && hls_segments == MBE_HLS_FMP4) {
        p->hls_fmp4 = true;
        p->hls = calloc(m->n_dash_video + 1, sizeof(*p->hls));
        rc = p->hls ? 0 : KP_ENOMEM;
        for (size_t i = 0; rc == 0 && i <= m->n_dash_video; i++) {
            bool audio = i == m->n_dash_video;
            rc = protect_hls_fmp4(audio ? m->dash_audio : &m->dash_video[i],
                                  audio ? "audio" : m->dash_video[i].r.name, drm, c, log,
                                  &p->hls[i]);
            p->n_hls = i + 1;
        }
    } else if (rc == 0 && drm->scheme == KP_ENC_AES128 && m->n_hls) {
        p->hls = calloc(m->n_hls, sizeof(*p->hls));
        rc = p->hls ? 0 : KP_ENOMEM;
        for (size_t i = 0; rc == 0 && i < m->n_hls; i++) {
            rc = protect_hls(&m->hls[i], drm, c, log, &p->hls[i]);
            p->n_hls = i + 1;
        }
    }
    kp_buf_free(&pssh);
    kp_cenc_ctx_free(c);
    if (rc < 0) {
        mbe__protected_free(p);
        return rc;
    }
    KP_LOG_D(log, MOD, "protected media ready: %s, %zu DASH video streams, %zu HLS %s streams",
             kp_enc_scheme_name((kp_enc_scheme)drm->scheme), p->n_video, p->n_hls,
             p->hls_fmp4 ? "fMP4" : "TS");
    *out = p;
    return KP_OK;
}

static const uint8_t *stream_part(const pstream *s, unsigned long number, size_t *len)
{
    if (number == 0) {
        *len = s->init_size;
        return s->init;
    }
    if (number > s->n)
        return NULL;
    *len = s->seg_size[number - 1];
    return s->seg[number - 1];
}

const uint8_t *mbe__protected_dash(const mbe__protected *p, size_t index, unsigned long number,
                                   size_t *len)
{
    if (!p || !p->has_dash)
        return NULL;
    if (index == SIZE_MAX)
        return stream_part(&p->audio, number, len);
    return index < p->n_video ? stream_part(&p->video[index], number, len) : NULL;
}

const uint8_t *mbe__protected_hls(const mbe__protected *p, size_t index, unsigned long number,
                                  size_t *len)
{
    if (p && p->hls_fmp4 && index == SIZE_MAX && p->n_hls)
        index = p->n_hls - 1; /* the audio */
    else if (p && p->hls_fmp4 && index + 1 >= p->n_hls)
        return NULL;
    if (!p || index >= p->n_hls || number == 0)
        return NULL;
    return stream_part(&p->hls[index], number, len);
}

const mbe_mpd_protection *mbe__protected_mpd(const mbe__protected *p)
{
    return p && p->has_dash ? &p->mpd : NULL;
}
