/* provider_ott.c: the OTT (Phoenix) provider as pure functions (kp/provider.h): the requests
 * of getMediaConfig (multirequest and single-request mode) and getEntryListConfig
 * (reference/kaltura-provider.md §4.1, §4.2), the answers turned into the media config or
 * playlist object (§4.3, §4.4) or the provider error object (§4.5), and getPlaylistConfig's
 * 3002. The HTTP outcome is decoded by provider_outcome.c, shared with OVP. Every string and
 * JSON value returned is owned by the caller.
 *
 * Where kpsim differs from the real provider (playkit-js-providers 2.46.0), and why
 * -------------------------------------------------------------------------------
 * (The transport differences of provider_ovp.c apply too: a status other than 200 gives
 * 1001 BAD_HTTP_STATUS instead of a promise that never settles; no sticky state, so a
 * serviceUrl or KS given to an earlier call does not leak into the next one.)
 * 1. An asset the JS cannot digest (reference §3.4 item 4): no `metas` or `tags` object, a
 *    null item, a field of the wrong type (messages/actions/sources/plugins/drm that are not
 *    arrays, null elements, images that is a string...). The real loader throws, the
 *    exception is swallowed in DataLoaderManager.prepareData(), and the provider resolves an
 *    empty "Unknown" media config with no sources and no error (golden
 *    syn_ott_asset_without_metas), or rejects with a raw TypeError. kpsim returns
 *    {2, 1, 1007 API_RESPONSE_MISMATCH, {headers}}: the error prepareData() was written to
 *    raise for an answer that does not fit the loaders, and the same choice as the OVP
 *    provider (provider_ovp.c item 5). A player that got the real empty config would fail
 *    later without saying why; a back-end that sends such assets is what this flags.
 * 2. Single-request mode errors (§3.4 item 5, env.ottDisableMultirequest). The real
 *    RequestSequenceBuilder builds {2, 1, 1007, {error:{code, message}, errorMessage:
 *    "Request returned an error: <message> (code: <code>)"}} for an API error, then its own
 *    execute() swallows it and the provider resolves an empty config (golden
 *    syn_ott_single_requests_playbackcontext_error). kpsim returns that 1007 object. A
 *    failed anonymousLogin (API error) gives the same 1007 and, as in the real provider, no
 *    asset request is sent after it. Transport, status and non-JSON failures of any single
 *    request give the usual 1002/1003/1001/1005 of that request (the real one wraps them in
 *    a 1007 that is swallowed too).
 * 3. Entry lists never use single-request mode. With ottDisableMultirequest the real
 *    provider, anonymous, sends only the login and resolves an empty list (the asset list
 *    loader is never run); kpsim sends the usual multirequest.
 * 4. Entry lists: as for OVP (provider_ovp_list.c items 2-5), results are matched to entries
 *    by position, an unusable asset leaves out that entry only (the real provider loses it
 *    and every later one), it fails with 1006 when no entry loaded, and a missing entry list
 *    gives 3000 instead of {success:false, data:'Missing mandatory parameter'}.
 *    Entry-list items never carry metadata.mediaType/contextType (the real provider copies
 *    them from a {entryId, mediaType, contextType} input entry whose entryId === the asset's
 *    id, which kp_entry_ref cannot express).
 * 5. No service_url is KP_EINVAL: the real provider has no default and would post to
 *    "undefined/service/multirequest".
 * Kept on purpose: partner 0 sends no anonymousLogin (the session loader's isValid() is
 * !!partnerId), so an anonymous partner-0 request carries the literal "{1:result:ks}" and
 * session.ks is ""; duration is the maximum over all sources before the formats filter;
 * vr is {} when a meta named "tags" contains "360"; ids keep their JSON type.
 */
#include "kp/provider.h"

#include "provider_ovp_priv.h"
#include "provider_priv.h"

#include "kp/buf.h"
#include "kp/err.h"
#include "kp/perror.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define G     kp_ovp__get
#define jset  kp_prov__set
#define jpush kp_prov__push
#define asize kp_prov__asize

#define OTT_API_VERSION "7.8.1"

static bool nonempty(const char *s)
{
    return s && *s;
}

/* The id as the caller gave it: a JSON number when asked for and it is one, else a string. */
static json_t *id_json(const char *id, bool number)
{
    if (number && id[0]) {
        const char *p = id + (id[0] == '-');
        bool digits = *p != '\0';
        for (; *p && digits; p++)
            digits = isdigit((unsigned char)*p) != 0;
        if (digits) {
            errno = 0;
            char *end;
            long long v = strtoll(id, &end, 10);
            if (errno == 0 && *end == '\0')
                return json_integer(v);
        }
    }
    return json_string(id);
}

/* The session request is sent when anonymous and partnerId is truthy. */
static bool has_login(const kp_provider_opts *o, const char *ks)
{
    return !*ks && o->partner_id != 0;
}

/* ---- requests ------------------------------------------------------------------------------- */

static json_t *login_params(const kp_provider_opts *o)
{
    return json_pack("{s:I}", "partnerId", (json_int_t)o->partner_id);
}

