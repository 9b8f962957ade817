/* test_progressive.c: the progressive MP4 engine and platform-aware source selection in the
 * reference player, against the mock back-end over real sockets (127.0.0.1), on the virtual
 * clock:
 *   - a clip plays to the end with the NativeAdapter's order (progress/suspend before the
 *     metadata on a fast link, medialoaded after canplay, play after canplaythrough), and the
 *     element's requests are what Chromium sends: Range bytes=0- on the playManifest URL, the
 *     302 followed to the MP4, 206;
 *   - a file larger than the read window is read in open-ended ranges: the reader stops,
 *     the element suspends, and a seek past the fetched part opens bytes=N- on the MP4
 *     itself at the keyframe before the target;
 *   - HTTP 404 and a body that is no MP4 are 3022 NATIVE_ADAPTER_LOAD_FAILED (category 3) at
 *     the real player's point (after loadstart, the state back to idle);
 *   - the platform decides: an HLS+DASH+MP4 entry plays HLS with hls.js on chrome (and on
 *     safari with preferNative.hls false), HLS in the element on safari (preferNative) and iOS
 *     (no MediaSource): no manifestloaded then; a stream priority with progressive first plays
 *     the MP4; safari's muted-only autoplay policy falls back to muted autoplay; an unknown
 *     platform is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http_client.h"
#include "hx/runner.h"
#include "kp/err.h"
#include "kp/jsonu.h"
#include "kp/player.h"
#include "kp/recorder.h"
#include "mbe/mbe.h"
#include "mock_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PID 4343

static const int prog_only[] = {MBE_FORMAT_PROGRESSIVE};
static const int three[] = {MBE_FORMAT_HLS, MBE_FORMAT_DASH, MBE_FORMAT_PROGRESSIVE};
static const char *const r180[] = {"180p"};

typedef struct fixture {
    test_mock mock;
} fixture;

/* The MP4 path the playManifest of an entry redirects to. */
static char *mp4_path(fixture *f, const char *entry)
{
    char url[512];
    snprintf(url, sizeof(url),
             "%s/p/%d/sp/%d00/playManifest/entryId/%s/protocol/http/format/url/a.mp4",
             mbe_server_url(f->mock.srv), PID, PID, entry);
    test_reply r;
    test_http("GET", url, NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 302);
    const char *loc = strstr(r.body.data ? r.body.data : "", "http");
    assert_non_null(loc);
    const char *path = strstr(loc + 7, "/p/");
    assert_non_null(path);
    char *out = kp_strndup(path, strcspn(path, "\r\n "));
    test_reply_free(&r);
    return out;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    const mbe_entry entries[] = {
        {.id = "0_prog0001",
         .duration = 4,
         .formats = prog_only,
         .n_formats = 1,
         .renditions = r180,
         .n_renditions = 1},
        {.id = "0_prog0404",
         .duration = 4,
         .formats = prog_only,
         .n_formats = 1,
         .renditions = r180,
         .n_renditions = 1},
        {.id = "0_progjunk",
         .duration = 4,
         .formats = prog_only,
         .n_formats = 1,
         .renditions = r180,
         .n_renditions = 1},
        {.id = "0_three001",
         .duration = 4,
         .formats = three,
         .n_formats = 3,
         .renditions = r180,
         .n_renditions = 1},
    };
    mbe_config cfg = {.partner_id = PID, .entries = entries, .n_entries = 4};
    test_mock_start(&f->mock, &cfg);
    char *p404 = mp4_path(f, "0_prog0404");
    mbe_override o = {.path = p404,
                      .kind = MBE_REPLY_HTTP,
                      .status = 404,
                      .content_type = "text/plain",
                      .body = "not found\n",
                      .body_len = 10};
    assert_int_equal(mbe_server_override(f->mock.srv, &o), KP_OK);
    char *pjunk = mp4_path(f, "0_progjunk");
    static const char junk[] = "this is not an MP4 file, just text that goes on and on\n";
    mbe_override j = {.path = pjunk,
                      .kind = MBE_REPLY_HTTP,
                      .status = 200,
                      .content_type = "video/mp4",
                      .body = junk,
                      .body_len = sizeof(junk) - 1};
    assert_int_equal(mbe_server_override(f->mock.srv, &j), KP_OK);
    free(p404);
    free(pjunk);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    test_mock_stop(&f->mock);
    free(f);
    return 0;
}

/* ---- a player on the virtual clock ---- */

typedef struct run {
    kp_sched *sched;
    kp_net *net;
    kp_player *player;
    kp_recorder *rec;
} run;

