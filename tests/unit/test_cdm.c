/* test_cdm.c: the simulated CDM (core/src/cdm.h) against an in-process license server made
 * of kp/drmmsg.h: every key system's request from its init data, the license's keys and their
 * expiry on the virtual clock, unknown and expired KIDs, renewals, deterministic requests, and
 * each refusal (no certificate, wrong init data, no pending request, a license answering
 * another request). */
#include "cdm.h"

#include "kp/buf.h"
#include "kp/drm.h"
#include "kp/drmmsg.h"
#include "kp/err.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>

#include <cmocka.h>

#define ENTRY "0_cdmtest1"

/* What a license server answers to body: the derived key of ENTRY for each KID asked (for
 * FairPlay the asset's), lasting duration_s. */
static void serve(kp_drm_system s, const kp_buf *body, long long duration_s, kp_buf *out)
{
    kp_drmmsg_request rq;
    char err[256];
    int rc = kp_drmmsg_parse_request(s, body->data, body->len, &rq, err, sizeof(err));
    if (rc != 0)
        fail_msg("the CDM's %s request does not parse: %s", kp_drm_system_name(s), err);
    kp_drmmsg_license l;
    memset(&l, 0, sizeof(l));
    l.system = s;
    l.duration_s = duration_s;
    memcpy(l.nonce, rq.nonce, 16);
    memcpy(l.asset_id, rq.asset_id, sizeof(l.asset_id));
    kp_drm_derive_key(ENTRY, l.keys[0].kid, l.keys[0].key);
    l.n_keys = 1;
    kp_buf_init(out);
    assert_int_equal(kp_drmmsg_build_license(&l, out), 0);
}

/* cenc init data with the pssh boxes of all three cenc systems for ENTRY's KID. */
static void init_data(kp_buf *b)
{
    uint8_t kid[1][16], key[16];
    kp_drm_derive_key(ENTRY, kid[0], key);
    kp_buf_init(b);
    for (int s = KP_DRM_CLEARKEY; s <= KP_DRM_PLAYREADY; s++)
        assert_int_equal(kp_drm_pssh_build((kp_drm_system)s, KP_ENC_CENC, kid, 1, b), 0);
}

static kp_cdm *ready_cdm(kp_drm_system s)
{
    kp_cdm *c = kp_cdm_new(s);
    assert_non_null(c);
    if (s == KP_DRM_FAIRPLAY) {
        uint8_t cert[64];
        kp_drm_fps_certificate(4242, cert);
        assert_int_equal(kp_cdm_set_certificate(c, cert, 64, NULL, 0), 0);
    }
    return c;
}

static int generate(kp_cdm *c, kp_cdm_request *rq, char *err, size_t errlen)
{
    if (kp_cdm_system(c) == KP_DRM_FAIRPLAY) {
        const char *uri = "skd://" ENTRY;
        return kp_cdm_generate_request(c, "skd", uri, strlen(uri), rq, err, errlen);
    }
    kp_buf b;
    init_data(&b);
    int rc = kp_cdm_generate_request(c, "cenc", b.data, b.len, rq, err, errlen);
    kp_buf_free(&b);
    return rc;
}

