/* test_cli.c: the kpsim command as CI and QA use it: exit codes, result files, bad scenarios
 * reported as file:line:column while the others still run, byte-identical traces across runs,
 * and the record → run round trip. Runs the real binary ($KPSIM_BIN). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http_client.h"
#include "kp/buf.h"
#include "kp/jsonu.h"
#include "kpsim_run.h"

#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[256];

static const char good[] = "name: good one\n"
                           "backend:\n"
                           "  entries:\n"
                           "    - {id: 0_cli00001, duration: 4, renditions: [180p]}\n"
                           "player:\n"
                           "  config:\n"
                           "    playback: {autoplay: true, muted: true}\n"
                           "steps:\n"
                           "  - load_media: {entry_id: 0_cli00001}\n"
                           "  - wait_for: {event: ended}\n"
                           "expect:\n"
                           "  events:\n"
                           "    sequence: [..., firstplaying, ..., ended, playbackended]\n"
                           "  error: null\n";

static const char failing[] = "name: failing one\n"
                              "backend:\n"
                              "  entries:\n"
                              "    - {id: 0_cli00001, duration: 4, renditions: [180p]}\n"
                              "player:\n"
                              "  config:\n"
                              "    playback: {autoplay: true, muted: true}\n"
                              "steps:\n"
                              "  - load_media: {entry_id: 0_cli00001}\n"
                              "  - wait_for: {event: firstplaying}\n"
                              "expect:\n"
                              "  events:\n"
                              "    sequence:\n"
                              "      - registeredpluginslistevent\n"
                              "      - sourceselected\n"
                              "      - ...\n";

static const char syntax[] = "name: broken\nsteps: [play\n";

static const char unknown_key[] = "name: typo\n"
                                  "steps:\n"
                                  "  - play\n"
                                  "expcet: {}\n";

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Runs kpsim with args; returns the exit code and captures stdout+stderr into out. */
static int kpsim(const char *args, kp_buf *out)
{
    char *cmd = kp_asprintf("cd '%s' && '%s' %s 2>&1", dir, test_kpsim_bin(), args);
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

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/kpsim-cli-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char *p = kp_asprintf("%s/suite", dir);
    assert_int_equal(kp_mkdirs(p), 0);
    free(p);
    const struct {
        const char *name, *text;
    } files[] = {{"suite/a-good.yaml", good},
                 {"suite/b-syntax.yaml", syntax},
                 {"suite/c-unknown-key.yaml", unknown_key},
                 {"suite/d-failing.yaml", failing}};
    for (size_t i = 0; i < 4; i++) {
        char *f = kp_asprintf("%s/%s", dir, files[i].name);
        write_text(f, files[i].text);
        free(f);
    }
    return 0;
}

static int teardown(void **state)
{
    char *cmd = kp_asprintf("rm -rf '%s'", dir);
    int rc = system(cmd);
    free(cmd);
    return rc;
}

static const json_t *scenario_by_file(const json_t *results, const char *suffix)
{
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(results, "scenarios"), i, s)
    {
        if (kp_str_ends(kp_json_str(s, "file", ""), suffix))
            return s;
    }
    fail_msg("no result for %s", suffix);
    return NULL;
}

