/* test_segment_faults.c: broken media segments of real entries, over real sockets. The mock
 * back-end serves a real HLS and DASH entry; one media segment's path is then answered with
 * broken bytes (a canned reply), and the engine the player would use plays the entry until it
 * fails: a DASH segment cut in half or replaced by garbage is {2, 3, 3016 VIDEO_ERROR}
 * (MediaSource cannot parse it), an HLS segment of garbage is {2, 3, 3019
 * HLS_FRAG_PARSING_ERROR} (hls.js fragParsingError); each error names the segment's URL and a
 * precise reason, and nothing else fails.
 */
#include "engine.h"
#include "http_client.h"
#include "m3u8.h"
#include "mock_server.h"
#include "mpd.h"

#include "kp/jsonu.h"
#include "kp/perror.h"
#include "kp/provider.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>

#include <cmocka.h>

#define PID 777

static const int formats[] = {MBE_FORMAT_HLS, MBE_FORMAT_DASH};
static const char *const low[] = {"180p"};

typedef struct run {
    json_t *error;
    int errors;
} run;

static void on_emit(void *ud, kp_event_type type, json_t *payload)
{
    (void)ud;
    (void)type;
    json_decref(payload);
}

static void on_loaded(void *ud, json_t *tracks)
{
    (void)ud;
    json_decref(tracks);
}

static void on_fail(void *ud, json_t *error)
{
    run *r = ud;
    r->errors++;
    json_decref(r->error);
    r->error = error;
}

