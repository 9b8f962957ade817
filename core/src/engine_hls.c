/* engine_hls.c: the HLS engine, modelled on playkit-js-hls over hls.js 1.6.
 *
 * load(): abrmodechanged, the element is reset for a MediaSource (emptied, loadstart), the
 * master playlist is fetched (manifestloaded), levels are sorted by bandwidth and the level
 * listed first starts (hls.js firstLevel); load resolves with the track list. Then the
 * level playlist sets the MediaSource duration and fragments are fetched one at a time,
 * each demuxed with libavformat and appended with its real timestamps, until 30 s are
 * buffered ahead (hls.js maxBufferLength) or the last fragment is in (endOfStream).
 * ABR follows hls.js: an EWMA bandwidth estimate (fast/slow half-lives 3 s / 9 s, default
 * 500 kbit/s) and the highest level whose bitrate fits 0.95 (same or lower) or 0.7 (higher)
 * of the estimate. videotrackchanged fires when the playhead enters a fragment of another
 * level (hls.js FRAG_CHANGED → LEVEL_SWITCHED).
 *
 * Encryption (hls.js KeyLoader + Decrypter): a segment under EXT-X-KEY METHOD=AES-128 needs
 * its key first; each key URI is fetched once (before the first segment that uses it) and
 * must give 16 bytes. The segment is decrypted whole (AES-128-CBC, PKCS#7) with the tag's IV
 * or, without one, its media sequence number, then demuxed. A key that does not load (or is
 * not 16 bytes) is hls.js keyLoadError, a fatal NETWORK error: 1002 (hls-adapter.ts
 * 1134-1180); a segment whose padding is wrong after decryption (a wrong key or IV) is
 * fragDecryptError, a fatal MEDIA error: 3018 (hls-adapter.ts 1166-1172). hls.js decrypts
 * SAMPLE-AES only through EME, which playkit never gives it (canPlayDrm is false): a
 * SAMPLE-AES or SAMPLE-AES-CTR key is a fatal key-system error, 3018 in category PLAYER
 * (hls-adapter.ts 1174). A METHOD hls.js does not know is ignored (its m3u8 parser drops the
 * tag with a warning), so the segments are taken as clear.
 *
 * fMP4 (EXT-X-MAP): each level's init section is loaded before its first fragment (a
 * fragloaded of its own) and every fragment is demuxed behind it; with AES-128 the fragments
 * are decrypted whole like TS segments (the init section is taken as clear).
 *
 * Alternate audio (hls.js audio-track-controller + audio-stream-controller): when the starting
 * level's AUDIO group has an EXT-X-MEDIA TYPE=AUDIO rendition with a URI (the DEFAULT=YES one,
 * else the first), its media playlist is requested right after the level's and its fragments
 * (EXT-X-MAP init, AES-128 keys of its own EXT-X-KEY) are fetched as a second stream, in
 * parallel with the level's, once the level's first fragment has set initPTS. Its fragments
 * give the audio track; the level's give the video only. Each stream keeps 30 s in its own
 * buffer; endOfStream waits for both last fragments. Without such a rendition (TS entries)
 * nothing of this runs.
 */
#include "demux.h"
#include "engine.h"
#include "ewma.h"
#include "fetch.h"
#include "m3u8.h"

#include "kp/buf.h"
#include "kp/cenc.h"
#include "kp/err.h"
#include "kp/jsonu.h"
#include "kp/perror.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_BUFFER_LENGTH KP_SEC(30)
/* hls.js gap-controller: a seek that lands in a hole at most MAX_START_GAP_JUMP in front of
 * buffered data is moved into it after one stalled poll (the stream controller's 100 ms
 * tick), to max(start + SKIP_BUFFER_RANGE_START, position + SKIP_BUFFER_HOLE_STEP_SECONDS) */
#define GAP_POLL                      KP_MS(100)
#define MAX_START_GAP_JUMP            KP_SEC(2)
#define SKIP_BUFFER_RANGE_START       KP_MS(50)
#define SKIP_BUFFER_HOLE_STEP_SECONDS KP_MS(100)
#define EWMA_FAST_HALF_LIFE           3.0
#define EWMA_SLOW_HALF_LIFE           9.0
#define EWMA_DEFAULT_ESTIMATE         500000.0
#define ABR_FACTOR_DOWN               0.95
#define ABR_FACTOR_UP                 0.7

typedef struct level {
    kp_m3u8_variant v; /* strings borrowed from the master playlist */
    kp_m3u8 *details;  /* media playlist, once loaded */
    int manifest_index;
    kp_buf init; /* fMP4: the EXT-X-MAP init section, once loaded */
    bool init_in;
} level;

typedef struct frag_rec {
    int level;
    size_t index; /* segment index in that level */
    kp_time start, end;
} frag_rec;

typedef enum stage { ST_IDLE, ST_MASTER, ST_LEVEL, ST_KEY, ST_INIT, ST_FRAG, ST_FAILED } stage;

typedef struct hls_key {
    char *uri;
    uint8_t key[16];
} hls_key;

/* hls.js audio-stream-controller: the variant's AUDIO group rendition with a URI of its own
 * (the DEFAULT=YES one, else the first), loaded as a second stream alongside the level. */
typedef struct audio_stream {
    bool active;
    const char *uri; /* borrowed from the master playlist */
    kp_m3u8 *details;
    kp_buf init;
    bool init_in;
    stage stage;
    uint64_t req;
    size_t next_index;
    bool next_valid;
    kp_time last_end; /* end of the last appended audio fragment */
    bool done;        /* its last fragment is in */
    char *key_uri;
} audio_stream;

