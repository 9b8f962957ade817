/* test_source_select.c: playkit's source selection (source_select.c) over every platform
 * profile: single formats, the three together, DRM variants, streamPriority, preferNative,
 * drm.keySystem, first-source-only, and engines kpsim does not have. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "kp/err.h"
#include "platform.h"
#include "source_select.h"

#include <jansson.h>
#include <string.h>

#define HLS_MIME  "application/x-mpegURL"
#define DASH_MIME "application/dash+xml"
#define MP4_MIME  "video/mp4"

static json_t *src(const char *id, const char *mime, const char *drm1, const char *drm2)
{
    json_t *s = json_pack("{s:s, s:s, s:s}", "id", id, "mimetype", mime, "url", "http://x/y");
    if (drm1) {
        json_t *d = json_array();
        json_array_append_new(d, json_pack("{s:s, s:s}", "scheme", drm1, "licenseUrl", "http://l"));
        if (drm2)
            json_array_append_new(
                d, json_pack("{s:s, s:s}", "scheme", drm2, "licenseUrl", "http://l"));
        json_object_set_new(s, "drmData", d);
    }
    return s;
}

/* sources with the formats named in `which` ("h", "d", "p"), clear. */
static json_t *clear_sources(const char *which)
{
    json_t *s = json_pack("{s:[], s:[], s:[]}", "hls", "dash", "progressive");
    if (strchr(which, 'h'))
        json_array_append_new(json_object_get(s, "hls"), src("h1", HLS_MIME, NULL, NULL));
    if (strchr(which, 'd'))
        json_array_append_new(json_object_get(s, "dash"), src("d1", DASH_MIME, NULL, NULL));
    if (strchr(which, 'p'))
        json_array_append_new(json_object_get(s, "progressive"), src("p1", MP4_MIME, NULL, NULL));
    return s;
}

/* A Kaltura DRM entry: HLS with FairPlay, DASH with Widevine and PlayReady, clear MP4. */
static json_t *drm_entry(void)
{
    json_t *s = json_object();
    json_object_set_new(s, "hls",
                        json_pack("[o]", src("h1", HLS_MIME, "com.apple.fairplay", NULL)));
    json_object_set_new(
        s, "dash",
        json_pack("[o]", src("d1", DASH_MIME, "com.widevine.alpha", "com.microsoft.playready")));
    json_object_set_new(s, "progressive", json_pack("[o]", src("p1", MP4_MIME, NULL, NULL)));
    return s;
}

typedef struct expect_t {
    const char *format; /* NULL: nothing playable */
    kp_adapter adapter;
    int key_system;
    bool drm_unsupported;
} expect_t;

static void check(const char *platform, const json_t *sources, const json_t *config,
                  kp_source_available_fn avail, const expect_t *want)
{
    const kp_platform *pf = kp_platform_find(platform);
    assert_non_null(pf);
    json_t *empty = json_object();
    kp_source_choice c;
    int rc = kp_source_select(sources, config ? config : empty, pf, avail, NULL, &c);
    json_decref(empty);
    if (!want->format) {
        if (rc != KP_ENOENT)
            fail_msg("%s: expected nothing playable, got %s with %s", platform, c.format,
                     kp_adapter_name(c.adapter));
        return;
    }
    if (rc != KP_OK)
        fail_msg("%s: expected %s with %s, got nothing", platform, want->format,
                 kp_adapter_name(want->adapter));
    if (strcmp(c.format, want->format) != 0 || c.adapter != want->adapter ||
        c.key_system != want->key_system || c.drm_unsupported != want->drm_unsupported)
        fail_msg("%s: expected %s/%s ks %d unsupported %d, got %s/%s ks %d unsupported %d",
                 platform, want->format, kp_adapter_name(want->adapter), want->key_system,
                 want->drm_unsupported, c.format, kp_adapter_name(c.adapter), c.key_system,
                 c.drm_unsupported);
    /* the payload is the whole list of the chosen format, the source its first entry */
    assert_ptr_equal(c.list, json_object_get(sources, c.format));
    assert_ptr_equal(c.source, json_array_get(c.list, 0));
}

