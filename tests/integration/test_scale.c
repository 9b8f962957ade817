/* test_scale.c: `kpsim run` at CI scale, with the real binary ($KPSIM_BIN): each scenario in
 * its own process (a crash becomes a failed case carrying its output, a hang is killed by the
 * wall-clock watchdog as TIMEOUT, and the run goes on with complete reports), --jobs gives the
 * same traces as one job, --retries records flaky outcomes in every format, --shard splits a
 * suite into disjoint parts that `kpsim merge` joins again, and every junit.xml validates
 * against reports/junit.xsd (xmllint). The crash and hang come from the test-only hooks
 * KPSIM_TEST_CRASH / KPSIM_TEST_HANG / KPSIM_TEST_FLAKY (hx/pool.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "kp/buf.h"
#include "kp/jsonu.h"
#include "kpsim_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char dir[256];

static const char scenario_fmt[] = "name: %s\n"
                                   "tags: [scale]\n"
                                   "timeout: %s\n"
                                   "backend:\n"
                                   "  entries:\n"
                                   "    - {id: 0_scl00001, duration: 4, renditions: [180p]}\n"
                                   "player:\n"
                                   "  config:\n"
                                   "    playback: {autoplay: true, muted: true}\n"
                                   "steps:\n"
                                   "  - load_media: {entry_id: 0_scl00001}\n"
                                   "  - wait_for: {event: ended}\n"
                                   "expect:\n"
                                   "  events:\n"
                                   "    sequence: [..., firstplaying, ..., ended, playbackended]\n"
                                   "  error: null\n";

/* Only the scenario that hangs gets a short wall-clock timeout: the others must not time out
 * on a loaded machine. */
static void write_scenario(const char *file, const char *name)
{
    const char *timeout = strstr(name, "hangs") ? "2s" : "60s";
    char *path = kp_asprintf("%s/%s", dir, file);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, scenario_fmt, name, timeout);
    fclose(f);
    free(path);
}

static int kpsim(const char *env, const char *args, kp_buf *out)
{
    char *cmd = kp_asprintf("cd '%s' && %s '%s' %s 2>&1", dir, env, test_kpsim_bin(), args);
    int code = test_run(cmd, out);
    free(cmd);
    return code;
}

static json_t *load_json(const char *rel)
{
    char *path = kp_asprintf("%s/%s", dir, rel);
    json_error_t e;
    json_t *v = json_load_file(path, 0, &e);
    if (!v)
        fail_msg("%s: %s", path, e.text);
    free(path);
    return v;
}

static char *read_text(const char *rel)
{
    char *path = kp_asprintf("%s/%s", dir, rel);
    kp_buf b;
    kp_buf_init(&b);
    if (kp_read_file(path, &b) != 0)
        fail_msg("cannot read %s", path);
    free(path);
    return kp_buf_steal(&b);
}

/* xmllint against the committed schema. */
static void assert_junit_valid(const char *rel)
{
    const char *src = getenv("KPSIM_SOURCE_DIR");
    assert_non_null(src);
    char *cmd =
        kp_asprintf("xmllint --noout --schema '%s/reports/junit.xsd' '%s/%s' 2>&1", src, dir, rel);
    kp_buf out;
    kp_buf_init(&out);
    int code = test_run(cmd, &out);
    if (code != 0)
        fail_msg("%s does not validate: %s", rel, out.data);
    kp_buf_free(&out);
    free(cmd);
}

static const json_t *by_name(const json_t *results, const char *name)
{
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(results, "scenarios"), i, s)
    {
        if (strcmp(kp_json_str(s, "name", ""), name) == 0)
            return s;
    }
    fail_msg("no result for '%s'", name);
    return NULL;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/kpsim-scale-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char *p = kp_asprintf("%s/suite", dir);
    assert_int_equal(kp_mkdirs(p), 0);
    free(p);
    write_scenario("suite/a.yaml", "alpha plays");
    write_scenario("suite/b.yaml", "bravo crashes");
    write_scenario("suite/c.yaml", "charlie hangs");
    write_scenario("suite/d.yaml", "delta is flaky");
    write_scenario("suite/e.yaml", "echo plays");
    return 0;
}

static int teardown(void **state)
{
    char *cmd = kp_asprintf("rm -rf '%s'", dir);
    int rc = system(cmd);
    free(cmd);
    return rc;
}

#define HOOKS                                                           \
    "KPSIM_TEST_CRASH='bravo crashes' KPSIM_TEST_HANG='charlie hangs' " \
    "KPSIM_TEST_FLAKY='delta is flaky'"

/* A crash and a hang among passing scenarios: both become failed cases with the child's
 * output, the others pass, every report is complete and valid. */