/* {service, action, ...params} */
static json_t *with_call(const char *service, const char *action, json_t *params)
{
    if (!params)
        return NULL;
    json_t *sub = json_pack("{s:s, s:s}", "service", service, "action", action);
    if (!sub || json_object_update(sub, params) != 0) {
        json_decref(sub);
        sub = NULL;
    }
    json_decref(params);
    return sub;
}

static json_t *asset_get_params(const char *id, bool number, const char *ref_type, const char *ks)
{
    json_t *jid = id_json(id, number);
    return jid ? json_pack("{s:o, s:s, s:s}", "id", jid, "assetReferenceType",
                           nonempty(ref_type) ? ref_type : "media", "ks", ks)
               : NULL;
}

static const char *media_type(const kp_ott_media_info *mi)
{
    return nonempty(mi->media_type) ? mi->media_type : "media";
}

static const char *context_type(const kp_ott_media_info *mi)
{
    return nonempty(mi->context_type) ? mi->context_type : "PLAYBACK";
}

static json_t *playback_context_params(const kp_ott_media_info *mi, const char *ks)
{
    json_t *ctx = json_pack("{s:s}", "objectType", "KalturaPlaybackContextOptions");
    int rc = ctx ? 0 : KP_ENOMEM;
    if (rc >= 0 && mi->protocol)
        rc = jset(ctx, "mediaProtocol", json_string(mi->protocol));
    if (rc >= 0 && mi->file_ids)
        rc = jset(ctx, "assetFileIds", json_string(mi->file_ids));
    if (rc >= 0)
        rc = jset(ctx, "context", json_string(context_type(mi)));
    if (rc >= 0 && nonempty(mi->streamer_type))
        rc = jset(ctx, "streamerType", json_string(mi->streamer_type));
    if (rc >= 0 && nonempty(mi->url_type))
        rc = jset(ctx, "urlType", json_string(mi->url_type));
    if (rc >= 0 && kp_ovp__truthy(mi->adapter_data))
        rc = jset(ctx, "adapterData", json_deep_copy(mi->adapter_data));
    json_t *jid = rc >= 0 ? id_json(mi->entry_id, mi->entry_id_is_number) : NULL;
    if (rc < 0 || !jid) {
        json_decref(ctx);
        return NULL;
    }
    return json_pack("{s:o, s:s, s:o, s:s}", "assetId", jid, "assetType", media_type(mi),
                     "contextDataParams", ctx, "ks", ks);
}

/* Starts the multirequest of a call whose KS is ks: the anonymous login first when there is
 * one. Returns the ks the other sub-requests carry (borrowed). */
static const char *mr_start(kp_prov__mr *m, const kp_provider_opts *o, const char *ks)
{
    kp_prov__mr_init(m);
    if (has_login(o, ks))
        kp_prov__mr_add(m, with_call("ottuser", "anonymousLogin", login_params(o)));
    return *ks ? ks : "{1:result:ks}";
}

/* apiVersion, then ks, partnerId and clientTag when set (OTTService.getMultiRequest). */
static int common_params(json_t *body, const kp_provider_opts *o, const char *ks)
{
    int rc = jset(body, "apiVersion", json_string(OTT_API_VERSION));
    if (rc >= 0 && *ks)
        rc = jset(body, "ks", json_string(ks));
    if (rc >= 0 && o->partner_id)
        rc = jset(body, "partnerId", json_integer(o->partner_id));
    if (rc >= 0 && nonempty(o->client_tag))
        rc = jset(body, "clientTag", json_string(o->client_tag));
    return rc;
}

static int finish_request(const kp_provider_opts *o, kp_prov__mr *m, const char *ks, char **url,
                          json_t **body)
{
    if (m->rc >= 0)
        m->rc = common_params(m->body, o, ks);
    if (m->rc >= 0)
        *url = kp_asprintf("%s/service/multirequest", o->service_url);
    if (m->rc < 0 || !*url) {
        json_decref(m->body);
        *url = NULL;
        return KP_ENOMEM;
    }
    *body = m->body;
    return 0;
}

#define MISSING_ID     "missing entry id"
#define MISSING_PARAMS "Missing mandatory parameter"

/* What every request builder checks first, its outputs cleared: KP_EINVAL without a service
 * URL, KP_EINVAL with the 3000 {message: missing} in *error when the parameters are not all
 * there (ok false), KP_ENOMEM, or 0 to go on. */
static int request_check(const kp_provider_opts *o, bool ok, const char *missing, char **url,
                         json_t **body, json_t **error)
{
    *url = NULL;
    *body = NULL;
    *error = NULL;
    if (!nonempty(o->service_url))
        return KP_EINVAL;
    if (ok)
        return 0;
    *error = kp_prov__missing_params(missing);
    return *error ? KP_EINVAL : KP_ENOMEM;
}

/* What every parse function checks first, its outputs cleared: the 3000 {message: missing} in
 * *error when the parameters are not all there (ok false). Returns 0 or KP_ENOMEM. */
static int parse_check(bool ok, const char *missing, json_t **result, json_t **error)
{
    *result = NULL;
    *error = NULL;
    if (ok)
        return 0;
    *error = kp_prov__missing_params(missing);
    return *error ? 0 : KP_ENOMEM;
}

