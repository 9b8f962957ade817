/* test_media.c: the mock back-end's media module (mbe/media.h): rendition names, spec
 * checks, HLS-TS segments demuxed and decoded back, DASH init + segments and progressive MP4
 * demuxed and decoded back (box layout, timestamps, frame counters), the MPD read with
 * libxml2, thumbnails decoded, determinism, the memory and disk caches, loading a subset of
 * the packagings, damage detection and racing writers. Media are kept short and small (5 s
 * of 360p+180p from $KPSIM_CACHE_DIR, the rest 144p/180p in fresh mkdtemp directories).
 */
#include "demux.h"
#include "kp/buf.h"
#include "kp/err.h"
#include "kp/ffmpeg.h"
#include "kp/log.h"
#include "mbe/media.h"
#include "media_priv.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ftw.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <setjmp.h>

#include <cmocka.h>

/* ---- helpers --------------------------------------------------------------------------- */

static void make_tmpdir(char *out, size_t cap)
{
    const char *base = getenv("TMPDIR");
    snprintf(out, cap, "%s/kpsim-test-media-XXXXXX", base && *base ? base : "/tmp");
    assert_non_null(mkdtemp(out));
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)remove(path);
    return 0;
}

static void rm_tree(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Fills rs from names and returns a spec over them. */
static mbe_media_spec make_spec(mbe_rendition *rs, const char *const *names, size_t n,
                                double duration, int segment_s)
{
    for (size_t i = 0; i < n; i++)
        assert_int_equal(mbe_rendition_parse(names[i], &rs[i]), KP_OK);
    return (mbe_media_spec){duration, rs, n, segment_s, 0};
}

static void assert_same_dash(const mbe_dash_stream *x, const mbe_dash_stream *y)
{
    assert_string_equal(x->r.name, y->r.name);
    assert_string_equal(x->codecs, y->codecs);
    assert_int_equal(x->timescale, y->timescale);
    assert_int_equal(x->bandwidth, y->bandwidth);
    assert_int_equal(x->init_size, y->init_size);
    assert_memory_equal(x->init, y->init, x->init_size);
    assert_int_equal(x->n_segments, y->n_segments);
    for (size_t k = 0; k < x->n_segments; k++) {
        assert_int_equal(x->segments[k].t, y->segments[k].t);
        assert_int_equal(x->segments[k].d, y->segments[k].d);
        assert_int_equal(x->segments[k].size, y->segments[k].size);
        assert_memory_equal(x->segments[k].data, y->segments[k].data, x->segments[k].size);
    }
}

/* Every packaging, byte for byte. */
static void assert_same_media(const mbe_media *a, const mbe_media *b)
{
    assert_string_equal(a->key, b->key);
    assert_int_equal(a->packagings, MBE_PACKAGE_ALL);
    assert_int_equal(b->packagings, MBE_PACKAGE_ALL);
    assert_int_equal(a->segment_s, b->segment_s);
    assert_int_equal(a->n_dash_video, b->n_dash_video);
    for (size_t i = 0; i < a->n_dash_video; i++)
        assert_same_dash(&a->dash_video[i], &b->dash_video[i]);
    assert_same_dash(a->dash_audio, b->dash_audio);
    assert_int_equal(a->n_mp4, b->n_mp4);
    for (size_t i = 0; i < a->n_mp4; i++) {
        assert_string_equal(a->mp4[i].r.name, b->mp4[i].r.name);
        assert_int_equal(a->mp4[i].bitrate, b->mp4[i].bitrate);
        assert_int_equal(a->mp4[i].size, b->mp4[i].size);
        assert_memory_equal(a->mp4[i].data, b->mp4[i].data, a->mp4[i].size);
    }
    assert_int_equal(a->n_hls, b->n_hls);
    for (size_t i = 0; i < a->n_hls; i++) {
        const mbe_hls_rendition *x = &a->hls[i], *y = &b->hls[i];
        assert_string_equal(x->r.name, y->r.name);
        assert_string_equal(x->codecs, y->codecs);
        assert_int_equal(x->bandwidth, y->bandwidth);
        assert_int_equal(x->average_bandwidth, y->average_bandwidth);
        assert_int_equal(x->target_duration, y->target_duration);
        assert_int_equal(x->n_segments, y->n_segments);
        for (size_t k = 0; k < x->n_segments; k++) {
            assert_int_equal(x->segments[k].size, y->segments[k].size);
            assert_memory_equal(x->segments[k].data, y->segments[k].data, x->segments[k].size);
            assert_true(x->segments[k].duration_s == y->segments[k].duration_s);
        }
    }
}

static char *entry_path(const char *dir, const mbe_media *m, const char *rest)
{
    char *p = kp_asprintf("%s/%s/%s", dir, m->key, rest);
    assert_non_null(p);
    return p;
}

static void assert_files_equal(const char *a, const char *b)
{
    kp_buf x, y;
    kp_buf_init(&x);
    kp_buf_init(&y);
    assert_int_equal(kp_read_file(a, &x), KP_OK);
    assert_int_equal(kp_read_file(b, &y), KP_OK);
    assert_int_equal(x.len, y.len);
    assert_memory_equal(x.data, y.data, x.len);
    kp_buf_free(&x);
    kp_buf_free(&y);
}

/* How many names in dir start with prefix (all names when prefix is NULL). */
static size_t count_dir(const char *dir, const char *prefix)
{
    char *cmd = kp_asprintf("ls -A '%s'", dir);
    FILE *p = popen(cmd, "r");
    free(cmd);
    assert_non_null(p);
    char line[512];
    size_t n = 0;
    while (fgets(line, sizeof(line), p))
        if (!prefix || strncmp(line, prefix, strlen(prefix)) == 0)
            n++;
    pclose(p);
    return n;
}

/* ---- demuxing and decoding a segment from memory -------------------------------------- */

typedef struct seg_info {
    int video_pkts, audio_pkts, decoded;
    int first_is_video, first_video_key, first_video_idr;
    int64_t v_first, v_last, a_first, a_last; /* 90 kHz */
    int64_t first_counter;
    int counters_in_order; /* every decoded frame shows first_counter + its index */
} seg_info;

static bool has_idr(const uint8_t *d, int n)
{
    for (int i = 0; i + 3 < n; i++)
        if (d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1 && (d[i + 3] & 0x1f) == 5)
            return true;
    return false;
}

static void on_frame(seg_info *si, const AVFrame *f)
{
    int64_t c = mbe__read_frame_counter(f->data[0], f->linesize[0], f->width, f->height);
    if (si->decoded == 0)
        si->first_counter = c;
    else if (c != si->first_counter + si->decoded)
        si->counters_in_order = 0;
    si->decoded++;
}

/* Demuxes one MPEG-TS segment through a custom AVIOContext and decodes its video on a
 * fresh decoder (a segment must stand alone). */
static void probe_segment(const mbe_segment *seg, seg_info *si)
{
    memset(si, 0, sizeof(*si));
    si->counters_in_order = 1;
    si->first_is_video = -1;
    AVFormatContext *fc = NULL;
    assert_int_equal(kp_ffmpeg_open_memory(seg->data, seg->size, "mpegts", false, &fc, NULL, 0),
                     KP_OK);
    assert_true(avformat_find_stream_info(fc, NULL) >= 0);
    int vidx = av_find_best_stream(fc, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    int aidx = av_find_best_stream(fc, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    assert_true(vidx >= 0);
    assert_true(aidx >= 0);
    assert_int_equal(fc->streams[vidx]->codecpar->codec_id, AV_CODEC_ID_H264);
    assert_int_equal(fc->streams[aidx]->codecpar->codec_id, AV_CODEC_ID_AAC);

    const AVCodec *dec = avcodec_find_decoder(AV_CODEC_ID_H264);
    AVCodecContext *dc = avcodec_alloc_context3(dec);
    assert_non_null(dc);
    assert_int_equal(avcodec_parameters_to_context(dc, fc->streams[vidx]->codecpar), 0);
    dc->thread_count = 1;
    assert_int_equal(avcodec_open2(dc, dec, NULL), 0);
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    while (av_read_frame(fc, pkt) >= 0) {
        if (si->first_is_video < 0)
            si->first_is_video = pkt->stream_index == vidx;
        if (pkt->stream_index == vidx) {
            if (si->video_pkts == 0) {
                si->v_first = pkt->pts;
                si->first_video_key = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
                si->first_video_idr = has_idr(pkt->data, pkt->size);
            }
            si->v_last = pkt->pts;
            si->video_pkts++;
            assert_int_equal(avcodec_send_packet(dc, pkt), 0);
            while (avcodec_receive_frame(dc, frame) == 0)
                on_frame(si, frame);
        } else if (pkt->stream_index == aidx) {
            if (si->audio_pkts == 0)
                si->a_first = pkt->pts;
            si->a_last = pkt->pts;
            si->audio_pkts++;
        }
        av_packet_unref(pkt);
    }
    avcodec_send_packet(dc, NULL);
    while (avcodec_receive_frame(dc, frame) == 0)
        on_frame(si, frame);
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&dc);
    kp_ffmpeg_close_memory(&fc);
}

/* ---- MP4 boxes, fMP4 and MP4 demuxing ---------------------------------------------------- */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

typedef struct box_ref {
    char type[5];
    size_t offset, size; /* of the whole box, header included */
} box_ref;

/* The boxes one after another in d[0..n): how many, or -1 when they do not tile it. */
static int top_boxes(const uint8_t *d, size_t n, box_ref *out, int cap)
{
    size_t pos = 0;
    int k = 0;
    while (pos < n) {
        if (n - pos < 8 || k == cap)
            return -1;
        size_t size = be32(d + pos);
        if (size < 8 || size > n - pos)
            return -1;
        memcpy(out[k].type, d + pos + 4, 4);
        out[k].type[4] = '\0';
        out[k].offset = pos;
        out[k].size = size;
        k++;
        pos += size;
    }
    return k;
}

/* The payload of the box at `path` ("moof/traf/trun") inside d[0..n), NULL if absent. */
static const uint8_t *find_box(const uint8_t *d, size_t n, const char *path, size_t *len)
{
    box_ref b[64];
    int k = top_boxes(d, n, b, 64);
    size_t seg = strcspn(path, "/");
    for (int i = 0; i < k; i++) {
        if (strlen(b[i].type) != seg || strncmp(b[i].type, path, seg) != 0)
            continue;
        const uint8_t *payload = d + b[i].offset + 8;
        size_t plen = b[i].size - 8;
        if (!path[seg]) {
            *len = plen;
            return payload;
        }
        return find_box(payload, plen, path + seg + 1, len);
    }
    return NULL;
}

typedef struct stream_info {
    enum AVCodecID codec;
    int width, height;
    AVRational tb;
    int packets;
    int64_t first_dts, last_dts, end; /* end: last dts + its duration */
    bool continuous;                  /* every dts == previous dts + previous duration */
    bool end_known;
    int decoded;
    int64_t first_counter;
    bool counters_in_order;
} stream_info;

typedef struct demux_result {
    int n_streams;
    stream_info st[4];
    int64_t duration; /* AVFormatContext.duration, AV_TIME_BASE units */
} demux_result;

static void on_decoded(stream_info *si, const AVFrame *f)
{
    int64_t c = mbe__read_frame_counter(f->data[0], f->linesize[0], f->width, f->height);
    if (si->decoded == 0)
        si->first_counter = c;
    else if (c != si->first_counter + si->decoded)
        si->counters_in_order = false;
    si->decoded++;
}

/* Demuxes a whole buffer with the given demuxer (non-seekable input unless `seekable`: the
 * way MSE appends arrive; see reference drm-and-media.md §4.4 on the multi-fragment trap),
 * and decodes its video. */
static void demux_buffer(const uint8_t *d, size_t n, const char *format, bool seekable,
                         demux_result *res)
{
    memset(res, 0, sizeof(*res));
    AVFormatContext *fc = NULL;
    assert_int_equal(kp_ffmpeg_open_memory(d, n, format, seekable, &fc, NULL, 0), KP_OK);
    assert_true(avformat_find_stream_info(fc, NULL) >= 0);
    assert_true(fc->nb_streams <= 4);
    res->n_streams = (int)fc->nb_streams;
    res->duration = fc->duration;
    AVCodecContext *dec[4] = {NULL};
    for (unsigned i = 0; i < fc->nb_streams; i++) {
        const AVCodecParameters *par = fc->streams[i]->codecpar;
        stream_info *si = &res->st[i];
        si->codec = par->codec_id;
        si->width = par->width;
        si->height = par->height;
        si->tb = fc->streams[i]->time_base;
        si->continuous = true;
        si->counters_in_order = true;
        if (par->codec_type == AVMEDIA_TYPE_VIDEO) {
            const AVCodec *c = avcodec_find_decoder(par->codec_id);
            dec[i] = avcodec_alloc_context3(c);
            assert_non_null(dec[i]);
            assert_int_equal(avcodec_parameters_to_context(dec[i], par), 0);
            dec[i]->thread_count = 1;
            assert_int_equal(avcodec_open2(dec[i], c, NULL), 0);
        }
    }
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    while (av_read_frame(fc, pkt) >= 0) {
        stream_info *si = &res->st[pkt->stream_index];
        /* the mov demuxer leaves the first packet of a fragmented AAC track without a
         * duration (FFmpeg's own DASH output too): then only the order is checked */
        if (si->packets == 0)
            si->first_dts = pkt->dts;
        else if (si->end_known ? pkt->dts != si->end : pkt->dts <= si->end)
            si->continuous = false;
        si->end = pkt->dts + pkt->duration;
        si->end_known = pkt->duration > 0;
        si->last_dts = pkt->dts;
        si->packets++;
        AVCodecContext *dc = dec[pkt->stream_index];
        if (dc) {
            assert_int_equal(avcodec_send_packet(dc, pkt), 0);
            while (avcodec_receive_frame(dc, frame) == 0)
                on_decoded(si, frame);
        }
        av_packet_unref(pkt);
    }
    for (unsigned i = 0; i < fc->nb_streams; i++) {
        if (!dec[i])
            continue;
        avcodec_send_packet(dec[i], NULL);
        while (avcodec_receive_frame(dec[i], frame) == 0)
            on_decoded(&res->st[i], frame);
        avcodec_free_context(&dec[i]);
    }
    av_frame_free(&frame);
    av_packet_free(&pkt);
    kp_ffmpeg_close_memory(&fc);
}

/* init + segments [first, first + count) of a DASH stream, concatenated (caller frees). */
static uint8_t *dash_concat(const mbe_dash_stream *s, size_t first, size_t count, size_t *len)
{
    size_t n = s->init_size;
    for (size_t k = first; k < first + count; k++)
        n += s->segments[k].size;
    uint8_t *buf = malloc(n);
    assert_non_null(buf);
    memcpy(buf, s->init, s->init_size);
    size_t at = s->init_size;
    for (size_t k = first; k < first + count; k++) {
        memcpy(buf + at, s->segments[k].data, s->segments[k].size);
        at += s->segments[k].size;
    }
    *len = n;
    return buf;
}

/* ---- JPEG ---------------------------------------------------------------------------------- */

typedef struct jpeg_info {
    int width, height;
    enum AVPixelFormat fmt;
    int64_t counters[4]; /* frame counters read from slices [0..3] of slice_w pixels */
} jpeg_info;

static void decode_jpeg(const uint8_t *d, size_t n, int slice_w, const int *slices, int n_slices,
                        jpeg_info *out)
{
    memset(out, 0, sizeof(*out));
    assert_true(n > 4);
    assert_int_equal(d[0], 0xff); /* SOI */
    assert_int_equal(d[1], 0xd8);
    assert_int_equal(d[n - 2], 0xff); /* EOI */
    assert_int_equal(d[n - 1], 0xd9);
    const AVCodec *c = avcodec_find_decoder(AV_CODEC_ID_MJPEG);
    AVCodecContext *dc = avcodec_alloc_context3(c);
    assert_non_null(dc);
    assert_int_equal(avcodec_open2(dc, c, NULL), 0);
    AVPacket *pkt = av_packet_alloc();
    AVFrame *f = av_frame_alloc();
    uint8_t *copy = av_mallocz(n + AV_INPUT_BUFFER_PADDING_SIZE);
    memcpy(copy, d, n);
    assert_int_equal(av_packet_from_data(pkt, copy, (int)n), 0);
    assert_int_equal(avcodec_send_packet(dc, pkt), 0);
    assert_int_equal(avcodec_receive_frame(dc, f), 0);
    out->width = f->width;
    out->height = f->height;
    out->fmt = f->format;
    for (int i = 0; i < n_slices && i < 4; i++)
        out->counters[i] = mbe__read_frame_counter(f->data[0] + (size_t)slices[i] * slice_w,
                                                   f->linesize[0], slice_w, f->height);
    av_frame_free(&f);
    av_packet_free(&pkt);
    avcodec_free_context(&dc);
}

/* ---- rendition names and the ladder ----------------------------------------------------- */

static void test_rendition_parse_good(void **state)
{
    static const struct {
        const char *name;
        int w, h, kbps;
    } cases[] = {
        {"144p", 256, 144, 150},   {"180p", 320, 180, 200},     {"240p", 426, 240, 300},
        {"300p", 534, 300, 450},   {"360p", 640, 360, 600},     {"480p", 854, 480, 1000},
        {"720p", 1280, 720, 2500}, {"1080p", 1920, 1080, 4500}, {"2160p", 3840, 2160, 16000},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mbe_rendition r;
        assert_int_equal(mbe_rendition_parse(cases[i].name, &r), KP_OK);
        assert_string_equal(r.name, cases[i].name);
        assert_int_equal(r.width, cases[i].w);
        assert_int_equal(r.height, cases[i].h);
        assert_int_equal(r.video_kbps, cases[i].kbps);
        assert_int_equal(r.width % 2, 0);
    }
}

static void test_rendition_parse_bad(void **state)
{
    static const char *const bad[] = {
        "",      "p",    "360",   "360P",  "0360p", "-360p", "+360p",  "361p", "142p",
        "2162p", "abcp", "36 0p", "360pp", " 360p", "360p ", "99999p", "3e2p", "0p",
    };
    mbe_rendition r;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(mbe_rendition_parse(bad[i], &r), KP_EINVAL);
    assert_int_equal(mbe_rendition_parse(NULL, &r), KP_EINVAL);
    assert_int_equal(mbe_rendition_parse("360p", NULL), KP_EINVAL);
}

static void test_ladder_monotonic(void **state)
{
    int prev = 0;
    for (int h = 144; h <= 2160; h += 2) {
        int k = mbe__ladder_kbps(h);
        assert_true(k >= prev);
        assert_int_equal(k % 10, 0);
        prev = k;
    }
}

static void test_frames_unique_and_readable(void **state)
{
    int w = 256, h = 144;
    uint8_t *buf[2][3];
    int ls[3] = {w, w / 2, w / 2};
    for (int f = 0; f < 2; f++) {
        buf[f][0] = calloc((size_t)w * h, 1);
        buf[f][1] = calloc((size_t)w * h / 4, 1);
        buf[f][2] = calloc((size_t)w * h / 4, 1);
        assert_non_null(buf[f][0]);
        mbe__draw_frame(buf[f], ls, w, h, 1000 + f);
        assert_int_equal(mbe__read_frame_counter(buf[f][0], w, w, h), 1000 + f);
    }
    assert_memory_not_equal(buf[0][0], buf[1][0], (size_t)w * h);
    for (int f = 0; f < 2; f++)
        for (int p = 0; p < 3; p++)
            free(buf[f][p]);
}

/* ---- bad specs --------------------------------------------------------------------------- */

static void expect_einval(mbe_media_cache *c, const mbe_media_spec *spec, FILE *sink, char **logbuf,
                          const char *needle)
{
    static const mbe_media sentinel;
    const mbe_media *m = &sentinel; /* must come back NULL */
    assert_int_equal(mbe_media_get(c, spec, &m), KP_EINVAL);
    assert_null(m);
    fflush(sink);
    assert_non_null(*logbuf);
    if (!strstr(*logbuf, needle))
        fail_msg("log \"%s\" does not mention \"%s\"", *logbuf, needle);
    rewind(sink);
    (*logbuf)[0] = '\0';
}

static void test_bad_specs(void **state)
{
    char dir[256];
    make_tmpdir(dir, sizeof(dir));
    char *logbuf = NULL;
    size_t loglen = 0;
    FILE *sink = open_memstream(&logbuf, &loglen);
    assert_non_null(sink);
    kp_log *log = kp_log_new(KP_LOG_WARN, sink);
    mbe_media_cache *c = mbe_media_cache_new(dir, log);
    assert_non_null(c);

    mbe_rendition rs[MBE__MAX_RENDITIONS + 1];
    const char *names[] = {"180p", "144p"};
    mbe_media_spec good = make_spec(rs, names, 2, 2.0, 2);
    mbe_media_spec s;

    s = good, s.duration_s = 0;
    expect_einval(c, &s, sink, &logbuf, "duration_s");
    s = good, s.duration_s = -3;
    expect_einval(c, &s, sink, &logbuf, "duration_s");
    s = good, s.duration_s = NAN;
    expect_einval(c, &s, sink, &logbuf, "duration_s");
    s = good, s.duration_s = INFINITY;
    expect_einval(c, &s, sink, &logbuf, "duration_s");
    s = good, s.duration_s = 4 * 3600 + 1;
    expect_einval(c, &s, sink, &logbuf, "absurd");
    s = good, s.duration_s = 0.01; /* rounds to no frame at all */
    expect_einval(c, &s, sink, &logbuf, "one frame");
    s = good, s.segment_s = 0;
    expect_einval(c, &s, sink, &logbuf, "segment_s");
    s = good, s.segment_s = -2;
    expect_einval(c, &s, sink, &logbuf, "segment_s");
    s = good, s.segment_s = 61;
    expect_einval(c, &s, sink, &logbuf, "segment_s");
    s = good, s.packagings = 8;
    expect_einval(c, &s, sink, &logbuf, "packagings");
    s = good, s.n_renditions = 0;
    expect_einval(c, &s, sink, &logbuf, "no renditions");
    s = good, s.renditions = NULL;
    expect_einval(c, &s, sink, &logbuf, "no renditions");
    for (size_t i = 0; i <= MBE__MAX_RENDITIONS; i++)
        assert_int_equal(mbe_rendition_parse("144p", &rs[i]), KP_OK);
    s = good, s.n_renditions = MBE__MAX_RENDITIONS + 1;
    expect_einval(c, &s, sink, &logbuf, "renditions");

    mbe_rendition bad[2];
    s = make_spec(bad, names, 2, 2.0, 2);
    snprintf(bad[1].name, sizeof(bad[1].name), "14p");
    expect_einval(c, &s, sink, &logbuf, "bad name");
    s = make_spec(bad, names, 2, 2.0, 2);
    memset(bad[0].name, 'x', sizeof(bad[0].name)); /* not NUL-terminated */
    expect_einval(c, &s, sink, &logbuf, "bad name");
    s = make_spec(bad, names, 2, 2.0, 2);
    bad[0].width = 100;
    expect_einval(c, &s, sink, &logbuf, "180p is 100x180");
    s = make_spec(bad, names, 2, 2.0, 2);
    bad[1].video_kbps = 0;
    expect_einval(c, &s, sink, &logbuf, "video_kbps");
    const char *dup[] = {"180p", "180p"};
    s = make_spec(bad, dup, 2, 2.0, 2);
    expect_einval(c, &s, sink, &logbuf, "twice");

    const mbe_media *m = NULL;
    assert_int_equal(mbe_media_get(c, NULL, &m), KP_EINVAL);
    assert_int_equal(mbe_media_get(c, &good, NULL), KP_EINVAL);
    assert_int_equal(mbe_media_get(NULL, &good, &m), KP_EINVAL);

    mbe_media_stats st;
    mbe_media_cache_stats(c, &st);
    assert_int_equal(st.encoded + st.loaded_from_disk + st.memory_hits, 0);
    assert_int_equal(count_dir(dir, NULL), 0); /* nothing written for a bad spec */

    mbe_media_cache_free(c);
    kp_log_free(log);
    fclose(sink);
    free(logbuf);
    rm_tree(dir);
}

static void test_unusable_cache_dir(void **state)
{
    char dir[256];
    make_tmpdir(dir, sizeof(dir));
    char *file = kp_asprintf("%s/file", dir);
    assert_int_equal(kp_write_file_atomic(file, "x", 1), KP_OK);
    char *sub = kp_asprintf("%s/sub", file); /* a directory below a regular file */
    mbe_media_cache *c = mbe_media_cache_new(sub, NULL);
    assert_non_null(c);
    mbe_rendition rs[1];
    const char *names[] = {"144p"};
    mbe_media_spec s = make_spec(rs, names, 1, 1.0, 1);
    const mbe_media *m = NULL;
    assert_int_equal(mbe_media_get(c, &s, &m), KP_EIO);
    assert_null(m);
    mbe_media_cache_free(c);
    free(sub);
    free(file);
    rm_tree(dir);
}

/* ---- the 5 s, [360p, 180p] media from $KPSIM_CACHE_DIR ----------------------------------- */

typedef struct shared {
    mbe_media_cache *c;
    const mbe_media *m;
    mbe_rendition rs[2];
} shared;

static int shared_setup(void **state)
{
    shared *sh = calloc(1, sizeof(*sh));
    if (!sh)
        return -1;
    const char *names[] = {"360p", "180p"};
    mbe_media_spec spec = make_spec(sh->rs, names, 2, 5.0, 2);
    kp_log *log = NULL; /* silent: the cache dir may or may not already hold it */
    sh->c = mbe_media_cache_new(NULL, log);
    if (!sh->c || mbe_media_get(sh->c, &spec, &sh->m) != KP_OK) {
        mbe_media_cache_free(sh->c);
        free(sh);
        return -1;
    }
    *state = sh;
    return 0;
}

static int shared_teardown(void **state)
{
    shared *sh = *state;
    if (sh)
        mbe_media_cache_free(sh->c);
    free(sh);
    return 0;
}

static void test_short_spec_layout(void **state)
{
    const shared *sh = *state;
    const mbe_media *m = sh->m;
    assert_int_equal(strlen(m->key), 32);
    assert_int_equal(strspn(m->key, "0123456789abcdef"), 32);
    assert_true(fabs(m->duration_s - 5.0) < 1e-9);
    assert_int_equal(m->n_hls, 2);
    assert_string_equal(m->hls[0].r.name, "360p");
    assert_string_equal(m->hls[1].r.name, "180p");
    const double extinf[3] = {2.0, 2.0, 1.0};
    for (size_t i = 0; i < m->n_hls; i++) {
        const mbe_hls_rendition *r = &m->hls[i];
        assert_int_equal(r->n_segments, 3);
        for (size_t k = 0; k < 3; k++) {
            assert_true(fabs(r->segments[k].duration_s - extinf[k]) < 1e-9);
            assert_true(r->segments[k].size > 0);
            assert_int_equal(r->segments[k].size % 188, 0); /* whole TS packets */
            assert_int_equal(r->segments[k].data[0], 0x47);
        }
        assert_int_equal(r->target_duration, 2);
        assert_true(r->average_bandwidth > 0);
        assert_true(r->bandwidth >= r->average_bandwidth);
        /* main profile, AAC-LC; the level depends on the size */
        assert_int_equal(strncmp(r->codecs, "avc1.4d", 7), 0);
        assert_int_equal(strlen(r->codecs), strlen("avc1.4d401e,mp4a.40.2"));
        assert_string_equal(r->codecs + 11, ",mp4a.40.2");
    }
    assert_string_equal(m->hls[0].codecs, "avc1.4d401e,mp4a.40.2"); /* 640x360: level 3.0 */
    /* the ladder shows in the sizes: 600k against 200k video, same audio */
    assert_true(m->hls[0].average_bandwidth > 2 * m->hls[1].average_bandwidth);
    assert_true(m->hls[0].average_bandwidth > 600000);
}

static void test_segments_demux_and_decode(void **state)
{
    const shared *sh = *state;
    const mbe_media *m = sh->m;
    const int frames[3] = {50, 50, 25};
    for (size_t i = 0; i < m->n_hls; i++) {
        const mbe_hls_rendition *r = &m->hls[i];
        seg_info prev;
        memset(&prev, 0, sizeof(prev));
        int64_t v0 = 0;
        for (size_t k = 0; k < r->n_segments; k++) {
            seg_info si;
            probe_segment(&r->segments[k], &si);
            assert_int_equal(si.video_pkts, frames[k]);
            assert_int_equal(si.decoded, frames[k]);
            assert_true(si.audio_pkts > 0);
            assert_int_equal(si.first_is_video, 1);
            assert_int_equal(si.first_video_key, 1);
            assert_int_equal(si.first_video_idr, 1);
            /* the picture shows the global frame number: right frames, in order */
            assert_int_equal(si.first_counter, (int64_t)k * 50);
            assert_int_equal(si.counters_in_order, 1);
            assert_int_equal(si.v_last - si.v_first, (frames[k] - 1) * 3600);
            if (k == 0) {
                assert_int_equal(si.v_first, si.a_first); /* A and V start together */
                v0 = si.v_first;
            } else {
                /* continuous with the previous segment: one video frame, one AAC frame */
                assert_int_equal(si.v_first - prev.v_last, 3600);
                assert_int_equal(si.a_first - prev.a_last, 1024 * 90000 / 48000);
                assert_true(si.v_first >= prev.v_first + 2 * 90000 - 1);
            }
            prev = si;
        }
        /* the audio lasts as long as the video (5 s), give or take one AAC frame */
        int64_t audio_end = prev.a_last + 1920, video_end = prev.v_last + 3600;
        assert_true(audio_end - v0 >= 5 * 90000);
        assert_true(audio_end - video_end <= 2 * 1920);
    }
}

/* The reference player's segment check (core demux.c, over kp_ffmpeg_open_memory) on the
 * real segments, and its precise errors on bad input. */
static void test_core_demux(void **state)
{
    const shared *sh = *state;
    const mbe_hls_rendition *r = &sh->m->hls[0];
    kp_demux_info info;
    char err[160];
    assert_int_equal(kp_demux_segment(r->segments[1].data, r->segments[1].size, "mpegts", &info,
                                      err, sizeof(err)),
                     KP_OK);
    const kp_demux_track *v = kp_demux_track_of(&info, KP_TRACK_VIDEO);
    assert_non_null(v);
    assert_int_equal(v->frames, 50);
    assert_true(v->starts_with_key);
    assert_int_equal(v->end_us - v->start_us, 2000000); /* 50 frames at 25 fps */
    assert_non_null(kp_demux_track_of(&info, KP_TRACK_AUDIO));
    /* bad input */
    assert_int_equal(kp_demux_segment(r->segments[0].data, r->segments[0].size, "nosuchformat",
                                      &info, err, sizeof(err)),
                     KP_EMEDIA);
    assert_string_equal(err, "unknown container format");
    assert_int_equal(kp_demux_segment(r->segments[0].data, 0, "mpegts", &info, err, sizeof(err)),
                     KP_EMEDIA);
    assert_string_equal(err, "empty input");
    static const uint8_t junk[1024] = {1, 2, 3};
    assert_int_equal(kp_demux_segment(junk, sizeof(junk), "mp4", &info, err, sizeof(err)),
                     KP_EMEDIA);
    assert_true(kp_str_starts(err, "cannot open the mp4 input: "));
    /* a seekable input reads the same segment */
    AVFormatContext *fc = NULL;
    assert_int_equal(kp_ffmpeg_open_memory(r->segments[1].data, r->segments[1].size, "mpegts", true,
                                           &fc, err, sizeof(err)),
                     KP_OK);
    assert_true(fc->nb_streams >= 2);
    kp_ffmpeg_close_memory(&fc);
    assert_null(fc);
    kp_ffmpeg_close_memory(&fc); /* closing nothing is fine */
}

/* ---- DASH of the 5 s media --------------------------------------------------------------- */

static void test_dash_layout(void **state)
{
    const shared *sh = *state;
    const mbe_media *m = sh->m;
    assert_int_equal(m->packagings, MBE_PACKAGE_ALL);
    assert_int_equal(m->segment_s, 2);
    assert_int_equal(m->n_dash_video, 2);
    assert_non_null(m->dash_audio);
    const int64_t vt[3] = {0, 25600, 51200}, vd[3] = {25600, 25600, 12800};
    for (size_t i = 0; i <= m->n_dash_video; i++) {
        const mbe_dash_stream *s = i < 2 ? &m->dash_video[i] : m->dash_audio;
        assert_int_equal(s->audio, i == 2);
        assert_string_equal(s->r.name, i == 0 ? "360p" : i == 1 ? "180p" : "audio");
        assert_int_equal(s->timescale, i < 2 ? 12800 : 48000);
        assert_int_equal(s->n_segments, 3);
        assert_true(s->bandwidth > 0);
        box_ref b[8];
        assert_int_equal(top_boxes(s->init, s->init_size, b, 8), 2);
        assert_string_equal(b[0].type, "ftyp");
        assert_string_equal(b[1].type, "moov");
        size_t len;
        assert_non_null(find_box(s->init, s->init_size, "moov/mvex/trex", &len));
        const uint8_t *stsd =
            find_box(s->init, s->init_size, "moov/trak/mdia/minf/stbl/stsd", &len);
        assert_non_null(stsd);
        assert_memory_equal(stsd + 12, i < 2 ? "avc1" : "mp4a", 4);
        int64_t t = 0;
        for (size_t k = 0; k < s->n_segments; k++) {
            const mbe_dash_segment *g = &s->segments[k];
            if (i < 2) {
                assert_int_equal(g->t, vt[k]);
                assert_int_equal(g->d, vd[k]);
            }
            assert_int_equal(g->t, t); /* no gaps */
            t += g->d;
            assert_int_equal(top_boxes(g->data, g->size, b, 8), 4);
            assert_string_equal(b[0].type, "styp");
            assert_string_equal(b[1].type, "sidx");
            assert_string_equal(b[2].type, "moof");
            assert_string_equal(b[3].type, "mdat");
            /* sidx: referenced_size covers moof + mdat; earliest time and duration */
            const uint8_t *sidx = g->data + b[1].offset + 8;
            assert_int_equal(sidx[0], 1); /* version */
            assert_int_equal(be32(sidx + 8), s->timescale);
            assert_int_equal(be32(sidx + 16), (uint32_t)g->t);
            assert_int_equal(be32(sidx + 32) & 0x7fffffff, b[2].size + b[3].size);
            assert_int_equal(be32(sidx + 36), (uint32_t)g->d);
            assert_int_equal(be32(sidx + 40) >> 28, 9); /* starts with SAP type 1 */
            /* trun.data_offset points at the first byte after the mdat header */
            const uint8_t *trun =
                find_box(g->data + b[2].offset, b[2].size, "moof/traf/trun", &len);
            assert_non_null(trun);
            assert_int_equal(be32(trun + 8), b[2].size + 8);
            const uint8_t *mfhd = find_box(g->data + b[2].offset, b[2].size, "moof/mfhd", &len);
            assert_int_equal(be32(mfhd + 4), k + 1);
        }
        /* every stream lasts the 5 s, audio give or take an AAC frame and its priming */
        if (i < 2)
            assert_int_equal(t, 5 * 12800);
        else
            assert_true(t >= 5 * 48000 && t <= 5 * 48000 + 3 * 1024);
    }
    assert_string_equal(m->dash_video[0].codecs, "avc1.4d401e");
    assert_int_equal(strncmp(m->dash_video[1].codecs, "avc1.4d40", 9), 0);
    assert_string_equal(m->dash_audio->codecs, "mp4a.40.2");
    assert_true(m->dash_video[0].bandwidth > 2 * m->dash_video[1].bandwidth);
    assert_true(m->dash_video[1].bandwidth > m->dash_audio->bandwidth);
}

/* The demuxed stream ends at `want`. The mov demuxer gives the last AAC frame of a fragmented
 * file the duration of a whole frame whatever trun says (FFmpeg's own DASH output too), so
 * for audio only the last frame's start is checked. */
static void assert_end(const stream_info *si, const mbe_dash_stream *s, int64_t want)
{
    if (!s->audio) {
        assert_int_equal(si->end, want);
    } else {
        assert_true(si->last_dts < want);
        assert_true(si->last_dts + 1024 >= want);
    }
}

static void test_dash_demux_and_decode(void **state)
{
    const shared *sh = *state;
    const mbe_media *m = sh->m;
    int audio_packets = 0;
    for (size_t i = 0; i <= m->n_dash_video; i++) {
        const mbe_dash_stream *s = i < 2 ? &m->dash_video[i] : m->dash_audio;
        /* the whole stream, as MSE would get it */
        size_t len;
        uint8_t *all = dash_concat(s, 0, s->n_segments, &len);
        demux_result r;
        demux_buffer(all, len, "mp4", false, &r);
        free(all);
        assert_int_equal(r.n_streams, 1);
        const stream_info *si = &r.st[0];
        assert_int_equal(si->tb.num, 1);
        assert_int_equal(si->tb.den, s->timescale);
        assert_int_equal(si->first_dts, 0);
        assert_true(si->continuous);
        assert_end(si, s, s->segments[2].t + s->segments[2].d);
        if (i < 2) {
            assert_int_equal(si->codec, AV_CODEC_ID_H264);
            assert_int_equal(si->width, s->r.width);
            assert_int_equal(si->height, s->r.height);
            assert_int_equal(si->packets, 125);
            assert_int_equal(si->decoded, 125);
            assert_int_equal(si->first_counter, 0);
            assert_true(si->counters_in_order);
        } else {
            assert_int_equal(si->codec, AV_CODEC_ID_AAC);
            int64_t end = s->segments[2].t + s->segments[2].d;
            assert_int_equal(si->packets, (int)((end + 1023) / 1024));
            audio_packets = si->packets;
        }
        /* each segment stands alone after the init segment, at its own time */
        const int frames[3] = {50, 50, 25};
        for (size_t k = 0; k < s->n_segments; k++) {
            uint8_t *one = dash_concat(s, k, 1, &len);
            demux_buffer(one, len, "mp4", false, &r);
            free(one);
            assert_int_equal(r.st[0].first_dts, s->segments[k].t);
            assert_end(&r.st[0], s, s->segments[k].t + s->segments[k].d);
            if (i < 2) {
                assert_int_equal(r.st[0].decoded, frames[k]);
                assert_int_equal(r.st[0].first_counter, (int64_t)k * 50);
                assert_true(r.st[0].counters_in_order);
            }
        }
    }
    assert_true(audio_packets > 5 * 48000 / 1024);
}

/* The values of the <S> elements of a SegmentTimeline, expanded. */
static size_t timeline(xmlNode *tl, int64_t *t, int64_t *d, size_t cap)
{
    size_t n = 0;
    int64_t now = 0;
    for (xmlNode *x = tl ? tl->children : NULL; x; x = x->next) {
        if (x->type != XML_ELEMENT_NODE || strcmp((const char *)x->name, "S") != 0)
            continue;
        xmlChar *a = xmlGetProp(x, BAD_CAST "t"), *b = xmlGetProp(x, BAD_CAST "d"),
                *r = xmlGetProp(x, BAD_CAST "r");
        if (a)
            now = atoll((const char *)a);
        int reps = r ? atoi((const char *)r) : 0;
        for (int k = 0; k <= reps && n < cap; k++) {
            t[n] = now;
            d[n] = atoll((const char *)b);
            now += d[n++];
        }
        xmlFree(a);
        xmlFree(b);
        xmlFree(r);
    }
    return n;
}

static xmlNode *child(xmlNode *n, const char *name, int index)
{
    for (xmlNode *x = n ? n->children : NULL; x; x = x->next)
        if (x->type == XML_ELEMENT_NODE && strcmp((const char *)x->name, name) == 0 && index-- == 0)
            return x;
    return NULL;
}

static void assert_prop(xmlNode *n, const char *name, const char *want)
{
    assert_non_null(n);
    xmlChar *v = xmlGetProp(n, BAD_CAST name);
    if (!v)
        fail_msg("<%s> has no %s", (const char *)n->name, name);
    if (strcmp((const char *)v, want) != 0)
        fail_msg("<%s %s=\"%s\">, want \"%s\"", (const char *)n->name, name, (const char *)v, want);
    xmlFree(v);
}

static void assert_timeline_matches(xmlNode *tmpl, const mbe_dash_stream *s)
{
    int64_t t[16], d[16];
    char ts[16];
    snprintf(ts, sizeof(ts), "%d", s->timescale);
    assert_prop(tmpl, "timescale", ts);
    assert_prop(tmpl, "initialization", "init-$RepresentationID$.m4s");
    assert_prop(tmpl, "media", "chunk-$RepresentationID$-$Number$.m4s");
    assert_prop(tmpl, "startNumber", "1");
    assert_int_equal(timeline(child(tmpl, "SegmentTimeline", 0), t, d, 16), s->n_segments);
    for (size_t k = 0; k < s->n_segments; k++) {
        assert_int_equal(t[k], s->segments[k].t);
        assert_int_equal(d[k], s->segments[k].d);
    }
}

static void test_dash_mpd(void **state)
{
    const shared *sh = *state;
    const mbe_media *m = sh->m;
    mbe_mpd_opts o = {.base_url = "http://cdn.example/a&b/"};
    char *mpd = NULL;
    assert_int_equal(mbe_dash_mpd(m, &o, &mpd), KP_OK);
    xmlDoc *doc = xmlReadMemory(mpd, (int)strlen(mpd), "a.mpd", NULL, XML_PARSE_NONET);
    assert_non_null(doc);
    xmlNode *root = xmlDocGetRootElement(doc);
    assert_string_equal((const char *)root->name, "MPD");
    assert_string_equal((const char *)root->ns->href, "urn:mpeg:dash:schema:mpd:2011");
    assert_prop(root, "type", "static");
    assert_prop(root, "profiles", "urn:mpeg:dash:profile:isoff-live:2011");
    assert_prop(root, "mediaPresentationDuration", "PT5.000S");
    assert_prop(root, "minBufferTime", "PT2.0S");
    xmlChar *base = xmlNodeGetContent(child(root, "BaseURL", 0));
    assert_string_equal((const char *)base, "http://cdn.example/a&b/");
    xmlFree(base);
    xmlNode *period = child(root, "Period", 0);
    assert_non_null(period);
    assert_null(child(period, "AdaptationSet", 2));
    xmlNode *va = child(period, "AdaptationSet", 0), *aa = child(period, "AdaptationSet", 1);
    assert_prop(va, "contentType", "video");
    assert_prop(va, "mimeType", "video/mp4");
    assert_prop(va, "maxWidth", "640");
    assert_prop(aa, "contentType", "audio");
    assert_prop(aa, "mimeType", "audio/mp4");
    assert_timeline_matches(child(va, "SegmentTemplate", 0), &m->dash_video[0]);
    assert_timeline_matches(child(aa, "SegmentTemplate", 0), m->dash_audio);
    assert_null(child(va, "Representation", 2));
    for (int i = 0; i < 2; i++) {
        xmlNode *rep = child(va, "Representation", i);
        const mbe_dash_stream *s = &m->dash_video[i];
        char num[32];
        assert_prop(rep, "id", s->r.name);
        assert_prop(rep, "codecs", s->codecs);
        snprintf(num, sizeof(num), "%ld", s->bandwidth);
        assert_prop(rep, "bandwidth", num);
        snprintf(num, sizeof(num), "%d", s->r.width);
        assert_prop(rep, "width", num);
        snprintf(num, sizeof(num), "%d", s->r.height);
        assert_prop(rep, "height", num);
        assert_prop(rep, "frameRate", "25");
    }
    xmlNode *ar = child(aa, "Representation", 0);
    assert_prop(ar, "id", "audio");
    assert_prop(ar, "codecs", "mp4a.40.2");
    assert_prop(ar, "audioSamplingRate", "48000");
    assert_prop(child(ar, "AudioChannelConfiguration", 0), "value", "2");
    xmlFreeDoc(doc);
    free(mpd);

    /* one flavor, ids of the caller's choosing, no BaseURL */
    const size_t one[] = {1};
    const char *ids[] = {"0_k2j3h4g5"};
    mbe_mpd_opts o2 = {.renditions = one, .video_ids = ids, .n = 1, .audio_id = "a-1"};
    assert_int_equal(mbe_dash_mpd(m, &o2, &mpd), KP_OK);
    doc = xmlReadMemory(mpd, (int)strlen(mpd), "a.mpd", NULL, XML_PARSE_NONET);
    assert_non_null(doc);
    root = xmlDocGetRootElement(doc);
    assert_null(child(root, "BaseURL", 0));
    va = child(child(root, "Period", 0), "AdaptationSet", 0);
    assert_prop(va, "maxWidth", "320");
    assert_prop(child(va, "Representation", 0), "id", "0_k2j3h4g5");
    assert_prop(child(va, "Representation", 0), "height", "180");
    assert_null(child(va, "Representation", 1));
    assert_prop(child(child(child(root, "Period", 0), "AdaptationSet", 1), "Representation", 0),
                "id", "a-1");
    xmlFreeDoc(doc);
    free(mpd);

    /* what cannot be put in a URL template, or is ambiguous */
    const char *bad_ids[][2] = {{"a/b", "x"}, {"x", "x"}, {"", "y"}, {"a b", "y"}, {"a", "b\""}};
    const size_t both[] = {0, 1};
    for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
        mbe_mpd_opts b = {.renditions = both, .video_ids = bad_ids[i], .n = 2};
        mpd = (char *)"untouched";
        assert_int_equal(mbe_dash_mpd(m, &b, &mpd), KP_EINVAL);
        assert_null(mpd);
    }
    const char *fine[] = {"v0", "audio"}; /* the default audio id */
    mbe_mpd_opts b = {.renditions = both, .video_ids = fine, .n = 2};
    assert_int_equal(mbe_dash_mpd(m, &b, &mpd), KP_EINVAL);
    const size_t twice[] = {1, 1}, out_of_range[] = {0, 2};
    const char *two[] = {"v0", "v1"};
    b = (mbe_mpd_opts){.renditions = twice, .video_ids = two, .n = 2};
    assert_int_equal(mbe_dash_mpd(m, &b, &mpd), KP_EINVAL);
    b = (mbe_mpd_opts){.renditions = out_of_range, .video_ids = two, .n = 2};
    assert_int_equal(mbe_dash_mpd(m, &b, &mpd), KP_EINVAL);
    b = (mbe_mpd_opts){.renditions = both, .n = 0};
    assert_int_equal(mbe_dash_mpd(m, &b, &mpd), KP_EINVAL);
    assert_int_equal(mbe_dash_mpd(NULL, &o, &mpd), KP_EINVAL);
    assert_int_equal(mbe_dash_mpd(m, NULL, &mpd), KP_EINVAL);
}

/* ---- progressive MP4 of the 5 s media ------------------------------------------------------ */

static void test_mp4_layout_and_decode(void **state)
{
    const shared *sh = *state;
    const mbe_media *m = sh->m;
    assert_int_equal(m->n_mp4, 2);
    for (size_t i = 0; i < m->n_mp4; i++) {
        const mbe_mp4_file *f = &m->mp4[i];
        assert_string_equal(f->r.name, i ? "180p" : "360p");
        /* faststart: moov before mdat, nothing else at the top */
        box_ref b[8];
        assert_int_equal(top_boxes(f->data, f->size, b, 8), 3);
        assert_string_equal(b[0].type, "ftyp");
        assert_string_equal(b[1].type, "moov");
        assert_string_equal(b[2].type, "mdat");
        assert_memory_equal(f->data + 8, "isom", 4);
        size_t len;
        assert_null(find_box(f->data, f->size, "moov/mvex", &len)); /* not fragmented */
        assert_true(f->bitrate > 0);
        assert_true(fabs((double)f->bitrate - (double)f->size * 8 / 5.0) < 2);

        /* a progressive download is read with seeks (HTTP ranges) */
        demux_result r;
        demux_buffer(f->data, f->size, "mp4", true, &r);
        assert_int_equal(r.n_streams, 2);
        const stream_info *v = &r.st[0], *a = &r.st[1];
        assert_int_equal(v->codec, AV_CODEC_ID_H264);
        assert_int_equal(v->width, f->r.width);
        assert_int_equal(v->height, f->r.height);
        assert_int_equal(v->packets, 125);
        assert_int_equal(v->decoded, 125);
        assert_int_equal(v->first_counter, 0);
        assert_true(v->counters_in_order);
        assert_true(v->continuous);
        assert_int_equal(v->first_dts, 0);
        assert_int_equal(av_rescale_q(v->end, v->tb, (AVRational){1, 1000}), 5000);
        assert_int_equal(a->codec, AV_CODEC_ID_AAC);
        assert_true(a->continuous);
        assert_int_equal(a->first_dts, 0);
        assert_int_equal(a->end, m->dash_audio->segments[2].t + m->dash_audio->segments[2].d);
        /* the file lasts as long as its longer track: the video, plus at most the audio's
         * priming and last frame */
        assert_true(r.duration >= 5 * AV_TIME_BASE);
        assert_true(r.duration <= 5 * AV_TIME_BASE + AV_TIME_BASE / 20);
    }
    assert_true(m->mp4[0].size > 2 * m->mp4[1].size);
}

/* ---- thumbnails ------------------------------------------------------------------------------ */

static void thumb(const mbe_thumb_spec *t, uint8_t **jpeg, size_t *len)
{
    assert_int_equal(mbe_thumbnail_jpeg(t, NULL, jpeg, len), KP_OK);
    assert_non_null(*jpeg);
}

static void test_thumbnails(void **state)
{
    uint8_t *j = NULL, *j2 = NULL;
    size_t n = 0, n2 = 0;
    jpeg_info ji;
    const int first[] = {0};
    /* the poster the player asks for: the frame at 1 s by default */
    mbe_thumb_spec t = {.duration_s = 5, .width = 640, .height = 360, .vid_sec = -1};
    thumb(&t, &j, &n);
    decode_jpeg(j, n, 640, first, 1, &ji);
    assert_int_equal(ji.width, 640);
    assert_int_equal(ji.height, 360);
    assert_int_equal(ji.fmt, AV_PIX_FMT_YUVJ420P);
    assert_int_equal(ji.counters[0], 25);
    thumb(&t, &j2, &n2); /* deterministic */
    assert_int_equal(n, n2);
    assert_memory_equal(j, j2, n);
    free(j);
    free(j2);
    t.vid_sec = 3;
    thumb(&t, &j, &n);
    decode_jpeg(j, n, 640, first, 1, &ji);
    assert_int_equal(ji.counters[0], 75);
    free(j);
    t.vid_sec = 100; /* past the end: the last frame */
    thumb(&t, &j, &n);
    decode_jpeg(j, n, 640, first, 1, &ji);
    assert_int_equal(ji.counters[0], 124);
    free(j);

    /* the seek-bar sprite: 100 slices of 164 x 92 spread over the 5 s */
    mbe_thumb_spec sp = {.duration_s = 5, .width = 164, .slices = 100, .vid_sec = -1};
    thumb(&sp, &j, &n);
    const int slices[] = {0, 1, 50, 99};
    decode_jpeg(j, n, 164, slices, 4, &ji);
    assert_int_equal(ji.width, 16400);
    assert_int_equal(ji.height, 92);
    assert_int_equal(ji.counters[0], 0);
    assert_int_equal(ji.counters[1], 1);  /* 0.05 s */
    assert_int_equal(ji.counters[2], 62); /* 2.5 s */
    assert_int_equal(ji.counters[3], 123);
    free(j);
    sp.start_s = 2, sp.end_s = 4; /* a clip's range */
    thumb(&sp, &j, &n);
    decode_jpeg(j, n, 164, slices, 4, &ji);
    assert_int_equal(ji.counters[0], 50);
    assert_int_equal(ji.counters[2], 75);
    free(j);

    /* sizes from one side at 16:9, defaults, odd sizes */
    const struct {
        int w, h, want_w, want_h;
    } sizes[] = {
        {0, 360, 640, 360}, {164, 0, 164, 92}, {0, 0, 640, 360}, {101, 57, 101, 57}, {1, 1, 2, 2}};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        mbe_thumb_spec s = {
            .duration_s = 5, .width = sizes[i].w, .height = sizes[i].h, .vid_sec = -1};
        thumb(&s, &j, &n);
        decode_jpeg(j, n, 1, first, 0, &ji);
        assert_int_equal(ji.width, sizes[i].want_w);
        assert_int_equal(ji.height, sizes[i].want_h);
        free(j);
    }
    mbe_thumb_spec odd = {.duration_s = 5, .width = 33, .height = 21, .slices = 3, .vid_sec = -1};
    thumb(&odd, &j, &n);
    decode_jpeg(j, n, 1, first, 0, &ji);
    assert_int_equal(ji.width, 99);
    assert_int_equal(ji.height, 21);
    free(j);

    /* out of bounds */
    const mbe_thumb_spec bad[] = {
        {.duration_s = 0, .width = 64},
        {.duration_s = NAN, .width = 64},
        {.duration_s = 5, .width = 4097},
        {.duration_s = 5, .height = 4097},
        {.duration_s = 5, .width = -1},
        {.duration_s = 5, .width = 64, .slices = 401},
        {.duration_s = 5, .width = 200, .slices = 400},                /* 80000 px wide */
        {.duration_s = 5, .width = 4096, .height = 4096, .slices = 2}, /* 33 Mpx */
        {.duration_s = 5, .width = 64, .vid_sec = NAN},
        {.duration_s = 5, .height = 4000}, /* 7111 px wide at 16:9 */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        j = (uint8_t *)"untouched";
        assert_int_equal(mbe_thumbnail_jpeg(&bad[i], NULL, &j, &n), KP_EINVAL);
        assert_null(j);
        assert_int_equal(n, 0);
    }
    assert_int_equal(mbe_thumbnail_jpeg(NULL, NULL, &j, &n), KP_EINVAL);
}