typedef struct hls {
    kp_engine_host host;
    kp_task_id gap_task; /* a pending gap-controller poll */
    char *url;
    bool abr_enabled;
    kp_m3u8 *master;
    level *levels;
    size_t n_levels;
    int load_level;    /* level fragments are loaded from */
    int playing_level; /* last level reported by videotrackchanged, -1 */
    stage stage;
    uint64_t req;
    size_t next_index; /* next segment index to load in load_level */
    bool next_valid;   /* next_index follows the last appended fragment */
    bool duration_set;
    bool eos;
    bool have_init_pts;
    kp_time init_pts;
    frag_rec *frags;
    size_t n_frags, cap_frags;
    kp_ewma fast, slow;
    kp_cenc_ctx *cenc; /* AES-128 decryption, made with the first key */
    hls_key *keys;     /* loaded keys, one per URI */
    size_t n_keys;
    kp_buf plain;   /* the decrypted segment */
    kp_buf joined;  /* fMP4: init section + fragment */
    char *key_uri;  /* the key being loaded */
    bool main_done; /* the load level's last fragment is in */
    audio_stream audio;
    /* hls.js loaders: retries and timeouts per load policy (fetch.h) */
    kp_fetcher *fetch;
    kp_retry_policy pol_manifest, pol_playlist, pol_frag, pol_key;
    bool manifest_retried; /* the adapter's second manifest load was made */
} hls;

/* ---- bandwidth estimate (hls.js EwmaBandWidthEstimator) ---- */

static double bw_estimate(const hls *h)
{
    if (h->fast.total_weight < 0.1)
        return EWMA_DEFAULT_ESTIMATE;
    double f = kp_ewma_get(&h->fast), s = kp_ewma_get(&h->slow);
    return f < s ? f : s;
}

/* ---- helpers ---- */

static bool hls_can_play(const json_t *source, const json_t *config)
{
    static const char *const types[] = {"application/x-mpegurl", "application/vnd.apple.mpegurl",
                                        "audio/mpegurl",         "audio/x-mpegurl",
                                        "video/x-mpegurl",       "video/mpegurl",
                                        "application/mpegurl"};
    const char *mime = kp_json_str(source, "mimetype", "");
    bool known = false;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcasecmp(mime, types[i]) == 0)
            known = true;
    /* hls.js never plays DRM (playkit-js-hls canPlayDrm is false) */
    const json_t *drm = json_object_get(source, "drmData");
    return known && !(json_is_array(drm) && json_array_size(drm) > 0);
}

static json_t *track_json(const hls *h, int i)
{
    const level *l = &h->levels[i];
    char label[32];
    if (l->v.height > 0)
        snprintf(label, sizeof(label), "%dp", l->v.height);
    else
        snprintf(label, sizeof(label), "%ld", l->v.bandwidth);
    return json_pack("{s:s, s:b, s:s, s:s, s:i, s:b, s:I, s:i, s:i}", "kind", "video", "active",
                     i == h->load_level, "label", label, "language", "", "index", i, "available", 1,
                     "bandwidth", (json_int_t)l->v.bandwidth, "width", l->v.width, "height",
                     l->v.height);
}

static void fail(hls *h, int category, int code, json_t *data)
{
    if (h->stage == ST_FAILED) {
        json_decref(data);
        return;
    }
    h->stage = ST_FAILED;
    if (h->req)
        kp_fetcher_cancel(h->fetch, h->req);
    h->req = 0;
    if (h->audio.req)
        kp_fetcher_cancel(h->fetch, h->audio.req);
    h->audio.req = 0;
    h->audio.stage = ST_FAILED;
    h->host.fail(h->host.ud, kp_perror_new(KP_SEVERITY_CRITICAL, category, code, data));
}

static void fail_http(hls *h, const kp_http_response *r, const char *what)
{
    /* hls.js names a timed-out load <kind>LoadTimeOut instead of <kind>LoadError */
    char name[64];
    snprintf(name, sizeof(name), "%s", what);
    char *tail = strstr(name, "LoadError");
    if (r->error == KP_ETIMEDOUT && tail)
        snprintf(tail, sizeof(name) - (size_t)(tail - name), "LoadTimeOut");
    json_t *data =
        json_pack("{s:s, s:s, s:i}", "name", name, "url", r->url, "responseCode", r->status);
    if (r->error && r->error_text)
        json_object_set_new(data, "text", json_string(r->error_text));
    fail(h, KP_PCAT_NETWORK, KP_PCODE_HTTP_ERROR, data);
}

static void fail_parse(hls *h, const kp_http_response *r, const kp_m3u8_error *e)
{
    KP_LOG_W(h->host.log, "hls", "%s:%d: %s", r->url, e->line, e->msg);
    fail(h, KP_PCAT_MANIFEST, e->pcode,
         json_pack("{s:s, s:s, s:i, s:s}", "name", "manifestParsingError", "url", r->url, "line",
                   e->line, "reason", e->msg));
}

static void load_next(hls *h);
static void audio_next(hls *h);
static void gap_check(hls *h);

/* Whether the audio rendition (if any) has all its fragments in: endOfStream waits for it. */
static bool audio_done(const hls *h)
{
    return !h->audio.active || h->audio.done;
}

/* The main stream's buffer: the playable ranges, or with an audio rendition the video
 * SourceBuffer's own (hls.js main stream-controller looks at its media buffer only). */
static kp_time main_buffered_end(const hls *h, kp_time pos)
{
    if (!h->audio.active)
        return kp_media_buffered_end(h->host.media, pos);
    return kp_media_track_buffered_end(h->host.media, KP_TRACK_VIDEO, pos);
}

static bool main_is_buffered(const hls *h, kp_time pos)
{
    if (!h->audio.active)
        return kp_media_is_buffered(h->host.media, pos);
    return kp_media_track_buffered_end(h->host.media, KP_TRACK_VIDEO, pos) > pos;
}

/* ---- keys ---- */

typedef enum key_kind { KEY_CLEAR, KEY_AES128, KEY_SAMPLE_AES } key_kind;

