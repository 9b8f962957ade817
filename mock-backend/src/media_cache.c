/* media_cache.c: mbe_media_get() and the two caches behind it.
 *
 * Key: SHA-256 of a canonical text (mbe__plan_key_text: generator version, FFmpeg and x264
 * library versions, frame count, segment length, renditions with geometry and bit rate),
 * first 16 bytes in hex. The full text is also stored in the entry and compared on load,
 * so a truncated-hash collision cannot serve the wrong media.
 *
 * Disk layout, one directory per key:
 *   <dir>/<key>/meta.json               format, generator version, key, key text, and for
 *                                       every file below its size and SHA-256, with what
 *                                       the packagings need besides the bytes (HLS: frames
 *                                       per segment, codecs; DASH: codecs, timescale, S@t/@d)
 *   <dir>/<key>/<rendition>/seg_NNNNN.ts        HLS
 *   <dir>/<key>/<rendition>/a.mp4               progressive MP4
 *   <dir>/<key>/dash/init-<stream>.m4s          DASH (stream: a rendition name or "audio")
 *   <dir>/<key>/dash/chunk-<stream>-NNNNN.m4s
 * An entry is written into <dir>/.tmp-<key>-XXXXXX and renamed into place, so it appears
 * whole or not at all; when two processes race, the first rename wins and the loser
 * discards its copy (the bytes are identical). On load, every file's size and SHA-256
 * are checked against meta.json; a damaged entry is moved aside (renamed onto a fresh
 * .trash-<key>-XXXXXX directory, then deleted) and the media regenerated. Entries of older
 * generator versions have other keys: they are never read (nor removed).
 */
#include "media_priv.h"

#include "kp/codec.h"
#include "kp/err.h"
#include "kp/jsonu.h"

#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define MOD "media"

#define META_FORMAT "kpsim-media-cache"
#define SHA256_LEN  32

struct mbe_media_cache {
    pthread_mutex_t mu;
    char *dir; /* NULL when no directory could be chosen */
    kp_log *log;
    char *lib_versions;
    mbe_media **entries;
    size_t n_entries;
    size_t cap_entries;
    mbe_media_stats stats;
};

/* ---- small helpers --------------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int sha256_hex(const void *data, size_t len, char out[2 * SHA256_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != SHA256_LEN)
        return KP_ECRYPTO;
    char *hex = kp_hex_encode(md, n);
    if (!hex)
        return KP_ENOMEM;
    memcpy(out, hex, 2 * SHA256_LEN + 1);
    free(hex);
    return KP_OK;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)remove(path);
    return 0;
}

/* rm -rf of a directory this module created. */
static void remove_tree(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return KP_EIO;
    int rc = (len && fwrite(data, 1, len, f) != len) ? KP_EIO : KP_OK;
    if (fclose(f) != 0)
        rc = KP_EIO;
    return rc;
}

/* An empty media object with room for the packagings in `want`. */
static mbe_media *media_new(const char *key, const mbe__plan *p, unsigned want)
{
    size_t n = p->n_renditions;
    mbe_media *m = calloc(1, sizeof(*m));
    mbe_hls_rendition *hls = want & MBE_PACKAGE_HLS ? calloc(n, sizeof(*hls)) : NULL;
    mbe_dash_stream *dv = want & MBE_PACKAGE_DASH ? calloc(n, sizeof(*dv)) : NULL;
    mbe_dash_stream *da = want & MBE_PACKAGE_DASH ? calloc(1, sizeof(*da)) : NULL;
    mbe_mp4_file *mp4 = want & MBE_PACKAGE_MP4 ? calloc(n, sizeof(*mp4)) : NULL;
    if (!m || (want & MBE_PACKAGE_HLS && !hls) || (want & MBE_PACKAGE_DASH && (!dv || !da)) ||
        (want & MBE_PACKAGE_MP4 && !mp4)) {
        free(m);
        free(hls);
        free(dv);
        free(da);
        free(mp4);
        return NULL;
    }
    snprintf(m->key, sizeof(m->key), "%s", key);
    m->duration_s = (double)p->n_frames / MBE__FPS;
    m->segment_s = p->segment_s;
    m->packagings = want;
    m->hls = hls;
    m->n_hls = hls ? n : 0;
    m->dash_video = dv;
    m->n_dash_video = dv ? n : 0;
    m->dash_audio = da;
    m->mp4 = mp4;
    m->n_mp4 = mp4 ? n : 0;
    for (size_t i = 0; i < n; i++) {
        if (hls)
            hls[i].r = p->renditions[i];
        if (dv) {
            dv[i].r = p->renditions[i];
            dv[i].timescale = MBE_DASH_TIMESCALE_VIDEO;
        }
        if (mp4)
            mp4[i].r = p->renditions[i];
    }
    if (da) {
        da->audio = true;
        da->timescale = MBE_DASH_TIMESCALE_AUDIO;
        snprintf(da->r.name, sizeof(da->r.name), "audio");
    }
    return m;
}

