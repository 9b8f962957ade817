/* engine_dash.c: the DASH engine, modelled on playkit-js-dash over shaka-player 4.14.
 *
 * load(): abrmodechanged, the element's previous source is dropped and a MediaSource attached
 * (abort, emptied, loadstart), the MPD is fetched (manifestloaded) and parsed (mpd.h); the
 * first Period plays. The start variant is the one shaka's SimpleAbrManager picks: variants
 * (each video Representation with the first audio one) sorted by bandwidth, the highest whose
 * bandwidth / 0.95 the estimate reaches while the next one's / 0.85 it does not, with 1 Mbit/s
 * before enough bytes were measured (abr.defaultBandwidthEstimate). videotrackchanged (shaka
 * `adaptation`), then MediaSource.duration from the MPD (durationchange), then load resolves
 * with the tracks (medialoaded, trackschanged).
 * Audio and video stream in parallel, audio first as shaka orders its streams: each fetches
 * its init segment and its first media segment at once, then one segment at a time while less
 * than 60 s are buffered ahead (playkit-js-dash bufferingGoal); fragloaded fires for every
 * response (init segments too). Each media segment is demuxed with libavformat behind its init
 * segment (a non-seekable read, as MSE appends) and appended with its real timestamps, shifted
 * by the Period start and presentationTimeOffset and cut at the Period end (shaka's append
 * window). When both streams hold their last segment: endOfStream (a durationchange only if the
 * duration changes). ABR after start-up: shaka's EWMA (half-lives 2 s / 5 s, samples of 16 kB
 * or more, 128 kB before it is trusted), re-evaluated after each segment at most every 8 s;
 * a switch fires videotrackchanged at once.
 * Errors are shaka's, as the adapter forwards them: HTTP 1001 BAD_HTTP_STATUS (category 1),
 * transport 1002 HTTP_ERROR, a bad MPD 4001-4018 (category 4), a bad segment 3016 (category 3).
 * A protected MPD fails with 6001 (drmData given, no CDM in kpsim yet) or 6012 (no license
 * server); its parsed ContentProtection stays available (kp_engine_dash_manifest).
 */
#include "demux.h"
#include "eme.h"
#include "engine.h"
#include "ewma.h"
#include "fetch.h"
#include "kp/cenc.h"
#include "mpd.h"

#include "kp/buf.h"
#include "kp/err.h"
#include "kp/jsonu.h"
#include "kp/perror.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BUFFERING_GOAL       KP_SEC(60)
#define EWMA_FAST_HALF_LIFE  2.0
#define EWMA_SLOW_HALF_LIFE  5.0
#define EWMA_MIN_BYTES       16000
#define EWMA_MIN_TOTAL_BYTES 128000
#define DEFAULT_ESTIMATE     1e6
#define DOWNGRADE_TARGET     0.95
#define UPGRADE_TARGET       0.85
#define SWITCH_INTERVAL      KP_SEC(8)

typedef struct span {
    kp_time start, end;
} span;

struct dash;

typedef struct stream {
    struct dash *d;
    int kind; /* KP_TRACK_VIDEO / KP_TRACK_AUDIO */
    const kp_mpd_adaptation *as;
    size_t rep;
    kp_mpd_segments segs;
    bool have_segs;
    kp_buf init;
    bool init_ok;
    uint64_t req_init, req_seg, req_index;
    kp_buf held; /* a media segment that arrived before its init segment */
    bool holding;
    size_t held_index;
    kp_cenc_init cinit; /* the init segment's protection (parsed when the source has DRM) */
    bool encrypted;     /* a track of the init segment is encrypted */
    kp_buf locked;      /* an encrypted segment waiting for the license */
    bool waiting_key;
    size_t locked_index;
    char *locked_url;
    size_t next;     /* next segment to fetch */
    size_t fetching; /* index of the segment in flight */
    bool ended;      /* its last segment is appended */
    span *spans;     /* appended intervals (merged) */
    size_t n_spans, cap_spans;
} stream;

typedef struct dash {
    kp_engine_host host;
    char *url;
    bool abr_enabled;
    double default_estimate;
    long long min_bitrate, max_bitrate;
    int min_width, max_width, min_height, max_height;
    kp_mpd *mpd;
    const kp_mpd_period *period;
    uint64_t req;
    bool failed, eos, loaded;
    stream video, audio;
    bool has_video, has_audio;
    bool metadata; /* every SourceBuffer got its init segment (MSE: HAVE_METADATA) */
    struct pending_append {
        int kind;
        kp_time start, end;
    } * pending; /* media appended before the other stream's init segment */
    size_t n_pending, cap_pending;
    kp_ewma fast, slow;
    long long bytes_sampled;
    bool startup_complete;
    kp_time last_choice;
    /* shaka NetworkingEngine: retries per retryParameters (fetch.h) */
    kp_fetcher *fetch;
    kp_retry_policy pol_manifest, pol_segment;
} dash;

/* ---- bandwidth estimate (shaka EwmaBandwidthEstimator) ---- */