static const char *const platforms[] = {"chrome", "firefox", "edge",   "safari",
                                        "ios",    "android", "smarttv"};
#define N_PF 7

#define NONE               \
    {                      \
        NULL, 0, -1, false \
    }
#define PICK(f, a)      \
    {                   \
        f, a, -1, false \
    }

static void test_profiles(void **state)
{
    (void)state;
    assert_int_equal(kp_platform_count(), N_PF);
    for (size_t i = 0; i < N_PF; i++) {
        const kp_platform *pf = kp_platform_at(i);
        assert_string_equal(pf->name, platforms[i]);
        assert_ptr_equal(kp_platform_find(platforms[i]), pf);
        assert_non_null(strstr(kp_platform_names(), pf->name));
        assert_true(kp_platform_can_play_type(pf, "video/mp4"));
        assert_false(kp_platform_can_play_type(pf, DASH_MIME));
        assert_true(pf->key_systems != 0);
        assert_true(strstr(pf->user_agent, "Mozilla/5.0") == pf->user_agent);
    }
    assert_null(kp_platform_find("netscape"));
    assert_null(kp_platform_find("Chrome"));
    assert_null(kp_platform_at(N_PF));
    /* the key systems of the brief */
    const kp_platform *c = kp_platform_find("chrome"), *e = kp_platform_find("edge"),
                      *s = kp_platform_find("safari"), *t = kp_platform_find("smarttv");
    assert_true(kp_platform_has_key_system(c, KP_DRM_WIDEVINE));
    assert_true(kp_platform_has_key_system(c, KP_DRM_CLEARKEY));
    assert_false(kp_platform_has_key_system(c, KP_DRM_PLAYREADY));
    assert_true(kp_platform_has_key_system(e, KP_DRM_PLAYREADY));
    assert_true(kp_platform_has_key_system(s, KP_DRM_FAIRPLAY));
    assert_false(kp_platform_has_key_system(s, KP_DRM_WIDEVINE));
    assert_false(kp_platform_has_key_system(t, KP_DRM_CLEARKEY));
    assert_false(kp_platform_find("ios")->mse);
    assert_false(kp_platform_can_play_type(kp_platform_find("firefox"), HLS_MIME));
}

static void run_row(const char *which, const expect_t want[N_PF])
{
    json_t *s = clear_sources(which);
    for (size_t i = 0; i < N_PF; i++)
        check(platforms[i], s, NULL, NULL, &want[i]);
    json_decref(s);
}

static void test_single_formats(void **state)
{
    (void)state;
    /*                 chrome                          firefox edge safari ios android smarttv */
    const expect_t hls[N_PF] = {PICK("hls", KP_ADAPTER_HLS),    PICK("hls", KP_ADAPTER_HLS),
                                PICK("hls", KP_ADAPTER_HLS),    PICK("hls", KP_ADAPTER_NATIVE),
                                PICK("hls", KP_ADAPTER_NATIVE), PICK("hls", KP_ADAPTER_HLS),
                                PICK("hls", KP_ADAPTER_HLS)};
    run_row("h", hls);
    const expect_t dash[N_PF] = {PICK("dash", KP_ADAPTER_DASH),
                                 PICK("dash", KP_ADAPTER_DASH),
                                 PICK("dash", KP_ADAPTER_DASH),
                                 PICK("dash", KP_ADAPTER_DASH),
                                 NONE, /* iOS 16: no MediaSource, no native DASH */
                                 PICK("dash", KP_ADAPTER_DASH),
                                 PICK("dash", KP_ADAPTER_DASH)};
    run_row("d", dash);
    expect_t mp4[N_PF];
    for (size_t i = 0; i < N_PF; i++)
        mp4[i] = (expect_t)PICK("progressive", KP_ADAPTER_NATIVE);
    run_row("p", mp4);
    /* all three: HLS first everywhere (the oracle's "all" run on Chromium) */
    const expect_t all[N_PF] = {PICK("hls", KP_ADAPTER_HLS),    PICK("hls", KP_ADAPTER_HLS),
                                PICK("hls", KP_ADAPTER_HLS),    PICK("hls", KP_ADAPTER_NATIVE),
                                PICK("hls", KP_ADAPTER_NATIVE), PICK("hls", KP_ADAPTER_HLS),
                                PICK("hls", KP_ADAPTER_HLS)};
    run_row("hdp", all);
    /* dash and progressive: dash, but on iOS progressive */
    const expect_t dp[N_PF] = {
        PICK("dash", KP_ADAPTER_DASH),          PICK("dash", KP_ADAPTER_DASH),
        PICK("dash", KP_ADAPTER_DASH),          PICK("dash", KP_ADAPTER_DASH),
        PICK("progressive", KP_ADAPTER_NATIVE), PICK("dash", KP_ADAPTER_DASH),
        PICK("dash", KP_ADAPTER_DASH)};
    run_row("dp", dp);
    /* nothing at all */
    const expect_t none[N_PF] = {NONE, NONE, NONE, NONE, NONE, NONE, NONE};
    run_row("", none);
}

