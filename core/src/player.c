/* player.c: the reference player: KalturaPlayer + playkit-js Player on the virtual clock.
 *
 * The order in which events reach plugins follows playkit-js's listener registration
 * (reference/kaltura-core.md §0): the state machine reacts before anyone sees the media
 * event that caused a transition (playerstatechanged first), firstplay/firstplaying/percent
 * events follow the event that caused them, registeredpluginslistevent precedes
 * changesourcestarted. Asynchronous browser work (layout, the autoplay capability check,
 * promise chains) is modelled as tasks with the delays in the table below, measured on the
 * real player (conformance/oracle traces); docs/model.md lists every such choice.
 */
#include "ads.h"
#include "player_priv.h"

#include "eme.h"
#include "engine.h"
#include "source_select.h"

#include "kp/buf.h"
#include "kp/codec.h"
#include "kp/err.h"
#include "kp/jsonu.h"
#include "kp/kava.h"
#include "kp/perror.h"
#include "kp/provider.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Browser-side delays, virtual (from the real player's traces, events-hls.json): */
#define LAYOUT_DELAY KP_MS(70) /* changesourceended → resize (ResizeWatcher) */
#define VISIBILITY_DELAY \
    KP_MS(100) /* changesourceended → visibilitychange (IntersectionObserver) */
#define AUTOPLAY_CHECK   KP_MS(225) /* changesourceended → playbackstart (capability probe) */
#define WAITING_DEBOUNCE KP_MS(200) /* playkit Html5 SHORT_BUFFERING_TIMEOUT */
#define DURATION_OFFSET  KP_MS(100) /* VOD seeks are clamped to duration - 0.1 s */

/* The page the reference player is embedded in (its base64 is the playManifest referrer). */
#define PAGE_URL "http://127.0.0.1/kpsim/player.html"

static const kp_engine_ops *const engines[] = {&kp_engine_hls, &kp_engine_dash,
                                               &kp_engine_progressive, &kp_engine_native_hls};

/* ---- events ---- */

void kp__player_emit(kp_player *p, kp_event_type type, json_t *payload)
{
    kp_bus_emit(p->bus, type, payload);
}

static json_t *state_json(kp_state s)
{
    return json_pack("{s:s}", "type", kp_state_name(s));
}

/* Runs the state machine for `type` (as StateManager, which listens before everyone). */
static void state_on(kp_player *p, kp_event_type type, bool critical)
{
    kp_state next =
        kp_state_next(p->state, p->prev_state, type, kp_media_seeking(p->media), critical);
    if (next == p->state)
        return;
    kp_state old = p->state;
    p->prev_state = old;
    p->state = next;
    kp__player_emit(
        p, KP_EV_PLAYER_STATE_CHANGED,
        json_pack("{s:o, s:o}", "oldState", state_json(old), "newState", state_json(next)));
}

static void ui_error_preset(void *ud)
{
    kp_player *p = ud;
    if (p->error_preset)
        return;
    p->error_preset = true;
    kp__player_emit(p, KP_EV_UI_PRESET_CHANGE,
                    json_pack("{s:s, s:s}", "from", "Playback", "to", "Error"));
}

/* An `error` event: the state machine first, then the event, then the UI's preset switch
 * (the UI re-renders asynchronously). */
void kp__player_raise_error(kp_player *p, json_t *err)
{
    bool critical = kp_json_int(err, "severity", 2) == KP_SEVERITY_CRITICAL;
    state_on(p, KP_EV_ERROR, critical);
    kp__player_emit(p, KP_EV_ERROR, err);
    if (critical)
        kp_sched_after(p->sched, 0, ui_error_preset, p);
}

static const int percent_marks[5] = {25, 50, 75, 90, 100};
static const kp_event_type percent_events[5] = {KP_EV_PLAY_REACHED_25, KP_EV_PLAY_REACHED_50,
                                                KP_EV_PLAY_REACHED_75, KP_EV_PLAY_REACHED_90,
                                                KP_EV_PLAY_REACHED_100};

