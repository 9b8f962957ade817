/* cdn.c: playManifest (the URL the provider builds) and the media it leads to, with Kaltura's
 * URL layout (P = /p/<pid>/sp/<pid>00, F = serveFlavor/entryId/<id>/v/1):
 *   P/playManifest/entryId/<id>/.../format/applehttp/[flavorIds/<ids>/]...  HLS master
 *   P/playManifest/entryId/<id>/.../format/mpegdash/[flavorIds/<ids>/]...   DASH MPD
 *   P/playManifest/entryId/<id>/.../format/url/[flavorIds/<ids>/]...        302 to the MP4
 *   /hls/P/F/flavorId/<fid>/name/a.mp4/index.m3u8                          HLS media playlist
 *   /hls/P/F/flavorId/<fid>/name/a.mp4/seg-<n>-v1-a1.ts                    MPEG-TS segment
 *   /hls/P/F/flavorId/<fid>/name/a.mp4/encryption.key    16 raw key bytes (aes-128 entries)
 *   /dash/P/F/init-<rep>.m4s, /dash/P/F/chunk-<rep>-<n>.m4s                DASH segments
 *   P/F/flavorId/<fid>/name/a.mp4                                          progressive MP4
 *   P/thumbnail/entry_id/<id>/version/<v>[/width/W][/height/H][/vid_slices/N][/vid_sec/S]
 *                                       [/start_sec/S][/end_sec/S][/...]   JPEG
 * Without flavorIds a manifest lists every flavor, and format/url picks the highest bit rate
 * (also among several listed ids). A format the entry does not offer is a 404. In the MPD,
 * a video Representation's id is its flavor id and the audio one's is "audio"; segment
 * numbers start at 1. Media bodies (MP4, DASH and TS segments) honour a single byte range
 * (206, or 416 when unsatisfiable; a malformed or multi-range header is ignored, as servers
 * may). Journal kinds: master, playlist, mpd, redirect, init, segment (with "format"), mp4,
 * key, thumbnail, unknown; the audio's records (DASH, fMP4 HLS) carry rendition "audio".
 * Protected entries (mbe_entry.drm, media_protect.h): cenc/cbcs serve encrypted DASH (the
 * MPD with ContentProtection), aes-128 encrypted MPEG-TS segments with an EXT-X-KEY line
 * (METHOD=AES-128, URI="encryption.key", no IV) after the playlist's header. An entry with
 * hls_segments MBE_HLS_FMP4 serves HLS as fMP4 (below; the DASH init and fragments, clear),
 * with aes-128 every fragment encrypted whole and #EXT-X-KEY:METHOD=AES-128,
 * URI="encryption.key" after the #EXT-X-MAP (the init stays clear). A cbcs entry
 * whose key systems include FairPlay serves HLS as FairPlay does: fMP4 (the cbcs DASH init
 * and fragments) with #EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://<entryId>",
 * KEYFORMAT="com.apple.streamingkeydelivery" and #EXT-X-MAP:URI="init.mp4"; the master adds
 * an audio rendition (GROUP-ID "aac", flavorId "audio"):
 *   /hls/P/F/flavorId/<fid|audio>/name/a.mp4/index.m3u8, .../init.mp4, .../seg-<n>.m4s
 */
#include "mbe_internal.h"
#include "media_protect.h"

#include "kp/buf.h"
#include "kp/drm.h"
#include "kp/err.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_FLAVORS 16 /* of a playable entry: the media module's limit on renditions */

static void reply_text(mbe_reply *r, int status, const char *type, char *text)
{
    r->status = status;
    r->content_type = type;
    r->body = text;
    r->len = text ? strlen(text) : 0;
    r->persistent = false;
}

static void not_found(mbe_reply *r, const char *why)
{
    reply_text(r, 404, "text/plain", kp_asprintf("404 Not Found: %s\n", why));
}

static void bad_request(mbe_reply *r, const char *why)
{
    reply_text(r, 400, "text/plain", kp_asprintf("400 Bad Request: %s\n", why));
}

static void media_body(mbe_reply *r, const char *type, const uint8_t *data, size_t len)
{
    r->status = 200;
    r->content_type = type;
    r->body = (char *)data;
    r->len = len;
    r->persistent = true;
    r->accept_ranges = true;
}

/* Splits "/a/b/c" into a NULL-terminated array of malloc'd segments. */
static char **split_path(const char *path, size_t *n)
{
    char **parts = NULL;
    *n = 0;
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        size_t len = strcspn(p, "/");
        char **np = realloc(parts, (*n + 2) * sizeof(*np));
        if (!np)
            break;
        parts = np;
        parts[(*n)++] = kp_strndup(p, len);
        parts[*n] = NULL;
        p += len;
    }
    return parts;
}