static void test_drm_entry(void **state)
{
    (void)state;
    json_t *s = drm_entry();
    /* HLS+FairPlay is taken by the element where WebKitMediaKeys exist; elsewhere hls.js
     * refuses DRM and the element refuses x-mpegURL or FairPlay, so DASH plays */
    const expect_t want[N_PF] = {
        {"dash", KP_ADAPTER_DASH, KP_DRM_WIDEVINE, false},
        {"dash", KP_ADAPTER_DASH, KP_DRM_WIDEVINE, false},
        {"dash", KP_ADAPTER_DASH, KP_DRM_PLAYREADY, false}, /* Edge: drm.keySystem PlayReady */
        {"hls", KP_ADAPTER_NATIVE, KP_DRM_FAIRPLAY, false},
        {"hls", KP_ADAPTER_NATIVE, KP_DRM_FAIRPLAY, false},
        {"dash", KP_ADAPTER_DASH, KP_DRM_WIDEVINE, false},
        {"dash", KP_ADAPTER_DASH, KP_DRM_WIDEVINE, false},
    };
    for (size_t i = 0; i < N_PF; i++)
        check(platforms[i], s, NULL, NULL, &want[i]);
    /* drm.keySystem chooses among the listed protocols */
    json_t *cfg = json_pack("{s:{s:s}}", "drm", "keySystem", "com.microsoft.playready");
    expect_t smarttv = {"dash", KP_ADAPTER_DASH, KP_DRM_PLAYREADY, false};
    check("smarttv", s, cfg, NULL, &smarttv);
    /* ... and on Chrome it is taken on faith: shaka fails it later (6001) */
    expect_t chrome = {"dash", KP_ADAPTER_DASH, -1, true};
    check("chrome", s, cfg, NULL, &chrome);
    json_decref(cfg);
    json_decref(s);
}

