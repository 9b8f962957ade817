/* provider_ovp_config.c: the OVP media config built from the media-entry loader's results
 * (baseEntry.list, baseEntry.getPlaybackContext, metadata_metadata.list), reference §2 and
 * the §3.2 service errors (2001, 2002, 2003, 3001), plus the eCDN regex rewrite (§2.8).
 *
 * The real provider reads untyped JSON through small JS classes; where it reads a field of a
 * non-object it gets undefined, and where it calls a method on a missing or mistyped value it
 * throws a TypeError. Here the first is kp_ovp__get() returning NULL, and the second is
 * KP_EPARSE, which provider_ovp.c reports as 1007 API_RESPONSE_MISMATCH. Everything this file
 * returns is owned by the caller.
 */
#include "provider_ovp_priv.h"
#include "provider_priv.h"

#include "kp/err.h"
#include "kp/perror.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define G     kp_ovp__get
#define jset  kp_prov__set
#define jpush kp_prov__push
#define asize kp_prov__asize

/* JS String(v) as a new JSON string. */
static json_t *js_string(const json_t *v)
{
    kp_buf b;
    kp_buf_init(&b);
    json_t *j = kp_ovp__put_str(&b, v) < 0 ? NULL : json_stringn(b.data ? b.data : "", b.len);
    kp_buf_free(&b);
    return j;
}

/* ---- shape checks: where the JS classes would throw ----------------------------------------- */

/* new KalturaPlaybackContext(data) would not throw. */
static bool playback_context_ok(const json_t *pbc)
{
    if (!kp_prov__context_ok(pbc) || !kp_prov__array_or_falsy(G(pbc, "flavorAssets")) ||
        !kp_prov__array_or_falsy(G(pbc, "bumperData")))
        return false;
    const json_t *fl = G(pbc, "flavorAssets");
    for (size_t i = 0; json_is_array(fl) && i < json_array_size(fl); i++) {
        const json_t *tags = G(json_array_get(fl, i), "tags");
        if (tags && !json_is_string(tags)) /* KalturaFlavorAsset.parseTags(): tags.split */
            return false;
    }
    const json_t *bd = G(pbc, "bumperData");
    for (size_t i = 0; json_is_array(bd) && i < json_array_size(bd); i++)
        if (!kp_prov__sources_ok(G(json_array_get(bd, i), "sources")))
            return false;
    return true;
}

/* ---- URLs ----------------------------------------------------------------------------------- */

/* KalturaPlaybackSource.getProtocol(base): base when listed, "" when not; NULL when the
 * JS would throw (protocols is an array: no split()). */
static const char *source_protocol(const char *base, const json_t *protocols)
{
    if (json_is_string(protocols) && json_string_length(protocols) > 0) {
        const char *p = json_string_value(protocols);
        size_t n = strlen(base);
        for (;;) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            if (len == n && memcmp(p, base, n) == 0)
                return base;
            if (!comma)
                return "";
            p = comma + 1;
        }
    }
    if (json_is_array(protocols) && json_array_size(protocols) > 0)
        return NULL;
    return strcmp(base, "http") == 0 ? base : "";
}

/* PlaySourceUrlBuilder.build(). Sets *out to the URL, or NULL for "" (source discarded). */
static int build_play_url(const kp_ovp__ctx *c, const json_t *entry_id, const json_t *flavor_ids,
                          const json_t *format, const char *ks, long long uiconf, const json_t *ext,
                          const char *protocol, char **out)
{
    *out = NULL;
    const char *su = c->service_url;
    const char *slash = strrchr(su, '/');
    size_t origin_len = slash ? (size_t)(slash - su) : 0;
    if (origin_len == 0 || !kp_ovp__truthy(entry_id) || !kp_ovp__truthy(format) || !*protocol)
        return 0;
    kp_buf b;
    kp_buf_init(&b);
    int rc = kp_buf_append(&b, su, origin_len);
    if (rc >= 0 && su[origin_len - 1] != '/')
        rc = kp_buf_putc(&b, '/');
    if (rc >= 0)
        rc = kp_buf_printf(&b, "p/%lld/sp/%lld00/playManifest/entryId/", c->o->partner_id,
                           c->o->partner_id);
    if (rc >= 0)
        rc = kp_ovp__put_str(&b, entry_id);
    if (rc >= 0)
        rc = kp_buf_printf(&b, "/protocol/%s/format/", protocol);
    if (rc >= 0)
        rc = kp_ovp__put_str(&b, format);
    if (rc >= 0 && kp_ovp__truthy(flavor_ids)) {
        rc = kp_buf_puts(&b, "/flavorIds/");
        if (rc >= 0)
            rc = kp_ovp__put_str(&b, flavor_ids);
    } else if (rc >= 0 && uiconf) {
        rc = kp_buf_printf(&b, "/uiConfId/%lld", uiconf);
    }
    if (rc >= 0 && *ks)
        rc = kp_buf_printf(&b, "/ks/%s", ks);
    if (rc >= 0 && !kp_ovp__is_str(ext, "")) {
        rc = kp_buf_puts(&b, "/a.");
        if (rc >= 0)
            rc = kp_ovp__put_str(&b, ext);
    }
    if (rc >= 0 && uiconf && !kp_ovp__is_str(flavor_ids, ""))
        rc = kp_buf_printf(&b, "?uiConfId=%lld", uiconf);
    if (rc < 0) {
        kp_buf_free(&b);
        return KP_ENOMEM;
    }
    *out = kp_buf_steal(&b);
    return 0;
}

