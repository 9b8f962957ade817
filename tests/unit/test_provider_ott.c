/* test_provider_ott.c: the OTT (Phoenix) provider (kp/provider.h): request building
 * (multirequest and single-request mode, every mediaInfo option), response parsing into the
 * media config (sources, DRM, type/DVR table, duration, poster rule, metas/tags, bumper,
 * formats filter), every error path (envelope forms, BLOCK, no sources, kpsim's 1007 for
 * undigestible assets and single-request API errors, transport), entry lists and the 3002
 * of playlists; then the synchronous client against the mock back-end over real sockets.
 * Fixtures: $KPSIM_TEST_DATA/provider/ott_anon.json (an anonymous 3-result answer: login,
 * asset, playback context with HLS+DRM, DASH+DRM, progressive, an unsupported and a URL-less
 * source, two plugins) and ott_entry_list.json (login, asset, error, asset). Tests derive
 * variants by editing the parsed fixture.
 */
#include "kp/buf.h"
#include "kp/err.h"
#include "kp/jsonu.h"
#include "kp/provider.h"
#include "mbe/mbe.h"
#include "mock_server.h"
#include "provider_fixture.h"

#include <curl/curl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define SVC    "https://ott.example/api_v3"
#define MR_URL SVC "/service/multirequest"

/* ---- helpers -------------------------------------------------------------------------------- */

static kp_provider_opts opts(void)
{
    kp_provider_opts o;
    kp_provider_opts_init(&o);
    o.service_url = SVC;
    o.partner_id = 3;
    return o;
}

static kp_ott_media_info media(const char *id)
{
    kp_ott_media_info mi = {.entry_id = id, .entry_id_is_number = true};
    return mi;
}

static const char *const k_hdrs[] = {"Content-Type: application/json", "X-Kaltura-Session: 9"};

/* Parses body with status 200; exactly one of *cfg / *err is set. */
static void parse_full(const kp_provider_opts *o, const kp_ott_media_info *mi, const json_t *body,
                       json_t **cfg, json_t **err)
{
    char *s = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
    assert_non_null(s);
    kp_http_outcome h = test_outcome(s, MR_URL, k_hdrs, 2);
    assert_int_equal(kp_ott_media_parse(o, mi, &h, cfg, err), 0);
    assert_true((*cfg == NULL) != (*err == NULL));
    free(s);
}

static json_t *parse_ok(const kp_provider_opts *o, const kp_ott_media_info *mi, const json_t *body)
{
    json_t *cfg = NULL, *err = NULL;
    parse_full(o, mi, body, &cfg, &err);
    if (err)
        fail_msg("unexpected error %s", kp_json_dumps(err));
    return cfg;
}

static json_t *parse_err(const kp_provider_opts *o, const kp_ott_media_info *mi, const json_t *body,
                         int code)
{
    json_t *cfg = NULL, *err = NULL;
    parse_full(o, mi, body, &cfg, &err);
    if (cfg)
        fail_msg("expected error %d, got %s", code, kp_json_dumps(cfg));
    assert_int_equal(kp_json_int(err, "code", 0), code);
    assert_int_equal(kp_json_int(err, "severity", 0), 2);
    return err;
}

/* The fixture's result item i (borrowed). */
static json_t *item(json_t *fx, size_t i)
{
    return json_array_get(json_object_get(fx, "result"), i);
}

/* ---- requests ------------------------------------------------------------------------------- */

static void test_request_anonymous(void **state)
{
    (void)state;
    kp_provider_opts o = opts();
    kp_ott_media_info mi = media("480097");
    char *url;
    json_t *body, *err;
    assert_int_equal(kp_ott_media_request(&o, &mi, &url, &body, &err), 0);
    assert_null(err);
    assert_string_equal(url, MR_URL);
    test_assert_json(body,
                     "{\"1\":{\"service\":\"ottuser\",\"action\":\"anonymousLogin\","
                     "\"partnerId\":3},"
                     "\"2\":{\"service\":\"asset\",\"action\":\"get\",\"id\":480097,"
                     "\"assetReferenceType\":\"media\",\"ks\":\"{1:result:ks}\"},"
                     "\"3\":{\"service\":\"asset\",\"action\":\"getPlaybackContext\","
                     "\"assetId\":480097,\"assetType\":\"media\",\"contextDataParams\":"
                     "{\"objectType\":\"KalturaPlaybackContextOptions\",\"context\":\"PLAYBACK\"},"
                     "\"ks\":\"{1:result:ks}\"},\"apiVersion\":\"7.8.1\",\"partnerId\":3}");
    /* no format, no ks, no clientTag at the top */
    assert_null(json_object_get(body, "format"));
    assert_null(json_object_get(body, "ks"));
    assert_null(json_object_get(body, "clientTag"));
    free(url);
    json_decref(body);
}

