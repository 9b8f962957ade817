/* vast.c: the VAST and VMAP parsers (see vast.h). */
#include "vast.h"

#include "kp/buf.h"
#include "kp/err.h"

#include <ctype.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ITEMS 4096 /* per list: more is not an ad document, it is an attack */

typedef struct ctx {
    kp_vast_error *err;
    int rc;
} ctx;

static int fail(ctx *c, const xmlNode *n, int code, int rc, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int fail(ctx *c, const xmlNode *n, int code, int rc, const char *fmt, ...)
{
    if (c->rc != KP_OK)
        return c->rc;
    c->rc = rc;
    if (c->err) {
        long line = n ? xmlGetLineNo(n) : 0;
        c->err->line = line > 0 && line < INT32_MAX ? (int)line : 0;
        c->err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err->msg, sizeof(c->err->msg), fmt, ap);
        va_end(ap);
    }
    return rc;
}

#define OOM(c) fail(c, NULL, KP_VAST_UNDEFINED, KP_ENOMEM, "%s", "out of memory")

/* ---- small helpers ---- */

static bool is_el(const xmlNode *n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

static const xmlNode *child(const xmlNode *n, const char *name)
{
    for (const xmlNode *k = n ? n->children : NULL; k; k = k->next)
        if (is_el(k, name))
            return k;
    return NULL;
}

/* The element's text, trimmed (CDATA sections included); NULL when empty or out of memory. */
static char *text_of(const xmlNode *n)
{
    if (!n)
        return NULL;
    xmlChar *v = xmlNodeGetContent(n);
    if (!v)
        return NULL;
    const char *s = (const char *)v;
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t l = strlen(s);
    while (l && isspace((unsigned char)s[l - 1]))
        l--;
    char *out = l ? kp_strndup(s, l) : NULL;
    xmlFree(v);
    return out;
}

static char *attr(const xmlNode *n, const char *name)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
    if (!v)
        return NULL;
    char *out = kp_strdup((const char *)v);
    xmlFree(v);
    return out;
}

static int push_str(ctx *c, char ***arr, size_t *n, char *s)
{
    if (!s)
        return KP_OK;
    if (*n >= MAX_ITEMS) {
        free(s);
        return KP_OK;
    }
    char **a = realloc(*arr, (*n + 1) * sizeof(**arr));
    if (!a) {
        free(s);
        return OOM(c);
    }
    *arr = a;
    a[(*n)++] = s;
    return KP_OK;
}

static void free_strs(char **a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(a[i]);
    free(a);
}

int kp_vast_parse_clock(const char *s, kp_time *out)
{
    if (!s)
        return KP_EPARSE;
    while (isspace((unsigned char)*s))
        s++;
    long part[3];
    for (int i = 0; i < 3; i++) {
        if (!isdigit((unsigned char)*s))
            return KP_EPARSE;
        long v = 0;
        int digits = 0;
        while (isdigit((unsigned char)*s)) {
            if (++digits > 6)
                return KP_EPARSE;
            v = v * 10 + (*s++ - '0');
        }
        part[i] = v;
        if (i < 2) {
            if (*s != ':')
                return KP_EPARSE;
            s++;
        }
    }
    if (part[1] > 59 || part[2] > 59)
        return KP_EPARSE;
    kp_time us = 0;
    if (*s == '.') {
        s++;
        if (!isdigit((unsigned char)*s))
            return KP_EPARSE;
        kp_time scale = 100000;
        while (isdigit((unsigned char)*s)) {
            us += (*s++ - '0') * scale;
            scale /= 10;
        }
    }
    while (isspace((unsigned char)*s))
        s++;
    if (*s)
        return KP_EPARSE;
    *out = ((kp_time)part[0] * 3600 + part[1] * 60 + part[2]) * 1000000 + us;
    return KP_OK;
}