static void media_free(mbe_media *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_hls; i++)
        mbe__hls_rendition_clear((mbe_hls_rendition *)&m->hls[i]);
    for (size_t i = 0; i < m->n_dash_video; i++)
        mbe__dash_stream_clear((mbe_dash_stream *)&m->dash_video[i]);
    mbe__dash_stream_clear((mbe_dash_stream *)m->dash_audio);
    for (size_t i = 0; i < m->n_mp4; i++)
        mbe__mp4_file_clear((mbe_mp4_file *)&m->mp4[i]);
    free((void *)m->hls);
    free((void *)m->dash_video);
    free((void *)m->dash_audio);
    free((void *)m->mp4);
    free(m);
}

static int64_t segment_frames(const mbe__plan *p, size_t k)
{
    int64_t f0 = (int64_t)k * p->gop_frames;
    int64_t left = p->n_frames - f0;
    return left < p->gop_frames ? left : p->gop_frames;
}

/* ---- disk: load ------------------------------------------------------------------------ */

static bool codecs_ok(const char *s, size_t cap)
{
    size_t n = strlen(s);
    if (n == 0 || n >= cap)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == ','))
            return false;
    return true;
}

/* What went wrong while loading an entry: a reason (the entry is unusable) or an error. */
typedef struct loader {
    const char *edir;
    const char *why;
    int rc;
} loader;

static bool loading(const loader *l)
{
    return !l->why && l->rc == KP_OK;
}

/* Reads <edir>/<rel> and checks it against {"size", "sha256"} in desc. The bytes are
 * malloc'd into *data (NULL when the check fails). */
static void load_blob(loader *l, const char *rel, const json_t *desc, const uint8_t **data,
                      size_t *size)
{
    *data = NULL;
    *size = 0;
    if (!loading(l))
        return;
    long long want_size = kp_json_int(desc, "size", -1);
    const char *want = kp_json_str(desc, "sha256", "");
    if (want_size <= 0) {
        l->why = "a file entry has no size";
        return;
    }
    char *path = kp_asprintf("%s/%s", l->edir, rel);
    if (!path) {
        l->rc = KP_ENOMEM;
        return;
    }
    kp_buf b;
    kp_buf_init(&b);
    /* reserving the expected size spares kp_read_file its grow-and-copy steps */
    int rc = kp_buf_reserve(&b, (size_t)want_size);
    if (rc == KP_OK)
        rc = kp_read_file(path, &b);
    free(path);
    char got[2 * SHA256_LEN + 1];
    if (rc < 0)
        l->why = "a file is missing or unreadable";
    else if (b.len != (size_t)want_size)
        l->why = "a file has the wrong size";
    else if ((l->rc = sha256_hex(b.data, b.len, got)) == KP_OK && strcmp(got, want) != 0)
        l->why = "a file has the wrong SHA-256";
    if (!loading(l)) {
        kp_buf_free(&b);
        return;
    }
    *size = b.len;
    *data = (const uint8_t *)kp_buf_steal(&b);
}

