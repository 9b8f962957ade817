/* test_mock_ads.c: the mock ad server (mbe/mbe.h, /ads/) over real HTTP on 127.0.0.1: every
 * document kind parsed with libxml2 and its structure asserted per VAST version (Ad count,
 * sequence, skipoffset, UniversalAdId, AdServingId, the namespace, macros left in place),
 * wrapper chains and a loop, the empty VAST, each deliberately bad document, a VMAP with the
 * four kinds of timeOffset, inline VASTAdData and break tracking; the ad media played by
 * libavformat over loopback (duration) and read with byte ranges; beacons journaled with
 * server "ads", kind, ids, event and the substituted macro values; unknown ids answered 404
 * and journaled; bad fixtures refused; the same fixtures giving the same bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http_client.h"
#include "kp/buf.h"
#include "kp/err.h"
#include "mbe/mbe.h"
#include "mock_server.h"

#include <curl/curl.h>
#include <libavformat/avformat.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- fixtures ---------------------------------------------------------------------------- */

static const mbe_ad ADS[] = {
    {.id = "spot4", .title = "Spot & four", .duration = 4, .skipoffset = 2, .skip_pct = -1},
    {.id = "spot6", .duration = 6, .skipoffset = -1, .skip_pct = 25},
    {.id = "gone", .duration = 4, .skipoffset = -1, .skip_pct = -1, .media = MBE_AD_MEDIA_MISSING},
    {.id = "bare", .duration = 4, .skipoffset = -1, .skip_pct = -1, .media = MBE_AD_MEDIA_NONE},
    {.id = "vpaid", .duration = 4, .skipoffset = -1, .skip_pct = -1, .creative = MBE_AD_VPAID},
    {.id = "overlay",
     .duration = 4,
     .skipoffset = -1,
     .skip_pct = -1,
     .creative = MBE_AD_NONLINEAR},
    {.id = "clicky",
     .duration = 4,
     .skipoffset = -1,
     .skip_pct = -1,
     .click_through = "https://advertiser.example/landing?x=1&y=2"},
};
static const char *const ONE[] = {"spot4"};
static const char *const POD[] = {"spot4", "spot6", "clicky"};
static const char *const GONE[] = {"gone"};
static const char *const BARE[] = {"bare"};
static const char *const VPAID[] = {"vpaid"};
static const char *const OVERLAY[] = {"overlay"};
static const char *const SPOT6[] = {"spot6"};

static const mbe_vast VAST[] = {
    {.id = "v20", .version = "2.0", .ads = ONE, .n_ads = 1},
    {.id = "v30", .version = "3.0", .ads = ONE, .n_ads = 1},
    {.id = "v40", .version = "4.0", .ads = ONE, .n_ads = 1},
    {.id = "v41", .version = "4.1", .ads = ONE, .n_ads = 1},
    {.id = "v42", .version = "4.2", .ads = ONE, .n_ads = 1},
    {.id = "pct", .version = "3.0", .ads = SPOT6, .n_ads = 1},
    {.id = "pod", .version = "4.2", .ads = POD, .n_ads = 3},
    {.id = "empty", .version = "3.0"},
    {.id = "w1", .version = "4.2", .wrapper = "w2"},
    {.id = "w2", .version = "3.0", .wrapper = "v30"},
    {.id = "loopa", .version = "3.0", .wrapper = "loopb"},
    {.id = "loopb", .version = "3.0", .wrapper = "loopa"},
    {.id = "malformed", .version = "3.0", .ads = ONE, .n_ads = 1, .broken = MBE_VAST_MALFORMED},
    {.id = "truncated", .version = "3.0", .ads = ONE, .n_ads = 1, .broken = MBE_VAST_TRUNCATED},
    {.id = "notvast", .version = "3.0", .ads = ONE, .n_ads = 1, .broken = MBE_VAST_NOT_VAST},
    {.id = "nobody", .version = "3.0", .ads = ONE, .n_ads = 1, .broken = MBE_VAST_EMPTY_BODY},
    {.id = "gone", .version = "3.0", .ads = GONE, .n_ads = 1},
    {.id = "bare", .version = "3.0", .ads = BARE, .n_ads = 1},
    {.id = "vpaid", .version = "3.0", .ads = VPAID, .n_ads = 1},
    {.id = "overlay", .version = "3.0", .ads = OVERLAY, .n_ads = 1},
};

