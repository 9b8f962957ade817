/* scenario.c: loads a scenario file (SCENARIOS.md, version 1) and checks it against the
 * format: every key, type and value, with one "file:line:col: path: message" diagnostic per
 * problem. On success the caller owns the hx_scenario (hx_scenario_free); on failure nothing
 * is returned but the diagnostics.
 *
 * The checks walk the YAML tree of yaml_tree.h. Each level pushes its key onto a path
 * ("backend.entries[1].duration") used in the messages. Nodes that the tree already reported
 * (HX_Y_BAD) are skipped silently, and references between parts (a step naming an entry) are
 * only checked when the part they point to was itself valid, so one mistake gives one message.
 */
#include "hx/scenario.h"

#include "kp/buf.h"
#include "kp/drm.h"
#include "kp/err.h"
#include "kp/event.h"
#include "kp/fault.h"
#include "yaml_tree.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_TIMEOUT          KP_SEC(60)
#define DEFAULT_PARTNER_ID       1234567LL
#define DEFAULT_BANDWIDTH        8000000LL
#define DEFAULT_LATENCY          KP_MS(20)
#define DEFAULT_WAIT_FOR_TIMEOUT KP_SEC(30)
#define DEFAULT_ENTRY_ID         "0_vod00001"
#define DEFAULT_OTT_ASSET_ID     "100001"
#define MAX_ENTRY_DURATION       14400.0

typedef struct ctx {
    const char *file;
    hx_diag *diag;
    size_t n_errors;
    bool oom;
    char path[256]; /* key path of the value being checked, e.g. "steps[2].seek" */
    size_t plen;
    char got[112];        /* scratch for describe() */
    bool entries_checked; /* backend.entries is fully valid (or defaulted): refs can be checked */
    bool ott;             /* backend.kind is ott */
    hx_scenario *s;
} ctx;

/* ---- lists of names ------------------------------------------------------------------- */

/* include, matrix and variants are resolved before the checks (scenario_compose.c) */
static const char *const TOP_KEYS[] = {"name",    "description", "tags",     "timeout",
                                       "backend", "player",      "steps",    "expect",
                                       "include", "matrix",      "variants", NULL};
static const char *const BACKEND_KEYS[] = {"kind",      "partner_id", "entries",  "ads",
                                           "faults",    "playlists",  "sessions", "item_errors",
                                           "analytics", NULL};
static const char *const ANALYTICS_KEYS[] = {"down", "status", "view_events", NULL};
static const char *const ENTRY_KEYS[] = {
    "id",       "name",   "type",   "duration",     "formats",  "renditions", "drm",
    "captions", "status", "access", "reference_id", "metadata", "bumper",     "encryption",
    "license",  "hls",    NULL};
static const char *const ENCRYPTION_KEYS[] = {"scheme", "kid", "key", NULL};
static const char *const LICENSE_KEYS[] = {
    "deny", "expire_after", "max_licenses", "bad_signature", "unknown_kid", "bad_certificate",
    NULL};
static const char *const DRM_SYSTEMS[] = {"clearkey", "widevine", "playready", "fairplay", NULL};
static const char *const ENC_SCHEMES[] = {"cenc", "cbcs", "aes-128", NULL};
static const char *const HLS_KEYS[] = {"segments", NULL};
static const char *const HLS_SEGMENTS[] = {"ts", "fmp4", NULL};
static const char *const CAPTION_KEYS[] = {"lang", "label", "format", "default", NULL};
static const char *const BUMPER_KEYS[] = {"entry_id", "click_through", NULL};
static const char *const PLAYLIST_KEYS[] = {"id", "name", "description", "entries", NULL};
static const char *const SESSION_KEYS[] = {"name", "user_id", "privileges", "expired", NULL};
static const char *const LOAD_PLAYLIST_KEYS[] = {"playlist_id", "entries", NULL};
/* load_media options that only an OTT back-end takes: scenario key → mediaInfo key */
static const char *const OTT_MEDIA_KEYS[][2] = {
    {"media_type", "mediaType"},
    {"context_type", "contextType"},
    {"protocol", "protocol"},
    {"file_ids", "fileIds"},
    {"streamer_type", "streamerType"},
    {"url_type", "urlType"},
    {"asset_reference_type", "assetReferenceType"},
};
static const char *const PLAYER_KEYS[] = {"platform", "network", "config", "session", NULL};
static const char *const NETWORK_KEYS[] = {"bandwidth", "latency", NULL};
static const char *const CONFIG_KEYS[] = {"playback",    "provider", "plugins",   "abr",      "drm",
                                          "network",     "text",     "streaming", "log",      "ui",
                                          "advertising", "sources",  "session",   "playlist", NULL};
static const char *const PLAYBACK_KEYS[] = {
    "autoplay",     "muted",     "volume",        "allowMutedAutoPlay",
    "preload",      "loop",      "playsinline",   "streamPriority",
    "preferNative", "startTime", "audioLanguage", "textLanguage",
    "options",      NULL};
static const char *const PROVIDER_KEYS[] = {"ks",  "widgetId",  "uiConfId",  "referrer",
                                            "env", "partnerId", "clientTag", NULL};
static const char *const STREAM_PRIORITY_KEYS[] = {"engine", "format", NULL};
static const char *const EXPECT_KEYS[] = {"events", "error", "requests", NULL};
static const char *const EVENTS_KEYS[] = {"ignore", "sequence", NULL};
static const char *const ERROR_KEYS[] = {"severity", "category",     "code",
                                         "data",     "errorDetails", NULL};
static const char *const REQUEST_KEYS[] = {"server", "match", "count", "sequence", NULL};
static const char *const LOAD_MEDIA_KEYS[] = {
    "entry_id", "reference_id",  "missing",  "media_type",           "context_type", "protocol",
    "file_ids", "streamer_type", "url_type", "asset_reference_type", "formats",      NULL};
static const char *const WAIT_FOR_KEYS[] = {"event", "payload", "timeout", "position", NULL};
static const char *const ACCESS_KEYS[] = {"block", NULL};

static const char *const KINDS[] = {"ovp", "ott", NULL};
static const char *const ITEM_ERRORS[] = {"wrapped", "bare", NULL};
static const char *const CAPTION_FORMATS[] = {"vtt", "srt", NULL};
static const char *const OTT_BLOCK_CODES[] = {"ConcurrencyLimitation",
                                              "MediaConcurrencyLimitation",
                                              "NotEntitled",
                                              "ServiceNotAllowed",
                                              "DeviceTypeNotAllowed",
                                              "NoFilesFound",
                                              NULL};
static const char *const MEDIA_TYPES[] = {"media", "epg", "recording", NULL};
static const char *const CONTEXT_TYPES[] = {"PLAYBACK", "START_OVER", "CATCHUP",
                                            "TRAILER",  "DOWNLOAD",   NULL};
static const char *const URL_TYPES[] = {"PLAYMANIFEST", "DIRECT", NULL};
static const char *const STREAMER_TYPES[] = {"applehttp", "mpegdash", "url", NULL};
static const char *const ASSET_REFERENCE_TYPES[] = {"media", "epg_internal", "epg_external", "nPVR",
                                                    NULL};
static const char *const TYPES[] = {"vod", NULL};
static const char *const TYPES_LATER[] = {"live", "audio", "image", NULL};
static const char *const FORMATS[] = {"hls", "dash", "progressive", NULL};
static const char *const STATUSES[] = {"ready", "import", "preconvert", "deleted", NULL};
static const char *const BLOCK_CODES[] = {"COUNTRY_RESTRICTED",
                                          "SITE_RESTRICTED",
                                          "IP_RESTRICTED",
                                          "SESSION_RESTRICTED",
                                          "USER_AGENT_RESTRICTED",
                                          "SCHEDULED_RESTRICTED",
                                          NULL};
/* the reference player's capability profiles (core/src/platform.c) */
static const char *const PLATFORMS[] = {"chrome", "firefox", "edge",    "safari",
                                        "ios",    "android", "smarttv", NULL};
static const char *const PRELOADS[] = {"none", "auto", NULL};
static const char *const SERVERS[] = {"api", "cdn", "drm", "ads", "analytics", NULL};

typedef struct step_spec {
    const char *name;
    int kind;          /* hx_step_kind, or -1 for steps not built yet */
    const char *usage; /* how to write it, for "needs a value" */
} step_spec;

static const step_spec STEPS[] = {
    {"load_media", HX_STEP_LOAD_MEDIA, "load_media: {entry_id: ID}"},
    {"play", HX_STEP_PLAY, "play"},
    {"pause", HX_STEP_PAUSE, "pause"},
    {"seek", HX_STEP_SEEK, "seek: SECONDS"},
    {"wait", HX_STEP_WAIT, "wait: DURATION"},
    {"wait_for", HX_STEP_WAIT_FOR, "wait_for: {event: NAME}"},
    {"set_muted", HX_STEP_SET_MUTED, "set_muted: true"},
    {"set_volume", HX_STEP_SET_VOLUME, "set_volume: 0.5"},
    {"load_playlist", HX_STEP_LOAD_PLAYLIST, "load_playlist: {playlist_id: ID}"},
    {"select_audio", -1, NULL},
    {"select_text", -1, NULL},
    {"change_media", -1, NULL},
    {"skip_ad", HX_STEP_SKIP_AD, "skip_ad"},
    {"set_network", HX_STEP_SET_NETWORK, "set_network: {bandwidth: 500kbps}"},
};
#define N_STEPS (sizeof(STEPS) / sizeof(STEPS[0]))

/* ---- reporting ------------------------------------------------------------------------ */

static size_t push_key(ctx *c, const char *key)
{
    size_t old = c->plen;
    int n = snprintf(c->path + old, sizeof(c->path) - old, "%s%s", old ? "." : "", key);
    if (n > 0)
        c->plen = old + (size_t)n < sizeof(c->path) ? old + (size_t)n : sizeof(c->path) - 1;
    return old;
}

static size_t push_index(ctx *c, size_t i)
{
    size_t old = c->plen;
    int n = snprintf(c->path + old, sizeof(c->path) - old, "[%zu]", i);
    if (n > 0)
        c->plen = old + (size_t)n < sizeof(c->path) ? old + (size_t)n : sizeof(c->path) - 1;
    return old;
}

static void pop(ctx *c, size_t old)
{
    c->plen = old;
    c->path[old] = '\0';
}

static void vfail(ctx *c, hx_yloc loc, bool with_path, const char *fmt, va_list ap)
{
    c->n_errors++;
    if (!c->diag)
        return;
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0) {
        c->oom = true;
        return;
    }
    /* a value from an included fixture is reported in that file */
    const char *file = loc.file ? loc.file : c->file;
    if (with_path && c->plen)
        hx_diag_addf(c->diag, file, hx_yloc_pub(loc), "%s: %s", c->path, msg);
    else
        hx_diag_addf(c->diag, file, hx_yloc_pub(loc), "%s", msg);
    free(msg);
}

/* A message as is. */
static void fail(ctx *c, hx_yloc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(ctx *c, hx_yloc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(c, loc, false, fmt, ap);
    va_end(ap);
}

/* A message about the value at the current path: "path: message". */
static void failp(ctx *c, hx_yloc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void failp(ctx *c, hx_yloc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(c, loc, true, fmt, ap);
    va_end(ap);
}

/* What a node is, for "got ...": 'text', 5, true, null, nothing, a list, a mapping. */
static const char *describe(ctx *c, const hx_ynode *n)
{
    char *o = c->got;
    size_t cap = sizeof(c->got);
    switch (n->type) {
    case HX_Y_MAP:
        return n->n ? "a mapping" : "an empty mapping";
    case HX_Y_SEQ:
        return n->n ? "a list" : "an empty list";
    case HX_Y_NULL:
        return n->len ? n->text : "nothing";
    case HX_Y_BAD:
        return "an unsupported value";
    case HX_Y_BOOL:
    case HX_Y_NUM:
    case HX_Y_STR:
        break;
    }
    size_t k = 0;
    bool quote = n->type == HX_Y_STR;
    if (quote)
        o[k++] = '\'';
    for (size_t i = 0; i < n->len && k + 8 < cap; i++) {
        unsigned char ch = (unsigned char)n->text[i];
        if (ch == '\n') {
            o[k++] = '\\';
            o[k++] = 'n';
        } else if (ch < 0x20 || ch == 0x7f) {
            o[k++] = '?';
        } else {
            o[k++] = (char)ch;
        }
        if (k + 8 >= cap && i + 1 < n->len) {
            memcpy(o + k, "...", 3);
            k += 3;
            break;
        }
    }
    if (quote)
        o[k++] = '\'';
    o[k] = '\0';
    return o;
}

static size_t edit_distance(const char *a, const char *b)
{
    /* optimal string alignment (Levenshtein plus adjacent transpositions), short words only */
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40)
        return (size_t)-1;
    size_t d[41][41];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v)
                v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    }
    return d[la][lb];
}

/* Keeps the closest candidate within a small edit distance. */
static void consider(const char *word, const char *cand, const char **best, size_t *best_d)
{
    size_t limit = strlen(word) <= 3 ? 1 : 2;
    size_t d = edit_distance(word, cand);
    if (d <= limit && d < strlen(cand) && d < *best_d) {
        *best = cand;
        *best_d = d;
    }
}

static const char *suggest(const char *word, const char *const *list)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (size_t i = 0; list[i]; i++)
        consider(word, list[i], &best, &best_d);
    return best;
}

static const char *suggest_step(const char *word)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (size_t i = 0; i < N_STEPS; i++)
        consider(word, STEPS[i].name, &best, &best_d);
    return best;
}

static const char *suggest_event(const char *word)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (int i = 0; i < KP_EV_COUNT_; i++)
        consider(word, kp_event_name((kp_event_type)i), &best, &best_d);
    return best;
}

/* " (did you mean 'x'?)" or "" into buf. */
static const char *dym(char *buf, size_t size, const char *suggestion)
{
    if (suggestion)
        snprintf(buf, size, " (did you mean '%s'?)", suggestion);
    else
        buf[0] = '\0';
    return buf;
}

static bool in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

/* "a, b or c"; returns how many names were joined. */
static size_t join_list(char *buf, size_t size, const char *const *a, const char *const *b)
{
    size_t n = 0, k = 0;
    const char *all[32];
    for (size_t i = 0; a[i] && n < 32; i++)
        all[n++] = a[i];
    for (size_t i = 0; b && b[i] && n < 32; i++)
        all[n++] = b[i];
    buf[0] = '\0';
    for (size_t i = 0; i < n && k < size; i++) {
        const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
        int w = snprintf(buf + k, size - k, "%s%s", sep, all[i]);
        if (w < 0)
            break;
        k += (size_t)w;
    }
    return n;
}

