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
 * mbe_media_cache_free(). The cache is safe to use from several threads, and several
 * processes may share one cache directory (entries are published atomically; a damaged
 * entry is detected by its recorded sizes and SHA-256 sums and regenerated, never served).
 *
 * The library does not change FFmpeg's process-wide state (log level or callback): each
 * encoder's context is made one level quieter (AVCodecContext.log_level_offset), so at
 * FFmpeg's default level only its warnings and errors reach stderr.
 */
#ifndef MBE_MEDIA_H
#define MBE_MEDIA_H

#include "kp/log.h"

#include <stddef.h>
#include <stdint.h>

#define MBE_MEDIA_FPS               25 /* video frame rate of all media */
#define MBE_MEDIA_SEGMENT_S_DEFAULT 2  /* the usual mbe_media_spec.segment_s */

/* A rendition name such as "360p": height 360, width 640 (16:9, rounded to even),
 * a bitrate from the ladder table (144p 150k, 180p 200k, 240p 300k, 360p 600k, 480p 1000k,
 * 720p 2500k, 1080p 4500k, 1440p 8000k, 2160p 16000k; linear in between, rounded to 10k).
 * A caller may change video_kbps (32..100000) before putting it in a spec; name, width and
 * height must stay as parsed. */
typedef struct mbe_rendition {
    char name[16];
    int width;
    int height;
    int video_kbps;
} mbe_rendition;

/* Parses "<height>p" with height 144..2160 and even. Returns 0 or KP_EINVAL. */
int mbe_rendition_parse(const char *name, mbe_rendition *out);

typedef struct mbe_media_spec {
    double duration_s; /* > 0 and <= 4 h; rounded to whole video frames (25 fps) */
    const mbe_rendition *renditions;
    size_t n_renditions; /* 1..16, no name twice */
    int segment_s;       /* segment length, seconds (GOP length), 1..60; usually
                            MBE_MEDIA_SEGMENT_S_DEFAULT (2) */
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
    char key[33];      /* hex cache key */
    double duration_s; /* the video duration actually produced (whole frames) */
    const mbe_hls_rendition *hls;
    size_t n_hls; /* same order as spec.renditions */
} mbe_media;

typedef struct mbe_media_cache mbe_media_cache;

/* dir: on-disk cache directory (created if missing); NULL or "" picks $KPSIM_CACHE_DIR,
 * else $XDG_CACHE_HOME/kpsim, else $HOME/.cache/kpsim. log may be NULL. NULL only when out
 * of memory. */
mbe_media_cache *mbe_media_cache_new(const char *dir, kp_log *log);
void mbe_media_cache_free(mbe_media_cache *c);

/* Returns 0 and the media, or a negative KP_E* code (KP_EINVAL for a bad spec, KP_EMEDIA
 * when FFmpeg fails, KP_EIO when there is no cache directory or it cannot be created).
 * If storing a freshly generated entry fails (e.g. disk full), the media is still returned
 * and a warning logged. Encoding runs with the cache's lock held. */
int mbe_media_get(mbe_media_cache *c, const mbe_media_spec *spec, const mbe_media **out);

/* Statistics for benchmarks: how many specs were encoded, and loaded from disk. */
typedef struct mbe_media_stats {
    unsigned encoded;
    unsigned loaded_from_disk;
    unsigned memory_hits;
    unsigned disk_rejected; /* disk entries found damaged or stale (then regenerated) */
} mbe_media_stats;
void mbe_media_cache_stats(const mbe_media_cache *c, mbe_media_stats *out);

#endif
