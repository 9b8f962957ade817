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
 *   GET  /ads/...                               the mock ad server (mbe_ads below): VAST and
 *                                              VMAP documents, ad media, beacons
 *   POST|GET /analytics/<any path>?service=analytics&action=trackEvent&eventType=...
 *                                              the analytics sink (KAVA beacons: query, JSON
 *                                              or form parameters): {"time": <epoch>,
 *                                              "viewEventsEnabled": true}
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

/* ---- the mock ad server (ads.c) ----
 * Fixtures, by id, from which the back-end builds its ad documents. URLs (B = the back-end's
 * base URL; every one answers GET and HEAD, unknown ids 404):
 *   B/ads/vast/<vast id>        a VAST document (application/xml)
 *   B/ads/vmap/<vmap id>        a VMAP 1.0 document
 *   B/ads/media/<ad id>.mp4     the ad's media: progressive MP4 (H.264 + AAC) of its duration,
 *                               Range requests answered 206 as the CDN's progressive path
 *   B/ads/track/<vast id>/<ad id>/<event>   beacons of an ad in a document ("-" for a
 *                               wrapper's own): impression, error, click (ClickTracking), or a
 *                               tracking event (start, firstQuartile, ..., skip, progress)
 *   B/ads/vmaptrack/<vmap id>/<break id>/<event>   VMAP breakStart, breakEnd, error
 *   B/ads/click/<ad id>         the ad's ClickThrough landing page (when none is given)
 * Beacon URLs carry the VAST macros for the player to fill: every one ends with
 * ?cb=[CACHEBUSTING]&ts=[TIMESTAMP]&cp=[CONTENTPLAYHEAD]&ap=[ADPLAYHEAD] (VMAP's without the
 * ad playhead), error URLs add code=[ERRORCODE]. A beacon is answered 200 with a 1x1 GIF.
 * Journal records of /ads/ have "server": "ads", "kind": vast | vmap | media | impression |
 * tracking | error | click | unknown, the ids ("vast", "ad", "vmap", "break"), "event" (the
 * beacon's event; clicks: "clicktracking" or "clickthrough"), and the values the player put
 * in for the macros: "errorcode" (a number when it is one, else the text as received),
 * "cachebusting", "timestamp", "contentplayhead", "adplayhead".
 * Documents depend on the fixtures and the port only (no clock): the same fixtures give the
 * same bytes. */

/* mbe_ad.creative: what the ad's creative is */
enum {
    MBE_AD_LINEAR = 0, /* a linear video ad */
    MBE_AD_NONLINEAR,  /* a NonLinear (overlay) creative only: no linear ad to play */
    MBE_AD_VPAID       /* linear, its only MediaFile a VPAID application/javascript one */
};
/* mbe_ad.media: the linear ad's media files */
enum {
    MBE_AD_MEDIA_SERVED = 0, /* one progressive video/mp4, served by the mock */
    MBE_AD_MEDIA_MISSING,    /* listed, but the URL answers 404 */
    MBE_AD_MEDIA_NONE        /* no MediaFiles element at all */
};

typedef struct mbe_ad {
    const char *id;    /* [A-Za-z0-9._~-]+ (it is a URL path segment) */
    const char *title; /* AdTitle; NULL: the id */
    double duration;   /* seconds, > 0 (the Duration element and the media's length) */
    double skipoffset; /* seconds; < 0: not skippable (VAST 3.0+ only) */
    double skip_pct;   /* skipoffset as n% of the duration when >= 0 (then skipoffset < 0) */
    int creative;      /* MBE_AD_* */
    int media;         /* MBE_AD_MEDIA_* */
    const char *click_through; /* ClickThrough; NULL: B/ads/click/<id> */
} mbe_ad;

/* mbe_vast.broken: a deliberately bad document */
enum {
    MBE_VAST_GOOD = 0,
    MBE_VAST_MALFORMED, /* not well-formed XML (an unescaped '&' and an unclosed tag) */
    MBE_VAST_TRUNCATED, /* the good document cut in the middle */
    MBE_VAST_NOT_VAST,  /* well-formed XML whose root is not VAST (an HTML error page) */
    MBE_VAST_EMPTY_BODY /* 200 with no bytes */
};

typedef struct mbe_vast {
    const char *id;
    const char *version;    /* "2.0", "3.0", "4.0", "4.1" or "4.2" */
    const char *const *ads; /* ad ids: one InLine Ad each; two or more: a pod (sequence
                                   1..n, VAST 3.0+); none (and no wrapper): an empty VAST */
    size_t n_ads;
    const char *wrapper; /* a vast id: this document is one Wrapper ad pointing at it */
    int broken;          /* MBE_VAST_* */
} mbe_vast;

typedef struct mbe_vmap_break {
    const char *id;          /* breakId */
    const char *time_offset; /* timeOffset as written: start, end, HH:MM:SS[.mmm], n% or #n */
    const char *vast;        /* the vast id of its ads */
    int inline_vast;         /* VASTAdData with the document inline instead of AdTagURI */
} mbe_vmap_break;

typedef struct mbe_vmap {
    const char *id;
    const mbe_vmap_break *breaks;
    size_t n_breaks;
    int broken; /* MBE_VAST_* (not_vast: a VAST document instead of a VMAP) */
} mbe_vmap;

typedef struct mbe_ads {
    const mbe_ad *ads;
    size_t n_ads;
    const mbe_vast *vast;
    size_t n_vast;
    const mbe_vmap *vmap;
    size_t n_vmap;
} mbe_ads;

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
    /* The ad server's fixtures (copied at start); NULL: no ads (every /ads/ URL is a 404).
     * Ids must be unique per kind and every reference must resolve (else KP_EINVAL). */
    const mbe_ads *ads;
    /* The analytics sink (/analytics/...): analytics_down closes every beacon's connection
     * without an answer (as a sink that is down looks to a player); analytics_status answers
     * beacons with that HTTP status and an HTML error page instead of 200; analytics_no_views
     * answers viewEventsEnabled:false. All 0: beacons are answered as the real server does. */
    int analytics_down;
    int analytics_status;
    int analytics_no_views;
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
 *    "kind":"master"|"playlist"|"segment"|... (CDN only), "entryId", "flavorId", "segment";
 *    analytics: "server":"analytics", "kind":"beacon", "eventType":N, "eventName":"VIEW",
 *    "params":{every query and body parameter, numbers as numbers};
 *    "fault":<rule id>, "fault_reply":<kind> (a faulted request only)} */
json_t *mbe_server_journal(mbe_server *s);
/* How many API calls (server "api": each sub-request counts) or CDN requests (server "cdn")
 * match: every key of `match` must equal the call's service/action/params (API) or the
 * journal record (CDN). For beacons (server "analytics") a key matches the record's field
 * (eventType, eventName, status ...) or else the beacon parameter of that name. */
size_t mbe_server_count(mbe_server *s, const char *server, const json_t *match);
/* The same rule for one journal record: how many times it matches (server "api": how many of
 * its calls match; otherwise 1 or 0); 0 for a record of another server. */
size_t mbe_journal_match(const char *server, const json_t *match, const json_t *rec);

#endif