static void test_drm_variants(void **state)
{
    (void)state;
    /* DASH with PlayReady only: shaka takes it everywhere it runs; only Edge and the TV have
     * the key system */
    json_t *s = json_pack("{s:[o]}", "dash", src("d1", DASH_MIME, "com.microsoft.playready", NULL));
    const expect_t pr[N_PF] = {
        {"dash", KP_ADAPTER_DASH, -1, true},
        {"dash", KP_ADAPTER_DASH, -1, true},
        {"dash", KP_ADAPTER_DASH, KP_DRM_PLAYREADY, false},
        {"dash", KP_ADAPTER_DASH, -1, true},
        NONE,
        {"dash", KP_ADAPTER_DASH, -1, true},
        {"dash", KP_ADAPTER_DASH, KP_DRM_PLAYREADY, false},
    };
    for (size_t i = 0; i < N_PF; i++)
        check(platforms[i], s, NULL, NULL, &pr[i]);
    json_decref(s);

    /* HLS with FairPlay only (and MP4 behind it): Safari and iOS play HLS, others MP4 */
    s = json_pack("{s:[o], s:[o]}", "hls", src("h1", HLS_MIME, "com.apple.fairplay", NULL),
                  "progressive", src("p1", MP4_MIME, NULL, NULL));
    for (size_t i = 0; i < N_PF; i++) {
        bool apple = strcmp(platforms[i], "safari") == 0 || strcmp(platforms[i], "ios") == 0;
        expect_t w = apple ? (expect_t){"hls", KP_ADAPTER_NATIVE, KP_DRM_FAIRPLAY, false}
                           : (expect_t)PICK("progressive", KP_ADAPTER_NATIVE);
        check(platforms[i], s, NULL, NULL, &w);
    }
    json_decref(s);

    /* DASH with ClearKey (kpsim's real-crypto scheme): Chrome plays it, the TV lacks it */
    s = json_pack("{s:[o]}", "dash", src("d1", DASH_MIME, "org.w3.clearkey", NULL));
    expect_t ck = {"dash", KP_ADAPTER_DASH, KP_DRM_CLEARKEY, false};
    check("chrome", s, NULL, NULL, &ck);
    expect_t tv = {"dash", KP_ADAPTER_DASH, -1, true};
    check("smarttv", s, NULL, NULL, &tv);
    json_decref(s);

    /* an unknown scheme is no DRM any adapter takes */
    s = json_pack("{s:[o]}", "dash", src("d1", DASH_MIME, "com.example.drm", NULL));
    expect_t none = NONE;
    check("chrome", s, NULL, NULL, &none);
    json_decref(s);

    /* MP4 with FairPlay drmData: only the Apple element takes it */
    s = json_pack("{s:[o]}", "progressive", src("p1", MP4_MIME, "com.apple.fairplay", NULL));
    check("chrome", s, NULL, NULL, &none);
    expect_t sa = {"progressive", KP_ADAPTER_NATIVE, KP_DRM_FAIRPLAY, false};
    check("safari", s, NULL, NULL, &sa);
    json_decref(s);
}

static void test_first_source_only(void **state)
{
    (void)state;
    /* a DRM source first and a clear one second: the clear one is never considered */
    json_t *s = json_object();
    json_object_set_new(s, "hls",
                        json_pack("[o, o]", src("h1", HLS_MIME, "com.apple.fairplay", NULL),
                                  src("h2", HLS_MIME, NULL, NULL)));
    json_object_set_new(s, "progressive", json_pack("[o]", src("p1", MP4_MIME, NULL, NULL)));
    expect_t w = PICK("progressive", KP_ADAPTER_NATIVE);
    check("chrome", s, NULL, NULL, &w);
    json_decref(s);
}

static void test_stream_priority(void **state)
{
    (void)state;
    json_t *s = clear_sources("hdp");
    json_t *cfg =
        json_pack("{s:{s:[{s:s, s:s}, {s:s, s:s}]}}", "playback", "streamPriority", "engine",
                  "html5", "format", "dash", "engine", "html5", "format", "hls");
    expect_t d = PICK("dash", KP_ADAPTER_DASH);
    for (size_t i = 0; i < N_PF; i++) {
        expect_t w =
            strcmp(platforms[i], "ios") == 0 ? (expect_t)PICK("hls", KP_ADAPTER_NATIVE) : d;
        check(platforms[i], s, cfg, NULL, &w);
    }
    json_decref(cfg);
    /* other engines (flash) are skipped; names are lower-cased; unlisted formats never play */
    cfg = json_pack("{s:{s:[{s:s, s:s}, {s:s, s:s}]}}", "playback", "streamPriority", "engine",
                    "flash", "format", "hls", "engine", "HTML5", "format", "Progressive");
    expect_t p = PICK("progressive", KP_ADAPTER_NATIVE);
    check("chrome", s, cfg, NULL, &p);
    json_decref(cfg);
    cfg = json_pack("{s:{s:[{s:s, s:s}]}}", "playback", "streamPriority", "engine", "html5",
                    "format", "image");
    expect_t none = NONE;
    check("chrome", s, cfg, NULL, &none);
    json_decref(cfg);
    json_decref(s);
}

