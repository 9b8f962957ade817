/* api.c: the OVP services the reference player and the real provider call, answered from
 * the configured entries, with the real server's object shapes and error strings
 * (reference/kaltura-provider.md §1.3, §1.6, §1.7). */
#include "ks.h"
#include "mbe_internal.h"

#include "kp/buf.h"
#include "kp/codec.h"
#include "kp/drm.h"
#include "kp/drmmsg.h"
#include "kp/jsonu.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *mbe_exception(const char *code, json_t *args, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return json_pack("{s:s, s:s, s:s, s:o}", "code", code, "message", msg, "objectType",
                     "KalturaAPIException", "args", args ? args : json_object());
}

const mbe_ientry *mbe_find_entry(const mbe_server *s, const char *id)
{
    for (size_t i = 0; id && i < s->n_entries; i++)
        if (strcmp(s->entries[i].id, id) == 0)
            return &s->entries[i];
    return NULL;
}

static int status_code(const char *status)
{
    if (strcmp(status, "import") == 0)
        return 0;
    if (strcmp(status, "preconvert") == 0)
        return 1;
    if (strcmp(status, "deleted") == 0)
        return 3;
    return 2;
}

/* Validates the call's KS; returns NULL when fine, else the INVALID_KS exception. */
static json_t *check_ks(mbe_server *s, const json_t *params)
{
    const char *ks = kp_json_str(params, "ks", "");
    if (!*ks)
        return mbe_exception("MISSING_KS", NULL, "Missing KS. Session not established");
    int rc = mbe_ks_check(ks, s->partner_id, s->secret, s->epoch);
    if (rc == MBE_KS_OK)
        return NULL;
    return mbe_exception(
        "INVALID_KS",
        json_pack("{s:s, s:i, s:s}", "KSID", ks, "ERR_CODE", rc, "ERR_DESC", mbe_ks_error_desc(rc)),
        "Invalid KS \"%s\", Error \"%d,%s\"", ks, rc, mbe_ks_error_desc(rc));
}

static json_t *start_widget_session(mbe_server *s, const json_t *params)
{
    const char *widget = kp_json_str(params, "widgetId", "");
    char expected[32];
    snprintf(expected, sizeof(expected), "_%lld", s->partner_id);
    if (strcmp(widget, expected) != 0)
        return mbe_exception("INVALID_WIDGET_ID", json_pack("{s:s}", "WIDGET_ID", widget),
                             "Unknown widget [%s]", widget);
    pthread_mutex_lock(&s->lock);
    unsigned long long n = ++s->ks_count;
    pthread_mutex_unlock(&s->lock);
    char rand[48];
    snprintf(rand, sizeof(rand), "%lld.%04llu", s->epoch, n % 10000);
    char *ks =
        mbe_ks_make(s->partner_id, s->secret, s->epoch + 86400, 0, rand, "0", "view:*,widget:1");
    json_t *r =
        json_pack("{s:I, s:s, s:i, s:s}", "partnerId", (json_int_t)s->partner_id, "ks",
                  ks ? ks : "", "userId", 0, "objectType", "KalturaStartWidgetSessionResponse");
    free(ks);
    return r;
}

static char *base_path(const mbe_server *s)
{
    return kp_asprintf("%s/p/%lld/sp/%lld00", s->url, s->partner_id, s->partner_id);
}

static json_t *entry_object(const mbe_server *s, const mbe_ientry *e)
{
    char *base = base_path(s);
    char *thumb = kp_asprintf("%s/thumbnail/entry_id/%s/version/100002", base, e->id);
    char *data = kp_asprintf("%s/playManifest/entryId/%s/format/url/protocol/http", base, e->id);
    kp_buf fp;
    kp_buf_init(&fp);
    for (size_t i = 0; i < e->n_flavors; i++)
        kp_buf_printf(&fp, "%s%d", i ? "," : "", e->flavors[i].r.height);
    long long created = s->epoch - 86400;
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:I, s:I, s:s, s:s, s:I,"
        " s:I, s:i, s:s, s:i, s:i, s:s, s:s, s:s, s:i, s:s}",
        "id", e->id, "name", e->name, "description", "", "partnerId", (json_int_t)s->partner_id,
        "userId", "kpsim", "creatorId", "kpsim", "tags", "", "adminTags", "", "status",
        status_code(e->status), "moderationStatus", 6, "type", 1, "createdAt", (json_int_t)created,
        "updatedAt", (json_int_t)created, "thumbnailUrl", thumb ? thumb : "", "dataUrl",
        data ? data : "", "duration", (json_int_t)(e->duration + 0.5), "msDuration",
        (json_int_t)(e->duration * 1000.0 + 0.5), "mediaType", 1, "flavorParamsIds",
        fp.data ? fp.data : "", "plays", 0, "views", 0, "rootEntryId", e->id, "capabilities", "",
        "downloadUrl", data ? data : "", "dvrStatus", 0, "objectType", "KalturaMediaEntry");
    if (e->reference_id)
        json_object_set_new(o, "referenceId", json_string(e->reference_id));
    kp_buf_free(&fp);
    free(base);
    free(thumb);
    free(data);
    return o;
}