static char *dup_str(ctx *c, const char *s)
{
    char *p = kp_strdup(s);
    if (!p)
        c->oom = true;
    return p;
}

/* ---- mapping shape ---------------------------------------------------------------------- */

/* Reports every key of m that is not in `known`. */
static void check_keys(ctx *c, const hx_ynode *m, const char *const *known)
{
    for (size_t i = 0; i < m->n; i++) {
        const hx_ynode *k = m->pairs[i].key;
        if (in_list(k->text, known))
            continue;
        char hint[96];
        dym(hint, sizeof(hint), suggest(k->text, known));
        if (c->plen)
            fail(c, k->loc, "unknown key '%s' in %s%s", k->text, c->path, hint);
        else
            fail(c, k->loc, "unknown top-level key '%s'%s", k->text, hint);
    }
}

/* Reports when m lacks `key`. Returns true when it is there. */
static bool require(ctx *c, const hx_ynode *m, const char *key)
{
    if (hx_ymap_key(m, key))
        return true;
    if (c->plen)
        fail(c, m->loc, "missing required key '%s' in %s", key, c->path);
    else
        fail(c, m->loc, "missing required key '%s'", key);
    return false;
}

/* ---- value checks (the path names the value) ------------------------------------------ */

static bool want_map(ctx *c, const hx_ynode *v)
{
    if (v->type == HX_Y_MAP)
        return true;
    if (v->type != HX_Y_BAD)
        failp(c, v->loc, "expected a mapping, got %s", describe(c, v));
    return false;
}

static bool want_seq(ctx *c, const hx_ynode *v)
{
    if (v->type == HX_Y_SEQ)
        return true;
    if (v->type != HX_Y_BAD)
        failp(c, v->loc, "expected a list, got %s", describe(c, v));
    return false;
}

static bool is_scalar_non_str(const hx_ynode *v)
{
    return v->type == HX_Y_NUM || v->type == HX_Y_BOOL || v->type == HX_Y_NULL;
}

static bool want_str(ctx *c, const hx_ynode *v, bool nonempty)
{
    if (v->type == HX_Y_STR) {
        if (strlen(v->text) != v->len) {
            failp(c, v->loc, "text must not contain NUL characters");
            return false;
        }
        if (nonempty && v->len == 0) {
            failp(c, v->loc, "must not be empty");
            return false;
        }
        return true;
    }
    if (v->type == HX_Y_BAD)
        return false;
    if (is_scalar_non_str(v) && v->len)
        failp(c, v->loc, "expected text, got %s (quote it to make it text)", describe(c, v));
    else
        failp(c, v->loc, "expected text, got %s", describe(c, v));
    return false;
}

static bool want_bool(ctx *c, const hx_ynode *v)
{
    if (v->type == HX_Y_BOOL)
        return true;
    if (v->type != HX_Y_BAD)
        failp(c, v->loc, "expected true or false, got %s", describe(c, v));
    return false;
}

/* A number in [lo, hi] (NAN: no bound); lo_open makes the lower bound exclusive. */
static bool want_num(ctx *c, const hx_ynode *v, const char *what, double lo, bool lo_open,
                     double hi)
{
    if (v->type != HX_Y_NUM) {
        if (v->type != HX_Y_BAD)
            failp(c, v->loc, "expected %s, got %s", what, describe(c, v));
        return false;
    }
    double x = v->num;
    bool low_bad = !isnan(lo) && (lo_open ? !(x > lo) : !(x >= lo));
    bool high_bad = !isnan(hi) && !(x <= hi);
    if (!low_bad && !high_bad)
        return true;
    const char *got = describe(c, v);
    if (!isnan(lo) && !isnan(hi) && lo_open)
        failp(c, v->loc, "must be greater than %g and at most %g, got %s", lo, hi, got);
    else if (!isnan(lo) && !isnan(hi))
        failp(c, v->loc, "must be between %g and %g, got %s", lo, hi, got);
    else if (!isnan(hi))
        failp(c, v->loc, "must be at most %g, got %s", hi, got);
    else if (lo_open)
        failp(c, v->loc, "must be greater than %g, got %s", lo, got);
    else if (lo == 0)
        failp(c, v->loc, "must not be negative, got %s", got);
    else
        failp(c, v->loc, "must be at least %g, got %s", lo, got);
    return false;
}

static bool want_int(ctx *c, const hx_ynode *v, long long lo)
{
    if (v->type != HX_Y_NUM || !v->is_int) {
        if (v->type != HX_Y_BAD)
            failp(c, v->loc, "expected a whole number, got %s", describe(c, v));
        return false;
    }
    if (v->ival < lo) {
        if (lo == 0)
            failp(c, v->loc, "must not be negative, got %s", describe(c, v));
        else
            failp(c, v->loc, "must be at least %lld, got %s", lo, describe(c, v));
        return false;
    }
    return true;
}

/* A duration: "1.5s", "500ms", "2m", "1h" or a number of seconds. */
static bool want_duration(ctx *c, const hx_ynode *v, bool zero_ok, kp_time *out)
{
    kp_time t = 0;
    bool ok = false;
    if (v->type == HX_Y_NUM) {
        if (v->num < 0) {
            failp(c, v->loc, "must %s, got %s", zero_ok ? "not be negative" : "be greater than 0",
                  describe(c, v));
            return false;
        }
        if (!(v->num * 1e6 < 9.0e18)) {
            failp(c, v->loc, "is too large, got %s", describe(c, v));
            return false;
        }
        ok = true;
        t = (kp_time)llround(v->num * 1e6);
    } else if (v->type == HX_Y_STR) {
        ok = hx_parse_duration(v->text, &t) == KP_OK && strlen(v->text) == v->len;
    } else if (v->type == HX_Y_BAD) {
        return false;
    }
    if (!ok) {
        failp(c, v->loc,
              "expected a duration such as 1.5s, 500ms, 2m or a number of seconds, got %s",
              describe(c, v));
        return false;
    }
    if (!zero_ok && t <= 0) {
        failp(c, v->loc, "must be greater than 0, got %s", describe(c, v));
        return false;
    }
    *out = t;
    return true;
}

static bool want_bandwidth(ctx *c, const hx_ynode *v, long long *out)
{
    long long bps = 0;
    int rc = KP_EPARSE;
    if (v->type == HX_Y_NUM) {
        if (!(v->num > 0)) {
            failp(c, v->loc, "must be greater than 0, got %s", describe(c, v));
            return false;
        }
        if (v->num < 9.0e18 && llround(v->num) > 0) {
            bps = llround(v->num);
            rc = KP_OK;
        }
    } else if (v->type == HX_Y_STR) {
        rc = strlen(v->text) == v->len ? hx_parse_bandwidth(v->text, &bps) : KP_EPARSE;
    } else if (v->type == HX_Y_BAD) {
        return false;
    }
    if (rc != KP_OK) {
        failp(c, v->loc,
              "expected a bandwidth greater than 0 such as 8mbps, 500kbps or a number of "
              "bit/s, got %s",
              describe(c, v));
        return false;
    }
    *out = bps;
    return true;
}

/* One of `valid` (or of `later`, which are reported as not supported yet). Returns the
 * matching entry of `valid` (static storage) or NULL when reported. */
static const char *want_enum(ctx *c, const hx_ynode *v, const char *const *valid,
                             const char *const *later)
{
    if (v->type == HX_Y_BAD)
        return NULL;
    if (v->type == HX_Y_STR) {
        for (size_t i = 0; valid[i]; i++)
            if (strcmp(v->text, valid[i]) == 0 && strlen(v->text) == v->len)
                return valid[i];
        if (later && in_list(v->text, later)) {
            fail(c, v->loc, "%s '%s' is not supported yet", c->path, v->text);
            return NULL;
        }
    }
    char list[256], hint[96];
    size_t total = join_list(list, sizeof(list), valid, later);
    const char *s = NULL;
    if (v->type == HX_Y_STR) {
        s = suggest(v->text, valid);
        if (!s && later)
            s = suggest(v->text, later);
    }
    failp(c, v->loc, "expected %s%s, got %s%s", total > 2 ? "one of " : "", list, describe(c, v),
          dym(hint, sizeof(hint), s));
    return NULL;
}

/* Converts a (checked or unchecked) value to JSON. NULL only when out of memory. */
static json_t *to_json(ctx *c, const hx_ynode *n)
{
    json_t *j = NULL;
    switch (n->type) {
    case HX_Y_NULL:
    case HX_Y_BAD:
        j = json_null();
        break;
    case HX_Y_BOOL:
        j = json_boolean(n->boolean);
        break;
    case HX_Y_NUM:
        j = n->is_int ? json_integer((json_int_t)n->ival) : json_real(n->num);
        break;
    case HX_Y_STR:
        j = json_stringn(n->text, n->len);
        break;
    case HX_Y_SEQ:
        j = json_array();
        for (size_t i = 0; j && i < n->n; i++) {
            json_t *item = to_json(c, n->items[i]);
            if (!item || json_array_append_new(j, item) < 0) {
                json_decref(j);
                j = NULL;
            }
        }
        break;
    case HX_Y_MAP:
        j = json_object();
        for (size_t i = 0; j && i < n->n; i++) {
            json_t *item = to_json(c, n->pairs[i].val);
            if (!item || json_object_set_new(j, n->pairs[i].key->text, item) < 0) {
                json_decref(j);
                j = NULL;
            }
        }
        break;
    }
    if (!j)
        c->oom = true;
    return j;
}

/* ---- keyed getters: look `key` up in m, push it on the path, check, pop --------------- */

/* Returns the value (and pushes the key) or NULL (nothing pushed). */
static const hx_ynode *enter(ctx *c, const hx_ynode *m, const char *key, size_t *mark)
{
    const hx_ynode *v = hx_ymap_get(m, key);
    if (v)
        *mark = push_key(c, key);
    return v;
}

static void get_str(ctx *c, const hx_ynode *m, const char *key, bool nonempty, char **out)
{
    size_t mk;
    const hx_ynode *v = enter(c, m, key, &mk);
    if (!v)
        return;
    if (want_str(c, v, nonempty)) {
        free(*out);
        *out = dup_str(c, v->text);
    }
    pop(c, mk);
}

/* An entry id: text; on an OTT back-end also a whole number, as written (asset ids are). */
static bool want_id(ctx *c, const hx_ynode *v)
{
    if (c->ott && v->type == HX_Y_NUM && v->is_int && v->num >= 0 && v->text && v->len)
        return true;
    return want_str(c, v, true);
}

static void get_id(ctx *c, const hx_ynode *m, const char *key, char **out)
{
    size_t mk;
    const hx_ynode *v = enter(c, m, key, &mk);
    if (!v)
        return;
    if (want_id(c, v)) {
        free(*out);
        *out = dup_str(c, v->text);
    }
    pop(c, mk);
}

static void get_bool(ctx *c, const hx_ynode *m, const char *key, bool *out)
{
    size_t mk;
    const hx_ynode *v = enter(c, m, key, &mk);
    if (!v)
        return;
    if (want_bool(c, v))
        *out = v->boolean;
    pop(c, mk);
}

static void get_num(ctx *c, const hx_ynode *m, const char *key, const char *what, double lo,
                    bool lo_open, double hi, double *out)
{
    size_t mk;
    const hx_ynode *v = enter(c, m, key, &mk);
    if (!v)
        return;
    if (want_num(c, v, what, lo, lo_open, hi))
        *out = v->num;
    pop(c, mk);
}

static void get_int(ctx *c, const hx_ynode *m, const char *key, long long lo, long long *out)
{
    size_t mk;
    const hx_ynode *v = enter(c, m, key, &mk);
    if (!v)
        return;
    if (want_int(c, v, lo))
        *out = v->ival;
    pop(c, mk);
}

static void get_duration(ctx *c, const hx_ynode *m, const char *key, bool zero_ok, kp_time *out)
{
    size_t mk;
    const hx_ynode *v = enter(c, m, key, &mk);
    if (!v)
        return;
    want_duration(c, v, zero_ok, out);
    pop(c, mk);
}

static void get_enum(ctx *c, const hx_ynode *m, const char *key, const char *const *valid,
                     const char *const *later, char **out)
{
    size_t mk;
    const hx_ynode *v = enter(c, m, key, &mk);
    if (!v)
        return;
    const char *e = want_enum(c, v, valid, later);
    if (e) {
        free(*out);
        *out = dup_str(c, e);
    }
    pop(c, mk);
}

/* A mapping value converted to JSON (an object). */
static void get_json_map(ctx *c, const hx_ynode *m, const char *key, json_t **out)
{
    size_t mk;
    const hx_ynode *v = enter(c, m, key, &mk);
    if (!v)
        return;
    if (want_map(c, v)) {
        json_decref(*out);
        *out = to_json(c, v);
    }
    pop(c, mk);
}

/* ---- backend ------------------------------------------------------------------------- */

static void set_formats(hx_entry *e, const hx_format *f, size_t n)
{
    e->formats = 0;
    e->n_formats = n;
    for (size_t i = 0; i < n; i++) {
        e->format_order[i] = f[i];
        e->formats |= (unsigned)f[i];
    }
}

static void check_formats(ctx *c, const hx_ynode *m, hx_entry *e)
{
    size_t mk;
    const hx_ynode *v = enter(c, m, "formats", &mk);
    if (!v)
        return;
    if (want_seq(c, v)) {
        /* an empty list is allowed: the back-end then offers no playback source at all */
        hx_format got[3];
        size_t n = 0;
        bool ok = true;
        for (size_t i = 0; i < v->n; i++) {
            size_t mi = push_index(c, i);
            const char *f = want_enum(c, v->items[i], FORMATS, NULL);
            if (!f) {
                ok = false;
            } else {
                hx_format bit = strcmp(f, "hls") == 0    ? HX_FORMAT_HLS
                                : strcmp(f, "dash") == 0 ? HX_FORMAT_DASH
                                                         : HX_FORMAT_PROGRESSIVE;
                bool dup = false;
                for (size_t k = 0; k < n; k++)
                    dup = dup || got[k] == bit;
                if (dup) {
                    failp(c, v->items[i]->loc, "format '%s' is listed twice", f);
                    ok = false;
                } else {
                    got[n++] = bit;
                }
            }
            pop(c, mi);
        }
        if (ok)
            set_formats(e, got, n);
    }
    pop(c, mk);
}