/* Player._checkTimeUpdate: percent = parseFloat((currentTime/duration).toFixed(2)). */
static void check_percent(kp_player *p)
{
    kp_time d = kp_media_duration(p->media);
    if (!p->percent_on || d <= 0)
        return;
    double ratio = (double)kp_media_position(p->media) / (double)d;
    double pct = floor(ratio * 100.0 + 0.5);
    for (int i = 0; i < 5; i++) {
        bool reached = percent_marks[i] == 100 ? pct == 100.0 : pct >= percent_marks[i];
        if (reached && !p->percent_fired[i]) {
            p->percent_fired[i] = true;
            kp__player_emit(p, percent_events[i], NULL);
        }
    }
}

static void playback_ended(void *ud)
{
    kp_player *p = ud;
    p->tasks[3] = 0;
    if (p->ads && kp__ads_hold_ended(p->ads)) {
        p->ended_held = true; /* KalturaPlayer._onEnded waits for alladscompleted */
        return;
    }
    kp__player_emit(p, KP_EV_PLAYBACK_ENDED, NULL);
    kp__playlist_playback_ended(p); /* the playlist manager listens after everyone else */
}

/* A media element event, as playkit's Html5 engine relays it to the Player. */
static void handle_media_event(kp_player *p, kp_event_type type)
{
    state_on(p, type, false);
    kp__player_emit(p, type, NULL);
    switch (type) {
    case KP_EV_PLAY:
        if (!p->first_play_fired) {
            p->first_play_fired = true;
            p->percent_on = true;
            kp__player_emit(p, KP_EV_FIRST_PLAY, NULL);
        }
        break;
    case KP_EV_PLAYING:
        if (!p->first_playing_fired) {
            p->first_playing_fired = true;
            kp__player_emit(p, KP_EV_FIRST_PLAYING, NULL);
        }
        break;
    case KP_EV_TIME_UPDATE:
        check_percent(p);
        break;
    case KP_EV_ENDED:
        /* KalturaPlayer._onEnded: setTimeout(0) */
        p->tasks[3] = kp_sched_after(p->sched, 0, playback_ended, p);
        break;
    default:
        break;
    }
}

static void waiting_fire(void *ud)
{
    kp_player *p = ud;
    p->waiting_task = 0;
    handle_media_event(p, KP_EV_WAITING);
}

static void on_media(void *ud, kp_event_type type)
{
    kp_player *p = ud;
    if (type == KP_EV_WAITING) {
        /* Html5._handleWaiting: re-emitted only if no `playing` follows within 200 ms */
        if (!p->waiting_task)
            p->waiting_task = kp_sched_after(p->sched, WAITING_DEBOUNCE, waiting_fire, p);
        return;
    }
    if (type == KP_EV_PLAYING && p->waiting_task) {
        kp_sched_cancel(p->sched, p->waiting_task);
        p->waiting_task = 0;
    }
    handle_media_event(p, type);
}

static double bus_pos(void *ud)
{
    kp_player *p = ud;
    return kp_media_current_time(p->media);
}

/* ---- engine host ---- */

static void host_emit(void *ud, kp_event_type type, json_t *payload)
{
    kp__player_emit(ud, type, payload);
}

static void start_play(kp_player *p)
{
    p->play_after_ready = false;
    kp_media_play(p->media);
}

static void host_loaded(void *ud, json_t *tracks)
{
    kp_player *p = ud;
    /* the ready promise's listener predates KalturaPlayer's forwarders only for the first
     * media of an instance: medialoaded then trackschanged; afterwards the reverse */
    json_t *payload = json_pack("{s:o}", "tracks", tracks);
    if (p->first_media) {
        kp__player_emit(p, KP_EV_MEDIA_LOADED, NULL);
        kp__player_emit(p, KP_EV_TRACKS_CHANGED, payload);
    } else {
        kp__player_emit(p, KP_EV_TRACKS_CHANGED, payload);
        kp__player_emit(p, KP_EV_MEDIA_LOADED, NULL);
    }
    p->ready = true;
    if (p->play_after_ready)
        start_play(p);
}

static void host_fail(void *ud, json_t *error)
{
    kp_player *p = ud;
    KP_LOG_I(p->log, "player", "engine error %lld", kp_json_int(error, "code", 0));
    kp__player_raise_error(p, error);
}

static void load_engine(kp_player *p)
{
    if (p->engine_loading || !p->engine)
        return;
    p->engine_loading = true;
    p->engine_ops->load(p->engine);
}

