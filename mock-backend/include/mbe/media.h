/* media.h: real test media made with FFmpeg's libraries, generated once and cached.
 *
 * A media spec (duration, rendition ladder, segment length) names one piece of content.
 * mbe_media_get() returns it in every packaging the mock CDN serves, all cut from one
 * encode (libavcodec: H.264 per rendition, one AAC track shared by all):
 *   - HLS: MPEG-TS segments of H.264 + AAC, one list per rendition;
 *   - DASH: fragmented MP4 (ISO BMFF written by this module), one video representation per
 *     rendition and one audio representation, each an init segment (ftyp+moov) and media
 *     segments (styp+sidx+moof+mdat) of one GOP (segment_s); mbe_dash_mpd() writes the MPD;
 *   - progressive MP4 per rendition: "faststart" (moov before mdat), H.264 + AAC.
 * The first time a spec is asked for, it is encoded and packaged and kept in a per-process
 * table and in a cache directory on disk, so later runs and other processes reuse the same
 * bytes. The output is deterministic: the same spec gives byte-identical files on every run
 * (the cache key includes the FFmpeg library versions, since encoders differ between them).
 * mbe_thumbnail_jpeg() draws still images and sprite strips of the same synthetic picture
 * on demand.
 *
 * Returned mbe_media objects are immutable and owned by the cache; they stay valid until
 * mbe_media_cache_free(). The cache is safe to use from several threads, and several
 * processes may share one cache directory (entries are published atomically; a damaged
 * entry is detected by its recorded sizes and SHA-256 sums and regenerated, never served).
 * Strings and images from mbe_dash_mpd() and mbe_thumbnail_jpeg() belong to the caller.
 *
 * The library does not change FFmpeg's process-wide state (log level or callback): each
 * encoder's context is made one level quieter (AVCodecContext.log_level_offset), so at
 * FFmpeg's default level only its warnings and errors reach stderr.
 */
#ifndef MBE_MEDIA_H
#define MBE_MEDIA_H

#include "kp/log.h"

#include <stdbool.h>
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

/* Packagings (the same bits as mbe.h's MBE_FORMAT_*). */
#define MBE_PACKAGE_HLS  1u
#define MBE_PACKAGE_DASH 2u
#define MBE_PACKAGE_MP4  4u
#define MBE_PACKAGE_ALL  7u