static void test_request_with_ks_and_options(void **state)
{
    (void)state;
    kp_provider_opts o = opts();
    o.client_tag = "my-app";
    json_t *adapter = json_pack("{s:{s:s, s:s}}", "supported_codec", "objectType",
                                "KalturaStringValue", "value", "HEVC");
    const char *formats[] = {"Web_HD"};
    kp_ott_media_info mi = {.entry_id = "0_str",
                            .ks = "UKS",
                            .media_type = "epg",
                            .context_type = "CATCHUP",
                            .protocol = "https",
                            .file_ids = "728180",
                            .streamer_type = "mpegdash",
                            .url_type = "DIRECT",
                            .adapter_data = adapter,
                            .asset_reference_type = "epg_internal",
                            .formats = formats,
                            .n_formats = 1};
    char *url;
    json_t *body, *err;
    assert_int_equal(kp_ott_media_request(&o, &mi, &url, &body, &err), 0);
    test_assert_json(body, "{\"1\":{\"service\":\"asset\",\"action\":\"get\",\"id\":\"0_str\","
                           "\"assetReferenceType\":\"epg_internal\",\"ks\":\"UKS\"},"
                           "\"2\":{\"service\":\"asset\",\"action\":\"getPlaybackContext\","
                           "\"assetId\":\"0_str\",\"assetType\":\"epg\",\"contextDataParams\":"
                           "{\"objectType\":\"KalturaPlaybackContextOptions\",\"mediaProtocol\":"
                           "\"https\",\"assetFileIds\":\"728180\",\"context\":\"CATCHUP\","
                           "\"streamerType\":\"mpegdash\",\"urlType\":\"DIRECT\",\"adapterData\":"
                           "{\"supported_codec\":{\"objectType\":\"KalturaStringValue\","
                           "\"value\":\"HEVC\"}}},\"ks\":\"UKS\"},"
                           "\"apiVersion\":\"7.8.1\",\"ks\":\"UKS\",\"partnerId\":3,"
                           "\"clientTag\":\"my-app\"}");
    free(url);
    json_decref(body);
    json_decref(adapter);
}

static void test_request_errors_and_partner0(void **state)
{
    (void)state;
    kp_provider_opts o = opts();
    kp_ott_media_info mi = media(NULL);
    char *url;
    json_t *body, *err;
    assert_int_equal(kp_ott_media_request(&o, &mi, &url, &body, &err), KP_EINVAL);
    test_assert_json(err, "{\"severity\":2,\"category\":3,\"code\":3000,"
                          "\"data\":{\"message\":\"missing entry id\"}}");
    assert_null(url);
    json_decref(err);
    /* no service URL: there is no OTT default */
    o.service_url = NULL;
    mi = media("1");
    assert_int_equal(kp_ott_media_request(&o, &mi, &url, &body, &err), KP_EINVAL);
    assert_null(err);
    /* partner 0, anonymous: the session loader is not valid, no login is sent */
    o = opts();
    o.partner_id = 0;
    assert_int_equal(kp_ott_media_request(&o, &mi, &url, &body, &err), 0);
    assert_string_equal(kp_json_str(body, "1.action", ""), "get");
    assert_string_equal(kp_json_str(body, "1.ks", ""), "{1:result:ks}");
    assert_null(json_object_get(body, "3"));
    assert_null(json_object_get(body, "partnerId"));
    free(url);
    json_decref(body);
    /* a non-numeric id asked as a number stays a string */
    o = opts();
    mi = media("12ab");
    assert_int_equal(kp_ott_media_request(&o, &mi, &url, &body, &err), 0);
    assert_string_equal(kp_json_str(body, "2.id", ""), "12ab");
    free(url);
    json_decref(body);
}

/* ---- parsing -------------------------------------------------------------------------------- */

