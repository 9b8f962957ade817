/* event.h: the player's event vocabulary and its synchronous event bus.
 *
 * Event names are the Kaltura Player 3.x strings (reference/kaltura-core.md §1). Dispatch
 * follows playkit-js FakeEventTarget: synchronous, listeners called in registration order
 * from a snapshot taken when the dispatch starts, nested dispatch allowed (a listener may
 * emit; the nested event reaches every listener before the outer dispatch continues).
 *
 * The bus owns each event's payload for the duration of the dispatch only; a listener that
 * wants to keep it takes its own reference (json_incref) or a copy.
 */
#ifndef KP_EVENT_H
#define KP_EVENT_H

#include "kp/sched.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Every event type the reference player can emit, and the ones it knows of but does not
 * emit yet (ads, DRM, tracks ...). Scenario expectations may only name these. */
#define KP_EVENT_MAP(XX)                                            \
    /* relayed media element events (Html5EventType) */             \
    XX(ABORT, "abort")                                              \
    XX(CAN_PLAY, "canplay")                                         \
    XX(CAN_PLAY_THROUGH, "canplaythrough")                          \
    XX(DURATION_CHANGE, "durationchange")                           \
    XX(EMPTIED, "emptied")                                          \
    XX(ENDED, "ended")                                              \
    XX(ERROR, "error")                                              \
    XX(LOADED_DATA, "loadeddata")                                   \
    XX(LOADED_METADATA, "loadedmetadata")                           \
    XX(LOAD_START, "loadstart")                                     \
    XX(PAUSE, "pause")                                              \
    XX(PLAY, "play")                                                \
    XX(PLAYING, "playing")                                          \
    XX(PROGRESS, "progress")                                        \
    XX(RATE_CHANGE, "ratechange")                                   \
    XX(SEEKED, "seeked")                                            \
    XX(SEEKING, "seeking")                                          \
    XX(STALLED, "stalled")                                          \
    XX(SUSPEND, "suspend")                                          \
    XX(TIME_UPDATE, "timeupdate")                                   \
    XX(VOLUME_CHANGE, "volumechange")                               \
    XX(WAITING, "waiting")                                          \
    /* player events (CustomEventType) */                           \
    XX(MEDIA_LOADED, "medialoaded")                                 \
    XX(PLAYER_RESET, "playerreset")                                 \
    XX(PLAYER_DESTROY, "playerdestroy")                             \
    XX(PLAY_FAILED, "playfailed")                                   \
    XX(AUTOPLAY_FAILED, "autoplayfailed")                           \
    XX(FALLBACK_TO_MUTED_AUTOPLAY, "fallbacktomutedautoplay")       \
    XX(CHANGE_SOURCE_STARTED, "changesourcestarted")                \
    XX(CHANGE_SOURCE_ENDED, "changesourceended")                    \
    XX(MUTE_CHANGE, "mutechange")                                   \
    XX(VIDEO_TRACK_CHANGED, "videotrackchanged")                    \
    XX(AUDIO_TRACK_CHANGED, "audiotrackchanged")                    \
    XX(TEXT_TRACK_CHANGED, "texttrackchanged")                      \
    XX(TRACKS_CHANGED, "trackschanged")                             \
    XX(ABR_MODE_CHANGED, "abrmodechanged")                          \
    XX(PLAYER_STATE_CHANGED, "playerstatechanged")                  \
    XX(PLAYBACK_START, "playbackstart")                             \
    XX(FIRST_PLAY, "firstplay")                                     \
    XX(FIRST_PLAYING, "firstplaying")                               \
    XX(PLAYBACK_ENDED, "playbackended")                             \
    XX(SOURCE_SELECTED, "sourceselected")                           \
    XX(RESIZE, "resize")                                            \
    XX(FRAG_LOADED, "fragloaded")                                   \
    XX(MANIFEST_LOADED, "manifestloaded")                           \
    XX(DRM_LICENSE_LOADED, "drmlicenseloaded")                      \
    XX(MEDIA_RECOVERED, "mediarecovered")                           \
    XX(PLAY_REACHED_25, "playreached25percent")                     \
    XX(PLAY_REACHED_50, "playreached50percent")                     \
    XX(PLAY_REACHED_75, "playreached75percent")                     \
    XX(PLAY_REACHED_90, "playreached90percent")                     \
    XX(PLAY_REACHED_100, "playreached100percent")                   \
    /* ad events (AdEventType) */                                   \
    XX(AD_MANIFEST_LOADED, "admanifestloaded")                      \
    XX(AD_LOADED, "adloaded")                                       \
    XX(AD_BREAK_START, "adbreakstart")                              \
    XX(AD_STARTED, "adstarted")                                     \
    XX(AD_FIRST_QUARTILE, "adfirstquartile")                        \
    XX(AD_MIDPOINT, "admidpoint")                                   \
    XX(AD_THIRD_QUARTILE, "adthirdquartile")                        \
    XX(AD_PROGRESS, "adprogress")                                   \
    XX(AD_COMPLETED, "adcompleted")                                 \
    XX(AD_SKIPPED, "adskipped")                                     \
    XX(AD_CAN_SKIP, "adcanskip")                                    \
    XX(AD_PAUSED, "adpaused")                                       \
    XX(AD_RESUMED, "adresumed")                                     \
    XX(AD_BREAK_END, "adbreakend")                                  \
    XX(ADS_COMPLETED, "adscompleted")                               \
    XX(ALL_ADS_COMPLETED, "alladscompleted")                        \
    XX(AD_ERROR, "aderror")                                         \
    /* kaltura-player-js extras */                                  \
    XX(REGISTERED_PLUGINS_LIST, "registeredpluginslistevent")       \
    XX(PLAYLIST_LOADED, "kaltura-player-playlistloaded")            \
    XX(PLAYLIST_ITEM_CHANGED, "kaltura-player-playlistitemchanged") \
    XX(PLAYLIST_ENDED, "kaltura-player-playlistended")              \
    XX(VISIBILITY_CHANGE, "visibilitychange")                       \
    XX(UI_PRESET_CHANGE, "playkit-ui-uipresetchange")               \
    /* plugin events */                                             \
    XX(KAVA_REQUEST_SUCCEEDED, "kava_request_succeeded")            \
    XX(KAVA_REQUEST_FAILED, "kava_request_failed")

