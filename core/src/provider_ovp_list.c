/* provider_ovp_list.c: the OVP provider's getPlaylistConfig and getEntryListConfig as pure
 * functions (kp/provider.h): the multirequests (reference/kaltura-provider.md §1.4, §1.5) and
 * their answers turned into the ProviderPlaylistObject (§2.10) or the provider error object.
 * Items are built by provider_ovp_config.c (kp_ovp__entry_sources), the answer is decoded by
 * provider_outcome.c. Every string and JSON value returned is owned by the caller.
 *
 * Where kpsim differs from the real provider (playkit-js-providers 2.46.0), and why
 * -------------------------------------------------------------------------------
 * (The transport and format differences of provider_ovp.c, items 1, 5, 6, 8, 9 and 10, apply
 * here too: non-200 gives 1001, an answer the JS cannot digest gives 1007, no sticky state.)
 * 1. Empty playlist after the last retry. The real provider retries 10 times and then rejects
 *    with the empty playlist object itself, which is not an error object. kpsim returns
 *    {2, 2, 3001 MISSING_PLAY_SOURCE, {action:"", messages:"No play source for playlist id:
 *    <id>", playlist:<that empty playlist object>}}, so callers always get {severity,
 *    category, code, data} and can still see what the real provider would have rejected with.
 *    The retry itself is the real one: attempt k (1..10) appends k commas to the fields of
 *    playlist.execute; kp_ovp_playlist_parse answers KP_PROVIDER_RETRY and the caller waits
 *    (provider_client.c: 10 s by default, settable) and sends attempt k + 1.
 * 2. Missing playlist id / no entries. The real provider rejects with
 *    {success:false, data:'Missing mandatory parameter'}, not an error object. kpsim returns
 *    {2, 3, 3000 MISSING_MANDATORY_PARAMS, {message:"Missing mandatory parameter"}} (the same
 *    shape as getMediaConfig's 3000). An entry-list entry with neither an id nor a reference
 *    id gives the same 3000 (the real one sends an empty filter, which lists the partner's
 *    entries).
 * 3. Entry-list results are matched to entries by position (no index shift). The real
 *    provider drops the error items of the multirequest before it slices the results per
 *    loader (PJP PR #277), so when the session request fails the session loader takes the
 *    first entry's answer and the entries move down one. kpsim maps slot 1+i (anonymous) or
 *    slot i (with a KS) to entry i, and leaves out exactly the entries whose list failed.
 * 4. Unusable entry-list answers. An entry whose baseEntry.list succeeded but holds no entry
 *    (totalCount 0, e.g. an unknown id with idEqual), or an entry the JS cannot digest, is
 *    left out. The real provider throws inside the loader: the exception is swallowed and
 *    that entry and every later one are lost, or (an empty objects array, capabilities that
 *    is not a string) the promise never settles.
 * 5. All entries failed. The real provider fails (1006) only when every item of the answer is
 *    an error; when the anonymous session succeeded but every entry failed it resolves an
 *    empty list. kpsim returns the 1006 {url, headers, results} whenever no entry loaded.
 * 6. An entry given as {referenceId} only is looked up by reference id (referenceIdEqual);
 *    the real provider sends the whole object as redirectFromEntryId.
 * 7. A playlist item the JS cannot digest (a null entry, capabilities that is not a string)
 *    gives 1007; the real provider rejects with the raw TypeError.
 * Kept on purpose: items carry no captions, playback sources or audioFlavors (the player asks
 * getMediaConfig per item); playlistLastEntryId is absent when userEntry.list has no object.
 */
#include "kp/provider.h"

#include "provider_ovp_priv.h"
#include "provider_priv.h"

#include "kp/buf.h"
#include "kp/err.h"
#include "kp/perror.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define G    kp_ovp__get
#define jset kp_prov__set

static bool nonempty(const char *s)
{
    return s && *s;
}

static json_t *missing_params(void)
{
    return kp_prov__missing_params("Missing mandatory parameter");
}

/* ---- the multirequest body ------------------------------------------------------------------ */

/* Starts the body of a call whose KS is ks: the widget session first when anonymous. Returns
 * the ks the other sub-requests carry (borrowed). */
