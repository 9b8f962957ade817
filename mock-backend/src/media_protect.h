/* media_protect.h: the encrypted media of one protected entry, made from its clear media
 * (mbe/media.h) with kp/cenc.h, and the DRM signalling that goes with it.
 *
 *   cenc / cbcs  DASH: every init segment gets encv/enca + sinf (cenc: tenc v0, 8-byte IVs;
 *                cbcs: tenc v1, video 1:9, audio whole blocks, a 16-byte constant IV) and one
 *                pssh per key system of the entry (ClearKey: v1 with the KID, no data;
 *                Widevine: v0, WidevinePsshData{key_id, protection_scheme}; PlayReady: v0,
 *                a PlayReady Object with a WRMHEADER 4.0 (cenc) / 4.3 (cbcs); FairPlay: v1
 *                with the KID, no data); every fragment senc + saiz + saio. The MPD's
 *                ContentProtection elements come from mbe__protected_mpd().
 *   aes-128      HLS: every MPEG-TS segment encrypted whole (AES-128-CBC + PKCS#7), the IV
 *                being its media sequence number (the playlist gives none); with fMP4 HLS
 *                (MBE_HLS_FMP4) every DASH media segment of the video renditions and of the
 *                audio instead, the same way, the init segments staying clear.
 * Streams and packagings the scheme does not cover stay clear (DASH of an aes-128 entry,
 * HLS of a cenc/cbcs entry, progressive MP4 always).
 *
 * Every byte is deterministic: cenc IVs count up from SHA-256("kpsim-iv" KID stream)[0..8),
 * the cbcs constant IV is SHA-256("kpsim-civ" KID stream)[0..16) (stream: the rendition name
 * or "audio"). The object is immutable once made and owns all its bytes; it borrows nothing
 * (the clear media may go first). Nothing here logs key material.
 */
#ifndef MBE_MEDIA_PROTECT_H
#define MBE_MEDIA_PROTECT_H

#include "kp/log.h"
#include "mbe/mbe.h"

#include <stddef.h>
#include <stdint.h>

typedef struct mbe__protected mbe__protected;

/* drm must carry its key (kid and key filled in); hls_segments is the entry's HLS container
 * (MBE_HLS_TS or MBE_HLS_FMP4: then aes-128 needs the DASH packaging). 0, or KP_EINVAL
 * (scheme without media to protect), KP_EMEDIA (the clear media cannot be parsed; logged) or
 * KP_ENOMEM. */
int mbe__protected_new(const mbe_media *m, const mbe_drm *drm, int hls_segments, kp_log *log,
                       mbe__protected **out);
void mbe__protected_free(mbe__protected *p);

/* The protected DASH init (number 0) or segment `number` (1-based) of video rendition
 * `index`, or of the audio (index SIZE_MAX). NULL when the entry has no such protected
 * stream. */
const uint8_t *mbe__protected_dash(const mbe__protected *p, size_t index, unsigned long number,
                                   size_t *len);
/* The protected HLS segment `number` (1-based) of rendition `index` (with fMP4 HLS, index
 * SIZE_MAX: the audio's), or NULL. */
const uint8_t *mbe__protected_hls(const mbe__protected *p, size_t index, unsigned long number,
                                  size_t *len);
/* The MPD's ContentProtection data (borrowed from p), or NULL when DASH is clear. */
const mbe_mpd_protection *mbe__protected_mpd(const mbe__protected *p);

#endif