/* "n%" with 0 <= n <= 100 -> n. Returns 0 or KP_EPARSE. */
static int parse_pct(const char *s, double *out)
{
    char *end = NULL;
    double v = strtod(s, &end);
    if (end == s || *end != '%' || end[1] != '\0' || !isfinite(v) || v < 0 || v > 100)
        return KP_EPARSE;
    *out = v;
    return KP_OK;
}

/* ---- VAST ---- */

static void ad_clear(kp_vast_ad *a)
{
    free(a->id);
    free(a->ad_tag_uri);
    free(a->ad_system);
    free(a->title);
    free(a->universal_ad_id);
    free(a->creative_id);
    free_strs(a->impressions, a->n_impressions);
    free_strs(a->errors, a->n_errors);
    for (size_t i = 0; i < a->n_tracking; i++) {
        free(a->tracking[i].event);
        free(a->tracking[i].url);
    }
    free(a->tracking);
    free(a->click_through);
    free_strs(a->click_tracking, a->n_click_tracking);
    for (size_t i = 0; i < a->n_media; i++) {
        free(a->media[i].url);
        free(a->media[i].type);
        free(a->media[i].delivery);
        free(a->media[i].api_framework);
    }
    free(a->media);
}

void kp_vast_free(kp_vast *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n_ads; i++)
        ad_clear(&v->ads[i]);
    free(v->ads);
    free(v->version);
    free_strs(v->errors, v->n_errors);
    free(v);
}

static int int_attr(const xmlNode *n, const char *name)
{
    char *s = attr(n, name);
    if (!s)
        return 0;
    char *end = NULL;
    long v = strtol(s, &end, 10);
    bool ok = end != s && *end == '\0' && v >= 0 && v <= 1000000;
    free(s);
    return ok ? (int)v : 0;
}

static int parse_tracking(ctx *c, const xmlNode *events, kp_vast_ad *a)
{
    for (const xmlNode *t = events ? events->children : NULL; t; t = t->next) {
        if (!is_el(t, "Tracking"))
            continue;
        char *ev = attr(t, "event");
        char *url = text_of(t);
        if (!ev || !url) {
            free(ev);
            free(url);
            continue; /* IMA ignores a tracking element it cannot use */
        }
        kp_vast_tracking tr = {.event = ev, .url = url, .offset = -1, .offset_pct = -1};
        if (strcmp(ev, "progress") == 0) {
            char *off = attr(t, "offset");
            bool ok = off && (kp_vast_parse_clock(off, &tr.offset) == KP_OK ||
                              parse_pct(off, &tr.offset_pct) == KP_OK);
            free(off);
            if (!ok) {
                free(ev);
                free(url);
                continue; /* a progress event needs its offset */
            }
        }
        if (a->n_tracking >= MAX_ITEMS) {
            free(ev);
            free(url);
            continue;
        }
        kp_vast_tracking *arr = realloc(a->tracking, (a->n_tracking + 1) * sizeof(*arr));
        if (!arr) {
            free(ev);
            free(url);
            return OOM(c);
        }
        a->tracking = arr;
        arr[a->n_tracking++] = tr;
    }
    return KP_OK;
}

static int parse_media_files(ctx *c, const xmlNode *files, kp_vast_ad *a)
{
    for (const xmlNode *m = files ? files->children : NULL; m; m = m->next) {
        if (!is_el(m, "MediaFile"))
            continue; /* Mezzanine, InteractiveCreativeFile, ClosedCaptionFiles */
        char *url = text_of(m);
        if (!url)
            continue;
        if (a->n_media >= MAX_ITEMS) {
            free(url);
            continue;
        }
        kp_vast_media_file *arr = realloc(a->media, (a->n_media + 1) * sizeof(*arr));
        if (!arr) {
            free(url);
            return OOM(c);
        }
        a->media = arr;
        arr[a->n_media++] = (kp_vast_media_file){
            .url = url,
            .type = attr(m, "type"),
            .delivery = attr(m, "delivery"),
            .api_framework = attr(m, "apiFramework"),
            .width = int_attr(m, "width"),
            .height = int_attr(m, "height"),
            .bitrate = int_attr(m, "bitrate"),
        };
    }
    return KP_OK;
}