static void run_start(run *r, fixture *f, const char *platform, const char *extra_config,
                      long long bandwidth)
{
    memset(r, 0, sizeof(*r));
    r->sched = kp_sched_new();
    kp_net_profile prof = {.bandwidth_bps = bandwidth, .latency = KP_MS(5)};
    r->net = kp_net_new(r->sched, &prof, NULL);
    json_t *cfg = json_pack("{s:{s:i, s:{s:s}}, s:{s:b, s:b}}", "provider", "partnerId", PID, "env",
                            "serviceUrl", f->mock.service, "playback", "autoplay", 1, "muted", 1);
    if (extra_config) {
        json_error_t e;
        json_t *x = json_loads(extra_config, 0, &e);
        assert_non_null(x);
        assert_int_equal(kp_json_merge(cfg, x), KP_OK);
        json_decref(x);
    }
    r->player = kp_player_new(r->sched, r->net, cfg, NULL);
    json_decref(cfg);
    assert_non_null(r->player);
    if (platform)
        assert_int_equal(kp_player_set_platform(r->player, platform), KP_OK);
    void *st = NULL;
    assert_int_equal(kp_player_add_plugin(r->player, &kp_recorder_plugin, NULL, NULL, &st), KP_OK);
    r->rec = st;
}

static void run_free(run *r)
{
    kp_player_free(r->player);
    kp_net_free(r->net);
    kp_sched_free(r->sched);
}

static void load(run *r, const char *entry)
{
    json_t *mi = json_pack("{s:s}", "entryId", entry);
    assert_int_equal(kp_player_load_media(r->player, mi), KP_OK);
    json_decref(mi);
}

/* Runs until `type` was recorded (its index) or `limit` of virtual time passed (SIZE_MAX). */
static size_t run_until_event(run *r, const char *type, kp_time limit)
{
    size_t seen = 0;
    while (kp_sched_now(r->sched) < limit && kp_sched_step(r->sched)) {
        for (; seen < kp_recorder_count(r->rec); seen++)
            if (strcmp(kp_recorder_get(r->rec, seen)->name, type) == 0)
                return seen;
    }
    for (; seen < kp_recorder_count(r->rec); seen++)
        if (strcmp(kp_recorder_get(r->rec, seen)->name, type) == 0)
            return seen;
    return SIZE_MAX;
}

/* The recorded types, space-separated, without timeupdate. */
static char *types(run *r)
{
    kp_buf b;
    kp_buf_init(&b);
    for (size_t i = 0; i < kp_recorder_count(r->rec); i++) {
        const char *t = kp_recorder_get(r->rec, i)->name;
        if (strcmp(t, "timeupdate") != 0)
            kp_buf_printf(&b, "%s%s", b.len ? " " : "", t);
    }
    return kp_buf_steal(&b);
}

static size_t count(run *r, const char *type)
{
    size_t n = 0;
    for (size_t i = 0; i < kp_recorder_count(r->rec); i++)
        n += strcmp(kp_recorder_get(r->rec, i)->name, type) == 0;
    return n;
}

static const json_t *payload_of(run *r, const char *type)
{
    for (size_t i = 0; i < kp_recorder_count(r->rec); i++)
        if (strcmp(kp_recorder_get(r->rec, i)->name, type) == 0)
            return kp_recorder_get(r->rec, i)->payload;
    return NULL;
}

/* The CDN records of the journal for an entry. */
static json_t *cdn_records(fixture *f, const char *entry)
{
    json_t *all = mbe_server_journal(f->mock.srv);
    json_t *out = json_array();
    size_t i;
    json_t *rec;
    json_array_foreach(all, i, rec)
    {
        if (strcmp(kp_json_str(rec, "server", ""), "cdn") == 0 &&
            strstr(kp_json_str(rec, "path", ""), entry))
            json_array_append(out, rec);
    }
    json_decref(all);
    return out;
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("expected\n  %s\nin\n  %s", needle, hay);
}

/* ---- tests ---- */