static void test_every_system(void **state)
{
    uint8_t kid[16], key[16];
    kp_drm_derive_key(ENTRY, kid, key);
    for (int s = 0; s < KP_DRM_SYSTEM_COUNT; s++) {
        kp_cdm *c = ready_cdm((kp_drm_system)s);
        kp_cdm_request rq;
        char err[256] = "";
        int rc = generate(c, &rq, err, sizeof(err));
        if (rc != 0)
            fail_msg("%s: %s", kp_drm_system_name((kp_drm_system)s), err);
        assert_int_equal(rq.n_kids, s == KP_DRM_FAIRPLAY ? 0 : 1);
        assert_string_equal(rq.content_type, kp_drmmsg_request_type((kp_drm_system)s));
        if (s == KP_DRM_PLAYREADY)
            assert_string_equal(
                rq.soap_action,
                "http://schemas.microsoft.com/DRM/2007/03/protocols/AcquireLicense");
        else
            assert_null(rq.soap_action);
        kp_drmmsg_request parsed;
        assert_int_equal(
            kp_drmmsg_parse_request((kp_drm_system)s, rq.body.data, rq.body.len, &parsed, err, 256),
            0);
        if (s == KP_DRM_FAIRPLAY)
            assert_string_equal(parsed.asset_id, ENTRY);
        else
            assert_memory_equal(parsed.kids[0], kid, 16);
        kp_buf lic;
        serve((kp_drm_system)s, &rq.body, 30, &lic);
        assert_int_equal(kp_cdm_update(c, lic.data, lic.len, 1000, err, sizeof(err)), 1);
        uint8_t got[16];
        long long exp = 0;
        assert_int_equal(kp_cdm_key(c, kid, 1000, got, &exp, err, sizeof(err)), KP_CDM_KEY_USABLE);
        assert_memory_equal(got, key, 16);
        assert_int_equal(exp, 31000);
        assert_int_equal(kp_cdm_key(c, kid, 30999, NULL, NULL, err, sizeof(err)),
                         KP_CDM_KEY_USABLE);
        assert_int_equal(kp_cdm_key(c, kid, 31000, got, NULL, err, sizeof(err)),
                         KP_CDM_KEY_EXPIRED);
        assert_non_null(strstr(err, "its license expired at 31000 ms (now 31000 ms)"));
        assert_int_equal(kp_cdm_next_expiry(c, 1000), 31000);
        assert_int_equal(kp_cdm_next_expiry(c, 31000), -1);
        uint8_t other[16] = {0};
        assert_int_equal(kp_cdm_key(c, other, 0, got, NULL, err, sizeof(err)), KP_CDM_KEY_UNKNOWN);
        assert_string_equal(err, "KID 00000000000000000000000000000000: no license gave this key");
        /* the same license again: no request pending */
        assert_int_equal(kp_cdm_update(c, lic.data, lic.len, 2000, err, sizeof(err)), KP_ESTATE);
        assert_string_equal(err, "no license request is pending");
        kp_buf_free(&lic);
        /* a renewal: a new request, a license without a limit replaces the expiry */
        kp_cdm_request again;
        assert_int_equal(generate(c, &again, err, sizeof(err)), 0);
        assert_false(again.body.len == rq.body.len &&
                     memcmp(again.body.data, rq.body.data, rq.body.len) == 0 &&
                     s != KP_DRM_CLEARKEY);
        serve((kp_drm_system)s, &again.body, 0, &lic);
        assert_int_equal(kp_cdm_update(c, lic.data, lic.len, 40000, err, sizeof(err)), 1);
        assert_int_equal(kp_cdm_key(c, kid, 1000000, NULL, &exp, err, sizeof(err)),
                         KP_CDM_KEY_USABLE);
        assert_int_equal(exp, -1);
        assert_int_equal(kp_cdm_key_count(c), 1);
        kp_buf_free(&lic);
        kp_cdm_request_free(&again);
        kp_cdm_request_free(&rq);
        kp_cdm_free(c);
    }
    assert_string_equal(kp_cdm_key_status_name(KP_CDM_KEY_EXPIRED), "expired");
    assert_null(kp_cdm_new(KP_DRM_SYSTEM_COUNT));
}

static void test_deterministic(void **state)
{
    for (int s = 0; s < KP_DRM_SYSTEM_COUNT; s++) {
        kp_cdm *a = ready_cdm((kp_drm_system)s), *b = ready_cdm((kp_drm_system)s);
        kp_cdm_request ra, rb;
        assert_int_equal(generate(a, &ra, NULL, 0), 0);
        assert_int_equal(generate(b, &rb, NULL, 0), 0);
        assert_int_equal(ra.body.len, rb.body.len);
        assert_memory_equal(ra.body.data, rb.body.data, ra.body.len);
        kp_cdm_request_free(&ra);
        kp_cdm_request_free(&rb);
        kp_cdm_free(a);
        kp_cdm_free(b);
    }
}