static double bw_estimate(const dash *d)
{
    if (d->bytes_sampled < EWMA_MIN_TOTAL_BYTES)
        return d->default_estimate;
    double f = kp_ewma_get(&d->fast), s = kp_ewma_get(&d->slow);
    return f < s ? f : s;
}

static void bw_sample(dash *d, const kp_http_response *r)
{
    double ms = (double)(r->finished - r->started) / 1000.0;
    if (r->body.len < EWMA_MIN_BYTES)
        return;
    if (ms < 1)
        ms = 1;
    double bps = 8000.0 * (double)r->body.len / ms;
    kp_ewma_sample(&d->fast, ms / 1000.0, bps);
    kp_ewma_sample(&d->slow, ms / 1000.0, bps);
    d->bytes_sampled += (long long)r->body.len;
}

/* ---- helpers ---- */

/* Stops every transfer; nothing more is loaded. */
static void stop(dash *d)
{
    d->failed = true;
    uint64_t *reqs[] = {&d->req,
                        &d->video.req_init,
                        &d->video.req_seg,
                        &d->video.req_index,
                        &d->audio.req_init,
                        &d->audio.req_seg,
                        &d->audio.req_index};
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        if (*reqs[i])
            kp_fetcher_cancel(d->fetch, *reqs[i]);
        *reqs[i] = 0;
    }
}

static void fail(dash *d, int category, int code, json_t *data)
{
    if (d->failed) {
        json_decref(data);
        return;
    }
    stop(d);
    d->host.fail(d->host.ud, kp_perror_new(KP_SEVERITY_CRITICAL, category, code, data));
}

/* shaka's NetworkingEngine, once its retries are spent: an HTTP status outside 2xx is
 * BAD_HTTP_STATUS, an attempt over retryParameters.timeout TIMEOUT, no answer at all
 * HTTP_ERROR (category NETWORK). */
static void fail_http(dash *d, const kp_http_response *r, int request_type)
{
    if (r->error == KP_ETIMEDOUT)
        fail(d, KP_PCAT_NETWORK, KP_PCODE_TIMEOUT,
             json_pack("{s:s, s:i}", "url", r->url, "requestType", request_type));
    else if (r->error)
        fail(d, KP_PCAT_NETWORK, KP_PCODE_HTTP_ERROR,
             json_pack("{s:s, s:s, s:i}", "url", r->url, "text",
                       r->error_text ? r->error_text : "no answer", "requestType", request_type));
    else
        fail(d, KP_PCAT_NETWORK, KP_PCODE_BAD_HTTP_STATUS,
             json_pack("{s:s, s:i, s:i}", "url", r->url, "responseCode", r->status, "requestType",
                       request_type));
}

static bool http_ok(const kp_http_response *r)
{
    return !r->error && r->status >= 200 && r->status < 300;
}

static const kp_mpd_representation *rep_of(const stream *s)
{
    return &s->as->reps[s->rep];
}

static void spans_add(stream *s, kp_time start, kp_time end)
{
    if (end <= start)
        return;
    if (s->n_spans == s->cap_spans) {
        size_t cap = s->cap_spans ? s->cap_spans * 2 : 16;
        span *n = realloc(s->spans, cap * sizeof(*n));
        if (!n)
            return;
        s->spans = n;
        s->cap_spans = cap;
    }
    size_t i = 0;
    while (i < s->n_spans && s->spans[i].start < start)
        i++;
    memmove(&s->spans[i + 1], &s->spans[i], (s->n_spans - i) * sizeof(span));
    s->spans[i] = (span){start, end};
    s->n_spans++;
    size_t w = 0;
    for (size_t k = 1; k < s->n_spans; k++) {
        if (s->spans[k].start <= s->spans[w].end + KP_MS(2)) {
            if (s->spans[k].end > s->spans[w].end)
                s->spans[w].end = s->spans[k].end;
        } else {
            s->spans[++w] = s->spans[k];
        }
    }
    s->n_spans = w + 1;
}

/* End of this stream's appended interval holding pos, or -1. */
static kp_time stream_buffered_end(const stream *s, kp_time pos)
{
    for (size_t i = 0; i < s->n_spans; i++)
        if (pos >= s->spans[i].start - KP_MS(2) && pos < s->spans[i].end)
            return s->spans[i].end;
    return -1;
}

/* The segment covering t (seconds), or n. */
static size_t segment_at(const kp_mpd_segments *sg, double t)
{
    for (size_t i = 0; i < sg->n; i++)
        if (t + 0.001 < sg->segs[i].start + sg->segs[i].duration)
            return i;
    return sg->n;
}

/* ---- tracks ---- */

static long long variant_bandwidth(const dash *d, const kp_mpd_representation *v)
{
    long long bw = v ? v->bandwidth : 0;
    if (d->has_audio)
        bw += rep_of(&d->audio)->bandwidth;
    return bw;
}