static void test_parse_vod(void **state)
{
    (void)state;
    kp_provider_opts o = opts();
    kp_ott_media_info mi = media("42");
    json_t *fx = test_provider_json("ott_anon.json");
    json_t *cfg = parse_ok(&o, &mi, fx);
    test_assert_json(json_object_get(cfg, "session"),
                     "{\"isAnonymous\":true,\"partnerId\":3,\"ks\":\"OTTKS\"}");
    test_assert_json(kp_json_path(cfg, "sources.hls"),
                     "[{\"id\":\"7,applehttp\",\"url\":\"https://ott.example/pm/7/a.m3u8\","
                     "\"mimetype\":\"application/x-mpegURL\",\"drmData\":[{\"licenseUrl\":"
                     "\"https://lic.example/fps\",\"scheme\":\"com.apple.fairplay\","
                     "\"certificate\":\"CERT\"}]}]");
    test_assert_json(
        kp_json_path(cfg, "sources.dash"),
        "[{\"id\":\"8,mpegdash\",\"url\":\"https://ott.example/pm/8/a.mpd\","
        "\"mimetype\":\"application/dash+xml\",\"drmData\":["
        "{\"licenseUrl\":\"https://lic.example/wv\",\"scheme\":\"com.widevine.alpha\"},"
        "{\"scheme\":\"com.microsoft.playready\"},"
        "{\"licenseUrl\":\"https://lic.example/c\"}]}]");
    test_assert_json(kp_json_path(cfg, "sources.progressive"),
                     "[{\"id\":\"9,url\",\"url\":\"https://ott.example/pm/9/a.mp4\","
                     "\"mimetype\":\"video/mp4\"}]");
    json_t *s = json_object_get(cfg, "sources");
    assert_int_equal(kp_json_int(s, "id", 0), 42);
    assert_int_equal(kp_json_int(s, "duration", 0), 61); /* max over all sources */
    assert_string_equal(kp_json_str(s, "type", ""), "Vod");
    assert_false(kp_json_bool(s, "dvr", true));
    assert_true(json_is_null(json_object_get(s, "vr")));
    assert_string_equal(kp_json_str(s, "poster", ""),
                        "https://img.example/thumbnail/p/3/entry_id/x/width/320/height/180");
    assert_null(json_object_get(s, "rawThumbnailUrl"));
    assert_null(json_object_get(s, "captions"));
    test_assert_json(json_object_get(s, "metadata"),
                     "{\"name\":\"Demo\",\"description\":\"A demo\",\"metas\":{\"Runtime\":\"92\","
                     "\"Year\":2017,\"tags\":\"flat\"},\"tags\":{\"Genre\":\"Comedy|Kids|\","
                     "\"Empty\":\"\"},\"createdAt\":1700000000,\"entryId\":\"0_demo\","
                     "\"mediaType\":\"media\",\"contextType\":\"PLAYBACK\"}");
    test_assert_json(json_object_get(cfg, "plugins"),
                     "{\"bumper\":{\"url\":\"https://ads.example/b.mp4\"}}");
    json_decref(cfg);

    /* with a KS from mediaInfo: isAnonymous false, the KS in the session, no login slot */
    json_array_remove(json_object_get(fx, "result"), 0);
    mi.ks = "UKS";
    cfg = parse_ok(&o, &mi, fx);
    test_assert_json(json_object_get(cfg, "session"),
                     "{\"isAnonymous\":false,\"partnerId\":3,\"ks\":\"UKS\"}");
    json_decref(cfg);
    json_decref(fx);
}

static void test_parse_poster_list_and_vr(void **state)
{
    (void)state;
    kp_provider_opts o = opts();
    kp_ott_media_info mi = media("42");
    json_t *fx = test_provider_json("ott_anon.json");
    json_t *img = json_array_get(json_object_get(item(fx, 1), "images"), 0);
    json_object_set_new(img, "url", json_string("https://img.example/plain.jpg"));
    json_array_append_new(json_object_get(item(fx, 1), "images"),
                          json_pack("{s:s, s:i}", "url", "https://img.example/2.jpg", "width", 9));
    json_object_set_new(json_object_get(json_object_get(item(fx, 1), "metas"), "tags"), "value",
                        json_string("vr,360"));
    json_t *cfg = parse_ok(&o, &mi, fx);
    test_assert_json(kp_json_path(cfg, "sources.poster"),
                     "[{\"url\":\"https://img.example/plain.jpg\",\"width\":320,\"height\":180},"
                     "{\"url\":\"https://img.example/2.jpg\",\"width\":9}]");
    assert_true(json_is_object(kp_json_path(cfg, "sources.vr")));
    json_decref(cfg);
    /* no images: "" */
    json_object_set_new(item(fx, 1), "images", json_array());
    cfg = parse_ok(&o, &mi, fx);
    assert_string_equal(kp_json_str(cfg, "sources.poster", "?"), "");
    json_decref(cfg);
    json_decref(fx);
}

static void test_type_dvr_table(void **state)
{
    (void)state;
    struct {
        const char *media, *context, *object_type, *external;
        bool trick;
        const char *type;
        bool dvr;
    } rows[] = {
        {"media", "TRAILER", NULL, NULL, false, "Vod", false},
        {"media", "PLAYBACK", NULL, "0", false, "Vod", false},
        {"media", "PLAYBACK", NULL, " 12abc", false, "Live", false},
        {"media", "PLAYBACK", NULL, "0x1A", false, "Live", false},
        {"media", "PLAYBACK", NULL, "-5", false, "Vod", false},
        {"media", "PLAYBACK", "KalturaLiveAsset", NULL, true, "Live", true},
        {"media", "PLAYBACK", "KalturaLiveAsset", NULL, false, "Live", false},
        {"media", "CATCHUP", NULL, NULL, false, "Unknown", false},
        {"epg", "CATCHUP", NULL, NULL, false, "Vod", false},
        {"epg", "START_OVER", NULL, NULL, false, "Live", true},
        {"epg", "PLAYBACK", NULL, NULL, false, "Unknown", false},
        {"recording", "PLAYBACK", NULL, NULL, false, "Vod", false},
        {"recording", "DOWNLOAD", NULL, NULL, false, "Unknown", false},
    };
    kp_provider_opts o = opts();
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        json_t *fx = test_provider_json("ott_anon.json");
        json_t *asset = item(fx, 1);
        if (rows[i].object_type)
            json_object_set_new(asset, "objectType", json_string(rows[i].object_type));
        if (rows[i].external)
            json_object_set_new(asset, "externalIds", json_string(rows[i].external));
        json_object_set_new(asset, "enableTrickPlay", json_boolean(rows[i].trick));
        kp_ott_media_info mi = media("42");
        mi.media_type = rows[i].media;
        mi.context_type = rows[i].context;
        json_t *cfg = parse_ok(&o, &mi, fx);
        if (strcmp(kp_json_str(cfg, "sources.type", ""), rows[i].type) != 0 ||
            kp_json_bool(cfg, "sources.dvr", !rows[i].dvr) != rows[i].dvr)
            fail_msg("row %zu (%s/%s): got %s dvr %d", i, rows[i].media, rows[i].context,
                     kp_json_str(cfg, "sources.type", ""), kp_json_bool(cfg, "sources.dvr", 0));
        assert_string_equal(kp_json_str(cfg, "sources.metadata.mediaType", ""), rows[i].media);
        assert_string_equal(kp_json_str(cfg, "sources.metadata.contextType", ""), rows[i].context);
        json_decref(cfg);
        json_decref(fx);
    }
}

