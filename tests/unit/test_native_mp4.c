/* test_native_mp4.c: the element's MP4 header reader (engine_progressive.c) on the fuzz seeds:
 * a faststart file and the same boxes with the moov after the mdat give the same sample
 * index; truncated, foreign and malformed files give the element's precise error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "engine_progressive.h"
#include "kp/buf.h"
#include "kp/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint8_t *seed(const char *name, size_t *len)
{
    const char *src = getenv("KPSIM_SOURCE_DIR");
    assert_non_null(src);
    char *path = kp_asprintf("%s/tests/fuzz/corpus/mp4/%s", src, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    uint8_t *buf = malloc(1 << 20);
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    free(path);
    return buf;
}

static void test_index(void **state)
{
    (void)state;
    size_t len, len2, n = 0, n2 = 0;
    kp_time d = 0, d2 = 0;
    char err[256];
    uint8_t *a = seed("faststart.mp4", &len), *b = seed("moov-at-end.mp4", &len2);
    assert_int_equal(kp_native_mp4_probe(a, len, &n, &d, err, sizeof(err)), KP_OK);
    /* 1 s at 25 fps and 48 kHz AAC: 25 video and about 47 audio samples */
    assert_true(n >= 70 && n <= 80);
    assert_true(d >= KP_MS(1000) && d < KP_MS(1100));
    assert_int_equal(kp_native_mp4_probe(b, len2, &n2, &d2, err, sizeof(err)), KP_OK);
    assert_int_equal(n2, n);
    assert_int_equal(d2, d);
    free(a);
    free(b);
}

static void expect_error(const char *name, const char *needle)
{
    size_t len, n = 1;
    kp_time d = 1;
    char err[256];
    uint8_t *a = seed(name, &len);
    assert_int_equal(kp_native_mp4_probe(a, len, &n, &d, err, sizeof(err)), KP_EMEDIA);
    assert_int_equal(n, 0);
    if (!strstr(err, needle))
        fail_msg("%s: expected '%s' in '%s'", name, needle, err);
    free(a);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("truncated-moov.mp4", "bad box 'moov' of 1430 bytes at 32");
    expect_error("not-mp4.txt", "DEMUXER_ERROR_COULD_NOT_OPEN: bad box");
    expect_error("largesize.mp4", "bad box 'free'");
    expect_error("zero-size-mdat.mp4", "no moov box");
    size_t n;
    kp_time d;
    char err[64];
    assert_int_equal(kp_native_mp4_probe((const uint8_t *)"", 0, &n, &d, err, sizeof(err)),
                     KP_EMEDIA);
    assert_string_equal(err, "empty file");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