static const mbe_vmap_break BREAKS[] = {
    {.id = "pre", .time_offset = "start", .vast = "v30"},
    {.id = "mid1", .time_offset = "00:00:02.500", .vast = "pod", .inline_vast = 1},
    {.id = "mid2", .time_offset = "50%", .vast = "v42"},
    {.id = "post", .time_offset = "end", .vast = "empty"},
};
static const mbe_vmap VMAP[] = {
    {.id = "all", .breaks = BREAKS, .n_breaks = 4},
    {.id = "badmap", .breaks = BREAKS, .n_breaks = 1, .broken = MBE_VAST_TRUNCATED},
};

static const mbe_ads FIXTURES = {.ads = ADS,
                                 .n_ads = sizeof(ADS) / sizeof(ADS[0]),
                                 .vast = VAST,
                                 .n_vast = sizeof(VAST) / sizeof(VAST[0]),
                                 .vmap = VMAP,
                                 .n_vmap = sizeof(VMAP) / sizeof(VMAP[0])};

static const int progressive[] = {MBE_FORMAT_PROGRESSIVE};
static const char *const low[] = {"144p"};

static mbe_config config(const mbe_ads *ads)
{
    static const mbe_entry entry = {.id = "0_ads00001",
                                    .duration = 2,
                                    .formats = progressive,
                                    .n_formats = 1,
                                    .renditions = low,
                                    .n_renditions = 1};
    return (mbe_config){.partner_id = 4242, .entries = &entry, .n_entries = 1, .ads = ads};
}

typedef struct fixture {
    test_mock mock;
    const char *url;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    mbe_config cfg = config(&FIXTURES);
    test_mock_start(&f->mock, &cfg);
    f->url = mbe_server_url(f->mock.srv);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    test_mock_stop(&f->mock);
    free(f);
    return 0;
}

/* ---- helpers ----------------------------------------------------------------------------- */

static void get(fixture *f, const char *path, long want, test_reply *r)
{
    char url[512];
    snprintf(url, sizeof(url), "%s%s", f->url, path);
    test_http("GET", url, NULL, NULL, NULL, r);
    if (r->status != want)
        fail_msg("GET %s: %ld, want %ld (%s)", path, r->status, want,
                 r->body.data ? r->body.data : "");
}

static char *header(const test_reply *r, const char *name)
{
    size_t n = strlen(name);
    const char *p = r->headers.data;
    while (p && *p) {
        const char *eol = strstr(p, "\r\n");
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > n && p[n] == ':' && strncasecmp(p, name, n) == 0) {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            return kp_strndup(v, (size_t)(p + len - v));
        }
        p = eol ? eol + 2 : p + len;
    }
    return NULL;
}

static void assert_header(const test_reply *r, const char *name, const char *want)
{
    char *v = header(r, name);
    if (!v)
        fail_msg("no %s header", name);
    if (strcmp(v, want) != 0)
        fail_msg("%s: '%s', want '%s'", name, v, want);
    free(v);
}

/* Fetches and parses a document (which must be well-formed). */
static xmlDocPtr fetch_xml(fixture *f, const char *path)
{
    test_reply r;
    get(f, path, 200, &r);
    assert_header(&r, "Content-Type", "application/xml");
    xmlDocPtr d = xmlReadMemory(r.body.data, (int)r.body.len, path, NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!d)
        fail_msg("%s does not parse:\n%s", path, r.body.data);
    test_reply_free(&r);
    return d;
}

static bool named(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

/* How many elements named `name` are under n (n included). */
static size_t count_el(const xmlNode *n, const char *name)
{
    size_t k = 0;
    for (; n; n = n->next) {
        if (named(n, name))
            k++;
        k += count_el(n->children, name);
    }
    return k;
}

/* The first element named `name` under n (depth first), or NULL. */
static xmlNode *find_el(xmlNode *n, const char *name)
{
    for (; n; n = n->next) {
        if (named(n, name))
            return n;
        xmlNode *c = find_el(n->children, name);
        if (c)
            return c;
    }
    return NULL;
}

/* The first child element of n named `name`, or NULL. */
static xmlNode *child_el(xmlNode *n, const char *name)
{
    for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
        if (named(c, name))
            return c;
    return NULL;
}

static char *attr(xmlNode *n, const char *name)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
    char *out = v ? kp_strdup((const char *)v) : NULL;
    xmlFree(v);
    return out;
}

static void assert_attr(xmlNode *n, const char *name, const char *want)
{
    assert_non_null(n);
    char *v = attr(n, name);
    if (!want) {
        if (v)
            fail_msg("<%s> has %s=\"%s\"", (const char *)n->name, name, v);
        return;
    }
    if (!v || strcmp(v, want) != 0)
        fail_msg("<%s %s=\"%s\">, want \"%s\"", (const char *)n->name, name, v ? v : "(none)",
                 want);
    free(v);
}