static void test_formats_filter(void **state)
{
    (void)state;
    kp_provider_opts o = opts();
    const char *formats[] = {"Mobile_SD", "Web_HD_Dash"};
    kp_ott_media_info mi = media("42");
    mi.formats = formats;
    mi.n_formats = 2;
    json_t *fx = test_provider_json("ott_anon.json");
    json_t *cfg = parse_ok(&o, &mi, fx);
    assert_int_equal(json_array_size(kp_json_path(cfg, "sources.hls")), 0);
    assert_int_equal(json_array_size(kp_json_path(cfg, "sources.dash")), 1);
    assert_int_equal(json_array_size(kp_json_path(cfg, "sources.progressive")), 1);
    /* the duration still looks at every source */
    assert_int_equal(kp_json_int(cfg, "sources.duration", 0), 61);
    json_decref(cfg);
    /* nothing left: 3001 */
    formats[0] = "None";
    formats[1] = NULL;
    json_t *err = parse_err(&o, &mi, fx, 3001);
    test_assert_json(err, "{\"severity\":2,\"category\":2,\"code\":3001,\"data\":{\"action\":\"\","
                          "\"messages\":\"No play source for entry id: 42\"}}");
    json_decref(err);
    json_decref(fx);
}

static void test_block_and_no_sources(void **state)
{
    (void)state;
    kp_provider_opts o = opts();
    kp_ott_media_info mi = media("42");
    json_t *fx = test_provider_json("ott_anon.json");
    json_t *pbc = item(fx, 2);
    json_object_set_new(pbc, "actions",
                        json_pack("[{s:s}, {s:s, s:s}]", "type", "ALLOW_PLAYBACK", "type", "BLOCK",
                                  "objectType", "KalturaAccessControlBlockAction"));
    json_object_set_new(pbc, "messages",
                        json_pack("[{s:s, s:s, s:s}]", "code", "ConcurrencyLimitation", "message",
                                  "Concurrency limitation", "objectType", "x"));
    json_t *err = parse_err(&o, &mi, fx, 2001);
    test_assert_json(err,
                     "{\"severity\":2,\"category\":2,\"code\":2001,\"data\":{\"action\":"
                     "{\"type\":\"BLOCK\"},\"messages\":[{\"message\":\"Concurrency limitation\","
                     "\"code\":\"ConcurrencyLimitation\"}]}}");
    json_decref(err);
    /* no sources (and a NoFilesFound message): 3001; the numeric id is written as is */
    json_object_set_new(pbc, "actions", json_array());
    json_object_set_new(pbc, "sources", json_array());
    err = parse_err(&o, &mi, fx, 3001);
    assert_string_equal(kp_json_str(err, "data.messages", ""), "No play source for entry id: 42");
    json_decref(err);
    json_decref(fx);
}

