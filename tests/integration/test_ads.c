/* test_ads.c: the ads plugin (core/src/ads.c) in the reference player against the mock
 * back-end over real sockets, on the virtual clock. The VAST/VMAP documents are written here
 * and served as canned replies (mbe_server_override) under /ads/..., their beacons too; the
 * ad media is a real progressive MP4 of an entry of the mock CDN (4 s). It checks:
 *   - a preroll from plugins.ima.adTagUrl: the reference order (admanifestloaded, adloaded,
 *     adbreakstart, adstarted, quartiles, adcompleted, adbreakend, adscompleted,
 *     alladscompleted, then the content's play/firstplay), payloads, the ad's real duration,
 *     the content preloading during the ad, impression/start/quartile/complete beacons in order
 *     with [CACHEBUSTING] filled;
 *   - a midroll and a postroll from advertising.adBreaks: content pause after adbreakstart,
 *     content resume after adbreakend, playbackended after alladscompleted;
 *   - a skippable ad skipped (adcanskip then adskipped, the skip beacon);
 *   - a pod of three from one VAST (adbreakstart once, positions 1..3);
 *   - errors: empty VAST (8303, Error URL with [ERRORCODE]=303), a wrapper chain resolved,
 *     a wrapper loop (8302), a 404 media file (8401), malformed XML (8100): each aderror and
 *     the content still plays to the end;
 *   - seeking over two midrolls plays only the last one (snap-back).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http_client.h"
#include "kp/buf.h"
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
static const char *const r180[] = {"180p"};

typedef struct fixture {
    test_mock mock;
    char *ad_mp4; /* the ad's MP4 URL */
} fixture;

static char *mp4_url(fixture *f, const char *entry)
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
    char *out = kp_strndup(loc, strcspn(loc, "\r\n \""));
    test_reply_free(&r);
    return out;
}

static void serve(fixture *f, const char *path, int status, const char *body)
{
    mbe_override o = {.path = path,
                      .kind = MBE_REPLY_HTTP,
                      .status = status,
                      .content_type = "application/xml",
                      .body = body,
                      .body_len = strlen(body)};
    assert_int_equal(mbe_server_override(f->mock.srv, &o), KP_OK);
}

/* An InLine ad (id) with tracking beacons under /ads/t/<id>/... */
static char *inline_ad(fixture *f, const char *id, int seq, const char *skip, const char *media)
{
    const char *b = mbe_server_url(f->mock.srv);
    char seqattr[32] = "";
    if (seq)
        snprintf(seqattr, sizeof(seqattr), " sequence=\"%d\"", seq);
    return kp_asprintf(
        "<Ad id=\"%s\"%s><InLine><AdSystem>kpsim</AdSystem><AdTitle>ad %s</AdTitle>"
        "<Error>%s/ads/t/%s/error?code=[ERRORCODE]</Error>"
        "<Impression>%s/ads/t/%s/impression?cb=[CACHEBUSTING]</Impression>"
        "<Creatives><Creative id=\"c%s\"><UniversalAdId idRegistry=\"Ad-ID\">U%s</UniversalAdId>"
        "<Linear%s><Duration>00:00:04</Duration><TrackingEvents>"
        "<Tracking event=\"start\">%s/ads/t/%s/start</Tracking>"
        "<Tracking event=\"firstQuartile\">%s/ads/t/%s/firstQuartile</Tracking>"
        "<Tracking event=\"midpoint\">%s/ads/t/%s/midpoint</Tracking>"
        "<Tracking event=\"thirdQuartile\">%s/ads/t/%s/thirdQuartile</Tracking>"
        "<Tracking event=\"complete\">%s/ads/t/%s/complete</Tracking>"
        "<Tracking event=\"skip\">%s/ads/t/%s/skip</Tracking>"
        "<Tracking event=\"pause\">%s/ads/t/%s/pause</Tracking>"
        "<Tracking event=\"resume\">%s/ads/t/%s/resume</Tracking>"
        "</TrackingEvents><VideoClicks><ClickThrough>http://example.test/</ClickThrough>"
        "</VideoClicks><MediaFiles>"
        "<MediaFile delivery=\"progressive\" type=\"video/webm\" width=\"320\" height=\"180\">"
        "%s.webm</MediaFile>"
        "<MediaFile delivery=\"progressive\" type=\"video/mp4\" width=\"320\" height=\"180\" "
        "bitrate=\"300\">%s</MediaFile></MediaFiles></Linear></Creative>"
        "<Creative><CompanionAds/></Creative></Creatives></InLine></Ad>",
        id, seqattr, id, b, id, b, id, id, id, skip ? skip : "", b, id, b, id, b, id, b, id, b, id,
        b, id, b, id, b, id, media, media);
}