static void load_hls(loader *l, const json_t *hls, const mbe__plan *p, mbe_media *m)
{
    if (!json_is_array(hls) || json_array_size(hls) != p->n_renditions) {
        l->why = "HLS rendition list differs";
        return;
    }
    size_t n = (size_t)((p->n_frames + p->gop_frames - 1) / p->gop_frames);
    for (size_t i = 0; loading(l) && i < p->n_renditions; i++) {
        mbe_hls_rendition *r = (mbe_hls_rendition *)&m->hls[i];
        json_t *jr = json_array_get(hls, i);
        json_t *jsegs = json_object_get(jr, "segments");
        const char *codecs = kp_json_str(jr, "codecs", "");
        if (strcmp(kp_json_str(jr, "name", ""), r->r.name) != 0 || !json_is_array(jsegs) ||
            json_array_size(jsegs) != n || !codecs_ok(codecs, sizeof(r->codecs))) {
            l->why = "HLS rendition entry differs";
            break;
        }
        snprintf(r->codecs, sizeof(r->codecs), "%s", codecs);
        mbe_segment *segs = calloc(n, sizeof(*segs));
        if (!segs) {
            l->rc = KP_ENOMEM;
            break;
        }
        r->segments = segs;
        r->n_segments = n;
        for (size_t k = 0; loading(l) && k < n; k++) {
            json_t *js = json_array_get(jsegs, k);
            if (kp_json_int(js, "frames", -1) != segment_frames(p, k)) {
                l->why = "HLS segment entry differs";
                break;
            }
            char *rel = kp_asprintf("%s/seg_%05zu.ts", r->r.name, k);
            if (!rel) {
                l->rc = KP_ENOMEM;
                break;
            }
            load_blob(l, rel, js, &segs[k].data, &segs[k].size);
            free(rel);
            segs[k].duration_s = (double)segment_frames(p, k) / MBE__FPS;
        }
        if (loading(l))
            mbe__hls_compute_stats(r);
    }
}

static void load_dash_stream(loader *l, const json_t *js, const mbe__plan *p, mbe_dash_stream *s)
{
    size_t n = (size_t)((p->n_frames + p->gop_frames - 1) / p->gop_frames);
    json_t *jsegs = json_object_get(js, "segments");
    const char *codecs = kp_json_str(js, "codecs", "");
    if (strcmp(kp_json_str(js, "name", ""), s->r.name) != 0 ||
        kp_json_int(js, "timescale", -1) != s->timescale || !json_is_array(jsegs) ||
        json_array_size(jsegs) != n || !codecs_ok(codecs, sizeof(s->codecs)) ||
        strchr(codecs, ',')) {
        l->why = "DASH stream entry differs";
        return;
    }
    snprintf(s->codecs, sizeof(s->codecs), "%s", codecs);
    char *rel = kp_asprintf("dash/init-%s.m4s", s->r.name);
    if (!rel) {
        l->rc = KP_ENOMEM;
        return;
    }
    load_blob(l, rel, json_object_get(js, "init"), &s->init, &s->init_size);
    free(rel);
    mbe_dash_segment *segs = loading(l) ? calloc(n, sizeof(*segs)) : NULL;
    if (loading(l) && !segs)
        l->rc = KP_ENOMEM;
    s->segments = segs;
    s->n_segments = segs ? n : 0;
    for (size_t k = 0; loading(l) && k < n; k++) {
        json_t *jg = json_array_get(jsegs, k);
        int64_t t = kp_json_int(jg, "t", -1), d = kp_json_int(jg, "d", -1);
        int64_t want_t = k ? segs[k - 1].t + segs[k - 1].d : 0;
        if (!s->audio && (t != mbe__dash_video_t(p, k) || d != mbe__dash_video_d(p, k)))
            l->why = "DASH video timeline differs";
        else if (t != want_t || d <= 0)
            l->why = "DASH timeline has a gap";
        if (!loading(l))
            break;
        segs[k].t = t;
        segs[k].d = d;
        rel = kp_asprintf("dash/chunk-%s-%05zu.m4s", s->r.name, k + 1);
        if (!rel) {
            l->rc = KP_ENOMEM;
            break;
        }
        load_blob(l, rel, jg, &segs[k].data, &segs[k].size);
        free(rel);
    }
    if (loading(l))
        mbe__dash_compute_stats(s);
}