/* The segment's EXT-X-KEY as hls.js takes it (an unknown METHOD is dropped: clear). */
static key_kind segment_key(const kp_m3u8 *d, const kp_m3u8_segment *sg, const kp_m3u8_key **out)
{
    *out = NULL;
    if (sg->key_index < 0 || (size_t)sg->key_index >= d->n_keys)
        return KEY_CLEAR;
    const kp_m3u8_key *k = &d->keys[sg->key_index];
    *out = k;
    if (strcmp(k->method, "AES-128") == 0)
        return KEY_AES128;
    if (strcmp(k->method, "SAMPLE-AES") == 0 || strcmp(k->method, "SAMPLE-AES-CTR") == 0 ||
        strcmp(k->method, "SAMPLE-AES-CENC") == 0)
        return KEY_SAMPLE_AES;
    *out = NULL;
    return KEY_CLEAR;
}

static const hls_key *key_find(const hls *h, const char *uri)
{
    for (size_t i = 0; i < h->n_keys; i++)
        if (strcmp(h->keys[i].uri, uri) == 0)
            return &h->keys[i];
    return NULL;
}

/* Keeps a loaded key (uri) from its answer; false when the engine failed. */
static bool key_store(hls *h, const char *uri, const kp_http_response *r)
{
    if (r->error || r->status != 200) {
        fail_http(h, r, "keyLoadError");
        return false;
    }
    if (r->body.len != 16) {
        char reason[96];
        snprintf(reason, sizeof(reason), "the key is %zu bytes, not 16", r->body.len);
        KP_LOG_W(h->host.log, "hls", "key %s: %s", r->url, reason);
        fail(h, KP_PCAT_NETWORK, KP_PCODE_HTTP_ERROR,
             json_pack("{s:s, s:s, s:i, s:s}", "name", "keyLoadError", "url", r->url,
                       "responseCode", r->status, "reason", reason));
        return false;
    }
    hls_key *ks = realloc(h->keys, (h->n_keys + 1) * sizeof(*ks));
    char *dup = kp_strdup(uri);
    if (!ks || !dup) {
        if (ks)
            h->keys = ks;
        free(dup);
        fail(h, KP_PCAT_PLAYER, KP_PCODE_HLS_FATAL_MEDIA_ERROR,
             json_pack("{s:s, s:s}", "name", "keyLoadError", "reason", "out of memory"));
        return false;
    }
    h->keys = ks;
    h->keys[h->n_keys].uri = dup;
    memcpy(h->keys[h->n_keys].key, r->body.data, 16);
    h->n_keys++;
    return true;
}

static void on_key(void *ud, const kp_http_response *r)
{
    hls *h = ud;
    h->req = 0;
    h->stage = ST_IDLE;
    if (key_store(h, h->key_uri, r))
        load_next(h);
}

/* Decrypts an AES-128 segment into h->plain: KP_OK, or fails the engine (fragDecryptError). */
static int decrypt_segment(hls *h, const kp_m3u8_key *k, const kp_m3u8_segment *sg,
                           const kp_http_response *r)
{
    const hls_key *key = key_find(h, k->uri);
    char err[256];
    int rc = kp_engine_hls_aes_decrypt(&h->cenc, key ? key->key : NULL, k, sg, r->body.data,
                                       r->body.len, &h->plain, err, sizeof(err));
    if (rc != KP_OK) {
        KP_LOG_W(h->host.log, "hls", "fragment %s: %s", r->url, err);
        fail(
            h, KP_PCAT_MEDIA, KP_PCODE_HLS_FATAL_MEDIA_ERROR,
            json_pack("{s:s, s:s, s:s}", "name", "fragDecryptError", "url", r->url, "reason", err));
    }
    return rc;
}

/* ---- fragments ---- */

static void frag_remember(hls *h, int lvl, size_t index, kp_time start, kp_time end)
{
    if (h->n_frags == h->cap_frags) {
        size_t cap = h->cap_frags ? h->cap_frags * 2 : 32;
        frag_rec *f = realloc(h->frags, cap * sizeof(*f));
        if (!f)
            return;
        h->frags = f;
        h->cap_frags = cap;
    }
    h->frags[h->n_frags++] = (frag_rec){lvl, index, start, end};
}

/* The level of the appended fragment that holds pos (latest append wins), or -1. */
static int level_at(const hls *h, kp_time pos)
{
    for (size_t i = h->n_frags; i-- > 0;)
        if (pos >= h->frags[i].start && pos < h->frags[i].end)
            return h->frags[i].level;
    return -1;
}

static int choose_level(const hls *h)
{
    if (!h->abr_enabled)
        return h->load_level;
    double bw = bw_estimate(h);
    for (int i = (int)h->n_levels - 1; i >= 0; i--) {
        double factor = i > h->load_level ? ABR_FACTOR_UP : ABR_FACTOR_DOWN;
        if ((double)h->levels[i].v.bandwidth <= factor * bw)
            return i;
    }
    return 0;
}

/* A loaded fragment (segment index of playlist d, init its EXT-X-MAP section) made ready for
 * the buffer: decrypted (AES-128), behind its init section (fMP4, as MSE gets them), demuxed
 * into info. KP_OK, or the engine failed (fragDecryptError, fragParsingError). */
static int frag_demux(hls *h, const kp_m3u8 *d, const kp_buf *init, size_t index,
                      const kp_http_response *r, kp_demux_info *info)
{
    const uint8_t *data = (const uint8_t *)r->body.data;
    size_t len = r->body.len;
    const kp_m3u8_key *k;
    if (segment_key(d, &d->segments[index], &k) == KEY_AES128) {
        int rc = decrypt_segment(h, k, &d->segments[index], r);
        if (rc != KP_OK)
            return rc;
        data = (const uint8_t *)h->plain.data;
        len = h->plain.len;
    }
    const char *format = "mpegts";
    if (d->map_uri) {
        kp_buf *both = &h->joined;
        both->len = 0;
        if (kp_buf_append(both, init->data, init->len) != KP_OK ||
            kp_buf_append(both, data, len) != KP_OK) {
            fail(h, KP_PCAT_MEDIA, KP_PCODE_HLS_FATAL_MEDIA_ERROR,
                 json_pack("{s:s, s:s}", "name", "bufferAppendError", "reason", "out of memory"));
            return KP_ENOMEM;
        }
        data = (const uint8_t *)both->data;
        len = both->len;
        format = "mp4";
    }
    char err[256];
    int rc = kp_demux_segment(data, len, format, info, err, sizeof(err));
    if (rc != KP_OK) {
        KP_LOG_W(h->host.log, "hls", "fragment %s: %s", r->url, err);
        fail(
            h, KP_PCAT_MEDIA, KP_PCODE_HLS_FRAG_PARSING_ERROR,
            json_pack("{s:s, s:s, s:s}", "name", "fragParsingError", "url", r->url, "reason", err));
    }
    return rc;
}

