/* media_encode.c: synthetic pictures and a tone, encoded with libavcodec (libx264, native
 * aac) into in-memory packet lists that every packager reads.
 *
 * Determinism: every encoder runs single-threaded (x264 output depends on its thread
 * count), with fixed settings and BITEXACT flags, so the bytes depend only on the plan and
 * the library builds (which are in the cache key). Renditions run in parallel on separate
 * encoders; which thread runs which job does not change any byte.
 */
#include "media_priv.h"

#include "kp/err.h"

#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <link.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MOD "media"

/* ---- drawing -------------------------------------------------------------------------- */

/* 75% colour bars, BT.601 limited range: white, yellow, cyan, green, magenta, red, blue,
 * black. */
static const uint8_t bar_yuv[8][3] = {
    {180, 128, 128}, {162, 44, 142}, {131, 156, 44}, {112, 72, 58},
    {84, 184, 198},  {65, 100, 212}, {35, 212, 114}, {16, 128, 128},
};

/* Seven-segment masks for 0..9, bit 0 = segment a (top) .. bit 6 = g (middle). */
static const uint8_t seg7[10] = {0x3F, 0x06, 0x5B, 0x4F, 0x66, 0x6D, 0x7D, 0x07, 0x7F, 0x6F};

typedef struct canvas {
    uint8_t *const *p;
    const int *ls;
    int w, h;
} canvas;

/* Fills [x0,x1) x [y0,y1) (clipped) with a grey level: chroma is neutral. */
static void fill_grey(const canvas *c, int x0, int y0, int x1, int y1, uint8_t y)
{
    x0 = x0 < 0 ? 0 : x0;
    y0 = y0 < 0 ? 0 : y0;
    x1 = x1 > c->w ? c->w : x1;
    y1 = y1 > c->h ? c->h : y1;
    if (x0 >= x1 || y0 >= y1)
        return;
    for (int r = y0; r < y1; r++)
        memset(c->p[0] + (size_t)r * c->ls[0] + x0, y, (size_t)(x1 - x0));
    int cx0 = x0 / 2, cx1 = (x1 + 1) / 2, cy0 = y0 / 2, cy1 = (y1 + 1) / 2;
    for (int r = cy0; r < cy1; r++) {
        memset(c->p[1] + (size_t)r * c->ls[1] + cx0, 128, (size_t)(cx1 - cx0));
        memset(c->p[2] + (size_t)r * c->ls[2] + cx0, 128, (size_t)(cx1 - cx0));
    }
}

static void draw_digit(const canvas *c, int x, int y, int dw, int dh, int t, int digit)
{
    uint8_t m = seg7[digit];
    int mid = y + dh / 2;
    if (m & 0x01)
        fill_grey(c, x, y, x + dw, y + t, 235);
    if (m & 0x02)
        fill_grey(c, x + dw - t, y, x + dw, mid + t / 2, 235);
    if (m & 0x04)
        fill_grey(c, x + dw - t, mid - t / 2, x + dw, y + dh, 235);
    if (m & 0x08)
        fill_grey(c, x, y + dh - t, x + dw, y + dh, 235);
    if (m & 0x10)
        fill_grey(c, x, mid - t / 2, x + t, y + dh, 235);
    if (m & 0x20)
        fill_grey(c, x, y, x + t, mid + t / 2, 235);
    if (m & 0x40)
        fill_grey(c, x, mid - t / 2, x + dw, mid + t / 2, 235);
}

/* 20 blocks (most significant bit first, white for 1) across the bottom edge. */
#define COUNTER_BITS 20

static void counter_geometry(int w, int h, int *bh, int *bw, int *bx0)
{
    *bh = (h / 18) & ~1;
    *bw = (w / COUNTER_BITS) & ~1;
    *bx0 = ((w - COUNTER_BITS * *bw) / 2) & ~1;
}

