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
#include "kp/player.h"

#include "engine.h"
#include "media.h"
#include "state.h"

#include "kp/buf.h"
#include "kp/codec.h"
#include "kp/err.h"
#include "kp/jsonu.h"
#include "kp/perror.h"
#include "kp/provider.h"

#include <math.h>
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

    plugin_slot *plugins;
    size_t n_plugins;

    /* provider */
    kp_provider_opts popts;
    char *client_tag;
    uint64_t provider_req;
    kp_media_info minfo;
    char *minfo_entry, *minfo_ref, *minfo_ks;
    bool loading_media;

    /* per media */
    bool had_media;   /* a loadMedia happened before: the next one resets */
    bool first_media; /* the current media is the instance's first */
    json_t *media_config;
    const kp_engine_ops *engine_ops;
    void *engine;
    json_t *selected_source;
    bool engine_loading, ready, play_after_ready, play_requested;
    bool playback_start_fired, first_play_fired, first_playing_fired;
    bool percent_on;
    bool percent_fired[5];
    kp_task_id tasks[4]; /* post-source tasks: layout, visibility, autoplay, playbackended */

    bool muted;
    double volume;
    kp_state state, prev_state;
    kp_task_id waiting_task;
    bool error_preset;
};

static const kp_engine_ops *const engines[] = {&kp_engine_hls};

/* ---- events ---- */

static void emit(kp_player *p, kp_event_type type, json_t *payload)
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
    emit(p, KP_EV_PLAYER_STATE_CHANGED,
         json_pack("{s:o, s:o}", "oldState", state_json(old), "newState", state_json(next)));
}

static void ui_error_preset(void *ud)
{
    kp_player *p = ud;
    if (p->error_preset)
        return;
    p->error_preset = true;
    emit(p, KP_EV_UI_PRESET_CHANGE, json_pack("{s:s, s:s}", "from", "Playback", "to", "Error"));
}

/* An `error` event: the state machine first, then the event, then the UI's preset switch
 * (the UI re-renders asynchronously). */
static void raise_error(kp_player *p, json_t *err)
{
    bool critical = kp_json_int(err, "severity", 2) == KP_SEVERITY_CRITICAL;
    state_on(p, KP_EV_ERROR, critical);
    emit(p, KP_EV_ERROR, err);
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
            emit(p, percent_events[i], NULL);
        }
    }
}

static void playback_ended(void *ud)
{
    kp_player *p = ud;
    p->tasks[3] = 0;
    emit(p, KP_EV_PLAYBACK_ENDED, NULL);
}