static void test_envelopes_and_api_errors(void **state)
{
    (void)state;
    kp_provider_opts o = opts();
    kp_ott_media_info mi = media("42");
    /* a global failure */
    json_t *g = json_pack("{s:{s:{s:s, s:s, s:s}}}", "result", "error", "objectType",
                          "KalturaAPIException", "code", "500015", "message", "Invalid KS format");
    json_t *err = parse_err(&o, &mi, g, 1006);
    test_assert_json(err,
                     "{\"severity\":2,\"category\":1,\"code\":1006,\"data\":{\"url\":\"" MR_URL
                     "\",\"headers\":[\"x-kaltura-session: 9\\r\"],\"results\":[{\"hasError\":"
                     "true,\"error\":{\"code\":\"500015\",\"message\":\"Invalid KS format\"}}]}}");
    json_decref(err);
    json_decref(g);
    /* item errors, bare and wrapped */
    for (int wrapped = 0; wrapped < 2; wrapped++) {
        json_t *fx = test_provider_json("ott_anon.json");
        json_t *exc = json_pack("{s:s, s:s, s:s}", "objectType", "KalturaAPIException", "code",
                                "3039", "message", "Asset not found");
        json_array_set_new(json_object_get(fx, "result"), 2,
                           wrapped ? json_pack("{s:o}", "error", exc) : exc);
        err = parse_err(&o, &mi, fx, 1006);
        assert_true(kp_json_bool(err, "data.results.2.hasError", false));
        assert_string_equal(kp_json_str(err, "data.results.2.error.code", ""), "3039");
        assert_false(kp_json_bool(err, "data.results.1.hasError", true));
        json_decref(err);
        json_decref(fx);
    }
    /* a bare array (no "result" envelope) is accepted too */
    json_t *fx = test_provider_json("ott_anon.json");
    json_t *cfg = parse_ok(&o, &mi, json_object_get(fx, "result"));
    assert_string_equal(kp_json_str(cfg, "session.ks", ""), "OTTKS");
    json_decref(cfg);
    json_decref(fx);
}

static void test_undigestible_answers_give_1007(void **state)
{
    (void)state;
    kp_provider_opts o = opts();
    kp_ott_media_info mi = media("42");
    const char *edits[] = {"no-metas",      "no-tags",         "null-meta",   "objects-not-array",
                           "null-asset",    "messages-object", "null-source", "drm-string",
                           "images-string", "missing-context"};
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        json_t *fx = test_provider_json("ott_anon.json");
        json_t *res = json_object_get(fx, "result");
        json_t *asset = item(fx, 1), *pbc = item(fx, 2);
        const char *e = edits[i];
        if (!strcmp(e, "no-metas"))
            json_object_del(asset, "metas");
        else if (!strcmp(e, "no-tags"))
            json_object_set_new(asset, "tags", json_null());
        else if (!strcmp(e, "null-meta"))
            json_object_set_new(json_object_get(asset, "metas"), "X", json_null());
        else if (!strcmp(e, "objects-not-array"))
            json_object_set_new(json_object_get(json_object_get(asset, "tags"), "Genre"), "objects",
                                json_string("Comedy"));
        else if (!strcmp(e, "null-asset"))
            json_array_set_new(res, 1, json_null());
        else if (!strcmp(e, "messages-object"))
            json_object_set_new(pbc, "messages", json_object());
        else if (!strcmp(e, "null-source"))
            json_array_append_new(json_object_get(pbc, "sources"), json_null());
        else if (!strcmp(e, "drm-string"))
            json_object_set_new(json_array_get(json_object_get(pbc, "sources"), 0), "drm",
                                json_string("x"));
        else if (!strcmp(e, "images-string"))
            json_object_set_new(asset, "images", json_string("x"));
        else
            json_array_remove(res, 2);
        json_t *err = parse_err(&o, &mi, fx, 1007);
        if (!json_is_array(kp_json_path(err, "data.headers")))
            fail_msg("%s: no headers", e);
        json_decref(err);
        json_decref(fx);
    }
}

static void test_transport_errors(void **state)
{
    (void)state;
    kp_provider_opts o = opts();
    kp_ott_media_info mi = media("42");
    json_t *cfg, *err;
    kp_http_outcome h = {.transport_error = KP_EHTTP, .url = MR_URL, .attempt = 4};
    assert_int_equal(kp_ott_media_parse(&o, &mi, &h, &cfg, &err), 0);
    test_assert_json(err,
                     "{\"severity\":2,\"category\":1,\"code\":1002,\"data\":{\"text\":\"\","
                     "\"statusText\":\"\",\"url\":\"" MR_URL "\",\"headers\":[],\"attempt\":4}}");
    json_decref(err);
    h.transport_error = KP_ETIMEDOUT;
    h.elapsed_ms = 1500;
    assert_int_equal(kp_ott_media_parse(&o, &mi, &h, &cfg, &err), 0);
    assert_int_equal(kp_json_int(err, "code", 0), 1003);
    assert_true(kp_json_num(err, "data.timeout", 0) == 1.5);
    json_decref(err);
    kp_http_outcome s = {.status = 503, .body = "busy", .body_len = 4, .url = NULL};
    assert_int_equal(kp_ott_media_parse(&o, &mi, &s, &cfg, &err), 0);
    assert_int_equal(kp_json_int(err, "code", 0), 1001);
    assert_string_equal(kp_json_str(err, "data.url", ""), MR_URL);
    json_decref(err);
    s.status = 200;
    assert_int_equal(kp_ott_media_parse(&o, &mi, &s, &cfg, &err), 0);
    assert_int_equal(kp_json_int(err, "code", 0), 1005);
    assert_string_equal(kp_json_str(err, "data.text", ""), "busy");
    json_decref(err);
}

/* ---- single-request mode -------------------------------------------------------------------- */

static kp_http_outcome answer(const char *body)
{
    return test_outcome(body, NULL, NULL, 0);
}

