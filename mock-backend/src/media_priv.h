/* media_priv.h: internals of the media module (mbe/media.h), shared by its .c files and the
 * unit tests. Not a public interface.
 *
 * The pipeline has three stages:
 *   media_spec.c    a public mbe_media_spec becomes a validated mbe__plan (and the cache key
 *                   text that names it);
 *   media_encode.c  the plan becomes an mbe__content: synthetic frames and a tone encoded
 *                   once into in-memory packet lists (one video track per rendition, one
 *                   audio track shared by all);
 *   packagers       read an mbe__content and never change it:
 *                   media_hls.c   HLS MPEG-TS segments (libavformat's mpegts muxer);
 *                   media_mp4.c   the ISO BMFF writer: sample tables, fMP4 init segments and
 *                                 fragments, progressive (faststart) files;
 *                   media_dash.c  DASH streams (media_mp4.c) and the MPD.
 * media_cache.c ties them together behind mbe_media_get() (memory table + disk cache);
 * media_thumb.c draws and JPEG-encodes thumbnails on demand.
 *
 * The box writer is written by hand rather than with libavformat's mp4/dash muxers so that
 * every byte is known and the layout can be patched: a CENC/cbcs packager will rename the
 * sample entry (encv/enca + sinf), add pssh to moov and saiz/saio/senc to each traf; the
 * fragment writer computes trun.data_offset and sidx.referenced_size after the moof is
 * complete, so boxes added to a traf need no further bookkeeping (see mbe__mp4_track).
 *
 * Ownership: an mbe__content is owned by whoever called mbe__content_encode() and freed with
 * mbe__content_free(); an mbe_hls_rendition filled by mbe__hls_package() owns its segment
 * array and segment bytes until mbe__hls_rendition_clear(); likewise mbe_dash_stream and
 * mbe_mp4_file with mbe__dash_stream_clear() and mbe__mp4_file_clear(); mbe__samples own
 * their bytes until mbe__samples_free().
 */
#ifndef MBE_MEDIA_PRIV_H
#define MBE_MEDIA_PRIV_H

#include "kp/buf.h"
#include "kp/log.h"
#include "mbe/media.h"

#include <libavcodec/avcodec.h>
#include <stdbool.h>
#include <stdint.h>

/* Bump whenever the bytes produced for a given spec change (drawing, encoder settings,
 * packaging, metadata format): it is part of the cache key, so old entries are not reused. */
#define MBE__GENERATOR_VERSION 2 /* 2: DASH and progressive MP4 added */

#define MBE__FPS            MBE_MEDIA_FPS
#define MBE__AUDIO_RATE     48000
#define MBE__AUDIO_CHANNELS 2
#define MBE__AUDIO_BITRATE  64000
#define MBE__MAX_RENDITIONS 16
#define MBE__MAX_DURATION_S (4 * 3600)
#define MBE__MAX_SEGMENT_S  60
#define MBE__MIN_KBPS       32
#define MBE__MAX_KBPS       100000

/* A validated, normalised spec. */
typedef struct mbe__plan {
    int64_t n_frames; /* video frames at MBE__FPS, >= 1 */
    int segment_s;
    int gop_frames; /* segment_s * MBE__FPS */
    size_t n_renditions;
    mbe_rendition renditions[MBE__MAX_RENDITIONS];
    unsigned packagings; /* MBE_PACKAGE_* wanted, never 0 (not part of the key) */
} mbe__plan;

/* 0, or KP_EINVAL with one log line naming the problem. */
int mbe__plan_from_spec(const mbe_media_spec *spec, kp_log *log, mbe__plan *out);
/* Default video bit rate for a height (ladder table, linear in between), kbit/s. */
int mbe__ladder_kbps(int height);
/* The canonical text the cache key hashes: generator version, library versions and the
 * plan. Appends to out. */
int mbe__plan_key_text(const mbe__plan *p, const char *lib_versions, kp_buf *out);

/* One encoded access unit. Payload bytes live in the track's arena at `offset`, followed
 * by AV_INPUT_BUFFER_PADDING_SIZE zero bytes. Timestamps are in the track's time base and
 * start at 0 for both tracks; there are no B-frames, so dts == pts. */
typedef struct mbe__packet {
    size_t offset;
    int size;
    int64_t pts;
    int64_t dts;
    int64_t duration;
    bool key;
} mbe__packet;

typedef struct mbe__track {
    AVCodecParameters *par; /* codec id, geometry or sample format, extradata (H.264:
                               Annex B SPS+PPS, AAC: AudioSpecificConfig) */
    AVRational time_base;   /* video 1/25, audio 1/48000 */
    mbe__packet *pkts;
    size_t n_pkts;
    size_t cap_pkts;
    kp_buf arena;
} mbe__track;

static inline const uint8_t *mbe__packet_data(const mbe__track *t, const mbe__packet *p)
{
    return (const uint8_t *)t->arena.data + p->offset;
}

typedef struct mbe__content {
    mbe__plan plan;
    mbe__track audio;
    mbe__track video[MBE__MAX_RENDITIONS]; /* same order as plan.renditions */
} mbe__content;

/* Encodes the plan (video renditions in parallel threads, one encoder thread each).
 * 0, or KP_EMEDIA (FFmpeg's message logged) / KP_ENOMEM. */
