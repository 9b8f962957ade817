/* engine_progressive.h: what the NativeAdapter engines (engine_progressive.c) expose besides
 * their ops tables (engine.h): the MP4 header reader on its own, for tests and fuzzing. */
#ifndef KP_ENGINE_PROGRESSIVE_H
#define KP_ENGINE_PROGRESSIVE_H

#include "kp/sched.h"

#include <stddef.h>
#include <stdint.h>

/* Reads a whole MP4 file in memory the way the element's loader does: finds the moov among
 * the top-level boxes (before or after the mdat) and reads its sample index with libavformat.
 * Returns 0 with the number of audio and video samples and the duration (microseconds), or
 * KP_EMEDIA with the element's error message in err. */
int kp_native_mp4_probe(const uint8_t *data, size_t len, size_t *n_samples, kp_time *duration,
                        char *err, size_t errlen);

#endif
