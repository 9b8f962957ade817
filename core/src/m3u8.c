/* m3u8.c: a strict, line-oriented HLS playlist parser. */
#include "m3u8.h"

#include "kp/buf.h"
#include "kp/err.h"
#include "kp/perror.h"
#include "url.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIXED_MSG "the playlist mixes EXT-X-STREAM-INF variants and media segments"

typedef struct parser {
    kp_m3u8 *pl;
    kp_m3u8_error *err;
    const char *base;
    int line;
} parser;

static int fail(parser *p, int pcode, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(parser *p, int pcode, const char *fmt, ...)
{
    if (p->err) {
        p->err->line = p->line;
        p->err->pcode = pcode;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
        va_end(ap);
    }
    return KP_EPARSE;
}

/* Finds attribute `name` in an attribute list "A=1,B="x,y",C=..."; returns a malloc'd value
 * without quotes, or NULL when absent. *bad is set when the list is malformed. */
static char *attr_get(const char *list, const char *name, bool *bad)
{
    size_t nlen = strlen(name);
    const char *p = list;
    while (*p) {
        const char *eq = strchr(p, '=');
        if (!eq) {
            *bad = true;
            return NULL;
        }
        size_t klen = (size_t)(eq - p);
        const char *v = eq + 1;
        const char *vend;
        bool quoted = *v == '"';
        if (quoted) {
            vend = strchr(v + 1, '"');
            if (!vend) {
                *bad = true;
                return NULL;
            }
            vend++;
        } else {
            vend = v + strcspn(v, ",");
        }
        if (klen == nlen && strncmp(p, name, nlen) == 0)
            return quoted ? kp_strndup(v + 1, (size_t)(vend - v - 2))
                          : kp_strndup(v, (size_t)(vend - v));
        p = vend;
        if (*p == ',')
            p++;
        else if (*p) {
            *bad = true;
            return NULL;
        }
    }
    return NULL;
}

static bool parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !isfinite(v) || v < 0)
        return false;
    while (*end == ' ')
        end++;
    if (*end && *end != ',')
        return false;
    *out = v;
    return true;
}

static bool parse_long(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || errno || v < 0)
        return false;
    *out = v;
    return true;
}

static int on_stream_inf(parser *p, const char *attrs, kp_m3u8_variant *v)
{
    bool bad = false;
    char *bw = attr_get(attrs, "BANDWIDTH", &bad);
    char *abw = attr_get(attrs, "AVERAGE-BANDWIDTH", &bad);
    char *res = attr_get(attrs, "RESOLUTION", &bad);
    char *fr = attr_get(attrs, "FRAME-RATE", &bad);
    v->codecs = attr_get(attrs, "CODECS", &bad);
    v->audio = attr_get(attrs, "AUDIO", &bad);
    int rc = KP_OK;
    long long n;
    if (bad)
        rc = fail(p, KP_PCODE_INVALID_HLS_TAG, "malformed attribute list in EXT-X-STREAM-INF");
    else if (!bw)
        rc = fail(p, KP_PCODE_HLS_REQUIRED_ATTRIBUTE_MISSING,
                  "EXT-X-STREAM-INF without the required BANDWIDTH attribute");
    else if (!parse_long(bw, &n))
        rc = fail(p, KP_PCODE_INVALID_HLS_TAG, "BANDWIDTH '%s' is not a decimal integer", bw);
    else
        v->bandwidth = (long)n;
    if (rc == KP_OK && abw) {
        if (parse_long(abw, &n))
            v->average_bandwidth = (long)n;
        else
            rc = fail(p, KP_PCODE_INVALID_HLS_TAG, "AVERAGE-BANDWIDTH '%s' is not an integer", abw);
    }
    if (rc == KP_OK && res && sscanf(res, "%dx%d", &v->width, &v->height) != 2)
        rc = fail(p, KP_PCODE_INVALID_HLS_TAG, "RESOLUTION '%s' is not WIDTHxHEIGHT", res);
    if (rc == KP_OK && fr && !parse_double(fr, &v->frame_rate))
        rc = fail(p, KP_PCODE_INVALID_HLS_TAG, "FRAME-RATE '%s' is not a number", fr);
    free(bw);
    free(abw);
    free(res);
    free(fr);
    if (rc != KP_OK) {
        free(v->codecs);
        free(v->audio);
        v->codecs = v->audio = NULL;
    }
    return rc;
}