static int parse_linear(ctx *c, const xmlNode *lin, const xmlNode *creative, kp_vast_ad *a,
                        bool inline_ad)
{
    a->linear = true;
    a->creative_id = attr(creative, "id");
    const xmlNode *uid = child(creative, "UniversalAdId");
    if (uid && !a->universal_ad_id)
        a->universal_ad_id = text_of(uid);
    const xmlNode *dur = child(lin, "Duration");
    if (dur) {
        char *s = text_of(dur);
        int rc = kp_vast_parse_clock(s, &a->duration);
        if (rc != KP_OK) {
            fail(c, dur, KP_VAST_SCHEMA, KP_EPARSE, "Linear Duration '%s' is not HH:MM:SS[.mmm]",
                 s ? s : "");
            free(s);
            return c->rc;
        }
        free(s);
    } else if (inline_ad) {
        return fail(c, lin, KP_VAST_SCHEMA, KP_EPARSE, "%s",
                    "an InLine Linear creative has no Duration");
    }
    char *skip = attr(lin, "skipoffset");
    if (skip) {
        int rc = kp_vast_parse_clock(skip, &a->skip_offset);
        if (rc != KP_OK) {
            a->skip_offset = -1;
            rc = parse_pct(skip, &a->skip_pct);
        }
        if (rc != KP_OK) {
            fail(c, lin, KP_VAST_SCHEMA, KP_EPARSE,
                 "skipoffset '%s' is neither HH:MM:SS[.mmm] nor n%%", skip);
            free(skip);
            return c->rc;
        }
        free(skip);
    }
    if (parse_tracking(c, child(lin, "TrackingEvents"), a) != KP_OK)
        return c->rc;
    const xmlNode *clicks = child(lin, "VideoClicks");
    for (const xmlNode *k = clicks ? clicks->children : NULL; k; k = k->next) {
        if (is_el(k, "ClickThrough") && !a->click_through)
            a->click_through = text_of(k);
        else if (is_el(k, "ClickTracking") &&
                 push_str(c, &a->click_tracking, &a->n_click_tracking, text_of(k)) != KP_OK)
            return c->rc;
    }
    return parse_media_files(c, child(lin, "MediaFiles"), a);
}

static int parse_ad(ctx *c, const xmlNode *ad, kp_vast_ad *a)
{
    a->duration = -1;
    a->skip_offset = -1;
    a->skip_pct = -1;
    a->follow_redirects = true;
    a->id = attr(ad, "id");
    a->sequence = int_attr(ad, "sequence");
    const xmlNode *body = child(ad, "InLine");
    if (!body) {
        body = child(ad, "Wrapper");
        a->wrapper = body != NULL;
    }
    if (!body)
        return fail(c, ad, KP_VAST_SCHEMA, KP_EPARSE, "%s", "an Ad has neither InLine nor Wrapper");
    if (a->wrapper) {
        a->ad_tag_uri = text_of(child(body, "VASTAdTagURI"));
        if (!a->ad_tag_uri)
            return fail(c, body, KP_VAST_SCHEMA, KP_EPARSE, "%s", "a Wrapper has no VASTAdTagURI");
        char *follow = attr(body, "followAdditionalWrappers");
        if (follow && (strcmp(follow, "false") == 0 || strcmp(follow, "0") == 0))
            a->follow_redirects = false;
        free(follow);
    }
    a->ad_system = text_of(child(body, "AdSystem"));
    a->title = text_of(child(body, "AdTitle"));
    for (const xmlNode *k = body->children; k; k = k->next) {
        int rc = KP_OK;
        if (is_el(k, "Impression"))
            rc = push_str(c, &a->impressions, &a->n_impressions, text_of(k));
        else if (is_el(k, "Error"))
            rc = push_str(c, &a->errors, &a->n_errors, text_of(k));
        if (rc != KP_OK)
            return rc;
    }
    const xmlNode *creatives = child(body, "Creatives");
    for (const xmlNode *cr = creatives ? creatives->children : NULL; cr; cr = cr->next) {
        if (!is_el(cr, "Creative"))
            continue;
        const xmlNode *lin = child(cr, "Linear");
        if (lin && !a->linear) {
            if (parse_linear(c, lin, cr, a, !a->wrapper) != KP_OK)
                return c->rc;
        } else if (child(cr, "NonLinearAds")) {
            a->nonlinear = true;
        }
        /* CompanionAds and anything else: not played, ignored */
    }
    return KP_OK;
}