/* Load if needed, then play when ready. */
static void play_content(kp_player *p)
{
    if (!p->engine)
        return;
    if (!p->ready) {
        p->play_after_ready = true;
        load_engine(p);
        return;
    }
    start_play(p);
}

/* The playback middleware chain: the ads' layer first (AdLayoutMiddleware + the IMA
 * middleware hold play while a preroll is due; the content preloads meanwhile unless
 * plugins.ima.disableMediaPreload), then load and play. */
static void middleware_play(void *ud)
{
    kp_player *p = ud;
    if (!p->engine)
        return;
    if (p->ads && kp__ads_hold_play(p->ads)) {
        if (!kp_json_bool(p->config, "plugins.ima.disableMediaPreload", false))
            load_engine(p);
        return;
    }
    play_content(p);
}

void kp__player_ads_release(kp_player *p)
{
    play_content(p);
}

void kp__player_ads_ended(kp_player *p)
{
    if (!p->ended_held)
        return;
    p->ended_held = false;
    kp__player_emit(p, KP_EV_PLAYBACK_ENDED, NULL);
    kp__playlist_playback_ended(p);
}

/* ---- source selection (Player.setSources / _selectEngineByPriority) ---- */

/* The adapter an engine stands for: its own word, else the MSE adapter of its format (hls.js
 * for hls, shaka for dash) or the element for anything else. */
static const char *engine_adapter(const kp_engine_ops *ops)
{
    if (ops->adapter)
        return ops->adapter;
    if (strcmp(ops->format, "hls") == 0 || strcmp(ops->format, "dash") == 0)
        return ops->format;
    return "native";
}

/* The engine of engines[] for an adapter and format that takes the source, or NULL. */
static const kp_engine_ops *find_engine(const kp_player *p, kp_adapter a, const char *format,
                                        const json_t *source)
{
    for (size_t i = 0; i < sizeof(engines) / sizeof(engines[0]); i++) {
        const kp_engine_ops *ops = engines[i];
        if (strcmp(ops->format, format) == 0 &&
            strcmp(engine_adapter(ops), kp_adapter_name(a)) == 0 &&
            ops->can_play(source, p->config))
            return ops;
    }
    return NULL;
}

static bool engine_available(void *ud, kp_adapter a, const char *format, const json_t *source)
{
    return find_engine(ud, a, format, source) != NULL;
}

static bool select_source(kp_player *p, const json_t *sources)
{
    kp_source_choice c;
    if (kp_source_select(sources, p->config, p->platform, engine_available, p, &c) != KP_OK)
        return false;
    const kp_engine_ops *ops = find_engine(p, c.adapter, c.format, c.source);
    /* a source with drmData gets its EME: the engine asks it for keys; a platform without the
     * source's key systems fails there, when the content names them (shaka's DrmEngine) */
    const json_t *drm_data = json_object_get(c.source, "drmData");
    if (ops && json_array_size(drm_data) > 0) {
        const char *pref = kp_json_str(p->config, "drm.keySystem", "");
        kp_eme_host eh = {.sched = p->sched,
                          .net = p->net,
                          .log = p->log,
                          .ud = p,
                          .emit = host_emit,
                          .fail = host_fail,
                          .retry_parameters = kp_json_path(
                              p->config, "playback.options.html5.dash.drm.retryParameters")};
        p->eme = kp_eme_new(&eh, drm_data, p->platform->key_systems,
                            *pref ? pref : p->platform->default_key_system);
        if (!p->eme)
            return false;
    }
    kp_engine_host host = {.eme = p->eme,
                           .sched = p->sched,
                           .net = p->net,
                           .media = p->media,
                           .log = p->log,
                           .ud = p,
                           .emit = host_emit,
                           .loaded = host_loaded,
                           .fail = host_fail,
                           .media_event = on_media};
    void *e = ops ? ops->create(&host, c.source, p->config) : NULL;
    if (!e) {
        kp_eme_free(p->eme);
        p->eme = NULL;
        return false;
    }
    KP_LOG_D(p->log, "player", "%s: %s source %s with the %s adapter (%s)", p->platform->name,
             c.format, kp_json_str(c.source, "id", "?"), kp_adapter_name(c.adapter), ops->name);
    p->engine = e;
    p->engine_ops = ops;
    p->selected_source = json_deep_copy(c.list);
    p->key_system = c.key_system;
    return true;
}

