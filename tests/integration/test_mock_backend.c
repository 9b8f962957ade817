/* test_mock_backend.c: the mock back-end over real HTTP on 127.0.0.1: the multirequest the
 * provider sends, KS issue and checks, API errors inside HTTP 200, entry statuses and access
 * control, playManifest → master → media playlist → segments that demux, 404s, the journal,
 * and the reference provider turning the answers into a media config. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "demux.h"
#include "http_client.h"
#include "kp/buf.h"
#include "kp/codec.h"
#include "kp/jsonu.h"
#include "kp/provider.h"
#include "m3u8.h"
#include "mbe/mbe.h"
#include "mock_server.h"

#include <curl/curl.h>
#include <string.h>

typedef test_mock fixture;

static const int hls_only[] = {MBE_FORMAT_HLS};
static const int all_formats[] = {MBE_FORMAT_HLS, MBE_FORMAT_DASH, MBE_FORMAT_PROGRESSIVE};
static const char *const ladder[] = {"360p", "180p"};
static const char *const low[] = {"180p"};

static int setup(void **state)
{
    const mbe_entry entries[] = {
        {.id = "0_ready001",
         .name = "Ready",
         .reference_id = "ref-1",
         .duration = 6,
         .formats = all_formats,
         .n_formats = 3,
         .renditions = ladder,
         .n_renditions = 2},
        {.id = "0_import01",
         .duration = 4,
         .formats = hls_only,
         .n_formats = 1,
         .renditions = low,
         .n_renditions = 1,
         .status = "import"},
        {.id = "0_deleted1",
         .duration = 4,
         .formats = hls_only,
         .n_formats = 1,
         .renditions = low,
         .n_renditions = 1,
         .status = "deleted"},
        {.id = "0_blocked1",
         .duration = 4,
         .formats = hls_only,
         .n_formats = 1,
         .renditions = low,
         .n_renditions = 1,
         .block = "COUNTRY_RESTRICTED"},
    };
    mbe_config cfg = {.partner_id = 4242, .entries = entries, .n_entries = 4};
    *state = test_mock_new(&cfg);
    return 0;
}

static int teardown(void **state)
{
    test_mock_free(*state);
    return 0;
}

/* POSTs the provider's own getMediaConfig multirequest; returns the parsed answer. */
static json_t *media_request(fixture *f, const char *entry, const char *ks, test_reply *r)
{
    kp_provider_opts o;
    kp_provider_opts_init(&o);
    o.service_url = f->service;
    o.cdn_url = mbe_server_url(f->srv);
    o.partner_id = 4242;
    o.ks = ks;
    kp_media_info mi = {.entry_id = entry, .redirect_from_entry_id = -1};
    char *url = NULL;
    json_t *body = NULL, *err = NULL;
    assert_int_equal(kp_ovp_media_request(&o, &mi, &url, &body, &err), 0);
    char *text = json_dumps(body, JSON_COMPACT);
    test_http("POST", url, text, NULL, NULL, r);
    assert_int_equal(r->status, 200); /* API errors travel inside HTTP 200 */
    json_error_t e;
    json_t *answer = json_loadb(r->body.data, r->body.len, 0, &e);
    assert_non_null(answer);
    free(text);
    free(url);
    json_decref(body);
    return answer;
}

static void test_loopback_only(void **state)
{
    fixture *f = *state;
    assert_true(kp_str_starts(mbe_server_url(f->srv), "http://127.0.0.1:"));
    assert_true(mbe_server_port(f->srv) > 0);
}

static void test_anonymous_media_request(void **state)
{
    fixture *f = *state;
    test_reply r;
    json_t *a = media_request(f, "0_ready001", NULL, &r);
    assert_true(json_is_array(a));
    assert_int_equal(json_array_size(a), 4);
    /* a widget session: a v1 KS "<sha1 hex>|4242;4242;expiry;0;rand;0;view:*,widget:1;;" */
    const char *ks = kp_json_str(a, "0.ks", "");
    unsigned char raw[512];
    int n = kp_base64_decode(ks, raw, sizeof(raw) - 1);
    assert_true(n > 41);
    raw[n] = '\0';
    assert_int_equal(strchr((char *)raw, '|') - (char *)raw, 40);
    assert_true(kp_str_starts(strchr((char *)raw, '|'), "|4242;4242;"));
    assert_non_null(strstr((char *)raw, ";view:*,widget:1;;"));
    assert_string_equal(kp_json_str(a, "0.objectType", ""), "KalturaStartWidgetSessionResponse");
    /* the list honours the response profile: only the listed fields */
    const json_t *entry = kp_json_path(a, "1.objects.0");
    assert_string_equal(kp_json_str(entry, "id", ""), "0_ready001");
    assert_int_equal(kp_json_int(entry, "duration", 0), 6);
    assert_int_equal(kp_json_int(entry, "status", -1), 2);
    assert_null(json_object_get(entry, "partnerId")); /* not in the profile */
    assert_int_equal(kp_json_int(a, "1.totalCount", 0), 1);
    /* the playback context: one source per format, in order, and the flavors */
    const json_t *ctx = json_array_get(a, 2);
    assert_string_equal(kp_json_str(ctx, "objectType", ""), "KalturaPlaybackContext");
    assert_int_equal(json_array_size(json_object_get(ctx, "sources")), 3);
    assert_string_equal(kp_json_str(ctx, "sources.0.format", ""), "applehttp");
    assert_string_equal(kp_json_str(ctx, "sources.1.format", ""), "mpegdash");
    assert_string_equal(kp_json_str(ctx, "sources.2.format", ""), "url");
    assert_int_equal(json_array_size(json_object_get(ctx, "flavorAssets")), 2);
    assert_int_equal(kp_json_int(ctx, "flavorAssets.0.height", 0), 360);
    assert_string_equal(kp_json_str(a, "3.objectType", ""), "KalturaMetadataListResponse");
    /* response headers the provider keeps for errors */
    assert_non_null(strstr(r.headers.data, "X-Kaltura-Session: "));
    assert_non_null(strstr(r.headers.data, "Access-Control-Allow-Origin: *"));
    json_decref(a);
    test_reply_free(&r);
    /* the journal saw one API request with four calls */
    json_t *m = json_pack("{s:s, s:s}", "service", "baseEntry", "action", "getPlaybackContext");
    assert_int_equal(mbe_server_count(f->srv, "api", m), 1);
    json_decref(m);
}