/* The document's root element, or a failure (not XML: 100). */
static xmlDocPtr read_doc(ctx *c, const char *data, size_t len, const char *what)
{
    if (!data || len == 0) {
        fail(c, NULL, KP_VAST_XML_PARSE, KP_EPARSE, "the %s document is empty", what);
        return NULL;
    }
    if (len > INT32_MAX) {
        fail(c, NULL, KP_VAST_XML_PARSE, KP_EPARSE, "the %s document is too large", what);
        return NULL;
    }
    xmlParserCtxtPtr pc = xmlNewParserCtxt();
    if (!pc) {
        OOM(c);
        return NULL;
    }
    xmlDocPtr doc = xmlCtxtReadMemory(pc, data, (int)len, NULL, NULL,
                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) {
        const xmlError *e = &pc->lastError;
        char msg[160];
        snprintf(msg, sizeof(msg), "%s", e->message ? e->message : "unknown error");
        size_t ml = strlen(msg);
        while (ml && (msg[ml - 1] == '\n' || msg[ml - 1] == ' '))
            msg[--ml] = '\0';
        fail(c, NULL, KP_VAST_XML_PARSE, KP_EPARSE, "the %s document is not XML: %s", what, msg);
        if (c->err)
            c->err->line = e->line > 0 ? e->line : 0;
    }
    xmlFreeParserCtxt(pc);
    return doc;
}

static int vast_from_root(ctx *c, const xmlNode *root, kp_vast **out)
{
    if (!is_el(root, "VAST"))
        return fail(c, root, KP_VAST_SCHEMA, KP_EPARSE, "the root element is <%s>, not <VAST>",
                    root ? (const char *)root->name : "");
    kp_vast *v = calloc(1, sizeof(*v));
    if (!v)
        return OOM(c);
    v->version = attr(root, "version");
    double ver = v->version ? strtod(v->version, NULL) : 0;
    if (!v->version || ver < 2.0 || ver >= 5.0) {
        fail(c, root, KP_VAST_VERSION, KP_EPARSE, "VAST version '%s' is not supported (2.0 to 4.x)",
             v->version ? v->version : "(none)");
        kp_vast_free(v);
        return c->rc;
    }
    for (const xmlNode *k = root->children; k; k = k->next) {
        if (is_el(k, "Error")) {
            if (push_str(c, &v->errors, &v->n_errors, text_of(k)) != KP_OK)
                break;
            continue;
        }
        if (!is_el(k, "Ad"))
            continue;
        if (v->n_ads >= MAX_ITEMS)
            break;
        kp_vast_ad *arr = realloc(v->ads, (v->n_ads + 1) * sizeof(*arr));
        if (!arr) {
            OOM(c);
            break;
        }
        v->ads = arr;
        memset(&arr[v->n_ads], 0, sizeof(arr[0]));
        v->n_ads++;
        if (parse_ad(c, k, &arr[v->n_ads - 1]) != KP_OK)
            break;
    }
    if (c->rc != KP_OK) {
        kp_vast_free(v);
        return c->rc;
    }
    *out = v;
    return KP_OK;
}