static void post_layout(void *ud)
{
    kp_player *p = ud;
    p->tasks[0] = 0;
    kp__player_emit(p, KP_EV_RESIZE, NULL);
    /* the element receives the playback attributes now; the DOM volumechange follows */
    kp_media_set_muted(p->media, p->muted);
    kp_media_set_volume(p->media, p->volume);
}

static void post_visibility(void *ud)
{
    kp_player *p = ud;
    p->tasks[1] = 0;
    kp__player_emit(p, KP_EV_VISIBILITY_CHANGE, json_pack("{s:b}", "visible", 1));
}

static void autoplay(void *ud)
{
    kp_player *p = ud;
    p->tasks[2] = 0;
    /* Player._autoPlay after getCapabilities(), with the platform's autoplay policy (the
     * chrome profile allows unmuted autoplay, as headless Chromium did for the real player) */
    if (p->platform->autoplay_unmuted || (p->muted && p->platform->autoplay_muted)) {
        kp_player_play(p);
    } else if (p->platform->autoplay_muted &&
               kp_json_bool(p->config, "playback.allowMutedAutoPlay", true)) {
        kp_player_set_muted(p, true);
        kp__player_emit(p, KP_EV_FALLBACK_TO_MUTED_AUTOPLAY, NULL);
        kp_player_play(p);
    } else {
        load_engine(p);
        kp__player_emit(p, KP_EV_AUTOPLAY_FAILED, NULL);
    }
}

static void set_sources(kp_player *p, const json_t *sources)
{
    json_t *names = json_array();
    for (size_t i = 0; i < p->n_plugins; i++)
        if (!p->plugins[i].desc->instrument)
            json_array_append_new(names, json_string(p->plugins[i].desc->name));
    kp__player_emit(p, KP_EV_REGISTERED_PLUGINS_LIST, names);
    kp__player_emit(p, KP_EV_CHANGE_SOURCE_STARTED, NULL);
    if (!select_source(p, sources)) {
        kp__player_raise_error(p, kp_perror_new(KP_SEVERITY_CRITICAL, KP_PCAT_PLAYER,
                                                KP_PCODE_NO_ENGINE_FOUND_TO_PLAY_THE_SOURCE,
                                                json_string("No Engine Found To Play The Source")));
        return;
    }
    kp__player_emit(p, KP_EV_SOURCE_SELECTED,
                    json_pack("{s:O}", "selectedSource", p->selected_source));
    kp__player_emit(p, KP_EV_MUTE_CHANGE, json_pack("{s:b}", "mute", p->muted));
    kp__player_emit(p, KP_EV_CHANGE_SOURCE_ENDED, NULL);
    p->tasks[0] = kp_sched_after(p->sched, LAYOUT_DELAY, post_layout, p);
    p->tasks[1] = kp_sched_after(p->sched, VISIBILITY_DELAY, post_visibility, p);
    const json_t *ap = kp_json_path(p->config, "playback.autoplay");
    if (json_is_true(ap) || p->force_autoplay) {
        p->tasks[2] = kp_sched_after(p->sched, AUTOPLAY_CHECK, autoplay, p);
    } else if (p->play_requested) {
        kp_sched_after(p->sched, 0, middleware_play, p);
    } else if (strcmp(kp_json_str(p->config, "playback.preload", "none"), "auto") == 0) {
        load_engine(p);
    }
}

/* kaltura-player-js addKalturaParams: playManifest URLs get the play session, the page
 * referrer and the client tag. */
static void add_kaltura_params(kp_player *p, json_t *sources)
{
    char media_uuid[37];
    kp_rng_uuid(&p->rng, media_uuid);
    char *ref64 = kp_base64_encode(PAGE_URL, strlen(PAGE_URL));
    static const char *const formats[] = {"hls", "dash", "progressive"};
    for (size_t f = 0; f < 3; f++) {
        json_t *list = json_object_get(sources, formats[f]);
        size_t i;
        json_t *src;
        json_array_foreach(list, i, src)
        {
            const char *url = kp_json_str(src, "url", NULL);
            if (!url || !strcasestr(url, "playmanifest/"))
                continue;
            char *u = kp_asprintf("%s%cplaySessionId=%s:%s&referrer=%s&clientTag=%s", url,
                                  strchr(url, '?') ? '&' : '?', p->session_uuid, media_uuid,
                                  ref64 ? ref64 : "", p->client_tag);
            if (u)
                json_object_set_new(src, "url", json_string(u));
            free(u);
        }
    }
    free(ref64);
}

