/* ffmpeg.h: FFmpeg helpers shared by the rooms (and the tests).
 *
 * kp_ffmpeg_set_log_level touches FFmpeg's log level, global state of the process: only a
 * program's main() may call it; libraries never do. */
#ifndef KP_FFMPEG_H
#define KP_FFMPEG_H

#include "kp/log.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct AVFormatContext;

/* Maps kpsim's level to FFmpeg's: FFmpeg prints only at debug/trace, and its errors at
 * warn and above are reported by kpsim itself with context. */
void kp_ffmpeg_set_log_level(kp_log_level level);

/* Opens len bytes at data (kept by the caller until the close) with the libavformat demuxer
 * `format` (NULL: probe), through an in-memory input: not seekable, as MSE appends arrive,
 * unless `seekable`. Returns 0 with *out set; KP_EMEDIA for an unknown format, empty input or
 * what libavformat refuses (err, when given, says which); KP_ENOMEM. */
int kp_ffmpeg_open_memory(const uint8_t *data, size_t len, const char *format, bool seekable,
                          struct AVFormatContext **out, char *err, size_t errlen);
/* Closes what kp_ffmpeg_open_memory opened, and its input; *fc becomes NULL. */
void kp_ffmpeg_close_memory(struct AVFormatContext **fc);

#endif
