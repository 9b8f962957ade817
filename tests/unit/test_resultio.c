/* test_resultio.c: results as JSON and back (hx/resultio.h), and a report directory written
 * by hx_report_write read back by hx_report_load (what `kpsim merge` does): every field a
 * reporter uses survives, unknown statuses and broken files give precise errors. */
#include "hx/report.h"
#include "hx/resultio.h"

#include "kp/buf.h"
#include "kp/err.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>

#include <cmocka.h>

/* A flaky result with a failure table, steps, a trace, journals and an earlier attempt. */
static void sample(hx_result *r)
{
    memset(r, 0, sizeof(*r));
    r->file = kp_strdup("suite/a b.yaml");
    r->name = kp_strdup("a <b> & \"c\"");
    r->classname = kp_strdup("suite");
    r->status = HX_PASSED;
    r->wall_ms = 12.5;
    r->virtual_ms = 4520;
    r->trace = json_pack("[{s:i, s:i, s:f, s:s, s:{}}, {s:i, s:i, s:f, s:s, s:{s:s}}]", "seq", 1,
                         "t", 0, "pos", 0.0, "type", "loadstart", "payload", "seq", 2, "t", 20,
                         "pos", 0.25, "type", "error", "payload", "x", "y");
    r->journal =
        json_pack("[{s:s, s:s, s:i}]", "server", "cdn", "path", "/seg-1.ts", "status", 200);
    r->steps = calloc(1, sizeof(*r->steps));
    r->steps[0] = (hx_step_info){.first_event = 0, .end_event = 2, .t_start_ms = 0, .ran = true};
    r->n_steps = 1;
    r->failures = calloc(1, sizeof(*r->failures));
    r->failures[0] = (hx_failure){.message = kp_strdup("suite/a b.yaml:3:4: mismatch"),
                                  .detail = kp_strdup("expected | recorded\n"),
                                  .loc = {3, 4}};
    r->n_failures = 1;
    r->attempts = 2;
    r->flaky = true;
    r->earlier = calloc(1, sizeof(*r->earlier));
    r->earlier[0] = (hx_attempt){.status = HX_TIMEOUT,
                                 .message = kp_strdup("killed by the watchdog"),
                                 .output = kp_strdup("stuck\n")};
    r->n_earlier = 1;
    r->peak_rss_kb = 31000;
}

static void assert_same(const hx_result *a, const hx_result *b, bool with_trace)
{
    assert_string_equal(a->name, b->name);
    assert_string_equal(a->file, b->file);
    assert_string_equal(a->classname, b->classname);
    assert_int_equal(a->status, b->status);
    assert_int_equal(a->virtual_ms, b->virtual_ms);
    assert_true(b->wall_ms > 12.4 && b->wall_ms < 12.6);
    assert_int_equal(a->attempts, b->attempts);
    assert_int_equal(a->flaky, b->flaky);
    assert_int_equal(a->peak_rss_kb, b->peak_rss_kb);
    assert_int_equal(b->n_failures, 1);
    assert_string_equal(a->failures[0].message, b->failures[0].message);
    assert_string_equal(a->failures[0].detail, b->failures[0].detail);
    assert_int_equal(b->failures[0].loc.line, 3);
    assert_int_equal(b->failures[0].loc.col, 4);
    assert_int_equal(b->n_steps, 1);
    assert_int_equal(b->steps[0].end_event, 2);
    assert_true(b->steps[0].ran);
    assert_int_equal(b->n_earlier, 1);
    assert_int_equal(b->earlier[0].status, HX_TIMEOUT);
    assert_string_equal(b->earlier[0].output, "stuck\n");
    if (with_trace) {
        assert_true(json_equal(a->trace, b->trace));
        assert_true(json_equal(a->journal, b->journal));
    }
}

