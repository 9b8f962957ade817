/* media.h: a simulated HTMLMediaElement with a MediaSource buffer, on the virtual clock.
 *
 * It implements the parts of the WHATWG media element algorithms that decide which events a
 * page sees and when (reference/kaltura-core.md §2.1): the load algorithm, readyState
 * transitions, play/pause, seeking, stalls, the end of playback and the 250 ms timeupdate
 * cadence. Engines feed it like MSE: they set the duration and append what they really
 * demuxed (per track, in microseconds); what is playable is the intersection of the video
 * and audio buffers, as in a browser.
 *
 * Events are queued as tasks on the scheduler (never delivered inside the call that caused
 * them) and go first to the "relay" sink (the player's Html5 relay, which also runs the state
 * machine) and then to the "adapter" sink (the engine, as hls.js listens to the same element
 * after playkit's Html5 engine).
 */
#ifndef KP_MEDIA_H
#define KP_MEDIA_H

#include "kp/event.h"
#include "kp/sched.h"

#include <stdbool.h>

enum {
    KP_HAVE_NOTHING = 0,
    KP_HAVE_METADATA = 1,
    KP_HAVE_CURRENT_DATA = 2,
    KP_HAVE_FUTURE_DATA = 3,
    KP_HAVE_ENOUGH_DATA = 4
};

/* Model constants (documented in docs/model.md). */
#define KP_MEDIA_TIMEUPDATE_PERIOD KP_MS(250)  /* Chromium fires timeupdate about every 250 ms */
#define KP_MEDIA_ENOUGH_AHEAD      KP_MS(2500) /* buffered ahead needed to (re)start playback */
#define KP_MEDIA_SEEK_DECODE       KP_MS(15)   /* decode time before a buffered seek completes */
#define KP_MEDIA_PLAYING_DELAY     KP_MS(4)    /* play() to `playing` when data is ready */
#define KP_MEDIA_PROGRESS_PERIOD   KP_MS(350)  /* `progress` while fetching (WHATWG, Chromium) */
#define KP_MEDIA_STALLED_TIMEOUT   KP_SEC(3)   /* `stalled`: no bytes for that long (WHATWG) */

typedef struct kp_media kp_media;
typedef void (*kp_media_sink)(void *ud, kp_event_type type);

kp_media *kp_media_new(kp_sched *sched);
void kp_media_free(kp_media *m);

void kp_media_set_relay(kp_media *m, kp_media_sink fn, void *ud);
void kp_media_set_adapter(kp_media *m, kp_media_sink fn, void *ud);

/* --- what the page sees --- */
kp_time kp_media_position(const kp_media *m); /* currentTime, microseconds */
double kp_media_current_time(const kp_media *m);
kp_time kp_media_duration(const kp_media *m); /* -1 while NaN */
bool kp_media_paused(const kp_media *m);
bool kp_media_ended(const kp_media *m);
bool kp_media_seeking(const kp_media *m);
int kp_media_ready_state(const kp_media *m);
bool kp_media_muted(const kp_media *m);
double kp_media_volume(const kp_media *m);

/* --- element API --- */
/* Resets the element for a new source (the engine attaches a MediaSource): queues
 * `emptied` and `loadstart` (the real player resets the element before attaching). */
void kp_media_load(kp_media *m);
/* As kp_media_load for an element whose source is being replaced (shaka-player detaches the
 * previous MediaSource first): `abort`, then `emptied` and `loadstart`. */
void kp_media_reload(kp_media *m);
/* Detaches everything (no events): back to an empty element, paused. */
void kp_media_detach(kp_media *m);
void kp_media_play(kp_media *m);
void kp_media_pause(kp_media *m);
/* Seeks to pos (clamped to [0, duration]). */
void kp_media_seek(kp_media *m, kp_time pos);
void kp_media_set_muted(kp_media *m, bool muted);
void kp_media_set_volume(kp_media *m, double volume);

/* --- MediaSource side (engines) --- */
/* MediaSource.duration = d: queues durationchange when it changes. */
void kp_media_set_duration(kp_media *m, kp_time d);
/* A demuxed media segment [start, end) for a track kind (KP_TRACK_VIDEO / KP_TRACK_AUDIO).
 * The first append gives the element its metadata. */
void kp_media_append(kp_media *m, int track, kp_time start, kp_time end);
/* Appends for a set of tracks are complete (readiness is re-evaluated once). */
void kp_media_appended(kp_media *m);
/* MediaSource.endOfStream(): the duration becomes the highest buffered end. */
void kp_media_end_of_stream(kp_media *m);
bool kp_media_eos(const kp_media *m);
/* MediaSource.endOfStream() exactly as the MSE spec words it: the duration becomes the highest
 * buffered end, with a durationchange only when that changes it (the real player's DASH runs
 * show none when the stream ends at the MPD's duration). */
void kp_media_end_of_stream_exact(kp_media *m);

/* --- the element's own resource fetch (src= a URL, no MediaSource) --- */
/* networkState becomes LOADING: from now on `progress` fires every 350 ms while bytes
 * arrive (no event for the change itself), and `stalled` once when none arrived for 3 s
 * (again after more bytes came and stopped). */
void kp_media_net_loading(kp_media *m);
/* Bytes of the resource arrived. */
void kp_media_net_received(kp_media *m);
/* LOADING -> IDLE (the fetch stopped: all in, or enough buffered): a last `progress` when
 * bytes arrived since the previous one, then `suspend` (Chromium's order). */
void kp_media_net_idle(kp_media *m);
/* The fetch stopped on an error: no more `progress`, no `suspend` (an error follows). */
void kp_media_net_stop(kp_media *m);
/* The element's demuxer read the header: duration set, `durationchange` and
 * `loadedmetadata` (once per load). Appends may follow. */
void kp_media_set_metadata(kp_media *m, kp_time duration);
/* Every track's data of the resource is in: playback may run to the duration (unlike
 * kp_media_end_of_stream, no durationchange and the duration stays the container's). */
void kp_media_end_of_data(kp_media *m);
/* End of the playable (all-tracks) buffered range containing pos, or pos when pos is not
 * buffered. */
kp_time kp_media_buffered_end(const kp_media *m, kp_time pos);
/* Whether [pos, pos] is inside the playable buffered ranges. */
bool kp_media_is_buffered(const kp_media *m, kp_time pos);
/* The start of the first playable range that begins after pos (every track buffered from
 * there), or -1 when there is none: where a gap in front of pos ends. */
kp_time kp_media_next_buffered_start(const kp_media *m, kp_time pos);
/* One track kind's own buffer (an MSE SourceBuffer's buffered): the end of its range that
 * contains pos, or pos when pos is not in it. */
kp_time kp_media_track_buffered_end(const kp_media *m, int track, kp_time pos);

#endif
