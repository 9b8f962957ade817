/* test_hls_drm.c: encrypted HLS in the reference player, against the mock back-end over real
 * sockets (127.0.0.1), on the virtual clock, with real media bytes and real AES:
 *   - hls.js METHOD=AES-128: the entry plays to the end with the clear entry's event sequence;
 *     the key is fetched once, before the first segment, and every segment is decrypted
 *     (an undecrypted MPEG-TS segment would not demux);
 *   - the key answered 404 is keyLoadError, {2, 1, 1002}; a key of 8 bytes likewise; a wrong
 *     key (16 bytes, canned) breaks the PKCS#7 padding: fragDecryptError, {2, 3, 3018}; a
 *     METHOD=SAMPLE-AES playlist (canned) on hls.js, which has no EME, is {2, 3, 3018}
 *     without the key or a segment being fetched;
 *   - hls.js's alternate audio: an AES-128 fMP4 entry whose variant names an AUDIO rendition
 *     with a URI; its playlist, init section, key and fragments are fetched and buffer the
 *     audio track, the level's fragments the video track, and the stream ends;
 *   - FairPlay on Safari (the NativeAdapter, preferNative): cbcs fMP4 with EXT-X-MAP and an
 *     audio rendition; the skd URI goes to the mock license server (mdrm) through the EME,
 *     drmlicenseloaded {scheme com.apple.fairplay}, both renditions' init sections and every
 *     fragment are fetched, go through the EME's cbcs decryption and are demuxed, and the
 *     clip plays to the end; a denied license is {2, 6, 6007} and nothing
 *     plays; FairPlay content whose source has no drmData fails the element (3022);
 *   - the native engine with its EME alone (the real FairPlay playlists, drmData made here):
 *     a certificate the CDM refuses is 6017 before any license request; a license answer
 *     that is no CKC for the request (canned) is 6015 BAD_FAIRPLAY_RESPONSE, as playkit's
 *     legacy FairPlay handler reports it; in both cases no fragment reaches the buffer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "demux.h"
#include "eme.h"
#include "engine.h"
#include "http_client.h"
#include "kp/buf.h"
#include "kp/cenc.h"
#include "kp/codec.h"
#include "kp/drm.h"
#include "kp/drmmsg.h"
#include "kp/err.h"
#include "kp/jsonu.h"
#include "kp/player.h"
#include "kp/recorder.h"
#include "mbe/mbe.h"
#include "mdrm/mdrm.h"
#include "mock_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PID 4646

static const int hls_only[] = {MBE_FORMAT_HLS};
static const int dash_only[] = {MBE_FORMAT_DASH};
static const char *const r180[] = {"180p"};

typedef struct fixture {
    test_mock mock;
} fixture;

/* The base URL of the (single) media playlist of an entry: ".../name/a.mp4". */
static char *media_base(fixture *f, const char *entry)
{
    char url[512];
    snprintf(url, sizeof(url),
             "%s/p/%d/sp/%d00/playManifest/entryId/%s/protocol/http/format/applehttp/a.m3u8",
             mbe_server_url(f->mock.srv), PID, PID, entry);
    test_reply r;
    test_http("GET", url, NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    const char *p = strstr(r.body.data ? r.body.data : "", "http://");
    assert_non_null(p);
    char *media = kp_strndup(p, strcspn(p, "\r\n"));
    test_reply_free(&r);
    *strrchr(media, '/') = '\0';
    return media;
}

/* Cans an answer for the path of base + "/" + last. */
static void can(fixture *f, const char *entry, const char *last, int status, const char *ctype,
                const void *body, size_t len)
{
    char *base = media_base(f, entry);
    const char *path = strstr(base + 7, "/");
    char *full = kp_asprintf("%s/%s", path, last);
    mbe_override o = {.path = full,
                      .kind = MBE_REPLY_HTTP,
                      .status = status,
                      .content_type = ctype,
                      .body = body,
                      .body_len = len};
    assert_int_equal(mbe_server_override(f->mock.srv, &o), KP_OK);
    free(full);
    free(base);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    mbe_entry entries[] = {
        {.id = "0_hclear01"}, {.id = "0_haes0001"}, {.id = "0_haes0404"}, {.id = "0_haeswrng"},
        {.id = "0_haesshrt"}, {.id = "0_hsample1"}, {.id = "0_hdash001"}, {.id = "0_hfmp4aud"},
    };
    for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++) {
        entries[i].duration = 6;
        entries[i].formats = hls_only;
        entries[i].n_formats = 1;
        entries[i].renditions = r180;
        entries[i].n_renditions = 1;
        if (i > 0)
            entries[i].drm.scheme = KP_ENC_AES128;
    }
    entries[6].formats = dash_only; /* its clear fMP4 makes the hls.js fMP4 playlists */
    entries[6].drm.scheme = KP_ENC_NONE;
    entries[7].hls_segments = MBE_HLS_FMP4; /* AES-128 fMP4 with an audio rendition */
    mbe_config cfg = {.partner_id = PID, .entries = entries, .n_entries = 8};
    test_mock_start(&f->mock, &cfg);
    can(f, "0_haes0404", "encryption.key", 404, "text/plain", "no key\n", 7);
    static const uint8_t wrong[16] = {0xde, 0xad, 0xbe, 0xef, 1, 2,  3,  4,
                                      5,    6,    7,    8,    9, 10, 11, 12};
    can(f, "0_haeswrng", "encryption.key", 200, "application/octet-stream", wrong, 16);
    can(f, "0_haesshrt", "encryption.key", 200, "application/octet-stream", wrong, 8);
    static const char sample_aes[] =
        "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-VERSION:5\n#EXT-X-MEDIA-SEQUENCE:1\n"
        "#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"encryption.key\"\n"
        "#EXTINF:4.000,\nseg-1-v1-a1.ts\n#EXTINF:2.000,\nseg-2-v1-a1.ts\n#EXT-X-ENDLIST\n";
    can(f, "0_hsample1", "index.m3u8", 200, "application/vnd.apple.mpegurl", sample_aes,
        sizeof(sample_aes) - 1);
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

static void run_start(run *r, const char *service, const char *platform)
{
    memset(r, 0, sizeof(*r));
    r->sched = kp_sched_new();
    kp_net_profile prof = {.bandwidth_bps = 8000000, .latency = KP_MS(20)};
    r->net = kp_net_new(r->sched, &prof, NULL);
    json_t *cfg = json_pack("{s:{s:i, s:{s:s}}, s:{s:b, s:b}}", "provider", "partnerId", PID, "env",
                            "serviceUrl", service, "playback", "autoplay", 1, "muted", 1);
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

/* The recorded types, space-separated, without timeupdate and progress. */
static char *types(run *r)
{
    kp_buf b;
    kp_buf_init(&b);
    for (size_t i = 0; i < kp_recorder_count(r->rec); i++) {
        const char *t = kp_recorder_get(r->rec, i)->name;
        if (strcmp(t, "timeupdate") != 0 && strcmp(t, "progress") != 0)
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

static size_t journal_len(mbe_server *srv)
{
    json_t *all = mbe_server_journal(srv);
    size_t n = json_array_size(all);
    json_decref(all);
    return n;
}

/* The kinds of the CDN records of an entry from journal record `from` on, space-separated
 * ("master playlist key ..."); a canned answer shows as the last part of its path. */
static char *cdn_kinds(mbe_server *srv, const char *entry, size_t from)
{
    json_t *all = mbe_server_journal(srv);
    kp_buf b;
    kp_buf_init(&b);
    size_t i;
    json_t *rec;
    json_array_foreach(all, i, rec)
    {
        const char *path = kp_json_str(rec, "path", "");
        if (i < from || strcmp(kp_json_str(rec, "server", ""), "cdn") != 0 || !strstr(path, entry))
            continue;
        const char *kind = kp_json_str(rec, "kind", NULL);
        if (!kind)
            kind = strrchr(path, '/') + 1;
        kp_buf_printf(&b, "%s%s", b.len ? " " : "", kind);
    }
    json_decref(all);
    return b.data ? kp_buf_steal(&b) : kp_strdup("");
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("expected\n  %s\nin\n  %s", needle, hay);
}

/* ---- hls.js AES-128 ---- */

static void test_aes128_plays_like_clear(void **state)
{
    fixture *f = *state;
    run clear, aes;
    run_start(&clear, f->mock.service, NULL);
    load(&clear, "0_hclear01");
    assert_true(run_until_event(&clear, "playbackended", KP_SEC(60)) != SIZE_MAX);
    size_t from = journal_len(f->mock.srv);
    run_start(&aes, f->mock.service, NULL);
    load(&aes, "0_haes0001");
    assert_true(run_until_event(&aes, "playbackended", KP_SEC(60)) != SIZE_MAX);
    assert_int_equal(count(&aes, "error"), 0);
    char *tc = types(&clear), *ta = types(&aes);
    assert_string_equal(ta, tc); /* the page sees no difference */
    assert_contains(ta, "manifestloaded medialoaded trackschanged");
    assert_true(kp_player_ended(aes.player));
    double d = kp_player_duration(aes.player);
    assert_true(d > 5.9 && d < 6.1);
    /* the key once, before the first segment; every segment fetched (and decrypted: the
     * TS demuxer refuses ciphertext) */
    char *k = cdn_kinds(f->mock.srv, "0_haes0001", from);
    assert_string_equal(k, "master playlist key segment segment segment");
    /* fragloaded reports the ciphertext's size, a multiple of 16 */
    const json_t *fl = payload_of(&aes, "fragloaded");
    assert_non_null(fl);
    assert_int_equal(kp_json_int(fl, "bytes", 1) % 16, 0);
    free(k);
    free(tc);
    free(ta);
    run_free(&clear);
    run_free(&aes);
}

static void expect_error(fixture *f, const char *entry, int category, int code, const char *name,
                         const char *kinds)
{
    run r;
    size_t from = journal_len(f->mock.srv);
    run_start(&r, f->mock.service, NULL);
    load(&r, entry);
    assert_true(run_until_event(&r, "error", KP_SEC(30)) != SIZE_MAX);
    const json_t *e = payload_of(&r, "error");
    assert_int_equal(kp_json_int(e, "severity", 0), 2);
    assert_int_equal(kp_json_int(e, "category", 0), category);
    assert_int_equal(kp_json_int(e, "code", 0), code);
    assert_string_equal(kp_json_str(e, "data.name", ""), name);
    /* nothing plays; the player goes back to idle */
    kp_sched_run_until(r.sched, kp_sched_now(r.sched) + KP_SEC(5));
    assert_int_equal(count(&r, "playing"), 0);
    assert_int_equal(count(&r, "fragloaded"), 0);
    assert_string_equal(kp_player_state(r.player), "idle");
    char *k = cdn_kinds(f->mock.srv, entry, from);
    assert_string_equal(k, kinds);
    free(k);
    run_free(&r);
}

static void test_key_404(void **state)
{
    /* hls.js keyLoadError (4xx: no retry), fatal NETWORK: 1002 (hls-adapter.ts:1134-1180) */
    expect_error(*state, "0_haes0404", 1, 1002, "keyLoadError", "master playlist encryption.key");
}

static void test_key_short(void **state)
{
    expect_error(*state, "0_haesshrt", 1, 1002, "keyLoadError", "master playlist encryption.key");
}

static void test_wrong_key(void **state)
{
    /* fragDecryptError, fatal MEDIA: 3018 (hls-adapter.ts:1166-1172) */
    expect_error(*state, "0_haeswrng", 3, 3018, "fragDecryptError",
                 "master playlist encryption.key segment");
}

static void test_sample_aes_without_eme(void **state)
{
    expect_error(*state, "0_hsample1", 3, 3018, "keySystemError", "master index.m3u8");
}

/* ---- AES-128 in the element (Safari prefers it for HLS) ---- */

static void test_aes128_safari_native(void **state)
{
    fixture *f = *state;
    size_t from = journal_len(f->mock.srv);
    run r;
    run_start(&r, f->mock.service, "safari");
    load(&r, "0_haes0001");
    assert_true(run_until_event(&r, "playbackended", KP_SEC(60)) != SIZE_MAX);
    assert_int_equal(count(&r, "error"), 0);
    assert_int_equal(count(&r, "manifestloaded"), 0); /* the element's own loader */
    assert_true(kp_player_ended(r.player));
    char *k = cdn_kinds(f->mock.srv, "0_haes0001", from);
    assert_string_equal(k, "master playlist key segment segment segment");
    free(k);
    run_free(&r);

    /* a wrong key: the element cannot decode the first segment, before load resolved: 3022 */
    from = journal_len(f->mock.srv);
    run_start(&r, f->mock.service, "safari");
    load(&r, "0_haeswrng");
    assert_true(run_until_event(&r, "error", KP_SEC(30)) != SIZE_MAX);
    const json_t *e = payload_of(&r, "error");
    assert_int_equal(kp_json_int(e, "category", 0), 3);
    assert_int_equal(kp_json_int(e, "code", 0), 3022);
    assert_non_null(strstr(kp_json_str(e, "data.message", ""), "padding"));
    k = cdn_kinds(f->mock.srv, "0_haeswrng", from);
    assert_string_equal(k, "master playlist encryption.key segment");
    free(k);
    run_free(&r);
}

/* ---- FairPlay on the element ---- */

static const kp_drm_system fairplay_only[] = {KP_DRM_FAIRPLAY};

typedef struct fps_env {
    mdrm_server *drm;
    test_mock *mock;
} fps_env;

static void fps_start(fps_env *env, bool with_license_server)
{
    mdrm_entry de[] = {{.id = "0_fps00001"}, {.id = "0_fpsdeny1", .policy = {.deny = 1}}};
    mdrm_config dc = {.partner_id = PID, .entries = de, .n_entries = 2};
    assert_int_equal(mdrm_server_start(&dc, &env->drm), 0);
    mbe_entry entries[] = {{.id = "0_fps00001"}, {.id = "0_fpsdeny1"}};
    for (size_t i = 0; i < 2; i++) {
        entries[i].duration = 6;
        entries[i].formats = hls_only;
        entries[i].n_formats = 1;
        entries[i].renditions = r180;
        entries[i].n_renditions = 1;
        entries[i].drm.scheme = KP_ENC_CBCS;
        entries[i].drm.systems = 1u << fairplay_only[0];
    }
    mbe_config cfg = {.partner_id = PID,
                      .entries = entries,
                      .n_entries = 2,
                      .license_url = with_license_server ? mdrm_server_url(env->drm) : NULL};
    env->mock = test_mock_new(&cfg);
}

static void fps_stop(fps_env *env)
{
    test_mock_free(env->mock);
    mdrm_server_stop(env->drm);
}

static void test_fairplay_safari_to_end(void **state)
{
    (void)state;
    fps_env env;
    fps_start(&env, true);
    run r;
    run_start(&r, env.mock->service, "safari");
    load(&r, "0_fps00001");
    assert_true(run_until_event(&r, "playbackended", KP_SEC(60)) != SIZE_MAX);
    assert_int_equal(count(&r, "error"), 0);
    assert_int_equal(count(&r, "drmlicenseloaded"), 1);
    const json_t *dl = payload_of(&r, "drmlicenseloaded");
    assert_string_equal(kp_json_str(dl, "scheme", ""), "com.apple.fairplay");
    assert_true(kp_json_num(dl, "licenseTime", -1) > 0);
    char *t = types(&r);
    /* the element plays it (no manifestloaded / fragloaded); the license before the metadata */
    assert_contains(t, "abrmodechanged emptied playerstatechanged loadstart drmlicenseloaded "
                       "durationchange playerstatechanged loadedmetadata loadeddata canplay "
                       "medialoaded trackschanged");
    assert_contains(t, "playerstatechanged pause playerstatechanged ended playbackended");
    assert_null(strstr(t, "manifestloaded"));
    assert_null(strstr(t, "fragloaded"));
    assert_true(kp_player_ended(r.player));
    double d = kp_player_duration(r.player);
    assert_true(d > 5.9 && d < 6.1);
    /* the master, the variant's and the audio rendition's playlists, each init section once,
     * then fragments alternating between the renditions */
    char *k = cdn_kinds(env.mock->srv, "0_fps00001", 0);
    assert_string_equal(k, "master playlist playlist init segment init segment segment segment "
                           "segment segment");
    size_t audio_segments = 0;
    json_t *all = mbe_server_journal(env.mock->srv);
    size_t i;
    json_t *rec;
    json_array_foreach(all, i, rec)
    {
        audio_segments += strcmp(kp_json_str(rec, "kind", ""), "segment") == 0 &&
                          strstr(kp_json_str(rec, "path", ""), "/flavorId/audio/");
    }
    json_decref(all);
    json_t *m = json_pack("{s:s}", "kind", "segment");
    size_t segments = mbe_server_count(env.mock->srv, "cdn", m);
    json_decref(m);
    assert_int_equal(audio_segments, 3); /* 6 s in 2 s fragments, for each rendition */
    assert_int_equal(segments, 6);
    m = json_pack("{s:s}", "kind", "init");
    assert_int_equal(mbe_server_count(env.mock->srv, "cdn", m), 2);
    json_decref(m);
    /* one FairPlay license request, granted, for the entry */
    m = json_pack("{s:s, s:s, s:s}", "system", "fairplay", "outcome", "granted", "entry",
                  "0_fps00001");
    assert_int_equal(mdrm_server_count(env.drm, m), 1);
    json_decref(m);
    all = mdrm_server_journal(env.drm);
    assert_int_equal(json_array_size(all), 1);
    json_decref(all);
    free(k);
    free(t);
    run_free(&r);
    fps_stop(&env);
}

static void test_fairplay_license_denied(void **state)
{
    (void)state;
    fps_env env;
    fps_start(&env, true);
    run r;
    run_start(&r, env.mock->service, "safari");
    load(&r, "0_fpsdeny1");
    assert_true(run_until_event(&r, "error", KP_SEC(30)) != SIZE_MAX);
    const json_t *e = payload_of(&r, "error");
    assert_int_equal(kp_json_int(e, "severity", 0), 2);
    assert_int_equal(kp_json_int(e, "category", 0), 6);
    assert_int_equal(kp_json_int(e, "code", 0), 6007);
    assert_int_equal(kp_json_int(e, "data.responseCode", 0), 403);
    kp_sched_run_until(r.sched, kp_sched_now(r.sched) + KP_SEC(5));
    assert_int_equal(count(&r, "drmlicenseloaded"), 0);
    assert_int_equal(count(&r, "playing"), 0);
    assert_int_equal(count(&r, "error"), 1);
    assert_string_equal(kp_player_state(r.player), "idle");
    json_t *m = json_pack("{s:s, s:s}", "system", "fairplay", "outcome", "denied");
    assert_int_equal(mdrm_server_count(env.drm, m), 1);
    json_decref(m);
    run_free(&r);
    fps_stop(&env);
}

static void test_fairplay_without_drm_data(void **state)
{
    (void)state;
    fps_env env;
    fps_start(&env, false); /* the back-end gives no license server: no drmData */
    run r;
    run_start(&r, env.mock->service, "safari");
    load(&r, "0_fps00001");
    assert_true(run_until_event(&r, "error", KP_SEC(30)) != SIZE_MAX);
    const json_t *e = payload_of(&r, "error");
    assert_int_equal(kp_json_int(e, "category", 0), 3);
    assert_int_equal(kp_json_int(e, "code", 0), 3022);
    assert_non_null(strstr(kp_json_str(e, "data.message", ""), "no drmData"));
    assert_int_equal(count(&r, "drmlicenseloaded"), 0);
    json_t *all = mdrm_server_journal(env.drm);
    assert_int_equal(json_array_size(all), 0);
    json_decref(all);
    run_free(&r);
    fps_stop(&env);
}

/* ---- the native engine and its EME alone ---- */

typedef struct eng_run {
    json_t *events;
    json_t *error;
} eng_run;

static void eng_emit(void *ud, kp_event_type type, json_t *payload)
{
    eng_run *r = ud;
    json_array_append_new(r->events, json_string(kp_event_name(type)));
    json_decref(payload);
}

static void eng_loaded(void *ud, json_t *tracks)
{
    (void)ud;
    json_decref(tracks);
}

static void eng_fail(void *ud, json_t *error)
{
    eng_run *r = ud;
    assert_null(r->error); /* one failure only */
    r->error = error;
}

static void eng_media_event(void *ud, kp_event_type type)
{
    (void)ud;
    (void)type;
}

/* Plays url with an engine (and an EME for drm_data, if not NULL) for 10 virtual seconds
 * without playing; returns the error (owned by the caller); *buffered: the buffered end from 0,
 * *eos: whether the engine ended the stream; track_end (if not NULL): each track kind's own
 * buffered end from 0 (video, audio). */
static json_t *engine_play_tracks(const kp_engine_ops *ops, const char *url, json_t *drm_data,
                                  kp_time *buffered, bool *eos, json_t **events,
                                  kp_time track_end[2])
{
    eng_run r = {.events = json_array()};
    kp_sched *sched = kp_sched_new();
    kp_net *net = kp_net_new(sched, NULL, NULL);
    kp_media *media = kp_media_new(sched);
    kp_eme_host eh = {.sched = sched, .net = net, .ud = &r, .emit = eng_emit, .fail = eng_fail};
    kp_eme *eme = drm_data ? kp_eme_new(&eh, drm_data, 1u << KP_DRM_FAIRPLAY, NULL) : NULL;
    kp_engine_host host = {.sched = sched,
                           .net = net,
                           .media = media,
                           .eme = eme,
                           .ud = &r,
                           .emit = eng_emit,
                           .loaded = eng_loaded,
                           .fail = eng_fail,
                           .media_event = eng_media_event};
    json_t *source = json_pack("{s:s, s:s}", "url", url, "mimetype", "application/x-mpegURL");
    if (drm_data)
        json_object_set(source, "drmData", drm_data);
    json_t *config = json_object();
    assert_true(ops->can_play(source, config));
    void *e = ops->create(&host, source, config);
    assert_non_null(e);
    ops->load(e);
    kp_sched_run_until(sched, KP_SEC(10));
    *buffered = kp_media_buffered_end(media, 0);
    *eos = kp_media_eos(media);
    if (track_end) {
        track_end[0] = kp_media_track_buffered_end(media, KP_TRACK_VIDEO, 0);
        track_end[1] = kp_media_track_buffered_end(media, KP_TRACK_AUDIO, 0);
    }
    ops->destroy(e);
    kp_eme_free(eme);
    json_decref(source);
    json_decref(config);
    kp_media_free(media);
    kp_net_free(net);
    kp_sched_free(sched);
    *events = r.events;
    return r.error;
}

static json_t *engine_play(const kp_engine_ops *ops, const char *url, json_t *drm_data,
                           kp_time *buffered, bool *eos, json_t **events)
{
    return engine_play_tracks(ops, url, drm_data, buffered, eos, events, NULL);
}

/* The FairPlay entry's HLS in the native engine with this drmData. */
static json_t *native_play(fps_env *env, const char *entry, json_t *drm_data, bool *buffered,
                           json_t **events)
{
    char url[512];
    snprintf(url, sizeof(url),
             "%s/p/%d/sp/%d00/playManifest/entryId/%s/protocol/http/format/applehttp/a.m3u8",
             mbe_server_url(env->mock->srv), PID, PID, entry);
    kp_time end;
    bool eos;
    json_t *err = engine_play(&kp_engine_native_hls, url, drm_data, &end, &eos, events);
    *buffered = end > 0;
    return err;
}

static void test_fairplay_engine_errors(void **state)
{
    (void)state;
    fps_env env;
    fps_start(&env, true);
    static const char junk[] = "{\"ckc\":\"AAAA\"}";
    mbe_override o = {.method = "POST",
                      .path = "/t/fps-license",
                      .kind = MBE_REPLY_HTTP,
                      .status = 200,
                      .content_type = "application/json",
                      .body = junk,
                      .body_len = sizeof(junk) - 1};
    assert_int_equal(mbe_server_override(env.mock->srv, &o), KP_OK);
    char *lic = kp_asprintf("%s/t/fps-license", mbe_server_url(env.mock->srv));
    uint8_t cert[64];
    kp_drm_fps_certificate(PID, cert);
    char *b64 = kp_base64_encode(cert, sizeof(cert));
    char *bad = kp_base64_encode("not kpsim's certificate", 23);

    /* a certificate the CDM refuses: 6017, no license request */
    json_t *drm = json_pack("[{s:s, s:s, s:s}]", "licenseUrl", lic, "scheme", "com.apple.fairplay",
                            "certificate", bad);
    bool buffered = true;
    json_t *ev;
    json_t *err = native_play(&env, "0_fps00001", drm, &buffered, &ev);
    assert_non_null(err);
    assert_int_equal(kp_json_int(err, "severity", 0), 2);
    assert_int_equal(kp_json_int(err, "category", 0), 6);
    assert_int_equal(kp_json_int(err, "code", 0), 6017);
    assert_false(buffered);
    json_t *m = json_pack("{s:s}", "path", "/t/fps-license");
    assert_int_equal(mbe_server_count(env.mock->srv, "cdn", m), 0);
    json_decref(err);
    json_decref(ev);
    json_decref(drm);

    /* the CKC does not answer the request: 6015, after one license request */
    drm = json_pack("[{s:s, s:s, s:s}]", "licenseUrl", lic, "scheme", "com.apple.fairplay",
                    "certificate", b64);
    err = native_play(&env, "0_fps00001", drm, &buffered, &ev);
    assert_non_null(err);
    assert_int_equal(kp_json_int(err, "category", 0), 6);
    assert_int_equal(kp_json_int(err, "code", 0), 6015);
    assert_false(buffered);
    for (size_t i = 0; i < json_array_size(ev); i++)
        assert_string_not_equal(kp_json_str(json_array_get(ev, i), "", ""), "drmlicenseloaded");
    json_t *all = mbe_server_journal(env.mock->srv);
    size_t posts = 0, i;
    json_t *rec;
    json_array_foreach(all, i, rec)
    {
        posts += strcmp(kp_json_str(rec, "path", ""), "/t/fps-license") == 0 &&
                 strcmp(kp_json_str(rec, "method", ""), "POST") == 0;
    }
    assert_int_equal(posts, 1);
    json_decref(all);
    json_decref(m);
    json_decref(err);
    json_decref(ev);
    json_decref(drm);

    free(lic);
    free(b64);
    free(bad);
    fps_stop(&env);
}

/* ---- hls.js fMP4 (EXT-X-MAP), clear and AES-128 ---- */

static void get_body(const char *url, kp_buf *out)
{
    test_reply r;
    test_http("GET", url, NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    kp_buf_init(out);
    assert_int_equal(kp_buf_append(out, r.body.data, r.body.len), KP_OK);
    test_reply_free(&r);
}

/* The clear DASH entry's video: its BaseURL and representation id, from the MPD. */
static void dash_video(fixture *f, char **base, char **rep)
{
    char *url = kp_asprintf("%s/p/%d/sp/%d00/playManifest/entryId/0_hdash001/protocol/http/"
                            "format/mpegdash/a.mpd",
                            mbe_server_url(f->mock.srv), PID, PID);
    kp_buf mpd;
    get_body(url, &mpd);
    free(url);
    assert_int_equal(kp_buf_append(&mpd, "", 1), KP_OK);
    const char *b = strstr(mpd.data, "<BaseURL>");
    const char *r = strstr(mpd.data, "<Representation id=\"");
    assert_non_null(b);
    assert_non_null(r);
    b += 9;
    r += 20;
    *base = kp_strndup(b, strcspn(b, "<"));
    *rep = kp_strndup(r, strcspn(r, "\""));
    kp_buf_free(&mpd);
}

static void can_path(fixture *f, const char *path, const char *ctype, const void *body, size_t len)
{
    mbe_override o = {.method = "GET",
                      .path = path,
                      .kind = MBE_REPLY_HTTP,
                      .status = 200,
                      .content_type = ctype,
                      .body = body,
                      .body_len = len};
    assert_int_equal(mbe_server_override(f->mock.srv, &o), KP_OK);
}

static size_t cdn_count(fixture *f, json_t *match)
{
    size_t n = mbe_server_count(f->mock.srv, "cdn", match);
    json_decref(match);
    return n;
}

/* hls.js's audio-stream-controller: the AES-128 fMP4 entry's variant names an AUDIO group
 * whose rendition has a playlist of its own; the engine loads it, its init section, its key
 * and its three fragments, and they give the audio track (the level's give the video). */
static void test_hlsjs_audio_rendition(void **state)
{
    fixture *f = *state;
    const char *entry = "0_hfmp4aud";
    char *url =
        kp_asprintf("%s/p/%d/sp/%d00/playManifest/entryId/%s/protocol/http/format/applehttp/a.m3u8",
                    mbe_server_url(f->mock.srv), PID, PID, entry);
    kp_time end = 0, tracks[2] = {0, 0};
    bool eos = false;
    json_t *ev;
    json_t *err = engine_play_tracks(&kp_engine_hls, url, NULL, &end, &eos, &ev, tracks);
    if (err)
        fail_msg("%s", json_dumps(err, 0));
    /* both tracks hold the whole 6 s, each from its own stream; the stream ended */
    assert_true(tracks[0] > KP_MS(5900) && tracks[0] < KP_MS(6200));
    assert_true(tracks[1] > KP_MS(5900) && tracks[1] < KP_MS(6200));
    assert_true(end > KP_MS(5900));
    assert_true(eos);
    /* fragloaded: two init sections and 3 + 3 fragments */
    size_t frags = 0;
    for (size_t i = 0; i < json_array_size(ev); i++)
        frags += strcmp(kp_json_str(json_array_get(ev, i), "", ""), "fragloaded") == 0;
    assert_int_equal(frags, 8);
    json_decref(ev);
    /* the CDN saw the audio rendition's playlist, init section and fragments, once each */
    assert_int_equal(cdn_count(f, json_pack("{s:s, s:s, s:s}", "kind", "playlist", "rendition",
                                            "audio", "entryId", entry)),
                     1);
    assert_int_equal(cdn_count(f, json_pack("{s:s, s:s, s:s}", "kind", "init", "rendition", "audio",
                                            "entryId", entry)),
                     1);
    assert_int_equal(cdn_count(f, json_pack("{s:s, s:s, s:s}", "kind", "segment", "rendition",
                                            "audio", "entryId", entry)),
                     3);
    /* and the level's video fragments, once each; a key per playlist */
    assert_int_equal(cdn_count(f, json_pack("{s:s, s:s}", "kind", "segment", "entryId", entry)), 6);
    assert_int_equal(cdn_count(f, json_pack("{s:s, s:s}", "kind", "key", "entryId", entry)), 2);
    free(url);
}

static void test_hlsjs_fmp4(void **state)
{
    fixture *f = *state;
    char *base, *rep;
    dash_video(f, &base, &rep);
    static const uint8_t key[16] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0xa, 0xb, 0xc, 0xd, 0xe, 0xf};
    static const uint8_t iv[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34};
    kp_buf clear_pl, aes_pl;
    kp_buf_init(&clear_pl);
    kp_buf_init(&aes_pl);
    const char *head = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n"
                       "#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MEDIA-SEQUENCE:1\n";
    kp_buf_printf(&clear_pl, "%s#EXT-X-MAP:URI=\"%sinit-%s.m4s\"\n", head, base, rep);
    kp_buf_printf(&aes_pl,
                  "%s#EXT-X-MAP:URI=\"%sinit-%s.m4s\"\n"
                  "#EXT-X-KEY:METHOD=AES-128,URI=\"key.bin\",IV=0x1234\n",
                  head, base, rep);
    kp_cenc_ctx *c = kp_cenc_ctx_new();
    kp_buf enc[3];
    char *paths[3];
    for (int n = 1; n <= 3; n++) {
        char *u = kp_asprintf("%schunk-%s-%d.m4s", base, rep, n);
        kp_buf clear;
        get_body(u, &clear);
        kp_buf_printf(&clear_pl, "#EXTINF:2.000,\n%s\n", u);
        kp_buf_init(&enc[n - 1]);
        char err[128];
        assert_int_equal(kp_hls_aes_encrypt(c, key, iv, (const uint8_t *)clear.data, clear.len,
                                            &enc[n - 1], err, sizeof(err)),
                         KP_OK);
        paths[n - 1] = kp_asprintf("/t/fmp4aes/seg-%d.m4s", n);
        can_path(f, paths[n - 1], "video/mp4", enc[n - 1].data, enc[n - 1].len);
        kp_buf_printf(&aes_pl, "#EXTINF:2.000,\nseg-%d.m4s\n", n);
        kp_buf_free(&clear);
        free(u);
    }
    kp_buf_puts(&clear_pl, "#EXT-X-ENDLIST\n");
    kp_buf_puts(&aes_pl, "#EXT-X-ENDLIST\n");
    can_path(f, "/t/fmp4/index.m3u8", "application/vnd.apple.mpegurl", clear_pl.data, clear_pl.len);
    can_path(f, "/t/fmp4aes/index.m3u8", "application/vnd.apple.mpegurl", aes_pl.data, aes_pl.len);
    can_path(f, "/t/fmp4aes/key.bin", "application/octet-stream", key, 16);

    const char *names[2] = {"/t/fmp4/index.m3u8", "/t/fmp4aes/index.m3u8"};
    for (int k = 0; k < 2; k++) {
        char *url = kp_asprintf("%s%s", mbe_server_url(f->mock.srv), names[k]);
        kp_time end = 0;
        bool eos = false;
        json_t *ev;
        json_t *err = engine_play(&kp_engine_hls, url, NULL, &end, &eos, &ev);
        if (err)
            fail_msg("%s: %s", names[k], json_dumps(err, 0));
        /* the whole 6 s buffered from the fMP4 fragments' real times, the stream ended */
        assert_true(end > KP_MS(5900) && end < KP_MS(6200));
        assert_true(eos);
        /* abrmodechanged, manifestloaded, fragloaded for the init section and 3 fragments */
        size_t frags = 0;
        for (size_t i = 0; i < json_array_size(ev); i++)
            frags += strcmp(kp_json_str(json_array_get(ev, i), "", ""), "fragloaded") == 0;
        assert_int_equal(frags, 4);
        json_decref(ev);
        free(url);
    }
    /* the AES-128 run fetched the key once */
    json_t *all = mbe_server_journal(f->mock.srv);
    size_t keys = 0, i;
    json_t *rec;
    json_array_foreach(all, i, rec)
    {
        keys += strcmp(kp_json_str(rec, "path", ""), "/t/fmp4aes/key.bin") == 0;
    }
    assert_int_equal(keys, 1);
    json_decref(all);

    for (int n = 0; n < 3; n++) {
        kp_buf_free(&enc[n]);
        free(paths[n]);
    }
    kp_cenc_ctx_free(c);
    kp_buf_free(&clear_pl);
    kp_buf_free(&aes_pl);
    free(base);
    free(rep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aes128_plays_like_clear),
        cmocka_unit_test(test_key_404),
        cmocka_unit_test(test_key_short),
        cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_sample_aes_without_eme),
        cmocka_unit_test(test_hlsjs_fmp4),
        cmocka_unit_test(test_hlsjs_audio_rendition),
        cmocka_unit_test(test_aes128_safari_native),
        cmocka_unit_test(test_fairplay_safari_to_end),
        cmocka_unit_test(test_fairplay_license_denied),
        cmocka_unit_test(test_fairplay_without_drm_data),
        cmocka_unit_test(test_fairplay_engine_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