/* "360p": an even height from 144 to 2160 followed by 'p'. */
static bool parse_rendition(const char *s, int *height)
{
    int h = 0;
    size_t i = 0;
    if (s[0] == '0')
        return false;
    for (; s[i] >= '0' && s[i] <= '9' && i < 5; i++)
        h = h * 10 + (s[i] - '0');
    if (i == 0 || s[i] != 'p' || s[i + 1] != '\0')
        return false;
    *height = h;
    return true;
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void check_renditions(ctx *c, const hx_ynode *m, hx_entry *e)
{
    size_t mk;
    const hx_ynode *v = enter(c, m, "renditions", &mk);
    if (!v)
        return;
    if (want_seq(c, v)) {
        if (v->n == 0)
            failp(c, v->loc, "must list at least one rendition, such as 360p");
        char **names = v->n ? calloc(v->n, sizeof(*names)) : NULL;
        if (v->n && !names)
            c->oom = true;
        bool ok = v->n > 0 && names;
        for (size_t i = 0; names && i < v->n; i++) {
            const hx_ynode *it = v->items[i];
            size_t mi = push_index(c, i);
            int h = 0;
            if (it->type == HX_Y_BAD) {
                ok = false;
            } else if (it->type != HX_Y_STR || !parse_rendition(it->text, &h)) {
                failp(c, it->loc, "expected a rendition such as 360p (a height and 'p'), got %s",
                      describe(c, it));
                ok = false;
            } else if (h < 144 || h > 2160 || h % 2) {
                failp(c, it->loc, "the height must be even and from 144 to 2160, got %s",
                      describe(c, it));
                ok = false;
            } else {
                bool dup = false;
                for (size_t k = 0; k < i; k++)
                    dup = dup || (names[k] && strcmp(names[k], it->text) == 0);
                if (dup) {
                    failp(c, it->loc, "rendition '%s' is listed twice", it->text);
                    ok = false;
                }
                names[i] = dup_str(c, it->text);
            }
            pop(c, mi);
        }
        if (ok) {
            free_strv(e->renditions, e->n_renditions);
            e->renditions = names;
            e->n_renditions = v->n;
        } else {
            free_strv(names, v->n);
        }
    }
    pop(c, mk);
}

/* 32 hex digits → 16 bytes. */
static bool parse_key16(const char *s, size_t len, uint8_t out[16])
{
    if (len != 32)
        return false;
    for (size_t i = 0; i < 16; i++) {
        unsigned v = 0;
        for (size_t k = 0; k < 2; k++) {
            char ch = s[2 * i + k];
            unsigned d = ch >= '0' && ch <= '9'   ? (unsigned)(ch - '0')
                         : ch >= 'a' && ch <= 'f' ? (unsigned)(ch - 'a' + 10)
                         : ch >= 'A' && ch <= 'F' ? (unsigned)(ch - 'A' + 10)
                                                  : 16u;
            if (d > 15)
                return false;
            v = v * 16 + d;
        }
        out[i] = (uint8_t)v;
    }
    return true;
}

static void get_key16(ctx *c, const hx_ynode *m, const char *key, uint8_t out[16], bool *got)
{
    size_t mk;
    const hx_ynode *v = enter(c, m, key, &mk);
    if (!v)
        return;
    if (v->type != HX_Y_BAD) {
        if (v->type == HX_Y_STR && parse_key16(v->text, v->len, out))
            *got = true;
        else
            failp(c, v->loc, "expected 32 hexadecimal digits (16 bytes), got %s", describe(c, v));
    }
    pop(c, mk);
}

/* drm: [key systems]; encryption: scheme | {scheme, kid, key}; license: {deny, expire_after,
 * max_licenses}. The scheme defaults to cbcs for FairPlay alone and cenc otherwise. */
static void check_protection(ctx *c, const hx_ynode *m, hx_entry *e)
{
    size_t mk;
    const hx_ynode *v = enter(c, m, "drm", &mk);
    hx_yloc at = m->loc;
    const char *at_key = NULL; /* where a wrong combination is reported */
    if (v && want_seq(c, v)) {
        at = v->loc;
        at_key = "drm";
        for (size_t i = 0; i < v->n; i++) {
            size_t mi = push_index(c, i);
            const char *name = want_enum(c, v->items[i], DRM_SYSTEMS, NULL);
            int sys = name ? kp_drm_system_parse(name) : -1;
            if (sys >= 0 && (e->drm_systems & (1u << sys)))
                failp(c, v->items[i]->loc, "key system '%s' is listed twice", name);
            else if (sys >= 0)
                e->drm_systems |= 1u << sys;
            pop(c, mi);
        }
    }
    if (v)
        pop(c, mk);
    if (e->drm_systems)
        e->encryption = e->drm_systems == 1u << KP_DRM_FAIRPLAY ? KP_ENC_CBCS : KP_ENC_CENC;

    v = enter(c, m, "encryption", &mk);
    if (v) {
        const hx_ynode *sv = v;
        size_t ms = 0;
        if (v->type == HX_Y_MAP) {
            check_keys(c, v, ENCRYPTION_KEYS);
            bool kid = false, key = false;
            get_key16(c, v, "kid", e->kid, &kid);
            get_key16(c, v, "key", e->key, &key);
            if (kid != key)
                failp(c, v->loc,
                      "give both kid and key, or neither (then both are derived "
                      "from the entry id)");
            e->has_key = kid && key;
            sv = require(c, v, "scheme") ? enter(c, v, "scheme", &ms) : NULL;
        }
        const char *name = sv ? want_enum(c, sv, ENC_SCHEMES, NULL) : NULL;
        if (name) {
            at = sv->loc;
            at_key = "encryption";
            e->encryption = kp_enc_scheme_parse(name);
        }
        if (sv && sv != v)
            pop(c, ms);
        pop(c, mk);
    }
    mk = at_key ? push_key(c, at_key) : 0;
    if (e->encryption == KP_ENC_AES128 && e->drm_systems)
        failp(c, at,
              "aes-128 is HLS's own key delivery: it takes no DRM key system, leave "
              "drm out");
    else if (e->encryption == KP_ENC_CENC && (e->drm_systems & (1u << KP_DRM_FAIRPLAY)))
        failp(c, at, "FairPlay needs the cbcs scheme (encryption: cbcs)");
    else if (e->encryption == KP_ENC_AES128 && !(e->formats & HX_FORMAT_HLS))
        failp(c, at, "aes-128 encryption needs the hls format");
    else if ((e->encryption == KP_ENC_CENC || e->encryption == KP_ENC_CBCS) &&
             !(e->formats & (HX_FORMAT_HLS | HX_FORMAT_DASH)))
        failp(c, at, "%s encryption needs the dash or hls format",
              kp_enc_scheme_name(e->encryption));
    if (at_key)
        pop(c, mk);

    e->license.max_licenses = -1;
    v = enter(c, m, "license", &mk);
    if (v) {
        if (want_map(c, v)) {
            check_keys(c, v, LICENSE_KEYS);
            get_bool(c, v, "deny", &e->license.deny);
            get_duration(c, v, "expire_after", false, &e->license.expire_after);
            get_int(c, v, "max_licenses", 0, &e->license.max_licenses);
            get_bool(c, v, "bad_signature", &e->license.bad_signature);
            get_bool(c, v, "unknown_kid", &e->license.unknown_kid);
            get_bool(c, v, "bad_certificate", &e->license.bad_certificate);
            if (e->license.bad_certificate && !(e->drm_systems & (1u << KP_DRM_FAIRPLAY)))
                failp(c, v->loc,
                      "bad_certificate is about FairPlay's certificate: the entry "
                      "needs drm: [fairplay]");
            if (e->encryption == KP_ENC_NONE || e->encryption == KP_ENC_AES128)
                failp(c, v->loc, "a license policy needs DRM (drm: [...])");
        }
        pop(c, mk);
    }
}

/* hls: {segments: ts | fmp4}, the container of the entry's HLS (after check_protection: a
 * FairPlay entry's HLS is fMP4 anyway). */
static void check_hls(ctx *c, const hx_ynode *m, hx_entry *e)
{
    size_t mk;
    const hx_ynode *v = enter(c, m, "hls", &mk);
    if (!v)
        return;
    if (want_map(c, v)) {
        check_keys(c, v, HLS_KEYS);
        size_t ms;
        const hx_ynode *sv = enter(c, v, "segments", &ms);
        const char *name = sv ? want_enum(c, sv, HLS_SEGMENTS, NULL) : NULL;
        if (name) {
            e->hls_fmp4 = strcmp(name, "fmp4") == 0;
            if (!(e->formats & HX_FORMAT_HLS))
                failp(c, sv->loc, "the HLS segment container needs the hls format");
            else if (!e->hls_fmp4 && (e->drm_systems & (1u << KP_DRM_FAIRPLAY)))
                failp(c, sv->loc, "FairPlay HLS is fMP4: leave segments out or make it fmp4");
        }
        if (sv)
            pop(c, ms);
    }
    pop(c, mk);
}

static void check_access(ctx *c, const hx_ynode *m, hx_entry *e)
{
    size_t mk;
    const hx_ynode *v = enter(c, m, "access", &mk);
    if (!v)
        return;
    if (v->type == HX_Y_STR && strcmp(v->text, "allow") == 0) {
        free(e->block);
        e->block = NULL;
    } else if (v->type == HX_Y_MAP) {
        check_keys(c, v, ACCESS_KEYS);
        if (require(c, v, "block"))
            get_enum(c, v, "block", c->ott ? OTT_BLOCK_CODES : BLOCK_CODES, NULL, &e->block);
    } else if (v->type != HX_Y_BAD) {
        failp(c, v->loc, "expected 'allow' or {block: CODE}, got %s", describe(c, v));
    }
    pop(c, mk);
}

static void check_captions(ctx *c, const hx_ynode *m, hx_entry *e)
{
    size_t mk;
    const hx_ynode *v = enter(c, m, "captions", &mk);
    if (!v)
        return;
    if (want_seq(c, v) && v->n) {
        e->captions = calloc(v->n, sizeof(*e->captions));
        if (!e->captions)
            c->oom = true;
        for (size_t i = 0; e->captions && i < v->n; i++) {
            size_t mi = push_index(c, i);
            const hx_ynode *cap = v->items[i];
            struct hx_caption *out = &e->captions[i];
            e->n_captions = i + 1;
            if (want_map(c, cap)) {
                check_keys(c, cap, CAPTION_KEYS);
                if (require(c, cap, "lang"))
                    get_str(c, cap, "lang", true, &out->lang);
                get_str(c, cap, "label", true, &out->label);
                out->format = dup_str(c, "vtt");
                get_enum(c, cap, "format", CAPTION_FORMATS, NULL, &out->format);
                get_bool(c, cap, "default", &out->is_default);
                if (!out->label && out->lang)
                    out->label = dup_str(c, out->lang);
            }
            pop(c, mi);
        }
    }
    pop(c, mk);
}

/* metadata: {Key: value}, values text (numbers and booleans are written as text). */
static void check_metadata(ctx *c, const hx_ynode *m, hx_entry *e)
{
    size_t mk;
    const hx_ynode *v = enter(c, m, "metadata", &mk);
    if (!v)
        return;
    if (want_map(c, v)) {
        e->metadata = json_object();
        for (size_t i = 0; e->metadata && i < v->n; i++) {
            const hx_ynode *val = v->pairs[i].val;
            const char *key = v->pairs[i].key->text;
            size_t mi = push_key(c, key);
            bool name_ok = (key[0] >= 'A' && key[0] <= 'Z') || (key[0] >= 'a' && key[0] <= 'z');
            for (const char *k = key; *k && name_ok; k++)
                name_ok = (*k >= 'A' && *k <= 'Z') || (*k >= 'a' && *k <= 'z') ||
                          (*k >= '0' && *k <= '9') || *k == '_' || *k == '-';
            if (!name_ok)
                failp(c, v->pairs[i].key->loc,
                      "a metadata field name is letters, digits, '_' and '-', starting with a "
                      "letter (it becomes an XML element), got '%s'",
                      key);
            else if (val->type == HX_Y_STR || val->type == HX_Y_NUM || val->type == HX_Y_BOOL)
                json_object_set_new(e->metadata, key, json_string(val->text));
            else if (val->type != HX_Y_BAD)
                failp(c, val->loc, "expected text, got %s", describe(c, val));
            pop(c, mi);
        }
        if (!e->metadata)
            c->oom = true;
    }
    pop(c, mk);
}

static void check_bumper(ctx *c, const hx_ynode *m, hx_entry *e)
{
    size_t mk;
    const hx_ynode *v = enter(c, m, "bumper", &mk);
    if (!v)
        return;
    if (want_map(c, v)) {
        check_keys(c, v, BUMPER_KEYS);
        if (require(c, v, "entry_id"))
            get_str(c, v, "entry_id", true, &e->bumper_entry);
        e->bumper_click = dup_str(c, "");
        get_str(c, v, "click_through", false, &e->bumper_click);
    }
    pop(c, mk);
}

/* Everything but id and name: type vod, 10 s, [hls], [360p, 180p], ready, allowed. */
static void entry_defaults(ctx *c, hx_entry *e)
{
    e->type = dup_str(c, "vod");
    e->duration = 10;
    hx_format f = HX_FORMAT_HLS;
    set_formats(e, &f, 1);
    e->renditions = calloc(2, sizeof(char *));
    if (e->renditions) {
        e->renditions[0] = dup_str(c, "360p");
        e->renditions[1] = dup_str(c, "180p");
        e->n_renditions = 2;
    } else {
        c->oom = true;
    }
    e->status = dup_str(c, "ready");
}

/* Returns true when the entry's id is valid (so references to it can be checked). */
static bool check_entry(ctx *c, const hx_ynode *m, hx_entry *e, const hx_entry *prev, size_t n_prev)
{
    if (!want_map(c, m))
        return false;
    e->loc = hx_yloc_pub(m->loc);
    check_keys(c, m, ENTRY_KEYS);
    bool id_ok = false;
    if (require(c, m, "id")) {
        get_id(c, m, "id", &e->id);
        const hx_ynode *idn = hx_ymap_get(m, "id");
        id_ok = e->id != NULL;
        for (size_t i = 0; e->id && i < n_prev; i++) {
            if (prev[i].id && strcmp(prev[i].id, e->id) == 0) {
                size_t mk = push_key(c, "id");
                failp(c, idn->loc, "duplicate entry id '%s' (first used at line %d)", e->id,
                      prev[i].loc.line);
                pop(c, mk);
                break;
            }
        }
    }
    /* defaults first, then what the file says */
    entry_defaults(c, e);
    get_str(c, m, "name", false, &e->name);
    if (!e->name && e->id)
        e->name = dup_str(c, e->id);
    get_enum(c, m, "type", TYPES, TYPES_LATER, &e->type);
    get_num(c, m, "duration", "a number of seconds", 0, true, MAX_ENTRY_DURATION, &e->duration);
    check_formats(c, m, e);
    check_renditions(c, m, e);
    check_protection(c, m, e);
    check_hls(c, m, e);
    check_captions(c, m, e);
    check_metadata(c, m, e);
    check_bumper(c, m, e);
    get_enum(c, m, "status", STATUSES, NULL, &e->status);
    check_access(c, m, e);
    get_str(c, m, "reference_id", true, &e->reference_id);
    if (c->ott && e->id && e->id[strspn(e->id, "0123456789")] != '\0') {
        size_t mk = push_key(c, "id");
        failp(c, hx_ymap_get(m, "id")->loc, "an OTT asset id is a number, got '%s'", e->id);
        pop(c, mk);
        id_ok = false;
    }
    return id_ok;
}

static const hx_entry *find_entry(const hx_scenario *s, const char *id, bool by_reference)
{
    for (size_t i = 0; id && i < s->backend.n_entries; i++) {
        const char *have =
            by_reference ? s->backend.entries[i].reference_id : s->backend.entries[i].id;
        if (have && strcmp(have, id) == 0)
            return &s->backend.entries[i];
    }
    return NULL;
}

/* A list of ids that must all name entries: returns the copies (NULL when the list is bad or
 * empty; empty is an error unless allowed). */
static char **entry_id_list(ctx *c, const hx_ynode *v, bool allow_empty, size_t *n_out)
{
    *n_out = 0;
    if (!want_seq(c, v) || (v->n == 0 && allow_empty))
        return NULL;
    if (v->n == 0) {
        failp(c, v->loc, "must list at least one entry id");
        return NULL;
    }
    char **ids = calloc(v->n, sizeof(char *));
    if (!ids) {
        c->oom = true;
        return NULL;
    }
    for (size_t i = 0; i < v->n; i++) {
        size_t mi = push_index(c, i);
        if (want_id(c, v->items[i])) {
            ids[i] = dup_str(c, v->items[i]->text);
            if (c->entries_checked && !find_entry(c->s, ids[i], false))
                failp(c, v->items[i]->loc, "no entry '%s' in backend.entries", ids[i]);
        }
        pop(c, mi);
    }
    *n_out = v->n;
    return ids;
}

static void check_playlists(ctx *c, const hx_ynode *b, hx_scenario *s)
{
    size_t mk;
    const hx_ynode *v = enter(c, b, "playlists", &mk);
    if (!v)
        return;
    if (want_seq(c, v) && v->n) {
        s->backend.playlists = calloc(v->n, sizeof(hx_playlist));
        if (!s->backend.playlists)
            c->oom = true;
        for (size_t i = 0; s->backend.playlists && i < v->n; i++) {
            size_t mi = push_index(c, i);
            const hx_ynode *pl = v->items[i];
            hx_playlist *out = &s->backend.playlists[i];
            s->backend.n_playlists = i + 1;
            out->loc = hx_yloc_pub(pl->loc);
            if (want_map(c, pl)) {
                check_keys(c, pl, PLAYLIST_KEYS);
                if (require(c, pl, "id"))
                    get_str(c, pl, "id", true, &out->id);
                size_t mid = push_key(c, "id");
                for (size_t k = 0; out->id && k < i; k++)
                    if (s->backend.playlists[k].id &&
                        strcmp(s->backend.playlists[k].id, out->id) == 0)
                        failp(c, hx_ymap_get(pl, "id")->loc, "duplicate playlist id '%s'", out->id);
                if (out->id && find_entry(s, out->id, false))
                    failp(c, hx_ymap_get(pl, "id")->loc,
                          "'%s' is already an entry id (a playlist is an entry too)", out->id);
                pop(c, mid);
                get_str(c, pl, "name", false, &out->name);
                get_str(c, pl, "description", false, &out->description);
                size_t me;
                const hx_ynode *ev =
                    require(c, pl, "entries") ? enter(c, pl, "entries", &me) : NULL;
                if (ev) {
                    /* empty: what the back-end answers while it still indexes the list */
                    out->entries = entry_id_list(c, ev, true, &out->n_entries);
                    pop(c, me);
                }
            }
            pop(c, mi);
        }
    }
    pop(c, mk);
}

static void check_sessions(ctx *c, const hx_ynode *b, hx_scenario *s)
{
    size_t mk;
    const hx_ynode *v = enter(c, b, "sessions", &mk);
    if (!v)
        return;
    if (want_seq(c, v) && v->n) {
        s->backend.sessions = calloc(v->n, sizeof(hx_session));
        if (!s->backend.sessions)
            c->oom = true;
        for (size_t i = 0; s->backend.sessions && i < v->n; i++) {
            size_t mi = push_index(c, i);
            const hx_ynode *se = v->items[i];
            hx_session *out = &s->backend.sessions[i];
            s->backend.n_sessions = i + 1;
            out->loc = hx_yloc_pub(se->loc);
            if (want_map(c, se)) {
                check_keys(c, se, SESSION_KEYS);
                if (require(c, se, "name"))
                    get_str(c, se, "name", true, &out->name);
                for (size_t k = 0; out->name && k < i; k++)
                    if (s->backend.sessions[k].name &&
                        strcmp(s->backend.sessions[k].name, out->name) == 0)
                        failp(c, hx_ymap_get(se, "name")->loc, "duplicate session name '%s'",
                              out->name);
                get_str(c, se, "user_id", false, &out->user_id);
                get_str(c, se, "privileges", false, &out->privileges);
                get_bool(c, se, "expired", &out->expired);
            }
            pop(c, mi);
        }
    }
    pop(c, mk);
}

static void check_entries(ctx *c, const hx_ynode *m, hx_scenario *s)
{
    size_t mk;
    const hx_ynode *v = enter(c, m, "entries", &mk);
    if (!v)
        return;
    c->entries_checked = false;
    if (want_seq(c, v)) {
        if (v->n == 0) {
            failp(c, v->loc, "must list at least one entry (leave it out to get the default one)");
        } else {
            s->backend.entries = calloc(v->n, sizeof(hx_entry));
            if (!s->backend.entries) {
                c->oom = true;
            } else {
                s->backend.n_entries = v->n;
                bool ids_ok = true; /* then steps can be checked against the ids */
                for (size_t i = 0; i < v->n; i++) {
                    size_t mi = push_index(c, i);
                    ids_ok &=
                        check_entry(c, v->items[i], &s->backend.entries[i], s->backend.entries, i);
                    pop(c, mi);
                }
                c->entries_checked = ids_ok;
                for (size_t i = 0; ids_ok && i < v->n; i++) {
                    const hx_entry *e = &s->backend.entries[i];
                    if (!e->bumper_entry || find_entry(s, e->bumper_entry, false))
                        continue;
                    size_t mi = push_index(c, i), mb = push_key(c, "bumper"),
                           me = push_key(c, "entry_id");
                    const hx_ynode *b = hx_ymap_get(hx_ymap_get(v->items[i], "bumper"), "entry_id");
                    failp(c, b ? b->loc : v->items[i]->loc, "no entry '%s' in backend.entries",
                          e->bumper_entry);
                    pop(c, me);
                    pop(c, mb);
                    pop(c, mi);
                }
            }
        }
    }
    pop(c, mk);
}

/* ---- backend.ads (kpsim): the mock ad server's fixtures ------------------------------ */

static const char *const ADS_KEYS[] = {"creatives", "vast", "vmap", NULL};
static const char *const CREATIVE_KEYS[] = {"id",   "duration", "title",         "skipoffset",
                                            "type", "media",    "click_through", NULL};
static const char *const VAST_KEYS[] = {"id", "version", "ads", "wrapper", "broken", NULL};
static const char *const VMAP_KEYS[] = {"id", "breaks", "broken", NULL};
static const char *const BREAK_KEYS[] = {"id", "offset", "vast", "inline", NULL};
/* index = the mbe_ad / mbe_vast value */
static const char *const CREATIVE_TYPES[] = {"linear", "nonlinear", "vpaid", NULL};
static const char *const AD_MEDIA[] = {"served", "missing", "none", NULL};
static const char *const VAST_BROKEN[] = {"malformed", "truncated", "not_vast", "empty_body", NULL};
static const char *const VMAP_BROKEN[] = {"malformed", "truncated", "not_vmap", "empty_body", NULL};
static const char *const VAST_VERSIONS[] = {"2.0", "3.0", "4.0", "4.1", "4.2", NULL};
#define MAX_AD_DURATION 3600.0

static size_t index_of(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(s, list[i]) == 0)
            return i;
    return 0;
}

