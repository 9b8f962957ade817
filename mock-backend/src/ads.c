/* ads.c: the mock ad server under /ads/ (URL layout, journal fields and fixtures in mbe/mbe.h).
 *
 * Every document is written once, when the server starts (its URLs need the port, nothing
 * else), and served as immutable bytes; ad media come from the media cache (one encode per
 * distinct ad duration, progressive MP4 only). Requests then only look ids up, so serving is
 * lock-free and the documents are byte-identical from run to run.
 *
 * What the documents hold, per VAST version (IAB VAST 2.0, 3.0, 4.0-4.2):
 *   every InLine Ad: AdSystem, AdTitle, Error ([ERRORCODE]), Impression, one Creative with a
 *   Linear (Duration, TrackingEvents, VideoClicks with ClickThrough and ClickTracking,
 *   MediaFiles) or, for a non-linear fixture, NonLinearAds;
 *   3.0+: skipoffset on Linear, the skip and progress events, Ad@sequence for pods;
 *   4.x: the VAST namespace, Creative@adId and UniversalAdId (4.0 with idValue, 4.1+ the id
 *   as content), MediaFile width/height/delivery/type (always written), 4.1+ AdServingId.
 * A Wrapper has AdSystem, VASTAdTagURI, Error, Impression and a Linear with tracking and
 * ClickTracking (no media), so the beacons of each level of a chain can be told apart. */
#include "mbe_internal.h"

#include "kp/buf.h"
#include "kp/err.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AD_RENDITION "360p"
#define AD_WIDTH     640
#define AD_HEIGHT    360

typedef struct ads_doc {
    char *id;
    char *body;
    size_t len;
} ads_doc;

typedef struct ads_item {
    char *id;
    const mbe_media *media; /* NULL unless MBE_AD_MEDIA_SERVED and linear */
} ads_item;

struct mbe_ads_state {
    ads_item *ads;
    size_t n_ads;
    ads_doc *vast;
    size_t n_vast;
    ads_doc *vmap;
    size_t n_vmap;
    char **breaks; /* "<vmap id>/<break id>" of every VMAP break, for its beacons */
    size_t n_breaks;
};

/* ---- fixture checks ------------------------------------------------------------------------ */

static bool url_safe(const char *id)
{
    if (!id || !*id)
        return false;
    for (const char *p = id; *p; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '~' || ch == '-';
        if (!ok)
            return false;
    }
    return strcmp(id, "-") != 0 && strcmp(id, ".") != 0 && strcmp(id, "..") != 0;
}

static const mbe_ad *find_ad(const mbe_ads *a, const char *id)
{
    for (size_t i = 0; id && i < a->n_ads; i++)
        if (strcmp(a->ads[i].id, id) == 0)
            return &a->ads[i];
    return NULL;
}

static const mbe_vast *find_vast(const mbe_ads *a, const char *id)
{
    for (size_t i = 0; id && i < a->n_vast; i++)
        if (strcmp(a->vast[i].id, id) == 0)
            return &a->vast[i];
    return NULL;
}

/* 20 for "2.0", 42 for "4.2"; 0 for anything else. */
static int version_code(const char *v)
{
    static const char *const known[] = {"2.0", "3.0", "4.0", "4.1", "4.2"};
    for (size_t i = 0; v && i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(v, known[i]) == 0)
            return (v[0] - '0') * 10 + (v[2] - '0');
    return 0;
}

