/* drmmsg.h: the license messages of every key system, built and parsed, and Kaltura UDRM's
 * signed custom_data. Shared by the player's simulated CDM (core/src/cdm.c), the mock license
 * server (mock-drm) and the mock back-end (the license URLs of a playback context).
 *
 * ClearKey messages are exactly W3C EME's (JSON key IDs in, JWK set out). Widevine, PlayReady
 * and FairPlay messages are kpsim's own shape-only formats: the envelopes of the real ones
 * (a protobuf SignedMessage, a SOAP AcquireLicense with a WRMHEADER, an SPC and a CKC) around
 * payloads that carry the key IDs in and the content keys out in the clear. Every format is
 * written down, byte by byte, in mock-drm/README.md.
 *
 * Parsers are strict: anything the format does not allow is refused with a precise message in
 * the caller's `err` buffer and KP_EPARSE. Built messages are malloc'd into a kp_buf the caller
 * owns. Nothing here does I/O or keeps state.
 */
#ifndef KP_DRMMSG_H
#define KP_DRMMSG_H

#include "kp/buf.h"
#include "kp/codec.h"
#include "kp/drm.h"

#include <stddef.h>
#include <stdint.h>

/* Key IDs one message may carry. */
#define KP_DRMMSG_MAX_KIDS 16
/* Longest FairPlay asset id (content id of the skd:// URI), with its NUL. */
#define KP_DRMMSG_MAX_ASSET 128

typedef struct kp_drm_key {
    uint8_t kid[16];
    uint8_t key[16];
} kp_drm_key;

typedef enum kp_drmmsg_kind {
    KP_DRMMSG_LICENSE = 0,    /* a license request */
    KP_DRMMSG_CERTIFICATE = 1 /* Widevine's service certificate request (08 04) */
} kp_drmmsg_kind;

/* A license request. Build: set system, the KIDs (FairPlay: asset_id; kids optional) and
 * nonce (request id / IV: any bytes, the CDM derives them deterministically). Parse: filled. */
typedef struct kp_drmmsg_request {
    kp_drm_system system;
    kp_drmmsg_kind kind;
    uint8_t kids[KP_DRMMSG_MAX_KIDS][16];
    size_t n_kids;
    int persistent;                     /* ClearKey "persistent-license" (else "temporary") */
    uint8_t nonce[16];                  /* Widevine request_id, FairPlay SPC IV; else unused */
    char asset_id[KP_DRMMSG_MAX_ASSET]; /* FairPlay: the asset id; "" otherwise */
    uint8_t cert_hash[20];              /* FairPlay: SHA-1 of the application certificate */
} kp_drmmsg_request;

/* A license: the content keys and how long they may be used. */
typedef struct kp_drmmsg_license {
    kp_drm_system system;
    kp_drm_key keys[KP_DRMMSG_MAX_KIDS];
    size_t n_keys;
    long long duration_s;               /* 0: no limit */
    long long start_s;                  /* Widevine license_start_time (server clock), or 0 */
    int persistent;                     /* ClearKey response "type" */
    uint8_t nonce[16];                  /* echoed request id (Widevine) / IV (FairPlay) */
    char asset_id[KP_DRMMSG_MAX_ASSET]; /* FairPlay: the asset id the CKC answers */
} kp_drmmsg_license;

/* The Content-Type of a request / a license body of the system. */
const char *kp_drmmsg_request_type(kp_drm_system s);
const char *kp_drmmsg_license_type(kp_drm_system s);

/* Builds the request body (appended to out). KP_EINVAL for a request the format cannot
 * carry (no KIDs, too many, FairPlay without an asset id), KP_ENOMEM. */
int kp_drmmsg_build_request(const kp_drmmsg_request *rq, kp_buf *out);
/* Parses a request body of system `s`: 0, or KP_EPARSE with a message in err. */
int kp_drmmsg_parse_request(kp_drm_system s, const void *body, size_t len, kp_drmmsg_request *out,
                            char *err, size_t errlen);