int kp_ott_media_request(const kp_provider_opts *o, const kp_ott_media_info *mi, char **url,
                         json_t **body, json_t **error)
{
    if (!o || !mi || !url || !body || !error)
        return KP_EINVAL;
    int rc = request_check(o, nonempty(mi->entry_id), MISSING_ID, url, body, error);
    if (rc < 0)
        return rc;
    const char *ks = kp_prov__call_ks(o, mi->ks);
    kp_prov__mr m;
    const char *ks_param = mr_start(&m, o, ks);
    kp_prov__mr_add(&m, with_call("asset", "get",
                                  asset_get_params(mi->entry_id, mi->entry_id_is_number,
                                                   mi->asset_reference_type, ks_param)));
    kp_prov__mr_add(
        &m, with_call("asset", "getPlaybackContext", playback_context_params(mi, ks_param)));
    return finish_request(o, &m, ks, url, body);
}

/* ---- parsing: KalturaAsset ------------------------------------------------------------------ */

/* KalturaAsset._formatTagsMetas() then addToMetaObject(): {key: value}, a tag's values
 * joined with a trailing '|'. KP_EPARSE where the JS throws (Object.keys of undefined or
 * null, a null value, `objects` that is not an array, a null object). */
static int tags_metas(const json_t *v, json_t **out)
{
    *out = NULL;
    if (!v || json_is_null(v))
        return KP_EPARSE;
    json_t *obj = json_object();
    if (!obj)
        return KP_ENOMEM;
    int rc = 0;
    size_t n = json_is_object(v) ? json_object_size(v) : json_is_array(v) ? json_array_size(v) : 0;
    void *iter = json_is_object(v) ? json_object_iter((json_t *)v) : NULL;
    for (size_t i = 0; rc >= 0 && i < n; i++) {
        char idx[32];
        const char *key;
        const json_t *val;
        if (iter) {
            key = json_object_iter_key(iter);
            val = json_object_iter_value(iter);
            iter = json_object_iter_next((json_t *)v, iter);
        } else {
            snprintf(idx, sizeof(idx), "%zu", i);
            key = idx;
            val = json_array_get(v, i);
        }
        if (json_is_null(val)) {
            rc = KP_EPARSE;
            break;
        }
        const json_t *objects = G(val, "objects");
        if (kp_ovp__truthy(objects)) {
            if (!json_is_array(objects)) {
                rc = KP_EPARSE;
                break;
            }
            kp_buf b;
            kp_buf_init(&b);
            rc = kp_buf_puts(&b, "");
            for (size_t k = 0; rc >= 0 && k < json_array_size(objects); k++) {
                const json_t *ob = json_array_get(objects, k);
                if (json_is_null(ob)) {
                    rc = KP_EPARSE;
                    break;
                }
                rc = kp_ovp__put_str(&b, G(ob, "value"));
                if (rc >= 0)
                    rc = kp_buf_putc(&b, '|');
            }
            if (rc >= 0)
                rc = jset(obj, key, json_stringn(b.data, b.len));
            kp_buf_free(&b);
        } else {
            rc = kp_ovp__set_or_del(obj, key, kp_ovp__copy(G(val, "value")));
        }
    }
    if (rc < 0) {
        json_decref(obj);
        return rc;
    }
    *out = obj;
    return 0;
}

/* The thumbnail-service test of _getPoster():
 * /.*\/thumbnail\/.*(?:width|height)\/\d+\/(?:height|width)\/\d+/ ('.' stops at line ends). */
static bool thumbnail_url(const char *s, size_t len)
{
    size_t start = 0;
    while (start <= len) {
        size_t end = start;
        while (end < len && s[end] != '\n' && s[end] != '\r')
            end++;
        const char *line = s + start;
        size_t n = end - start;
        const char *t = NULL;
        for (size_t i = 0; i + 11 <= n && !t; i++)
            if (memcmp(line + i, "/thumbnail/", 11) == 0)
                t = line + i + 11;
        for (const char *p = t; p && p < line + n; p++) {
            const char *q = p;
            size_t left = (size_t)(line + n - q);
            if (left >= 6 && memcmp(q, "width/", 6) == 0)
                q += 6;
            else if (left >= 7 && memcmp(q, "height/", 7) == 0)
                q += 7;
            else
                continue;
            const char *d = q;
            while (d < line + n && isdigit((unsigned char)*d))
                d++;
            if (d == q || d >= line + n || *d != '/')
                continue;
            d++;
            left = (size_t)(line + n - d);
            if (left >= 7 && memcmp(d, "height/", 7) == 0)
                d += 7;
            else if (left >= 6 && memcmp(d, "width/", 6) == 0)
                d += 6;
            else
                continue;
            if (d < line + n && isdigit((unsigned char)*d))
                return true;
        }
        start = end + 1;
    }
    return false;
}