static const char *mr_start(kp_prov__mr *m, const kp_provider_opts *o, const char *ks)
{
    kp_prov__mr_init(m);
    if (!*ks) {
        char *widget =
            nonempty(o->widget_id) ? kp_strdup(o->widget_id) : kp_asprintf("_%lld", o->partner_id);
        kp_prov__mr_add(m, widget ? json_pack("{s:s, s:s, s:s}", "service", "session", "action",
                                              "startWidgetSession", "widgetId", widget)
                                  : NULL);
        free(widget);
    }
    return *ks ? ks : "{1:result:ks}";
}

/* The common params (apiVersion, format, ks, clientTag, partnerId); returns the body. */
static json_t *mr_finish(kp_prov__mr *m, const kp_provider_opts *o, const char *ks)
{
    if (m->rc >= 0)
        m->rc = jset(m->body, "apiVersion", json_string("3.3.0"));
    if (m->rc >= 0)
        m->rc = jset(m->body, "format", json_integer(1));
    if (m->rc >= 0)
        m->rc = jset(m->body, "ks", json_string(ks));
    if (m->rc >= 0)
        m->rc = jset(m->body, "clientTag",
                     json_string(o->client_tag ? o->client_tag : KP_PROVIDER_DEFAULT_CLIENT_TAG));
    if (m->rc >= 0 && o->partner_id)
        m->rc = jset(m->body, "partnerId", json_integer(o->partner_id));
    if (m->rc < 0) {
        json_decref(m->body);
        return NULL;
    }
    return m->body;
}

static int finish_request(const kp_provider_opts *o, kp_prov__mr *m, const char *ks, char **url,
                          json_t **body)
{
    *body = mr_finish(m, o, ks);
    *url = *body ? kp_asprintf("%s/service/multirequest", kp_ovp__service_url(o)) : NULL;
    if (!*url) {
        json_decref(*body);
        *body = NULL;
        return KP_ENOMEM;
    }
    return 0;
}

/* ---- the answer ----------------------------------------------------------------------------- */

/* What the item builder needs (only the options matter without a playback context). */
static void list_ctx(const kp_provider_opts *o, kp_ovp__ctx *c)
{
    memset(c, 0, sizeof(*c));
    c->o = o;
    c->service_url = kp_ovp__service_url(o);
    c->cdn_url = kp_ovp__cdn_url(o);
    c->base_protocol = "https";
    c->url_ks = "";
    c->bumper_ks = "";
}

/* {id, metadata:{name, description}, poster, playlistLastEntryId, items:[]} with the
 * defaults of _getPlaylistObject(). */
static json_t *empty_playlist(void)
{
    return json_pack("{s:s, s:{s:s, s:s}, s:s, s:s, s:[]}", "id", "", "metadata", "name", "",
                     "description", "", "poster", "", "playlistLastEntryId", "", "items");
}

/* ---- getPlaylistConfig ---------------------------------------------------------------------- */

int kp_ovp_playlist_request(const kp_provider_opts *o, const kp_playlist_info *pi, int retry,
                            char **url, json_t **body, json_t **error)
{
    if (!o || !pi || !url || !body || !error || retry < 0 || retry > KP_OVP_PLAYLIST_MAX_RETRIES)
        return KP_EINVAL;
    *url = NULL;
    *body = NULL;
    *error = NULL;
    if (!nonempty(pi->playlist_id)) {
        *error = missing_params();
        return *error ? KP_EINVAL : KP_ENOMEM;
    }
    const char *ks = kp_prov__call_ks(o, pi->ks);
    const char *id = pi->playlist_id;
    kp_prov__mr m;
    const char *ks_param = mr_start(&m, o, ks);
    kp_prov__mr_add(&m, json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:i}}", "service", "playlist",
                                  "action", "get", "ks", ks_param, "id", id, "responseProfile",
                                  "fields", "id,name,description,thumbnailUrl", "type", 1));
    char *fields = kp_asprintf("%s%.*s", kp_ovp__entry_fields, retry, ",,,,,,,,,,");
    kp_prov__mr_add(&m, fields ? json_pack("{s:s, s:s, s:s, s:s, s:{s:i, s:s}}", "service",
                                           "playlist", "action", "execute", "ks", ks_param, "id",
                                           id, "responseProfile", "type", 1, "fields", fields)
                               : NULL);
    free(fields);
    kp_prov__mr_add(&m, json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:i}, s:{s:s, s:i}}", "service",
                                  "userEntry", "action", "list", "ks", ks_param, "filter",
                                  "objectType", "KalturaViewHistoryUserEntry", "entryIdEqual", id,
                                  "userIdEqualCurrent", 1, "responseProfile", "fields",
                                  "playlistLastEntryId", "type", 1));
    return finish_request(o, &m, ks, url, body);
}

