/* cenc.h: Common Encryption (ISO/IEC 23001-7) and HLS AES-128 for ISO BMFF and MPEG-TS media:
 * the packager's encryption (mock-backend) and the player's decryption, from one module so
 * both sides follow the same rules (reference drm-and-media.md §3).
 *
 * What it reads, bounds-checked, with a precise error for every malformed input:
 *   - ISO BMFF boxes (32-bit, 64-bit "largesize" and to-end sizes);
 *   - an init segment's protection: per track (stsd encv/enca -> sinf: frma, schm, schi/tenc)
 *     the scheme, default KID, per-sample IV size, constant IV and crypt:skip pattern, the
 *     trex default sample size, and every pssh box (v0 and v1: SystemID, KIDs, data);
 *   - media fragments (moof: traf/tfhd/tfdt/trun/senc/saiz/saio, then mdat), decrypted in
 *     place: 'cenc' (AES-128-CTR, subsamples, one keystream per sample, the counter's low 64
 *     bits wrapping as libavutil does), 'cbcs' (AES-128-CBC, crypt:skip pattern, the IV reset
 *     per subsample, whole-block samples without subsamples), 'cens' and 'cbc1' likewise.
 * What it writes (the packager): protected init segments (encv/enca + sinf, pssh boxes in
 * moov) and protected fragments (senc + saiz + saio in each traf, trun.data_offset and
 * sidx.referenced_size adjusted) from the clear ones; pssh boxes; HLS AES-128 segments
 * (whole segment, AES-128-CBC + PKCS#7, IV from EXT-X-KEY or the media sequence number).
 *
 * Ownership: parse results point into the caller's buffer (kp_cenc_pssh.kids/.data) and are
 * valid while it is; output goes to caller-owned kp_buf. A kp_cenc_ctx holds one
 * EVP_CIPHER_CTX reused for every sample of every fragment, and a scratch buffer that grows to
 * the largest traf's keystream and is reused (no allocation per sample): 'cenc' keystreams are
 * made for a whole traf in one AES-ECB call over its counter blocks, 'cbcs' samples are
 * decrypted with one ECB call over their gathered blocks. It is not thread-safe (one per
 * thread). Nothing here logs: keys and KIDs never leave the call.
 * Errors are negative KP_E* codes with a sentence in err: KP_EPARSE (malformed box or
 * table), KP_ENOTSUP (unknown scheme, unsupported layout), KP_ECRYPTO (OpenSSL failure, or
 * a wrong key or IV detected by the PKCS#7 padding), KP_EINVAL (bad argument), KP_ENOMEM.
 */
#ifndef KP_CENC_H
#define KP_CENC_H

#include "kp/buf.h"

#include <stddef.h>
#include <stdint.h>

/* FourCC as a big-endian integer: KP_FOURCC('c','e','n','c'). */
#define KP_FOURCC(a, b, c, d)                                          \
    (((uint32_t)(uint8_t)(a) << 24) | ((uint32_t)(uint8_t)(b) << 16) | \
     ((uint32_t)(uint8_t)(c) << 8) | (uint32_t)(uint8_t)(d))
#define KP_CENC_SCHEME_CENC KP_FOURCC('c', 'e', 'n', 'c')
#define KP_CENC_SCHEME_CBCS KP_FOURCC('c', 'b', 'c', 's')
#define KP_CENC_SCHEME_CENS KP_FOURCC('c', 'e', 'n', 's')
#define KP_CENC_SCHEME_CBC1 KP_FOURCC('c', 'b', 'c', '1')

/* ---- boxes ---- */
typedef struct kp_cenc_box {
    uint32_t type;
    size_t offset; /* of the box's first byte, in the buffer given */
    size_t header; /* 8, or 16 with a 64-bit size */
    size_t size;   /* whole box, header included */
    const uint8_t *body;
    size_t body_size;
} kp_cenc_box;

/* Reads the box at *pos in buf[0, len): 1 and the box (*pos moves past it), 0 at the end of
 * the buffer, or KP_EPARSE (truncated header, size smaller than the header, size past the
 * end of the buffer or overflowing). */
int kp_cenc_box_next(const uint8_t *buf, size_t len, size_t *pos, kp_cenc_box *out, char *err,
                     size_t errlen);

/* ---- init segment ---- */
#define KP_CENC_MAX_TRACKS 16
#define KP_CENC_MAX_PSSH   16
/* Samples one traf may declare (its truns together): far beyond any real fragment (2 s of
 * video is 50); more is refused rather than walked (a fuzzed trun can claim 2^32). */
#define KP_CENC_MAX_TRAF_SAMPLES (1u << 20)