static void load_dash(loader *l, const json_t *dash, const mbe__plan *p, mbe_media *m)
{
    json_t *video = json_object_get(dash, "video");
    if (!json_is_array(video) || json_array_size(video) != p->n_renditions) {
        l->why = "DASH stream list differs";
        return;
    }
    for (size_t i = 0; loading(l) && i < p->n_renditions; i++)
        load_dash_stream(l, json_array_get(video, i), p, (mbe_dash_stream *)&m->dash_video[i]);
    load_dash_stream(l, json_object_get(dash, "audio"), p, (mbe_dash_stream *)m->dash_audio);
}

static void load_mp4(loader *l, const json_t *mp4, const mbe__plan *p, mbe_media *m)
{
    if (!json_is_array(mp4) || json_array_size(mp4) != p->n_renditions) {
        l->why = "MP4 file list differs";
        return;
    }
    for (size_t i = 0; loading(l) && i < p->n_renditions; i++) {
        mbe_mp4_file *f = (mbe_mp4_file *)&m->mp4[i];
        json_t *jf = json_array_get(mp4, i);
        if (strcmp(kp_json_str(jf, "name", ""), f->r.name) != 0) {
            l->why = "MP4 file entry differs";
            break;
        }
        char *rel = kp_asprintf("%s/a.mp4", f->r.name);
        if (!rel) {
            l->rc = KP_ENOMEM;
            break;
        }
        load_blob(l, rel, jf, &f->data, &f->size);
        free(rel);
        f->bitrate = (long)ceil((double)f->size * 8 * MBE__FPS / (double)p->n_frames);
    }
}

/* Fills m from the entry directory. KP_EPARSE (with a log line saying why) when anything
 * does not match. */
static int load_entry(mbe_media_cache *c, const char *edir, const mbe__plan *p,
                      const char *key_text, mbe_media *m)
{
    char *path = kp_asprintf("%s/meta.json", edir);
    if (!path)
        return KP_ENOMEM;
    kp_buf raw;
    kp_buf_init(&raw);
    int rc = kp_read_file(path, &raw);
    free(path);
    if (rc < 0) {
        KP_LOG_W(c->log, MOD, "cache entry %s: cannot read meta.json (%s)", m->key,
                 kp_strerror(rc));
        kp_buf_free(&raw);
        return KP_EPARSE;
    }
    json_error_t jerr;
    json_t *meta = json_loadb(raw.data, raw.len, 0, &jerr);
    kp_buf_free(&raw);
    if (!meta) {
        KP_LOG_W(c->log, MOD, "cache entry %s: meta.json line %d: %s", m->key, jerr.line,
                 jerr.text);
        return KP_EPARSE;
    }
    loader l = {edir, NULL, KP_OK};
    if (strcmp(kp_json_str(meta, "format", ""), META_FORMAT) != 0)
        l.why = "not a media cache entry";
    else if (kp_json_int(meta, "generator", -1) != MBE__GENERATOR_VERSION)
        l.why = "generator version differs";
    else if (strcmp(kp_json_str(meta, "key", ""), m->key) != 0 ||
             strcmp(kp_json_str(meta, "key_text", ""), key_text) != 0)
        l.why = "key differs";
    /* only what was asked for is read (and checked) */
    if (m->packagings & MBE_PACKAGE_HLS)
        load_hls(&l, json_object_get(meta, "hls"), p, m);
    if (m->packagings & MBE_PACKAGE_DASH)
        load_dash(&l, json_object_get(meta, "dash"), p, m);
    if (m->packagings & MBE_PACKAGE_MP4)
        load_mp4(&l, json_object_get(meta, "mp4"), p, m);
    json_decref(meta);
    if (l.why) {
        KP_LOG_W(c->log, MOD, "cache entry %s is damaged or stale: %s", m->key, l.why);
        return KP_EPARSE;
    }
    return l.rc;
}

/* 0 and *out on success; KP_ENOENT when there is no entry; KP_EPARSE when the entry is
 * there but unusable (it has been removed); other codes for memory trouble. */
