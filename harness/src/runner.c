/* runner.c: one scenario, start to finish (see hx/runner.h). */
#include "hx/runner.h"

#include "kp/drm.h"

#include "hx/expect.h"
#include "kp/buf.h"
#include "kp/drm.h"
#include "kp/err.h"
#include "kp/event.h"
#include "kp/fault.h"
#include "kp/jsonu.h"
#include "kp/net.h"
#include "kp/player.h"
#include "kp/recorder.h"
#include "kp/sched.h"
#include "mbe/mbe.h"

#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *hx_status_name(hx_status s)
{
    static const char *const names[] = {"passed", "failed", "timeout", "invalid", "not recorded"};
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "failed";
}

void hx_result_free(hx_result *r)
{
    free(r->file);
    free(r->name);
    free(r->classname);
    json_decref(r->trace);
    json_decref(r->journal);
    json_decref(r->drm_journal);
    free(r->steps);
    for (size_t i = 0; i < r->n_failures; i++) {
        free(r->failures[i].message);
        free(r->failures[i].detail);
    }
    free(r->failures);
    for (size_t i = 0; i < r->n_diagnostics; i++)
        free(r->diagnostics[i]);
    free(r->diagnostics);
    free(r->output);
    for (size_t i = 0; i < r->n_earlier; i++) {
        free(r->earlier[i].message);
        free(r->earlier[i].output);
    }
    free(r->earlier);
    memset(r, 0, sizeof(*r));
}

static void add_failure(hx_result *r, const char *file, hx_loc loc, char *detail, const char *fmt,
                        ...) __attribute__((format(printf, 5, 6)));
static void add_failure(hx_result *r, const char *file, hx_loc loc, char *detail, const char *fmt,
                        ...)
{
    hx_failure *f = realloc(r->failures, (r->n_failures + 1) * sizeof(*f));
    if (!f) {
        free(detail);
        return;
    }
    r->failures = f;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    r->failures[r->n_failures++] = (hx_failure){
        .message = kp_asprintf("%s:%d:%d: %s", file, loc.line, loc.col, msg),
        .detail = detail,
        .loc = loc,
    };
    if (r->status == HX_PASSED)
        r->status = HX_FAILED;
}

typedef struct run_ctx {
    const hx_scenario *sc;
    hx_result *res;
    kp_sched *sched;
    kp_net *net;
    kp_player *player;
    kp_recorder *rec;
    hx_servers srv;
    struct timespec started;
    double timeout_ms;
    bool timed_out;
} run_ctx;

