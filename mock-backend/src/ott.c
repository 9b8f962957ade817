/* ott.c: the Phoenix (OTT) API of the mock back-end: ottuser.anonymousLogin, asset.get and
 * asset.getPlaybackContext (reference/kaltura-provider.md §4), answered from the configured
 * entries seen as media assets, and the assetFile playManifest that redirects to the media.
 *
 * Shapes follow the real responses of the provider's fixtures (KalturaLoginSession,
 * KalturaMediaAsset with metas/tags/images, KalturaPlaybackContext with sources, actions,
 * messages, plugins). Phoenix error codes are strings of digits; the ones used here:
 * 500015 "Invalid KS format" and 500016 "KS expired" (as the Android provider names them),
 * and 500007 "Asset does not exist" / 500006 "Invalid partner" (not verified against a real
 * Phoenix: documented in docs/scenarios.md).
 */
#include "ks.h"
#include "mbe_internal.h"

#include "kp/buf.h"
#include "kp/jsonu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *ott_error(const char *code, const char *message)
{
    return json_pack("{s:s, s:s, s:s}", "objectType", "KalturaAPIException", "code", code,
                     "message", message);
}

static json_t *ott_check_ks(const mbe_server *s, const json_t *params)
{
    const char *ks = kp_json_str(params, "ks", "");
    int rc = mbe_ks_check(ks, s->partner_id, s->secret, s->epoch);
    if (rc == MBE_KS_OK)
        return NULL;
    if (rc == MBE_KS_EXPIRED)
        return ott_error("500016", "KS expired");
    return ott_error("500015", "Invalid KS format");
}

static const struct {
    int format;
    const char *name, *ext, *file_type;
} ott_formats[] = {
    {MBE_FORMAT_HLS, "applehttp", "m3u8", "Web_HD"},
    {MBE_FORMAT_DASH, "mpegdash", "mpd", "Web_HD_Dash"},
    {MBE_FORMAT_PROGRESSIVE, "url", "mp4", "Web_HD_MP4"},
};

static int format_slot(int format)
{
    for (int k = 0; k < 3; k++)
        if (ott_formats[k].format == format)
            return k;
    return -1;
}

/* The media behind an asset file: the OVP-style playManifest the CDN serves. */
static char *direct_url(const mbe_server *s, const mbe_ientry *e, int slot)
{
    kp_buf ids;
    kp_buf_init(&ids);
    for (size_t i = 0; i < e->n_flavors; i++)
        kp_buf_printf(&ids, "%s%s", i ? "," : "", e->flavors[i].id);
    char *u = kp_asprintf("%s/p/%lld/sp/%lld00/playManifest/entryId/%s/protocol/http/format/%s/"
                          "flavorIds/%s/a.%s",
                          s->url, s->partner_id, s->partner_id, e->id, ott_formats[slot].name,
                          ids.data ? ids.data : "", ott_formats[slot].ext);
    kp_buf_free(&ids);
    return u;
}

static json_t *login(mbe_server *s, const json_t *params)
{
    long long pid = kp_json_int(params, "partnerId", s->partner_id);
    if (pid != s->partner_id)
        return ott_error("500006", "Invalid partner");
    char *ks = mbe_server_make_ks(s, "", "view:*", 86400);
    char token[33];
    snprintf(token, sizeof(token), "%016llx%016llx", (unsigned long long)s->epoch,
             (unsigned long long)s->partner_id);
    json_t *r = json_pack("{s:s, s:s, s:s}", "ks", ks ? ks : "", "refreshToken", token,
                          "objectType", "KalturaLoginSession");
    free(ks);
    return r;
}

static const mbe_ientry *asset_of(const mbe_server *s, const json_t *v)
{
    char id[64];
    if (json_is_integer(v))
        snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(v));
    else if (json_is_string(v))
        snprintf(id, sizeof(id), "%s", json_string_value(v));
    else
        return NULL;
    return mbe_find_entry(s, id);
}