static void on_frag(void *ud, const kp_http_response *r)
{
    hls *h = ud;
    h->req = 0;
    h->stage = ST_IDLE;
    if (r->error || r->status != 200) {
        fail_http(h, r, "fragLoadError");
        return;
    }
    const level *l = &h->levels[h->load_level];
    size_t index = h->next_index;
    kp_demux_info info;
    if (frag_demux(h, l->details, &l->init, index, r, &info) != KP_OK)
        return;
    kp_engine_frag_loaded(&h->host, r);
    if (!h->have_init_pts) {
        /* hls.js initPTS: the first fragment's earliest timestamp becomes media time 0 */
        kp_time first = INT64_MAX;
        for (int t = 0; t < info.n_tracks; t++)
            if (info.tracks[t].start_us < first)
                first = info.tracks[t].start_us;
        h->init_pts = first;
        h->have_init_pts = true;
    }
    kp_time fstart = INT64_MAX, fend = 0;
    for (int t = 0; t < info.n_tracks; t++) {
        const kp_demux_track *tr = &info.tracks[t];
        if (tr->kind != KP_TRACK_VIDEO && tr->kind != KP_TRACK_AUDIO)
            continue;
        if (h->audio.active && tr->kind == KP_TRACK_AUDIO)
            continue; /* the audio rendition gives the audio track */
        kp_time s = tr->start_us - h->init_pts, e = tr->end_us - h->init_pts;
        kp_media_append(h->host.media, tr->kind, s, e);
        if (s < fstart)
            fstart = s;
        if (e > fend)
            fend = e;
    }
    frag_remember(h, h->load_level, index, fstart, fend);
    double secs = kp_engine_elapsed_ms(r) / 1000.0;
    if (secs < 0.001)
        secs = 0.001;
    double bps = (double)r->body.len * 8.0 / secs;
    kp_ewma_sample(&h->fast, secs, bps);
    kp_ewma_sample(&h->slow, secs, bps);

    h->next_index = index + 1;
    h->next_valid = true;
    if (h->next_index >= l->details->n_segments)
        h->main_done = true;
    if (h->next_index >= l->details->n_segments && !h->eos && audio_done(h)) {
        h->eos = true;
        kp_media_end_of_stream(h->host.media);
    } else {
        kp_media_appended(h->host.media);
    }
    gap_check(h);
    int next_level = choose_level(h);
    if (next_level != h->load_level) {
        KP_LOG_D(h->host.log, "hls", "ABR: level %d -> %d (estimate %.0f bit/s)", h->load_level,
                 next_level, bw_estimate(h));
        h->load_level = next_level;
    }
    load_next(h);
    audio_next(h);
}

/* The load level's init section (EXT-X-MAP): fragloaded, kept for its fragments. hls.js
 * loads it as a fragment of its own, so a failure is fragLoadError. */
static void on_init(void *ud, const kp_http_response *r)
{
    hls *h = ud;
    h->req = 0;
    h->stage = ST_IDLE;
    if (r->error || r->status != 200) {
        fail_http(h, r, "fragLoadError");
        return;
    }
    level *l = &h->levels[h->load_level];
    l->init.len = 0;
    if (kp_buf_append(&l->init, r->body.data, r->body.len) != KP_OK) {
        fail(h, KP_PCAT_MEDIA, KP_PCODE_HLS_FATAL_MEDIA_ERROR,
             json_pack("{s:s, s:s}", "name", "bufferAppendError", "reason", "out of memory"));
        return;
    }
    l->init_in = true;
    kp_engine_frag_loaded(&h->host, r);
    load_next(h);
}

/* Picks the segment of the load level that covers `at`. */
static size_t segment_at(const kp_m3u8 *d, kp_time at)
{
    double t = (double)at / 1e6 + 0.001;
    for (size_t i = 0; i < d->n_segments; i++)
        if (t < d->segments[i].start + d->segments[i].duration)
            return i;
    return d->n_segments;
}

static void on_level(void *ud, const kp_http_response *r);

