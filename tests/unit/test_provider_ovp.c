/* test_provider_ovp.c: the OVP provider's pure functions (kp/provider.h) on hand-made data:
 * request building, response parsing into the media config, every error path, captions,
 * custom metadata, bumper, eCDN regex, plus the JS-semantics helpers of provider_ovp_priv.h.
 * Fixtures: $KPSIM_TEST_DATA/provider/ (vod_anon.json: an anonymous 4-slot answer;
 * entry_not_found.json: a {"result": [...]} answer with two error items). Tests derive the
 * variants they need by editing the parsed fixture.
 */
#include "kp/buf.h"
#include "kp/err.h"
#include "kp/jsonu.h"
#include "kp/provider.h"
#include "provider_fixture.h"
#include "provider_ovp_priv.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MR_URL "https://cdnapisec.kaltura.com/api_v3/service/multirequest"
#define PM     "https://cdnapisec.kaltura.com/p/123/sp/12300/playManifest/entryId/0_vod"

/* ---- helpers -------------------------------------------------------------------------------- */

static kp_media_info media(const char *entry_id)
{
    kp_media_info mi = {.entry_id = entry_id, .redirect_from_entry_id = -1};
    return mi;
}

static const char *const k_hdrs[] = {"Content-Type: application/json", "X-Kaltura-Session: 7"};

/* Parses body (a JSON value, or raw text when text is non-NULL) with status 200. Exactly one
 * of *cfg / *err is set on return. */
static void parse_full(const kp_provider_opts *o, const kp_media_info *mi, const json_t *body,
                       const char *text, int status, json_t **cfg, json_t **err)
{
    char *s = text ? kp_strdup(text) : json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
    assert_non_null(s);
    kp_http_outcome h = test_outcome(s, MR_URL, k_hdrs, 2);
    h.status = status;
    assert_int_equal(kp_ovp_media_parse(o, mi, &h, cfg, err), 0);
    assert_true((*cfg == NULL) != (*err == NULL));
    free(s);
}

static json_t *parse_ok(const kp_provider_opts *o, const kp_media_info *mi, const json_t *body)
{
    json_t *cfg = NULL, *err = NULL;
    parse_full(o, mi, body, NULL, 200, &cfg, &err);
    if (err) {
        char *e = kp_json_dumps(err);
        fail_msg("unexpected error %s", e);
    }
    return cfg;
}

static json_t *parse_err(const kp_provider_opts *o, const kp_media_info *mi, const json_t *body,
                         int want_code)
{
    json_t *cfg = NULL, *err = NULL;
    parse_full(o, mi, body, NULL, 200, &cfg, &err);
    if (cfg) {
        json_decref(cfg);
        fail_msg("expected error %d, got a config", want_code);
    }
    assert_int_equal(kp_json_int(err, "code", 0), want_code);
    assert_int_equal(kp_json_int(err, "severity", 0), 2);
    return err;
}

static const char *str_at(const json_t *j, const char *path)
{
    const char *s = kp_json_str(j, path, NULL);
    if (!s)
        fail_msg("no string at %s", path);
    return s;
}

/* ---- request building ----------------------------------------------------------------------- */

static void test_request_anonymous(void **state)
{
    (void)state;
    kp_provider_opts o = test_ovp_opts();
    kp_media_info mi = media("0_vod");
    char *url;
    json_t *body, *err;
    assert_int_equal(kp_ovp_media_request(&o, &mi, &url, &body, &err), 0);
    assert_null(err);
    assert_string_equal(url, MR_URL);
    /* exact bytes: checks key order too */
    char *s = json_dumps(body, JSON_COMPACT);
    assert_string_equal(
        s,
        "{\"1\":{\"service\":\"session\",\"action\":\"startWidgetSession\",\"widgetId\":\"_123\"},"
        "\"2\":{\"service\":\"baseEntry\",\"action\":\"list\",\"ks\":\"{1:result:ks}\","
        "\"filter\":{\"redirectFromEntryId\":\"0_vod\"},\"responseProfile\":{\"type\":1,"
        "\"fields\":\"id,referenceId,name,description,thumbnailUrl,dataUrl,duration,"
        "msDuration,flavorParamsIds,mediaType,type,tags,dvrStatus,externalSourceType,status,"
        "createdAt,updatedAt,endDate,plays,views,downloadUrl,creatorId,userId,rootEntryId,"
        "capabilities,adminTags\"}},"
        "\"3\":{\"service\":\"baseEntry\",\"action\":\"getPlaybackContext\","
        "\"entryId\":\"{2:result:objects:0:id}\",\"ks\":\"{1:result:ks}\","
        "\"contextDataParams\":{\"objectType\":\"KalturaContextDataParams\","
        "\"flavorTags\":\"all\"}},"
        "\"4\":{\"service\":\"metadata_metadata\",\"action\":\"list\",\"filter\":{"
        "\"objectType\":\"KalturaMetadataFilter\",\"objectIdEqual\":\"{2:result:objects:0:id}\","
        "\"metadataObjectTypeEqual\":\"1\"},\"ks\":\"{1:result:ks}\"},"
        "\"apiVersion\":\"3.3.0\",\"format\":1,\"ks\":\"\",\"clientTag\":\"html5:vT\","
        "\"partnerId\":123}");
    free(s);
    free(url);
    json_decref(body);
}

static void test_request_with_ks(void **state)
{
    (void)state;
    kp_provider_opts o = test_ovp_opts();
    o.ks = "OPTKS";
    kp_media_info mi = media("0_vod");
    char *url;
    json_t *body, *err;
    assert_int_equal(kp_ovp_media_request(&o, &mi, &url, &body, &err), 0);
    assert_int_equal(json_object_size(body), 3 + 5);
    assert_null(json_object_get(body, "4"));
    assert_string_equal(str_at(body, "1.action"), "list");
    assert_string_equal(str_at(body, "1.ks"), "OPTKS");
    assert_string_equal(str_at(body, "2.entryId"), "{1:result:objects:0:id}");
    assert_string_equal(str_at(body, "2.ks"), "OPTKS");
    assert_string_equal(str_at(body, "3.filter.objectIdEqual"), "{1:result:objects:0:id}");
    assert_string_equal(str_at(body, "3.ks"), "OPTKS");
    assert_string_equal(str_at(body, "ks"), "OPTKS");
    free(url);
    json_decref(body);

    /* mediaInfo.ks wins for this request */
    mi.ks = "MIKS";
    assert_int_equal(kp_ovp_media_request(&o, &mi, &url, &body, &err), 0);
    assert_string_equal(str_at(body, "1.ks"), "MIKS");
    assert_string_equal(str_at(body, "ks"), "MIKS");
    free(url);
    json_decref(body);
}