static void test_provider_reads_the_answer(void **state)
{
    fixture *f = *state;
    test_reply r;
    json_t *a = media_request(f, "0_ready001", NULL, &r);
    json_decref(a);
    kp_provider_opts o;
    kp_provider_opts_init(&o);
    o.service_url = f->service;
    o.cdn_url = mbe_server_url(f->srv);
    o.partner_id = 4242;
    kp_media_info mi = {.entry_id = "0_ready001", .redirect_from_entry_id = -1};
    kp_http_outcome h = {.status = 200, .body = r.body.data, .body_len = r.body.len};
    json_t *config = NULL, *error = NULL;
    assert_int_equal(kp_ovp_media_parse(&o, &mi, &h, &config, &error), 0);
    assert_null(error);
    assert_non_null(config);
    assert_string_equal(kp_json_str(config, "sources.type", ""), "Vod");
    assert_int_equal(kp_json_int(config, "sources.duration", 0), 6);
    const char *hls = kp_json_str(config, "sources.hls.0.url", "");
    char *want = kp_asprintf("%s/p/4242/sp/424200/playManifest/entryId/0_ready001/protocol/http/"
                             "format/applehttp/flavorIds/",
                             mbe_server_url(f->srv));
    assert_true(kp_str_starts(hls, want));
    assert_int_equal(json_array_size(kp_json_path(config, "sources.progressive")), 2);
    free(want);
    json_decref(config);
    test_reply_free(&r);
}

static void test_unknown_entry(void **state)
{
    fixture *f = *state;
    test_reply r;
    json_t *a = media_request(f, "0_nothere", NULL, &r);
    assert_string_equal(kp_json_str(a, "1.code", ""), "INVALID_ENTRY_ID");
    assert_string_equal(kp_json_str(a, "1.message", ""), "Invalid entry id [\"0_nothere\"]");
    assert_string_equal(kp_json_str(a, "1.objectType", ""), "KalturaAPIException");
    /* the reference to a failed request resolves to "" */
    assert_string_equal(kp_json_str(a, "2.code", ""), "ENTRY_ID_NOT_FOUND");
    assert_string_equal(kp_json_str(a, "2.message", ""), "Entry id \"\" not found");
    assert_int_equal(kp_json_int(a, "3.totalCount", -1), 0);
    json_decref(a);
    test_reply_free(&r);
}

static void test_statuses_and_access(void **state)
{
    fixture *f = *state;
    test_reply r;
    json_t *a = media_request(f, "0_import01", NULL, &r);
    assert_int_equal(kp_json_int(a, "1.objects.0.status", -1), 0);
    assert_int_equal(json_array_size(kp_json_path(a, "2.sources")), 0);
    json_decref(a);
    test_reply_free(&r);
    a = media_request(f, "0_deleted1", NULL, &r);
    assert_int_equal(kp_json_int(a, "1.objects.0.status", -1), 3);
    assert_string_equal(kp_json_str(a, "2.code", ""), "ENTRY_ID_NOT_FOUND");
    json_decref(a);
    test_reply_free(&r);
    a = media_request(f, "0_blocked1", NULL, &r);
    assert_int_equal(kp_json_int(a, "2.actions.0.type", 0), 1);
    assert_string_equal(kp_json_str(a, "2.messages.0.code", ""), "COUNTRY_RESTRICTED");
    assert_true(kp_str_starts(kp_json_str(a, "2.messages.0.message", ""), "Un authorized country"));
    assert_int_equal(json_array_size(kp_json_path(a, "2.sources")), 0);
    json_decref(a);
    test_reply_free(&r);
}