/* JS /^.*[\\/]/ removal then indexOf('.'): does the last path segment have a dot? */
static bool has_url_extension(const char *url)
{
    size_t path_len = strcspn(url, "?");
    size_t line_len = strcspn(url, "\r\n"); /* '.' stops at line terminators */
    size_t scan = path_len < line_len ? path_len : line_len;
    size_t start = 0;
    for (size_t i = 0; i < scan; i++)
        if (url[i] == '/' || url[i] == '\\')
            start = i + 1;
    return memchr(url + start, '.', path_len - start) != NULL;
}

/* OVPProviderParser.addKsToUrl(): a new JSON value; KP_EPARSE when url is not a string but
 * a KS would be appended (the JS calls url.split). */
static int add_ks_to_url(const json_t *url, const char *ks, json_t **out)
{
    *out = NULL;
    if (!*ks) {
        *out = kp_ovp__copy(url);
        return 0;
    }
    if (!json_is_string(url))
        return KP_EPARSE;
    const char *u = json_string_value(url);
    const char *sep = has_url_extension(u) ? (strchr(u, '?') ? "&ks=" : "?ks=") : "/ks/";
    char *s = kp_asprintf("%s%s%s", u, sep, ks);
    if (!s)
        return KP_ENOMEM;
    *out = json_string(s);
    free(s);
    return *out ? 0 : KP_ENOMEM;
}

/* ---- sources -------------------------------------------------------------------------------- */

/* MediaSource.toJSON() of an adaptive source, or *out NULL when it is discarded. */
static int adaptive_source(const kp_ovp__ctx *c, const json_t *src, const json_t *entry_id,
                           const char *ks, json_t **out, bool *is_hls)
{
    *out = NULL;
    const json_t *format = G(src, "format");
    const char *mimetype, *ext;
    if (kp_ovp__is_str(format, "applehttp")) {
        mimetype = "application/x-mpegURL";
        ext = "m3u8";
        *is_hls = true;
    } else if (kp_ovp__is_str(format, "mpegdash")) {
        mimetype = "application/dash+xml";
        ext = "mpd";
        *is_hls = false;
    } else {
        return 0; /* no container: MediaSources.map() drops it */
    }
    const char *protocol = source_protocol(c->base_protocol, G(src, "protocols"));
    if (!protocol)
        return KP_EPARSE;
    const json_t *flavor_ids = G(src, "flavorIds");
    bool has_flavors = (json_is_string(flavor_ids) && json_string_length(flavor_ids) > 0) ||
                       (json_is_array(flavor_ids) && json_array_size(flavor_ids) > 0);
    json_t *url = NULL;
    int rc;
    if (has_flavors) {
        char *s;
        json_t *jext = json_string(ext);
        if (!jext)
            return KP_ENOMEM;
        rc = build_play_url(c, entry_id, flavor_ids, format, ks, c->o->uiconf_id, jext, protocol,
                            &s);
        json_decref(jext);
        if (rc < 0)
            return rc;
        if (s) {
            url = json_string(s);
            free(s);
            if (!url)
                return KP_ENOMEM;
        }
    } else {
        rc = add_ks_to_url(G(src, "url"), ks, &url);
        if (rc < 0)
            return rc;
    }
    if (!kp_ovp__truthy(url)) {
        json_decref(url);
        return 0;
    }
    kp_buf id;
    kp_buf_init(&id);
    rc = kp_ovp__put_str(&id, entry_id);
    if (rc >= 0)
        rc = kp_buf_putc(&id, '_');
    if (rc >= 0)
        rc = kp_ovp__put_str(&id, G(src, "deliveryProfileId"));
    if (rc >= 0)
        rc = kp_buf_putc(&id, ',');
    if (rc >= 0)
        rc = kp_ovp__put_str(&id, format);
    json_t *ms = json_object();
    if (rc < 0 || !ms) {
        kp_buf_free(&id);
        json_decref(url);
        json_decref(ms);
        return KP_ENOMEM;
    }
    rc = jset(ms, "id", json_stringn(id.data ? id.data : "", id.len));
    kp_buf_free(&id);
    if (rc >= 0)
        rc = jset(ms, "url", url);
    else
        json_decref(url);
    if (rc >= 0)
        rc = jset(ms, "mimetype", json_string(mimetype));
    const json_t *drm = G(src, "drm");
    if (rc >= 0 && asize(drm) > 0)
        rc = jset(ms, "drmData", kp_prov__drm_data(drm));
    if (rc < 0) {
        json_decref(ms);
        return rc;
    }
    *out = ms;
    return 0;
}