/* Builds the license body (appended to out); KP_EINVAL (no keys, too many), KP_ENOMEM. */
int kp_drmmsg_build_license(const kp_drmmsg_license *lic, kp_buf *out);
/* Parses a license body of system `s`: 0, or KP_EPARSE with a message in err. */
int kp_drmmsg_parse_license(kp_drm_system s, const void *body, size_t len, kp_drmmsg_license *out,
                            char *err, size_t errlen);

/* Widevine's service certificate answer (SignedMessage type 5 around `cert`). */
int kp_drmmsg_build_wv_certificate(const void *cert, size_t len, kp_buf *out);

/* ---- init data ----
 * cenc init data: concatenated pssh boxes. kp_drm_pssh_build appends the box of system `s`
 * for the KIDs of content encrypted with `scheme` (KP_ENC_CENC or KP_ENC_CBCS): ClearKey a v1
 * box without data (W3C), Widevine a v0 box whose data is a WidevinePsshData (key_ids,
 * protection_scheme 'cenc' or 'cbcs'), PlayReady a v1 box (KIDs) whose data is a PlayReady
 * Object holding a WRMHEADER 4.3 (ALGID AESCTR or AESCBC). FairPlay has no pssh: KP_EINVAL. */
int kp_drm_pssh_build(kp_drm_system s, kp_enc_scheme scheme, const uint8_t (*kids)[16],
                      size_t n_kids, kp_buf *out);
/* The KIDs that init data of type `init_type` ("cenc": pssh boxes; "keyids": the W3C JSON)
 * gives key system `s`: from the box with its SystemID (ClearKey: the common one) - the v1
 * KID list, else its data (WidevinePsshData key_ids, PlayReady Object WRMHEADER KIDs).
 * Returns the number of KIDs (>= 1), or KP_EPARSE / KP_ENOENT (no box of that system). */
int kp_drm_initdata_kids(kp_drm_system s, const char *init_type, const void *data, size_t len,
                         uint8_t (*kids)[16], size_t cap, char *err, size_t errlen);
/* FairPlay: the asset id of an skd:// URI (its host part, as shaka and Kaltura take it). */
int kp_drm_skd_asset(const char *uri, char *out, size_t cap, char *err, size_t errlen);

/* kpsim's FairPlay application certificate of a partner (deterministic, 64 bytes; the
 * format is in mock-drm/README.md), and its SHA-1 (what an SPC names). */
void kp_drm_fps_certificate(long long partner_id, uint8_t out[64]);
void kp_drm_fps_certificate_hash(const uint8_t *cert, size_t len, uint8_t out[20]);

/* ---- Kaltura UDRM custom_data and signature (DrmLicenseUtils) ----
 * custom_data = rawurlencode(base64(json)), signature = rawurlencode(base64(sha1(secret .
 * json))), where json is PHP's json_encode of {"ca_system","user_token","account_id",
 * "content_id","files"}: no spaces, "/" written "\/", non-ASCII as \uXXXX. */
typedef struct kp_udrm_data {
    char *ca_system, *user_token, *account_id, *content_id, *files; /* malloc'd */
    char *json;                                                     /* the signed bytes */
} kp_udrm_data;

/* The default signing secret of a partner: "kpsim-udrm-secret-<partner id>" (what mock-drm
 * and mock-backend use when none is configured). */
void kp_udrm_default_secret(long long partner_id, char *out, size_t cap);
/* The JSON the back-end signs (malloc'd, caller frees; NULL when out of memory). */
char *kp_udrm_json(const char *ca_system, const char *user_token, long long account_id,
                   const char *content_id, const char *files);
/* Signs json: *custom_data and *signature are the rawurlencoded query values (malloc'd). */
int kp_udrm_sign(const char *secret, const char *json, char **custom_data, char **signature);
/* Verifies the query values as received after URL decoding (base64 text): the signature must
 * be base64 of 20 bytes equal to sha1(secret . decoded custom_data bytes), and those bytes a
 * JSON object with string ca_system, user_token, content_id, files and a string or integer
 * account_id. 0 and *out filled (free with kp_udrm_data_free); KP_EPARSE for something that
 * does not decode, KP_EINVAL for a signature that does not match; err says which. */
int kp_udrm_verify(const char *secret, const char *custom_data, const char *signature,
                   kp_udrm_data *out, char *err, size_t errlen);
void kp_udrm_data_free(kp_udrm_data *d);

#endif