static void test_crash_and_hang_are_isolated(void **state)
{
    kp_buf out;
    kp_buf_init(&out);
    double t0 = now_s();
    int code = kpsim(HOOKS, "run suite --jobs 2 --report-dir iso", &out);
    double took = now_s() - t0;
    assert_int_equal(code, 1);
    /* the hang is killed after its 2 s timeout (+1 s grace), not after the default 60 s */
    assert_true(took < 45.0);
    assert_non_null(strstr(out.data, "TIMEOUT charlie hangs"));
    json_t *r = load_json("iso/results.json");
    assert_int_equal(kp_json_int(r, "summary.total", 0), 5);
    assert_string_equal(kp_json_str(by_name(r, "alpha plays"), "status", ""), "passed");
    assert_string_equal(kp_json_str(by_name(r, "echo plays"), "status", ""), "passed");
    const json_t *b = by_name(r, "bravo crashes");
    assert_string_equal(kp_json_str(b, "status", ""), "failed");
    assert_non_null(strstr(kp_json_str(b, "failures.0.message", ""), "killed by signal 11"));
    assert_non_null(strstr(kp_json_str(b, "output", ""), "crashes on purpose"));
    const json_t *c = by_name(r, "charlie hangs");
    assert_string_equal(kp_json_str(c, "status", ""), "timeout");
    assert_non_null(strstr(kp_json_str(c, "failures.0.message", ""), "watchdog"));
    assert_non_null(strstr(kp_json_str(c, "output", ""), "hangs on purpose"));
    /* without retries the flaky hook fails the only attempt */
    assert_string_equal(kp_json_str(by_name(r, "delta is flaky"), "status", ""), "failed");
    json_decref(r);
    assert_junit_valid("iso/junit.xml");
    char *junit = read_text("iso/junit.xml");
    assert_non_null(strstr(junit, "<error type=\"timeout\""));
    assert_non_null(strstr(junit, "crashes on purpose"));
    free(junit);
    char *tap = read_text("iso/results.tap");
    assert_true(kp_str_starts(tap, "TAP version 14\n1..5\n"));
    assert_non_null(strstr(tap, "ok 1 - alpha plays\n"));
    assert_non_null(strstr(tap, "not ok 2 - bravo crashes\n  ---\n"));
    assert_non_null(strstr(tap, "not ok 3 - charlie hangs\n"));
    free(tap);
    char *html = read_text("iso/report.html");
    assert_non_null(strstr(html, "charlie hangs"));
    assert_non_null(strstr(html, "<svg"));
    free(html);
    /* the children's work files are gone */
    assert_int_equal(kpsim("",
                           "run suite/a.yaml --report-dir iso2 >/dev/null; ls -A iso2 | "
                           "grep -c work",
                           &out),
                     1);
    kp_buf_free(&out);
}

/* --retries: a scenario that fails once then passes is flaky (exit 0), recorded as such in
 * results.json, JUnit (flakyFailure), TAP and HTML; one that fails every time carries a
 * rerunFailure per earlier attempt. */
static void test_retries_and_flaky(void **state)
{
    kp_buf out;
    kp_buf_init(&out);
    assert_int_equal(
        kpsim(HOOKS, "run suite/d.yaml suite/a.yaml --retries 2 --report-dir fl", &out), 0);
    assert_non_null(strstr(out.data, "FLAKY   delta is flaky"));
    json_t *r = load_json("fl/results.json");
    const json_t *d = by_name(r, "delta is flaky");
    assert_string_equal(kp_json_str(d, "status", ""), "passed");
    assert_true(kp_json_bool(d, "flaky", false));
    assert_int_equal(kp_json_int(d, "attempts", 0), 2);
    assert_int_equal(kp_json_int(r, "summary.flaky", 0), 1);
    assert_false(kp_json_bool(by_name(r, "alpha plays"), "flaky", true));
    json_decref(r);
    assert_junit_valid("fl/junit.xml");
    char *junit = read_text("fl/junit.xml");
    assert_non_null(strstr(junit, "<flakyFailure type=\"failed\""));
    assert_null(strstr(junit, "<failure"));
    free(junit);
    char *tap = read_text("fl/results.tap");
    assert_non_null(strstr(tap, "ok 1 - delta is flaky\n  ---\n  status: \"flaky\""));
    free(tap);

    assert_int_equal(kpsim(HOOKS, "run suite/b.yaml --retries 2 --report-dir rr", &out), 1);
    r = load_json("rr/results.json");
    assert_int_equal(kp_json_int(by_name(r, "bravo crashes"), "attempts", 0), 3);
    json_decref(r);
    assert_junit_valid("rr/junit.xml");
    junit = read_text("rr/junit.xml");
    const char *p = strstr(junit, "<rerunFailure");
    assert_non_null(p);
    assert_non_null(strstr(p + 1, "<rerunFailure"));
    free(junit);
    kp_buf_free(&out);
}

