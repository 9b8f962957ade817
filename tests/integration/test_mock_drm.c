/* test_mock_drm.c: the mock license server (mdrm) over real HTTP on 127.0.0.1: each key
 * system's round trip gives kp_drm_derive_key's keys; signatures (bad, tampered custom_data,
 * another partner), extra query parameters, the deny/limit/expire policies, unknown KIDs and
 * entries, malformed bodies, methods, sizes, CORS and the journal. Then the mock back-end's
 * getPlaybackContext of a protected entry: its drm objects, what the provider makes of them,
 * and their license URLs really obtaining licenses from a running mdrm server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "kp/buf.h"
#include "kp/codec.h"
#include "kp/drm.h"
#include "kp/drmmsg.h"
#include "kp/err.h"
#include "kp/jsonu.h"
#include "kp/provider.h"
#include "mbe/mbe.h"
#include "mdrm/mdrm.h"
#include "mock_server.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PID 4242

static long long clock_ms = 1767225600123;

static long long fake_clock(void *ud)
{
    return *(long long *)ud;
}

typedef struct fixture {
    mdrm_server *drm;
    char secret[64];
} fixture;

static const uint8_t GIVEN_KID[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t GIVEN_KEY[16] = {0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0, 1,
                                      2,    3,    4,    5,    6,    7,    8, 9};

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    mdrm_entry entries[] = {
        {.id = "0_open0001"},
        {.id = "0_deny0001", .policy = {.deny = 1}},
        {.id = "0_limit001", .policy = {.limit = 2}},
        {.id = "0_expire01", .policy = {.expire_s = 30}},
        {.id = "0_given001", .has_key = 1},
    };
    memcpy(entries[4].kid, GIVEN_KID, 16);
    memcpy(entries[4].key, GIVEN_KEY, 16);
    mdrm_config c = {.partner_id = PID,
                     .entries = entries,
                     .n_entries = 5,
                     .clock = fake_clock,
                     .clock_ud = &clock_ms};
    assert_int_equal(mdrm_server_start(&c, &f->drm), 0);
    kp_udrm_default_secret(PID, f->secret, sizeof(f->secret));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    mdrm_server_stop(f->drm);
    free(f);
    return 0;
}

typedef struct resp {
    long status;
    kp_buf body, headers;
} resp;

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
    kp_buf_append(ud, p, s * n);
    return s * n;
}

/* A request with a binary body (NULL: none). */
static void http(const char *method, const char *url, const void *body, size_t len,
                 const char *type, resp *r)
{
    kp_buf_init(&r->body);
    kp_buf_init(&r->headers);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
    struct curl_slist *h = NULL;
    char ct[128];
    if (body) {
        snprintf(ct, sizeof(ct), "Content-Type: %s", type);
        h = curl_slist_append(h, ct);
        h = curl_slist_append(h, "Expect:");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    }
    if (strcmp(method, "POST") != 0 || !body)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    kp_buf_reserve(&r->body, 0);
    kp_buf_reserve(&r->headers, 0);
}

static void resp_free(resp *r)
{
    kp_buf_free(&r->body);
    kp_buf_free(&r->headers);
}

static const char *const paths[] = {"clearkey", "cenc/widevine", "cenc/playready", "fps"};

/* The license URL of `system` for entry (signed custom_data; extra appended raw). */
static char *license_url(const fixture *f, kp_drm_system s, const char *entry, const char *secret,
                         long long pid, const char *extra)
{
    char *json = kp_udrm_json("OVP", "djJ8NDI0Mnx0ZXN0", pid, entry, "0_f1,0_f2");
    char *cd, *sig;
    assert_int_equal(kp_udrm_sign(secret ? secret : f->secret, json, &cd, &sig), 0);
    char *url = kp_asprintf("%s/%s/license?custom_data=%s&signature=%s%s", mdrm_server_url(f->drm),
                            paths[s], cd, sig, extra ? extra : "");
    free(json);
    free(cd);
    free(sig);
    return url;
}