/* responseProfile type 1 (INCLUDE_FIELDS): keep only the listed fields (and objectType). */
static void apply_profile(json_t *obj, const json_t *profile)
{
    if (kp_json_int(profile, "type", 0) != 1)
        return;
    const char *fields = kp_json_str(profile, "fields", NULL);
    if (!fields)
        return;
    char *list = kp_asprintf(",%s,", fields);
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(obj, tmp, k, v)
    {
        char *needle = kp_asprintf(",%s,", k);
        if (strcmp(k, "objectType") != 0 && list && needle && !strstr(list, needle))
            json_object_del(obj, k);
        free(needle);
    }
    free(list);
}

/* An entry's API objects depend on the entry and the server only, neither of which changes
 * while the server runs: they are built once, on first use, then shared by every reply
 * (jansson's reference counts are atomic, and nothing modifies them after). The one
 * request-dependent cut, a responseProfile's field list, is kept for the last list seen. */
typedef struct mbe_entry_api {
    json_t *object;   /* KalturaMediaEntry, every field */
    char *fields;     /* the responseProfile fields of `listed` (NULL: none) */
    json_t *listed;   /* object cut to those fields */
    json_t *context;  /* KalturaPlaybackContext */
    json_t *metadata; /* KalturaMetadataListResponse */
} mbe_entry_api;

void mbe_entry_api_free(mbe_ientry *e)
{
    mbe_entry_api *a = e->api;
    if (!a)
        return;
    json_decref(a->object);
    free(a->fields);
    json_decref(a->listed);
    json_decref(a->context);
    json_decref(a->metadata);
    free(a);
    e->api = NULL;
}

static json_t *build_context(const mbe_server *s, const mbe_ientry *e);
static json_t *build_metadata(const mbe_server *s, const mbe_ientry *e);

/* The cache of e, built if need be; NULL when out of memory. Call with s->lock held. */
static mbe_entry_api *entry_api_locked(const mbe_server *s, const mbe_ientry *e)
{
    mbe_ientry *me = (mbe_ientry *)e; /* the cache is the only part that changes */
    if (!me->api) {
        mbe_entry_api *a = calloc(1, sizeof(*a));
        if (!a)
            return NULL;
        a->object = entry_object(s, e);
        a->context = build_context(s, e);
        a->metadata = build_metadata(s, e);
        if (!a->object || !a->context || !a->metadata) {
            me->api = a;
            mbe_entry_api_free(me);
            return NULL;
        }
        me->api = a;
    }
    return me->api;
}

typedef enum { API_OBJECT, API_CONTEXT, API_METADATA } api_part;

/* A new reference to one of the entry's shared objects (NULL when out of memory). */
static json_t *entry_part(mbe_server *s, const mbe_ientry *e, api_part part)
{
    pthread_mutex_lock(&s->lock);
    mbe_entry_api *a = entry_api_locked(s, e);
    json_t *v = !a                    ? NULL
                : part == API_OBJECT  ? a->object
                : part == API_CONTEXT ? a->context
                                      : a->metadata;
    json_incref(v);
    pthread_mutex_unlock(&s->lock);
    return v;
}

/* The entry as a list answers it under responseProfile `profile`: shared when the profile
 * keeps every field or repeats the last field list, else cut from a copy. */
