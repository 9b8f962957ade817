/* ads.c: the ads plugin (see ads.h and docs/model.md "Ads").
 *
 * One break at a time goes through: resolve (fetch each VAST, follow wrappers) -> for each ad
 * of the pod: fetch the media file, adloaded, (first ad) adbreakstart + content pause,
 * adstarted, the ad's clock (adprogress every 250 ms, quartiles, adcanskip), adcompleted or
 * adskipped -> adbreakend + content resume -> adscompleted / alladscompleted.
 * Every step runs from a scheduler task, never inside the dispatch of a content event, so the
 * content event is recorded before what it causes.
 */
#include "ads.h"

#include "engine_progressive.h"
#include "player_priv.h"
#include "vast.h"

#include "kp/buf.h"
#include "kp/err.h"
#include "kp/jsonu.h"
#include "kp/perror.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD                       "ads"
#define AD_TICK                   KP_MS(250) /* the ad element's timeupdate: IMA's AD_PROGRESS cadence */
#define AD_PLAYING_DELAY          KP_MS(4) /* ad element play() to playing (as the content's) */
#define DEFAULT_REDIRECTS         4        /* IMA numRedirects default */
#define DEFAULT_VAST_LOAD_TIMEOUT 5000     /* ms, IMA AdsRequest.vastLoadTimeout default */
#define MAX_POD                   16
#define MAX_WRAPPERS              16
#define MAX_BREAKS                64
#define MAX_SOURCES               8

enum { MODE_NONE, MODE_TAG, MODE_BREAKS };

/* One resolved ad: the InLine ad and the wrappers that led to it (outermost first). */
typedef struct ad_item {
    const kp_vast_ad *inl;
    const kp_vast_ad *wrappers[MAX_WRAPPERS];
    int n_wrappers;
    int error_code; /* resolution failed with this VAST code (no inline ad) */
    char error_msg[400];
} ad_item;

typedef struct brk {
    kp_time position;  /* 0 preroll, -1 postroll, else the content time (us); -2 not yet known */
    double pct;        /* advertising.adBreaks percentage / VMAP n%: resolved at duration */
    double every;      /* advertising.adBreaks every (s): expanded at duration */
    const char *label; /* what admanifestloaded lists for it ("50%", "10s"), NULL: position */
    char *urls[MAX_SOURCES]; /* ad tags to request (one per ad of the pod) */
    size_t n_urls;
    const kp_vast *vast; /* an inline VAST (adsResponse, VMAP VASTAdData), borrowed */
    const kp_vmap_break *vmap;
    bool played;
} brk;

struct kp_ads {
    kp_player *p;
    json_t *config;
    int mode;
    int max_redirects;
    kp_rng rng;
    kp_vast **docs; /* every document fetched for the current media (owned) */
    size_t n_docs;
    kp_vmap *vmap;
    brk breaks[MAX_BREAKS];
    size_t n_breaks;
    uint64_t listener;
    uint64_t tag_req;
    bool tag_loaded; /* the tag answered (or failed): breaks are known */
    bool want_play;  /* content play is held for the preroll */
    bool any_played; /* an ad started for this media */
    bool all_done;   /* alladscompleted emitted */
    bool content_ended;
    kp_time snapback; /* the last midroll position played (AdsController._snapback) */

    /* the break in progress */
    brk *cur[MAX_BREAKS]; /* breaks merged into the current pod */
    size_t n_cur;
    const char *cur_type; /* "preroll", "midroll", "postroll" */
    double cur_pos;
    size_t src; /* next source to resolve */
    ad_item pod[MAX_POD];
    size_t n_pod, at;    /* ads of the pod; the one playing */
    bool break_started;  /* adbreakstart emitted */
    bool resume_content; /* content was playing when the break began */
    uint64_t req;        /* fetch in flight (VAST or media) */
    int redirects;       /* wrappers followed for the current source */
    ad_item resolving;
    kp_task_id task;  /* the break machine's timer */
    kp_task_id ctask; /* a reaction to a content event (one at a time) */

    /* the ad playing */
    bool playing;
    kp_time ad_start, ad_dur;
    int ticks;
    int quartile; /* quartiles emitted */
    bool can_skip;
    bool ad_paused;
    kp_time paused_ph; /* the ad's playhead when it was paused */
    bool self_call;    /* the plugin itself pauses or plays the content */
    bool *progress_fired;
    size_t n_progress;
    const kp_vast_media_file *media;
};

/* ---- helpers ---- */

static void emit(kp_ads *a, kp_event_type t, json_t *payload)
{
    kp__player_emit(a->p, t, payload);
}

static double secs(kp_time t)
{
    return (double)t / 1e6;
}

static kp_vast *keep_doc(kp_ads *a, kp_vast *v)
{
    kp_vast **d = realloc(a->docs, (a->n_docs + 1) * sizeof(*d));
    if (!d) {
        kp_vast_free(v);
        return NULL;
    }
    a->docs = d;
    d[a->n_docs++] = v;
    return v;
}

static void beacon_done(void *ud, const kp_http_response *r)
{
    (void)ud;
    (void)r;
}