static int disk_load(mbe_media_cache *c, const char *key, const mbe__plan *p, const char *key_text,
                     mbe_media **out)
{
    char *edir = kp_asprintf("%s/%s", c->dir, key);
    if (!edir)
        return KP_ENOMEM;
    struct stat st;
    if (stat(edir, &st) != 0) {
        free(edir);
        return KP_ENOENT;
    }
    mbe_media *m = media_new(key, p, p->packagings);
    int rc = m ? load_entry(c, edir, p, key_text, m) : KP_ENOMEM;
    if (rc == KP_OK) {
        *out = m;
    } else {
        media_free(m);
        if (rc == KP_EPARSE) {
            /* Move it out of the way atomically (rename onto an empty directory), then
             * delete it; a concurrent reader sees either the old entry or none. */
            char *trash = kp_asprintf("%s/.trash-%s-XXXXXX", c->dir, key);
            if (trash && mkdtemp(trash)) {
                if (rename(edir, trash) != 0)
                    KP_LOG_D(c->log, MOD, "moving %s aside: %s", edir, strerror(errno));
                remove_tree(trash);
            }
            free(trash);
        }
    }
    free(edir);
    return rc;
}

/* ---- disk: store ----------------------------------------------------------------------- */

/* Writes <tmp>/<rel> and returns desc (stolen; NULL counts as out of memory) with "size"
 * and "sha256" added, or NULL with *rc set. */
static json_t *store_blob(const char *tmp, const char *rel, const uint8_t *data, size_t size,
                          json_t *desc, int *rc)
{
    char sum[2 * SHA256_LEN + 1];
    char *path = rel ? kp_asprintf("%s/%s", tmp, rel) : NULL;
    *rc = (desc && path) ? sha256_hex(data, size, sum) : KP_ENOMEM;
    if (*rc == KP_OK)
        *rc = write_file(path, data, size);
    free(path);
    if (*rc == KP_OK && (json_object_set_new(desc, "size", json_integer((json_int_t)size)) != 0 ||
                         json_object_set_new(desc, "sha256", json_string(sum)) != 0))
        *rc = KP_ENOMEM;
    if (*rc < 0) {
        json_decref(desc);
        return NULL;
    }
    return desc;
}

static int make_dir(const char *tmp, const char *name)
{
    char *d = kp_asprintf("%s/%s", tmp, name);
    int rc = !d ? KP_ENOMEM : mkdir(d, 0777) != 0 ? KP_EIO : KP_OK;
    free(d);
    return rc;
}

static int store_hls(const char *tmp, const mbe_media *m, const mbe__plan *p, json_t *hls)
{
    int rc = KP_OK;
    for (size_t i = 0; rc == KP_OK && i < m->n_hls; i++) {
        const mbe_hls_rendition *r = &m->hls[i];
        json_t *segs = json_array();
        json_t *jr = json_pack(
            "{s:s, s:i, s:i, s:i, s:s, s:I, s:I, s:i, s:o}", "name", r->r.name, "width", r->r.width,
            "height", r->r.height, "video_kbps", r->r.video_kbps, "codecs", r->codecs, "bandwidth",
            (json_int_t)r->bandwidth, "average_bandwidth", (json_int_t)r->average_bandwidth,
            "target_duration", r->target_duration, "segments", segs);
        if (!jr || json_array_append_new(hls, jr) != 0)
            return KP_ENOMEM;
        for (size_t k = 0; rc == KP_OK && k < r->n_segments; k++) {
            char *rel = kp_asprintf("%s/seg_%05zu.ts", r->r.name, k);
            json_t *extra = json_pack("{s:I}", "frames", (json_int_t)segment_frames(p, k));
            json_t *js = store_blob(tmp, rel, r->segments[k].data, r->segments[k].size, extra, &rc);
            free(rel);
            if (js && json_array_append_new(segs, js) != 0)
                rc = KP_ENOMEM;
        }
    }
    return rc;
}