static void free_parts(char **parts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(parts[i]);
    free(parts);
}

/* The value following `key` among path segments [from, n), or NULL. */
static const char *param(char **parts, size_t from, size_t n, const char *key)
{
    for (size_t i = from; i + 1 < n; i++)
        if (parts[i] && strcmp(parts[i], key) == 0)
            return parts[i + 1];
    return NULL;
}

static const mbe_flavor *find_flavor(const mbe_ientry *e, const char *fid)
{
    for (size_t i = 0; fid && i < e->n_flavors; i++)
        if (strcmp(e->flavors[i].id, fid) == 0)
            return &e->flavors[i];
    return NULL;
}

static bool playable(const mbe_ientry *e)
{
    return e && e->media && strcmp(e->status, "ready") == 0 && !e->block;
}

/* The entry's encrypted media, made on first use (several threads may race to make it:
 * the bytes are deterministic, one copy wins and the others are dropped). NULL for a clear
 * entry, or when it cannot be made (logged). */
static const mbe__protected *protected_media(mbe_server *s, const mbe_ientry *e)
{
    if (e->drm.scheme == KP_ENC_NONE)
        return NULL;
    mbe_ientry *me = (mbe_ientry *)e; /* the cache is the only mutable part */
    mbe__protected *p = atomic_load(&me->prot);
    if (p)
        return p;
    const mbe_media *m = e->media;
    if ((e->drm.scheme == KP_ENC_CENC || e->drm.scheme == KP_ENC_CBCS) && !m->dash_audio) {
        /* an HLS-only FairPlay entry: its fMP4 comes from the DASH packaging, not loaded */
        mbe_rendition rs[MAX_FLAVORS];
        size_t nr = 0;
        for (size_t i = 0; i < e->n_flavors && i < MAX_FLAVORS; i++)
            rs[nr++] = e->flavors[i].r;
        mbe_media_spec spec = {.duration_s = e->duration,
                               .renditions = rs,
                               .n_renditions = nr,
                               .segment_s = e->media->segment_s,
                               .packagings = MBE_PACKAGE_DASH | MBE_PACKAGE_HLS};
        if (mbe_media_get(s->media, &spec, &m) < 0) {
            KP_LOG_E(s->log, "cdn", "entry %s: no DASH packaging to protect", e->id);
            return NULL;
        }
    }
    if (mbe__protected_new(m, &e->drm, e->hls_segments, s->log, &p) < 0) {
        KP_LOG_E(s->log, "cdn", "entry %s: no protected media", e->id);
        return NULL;
    }
    mbe__protected *expected = NULL;
    if (!atomic_compare_exchange_strong(&me->prot, &expected, p)) {
        mbe__protected_free(p);
        p = expected;
    }
    return p;
}

static bool hls_aes(const mbe_ientry *e)
{
    return e->drm.scheme == KP_ENC_AES128;
}

static bool dash_protected(const mbe_ientry *e)
{
    return e->drm.scheme == KP_ENC_CENC || e->drm.scheme == KP_ENC_CBCS;
}

/* HLS as FairPlay serves it: fMP4 (the cbcs DASH fragments) with METHOD=SAMPLE-AES. */
static bool hls_fairplay(const mbe_ientry *e)
{
    return e->drm.scheme == KP_ENC_CBCS && (e->drm.systems & (1u << KP_DRM_FAIRPLAY));
}

/* fMP4 HLS: FairPlay's, or the entry asks for it (clear, or aes-128 when encrypted). */
static bool hls_fmp4(const mbe_ientry *e)
{
    return hls_fairplay(e) || e->hls_segments == MBE_HLS_FMP4;
}

static void server_error(mbe_reply *r, const char *why)
{
    reply_text(r, 500, "text/plain", kp_asprintf("500 Internal Server Error: %s\n", why));
}

_Static_assert(MBE_FORMAT_HLS == (int)MBE_PACKAGE_HLS && MBE_FORMAT_DASH == (int)MBE_PACKAGE_DASH &&
                   MBE_FORMAT_PROGRESSIVE == (int)MBE_PACKAGE_MP4,
               "a format's bit names its packaging");

/* The entry lists the format and its media hold that packaging. */
static bool offers(const mbe_ientry *e, int format)
{
    if (!(e->media->packagings & (unsigned)format))
        return false;
    for (size_t i = 0; i < e->n_formats; i++)
        if (e->formats[i] == format)
            return true;
    return false;
}

static void record_flavor(json_t *rec, const mbe_ientry *e, const mbe_flavor *f)
{
    json_object_set_new(rec, "entryId", json_string(e->id));
    json_object_set_new(rec, "flavorId", json_string(f->id));
    json_object_set_new(rec, "rendition", json_string(f->r.name));
}

