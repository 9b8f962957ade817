/* test_compose.c: include:, matrix: and variants: (scenario_compose.c, hx/scenario.h) and the
 * selection of select.h. Files live in tests/data/scenarios/compose/; the group setup changes
 * into $KPSIM_TEST_DATA so that the paths in messages are short and stable.
 */
#include "hx/scenario.h"
#include "hx/select.h"
#include "kp/err.h"
#include "kp/jsonu.h"

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
    const char *dir = getenv("KPSIM_TEST_DATA");
    if (!dir || chdir(dir) != 0) {
        fprintf(stderr, "KPSIM_TEST_DATA is not set or not a directory\n");
        return -1;
    }
    return 0;
}

/* Loads path (or text when given) and expects exactly the messages in want. */
static void expect_diags(const char *path, const char *text, const char *const *want)
{
    hx_scenario **v = NULL;
    size_t n = 0;
    hx_diag d = {0};
    int rc = text ? hx_scenario_load_variants_buffer(path, text, strlen(text), &v, &n, &d)
                  : hx_scenario_load_variants(path, &v, &n, &d);
    size_t nw = 0;
    while (want[nw])
        nw++;
    bool same = rc == KP_EPARSE && !v && d.n == nw;
    for (size_t i = 0; same && i < nw; i++)
        same = strcmp(d.msgs[i], want[i]) == 0;
    if (!same) {
        fprintf(stderr, "-- %s: rc %d, %zu message(s):\n", path, rc, d.n);
        for (size_t i = 0; i < d.n; i++)
            fprintf(stderr, "   %s\n", d.msgs[i]);
    }
    assert_true(same);
    hx_diag_free(&d);
}

static hx_scenario **load_ok(const char *path, const char *text, size_t *n)
{
    hx_scenario **v = NULL;
    hx_diag d = {0};
    int rc = text ? hx_scenario_load_variants_buffer(path, text, strlen(text), &v, n, &d)
                  : hx_scenario_load_variants(path, &v, n, &d);
    for (size_t i = 0; i < d.n; i++)
        fprintf(stderr, "   %s\n", d.msgs[i]);
    assert_int_equal(rc, KP_OK);
    assert_int_equal(d.n, 0);
    hx_diag_free(&d);
    return v;
}

/* Fixtures merge under the file: lists joined (fixture items first, nested fixtures first
 * of all), mappings merged key by key, the file's own values win. */
static void test_include_merges(void **state)
{
    size_t n = 0;
    hx_scenario **v = load_ok("scenarios/compose/main.yaml", NULL, &n);
    assert_int_equal(n, 1);
    hx_scenario *s = v[0];
    assert_null(s->variant);
    assert_int_equal(s->backend.n_entries, 3);
    assert_string_equal(s->backend.entries[0].id, "0_fixture1");
    assert_true(s->backend.entries[0].duration == 20);
    assert_string_equal(s->backend.entries[1].id, "0_fixture2");
    assert_string_equal(s->backend.entries[2].id, "0_own");
    assert_int_equal(s->backend.partner_id, 222);       /* the file's scalar wins */
    assert_string_equal(s->player.platform, "firefox"); /* from the nested fixture */
    assert_true(kp_json_bool(s->player.config, "playback.autoplay", false));
    assert_false(kp_json_bool(s->player.config, "playback.muted", true));
    assert_int_equal(s->n_includes, 2);
    assert_string_equal(s->includes[0], "scenarios/compose/fixtures/nested.yaml");
    assert_string_equal(s->includes[1], "scenarios/compose/fixtures/entries.yaml");
    hx_scenarios_free(v, n);
}

static void test_include_problem_located_in_fixture(void **state)
{
    static const char *const want[] = {
        "scenarios/compose/fixtures/typo.yaml:3:20: unknown key 'durration' in "
        "backend.entries[0] (did you mean 'duration'?)",
        NULL};
    expect_diags("scenarios/compose/typo.yaml", NULL, want);
}

static void test_include_cycle(void **state)
{
    static const char *const want[] = {
        "scenarios/compose/cycle_b.yaml:2:11: include cycle: scenarios/compose/cycle_a.yaml -> "
        "scenarios/compose/cycle_b.yaml -> scenarios/compose/cycle_a.yaml",
        NULL};
    expect_diags("scenarios/compose/cycle_a.yaml", NULL, want);
}

