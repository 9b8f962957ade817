/* test_fault.c: kp/fault.h: rule checking (message and key path), matching, times/after
 * counting, deterministic probability, `when` arming, thread safety, broken bodies. */
#include "kp/err.h"
#include "kp/fault.h"

#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>

#include <cmocka.h>

static bool known(const char *name)
{
    return strcmp(name, "playing") == 0 || strcmp(name, "adbreakstart") == 0;
}

static kp_fault_rule *rule(const char *json)
{
    json_error_t e;
    json_t *j = json_loads(json, 0, &e);
    assert_non_null(j);
    kp_fault_rule *r = NULL;
    char err[256], where[64];
    int rc = kp_fault_rule_parse(j, known, &r, err, sizeof(err), where, sizeof(where));
    if (rc != KP_OK)
        fail_msg("%s: %s at '%s'", json, err, where);
    json_decref(j);
    return r;
}

/* The rule does not parse; returns the key path, checks the message contains `msg`. */
static void rejected(const char *json, const char *where_want, const char *msg)
{
    json_t *j = json_loads(json, 0, NULL);
    assert_non_null(j);
    kp_fault_rule *r = NULL;
    char err[256], where[64];
    assert_int_equal(kp_fault_rule_parse(j, known, &r, err, sizeof(err), where, sizeof(where)),
                     KP_EPARSE);
    assert_null(r);
    if (!strstr(err, msg) || strcmp(where, where_want) != 0)
        fail_msg("%s: got '%s' at '%s', want '%s' at '%s'", json, err, where, msg, where_want);
    json_decref(j);
}

static void test_parse_errors(void **state)
{
    (void)state;
    rejected("{\"server\":\"cnd\",\"reply\":\"reset\"}", "server", "unknown server 'cnd'");
    rejected("{\"reply\":\"reset\"}", "", "missing required key 'server'");
    rejected("{\"server\":\"cdn\"}", "", "missing required key 'reply'");
    rejected("{\"server\":\"cdn\",\"reply\":\"reset\",\"tiems\":1}", "tiems",
             "unknown key 'tiems'");
    rejected("{\"server\":\"cdn\",\"reply\":\"teapot\"}", "reply", "unknown reply kind 'teapot'");
    rejected("{\"server\":\"cdn\",\"reply\":{\"status\":503,\"reset\":true}}", "reply.reset",
             "one kind: status and reset");
    rejected("{\"server\":\"cdn\",\"reply\":{\"delay\":\"3x\"}}", "reply.delay",
             "expected a duration");
    rejected("{\"server\":\"cdn\",\"reply\":{\"delay\":0}}", "reply.delay", "greater than 0");
    rejected("{\"server\":\"cdn\",\"reply\":{\"status\":99}}", "reply.status", "at least 100");
    rejected("{\"server\":\"cdn\",\"reply\":{\"status\":600}}", "reply.status", "100..599");
    rejected("{\"server\":\"cdn\",\"reply\":{\"empty\":true},\"probability\":1.5}", "probability",
             "between 0 and 1");
    rejected("{\"server\":\"cdn\",\"reply\":\"reset\",\"times\":-1}", "times", "not be negative");
    rejected("{\"server\":\"cdn\",\"reply\":\"reset\",\"after\":\"2\"}", "after", "whole number");
    rejected("{\"server\":\"cdn\",\"match\":{\"service\":\"x\"},\"reply\":\"reset\"}",
             "match.service", "unknown match key 'service' for server cdn");
    rejected("{\"server\":\"drm\",\"match\":{\"scheme\":\"wv\"},\"reply\":\"reset\"}",
             "match.scheme", "unknown license scheme 'wv'");
    rejected("{\"server\":\"cdn\",\"match\":{\"path\":\"/a/[bc\"},\"reply\":\"reset\"}",
             "match.path", "without its ']'");
    rejected("{\"server\":\"cdn\",\"match\":{\"path\":\"hls\"},\"reply\":\"reset\"}", "match.path",
             "starts with / or *");
    rejected("{\"server\":\"cdn\",\"reply\":\"reset\",\"when\":{\"event\":\"plying\"}}",
             "when.event", "unknown player event 'plying'");
    rejected("{\"server\":\"cdn\",\"reply\":\"reset\",\"when\":{\"event\":\"playing\",\"nth\":0}}",
             "when.nth", "at least 1");
    rejected("{\"server\":\"cdn\",\"reply\":{\"api_error\":{\"code\":\"X\"}}}", "reply.api_error",
             "reply of the api server");
    rejected("{\"server\":\"api\",\"reply\":{\"api_error\":{\"message\":\"m\"}}}",
             "reply.api_error", "missing required key 'code'");
    rejected("{\"server\":\"cdn\",\"reply\":{\"dribble\":{\"bytes\":0,\"every\":\"1s\"}}}",
             "reply.dribble.bytes", "at least 1");
    rejected("{\"server\":\"cdn\",\"reply\":{\"reset\":1}}", "reply.reset",
             "expected true or {after: BYTES}, got a number");
    rejected("{\"server\":\"cdn\",\"reply\":{\"reset\":{\"aftr\":1}}}", "reply.reset.aftr",
             "unknown key 'aftr' in reset (known: after)");
    rejected("{\"server\":\"cdn\",\"reply\":{\"reset\":{}}}", "reply.reset",
             "missing required key 'after' in reset");
    rejected("{\"server\":\"cdn\",\"reply\":{\"reset\":{\"after\":-5}}}", "reply.reset.after", "");
    rejected("{\"server\":\"cdn\",\"reply\":{\"reset\":{\"after\":\"1k\"}}}", "reply.reset.after",
             "");
    rejected("{\"server\":\"cdn\",\"reply\":{\"empty\":{\"after\":1}}}", "reply.empty",
             "takes no value");
    rejected("{\"server\":\"cdn\",\"reply\":\"delay\"}", "reply", "takes a value");
    rejected("{\"server\":\"cdn\",\"reply\":{\"truncate\":10,\"body\":\"x\"}}", "reply.body",
             "with status only");
}