/* The flavors a manifest lists: those named in flavor_ids (a comma list, in its order,
 * each once), or all of them when it is NULL. NULL, or the reason for a 404. */
static const char *select_flavors(const mbe_ientry *e, const char *flavor_ids,
                                  const mbe_flavor **out, size_t *n)
{
    *n = 0;
    if (!flavor_ids) {
        for (size_t i = 0; i < e->n_flavors && i < MAX_FLAVORS; i++)
            out[(*n)++] = &e->flavors[i];
        return *n ? NULL : "the entry has no flavors";
    }
    const char *p = flavor_ids;
    while (*p) {
        size_t len = strcspn(p, ",");
        const mbe_flavor *f = NULL;
        for (size_t i = 0; len && i < e->n_flavors && !f; i++)
            if (strlen(e->flavors[i].id) == len && strncmp(e->flavors[i].id, p, len) == 0)
                f = &e->flavors[i];
        if (len && !f)
            return "no such flavor";
        if (f && *n == MAX_FLAVORS)
            return "too many flavors";
        bool dup = false;
        for (size_t i = 0; f && i < *n; i++)
            dup = dup || out[i] == f;
        if (f && !dup)
            out[(*n)++] = f;
        p += len;
        if (*p == ',')
            p++;
    }
    return *n ? NULL : "no flavors requested";
}

/* ---- playManifest ------------------------------------------------------------------------- */

static char *hls_flavor_base(const mbe_server *s, const mbe_ientry *e, const mbe_flavor *f)
{
    return kp_asprintf("%s/hls/p/%lld/sp/%lld00/serveFlavor/entryId/%s/v/1/flavorId/%s/name/a.mp4",
                       s->url, s->partner_id, s->partner_id, e->id, f->id);
}