static double wall_ms_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) * 1000.0 + (double)(now.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Every player event arms the fault rules waiting for it (`when`), before any listener after
 * this one reacts: a request the event leads to already sees the armed rule. */
static void on_player_event(void *ud, const kp_event *ev)
{
    run_ctx *c = ud;
    kp_fault_set_event(c->srv.faults, kp_event_name(ev->type));
}

/* One scheduler task, unless the watchdog fired. */
static bool step_clock(run_ctx *c)
{
    if (c->timed_out)
        return false;
    if ((kp_sched_tasks_run(c->sched) & 63) == 0 && wall_ms_since(&c->started) > c->timeout_ms) {
        c->timed_out = true;
        return false;
    }
    return kp_sched_step(c->sched);
}

static void run_until(run_ctx *c, kp_time until)
{
    for (;;) {
        kp_time next = kp_sched_next_time(c->sched);
        if (next < 0 || next > until)
            break;
        if (!step_clock(c))
            return;
    }
    kp_sched_run_until(c->sched, until); /* nothing is due: only moves the clock */
}

static bool event_matches(const hx_step *st, const kp_recorded *e)
{
    if (strcmp(st->event, e->name) != 0)
        return false;
    return !st->payload || kp_json_subset(st->payload, e->payload);
}

static void fmt_duration(kp_time t, char *out, size_t n)
{
    if (t % 1000000 == 0)
        snprintf(out, n, "%llds", (long long)(t / 1000000));
    else
        snprintf(out, n, "%lldms", (long long)(t / 1000));
}

/* Runs the clock until the step's condition holds. false when it did not within the timeout. */
static bool wait_for(run_ctx *c, const hx_step *st, size_t first_event)
{
    kp_time deadline = kp_sched_now(c->sched) + st->timeout;
    size_t scan = first_event;
    for (;;) {
        if (st->event) {
            for (size_t n = kp_recorder_count(c->rec); scan < n; scan++)
                if (event_matches(st, kp_recorder_get(c->rec, scan)))
                    return true;
        } else {
            double pos = kp_player_current_time(c->player);
            if (pos >= st->number)
                return true;
            kp_time next = kp_sched_next_time(c->sched);
            if (strcmp(kp_player_state(c->player), "playing") == 0 &&
                !kp_player_paused(c->player)) {
                /* the playhead moves continuously: stop the clock where it reaches the mark */
                kp_time reach = kp_sched_now(c->sched) + (kp_time)ceil((st->number - pos) * 1e6);
                if ((next < 0 || reach <= next) && reach <= deadline) {
                    run_until(c, reach);
                    continue;
                }
            }
        }
        kp_time next = kp_sched_next_time(c->sched);
        if (next < 0 || next > deadline) {
            run_until(c, deadline);
            return false;
        }
        if (!step_clock(c))
            return false;
    }
}

static bool is_wait(hx_step_kind k)
{
    return k == HX_STEP_WAIT || k == HX_STEP_WAIT_FOR;
}

static int act(run_ctx *c, const hx_step *st)
{
    switch (st->kind) {
    case HX_STEP_LOAD_MEDIA: {
        json_t *mi = st->entry_id ? json_pack("{s:s}", "entryId", st->entry_id)
                                  : json_pack("{s:s}", "referenceId", st->reference_id);
        if (mi && st->media_info)
            json_object_update(mi, st->media_info);
        kp_player_load_media(c->player, mi);
        json_decref(mi);
        return 1;
    }
    case HX_STEP_LOAD_PLAYLIST: {
        json_t *info;
        if (st->playlist_id) {
            info = json_pack("{s:s}", "playlistId", st->playlist_id);
        } else {
            info = json_pack("{s:[]}", "entries");
            for (size_t i = 0; info && i < st->n_list_entries; i++)
                json_array_append_new(json_object_get(info, "entries"),
                                      json_pack("{s:s}", "entryId", st->list_entries[i]));
        }
        int rc = info ? kp_player_load_playlist(c->player, info) : KP_ENOMEM;
        json_decref(info);
        return rc == KP_OK;
    }
    case HX_STEP_PLAY:
        kp_player_play(c->player);
        return 1;
    case HX_STEP_PAUSE:
        kp_player_pause(c->player);
        return 1;
    case HX_STEP_SEEK:
        kp_player_seek(c->player, st->number);
        return 1;
    case HX_STEP_SET_MUTED:
        kp_player_set_muted(c->player, st->flag);
        return 1;
    case HX_STEP_SET_VOLUME:
        kp_player_set_volume(c->player, st->number);
        return 1;
    case HX_STEP_SKIP_AD:
        return kp_player_skip_ad(c->player) == KP_OK;
    case HX_STEP_SET_NETWORK: {
        /* transfers already under way keep the profile they started with */
        kp_net_profile prof = *kp_net_profile_get(c->net);
        if (st->bandwidth_bps > 0)
            prof.bandwidth_bps = st->bandwidth_bps;
        if (st->latency >= 0)
            prof.latency = st->latency;
        kp_net_set_profile(c->net, &prof);
        return 1;
    }
    default:
        return 0;
    }
}

/* Runs one step. An action (load_media, play, ...) returns at once on the virtual clock; its
 * consequences due at that same instant (the DOM events a pause queues, say) run before the
 * next step starts, so they belong to this step. */
static int run_step(run_ctx *c, const hx_step *st, size_t first_event)
{
    if (st->kind == HX_STEP_WAIT) {
        run_until(c, kp_sched_now(c->sched) + st->duration);
        return !c->timed_out;
    }
    if (st->kind == HX_STEP_WAIT_FOR)
        return wait_for(c, st, first_event) ? 1 : 0;
    int ok = act(c, st);
    run_until(c, kp_sched_now(c->sched));
    return ok && !c->timed_out;
}

static void record_step_failure(run_ctx *c, size_t i, const hx_step *st)
{
    char d[32];
    fmt_duration(st->timeout, d, sizeof(d));
    if (st->kind == HX_STEP_SKIP_AD) {
        add_failure(c->res, c->sc->file, st->loc, NULL,
                    "steps[%zu]: skip_ad: no skippable ad is playing (skip is possible after the "
                    "ad's adcanskip; player state %s, position %.3f s)",
                    i, kp_player_state(c->player), kp_player_current_time(c->player));
    } else if (st->event) {
        char *p = st->payload ? kp_json_dumps(st->payload) : NULL;
        add_failure(c->res, c->sc->file, st->loc, NULL,
                    "steps[%zu]: wait_for %s%s%s: no such event within %s of virtual time "
                    "(player state %s, position %.3f s)",
                    i, st->event, p ? " " : "", p ? p : "", d, kp_player_state(c->player),
                    kp_player_current_time(c->player));
        free(p);
    } else {
        add_failure(c->res, c->sc->file, st->loc, NULL,
                    "steps[%zu]: wait_for position %.3f: not reached within %s of virtual time "
                    "(player state %s, position %.3f s)",
                    i, st->number, d, kp_player_state(c->player),
                    kp_player_current_time(c->player));
    }
}

/* ---- expectations ---- */

static void check_sequence(run_ctx *c, const hx_seq *seq, size_t from, size_t to, const char *what)
{
    hx_view v;
    if (hx_view_make(c->rec, from, to, c->sc->expect.ignore, c->sc->expect.n_ignore, &v) != 0)
        return;
    hx_mismatch mm = {0};
    if (!hx_match_seq(seq, &v, what, &mm)) {
        add_failure(c->res, c->sc->file, mm.loc, mm.table, "%s", mm.message);
        mm.table = NULL;
        hx_mismatch_free(&mm);
    }
    hx_view_free(&v);
}

static void check_error(run_ctx *c)
{
    const hx_scenario *sc = c->sc;
    size_t n = kp_recorder_count(c->rec);
    const kp_recorded *first = NULL;
    for (size_t i = 0; i < n; i++) {
        const kp_recorded *e = kp_recorder_get(c->rec, i);
        if (e->type != KP_EV_ERROR)
            continue;
        if (!first)
            first = e;
        if (sc->expect.error && kp_json_subset(sc->expect.error, e->payload))
            return;
    }
    char *want = sc->expect.error ? kp_json_dumps(sc->expect.error) : NULL;
    if (!sc->expect.error && first) {
        char *got = hx_event_text(first, true);
        add_failure(c->res, sc->file, sc->expect.loc, NULL,
                    "expect.error: no error expected, recorded %s", got);
        free(got);
    } else if (sc->expect.error) {
        char *got = first ? hx_event_text(first, true) : NULL;
        add_failure(c->res, sc->file, sc->expect.loc, NULL,
                    "expect.error: expected an error event containing %s, recorded %s", want,
                    got ? got : "no error event");
        free(got);
    }
    free(want);
}

static void check_requests(run_ctx *c)
{
    const hx_scenario *sc = c->sc;
    for (size_t i = 0; i < sc->expect.n_requests; i++) {
        const struct hx_request_expect *rq = &sc->expect.requests[i];
        if (rq->sequence) {
            json_t *journal = strcmp(rq->server, "drm") == 0
                                  ? (c->srv.drm ? mdrm_server_journal(c->srv.drm) : NULL)
                                  : mbe_server_journal(c->srv.api);
            hx_loc loc = rq->loc;
            char *msg = NULL, *records = NULL;
            if (!hx_request_sequence_check(rq, i, journal, &loc, &msg, &records))
                add_failure(c->res, sc->file, loc, records, "%s",
                            msg ? msg : "out of memory checking a request sequence");
            free(msg);
            json_decref(journal);
            continue;
        }
        size_t got = strcmp(rq->server, "drm") == 0
                         ? (c->srv.drm ? mdrm_server_count(c->srv.drm, rq->match) : 0)
                         : mbe_server_count(c->srv.api, rq->server, rq->match);
        bool ok = rq->count < 0 ? got > 0 : (long long)got == rq->count;
        if (ok)
            continue;
        char *m = kp_json_dumps(rq->match);
        if (rq->count < 0)
            add_failure(c->res, sc->file, rq->loc, NULL,
                        "expect.requests[%zu]: no %s request matched %s", i, rq->server, m);
        else
            add_failure(c->res, sc->file, rq->loc, NULL,
                        "expect.requests[%zu]: %lld %s request(s) matching %s expected, %zu "
                        "received",
                        i, rq->count, rq->server, m, got);
        free(m);
    }
}

/* ---- setup ---- */

/* The KS of player.session, made by the back-end (NULL when the scenario names none). */
static char *session_ks(const hx_scenario *sc, const mbe_server *srv)
{
    for (size_t i = 0; sc->player.session && i < sc->backend.n_sessions; i++) {
        const hx_session *se = &sc->backend.sessions[i];
        if (strcmp(se->name, sc->player.session) == 0)
            return mbe_server_make_ks(srv, se->user_id, se->privileges,
                                      se->expired ? -3600 : 86400);
    }
    return NULL;
}

/* Replaces the placeholders in one text (a new string), or NULL when it has none. */
static char *substitute_text(const char *text, const char *const (*subst)[2])
{
    if (!strstr(text, "{{"))
        return NULL;
    kp_buf b;
    kp_buf_init(&b);
    const char *p = text;
    while (*p) {
        const char *open = strstr(p, "{{");
        if (!open) {
            kp_buf_puts(&b, p);
            break;
        }
        kp_buf_append(&b, p, (size_t)(open - p));
        const char *value = NULL;
        size_t len = 0;
        for (size_t i = 0; subst[i][0] && !value; i++) {
            len = strlen(subst[i][0]);
            if (strncmp(open + 2, subst[i][0], len) == 0 && strncmp(open + 2 + len, "}}", 2) == 0)
                value = subst[i][1];
        }
        if (value) {
            kp_buf_puts(&b, value);
            p = open + 2 + len + 2;
        } else { /* not ours (the loader refuses unknown names): kept as written */
            kp_buf_append(&b, open, 2);
            p = open + 2;
        }
    }
    char *out = kp_strndup(b.data ? b.data : "", b.len);
    kp_buf_free(&b);
    return out;
}

/* Replaces {{ads}}, {{analytics}}, {{api}} and {{drm}} in every text value of v. */
static void substitute(json_t *v, const char *const (*subst)[2])
{
    if (json_is_object(v)) {
        const char *k;
        json_t *item;
        json_object_foreach(v, k, item)
        {
            substitute(item, subst);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item)
        {
            substitute(item, subst);
        }
    } else if (json_is_string(v)) {
        char *text = substitute_text(json_string_value(v), subst);
        if (text)
            json_string_set(v, text);
        free(text);
    }
}

json_t *hx_player_config(const hx_scenario *sc, const hx_servers *srv)
{
    const char *base_url = mbe_server_url(srv->api);
    json_t *cfg = json_deep_copy(sc->player.config);
    if (!json_is_object(cfg)) {
        json_decref(cfg);
        cfg = json_object();
    }
    char *ads = kp_asprintf("%s/ads", base_url);
    char *analytics = kp_asprintf("%s/analytics", base_url);
    const char *const subst[][2] = {{"ads", ads ? ads : ""},
                                    {"analytics", analytics ? analytics : ""},
                                    {"api", base_url},
                                    {"drm", srv->drm ? mdrm_server_url(srv->drm) : ""},
                                    {NULL, NULL}};
    substitute(cfg, subst);
    free(ads);
    free(analytics);
    char *service = kp_asprintf("%s/api_v3", base_url);
    json_t *over = json_pack("{s:{s:I, s:{s:s, s:s}}}", "provider", "partnerId",
                             (json_int_t)sc->backend.partner_id, "env", "serviceUrl", service,
                             "cdnUrl", base_url);
    kp_json_merge(cfg, over);
    json_decref(over);
    free(service);
    /* KAVA beacons go to the back-end's analytics sink unless the scenario says otherwise */
    json_t *kava = json_object_get(json_object_get(cfg, "plugins"), "kava");
    if (json_is_object(kava) && !json_object_get(kava, "serviceUrl")) {
        char *sink = kp_asprintf("%s/analytics/api_v3/index.php", base_url);
        json_object_set_new(kava, "serviceUrl", json_string(sink ? sink : ""));
        free(sink);
    }
    return cfg;
}

/* The license server of the protected entries: their keys and license policies. */
static int drm_start(const hx_scenario *sc, kp_log *log, uint16_t port, kp_fault_set *faults,
                     bool serve, mdrm_server **out)
{
    *out = NULL;
    size_t n = sc->backend.n_entries, k = 0;
    mdrm_entry *entries = calloc(n ? n : 1, sizeof(*entries));
    if (!entries)
        return KP_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const hx_entry *e = &sc->backend.entries[i];
        if (!e->drm_systems)
            continue;
        mdrm_entry *m = &entries[k++];
        m->id = e->id;
        m->has_key = e->has_key || e->license.unknown_kid;
        memcpy(m->kid, e->kid, 16);
        memcpy(m->key, e->key, 16);
        if (e->license.unknown_kid) {
            /* the store's KID is not the media's: the key of another id */
            char *other = kp_asprintf("%s/other", e->id);
            if (!other) {
                free(entries);
                return KP_ENOMEM;
            }
            kp_drm_derive_key(other, m->kid, m->key);
            free(other);
        }
        /* max_licenses: -1 unlimited (mdrm: 0), 0 none at all (a denial) */
        m->policy.deny = e->license.deny || e->license.max_licenses == 0;
        m->policy.limit = e->license.max_licenses > 0 ? e->license.max_licenses : 0;
        m->policy.expire_s = (e->license.expire_after + 999999) / 1000000;
    }
    int rc = KP_OK;
    if (k) {
        mdrm_config cfg = {.partner_id = sc->backend.partner_id,
                           .entries = entries,
                           .n_entries = k,
                           .port = port,
                           .log = log,
                           .faults = faults,
                           .fault_real_time = serve};
        rc = mdrm_server_start(&cfg, out);
    }
    free(entries);
    return rc;
}