static void test_suite_with_bad_scenarios(void **state)
{
    kp_buf out;
    kp_buf_init(&out);
    int code = kpsim("run suite --report-dir out", &out);
    /* invalid scenarios make the exit code 2, and the others still ran */
    assert_int_equal(code, 2);
    assert_non_null(strstr(out.data, "suite/b-syntax.yaml:3:1: YAML syntax error: did not find "
                                     "expected ',' or ']'"));
    assert_non_null(strstr(
        out.data, "suite/c-unknown-key.yaml:4:1: unknown top-level key 'expcet' (did you mean "
                  "'expect'?)"));
    assert_non_null(strstr(out.data, "PASS    good one"));
    assert_non_null(strstr(out.data, "FAIL    failing one"));
    assert_non_null(strstr(out.data, "suite/d-failing.yaml:15:9: expect.events.sequence[1]: "
                                     "expected sourceselected, recorded changesourcestarted"));

    json_t *res = load_json("out/results.json");
    assert_int_equal(kp_json_int(res, "summary.total", -1), 4);
    assert_int_equal(kp_json_int(res, "summary.passed", -1), 1);
    assert_int_equal(kp_json_int(res, "summary.failed", -1), 1);
    assert_int_equal(kp_json_int(res, "summary.invalid", -1), 2);
    assert_string_equal(kp_json_str(scenario_by_file(res, "a-good.yaml"), "status", ""), "passed");
    assert_string_equal(kp_json_str(scenario_by_file(res, "b-syntax.yaml"), "status", ""),
                        "invalid");
    const json_t *bad = scenario_by_file(res, "c-unknown-key.yaml");
    assert_string_equal(kp_json_str(bad, "status", ""), "invalid");
    assert_true(
        kp_str_starts(kp_json_str(bad, "diagnostics.0", ""), "suite/c-unknown-key.yaml:4:1:"));
    const json_t *f = scenario_by_file(res, "d-failing.yaml");
    assert_string_equal(kp_json_str(f, "status", ""), "failed");
    assert_int_equal(kp_json_int(f, "failures.0.line", 0), 15);
    assert_int_equal(kp_json_int(f, "failures.0.column", 0), 9);
    assert_string_equal(kp_json_str(scenario_by_file(res, "a-good.yaml"), "trace", ""),
                        "traces/good_one.events.jsonl");

    /* junit.xml: one testcase per scenario, invalid ones as errors, failed ones as failures */
    char *junit = kp_asprintf("%s/out/junit.xml", dir);
    xmlDocPtr doc = xmlReadFile(junit, NULL, XML_PARSE_NONET);
    assert_non_null(doc);
    xmlXPathContextPtr xp = xmlXPathNewContext(doc);
    xmlXPathObjectPtr cases = xmlXPathEvalExpression(BAD_CAST "//testcase", xp);
    assert_int_equal(cases->nodesetval->nodeNr, 4);
    xmlXPathObjectPtr errors = xmlXPathEvalExpression(BAD_CAST "//testcase/error", xp);
    assert_int_equal(errors->nodesetval->nodeNr, 2);
    xmlXPathObjectPtr failures = xmlXPathEvalExpression(BAD_CAST "//testcase/failure", xp);
    assert_int_equal(failures->nodesetval->nodeNr, 1);
    xmlChar *msg = xmlGetProp(failures->nodesetval->nodeTab[0], BAD_CAST "message");
    assert_true(kp_str_starts((const char *)msg, "suite/d-failing.yaml:15:9:"));
    xmlFree(msg);
    xmlXPathFreeObject(cases);
    xmlXPathFreeObject(errors);
    xmlXPathFreeObject(failures);
    xmlXPathFreeContext(xp);
    xmlFreeDoc(doc);
    free(junit);

    /* the trace: one JSON object per line, keys seq, t, pos, type, payload in that order */
    char *trace = kp_asprintf("%s/out/traces/good_one.events.jsonl", dir);
    kp_buf t;
    kp_buf_init(&t);
    assert_int_equal(kp_read_file(trace, &t), 0);
    size_t lines = 0;
    long long last_seq = 0, last_t = -1;
    for (char *line = strtok(t.data, "\n"); line; line = strtok(NULL, "\n")) {
        assert_true(kp_str_starts(line, "{\"seq\":"));
        json_error_t e;
        json_t *ev = json_loads(line, 0, &e);
        assert_non_null(ev);
        const char *keys[] = {"seq", "t", "pos", "type", "payload"};
        void *it = json_object_iter(ev);
        for (size_t k = 0; k < 5; k++, it = json_object_iter_next(ev, it))
            assert_string_equal(json_object_iter_key(it), keys[k]);
        assert_int_equal(kp_json_int(ev, "seq", 0), last_seq + 1);
        assert_true(kp_json_int(ev, "t", -1) >= last_t);
        last_seq = kp_json_int(ev, "seq", 0);
        last_t = kp_json_int(ev, "t", 0);
        lines++;
        json_decref(ev);
    }
    assert_true(lines > 20);
    kp_buf_free(&t);
    free(trace);
    json_decref(res);
    kp_buf_free(&out);
}

