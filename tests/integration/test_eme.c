/* test_eme.c: the player's EME (core/src/eme.c) against license answers served over real
 * sockets by the mock back-end's canned replies: a ClearKey license accepted (drmlicenseloaded
 * with its scheme, the waiting fragment released), a license that does not parse (6008), an
 * HTTP error (6007 with the status), no answer at all (6007 without one), a fragment whose KID
 * the license did not give (6008), a corrupt encrypted fragment (3016), a license that expires
 * on the virtual clock (6014), no license URL for the content's systems (6012), none the
 * platform supports (6001), and a FairPlay certificate the CDM refuses (6017).
 */
#include "eme.h"
#include "mock_server.h"

#include "kp/drmmsg.h"
#include "kp/err.h"
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

static const uint8_t KID[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t KEY[16] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
                                0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf};

typedef struct run {
    kp_sched *sched;
    kp_net *net;
    kp_eme *eme;
    json_t *events; /* [{type: payload}] */
    json_t *error;
    int ready;
} run;

static void on_emit(void *ud, kp_event_type type, json_t *payload)
{
    run *r = ud;
    json_array_append_new(
        r->events, json_pack("{s:o}", kp_event_name(type), payload ? payload : json_object()));
}

static void on_fail(void *ud, json_t *error)
{
    run *r = ud;
    assert_null(r->error); /* reported once */
    r->error = error;
}

static void on_ready(void *ud)
{
    ((run *)ud)->ready++;
}

/* A run whose drmData names `scheme` at path on the mock (its certificate if not NULL), on a
 * platform with the key systems `supported`. */
static void start(run *r, test_mock *m, const char *scheme, const char *path, const char *cert,
                  unsigned supported)
{
    memset(r, 0, sizeof(*r));
    r->sched = kp_sched_new();
    r->net = kp_net_new(r->sched, NULL, NULL);
    r->events = json_array();
    char url[256];
    snprintf(url, sizeof(url), "%s%s", mbe_server_url(m->srv), path);
    json_t *drm = json_pack("[{s:s, s:s}]", "licenseUrl", url, "scheme", scheme);
    if (cert)
        json_object_set_new(json_array_get(drm, 0), "certificate", json_string(cert));
    kp_eme_host h = {.sched = r->sched, .net = r->net, .ud = r, .emit = on_emit, .fail = on_fail};
    r->eme = kp_eme_new(&h, drm, supported, NULL);
    assert_non_null(r->eme);
    json_decref(drm);
}

static void stop(run *r)
{
    kp_eme_free(r->eme);
    kp_net_free(r->net);
    kp_sched_free(r->sched);
    json_decref(r->events);
    json_decref(r->error);
}

static void serve(test_mock *m, const char *path, int status, const void *body, size_t len,
                  mbe_reply_kind kind)
{
    mbe_override ov = {.method = "POST",
                       .path = path,
                       .kind = kind,
                       .status = status,
                       .content_type = "application/json",
                       .body = body,
                       .body_len = len};
    assert_int_equal(mbe_server_override(m->srv, &ov), 0);
}

/* Serves a ClearKey license for KID (lasting duration_s, 0: no limit) at path. */
static void serve_clearkey(test_mock *m, const char *path, long long duration_s)
{
    kp_drmmsg_license lic = {.system = KP_DRM_CLEARKEY, .n_keys = 1, .duration_s = duration_s};
    memcpy(lic.keys[0].kid, KID, 16);
    memcpy(lic.keys[0].key, KEY, 16);
    kp_buf b;
    kp_buf_init(&b);
    assert_int_equal(kp_drmmsg_build_license(&lic, &b), 0);
    serve(m, path, 200, b.data, b.len, MBE_REPLY_HTTP);
    kp_buf_free(&b);
}

/* The content is protected for ClearKey: its pssh box as init data. */
static int encrypted_clearkey(run *r)
{
    kp_buf pssh;
    kp_buf_init(&pssh);
    assert_int_equal(
        kp_drm_pssh_build(KP_DRM_CLEARKEY, KP_ENC_CENC, (const uint8_t(*)[16])KID, 1, &pssh), 0);
    kp_drm_system offered[] = {KP_DRM_CLEARKEY};
    int rc =
        kp_eme_encrypted(r->eme, offered, 1, "cenc", (const uint8_t *)pssh.data, pssh.len, KID);
    kp_buf_free(&pssh);
    return rc;
}