/* reset: plain (no answer at all) or {after: BYTES} (the answer's head and BYTES of its body
 * first); the decision carries which. */
static void test_reset_after(void **state)
{
    (void)state;
    kp_fault_set *s = kp_fault_set_new();
    assert_int_equal(kp_fault_set_add(s, rule("{\"server\":\"cdn\",\"reply\":{\"reset\":"
                                              "{\"after\":20000}},\"times\":1}")),
                     0);
    assert_int_equal(kp_fault_set_add(s, rule("{\"server\":\"cdn\",\"reply\":\"reset\"}")), 1);
    assert_int_equal(kp_fault_set_add(s, rule("{\"server\":\"cdn\",\"reply\":{\"reset\":true}}")),
                     2);
    kp_fault_req seg = {
        .server = "cdn", .method = "GET", .path = "/hls/seg-1.ts", .segment = 1, .kind = "segment"};
    kp_fault_action a;
    assert_int_equal(kp_fault_decide(s, &seg, &a), 1);
    assert_int_equal(a.rule, 0);
    assert_int_equal(a.kind, KP_FAULT_RESET);
    assert_true(a.mid_body);
    assert_int_equal(a.bytes, 20000);
    kp_fault_action_clear(&a);
    assert_int_equal(kp_fault_decide(s, &seg, &a), 1); /* rule 0 is spent: the plain reset */
    assert_int_equal(a.rule, 1);
    assert_int_equal(a.kind, KP_FAULT_RESET);
    assert_false(a.mid_body);
    assert_int_equal(a.bytes, 0);
    kp_fault_action_clear(&a);
    assert_int_equal(kp_fault_set_remove(s, 1), KP_OK);
    assert_int_equal(kp_fault_decide(s, &seg, &a), 1);
    assert_int_equal(a.rule, 2);
    assert_false(a.mid_body);
    kp_fault_action_clear(&a);
    /* the rule as JSON keeps what was written */
    json_t *j = kp_fault_set_json(s);
    assert_int_equal(
        json_integer_value(json_object_get(
            json_object_get(json_object_get(json_array_get(j, 0), "reply"), "reset"), "after")),
        20000);
    json_decref(j);
    kp_fault_set_free(s);
}

static int decide(kp_fault_set *s, const kp_fault_req *q)
{
    kp_fault_action a;
    int fired = kp_fault_decide(s, q, &a);
    int id = fired ? a.rule : -1;
    kp_fault_action_clear(&a);
    return id;
}

