/* demux.h: checking media segments with libavformat, from memory.
 *
 * The engines hand every fetched segment to kp_demux_segment(), which demuxes it with
 * libavformat through a read-only, non-seekable AVIOContext (the way MSE receives appends)
 * and reports, per track, the presentation interval, frame count and whether it starts on
 * a keyframe. The engine uses those timestamps for the buffer model: what the player
 * "buffers" is what is really in the bytes.
 */
#ifndef KP_DEMUX_H
#define KP_DEMUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { KP_TRACK_VIDEO = 0, KP_TRACK_AUDIO = 1, KP_TRACK_OTHER = 2 };

typedef struct kp_demux_track {
    int kind;
    int64_t start_us; /* smallest PTS */
    int64_t end_us;   /* largest PTS + that frame's duration */
    int frames;
    bool starts_with_key;
    char codec[16]; /* "h264", "aac" ... */
} kp_demux_track;

#define KP_DEMUX_MAX_TRACKS 8

typedef struct kp_demux_info {
    kp_demux_track tracks[KP_DEMUX_MAX_TRACKS];
    int n_tracks;
} kp_demux_info;

/* format: a libavformat demuxer name ("mpegts", "mp4"). Returns 0, or KP_EMEDIA with a
 * message in err (the segment is damaged, empty or not of that format). */
int kp_demux_segment(const uint8_t *data, size_t len, const char *format, kp_demux_info *out,
                     char *err, size_t errlen);

/* The first track of a kind, or NULL. */
const kp_demux_track *kp_demux_track_of(const kp_demux_info *info, int kind);

#endif