static json_t *video_track_json(const dash *d, size_t i)
{
    const kp_mpd_representation *r = &d->video.as->reps[i];
    char label[32];
    if (r->height > 0)
        snprintf(label, sizeof(label), "%dp", r->height);
    else
        snprintf(label, sizeof(label), "%lld", variant_bandwidth(d, r));
    return json_pack("{s:s, s:s, s:b, s:s, s:s, s:i, s:b, s:I, s:i, s:i}", "kind", "video", "id",
                     r->id, "active", i == d->video.rep, "label", label, "language", "", "index",
                     (int)i, "available", 1, "bandwidth", (json_int_t)variant_bandwidth(d, r),
                     "width", r->width, "height", r->height);
}

static json_t *tracks_json(const dash *d)
{
    json_t *tracks = json_array();
    if (d->has_video)
        for (size_t i = 0; i < d->video.as->n_reps; i++)
            json_array_append_new(tracks, video_track_json(d, i));
    int audio_index = 0, text_index = 0;
    for (size_t a = 0; a < d->period->n_sets; a++) {
        const kp_mpd_adaptation *as = &d->period->sets[a];
        const char *lang = as->lang && *as->lang ? as->lang : "und";
        if (as->type == KP_MPD_AUDIO) {
            json_array_append_new(
                tracks, json_pack("{s:s, s:s?, s:b, s:n, s:s, s:i, s:b}", "kind", "audio", "id",
                                  as->id, "active", d->has_audio && as == d->audio.as, "label",
                                  "language", lang, "index", audio_index++, "available", 1));
        } else if (as->type == KP_MPD_TEXT) {
            json_array_append_new(tracks,
                                  json_pack("{s:s, s:s?, s:b, s:s, s:s, s:i, s:b}", "kind", "text",
                                            "id", as->id, "active", 0, "label", lang, "language",
                                            lang, "index", text_index++, "available", 1));
        }
    }
    return tracks;
}

/* ---- ABR (shaka SimpleAbrManager.chooseVariant) ---- */

static bool allowed(const dash *d, const kp_mpd_representation *r)
{
    long long bw = variant_bandwidth(d, r);
    return bw >= d->min_bitrate && bw <= d->max_bitrate && r->width >= d->min_width &&
           r->width <= d->max_width && r->height >= d->min_height && r->height <= d->max_height;
}

static size_t choose_video(const dash *d)
{
    const kp_mpd_adaptation *as = d->video.as;
    size_t order[256] = {0};
    size_t n = 0;
    for (size_t i = 0; i < as->n_reps && n < 256; i++)
        if (allowed(d, &as->reps[i]))
            order[n++] = i;
    if (n == 0) /* restrictions cannot be met: shaka keeps every variant */
        for (size_t i = 0; i < as->n_reps && n < 256; i++)
            order[n++] = i;
    /* sort by bandwidth, manifest order for ties */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && as->reps[order[j]].bandwidth < as->reps[order[j - 1]].bandwidth;
             j--) {
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    double est = bw_estimate(d);
    size_t chosen = order[0];
    for (size_t i = 0; i < n; i++) {
        double item = (double)variant_bandwidth(d, &as->reps[order[i]]);
        double min_bw = item / DOWNGRADE_TARGET;
        double next = INFINITY;
        for (size_t j = i + 1; j < n; j++) {
            double b = (double)variant_bandwidth(d, &as->reps[order[j]]);
            if (b != item) {
                next = b;
                break;
            }
        }
        double max_bw = next / UPGRADE_TARGET;
        if (est >= min_bw && est <= max_bw)
            chosen = order[i];
    }
    return chosen;
}

/* ---- streaming ---- */

static void stream_next(stream *s);

static void maybe_end(dash *d)
{
    if (d->eos || (d->has_video && !d->video.ended) || (d->has_audio && !d->audio.ended))
        return;
    d->eos = true;
    kp_media_end_of_stream_exact(d->host.media);
}

static void hold_append(dash *d, int kind, kp_time start, kp_time end)
{
    if (d->n_pending == d->cap_pending) {
        size_t cap = d->cap_pending ? d->cap_pending * 2 : 8;
        struct pending_append *n = realloc(d->pending, cap * sizeof(*n));
        if (!n)
            return;
        d->pending = n;
        d->cap_pending = cap;
    }
    d->pending[d->n_pending++] = (struct pending_append){kind, start, end};
}

static void on_key_ready(void *ud);
static void segment_done(stream *s, size_t index);

/* An encrypted segment goes through the EME first; without a license yet it waits (true:
 * deferred, the stream stops fetching until on_key_ready). */