static json_t *store_dash_stream(const char *tmp, const mbe_dash_stream *s, int *rc)
{
    json_t *segs = json_array();
    json_t *js =
        json_pack("{s:s, s:s, s:i, s:I, s:o}", "name", s->r.name, "codecs", s->codecs, "timescale",
                  s->timescale, "bandwidth", (json_int_t)s->bandwidth, "segments", segs);
    if (!js) {
        *rc = KP_ENOMEM;
        return NULL;
    }
    char *rel = kp_asprintf("dash/init-%s.m4s", s->r.name);
    json_t *init = store_blob(tmp, rel, s->init, s->init_size, json_object(), rc);
    free(rel);
    if (init && json_object_set_new(js, "init", init) != 0)
        *rc = KP_ENOMEM;
    for (size_t k = 0; *rc == KP_OK && k < s->n_segments; k++) {
        const mbe_dash_segment *g = &s->segments[k];
        rel = kp_asprintf("dash/chunk-%s-%05zu.m4s", s->r.name, k + 1);
        json_t *extra = json_pack("{s:I, s:I}", "t", (json_int_t)g->t, "d", (json_int_t)g->d);
        json_t *jg = store_blob(tmp, rel, g->data, g->size, extra, rc);
        free(rel);
        if (jg && json_array_append_new(segs, jg) != 0)
            *rc = KP_ENOMEM;
    }
    if (*rc < 0) {
        json_decref(js);
        return NULL;
    }
    return js;
}

static int store_dash(const char *tmp, const mbe_media *m, json_t *dash)
{
    json_t *video = json_array();
    int rc = (video && json_object_set_new(dash, "video", video) == 0) ? KP_OK : KP_ENOMEM;
    if (rc == KP_OK)
        rc = make_dir(tmp, "dash");
    for (size_t i = 0; rc == KP_OK && i < m->n_dash_video; i++) {
        json_t *js = store_dash_stream(tmp, &m->dash_video[i], &rc);
        if (js && json_array_append_new(video, js) != 0)
            rc = KP_ENOMEM;
    }
    if (rc == KP_OK) {
        json_t *ja = store_dash_stream(tmp, m->dash_audio, &rc);
        if (ja && json_object_set_new(dash, "audio", ja) != 0)
            rc = KP_ENOMEM;
    }
    return rc;
}

static int store_mp4(const char *tmp, const mbe_media *m, json_t *mp4)
{
    int rc = KP_OK;
    for (size_t i = 0; rc == KP_OK && i < m->n_mp4; i++) {
        const mbe_mp4_file *f = &m->mp4[i];
        char *rel = kp_asprintf("%s/a.mp4", f->r.name);
        json_t *jf =
            store_blob(tmp, rel, f->data, f->size, json_pack("{s:s}", "name", f->r.name), &rc);
        free(rel);
        if (jf && json_array_append_new(mp4, jf) != 0)
            rc = KP_ENOMEM;
    }
    return rc;
}