static json_t *entry_listed(mbe_server *s, const mbe_ientry *e, const json_t *profile)
{
    const char *fields =
        kp_json_int(profile, "type", 0) == 1 ? kp_json_str(profile, "fields", NULL) : NULL;
    if (!fields)
        return entry_part(s, e, API_OBJECT);
    json_t *v = NULL;
    pthread_mutex_lock(&s->lock);
    mbe_entry_api *a = entry_api_locked(s, e);
    if (a && a->fields && strcmp(a->fields, fields) == 0)
        v = json_incref(a->listed);
    json_t *full = a ? json_incref(a->object) : NULL;
    pthread_mutex_unlock(&s->lock);
    if (v || !full) {
        json_decref(full);
        return v;
    }
    v = json_copy(full);
    json_decref(full);
    apply_profile(v, profile);
    char *copy = kp_strdup(fields);
    pthread_mutex_lock(&s->lock);
    if (copy && v && e->api) {
        mbe_entry_api *c = e->api;
        free(c->fields);
        json_decref(c->listed);
        c->fields = copy;
        c->listed = json_incref(v);
        copy = NULL;
    }
    pthread_mutex_unlock(&s->lock);
    free(copy);
    return v;
}

static json_t *base_entry_list(mbe_server *s, const json_t *params)
{
    json_t *err = check_ks(s, params);
    if (err)
        return err;
    const json_t *filter = json_object_get(params, "filter");
    const json_t *profile = json_object_get(params, "responseProfile");
    json_t *objects = json_array();
    const char *redirect = kp_json_str(filter, "redirectFromEntryId", NULL);
    const char *id_equal = kp_json_str(filter, "idEqual", NULL);
    const char *ref_equal = kp_json_str(filter, "referenceIdEqual", NULL);
    if (redirect) {
        const mbe_ientry *e = mbe_find_entry(s, redirect);
        if (!e) {
            json_decref(objects);
            /* SphinxEntryCriteria: the redirect filter of an unknown id throws */
            return mbe_exception("INVALID_ENTRY_ID", json_pack("{s:s}", "ID", redirect),
                                 "Invalid entry id [\"%s\"]", redirect);
        }
        json_array_append_new(objects, entry_listed(s, e, profile));
    } else if (id_equal) {
        const mbe_ientry *e = mbe_find_entry(s, id_equal);
        if (e)
            json_array_append_new(objects, entry_listed(s, e, profile));
    } else if (ref_equal) {
        for (size_t i = 0; i < s->n_entries; i++)
            if (s->entries[i].reference_id && strcmp(s->entries[i].reference_id, ref_equal) == 0)
                json_array_append_new(objects, entry_listed(s, &s->entries[i], profile));
    } else {
        for (size_t i = 0; i < s->n_entries; i++)
            if (strcmp(s->entries[i].status, "deleted") != 0)
                json_array_append_new(objects, entry_listed(s, &s->entries[i], profile));
    }
    return json_pack("{s:o, s:I, s:s}", "objects", objects, "totalCount",
                     (json_int_t)json_array_size(objects), "objectType",
                     "KalturaBaseEntryListResponse");
}

static const char *restriction_message(const char *code)
{
    static const struct {
        const char *code, *msg;
    } table[] = {
        {"COUNTRY_RESTRICTED", "Un authorized country\nWe're sorry, this content is only available "
                               "in certain countries."},
        {"SITE_RESTRICTED", "Un authorized domain\nWe're sorry, this content is only available on "
                            "certain domains."},
        {"IP_RESTRICTED", "Un authorized IP address\nWe're sorry, this content is only available "
                          "for certain IP addresses."},
        {"SESSION_RESTRICTED",
         "No KS where KS is required\nWe're sorry, access to this content is restricted."},
        {"USER_AGENT_RESTRICTED",
         "User Agent Restricted\nWe're sorry, this content is not available for your device."},
        {"SCHEDULED_RESTRICTED",
         "Out of scheduling\nWe're sorry, this content is currently unavailable."},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (strcmp(table[i].code, code) == 0)
            return table[i].msg;
    return code;
}

static const struct {
    int format;
    const char *name, *ext;
    int delivery_profile;
} source_formats[] = {
    {MBE_FORMAT_HLS, "applehttp", "m3u8", 1001},
    {MBE_FORMAT_DASH, "mpegdash", "mpd", 1002},
    {MBE_FORMAT_PROGRESSIVE, "url", "mp4", 1003},
};

/* A caption asset id: the entry's partition, "_", then a hash of entry and index. */
static void caption_id(const char *entry, size_t index, char out[24])
{
    char key[160];
    snprintf(key, sizeof(key), "%s/caption/%zu", entry, index);
    uint64_t h = kp_fnv1a(key, strlen(key));
    static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    size_t plen = strcspn(entry, "_");
    if (plen > 8)
        plen = 8;
    memcpy(out, entry, plen);
    out[plen] = '_';
    for (int i = 0; i < 8; i++) {
        out[plen + 1 + i] = alphabet[h % 36];
        h /= 36;
    }
    out[plen + 9] = '\0';
}

/* KalturaCaptionPlaybackPluginData: format "3" is WEBVTT, "1" SRT. */
static json_t *playback_captions(const mbe_server *s, const mbe_ientry *e)
{
    json_t *list = json_array();
    for (size_t i = 0; i < e->n_captions; i++) {
        const mbe_caption *c = &e->captions[i];
        char id[24];
        caption_id(e->id, i, id);
        char *url = kp_asprintf("%s/api_v3/index.php/service/caption_captionAsset/action/serve/"
                                "captionAssetId/%s/v/1",
                                s->url, id);
        char *vtt = kp_asprintf("%s/api_v3/index.php/service/caption_captionAsset/action/"
                                "serveWebVTT/captionAssetId/%s/segmentIndex/-1/version/1/"
                                "captions.vtt",
                                s->url, id);
        json_array_append_new(
            list,
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:s}", "label", c->label, "format",
                      strcmp(c->format, "srt") == 0 ? "1" : "3", "language", c->label, "webVttUrl",
                      vtt ? vtt : "", "url", url ? url : "", "isDefault", c->is_default,
                      "languageCode", c->lang, "objectType", "KalturaCaptionPlaybackPluginData"));
        free(url);
        free(vtt);
    }
    return list;
}