/* The element's text, trimmed (malloc'd). */
static char *text(xmlNode *n)
{
    assert_non_null(n);
    xmlChar *c = xmlNodeGetContent(n);
    const char *s = (const char *)c;
    while (*s == ' ' || *s == '\n')
        s++;
    size_t len = strlen(s);
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\n'))
        len--;
    char *out = kp_strndup(s, len);
    xmlFree(c);
    return out;
}

static void assert_text_has(xmlNode *n, const char *needle)
{
    char *t = text(n);
    if (!strstr(t, needle))
        fail_msg("<%s>%s</%s> lacks '%s'", (const char *)n->name, t, (const char *)n->name, needle);
    free(t);
}

static size_t count(fixture *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    json_t *m = json_vpack_ex(NULL, 0, fmt, ap);
    va_end(ap);
    assert_non_null(m);
    size_t n = mbe_server_count(f->mock.srv, "ads", m);
    json_decref(m);
    return n;
}

/* ---- VAST -------------------------------------------------------------------------------- */

/* The parts every InLine linear ad has, whatever the version. */
static void assert_inline_linear(fixture *f, xmlNode *ad, const char *vast, const char *id)
{
    assert_attr(ad, "id", id);
    xmlNode *in = find_el(ad->children, "InLine");
    assert_non_null(in);
    assert_text_has(find_el(in->children, "AdSystem"), "kpsim");
    assert_non_null(find_el(in->children, "AdTitle"));
    char want[256];
    snprintf(want, sizeof(want), "%s/ads/track/%s/%s/error?code=[ERRORCODE]&cb=[CACHEBUSTING]",
             f->url, vast, id);
    assert_text_has(find_el(in->children, "Error"), want);
    snprintf(want, sizeof(want), "/ads/track/%s/%s/impression?cb=[CACHEBUSTING]&ts=[TIMESTAMP]",
             vast, id);
    assert_text_has(find_el(in->children, "Impression"), want);
    xmlNode *lin = find_el(in->children, "Linear");
    assert_non_null(lin);
    assert_non_null(find_el(lin->children, "Duration"));
    static const char *const required[] = {"start",         "firstQuartile", "midpoint",
                                           "thirdQuartile", "complete",      "pause",
                                           "resume",        "mute",          "unmute"};
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        bool found = false;
        for (xmlNode *t = find_el(lin->children, "TrackingEvents")->children; t; t = t->next) {
            char *ev = named(t, "Tracking") ? attr(t, "event") : NULL;
            if (ev && strcmp(ev, required[i]) == 0) {
                found = true;
                snprintf(want, sizeof(want), "/ads/track/%s/%s/%s?cb=[CACHEBUSTING]", vast, id, ev);
                assert_text_has(t, want);
                assert_text_has(t, "[CONTENTPLAYHEAD]");
                assert_text_has(t, "[ADPLAYHEAD]");
            }
            free(ev);
        }
        if (!found)
            fail_msg("%s/%s: no %s tracking", vast, id, required[i]);
    }
    assert_non_null(find_el(lin->children, "ClickThrough"));
    snprintf(want, sizeof(want), "/ads/track/%s/%s/click?", vast, id);
    assert_text_has(find_el(lin->children, "ClickTracking"), want);
    xmlNode *mf = find_el(lin->children, "MediaFile");
    assert_attr(mf, "delivery", "progressive");
    assert_attr(mf, "type", "video/mp4");
    assert_attr(mf, "width", "640");
    assert_attr(mf, "height", "360");
    snprintf(want, sizeof(want), "%s/ads/media/%s.mp4", f->url, id);
    char *t = text(mf);
    assert_string_equal(t, want);
    free(t);
}