/* An init segment's parse result with one cenc track under kid. */
static kp_cenc_init init_with(const uint8_t kid[16])
{
    kp_cenc_init init;
    memset(&init, 0, sizeof(init));
    init.n_tracks = 1;
    init.tracks[0] = (kp_cenc_track){.track_id = 1,
                                     .encrypted = 1,
                                     .is_protected = 1,
                                     .scheme = KP_CENC_SCHEME_CENC,
                                     .iv_size = 8};
    memcpy(init.tracks[0].default_kid, kid, 16);
    return init;
}

static void check(const json_t *err, int category, int code)
{
    assert_non_null(err);
    assert_int_equal(kp_json_int(err, "severity", 0), KP_SEVERITY_CRITICAL);
    assert_int_equal(kp_json_int(err, "category", 0), category);
    assert_int_equal(kp_json_int(err, "code", 0), code);
}

static void test_license_accepted(void **state)
{
    test_mock *m = *state;
    serve_clearkey(m, "/lic/ok", 0);
    run r;
    start(&r, m, "org.w3.clearkey", "/lic/ok", NULL, 1u << KP_DRM_CLEARKEY);
    assert_int_equal(encrypted_clearkey(&r), 0);
    assert_int_equal(kp_eme_system(r.eme), KP_DRM_CLEARKEY);
    /* a fragment before the license waits for it */
    kp_cenc_init init = init_with(KID);
    uint8_t frag[8] = {0};
    assert_int_equal(kp_eme_decrypt(r.eme, &init, frag, sizeof(frag), on_ready, &r), KP_EBUSY);
    kp_sched_run_until(r.sched, KP_SEC(5));
    assert_null(r.error);
    assert_int_equal(r.ready, 1);
    assert_int_equal(json_array_size(r.events), 1);
    assert_string_equal(kp_json_str(r.events, "0.drmlicenseloaded.scheme", ""), "org.w3.clearkey");
    assert_true(kp_json_num(r.events, "0.drmlicenseloaded.licenseTime", -1) > 0);
    json_t *seen = test_mock_journaled(m, "/lic/ok");
    assert_int_equal(json_array_size(seen), 1);
    json_decref(seen);
    /* a corrupt fragment: a moof whose traf claims more bytes than there are */
    uint8_t bad[16] = {0, 0, 0, 16, 'm', 'o', 'o', 'f', 0, 0, 0, 99, 't', 'r', 'a', 'f'};
    assert_int_equal(kp_eme_decrypt(r.eme, &init, bad, sizeof(bad), on_ready, &r), KP_EPARSE);
    assert_non_null(strstr(kp_json_str(r.error, "data.reason", ""), "moof"));
    check(r.error, KP_PCAT_MEDIA, KP_PCODE_VIDEO_ERROR);
    stop(&r);
}

static void test_kid_not_in_license(void **state)
{
    test_mock *m = *state;
    serve_clearkey(m, "/lic/other", 0);
    run r;
    start(&r, m, "org.w3.clearkey", "/lic/other", NULL, 1u << KP_DRM_CLEARKEY);
    assert_int_equal(encrypted_clearkey(&r), 0);
    kp_sched_run_until(r.sched, KP_SEC(5));
    uint8_t other[16] = {9};
    kp_cenc_init init = init_with(other);
    uint8_t frag[8] = {0};
    assert_true(kp_eme_decrypt(r.eme, &init, frag, sizeof(frag), on_ready, &r) < 0);
    check(r.error, KP_PCAT_DRM, KP_PCODE_LICENSE_RESPONSE_REJECTED);
    stop(&r);
}

