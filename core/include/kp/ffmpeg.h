/* ffmpeg.h: the one process-wide FFmpeg setting kpsim touches. FFmpeg's log level is global
 * state of the process, so only a program's main() may call this; libraries never do. */
#ifndef KP_FFMPEG_H
#define KP_FFMPEG_H

#include "kp/log.h"

/* Maps kpsim's level to FFmpeg's: FFmpeg prints only at debug/trace, and its errors at
 * warn and above are reported by kpsim itself with context. */
void kp_ffmpeg_set_log_level(kp_log_level level);

#endif