static void test_single_requests(void **state)
{
    (void)state;
    kp_provider_opts o = opts();
    o.ott_disable_multirequest = true;
    o.client_tag = "ignored-in-single-mode";
    kp_ott_media_info mi = media("42");
    json_t *fx = test_provider_json("ott_anon.json");
    char *bodies[3];
    for (size_t i = 0; i < 3; i++) {
        json_t *one = json_pack("{s:O}", "result", item(fx, i));
        bodies[i] = json_dumps(one, JSON_COMPACT);
        json_decref(one);
    }
    kp_http_outcome done[3];
    char *url;
    json_t *body, *err;
    static const char *const want[][2] = {
        {SVC "/service/ottuser/action/anonymousLogin",
         "{\"apiVersion\":\"7.8.1\",\"partnerId\":3}"},
        {SVC "/service/asset/action/get",
         "{\"apiVersion\":\"7.8.1\",\"id\":42,\"assetReferenceType\":\"media\",\"ks\":\"OTTKS\"}"},
        {SVC "/service/asset/action/getPlaybackContext",
         "{\"apiVersion\":\"7.8.1\",\"assetId\":42,\"assetType\":\"media\",\"contextDataParams\":"
         "{\"objectType\":\"KalturaPlaybackContextOptions\",\"context\":\"PLAYBACK\"},"
         "\"ks\":\"OTTKS\"}"}};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(kp_ott_single_next(&o, &mi, done, i, &url, &body, &err), 1);
        assert_string_equal(url, want[i][0]);
        test_assert_json(body, want[i][1]);
        free(url);
        json_decref(body);
        done[i] = answer(bodies[i]);
    }
    assert_int_equal(kp_ott_single_next(&o, &mi, done, 3, &url, &body, &err), 0);
    json_t *cfg;
    assert_int_equal(kp_ott_single_parse(&o, &mi, done, 3, &cfg, &err), 0);
    assert_null(err);
    assert_string_equal(kp_json_str(cfg, "session.ks", ""), "OTTKS");
    assert_int_equal(json_array_size(kp_json_path(cfg, "sources.hls")), 1);
    json_decref(cfg);

    /* an API error from getPlaybackContext: the 1007 RequestSequenceBuilder builds */
    const char *ctx_err = "{\"result\":{\"error\":{\"objectType\":\"KalturaAPIException\","
                          "\"code\":\"3039\",\"message\":\"Asset not found\"}}}";
    done[2] = answer(ctx_err);
    assert_int_equal(kp_ott_single_parse(&o, &mi, done, 3, &cfg, &err), 0);
    test_assert_json(err, "{\"severity\":2,\"category\":1,\"code\":1007,\"data\":{\"error\":"
                          "{\"code\":\"3039\",\"message\":\"Asset not found\"},\"errorMessage\":"
                          "\"Request returned an error: Asset not found (code: 3039)\"}}");
    json_decref(err);

    /* a failed login: nothing more is sent, and the parse reports it */
    done[0] = answer("{\"result\":{\"error\":{\"objectType\":\"KalturaAPIException\","
                     "\"code\":\"2001\",\"message\":\"suspended\"}}}");
    assert_int_equal(kp_ott_single_next(&o, &mi, done, 1, &url, &body, &err), 0);
    assert_int_equal(kp_ott_single_parse(&o, &mi, done, 1, &cfg, &err), 0);
    assert_int_equal(kp_json_int(err, "code", 0), 1007);
    assert_string_equal(kp_json_str(err, "data.error.code", ""), "2001");
    json_decref(err);

    /* a transport error of the asset request: that error, with its URL */
    done[0] = answer(bodies[0]);
    done[1] = (kp_http_outcome){.transport_error = KP_EHTTP, .url = want[1][0], .attempt = 2};
    assert_int_equal(kp_ott_single_parse(&o, &mi, done, 3, &cfg, &err), 0);
    assert_int_equal(kp_json_int(err, "code", 0), 1002);
    assert_string_equal(kp_json_str(err, "data.url", ""), want[1][0]);
    json_decref(err);

    /* with a KS: two requests, the KS literal */
    mi.ks = "UKS";
    assert_int_equal(kp_ott_single_next(&o, &mi, done, 0, &url, &body, &err), 1);
    assert_string_equal(url, want[1][0]);
    assert_string_equal(kp_json_str(body, "ks", ""), "UKS");
    free(url);
    json_decref(body);
    assert_int_equal(kp_ott_single_next(&o, &mi, done, 2, &url, &body, &err), 0);
    for (size_t i = 0; i < 3; i++)
        free(bodies[i]);
    json_decref(fx);
}

/* ---- entry lists and playlists -------------------------------------------------------------- */