static void test_json_round_trip(void **state)
{
    hx_result a, b;
    sample(&a);
    json_t *j = hx_result_to_json(&a, true);
    assert_non_null(j);
    char err[256] = "";
    assert_int_equal(hx_result_from_json(j, &b, err, sizeof(err)), KP_OK);
    assert_same(&a, &b, true);
    hx_result_free(&b);
    /* without inline data: no trace */
    json_decref(j);
    j = hx_result_to_json(&a, false);
    assert_null(json_object_get(j, "trace_events"));
    json_decref(j);
    hx_result_free(&a);
}

static void test_bad_results(void **state)
{
    hx_result r;
    char err[256] = "";
    json_t *j = json_pack("{s:s, s:s}", "name", "x", "status", "exploded");
    assert_int_equal(hx_result_from_json(j, &r, err, sizeof(err)), KP_EPARSE);
    assert_non_null(strstr(err, "exploded"));
    json_decref(j);
    j = json_string("x");
    assert_int_equal(hx_result_from_json(j, &r, err, sizeof(err)), KP_EPARSE);
    json_decref(j);
    assert_int_equal(hx_status_parse("timeout"), HX_TIMEOUT);
    assert_int_equal(hx_status_parse("invalid"), HX_INVALID);
    assert_int_equal(hx_status_parse("nope"), -1);
}

static void test_report_round_trip(void **state)
{
    char dir[] = "/tmp/kpsim-resultio-XXXXXX";
    assert_non_null(mkdtemp(dir));
    hx_result rs[2];
    sample(&rs[0]);
    memset(&rs[1], 0, sizeof(rs[1]));
    rs[1].file = kp_strdup("suite/bad.yaml");
    rs[1].name = kp_strdup("bad.yaml");
    rs[1].classname = kp_strdup("suite");
    rs[1].status = HX_INVALID;
    rs[1].diagnostics = calloc(1, sizeof(char *));
    rs[1].diagnostics[0] = kp_strdup("suite/bad.yaml:1:7: unknown key");
    rs[1].n_diagnostics = 1;
    char err[512] = "";
    assert_int_equal(hx_report_write(dir, rs, 2, 100.0, err, sizeof(err)), KP_OK);
    hx_result *back = NULL;
    size_t n = 0;
    double wall = 0;
    assert_int_equal(hx_report_load(dir, &back, &n, &wall, err, sizeof(err)), KP_OK);
    assert_int_equal(n, 2);
    assert_true(wall > 99.9 && wall < 100.1);
    assert_same(&rs[0], &back[0], true);
    assert_int_equal(back[1].status, HX_INVALID);
    assert_string_equal(back[1].diagnostics[0], "suite/bad.yaml:1:7: unknown key");
    for (size_t i = 0; i < n; i++)
        hx_result_free(&back[i]);
    free(back);
    /* a missing trace file is named */
    char *cmd = kp_asprintf("rm '%s'/traces/*.events.jsonl", dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    assert_int_equal(hx_report_load(dir, &back, &n, &wall, err, sizeof(err)), KP_EIO);
    assert_non_null(strstr(err, "events.jsonl"));
    /* a results.json that is not one */
    char *p = kp_asprintf("%s/results.json", dir);
    assert_int_equal(kp_write_file_atomic(p, "{\"format\": 1}", 13), KP_OK);
    free(p);
    assert_int_equal(hx_report_load(dir, &back, &n, &wall, err, sizeof(err)), KP_EPARSE);
    assert_non_null(strstr(err, "not a kpsim results file"));
    p = kp_asprintf("%s/results.json", dir);
    assert_int_equal(kp_write_file_atomic(p, "{\"format\": ", 11), KP_OK);
    free(p);
    assert_int_equal(hx_report_load(dir, &back, &n, &wall, err, sizeof(err)), KP_EIO);
    assert_non_null(strstr(err, "results.json:1:"));
    hx_result_free(&rs[0]);
    hx_result_free(&rs[1]);
    cmd = kp_asprintf("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_bad_results),
        cmocka_unit_test(test_report_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