static void test_include_missing(void **state)
{
    static const char *const want[] = {
        "scenarios/compose/missing.yaml:5:5: include: cannot read 'fixtures/nope.yaml' "
        "(scenarios/compose/fixtures/nope.yaml): No such file or directory",
        NULL};
    expect_diags("scenarios/compose/missing.yaml", NULL, want);
}

static void test_include_refused_from_memory(void **state)
{
    static const char *const want[] = {
        "mem.yaml:1:1: include: needs a scenario file on disk (not available here)", NULL};
    expect_diags("mem.yaml", "include: [x.yaml]\nname: m\nsteps: [play]\n", want);
}

static void test_matrix_expands(void **state)
{
    static const char text[] =
        "name: bw ${platform}\n"
        "tags: [m]\n"
        "matrix: {platform: [chrome, safari], bw: [500000, 8mbps]}\n"
        "player: {platform: \"${platform}\", network: {bandwidth: \"${bw}\"}}\n"
        "steps: [play]\n";
    /* two variants per name: the name leaves out bw */
    static const char *const want[] = {
        "m.yaml:3:1: matrix: variants 'chrome-500000' and 'chrome-8mbps' are both named 'bw "
        "chrome' (each variant needs its own name: use every axis in a ${...} name, or none)",
        "m.yaml:3:1: matrix: variants 'safari-500000' and 'safari-8mbps' are both named 'bw "
        "safari' (each variant needs its own name: use every axis in a ${...} name, or none)",
        NULL};
    expect_diags("m.yaml", text, want);

    static const char ok[] =
        "name: plays\n"
        "matrix: {platform: [chrome, safari], bw: [500000, 8mbps]}\n"
        "player: {platform: \"${platform}\", network: {bandwidth: \"${bw}\"}}\n"
        "steps: [play]\n";
    size_t n = 0;
    hx_scenario **v = load_ok("m.yaml", ok, &n);
    assert_int_equal(n, 4);
    static const char *const names[] = {"plays/chrome-500000", "plays/chrome-8mbps",
                                        "plays/safari-500000", "plays/safari-8mbps"};
    static const long long bw[] = {500000, 8000000, 500000, 8000000};
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(v[i]->name, names[i]);
        assert_string_equal(v[i]->player.platform, i < 2 ? "chrome" : "safari");
        assert_int_equal(v[i]->player.bandwidth_bps, bw[i]);
    }
    assert_string_equal(v[3]->variant, "safari-8mbps");
    hx_scenarios_free(v, n);
}

static void test_matrix_bad(void **state)
{
    static const char *const unknown[] = {
        "m.yaml:3:20: unknown matrix axis 'platfrom' in '${platfrom}' (the axes are platform)",
        NULL};
    expect_diags("m.yaml",
                 "name: x\nmatrix: {platform: [chrome]}\nplayer: {platform: "
                 "\"${platfrom}\"}\nsteps: [play]\n",
                 unknown);
    static const char *const shapes[] = {
        "m.yaml:2:13: matrix.a: expected a non-empty list of values",
        "m.yaml:2:24: matrix.b[1]: 'x' is listed twice", NULL};
    expect_diags("m.yaml", "name: x\nmatrix: {a: [], b: [x, x]}\nsteps: [play]\n", shapes);
    static const char *const both[] = {"m.yaml:3:1: give matrix or variants, not both", NULL};
    expect_diags("m.yaml", "name: x\nmatrix: {a: [1]}\nvariants: [{name: y}]\nsteps: [play]\n",
                 both);
    /* a problem of every variant is reported once; the first variant's come first (sorted),
     * then the ones only a later variant has */
    static const char *const once[] = {
        "m.yaml:4:9: steps[0]: unknown step 'paly' (did you mean 'play'?)",
        "m.yaml:3:20: player.platform: expected one of chrome, firefox, edge, safari, ios, "
        "android or smarttv, got 'opera'",
        NULL};
    expect_diags("m.yaml",
                 "name: x\nmatrix: {p: [chrome, opera]}\nplayer: {platform: \"${p}\"}\n"
                 "steps: [paly]\n",
                 once);
}