int kp_vast_parse(const char *data, size_t len, kp_vast **out, kp_vast_error *err)
{
    *out = NULL;
    if (err)
        memset(err, 0, sizeof(*err));
    ctx c = {.err = err, .rc = KP_OK};
    xmlDocPtr doc = read_doc(&c, data, len, "VAST");
    if (!doc)
        return c.rc;
    vast_from_root(&c, xmlDocGetRootElement(doc), out);
    xmlFreeDoc(doc);
    return c.rc;
}

size_t kp_vast_pick(const kp_vast *v, size_t *idx, size_t max)
{
    size_t n = 0;
    /* a pod: the ads with a sequence, by (sequence, document order); the first max of them */
    int prev_seq = 0;
    size_t prev_i = 0;
    while (n < max) {
        size_t best = v->n_ads;
        for (size_t i = 0; i < v->n_ads; i++) {
            int s = v->ads[i].sequence;
            if (s <= 0 || s < prev_seq || (n > 0 && s == prev_seq && i <= prev_i))
                continue;
            if (best == v->n_ads || s < v->ads[best].sequence)
                best = i;
        }
        if (best == v->n_ads)
            break;
        idx[n++] = best;
        prev_seq = v->ads[best].sequence;
        prev_i = best;
    }
    if (n > 0)
        return n;
    for (size_t i = 0; i < v->n_ads && max > 0; i++) {
        idx[0] = i;
        return 1;
    }
    return 0;
}

/* ---- VMAP ---- */

void kp_vmap_free(kp_vmap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_breaks; i++) {
        kp_vmap_break *b = &m->breaks[i];
        free(b->id);
        free(b->ad_tag_uri);
        kp_vast_free(b->vast);
        free_strs(b->tracking_start, b->n_start);
        free_strs(b->tracking_end, b->n_end);
        free_strs(b->tracking_error, b->n_error);
    }
    free(m->breaks);
    free(m);
}

bool kp_vmap_sniff(const char *data, size_t len)
{
    /* the first element name after the prolog, comments and processing instructions */
    size_t i = 0;
    while (i < len) {
        while (i < len && data[i] != '<')
            i++;
        if (i + 1 >= len)
            return false;
        char k = data[i + 1];
        if (k == '?' || k == '!') {
            i++;
            continue;
        }
        size_t s = i + 1, e = s;
        while (e < len && !isspace((unsigned char)data[e]) && data[e] != '>' && data[e] != '/')
            e++;
        const char *colon = memchr(data + s, ':', e - s);
        if (colon)
            s = (size_t)(colon - data) + 1;
        return e - s == 4 && memcmp(data + s, "VMAP", 4) == 0;
    }
    return false;
}

static int parse_offset(ctx *c, const xmlNode *n, kp_vmap_break *b)
{
    char *s = attr(n, "timeOffset");
    b->offset = 0;
    b->offset_pct = -1;
    int rc = KP_OK;
    if (!s)
        rc = KP_EPARSE;
    else if (strcmp(s, "start") == 0)
        b->offset = 0;
    else if (strcmp(s, "end") == 0)
        b->offset = -1;
    else if (s[0] == '#') {
        char *end = NULL;
        long v = strtol(s + 1, &end, 10);
        if (end == s + 1 || *end || v < 1 || v > 100000)
            rc = KP_EPARSE;
        else
            b->nth = (int)v;
    } else if (strchr(s, '%')) {
        rc = parse_pct(s, &b->offset_pct);
    } else {
        rc = kp_vast_parse_clock(s, &b->offset);
    }
    if (rc != KP_OK)
        fail(c, n, KP_VAST_SCHEMA, KP_EPARSE,
             "AdBreak timeOffset '%s' is not start, end, HH:MM:SS[.mmm], n%% or #n",
             s ? s : "(none)");
    free(s);
    return c->rc;
}