static void test_vast_versions(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *id, *version;
    } docs[] = {{"v20", "2.0"}, {"v30", "3.0"}, {"v40", "4.0"}, {"v41", "4.1"}, {"v42", "4.2"}};
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        char path[64];
        snprintf(path, sizeof(path), "/ads/vast/%s", docs[i].id);
        xmlDocPtr d = fetch_xml(f, path);
        xmlNode *root = xmlDocGetRootElement(d);
        assert_true(named(root, "VAST"));
        assert_attr(root, "version", docs[i].version);
        int major = docs[i].version[0] - '0', minor = docs[i].version[2] - '0';
        /* VAST 4 documents are in the VAST namespace, earlier ones in none */
        if (major >= 4)
            assert_string_equal((const char *)root->ns->href, "http://www.iab.com/VAST");
        else
            assert_null(root->ns);
        assert_int_equal(count_el(root, "Ad"), 1);
        xmlNode *ad = find_el(root->children, "Ad");
        assert_attr(ad, "sequence", NULL); /* a single ad is not a pod */
        assert_inline_linear(f, ad, docs[i].id, "spot4");
        xmlNode *lin = find_el(ad->children, "Linear");
        char *dur = text(find_el(lin->children, "Duration"));
        assert_string_equal(dur, "00:00:04");
        free(dur);
        /* skipoffset and skip tracking exist from VAST 3.0 on */
        assert_attr(lin, "skipoffset", major >= 3 ? "00:00:02" : NULL);
        size_t skips = 0, progress = 0;
        for (xmlNode *t = find_el(lin->children, "TrackingEvents")->children; t; t = t->next) {
            char *ev = named(t, "Tracking") ? attr(t, "event") : NULL;
            skips += ev && strcmp(ev, "skip") == 0;
            progress += ev && strcmp(ev, "progress") == 0;
            free(ev);
        }
        assert_int_equal(skips, major >= 3 ? 1 : 0);
        assert_int_equal(progress, major >= 3 ? 1 : 0);
        /* the title is escaped (the fixture's holds a '&') */
        char *title = text(find_el(ad->children, "AdTitle"));
        assert_string_equal(title, "Spot & four");
        free(title);
        /* 4.x: UniversalAdId (4.0 with idValue, 4.1+ the id as content), 4.1+: AdServingId */
        xmlNode *uid = find_el(ad->children, "UniversalAdId");
        xmlNode *creative = find_el(ad->children, "Creative");
        if (major >= 4) {
            assert_attr(uid, "idRegistry", "kpsim");
            assert_attr(uid, "idValue", minor == 0 ? "spot4" : NULL);
            assert_text_has(uid, "spot4");
            assert_attr(creative, "adId", "spot4");
        } else {
            assert_null(uid);
            assert_attr(creative, "AdID", "spot4");
        }
        xmlNode *serving = find_el(ad->children, "AdServingId");
        if (major == 4 && minor >= 1)
            assert_text_has(serving, "kpsim-");
        else
            assert_null(serving);
        xmlFreeDoc(d);
    }
    /* a skipoffset given as a percentage */
    xmlDocPtr d = fetch_xml(f, "/ads/vast/pct");
    assert_attr(find_el(xmlDocGetRootElement(d), "Linear"), "skipoffset", "25%");
    xmlFreeDoc(d);
    assert_int_equal(count(f, "{s:s, s:s, s:i}", "kind", "vast", "vast", "v42", "status", 200), 1);
}

static void test_pod_and_empty(void **state)
{
    fixture *f = *state;
    xmlDocPtr d = fetch_xml(f, "/ads/vast/pod");
    xmlNode *root = xmlDocGetRootElement(d);
    assert_int_equal(count_el(root, "Ad"), 3);
    static const char *const ids[] = {"spot4", "spot6", "clicky"};
    size_t k = 0;
    for (xmlNode *ad = root->children; ad; ad = ad->next) {
        if (!named(ad, "Ad"))
            continue;
        char seq[8];
        snprintf(seq, sizeof(seq), "%zu", k + 1);
        assert_attr(ad, "sequence", seq);
        assert_inline_linear(f, ad, "pod", ids[k]);
        k++;
    }
    assert_int_equal(k, 3);
    /* a click-through given by the fixture is kept, escaped by CDATA */
    xmlNode *third = NULL;
    for (xmlNode *ad = root->children; ad; ad = ad->next)
        if (named(ad, "Ad"))
            third = ad;
    char *ct = text(find_el(third->children, "ClickThrough"));
    assert_string_equal(ct, "https://advertiser.example/landing?x=1&y=2");
    free(ct);
    xmlFreeDoc(d);

    d = fetch_xml(f, "/ads/vast/empty");
    root = xmlDocGetRootElement(d);
    assert_true(named(root, "VAST"));
    assert_attr(root, "version", "3.0");
    assert_null(root->children);
    xmlFreeDoc(d);
}