/* "0x" + 1 to 32 hex digits, as a big-endian 128-bit integer (left-padded with zeros). */
static bool parse_iv(const char *s, unsigned char out[16])
{
    if (!s || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
        return false;
    const char *h = s + 2;
    size_t n = strlen(h);
    if (n == 0 || n > 32)
        return false;
    memset(out, 0, 16);
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)h[n - 1 - i], v;
        if (c >= '0' && c <= '9')
            v = c - '0';
        else if (c >= 'a' && c <= 'f')
            v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v = c - 'A' + 10;
        else
            return false;
        out[15 - i / 2] |= (unsigned char)(i % 2 ? v << 4 : v);
    }
    return true;
}

static void media_free(kp_m3u8_media *m)
{
    free(m->type);
    free(m->group_id);
    free(m->name);
    free(m->language);
    free(m->uri);
}

static int on_media(parser *p, const char *attrs)
{
    bool bad = false;
    kp_m3u8 *pl = p->pl;
    kp_m3u8_media m = {0};
    m.type = attr_get(attrs, "TYPE", &bad);
    m.group_id = attr_get(attrs, "GROUP-ID", &bad);
    m.name = attr_get(attrs, "NAME", &bad);
    m.language = attr_get(attrs, "LANGUAGE", &bad);
    char *uri = attr_get(attrs, "URI", &bad);
    char *def = attr_get(attrs, "DEFAULT", &bad);
    m.is_default = def && strcmp(def, "YES") == 0;
    free(def);
    int rc = KP_OK;
    if (bad)
        rc = fail(p, KP_PCODE_INVALID_HLS_TAG, "malformed attribute list in EXT-X-MEDIA");
    else if (!m.type || !m.group_id || !m.name)
        rc = fail(p, KP_PCODE_HLS_REQUIRED_ATTRIBUTE_MISSING, "EXT-X-MEDIA without %s",
                  !m.type       ? "TYPE"
                  : !m.group_id ? "GROUP-ID"
                                : "NAME");
    if (rc == KP_OK && uri) {
        m.uri = kp_url_resolve(p->base, uri);
        if (!m.uri)
            rc = KP_ENOMEM;
    }
    free(uri);
    if (rc == KP_OK) {
        kp_m3u8_media *ms = realloc(pl->media, (pl->n_media + 1) * sizeof(*ms));
        if (!ms) {
            rc = KP_ENOMEM;
        } else {
            pl->media = ms;
            pl->media[pl->n_media++] = m;
            return KP_OK;
        }
    }
    media_free(&m);
    return rc;
}