typedef struct kp_cenc_track {
    uint32_t track_id;
    uint32_t entry_type;          /* sample entry FourCC: 'encv', 'enca', or clear 'avc1' ... */
    uint32_t format;              /* original format: frma, or entry_type when clear */
    int is_video;                 /* handler 'vide' (or a visual sample entry) */
    int encrypted;                /* has sinf with a tenc */
    uint32_t scheme;              /* schm scheme_type (KP_CENC_SCHEME_*) */
    uint32_t scheme_version;      /* 0x00010000 */
    uint8_t tenc_version;         /* 0 or 1 */
    uint8_t is_protected;         /* tenc default_isProtected */
    uint8_t iv_size;              /* per-sample IV size: 0, 8 or 16 */
    uint8_t crypt_byte_block;     /* pattern (tenc v1), 0 in v0 */
    uint8_t skip_byte_block;      /* " */
    uint8_t constant_iv_size;     /* 0, 8 or 16 (only when iv_size is 0) */
    uint8_t constant_iv[16];      /* zero-padded to 16 */
    uint8_t default_kid[16];      /* tenc default_KID */
    uint32_t default_sample_size; /* trex */
} kp_cenc_track;

typedef struct kp_cenc_pssh {
    uint8_t version;
    uint8_t system_id[16];
    uint32_t n_kids;     /* v1 only */
    const uint8_t *kids; /* n_kids * 16 bytes, into the parsed buffer */
    uint32_t data_size;
    const uint8_t *data; /* into the parsed buffer */
    size_t offset;       /* of the whole pssh box in the parsed buffer */
    size_t size;         /* its size (the box can be copied as init data) */
} kp_cenc_pssh;

typedef struct kp_cenc_init {
    kp_cenc_track tracks[KP_CENC_MAX_TRACKS];
    size_t n_tracks;
    kp_cenc_pssh pssh[KP_CENC_MAX_PSSH];
    size_t n_pssh;
} kp_cenc_init;

/* Parses an init segment (ftyp + moov ...; a whole progressive file parses too). Clear
 * tracks are listed with encrypted = 0. KP_EPARSE for malformed boxes (including a tenc with
 * an IV size other than 0/8/16, or a protected track without IV), KP_ENOTSUP beyond
 * KP_CENC_MAX_TRACKS tracks or KP_CENC_MAX_PSSH pssh boxes, or a scheme this module does not
 * know (anything but cenc, cbcs, cens, cbc1). */
int kp_cenc_parse_init(const uint8_t *buf, size_t len, kp_cenc_init *out, char *err, size_t errlen);
/* The track with this id, or NULL. */
const kp_cenc_track *kp_cenc_init_track(const kp_cenc_init *init, uint32_t track_id);

/* Parses one whole pssh box (header included) at buf[0, len). */
int kp_cenc_parse_pssh(const uint8_t *buf, size_t len, kp_cenc_pssh *out, char *err, size_t errlen);
/* Appends a pssh box: version 1 carries the KIDs (n_kids * 16 bytes), version 0 none (kids
 * must then be empty). KP_EINVAL for another version or KIDs in v0, KP_ENOMEM. */
int kp_cenc_pssh_build(int version, const uint8_t system_id[16], const uint8_t *kids, size_t n_kids,
                       const uint8_t *data, size_t data_len, kp_buf *out);

/* ---- decryption and encryption ---- */
typedef struct kp_cenc_ctx kp_cenc_ctx;

/* NULL when out of memory. */
kp_cenc_ctx *kp_cenc_ctx_new(void);
void kp_cenc_ctx_free(kp_cenc_ctx *c);

typedef struct kp_cenc_stats {
    size_t samples;         /* protected samples decrypted */
    size_t bytes;           /* sample bytes covered (clear + protected) */
    size_t protected_bytes; /* bytes in protected ranges (cbcs: the pattern skips 9 in 10 blocks) */
} kp_cenc_stats;

/* Decrypts, in place, every sample of every moof + mdat pair in buf (a media segment as
 * served: styp/sidx/prft/emsg are skipped) whose traf's track is encrypted in init, with
 * key. The sample auxiliary information comes from senc (or, without senc, from saiz/saio);
 * saiz/saio, when present, must agree with senc. stats may be NULL (else it accumulates).
 * On error buf may be partly decrypted. Errors: KP_EPARSE (truncated or inconsistent boxes,
 * a senc sample count that differs from trun's, subsample sums not equal to the sample
 * size, sample data outside the mdat, unknown track), KP_ENOTSUP (sample-group key or IV
 * overrides, senc/saiz/saio layouts that cannot be followed), KP_ECRYPTO. */