/* _getPoster(images): the URL, the [{url, width, height}] list, or "". */
static int poster_json(const json_t *images, json_t **out)
{
    *out = NULL;
    if (json_is_string(images) && json_string_length(images) > 0)
        return KP_EPARSE; /* pictures.map is not a function */
    if (!json_is_array(images) || json_array_size(images) == 0) {
        *out = json_string("");
        return *out ? 0 : KP_ENOMEM;
    }
    const json_t *p0 = json_array_get(images, 0);
    if (json_is_null(p0))
        return KP_EPARSE;
    kp_buf b;
    kp_buf_init(&b);
    int rc = kp_ovp__put_str(&b, G(p0, "url"));
    bool thumb = rc >= 0 && thumbnail_url(b.data ? b.data : "", b.len);
    kp_buf_free(&b);
    if (rc < 0)
        return rc;
    if (thumb) {
        *out = kp_ovp__copy(G(p0, "url"));
        return *out ? 0 : KP_ENOMEM;
    }
    json_t *list = json_array();
    rc = list ? 0 : KP_ENOMEM;
    for (size_t i = 0; rc >= 0 && i < json_array_size(images); i++) {
        const json_t *pic = json_array_get(images, i);
        if (json_is_null(pic)) {
            rc = KP_EPARSE;
            break;
        }
        json_t *o = json_object();
        rc = o ? kp_ovp__set_raw(o, "url", G(pic, "url")) : KP_ENOMEM;
        if (rc >= 0)
            rc = kp_ovp__set_raw(o, "width", G(pic, "width"));
        if (rc >= 0)
            rc = kp_ovp__set_raw(o, "height", G(pic, "height"));
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

/* _fillBaseData(): metadata (with mediaType/contextType when given) and poster of an asset.
 * KP_EPARSE where new KalturaAsset() or _getPoster() would throw. */
static int asset_base(const json_t *asset, const char *mtype, const char *ctype, json_t **metadata,
                      json_t **poster)
{
    *metadata = NULL;
    *poster = NULL;
    if (!asset || json_is_null(asset))
        return KP_EPARSE;
    json_t *metas = NULL, *tags = NULL;
    int rc = tags_metas(G(asset, "metas"), &metas);
    if (rc >= 0)
        rc = tags_metas(G(asset, "tags"), &tags);
    json_t *m = rc >= 0 ? json_object() : NULL;
    if (rc >= 0 && !m)
        rc = KP_ENOMEM;
    if (rc >= 0) {
        rc = jset(m, "metas", metas);
        metas = NULL;
    }
    if (rc >= 0) {
        rc = jset(m, "tags", tags);
        tags = NULL;
    }
    json_decref(metas);
    json_decref(tags);
    /* metaData.x = mediaAsset.x: undefined stays undefined (and vanishes from the JSON) */
    if (rc >= 0)
        rc = kp_ovp__set_or_del(m, "description", kp_ovp__copy(G(asset, "description")));
    if (rc >= 0)
        rc = kp_ovp__set_or_del(m, "name", kp_ovp__copy(G(asset, "name")));
    static const char *const opt[][2] = {{"createdAt", "createDate"},
                                         {"endDate", "endDate"},
                                         {"entryId", "entryId"},
                                         {"epgId", "epgId"},
                                         {"recordingId", "recordingId"}};
    for (size_t i = 0; rc >= 0 && i < sizeof(opt) / sizeof(opt[0]); i++)
        if (kp_ovp__truthy(G(asset, opt[i][1])))
            rc = kp_ovp__set_raw(m, opt[i][0], G(asset, opt[i][1]));
    if (rc >= 0 && mtype)
        rc = jset(m, "mediaType", json_string(mtype));
    if (rc >= 0 && ctype)
        rc = jset(m, "contextType", json_string(ctype));
    if (rc >= 0)
        rc = poster_json(G(asset, "images"), poster);
    if (rc < 0) {
        json_decref(m);
        return rc;
    }
    *metadata = m;
    return 0;
}

/* 0 when new KalturaAsset(asset) would not throw, KP_EPARSE when it would, KP_ENOMEM. */
static int asset_ok(const json_t *asset)
{
    if (!asset || json_is_null(asset))
        return KP_EPARSE;
    json_t *a = NULL, *b = NULL;
    int rc = tags_metas(G(asset, "metas"), &a);
    if (rc >= 0)
        rc = tags_metas(G(asset, "tags"), &b);
    json_decref(a);
    json_decref(b);
    return rc;
}

/* vr: {} when the meta named "tags" is a string containing "360". */
static bool has_vr(const json_t *metadata)
{
    const json_t *t = G(G(metadata, "metas"), "tags");
    return json_is_string(t) && strstr(json_string_value(t), "360") != NULL;
}

/* _getSourcesObject(): the default sources object with the entry's values assigned;
 * duration/type/dvr only when given (duration NULL: undefined). Steals metadata, poster and
 * the three source lists. */
static json_t *sources_object(const json_t *id, json_t *duration, const char *type, bool dvr,
                              json_t *poster, json_t *metadata, json_t *hls, json_t *dash,
                              json_t *prog)
{
    json_t *s = json_object();
    int rc = kp_prov__set_source_lists(s, hls, dash, prog, json_array(), json_array());
    if (rc >= 0)
        rc = kp_ovp__set_raw(s, "id", id);
    if (rc >= 0 && duration) {
        rc = jset(s, "duration", duration);
        duration = NULL;
    }
    if (rc >= 0)
        rc = jset(s, "type", json_string(type));
    if (rc >= 0) {
        rc = jset(s, "poster", poster);
        poster = NULL;
    }
    if (rc >= 0)
        rc = jset(s, "dvr", json_boolean(dvr));
    if (rc >= 0)
        rc = jset(s, "vr", has_vr(metadata) ? json_object() : json_null());
    if (rc >= 0) {
        /* Object.assign({name:'', description:'', tags:''}, metadata) */
        json_t *md = json_pack("{s:s, s:s, s:s}", "name", "", "description", "", "tags", "");
        rc = md && json_object_update(md, metadata) == 0 ? 0 : KP_ENOMEM;
        if (md && (!json_object_get(metadata, "name")))
            json_object_del(md, "name");
        if (md && (!json_object_get(metadata, "description")))
            json_object_del(md, "description");
        if (rc >= 0)
            rc = jset(s, "metadata", md);
        else
            json_decref(md);
    }
    json_decref(duration);
    json_decref(poster);
    json_decref(metadata);
    if (rc < 0) {
        json_decref(s);
        return NULL;
    }
    return s;
}

/* ---- parsing: KalturaPlaybackContext -------------------------------------------------------- */

/* new KalturaPlaybackContext(data) would not throw. */
static bool context_ok(const json_t *pbc)
{
    return kp_prov__context_ok(pbc) && kp_prov__array_or_falsy(G(pbc, "plugins"));
}

/* _parseAdaptiveSource() + MediaSources.map(): appends the source to hls/dash/prog. */
static int add_source(const json_t *src, json_t *hls, json_t *dash, json_t *prog)
{
    const json_t *format = G(src, "format");
    json_t *target;
    const char *mimetype;
    if (kp_ovp__is_str(format, "applehttp")) {
        target = hls;
        mimetype = "application/x-mpegURL";
    } else if (kp_ovp__is_str(format, "mpegdash")) {
        target = dash;
        mimetype = "application/dash+xml";
    } else if (kp_ovp__is_str(format, "url")) {
        target = prog;
        mimetype = "video/mp4";
    } else {
        return 0;
    }
    if (!kp_ovp__truthy(G(src, "url")))
        return 0;
    kp_buf id;
    kp_buf_init(&id);
    int rc = kp_ovp__put_str(&id, G(src, "id"));
    if (rc >= 0)
        rc = kp_buf_putc(&id, ',');
    if (rc >= 0)
        rc = kp_ovp__put_str(&id, format);
    json_t *ms = rc >= 0 ? json_object() : NULL;
    rc = ms ? jset(ms, "id", json_stringn(id.data, id.len)) : KP_ENOMEM;
    kp_buf_free(&id);
    if (rc >= 0)
        rc = kp_ovp__set_raw(ms, "url", G(src, "url"));
    if (rc >= 0)
        rc = jset(ms, "mimetype", json_string(mimetype));
    const json_t *drm = G(src, "drm");
    if (rc >= 0 && asize(drm) > 0)
        rc = jset(ms, "drmData", kp_prov__drm_data(drm));
    if (rc >= 0)
        return jpush(target, ms);
    json_decref(ms);
    return rc;
}

static bool format_wanted(const kp_ott_media_info *mi, const json_t *src)
{
    if (!mi->n_formats)
        return true;
    const json_t *type = G(src, "type");
    for (size_t i = 0; i < mi->n_formats; i++)
        if (mi->formats[i] && kp_ovp__is_str(type, mi->formats[i]))
            return true;
    return false;
}

/* parseInt(s) > 0: optional space and sign, then decimal digits (or 0x and hex digits). */
static bool js_parse_int_positive(const char *p)
{
    size_t k;
    while ((k = kp_ovp__js_space((const unsigned char *)p, strlen(p))) != 0)
        p += k;
    if (*p == '-')
        return false;
    if (*p == '+')
        p++;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && isxdigit((unsigned char)p[2])) {
        for (p += 2; isxdigit((unsigned char)*p); p++)
            if (*p != '0')
                return true;
        return false;
    }
    while (*p == '0')
        p++;
    return *p >= '1' && *p <= '9';
}

/* MediaTypeCombinations (ott/provider-parser.ts): the type and dvr of the asset. */
static const char *media_kind(const json_t *asset, const char *mtype, const char *ctype, bool *dvr)
{
    *dvr = false;
    if (strcmp(mtype, "media") == 0) {
        if (strcmp(ctype, "TRAILER") == 0)
            return "Vod";
        if (strcmp(ctype, "PLAYBACK") == 0) {
            if (kp_ovp__is_str(G(asset, "objectType"), "KalturaLiveAsset")) {
                *dvr = kp_ovp__truthy(G(asset, "enableTrickPlay"));
                return "Live";
            }
            /* parseInt(String(externalIds)) > 0 */
            kp_buf b;
            kp_buf_init(&b);
            bool live = false;
            if (kp_ovp__put_str(&b, G(asset, "externalIds")) >= 0 && b.data)
                live = js_parse_int_positive(b.data);
            kp_buf_free(&b);
            return live ? "Live" : "Vod";
        }
        return "Unknown";
    }
    if (strcmp(mtype, "epg") == 0) {
        if (strcmp(ctype, "CATCHUP") == 0)
            return "Vod";
        if (strcmp(ctype, "START_OVER") == 0) {
            *dvr = true;
            return "Live";
        }
        return "Unknown";
    }
    if (strcmp(mtype, "recording") == 0 && strcmp(ctype, "PLAYBACK") == 0)
        return "Vod";
    return "Unknown";
}

/* session {isAnonymous, partnerId, uiConfId?, ks?}. login: the login result, or NULL when no
 * session loader ran. */
static json_t *session_json(const kp_provider_opts *o, const char *mi_ks, bool login_ran,
                            const json_t *login)
{
    bool anon = !nonempty(o->ks) && !nonempty(mi_ks);
    json_t *s =
        json_pack("{s:b, s:I}", "isAnonymous", anon, "partnerId", (json_int_t)o->partner_id);
    int rc = s ? 0 : KP_ENOMEM;
    if (rc >= 0 && o->uiconf_id)
        rc = jset(s, "uiConfId", json_integer(o->uiconf_id));
    if (rc >= 0 && login_ran) {
        const json_t *ks = G(login, "ks");
        if (kp_ovp__truthy(ks))
            rc = kp_ovp__set_raw(s, "ks", ks);
    } else if (rc >= 0) {
        rc = jset(s, "ks", json_string(kp_prov__call_ks(o, mi_ks)));
    }
    if (rc < 0) {
        json_decref(s);
        return NULL;
    }
    return s;
}

/* _parseDataFromResponse() from the asset and playback-context results: fills cfg (whose
 * session the caller set) or sets *error. KP_EPARSE where the JS throws. */
static int build_media(const kp_ott_media_info *mi, const json_t *asset, const json_t *pbc,
                       json_t *cfg, json_t **error)
{
    *error = NULL;
    if (!context_ok(pbc))
        return KP_EPARSE;
    int rc = asset_ok(asset); /* new KalturaAsset() in the loader */
    if (rc < 0)
        return rc;
    const json_t *actions = kp_prov__ctx_array(pbc, "actions");
    for (size_t i = 0; i < asize(actions); i++) {
        if (!kp_ovp__is_str(G(json_array_get(actions, i), "type"), "BLOCK"))
            continue;
        *error = kp_prov__block_error(pbc, json_string("BLOCK"));
        return *error ? 0 : KP_ENOMEM;
    }

    json_t *metadata, *poster;
    const char *mtype = media_type(mi), *ctype = context_type(mi);
    rc = asset_base(asset, mtype, ctype, &metadata, &poster);
    if (rc < 0)
        return rc;
    const json_t *sources = kp_prov__ctx_array(pbc, "sources");
    json_t *hls = json_array(), *dash = json_array(), *prog = json_array();
    rc = hls && dash && prog ? 0 : KP_ENOMEM;
    /* adaptive (every non-`url` format) first, then progressive */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; rc >= 0 && i < asize(sources); i++) {
            const json_t *src = json_array_get(sources, i);
            if (kp_ovp__is_str(G(src, "format"), "url") != (pass == 1) || !format_wanted(mi, src))
                continue;
            rc = add_source(src, hls, dash, prog);
        }
    }
    /* Math.max over every source's duration (before the formats filter) */
    double max = -INFINITY;
    for (size_t i = 0; i < asize(sources); i++) {
        double d = kp_ovp__number(G(json_array_get(sources, i), "duration"));
        if (isnan(d) || isnan(max))
            max = NAN;
        else if (d > max)
            max = d;
    }
    bool dvr;
    const char *type = media_kind(asset, mtype, ctype, &dvr);
    size_t n = json_array_size(hls) + json_array_size(dash) + json_array_size(prog);
    json_t *so = rc >= 0 ? sources_object(G(asset, "id"), kp_ovp__num_json(max), type, dvr, poster,
                                          metadata, hls, dash, prog)
                         : NULL;
    if (rc < 0) {
        json_decref(hls);
        json_decref(dash);
        json_decref(prog);
        json_decref(metadata);
        json_decref(poster);
        return rc;
    }
    if (!so)
        return KP_ENOMEM;
    if (n == 0) {
        *error = kp_prov__no_source_error(json_object_get(so, "id"));
        json_decref(so);
        return *error ? 0 : KP_ENOMEM;
    }
    json_t *plugins = json_object();
    rc = plugins ? 0 : KP_ENOMEM;
    const json_t *pl = kp_prov__ctx_array(pbc, "plugins");
    for (size_t i = 0; rc >= 0 && i < asize(pl); i++) {
        const json_t *p = json_array_get(pl, i);
        if (!kp_ovp__is_str(G(p, "streamertype"), "progressive"))
            continue;
        json_t *bumper = json_object();
        rc = bumper ? kp_ovp__set_raw(bumper, "url", G(p, "url")) : KP_ENOMEM;
        if (rc >= 0)
            rc = jset(plugins, "bumper", bumper);
        else
            json_decref(bumper);
        break;
    }
    return kp_prov__set_media(cfg, rc, so, plugins);
}