static int on_key(parser *p, const char *attrs)
{
    bool bad = false;
    kp_m3u8 *pl = p->pl;
    kp_m3u8_key k = {0};
    k.method = attr_get(attrs, "METHOD", &bad);
    char *uri = attr_get(attrs, "URI", &bad);
    k.iv = attr_get(attrs, "IV", &bad);
    k.keyformat = attr_get(attrs, "KEYFORMAT", &bad);
    int rc = KP_OK;
    if (bad)
        rc = fail(p, KP_PCODE_INVALID_HLS_TAG, "malformed attribute list in EXT-X-KEY");
    else if (!k.method)
        rc = fail(p, KP_PCODE_HLS_REQUIRED_ATTRIBUTE_MISSING, "EXT-X-KEY without METHOD");
    else if (strcmp(k.method, "NONE") != 0 && !uri)
        rc = fail(p, KP_PCODE_HLS_REQUIRED_ATTRIBUTE_MISSING, "EXT-X-KEY METHOD=%s without URI",
                  k.method);
    else if (k.iv && !(k.has_iv = parse_iv(k.iv, k.iv_bytes)))
        rc = fail(p, KP_PCODE_INVALID_HLS_TAG,
                  "EXT-X-KEY IV '%.40s' is not 0x and 1 to 32 hex digits", k.iv);
    if (rc == KP_OK && uri)
        k.uri = kp_url_resolve(p->base, uri);
    free(uri);
    if (rc == KP_OK) {
        kp_m3u8_key *ks = realloc(pl->keys, (pl->n_keys + 1) * sizeof(*ks));
        if (!ks) {
            rc = KP_ENOMEM;
        } else {
            pl->keys = ks;
            pl->keys[pl->n_keys++] = k;
            return KP_OK;
        }
    }
    free(k.method);
    free(k.uri);
    free(k.iv);
    free(k.keyformat);
    return rc;
}

static int add_segment(kp_m3u8 *pl, const kp_m3u8_segment *s)
{
    kp_m3u8_segment *segs = realloc(pl->segments, (pl->n_segments + 1) * sizeof(*segs));
    if (!segs)
        return KP_ENOMEM;
    pl->segments = segs;
    pl->segments[pl->n_segments++] = *s;
    return KP_OK;
}

static int add_variant(kp_m3u8 *pl, const kp_m3u8_variant *v)
{
    kp_m3u8_variant *vs = realloc(pl->variants, (pl->n_variants + 1) * sizeof(*vs));
    if (!vs)
        return KP_ENOMEM;
    pl->variants = vs;
    pl->variants[pl->n_variants++] = *v;
    return KP_OK;
}