/* A request body of system s for the KID (FairPlay: asset `asset`). */
static void request_body(kp_drm_system s, const uint8_t kid[16], const char *asset, long long pid,
                         kp_buf *out)
{
    kp_drmmsg_request rq;
    memset(&rq, 0, sizeof(rq));
    rq.system = s;
    memcpy(rq.kids[0], kid, 16);
    rq.n_kids = 1;
    memset(rq.nonce, 0x17, 16);
    if (s == KP_DRM_FAIRPLAY) {
        uint8_t cert[64];
        kp_drm_fps_certificate(pid, cert);
        kp_drm_fps_certificate_hash(cert, 64, rq.cert_hash);
        snprintf(rq.asset_id, sizeof(rq.asset_id), "%s", asset);
    }
    kp_buf_init(out);
    assert_int_equal(kp_drmmsg_build_request(&rq, out), 0);
}

/* POSTs a license request for entry to url; returns the HTTP status, the license in *lic. */
static long post_license(kp_drm_system s, const char *url, const char *entry,
                         kp_drmmsg_license *lic, resp *r)
{
    uint8_t kid[16], key[16];
    kp_drm_derive_key(entry, kid, key);
    kp_buf body;
    request_body(s, kid, entry, PID, &body);
    http("POST", url, body.data, body.len, kp_drmmsg_request_type(s), r);
    kp_buf_free(&body);
    if (r->status == 200 && lic) {
        char err[256];
        int rc = kp_drmmsg_parse_license(s, r->body.data, r->body.len, lic, err, sizeof(err));
        if (rc != 0)
            fail_msg("%s license: %s", kp_drm_system_name(s), err);
    }
    return r->status;
}

static void assert_derived(const kp_drmmsg_license *lic, const char *entry)
{
    uint8_t kid[16], key[16];
    kp_drm_derive_key(entry, kid, key);
    assert_int_equal(lic->n_keys, 1);
    assert_memory_equal(lic->keys[0].kid, kid, 16);
    assert_memory_equal(lic->keys[0].key, key, 16);
}

