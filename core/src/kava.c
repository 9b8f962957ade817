/* kava.c: the KAVA analytics plugin (playkit-js-kava 1.15.2) on the virtual clock.
 *
 * Which player event sends which beacon, and with what, follows reference/kaltura-core.md §6:
 * IMPRESSION on sourceselected, PLAY_REQUEST on firstplay, PLAY + VIEW on the first playing,
 * RESUME / REPLAY on a later playing, PAUSE, SEEK, BUFFER_START / BUFFER_END from the state
 * machine, FLAVOR_SWITCH or SOURCE_SELECTED on videotrackchanged, PLAY_REACHED_* on the core's
 * percent events, ERROR on a CRITICAL error (then the plugin resets). Times the real plugin
 * takes from Date.now() (joinTime, bufferTime) are virtual seconds here.
 */
#include "kp/kava.h"

#include "player_priv.h"

#include "kp/buf.h"
#include "kp/codec.h"
#include "kp/err.h"
#include "kp/jsonu.h"
#include "kp/perror.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define KAVA_DEFAULT_SERVICE_URL "https://analytics.kaltura.com/api_v3/index.php"
#define KAVA_PAGE_URL            "http://127.0.0.1/kpsim/player.html"
#define RATE_DIVIDER             1024.0 /* bandwidth (bps) → actualBitrate (kbps), as the plugin */

/* ---- event names ---- */

const char *kp_kava_event_name(int event_type)
{
    switch (event_type) {
#define XX(name, id) \
    case id:         \
        return #name;
        KP_KAVA_EVENT_MAP(XX)
#undef XX
    default:
        return NULL;
    }
}

