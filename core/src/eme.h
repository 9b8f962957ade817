/* eme.h: the player's Encrypted Media Extensions, as shaka's DrmEngine runs them for the
 * DASH adapter (and the native adapter's FairPlay handler): the key system is chosen for the
 * selected source, the license is fetched over the virtual network, and the engines'
 * fragments are decrypted with the keys the simulated CDM (cdm.h) holds.
 *
 *   kp_eme_new(source drmData, platform key systems, drm.keySystem)     once per source
 *   kp_eme_encrypted(offered systems, init data)                        the manifest's or the
 *                                                                       init segment's pssh
 *   kp_eme_decrypt(init, fragment)                                      before demuxing
 *
 * The key system is the first of the content's (in the manifest's order) that has a license
 * server in drmData and that the platform supports; drm.keySystem, when set and offered,
 * goes first (playkit's configured DRM). No server for any: 6012 NO_LICENSE_SERVER_GIVEN; no
 * supported one: 6001 REQUESTED_KEY_SYSTEM_CONFIG_UNAVAILABLE. The request is POSTed once;
 * an HTTP failure is 6007 LICENSE_REQUEST_FAILED, a license the CDM refuses 6008
 * LICENSE_RESPONSE_REJECTED (FairPlay: 6015 BAD_FAIRPLAY_RESPONSE), a FairPlay certificate it refuses 6017
 * COULD_NOT_CREATE_KEY_SESSION (6004 INVALID_SERVER_CERTIFICATE for the others), a key that
 * expires while the media plays 6014 EXPIRED, and a fragment whose KID the license did not
 * give 6008 too. Every DRM error is CRITICAL, category DRM (6), and reported once through
 * host->fail; afterwards every call fails quietly. A license accepted emits
 * drmlicenseloaded {licenseTime (seconds), scheme (the EME key system)}.
 */
#ifndef KP_EME_H
#define KP_EME_H

#include "kp/cenc.h"
#include "kp/drm.h"
#include "kp/event.h"
#include "kp/log.h"
#include "kp/net.h"
#include "kp/sched.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kp_eme_host {
    kp_sched *sched;
    kp_net *net;
    kp_log *log;
    void *ud;
    void (*emit)(void *ud, kp_event_type type, json_t *payload); /* payload stolen */
    void (*fail)(void *ud, json_t *error);                       /* a player error, stolen */
    /* shaka's drm.retryParameters for license requests (borrowed during kp_eme_new; NULL:
     * shaka's defaults). FairPlay (the native adapter's handler) never retries. */
    const json_t *retry_parameters;
} kp_eme_host;

typedef struct kp_eme kp_eme;

/* drm_data: the selected source's drmData ([{licenseUrl, scheme, certificate?}], borrowed and
 * copied); supported: the platform's key systems (1u << KP_DRM_*); preferred: drm.keySystem
 * (an EME key system string) or NULL. NULL when out of memory. */
kp_eme *kp_eme_new(const kp_eme_host *host, const json_t *drm_data, unsigned supported,
                   const char *preferred);
/* Cancels the license request and the expiry timer; no host callback fires after it. */
void kp_eme_free(kp_eme *e);

/* The content is protected (MediaKeys are set up before any init data, as shaka's DrmEngine
 * does at load): chooses the key system among `offered` (as below) and fails with 6012 or
 * 6001 when none will do. Later calls are ignored. 0, or a negative code after the error. */
int kp_eme_choose(kp_eme *e, const kp_drm_system *offered, size_t n_offered);

/* Init data arrived: `offered` lists the key systems it names (its ContentProtection
 * or pssh SystemIDs, in order; n_offered 0 when only the generic mp4protection is there: then
 * every system of drmData is a candidate). init_data holds the pssh boxes ("cenc") or the W3C
 * key ids JSON ("keyids"); default_kid (may be NULL) lets ClearKey ask without a pssh. The
 * first call chooses the key system (unless kp_eme_choose did) and sends the request; later
 * calls are ignored. 0, or a negative code after the error was reported. */
int kp_eme_encrypted(kp_eme *e, const kp_drm_system *offered, size_t n_offered,
                     const char *init_type, const uint8_t *init_data, size_t init_len,
                     const uint8_t *default_kid);

/* Decrypts in place the encrypted tracks of a fragment (init parsed from the init segment).
 * 0: done (nothing to do for clear tracks); KP_EBUSY: no license yet, `ready(ud)` is called
 * once when it arrives (register one waiter per ud; kp_eme_forget drops it); another negative
 * code: failed, the error reported. */
int kp_eme_decrypt(kp_eme *e, const kp_cenc_init *init, uint8_t *buf, size_t len,
                   void (*ready)(void *ud), void *ud);
/* Drops the waiter of ud (an engine being destroyed). */
void kp_eme_forget(kp_eme *e, void *ud);

/* The chosen key system, or -1 before kp_eme_encrypted. */
int kp_eme_system(const kp_eme *e);

#endif
