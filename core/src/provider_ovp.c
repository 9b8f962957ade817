/* provider_ovp.c: the OVP provider's getMediaConfig as pure functions (kp/provider.h):
 * the multirequest it sends (reference/kaltura-provider.md §1.3), and the HTTP outcome turned
 * into the media config or the provider error object (§1.1, §1.2, §3); also user.get. The media
 * config itself is built in provider_ovp_config.c, the outcome decoded in provider_outcome.c
 * (shared with OTT); playlists and entry lists are in provider_ovp_list.c. Every string and
 * JSON value returned is owned by the caller.
 *
 * Where kpsim differs from the real provider (playkit-js-providers 2.46.0), and why
 * -------------------------------------------------------------------------------
 * 1. HTTP status other than 200. The real provider ignores it and its promise never settles
 *    (golden ovp_http_500 = HANG): an infinite spinner. kpsim returns
 *    {2, 1, 1001 BAD_HTTP_STATUS, {url, status, headers, text}}, text being the body.
 * 2. A failed multirequest whose baseEntry.list has an empty `objects` (redirectFromEntryId
 *    off and an unknown id, golden syn_ovp_entry_not_found_empty_list = HANG). The real
 *    rejection handler evaluates objects?.[0].status, throws a TypeError and never settles.
 *    kpsim returns the 1006 MULTIREQUEST_API_ERROR the code intended (results as usual).
 * 3. session.isAnonymous with a KS in the provider options. The real provider sets it from
 *    an asynchronous user.get (undefined until it answers; true when the KS has no user).
 *    These functions are synchronous, so it is false whenever opts->ks is set, unless the
 *    caller made the user.get itself (kp_ovp_user_get_request/_parse, below; the client in
 *    provider_client.c does) and passes its answer in opts->is_anonymous. A KS given only in
 *    mediaInfo does not change it (it stays true), as in the real provider.
 * 4. eCDN ping. When the REQUEST_HOST_REGEX action has checkAliveTimeoutMs > 0 the real
 *    provider GETs a ping URL and rewrites the URLs only on a 200. kp_ovp_media_parse cannot
 *    do network: it keeps the original URLs, and kp_ovp_ecdn_ping()/kp_ovp_ecdn_apply() let
 *    the caller do the ping and the rewrite. The regex is JavaScript; provider_ovp_regex.c
 *    translates it to POSIX and, for constructs POSIX lacks, leaves the URLs alone.
 * 5. Responses the JavaScript cannot digest. Where the real provider throws a TypeError on a
 *    malformed response (a list with totalCount 0 and no error item, a missing list or
 *    playback-context slot, a field of the wrong type such as sources that is not an array,
 *    metadata XML without a <metadata> root, an image entry whose dataUrl has no
 *    entry_id/<id>/), it rejects with a raw TypeError instead of a provider error, or never
 *    settles. kpsim returns {2, 1, 1007 API_RESPONSE_MISMATCH, {headers}}, the error its
 *    DataLoaderManager.prepareData() meant to raise for a response that does not fit.
 *    A JSON body that is `null` gives 1005 (the real provider throws); a `null` item inside
 *    the array counts as a successful item whose data is null.
 * 6. No sticky state. The real provider keeps its env config in a module-global object, and a
 *    mediaInfo.ks or a custom widget's KS in the instance, for later calls. Here every call
 *    sees only its arguments.
 * 7. Base protocol. When cdn_url has no http:/https: scheme the real provider falls back to
 *    document.location.protocol; kpsim has no page and uses "https" (the corpus's page).
 * 8. Parsers. jansson rejects a few bodies JSON.parse accepts (integers beyond 64 bits, lone
 *    UTF-16 surrogate escapes): those give 1005. Metadata XML is parsed by libxml2 in recover
 *    mode instead of xmldom; well-formed XML gives the same result.
 * 9. Transport errors. 1002 data is {text, statusText, url, headers, attempt} with text the
 *    body received (usually "") and statusText "" as XHR reports them; kp_http_outcome's
 *    transport_text has no place in the real object and is left to the caller's log. A
 *    KP_ETIMEDOUT outcome gives 1003 TIMEOUT {timeout (s), statusText, url, headers, attempt}.
 * 10. An empty service_url counts as unset (the default); the real provider would post to
 *    "/service/multirequest" and build no playManifest URL.
 * Real-provider quirks kept on purpose, because conformance means the same output: 2002's
 * data.status is "" (window.status, not the entry status); progressive sources expand over
 * every flavor asset, and the bumper uses the main entry's flavors; the bumper URL keeps the
 * KS even with use_header_for_ks; repeated custom-metadata tags vanish; a flavor without
 * fileExt gets ".../a.undefined"; 1006 headers keep XHR's trailing "\r".
 */
