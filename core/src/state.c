/* state.c: the StateManager transition table. */
#include "state.h"

const char *kp_state_name(kp_state s)
{
    static const char *const names[] = {"idle", "loading", "paused", "playing", "buffering"};
    return (unsigned)s < 5 ? names[s] : "idle";
}

kp_state kp_state_next(kp_state cur, kp_state prev, kp_event_type ev, bool seeking, bool critical)
{
    switch (cur) {
    case KP_STATE_IDLE:
        if (ev == KP_EV_LOAD_START)
            return KP_STATE_LOADING;
        if (ev == KP_EV_PLAY)
            return KP_STATE_BUFFERING;
        if (ev == KP_EV_SEEKED)
            return KP_STATE_PAUSED;
        break;
    case KP_STATE_LOADING:
        if (ev == KP_EV_LOADED_METADATA)
            return KP_STATE_PAUSED;
        if (ev == KP_EV_SEEKED && prev == KP_STATE_PLAYING)
            return KP_STATE_PLAYING;
        if (ev == KP_EV_ERROR && critical)
            return KP_STATE_IDLE;
        break;
    case KP_STATE_PAUSED:
        if (ev == KP_EV_PLAY || ev == KP_EV_PLAYING)
            return KP_STATE_PLAYING;
        if (ev == KP_EV_ENDED)
            return KP_STATE_IDLE;
        break;
    case KP_STATE_PLAYING:
        if (ev == KP_EV_PAUSE)
            return KP_STATE_PAUSED;
        if (ev == KP_EV_WAITING)
            return seeking ? KP_STATE_LOADING : KP_STATE_BUFFERING;
        if (ev == KP_EV_ENDED)
            return KP_STATE_IDLE;
        if (ev == KP_EV_ERROR && critical)
            return KP_STATE_IDLE;
        break;
    case KP_STATE_BUFFERING:
        if (ev == KP_EV_PLAYING)
            return KP_STATE_PLAYING;
        if (ev == KP_EV_PAUSE)
            return KP_STATE_PAUSED;
        break;
    }
    return cur;
}
