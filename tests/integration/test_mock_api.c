/* test_mock_api.c: the mock back-end's API over real HTTP, beyond playback start: parameters as
 * the real front controller takes them (form bodies, query strings, other content types),
 * sessions (user KS, expired KS, user.get), captions and caption files, custom metadata, the
 * bumper, playlists, and the Phoenix (OTT) API with its envelope, error forms, restrictions and
 * playManifest redirect. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http_client.h"
#include "kp/buf.h"
#include "kp/err.h"
#include "kp/jsonu.h"
#include "mbe/mbe.h"

#include <curl/curl.h>
#include <string.h>

static const int hls[] = {MBE_FORMAT_HLS};
static const int hls_mp4[] = {MBE_FORMAT_HLS, MBE_FORMAT_PROGRESSIVE};
static const char *const low[] = {"180p"};

typedef struct fixture {
    mbe_media_cache *media;
    mbe_server *ovp, *ott, *ott_bare;
    json_t *meta;
} fixture;

static const mbe_caption caps[] = {{"en", "English", "vtt", 1}, {"fr", "Français", "srt", 0}};
static const char *const pl_entries[] = {"0_clip0001", "0_bump0001"};
static const mbe_playlist playlists[] = {{"0_plist001", "My list", "two clips", pl_entries, 2}};

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    f->media = mbe_media_cache_new(getenv("KPSIM_CACHE_DIR"), NULL);
    f->meta = json_pack("{s:s, s:s}", "Genre", "Drama & <more>", "Rating", "PG");
    mbe_entry ovp_entries[] = {
        {.id = "0_clip0001",
         .duration = 4,
         .formats = hls,
         .n_formats = 1,
         .renditions = low,
         .n_renditions = 1,
         .captions = caps,
         .n_captions = 2,
         .metadata = f->meta,
         .bumper_entry = "0_bump0001",
         .bumper_click = "http://example.invalid/ad"},
        {.id = "0_bump0001",
         .duration = 2,
         .formats = hls_mp4,
         .n_formats = 2,
         .renditions = low,
         .n_renditions = 1},
    };
    mbe_config c = {.partner_id = 99,
                    .entries = ovp_entries,
                    .n_entries = 2,
                    .playlists = playlists,
                    .n_playlists = 1,
                    .media = f->media};
    assert_int_equal(mbe_server_start(&c, &f->ovp), 0);
    mbe_entry ott_entries[] = {
        {.id = "480097",
         .name = "Asset",
         .duration = 4,
         .formats = hls_mp4,
         .n_formats = 2,
         .renditions = low,
         .n_renditions = 1,
         .metadata = f->meta},
        {.id = "480098",
         .duration = 4,
         .formats = hls,
         .n_formats = 1,
         .renditions = low,
         .n_renditions = 1,
         .block = "ConcurrencyLimitation"},
    };
    mbe_config o = {.kind = MBE_OTT,
                    .partner_id = 198,
                    .entries = ott_entries,
                    .n_entries = 2,
                    .media = f->media};
    assert_int_equal(mbe_server_start(&o, &f->ott), 0);
    o.ott_bare_item_errors = 1;
    assert_int_equal(mbe_server_start(&o, &f->ott_bare), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    mbe_server_stop(f->ovp);
    mbe_server_stop(f->ott);
    mbe_server_stop(f->ott_bare);
    mbe_media_cache_free(f->media);
    json_decref(f->meta);
    free(f);
    return 0;
}

/* POSTs to /api_v3/service/<path> on s; returns the parsed answer. */
static json_t *api(mbe_server *s, const char *path, const char *body, const char *type)
{
    char *url = kp_asprintf("%s/api_v3/service/%s", mbe_server_url(s), path);
    test_reply r;
    test_http(body ? "POST" : "GET", url, body, type, NULL, &r);
    assert_int_equal(r.status, 200);
    json_error_t e;
    json_t *v = json_loadb(r.body.data, r.body.len, 0, &e);
    if (!v)
        fail_msg("%s: not JSON: %s", url, r.body.data);
    test_reply_free(&r);
    free(url);
    return v;
}