/* _parseProgressiveSources(): one source per flavor asset of the playback context. */
static int progressive_sources(const kp_ovp__ctx *c, const json_t *src, const json_t *flavors,
                               const char *ks, long long uiconf, const json_t *entry_id,
                               json_t **out)
{
    *out = NULL;
    json_t *video = json_array(), *audio = json_array();
    int rc = video && audio ? 0 : KP_ENOMEM;
    const char *protocol = rc >= 0 ? source_protocol(c->base_protocol, G(src, "protocols")) : "";
    if (rc >= 0 && !protocol)
        rc = KP_EPARSE;
    const json_t *format = G(src, "format");
    for (size_t i = 0; rc >= 0 && i < asize(flavors); i++) {
        const json_t *fl = json_array_get(flavors, i);
        const json_t *fid = G(fl, "id"), *ext = G(fl, "fileExt");
        char *url;
        rc = build_play_url(c, entry_id, fid, format, ks, uiconf, ext, protocol, &url);
        if (rc < 0 || !url)
            continue;
        kp_buf id;
        kp_buf_init(&id);
        rc = kp_ovp__put_str(&id, fid);
        if (rc >= 0)
            rc = kp_ovp__put_str(&id, G(src, "deliveryProfileId"));
        if (rc >= 0)
            rc = kp_buf_putc(&id, ',');
        if (rc >= 0)
            rc = kp_ovp__put_str(&id, format);
        json_t *ms = json_object();
        if (rc < 0 || !ms) {
            rc = KP_ENOMEM;
        } else {
            rc = jset(ms, "id", json_stringn(id.data ? id.data : "", id.len));
            if (rc >= 0)
                rc = jset(ms, "url", json_string(url));
            if (rc >= 0)
                rc = jset(ms, "mimetype",
                          json_string(kp_ovp__is_str(ext, "mp3") ? "audio/mp3" : "video/mp4"));
            double bw = kp_ovp__number(G(fl, "bitrate")) * 1024;
            if (rc >= 0 && bw != 0 && !isnan(bw))
                rc = jset(ms, "bandwidth", kp_ovp__num_json(bw));
            const json_t *w = G(fl, "width"), *h = G(fl, "height");
            if (rc >= 0 && kp_ovp__truthy(w))
                rc = kp_ovp__set_raw(ms, "width", w);
            if (rc >= 0 && kp_ovp__truthy(h))
                rc = kp_ovp__set_raw(ms, "height", h);
            const json_t *label = G(fl, "label");
            if (!kp_ovp__truthy(label))
                label = G(fl, "language");
            if (rc >= 0 && kp_ovp__truthy(label))
                rc = kp_ovp__set_raw(ms, "label", label);
            if (rc >= 0)
                rc = jpush(kp_ovp__truthy(h) && kp_ovp__truthy(w) ? video : audio, ms);
            else
                json_decref(ms);
        }
        kp_buf_free(&id);
        free(url);
    }
    if (rc < 0) {
        json_decref(video);
        json_decref(audio);
        return rc;
    }
    if (json_array_size(audio) && !json_array_size(video)) {
        *out = audio;
        json_decref(video);
    } else {
        *out = video;
        json_decref(audio);
    }
    return 0;
}

/* ImageSource.extractBaseThumbnailUrl(): url.match(/.+entry_id\/[a-zA-Z0-9_]+\//)[0]
 * without the last '/'. NULL when there is no match (the JS throws). */
static char *image_base_url(const char *url)
{
    static const char key[] = "entry_id/";
    size_t len = strcspn(url, "\n\r"); /* '.' does not cross line terminators */
    size_t klen = sizeof(key) - 1;
    for (size_t p = len >= klen ? len - klen + 1 : 0; p-- > 1;) {
        if (memcmp(url + p, key, klen) != 0)
            continue;
        size_t q = p + klen, run = 0;
        while (q + run < len) {
            char ch = url[q + run];
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '_'))
                break;
            run++;
        }
        if (run > 0 && q + run < len && url[q + run] == '/')
            return kp_strndup(url, q + run);
    }
    return NULL;
}

