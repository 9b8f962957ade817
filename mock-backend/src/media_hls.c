/* media_hls.c: the HLS packager. Cuts one video track plus the shared audio track into
 * MPEG-TS segments, each written by its own libavformat "mpegts" muxer into a dynamic
 * memory buffer.
 *
 * Segment k holds video frames [k*G, (k+1)*G) (G = segment_s * 25, the GOP, so it starts
 * with an IDR) and the audio packets that start in the same time span; the last segment
 * takes what is left. Timestamps are those of the whole stream, so the segments join up as
 * if cut from one file. Every muxer gets the same settings (bitexact, max_delay 0.7 s as
 * the ffmpeg command line uses, so AAC frames are grouped into PES packets rather than
 * costing a PES header each). The mpegts muxer shifts all timestamps by twice max_delay,
 * the same for every segment and stream: video and audio of segment 0 both start at PTS
 * 126000 (1.4 s at 90 kHz), as in segments from the ffmpeg command line.
 */
#include "media_priv.h"

#include "kp/err.h"

#include <libavformat/avformat.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MOD "media"

#define MUX_MAX_DELAY_US 700000

static int av_fail(kp_log *log, const char *what, const char *who, int averr)
{
    KP_LOG_E(log, MOD, "%s failed for %s: %s", what, who, av_err2str(averr));
    return KP_EMEDIA;
}

/* First packet of t whose pts is >= pts. */
static size_t lower_bound(const mbe__track *t, int64_t pts)
{
    size_t lo = 0, hi = t->n_pkts;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->pkts[mid].pts < pts)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static AVStream *add_stream(AVFormatContext *fc, const mbe__track *t, int *err)
{
    AVStream *st = avformat_new_stream(fc, NULL);
    if (!st) {
        *err = AVERROR(ENOMEM);
        return NULL;
    }
    *err = avcodec_parameters_copy(st->codecpar, t->par);
    st->time_base = t->time_base;
    return *err < 0 ? NULL : st;
}

static int write_packet(AVFormatContext *fc, AVPacket *pkt, const mbe__track *t,
                        const mbe__packet *p, int stream, const char *who, kp_log *log)
{
    AVRational tb = fc->streams[stream]->time_base;
    av_packet_unref(pkt);
    pkt->data = (uint8_t *)mbe__packet_data(t, p);
    pkt->size = p->size;
    pkt->pts = av_rescale_q(p->pts, t->time_base, tb);
    pkt->dts = av_rescale_q(p->dts, t->time_base, tb);
    pkt->duration = av_rescale_q(p->duration, t->time_base, tb);
    pkt->flags = p->key ? AV_PKT_FLAG_KEY : 0;
    pkt->stream_index = stream;
    int ret = av_write_frame(fc, pkt);
    pkt->data = NULL;
    pkt->size = 0;
    return ret < 0 ? av_fail(log, "av_write_frame", who, ret) : KP_OK;
}

