/* playlist.c: the playlist manager, after kaltura-player-js PlaylistManager.
 *
 * load_playlist asks the provider for the playlist (OVP getPlaylistConfig with its
 * empty-playlist retries, 10 s of virtual time apart) or for an entry list (OVP or OTT
 * getEntryListConfig). When it arrives: `kaltura-player-playlistloaded`, then the first item is
 * loaded with loadMedia and, once its media config resolves, `kaltura-player-playlistitemchanged
 * {index, entryId}`. On `playbackended` of an item (the manager listens after everyone else):
 * after the last one `kaltura-player-playlistended`; otherwise, with options.autoContinue
 * (default true) and no UI countdown (the reference player has no UI), the next item, with
 * autoplay from the second item on once playback had started. A provider failure is
 * `error` 7002 LOAD_FAILED in category 7 PLAYER.
 *
 * Knowingly different from the real manager (docs/parity.md): it does not first call
 * setMedia() with the item's bare sources before loadMedia(), and the playlistloaded payload is
 * {playlist: {id, metadata, poster, items: [{index, entryId}]}} instead of the manager object.
 */
#include "player_priv.h"

#include "kp/err.h"
#include "kp/jsonu.h"
#include "kp/perror.h"

#include <stdlib.h>
#include <string.h>

static void clear(kp_player *p)
{
    kp_playlist_state *pl = &p->pl;
    if (pl->req)
        kp_net_cancel(p->net, pl->req);
    kp_sched_cancel(p->sched, pl->retry_task);
    json_decref(pl->playlist);
    json_decref(pl->entries);
    json_decref(pl->request);
    memset(pl, 0, sizeof(*pl));
}

void kp__playlist_free(kp_player *p)
{
    clear(p);
}

static size_t n_items(const kp_player *p)
{
    return json_array_size(json_object_get(p->pl.playlist, "items"));
}

static const char *item_entry_id(const kp_player *p, size_t i)
{
    const json_t *entry = json_array_get(p->pl.entries, i);
    const char *id = kp_json_str(entry, "entryId", NULL);
    if (id)
        return id;
    return kp_json_str(json_array_get(json_object_get(p->pl.playlist, "items"), i), "sources.id",
                       NULL);
}

static void play_item(kp_player *p, size_t i)
{
    kp_playlist_state *pl = &p->pl;
    /* from the second item on, autoplay once playback had started */
    p->force_autoplay = i > 0 && p->playback_start_fired;
    pl->index = i;
    pl->item_changed_pending = true;
    json_t *mi = json_deep_copy(json_array_get(pl->entries, i));
    if (!json_is_object(mi)) {
        json_decref(mi);
        mi = json_pack("{s:s}", "entryId", item_entry_id(p, i) ? item_entry_id(p, i) : "");
    }
    kp__player_load(p, mi);
    json_decref(mi);
}

void kp__playlist_media_loaded(kp_player *p)
{
    kp_playlist_state *pl = &p->pl;
    if (!pl->playlist || !pl->item_changed_pending)
        return;
    pl->item_changed_pending = false;
    const char *id = item_entry_id(p, pl->index);
    kp__player_emit(
        p, KP_EV_PLAYLIST_ITEM_CHANGED,
        json_pack("{s:I, s:s}", "index", (json_int_t)pl->index, "entryId", id ? id : ""));
}

void kp__playlist_playback_ended(kp_player *p)
{
    kp_playlist_state *pl = &p->pl;
    if (!pl->playlist)
        return;
    bool loop = kp_json_bool(p->config, "playlist.options.loop", false);
    bool auto_continue = kp_json_bool(p->config, "playlist.options.autoContinue", true);
    size_t next = pl->index + 1;
    if (next >= n_items(p)) {
        kp__player_emit(p, KP_EV_PLAYLIST_ENDED, NULL);
        if (loop && n_items(p))
            play_item(p, 0);
        return;
    }
    if (auto_continue)
        play_item(p, next);
}

static void loaded(kp_player *p, json_t *playlist)
{
    kp_playlist_state *pl = &p->pl;
    pl->playlist = playlist;
    json_t *items = json_array();
    for (size_t i = 0; i < n_items(p); i++) {
        const char *id = item_entry_id(p, i);
        json_array_append_new(
            items, json_pack("{s:I, s:s}", "index", (json_int_t)i, "entryId", id ? id : ""));
    }
    kp__player_emit(
        p, KP_EV_PLAYLIST_LOADED,
        json_pack("{s:{s:O, s:O, s:O, s:o}}", "playlist", "id",
                  json_object_get(playlist, "id") ? json_object_get(playlist, "id") : json_null(),
                  "metadata",
                  json_object_get(playlist, "metadata") ? json_object_get(playlist, "metadata")
                                                        : json_null(),
                  "poster",
                  json_object_get(playlist, "poster") ? json_object_get(playlist, "poster")
                                                      : json_null(),
                  "items", items));
    if (n_items(p))
        play_item(p, 0);
}

static void failed(kp_player *p, json_t *error)
{
    KP_LOG_I(p->log, "playlist", "provider error %lld", kp_json_int(error, "code", 0));
    kp__player_raise_error(p, kp_perror_playlist_failed(error));
    json_decref(error);
}

/* The entry list as the provider takes it (borrowing the strings of pl->entries); NULL on
 * allocation failure. OTT asset ids given as digits go out as numbers. */