void kp__player_outcome(const kp_http_response *r, kp_http_outcome *h)
{
    *h = (kp_http_outcome){
        .transport_error = r->error,
        .transport_text = r->error_text,
        .status = r->status,
        .body = r->body.data,
        .body_len = r->body.len,
        .url = r->url,
        .headers = (const char *const *)r->headers,
        .n_headers = r->n_headers,
        .attempt = 1,
        .elapsed_ms = (long long)((r->finished - r->started) / 1000),
    };
}

/* The provider's view of the stored mediaInfo (strings borrowed from it). */
static void ovp_info(const json_t *mi, kp_media_info *out)
{
    *out = (kp_media_info){.entry_id = kp_json_str(mi, "entryId", NULL),
                           .reference_id = kp_json_str(mi, "referenceId", NULL),
                           .ks = kp_json_str(mi, "ks", NULL),
                           .redirect_from_entry_id = -1};
}

#define MAX_OTT_FORMATS 16

static void ott_info(const json_t *mi, kp_ott_media_info *out, const char **formats)
{
    const json_t *id = json_object_get(mi, "entryId");
    *out = (kp_ott_media_info){
        .entry_id = kp_json_str(mi, "entryId", NULL),
        .entry_id_is_number = false,
        .ks = kp_json_str(mi, "ks", NULL),
        .media_type = kp_json_str(mi, "mediaType", NULL),
        .context_type = kp_json_str(mi, "contextType", NULL),
        .protocol = kp_json_str(mi, "protocol", NULL),
        .file_ids = kp_json_str(mi, "fileIds", NULL),
        .streamer_type = kp_json_str(mi, "streamerType", NULL),
        .url_type = kp_json_str(mi, "urlType", NULL),
        .adapter_data = json_object_get(mi, "adapterData"),
        .asset_reference_type = kp_json_str(mi, "assetReferenceType", NULL),
        .formats = formats,
    };
    /* OTT applications usually pass the asset id as a number */
    out->entry_id_is_number = json_is_string(id) && out->entry_id[0] &&
                              out->entry_id[strspn(out->entry_id, "0123456789")] == '\0';
    const json_t *f = json_object_get(mi, "formats");
    for (size_t i = 0; i < json_array_size(f) && out->n_formats < MAX_OTT_FORMATS; i++)
        if (json_is_string(json_array_get(f, i)))
            formats[out->n_formats++] = json_string_value(json_array_get(f, i));
}

static void on_provider(void *ud, const kp_http_response *r)
{
    kp_player *p = ud;
    p->provider_req = 0;
    p->loading_media = false;
    kp_http_outcome h;
    kp__player_outcome(r, &h);
    json_t *config = NULL, *error = NULL;
    int rc;
    if (p->provider_kind == KP_PROVIDER_OTT) {
        const char *formats[MAX_OTT_FORMATS];
        kp_ott_media_info mi;
        ott_info(p->media_info, &mi, formats);
        rc = kp_ott_media_parse(&p->popts, &mi, &h, &config, &error);
    } else {
        kp_media_info mi;
        ovp_info(p->media_info, &mi);
        rc = kp_ovp_media_parse(&p->popts, &mi, &h, &config, &error);
    }
    if (rc != KP_OK)
        error = kp_perror_new(KP_SEVERITY_CRITICAL, KP_PROVCAT_PROVIDER, KP_PROVCODE_ERROR, NULL);
    if (error) {
        KP_LOG_I(p->log, "player", "provider error %lld", kp_json_int(error, "code", 0));
        kp__player_raise_error(p, kp_perror_load_failed(error));
        json_decref(error);
        return;
    }
    p->media_config = config;
    json_t *sources = json_object_get(config, "sources");
    add_kaltura_params(p, sources);
    set_sources(p, sources);
    kp__playlist_media_loaded(p);
}

