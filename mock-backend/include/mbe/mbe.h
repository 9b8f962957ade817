/* mbe.h: the mock Kaltura back-end: OVP API, playManifest and CDN, on 127.0.0.1.
 *
 * mbe_server_start() prepares the media of every entry (mbe/media.h: encoded once, cached),
 * then serves, on a loopback port of its own (ephemeral unless given):
 *   POST /api_v3/service/multirequest          Kaltura multirequests (JSON), executed the way
 *                                              the real server does (reference/kaltura-provider.md §1.2)
 *   POST|GET /api_v3/service/<s>/action/<a>    single API calls (query, form or JSON parameters);
 *                                              on an OTT back-end the Phoenix API, with its envelope
 *   GET  /api_v3/.../caption_captionAsset/...  caption files (serve, serveWebVTT)
 *   GET  /api_v3/service/assetFile/action/playManifest/...  OTT: 302 to the asset's media
 *   GET  /p/<pid>/sp/<pid>00/playManifest/...  format applehttp: HLS master playlist; mpegdash:
 *                                              the MPD; url: 302 to the progressive MP4
 *   GET  /hls/p/<pid>/sp/<pid>00/serveFlavor/... HLS media playlists and MPEG-TS segments
 *   GET  /hls/p/<pid>/sp/<pid>00/serveFlavor/entryId/<id>/v/1/flavorId/<fid>/name/a.mp4/encryption.key
 *                                              the 16 raw content-key bytes of an entry with
 *                                              drm.scheme aes-128 (its media playlists carry
 *                                              #EXT-X-KEY:METHOD=AES-128,URI="encryption.key",
 *                                              no IV: the IV is the media sequence number)
 *   GET  /hls/.../flavorId/<fid|audio>/name/a.mp4/{index.m3u8,init.mp4,seg-<n>.m4s}
 *                                              HLS as fMP4 (EXT-X-VERSION 7, EXT-X-MAP, the
 *                                              audio an EXT-X-MEDIA rendition "audio"; the
 *                                              bytes are the DASH packaging's): of an entry
 *                                              with hls_segments MBE_HLS_FMP4 (clear, or with
 *                                              drm.scheme aes-128 every .m4s encrypted whole
 *                                              as the TS segments are, init.mp4 clear, the
 *                                              key at .../flavorId/<fid|audio>/name/a.mp4/
 *                                              encryption.key), and of a cbcs entry with
 *                                              FairPlay among its key systems: METHOD=SAMPLE-AES,
 *                                              URI="skd://<entryId>" (KEYFORMAT
 *                                              "com.apple.streamingkeydelivery")
 *   GET  /dash/p/<pid>/sp/<pid>00/serveFlavor/... DASH init and media segments (fMP4); with
 *                                              drm.scheme cenc or cbcs encrypted (encv/enca +
 *                                              sinf, a pssh per key system, senc/saiz/saio) and
 *                                              the MPD with ContentProtection
 *   GET  /p/<pid>/sp/<pid>00/serveFlavor/.../a.mp4  progressive MP4 (Range requests: 206)
 *   GET  /p/<pid>/sp/<pid>00/thumbnail/...     JPEG thumbnails and sprite strips
 * API errors are KalturaAPIException objects inside HTTP 200, as the real API answers.
 * Every request is journaled; the journal can be read while the server runs.
 *
 * The server copies the configuration; the media cache and logger are borrowed and must
 * outlive it. All functions are safe to call from any thread.
 */
#ifndef MBE_MBE_H
#define MBE_MBE_H

#include "kp/log.h"
#include "mbe/media.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

enum { MBE_FORMAT_HLS = 1, MBE_FORMAT_DASH = 2, MBE_FORMAT_PROGRESSIVE = 4 };

/* The container of an entry's HLS segments (mbe_entry.hls_segments). */
enum { MBE_HLS_TS = 0, MBE_HLS_FMP4 = 1 };