/* ---- determinism, hits, damage, races (fresh directories) ------------------------------- */

static void test_deterministic_fresh_caches(void **state)
{
    char d1[256], d2[256];
    make_tmpdir(d1, sizeof(d1));
    make_tmpdir(d2, sizeof(d2));
    mbe_rendition rs[2];
    const char *names[] = {"180p", "144p"};
    mbe_media_spec spec = make_spec(rs, names, 2, 3.0, 2);
    mbe_media_cache *c1 = mbe_media_cache_new(d1, NULL);
    mbe_media_cache *c2 = mbe_media_cache_new(d2, NULL);
    const mbe_media *a = NULL, *b = NULL;
    assert_int_equal(mbe_media_get(c1, &spec, &a), KP_OK);
    assert_int_equal(mbe_media_get(c2, &spec, &b), KP_OK);
    mbe_media_stats s1, s2;
    mbe_media_cache_stats(c1, &s1);
    mbe_media_cache_stats(c2, &s2);
    assert_int_equal(s1.encoded, 1);
    assert_int_equal(s2.encoded, 1);
    assert_ptr_not_equal(a, b);
    assert_same_media(a, b);
    /* and on disk, file for file */
    const char *files[] = {"meta.json",
                           "180p/seg_00000.ts",
                           "180p/seg_00001.ts",
                           "144p/seg_00000.ts",
                           "144p/seg_00001.ts",
                           "180p/a.mp4",
                           "144p/a.mp4",
                           "dash/init-180p.m4s",
                           "dash/init-144p.m4s",
                           "dash/init-audio.m4s",
                           "dash/chunk-180p-00001.m4s",
                           "dash/chunk-144p-00002.m4s",
                           "dash/chunk-audio-00002.m4s"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char *f1 = entry_path(d1, a, files[i]), *f2 = entry_path(d2, b, files[i]);
        assert_files_equal(f1, f2);
        free(f1);
        free(f2);
    }
    mbe_media_cache_free(c1);
    mbe_media_cache_free(c2);
    rm_tree(d1);
    rm_tree(d2);
}