static void test_request_partner0_and_defaults(void **state)
{
    (void)state;
    kp_provider_opts o = test_ovp_opts();
    o.partner_id = 0;
    o.client_tag = NULL;
    o.service_url = "http://127.0.0.1:9/api_v3";
    kp_media_info mi = media("0_x");
    char *url;
    json_t *body, *err;
    assert_int_equal(kp_ovp_media_request(&o, &mi, &url, &body, &err), 0);
    assert_string_equal(url, "http://127.0.0.1:9/api_v3/service/multirequest");
    assert_null(json_object_get(body, "partnerId"));
    assert_string_equal(str_at(body, "1.widgetId"), "_0");
    assert_string_equal(str_at(body, "clientTag"), KP_PROVIDER_DEFAULT_CLIENT_TAG);
    assert_int_equal(kp_json_int(body, "format", 0), 1);
    free(url);
    json_decref(body);

    o.widget_id = "_999";
    assert_int_equal(kp_ovp_media_request(&o, &mi, &url, &body, &err), 0);
    assert_string_equal(str_at(body, "1.widgetId"), "_999");
    free(url);
    json_decref(body);
}

static void test_request_filters_and_referrer(void **state)
{
    (void)state;
    kp_provider_opts o = test_ovp_opts();
    kp_media_info mi = {.reference_id = "REF-1", .redirect_from_entry_id = -1};
    char *url;
    json_t *body, *err;
    assert_int_equal(kp_ovp_media_request(&o, &mi, &url, &body, &err), 0);
    test_assert_json(kp_json_path(body, "2.filter"),
                     "{\"objectType\":\"KalturaBaseEntryFilter\",\"referenceIdEqual\":\"REF-1\"}");
    assert_null(kp_json_path(body, "3.contextDataParams.referrer"));
    free(url);
    json_decref(body);

    /* entry id wins over the reference id; redirect off gives idEqual */
    mi.entry_id = "0_vod";
    mi.redirect_from_entry_id = 0;
    o.referrer = "https://page.example/a?b=c";
    assert_int_equal(kp_ovp_media_request(&o, &mi, &url, &body, &err), 0);
    test_assert_json(kp_json_path(body, "2.filter"), "{\"idEqual\":\"0_vod\"}");
    assert_string_equal(str_at(body, "3.contextDataParams.referrer"), "https://page.example/a?b=c");
    free(url);
    json_decref(body);

    mi.redirect_from_entry_id = 1;
    assert_int_equal(kp_ovp_media_request(&o, &mi, &url, &body, &err), 0);
    test_assert_json(kp_json_path(body, "2.filter"), "{\"redirectFromEntryId\":\"0_vod\"}");
    free(url);
    json_decref(body);
}

static void test_request_missing_id(void **state)
{
    (void)state;
    kp_provider_opts o = test_ovp_opts();
    kp_media_info mi = {.entry_id = "", .redirect_from_entry_id = -1};
    char *url = (char *)"x";
    json_t *body = NULL, *err = NULL;
    assert_int_equal(kp_ovp_media_request(&o, &mi, &url, &body, &err), KP_EINVAL);
    assert_null(url);
    assert_null(body);
    test_assert_json(err, "{\"severity\":2,\"category\":3,\"code\":3000,"
                          "\"data\":{\"message\":\"missing entry id\"}}");
    json_decref(err);
}

/* ---- parsing a VOD answer ------------------------------------------------------------------- */

static void test_parse_vod_sources(void **state)
{
    (void)state;
    kp_provider_opts o = test_ovp_opts();
    kp_media_info mi = media("0_vod");
    json_t *body = test_provider_json("vod_anon.json");
    json_t *cfg = parse_ok(&o, &mi, body);

    test_assert_json(json_object_get(cfg, "session"),
                     "{\"isAnonymous\":true,\"partnerId\":123,\"ks\":\"WKS\"}");
    json_t *src = json_object_get(cfg, "sources");
    test_assert_json(
        json_object_get(src, "hls"),
        "[{\"id\":\"0_vod_5,applehttp\",\"url\":\"" PM
        "/protocol/https/format/applehttp/flavorIds/0_v1,0_v2/a.m3u8\","
        "\"mimetype\":\"application/x-mpegURL\",\"drmData\":["
        "{\"licenseUrl\":\"https://lic.example/wv\",\"scheme\":\"com.widevine.alpha\"},"
        "{\"licenseUrl\":\"https://lic.example/fp\",\"scheme\":\"com.apple.fairplay\","
        "\"certificate\":\"CERT\"},{\"licenseUrl\":\"https://lic.example/old\"}]}]");
    test_assert_json(json_object_get(src, "dash"),
                     "[{\"id\":\"0_vod_6,mpegdash\",\"url\":\"" PM
                     "/protocol/https/format/mpegdash/flavorIds/0_v1,0_v2/a.mpd\","
                     "\"mimetype\":\"application/dash+xml\"}]");
    /* one per flavor asset, the audio-only one left out because video exists; no separator
     * in the id; label falls back to the language */
    test_assert_json(json_object_get(src, "progressive"),
                     "[{\"id\":\"0_v17,url\",\"url\":\"" PM
                     "/protocol/https/format/url/flavorIds/0_v1/a.mp4\",\"mimetype\":\"video/mp4\","
                     "\"bandwidth\":512000,\"width\":640,\"height\":360,\"label\":\"eng\"},"
                     "{\"id\":\"0_v27,url\",\"url\":\"" PM
                     "/protocol/https/format/url/flavorIds/0_v2/a.mov\",\"mimetype\":\"video/mp4\","
                     "\"bandwidth\":1024000,\"width\":1280,\"height\":720,\"label\":\"HD\"}]");
    assert_true(json_is_integer(kp_json_path(src, "progressive.0.bandwidth")));
    assert_true(json_is_integer(kp_json_path(src, "duration")));
    assert_true(json_is_integer(kp_json_path(cfg, "session.partnerId")));
    test_assert_json(json_object_get(src, "image"), "[]");
    test_assert_json(json_object_get(src, "document"), "[]");
    assert_string_equal(str_at(src, "id"), "0_vod");
    assert_int_equal(kp_json_int(src, "duration", -1), 30);
    assert_string_equal(str_at(src, "type"), "Vod");
    assert_false(kp_json_bool(src, "dvr", true));
    test_assert_json(json_object_get(src, "vr"), "{}");
    assert_string_equal(str_at(src, "poster"),
                        "https://img.example/p/123/thumbnail/entry_id/0_vod/version/1");
    assert_string_equal(str_at(src, "rawThumbnailUrl"), str_at(src, "poster"));
    assert_string_equal(str_at(src, "downloadUrl"), "");
    assert_null(json_object_get(src, "rootEntryId"));
    test_assert_json(json_object_get(src, "capabilities"), "[\"a\",\"b\"]");
    assert_null(json_object_get(src, "activeLiveStreamTime"));
    json_decref(cfg);
    json_decref(body);
}

