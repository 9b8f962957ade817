/* cdm.h: the player's simulated CDM, one per key system: pure logic, no I/O, no clock of its
 * own (every call that needs time takes the virtual time).
 *
 * The player glue drives it the way EME drives a real CDM:
 *   kp_cdm_new(system)                         requestMediaKeySystemAccess + createMediaKeys
 *   kp_cdm_set_certificate(cdm, cert)          setServerCertificate (FairPlay needs one)
 *   kp_cdm_generate_request(cdm, type, data)   generateRequest: the "message" to POST, with its
 *                                              Content-Type (and SOAPAction for PlayReady)
 *   kp_cdm_update(cdm, response, now)          update(): the keys and their expiry
 *   kp_cdm_key(cdm, kid, now, key)             the decryptor's lookup: usable / expired / unknown
 * Messages are those of kp/drmmsg.h (mock-drm/README.md). Requests are deterministic: the
 * nonce of the n-th request is derived from the system, n and the init data.
 *
 * The CDM owns its keys; kp_cdm_free wipes them. Not thread-safe (one player thread).
 */
#ifndef KP_CDM_H
#define KP_CDM_H

#include "kp/buf.h"
#include "kp/drm.h"

#include <stddef.h>
#include <stdint.h>

typedef struct kp_cdm kp_cdm;

typedef struct kp_cdm_request {
    kp_buf body;              /* the license request body */
    const char *content_type; /* static */
    const char *soap_action;  /* PlayReady's SOAPAction header value, else NULL; static */
    size_t n_kids;            /* the KIDs it asks for */
} kp_cdm_request;

typedef enum kp_cdm_key_status {
    KP_CDM_KEY_UNKNOWN = 0, /* no license gave this KID */
    KP_CDM_KEY_USABLE = 1,
    KP_CDM_KEY_EXPIRED = 2 /* its license's duration has passed */
} kp_cdm_key_status;

/* NULL for an unknown system or out of memory. */
kp_cdm *kp_cdm_new(kp_drm_system system);
void kp_cdm_free(kp_cdm *c);
kp_drm_system kp_cdm_system(const kp_cdm *c);

/* FairPlay's application certificate (64 bytes of kpsim's, as /fps/certificate or the playback
 * context's base64 gives it). KP_EPARSE for one that is not kpsim's, KP_ENOTSUP for other
 * systems (they need none). */
int kp_cdm_set_certificate(kp_cdm *c, const void *cert, size_t len, char *err, size_t errlen);

/* A license request from init data: init_type "cenc" (pssh boxes), "keyids" (W3C JSON) or, for
 * FairPlay, "skd" (the skd:// URI of the key tag). Fills *out (kp_cdm_request_free) and returns
 * 0; KP_EPARSE (bad init data), KP_ENOENT (no pssh of this system), KP_ENOTSUP (an init data
 * type the system does not take), KP_ESTATE (FairPlay without a certificate), each with err. */
int kp_cdm_generate_request(kp_cdm *c, const char *init_type, const void *data, size_t len,
                            kp_cdm_request *out, char *err, size_t errlen);
void kp_cdm_request_free(kp_cdm_request *r);

/* The license server's answer, at virtual time now_ms: returns the number of keys it gave
 * (>= 1). KP_ESTATE when no request is pending, KP_EPARSE for a license that does not parse or
 * does not answer the pending request (another request id / asset), with err. Keys already
 * known are replaced (a renewal). The request stays pending until a license is accepted. */
int kp_cdm_update(kp_cdm *c, const void *body, size_t len, long long now_ms, char *err,
                  size_t errlen);

/* The key of a KID at virtual time now_ms: KP_CDM_KEY_USABLE (key copied out if not NULL;
 * *expires_ms is its expiry, -1 for none, if not NULL), or KP_CDM_KEY_EXPIRED / UNKNOWN with a
 * message in err. */
kp_cdm_key_status kp_cdm_key(const kp_cdm *c, const uint8_t kid[16], long long now_ms,
                             uint8_t key[16], long long *expires_ms, char *err, size_t errlen);
size_t kp_cdm_key_count(const kp_cdm *c);
/* The earliest expiry still ahead of now_ms (when the glue should report EXPIRED), or -1. */
long long kp_cdm_next_expiry(const kp_cdm *c, long long now_ms);

/* "usable", "expired", "unknown" (EME's MediaKeyStatus names, "unknown" for none). */
const char *kp_cdm_key_status_name(kp_cdm_key_status s);

#endif
