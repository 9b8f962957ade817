/* drm.h: the DRM vocabulary that the player, the mock back-end and the mock license server
 * share: key systems, encryption schemes, and the deterministic content keys of an entry.
 *
 * Keys are not configured by hand: every room derives an entry's key ID and content key from
 * the entry id (kp_drm_derive_key), so the packager (mock-backend), the license server
 * (mock-drm) and a test agree without passing keys around. A scenario may still give its own.
 */
#ifndef KP_DRM_H
#define KP_DRM_H

#include <stdint.h>

/* Key systems, in the order of their bits in a mask (1u << KP_DRM_*). */
typedef enum kp_drm_system {
    KP_DRM_CLEARKEY = 0,  /* org.w3.clearkey: W3C EME Clear Key, JSON license */
    KP_DRM_WIDEVINE = 1,  /* com.widevine.alpha: Kaltura UDRM cenc/widevine (shape only) */
    KP_DRM_PLAYREADY = 2, /* com.microsoft.playready: Kaltura UDRM cenc/playready (shape only) */
    KP_DRM_FAIRPLAY = 3,  /* com.apple.fairplay: Kaltura UDRM fps (shape only) */
    KP_DRM_SYSTEM_COUNT
} kp_drm_system;

/* Encryption schemes of the served media. */
typedef enum kp_enc_scheme {
    KP_ENC_NONE = 0,
    KP_ENC_CENC,   /* ISO/IEC 23001-7 'cenc': AES-128-CTR, subsamples (DASH, fMP4) */
    KP_ENC_CBCS,   /* 'cbcs': AES-128-CBC, 1:9 pattern, constant IV (DASH, HLS SAMPLE-AES fMP4) */
    KP_ENC_AES128, /* HLS METHOD=AES-128: whole segments, AES-128-CBC + PKCS#7 (TS and fMP4) */
    KP_ENC_SCHEME_COUNT
} kp_enc_scheme;

/* "clearkey", "widevine", "playready", "fairplay"; NULL when out of range. */
const char *kp_drm_system_name(kp_drm_system s);
/* The EME key system string ("org.w3.clearkey", "com.widevine.alpha", ...). */
const char *kp_drm_key_system(kp_drm_system s);
/* The Kaltura playback-context scheme ("drm.WIDEVINE_CENC", "drm.PLAYREADY_CENC",
 * "fairplay.FAIRPLAY"); ClearKey has none in Kaltura's API: "drm.CLEAR_KEY" is kpsim's own. */
const char *kp_drm_kaltura_scheme(kp_drm_system s);
/* The 16-byte pssh SystemID. */
const uint8_t *kp_drm_system_id(kp_drm_system s);
/* The system of a pssh SystemID; -1 when it is none of these. */
int kp_drm_system_from_id(const uint8_t id[16]);
/* By name, EME key system or Kaltura scheme; -1 when unknown. */
int kp_drm_system_parse(const char *s);

/* "none", "cenc", "cbcs", "aes-128"; and back (-1 when unknown). */
const char *kp_enc_scheme_name(kp_enc_scheme s);
int kp_enc_scheme_parse(const char *s);

/* The key ID and content key of an entry: the first 16 bytes of SHA-256("kpsim-kid:" id)
 * and of SHA-256("kpsim-key:" id). Same id, same keys, on every machine. */
void kp_drm_derive_key(const char *entry_id, uint8_t kid[16], uint8_t key[16]);

#endif