static int store_files(const char *tmp, const mbe_media *m, const mbe__plan *p,
                       const char *key_text, kp_log *log)
{
    json_t *hls = json_array(), *dash = json_object(), *mp4 = json_array();
    json_t *meta = json_pack("{s:s, s:i, s:s, s:s, s:I, s:i, s:O, s:O, s:O}", "format", META_FORMAT,
                             "generator", MBE__GENERATOR_VERSION, "key", m->key, "key_text",
                             key_text, "frames", (json_int_t)p->n_frames, "segment_s", p->segment_s,
                             "hls", hls, "dash", dash, "mp4", mp4);
    int rc = meta ? KP_OK : KP_ENOMEM;
    for (size_t i = 0; rc == KP_OK && i < m->n_hls; i++)
        rc = make_dir(tmp, m->hls[i].r.name);
    if (rc == KP_OK)
        rc = store_hls(tmp, m, p, hls);
    if (rc == KP_OK)
        rc = store_dash(tmp, m, dash);
    if (rc == KP_OK)
        rc = store_mp4(tmp, m, mp4);
    json_decref(hls);
    json_decref(dash);
    json_decref(mp4);
    if (rc == KP_OK) {
        char *text = json_dumps(meta, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
        char *mp = kp_asprintf("%s/meta.json", tmp);
        rc = (text && mp) ? write_file(mp, text, strlen(text)) : KP_ENOMEM;
        free(text);
        free(mp);
    }
    json_decref(meta);
    if (rc < 0)
        KP_LOG_W(log, MOD, "cache entry %s: writing %s failed: %s", m->key, tmp, kp_strerror(rc));
    return rc;
}

static int disk_store(mbe_media_cache *c, const mbe_media *m, const mbe__plan *p,
                      const char *key_text)
{
    char *tmp = kp_asprintf("%s/.tmp-%s-XXXXXX", c->dir, m->key);
    char *edir = kp_asprintf("%s/%s", c->dir, m->key);
    int rc = (tmp && edir) ? KP_OK : KP_ENOMEM;
    if (rc == KP_OK && !mkdtemp(tmp)) {
        KP_LOG_W(c->log, MOD, "cannot create a directory in %s: %s", c->dir, strerror(errno));
        free(tmp);
        tmp = NULL;
        rc = KP_EIO;
    }
    if (rc == KP_OK)
        rc = store_files(tmp, m, p, key_text, c->log);
    if (rc == KP_OK && chmod(tmp, 0755) != 0) /* mkdtemp made it private */
        rc = KP_EIO;
    if (rc == KP_OK && rename(tmp, edir) != 0) {
        if (errno == EEXIST || errno == ENOTEMPTY) {
            KP_LOG_D(c->log, MOD, "cache entry %s was published by someone else", m->key);
        } else {
            KP_LOG_W(c->log, MOD, "cannot publish %s: %s", edir, strerror(errno));
            rc = KP_EIO;
        }
        remove_tree(tmp);
    } else if (rc < 0 && tmp) {
        remove_tree(tmp);
    }
    free(tmp);
    free(edir);
    return rc;
}

/* ---- generation ------------------------------------------------------------------------ */

static int generate(mbe_media_cache *c, const char *key, const mbe__plan *p, mbe_media **out)
{
    mbe__content *content = NULL;
    double t0 = now_s();
    int rc = mbe__content_encode(p, c->log, &content);
    if (rc < 0)
        return rc;
    double t1 = now_s();
    /* Every packaging from the one encode (they are cheap next to it, and the disk entry
     * must hold them all); each packager only reads the content. */
    mbe_media *m = media_new(key, p, MBE_PACKAGE_ALL);
    if (!m)
        rc = KP_ENOMEM;
    for (size_t i = 0; rc == KP_OK && i < p->n_renditions; i++)
        rc = mbe__hls_package(content, i, c->log, (mbe_hls_rendition *)&m->hls[i]);
    double t2 = now_s();
    for (size_t i = 0; rc == KP_OK && i < p->n_renditions; i++)
        rc = mbe__dash_package(content, i, c->log, (mbe_dash_stream *)&m->dash_video[i]);
    if (rc == KP_OK)
        rc = mbe__dash_package(content, SIZE_MAX, c->log, (mbe_dash_stream *)m->dash_audio);
    double t3 = now_s();
    for (size_t i = 0; rc == KP_OK && i < p->n_renditions; i++)
        rc = mbe__mp4_package(content, i, c->log, (mbe_mp4_file *)&m->mp4[i]);
    mbe__content_free(content);
    KP_LOG_D(c->log, MOD, "media %s: encode %.3f s, packaging HLS %.3f s, DASH %.3f s, MP4 %.3f s",
             key, t1 - t0, t2 - t1, t3 - t2, now_s() - t3);
    if (rc < 0) {
        media_free(m);
        return rc;
    }
    *out = m;
    return KP_OK;
}

/* ---- public ---------------------------------------------------------------------------- */

static char *default_dir(void)
{
    const char *e = getenv("KPSIM_CACHE_DIR");
    if (e && *e)
        return kp_strdup(e);
    e = getenv("XDG_CACHE_HOME");
    if (e && *e)
        return kp_asprintf("%s/kpsim", e);
    e = getenv("HOME");
    if (e && *e)
        return kp_asprintf("%s/.cache/kpsim", e);
    return NULL;
}

mbe_media_cache *mbe_media_cache_new(const char *dir, kp_log *log)
{
    mbe_media_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    kp_buf v;
    kp_buf_init(&v);
    if (pthread_mutex_init(&c->mu, NULL) != 0 || mbe__lib_versions(&v) < 0) {
        kp_buf_free(&v);
        free(c);
        return NULL;
    }
    c->lib_versions = kp_buf_steal(&v);
    c->log = log;
    c->dir = dir && *dir ? kp_strdup(dir) : default_dir();
    if (!c->dir)
        KP_LOG_W(log, MOD, "no media cache directory (set KPSIM_CACHE_DIR or HOME)");
    return c;
}

void mbe_media_cache_free(mbe_media_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_entries; i++)
        media_free(c->entries[i]);
    free(c->entries);
    free(c->dir);
    free(c->lib_versions);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

void mbe_media_cache_stats(const mbe_media_cache *c, mbe_media_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof(*out));
    if (!c)
        return;
    /* the lock is not part of the cache's logical state */
    mbe_media_cache *mc = (mbe_media_cache *)c;
    pthread_mutex_lock(&mc->mu);
    *out = mc->stats;
    pthread_mutex_unlock(&mc->mu);
}

