/* test_drm_e2e.c: the licenses really decrypt the media, through the player's own path. For a
 * cenc entry (Widevine) and a cbcs entry (PlayReady) served by the mock back-end, the
 * provider gets the playback context (drmData with signed UDRM license URLs), the MPD and the
 * first video segment are fetched and parsed as the DASH engine does, the player's EME (on a
 * platform with the key system) obtains the license from the running mock license server over
 * the virtual network, and kp_eme_decrypt decrypts the segment in place: its media data must
 * then equal, byte for byte, the same segment of the same content served in the clear.
 */
#include "eme.h"
#include "http_client.h"
#include "mock_server.h"
#include "mpd.h"

#include "kp/cenc.h"
#include "kp/drm.h"
#include "kp/err.h"
#include "kp/jsonu.h"
#include "kp/provider.h"
#include "mdrm/mdrm.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>

#include <cmocka.h>

#define PID 4321

static const int dash_only[] = {MBE_FORMAT_DASH};
static const char *const low[] = {"180p"};

typedef struct fixture {
    mdrm_server *drm;
    test_mock m;
} fixture;

typedef struct run {
    json_t *events;
    json_t *error;
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
    assert_null(r->error);
    r->error = error;
}

static void never_ready(void *ud)
{
    (void)ud;
    fail_msg("the license was there: nothing had to wait");
}

/* GETs url, whole; returns the body (caller frees). */
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

/* The entry's DASH source (its media config from the provider, as the player gets it). */
static json_t *dash_source(fixture *f, const char *entry)
{
    kp_provider_opts o;
    kp_provider_opts_init(&o);
    o.service_url = f->m.service;
    o.cdn_url = mbe_server_url(f->m.srv);
    o.partner_id = PID;
    kp_provider_client pc;
    kp_provider_client_init(&pc);
    pc.user_get = false;
    kp_media_info mi = {.entry_id = entry, .redirect_from_entry_id = -1};
    json_t *config = NULL, *error = NULL;
    assert_int_equal(kp_ovp_fetch_media(&pc, &o, &mi, &config, &error), 0);
    json_t *src = json_incref(kp_json_path(config, "sources.dash.0"));
    assert_non_null(src);
    json_decref(config);
    json_decref(error);
    return src;
}

/* The init segment and first media segment of the MPD's first video representation. */
static void first_video(const char *mpd_url, kp_buf *init, kp_buf *seg)
{
    kp_buf text = get(mpd_url);
    kp_mpd *mpd = NULL;
    kp_mpd_error e = {0};
    assert_int_equal(kp_mpd_parse(text.data, text.len, mpd_url, &mpd, &e), 0);
    kp_buf_free(&text);
    const kp_mpd_period *p = &mpd->periods[0];
    const kp_mpd_adaptation *as = NULL;
    for (size_t i = 0; i < p->n_sets && !as; i++)
        if (p->sets[i].type == KP_MPD_VIDEO)
            as = &p->sets[i];
    assert_non_null(as);
    kp_mpd_segments s;
    assert_int_equal(kp_mpd_segments_of(p, &as->reps[0], &s, &e), 0);
    assert_non_null(s.init.url);
    assert_true(s.n > 0);
    *init = get(s.init.url);
    *seg = get(s.segs[0].url);
    kp_mpd_segments_free(&s);
    kp_mpd_free(mpd);
}

/* The body of the segment's mdat box. */
static const uint8_t *mdat_of(const kp_buf *seg, size_t *len)
{
    size_t pos = 0;
    kp_cenc_box b;
    char err[128];
    while (kp_cenc_box_next((const uint8_t *)seg->data, seg->len, &pos, &b, err, sizeof(err)) ==
           1) {
        if (b.type == KP_FOURCC('m', 'd', 'a', 't')) {
            *len = b.body_size;
            return b.body;
        }
    }
    fail_msg("no mdat");
    return NULL;
}