uint64_t kp__player_post(kp_player *p, const char *url, const json_t *body, kp_http_fn cb)
{
    char *text = json_dumps(body, JSON_COMPACT);
    const char *headers[] = {"Content-Type: application/json", NULL};
    kp_http_request req = {.method = "POST",
                           .url = url,
                           .headers = headers,
                           .body = text,
                           .body_len = text ? strlen(text) : 0};
    uint64_t id = text ? kp_net_fetch(p->net, &req, cb, p) : 0;
    free(text);
    return id;
}

/* ---- lifecycle ---- */

/* The plugins a configuration can enable, created when the player is made, in this table's
 * order, as KalturaPlayer's plugin manager does (before the page's own instruments). A plugin
 * is on when `enabled` says so, or (no `enabled`) when `plugins.<name>` is an object without
 * `disable: true`. Each gets its `plugins.<name>` object as config and the whole player
 * configuration as arg (what KalturaPlayer's config templates fill in: partnerId, ks ...). */
static const struct {
    const char *name;
    const kp_plugin_desc *desc;
    bool (*enabled)(const json_t *config);
} config_plugins[] = {
    {"ima", &kp_ads_plugin, kp_ads_enabled},
    {"kava", &kp_kava_plugin, NULL},
};

static int add_config_plugins(kp_player *p)
{
    const json_t *plugins = json_object_get(p->config, "plugins");
    for (size_t i = 0; i < sizeof(config_plugins) / sizeof(config_plugins[0]); i++) {
        const json_t *cfg = json_object_get(plugins, config_plugins[i].name);
        bool on = config_plugins[i].enabled
                      ? config_plugins[i].enabled(p->config)
                      : json_is_object(cfg) && !kp_json_bool(cfg, "disable", false);
        if (!on)
            continue;
        void *st = NULL;
        int rc = kp_player_add_plugin(p, config_plugins[i].desc, cfg, p->config, &st);
        if (rc != KP_OK) {
            KP_LOG_E(p->log, "player", "plugin %s could not be created: %s", config_plugins[i].name,
                     kp_strerror(rc));
            return rc;
        }
        if (config_plugins[i].desc == &kp_ads_plugin)
            p->ads = st;
    }
    return KP_OK;
}

kp_player *kp_player_new(kp_sched *sched, kp_net *net, const json_t *config, kp_log *log)
{
    kp_player *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->sched = sched;
    p->net = net;
    p->log = log;
    p->config = config ? json_deep_copy(config) : json_object();
    p->media = kp_media_new(sched);
    p->bus = kp_bus_new(sched, bus_pos, p);
    p->client_tag = kp_strdup("html5:v" KP_PLAYER_VERSION);
    if (!p->config || !p->media || !p->bus || !p->client_tag) {
        kp_player_free(p);
        return NULL;
    }
    kp_media_set_relay(p->media, on_media, p);
    /* play session ids are drawn from a generator seeded by the partner: same run, same ids */
    kp_rng_seed(&p->rng,
                0x6b7073696dULL ^ (uint64_t)kp_json_int(p->config, "provider.partnerId", 0));
    kp_rng_uuid(&p->rng, p->session_uuid);

    kp_provider_opts_init(&p->popts);
    p->popts.service_url = kp_json_str(p->config, "provider.env.serviceUrl", NULL);
    p->popts.cdn_url = kp_json_str(p->config, "provider.env.cdnUrl", NULL);
    p->popts.partner_id = kp_json_int(p->config, "provider.partnerId", 0);
    p->popts.ks = kp_json_str(p->config, "provider.ks", NULL);
    p->popts.widget_id = kp_json_str(p->config, "provider.widgetId", NULL);
    p->popts.uiconf_id = kp_json_int(p->config, "provider.uiConfId", 0);
    p->popts.referrer = kp_json_str(p->config, "provider.referrer", NULL);
    p->popts.client_tag = p->client_tag;
    p->muted = kp_json_bool(p->config, "playback.muted", false);
    p->volume = kp_json_num(p->config, "playback.volume", 1.0);
    p->state = p->prev_state = KP_STATE_IDLE;
    p->platform = kp_platform_find(KP_PLATFORM_DEFAULT);
    p->key_system = -1;
    if (add_config_plugins(p) != KP_OK) {
        kp_player_free(p);
        return NULL;
    }
    return p;
}