static bool append(stream *s, size_t index, const uint8_t *data, size_t len, const char *url)
{
    dash *d = s->d;
    kp_buf both;
    kp_buf_init(&both);
    if (kp_buf_append(&both, s->init.data, s->init.len) != KP_OK ||
        kp_buf_append(&both, data, len) != KP_OK) {
        kp_buf_free(&both);
        fail(d, KP_PCAT_MEDIA, KP_PCODE_MEDIA_SOURCE_OPERATION_FAILED,
             json_pack("{s:s, s:s}", "url", url, "reason", "out of memory"));
        return false;
    }
    if (s->encrypted) {
        int drc = kp_eme_decrypt(d->host.eme, &s->cinit, (uint8_t *)both.data + s->init.len, len,
                                 on_key_ready, s);
        if (drc == KP_EBUSY) {
            kp_buf_free(&both);
            char *u = kp_strdup(url);
            s->locked.len = 0;
            if (!u || kp_buf_append(&s->locked, data, len) != KP_OK) {
                free(u);
                fail(d, KP_PCAT_MEDIA, KP_PCODE_MEDIA_SOURCE_OPERATION_FAILED,
                     json_pack("{s:s, s:s}", "url", url, "reason", "out of memory"));
                return false;
            }
            free(s->locked_url);
            s->locked_url = u;
            s->locked_index = index;
            s->waiting_key = true;
            return true;
        }
        if (drc != KP_OK) {
            kp_buf_free(&both);
            stop(d); /* the EME reported the error */
            return false;
        }
    }
    kp_demux_info info;
    char err[256];
    int rc = kp_demux_segment((const uint8_t *)both.data, both.len, "mp4", &info, err, sizeof(err));
    kp_buf_free(&both);
    const kp_demux_track *tr = rc == KP_OK ? kp_demux_track_of(&info, s->kind) : NULL;
    if (rc == KP_OK && !tr)
        snprintf(err, sizeof(err), "the segment holds no %s track",
                 s->kind == KP_TRACK_VIDEO ? "video" : "audio");
    if (!tr) {
        KP_LOG_W(d->host.log, "dash", "segment %s: %s", url, err);
        fail(d, KP_PCAT_MEDIA, KP_PCODE_VIDEO_ERROR,
             json_pack("{s:s, s:s}", "url", url, "reason", err));
        return false;
    }
    const kp_mpd_representation *r = rep_of(s);
    kp_time offset =
        KP_SEC(d->period->start) - (kp_time)((double)r->seg.pto * 1e6 / (double)r->seg.timescale);
    kp_time win_start = KP_SEC(d->period->start);
    kp_time win_end =
        d->period->duration >= 0 ? KP_SEC(d->period->start + d->period->duration) : INT64_MAX;
    kp_time start = tr->start_us + offset, end = tr->end_us + offset;
    if (start < win_start)
        start = win_start;
    if (end > win_end)
        end = win_end;
    if (end > start) {
        if (d->metadata)
            kp_media_append(d->host.media, s->kind, start, end);
        else
            hold_append(d, s->kind, start, end);
        spans_add(s, start, end);
    }
    kp_media_appended(d->host.media);
    return false;
}

static void abr_after_segment(dash *d)
{
    if (!d->abr_enabled || !d->has_video || d->video.as->n_reps < 2)
        return;
    kp_time now = kp_sched_now(d->host.sched);
    if (!d->startup_complete) {
        if (d->bytes_sampled < EWMA_MIN_TOTAL_BYTES)
            return;
        d->startup_complete = true;
    } else if (now - d->last_choice < SWITCH_INTERVAL) {
        return;
    }
    d->last_choice = now;
    size_t next = choose_video(d);
    stream *v = &d->video;
    if (next == v->rep)
        return;
    KP_LOG_D(d->host.log, "dash", "ABR: %s -> %s (estimate %.0f bit/s)", rep_of(v)->id,
             v->as->reps[next].id, bw_estimate(d));
    /* the next segments come from the new representation, after its init segment */
    if (v->req_seg) {
        kp_fetcher_cancel(d->fetch, v->req_seg);
        v->req_seg = 0;
    }
    if (v->req_init) {
        kp_fetcher_cancel(d->fetch, v->req_init);
        v->req_init = 0;
    }
    v->holding = false;
    v->rep = next;
    kp_mpd_segments_free(&v->segs);
    v->have_segs = false;
    v->init_ok = false;
    v->ended = false;
    d->host.emit(d->host.ud, KP_EV_VIDEO_TRACK_CHANGED,
                 json_pack("{s:o}", "selectedVideoTrack", video_track_json(d, v->rep)));
}

/* MSE reaches HAVE_METADATA (durationchange, loadedmetadata) once every SourceBuffer has its
 * first initialization segment: audio's alone is not enough. */
static void check_metadata(dash *d)
{
    if (d->metadata || (d->has_video && !d->video.init_ok) || (d->has_audio && !d->audio.init_ok))
        return;
    d->metadata = true;
    if (d->has_audio)
        kp_media_append(d->host.media, KP_TRACK_AUDIO, 0, 0);
    if (d->has_video)
        kp_media_append(d->host.media, KP_TRACK_VIDEO, 0, 0);
    for (size_t i = 0; i < d->n_pending; i++)
        kp_media_append(d->host.media, d->pending[i].kind, d->pending[i].start, d->pending[i].end);
    d->n_pending = 0;
    kp_media_appended(d->host.media);
}

/* Starts the license exchange for the content's key systems (in order) and init data. */
static bool start_eme(dash *d, const kp_drm_system *offered, size_t n, const kp_buf *boxes,
                      const uint8_t *default_kid)
{
    int rc = kp_eme_encrypted(d->host.eme, offered, n, "cenc", (const uint8_t *)boxes->data,
                              boxes->len, default_kid);
    if (rc < 0)
        stop(d); /* the EME reported the error */
    return rc >= 0;
}