/* An ad fixture id: text made of URL-safe characters (it is a path segment). */
static bool want_fixture_id(ctx *c, const hx_ynode *v)
{
    if (!want_str(c, v, true))
        return false;
    for (size_t i = 0; i < v->len; i++) {
        char ch = v->text[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '~' || ch == '-')) {
            failp(c, v->loc,
                  "'%s': an id may only hold letters, digits and . _ ~ - (it is part "
                  "of URLs)",
                  v->text);
            return false;
        }
    }
    if (strcmp(v->text, "-") == 0 || strcmp(v->text, ".") == 0 || strcmp(v->text, "..") == 0) {
        failp(c, v->loc, "'%s' cannot be an id", v->text);
        return false;
    }
    return true;
}

/* Reads the `id` of fixture i of a list, reporting a duplicate of an earlier one. */
static char *fixture_id(ctx *c, const hx_ynode *m, const char *what, char *const *ids,
                        size_t stride, size_t i)
{
    size_t mk;
    const hx_ynode *v = require(c, m, "id") ? enter(c, m, "id", &mk) : NULL;
    if (!v)
        return NULL;
    char *id = NULL;
    if (want_fixture_id(c, v)) {
        for (size_t k = 0; k < i; k++) {
            const char *other = *(char *const *)((const char *)ids + k * stride);
            if (other && strcmp(other, v->text) == 0) {
                failp(c, v->loc, "duplicate %s id '%s'", what, v->text);
                break;
            }
        }
        id = dup_str(c, v->text);
    }
    pop(c, mk);
    return id;
}

/* "HH:MM:SS" or "HH:MM:SS.mmm" (minutes and seconds below 60); seconds in *out. */
static bool parse_clock(const char *s, double *out)
{
    int h, m, sec, n = 0;
    if (sscanf(s, "%2d:%2d:%2d%n", &h, &m, &sec, &n) != 3 || n != 8 || m > 59 || sec > 59 ||
        h < 0 || m < 0 || sec < 0 || s[2] != ':' || s[5] != ':')
        return false;
    double frac = 0;
    if (s[8] == '.') {
        size_t k = 9;
        double scale = 0.1;
        for (; s[k] >= '0' && s[k] <= '9' && k < 12; k++, scale /= 10)
            frac += (s[k] - '0') * scale;
        if (k == 9 || s[k])
            return false;
    } else if (s[8]) {
        return false;
    }
    *out = h * 3600.0 + m * 60.0 + sec + frac;
    return true;
}

/* "25%" (0..100); the number in *out. */
static bool parse_percent(const char *s, double *out)
{
    char *end = NULL;
    if (!(*s >= '0' && *s <= '9'))
        return false;
    double v = strtod(s, &end);
    if (!end || strcmp(end, "%") != 0 || !(v >= 0 && v <= 100))
        return false;
    *out = v;
    return true;
}

static void check_skipoffset(ctx *c, const hx_ynode *m, hx_ad *ad)
{
    size_t mk;
    const hx_ynode *v = enter(c, m, "skipoffset", &mk);
    if (!v)
        return;
    double t = -1, pct = -1;
    if (v->type == HX_Y_NUM) {
        if (want_num(c, v, "seconds", 0, false, MAX_AD_DURATION))
            t = v->num;
    } else if (v->type == HX_Y_STR && (parse_clock(v->text, &t) || parse_percent(v->text, &pct))) {
        /* parsed */
    } else if (v->type != HX_Y_BAD) {
        failp(c, v->loc,
              "expected seconds, 'HH:MM:SS[.mmm]' or a percentage such as '25%%', got %s",
              describe(c, v));
    }
    if (t >= 0 && ad->duration > 0 && t >= ad->duration) {
        failp(c, v->loc, "%g s is not before the end of the %g s ad", t, ad->duration);
        t = -1;
    }
    ad->skipoffset = t;
    ad->skip_pct = pct;
    pop(c, mk);
}

static void check_creatives(ctx *c, const hx_ynode *a, hx_scenario *s)
{
    size_t mk;
    const hx_ynode *v = enter(c, a, "creatives", &mk);
    if (!v)
        return;
    if (want_seq(c, v) && v->n) {
        hx_ad *out = calloc(v->n, sizeof(*out));
        s->backend.ads.creatives = out;
        if (!out)
            c->oom = true;
        for (size_t i = 0; out && i < v->n; i++) {
            size_t mi = push_index(c, i);
            const hx_ynode *m = v->items[i];
            hx_ad *ad = &out[i];
            s->backend.ads.n_creatives = i + 1;
            ad->loc = hx_yloc_pub(m->loc);
            ad->skipoffset = ad->skip_pct = -1;
            if (want_map(c, m)) {
                check_keys(c, m, CREATIVE_KEYS);
                ad->id = fixture_id(c, m, "creative", &out[0].id, sizeof(*out), i);
                if (require(c, m, "duration"))
                    get_num(c, m, "duration", "seconds", 0, true, MAX_AD_DURATION, &ad->duration);
                get_str(c, m, "title", false, &ad->title);
                get_str(c, m, "click_through", true, &ad->click_through);
                check_skipoffset(c, m, ad);
                char *e = NULL;
                get_enum(c, m, "type", CREATIVE_TYPES, NULL, &e);
                ad->creative = e ? (int)index_of(e, CREATIVE_TYPES) : 0;
                free(e);
                e = NULL;
                get_enum(c, m, "media", AD_MEDIA, NULL, &e);
                ad->media = e ? (int)index_of(e, AD_MEDIA) : 0;
                free(e);
            }
            pop(c, mi);
        }
    }
    pop(c, mk);
}

static const hx_ad *find_creative(const hx_scenario *s, const char *id)
{
    for (size_t i = 0; i < s->backend.ads.n_creatives; i++)
        if (s->backend.ads.creatives[i].id && strcmp(s->backend.ads.creatives[i].id, id) == 0)
            return &s->backend.ads.creatives[i];
    return NULL;
}