static void test_variants(void **state)
{
    static const char text[] = "name: v\n"
                               "player: {platform: chrome, config: {playback: {muted: true}}}\n"
                               "tags: [a, b]\n"
                               "variants:\n"
                               "  - {name: base}\n"
                               "  - {name: safari, player: {platform: safari}, tags: [c]}\n"
                               "steps: [play]\n";
    size_t n = 0;
    hx_scenario **v = load_ok("v.yaml", text, &n);
    assert_int_equal(n, 2);
    assert_string_equal(v[0]->name, "v/base");
    assert_string_equal(v[1]->name, "v/safari");
    assert_string_equal(v[1]->player.platform, "safari");
    assert_true(kp_json_bool(v[1]->player.config, "playback.muted", false)); /* merged */
    assert_int_equal(v[1]->n_tags, 1); /* a variant's list replaces the scenario's */
    assert_string_equal(v[1]->tags[0], "c");
    hx_scenarios_free(v, n);

    static const char *const dup[] = {
        "v.yaml:2:1: variants: the variants 1 and 2 are both named 'v/a' (give each its own "
        "name)",
        NULL};
    expect_diags("v.yaml", "name: v\nvariants: [{name: a}, {name: a}]\nsteps: [play]\n", dup);
    static const char *const bad[] = {
        "v.yaml:2:12: missing required key 'name' in variants[0]",
        "v.yaml:2:34: unknown key 'matrix' in variants[1] (a variant takes name, description, "
        "tags, timeout, backend, player, steps and expect)",
        NULL};
    expect_diags("v.yaml",
                 "name: v\nvariants: [{tags: []}, {name: b, matrix: {}}]\nsteps: "
                 "[play]\n",
                 bad);
}

static void test_single_scenario_api(void **state)
{
    hx_scenario *s = NULL;
    hx_diag d = {0};
    static const char text[] = "name: x\nmatrix: {a: [1, 2]}\nsteps: [play]\n";
    int rc = hx_scenario_load_buffer("m.yaml", text, strlen(text), &s, &d);
    assert_int_equal(rc, KP_EPARSE);
    assert_null(s);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.msgs[0], "m.yaml: the file gives 2 variants (matrix/variants): this "
                                   "command takes one scenario");
    hx_diag_free(&d);
}

static void test_select(void **state)
{
    hx_scenario s = {.name = "HLS plays", .tags = (char *[]){"hls", "smoke"}, .n_tags = 2};
    hx_select sel = {0};
    char *argv[] = {"--filter", "HLS*",       "--tag", "dash", "--tag",
                    "smoke",    "--skip-tag", "slow",  "--tag"};
    char err[128];
    int argc = 8;
    for (int i = 0; i < argc; i++)
        assert_int_equal(hx_select_arg(&sel, argc, argv, &i, err, sizeof(err)), 1);
    assert_true(hx_select_match(&sel, &s));
    s.name = "DASH plays";
    assert_false(hx_select_match(&sel, &s)); /* the filter */
    s.name = "HLS again";
    s.tags[1] = "slow";
    assert_false(hx_select_match(&sel, &s)); /* no --tag matches, and a skipped tag */
    int i = 8;
    assert_int_equal(hx_select_arg(&sel, 9, argv, &i, err, sizeof(err)), KP_EINVAL);
    assert_string_equal(err, "--tag needs a value (a tag name)");
    hx_select_free(&sel);
}

/* A folder gives its scenarios, not what is under fixtures/. */
static void test_collect_skips_fixtures(void **state)
{
    char *paths[] = {"scenarios/compose"};
    char **files = NULL, err[256];
    size_t n = 0;
    assert_int_equal(hx_collect_files(paths, 1, &files, &n, err, sizeof(err)), KP_OK);
    assert_int_equal(n, 5);
    assert_string_equal(files[0], "scenarios/compose/cycle_a.yaml");
    for (size_t i = 0; i < n; i++)
        assert_null(strstr(files[i], "fixtures"));
    hx_files_free(files, n);
    char *none[] = {"scenarios/compose/nope"};
    assert_int_equal(hx_collect_files(none, 1, &files, &n, err, sizeof(err)), KP_ENOENT);
    assert_string_equal(err, "scenarios/compose/nope: no such file or directory");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_include_merges),
        cmocka_unit_test(test_include_problem_located_in_fixture),
        cmocka_unit_test(test_include_cycle),
        cmocka_unit_test(test_include_missing),
        cmocka_unit_test(test_include_refused_from_memory),
        cmocka_unit_test(test_matrix_expands),
        cmocka_unit_test(test_matrix_bad),
        cmocka_unit_test(test_variants),
        cmocka_unit_test(test_single_scenario_api),
        cmocka_unit_test(test_select),
        cmocka_unit_test(test_collect_skips_fixtures),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