/* backend.ads as the ad server's fixtures (pointing into sc; freed with ads_free). */
typedef struct ads_fixtures {
    mbe_ads ads;
    mbe_ad *creatives;
    mbe_vast *vast;
    mbe_vmap *vmap;
    mbe_vmap_break **breaks;
} ads_fixtures;

static void ads_free(ads_fixtures *f)
{
    for (size_t i = 0; f->breaks && i < f->ads.n_vmap; i++)
        free(f->breaks[i]);
    free(f->breaks);
    free(f->creatives);
    free(f->vast);
    free(f->vmap);
}

static int ads_make(const hx_scenario *sc, ads_fixtures *f)
{
    memset(f, 0, sizeof(*f));
    size_t na = sc->backend.ads.n_creatives, nv = sc->backend.ads.n_vast,
           nm = sc->backend.ads.n_vmap;
    f->creatives = calloc(na + 1, sizeof(*f->creatives));
    f->vast = calloc(nv + 1, sizeof(*f->vast));
    f->vmap = calloc(nm + 1, sizeof(*f->vmap));
    f->breaks = calloc(nm + 1, sizeof(*f->breaks));
    if (!f->creatives || !f->vast || !f->vmap || !f->breaks)
        return KP_ENOMEM;
    for (size_t i = 0; i < na; i++) {
        const hx_ad *a = &sc->backend.ads.creatives[i];
        f->creatives[i] = (mbe_ad){.id = a->id,
                                   .title = a->title,
                                   .duration = a->duration,
                                   .skipoffset = a->skipoffset,
                                   .skip_pct = a->skip_pct,
                                   .creative = a->creative,
                                   .media = a->media,
                                   .click_through = a->click_through};
    }
    for (size_t i = 0; i < nv; i++) {
        const hx_vast *v = &sc->backend.ads.vast[i];
        f->vast[i] = (mbe_vast){.id = v->id,
                                .version = v->version,
                                .ads = (const char *const *)v->ads,
                                .n_ads = v->n_ads,
                                .wrapper = v->wrapper,
                                .broken = v->broken};
    }
    for (size_t i = 0; i < nm; i++) {
        const hx_vmap *m = &sc->backend.ads.vmap[i];
        f->breaks[i] = calloc(m->n_breaks + 1, sizeof(mbe_vmap_break));
        f->ads.n_vmap = i + 1;
        if (!f->breaks[i])
            return KP_ENOMEM;
        for (size_t k = 0; k < m->n_breaks; k++)
            f->breaks[i][k] = (mbe_vmap_break){.id = m->breaks[k].id,
                                               .time_offset = m->breaks[k].offset,
                                               .vast = m->breaks[k].vast,
                                               .inline_vast = m->breaks[k].inline_vast};
        f->vmap[i] = (mbe_vmap){
            .id = m->id, .breaks = f->breaks[i], .n_breaks = m->n_breaks, .broken = m->broken};
    }
    f->ads = (mbe_ads){.ads = f->creatives,
                       .n_ads = na,
                       .vast = f->vast,
                       .n_vast = nv,
                       .vmap = f->vmap,
                       .n_vmap = nm};
    return KP_OK;
}