static const hx_vast *find_vast_doc(const hx_scenario *s, const char *id)
{
    for (size_t i = 0; i < s->backend.ads.n_vast; i++)
        if (s->backend.ads.vast[i].id && strcmp(s->backend.ads.vast[i].id, id) == 0)
            return &s->backend.ads.vast[i];
    return NULL;
}

/* "no creative 'x' in backend.ads.creatives (did you mean 'y'?)" */
static void unknown_ref(ctx *c, hx_yloc loc, const char *what, const char *list, const char *id,
                        const char *const *names)
{
    char hint[96];
    failp(c, loc, "no %s '%s' in backend.ads.%s%s", what, id, list,
          dym(hint, sizeof(hint), names ? suggest(id, names) : NULL));
}

/* The ids of a fixture list as a NULL-terminated array for suggest() (NULL ids skipped). */
static const char **id_list(const char *const *first, size_t stride, size_t n)
{
    const char **out = calloc(n + 1, sizeof(*out));
    size_t k = 0;
    for (size_t i = 0; out && i < n; i++) {
        const char *id = *(const char *const *)((const char *)first + i * stride);
        if (id)
            out[k++] = id;
    }
    return out;
}

static void check_vast_docs(ctx *c, const hx_ynode *a, hx_scenario *s, bool creatives_ok)
{
    size_t mk;
    const hx_ynode *v = enter(c, a, "vast", &mk);
    if (!v)
        return;
    if (want_seq(c, v) && v->n) {
        hx_vast *out = calloc(v->n, sizeof(*out));
        s->backend.ads.vast = out;
        if (!out)
            c->oom = true;
        const char **names = s->backend.ads.creatives
                                 ? id_list((const char *const *)&s->backend.ads.creatives[0].id,
                                           sizeof(hx_ad), s->backend.ads.n_creatives)
                                 : NULL;
        for (size_t i = 0; out && i < v->n; i++) {
            size_t mi = push_index(c, i);
            const hx_ynode *m = v->items[i];
            hx_vast *d = &out[i];
            s->backend.ads.n_vast = i + 1;
            d->loc = hx_yloc_pub(m->loc);
            if (want_map(c, m)) {
                check_keys(c, m, VAST_KEYS);
                d->id = fixture_id(c, m, "vast", &out[0].id, sizeof(*out), i);
                size_t mv;
                const hx_ynode *ver = enter(c, m, "version", &mv);
                if (ver) {
                    /* 4.2 written plainly is a number: its text is what counts */
                    char buf[8] = "";
                    if ((ver->type == HX_Y_NUM || ver->type == HX_Y_STR) && ver->len < 4)
                        snprintf(buf, sizeof(buf), "%s%s", ver->text,
                                 strchr(ver->text, '.') ? "" : ".0");
                    if (in_list(buf, VAST_VERSIONS))
                        d->version = dup_str(c, buf);
                    else if (ver->type != HX_Y_BAD)
                        failp(c, ver->loc,
                              "expected a VAST version (2.0, 3.0, 4.0, 4.1 or 4.2), "
                              "got %s",
                              describe(c, ver));
                    pop(c, mv);
                } else {
                    d->version = dup_str(c, "4.2");
                }
                get_str(c, m, "wrapper", true, &d->wrapper);
                size_t ma;
                const hx_ynode *list = enter(c, m, "ads", &ma);
                if (list && d->wrapper)
                    failp(c, list->loc,
                          "a wrapper has no ads of its own: give ads or wrapper, "
                          "not both");
                if (list && want_seq(c, list) && list->n) {
                    d->ads = calloc(list->n, sizeof(char *));
                    if (!d->ads)
                        c->oom = true;
                    for (size_t k = 0; d->ads && k < list->n; k++) {
                        size_t mi2 = push_index(c, k);
                        const hx_ynode *it = list->items[k];
                        if (want_str(c, it, true)) {
                            const hx_ad *ad = find_creative(s, it->text);
                            if (!ad && creatives_ok)
                                unknown_ref(c, it->loc, "creative", "creatives", it->text, names);
                            if (ad && d->version && strcmp(d->version, "2.0") == 0 &&
                                (ad->skipoffset >= 0 || ad->skip_pct >= 0))
                                failp(c, it->loc,
                                      "creative '%s' is skippable, which VAST 2.0 "
                                      "cannot say (skipoffset is VAST 3.0+)",
                                      it->text);
                            d->ads[k] = dup_str(c, it->text);
                        }
                        d->n_ads = k + 1;
                        pop(c, mi2);
                    }
                    if (list->n > 1 && d->version && strcmp(d->version, "2.0") == 0)
                        failp(c, list->loc, "a pod (several ads) needs VAST 3.0 or later");
                }
                if (list)
                    pop(c, ma);
                char *e = NULL;
                get_enum(c, m, "broken", VAST_BROKEN, NULL, &e);
                d->broken = e ? (int)index_of(e, VAST_BROKEN) + 1 : 0;
                free(e);
            }
            pop(c, mi);
        }
        free(names);
        /* wrappers point at documents of the list (themselves too: a loop) */
        const char **docs =
            id_list((const char *const *)&out[0].id, sizeof(*out), s->backend.ads.n_vast);
        for (size_t i = 0; out && i < s->backend.ads.n_vast; i++) {
            if (!out[i].wrapper || find_vast_doc(s, out[i].wrapper))
                continue;
            size_t mi = push_index(c, i), mw = push_key(c, "wrapper");
            unknown_ref(c, hx_ymap_get(v->items[i], "wrapper")->loc, "vast document", "vast",
                        out[i].wrapper, docs);
            pop(c, mw);
            pop(c, mi);
        }
        free(docs);
    }
    pop(c, mk);
}

/* A VMAP timeOffset: start, end, seconds, HH:MM:SS[.mmm], n% or #n. Returns it as the VMAP
 * writes it (malloc'd) or NULL when reported. */
static char *want_offset(ctx *c, const hx_ynode *v)
{
    double t;
    if (v->type == HX_Y_NUM && v->num >= 0 && v->num <= MAX_ENTRY_DURATION) {
        long long ms = llround(v->num * 1000);
        return kp_asprintf("%02lld:%02lld:%02lld.%03lld", ms / 3600000, ms / 60000 % 60,
                           ms / 1000 % 60, ms % 1000);
    }
    if (v->type == HX_Y_STR) {
        const char *s = v->text;
        bool position = s[0] == '#' && s[1] >= '1' && s[1] <= '9' &&
                        strspn(s + 1, "0123456789") == strlen(s + 1);
        if (strcmp(s, "start") == 0 || strcmp(s, "end") == 0 || parse_clock(s, &t) ||
            parse_percent(s, &t) || position)
            return dup_str(c, s);
    }
    if (v->type != HX_Y_BAD)
        failp(c, v->loc,
              "expected start, end, seconds, 'HH:MM:SS[.mmm]', a percentage such as "
              "'50%%' or a position such as '#2', got %s",
              describe(c, v));
    return NULL;
}

static void check_vmap_docs(ctx *c, const hx_ynode *a, hx_scenario *s, bool vast_ok)
{
    size_t mk;
    const hx_ynode *v = enter(c, a, "vmap", &mk);
    if (!v)
        return;
    if (want_seq(c, v) && v->n) {
        hx_vmap *out = calloc(v->n, sizeof(*out));
        s->backend.ads.vmap = out;
        if (!out)
            c->oom = true;
        const char **docs = s->backend.ads.vast
                                ? id_list((const char *const *)&s->backend.ads.vast[0].id,
                                          sizeof(hx_vast), s->backend.ads.n_vast)
                                : NULL;
        for (size_t i = 0; out && i < v->n; i++) {
            size_t mi = push_index(c, i);
            const hx_ynode *m = v->items[i];
            hx_vmap *d = &out[i];
            s->backend.ads.n_vmap = i + 1;
            d->loc = hx_yloc_pub(m->loc);
            if (want_map(c, m)) {
                check_keys(c, m, VMAP_KEYS);
                d->id = fixture_id(c, m, "vmap", &out[0].id, sizeof(*out), i);
                char *e = NULL;
                get_enum(c, m, "broken", VMAP_BROKEN, NULL, &e);
                d->broken = e ? (int)index_of(e, VMAP_BROKEN) + 1 : 0;
                free(e);
                size_t mb;
                const hx_ynode *bl = require(c, m, "breaks") ? enter(c, m, "breaks", &mb) : NULL;
                if (bl && want_seq(c, bl) && bl->n) {
                    d->breaks = calloc(bl->n, sizeof(*d->breaks));
                    if (!d->breaks)
                        c->oom = true;
                    for (size_t k = 0; d->breaks && k < bl->n; k++) {
                        size_t mk2 = push_index(c, k);
                        const hx_ynode *bm = bl->items[k];
                        hx_vmap_break *b = &d->breaks[k];
                        d->n_breaks = k + 1;
                        b->loc = hx_yloc_pub(bm->loc);
                        if (want_map(c, bm)) {
                            check_keys(c, bm, BREAK_KEYS);
                            if (hx_ymap_get(bm, "id"))
                                b->id = fixture_id(c, bm, "break", &d->breaks[0].id, sizeof(*b), k);
                            else
                                b->id = kp_asprintf("break-%zu", k + 1);
                            size_t mo;
                            const hx_ynode *o =
                                require(c, bm, "offset") ? enter(c, bm, "offset", &mo) : NULL;
                            if (o) {
                                b->offset = want_offset(c, o);
                                pop(c, mo);
                            }
                            get_bool(c, bm, "inline", &b->inline_vast);
                            size_t mv;
                            const hx_ynode *vv =
                                require(c, bm, "vast") ? enter(c, bm, "vast", &mv) : NULL;
                            if (vv && want_str(c, vv, true)) {
                                b->vast = dup_str(c, vv->text);
                                const hx_vast *target = find_vast_doc(s, vv->text);
                                if (!target && vast_ok)
                                    unknown_ref(c, vv->loc, "vast document", "vast", vv->text,
                                                docs);
                                if (target && b->inline_vast && target->broken)
                                    failp(c, vv->loc,
                                          "'%s' is a broken document: it cannot be "
                                          "inline (VASTAdData); use an AdTagURI (inline: false)",
                                          vv->text);
                            }
                            if (vv)
                                pop(c, mv);
                        }
                        pop(c, mk2);
                    }
                } else if (bl && bl->type == HX_Y_SEQ) {
                    failp(c, bl->loc, "a VMAP needs at least one break");
                }
                if (bl)
                    pop(c, mb);
            }
            pop(c, mi);
        }
        free(docs);
    }
    pop(c, mk);
}

static void check_ads(ctx *c, const hx_ynode *b, hx_scenario *s)
{
    size_t mk;
    const hx_ynode *a = enter(c, b, "ads", &mk);
    if (!a)
        return;
    if (want_map(c, a)) {
        check_keys(c, a, ADS_KEYS);
        size_t before = c->n_errors;
        check_creatives(c, a, s);
        bool creatives_ok = c->n_errors == before;
        check_vast_docs(c, a, s, creatives_ok);
        check_vmap_docs(c, a, s, c->n_errors == before);
    }
    pop(c, mk);
}

/* backend.analytics: how the analytics sink behaves (it always runs). */
static void check_analytics(ctx *c, const hx_ynode *b, hx_scenario *s)
{
    size_t mk;
    const hx_ynode *a = enter(c, b, "analytics", &mk);
    if (!a)
        return;
    if (want_map(c, a)) {
        check_keys(c, a, ANALYTICS_KEYS);
        get_bool(c, a, "down", &s->backend.analytics.down);
        long long status = 0;
        get_int(c, a, "status", 0, &status);
        if (status && (status < 100 || status > 599)) {
            failp(c, hx_ymap_get(a, "status")->loc,
                  "status must be an HTTP status (100 to 599), got %lld", status);
            status = 0;
        }
        s->backend.analytics.status = (int)status;
        bool views = true;
        get_bool(c, a, "view_events", &views);
        s->backend.analytics.no_views = !views;
    }
    pop(c, mk);
}

/* ---- backend.faults ---- */

static bool known_event(const char *name)
{
    return kp_event_lookup(name) >= 0;
}

/* The node a rule's key path ("reply.delay") names, or the deepest one that exists; the key
 * rather than its value when the problem is the key itself (an unknown key). */
static const hx_ynode *node_at(const hx_ynode *rule, const char *where, bool key_itself)
{
    const hx_ynode *n = rule;
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", where);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ".", &save); tok && n && n->type == HX_Y_MAP;
         tok = strtok_r(NULL, ".", &save)) {
        const hx_ynode *next = hx_ymap_get(n, tok);
        if (!next)
            break;
        bool last = !save || !*save;
        if (last && key_itself && hx_ymap_key(n, tok))
            return hx_ymap_key(n, tok);
        n = next;
    }
    return n;
}

static void check_faults(ctx *c, const hx_ynode *b, hx_scenario *s)
{
    size_t mk;
    const hx_ynode *v = enter(c, b, "faults", &mk);
    if (!v)
        return;
    if (want_seq(c, v) && v->n) {
        s->backend.faults = json_array();
        s->backend.fault_locs = calloc(v->n, sizeof(hx_loc));
        if (!s->backend.faults || !s->backend.fault_locs)
            c->oom = true;
        for (size_t i = 0; !c->oom && i < v->n; i++) {
            const hx_ynode *m = v->items[i];
            size_t mi = push_index(c, i);
            json_t *j = m->type == HX_Y_BAD ? NULL : to_json(c, m);
            kp_fault_rule *rule = NULL;
            char err[256], where[128];
            int rc = j ? kp_fault_rule_parse(j, known_event, &rule, err, sizeof(err), where,
                                             sizeof(where))
                       : KP_EPARSE;
            if (rc == KP_OK) {
                s->backend.fault_locs[json_array_size(s->backend.faults)] = hx_yloc_pub(m->loc);
                json_array_append(s->backend.faults, j);
            } else if (rc == KP_ENOMEM) {
                c->oom = true;
            } else if (j) {
                bool key_itself = strncmp(err, "unknown key", 11) == 0 ||
                                  strncmp(err, "unknown match key", 17) == 0 ||
                                  strncmp(err, "unknown reply kind", 18) == 0 ||
                                  strncmp(err, "a reply has one kind", 20) == 0;
                const hx_ynode *at = where[0] ? node_at(m, where, key_itself) : m;
                if (where[0])
                    fail(c, at->loc, "%s.%s: %s", c->path, where, err);
                else
                    failp(c, at->loc, "%s", err);
            }
            kp_fault_rule_free(rule);
            json_decref(j);
            pop(c, mi);
        }
    }
    pop(c, mk);
}

