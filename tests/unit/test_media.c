/* test_media.c: the mock back-end's media module (mbe/media.h): rendition names, spec
 * checks, HLS-TS segments demuxed and decoded back, determinism, the memory and disk
 * caches, damage detection and racing writers. Media are kept short and small (5 s of
 * 360p+180p from $KPSIM_CACHE_DIR, the rest 144p/180p in fresh mkdtemp directories).
 */
#include "kp/buf.h"
#include "kp/err.h"
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
    return (mbe_media_spec){duration, rs, n, segment_s};
}

static void assert_same_media(const mbe_media *a, const mbe_media *b)
{
    assert_string_equal(a->key, b->key);
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

typedef struct mem_src {
    const uint8_t *p;
    size_t n, pos;
} mem_src;

static int mem_read(void *opaque, uint8_t *buf, int size)
{
    mem_src *m = opaque;
    size_t left = m->n - m->pos;
    if (left == 0)
        return AVERROR_EOF;
    if ((size_t)size > left)
        size = (int)left;
    memcpy(buf, m->p + m->pos, (size_t)size);
    m->pos += (size_t)size;
    return size;
}

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
    mem_src src = {seg->data, seg->size, 0};
    unsigned char *iobuf = av_malloc(4096);
    assert_non_null(iobuf);
    AVIOContext *pb = avio_alloc_context(iobuf, 4096, 0, &src, mem_read, NULL, NULL);
    assert_non_null(pb);
    AVFormatContext *fc = avformat_alloc_context();
    assert_non_null(fc);
    fc->pb = pb;
    assert_int_equal(avformat_open_input(&fc, NULL, av_find_input_format("mpegts"), NULL), 0);
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
    avformat_close_input(&fc);
    av_freep(&pb->buffer);
    avio_context_free(&pb);
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
    const char *files[] = {"meta.json", "180p/seg_00000.ts", "180p/seg_00001.ts",
                           "144p/seg_00000.ts", "144p/seg_00001.ts"};
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

static void damage_and_reload(damage how)
{
    char dir[256];
    make_tmpdir(dir, sizeof(dir));
    mbe_rendition rs[2];
    const char *names[] = {"180p", "144p"};
    mbe_media_spec spec = make_spec(rs, names, 2, 3.0, 2);
    mbe_media_cache *c1 = mbe_media_cache_new(dir, NULL);
    const mbe_media *good = NULL, *again = NULL;
    assert_int_equal(mbe_media_get(c1, &spec, &good), KP_OK);

    char *seg = entry_path(dir, good, "144p/seg_00001.ts");
    char *meta = entry_path(dir, good, "meta.json");
    size_t full = good->hls[1].segments[1].size;
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
    assert_int_equal(mbe_media_get(c2, &spec, &again), KP_OK);
    mbe_media_stats st;
    mbe_media_cache_stats(c2, &st);
    assert_int_equal(st.disk_rejected, 1);
    assert_int_equal(st.loaded_from_disk, 0);
    assert_int_equal(st.encoded, 1);
    assert_same_media(good, again); /* regenerated, never served damaged */
    struct stat sb;
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
    damage_and_reload(TRUNCATE);
}

static void test_flipped_byte_regenerated(void **state)
{
    damage_and_reload(FLIP_BYTE);
}

static void test_missing_meta_regenerated(void **state)
{
    damage_and_reload(DROP_META);
}

static void test_corrupt_meta_regenerated(void **state)
{
    damage_and_reload(BAD_META);
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
        cmocka_unit_test(test_bad_specs),
        cmocka_unit_test(test_unusable_cache_dir),
        cmocka_unit_test(test_deterministic_fresh_caches),
        cmocka_unit_test(test_memory_then_disk_hit),
        cmocka_unit_test(test_truncated_segment_regenerated),
        cmocka_unit_test(test_flipped_byte_regenerated),
        cmocka_unit_test(test_missing_meta_regenerated),
        cmocka_unit_test(test_corrupt_meta_regenerated),
        cmocka_unit_test(test_racing_writers_same_dir),
    };
    const struct CMUnitTest shared_media[] = {
        cmocka_unit_test(test_short_spec_layout),
        cmocka_unit_test(test_segments_demux_and_decode),
    };
    int failed = cmocka_run_group_tests_name("media", unit, NULL, NULL);
    failed += cmocka_run_group_tests_name("media_5s_360p_180p", shared_media, shared_setup,
                                          shared_teardown);
    return failed;
}