/* Two jobs record the same traces, byte for byte, as one. */
static void test_jobs_same_traces(void **state)
{
    kp_buf out;
    kp_buf_init(&out);
    assert_int_equal(kpsim("", "run suite/a.yaml suite/e.yaml --report-dir j1", &out), 0);
    assert_int_equal(kpsim("", "run suite/a.yaml suite/e.yaml --jobs 2 --report-dir j2", &out), 0);
    const char *traces[] = {"alpha_plays", "echo_plays"};
    for (size_t i = 0; i < 2; i++) {
        char *a = kp_asprintf("j1/traces/%s.events.jsonl", traces[i]);
        char *b = kp_asprintf("j2/traces/%s.events.jsonl", traces[i]);
        char *ta = read_text(a), *tb = read_text(b);
        assert_true(strlen(ta) > 100);
        assert_string_equal(ta, tb);
        free(ta);
        free(tb);
        free(a);
        free(b);
    }
    kp_buf_free(&out);
}

/* --shard: bad specs are command-line errors (exit 2) naming the argument; 1/2 and 2/2 are
 * disjoint and cover the suite; `kpsim merge` joins them into one valid report. */
static void test_shard_and_merge(void **state)
{
    kp_buf out;
    kp_buf_init(&out);
    const char *bad[] = {"3/2", "0/2", "a/b", "1/0", "2", "1/2x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        char *args = kp_asprintf("run suite --shard %s --report-dir bad", bad[i]);
        assert_int_equal(kpsim("", args, &out), 2);
        char *want = kp_asprintf("argument 3: --shard '%s': ", bad[i]);
        if (!strstr(out.data, want))
            fail_msg("for --shard %s: %s", bad[i], out.data);
        free(want);
        free(args);
    }
    /* the crash keeps its hook: shard results carry failures through the merge */
    int c1 = kpsim(HOOKS,
                   "run suite/a.yaml suite/b.yaml suite/e.yaml --shard 1/2 --report-dir "
                   "sh1",
                   &out);
    int c2 = kpsim(HOOKS,
                   "run suite/a.yaml suite/b.yaml suite/e.yaml --shard 2/2 --report-dir "
                   "sh2",
                   &out);
    json_t *r1 = load_json("sh1/results.json"), *r2 = load_json("sh2/results.json");
    size_t n1 = (size_t)kp_json_int(r1, "summary.total", -1);
    size_t n2 = (size_t)kp_json_int(r2, "summary.total", -1);
    assert_int_equal(n1 + n2, 3);
    assert_true(n1 >= 1 && n2 >= 1);
    /* sorted by name, every 2nd: alpha and echo in 1/2, bravo in 2/2 */
    by_name(r1, "alpha plays");
    by_name(r1, "echo plays");
    by_name(r2, "bravo crashes");
    assert_int_equal(c1, 0);
    assert_int_equal(c2, 1);
    json_decref(r1);
    json_decref(r2);
    assert_int_equal(kpsim("", "merge merged sh1 sh2", &out), 1);
    json_t *m = load_json("merged/results.json");
    assert_int_equal(kp_json_int(m, "summary.total", 0), 3);
    assert_int_equal(kp_json_int(m, "summary.failed", 0), 1);
    const json_t *a = by_name(m, "alpha plays");
    assert_true(kp_json_int(a, "events", 0) > 10);
    json_decref(m);
    char *t1 = read_text("sh1/traces/alpha_plays.events.jsonl");
    char *t2 = read_text("merged/traces/alpha_plays.events.jsonl");
    assert_string_equal(t1, t2);
    free(t1);
    free(t2);
    assert_junit_valid("merged/junit.xml");
    char *tap = read_text("merged/results.tap");
    assert_true(kp_str_starts(tap, "TAP version 14\n1..3\n"));
    free(tap);
    char *html = read_text("merged/report.html");
    assert_non_null(strstr(html, "bravo crashes"));
    assert_non_null(strstr(html, "crashes on purpose"));
    free(html);
    /* a folder without results.json is an error */
    assert_int_equal(kpsim("", "merge merged2 suite", &out), 2);
    assert_non_null(strstr(out.data, "suite/results.json"));
    kp_buf_free(&out);
}

/* --tap - writes the TAP stream alone on stdout. */
static void test_tap_stdout(void **state)
{
    kp_buf out;
    kp_buf_init(&out);
    char *cmd = kp_asprintf("cd '%s' && '%s' run suite/a.yaml --tap - --report-dir tp", dir,
                            test_kpsim_bin());
    assert_int_equal(test_run(cmd, &out), 0);
    assert_string_equal(out.data, "TAP version 14\n1..1\nok 1 - alpha plays\n");
    free(cmd);
    kp_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_and_hang_are_isolated),
        cmocka_unit_test(test_retries_and_flaky),
        cmocka_unit_test(test_jobs_same_traces),
        cmocka_unit_test(test_shard_and_merge),
        cmocka_unit_test(test_tap_stdout),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