/* The MPD's ContentProtection: the systems it names and its pssh boxes. Without a pssh the
 * exchange waits for the init segments' (as shaka waits for the 'encrypted' event). */
static bool manifest_protection(dash *d)
{
    kp_drm_system offered[KP_DRM_SYSTEM_COUNT];
    size_t n = 0;
    const uint8_t *kid = NULL;
    kp_buf boxes;
    kp_buf_init(&boxes);
    const stream *streams[2] = {&d->video, &d->audio};
    for (int k = 0; k < 2; k++) {
        const kp_mpd_adaptation *as = streams[k]->as;
        for (size_t i = 0; as && i < as->n_protections; i++) {
            const kp_mpd_protection *p = &as->protections[i];
            if (p->has_default_kid && !kid)
                kid = p->default_kid;
            int sys = p->has_system_id ? kp_drm_system_from_id(p->system_id) : -1;
            bool dup = sys < 0;
            for (size_t j = 0; !dup && j < n; j++)
                dup = offered[j] == (kp_drm_system)sys;
            if (!dup && n < KP_DRM_SYSTEM_COUNT)
                offered[n++] = (kp_drm_system)sys;
            if (p->pssh && k == 0 && kp_buf_append(&boxes, p->pssh, p->pssh_len) != KP_OK) {
                kp_buf_free(&boxes);
                fail(d, KP_PCAT_MEDIA, KP_PCODE_MEDIA_SOURCE_OPERATION_FAILED, json_object());
                return false;
            }
        }
    }
    bool ok;
    if (boxes.len) {
        ok = start_eme(d, offered, n, &boxes, kid);
    } else {
        ok = kp_eme_choose(d->host.eme, offered, n) == KP_OK;
        if (!ok)
            stop(d); /* the EME reported the error */
    }
    kp_buf_free(&boxes);
    return ok;
}

/* The init segment's protection, read when the source has an EME: its pssh boxes start the
 * exchange if the MPD had none. An encrypted track without drmData fails with 6010. */
static bool init_protection(stream *s, const char *url)
{
    dash *d = s->d;
    s->encrypted = false;
    char err[256];
    kp_cenc_init *ci = &s->cinit;
    if (kp_cenc_parse_init((const uint8_t *)s->init.data, s->init.len, ci, err, sizeof(err)) !=
        KP_OK) {
        if (!d->host.eme)
            return true; /* clear playback: the demuxer judges the segment */
        fail(d, KP_PCAT_MEDIA, KP_PCODE_MEDIA_SOURCE_OPERATION_FAILED,
             json_pack("{s:s, s:s}", "url", url, "reason", err));
        return false;
    }
    const kp_cenc_track *t = NULL;
    for (size_t i = 0; i < ci->n_tracks && !t; i++)
        if (ci->tracks[i].encrypted && ci->tracks[i].is_protected)
            t = &ci->tracks[i];
    if (!t)
        return true;
    s->encrypted = true;
    if (!d->host.eme) {
        fail(d, KP_PCAT_DRM, KP_PCODE_ENCRYPTED_CONTENT_WITHOUT_DRM_INFO,
             json_pack("{s:s, s:s}", "url", url, "reason",
                       "the init segment is encrypted and the source has no drmData"));
        return false;
    }
    kp_drm_system offered[KP_CENC_MAX_PSSH];
    size_t n = 0;
    kp_buf boxes;
    kp_buf_init(&boxes);
    int rc = KP_OK;
    for (size_t i = 0; i < ci->n_pssh && rc == KP_OK; i++) {
        int sys = kp_drm_system_from_id(ci->pssh[i].system_id);
        if (sys >= 0)
            offered[n++] = (kp_drm_system)sys;
        rc = kp_buf_append(&boxes, s->init.data + ci->pssh[i].offset, ci->pssh[i].size);
    }
    bool ok = rc == KP_OK && start_eme(d, offered, n, &boxes, t->default_kid);
    kp_buf_free(&boxes);
    if (rc != KP_OK)
        fail(d, KP_PCAT_MEDIA, KP_PCODE_MEDIA_SOURCE_OPERATION_FAILED, json_object());
    return ok;
}

static void on_init(void *ud, const kp_http_response *r)
{
    stream *s = ud;
    dash *d = s->d;
    s->req_init = 0;
    if (!http_ok(r)) {
        fail_http(d, r, 1);
        return;
    }
    kp_engine_frag_loaded(&d->host, r);
    bw_sample(d, r);
    s->init.len = 0;
    if (kp_buf_append(&s->init, r->body.data, r->body.len) != KP_OK) {
        fail(d, KP_PCAT_MEDIA, KP_PCODE_MEDIA_SOURCE_OPERATION_FAILED, json_object());
        return;
    }
    if (!init_protection(s, r->url))
        return;
    s->init_ok = true;
    check_metadata(d);
    if (s->holding) {
        s->holding = false;
        kp_buf held = s->held;
        kp_buf_init(&s->held);
        bool deferred = append(s, s->held_index, (const uint8_t *)held.data, held.len, r->url);
        kp_buf_free(&held);
        if (d->failed || deferred)
            return;
        s->next = s->held_index + 1;
    }
    stream_next(s);
}