/* The config from the (successful) login, asset and context results. */
static int media_result(const kp_provider_opts *o, const kp_ott_media_info *mi, bool login_ran,
                        const json_t *login, const json_t *asset, const json_t *pbc,
                        const json_t *headers, json_t **config, json_t **error)
{
    json_t *cfg = json_object();
    int rc = cfg ? jset(cfg, "session", session_json(o, mi->ks, login_ran, login)) : KP_ENOMEM;
    if (rc >= 0)
        rc = build_media(mi, asset, pbc, cfg, error);
    return kp_prov__media_result(rc, cfg, headers, config, error);
}

int kp_ott_media_parse(const kp_provider_opts *o, const kp_ott_media_info *mi,
                       const kp_http_outcome *h, json_t **config, json_t **error)
{
    if (!o || !mi || !h || !config || !error || !nonempty(o->service_url))
        return KP_EINVAL;
    int rc = parse_check(nonempty(mi->entry_id), MISSING_ID, config, error);
    if (rc < 0 || *error)
        return rc;
    kp_prov__answer a;
    rc = kp_prov__answer_read(h, o->service_url, "/service/multirequest", &a, error);
    if (rc >= 0 && !*error) {
        if (kp_prov__failed(&a.d, true)) {
            *error = kp_prov__api_error(a.url, a.headers, &a.d);
            rc = *error ? 0 : KP_ENOMEM;
        } else {
            bool login = has_login(o, kp_prov__call_ks(o, mi->ks));
            size_t s = login ? 1 : 0;
            const json_t *asset = json_array_get(a.d.items, s);
            const json_t *pbc = json_array_get(a.d.items, s + 1);
            rc = media_result(o, mi, login, login ? json_array_get(a.d.items, 0) : NULL, asset, pbc,
                              a.headers, config, error);
        }
    }
    kp_prov__answer_free(&a);
    return kp_prov__settle(rc, config, error);
}