static void test_wrappers(void **state)
{
    fixture *f = *state;
    /* w1 (4.2) -> w2 (3.0) -> v30: follow the chain by the documents' own URLs */
    const char *path = "/ads/vast/w1";
    const char *const chain[] = {"w1", "w2"};
    char next[256];
    for (size_t i = 0; i < 2; i++) {
        xmlDocPtr d = fetch_xml(f, path);
        xmlNode *root = xmlDocGetRootElement(d);
        assert_int_equal(count_el(root, "Ad"), 1);
        assert_int_equal(count_el(root, "InLine"), 0);
        xmlNode *w = find_el(root, "Wrapper");
        assert_non_null(w);
        assert_text_has(find_el(w->children, "AdSystem"), "kpsim");
        char want[128];
        snprintf(want, sizeof(want), "/ads/track/%s/-/impression?", chain[i]);
        assert_text_has(find_el(w->children, "Impression"), want);
        snprintf(want, sizeof(want), "/ads/track/%s/-/error?code=[ERRORCODE]", chain[i]);
        assert_text_has(find_el(w->children, "Error"), want);
        assert_int_equal(count_el(w, "MediaFiles"), 0);
        assert_int_equal(count_el(w, "Tracking"), 5);
        char *uri = text(find_el(w->children, "VASTAdTagURI"));
        assert_true(strncmp(uri, f->url, strlen(f->url)) == 0);
        snprintf(next, sizeof(next), "%s", uri + strlen(f->url));
        free(uri);
        path = next;
        xmlFreeDoc(d);
    }
    assert_string_equal(path, "/ads/vast/v30");
    xmlDocPtr d = fetch_xml(f, path);
    assert_int_equal(count_el(xmlDocGetRootElement(d), "InLine"), 1);
    xmlFreeDoc(d);

    /* the loop: loopa -> loopb -> loopa */
    d = fetch_xml(f, "/ads/vast/loopa");
    assert_text_has(find_el(xmlDocGetRootElement(d), "VASTAdTagURI"), "/ads/vast/loopb");
    xmlFreeDoc(d);
    d = fetch_xml(f, "/ads/vast/loopb");
    assert_text_has(find_el(xmlDocGetRootElement(d), "VASTAdTagURI"), "/ads/vast/loopa");
    xmlFreeDoc(d);
}