static void test_exit_codes(void **state)
{
    kp_buf out;
    kp_buf_init(&out);
    assert_int_equal(kpsim("run suite/a-good.yaml --report-dir out-ok", &out), 0);
    assert_int_equal(kpsim("run suite/a-good.yaml suite/d-failing.yaml --report-dir out-f", &out),
                     1);
    assert_int_equal(kpsim("run suite/b-syntax.yaml --report-dir out-i", &out), 2);
    assert_int_equal(kpsim("run", &out), 2);
    assert_int_equal(kpsim("run no-such-file.yaml", &out), 2);
    assert_non_null(strstr(out.data, "no-such-file.yaml: no such file or directory"));
    assert_int_equal(kpsim("run --bogus suite", &out), 2);
    assert_int_equal(kpsim("frobnicate", &out), 2);
    assert_int_equal(kpsim("--version", &out), 0);
    kp_buf_free(&out);
}

static void test_traces_are_deterministic(void **state)
{
    kp_buf out, a, b;
    kp_buf_init(&out);
    kp_buf_init(&a);
    kp_buf_init(&b);
    assert_int_equal(kpsim("run suite/a-good.yaml --report-dir det1", &out), 0);
    assert_int_equal(kpsim("run suite/a-good.yaml --report-dir det2", &out), 0);
    char *p1 = kp_asprintf("%s/det1/traces/good_one.events.jsonl", dir);
    char *p2 = kp_asprintf("%s/det2/traces/good_one.events.jsonl", dir);
    assert_int_equal(kp_read_file(p1, &a), 0);
    assert_int_equal(kp_read_file(p2, &b), 0);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    free(p1);
    free(p2);
    kp_buf_free(&out);
    kp_buf_free(&a);
    kp_buf_free(&b);
}

static void test_record_round_trip(void **state)
{
    kp_buf out, before, after;
    kp_buf_init(&out);
    kp_buf_init(&before);
    kp_buf_init(&after);
    char *path = kp_asprintf("%s/rec.yaml", dir);
    /* a scenario whose expectation is wrong, with a key after expect: that must survive */
    write_text(path, "name: recorded\n"
                     "backend:\n"
                     "  entries:\n"
                     "    - {id: 0_cli00001, duration: 4, renditions: [180p]}\n"
                     "expect:\n"
                     "  events:\n"
                     "    ignore: [resize]\n"
                     "    sequence: [play]\n"
                     "steps:   # the steps come after expect\n"
                     "  - load_media: {entry_id: 0_cli00001}\n"
                     "  - play\n"
                     "  - wait_for: {event: ended}\n");
    assert_int_equal(kpsim("run rec.yaml --report-dir rec0", &out), 1);
    assert_int_equal(kpsim("record rec.yaml", &out), 0);
    assert_non_null(strstr(out.data, "recorded"));
    assert_int_equal(kp_read_file(path, &after), 0);
    assert_true(kp_str_starts(after.data, "name: recorded\n"));
    assert_non_null(strstr(after.data, "    ignore: [resize]\n"));
    assert_non_null(strstr(after.data, "      - playerstatechanged: {oldState: {type: idle}, "
                                       "newState: {type: loading}}\n"));
    assert_non_null(strstr(after.data, "steps:   # the steps come after expect\n"));
    assert_null(strstr(after.data, "    sequence: [play]\n"));
    assert_null(strstr(after.data, "      - resize\n"));
    /* the recorded expectation passes */
    assert_int_equal(kpsim("run rec.yaml --report-dir rec1", &out), 0);
    /* --output writes elsewhere and leaves the scenario alone */
    assert_int_equal(kp_read_file(path, &before), 0);
    assert_int_equal(kpsim("record rec.yaml --output rec-copy.yaml", &out), 0);
    kp_buf_reset(&after);
    assert_int_equal(kp_read_file(path, &after), 0);
    assert_int_equal(before.len, after.len);
    assert_memory_equal(before.data, after.data, before.len);
    /* record refuses an invalid scenario with exit code 2 */
    assert_int_equal(kpsim("record suite/b-syntax.yaml", &out), 2);
    free(path);
    kp_buf_free(&out);
    kp_buf_free(&before);
    kp_buf_free(&after);
}

/* kpsim record's golden format, line by line (docs/scenarios.md "Recording goldens"): one
 * event per line with only the payload fields that carry meaning, no volatile fields (seq, t,
 * pos, URLs, bitrates, sizes), the mutechange/volumechange of one change as an any_order group,
 * the ignore list and the request expectations (count and ordered forms) kept as they were;
 * the rest of the file byte for byte; and the recorded file passes. */