/* _getParsedSources(): fills hls/dash/progressive/image/document of `out`. */
static int parsed_sources(const kp_ovp__ctx *c, const json_t *entry, const json_t *pbc, json_t *hls,
                          json_t *dash, json_t **progressive, json_t *image, json_t *document)
{
    const json_t *id = G(entry, "id");
    const json_t *type = G(entry, "type");
    int rc = 0;
    if (kp_ovp__is_str(type, "externalMedia.externalMedia")) {
        json_t *ms = json_object();
        kp_buf b;
        kp_buf_init(&b);
        rc = ms ? kp_ovp__put_str(&b, id) : KP_ENOMEM;
        if (rc >= 0)
            rc = kp_buf_puts(&b, "_youtube");
        if (rc >= 0)
            rc = jset(ms, "id", json_stringn(b.data, b.len));
        kp_buf_free(&b);
        if (rc >= 0)
            rc = kp_ovp__set_raw(ms, "url", G(entry, "referenceId"));
        if (rc >= 0)
            rc = jset(ms, "mimetype", json_string("video/youtube"));
        if (rc >= 0)
            return jpush(*progressive, ms);
        json_decref(ms);
        return rc < 0 ? KP_ENOMEM : rc;
    }
    if (kp_ovp__is_num(G(entry, "mediaType"), 2)) {
        const json_t *data_url = G(entry, "dataUrl");
        if (!json_is_string(data_url))
            return KP_EPARSE;
        char *base = image_base_url(json_string_value(data_url));
        if (!base)
            return KP_EPARSE;
        json_t *is = json_object();
        rc = is ? kp_ovp__set_raw(is, "id", id) : KP_ENOMEM;
        if (rc >= 0)
            rc = jset(is, "url", json_string(base));
        if (rc >= 0)
            rc = jset(is, "mimetype", json_string(""));
        free(base);
        if (rc >= 0)
            return jpush(image, is);
        json_decref(is);
        return rc;
    }
    if (kp_ovp__is_num(type, 10)) {
        json_t *ds = json_object();
        rc = ds ? kp_ovp__set_raw(ds, "id", id) : KP_ENOMEM;
        if (rc >= 0)
            rc = kp_ovp__set_raw(ds, "url", G(entry, "downloadUrl"));
        if (rc >= 0)
            rc = kp_ovp__set_raw(ds, "thumbnailUrl", G(entry, "thumbnailUrl"));
        if (rc >= 0)
            rc = jset(ds, "mimetype", json_string(""));
        if (rc >= 0)
            return jpush(document, ds);
        json_decref(ds);
        return rc;
    }
    const json_t *sources = kp_prov__ctx_array(pbc, "sources");
    if (!asize(sources))
        return 0;
    /* adaptive: every non-progressive source, in server order */
    for (size_t i = 0; rc >= 0 && i < asize(sources); i++) {
        const json_t *src = json_array_get(sources, i);
        if (kp_ovp__is_str(G(src, "format"), "url"))
            continue;
        json_t *ms;
        bool is_hls = false;
        rc = adaptive_source(c, src, id, c->url_ks, &ms, &is_hls);
        if (rc >= 0 && ms)
            rc = jpush(is_hls ? hls : dash, ms);
    }
    if (rc < 0)
        return rc;
    /* progressive: the first `url` source whose protocols allow the base protocol */
    for (size_t i = 0; i < asize(sources); i++) {
        const json_t *src = json_array_get(sources, i);
        if (!kp_ovp__is_str(G(src, "format"), "url"))
            continue;
        const char *proto = source_protocol(c->base_protocol, G(src, "protocols"));
        if (!proto)
            return KP_EPARSE;
        if (!*proto)
            continue;
        json_t *list;
        rc = progressive_sources(c, src, kp_prov__ctx_array(pbc, "flavorAssets"), c->url_ks,
                                 c->o->uiconf_id, id, &list);
        if (rc < 0)
            return rc;
        json_decref(*progressive);
        *progressive = list;
        return 0;
    }
    return 0;
}

/* ---- captions ------------------------------------------------------------------------------- */

static int captions_config(const json_t *captions, const char *ks, json_t **out)
{
    *out = NULL;
    if (!json_is_array(captions))
        return KP_EPARSE; /* captions.map */
    json_t *list = json_array();
    int rc = list ? 0 : KP_ENOMEM;
    for (size_t i = 0; rc >= 0 && i < json_array_size(captions); i++) {
        const json_t *cap = json_array_get(captions, i);
        if (json_is_null(cap)) {
            rc = KP_EPARSE;
            break;
        }
        const json_t *format = G(cap, "format");
        const json_t *url = G(cap, "url");
        const char *type = NULL;
        if (format && (json_is_string(format) || json_is_number(format))) {
            json_t *key = js_string(format);
            if (!key) {
                rc = KP_ENOMEM;
                break;
            }
            if (kp_ovp__is_str(key, "3"))
                type = "vtt";
            else if (kp_ovp__is_str(key, "1"))
                type = "srt";
            json_decref(key);
        }
        if (kp_ovp__is_str(format, "2") || kp_ovp__is_str(format, "4")) {
            url = G(cap, "webVttUrl");
            type = "vtt";
        }
        json_t *u;
        rc = add_ks_to_url(url, ks, &u);
        if (rc < 0)
            break;
        json_t *o = json_object();
        rc = o ? jset(o, "default", json_boolean(kp_ovp__truthy(G(cap, "isDefault")))) : KP_ENOMEM;
        if (rc >= 0 && type)
            rc = jset(o, "type", json_string(type));
        if (rc >= 0)
            rc = kp_ovp__set_raw(o, "language", G(cap, "languageCode"));
        if (rc >= 0)
            rc = kp_ovp__set_raw(o, "label", G(cap, "label"));
        if (rc >= 0 && u) {
            rc = jset(o, "url", u);
            u = NULL;
        }
        json_decref(u);
        if (rc >= 0)
            rc = jpush(list, o);
        else
            json_decref(o);
    }
    if (rc < 0) {
        json_decref(list);
        return rc;
    }
    *out = list;
    return 0;
}