static int check_fixtures(const mbe_server *s, const mbe_ads *a)
{
    for (size_t i = 0; i < a->n_ads; i++) {
        const mbe_ad *ad = &a->ads[i];
        if (!url_safe(ad->id) || find_ad(a, ad->id) != ad || !(ad->duration > 0) ||
            ad->duration > 3600 || ad->creative < MBE_AD_LINEAR || ad->creative > MBE_AD_VPAID ||
            ad->media < MBE_AD_MEDIA_SERVED || ad->media > MBE_AD_MEDIA_NONE) {
            KP_LOG_E(s->log, "mbe-ads", "ad %zu ('%s'): bad id, duplicate, duration or kind", i,
                     ad->id ? ad->id : "");
            return KP_EINVAL;
        }
    }
    for (size_t i = 0; i < a->n_vast; i++) {
        const mbe_vast *v = &a->vast[i];
        bool ok = url_safe(v->id) && find_vast(a, v->id) == v && version_code(v->version) &&
                  v->broken >= MBE_VAST_GOOD && v->broken <= MBE_VAST_EMPTY_BODY &&
                  (!v->wrapper || (find_vast(a, v->wrapper) && v->n_ads == 0));
        for (size_t k = 0; ok && k < v->n_ads; k++)
            ok = find_ad(a, v->ads[k]) != NULL;
        if (!ok) {
            KP_LOG_E(s->log, "mbe-ads", "vast %zu ('%s'): bad id, version or reference", i,
                     v->id ? v->id : "");
            return KP_EINVAL;
        }
    }
    for (size_t i = 0; i < a->n_vmap; i++) {
        const mbe_vmap *m = &a->vmap[i];
        bool ok = url_safe(m->id) && m->broken >= MBE_VAST_GOOD && m->broken <= MBE_VAST_EMPTY_BODY;
        for (size_t k = 0; ok && k < i; k++)
            ok = strcmp(a->vmap[k].id, m->id) != 0;
        for (size_t k = 0; ok && k < m->n_breaks; k++) {
            const mbe_vmap_break *b = &m->breaks[k];
            ok = url_safe(b->id) && b->time_offset && *b->time_offset && find_vast(a, b->vast);
            for (size_t j = 0; ok && j < k; j++)
                ok = strcmp(m->breaks[j].id, b->id) != 0;
        }
        if (!ok) {
            KP_LOG_E(s->log, "mbe-ads", "vmap %zu ('%s'): bad id, break or reference", i,
                     m->id ? m->id : "");
            return KP_EINVAL;
        }
    }
    return KP_OK;
}

/* ---- writing documents ------------------------------------------------------------------- */

typedef struct writer {
    const mbe_server *s;
    const mbe_ads *a;
    const struct mbe_ads_state *st;
    kp_buf b;
    bool oom;
} writer;

static void put(writer *w, const char *text)
{
    if (kp_buf_puts(&w->b, text) != KP_OK)
        w->oom = true;
}