/* Expands the VAST macros the plugin knows (VAST 4.x macros) and fires the beacon. */
static void fire(kp_ads *a, const char *url, int error_code)
{
    if (!url || !*url)
        return;
    kp_buf b;
    kp_buf_init(&b);
    kp_time ph = a->playing ? kp_sched_now(a->p->sched) - a->ad_start : 0;
    if (ph < 0)
        ph = 0;
    for (const char *s = url; *s;) {
        if (*s != '[') {
            kp_buf_putc(&b, *s++);
            continue;
        }
        const char *e = strchr(s, ']');
        size_t l = e ? (size_t)(e - s + 1) : 0;
        if (l == 11 && strncmp(s, "[ERRORCODE]", l) == 0) {
            kp_buf_printf(&b, "%d", error_code ? error_code : KP_VAST_UNDEFINED);
        } else if (l == 14 && strncmp(s, "[CACHEBUSTING]", l) == 0) {
            kp_buf_printf(&b, "%08" PRIu64, kp_rng_next(&a->rng) % 100000000u);
        } else if ((l == 12 && strncmp(s, "[ADPLAYHEAD]", l) == 0) ||
                   (l == 17 && strncmp(s, "[CONTENTPLAYHEAD]", l) == 0) ||
                   (l == 15 && strncmp(s, "[MEDIAPLAYHEAD]", l) == 0)) {
            kp_time t = s[1] == 'A' ? ph : KP_SEC(kp_player_current_time(a->p));
            long long ms = t / 1000;
            kp_buf_printf(&b, "%02lld%%3A%02lld%%3A%02lld.%03lld", ms / 3600000, ms / 60000 % 60,
                          ms / 1000 % 60, ms % 1000);
        } else if (l == 11 && strncmp(s, "[TIMESTAMP]", l) == 0) {
            long long ms = kp_sched_now(a->p->sched) / 1000;
            kp_buf_printf(&b, "1970-01-01T00%%3A%02lld%%3A%02lld.%03lldZ", ms / 60000 % 60,
                          ms / 1000 % 60, ms % 1000);
        } else {
            kp_buf_putc(&b, *s++);
            continue;
        }
        s += l;
    }
    if (!b.data) {
        kp_buf_free(&b);
        return;
    }
    kp_http_request req = {.url = b.data};
    KP_LOG_D(a->p->log, MOD, "beacon %s", b.data);
    kp_net_fetch(a->p->net, &req, beacon_done, NULL);
    kp_buf_free(&b);
}

static void fire_all(kp_ads *a, char *const *urls, size_t n, int code)
{
    for (size_t i = 0; i < n; i++)
        fire(a, urls[i], code);
}

/* The tracking URLs of event `ev` of the ad and of its wrappers. */
static void track(kp_ads *a, const ad_item *it, const char *ev)
{
    for (int w = -1; w < it->n_wrappers; w++) {
        const kp_vast_ad *ad = w < 0 ? it->inl : it->wrappers[w];
        if (!ad)
            continue;
        for (size_t i = 0; i < ad->n_tracking; i++)
            if (strcmp(ad->tracking[i].event, ev) == 0)
                fire(a, ad->tracking[i].url, 0);
    }
}

static void fire_errors(kp_ads *a, const ad_item *it, int code)
{
    for (int w = -1; w < it->n_wrappers; w++) {
        const kp_vast_ad *ad = w < 0 ? it->inl : it->wrappers[w];
        if (ad)
            fire_all(a, ad->errors, ad->n_errors, code);
    }
}

static json_t *ad_json(kp_ads *a, const ad_item *it)
{
    const kp_vast_ad *ad = it->inl;
    const kp_vast_media_file *m = a->media;
    json_t *wids = json_array(), *wsys = json_array(), *wcr = json_array();
    for (int w = 0; w < it->n_wrappers; w++) {
        json_array_append_new(wids, json_string(it->wrappers[w]->id ? it->wrappers[w]->id : ""));
        json_array_append_new(
            wsys, json_string(it->wrappers[w]->ad_system ? it->wrappers[w]->ad_system : ""));
        json_array_append_new(
            wcr, json_string(it->wrappers[w]->creative_id ? it->wrappers[w]->creative_id : ""));
    }
    double skip = ad->skip_offset >= 0 ? secs(ad->skip_offset)
                  : ad->skip_pct >= 0  ? secs(a->ad_dur) * ad->skip_pct / 100.0
                                       : -1;
    return json_pack(
        "{s:s?,s:s?,s:s?,s:s?,s:s?,s:i,s:f,s:s?,s:f,s:b,s:i,s:i,s:i,s:b,s:b,s:b,s:o,s:o,s:o}", "id",
        ad->id, "system", ad->ad_system, "url", m ? m->url : NULL, "contentType",
        m ? m->type : NULL, "title", ad->title, "position", (int)a->at + 1, "duration",
        secs(a->ad_dur), "clickThroughUrl", ad->click_through, "skipOffset", skip, "linear",
        ad->linear, "width", m ? m->width : 0, "height", m ? m->height : 0, "bitrate",
        m ? m->bitrate : 0, "bumper", 0, "inStream", 0, "vpaid", 0, "wrapperAdIds", wids,
        "wrapperAdSystems", wsys, "wrapperCreativeIds", wcr);
}

/* aderror {severity, category 8, 8000 + VAST code (8900 when undefined)} */
static void ad_error(kp_ads *a, int vast_code, bool critical, const char *msg)
{
    int code = vast_code >= 100 && vast_code < 1000 ? 8000 + vast_code : 8900;
    KP_LOG_I(a->p->log, MOD, "ad error %d: %s", code, msg);
    emit(a, KP_EV_AD_ERROR,
         kp_perror_new(
             critical ? KP_SEVERITY_CRITICAL : KP_SEVERITY_RECOVERABLE, KP_PCAT_ADS, code,
             json_pack("{s:{s:i,s:s}}", "innerError", "vastErrorCode", vast_code, "message", msg)));
}

/* ---- configuration and schedule ---- */

static void clear_breaks(kp_ads *a)
{
    for (size_t i = 0; i < a->n_breaks; i++)
        for (size_t k = 0; k < a->breaks[i].n_urls; k++)
            free(a->breaks[i].urls[k]);
    memset(a->breaks, 0, sizeof(a->breaks));
    a->n_breaks = 0;
}