static void master_playlist(mbe_server *s, const mbe_ientry *e, const mbe_flavor *const *fl,
                            size_t n, mbe_reply *r, json_t *rec)
{
    kp_buf b;
    kp_buf_init(&b);
    kp_buf_puts(&b, "#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    bool fps = hls_fmp4(e);
    if (fps) { /* fMP4: the audio is a rendition of its own */
        kp_buf_printf(&b,
                      "#EXT-X-VERSION:7\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aac\",NAME=\"audio\","
                      "DEFAULT=YES,AUTOSELECT=YES,URI=\"%s/hls/p/%lld/sp/%lld00/serveFlavor/"
                      "entryId/%s/v/1/flavorId/audio/name/a.mp4/index.m3u8\"\n",
                      s->url, s->partner_id, s->partner_id, e->id);
    }
    for (size_t i = 0; i < n; i++) {
        const mbe_flavor *f = fl[i];
        const mbe_hls_rendition *h = &e->media->hls[f->index];
        char *base = hls_flavor_base(s, e, f);
        kp_buf_printf(&b,
                      "#EXT-X-STREAM-INF:BANDWIDTH=%ld,AVERAGE-BANDWIDTH=%ld,RESOLUTION=%dx%d,"
                      "CODECS=\"%s\",FRAME-RATE=25.000%s\n%s/index.m3u8\n",
                      h->bandwidth, h->average_bandwidth, f->r.width, f->r.height, h->codecs,
                      fps ? ",AUDIO=\"aac\"" : "", base ? base : "");
        free(base);
    }
    json_object_set_new(rec, "kind", json_string("master"));
    reply_text(r, 200, "application/vnd.apple.mpegurl", kp_buf_steal(&b));
}

static void dash_manifest(mbe_server *s, const mbe_ientry *e, const mbe_flavor *const *fl, size_t n,
                          mbe_reply *r, json_t *rec)
{
    size_t idx[MAX_FLAVORS];
    const char *ids[MAX_FLAVORS];
    for (size_t i = 0; i < n; i++) {
        idx[i] = (size_t)fl[i]->index;
        ids[i] = fl[i]->id;
    }
    char *base = kp_asprintf("%s/dash/p/%lld/sp/%lld00/serveFlavor/entryId/%s/v/1/", s->url,
                             s->partner_id, s->partner_id, e->id);
    mbe_mpd_opts o = {.base_url = base, .renditions = idx, .video_ids = ids, .n = n};
    int rc = base ? KP_OK : KP_ENOMEM;
    if (dash_protected(e)) {
        o.protection = mbe__protected_mpd(protected_media(s, e));
        if (!o.protection)
            rc = KP_EMEDIA;
    }
    char *mpd = NULL;
    if (rc == KP_OK)
        rc = mbe_dash_mpd(e->media, &o, &mpd);
    free(base);
    if (rc < 0) {
        reply_text(r, 500, "text/plain",
                   kp_asprintf("500 Internal Server Error: no MPD (%s)\n", kp_strerror(rc)));
        return;
    }
    json_object_set_new(rec, "kind", json_string("mpd"));
    reply_text(r, 200, "application/dash+xml", mpd);
}

static void progressive_redirect(mbe_server *s, const mbe_ientry *e, const mbe_flavor *const *fl,
                                 size_t n, mbe_reply *r, json_t *rec)
{
    const mbe_flavor *best = fl[0];
    for (size_t i = 1; i < n; i++)
        if (fl[i]->bitrate_kbps > best->bitrate_kbps)
            best = fl[i];
    json_object_set_new(rec, "kind", json_string("redirect"));
    record_flavor(rec, e, best);
    r->location =
        kp_asprintf("%s/p/%lld/sp/%lld00/serveFlavor/entryId/%s/v/1/flavorId/%s/name/a.mp4", s->url,
                    s->partner_id, s->partner_id, e->id, best->id);
    reply_text(r, 302, "text/plain",
               kp_asprintf("302 Found: %s\n", r->location ? r->location : ""));
}

static const struct {
    const char *name;
    int format;
} formats[] = {
    {"applehttp", MBE_FORMAT_HLS},
    {"mpegdash", MBE_FORMAT_DASH},
    {"url", MBE_FORMAT_PROGRESSIVE},
};

static void play_manifest(mbe_server *s, char **parts, size_t n, mbe_reply *r, json_t *rec)
{
    const char *id = param(parts, 5, n, "entryId");
    const char *format = param(parts, 5, n, "format");
    const char *flavor_ids = param(parts, 5, n, "flavorIds");
    const mbe_ientry *e = mbe_find_entry(s, id);
    if (id)
        json_object_set_new(rec, "entryId", json_string(id));
    if (format)
        json_object_set_new(rec, "format", json_string(format));
    if (!playable(e)) {
        not_found(r, "no playable entry");
        return;
    }
    int fmt = 0;
    for (size_t i = 0; format && i < sizeof(formats) / sizeof(formats[0]); i++)
        if (strcmp(format, formats[i].name) == 0)
            fmt = formats[i].format;
    if (!fmt) {
        not_found(r, "unsupported format");
        return;
    }
    if (!offers(e, fmt)) {
        not_found(r, "the entry has no source in this format");
        return;
    }
    const mbe_flavor *fl[MAX_FLAVORS];
    size_t nf = 0;
    const char *why = select_flavors(e, flavor_ids, fl, &nf);
    if (why) {
        not_found(r, why);
        return;
    }
    if (fmt == MBE_FORMAT_HLS)
        master_playlist(s, e, fl, nf, r, rec);
    else if (fmt == MBE_FORMAT_DASH)
        dash_manifest(s, e, fl, nf, r, rec);
    else
        progressive_redirect(s, e, fl, nf, r, rec);
}

/* ---- HLS ---------------------------------------------------------------------------------- */

static void serve_key(const mbe_ientry *e, mbe_reply *r, json_t *rec)
{
    json_object_set_new(rec, "kind", json_string("key"));
    r->status = 200;
    r->content_type = "application/octet-stream";
    r->body = (char *)e->drm.key; /* lives as long as the entry */
    r->len = 16;
    r->persistent = true;
}

/* fMP4 HLS (hls_fmp4): media playlists with EXT-X-MAP, the init and fragments being the DASH
 * ones of the flavor (or, for flavor "audio", the audio's). FairPlay: the cbcs ones and
 * METHOD=SAMPLE-AES; aes-128: the clear init and the fragments encrypted whole, the EXT-X-MAP
 * before the EXT-X-KEY so that the init is not; otherwise clear. */
static void serve_hls_fmp4(mbe_server *s, const mbe_ientry *e, const mbe_flavor *f,
                           const char *last, mbe_reply *r, json_t *rec)
{
    bool fps = hls_fairplay(e), aes = !fps && hls_aes(e);
    const mbe__protected *p = fps || aes ? protected_media(s, e) : NULL;
    size_t index = f ? (size_t)f->index : SIZE_MAX, len = 0;
    const mbe_media *m = e->media;
    const mbe_dash_stream *st = NULL; /* the clear stream, when the media hold it */
    if (m->dash_audio)
        st = f ? &m->dash_video[f->index] : m->dash_audio;
    if (fps ? !p || !mbe__protected_dash(p, index, 0, &len) : !st || (aes && !p)) {
        server_error(r, fps ? "no protected fMP4" : "no fMP4");
        return;
    }
    if (strcmp(last, "index.m3u8") == 0) {
        size_t nseg = 0;
        if (fps)
            while (mbe__protected_dash(p, index, nseg + 1, &len))
                nseg++;
        else
            nseg = st->n_segments;
        double seg_s = m->segment_s;
        int target = m->segment_s + 1;
        if (!fps) { /* the longest segment, rounded to the nearest second */
            target = 1;
            for (size_t k = 0; k < nseg; k++)
                if ((int)lround((double)st->segments[k].d / st->timescale) > target)
                    target = (int)lround((double)st->segments[k].d / st->timescale);
        }
        kp_buf b;
        kp_buf_init(&b);
        kp_buf_printf(&b,
                      "#EXTM3U\n#EXT-X-TARGETDURATION:%d\n#EXT-X-PLAYLIST-TYPE:VOD\n"
                      "#EXT-X-VERSION:7\n#EXT-X-MEDIA-SEQUENCE:1\n#EXT-X-INDEPENDENT-SEGMENTS\n",
                      target);
        if (fps)
            kp_buf_printf(&b,
                          "#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"skd://%s\","
                          "KEYFORMAT=\"com.apple.streamingkeydelivery\",KEYFORMATVERSIONS=\"1\"\n",
                          e->id);
        kp_buf_puts(&b, "#EXT-X-MAP:URI=\"init.mp4\"\n");
        if (aes) /* after the map, which stays clear; no IV: the media sequence number */
            kp_buf_puts(&b, "#EXT-X-KEY:METHOD=AES-128,URI=\"encryption.key\"\n");
        for (size_t k = 0; k < nseg; k++) {
            double d = st && k < st->n_segments ? (double)st->segments[k].d / st->timescale : seg_s;
            kp_buf_printf(&b, "#EXTINF:%.3f,\nseg-%zu.m4s\n", d, k + 1);
        }
        kp_buf_puts(&b, "#EXT-X-ENDLIST\n");
        json_object_set_new(rec, "kind", json_string("playlist"));
        reply_text(r, 200, "application/vnd.apple.mpegurl", kp_buf_steal(&b));
        return;
    }
    if (aes && strcmp(last, "encryption.key") == 0) {
        serve_key(e, r, rec);
        return;
    }
    unsigned long seg = 0;
    char *end = NULL;
    if (strcmp(last, "init.mp4") == 0)
        end = "";
    else if (strncmp(last, "seg-", 4) == 0 && last[4] >= '1' && last[4] <= '9')
        seg = strtoul(last + 4, &end, 10);
    const uint8_t *d = NULL;
    if (!end || !(seg ? strcmp(end, ".m4s") == 0 : *end == '\0'))
        d = NULL;
    else if (fps)
        d = mbe__protected_dash(p, index, seg, &len);
    else if (seg == 0)
        d = st->init, len = st->init_size;
    else if (aes)
        d = mbe__protected_hls(p, index, seg, &len);
    else if (seg <= st->n_segments)
        d = st->segments[seg - 1].data, len = st->segments[seg - 1].size;
    if (!d) {
        not_found(r, "no such segment");
        return;
    }
    json_object_set_new(rec, "kind", json_string(seg ? "segment" : "init"));
    if (seg)
        json_object_set_new(rec, "segment", json_integer((json_int_t)seg));
    media_body(r, f ? "video/mp4" : "audio/mp4", d, len);
}

static void serve_hls(mbe_server *s, char **parts, size_t n, mbe_reply *r, json_t *rec)
{
    const mbe_ientry *e = mbe_find_entry(s, param(parts, 6, n, "entryId"));
    const char *fid = param(parts, 6, n, "flavorId");
    if (playable(e) && offers(e, MBE_FORMAT_HLS) && hls_fmp4(e)) {
        const mbe_flavor *f = find_flavor(e, fid);
        if (!f && !(fid && strcmp(fid, "audio") == 0)) {
            not_found(r, "no such flavor");
            return;
        }
        if (f) {
            record_flavor(rec, e, f);
        } else { /* as DASH records its audio */
            json_object_set_new(rec, "entryId", json_string(e->id));
            json_object_set_new(rec, "rendition", json_string("audio"));
        }
        json_object_set_new(rec, "format", json_string("applehttp"));
        serve_hls_fmp4(s, e, f, parts[n - 1], r, rec);
        return;
    }
    const mbe_flavor *f = e ? find_flavor(e, param(parts, 6, n, "flavorId")) : NULL;
    if (!playable(e) || !f || !offers(e, MBE_FORMAT_HLS)) {
        not_found(r, "no such flavor");
        return;
    }
    record_flavor(rec, e, f);
    json_object_set_new(rec, "format", json_string("applehttp"));
    const mbe_hls_rendition *h = &e->media->hls[f->index];
    const char *last = parts[n - 1];
    if (strcmp(last, "index.m3u8") == 0) {
        kp_buf b;
        kp_buf_init(&b);
        kp_buf_printf(&b,
                      "#EXTM3U\n#EXT-X-TARGETDURATION:%d\n#EXT-X-ALLOW-CACHE:YES\n"
                      "#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-VERSION:3\n#EXT-X-MEDIA-SEQUENCE:1\n",
                      h->target_duration);
        if (hls_aes(e)) /* no IV: each segment's is its media sequence number */
            kp_buf_puts(&b, "#EXT-X-KEY:METHOD=AES-128,URI=\"encryption.key\"\n");
        for (size_t i = 0; i < h->n_segments; i++)
            kp_buf_printf(&b, "#EXTINF:%.3f,\nseg-%zu-v1-a1.ts\n", h->segments[i].duration_s,
                          i + 1);
        kp_buf_puts(&b, "#EXT-X-ENDLIST\n");
        json_object_set_new(rec, "kind", json_string("playlist"));
        reply_text(r, 200, "application/vnd.apple.mpegurl", kp_buf_steal(&b));
        return;
    }
    if (strcmp(last, "encryption.key") == 0 && hls_aes(e)) {
        serve_key(e, r, rec);
        return;
    }
    unsigned long seg = 0;
    char *end = NULL;
    if (strncmp(last, "seg-", 4) == 0 && last[4] >= '0' && last[4] <= '9')
        seg = strtoul(last + 4, &end, 10);
    if (!end || strcmp(end, "-v1-a1.ts") != 0 || seg < 1 || seg > h->n_segments) {
        not_found(r, "no such segment");
        return;
    }
    json_object_set_new(rec, "kind", json_string("segment"));
    json_object_set_new(rec, "segment", json_integer((json_int_t)seg));
    if (hls_aes(e)) {
        size_t len = 0;
        const uint8_t *d = mbe__protected_hls(protected_media(s, e), (size_t)f->index, seg, &len);
        if (!d) {
            server_error(r, "no encrypted segment");
            return;
        }
        media_body(r, "video/MP2T", d, len);
        return;
    }
    media_body(r, "video/MP2T", h->segments[seg - 1].data, h->segments[seg - 1].size);
}

/* ---- DASH --------------------------------------------------------------------------------- */

/* "init-<rep>.m4s" (*number = 0) or "chunk-<rep>-<n>.m4s" (n >= 1); the rep id is copied
 * into rep. false when the name is neither. */
static bool parse_dash_name(const char *name, char *rep, size_t cap, unsigned long *number)
{
    size_t len = strlen(name);
    if (len < 5 || strcmp(name + len - 4, ".m4s") != 0)
        return false;
    const char *id = NULL;
    size_t id_len = 0;
    *number = 0;
    if (strncmp(name, "init-", 5) == 0) {
        id = name + 5;
        id_len = len - 4 - 5;
    } else if (strncmp(name, "chunk-", 6) == 0) {
        const char *dash = NULL;
        for (const char *p = name + 6; p < name + len - 4; p++)
            if (*p == '-')
                dash = p;
        if (!dash || dash[1] < '1' || dash[1] > '9')
            return false;
        char *end = NULL;
        errno = 0;
        *number = strtoul(dash + 1, &end, 10);
        if (errno || end != name + len - 4)
            return false;
        id = name + 6;
        id_len = (size_t)(dash - id);
    } else {
        return false;
    }
    if (id_len == 0 || id_len >= cap)
        return false;
    memcpy(rep, id, id_len);
    rep[id_len] = '\0';
    return true;
}

static void serve_dash(mbe_server *s, char **parts, size_t n, mbe_reply *r, json_t *rec)
{
    const mbe_ientry *e = mbe_find_entry(s, param(parts, 6, n, "entryId"));
    char rep[64];
    unsigned long number = 0;
    /* /dash/p/<pid>/sp/<sp>/serveFlavor/entryId/<id>/v/1/<file> */
    if (!playable(e) || !offers(e, MBE_FORMAT_DASH) || n != 11 || strcmp(parts[8], "v") != 0 ||
        !parse_dash_name(parts[10], rep, sizeof(rep), &number)) {
        not_found(r, "no such DASH segment");
        return;
    }
    const mbe_dash_stream *st = NULL;
    const mbe_flavor *f = find_flavor(e, rep);
    if (f) {
        st = &e->media->dash_video[f->index];
        record_flavor(rec, e, f);
    } else if (strcmp(rep, "audio") == 0) {
        st = e->media->dash_audio;
        json_object_set_new(rec, "entryId", json_string(e->id));
        json_object_set_new(rec, "rendition", json_string("audio"));
    }
    json_object_set_new(rec, "format", json_string("mpegdash"));
    if (!st || number > st->n_segments) {
        not_found(r, "no such DASH segment");
        return;
    }
    const char *type = st->audio ? "audio/mp4" : "video/mp4";
    if (dash_protected(e)) {
        size_t len = 0;
        const uint8_t *d = mbe__protected_dash(protected_media(s, e),
                                               f ? (size_t)f->index : SIZE_MAX, number, &len);
        if (!d) {
            server_error(r, "no protected DASH segment");
            return;
        }
        json_object_set_new(rec, "kind", json_string(number ? "segment" : "init"));
        if (number)
            json_object_set_new(rec, "segment", json_integer((json_int_t)number));
        media_body(r, type, d, len);
        return;
    }
    if (number == 0) {
        json_object_set_new(rec, "kind", json_string("init"));
        media_body(r, type, st->init, st->init_size);
    } else {
        json_object_set_new(rec, "kind", json_string("segment"));
        json_object_set_new(rec, "segment", json_integer((json_int_t)number));
        media_body(r, type, st->segments[number - 1].data, st->segments[number - 1].size);
    }
}

/* ---- progressive MP4 ---------------------------------------------------------------------- */

static void serve_mp4(mbe_server *s, char **parts, size_t n, mbe_reply *r, json_t *rec)
{
    const mbe_ientry *e = mbe_find_entry(s, param(parts, 5, n, "entryId"));
    const mbe_flavor *f = e ? find_flavor(e, param(parts, 5, n, "flavorId")) : NULL;
    if (!playable(e) || !f || !offers(e, MBE_FORMAT_PROGRESSIVE) ||
        strcmp(parts[n - 1], "a.mp4") != 0) {
        not_found(r, "no such flavor");
        return;
    }
    record_flavor(rec, e, f);
    json_object_set_new(rec, "kind", json_string("mp4"));
    const mbe_mp4_file *m = &e->media->mp4[f->index];
    media_body(r, "video/mp4", m->data, m->size);
}

/* ---- thumbnails --------------------------------------------------------------------------- */

static bool parse_int(const char *s, int max, int *out)
{
    if (!s || *s < '0' || *s > '9')
        return false;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v > max)
        return false;
    *out = (int)v;
    return true;
}