/* The text of a caption asset: one cue per 2 s of the entry, in WebVTT or SRT. */
static char *caption_text(const mbe_ientry *e, const mbe_caption *c, bool webvtt)
{
    kp_buf b;
    kp_buf_init(&b);
    if (webvtt)
        kp_buf_puts(&b, "WEBVTT\n\n");
    int n = 0;
    for (double t = 0; t < e->duration; t += 2.0, n++) {
        double end = t + 2.0 < e->duration ? t + 2.0 : e->duration;
        int a = (int)(t * 1000), z = (int)(end * 1000);
        char sep = webvtt ? '.' : ',';
        if (!webvtt)
            kp_buf_printf(&b, "%d\n", n + 1);
        kp_buf_printf(&b, "%02d:%02d:%02d%c%03d --> %02d:%02d:%02d%c%03d\n%s %d\n\n", a / 3600000,
                      a / 60000 % 60, a / 1000 % 60, sep, a % 1000, z / 3600000, z / 60000 % 60,
                      z / 1000 % 60, sep, z % 1000, c->label, n + 1);
    }
    return kp_buf_steal(&b);
}

/* GET under /api_v3/: caption assets (serve, serveWebVTT) and, on an OTT back-end, the
 * Phoenix playManifest. Paths may carry "index.php/" after /api_v3/. */
static const char caption_serve[] = "service/caption_captionAsset/action/serve/captionAssetId/";
static const char caption_vtt[] = "service/caption_captionAsset/action/serveWebVTT/captionAssetId/";
static const char ott_manifest[] = "service/assetFile/action/playManifest/";

static const char *after_api(const char *path)
{
    const char *p = path + strlen("/api_v3/");
    return kp_str_starts(p, "index.php/") ? p + strlen("index.php/") : p;
}

bool mbe_api_is_resource(const mbe_server *s, const char *path, bool get)
{
    const char *p = after_api(path);
    return get && (kp_str_starts(p, caption_serve) || kp_str_starts(p, caption_vtt) ||
                   (s->kind == MBE_OTT && kp_str_starts(p, ott_manifest)));
}

void mbe_api_get(mbe_server *s, const char *path, mbe_reply *r, json_t *rec)
{
    const char *p = after_api(path);
    if (kp_str_starts(p, ott_manifest) && s->kind == MBE_OTT) {
        mbe_ott_play_manifest(s, path, r, rec);
        return;
    }
    bool webvtt = kp_str_starts(p, caption_vtt);
    if (webvtt || kp_str_starts(p, caption_serve)) {
        const char *id = p + strlen(webvtt ? caption_vtt : caption_serve);
        size_t idlen = strcspn(id, "/");
        for (size_t i = 0; i < s->n_entries; i++) {
            const mbe_ientry *e = &s->entries[i];
            for (size_t k = 0; k < e->n_captions; k++) {
                char cid[24];
                caption_id(e->id, k, cid);
                if (strlen(cid) != idlen || strncmp(cid, id, idlen) != 0)
                    continue;
                bool as_vtt = webvtt || strcmp(e->captions[k].format, "srt") != 0;
                r->status = 200;
                r->content_type = as_vtt ? "text/vtt" : "application/x-subrip";
                r->body = caption_text(e, &e->captions[k], as_vtt);
                r->len = r->body ? strlen(r->body) : 0;
                json_object_set_new(rec, "kind", json_string("caption"));
                json_object_set_new(rec, "entryId", json_string(e->id));
                return;
            }
        }
    }
    r->status = 404;
    r->content_type = "text/plain";
    r->body = kp_strdup("404 Not Found: no such API resource\n");
    r->len = r->body ? strlen(r->body) : 0;
    if (!json_object_get(rec, "kind"))
        json_object_set_new(rec, "kind", json_string("unknown"));
}

