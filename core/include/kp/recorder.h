/* recorder.h: the recording plugin. It listens to every event of a player and keeps, in
 * order, {seq, t (virtual ms), pos (seconds), type, payload}: the trace that scenarios assert
 * and that `kpsim record` turns into an expectation. The recorder owns the recorded
 * payloads (deep copies); kp_recorder_get returns borrowed pointers valid until the recorder
 * is freed (it is freed with its player).
 */
#ifndef KP_RECORDER_H
#define KP_RECORDER_H

#include "kp/player.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kp_recorded {
    uint64_t seq; /* 1-based */
    int64_t t_ms;
    double pos;
    kp_event_type type;
    const char *name;
    json_t *payload; /* NULL when the event had none */
} kp_recorded;

typedef struct kp_recorder kp_recorder;

/* Replaces `from` with `to` in every string of the payloads recorded from now on (the
 * harness maps the mock back-end's ephemeral origin to "{backend}", so traces are the same
 * byte for byte on every run). At most 4 rules; returns 0 or KP_ERANGE / KP_ENOMEM. */
int kp_recorder_normalize(kp_recorder *r, const char *from, const char *to);

/* The plugin descriptor (an instrument: not listed among the player's plugins). */
extern const kp_plugin_desc kp_recorder_plugin;

size_t kp_recorder_count(const kp_recorder *r);
const kp_recorded *kp_recorder_get(const kp_recorder *r, size_t i);
/* One JSON object per event, the trace line format of SCENARIOS.md:
 * {"seq":N,"t":MS,"pos":SECONDS,"type":"...","payload":{...}} (payload {} when none).
 * New reference owned by the caller. */
json_t *kp_recorded_json(const kp_recorded *e);

#endif
