/* media_cache.c: mbe_media_get() and the two caches behind it.
 *
 * Key: SHA-256 of a canonical text (mbe__plan_key_text: generator version, FFmpeg and x264
 * library versions, frame count, segment length, renditions with geometry and bit rate),
 * first 16 bytes in hex. The full text is also stored in the entry and compared on load,
 * so a truncated-hash collision cannot serve the wrong media.
 *
 * Disk layout, one directory per key:
 *   <dir>/<key>/meta.json               format, generator version, key, key text, per
 *                                       rendition: geometry, codecs, and per segment: frames,
 *                                       size, sha256
 *   <dir>/<key>/<rendition>/seg_NNNNN.ts
 * An entry is written into <dir>/.tmp-<key>-XXXXXX and renamed into place, so it appears
 * whole or not at all; when two processes race, the first rename wins and the loser
 * discards its copy (the bytes are identical). On load, every segment's size and SHA-256
 * are checked against meta.json; a damaged entry is moved aside (renamed onto a fresh
 * .trash-<key>-XXXXXX directory, then deleted) and the media regenerated.
 */
#include "media_priv.h"

#include "kp/codec.h"
#include "kp/err.h"
#include "kp/jsonu.h"

#include <errno.h>
#include <ftw.h>
#include <jansson.h>
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

static mbe_media *media_new(const char *key, const mbe__plan *p)
{
    mbe_media *m = calloc(1, sizeof(*m));
    mbe_hls_rendition *hls = calloc(p->n_renditions, sizeof(*hls));
    if (!m || !hls) {
        free(m);
        free(hls);
        return NULL;
    }
    snprintf(m->key, sizeof(m->key), "%s", key);
    m->duration_s = (double)p->n_frames / MBE__FPS;
    m->hls = hls;
    m->n_hls = p->n_renditions;
    for (size_t i = 0; i < p->n_renditions; i++)
        hls[i].r = p->renditions[i];
    return m;
}

static void media_free(mbe_media *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_hls; i++)
        mbe__hls_rendition_clear((mbe_hls_rendition *)&m->hls[i]);
    free((void *)m->hls);
    free(m);
}

static int64_t segment_frames(const mbe__plan *p, size_t k)
{
    int64_t f0 = (int64_t)k * p->gop_frames;
    int64_t left = p->n_frames - f0;
    return left < p->gop_frames ? left : p->gop_frames;
}

/* ---- disk: load ------------------------------------------------------------------------ */

static bool codecs_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof(((mbe_hls_rendition *)0)->codecs))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == ','))
            return false;
    return true;
}

/* Fills m's renditions from the entry directory. KP_EPARSE (with a log line saying why)
 * when anything does not match. */
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
    const char *why = NULL;
    rc = KP_OK;
    json_t *hls = json_object_get(meta, "hls");
    if (strcmp(kp_json_str(meta, "format", ""), META_FORMAT) != 0)
        why = "not a media cache entry";
    else if (kp_json_int(meta, "generator", -1) != MBE__GENERATOR_VERSION)
        why = "generator version differs";
    else if (strcmp(kp_json_str(meta, "key", ""), m->key) != 0 ||
             strcmp(kp_json_str(meta, "key_text", ""), key_text) != 0)
        why = "key differs";
    else if (!json_is_array(hls) || json_array_size(hls) != p->n_renditions)
        why = "rendition list differs";
    for (size_t i = 0; !why && rc == KP_OK && i < p->n_renditions; i++) {
        mbe_hls_rendition *r = (mbe_hls_rendition *)&m->hls[i];
        json_t *jr = json_array_get(hls, i);
        json_t *jsegs = json_object_get(jr, "segments");
        size_t n = (size_t)((p->n_frames + p->gop_frames - 1) / p->gop_frames);
        const char *codecs = kp_json_str(jr, "codecs", "");
        if (strcmp(kp_json_str(jr, "name", ""), r->r.name) != 0 || !json_is_array(jsegs) ||
            json_array_size(jsegs) != n || !codecs_ok(codecs)) {
            why = "rendition entry differs";
            break;
        }
        snprintf(r->codecs, sizeof(r->codecs), "%s", codecs);
        mbe_segment *segs = calloc(n, sizeof(*segs));
        if (!segs) {
            rc = KP_ENOMEM;
            break;
        }
        r->segments = segs;
        r->n_segments = n;
        for (size_t k = 0; k < n && !why && rc == KP_OK; k++) {
            json_t *js = json_array_get(jsegs, k);
            long long size = kp_json_int(js, "size", -1);
            const char *want = kp_json_str(js, "sha256", "");
            if (kp_json_int(js, "frames", -1) != segment_frames(p, k) || size <= 0) {
                why = "segment entry differs";
                break;
            }
            char *sp = kp_asprintf("%s/%s/seg_%05zu.ts", edir, r->r.name, k);
            if (!sp) {
                rc = KP_ENOMEM;
                break;
            }
            kp_buf data;
            kp_buf_init(&data);
            /* reserving the expected size spares kp_read_file its grow-and-copy steps */
            int rrc = kp_buf_reserve(&data, (size_t)size);
            if (rrc == KP_OK)
                rrc = kp_read_file(sp, &data);
            free(sp);
            char got[2 * SHA256_LEN + 1];
            if (rrc < 0)
                why = "a segment file is missing or unreadable";
            else if (data.len != (size_t)size)
                why = "a segment file has the wrong size";
            else if ((rc = sha256_hex(data.data, data.len, got)) == KP_OK && strcmp(got, want) != 0)
                why = "a segment file has the wrong SHA-256";
            if (why || rc < 0) {
                kp_buf_free(&data);
                break;
            }
            segs[k].size = data.len;
            segs[k].data = (const uint8_t *)kp_buf_steal(&data);
            segs[k].duration_s = (double)segment_frames(p, k) / MBE__FPS;
        }
        if (!why && rc == KP_OK)
            mbe__hls_compute_stats(r);
    }
    json_decref(meta);
    if (why) {
        KP_LOG_W(c->log, MOD, "cache entry %s is damaged or stale: %s", m->key, why);
        return KP_EPARSE;
    }
    return rc;
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
    mbe_media *m = media_new(key, p);
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