static brk *add_break(kp_ads *a)
{
    if (a->n_breaks >= MAX_BREAKS)
        return NULL;
    brk *b = &a->breaks[a->n_breaks++];
    memset(b, 0, sizeof(*b));
    b->pct = -1;
    b->every = -1;
    return b;
}

/* advertising.adBreaks (AdsController._init): position > percentage > every; breaks without
 * any or without ads are dropped. */
static void config_breaks(kp_ads *a)
{
    const json_t *list = kp_json_path(a->config, "advertising.adBreaks");
    size_t i;
    const json_t *e;
    json_array_foreach(list, i, e)
    {
        const json_t *ads = json_object_get(e, "ads");
        const json_t *pos = json_object_get(e, "position");
        const json_t *pct = json_object_get(e, "percentage");
        const json_t *every = json_object_get(e, "every");
        if (!json_is_array(ads) || json_array_size(ads) == 0 ||
            (!json_is_number(pos) && !json_is_number(pct) && !json_is_number(every)))
            continue;
        brk *b = add_break(a);
        if (!b)
            break;
        if (json_is_number(pos)) {
            double v = json_number_value(pos);
            b->position = v < 0 ? -1 : KP_SEC(v);
        } else if (json_is_number(pct)) {
            double v = json_number_value(pct);
            b->position = v <= 0 ? 0 : v >= 100 ? -1 : -2;
            b->pct = v;
            b->label = "%";
        } else {
            b->every = json_number_value(every);
            b->position = -2;
            b->label = "s";
        }
        size_t k;
        const json_t *ad;
        json_array_foreach(ads, k, ad)
        {
            const json_t *url = json_object_get(ad, "url");
            const char *u = json_is_array(url) ? json_string_value(json_array_get(url, 0))
                                               : json_string_value(url);
            if (u && b->n_urls < MAX_SOURCES)
                b->urls[b->n_urls++] = kp_strdup(u);
        }
    }
}

static json_t *manifest_positions(kp_ads *a)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < a->n_breaks; i++) {
        const brk *b = &a->breaks[i];
        json_t *v;
        if (b->label && b->label[0] == '%') {
            char s[32];
            snprintf(s, sizeof(s), "%g%%", b->pct);
            v = json_string(s);
        } else if (b->label) {
            char s[32];
            snprintf(s, sizeof(s), "%gs", b->every);
            v = json_string(s);
        } else if (b->position < 0) {
            v = json_integer(-1);
        } else {
            v = json_real(secs(b->position));
            if (fmod(secs(b->position), 1.0) == 0)
                v = (json_decref(v), json_integer((json_int_t)secs(b->position)));
        }
        bool dup = false;
        for (size_t k = 0; k < json_array_size(arr); k++)
            dup = dup || json_equal(json_array_get(arr, k), v);
        if (dup)
            json_decref(v);
        else
            json_array_append_new(arr, v);
    }
    if (json_array_size(arr) == 0)
        json_array_append_new(arr, json_integer(0));
    return arr;
}

static void resolve_positions(kp_ads *a, kp_time dur)
{
    size_t n = a->n_breaks;
    for (size_t i = 0; i < n; i++) {
        brk *b = &a->breaks[i];
        if (b->position != -2)
            continue;
        if (b->pct >= 0) {
            b->position = (kp_time)((double)dur * b->pct / 100.0);
        } else if (b->every > 0) {
            /* every N: N, 2N ... <= duration, each a break of its own */
            b->position = KP_SEC(b->every);
            for (double t = 2 * b->every; KP_SEC(t) <= dur; t += b->every) {
                brk *c = add_break(a);
                if (!c)
                    break;
                *c = *b;
                for (size_t k = 0; k < b->n_urls; k++)
                    c->urls[k] = kp_strdup(b->urls[k]);
                c->position = KP_SEC(t);
            }
            if (b->position > dur)
                b->played = true;
        } else {
            b->played = true;
        }
    }
}

/* ---- the break machine ---- */

static void start_next_source(kp_ads *a);
static void play_next_ad(kp_ads *a);
static void finish_break(kp_ads *a);

static bool breaks_left(const kp_ads *a)
{
    for (size_t i = 0; i < a->n_breaks; i++)
        if (!a->breaks[i].played)
            return true;
    return false;
}

static void all_completed(kp_ads *a)
{
    if (a->all_done)
        return;
    a->all_done = true;
    emit(a, KP_EV_ALL_ADS_COMPLETED, NULL);
    kp__player_ads_ended(a->p);
}

static void begin_break(kp_ads *a, brk **list, size_t n, const char *type)
{
    a->n_cur = n;
    memcpy(a->cur, list, n * sizeof(*list));
    for (size_t i = 0; i < n; i++)
        list[i]->played = true;
    a->cur_type = type;
    a->cur_pos = strcmp(type, "postroll") == 0  ? -1
                 : strcmp(type, "preroll") == 0 ? 0
                                                : kp_player_current_time(a->p);
    a->src = 0;
    a->n_pod = a->at = 0;
    a->break_started = false;
    a->resume_content = false;
    KP_LOG_I(a->p->log, MOD, "%s break (%zu merged)", type, n);
    start_next_source(a);
}

/* The sources of the current break, flattened: a break holds one (a VMAP break, an inline
 * VAST) or one per ad (advertising.adBreaks urls). */
static bool source_at(const kp_ads *a, size_t idx, const brk **b, size_t *url)
{
    size_t k = 0;
    for (size_t i = 0; i < a->n_cur; i++) {
        const brk *c = a->cur[i];
        size_t n = c->vmap || c->vast ? 1 : c->n_urls;
        if (idx < k + n) {
            *b = c;
            *url = idx - k;
            return true;
        }
        k += n;
    }
    return false;
}