static void test_bad_ks_and_bad_requests(void **state)
{
    fixture *f = *state;
    test_reply r;
    json_t *a = media_request(f, "0_ready001", "bm90IGEga3M=", &r);
    assert_string_equal(kp_json_str(a, "0.code", ""), "INVALID_KS");
    assert_string_equal(kp_json_str(a, "0.message", ""),
                        "Invalid KS \"bm90IGEga3M=\", Error \"-1,INVALID_STR\"");
    json_decref(a);
    test_reply_free(&r);
    char *url = kp_asprintf("%s/service/multirequest", f->service);
    test_http("POST", url, "{not json", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body.data, "\"code\":\"INVALID_JSON\""));
    test_reply_free(&r);
    test_http("POST", url, "{\"1\":{\"service\":\"nope\",\"action\":\"x\"}}", NULL, NULL, &r);
    assert_non_null(strstr(r.body.data, "\"code\":\"SERVICE_DOES_NOT_EXISTS\""));
    test_reply_free(&r);
    /* a GET without parameters is a multirequest with no calls: an empty list */
    test_http("GET", url, NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "[]");
    test_reply_free(&r);
    test_http("PUT", url, NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 405);
    test_reply_free(&r);
    free(url);
}

static void test_manifest_playlists_segments(void **state)
{
    fixture *f = *state;
    test_reply r;
    json_t *a = media_request(f, "0_ready001", NULL, &r);
    char *manifest =
        kp_asprintf("%s/p/4242/sp/424200/playManifest/entryId/0_ready001/protocol/"
                    "http/format/applehttp/flavorIds/%s/a.m3u8",
                    mbe_server_url(f->srv), kp_json_str(a, "2.sources.0.flavorIds", ""));
    json_decref(a);
    test_reply_free(&r);
    test_http("GET", manifest, NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    kp_m3u8 *master = NULL;
    kp_m3u8_error e;
    assert_int_equal(kp_m3u8_parse(r.body.data, r.body.len, manifest, &master, &e), 0);
    assert_true(master->is_master);
    assert_int_equal(master->n_variants, 2);
    assert_int_equal(master->variants[0].height, 360);
    assert_int_equal(master->variants[1].height, 180);
    assert_true(master->variants[0].bandwidth > master->variants[1].bandwidth);
    test_reply_free(&r);
    test_http("GET", master->variants[1].uri, NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    kp_m3u8 *media = NULL;
    assert_int_equal(kp_m3u8_parse(r.body.data, r.body.len, master->variants[1].uri, &media, &e),
                     0);
    assert_int_equal(media->n_segments, 3);
    assert_true(media->endlist);
    assert_true(media->total_duration > 5.99 && media->total_duration < 6.01);
    test_reply_free(&r);
    test_http("GET", media->segments[1].uri, NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.headers.data, "Content-Type: video/MP2T"));
    kp_demux_info info;
    char err[128];
    assert_int_equal(kp_demux_segment((const uint8_t *)r.body.data, r.body.len, "mpegts", &info,
                                      err, sizeof(err)),
                     0);
    const kp_demux_track *v = kp_demux_track_of(&info, KP_TRACK_VIDEO);
    assert_non_null(v);
    assert_int_equal(v->frames, 50);
    assert_true(v->starts_with_key);
    assert_non_null(kp_demux_track_of(&info, KP_TRACK_AUDIO));
    test_reply_free(&r);
    /* out of range segment, unknown flavor, unknown path, non-HLS format: 404 */
    char *bad = kp_strdup(media->segments[2].uri);
    strcpy(strstr(bad, "seg-3-"), "seg-4-v1-a1.ts");
    test_http("GET", bad, NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 404);
    test_reply_free(&r);
    char *other = kp_asprintf("%s/nothing/here", mbe_server_url(f->srv));
    test_http("GET", other, NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 404);
    test_reply_free(&r);
    json_t *m = json_pack("{s:s, s:i}", "kind", "segment", "status", 200);
    assert_int_equal(mbe_server_count(f->srv, "cdn", m), 1);
    json_decref(m);
    m = json_pack("{s:s}", "kind", "master");
    assert_int_equal(mbe_server_count(f->srv, "cdn", m), 1);
    json_decref(m);
    json_t *journal = mbe_server_journal(f->srv);
    assert_true(json_array_size(journal) >= 6);
    assert_int_equal(kp_json_int(journal, "0.seq", 0), 1);
    json_decref(journal);
    free(bad);
    free(other);
    free(manifest);
    kp_m3u8_free(master);
    kp_m3u8_free(media);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loopback_only),
        cmocka_unit_test(test_anonymous_media_request),
        cmocka_unit_test(test_provider_reads_the_answer),
        cmocka_unit_test(test_unknown_entry),
        cmocka_unit_test(test_statuses_and_access),
        cmocka_unit_test(test_bad_ks_and_bad_requests),
        cmocka_unit_test(test_manifest_playlists_segments),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