static void test_round_trips(void **state)
{
    fixture *f = *state;
    for (int s = 0; s < KP_DRM_SYSTEM_COUNT; s++) {
        char *url = s == KP_DRM_CLEARKEY
                        ? kp_asprintf("%s/clearkey/license", mdrm_server_url(f->drm))
                        : license_url(f, (kp_drm_system)s, "0_open0001", NULL, PID, NULL);
        kp_drmmsg_license lic;
        resp r;
        assert_int_equal(post_license((kp_drm_system)s, url, "0_open0001", &lic, &r), 200);
        assert_derived(&lic, "0_open0001");
        assert_int_equal(lic.duration_s, 0);
        assert_non_null(strcasestr(r.headers.data, "Access-Control-Allow-Origin: *"));
        if (s == KP_DRM_WIDEVINE)
            assert_int_equal(lic.start_s, clock_ms / 1000);
        if (s == KP_DRM_FAIRPLAY)
            assert_string_equal(lic.asset_id, "0_open0001");
        resp_free(&r);
        free(url);
    }
    /* ClearKey with custom_data is verified too; a given key is served as given */
    char *url = license_url(f, KP_DRM_CLEARKEY, "0_given001", NULL, PID, NULL);
    kp_buf body;
    request_body(KP_DRM_CLEARKEY, GIVEN_KID, NULL, PID, &body);
    resp r;
    http("POST", url, body.data, body.len, "application/json", &r);
    assert_int_equal(r.status, 200);
    kp_drmmsg_license lic;
    char err[256];
    assert_int_equal(
        kp_drmmsg_parse_license(KP_DRM_CLEARKEY, r.body.data, r.body.len, &lic, err, 256), 0);
    assert_memory_equal(lic.keys[0].key, GIVEN_KEY, 16);
    resp_free(&r);
    kp_buf_free(&body);
    free(url);
    /* FairPlay's asset id may be the KID in hex; the certificate endpoint serves the
     * certificate the SPC names */
    uint8_t kid[16], key[16];
    kp_drm_derive_key("0_open0001", kid, key);
    char *hex = kp_hex_encode(kid, 16);
    url = license_url(f, KP_DRM_FAIRPLAY, "0_open0001", NULL, PID, NULL);
    request_body(KP_DRM_FAIRPLAY, kid, hex, PID, &body);
    http("POST", url, body.data, body.len, "application/json", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    kp_buf_free(&body);
    free(url);
    free(hex);
    url = kp_asprintf("%s/fps/certificate", mdrm_server_url(f->drm));
    http("GET", url, NULL, 0, NULL, &r);
    assert_int_equal(r.status, 200);
    uint8_t cert[64];
    kp_drm_fps_certificate(PID, cert);
    assert_int_equal(r.body.len, 64);
    assert_memory_equal(r.body.data, cert, 64);
    resp_free(&r);
    free(url);
    /* Widevine's service certificate request */
    url = license_url(f, KP_DRM_WIDEVINE, "0_open0001", NULL, PID, NULL);
    http("POST", url, "\x08\x04", 2, "application/octet-stream", &r);
    assert_int_equal(r.status, 200);
    assert_memory_equal(r.body.data, "\x08\x05\x12\x40", 4);
    assert_memory_equal(r.body.data + 4, cert, 64);
    resp_free(&r);
    free(url);
}

static void expect_refusal(fixture *f, kp_drm_system s, const char *url, const char *entry,
                           long status, const char *outcome, const char *message)
{
    resp r;
    assert_int_equal(post_license(s, url, entry, NULL, &r), status);
    if (s == KP_DRM_PLAYREADY) {
        assert_non_null(strstr(r.body.data, "<soap:Fault>"));
        assert_non_null(strstr(r.body.data, message));
    } else {
        json_t *o = json_loadb(r.body.data, r.body.len, 0, NULL);
        assert_non_null(o);
        assert_string_equal(kp_json_str(o, "error", ""), outcome);
        if (!strstr(kp_json_str(o, "message", ""), message))
            fail_msg("message \"%s\" lacks \"%s\"", kp_json_str(o, "message", ""), message);
        json_decref(o);
    }
    resp_free(&r);
}

static void test_signatures(void **state)
{
    fixture *f = *state;
    for (int s = KP_DRM_WIDEVINE; s < KP_DRM_SYSTEM_COUNT; s++) {
        kp_drm_system sys = (kp_drm_system)s;
        /* signed with another secret */
        char *url = license_url(f, sys, "0_open0001", "not-the-secret", PID, NULL);
        expect_refusal(f, sys, url, "0_open0001", 403, "bad_signature",
                       "signature does not match custom_data");
        free(url);
        /* custom_data rewritten for another entry, signature kept */
        char *good = license_url(f, sys, "0_open0001", NULL, PID, NULL);
        char *json = kp_udrm_json("OVP", "djJ8NDI0Mnx0ZXN0", PID, "0_given001", "0_f1,0_f2");
        char *b64 = kp_base64_encode(json, strlen(json));
        char *esc = kp_url_escape(b64);
        const char *sig = strstr(good, "&signature=");
        url = kp_asprintf("%s/%s/license?custom_data=%s%s", mdrm_server_url(f->drm), paths[s], esc,
                          sig);
        expect_refusal(f, sys, url, "0_open0001", 403, "bad_signature",
                       "signature does not match custom_data");
        free(url);
        free(json);
        free(b64);
        free(esc);
        /* no signature at all */
        url = kp_strndup(good, (size_t)(sig - good));
        expect_refusal(f, sys, url, "0_open0001", 403, "bad_signature", "signature: missing");
        free(url);
        /* properly signed, but another partner's */
        url = license_url(f, sys, "0_open0001", NULL, 7, NULL);
        expect_refusal(f, sys, url, "0_open0001", 403, "wrong_partner",
                       "account_id 7 is not partner 4242");
        free(url);
        /* what kaltura-player-js appends is ignored */
        url = license_url(f, sys, "0_open0001", NULL, PID,
                          "&sessionId=9d6a5c9e-1b2c-4d5e-8f90-123456789abc:0f1e2d3c-4b5a-6978-"
                          "8695-a4b3c2d1e0f9&clientTag=html5:v3.17.95&referrer=aHR0cDovL2xvY2Fs"
                          "aG9zdC8%3D&uiConfId=12345");
        kp_drmmsg_license lic;
        resp r;
        assert_int_equal(post_license(sys, url, "0_open0001", &lic, &r), 200);
        assert_derived(&lic, "0_open0001");
        resp_free(&r);
        free(url);
        free(good);
    }
}

static void test_policies(void **state)
{
    fixture *f = *state;
    char *url = license_url(f, KP_DRM_WIDEVINE, "0_deny0001", NULL, PID, NULL);
    expect_refusal(f, KP_DRM_WIDEVINE, url, "0_deny0001", 403, "denied",
                   "entry 0_deny0001: licenses are denied by its policy");
    free(url);
    /* ClearKey without custom_data: the KID's entry's policy applies */
    url = kp_asprintf("%s/clearkey/license", mdrm_server_url(f->drm));
    expect_refusal(f, KP_DRM_CLEARKEY, url, "0_deny0001", 403, "denied", "denied by its policy");
    free(url);
    /* limit 2: two licenses, then refused, whatever the system */
    kp_drmmsg_license lic;
    resp r;
    url = license_url(f, KP_DRM_PLAYREADY, "0_limit001", NULL, PID, NULL);
    assert_int_equal(post_license(KP_DRM_PLAYREADY, url, "0_limit001", &lic, &r), 200);
    resp_free(&r);
    free(url);
    url = license_url(f, KP_DRM_FAIRPLAY, "0_limit001", NULL, PID, NULL);
    assert_int_equal(post_license(KP_DRM_FAIRPLAY, url, "0_limit001", &lic, &r), 200);
    resp_free(&r);
    expect_refusal(f, KP_DRM_FAIRPLAY, url, "0_limit001", 403, "limit",
                   "entry 0_limit001: its 2 license(s) are used up");
    free(url);
    url = license_url(f, KP_DRM_PLAYREADY, "0_limit001", NULL, PID, NULL);
    expect_refusal(f, KP_DRM_PLAYREADY, url, "0_limit001", 403, "limit", "used up");
    free(url);
    /* a new policy resets the count */
    mdrm_policy open = {0};
    assert_int_equal(mdrm_server_set_policy(f->drm, "0_limit001", &open), 0);
    assert_int_equal(mdrm_server_set_policy(f->drm, "0_nope", &open), KP_ENOENT);
    url = license_url(f, KP_DRM_WIDEVINE, "0_limit001", NULL, PID, NULL);
    assert_int_equal(post_license(KP_DRM_WIDEVINE, url, "0_limit001", &lic, &r), 200);
    resp_free(&r);
    free(url);
    /* expire: every system's license carries the 30 s duration */
    for (int s = 0; s < KP_DRM_SYSTEM_COUNT; s++) {
        url = s == KP_DRM_CLEARKEY
                  ? kp_asprintf("%s/clearkey/license", mdrm_server_url(f->drm))
                  : license_url(f, (kp_drm_system)s, "0_expire01", NULL, PID, NULL);
        assert_int_equal(post_license((kp_drm_system)s, url, "0_expire01", &lic, &r), 200);
        assert_int_equal(lic.duration_s, 30);
        assert_derived(&lic, "0_expire01");
        resp_free(&r);
        free(url);
    }
    json_t *m =
        json_pack("{s:s, s:s, s:i}", "entry", "0_expire01", "outcome", "granted", "duration", 30);
    assert_int_equal(mdrm_server_count(f->drm, m), 4);
    json_decref(m);
}

static void test_unknown_and_malformed(void **state)
{
    fixture *f = *state;
    /* a KID nobody has */
    char *url = kp_asprintf("%s/clearkey/license", mdrm_server_url(f->drm));
    const char *ck = "{\"kids\":[\"AAAAAAAAAAAAAAAAAAAAAA\"],\"type\":\"temporary\"}";
    resp r;
    http("POST", url, ck, strlen(ck), "application/json", &r);
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(r.body.data, "\"error\":\"unknown_kid\""));
    assert_non_null(strstr(r.body.data, "KID 00000000000000000000000000000000: no such key"));
    resp_free(&r);
    /* malformed bodies: 400 and the parser's message */
    http("POST", url, "{\"kids\":[]}", 11, "application/json", &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body.data, "ClearKey request: \\\"kids\\\" is empty"));
    resp_free(&r);
    free(url);
    /* the KID of another entry on an entry's UDRM URL */
    uint8_t kid[16], key[16];
    kp_drm_derive_key("0_given001", kid, key);
    url = license_url(f, KP_DRM_WIDEVINE, "0_open0001", NULL, PID, NULL);
    kp_buf body;
    request_body(KP_DRM_WIDEVINE, kid, NULL, PID, &body);
    http("POST", url, body.data, body.len, "application/octet-stream", &r);
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(r.body.data, "is not the key of entry 0_open0001"));
    resp_free(&r);
    kp_buf_free(&body);
    http("POST", url, "\x08\x02", 2, "application/octet-stream", &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body.data, "SignedMessage type 2 is not a request"));
    resp_free(&r);
    /* wrong method; too large */
    http("GET", url, NULL, 0, NULL, &r);
    assert_int_equal(r.status, 405);
    assert_non_null(strcasestr(r.headers.data, "Allow: POST, OPTIONS"));
    resp_free(&r);
    size_t big = (1u << 20) + 10;
    char *huge = malloc(big);
    memset(huge, 'A', big);
    http("POST", url, huge, big, "application/octet-stream", &r);
    assert_int_equal(r.status, 413);
    resp_free(&r);
    free(huge);
    free(url);
    /* an entry the key store does not have */
    url = license_url(f, KP_DRM_PLAYREADY, "0_missing1", NULL, PID, NULL);
    expect_refusal(f, KP_DRM_PLAYREADY, url, "0_missing1", 404, "unknown_entry",
                   "content_id 0_missing1: no such entry");
    free(url);
    url = license_url(f, KP_DRM_PLAYREADY, "0_open0001", NULL, PID, NULL);
    http("POST", url, "<x/>", 4, "text/xml", &r);
    assert_int_equal(r.status, 400);
    assert_non_null(
        strstr(r.body.data, "PlayReady challenge: the root is not a SOAP 1.1 Envelope"));
    assert_non_null(strstr(r.body.data, "<StatusCode>0x8004C601</StatusCode>"));
    resp_free(&r);
    free(url);
    /* FairPlay: an SPC for another certificate, an asset that is not the entry's */
    url = license_url(f, KP_DRM_FAIRPLAY, "0_open0001", NULL, PID, NULL);
    kp_drm_derive_key("0_open0001", kid, key);
    request_body(KP_DRM_FAIRPLAY, kid, "0_open0001", 1, &body);
    http("POST", url, body.data, body.len, "application/json", &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body.data, "made for another application certificate"));
    resp_free(&r);
    kp_buf_free(&body);
    request_body(KP_DRM_FAIRPLAY, kid, "0_other", PID, &body);
    http("POST", url, body.data, body.len, "application/json", &r);
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(r.body.data, "asset id 0_other is neither entry 0_open0001"));
    resp_free(&r);
    kp_buf_free(&body);
    free(url);
    /* CORS preflight and unknown paths */
    url = kp_asprintf("%s/cenc/widevine/license", mdrm_server_url(f->drm));
    http("OPTIONS", url, NULL, 0, NULL, &r);
    assert_int_equal(r.status, 204);
    assert_non_null(strcasestr(r.headers.data, "Access-Control-Allow-Methods: GET, POST, OPTIONS"));
    resp_free(&r);
    free(url);
    url = kp_asprintf("%s/nope", mdrm_server_url(f->drm));
    http("POST", url, "x", 1, "text/plain", &r);
    assert_int_equal(r.status, 404);
    resp_free(&r);
    free(url);
}