static void test_parse_metadata(void **state)
{
    (void)state;
    kp_provider_opts o = test_ovp_opts();
    kp_media_info mi = media("0_vod");
    json_t *body = test_provider_json("vod_anon.json");
    json_t *cfg = parse_ok(&o, &mi, body);
    /* Cast is repeated (vanishes), Note is CDATA only (vanishes), whitespace after '>' and
     * newlines are removed, trailing space kept; views 0 is falsy so it is not copied */
    test_assert_json(kp_json_path(cfg, "sources.metadata"),
                     "{\"name\":\"Clip\",\"description\":\"\",\"tags\":\"demo, 360\","
                     "\"Genre\":\"Drama\",\"Rating\":\"PG \",\"entryId\":\"0_vod\","
                     "\"createdAt\":1700000000,\"adminTags\":\"\",\"aspectRatio\":1.78,"
                     "\"audioFlavors\":[{\"id\":\"0_a1\",\"fileExt\":\"mp3\",\"bitrate\":128,"
                     "\"width\":0,\"height\":0,\"language\":\"Spanish\","
                     "\"tags\":[\"audio_only\",\"web\"]}]}");
    assert_true(json_is_real(kp_json_path(cfg, "sources.metadata.aspectRatio")));
    json_decref(cfg);

    /* a metadata document whose root is not <metadata>: the JS throws, kpsim says 1007 */
    json_t *objs = kp_json_path(body, "3.objects");
    json_object_set_new(json_array_get(objs, 1), "xml", json_string("<other><A>1</A></other>"));
    json_t *err = parse_err(&o, &mi, body, 1007);
    test_assert_json(err, "{\"severity\":2,\"category\":1,\"code\":1007,"
                          "\"data\":{\"headers\":[\"x-kaltura-session: 7\\r\"]}}");
    json_decref(err);

    /* two text nodes around a child element give an array; a later document overrides */
    json_object_set_new(json_array_get(objs, 1), "xml",
                        json_string("<metadata><Genre>Comedy</Genre><Mix>a<b/>c</Mix>"
                                    "<Empty/></metadata>"));
    cfg = parse_ok(&o, &mi, body);
    assert_string_equal(str_at(cfg, "sources.metadata.Genre"), "Comedy");
    test_assert_json(kp_json_path(cfg, "sources.metadata.Mix"), "[\"a\",\"c\"]");
    assert_null(kp_json_path(cfg, "sources.metadata.Empty"));
    json_decref(cfg);
    json_decref(body);
}

static void test_parse_captions(void **state)
{
    (void)state;
    kp_provider_opts o = test_ovp_opts();
    kp_media_info mi = media("0_vod");
    json_t *body = test_provider_json("vod_anon.json");
    json_t *cfg = parse_ok(&o, &mi, body);
    test_assert_json(
        kp_json_path(cfg, "sources.captions"),
        "[{\"default\":true,\"type\":\"srt\",\"language\":\"en\",\"label\":\"English\","
        "\"url\":\"https://cap.example/en.srt\"},"
        "{\"default\":false,\"type\":\"vtt\",\"language\":\"de\",\"label\":\"Deutsch\","
        "\"url\":\"https://cap.example/de.vtt?v=2\"},"
        "{\"default\":false,\"type\":\"vtt\",\"language\":\"fr\",\"label\":\"Francais\","
        "\"url\":\"https://cap.example/serve/fr\"}]");
    json_decref(cfg);

    /* with a KS: ?ks= / &ks= when the last segment has a dot, /ks/ otherwise */
    mi.ks = "K1";
    json_array_remove(body, 0);
    cfg = parse_ok(&o, &mi, body);
    assert_string_equal(str_at(cfg, "sources.captions.0.url"), "https://cap.example/en.srt?ks=K1");
    assert_string_equal(str_at(cfg, "sources.captions.1.url"),
                        "https://cap.example/de.vtt?v=2&ks=K1");
    assert_string_equal(str_at(cfg, "sources.captions.2.url"),
                        "https://cap.example/serve/fr/ks/K1");
    json_decref(cfg);

    /* useApiCaptions off: no captions key at all */
    o.use_api_captions = false;
    cfg = parse_ok(&o, &mi, body);
    assert_null(kp_json_path(cfg, "sources.captions"));
    json_decref(cfg);

    /* live entries never get captions; an empty playbackCaptions still gives [] */
    o.use_api_captions = true;
    json_object_set_new(kp_json_path(body, "0.objects.0"), "type", json_integer(7));
    cfg = parse_ok(&o, &mi, body);
    assert_null(kp_json_path(cfg, "sources.captions"));
    assert_string_equal(str_at(cfg, "sources.type"), "Live");
    json_decref(cfg);
    json_object_set_new(kp_json_path(body, "0.objects.0"), "type", json_integer(1));
    json_object_set_new(json_array_get(body, 1), "playbackCaptions", json_array());
    cfg = parse_ok(&o, &mi, body);
    test_assert_json(kp_json_path(cfg, "sources.captions"), "[]");
    json_decref(cfg);
    json_decref(body);
}