static void test_clip_to_end(void **state)
{
    fixture *f = *state;
    run r;
    run_start(&r, f, NULL, NULL, 500000000); /* 500 Mbit/s: the file is in before metadata */
    load(&r, "0_prog0001");
    assert_true(run_until_event(&r, "playbackended", KP_SEC(30)) != SIZE_MAX);
    char *t = types(&r);
    assert_contains(t,
                    "playbackstart abrmodechanged emptied playerstatechanged loadstart progress "
                    "suspend durationchange playerstatechanged loadedmetadata loadeddata canplay "
                    "medialoaded trackschanged canplaythrough playerstatechanged play firstplay "
                    "playing firstplaying");
    assert_contains(t, "playerstatechanged pause playerstatechanged ended playbackended");
    assert_int_equal(count(&r, "error"), 0);
    assert_int_equal(count(&r, "suspend"), 1);
    assert_string_equal(kp_json_str(payload_of(&r, "abrmodechanged"), "mode", ""), "manual");
    const json_t *sel = payload_of(&r, "sourceselected");
    assert_string_equal(kp_json_str(sel, "selectedSource.0.mimetype", ""), "video/mp4");
    const json_t *tr = payload_of(&r, "trackschanged");
    assert_string_equal(kp_json_str(tr, "tracks.0.id", "?"),
                        kp_json_str(sel, "selectedSource.0.id", "!"));
    assert_string_equal(kp_json_str(tr, "tracks.0.label", ""), "180p");
    /* the real sample times: the clip lasts its 4 s (AAC may run a few ms past) */
    double d = kp_player_duration(r.player);
    assert_true(d >= 4.0 && d < 4.1);
    assert_true(kp_player_ended(r.player));
    free(t);
    /* the requests: Range bytes=0- on playManifest (302), then the MP4 (206, bytes=0-) */
    json_t *cdn = cdn_records(f, "0_prog0001");
    assert_int_equal(json_array_size(cdn), 2);
    const json_t *a = json_array_get(cdn, 0), *b = json_array_get(cdn, 1);
    assert_int_equal(kp_json_int(a, "status", 0), 302);
    assert_non_null(strstr(kp_json_str(a, "path", ""), "/playManifest/"));
    assert_string_equal(kp_json_str(b, "kind", ""), "mp4");
    assert_int_equal(kp_json_int(b, "status", 0), 206);
    assert_string_equal(kp_json_str(b, "range", ""), "bytes=0-");
    json_decref(cdn);
    run_free(&r);
}

static void test_ranges_and_seek(void **state)
{
    (void)state;
    /* the scenario's 60 s 360p file is larger than the 3 MiB read window */
    const char *src = getenv("KPSIM_SOURCE_DIR");
    assert_non_null(src);
    char *path = kp_asprintf("%s/scenarios/playback/mp4-range-seek.yaml", src);
    hx_run_opts opts = {.check_expectations = true};
    hx_result res;
    assert_int_equal(hx_run_file(path, &opts, &res), 0);
    if (res.status != HX_PASSED)
        fail_msg("%s: %s", path, res.n_failures ? res.failures[0].message : "not passed");
    /* the element's requests for the MP4 */
    json_t *mp4 = json_array();
    size_t i;
    json_t *rec;
    json_array_foreach(res.journal, i, rec)
    {
        if (strcmp(kp_json_str(rec, "server", ""), "cdn") == 0)
            json_array_append(mp4, rec);
    }
    assert_int_equal(json_array_size(mp4), 3);
    assert_int_equal(kp_json_int(json_array_get(mp4, 0), "status", 0), 302);
    const json_t *first = json_array_get(mp4, 1), *seek = json_array_get(mp4, 2);
    assert_string_equal(kp_json_str(first, "range", ""), "bytes=0-");
    assert_int_equal(kp_json_int(seek, "status", 0), 206);
    assert_string_equal(kp_json_str(seek, "kind", ""), "mp4");
    long long from = -1;
    assert_int_equal(sscanf(kp_json_str(seek, "range", ""), "bytes=%lld-", &from), 1);
    /* past the first window (3 MiB), before the end */
    assert_true(from > (3LL << 20));
    assert_true(from < kp_json_int(first, "bytes", 0));
    json_decref(mp4);
    /* the trace: two reads, two suspends; the seek to missing data stalls (waiting), then
     * resumes */
    size_t suspends = 0, waiting = 0, seeked = 0;
    json_array_foreach(res.trace, i, rec)
    {
        const char *t = kp_json_str(rec, "type", "");
        suspends += strcmp(t, "suspend") == 0;
        waiting += strcmp(t, "waiting") == 0;
        seeked += strcmp(t, "seeked") == 0;
    }
    assert_int_equal(suspends, 2);
    assert_int_equal(waiting, 1);
    assert_int_equal(seeked, 1);
    hx_result_free(&res);
    free(path);
}

static void assert_load_failed(run *r)
{
    assert_true(run_until_event(r, "error", KP_SEC(10)) != SIZE_MAX);
    const json_t *e = payload_of(r, "error");
    assert_int_equal(kp_json_int(e, "severity", 0), 2);
    assert_int_equal(kp_json_int(e, "category", 0), 3);
    assert_int_equal(kp_json_int(e, "code", 0), 3022);
    assert_int_equal(kp_json_int(e, "data.code", 0), 4); /* MEDIA_ERR_SRC_NOT_SUPPORTED */
    char *t = types(r);
    assert_contains(t, "playbackstart abrmodechanged emptied playerstatechanged loadstart");
    assert_contains(t, "playerstatechanged error");
    assert_null(strstr(t, "loadedmetadata"));
    assert_string_equal(kp_player_state(r->player), "idle");
    free(t);
}