static void test_prefer_native(void **state)
{
    (void)state;
    json_t *s = clear_sources("h");
    /* Safari's default is native; configured false, hls.js plays it */
    json_t *cfg = json_pack("{s:{s:{s:b}}}", "playback", "preferNative", "hls", 0);
    expect_t w = PICK("hls", KP_ADAPTER_HLS);
    check("safari", s, cfg, NULL, &w);
    /* iOS has no MediaSource: the element plays it whatever the preference */
    w = (expect_t)PICK("hls", KP_ADAPTER_NATIVE);
    check("ios", s, cfg, NULL, &w);
    json_decref(cfg);
    /* preferNative.hls true: the TV's element plays it; Chrome's NativeAdapter refuses
     * application/x-mpegURL, so hls.js still does */
    cfg = json_pack("{s:{s:{s:b}}}", "playback", "preferNative", "hls", 1);
    w = (expect_t)PICK("hls", KP_ADAPTER_NATIVE);
    check("smarttv", s, cfg, NULL, &w);
    w = (expect_t)PICK("hls", KP_ADAPTER_HLS);
    check("chrome", s, cfg, NULL, &w);
    check("firefox", s, cfg, NULL, &w);
    json_decref(cfg);
    json_decref(s);
    /* ... but the other HLS type is the element's on Chrome */
    s = json_pack("{s:[o]}", "hls", src("h1", "application/vnd.apple.mpegurl", NULL, NULL));
    cfg = json_pack("{s:{s:{s:b}}}", "playback", "preferNative", "hls", 1);
    w = (expect_t)PICK("hls", KP_ADAPTER_NATIVE);
    check("chrome", s, cfg, NULL, &w);
    json_decref(cfg);
    json_decref(s);
}

/* An engine set without the element's HLS: hls.js for HLS and the element for progressive
 * only (source selection then moves on to the next adapter or format). */
static bool kpsim_engines(void *ud, kp_adapter a, const char *format, const json_t *source)
{
    (void)ud;
    (void)source;
    return (a == KP_ADAPTER_HLS && strcmp(format, "hls") == 0) ||
           (a == KP_ADAPTER_NATIVE && strcmp(format, "progressive") == 0);
}

static void test_missing_engines(void **state)
{
    (void)state;
    json_t *s = clear_sources("hdp");
    /* Safari: no native HLS engine, so hls.js; iOS: no MSE either, so MP4 */
    expect_t w = PICK("hls", KP_ADAPTER_HLS);
    check("safari", s, NULL, kpsim_engines, &w);
    w = (expect_t)PICK("progressive", KP_ADAPTER_NATIVE);
    check("ios", s, NULL, kpsim_engines, &w);
    json_decref(s);
    s = clear_sources("dp");
    check("chrome", s, NULL, kpsim_engines, &w);
    json_decref(s);
    s = clear_sources("d");
    expect_t none = NONE;
    check("chrome", s, NULL, kpsim_engines, &none);
    json_decref(s);
}

static void test_bad_input(void **state)
{
    (void)state;
    kp_source_choice c;
    json_t *cfg = json_object();
    assert_int_equal(kp_source_select(NULL, cfg, kp_platform_find("chrome"), NULL, NULL, &c),
                     KP_ENOENT);
    json_t *s = clear_sources("h");
    assert_int_equal(kp_source_select(s, cfg, NULL, NULL, NULL, &c), KP_ENOENT);
    /* a source list that is not an array, and a source without mimetype */
    json_object_set_new(s, "dash", json_string("nope"));
    json_object_set_new(s, "progressive", json_pack("[{s:s}]", "url", "http://x"));
    json_object_del(s, "hls");
    assert_int_equal(kp_source_select(s, cfg, kp_platform_find("chrome"), NULL, NULL, &c),
                     KP_ENOENT);
    json_decref(s);
    json_decref(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profiles),          cmocka_unit_test(test_single_formats),
        cmocka_unit_test(test_drm_entry),         cmocka_unit_test(test_drm_variants),
        cmocka_unit_test(test_first_source_only), cmocka_unit_test(test_stream_priority),
        cmocka_unit_test(test_prefer_native),     cmocka_unit_test(test_missing_engines),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