/* The KalturaPlaybackSource list of a ready entry: one source per offered format, over all
 * its flavors. */
static json_t *entry_sources(const mbe_server *s, const mbe_ientry *e)
{
    json_t *sources = json_array();
    char *base = base_path(s);
    kp_buf ids;
    kp_buf_init(&ids);
    for (size_t i = 0; i < e->n_flavors; i++)
        kp_buf_printf(&ids, "%s%s", i ? "," : "", e->flavors[i].id);
    for (size_t f = 0; f < e->n_formats; f++) {
        for (size_t k = 0; k < sizeof(source_formats) / sizeof(source_formats[0]); k++) {
            if (source_formats[k].format != e->formats[f])
                continue;
            char *url = kp_asprintf("%s/playManifest/entryId/%s/flavorIds/%s/deliveryProfileId/"
                                    "%d/protocol/http/format/%s/a.%s",
                                    base, e->id, ids.data ? ids.data : "",
                                    source_formats[k].delivery_profile, source_formats[k].name,
                                    source_formats[k].ext);
            json_array_append_new(
                sources, json_pack("{s:i, s:s, s:i, s:s, s:s, s:s, s:[], s:s}", "deliveryProfileId",
                                   source_formats[k].delivery_profile, "format",
                                   source_formats[k].name, "priority", 0, "protocols", "http,https",
                                   "flavorIds", ids.data ? ids.data : "", "url", url ? url : "",
                                   "drm", "objectType", "KalturaPlaybackSource"));
            free(url);
        }
    }
    kp_buf_free(&ids);
    free(base);
    return sources;
}

static json_t *flavor_assets(const mbe_server *s, const mbe_ientry *e)
{
    json_t *flavors = json_array();
    long long created = s->epoch - 86400;
    for (size_t i = 0; i < e->n_flavors; i++) {
        const mbe_flavor *fl = &e->flavors[i];
        json_array_append_new(
            flavors,
            json_pack("{s:s, s:i, s:i, s:i, s:i, s:f, s:b, s:b, s:s, s:s, s:i, s:s, s:s,"
                      " s:s, s:s, s:I, s:s, s:I, s:I, s:s}",
                      "id", fl->id, "flavorParamsId", fl->r.height, "width", fl->r.width, "height",
                      fl->r.height, "bitrate", fl->bitrate_kbps, "frameRate", 25.0, "isOriginal", 0,
                      "isWeb", 1, "containerFormat", "mpeg-4", "videoCodecId", "avc1", "status", 2,
                      "language", "Undefined", "fileExt", "mp4", "tags",
                      "mobile,web,mbr,iphone,ipad", "entryId", e->id, "partnerId",
                      (json_int_t)s->partner_id, "version", "1", "createdAt", (json_int_t)created,
                      "updatedAt", (json_int_t)created, "objectType", "KalturaFlavorAsset"));
    }
    return flavors;
}

/* KalturaBumper: the bumper entry's progressive sources (the server fills bumperData only
 * when the bumper has sources). */
static json_t *bumper_data(const mbe_server *s, const mbe_ientry *e)
{
    json_t *list = json_array();
    const mbe_ientry *b = e->bumper_entry ? mbe_find_entry(s, e->bumper_entry) : NULL;
    if (!b || strcmp(b->status, "ready") != 0 || b->block)
        return list;
    json_t *sources = entry_sources(s, b);
    if (json_array_size(sources))
        json_array_append_new(list, json_pack("{s:s, s:s, s:O, s:s}", "entryId", b->id, "url",
                                              e->bumper_click, "sources", sources, "objectType",
                                              "KalturaBumper"));
    json_decref(sources);
    return list;
}

/* One KalturaDrmPlaybackPluginData: scheme, licenseURL = <license_url>/<path>/license?
 * custom_data=..&signature=.. signed as DrmLicenseUtils does (reference/drm-and-media.md §2.4),
 * and FairPlay's application certificate. */