/* ---- single-request mode -------------------------------------------------------------------- */

/* One single request's answer: `result` when truthy, else the body. Sets *item (borrowed from
 * a, which the caller frees) or *error (transport/status/format error). */
static int single_outcome(const kp_http_outcome *h, const char *service_url, const char *path,
                          kp_prov__answer *a, const json_t **item, json_t **error)
{
    *item = NULL;
    int rc = kp_prov__answer_read(h, service_url, path, a, error);
    if (rc >= 0 && !*error)
        *item = json_array_get(a->d.items, 0);
    return rc;
}

/* RequestSequenceBuilder's error for an API error item. */
static json_t *single_api_error(const json_t *exc)
{
    kp_buf msg;
    kp_buf_init(&msg);
    int rc = kp_buf_puts(&msg, "Request returned an error: ");
    if (rc >= 0)
        rc = kp_ovp__put_str(&msg, G(exc, "message"));
    if (rc >= 0)
        rc = kp_buf_puts(&msg, " (code: ");
    if (rc >= 0)
        rc = kp_ovp__put_str(&msg, G(exc, "code"));
    if (rc >= 0)
        rc = kp_buf_putc(&msg, ')');
    json_t *e = rc >= 0 ? kp_prov__exception(exc) : NULL;
    json_t *data =
        e ? json_pack("{s:o, s:s%}", "error", e, "errorMessage", msg.data, msg.len) : NULL;
    kp_buf_free(&msg);
    return data ? kp_prov__error(KP_PROVCAT_NETWORK, KP_PROVCODE_API_RESPONSE_MISMATCH, data)
                : NULL;
}