static int store_files(const char *tmp, const mbe_media *m, const mbe__plan *p,
                       const char *key_text, kp_log *log)
{
    json_t *meta = json_object();
    json_t *hls = json_array();
    int rc = (meta && hls) ? KP_OK : KP_ENOMEM;
    if (rc == KP_OK) {
        json_object_set_new(meta, "format", json_string(META_FORMAT));
        json_object_set_new(meta, "generator", json_integer(MBE__GENERATOR_VERSION));
        json_object_set_new(meta, "key", json_string(m->key));
        json_object_set_new(meta, "key_text", json_string(key_text));
        json_object_set_new(meta, "frames", json_integer(p->n_frames));
        json_object_set_new(meta, "segment_s", json_integer(p->segment_s));
        json_object_set(meta, "hls", hls);
    }
    for (size_t i = 0; rc == KP_OK && i < m->n_hls; i++) {
        const mbe_hls_rendition *r = &m->hls[i];
        char *rdir = kp_asprintf("%s/%s", tmp, r->r.name);
        if (!rdir || mkdir(rdir, 0777) != 0) {
            rc = rdir ? KP_EIO : KP_ENOMEM;
            free(rdir);
            break;
        }
        free(rdir);
        json_t *jr = json_object();
        json_t *segs = json_array();
        if (!jr || !segs) {
            json_decref(jr);
            json_decref(segs);
            rc = KP_ENOMEM;
            break;
        }
        json_array_append_new(hls, jr);
        json_object_set_new(jr, "name", json_string(r->r.name));
        json_object_set_new(jr, "width", json_integer(r->r.width));
        json_object_set_new(jr, "height", json_integer(r->r.height));
        json_object_set_new(jr, "video_kbps", json_integer(r->r.video_kbps));
        json_object_set_new(jr, "codecs", json_string(r->codecs));
        json_object_set_new(jr, "bandwidth", json_integer(r->bandwidth));
        json_object_set_new(jr, "average_bandwidth", json_integer(r->average_bandwidth));
        json_object_set_new(jr, "target_duration", json_integer(r->target_duration));
        json_object_set_new(jr, "segments", segs);
        for (size_t k = 0; rc == KP_OK && k < r->n_segments; k++) {
            const mbe_segment *s = &r->segments[k];
            char sum[2 * SHA256_LEN + 1];
            char *sp = kp_asprintf("%s/%s/seg_%05zu.ts", tmp, r->r.name, k);
            rc = sp ? sha256_hex(s->data, s->size, sum) : KP_ENOMEM;
            if (rc == KP_OK)
                rc = write_file(sp, s->data, s->size);
            free(sp);
            json_t *js = json_object();
            if (rc == KP_OK && !js)
                rc = KP_ENOMEM;
            if (rc < 0) {
                json_decref(js);
                break;
            }
            json_object_set_new(js, "frames", json_integer(segment_frames(p, k)));
            json_object_set_new(js, "size", json_integer((json_int_t)s->size));
            json_object_set_new(js, "sha256", json_string(sum));
            json_array_append_new(segs, js);
        }
    }
    json_decref(hls);
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
    /* Packagers: HLS-TS for now; DASH, MP4 and CENC ones will read the same content. */
    mbe_media *m = media_new(key, p);
    if (!m)
        rc = KP_ENOMEM;
    for (size_t i = 0; rc == KP_OK && i < p->n_renditions; i++)
        rc = mbe__hls_package(content, i, c->log, (mbe_hls_rendition *)&m->hls[i]);
    mbe__content_free(content);
    KP_LOG_D(c->log, MOD, "media %s: encode %.3f s, HLS packaging %.3f s", key, t1 - t0,
             now_s() - t1);
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
        if (strcmp(c->entries[i]->key, key) == 0) {
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