static void test_bad_documents(void **state)
{
    fixture *f = *state;
    static const char *const unparsable[] = {"/ads/vast/malformed", "/ads/vast/truncated",
                                             "/ads/vmap/badmap"};
    for (size_t i = 0; i < 3; i++) {
        test_reply r;
        get(f, unparsable[i], 200, &r);
        assert_true(r.body.len > 0);
        xmlDocPtr d = xmlReadMemory(r.body.data, (int)r.body.len, unparsable[i], NULL,
                                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (d)
            fail_msg("%s parses:\n%s", unparsable[i], r.body.data);
        test_reply_free(&r);
    }
    /* well-formed, but not VAST */
    xmlDocPtr d = fetch_xml(f, "/ads/vast/notvast");
    assert_true(named(xmlDocGetRootElement(d), "html"));
    xmlFreeDoc(d);
    test_reply r;
    get(f, "/ads/vast/nobody", 200, &r);
    assert_int_equal(r.body.len, 0);
    test_reply_free(&r);

    /* no MediaFiles at all; media listed but 404; only a VPAID file; a NonLinear only */
    d = fetch_xml(f, "/ads/vast/bare");
    assert_int_equal(count_el(xmlDocGetRootElement(d), "Linear"), 1);
    assert_int_equal(count_el(xmlDocGetRootElement(d), "MediaFiles"), 0);
    xmlFreeDoc(d);
    d = fetch_xml(f, "/ads/vast/gone");
    char *u = text(find_el(xmlDocGetRootElement(d), "MediaFile"));
    assert_string_equal(u + strlen(f->url), "/ads/media/gone.mp4");
    free(u);
    xmlFreeDoc(d);
    get(f, "/ads/media/gone.mp4", 404, &r);
    test_reply_free(&r);
    d = fetch_xml(f, "/ads/vast/vpaid");
    assert_int_equal(count_el(xmlDocGetRootElement(d), "MediaFile"), 1);
    xmlNode *mf = find_el(xmlDocGetRootElement(d), "MediaFile");
    assert_attr(mf, "type", "application/javascript");
    assert_attr(mf, "apiFramework", "VPAID");
    xmlFreeDoc(d);
    d = fetch_xml(f, "/ads/vast/overlay");
    assert_int_equal(count_el(xmlDocGetRootElement(d), "Linear"), 0);
    assert_int_equal(count_el(xmlDocGetRootElement(d), "NonLinear"), 1);
    assert_int_equal(count_el(xmlDocGetRootElement(d), "StaticResource"), 1);
    xmlFreeDoc(d);
}

/* ---- VMAP -------------------------------------------------------------------------------- */

static void test_vmap(void **state)
{
    fixture *f = *state;
    xmlDocPtr d = fetch_xml(f, "/ads/vmap/all");
    xmlNode *root = xmlDocGetRootElement(d);
    assert_true(named(root, "VMAP"));
    assert_string_equal((const char *)root->ns->href, "http://www.iab.net/videosuite/vmap");
    assert_attr(root, "version", "1.0");
    assert_int_equal(count_el(root, "AdBreak"), 4);
    static const char *const offsets[] = {"start", "00:00:02.500", "50%", "end"};
    static const char *const ids[] = {"pre", "mid1", "mid2", "post"};
    size_t k = 0;
    for (xmlNode *b = root->children; b; b = b->next) {
        if (!named(b, "AdBreak"))
            continue;
        assert_attr(b, "timeOffset", offsets[k]);
        assert_attr(b, "breakType", "linear");
        assert_attr(b, "breakId", ids[k]);
        xmlNode *src = find_el(b->children, "AdSource");
        assert_non_null(src);
        if (k == 1) {
            /* inline: the pod's VAST inside VASTAdData */
            xmlNode *data = find_el(src->children, "VASTAdData");
            assert_non_null(data);
            xmlNode *vast = find_el(data->children, "VAST");
            assert_attr(vast, "version", "4.2");
            assert_int_equal(count_el(vast, "Ad"), 3);
            assert_null(find_el(src->children, "AdTagURI"));
        } else {
            xmlNode *tag = find_el(src->children, "AdTagURI");
            assert_non_null(tag);
            assert_attr(tag, "templateType", k == 2 ? "vast4" : "vast3");
            assert_text_has(tag, k == 0   ? "/ads/vast/v30"
                                 : k == 2 ? "/ads/vast/v42"
                                          : "/ads/vast/empty");
        }
        xmlNode *te = child_el(b, "TrackingEvents");
        assert_int_equal(count_el(te->children, "Tracking"), 3);
        char want[128];
        snprintf(want, sizeof(want), "/ads/vmaptrack/all/%s/error?code=[ERRORCODE]", ids[k]);
        bool error_seen = false;
        for (xmlNode *t = te->children; t; t = t->next) {
            char *ev = named(t, "Tracking") ? attr(t, "event") : NULL;
            if (ev && strcmp(ev, "error") == 0) {
                assert_text_has(t, want);
                error_seen = true;
            }
            free(ev);
        }
        assert_true(error_seen);
        k++;
    }
    xmlFreeDoc(d);
    /* a VMAP break beacon */
    test_reply r;
    get(f, "/ads/vmaptrack/all/mid2/breakStart?cb=7&ts=2026-01-01T00%3A00%3A00Z&cp=00:00:05.000",
        200, &r);
    test_reply_free(&r);
    assert_int_equal(count(f, "{s:s, s:s, s:s, s:s, s:s, s:s}", "kind", "tracking", "vmap", "all",
                           "break", "mid2", "event", "breakStart", "contentplayhead",
                           "00:00:05.000", "timestamp", "2026-01-01T00:00:00Z"),
                     1);
    get(f, "/ads/vmaptrack/all/nobreak/breakStart", 404, &r);
    test_reply_free(&r);
}

/* ---- media ------------------------------------------------------------------------------- */

static void test_media_plays(void **state)
{
    fixture *f = *state;
    test_reply r;
    get(f, "/ads/media/spot6.mp4", 200, &r);
    assert_header(&r, "Content-Type", "video/mp4");
    assert_header(&r, "Accept-Ranges", "bytes");
    size_t size = r.body.len;
    assert_true(size > 1000);
    assert_memory_equal(r.body.data + 4, "ftyp", 4);
    test_reply_free(&r);

    /* a range: 206 with Content-Range, the bytes of the full answer */
    char url[256];
    snprintf(url, sizeof(url), "%s/ads/media/spot6.mp4", f->url);
    test_http("GET", url, NULL, NULL, "Range: bytes=4-11", &r);
    assert_int_equal(r.status, 206);
    char want[64];
    snprintf(want, sizeof(want), "bytes 4-11/%zu", size);
    assert_header(&r, "Content-Range", want);
    assert_int_equal(r.body.len, 8);
    assert_memory_equal(r.body.data, "ftyp", 4);
    test_reply_free(&r);
    assert_int_equal(count(f, "{s:s, s:s, s:i, s:s}", "kind", "media", "ad", "spot6", "status", 206,
                           "range", "bytes=4-11"),
                     1);

    /* libavformat plays it over loopback: 6 s of H.264 and AAC */
    AVFormatContext *fc = NULL;
    int ret = avformat_open_input(&fc, url, NULL, NULL);
    if (ret < 0)
        fail_msg("avformat_open_input(%s): %s", url, av_err2str(ret));
    assert_true(avformat_find_stream_info(fc, NULL) >= 0);
    assert_int_equal(fc->nb_streams, 2);
    assert_int_equal(fc->streams[0]->codecpar->codec_id, AV_CODEC_ID_H264);
    assert_int_equal(fc->streams[0]->codecpar->height, 360);
    assert_int_equal(fc->streams[1]->codecpar->codec_id, AV_CODEC_ID_AAC);
    assert_true(fc->duration >= 6 * AV_TIME_BASE &&
                fc->duration < 6 * AV_TIME_BASE + AV_TIME_BASE / 20);
    int video = 0;
    AVPacket *pkt = av_packet_alloc();
    while (av_read_frame(fc, pkt) >= 0) {
        video += pkt->stream_index == 0;
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    avformat_close_input(&fc);
    assert_int_equal(video, 6 * 25);

    /* ads of the same duration share one encode; other ads have none to serve */
    get(f, "/ads/media/spot4.mp4", 200, &r);
    assert_true(r.body.len > 1000 && r.body.len < size);
    test_reply_free(&r);
    get(f, "/ads/media/bare.mp4", 404, &r);
    test_reply_free(&r);
    get(f, "/ads/media/vpaid.js", 404, &r);
    test_reply_free(&r);
}

/* ---- beacons ----------------------------------------------------------------------------- */

static void test_beacons(void **state)
{
    fixture *f = *state;
    test_reply r;
    get(f,
        "/ads/track/v30/spot4/"
        "impression?cb=12345678&ts=2026-01-01T00%3A00%3A01.000Z&cp=00%3A00%3A00.000&ap=00%3A00%"
        "3A00.000",
        200, &r);
    assert_header(&r, "Content-Type", "image/gif");
    assert_int_equal(r.body.len, 43);
    assert_memory_equal(r.body.data, "GIF89a", 6);
    test_reply_free(&r);
    assert_int_equal(count(f, "{s:s, s:s, s:s, s:s, s:s, s:s}", "server", "ads", "kind",
                           "impression", "vast", "v30", "ad", "spot4", "cachebusting", "12345678",
                           "adplayhead", "00:00:00.000"),
                     1);
    /* tracking events, in order */
    static const char *const evs[] = {"start",    "firstQuartile", "midpoint", "thirdQuartile",
                                      "complete", "skip",          "pause",    "resume"};
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++) {
        char path[128];
        snprintf(path, sizeof(path), "/ads/track/v30/spot4/%s?cb=1&ap=00:00:0%zu.000", evs[i], i);
        get(f, path, 200, &r);
        test_reply_free(&r);
        assert_int_equal(
            count(f, "{s:s, s:s, s:s}", "kind", "tracking", "event", evs[i], "ad", "spot4"), 1);
    }
    /* the error beacon: a code filled in is a number; one left unfilled is kept as text */
    get(f, "/ads/track/v30/spot4/error?code=405&cb=9", 200, &r);
    test_reply_free(&r);
    assert_int_equal(count(f, "{s:s, s:s, s:i}", "kind", "error", "vast", "v30", "errorcode", 405),
                     1);
    get(f, "/ads/track/v30/spot4/error?code=%5BERRORCODE%5D", 200, &r);
    test_reply_free(&r);
    assert_int_equal(count(f, "{s:s, s:s}", "kind", "error", "errorcode", "[ERRORCODE]"), 1);
    /* clicks: ClickTracking and the landing page */
    get(f, "/ads/track/pod/clicky/click?cb=3", 200, &r);
    test_reply_free(&r);
    get(f, "/ads/click/spot4", 200, &r);
    assert_true(strstr(r.body.data, "spot4") != NULL);
    test_reply_free(&r);
    assert_int_equal(
        count(f, "{s:s, s:s, s:s}", "kind", "click", "event", "clicktracking", "ad", "clicky"), 1);
    assert_int_equal(
        count(f, "{s:s, s:s, s:s}", "kind", "click", "event", "clickthrough", "ad", "spot4"), 1);
    /* a wrapper's own beacon */
    get(f, "/ads/track/w1/-/impression", 200, &r);
    test_reply_free(&r);
    assert_int_equal(count(f, "{s:s, s:s, s:b}", "kind", "impression", "vast", "w1", "wrapper", 1),
                     1);
}

/* ---- errors -------------------------------------------------------------------------------- */

static void test_unknown_ids(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *path, *kind;
    } cases[] = {
        {"/ads/vast/nope", "vast"},
        {"/ads/vmap/nope", "vmap"},
        {"/ads/media/nope.mp4", "media"},
        {"/ads/track/nope/spot4/start", "tracking"},
        {"/ads/track/v30/nope/impression", "impression"},
        {"/ads/click/nope", "click"},
        {"/ads/elsewhere", "unknown"},
        {"/ads/track/v30/spot4", "unknown"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t before = count(f, "{s:s, s:s, s:i}", "kind", cases[i].kind, "path", cases[i].path,
                              "status", 404);
        test_reply r;
        get(f, cases[i].path, 404, &r);
        test_reply_free(&r);
        assert_int_equal(count(f, "{s:s, s:s, s:i}", "kind", cases[i].kind, "path", cases[i].path,
                               "status", 404),
                         before + 1);
    }
    /* ads are not API or CDN requests */
    json_t *all = json_object();
    size_t api = mbe_server_count(f->mock.srv, "cdn", all);
    json_decref(all);
    assert_int_equal(api, 0);
}

/* Fixtures whose references do not resolve are refused when the server starts. */
static void test_bad_fixtures(void **state)
{
    (void)state;
    mbe_media_cache *cache = mbe_media_cache_new(getenv("KPSIM_CACHE_DIR"), NULL);
    static const mbe_vast dangling[] = {{.id = "w", .version = "3.0", .wrapper = "missing"}};
    static const char *const unknown_ad[] = {"nope"};
    static const mbe_vast bad_ad[] = {{.id = "v", .version = "3.0", .ads = unknown_ad, .n_ads = 1}};
    static const mbe_vast bad_version[] = {{.id = "v", .version = "5.0"}};
    static const mbe_vast bad_id[] = {{.id = "a/b", .version = "3.0"}};
    static const mbe_vast twice[] = {{.id = "v", .version = "3.0"}, {.id = "v", .version = "4.0"}};
    static const mbe_vmap_break to_nothing[] = {{.id = "b", .time_offset = "start", .vast = "x"}};
    static const mbe_vmap bad_vmap[] = {{.id = "m", .breaks = to_nothing, .n_breaks = 1}};
    const mbe_ads cases[] = {
        {.vast = dangling, .n_vast = 1},    {.vast = bad_ad, .n_vast = 1},
        {.vast = bad_version, .n_vast = 1}, {.vast = bad_id, .n_vast = 1},
        {.vast = twice, .n_vast = 2},       {.vmap = bad_vmap, .n_vmap = 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mbe_config cfg = config(&cases[i]);
        cfg.media = cache;
        mbe_server *s = NULL;
        assert_int_equal(mbe_server_start(&cfg, &s), KP_EINVAL);
        assert_null(s);
    }
    mbe_media_cache_free(cache);
}

/* Two servers with the same fixtures serve the same documents (but for the port). */
static void test_deterministic(void **state)
{
    fixture *f = *state;
    test_mock other;
    mbe_config cfg = config(&FIXTURES);
    test_mock_start(&other, &cfg);
    const char *url2 = mbe_server_url(other.srv);
    static const char *const paths[] = {"/ads/vast/pod", "/ads/vast/w1", "/ads/vmap/all"};
    for (size_t i = 0; i < 3; i++) {
        test_reply a, b;
        get(f, paths[i], 200, &a);
        char u[256];
        snprintf(u, sizeof(u), "%s%s", url2, paths[i]);
        test_http("GET", u, NULL, NULL, NULL, &b);
        assert_int_equal(b.status, 200);
        /* same length (both ports have 5 digits or the same count) and the same bytes once
         * the base URLs are blanked */
        char *x = kp_strdup(a.body.data), *y = kp_strdup(b.body.data);
        for (char *p = x; (p = strstr(p, f->url)); p += strlen(f->url))
            memset(p, '#', strlen(f->url));
        for (char *p = y; (p = strstr(p, url2)); p += strlen(url2))
            memset(p, '#', strlen(url2));
        if (strlen(f->url) == strlen(url2))
            assert_string_equal(x, y);
        free(x);
        free(y);
        test_reply_free(&a);
        test_reply_free(&b);
    }
    test_mock_stop(&other);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    avformat_network_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vast_versions), cmocka_unit_test(test_pod_and_empty),
        cmocka_unit_test(test_wrappers),      cmocka_unit_test(test_bad_documents),
        cmocka_unit_test(test_vmap),          cmocka_unit_test(test_media_plays),
        cmocka_unit_test(test_beacons),       cmocka_unit_test(test_unknown_ids),
        cmocka_unit_test(test_bad_fixtures),  cmocka_unit_test(test_deterministic),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    avformat_network_deinit();
    curl_global_cleanup();
    xmlCleanupParser();
    return rc;
}