static void test_record_golden_lines(void **state)
{
    (void)state;
    kp_buf out, got;
    kp_buf_init(&out);
    kp_buf_init(&got);
    char *path = kp_asprintf("%s/golden.yaml", dir);
    static const char head[] = "name: golden lines\n"
                               "backend:\n"
                               "  entries:\n"
                               "    - {id: 0_cli00003, duration: 2, renditions: [180p, 360p]}\n"
                               "steps:\n"
                               "  - load_media: {entry_id: 0_cli00003}\n"
                               "  - play\n"
                               "  - wait_for: {event: playing}\n"
                               "  - set_muted: true\n"
                               "  - wait_for: {event: ended}\n";
    static const char old_expect[] = "expect:\n"
                                     "  events:\n"
                                     "    ignore: [resize]\n"
                                     "    sequence: [play]\n"
                                     "  requests:\n"
                                     "    - {server: cdn, match: {kind: master}, count: 1}\n"
                                     "    - server: cdn\n"
                                     "      sequence:\n"
                                     "        - {kind: master}\n"
                                     "        - {kind: segment}\n";
    static const char want[] =
        "expect:\n"
        "  events:\n"
        "    ignore: [resize]\n"
        "    sequence:\n"
        "      - playbackstart\n"
        "      - registeredpluginslistevent\n"
        "      - changesourcestarted\n"
        "      - sourceselected\n"
        "      - mutechange: {mute: false}\n"
        "      - changesourceended\n"
        "      - abrmodechanged: {mode: auto}\n"
        "      - emptied\n"
        "      - playerstatechanged: {oldState: {type: idle}, newState: {type: loading}}\n"
        "      - loadstart\n"
        "      - manifestloaded\n"
        "      - medialoaded\n"
        "      - trackschanged\n"
        "      - play\n"
        "      - firstplay\n"
        "      - durationchange\n"
        "      - visibilitychange: {visible: true}\n"
        "      - durationchange\n"
        "      - playerstatechanged: {oldState: {type: loading}, newState: {type: paused}}\n"
        "      - loadedmetadata\n"
        "      - durationchange\n"
        "      - durationchange\n"
        "      - loadeddata\n"
        "      - canplay\n"
        "      - playerstatechanged: {oldState: {type: paused}, newState: {type: playing}}\n"
        "      - playing\n"
        "      - firstplaying\n"
        "      - videotrackchanged\n"
        "      - any_order: [{mutechange: {mute: true}}, canplaythrough, volumechange]\n"
        "      - playreached25percent\n"
        "      - playreached50percent\n"
        "      - playreached75percent\n"
        "      - playreached90percent\n"
        "      - playreached100percent\n"
        "      - playerstatechanged: {oldState: {type: playing}, newState: {type: paused}}\n"
        "      - pause\n"
        "      - playerstatechanged: {oldState: {type: paused}, newState: {type: idle}}\n"
        "      - ended\n"
        "      - playbackended\n"
        "  error: null\n"
        "  requests:\n"
        "    - {server: cdn, match: {kind: master}, count: 1}\n"
        "    - server: cdn\n"
        "      sequence:\n"
        "        - {kind: master}\n"
        "        - {kind: segment}\n";
    char *text = kp_asprintf("%s%s", head, old_expect);
    write_text(path, text);
    assert_int_equal(kpsim("record golden.yaml --output golden-rec.yaml", &out), 0);
    char *rec = kp_asprintf("%s/golden-rec.yaml", dir);
    assert_int_equal(kp_read_file(rec, &got), 0);
    /* everything before expect: unchanged, then exactly the recorded block */
    assert_true(got.len >= sizeof(head) - 1);
    assert_memory_equal(got.data, head, sizeof(head) - 1);
    const char *block = got.data + sizeof(head) - 1;
    if (strcmp(block, want) != 0)
        fprintf(stderr, "recorded block:\n%s\n", block);
    assert_string_equal(block, want);
    /* no volatile field on any line (the exact comparison above says so too; this names it) */
    static const char *const volatile_bits[] = {"seq:", " t:",   "pos:",  "http",  "bitrate",
                                                "url",  "bytes", "width", "height"};
    for (size_t i = 0; i < sizeof(volatile_bits) / sizeof(volatile_bits[0]); i++)
        assert_null(strstr(block, volatile_bits[i]));
    /* one event per line: every line of the sequence is a single "- " item */
    const char *seq = strstr(block, "    sequence:\n");
    assert_non_null(seq);
    for (const char *p = seq + strlen("    sequence:\n"); strncmp(p, "  error:", 8) != 0;) {
        assert_true(kp_str_starts(p, "      - "));
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        assert_true(p[8] != '-' && p[8] != ' ' && p[8] != '\n'); /* an event name follows */
        p = nl + 1;
    }
    /* the recorded file passes, the original (sequence: [play]) does not */
    assert_int_equal(kpsim("run golden-rec.yaml --report-dir golden1", &out), 0);
    assert_int_equal(kpsim("run golden.yaml --report-dir golden0", &out), 1);
    free(text);
    free(rec);
    free(path);
    kp_buf_free(&out);
    kp_buf_free(&got);
}