static void serve_vast(fixture *f, const char *path, const char *ads)
{
    char *doc = kp_asprintf("<?xml version=\"1.0\"?>\n<VAST version=\"4.2\">%s</VAST>", ads);
    serve(f, path, 200, doc);
    free(doc);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    const mbe_entry entries[] = {
        {.id = "0_content1",
         .duration = 12,
         .formats = prog_only,
         .n_formats = 1,
         .renditions = r180,
         .n_renditions = 1},
        {.id = "0_adclip01",
         .duration = 4,
         .formats = prog_only,
         .n_formats = 1,
         .renditions = r180,
         .n_renditions = 1},
    };
    mbe_config cfg = {.partner_id = PID, .entries = entries, .n_entries = 2};
    test_mock_start(&f->mock, &cfg);
    f->ad_mp4 = mp4_url(f, "0_adclip01");
    const char *b = mbe_server_url(f->mock.srv);
    char *ad = inline_ad(f, "pre", 0, NULL, f->ad_mp4);
    serve_vast(f, "/ads/pre.xml", ad);
    free(ad);
    ad = inline_ad(f, "skip", 0, " skipoffset=\"00:00:01.500\"", f->ad_mp4);
    serve_vast(f, "/ads/skip.xml", ad);
    free(ad);
    char *a1 = inline_ad(f, "p1", 1, NULL, f->ad_mp4);
    char *a2 = inline_ad(f, "p2", 2, NULL, f->ad_mp4);
    char *a3 = inline_ad(f, "p3", 3, NULL, f->ad_mp4);
    char *pod = kp_asprintf("%s%s%s", a3, a1, a2);
    serve_vast(f, "/ads/pod.xml", pod);
    free(a1);
    free(a2);
    free(a3);
    free(pod);
    char *media404 = kp_asprintf("%s/ads/missing.mp4", b);
    ad = inline_ad(f, "m404", 0, NULL, media404);
    serve_vast(f, "/ads/media404.xml", ad);
    free(ad);
    serve(f, "/ads/missing.mp4", 404, "no");
    char *empty = kp_asprintf("<VAST version=\"3.0\"><Error>%s/ads/t/empty/error?code=[ERRORCODE]"
                              "</Error></VAST>",
                              b);
    serve(f, "/ads/empty.xml", 200, empty);
    free(empty);
    serve(f, "/ads/bad.xml", 200, "<VAST version=\"3.0\"><Ad><InLine>");
    /* wrapper chain w1 -> w2 -> pre.xml; loop l1 -> l2 -> l1 ... */
    const char *chain[][2] = {{"w1", "w2"}, {"w2", "pre"}, {"l1", "l2"}, {"l2", "l1"}};
    for (size_t i = 0; i < 4; i++) {
        char *doc = kp_asprintf(
            "<VAST version=\"3.0\"><Ad id=\"%s\"><Wrapper><AdSystem>W</AdSystem>"
            "<VASTAdTagURI>%s/ads/%s.xml</VASTAdTagURI>"
            "<Error>%s/ads/t/%s/error?code=[ERRORCODE]</Error>"
            "<Impression>%s/ads/t/%s/impression</Impression>"
            "<Creatives><Creative><Linear><TrackingEvents>"
            "<Tracking event=\"complete\">%s/ads/t/%s/complete</Tracking>"
            "</TrackingEvents></Linear></Creative></Creatives></Wrapper></Ad></VAST>",
            chain[i][0], b, chain[i][1], b, chain[i][0], b, chain[i][0], b, chain[i][0]);
        char path[64];
        snprintf(path, sizeof(path), "/ads/%s.xml", chain[i][0]);
        serve(f, path, 200, doc);
        free(doc);
    }
    free(media404);
    /* a VMAP: start (AdTagURI), 50% (inline VASTAdData), end (AdTagURI) */
    ad = inline_ad(f, "vmid", 0, NULL, f->ad_mp4);
    char *vmap = kp_asprintf(
        "<vmap:VMAP xmlns:vmap=\"http://www.iab.net/videosuite/vmap\" version=\"1.0\">"
        "<vmap:AdBreak timeOffset=\"start\" breakType=\"linear\" breakId=\"pre\">"
        "<vmap:AdSource><vmap:AdTagURI templateType=\"vast4\">%s/ads/pre.xml</vmap:AdTagURI>"
        "</vmap:AdSource><vmap:TrackingEvents><vmap:Tracking event=\"breakStart\">"
        "%s/ads/t/vmap/breakStart</vmap:Tracking><vmap:Tracking event=\"breakEnd\">"
        "%s/ads/t/vmap/breakEnd</vmap:Tracking></vmap:TrackingEvents></vmap:AdBreak>"
        "<vmap:AdBreak timeOffset=\"50%%\" breakType=\"linear\" breakId=\"mid\">"
        "<vmap:AdSource><vmap:VASTAdData><VAST version=\"4.2\">%s</VAST></vmap:VASTAdData>"
        "</vmap:AdSource></vmap:AdBreak>"
        "<vmap:AdBreak timeOffset=\"end\" breakType=\"linear\" breakId=\"post\">"
        "<vmap:AdSource><vmap:AdTagURI>%s/ads/pre.xml</vmap:AdTagURI></vmap:AdSource>"
        "</vmap:AdBreak></vmap:VMAP>",
        b, b, b, ad, b);
    serve(f, "/ads/vmap.xml", 200, vmap);
    free(vmap);
    free(ad);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    test_mock_stop(&f->mock);
    free(f->ad_mp4);
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

/* config_fmt: extra player config (JSON) where {b} is the back-end URL */
static void run_start(run *r, fixture *f, const char *config_fmt)
{
    memset(r, 0, sizeof(*r));
    r->sched = kp_sched_new();
    kp_net_profile prof = {.bandwidth_bps = 20000000, .latency = KP_MS(5)};
    r->net = kp_net_new(r->sched, &prof, NULL);
    json_t *cfg = json_pack("{s:{s:i, s:{s:s}}, s:{s:b}}", "provider", "partnerId", PID, "env",
                            "serviceUrl", f->mock.service, "playback", "muted", 1);
    if (config_fmt) {
        /* every {b} is the back-end's URL */
        kp_buf tb;
        kp_buf_init(&tb);
        for (const char *c = config_fmt; *c;) {
            if (strncmp(c, "{b}", 3) == 0) {
                kp_buf_puts(&tb, mbe_server_url(f->mock.srv));
                c += 3;
            } else {
                kp_buf_putc(&tb, *c++);
            }
        }
        char *text = kp_buf_steal(&tb);
        json_error_t e;
        json_t *x = json_loads(text, 0, &e);
        if (!x)
            fail_msg("bad config %s: %s", text, e.text);
        assert_int_equal(kp_json_merge(cfg, x), KP_OK);
        json_decref(x);
        free(text);
    }
    r->player = kp_player_new(r->sched, r->net, cfg, NULL);
    json_decref(cfg);
    assert_non_null(r->player);
    void *st = NULL;
    assert_int_equal(kp_player_add_plugin(r->player, &kp_recorder_plugin, NULL, NULL, &st), KP_OK);
    r->rec = st;
    json_t *mi = json_pack("{s:s}", "entryId", "0_content1");
    assert_int_equal(kp_player_load_media(r->player, mi), KP_OK);
    json_decref(mi);
    kp_player_play(r->player);
}

static void run_free(run *r)
{
    kp_player_free(r->player);
    kp_net_free(r->net);
    kp_sched_free(r->sched);
}

static size_t find_from(run *r, const char *type, size_t from)
{
    for (size_t i = from; i < kp_recorder_count(r->rec); i++)
        if (strcmp(kp_recorder_get(r->rec, i)->name, type) == 0)
            return i;
    return SIZE_MAX;
}

static size_t run_until_event(run *r, const char *type, kp_time limit)
{
    while (kp_sched_now(r->sched) < limit && kp_sched_step(r->sched))
        if (find_from(r, type, 0) != SIZE_MAX)
            break;
    return find_from(r, type, 0);
}

/* The recorded types, space-separated, without timeupdate, adprogress, progress. */
static char *types(run *r)
{
    kp_buf b;
    kp_buf_init(&b);
    for (size_t i = 0; i < kp_recorder_count(r->rec); i++) {
        const char *t = kp_recorder_get(r->rec, i)->name;
        if (strcmp(t, "timeupdate") != 0 && strcmp(t, "adprogress") != 0 &&
            strcmp(t, "progress") != 0)
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

static const json_t *payload_at(run *r, size_t i)
{
    return kp_recorder_get(r->rec, i)->payload;
}

static void assert_contains(const char *hay, const char *needle)
{

    if (!strstr(hay, needle))
        fail_msg("expected\n  %s\nin\n  %s", needle, hay);
}

static void assert_before(run *r, const char *a, const char *b)
{
    size_t ia = find_from(r, a, 0), ib = find_from(r, b, 0);
    if (ia == SIZE_MAX || ib == SIZE_MAX || ia >= ib)
        fail_msg("expected %s (%zu) before %s (%zu)", a, ia, b, ib);
}

/* The paths of the beacons under /ads/t/ in arrival order, space-separated (with queries). */
static char *beacons(fixture *f, size_t *first)
{
    json_t *all = mbe_server_journal(f->mock.srv);
    kp_buf b;
    kp_buf_init(&b);
    size_t i;
    json_t *rec;
    json_array_foreach(all, i, rec)
    {
        if (i < *first)
            continue;
        const char *path = kp_json_str(rec, "path", "");
        if (strncmp(path, "/ads/t/", 7) != 0)
            continue;
        kp_buf_printf(&b, "%s%s", b.len ? " " : "", path + 7);
        const json_t *q = json_object_get(rec, "query");
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)q, k, v)
        {
            kp_buf_printf(&b, "?%s=%s", k, json_string_value(v) ? json_string_value(v) : "");
        }
    }
    *first = json_array_size(all);
    json_decref(all);
    char *s = kp_buf_steal(&b);
    return s ? s : kp_strdup("");
}

static size_t journal_len(fixture *f)
{
    json_t *all = mbe_server_journal(f->mock.srv);
    size_t n = json_array_size(all);
    json_decref(all);
    return n;
}

/* ---- tests ---- */

static void test_preroll(void **state)
{
    fixture *f = *state;
    size_t mark = journal_len(f);
    run r;
    run_start(&r, f, "{\"plugins\":{\"ima\":{\"adTagUrl\":\"{b}/ads/pre.xml\"}}}");
    assert_true(run_until_event(&r, "playbackended", KP_SEC(60)) != SIZE_MAX);
    char *t = types(&r);
    assert_contains(t, "registeredpluginslistevent changesourcestarted");
    assert_contains(t, "admanifestloaded");
    assert_contains(t, "adloaded adbreakstart adstarted adfirstquartile admidpoint adthirdquartile "
                       "adcompleted adbreakend adscompleted alladscompleted");
    assert_contains(t, "alladscompleted playerstatechanged play firstplay playing firstplaying");
    assert_contains(t, "ended playbackended");
    /* the content preloaded during the ad */
    assert_before(&r, "loadstart", "adbreakend");
    assert_before(&r, "admanifestloaded", "adloaded");
    assert_int_equal(count(&r, "aderror"), 0);
    assert_int_equal(count(&r, "error"), 0);
    size_t i = find_from(&r, "registeredpluginslistevent", 0);
    assert_string_equal(json_string_value(json_array_get(payload_at(&r, i), 0)), "ima");
    i = find_from(&r, "admanifestloaded", 0);
    assert_int_equal(kp_json_int(payload_at(&r, i), "adBreaksPosition.0", -5), 0);
    i = find_from(&r, "adloaded", 0);
    assert_string_equal(kp_json_str(payload_at(&r, i), "adType", ""), "preroll");
    assert_string_equal(kp_json_str(payload_at(&r, i), "ad.id", ""), "pre");
    assert_string_equal(kp_json_str(payload_at(&r, i), "ad.contentType", ""), "video/mp4");
    assert_int_equal(kp_json_int(payload_at(&r, i), "ad.position", 0), 1);
    double dur = kp_json_num(payload_at(&r, i), "ad.duration", 0);
    assert_true(dur >= 4.0 && dur < 4.1); /* the MP4's own duration */
    i = find_from(&r, "adbreakstart", 0);
    assert_string_equal(kp_json_str(payload_at(&r, i), "adBreak.type", ""), "preroll");
    assert_int_equal(kp_json_int(payload_at(&r, i), "adBreak.numAds", 0), 1);
    /* ad time passes on the virtual clock: adstarted -> adcompleted = the ad's duration */
    int64_t t0 = kp_recorder_get(r.rec, find_from(&r, "adstarted", 0))->t_ms;
    int64_t t1 = kp_recorder_get(r.rec, find_from(&r, "adcompleted", 0))->t_ms;
    assert_true(llabs((long long)(t1 - t0) - (long long)(dur * 1000)) <= 1);
    assert_true(count(&r, "adprogress") >= 15);
    char *bc = beacons(f, &mark);
    assert_contains(bc, "pre/impression?cb=");
    assert_contains(bc, " pre/start pre/firstQuartile pre/midpoint pre/thirdQuartile pre/complete");
    assert_null(strstr(bc, "error"));
    free(bc);
    free(t);
    run_free(&r);
}

static void test_breaks_mid_post(void **state)
{
    fixture *f = *state;
    run r;
    run_start(
        &r, f,
        "{\"advertising\":{\"adBreaks\":[{\"position\":5,\"ads\":[{\"url\":"
        "[\"{b}/ads/pre.xml\"]}]},{\"position\":-1,\"ads\":[{\"url\":[\"{b}/ads/pre.xml\"]}]},"
        "{\"percentage\":50,\"ads\":[]}]}}");
    assert_true(run_until_event(&r, "playbackended", KP_SEC(60)) != SIZE_MAX);
    char *t = types(&r);
    /* no preroll: content starts at once */
    assert_contains(t, "admanifestloaded");
    assert_contains(t, "adloaded adbreakstart playerstatechanged pause adstarted");
    assert_contains(t, "adcompleted adbreakend adscompleted playerstatechanged play playing");
    assert_contains(t, "ended adloaded adbreakstart adstarted");
    assert_contains(t, "adcompleted adbreakend adscompleted alladscompleted playbackended");
    assert_int_equal(count(&r, "adbreakstart"), 2);
    assert_int_equal(count(&r, "firstplay"), 1);
    size_t i = find_from(&r, "admanifestloaded", 0);
    assert_int_equal(json_array_size(json_object_get(payload_at(&r, i), "adBreaksPosition")), 2);
    i = find_from(&r, "adbreakstart", 0);
    assert_string_equal(kp_json_str(payload_at(&r, i), "adBreak.type", ""), "midroll");
    double pos = kp_json_num(payload_at(&r, i), "adBreak.position", 0);
    assert_true(pos >= 5.0 && pos < 5.6);
    i = find_from(&r, "adbreakstart", i + 1);
    assert_string_equal(kp_json_str(payload_at(&r, i), "adBreak.type", ""), "postroll");
    assert_int_equal(kp_json_int(payload_at(&r, i), "adBreak.position", 0), -1);
    free(t);
    run_free(&r);
}

static void test_every(void **state)
{
    fixture *f = *state;
    run r;
    run_start(&r, f,
              "{\"advertising\":{\"adBreaks\":[{\"every\":4,\"ads\":[{\"url\":"
              "[\"{b}/ads/pre.xml\"]}]},{\"percentage\":0,\"ads\":[{\"url\":"
              "[\"{b}/ads/skip.xml\"]}]}]}}");
    assert_true(run_until_event(&r, "playbackended", KP_SEC(120)) != SIZE_MAX);
    size_t i = find_from(&r, "admanifestloaded", 0);
    char *pos = kp_json_dumps(json_object_get(payload_at(&r, i), "adBreaksPosition"));
    assert_string_equal(pos, "[\"4s\",\"0%\"]");
    free(pos);
    /* the preroll (percentage 0), then every 4 s: 4, 8 (12 is the end: dropped there) */
    assert_int_equal(count(&r, "adbreakstart"), 3);
    const char *want[] = {"preroll", "midroll", "midroll"};
    i = 0;
    for (int k = 0; k < 3; k++) {
        i = find_from(&r, "adbreakstart", i + (k > 0));
        assert_string_equal(kp_json_str(payload_at(&r, i), "adBreak.type", ""), want[k]);
        if (k > 0) {
            double p = kp_json_num(payload_at(&r, i), "adBreak.position", 0);
            assert_true(p >= 4.0 * k && p < 4.0 * k + 0.6);
        }
    }
    assert_int_equal(count(&r, "alladscompleted"), 1);
    run_free(&r);
}

static void test_skip(void **state)
{
    fixture *f = *state;
    size_t mark = journal_len(f);
    run r;
    run_start(&r, f, "{\"plugins\":{\"ima\":{\"adTagUrl\":\"{b}/ads/skip.xml\"}}}");
    assert_true(run_until_event(&r, "adstarted", KP_SEC(30)) != SIZE_MAX);
    assert_int_equal(kp_player_skip_ad(r.player), KP_ESTATE); /* not yet skippable */
    assert_true(run_until_event(&r, "adcanskip", KP_SEC(30)) != SIZE_MAX);
    int64_t t = kp_recorder_get(r.rec, find_from(&r, "adcanskip", 0))->t_ms -
                kp_recorder_get(r.rec, find_from(&r, "adstarted", 0))->t_ms;
    assert_true(t >= 1500 && t < 1750);
    assert_int_equal(kp_player_skip_ad(r.player), KP_OK);
    assert_true(run_until_event(&r, "playbackended", KP_SEC(60)) != SIZE_MAX);
    char *ty = types(&r);
    assert_contains(ty, "adcanskip adskipped adbreakend adscompleted alladscompleted");
    assert_int_equal(count(&r, "adcompleted"), 0);
    assert_int_equal(count(&r, "admidpoint"), 0);
    char *bc = beacons(f, &mark);
    assert_contains(bc, "skip/firstQuartile skip/skip");
    assert_null(strstr(bc, "skip/complete"));
    free(bc);
    free(ty);
    run_free(&r);
}

static void test_ad_pause(void **state)
{
    fixture *f = *state;
    size_t mark = journal_len(f);
    run r;
    run_start(&r, f, "{\"plugins\":{\"ima\":{\"adTagUrl\":\"{b}/ads/pre.xml\"}}}");
    assert_true(run_until_event(&r, "adfirstquartile", KP_SEC(30)) != SIZE_MAX);
    kp_player_pause(r.player);
    kp_sched_run_until(r.sched, kp_sched_now(r.sched) + KP_SEC(3));
    assert_int_equal(count(&r, "admidpoint"), 0);
    assert_int_equal(count(&r, "adpaused"), 1);
    assert_true(kp_player_paused(r.player)); /* the content did not move */
    kp_player_play(r.player);
    assert_true(run_until_event(&r, "playbackended", KP_SEC(60)) != SIZE_MAX);
    char *t = types(&r);
    assert_contains(t, "adfirstquartile adpaused adresumed admidpoint");
    assert_int_equal(count(&r, "adresumed"), 1);
    assert_int_equal(count(&r, "firstplay"), 1);
    int64_t t0 = kp_recorder_get(r.rec, find_from(&r, "adstarted", 0))->t_ms;
    int64_t t1 = kp_recorder_get(r.rec, find_from(&r, "adcompleted", 0))->t_ms;
    assert_true(t1 - t0 >= 7000 && t1 - t0 < 7200); /* 4 s of ad + 3 s paused */
    char *bc = beacons(f, &mark);
    assert_contains(bc, "pre/firstQuartile pre/pause pre/resume pre/midpoint");
    free(bc);
    free(t);
    run_free(&r);
}

static void test_pod(void **state)
{
    fixture *f = *state;
    run r;
    run_start(&r, f, "{\"plugins\":{\"ima\":{\"adTagUrl\":\"{b}/ads/pod.xml\"}}}");
    assert_true(run_until_event(&r, "playbackended", KP_SEC(90)) != SIZE_MAX);
    assert_int_equal(count(&r, "adbreakstart"), 1);
    assert_int_equal(count(&r, "adstarted"), 3);
    assert_int_equal(count(&r, "adcompleted"), 3);
    assert_int_equal(count(&r, "adbreakend"), 1);
    size_t i = find_from(&r, "adbreakstart", 0);
    assert_int_equal(kp_json_int(payload_at(&r, i), "adBreak.numAds", 0), 3);
    const char *ids[] = {"p1", "p2", "p3"};
    i = 0;
    for (int k = 0; k < 3; k++) {
        i = find_from(&r, "adstarted", i + 1);
        assert_string_equal(kp_json_str(payload_at(&r, i), "ad.id", ""), ids[k]);
        assert_int_equal(kp_json_int(payload_at(&r, i), "ad.position", 0), k + 1);
    }
    char *t = types(&r);
    assert_contains(t, "adcompleted adloaded adstarted");
    assert_contains(t, "adcompleted adbreakend adscompleted alladscompleted playerstatechanged "
                       "play firstplay");
    free(t);
    run_free(&r);
}

/* An ad error, then content plays to the end. */
static void check_error(fixture *f, const char *tag, int code, const char *beacon)
{
    size_t mark = journal_len(f);
    char cfg[200];
    snprintf(cfg, sizeof(cfg), "{\"plugins\":{\"ima\":{\"adTagUrl\":\"{b}/ads/%s\"}}}", tag);
    run r;
    run_start(&r, f, cfg);
    assert_true(run_until_event(&r, "playbackended", KP_SEC(60)) != SIZE_MAX);
    size_t i = find_from(&r, "aderror", 0);
    if (i == SIZE_MAX)
        fail_msg("%s: no aderror in %s", tag, types(&r));
    assert_int_equal(kp_json_int(payload_at(&r, i), "code", 0), code);
    assert_int_equal(kp_json_int(payload_at(&r, i), "category", 0), 8);
    assert_int_equal(kp_json_int(payload_at(&r, i), "severity", 0), 2);
    assert_int_equal(count(&r, "adstarted"), 0);
    assert_int_equal(count(&r, "alladscompleted"), 0);
    assert_int_equal(count(&r, "error"), 0);
    assert_before(&r, "aderror", "firstplaying");
    assert_true(kp_player_ended(r.player));
    char *bc = beacons(f, &mark);
    if (beacon)
        assert_contains(bc, beacon);
    else
        assert_string_equal(bc, "");
    free(bc);
    run_free(&r);
}

static void test_errors(void **state)
{
    fixture *f = *state;
    check_error(f, "empty.xml", 8303, "empty/error?code=303");
    check_error(f, "bad.xml", 8100, NULL);
    check_error(f, "l1.xml", 8302, "l1/error?code=302");
    check_error(f, "media404.xml", 8401, "m404/error?code=401");
    check_error(f, "nothing-here.xml", 8301, NULL);
}

static void test_wrapper_chain(void **state)
{
    fixture *f = *state;
    size_t mark = journal_len(f);
    run r;
    run_start(&r, f, "{\"plugins\":{\"ima\":{\"adTagUrl\":\"{b}/ads/w1.xml\"}}}");
    assert_true(run_until_event(&r, "playbackended", KP_SEC(60)) != SIZE_MAX);
    assert_int_equal(count(&r, "aderror"), 0);
    assert_int_equal(count(&r, "adcompleted"), 1);
    size_t i = find_from(&r, "adstarted", 0);
    assert_string_equal(kp_json_str(payload_at(&r, i), "ad.wrapperAdIds.0", ""), "w1");
    assert_string_equal(kp_json_str(payload_at(&r, i), "ad.wrapperAdIds.1", ""), "w2");
    char *bc = beacons(f, &mark);
    assert_contains(bc, "pre/impression?cb=");
    assert_contains(bc, "w1/impression w2/impression pre/start");
    assert_contains(bc, "pre/complete w1/complete w2/complete");
    free(bc);
    /* with numRedirects 1 the same chain is too deep */
    run_free(&r);
    run_start(&r, f,
              "{\"plugins\":{\"ima\":{\"adTagUrl\":\"{b}/ads/w1.xml\",\"numRedirects\":1}}}");
    assert_true(run_until_event(&r, "playbackended", KP_SEC(60)) != SIZE_MAX);
    i = find_from(&r, "aderror", 0);
    assert_true(i != SIZE_MAX);
    assert_int_equal(kp_json_int(payload_at(&r, i), "code", 0), 8302);
    run_free(&r);
}

static void test_seek_over_midrolls(void **state)
{
    fixture *f = *state;
    run r;
    run_start(&r, f,
              "{\"advertising\":{\"adBreaks\":[{\"position\":3,\"ads\":[{\"url\":"
              "[\"{b}/ads/pre.xml\"]}]},{\"position\":6,\"ads\":[{\"url\":[\"{b}/ads/skip.xml\"]}]}"
              "]}}");
    assert_true(run_until_event(&r, "firstplaying", KP_SEC(30)) != SIZE_MAX);
    kp_player_seek(r.player, 8.0);
    assert_true(run_until_event(&r, "playbackended", KP_SEC(90)) != SIZE_MAX);
    assert_int_equal(count(&r, "adbreakstart"), 1);
    size_t i = find_from(&r, "adstarted", 0);
    assert_string_equal(kp_json_str(payload_at(&r, i), "ad.id", ""), "skip");
    assert_int_equal(count(&r, "alladscompleted"), 1);
    run_free(&r);

    /* seeking back before the break passed over plays it when the playhead reaches it */
    run_start(&r, f,
              "{\"advertising\":{\"adBreaks\":[{\"position\":3,\"ads\":[{\"url\":"
              "[\"{b}/ads/pre.xml\"]}]},{\"position\":6,\"ads\":[{\"url\":[\"{b}/ads/skip.xml\"]}]}"
              "]}}");
    assert_true(run_until_event(&r, "firstplaying", KP_SEC(30)) != SIZE_MAX);
    kp_player_seek(r.player, 8.0);
    assert_true(run_until_event(&r, "adbreakend", KP_SEC(60)) != SIZE_MAX);
    kp_player_seek(r.player, 1.0);
    assert_true(run_until_event(&r, "playbackended", KP_SEC(90)) != SIZE_MAX);
    assert_int_equal(count(&r, "adbreakstart"), 2);
    i = find_from(&r, "adstarted", find_from(&r, "adstarted", 0) + 1);
    assert_string_equal(kp_json_str(payload_at(&r, i), "ad.id", ""), "pre");
    i = find_from(&r, "adbreakstart", find_from(&r, "adbreakstart", 0) + 1);
    double pos = kp_json_num(payload_at(&r, i), "adBreak.position", 0);
    assert_true(pos >= 3.0 && pos < 3.6);
    run_free(&r);
}

static void test_vmap(void **state)
{
    fixture *f = *state;
    size_t mark = journal_len(f);
    run r;
    run_start(&r, f, "{\"plugins\":{\"ima\":{\"adTagUrl\":\"{b}/ads/vmap.xml\"}}}");
    assert_true(run_until_event(&r, "playbackended", KP_SEC(90)) != SIZE_MAX);
    assert_int_equal(count(&r, "aderror"), 0);
    assert_int_equal(count(&r, "adbreakstart"), 3);
    assert_int_equal(count(&r, "adscompleted"), 1);
    assert_int_equal(count(&r, "alladscompleted"), 1);
    size_t i = find_from(&r, "admanifestloaded", 0);
    char *pos = kp_json_dumps(json_object_get(payload_at(&r, i), "adBreaksPosition"));
    assert_string_equal(pos, "[0,\"50%\",-1]");
    free(pos);
    const char *types_want[] = {"preroll", "midroll", "postroll"};
    i = 0;
    for (int k = 0; k < 3; k++) {
        i = find_from(&r, "adbreakstart", i + 1);
        assert_string_equal(kp_json_str(payload_at(&r, i), "adBreak.type", ""), types_want[k]);
    }
    i = find_from(&r, "adbreakstart", find_from(&r, "adbreakstart", 0) + 1);
    double p = kp_json_num(payload_at(&r, i), "adBreak.position", 0);
    assert_true(p >= 6.0 && p < 6.6); /* 50 % of 12 s */
    char *t = types(&r);
    assert_contains(t, "adcompleted adbreakend adscompleted alladscompleted playbackended");
    free(t);
    char *bc = beacons(f, &mark);
    assert_contains(bc, "vmap/breakStart pre/impression");
    assert_contains(bc, "pre/complete vmap/breakEnd");
    assert_contains(bc, "vmid/start");
    free(bc);
    run_free(&r);
}

static void test_no_ads_config(void **state)
{
    fixture *f = *state;
    run r;
    run_start(&r, f, NULL);
    assert_true(run_until_event(&r, "playbackended", KP_SEC(60)) != SIZE_MAX);
    size_t i = find_from(&r, "registeredpluginslistevent", 0);
    assert_int_equal(json_array_size(payload_at(&r, i)), 0);
    assert_int_equal(count(&r, "admanifestloaded"), 0);
    assert_int_equal(kp_player_skip_ad(r.player), KP_ESTATE);
    run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_preroll),
        cmocka_unit_test(test_breaks_mid_post),
        cmocka_unit_test(test_every),
        cmocka_unit_test(test_skip),
        cmocka_unit_test(test_ad_pause),
        cmocka_unit_test(test_pod),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_wrapper_chain),
        cmocka_unit_test(test_seek_over_midrolls),
        cmocka_unit_test(test_vmap),
        cmocka_unit_test(test_no_ads_config),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