typedef struct mbe_caption {
    const char *lang;   /* "en" (languageCode) */
    const char *label;  /* "English" */
    const char *format; /* "vtt" or "srt" */
    int is_default;
} mbe_caption;

/* An entry's protection. Its key ID and content key are kp_drm_derive_key(entry id) unless
 * `has_key` (then `kid` and `key`). */
typedef struct mbe_drm {
    int scheme;       /* KP_ENC_* (kp/drm.h); KP_ENC_NONE: clear */
    unsigned systems; /* 1u << KP_DRM_*: the key systems getPlaybackContext lists in the
                       * sources' drm (and the pssh boxes the init segments carry) */
    int has_key;
    uint8_t kid[16];
    uint8_t key[16];
    int bad_certificate; /* FairPlay: the playback context carries a certificate that is not
                          * the license server's (a certificate failure in the player) */
} mbe_drm;

typedef struct mbe_entry {
    const char *id;
    const char *name;         /* NULL: the id */
    const char *reference_id; /* may be NULL */
    double duration;          /* seconds */
    const int *formats;       /* MBE_FORMAT_* in the order sources are listed */
    size_t n_formats;
    const char *const *renditions; /* "360p" ... */
    size_t n_renditions;
    const char *status; /* ready | import | preconvert | deleted (NULL: ready) */
    const char *block;  /* NULL, or an access-control restriction code (OTT: a Phoenix message
                           code such as ConcurrencyLimitation) */
    const mbe_caption *captions;
    size_t n_captions;
    const json_t *metadata;   /* custom metadata {"Key": "value"} (borrowed), or NULL */
    const char *bumper_entry; /* the entry played as this entry's bumper, or NULL */
    const char *bumper_click; /* the bumper's click-through URL */
    mbe_drm drm;              /* zero: clear media */
    /* MBE_HLS_TS (0): HLS media playlists of MPEG-TS segments (EXT-X-VERSION 3);
     * MBE_HLS_FMP4: fMP4 (EXT-X-VERSION 7, EXT-X-MAP init.mp4 + seg-<n>.m4s, made from the
     * DASH packaging, which the server then also loads), the master adding an audio
     * rendition (GROUP-ID "aac"). A FairPlay entry's HLS is fMP4 whatever this says. */
    int hls_segments;
} mbe_entry;

typedef struct mbe_playlist {
    const char *id;
    const char *name;
    const char *description;
    const char *const *entries; /* entry ids, in order */
    size_t n_entries;
} mbe_playlist;

enum { MBE_OVP = 0, MBE_OTT = 1 };

typedef struct mbe_config {
    int kind; /* MBE_OVP (default) or MBE_OTT (Phoenix: entries are assets, ids numeric) */
    long long partner_id;
    const mbe_entry *entries;
    size_t n_entries;
    const mbe_playlist *playlists;
    size_t n_playlists;
    /* OTT only: per-item errors of a multirequest as {"error": {...}} (0, the default) or as a
     * bare KalturaAPIException object (1); the provider accepts both */
    int ott_bare_item_errors;
    mbe_media_cache *media; /* borrowed; NULL: the server makes one with the default dir */
    kp_log *log;
    uint16_t port;            /* 0: an ephemeral port */
    long long epoch;          /* the back-end's "now" in Unix seconds (KS expiry, timestamps);
                               0: 1767225600 (2026-01-01T00:00:00Z), so answers are stable */
    const char *admin_secret; /* KS signing secret; NULL: derived from the partner id */
    /* The license server of protected entries ("http://127.0.0.1:<port>", the mock-drm's
     * URL): the base of the UDRM license URLs in getPlaybackContext. NULL: no DRM data. */
    const char *license_url;
    /* The UDRM signing secret of custom_data (DrmLicenseUtils::signDataWithKey); NULL:
     * derived from the partner id, as mock-drm derives it by default. */
    const char *udrm_secret;
    /* Fault rules (kp/fault.h; borrowed, may be NULL): the rules of servers api, cdn, ads and
     * analytics apply to this server's requests (ads: paths under /ads/, analytics: under
     * /analytics/). A faulted request is journaled with "fault": <rule id> and "fault_reply":
     * <kind>. fault_real_time 0 (kpsim run): delays, dribbles and timeouts are announced to the
     * player's network in KP_FAULT_HDR_* headers and answered at once (virtual time);
     * 1 (kpsim serve): the server really waits. */
    struct kp_fault_set *faults;
    int fault_real_time;
    /* 1: serve the admin path of the fault rules (needs `faults`), on this loopback port:
     *   GET /__admin/faults            the rules, with their counters (JSON array)
     *   POST /__admin/faults           adds the rule in the JSON body (the scenario's keys);
     *                                  201 {"id": N}, or 400 {"error": message, "where": key}
     *   DELETE /__admin/faults/<id>    removes one rule (204; 404 when there is none)
     *   DELETE /__admin/faults         removes every rule (204)
     * Admin requests are not journaled and never faulted. */
    int fault_admin;
} mbe_config;

