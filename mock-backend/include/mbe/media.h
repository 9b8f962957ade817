/* media.h: real test media made with FFmpeg's libraries, generated once and cached.
 *
 * A media spec (duration, rendition ladder, segment length) names one piece of content.
 * mbe_media_get() returns it packaged for HLS (MPEG-TS segments of H.264 + AAC), encoding
 * it with libavcodec the first time and keeping the result in a per-process table and in a
 * cache directory on disk, so later runs and other processes reuse the same bytes. The
 * output is deterministic: the same spec gives byte-identical segments on every run (the
 * cache key includes the FFmpeg library versions, since encoders differ between them).
 *
 * Returned mbe_media objects are immutable and owned by the cache; they stay valid until
 * mbe_media_cache_free(). The cache is safe to use from several threads.
 */
#ifndef MBE_MEDIA_H
#define MBE_MEDIA_H

#include "kp/log.h"

#include <stddef.h>
#include <stdint.h>

/* A rendition name such as "360p": height 360, width 640 (16:9, rounded to even),
 * a bitrate from the ladder table. */
typedef struct mbe_rendition {
    char name[16];
    int width;
    int height;
    int video_kbps;
} mbe_rendition;

/* Parses "<height>p" with height 144..2160 and even. Returns 0 or KP_EINVAL. */
int mbe_rendition_parse(const char *name, mbe_rendition *out);

typedef struct mbe_media_spec {
    double duration_s;    /* > 0; rounded to whole video frames (25 fps) */
    const mbe_rendition *renditions;
    size_t n_renditions;  /* >= 1 */
    int segment_s;        /* target segment length, seconds (GOP length); 2 by default */
} mbe_media_spec;

typedef struct mbe_segment {
    const uint8_t *data;
    size_t size;
    double duration_s; /* EXTINF: video duration of the segment */
} mbe_segment;

typedef struct mbe_hls_rendition {
    mbe_rendition r;
    const mbe_segment *segments;
    size_t n_segments;
    long bandwidth;         /* BANDWIDTH: peak segment bit rate, bit/s */
    long average_bandwidth; /* AVERAGE-BANDWIDTH */
    char codecs[64];        /* e.g. "avc1.4d401e,mp4a.40.2" */
    int target_duration;    /* EXT-X-TARGETDURATION */
} mbe_hls_rendition;

typedef struct mbe_media {
    char key[33]; /* hex cache key */
    double duration_s;
    const mbe_hls_rendition *hls;
    size_t n_hls; /* same order as spec.renditions */
} mbe_media;

typedef struct mbe_media_cache mbe_media_cache;

/* dir: on-disk cache directory (created if missing); NULL picks $KPSIM_CACHE_DIR, else
 * $XDG_CACHE_HOME/kpsim, else $HOME/.cache/kpsim. log may be NULL. */
mbe_media_cache *mbe_media_cache_new(const char *dir, kp_log *log);
void mbe_media_cache_free(mbe_media_cache *c);

/* Returns 0 and the media, or a negative KP_E* code (KP_EINVAL for a bad spec, KP_EMEDIA
 * when FFmpeg fails, KP_EIO when the cache directory cannot be used). */
int mbe_media_get(mbe_media_cache *c, const mbe_media_spec *spec, const mbe_media **out);

/* Statistics for benchmarks: how many specs were encoded, and loaded from disk. */
typedef struct mbe_media_stats {
    unsigned encoded;
    unsigned loaded_from_disk;
    unsigned memory_hits;
} mbe_media_stats;
void mbe_media_cache_stats(const mbe_media_cache *c, mbe_media_stats *out);

#endif