#include "kp/provider.h"

#include "provider_ovp_priv.h"
#include "provider_priv.h"

#include "kp/err.h"
#include "kp/perror.h"

#include <stdlib.h>
#include <string.h>

#define G    kp_ovp__get
#define jset kp_prov__set

const char *const kp_ovp__entry_fields =
    "id,referenceId,name,description,thumbnailUrl,dataUrl,duration,msDuration,flavorParamsIds,"
    "mediaType,type,tags,dvrStatus,externalSourceType,status,createdAt,updatedAt,endDate,plays,"
    "views,downloadUrl,creatorId,userId,rootEntryId,capabilities,adminTags";

void kp_provider_opts_init(kp_provider_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->use_api_captions = true;
    o->is_anonymous = -1;
}

const char *kp_ovp__service_url(const kp_provider_opts *o)
{
    return o->service_url && *o->service_url ? o->service_url : KP_PROVIDER_DEFAULT_SERVICE_URL;
}

const char *kp_ovp__cdn_url(const kp_provider_opts *o)
{
    return o->cdn_url ? o->cdn_url : KP_PROVIDER_DEFAULT_CDN_URL;
}

/* mediaInfo.ks wins over the provider KS; "" is anonymous. */
static const char *effective_ks(const kp_provider_opts *o, const kp_media_info *mi)
{
    return kp_prov__call_ks(o, mi ? mi->ks : NULL);
}

static json_t *provider_error(int category, int code, json_t *data)
{
    return kp_prov__error(category, code, data);
}

/* ---- the request ---------------------------------------------------------------------------- */

static json_t *request_body(const kp_provider_opts *o, const kp_media_info *mi)
{
    const char *ks = effective_ks(o, mi);
    bool anon = !*ks;
    const char *ks_param = anon ? "{1:result:ks}" : ks;
    const char *entry_ref = anon ? "{2:result:objects:0:id}" : "{1:result:objects:0:id}";
    json_t *body = json_object();
    int rc = body ? 0 : KP_ENOMEM;
    int n = 1;
    char key[4];

    if (rc >= 0 && anon) {
        char *widget = o->widget_id && *o->widget_id ? kp_strdup(o->widget_id)
                                                     : kp_asprintf("_%lld", o->partner_id);
        rc = widget ? jset(body, "1",
                           json_pack("{s:s, s:s, s:s}", "service", "session", "action",
                                     "startWidgetSession", "widgetId", widget))
                    : KP_ENOMEM;
        free(widget);
        n++;
    }

    json_t *filter = NULL;
    bool redirect = mi->redirect_from_entry_id != 0; /* -1 (default) and 1 */
    if (mi->entry_id && *mi->entry_id)
        filter = json_pack("{s:s}", redirect ? "redirectFromEntryId" : "idEqual", mi->entry_id);
    else
        filter = json_pack("{s:s, s:s}", "objectType", "KalturaBaseEntryFilter", "referenceIdEqual",
                           mi->reference_id);
    snprintf(key, sizeof(key), "%d", n++);
    if (rc >= 0)
        rc = jset(body, key,
                  filter ? json_pack("{s:s, s:s, s:s, s:o, s:{s:i, s:s}}", "service", "baseEntry",
                                     "action", "list", "ks", ks_param, "filter", filter,
                                     "responseProfile", "type", 1, "fields", kp_ovp__entry_fields)
                         : NULL);
    else
        json_decref(filter);

    json_t *ctx =
        json_pack("{s:s, s:s}", "objectType", "KalturaContextDataParams", "flavorTags", "all");
    if (ctx && o->referrer && *o->referrer && jset(ctx, "referrer", json_string(o->referrer)) < 0) {
        json_decref(ctx);
        ctx = NULL;
    }
    snprintf(key, sizeof(key), "%d", n++);
    if (rc >= 0)
        rc = jset(body, key,
                  ctx ? json_pack("{s:s, s:s, s:s, s:s, s:o}", "service", "baseEntry", "action",
                                  "getPlaybackContext", "entryId", entry_ref, "ks", ks_param,
                                  "contextDataParams", ctx)
                      : NULL);
    else
        json_decref(ctx);

    snprintf(key, sizeof(key), "%d", n++);
    if (rc >= 0)
        rc = jset(body, key,
                  json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:s}", "service", "metadata_metadata",
                            "action", "list", "filter", "objectType", "KalturaMetadataFilter",
                            "objectIdEqual", entry_ref, "metadataObjectTypeEqual", "1", "ks",
                            ks_param));

    if (rc >= 0)
        rc = jset(body, "apiVersion", json_string("3.3.0"));
    if (rc >= 0)
        rc = jset(body, "format", json_integer(1));
    if (rc >= 0)
        rc = jset(body, "ks", json_string(ks));
    if (rc >= 0)
        rc = jset(body, "clientTag",
                  json_string(o->client_tag ? o->client_tag : KP_PROVIDER_DEFAULT_CLIENT_TAG));
    if (rc >= 0 && o->partner_id)
        rc = jset(body, "partnerId", json_integer(o->partner_id));
    if (rc < 0) {
        json_decref(body);
        return NULL;
    }
    return body;
}