static bool parse_seconds(const char *s, double *out)
{
    if (!s || !((*s >= '0' && *s <= '9') || *s == '.'))
        return false;
    char *end = NULL;
    double v = strtod(s, &end);
    if (*end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static void thumbnail(mbe_server *s, char **parts, size_t n, mbe_reply *r, json_t *rec)
{
    json_object_set_new(rec, "kind", json_string("thumbnail"));
    const char *id = param(parts, 5, n, "entry_id");
    const mbe_ientry *e = mbe_find_entry(s, id);
    if (id)
        json_object_set_new(rec, "entryId", json_string(id));
    if (!e || strcmp(e->status, "deleted") == 0) {
        not_found(r, "no such entry");
        return;
    }
    mbe_thumb_spec t = {.duration_s = e->duration > 0 ? e->duration : 1.0, .vid_sec = -1};
    bool ok = true;
    /* key/value pairs after entry_id/<id>; unknown keys (version, type, quality, ks, ...)
     * change nothing here */
    for (size_t i = 5; ok && i + 1 < n; i += 2) {
        const char *k = parts[i], *v = parts[i + 1];
        if (strcmp(k, "width") == 0)
            ok = parse_int(v, MBE_THUMB_MAX_SIDE, &t.width);
        else if (strcmp(k, "height") == 0)
            ok = parse_int(v, MBE_THUMB_MAX_SIDE, &t.height);
        else if (strcmp(k, "vid_slices") == 0)
            ok = parse_int(v, MBE_THUMB_MAX_SLICES, &t.slices);
        else if (strcmp(k, "vid_sec") == 0)
            ok = parse_seconds(v, &t.vid_sec);
        else if (strcmp(k, "start_sec") == 0)
            ok = parse_seconds(v, &t.start_s);
        else if (strcmp(k, "end_sec") == 0)
            ok = parse_seconds(v, &t.end_s);
    }
    if (!ok) {
        bad_request(r, "bad thumbnail parameter");
        return;
    }
    json_object_set_new(rec, "width", json_integer(t.width));
    json_object_set_new(rec, "height", json_integer(t.height));
    if (t.slices)
        json_object_set_new(rec, "slices", json_integer(t.slices));
    uint8_t *jpeg = NULL;
    size_t len = 0;
    int rc = mbe_thumbnail_jpeg(&t, s->log, &jpeg, &len);
    if (rc == KP_EINVAL) {
        bad_request(r, "thumbnail too large");
        return;
    }
    if (rc < 0) {
        reply_text(r, 500, "text/plain",
                   kp_asprintf("500 Internal Server Error: %s\n", kp_strerror(rc)));
        return;
    }
    r->status = 200;
    r->content_type = "image/jpeg";
    r->body = (char *)jpeg;
    r->len = len;
    r->persistent = false;
}

/* ---- byte ranges -------------------------------------------------------------------------- */

/* Digits at *p as a saturating count; false when there are none. */
static bool digits(const char **p, unsigned long long *out)
{
    const char *s = *p;
    unsigned long long v = 0;
    if (*s < '0' || *s > '9')
        return false;
    for (; *s >= '0' && *s <= '9'; s++)
        v = v > (ULLONG_MAX - 9) / 10 ? ULLONG_MAX : v * 10 + (unsigned)(*s - '0');
    *p = s;
    *out = v;
    return true;
}

/* RFC 9110 §14: 1 and [*a, *b] for one satisfiable range, -1 when unsatisfiable, 0 when
 * the header is to be ignored (malformed, another unit, several ranges). */
static int parse_range(const char *h, size_t len, size_t *a, size_t *b)
{
    const char *p = h;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncasecmp(p, "bytes", 5) != 0)
        return 0;
    p += 5;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p++ != '=')
        return 0;
    while (*p == ' ' || *p == '\t')
        p++;
    unsigned long long first = 0, last = 0;
    bool suffix = *p == '-', has_last = false;
    if (suffix) {
        p++;
        if (!digits(&p, &last))
            return 0;
    } else {
        if (!digits(&p, &first) || *p++ != '-')
            return 0;
        has_last = digits(&p, &last);
    }
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p)
        return 0; /* several ranges, or trailing junk */
    if (suffix) {
        if (last == 0 || len == 0)
            return -1;
        *a = last >= len ? 0 : len - (size_t)last;
        *b = len - 1;
        return 1;
    }
    if (has_last && last < first)
        return 0; /* invalid: ignored */
    if (first >= len)
        return -1;
    *a = (size_t)first;
    *b = has_last && last < len - 1 ? (size_t)last : len - 1;
    return 1;
}