void mbe__draw_frame(uint8_t *const planes[3], const int linesize[3], int w, int h, int64_t index)
{
    canvas c = {planes, linesize, w, h};
    int bar_h = (h * 2 / 3) & ~1;
    int cw = w / 2;

    /* Upper two thirds: colour bars scrolling left by 1% of the width per frame. */
    int64_t off = index * w / 100 % w;
    uint8_t *y0 = planes[0];
    for (int x = 0; x < w; x++)
        y0[x] = bar_yuv[(x + off) % w * 8 / w][0];
    for (int r = 1; r < bar_h; r++)
        memcpy(planes[0] + (size_t)r * linesize[0], y0, (size_t)w);
    uint8_t *u0 = planes[1], *v0 = planes[2];
    for (int x = 0; x < cw; x++) {
        int bar = (int)((2 * x + off) % w * 8 / w);
        u0[x] = bar_yuv[bar][1];
        v0[x] = bar_yuv[bar][2];
    }
    for (int r = 1; r < bar_h / 2; r++) {
        memcpy(planes[1] + (size_t)r * linesize[1], u0, (size_t)cw);
        memcpy(planes[2] + (size_t)r * linesize[2], v0, (size_t)cw);
    }

    /* Lower third: a grey ramp sliding right, two levels per frame. */
    uint8_t *yr = planes[0] + (size_t)bar_h * linesize[0];
    for (int x = 0; x < w; x++)
        yr[x] = (uint8_t)(16 + (x * 220 / w + 220 - index * 2 % 220) % 220);
    for (int r = bar_h + 1; r < h; r++)
        memcpy(planes[0] + (size_t)r * linesize[0], yr, (size_t)w);
    for (int r = bar_h / 2; r < h / 2; r++) {
        memset(planes[1] + (size_t)r * linesize[1], 128, (size_t)cw);
        memset(planes[2] + (size_t)r * linesize[2], 128, (size_t)cw);
    }

    /* A white box bouncing across the bars, one round trip every 4 s. */
    int box = (h / 6) & ~1;
    int t = (int)(index % 100);
    int pos = t < 50 ? t : 100 - t;
    int bx = (pos * (w - box) / 50) & ~1;
    int by = ((bar_h - box) / 2) & ~1;
    fill_grey(&c, bx, by, bx + box, by + box, 235);

    /* The frame number as six seven-segment digits on a black panel, top left. */
    int margin = (h / 36) & ~1;
    int dh = (h / 8) & ~1;
    int dw = (dh / 2) & ~1;
    int th = (dh / 8) & ~1;
    th = th < 2 ? 2 : th;
    int gap = th;
    int ndig = 6;
    fill_grey(&c, margin, margin, margin + gap + ndig * (dw + gap), margin + dh + 2 * gap, 16);
    int64_t n = index % 1000000;
    for (int d = ndig - 1; d >= 0; d--) {
        draw_digit(&c, margin + gap + d * (dw + gap), margin + gap, dw, dh, th, (int)(n % 10));
        n /= 10;
    }

    /* The frame number in binary along the bottom edge: machine-readable. */
    int bh, bw, bx0;
    counter_geometry(w, h, &bh, &bw, &bx0);
    for (int b = 0; b < COUNTER_BITS; b++) {
        int bit = (int)((index >> (COUNTER_BITS - 1 - b)) & 1);
        fill_grey(&c, bx0 + b * bw, h - bh, bx0 + (b + 1) * bw, h, bit ? 235 : 16);
    }
}

int64_t mbe__read_frame_counter(const uint8_t *luma, int linesize, int w, int h)
{
    int bh, bw, bx0;
    counter_geometry(w, h, &bh, &bw, &bx0);
    int64_t v = 0;
    const uint8_t *row = luma + (size_t)(h - bh / 2 - 1) * linesize;
    for (int b = 0; b < COUNTER_BITS; b++)
        v = v << 1 | (row[bx0 + b * bw + bw / 2] >= 128);
    return v;
}

/* ---- packet lists ---------------------------------------------------------------------- */

static void track_free(mbe__track *t)
{
    avcodec_parameters_free(&t->par);
    free(t->pkts);
    kp_buf_free(&t->arena);
    memset(t, 0, sizeof(*t));
}

