/* engine_progressive.c: progressive MP4 through playkit's NativeAdapter: the <video> element
 * is given the URL (src=) and fetches, demuxes and buffers the file itself.
 *
 * The adapter (playkit-js native-adapter.ts): load() emits abrmodechanged {mode: manual},
 * then the element loads (emptied, loadstart); load resolves with the progressive track list
 * on the first canplay after loadeddata. It watches timeupdate: time moving again after a
 * `waiting` raises a synthetic `playing` (the extra `playing` before `seeked` in the real
 * player's MP4 trace), time standing still while playing raises `waiting`, and 30 s without
 * progress while playing is 1003 TIMEOUT. A failed fetch or an unreadable file before load
 * resolved is 3022 NATIVE_ADAPTER_LOAD_FAILED (MediaError code 4), afterwards 3016
 * VIDEO_ERROR (code 2, network).
 *
 * The element's fetch, modelled on Chromium's media loader (docs/model.md):
 *   - the first request is `Range: bytes=0-` on the playManifest URL; the 302 is followed and
 *     later requests go to the MP4 itself, always open-ended (`bytes=N-`);
 *   - the answer streams in (the network announces every 64 KiB as it arrives); the reader
 *     stops once it holds `preload` bytes ahead of the playhead plus 1 MiB, where preload is
 *     10 s at the source's bit rate, at least 2 MiB and at most 50 MiB; the element then goes
 *     idle (`progress`, `suspend`) and a new read starts when less than `preload` bytes are
 *     buffered ahead of the playhead;
 *   - the header is found by walking the top-level boxes; a moov after the mdat is fetched
 *     with a range request at its offset, as a browser does; libavformat reads the moov
 *     (from memory) and its sample index gives every sample's byte range and times;
 *   - 45 ms after the moov is in (demuxer and decoders starting), the element has its
 *     metadata (durationchange, loadedmetadata); from then on, every sample whose bytes are
 *     all in is buffered with its real times, and the last one makes the data complete;
 *   - a seek to a time whose bytes are missing drops the current read (unless it will bring
 *     them within 256 KiB) and reads from the first sample needed there (for video, from
 *     the keyframe at or before the target).
 *
 * The same adapter plays HLS where the element can (Safari, iOS, a TV; source_select.c
 * decides): kp_engine_native_hls. abrmodechanged is {mode: auto} then, there is no
 * manifestloaded or fragloaded (the page cannot see the element's own requests), and the
 * track list is the element's videoTracks (one track, without size or bit rate); on the first
 * timeupdate the adapter reports the picture size as videotrackchanged. The element's HLS
 * loader: the master playlist, its first variant (the one HLS lists as the start), the
 * media playlist, then one MPEG-TS segment after another, each demuxed with libavformat and
 * buffered with its real times (offset by the first segment's earliest timestamp), until 30 s
 * are buffered ahead (the element then suspends); the metadata comes with the first segment;
 * a seek to unbuffered time drops the segment in flight and loads the one holding the target.
 *
 * FairPlay (Safari, iOS: the NativeAdapter's legacy FairPlay handler over WebKitMediaKeys):
 * the content is cbcs fMP4 (EXT-X-MAP init section + fragments), usually with the audio as an
 * EXT-X-MEDIA TYPE=AUDIO rendition of its own, which the element loads as a second stream
 * (the one lagging behind loads next; each init section before its first fragment). A media
 * playlist's EXT-X-KEY METHOD=SAMPLE-AES, KEYFORMAT com.apple.streamingkeydelivery is the
 * element's webkitneedkey: the EME (eme.h) gets init type "skd" with the skd:// URI, sets the
 * certificate of drmData and POSTs the license request (drmlicenseloaded when accepted; its
 * errors are the DRM codes eme.h lists: 6017 for a certificate it refuses, 6007 for a failed
 * request). Each fragment of an encrypted init goes through kp_eme_decrypt (cbcs) before it
 * is demuxed; until the license is in, the fragment is held and loading pauses. FairPlay
 * content whose source has no drmData, and SAMPLE-AES in MPEG-TS (not modelled), fail as a
 * MediaError (3022 before load resolved). METHOD=AES-128 the element decrypts itself: each key
 * URI fetched once before its first segment (16 bytes), the segment decrypted whole with the
 * tag's IV or its media sequence number; a key that does not load or a segment that does not
 * decrypt is a MediaError like a missing segment (3022 before load resolved, else 3016).
 */
#include "engine_progressive.h"

#include "demux.h"
#include "eme.h"
#include "engine.h"
#include "m3u8.h"

#include "kp/buf.h"
#include "kp/cenc.h"
#include "kp/err.h"
#include "kp/ffmpeg.h"
#include "kp/jsonu.h"
#include "kp/perror.h"
#include "platform.h"

#include <libavformat/avformat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PRELOAD_MIN       ((int64_t)2 << 20)
#define PRELOAD_MAX       ((int64_t)50 << 20)
#define PRELOAD_SECONDS   10
#define PRELOAD_EXTRA     ((int64_t)1 << 20)
#define DATA_STEP         65536
#define SEEK_REUSE_WINDOW ((int64_t)256 << 10)
#define METADATA_DELAY    KP_MS(45)
#define HEARTBEAT_TIMEOUT KP_SEC(30) /* native-adapter-default-config.json heartbeatTimeout */
#define MAX_FILE_SIZE     ((int64_t)1 << 31)
#define NATIVE_HLS_AHEAD  KP_SEC(30)

/* MediaError codes */
#define MEDIA_ERR_NETWORK           2
#define MEDIA_ERR_SRC_NOT_SUPPORTED 4

typedef struct sample {
    int64_t pos;
    uint32_t size;
    uint8_t track; /* KP_TRACK_VIDEO / KP_TRACK_AUDIO */
    bool key;
    bool in; /* appended to the element */
    kp_time start, end;
} sample;

typedef struct brange {
    int64_t a, b; /* [a, b) */
} brange;

/* A native HLS stream: the variant's media playlist, or an audio rendition's. */
typedef struct nstream {
    kp_m3u8 *pl; /* borrowed from prog (level / audio_level) */
    bool *have;  /* per segment: appended (used with an audio rendition) */
    kp_buf init; /* the EXT-X-MAP init section, fMP4 only */
    bool init_in;
    kp_cenc_init cinit;
    bool encrypted;
} nstream;