static void test_memory_then_disk_hit(void **state)
{
    char dir[256];
    make_tmpdir(dir, sizeof(dir));
    mbe_rendition rs[1];
    const char *names[] = {"144p"};
    mbe_media_spec spec = make_spec(rs, names, 1, 2.0, 1);
    mbe_media_cache *c1 = mbe_media_cache_new(dir, NULL);
    const mbe_media *a = NULL, *a2 = NULL, *b = NULL;
    mbe_media_stats st;
    assert_int_equal(mbe_media_get(c1, &spec, &a), KP_OK);
    mbe_media_cache_stats(c1, &st);
    assert_int_equal(st.encoded, 1);
    assert_int_equal(st.loaded_from_disk, 0);
    assert_int_equal(st.memory_hits, 0);
    assert_int_equal(a->hls[0].n_segments, 2);

    assert_int_equal(mbe_media_get(c1, &spec, &a2), KP_OK);
    assert_ptr_equal(a, a2);
    mbe_media_cache_stats(c1, &st);
    assert_int_equal(st.encoded, 1);
    assert_int_equal(st.memory_hits, 1);

    mbe_media_cache *c2 = mbe_media_cache_new(dir, NULL);
    assert_int_equal(mbe_media_get(c2, &spec, &b), KP_OK);
    mbe_media_cache_stats(c2, &st);
    assert_int_equal(st.encoded, 0);
    assert_int_equal(st.loaded_from_disk, 1);
    assert_int_equal(st.disk_rejected, 0);
    assert_same_media(a, b);
    mbe_media_cache_free(c2);
    mbe_media_cache_free(c1);
    rm_tree(dir);
}