static void putf(writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(writer *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = NULL;
    if (vasprintf(&text, fmt, ap) < 0)
        text = NULL;
    va_end(ap);
    if (!text) {
        w->oom = true;
        return;
    }
    put(w, text);
    free(text);
}

/* Text content or an attribute value, XML-escaped. */
static void put_escaped(writer *w, const char *text)
{
    for (const char *p = text; *p; p++) {
        switch (*p) {
        case '&':
            put(w, "&amp;");
            break;
        case '<':
            put(w, "&lt;");
            break;
        case '>':
            put(w, "&gt;");
            break;
        case '"':
            put(w, "&quot;");
            break;
        default: {
            char one[2] = {*p, '\0'};
            put(w, one);
        }
        }
    }
}

/* A URL as element content: in CDATA (what ad servers do; "]]>" cannot occur in our URLs). */
static void put_url(writer *w, const char *url)
{
    put(w, "<![CDATA[");
    put(w, url);
    put(w, "]]>");
}

#define MACROS "cb=[CACHEBUSTING]&ts=[TIMESTAMP]&cp=[CONTENTPLAYHEAD]&ap=[ADPLAYHEAD]"

/* A beacon of ad `ad` ("-": the wrapper's own) in document `vast`. */
static void put_beacon(writer *w, const char *vast, const char *ad, const char *event)
{
    put(w, "<![CDATA[");
    putf(w, "%s/ads/track/%s/%s/%s?%s" MACROS, w->s->url, vast, ad, event,
         strcmp(event, "error") == 0 ? "code=[ERRORCODE]&" : "");
    put(w, "]]>");
}

/* HH:MM:SS, with .mmm when the time has a fraction and the version allows it (3.0+). */
static void put_clock(writer *w, double t, bool millis)
{
    long long ms = llround(t * 1000.0);
    if (!millis)
        ms = (ms + 500) / 1000 * 1000;
    long long sec = ms / 1000;
    putf(w, "%02lld:%02lld:%02lld", sec / 3600, sec / 60 % 60, sec % 60);
    if (ms % 1000)
        putf(w, ".%03lld", ms % 1000);
}

static const char *const EVENTS_2[] = {
    "creativeView", "start", "firstQuartile", "midpoint",   "thirdQuartile", "complete", "mute",
    "unmute",       "pause", "resume",        "fullscreen", "close",         NULL};
static const char *const EVENTS_3[] = {
    "creativeView", "start",          "firstQuartile", "midpoint",    "thirdQuartile",
    "complete",     "mute",           "unmute",        "pause",       "resume",
    "fullscreen",   "exitFullscreen", "skip",          "closeLinear", NULL};
static const char *const EVENTS_4[] = {
    "loaded",   "start",        "firstQuartile",  "midpoint",    "thirdQuartile",
    "complete", "mute",         "unmute",         "pause",       "resume",
    "skip",     "playerExpand", "playerCollapse", "closeLinear", NULL};
static const char *const EVENTS_WRAPPER[] = {"start",         "firstQuartile", "midpoint",
                                             "thirdQuartile", "complete",      NULL};

static void put_tracking(writer *w, int ver, const char *vast, const char *ad,
                         const char *const *events, const mbe_ad *with_progress)
{
    put(w, "<TrackingEvents>\n");
    for (size_t i = 0; events[i]; i++) {
        putf(w, "<Tracking event=\"%s\">", events[i]);
        put_beacon(w, vast, ad, events[i]);
        put(w, "</Tracking>\n");
    }
    if (with_progress && ver >= 30) {
        /* one progress event at 5 s (or half the ad when shorter) */
        double at = with_progress->duration > 10 ? 5.0 : with_progress->duration / 2;
        put(w, "<Tracking event=\"progress\" offset=\"");
        put_clock(w, at, true);
        put(w, "\">");
        put_beacon(w, vast, ad, "progress");
        put(w, "</Tracking>\n");
    }
    put(w, "</TrackingEvents>\n");
}

static const ads_item *state_ad(const struct mbe_ads_state *st, const char *id)
{
    for (size_t i = 0; st && i < st->n_ads; i++)
        if (strcmp(st->ads[i].id, id) == 0)
            return &st->ads[i];
    return NULL;
}

static void put_linear(writer *w, int ver, const char *vast, const mbe_ad *ad)
{
    put(w, "<Linear");
    if (ver >= 30 && ad->skipoffset >= 0) {
        put(w, " skipoffset=\"");
        put_clock(w, ad->skipoffset, true);
        put(w, "\"");
    } else if (ver >= 30 && ad->skip_pct >= 0) {
        putf(w, " skipoffset=\"%g%%\"", ad->skip_pct);
    }
    put(w, ">\n<Duration>");
    put_clock(w, ad->duration, ver >= 30);
    put(w, "</Duration>\n");
    put_tracking(w, ver, vast, ad->id, ver >= 40 ? EVENTS_4 : ver >= 30 ? EVENTS_3 : EVENTS_2, ad);
    put(w, "<VideoClicks>\n<ClickThrough id=\"kpsim\">");
    if (ad->click_through) {
        put_url(w, ad->click_through);
    } else {
        put(w, "<![CDATA[");
        putf(w, "%s/ads/click/%s", w->s->url, ad->id);
        put(w, "]]>");
    }
    put(w, "</ClickThrough>\n<ClickTracking id=\"kpsim\">");
    put_beacon(w, vast, ad->id, "click");
    put(w, "</ClickTracking>\n</VideoClicks>\n");
    if (ad->media != MBE_AD_MEDIA_NONE) {
        put(w, "<MediaFiles>\n");
        if (ad->creative == MBE_AD_VPAID) {
            putf(w,
                 "<MediaFile id=\"%s-vpaid\" delivery=\"progressive\" "
                 "type=\"application/javascript\""
                 " apiFramework=\"VPAID\" width=\"%d\" height=\"%d\">",
                 ad->id, AD_WIDTH, AD_HEIGHT);
            put(w, "<![CDATA[");
            putf(w, "%s/ads/media/%s.js", w->s->url, ad->id);
            put(w, "]]>");
        } else {
            const ads_item *it = state_ad(w->st, ad->id);
            long kbps = it && it->media ? it->media->mp4[0].bitrate / 1000 : 700;
            putf(w,
                 "<MediaFile id=\"%s-mp4\" delivery=\"progressive\" type=\"video/mp4\" width=\"%d\""
                 " height=\"%d\" bitrate=\"%ld\" scalable=\"true\" maintainAspectRatio=\"true\"%s>",
                 ad->id, AD_WIDTH, AD_HEIGHT, kbps,
                 ver >= 30 ? " codec=\"avc1.4d401e,mp4a.40.2\"" : "");
            put(w, "<![CDATA[");
            putf(w, "%s/ads/media/%s.mp4", w->s->url, ad->id);
            put(w, "]]>");
        }
        put(w, "</MediaFile>\n</MediaFiles>\n");
    }
    put(w, "</Linear>\n");
}

static void put_nonlinear(writer *w, int ver, const char *vast, const mbe_ad *ad)
{
    put(w, "<NonLinearAds>\n");
    static const char *const events[] = {"creativeView", "start", NULL};
    put_tracking(w, ver, vast, ad->id, events, NULL);
    putf(w, "<NonLinear id=\"%s-overlay\" width=\"480\" height=\"70\" minSuggestedDuration=\"",
         ad->id);
    put_clock(w, ad->duration, ver >= 30);
    put(w, "\">\n<StaticResource creativeType=\"image/png\"><![CDATA[");
    putf(w, "%s/ads/media/%s.png", w->s->url, ad->id);
    put(w, "]]></StaticResource>\n<NonLinearClickThrough><![CDATA[");
    putf(w, "%s/ads/click/%s", w->s->url, ad->id);
    put(w, "]]></NonLinearClickThrough>\n</NonLinear>\n</NonLinearAds>\n");
}

static void put_inline(writer *w, int ver, const char *vast, const mbe_ad *ad, size_t seq)
{
    putf(w, "<Ad id=\"%s\"", ad->id);
    if (seq)
        putf(w, " sequence=\"%zu\"", seq);
    put(w, ">\n<InLine>\n<AdSystem version=\"1.0\">kpsim</AdSystem>\n");
    if (ver < 40) {
        put(w, "<AdTitle>");
        put_escaped(w, ad->title ? ad->title : ad->id);
        put(w, "</AdTitle>\n");
    }
    put(w, "<Error>");
    put_beacon(w, vast, ad->id, "error");
    put(w, "</Error>\n<Impression id=\"kpsim\">");
    put_beacon(w, vast, ad->id, "impression");
    put(w, "</Impression>\n");
    if (ver >= 41)
        putf(w, "<AdServingId>kpsim-%s-%s</AdServingId>\n", vast, ad->id);
    if (ver >= 40) {
        put(w, "<AdTitle>");
        put_escaped(w, ad->title ? ad->title : ad->id);
        put(w, "</AdTitle>\n");
    }
    putf(w, "<Creatives>\n<Creative id=\"%s-creative\" sequence=\"1\" %s=\"%s\">\n", ad->id,
         ver >= 40 ? "adId" : "AdID", ad->id);
    if (ver == 40)
        putf(w, "<UniversalAdId idRegistry=\"kpsim\" idValue=\"%s\">%s</UniversalAdId>\n", ad->id,
             ad->id);
    else if (ver > 40)
        putf(w, "<UniversalAdId idRegistry=\"kpsim\">%s</UniversalAdId>\n", ad->id);
    if (ad->creative == MBE_AD_NONLINEAR)
        put_nonlinear(w, ver, vast, ad);
    else
        put_linear(w, ver, vast, ad);
    put(w, "</Creative>\n</Creatives>\n</InLine>\n</Ad>\n");
}

static void put_wrapper(writer *w, int ver, const mbe_vast *v)
{
    putf(w, "<Ad id=\"%s-wrapper\">\n<Wrapper%s>\n<AdSystem version=\"1.0\">kpsim</AdSystem>\n",
         v->id,
         ver >= 30 ? " followAdditionalWrappers=\"true\" allowMultipleAds=\"true\""
                     " fallbackOnNoAd=\"false\""
                   : "");
    if (ver < 40) {
        put(w, "<VASTAdTagURI><![CDATA[");
        putf(w, "%s/ads/vast/%s", w->s->url, v->wrapper);
        put(w, "]]></VASTAdTagURI>\n");
    }
    put(w, "<Error>");
    put_beacon(w, v->id, "-", "error");
    put(w, "</Error>\n<Impression id=\"kpsim\">");
    put_beacon(w, v->id, "-", "impression");
    put(w, "</Impression>\n<Creatives>\n<Creative sequence=\"1\">\n<Linear>\n");
    put_tracking(w, ver, v->id, "-", EVENTS_WRAPPER, NULL);
    put(w, "<VideoClicks>\n<ClickTracking id=\"kpsim\">");
    put_beacon(w, v->id, "-", "click");
    put(w, "</ClickTracking>\n</VideoClicks>\n</Linear>\n</Creative>\n</Creatives>\n");
    if (ver >= 40) {
        put(w, "<VASTAdTagURI><![CDATA[");
        putf(w, "%s/ads/vast/%s", w->s->url, v->wrapper);
        put(w, "]]></VASTAdTagURI>\n");
    }
    put(w, "</Wrapper>\n</Ad>\n");
}

/* The VAST element of v (no XML declaration): what a good document holds. */
static void put_vast(writer *w, const mbe_vast *v)
{
    int ver = version_code(v->version);
    if (!v->wrapper && v->n_ads == 0) {
        putf(w, "<VAST version=\"%s\"%s/>\n", v->version,
             ver >= 40 ? " xmlns=\"http://www.iab.com/VAST\"" : "");
        return;
    }
    putf(w, "<VAST version=\"%s\"%s>\n", v->version,
         ver >= 40 ? " xmlns=\"http://www.iab.com/VAST\"" : "");
    if (v->wrapper) {
        put_wrapper(w, ver, v);
    } else {
        for (size_t i = 0; i < v->n_ads; i++)
            put_inline(w, ver, v->id, find_ad(w->a, v->ads[i]), v->n_ads > 1 ? i + 1 : 0);
    }
    put(w, "</VAST>\n");
}

static const char XML_DECL[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/* Turns the good document in w->b into the broken variant asked for. */
static void break_document(writer *w, int broken, const char *what)
{
    switch (broken) {
    case MBE_VAST_MALFORMED: {
        /* an unescaped '&', an unclosed element, and no end tags after them */
        kp_buf_reset(&w->b);
        put(w, XML_DECL);
        putf(w, "<%s version=\"broken\">\n<Ad id=\"malformed\">\n<InLine>\n", what);
        put(w, "<AdSystem>kpsim</AdSystem>\n<AdTitle>Tom & Jerry <unclosed></AdTitle>\n");
        put(w, "</InLine>\n");
        break;
    }
    case MBE_VAST_TRUNCATED:
        w->b.len /= 2;
        if (w->b.data)
            w->b.data[w->b.len] = '\0';
        break;
    case MBE_VAST_NOT_VAST:
        kp_buf_reset(&w->b);
        put(w, XML_DECL);
        put(w, "<html><head><title>503 Service Unavailable</title></head>"
               "<body><p>The ad service is unavailable.</p></body></html>\n");
        break;
    case MBE_VAST_EMPTY_BODY:
        kp_buf_reset(&w->b);
        break;
    default:
        break;
    }
}

static int take_doc(writer *w, const char *id, ads_doc *out)
{
    if (w->oom)
        return KP_ENOMEM;
    out->id = kp_strdup(id);
    out->len = w->b.len;
    out->body = malloc(w->b.len + 1);
    if (!out->id || !out->body)
        return KP_ENOMEM;
    if (w->b.len)
        memcpy(out->body, w->b.data, w->b.len);
    out->body[w->b.len] = '\0';
    kp_buf_reset(&w->b);
    return KP_OK;
}

static void put_vmap(writer *w, const mbe_vmap *m)
{
    put(w, XML_DECL);
    put(w, "<vmap:VMAP xmlns:vmap=\"http://www.iab.net/videosuite/vmap\" version=\"1.0\">\n");
    for (size_t i = 0; i < m->n_breaks; i++) {
        const mbe_vmap_break *b = &m->breaks[i];
        const mbe_vast *v = find_vast(w->a, b->vast);
        put(w, "<vmap:AdBreak timeOffset=\"");
        put_escaped(w, b->time_offset);
        putf(w, "\" breakType=\"linear\" breakId=\"%s\">\n", b->id);
        putf(
            w,
            "<vmap:AdSource id=\"%s-source\" allowMultipleAds=\"true\" followRedirects=\"true\">\n",
            b->id);
        if (b->inline_vast) {
            put(w, "<vmap:VASTAdData>\n");
            put_vast(w, v);
            put(w, "</vmap:VASTAdData>\n");
        } else {
            putf(w,
                 "<vmap:AdTagURI "
                 "templateType=\"vast%c\"><![CDATA[%s/ads/vast/%s]]></vmap:AdTagURI>\n",
                 v->version[0], w->s->url, v->id);
        }
        put(w, "</vmap:AdSource>\n<vmap:TrackingEvents>\n");
        static const char *const events[] = {"breakStart", "breakEnd", "error"};
        for (size_t k = 0; k < 3; k++) {
            putf(w, "<vmap:Tracking event=\"%s\"><![CDATA[%s/ads/vmaptrack/%s/%s/%s?%s", events[k],
                 w->s->url, m->id, b->id, events[k], k == 2 ? "code=[ERRORCODE]&" : "");
            put(w, "cb=[CACHEBUSTING]&ts=[TIMESTAMP]&cp=[CONTENTPLAYHEAD]]]></vmap:Tracking>\n");
        }
        put(w, "</vmap:TrackingEvents>\n</vmap:AdBreak>\n");
    }
    put(w, "</vmap:VMAP>\n");
}

/* ---- start and stop ---------------------------------------------------------------------- */

static void free_docs(ads_doc *d, size_t n)
{
    for (size_t i = 0; d && i < n; i++) {
        free(d[i].id);
        free(d[i].body);
    }
    free(d);
}

void mbe_ads_free(mbe_server *s)
{
    struct mbe_ads_state *st = s->ads;
    if (!st)
        return;
    for (size_t i = 0; i < st->n_ads; i++)
        free(st->ads[i].id);
    free(st->ads);
    free_docs(st->vast, st->n_vast);
    free_docs(st->vmap, st->n_vmap);
    for (size_t i = 0; i < st->n_breaks; i++)
        free(st->breaks[i]);
    free(st->breaks);
    free(st);
    s->ads = NULL;
}

/* The ad's media, shared by every ad of the same duration. */
static int ad_media(mbe_server *s, const mbe_ad *ad, const mbe_media **out)
{
    mbe_rendition r;
    int rc = mbe_rendition_parse(AD_RENDITION, &r);
    if (rc != KP_OK)
        return rc;
    mbe_media_spec spec = {.duration_s = ad->duration,
                           .renditions = &r,
                           .n_renditions = 1,
                           .segment_s = MBE_MEDIA_SEGMENT_S_DEFAULT,
                           .packagings = MBE_PACKAGE_MP4};
    return mbe_media_get(s->media, &spec, out);
}

int mbe_ads_init(mbe_server *s, const mbe_ads *a)
{
    if (!a)
        return KP_OK;
    int rc = check_fixtures(s, a);
    if (rc != KP_OK)
        return rc;
    struct mbe_ads_state *st = calloc(1, sizeof(*st));
    if (!st)
        return KP_ENOMEM;
    s->ads = st;
    size_t n_breaks = 0;
    for (size_t i = 0; i < a->n_vmap; i++)
        n_breaks += a->vmap[i].n_breaks;
    st->ads = calloc(a->n_ads + 1, sizeof(*st->ads));
    st->vast = calloc(a->n_vast + 1, sizeof(*st->vast));
    st->vmap = calloc(a->n_vmap + 1, sizeof(*st->vmap));
    st->breaks = calloc(n_breaks + 1, sizeof(*st->breaks));
    if (!st->ads || !st->vast || !st->vmap || !st->breaks)
        return KP_ENOMEM;
    for (size_t i = 0; i < a->n_ads; i++) {
        const mbe_ad *ad = &a->ads[i];
        st->ads[i].id = kp_strdup(ad->id);
        st->n_ads = i + 1;
        if (!st->ads[i].id)
            return KP_ENOMEM;
        if (ad->creative != MBE_AD_NONLINEAR && ad->creative != MBE_AD_VPAID &&
            ad->media == MBE_AD_MEDIA_SERVED) {
            rc = ad_media(s, ad, &st->ads[i].media);
            if (rc != KP_OK) {
                KP_LOG_E(s->log, "mbe-ads", "ad '%s': no media (%s)", ad->id, kp_strerror(rc));
                return rc;
            }
        }
    }
    writer w = {.s = s, .a = a, .st = st};
    kp_buf_init(&w.b);
    for (size_t i = 0; rc == KP_OK && i < a->n_vast; i++) {
        put(&w, XML_DECL);
        put_vast(&w, &a->vast[i]);
        break_document(&w, a->vast[i].broken, "VAST");
        rc = take_doc(&w, a->vast[i].id, &st->vast[i]);
        st->n_vast = i + 1;
    }
    for (size_t i = 0; rc == KP_OK && i < a->n_vmap; i++) {
        const mbe_vmap *m = &a->vmap[i];
        if (m->broken == MBE_VAST_NOT_VAST && a->n_vast) {
            /* a VAST where a VMAP was asked for */
            put(&w, XML_DECL);
            put_vast(&w, &a->vast[0]);
        } else {
            put_vmap(&w, m);
            if (m->broken != MBE_VAST_NOT_VAST)
                break_document(&w, m->broken, "vmap:VMAP");
            else
                break_document(&w, MBE_VAST_NOT_VAST, "vmap:VMAP");
        }
        rc = take_doc(&w, m->id, &st->vmap[i]);
        st->n_vmap = i + 1;
        for (size_t k = 0; rc == KP_OK && k < m->n_breaks; k++) {
            char *key = kp_asprintf("%s/%s", m->id, m->breaks[k].id);
            if (!key)
                rc = KP_ENOMEM;
            else
                st->breaks[st->n_breaks++] = key;
        }
    }
    kp_buf_free(&w.b);
    if (rc == KP_OK)
        KP_LOG_I(s->log, "mbe-ads", "ad server at %s/ads (%zu ads, %zu VAST, %zu VMAP)", s->url,
                 a->n_ads, a->n_vast, a->n_vmap);
    return rc;
}

/* ---- serving ---------------------------------------------------------------------------- */

/* A transparent 1x1 GIF, the usual answer to a tracking pixel. */
static const uint8_t PIXEL_GIF[] = {
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00,
    0x00, 0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b};

static void reply_text(mbe_reply *r, int status, const char *type, char *text)
{
    r->status = status;
    r->content_type = type;
    r->body = text;
    r->len = text ? strlen(text) : 0;
    r->persistent = false;
}

static void not_found(mbe_reply *r, const char *what, const char *id)
{
    reply_text(r, 404, "text/plain", kp_asprintf("404 Not Found: no %s '%s'\n", what, id));
}

static void persistent(mbe_reply *r, const char *type, const void *data, size_t len)
{
    r->status = 200;
    r->content_type = type;
    r->body = (char *)data;
    r->len = len;
    r->persistent = true;
}

static const ads_doc *find_doc(const ads_doc *d, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(d[i].id, id) == 0)
            return &d[i];
    return NULL;
}

static void set_str(json_t *rec, const char *key, const char *value)
{
    json_object_set_new(rec, key, json_string(value));
}

/* The macro values the player filled in (query parameters) into the record. */
static void record_macros(json_t *rec)
{
    json_t *q = json_object_get(rec, "query");
    static const char *const names[][2] = {{"cb", "cachebusting"},
                                           {"ts", "timestamp"},
                                           {"cp", "contentplayhead"},
                                           {"ap", "adplayhead"}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *v = json_string_value(json_object_get(q, names[i][0]));
        if (v)
            set_str(rec, names[i][1], v);
    }
    const char *code = json_string_value(json_object_get(q, "code"));
    if (code) {
        char *end = NULL;
        long long n = strtoll(code, &end, 10);
        bool number = *code && end && !*end && strlen(code) < 10;
        json_object_set_new(rec, "errorcode", number ? json_integer(n) : json_string(code));
    }
}

static const char *beacon_kind(const char *event)
{
    if (strcmp(event, "impression") == 0)
        return "impression";
    if (strcmp(event, "error") == 0)
        return "error";
    if (strcmp(event, "click") == 0)
        return "click";
    return "tracking";
}

static void beacon(mbe_reply *r)
{
    persistent(r, "image/gif", PIXEL_GIF, sizeof(PIXEL_GIF));
}

static void serve_track(const struct mbe_ads_state *st, char **p, size_t n, mbe_reply *r,
                        json_t *rec)
{
    /* track/<vast>/<ad|->/<event> */
    if (n != 4) {
        set_str(rec, "kind", "unknown");
        reply_text(r, 404, "text/plain", kp_strdup("404 Not Found: unknown beacon path\n"));
        return;
    }
    const char *event = p[3];
    const char *kind = beacon_kind(event);
    set_str(rec, "kind", kind);
    set_str(rec, "vast", p[1]);
    if (strcmp(p[2], "-") == 0)
        json_object_set_new(rec, "wrapper", json_true());
    else
        set_str(rec, "ad", p[2]);
    set_str(rec, "event", strcmp(kind, "click") == 0 ? "clicktracking" : event);
    record_macros(rec);
    if (!find_doc(st->vast, st->n_vast, p[1]))
        not_found(r, "VAST document", p[1]);
    else if (strcmp(p[2], "-") != 0 && !state_ad(st, p[2]))
        not_found(r, "ad", p[2]);
    else
        beacon(r);
}

static void serve_vmap_track(const struct mbe_ads_state *st, char **p, size_t n, mbe_reply *r,
                             json_t *rec)
{
    /* vmaptrack/<vmap>/<break>/<event> */
    if (n != 4) {
        set_str(rec, "kind", "unknown");
        reply_text(r, 404, "text/plain", kp_strdup("404 Not Found: unknown beacon path\n"));
        return;
    }
    set_str(rec, "kind", strcmp(p[3], "error") == 0 ? "error" : "tracking");
    set_str(rec, "vmap", p[1]);
    set_str(rec, "break", p[2]);
    set_str(rec, "event", p[3]);
    record_macros(rec);
    bool known = false;
    size_t l1 = strlen(p[1]);
    for (size_t i = 0; i < st->n_breaks && !known; i++)
        known = strncmp(st->breaks[i], p[1], l1) == 0 && st->breaks[i][l1] == '/' &&
                strcmp(st->breaks[i] + l1 + 1, p[2]) == 0;
    if (!known)
        not_found(r, "VMAP break", p[2]);
    else
        beacon(r);
}

static void serve_media(const struct mbe_ads_state *st, const char *name, mbe_reply *r, json_t *rec)
{
    set_str(rec, "kind", "media");
    size_t len = strlen(name);
    char id[256];
    if (len > 4 && len - 4 < sizeof(id) && strcmp(name + len - 4, ".mp4") == 0) {
        memcpy(id, name, len - 4);
        id[len - 4] = '\0';
    } else {
        snprintf(id, sizeof(id), "%s", name);
    }
    set_str(rec, "ad", id);
    const ads_item *it = state_ad(st, id);
    if (!it || !it->media || strcmp(name + (len > 4 ? len - 4 : 0), ".mp4") != 0) {
        not_found(r, "ad media", name);
        return;
    }
    const mbe_mp4_file *f = &it->media->mp4[0];
    persistent(r, "video/mp4", f->data, f->size);
    r->accept_ranges = true;
}

void mbe_ads_get(mbe_server *s, const char *path, mbe_reply *r, json_t *rec)
{
    static const struct mbe_ads_state none = {0};
    const struct mbe_ads_state *st = s->ads ? s->ads : &none;
    /* the segments after "/ads/" */
    char *copy = kp_strdup(path + 5);
    char *parts[6];
    size_t n = 0;
    char *save = NULL;
    for (char *t = copy ? strtok_r(copy, "/", &save) : NULL; t && n < 6;
         t = strtok_r(NULL, "/", &save))
        parts[n++] = t;
    if (!copy) {
        reply_text(r, 500, "text/plain", kp_strdup("500 out of memory\n"));
    } else if (n == 2 && strcmp(parts[0], "vast") == 0) {
        set_str(rec, "kind", "vast");
        set_str(rec, "vast", parts[1]);
        const ads_doc *d = find_doc(st->vast, st->n_vast, parts[1]);
        if (d)
            persistent(r, "application/xml", d->body, d->len);
        else
            not_found(r, "VAST document", parts[1]);
    } else if (n == 2 && strcmp(parts[0], "vmap") == 0) {
        set_str(rec, "kind", "vmap");
        set_str(rec, "vmap", parts[1]);
        const ads_doc *d = find_doc(st->vmap, st->n_vmap, parts[1]);
        if (d)
            persistent(r, "application/xml", d->body, d->len);
        else
            not_found(r, "VMAP document", parts[1]);
    } else if (n == 2 && strcmp(parts[0], "media") == 0) {
        serve_media(st, parts[1], r, rec);
    } else if (n >= 1 && strcmp(parts[0], "track") == 0) {
        serve_track(st, parts, n, r, rec);
    } else if (n >= 1 && strcmp(parts[0], "vmaptrack") == 0) {
        serve_vmap_track(st, parts, n, r, rec);
    } else if (n == 2 && strcmp(parts[0], "click") == 0) {
        set_str(rec, "kind", "click");
        set_str(rec, "event", "clickthrough");
        set_str(rec, "ad", parts[1]);
        if (state_ad(st, parts[1]))
            reply_text(r, 200, "text/html",
                       kp_asprintf("<!DOCTYPE html><html><head><title>Advertiser</title></head>"
                                   "<body><p>Landing page of ad %s</p></body></html>\n",
                                   parts[1]));
        else
            not_found(r, "ad", parts[1]);
    } else {
        set_str(rec, "kind", "unknown");
        reply_text(r, 404, "text/plain", kp_strdup("404 Not Found: unknown ads path\n"));
    }
    free(copy);
    if (r->range && r->status == 200 && r->accept_ranges && r->persistent)
        mbe_reply_range(r, rec);
}