static int track_append(mbe__track *t, const AVPacket *pkt)
{
    if (t->n_pkts == t->cap_pkts) {
        size_t cap = t->cap_pkts ? t->cap_pkts * 2 : 256;
        mbe__packet *p = realloc(t->pkts, cap * sizeof(*p));
        if (!p)
            return KP_ENOMEM;
        t->pkts = p;
        t->cap_pkts = cap;
    }
    static const uint8_t pad[AV_INPUT_BUFFER_PADDING_SIZE];
    mbe__packet *p = &t->pkts[t->n_pkts];
    p->offset = t->arena.len;
    p->size = pkt->size;
    p->pts = pkt->pts;
    p->dts = pkt->dts;
    p->duration = pkt->duration;
    p->key = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
    int rc = kp_buf_append(&t->arena, pkt->data, (size_t)pkt->size);
    if (rc == KP_OK)
        rc = kp_buf_append(&t->arena, pad, sizeof(pad));
    if (rc < 0)
        return rc;
    t->n_pkts++;
    return KP_OK;
}

static int av_fail(kp_log *log, const char *what, const char *who, int averr)
{
    KP_LOG_E(log, MOD, "%s failed for %s: %s", what, who, av_err2str(averr));
    return KP_EMEDIA;
}

/* Moves every packet the encoder has ready into t. */
static int drain(AVCodecContext *ctx, AVPacket *pkt, mbe__track *t, kp_log *log, const char *who)
{
    for (;;) {
        int ret = avcodec_receive_packet(ctx, pkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return KP_OK;
        if (ret < 0)
            return av_fail(log, "avcodec_receive_packet", who, ret);
        int rc = track_append(t, pkt);
        av_packet_unref(pkt);
        if (rc < 0)
            return rc;
    }
}

/* Sends one frame (NULL: flush) and collects every packet it makes. */
static int encode(AVCodecContext *ctx, AVFrame *frame, AVPacket *pkt, mbe__track *t, kp_log *log,
                  const char *who)
{
    int ret = avcodec_send_frame(ctx, frame);
    if (ret < 0)
        return av_fail(log, frame ? "avcodec_send_frame" : "avcodec_send_frame(flush)", who, ret);
    return drain(ctx, pkt, t, log, who);
}

/* H.264 extradata (Annex B SPS + PPS) copied from the first access unit, where x264 puts
 * them when no global header is requested (they repeat at every IDR, as MPEG-TS needs). */
static int set_h264_extradata(mbe__track *t)
{
    if (t->n_pkts == 0)
        return KP_EMEDIA;
    const uint8_t *d = mbe__packet_data(t, &t->pkts[0]);
    size_t n = (size_t)t->pkts[0].size;
    kp_buf ex;
    kp_buf_init(&ex);
    int rc = KP_OK;
    size_t i = 0;
    while (i + 3 <= n && rc == KP_OK) {
        if (!(d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1)) {
            i++;
            continue;
        }
        size_t start = i + 3, end = start;
        while (end + 3 <= n && !(d[end] == 0 && d[end + 1] == 0 && d[end + 2] == 1))
            end++;
        if (end + 3 > n)
            end = n;
        size_t nal_end = end;
        while (nal_end > start && d[nal_end - 1] == 0) /* trailing zero / next 4-byte code */
            nal_end--;
        int type = start < n ? (d[start] & 0x1f) : 0;
        if (type == 7 || type == 8) {
            static const uint8_t sc[4] = {0, 0, 0, 1};
            rc = kp_buf_append(&ex, sc, 4);
            if (rc == KP_OK)
                rc = kp_buf_append(&ex, d + start, nal_end - start);
        }
        i = end;
    }
    if (rc == KP_OK && ex.len == 0)
        rc = KP_EMEDIA;
    if (rc == KP_OK) {
        t->par->extradata = av_mallocz(ex.len + AV_INPUT_BUFFER_PADDING_SIZE);
        if (!t->par->extradata) {
            rc = KP_ENOMEM;
        } else {
            memcpy(t->par->extradata, ex.data, ex.len);
            t->par->extradata_size = (int)ex.len;
        }
    }
    kp_buf_free(&ex);
    return rc;
}

static int encode_video(const mbe__plan *plan, size_t index, mbe__track *t, kp_log *log)
{
    const mbe_rendition *r = &plan->renditions[index];
    const char *who = r->name;
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    if (!codec) {
        KP_LOG_E(log, MOD, "libavcodec has no libx264 encoder");
        return KP_EMEDIA;
    }
    AVCodecContext *ctx = avcodec_alloc_context3(codec);
    AVFrame *frame = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    AVDictionary *opts = NULL;
    int rc = KP_OK, ret;
    if (!ctx || !frame || !pkt) {
        rc = KP_ENOMEM;
        goto out;
    }
    ctx->width = r->width;
    ctx->height = r->height;
    ctx->pix_fmt = AV_PIX_FMT_YUV420P;
    ctx->time_base = (AVRational){1, MBE__FPS};
    ctx->framerate = (AVRational){MBE__FPS, 1};
    ctx->sample_aspect_ratio = (AVRational){1, 1};
    ctx->gop_size = plan->gop_frames;
    ctx->keyint_min = plan->gop_frames;
    ctx->max_b_frames = 0;
    /* Constant bit rate with HRD filler: segment sizes follow the ladder whatever the
     * picture, so BANDWIDTH is close to the nominal rate and ABR tests see a real ladder
     * (flat synthetic pictures would otherwise need far fewer bits). */
    ctx->bit_rate = (int64_t)r->video_kbps * 1000;
    ctx->rc_max_rate = ctx->bit_rate;
    ctx->rc_buffer_size = (int)ctx->bit_rate;
    ctx->thread_count = 1;
    /* One level quieter: x264's and the encoder's info lines go to VERBOSE, warnings
     * and errors still reach FFmpeg's logger. Per context, no global state touched. */
    ctx->log_level_offset = AV_LOG_VERBOSE - AV_LOG_INFO;
    ctx->flags |= AV_CODEC_FLAG_BITEXACT | AV_CODEC_FLAG_CLOSED_GOP;
    ctx->color_range = AVCOL_RANGE_MPEG;
    ctx->colorspace = AVCOL_SPC_SMPTE170M;
    ctx->color_primaries = AVCOL_PRI_SMPTE170M;
    ctx->color_trc = AVCOL_TRC_SMPTE170M;
    av_dict_set(&opts, "preset", "superfast", 0);
    av_dict_set(&opts, "profile", "main", 0);
    av_dict_set(&opts, "forced-idr", "1", 0);
    av_dict_set(&opts, "nal-hrd", "cbr", 0);
    /* scenecut=0: no extra keyframes, so GOPs are exactly segment_s long */
    av_dict_set(&opts, "x264-params", "scenecut=0:open-gop=0", 0);
    ret = avcodec_open2(ctx, codec, &opts);
    if (ret < 0) {
        rc = av_fail(log, "avcodec_open2(libx264)", who, ret);
        goto out;
    }
    if (av_dict_count(opts) > 0) {
        KP_LOG_E(log, MOD, "libx264 ignored option %s", av_dict_get(opts, "", NULL, 0)->key);
        rc = KP_EMEDIA;
        goto out;
    }
    frame->format = AV_PIX_FMT_YUV420P;
    frame->width = r->width;
    frame->height = r->height;
    ret = av_frame_get_buffer(frame, 0);
    if (ret < 0) {
        rc = av_fail(log, "av_frame_get_buffer", who, ret);
        goto out;
    }
    for (int64_t i = 0; i < plan->n_frames && rc == KP_OK; i++) {
        ret = av_frame_make_writable(frame);
        if (ret < 0) {
            rc = av_fail(log, "av_frame_make_writable", who, ret);
            break;
        }
        mbe__draw_frame(frame->data, frame->linesize, r->width, r->height, i);
        frame->pts = i;
        frame->pict_type = i % plan->gop_frames == 0 ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
        rc = encode(ctx, frame, pkt, t, log, who);
    }
    if (rc == KP_OK)
        rc = encode(ctx, NULL, pkt, t, log, who);
    if (rc != KP_OK)
        goto out;

    /* The packagers rely on one packet per frame, in order, with keyframes exactly at
     * every GOP start. */
    if ((int64_t)t->n_pkts != plan->n_frames) {
        KP_LOG_E(log, MOD, "%s: libx264 returned %zu packets for %lld frames", who, t->n_pkts,
                 (long long)plan->n_frames);
        rc = KP_EMEDIA;
        goto out;
    }
    for (size_t i = 0; i < t->n_pkts; i++) {
        mbe__packet *p = &t->pkts[i];
        bool want_key = (int64_t)i % plan->gop_frames == 0;
        if (p->pts != (int64_t)i || p->dts != p->pts || (want_key && !p->key)) {
            KP_LOG_E(log, MOD, "%s: unexpected packet %zu (pts %lld, dts %lld, key %d)", who, i,
                     (long long)p->pts, (long long)p->dts, p->key);
            rc = KP_EMEDIA;
            goto out;
        }
        p->duration = 1;
    }
    t->time_base = ctx->time_base;
    t->par = avcodec_parameters_alloc();
    if (!t->par) {
        rc = KP_ENOMEM;
        goto out;
    }
    ret = avcodec_parameters_from_context(t->par, ctx);
    if (ret < 0) {
        rc = av_fail(log, "avcodec_parameters_from_context", who, ret);
        goto out;
    }
    rc = set_h264_extradata(t);
    if (rc == KP_EMEDIA)
        KP_LOG_E(log, MOD, "%s: no SPS/PPS in the first access unit", who);
out:
    av_dict_free(&opts);
    av_packet_free(&pkt);
    av_frame_free(&frame);
    avcodec_free_context(&ctx);
    return rc;
}

/* 440 Hz left, 660 Hz right, with a louder 1 kHz pip in the first 80 ms of every second
 * (an audible clock to check A/V sync against the frame counter). */
static void tone(float *l, float *rr, int64_t first, int n)
{
    for (int i = 0; i < n; i++) {
        int64_t s = first + i;
        double t = (double)s / MBE__AUDIO_RATE;
        bool pip = s % MBE__AUDIO_RATE < MBE__AUDIO_RATE * 8 / 100;
        double a = 0.2 * sin(2 * M_PI * 440.0 * t), b = 0.2 * sin(2 * M_PI * 660.0 * t);
        if (pip) {
            double p = 0.3 * sin(2 * M_PI * 1000.0 * t);
            a += p;
            b += p;
        }
        l[i] = (float)a;
        rr[i] = (float)b;
    }
}

static int encode_audio(const mbe__plan *plan, mbe__track *t, kp_log *log)
{
    const char *who = "audio";
    const AVCodec *codec = avcodec_find_encoder_by_name("aac");
    if (!codec) {
        KP_LOG_E(log, MOD, "libavcodec has no aac encoder");
        return KP_EMEDIA;
    }
    AVCodecContext *ctx = avcodec_alloc_context3(codec);
    AVFrame *frame = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    AVDictionary *opts = NULL;
    int rc = KP_OK, ret;
    if (!ctx || !frame || !pkt) {
        rc = KP_ENOMEM;
        goto out;
    }
    ctx->sample_rate = MBE__AUDIO_RATE;
    ctx->sample_fmt = AV_SAMPLE_FMT_FLTP;
    ret = av_channel_layout_copy(&ctx->ch_layout, &(AVChannelLayout)AV_CHANNEL_LAYOUT_STEREO);
    if (ret < 0) {
        rc = av_fail(log, "av_channel_layout_copy", who, ret);
        goto out;
    }
    ctx->bit_rate = MBE__AUDIO_BITRATE;
    ctx->profile = FF_PROFILE_AAC_LOW;
    ctx->time_base = (AVRational){1, MBE__AUDIO_RATE};
    ctx->thread_count = 1;
    ctx->flags |= AV_CODEC_FLAG_BITEXACT;
    ctx->log_level_offset = AV_LOG_VERBOSE - AV_LOG_INFO; /* its "Qavg" line at close */
    av_dict_set(&opts, "aac_coder", "fast", 0);
    ret = avcodec_open2(ctx, codec, &opts);
    if (ret < 0) {
        rc = av_fail(log, "avcodec_open2(aac)", who, ret);
        goto out;
    }
    frame->format = ctx->sample_fmt;
    frame->sample_rate = ctx->sample_rate;
    frame->nb_samples = ctx->frame_size;
    ret = av_channel_layout_copy(&frame->ch_layout, &ctx->ch_layout);
    if (ret >= 0)
        ret = av_frame_get_buffer(frame, 0);
    if (ret < 0) {
        rc = av_fail(log, "av_frame_get_buffer", who, ret);
        goto out;
    }
    /* as many samples as the video lasts */
    int64_t total = plan->n_frames * (MBE__AUDIO_RATE / MBE__FPS);
    for (int64_t s = 0; s < total && rc == KP_OK; s += ctx->frame_size) {
        ret = av_frame_make_writable(frame);
        if (ret < 0) {
            rc = av_fail(log, "av_frame_make_writable", who, ret);
            break;
        }
        int n = total - s < ctx->frame_size ? (int)(total - s) : ctx->frame_size;
        frame->nb_samples = n;
        tone((float *)frame->data[0], (float *)frame->data[1], s, n);
        frame->pts = s;
        rc = encode(ctx, frame, pkt, t, log, who);
    }
    if (rc == KP_OK)
        rc = encode(ctx, NULL, pkt, t, log, who);
    if (rc != KP_OK)
        goto out;
    if (t->n_pkts == 0) {
        KP_LOG_E(log, MOD, "aac returned no packets");
        rc = KP_EMEDIA;
        goto out;
    }
    /* The encoder's first packet carries its priming samples at pts -initial_padding:
     * start the track at 0 so that audio and video begin together. */
    int64_t shift = -t->pkts[0].pts;
    for (size_t i = 0; i < t->n_pkts; i++) {
        t->pkts[i].pts += shift;
        t->pkts[i].dts += shift;
        t->pkts[i].key = true;
    }
    t->time_base = ctx->time_base;
    t->par = avcodec_parameters_alloc();
    if (!t->par) {
        rc = KP_ENOMEM;
        goto out;
    }
    ret = avcodec_parameters_from_context(t->par, ctx);
    if (ret < 0)
        rc = av_fail(log, "avcodec_parameters_from_context", who, ret);
    else if (t->par->extradata_size < 2)
        rc = av_fail(log, "aac extradata", who, AVERROR_BUG);
out:
    av_dict_free(&opts);
    av_packet_free(&pkt);
    av_frame_free(&frame);
    avcodec_free_context(&ctx);
    return rc;
}

/* ---- parallel jobs --------------------------------------------------------------------- */

typedef struct job {
    int video;    /* 0: the audio track; 1: video rendition `index` */
    size_t index; /* into plan->renditions */
    double cost;
    int rc;
} job;

typedef struct pool {
    const mbe__plan *plan;
    mbe__content *content;
    kp_log *log;
    job jobs[MBE__MAX_RENDITIONS + 1];
    size_t n_jobs;
    atomic_size_t next;
    atomic_int failed;
} pool;

static void *worker(void *arg)
{
    pool *p = arg;
    for (;;) {
        size_t j = atomic_fetch_add(&p->next, 1);
        if (j >= p->n_jobs)
            break;
        job *jb = &p->jobs[j];
        if (atomic_load(&p->failed)) {
            jb->rc = KP_OK; /* skipped; the first failure is reported */
            continue;
        }
        jb->rc = jb->video ? encode_video(p->plan, jb->index, &p->content->video[jb->index], p->log)
                           : encode_audio(p->plan, &p->content->audio, p->log);
        if (jb->rc < 0)
            atomic_store(&p->failed, 1);
    }
    return NULL;
}

static int cmp_cost(const void *a, const void *b)
{
    const job *x = a, *y = b;
    if (x->cost != y->cost)
        return x->cost > y->cost ? -1 : 1;
    return x->video != y->video ? x->video - y->video : (x->index < y->index ? -1 : 1);
}

void mbe__content_free(mbe__content *c)
{
    if (!c)
        return;
    track_free(&c->audio);
    for (size_t i = 0; i < MBE__MAX_RENDITIONS; i++)
        track_free(&c->video[i]);
    free(c);
}

int mbe__content_encode(const mbe__plan *plan, kp_log *log, mbe__content **out)
{
    *out = NULL;
    mbe__content *c = calloc(1, sizeof(*c));
    pool *p = calloc(1, sizeof(*p));
    if (!c || !p) {
        free(c);
        free(p);
        return KP_ENOMEM;
    }
    c->plan = *plan;
    p->plan = &c->plan;
    p->content = c;
    p->log = log;
    atomic_init(&p->next, 0);
    atomic_init(&p->failed, 0);
    /* Largest jobs first so that the longest one starts at once; the audio encoder costs
     * about as much as a small rendition. */
    p->jobs[p->n_jobs++] = (job){0, 0, 320.0 * 180.0, 0};
    for (size_t i = 0; i < plan->n_renditions; i++) {
        const mbe_rendition *r = &plan->renditions[i];
        p->jobs[p->n_jobs++] = (job){1, i, (double)r->width * r->height, 0};
    }
    qsort(p->jobs, p->n_jobs, sizeof(p->jobs[0]), cmp_cost);

    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    size_t nthreads = ncpu < 1 ? 1 : (size_t)ncpu;
    if (nthreads > p->n_jobs)
        nthreads = p->n_jobs;
    pthread_t tids[MBE__MAX_RENDITIONS + 1];
    size_t started = 0;
    for (size_t i = 1; i < nthreads; i++) {
        if (pthread_create(&tids[started], NULL, worker, p) != 0)
            break; /* fewer helpers: slower, same bytes */
        started++;
    }
    worker(p);
    for (size_t i = 0; i < started; i++)
        pthread_join(tids[i], NULL);

    int rc = KP_OK;
    for (size_t i = 0; i < p->n_jobs && rc == KP_OK; i++)
        rc = p->jobs[i].rc;
    free(p);
    if (rc < 0) {
        mbe__content_free(c);
        return rc;
    }
    *out = c;
    return KP_OK;
}

/* ---- versions and codec strings -------------------------------------------------------- */

static int find_x264(struct dl_phdr_info *info, size_t size, void *data)
{
    const char *name = info->dlpi_name ? strrchr(info->dlpi_name, '/') : NULL;
    name = name ? name + 1 : info->dlpi_name;
    if (name && strncmp(name, "libx264.so.", 11) == 0) {
        snprintf(data, 32, "%s", name + 11);
        return 1;
    }
    return 0;
}

int mbe__lib_versions(kp_buf *out)
{
    char x264[32] = "unknown";
    dl_iterate_phdr(find_x264, x264);
    /* build-time/run-time version of each library, then FFmpeg's release string */
    const unsigned v[6] = {LIBAVCODEC_VERSION_INT, avcodec_version(),     LIBAVFORMAT_VERSION_INT,
                           avformat_version(),     LIBAVUTIL_VERSION_INT, avutil_version()};
    const char *names[3] = {"lavc", "lavf", "lavu"};
    int rc = KP_OK;
    for (int i = 0; i < 3 && rc == KP_OK; i++)
        rc = kp_buf_printf(out, "%s=%u.%u.%u/%u.%u.%u ", names[i], AV_VERSION_MAJOR(v[2 * i]),
                           AV_VERSION_MINOR(v[2 * i]), AV_VERSION_MICRO(v[2 * i]),
                           AV_VERSION_MAJOR(v[2 * i + 1]), AV_VERSION_MINOR(v[2 * i + 1]),
                           AV_VERSION_MICRO(v[2 * i + 1]));
    if (rc == KP_OK)
        rc = kp_buf_printf(out, "ffmpeg=%s x264=%s", av_version_info(), x264);
    return rc;
}

int mbe__codec_string(const mbe__track *t, char *out, size_t cap)
{
    const AVCodecParameters *par = t->par;
    if (!par || !par->extradata)
        return KP_EINVAL;
    const uint8_t *d = par->extradata;
    size_t n = (size_t)par->extradata_size;
    if (par->codec_id == AV_CODEC_ID_H264) {
        for (size_t i = 0; i + 7 <= n; i++) {
            if (d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1 && (d[i + 3] & 0x1f) == 7) {
                snprintf(out, cap, "avc1.%02x%02x%02x", d[i + 4], d[i + 5], d[i + 6]);
                return KP_OK;
            }
        }
        return KP_EINVAL;
    }
    if (par->codec_id == AV_CODEC_ID_AAC && n >= 2) {
        int aot = d[0] >> 3;
        snprintf(out, cap, "mp4a.40.%d", aot);
        return KP_OK;
    }
    return KP_EINVAL;
}