typedef enum damage { TRUNCATE, FLIP_BYTE, DROP_META, BAD_META } damage;

/* Damages one file of a fresh entry (`file`, of `full` bytes in the media), then checks that
 * a new cache rejects the entry, regenerates it the same and repairs the disk. */
static void damage_file_and_reload(damage how, const char *file, unsigned packagings)
{
    char dir[256];
    make_tmpdir(dir, sizeof(dir));
    mbe_rendition rs[2];
    const char *names[] = {"180p", "144p"};
    mbe_media_spec spec = make_spec(rs, names, 2, 3.0, 2);
    mbe_media_cache *c1 = mbe_media_cache_new(dir, NULL);
    const mbe_media *good = NULL, *again = NULL;
    assert_int_equal(mbe_media_get(c1, &spec, &good), KP_OK);

    char *seg = entry_path(dir, good, file);
    char *meta = entry_path(dir, good, "meta.json");
    struct stat sb;
    assert_int_equal(stat(seg, &sb), 0);
    size_t full = (size_t)sb.st_size;
    switch (how) {
    case TRUNCATE:
        assert_int_equal(truncate(seg, (off_t)full / 2), 0);
        break;
    case FLIP_BYTE: {
        FILE *f = fopen(seg, "r+b");
        assert_non_null(f);
        assert_int_equal(fseek(f, (long)full / 2, SEEK_SET), 0);
        int ch = fgetc(f);
        assert_int_equal(fseek(f, (long)full / 2, SEEK_SET), 0);
        fputc(ch ^ 0x5a, f);
        fclose(f);
        break;
    }
    case DROP_META:
        assert_int_equal(unlink(meta), 0);
        break;
    case BAD_META:
        assert_int_equal(kp_write_file_atomic(meta, "{\"format\": ", 11), KP_OK);
        break;
    }

    mbe_media_cache *c2 = mbe_media_cache_new(dir, NULL);
    mbe_media_spec some = spec;
    some.packagings = packagings;
    assert_int_equal(mbe_media_get(c2, &some, &again), KP_OK);
    mbe_media_stats st;
    mbe_media_cache_stats(c2, &st);
    assert_int_equal(st.disk_rejected, 1);
    assert_int_equal(st.loaded_from_disk, 0);
    assert_int_equal(st.encoded, 1);
    assert_same_media(good, again); /* regenerated, never served damaged */
    assert_int_equal(stat(seg, &sb), 0);
    assert_int_equal((size_t)sb.st_size, full); /* repaired on disk */
    assert_int_equal(count_dir(dir, ".trash-"), 0);
    assert_int_equal(count_dir(dir, ".tmp-"), 0);
    mbe_media_cache_free(c2);

    mbe_media_cache *c3 = mbe_media_cache_new(dir, NULL); /* the repaired entry loads */
    assert_int_equal(mbe_media_get(c3, &spec, &again), KP_OK);
    mbe_media_cache_stats(c3, &st);
    assert_int_equal(st.loaded_from_disk, 1);
    assert_int_equal(st.encoded, 0);
    mbe_media_cache_free(c3);

    mbe_media_cache_free(c1);
    free(seg);
    free(meta);
    rm_tree(dir);
}