int kp_ovp_media_request(const kp_provider_opts *o, const kp_media_info *mi, char **url,
                         json_t **body, json_t **error)
{
    if (!o || !mi || !url || !body || !error)
        return KP_EINVAL;
    *url = NULL;
    *body = NULL;
    *error = NULL;
    if (!(mi->entry_id && *mi->entry_id) && !(mi->reference_id && *mi->reference_id)) {
        *error = kp_prov__missing_params("missing entry id");
        return *error ? KP_EINVAL : KP_ENOMEM;
    }
    *url = kp_asprintf("%s/service/multirequest", kp_ovp__service_url(o));
    *body = *url ? request_body(o, mi) : NULL;
    if (!*body) {
        free(*url);
        *url = NULL;
        return KP_ENOMEM;
    }
    return 0;
}

/* ---- the outcome ---------------------------------------------------------------------------- */

/* The provider's rejection handler: DELETED_ENTRY when the list says status 3. */
static bool deleted_entry(const kp_prov__decoded *d)
{
    for (size_t i = 0; i < json_array_size(d->results); i++) {
        const json_t *data = json_object_get(json_array_get(d->results, i), "data");
        if (!kp_ovp__is_str(G(data, "objectType"), "KalturaBaseEntryListResponse"))
            continue;
        const json_t *objects = G(data, "objects");
        if (!json_is_array(objects) || json_array_size(objects) == 0)
            return false; /* [] makes the real provider hang: kpsim reports 1006 */
        return kp_ovp__is_num(G(json_array_get(objects, 0), "status"), 3);
    }
    return false;
}

/* Resolves what the media-config builder needs besides the data. `ks_buf` keeps a custom
 * widget's KS alive. */
static int make_ctx(const kp_provider_opts *o, const kp_media_info *mi, const kp_prov__decoded *d,
                    kp_ovp__ctx *c, kp_buf *ks_buf)
{
    memset(c, 0, sizeof(*c));
    c->o = o;
    c->service_url = kp_ovp__service_url(o);
    c->cdn_url = kp_ovp__cdn_url(o);
    c->base_protocol = kp_str_starts(c->cdn_url, "https:")  ? "https"
                       : kp_str_starts(c->cdn_url, "http:") ? "http"
                                                            : "https";
    const char *ks = effective_ks(o, mi);
    if (!*ks && d) {
        /* a custom widget's session KS becomes the provider KS (and goes into URLs) */
        char dflt[32];
        snprintf(dflt, sizeof(dflt), "_%lld", o->partner_id);
        const json_t *wks = G(json_array_get(d->items, 0), "ks");
        if (o->widget_id && *o->widget_id && strcmp(o->widget_id, dflt) != 0 &&
            kp_ovp__truthy(wks)) {
            int rc = kp_ovp__put_str(ks_buf, wks);
            if (rc < 0)
                return rc;
            ks = ks_buf->data;
        }
    }
    c->bumper_ks = ks;
    c->url_ks = o->use_header_for_ks ? "" : ks;
    return 0;
}