static void clear_media(kp_player *p)
{
    for (int i = 0; i < 4; i++) {
        kp_sched_cancel(p->sched, p->tasks[i]);
        p->tasks[i] = 0;
    }
    kp_sched_cancel(p->sched, p->waiting_task);
    p->waiting_task = 0;
    if (p->provider_req)
        kp_net_cancel(p->net, p->provider_req);
    p->provider_req = 0;
    p->loading_media = false;
    if (p->engine)
        p->engine_ops->destroy(p->engine);
    p->engine = NULL;
    p->engine_ops = NULL;
    kp_eme_free(p->eme);
    p->eme = NULL;
    kp_media_detach(p->media);
    json_decref(p->media_config);
    p->media_config = NULL;
    json_decref(p->selected_source);
    p->selected_source = NULL;
    p->key_system = -1;
    p->engine_loading = p->ready = p->play_after_ready = p->play_requested = false;
    p->playback_start_fired = p->first_play_fired = p->first_playing_fired = false;
    p->percent_on = false;
    memset(p->percent_fired, 0, sizeof(p->percent_fired));
    p->error_preset = false;
    p->ended_held = false;
}

void kp_player_free(kp_player *p)
{
    if (!p)
        return;
    for (size_t i = p->n_plugins; i-- > 0;)
        if (p->plugins[i].desc->destroy)
            p->plugins[i].desc->destroy(p->plugins[i].state);
    free(p->plugins);
    if (p->media)
        clear_media(p);
    kp_media_free(p->media);
    kp_bus_free(p->bus);
    json_decref(p->config);
    free(p->client_tag);
    json_decref(p->media_info);
    kp__playlist_free(p);
    free(p);
}

kp_bus *kp_player_bus(kp_player *p)
{
    return p->bus;
}

int kp_player_add_plugin(kp_player *p, const kp_plugin_desc *desc, const json_t *config, void *arg,
                         void **state_out)
{
    plugin_slot *s = realloc(p->plugins, (p->n_plugins + 1) * sizeof(*s));
    if (!s)
        return KP_ENOMEM;
    p->plugins = s;
    void *st = desc->create(p, config, arg);
    if (!st)
        return KP_EINVAL;
    p->plugins[p->n_plugins++] = (plugin_slot){desc, st};
    if (state_out)
        *state_out = st;
    return KP_OK;
}

/* ---- API ---- */

int kp__player_load(kp_player *p, const json_t *media_info)
{
    const char *entry = kp_json_str(media_info, "entryId", NULL);
    const char *ref = kp_json_str(media_info, "referenceId", NULL);
    if (!json_is_object(media_info) || (!entry && !ref))
        return KP_EINVAL;
    if (p->had_media) {
        /* KalturaPlayer.reset(): plugins first, then the player */
        for (size_t i = 0; i < p->n_plugins; i++)
            if (p->plugins[i].desc->reset)
                p->plugins[i].desc->reset(p->plugins[i].state);
        kp__player_emit(p, KP_EV_PLAYER_RESET, json_pack("{s:b}", "isChangeMedia", 0));
    }
    clear_media(p);
    p->first_media = !p->had_media;
    p->had_media = true;
    json_t *copy = json_deep_copy(media_info);
    json_decref(p->media_info);
    p->media_info = copy;
    if (!copy)
        return KP_ENOMEM;
    char *url = NULL;
    json_t *body = NULL, *error = NULL;
    int rc;
    if (p->provider_kind == KP_PROVIDER_OTT) {
        const char *formats[MAX_OTT_FORMATS];
        kp_ott_media_info mi;
        ott_info(p->media_info, &mi, formats);
        rc = kp_ott_media_request(&p->popts, &mi, &url, &body, &error);
    } else {
        kp_media_info mi;
        ovp_info(p->media_info, &mi);
        rc = kp_ovp_media_request(&p->popts, &mi, &url, &body, &error);
    }
    if (rc != KP_OK) {
        if (!error)
            error = kp_perror_new(KP_SEVERITY_CRITICAL, KP_PROVCAT_PROVIDER,
                                  KP_PROVCODE_MISSING_MANDATORY_PARAMS, NULL);
        kp__player_raise_error(p, kp_perror_load_failed(error));
        json_decref(error);
        return KP_OK;
    }
    p->loading_media = true;
    p->provider_req = kp__player_post(p, url, body, on_provider);
    if (!p->provider_req) {
        p->loading_media = false;
        kp__player_raise_error(p, kp_perror_load_failed(kp_perror_new(
                                      KP_SEVERITY_CRITICAL, KP_PROVCAT_NETWORK,
                                      KP_PROVCODE_HTTP_ERROR, json_pack("{s:s}", "url", url))));
    }
    free(url);
    json_decref(body);
    return KP_OK;
}