static void test_entry_list(void **state)
{
    (void)state;
    kp_provider_opts o = opts();
    kp_entry_ref refs[] = {{.entry_id = "101", .entry_id_is_number = true},
                           {.entry_id = "102", .asset_reference_type = "epg_internal"},
                           {.entry_id = "103"}};
    kp_entry_list_info el = {.entries = refs, .n_entries = 3};
    char *url;
    json_t *body, *err;
    assert_int_equal(kp_ott_entry_list_request(&o, &el, &url, &body, &err), 0);
    test_assert_json(body, "{\"1\":{\"service\":\"ottuser\",\"action\":\"anonymousLogin\","
                           "\"partnerId\":3},\"2\":{\"service\":\"asset\",\"action\":\"get\","
                           "\"id\":101,\"assetReferenceType\":\"media\",\"ks\":\"{1:result:ks}\"},"
                           "\"3\":{\"service\":\"asset\",\"action\":\"get\",\"id\":\"102\","
                           "\"assetReferenceType\":\"epg_internal\",\"ks\":\"{1:result:ks}\"},"
                           "\"4\":{\"service\":\"asset\",\"action\":\"get\",\"id\":\"103\","
                           "\"assetReferenceType\":\"media\",\"ks\":\"{1:result:ks}\"},"
                           "\"apiVersion\":\"7.8.1\",\"partnerId\":3}");
    free(url);
    json_decref(body);

    json_t *fx = test_provider_json("ott_entry_list.json");
    char *s = json_dumps(fx, JSON_COMPACT);
    kp_http_outcome h = answer(s);
    json_t *pl;
    assert_int_equal(kp_ott_entry_list_parse(&o, &el, &h, &pl, &err), 0);
    assert_null(err);
    test_assert_json(pl, "{\"id\":\"\",\"metadata\":{\"name\":\"\",\"description\":\"\"},"
                         "\"poster\":\"\",\"playlistLastEntryId\":\"\",\"items\":["
                         "{\"sources\":{\"hls\":[],\"dash\":[],\"progressive\":[],\"image\":[],"
                         "\"document\":[],\"id\":101,\"type\":\"Unknown\",\"poster\":["
                         "{\"url\":\"https://img.example/a.jpg\",\"width\":100,\"height\":50},"
                         "{\"url\":\"https://img.example/b.jpg\",\"width\":200,\"height\":100}],"
                         "\"dvr\":false,\"vr\":{},\"metadata\":{\"name\":\"First\",\"description\":"
                         "\"one\",\"metas\":{\"tags\":\"360,vr\"},\"tags\":{}}}},"
                         "{\"sources\":{\"hls\":[],\"dash\":[],\"progressive\":[],\"image\":[],"
                         "\"document\":[],\"id\":103,\"type\":\"Unknown\",\"poster\":\"\","
                         "\"dvr\":false,\"vr\":null,\"metadata\":{\"name\":\"Third\",\"metas\":{},"
                         "\"tags\":{}}}}]}");
    json_decref(pl);
    free(s);

    /* an asset without metas is left out, the others stay (no index shift) */
    json_object_del(json_array_get(json_object_get(fx, "result"), 1), "metas");
    s = json_dumps(fx, JSON_COMPACT);
    h = answer(s);
    assert_int_equal(kp_ott_entry_list_parse(&o, &el, &h, &pl, &err), 0);
    assert_int_equal(json_array_size(json_object_get(pl, "items")), 1);
    assert_int_equal(kp_json_int(pl, "items.0.sources.id", 0), 103);
    json_decref(pl);
    free(s);

    /* nothing loaded: 1006 */
    json_array_set_new(json_object_get(fx, "result"), 3,
                       json_pack("{s:s, s:s}", "objectType", "KalturaAPIException", "code", "1"));
    s = json_dumps(fx, JSON_COMPACT);
    h = answer(s);
    assert_int_equal(kp_ott_entry_list_parse(&o, &el, &h, &pl, &err), 0);
    assert_null(pl);
    assert_int_equal(kp_json_int(err, "code", 0), 1006);
    json_decref(err);
    free(s);
    json_decref(fx);

    /* no entries: 3000 */
    el.n_entries = 0;
    assert_int_equal(kp_ott_entry_list_request(&o, &el, &url, &body, &err), KP_EINVAL);
    assert_int_equal(kp_json_int(err, "code", 0), 3000);
    json_decref(err);
}

static void test_playlist_not_implemented(void **state)
{
    (void)state;
    kp_provider_opts o = opts();
    kp_playlist_info pi = {.playlist_id = "0_pl"};
    char *url;
    json_t *body, *err;
    assert_int_equal(kp_ott_playlist_request(&o, &pi, &url, &body, &err), KP_ENOTSUP);
    assert_null(url);
    test_assert_json(err, "{\"severity\":2,\"category\":3,\"code\":3002,\"data\":{\"message\":"
                          "\"The provider does not support loading playlist by id\"}}");
    json_decref(err);
    kp_provider_client c;
    kp_provider_client_init(&c);
    json_t *pl;
    assert_int_equal(kp_ott_fetch_playlist(&c, &o, &pi, &pl, &err), 0);
    assert_null(pl);
    assert_int_equal(kp_json_int(err, "code", 0), 3002);
    json_decref(err);
}