static void resolved_doc(kp_ads *a, const kp_vast *v);

static void vast_answer(void *ud, const kp_http_response *r)
{
    kp_ads *a = ud;
    a->req = 0;
    ad_item *it = &a->resolving;
    int depth = it->n_wrappers;
    if (r->error != KP_OK || r->status != 200) {
        /* VAST 301: the URI was unavailable or timed out (for a wrapper's as for the
         * first: IMA reports both as a VAST URI failure) */
        it->error_code = KP_VAST_WRAPPER_TIMEOUT;
        snprintf(it->error_msg, sizeof(it->error_msg), "the VAST request %s (depth %d) failed: %s",
                 r->url, depth, r->error != KP_OK ? kp_strerror(r->error) : "");
        if (r->error == KP_OK)
            snprintf(it->error_msg, sizeof(it->error_msg), "the VAST request %s answered %d",
                     r->url, r->status);
        resolved_doc(a, NULL);
        return;
    }
    kp_vast *v = NULL;
    kp_vast_error err;
    if (kp_vast_parse(r->body.data, r->body.len, &v, &err) != KP_OK) {
        it->error_code = err.code;
        snprintf(it->error_msg, sizeof(it->error_msg), "%s (line %d)", err.msg, err.line);
        resolved_doc(a, NULL);
        return;
    }
    resolved_doc(a, keep_doc(a, v));
}

/* The limit on each VAST/VMAP request (the ad tag's and each wrapper's): plugins.ima's
 * vastLoadTimeout, IMA's 5 s when unset; 0 or less waits as long as the answer takes. */
static kp_time vast_load_timeout(const kp_ads *a)
{
    json_int_t ms =
        kp_json_int(a->config, "plugins.ima.vastLoadTimeout", DEFAULT_VAST_LOAD_TIMEOUT);
    return ms > 0 ? KP_MS(ms) : 0;
}

static void fetch_vast(kp_ads *a, const char *url)
{
    kp_http_request req = {.url = url, .timeout = vast_load_timeout(a)};
    a->req = kp_net_fetch(a->p->net, &req, vast_answer, a);
    if (!a->req) {
        a->resolving.error_code = KP_VAST_WRAPPER_TIMEOUT;
        snprintf(a->resolving.error_msg, sizeof(a->resolving.error_msg),
                 "the VAST request %s could not be made", url);
        resolved_doc(a, NULL);
    }
}

static void source_failed(kp_ads *a)
{
    ad_item *it = &a->resolving;
    fire_errors(a, it, it->error_code);
    /* IMA: an AdErrorEvent (critical) for an ad request of its own; playAdNow pods
     * (advertising.adBreaks) log it (recoverable) and go on */
    ad_error(a, it->error_code, a->mode == MODE_TAG, it->error_msg);
    a->src++;
    start_next_source(a);
}

/* A VAST document of the current source arrived (NULL: it failed, resolving says why). */
static void resolved_doc(kp_ads *a, const kp_vast *v)
{
    ad_item *it = &a->resolving;
    if (!v) {
        source_failed(a);
        return;
    }
    size_t idx[MAX_POD];
    size_t n = kp_vast_pick(v, idx, MAX_POD);
    if (n == 0) {
        /* no ad: an empty response, or an empty answer behind wrappers (VAST 303) */
        it->error_code = KP_VAST_NO_ADS_AFTER_WRAPPER;
        snprintf(it->error_msg, sizeof(it->error_msg), "%s",
                 it->n_wrappers ? "no ads VAST response after one or more wrappers"
                                : "the VAST response has no ads");
        fire_all(a, v->errors, v->n_errors, it->error_code);
        source_failed(a);
        return;
    }
    const kp_vast_ad *first = &v->ads[idx[0]];
    if (first->wrapper) {
        bool refused = it->n_wrappers > 0 && !it->wrappers[it->n_wrappers - 1]->follow_redirects;
        if (it->n_wrappers >= a->max_redirects || refused) {
            it->wrappers[it->n_wrappers < MAX_WRAPPERS ? it->n_wrappers++ : MAX_WRAPPERS - 1] =
                first;
            it->error_code = KP_VAST_WRAPPER_LIMIT;
            snprintf(it->error_msg, sizeof(it->error_msg), "the wrapper limit (%d) was reached",
                     a->max_redirects);
            source_failed(a);
            return;
        }
        it->wrappers[it->n_wrappers++] = first;
        fetch_vast(a, first->ad_tag_uri);
        return;
    }
    for (size_t i = 0; i < n && a->n_pod < MAX_POD; i++) {
        ad_item *dst = &a->pod[a->n_pod++];
        *dst = *it;
        dst->inl = &v->ads[idx[i]];
    }
    a->src++;
    start_next_source(a);
}

static void start_next_source(kp_ads *a)
{
    const brk *b;
    size_t url;
    memset(&a->resolving, 0, sizeof(a->resolving));
    if (!source_at(a, a->src, &b, &url)) {
        a->at = 0;
        play_next_ad(a);
        return;
    }
    if (b->vmap && b->vmap->ad_tag_uri)
        fetch_vast(a, b->vmap->ad_tag_uri);
    else if (b->vmap)
        resolved_doc(a, b->vmap->vast);
    else if (b->vast)
        resolved_doc(a, b->vast);
    else
        fetch_vast(a, b->urls[url]);
}

/* ---- playing an ad ---- */

static void ad_tick(void *ud);

static void end_ad(kp_ads *a)
{
    kp_sched_cancel(a->p->sched, a->task);
    a->task = 0;
    a->playing = false;
    a->ad_paused = false;
    free(a->progress_fired);
    a->progress_fired = NULL;
    a->at++;
    play_next_ad(a);
}