static void on_segment(void *ud, const kp_http_response *r)
{
    stream *s = ud;
    dash *d = s->d;
    s->req_seg = 0;
    if (!http_ok(r)) {
        fail_http(d, r, 1);
        return;
    }
    kp_engine_frag_loaded(&d->host, r);
    bw_sample(d, r);
    size_t index = s->fetching;
    if (!s->init_ok) {
        s->held.len = 0;
        kp_buf_append(&s->held, r->body.data, r->body.len);
        s->holding = true;
        s->held_index = index;
        return;
    }
    bool deferred = append(s, index, (const uint8_t *)r->body.data, r->body.len, r->url);
    if (d->failed || deferred)
        return;
    segment_done(s, index);
}

/* After segment `index` of s is appended: ABR, then the next fetches. */
static void segment_done(stream *s, size_t index)
{
    dash *d = s->d;
    s->next = index + 1;
    if (s->kind == KP_TRACK_VIDEO)
        abr_after_segment(d);
    stream_next(s);
    /* the other stream may wait on the buffering goal */
    stream_next(s->kind == KP_TRACK_VIDEO ? &d->audio : &d->video);
}

/* The license arrived: the segment that waited for it is appended, and loading goes on. */
static void on_key_ready(void *ud)
{
    stream *s = ud;
    dash *d = s->d;
    if (!s->waiting_key || d->failed)
        return;
    s->waiting_key = false;
    kp_buf seg = s->locked;
    kp_buf_init(&s->locked);
    char *url = s->locked_url;
    s->locked_url = NULL;
    size_t index = s->locked_index;
    bool deferred = append(s, index, (const uint8_t *)seg.data, seg.len, url ? url : "");
    kp_buf_free(&seg);
    free(url);
    if (d->failed || deferred)
        return;
    segment_done(s, index);
}

static void on_index(void *ud, const kp_http_response *r)
{
    stream *s = ud;
    dash *d = s->d;
    s->req_index = 0;
    if (!http_ok(r)) {
        fail_http(d, r, 1);
        return;
    }
    kp_engine_frag_loaded(&d->host, r);
    kp_mpd_error e = {0};
    if (kp_mpd_sidx_parse((const uint8_t *)r->body.data, r->body.len, d->period, rep_of(s),
                          &s->segs, &e) != KP_OK) {
        KP_LOG_W(d->host.log, "dash", "%s: %s", r->url, e.msg);
        fail(d, KP_PCAT_MEDIA, e.pcode, json_pack("{s:s, s:s}", "url", r->url, "reason", e.msg));
        return;
    }
    s->have_segs = true;
    stream_next(s);
}

static uint64_t fetch(dash *d, const kp_mpd_segment *sg, kp_http_fn cb, stream *s)
{
    char range[64];
    const char *headers[2] = {NULL, NULL};
    if (sg->range_start >= 0) {
        snprintf(range, sizeof(range), "Range: bytes=%lld-%lld", sg->range_start, sg->range_end);
        headers[0] = range;
    }
    kp_http_request req = {.method = "GET", .url = sg->url, .headers = headers};
    uint64_t id = kp_fetcher_fetch(d->fetch, &req, &d->pol_segment, cb, s);
    if (!id)
        fail(d, KP_PCAT_NETWORK, KP_PCODE_HTTP_ERROR,
             json_pack("{s:s, s:s}", "url", sg->url, "text", "the request could not be made"));
    return id;
}

static void stream_next(stream *s)
{
    dash *d = s->d;
    if (d->failed || !s->as || !d->loaded)
        return;
    if (!s->have_segs) {
        if (s->req_index)
            return;
        kp_mpd_error e = {0};
        if (kp_mpd_segments_of(d->period, rep_of(s), &s->segs, &e) != KP_OK) {
            fail(d, KP_PCAT_MANIFEST, e.pcode,
                 json_pack("{s:s, s:s}", "url", d->url, "reason", e.msg));
            return;
        }
        if (s->segs.index.url) {
            s->req_index = fetch(d, &s->segs.index, on_index, s);
            return;
        }
        s->have_segs = true;
        /* continue where the buffer ends (after a switch), else at the playhead */
        kp_time pos = kp_media_position(d->host.media);
        kp_time be = stream_buffered_end(s, pos);
        s->next = segment_at(&s->segs, (double)(be >= 0 ? be : pos) / 1e6);
    }
    if (!s->init_ok && !s->req_init && s->segs.init.url) {
        s->req_init = fetch(d, &s->segs.init, on_init, s);
        if (!s->req_init)
            return;
    } else if (!s->segs.init.url && !s->init_ok) {
        s->init_ok = true; /* self-initialising segments */
        check_metadata(d);
    }
    if (s->req_seg || s->holding || s->waiting_key)
        return;
    /* shaka: the next segment is the one at the end of the buffer ahead of the playhead (at
     * the playhead when it is not buffered: after a seek, next was set there) */
    kp_time pos = kp_media_position(d->host.media);
    kp_time be = stream_buffered_end(s, pos);
    if (be >= 0) {
        if (be - pos >= BUFFERING_GOAL)
            return;
        kp_time period_end = d->period->duration >= 0
                                 ? KP_SEC(d->period->start + d->period->duration) - KP_MS(1)
                                 : INT64_MAX;
        s->next = be >= period_end ? s->segs.n : segment_at(&s->segs, (double)be / 1e6);
    }
    if (s->next >= s->segs.n) {
        s->ended = true;
        maybe_end(d);
        return;
    }
    s->ended = false;
    s->fetching = s->next;
    s->req_seg = fetch(d, &s->segs.segs[s->next], on_segment, s);
}