static void test_journal(void **state)
{
    fixture *f = *state;
    char *url = license_url(f, KP_DRM_WIDEVINE, "0_open0001", NULL, PID, "&sessionId=abc");
    kp_drmmsg_license lic;
    resp r;
    assert_int_equal(post_license(KP_DRM_WIDEVINE, url, "0_open0001", &lic, &r), 200);
    resp_free(&r);
    free(url);
    url = license_url(f, KP_DRM_WIDEVINE, "0_deny0001", NULL, PID, NULL);
    assert_int_equal(post_license(KP_DRM_WIDEVINE, url, "0_deny0001", NULL, &r), 403);
    resp_free(&r);
    free(url);
    json_t *j = mdrm_server_journal(f->drm);
    assert_int_equal(json_array_size(j), 2);
    uint8_t kid[16], key[16];
    kp_drm_derive_key("0_open0001", kid, key);
    char *hex = kp_hex_encode(kid, 16);
    json_t *first = json_array_get(j, 0);
    assert_int_equal(kp_json_int(first, "seq", 0), 1);
    assert_int_equal(kp_json_int(first, "time_ms", 0), clock_ms);
    assert_string_equal(kp_json_str(first, "system", ""), "widevine");
    assert_string_equal(kp_json_str(first, "entry", ""), "0_open0001");
    assert_string_equal(kp_json_str(first, "kids.0", ""), hex);
    assert_string_equal(kp_json_str(first, "outcome", ""), "granted");
    assert_string_equal(kp_json_str(first, "query.sessionId", ""), "abc");
    assert_int_equal(kp_json_int(first, "status", 0), 200);
    json_t *second = json_array_get(j, 1);
    assert_string_equal(kp_json_str(second, "outcome", ""), "denied");
    assert_int_equal(kp_json_int(second, "status", 0), 403);
    assert_non_null(strstr(kp_json_str(second, "message", ""), "denied by its policy"));
    char *lines = mdrm_server_journal_lines(f->drm);
    size_t n = 0;
    for (const char *p = lines; (p = strchr(p, '\n')); p++)
        n++;
    assert_int_equal(n, 2);
    assert_non_null(strstr(lines, "\"outcome\":\"denied\""));
    free(lines);
    free(hex);
    json_decref(j);
}