static json_t *drm_object(const mbe_server *s, kp_drm_system sys, const char *custom_data,
                          const char *signature, bool bad_certificate)
{
    static const char *const paths[KP_DRM_SYSTEM_COUNT] = {[KP_DRM_CLEARKEY] = "clearkey",
                                                           [KP_DRM_WIDEVINE] = "cenc/widevine",
                                                           [KP_DRM_PLAYREADY] = "cenc/playready",
                                                           [KP_DRM_FAIRPLAY] = "fps"};
    char *url = kp_asprintf("%s/%s/license?custom_data=%s&signature=%s", s->license_url, paths[sys],
                            custom_data, signature);
    json_t *o =
        json_pack("{s:s, s:s}", "scheme", kp_drm_kaltura_scheme(sys), "licenseURL", url ? url : "");
    free(url);
    if (o && sys == KP_DRM_FAIRPLAY) {
        uint8_t cert[64];
        kp_drm_fps_certificate(s->partner_id, cert);
        if (bad_certificate)
            for (size_t i = 0; i < sizeof(cert); i++)
                cert[i] ^= 0x5a;
        char *b64 = kp_base64_encode(cert, sizeof(cert));
        json_object_set_new(o, "certificate", json_string(b64 ? b64 : ""));
        free(b64);
    }
    json_object_set_new(o, "objectType",
                        json_string(sys == KP_DRM_FAIRPLAY ? "KalturaFairPlayPlaybackPluginData"
                                                           : "KalturaDrmPlaybackPluginData"));
    return o;
}

/* The context of a protected entry for this request: a copy of the shared one whose DASH
 * sources list the cenc systems (Widevine, PlayReady, and ClearKey under kpsim's own
 * "drm.CLEAR_KEY" when the entry asks for it) and HLS sources FairPlay, as DrmPlugin and
 * FairplayPlugin do. The license URLs carry the request's KS (custom_data's user_token), so
 * they are made per request. Steals ctx. */
static json_t *with_drm(const mbe_server *s, const mbe_ientry *e, json_t *ctx, const char *ks)
{
    if (!s->license_url || !e->drm.systems || !json_is_object(ctx) ||
        json_array_size(json_object_get(ctx, "sources")) == 0)
        return ctx;
    json_t *copy = json_deep_copy(ctx);
    json_decref(ctx);
    if (!copy)
        return NULL;
    size_t i;
    json_t *src;
    json_array_foreach(json_object_get(copy, "sources"), i, src)
    {
        const char *format = kp_json_str(src, "format", "");
        bool dash = strcmp(format, "mpegdash") == 0, hls = strcmp(format, "applehttp") == 0;
        if (!dash && !hls)
            continue;
        char *json =
            kp_udrm_json("OVP", ks, s->partner_id, e->id, kp_json_str(src, "flavorIds", ""));
        char *cd = NULL, *sig = NULL;
        if (!json || kp_udrm_sign(s->udrm_secret, json, &cd, &sig) != 0) {
            free(json);
            continue;
        }
        json_t *list = json_array();
        static const kp_drm_system dash_order[] = {KP_DRM_WIDEVINE, KP_DRM_PLAYREADY,
                                                   KP_DRM_CLEARKEY};
        for (size_t k = 0; dash && k < sizeof(dash_order) / sizeof(dash_order[0]); k++)
            if (e->drm.systems & (1u << dash_order[k]))
                json_array_append_new(list, drm_object(s, dash_order[k], cd, sig, false));
        if (hls && (e->drm.systems & (1u << KP_DRM_FAIRPLAY)))
            json_array_append_new(list,
                                  drm_object(s, KP_DRM_FAIRPLAY, cd, sig, e->drm.bad_certificate));
        json_object_set_new(src, "drm", list);
        free(json);
        free(cd);
        free(sig);
    }
    return copy;
}

static json_t *playback_context(mbe_server *s, const json_t *params)
{
    json_t *err = check_ks(s, params);
    if (err)
        return err;
    const char *id = kp_json_str(params, "entryId", NULL);
    if (!id)
        return mbe_exception("MISSING_MANDATORY_PARAMETER",
                             json_pack("{s:s}", "PARAM_NAME", "entryId"),
                             "Missing parameter \"entryId\"");
    const mbe_ientry *e = mbe_find_entry(s, id);
    if (!e || strcmp(e->status, "deleted") == 0)
        return mbe_exception("ENTRY_ID_NOT_FOUND", json_pack("{s:s}", "ENTRY_ID", id),
                             "Entry id \"%s\" not found", id);
    return with_drm(s, e, entry_part(s, e, API_CONTEXT), kp_json_str(params, "ks", ""));
}

