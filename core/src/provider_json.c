/* provider_json.c: the JSON the OVP and OTT providers build or check alike (provider_priv.h):
 * stealing setters, multirequest bodies, the call's KS, the shape checks of the playback-context
 * classes (where the JS would throw), and the parts of the media config the shared
 * KalturaPlaybackContext gives both: DRM data, access-control messages, the 2001 and 3001
 * errors, the sources object's lists. Every json_t * returned is owned by the caller.
 */
#include "provider_priv.h"

#include "provider_ovp_priv.h"

#include "kp/buf.h"
#include "kp/err.h"
#include "kp/perror.h"

#include <stdio.h>

#define G kp_ovp__get

int kp_prov__set(json_t *obj, const char *key, json_t *v)
{
    if (!v)
        return KP_ENOMEM;
    return json_object_set_new(obj, key, v) == 0 ? 0 : KP_ENOMEM;
}

int kp_prov__push(json_t *arr, json_t *v)
{
    if (!v)
        return KP_ENOMEM;
    return json_array_append_new(arr, v) == 0 ? 0 : KP_ENOMEM;
}

size_t kp_prov__asize(const json_t *a)
{
    return json_is_array(a) ? json_array_size(a) : 0;
}

/* ---- requests ------------------------------------------------------------------------------- */

void kp_prov__mr_init(kp_prov__mr *m)
{
    m->body = json_object();
    m->n = 0;
    m->rc = m->body ? 0 : KP_ENOMEM;
}

void kp_prov__mr_add(kp_prov__mr *m, json_t *sub)
{
    char key[24];
    snprintf(key, sizeof(key), "%d", ++m->n);
    if (m->rc >= 0)
        m->rc = kp_prov__set(m->body, key, sub);
    else
        json_decref(sub);
}

const char *kp_prov__call_ks(const kp_provider_opts *o, const char *ks)
{
    if (ks && *ks)
        return ks;
    return o->ks ? o->ks : "";
}

/* ---- shape checks: where the JS classes would throw ----------------------------------------- */

bool kp_prov__array_of_objects(const json_t *v)
{
    if (!json_is_array(v))
        return false;
    for (size_t i = 0; i < json_array_size(v); i++)
        if (json_is_null(json_array_get(v, i)))
            return false;
    return true;
}

bool kp_prov__array_or_falsy(const json_t *v)
{
    return !kp_ovp__truthy(v) || kp_prov__array_of_objects(v);
}

bool kp_prov__sources_ok(const json_t *sources)
{
    if (!kp_prov__array_or_falsy(sources))
        return false;
    for (size_t i = 0; i < kp_prov__asize(sources); i++)
        if (!kp_prov__array_or_falsy(G(json_array_get(sources, i), "drm")))
            return false;
    return true;
}

bool kp_prov__context_ok(const json_t *pbc)
{
    return pbc && !json_is_null(pbc) && kp_prov__array_or_falsy(G(pbc, "messages")) &&
           kp_prov__array_or_falsy(G(pbc, "actions")) && kp_prov__sources_ok(G(pbc, "sources"));
}

const json_t *kp_prov__ctx_array(const json_t *pbc, const char *key)
{
    const json_t *v = G(pbc, key);
    return json_is_array(v) ? v : NULL;
}

/* ---- media config parts --------------------------------------------------------------------- */

/* KalturaDrmPlaybackPluginData.Scheme[scheme]: the DRM scheme name, or NULL (undefined).
 * drm.CLEAR_KEY is kpsim's own scheme (Kaltura has none for ClearKey; the real provider leaves
 * such an entry's scheme undefined): mapped to org.w3.clearkey so that kpsim's back-end can
 * offer real-crypto ClearKey licenses. No real back-end sends it. */
