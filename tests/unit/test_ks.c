/* test_ks.c: version-1 Kaltura sessions (mock-backend/src/ks.h): the exact layout of a made KS,
 * a known answer computed independently here (OpenSSL SHA1 and base64), and every check result:
 * OK, wrong secret, wrong partner, expired, tampered, garbage, empty.
 */
#include "kp/codec.h"
#include "ks.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>

#include <cmocka.h>

#define PID    1082342LL
#define SECRET "0123456789abcdef0123456789abcdef"
#define EXPIRY 2000000000LL

/* ---- independent helpers (OpenSSL only, no kpsim code) --------------------------------------- */

static void sha1_hex_ref(const char *secret, const char *fields, char out[41])
{
    size_t a = strlen(secret), b = strlen(fields);
    unsigned char *msg = malloc(a + b);
    assert_non_null(msg);
    memcpy(msg, secret, a);
    memcpy(msg + a, fields, b);
    unsigned char md[SHA_DIGEST_LENGTH];
    assert_non_null(SHA1(msg, a + b, md));
    free(msg);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[40] = '\0';
}

/* base64 of s (OpenSSL); malloc'd */
static char *b64_ref(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    assert_non_null(out);
    int len = EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
    assert_true(len >= 0);
    out[len] = '\0';
    return out;
}

/* A KS signed the real way over arbitrary fields. */
static char *forge(const char *secret, const char *fields)
{
    char sig[41];
    sha1_hex_ref(secret, fields, sig);
    char *plain = malloc(strlen(fields) + 42);
    assert_non_null(plain);
    sprintf(plain, "%s|%s", sig, fields);
    char *ks = b64_ref(plain);
    free(plain);
    return ks;
}