/* session {isAnonymous, partnerId, uiConfId?, ks?} */
static json_t *session_json(const kp_provider_opts *o, const kp_media_info *mi,
                            const kp_prov__decoded *d)
{
    bool anon_flag = o->is_anonymous >= 0 ? o->is_anonymous != 0 : !(o->ks && *o->ks);
    json_t *s = json_object();
    int rc = s ? jset(s, "isAnonymous", json_boolean(anon_flag)) : KP_ENOMEM;
    if (rc >= 0)
        rc = jset(s, "partnerId", json_integer(o->partner_id));
    if (rc >= 0 && o->uiconf_id)
        rc = jset(s, "uiConfId", json_integer(o->uiconf_id));
    const char *ks = effective_ks(o, mi);
    if (rc >= 0 && !*ks) {
        const json_t *wks = G(json_array_get(d->items, 0), "ks");
        if (kp_ovp__truthy(wks))
            rc = kp_ovp__set_raw(s, "ks", wks);
    } else if (rc >= 0) {
        rc = jset(s, "ks", json_string(ks));
    }
    if (rc < 0) {
        json_decref(s);
        return NULL;
    }
    return s;
}

/* The loaders' slots: the session request (anonymous only), then list, context, metadata. */
static void media_slots(const kp_provider_opts *o, const kp_media_info *mi,
                        const kp_prov__decoded *d, const json_t **list, const json_t **pbc,
                        const json_t **md)
{
    size_t s = *effective_ks(o, mi) ? 0 : 1;
    *list = json_array_get(d->items, s);
    *pbc = json_array_get(d->items, s + 1);
    *md = json_array_get(d->items, s + 2);
}

static int parse_success(const kp_provider_opts *o, const kp_media_info *mi,
                         const kp_prov__decoded *d, const json_t *headers, json_t **config,
                         json_t **error)
{
    const json_t *list, *pbc, *md;
    media_slots(o, mi, d, &list, &pbc, &md);
    kp_buf ks_buf;
    kp_buf_init(&ks_buf);
    kp_ovp__ctx c;
    int rc = make_ctx(o, mi, d, &c, &ks_buf);
    json_t *cfg = rc >= 0 ? json_object() : NULL;
    if (rc >= 0 && !cfg)
        rc = KP_ENOMEM;
    if (rc >= 0)
        rc = jset(cfg, "session", session_json(o, mi, d));
    if (rc >= 0 && (!list || !pbc))
        rc = KP_EPARSE;
    if (rc >= 0)
        rc = kp_ovp__build_media(&c, list, pbc, md, cfg, error);
    if (rc >= 0 && !*error) {
        const json_t *action = kp_ovp__regex_action(pbc);
        rc = kp_ovp__regex_check(&c, action, NULL, NULL);
        if (rc == KP_OVP__RX_NOW)
            rc = kp_ovp__regex_rewrite(&c, action, cfg);
    }
    kp_buf_free(&ks_buf);
    return kp_prov__media_result(rc, cfg, headers, config, error);
}

int kp_ovp_media_parse(const kp_provider_opts *o, const kp_media_info *mi, const kp_http_outcome *h,
                       json_t **config, json_t **error)
{
    if (!o || !mi || !h || !config || !error)
        return KP_EINVAL;
    *config = NULL;
    *error = NULL;
    kp_prov__answer a;
    int rc = kp_prov__answer_read(h, kp_ovp__service_url(o), "/service/multirequest", &a, error);
    if (rc < 0 || *error) {
        /* transport, status or format error (or out of memory) */
    } else if (kp_prov__failed(&a.d, true)) {
        *error = deleted_entry(&a.d)
                     ? provider_error(KP_PROVCAT_SERVICE, KP_PROVCODE_DELETED_ENTRY, NULL)
                     : kp_prov__api_error(a.url, a.headers, &a.d);
        rc = *error ? 0 : KP_ENOMEM;
    } else {
        rc = parse_success(o, mi, &a.d, a.headers, config, error);
    }
    kp_prov__answer_free(&a);
    return kp_prov__settle(rc, config, error);
}

/* ---- eCDN hooks ----------------------------------------------------------------------------- */

/* The regex action of a successful outcome, with the context to apply it. Returns 1 when
 * there is one (*d then owns the data), 0 when not, or KP_ENOMEM. */