static kp_buf get(const char *url)
{
    test_reply r;
    test_http("GET", url, NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    kp_buf b = r.body;
    kp_buf_init(&r.body);
    test_reply_free(&r);
    return b;
}

/* The entry's source of `format` from the provider, as the player gets it. */
static json_t *source(test_mock *m, const char *format)
{
    kp_provider_opts o;
    kp_provider_opts_init(&o);
    o.service_url = m->service;
    o.cdn_url = mbe_server_url(m->srv);
    o.partner_id = PID;
    kp_provider_client pc;
    kp_provider_client_init(&pc);
    pc.user_get = false;
    kp_media_info mi = {.entry_id = "0_broken01", .redirect_from_entry_id = -1};
    json_t *config = NULL, *error = NULL;
    assert_int_equal(kp_ovp_fetch_media(&pc, &o, &mi, &config, &error), 0);
    char path[64];
    snprintf(path, sizeof(path), "sources.%s.0", format);
    json_t *src = json_incref(kp_json_path(config, path));
    assert_non_null(src);
    json_decref(config);
    json_decref(error);
    return src;
}

/* Answers GETs of url's path with body. */
static void break_segment(test_mock *m, const char *url, const void *body, size_t len)
{
    const char *p = strstr(url, "://");
    p = p ? strchr(p + 3, '/') : NULL;
    assert_non_null(p);
    char *path = kp_strndup(p, strcspn(p, "?"));
    mbe_override ov = {.method = "GET",
                       .path = path,
                       .kind = MBE_REPLY_HTTP,
                       .status = 200,
                       .content_type = "application/octet-stream",
                       .body = body,
                       .body_len = len};
    assert_int_equal(mbe_server_override(m->srv, &ov), 0);
    free(path);
}

/* Plays src with the engine for 10 virtual seconds; the engine's error (caller owns). */
static json_t *play(const kp_engine_ops *ops, const json_t *src, int *errors)
{
    run r = {0};
    kp_sched *sched = kp_sched_new();
    kp_net *net = kp_net_new(sched, NULL, NULL);
    kp_media *media = kp_media_new(sched);
    kp_engine_host host = {.sched = sched,
                           .net = net,
                           .media = media,
                           .ud = &r,
                           .emit = on_emit,
                           .loaded = on_loaded,
                           .fail = on_fail};
    json_t *config = json_object();
    void *e = ops->create(&host, src, config);
    assert_non_null(e);
    ops->load(e);
    kp_sched_run_until(sched, KP_SEC(10));
    ops->destroy(e);
    kp_media_free(media);
    kp_net_free(net);
    kp_sched_free(sched);
    json_decref(config);
    *errors = r.errors;
    return r.error;
}

static void check(const json_t *err, int code, const char *url)
{
    assert_non_null(err);
    assert_int_equal(kp_json_int(err, "severity", 0), KP_SEVERITY_CRITICAL);
    assert_int_equal(kp_json_int(err, "category", 0), KP_PCAT_MEDIA);
    assert_int_equal(kp_json_int(err, "code", 0), code);
    assert_non_null(strstr(kp_json_str(err, "data.url", ""), url));
    assert_true(strlen(kp_json_str(err, "data.reason", "")) > 0);
}

/* The URL of the DASH source's first video media segment. */
static char *dash_first_segment(const json_t *src)
{
    const char *mpd_url = kp_json_str(src, "url", "");
    kp_buf text = get(mpd_url);
    kp_mpd *mpd = NULL;
    kp_mpd_error e = {0};
    assert_int_equal(kp_mpd_parse(text.data, text.len, mpd_url, &mpd, &e), 0);
    kp_buf_free(&text);
    const kp_mpd_period *p = &mpd->periods[0];
    char *url = NULL;
    for (size_t i = 0; i < p->n_sets && !url; i++) {
        if (p->sets[i].type != KP_MPD_VIDEO)
            continue;
        kp_mpd_segments s;
        assert_int_equal(kp_mpd_segments_of(p, &p->sets[i].reps[0], &s, &e), 0);
        url = kp_strdup(s.segs[0].url);
        kp_mpd_segments_free(&s);
    }
    kp_mpd_free(mpd);
    assert_non_null(url);
    return url;
}

static void test_dash_broken_segments(void **state)
{
    test_mock *m = *state;
    json_t *src = source(m, "dash");
    char *url = dash_first_segment(src);
    kp_buf real = get(url);
    int errors = 0;
    /* cut in half: the mdat runs past the end */
    break_segment(m, url, real.data, real.len / 2);
    json_t *err = play(&kp_engine_dash, src, &errors);
    check(err, KP_PCODE_VIDEO_ERROR, url);
    assert_int_equal(errors, 1);
    json_decref(err);
    /* garbage */
    static const char junk[] = "this is not an ISO BMFF fragment at all, just text";
    break_segment(m, url, junk, sizeof(junk) - 1);
    err = play(&kp_engine_dash, src, &errors);
    check(err, KP_PCODE_VIDEO_ERROR, url);
    assert_int_equal(errors, 1);
    json_decref(err);
    kp_buf_free(&real);
    free(url);
    json_decref(src);
}

static void test_hls_garbage_segment(void **state)
{
    test_mock *m = *state;
    json_t *src = source(m, "hls");
    const char *master_url = kp_json_str(src, "url", "");
    kp_buf text = get(master_url);
    kp_m3u8 *master = NULL;
    kp_m3u8_error me;
    assert_int_equal(kp_m3u8_parse(text.data, text.len, master_url, &master, &me), 0);
    kp_buf_free(&text);
    /* every variant's first segment is garbage: whichever the ABR starts on fails */
    char *first = NULL;
    for (size_t v = 0; v < master->n_variants; v++) {
        kp_buf pl = get(master->variants[v].uri);
        kp_m3u8 *media = NULL;
        assert_int_equal(kp_m3u8_parse(pl.data, pl.len, master->variants[v].uri, &media, &me), 0);
        kp_buf_free(&pl);
        static const char junk[] = "no sync byte here: not an MPEG transport stream";
        break_segment(m, media->segments[0].uri, junk, sizeof(junk) - 1);
        if (!first)
            first = kp_strdup(media->segments[0].uri);
        kp_m3u8_free(media);
    }
    int errors = 0;
    json_t *err = play(&kp_engine_hls, src, &errors);
    assert_non_null(err);
    assert_int_equal(kp_json_int(err, "code", 0), KP_PCODE_HLS_FRAG_PARSING_ERROR);
    assert_int_equal(kp_json_int(err, "category", 0), KP_PCAT_MEDIA);
    assert_string_equal(kp_json_str(err, "data.name", ""), "fragParsingError");
    assert_int_equal(master->n_variants, 1); /* one rendition: its first segment failed */
    assert_string_equal(kp_json_str(err, "data.url", ""), first);
    assert_true(strlen(kp_json_str(err, "data.reason", "")) > 0);
    assert_int_equal(errors, 1);
    json_decref(err);
    free(first);
    kp_m3u8_free(master);
    json_decref(src);
}

static int setup(void **state)
{
    mbe_entry e = {.id = "0_broken01",
                   .duration = 4,
                   .formats = formats,
                   .n_formats = 2,
                   .renditions = low,
                   .n_renditions = 1};
    mbe_config cfg = {.partner_id = PID, .entries = &e, .n_entries = 1};
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
        cmocka_unit_test(test_dash_broken_segments),
        cmocka_unit_test(test_hls_garbage_segment),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