static void test_license_expires(void **state)
{
    test_mock *m = *state;
    serve_clearkey(m, "/lic/short", 2);
    run r;
    start(&r, m, "org.w3.clearkey", "/lic/short", NULL, 1u << KP_DRM_CLEARKEY);
    assert_int_equal(encrypted_clearkey(&r), 0);
    kp_sched_run_until(r.sched, KP_SEC(1));
    assert_null(r.error);
    assert_int_equal(json_array_size(r.events), 1);
    kp_sched_run_until(r.sched, KP_SEC(5));
    check(r.error, KP_PCAT_DRM, KP_PCODE_EXPIRED);
    stop(&r);
}

static void test_bad_answers(void **state)
{
    test_mock *m = *state;
    static const char junk[] = "{\"keys\": 7}";
    serve(m, "/lic/junk", 200, junk, strlen(junk), MBE_REPLY_HTTP);
    serve(m, "/lic/500", 500, "oops", 4, MBE_REPLY_HTTP);
    serve(m, "/lic/reset", 0, "", 0, MBE_REPLY_RESET);
    struct {
        const char *path;
        int code;
        int status;
    } cases[] = {{"/lic/junk", KP_PCODE_LICENSE_RESPONSE_REJECTED, 0},
                 {"/lic/500", KP_PCODE_LICENSE_REQUEST_FAILED, 500},
                 {"/lic/reset", KP_PCODE_LICENSE_REQUEST_FAILED, 0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run r;
        start(&r, m, "org.w3.clearkey", cases[i].path, NULL, 1u << KP_DRM_CLEARKEY);
        assert_int_equal(encrypted_clearkey(&r), 0);
        kp_sched_run_until(r.sched, KP_SEC(5));
        check(r.error, KP_PCAT_DRM, cases[i].code);
        assert_int_equal(kp_json_int(r.error, "data.responseCode", 0), cases[i].status);
        assert_int_equal(json_array_size(r.events), 0); /* no drmlicenseloaded */
        /* afterwards every call fails quietly */
        kp_cenc_init init = init_with(KID);
        uint8_t frag[8] = {0};
        assert_true(kp_eme_decrypt(r.eme, &init, frag, sizeof(frag), on_ready, &r) < 0);
        stop(&r);
    }
}

static void test_choice_fails(void **state)
{
    test_mock *m = *state;
    kp_drm_system offered[] = {KP_DRM_WIDEVINE, KP_DRM_PLAYREADY};
    run r;
    /* drmData has a ClearKey server only: nothing for the content's systems */
    start(&r, m, "org.w3.clearkey", "/lic/none", NULL, 1u << KP_DRM_WIDEVINE);
    assert_true(kp_eme_choose(r.eme, offered, 2) < 0);
    check(r.error, KP_PCAT_DRM, KP_PCODE_NO_LICENSE_SERVER_GIVEN);
    stop(&r);
    /* a Widevine server, a platform with ClearKey only */
    start(&r, m, "com.widevine.alpha", "/lic/none", NULL, 1u << KP_DRM_CLEARKEY);
    assert_true(kp_eme_choose(r.eme, offered, 2) < 0);
    check(r.error, KP_PCAT_DRM, KP_PCODE_REQUESTED_KEY_SYSTEM_CONFIG_UNAVAILABLE);
    assert_string_equal(kp_json_str(r.error, "data.keySystems.0", ""), "com.widevine.alpha");
    stop(&r);
}

static void test_fairplay_certificate(void **state)
{
    test_mock *m = *state;
    kp_drm_system offered[] = {KP_DRM_FAIRPLAY};
    static const char skd[] = "skd://0_fps00001";
    run r;
    start(&r, m, "com.apple.fairplay", "/lic/fps",
          "bm90IGEgY2VydGlmaWNhdGU=", 1u << KP_DRM_FAIRPLAY);
    assert_true(
        kp_eme_encrypted(r.eme, offered, 1, "skd", (const uint8_t *)skd, strlen(skd), NULL) < 0);
    check(r.error, KP_PCAT_DRM, KP_PCODE_COULD_NOT_CREATE_KEY_SESSION);
    stop(&r);
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
        cmocka_unit_test(test_license_accepted), cmocka_unit_test(test_kid_not_in_license),
        cmocka_unit_test(test_license_expires),  cmocka_unit_test(test_bad_answers),
        cmocka_unit_test(test_choice_fails),     cmocka_unit_test(test_fairplay_certificate),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
