/* state.h: the player state machine of playkit-js StateManager (state-manager.ts).
 *
 * States idle, loading, paused, playing, buffering; transitions are driven by the events the
 * player relays (reference/kaltura-core.md §1.5). kp_state_next() is a pure function so the
 * table can be tested on its own; the player keeps the current and previous state.
 */
#ifndef KP_STATE_H
#define KP_STATE_H

#include "kp/event.h"

#include <stdbool.h>

typedef enum kp_state {
    KP_STATE_IDLE = 0,
    KP_STATE_LOADING,
    KP_STATE_PAUSED,
    KP_STATE_PLAYING,
    KP_STATE_BUFFERING
} kp_state;

const char *kp_state_name(kp_state s);

/* The state after `ev` in state `cur`. `seeking` is the element's seeking flag (decides
 * playing+waiting), `prev` the state before `cur` (decides loading+seeked), `critical` whether
 * an `error` event is CRITICAL (RECOVERABLE errors change nothing). Returns cur when the
 * event causes no transition. */
kp_state kp_state_next(kp_state cur, kp_state prev, kp_event_type ev, bool seeking, bool critical);

#endif