typedef struct mbe_media_spec {
    double duration_s; /* > 0 and <= 4 h; rounded to whole video frames (25 fps) */
    const mbe_rendition *renditions;
    size_t n_renditions; /* 1..16, no name twice */
    int segment_s;       /* segment length, seconds (GOP length), 1..60; usually
                            MBE_MEDIA_SEGMENT_S_DEFAULT (2) */
    unsigned packagings; /* MBE_PACKAGE_* bits the caller will use; 0: all. Not part of the
                            content: the first generation always makes (and stores) every
                            packaging; this only limits what is read back from disk, which
                            costs time and memory per packaging */
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

/* ---- DASH ----
 * Segment k of a stream holds video frames [k*G, (k+1)*G) (G = segment_s * 25 frames, one
 * closed GOP) or the audio frames that start in the same span; the last takes the rest.
 * Numbering in URLs starts at 1 ($Number$ = k + 1). */
#define MBE_DASH_TIMESCALE_VIDEO 12800 /* as FFmpeg's muxers choose for 25 fps */
#define MBE_DASH_TIMESCALE_AUDIO 48000
#define MBE_DASH_INIT_TEMPLATE   "init-$RepresentationID$.m4s"
#define MBE_DASH_MEDIA_TEMPLATE  "chunk-$RepresentationID$-$Number$.m4s"

typedef struct mbe_dash_segment {
    const uint8_t *data; /* styp + sidx + moof + mdat */
    size_t size;
    int64_t t; /* SegmentTimeline S@t: earliest presentation time, in the stream's timescale */
    int64_t d; /* S@d: duration, same units */
} mbe_dash_segment;

typedef struct mbe_dash_stream {
    bool audio;          /* false: the video of rendition r */
    mbe_rendition r;     /* video only; for audio the name is "audio" */
    int timescale;       /* MBE_DASH_TIMESCALE_VIDEO or _AUDIO */
    char codecs[32];     /* RFC 6381: "avc1.4d401e", "mp4a.40.2" */
    long bandwidth;      /* @bandwidth: peak segment bit rate, bit/s (fits minBufferTime =
                            one segment) */
    const uint8_t *init; /* ftyp + moov (with mvex), track_ID 1 */
    size_t init_size;
    const mbe_dash_segment *segments;
    size_t n_segments;
} mbe_dash_stream;

/* ---- progressive MP4 ---- */
typedef struct mbe_mp4_file {
    mbe_rendition r;
    const uint8_t *data; /* ftyp + moov + mdat: H.264 (track 1) and AAC (track 2), chunks of
                            one second interleaved */
    size_t size;
    long bitrate; /* size * 8 / duration, bit/s */
} mbe_mp4_file;

/* A packaging not in `packagings` has NULL arrays and counts of 0. */
typedef struct mbe_media {
    char key[33];      /* hex cache key */
    double duration_s; /* the video duration actually produced (whole frames) */
    int segment_s;
    unsigned packagings; /* MBE_PACKAGE_* bits present: at least those asked for */
    const mbe_hls_rendition *hls;
    size_t n_hls; /* same order as spec.renditions */
    const mbe_dash_stream *dash_video;
    size_t n_dash_video;               /* same order as spec.renditions */
    const mbe_dash_stream *dash_audio; /* one, shared by every rendition */
    const mbe_mp4_file *mp4;
    size_t n_mp4; /* same order as spec.renditions */
} mbe_media;

typedef struct mbe_media_cache mbe_media_cache;

/* dir: on-disk cache directory (created if missing); NULL or "" picks $KPSIM_CACHE_DIR,
 * else $XDG_CACHE_HOME/kpsim, else $HOME/.cache/kpsim. log may be NULL. NULL only when out
 * of memory. */
mbe_media_cache *mbe_media_cache_new(const char *dir, kp_log *log);
void mbe_media_cache_free(mbe_media_cache *c);

/* Returns 0 and the media (holding at least spec->packagings), or a negative KP_E* code
 * (KP_EINVAL for a bad spec, KP_EMEDIA when FFmpeg fails, KP_EIO when there is no cache
 * directory or it cannot be created).
 * If storing a freshly generated entry fails (e.g. disk full), the media is still returned
 * and a warning logged. Encoding runs with the cache's lock held. */
int mbe_media_get(mbe_media_cache *c, const mbe_media_spec *spec, const mbe_media **out);

/* The MPD (static, isoff-live profile, SegmentTemplate + SegmentTimeline with
 * MBE_DASH_INIT_TEMPLATE / MBE_DASH_MEDIA_TEMPLATE) of a DASH presentation of m: one video
 * AdaptationSet with the listed renditions (in the order given) and one audio AdaptationSet.
 * Representation ids are chosen by the caller: they end up in segment URLs, so they may only
 * hold URL-safe characters ([A-Za-z0-9._~-]) and must differ from each other. */
/* Content protection signalled in both AdaptationSets (see media_protect.h for how the CDN
 * fills it): <ContentProtection schemeIdUri="urn:mpeg:dash:mp4protection:2011" value=scheme
 * cenc:default_KID=...> and, per key system, <ContentProtection
 * schemeIdUri="urn:uuid:<SystemID>" [value=...]><cenc:pssh>...</cenc:pssh>. */
typedef struct mbe_mpd_drm_system {
    uint8_t system_id[16];
    const char *value;    /* @value, or NULL */
    const char *pssh_b64; /* base64 of the whole pssh box, or NULL */
} mbe_mpd_drm_system;

typedef struct mbe_mpd_protection {
    const char *scheme; /* "cenc" or "cbcs" */
    uint8_t kid[16];
    const mbe_mpd_drm_system *systems;
    size_t n_systems;
} mbe_mpd_protection;

typedef struct mbe_mpd_opts {
    const char *base_url;         /* absolute <BaseURL> (ending in '/'), or NULL for none */
    const size_t *renditions;     /* indices into m->dash_video; NULL: all (n ignored) */
    const char *const *video_ids; /* RepresentationID of each listed rendition; NULL: names */
    size_t n;
    const char *audio_id;                 /* NULL: "audio" */
    const mbe_mpd_protection *protection; /* NULL: clear (the MPD is then unchanged) */
} mbe_mpd_opts;

/* Returns 0 and a malloc'd NUL-terminated MPD in *out (caller frees), or KP_EINVAL (bad
 * index or id) / KP_ENOMEM. */
int mbe_dash_mpd(const mbe_media *m, const mbe_mpd_opts *o, char **out);

/* ---- thumbnails ----
 * Kaltura's thumbnail API answers /width/W/height/H with one image and /vid_slices/N with a
 * horizontal strip of N slices (the player's seek-bar preview asks /width/164/vid_slices/100).
 * Images show the same synthetic picture as the video (frame counter included). */
#define MBE_THUMB_MAX_SIDE   4096 /* of one image or slice */
#define MBE_THUMB_MAX_SLICES 400
#define MBE_THUMB_MAX_PIXELS 16777216 /* of the whole strip: bounds the work of one request */

typedef struct mbe_thumb_spec {
    double duration_s; /* of the content, > 0 */
    int width;         /* 0: from height at 16:9; both 0: 640x360 */
    int height;        /* 0: from width at 16:9 (rounded, at least 2) */
    int slices;        /* 0 or 1: one image; N > 1: a strip of N slices, N*width wide */
    double vid_sec;    /* one image: the frame at this time (clamped to the last); < 0: 1 s */
    double start_s;    /* strip: slices spread evenly over [start_s, end_s) */
    double end_s;      /* <= start_s: the whole duration */
} mbe_thumb_spec;

/* Returns 0 and a malloc'd JPEG (caller frees) in *out / *len, KP_EINVAL when the request is
 * out of bounds (MBE_THUMB_MAX_*), or KP_EMEDIA / KP_ENOMEM. Deterministic; about 1 ms for
 * a 640x360 poster and 10 ms for the 100-slice strip on a 2-core VM. */
int mbe_thumbnail_jpeg(const mbe_thumb_spec *t, kp_log *log, uint8_t **out, size_t *len);

/* Statistics for benchmarks: how many specs were encoded, and loaded from disk. */
typedef struct mbe_media_stats {
    unsigned encoded;
    unsigned loaded_from_disk;
    unsigned memory_hits;
    unsigned disk_rejected; /* disk entries found damaged or stale (then regenerated) */
} mbe_media_stats;
void mbe_media_cache_stats(const mbe_media_cache *c, mbe_media_stats *out);

#endif
