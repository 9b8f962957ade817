/* record.h: `kpsim record`: run a scenario and write what the player did as its expectation.
 *
 * The scenario's top-level `expect:` block is replaced (or appended when it has none) with
 * one built from the recording: every event not ignored, in order, each with the payload
 * fields that carry meaning (state names, error codes, mute flags); the scenario's own ignore
 * list and request expectations are kept; `error:` is the first error's codes or null. The
 * rest of the file is left byte for byte as it was. */
#ifndef HX_RECORD_H
#define HX_RECORD_H

#include "hx/scenario.h"
#include "kp/log.h"
#include "kp/recorder.h"
#include "mbe/media.h"

#include <stddef.h>

/* The YAML text of the expect block for a recording (malloc'd). */
char *hx_record_block(const hx_scenario *sc, const kp_recorder *rec);

/* Runs the scenario at path and writes the file with the new block to output (NULL: in
 * place). Returns 0 with a one-line summary in msg, KP_EPARSE with the loader's diagnostics
 * in msg (one per line), or another KP_E* code with the reason in msg. */
int hx_record_file(const char *path, const char *output, mbe_media_cache *media, kp_log *log,
                   char *msg, size_t msglen);

#endif