static void ad_tick(void *ud)
{
    kp_ads *a = ud;
    a->task = 0;
    const ad_item *it = &a->pod[a->at];
    kp_time now = kp_sched_now(a->p->sched);
    kp_time ph = now - a->ad_start;
    if (ph >= a->ad_dur) {
        track(a, it, "complete");
        emit(a, KP_EV_AD_COMPLETED, NULL);
        end_ad(a);
        return;
    }
    static const char *const q_ev[] = {"firstQuartile", "midpoint", "thirdQuartile"};
    static const kp_event_type q_type[] = {KP_EV_AD_FIRST_QUARTILE, KP_EV_AD_MIDPOINT,
                                           KP_EV_AD_THIRD_QUARTILE};
    while (a->quartile < 3 && ph >= a->ad_dur * (a->quartile + 1) / 4) {
        track(a, it, q_ev[a->quartile]);
        emit(a, q_type[a->quartile], NULL);
        a->quartile++;
    }
    /* progress offsets of the inline ad */
    const kp_vast_ad *ad = it->inl;
    for (size_t i = 0; i < ad->n_tracking && i < a->n_progress; i++) {
        const kp_vast_tracking *t = &ad->tracking[i];
        if (a->progress_fired[i] || strcmp(t->event, "progress") != 0)
            continue;
        kp_time off = t->offset >= 0 ? t->offset : (kp_time)(a->ad_dur * t->offset_pct / 100.0);
        if (ph >= off) {
            a->progress_fired[i] = true;
            fire(a, t->url, 0);
        }
    }
    if (!a->can_skip) {
        kp_time skip = ad->skip_offset >= 0 ? ad->skip_offset
                       : ad->skip_pct >= 0  ? (kp_time)(a->ad_dur * ad->skip_pct / 100.0)
                                            : -1;
        if (skip >= 0 && ph >= skip) {
            a->can_skip = true;
            emit(a, KP_EV_AD_CAN_SKIP, NULL);
        }
    }
    emit(a, KP_EV_AD_PROGRESS,
         json_pack("{s:{s:f,s:f}}", "adProgress", "currentTime", secs(ph), "duration",
                   secs(a->ad_dur)));
    a->ticks++;
    kp_time next = a->ad_start + (kp_time)(a->ticks + 1) * AD_TICK;
    if (next > a->ad_start + a->ad_dur)
        next = a->ad_start + a->ad_dur;
    a->task = kp_sched_at(a->p->sched, next, ad_tick, a);
}

static void ad_started(void *ud)
{
    kp_ads *a = ud;
    a->task = 0;
    const ad_item *it = &a->pod[a->at];
    a->playing = true;
    a->any_played = true;
    a->ad_start = kp_sched_now(a->p->sched);
    a->ticks = 0;
    a->quartile = 0;
    a->can_skip = false;
    free(a->progress_fired);
    a->n_progress = it->inl->n_tracking;
    a->progress_fired = calloc(a->n_progress ? a->n_progress : 1, 1);
    if (!a->progress_fired)
        a->n_progress = 0;
    emit(a, KP_EV_AD_STARTED, json_pack("{s:o}", "ad", ad_json(a, it)));
    for (int w = -1; w < it->n_wrappers; w++) {
        const kp_vast_ad *ad = w < 0 ? it->inl : it->wrappers[w];
        if (ad)
            fire_all(a, ad->impressions, ad->n_impressions, 0);
    }
    track(a, it, "creativeView");
    track(a, it, "start");
    a->task = kp_sched_at(a->p->sched, a->ad_start + (AD_TICK < a->ad_dur ? AD_TICK : a->ad_dur),
                          ad_tick, a);
}

/* An ad's failure is IMA's AdErrorEvent (CRITICAL) when it was its own request's only ad;
 * inside a pod, and under advertising.adBreaks (playAdNow), a logged RECOVERABLE one. */
static bool single_ad(const kp_ads *a)
{
    return a->mode == MODE_TAG && a->n_pod == 1;
}

static void media_answer(void *ud, const kp_http_response *r)
{
    kp_ads *a = ud;
    a->req = 0;
    ad_item *it = &a->pod[a->at];
    int code = 0;
    char msg[200] = "";
    kp_time dur = it->inl->duration;
    if (r->error != KP_OK || r->status == 404 || r->status == 410) {
        code = r->error == KP_ETIMEDOUT ? KP_VAST_MEDIA_TIMEOUT : KP_VAST_FILE_NOT_FOUND;
        snprintf(msg, sizeof(msg), "the media file %s could not be fetched (%s)", r->url,
                 r->error != KP_OK ? kp_strerror(r->error) : "HTTP 404");
    } else if (r->status != 200) {
        code = KP_VAST_FILE_NOT_FOUND;
        snprintf(msg, sizeof(msg), "the media file %s answered HTTP %d", r->url, r->status);
    } else {
        /* the ad element reads the file's header as the content's NativeAdapter element
         * does (its moov and sample index, with libavformat) */
        size_t n_samples = 0;
        kp_time end = 0;
        char derr[160];
        if (kp_native_mp4_probe((const uint8_t *)r->body.data, r->body.len, &n_samples, &end, derr,
                                sizeof(derr)) != KP_OK ||
            n_samples == 0) {
            code = KP_VAST_MEDIA_DISPLAY;
            snprintf(msg, sizeof(msg), "the media file %s cannot be played: %s", r->url,
                     derr[0] ? derr : "no samples");
        } else if (end > 0) {
            dur = end; /* the element's duration: what the file holds */
        }
    }
    if (code) {
        fire_errors(a, it, code);
        /* the ad fails: an AdErrorEvent when it was the request's only ad, else a logged
         * error and the pod goes on */
        ad_error(a, code, single_ad(a), msg);
        a->at++;
        play_next_ad(a);
        return;
    }
    a->ad_dur = dur > 0 ? dur : KP_SEC(1);
    bool first = !a->break_started;
    emit(a, KP_EV_AD_LOADED, json_pack("{s:o,s:s}", "ad", ad_json(a, it), "adType", a->cur_type));
    if (first) {
        a->break_started = true;
        size_t n = a->n_pod;
        if (strcmp(a->cur_type, "midroll") == 0)
            a->cur_pos = kp_player_current_time(a->p); /* AdBreak position: currentTime */
        emit(a, KP_EV_AD_BREAK_START,
             json_pack("{s:{s:s,s:f,s:i}}", "adBreak", "type", a->cur_type, "position", a->cur_pos,
                       "numAds", (int)n));
        for (size_t i = 0; i < a->n_cur; i++)
            if (a->cur[i]->vmap)
                fire_all(a, a->cur[i]->vmap->tracking_start, a->cur[i]->vmap->n_start, 0);
        /* ima-state-machine: player.pause() before dispatching adbreakstart; the content's
         * pause events are queued on its element, so they follow */
        if (strcmp(a->cur_type, "midroll") == 0 && !kp_player_paused(a->p)) {
            a->resume_content = true;
            a->self_call = true;
            kp_player_pause(a->p);
            a->self_call = false;
        }
    }
    a->task = kp_sched_after(a->p->sched, AD_PLAYING_DELAY, ad_started, a);
}