static void check_backend(ctx *c, const hx_ynode *top, hx_scenario *s)
{
    s->backend.kind = dup_str(c, "ovp");
    s->backend.partner_id = DEFAULT_PARTNER_ID;
    c->entries_checked = true;
    size_t mk;
    const hx_ynode *b = enter(c, top, "backend", &mk);
    if (b) {
        if (want_map(c, b)) {
            check_keys(c, b, BACKEND_KEYS);
            get_enum(c, b, "kind", KINDS, NULL, &s->backend.kind);
            c->ott = s->backend.kind && strcmp(s->backend.kind, "ott") == 0;
            get_int(c, b, "partner_id", 0, &s->backend.partner_id);
            check_entries(c, b, s);
            check_playlists(c, b, s);
            check_sessions(c, b, s);
            size_t me;
            const hx_ynode *ie = enter(c, b, "item_errors", &me);
            if (ie) {
                const char *form = want_enum(c, ie, ITEM_ERRORS, NULL);
                if (form && !c->ott)
                    failp(c, ie->loc, "item_errors is for an OTT back-end (kind: ott)");
                s->backend.bare_item_errors = form && strcmp(form, "bare") == 0;
                pop(c, me);
            }
            check_ads(c, b, s);
            check_analytics(c, b, s);
            check_faults(c, b, s);
        } else {
            c->entries_checked = false;
        }
        pop(c, mk);
    }
    if (!hx_ymap_get(b, "entries") && c->entries_checked) {
        s->backend.entries = calloc(1, sizeof(hx_entry));
        if (!s->backend.entries) {
            c->oom = true;
            return;
        }
        s->backend.n_entries = 1;
        s->backend.entries_defaulted = true;
        hx_entry *e = &s->backend.entries[0];
        e->id = dup_str(c, c->ott ? DEFAULT_OTT_ASSET_ID : DEFAULT_ENTRY_ID);
        e->name = dup_str(c, "Demo VOD");
        entry_defaults(c, e);
    }
}

/* ---- player -------------------------------------------------------------------------- */

static void check_stream_priority(ctx *c, const hx_ynode *m)
{
    size_t mk;
    const hx_ynode *v = enter(c, m, "streamPriority", &mk);
    if (!v)
        return;
    if (want_seq(c, v)) {
        for (size_t i = 0; i < v->n; i++) {
            size_t mi = push_index(c, i);
            const hx_ynode *it = v->items[i];
            if (want_map(c, it)) {
                check_keys(c, it, STREAM_PRIORITY_KEYS);
                char *engine = NULL, *format = NULL;
                if (require(c, it, "engine"))
                    get_str(c, it, "engine", true, &engine);
                if (require(c, it, "format"))
                    get_enum(c, it, "format", FORMATS, NULL, &format);
                free(engine);
                free(format);
            }
            pop(c, mi);
        }
    }
    pop(c, mk);
}

static void check_prefer_native(ctx *c, const hx_ynode *m)
{
    size_t mk;
    const hx_ynode *v = enter(c, m, "preferNative", &mk);
    if (!v)
        return;
    if (want_map(c, v)) {
        check_keys(c, v, FORMATS);
        for (size_t i = 0; FORMATS[i]; i++) {
            bool b;
            get_bool(c, v, FORMATS[i], &b);
        }
    }
    pop(c, mk);
}

static void check_playback(ctx *c, const hx_ynode *cfg)
{
    size_t mk;
    const hx_ynode *m = enter(c, cfg, "playback", &mk);
    if (!m)
        return;
    if (want_map(c, m)) {
        check_keys(c, m, PLAYBACK_KEYS);
        static const char *const bools[] = {"autoplay", "muted",       "allowMutedAutoPlay",
                                            "loop",     "playsinline", NULL};
        bool b;
        double d;
        char *str = NULL;
        for (size_t i = 0; bools[i]; i++)
            get_bool(c, m, bools[i], &b);
        get_num(c, m, "volume", "a number from 0 to 1", 0, false, 1, &d);
        get_enum(c, m, "preload", PRELOADS, NULL, &str);
        free(str);
        str = NULL;
        check_stream_priority(c, m);
        check_prefer_native(c, m);
        get_num(c, m, "startTime", "a number of seconds", 0, false, NAN, &d);
        get_str(c, m, "audioLanguage", false, &str);
        free(str);
        str = NULL;
        get_str(c, m, "textLanguage", false, &str);
        free(str);
    }
    pop(c, mk);
}

static void check_provider(ctx *c, const hx_ynode *cfg)
{
    size_t mk;
    const hx_ynode *m = enter(c, cfg, "provider", &mk);
    if (!m)
        return;
    if (want_map(c, m)) {
        check_keys(c, m, PROVIDER_KEYS);
        const hx_ynode *pk = hx_ymap_key(m, "partnerId");
        if (pk) {
            size_t mp = push_key(c, "partnerId");
            failp(c, pk->loc, "set backend.partner_id instead (the harness fills this in)");
            pop(c, mp);
        }
        char *str = NULL;
        static const char *const strs[] = {"ks", "widgetId", "referrer", NULL};
        for (size_t i = 0; strs[i]; i++) {
            get_str(c, m, strs[i], false, &str);
            free(str);
            str = NULL;
        }
        long long id;
        get_int(c, m, "uiConfId", 0, &id);
        json_t *env = NULL;
        get_json_map(c, m, "env", &env);
        json_decref(env);
    }
    pop(c, mk);
}

/* Placeholders in player.config text, replaced by the runner with the mock servers' URLs
 * (docs/scenarios.md): {{ads}}, {{analytics}}, {{api}}, {{drm}}. */
static const char *const PLACEHOLDERS[] = {"ads", "analytics", "api", "drm", NULL};

static bool has_license_server(const hx_scenario *s)
{
    for (size_t i = 0; i < s->backend.n_entries; i++)
        if (s->backend.entries[i].drm_systems)
            return true;
    return false;
}

static void check_placeholders(ctx *c, const hx_ynode *n, const hx_scenario *s)
{
    if (n->type == HX_Y_MAP) {
        for (size_t i = 0; i < n->n; i++) {
            size_t mk = push_key(c, n->pairs[i].key->text);
            check_placeholders(c, n->pairs[i].val, s);
            pop(c, mk);
        }
        return;
    }
    if (n->type == HX_Y_SEQ) {
        for (size_t i = 0; i < n->n; i++) {
            size_t mi = push_index(c, i);
            check_placeholders(c, n->items[i], s);
            pop(c, mi);
        }
        return;
    }
    if (n->type != HX_Y_STR)
        return;
    for (const char *p = strstr(n->text, "{{"); p; p = strstr(p + 2, "{{")) {
        const char *end = strstr(p + 2, "}}");
        if (!end) {
            failp(c, n->loc,
                  "'{{' without a closing '}}' (placeholders: {{ads}}, "
                  "{{analytics}}, {{api}}, {{drm}})");
            return;
        }
        char name[32];
        size_t len = (size_t)(end - p - 2);
        snprintf(name, sizeof(name), "%.*s", (int)(len < sizeof(name) ? len : sizeof(name) - 1),
                 p + 2);
        if (len >= sizeof(name) || !in_list(name, PLACEHOLDERS)) {
            const char *near = suggest(name, PLACEHOLDERS);
            char hint[64] = "";
            if (near)
                snprintf(hint, sizeof(hint), " (did you mean '{{%s}}'?)", near);
            failp(c, n->loc,
                  "unknown placeholder '{{%s}}'%s (known: {{ads}}, {{analytics}}, {{api}}, "
                  "{{drm}})",
                  name, hint);
        } else if (strcmp(name, "drm") == 0 && !has_license_server(s))
            failp(c, n->loc,
                  "{{drm}}: there is no license server (no entry in backend.entries "
                  "has drm)");
        p = end;
    }
}

static void check_config(ctx *c, const hx_ynode *player, hx_scenario *s)
{
    size_t mk;
    const hx_ynode *m = enter(c, player, "config", &mk);
    if (!m)
        return;
    if (want_map(c, m)) {
        check_keys(c, m, CONFIG_KEYS);
        for (size_t i = 0; i < m->n; i++) {
            const hx_ypair *p = &m->pairs[i];
            if (!in_list(p->key->text, CONFIG_KEYS))
                continue;
            size_t ms = push_key(c, p->key->text);
            want_map(c, p->val);
            pop(c, ms);
        }
        check_playback(c, m);
        check_provider(c, m);
        check_placeholders(c, m, s);
        json_t *j = to_json(c, m);
        if (j) {
            json_decref(s->player.config);
            s->player.config = j;
        }
    }
    pop(c, mk);
}

static void check_player(ctx *c, const hx_ynode *top, hx_scenario *s)
{
    s->player.platform = dup_str(c, "chrome");
    s->player.bandwidth_bps = DEFAULT_BANDWIDTH;
    s->player.latency = DEFAULT_LATENCY;
    s->player.config = json_object();
    if (!s->player.config)
        c->oom = true;
    size_t mk;
    const hx_ynode *p = enter(c, top, "player", &mk);
    if (!p)
        return;
    if (want_map(c, p)) {
        check_keys(c, p, PLAYER_KEYS);
        get_enum(c, p, "platform", PLATFORMS, NULL, &s->player.platform);
        size_t mn;
        const hx_ynode *net = enter(c, p, "network", &mn);
        if (net) {
            if (want_map(c, net)) {
                check_keys(c, net, NETWORK_KEYS);
                size_t mb;
                const hx_ynode *bw = enter(c, net, "bandwidth", &mb);
                if (bw) {
                    want_bandwidth(c, bw, &s->player.bandwidth_bps);
                    pop(c, mb);
                }
                get_duration(c, net, "latency", true, &s->player.latency);
            }
            pop(c, mn);
        }
        check_config(c, p, s);
        size_t ms;
        const hx_ynode *sv = enter(c, p, "session", &ms);
        if (sv) {
            if (want_str(c, sv, true)) {
                s->player.session = dup_str(c, sv->text);
                bool known = false;
                for (size_t i = 0; i < s->backend.n_sessions; i++)
                    known = known || (s->backend.sessions[i].name &&
                                      strcmp(s->backend.sessions[i].name, sv->text) == 0);
                if (!known)
                    failp(c, sv->loc, "no session '%s' in backend.sessions", sv->text);
                else if (hx_ymap_get(hx_ymap_get(p, "config"), "provider") &&
                         hx_ymap_get(hx_ymap_get(hx_ymap_get(p, "config"), "provider"), "ks"))
                    failp(c, sv->loc, "give player.session or config.provider.ks, not both");
            }
            pop(c, ms);
        }
    }
    pop(c, mk);
}

/* ---- event sequences ------------------------------------------------------------------ */

/* A known event name (reported with a suggestion when not). */
static bool want_event(ctx *c, const hx_ynode *v)
{
    if (!want_str(c, v, true))
        return false;
    if (kp_event_lookup(v->text) >= 0)
        return true;
    char hint[96];
    failp(c, v->loc, "unknown event '%s'%s", v->text,
          dym(hint, sizeof(hint), suggest_event(v->text)));
    return false;
}

/* {NAME: PAYLOAD} with exactly one key; the payload a mapping or nothing. */
static bool check_event_with_payload(ctx *c, const hx_ynode *m, hx_match *out)
{
    const hx_ynode *k = m->pairs[0].key, *v = m->pairs[0].val;
    bool ok = want_event(c, k);
    size_t mk = push_key(c, k->text);
    if (v->type == HX_Y_MAP) {
        out->payload = to_json(c, v);
    } else if (v->type != HX_Y_NULL) {
        if (v->type != HX_Y_BAD)
            failp(c, v->loc, "expected a payload mapping (or nothing), got %s", describe(c, v));
        ok = false;
    }
    pop(c, mk);
    if (ok)
        out->event = dup_str(c, k->text);
    return ok;
}

static void check_any_order(ctx *c, const hx_ynode *v, hx_match *out)
{
    if (!want_seq(c, v))
        return;
    if (v->n == 0) {
        failp(c, v->loc, "must list at least one event");
        return;
    }
    out->group = calloc(v->n, sizeof(hx_match));
    if (!out->group) {
        c->oom = true;
        return;
    }
    out->n_group = v->n;
    for (size_t i = 0; i < v->n; i++) {
        const hx_ynode *it = v->items[i];
        hx_match *g = &out->group[i];
        g->kind = HX_MATCH_EVENT;
        g->loc = hx_yloc_pub(it->loc);
        size_t mi = push_index(c, i);
        if (it->type == HX_Y_STR && strcmp(it->text, "...") == 0) {
            failp(c, it->loc, "'...' cannot be used inside any_order");
        } else if (it->type == HX_Y_STR) {
            if (want_event(c, it))
                g->event = dup_str(c, it->text);
        } else if (it->type == HX_Y_MAP && it->n == 1 &&
                   strcmp(it->pairs[0].key->text, "any_order") == 0) {
            failp(c, it->loc, "any_order groups cannot be nested");
        } else if (it->type == HX_Y_MAP && it->n == 1) {
            check_event_with_payload(c, it, g);
        } else if (it->type != HX_Y_BAD) {
            failp(c, it->loc, "expected an event name or {event: payload}, got %s",
                  describe(c, it));
        }
        pop(c, mi);
    }
}

static void check_seq(ctx *c, const hx_ynode *v, hx_seq *out)
{
    out->loc = hx_yloc_pub(v->loc);
    if (!want_seq(c, v) || v->n == 0)
        return;
    out->items = calloc(v->n, sizeof(hx_match));
    if (!out->items) {
        c->oom = true;
        return;
    }
    out->n = v->n;
    for (size_t i = 0; i < v->n; i++) {
        const hx_ynode *it = v->items[i];
        hx_match *m = &out->items[i];
        m->kind = HX_MATCH_EVENT;
        m->loc = hx_yloc_pub(it->loc);
        size_t mi = push_index(c, i);
        if (it->type == HX_Y_STR && strcmp(it->text, "...") == 0) {
            m->kind = HX_MATCH_ELLIPSIS;
        } else if (it->type == HX_Y_STR) {
            if (want_event(c, it))
                m->event = dup_str(c, it->text);
        } else if (it->type == HX_Y_MAP && it->n == 1) {
            if (strcmp(it->pairs[0].key->text, "any_order") == 0) {
                m->kind = HX_MATCH_ANY_ORDER;
                size_t ma = push_key(c, "any_order");
                check_any_order(c, it->pairs[0].val, m);
                pop(c, ma);
            } else {
                check_event_with_payload(c, it, m);
            }
        } else if (it->type == HX_Y_MAP) {
            failp(c, it->loc, "expected one event per item, got %s with %zu keys", describe(c, it),
                  it->n);
        } else if (it->type != HX_Y_BAD) {
            failp(c, it->loc,
                  "expected an event name, '...', {event: payload} or {any_order: [...]}, "
                  "got %s",
                  describe(c, it));
        }
        pop(c, mi);
    }
}