static void test_parse_ks_in_urls(void **state)
{
    (void)state;
    kp_provider_opts o = test_ovp_opts();
    o.ks = "K2";
    o.uiconf_id = 77;
    kp_media_info mi = media("0_vod");
    json_t *body = test_provider_json("vod_anon.json");
    json_array_remove(body, 0); /* with a KS there is no session slot */
    json_t *cfg = parse_ok(&o, &mi, body);
    test_assert_json(json_object_get(cfg, "session"),
                     "{\"isAnonymous\":false,\"partnerId\":123,\"uiConfId\":77,\"ks\":\"K2\"}");
    assert_string_equal(str_at(cfg, "sources.hls.0.url"),
                        PM "/protocol/https/format/applehttp/flavorIds/0_v1,0_v2/ks/K2/a.m3u8"
                           "?uiConfId=77");
    assert_string_equal(str_at(cfg, "sources.progressive.0.url"),
                        PM "/protocol/https/format/url/flavorIds/0_v1/ks/K2/a.mp4?uiConfId=77");
    /* the bumper uses uiConfId 0 */
    assert_string_equal(str_at(cfg, "plugins.bumper.url"),
                        "https://cdnapisec.kaltura.com/p/123/sp/12300/playManifest/entryId/0_bump"
                        "/protocol/https/format/url/flavorIds/0_v1/ks/K2/a.mp4");
    json_decref(cfg);

    /* the caller's own user.get answer */
    o.is_anonymous = 1;
    cfg = parse_ok(&o, &mi, body);
    assert_true(kp_json_bool(cfg, "session.isAnonymous", false));
    json_decref(cfg);

    /* useHeaderForKs: no KS in manifest or caption URLs, but the bumper keeps it */
    o.use_header_for_ks = true;
    o.uiconf_id = 0;
    cfg = parse_ok(&o, &mi, body);
    assert_string_equal(str_at(cfg, "sources.hls.0.url"),
                        PM "/protocol/https/format/applehttp/flavorIds/0_v1,0_v2/a.m3u8");
    assert_string_equal(str_at(cfg, "sources.captions.0.url"), "https://cap.example/en.srt");
    assert_non_null(strstr(str_at(cfg, "plugins.bumper.url"), "/ks/K2/"));
    json_decref(cfg);

    /* a source without flavorIds keeps the server URL, with the KS appended */
    o.use_header_for_ks = false;
    json_t *dash = kp_json_path(body, "1.sources.1");
    json_object_set_new(dash, "flavorIds", json_string(""));
    json_object_set_new(dash, "url", json_string("https://cdn.example/p/1/manifest.mpd"));
    cfg = parse_ok(&o, &mi, body);
    assert_string_equal(str_at(cfg, "sources.dash.0.url"),
                        "https://cdn.example/p/1/manifest.mpd?ks=K2");
    json_decref(cfg);
    json_object_set_new(dash, "url", json_string("https://cdn.example/p/1/format/mpegdash"));
    cfg = parse_ok(&o, &mi, body);
    assert_string_equal(str_at(cfg, "sources.dash.0.url"),
                        "https://cdn.example/p/1/format/mpegdash/ks/K2");
    json_decref(cfg);
    json_decref(body);
}

static void test_parse_custom_widget_ks(void **state)
{
    (void)state;
    kp_provider_opts o = test_ovp_opts();
    o.widget_id = "_555";
    kp_media_info mi = media("0_vod");
    json_t *body = test_provider_json("vod_anon.json");
    json_t *cfg = parse_ok(&o, &mi, body);
    /* a non-default widget's KS goes into the URLs */
    assert_non_null(strstr(str_at(cfg, "sources.hls.0.url"), "/ks/WKS/a.m3u8"));
    assert_string_equal(str_at(cfg, "session.ks"), "WKS");
    json_decref(cfg);
    o.widget_id = "_123"; /* spelled out, but the default one: no KS in URLs */
    cfg = parse_ok(&o, &mi, body);
    assert_null(strstr(str_at(cfg, "sources.hls.0.url"), "/ks/"));
    json_decref(cfg);
    json_decref(body);
}

static void test_parse_protocol_mismatch(void **state)
{
    (void)state;
    kp_provider_opts o = test_ovp_opts();
    kp_media_info mi = media("0_vod");
    json_t *body = test_provider_json("vod_anon.json");
    o.cdn_url = "http://cdn.example";
    o.service_url = "http://api.example/api_v3";
    json_t *cfg = parse_ok(&o, &mi, body);
    /* base protocol http: the https-only DASH source is dropped, HLS and MP4 stay */
    assert_int_equal(json_array_size(kp_json_path(cfg, "sources.dash")), 0);
    assert_string_equal(str_at(cfg, "sources.hls.0.url"),
                        "http://api.example/p/123/sp/12300/playManifest/entryId/0_vod/protocol/http"
                        "/format/applehttp/flavorIds/0_v1,0_v2/a.m3u8");
    assert_int_equal(json_array_size(kp_json_path(cfg, "sources.progressive")), 2);
    /* the bumper's source is https only: no bumper */
    test_assert_json(json_object_get(cfg, "plugins"), "{}");
    json_decref(cfg);

    /* every source https only with an http base: nothing playable, 3001 */
    json_t *sources = kp_json_path(body, "2.sources");
    for (size_t i = 0; i < json_array_size(sources); i++)
        json_object_set_new(json_array_get(sources, i), "protocols", json_string("https"));
    json_t *err = parse_err(&o, &mi, body, 3001);
    test_assert_json(err, "{\"severity\":2,\"category\":2,\"code\":3001,\"data\":{\"action\":\"\","
                          "\"messages\":\"No play source for entry id: 0_vod\"}}");
    json_decref(err);
    json_decref(body);
}

static void test_parse_bumper(void **state)
{
    (void)state;
    kp_provider_opts o = test_ovp_opts();
    kp_media_info mi = media("0_vod");
    json_t *body = test_provider_json("vod_anon.json");
    json_t *cfg = parse_ok(&o, &mi, body);
    /* the bumper's progressive URL is built from the main entry's first flavor */
    test_assert_json(
        json_object_get(cfg, "plugins"),
        "{\"bumper\":{\"url\":\"https://cdnapisec.kaltura.com/p/123/sp/12300/playManifest"
        "/entryId/0_bump/protocol/https/format/url/flavorIds/0_v1/a.mp4\","
        "\"clickThroughUrl\":\"https://click.example/\"}}");
    json_decref(cfg);
    json_object_set_new(kp_json_path(body, "2.bumperData.0"), "sources", json_array());
    cfg = parse_ok(&o, &mi, body);
    test_assert_json(json_object_get(cfg, "plugins"), "{}");
    json_decref(cfg);
    json_decref(body);
}