static void load_next(hls *h)
{
    if (h->stage != ST_IDLE)
        return;
    level *l = &h->levels[h->load_level];
    if (!l->details) {
        h->stage = ST_LEVEL;
        kp_http_request req = {.method = "GET", .url = l->v.uri};
        h->req = kp_fetcher_fetch(h->fetch, &req, &h->pol_playlist, on_level, h);
        if (!h->req)
            fail(h, KP_PCAT_NETWORK, KP_PCODE_HTTP_ERROR,
                 json_pack("{s:s, s:s}", "name", "levelLoadError", "url", l->v.uri));
        return;
    }
    kp_media *m = h->host.media;
    kp_time pos = kp_media_position(m);
    kp_time buffered_end = main_buffered_end(h, pos);
    if (buffered_end - pos >= MAX_BUFFER_LENGTH)
        return; /* enough buffered; re-checked on the next media event */
    size_t index;
    if (h->next_valid && h->frags && h->n_frags &&
        h->frags[h->n_frags - 1].level == h->load_level && main_is_buffered(h, pos) &&
        buffered_end >= h->frags[h->n_frags - 1].end - KP_MS(100)) {
        index = h->next_index;
    } else {
        index = segment_at(l->details, buffered_end);
        /* skip fragments of this level already in the buffer at that point */
        while (index < l->details->n_segments) {
            const kp_m3u8_segment *s = &l->details->segments[index];
            kp_time mid = KP_SEC(s->start + s->duration / 2);
            if (!main_is_buffered(h, mid) || mid < pos)
                break;
            index++;
        }
    }
    if (index >= l->details->n_segments) {
        kp_time last = KP_SEC(l->details->total_duration) - KP_MS(50);
        if (h->audio.active && main_is_buffered(h, last))
            h->main_done = true;
        if (!h->eos && audio_done(h) && main_is_buffered(h, last)) {
            h->eos = true;
            kp_media_end_of_stream(m);
        }
        return;
    }
    h->next_index = index;
    const kp_m3u8_key *k;
    switch (segment_key(l->details, &l->details->segments[index], &k)) {
    case KEY_SAMPLE_AES:
        fail(h, KP_PCAT_MEDIA, KP_PCODE_HLS_FATAL_MEDIA_ERROR,
             json_pack("{s:s, s:s, s:s, s:s?}", "name", "keySystemError", "reason",
                       "hls.js decrypts METHOD=SAMPLE-AES only through EME, which the hls "
                       "adapter does not have (it cannot play DRM)",
                       "method", k->method, "keyFormat", k->keyformat));
        return;
    case KEY_AES128:
        if (!key_find(h, k->uri)) {
            free(h->key_uri);
            h->key_uri = kp_strdup(k->uri);
            h->stage = ST_KEY;
            kp_http_request kreq = {.method = "GET", .url = k->uri};
            h->req = h->key_uri ? kp_fetcher_fetch(h->fetch, &kreq, &h->pol_key, on_key, h) : 0;
            if (!h->req)
                fail(h, KP_PCAT_NETWORK, KP_PCODE_HTTP_ERROR,
                     json_pack("{s:s, s:s}", "name", "keyLoadError", "url", k->uri));
            return;
        }
        break;
    case KEY_CLEAR:
        break;
    }
    if (l->details->map_uri && !l->init_in) {
        h->stage = ST_INIT;
        kp_http_request ireq = {.method = "GET", .url = l->details->map_uri};
        h->req = kp_fetcher_fetch(h->fetch, &ireq, &h->pol_frag, on_init, h);
        if (!h->req)
            fail(h, KP_PCAT_NETWORK, KP_PCODE_HTTP_ERROR,
                 json_pack("{s:s, s:s}", "name", "fragLoadError", "url", ireq.url));
        return;
    }
    h->stage = ST_FRAG;
    kp_http_request req = {.method = "GET", .url = l->details->segments[index].uri};
    h->req = kp_fetcher_fetch(h->fetch, &req, &h->pol_frag, on_frag, h);
    if (!h->req)
        fail(h, KP_PCAT_NETWORK, KP_PCODE_HTTP_ERROR,
             json_pack("{s:s, s:s}", "name", "fragLoadError", "url", req.url));
}

/* The common part of a playlist answer: the request is over; a failed transfer or a playlist
 * that does not parse fails the engine (NULL), else the parsed playlist (the caller owns it). */
static kp_m3u8 *playlist_answer(hls *h, const kp_http_response *r, const char *load_error)
{
    h->req = 0;
    h->stage = ST_IDLE;
    if (r->error || r->status != 200) {
        fail_http(h, r, load_error);
        return NULL;
    }
    kp_m3u8 *pl = NULL;
    kp_m3u8_error e;
    if (kp_m3u8_parse(r->body.data, r->body.len, r->url, &pl, &e) != KP_OK) {
        fail_parse(h, r, &e);
        return NULL;
    }
    return pl;
}

static void on_level(void *ud, const kp_http_response *r)
{
    hls *h = ud;
    kp_m3u8 *pl = playlist_answer(h, r, "levelLoadError");
    if (!pl)
        return;
    if (pl->is_master) {
        kp_m3u8_free(pl);
        kp_m3u8_error me = {.line = 0, .pcode = KP_PCODE_INVALID_HLS_TAG};
        snprintf(me.msg, sizeof(me.msg), "a level playlist is a master playlist");
        fail_parse(h, r, &me);
        return;
    }
    h->levels[h->load_level].details = pl;
    if (!h->duration_set) {
        h->duration_set = true;
        kp_media_set_duration(h->host.media, KP_SEC(pl->total_duration));
    }
    h->next_valid = false;
    load_next(h);
}

/* ---- the audio rendition (hls.js audio-stream-controller) ---- */

static void audio_fetch(hls *h, stage st, const char *url, kp_http_fn cb, const char *error_name)
{
    audio_stream *a = &h->audio;
    a->stage = st;
    kp_http_request req = {.method = "GET", .url = url};
    const kp_retry_policy *pol = st == ST_LEVEL ? &h->pol_playlist
                                 : st == ST_KEY ? &h->pol_key
                                                : &h->pol_frag;
    a->req = url ? kp_fetcher_fetch(h->fetch, &req, pol, cb, h) : 0;
    if (!a->req)
        fail(h, KP_PCAT_NETWORK, KP_PCODE_HTTP_ERROR,
             json_pack("{s:s, s:s?}", "name", error_name, "url", url));
}

/* Ends the stream once both the level and the audio rendition have their last fragment in. */
static void audio_finished(hls *h)
{
    h->audio.done = true;
    if (h->main_done && !h->eos) {
        h->eos = true;
        kp_media_end_of_stream(h->host.media);
    }
}

static void on_audio_playlist(void *ud, const kp_http_response *r)
{
    hls *h = ud;
    h->audio.req = 0;
    h->audio.stage = ST_IDLE;
    if (r->error || r->status != 200) {
        fail_http(h, r, "audioTrackLoadError");
        return;
    }
    kp_m3u8 *pl = NULL;
    kp_m3u8_error e;
    if (kp_m3u8_parse(r->body.data, r->body.len, r->url, &pl, &e) != KP_OK) {
        fail_parse(h, r, &e);
        return;
    }
    if (pl->is_master) {
        kp_m3u8_free(pl);
        kp_m3u8_error me = {.line = 0, .pcode = KP_PCODE_INVALID_HLS_TAG};
        snprintf(me.msg, sizeof(me.msg), "an audio rendition playlist is a master playlist");
        fail_parse(h, r, &me);
        return;
    }
    h->audio.details = pl;
    h->audio.next_valid = false;
    audio_next(h);
}