static int backend_start(const hx_scenario *sc, mbe_media_cache *media, kp_log *log, uint16_t port,
                         const char *license_url, kp_fault_set *faults, bool serve,
                         mbe_server **out)
{
    /* license.bad_signature: the back-end signs with a secret the license server lacks */
    const char *udrm_secret = NULL;
    for (size_t i = 0; i < sc->backend.n_entries; i++)
        if (sc->backend.entries[i].license.bad_signature)
            udrm_secret = "kpsim-not-the-license-server-secret";
    size_t n = sc->backend.n_entries, np = sc->backend.n_playlists;
    mbe_entry *entries = calloc(n ? n : 1, sizeof(*entries));
    int(*formats)[3] = calloc(n ? n : 1, sizeof(*formats));
    mbe_caption **caps = calloc(n ? n : 1, sizeof(*caps));
    mbe_playlist *playlists = calloc(np ? np : 1, sizeof(*playlists));
    int rc = entries && formats && caps && playlists ? KP_OK : KP_ENOMEM;
    ads_fixtures ads;
    int ads_rc = ads_make(sc, &ads);
    if (rc == KP_OK)
        rc = ads_rc;
    for (size_t i = 0; rc == KP_OK && i < n; i++) {
        const hx_entry *e = &sc->backend.entries[i];
        for (size_t f = 0; f < e->n_formats; f++)
            formats[i][f] = e->format_order[f] == HX_FORMAT_HLS    ? MBE_FORMAT_HLS
                            : e->format_order[f] == HX_FORMAT_DASH ? MBE_FORMAT_DASH
                                                                   : MBE_FORMAT_PROGRESSIVE;
        if (e->n_captions) {
            caps[i] = calloc(e->n_captions, sizeof(mbe_caption));
            if (!caps[i]) {
                rc = KP_ENOMEM;
                break;
            }
            for (size_t k = 0; k < e->n_captions; k++)
                caps[i][k] = (mbe_caption){.lang = e->captions[k].lang,
                                           .label = e->captions[k].label,
                                           .format = e->captions[k].format,
                                           .is_default = e->captions[k].is_default};
        }
        entries[i] = (mbe_entry){
            .id = e->id,
            .name = e->name,
            .reference_id = e->reference_id,
            .duration = e->duration,
            .formats = formats[i],
            .n_formats = e->n_formats,
            .renditions = (const char *const *)e->renditions,
            .n_renditions = e->n_renditions,
            .status = e->status,
            .block = e->block,
            .captions = caps[i],
            .n_captions = e->n_captions,
            .metadata = e->metadata,
            .bumper_entry = e->bumper_entry,
            .bumper_click = e->bumper_click,
            .drm = {.scheme = e->encryption,
                    .systems = e->drm_systems,
                    .has_key = e->has_key,
                    .bad_certificate = e->license.bad_certificate},
            .hls_segments = e->hls_fmp4 ? MBE_HLS_FMP4 : MBE_HLS_TS,
        };
        memcpy(entries[i].drm.kid, e->kid, 16);
        memcpy(entries[i].drm.key, e->key, 16);
    }
    for (size_t i = 0; rc == KP_OK && i < np; i++) {
        const hx_playlist *p = &sc->backend.playlists[i];
        playlists[i] = (mbe_playlist){.id = p->id,
                                      .name = p->name,
                                      .description = p->description,
                                      .entries = (const char *const *)p->entries,
                                      .n_entries = p->n_entries};
    }
    if (rc == KP_OK) {
        mbe_config cfg = {.kind = strcmp(sc->backend.kind, "ott") == 0 ? MBE_OTT : MBE_OVP,
                          .partner_id = sc->backend.partner_id,
                          .entries = entries,
                          .n_entries = n,
                          .playlists = playlists,
                          .n_playlists = np,
                          .ott_bare_item_errors = sc->backend.bare_item_errors,
                          .analytics_down = sc->backend.analytics.down,
                          .analytics_status = sc->backend.analytics.status,
                          .analytics_no_views = sc->backend.analytics.no_views,
                          .media = media,
                          .log = log,
                          .port = port,
                          .license_url = license_url,
                          .udrm_secret = udrm_secret,
                          .ads = &ads.ads,
                          .faults = faults,
                          .fault_real_time = serve,
                          .fault_admin = serve};
        rc = mbe_server_start(&cfg, out);
    }
    ads_free(&ads);
    for (size_t i = 0; caps && i < n; i++)
        free(caps[i]);
    free(caps);
    free(entries);
    free(formats);
    free(playlists);
    return rc;
}