static void decrypts_like_clear(fixture *f, const char *entry, kp_drm_system sys, uint32_t scheme)
{
    json_t *clear = dash_source(f, "0_e2eclear");
    json_t *prot = dash_source(f, entry);
    assert_true(json_array_size(json_object_get(prot, "drmData")) > 0);
    kp_buf cinit, cseg, einit, eseg;
    first_video(kp_json_str(clear, "url", ""), &cinit, &cseg);
    first_video(kp_json_str(prot, "url", ""), &einit, &eseg);

    kp_cenc_init init;
    char err[256];
    assert_int_equal(
        kp_cenc_parse_init((const uint8_t *)einit.data, einit.len, &init, err, sizeof(err)), 0);
    assert_true(init.tracks[0].encrypted);
    assert_int_equal(init.tracks[0].scheme, scheme);
    uint8_t kid[16], key[16];
    kp_drm_derive_key(entry, kid, key);
    assert_memory_equal(init.tracks[0].default_kid, kid, 16);
    /* the encrypted media data differs from the clear one before decryption */
    size_t cn = 0, en = 0;
    const uint8_t *cm = mdat_of(&cseg, &cn), *em = mdat_of(&eseg, &en);
    assert_int_equal(cn, en);
    assert_true(memcmp(cm, em, cn) != 0);

    /* the player's EME, as the DASH engine drives it */
    run r = {.events = json_array()};
    kp_sched *sched = kp_sched_new();
    kp_net *net = kp_net_new(sched, NULL, NULL);
    kp_eme_host h = {.sched = sched, .net = net, .ud = &r, .emit = on_emit, .fail = on_fail};
    kp_eme *eme = kp_eme_new(&h, json_object_get(prot, "drmData"), 1u << sys, NULL);
    assert_non_null(eme);
    kp_drm_system offered[KP_CENC_MAX_PSSH];
    size_t n = 0;
    kp_buf boxes;
    kp_buf_init(&boxes);
    for (size_t i = 0; i < init.n_pssh; i++) {
        int s = kp_drm_system_from_id(init.pssh[i].system_id);
        if (s >= 0)
            offered[n++] = (kp_drm_system)s;
        kp_buf_append(&boxes, einit.data + init.pssh[i].offset, init.pssh[i].size);
    }
    assert_int_equal(kp_eme_encrypted(eme, offered, n, "cenc", (const uint8_t *)boxes.data,
                                      boxes.len, init.tracks[0].default_kid),
                     0);
    assert_int_equal(kp_eme_system(eme), (int)sys);
    kp_sched_run_until(sched, KP_SEC(5));
    assert_null(r.error);
    assert_string_equal(kp_json_str(r.events, "0.drmlicenseloaded.scheme", ""),
                        kp_drm_key_system(sys));
    assert_int_equal(kp_eme_decrypt(eme, &init, (uint8_t *)eseg.data, eseg.len, never_ready, &r),
                     0);
    assert_null(r.error);
    em = mdat_of(&eseg, &en);
    assert_int_equal(cn, en);
    assert_memory_equal(cm, em, cn);

    json_t *seen = mdrm_server_journal(f->drm);
    bool granted = false;
    size_t i;
    json_t *it;
    json_array_foreach(seen, i, it)
    {
        granted = granted || (strcmp(kp_json_str(it, "entry", ""), entry) == 0 &&
                              strcmp(kp_json_str(it, "outcome", ""), "granted") == 0 &&
                              strcmp(kp_json_str(it, "system", ""), kp_drm_system_name(sys)) == 0);
    }
    assert_true(granted);
    json_decref(seen);
    kp_eme_free(eme);
    kp_net_free(net);
    kp_sched_free(sched);
    kp_buf_free(&boxes);
    kp_buf_free(&cinit);
    kp_buf_free(&cseg);
    kp_buf_free(&einit);
    kp_buf_free(&eseg);
    json_decref(r.events);
    json_decref(clear);
    json_decref(prot);
}

static void test_cenc_widevine(void **state)
{
    decrypts_like_clear(*state, "0_e2ecenc1", KP_DRM_WIDEVINE, KP_CENC_SCHEME_CENC);
}

static void test_cbcs_playready(void **state)
{
    decrypts_like_clear(*state, "0_e2ecbcs1", KP_DRM_PLAYREADY, KP_CENC_SCHEME_CBCS);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    mdrm_entry keys[] = {{.id = "0_e2ecenc1"}, {.id = "0_e2ecbcs1"}};
    mdrm_config dc = {.partner_id = PID, .entries = keys, .n_entries = 2};
    assert_int_equal(mdrm_server_start(&dc, &f->drm), 0);
    mbe_entry entries[3];
    const char *ids[3] = {"0_e2eclear", "0_e2ecenc1", "0_e2ecbcs1"};
    for (int i = 0; i < 3; i++)
        entries[i] = (mbe_entry){.id = ids[i],
                                 .duration = 4,
                                 .formats = dash_only,
                                 .n_formats = 1,
                                 .renditions = low,
                                 .n_renditions = 1};
    entries[1].drm = (mbe_drm){.scheme = KP_ENC_CENC, .systems = 1u << KP_DRM_WIDEVINE};
    entries[2].drm = (mbe_drm){.scheme = KP_ENC_CBCS, .systems = 1u << KP_DRM_PLAYREADY};
    mbe_config cfg = {.partner_id = PID,
                      .entries = entries,
                      .n_entries = 3,
                      .license_url = mdrm_server_url(f->drm)};
    test_mock_start(&f->m, &cfg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    test_mock_stop(&f->m);
    mdrm_server_stop(f->drm);
    free(f);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cenc_widevine),
        cmocka_unit_test(test_cbcs_playready),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