static int make_key(const mbe_media_cache *c, const mbe__plan *p, kp_buf *text, char key[33])
{
    int rc = mbe__plan_key_text(p, c->lib_versions, text);
    char sum[2 * SHA256_LEN + 1];
    if (rc == KP_OK)
        rc = sha256_hex(text->data, text->len, sum);
    if (rc == KP_OK)
        snprintf(key, 33, "%.32s", sum);
    return rc;
}

static int remember(mbe_media_cache *c, mbe_media *m)
{
    if (c->n_entries == c->cap_entries) {
        size_t cap = c->cap_entries ? c->cap_entries * 2 : 8;
        mbe_media **e = realloc(c->entries, cap * sizeof(*e));
        if (!e)
            return KP_ENOMEM;
        c->entries = e;
        c->cap_entries = cap;
    }
    c->entries[c->n_entries++] = m;
    return KP_OK;
}

static int get_locked(mbe_media_cache *c, const mbe__plan *p, const char *key, const char *key_text,
                      const mbe_media **out)
{
    for (size_t i = 0; i < c->n_entries; i++) {
        const mbe_media *e = c->entries[i];
        if (strcmp(e->key, key) == 0 && (e->packagings & p->packagings) == p->packagings) {
            c->stats.memory_hits++;
            *out = c->entries[i];
            return KP_OK;
        }
    }
    if (!c->dir)
        return KP_EIO;
    if (kp_mkdirs(c->dir) < 0) {
        KP_LOG_E(c->log, MOD, "cannot create the media cache directory %s", c->dir);
        return KP_EIO;
    }
    double t0 = now_s();
    mbe_media *m = NULL;
    int rc = disk_load(c, key, p, key_text, &m);
    if (rc == KP_OK) {
        c->stats.loaded_from_disk++;
        KP_LOG_D(c->log, MOD, "media %s loaded from %s in %.1f ms", key, c->dir,
                 (now_s() - t0) * 1e3);
    } else if (rc == KP_ENOENT || rc == KP_EPARSE) {
        if (rc == KP_EPARSE)
            c->stats.disk_rejected++;
        rc = generate(c, key, p, &m);
        if (rc < 0)
            return rc;
        c->stats.encoded++;
        double t1 = now_s();
        if (disk_store(c, m, p, key_text) < 0)
            KP_LOG_W(c->log, MOD, "media %s is not cached on disk", key);
        KP_LOG_I(c->log, MOD,
                 "media %s (%.2f s, %zu renditions) generated in %.2f s, stored "
                 "in %.3f s",
                 key, m->duration_s, m->n_hls, t1 - t0, now_s() - t1);
    } else {
        return rc;
    }
    rc = remember(c, m);
    if (rc < 0) {
        media_free(m);
        return rc;
    }
    *out = m;
    return KP_OK;
}

int mbe_media_get(mbe_media_cache *c, const mbe_media_spec *spec, const mbe_media **out)
{
    if (out)
        *out = NULL;
    if (!c || !spec || !out)
        return KP_EINVAL;
    mbe__plan plan;
    int rc = mbe__plan_from_spec(spec, c->log, &plan);
    if (rc < 0)
        return rc;
    kp_buf text;
    kp_buf_init(&text);
    char key[33];
    rc = make_key(c, &plan, &text, key);
    if (rc == KP_OK) {
        pthread_mutex_lock(&c->mu);
        rc = get_locked(c, &plan, key, text.data, out);
        pthread_mutex_unlock(&c->mu);
    }
    kp_buf_free(&text);
    return rc;
}