typedef struct racer {
    char *url;
    int granted, limited;
} racer;

static void *race(void *ud)
{
    racer *x = ud;
    for (int i = 0; i < 3; i++) {
        resp r;
        long st = post_license(KP_DRM_PLAYREADY, x->url, "0_limit001", NULL, &r);
        x->granted += st == 200;
        x->limited += st == 403 && strstr(r.body.data, "used up") != NULL;
        resp_free(&r);
    }
    return NULL;
}

/* Eight clients at once (PlayReady: XML parsed on every worker thread): the limit holds. */
static void test_concurrent_limit(void **state)
{
    fixture *f = *state;
    mdrm_policy five = {.limit = 5};
    assert_int_equal(mdrm_server_set_policy(f->drm, "0_limit001", &five), 0);
    racer xs[8];
    pthread_t t[8];
    for (int i = 0; i < 8; i++) {
        xs[i] = (racer){.url = license_url(f, KP_DRM_PLAYREADY, "0_limit001", NULL, PID, NULL)};
        assert_int_equal(pthread_create(&t[i], NULL, race, &xs[i]), 0);
    }
    int granted = 0, limited = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        granted += xs[i].granted;
        limited += xs[i].limited;
        free(xs[i].url);
    }
    assert_int_equal(granted, 5);
    assert_int_equal(limited, 19);
    json_t *m = json_pack("{s:s}", "outcome", "granted");
    assert_int_equal(mdrm_server_count(f->drm, m), 5);
    json_decref(m);
}