static char *session(mbe_server *s)
{
    json_t *a = api(s, "session/action/startWidgetSession", "{\"widgetId\":\"_99\"}", NULL);
    char *ks = kp_strdup(kp_json_str(a, "ks", ""));
    json_decref(a);
    return ks;
}

static void test_parameter_forms(void **state)
{
    fixture *f = *state;
    /* form body with "N:param:sub" keys */
    json_t *a = api(f->ovp, "multirequest",
                    "1:service=session&1:action=startWidgetSession&1:widgetId=_99&"
                    "2:service=baseEntry&2:action=list&2:ks=%7B1%3Aresult%3Aks%7D&"
                    "2:filter:idEqual=0_clip0001",
                    "application/x-www-form-urlencoded");
    assert_string_equal(kp_json_str(a, "1.objects.0.id", ""), "0_clip0001");
    json_decref(a);
    /* query string */
    a = api(f->ovp, "session/action/startWidgetSession?widgetId=_99", NULL, NULL);
    assert_string_equal(kp_json_str(a, "objectType", ""), "KalturaStartWidgetSessionResponse");
    json_decref(a);
    /* a body of another type is not read: the call lacks its parameter */
    a = api(f->ovp, "session/action/startWidgetSession", "{\"widgetId\":\"_99\"}", "text/plain");
    assert_string_equal(kp_json_str(a, "code", ""), "INVALID_WIDGET_ID");
    json_decref(a);
    /* no action */
    a = api(f->ovp, "session", "{}", NULL);
    assert_string_equal(kp_json_str(a, "code", ""), "MISSING_MANDATORY_PARAMETER");
    json_decref(a);
}

/* Canned replies: status, type, body and headers as given (an override's header replaces the
 * mock's own of that name), the newest match wins, a method filter holds, and the journal
 * marks the request as overridden with the calls its body names. */
static void test_overrides(void **state)
{
    fixture *f = *state;
    static const char *const headers[] = {"X-Kaltura-Session: 123", "X-Extra: yes"};
    mbe_override o = {.path = "/api_v3/service/canned/action/thing",
                      .kind = MBE_REPLY_HTTP,
                      .status = 503,
                      .content_type = "text/plain",
                      .headers = headers,
                      .n_headers = 2,
                      .body = "busy",
                      .body_len = 4};
    assert_int_equal(mbe_server_override(f->ovp, &o), 0);
    char *url = kp_asprintf("%s/api_v3/service/canned/action/thing", mbe_server_url(f->ovp));
    test_reply r;
    test_http("POST", url, "{\"1\":{\"service\":\"a\",\"action\":\"b\"}}", NULL, NULL, &r);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body.data, "busy");
    assert_non_null(strcasestr(r.headers.data, "content-type: text/plain"));
    const char *first = strcasestr(r.headers.data, "x-kaltura-session:");
    assert_non_null(first);
    assert_true(kp_str_starts(first + strlen("x-kaltura-session:"), " 123\r\n"));
    assert_null(strcasestr(first + 1, "x-kaltura-session:"));
    assert_non_null(strcasestr(r.headers.data, "x-extra: yes"));
    assert_non_null(strcasestr(r.headers.data, "x-me: kpsim-mock-backend"));
    test_reply_free(&r);
    json_t *want = json_pack("{s:s, s:s}", "service", "a", "action", "b");
    assert_int_equal(mbe_server_count(f->ovp, "api", want), 1);
    json_decref(want);
    json_t *j = mbe_server_journal(f->ovp);
    json_t *last = json_array_get(j, json_array_size(j) - 1);
    assert_true(json_is_true(json_object_get(last, "override")));
    assert_int_equal(kp_json_int(last, "status", 0), 503);
    json_decref(j);
    /* a newer override for GET only: GET gets it, POST still the older one */
    mbe_override g = {.method = "GET",
                      .path = o.path,
                      .kind = MBE_REPLY_HTTP,
                      .status = 200,
                      .content_type = "application/json",
                      .body = "{}",
                      .body_len = 2};
    assert_int_equal(mbe_server_override(f->ovp, &g), 0);
    test_http("GET", url, NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "{}");
    test_reply_free(&r);
    test_http("POST", url, "{}", NULL, NULL, &r);
    assert_int_equal(r.status, 503);
    test_reply_free(&r);
    free(url);
    /* no path: refused */
    mbe_override bad = {.kind = MBE_REPLY_HTTP, .status = 200};
    assert_int_equal(mbe_server_override(f->ovp, &bad), KP_EINVAL);
}