static json_t *asset_object(const mbe_server *s, const mbe_ientry *e)
{
    long long id = strtoll(e->id, NULL, 10);
    char *thumb = kp_asprintf("%s/p/%lld/sp/%lld00/thumbnail/entry_id/%s/version/1/width/640/"
                              "height/360",
                              s->url, s->partner_id, s->partner_id, e->id);
    json_t *images = json_pack("[{s:s, s:i, s:i, s:s, s:i, s:s, s:b, s:s}]", "ratio", "16:9",
                               "width", 640, "height", 360, "url", thumb ? thumb : "", "version", 1,
                               "id", e->id, "isDefault", 1, "objectType", "KalturaMediaImage");
    free(thumb);
    json_t *metas = json_object();
    char runtime[32];
    snprintf(runtime, sizeof(runtime), "%.0f", e->duration);
    json_object_set_new(
        metas, "Runtime",
        json_pack("{s:s, s:s}", "value", runtime, "objectType", "KalturaMultilingualStringValue"));
    const char *k;
    json_t *v;
    json_object_foreach(e->metadata, k, v)
    {
        json_object_set_new(metas, k,
                            json_pack("{s:s, s:s}", "value",
                                      json_is_string(v) ? json_string_value(v) : "", "objectType",
                                      "KalturaMultilingualStringValue"));
    }
    json_t *tags = json_pack("{s:{s:[{s:s, s:s}], s:s}}", "Genre", "objects", "value", "Test",
                             "objectType", "KalturaMultilingualStringValue", "objectType",
                             "KalturaMultilingualStringValueArray");
    long long t = s->epoch - 86400;
    json_t *files = json_array();
    for (size_t f = 0; f < e->n_formats; f++) {
        int slot = format_slot(e->formats[f]);
        char *u = direct_url(s, e, slot);
        json_array_append_new(
            files, json_pack("{s:I, s:I, s:s, s:s, s:I, s:s}", "assetId", (json_int_t)id, "id",
                             (json_int_t)(e->ott_file_base + slot), "type",
                             ott_formats[slot].file_type, "url", u ? u : "", "duration",
                             (json_int_t)(e->duration + 0.5), "objectType", "KalturaMediaFile"));
        free(u);
    }
    return json_pack("{s:I, s:i, s:s, s:s, s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:b, s:b, s:b,"
                     " s:s, s:s}",
                     "id", (json_int_t)id, "type", 420, "name", e->name, "description", "",
                     "images", images, "mediaFiles", files, "metas", metas, "tags", tags,
                     "startDate", (json_int_t)t, "endDate", (json_int_t)(s->epoch + 31536000),
                     "createDate", (json_int_t)t, "enableCatchUp", 0, "enableStartOver", 0,
                     "enableTrickPlay", 0, "externalId", e->id, "objectType", "KalturaMediaAsset");
}

static json_t *asset_get(mbe_server *s, const json_t *params)
{
    json_t *err = ott_check_ks(s, params);
    if (err)
        return err;
    const mbe_ientry *e = asset_of(s, json_object_get(params, "id"));
    if (!e || strcmp(e->status, "deleted") == 0)
        return ott_error("500007", "Asset does not exist");
    return asset_object(s, e);
}

/* A Phoenix restriction message: the code and a human text. */
static const char *ott_message(const char *code)
{
    static const struct {
        const char *code, *msg;
    } table[] = {
        {"ConcurrencyLimitation", "Concurrency limitation"},
        {"MediaConcurrencyLimitation", "Media concurrency limitation"},
        {"NotEntitled", "Not entitled"},
        {"ServiceNotAllowed", "Service not allowed"},
        {"DeviceTypeNotAllowed", "Device type not allowed"},
        {"NoFilesFound", "No files found"},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (strcmp(table[i].code, code) == 0)
            return table[i].msg;
    return code;
}

static bool listed(const char *csv, long long v)
{
    if (!csv || !*csv)
        return true;
    char want[32];
    snprintf(want, sizeof(want), "%lld", v);
    char *copy = kp_strdup(csv), *save = NULL;
    bool hit = false;
    for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t && !hit;
         t = strtok_r(NULL, ",", &save))
        hit = strcmp(t, want) == 0;
    free(copy);
    return hit;
}