/* The decoded text of a KS; malloc'd. */
static char *decode(const char *ks)
{
    size_t cap = strlen(ks);
    unsigned char *raw = malloc(cap + 1);
    assert_non_null(raw);
    int n = kp_base64_decode(ks, raw, cap);
    assert_true(n > 0);
    raw[n] = '\0';
    return (char *)raw;
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void test_layout(void **state)
{
    char *ks = mbe_ks_make(PID, SECRET, EXPIRY, 0, "12345", "0", "view:*,widget:1");
    assert_non_null(ks);
    char *plain = decode(ks);
    const char *fields = "1082342;1082342;2000000000;0;12345;0;view:*,widget:1;;";
    assert_int_equal(strlen(plain), 41 + strlen(fields));
    assert_int_equal(plain[40], '|');
    for (int i = 0; i < 40; i++) /* lower-case hex */
        assert_non_null(strchr("0123456789abcdef", plain[i]));
    assert_string_equal(plain + 41, fields);
    char sig[41];
    sha1_hex_ref(SECRET, fields, sig);
    assert_memory_equal(plain, sig, 40);
    free(plain);
    free(ks);
}

static void test_known_answer(void **state)
{
    static const struct {
        int type;
        const char *rand, *user, *priv, *fields;
    } cases[] = {
        {0, "12345", "0", "view:*,widget:1",
         "1082342;1082342;2000000000;0;12345;0;view:*,widget:1;;"},
        {2, "r", "admin@example.com", "*", "1082342;1082342;2000000000;2;r;admin@example.com;*;;"},
        {0, "", NULL, NULL, "1082342;1082342;2000000000;0;;;;;"}, /* NULL user/privileges */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *ks = mbe_ks_make(PID, SECRET, EXPIRY, cases[i].type, cases[i].rand, cases[i].user,
                               cases[i].priv);
        char *want = forge(SECRET, cases[i].fields);
        assert_non_null(ks);
        assert_string_equal(ks, want);
        assert_int_equal(mbe_ks_check(ks, PID, SECRET, EXPIRY - 1), MBE_KS_OK);
        free(want);
        free(ks);
    }
}

static void test_check_ok_and_expiry(void **state)
{
    char *ks = mbe_ks_make(PID, SECRET, EXPIRY, 0, "1", "0", "");
    assert_int_equal(mbe_ks_check(ks, PID, SECRET, 0), MBE_KS_OK);
    assert_int_equal(mbe_ks_check(ks, PID, SECRET, EXPIRY - 1), MBE_KS_OK);
    /* kSessionBase::isValidBase: expired when valid_until <= time() */
    assert_int_equal(mbe_ks_check(ks, PID, SECRET, EXPIRY), MBE_KS_EXPIRED);
    assert_int_equal(mbe_ks_check(ks, PID, SECRET, EXPIRY + 86400), MBE_KS_EXPIRED);
    free(ks);

    /* a KS made already expired */
    ks = mbe_ks_make(PID, SECRET, 1000, 0, "1", "0", "");
    assert_int_equal(mbe_ks_check(ks, PID, SECRET, 5000), MBE_KS_EXPIRED);
    free(ks);
}

static void test_check_wrong_secret_and_partner(void **state)
{
    char *ks = mbe_ks_make(PID, SECRET, EXPIRY, 0, "1", "0", "");
    assert_int_equal(mbe_ks_check(ks, PID, "another-secret", 0), MBE_KS_INVALID_STR);
    assert_int_equal(mbe_ks_check(ks, PID, "", 0), MBE_KS_INVALID_STR);
    /* signature first: a wrong secret for another partner is still INVALID_STR */
    assert_int_equal(mbe_ks_check(ks, 99, "another-secret", 0), MBE_KS_INVALID_STR);
    /* right secret, other partner */
    assert_int_equal(mbe_ks_check(ks, 99, SECRET, 0), MBE_KS_INVALID_PARTNER);
    /* partner before expiry */
    assert_int_equal(mbe_ks_check(ks, 99, SECRET, EXPIRY + 1), MBE_KS_INVALID_PARTNER);
    free(ks);
}

static void test_check_tampered(void **state)
{
    char *ks = mbe_ks_make(PID, SECRET, 1000, 0, "1", "0", "");
    char *plain = decode(ks);
    /* push the expiry out without re-signing */
    char *p = strstr(plain, ";1000;");
    assert_non_null(p);
    memcpy(p, ";9000;", 6);
    char *tampered = b64_ref(plain);
    assert_int_equal(mbe_ks_check(tampered, PID, SECRET, 5000), MBE_KS_INVALID_STR);
    assert_int_equal(mbe_ks_check(tampered, PID, SECRET, 500), MBE_KS_INVALID_STR);
    free(tampered);
    free(plain);

    /* the same signature in upper-case hex is not the signature */
    plain = decode(ks);
    bool changed = false;
    for (int i = 0; i < 40; i++)
        if (plain[i] >= 'a' && plain[i] <= 'f') {
            plain[i] = (char)(plain[i] - 'a' + 'A');
            changed = true;
        }
    assert_true(changed);
    char *upper = b64_ref(plain);
    assert_int_equal(mbe_ks_check(ks, PID, SECRET, 500), MBE_KS_OK);
    assert_int_equal(mbe_ks_check(upper, PID, SECRET, 500), MBE_KS_INVALID_STR);
    free(upper);
    free(plain);
    free(ks);
}

static void test_check_signed_but_malformed(void **state)
{
    /* correctly signed, but the fields do not parse */
    static const char *const fields[] = {
        "1082342;;2000000000;0;r;0;;;", /* empty partner pattern */
        "1082342",                      /* no expiry */
        "abc;abc;2000000000;0;r;0;;;",  /* non-numeric partner */
        "1082342;1082342;soon;0;r;0;;;",
        "",
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        char *ks = forge(SECRET, fields[i]);
        assert_int_equal(mbe_ks_check(ks, PID, SECRET, 0), MBE_KS_INVALID_STR);
        free(ks);
    }
    /* ... and a minimal one that does */
    char *ks = forge(SECRET, "1082342;x;2000000000");
    assert_int_equal(mbe_ks_check(ks, PID, SECRET, 0), MBE_KS_OK);
    free(ks);
}

static void test_check_garbage(void **state)
{
    char sig[41];
    sha1_hex_ref(SECRET, "1082342;1082342;2000000000;0;r;0;;;", sig);
    char plain[256];
    /* the separator one character off */
    snprintf(plain, sizeof(plain), "%.39s|%s;1082342;2000000000;0;r;0;;;", sig, "1082342");
    char *off_by_one = b64_ref(plain);
    /* no separator at all */
    snprintf(plain, sizeof(plain), "%s-1082342;1082342;2000000000;0;r;0;;;", sig);
    char *no_bar = b64_ref(plain);
    char *short_one = b64_ref("hello|world");
    char *just_sig = b64_ref("0123456789012345678901234567890123456789|");

    const char *const bad[] = {
        "",         "not base64 at all!",
        "====",     "QUJD=RA==", /* data after padding */
        short_one,  just_sig,
        off_by_one, no_bar,
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(mbe_ks_check(bad[i], PID, SECRET, 0), MBE_KS_INVALID_STR);
    assert_int_equal(mbe_ks_check(NULL, PID, SECRET, 0), MBE_KS_INVALID_STR);
    free(off_by_one);
    free(no_bar);
    free(short_one);
    free(just_sig);
}

static void test_two_ks_differ_by_rand(void **state)
{
    char *a = mbe_ks_make(PID, SECRET, EXPIRY, 0, "1", "0", "");
    char *b = mbe_ks_make(PID, SECRET, EXPIRY, 0, "2", "0", "");
    char *a2 = mbe_ks_make(PID, SECRET, EXPIRY, 0, "1", "0", "");
    assert_string_not_equal(a, b);
    assert_string_equal(a, a2); /* deterministic */
    free(a);
    free(b);
    free(a2);
}

static void test_error_desc(void **state)
{
    assert_string_equal(mbe_ks_error_desc(MBE_KS_OK), "OK");
    assert_string_equal(mbe_ks_error_desc(MBE_KS_INVALID_STR), "INVALID_STR");
    assert_string_equal(mbe_ks_error_desc(MBE_KS_INVALID_PARTNER), "INVALID_PARTNER");
    assert_string_equal(mbe_ks_error_desc(MBE_KS_EXPIRED), "EXPIRED");
    assert_int_equal(MBE_KS_INVALID_STR, -1); /* kSessionBase's numbers */
    assert_int_equal(MBE_KS_INVALID_PARTNER, -2);
    assert_int_equal(MBE_KS_EXPIRED, -5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_known_answer),
        cmocka_unit_test(test_check_ok_and_expiry),
        cmocka_unit_test(test_check_wrong_secret_and_partner),
        cmocka_unit_test(test_check_tampered),
        cmocka_unit_test(test_check_signed_but_malformed),
        cmocka_unit_test(test_check_garbage),
        cmocka_unit_test(test_two_ks_differ_by_rand),
        cmocka_unit_test(test_error_desc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