/* ---- manifest ---- */

static json_t *protection_json(const kp_mpd_adaptation *as)
{
    json_t *list = json_array();
    for (size_t i = 0; i < as->n_protections; i++) {
        const kp_mpd_protection *p = &as->protections[i];
        json_array_append_new(
            list, json_pack("{s:s, s:s?}", "schemeIdUri", p->scheme_id_uri, "value", p->value));
    }
    return list;
}

static void on_manifest(void *ud, const kp_http_response *r)
{
    dash *d = ud;
    d->req = 0;
    if (!http_ok(r)) {
        fail_http(d, r, 0);
        return;
    }
    d->host.emit(d->host.ud, KP_EV_MANIFEST_LOADED,
                 json_pack("{s:f}", "miliSeconds", kp_engine_elapsed_ms(r)));
    kp_mpd_error e = {0};
    const char *base = r->effective_url ? r->effective_url : r->url;
    int rc = kp_mpd_parse(r->body.data, r->body.len, base, &d->mpd, &e);
    if (rc != KP_OK) {
        KP_LOG_W(d->host.log, "dash", "%s:%d: %s", r->url, e.line, e.msg);
        json_t *data = json_pack("{s:s, s:s}", "url", r->url, "reason", e.msg);
        if (e.line > 0)
            json_object_set_new(data, "line", json_integer(e.line));
        fail(d, KP_PCAT_MANIFEST, e.pcode, data);
        return;
    }
    d->period = &d->mpd->periods[0];
    const kp_mpd_adaptation *protected_as = NULL;
    for (size_t a = 0; a < d->period->n_sets; a++) {
        const kp_mpd_adaptation *as = &d->period->sets[a];
        if (as->type == KP_MPD_VIDEO && !d->has_video) {
            d->has_video = true;
            d->video.as = as;
        } else if (as->type == KP_MPD_AUDIO && !d->has_audio) {
            d->has_audio = true;
            d->audio.as = as;
        } else {
            continue;
        }
        if (as->n_protections && !protected_as)
            protected_as = as;
    }
    if (!d->has_video && !d->has_audio) {
        fail(d, KP_PCAT_MANIFEST, 4011,
             json_pack("{s:s, s:s}", "url", r->url, "reason",
                       "the first Period has no video or audio AdaptationSet"));
        return;
    }
    if (protected_as && !d->host.eme) {
        /* no drmData: shaka has no license server for any key system */
        json_t *data =
            json_pack("{s:s, s:s, s:o}", "url", r->url, "reason",
                      "the MPD is protected and the source has no license server (drmData)",
                      "contentProtection", protection_json(protected_as));
        fail(d, KP_PCAT_DRM, KP_PCODE_NO_LICENSE_SERVER_GIVEN, data);
        return;
    }
    if (protected_as && !manifest_protection(d))
        return;
    if (d->has_video) {
        d->video.rep = choose_video(d);
        d->last_choice = kp_sched_now(d->host.sched);
        d->host.emit(d->host.ud, KP_EV_VIDEO_TRACK_CHANGED,
                     json_pack("{s:o}", "selectedVideoTrack", video_track_json(d, d->video.rep)));
    }
    kp_media_set_duration(d->host.media, KP_SEC(d->mpd->duration));
    d->loaded = true;
    /* shaka's streams: audio, then video */
    stream_next(&d->audio);
    stream_next(&d->video);
    if (d->failed)
        return;
    d->host.loaded(d->host.ud, tracks_json(d));
}

/* ---- media element events ---- */

static void on_media_event(void *ud, kp_event_type type)
{
    dash *d = ud;
    if (d->failed || !d->loaded)
        return;
    if (type == KP_EV_SEEKING) {
        kp_time pos = kp_media_position(d->host.media);
        stream *ss[2] = {&d->audio, &d->video};
        for (int i = 0; i < 2; i++) {
            stream *s = ss[i];
            if (!s->as || !s->have_segs || stream_buffered_end(s, pos) >= 0)
                continue;
            /* shaka: a seek outside the buffer restarts the stream at the new position */
            if (s->req_seg) {
                kp_fetcher_cancel(d->fetch, s->req_seg);
                s->req_seg = 0;
            }
            s->holding = false;
            s->ended = false;
            d->eos = false;
            s->next = segment_at(&s->segs, (double)pos / 1e6);
        }
    }
    if (type == KP_EV_SEEKING || type == KP_EV_TIME_UPDATE || type == KP_EV_PLAYING ||
        type == KP_EV_SEEKED) {
        stream_next(&d->audio);
        stream_next(&d->video);
    }
}