static kp_entry_ref *entry_refs(const kp_player *p, kp_entry_list_info *el)
{
    size_t n = json_array_size(p->pl.entries);
    kp_entry_ref *refs = calloc(n ? n : 1, sizeof(*refs));
    *el = (kp_entry_list_info){.entries = refs, .n_entries = n, .redirect_from_entry_id = -1};
    for (size_t i = 0; refs && i < n; i++) {
        const json_t *e = json_array_get(p->pl.entries, i);
        const char *id = kp_json_str(e, "entryId", NULL);
        refs[i] = (kp_entry_ref){
            .entry_id = id,
            .reference_id = kp_json_str(e, "referenceId", NULL),
            .asset_reference_type = kp_json_str(e, "assetReferenceType", NULL),
            .entry_id_is_number = p->provider_kind == KP_PROVIDER_OTT && id && *id &&
                                  id[strspn(id, "0123456789")] == '\0',
        };
    }
    return refs;
}

/* The provider's entry-list call: its request (h NULL: fills url and body) or the reading of
 * its answer h (fills playlist or error). */
static int entry_list_call(kp_player *p, const kp_http_outcome *h, char **url, json_t **body,
                           json_t **playlist, json_t **error)
{
    kp_entry_list_info el;
    kp_entry_ref *refs = entry_refs(p, &el);
    if (!refs)
        return KP_ENOMEM;
    bool ott = p->provider_kind == KP_PROVIDER_OTT;
    int rc;
    if (h)
        rc = ott ? kp_ott_entry_list_parse(&p->popts, &el, h, playlist, error)
                 : kp_ovp_entry_list_parse(&p->popts, &el, h, playlist, error);
    else
        rc = ott ? kp_ott_entry_list_request(&p->popts, &el, url, body, error)
                 : kp_ovp_entry_list_request(&p->popts, &el, url, body, error);
    free(refs);
    return rc;
}

static kp_playlist_info playlist_info(const kp_playlist_state *pl)
{
    return (kp_playlist_info){.playlist_id = kp_json_str(pl->request, "playlistId", NULL),
                              .ks = kp_json_str(pl->request, "ks", NULL)};
}

static void send_playlist_request(kp_player *p);

static void retry_playlist(void *ud)
{
    kp_player *p = ud;
    p->pl.retry_task = 0;
    send_playlist_request(p);
}

static void on_playlist(void *ud, const kp_http_response *r)
{
    kp_player *p = ud;
    kp_playlist_state *pl = &p->pl;
    pl->req = 0;
    kp_http_outcome h;
    kp__player_outcome(r, &h);
    json_t *playlist = NULL, *error = NULL;
    int rc;
    if (pl->entries) {
        rc = entry_list_call(p, &h, NULL, NULL, &playlist, &error);
    } else {
        kp_playlist_info pi = playlist_info(pl);
        rc = kp_ovp_playlist_parse(&p->popts, &pi, pl->retry, &h, &playlist, &error);
        if (rc == KP_PROVIDER_RETRY) {
            /* an empty playlist (indexing lag): ask again, 10 s later */
            pl->retry++;
            pl->retry_task = kp_sched_after(p->sched, KP_MS(KP_OVP_PLAYLIST_RETRY_INTERVAL_MS),
                                            retry_playlist, p);
            return;
        }
    }
    if (rc < 0)
        error = kp_perror_new(KP_SEVERITY_CRITICAL, KP_PROVCAT_PROVIDER, KP_PROVCODE_ERROR, NULL);
    if (error) {
        json_decref(playlist);
        failed(p, error);
        return;
    }
    loaded(p, playlist);
}

static void send_playlist_request(kp_player *p)
{
    kp_playlist_state *pl = &p->pl;
    char *url = NULL;
    json_t *body = NULL, *error = NULL;
    int rc;
    if (pl->entries) {
        rc = entry_list_call(p, NULL, &url, &body, NULL, &error);
    } else {
        kp_playlist_info pi = playlist_info(pl);
        rc = p->provider_kind == KP_PROVIDER_OTT
                 ? kp_ott_playlist_request(&p->popts, &pi, &url, &body, &error)
                 : kp_ovp_playlist_request(&p->popts, &pi, pl->retry, &url, &body, &error);
    }
    if (rc != KP_OK) {
        free(url);
        json_decref(body);
        failed(p, error ? error
                        : kp_perror_new(KP_SEVERITY_CRITICAL, KP_PROVCAT_PROVIDER,
                                        KP_PROVCODE_MISSING_MANDATORY_PARAMS, NULL));
        return;
    }
    pl->req = kp__player_post(p, url, body, on_playlist);
    if (!pl->req)
        failed(p, kp_perror_new(KP_SEVERITY_CRITICAL, KP_PROVCAT_NETWORK, KP_PROVCODE_HTTP_ERROR,
                                json_pack("{s:s}", "url", url)));
    free(url);
    json_decref(body);
}

int kp_player_load_playlist(kp_player *p, const json_t *info)
{
    const json_t *entries = json_object_get(info, "entries");
    if (!json_is_object(info) ||
        (!kp_json_str(info, "playlistId", NULL) && !json_is_array(entries)))
        return KP_EINVAL;
    clear(p);
    p->pl.request = json_deep_copy(info);
    if (json_is_array(entries)) {
        p->pl.entries = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(entries, i, e)
        {
            /* an entry is a mediaInfo object or just its id */
            json_array_append_new(p->pl.entries, json_is_string(e)
                                                     ? json_pack("{s:O}", "entryId", e)
                                                     : json_deep_copy(e));
        }
    }
    send_playlist_request(p);
    return KP_OK;
}
