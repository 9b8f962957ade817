/* player_priv.h: the reference player's state, shared by player.c (events, state machine,
 * engines, provider glue) and playlist.c (the playlist manager). Private to core. */
#ifndef KP_PLAYER_PRIV_H
#define KP_PLAYER_PRIV_H

#include "engine.h"
#include "kp/player.h"
#include "kp/provider.h"
#include "media.h"
#include "platform.h"
#include "state.h"

#include "kp/codec.h"

#include <jansson.h>
#include <stdbool.h>

typedef struct kp_playlist_state {
    json_t *playlist;          /* the provider's playlist object, while a playlist is active */
    json_t *entries;           /* loadPlaylistByEntryList: the entries given (mediaInfo objects) */
    json_t *request;           /* what load_playlist asked for */
    size_t index;              /* the current item */
    int retry;                 /* OVP empty-playlist retries so far */
    bool item_changed_pending; /* emit playlistitemchanged once the item's media resolves */
    uint64_t req;              /* provider request in flight */
    kp_task_id retry_task;
} kp_playlist_state;

typedef struct plugin_slot {
    const kp_plugin_desc *desc;
    void *state;
} plugin_slot;

struct kp_player {
    kp_sched *sched;
    kp_net *net;
    kp_log *log;
    json_t *config;
    kp_bus *bus;
    kp_media *media;
    kp_rng rng;
    char session_uuid[37];
    const kp_platform *platform; /* capability profile (platform.h), chrome by default */

    plugin_slot *plugins;
    size_t n_plugins;

    /* provider */
    kp_provider_kind provider_kind;
    kp_provider_opts popts;
    char *client_tag;
    uint64_t provider_req;
    json_t *media_info; /* the mediaInfo being loaded (its strings back the provider calls) */
    bool loading_media;

    /* playlist (playlist.c) */
    kp_playlist_state pl;

    /* per media */
    bool had_media;   /* a loadMedia happened before: the next one resets */
    bool first_media; /* the current media is the instance's first */
    json_t *media_config;
    const kp_engine_ops *engine_ops;
    void *engine;
    json_t *selected_source;
    int key_system;     /* the selected source's key system (kp_drm_system), or -1 */
    struct kp_eme *eme; /* the selected source's EME when it has drmData (eme.h) */
    bool engine_loading, ready, play_after_ready, play_requested;
    bool playback_start_fired, first_play_fired, first_playing_fired;
    bool percent_on;
    bool percent_fired[5];
    kp_task_id tasks[4]; /* post-source tasks: layout, visibility, autoplay, playbackended */
    bool force_autoplay; /* a playlist item after the first, once playback had started */

    bool muted;
    double volume;
    kp_state state, prev_state;
    kp_task_id waiting_task;
    bool error_preset;

    struct kp_ads *ads; /* the ads plugin (ads.h), when the config enables it; owned by plugins */
    bool ended_held;    /* playbackended waits for the ads (a postroll) */
};

void kp__player_emit(kp_player *p, kp_event_type type, json_t *payload);
/* An `error` event (state machine first, then the event, then the UI preset switch). */
void kp__player_raise_error(kp_player *p, json_t *err);
/* KalturaPlayer.loadMedia, used by the API and by the playlist manager. */
int kp__player_load(kp_player *p, const json_t *media_info);
/* Sends a provider request through the player's network; cb gets the response. */
uint64_t kp__player_post(kp_player *p, const char *url, const json_t *body, kp_http_fn cb);
/* Turns a provider HTTP response into an outcome (borrowing from r). */
void kp__player_outcome(const kp_http_response *r, kp_http_outcome *h);

/* ads.c: the content may play now (the preroll is over or failed) */
void kp__player_ads_release(kp_player *p);
/* ads.c: every ad break is over; a held playbackended goes out now */
void kp__player_ads_ended(kp_player *p);

/* playlist.c */
void kp__playlist_media_loaded(kp_player *p); /* the current item's media resolved */
void kp__playlist_playback_ended(kp_player *p);
void kp__playlist_free(kp_player *p);

#endif