/* A KalturaFlavorAsset as JSON.stringify writes it. */
static json_t *flavor_asset_json(const json_t *fl)
{
    static const char *const keys[] = {
        "id",           "flavorParamsId", "fileExt",    "bitrate", "width",
        "height",       "frameRate",      "isOriginal", "isWeb",   "containerFormat",
        "videoCodecId", "status",         "language",   "label"};
    json_t *o = json_object();
    if (!o)
        return NULL;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (kp_ovp__set_raw(o, keys[i], G(fl, keys[i])) < 0)
            goto fail;
    const json_t *tags = G(fl, "tags");
    const char *t = json_is_string(tags) ? json_string_value(tags) : "";
    json_t *arr = json_array();
    if (!arr || json_object_set_new(o, "tags", arr) != 0)
        goto fail;
    for (;;) {
        const char *comma = strchr(t, ',');
        size_t len = comma ? (size_t)(comma - t) : strlen(t);
        if (jpush(arr, json_stringn(t, len)) < 0)
            goto fail;
        if (!comma)
            break;
        t = comma + 1;
    }
    return o;
fail:
    json_decref(o);
    return NULL;
}

/* _fillBaseData() metadata part plus the defaults of _getSourcesObject(). */
static int build_metadata(const json_t *entry, const json_t *pbc, const json_t *md, json_t **out)
{
    *out = NULL;
    json_t *m = json_object();
    if (!m)
        return KP_ENOMEM;
    /* the default sources object starts with these three keys */
    int rc = jset(m, "name", json_string(""));
    if (rc >= 0)
        rc = jset(m, "description", json_string(""));
    if (rc >= 0)
        rc = jset(m, "tags", json_string(""));
    if (rc >= 0)
        rc = kp_ovp__custom_metadata(md, m);
    struct {
        const char *key;
        bool always; /* `x || ''` rather than `if (x)` */
    } fields[] = {{"description", true}, {"entryId", true},    {"name", true},
                  {"createdAt", false},  {"updatedAt", false}, {"creatorId", false},
                  {"userId", false},     {"endDate", false},   {"views", false},
                  {"plays", false},      {"tags", true},       {"adminTags", true}};
    for (size_t i = 0; rc >= 0 && i < sizeof(fields) / sizeof(fields[0]); i++) {
        const char *src = strcmp(fields[i].key, "entryId") == 0 ? "id" : fields[i].key;
        const json_t *v = G(entry, src);
        if (kp_ovp__truthy(v))
            rc = kp_ovp__set_raw(m, fields[i].key, v);
        else if (fields[i].always)
            rc = jset(m, fields[i].key, json_string(""));
    }
    const json_t *flavors = kp_prov__ctx_array(pbc, "flavorAssets");
    const json_t *f0 = asize(flavors) ? json_array_get(flavors, 0) : NULL;
    if (rc >= 0 && kp_ovp__truthy(G(f0, "width")) && kp_ovp__truthy(G(f0, "height"))) {
        double r = kp_ovp__number(G(f0, "width")) / kp_ovp__number(G(f0, "height"));
        rc = jset(m, "aspectRatio", kp_ovp__num_json(kp_ovp__round2(r)));
        /* +"1.78" is a double even when integral in JS; keep integral ratios as integers, as
         * JSON.stringify does */
    }
    if (!pbc) { /* playlist and entry-list items: no playback context */
        if (rc < 0) {
            json_decref(m);
            return rc;
        }
        *out = m;
        return 0;
    }
    json_t *audio = rc >= 0 ? json_array() : NULL;
    if (rc >= 0 && !audio)
        rc = KP_ENOMEM;
    for (size_t i = 0; rc >= 0 && i < asize(flavors); i++) {
        const json_t *fl = json_array_get(flavors, i);
        if (kp_ovp__truthy(G(fl, "bitrate")) && !kp_ovp__truthy(G(fl, "width")) &&
            !kp_ovp__truthy(G(fl, "height")))
            rc = jpush(audio, flavor_asset_json(fl));
    }
    if (rc >= 0) {
        rc = jset(m, "audioFlavors", audio);
        audio = NULL;
    }
    json_decref(audio);
    if (rc < 0) {
        json_decref(m);
        return rc;
    }
    *out = m;
    return 0;
}

/* ---- the media config ----------------------------------------------------------------------- */

static const char *entry_type(const json_t *entry)
{
    const json_t *media_type = G(entry, "mediaType"), *type = G(entry, "type");
    if (kp_ovp__is_num(media_type, 2))
        return "Image";
    if (kp_ovp__is_num(media_type, 5))
        return "Audio";
    if (kp_ovp__is_num(type, 1))
        return "Vod";
    if (kp_ovp__is_num(type, 7) || kp_ovp__is_num(type, 8))
        return "Live";
    if (kp_ovp__is_num(type, 10))
        return "Document";
    return "Unknown";
}

static bool has_vr_tag(const json_t *tags, const char *vr_tag)
{
    if (!json_is_string(tags))
        return false;
    const char *t = json_string_value(tags);
    size_t want = strlen(vr_tag);
    for (;;) {
        const char *comma = strchr(t, ',');
        const char *end = comma ? comma : t + strlen(t);
        const char *s = t;
        while (s < end && kp_ovp__js_space((const unsigned char *)s, (size_t)(end - s)))
            s += kp_ovp__js_space((const unsigned char *)s, (size_t)(end - s));
        const char *e = end;
        while (e > s && (e[-1] == ' ' || (e[-1] >= '\t' && e[-1] <= '\r')))
            e--;
        if ((size_t)(e - s) == want && memcmp(s, vr_tag, want) == 0)
            return true;
        if (!comma)
            return false;
        t = comma + 1;
    }
}