static const char *drm_scheme(const json_t *scheme)
{
    static const char *const map[][2] = {
        {"drm.CLEAR_KEY", "org.w3.clearkey"},
        {"drm.PLAYREADY_CENC", "com.microsoft.playready"},
        {"drm.WIDEVINE_CENC", "com.widevine.alpha"},
        {"fairplay.FAIRPLAY", "com.apple.fairplay"},
        {"WIDEVINE_CENC", "com.widevine.alpha"},
        {"PLAYREADY_CENC", "com.microsoft.playready"},
        {"FAIRPLAY", "com.apple.fairplay"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (kp_ovp__is_str(scheme, map[i][0]))
            return map[i][1];
    return NULL;
}

json_t *kp_prov__drm_data(const json_t *drm)
{
    json_t *list = json_array();
    int rc = list ? 0 : KP_ENOMEM;
    for (size_t i = 0; rc >= 0 && i < kp_prov__asize(drm); i++) {
        const json_t *d = json_array_get(drm, i);
        json_t *o = json_object();
        rc = o ? kp_ovp__set_raw(o, "licenseUrl", G(d, "licenseURL")) : KP_ENOMEM;
        const char *scheme = drm_scheme(G(d, "scheme"));
        if (rc >= 0 && scheme)
            rc = kp_prov__set(o, "scheme", json_string(scheme));
        if (rc >= 0 && kp_ovp__truthy(G(d, "certificate")))
            rc = kp_ovp__set_raw(o, "certificate", G(d, "certificate"));
        if (rc >= 0)
            rc = kp_prov__push(list, o);
        else
            json_decref(o);
    }
    if (rc < 0) {
        json_decref(list);
        return NULL;
    }
    return list;
}

json_t *kp_prov__messages(const json_t *pbc)
{
    const json_t *msgs = kp_prov__ctx_array(pbc, "messages");
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < kp_prov__asize(msgs); i++) {
        const json_t *m = json_array_get(msgs, i);
        json_t *o = json_object();
        if (!o || kp_ovp__set_raw(o, "message", G(m, "message")) < 0 ||
            kp_ovp__set_raw(o, "code", G(m, "code")) < 0 || kp_prov__push(arr, o) < 0) {
            json_decref(o);
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

json_t *kp_prov__block_error(const json_t *pbc, json_t *type)
{
    json_t *msgs = kp_prov__messages(pbc);
    if (!msgs || !type) {
        json_decref(msgs);
        json_decref(type);
        return NULL;
    }
    json_t *data = json_pack("{s:{s:o}, s:o}", "action", "type", type, "messages", msgs);
    return data ? kp_prov__error(KP_PROVCAT_SERVICE, KP_PROVCODE_BLOCK_ACTION, data) : NULL;
}

json_t *kp_prov__no_source_error(const json_t *id)
{
    kp_buf msg;
    kp_buf_init(&msg);
    int rc = kp_buf_puts(&msg, "No play source for entry id: ");
    if (rc >= 0)
        rc = kp_ovp__put_str(&msg, id);
    json_t *data =
        rc >= 0 ? json_pack("{s:s, s:s%}", "action", "", "messages", msg.data, msg.len) : NULL;
    kp_buf_free(&msg);
    return data ? kp_prov__error(KP_PROVCAT_SERVICE, KP_PROVCODE_MISSING_PLAY_SOURCE, data) : NULL;
}

int kp_prov__set_source_lists(json_t *sources, json_t *hls, json_t *dash, json_t *progressive,
                              json_t *image, json_t *document)
{
    static const char *const keys[] = {"hls", "dash", "progressive", "image", "document"};
    json_t *lists[] = {hls, dash, progressive, image, document};
    int rc = sources ? 0 : KP_ENOMEM;
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        if (rc >= 0)
            rc = kp_prov__set(sources, keys[i], lists[i]);
        else
            json_decref(lists[i]);
    }
    return rc;
}

int kp_prov__set_media(json_t *cfg, int rc, json_t *sources, json_t *plugins)
{
    if (rc >= 0)
        rc = kp_prov__set(cfg, "sources", sources);
    else
        json_decref(sources);
    if (rc >= 0)
        rc = kp_prov__set(cfg, "plugins", plugins);
    else
        json_decref(plugins);
    return rc;
}