static int write_segment(const mbe__content *c, size_t index, size_t k, kp_log *log,
                         mbe_segment *out)
{
    const mbe__plan *plan = &c->plan;
    const mbe__track *v = &c->video[index];
    const mbe__track *a = &c->audio;
    const char *who = plan->renditions[index].name;
    int64_t f0 = (int64_t)k * plan->gop_frames;
    int64_t f1 = f0 + plan->gop_frames < plan->n_frames ? f0 + plan->gop_frames : plan->n_frames;
    bool last = f1 == plan->n_frames;
    int64_t spf = a->time_base.den / (a->time_base.num * MBE__FPS); /* samples per frame */
    size_t a0 = lower_bound(a, f0 * spf);
    size_t a1 = last ? a->n_pkts : lower_bound(a, f1 * spf);

    AVFormatContext *fc = NULL;
    AVPacket *pkt = av_packet_alloc();
    uint8_t *buf = NULL;
    int rc = KP_OK, ret;
    if (!pkt)
        return KP_ENOMEM;
    ret = avformat_alloc_output_context2(&fc, NULL, "mpegts", NULL);
    if (ret < 0 || !fc) {
        av_packet_free(&pkt);
        return av_fail(log, "avformat_alloc_output_context2(mpegts)", who, ret);
    }
    fc->flags |= AVFMT_FLAG_BITEXACT;
    fc->max_delay = MUX_MAX_DELAY_US;
    if (!add_stream(fc, v, &ret) || !add_stream(fc, a, &ret)) {
        rc = av_fail(log, "avformat_new_stream", who, ret);
        goto out;
    }
    ret = avio_open_dyn_buf(&fc->pb);
    if (ret < 0) {
        rc = av_fail(log, "avio_open_dyn_buf", who, ret);
        goto out;
    }
    ret = avformat_write_header(fc, NULL);
    if (ret < 0) {
        rc = av_fail(log, "avformat_write_header(mpegts)", who, ret);
        goto out;
    }
    /* Interleave by decode time; on a tie video goes first, so the segment opens with the
     * IDR. */
    size_t vi = (size_t)f0, ai = a0;
    while (rc == KP_OK && (vi < (size_t)f1 || ai < a1)) {
        bool take_video = ai >= a1;
        if (vi < (size_t)f1 && ai < a1)
            take_video =
                av_compare_ts(v->pkts[vi].dts, v->time_base, a->pkts[ai].dts, a->time_base) <= 0;
        if (take_video)
            rc = write_packet(fc, pkt, v, &v->pkts[vi++], 0, who, log);
        else
            rc = write_packet(fc, pkt, a, &a->pkts[ai++], 1, who, log);
    }
    if (rc == KP_OK) {
        ret = av_write_trailer(fc);
        if (ret < 0)
            rc = av_fail(log, "av_write_trailer(mpegts)", who, ret);
    }
    if (rc == KP_OK) {
        int size = avio_close_dyn_buf(fc->pb, &buf);
        fc->pb = NULL;
        uint8_t *copy = size > 0 ? malloc((size_t)size) : NULL;
        if (!copy) {
            rc = size > 0 ? KP_ENOMEM : KP_EMEDIA;
        } else {
            memcpy(copy, buf, (size_t)size);
            out->data = copy;
            out->size = (size_t)size;
            out->duration_s = (double)(f1 - f0) / MBE__FPS;
        }
        av_free(buf);
    }
out:
    if (fc && fc->pb) {
        avio_close_dyn_buf(fc->pb, &buf);
        av_free(buf);
        fc->pb = NULL;
    }
    avformat_free_context(fc);
    av_packet_free(&pkt);
    return rc;
}

void mbe__hls_compute_stats(mbe_hls_rendition *r)
{
    double peak = 0, bytes = 0, secs = 0, longest = 0;
    for (size_t i = 0; i < r->n_segments; i++) {
        const mbe_segment *s = &r->segments[i];
        if (s->duration_s <= 0)
            continue;
        double rate = (double)s->size * 8 / s->duration_s;
        peak = rate > peak ? rate : peak;
        longest = s->duration_s > longest ? s->duration_s : longest;
        bytes += (double)s->size;
        secs += s->duration_s;
    }
    r->bandwidth = (long)ceil(peak);
    r->average_bandwidth = secs > 0 ? (long)ceil(bytes * 8 / secs) : 0;
    /* EXTINF values are multiples of 1/25 s: ignore rounding noise below a microsecond */
    r->target_duration = (int)ceil(longest - 1e-6);
}

void mbe__hls_rendition_clear(mbe_hls_rendition *r)
{
    if (!r)
        return;
    for (size_t i = 0; r->segments && i < r->n_segments; i++)
        free((void *)r->segments[i].data);
    free((void *)r->segments);
    memset(r, 0, sizeof(*r));
}

int mbe__hls_package(const mbe__content *c, size_t index, kp_log *log, mbe_hls_rendition *out)
{
    const mbe__plan *plan = &c->plan;
    memset(out, 0, sizeof(*out));
    out->r = plan->renditions[index];
    size_t n = (size_t)((plan->n_frames + plan->gop_frames - 1) / plan->gop_frames);
    mbe_segment *segs = calloc(n, sizeof(*segs));
    if (!segs)
        return KP_ENOMEM;
    out->segments = segs;
    out->n_segments = n;
    char vc[32], ac[32];
    int rc = mbe__codec_string(&c->video[index], vc, sizeof(vc));
    if (rc == KP_OK)
        rc = mbe__codec_string(&c->audio, ac, sizeof(ac));
    if (rc < 0) {
        KP_LOG_E(log, MOD, "%s: cannot derive the RFC 6381 codec strings", out->r.name);
        rc = KP_EMEDIA;
    } else {
        snprintf(out->codecs, sizeof(out->codecs), "%s,%s", vc, ac);
    }
    for (size_t k = 0; k < n && rc == KP_OK; k++)
        rc = write_segment(c, index, k, log, &segs[k]);
    if (rc < 0) {
        mbe__hls_rendition_clear(out);
        return rc;
    }
    mbe__hls_compute_stats(out);
    return KP_OK;
}