static void test_http_404(void **state)
{
    fixture *f = *state;
    run r;
    run_start(&r, f, NULL, NULL, 8000000);
    load(&r, "0_prog0404");
    assert_load_failed(&r);
    run_free(&r);
}

static void test_not_mp4(void **state)
{
    fixture *f = *state;
    run r;
    run_start(&r, f, NULL, NULL, 8000000);
    load(&r, "0_progjunk");
    assert_load_failed(&r);
    run_free(&r);
}

static void test_platform_choice(void **state)
{
    fixture *f = *state;
    struct {
        const char *platform, *config, *mime, *abr;
        size_t manifestloaded; /* 1: hls.js, 0: the element */
    } cases[] = {
        {"chrome", NULL, "application/x-mpegURL", "auto", 1},
        {"safari", NULL, "application/x-mpegURL", "auto", 0}, /* preferNative.hls */
        {"safari", "{\"playback\":{\"preferNative\":{\"hls\":false}}}", "application/x-mpegURL",
         "auto", 1},
        {"ios", NULL, "application/x-mpegURL", "auto", 0}, /* no MediaSource */
        {"smarttv", NULL, "application/x-mpegURL", "auto", 1},
        {"chrome",
         "{\"playback\":{\"streamPriority\":[{\"engine\":\"html5\",\"format\":\"progressive\"},"
         "{\"engine\":\"html5\",\"format\":\"hls\"}]}}",
         "video/mp4", "manual", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run r;
        run_start(&r, f, cases[i].platform, cases[i].config, 50000000);
        assert_string_equal(kp_player_platform(r.player), cases[i].platform);
        load(&r, "0_three001");
        assert_true(run_until_event(&r, "firstplaying", KP_SEC(10)) != SIZE_MAX);
        const json_t *sel = payload_of(&r, "sourceselected");
        assert_string_equal(kp_json_str(sel, "selectedSource.0.mimetype", ""), cases[i].mime);
        assert_string_equal(kp_json_str(payload_of(&r, "abrmodechanged"), "mode", ""),
                            cases[i].abr);
        assert_int_equal(count(&r, "manifestloaded"), cases[i].manifestloaded);
        assert_int_equal(count(&r, "error"), 0);
        run_free(&r);
    }
}

static void test_autoplay_policy(void **state)
{
    fixture *f = *state;
    /* safari allows muted autoplay only: unmuted autoplay falls back to muted */
    run r;
    run_start(&r, f, "safari", "{\"playback\":{\"muted\":false}}", 50000000);
    load(&r, "0_prog0001");
    assert_true(run_until_event(&r, "firstplaying", KP_SEC(10)) != SIZE_MAX);
    char *t = types(&r);
    assert_contains(t, "visibilitychange mutechange fallbacktomutedautoplay playbackstart");
    free(t);
    run_free(&r);
    /* ... and without allowMutedAutoPlay autoplay fails: loaded, not played */
    run_start(&r, f, "safari", "{\"playback\":{\"muted\":false,\"allowMutedAutoPlay\":false}}",
              50000000);
    load(&r, "0_prog0001");
    assert_true(run_until_event(&r, "canplaythrough", KP_SEC(10)) != SIZE_MAX);
    kp_sched_run_until(r.sched, kp_sched_now(r.sched) + KP_SEC(2));
    t = types(&r);
    assert_contains(t, "autoplayfailed");
    assert_null(strstr(t, "playbackstart"));
    assert_null(strstr(t, "firstplay"));
    assert_true(kp_player_paused(r.player));
    free(t);
    run_free(&r);
    /* chrome (the recorded headless Chromium) autoplays with sound */
    run_start(&r, f, "chrome", "{\"playback\":{\"muted\":false}}", 50000000);
    load(&r, "0_prog0001");
    assert_true(run_until_event(&r, "firstplaying", KP_SEC(10)) != SIZE_MAX);
    assert_int_equal(count(&r, "fallbacktomutedautoplay"), 0);
    run_free(&r);
}

static void test_unknown_platform(void **state)
{
    fixture *f = *state;
    run r;
    run_start(&r, f, NULL, NULL, 8000000);
    assert_int_equal(kp_player_set_platform(r.player, "netscape"), KP_EINVAL);
    assert_int_equal(kp_player_set_platform(r.player, NULL), KP_EINVAL);
    assert_string_equal(kp_player_platform(r.player), "chrome");
    assert_non_null(strstr(kp_player_platforms(), "smarttv"));
    run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clip_to_end),      cmocka_unit_test(test_ranges_and_seek),
        cmocka_unit_test(test_http_404),         cmocka_unit_test(test_not_mp4),
        cmocka_unit_test(test_platform_choice),  cmocka_unit_test(test_autoplay_policy),
        cmocka_unit_test(test_unknown_platform),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