static void test_sessions(void **state)
{
    fixture *f = *state;
    char *user = mbe_server_make_ks(f->ovp, "qa-user", "view:*,edit:*", 3600);
    char *expired = mbe_server_make_ks(f->ovp, "qa-user", NULL, -60);
    char *body = kp_asprintf("{\"ks\":\"%s\"}", user);
    json_t *a = api(f->ovp, "user/action/get", body, NULL);
    assert_string_equal(kp_json_str(a, "id", ""), "qa-user");
    assert_string_equal(kp_json_str(a, "objectType", ""), "KalturaUser");
    json_decref(a);
    free(body);
    body = kp_asprintf("{\"ks\":\"%s\",\"filter\":{\"idEqual\":\"0_clip0001\"}}", expired);
    a = api(f->ovp, "baseEntry/action/list", body, NULL);
    assert_string_equal(kp_json_str(a, "code", ""), "INVALID_KS");
    assert_non_null(strstr(kp_json_str(a, "message", ""), "\"-5,EXPIRED\""));
    json_decref(a);
    free(body);
    /* a widget session has no user */
    char *ks = session(f->ovp);
    body = kp_asprintf("{\"ks\":\"%s\"}", ks);
    a = api(f->ovp, "user/action/get", body, NULL);
    assert_string_equal(kp_json_str(a, "code", ""), "INVALID_USER_ID");
    json_decref(a);
    free(body);
    free(ks);
    free(user);
    free(expired);
}