static void test_parse_result_wrapper(void **state)
{
    (void)state;
    kp_provider_opts o = test_ovp_opts();
    kp_media_info mi = media("0_vod");
    json_t *arr = test_provider_json("vod_anon.json");
    json_t *wrapped = json_pack("{s:O}", "result", arr);
    json_t *cfg = parse_ok(&o, &mi, wrapped);
    assert_string_equal(str_at(cfg, "sources.id"), "0_vod");
    json_decref(cfg);

    /* a UTF-8 BOM is dropped, as XHR's responseText drops it */
    char *s = json_dumps(arr, JSON_COMPACT);
    char *bom = kp_asprintf("\xEF\xBB\xBF%s", s);
    json_t *err = NULL;
    parse_full(&o, &mi, NULL, bom, 200, &cfg, &err);
    assert_null(err);
    assert_string_equal(str_at(cfg, "sources.id"), "0_vod");
    json_decref(cfg);
    free(bom);
    free(s);
    json_decref(wrapped);
    json_decref(arr);
}

/* ---- error paths ---------------------------------------------------------------------------- */

static void test_error_1006_and_headers(void **state)
{
    (void)state;
    kp_provider_opts o = test_ovp_opts();
    kp_media_info mi = media("0_nope");
    json_t *body = test_provider_json("entry_not_found.json");
    static const char *const hdrs[] = {"Content-Type: application/json",
                                       "X-Me: b ",
                                       "x-kaltura-session:  9",
                                       "X-ME: a",
                                       "Set-Cookie: s=1",
                                       "malformed"};
    char *text = json_dumps(body, JSON_COMPACT);
    kp_http_outcome h = {.status = 200,
                         .body = text,
                         .body_len = strlen(text),
                         .url = "U",
                         .headers = hdrs,
                         .n_headers = 6,
                         .attempt = 1};
    json_t *cfg, *err;
    assert_int_equal(kp_ovp_media_parse(&o, &mi, &h, &cfg, &err), 0);
    assert_null(cfg);
    /* x- only, lower-cased, same names combined, sorted, "\r" kept; args dropped; both
     * exception forms (bare and under "error") count */
    test_assert_json(err,
                     "{\"severity\":2,\"category\":1,\"code\":1006,\"data\":{\"url\":\"U\","
                     "\"headers\":[\"x-kaltura-session: 9\\r\",\"x-me: b, a\\r\"],"
                     "\"results\":[{\"hasError\":false,\"data\":{\"partnerId\":123,\"ks\":\"WKS\","
                     "\"userId\":0,\"objectType\":\"KalturaStartWidgetSessionResponse\"}},"
                     "{\"hasError\":true,\"error\":{\"code\":\"INVALID_ENTRY_ID\","
                     "\"message\":\"Invalid entry id [\\\"0_nope\\\"]\"}},"
                     "{\"hasError\":true,\"error\":{\"code\":\"ENTRY_ID_NOT_FOUND\","
                     "\"message\":\"Entry id \\\"\\\" not found\"}},"
                     "{\"hasError\":false,\"data\":{\"objects\":[],\"totalCount\":0,"
                     "\"objectType\":\"KalturaMetadataListResponse\"}}]}}");
    json_decref(err);
    free(text);

    /* the whole body one exception object: results has one item */
    json_t *one = json_pack("{s:s, s:s, s:s}", "code", "SERVICE_FORBIDDEN", "message", "no",
                            "objectType", "KalturaAPIException");
    err = parse_err(&o, &mi, one, 1006);
    assert_int_equal(json_array_size(kp_json_path(err, "data.results")), 1);
    assert_string_equal(str_at(err, "data.results.0.error.code"), "SERVICE_FORBIDDEN");
    assert_string_equal(str_at(err, "data.url"), MR_URL);
    json_decref(err);
    json_decref(one);

    /* an empty array: no result succeeded */
    json_t *empty = json_array();
    err = parse_err(&o, &mi, empty, 1006);
    json_decref(err);
    json_decref(empty);
    json_decref(body);
}

static void test_error_empty_list_is_1006_not_hang(void **state)
{
    (void)state;
    kp_provider_opts o = test_ovp_opts();
    kp_media_info mi = media("0_nope");
    mi.redirect_from_entry_id = 0;
    json_t *body = test_provider_json("vod_anon.json");
    json_t *list = json_array_get(body, 1);
    json_object_set_new(list, "objects", json_array());
    json_object_set_new(list, "totalCount", json_integer(0));
    /* no error item: the JS throws a TypeError; kpsim reports 1007 */
    json_t *err = parse_err(&o, &mi, body, 1007);
    json_decref(err);
    /* with an error item the real provider hangs; kpsim gives the intended 1006 */
    json_array_set_new(body, 2,
                       json_pack("{s:s, s:s, s:s}", "code", "ENTRY_ID_NOT_FOUND", "message", "m",
                                 "objectType", "KalturaAPIException"));
    err = parse_err(&o, &mi, body, 1006);
    assert_int_equal(json_array_size(kp_json_path(err, "data.results")), 4);
    assert_true(kp_json_bool(err, "data.results.2.hasError", false));
    json_decref(err);
    json_decref(body);
}

static void test_error_2004_deleted(void **state)
{
    (void)state;
    kp_provider_opts o = test_ovp_opts();
    kp_media_info mi = media("0_vod");
    json_t *body = test_provider_json("vod_anon.json");
    json_object_set_new(kp_json_path(body, "1.objects.0"), "status", json_integer(3));
    /* deleted, but the list alone is not an error: it still plays */
    json_t *cfg = parse_ok(&o, &mi, body);
    json_decref(cfg);
    json_array_set_new(body, 2,
                       json_pack("{s:s, s:s, s:s}", "code", "ENTRY_ID_NOT_FOUND", "message", "m",
                                 "objectType", "KalturaAPIException"));
    json_t *err = parse_err(&o, &mi, body, 2004);
    test_assert_json(err, "{\"severity\":2,\"category\":2,\"code\":2004,\"data\":{}}");
    json_decref(err);
    json_decref(body);
}