typedef struct prog {
    kp_engine_host host;
    json_t *source;
    char *url;       /* the source URL (playManifest) */
    char *media_url; /* where the redirect led: later reads go there */
    int64_t preload;
    bool failed;

    /* the read in flight */
    uint64_t req;
    int64_t conn_start, conn_end; /* requested from, and where the reader stops */
    size_t conn_seen;             /* body bytes already taken */
    bool conn_checked;            /* its status and range were checked */

    /* the file as far as fetched */
    int64_t file_size; /* -1 until known */
    uint8_t *file;
    brange *have;
    size_t n_have, cap_have;

    /* the header */
    bool header_done, meta_announced, all_in;
    kp_task_id meta_task;
    kp_time duration;
    sample *samples;
    size_t n_samples, scan_from;

    /* native HLS */
    bool hls;
    kp_m3u8 *master, *level;        /* level: the main (variant) media playlist */
    kp_m3u8 *audio_level;           /* the audio rendition's playlist, or NULL */
    const kp_m3u8_variant *variant; /* in master, or NULL */
    const char *audio_uri;          /* in master: the audio rendition's playlist, or NULL */
    nstream streams[2];             /* [0] the variant, [1] the audio rendition */
    size_t n_streams, cur_stream;
    size_t next_seg;
    /* AES-128: the keys loaded (one per URI), the one being loaded */
    struct nkey {
        char *uri;
        uint8_t key[16];
    } * keys;
    size_t n_keys;
    char *key_uri;
    kp_cenc_ctx *cenc;
    kp_buf plain;
    /* FairPlay: a fragment held until the license arrives */

    bool waiting_key;
    kp_buf locked;
    char *locked_url;
    size_t locked_stream, locked_index;
    bool have_init_pts;
    kp_time init_pts;
    bool dims_reported;

    /* NativeAdapter */
    bool loadeddata_seen, loaded;
    bool waiting_flag;
    kp_time last_time;
    kp_task_id heartbeat;
} prog;

static void start_read(prog *pr, int64_t from);

/* ---- errors ---- */

static void fail(prog *pr, int category, int code, json_t *data)
{
    if (pr->failed) {
        json_decref(data);
        return;
    }
    pr->failed = true;
    if (pr->req)
        kp_net_cancel(pr->host.net, pr->req);
    pr->req = 0;
    kp_sched_cancel(pr->host.sched, pr->meta_task);
    kp_sched_cancel(pr->host.sched, pr->heartbeat);
    pr->meta_task = pr->heartbeat = 0;
    kp_media_net_stop(pr->host.media);
    pr->host.fail(pr->host.ud, kp_perror_new(KP_SEVERITY_CRITICAL, category, code, data));
}