static void test_captions_metadata_bumper(void **state)
{
    fixture *f = *state;
    char *ks = session(f->ovp);
    char *body = kp_asprintf("{\"ks\":\"%s\",\"entryId\":\"0_clip0001\"}", ks);
    json_t *ctx = api(f->ovp, "baseEntry/action/getPlaybackContext", body, NULL);
    free(body);
    const json_t *caps_out = json_object_get(ctx, "playbackCaptions");
    assert_int_equal(json_array_size(caps_out), 2);
    assert_string_equal(kp_json_str(caps_out, "0.format", ""), "3");
    assert_string_equal(kp_json_str(caps_out, "0.languageCode", ""), "en");
    assert_true(kp_json_bool(caps_out, "0.isDefault", false));
    assert_string_equal(kp_json_str(caps_out, "1.format", ""), "1");
    /* the caption files */
    test_reply r;
    test_http("GET", kp_json_str(caps_out, "0.webVttUrl", ""), NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_true(kp_str_starts(r.body.data, "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nEnglish 1"));
    test_reply_free(&r);
    test_http("GET", kp_json_str(caps_out, "1.url", ""), NULL, NULL, NULL, &r);
    assert_true(kp_str_starts(r.body.data, "1\n00:00:00,000 --> 00:00:02,000\nFran"));
    test_reply_free(&r);
    /* the bumper: the bumper entry and its sources */
    assert_string_equal(kp_json_str(ctx, "bumperData.0.entryId", ""), "0_bump0001");
    assert_string_equal(kp_json_str(ctx, "bumperData.0.url", ""), "http://example.invalid/ad");
    assert_string_equal(kp_json_str(ctx, "bumperData.0.sources.1.format", ""), "url");
    json_decref(ctx);
    /* custom metadata as XML, escaped */
    body = kp_asprintf("{\"ks\":\"%s\",\"filter\":{\"objectIdEqual\":\"0_clip0001\"}}", ks);
    json_t *m = api(f->ovp, "metadata_metadata/action/list", body, NULL);
    assert_int_equal(kp_json_int(m, "totalCount", 0), 1);
    assert_non_null(strstr(kp_json_str(m, "objects.0.xml", ""),
                           "<metadata><Genre>Drama &amp; &lt;more&gt;</Genre><Rating>PG</Rating>"
                           "</metadata>"));
    json_decref(m);
    free(body);
    free(ks);
}

static void test_playlists(void **state)
{
    fixture *f = *state;
    char *ks = session(f->ovp);
    char *body = kp_asprintf("{\"1\":{\"service\":\"playlist\",\"action\":\"get\",\"id\":"
                             "\"0_plist001\",\"responseProfile\":{\"type\":1,\"fields\":\"id,"
                             "name,description,thumbnailUrl\"}},\"2\":{\"service\":\"playlist\","
                             "\"action\":\"execute\",\"id\":\"0_plist001\"},\"3\":{\"service\":"
                             "\"userEntry\",\"action\":\"list\"},\"4\":{\"service\":\"playlist\","
                             "\"action\":\"get\",\"id\":\"0_nope\"},\"ks\":\"%s\"}",
                             ks);
    json_t *a = api(f->ovp, "multirequest", body, NULL);
    assert_string_equal(kp_json_str(a, "0.name", ""), "My list");
    assert_null(kp_json_path(a, "0.playlistType")); /* not in the response profile */
    assert_int_equal(json_array_size(json_array_get(a, 1)), 2);
    assert_string_equal(kp_json_str(a, "1.1.id", ""), "0_bump0001");
    assert_string_equal(kp_json_str(a, "2.objectType", ""), "KalturaUserEntryListResponse");
    assert_string_equal(kp_json_str(a, "3.code", ""), "ENTRY_ID_NOT_FOUND");
    json_decref(a);
    free(body);
    free(ks);
}

static void test_ott_playback(void **state)
{
    fixture *f = *state;
    json_t *a = api(f->ott, "multirequest",
                    "{\"1\":{\"service\":\"ottuser\",\"action\":\"anonymousLogin\",\"partnerId\":"
                    "198},\"2\":{\"service\":\"asset\",\"action\":\"get\",\"id\":480097,"
                    "\"assetReferenceType\":\"media\",\"ks\":\"{1:result:ks}\"},\"3\":{"
                    "\"service\":\"asset\",\"action\":\"getPlaybackContext\",\"assetId\":480097,"
                    "\"assetType\":\"media\",\"contextDataParams\":{\"objectType\":"
                    "\"KalturaPlaybackContextOptions\",\"context\":\"PLAYBACK\"},\"ks\":"
                    "\"{1:result:ks}\"},\"apiVersion\":\"7.8.1\",\"partnerId\":198}",
                    NULL);
    /* the Phoenix envelope */
    assert_non_null(json_object_get(a, "executionTime"));
    assert_string_equal(kp_json_str(a, "result.0.objectType", ""), "KalturaLoginSession");
    assert_int_equal(kp_json_int(a, "result.1.id", 0), 480097);
    assert_string_equal(kp_json_str(a, "result.1.objectType", ""), "KalturaMediaAsset");
    assert_string_equal(kp_json_str(a, "result.1.metas.Rating.value", ""), "PG");
    const json_t *src = kp_json_path(a, "result.2.sources");
    assert_int_equal(json_array_size(src), 2);
    assert_string_equal(kp_json_str(src, "0.format", ""), "applehttp");
    assert_string_equal(kp_json_str(src, "1.format", ""), "url");
    const char *url = kp_json_str(src, "0.url", "");
    assert_non_null(strstr(url, "/api_v3/service/assetFile/action/playManifest/partnerId/198/"
                                "assetId/480097/assetType/media/assetFileId/"));
    assert_true(kp_str_ends(url, "/contextType/PLAYBACK/a.m3u8"));
    /* the playManifest redirects to the media */
    test_reply r;
    test_http("GET", url, NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 302);
    assert_non_null(strstr(r.headers.data, "/format/applehttp/"));
    test_reply_free(&r);
    json_decref(a);
}

static void test_ott_filters_errors_and_blocks(void **state)
{
    fixture *f = *state;
    json_t *login = api(f->ott, "ottuser/action/anonymousLogin", "{\"partnerId\":198}", NULL);
    char *ks = kp_strdup(kp_json_str(login, "result.ks", ""));
    json_decref(login);
    /* streamerType and urlType DIRECT */
    char *body = kp_asprintf("{\"assetId\":\"480097\",\"assetType\":\"media\",\"ks\":\"%s\","
                             "\"contextDataParams\":{\"streamerType\":\"url\",\"urlType\":"
                             "\"DIRECT\",\"context\":\"TRAILER\",\"mediaProtocol\":\"https\"}}",
                             ks);
    json_t *a = api(f->ott, "asset/action/getPlaybackContext", body, NULL);
    assert_int_equal(json_array_size(kp_json_path(a, "result.sources")), 1);
    assert_string_equal(kp_json_str(a, "result.sources.0.protocols", ""), "https");
    assert_non_null(strstr(kp_json_str(a, "result.sources.0.url", ""), "/p/198/sp/19800/"
                                                                       "playManifest/"));
    json_decref(a);
    free(body);
    /* a restriction */
    body = kp_asprintf("{\"assetId\":480098,\"assetType\":\"media\",\"ks\":\"%s\"}", ks);
    a = api(f->ott, "asset/action/getPlaybackContext", body, NULL);
    assert_string_equal(kp_json_str(a, "result.actions.0.type", ""), "BLOCK");
    assert_string_equal(kp_json_str(a, "result.messages.0.code", ""), "ConcurrencyLimitation");
    assert_string_equal(kp_json_str(a, "result.messages.0.message", ""), "Concurrency limitation");
    json_decref(a);
    free(body);
    /* errors: single request form, and both item forms */
    a = api(f->ott, "asset/action/get", "{\"id\":480097,\"ks\":\"garbage\"}", NULL);
    assert_string_equal(kp_json_str(a, "result.error.code", ""), "500015");
    assert_string_equal(kp_json_str(a, "result.error.objectType", ""), "KalturaAPIException");
    json_decref(a);
    const char *multi = "{\"1\":{\"service\":\"asset\",\"action\":\"get\",\"id\":1,\"ks\":\"x\"}}";
    a = api(f->ott, "multirequest", multi, NULL);
    assert_string_equal(kp_json_str(a, "result.0.error.code", ""), "500015");
    json_decref(a);
    a = api(f->ott_bare, "multirequest", multi, NULL);
    assert_string_equal(kp_json_str(a, "result.0.code", ""), "500015");
    json_decref(a);
    /* an expired session */
    char *old = mbe_server_make_ks(f->ott, "", NULL, -1);
    body = kp_asprintf("{\"id\":480097,\"ks\":\"%s\"}", old);
    a = api(f->ott, "asset/action/get", body, NULL);
    assert_string_equal(kp_json_str(a, "result.error.code", ""), "500016");
    json_decref(a);
    free(body);
    free(old);
    free(ks);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parameter_forms),
        cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_sessions),
        cmocka_unit_test(test_captions_metadata_bumper),
        cmocka_unit_test(test_playlists),
        cmocka_unit_test(test_ott_playback),
        cmocka_unit_test(test_ott_filters_errors_and_blocks),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
