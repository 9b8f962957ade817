/* test_engine_dash.c: the DASH engine's failures, over real sockets against the mock back-end
 * (canned answers on GET paths): an MPD that is missing (1001 BAD_HTTP_STATUS with the status),
 * not XML (4001 with the line), dynamic (4011), protected without a license server (6012) or
 * on a platform without its key system (6001, the key systems in the data), a segment missing
 * (1001), the connection reset (1002); and the start-up events before the failure.
 */
#include "eme.h"
#include "engine.h"
#include "mock_server.h"

#include "kp/jsonu.h"
#include "kp/perror.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>

#include <cmocka.h>

typedef struct run {
    kp_sched *sched;
    kp_net *net;
    kp_media *media;
    json_t *events; /* [type, ...] */
    json_t *error;
    bool loaded;
} run;

static void on_emit(void *ud, kp_event_type type, json_t *payload)
{
    run *r = ud;
    json_array_append_new(r->events, json_string(kp_event_name(type)));
    json_decref(payload);
}

static void on_loaded(void *ud, json_t *tracks)
{
    run *r = ud;
    r->loaded = true;
    json_decref(tracks);
}

static void on_fail(void *ud, json_t *error)
{
    run *r = ud;
    assert_null(r->error); /* one failure only */
    r->error = error;
}

static void serve(test_mock *m, const char *path, int status, const char *body, mbe_reply_kind k)
{
    mbe_override ov = {.method = "GET",
                       .path = path,
                       .kind = k,
                       .status = status,
                       .content_type = "application/dash+xml",
                       .body = body,
                       .body_len = strlen(body)};
    assert_int_equal(mbe_server_override(m->srv, &ov), 0);
}

/* Plays path's MPD for 5 virtual seconds; returns the error (owned by the caller) or NULL. */
static json_t *play(test_mock *m, const char *path, const char *drm_json, json_t **events)
{
    run r = {0};
    r.sched = kp_sched_new();
    r.net = kp_net_new(r.sched, NULL, NULL);
    r.media = kp_media_new(r.sched);
    r.events = json_array();
    kp_engine_host host = {.sched = r.sched,
                           .net = r.net,
                           .media = r.media,
                           .log = NULL,
                           .ud = &r,
                           .emit = on_emit,
                           .loaded = on_loaded,
                           .fail = on_fail};
    char url[256];
    snprintf(url, sizeof(url), "%s%s", mbe_server_url(m->srv), path);
    json_t *source = json_pack("{s:s, s:s}", "url", url, "mimetype", "application/dash+xml");
    if (drm_json) {
        /* as the player does for a source with drmData: here a platform with no key system */
        json_object_set_new(source, "drmData", json_loads(drm_json, 0, NULL));
        kp_eme_host eh = {
            .sched = r.sched, .net = r.net, .ud = &r, .emit = on_emit, .fail = on_fail};
        host.eme = kp_eme_new(&eh, json_object_get(source, "drmData"), 0, NULL);
        assert_non_null(host.eme);
    }
    json_t *config = json_object();
    assert_true(kp_engine_dash.can_play(source, config));
    void *e = kp_engine_dash.create(&host, source, config);
    assert_non_null(e);
    kp_engine_dash.load(e);
    kp_sched_run_until(r.sched, KP_SEC(5));
    kp_engine_dash.destroy(e);
    kp_eme_free(host.eme);
    json_decref(source);
    json_decref(config);
    kp_media_free(r.media);
    kp_net_free(r.net);
    kp_sched_free(r.sched);
    *events = r.events;
    return r.error;
}

static void check(const json_t *err, int category, int code)
{
    assert_non_null(err);
    assert_int_equal(kp_json_int(err, "severity", 0), KP_SEVERITY_CRITICAL);
    assert_int_equal(kp_json_int(err, "category", 0), category);
    assert_int_equal(kp_json_int(err, "code", 0), code);
}

static const char good_mpd[] =
    "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"static\" "
    "mediaPresentationDuration=\"PT4S\"><Period>"
    "<AdaptationSet contentType=\"video\" mimeType=\"video/mp4\">"
    "<SegmentTemplate media=\"seg-$Number$.m4s\" initialization=\"init.m4s\" duration=\"2\"/>"
    "<Representation id=\"v\" bandwidth=\"100000\" width=\"320\" height=\"180\"/>"
    "</AdaptationSet></Period></MPD>";

