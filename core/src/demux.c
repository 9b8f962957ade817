/* demux.c: in-memory demuxing of one segment with libavformat. */
#include "demux.h"

#include "kp/err.h"
#include "kp/ffmpeg.h"

#include <libavformat/avformat.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <stdio.h>
#include <string.h>

const kp_demux_track *kp_demux_track_of(const kp_demux_info *info, int kind)
{
    for (int i = 0; i < info->n_tracks; i++)
        if (info->tracks[i].kind == kind)
            return &info->tracks[i];
    return NULL;
}

/* Duration of the ADTS frames in an AAC packet (an MPEG-TS PES may carry several): each
 * frame holds (raw data blocks) x 1024 samples. Returns 0 when the data is not ADTS. */
static int64_t adts_duration_us(const uint8_t *p, int size)
{
    static const int rates[] = {96000, 88200, 64000, 48000, 44100, 32000, 24000,
                                22050, 16000, 12000, 11025, 8000,  7350};
    int64_t samples = 0;
    int rate = 0;
    int off = 0;
    while (off + 7 <= size) {
        if (p[off] != 0xFF || (p[off + 1] & 0xF6) != 0xF0)
            return 0;
        int sf = (p[off + 2] >> 2) & 0x0F;
        int len = ((p[off + 3] & 0x03) << 11) | (p[off + 4] << 3) | (p[off + 5] >> 5);
        int blocks = (p[off + 6] & 0x03) + 1;
        if (sf >= 13 || len < 7)
            return 0;
        rate = rates[sf];
        samples += (int64_t)blocks * 1024;
        off += len;
    }
    return rate ? samples * 1000000 / rate : 0;
}

typedef struct track_acc {
    int stream_index;
    int64_t last_pts_us;
    int64_t prev_pts_us;
    int64_t last_dur_us;
    int64_t next_us; /* where the next frame starts, when known */
} track_acc;

int kp_demux_segment(const uint8_t *data, size_t len, const char *format, kp_demux_info *out,
                     char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (err && errlen)
        err[0] = '\0';
    AVFormatContext *fc = NULL;
    int rc = kp_ffmpeg_open_memory(data, len, format, false, &fc, err, errlen);
    if (rc != KP_OK)
        return rc;
    track_acc acc[KP_DEMUX_MAX_TRACKS];
    AVPacket *pkt = av_packet_alloc();
    int result = pkt ? KP_OK : KP_ENOMEM;
    int packets = 0, corrupt = 0;
    while (result == KP_OK && (rc = av_read_frame(fc, pkt)) >= 0) {
        AVStream *st = fc->streams[pkt->stream_index];
        if (pkt->flags & AV_PKT_FLAG_CORRUPT)
            corrupt++;
        int kind = st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO   ? KP_TRACK_VIDEO
                   : st->codecpar->codec_type == AVMEDIA_TYPE_AUDIO ? KP_TRACK_AUDIO
                                                                    : KP_TRACK_OTHER;
        int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
        if (kind == KP_TRACK_OTHER) {
            av_packet_unref(pkt);
            continue;
        }
        int t = 0;
        while (t < out->n_tracks && acc[t].stream_index != pkt->stream_index)
            t++;
        if (t == out->n_tracks) {
            if (t == KP_DEMUX_MAX_TRACKS) {
                av_packet_unref(pkt);
                continue;
            }
            out->n_tracks++;
            memset(&out->tracks[t], 0, sizeof(out->tracks[t]));
            out->tracks[t].kind = kind;
            out->tracks[t].start_us = INT64_MAX;
            out->tracks[t].starts_with_key = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
            snprintf(out->tracks[t].codec, sizeof(out->tracks[t].codec), "%s",
                     avcodec_get_name(st->codecpar->codec_id));
            acc[t] = (track_acc){
                .stream_index = pkt->stream_index, .last_pts_us = INT64_MIN, .next_us = INT64_MIN};
        }
        /* the frames after the first in a PES carry no timestamp: they follow on */
        int64_t us =
            ts != AV_NOPTS_VALUE ? av_rescale_q(ts, st->time_base, AV_TIME_BASE_Q) : acc[t].next_us;
        if (ts == AV_NOPTS_VALUE && acc[t].next_us == INT64_MIN) {
            av_packet_unref(pkt);
            continue;
        }
        int64_t dur = 0;
        if (st->codecpar->codec_id == AV_CODEC_ID_AAC)
            dur = adts_duration_us(pkt->data, pkt->size);
        if (dur <= 0 && pkt->duration > 0)
            dur = av_rescale_q(pkt->duration, st->time_base, AV_TIME_BASE_Q);
        kp_demux_track *tr = &out->tracks[t];
        if (us < tr->start_us)
            tr->start_us = us;
        acc[t].next_us = dur > 0 ? us + dur : INT64_MIN;
        if (us > acc[t].last_pts_us) {
            acc[t].prev_pts_us = acc[t].last_pts_us;
            acc[t].last_pts_us = us;
            acc[t].last_dur_us = dur;
        }
        tr->frames++;
        packets++;
        av_packet_unref(pkt);
    }
    if (result == KP_OK && rc < 0 && rc != AVERROR_EOF) {
        if (err)
            snprintf(err, errlen, "demuxing failed: %s", av_err2str(rc));
        result = KP_EMEDIA;
    }
    for (int t = 0; result == KP_OK && t < out->n_tracks; t++) {
        int64_t dur = acc[t].last_dur_us;
        if (dur <= 0 && out->tracks[t].frames > 1)
            dur = (acc[t].last_pts_us - out->tracks[t].start_us) / (out->tracks[t].frames - 1);
        out->tracks[t].end_us = acc[t].last_pts_us + dur;
    }
    int kept = 0; /* drop tracks that never produced a timestamped frame */
    for (int t = 0; t < out->n_tracks; t++)
        if (out->tracks[t].frames > 0)
            out->tracks[kept++] = out->tracks[t];
    out->n_tracks = kept;
    if (result == KP_OK && packets == 0) {
        if (err)
            snprintf(err, errlen, "no audio or video packets in the segment");
        result = KP_EMEDIA;
    }
    if (result == KP_OK && corrupt) {
        if (err)
            snprintf(err, errlen, "%d corrupt packets in the segment", corrupt);
        result = KP_EMEDIA;
    }
    av_packet_free(&pkt);
    kp_ffmpeg_close_memory(&fc);
    return result;
}