/* The scenario's fault rules in a new set (they were checked when the scenario loaded). */
static int faults_make(const hx_scenario *sc, kp_log *log, kp_fault_set **out)
{
    *out = kp_fault_set_new();
    if (!*out)
        return KP_ENOMEM;
    size_t i;
    json_t *j;
    json_array_foreach(sc->backend.faults, i, j)
    {
        kp_fault_rule *rule = NULL;
        char err[256], where[128];
        int rc = kp_fault_rule_parse(j, NULL, &rule, err, sizeof(err), where, sizeof(where));
        if (rc == KP_OK)
            rc = kp_fault_set_add(*out, rule);
        if (rc < 0) {
            KP_LOG_E(log, "runner", "backend.faults[%zu]: %s", i,
                     rc == KP_EPARSE ? err : kp_strerror(rc));
            return rc;
        }
    }
    return KP_OK;
}

int hx_servers_start(const hx_scenario *sc, mbe_media_cache *media, kp_log *log, uint16_t port,
                     uint16_t drm_port, hx_servers *out)
{
    return hx_servers_start_mode(sc, media, log, port, drm_port, false, out);
}

int hx_servers_start_mode(const hx_scenario *sc, mbe_media_cache *media, kp_log *log, uint16_t port,
                          uint16_t drm_port, bool serve, hx_servers *out)
{
    memset(out, 0, sizeof(*out));
    int rc = faults_make(sc, log, &out->faults);
    if (rc == KP_OK)
        rc = drm_start(sc, log, drm_port, out->faults, serve, &out->drm);
    if (rc == KP_OK)
        rc = backend_start(sc, media, log, port, out->drm ? mdrm_server_url(out->drm) : NULL,
                           out->faults, serve, &out->api);
    if (rc != KP_OK)
        hx_servers_stop(out);
    return rc;
}

