/* test_drmmsg.c: the license messages of every key system (kp/drmmsg.h): exact ClearKey bytes
 * (W3C EME, the reference's vectors), round trips of every request and license, the strict
 * parsers' error messages, pssh/keyids init data, skd:// asset ids, and UDRM custom_data
 * signing and verification over the exact signed bytes (PHP's "\/" escaping). */
#include "kp/buf.h"
#include "kp/codec.h"
#include "kp/drm.h"
#include "kp/drmmsg.h"
#include "kp/err.h"

#include <openssl/evp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>

#include <cmocka.h>

static const uint8_t KID1[16] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                                 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
static const uint8_t KEY1[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
static const uint8_t KID2[16] = {0xfe, 0xed, 0xf0, 0x0d, 0xee, 0xde, 0xad, 0xbe,
                                 0xef, 0xf0, 0xba, 0xad, 0xf0, 0x0d, 0xd0, 0x0d};

static kp_drmmsg_request request_of(kp_drm_system s, size_t n)
{
    kp_drmmsg_request rq;
    memset(&rq, 0, sizeof(rq));
    rq.system = s;
    memcpy(rq.kids[0], KID1, 16);
    if (n > 1)
        memcpy(rq.kids[1], KID2, 16);
    rq.n_kids = n;
    for (int i = 0; i < 16; i++)
        rq.nonce[i] = (uint8_t)(0xa0 + i);
    if (s == KP_DRM_FAIRPLAY) {
        snprintf(rq.asset_id, sizeof(rq.asset_id), "0_abcd1234");
        memset(rq.cert_hash, 0x5c, 20);
    }
    return rq;
}

static kp_drmmsg_license license_of(kp_drm_system s, size_t n, long long duration)
{
    kp_drmmsg_license l;
    memset(&l, 0, sizeof(l));
    l.system = s;
    memcpy(l.keys[0].kid, KID1, 16);
    memcpy(l.keys[0].key, KEY1, 16);
    if (n > 1) {
        memcpy(l.keys[1].kid, KID2, 16);
        memset(l.keys[1].key, 0x42, 16);
    }
    l.n_keys = n;
    l.duration_s = duration;
    for (int i = 0; i < 16; i++)
        l.nonce[i] = (uint8_t)(0xa0 + i);
    if (s == KP_DRM_FAIRPLAY)
        snprintf(l.asset_id, sizeof(l.asset_id), "0_abcd1234");
    return l;
}

/* Parses text as a request of s and expects KP_EPARSE with `needle` in the message. */
static void request_fails(kp_drm_system s, const void *body, size_t len, const char *needle)
{
    kp_drmmsg_request rq;
    char err[256];
    int rc = kp_drmmsg_parse_request(s, body, len, &rq, err, sizeof(err));
    if (rc != KP_EPARSE || !strstr(err, needle))
        fail_msg("expected an error with \"%s\", got rc %d \"%s\"", needle, rc, err);
}

static void license_fails(kp_drm_system s, const void *body, size_t len, const char *needle)
{
    kp_drmmsg_license l;
    char err[256];
    int rc = kp_drmmsg_parse_license(s, body, len, &l, err, sizeof(err));
    if (rc != KP_EPARSE || !strstr(err, needle))
        fail_msg("expected an error with \"%s\", got rc %d \"%s\"", needle, rc, err);
}

#define REQ_FAILS(s, text, needle) request_fails(s, text, strlen(text), needle)
#define LIC_FAILS(s, text, needle) license_fails(s, text, strlen(text), needle)

static void test_b64url(void **state)
{
    char *a = kp_b64url_encode(KID1, 16), *b = kp_b64url_encode(KEY1, 16);
    assert_string_equal(a, "ASNFZ4mrze8BI0VniavN7w");
    assert_string_equal(b, "ABEiM0RVZneImaq7zN3u_w");
    uint8_t out[20];
    assert_int_equal(kp_b64url_decode(b, strlen(b), out, sizeof(out)), 16);
    assert_memory_equal(out, KEY1, 16);
    assert_int_equal(kp_b64url_decode("ASNFZ4mrze8BI0VniavN7x", 22, out, 20), KP_EPARSE);
    assert_int_equal(kp_b64url_decode("ABEiM0RVZneImaq7zN3u/w", 22, out, 20), KP_EPARSE);
    assert_int_equal(kp_b64url_decode("ABEiM0RVZneImaq7zN3u_w==", 24, out, 20), KP_EPARSE);
    assert_int_equal(kp_b64url_decode("A", 1, out, 20), KP_EPARSE);
    assert_int_equal(kp_b64url_decode(b, strlen(b), out, 15), KP_ERANGE);
    free(a);
    free(b);
}

static void test_clearkey_exact(void **state)
{
    kp_drmmsg_request rq = request_of(KP_DRM_CLEARKEY, 2);
    kp_buf b;
    kp_buf_init(&b);
    assert_int_equal(kp_drmmsg_build_request(&rq, &b), 0);
    assert_string_equal(b.data, "{\"kids\":[\"ASNFZ4mrze8BI0VniavN7w\",\"_u3wDe7erb7v8Lqt8A3QDQ\"],"
                                "\"type\":\"temporary\"}");
    kp_drmmsg_request back;
    char err[256];
    assert_int_equal(kp_drmmsg_parse_request(KP_DRM_CLEARKEY, b.data, b.len, &back, err, 256), 0);
    assert_int_equal(back.n_kids, 2);
    assert_memory_equal(back.kids[1], KID2, 16);
    assert_int_equal(back.persistent, 0);
    kp_buf_reset(&b);
    kp_drmmsg_license l = license_of(KP_DRM_CLEARKEY, 1, 0);
    assert_int_equal(kp_drmmsg_build_license(&l, &b), 0);
    assert_string_equal(b.data, "{\"keys\":[{\"kty\":\"oct\",\"k\":\"ABEiM0RVZneImaq7zN3u_w\","
                                "\"kid\":\"ASNFZ4mrze8BI0VniavN7w\"}],\"type\":\"temporary\"}");
    kp_drmmsg_license lb;
    assert_int_equal(kp_drmmsg_parse_license(KP_DRM_CLEARKEY, b.data, b.len, &lb, err, 256), 0);
    assert_int_equal(lb.n_keys, 1);
    assert_memory_equal(lb.keys[0].key, KEY1, 16);
    assert_int_equal(lb.duration_s, 0);
    /* the duration extension, only when there is one */
    kp_buf_reset(&b);
    l.duration_s = 30;
    l.persistent = 1;
    assert_int_equal(kp_drmmsg_build_license(&l, &b), 0);
    assert_non_null(strstr(b.data, ",\"type\":\"persistent-license\",\"kpsim:duration\":30}"));
    assert_int_equal(kp_drmmsg_parse_license(KP_DRM_CLEARKEY, b.data, b.len, &lb, err, 256), 0);
    assert_int_equal(lb.duration_s, 30);
    assert_int_equal(lb.persistent, 1);
    /* what players send: no type (old CDMs), alg in keys */
    const char *old = "{\"kids\":[\"ASNFZ4mrze8BI0VniavN7w\"]}";
    assert_int_equal(kp_drmmsg_parse_request(KP_DRM_CLEARKEY, old, strlen(old), &back, err, 256),
                     0);
    const char *alg = "{\"keys\":[{\"kty\":\"oct\",\"alg\":\"A128KW\",\"k\":"
                      "\"ABEiM0RVZneImaq7zN3u_w\",\"kid\":\"ASNFZ4mrze8BI0VniavN7w\"}]}";
    assert_int_equal(kp_drmmsg_parse_license(KP_DRM_CLEARKEY, alg, strlen(alg), &lb, err, 256), 0);
    kp_buf_free(&b);
}

static void test_clearkey_errors(void **state)
{
    const kp_drm_system ck = KP_DRM_CLEARKEY;
    REQ_FAILS(ck, "", "ClearKey request: not JSON");
    REQ_FAILS(ck, "{\"kids\":[\"ASNFZ4mrze8BI0VniavN7w\"],}", "not JSON");
    REQ_FAILS(ck, "[1]", "not a JSON object");
    REQ_FAILS(ck, "{\"type\":\"temporary\"}", "\"kids\" is missing");
    REQ_FAILS(ck, "{\"kids\":\"x\"}", "\"kids\" is not an array");
    REQ_FAILS(ck, "{\"kids\":[]}", "\"kids\" is empty");
    REQ_FAILS(ck, "{\"kids\":[\"ASNFZ4mrze8BI0VniavN7w==\"]}",
              "kids[0]: \"ASNFZ4mrze8BI0VniavN7w==\" is padded");
    REQ_FAILS(ck, "{\"kids\":[\"ASNFZ4mrze8BI0VniavN\"]}", "decodes to 15 bytes, not 16");
    REQ_FAILS(ck, "{\"kids\":[\"ASNF+4mrze8BI0VniavN7w\"]}", "is not base64url");
    REQ_FAILS(ck, "{\"kids\":[7]}", "kids[0]: not a string");
    REQ_FAILS(ck, "{\"kids\":[\"ASNFZ4mrze8BI0VniavN7w\"],\"type\":\"forever\"}",
              "\"type\" is \"forever\"");
    REQ_FAILS(ck, "{\"kids\":[\"ASNFZ4mrze8BI0VniavN7w\"],\"x\":1}", "unexpected member \"x\"");
    REQ_FAILS(ck, "{\"kids\":[],\"kids\":[]}", "duplicate");
    LIC_FAILS(ck, "{\"keys\":[]}", "\"keys\" is empty");
    LIC_FAILS(ck,
              "{\"keys\":[{\"kty\":\"RSA\",\"k\":\"ABEiM0RVZneImaq7zN3u_w\",\"kid\":"
              "\"ASNFZ4mrze8BI0VniavN7w\"}]}",
              "keys[0]: \"kty\" is \"RSA\", not \"oct\"");
    LIC_FAILS(ck, "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"ASNFZ4mrze8BI0VniavN7w\"}]}",
              "keys[0].k: not a string");
    LIC_FAILS(ck,
              "{\"keys\":[{\"kty\":\"oct\",\"k\":\"ABEiM0RVZneImaq7zN3u_w\",\"kid\":"
              "\"ASNFZ4mrze8BI0VniavN7w\"}],\"kpsim:duration\":-1}",
              "\"kpsim:duration\" is not a non-negative integer");
    LIC_FAILS(ck, "{\"keys\":[1]}", "keys[0] is not an object");
}

static void roundtrip(kp_drm_system s)
{
    for (size_t n = 1; n <= 2; n++) {
        kp_drmmsg_request rq = request_of(s, n);
        kp_buf b;
        kp_buf_init(&b);
        assert_int_equal(kp_drmmsg_build_request(&rq, &b), 0);
        kp_drmmsg_request back;
        char err[256] = "";
        int rc = kp_drmmsg_parse_request(s, b.data, b.len, &back, err, sizeof(err));
        if (rc != 0)
            fail_msg("%s request: %s", kp_drm_system_name(s), err);
        assert_int_equal(back.kind, KP_DRMMSG_LICENSE);
        assert_int_equal(back.n_kids, n);
        assert_memory_equal(back.kids, rq.kids, 16 * n);
        if (s != KP_DRM_CLEARKEY)
            assert_memory_equal(back.nonce, rq.nonce, 16);
        if (s == KP_DRM_FAIRPLAY) {
            assert_string_equal(back.asset_id, "0_abcd1234");
            assert_memory_equal(back.cert_hash, rq.cert_hash, 20);
        }
        kp_buf_reset(&b);
        kp_drmmsg_license l = license_of(s, n, n == 1 ? 0 : 3600);
        l.start_s = s == KP_DRM_WIDEVINE ? 1767225600 : 0;
        assert_int_equal(kp_drmmsg_build_license(&l, &b), 0);
        kp_drmmsg_license lb;
        rc = kp_drmmsg_parse_license(s, b.data, b.len, &lb, err, sizeof(err));
        if (rc != 0)
            fail_msg("%s license: %s", kp_drm_system_name(s), err);
        assert_int_equal(lb.n_keys, n);
        assert_memory_equal(lb.keys, l.keys, sizeof(kp_drm_key) * n);
        assert_int_equal(lb.duration_s, l.duration_s);
        assert_int_equal(lb.start_s, l.start_s);
        if (s == KP_DRM_FAIRPLAY)
            assert_string_equal(lb.asset_id, "0_abcd1234");
        kp_buf_free(&b);
    }
}

static void test_roundtrips(void **state)
{
    for (int s = 0; s < KP_DRM_SYSTEM_COUNT; s++)
        roundtrip((kp_drm_system)s);
    /* what the formats cannot carry */
    kp_drmmsg_request rq = request_of(KP_DRM_WIDEVINE, 0);
    kp_buf b;
    kp_buf_init(&b);
    assert_int_equal(kp_drmmsg_build_request(&rq, &b), KP_EINVAL);
    rq = request_of(KP_DRM_FAIRPLAY, 0);
    rq.asset_id[0] = '\0';
    assert_int_equal(kp_drmmsg_build_request(&rq, &b), KP_EINVAL);
    kp_drmmsg_license l = license_of(KP_DRM_CLEARKEY, 0, 0);
    assert_int_equal(kp_drmmsg_build_license(&l, &b), KP_EINVAL);
    kp_buf_free(&b);
    assert_string_equal(kp_drmmsg_request_type(KP_DRM_PLAYREADY), "text/xml; charset=utf-8");
    assert_string_equal(kp_drmmsg_request_type(KP_DRM_WIDEVINE), "application/octet-stream");
    assert_string_equal(kp_drmmsg_license_type(KP_DRM_FAIRPLAY), "application/json");
}

static void test_widevine(void **state)
{
    const kp_drm_system wv = KP_DRM_WIDEVINE;
    kp_drmmsg_request rq = request_of(wv, 0);
    rq.kind = KP_DRMMSG_CERTIFICATE;
    kp_buf b;
    kp_buf_init(&b);
    assert_int_equal(kp_drmmsg_build_request(&rq, &b), 0);
    assert_int_equal(b.len, 2);
    assert_memory_equal(b.data, "\x08\x04", 2);
    kp_drmmsg_request back;
    char err[256];
    assert_int_equal(kp_drmmsg_parse_request(wv, "\x08\x04", 2, &back, err, 256), 0);
    assert_int_equal(back.kind, KP_DRMMSG_CERTIFICATE);
    kp_buf_reset(&b);
    assert_int_equal(kp_drmmsg_build_wv_certificate("CERT", 4, &b), 0);
    assert_memory_equal(b.data,
                        "\x08\x05\x12\x04"
                        "CERT",
                        8);
    kp_buf_free(&b);
    request_fails(wv, "", 0, "Widevine request: empty body");
    request_fails(wv, "\x08", 1, "truncated varint");
    request_fails(wv, "\x08\x02", 2, "type 2 is not a request");
    request_fails(wv, "\x08\x01", 2, "LICENSE_REQUEST without a msg");
    request_fails(wv, "\x12\x00", 2, "SignedMessage without a type");
    request_fails(wv, "\x08\x01\x12\x05\x01", 5, "length 5 runs past the end");
    request_fails(wv, "\x08\x01\x12\x00", 4, "LicenseRequest without content_id");
    request_fails(wv, "\x08\x01\x12\x02\x12\x00", 6, "content_id without widevine_pssh_data");
    request_fails(wv, "\x08\x01\x12\x04\x12\x02\x12\x00", 8,
                  "content_id field 2: only widevine_pssh_data");
    /* pssh_data with a 3-byte key id */
    request_fails(wv, "\x08\x01\x12\x0b\x12\x09\x0a\x07\x0a\x05\x12\x03\x01\x02\x03", 15,
                  "key_id 0 is 3 bytes, not 16");
    request_fails(wv, "\x08\x01\x12\x06\x12\x04\x0a\x02\x0a\x00", 10, "no key_id in the pssh_data");
    request_fails(wv, "\x0b", 1, "wire type 3");
    license_fails(wv, "\x08\x03", 2, "ERROR_RESPONSE");
    license_fails(wv, "\x08\x02\x12\x00", 4, "no content key");
    license_fails(wv, "\x08\x02\x12\x06\x1a\x04\x0a\x02\x01\x02", 10, "key 0: id is 2 bytes");
}

static void test_playready(void **state)
{
    const kp_drm_system pr = KP_DRM_PLAYREADY;
    kp_drmmsg_request rq = request_of(pr, 1);
    kp_buf b;
    kp_buf_init(&b);
    assert_int_equal(kp_drmmsg_build_request(&rq, &b), 0);
    /* the KID travels as a little-endian GUID: 67452301-ab89-efcd-... */
    assert_non_null(strstr(b.data, "<KID ALGID=\"AESCTR\" VALUE=\"Z0UjAauJ780BI0VniavN7w==\">"));
    assert_non_null(
        strstr(b.data, "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">"));
    kp_buf_free(&b);
    /* the reference's WRMHEADER 4.0 example: <KID>ZahgQHiIZ0Kcv5GuW64ecg==</KID> is KID
     * 4060a865-8878-4267-9cbf-91ae5bae1e72 */
    const char *v40 =
        "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body>"
        "<AcquireLicense xmlns=\"http://schemas.microsoft.com/DRM/2007/03/protocols\"><challenge>"
        "<Challenge xmlns=\"http://schemas.microsoft.com/DRM/2007/03/protocols/messages\"><LA>"
        "<ContentHeader><WRMHEADER xmlns=\"http://schemas.microsoft.com/DRM/2007/03/"
        "PlayReadyHeader\" version=\"4.0.0.0\"><DATA><KID>ZahgQHiIZ0Kcv5GuW64ecg==</KID></DATA>"
        "</WRMHEADER></ContentHeader></LA></Challenge></challenge></AcquireLicense></soap:Body>"
        "</soap:Envelope>";
    kp_drmmsg_request back;
    char err[256];
    assert_int_equal(kp_drmmsg_parse_request(pr, v40, strlen(v40), &back, err, 256), 0);
    static const uint8_t want[16] = {0x40, 0x60, 0xa8, 0x65, 0x88, 0x78, 0x42, 0x67,
                                     0x9c, 0xbf, 0x91, 0xae, 0x5b, 0xae, 0x1e, 0x72};
    assert_int_equal(back.n_kids, 1);
    assert_memory_equal(back.kids[0], want, 16);
    REQ_FAILS(pr, "<a", "PlayReady challenge: not well-formed XML");
    REQ_FAILS(pr, "<!DOCTYPE x [<!ENTITY e \"x\">]><x/>", "a DOCTYPE is not allowed");
    REQ_FAILS(pr, "<Envelope/>", "the root is not a SOAP 1.1 Envelope");
    REQ_FAILS(pr, "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"/>",
              "no soap:Body in the Envelope");
    REQ_FAILS(pr,
              "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body/>"
              "</s:Envelope>",
              "no AcquireLicense");
    char *bad = kp_asprintf("%s", v40);
    memcpy(strstr(bad, "4.0.0.0"), "5.0.0.0", 7);
    REQ_FAILS(pr, bad, "WRMHEADER version \"5.0.0.0\"");
    free(bad);
    bad = kp_asprintf("%s", v40);
    memcpy(strstr(bad, "ZahgQHiI"), "!!!!", 4);
    REQ_FAILS(pr, bad, "KID 0 \"!!!!QHiIZ0Kcv5GuW64ecg==\" is not base64 of 16 bytes");
    free(bad);
    LIC_FAILS(pr,
              "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>"
              "<s:Fault/></s:Body></s:Envelope>",
              "SOAP Fault");
}

static void test_fairplay(void **state)
{
    const kp_drm_system fp = KP_DRM_FAIRPLAY;
    REQ_FAILS(fp, "", "FairPlay SPC: empty body");
    REQ_FAILS(fp, "AAAA AAA", "not base64: byte 0x20 at offset 4");
    REQ_FAILS(fp, "AAAAAQ==", "4 bytes, shorter than its 48-byte header");
    kp_drmmsg_request rq = request_of(fp, 1);
    kp_buf b;
    kp_buf_init(&b);
    assert_int_equal(kp_drmmsg_build_request(&rq, &b), 0);
    uint8_t spc[256];
    int n = kp_base64_decode(b.data, spc, sizeof(spc));
    assert_true(n > 48);
    spc[3] = 2; /* version */
    char *t = kp_base64_encode(spc, (size_t)n);
    REQ_FAILS(fp, t, "FairPlay SPC: version 2, not 1");
    free(t);
    spc[3] = 1;
    spc[48 + 3] = 9; /* the first TLV's tag */
    t = kp_base64_encode(spc, (size_t)n);
    REQ_FAILS(fp, t, "FairPlay SPC: unknown TLV tag 9");
    free(t);
    spc[48 + 3] = 1;
    spc[47] ^= 1; /* payload length */
    t = kp_base64_encode(spc, (size_t)n);
    REQ_FAILS(fp, t, "payload length");
    free(t);
    kp_buf_free(&b);
    LIC_FAILS(fp, "{\"ckc\":\"\"}", "ckc is missing");
    LIC_FAILS(fp, "{\"ckc\":\"AAAA\",\"message\":\"error\"}", "unexpected member \"message\"");
    LIC_FAILS(fp, "{\"ckc\":\"AAAA\"}", "FairPlay CKC: 3 bytes, shorter than its 28-byte header");
    char asset[KP_DRMMSG_MAX_ASSET];
    char err[256];
    assert_int_equal(kp_drm_skd_asset("skd://0_abcd1234?x=1", asset, sizeof(asset), err, 256), 0);
    assert_string_equal(asset, "0_abcd1234");
    assert_int_equal(kp_drm_skd_asset("https://x", asset, sizeof(asset), err, 256), KP_EPARSE);
    assert_non_null(strstr(err, "not an skd:// URI"));
    assert_int_equal(kp_drm_skd_asset("skd://", asset, sizeof(asset), err, 256), KP_EPARSE);
    uint8_t c1[64], c2[64], h[20];
    kp_drm_fps_certificate(99, c1);
    kp_drm_fps_certificate(99, c2);
    assert_memory_equal(c1, c2, 64);
    assert_memory_equal(c1, "KPSIMFPSCERT", 12);
    kp_drm_fps_certificate(100, c2);
    assert_memory_not_equal(c1, c2, 64);
    kp_drm_fps_certificate_hash(c1, 64, h);
    uint8_t md[20];
    unsigned mdn = 0;
    EVP_Digest(c1, 64, md, &mdn, EVP_sha1(), NULL);
    assert_memory_equal(h, md, 20);
}

static void test_initdata(void **state)
{
    const uint8_t kids[2][16] = {{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45,
                                  0x67, 0x89, 0xab, 0xcd, 0xef},
                                 {0xfe, 0xed, 0xf0, 0x0d, 0xee, 0xde, 0xad, 0xbe, 0xef, 0xf0, 0xba,
                                  0xad, 0xf0, 0x0d, 0xd0, 0x0d}};
    kp_buf b;
    kp_buf_init(&b);
    assert_int_equal(kp_drm_pssh_build(KP_DRM_CLEARKEY, KP_ENC_CENC, kids, 1, &b), 0);
    char *b64 = kp_base64_encode(b.data, b.len);
    /* the reference's ClearKey pssh for this KID, byte for byte */
    assert_string_equal(b64,
                        "AAAANHBzc2gBAAAAEHfv7MCyTQKs4zweUuL7SwAAAAEBI0VniavN7wEjRWeJq83vAAAAAA==");
    free(b64);
    assert_int_equal(kp_drm_pssh_build(KP_DRM_WIDEVINE, KP_ENC_CENC, kids, 2, &b), 0);
    assert_int_equal(kp_drm_pssh_build(KP_DRM_PLAYREADY, KP_ENC_CENC, kids, 2, &b), 0);
    assert_int_equal(kp_drm_pssh_build(KP_DRM_FAIRPLAY, KP_ENC_CENC, kids, 1, &b), KP_EINVAL);
    uint8_t got[4][16];
    char err[256];
    assert_int_equal(kp_drm_initdata_kids(KP_DRM_CLEARKEY, "cenc", b.data, b.len, got, 4, err, 256),
                     1);
    assert_memory_equal(got[0], kids[0], 16);
    assert_int_equal(kp_drm_initdata_kids(KP_DRM_WIDEVINE, "cenc", b.data, b.len, got, 4, err, 256),
                     2);
    assert_memory_equal(got[1], kids[1], 16);
    assert_int_equal(
        kp_drm_initdata_kids(KP_DRM_PLAYREADY, "cenc", b.data, b.len, got, 4, err, 256), 2);
    assert_memory_equal(got, kids, 32);
    /* the PlayReady Object alone (a v0 box): its WRMHEADER in UTF-16LE gives the KIDs */
    kp_buf pr;
    kp_buf_init(&pr);
    assert_int_equal(kp_drm_pssh_build(KP_DRM_PLAYREADY, KP_ENC_CENC, kids, 2, &pr), 0);
    uint8_t *v0 = malloc(pr.len);
    size_t v0len = pr.len - 4 - 32;
    memcpy(v0, pr.data, 28);
    v0[8] = 0;
    memcpy(v0 + 28, pr.data + 28 + 4 + 32, pr.len - 28 - 36);
    v0[0] = (uint8_t)(v0len >> 24);
    v0[1] = (uint8_t)(v0len >> 16);
    v0[2] = (uint8_t)(v0len >> 8);
    v0[3] = (uint8_t)v0len;
    memset(got, 0, sizeof(got));
    assert_int_equal(kp_drm_initdata_kids(KP_DRM_PLAYREADY, "cenc", v0, v0len, got, 4, err, 256),
                     2);
    assert_memory_equal(got, kids, 32);
    free(v0);
    kp_buf_free(&pr);
    assert_int_equal(kp_drm_initdata_kids(KP_DRM_WIDEVINE, "cenc", b.data, 52, got, 4, err, 256),
                     KP_ENOENT);
    assert_non_null(strstr(err, "no pssh box for widevine"));
    assert_int_equal(kp_drm_initdata_kids(KP_DRM_CLEARKEY, "cenc", b.data, 51, got, 4, err, 256),
                     KP_EPARSE);
    assert_non_null(strstr(err, "box at offset 0 has size 52 (51 left)"));
    assert_int_equal(kp_drm_initdata_kids(KP_DRM_CLEARKEY, "webm", b.data, b.len, got, 4, err, 256),
                     KP_EPARSE);
    const char *ids = "{\"kids\":[\"ASNFZ4mrze8BI0VniavN7w\"]}";
    assert_int_equal(
        kp_drm_initdata_kids(KP_DRM_CLEARKEY, "keyids", ids, strlen(ids), got, 4, err, 256), 1);
    assert_memory_equal(got[0], kids[0], 16);
    assert_int_equal(kp_drm_initdata_kids(KP_DRM_CLEARKEY, "keyids", "{}", 2, got, 4, err, 256),
                     KP_EPARSE);
    assert_non_null(strstr(err, "\"kids\" is missing"));
    kp_buf_free(&b);
}

/* URL-decodes a query value (%XX only), as a server does before verifying. */
static char *pct_decode(const char *s)
{
    char *out = malloc(strlen(s) + 1), *o = out;
    for (; *s; s++) {
        if (*s == '%' && s[1] && s[2]) {
            char hex[3] = {s[1], s[2], 0};
            *o++ = (char)strtol(hex, NULL, 16);
            s += 2;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
    return out;
}

static void test_udrm(void **state)
{
    char secret[64];
    kp_udrm_default_secret(99, secret, sizeof(secret));
    assert_string_equal(secret, "kpsim-udrm-secret-99");
    char *json = kp_udrm_json("OVP", "djJ8OTl8a/b+c==", 99, "0_abcd1234", "0_f1,0_f2");
    assert_string_equal(json, "{\"ca_system\":\"OVP\",\"user_token\":\"djJ8OTl8a\\/b+c==\","
                              "\"account_id\":\"99\",\"content_id\":\"0_abcd1234\",\"files\":"
                              "\"0_f1,0_f2\"}");
    char *uni = kp_udrm_json("OVP", "\xc3\xa9\xf0\x9f\x98\x80\"\\\n\x01", 1, "e", "");
    assert_non_null(strstr(uni, "\"user_token\":\"\\u00e9\\ud83d\\ude00\\\"\\\\\\n\\u0001\""));
    free(uni);
    assert_null(kp_udrm_json("OVP", "\xc3", 1, "e", ""));
    char *cd, *sig;
    assert_int_equal(kp_udrm_sign(secret, json, &cd, &sig), 0);
    /* rawurlencoded: no raw '+', '/' or '=' */
    assert_null(strpbrk(cd, "+/="));
    assert_null(strpbrk(sig, "+/="));
    char *dcd = pct_decode(cd), *dsig = pct_decode(sig);
    kp_udrm_data d;
    char err[256];
    assert_int_equal(kp_udrm_verify(secret, dcd, dsig, &d, err, sizeof(err)), 0);
    assert_string_equal(d.user_token, "djJ8OTl8a/b+c==");
    assert_string_equal(d.account_id, "99");
    assert_string_equal(d.content_id, "0_abcd1234");
    assert_string_equal(d.files, "0_f1,0_f2");
    assert_string_equal(d.json, json); /* the exact signed bytes, "\/" and all */
    kp_udrm_data_free(&d);
    /* the signature is over the bytes received: the same JSON written without "\/" (what a
     * re-serialiser would produce) does not verify */
    uint8_t md[20];
    unsigned n = 0;
    char *plain = kp_asprintf("%s%s", secret,
                              "{\"ca_system\":\"OVP\",\"user_token\":\"djJ8OTl8a/b+c==\","
                              "\"account_id\":\"99\",\"content_id\":\"0_abcd1234\",\"files\":"
                              "\"0_f1,0_f2\"}");
    EVP_Digest(plain, strlen(plain), md, &n, EVP_sha1(), NULL);
    char *plain_sig = kp_base64_encode(md, 20);
    assert_int_equal(kp_udrm_verify(secret, dcd, plain_sig, &d, err, sizeof(err)), KP_EINVAL);
    assert_non_null(strstr(err, "signature does not match custom_data"));
    /* tampered custom_data: one character of the base64 changed */
    char *tampered = kp_strdup(dcd);
    tampered[10] = tampered[10] == 'A' ? 'B' : 'A';
    assert_int_equal(kp_udrm_verify(secret, tampered, dsig, &d, err, sizeof(err)), KP_EINVAL);
    assert_int_equal(kp_udrm_verify("other", dcd, dsig, &d, err, sizeof(err)), KP_EINVAL);
    /* undecodable values */
    char *spaced = kp_strdup(dcd);
    char *plus = strchr(spaced, '+');
    if (plus)
        *plus = ' ';
    else
        spaced[4] = ' ';
    assert_int_equal(kp_udrm_verify(secret, spaced, dsig, &d, err, sizeof(err)), KP_EPARSE);
    assert_non_null(strstr(err, "a '+' sent without percent-encoding?"));
    assert_int_equal(kp_udrm_verify(secret, dcd, "AAAA", &d, err, sizeof(err)), KP_EPARSE);
    assert_string_equal(err, "signature: 3 bytes decoded, a SHA-1 is 20");
    assert_int_equal(kp_udrm_verify(secret, "", dsig, &d, err, sizeof(err)), KP_EPARSE);
    assert_string_equal(err, "custom_data: missing");
    assert_int_equal(kp_udrm_verify(secret, dcd, NULL, &d, err, sizeof(err)), KP_EPARSE);
    assert_int_equal(kp_udrm_verify(secret, "abc", dsig, &d, err, sizeof(err)), KP_EPARSE);
    assert_non_null(strstr(err, "not a multiple of 4"));
    /* signed, but not the JSON the back-end writes */
    char *cd2, *sig2;
    assert_int_equal(kp_udrm_sign(secret, "{\"ca_system\":\"OVP\"}", &cd2, &sig2), 0);
    char *dcd2 = pct_decode(cd2), *dsig2 = pct_decode(sig2);
    assert_int_equal(kp_udrm_verify(secret, dcd2, dsig2, &d, err, sizeof(err)), KP_EPARSE);
    assert_string_equal(err, "custom_data: \"user_token\" is missing");
    free(cd2);
    free(sig2);
    free(dcd2);
    free(dsig2);
    /* account_id as a number, as some back-ends write it */
    assert_int_equal(kp_udrm_sign(secret,
                                  "{\"ca_system\":\"OVP\",\"user_token\":\"\",\"account_id\":99,"
                                  "\"content_id\":\"0_x\",\"files\":\"\"}",
                                  &cd2, &sig2),
                     0);
    dcd2 = pct_decode(cd2);
    dsig2 = pct_decode(sig2);
    assert_int_equal(kp_udrm_verify(secret, dcd2, dsig2, &d, err, sizeof(err)), 0);
    assert_string_equal(d.account_id, "99");
    kp_udrm_data_free(&d);
    free(cd2);
    free(sig2);
    free(dcd2);
    free(dsig2);
    free(spaced);
    free(tampered);
    free(plain);
    free(plain_sig);
    free(dcd);
    free(dsig);
    free(cd);
    free(sig);
    free(json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64url),
        cmocka_unit_test(test_clearkey_exact),
        cmocka_unit_test(test_clearkey_errors),
        cmocka_unit_test(test_roundtrips),
        cmocka_unit_test(test_widevine),
        cmocka_unit_test(test_playready),
        cmocka_unit_test(test_fairplay),
        cmocka_unit_test(test_initdata),
        cmocka_unit_test(test_udrm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