static void test_error_2001_block(void **state)
{
    (void)state;
    kp_provider_opts o = test_ovp_opts();
    kp_media_info mi = media("0_vod");
    json_t *body = test_provider_json("vod_anon.json");
    json_t *pbc = json_array_get(body, 2);
    json_object_set_new(
        pbc, "actions",
        json_pack("[{s:i, s:s}]", "type", 1, "objectType", "KalturaAccessControlBlockAction"));
    json_object_set_new(pbc, "messages",
                        json_pack("[{s:s, s:s, s:s}]", "message", "Un authorized country", "code",
                                  "COUNTRY_RESTRICTED", "objectType",
                                  "KalturaAccessControlMessage"));
    json_t *err = parse_err(&o, &mi, body, 2001);
    test_assert_json(err, "{\"severity\":2,\"category\":2,\"code\":2001,\"data\":{\"action\":"
                          "{\"type\":1},\"messages\":[{\"message\":\"Un authorized country\","
                          "\"code\":\"COUNTRY_RESTRICTED\"}]}}");
    json_decref(err);
    /* BLOCK with no messages, and BLOCK before SCHEDULED_RESTRICTED */
    json_object_set_new(pbc, "messages", json_array());
    err = parse_err(&o, &mi, body, 2001);
    test_assert_json(kp_json_path(err, "data.messages"), "[]");
    json_decref(err);
    json_decref(body);
}

static void test_error_2003_scheduled(void **state)
{
    (void)state;
    kp_provider_opts o = test_ovp_opts();
    kp_media_info mi = media("0_vod");
    json_t *body = test_provider_json("vod_anon.json");
    json_object_set_new(
        json_array_get(body, 2), "messages",
        json_pack("[{s:s, s:s}]", "message", "Out of scheduling", "code", "SCHEDULED_RESTRICTED"));
    json_t *err = parse_err(&o, &mi, body, 2003);
    test_assert_json(err,
                     "{\"severity\":2,\"category\":2,\"code\":2003,\"data\":{\"messages\":"
                     "[{\"message\":\"Out of scheduling\",\"code\":\"SCHEDULED_RESTRICTED\"}]}}");
    json_decref(err);
    json_decref(body);
}

static void test_error_2002_status(void **state)
{
    (void)state;
    kp_provider_opts o = test_ovp_opts();
    kp_media_info mi = media("0_vod");
    json_t *body = test_provider_json("vod_anon.json");
    json_object_set_new(kp_json_path(body, "1.objects.0"), "status", json_integer(1));
    json_t *err = parse_err(&o, &mi, body, 2002);
    test_assert_json(err,
                     "{\"severity\":2,\"category\":2,\"code\":2002,\"data\":{\"messages\":"
                     "\"Status of entry id 0_vod is 1 and is still being imported or converted\","
                     "\"data\":{\"status\":\"\"}}}");
    json_decref(err);
    json_decref(body);
}

static void test_error_transport_status_and_body(void **state)
{
    (void)state;
    kp_provider_opts o = test_ovp_opts();
    kp_media_info mi = media("0_vod");
    json_t *cfg, *err;

    /* 1005: HTTP 200 whose body is not JSON */
    parse_full(&o, &mi, NULL, "<html>oops</html>", 200, &cfg, &err);
    test_assert_json(err, "{\"severity\":2,\"category\":1,\"code\":1005,\"data\":{\"text\":"
                          "\"<html>oops</html>\",\"url\":\"" MR_URL "\",\"headers\":"
                          "[\"x-kaltura-session: 7\\r\"],\"attempt\":1}}");
    json_decref(err);

    /* 1001: kpsim's answer to a non-200 status (the real provider hangs) */
    parse_full(&o, &mi, NULL, "{\"code\":\"x\"}", 503, &cfg, &err);
    test_assert_json(err, "{\"severity\":2,\"category\":1,\"code\":1001,\"data\":{\"url\":\"" MR_URL
                          "\",\"status\":503,\"headers\":[\"x-kaltura-session: 7\\r\"],"
                          "\"text\":\"{\\\"code\\\":\\\"x\\\"}\"}}");
    json_decref(err);

    /* 1002: no HTTP answer, after the last attempt */
    kp_http_outcome h = {.transport_error = KP_EHTTP,
                         .transport_text = "connection refused",
                         .headers = k_hdrs,
                         .n_headers = 2,
                         .attempt = 4};
    assert_int_equal(kp_ovp_media_parse(&o, &mi, &h, &cfg, &err), 0);
    assert_null(cfg);
    test_assert_json(err, "{\"severity\":2,\"category\":1,\"code\":1002,\"data\":{\"text\":\"\","
                          "\"statusText\":\"\",\"url\":\"" MR_URL "\",\"headers\":"
                          "[\"x-kaltura-session: 7\\r\"],\"attempt\":4}}");
    json_decref(err);

    /* 1003: timed out */
    h.transport_error = KP_ETIMEDOUT;
    h.elapsed_ms = 2500;
    assert_int_equal(kp_ovp_media_parse(&o, &mi, &h, &cfg, &err), 0);
    assert_int_equal(kp_json_int(err, "code", 0), 1003);
    assert_true(fabs(kp_json_num(err, "data.timeout", 0) - 2.5) < 1e-9);
    json_decref(err);

    /* invalid UTF-8 in a non-JSON body is decoded as XHR does */
    parse_full(&o, &mi, NULL,
               "a\xff"
               "b",
               200, &cfg, &err);
    assert_string_equal(str_at(err, "data.text"), "a\xEF\xBF\xBD"
                                                  "b");
    json_decref(err);

    /* JSON null: nothing the provider can use */
    parse_full(&o, &mi, NULL, "null", 200, &cfg, &err);
    assert_int_equal(kp_json_int(err, "code", 0), 1005);
    json_decref(err);
}

/* ---- other entry kinds ---------------------------------------------------------------------- */