void hx_servers_stop(hx_servers *s)
{
    mbe_server_stop(s->api);
    mdrm_server_stop(s->drm);
    kp_fault_set_free(s->faults); /* after the servers: they consult it until they stop */
    s->api = NULL;
    s->drm = NULL;
    s->faults = NULL;
}

static char *dir_name(const char *file)
{
    char *copy = kp_strdup(file);
    char *d = copy ? kp_strdup(basename(dirname(copy))) : NULL;
    free(copy);
    return d;
}

int hx_run(const hx_scenario *sc, const hx_run_opts *opts, hx_result *res)
{
    memset(res, 0, sizeof(*res));
    res->file = kp_strdup(sc->file);
    res->name = kp_strdup(sc->name);
    res->classname = dir_name(sc->file);
    res->status = HX_PASSED;
    run_ctx c = {.sc = sc, .res = res, .timeout_ms = sc->timeout_s * 1000.0};
    clock_gettime(CLOCK_MONOTONIC, &c.started);

    int rc = hx_servers_start(sc, opts->media, opts->log, 0, 0, &c.srv);
    if (rc != KP_OK) {
        add_failure(res, sc->file, (hx_loc){1, 1}, NULL,
                    "the mock servers could not start: %s (see the log above)", kp_strerror(rc));
        res->wall_ms = wall_ms_since(&c.started);
        return rc;
    }
    c.sched = kp_sched_new();
    kp_net_profile prof = {.bandwidth_bps = sc->player.bandwidth_bps,
                           .latency = sc->player.latency};
    c.net = c.sched ? kp_net_new(c.sched, &prof, opts->log) : NULL;
    json_t *cfg = hx_player_config(sc, &c.srv);
    char *ks = session_ks(sc, c.srv.api);
    if (ks)
        json_object_set_new(json_object_get(cfg, "provider"), "ks", json_string(ks));
    free(ks);
    c.player = c.net ? kp_player_new(c.sched, c.net, cfg, opts->log) : NULL;
    json_decref(cfg);
    if (c.player && json_array_size(sc->backend.faults) &&
        !kp_bus_listen(kp_player_bus(c.player), -1, on_player_event, &c)) {
        add_failure(res, sc->file, (hx_loc){1, 1}, NULL, "out of memory starting the player");
        rc = KP_ENOMEM;
        goto done;
    }
    if (c.player && strcmp(sc->backend.kind, "ott") == 0)
        kp_player_set_provider(c.player, KP_PROVIDER_OTT);
    if (c.player && kp_player_set_platform(c.player, sc->player.platform) != KP_OK) {
        add_failure(res, sc->file, (hx_loc){1, 1}, NULL, "unknown platform '%s' (known: %s)",
                    sc->player.platform, kp_player_platforms());
        rc = KP_EINVAL;
        goto done;
    }
    void *rec_state = NULL;
    if (!c.player ||
        kp_player_add_plugin(c.player, &kp_recorder_plugin, NULL, NULL, &rec_state) != KP_OK) {
        add_failure(res, sc->file, (hx_loc){1, 1}, NULL, "out of memory starting the player");
        rc = KP_ENOMEM;
        goto done;
    }
    c.rec = rec_state;
    /* the back-end's port changes from run to run; traces must not */
    if (kp_recorder_normalize(c.rec, mbe_server_url(c.srv.api), "{backend}") != KP_OK ||
        (c.srv.drm && kp_recorder_normalize(c.rec, mdrm_server_url(c.srv.drm), "{drm}") != KP_OK)) {
        add_failure(res, sc->file, (hx_loc){1, 1}, NULL, "out of memory starting the recorder");
        rc = KP_ENOMEM;
        goto done;
    }

    res->steps = calloc(sc->n_steps ? sc->n_steps : 1, sizeof(*res->steps));
    res->n_steps = sc->n_steps;
    size_t failed_step = sc->n_steps;
    for (size_t i = 0; i < sc->n_steps && res->steps; i++) {
        hx_step_info *si = &res->steps[i];
        si->first_event = kp_recorder_count(c.rec);
        si->t_start_ms = kp_sched_now(c.sched) / 1000;
        si->ran = true;
        /* wait_for accepts an event recorded since the previous step began: an action's
         * immediate consequences belong to the action, yet `pause` then
         * `wait_for: {event: pause}` must see the pause */
        size_t since = i > 0 ? res->steps[i - 1].first_event : si->first_event;
        int ok = run_step(&c, &sc->steps[i], since);
        if (c.timed_out)
            break;
        if (!ok) {
            record_step_failure(&c, i, &sc->steps[i]);
            failed_step = i;
            break;
        }
    }
    /* what is due at the instant the last step ends still happens (playbackended follows
     * ended by a setTimeout(0)); the clock does not move on */
    if (!c.timed_out && failed_step == sc->n_steps)
        run_until(&c, kp_sched_now(c.sched));
    /* A step's window (what its expect: is matched against) runs from its start to the start
     * of the next step, except that an action's window also covers the waits after it: their
     * time is when the action's consequences unfold. */
    size_t total = kp_recorder_count(c.rec);
    for (size_t i = 0; i < sc->n_steps && res->steps; i++) {
        if (!res->steps[i].ran)
            continue;
        size_t j = i + 1;
        if (!is_wait(sc->steps[i].kind))
            while (j < sc->n_steps && res->steps[j].ran && is_wait(sc->steps[j].kind))
                j++;
        res->steps[i].end_event =
            (j < sc->n_steps && res->steps[j].ran) ? res->steps[j].first_event : total;
    }
    if (c.timed_out) {
        res->status = HX_TIMEOUT;
        add_failure(res, sc->file, (hx_loc){1, 1}, NULL,
                    "the scenario was stopped by the watchdog after %.0f s of wall-clock time "
                    "(timeout %.0f s) at %.3f s of virtual time",
                    c.timeout_ms / 1000.0, sc->timeout_s, (double)kp_sched_now(c.sched) / 1e6);
    }
    for (size_t i = failed_step + 1; i < sc->n_steps && !c.timed_out; i++)
        add_failure(res, sc->file, sc->steps[i].loc, NULL, "steps[%zu] never ran", i);

    if (opts->check_expectations && !c.timed_out) {
        for (size_t i = 0; i < sc->n_steps && res->steps; i++) {
            if (!sc->steps[i].has_expect || !res->steps[i].ran)
                continue;
            char what[48];
            snprintf(what, sizeof(what), "steps[%zu].expect", i);
            check_sequence(&c, &sc->steps[i].expect, res->steps[i].first_event,
                           res->steps[i].end_event, what);
        }
        if (sc->expect.has_sequence)
            check_sequence(&c, &sc->expect.sequence, 0, total, "expect.events.sequence");
        if (sc->expect.has_error)
            check_error(&c);
        check_requests(&c);
        /* a scenario that asserts nothing has not been recorded yet: never a pass */
        if (res->status == HX_PASSED && !hx_scenario_has_expectation(sc)) {
            add_failure(res, sc->file, (hx_loc){1, 1}, NULL,
                        "not recorded: the scenario has no expectation yet (run `kpsim record "
                        "%s`, review the diff, commit it)",
                        sc->file);
            res->status = HX_NOT_RECORDED;
        }
    }
    if (opts->on_recorded)
        opts->on_recorded(opts->ud, sc, c.rec);

    res->trace = json_array();
    for (size_t i = 0; i < total; i++)
        json_array_append_new(res->trace, kp_recorded_json(kp_recorder_get(c.rec, i)));
    res->virtual_ms = kp_sched_now(c.sched) / 1000;
    rc = KP_OK;
done:
    res->journal = c.srv.api ? mbe_server_journal(c.srv.api) : NULL;
    res->drm_journal = c.srv.drm ? mdrm_server_journal(c.srv.drm) : NULL;
    kp_player_free(c.player);
    kp_net_free(c.net);
    kp_sched_free(c.sched);
    hx_servers_stop(&c.srv);
    res->wall_ms = wall_ms_since(&c.started);
    return rc;
}

int hx_run_file(const char *path, const hx_run_opts *opts, hx_result *out)
{
    hx_scenario *sc = NULL;
    hx_diag diag = {0};
    int rc = hx_scenario_load(path, &sc, &diag);
    if (rc != KP_OK) {
        memset(out, 0, sizeof(*out));
        out->file = kp_strdup(path);
        char *copy = kp_strdup(path);
        out->name = copy ? kp_strdup(basename(copy)) : NULL;
        free(copy);
        out->classname = dir_name(path);
        out->status = HX_INVALID;
        out->diagnostics = diag.msgs; /* the result takes the messages over */
        out->n_diagnostics = diag.n;
        free(diag.locs);
        return KP_OK;
    }
    hx_diag_free(&diag);
    rc = hx_run(sc, opts, out);
    hx_scenario_free(sc);
    return rc;
}