static void test_truncated_segment_regenerated(void **state)
{
    damage_file_and_reload(TRUNCATE, "144p/seg_00001.ts", 0);
}

static void test_flipped_byte_regenerated(void **state)
{
    damage_file_and_reload(FLIP_BYTE, "144p/seg_00001.ts", 0);
}

static void test_missing_meta_regenerated(void **state)
{
    damage_file_and_reload(DROP_META, "144p/seg_00001.ts", 0);
}

static void test_corrupt_meta_regenerated(void **state)
{
    damage_file_and_reload(BAD_META, "144p/seg_00001.ts", 0);
}

static void test_damaged_dash_and_mp4_regenerated(void **state)
{
    damage_file_and_reload(FLIP_BYTE, "dash/chunk-144p-00002.m4s", MBE_PACKAGE_DASH);
    damage_file_and_reload(TRUNCATE, "dash/init-audio.m4s", MBE_PACKAGE_DASH);
    damage_file_and_reload(FLIP_BYTE, "180p/a.mp4", MBE_PACKAGE_MP4);
}

/* A subset of the packagings is read back alone (the rest is not even looked at), and a
 * later request for more loads again. */
static void test_load_some_packagings(void **state)
{
    char dir[256];
    make_tmpdir(dir, sizeof(dir));
    mbe_rendition rs[1];
    const char *names[] = {"144p"};
    mbe_media_spec spec = make_spec(rs, names, 1, 2.0, 2);
    mbe_media_cache *c1 = mbe_media_cache_new(dir, NULL);
    const mbe_media *all = NULL, *hls = NULL, *hls2 = NULL, *dash = NULL;
    spec.packagings = MBE_PACKAGE_HLS;
    assert_int_equal(mbe_media_get(c1, &spec, &all), KP_OK);
    assert_int_equal(all->packagings, MBE_PACKAGE_ALL); /* generation makes everything */
    /* a damaged MP4 goes unnoticed while only HLS is asked for */
    char *mp4 = entry_path(dir, all, "144p/a.mp4");
    assert_int_equal(truncate(mp4, 100), 0);

    mbe_media_cache *c2 = mbe_media_cache_new(dir, NULL);
    assert_int_equal(mbe_media_get(c2, &spec, &hls), KP_OK);
    assert_int_equal(hls->packagings, MBE_PACKAGE_HLS);
    assert_int_equal(hls->n_hls, 1);
    assert_null(hls->dash_video);
    assert_null(hls->dash_audio);
    assert_null(hls->mp4);
    assert_int_equal(hls->n_dash_video + hls->n_mp4, 0);
    assert_memory_equal(hls->hls[0].segments[0].data, all->hls[0].segments[0].data,
                        all->hls[0].segments[0].size);
    assert_int_equal(mbe_media_get(c2, &spec, &hls2), KP_OK);
    assert_ptr_equal(hls, hls2);
    spec.packagings = MBE_PACKAGE_DASH;
    assert_int_equal(mbe_media_get(c2, &spec, &dash), KP_OK);
    assert_ptr_not_equal(hls, dash);
    assert_int_equal(dash->packagings, MBE_PACKAGE_DASH);
    assert_same_dash(&all->dash_video[0], &dash->dash_video[0]);
    mbe_media_stats st;
    mbe_media_cache_stats(c2, &st);
    assert_int_equal(st.loaded_from_disk, 2);
    assert_int_equal(st.memory_hits, 1);
    assert_int_equal(st.disk_rejected, 0);
    /* asking for the MP4 finds the damage and regenerates */
    spec.packagings = MBE_PACKAGE_MP4 | MBE_PACKAGE_HLS;
    const mbe_media *again = NULL;
    assert_int_equal(mbe_media_get(c2, &spec, &again), KP_OK);
    mbe_media_cache_stats(c2, &st);
    assert_int_equal(st.disk_rejected, 1);
    assert_int_equal(st.encoded, 1);
    assert_int_equal(again->mp4[0].size, all->mp4[0].size);
    mbe_media_cache_free(c2);
    mbe_media_cache_free(c1);
    free(mp4);
    rm_tree(dir);
}