static json_t *service_error(int code, json_t *data)
{
    return kp_prov__error(KP_PROVCAT_SERVICE, code, data);
}

/* Builds the message string of 2002 from JS String() of raw values: a v1 b v2 c. */
static json_t *sprintf_js(const char *a, const json_t *v1, const char *b, const json_t *v2,
                          const char *c)
{
    kp_buf s;
    kp_buf_init(&s);
    int rc = kp_buf_puts(&s, a);
    if (rc >= 0)
        rc = kp_ovp__put_str(&s, v1);
    if (rc >= 0)
        rc = kp_buf_puts(&s, b);
    if (rc >= 0)
        rc = kp_ovp__put_str(&s, v2);
    if (rc >= 0)
        rc = kp_buf_puts(&s, c);
    json_t *j = rc >= 0 ? json_stringn(s.data, s.len) : NULL;
    kp_buf_free(&s);
    return j;
}

static int bumper_plugin(const kp_ovp__ctx *c, const json_t *pbc, json_t *plugins)
{
    const json_t *bd = kp_prov__ctx_array(pbc, "bumperData");
    if (!asize(bd))
        return 0;
    const json_t *b0 = json_array_get(bd, 0);
    const json_t *sources = G(b0, "sources");
    for (size_t i = 0; i < asize(sources); i++) {
        const json_t *src = json_array_get(sources, i);
        if (!kp_ovp__is_str(G(src, "format"), "url"))
            continue;
        json_t *list;
        int rc = progressive_sources(c, src, kp_prov__ctx_array(pbc, "flavorAssets"), c->bumper_ks,
                                     0, G(b0, "entryId"), &list);
        if (rc < 0)
            return rc;
        if (json_array_size(list)) {
            json_t *bumper = json_object();
            rc = bumper ? kp_ovp__set_raw(bumper, "url",
                                          json_object_get(json_array_get(list, 0), "url"))
                        : KP_ENOMEM;
            if (rc >= 0)
                rc = kp_ovp__set_raw(bumper, "clickThroughUrl", G(b0, "url"));
            if (rc >= 0)
                rc = jset(plugins, "bumper", bumper);
            else
                json_decref(bumper);
        }
        json_decref(list);
        return rc;
    }
    return 0;
}

/* _getSourcesObject(mediaEntry): the sources object of an entry, with the playback context
 * and metadata list of the media-entry loader, or without both (pbc and md NULL: playlist
 * and entry-list items, whose hls/dash/progressive stay empty). */
static int sources_object(const kp_ovp__ctx *c, const json_t *entry, const json_t *pbc,
                          const json_t *md, json_t **out)
{
    *out = NULL;
    if (!entry || json_is_null(entry))
        return KP_EPARSE; /* new KalturaMediaEntry(null) */
    json_t *hls = json_array(), *dash = json_array(), *prog = json_array(), *image = json_array(),
           *doc = json_array();
    json_t *metadata = NULL, *captions = NULL, *sources = NULL;
    int rc = hls && dash && prog && image && doc ? 0 : KP_ENOMEM;
    if (rc >= 0 && pbc)
        rc = parsed_sources(c, entry, pbc, hls, dash, &prog, image, doc);
    if (rc >= 0)
        rc = build_metadata(entry, pbc, md, &metadata);
    const json_t *caps_raw = G(entry, "capabilities");
    if (rc >= 0 && kp_ovp__truthy(caps_raw) && !json_is_string(caps_raw))
        rc = KP_EPARSE; /* capabilities.split */
    const char *type = entry_type(entry);
    if (rc >= 0 && pbc && strcmp(type, "Live") != 0 && c->o->use_api_captions &&
        kp_ovp__truthy(G(pbc, "playbackCaptions")))
        rc = captions_config(G(pbc, "playbackCaptions"), c->url_ks, &captions);

    /* _getSourcesObject(): the default object's keys first, then the rest */
    if (rc >= 0) {
        sources = json_object();
        rc = kp_prov__set_source_lists(sources, hls, dash, prog, image, doc);
        hls = dash = prog = image = doc = NULL;
    }
    if (rc >= 0)
        rc = kp_ovp__set_raw(sources, "id", G(entry, "id"));
    if (rc >= 0)
        rc = kp_ovp__set_raw(sources, "duration", G(entry, "duration"));
    if (rc >= 0)
        rc = jset(sources, "type", json_string(type));
    if (rc >= 0)
        rc = kp_ovp__set_raw(sources, "poster", G(entry, "thumbnailUrl"));
    if (rc >= 0)
        rc = kp_ovp__set_raw(sources, "rawThumbnailUrl", G(entry, "thumbnailUrl"));
    if (rc >= 0)
        rc = jset(sources, "dvr",
                  json_boolean(strcmp(type, "Live") == 0 && kp_ovp__truthy(G(entry, "dvrStatus"))));
    if (rc >= 0) {
        const char *vr_tag = c->o->vr_tag && *c->o->vr_tag ? c->o->vr_tag : "360";
        rc = jset(sources, "vr",
                  has_vr_tag(json_object_get(metadata, "tags"), vr_tag) ? json_object()
                                                                        : json_null());
    }
    if (rc >= 0) {
        rc = jset(sources, "metadata", metadata);
        metadata = NULL;
    }
    if (rc >= 0) {
        const json_t *du = G(entry, "downloadUrl");
        rc = kp_ovp__truthy(du) ? kp_ovp__set_raw(sources, "downloadUrl", du)
                                : jset(sources, "downloadUrl", json_string(""));
    }
    if (rc >= 0)
        rc = kp_ovp__set_raw(sources, "rootEntryId", G(entry, "rootEntryId"));
    if (rc >= 0) {
        json_t *caps = json_array();
        const char *t = kp_ovp__truthy(caps_raw) ? json_string_value(caps_raw) : NULL;
        rc = caps ? 0 : KP_ENOMEM;
        while (rc >= 0 && t) {
            const char *comma = strchr(t, ',');
            size_t len = comma ? (size_t)(comma - t) : strlen(t);
            rc = jpush(caps, json_stringn(t, len));
            t = comma ? comma + 1 : NULL;
        }
        if (rc >= 0)
            rc = jset(sources, "capabilities", caps);
        else
            json_decref(caps);
    }
    const json_t *alst = G(pbc, "activeLiveStreamTime");
    if (rc >= 0 && kp_ovp__truthy(alst)) {
        json_t *o = json_object();
        rc = o ? kp_ovp__set_raw(o, "startTime", G(alst, "startTime")) : KP_ENOMEM;
        if (rc >= 0)
            rc = kp_ovp__set_raw(o, "endTime", G(alst, "endTime"));
        if (rc >= 0)
            rc = jset(sources, "activeLiveStreamTime", o);
        else
            json_decref(o);
    }
    if (rc >= 0 && captions) {
        rc = jset(sources, "captions", captions);
        captions = NULL;
    }
    json_decref(hls);
    json_decref(dash);
    json_decref(prog);
    json_decref(image);
    json_decref(doc);
    json_decref(metadata);
    json_decref(captions);
    if (rc < 0) {
        json_decref(sources);
        return rc;
    }
    *out = sources;
    return 0;
}

