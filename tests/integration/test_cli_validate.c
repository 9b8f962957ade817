/* test_cli_validate.c: `kpsim validate`, `kpsim list` and the selection on `kpsim run`, run as
 * a user runs them (the real binary, $KPSIM_BIN), on tests/data/scenarios/compose/ and the
 * bundled suite: located errors with exit 2 for include cycles, missing include files and
 * duplicate variant names; exit 0 for the bundled suite; list output and selection. */
#include "kp/buf.h"
#include "kpsim_run.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static int group_setup(void **state)
{
    const char *dir = getenv("KPSIM_SOURCE_DIR");
    if (!dir || chdir(dir) != 0) {
        fprintf(stderr, "KPSIM_SOURCE_DIR is not set or not a directory\n");
        return -1;
    }
    return 0;
}

static int run(kp_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run(kp_buf *out, const char *fmt, ...)
{
    char args[1024], cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof(cmd), "%s %s 2>&1", test_kpsim_bin(), args);
    return test_run(cmd, out);
}

static void expect_line(const kp_buf *out, const char *line)
{
    if (!strstr(out->data, line))
        fprintf(stderr, "-- missing: %s\n-- output:\n%s\n", line, out->data);
    assert_non_null(strstr(out->data, line));
}

static void test_validate_bundled_suite(void **state)
{
    kp_buf out;
    kp_buf_init(&out);
    assert_int_equal(run(&out, "validate scenarios tests/data/scenarios/good"), 0);
    expect_line(&out, "all valid");
    kp_buf_free(&out);
}

static void test_validate_located_errors(void **state)
{
    kp_buf out;
    kp_buf_init(&out);
    const char *d = "tests/data/scenarios/compose";
    assert_int_equal(run(&out, "validate %s/cycle_a.yaml %s/missing.yaml %s/typo.yaml", d, d, d),
                     2);
    expect_line(&out, "tests/data/scenarios/compose/cycle_b.yaml:2:11: include cycle: "
                      "tests/data/scenarios/compose/cycle_a.yaml -> "
                      "tests/data/scenarios/compose/cycle_b.yaml -> "
                      "tests/data/scenarios/compose/cycle_a.yaml\n");
    expect_line(&out, "tests/data/scenarios/compose/missing.yaml:5:5: include: cannot read "
                      "'fixtures/nope.yaml'");
    expect_line(&out, "tests/data/scenarios/compose/fixtures/typo.yaml:3:20: unknown key "
                      "'durration'");
    expect_line(&out, "kpsim validate: 3 of 3 files invalid");
    kp_buf_free(&out);
}

static void test_validate_duplicate_variant_names(void **state)
{
    char dir[] = "/tmp/kpsim-validate-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/dup.yaml", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("name: dup ${p}\nmatrix:\n  p: [chrome, safari]\n  q: [hls, dash]\nsteps: [play]\n", f);
    fclose(f);
    kp_buf out;
    kp_buf_init(&out);
    assert_int_equal(run(&out, "validate %s", dir), 2);
    char want[512];
    snprintf(want, sizeof(want),
             "%s:2:1: matrix: variants 'chrome-hls' and 'chrome-dash' are both named 'dup "
             "chrome'",
             path);
    expect_line(&out, want);
    /* the same scenario name in two files of a suite */
    assert_int_equal(run(&out, "validate tests/data/scenarios/good/minimal.yaml "
                               "tests/data/scenarios/good/minimal.yaml"),
                     2);
    expect_line(&out, "tests/data/scenarios/good/minimal.yaml:1:1: name '");
    kp_buf_free(&out);
    unlink(path);
    rmdir(dir);
}

static void test_list_and_selection(void **state)
{
    kp_buf out;
    kp_buf_init(&out);
    assert_int_equal(run(&out, "list --tag matrix --skip-tag autoplay scenarios"), 0);
    expect_line(&out, "Plays to the end on chrome with hls first\t"
                      "scenarios/matrix/plays-to-end.yaml\tplayback,matrix\n");
    assert_null(strstr(out.data, "Muted autoplay")); /* skipped by its tag */
    size_t lines = 0;
    for (const char *p = out.data; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 6);
    assert_int_equal(run(&out, "list --filter '*android' scenarios/matrix"), 0);
    assert_string_equal(out.data, "Muted autoplay starts playback/android\t"
                                  "scenarios/matrix/muted-autoplay-variants.yaml\t"
                                  "playback,autoplay,matrix\n");
    assert_int_equal(run(&out, "list --tag"), 2);
    expect_line(&out, "kpsim list: --tag needs a value (a tag name)");
    assert_int_equal(run(&out, "run --report-dir /tmp/kpsim-sel-none --filter 'no such*' "
                               "scenarios/matrix"),
                     2);
    expect_line(&out, "no scenario matches the selection");
    kp_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate_bundled_suite),
        cmocka_unit_test(test_validate_located_errors),
        cmocka_unit_test(test_validate_duplicate_variant_names),
        cmocka_unit_test(test_list_and_selection),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