/* A MediaError: 3022 while load() is pending, else 3016. */
static void media_error(prog *pr, int media_code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void media_error(prog *pr, int media_code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    KP_LOG_W(pr->host.log, "progressive", "%s", msg);
    if (!pr->loaded)
        fail(pr, KP_PCAT_MEDIA, KP_PCODE_NATIVE_ADAPTER_LOAD_FAILED,
             json_pack("{s:i, s:s}", "code", media_code, "message", msg));
    else
        fail(pr, KP_PCAT_MEDIA, KP_PCODE_VIDEO_ERROR,
             json_pack("{s:i, s:i, s:s}", "code", media_code, "extended", 0, "message", msg));
}

/* ---- fetched byte ranges ---- */

static void have_add(prog *pr, int64_t a, int64_t b)
{
    if (b <= a)
        return;
    if (pr->n_have == pr->cap_have) {
        size_t cap = pr->cap_have ? pr->cap_have * 2 : 8;
        brange *r = realloc(pr->have, cap * sizeof(*r));
        if (!r)
            return;
        pr->have = r;
        pr->cap_have = cap;
    }
    size_t i = 0;
    while (i < pr->n_have && pr->have[i].a < a)
        i++;
    memmove(&pr->have[i + 1], &pr->have[i], (pr->n_have - i) * sizeof(brange));
    pr->have[i] = (brange){a, b};
    pr->n_have++;
    size_t w = 0;
    for (size_t k = 1; k < pr->n_have; k++) {
        if (pr->have[k].a <= pr->have[w].b) {
            if (pr->have[k].b > pr->have[w].b)
                pr->have[w].b = pr->have[k].b;
        } else {
            pr->have[++w] = pr->have[k];
        }
    }
    pr->n_have = w + 1;
}

/* The end of the fetched run containing off, or off when off is missing. */
static int64_t have_end(const prog *pr, int64_t off)
{
    for (size_t i = 0; i < pr->n_have; i++)
        if (off >= pr->have[i].a && off < pr->have[i].b)
            return pr->have[i].b;
    return off;
}

static bool have_all(const prog *pr, int64_t a, int64_t b)
{
    return have_end(pr, a) >= b;
}

/* ---- the header ---- */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int cmp_sample(const void *x, const void *y)
{
    const sample *a = x, *b = y;
    return a->pos < b->pos ? -1 : a->pos > b->pos;
}

/* Reads the moov at [a, b) with libavformat: the sample index of every audio and video
 * track. */
static int read_moov(prog *pr, int64_t a, int64_t b, char *err, size_t errlen)
{
    AVFormatContext *fc = NULL;
    int rc = kp_ffmpeg_open_memory(pr->file + a, (size_t)(b - a), "mp4", false, &fc, err, errlen);
    if (rc != KP_OK)
        return rc;
    size_t total = 0;
    for (unsigned s = 0; s < fc->nb_streams; s++)
        total += (size_t)avformat_index_get_entries_count(fc->streams[s]);
    pr->samples = calloc(total ? total : 1, sizeof(*pr->samples));
    if (!pr->samples) {
        kp_ffmpeg_close_memory(&fc);
        return KP_ENOMEM;
    }
    kp_time longest = 0;
    for (unsigned s = 0; s < fc->nb_streams; s++) {
        AVStream *st = fc->streams[s];
        int kind = st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO   ? KP_TRACK_VIDEO
                   : st->codecpar->codec_type == AVMEDIA_TYPE_AUDIO ? KP_TRACK_AUDIO
                                                                    : -1;
        int n = avformat_index_get_entries_count(st);
        if (kind < 0 || n <= 0)
            continue;
        int64_t stream_end =
            st->duration != AV_NOPTS_VALUE
                ? (st->start_time != AV_NOPTS_VALUE ? st->start_time : 0) + st->duration
                : AV_NOPTS_VALUE;
        for (int i = 0; i < n; i++) {
            const AVIndexEntry *e = avformat_index_get_entry(st, i);
            const AVIndexEntry *next = i + 1 < n ? avformat_index_get_entry(st, i + 1) : NULL;
            if (!e || e->size <= 0 || e->pos < 0)
                continue;
            int64_t end_ts = next ? next->timestamp : stream_end;
            if (end_ts == AV_NOPTS_VALUE || end_ts < e->timestamp)
                end_ts = e->timestamp;
            sample *sm = &pr->samples[pr->n_samples++];
            sm->pos = e->pos;
            sm->size = (uint32_t)e->size;
            sm->track = (uint8_t)kind;
            sm->key = (e->flags & AVINDEX_KEYFRAME) != 0;
            sm->start = av_rescale_q(e->timestamp, st->time_base, AV_TIME_BASE_Q);
            sm->end = av_rescale_q(end_ts, st->time_base, AV_TIME_BASE_Q);
            if (sm->end > longest)
                longest = sm->end;
        }
    }
    pr->duration = fc->duration > 0 ? (kp_time)fc->duration : longest;
    kp_ffmpeg_close_memory(&fc);
    if (pr->n_samples == 0) {
        snprintf(err, errlen, "the moov lists no audio or video samples");
        return KP_EMEDIA;
    }
    qsort(pr->samples, pr->n_samples, sizeof(*pr->samples), cmp_sample);
    return KP_OK;
}

static void append_new(prog *pr);

static void announce_metadata(void *ud)
{
    prog *pr = ud;
    pr->meta_task = 0;
    pr->meta_announced = true;
    kp_media_set_metadata(pr->host.media, pr->duration);
    append_new(pr);
}

/* Makes sure bytes from `off` are on their way: the read in flight brings them soon, or a
 * new one starts there. */
static void ensure_read_at(prog *pr, int64_t off)
{
    if (pr->req && off >= pr->conn_start &&
        off <= pr->conn_start + (int64_t)pr->conn_seen + SEEK_REUSE_WINDOW && off < pr->conn_end)
        return;
    if (pr->req)
        kp_net_cancel(pr->host.net, pr->req);
    pr->req = 0;
    start_read(pr, off);
}

/* Walks the top-level boxes for the moov; reads it when it is all in. */
static void try_header(prog *pr)
{
    int64_t pos = 0;
    while (!pr->header_done && !pr->failed) {
        if (pr->file_size >= 0 && pos >= pr->file_size) {
            media_error(pr, MEDIA_ERR_SRC_NOT_SUPPORTED,
                        "DEMUXER_ERROR_COULD_NOT_OPEN: no moov box in %s", pr->url);
            return;
        }
        int64_t left = pr->file_size - pos;
        if (left < 8) {
            media_error(pr, MEDIA_ERR_SRC_NOT_SUPPORTED,
                        "DEMUXER_ERROR_COULD_NOT_OPEN: %lld stray bytes at %lld, no moov box",
                        (long long)left, (long long)pos);
            return;
        }
        if (!have_all(pr, pos, left >= 16 ? pos + 16 : pos + 8)) {
            if (!pr->req || pos < pr->conn_start || pos >= pr->conn_end)
                ensure_read_at(pr, pos);
            return;
        }
        const uint8_t *h = pr->file + pos;
        uint64_t size = be32(h);
        char type[5];
        for (int k = 0; k < 4; k++)
            type[k] = h[4 + k] >= 0x20 && h[4 + k] < 0x7f ? (char)h[4 + k] : '?';
        type[4] = '\0';
        if (size == 1)
            size = left >= 16 ? (uint64_t)be32(h + 8) << 32 | be32(h + 12) : 0;
        else if (size == 0)
            size = (uint64_t)left;
        if (size < 8 || size > (uint64_t)left) {
            media_error(pr, MEDIA_ERR_SRC_NOT_SUPPORTED,
                        "DEMUXER_ERROR_COULD_NOT_OPEN: bad box '%s' of %llu bytes at %lld", type,
                        (unsigned long long)size, (long long)pos);
            return;
        }
        if (strcmp(type, "moov") != 0) {
            pos += (int64_t)size;
            continue;
        }
        int64_t end = pos + (int64_t)size;
        if (!have_all(pr, pos, end)) {
            int64_t missing = have_end(pr, pos);
            if (!pr->req || missing < pr->conn_start || missing >= pr->conn_end)
                ensure_read_at(pr, missing);
            return;
        }
        char err[256];
        int rc = read_moov(pr, pos, end, err, sizeof(err));
        if (rc != KP_OK) {
            media_error(pr, MEDIA_ERR_SRC_NOT_SUPPORTED, "DEMUXER_ERROR_COULD_NOT_OPEN: %s: %s",
                        pr->url, rc == KP_ENOMEM ? "out of memory" : err);
            return;
        }
        pr->header_done = true;
        KP_LOG_D(pr->host.log, "progressive", "moov at %lld (%llu bytes): %zu samples, %.3f s",
                 (long long)pos, (unsigned long long)size, pr->n_samples, pr->duration / 1e6);
        pr->meta_task = kp_sched_after(pr->host.sched, METADATA_DELAY, announce_metadata, pr);
        /* a moov fetched from the end: go back to the media data */
        if (!pr->req && pr->samples[0].pos < pos && have_end(pr, pr->samples[0].pos) < pos)
            start_read(pr, have_end(pr, pr->samples[0].pos));
    }
}

/* ---- buffering ---- */

static void append_new(prog *pr)
{
    if (!pr->meta_announced || pr->all_in)
        return;
    kp_media *m = pr->host.media;
    bool added = false, all = true;
    while (pr->scan_from < pr->n_samples && pr->samples[pr->scan_from].in)
        pr->scan_from++;
    for (size_t i = pr->scan_from; i < pr->n_samples; i++) {
        sample *s = &pr->samples[i];
        if (s->in)
            continue;
        if (!have_all(pr, s->pos, s->pos + s->size)) {
            all = false;
            continue;
        }
        kp_time end = s->end < pr->duration ? s->end : pr->duration;
        kp_media_append(m, s->track, s->start, end > s->start ? end : s->start + 1);
        s->in = true;
        added = true;
    }
    if (all) {
        pr->all_in = true;
        kp_media_end_of_data(m);
    } else if (added) {
        kp_media_appended(m);
    }
}

/* The byte offset playback at `t` needs first: for each track, the sample holding t (for
 * video, the keyframe at or before it); the smallest of those. -1 when t is past the end. */
static int64_t offset_for(const prog *pr, kp_time t)
{
    int64_t best = -1;
    for (int track = 0; track < 2; track++) {
        const sample *use = NULL;
        for (size_t i = 0; i < pr->n_samples; i++) {
            const sample *s = &pr->samples[i];
            if (s->track != track || s->start > t)
                continue;
            if (track == KP_TRACK_VIDEO ? s->key && (!use || s->start >= use->start) : t < s->end)
                use = s;
        }
        if (use && use->end <= t && track != KP_TRACK_VIDEO)
            use = NULL;
        if (use && (best < 0 || use->pos < best))
            best = use->pos;
    }
    return best;
}

static void read_more(prog *pr)
{
    if (pr->failed || pr->req || !pr->header_done || pr->all_in || pr->file_size < 0)
        return;
    int64_t off = offset_for(pr, kp_media_position(pr->host.media));
    if (off < 0)
        return;
    int64_t end = have_end(pr, off);
    if (end >= pr->file_size)
        return; /* everything from the playhead on is in */
    if (end - off < pr->preload)
        start_read(pr, end);
}

/* ---- the element's fetch ---- */

static bool parse_content_range(const char *v, int64_t *first, int64_t *total)
{
    long long a, b, t;
    if (!v || sscanf(v, "bytes %lld-%lld/%lld", &a, &b, &t) != 3 || a < 0 || b < a || t <= b)
        return false;
    *first = a;
    *total = t;
    return true;
}

/* Takes the body bytes [conn_seen, received) of the read in flight. */
static void take_bytes(prog *pr, const kp_http_response *r, size_t received)
{
    if (!pr->conn_checked) {
        if (r->status != 200 && r->status != 206)
            return; /* the final callback reports it */
        pr->conn_checked = true;
        if (!pr->media_url && r->effective_url)
            pr->media_url = kp_strdup(r->effective_url);
        int64_t first = 0, total = -1;
        if (r->status == 206) {
            if (!parse_content_range(kp_http_header(r, "content-range"), &first, &total)) {
                media_error(pr, MEDIA_ERR_NETWORK,
                            "a 206 answer for %s without a usable "
                            "Content-Range",
                            r->url);
                return;
            }
        } else {
            /* the server ignored the range: the whole file from byte 0 */
            const char *cl = kp_http_header(r, "content-length");
            total = cl ? atoll(cl) : (r->truncated ? -1 : (int64_t)r->body.len);
        }
        if (total <= 0 || total > MAX_FILE_SIZE || (pr->file_size >= 0 && total != pr->file_size)) {
            media_error(pr, MEDIA_ERR_NETWORK, "%s: unusable size %lld", r->url, (long long)total);
            return;
        }
        pr->conn_start = first;
        if (!pr->file) {
            pr->file_size = total;
            pr->file = malloc((size_t)total);
            if (!pr->file) {
                media_error(pr, MEDIA_ERR_NETWORK, "out of memory for %lld bytes",
                            (long long)total);
                return;
            }
        }
    }
    if (received <= pr->conn_seen)
        return;
    int64_t at = pr->conn_start + (int64_t)pr->conn_seen;
    size_t n = received - pr->conn_seen;
    if (at + (int64_t)n > pr->file_size)
        n = (size_t)(pr->file_size - at);
    memcpy(pr->file + at, r->body.data + pr->conn_seen, n);
    have_add(pr, at, at + (int64_t)n);
    pr->conn_seen = received;
    kp_media_net_received(pr->host.media);
    if (!pr->header_done)
        try_header(pr);
    else
        append_new(pr);
}

static void on_data(void *ud, const kp_http_response *r, size_t received)
{
    prog *pr = ud;
    if (!pr->failed)
        take_bytes(pr, r, received);
}

static void on_done(void *ud, const kp_http_response *r)
{
    prog *pr = ud;
    pr->req = 0;
    if (pr->failed)
        return;
    if (r->error || (r->status != 200 && r->status != 206)) {
        if (r->error)
            media_error(pr, pr->file ? MEDIA_ERR_NETWORK : MEDIA_ERR_SRC_NOT_SUPPORTED, "%s: %s",
                        r->url, r->error_text ? r->error_text : "transfer failed");
        else
            media_error(pr, pr->file ? MEDIA_ERR_NETWORK : MEDIA_ERR_SRC_NOT_SUPPORTED,
                        "%s: HTTP %d", r->url, r->status);
        return;
    }
    take_bytes(pr, r, r->body.len);
    if (pr->failed)
        return;
    if (!pr->req) {
        kp_media_net_idle(pr->host.media);
        if (!pr->header_done)
            try_header(pr);
        else
            read_more(pr);
    }
}

static void start_read(prog *pr, int64_t from)
{
    char range[64];
    snprintf(range, sizeof(range), "Range: bytes=%lld-", (long long)from);
    const char *headers[] = {range, NULL};
    int64_t ahead = pr->preload + PRELOAD_EXTRA;
    kp_http_request req = {.method = "GET",
                           .url = pr->media_url ? pr->media_url : pr->url,
                           .headers = headers,
                           .max_body = (size_t)ahead,
                           .on_data = on_data,
                           .data_step = DATA_STEP};
    pr->conn_start = from;
    pr->conn_end = from + ahead;
    pr->conn_seen = 0;
    pr->conn_checked = false;
    pr->req = kp_net_fetch(pr->host.net, &req, on_done, pr);
    if (!pr->req) {
        media_error(pr, MEDIA_ERR_NETWORK, "cannot request %s", req.url);
        return;
    }
    kp_media_net_loading(pr->host.media);
}

/* ---- the element's HLS loader ---- */

static void hls_request(prog *pr, const char *url, kp_http_fn cb)
{
    kp_http_request req = {.method = "GET", .url = url};
    pr->req = kp_net_fetch(pr->host.net, &req, cb, pr);
    if (!pr->req) {
        media_error(pr, MEDIA_ERR_NETWORK, "cannot request %s", url);
        return;
    }
    kp_media_net_loading(pr->host.media);
}

/* A playlist or segment answer: false (after failing) unless it is a 200. */
static bool hls_answer_ok(prog *pr, const kp_http_response *r)
{
    pr->req = 0;
    if (pr->failed)
        return false;
    if (r->error || r->status != 200) {
        media_error(pr, pr->loaded ? MEDIA_ERR_NETWORK : MEDIA_ERR_SRC_NOT_SUPPORTED, "%s: %s",
                    r->url,
                    r->error ? (r->error_text ? r->error_text : "transfer failed") : "HTTP error");
        return false;
    }
    kp_media_net_received(pr->host.media);
    return true;
}

/* Stops loading after an error the EME reported itself. */
static void hls_stop(prog *pr)
{
    if (pr->failed)
        return;
    pr->failed = true;
    if (pr->req)
        kp_net_cancel(pr->host.net, pr->req);
    pr->req = 0;
    kp_sched_cancel(pr->host.sched, pr->heartbeat);
    pr->heartbeat = 0;
    kp_media_net_stop(pr->host.media);
}

static void on_hls_segment(void *ud, const kp_http_response *r);
static void on_hls_init(void *ud, const kp_http_response *r);

/* The first segment of the main stream from `at` on whose middle is not buffered, or
 * n_segments. */
static size_t hls_segment_from(const prog *pr, kp_time at)
{
    const kp_m3u8 *l = pr->level;
    for (size_t i = 0; i < l->n_segments; i++) {
        const kp_m3u8_segment *sg = &l->segments[i];
        kp_time mid = KP_SEC(sg->start + sg->duration / 2);
        if (KP_SEC(sg->start + sg->duration) <= at)
            continue;
        if (!kp_media_is_buffered(pr->host.media, mid))
            return i;
    }
    return l->n_segments;
}

/* With an audio rendition, each stream keeps what it appended: the first segment ending after
 * `at` that the stream has not appended, or n_segments. */
static size_t stream_segment_from(const nstream *st, kp_time at)
{
    for (size_t i = 0; i < st->pl->n_segments; i++) {
        const kp_m3u8_segment *sg = &st->pl->segments[i];
        if (KP_SEC(sg->start + sg->duration) > at && !st->have[i])
            return i;
    }
    return st->pl->n_segments;
}

static bool hls_all_in(const prog *pr)
{
    if (pr->n_streams < 2)
        return hls_segment_from(pr, 0) >= pr->level->n_segments;
    for (size_t k = 0; k < pr->n_streams; k++)
        if (stream_segment_from(&pr->streams[k], 0) < pr->streams[k].pl->n_segments)
            return false;
    return true;
}

/* ---- AES-128 (the element decrypts it itself) ---- */

/* The segment's METHOD=AES-128 key, or NULL. */
static const kp_m3u8_key *aes_key_of(const kp_m3u8 *pl, size_t index)
{
    int ki = index < pl->n_segments ? pl->segments[index].key_index : -1;
    if (ki < 0 || (size_t)ki >= pl->n_keys || strcmp(pl->keys[ki].method, "AES-128") != 0)
        return NULL;
    return &pl->keys[ki];
}

static const struct nkey *key_find(const prog *pr, const char *uri)
{
    for (size_t i = 0; i < pr->n_keys; i++)
        if (strcmp(pr->keys[i].uri, uri) == 0)
            return &pr->keys[i];
    return NULL;
}

static void hls_next(prog *pr);

static void on_hls_key(void *ud, const kp_http_response *r)
{
    prog *pr = ud;
    if (!hls_answer_ok(pr, r))
        return;
    if (r->body.len != 16) {
        media_error(pr, pr->loaded ? MEDIA_ERR_NETWORK : MEDIA_ERR_SRC_NOT_SUPPORTED,
                    "%s: the key is %zu bytes, not 16", r->url, r->body.len);
        return;
    }
    struct nkey *ks = realloc(pr->keys, (pr->n_keys + 1) * sizeof(*ks));
    char *dup = kp_strdup(pr->key_uri);
    if (ks)
        pr->keys = ks;
    if (!ks || !dup) {
        free(dup);
        media_error(pr, MEDIA_ERR_SRC_NOT_SUPPORTED, "out of memory");
        return;
    }
    pr->keys[pr->n_keys].uri = dup;
    memcpy(pr->keys[pr->n_keys].key, r->body.data, 16);
    pr->n_keys++;
    hls_next(pr);
}

/* Decrypts an AES-128 segment into pr->plain; false after failing (a wrong key or IV breaks
 * the padding: the element's decode error). */
static bool aes_decrypt(prog *pr, const kp_m3u8_key *k, const kp_m3u8_segment *sg,
                        const kp_http_response *r)
{
    const struct nkey *key = key_find(pr, k->uri);
    char err[256];
    int rc = kp_engine_hls_aes_decrypt(&pr->cenc, key ? key->key : NULL, k, sg, r->body.data,
                                       r->body.len, &pr->plain, err, sizeof(err));
    if (rc != KP_OK)
        media_error(pr, MEDIA_ERR_SRC_NOT_SUPPORTED, "DEMUXER_ERROR: %s: %s", r->url, err);
    return rc == KP_OK;
}

/* Loads what the buffer needs next (the stream lagging most; its init section first) unless
 * 30 s are buffered ahead (or all is in); the element idles then. */
static void hls_next(prog *pr)
{
    if (pr->failed || pr->req || !pr->level || pr->waiting_key)
        return;
    for (size_t k = 0; k < pr->n_streams; k++)
        if (!pr->streams[k].pl)
            return; /* a playlist still to come */
    kp_media *m = pr->host.media;
    kp_time pos = kp_media_position(m);
    kp_time end = kp_media_buffered_end(m, pos);
    size_t k = 0, i;
    if (pr->n_streams < 2) {
        i = pr->all_in ? pr->level->n_segments : hls_segment_from(pr, end);
        if (i >= pr->level->n_segments || end - pos >= NATIVE_HLS_AHEAD) {
            kp_media_net_idle(m);
            return;
        }
    } else {
        double best = -1;
        i = SIZE_MAX;
        for (size_t s = 0; s < pr->n_streams; s++) {
            size_t c = stream_segment_from(&pr->streams[s], pos);
            if (c >= pr->streams[s].pl->n_segments)
                continue;
            double st = pr->streams[s].pl->segments[c].start;
            if (i == SIZE_MAX || st < best) {
                best = st;
                i = c;
                k = s;
            }
        }
        if (i == SIZE_MAX || KP_SEC(best) - pos >= NATIVE_HLS_AHEAD) {
            kp_media_net_idle(m);
            return;
        }
    }
    nstream *st = &pr->streams[k];
    pr->cur_stream = k;
    pr->next_seg = i;
    const kp_m3u8_key *key = aes_key_of(st->pl, i);
    if (key && !key_find(pr, key->uri)) {
        free(pr->key_uri);
        pr->key_uri = kp_strdup(key->uri);
        if (pr->key_uri)
            hls_request(pr, key->uri, on_hls_key);
        else
            media_error(pr, MEDIA_ERR_SRC_NOT_SUPPORTED, "out of memory");
        return;
    }
    if (st->pl->map_uri && !st->init_in)
        hls_request(pr, st->pl->map_uri, on_hls_init);
    else
        hls_request(pr, st->pl->segments[i].uri, on_hls_segment);
}

static void hls_seek(prog *pr)
{
    if (!pr->level || pr->failed)
        return;
    kp_media *m = pr->host.media;
    if (kp_media_is_buffered(m, kp_media_position(m)))
        return;
    if (pr->req) /* the segment in flight is for elsewhere */
        kp_net_cancel(pr->host.net, pr->req);
    pr->req = 0;
    hls_next(pr);
}

/* Demuxes a (clear or decrypted) segment and buffers its tracks with their real times. */
static void hls_append(prog *pr, nstream *st, size_t index, const uint8_t *data, size_t len,
                       const char *url)
{
    kp_demux_info info;
    char err[256];
    if (kp_demux_segment(data, len, st->pl->map_uri ? "mp4" : "mpegts", &info, err, sizeof(err)) !=
        KP_OK) {
        media_error(pr, MEDIA_ERR_SRC_NOT_SUPPORTED, "DEMUXER_ERROR: %s: %s", url, err);
        return;
    }
    if (!pr->have_init_pts) {
        pr->init_pts = INT64_MAX;
        for (int t = 0; t < info.n_tracks; t++)
            if (info.tracks[t].start_us < pr->init_pts)
                pr->init_pts = info.tracks[t].start_us;
        pr->have_init_pts = true;
    }
    kp_media *m = pr->host.media;
    if (!pr->meta_announced) {
        pr->meta_announced = true;
        kp_media_set_metadata(m, KP_SEC(pr->level->total_duration));
    }
    kp_time d = kp_media_duration(m);
    for (int t = 0; t < info.n_tracks; t++) {
        const kp_demux_track *tr = &info.tracks[t];
        if (tr->kind != KP_TRACK_VIDEO && tr->kind != KP_TRACK_AUDIO)
            continue;
        kp_time a = tr->start_us - pr->init_pts, b = tr->end_us - pr->init_pts;
        if (a < 0)
            a = 0;
        if (d >= 0 && b > d)
            b = d; /* the element's duration is the playlist's */
        if (b > a)
            kp_media_append(m, tr->kind, a, b);
    }
    if (st->have && index < st->pl->n_segments)
        st->have[index] = true;
    if (hls_all_in(pr)) {
        pr->all_in = true;
        kp_media_end_of_data(m);
    } else {
        kp_media_appended(m);
    }
}

static void on_hls_key_ready(void *ud);

/* An fMP4 fragment: init + fragment, decrypted through the EME when the init is encrypted
 * (held until the license is in). */
static void hls_fmp4_segment(prog *pr, nstream *st, size_t index, const kp_http_response *r)
{
    pr->locked.len = 0;
    if (kp_buf_append(&pr->locked, st->init.data, st->init.len) != KP_OK ||
        kp_buf_append(&pr->locked, r->body.data, r->body.len) != KP_OK) {
        media_error(pr, MEDIA_ERR_SRC_NOT_SUPPORTED, "out of memory");
        return;
    }
    if (st->encrypted) {
        int rc = kp_eme_decrypt(pr->host.eme, &st->cinit, (uint8_t *)pr->locked.data + st->init.len,
                                r->body.len, on_hls_key_ready, pr);
        if (rc == KP_EBUSY) {
            free(pr->locked_url);
            pr->locked_url = kp_strdup(r->url);
            pr->locked_stream = (size_t)(st - pr->streams);
            pr->locked_index = index;
            pr->waiting_key = true;
            kp_media_net_idle(pr->host.media);
            return;
        }
        if (rc != KP_OK) {
            hls_stop(pr); /* the EME reported the error */
            return;
        }
    }
    hls_append(pr, st, index, (const uint8_t *)pr->locked.data, pr->locked.len, r->url);
}

static void on_hls_key_ready(void *ud)
{
    prog *pr = ud;
    if (!pr->waiting_key || pr->failed)
        return;
    pr->waiting_key = false;
    nstream *st = &pr->streams[pr->locked_stream];
    int rc = kp_eme_decrypt(pr->host.eme, &st->cinit, (uint8_t *)pr->locked.data + st->init.len,
                            pr->locked.len - st->init.len, on_hls_key_ready, pr);
    if (rc != KP_OK) {
        hls_stop(pr);
        return;
    }
    hls_append(pr, st, pr->locked_index, (const uint8_t *)pr->locked.data, pr->locked.len,
               pr->locked_url ? pr->locked_url : "");
    hls_next(pr);
}

static void on_hls_segment(void *ud, const kp_http_response *r)
{
    prog *pr = ud;
    if (!hls_answer_ok(pr, r))
        return;
    nstream *st = &pr->streams[pr->cur_stream];
    const kp_m3u8_key *key = aes_key_of(st->pl, pr->next_seg);
    kp_http_response plain = *r;
    if (key) {
        if (!aes_decrypt(pr, key, &st->pl->segments[pr->next_seg], r))
            return;
        plain.body = pr->plain;
    }
    if (st->pl->map_uri)
        hls_fmp4_segment(pr, st, pr->next_seg, &plain);
    else
        hls_append(pr, st, pr->next_seg, (const uint8_t *)plain.body.data, plain.body.len, r->url);
    hls_next(pr);
}

/* The init section (EXT-X-MAP): its protection decides whether fragments go through the EME. */
static void on_hls_init(void *ud, const kp_http_response *r)
{
    prog *pr = ud;
    if (!hls_answer_ok(pr, r))
        return;
    nstream *st = &pr->streams[pr->cur_stream];
    st->init.len = 0;
    if (kp_buf_append(&st->init, r->body.data, r->body.len) != KP_OK) {
        media_error(pr, MEDIA_ERR_SRC_NOT_SUPPORTED, "out of memory");
        return;
    }
    st->init_in = true;
    char err[256];
    st->encrypted = false;
    if (kp_cenc_parse_init((const uint8_t *)r->body.data, r->body.len, &st->cinit, err,
                           sizeof(err)) == KP_OK) {
        for (size_t t = 0; t < st->cinit.n_tracks; t++)
            if (st->cinit.tracks[t].encrypted && st->cinit.tracks[t].is_protected)
                st->encrypted = true;
    } else {
        memset(&st->cinit, 0, sizeof(st->cinit)); /* the demuxer judges the media */
    }
    if (st->encrypted && !pr->host.eme) {
        media_error(pr, MEDIA_ERR_SRC_NOT_SUPPORTED,
                    "%s: the init section is encrypted and the source has no drmData", r->url);
        return;
    }
    hls_next(pr);
}

/* The media playlist's keys: FairPlay (SAMPLE-AES, KEYFORMAT com.apple.streamingkeydelivery)
 * starts the legacy FairPlay handler's exchange (webkitneedkey with the skd URI); AES-128 is
 * the element's own business (hls_next); another SAMPLE-AES (identity, TS) is not modelled.
 * false after failing. */
static bool hls_playlist_keys(prog *pr, const kp_m3u8 *pl, const char *url)
{
    for (size_t i = 0; i < pl->n_keys; i++) {
        const kp_m3u8_key *k = &pl->keys[i];
        if (strcmp(k->method, "NONE") == 0 || strcmp(k->method, "AES-128") == 0)
            continue; /* the element fetches AES-128 keys itself */
        bool fps = strcmp(k->method, "SAMPLE-AES") == 0 && k->keyformat &&
                   strcmp(k->keyformat, "com.apple.streamingkeydelivery") == 0;
        if (!fps) {
            media_error(pr, MEDIA_ERR_SRC_NOT_SUPPORTED,
                        "%s: EXT-X-KEY METHOD=%s%s%s is not modelled for the element", url,
                        k->method, k->keyformat ? " KEYFORMAT=" : "",
                        k->keyformat ? k->keyformat : "");
            return false;
        }
        if (!pr->host.eme) {
            media_error(pr, MEDIA_ERR_SRC_NOT_SUPPORTED,
                        "%s: FairPlay content and the source has no drmData", url);
            return false;
        }
        const kp_drm_system fairplay = KP_DRM_FAIRPLAY;
        if (kp_eme_encrypted(pr->host.eme, &fairplay, 1, "skd", (const uint8_t *)k->uri,
                             strlen(k->uri), NULL) != KP_OK) {
            hls_stop(pr); /* the EME reported the error */
            return false;
        }
    }
    return true;
}

static bool stream_set(prog *pr, nstream *st, kp_m3u8 *pl)
{
    st->pl = pl;
    st->have = calloc(pl->n_segments ? pl->n_segments : 1, sizeof(bool));
    if (!st->have) {
        media_error(pr, MEDIA_ERR_SRC_NOT_SUPPORTED, "out of memory");
        return false;
    }
    return true;
}

static void on_hls_playlist(void *ud, const kp_http_response *r)
{
    prog *pr = ud;
    if (!hls_answer_ok(pr, r))
        return;
    kp_m3u8 *pl = NULL;
    kp_m3u8_error e;
    if (kp_m3u8_parse(r->body.data, r->body.len, r->url, &pl, &e) != KP_OK) {
        media_error(pr, MEDIA_ERR_SRC_NOT_SUPPORTED, "%s:%d: %s", r->url, e.line, e.msg);
        return;
    }
    if (pl->is_master) {
        if (pr->master || pl->n_variants == 0) {
            kp_m3u8_free(pl);
            media_error(pr, MEDIA_ERR_SRC_NOT_SUPPORTED, "%s: no media playlist", r->url);
            return;
        }
        pr->master = pl;
        pr->variant = &pl->variants[0]; /* the first listed variant starts */
        pr->n_streams = 1;
        /* its AUDIO group's rendition with a URI of its own (the default one, else the
         * first) is a second stream */
        const kp_m3u8_media *audio = kp_m3u8_audio_rendition(pl, pr->variant);
        if (audio) {
            pr->audio_uri = audio->uri;
            pr->n_streams = 2;
        }
        hls_request(pr, pr->variant->uri, on_hls_playlist);
        return;
    }
    if (!pr->level) {
        pr->level = pl;
        if (!pr->n_streams)
            pr->n_streams = 1;
        if (!stream_set(pr, &pr->streams[0], pl) || !hls_playlist_keys(pr, pl, r->url))
            return;
        if (pr->n_streams > 1) {
            hls_request(pr, pr->audio_uri, on_hls_playlist);
            return;
        }
    } else {
        pr->audio_level = pl;
        if (!stream_set(pr, &pr->streams[1], pl) || !hls_playlist_keys(pr, pl, r->url))
            return;
    }
    hls_next(pr);
}

/* ---- NativeAdapter ---- */

static json_t *tracks_json(const prog *pr)
{
    const json_t *s = pr->source;
    if (pr->hls) /* the element's videoTracks: one, without size or bit rate */
        return json_pack("[{s:s, s:s, s:b, s:s, s:s, s:i, s:b}]", "kind", "video", "id", "",
                         "active", 1, "label", "", "language", "", "index", 0, "available", 1);
    long long h = kp_json_int(s, "height", 0);
    char label[32];
    if (h > 0)
        snprintf(label, sizeof(label), "%lldp", h);
    else
        snprintf(label, sizeof(label), "%lld", kp_json_int(s, "bandwidth", 0));
    return json_pack("[{s:s, s:s, s:b, s:s, s:s, s:i, s:b, s:I, s:I, s:I}]", "kind", "video", "id",
                     kp_json_str(s, "id", ""), "active", 1, "label", label, "language", "", "index",
                     0, "available", 1, "bandwidth", (json_int_t)kp_json_int(s, "bandwidth", 0),
                     "width", (json_int_t)kp_json_int(s, "width", 0), "height", (json_int_t)h);
}

static void heartbeat_fire(void *ud)
{
    prog *pr = ud;
    pr->heartbeat = 0;
    fail(pr, KP_PCAT_NETWORK, KP_PCODE_TIMEOUT,
         json_pack("s", "The player exceeded max buffer time of 30000 ms. No progress has been "
                        "done during this time."));
}

static void heartbeat_reset(prog *pr)
{
    pr->last_time = kp_media_position(pr->host.media);
    kp_sched_cancel(pr->host.sched, pr->heartbeat);
    pr->heartbeat = kp_sched_after(pr->host.sched, HEARTBEAT_TIMEOUT, heartbeat_fire, pr);
}

static void heartbeat_clear(prog *pr)
{
    kp_sched_cancel(pr->host.sched, pr->heartbeat);
    pr->heartbeat = 0;
}

static void on_media_event(void *ud, kp_event_type type)
{
    prog *pr = ud;
    if (pr->failed)
        return;
    kp_media *m = pr->host.media;
    switch (type) {
    case KP_EV_LOADED_DATA:
        pr->loadeddata_seen = true;
        break;
    case KP_EV_CAN_PLAY:
        if (pr->loadeddata_seen && !pr->loaded) {
            pr->loaded = true; /* no text tracks: load() resolves on canplay */
            pr->host.loaded(pr->host.ud, tracks_json(pr));
        }
        break;
    case KP_EV_PLAY:
        heartbeat_reset(pr);
        break;
    case KP_EV_PAUSE:
    case KP_EV_ENDED:
    case KP_EV_ABORT:
        heartbeat_clear(pr);
        break;
    case KP_EV_SEEKING:
        if (pr->hls) {
            hls_seek(pr);
        } else if (pr->header_done && !pr->all_in) {
            kp_time t = kp_media_position(m);
            int64_t off = offset_for(pr, t);
            if (off >= 0 && !kp_media_is_buffered(m, t) && have_end(pr, off) == off)
                ensure_read_at(pr, off);
        }
        break;
    case KP_EV_SEEKED:
        pr->last_time = kp_media_position(m);
        break;
    case KP_EV_WAITING:
        pr->waiting_flag = true;
        break;
    case KP_EV_PLAYING:
        pr->waiting_flag = false;
        break;
    case KP_EV_TIME_UPDATE:
        if (!kp_media_paused(m)) {
            kp_time now = kp_media_position(m);
            if (now > pr->last_time) {
                if (pr->waiting_flag) {
                    pr->waiting_flag = false;
                    pr->host.media_event(pr->host.ud, KP_EV_PLAYING);
                }
                if (!pr->failed)
                    heartbeat_reset(pr);
            } else if (now < pr->last_time) {
                pr->last_time = now;
            } else {
                pr->waiting_flag = true;
                pr->host.media_event(pr->host.ud, KP_EV_WAITING);
            }
        }
        if (pr->hls && !pr->failed && !pr->dims_reported) {
            /* _handleVideoTracksChange: the first size seen is a track change */
            pr->dims_reported = true;
            int w = pr->variant ? pr->variant->width : 0, h = pr->variant ? pr->variant->height : 0;
            pr->host.emit(pr->host.ud, KP_EV_VIDEO_TRACK_CHANGED,
                          json_pack("{s:{s:s, s:b, s:s, s:s, s:i, s:b, s:i, s:i}}",
                                    "selectedVideoTrack", "kind", "video", "active", 1, "label", "",
                                    "language", "", "index", 0, "available", 1, "width", w,
                                    "height", h));
        }
        if (pr->hls)
            hls_next(pr);
        else
            read_more(pr);
        break;
    default:
        break;
    }
}

/* ---- engine ops ---- */

static bool progressive_can_play(const json_t *source, const json_t *config)
{
    /* the element plays MP4 (the platform's canPlayType is source selection's business);
     * FairPlay-protected MP4 is not modelled */
    const char *mime = kp_json_str(source, "mimetype", "");
    const json_t *drm = json_object_get(source, "drmData");
    return (strcasecmp(mime, "video/mp4") == 0 || strcasecmp(mime, "audio/mp4") == 0) &&
           !(json_is_array(drm) && json_array_size(drm) > 0);
}

static void *progressive_create(const kp_engine_host *host, const json_t *source,
                                const json_t *config)
{
    prog *pr = calloc(1, sizeof(*pr));
    if (!pr)
        return NULL;
    pr->host = *host;
    pr->url = kp_strdup(kp_json_str(source, "url", ""));
    pr->source = json_deep_copy(source);
    pr->file_size = -1;
    kp_buf_init(&pr->locked);
    kp_buf_init(&pr->plain);
    kp_buf_init(&pr->streams[0].init);
    kp_buf_init(&pr->streams[1].init);
    int64_t bw = kp_json_int(source, "bandwidth", 0);
    pr->preload = bw > 0 ? bw / 8 * PRELOAD_SECONDS : 0;
    if (pr->preload < PRELOAD_MIN)
        pr->preload = PRELOAD_MIN;
    if (pr->preload > PRELOAD_MAX)
        pr->preload = PRELOAD_MAX;
    if (!pr->url || !pr->source || !host->media_event) {
        free(pr->url);
        json_decref(pr->source);
        free(pr);
        return NULL;
    }
    return pr;
}

static void progressive_load(void *engine)
{
    prog *pr = engine;
    pr->host.emit(pr->host.ud, KP_EV_ABR_MODE_CHANGED,
                  json_pack("{s:s}", "mode", pr->hls ? "auto" : "manual"));
    kp_media_set_adapter(pr->host.media, on_media_event, pr);
    kp_media_load(pr->host.media);
    if (pr->hls)
        hls_request(pr, pr->url, on_hls_playlist);
    else
        start_read(pr, 0);
}

static void progressive_destroy(void *engine)
{
    prog *pr = engine;
    if (!pr)
        return;
    if (pr->req)
        kp_net_cancel(pr->host.net, pr->req);
    kp_sched_cancel(pr->host.sched, pr->meta_task);
    kp_sched_cancel(pr->host.sched, pr->heartbeat);
    kp_media_set_adapter(pr->host.media, NULL, NULL);
    if (pr->host.eme)
        kp_eme_forget(pr->host.eme, pr);
    for (size_t k = 0; k < 2; k++) {
        free(pr->streams[k].have);
        kp_buf_free(&pr->streams[k].init);
    }
    kp_buf_free(&pr->locked);
    free(pr->locked_url);
    for (size_t i = 0; i < pr->n_keys; i++) {
        memset(pr->keys[i].key, 0, sizeof(pr->keys[i].key));
        free(pr->keys[i].uri);
    }
    free(pr->keys);
    free(pr->key_uri);
    kp_cenc_ctx_free(pr->cenc);
    if (pr->plain.data)
        memset(pr->plain.data, 0, pr->plain.len);
    kp_buf_free(&pr->plain);
    kp_m3u8_free(pr->audio_level);
    kp_m3u8_free(pr->level);
    kp_m3u8_free(pr->master);
    free(pr->samples);
    free(pr->have);
    free(pr->file);
    free(pr->url);
    free(pr->media_url);
    json_decref(pr->source);
    free(pr);
}

const kp_engine_ops kp_engine_progressive = {
    .name = "progressive",
    .format = "progressive",
    .adapter = "native",
    .can_play = progressive_can_play,
    .create = progressive_create,
    .load = progressive_load,
    .destroy = progressive_destroy,
};

/* ---- native HLS ---- */

static bool native_hls_can_play(const json_t *source, const json_t *config)
{
    /* clear HLS, or FairPlay (drmData listing com.apple.fairplay: source selection checks
     * the platform's WebKitMediaKeys, as NativeAdapter.canPlayDrm does) */
    (void)config;
    if (!kp_mime_is_hls(kp_json_str(source, "mimetype", "")))
        return false;
    const json_t *drm = json_object_get(source, "drmData");
    if (!json_is_array(drm) || json_array_size(drm) == 0)
        return true;
    size_t i;
    const json_t *it;
    json_array_foreach(drm, i, it)
    {
        if (kp_drm_system_parse(kp_json_str(it, "scheme", "")) == KP_DRM_FAIRPLAY)
            return true;
    }
    return false;
}

static void *native_hls_create(const kp_engine_host *host, const json_t *source,
                               const json_t *config)
{
    prog *pr = progressive_create(host, source, config);
    if (pr)
        pr->hls = true;
    return pr;
}

const kp_engine_ops kp_engine_native_hls = {
    .name = "native-hls",
    .format = "hls",
    .adapter = "native",
    .can_play = native_hls_can_play,
    .create = native_hls_create,
    .load = progressive_load,
    .destroy = progressive_destroy,
};

/* ---- the header reader alone ---- */

typedef struct probe_result {
    char *msg;
} probe_result;

static void probe_fail(void *ud, json_t *error)
{
    probe_result *r = ud;
    free(r->msg);
    r->msg = kp_strdup(kp_json_str(error, "data.message", "failed"));
    json_decref(error);
}

static void probe_emit(void *ud, kp_event_type type, json_t *payload)
{
    json_decref(payload);
}

static void probe_loaded(void *ud, json_t *tracks)
{
    json_decref(tracks);
}

static void probe_media_event(void *ud, kp_event_type type)
{
}

int kp_native_mp4_probe(const uint8_t *data, size_t len, size_t *n_samples, kp_time *duration,
                        char *err, size_t errlen)
{
    *n_samples = 0;
    *duration = 0;
    if (err && errlen)
        err[0] = '\0';
    probe_result res = {0};
    kp_sched *sched = kp_sched_new();
    kp_media *media = sched ? kp_media_new(sched) : NULL;
    kp_engine_host host = {.sched = sched,
                           .media = media,
                           .ud = &res,
                           .emit = probe_emit,
                           .loaded = probe_loaded,
                           .fail = probe_fail,
                           .media_event = probe_media_event};
    json_t *source = json_pack("{s:s, s:s}", "url", "memory:", "mimetype", "video/mp4");
    prog *pr = media && source ? progressive_create(&host, source, NULL) : NULL;
    json_decref(source);
    int rc = KP_ENOMEM;
    if (pr && len > 0 && (int64_t)len <= MAX_FILE_SIZE && (pr->file = malloc(len))) {
        memcpy(pr->file, data, len);
        pr->file_size = (int64_t)len;
        have_add(pr, 0, (int64_t)len);
        try_header(pr);
        if (pr->header_done && !pr->failed) {
            *n_samples = pr->n_samples;
            *duration = pr->duration;
            rc = KP_OK;
        } else {
            if (err)
                snprintf(err, errlen, "%s", res.msg ? res.msg : "no moov box");
            rc = KP_EMEDIA;
        }
    } else if (pr && len == 0) {
        if (err)
            snprintf(err, errlen, "empty file");
        rc = KP_EMEDIA;
    }
    progressive_destroy(pr);
    kp_media_free(media);
    kp_sched_free(sched);
    free(res.msg);
    return rc;
}