static void on_audio_key(void *ud, const kp_http_response *r)
{
    hls *h = ud;
    h->audio.req = 0;
    h->audio.stage = ST_IDLE;
    if (key_store(h, h->audio.key_uri, r))
        audio_next(h);
}

static void on_audio_init(void *ud, const kp_http_response *r)
{
    hls *h = ud;
    audio_stream *a = &h->audio;
    a->req = 0;
    a->stage = ST_IDLE;
    if (r->error || r->status != 200) {
        fail_http(h, r, "fragLoadError");
        return;
    }
    a->init.len = 0;
    if (kp_buf_append(&a->init, r->body.data, r->body.len) != KP_OK) {
        fail(h, KP_PCAT_MEDIA, KP_PCODE_HLS_FATAL_MEDIA_ERROR,
             json_pack("{s:s, s:s}", "name", "bufferAppendError", "reason", "out of memory"));
        return;
    }
    a->init_in = true;
    kp_engine_frag_loaded(&h->host, r);
    audio_next(h);
}

/* An audio fragment: decrypted and demuxed like a level's, its audio appended on the level's
 * initPTS. hls.js estimates bandwidth from main fragments only, so no ABR sample. */
static void on_audio_frag(void *ud, const kp_http_response *r)
{
    hls *h = ud;
    audio_stream *a = &h->audio;
    a->req = 0;
    a->stage = ST_IDLE;
    if (r->error || r->status != 200) {
        fail_http(h, r, "fragLoadError");
        return;
    }
    size_t index = a->next_index;
    kp_demux_info info;
    if (frag_demux(h, a->details, &a->init, index, r, &info) != KP_OK)
        return;
    kp_engine_frag_loaded(&h->host, r);
    kp_time fend = 0;
    for (int t = 0; t < info.n_tracks; t++) {
        const kp_demux_track *tr = &info.tracks[t];
        if (tr->kind != KP_TRACK_AUDIO)
            continue;
        kp_time e = tr->end_us - h->init_pts;
        kp_media_append(h->host.media, KP_TRACK_AUDIO, tr->start_us - h->init_pts, e);
        if (e > fend)
            fend = e;
    }
    a->last_end = fend;
    a->next_index = index + 1;
    a->next_valid = true;
    if (a->next_index >= a->details->n_segments)
        audio_finished(h);
    if (!h->eos)
        kp_media_appended(h->host.media);
    gap_check(h);
    audio_next(h);
}

static void audio_next(hls *h)
{
    audio_stream *a = &h->audio;
    if (!a->active || a->stage != ST_IDLE || h->stage == ST_FAILED)
        return;
    if (!a->details) {
        audio_fetch(h, ST_LEVEL, a->uri, on_audio_playlist, "audioTrackLoadError");
        return;
    }
    if (!h->have_init_pts)
        return; /* hls.js WAITING_INIT_PTS: the level's first fragment sets the timeline */
    kp_media *m = h->host.media;
    kp_time pos = kp_media_position(m);
    kp_time buffered_end = kp_media_track_buffered_end(m, KP_TRACK_AUDIO, pos);
    if (buffered_end - pos >= MAX_BUFFER_LENGTH)
        return;
    const kp_m3u8 *d = a->details;
    size_t index;
    if (a->next_valid && buffered_end > pos && buffered_end >= a->last_end - KP_MS(100)) {
        index = a->next_index;
    } else {
        index = segment_at(d, buffered_end);
        while (index < d->n_segments) {
            const kp_m3u8_segment *sg = &d->segments[index];
            kp_time mid = KP_SEC(sg->start + sg->duration / 2);
            if (kp_media_track_buffered_end(m, KP_TRACK_AUDIO, mid) <= mid || mid < pos)
                break;
            index++;
        }
    }
    if (index >= d->n_segments) {
        if (!a->done)
            audio_finished(h);
        return;
    }
    a->next_index = index;
    const kp_m3u8_key *k;
    switch (segment_key(d, &d->segments[index], &k)) {
    case KEY_SAMPLE_AES:
        fail(h, KP_PCAT_MEDIA, KP_PCODE_HLS_FATAL_MEDIA_ERROR,
             json_pack("{s:s, s:s, s:s, s:s?}", "name", "keySystemError", "reason",
                       "hls.js decrypts METHOD=SAMPLE-AES only through EME, which the hls "
                       "adapter does not have (it cannot play DRM)",
                       "method", k->method, "keyFormat", k->keyformat));
        return;
    case KEY_AES128:
        if (!key_find(h, k->uri)) {
            free(a->key_uri);
            a->key_uri = kp_strdup(k->uri);
            audio_fetch(h, ST_KEY, a->key_uri, on_audio_key, "keyLoadError");
            return;
        }
        break;
    case KEY_CLEAR:
        break;
    }
    if (d->map_uri && !a->init_in) {
        audio_fetch(h, ST_INIT, d->map_uri, on_audio_init, "fragLoadError");
        return;
    }
    audio_fetch(h, ST_FRAG, d->segments[index].uri, on_audio_frag, "fragLoadError");
}

/* ---- master playlist ---- */

static int cmp_levels(const void *a, const void *b)
{
    const level *x = a, *y = b;
    if (x->v.bandwidth != y->v.bandwidth)
        return x->v.bandwidth < y->v.bandwidth ? -1 : 1;
    return x->manifest_index - y->manifest_index;
}

static void on_master(void *ud, const kp_http_response *r);

/* The adapter's second manifest load, after its redirect loader (hls-adapter.ts 1134-1180):
 * the JSONP request answered, the original URL is loaded again. */