static void test_parse_image_document_youtube(void **state)
{
    (void)state;
    kp_provider_opts o = test_ovp_opts();
    kp_media_info mi = media("0_vod");
    json_t *body = test_provider_json("vod_anon.json");
    json_t *entry = kp_json_path(body, "1.objects.0");
    json_object_set_new(entry, "mediaType", json_integer(2));
    json_object_set_new(entry, "dataUrl",
                        json_string("https://img.example/p/123/thumbnail/entry_id/0_vod/def/1"));
    json_t *cfg = parse_ok(&o, &mi, body);
    test_assert_json(
        kp_json_path(cfg, "sources.image"),
        "[{\"id\":\"0_vod\",\"url\":\"https://img.example/p/123/thumbnail/entry_id/0_vod\","
        "\"mimetype\":\"\"}]");
    assert_string_equal(str_at(cfg, "sources.type"), "Image");
    assert_int_equal(json_array_size(kp_json_path(cfg, "sources.hls")), 0);
    json_decref(cfg);
    json_object_set_new(entry, "dataUrl", json_string("https://img.example/no-id"));
    json_t *err = parse_err(&o, &mi, body, 1007);
    json_decref(err);

    json_object_set_new(entry, "mediaType", json_integer(1));
    json_object_set_new(entry, "type", json_integer(10));
    json_object_set_new(entry, "downloadUrl", json_string("https://dl.example/doc.pdf"));
    cfg = parse_ok(&o, &mi, body);
    test_assert_json(kp_json_path(cfg, "sources.document"),
                     "[{\"id\":\"0_vod\",\"url\":\"https://dl.example/doc.pdf\",\"thumbnailUrl\":"
                     "\"https://img.example/p/123/thumbnail/entry_id/0_vod/version/1\","
                     "\"mimetype\":\"\"}]");
    assert_string_equal(str_at(cfg, "sources.type"), "Document");
    json_decref(cfg);

    json_object_set_new(entry, "type", json_string("externalMedia.externalMedia"));
    json_object_set_new(entry, "referenceId", json_string("yt123"));
    cfg = parse_ok(&o, &mi, body);
    test_assert_json(
        kp_json_path(cfg, "sources.progressive"),
        "[{\"id\":\"0_vod_youtube\",\"url\":\"yt123\",\"mimetype\":\"video/youtube\"}]");
    assert_string_equal(str_at(cfg, "sources.type"), "Unknown");
    json_decref(cfg);
    json_decref(body);
}

static void test_parse_live_dvr_and_audio_only(void **state)
{
    (void)state;
    kp_provider_opts o = test_ovp_opts();
    kp_media_info mi = media("0_vod");
    json_t *body = test_provider_json("vod_anon.json");
    json_t *entry = kp_json_path(body, "1.objects.0");
    json_object_set_new(entry, "type", json_integer(7));
    json_object_set_new(entry, "dvrStatus", json_integer(1));
    json_object_set_new(json_array_get(body, 2), "activeLiveStreamTime",
                        json_pack("{s:i, s:i}", "startTime", 10, "endTime", 20));
    json_t *cfg = parse_ok(&o, &mi, body);
    assert_true(kp_json_bool(cfg, "sources.dvr", false));
    test_assert_json(kp_json_path(cfg, "sources.activeLiveStreamTime"),
                     "{\"startTime\":10,\"endTime\":20}");
    json_decref(cfg);

    /* only audio flavors: they are the progressive sources, mp3 gets audio/mp3 */
    json_object_set_new(entry, "type", json_integer(1));
    json_object_set_new(entry, "mediaType", json_integer(5));
    json_array_remove(kp_json_path(body, "2.flavorAssets"), 0);
    json_array_remove(kp_json_path(body, "2.flavorAssets"), 0);
    cfg = parse_ok(&o, &mi, body);
    assert_string_equal(str_at(cfg, "sources.type"), "Audio");
    test_assert_json(kp_json_path(cfg, "sources.progressive"),
                     "[{\"id\":\"0_a17,url\",\"url\":\"" PM
                     "/protocol/https/format/url/flavorIds/0_a1/a.mp3\",\"mimetype\":\"audio/mp3\","
                     "\"bandwidth\":131072,\"label\":\"Spanish\"}]");
    assert_null(kp_json_path(cfg, "sources.metadata.aspectRatio"));
    json_decref(cfg);
    json_decref(body);
}

/* ---- eCDN regex ----------------------------------------------------------------------------- */

static json_t *with_regex_action(long long check_alive_ms)
{
    json_t *body = test_provider_json("vod_anon.json");
    json_t *action =
        json_pack("{s:i, s:s, s:s}", "type", 7, "pattern", "^(https?):\\/\\/([^\\/]+)(\\/)?",
                  "replacement", "$1://ecdn.example/kAPI/$2");
    if (check_alive_ms)
        json_object_set_new(action, "checkAliveTimeoutMs", json_integer(check_alive_ms));
    json_object_set_new(json_array_get(body, 2), "actions", json_pack("[o]", action));
    return body;
}

static void test_regex_rewrite(void **state)
{
    (void)state;
    kp_provider_opts o = test_ovp_opts();
    kp_media_info mi = media("0_vod");
    json_t *body = with_regex_action(0);
    json_t *cfg = parse_ok(&o, &mi, body);
    const char *want_hls = "https://ecdn.example/kAPI/cdnapisec.kaltura.com/p/123/sp/12300/"
                           "playManifest/entryId/0_vod/protocol/https/format/applehttp/flavorIds/"
                           "0_v1,0_v2/a.m3u8";
    assert_string_equal(str_at(cfg, "sources.hls.0.url"), want_hls);
    assert_non_null(strstr(str_at(cfg, "sources.progressive.1.url"), "//ecdn.example/kAPI/cdnapi"));
    assert_string_equal(str_at(cfg, "sources.captions.0.url"),
                        "https://ecdn.example/kAPI/cap.example/en.srt");
    assert_string_equal(str_at(cfg, "sources.poster"),
                        "https://ecdn.example/kAPI/img.example/p/123/thumbnail/entry_id/0_vod/"
                        "version/1");
    /* rawThumbnailUrl and the bumper are not rewritten */
    assert_string_equal(str_at(cfg, "sources.rawThumbnailUrl"),
                        "https://img.example/p/123/thumbnail/entry_id/0_vod/version/1");
    assert_null(strstr(str_at(cfg, "plugins.bumper.url"), "ecdn"));
    json_decref(cfg);

    o.replace_host_only_manifest_urls = true;
    cfg = parse_ok(&o, &mi, body);
    assert_string_equal(str_at(cfg, "sources.hls.0.url"), want_hls);
    assert_string_equal(str_at(cfg, "sources.captions.0.url"), "https://cap.example/en.srt");
    assert_null(strstr(str_at(cfg, "sources.poster"), "ecdn"));
    json_decref(cfg);

    /* the pattern must match the CDN URL */
    o.replace_host_only_manifest_urls = false;
    o.cdn_url = "ftp-less-cdn";
    cfg = parse_ok(&o, &mi, body);
    assert_null(strstr(str_at(cfg, "sources.hls.0.url"), "ecdn"));
    json_decref(cfg);
    json_decref(body);
}

