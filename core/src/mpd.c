/* mpd.c: the DASH MPD parser and segment lists (see mpd.h). */
#include "mpd.h"

#include "url.h"

#include "kp/buf.h"
#include "kp/codec.h"
#include "kp/err.h"
#include "kp/perror.h"

#include <ctype.h>
#include <inttypes.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* perror.h numbering of the DASH codes (playkit-js src/error/code.ts, from shaka) */
enum {
    PC_SIDX_WRONG_BOX_TYPE = 3004,
    PC_SIDX_INVALID_TIMESCALE = 3005,
    PC_SIDX_TYPE_NOT_SUPPORTED = 3006,
    PC_INVALID_XML = 4001,
    PC_NO_SEGMENT_INFO = 4002,
    PC_EMPTY_ADAPTATION_SET = 4003,
    PC_EMPTY_PERIOD = 4004,
    PC_PSSH_BAD_ENCODING = 4007,
    PC_UNPLAYABLE_PERIOD = 4011,
    PC_NO_PERIODS = 4014,
    PC_DUPLICATE_REPRESENTATION_ID = 4018,
};

typedef struct ctx {
    kp_mpd_error *err;
    int rc;
} ctx;

static int fail_at(ctx *c, const xmlNode *n, int pcode, int rc, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int fail_at(ctx *c, const xmlNode *n, int pcode, int rc, const char *fmt, ...)
{
    if (c->rc != KP_OK)
        return c->rc;
    c->rc = rc;
    if (c->err) {
        c->err->line = n ? (int)xmlGetLineNo(n) : 0;
        if (c->err->line < 0)
            c->err->line = 0;
        c->err->pcode = pcode;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err->msg, sizeof(c->err->msg), fmt, ap);
        va_end(ap);
    }
    return rc;
}

#define FAIL(c, n, fmt, ...) fail_at(c, n, PC_INVALID_XML, KP_EPARSE, fmt, __VA_ARGS__)

const char *kp_mpd_content_name(kp_mpd_content c)
{
    static const char *const names[] = {"video", "audio", "text", "other"};
    return (unsigned)c < 4 ? names[c] : "other";
}

/* ---- value parsers ---- */

int kp_mpd_parse_duration(const char *s, double *out)
{
    /* P[nY][nM][nW][nD][T[nH][nM][n[.n]S]] */
    static const char date_units[] = "YMWD";
    static const double date_secs[] = {365 * 86400.0, 30 * 86400.0, 7 * 86400.0, 86400.0};
    static const char time_units[] = "HMS";
    static const double time_secs[] = {3600.0, 60.0, 1.0};
    if (!s || *s != 'P')
        return KP_EPARSE;
    const char *p = s + 1;
    double total = 0;
    int components = 0;
    bool in_time = false;
    int next_unit = 0; /* index of the next allowed unit in the current part */
    while (*p) {
        if (*p == 'T') {
            if (in_time || !p[1])
                return KP_EPARSE;
            in_time = true;
            next_unit = 0;
            p++;
            continue;
        }
        if (!isdigit((unsigned char)*p))
            return KP_EPARSE;
        const char *num = p;
        while (isdigit((unsigned char)*p))
            p++;
        bool frac = false;
        if (*p == '.' || *p == ',') {
            frac = true;
            p++;
            if (!isdigit((unsigned char)*p))
                return KP_EPARSE;
            while (isdigit((unsigned char)*p))
                p++;
        }
        if (p - num > 30)
            return KP_EPARSE;
        char buf[40];
        memcpy(buf, num, (size_t)(p - num));
        buf[p - num] = '\0';
        for (char *q = buf; *q; q++)
            if (*q == ',')
                *q = '.';
        double v = strtod(buf, NULL);
        const char *units = in_time ? time_units : date_units;
        const double *secs = in_time ? time_secs : date_secs;
        const char *u = *p ? strchr(units, *p) : NULL;
        if (!u || (int)(u - units) < next_unit)
            return KP_EPARSE; /* unknown unit, or out of order / repeated */
        int ui = (int)(u - units);
        if (frac && !(in_time && *p == 'S'))
            return KP_EPARSE; /* only seconds take a fraction */
        total += v * secs[ui];
        next_unit = ui + 1;
        components++;
        p++;
        if (frac && *p)
            return KP_EPARSE; /* the fraction belongs to the last component */
    }
    if (components == 0 || (in_time && next_unit == 0) || !isfinite(total))
        return KP_EPARSE;
    *out = total;
    return KP_OK;
}

static int parse_u64(const char *s, uint64_t *out)
{
    if (!s || !isdigit((unsigned char)*s))
        return KP_EPARSE;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return KP_EPARSE;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return KP_ERANGE;
        v = v * 10 + d;
    }
    *out = v;
    return KP_OK;
}

static int parse_range(const char *s, long long *a, long long *b)
{
    const char *dash = s ? strchr(s, '-') : NULL;
    if (!dash)
        return KP_EPARSE;
    char first[32];
    size_t n = (size_t)(dash - s);
    if (n == 0 || n >= sizeof(first))
        return KP_EPARSE;
    memcpy(first, s, n);
    first[n] = '\0';
    uint64_t x, y;
    if (parse_u64(first, &x) != KP_OK || parse_u64(dash + 1, &y) != KP_OK || x > y ||
        y > (uint64_t)INT64_MAX / 2)
        return KP_EPARSE;
    *a = (long long)x;
    *b = (long long)y;
    return KP_OK;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* 32 hex digits, dashes allowed between byte pairs (UUID form). */
static int parse_uuid(const char *s, uint8_t out[16])
{
    int n = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '-')
            continue;
        if (n == 16 || hexval(p[0]) < 0 || !p[1] || hexval(p[1]) < 0)
            return KP_EPARSE;
        out[n++] = (uint8_t)(hexval(p[0]) << 4 | hexval(p[1]));
        p++;
    }
    return n == 16 ? KP_OK : KP_EPARSE;
}

/* Base64 with whitespace (as MPDs wrap it); returns a malloc'd buffer. */
static int decode_b64(const char *s, uint8_t **out, size_t *len)
{
    size_t n = strlen(s);
    char *clean = malloc(n + 1);
    if (!clean)
        return KP_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)s[i]))
            clean[k++] = s[i];
    clean[k] = '\0';
    uint8_t *buf = malloc(k / 4 * 3 + 4);
    if (!buf) {
        free(clean);
        return KP_ENOMEM;
    }
    int rc = k ? kp_base64_decode(clean, buf, k / 4 * 3 + 4) : KP_EPARSE;
    free(clean);
    if (rc <= 0) {
        free(buf);
        return KP_EPARSE;
    }
    *out = buf;
    *len = (size_t)rc;
    return KP_OK;
}

/* ---- XML helpers ---- */