/* The playlist from the three results, or KP_EPARSE where the JS throws. */
static int build_playlist(const kp_provider_opts *o, const json_t *get, const json_t *exec,
                          const json_t *ue, json_t **out)
{
    *out = NULL;
    /* OVPPlaylistLoader's response setter, then OVPProviderParser.getPlaylist */
    if (!get || json_is_null(get) || !kp_prov__array_of_objects(exec) || !ue || json_is_null(ue))
        return KP_EPARSE;
    const json_t *last = NULL;
    if (kp_ovp__number(G(ue, "totalCount")) > 0) {
        const json_t *objects = G(ue, "objects");
        if (!kp_prov__array_of_objects(objects))
            return KP_EPARSE;
        if (json_array_size(objects))
            last = G(json_array_get(objects, 0), "playlistLastEntryId");
    }
    kp_ovp__ctx c;
    list_ctx(o, &c);
    json_t *pl = empty_playlist();
    json_t *items = json_array();
    int rc = pl && items ? 0 : KP_ENOMEM;
    for (size_t i = 0; rc >= 0 && i < json_array_size(exec); i++) {
        json_t *sources;
        rc = kp_ovp__entry_sources(&c, json_array_get(exec, i), &sources);
        if (rc >= 0)
            rc = kp_prov__push(items, json_pack("{s:o}", "sources", sources));
    }
    /* playlistConfig.x = playlist.x: undefined values vanish from the JSON */
    json_t *md = json_object_get(pl, "metadata");
    if (rc >= 0)
        rc = kp_ovp__set_or_del(pl, "id", kp_ovp__copy(G(get, "id")));
    if (rc >= 0)
        rc = kp_ovp__set_or_del(pl, "poster", kp_ovp__copy(G(get, "thumbnailUrl")));
    if (rc >= 0)
        rc = kp_ovp__set_or_del(md, "name", kp_ovp__copy(G(get, "name")));
    if (rc >= 0)
        rc = kp_ovp__set_or_del(md, "description", kp_ovp__copy(G(get, "description")));
    if (rc >= 0)
        rc = kp_ovp__set_or_del(pl, "playlistLastEntryId", kp_ovp__copy(last));
    if (rc >= 0) {
        rc = jset(pl, "items", items);
        items = NULL;
    }
    json_decref(items);
    if (rc < 0) {
        json_decref(pl);
        return rc;
    }
    *out = pl;
    return 0;
}

/* kpsim's error for a playlist still empty after the last retry (see difference 1). */
static json_t *empty_playlist_error(const kp_playlist_info *pi)
{
    char *msg = kp_asprintf("No play source for playlist id: %s", pi->playlist_id);
    json_t *data = msg ? json_pack("{s:s, s:s, s:o}", "action", "", "messages", msg, "playlist",
                                   empty_playlist())
                       : NULL;
    free(msg);
    return data ? kp_prov__error(KP_PROVCAT_SERVICE, KP_PROVCODE_MISSING_PLAY_SOURCE, data) : NULL;
}

int kp_ovp_playlist_parse(const kp_provider_opts *o, const kp_playlist_info *pi, int retry,
                          const kp_http_outcome *h, json_t **playlist, json_t **error)
{
    if (!o || !pi || !h || !playlist || !error || retry < 0 || retry > KP_OVP_PLAYLIST_MAX_RETRIES)
        return KP_EINVAL;
    *playlist = NULL;
    *error = NULL;
    if (!nonempty(pi->playlist_id)) {
        *error = missing_params();
        return *error ? 0 : KP_ENOMEM;
    }
    kp_prov__answer a;
    int rc = kp_prov__answer_read(h, kp_ovp__service_url(o), "/service/multirequest", &a, error);
    if (rc >= 0 && !*error) {
        if (kp_prov__failed(&a.d, true)) {
            *error = kp_prov__api_error(a.url, a.headers, &a.d);
            rc = *error ? 0 : KP_ENOMEM;
        } else {
            size_t s = *kp_prov__call_ks(o, pi->ks) ? 0 : 1;
            json_t *pl = NULL;
            rc = build_playlist(o, json_array_get(a.d.items, s), json_array_get(a.d.items, s + 1),
                                json_array_get(a.d.items, s + 2), &pl);
            if (rc == KP_EPARSE) {
                *error = kp_prov__mismatch_error(a.headers);
                rc = *error ? 0 : KP_ENOMEM;
            } else if (rc >= 0 && json_array_size(json_object_get(pl, "items")) == 0) {
                json_decref(pl);
                if (retry < KP_OVP_PLAYLIST_MAX_RETRIES) {
                    rc = KP_PROVIDER_RETRY;
                } else {
                    *error = empty_playlist_error(pi);
                    rc = *error ? 0 : KP_ENOMEM;
                }
            } else if (rc >= 0) {
                *playlist = pl;
            }
        }
    }
    kp_prov__answer_free(&a);
    return kp_prov__settle(rc, playlist, error);
}