static int parse_lines(parser *p, const char *text, size_t len)
{
    kp_m3u8 *pl = p->pl;
    bool have_header = false, have_target = false;
    bool pending_inf = false, pending_stream = false, disc = false;
    int pending_line = 0; /* line of the tag waiting for its URI line */
    double inf_duration = 0;
    kp_m3u8_variant var = {0};
    int rc = KP_OK;
    const char *pos = text, *end = text + len;
    p->line = 0;
    while (pos < end && rc == KP_OK) {
        const char *nl = memchr(pos, '\n', (size_t)(end - pos));
        const char *lend = nl ? nl : end;
        p->line++;
        char *line = kp_strndup(pos, (size_t)(lend - pos));
        pos = nl ? nl + 1 : end;
        if (!line)
            return KP_ENOMEM;
        size_t l = strlen(line);
        while (l && (line[l - 1] == '\r' || line[l - 1] == ' ' || line[l - 1] == '\t'))
            line[--l] = '\0';
        if (p->line == 1 && (unsigned char)line[0] == 0xEF && strncmp(line, "\xEF\xBB\xBF", 3) == 0)
            memmove(line, line + 3, l - 2);
        if (!have_header) {
            if (strcmp(line, "#EXTM3U") != 0) {
                rc = fail(p, KP_PCODE_HLS_PLAYLIST_HEADER_MISSING,
                          "the playlist does not start with #EXTM3U");
                free(line);
                break;
            }
            have_header = true;
        } else if (line[0] == '\0') {
            /* blank lines are ignored */
        } else if (strncmp(line, "#EXT", 4) == 0) {
            const char *tag = line + 1;
            const char *colon = strchr(line, ':');
            const char *val = colon ? colon + 1 : "";
            if (strncmp(tag, "EXTINF:", 7) == 0) {
                if (pl->is_master)
                    rc = fail(p, KP_PCODE_INVALID_HLS_TAG, MIXED_MSG);
                else if (!parse_double(val, &inf_duration))
                    rc = fail(p, KP_PCODE_INVALID_HLS_TAG, "EXTINF duration '%s' is not a number",
                              val);
                pending_inf = true;
                pending_line = p->line;
            } else if (strncmp(tag, "EXT-X-STREAM-INF:", 17) == 0) {
                free(var.codecs); /* a previous STREAM-INF still waiting for its URI */
                free(var.audio);
                memset(&var, 0, sizeof(var));
                if (pl->n_segments || pending_inf)
                    rc = fail(p, KP_PCODE_INVALID_HLS_TAG, MIXED_MSG);
                else
                    rc = on_stream_inf(p, val, &var);
                pending_stream = rc == KP_OK;
                pending_line = p->line;
                pl->is_master = true;
            } else if (strncmp(tag, "EXT-X-TARGETDURATION:", 21) == 0) {
                if (!parse_double(val, &pl->target_duration))
                    rc = fail(p, KP_PCODE_INVALID_HLS_TAG,
                              "EXT-X-TARGETDURATION '%s' is not a number", val);
                have_target = true;
            } else if (strncmp(tag, "EXT-X-VERSION:", 14) == 0) {
                long long v;
                if (!parse_long(val, &v))
                    rc = fail(p, KP_PCODE_INVALID_HLS_TAG, "EXT-X-VERSION '%s' is not an integer",
                              val);
                else
                    pl->version = (int)v;
            } else if (strncmp(tag, "EXT-X-MEDIA-SEQUENCE:", 21) == 0) {
                if (!parse_long(val, &pl->media_sequence))
                    rc = fail(p, KP_PCODE_INVALID_HLS_TAG,
                              "EXT-X-MEDIA-SEQUENCE '%s' is not an integer", val);
            } else if (strncmp(tag, "EXT-X-PLAYLIST-TYPE:", 20) == 0) {
                free(pl->playlist_type);
                pl->playlist_type = kp_strdup(val);
            } else if (strcmp(tag, "EXT-X-ENDLIST") == 0) {
                pl->endlist = true;
            } else if (strcmp(tag, "EXT-X-DISCONTINUITY") == 0) {
                disc = true;
            } else if (strcmp(tag, "EXT-X-INDEPENDENT-SEGMENTS") == 0) {
                pl->independent_segments = true;
            } else if (strncmp(tag, "EXT-X-KEY:", 10) == 0) {
                rc = on_key(p, val);
            } else if (strncmp(tag, "EXT-X-MEDIA:", 12) == 0) {
                if (pl->n_segments || pending_inf)
                    rc = fail(p, KP_PCODE_INVALID_HLS_TAG, MIXED_MSG);
                else
                    rc = on_media(p, val);
            } else if (strncmp(tag, "EXT-X-MAP:", 10) == 0) {
                bool bad = false;
                char *uri = attr_get(val, "URI", &bad);
                if (bad || !uri)
                    rc = fail(p, KP_PCODE_HLS_REQUIRED_ATTRIBUTE_MISSING,
                              "EXT-X-MAP without a URI attribute");
                else {
                    free(pl->map_uri);
                    pl->map_uri = kp_url_resolve(p->base, uri);
                }
                free(uri);
            }
            /* other tags (EXT-X-PROGRAM-DATE-TIME, ...) are not needed yet */
        } else if (line[0] == '#') {
            /* comment */
        } else if (pending_stream) {
            var.uri = kp_url_resolve(p->base, line);
            rc = var.uri ? add_variant(pl, &var) : KP_ENOMEM;
            if (rc != KP_OK) {
                free(var.uri);
                free(var.codecs);
                free(var.audio);
            }
            memset(&var, 0, sizeof(var));
            pending_stream = false;
        } else if (pending_inf) {
            kp_m3u8_segment s = {
                .uri = kp_url_resolve(p->base, line),
                .duration = inf_duration,
                .sequence = pl->media_sequence + (long long)pl->n_segments,
                .start = pl->total_duration,
                .discontinuity = disc,
                .key_index = pl->n_keys ? (int)pl->n_keys - 1 : -1,
            };
            if (s.key_index >= 0 && strcmp(pl->keys[s.key_index].method, "NONE") == 0)
                s.key_index = -1;
            rc = s.uri ? add_segment(pl, &s) : KP_ENOMEM;
            if (rc != KP_OK)
                free(s.uri);
            pl->total_duration += inf_duration;
            pending_inf = false;
            disc = false;
        } else {
            rc = fail(p, KP_PCODE_INVALID_HLS_TAG, "URI line '%.60s' without a preceding EXTINF",
                      line);
        }
        free(line);
    }
    if (pending_stream) {
        free(var.codecs);
        free(var.audio);
    }
    if (rc != KP_OK)
        return rc;
    if (!have_header) {
        p->line = 0;
        return fail(p, KP_PCODE_HLS_PLAYLIST_HEADER_MISSING, "empty playlist (no #EXTM3U)");
    }
    if (pending_inf || pending_stream) {
        p->line = pending_line;
        return fail(p, KP_PCODE_HLS_REQUIRED_TAG_MISSING,
                    "the playlist ends after a tag that needs a URI line");
    }
    if (pl->is_master && !pl->n_variants) {
        p->line = 0;
        return fail(p, KP_PCODE_HLS_REQUIRED_TAG_MISSING, "master playlist without variants");
    }
    if (!pl->is_master) {
        p->line = 0;
        if (!have_target)
            return fail(p, KP_PCODE_HLS_REQUIRED_TAG_MISSING,
                        "media playlist without EXT-X-TARGETDURATION");
        if (!pl->n_segments)
            return fail(p, KP_PCODE_HLS_REQUIRED_TAG_MISSING, "media playlist without segments");
    }
    return KP_OK;
}