static bool is_el(const xmlNode *n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

static const xmlNode *first_child(const xmlNode *n, const char *name)
{
    for (const xmlNode *c = n ? n->children : NULL; c; c = c->next)
        if (is_el(c, name))
            return c;
    return NULL;
}

/* An attribute by local name (any namespace), as a malloc'd string, or NULL. */
static char *attr(const xmlNode *n, const char *name)
{
    for (const xmlAttr *a = n->properties; a; a = a->next) {
        if (strcmp((const char *)a->name, name) == 0) {
            xmlChar *v = xmlNodeListGetString(n->doc, a->children, 1);
            char *s = kp_strdup(v ? (const char *)v : "");
            xmlFree(v);
            return s;
        }
    }
    return NULL;
}

static char *text_of(const xmlNode *n)
{
    xmlChar *v = xmlNodeGetContent(n);
    char *s = kp_strdup(v ? (const char *)v : "");
    xmlFree(v);
    /* trim */
    if (s) {
        char *e = s + strlen(s);
        while (e > s && isspace((unsigned char)e[-1]))
            *--e = '\0';
        char *b = s;
        while (isspace((unsigned char)*b))
            b++;
        memmove(s, b, strlen(b) + 1);
    }
    return s;
}

/* Optional unsigned attribute: KP_OK and *has set when present and valid. */
static int attr_u64(ctx *c, const xmlNode *n, const char *name, uint64_t *out, bool *has)
{
    char *v = attr(n, name);
    if (has)
        *has = false;
    if (!v)
        return KP_OK;
    int rc = parse_u64(v, out);
    if (rc != KP_OK)
        FAIL(c, n, "%s@%s=\"%.40s\" is not an unsigned integer", (const char *)n->name, name, v);
    else if (has)
        *has = true;
    free(v);
    return c->rc;
}

static int attr_duration(ctx *c, const xmlNode *n, const char *name, double *out, bool *has)
{
    char *v = attr(n, name);
    *has = false;
    if (!v)
        return KP_OK;
    if (kp_mpd_parse_duration(v, out) != KP_OK)
        FAIL(c, n, "%s@%s=\"%.40s\" is not an ISO 8601 duration", (const char *)n->name, name, v);
    else
        *has = true;
    free(v);
    return c->rc;
}

/* The first BaseURL child resolved against base (a new string), or a copy of base. */
static char *resolve_base(ctx *c, const xmlNode *n, const char *base)
{
    const xmlNode *b = first_child(n, "BaseURL");
    if (!b)
        return kp_strdup(base ? base : "");
    char *t = text_of(b);
    if (!t || !*t) {
        free(t);
        FAIL(c, b, "%s", "BaseURL is empty");
        return NULL;
    }
    char *r = kp_url_resolve(base, t);
    free(t);
    return r;
}

/* ---- segment information ---- */

static void seg_info_clear(kp_mpd_seg_info *s)
{
    free(s->media);
    free(s->initialization);
    free(s->timeline);
    for (size_t i = 0; i < s->n_urls; i++)
        free(s->urls[i].media);
    free(s->urls);
    memset(s, 0, sizeof(*s));
}

static void seg_info_init(kp_mpd_seg_info *s)
{
    memset(s, 0, sizeof(*s));
    s->init_range_start = s->init_range_end = -1;
    s->index_range_start = s->index_range_end = -1;
    s->start_number = 1;
    s->timescale = 1;
}

static int seg_info_copy(kp_mpd_seg_info *dst, const kp_mpd_seg_info *src)
{
    *dst = *src;
    dst->media = src->media ? kp_strdup(src->media) : NULL;
    dst->initialization = src->initialization ? kp_strdup(src->initialization) : NULL;
    dst->timeline = NULL;
    dst->urls = NULL;
    if (src->n_timeline) {
        dst->timeline = malloc(src->n_timeline * sizeof(*dst->timeline));
        if (dst->timeline)
            memcpy(dst->timeline, src->timeline, src->n_timeline * sizeof(*dst->timeline));
    }
    if (src->n_urls) {
        dst->urls = calloc(src->n_urls, sizeof(*dst->urls));
        for (size_t i = 0; dst->urls && i < src->n_urls; i++) {
            dst->urls[i] = src->urls[i];
            dst->urls[i].media = src->urls[i].media ? kp_strdup(src->urls[i].media) : NULL;
        }
    }
    if ((src->media && !dst->media) || (src->initialization && !dst->initialization) ||
        (src->n_timeline && !dst->timeline) || (src->n_urls && !dst->urls)) {
        seg_info_clear(dst);
        return KP_ENOMEM;
    }
    return KP_OK;
}

static void set_str(char **dst, char *v)
{
    if (v) {
        free(*dst);
        *dst = v;
    }
}

/* Checks a template's identifiers (expansion with dummy values). */
static int check_template(ctx *c, const xmlNode *n, const char *attr_name, const char *t)
{
    char e[160];
    char *x = kp_mpd_expand(t, "r", 1, 0, 1, e, sizeof(e));
    if (!x)
        return FAIL(c, n, "%s@%s=\"%.60s\": %s", (const char *)n->name, attr_name, t, e);
    free(x);
    return KP_OK;
}

/* The attributes and children common to SegmentBase/SegmentTemplate/SegmentList. */
static int read_multi_base(ctx *c, const xmlNode *n, kp_mpd_seg_info *s)
{
    bool has;
    uint64_t v;
    if (attr_u64(c, n, "timescale", &v, &has) != KP_OK)
        return c->rc;
    if (has) {
        if (v == 0)
            return FAIL(c, n, "%s@timescale is 0", (const char *)n->name);
        s->timescale = v;
    }
    if (attr_u64(c, n, "presentationTimeOffset", &v, &has) != KP_OK)
        return c->rc;
    if (has)
        s->pto = v;
    char *r = attr(n, "indexRange");
    if (r) {
        if (parse_range(r, &s->index_range_start, &s->index_range_end) != KP_OK)
            FAIL(c, n, "%s@indexRange=\"%.40s\" is not a byte range \"first-last\"",
                 (const char *)n->name, r);
        free(r);
        if (c->rc)
            return c->rc;
    }
    const xmlNode *init = first_child(n, "Initialization");
    if (init) {
        char *src = attr(init, "sourceURL");
        set_str(&s->initialization, src);
        char *ir = attr(init, "range");
        if (ir) {
            if (parse_range(ir, &s->init_range_start, &s->init_range_end) != KP_OK)
                FAIL(c, init, "Initialization@range=\"%.40s\" is not a byte range \"first-last\"",
                     ir);
            free(ir);
            if (!src && !c->rc && !s->initialization)
                s->initialization = kp_strdup(""); /* the BaseURL, by range */
        }
        if (c->rc)
            return c->rc;
    }
    if (attr_u64(c, n, "duration", &v, &has) != KP_OK)
        return c->rc;
    if (has) {
        if (v == 0)
            return FAIL(c, n, "%s@duration is 0", (const char *)n->name);
        s->duration = v;
    }
    if (attr_u64(c, n, "startNumber", &v, &has) != KP_OK)
        return c->rc;
    if (has)
        s->start_number = v;
    const xmlNode *tl = first_child(n, "SegmentTimeline");
    if (tl) {
        free(s->timeline);
        s->timeline = NULL;
        s->n_timeline = 0;
        size_t cap = 0;
        for (const xmlNode *e = tl->children; e; e = e->next) {
            if (!is_el(e, "S"))
                continue;
            kp_mpd_s item = {0};
            uint64_t d;
            bool has_d;
            if (attr_u64(c, e, "t", &item.t, &item.has_t) != KP_OK ||
                attr_u64(c, e, "d", &d, &has_d) != KP_OK)
                return c->rc;
            if (!has_d)
                return FAIL(c, e, "%s", "SegmentTimeline S has no @d");
            if (d == 0)
                return FAIL(c, e, "%s", "SegmentTimeline S@d is 0");
            item.d = d;
            char *rs = attr(e, "r");
            if (rs) {
                char *end = NULL;
                long long rv = strtoll(rs, &end, 10);
                bool ok = *rs && end && !*end && rv >= -1 && rv < INT32_MAX;
                if (!ok)
                    FAIL(c, e, "SegmentTimeline S@r=\"%.40s\" is not an integer >= -1", rs);
                free(rs);
                if (c->rc)
                    return c->rc;
                item.r = rv;
            }
            if (s->n_timeline == cap) {
                cap = cap ? cap * 2 : 16;
                kp_mpd_s *nt = realloc(s->timeline, cap * sizeof(*nt));
                if (!nt)
                    return fail_at(c, e, PC_INVALID_XML, KP_ENOMEM, "%s", "out of memory");
                s->timeline = nt;
            }
            s->timeline[s->n_timeline++] = item;
        }
        if (s->n_timeline == 0)
            return FAIL(c, tl, "%s", "SegmentTimeline has no S element");
    }
    return KP_OK;
}

/* Applies the segment element of one level (if any) on top of the inherited info. */
static int apply_level(ctx *c, const xmlNode *level, kp_mpd_seg_info *s)
{
    const xmlNode *tmpl = first_child(level, "SegmentTemplate");
    const xmlNode *base = first_child(level, "SegmentBase");
    const xmlNode *list = first_child(level, "SegmentList");
    int count = (tmpl != NULL) + (base != NULL) + (list != NULL);
    if (count > 1)
        return FAIL(c, level, "%s has more than one of SegmentBase, SegmentTemplate, SegmentList",
                    (const char *)level->name);
    const xmlNode *n = tmpl ? tmpl : base ? base : list;
    if (!n)
        return KP_OK;
    kp_mpd_seg_kind kind = tmpl ? KP_MPD_SEG_TEMPLATE : base ? KP_MPD_SEG_BASE : KP_MPD_SEG_LIST;
    if (s->kind != kind) {
        /* another kind than the level above: nothing is inherited */
        seg_info_clear(s);
        seg_info_init(s);
        s->kind = kind;
    }
    if (read_multi_base(c, n, s) != KP_OK)
        return c->rc;
    if (tmpl) {
        char *m = attr(n, "media");
        char *i = attr(n, "initialization");
        if (m && check_template(c, n, "media", m) != KP_OK) {
            free(m);
            free(i);
            return c->rc;
        }
        if (i && (check_template(c, n, "initialization", i) != KP_OK)) {
            free(m);
            free(i);
            return c->rc;
        }
        if (i && (strstr(i, "$Number") || strstr(i, "$Time"))) {
            FAIL(c, n, "SegmentTemplate@initialization=\"%.60s\" uses $Number$ or $Time$", i);
            free(m);
            free(i);
            return c->rc;
        }
        set_str(&s->media, m);
        set_str(&s->initialization, i);
    }
    if (list) {
        size_t cap = 0;
        bool any = false;
        for (const xmlNode *e = n->children; e; e = e->next) {
            if (!is_el(e, "SegmentURL"))
                continue;
            if (!any) { /* a level's SegmentURLs replace the inherited ones */
                for (size_t k = 0; k < s->n_urls; k++)
                    free(s->urls[k].media);
                free(s->urls);
                s->urls = NULL;
                s->n_urls = 0;
                any = true;
            }
            kp_mpd_seg_url u = {.media = attr(e, "media"), .range_start = -1, .range_end = -1};
            char *mr = attr(e, "mediaRange");
            if (mr) {
                if (parse_range(mr, &u.range_start, &u.range_end) != KP_OK)
                    FAIL(c, e, "SegmentURL@mediaRange=\"%.40s\" is not a byte range \"first-last\"",
                         mr);
                free(mr);
            }
            if (c->rc == KP_OK && s->n_urls == cap) {
                cap = cap ? cap * 2 : 16;
                kp_mpd_seg_url *nu = realloc(s->urls, cap * sizeof(*nu));
                if (!nu)
                    fail_at(c, e, PC_INVALID_XML, KP_ENOMEM, "%s", "out of memory");
                else
                    s->urls = nu;
            }
            if (c->rc) {
                free(u.media);
                return c->rc;
            }
            s->urls[s->n_urls++] = u;
        }
    }
    return KP_OK;
}

/* ---- content protection ---- */

static void protection_clear(kp_mpd_protection *p)
{
    free(p->scheme_id_uri);
    free(p->value);
    free(p->pssh);
    free(p->pro);
}

static int read_protection(ctx *c, const xmlNode *n, kp_mpd_protection *p)
{
    memset(p, 0, sizeof(*p));
    p->scheme_id_uri = attr(n, "schemeIdUri");
    if (!p->scheme_id_uri || !*p->scheme_id_uri)
        return FAIL(c, n, "%s", "ContentProtection has no @schemeIdUri");
    p->value = attr(n, "value");
    const char *u = p->scheme_id_uri;
    if (strcasecmp(u, "urn:mpeg:dash:mp4protection:2011") == 0) {
        p->mp4protection = true;
        if (p->value && strcmp(p->value, "cenc") != 0 && strcmp(p->value, "cbcs") != 0 &&
            strcmp(p->value, "cens") != 0 && strcmp(p->value, "cbc1") != 0)
            return FAIL(c, n,
                        "ContentProtection@value=\"%.20s\" is not a protection scheme (cenc, cbcs, "
                        "cens, cbc1)",
                        p->value);
    } else if (strncasecmp(u, "urn:uuid:", 9) == 0) {
        if (parse_uuid(u + 9, p->system_id) != KP_OK)
            return FAIL(c, n, "ContentProtection@schemeIdUri=\"%.60s\" has no valid UUID", u);
        p->has_system_id = true;
    }
    char *kid = attr(n, "default_KID");
    if (kid) {
        int rc = parse_uuid(kid, p->default_kid);
        if (rc != KP_OK)
            FAIL(c, n, "ContentProtection@cenc:default_KID=\"%.40s\" is not a 16-byte UUID", kid);
        free(kid);
        if (c->rc)
            return c->rc;
        p->has_default_kid = true;
    }
    for (const xmlNode *e = n->children; e; e = e->next) {
        bool pssh = is_el(e, "pssh"), pro = is_el(e, "pro");
        if (!pssh && !pro)
            continue;
        char *t = text_of(e);
        uint8_t *buf = NULL;
        size_t len = 0;
        int rc = t ? decode_b64(t, &buf, &len) : KP_ENOMEM;
        free(t);
        if (rc != KP_OK)
            return fail_at(c, e, PC_PSSH_BAD_ENCODING, KP_EPARSE,
                           "ContentProtection %s is not valid base64",
                           pssh ? "cenc:pssh" : "mspr:pro");
        if (pssh) {
            /* a whole box: size, 'pssh', version/flags, SystemID */
            uint32_t sz = len >= 8 ? (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 |
                                         (uint32_t)buf[2] << 8 | buf[3]
                                   : 0;
            if (len < 32 || memcmp(buf + 4, "pssh", 4) != 0 || sz != len) {
                free(buf);
                return fail_at(c, e, PC_PSSH_BAD_ENCODING, KP_EPARSE, "%s",
                               "ContentProtection cenc:pssh does not hold one pssh box");
            }
            free(p->pssh);
            p->pssh = buf;
            p->pssh_len = len;
        } else {
            free(p->pro);
            p->pro = buf;
            p->pro_len = len;
        }
    }
    return KP_OK;
}

static int add_protection(ctx *c, kp_mpd_adaptation *as, const xmlNode *parent)
{
    for (const xmlNode *e = parent->children; e; e = e->next) {
        if (!is_el(e, "ContentProtection"))
            continue;
        kp_mpd_protection *np = realloc(as->protections, (as->n_protections + 1) * sizeof(*np));
        if (!np)
            return fail_at(c, e, PC_INVALID_XML, KP_ENOMEM, "%s", "out of memory");
        as->protections = np;
        kp_mpd_protection *p = &as->protections[as->n_protections];
        int rc = read_protection(c, e, p);
        as->n_protections++; /* owned either way */
        if (rc != KP_OK)
            return rc;
    }
    return KP_OK;
}

/* ---- structure ---- */

static kp_mpd_content content_of(const char *s)
{
    if (!s)
        return KP_MPD_OTHER;
    if (strncasecmp(s, "video", 5) == 0)
        return KP_MPD_VIDEO;
    if (strncasecmp(s, "audio", 5) == 0)
        return KP_MPD_AUDIO;
    if (strncasecmp(s, "text", 4) == 0 || strcasecmp(s, "application/ttml+xml") == 0)
        return KP_MPD_TEXT;
    return KP_MPD_OTHER;
}

static bool text_codecs(const char *codecs)
{
    return codecs && (strncmp(codecs, "stpp", 4) == 0 || strncmp(codecs, "wvtt", 4) == 0);
}

static int attr_int(ctx *c, const xmlNode *n, const char *name, int *out)
{
    uint64_t v;
    bool has;
    if (attr_u64(c, n, name, &v, &has) != KP_OK)
        return c->rc;
    if (has && v > 100000)
        return FAIL(c, n, "%s@%s=%" PRIu64 " is out of range", (const char *)n->name, name, v);
    if (has)
        *out = (int)v;
    return KP_OK;
}

static int read_representation(ctx *c, const xmlNode *n, kp_mpd_adaptation *as,
                               const kp_mpd_seg_info *inherited, const char *base,
                               kp_mpd_representation *r)
{
    memset(r, 0, sizeof(*r));
    seg_info_init(&r->seg);
    r->id = attr(n, "id");
    if (!r->id || !*r->id)
        return FAIL(c, n, "%s", "Representation has no @id");
    for (const char *p = r->id; *p; p++)
        if (isspace((unsigned char)*p))
            return FAIL(c, n, "Representation@id=\"%.40s\" contains whitespace", r->id);
    uint64_t bw;
    bool has_bw;
    if (attr_u64(c, n, "bandwidth", &bw, &has_bw) != KP_OK)
        return c->rc;
    if (!has_bw)
        return FAIL(c, n, "Representation id=\"%.40s\" has no @bandwidth", r->id);
    if (bw > (uint64_t)INT64_MAX / 2)
        return FAIL(c, n, "Representation@bandwidth=%" PRIu64 " is out of range", bw);
    r->bandwidth = (long long)bw;
    if (attr_int(c, n, "width", &r->width) != KP_OK ||
        attr_int(c, n, "height", &r->height) != KP_OK)
        return c->rc;
    r->codecs = attr(n, "codecs");
    if (!r->codecs && as->codecs)
        r->codecs = kp_strdup(as->codecs);
    r->mime_type = attr(n, "mimeType");
    if (!r->mime_type && as->mime_type)
        r->mime_type = kp_strdup(as->mime_type);
    r->base_url = resolve_base(c, n, base);
    if (!r->base_url)
        return c->rc ? c->rc : fail_at(c, n, PC_INVALID_XML, KP_ENOMEM, "%s", "out of memory");
    if (seg_info_copy(&r->seg, inherited) != KP_OK)
        return fail_at(c, n, PC_INVALID_XML, KP_ENOMEM, "%s", "out of memory");
    if (apply_level(c, n, &r->seg) != KP_OK)
        return c->rc;
    /* enough to list segments? */
    kp_mpd_seg_info *s = &r->seg;
    switch (s->kind) {
    case KP_MPD_SEG_NONE:
        if (as->type != KP_MPD_TEXT)
            return fail_at(c, n, PC_NO_SEGMENT_INFO, KP_EPARSE,
                           "Representation id=\"%.40s\" has no SegmentBase, SegmentTemplate or "
                           "SegmentList",
                           r->id);
        break;
    case KP_MPD_SEG_TEMPLATE:
        if (!s->media)
            return fail_at(c, n, PC_NO_SEGMENT_INFO, KP_EPARSE,
                           "Representation id=\"%.40s\": SegmentTemplate has no @media", r->id);
        if (!s->timeline && !s->duration)
            return fail_at(c, n, PC_NO_SEGMENT_INFO, KP_EPARSE,
                           "Representation id=\"%.40s\": SegmentTemplate has neither @duration nor "
                           "a SegmentTimeline",
                           r->id);
        break;
    case KP_MPD_SEG_BASE:
        if (s->index_range_start < 0)
            return fail_at(c, n, PC_NO_SEGMENT_INFO, KP_EPARSE,
                           "Representation id=\"%.40s\": SegmentBase has no @indexRange", r->id);
        break;
    case KP_MPD_SEG_LIST:
        if (s->n_urls == 0)
            return fail_at(c, n, PC_NO_SEGMENT_INFO, KP_EPARSE,
                           "Representation id=\"%.40s\": SegmentList has no SegmentURL", r->id);
        if (s->timeline)
            return fail_at(c, n, PC_NO_SEGMENT_INFO, KP_ENOTSUP,
                           "Representation id=\"%.40s\": SegmentList with a SegmentTimeline is not "
                           "supported",
                           r->id);
        if (s->n_urls > 1 && !s->duration)
            return fail_at(c, n, PC_NO_SEGMENT_INFO, KP_EPARSE,
                           "Representation id=\"%.40s\": SegmentList of %zu segments has no "
                           "@duration",
                           r->id, s->n_urls);
        break;
    }
    return KP_OK;
}

static void rep_clear(kp_mpd_representation *r)
{
    free(r->id);
    free(r->codecs);
    free(r->mime_type);
    free(r->base_url);
    seg_info_clear(&r->seg);
}

static void adaptation_clear(kp_mpd_adaptation *as)
{
    free(as->id);
    free(as->mime_type);
    free(as->lang);
    free(as->codecs);
    for (size_t i = 0; i < as->n_reps; i++)
        rep_clear(&as->reps[i]);
    free(as->reps);
    for (size_t i = 0; i < as->n_protections; i++)
        protection_clear(&as->protections[i]);
    free(as->protections);
}

static int read_adaptation(ctx *c, const xmlNode *n, const kp_mpd_seg_info *period_seg,
                           const char *base, kp_mpd_adaptation *as)
{
    memset(as, 0, sizeof(*as));
    as->id = attr(n, "id");
    as->mime_type = attr(n, "mimeType");
    as->lang = attr(n, "lang");
    as->codecs = attr(n, "codecs");
    char *ct = attr(n, "contentType");
    as->type = content_of(ct);
    if (ct && as->type == KP_MPD_OTHER && strcasecmp(ct, "image") != 0 &&
        strcasecmp(ct, "application") != 0) {
        FAIL(c, n,
             "AdaptationSet@contentType=\"%.40s\" is not video, audio, text, image or "
             "application",
             ct);
        free(ct);
        return c->rc;
    }
    free(ct);
    if (as->type == KP_MPD_OTHER)
        as->type = content_of(as->mime_type);
    if (as->type == KP_MPD_OTHER) {
        const xmlNode *cc = first_child(n, "ContentComponent");
        char *t = cc ? attr(cc, "contentType") : NULL;
        as->type = content_of(t);
        free(t);
    }
    if (as->type == KP_MPD_OTHER) {
        for (const xmlNode *e = n->children; e && as->type == KP_MPD_OTHER; e = e->next) {
            if (!is_el(e, "Representation"))
                continue;
            char *t = attr(e, "mimeType");
            char *co = attr(e, "codecs");
            as->type = content_of(t);
            if (as->type == KP_MPD_OTHER && (text_codecs(co) || text_codecs(as->codecs)))
                as->type = KP_MPD_TEXT;
            free(t);
            free(co);
        }
    }
    if (as->type == KP_MPD_OTHER && text_codecs(as->codecs))
        as->type = KP_MPD_TEXT;
    char *as_base = resolve_base(c, n, base);
    if (!as_base)
        return c->rc ? c->rc : fail_at(c, n, PC_INVALID_XML, KP_ENOMEM, "%s", "out of memory");
    kp_mpd_seg_info seg;
    if (seg_info_copy(&seg, period_seg) != KP_OK) {
        free(as_base);
        return fail_at(c, n, PC_INVALID_XML, KP_ENOMEM, "%s", "out of memory");
    }
    if (apply_level(c, n, &seg) == KP_OK && add_protection(c, as, n) == KP_OK) {
        size_t count = 0;
        for (const xmlNode *e = n->children; e; e = e->next)
            count += is_el(e, "Representation");
        if (count == 0)
            fail_at(c, n, PC_EMPTY_ADAPTATION_SET, KP_EPARSE,
                    "AdaptationSet%s%s%s has no Representation", as->id ? " id=\"" : "",
                    as->id ? as->id : "", as->id ? "\"" : "");
        else if (!(as->reps = calloc(count, sizeof(*as->reps))))
            fail_at(c, n, PC_INVALID_XML, KP_ENOMEM, "%s", "out of memory");
        for (const xmlNode *e = n->children; e && c->rc == KP_OK; e = e->next) {
            if (!is_el(e, "Representation"))
                continue;
            kp_mpd_representation *r = &as->reps[as->n_reps++];
            if (read_representation(c, e, as, &seg, as_base, r) != KP_OK)
                break;
            add_protection(c, as, e);
        }
    }
    seg_info_clear(&seg);
    free(as_base);
    return c->rc;
}

static void period_clear(kp_mpd_period *p)
{
    free(p->id);
    for (size_t i = 0; i < p->n_sets; i++)
        adaptation_clear(&p->sets[i]);
    free(p->sets);
}

static int read_period(ctx *c, const xmlNode *n, const char *base, kp_mpd_period *p)
{
    memset(p, 0, sizeof(*p));
    p->id = attr(n, "id");
    p->start = -1;
    p->duration = -1;
    bool has;
    double v;
    if (attr_duration(c, n, "start", &v, &has) != KP_OK)
        return c->rc;
    if (has)
        p->start = v;
    if (attr_duration(c, n, "duration", &v, &has) != KP_OK)
        return c->rc;
    if (has)
        p->duration = v;
    if (first_child(n, "AdaptationSet") == NULL)
        return fail_at(c, n, PC_EMPTY_PERIOD, KP_EPARSE, "Period%s%s%s has no AdaptationSet",
                       p->id ? " id=\"" : "", p->id ? p->id : "", p->id ? "\"" : "");
    char *pbase = resolve_base(c, n, base);
    if (!pbase)
        return c->rc ? c->rc : fail_at(c, n, PC_INVALID_XML, KP_ENOMEM, "%s", "out of memory");
    kp_mpd_seg_info seg;
    seg_info_init(&seg);
    size_t count = 0;
    for (const xmlNode *e = n->children; e; e = e->next)
        count += is_el(e, "AdaptationSet");
    if (apply_level(c, n, &seg) == KP_OK) {
        p->sets = calloc(count, sizeof(*p->sets));
        if (!p->sets)
            fail_at(c, n, PC_INVALID_XML, KP_ENOMEM, "%s", "out of memory");
        for (const xmlNode *e = n->children; e && c->rc == KP_OK; e = e->next)
            if (is_el(e, "AdaptationSet"))
                read_adaptation(c, e, &seg, pbase, &p->sets[p->n_sets++]);
    }
    seg_info_clear(&seg);
    free(pbase);
    if (c->rc)
        return c->rc;
    /* Representation ids are unique within a Period */
    for (size_t a = 0; a < p->n_sets; a++)
        for (size_t i = 0; i < p->sets[a].n_reps; i++)
            for (size_t b = a; b < p->n_sets; b++)
                for (size_t j = (b == a ? i + 1 : 0); j < p->sets[b].n_reps; j++)
                    if (strcmp(p->sets[a].reps[i].id, p->sets[b].reps[j].id) == 0)
                        return fail_at(c, n, PC_DUPLICATE_REPRESENTATION_ID, KP_EPARSE,
                                       "two Representations have the id \"%.60s\"",
                                       p->sets[a].reps[i].id);
    return KP_OK;
}

void kp_mpd_free(kp_mpd *mpd)
{
    if (!mpd)
        return;
    for (size_t i = 0; i < mpd->n_periods; i++)
        period_clear(&mpd->periods[i]);
    free(mpd->periods);
    free(mpd);
}

int kp_mpd_parse(const char *data, size_t len, const char *url, kp_mpd **out, kp_mpd_error *err)
{
    *out = NULL;
    kp_mpd_error dummy;
    if (!err)
        err = &dummy;
    memset(err, 0, sizeof(*err));
    ctx c = {.err = err, .rc = KP_OK};
    if (!data || len == 0)
        return fail_at(&c, NULL, PC_INVALID_XML, KP_EPARSE, "%s", "the MPD is empty");
    if (len > INT32_MAX)
        return fail_at(&c, NULL, PC_INVALID_XML, KP_EPARSE, "%s", "the MPD is too large");
    xmlParserCtxtPtr pc = xmlNewParserCtxt();
    if (!pc)
        return fail_at(&c, NULL, PC_INVALID_XML, KP_ENOMEM, "%s", "out of memory");
    xmlDocPtr doc = xmlCtxtReadMemory(pc, data, (int)len, url, NULL,
                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) {
        const xmlError *e = &pc->lastError;
        char msg[200];
        snprintf(msg, sizeof(msg), "%s", e->message ? e->message : "unknown error");
        size_t ml = strlen(msg);
        while (ml && (msg[ml - 1] == '\n' || msg[ml - 1] == ' '))
            msg[--ml] = '\0';
        c.rc = KP_EPARSE;
        err->line = e->line > 0 ? e->line : 0;
        err->pcode = PC_INVALID_XML;
        snprintf(err->msg, sizeof(err->msg), "the MPD is not well-formed XML: %s", msg);
        xmlFreeParserCtxt(pc);
        return c.rc;
    }
    xmlFreeParserCtxt(pc);
    const xmlNode *root = xmlDocGetRootElement(doc);
    kp_mpd *m = calloc(1, sizeof(*m));
    char *base = NULL;
    if (!m) {
        fail_at(&c, NULL, PC_INVALID_XML, KP_ENOMEM, "%s", "out of memory");
        goto done;
    }
    m->duration = -1;
    if (!root || !is_el(root, "MPD")) {
        FAIL(&c, root, "the root element is <%.40s>, not <MPD>",
             root ? (const char *)root->name : "");
        goto done;
    }
    char *type = attr(root, "type");
    if (type && strcmp(type, "dynamic") == 0) {
        m->dynamic = true;
        fail_at(&c, root, PC_UNPLAYABLE_PERIOD, KP_ENOTSUP, "%s",
                "MPD@type=\"dynamic\" (live) is not supported");
    } else if (type && strcmp(type, "static") != 0) {
        FAIL(&c, root, "MPD@type=\"%.40s\" is neither static nor dynamic", type);
    }
    free(type);
    if (c.rc)
        goto done;
    bool has;
    double v;
    if (attr_duration(&c, root, "mediaPresentationDuration", &v, &has) != KP_OK)
        goto done;
    if (has)
        m->duration = v;
    if (attr_duration(&c, root, "minBufferTime", &v, &has) != KP_OK)
        goto done;
    if (has)
        m->min_buffer_time = v;
    base = resolve_base(&c, root, url);
    if (!base) {
        if (!c.rc)
            fail_at(&c, root, PC_INVALID_XML, KP_ENOMEM, "%s", "out of memory");
        goto done;
    }
    size_t count = 0;
    for (const xmlNode *e = root->children; e; e = e->next)
        count += is_el(e, "Period");
    if (count == 0) {
        fail_at(&c, root, PC_NO_PERIODS, KP_EPARSE, "%s", "the MPD has no Period");
        goto done;
    }
    m->periods = calloc(count, sizeof(*m->periods));
    if (!m->periods) {
        fail_at(&c, root, PC_INVALID_XML, KP_ENOMEM, "%s", "out of memory");
        goto done;
    }
    const xmlNode *pnodes[64];
    for (const xmlNode *e = root->children; e && c.rc == KP_OK; e = e->next) {
        if (!is_el(e, "Period"))
            continue;
        if (m->n_periods < 64)
            pnodes[m->n_periods] = e;
        read_period(&c, e, base, &m->periods[m->n_periods++]);
    }
    if (c.rc)
        goto done;
    /* period timing (static MPD): start defaults to the previous period's end, 0 first */
    for (size_t i = 0; i < m->n_periods; i++) {
        kp_mpd_period *p = &m->periods[i];
        const xmlNode *pn = i < 64 ? pnodes[i] : root;
        if (p->start < 0) {
            if (i == 0)
                p->start = 0;
            else if (m->periods[i - 1].duration >= 0)
                p->start = m->periods[i - 1].start + m->periods[i - 1].duration;
            else {
                FAIL(&c, pn, "Period %zu has no @start and the previous one no @duration", i + 1);
                goto done;
            }
        }
        if (i > 0 && p->start < m->periods[i - 1].start) {
            FAIL(&c, pn, "Period %zu starts before the previous one", i + 1);
            goto done;
        }
    }
    for (size_t i = 0; i < m->n_periods; i++) {
        kp_mpd_period *p = &m->periods[i];
        if (p->duration >= 0)
            continue;
        if (i + 1 < m->n_periods)
            p->duration = m->periods[i + 1].start - p->start;
        else if (m->duration >= 0)
            p->duration = m->duration - p->start >= 0 ? m->duration - p->start : 0;
    }
    if (m->duration < 0 && m->periods[m->n_periods - 1].duration >= 0)
        m->duration = m->periods[m->n_periods - 1].start + m->periods[m->n_periods - 1].duration;
    if (m->duration < 0) {
        FAIL(&c, root, "%s",
             "a static MPD needs @mediaPresentationDuration or a last Period with @duration");
        goto done;
    }
done:
    free(base);
    xmlFreeDoc(doc);
    if (c.rc != KP_OK) {
        kp_mpd_free(m);
        return c.rc;
    }
    *out = m;
    return KP_OK;
}

/* ---- templates ---- */

static void put_number(kp_buf *b, uint64_t v, int width, char conv)
{
    unsigned long long x = (unsigned long long)v;
    if (conv == 'x')
        kp_buf_printf(b, "%0*llx", width, x);
    else if (conv == 'X')
        kp_buf_printf(b, "%0*llX", width, x);
    else if (conv == 'o')
        kp_buf_printf(b, "%0*llo", width, x);
    else
        kp_buf_printf(b, "%0*llu", width, x);
}

char *kp_mpd_expand(const char *tmpl, const char *rep_id, uint64_t number, uint64_t time,
                    long long bandwidth, char *err, size_t errlen)
{
    kp_buf b;
    kp_buf_init(&b);
    const char *p = tmpl;
    while (*p) {
        const char *d = strchr(p, '$');
        if (!d) {
            kp_buf_puts(&b, p);
            break;
        }
        kp_buf_append(&b, p, (size_t)(d - p));
        const char *e = strchr(d + 1, '$');
        if (!e) {
            snprintf(err, errlen, "an unterminated $ identifier at offset %d", (int)(d - tmpl));
            kp_buf_free(&b);
            return NULL;
        }
        size_t n = (size_t)(e - d - 1);
        p = e + 1;
        if (n == 0) {
            kp_buf_putc(&b, '$');
            continue;
        }
        const char *id = d + 1;
        const char *pct = memchr(id, '%', n);
        size_t idlen = pct ? (size_t)(pct - id) : n;
        int width = 0;
        char conv = 'u';
        if (pct) {
            /* %0<width><d|i|u|x|X|o> */
            const char *f = pct + 1;
            size_t flen = (size_t)(e - f);
            bool ok = flen >= 3 && flen <= 4 && f[0] == '0' && strchr("diuxXo", f[flen - 1]);
            for (size_t k = 1; ok && k + 1 < flen; k++)
                ok = isdigit((unsigned char)f[k]);
            if (!ok) {
                snprintf(err, errlen, "the format \"%.*s\" of $%.*s$ is not %%0<width>d",
                         (int)(e - pct > 20 ? 20 : e - pct), pct, (int)(idlen > 40 ? 40 : idlen),
                         id);
                kp_buf_free(&b);
                return NULL;
            }
            width = atoi(f + 1);
            conv = f[flen - 1];
        }
        if (idlen == 16 && strncmp(id, "RepresentationID", 16) == 0) {
            if (pct) {
                snprintf(err, errlen, "$RepresentationID$ takes no format");
                kp_buf_free(&b);
                return NULL;
            }
            kp_buf_puts(&b, rep_id);
        } else if (idlen == 6 && strncmp(id, "Number", 6) == 0) {
            put_number(&b, number, width, conv);
        } else if (idlen == 4 && strncmp(id, "Time", 4) == 0) {
            put_number(&b, time, width, conv);
        } else if (idlen == 9 && strncmp(id, "Bandwidth", 9) == 0) {
            put_number(&b, (uint64_t)bandwidth, width, conv);
        } else {
            snprintf(err, errlen, "unknown identifier $%.*s$", (int)(idlen > 40 ? 40 : idlen), id);
            kp_buf_free(&b);
            return NULL;
        }
    }
    if (!b.data)
        kp_buf_reserve(&b, 0);
    if (!b.data)
        snprintf(err, errlen, "out of memory");
    return kp_buf_steal(&b);
}

/* ---- segment lists ---- */

void kp_mpd_segments_free(kp_mpd_segments *s)
{
    if (!s)
        return;
    free(s->init.url);
    free(s->index.url);
    for (size_t i = 0; i < s->n; i++)
        free(s->segs[i].url);
    free(s->segs);
    memset(s, 0, sizeof(*s));
}

typedef struct seglist {
    kp_mpd_segments *out;
    size_t cap;
    kp_mpd_error *err;
} seglist;

static int seg_err(kp_mpd_error *err, int pcode, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int seg_err(kp_mpd_error *err, int pcode, int rc, const char *fmt, ...)
{
    if (err) {
        err->line = 0;
        err->pcode = pcode;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return rc;
}

static int push_seg(seglist *l, char *url, long long a, long long b, double start, double dur,
                    uint64_t number)
{
    kp_mpd_segments *o = l->out;
    if (!url)
        return seg_err(l->err, PC_NO_SEGMENT_INFO, KP_ENOMEM, "out of memory");
    if (o->n >= KP_MPD_MAX_SEGMENTS) {
        free(url);
        return seg_err(l->err, PC_NO_SEGMENT_INFO, KP_ERANGE,
                       "the representation has more than %d segments", KP_MPD_MAX_SEGMENTS);
    }
    if (o->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        kp_mpd_segment *ns = realloc(o->segs, cap * sizeof(*ns));
        if (!ns) {
            free(url);
            return seg_err(l->err, PC_NO_SEGMENT_INFO, KP_ENOMEM, "out of memory");
        }
        o->segs = ns;
        l->cap = cap;
    }
    o->segs[o->n++] = (kp_mpd_segment){url, a, b, start, dur, number};
    return KP_OK;
}

static char *expand_url(const kp_mpd_representation *r, const char *t, uint64_t number,
                        uint64_t time, kp_mpd_error *err)
{
    char e[160];
    char *x = kp_mpd_expand(t, r->id, number, time, r->bandwidth, e, sizeof(e));
    if (!x) {
        seg_err(err, PC_NO_SEGMENT_INFO, KP_EPARSE, "Representation id=\"%.40s\": %s", r->id, e);
        return NULL;
    }
    char *u = kp_url_resolve(r->base_url, x);
    free(x);
    return u;
}

int kp_mpd_segments_of(const kp_mpd_period *p, const kp_mpd_representation *r, kp_mpd_segments *out,
                       kp_mpd_error *err)
{
    memset(out, 0, sizeof(*out));
    out->init.range_start = out->init.range_end = -1;
    out->index.range_start = out->index.range_end = -1;
    const kp_mpd_seg_info *s = &r->seg;
    seglist l = {.out = out, .err = err};
    double ts = (double)s->timescale;
    double pend = p->duration >= 0 ? p->duration : -1; /* period-relative end */
    int rc = KP_OK;
    if (s->initialization) {
        out->init.url = s->kind == KP_MPD_SEG_TEMPLATE
                            ? expand_url(r, s->initialization, 0, 0, err)
                            : kp_url_resolve(r->base_url, s->initialization);
        if (!out->init.url) {
            kp_mpd_segments_free(out);
            return s->kind == KP_MPD_SEG_TEMPLATE ? KP_EPARSE : KP_ENOMEM;
        }
        out->init.range_start = s->init_range_start;
        out->init.range_end = s->init_range_end;
    }
    switch (s->kind) {
    case KP_MPD_SEG_NONE:
        rc = push_seg(&l, kp_strdup(r->base_url), -1, -1, p->start, pend >= 0 ? pend : 0, 1);
        break;
    case KP_MPD_SEG_BASE:
        out->index.url = kp_strdup(r->base_url);
        out->index.range_start = s->index_range_start;
        out->index.range_end = s->index_range_end;
        if (!out->index.url)
            rc = seg_err(err, PC_NO_SEGMENT_INFO, KP_ENOMEM, "out of memory");
        break;
    case KP_MPD_SEG_LIST:
        for (size_t i = 0; i < s->n_urls && rc == KP_OK; i++) {
            const kp_mpd_seg_url *u = &s->urls[i];
            double start = s->duration ? (double)i * (double)s->duration / ts : 0;
            double dur = s->duration ? (double)s->duration / ts : (pend >= 0 ? pend : 0);
            if (pend >= 0 && start >= pend)
                break;
            if (pend >= 0 && start + dur > pend)
                dur = pend - start;
            char *url = kp_url_resolve(r->base_url, u->media ? u->media : "");
            rc = push_seg(&l, url, u->range_start, u->range_end, p->start + start, dur,
                          s->start_number + i);
        }
        break;
    case KP_MPD_SEG_TEMPLATE:
        if (s->timeline) {
            uint64_t t = 0;
            uint64_t number = s->start_number;
            double end_units = pend >= 0 ? pend * ts + (double)s->pto : -1;
            for (size_t i = 0; i < s->n_timeline && rc == KP_OK; i++) {
                const kp_mpd_s *e = &s->timeline[i];
                if (e->has_t) {
                    if (i > 0 && e->t < t) {
                        rc = seg_err(err, PC_NO_SEGMENT_INFO, KP_EPARSE,
                                     "Representation id=\"%.40s\": SegmentTimeline S %zu has "
                                     "@t=%" PRIu64 " before the previous S's end %" PRIu64,
                                     r->id, i + 1, e->t, t);
                        break;
                    }
                    t = e->t;
                }
                int64_t repeat = e->r;
                if (repeat < 0) {
                    /* until the next S@t, else the period end */
                    double limit = -1;
                    if (i + 1 < s->n_timeline && s->timeline[i + 1].has_t)
                        limit = (double)s->timeline[i + 1].t;
                    else if (end_units >= 0)
                        limit = end_units;
                    if (limit < 0) {
                        rc = seg_err(err, PC_NO_SEGMENT_INFO, KP_EPARSE,
                                     "Representation id=\"%.40s\": S@r=-1 with no following S@t "
                                     "and no Period end",
                                     r->id);
                        break;
                    }
                    double count = ceil((limit - (double)t) / (double)e->d);
                    if (count > KP_MPD_MAX_SEGMENTS) {
                        rc = seg_err(err, PC_NO_SEGMENT_INFO, KP_ERANGE,
                                     "Representation id=\"%.40s\": S@r=-1 makes more than %d "
                                     "segments",
                                     r->id, KP_MPD_MAX_SEGMENTS);
                        break;
                    }
                    repeat = count > 0 ? (int64_t)count - 1 : -1;
                }
                for (int64_t k = 0; k <= repeat && rc == KP_OK; k++) {
                    double start = ((double)t - (double)s->pto) / ts;
                    if (pend >= 0 && start >= pend - 1e-6)
                        break; /* past the period end */
                    char *url = expand_url(r, s->media, number, t, err);
                    if (!url)
                        rc = KP_EPARSE;
                    else
                        rc = push_seg(&l, url, -1, -1, p->start + start, (double)e->d / ts, number);
                    if (t > UINT64_MAX - e->d) {
                        rc = seg_err(err, PC_NO_SEGMENT_INFO, KP_ERANGE,
                                     "Representation id=\"%.40s\": SegmentTimeline overflows",
                                     r->id);
                        break;
                    }
                    t += e->d;
                    number++;
                }
            }
        } else {
            if (pend < 0) {
                rc = seg_err(err, PC_NO_SEGMENT_INFO, KP_EPARSE,
                             "Representation id=\"%.40s\": SegmentTemplate@duration with no "
                             "Period end",
                             r->id);
                break;
            }
            double seg_dur = (double)s->duration / ts;
            double count = ceil(pend / seg_dur - 1e-9);
            if (count > KP_MPD_MAX_SEGMENTS) {
                rc = seg_err(err, PC_NO_SEGMENT_INFO, KP_ERANGE,
                             "Representation id=\"%.40s\": @duration makes more than %d segments",
                             r->id, KP_MPD_MAX_SEGMENTS);
                break;
            }
            for (uint64_t k = 0; k < (uint64_t)count && rc == KP_OK; k++) {
                double start = (double)k * seg_dur;
                double dur = start + seg_dur > pend ? pend - start : seg_dur;
                uint64_t number = s->start_number + k;
                uint64_t time = k * s->duration + s->pto;
                char *url = expand_url(r, s->media, number, time, err);
                rc = url ? push_seg(&l, url, -1, -1, p->start + start, dur, number) : KP_EPARSE;
            }
        }
        break;
    }
    if (rc != KP_OK)
        kp_mpd_segments_free(out);
    return rc;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

int kp_mpd_sidx_parse(const uint8_t *data, size_t len, const kp_mpd_period *p,
                      const kp_mpd_representation *r, kp_mpd_segments *out, kp_mpd_error *err)
{
    if (!data || len < 8)
        return seg_err(err, PC_SIDX_WRONG_BOX_TYPE, KP_EPARSE,
                       "the index range holds %zu bytes, not a box", len);
    uint64_t size = be32(data);
    size_t hdr = 8;
    if (size == 1) {
        if (len < 16)
            return seg_err(err, PC_SIDX_WRONG_BOX_TYPE, KP_EPARSE, "a truncated box header");
        size = be64(data + 8);
        hdr = 16;
    } else if (size == 0) {
        size = len;
    }
    if (memcmp(data + 4, "sidx", 4) != 0)
        return seg_err(err, PC_SIDX_WRONG_BOX_TYPE, KP_EPARSE,
                       "the index range holds a '%c%c%c%c' box, not 'sidx'",
                       isprint(data[4]) ? data[4] : '?', isprint(data[5]) ? data[5] : '?',
                       isprint(data[6]) ? data[6] : '?', isprint(data[7]) ? data[7] : '?');
    if (size > len || size < hdr + 4)
        return seg_err(err, PC_SIDX_WRONG_BOX_TYPE, KP_EPARSE,
                       "the sidx box says %" PRIu64 " bytes, %zu are there", size, len);
    const uint8_t *b = data + hdr;
    size_t left = (size_t)size - hdr;
    int version = b[0];
    size_t need = 4 + 4 + 4 + (version == 0 ? 8 : 16) + 4;
    if (left < need)
        return seg_err(err, PC_SIDX_WRONG_BOX_TYPE, KP_EPARSE, "the sidx box is truncated");
    uint32_t timescale = be32(b + 8);
    if (timescale == 0)
        return seg_err(err, PC_SIDX_INVALID_TIMESCALE, KP_EPARSE, "the sidx timescale is 0");
    uint64_t ept, first_offset;
    const uint8_t *q = b + 12;
    if (version == 0) {
        ept = be32(q);
        first_offset = be32(q + 4);
        q += 8;
    } else {
        ept = be64(q);
        first_offset = be64(q + 8);
        q += 16;
    }
    unsigned count = (unsigned)q[2] << 8 | q[3];
    q += 4;
    if ((size_t)(q - b) + (size_t)count * 12 > left)
        return seg_err(err, PC_SIDX_WRONG_BOX_TYPE, KP_EPARSE,
                       "the sidx box lists %u references but holds %zu bytes", count, left);
    /* offsets count from the first byte after the sidx box */
    long long base = out->index.range_start >= 0 ? out->index.range_start : 0;
    uint64_t offset = (uint64_t)base + size + first_offset;
    uint64_t t = ept;
    double ts = (double)timescale;
    double pto = (double)r->seg.pto / (double)r->seg.timescale;
    seglist l = {.out = out, .cap = out->n, .err = err};
    for (unsigned i = 0; i < count; i++) {
        uint32_t ref = be32(q), dur = be32(q + 4);
        q += 12;
        if (ref & 0x80000000u)
            return seg_err(err, PC_SIDX_TYPE_NOT_SUPPORTED, KP_ENOTSUP,
                           "sidx reference %u points at another sidx (hierarchical index)", i + 1);
        uint32_t rsize = ref & 0x7fffffffu;
        if (rsize == 0 || offset > (uint64_t)INT64_MAX / 2)
            return seg_err(err, PC_SIDX_WRONG_BOX_TYPE, KP_EPARSE,
                           "sidx reference %u has size 0 or overflows", i + 1);
        double start = (double)t / ts - pto;
        int rc = push_seg(&l, kp_strdup(r->base_url), (long long)offset,
                          (long long)(offset + rsize - 1), p->start + start, dur / ts, i + 1);
        if (rc != KP_OK)
            return rc;
        offset += rsize;
        t += dur;
    }
    if (count == 0)
        return seg_err(err, PC_SIDX_WRONG_BOX_TYPE, KP_EPARSE, "the sidx box lists no segment");
    return KP_OK;
}