/* ---- getEntryListConfig --------------------------------------------------------------------- */

static bool entries_ok(const kp_entry_list_info *el)
{
    if (!el->n_entries || !el->entries)
        return false;
    for (size_t i = 0; i < el->n_entries; i++)
        if (!nonempty(el->entries[i].entry_id) && !nonempty(el->entries[i].reference_id))
            return false;
    return true;
}

int kp_ovp_entry_list_request(const kp_provider_opts *o, const kp_entry_list_info *el, char **url,
                              json_t **body, json_t **error)
{
    if (!o || !el || !url || !body || !error)
        return KP_EINVAL;
    *url = NULL;
    *body = NULL;
    *error = NULL;
    if (!entries_ok(el)) {
        *error = missing_params();
        return *error ? KP_EINVAL : KP_ENOMEM;
    }
    const char *ks = kp_prov__call_ks(o, el->ks);
    bool redirect = el->redirect_from_entry_id != 0;
    kp_prov__mr m;
    const char *ks_param = mr_start(&m, o, ks);
    for (size_t i = 0; i < el->n_entries; i++) {
        const kp_entry_ref *e = &el->entries[i];
        json_t *filter =
            nonempty(e->entry_id)
                ? json_pack("{s:s}", redirect ? "redirectFromEntryId" : "idEqual", e->entry_id)
                : json_pack("{s:s, s:s}", "objectType", "KalturaBaseEntryFilter",
                            "referenceIdEqual", e->reference_id);
        kp_prov__mr_add(&m, filter ? json_pack("{s:s, s:s, s:s, s:o, s:{s:i, s:s}}", "service",
                                               "baseEntry", "action", "list", "ks", ks_param,
                                               "filter", filter, "responseProfile", "type", 1,
                                               "fields", kp_ovp__entry_fields)
                                   : NULL);
    }
    return finish_request(o, &m, ks, url, body);
}

/* The entry of one baseEntry.list result, or NULL when it holds none we can use. */
static const json_t *listed_entry(const json_t *list)
{
    if (!json_is_object(list) || !(kp_ovp__number(G(list, "totalCount")) > 0))
        return NULL;
    const json_t *objects = G(list, "objects");
    if (!kp_prov__array_of_objects(objects) || json_array_size(objects) == 0)
        return NULL;
    return json_array_get(objects, 0);
}

/* One entry-list item: the entry of its baseEntry.list, without playback context
 * (kp_prov__item_fn; ud is the kp_ovp__ctx). */
static int list_item(const json_t *list, void *ud, json_t **sources)
{
    const json_t *entry = listed_entry(list);
    return entry ? kp_ovp__entry_sources(ud, entry, sources) : KP_EPARSE;
}

int kp_ovp_entry_list_parse(const kp_provider_opts *o, const kp_entry_list_info *el,
                            const kp_http_outcome *h, json_t **playlist, json_t **error)
{
    if (!o || !el || !h || !playlist || !error)
        return KP_EINVAL;
    *playlist = NULL;
    *error = NULL;
    if (!entries_ok(el)) {
        *error = missing_params();
        return *error ? 0 : KP_ENOMEM;
    }
    kp_ovp__ctx c;
    list_ctx(o, &c);
    size_t first = *kp_prov__call_ks(o, el->ks) ? 0 : 1;
    return kp_prov__entry_list(h, kp_ovp__service_url(o), first, el->n_entries, empty_playlist(),
                               list_item, &c, playlist, error);
}