typedef struct mbe_server mbe_server;

/* Returns 0 and the running server, or a negative KP_E* code (KP_EINVAL for a bad entry,
 * KP_EMEDIA/KP_EIO when media cannot be made, KP_ESERVER when the port cannot be bound). */
int mbe_server_start(const mbe_config *cfg, mbe_server **out);
/* Stops serving and frees everything. */
void mbe_server_stop(mbe_server *s);

/* A KS of this back-end (malloc'd, caller frees): signed with its secret, for `user_id`
 * (NULL or "": none) with `privileges` (NULL: "view:*"), valid for `expires_in` seconds from
 * the back-end's clock (negative: already expired). NULL when out of memory. */
char *mbe_server_make_ks(const mbe_server *s, const char *user_id, const char *privileges,
                         long long expires_in);

/* "http://127.0.0.1:<port>" (borrowed). */
const char *mbe_server_url(const mbe_server *s);
uint16_t mbe_server_port(const mbe_server *s);

/* ---- canned replies ----
 * A request whose method and path match an override gets the override's reply instead of the
 * normal answer (it is still journaled, with "override": true). This serves a recorded back-end
 * answer verbatim (the provider conformance corpus) and is the base of fault injection. */
typedef enum mbe_reply_kind {
    MBE_REPLY_HTTP = 0, /* answer with status, headers and body */
    MBE_REPLY_RESET     /* close the connection without an answer */
} mbe_reply_kind;

typedef struct mbe_override {
    const char *method; /* NULL: any method */
    const char *path;   /* exact path, without the query */
    mbe_reply_kind kind;
    int status;                 /* HTTP status (MBE_REPLY_HTTP) */
    const char *content_type;   /* NULL: none */
    const char *const *headers; /* extra "Name: value" lines */
    size_t n_headers;
    const char *body;
    size_t body_len;
} mbe_override;

/* Adds an override (copied; kept until the server stops); later matches win over earlier
 * ones. Safe while requests are served. Returns 0, KP_EINVAL (no path) or KP_ENOMEM. */
int mbe_server_override(mbe_server *s, const mbe_override *o);

/* The journal: a new JSON array, one object per request in arrival order:
 *   {"seq":N, "server":"api"|"cdn"|"ads"|"analytics", "method":..., "path":..., "query":{...},
 *    "status":N, "bytes":N, "body":<parsed JSON or string, API only>,
 *    "calls":[{"service":...,"action":...,"params":{...}}] (API only),
 *    "kind":"master"|"playlist"|"segment"|... (CDN only), "entryId", "flavorId", "segment",
 *    "fault":<rule id>, "fault_reply":<kind> (a faulted request only)} */
json_t *mbe_server_journal(mbe_server *s);
/* How many API calls (server "api": each sub-request counts) or CDN requests (server "cdn")
 * match: every key of `match` must equal the call's service/action/params (API) or the
 * journal record (CDN). */
size_t mbe_server_count(mbe_server *s, const char *server, const json_t *match);

#endif