static json_t *playback_context(mbe_server *s, const json_t *params)
{
    json_t *err = ott_check_ks(s, params);
    if (err)
        return err;
    const mbe_ientry *e = asset_of(s, json_object_get(params, "assetId"));
    if (!e || strcmp(e->status, "deleted") == 0)
        return ott_error("500007", "Asset does not exist");
    const char *type = kp_json_str(params, "assetType", "media");
    const json_t *ctx = json_object_get(params, "contextDataParams");
    const char *context = kp_json_str(ctx, "context", "PLAYBACK");
    const char *file_ids = kp_json_str(ctx, "assetFileIds", NULL);
    const char *streamer = kp_json_str(ctx, "streamerType", NULL);
    const char *url_type = kp_json_str(ctx, "urlType", "PLAYMANIFEST");
    /* the sources' protocols are the one asked for (the URLs stay on the loopback's http) */
    const char *protocol = kp_json_str(ctx, "mediaProtocol", NULL);
    const char *protocols =
        protocol && (strcmp(protocol, "http") == 0 || strcmp(protocol, "https") == 0)
            ? protocol
            : "http,https";
    json_t *sources = json_array(), *actions = json_array(), *messages = json_array();
    json_t *plugins = json_array();
    if (e->block) {
        json_array_append_new(actions, json_pack("{s:s, s:s}", "type", "BLOCK", "objectType",
                                                 "KalturaAccessControlBlockAction"));
        json_array_append_new(messages, json_pack("{s:s, s:s, s:s}", "code", e->block, "message",
                                                  ott_message(e->block), "objectType",
                                                  "KalturaAccessControlMessage"));
    } else if (strcmp(e->status, "ready") != 0 || !e->media) {
        json_array_append_new(messages, json_pack("{s:s, s:s, s:s}", "code", "NoFilesFound",
                                                  "message", ott_message("NoFilesFound"),
                                                  "objectType", "KalturaAccessControlMessage"));
    } else {
        long long id = strtoll(e->id, NULL, 10);
        for (size_t f = 0; f < e->n_formats; f++) {
            int slot = format_slot(e->formats[f]);
            long long fid = e->ott_file_base + slot;
            if (!listed(file_ids, fid) || (streamer && strcmp(streamer, ott_formats[slot].name)))
                continue;
            char *u = strcmp(url_type, "DIRECT") == 0
                          ? direct_url(s, e, slot)
                          : kp_asprintf("%s/api_v3/service/assetFile/action/playManifest/"
                                        "partnerId/%lld/assetId/%lld/assetType/%s/assetFileId/"
                                        "%lld/contextType/%s/a.%s",
                                        s->url, s->partner_id, id, type, fid, context,
                                        ott_formats[slot].ext);
            json_array_append_new(
                sources,
                json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:I, s:s, s:[], s:s}", "format",
                          ott_formats[slot].name, "protocols", protocols, "assetId", (json_int_t)id,
                          "id", (json_int_t)fid, "type", ott_formats[slot].file_type, "url",
                          u ? u : "", "duration", (json_int_t)(e->duration + 0.5), "externalId",
                          e->id, "drm", "objectType", "KalturaPlaybackSource"));
            free(u);
        }
        json_array_append_new(messages, json_pack("{s:s, s:s, s:s}", "code", "OK", "message", "OK",
                                                  "objectType", "KalturaAccessControlMessage"));
        const mbe_ientry *b = e->bumper_entry ? mbe_find_entry(s, e->bumper_entry) : NULL;
        int pslot = format_slot(MBE_FORMAT_PROGRESSIVE);
        if (b && b->media) {
            char *u = direct_url(s, b, pslot);
            json_array_append_new(plugins,
                                  json_pack("{s:s, s:s, s:s}", "objectType",
                                            "KalturaBumpersPlaybackPluginData", "streamertype",
                                            "progressive", "url", u ? u : ""));
            free(u);
        }
    }
    return json_pack("{s:o, s:o, s:o, s:o, s:[], s:s}", "sources", sources, "actions", actions,
                     "messages", messages, "plugins", plugins, "playbackCaptions", "objectType",
                     "KalturaPlaybackContext");
}

json_t *mbe_ott_call(mbe_server *s, const char *service, const char *action, json_t *params)
{
    if (strcmp(service, "ottuser") == 0 && strcmp(action, "anonymousLogin") == 0)
        return login(s, params);
    if (strcmp(service, "asset") == 0 && strcmp(action, "get") == 0)
        return asset_get(s, params);
    if (strcmp(service, "asset") == 0 && strcmp(action, "getPlaybackContext") == 0)
        return playback_context(s, params);
    KP_LOG_W(s->log, "mbe", "no Phoenix call %s.%s here: answered as the real API does", service,
             action);
    char msg[160];
    snprintf(msg, sizeof(msg), "Service %s.%s does not exist", service, action);
    return ott_error("500013", msg);
}

void mbe_ott_play_manifest(mbe_server *s, const char *path, mbe_reply *r, json_t *rec)
{
    const char *a = strstr(path, "/assetId/");
    const char *f = strstr(path, "/assetFileId/");
    char id[32] = "";
    if (a)
        snprintf(id, sizeof(id), "%.*s", (int)strcspn(a + 9, "/"), a + 9);
    long long fid = f ? strtoll(f + 13, NULL, 10) : -1;
    const mbe_ientry *e = mbe_find_entry(s, id);
    int slot = e ? (int)(fid - e->ott_file_base) : -1;
    bool offered = false;
    for (size_t i = 0; e && i < e->n_formats; i++)
        offered = offered || format_slot(e->formats[i]) == slot;
    json_object_set_new(rec, "kind", json_string("ott-playmanifest"));
    if (!e || !offered || !e->media || e->block) {
        r->status = 404;
        r->content_type = "text/plain";
        r->body = kp_strdup("404 Not Found: no such asset file\n");
        r->len = r->body ? strlen(r->body) : 0;
        return;
    }
    json_object_set_new(rec, "entryId", json_string(e->id));
    r->status = 302;
    r->content_type = "text/plain";
    r->location = direct_url(s, e, slot);
    r->body = kp_strdup("");
    r->len = 0;
}