void mbe_reply_range(mbe_reply *r, json_t *rec)
{
    json_object_set_new(rec, "range", json_string(r->range));
    size_t a = 0, b = 0, len = r->len;
    int k = parse_range(r->range, len, &a, &b);
    if (k > 0) {
        r->status = 206;
        r->body += a;
        r->len = b - a + 1;
        snprintf(r->content_range, sizeof(r->content_range), "bytes %zu-%zu/%zu", a, b, len);
    } else if (k < 0) {
        snprintf(r->content_range, sizeof(r->content_range), "bytes */%zu", len);
        reply_text(r, 416, "text/plain", kp_strdup("416 Range Not Satisfiable\n"));
    }
}

/* ---- dispatch ----------------------------------------------------------------------------- */

/* parts[at..at+3] == p/<pid>/sp/<pid>00 */
static bool partner_prefix(const mbe_server *s, char **parts, size_t n, size_t at)
{
    char pid[32], sp[40];
    snprintf(pid, sizeof(pid), "%lld", s->partner_id);
    snprintf(sp, sizeof(sp), "%lld00", s->partner_id);
    return n > at + 4 && strcmp(parts[at], "p") == 0 && strcmp(parts[at + 1], pid) == 0 &&
           strcmp(parts[at + 2], "sp") == 0 && strcmp(parts[at + 3], sp) == 0;
}