/* ---- steps --------------------------------------------------------------------------- */

static const step_spec *find_step(const char *name)
{
    for (size_t i = 0; i < N_STEPS; i++)
        if (strcmp(STEPS[i].name, name) == 0)
            return &STEPS[i];
    return NULL;
}

static void known_ids(ctx *c, char *buf, size_t size, bool by_reference)
{
    size_t k = 0, shown = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < c->s->backend.n_entries; i++) {
        const char *id =
            by_reference ? c->s->backend.entries[i].reference_id : c->s->backend.entries[i].id;
        if (!id || k >= size)
            continue;
        int w = shown == 8 ? snprintf(buf + k, size - k, ", ...")
                           : snprintf(buf + k, size - k, "%s%s", shown ? ", " : "", id);
        if (w < 0 || shown++ == 8)
            break;
        k += (size_t)w;
    }
}

/* The one of two nodes that comes later in the file. */
static const hx_ynode *later_of(const hx_ynode *a, const hx_ynode *b)
{
    if (a->loc.line != b->loc.line)
        return a->loc.line > b->loc.line ? a : b;
    return a->loc.col > b->loc.col ? a : b;
}

/* load_media options of an OTT back-end, into the mediaInfo they become. */
static void check_ott_media_info(ctx *c, const hx_ynode *v, hx_step *st)
{
    static const char *const *const valid[] = {
        MEDIA_TYPES, CONTEXT_TYPES, NULL, NULL, STREAMER_TYPES, URL_TYPES, ASSET_REFERENCE_TYPES};
    for (size_t i = 0; i < sizeof(OTT_MEDIA_KEYS) / sizeof(OTT_MEDIA_KEYS[0]); i++) {
        size_t mk;
        const hx_ynode *o = enter(c, v, OTT_MEDIA_KEYS[i][0], &mk);
        if (!o)
            continue;
        if (!c->ott) {
            failp(c, o->loc, "%s is for an OTT back-end (backend.kind: ott)", OTT_MEDIA_KEYS[i][0]);
        } else {
            const char *val = valid[i] ? want_enum(c, o, valid[i], NULL)
                                       : (want_str(c, o, true) ? o->text : NULL);
            if (val) {
                if (!st->media_info)
                    st->media_info = json_object();
                json_object_set_new(st->media_info, OTT_MEDIA_KEYS[i][1], json_string(val));
            }
        }
        pop(c, mk);
    }
    size_t mk;
    const hx_ynode *f = enter(c, v, "formats", &mk);
    if (f) {
        if (!c->ott) {
            failp(c, f->loc, "formats is for an OTT back-end (backend.kind: ott)");
        } else if (want_seq(c, f)) {
            json_t *list = json_array();
            for (size_t i = 0; i < f->n; i++) {
                size_t mi = push_index(c, i);
                if (want_str(c, f->items[i], true))
                    json_array_append_new(list, json_string(f->items[i]->text));
                pop(c, mi);
            }
            if (!st->media_info)
                st->media_info = json_object();
            json_object_set_new(st->media_info, "formats", list);
        }
        pop(c, mk);
    }
}

static void check_load_playlist(ctx *c, const hx_ynode *v, hx_step *st)
{
    if (!want_map(c, v))
        return;
    check_keys(c, v, LOAD_PLAYLIST_KEYS);
    const hx_ynode *pk = hx_ymap_key(v, "playlist_id"), *ek = hx_ymap_key(v, "entries");
    if (!pk && !ek) {
        failp(c, v->loc, "needs 'playlist_id' or 'entries'");
        return;
    }
    if (pk && ek) {
        failp(c, later_of(pk, ek)->loc, "give 'playlist_id' or 'entries', not both");
        return;
    }
    if (pk) {
        if (c->ott) {
            failp(c, pk->loc,
                  "an OTT back-end has no playlists (the OTT provider does not "
                  "implement getPlaylistConfig); use entries");
            return;
        }
        get_str(c, v, "playlist_id", true, &st->playlist_id);
        bool known = false;
        for (size_t i = 0; st->playlist_id && i < c->s->backend.n_playlists; i++)
            known = known || (c->s->backend.playlists[i].id &&
                              strcmp(c->s->backend.playlists[i].id, st->playlist_id) == 0);
        if (st->playlist_id && !known) {
            size_t mk = push_key(c, "playlist_id");
            failp(c, hx_ymap_get(v, "playlist_id")->loc, "no playlist '%s' in backend.playlists",
                  st->playlist_id);
            pop(c, mk);
        }
        return;
    }
    size_t mk;
    const hx_ynode *ev = enter(c, v, "entries", &mk);
    st->list_entries = entry_id_list(c, ev, false, &st->n_list_entries);
    pop(c, mk);
}

static void check_load_media(ctx *c, const hx_ynode *v, hx_step *st)
{
    if (!want_map(c, v))
        return;
    check_keys(c, v, LOAD_MEDIA_KEYS);
    const hx_ynode *ek = hx_ymap_key(v, "entry_id"), *rk = hx_ymap_key(v, "reference_id");
    if (!ek && !rk) {
        failp(c, v->loc, "needs 'entry_id' or 'reference_id'");
        return;
    }
    if (ek && rk) {
        failp(c, later_of(ek, rk)->loc, "give 'entry_id' or 'reference_id', not both");
        return;
    }
    const char *key = ek ? "entry_id" : "reference_id";
    char **dst = ek ? &st->entry_id : &st->reference_id;
    if (ek)
        get_id(c, v, key, dst);
    else
        get_str(c, v, key, true, dst);
    get_bool(c, v, "missing", &st->missing);
    check_ott_media_info(c, v, st);
    if (!*dst || !c->entries_checked)
        return;
    const hx_scenario *s = c->s;
    for (size_t i = 0; i < s->backend.n_entries; i++) {
        const char *have = ek ? s->backend.entries[i].id : s->backend.entries[i].reference_id;
        if (have && strcmp(have, *dst) == 0) {
            if (st->missing) {
                size_t mk = push_key(c, "missing");
                failp(c, hx_ymap_get(v, "missing")->loc,
                      "'%s' is in backend.entries, so it is not missing (drop missing: true)",
                      *dst);
                pop(c, mk);
            }
            return;
        }
    }
    if (st->missing)
        return; /* deliberately absent from the back-end */
    size_t mk = push_key(c, key);
    const hx_ynode *val = hx_ymap_get(v, key);
    char known[256];
    known_ids(c, known, sizeof(known), !ek);
    if (ek && s->backend.entries_defaulted)
        failp(c, val->loc,
              "no entry '%s' in backend.entries (backend.entries is left out, so the only "
              "entry is the default %s)",
              *dst, DEFAULT_ENTRY_ID);
    else if (ek)
        failp(c, val->loc, "no entry '%s' in backend.entries (known: %s)", *dst, known);
    else if (known[0])
        failp(c, val->loc, "no entry in backend.entries has reference_id '%s' (known: %s)", *dst,
              known);
    else
        failp(c, val->loc,
              "no entry in backend.entries has reference_id '%s' (no entry has a reference_id)",
              *dst);
    pop(c, mk);
}

static void check_wait_for(ctx *c, const hx_ynode *v, hx_step *st)
{
    st->timeout = DEFAULT_WAIT_FOR_TIMEOUT;
    if (!want_map(c, v))
        return;
    check_keys(c, v, WAIT_FOR_KEYS);
    const hx_ynode *ek = hx_ymap_key(v, "event"), *pk = hx_ymap_key(v, "position");
    if (!ek && !pk) {
        failp(c, v->loc, "needs 'event' or 'position'");
    } else if (ek && pk) {
        failp(c, later_of(ek, pk)->loc, "give 'event' or 'position', not both");
    } else if (ek) {
        size_t mk = push_key(c, "event");
        const hx_ynode *e = hx_ymap_get(v, "event");
        if (want_event(c, e))
            st->event = dup_str(c, e->text);
        pop(c, mk);
    } else {
        st->for_position = true;
        get_num(c, v, "position", "a number of seconds", 0, false, NAN, &st->number);
    }
    size_t mk;
    const hx_ynode *p = enter(c, v, "payload", &mk);
    if (p) {
        if (pk && !ek)
            failp(c, hx_ymap_key(v, "payload")->loc, "only applies when waiting for an 'event'");
        else if (p->type == HX_Y_MAP)
            st->payload = to_json(c, p);
        else if (p->type != HX_Y_NULL)
            want_map(c, p);
        pop(c, mk);
    }
    get_duration(c, v, "timeout", false, &st->timeout);
}

/* set_network: {bandwidth?, latency?}, at least one. */
static void check_set_network(ctx *c, const hx_ynode *v, hx_step *st)
{
    st->bandwidth_bps = 0;
    st->latency = -1;
    if (!want_map(c, v))
        return;
    check_keys(c, v, NETWORK_KEYS);
    size_t mb;
    const hx_ynode *bw = enter(c, v, "bandwidth", &mb);
    if (bw) {
        want_bandwidth(c, bw, &st->bandwidth_bps);
        pop(c, mb);
    }
    if (hx_ymap_get(v, "latency"))
        get_duration(c, v, "latency", true, &st->latency);
    if (!bw && !hx_ymap_get(v, "latency"))
        failp(c, v->loc, "give bandwidth, latency or both");
}

/* The value of an action key; the path names the action. */
static void check_action(ctx *c, const step_spec *sp, const hx_ynode *v, hx_step *st)
{
    st->kind = (hx_step_kind)sp->kind;
    switch (st->kind) {
    case HX_STEP_LOAD_MEDIA:
        check_load_media(c, v, st);
        break;
    case HX_STEP_PLAY:
    case HX_STEP_PAUSE:
    case HX_STEP_SKIP_AD:
        if (v->type != HX_Y_NULL && !(v->type == HX_Y_MAP && v->n == 0) && v->type != HX_Y_BAD)
            failp(c, v->loc, "takes no value, got %s", describe(c, v));
        break;
    case HX_STEP_SEEK:
        if (want_num(c, v, "a number of seconds", 0, false, NAN))
            st->number = v->num;
        break;
    case HX_STEP_WAIT:
        want_duration(c, v, false, &st->duration);
        break;
    case HX_STEP_WAIT_FOR:
        check_wait_for(c, v, st);
        break;
    case HX_STEP_SET_MUTED:
        if (want_bool(c, v))
            st->flag = v->boolean;
        break;
    case HX_STEP_SET_VOLUME:
        if (want_num(c, v, "a number from 0 to 1", 0, false, 1))
            st->number = v->num;
        break;
    case HX_STEP_LOAD_PLAYLIST:
        check_load_playlist(c, v, st);
        break;
    case HX_STEP_SET_NETWORK:
        check_set_network(c, v, st);
        break;
    }
}

static void check_step(ctx *c, const hx_ynode *n, hx_step *st)
{
    st->loc = hx_yloc_pub(n->loc);
    char hint[96];
    if (n->type == HX_Y_STR) {
        const step_spec *sp = find_step(n->text);
        if (!sp)
            failp(c, n->loc, "unknown step '%s'%s", n->text,
                  dym(hint, sizeof(hint), suggest_step(n->text)));
        else if (sp->kind < 0)
            failp(c, n->loc, "step '%s' is not supported yet", sp->name);
        else if (sp->kind != HX_STEP_PLAY && sp->kind != HX_STEP_PAUSE &&
                 sp->kind != HX_STEP_SKIP_AD)
            failp(c, n->loc, "step '%s' needs a value (%s)", sp->name, sp->usage);
        else
            st->kind = (hx_step_kind)sp->kind;
        return;
    }
    if (n->type != HX_Y_MAP) {
        if (n->type != HX_Y_BAD)
            failp(c, n->loc, "expected a step such as 'play' or {seek: 5}, got %s", describe(c, n));
        return;
    }
    const hx_ynode *action = NULL;
    for (size_t i = 0; i < n->n; i++) {
        const hx_ynode *k = n->pairs[i].key;
        if (strcmp(k->text, "expect") == 0)
            continue;
        if (action) {
            failp(c, k->loc, "one action per step: found '%s' after '%s' (make them two steps)",
                  k->text, action->text);
            continue;
        }
        action = k;
        const step_spec *sp = find_step(k->text);
        if (!sp) {
            failp(c, k->loc, "unknown step '%s'%s", k->text,
                  dym(hint, sizeof(hint), suggest_step(k->text)));
        } else if (sp->kind < 0) {
            failp(c, k->loc, "step '%s' is not supported yet", sp->name);
        } else {
            size_t mk = push_key(c, sp->name);
            check_action(c, sp, n->pairs[i].val, st);
            pop(c, mk);
        }
    }
    if (!action)
        failp(c, n->loc, "no action in this step (only 'expect')");
    size_t mk;
    const hx_ynode *e = enter(c, n, "expect", &mk);
    if (e) {
        st->has_expect = true;
        check_seq(c, e, &st->expect);
        pop(c, mk);
    }
}

static void check_steps(ctx *c, const hx_ynode *top, hx_scenario *s)
{
    size_t mk;
    const hx_ynode *v = enter(c, top, "steps", &mk);
    if (!v)
        return;
    if (want_seq(c, v)) {
        if (v->n == 0) {
            failp(c, v->loc, "must list at least one step");
        } else {
            s->steps = calloc(v->n, sizeof(hx_step));
            if (!s->steps) {
                c->oom = true;
            } else {
                s->n_steps = v->n;
                for (size_t i = 0; i < v->n; i++) {
                    size_t mi = push_index(c, i);
                    check_step(c, v->items[i], &s->steps[i]);
                    pop(c, mi);
                }
            }
        }
    }
    pop(c, mk);
}

/* ---- expect -------------------------------------------------------------------------- */