typedef struct racer {
    const char *dir;
    const mbe_media_spec *spec;
    mbe_media_cache *c;
    const mbe_media *m;
    int rc;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    r->c = mbe_media_cache_new(r->dir, NULL);
    r->rc = r->c ? mbe_media_get(r->c, r->spec, &r->m) : KP_ENOMEM;
    return NULL;
}

static void test_racing_writers_same_dir(void **state)
{
    char dir[256];
    make_tmpdir(dir, sizeof(dir));
    mbe_rendition rs[1];
    const char *names[] = {"144p"};
    mbe_media_spec spec = make_spec(rs, names, 1, 2.0, 2);
    racer r[2] = {{dir, &spec, NULL, NULL, -1}, {dir, &spec, NULL, NULL, -1}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(r[0].rc, KP_OK);
    assert_int_equal(r[1].rc, KP_OK);
    assert_same_media(r[0].m, r[1].m);
    /* exactly one published entry, no temporary left behind, and it loads */
    assert_int_equal(count_dir(dir, NULL), 1);
    mbe_media_cache *c = mbe_media_cache_new(dir, NULL);
    const mbe_media *m = NULL;
    assert_int_equal(mbe_media_get(c, &spec, &m), KP_OK);
    mbe_media_stats st;
    mbe_media_cache_stats(c, &st);
    assert_int_equal(st.loaded_from_disk, 1);
    assert_same_media(r[0].m, m);
    mbe_media_cache_free(c);
    for (int i = 0; i < 2; i++)
        mbe_media_cache_free(r[i].c);
    rm_tree(dir);
}

int main(void)
{
    const struct CMUnitTest unit[] = {
        cmocka_unit_test(test_rendition_parse_good),
        cmocka_unit_test(test_rendition_parse_bad),
        cmocka_unit_test(test_ladder_monotonic),
        cmocka_unit_test(test_frames_unique_and_readable),
        cmocka_unit_test(test_thumbnails),
        cmocka_unit_test(test_bad_specs),
        cmocka_unit_test(test_unusable_cache_dir),
        cmocka_unit_test(test_deterministic_fresh_caches),
        cmocka_unit_test(test_memory_then_disk_hit),
        cmocka_unit_test(test_truncated_segment_regenerated),
        cmocka_unit_test(test_flipped_byte_regenerated),
        cmocka_unit_test(test_missing_meta_regenerated),
        cmocka_unit_test(test_corrupt_meta_regenerated),
        cmocka_unit_test(test_damaged_dash_and_mp4_regenerated),
        cmocka_unit_test(test_load_some_packagings),
        cmocka_unit_test(test_racing_writers_same_dir),
    };
    const struct CMUnitTest shared_media[] = {
        cmocka_unit_test(test_short_spec_layout),
        cmocka_unit_test(test_segments_demux_and_decode),
        cmocka_unit_test(test_core_demux),
        cmocka_unit_test(test_dash_layout),
        cmocka_unit_test(test_dash_demux_and_decode),
        cmocka_unit_test(test_dash_mpd),
        cmocka_unit_test(test_mp4_layout_and_decode),
    };
    int failed = cmocka_run_group_tests_name("media", unit, NULL, NULL);
    failed += cmocka_run_group_tests_name("media_5s_360p_180p", shared_media, shared_setup,
                                          shared_teardown);
    return failed;
}