static void test_regex_ping_hook(void **state)
{
    (void)state;
    kp_provider_opts o = test_ovp_opts();
    kp_media_info mi = media("0_vod");
    json_t *body = with_regex_action(1500);
    char *text = json_dumps(body, JSON_COMPACT);
    kp_http_outcome h = {.status = 200, .body = text, .body_len = strlen(text)};
    json_t *cfg, *err;
    assert_int_equal(kp_ovp_media_parse(&o, &mi, &h, &cfg, &err), 0);
    /* a ping is wanted first: the URLs are kept */
    assert_null(strstr(str_at(cfg, "sources.hls.0.url"), "ecdn"));
    char *ping;
    long long timeout;
    assert_int_equal(kp_ovp_ecdn_ping(&o, &mi, &h, &ping, &timeout), 1);
    assert_string_equal(ping, "https://ecdn.example/kAPI/cdnapisec.kaltura.com/api_v3/service/"
                              "system/action/ping/format/1");
    assert_int_equal(timeout, 1500);
    free(ping);
    assert_int_equal(kp_ovp_ecdn_apply(&o, &mi, &h, cfg), 1);
    assert_non_null(strstr(str_at(cfg, "sources.hls.0.url"), "//ecdn.example/kAPI/"));
    json_decref(cfg);
    free(text);
    json_decref(body);

    /* no action: nothing to ping */
    body = test_provider_json("vod_anon.json");
    text = json_dumps(body, JSON_COMPACT);
    h.body = text;
    h.body_len = strlen(text);
    assert_int_equal(kp_ovp_ecdn_ping(&o, &mi, &h, &ping, &timeout), 0);
    assert_null(ping);
    free(text);
    json_decref(body);
}

/* ---- internals ------------------------------------------------------------------------------ */

static void test_js_helpers(void **state)
{
    (void)state;
    /* toFixed(2) rounds exact ties up, unlike printf */
    assert_true(kp_ovp__round2(9.0 / 8.0) == 1.13);
    assert_true(kp_ovp__round2(16.0 / 9.0) == 1.78);
    assert_true(kp_ovp__round2(4.0 / 3.0) == 1.33);
    assert_true(kp_ovp__round2(0.995) == 0.99); /* 0.995 is below the tie in binary */
    kp_buf b;
    kp_buf_init(&b);
    const double nums[] = {0.1, 1e21, 1.5e-7, 123456789012, -2.5};
    const char *want = "0.1|1e+21|1.5e-7|123456789012|-2.5|";
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(kp_ovp__put_num(&b, nums[i]), 0);
        kp_buf_putc(&b, '|');
    }
    assert_string_equal(b.data, want);
    kp_buf_free(&b);
    json_t *s = json_string(" 12 ");
    assert_true(kp_ovp__number(s) == 12);
    json_decref(s);
    s = json_string("12px");
    assert_true(isnan(kp_ovp__number(s)));
    json_decref(s);
    assert_false(kp_ovp__truthy(NULL));
    json_t *z = json_real(0.0);
    assert_false(kp_ovp__truthy(z));
    json_decref(z);
}

static void test_regex_translation(void **state)
{
    (void)state;
    kp_ovp__regex *re;
    char *out;
    assert_int_equal(kp_ovp__regex_new("^(?:https?):\\/\\/(\\w+)\\.example\\.com", &re), 0);
    assert_true(kp_ovp__regex_test(re, "HTTPS://cdn.example.com/x"));
    assert_int_equal(kp_ovp__regex_replace(re, "https://cdn.example.com/x", "[$1|$&|$$|$2]", &out),
                     0);
    assert_string_equal(out, "[cdn|https://cdn.example.com|$|$2]/x");
    free(out);
    kp_ovp__regex_free(re);
    assert_int_equal(kp_ovp__regex_new("a(?=b)", &re), KP_ENOTSUP);
    assert_int_equal(kp_ovp__regex_new("a+?", &re), KP_ENOTSUP);
    assert_int_equal(kp_ovp__regex_new("(a)\\1", &re), KP_ENOTSUP);
    assert_int_equal(kp_ovp__regex_new("[-a\\]^]x{2}", &re), 0);
    assert_true(kp_ovp__regex_test(re, "]xx"));
    assert_false(kp_ovp__regex_test(re, "bxx"));
    kp_ovp__regex_free(re);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_anonymous),
        cmocka_unit_test(test_request_with_ks),
        cmocka_unit_test(test_request_partner0_and_defaults),
        cmocka_unit_test(test_request_filters_and_referrer),
        cmocka_unit_test(test_request_missing_id),
        cmocka_unit_test(test_parse_vod_sources),
        cmocka_unit_test(test_parse_metadata),
        cmocka_unit_test(test_parse_captions),
        cmocka_unit_test(test_parse_ks_in_urls),
        cmocka_unit_test(test_parse_custom_widget_ks),
        cmocka_unit_test(test_parse_protocol_mismatch),
        cmocka_unit_test(test_parse_bumper),
        cmocka_unit_test(test_parse_result_wrapper),
        cmocka_unit_test(test_error_1006_and_headers),
        cmocka_unit_test(test_error_empty_list_is_1006_not_hang),
        cmocka_unit_test(test_error_2004_deleted),
        cmocka_unit_test(test_error_2001_block),
        cmocka_unit_test(test_error_2003_scheduled),
        cmocka_unit_test(test_error_2002_status),
        cmocka_unit_test(test_error_transport_status_and_body),
        cmocka_unit_test(test_parse_image_document_youtube),
        cmocka_unit_test(test_parse_live_dvr_and_audio_only),
        cmocka_unit_test(test_regex_rewrite),
        cmocka_unit_test(test_regex_ping_hook),
        cmocka_unit_test(test_js_helpers),
        cmocka_unit_test(test_regex_translation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