/* The KalturaPlaybackContext of an entry (entry_part caches it). */
static json_t *build_context(const mbe_server *s, const mbe_ientry *e)
{
    json_t *actions = json_array(), *messages = json_array();
    json_t *sources, *flavors, *captions, *bumpers;
    if (e->block) {
        /* constructPlaybackContextResult returns early: no sources, flavors or captions */
        json_array_append_new(actions, json_pack("{s:i, s:s}", "type", 1, "objectType",
                                                 "KalturaAccessControlBlockAction"));
        json_array_append_new(messages, json_pack("{s:s, s:s, s:s}", "message",
                                                  restriction_message(e->block), "code", e->block,
                                                  "objectType", "KalturaAccessControlMessage"));
        sources = json_array();
        flavors = json_array();
        captions = json_array();
        bumpers = json_array();
    } else if (strcmp(e->status, "ready") == 0) {
        sources = entry_sources(s, e);
        flavors = flavor_assets(s, e);
        captions = playback_captions(s, e);
        bumpers = bumper_data(s, e);
    } else {
        /* import / preconvert: the context is empty, as the real server answers */
        sources = json_array();
        flavors = json_array();
        captions = json_array();
        bumpers = json_array();
    }
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:s}", "sources", sources, "playbackCaptions",
                     captions, "flavorAssets", flavors, "actions", actions, "messages", messages,
                     "bumperData", bumpers, "objectType", "KalturaPlaybackContext");
}

/* The metadata XML of an entry's custom metadata: <metadata><Key>value</Key>...</metadata>. */
static char *metadata_xml(const json_t *meta)
{
    kp_buf b;
    kp_buf_init(&b);
    kp_buf_puts(&b, "<?xml version=\"1.0\"?>\n<metadata>");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)meta, k, v)
    {
        kp_buf_printf(&b, "<%s>", k);
        for (const char *p = json_is_string(v) ? json_string_value(v) : ""; *p; p++) {
            if (*p == '<')
                kp_buf_puts(&b, "&lt;");
            else if (*p == '>')
                kp_buf_puts(&b, "&gt;");
            else if (*p == '&')
                kp_buf_puts(&b, "&amp;");
            else
                kp_buf_putc(&b, *p);
        }
        kp_buf_printf(&b, "</%s>", k);
    }
    kp_buf_puts(&b, "</metadata>");
    return kp_buf_steal(&b);
}

/* The KalturaMetadataListResponse of an entry (entry_part caches it). */
static json_t *build_metadata(const mbe_server *s, const mbe_ientry *e)
{
    json_t *objects = json_array();
    if (e->metadata && json_object_size(e->metadata)) {
        char *xml = metadata_xml(e->metadata);
        long long t = s->epoch - 86400;
        json_array_append_new(
            objects, json_pack("{s:i, s:i, s:i, s:i, s:s, s:i, s:I, s:I, s:i, s:s, s:s}", "id", 1,
                               "metadataProfileId", 1, "metadataProfileVersion", 1,
                               "metadataObjectType", 1, "objectId", e->id, "version", 1,
                               "createdAt", (json_int_t)t, "updatedAt", (json_int_t)t, "status", 1,
                               "xml", xml ? xml : "", "objectType", "KalturaMetadata"));
        free(xml);
    }
    return json_pack("{s:o, s:I, s:s}", "objects", objects, "totalCount",
                     (json_int_t)json_array_size(objects), "objectType",
                     "KalturaMetadataListResponse");
}

static json_t *metadata_list(mbe_server *s, const json_t *params)
{
    json_t *err = check_ks(s, params);
    if (err)
        return err;
    const mbe_ientry *e = mbe_find_entry(s, kp_json_str(params, "filter.objectIdEqual", NULL));
    if (e)
        return entry_part(s, e, API_METADATA);
    return json_pack("{s:[], s:i, s:s}", "objects", "totalCount", 0, "objectType",
                     "KalturaMetadataListResponse");
}