int kp_cenc_decrypt_fragment(kp_cenc_ctx *c, const kp_cenc_init *init, const uint8_t key[16],
                             uint8_t *buf, size_t len, kp_cenc_stats *stats, char *err,
                             size_t errlen);

/* One sample's auxiliary information. */
typedef struct kp_cenc_subsample {
    uint16_t clear;
    uint32_t protected_;
} kp_cenc_subsample;

/* Decrypts (encrypt = 0) or encrypts (1) one sample in place under the track's scheme
 * and pattern: iv is the sample's IV (iv_size bytes, 8 or 16; the constant IV for cbcs),
 * subs its n subsamples (n = 0: the whole sample is protected). KP_EPARSE when the
 * subsamples do not add up to size, KP_ENOTSUP for an unknown scheme, KP_ECRYPTO. */
int kp_cenc_crypt_sample(kp_cenc_ctx *c, const kp_cenc_track *t, const uint8_t key[16], int encrypt,
                         const uint8_t *iv, size_t iv_size, const kp_cenc_subsample *subs, size_t n,
                         uint8_t *data, size_t size, char *err, size_t errlen);

/* ---- packaging (the mock CDN) ---- */
typedef struct kp_cenc_protect {
    uint32_t scheme;         /* KP_CENC_SCHEME_CENC or _CBCS */
    uint8_t kid[16];         /* default_KID of every track */
    uint8_t constant_iv[16]; /* cbcs: the tracks' constant IV (16 bytes) */
    const uint8_t *pssh;     /* pssh boxes appended to moov (kp_cenc_pssh_build), or NULL */
    size_t pssh_len;
} kp_cenc_protect;

/* Appends to out the protected form of a clear fMP4 init segment: each track's first sample
 * entry becomes encv/enca with sinf{frma, schm, schi{tenc}} (cenc: tenc v0, 8-byte IVs;
 * cbcs: tenc v1, pattern 1:9 for video and 0:0 for audio, constant IV), and the pssh boxes
 * go at the end of moov. Every enclosing box's size is rewritten. KP_EPARSE for a malformed
 * input, KP_ENOTSUP for another scheme or a sample entry that is not avc1/avc3/mp4a. */
int kp_cenc_protect_init(const kp_cenc_protect *p, const uint8_t *in, size_t len, kp_buf *out,
                         char *err, size_t errlen);

/* Appends to out the protected form of a clear media segment (styp/sidx + moof + mdat, one
 * or more moof+mdat pairs) of the tracks of `init` (the *protected* init, parsed): samples
 * encrypted in place, senc + saiz + saio appended to each traf (saio relative to the moof,
 * tfhd default-base-is-moof required), trun.data_offset and a single-reference
 * sidx.referenced_size adjusted by the growth of the moof. Video (AVC, 4-byte NAL lengths)
 * gets subsamples: NAL units other than slices (types 1, 5) and slices of at most 48 bytes
 * stay clear; a slice keeps its length, header and then (cenc) enough bytes to leave a
 * whole number of 16-byte blocks protected, or (cbcs) 31 more bytes; adjacent clear runs are
 * merged. Audio is protected whole. cenc IVs are 8 bytes, *next_iv for the first sample,
 * then counting up (it is advanced past the last one used); cbcs uses the constant IV. */
int kp_cenc_protect_fragment(kp_cenc_ctx *c, const kp_cenc_init *init, const uint8_t key[16],
                             uint64_t *next_iv, const uint8_t *in, size_t len, kp_buf *out,
                             char *err, size_t errlen);

/* ---- HLS METHOD=AES-128 ---- */
/* The IV of a segment without an IV attribute: its media sequence number, big-endian. */
void kp_hls_aes_iv_from_sequence(uint64_t media_sequence, uint8_t iv[16]);
/* Appends the AES-128-CBC + PKCS#7 encryption of in to out (len rounded up to 16, at
 * least 1 byte of padding). */
int kp_hls_aes_encrypt(kp_cenc_ctx *c, const uint8_t key[16], const uint8_t iv[16],
                       const uint8_t *in, size_t len, kp_buf *out, char *err, size_t errlen);
/* Decrypts in place; *out_len is the plaintext length. KP_EPARSE when len is not a positive
 * multiple of 16, KP_ECRYPTO when the padding is invalid (a wrong key or IV). */
int kp_hls_aes_decrypt(kp_cenc_ctx *c, const uint8_t key[16], const uint8_t iv[16], uint8_t *buf,
                       size_t len, size_t *out_len, char *err, size_t errlen);

#endif