int kp_player_load_media(kp_player *p, const json_t *media_info)
{
    kp__playlist_free(p); /* loadMedia ends any playlist */
    return kp__player_load(p, media_info);
}

void kp_player_set_provider(kp_player *p, kp_provider_kind kind)
{
    p->provider_kind = kind;
    /* the OTT provider sends a clientTag only when its option says so */
    p->popts.client_tag = kind == KP_PROVIDER_OTT
                              ? kp_json_str(p->config, "provider.clientTag", NULL)
                              : p->client_tag;
}

int kp_player_set_platform(kp_player *p, const char *name)
{
    const kp_platform *pf = kp_platform_find(name);
    if (!pf) {
        KP_LOG_W(p->log, "player", "unknown platform '%s' (known: %s)", name ? name : "(null)",
                 kp_platform_names());
        return KP_EINVAL;
    }
    p->platform = pf;
    return KP_OK;
}

const char *kp_player_platform(const kp_player *p)
{
    return p->platform->name;
}

const char *kp_player_platforms(void)
{
    return kp_platform_names();
}

void kp_player_play(kp_player *p)
{
    if (p->ads && kp__ads_resume(p->ads))
        return;
    if (!p->playback_start_fired) {
        p->playback_start_fired = true;
        kp__player_emit(p, KP_EV_PLAYBACK_START, NULL);
    }
    if (p->loading_media) {
        p->play_requested = true; /* played once the source is selected */
        return;
    }
    if (!p->engine) {
        kp__player_raise_error(p, kp_perror_new(KP_SEVERITY_CRITICAL, KP_PCAT_PLAYER,
                                                KP_PCODE_NO_SOURCE_PROVIDED,
                                                json_string("No Source Provided")));
        return;
    }
    kp_sched_after(p->sched, 0, middleware_play, p);
}

int kp_player_skip_ad(kp_player *p)
{
    return p->ads ? kp__ads_skip(p->ads) : KP_ESTATE;
}

void kp_player_pause(kp_player *p)
{
    if (p->ads && kp__ads_pause(p->ads))
        return;
    p->play_after_ready = false;
    if (p->engine)
        kp_media_pause(p->media);
}

void kp_player_seek(kp_player *p, double seconds)
{
    kp_time d = kp_media_duration(p->media);
    kp_time t = KP_SEC(seconds);
    if (d >= 0 && t > d - DURATION_OFFSET)
        t = d - DURATION_OFFSET;
    if (t < 0)
        t = 0;
    kp_media_seek(p->media, t);
}

void kp_player_set_muted(kp_player *p, bool muted)
{
    p->muted = muted;
    kp_media_set_muted(p->media, muted);
    kp__player_emit(p, KP_EV_MUTE_CHANGE, json_pack("{s:b}", "mute", muted));
}

void kp_player_set_volume(kp_player *p, double volume)
{
    p->volume = volume < 0 ? 0 : volume > 1 ? 1 : volume;
    kp_media_set_volume(p->media, p->volume);
}

double kp_player_current_time(const kp_player *p)
{
    return kp_media_current_time(p->media);
}

double kp_player_duration(const kp_player *p)
{
    kp_time d = kp_media_duration(p->media);
    return d < 0 ? NAN : (double)d / 1e6;
}

bool kp_player_paused(const kp_player *p)
{
    return kp_media_paused(p->media);
}

bool kp_player_ended(const kp_player *p)
{
    return kp_media_ended(p->media);
}

const char *kp_player_state(const kp_player *p)
{
    return kp_state_name(p->state);
}

const json_t *kp_player_media_config(const kp_player *p)
{
    return p->media_config;
}