static void on_jsonp(void *ud, const kp_http_response *r)
{
    hls *h = ud;
    h->req = 0;
    KP_LOG_I(h->host.log, "hls", "redirect loader %s: %d; loading %s again", r->url, r->status,
             h->url);
    kp_http_request req = {.method = "GET", .url = h->url};
    h->req = kp_fetcher_fetch(h->fetch, &req, &h->pol_manifest, on_master, h);
    if (!h->req)
        fail(h, KP_PCAT_NETWORK, KP_PCODE_HTTP_ERROR,
             json_pack("{s:s, s:s}", "name", "manifestLoadError", "url", h->url));
}

/* hls.js gave up on the manifest (a fatal manifestLoadError): the first time, playkit-js-hls
 * reports it RECOVERABLE, resets the element and loads the manifest again through its
 * redirect loader (a JSONP request to the same URL with responseFormat=jsonp), then the
 * original URL once more; a second failure is CRITICAL. */
static bool manifest_retry(hls *h, const kp_http_response *r)
{
    if (h->manifest_retried)
        return false;
    h->manifest_retried = true;
    json_t *data = json_pack("{s:s, s:s, s:i}", "name",
                             r->error == KP_ETIMEDOUT ? "manifestLoadTimeOut" : "manifestLoadError",
                             "url", r->url, "responseCode", r->status);
    if (r->error && r->error_text)
        json_object_set_new(data, "text", json_string(r->error_text));
    h->host.fail(h->host.ud, kp_perror_new(KP_SEVERITY_RECOVERABLE, KP_PCAT_NETWORK,
                                           KP_PCODE_HTTP_ERROR, data));
    kp_media_load(h->host.media);
    h->stage = ST_MASTER;
    char *jsonp = kp_asprintf("%s%sresponseFormat=jsonp&callback=jsonpcallback1", h->url,
                              strchr(h->url, '?') ? "&" : "?");
    /* a <script> element: no retries; an error answer is reported at once (the real adapter
     * waits for its 5 s JSONP timeout: docs/parity.md) */
    kp_retry_policy once = h->pol_manifest;
    once.on_error.max_retries = once.on_timeout.max_retries = 0;
    kp_http_request req = {.method = "GET", .url = jsonp};
    h->req = jsonp ? kp_fetcher_fetch(h->fetch, &req, &once, on_jsonp, h) : 0;
    free(jsonp);
    if (!h->req)
        fail(h, KP_PCAT_NETWORK, KP_PCODE_HTTP_ERROR,
             json_pack("{s:s, s:s}", "name", "manifestLoadError", "url", h->url));
    return true;
}

static void on_master(void *ud, const kp_http_response *r)
{
    hls *h = ud;
    if (!kp_fetch_ok(r) && manifest_retry(h, r))
        return;
    kp_m3u8 *pl = playlist_answer(h, r, "manifestLoadError");
    if (!pl)
        return;
    if (pl->is_master) {
        h->master = pl;
        h->n_levels = pl->n_variants;
        h->levels = calloc(h->n_levels, sizeof(*h->levels));
        for (size_t i = 0; h->levels && i < h->n_levels; i++) {
            h->levels[i].v = pl->variants[i];
            h->levels[i].manifest_index = (int)i;
        }
    } else {
        /* a media playlist given directly: one level without attributes, which owns it */
        h->n_levels = 1;
        h->levels = calloc(1, sizeof(*h->levels));
        if (h->levels) {
            h->levels[0].v.uri = h->url;
            h->levels[0].details = pl;
        } else {
            kp_m3u8_free(pl);
        }
    }
    if (!h->levels) {
        fail(h, KP_PCAT_PLAYER, KP_PCODE_HLSJS_CANNOT_PARSE, json_object());
        return;
    }
    qsort(h->levels, h->n_levels, sizeof(*h->levels), cmp_levels);
    for (size_t i = 0; i < h->n_levels; i++)
        if (h->levels[i].manifest_index == 0)
            h->load_level = (int)i;
    h->host.emit(h->host.ud, KP_EV_MANIFEST_LOADED,
                 json_pack("{s:f}", "miliSeconds", kp_engine_elapsed_ms(r)));
    json_t *tracks = json_array();
    for (size_t i = 0; i < h->n_levels; i++)
        json_array_append_new(tracks, track_json(h, (int)i));
    const kp_m3u8_media *rendition =
        kp_m3u8_audio_rendition(h->master, &h->levels[h->load_level].v);
    h->audio.uri = rendition ? rendition->uri : NULL;
    h->audio.active = h->audio.uri != NULL;
    h->host.loaded(h->host.ud, tracks);
    if (h->levels[h->load_level].details && !h->duration_set) {
        h->duration_set = true;
        kp_media_set_duration(h->host.media,
                              KP_SEC(h->levels[h->load_level].details->total_duration));
    }
    load_next(h);
    audio_next(h);
}

/* ---- the gap controller ---- */

/* Where a seek that waits in a hole should go, or -1: the element is seeking, its position
 * is not buffered and buffered data begins at most MAX_START_GAP_JUMP ahead. A TS fragment's
 * first sample may start a few milliseconds after the fragment's nominal start (its audio
 * ahead of its video, both normalised by initPTS), so a seek onto a fragment boundary lands
 * just before the data. */
static kp_time gap_target(const hls *h)
{
    kp_media *m = h->host.media;
    if (!kp_media_seeking(m))
        return -1;
    kp_time pos = kp_media_position(m);
    if (kp_media_is_buffered(m, pos))
        return -1;
    kp_time next = kp_media_next_buffered_start(m, pos);
    if (next < 0 || next - pos > MAX_START_GAP_JUMP)
        return -1;
    kp_time a = next + SKIP_BUFFER_RANGE_START, b = pos + SKIP_BUFFER_HOLE_STEP_SECONDS;
    return a > b ? a : b;
}

