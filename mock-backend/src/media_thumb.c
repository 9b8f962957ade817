/* media_thumb.c: thumbnails (mbe_thumbnail_jpeg): the synthetic picture of the video
 * (mbe__draw_frame) drawn at the asked size and encoded with libavcodec's mjpeg encoder,
 * one image or a horizontal strip of slices taken evenly over the content.
 *
 * Frames are drawn in limited-range BT.601 (as the video is encoded) and converted to the
 * full range JPEG uses. Sizes need not be even: each slice is drawn at the next even size
 * and cropped. Deterministic (BITEXACT, one thread, fixed quantiser).
 */
#include "media_priv.h"

#include "kp/err.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MOD "media"

#define JPEG_MAX_SIDE 65500 /* what FFmpeg's mjpeg encoder accepts */
#define JPEG_QSCALE   3

static int av_fail(kp_log *log, const char *what, int averr)
{
    KP_LOG_E(log, MOD, "thumbnail: %s failed: %s", what, av_err2str(averr));
    return KP_EMEDIA;
}

static int64_t frame_at(double t, int64_t n_frames)
{
    if (!(t > 0))
        return 0;
    double f = floor(t * MBE__FPS + 1e-9);
    return f >= (double)(n_frames - 1) ? n_frames - 1 : (int64_t)f;
}

/* Width and height of one image or slice; KP_EINVAL when out of bounds. */
static int geometry(const mbe_thumb_spec *t, int *w, int *h, int *n)
{
    if (!(t->duration_s > 0) || !isfinite(t->duration_s) || t->width < 0 || t->height < 0 ||
        t->width > MBE_THUMB_MAX_SIDE || t->height > MBE_THUMB_MAX_SIDE || t->slices < 0 ||
        t->slices > MBE_THUMB_MAX_SLICES || !isfinite(t->vid_sec) || !isfinite(t->start_s) ||
        !isfinite(t->end_s))
        return KP_EINVAL;
    *w = t->width;
    *h = t->height;
    if (*w == 0 && *h == 0) {
        *w = 640;
        *h = 360;
    } else if (*w == 0) {
        *w = (int)lround(*h * 16.0 / 9.0);
    } else if (*h == 0) {
        *h = (int)lround(*w * 9.0 / 16.0);
    }
    *w = *w < 2 ? 2 : *w;
    *h = *h < 2 ? 2 : *h;
    *n = t->slices > 1 ? t->slices : 1;
    if (*w > MBE_THUMB_MAX_SIDE || *h > MBE_THUMB_MAX_SIDE || (long)*w * *n > JPEG_MAX_SIDE ||
        (long long)*w * *n * *h > MBE_THUMB_MAX_PIXELS)
        return KP_EINVAL;
    return KP_OK;
}

/* Limited (16..235 / 16..240) to full range (0..255). */
static void range_luts(uint8_t ly[256], uint8_t lc[256])
{
    for (int v = 0; v < 256; v++) {
        int y = (int)lround((v - 16) * 255.0 / 219.0);
        int c = (int)lround((v - 128) * 255.0 / 224.0) + 128;
        ly[v] = (uint8_t)(y < 0 ? 0 : y > 255 ? 255 : y);
        lc[v] = (uint8_t)(c < 0 ? 0 : c > 255 ? 255 : c);
    }
}

/* Draws frame `index` at w x h into out at column x0 (out is yuvj420p, full range). */
static void draw_slice(AVFrame *out, int x0, int w, int h, int64_t index, uint8_t *tmp[3],
                       const uint8_t ly[256], const uint8_t lc[256])
{
    int we = (w + 1) & ~1, he = (h + 1) & ~1;
    int ls[3] = {we, we / 2, we / 2};
    mbe__draw_frame(tmp, ls, we, he, index);
    for (int y = 0; y < h; y++) {
        const uint8_t *src = tmp[0] + (size_t)y * ls[0];
        uint8_t *dst = out->data[0] + (size_t)y * out->linesize[0] + x0;
        for (int x = 0; x < w; x++)
            dst[x] = ly[src[x]];
    }
    /* chroma samples of the output whose top-left pixel lies in this slice */
    int cx0 = (x0 + 1) / 2, cx1 = (x0 + w + 1) / 2, ch = (h + 1) / 2;
    for (int p = 1; p < 3; p++) {
        for (int cy = 0; cy < ch; cy++) {
            const uint8_t *src = tmp[p] + (size_t)cy * ls[p];
            uint8_t *dst = out->data[p] + (size_t)cy * out->linesize[p];
            for (int cx = cx0; cx < cx1; cx++)
                dst[cx] = lc[src[(2 * cx - x0) / 2]];
        }
    }
}

