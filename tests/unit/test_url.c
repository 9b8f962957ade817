/* test_url.c: reference resolution (core/src/url.h): the RFC 3986 §5.4 examples, then the
 * shapes playlists really use (CDN bases with a query, bases without a path, network-path
 * and absolute-path references) and the degenerate inputs.
 */
#include "url.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>

#include <cmocka.h>

typedef struct {
    const char *base;
    const char *ref;
    const char *want;
} resolve_case;

static void check_cases(const resolve_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *got = kp_url_resolve(cases[i].base, cases[i].ref);
        if (!got || strcmp(got, cases[i].want) != 0) {
            char msg[512];
            snprintf(msg, sizeof(msg), "resolve(%s, %s) = %s, want %s",
                     cases[i].base ? cases[i].base : "NULL", cases[i].ref, got ? got : "NULL",
                     cases[i].want);
            free(got);
            fail_msg("%s", msg);
        }
        free(got);
    }
}

#define RFC_BASE "http://a/b/c/d;p?q"

/* RFC 3986 §5.4.1 */
static void test_rfc_normal(void **state)
{
    static const resolve_case cases[] = {
        {RFC_BASE, "g:h", "g:h"},
        {RFC_BASE, "g", "http://a/b/c/g"},
        {RFC_BASE, "./g", "http://a/b/c/g"},
        {RFC_BASE, "g/", "http://a/b/c/g/"},
        {RFC_BASE, "/g", "http://a/g"},
        {RFC_BASE, "//g", "http://g"},
        {RFC_BASE, "?y", "http://a/b/c/d;p?y"},
        {RFC_BASE, "g?y", "http://a/b/c/g?y"},
        {RFC_BASE, "#s", "http://a/b/c/d;p?q#s"},
        {RFC_BASE, "g#s", "http://a/b/c/g#s"},
        {RFC_BASE, "g?y#s", "http://a/b/c/g?y#s"},
        {RFC_BASE, ";x", "http://a/b/c/;x"},
        {RFC_BASE, "g;x", "http://a/b/c/g;x"},
        {RFC_BASE, "g;x?y#s", "http://a/b/c/g;x?y#s"},
        {RFC_BASE, "", "http://a/b/c/d;p?q"},
        {RFC_BASE, ".", "http://a/b/c/"},
        {RFC_BASE, "./", "http://a/b/c/"},
        {RFC_BASE, "..", "http://a/b/"},
        {RFC_BASE, "../", "http://a/b/"},
        {RFC_BASE, "../g", "http://a/b/g"},
        {RFC_BASE, "../..", "http://a/"},
        {RFC_BASE, "../../", "http://a/"},
        {RFC_BASE, "../../g", "http://a/g"},
    };
    check_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

/* RFC 3986 §5.4.2 */
static void test_rfc_abnormal(void **state)
{
    static const resolve_case cases[] = {
        {RFC_BASE, "../../../g", "http://a/g"},
        {RFC_BASE, "../../../../g", "http://a/g"},
        {RFC_BASE, "/./g", "http://a/g"},
        {RFC_BASE, "/../g", "http://a/g"},
        {RFC_BASE, "g.", "http://a/b/c/g."},
        {RFC_BASE, ".g", "http://a/b/c/.g"},
        {RFC_BASE, "g..", "http://a/b/c/g.."},
        {RFC_BASE, "..g", "http://a/b/c/..g"},
        {RFC_BASE, "./../g", "http://a/b/g"},
        {RFC_BASE, "./g/.", "http://a/b/c/g/"},
        {RFC_BASE, "g/./h", "http://a/b/c/g/h"},
        {RFC_BASE, "g/../h", "http://a/b/c/h"},
        {RFC_BASE, "g;x=1/./y", "http://a/b/c/g;x=1/y"},
        {RFC_BASE, "g;x=1/../y", "http://a/b/c/y"},
        {RFC_BASE, "g?y/./x", "http://a/b/c/g?y/./x"},
        {RFC_BASE, "g?y/../x", "http://a/b/c/g?y/../x"},
        {RFC_BASE, "g#s/./x", "http://a/b/c/g#s/./x"},
        {RFC_BASE, "g#s/../x", "http://a/b/c/g#s/../x"},
        {RFC_BASE, "http:g", "http:g"},
    };
    check_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_playlist_shapes(void **state)
{
    static const char *const cdn = "https://cdn.example.com/p/1/sp/100/playManifest/a.m3u8?ks=K";
    static const resolve_case cases[] = {
        /* absolute: untouched, whatever the base */
        {cdn, "https://other.example.com/x/seg.ts", "https://other.example.com/x/seg.ts"},
        {cdn, "skd://key-id-1", "skd://key-id-1"},
        /* network-path: the base's scheme */
        {cdn, "//edge.example.com/seg.ts?t=1", "https://edge.example.com/seg.ts?t=1"},
        {"http://a/b", "//g/h", "http://g/h"},
        /* absolute-path: the base's authority, port included */
        {cdn, "/abs/seg.ts", "https://cdn.example.com/abs/seg.ts"},
        {"http://u@h:8080/x/y", "/z", "http://u@h:8080/z"},
        /* relative: the base's query is not carried over */
        {cdn, "seg-1.ts", "https://cdn.example.com/p/1/sp/100/playManifest/seg-1.ts"},
        {cdn, "./v/index.m3u8", "https://cdn.example.com/p/1/sp/100/playManifest/v/index.m3u8"},
        {cdn, "../../k.bin", "https://cdn.example.com/p/1/sp/k.bin"},
        {cdn, "seg.ts?token=2", "https://cdn.example.com/p/1/sp/100/playManifest/seg.ts?token=2"},
        {cdn, "a/../../b/./c.ts?q=../x", "https://cdn.example.com/p/1/sp/100/b/c.ts?q=../x"},
        /* query-only: replaces the base's query; fragment-only keeps it */
        {cdn, "?ks=L", "https://cdn.example.com/p/1/sp/100/playManifest/a.m3u8?ks=L"},
        {cdn, "#t=10", "https://cdn.example.com/p/1/sp/100/playManifest/a.m3u8?ks=K#t=10"},
        {"http://a/b/c#frag", "#x", "http://a/b/c#x"},
        {"http://a/b/c#frag", "", "http://a/b/c"},
        {"http://a/b/c?q#frag", "", "http://a/b/c?q"},
        {"http://a/b/c#frag", "?y", "http://a/b/c?y"},
        {"http://a/b/c?q#frag", "g", "http://a/b/g"},
        /* a base without a path */
        {"http://a", "g", "http://a/g"},
        {"http://a", "../g", "http://a/g"},
        {"http://a", "?x=1", "http://a?x=1"},
        {"http://a?q=1", "g", "http://a/g"},
        {"http://a#f", "g", "http://a/g"},
        {"https://h:8443", "/x", "https://h:8443/x"},
        /* a base whose path ends with a slash */
        {"http://a/dir/", "g", "http://a/dir/g"},
        {"http://a/dir/", "..", "http://a/"},
        /* file URLs (empty authority) */
        {"file:///srv/media/master.m3u8", "v/1.ts", "file:///srv/media/v/1.ts"},
        {"file:///srv/media/master.m3u8", "/etc/x", "file:///etc/x"},
    };
    check_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_degenerate(void **state)
{
    /* without a usable base the reference comes back unchanged */
    static const resolve_case cases[] = {
        {NULL, "seg.ts", "seg.ts"},
        {NULL, "../x", "../x"},
        {"master.m3u8", "seg.ts", "seg.ts"},
        {"/local/dir/master.m3u8", "seg.ts", "seg.ts"},
        {"", "g", "g"},
    };
    check_cases(cases, sizeof(cases) / sizeof(cases[0]));
    assert_null(kp_url_resolve("http://a/b", NULL));
    assert_null(kp_url_resolve(NULL, NULL));
}

static void test_has_scheme(void **state)
{
    assert_true(kp_url_has_scheme("http://x"));
    assert_true(kp_url_has_scheme("HTTPS://x"));
    assert_true(kp_url_has_scheme("skd://k"));
    assert_true(kp_url_has_scheme("a+b-c.d:rest"));
    assert_true(kp_url_has_scheme("g:h"));
    assert_false(kp_url_has_scheme("1http://x"));
    assert_false(kp_url_has_scheme("+a:b"));
    assert_false(kp_url_has_scheme(":x"));
    assert_false(kp_url_has_scheme("foo/bar:baz"));
    assert_false(kp_url_has_scheme("a_b:c"));
    assert_false(kp_url_has_scheme("nocolon"));
    assert_false(kp_url_has_scheme("./g:h"));
    assert_false(kp_url_has_scheme(""));
    assert_false(kp_url_has_scheme(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_normal),      cmocka_unit_test(test_rfc_abnormal),
        cmocka_unit_test(test_playlist_shapes), cmocka_unit_test(test_degenerate),
        cmocka_unit_test(test_has_scheme),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