int kp_ovp__entry_sources(const kp_ovp__ctx *c, const json_t *entry, json_t **sources)
{
    return sources_object(c, entry, NULL, NULL, sources);
}

int kp_ovp__build_media(const kp_ovp__ctx *c, const json_t *list, const json_t *pbc,
                        const json_t *md, json_t *cfg, json_t **error)
{
    *error = NULL;
    /* OVPMediaEntryLoader's response setter: list first, then the playback context */
    if (!list || json_is_null(list) || !(kp_ovp__number(G(list, "totalCount")) > 0) ||
        !kp_prov__array_of_objects(G(list, "objects")))
        return KP_EPARSE;
    if (!playback_context_ok(pbc))
        return KP_EPARSE;
    const json_t *objects = G(list, "objects");
    const json_t *entry = json_array_size(objects) ? json_array_get(objects, 0) : NULL;

    /* BLOCK, then SCHEDULED_RESTRICTED */
    const json_t *actions = kp_prov__ctx_array(pbc, "actions");
    for (size_t i = 0; i < asize(actions); i++) {
        if (!kp_ovp__is_num(G(json_array_get(actions, i), "type"), 1))
            continue;
        *error = kp_prov__block_error(pbc, json_integer(1));
        return *error ? 0 : KP_ENOMEM;
    }
    const json_t *msgs_raw = kp_prov__ctx_array(pbc, "messages");
    for (size_t i = 0; i < asize(msgs_raw); i++) {
        if (!kp_ovp__is_str(G(json_array_get(msgs_raw, i), "code"), "SCHEDULED_RESTRICTED"))
            continue;
        json_t *msgs = kp_prov__messages(pbc);
        json_t *data = msgs ? json_pack("{s:o}", "messages", msgs) : NULL;
        *error = data ? service_error(KP_PROVCODE_SCHEDULED_RESTRICTED, data) : NULL;
        return *error ? 0 : KP_ENOMEM;
    }
    if (!entry || json_is_null(entry))
        return KP_EPARSE; /* getMediaEntry reads entry.id of undefined */

    json_t *sources;
    int rc = sources_object(c, entry, pbc, md, &sources);
    if (rc < 0)
        return rc;

    /* _verifyMediaStatus, then _verifyHasSources */
    const json_t *status = G(entry, "status");
    if (kp_ovp__is_num(status, 0) || kp_ovp__is_num(status, 1)) {
        json_decref(sources);
        json_t *msg = sprintf_js("Status of entry id ", G(entry, "id"), " is ", status,
                                 " and is still being imported or converted");
        /* data.status is window.status in the real provider (a bug kept for conformance) */
        json_t *data =
            msg ? json_pack("{s:o, s:{s:s}}", "messages", msg, "data", "status", "") : NULL;
        *error = data ? service_error(KP_PROVCODE_MEDIA_STATUS_NOT_READY, data) : NULL;
        return *error ? 0 : KP_ENOMEM;
    }
    size_t n_sources = 0;
    static const char *const kinds[] = {"hls", "dash", "progressive", "image", "document"};
    for (size_t i = 0; i < 5; i++)
        n_sources += json_array_size(json_object_get(sources, kinds[i]));
    if (n_sources == 0) {
        *error = kp_prov__no_source_error(json_object_get(sources, "id"));
        json_decref(sources);
        return *error ? 0 : KP_ENOMEM;
    }

    json_t *plugins = json_object();
    rc = plugins ? bumper_plugin(c, pbc, plugins) : KP_ENOMEM;
    rc = kp_prov__set_media(cfg, rc, sources, plugins);
    return rc < 0 ? rc : 0;
}