/* ---- the back-end's playback context of a protected entry ---- */

static const int formats[] = {MBE_FORMAT_HLS, MBE_FORMAT_DASH, MBE_FORMAT_PROGRESSIVE};
static const char *const low[] = {"180p"};

static void test_backend_drm(void **state)
{
    fixture *f = *state;
    mbe_entry entries[] = {
        {.id = "0_open0001",
         .duration = 2,
         .formats = formats,
         .n_formats = 3,
         .renditions = low,
         .n_renditions = 1,
         .drm = {.scheme = KP_ENC_CENC,
                 .systems = 1u << KP_DRM_WIDEVINE | 1u << KP_DRM_PLAYREADY | 1u << KP_DRM_FAIRPLAY |
                            1u << KP_DRM_CLEARKEY}},
        {.id = "0_clear001",
         .duration = 2,
         .formats = formats,
         .n_formats = 2,
         .renditions = low,
         .n_renditions = 1},
    };
    mbe_config cfg = {.partner_id = PID,
                      .entries = entries,
                      .n_entries = 2,
                      .license_url = mdrm_server_url(f->drm)};
    test_mock m;
    test_mock_start(&m, &cfg);
    char *ks = mbe_server_make_ks(m.srv, "viewer", NULL, 3600);
    char *url = kp_asprintf("%s/service/baseEntry/action/getPlaybackContext", m.service);
    char *body =
        kp_asprintf("{\"ks\":\"%s\",\"entryId\":\"0_open0001\",\"contextDataParams\":"
                    "{\"objectType\":\"KalturaContextDataParams\",\"flavorTags\":\"all\"}}",
                    ks);
    resp r;
    http("POST", url, body, strlen(body), "application/json", &r);
    assert_int_equal(r.status, 200);
    json_t *ctx = json_loadb(r.body.data, r.body.len, 0, NULL);
    assert_non_null(ctx);
    resp_free(&r);
    json_t *sources = json_object_get(ctx, "sources");
    assert_int_equal(json_array_size(sources), 3);
    size_t granted = 0;
    for (size_t i = 0; i < 3; i++) {
        json_t *src = json_array_get(sources, i);
        const char *format = kp_json_str(src, "format", "");
        json_t *drm = json_object_get(src, "drm");
        if (strcmp(format, "url") == 0) {
            assert_int_equal(json_array_size(drm), 0);
            continue;
        }
        bool dash = strcmp(format, "mpegdash") == 0;
        assert_int_equal(json_array_size(drm), dash ? 3 : 1);
        static const char *const dash_schemes[] = {"drm.WIDEVINE_CENC", "drm.PLAYREADY_CENC",
                                                   "drm.CLEAR_KEY"};
        static const kp_drm_system dash_systems[] = {KP_DRM_WIDEVINE, KP_DRM_PLAYREADY,
                                                     KP_DRM_CLEARKEY};
        for (size_t k = 0; k < json_array_size(drm); k++) {
            json_t *d = json_array_get(drm, k);
            kp_drm_system sys = dash ? dash_systems[k] : KP_DRM_FAIRPLAY;
            assert_string_equal(kp_json_str(d, "scheme", ""),
                                dash ? dash_schemes[k] : "fairplay.FAIRPLAY");
            assert_string_equal(kp_json_str(d, "objectType", ""),
                                dash ? "KalturaDrmPlaybackPluginData"
                                     : "KalturaFairPlayPlaybackPluginData");
            const char *lurl = kp_json_str(d, "licenseURL", "");
            char *prefix =
                kp_asprintf("%s/%s/license?custom_data=", mdrm_server_url(f->drm), paths[sys]);
            assert_true(kp_str_starts(lurl, prefix));
            free(prefix);
            if (!dash) {
                uint8_t cert[64];
                kp_drm_fps_certificate(PID, cert);
                char *b64 = kp_base64_encode(cert, 64);
                assert_string_equal(kp_json_str(d, "certificate", ""), b64);
                free(b64);
            } else {
                assert_null(json_object_get(d, "certificate"));
            }
            /* custom_data is the JSON the reference gives, with the request's KS */
            const char *cd = strstr(lurl, "custom_data=") + 12;
            char *cdv = kp_strndup(cd, strcspn(cd, "&"));
            for (char *p; (p = strstr(cdv, "%"));) { /* %2B %2F %3D back */
                char hex[3] = {p[1], p[2], 0};
                *p = (char)strtol(hex, NULL, 16);
                memmove(p + 1, p + 3, strlen(p + 3) + 1);
            }
            uint8_t json[2048];
            int n = kp_base64_decode(cdv, json, sizeof(json) - 1);
            assert_true(n > 0);
            json[n] = 0;
            char *want =
                kp_udrm_json("OVP", ks, PID, "0_open0001", kp_json_str(src, "flavorIds", ""));
            assert_string_equal((char *)json, want);
            assert_non_null(strstr(want, "\\/") || !strchr(ks, '/') ? want : NULL);
            free(want);
            free(cdv);
            /* and the URL really obtains the entry's license from the running server */
            kp_drmmsg_license lic;
            assert_int_equal(post_license(sys, lurl, "0_open0001", &lic, &r), 200);
            assert_derived(&lic, "0_open0001");
            resp_free(&r);
            granted++;
        }
    }
    assert_int_equal(granted, 4);
    json_decref(ctx);
    /* the provider turns them into drmData as the real one does */
    kp_provider_opts o;
    kp_provider_opts_init(&o);
    o.service_url = m.service;
    o.cdn_url = mbe_server_url(m.srv);
    o.partner_id = PID;
    o.ks = ks;
    kp_provider_client pc;
    kp_provider_client_init(&pc);
    pc.user_get = false;
    kp_media_info mi = {.entry_id = "0_open0001", .redirect_from_entry_id = -1};
    json_t *config = NULL, *error = NULL;
    assert_int_equal(kp_ovp_fetch_media(&pc, &o, &mi, &config, &error), 0);
    assert_non_null(config);
    json_t *dash_drm = kp_json_path(config, "sources.dash.0.drmData");
    json_t *hls_drm = kp_json_path(config, "sources.hls.0.drmData");
    assert_int_equal(json_array_size(dash_drm), 3);
    assert_string_equal(kp_json_str(dash_drm, "0.scheme", ""), "com.widevine.alpha");
    assert_string_equal(kp_json_str(dash_drm, "1.scheme", ""), "com.microsoft.playready");
    /* drm.CLEAR_KEY is kpsim's own scheme, which kpsim's provider maps to ClearKey */
    assert_string_equal(kp_json_str(dash_drm, "2.scheme", ""), "org.w3.clearkey");
    assert_true(kp_str_starts(kp_json_str(dash_drm, "2.licenseUrl", ""), mdrm_server_url(f->drm)));
    assert_int_equal(json_array_size(hls_drm), 1);
    assert_string_equal(kp_json_str(hls_drm, "0.scheme", ""), "com.apple.fairplay");
    assert_true(strlen(kp_json_str(hls_drm, "0.certificate", "")) > 0);
    assert_null(kp_json_path(config, "sources.progressive.0.drmData"));
    json_decref(config);
    json_decref(error);
    /* a clear entry has none */
    mi.entry_id = "0_clear001";
    config = NULL;
    assert_int_equal(kp_ovp_fetch_media(&pc, &o, &mi, &config, &error), 0);
    assert_null(kp_json_path(config, "sources.hls.0.drmData"));
    json_decref(config);
    free(url);
    free(body);
    free(ks);
    test_mock_stop(&m);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signatures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_and_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_journal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backend_drm, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
