/* mbe_internal.h: the server's state, shared by server.c (HTTP), api.c (services), cdn.c
 * (playManifest and segments) and journal.c. */
#ifndef MBE_INTERNAL_H
#define MBE_INTERNAL_H

#include "mbe/mbe.h"

#include "kp/buf.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct mbe_flavor {
    char id[24];
    mbe_rendition r;
    int bitrate_kbps; /* video + audio, as KalturaFlavorAsset.bitrate */
    int index;        /* rendition index in the entry's media */
} mbe_flavor;

typedef struct mbe_ientry {
    char *id, *name, *reference_id, *status, *block;
    double duration;
    int formats[3];
    size_t n_formats;
    mbe_flavor *flavors;
    size_t n_flavors;
    const mbe_media *media; /* NULL when the entry has no playable media */
    /* entries.c */
    mbe_caption *captions; /* strings owned */
    size_t n_captions;
    json_t *metadata; /* {"Key": "value"} or NULL */
    char *bumper_entry, *bumper_click;
    long long ott_file_base; /* OTT: asset file ids are ott_file_base + format index */
    /* api.c: the entry's API objects, built on first use, immutable, shared by the replies */
    struct mbe_entry_api *api;
    /* entries.c: the entry's protection, its kid and key filled in (derived unless given) */
    mbe_drm drm;
    int hls_segments; /* MBE_HLS_TS or MBE_HLS_FMP4 (entries.c) */
    /* cdn.c: the encrypted media (media_protect.h), made on first use; freed with the entry */
    _Atomic(struct mbe__protected *) prot;
} mbe_ientry;

typedef struct mbe_iplaylist {
    char *id, *name, *description;
    char **entries;
    size_t n_entries;
} mbe_iplaylist;

typedef struct mbe_override_rec {
    char *method, *path, *content_type, *body;
    size_t body_len;
    char **headers;
    size_t n_headers;
    mbe_reply_kind kind;
    int status;
} mbe_override_rec;

struct mbe_server {
    struct MHD_Daemon *daemon;
    char url[64];
    uint16_t port;
    long long partner_id;
    long long epoch;
    char *secret;
    char *license_url; /* the UDRM base of protected entries' license URLs, or NULL */
    char *udrm_secret; /* the custom_data signing secret (never NULL once started) */
    kp_log *log;
    int kind; /* MBE_OVP or MBE_OTT */
    bool ott_bare_item_errors;
    int analytics_down;     /* the sink closes connections without an answer */
    int analytics_status;   /* non-zero: the sink's HTTP status instead of 200 */
    int analytics_no_views; /* the sink answers viewEventsEnabled:false */
    mbe_ientry *entries;
    size_t n_entries;
    mbe_iplaylist *playlists;
    size_t n_playlists;
    mbe_media_cache *media;
    bool own_media;
    struct mbe_ads_state *ads; /* ads.c: the ad server's documents (immutable), or NULL */

    pthread_mutex_t lock; /* guards everything below */
    /* journal.c: one compact JSON record per line, in chunks */
    struct mbe_journal_chunk *journal_head, *journal_tail;
    size_t journal_n;                /* records kept */
    unsigned long long journal_lost; /* records that could not be kept (out of memory) */
    mbe_override_rec *overrides;
    size_t n_overrides;
    unsigned long long seq;
    unsigned long long ks_count;
    /* server.c: the last JSON bodies parsed, by their bytes (players repeat theirs) */
    struct mbe_parsed_body {
        uint64_t hash;
        char *bytes;
        size_t len;
        json_t *value; /* immutable once here */
        json_t *text;  /* a string: value as compact JSON */
    } parsed[16];
    unsigned parsed_next;
    /* fault rules (borrowed) and their delivery */
    struct kp_fault_set *faults;
    bool fault_real_time, fault_admin;
    atomic_bool stopping; /* set before the daemon stops: real-time waits give up */
};

/* api.c */
json_t *mbe_api_call(mbe_server *s, const char *service, const char *action, json_t *params);
json_t *mbe_exception(const char *code, json_t *args, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const mbe_ientry *mbe_find_entry(const mbe_server *s, const char *id);
void mbe_entry_api_free(mbe_ientry *e);

/* cdn.c: answers a GET or HEAD under /p/, /hls/ or /dash/; fills status, body (borrowed when
 * *persistent, else malloc'd), content type, byte-range headers and the journal record's CDN
 * fields. */
typedef struct mbe_reply {
    int status;
    const char *content_type;
    char *body;
    size_t len;
    bool persistent; /* body points into immutable media; do not free */
    char *location;  /* redirect target, malloc'd */
    /* byte ranges (RFC 9110 §14) */
    const char *range;      /* in: the request's Range header (borrowed), or NULL */
    bool accept_ranges;     /* out: send "Accept-Ranges: bytes" */
    char content_range[64]; /* out: the Content-Range value, or "" */
} mbe_reply;
void mbe_cdn_get(mbe_server *s, const char *path, mbe_reply *r, json_t *record);
/* cdn.c: applies r->range to a persistent 200 body (206 with Content-Range, or 416), noting
 * the range in the record. */
void mbe_reply_range(mbe_reply *r, json_t *record);

/* ads.c: the mock ad server. mbe_ads_init builds every document (after the URL is known);
 * mbe_ads_get answers a GET or HEAD under /ads/ and fills the record's ad fields. */
int mbe_ads_init(mbe_server *s, const mbe_ads *ads);
void mbe_ads_free(mbe_server *s);
void mbe_ads_get(mbe_server *s, const char *path, mbe_reply *r, json_t *record);

/* analytics.c: answers a beacon to the analytics sink (params: the query and body
 * parameters, borrowed); fills the reply (body malloc'd) and the journal record's analytics
 * fields (server, kind, eventType, eventName, params). */
void mbe_analytics_answer(mbe_server *s, const char *url, json_t *params, mbe_reply *r,
                          json_t *rec);

/* entries.c: the parts of an entry beyond its media (captions, metadata, bumper) and the
 * playlists; copied from the configuration, freed with the server. */
int mbe_entry_extras(mbe_server *s, const mbe_entry *in, mbe_ientry *e);
void mbe_entry_extras_free(mbe_ientry *e);
int mbe_playlists_init(mbe_server *s, const mbe_config *cfg);
void mbe_playlists_free(mbe_server *s);
const mbe_iplaylist *mbe_find_playlist(const mbe_server *s, const char *id);

/* ott.c: the Phoenix API (OTT) */
json_t *mbe_ott_call(mbe_server *s, const char *service, const char *action, json_t *params);
/* GET /api_v3/service/assetFile/action/playManifest/...: redirects to the asset's media */
void mbe_ott_play_manifest(mbe_server *s, const char *path, mbe_reply *r, json_t *record);

/* api.c: GET requests under /api_v3/ for resources rather than API calls (caption assets,
 * the OTT playManifest): mbe_api_is_resource tells which, mbe_api_get answers them. */
bool mbe_api_is_resource(const mbe_server *s, const char *path, bool get);
void mbe_api_get(mbe_server *s, const char *path, mbe_reply *r, json_t *record);

/* journal.c */
typedef struct mbe_journal_chunk mbe_journal_chunk;
/* Steals record; gives it the next "seq" (returned: the reply's X-Kaltura-Session).
 * body_json, when not NULL, is compact JSON written as the record's "body". */
unsigned long long mbe_journal_add(mbe_server *s, json_t *record, const char *body_json);
void mbe_journal_free(mbe_server *s);

#endif
