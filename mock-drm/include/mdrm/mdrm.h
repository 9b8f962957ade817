/* mdrm.h: the mock DRM license server, on 127.0.0.1 (ephemeral port unless given).
 *
 *   POST /clearkey/license               W3C ClearKey: {"kids":[...]} in, JWK set out
 *   POST /cenc/widevine/license?custom_data=..&signature=..   Kaltura UDRM, Widevine-shaped
 *   POST /cenc/playready/license?custom_data=..&signature=..  Kaltura UDRM, PlayReady-shaped
 *   POST /fps/license?custom_data=..&signature=..             Kaltura UDRM, FairPlay-shaped
 *   GET  /fps/certificate                kpsim's FairPlay application certificate
 * Message formats: kp/drmmsg.h, mock-drm/README.md. Extra query parameters (sessionId,
 * clientTag, referrer, uiConfId ...) are ignored; only custom_data is signed. A ClearKey
 * request may carry custom_data and signature too: then they are verified the same way.
 *
 * Answers: 200 license; 400 malformed request body (the message says why); 403 custom_data or
 * signature that does not verify, custom_data of another partner, a denied entry, an entry
 * whose license limit is used up; 404 a KID (or FairPlay asset, or content_id) the key store
 * does not know, or an unknown path; 405 another method; 413 a body over 1 MiB. Error bodies
 * are JSON {"error": outcome, "message": text}, except PlayReady's: a SOAP Fault carrying the
 * same text. Every answer allows any origin (CORS), so a real browser can call it.
 *
 * Every request is journaled; the journal can be read while the server runs. The server copies
 * its configuration; the logger is borrowed. All functions are safe from any thread.
 */
#ifndef MDRM_MDRM_H
#define MDRM_MDRM_H

#include "kp/log.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* What the server does with an entry's license requests. Zero: grant every one, no expiry. */
typedef struct mdrm_policy {
    int deny;           /* refuse every request (403 "denied") */
    long long expire_s; /* licenses last this many seconds (their duration); 0: no limit */
    long long limit;    /* grant this many licenses, then refuse (403 "limit"); 0: no limit */
} mdrm_policy;

/* One entry of the key store. Its KID and key are kp_drm_derive_key(id) unless has_key. */
typedef struct mdrm_entry {
    const char *id;
    int has_key;
    uint8_t kid[16];
    uint8_t key[16];
    mdrm_policy policy;
} mdrm_entry;

typedef struct mdrm_config {
    long long partner_id;    /* custom_data's account_id must be this */
    const char *udrm_secret; /* the custom_data signing secret; NULL: kp_udrm_default_secret */
    const mdrm_entry *entries;
    size_t n_entries;
    uint16_t port; /* 0: an ephemeral port */
    kp_log *log;
    /* The server's "now" in milliseconds (the runner's virtual clock): journal times and
     * Widevine's license_start_time. NULL: no clock (times are 0). Called from server threads. */
    long long (*clock)(void *ud);
    void *clock_ud;
    /* Fault rules (kp/fault.h; borrowed, may be NULL): the rules of server "drm" apply to this
     * server's requests (match keys path, method, scheme: the key system, entry). A faulted
     * request is journaled with "fault": <rule id> and "fault_reply": <kind>; its license, if
     * any, was still counted against the entry's limit. fault_real_time: as mbe_config's. */
    struct kp_fault_set *faults;
    int fault_real_time;
} mdrm_config;

typedef struct mdrm_server mdrm_server;

/* Returns 0 and the running server, or KP_EINVAL (an entry without id, a duplicate id),
 * KP_ENOMEM, KP_ESERVER (the port cannot be bound). */
int mdrm_server_start(const mdrm_config *cfg, mdrm_server **out);
void mdrm_server_stop(mdrm_server *s);
/* "http://127.0.0.1:<port>" (borrowed). */
const char *mdrm_server_url(const mdrm_server *s);
uint16_t mdrm_server_port(const mdrm_server *s);

/* Replaces an entry's policy (and resets its granted count) while serving; KP_ENOENT when the
 * key store has no such entry. */
int mdrm_server_set_policy(mdrm_server *s, const char *entry_id, const mdrm_policy *p);

/* The journal: a new JSON array, one object per request in arrival order:
 *   {"seq":N, "time_ms":T, "method":..., "path":..., "query":{...}, "system":"clearkey"|
 *    "widevine"|"playready"|"fairplay"|null, "entry":id|null, "kids":["<hex>",...],
 *    "status":N, "outcome":"granted"|"certificate"|"malformed"|"bad_signature"|"denied"|
 *    "limit"|"unknown_kid"|"unknown_entry"|"not_found"|"method"|"too_large"|"options",
 *    "message":text (failures), "duration":seconds (granted)} */
json_t *mdrm_server_journal(mdrm_server *s);
/* The same records as JSON lines (malloc'd text, caller frees; NULL when out of memory). */
char *mdrm_server_journal_lines(mdrm_server *s);
/* How many records have every key of `match` (kp_json_subset). */
size_t mdrm_server_count(mdrm_server *s, const json_t *match);

#endif
