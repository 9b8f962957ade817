/* player.h: the reference player (what KalturaPlayer is to a web page).
 *
 * A player is created on a scheduler and a network client, with a Kaltura Player
 * configuration (the same JSON tree and key names as KalturaPlayer.setup(): playback.*,
 * provider.*, abr.*, plugins.*). Its API mirrors the web player's: load_media, play, pause,
 * seek, set_muted, set_volume. Every call returns at once; what it causes happens on the
 * virtual clock and is announced as events on the player's bus, where plugins listen.
 *
 * The player owns its engines, media element and plugins; it borrows the scheduler, the
 * network client and the logger, which must outlive it.
 */
#ifndef KP_PLAYER_H
#define KP_PLAYER_H

#include "kp/event.h"
#include "kp/log.h"
#include "kp/net.h"
#include "kp/sched.h"

#include <jansson.h>
#include <stdbool.h>

/* The Kaltura Player version the reference player follows (clientTag html5:v<version>). */
#define KP_PLAYER_VERSION "3.17.95"

typedef struct kp_player kp_player;

/* Which back-end the player talks to: the OVP provider (kaltura-ovp-player) or the OTT one
 * (kaltura-ott-player). */
typedef enum kp_provider_kind { KP_PROVIDER_OVP = 0, KP_PROVIDER_OTT } kp_provider_kind;

/* config: the Kaltura Player configuration (borrowed; the player copies what it needs).
 * provider.partnerId and provider.env.serviceUrl say where the back-end is.
 * Returns NULL when out of memory. */
kp_player *kp_player_new(kp_sched *sched, kp_net *net, const json_t *config, kp_log *log);
/* Destroys plugins, engine and element. No event is emitted. */
void kp_player_free(kp_player *p);

kp_bus *kp_player_bus(kp_player *p);

/* mediaInfo: {"entryId": "..."} or {"referenceId": "..."} (optional "ks"); with the OTT
 * provider also mediaType, contextType, protocol, fileIds, streamerType, urlType,
 * assetReferenceType, formats, adapterData (Kaltura's names).
 * Returns 0, or KP_EINVAL for a mediaInfo without an id (nothing happens then). */
int kp_player_load_media(kp_player *p, const json_t *media_info);
/* Chooses the provider (before the first load). */
void kp_player_set_provider(kp_player *p, kp_provider_kind kind);
/* Chooses the platform the player runs on (before load_media): one of kp_player_platforms().
 * It decides which formats, adapters and key systems source selection may use, the
 * preferNative and drm.keySystem defaults, and the autoplay policy. The default is "chrome".
 * Returns 0, or KP_EINVAL for an unknown name (logged with the known ones; nothing changes). */
int kp_player_set_platform(kp_player *p, const char *name);
/* The platform in use ("chrome" ...). */
const char *kp_player_platform(const kp_player *p);
/* The known platform names, comma-separated (static). */
const char *kp_player_platforms(void);
/* KalturaPlayer.loadPlaylist({playlistId}) or loadPlaylistByEntryList({entries: [{entryId},
 * ...]}): info is {"playlistId": "..."} or {"entries": [mediaInfo, ...]}. The playlist's items
 * then play in turn (playlist.options.autoContinue, default true). Returns 0 or KP_EINVAL. */
int kp_player_load_playlist(kp_player *p, const json_t *info);
void kp_player_play(kp_player *p);
void kp_player_pause(kp_player *p);
/* Seeks (seconds); clamped to [0, duration - 0.1] for VOD, as the web player does. */
void kp_player_seek(kp_player *p, double seconds);
/* The viewer presses "skip ad": skips the playing ad once it can be skipped (adcanskip).
 * Returns 0, or KP_ESTATE when no skippable ad is playing (nothing happens). */
int kp_player_skip_ad(kp_player *p);
void kp_player_set_muted(kp_player *p, bool muted);
void kp_player_set_volume(kp_player *p, double volume);

/* Observers. */
double kp_player_current_time(const kp_player *p);
double kp_player_duration(const kp_player *p); /* NaN when unknown */
bool kp_player_paused(const kp_player *p);
bool kp_player_ended(const kp_player *p);
const char *kp_player_state(const kp_player *p); /* "idle", "loading", ... */
/* The provider's media config of the current media, or NULL (borrowed). */
const json_t *kp_player_media_config(const kp_player *p);

/* ---- plugins ---- */

typedef struct kp_plugin_desc {
    const char *name;
    /* Instruments of the harness (the recorder) are not player plugins: they are not listed in
     * registeredpluginslistevent, as a page's own listeners are not. */
    bool instrument;
    /* Returns the plugin's state, or NULL on failure. config may be NULL. */
    void *(*create)(kp_player *p, const json_t *config, void *arg);
    /* A new media is about to load (KalturaPlayer.reset → plugin reset). May be NULL. */
    void (*reset)(void *state);
    void (*destroy)(void *state);
} kp_plugin_desc;

/* Adds a plugin; its listeners go after the player's own (as in kaltura-player-js, where
 * plugins register after the player's bindings). Returns 0 and the state in *state_out
 * (may be NULL), or a negative KP_E* code. */
int kp_player_add_plugin(kp_player *p, const kp_plugin_desc *desc, const json_t *config, void *arg,
                         void **state_out);

#endif