static int parse_break(ctx *c, const xmlNode *n, kp_vmap_break *b)
{
    b->id = attr(n, "breakId");
    if (parse_offset(c, n, b) != KP_OK)
        return c->rc;
    const xmlNode *src = child(n, "AdSource");
    if (src) {
        const xmlNode *tag = child(src, "AdTagURI");
        const xmlNode *data = child(src, "VASTAdData");
        if (tag) {
            b->ad_tag_uri = text_of(tag);
            if (!b->ad_tag_uri)
                return fail(c, tag, KP_VAST_SCHEMA, KP_EPARSE, "%s", "an AdTagURI is empty");
        } else if (data) {
            const xmlNode *root = NULL;
            for (const xmlNode *k = data->children; k && !root; k = k->next)
                if (k->type == XML_ELEMENT_NODE)
                    root = k;
            if (!root)
                return fail(c, data, KP_VAST_SCHEMA, KP_EPARSE, "%s", "a VASTAdData holds no VAST");
            if (vast_from_root(c, root, &b->vast) != KP_OK)
                return c->rc;
        }
        /* CustomAdData: nothing the plugin can play; the break stays without ads */
    }
    const xmlNode *te = child(n, "TrackingEvents");
    for (const xmlNode *t = te ? te->children : NULL; t; t = t->next) {
        if (!is_el(t, "Tracking"))
            continue;
        char *ev = attr(t, "event");
        int rc = KP_OK;
        if (ev && strcmp(ev, "breakStart") == 0)
            rc = push_str(c, &b->tracking_start, &b->n_start, text_of(t));
        else if (ev && strcmp(ev, "breakEnd") == 0)
            rc = push_str(c, &b->tracking_end, &b->n_end, text_of(t));
        else if (ev && strcmp(ev, "error") == 0)
            rc = push_str(c, &b->tracking_error, &b->n_error, text_of(t));
        free(ev);
        if (rc != KP_OK)
            return rc;
    }
    return KP_OK;
}

int kp_vmap_parse(const char *data, size_t len, kp_vmap **out, kp_vast_error *err)
{
    *out = NULL;
    if (err)
        memset(err, 0, sizeof(*err));
    ctx c = {.err = err, .rc = KP_OK};
    xmlDocPtr doc = read_doc(&c, data, len, "VMAP");
    if (!doc)
        return c.rc;
    const xmlNode *root = xmlDocGetRootElement(doc);
    kp_vmap *m = NULL;
    if (!is_el(root, "VMAP")) {
        fail(&c, root, KP_VAST_SCHEMA, KP_EPARSE, "the root element is <%s>, not <vmap:VMAP>",
             root ? (const char *)root->name : "");
        goto done;
    }
    char *ver = attr(root, "version");
    if (!ver || strncmp(ver, "1.", 2) != 0) {
        fail(&c, root, KP_VAST_VERSION, KP_EPARSE, "VMAP version '%s' is not supported (1.x)",
             ver ? ver : "(none)");
        free(ver);
        goto done;
    }
    free(ver);
    m = calloc(1, sizeof(*m));
    if (!m) {
        OOM(&c);
        goto done;
    }
    for (const xmlNode *k = root->children; k; k = k->next) {
        if (!is_el(k, "AdBreak"))
            continue;
        if (m->n_breaks >= MAX_ITEMS)
            break;
        kp_vmap_break *arr = realloc(m->breaks, (m->n_breaks + 1) * sizeof(*arr));
        if (!arr) {
            OOM(&c);
            break;
        }
        m->breaks = arr;
        memset(&arr[m->n_breaks], 0, sizeof(arr[0]));
        m->n_breaks++;
        if (parse_break(&c, k, &arr[m->n_breaks - 1]) != KP_OK)
            break;
    }
done:
    xmlFreeDoc(doc);
    if (c.rc != KP_OK) {
        kp_vmap_free(m);
        return c.rc;
    }
    *out = m;
    return KP_OK;
}