static int ecdn_action(const kp_provider_opts *o, const kp_media_info *mi, const kp_http_outcome *h,
                       kp_prov__decoded *d, kp_ovp__ctx *c, kp_buf *ks_buf, const json_t **action)
{
    *action = NULL;
    memset(d, 0, sizeof(*d));
    json_t *error = NULL, *headers = json_array();
    int rc = headers ? kp_prov__outcome(h, "", headers, d, &error) : KP_ENOMEM;
    json_decref(headers);
    if (rc < 0 || error) {
        json_decref(error);
        return rc < 0 ? rc : 0;
    }
    if (kp_prov__failed(d, true))
        return 0;
    const json_t *list, *pbc, *md;
    media_slots(o, mi, d, &list, &pbc, &md);
    *action = kp_ovp__regex_action(pbc);
    if (!*action)
        return 0;
    rc = make_ctx(o, mi, d, c, ks_buf);
    return rc < 0 ? rc : 1;
}

int kp_ovp_ecdn_ping(const kp_provider_opts *o, const kp_media_info *mi, const kp_http_outcome *h,
                     char **ping_url, long long *timeout_ms)
{
    if (!o || !mi || !h || !ping_url || !timeout_ms)
        return KP_EINVAL;
    *ping_url = NULL;
    *timeout_ms = 0;
    kp_prov__decoded d;
    kp_ovp__ctx c;
    kp_buf ks_buf;
    kp_buf_init(&ks_buf);
    const json_t *action;
    int rc = ecdn_action(o, mi, h, &d, &c, &ks_buf, &action);
    if (rc == 1) {
        rc = kp_ovp__regex_check(&c, action, ping_url, timeout_ms);
        rc = rc == KP_OVP__RX_PING ? 1 : rc < 0 ? rc : 0;
        if (rc != 1) {
            free(*ping_url);
            *ping_url = NULL;
            *timeout_ms = 0;
        }
    }
    kp_prov__decoded_free(&d);
    kp_buf_free(&ks_buf);
    return rc;
}

int kp_ovp_ecdn_apply(const kp_provider_opts *o, const kp_media_info *mi, const kp_http_outcome *h,
                      json_t *config)
{
    if (!o || !mi || !h || !json_is_object(config))
        return KP_EINVAL;
    kp_prov__decoded d;
    kp_ovp__ctx c;
    kp_buf ks_buf;
    kp_buf_init(&ks_buf);
    const json_t *action;
    int rc = ecdn_action(o, mi, h, &d, &c, &ks_buf, &action);
    if (rc == 1) {
        rc = kp_ovp__regex_check(&c, action, NULL, NULL);
        if (rc == KP_OVP__RX_PING || rc == KP_OVP__RX_NOW)
            rc = kp_ovp__regex_rewrite(&c, action, config) < 0 ? KP_ENOMEM : 1;
        else if (rc > 0)
            rc = 0;
    }
    kp_prov__decoded_free(&d);
    kp_buf_free(&ks_buf);
    return rc;
}

/* ---- user.get ------------------------------------------------------------------------------- */

int kp_ovp_user_get_request(const kp_provider_opts *o, const char *ks, char **url, json_t **body)
{
    if (!o || !ks || !url || !body)
        return KP_EINVAL;
    *url = kp_asprintf("%s/service/user/action/get", kp_ovp__service_url(o));
    *body = json_pack("{s:s, s:i}", "ks", ks, "format", 1);
    if (!*url || !*body) {
        free(*url);
        json_decref(*body);
        *url = NULL;
        *body = NULL;
        return KP_ENOMEM;
    }
    return 0;
}

int kp_ovp_user_get_parse(const kp_http_outcome *h)
{
    if (!h || h->transport_error || h->status != 200)
        return -1;
    json_t *headers = json_array(), *error = NULL;
    kp_prov__decoded d;
    int rc = headers ? kp_prov__outcome(h, "", headers, &d, &error) : KP_ENOMEM;
    json_decref(headers);
    if (rc < 0 || error) {
        json_decref(error);
        return -1;
    }
    /* KalturaUserGetResponse: ['0', '', null, undefined].includes(response.id) */
    const json_t *id = kp_ovp__get(d.root, "id");
    int anon = !id || json_is_null(id) || kp_ovp__is_str(id, "0") || kp_ovp__is_str(id, "");
    kp_prov__decoded_free(&d);
    return anon;
}