static void test_times_after_order(void **state)
{
    (void)state;
    kp_fault_set *s = kp_fault_set_new();
    assert_int_equal(
        kp_fault_set_add(s, rule("{\"server\":\"cdn\",\"match\":{\"kind\":\"segment\"},"
                                 "\"reply\":{\"status\":503},\"after\":2,\"times\":1}")),
        0);
    assert_int_equal(
        kp_fault_set_add(s, rule("{\"server\":\"cdn\",\"reply\":\"reset\",\"times\":2}")), 1);
    kp_fault_req seg = {
        .server = "cdn", .method = "GET", .path = "/hls/seg-1.ts", .segment = 1, .kind = "segment"};
    kp_fault_req api = {
        .server = "api", .method = "POST", .path = "/api_v3/service/x", .segment = -1};
    assert_int_equal(decide(s, &api), -1); /* no rule of the api */
    /* rule 0 skips two segments (rule 1 takes them, twice), fires on the third, then never */
    assert_int_equal(decide(s, &seg), 1);
    assert_int_equal(decide(s, &seg), 1);
    assert_int_equal(decide(s, &seg), 0);
    assert_int_equal(decide(s, &seg), -1);
    json_t *j = kp_fault_set_json(s);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 0), "matched")), 4);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 0), "fired")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 1), "fired")), 2);
    json_decref(j);
    assert_int_equal(kp_fault_set_remove(s, 7), KP_ENOENT);
    assert_int_equal(kp_fault_set_remove(s, 0), KP_OK);
    assert_int_equal(kp_fault_set_count(s), 1);
    assert_int_equal(kp_fault_set_remove(s, -1), KP_OK);
    assert_int_equal(kp_fault_set_count(s), 0);
    kp_fault_set_free(s);
}

static void test_match(void **state)
{
    (void)state;
    kp_fault_set *s = kp_fault_set_new();
    kp_fault_set_add(s, rule("{\"server\":\"api\",\"match\":{\"service\":\"baseEntry\","
                             "\"action\":\"list\",\"method\":\"POST\"},\"reply\":{\"api_error\":"
                             "{\"code\":\"INVALID_KS\"}}}"));
    kp_fault_set_add(s, rule("{\"server\":\"cdn\",\"match\":{\"path\":\"/hls/*/seg-[2-3]*.ts\","
                             "\"rendition\":\"360p\"},\"reply\":\"empty\"}"));
    kp_fault_set_add(s, rule("{\"server\":\"drm\",\"match\":{\"scheme\":\"widevine\"},"
                             "\"reply\":{\"delay\":\"1.5s\"}}"));
    const char *svc[] = {"session", "baseEntry", "baseEntry"};
    const char *act[] = {"startWidgetSession", "list", "getPlaybackContext"};
    kp_fault_req multi = {.server = "api",
                          .method = "POST",
                          .path = "/api_v3/service/multirequest",
                          .services = svc,
                          .actions = act,
                          .n_calls = 3,
                          .segment = -1};
    kp_fault_action a;
    assert_int_equal(kp_fault_decide(s, &multi, &a), 1); /* a sub-call matches */
    assert_int_equal(a.kind, KP_FAULT_API_ERROR);
    assert_string_equal(a.code, "INVALID_KS");
    assert_string_equal(a.message, "INVALID_KS");
    assert_string_equal(a.match_action, "list");
    kp_fault_action_clear(&a);
    multi.n_calls = 1;
    assert_int_equal(decide(s, &multi), -1);
    multi.n_calls = 3;
    multi.method = "GET";
    assert_int_equal(decide(s, &multi), -1);
    kp_fault_req seg = {.server = "cdn",
                        .method = "GET",
                        .path = "/hls/p/1/seg-2-v1-a1.ts",
                        .segment = 2,
                        .rendition = "360p"};
    assert_int_equal(decide(s, &seg), 1);
    seg.rendition = "180p";
    assert_int_equal(decide(s, &seg), -1);
    seg.rendition = "360p";
    seg.path = "/hls/p/1/seg-4-v1-a1.ts";
    assert_int_equal(decide(s, &seg), -1);
    kp_fault_req lic = {.server = "drm",
                        .method = "POST",
                        .path = "/cenc/widevine/license",
                        .segment = -1,
                        .scheme = "widevine"};
    assert_int_equal(kp_fault_decide(s, &lic, &a), 1);
    assert_int_equal(a.delay_us, 1500000);
    kp_fault_action_clear(&a);
    lic.scheme = "playready";
    assert_int_equal(decide(s, &lic), -1);
    kp_fault_set_free(s);
}

/* The pattern of 200 decisions of a rule with probability p and seed. */
static void pattern(double p, int seed, char out[201])
{
    char text[160];
    snprintf(text, sizeof(text),
             "{\"server\":\"cdn\",\"reply\":\"reset\",\"probability\":%g,\"seed\":%d}", p, seed);
    kp_fault_set *s = kp_fault_set_new();
    kp_fault_set_add(s, rule(text));
    kp_fault_req q = {.server = "cdn", .method = "GET", .path = "/x", .segment = -1};
    for (int i = 0; i < 200; i++)
        out[i] = decide(s, &q) == 0 ? '1' : '0';
    out[200] = '\0';
    kp_fault_set_free(s);
}