typedef enum kp_event_type {
#define XX(id, name) KP_EV_##id,
    KP_EVENT_MAP(XX)
#undef XX
        KP_EV_COUNT_
} kp_event_type;

/* "playerstatechanged" for KP_EV_PLAYER_STATE_CHANGED; NULL when out of range. */
const char *kp_event_name(kp_event_type t);
/* The type for a name, or -1 when the name is not an event the player knows. */
int kp_event_lookup(const char *name);

typedef struct kp_event {
    kp_event_type type;
    const char *name;
    const json_t *payload; /* NULL when the event has no payload */
    kp_time t;             /* virtual time of dispatch */
    double pos;            /* playhead (media element currentTime) in seconds */
} kp_event;

typedef void (*kp_event_fn)(void *ud, const kp_event *ev);
typedef double (*kp_pos_fn)(void *ud);

typedef struct kp_bus kp_bus;

kp_bus *kp_bus_new(kp_sched *sched, kp_pos_fn pos, void *pos_ud);
void kp_bus_free(kp_bus *bus);
/* type < 0 listens to every event. Returns a listener id (never 0), or 0 when out of memory. */
uint64_t kp_bus_listen(kp_bus *bus, int type, kp_event_fn fn, void *ud);
void kp_bus_unlisten(kp_bus *bus, uint64_t id);
/* Dispatches synchronously and releases payload (a stolen reference; may be NULL). */
void kp_bus_emit(kp_bus *bus, kp_event_type type, json_t *payload);

#endif