static const kp_vast_media_file *pick_media(const kp_vast_ad *ad)
{
    const kp_vast_media_file *best = NULL;
    for (size_t i = 0; i < ad->n_media; i++) {
        const kp_vast_media_file *m = &ad->media[i];
        if (!m->type || strcmp(m->type, "video/mp4") != 0 || m->api_framework)
            continue;
        if (m->delivery && strcmp(m->delivery, "progressive") != 0)
            continue;
        /* IMA's bitrate: -1 (auto): the highest it can play; the first of the best */
        if (!best || m->bitrate > best->bitrate)
            best = m;
    }
    return best;
}

static void play_next_ad(kp_ads *a)
{
    while (a->at < a->n_pod) {
        ad_item *it = &a->pod[a->at];
        if (!it->inl->linear) {
            fire_errors(a, it, KP_VAST_LINEARITY);
            ad_error(a, KP_VAST_LINEARITY, single_ad(a), "the ad has no linear creative");
            a->at++;
            continue;
        }
        a->media = pick_media(it->inl);
        if (!a->media) {
            fire_errors(a, it, KP_VAST_NO_SUPPORTED_MEDIA);
            ad_error(a, KP_VAST_NO_SUPPORTED_MEDIA, single_ad(a),
                     "no progressive video/mp4 MediaFile the player supports");
            a->at++;
            continue;
        }
        kp_http_request req = {.url = a->media->url};
        a->req = kp_net_fetch(a->p->net, &req, media_answer, a);
        if (a->req)
            return;
        a->at++;
    }
    finish_break(a);
}

static void finish_break(kp_ads *a)
{
    bool was_preroll = strcmp(a->cur_type, "preroll") == 0;
    if (a->break_started) {
        for (size_t i = 0; i < a->n_cur; i++)
            if (a->cur[i]->vmap)
                fire_all(a, a->cur[i]->vmap->tracking_end, a->cur[i]->vmap->n_end, 0);
        emit(a, KP_EV_AD_BREAK_END, NULL);
        if (a->mode == MODE_BREAKS || !a->vmap || !breaks_left(a))
            emit(a, KP_EV_ADS_COMPLETED, NULL);
    } else if (a->mode == MODE_BREAKS) {
        emit(a, KP_EV_ADS_COMPLETED, NULL); /* a pod that failed whole: adscompleted only */
    }
    a->n_cur = 0;
    a->cur_type = NULL;
    /* the content goes on: adbreakend's handler plays it (events follow) */
    if (was_preroll && a->want_play) {
        a->want_play = false;
        kp__player_ads_release(a->p);
    } else if (a->resume_content) {
        a->resume_content = false;
        a->self_call = true;
        kp_player_play(a->p);
        a->self_call = false;
    }
    if (!breaks_left(a) && a->any_played)
        all_completed(a);
    else if (!breaks_left(a))
        kp__player_ads_ended(a->p);
}

/* ---- content events ---- */

static void start_preroll(kp_ads *a)
{
    brk *list[MAX_BREAKS];
    size_t n = 0;
    for (size_t i = 0; i < a->n_breaks; i++)
        if (!a->breaks[i].played && a->breaks[i].position == 0)
            list[n++] = &a->breaks[i];
    if (n)
        begin_break(a, list, n, "preroll");
}

static bool preroll_due(const kp_ads *a)
{
    if (a->mode == MODE_TAG && !a->tag_loaded)
        return true;
    for (size_t i = 0; i < a->n_breaks; i++)
        if (!a->breaks[i].played && a->breaks[i].position == 0)
            return true;
    return false;
}

static void tag_failed(kp_ads *a, int code, const char *msg)
{
    a->tag_loaded = true;
    ad_error(a, code, true, msg);
    if (a->want_play) {
        a->want_play = false;
        kp__player_ads_release(a->p);
    }
}