int mbe_thumbnail_jpeg(const mbe_thumb_spec *t, kp_log *log, uint8_t **out, size_t *len)
{
    if (out)
        *out = NULL;
    if (len)
        *len = 0;
    int w, h, n;
    if (!t || !out || !len || geometry(t, &w, &h, &n) < 0)
        return KP_EINVAL;
    int64_t n_frames = llround(t->duration_s * MBE__FPS);
    n_frames = n_frames < 1 ? 1 : n_frames;

    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
    if (!codec) {
        KP_LOG_E(log, MOD, "libavcodec has no mjpeg encoder");
        return KP_EMEDIA;
    }
    int we = (w + 1) & ~1, he = (h + 1) & ~1;
    uint8_t *tmp[3] = {malloc((size_t)we * he), malloc((size_t)we * he / 4),
                       malloc((size_t)we * he / 4)};
    AVCodecContext *ctx = avcodec_alloc_context3(codec);
    AVFrame *frame = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    int rc = KP_OK, ret;
    if (!tmp[0] || !tmp[1] || !tmp[2] || !ctx || !frame || !pkt) {
        rc = KP_ENOMEM;
        goto out;
    }
    ctx->width = w * n;
    ctx->height = h;
    ctx->pix_fmt = AV_PIX_FMT_YUVJ420P;
    ctx->color_range = AVCOL_RANGE_JPEG;
    ctx->time_base = (AVRational){1, MBE__FPS};
    ctx->thread_count = 1;
    ctx->flags |= AV_CODEC_FLAG_QSCALE | AV_CODEC_FLAG_BITEXACT;
    ctx->global_quality = FF_QP2LAMBDA * JPEG_QSCALE;
    ctx->log_level_offset = AV_LOG_VERBOSE - AV_LOG_INFO;
    ret = avcodec_open2(ctx, codec, NULL);
    if (ret < 0) {
        rc = av_fail(log, "avcodec_open2(mjpeg)", ret);
        goto out;
    }
    frame->format = ctx->pix_fmt;
    frame->width = ctx->width;
    frame->height = ctx->height;
    ret = av_frame_get_buffer(frame, 0);
    if (ret < 0) {
        rc = av_fail(log, "av_frame_get_buffer", ret);
        goto out;
    }
    uint8_t ly[256], lc[256];
    range_luts(ly, lc);
    if (n == 1) {
        draw_slice(frame, 0, w, h, frame_at(t->vid_sec < 0 ? 1.0 : t->vid_sec, n_frames), tmp, ly,
                   lc);
    } else {
        double a = t->start_s > 0 ? t->start_s : 0, b = t->end_s;
        if (b <= a || b > t->duration_s)
            b = t->duration_s;
        if (a >= b)
            a = 0;
        for (int i = 0; i < n; i++)
            draw_slice(frame, i * w, w, h, frame_at(a + (b - a) * i / n, n_frames), tmp, ly, lc);
    }
    frame->pts = 0;
    frame->quality = ctx->global_quality;
    ret = avcodec_send_frame(ctx, frame);
    if (ret >= 0)
        ret = avcodec_send_frame(ctx, NULL);
    if (ret >= 0)
        ret = avcodec_receive_packet(ctx, pkt);
    if (ret < 0) {
        rc = av_fail(log, "encoding the JPEG", ret);
        goto out;
    }
    *out = malloc((size_t)pkt->size);
    if (!*out) {
        rc = KP_ENOMEM;
        goto out;
    }
    memcpy(*out, pkt->data, (size_t)pkt->size);
    *len = (size_t)pkt->size;
out:
    av_packet_free(&pkt);
    av_frame_free(&frame);
    avcodec_free_context(&ctx);
    for (int i = 0; i < 3; i++)
        free(tmp[i]);
    return rc;
}