/* A media element event, as playkit's Html5 engine relays it to the Player. */
static void handle_media_event(kp_player *p, kp_event_type type)
{
    state_on(p, type, false);
    emit(p, type, NULL);
    switch (type) {
    case KP_EV_PLAY:
        if (!p->first_play_fired) {
            p->first_play_fired = true;
            p->percent_on = true;
            emit(p, KP_EV_FIRST_PLAY, NULL);
        }
        break;
    case KP_EV_PLAYING:
        if (!p->first_playing_fired) {
            p->first_playing_fired = true;
            emit(p, KP_EV_FIRST_PLAYING, NULL);
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
    emit(ud, type, payload);
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
        emit(p, KP_EV_MEDIA_LOADED, NULL);
        emit(p, KP_EV_TRACKS_CHANGED, payload);
    } else {
        emit(p, KP_EV_TRACKS_CHANGED, payload);
        emit(p, KP_EV_MEDIA_LOADED, NULL);
    }
    p->ready = true;
    if (p->play_after_ready)
        start_play(p);
}

static void host_fail(void *ud, json_t *error)
{
    kp_player *p = ud;
    KP_LOG_I(p->log, "player", "engine error %lld", kp_json_int(error, "code", 0));
    raise_error(p, error);
}

static void load_engine(kp_player *p)
{
    if (p->engine_loading || !p->engine)
        return;
    p->engine_loading = true;
    p->engine_ops->load(p->engine);
}

/* The playback middleware chain resolved: load if needed, then play when ready. */
static void middleware_play(void *ud)
{
    kp_player *p = ud;
    if (!p->engine)
        return;
    if (!p->ready) {
        p->play_after_ready = true;
        load_engine(p);
        return;
    }
    start_play(p);
}

/* ---- source selection (Player.setSources / _selectEngineByPriority) ---- */

static const char *const default_priority[] = {"hls", "dash", "progressive"};

static bool try_format(kp_player *p, const json_t *sources, const char *format)
{
    const json_t *list = json_object_get(sources, format);
    if (!json_is_array(list) || json_array_size(list) == 0)
        return false;
    const json_t *source = json_array_get(list, 0); /* only the first source is tried */
    for (size_t i = 0; i < sizeof(engines) / sizeof(engines[0]); i++) {
        const kp_engine_ops *ops = engines[i];
        if (strcmp(ops->format, format) != 0 || !ops->can_play(source, p->config))
            continue;
        kp_engine_host host = {.sched = p->sched,
                               .net = p->net,
                               .media = p->media,
                               .log = p->log,
                               .ud = p,
                               .emit = host_emit,
                               .loaded = host_loaded,
                               .fail = host_fail};
        void *e = ops->create(&host, source, p->config);
        if (!e)
            return false;
        p->engine = e;
        p->engine_ops = ops;
        p->selected_source = json_deep_copy(list);
        return true;
    }
    return false;
}

static bool select_source(kp_player *p, const json_t *sources)
{
    const json_t *prio = kp_json_path(p->config, "playback.streamPriority");
    if (json_is_array(prio) && json_array_size(prio) > 0) {
        size_t i;
        const json_t *it;
        json_array_foreach(prio, i, it)
        {
            const char *engine = kp_json_str(it, "engine", "html5");
            const char *format = kp_json_str(it, "format", "");
            if (strcasecmp(engine, "html5") == 0 && try_format(p, sources, format))
                return true;
        }
        return false;
    }
    for (size_t i = 0; i < 3; i++)
        if (try_format(p, sources, default_priority[i]))
            return true;
    return false;
}

static void post_layout(void *ud)
{
    kp_player *p = ud;
    p->tasks[0] = 0;
    emit(p, KP_EV_RESIZE, NULL);
    /* the element receives the playback attributes now; the DOM volumechange follows */
    kp_media_set_muted(p->media, p->muted);
    kp_media_set_volume(p->media, p->volume);
}

static void post_visibility(void *ud)
{
    kp_player *p = ud;
    p->tasks[1] = 0;
    emit(p, KP_EV_VISIBILITY_CHANGE, json_pack("{s:b}", "visible", 1));
}

static void autoplay(void *ud)
{
    kp_player *p = ud;
    p->tasks[2] = 0;
    /* Player._autoPlay after getCapabilities(): the chrome profile allows unmuted
     * autoplay (as headless Chromium did for the real player), so play() directly. */
    kp_player_play(p);
}

static void set_sources(kp_player *p, const json_t *sources)
{
    json_t *names = json_array();
    for (size_t i = 0; i < p->n_plugins; i++)
        if (!p->plugins[i].desc->instrument)
            json_array_append_new(names, json_string(p->plugins[i].desc->name));
    emit(p, KP_EV_REGISTERED_PLUGINS_LIST, names);
    emit(p, KP_EV_CHANGE_SOURCE_STARTED, NULL);
    if (!select_source(p, sources)) {
        raise_error(p, kp_perror_new(KP_SEVERITY_CRITICAL, KP_PCAT_PLAYER,
                                     KP_PCODE_NO_ENGINE_FOUND_TO_PLAY_THE_SOURCE,
                                     json_string("No Engine Found To Play The Source")));
        return;
    }
    emit(p, KP_EV_SOURCE_SELECTED, json_pack("{s:O}", "selectedSource", p->selected_source));
    emit(p, KP_EV_MUTE_CHANGE, json_pack("{s:b}", "mute", p->muted));
    emit(p, KP_EV_CHANGE_SOURCE_ENDED, NULL);
    p->tasks[0] = kp_sched_after(p->sched, LAYOUT_DELAY, post_layout, p);
    p->tasks[1] = kp_sched_after(p->sched, VISIBILITY_DELAY, post_visibility, p);
    const json_t *ap = kp_json_path(p->config, "playback.autoplay");
    if (json_is_true(ap)) {
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

static void on_provider(void *ud, const kp_http_response *r)
{
    kp_player *p = ud;
    p->provider_req = 0;
    p->loading_media = false;
    kp_http_outcome h = {
        .transport_error = r->error,
        .transport_text = r->error_text,
        .status = r->status,
        .body = r->body.data,
        .body_len = r->body.len,
        .url = r->url,
        .headers = (const char *const *)r->headers,
        .n_headers = r->n_headers,
        .attempt = 1,
    };
    json_t *config = NULL, *error = NULL;
    if (kp_ovp_media_parse(&p->popts, &p->minfo, &h, &config, &error) != KP_OK) {
        error = kp_perror_new(KP_SEVERITY_CRITICAL, KP_PROVCAT_PROVIDER, KP_PROVCODE_ERROR, NULL);
    }
    if (error) {
        KP_LOG_I(p->log, "player", "provider error %lld", kp_json_int(error, "code", 0));
        raise_error(p, kp_perror_load_failed(error));
        json_decref(error);
        return;
    }
    p->media_config = config;
    json_t *sources = json_object_get(config, "sources");
    add_kaltura_params(p, sources);
    set_sources(p, sources);
}

/* ---- lifecycle ---- */

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
    kp_media_detach(p->media);
    json_decref(p->media_config);
    p->media_config = NULL;
    json_decref(p->selected_source);
    p->selected_source = NULL;
    p->engine_loading = p->ready = p->play_after_ready = p->play_requested = false;
    p->playback_start_fired = p->first_play_fired = p->first_playing_fired = false;
    p->percent_on = false;
    memset(p->percent_fired, 0, sizeof(p->percent_fired));
    p->error_preset = false;
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
    free(p->minfo_entry);
    free(p->minfo_ref);
    free(p->minfo_ks);
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

int kp_player_load_media(kp_player *p, const json_t *media_info)
{
    const char *entry = kp_json_str(media_info, "entryId", NULL);
    const char *ref = kp_json_str(media_info, "referenceId", NULL);
    if (!entry && !ref)
        return KP_EINVAL;
    if (p->had_media) {
        /* KalturaPlayer.reset(): plugins first, then the player */
        for (size_t i = 0; i < p->n_plugins; i++)
            if (p->plugins[i].desc->reset)
                p->plugins[i].desc->reset(p->plugins[i].state);
        emit(p, KP_EV_PLAYER_RESET, json_pack("{s:b}", "isChangeMedia", 0));
    }
    clear_media(p);
    p->first_media = !p->had_media;
    p->had_media = true;
    free(p->minfo_entry);
    free(p->minfo_ref);
    free(p->minfo_ks);
    p->minfo_entry = kp_strdup(entry);
    p->minfo_ref = kp_strdup(ref);
    p->minfo_ks = kp_strdup(kp_json_str(media_info, "ks", NULL));
    p->minfo = (kp_media_info){.entry_id = p->minfo_entry,
                               .reference_id = p->minfo_ref,
                               .ks = p->minfo_ks,
                               .redirect_from_entry_id = -1};
    char *url = NULL;
    json_t *body = NULL, *error = NULL;
    int rc = kp_ovp_media_request(&p->popts, &p->minfo, &url, &body, &error);
    if (rc != KP_OK) {
        if (!error)
            error = kp_perror_new(KP_SEVERITY_CRITICAL, KP_PROVCAT_PROVIDER,
                                  KP_PROVCODE_MISSING_MANDATORY_PARAMS, NULL);
        raise_error(p, kp_perror_load_failed(error));
        json_decref(error);
        return KP_OK;
    }
    char *text = json_dumps(body, JSON_COMPACT);
    const char *headers[] = {"Content-Type: application/json", NULL};
    kp_http_request req = {.method = "POST",
                           .url = url,
                           .headers = headers,
                           .body = text,
                           .body_len = text ? strlen(text) : 0};
    p->loading_media = true;
    p->provider_req = kp_net_fetch(p->net, &req, on_provider, p);
    if (!p->provider_req) {
        p->loading_media = false;
        raise_error(p, kp_perror_load_failed(kp_perror_new(KP_SEVERITY_CRITICAL, KP_PROVCAT_NETWORK,
                                                           KP_PROVCODE_HTTP_ERROR,
                                                           json_pack("{s:s}", "url", url))));
    }
    free(text);
    free(url);
    json_decref(body);
    return KP_OK;
}

void kp_player_play(kp_player *p)
{
    if (!p->playback_start_fired) {
        p->playback_start_fired = true;
        emit(p, KP_EV_PLAYBACK_START, NULL);
    }
    if (p->loading_media) {
        p->play_requested = true; /* played once the source is selected */
        return;
    }
    if (!p->engine) {
        raise_error(p,
                    kp_perror_new(KP_SEVERITY_CRITICAL, KP_PCAT_PLAYER, KP_PCODE_NO_SOURCE_PROVIDED,
                                  json_string("No Source Provided")));
        return;
    }
    kp_sched_after(p->sched, 0, middleware_play, p);
}

void kp_player_pause(kp_player *p)
{
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
    emit(p, KP_EV_MUTE_CHANGE, json_pack("{s:b}", "mute", muted));
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