static const char *const k_single_path[] = {"/service/ottuser/action/anonymousLogin",
                                            "/service/asset/action/get",
                                            "/service/asset/action/getPlaybackContext"};

int kp_ott_single_next(const kp_provider_opts *o, const kp_ott_media_info *mi,
                       const kp_http_outcome *done, size_t n_done, char **url, json_t **body,
                       json_t **error)
{
    if (!o || !mi || (n_done && !done) || !url || !body || !error)
        return KP_EINVAL;
    int rc = request_check(o, nonempty(mi->entry_id), MISSING_ID, url, body, error);
    if (rc < 0)
        return rc;
    const char *ks = kp_prov__call_ks(o, mi->ks);
    bool login = has_login(o, ks);
    size_t step = n_done + (login ? 0 : 1); /* 0 login, 1 asset.get, 2 getPlaybackContext */
    if (step > 2)
        return 0;
    json_t *params = NULL;
    json_t *ks_value = NULL; /* the KS the asset requests carry */
    if (step == 0) {
        params = login_params(o);
    } else {
        if (*ks) {
            ks_value = json_string(ks);
        } else if (login) {
            /* execute(): ks = serviceResult.data.ks || ''; nothing more after a failed login */
            kp_prov__answer a;
            const json_t *item;
            json_t *err = NULL;
            rc = single_outcome(&done[0], o->service_url, k_single_path[0], &a, &item, &err);
            bool failed = rc < 0 || err || !item || json_is_null(item) || kp_prov__item_error(item);
            json_decref(err);
            if (!failed) {
                const json_t *lks = G(item, "ks");
                ks_value = kp_ovp__truthy(lks) ? json_deep_copy(lks) : json_string("");
            }
            kp_prov__answer_free(&a);
            if (rc < 0)
                return rc;
            if (failed)
                return 0;
        } else {
            ks_value = json_string(""); /* partner 0: "{1:result:ks}" becomes '' */
        }
        if (!ks_value)
            return KP_ENOMEM;
        params = step == 1 ? asset_get_params(mi->entry_id, mi->entry_id_is_number,
                                              mi->asset_reference_type, "")
                           : playback_context_params(mi, "");
        if (params && json_object_set(params, "ks", ks_value) != 0) {
            json_decref(params);
            params = NULL;
        }
        json_decref(ks_value);
    }
    /* {...globalParams, ...request.params} */
    json_t *b = params ? json_pack("{s:s}", "apiVersion", OTT_API_VERSION) : NULL;
    if (b && json_object_update(b, params) != 0) {
        json_decref(b);
        b = NULL;
    }
    json_decref(params);
    *url = b ? kp_asprintf("%s%s", o->service_url, k_single_path[step]) : NULL;
    if (!*url) {
        json_decref(b);
        return KP_ENOMEM;
    }
    *body = b;
    return 1;
}