static void check_events(ctx *c, const hx_ynode *ex, hx_scenario *s)
{
    size_t mk;
    const hx_ynode *m = enter(c, ex, "events", &mk);
    if (!m)
        return;
    if (want_map(c, m)) {
        check_keys(c, m, EVENTS_KEYS);
        size_t mi;
        const hx_ynode *ig = enter(c, m, "ignore", &mi);
        if (ig) {
            if (want_seq(c, ig) && ig->n) {
                s->expect.ignore = calloc(ig->n, sizeof(char *));
                if (!s->expect.ignore)
                    c->oom = true;
                for (size_t i = 0; s->expect.ignore && i < ig->n; i++) {
                    size_t mx = push_index(c, i);
                    if (want_event(c, ig->items[i]))
                        s->expect.ignore[s->expect.n_ignore++] = dup_str(c, ig->items[i]->text);
                    pop(c, mx);
                }
            }
            pop(c, mi);
        }
        const hx_ynode *sq = enter(c, m, "sequence", &mi);
        if (sq) {
            s->expect.has_sequence = true;
            check_seq(c, sq, &s->expect.sequence);
            pop(c, mi);
        }
    }
    pop(c, mk);
}

static void check_error(ctx *c, const hx_ynode *ex, hx_scenario *s)
{
    size_t mk;
    const hx_ynode *v = enter(c, ex, "error", &mk);
    if (!v)
        return;
    s->expect.has_error = true;
    if (v->type == HX_Y_MAP) {
        check_keys(c, v, ERROR_KEYS);
        long long x;
        get_int(c, v, "severity", 0, &x);
        get_int(c, v, "category", 0, &x);
        get_int(c, v, "code", 0, &x);
        s->expect.error = to_json(c, v);
    } else if (v->type != HX_Y_NULL && v->type != HX_Y_BAD) {
        failp(c, v->loc,
              "expected null (no error allowed) or a mapping such as {code: 7002}, got %s",
              describe(c, v));
    }
    pop(c, mk);
}

/* The keys of an ads request record (mbe/mbe.h) that a match may name; a faulted request's
 * record also has the rule's index and reply kind (docs/scenarios.md "Faults"). */
static const char *const ADS_MATCH_KEYS[] = {
    "kind",      "event",           "ad",         "vast",   "vmap",
    "break",     "errorcode",       "wrapper",    "status", "method",
    "path",      "query",           "range",      "bytes",  "cachebusting",
    "timestamp", "contentplayhead", "adplayhead", "fault",  "fault_reply",
    NULL};
static const char *const ADS_KINDS[] = {"vast",  "vmap",  "media",   "impression", "tracking",
                                        "error", "click", "unknown", NULL};

/* A match map of server ads: known keys, and a kind the ad server journals. */
static void check_ads_match_map(ctx *c, const hx_ynode *v)
{
    if (v->type == HX_Y_MAP) {
        check_keys(c, v, ADS_MATCH_KEYS);
        size_t mkind;
        const hx_ynode *kind = enter(c, v, "kind", &mkind);
        if (kind) {
            want_enum(c, kind, ADS_KINDS, NULL);
            pop(c, mkind);
        }
    }
}

/* expect.requests[i].match of server ads. */
static void check_ads_match(ctx *c, const hx_ynode *m)
{
    size_t mk;
    const hx_ynode *v = enter(c, m, "match", &mk);
    if (!v)
        return;
    check_ads_match_map(c, v);
    pop(c, mk);
}

/* expect.requests[i].sequence: a non-empty list of match maps, in the order the server
 * must have received matching requests. */
static void get_request_sequence(ctx *c, const hx_ynode *m, hx_request_expect *r)
{
    size_t mk;
    const hx_ynode *v = enter(c, m, "sequence", &mk);
    if (!v)
        return;
    const hx_ynode *match = hx_ymap_get(m, "match");
    const hx_ynode *count = hx_ymap_get(m, "count");
    if (match)
        failp(c, v->loc, "'match' and 'sequence' are mutually exclusive (match at line %d)",
              match->loc.line);
    if (count)
        failp(c, v->loc,
              "'count' does not go with 'sequence' (each item stands for one request; "
              "repeat an item to ask for several)");
    if (want_seq(c, v)) {
        if (v->n == 0)
            failp(c, v->loc, "expected at least one item");
        r->sequence = json_array();
        r->seq_locs = calloc(v->n ? v->n : 1, sizeof(*r->seq_locs));
        if (!r->sequence || !r->seq_locs)
            c->oom = true;
        for (size_t i = 0; r->sequence && r->seq_locs && i < v->n; i++) {
            const hx_ynode *it = v->items[i];
            size_t mi = push_index(c, i);
            r->seq_locs[i] = hx_yloc_pub(it->loc);
            if (want_map(c, it)) {
                if (r->server && strcmp(r->server, "ads") == 0)
                    check_ads_match_map(c, it);
                json_t *j = to_json(c, it);
                if (!j || json_array_append_new(r->sequence, j) != 0)
                    c->oom = true;
            }
            pop(c, mi);
        }
    }
    pop(c, mk);
}

static void check_requests(ctx *c, const hx_ynode *ex, hx_scenario *s)
{
    size_t mk;
    const hx_ynode *v = enter(c, ex, "requests", &mk);
    if (!v)
        return;
    if (want_seq(c, v) && v->n) {
        s->expect.requests = calloc(v->n, sizeof(*s->expect.requests));
        if (!s->expect.requests)
            c->oom = true;
        else
            s->expect.n_requests = v->n;
        for (size_t i = 0; s->expect.requests && i < v->n; i++) {
            hx_request_expect *r = &s->expect.requests[i];
            const hx_ynode *m = v->items[i];
            r->count = -1;
            r->loc = hx_yloc_pub(m->loc);
            size_t mi = push_index(c, i);
            if (want_map(c, m)) {
                check_keys(c, m, REQUEST_KEYS);
                if (require(c, m, "server"))
                    get_enum(c, m, "server", SERVERS, NULL, &r->server);
                get_json_map(c, m, "match", &r->match);
                if (r->server && strcmp(r->server, "ads") == 0)
                    check_ads_match(c, m);
                if (!r->match && !(r->match = json_object()))
                    c->oom = true;
                get_int(c, m, "count", 0, &r->count);
                get_request_sequence(c, m, r);
            }
            pop(c, mi);
        }
    }
    pop(c, mk);
}

static void check_expect(ctx *c, const hx_ynode *top, hx_scenario *s)
{
    size_t mk;
    const hx_ynode *m = enter(c, top, "expect", &mk);
    if (!m)
        return;
    s->expect.loc = hx_yloc_pub(m->loc);
    if (want_map(c, m)) {
        check_keys(c, m, EXPECT_KEYS);
        check_events(c, m, s);
        check_error(c, m, s);
        check_requests(c, m, s);
    }
    pop(c, mk);
}

/* ---- top level ----------------------------------------------------------------------- */

static void check_top(ctx *c, const hx_ynode *top, hx_scenario *s)
{
    if (top->type != HX_Y_MAP) {
        if (top->type != HX_Y_BAD)
            fail(c, top->loc,
                 "expected a mapping of keys (name, steps, ...) at the top level, got %s",
                 describe(c, top));
        return;
    }
    check_keys(c, top, TOP_KEYS);
    if (require(c, top, "name"))
        get_str(c, top, "name", true, &s->name);
    require(c, top, "steps");
    get_str(c, top, "description", false, &s->description);

    size_t mk;
    const hx_ynode *tags = enter(c, top, "tags", &mk);
    if (tags) {
        if (want_seq(c, tags) && tags->n) {
            s->tags = calloc(tags->n, sizeof(char *));
            if (!s->tags)
                c->oom = true;
            for (size_t i = 0; s->tags && i < tags->n; i++) {
                size_t mi = push_index(c, i);
                if (want_str(c, tags->items[i], true))
                    s->tags[s->n_tags++] = dup_str(c, tags->items[i]->text);
                pop(c, mi);
            }
        }
        pop(c, mk);
    }

    kp_time timeout = DEFAULT_TIMEOUT;
    get_duration(c, top, "timeout", false, &timeout);
    s->timeout_s = (double)timeout / 1e6;

    check_backend(c, top, s); /* before steps: they refer to its entries */
    check_player(c, top, s);
    check_steps(c, top, s);
    check_expect(c, top, s);

    /* only the scenario file's own keys (not an included fixture's): record rewrites it */
    for (size_t i = 0; i < top->n; i++) {
        const hx_ynode *k = top->pairs[i].key;
        if (k->loc.file || strcmp(k->text, "expect") != 0)
            continue;
        s->layout.expect_line = k->loc.line;
        for (size_t j = 0; j < top->n; j++) {
            const hx_ynode *o = top->pairs[j].key;
            if (!o->loc.file && o->loc.line > k->loc.line &&
                (!s->layout.after_expect_line || o->loc.line < s->layout.after_expect_line))
                s->layout.after_expect_line = o->loc.line;
        }
    }
}

/* ---- public -------------------------------------------------------------------------- */

static void free_seq(hx_seq *q)
{
    for (size_t i = 0; i < q->n; i++) {
        hx_match *m = &q->items[i];
        free(m->event);
        json_decref(m->payload);
        for (size_t k = 0; k < m->n_group; k++) {
            free(m->group[k].event);
            json_decref(m->group[k].payload);
        }
        free(m->group);
    }
    free(q->items);
}

void hx_scenario_free(hx_scenario *s)
{
    if (!s)
        return;
    json_decref(s->backend.faults);
    free(s->backend.fault_locs);
    free(s->file);
    free(s->name);
    free(s->variant);
    free_strv(s->includes, s->n_includes);
    free(s->description);
    free_strv(s->tags, s->n_tags);
    free(s->backend.kind);
    for (size_t i = 0; i < s->backend.n_entries; i++) {
        hx_entry *e = &s->backend.entries[i];
        free(e->id);
        free(e->name);
        free(e->type);
        free_strv(e->renditions, e->n_renditions);
        free(e->status);
        free(e->block);
        free(e->reference_id);
        for (size_t k = 0; k < e->n_captions; k++) {
            free(e->captions[k].lang);
            free(e->captions[k].label);
            free(e->captions[k].format);
        }
        free(e->captions);
        json_decref(e->metadata);
        free(e->bumper_entry);
        free(e->bumper_click);
    }
    free(s->backend.entries);
    for (size_t i = 0; i < s->backend.n_playlists; i++) {
        hx_playlist *p = &s->backend.playlists[i];
        free(p->id);
        free(p->name);
        free(p->description);
        free_strv(p->entries, p->n_entries);
    }
    free(s->backend.playlists);
    for (size_t i = 0; i < s->backend.n_sessions; i++) {
        free(s->backend.sessions[i].name);
        free(s->backend.sessions[i].user_id);
        free(s->backend.sessions[i].privileges);
    }
    free(s->backend.sessions);
    for (size_t i = 0; i < s->backend.ads.n_creatives; i++) {
        free(s->backend.ads.creatives[i].id);
        free(s->backend.ads.creatives[i].title);
        free(s->backend.ads.creatives[i].click_through);
    }
    free(s->backend.ads.creatives);
    for (size_t i = 0; i < s->backend.ads.n_vast; i++) {
        free(s->backend.ads.vast[i].id);
        free(s->backend.ads.vast[i].version);
        free(s->backend.ads.vast[i].wrapper);
        free_strv(s->backend.ads.vast[i].ads, s->backend.ads.vast[i].n_ads);
    }
    free(s->backend.ads.vast);
    for (size_t i = 0; i < s->backend.ads.n_vmap; i++) {
        hx_vmap *m = &s->backend.ads.vmap[i];
        for (size_t k = 0; k < m->n_breaks; k++) {
            free(m->breaks[k].id);
            free(m->breaks[k].offset);
            free(m->breaks[k].vast);
        }
        free(m->breaks);
        free(m->id);
    }
    free(s->backend.ads.vmap);
    free(s->player.platform);
    free(s->player.session);
    json_decref(s->player.config);
    for (size_t i = 0; i < s->n_steps; i++) {
        hx_step *st = &s->steps[i];
        free(st->entry_id);
        free(st->reference_id);
        json_decref(st->media_info);
        free(st->playlist_id);
        free_strv(st->list_entries, st->n_list_entries);
        free(st->event);
        json_decref(st->payload);
        free_seq(&st->expect);
    }
    free(s->steps);
    free_strv(s->expect.ignore, s->expect.n_ignore);
    free_seq(&s->expect.sequence);
    json_decref(s->expect.error);
    for (size_t i = 0; i < s->expect.n_requests; i++) {
        free(s->expect.requests[i].server);
        json_decref(s->expect.requests[i].match);
        json_decref(s->expect.requests[i].sequence);
        free(s->expect.requests[i].seq_locs);
    }
    free(s->expect.requests);
    free(s);
}

typedef struct sorted_msg {
    char *msg;
    hx_loc loc;
    size_t idx;
} sorted_msg;

static int cmp_msg(const void *a, const void *b)
{
    const sorted_msg *x = a, *y = b;
    if (x->loc.line != y->loc.line)
        return x->loc.line < y->loc.line ? -1 : 1;
    if (x->loc.col != y->loc.col)
        return x->loc.col < y->loc.col ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Orders the messages from index `from` on by location (stable). */
static void sort_diag(hx_diag *d, size_t from)
{
    if (!d || d->n - from < 2)
        return;
    size_t n = d->n - from;
    sorted_msg *v = malloc(n * sizeof(*v));
    if (!v)
        return; /* unsorted is still correct */
    for (size_t i = 0; i < n; i++)
        v[i] = (sorted_msg){d->msgs[from + i], d->locs[from + i], i};
    qsort(v, n, sizeof(*v), cmp_msg);
    for (size_t i = 0; i < n; i++) {
        d->msgs[from + i] = v[i].msg;
        d->locs[from + i] = v[i].loc;
    }
    free(v);
}

int hx_scenario_check_tree(const char *name, const hx_ynode *root, size_t n_prior_errors,
                           hx_diag *diag, hx_scenario **out)
{
    *out = NULL;
    size_t base = diag ? diag->n : 0;
    ctx *c = calloc(1, sizeof(*c));
    hx_scenario *s = calloc(1, sizeof(*s));
    if (!c || !s) {
        free(c);
        free(s);
        return KP_ENOMEM;
    }
    c->file = name;
    c->diag = diag;
    c->n_errors = n_prior_errors;
    c->s = s;
    s->file = dup_str(c, name);
    check_top(c, root, s);
    sort_diag(diag, base);

    int rc = c->oom ? KP_ENOMEM : c->n_errors ? KP_EPARSE : KP_OK;
    free(c);
    if (rc < 0) {
        hx_scenario_free(s);
        return rc;
    }
    *out = s;
    return KP_OK;
}

bool hx_scenario_has_expectation(const hx_scenario *s)
{
    if (s->expect.has_sequence || s->expect.has_error || s->expect.n_requests)
        return true;
    for (size_t i = 0; i < s->n_steps; i++)
        if (s->steps[i].has_expect)
            return true;
    return false;
}
