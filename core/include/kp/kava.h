/* kava.h: KAVA, Kaltura Advanced Video Analytics (what playkit-js-kava 1.15.2 is to the web
 * player), as a player plugin.
 *
 * The plugin listens on the player's bus and sends one beacon per analytics event to
 * `serviceUrl` (service=analytics&action=trackEvent) through the player's network client:
 * real HTTP, virtual time. Its timer ticks once a virtual second from the first `playing`;
 * a VIEW goes out on the first `playing` and every `viewEventCountdown` ticks of playing
 * after that, a stopped (paused) timer resets the session after `resetSessionCountdown`
 * ticks. Each answer is announced on the bus as kava_request_succeeded {response, model} or
 * kava_request_failed {error, model}; a failed beacon never touches playback.
 *
 * It is enabled by `plugins.kava` in the player configuration (player.c's plugin table),
 * which passes the whole player configuration as the create argument: partnerId, ks,
 * referrer, uiConfId and playerVersion default from it the way KalturaPlayer fills the
 * plugin's config templates; entryId comes from the media being played. sessionId, unless
 * configured, is deterministic: kp_kava_session_id().
 *
 * The beacon builder (kp_kava_params, kp_kava_request) is pure and public for unit tests and
 * for tools that want the exact wire form. Strings returned are malloc'd, owned by the
 * caller; JSON values returned are new references.
 */
#ifndef KP_KAVA_H
#define KP_KAVA_H

#include "kp/player.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* The player events KAVA sends (kava-event-model.ts: name, eventType). */
#define KP_KAVA_EVENT_MAP(XX)        \
    XX(IMPRESSION, 1)                \
    XX(PLAY_REQUEST, 2)              \
    XX(PLAY, 3)                      \
    XX(RESUME, 4)                    \
    XX(PLAY_REACHED_25_PERCENT, 11)  \
    XX(PLAY_REACHED_50_PERCENT, 12)  \
    XX(PLAY_REACHED_75_PERCENT, 13)  \
    XX(PLAY_REACHED_100_PERCENT, 14) \
    XX(PLAY_REACHED_90_PERCENT, 15)  \
    XX(ENTER_FULLSCREEN, 31)         \
    XX(EXIT_FULLSCREEN, 32)          \
    XX(PAUSE, 33)                    \
    XX(REPLAY, 34)                   \
    XX(SEEK, 35)                     \
    XX(CAPTIONS, 38)                 \
    XX(SOURCE_SELECTED, 39)          \
    XX(SPEED, 41)                    \
    XX(AUDIO_SELECTED, 42)           \
    XX(FLAVOR_SWITCH, 43)            \
    XX(BUFFER_START, 45)             \
    XX(BUFFER_END, 46)               \
    XX(ERROR, 98)                    \
    XX(VIEW, 99)

typedef enum kp_kava_event {
#define XX(name, id) KP_KAVA_##name = id,
    KP_KAVA_EVENT_MAP(XX)
#undef XX
} kp_kava_event;

/* "PLAY_REQUEST" for 2; NULL for a number that is no KAVA event. */
const char *kp_kava_event_name(int event_type);
/* The eventType of a name ("VIEW" → 99), or -1. */
int kp_kava_event_lookup(const char *name);

/* ErrorPosition of an ERROR beacon. */
enum { KP_KAVA_PRE_PLAYING = 1, KP_KAVA_MID_STREAM = 2, KP_KAVA_PRE_PLAY = 3 };

/* What a beacon reports: the plugin's model at the moment it is sent. Strings are borrowed;
 * a NULL or "" optional string is left out of the beacon, as the real plugin leaves out
 * unset fields. */
typedef struct kp_kava_snapshot {
    /* common to every beacon (getEventModel) */
    long long partner_id;
    const char *entry_id;
    const char *session_id;
    int event_index;
    const char *referrer;
    const char *delivery_type; /* "hls", "dash", "url" */
    const char *playback_type; /* "vod", "live", "dvr" */
    const char *client_ver;    /* player version: clientTag is "html5:v" + it */
    double position;
    double playback_speed;
    int player_skin; /* 1 player */
    /* common when set */
    const char *ks;
    const char *ui_conf_id;
    const char *playlist_id;
    const char *playback_context;
    const char *application;
    const char *application_ver;
    const char *kaltura_application; /* the id, "21" for PLAYER */
    const char *kaltura_application_ver;
    const char *user_id;
    const char *custom_var[3];
    const char *caption;
    const char *persistent_session_id;
    double session_start_time; /* 0: none yet */
    /* per event */
    const char *loaded_plugins; /* IMPRESSION */
    double buffer_time, buffer_time_sum;
    double actual_bitrate, average_bitrate;                  /* kbps */
    double join_time;                                        /* PLAY */
    bool can_play;                                           /* PLAY */
    double play_time_sum;                                    /* VIEW */
    const char *audio_language;                              /* VIEW, AUDIO_SELECTED (language) */
    int sound_mode, tab_mode, viewability_mode, screen_mode; /* 1 off/2 on ... */
    double target_position;                                  /* SEEK */
    int error_code, error_position;                          /* ERROR */
    const json_t *error_details;                             /* ERROR: error.data */
} kp_kava_snapshot;

/* The beacon's parameters for `event_type`: the common ones and the event's own, as a JSON
 * object (numbers as numbers, strings as strings). NULL for an unknown type or out of memory. */
json_t *kp_kava_params(int event_type, const kp_kava_snapshot *s);

/* The HTTP request of a beacon (OVPAnalyticsService.trackEvent): the provider's base params
 * apiVersion "3.3.0" and format 1, then `params` on top.
 *   post: *url = service_url?service=analytics&action=trackEvent&eventType=..&partnerId=..
 *         &entryId=..&sessionId=..  and *body = the JSON of every other parameter;
 *   get:  *url carries every parameter (URL-encoded), *body = NULL.
 * Returns 0, KP_EINVAL (no service_url or params not an object) or KP_ENOMEM. */
int kp_kava_request(const char *service_url, const json_t *params, bool post, char **url,
                    char **body);

/* The deterministic session id of the reference player's KAVA: a version-4-shaped UUID drawn
 * from kp_rng seeded with "kpsim-kava:<partnerId>:<entryId>" (same entry, same id). */
void kp_kava_session_id(long long partner_id, const char *entry_id, char out[37]);

/* The plugin (create's arg: the player configuration, borrowed during create). */
extern const kp_plugin_desc kp_kava_plugin;

#endif
