/* api.c: the OVP services the reference player and the real provider call, answered from
 * the configured entries, with the real server's object shapes and error strings
 * (reference/kaltura-provider.md §1.3, §1.6, §1.7). */
#include "ks.h"
#include "mbe_internal.h"

#include "kp/buf.h"
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

static json_t *base_entry_list(mbe_server *s, const json_t *params)
{
    json_t *err = check_ks(s, params);
    if (err)
        return err;
    const json_t *filter = json_object_get(params, "filter");
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
        json_array_append_new(objects, entry_object(s, e));
    } else if (id_equal) {
        const mbe_ientry *e = mbe_find_entry(s, id_equal);
        if (e)
            json_array_append_new(objects, entry_object(s, e));
    } else if (ref_equal) {
        for (size_t i = 0; i < s->n_entries; i++)
            if (s->entries[i].reference_id && strcmp(s->entries[i].reference_id, ref_equal) == 0)
                json_array_append_new(objects, entry_object(s, &s->entries[i]));
    } else {
        for (size_t i = 0; i < s->n_entries; i++)
            if (strcmp(s->entries[i].status, "deleted") != 0)
                json_array_append_new(objects, entry_object(s, &s->entries[i]));
    }
    const json_t *profile = json_object_get(params, "responseProfile");
    size_t i;
    json_t *o;
    json_array_foreach(objects, i, o)
    {
        apply_profile(o, profile);
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
    json_t *sources = json_array(), *flavors = json_array();
    json_t *actions = json_array(), *messages = json_array();
    if (e->block) {
        /* constructPlaybackContextResult returns early: no sources, flavors or captions */
        json_array_append_new(actions, json_pack("{s:i, s:s}", "type", 1, "objectType",
                                                 "KalturaAccessControlBlockAction"));
        json_array_append_new(messages, json_pack("{s:s, s:s, s:s}", "message",
                                                  restriction_message(e->block), "code", e->block,
                                                  "objectType", "KalturaAccessControlMessage"));
    } else if (strcmp(e->status, "ready") == 0) {
        char *base = base_path(s);
        kp_buf ids;
        kp_buf_init(&ids);
        for (size_t i = 0; i < e->n_flavors; i++)
            kp_buf_printf(&ids, "%s%s", i ? "," : "", e->flavors[i].id);
        for (size_t f = 0; f < e->n_formats; f++) {
            for (size_t k = 0; k < sizeof(source_formats) / sizeof(source_formats[0]); k++) {
                if (source_formats[k].format != e->formats[f])
                    continue;
                char *url = kp_asprintf(
                    "%s/playManifest/entryId/%s/flavorIds/%s/deliveryProfileId/%d/protocol/http/"
                    "format/%s/a.%s",
                    base, e->id, ids.data, source_formats[k].delivery_profile,
                    source_formats[k].name, source_formats[k].ext);
                json_array_append_new(
                    sources,
                    json_pack("{s:i, s:s, s:i, s:s, s:s, s:s, s:[], s:s}", "deliveryProfileId",
                              source_formats[k].delivery_profile, "format", source_formats[k].name,
                              "priority", 0, "protocols", "http,https", "flavorIds", ids.data,
                              "url", url ? url : "", "drm", "objectType", "KalturaPlaybackSource"));
                free(url);
            }
        }
        long long created = s->epoch - 86400;
        for (size_t i = 0; i < e->n_flavors; i++) {
            const mbe_flavor *fl = &e->flavors[i];
            json_array_append_new(
                flavors,
                json_pack("{s:s, s:i, s:i, s:i, s:i, s:f, s:b, s:b, s:s, s:s, s:i, s:s, s:s,"
                          " s:s, s:s, s:I, s:s, s:I, s:I, s:s}",
                          "id", fl->id, "flavorParamsId", fl->r.height, "width", fl->r.width,
                          "height", fl->r.height, "bitrate", fl->bitrate_kbps, "frameRate", 25.0,
                          "isOriginal", 0, "isWeb", 1, "containerFormat", "mpeg-4", "videoCodecId",
                          "avc1", "status", 2, "language", "Undefined", "fileExt", "mp4", "tags",
                          "mobile,web,mbr,iphone,ipad", "entryId", e->id, "partnerId",
                          (json_int_t)s->partner_id, "version", "1", "createdAt",
                          (json_int_t)created, "updatedAt", (json_int_t)created, "objectType",
                          "KalturaFlavorAsset"));
        }
        kp_buf_free(&ids);
        free(base);
    }
    /* import / preconvert: the context is empty, as the real server answers */
    return json_pack("{s:o, s:[], s:o, s:o, s:o, s:[], s:s}", "sources", sources,
                     "playbackCaptions", "flavorAssets", flavors, "actions", actions, "messages",
                     messages, "bumperData", "objectType", "KalturaPlaybackContext");
}

static json_t *metadata_list(mbe_server *s, const json_t *params)
{
    json_t *err = check_ks(s, params);
    if (err)
        return err;
    return json_pack("{s:[], s:i, s:s}", "objects", "totalCount", 0, "objectType",
                     "KalturaMetadataListResponse");
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
    static const char *const services[] = {"session", "baseEntry", "metadata_metadata"};
    for (size_t i = 0; i < 3; i++)
        if (strcmp(service, services[i]) == 0)
            return mbe_exception("ACTION_DOES_NOT_EXISTS",
                                 json_pack("{s:s, s:s}", "ACTION", action, "SERVICE", service),
                                 "Action \"%s\" does not exists for service \"%s\"", action,
                                 service);
    return mbe_exception("SERVICE_DOES_NOT_EXISTS", json_pack("{s:s}", "SERVICE", service),
                         "Service \"%s\" does not exists", service);
}