int mbe__content_encode(const mbe__plan *plan, kp_log *log, mbe__content **out);
void mbe__content_free(mbe__content *c);

/* Library versions that influence the encoded bytes, as one line of text:
 * libavcodec/libavformat/libavutil (build-time and run-time), FFmpeg's version string and
 * the libx264 build (from the loaded shared object, if it can be found). Appends to out. */
int mbe__lib_versions(kp_buf *out);

/* RFC 6381 codec strings from a track's extradata: "avc1.4d401e", "mp4a.40.2". */
int mbe__codec_string(const mbe__track *t, char *out, size_t cap);

/* Builds one HLS rendition (MPEG-TS segments in memory) from content->video[index] plus
 * the shared audio track. 0 or KP_EMEDIA / KP_ENOMEM; on failure out is left empty. */
int mbe__hls_package(const mbe__content *content, size_t index, kp_log *log,
                     mbe_hls_rendition *out);
/* Frees what an mbe_hls_rendition owns (segment bytes and array) and zeroes it. */
void mbe__hls_rendition_clear(mbe_hls_rendition *r);
/* Fills bandwidth, average_bandwidth and target_duration from the segments. */
void mbe__hls_compute_stats(mbe_hls_rendition *r);

/* ---- ISO BMFF (media_mp4.c) ---- */

/* One track's samples as an MP4 file stores them: H.264 as 4-byte length-prefixed NAL units
 * without the parameter sets and access unit delimiters (those live in avcC), AAC as raw
 * frames; decode times and durations in the track's MP4 timescale. */
typedef struct mbe__sample {
    size_t offset; /* into mbe__samples.data */
    uint32_t size;
    int64_t dts; /* == pts (no B-frames) */
    uint32_t duration;
    bool key;
} mbe__sample;

typedef struct mbe__samples {
    bool video;
    uint32_t timescale; /* MBE_DASH_TIMESCALE_VIDEO / _AUDIO */
    mbe__sample *s;
    size_t n;
    kp_buf data;
} mbe__samples;

/* Converts an encoded track. 0, KP_EMEDIA (malformed Annex B) or KP_ENOMEM. */
int mbe__samples_from_track(const mbe__track *t, bool video, mbe__samples *out);
void mbe__samples_free(mbe__samples *s);
/* The first sample with dts >= dts (n when none). */
size_t mbe__samples_lower_bound(const mbe__samples *s, int64_t dts);

/* What the writer needs to describe one track. A protection scheme, when added, goes here
 * (the sample entry and traf writers are its hooks). */
typedef struct mbe__mp4_track {
    const mbe__track *enc; /* codec parameters and extradata (Annex B SPS/PPS, or the AAC
                              AudioSpecificConfig) */
    const mbe__samples *smp;
    uint32_t track_id;
} mbe__mp4_track;

/* ftyp + moov (mvex/trex, empty sample tables) of a one-track fragmented file. Appends to
 * out. 0 or KP_ENOMEM / KP_EMEDIA (unusable extradata). */
int mbe__mp4_init_segment(const mbe__mp4_track *t, kp_buf *out);
/* styp + sidx + moof (mfhd, traf: tfhd, tfdt, trun) + mdat holding samples
 * [first, first + count) of t; `sequence` is mfhd.sequence_number (1-based). */
int mbe__mp4_fragment(const mbe__mp4_track *t, size_t first, size_t count, uint32_t sequence,
                      kp_buf *out);
/* A whole non-fragmented file, moov first: ftyp + moov + mdat, the tracks' samples
 * interleaved in chunks of chunk_s seconds of media time. */
int mbe__mp4_progressive(const mbe__mp4_track *tracks, size_t n, double chunk_s, kp_buf *out);

/* ---- DASH and progressive packagers (media_dash.c) ---- */

/* The video stream of content->video[index], or (index == SIZE_MAX) the audio stream. */
int mbe__dash_package(const mbe__content *content, size_t index, kp_log *log, mbe_dash_stream *out);
void mbe__dash_stream_clear(mbe_dash_stream *s);
/* Fills bandwidth from the segments. */
void mbe__dash_compute_stats(mbe_dash_stream *s);
/* The progressive MP4 of rendition `index` (its video and the shared audio). */
int mbe__mp4_package(const mbe__content *content, size_t index, kp_log *log, mbe_mp4_file *out);
void mbe__mp4_file_clear(mbe_mp4_file *f);
/* Expected S@t/S@d of the video segments of a plan (they follow from the GOP). */
int64_t mbe__dash_video_t(const mbe__plan *p, size_t k);
int64_t mbe__dash_video_d(const mbe__plan *p, size_t k);

/* The synthetic picture for frame `index` drawn into yuv420p planes of w x h (both even):
 * scrolling colour bars, a bouncing box, a sliding grey ramp, the frame number in
 * seven-segment digits and, along the bottom edge, in 20 binary blocks. */
void mbe__draw_frame(uint8_t *const planes[3], const int linesize[3], int w, int h, int64_t index);
/* Reads the binary frame number back from a (decoded) luma plane of w x h: lets tests and
 * conformance checks tell which frame a decoder produced. Valid below 2^20 frames. */
int64_t mbe__read_frame_counter(const uint8_t *luma, int linesize, int w, int h);

#endif
