/* cdn.c: playManifest (the URL the provider builds) and the flavor playlists and segments it
 * points to, with Kaltura's URL layout:
 *   /p/<pid>/sp/<pid>00/playManifest/entryId/<id>/.../format/applehttp/.../a.m3u8  → master
 *   /hls/p/<pid>/sp/<pid>00/serveFlavor/entryId/<id>/v/1/flavorId/<fid>/name/a.mp4/index.m3u8
 *   /hls/p/<pid>/sp/<pid>00/serveFlavor/entryId/<id>/v/1/flavorId/<fid>/name/a.mp4/seg-<n>-v1-a1.ts
 */
#include "mbe_internal.h"

#include "kp/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        if (strcmp(parts[i], key) == 0)
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

static char *flavor_base(const mbe_server *s, const mbe_ientry *e, const mbe_flavor *f)
{
    return kp_asprintf("%s/hls/p/%lld/sp/%lld00/serveFlavor/entryId/%s/v/1/flavorId/%s/name/a.mp4",
                       s->url, s->partner_id, s->partner_id, e->id, f->id);
}

static void master_playlist(mbe_server *s, const mbe_ientry *e, const char *flavor_ids,
                            mbe_reply *r, json_t *rec)
{
    kp_buf b;
    kp_buf_init(&b);
    kp_buf_puts(&b, "#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    char *ids = kp_strdup(flavor_ids ? flavor_ids : "");
    int listed = 0;
    char *save = NULL;
    for (char *tok = ids ? strtok_r(ids, ",", &save) : NULL; tok;
         tok = strtok_r(NULL, ",", &save)) {
        const mbe_flavor *f = find_flavor(e, tok);
        if (!f) {
            free(ids);
            kp_buf_free(&b);
            not_found(r, "no such flavor");
            return;
        }
        const mbe_hls_rendition *h = &e->media->hls[f->index];
        char *base = flavor_base(s, e, f);
        kp_buf_printf(&b,
                      "#EXT-X-STREAM-INF:BANDWIDTH=%ld,AVERAGE-BANDWIDTH=%ld,RESOLUTION=%dx%d,"
                      "CODECS=\"%s\",FRAME-RATE=25.000\n%s/index.m3u8\n",
                      h->bandwidth, h->average_bandwidth, f->r.width, f->r.height, h->codecs,
                      base ? base : "");
        free(base);
        listed++;
    }
    free(ids);
    if (!listed) {
        kp_buf_free(&b);
        not_found(r, "no flavors requested");
        return;
    }
    json_object_set_new(rec, "kind", json_string("master"));
    reply_text(r, 200, "application/vnd.apple.mpegurl", kp_buf_steal(&b));
}

static void play_manifest(mbe_server *s, char **parts, size_t n, mbe_reply *r, json_t *rec)
{
    const char *id = param(parts, 5, n, "entryId");
    const char *format = param(parts, 5, n, "format");
    const char *flavors = param(parts, 5, n, "flavorIds");
    const mbe_ientry *e = mbe_find_entry(s, id);
    if (id)
        json_object_set_new(rec, "entryId", json_string(id));
    if (format)
        json_object_set_new(rec, "format", json_string(format));
    if (!e || !e->media || strcmp(e->status, "ready") != 0 || e->block) {
        not_found(r, "no playable entry");
        return;
    }
    if (!format || strcmp(format, "applehttp") != 0) {
        not_found(r, "only the applehttp format is served so far");
        return;
    }
    master_playlist(s, e, flavors, r, rec);
}

static void serve_flavor(mbe_server *s, char **parts, size_t n, mbe_reply *r, json_t *rec)
{
    const mbe_ientry *e = mbe_find_entry(s, param(parts, 6, n, "entryId"));
    const mbe_flavor *f = e ? find_flavor(e, param(parts, 6, n, "flavorId")) : NULL;
    if (!e || !f || !e->media || strcmp(e->status, "ready") != 0 || e->block) {
        not_found(r, "no such flavor");
        return;
    }
    json_object_set_new(rec, "entryId", json_string(e->id));
    json_object_set_new(rec, "flavorId", json_string(f->id));
    json_object_set_new(rec, "rendition", json_string(f->r.name));
    const mbe_hls_rendition *h = &e->media->hls[f->index];
    const char *last = parts[n - 1];
    if (strcmp(last, "index.m3u8") == 0) {
        kp_buf b;
        kp_buf_init(&b);
        kp_buf_printf(&b,
                      "#EXTM3U\n#EXT-X-TARGETDURATION:%d\n#EXT-X-ALLOW-CACHE:YES\n"
                      "#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-VERSION:3\n#EXT-X-MEDIA-SEQUENCE:1\n",
                      h->target_duration);
        for (size_t i = 0; i < h->n_segments; i++)
            kp_buf_printf(&b, "#EXTINF:%.3f,\nseg-%zu-v1-a1.ts\n", h->segments[i].duration_s,
                          i + 1);
        kp_buf_puts(&b, "#EXT-X-ENDLIST\n");
        json_object_set_new(rec, "kind", json_string("playlist"));
        reply_text(r, 200, "application/vnd.apple.mpegurl", kp_buf_steal(&b));
        return;
    }
    unsigned long seg = 0;
    char *end = NULL;
    if (strncmp(last, "seg-", 4) == 0)
        seg = strtoul(last + 4, &end, 10);
    if (!end || end == last + 4 || strcmp(end, "-v1-a1.ts") != 0 || seg < 1 ||
        seg > h->n_segments) {
        not_found(r, "no such segment");
        return;
    }
    json_object_set_new(rec, "kind", json_string("segment"));
    json_object_set_new(rec, "segment", json_integer((json_int_t)seg));
    r->status = 200;
    r->content_type = "video/MP2T";
    r->body = (char *)h->segments[seg - 1].data;
    r->len = h->segments[seg - 1].size;
    r->persistent = true;
}

void mbe_cdn_get(mbe_server *s, const char *path, mbe_reply *r, json_t *rec)
{
    size_t n;
    char **parts = split_path(path, &n);
    char sp[32];
    snprintf(sp, sizeof(sp), "%lld00", s->partner_id);
    char pid[32];
    snprintf(pid, sizeof(pid), "%lld", s->partner_id);
    if (n >= 6 && strcmp(parts[0], "p") == 0 && strcmp(parts[1], pid) == 0 &&
        strcmp(parts[2], "sp") == 0 && strcmp(parts[3], sp) == 0 &&
        strcmp(parts[4], "playManifest") == 0) {
        play_manifest(s, parts, n, r, rec);
    } else if (n >= 8 && strcmp(parts[0], "hls") == 0 && strcmp(parts[1], "p") == 0 &&
               strcmp(parts[2], pid) == 0 && strcmp(parts[3], "sp") == 0 &&
               strcmp(parts[4], sp) == 0 && strcmp(parts[5], "serveFlavor") == 0) {
        serve_flavor(s, parts, n, r, rec);
    } else {
        not_found(r, "unknown path");
    }
    if (!json_object_get(rec, "kind"))
        json_object_set_new(rec, "kind", json_string("unknown"));
    free_parts(parts, n);
}