int kp_m3u8_parse(const char *text, size_t len, const char *base_url, kp_m3u8 **out,
                  kp_m3u8_error *err)
{
    *out = NULL;
    if (err)
        memset(err, 0, sizeof(*err));
    kp_m3u8 *pl = calloc(1, sizeof(*pl));
    if (!pl)
        return KP_ENOMEM;
    if (memchr(text, '\0', len)) {
        kp_m3u8_free(pl);
        parser p0 = {.err = err};
        return fail(&p0, KP_PCODE_HLSJS_CANNOT_PARSE, "the playlist contains a NUL byte");
    }
    parser p = {.pl = pl, .err = err, .base = base_url};
    int rc = parse_lines(&p, text, len);
    if (rc != KP_OK) {
        kp_m3u8_free(pl);
        return rc;
    }
    *out = pl;
    return KP_OK;
}

void kp_m3u8_free(kp_m3u8 *pl)
{
    if (!pl)
        return;
    for (size_t i = 0; i < pl->n_variants; i++) {
        free(pl->variants[i].uri);
        free(pl->variants[i].codecs);
        free(pl->variants[i].audio);
    }
    free(pl->variants);
    for (size_t i = 0; i < pl->n_media; i++)
        media_free(&pl->media[i]);
    free(pl->media);
    for (size_t i = 0; i < pl->n_segments; i++)
        free(pl->segments[i].uri);
    free(pl->segments);
    for (size_t i = 0; i < pl->n_keys; i++) {
        free(pl->keys[i].method);
        free(pl->keys[i].uri);
        free(pl->keys[i].iv);
        free(pl->keys[i].keyformat);
    }
    free(pl->keys);
    free(pl->playlist_type);
    free(pl->map_uri);
    free(pl);
}

const kp_m3u8_media *kp_m3u8_audio_rendition(const kp_m3u8 *master, const kp_m3u8_variant *v)
{
    const kp_m3u8_media *best = NULL;
    for (size_t i = 0; master && v && v->audio && i < master->n_media; i++) {
        const kp_m3u8_media *md = &master->media[i];
        if (md->type && strcmp(md->type, "AUDIO") == 0 && md->group_id &&
            strcmp(md->group_id, v->audio) == 0 && md->uri &&
            (!best || (md->is_default && !best->is_default)))
            best = md;
    }
    return best;
}