int kp_ott_single_parse(const kp_provider_opts *o, const kp_ott_media_info *mi,
                        const kp_http_outcome *done, size_t n_done, json_t **config, json_t **error)
{
    if (!o || !mi || (n_done && !done) || !config || !error || !nonempty(o->service_url))
        return KP_EINVAL;
    int rc = parse_check(nonempty(mi->entry_id), MISSING_ID, config, error);
    if (rc < 0 || *error)
        return rc;
    bool login = has_login(o, kp_prov__call_ks(o, mi->ks));
    size_t first = login ? 0 : 1;
    kp_prov__answer a[3];
    memset(a, 0, sizeof(a));
    const json_t *item[3] = {NULL, NULL, NULL};
    /* the first request that failed, in order: transport/status/format, then API error */
    for (size_t i = 0; rc >= 0 && !*error && i < n_done && first + i < 3; i++) {
        size_t k = first + i;
        rc = single_outcome(&done[i], o->service_url, k_single_path[k], &a[k], &item[k], error);
        const json_t *exc = rc >= 0 && !*error ? kp_prov__item_error(item[k]) : NULL;
        if (exc) {
            *error = single_api_error(exc);
            rc = *error ? 0 : KP_ENOMEM;
        }
    }
    if (rc >= 0 && !*error) {
        json_t *headers = json_array(); /* single requests keep no response headers */
        rc = headers ? media_result(o, mi, login, item[0], item[1], item[2], headers, config, error)
                     : KP_ENOMEM;
        json_decref(headers);
    }
    for (size_t k = 0; k < 3; k++)
        kp_prov__answer_free(&a[k]);
    return kp_prov__settle(rc, config, error);
}

/* ---- entry lists ---------------------------------------------------------------------------- */

static bool entries_ok(const kp_entry_list_info *el)
{
    if (!el->n_entries || !el->entries)
        return false;
    for (size_t i = 0; i < el->n_entries; i++)
        if (!nonempty(el->entries[i].entry_id))
            return false;
    return true;
}

int kp_ott_entry_list_request(const kp_provider_opts *o, const kp_entry_list_info *el, char **url,
                              json_t **body, json_t **error)
{
    if (!o || !el || !url || !body || !error)
        return KP_EINVAL;
    int rc = request_check(o, entries_ok(el), MISSING_PARAMS, url, body, error);
    if (rc < 0)
        return rc;
    const char *ks = kp_prov__call_ks(o, el->ks);
    kp_prov__mr m;
    const char *ks_param = mr_start(&m, o, ks);
    for (size_t i = 0; i < el->n_entries; i++) {
        const kp_entry_ref *e = &el->entries[i];
        kp_prov__mr_add(&m, with_call("asset", "get",
                                      asset_get_params(e->entry_id, e->entry_id_is_number,
                                                       e->asset_reference_type, ks_param)));
    }
    return finish_request(o, &m, ks, url, body);
}

/* One entry-list item: the asset's base data, no sources (kp_prov__item_fn). */
static int list_item(const json_t *asset, void *ud, json_t **sources)
{
    (void)ud;
    json_t *metadata, *poster;
    int rc = asset_base(asset, NULL, NULL, &metadata, &poster);
    if (rc < 0)
        return rc;
    *sources = sources_object(G(asset, "id"), NULL, "Unknown", false, poster, metadata,
                              json_array(), json_array(), json_array());
    return *sources ? 0 : KP_ENOMEM;
}

int kp_ott_entry_list_parse(const kp_provider_opts *o, const kp_entry_list_info *el,
                            const kp_http_outcome *h, json_t **playlist, json_t **error)
{
    if (!o || !el || !h || !playlist || !error || !nonempty(o->service_url))
        return KP_EINVAL;
    int rc = parse_check(entries_ok(el), MISSING_PARAMS, playlist, error);
    if (rc < 0 || *error)
        return rc;
    size_t first = has_login(o, kp_prov__call_ks(o, el->ks)) ? 1 : 0;
    json_t *pl = json_pack("{s:s, s:{s:s, s:s}, s:s, s:[], s:s}", "id", "", "metadata", "name", "",
                           "description", "", "poster", "", "items", "playlistLastEntryId", "");
    return kp_prov__entry_list(h, o->service_url, first, el->n_entries, pl, list_item, NULL,
                               playlist, error);
}

/* ---- playlists ------------------------------------------------------------------------------ */

int kp_ott_playlist_request(const kp_provider_opts *o, const kp_playlist_info *pi, char **url,
                            json_t **body, json_t **error)
{
    if (!o || !pi || !url || !body || !error)
        return KP_EINVAL;
    *url = NULL;
    *body = NULL;
    *error = kp_prov__error(
        KP_PROVCAT_PROVIDER, KP_PROVCODE_METHOD_NOT_IMPLEMENTED,
        json_pack("{s:s}", "message", "The provider does not support loading playlist by id"));
    return *error ? KP_ENOTSUP : KP_ENOMEM;
}