static void test_probability(void **state)
{
    (void)state;
    char a[201], b[201], c[201];
    pattern(0.3, 42, a);
    pattern(0.3, 42, b);
    pattern(0.3, 43, c);
    assert_string_equal(a, b); /* the same seed: the same faults */
    assert_string_not_equal(a, c);
    int ones = 0;
    for (int i = 0; i < 200; i++)
        ones += a[i] == '1';
    assert_in_range(ones, 35, 85); /* about 60 */
    pattern(0, 1, a);
    assert_null(strchr(a, '1'));
    pattern(1, 1, a);
    assert_null(strchr(a, '0'));
}

static void test_when(void **state)
{
    (void)state;
    kp_fault_set *s = kp_fault_set_new();
    kp_fault_set_add(s, rule("{\"server\":\"ads\",\"reply\":\"timeout\",\"after\":1,"
                             "\"when\":{\"event\":\"adbreakstart\",\"nth\":2}}"));
    kp_fault_req q = {.server = "ads", .method = "GET", .path = "/ads/vast", .segment = -1};
    assert_int_equal(decide(s, &q), -1);
    kp_fault_set_event(s, "adbreakstart");
    kp_fault_set_event(s, "playing");
    assert_int_equal(decide(s, &q), -1); /* armed after the 2nd adbreakstart only */
    kp_fault_set_event(s, "adbreakstart");
    /* requests before arming did not count: `after: 1` skips the first armed one */
    assert_int_equal(decide(s, &q), -1);
    assert_int_equal(decide(s, &q), 0);
    kp_fault_set_free(s);
}

typedef struct worker {
    kp_fault_set *s;
    int fired;
} worker;

static void *work(void *ud)
{
    worker *w = ud;
    kp_fault_req q = {.server = "cdn", .method = "GET", .path = "/x", .segment = -1};
    for (int i = 0; i < 2000; i++)
        w->fired += decide(w->s, &q) == 0;
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    kp_fault_set *s = kp_fault_set_new();
    kp_fault_set_add(s, rule("{\"server\":\"cdn\",\"reply\":\"empty\",\"times\":300}"));
    pthread_t t[4];
    worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){.s = s};
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    int total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        total += w[i].fired;
    }
    assert_int_equal(total, 300);
    kp_fault_set_free(s);
}

static void test_bodies(void **state)
{
    (void)state;
    kp_buf b;
    kp_buf_init(&b);
    assert_int_equal(kp_fault_malformed_body("application/json", "/api_v3/x", 10, 1, &b), KP_OK);
    assert_null(json_loadb(b.data, b.len, 0, NULL));
    kp_buf_reset(&b);
    kp_fault_malformed_body("application/vnd.apple.mpegurl", "/a/index.m3u8", 10, 1, &b);
    assert_false(strncmp(b.data, "#EXTM3U", 7) == 0 && b.data[7] == '\n');
    kp_buf_reset(&b);
    kp_fault_malformed_body("video/MP2T", "/a/seg-1.ts", 1000, 5, &b);
    assert_int_equal(b.len, 1000);
    for (size_t i = 0; i < 1000; i += 188)
        assert_int_not_equal((unsigned char)b.data[i], 0x47);
    kp_buf c;
    kp_buf_init(&c);
    kp_fault_malformed_body("video/MP2T", "/a/seg-1.ts", 1000, 5, &c);
    assert_memory_equal(b.data, c.data, 1000);
    kp_buf_free(&b);
    kp_buf_free(&c);
    long long us;
    assert_int_equal(kp_fault_parse_duration("1.5s", &us), KP_OK);
    assert_int_equal(us, 1500000);
    assert_int_equal(kp_fault_parse_duration("250ms", &us), KP_OK);
    assert_int_equal(us, 250000);
    assert_int_equal(kp_fault_parse_duration("2m", &us), KP_OK);
    assert_int_equal(us, 120000000);
    assert_int_equal(kp_fault_parse_duration("-1s", &us), KP_EPARSE);
    assert_int_equal(kp_fault_parse_duration("1e3", &us), KP_EPARSE);
    assert_int_equal(kp_fault_parse_duration("5 s", &us), KP_EPARSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_errors),      cmocka_unit_test(test_reset_after),
        cmocka_unit_test(test_times_after_order), cmocka_unit_test(test_match),
        cmocka_unit_test(test_probability),       cmocka_unit_test(test_when),
        cmocka_unit_test(test_threads),           cmocka_unit_test(test_bodies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