static void tag_answer(void *ud, const kp_http_response *r)
{
    kp_ads *a = ud;
    a->tag_req = 0;
    if (r->error != KP_OK || r->status != 200) {
        char msg[200];
        snprintf(msg, sizeof(msg), "the ad tag %s failed: %s", r->url,
                 r->error != KP_OK ? kp_strerror(r->error) : "HTTP error status");
        tag_failed(a, KP_VAST_WRAPPER_TIMEOUT, msg);
        return;
    }
    kp_vast_error err;
    if (kp_vmap_sniff(r->body.data, r->body.len)) {
        kp_vmap *m = NULL;
        if (kp_vmap_parse(r->body.data, r->body.len, &m, &err) != KP_OK) {
            tag_failed(a, err.code, err.msg);
            return;
        }
        a->vmap = m;
        for (size_t i = 0; i < m->n_breaks; i++) {
            const kp_vmap_break *vb = &m->breaks[i];
            if (vb->nth > 0 || (!vb->ad_tag_uri && !vb->vast))
                continue; /* "#n" positions and custom data: nothing to play */
            brk *b = add_break(a);
            if (!b)
                break;
            b->vmap = vb;
            b->position = vb->offset_pct >= 0 ? -2 : vb->offset;
            b->pct = vb->offset_pct;
            if (vb->offset_pct >= 0 && vb->offset_pct <= 0)
                b->position = 0;
            if (vb->offset_pct >= 100)
                b->position = -1;
        }
        double d = kp_player_duration(a->p);
        if (!isnan(d) && d > 0)
            resolve_positions(a, KP_SEC(d));
    } else {
        kp_vast *v = NULL;
        if (kp_vast_parse(r->body.data, r->body.len, &v, &err) != KP_OK) {
            tag_failed(a, err.code, err.msg);
            return;
        }
        keep_doc(a, v);
        brk *b = add_break(a);
        if (b)
            b->vast = v;
    }
    a->tag_loaded = true;
    json_t *pos = json_array();
    for (size_t i = 0; i < a->n_breaks; i++) {
        const brk *b = &a->breaks[i];
        if (b->position == -2) { /* n% before the duration is known: the AdsController's form */
            char s[32];
            snprintf(s, sizeof(s), "%g%%", b->pct);
            json_array_append_new(pos, json_string(s));
            continue;
        }
        double v = b->position == -1 ? -1 : secs(b->position);
        json_array_append_new(pos, fmod(v, 1.0) == 0 ? json_integer((json_int_t)v) : json_real(v));
    }
    if (json_array_size(pos) == 0)
        json_array_append_new(pos, json_integer(0));
    emit(a, KP_EV_AD_MANIFEST_LOADED, json_pack("{s:o}", "adBreaksPosition", pos));
    if (a->want_play) {
        if (preroll_due(a))
            start_preroll(a);
        else {
            a->want_play = false;
            kp__player_ads_release(a->p);
        }
    }
}

/* Runs fn from a task at once (after the content event's dispatch), replacing a pending
 * reaction. */
static kp_task_id later(kp_ads *a, kp_task_fn fn)
{
    kp_sched_cancel(a->p->sched, a->ctask);
    return kp_sched_after(a->p->sched, 0, fn, a);
}

static void request_tag(void *ud)
{
    kp_ads *a = ud;
    a->ctask = 0;
    const char *resp = kp_json_str(a->config, "plugins.ima.adsResponse", NULL);
    if (resp) {
        kp_http_response r = {.status = 200, .url = (char *)"adsResponse"};
        kp_buf_init(&r.body);
        kp_buf_puts(&r.body, resp);
        tag_answer(a, &r);
        kp_buf_free(&r.body);
        return;
    }
    kp_http_request req = {.url = kp_json_str(a->config, "plugins.ima.adTagUrl", NULL),
                           .timeout = vast_load_timeout(a)};
    a->tag_req = kp_net_fetch(a->p->net, &req, tag_answer, a);
    if (!a->tag_req)
        tag_failed(a, KP_VAST_WRAPPER_TIMEOUT, "the ad tag request could not be made");
}

static void manifest_from_config(void *ud)
{
    kp_ads *a = ud;
    a->ctask = 0;
    emit(a, KP_EV_AD_MANIFEST_LOADED,
         json_pack("{s:o}", "adBreaksPosition", manifest_positions(a)));
}

static void check_midroll(void *ud)
{
    kp_ads *a = ud;
    a->ctask = 0;
    if (a->n_cur || a->content_ended)
        return;
    kp_time now = KP_SEC(kp_player_current_time(a->p));
    kp_time best = -1;
    for (size_t i = 0; i < a->n_breaks; i++) {
        const brk *b = &a->breaks[i];
        if (!b->played && b->position > 0 && b->position > a->snapback && b->position <= now &&
            b->position > best)
            best = b->position;
    }
    if (best < 0)
        return;
    brk *list[MAX_BREAKS];
    size_t n = 0;
    for (size_t i = 0; i < a->n_breaks; i++)
        if (!a->breaks[i].played && a->breaks[i].position == best)
            list[n++] = &a->breaks[i];
    a->snapback = best; /* the earlier ones are passed over (AdsController snap-back) */
    begin_break(a, list, n, "midroll");
}

static void content_ended(void *ud)
{
    kp_ads *a = ud;
    a->ctask = 0;
    brk *list[MAX_BREAKS];
    size_t n = 0;
    for (size_t i = 0; i < a->n_breaks; i++) {
        brk *b = &a->breaks[i];
        if (b->played)
            continue;
        if (b->position == -1)
            list[n++] = b;
        else
            b->played = true; /* left unplayed: marked played on ended */
    }
    if (n)
        begin_break(a, list, n, "postroll");
    else if (a->any_played)
        all_completed(a);
}