void mbe_cdn_get(mbe_server *s, const char *path, mbe_reply *r, json_t *rec)
{
    size_t n;
    char **parts = split_path(path, &n);
    bool ok = parts != NULL;
    for (size_t i = 0; ok && i < n; i++)
        ok = parts[i] != NULL;
    if (!ok) {
        not_found(r, "unknown path");
    } else if (partner_prefix(s, parts, n, 0) && strcmp(parts[4], "playManifest") == 0) {
        play_manifest(s, parts, n, r, rec);
    } else if (partner_prefix(s, parts, n, 0) && strcmp(parts[4], "serveFlavor") == 0) {
        serve_mp4(s, parts, n, r, rec);
    } else if (partner_prefix(s, parts, n, 0) && strcmp(parts[4], "thumbnail") == 0) {
        thumbnail(s, parts, n, r, rec);
    } else if (n >= 8 && strcmp(parts[0], "hls") == 0 && partner_prefix(s, parts, n, 1) &&
               strcmp(parts[5], "serveFlavor") == 0) {
        serve_hls(s, parts, n, r, rec);
    } else if (n >= 8 && strcmp(parts[0], "dash") == 0 && partner_prefix(s, parts, n, 1) &&
               strcmp(parts[5], "serveFlavor") == 0) {
        serve_dash(s, parts, n, r, rec);
    } else {
        not_found(r, "unknown path");
    }
    if (r->range && r->status == 200 && r->accept_ranges && r->persistent)
        mbe_reply_range(r, rec);
    if (!json_object_get(rec, "kind"))
        json_object_set_new(rec, "kind", json_string("unknown"));
    free_parts(parts, n);
}