/* ---- eCDN request-host regex (§2.8) --------------------------------------------------------- */

const json_t *kp_ovp__regex_action(const json_t *pbc)
{
    const json_t *actions = kp_prov__ctx_array(pbc, "actions");
    for (size_t i = 0; i < asize(actions); i++)
        if (kp_ovp__is_num(G(json_array_get(actions, i), "type"), 7))
            return json_array_get(actions, i);
    return NULL;
}

/* new RegExp(String(action.pattern), 'i') when pattern and replacement are truthy. */
static int action_regex(const json_t *action, kp_ovp__regex **re, char **replacement)
{
    *re = NULL;
    *replacement = NULL;
    const json_t *pat = G(action, "pattern"), *rep = G(action, "replacement");
    if (!kp_ovp__truthy(pat) || !kp_ovp__truthy(rep))
        return 0;
    kp_buf p, r;
    kp_buf_init(&p);
    kp_buf_init(&r);
    int rc = kp_ovp__put_str(&p, pat);
    if (rc >= 0)
        rc = kp_ovp__put_str(&r, rep);
    if (rc >= 0) {
        rc = kp_ovp__regex_new(p.data ? p.data : "", re);
        if (rc == KP_ENOTSUP || rc == KP_EPARSE)
            rc = 0; /* not expressible here (or invalid): URLs stay as they are */
    }
    if (rc >= 0 && *re)
        *replacement = kp_buf_steal(&r);
    kp_buf_free(&p);
    kp_buf_free(&r);
    if (rc < 0) {
        kp_ovp__regex_free(*re);
        *re = NULL;
    }
    return rc < 0 ? rc : 0;
}

int kp_ovp__regex_check(const kp_ovp__ctx *c, const json_t *action, char **ping_url,
                        long long *timeout_ms)
{
    if (!action || !c->cdn_url || !*c->cdn_url)
        return KP_OVP__RX_NONE;
    kp_ovp__regex *re;
    char *rep;
    int rc = action_regex(action, &re, &rep);
    if (rc < 0 || !re)
        return rc;
    if (!kp_ovp__regex_test(re, c->cdn_url)) {
        rc = KP_OVP__RX_NONE;
    } else if (kp_ovp__number(G(action, "checkAliveTimeoutMs")) > 0) {
        rc = KP_OVP__RX_PING;
        if (ping_url) {
            char *host;
            rc = kp_ovp__regex_replace(re, c->cdn_url, rep, &host);
            if (rc >= 0) {
                *ping_url = kp_asprintf("%s/api_v3/service/system/action/ping/format/1", host);
                free(host);
                rc = *ping_url ? KP_OVP__RX_PING : KP_ENOMEM;
            }
        }
        if (rc >= 0 && timeout_ms)
            *timeout_ms = (long long)kp_ovp__number(G(action, "checkAliveTimeoutMs"));
    } else {
        rc = KP_OVP__RX_NOW;
    }
    kp_ovp__regex_free(re);
    free(rep);
    return rc;
}

/* obj[key] = s.replace(re, rep) when obj[key] is a string. */
static int rewrite_field(json_t *obj, const char *key, const kp_ovp__regex *re, const char *rep)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        return 0;
    char *out;
    int rc = kp_ovp__regex_replace(re, json_string_value(v), rep, &out);
    if (rc < 0)
        return rc;
    rc = jset(obj, key, json_string(out));
    free(out);
    return rc;
}

int kp_ovp__regex_rewrite(const kp_ovp__ctx *c, const json_t *action, json_t *cfg)
{
    kp_ovp__regex *re;
    char *rep;
    int rc = action_regex(action, &re, &rep);
    if (rc < 0 || !re)
        return rc;
    char *rep_slash = kp_asprintf("%s/", rep);
    json_t *sources = json_object_get(cfg, "sources");
    static const char *const kinds[] = {"hls", "dash", "progressive", "image"};
    rc = rep_slash ? 0 : KP_ENOMEM;
    for (size_t k = 0; rc >= 0 && k < 4; k++) {
        json_t *arr = json_object_get(sources, kinds[k]);
        for (size_t i = 0; rc >= 0 && i < asize(arr); i++)
            rc = rewrite_field(json_array_get(arr, i), "url", re, rep_slash);
    }
    if (rc >= 0 && !c->o->replace_host_only_manifest_urls) {
        json_t *caps = json_object_get(sources, "captions");
        for (size_t i = 0; rc >= 0 && i < asize(caps); i++)
            rc = rewrite_field(json_array_get(caps, i), "url", re, rep_slash);
        if (rc >= 0)
            rc = rewrite_field(sources, "poster", re, rep_slash);
    }
    free(rep_slash);
    free(rep);
    kp_ovp__regex_free(re);
    return rc < 0 ? rc : 0;
}