/* ---- the client against the mock back-end (real sockets) ------------------------------------ */

static int mock_setup(void **state)
{
    mbe_config cfg = {.partner_id = 3};
    *state = test_mock_new(&cfg);
    return 0;
}

static int mock_teardown(void **state)
{
    test_mock_free(*state);
    return 0;
}

static void test_client_multirequest(void **state)
{
    test_mock *m = *state;
    json_t *fx = test_provider_json("ott_anon.json");
    test_mock_serve(m, "/api_v3/service/multirequest", fx);
    kp_provider_opts o = opts();
    o.service_url = m->service;
    kp_ott_media_info mi = media("42");
    kp_provider_client c;
    kp_provider_client_init(&c);
    json_t *cfg, *err;
    assert_int_equal(kp_ott_fetch_media(&c, &o, &mi, &cfg, &err), 0);
    assert_null(err);
    assert_string_equal(kp_json_str(cfg, "sources.hls.0.url", ""),
                        "https://ott.example/pm/7/a.m3u8");
    json_decref(cfg);
    json_t *sent = test_mock_journaled(m, "/api_v3/service/multirequest");
    assert_int_equal(json_array_size(sent), 1);
    assert_string_equal(kp_json_str(sent, "0.body.1.action", ""), "anonymousLogin");
    assert_int_equal(kp_json_int(sent, "0.body.2.id", 0), 42);
    json_decref(sent);
    json_decref(fx);
}

static void test_client_single_requests(void **state)
{
    test_mock *m = *state;
    json_t *fx = test_provider_json("ott_anon.json");
    static const char *const paths[] = {"/api_v3/service/ottuser/action/anonymousLogin",
                                        "/api_v3/service/asset/action/get",
                                        "/api_v3/service/asset/action/getPlaybackContext"};
    for (size_t i = 0; i < 3; i++) {
        json_t *one = json_pack("{s:O}", "result", item(fx, i));
        test_mock_serve(m, paths[i], one);
        json_decref(one);
    }
    kp_provider_opts o = opts();
    o.service_url = m->service;
    o.ott_disable_multirequest = true;
    kp_ott_media_info mi = media("42");
    kp_provider_client c;
    kp_provider_client_init(&c);
    json_t *cfg, *err;
    assert_int_equal(kp_ott_fetch_media(&c, &o, &mi, &cfg, &err), 0);
    assert_null(err);
    assert_string_equal(kp_json_str(cfg, "session.ks", ""), "OTTKS");
    assert_string_equal(kp_json_str(cfg, "plugins.bumper.url", ""), "https://ads.example/b.mp4");
    json_decref(cfg);
    for (size_t i = 0; i < 3; i++) {
        json_t *sent = test_mock_journaled(m, paths[i]);
        assert_int_equal(json_array_size(sent), 1);
        assert_string_equal(kp_json_str(sent, "0.body.apiVersion", ""), "7.8.1");
        if (i > 0)
            assert_string_equal(kp_json_str(sent, "0.body.ks", ""), "OTTKS");
        json_decref(sent);
    }
    json_decref(fx);
}

static void test_client_entry_list(void **state)
{
    test_mock *m = *state;
    json_t *fx = test_provider_json("ott_entry_list.json");
    test_mock_serve(m, "/api_v3/service/multirequest", fx);
    kp_provider_opts o = opts();
    o.service_url = m->service;
    kp_entry_ref refs[] = {{.entry_id = "101"}, {.entry_id = "102"}, {.entry_id = "103"}};
    kp_entry_list_info el = {.entries = refs, .n_entries = 3};
    kp_provider_client c;
    kp_provider_client_init(&c);
    json_t *pl, *err;
    assert_int_equal(kp_ott_fetch_entry_list(&c, &o, &el, &pl, &err), 0);
    assert_null(err);
    assert_int_equal(json_array_size(json_object_get(pl, "items")), 2);
    json_decref(pl);
    json_decref(fx);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_anonymous),
        cmocka_unit_test(test_request_with_ks_and_options),
        cmocka_unit_test(test_request_errors_and_partner0),
        cmocka_unit_test(test_parse_vod),
        cmocka_unit_test(test_parse_poster_list_and_vr),
        cmocka_unit_test(test_type_dvr_table),
        cmocka_unit_test(test_formats_filter),
        cmocka_unit_test(test_block_and_no_sources),
        cmocka_unit_test(test_envelopes_and_api_errors),
        cmocka_unit_test(test_undigestible_answers_give_1007),
        cmocka_unit_test(test_transport_errors),
        cmocka_unit_test(test_single_requests),
        cmocka_unit_test(test_entry_list),
        cmocka_unit_test(test_playlist_not_implemented),
        cmocka_unit_test_setup_teardown(test_client_multirequest, mock_setup, mock_teardown),
        cmocka_unit_test_setup_teardown(test_client_single_requests, mock_setup, mock_teardown),
        cmocka_unit_test_setup_teardown(test_client_entry_list, mock_setup, mock_teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