/* kpsim serve: prints its URL, answers real HTTP, journals, and stops cleanly on SIGINT, also
 * when started with SIGINT ignored (as a shell starts background jobs: the signal is blocked
 * and taken with sigwait, which still receives it), writing the journal; a bad scenario is
 * exit code 2. */
static void test_serve(void **state)
{
    const char *bin = test_kpsim_bin();
    char *scenario = kp_asprintf("%s/suite/a-good.yaml", dir);
    char *journal = kp_asprintf("%s/serve-journal.json", dir);
    int out[2];
    assert_int_equal(pipe(out), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGINT, SIG_IGN);
        dup2(out[1], STDOUT_FILENO);
        close(out[0]);
        close(out[1]);
        execl(bin, bin, "serve", "--journal", journal, scenario, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    FILE *f = fdopen(out[0], "r");
    assert_non_null(f);
    char line[512], url[128] = "";
    while (!url[0] && fgets(line, sizeof(line), f)) {
        const char *at = strstr(line, "listening on http://127.0.0.1:");
        if (at)
            sscanf(at + strlen("listening on "), "%127s", url);
    }
    assert_true(kp_str_starts(url, "http://127.0.0.1:"));
    test_reply r;
    char *api = kp_asprintf("%s/api_v3/service/multirequest", url);
    test_http("POST", api,
              "{\"1\":{\"service\":\"session\",\"action\":\"startWidgetSession\","
              "\"widgetId\":\"_1234567\"}}",
              NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body.data, "KalturaStartWidgetSessionResponse"));
    test_reply_free(&r);
    assert_int_equal(kill(pid, SIGINT), 0);
    int st = 0;
    pid_t done = 0;
    for (int i = 0; i < 200 && done == 0; i++) { /* up to 10 s */
        done = waitpid(pid, &st, WNOHANG);
        if (done == 0)
            usleep(50 * 1000);
    }
    if (done != pid) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        fail_msg("kpsim serve did not stop on SIGINT");
    }
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    kp_buf rest;
    kp_buf_init(&rest);
    size_t n;
    while ((n = fread(line, 1, sizeof(line), f)) > 0)
        kp_buf_append(&rest, line, n);
    fclose(f);
    assert_non_null(strstr(rest.data ? rest.data : "", "stopped by SIGINT after 1 requests"));
    kp_buf_free(&rest);
    json_error_t e;
    json_t *j = json_load_file(journal, 0, &e);
    if (!j)
        fail_msg("%s: %s", journal, e.text);
    assert_int_equal(json_array_size(j), 1);
    assert_string_equal(kp_json_str(j, "0.calls.0.action", ""), "startWidgetSession");
    assert_string_equal(kp_json_str(j, "0.body.1.widgetId", ""), "_1234567");
    json_decref(j);
    /* an invalid scenario never serves */
    kp_buf o;
    kp_buf_init(&o);
    assert_int_equal(kpsim("serve suite/b-syntax.yaml", &o), 2);
    kp_buf_free(&o);
    free(api);
    free(scenario);
    free(journal);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suite_with_bad_scenarios), cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_traces_are_deterministic), cmocka_unit_test(test_record_round_trip),
        cmocka_unit_test(test_record_golden_lines),      cmocka_unit_test(test_serve),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