static json_t *playlist_get(mbe_server *s, const json_t *params)
{
    json_t *err = check_ks(s, params);
    if (err)
        return err;
    const char *id = kp_json_str(params, "id", "");
    const mbe_iplaylist *p = mbe_find_playlist(s, id);
    if (!p)
        return mbe_exception("ENTRY_ID_NOT_FOUND", json_pack("{s:s}", "ENTRY_ID", id),
                             "Entry id \"%s\" not found", id);
    char *base = base_path(s);
    char *thumb = kp_asprintf("%s/thumbnail/entry_id/%s/version/100000", base, p->id);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:s}", "id", p->id, "name", p->name,
                          "description", p->description, "thumbnailUrl", thumb ? thumb : "",
                          "playlistType", 3, "type", 5, "objectType", "KalturaPlaylist");
    apply_profile(o, json_object_get(params, "responseProfile"));
    free(base);
    free(thumb);
    return o;
}

/* playlist.execute answers a bare array of its entries (those not deleted). */
static json_t *playlist_execute(mbe_server *s, const json_t *params)
{
    json_t *err = check_ks(s, params);
    if (err)
        return err;
    const char *id = kp_json_str(params, "id", "");
    const mbe_iplaylist *p = mbe_find_playlist(s, id);
    if (!p)
        return mbe_exception("ENTRY_ID_NOT_FOUND", json_pack("{s:s}", "ENTRY_ID", id),
                             "Entry id \"%s\" not found", id);
    json_t *list = json_array();
    const json_t *profile = json_object_get(params, "responseProfile");
    for (size_t i = 0; i < p->n_entries; i++) {
        const mbe_ientry *e = mbe_find_entry(s, p->entries[i]);
        if (!e || strcmp(e->status, "deleted") == 0)
            continue;
        json_array_append_new(list, entry_listed(s, e, profile));
    }
    return list;
}

/* No view history is kept: an empty KalturaUserEntryListResponse. */
static json_t *user_entry_list(mbe_server *s, const json_t *params)
{
    json_t *err = check_ks(s, params);
    if (err)
        return err;
    return json_pack("{s:[], s:i, s:s}", "objects", "totalCount", 0, "objectType",
                     "KalturaUserEntryListResponse");
}

/* user.get: the KS's user; a session without one has none. */
static json_t *user_get(mbe_server *s, const json_t *params)
{
    json_t *err = check_ks(s, params);
    if (err)
        return err;
    char user[128] = "";
    mbe_ks_user(kp_json_str(params, "ks", ""), user, sizeof(user));
    if (!user[0] || strcmp(user, "0") == 0)
        return mbe_exception("INVALID_USER_ID", NULL, "Invalid user id");
    return json_pack("{s:s, s:I, s:s, s:i, s:s}", "id", user, "partnerId",
                     (json_int_t)s->partner_id, "screenName", user, "status", 1, "objectType",
                     "KalturaUser");
}

json_t *mbe_api_call(mbe_server *s, const char *service, const char *action, json_t *params)
{
    if (strcmp(service, "session") == 0 && strcmp(action, "startWidgetSession") == 0)
        return start_widget_session(s, params);
    if (strcmp(service, "baseEntry") == 0 && strcmp(action, "list") == 0)
        return base_entry_list(s, params);
    if (strcmp(service, "baseEntry") == 0 && strcmp(action, "getPlaybackContext") == 0)
        return playback_context(s, params);
    if (strcmp(service, "metadata_metadata") == 0 && strcmp(action, "list") == 0)
        return metadata_list(s, params);
    if (strcmp(service, "playlist") == 0 && strcmp(action, "get") == 0)
        return playlist_get(s, params);
    if (strcmp(service, "playlist") == 0 && strcmp(action, "execute") == 0)
        return playlist_execute(s, params);
    if (strcmp(service, "userEntry") == 0 && strcmp(action, "list") == 0)
        return user_entry_list(s, params);
    if (strcmp(service, "user") == 0 && strcmp(action, "get") == 0)
        return user_get(s, params);
    KP_LOG_W(s->log, "mbe", "no API call %s.%s here: answered as the real API does", service,
             action);
    static const char *const services[] = {"session",  "baseEntry", "metadata_metadata",
                                           "playlist", "userEntry", "user"};
    for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++)
        if (strcmp(service, services[i]) == 0)
            return mbe_exception("ACTION_DOES_NOT_EXISTS",
                                 json_pack("{s:s, s:s}", "ACTION", action, "SERVICE", service),
                                 "Action \"%s\" does not exists for service \"%s\"", action,
                                 service);
    return mbe_exception("SERVICE_DOES_NOT_EXISTS", json_pack("{s:s}", "SERVICE", service),
                         "Service \"%s\" does not exists", service);
}