static void test_refusals(void **state)
{
    char err[256];
    kp_cdm_request rq;
    /* FairPlay: a certificate first, and kpsim's */
    kp_cdm *fp = kp_cdm_new(KP_DRM_FAIRPLAY);
    const char *uri = "skd://" ENTRY;
    assert_int_equal(kp_cdm_generate_request(fp, "skd", uri, strlen(uri), &rq, err, 256),
                     KP_ESTATE);
    assert_string_equal(err, "FairPlay needs the application certificate before a request");
    assert_int_equal(kp_cdm_set_certificate(fp, "x", 1, err, 256), KP_EPARSE);
    assert_non_null(strstr(err, "1 bytes, not kpsim's 64-byte"));
    kp_cdm_free(fp);
    fp = ready_cdm(KP_DRM_FAIRPLAY);
    assert_int_equal(kp_cdm_generate_request(fp, "cenc", "x", 1, &rq, err, 256), KP_ENOTSUP);
    assert_int_equal(kp_cdm_generate_request(fp, "skd", "https://x", 9, &rq, err, 256), KP_EPARSE);
    assert_non_null(strstr(err, "not an skd:// URI"));
    /* a CKC for another asset */
    assert_int_equal(kp_cdm_generate_request(fp, "skd", uri, strlen(uri), &rq, err, 256), 0);
    kp_drmmsg_request parsed;
    assert_int_equal(
        kp_drmmsg_parse_request(KP_DRM_FAIRPLAY, rq.body.data, rq.body.len, &parsed, err, 256), 0);
    kp_drmmsg_license l;
    memset(&l, 0, sizeof(l));
    l.system = KP_DRM_FAIRPLAY;
    l.n_keys = 1;
    memcpy(l.nonce, parsed.nonce, 16);
    snprintf(l.asset_id, sizeof(l.asset_id), "0_elsewhere");
    kp_buf b;
    kp_buf_init(&b);
    assert_int_equal(kp_drmmsg_build_license(&l, &b), 0);
    assert_int_equal(kp_cdm_update(fp, b.data, b.len, 0, err, 256), KP_EPARSE);
    assert_string_equal(err, "FairPlay CKC: for asset 0_elsewhere, the SPC asked for " ENTRY);
    kp_buf_free(&b);
    kp_cdm_request_free(&rq);
    kp_cdm_free(fp);
    /* Widevine: init data without its pssh; a license for another request; garbage */
    kp_cdm *wv = ready_cdm(KP_DRM_WIDEVINE);
    assert_int_equal(kp_cdm_set_certificate(wv, "x", 1, err, 256), KP_ENOTSUP);
    uint8_t kid[1][16], key[16];
    kp_drm_derive_key(ENTRY, kid[0], key);
    kp_buf_init(&b);
    assert_int_equal(kp_drm_pssh_build(KP_DRM_CLEARKEY, KP_ENC_CENC, kid, 1, &b), 0);
    assert_int_equal(kp_cdm_generate_request(wv, "cenc", b.data, b.len, &rq, err, 256), KP_ENOENT);
    assert_string_equal(err, "cenc init data: no pssh box for widevine");
    assert_int_equal(kp_cdm_generate_request(wv, "skd", b.data, b.len, &rq, err, 256), KP_ENOTSUP);
    assert_int_equal(kp_cdm_generate_request(wv, "cenc", b.data, 10, &rq, err, 256), KP_EPARSE);
    kp_buf_free(&b);
    assert_int_equal(generate(wv, &rq, err, 256), 0);
    kp_cdm *other = ready_cdm(KP_DRM_WIDEVINE);
    kp_cdm_request orq;
    assert_int_equal(generate(other, &orq, err, 256), 0); /* the same nonce as wv's first */
    kp_cdm_request_free(&orq);
    assert_int_equal(generate(other, &orq, err, 256), 0);
    kp_buf lic;
    serve(KP_DRM_WIDEVINE, &orq.body, 0, &lic); /* answers the other CDM's second request */
    assert_int_equal(kp_cdm_update(wv, lic.data, lic.len, 0, err, 256), KP_EPARSE);
    assert_string_equal(err, "Widevine license: it answers another request (request_id differs)");
    kp_buf_free(&lic);
    assert_int_equal(kp_cdm_update(wv, "\x08\x03", 2, 0, err, 256), KP_EPARSE);
    assert_non_null(strstr(err, "ERROR_RESPONSE"));
    /* still pending: the right license is accepted */
    serve(KP_DRM_WIDEVINE, &rq.body, 0, &lic);
    assert_int_equal(kp_cdm_update(wv, lic.data, lic.len, 0, err, 256), 1);
    kp_buf_free(&lic);
    kp_cdm_request_free(&rq);
    kp_cdm_request_free(&orq);
    kp_cdm_free(wv);
    kp_cdm_free(other);
    /* ClearKey from keyids init data */
    kp_cdm *ck = ready_cdm(KP_DRM_CLEARKEY);
    const char *ids = "{\"kids\":[\"AAAAAAAAAAAAAAAAAAAAAA\"]}";
    assert_int_equal(kp_cdm_generate_request(ck, "keyids", ids, strlen(ids), &rq, err, 256), 0);
    assert_string_equal(rq.body.data,
                        "{\"kids\":[\"AAAAAAAAAAAAAAAAAAAAAA\"],\"type\":\"temporary\"}");
    kp_cdm_request_free(&rq);
    assert_int_equal(kp_cdm_generate_request(ck, "keyids", "{}", 2, &rq, err, 256), KP_EPARSE);
    assert_int_equal(kp_cdm_generate_request(ck, "cenc", NULL, 0, &rq, err, 256), KP_EPARSE);
    assert_string_equal(err, "no init data");
    kp_cdm_free(ck);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_system),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