/* ---- engine ops ---- */

/* playkit-js-dash canPlayType: application/dash+xml. Its canPlayDrm (which DRM schemes it
 * takes) is decided with the rest of source selection, in source_select.c. */
static bool dash_can_play(const json_t *source, const json_t *config)
{
    (void)config;
    return strcasecmp(kp_json_str(source, "mimetype", ""), "application/dash+xml") == 0;
}

static void stream_init(stream *s, dash *d, int kind)
{
    s->d = d;
    s->kind = kind;
    kp_buf_init(&s->init);
    kp_buf_init(&s->held);
    kp_buf_init(&s->locked);
}

static void *dash_create(const kp_engine_host *host, const json_t *source, const json_t *config)
{
    dash *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->host = *host;
    d->url = kp_strdup(kp_json_str(source, "url", ""));
    if (!d->url) {
        free(d);
        return NULL;
    }
    d->abr_enabled = kp_json_bool(config, "abr.enabled", true);
    d->default_estimate = kp_json_num(config, "abr.defaultBandwidthEstimate", DEFAULT_ESTIMATE);
    d->min_bitrate = (long long)kp_json_num(config, "abr.restrictions.minBitrate", 0);
    d->max_bitrate = (long long)kp_json_num(config, "abr.restrictions.maxBitrate", 9e18);
    d->min_width = (int)kp_json_num(config, "abr.restrictions.minWidth", 0);
    d->max_width = (int)kp_json_num(config, "abr.restrictions.maxWidth", 1e9);
    d->min_height = (int)kp_json_num(config, "abr.restrictions.minHeight", 0);
    d->max_height = (int)kp_json_num(config, "abr.restrictions.maxHeight", 1e9);
    kp_ewma_init(&d->fast, EWMA_FAST_HALF_LIFE);
    kp_ewma_init(&d->slow, EWMA_SLOW_HALF_LIFE);
    stream_init(&d->video, d, KP_TRACK_VIDEO);
    stream_init(&d->audio, d, KP_TRACK_AUDIO);
    /* playkit-js-dash passes playback.options.html5.dash to shaka as its config */
    const json_t *sc = kp_json_path(config, "playback.options.html5.dash");
    kp_retry_shaka(&d->pol_manifest, kp_json_path(sc, "manifest.retryParameters"));
    kp_retry_shaka(&d->pol_segment, kp_json_path(sc, "streaming.retryParameters"));
    d->fetch = kp_fetcher_new(host->net, host->sched, host->log);
    if (!d->fetch) {
        free(d->url);
        free(d);
        return NULL;
    }
    return d;
}

static void dash_load(void *engine)
{
    dash *d = engine;
    d->host.emit(d->host.ud, KP_EV_ABR_MODE_CHANGED,
                 json_pack("{s:s}", "mode", d->abr_enabled ? "auto" : "manual"));
    kp_media_set_adapter(d->host.media, on_media_event, d);
    kp_media_reload(d->host.media);
    kp_http_request req = {.method = "GET", .url = d->url};
    d->req = kp_fetcher_fetch(d->fetch, &req, &d->pol_manifest, on_manifest, d);
    if (!d->req)
        fail(d, KP_PCAT_NETWORK, KP_PCODE_HTTP_ERROR,
             json_pack("{s:s, s:s}", "url", d->url, "text", "the request could not be made"));
}

static void stream_free(dash *d, stream *s)
{
    uint64_t reqs[3] = {s->req_init, s->req_seg, s->req_index};
    for (int i = 0; i < 3; i++)
        if (reqs[i])
            kp_fetcher_cancel(d->fetch, reqs[i]);
    kp_mpd_segments_free(&s->segs);
    kp_buf_free(&s->init);
    kp_buf_free(&s->held);
    kp_buf_free(&s->locked);
    free(s->locked_url);
    if (d->host.eme)
        kp_eme_forget(d->host.eme, s);
    free(s->spans);
}

static void dash_destroy(void *engine)
{
    dash *d = engine;
    if (!d)
        return;
    if (d->req)
        kp_fetcher_cancel(d->fetch, d->req);
    kp_media_set_adapter(d->host.media, NULL, NULL);
    stream_free(d, &d->video);
    stream_free(d, &d->audio);
    kp_mpd_free(d->mpd);
    free(d->pending);
    free(d->url);
    kp_fetcher_free(d->fetch);
    free(d);
}

const kp_mpd *kp_engine_dash_manifest(const void *engine)
{
    const dash *d = engine;
    return d ? d->mpd : NULL;
}

const kp_engine_ops kp_engine_dash = {
    .name = "dash",
    .format = "dash",
    .can_play = dash_can_play,
    .create = dash_create,
    .load = dash_load,
    .destroy = dash_destroy,
};