static void gap_poll(void *ud)
{
    hls *h = ud;
    h->gap_task = 0;
    if (h->stage == ST_FAILED)
        return;
    kp_time to = gap_target(h);
    if (to < 0)
        return;
    KP_LOG_D(h->host.log, "hls", "skipping hole, adjusting currentTime from %.3f to %.3f",
             (double)kp_media_position(h->host.media) / 1e6, (double)to / 1e6);
    kp_media_seek(h->host.media, to);
}

/* Called whenever the buffer or the position changed: the first poll that sees the seek
 * stuck in front of a hole marks it stalled; the next one (GAP_POLL later) skips it. */
static void gap_check(hls *h)
{
    if (!h->gap_task && gap_target(h) >= 0)
        h->gap_task = kp_sched_after(h->host.sched, GAP_POLL, gap_poll, h);
}

/* ---- media element events (hls.js listens to the element after playkit's relay) ---- */

static void on_media_event(void *ud, kp_event_type type)
{
    hls *h = ud;
    if (h->stage == ST_FAILED || !h->levels)
        return;
    kp_media *m = h->host.media;
    if (type == KP_EV_SEEKING) {
        kp_time pos = kp_media_position(m);
        audio_stream *a = &h->audio;
        if (a->active && kp_media_track_buffered_end(m, KP_TRACK_AUDIO, pos) <= pos) {
            if (a->stage == ST_FRAG && a->req) {
                kp_fetcher_cancel(h->fetch, a->req);
                a->req = 0;
                a->stage = ST_IDLE;
            }
            a->next_valid = false;
        }
        if (!kp_media_is_buffered(m, pos)) {
            if (h->stage == ST_FRAG && h->req) {
                kp_fetcher_cancel(h->fetch, h->req);
                h->req = 0;
                h->stage = ST_IDLE;
            }
            h->next_valid = false;
        }
    }
    if (type == KP_EV_PLAYING || type == KP_EV_TIME_UPDATE || type == KP_EV_SEEKED) {
        int lvl = level_at(h, kp_media_position(m));
        if (lvl >= 0 && lvl != h->playing_level) {
            h->playing_level = lvl;
            h->host.emit(h->host.ud, KP_EV_VIDEO_TRACK_CHANGED,
                         json_pack("{s:o}", "selectedVideoTrack", track_json(h, lvl)));
        }
    }
    if (type == KP_EV_SEEKING || type == KP_EV_TIME_UPDATE || type == KP_EV_PLAYING ||
        type == KP_EV_SEEKED) {
        load_next(h);
        audio_next(h);
    }
    gap_check(h);
}

/* ---- engine ops ---- */

static void *hls_create(const kp_engine_host *host, const json_t *source, const json_t *config)
{
    hls *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->host = *host;
    h->url = kp_strdup(kp_json_str(source, "url", ""));
    h->abr_enabled = kp_json_bool(config, "abr.enabled", true);
    h->playing_level = -1;
    kp_buf_init(&h->plain);
    kp_ewma_init(&h->fast, EWMA_FAST_HALF_LIFE);
    kp_ewma_init(&h->slow, EWMA_SLOW_HALF_LIFE);
    /* playkit-js-hls passes playback.options.html5.hls to hls.js as its config */
    const json_t *hc = kp_json_path(config, "playback.options.html5.hls");
    kp_retry_hlsjs(&h->pol_manifest, "manifest", hc);
    kp_retry_hlsjs(&h->pol_playlist, "playlist", hc);
    kp_retry_hlsjs(&h->pol_frag, "fragment", hc);
    kp_retry_hlsjs(&h->pol_key, "key", hc);
    h->fetch = kp_fetcher_new(host->net, host->sched, host->log);
    if (!h->url || !h->fetch) {
        kp_fetcher_free(h->fetch);
        free(h->url);
        free(h);
        return NULL;
    }
    return h;
}

static void hls_load(void *engine)
{
    hls *h = engine;
    h->host.emit(h->host.ud, KP_EV_ABR_MODE_CHANGED,
                 json_pack("{s:s}", "mode", h->abr_enabled ? "auto" : "manual"));
    kp_media_set_adapter(h->host.media, on_media_event, h);
    kp_media_load(h->host.media);
    h->stage = ST_MASTER;
    h->audio.stage = ST_IDLE;
    kp_http_request req = {.method = "GET", .url = h->url};
    h->req = kp_fetcher_fetch(h->fetch, &req, &h->pol_manifest, on_master, h);
    if (!h->req)
        fail(h, KP_PCAT_NETWORK, KP_PCODE_HTTP_ERROR,
             json_pack("{s:s, s:s}", "name", "manifestLoadError", "url", h->url));
}

static void hls_destroy(void *engine)
{
    hls *h = engine;
    if (!h)
        return;
    if (h->req)
        kp_fetcher_cancel(h->fetch, h->req);
    kp_sched_cancel(h->host.sched, h->gap_task);
    kp_media_set_adapter(h->host.media, NULL, NULL);
    for (size_t i = 0; i < h->n_levels; i++) {
        kp_m3u8_free(h->levels[i].details);
        kp_buf_free(&h->levels[i].init);
    }
    kp_buf_free(&h->joined);
    if (h->audio.req)
        kp_fetcher_cancel(h->fetch, h->audio.req);
    kp_m3u8_free(h->audio.details);
    kp_buf_free(&h->audio.init);
    free(h->audio.key_uri);
    free(h->levels);
    kp_m3u8_free(h->master);
    free(h->frags);
    free(h->url);
    for (size_t i = 0; i < h->n_keys; i++) {
        memset(h->keys[i].key, 0, sizeof(h->keys[i].key));
        free(h->keys[i].uri);
    }
    free(h->keys);
    free(h->key_uri);
    kp_cenc_ctx_free(h->cenc);
    if (h->plain.data)
        memset(h->plain.data, 0, h->plain.len);
    kp_buf_free(&h->plain);
    kp_fetcher_free(h->fetch);
    free(h);
}

const kp_engine_ops kp_engine_hls = {
    .name = "hls",
    .format = "hls",
    .can_play = hls_can_play,
    .create = hls_create,
    .load = hls_load,
    .destroy = hls_destroy,
};