static void test_manifest_errors(void **state)
{
    test_mock *m = *state;
    json_t *ev;
    serve(m, "/t/missing.mpd", 404, "not here", MBE_REPLY_HTTP);
    json_t *err = play(m, "/t/missing.mpd", NULL, &ev);
    check(err, KP_PCAT_NETWORK, KP_PCODE_BAD_HTTP_STATUS);
    assert_int_equal(kp_json_int(err, "data.responseCode", 0), 404);
    assert_string_equal(kp_json_str(json_array_get(ev, 0), "", "?"), "abrmodechanged");
    assert_int_equal(json_array_size(ev), 1); /* no manifestloaded */
    json_decref(err);
    json_decref(ev);

    serve(m, "/t/reset.mpd", 200, "", MBE_REPLY_RESET);
    err = play(m, "/t/reset.mpd", NULL, &ev);
    check(err, KP_PCAT_NETWORK, KP_PCODE_HTTP_ERROR);
    json_decref(err);
    json_decref(ev);

    serve(m, "/t/bad.mpd", 200, "<MPD>\n<Period>\n</MPD>", MBE_REPLY_HTTP);
    err = play(m, "/t/bad.mpd", NULL, &ev);
    check(err, KP_PCAT_MANIFEST, 4001);
    assert_int_equal(kp_json_int(err, "data.line", 0), 3);
    assert_non_null(strstr(kp_json_str(err, "data.reason", ""), "not well-formed XML"));
    /* manifestloaded fires on the answer, before the parse fails */
    assert_string_equal(kp_json_str(json_array_get(ev, 1), "", "?"), "manifestloaded");
    json_decref(err);
    json_decref(ev);

    serve(m, "/t/live.mpd", 200, "<MPD type=\"dynamic\"><Period/></MPD>", MBE_REPLY_HTTP);
    err = play(m, "/t/live.mpd", NULL, &ev);
    check(err, KP_PCAT_MANIFEST, 4011);
    assert_string_equal(kp_json_str(err, "data.reason", ""),
                        "MPD@type=\"dynamic\" (live) is not supported");
    json_decref(err);
    json_decref(ev);
}

static void test_protected(void **state)
{
    test_mock *m = *state;
    static const char prot[] =
        "<MPD type=\"static\" mediaPresentationDuration=\"PT4S\"><Period>"
        "<AdaptationSet mimeType=\"video/mp4\">"
        "<ContentProtection schemeIdUri=\"urn:mpeg:dash:mp4protection:2011\" value=\"cenc\"/>"
        "<ContentProtection schemeIdUri=\"urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed\"/>"
        "<SegmentTemplate media=\"s-$Number$\" duration=\"2\"/>"
        "<Representation id=\"v\" bandwidth=\"1\"/></AdaptationSet></Period></MPD>";
    serve(m, "/t/prot.mpd", 200, prot, MBE_REPLY_HTTP);
    json_t *ev;
    json_t *err = play(m, "/t/prot.mpd", NULL, &ev);
    check(err, KP_PCAT_DRM, 6012);
    assert_string_equal(kp_json_str(err, "data.contentProtection.0.value", ""), "cenc");
    assert_string_equal(kp_json_str(err, "data.contentProtection.1.schemeIdUri", ""),
                        "urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed");
    json_decref(err);
    json_decref(ev);
    err = play(m, "/t/prot.mpd",
               "[{\"licenseUrl\":\"http://127.0.0.1/l\",\"scheme\":\"com.widevine.alpha\"}]", &ev);
    check(err, KP_PCAT_DRM, 6001);
    assert_string_equal(kp_json_str(err, "data.keySystems.0", ""), "com.widevine.alpha");
    json_decref(err);
    json_decref(ev);
}

static void test_segment_missing(void **state)
{
    test_mock *m = *state;
    serve(m, "/t/good.mpd", 200, good_mpd, MBE_REPLY_HTTP);
    serve(m, "/t/init.m4s", 404, "", MBE_REPLY_HTTP);
    json_t *ev;
    json_t *err = play(m, "/t/good.mpd", NULL, &ev);
    check(err, KP_PCAT_NETWORK, KP_PCODE_BAD_HTTP_STATUS);
    assert_non_null(strstr(kp_json_str(err, "data.url", ""), "/t/init.m4s"));
    /* abrmodechanged manifestloaded videotrackchanged, and load resolved */
    assert_int_equal(json_array_size(ev), 3);
    assert_string_equal(kp_json_str(json_array_get(ev, 2), "", "?"), "videotrackchanged");
    json_decref(err);
    json_decref(ev);
}

static int setup(void **state)
{
    mbe_config cfg = {.partner_id = 1};
    *state = test_mock_new(&cfg);
    return 0;
}

static int teardown(void **state)
{
    test_mock_free(*state);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest_errors),
        cmocka_unit_test(test_protected),
        cmocka_unit_test(test_segment_missing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