static void on_event(void *ud, const kp_event *ev)
{
    kp_ads *a = ud;
    switch (ev->type) {
    case KP_EV_CHANGE_SOURCE_STARTED:
        if (a->mode == MODE_TAG && !a->tag_req && !a->tag_loaded)
            a->ctask = later(a, request_tag);
        break;
    case KP_EV_SOURCE_SELECTED:
        if (a->mode == MODE_BREAKS && a->n_breaks == 0) {
            config_breaks(a);
            if (a->n_breaks)
                a->ctask = later(a, manifest_from_config);
        }
        break;
    case KP_EV_DURATION_CHANGE: {
        double d = kp_player_duration(a->p);
        if (!isnan(d) && d > 0)
            resolve_positions(a, KP_SEC(d));
        break;
    }
    case KP_EV_TIME_UPDATE:
        if (!a->n_cur && !a->ctask && !kp_player_paused(a->p))
            a->ctask = later(a, check_midroll);
        break;
    case KP_EV_SEEKED: {
        /* back before the last midroll played: the breaks passed over may play again */
        kp_time now = KP_SEC(kp_player_current_time(a->p));
        if (now < a->snapback)
            a->snapback = now;
        break;
    }
    case KP_EV_ENDED:
        a->content_ended = true;
        if (!a->n_cur)
            a->ctask = later(a, content_ended);
        break;
    default:
        break;
    }
}

/* ---- hooks ---- */

bool kp__ads_hold_play(kp_ads *a)
{
    if (a->n_cur)
        return true; /* a break is playing: content waits for its end */
    if (!preroll_due(a))
        return false;
    a->want_play = true;
    if (a->mode != MODE_TAG || a->tag_loaded)
        start_preroll(a);
    return true;
}

bool kp__ads_hold_ended(kp_ads *a)
{
    if (a->all_done)
        return false;
    return a->n_cur > 0 || breaks_left(a) || (a->content_ended && a->ctask);
}

int kp__ads_skip(kp_ads *a)
{
    if (!a->playing || !a->can_skip)
        return KP_ESTATE;
    const ad_item *it = &a->pod[a->at];
    track(a, it, "skip");
    emit(a, KP_EV_AD_SKIPPED, NULL);
    end_ad(a);
    return KP_OK;
}

bool kp__ads_pause(kp_ads *a)
{
    if (a->self_call || !a->n_cur || !a->break_started)
        return false; /* no ad on screen yet: the call is the content's */
    if (a->playing && !a->ad_paused) {
        a->ad_paused = true;
        a->paused_ph = kp_sched_now(a->p->sched) - a->ad_start;
        kp_sched_cancel(a->p->sched, a->task);
        a->task = 0;
        track(a, &a->pod[a->at], "pause");
        emit(a, KP_EV_AD_PAUSED, NULL);
    }
    return true;
}

bool kp__ads_resume(kp_ads *a)
{
    if (a->self_call || !a->n_cur || !a->break_started)
        return false; /* no ad on screen yet: the call is the content's */
    if (a->ad_paused) {
        a->ad_paused = false;
        a->ad_start = kp_sched_now(a->p->sched) - a->paused_ph;
        track(a, &a->pod[a->at], "resume");
        emit(a, KP_EV_AD_RESUMED, NULL);
        kp_time next = a->ad_start + (kp_time)(a->ticks + 1) * AD_TICK;
        if (next > a->ad_start + a->ad_dur)
            next = a->ad_start + a->ad_dur;
        a->task = kp_sched_at(a->p->sched, next, ad_tick, a);
    }
    return true;
}

/* ---- plugin ---- */

bool kp_ads_enabled(const json_t *config)
{
    return json_is_object(kp_json_path(config, "plugins.ima")) ||
           json_array_size(kp_json_path(config, "advertising.adBreaks")) > 0;
}

static void reset_media(kp_ads *a)
{
    if (a->req)
        kp_net_cancel(a->p->net, a->req);
    if (a->tag_req)
        kp_net_cancel(a->p->net, a->tag_req);
    kp_sched_cancel(a->p->sched, a->task);
    kp_sched_cancel(a->p->sched, a->ctask);
    a->req = a->tag_req = 0;
    a->task = a->ctask = 0;
    clear_breaks(a);
    for (size_t i = 0; i < a->n_docs; i++)
        kp_vast_free(a->docs[i]);
    free(a->docs);
    a->docs = NULL;
    a->n_docs = 0;
    kp_vmap_free(a->vmap);
    a->vmap = NULL;
    free(a->progress_fired);
    a->progress_fired = NULL;
    a->tag_loaded = a->want_play = a->any_played = a->all_done = a->content_ended = false;
    a->playing = a->ad_paused = false;
    a->snapback = 0;
    a->n_cur = 0;
    a->cur_type = NULL;
}

static void *ads_create(kp_player *p, const json_t *config, void *arg)
{
    (void)config;
    (void)arg;
    kp_ads *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->p = p;
    a->config = p->config; /* the player's copy, alive as long as the plugin */
    const char *tag = kp_json_str(a->config, "plugins.ima.adTagUrl", NULL);
    const char *resp = kp_json_str(a->config, "plugins.ima.adsResponse", NULL);
    a->mode = (tag && *tag) || (resp && *resp) ? MODE_TAG : MODE_BREAKS;
    long long nr = kp_json_int(a->config, "plugins.ima.numRedirects", DEFAULT_REDIRECTS);
    a->max_redirects = nr < 0 ? 0 : nr > MAX_WRAPPERS - 1 ? MAX_WRAPPERS - 1 : (int)nr;
    kp_rng_seed(&a->rng, 0x61647321ULL);
    a->listener = kp_bus_listen(kp_player_bus(p), -1, on_event, a);
    if (!a->listener) {
        free(a);
        return NULL;
    }
    return a;
}

static void ads_reset(void *state)
{
    reset_media(state);
}

static void ads_destroy(void *state)
{
    kp_ads *a = state;
    reset_media(a);
    kp_bus_unlisten(kp_player_bus(a->p), a->listener);
    free(a);
}

const kp_plugin_desc kp_ads_plugin = {
    .name = "ima",
    .create = ads_create,
    .reset = ads_reset,
    .destroy = ads_destroy,
};