int kp_kava_event_lookup(const char *name)
{
#define XX(n, id)                      \
    if (name && strcmp(name, #n) == 0) \
        return id;
    KP_KAVA_EVENT_MAP(XX)
#undef XX
    return -1;
}

/* ---- the beacon builder ---- */

static int put_str(json_t *o, const char *key, const char *v)
{
    if (!v || !*v)
        return 0;
    return json_object_set_new(o, key, json_string(v));
}

static int put_num(json_t *o, const char *key, double v)
{
    /* whole numbers go out as integers, as JSON.stringify writes them */
    if (isfinite(v) && v == floor(v) && fabs(v) < 9e15)
        return json_object_set_new(o, key, json_integer((json_int_t)v));
    return json_object_set_new(o, key, json_real(isfinite(v) ? v : 0.0));
}

/* Rounded to the millisecond, so beacons do not carry float noise. */
static double ms3(double v)
{
    return floor(v * 1000.0 + 0.5) / 1000.0;
}

static void put_event_fields(json_t *o, int t, const kp_kava_snapshot *s)
{
    switch (t) {
    case KP_KAVA_IMPRESSION:
        put_str(o, "loadedPlugins", s->loaded_plugins);
        break;
    case KP_KAVA_PLAY:
        put_num(o, "bufferTime", ms3(s->buffer_time));
        put_num(o, "bufferTimeSum", ms3(s->buffer_time_sum));
        put_num(o, "actualBitrate", ms3(s->actual_bitrate));
        put_num(o, "joinTime", ms3(s->join_time));
        json_object_set_new(o, "canPlay", json_integer(s->can_play ? 1 : 0));
        break;
    case KP_KAVA_RESUME:
        put_num(o, "bufferTime", ms3(s->buffer_time));
        put_num(o, "bufferTimeSum", ms3(s->buffer_time_sum));
        put_num(o, "actualBitrate", ms3(s->actual_bitrate));
        break;
    case KP_KAVA_ENTER_FULLSCREEN:
    case KP_KAVA_EXIT_FULLSCREEN:
        put_num(o, "screenMode", s->screen_mode);
        break;
    case KP_KAVA_SEEK:
        put_num(o, "targetPosition", ms3(s->target_position));
        break;
    case KP_KAVA_SOURCE_SELECTED:
    case KP_KAVA_FLAVOR_SWITCH:
        put_num(o, "actualBitrate", ms3(s->actual_bitrate));
        break;
    case KP_KAVA_AUDIO_SELECTED:
        put_str(o, "language", s->audio_language);
        break;
    case KP_KAVA_ERROR:
        put_num(o, "errorCode", s->error_code);
        json_object_set_new(o, "errorDetails",
                            s->error_details ? json_deep_copy(s->error_details) : json_null());
        put_num(o, "errorPosition", s->error_position);
        break;
    case KP_KAVA_VIEW:
        put_num(o, "playTimeSum", ms3(s->play_time_sum));
        put_num(o, "bufferTime", ms3(s->buffer_time));
        put_num(o, "bufferTimeSum", ms3(s->buffer_time_sum));
        put_num(o, "actualBitrate", ms3(s->actual_bitrate));
        put_num(o, "averageBitrate", ms3(s->average_bitrate));
        put_str(o, "audioLanguage", s->audio_language);
        put_num(o, "soundMode", s->sound_mode);
        put_num(o, "tabMode", s->tab_mode);
        put_num(o, "viewabilityMode", s->viewability_mode);
        put_num(o, "screenMode", s->screen_mode);
        break;
    default:
        break;
    }
}

json_t *kp_kava_params(int event_type, const kp_kava_snapshot *s)
{
    if (!kp_kava_event_name(event_type) || !s)
        return NULL;
    json_t *o = json_object();
    if (!o)
        return NULL;
    /* the event's own fields first: the common ones win a name clash (Object.assign) */
    put_event_fields(o, event_type, s);
    json_object_set_new(o, "eventType", json_integer(event_type));
    json_object_set_new(o, "partnerId", json_integer(s->partner_id));
    json_object_set_new(o, "entryId", json_string(s->entry_id ? s->entry_id : ""));
    json_object_set_new(o, "sessionId", json_string(s->session_id ? s->session_id : ""));
    json_object_set_new(o, "eventIndex", json_integer(s->event_index));
    json_object_set_new(o, "referrer", json_string(s->referrer ? s->referrer : ""));
    put_str(o, "deliveryType", s->delivery_type);
    put_str(o, "playbackType", s->playback_type ? s->playback_type : "vod");
    put_str(o, "clientVer", s->client_ver);
    char *tag = kp_asprintf("html5:v%s", s->client_ver ? s->client_ver : "");
    put_str(o, "clientTag", tag);
    free(tag);
    put_num(o, "position", ms3(s->position));
    put_num(o, "playbackSpeed", s->playback_speed > 0 ? s->playback_speed : 1);
    put_num(o, "playerSkin", s->player_skin > 0 ? s->player_skin : 1);
    put_str(o, "caption", s->caption);
    if (s->session_start_time > 0)
        put_num(o, "sessionStartTime", s->session_start_time);
    put_str(o, "ks", s->ks);
    put_str(o, "uiConfId", s->ui_conf_id);
    put_str(o, "playlistId", s->playlist_id);
    for (int i = 0; i < 3; i++) {
        char key[24]; /* room for any int: -Wformat-truncation at -O1 */
        snprintf(key, sizeof(key), "customVar%d", i + 1);
        put_str(o, key, s->custom_var[i]);
    }
    put_str(o, "playbackContext", s->playback_context);
    put_str(o, "application", s->application);
    put_str(o, "applicationVer", s->application_ver);
    put_str(o, "kalturaApplicationVer", s->kaltura_application_ver);
    put_str(o, "kalturaApplication", s->kaltura_application);
    put_str(o, "userId", s->user_id);
    put_str(o, "persistentSessionId", s->persistent_session_id);
    return o;
}

/* A parameter's text on the wire (jQuery param(): numbers as JS prints them). */
static char *param_text(const json_t *v)
{
    if (json_is_string(v))
        return kp_strdup(json_string_value(v));
    if (json_is_integer(v))
        return kp_asprintf("%lld", (long long)json_integer_value(v));
    if (json_is_real(v))
        return kp_asprintf("%.15g", json_real_value(v));
    if (json_is_true(v) || json_is_false(v))
        return kp_strdup(json_is_true(v) ? "true" : "false");
    if (json_is_null(v))
        return kp_strdup("");
    return json_dumps(v, JSON_COMPACT);
}

static int append_param(kp_buf *b, const char *key, const json_t *v)
{
    char *text = param_text(v);
    char *ek = kp_url_escape(key), *ev = text ? kp_url_escape(text) : NULL;
    int rc = ek && ev ? kp_buf_printf(b, "&%s=%s", ek, ev) : KP_ENOMEM;
    free(text);
    free(ek);
    free(ev);
    return rc;
}

static const char *const url_keys[] = {"eventType", "partnerId", "entryId", "sessionId"};

int kp_kava_request(const char *service_url, const json_t *params, bool post, char **url,
                    char **body)
{
    *url = NULL;
    if (body)
        *body = NULL;
    if (!service_url || !*service_url || !json_is_object(params) || (post && !body))
        return KP_EINVAL;
    /* the provider's serviceParams first, the model on top */
    json_t *all = json_pack("{s:s, s:i}", "apiVersion", "3.3.0", "format", 1);
    if (!all || json_object_update(all, (json_t *)params) != 0) {
        json_decref(all);
        return KP_ENOMEM;
    }
    kp_buf b;
    kp_buf_init(&b);
    int rc = kp_buf_printf(&b, "%s%sservice=analytics&action=trackEvent", service_url,
                           strchr(service_url, '?') ? "&" : "?");
    if (post) {
        for (size_t i = 0; rc == KP_OK && i < sizeof(url_keys) / sizeof(url_keys[0]); i++) {
            json_t *v = json_object_get(all, url_keys[i]);
            if (v) {
                rc = append_param(&b, url_keys[i], v);
                json_object_del(all, url_keys[i]);
            }
        }
        if (rc == KP_OK) {
            *body = json_dumps(all, JSON_COMPACT | JSON_PRESERVE_ORDER);
            rc = *body ? KP_OK : KP_ENOMEM;
        }
    } else {
        const char *k;
        json_t *v;
        json_object_foreach(all, k, v)
        {
            if (rc == KP_OK)
                rc = append_param(&b, k, v);
        }
    }
    json_decref(all);
    if (rc != KP_OK) {
        kp_buf_free(&b);
        if (body) {
            free(*body);
            *body = NULL;
        }
        return rc;
    }
    *url = kp_buf_steal(&b);
    return KP_OK;
}

void kp_kava_session_id(long long partner_id, const char *entry_id, char out[37])
{
    char *seed = kp_asprintf("kpsim-kava:%lld:%s", partner_id, entry_id ? entry_id : "");
    kp_rng r;
    kp_rng_seed_str(&r, seed ? seed : "kpsim-kava");
    kp_rng_uuid(&r, out);
    free(seed);
}

/* ---- the plugin ---- */

typedef struct kava_req kava_req;

typedef struct kava {
    kp_player *p;
    uint64_t listener;
    /* configuration */
    char *service_url;
    bool post;
    int view_countdown, reset_countdown;
    double dvr_threshold;
    long long partner_id;
    char *entry_cfg; /* a configured entryId (else the media's) */
    char *session_cfg;
    char *ks, *referrer, *ui_conf_id, *client_ver, *playlist_id, *playback_context;
    char *application, *application_ver, *kaltura_app, *kaltura_app_ver, *user_id;
    char *custom_var[3], *persistent_session_id;
    /* per media */
    char *entry_id;
    char session_id[64];
    const char *delivery_type;
    bool live;
    char *loaded_plugins;
    char *caption, *language;
    /* the model */
    int event_index;
    double buffer_time, buffer_time_sum, play_time_sum, session_start_time;
    double join_time, target_position, prev_time, last_view_play_time;
    int error_code, error_position;
    json_t *error_details;
    int sound_mode;
    bool view_enabled;
    /* rates (KavaRateHandler): the current one and one sample per playing tick */
    double current_rate, rate_sum;
    long rate_samples;
    bool abr_auto;
    /* flags */
    bool is_first_play, is_first_playing, ended, paused, buffering, playing;
    bool can_play_seen, manual_preload;
    kp_time load_start, first_play_req, buffer_start;
    /* the timer: one tick a virtual second */
    kp_task_id tick;
    bool stopped;
    int event_counter, reset_counter;
    /* beacons in flight */
    kava_req *reqs;
} kava;

struct kava_req {
    kava *k;
    uint64_t id;
    json_t *model;
    kava_req *next;
};

static double since(kava *k, kp_time t)
{
    return (double)(kp_sched_now(k->p->sched) - t) / 1e6;
}

static void req_unlink(kava *k, kava_req *r)
{
    for (kava_req **at = &k->reqs; *at; at = &(*at)->next)
        if (*at == r) {
            *at = r->next;
            return;
        }
}

/* The provider's RequestBuilder error for an answer that failed: {severity, category 1
 * NETWORK, code, data}. */
static json_t *request_error(const kp_http_response *resp)
{
    int code;
    json_t *data;
    if (resp->error == KP_ETIMEDOUT) {
        code = 1003; /* TIMEOUT */
        data = json_pack("{s:s, s:i}", "url", resp->url ? resp->url : "", "attempt", 1);
    } else if (resp->error != KP_OK) {
        code = 1002; /* HTTP_ERROR: XHR onerror */
        data = json_pack("{s:s, s:s, s:s, s:{}, s:i}", "text", "", "statusText",
                         resp->error_text ? resp->error_text : "", "url",
                         resp->url ? resp->url : "", "headers", "attempt", 1);
    } else if (resp->status != 200) {
        /* the web player's request never settles on a non-200 answer (a bug, docs/parity.md) */
        code = 1001; /* BAD_HTTP_STATUS */
        data = json_pack("{s:s, s:i}", "url", resp->url ? resp->url : "", "status", resp->status);
    } else {
        code = 1005; /* BAD_SERVER_RESPONSE */
        data = json_pack("{s:s%, s:s, s:i}", "text", resp->body.data ? resp->body.data : "",
                         resp->body.len, "url", resp->url ? resp->url : "", "attempt", 1);
    }
    return kp_perror_new(KP_SEVERITY_CRITICAL, 1, code, data);
}

static void on_answer(void *ud, const kp_http_response *resp)
{
    kava_req *r = ud;
    kava *k = r->k;
    req_unlink(k, r);
    json_t *response = NULL;
    if (resp->error == KP_OK && resp->status == 200)
        response = json_loadb(resp->body.data ? resp->body.data : "", resp->body.len,
                              JSON_DECODE_ANY, NULL);
    if (response) {
        /* _updateSessionStartTimeModel */
        if (k->session_start_time <= 0) {
            if (json_is_object(response)) {
                double t = kp_json_num(response, "time", 0);
                if (t > 0)
                    k->session_start_time = t;
                json_t *v = json_object_get(response, "viewEventsEnabled");
                k->view_enabled = json_is_boolean(v) ? json_is_true(v) : k->view_enabled;
            } else if (json_is_number(response)) {
                k->session_start_time = json_number_value(response);
            }
        }
        if (k->tick && k->stopped)
            k->session_start_time = 0;
        KP_LOG_D(k->p->log, "kava", "beacon %lld answered", kp_json_int(r->model, "eventType", 0));
        kp__player_emit(k->p, KP_EV_KAVA_REQUEST_SUCCEEDED,
                        json_pack("{s:o, s:O}", "response", response, "model", r->model));
    } else {
        KP_LOG_I(k->p->log, "kava", "beacon %lld failed: %s (HTTP %d)",
                 kp_json_int(r->model, "eventType", 0),
                 resp->error ? kp_strerror(resp->error) : "bad answer", resp->status);
        kp__player_emit(k->p, KP_EV_KAVA_REQUEST_FAILED,
                        json_pack("{s:o, s:O}", "error", request_error(resp), "model", r->model));
    }
    json_decref(r->model);
    free(r);
}

static void update_buffer_model(kava *k)
{
    double d = since(k, k->buffer_start);
    k->buffer_time += d;
    k->buffer_time_sum += d;
}

static double position(kava *k)
{
    double t = kp_player_current_time(k->p);
    if (k->live) {
        double d = kp_player_duration(k->p);
        if (isnan(d) || d - t < 1)
            return 0;
        return -(d - t);
    }
    return isfinite(t) ? t : 0;
}

static const char *playback_type(kava *k)
{
    if (!k->live)
        return "vod";
    double d = kp_player_duration(k->p), t = kp_player_current_time(k->p);
    return isfinite(d) && d - t >= k->dvr_threshold ? "dvr" : "live";
}

static void send_beacon(kava *k, int type)
{
    /* _validate: no partnerId or entryId, no beacon at all */
    if (!k->partner_id || !k->entry_id || !*k->entry_id) {
        KP_LOG_W(k->p->log, "kava", "beacon %s dropped: no %s", kp_kava_event_name(type),
                 k->partner_id ? "entryId" : "partnerId");
        return;
    }
    if (k->buffering) {
        update_buffer_model(k);
        k->buffer_start = kp_sched_now(k->p->sched);
    }
    kp_kava_snapshot s = {
        .partner_id = k->partner_id,
        .entry_id = k->entry_id,
        .session_id = k->session_id,
        .event_index = k->event_index,
        .referrer = k->referrer,
        .delivery_type = k->delivery_type,
        .playback_type = playback_type(k),
        .client_ver = k->client_ver,
        .position = position(k),
        .playback_speed = 1,
        .player_skin = 1,
        .ks = k->ks,
        .ui_conf_id = k->ui_conf_id,
        .playlist_id = k->playlist_id,
        .playback_context = k->playback_context,
        .application = k->application,
        .application_ver = k->application_ver,
        .kaltura_application = k->kaltura_app,
        .kaltura_application_ver = k->kaltura_app_ver,
        .user_id = k->user_id,
        .custom_var = {k->custom_var[0], k->custom_var[1], k->custom_var[2]},
        .caption = k->caption,
        .persistent_session_id = k->persistent_session_id,
        .session_start_time = k->session_start_time,
        .loaded_plugins = k->loaded_plugins,
        .buffer_time = k->buffer_time,
        .buffer_time_sum = k->buffer_time_sum,
        .actual_bitrate = k->current_rate,
        .average_bitrate = k->rate_samples ? k->rate_sum / (double)k->rate_samples : 0,
        .join_time = k->join_time,
        .can_play = k->can_play_seen,
        .play_time_sum = k->play_time_sum,
        .audio_language = k->language,
        .sound_mode = k->sound_mode,
        .tab_mode = 2,
        .viewability_mode = 1,
        .screen_mode = 1,
        .target_position = k->target_position,
        .error_code = k->error_code,
        .error_position = k->error_position,
        .error_details = k->error_details,
    };
    json_t *model = kp_kava_params(type, &s);
    char *url = NULL, *body = NULL;
    int rc = model ? kp_kava_request(k->service_url, model, k->post, &url, &body) : KP_ENOMEM;
    kava_req *r = rc == KP_OK ? calloc(1, sizeof(*r)) : NULL;
    /* sendAnalytics: the index moves on whatever becomes of the request */
    k->event_index++;
    if (!r) {
        KP_LOG_W(k->p->log, "kava", "beacon %s not sent: %s", kp_kava_event_name(type),
                 kp_strerror(rc == KP_OK ? KP_ENOMEM : rc));
        json_decref(model);
        free(url);
        free(body);
        return;
    }
    const char *headers[] = {"Content-Type: application/json", NULL};
    kp_http_request req = {.method = k->post ? "POST" : "GET",
                           .url = url,
                           .headers = k->post ? headers : NULL,
                           .body = body,
                           .body_len = body ? strlen(body) : 0};
    r->k = k;
    r->model = model;
    r->next = k->reqs;
    k->reqs = r;
    KP_LOG_D(k->p->log, "kava", "beacon %s (%d) #%d", kp_kava_event_name(type), type,
             s.event_index);
    r->id = kp_net_fetch(k->p->net, &req, on_answer, r);
    if (!r->id) {
        req_unlink(k, r);
        json_decref(model);
        free(r);
    }
    free(url);
    free(body);
}

/* ---- timer (KavaTimer) ---- */

static void update_play_time(kava *k)
{
    double delta;
    if (k->live) {
        delta = k->view_countdown - k->buffer_time;
    } else {
        double t = kp_player_current_time(k->p);
        delta = t - k->prev_time;
        k->prev_time = t;
    }
    k->play_time_sum += delta;
}

static void on_report(kava *k)
{
    if (k->view_enabled) {
        update_play_time(k);
        if (k->last_view_play_time != k->play_time_sum) {
            k->last_view_play_time = k->play_time_sum;
            send_beacon(k, KP_KAVA_VIEW);
        } else {
            KP_LOG_D(k->p->log, "kava", "VIEW not sent: no play time since the last one");
        }
    } else {
        KP_LOG_D(k->p->log, "kava", "VIEW not sent: the server answered viewEventsEnabled=false");
    }
    k->buffer_time = 0;
}

static void reset_session(kava *k)
{
    KP_LOG_D(k->p->log, "kava", "session reset after %d stopped ticks", k->reset_countdown);
    k->rate_sum = 0;
    k->rate_samples = 0;
    k->event_index = 1;
    k->buffer_time_sum = 0;
    k->play_time_sum = 0;
}

static void on_tick(void *ud)
{
    kava *k = ud;
    k->tick = kp_sched_after(k->p->sched, KP_SEC(1), on_tick, k);
    if (k->stopped) {
        if (k->reset_counter == k->reset_countdown) {
            reset_session(k);
            k->reset_counter = 0;
            k->event_counter = 0;
        }
        k->reset_counter++;
    } else {
        k->rate_sum += k->current_rate;
        k->rate_samples++;
        if (k->event_counter == k->view_countdown) {
            on_report(k);
            k->event_counter = 0;
        }
        k->event_counter++;
    }
}

static void timer_start(kava *k)
{
    kp_sched_cancel(k->p->sched, k->tick);
    k->stopped = false;
    k->reset_counter = k->event_counter = 0;
    k->tick = kp_sched_after(k->p->sched, KP_SEC(1), on_tick, k);
}

static void timer_destroy(kava *k)
{
    kp_sched_cancel(k->p->sched, k->tick);
    k->tick = 0;
}

/* ---- player events ---- */

static void reset_flags(kava *k)
{
    k->prev_time = 0;
    k->last_view_play_time = -1;
    k->playing = k->ended = k->paused = k->buffering = false;
    k->is_first_play = k->is_first_playing = true;
    k->can_play_seen = k->manual_preload = false;
}

static void on_source_selected(kava *k, const kp_event *ev)
{
    const json_t *mc = kp_player_media_config(k->p);
    free(k->entry_id);
    k->entry_id = kp_strdup(k->entry_cfg ? k->entry_cfg : kp_json_str(mc, "sources.id", NULL));
    const char *type = kp_json_str(mc, "sources.type", "Vod");
    k->live = strcasecmp(type, "Live") == 0;
    if (k->session_cfg)
        snprintf(k->session_id, sizeof(k->session_id), "%s", k->session_cfg);
    else
        kp_kava_session_id(k->partner_id, k->entry_id, k->session_id);
    const json_t *src = json_array_get(json_object_get(ev->payload, "selectedSource"), 0);
    const char *mime = kp_json_str(src, "mimetype", "");
    k->delivery_type = strcasecmp(mime, "application/dash+xml") == 0 ? "dash"
                       : strcasestr(mime, "mpegurl")                 ? "hls"
                                                                     : "url";
    send_beacon(k, KP_KAVA_IMPRESSION);
}

static void on_playing(kava *k)
{
    if (k->is_first_playing) {
        k->sound_mode = k->p->muted ? 1 : 2;
        timer_start(k);
        k->is_first_playing = false;
        bool preload_auto =
            strcmp(kp_json_str(k->p->config, "playback.preload", "none"), "auto") == 0;
        k->join_time =
            since(k, preload_auto || k->manual_preload ? k->first_play_req : k->load_start);
        send_beacon(k, KP_KAVA_PLAY);
        on_report(k);
    } else if (k->ended) {
        timer_start(k);
        k->ended = false;
        send_beacon(k, KP_KAVA_REPLAY);
    } else if (k->paused) {
        k->stopped = false;
        k->reset_counter = 0;
        k->paused = false;
        send_beacon(k, KP_KAVA_RESUME);
    }
}

static void on_state_changed(kava *k, const kp_event *ev)
{
    const char *old = kp_json_str(ev->payload, "oldState.type", "");
    const char *now = kp_json_str(ev->payload, "newState.type", "");
    if (strcmp(old, "buffering") == 0) {
        k->buffering = false;
        update_buffer_model(k);
        send_beacon(k, KP_KAVA_BUFFER_END);
    }
    if (strcmp(now, "buffering") == 0) {
        k->buffering = true;
        k->buffer_start = kp_sched_now(k->p->sched);
        send_beacon(k, KP_KAVA_BUFFER_START);
    }
}

static void on_error(kava *k, const kp_event *ev);

static void set_rate(kava *k, const json_t *track)
{
    json_t *bw = json_object_get(track, "bandwidth");
    if (json_is_number(bw))
        k->current_rate = json_number_value(bw) / RATE_DIVIDER;
}

static void on_event(void *ud, const kp_event *ev)
{
    kava *k = ud;
    switch (ev->type) {
    case KP_EV_SOURCE_SELECTED:
        on_source_selected(k, ev);
        break;
    case KP_EV_ERROR:
        on_error(k, ev);
        break;
    case KP_EV_FIRST_PLAY:
        if (k->can_play_seen)
            k->manual_preload = true;
        k->is_first_play = false;
        k->first_play_req = kp_sched_now(k->p->sched);
        send_beacon(k, KP_KAVA_PLAY_REQUEST);
        break;
    case KP_EV_TRACKS_CHANGED: {
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(ev->payload, "tracks"), i, t)
        {
            if (!json_is_true(json_object_get(t, "active")))
                continue;
            const char *kind = kp_json_str(t, "kind", "");
            if (strcmp(kind, "video") == 0) {
                set_rate(k, t);
            } else if (strcmp(kind, "audio") == 0) {
                free(k->language);
                k->language = kp_strdup(kp_json_str(t, "language", NULL));
            } else if (strcmp(kind, "text") == 0) {
                free(k->caption);
                k->caption = kp_strdup(kp_json_str(t, "language", NULL));
            }
        }
        break;
    }
    case KP_EV_PLAYING:
        on_playing(k);
        break;
    case KP_EV_FIRST_PLAYING:
        k->playing = true;
        break;
    case KP_EV_SEEKING:
        k->prev_time = kp_player_current_time(k->p);
        k->target_position = k->prev_time;
        send_beacon(k, KP_KAVA_SEEK);
        break;
    case KP_EV_PAUSE:
        k->paused = true;
        k->stopped = true;
        send_beacon(k, KP_KAVA_PAUSE);
        break;
    case KP_EV_ENDED:
        k->ended = true;
        update_play_time(k);
        k->buffer_time = 0;
        break;
    case KP_EV_VIDEO_TRACK_CHANGED:
        set_rate(k, json_object_get(ev->payload, "selectedVideoTrack"));
        send_beacon(k, k->abr_auto ? KP_KAVA_FLAVOR_SWITCH : KP_KAVA_SOURCE_SELECTED);
        break;
    case KP_EV_ABR_MODE_CHANGED:
        k->abr_auto = strcmp(kp_json_str(ev->payload, "mode", "auto"), "auto") == 0;
        break;
    case KP_EV_AUDIO_TRACK_CHANGED:
        free(k->language);
        k->language = kp_strdup(kp_json_str(ev->payload, "selectedAudioTrack.language", NULL));
        send_beacon(k, KP_KAVA_AUDIO_SELECTED);
        break;
    case KP_EV_TEXT_TRACK_CHANGED:
        if (k->playing) {
            free(k->caption);
            k->caption = kp_strdup(kp_json_str(ev->payload, "selectedTextTrack.language", NULL));
            send_beacon(k, KP_KAVA_CAPTIONS);
        }
        break;
    case KP_EV_PLAYER_STATE_CHANGED:
        on_state_changed(k, ev);
        break;
    case KP_EV_CAN_PLAY:
        k->can_play_seen = true;
        break;
    case KP_EV_LOAD_START:
        k->load_start = kp_sched_now(k->p->sched);
        break;
    case KP_EV_MUTE_CHANGE:
    case KP_EV_VOLUME_CHANGE:
        k->sound_mode = k->p->muted ? 1 : 2;
        break;
    case KP_EV_REGISTERED_PLUGINS_LIST: {
        kp_buf b;
        kp_buf_init(&b);
        size_t i;
        json_t *n;
        json_array_foreach(ev->payload, i, n)
        {
            kp_buf_printf(&b, "%s%s", i ? "," : "",
                          json_string_value(n) ? json_string_value(n) : "");
        }
        free(k->loaded_plugins);
        k->loaded_plugins = kp_buf_steal(&b);
        break;
    }
    case KP_EV_PLAY_REACHED_25:
        send_beacon(k, KP_KAVA_PLAY_REACHED_25_PERCENT);
        break;
    case KP_EV_PLAY_REACHED_50:
        send_beacon(k, KP_KAVA_PLAY_REACHED_50_PERCENT);
        break;
    case KP_EV_PLAY_REACHED_75:
        send_beacon(k, KP_KAVA_PLAY_REACHED_75_PERCENT);
        break;
    case KP_EV_PLAY_REACHED_90:
        send_beacon(k, KP_KAVA_PLAY_REACHED_90_PERCENT);
        break;
    case KP_EV_PLAY_REACHED_100:
        send_beacon(k, KP_KAVA_PLAY_REACHED_100_PERCENT);
        break;
    default:
        break;
    }
}

static void model_reset(kava *k)
{
    reset_flags(k);
    k->event_index = 1;
    k->buffer_time = k->buffer_time_sum = k->play_time_sum = 0;
    k->session_start_time = 0;
    timer_destroy(k);
    k->rate_sum = 0;
    k->rate_samples = 0;
}

static void kava_reset(void *state)
{
    model_reset(state);
}

static void on_error(kava *k, const kp_event *ev)
{
    if (kp_json_int(ev->payload, "severity", 0) != KP_SEVERITY_CRITICAL)
        return;
    k->error_code = (int)kp_json_int(ev->payload, "code", 0);
    json_decref(k->error_details);
    json_t *data = json_object_get(ev->payload, "data");
    k->error_details = data ? json_deep_copy(data) : NULL;
    k->error_position = k->is_first_play      ? KP_KAVA_PRE_PLAY
                        : k->is_first_playing ? KP_KAVA_PRE_PLAYING
                                              : KP_KAVA_MID_STREAM;
    /* a load that failed before its media resolved has no entryId yet (KalturaPlayer fills
     * the plugin's entryId from the media config): _validate drops that beacon */
    send_beacon(k, KP_KAVA_ERROR);
    model_reset(k);
}

static char *cfg_str(const json_t *cfg, const json_t *player_cfg, const char *key,
                     const char *player_key, const char *dflt)
{
    json_t *v = json_object_get(cfg, key);
    if (json_is_string(v))
        return kp_strdup(json_string_value(v));
    if (json_is_integer(v))
        return kp_asprintf("%lld", (long long)json_integer_value(v));
    if (player_key) {
        json_t *pv = kp_json_path(player_cfg, player_key);
        if (json_is_string(pv))
            return kp_strdup(json_string_value(pv));
        if (json_is_integer(pv))
            return kp_asprintf("%lld", (long long)json_integer_value(pv));
    }
    return dflt ? kp_strdup(dflt) : NULL;
}

/* KalturaApplication enum: the name's numeric id. */
static const char *kaltura_app_id(const char *name)
{
    static const struct {
        const char *name, *id;
    } apps[] = {{"KMC", "0"},
                {"KMS", "1"},
                {"KAF", "2"},
                {"PITCH", "3"},
                {"KMS_GO", "4"},
                {"WEBCASTING", "5"},
                {"PERSONAL_CAPTURE", "6"},
                {"KME", "7"},
                {"PLAYER", "21"}};
    for (size_t i = 0; name && i < sizeof(apps) / sizeof(apps[0]); i++)
        if (strcmp(apps[i].name, name) == 0)
            return apps[i].id;
    return "";
}

static void kava_destroy(void *state)
{
    kava *k = state;
    if (!k)
        return;
    kp_bus_unlisten(k->p->bus, k->listener);
    timer_destroy(k);
    for (kava_req *r = k->reqs, *next; r; r = next) {
        next = r->next;
        kp_net_cancel(k->p->net, r->id);
        json_decref(r->model);
        free(r);
    }
    char **strs[] = {&k->service_url,      &k->entry_cfg,
                     &k->session_cfg,      &k->ks,
                     &k->referrer,         &k->ui_conf_id,
                     &k->client_ver,       &k->playlist_id,
                     &k->playback_context, &k->application,
                     &k->application_ver,  &k->kaltura_app,
                     &k->kaltura_app_ver,  &k->user_id,
                     &k->custom_var[0],    &k->custom_var[1],
                     &k->custom_var[2],    &k->persistent_session_id,
                     &k->entry_id,         &k->loaded_plugins,
                     &k->caption,          &k->language};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        free(*strs[i]);
    json_decref(k->error_details);
    free(k);
}

static void *kava_create(kp_player *p, const json_t *config, void *arg)
{
    const json_t *pc = arg; /* the player configuration (templates), may be NULL */
    kava *k = calloc(1, sizeof(*k));
    if (!k)
        return NULL;
    k->p = p;
    k->service_url = cfg_str(config, NULL, "serviceUrl", NULL, KAVA_DEFAULT_SERVICE_URL);
    k->post = strcasecmp(kp_json_str(config, "requestMethod", "POST"), "GET") != 0;
    k->view_countdown = (int)kp_json_int(config, "viewEventCountdown", 10);
    k->reset_countdown = (int)kp_json_int(config, "resetSessionCountdown", 30);
    k->dvr_threshold = kp_json_num(config, "dvrThreshold", 120);
    k->partner_id = kp_json_int(config, "partnerId", kp_json_int(pc, "provider.partnerId", 0));
    k->entry_cfg = cfg_str(config, NULL, "entryId", NULL, NULL);
    k->session_cfg = cfg_str(config, NULL, "sessionId", NULL, NULL);
    k->ks = cfg_str(config, pc, "ks", "provider.ks", NULL);
    k->referrer = cfg_str(config, pc, "referrer", "provider.referrer", KAVA_PAGE_URL);
    k->ui_conf_id = cfg_str(config, pc, "uiConfId", "provider.uiConfId", NULL);
    k->client_ver = cfg_str(config, NULL, "playerVersion", NULL, KP_PLAYER_VERSION);
    k->playlist_id = cfg_str(config, NULL, "playlistId", NULL, NULL);
    k->playback_context = cfg_str(config, NULL, "playbackContext", NULL, NULL);
    k->application = cfg_str(config, NULL, "application", NULL, NULL);
    k->application_ver = cfg_str(config, NULL, "applicationVersion", NULL, NULL);
    k->kaltura_app = kp_strdup(kaltura_app_id(kp_json_str(config, "kalturaApplication", "PLAYER")));
    k->kaltura_app_ver = cfg_str(config, NULL, "kalturaApplicationVersion", NULL, NULL);
    k->user_id = cfg_str(config, NULL, "userId", NULL, NULL);
    k->persistent_session_id = cfg_str(config, NULL, "persistentSessionId", NULL, NULL);
    for (int i = 0; i < 3; i++) {
        char key[24]; /* room for any int: -Wformat-truncation at -O1 */
        snprintf(key, sizeof(key), "customVar%d", i + 1);
        k->custom_var[i] = cfg_str(config, NULL, key, NULL, NULL);
    }
    k->view_enabled = true;
    k->abr_auto = true;
    k->sound_mode = 2;
    model_reset(k);
    k->listener = kp_bus_listen(p->bus, -1, on_event, k);
    if (!k->service_url || !k->client_ver || !k->kaltura_app || !k->listener ||
        k->view_countdown < 0 || k->reset_countdown < 0) {
        kava_destroy(k);
        return NULL;
    }
    return k;
}

const kp_plugin_desc kp_kava_plugin = {
    .name = "kava",
    .create = kava_create,
    .reset = kava_reset,
    .destroy = kava_destroy,
};
