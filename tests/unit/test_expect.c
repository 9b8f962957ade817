/* test_expect.c: the sequence matcher (harness/src/expect.c): exact order, payload subsets,
 * any_order groups, "..." wildcards, ignore lists, and the first-divergence report. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hx/expect.h"
#include "kp/buf.h"
#include "kp/event.h"

#include <stdlib.h>
#include <string.h>

/* A recorded trace built from "type" or "type {json}" strings. */
typedef struct fake_trace {
    kp_recorded ev[64];
    const kp_recorded *ptr[64];
    size_t n;
} fake_trace;

static void trace_init(fake_trace *t, const char *const *items)
{
    memset(t, 0, sizeof(*t));
    for (; *items; items++, t->n++) {
        const char *sp = strchr(*items, ' ');
        char name[64];
        size_t len = sp ? (size_t)(sp - *items) : strlen(*items);
        memcpy(name, *items, len);
        name[len] = '\0';
        int type = kp_event_lookup(name);
        assert_true(type >= 0);
        json_error_t e;
        t->ev[t->n] = (kp_recorded){
            .seq = t->n + 1,
            .t_ms = (int64_t)t->n * 10,
            .type = (kp_event_type)type,
            .name = kp_event_name((kp_event_type)type),
            .payload = sp ? json_loads(sp + 1, 0, &e) : NULL,
        };
        t->ptr[t->n] = &t->ev[t->n];
    }
}

static void trace_free(fake_trace *t)
{
    for (size_t i = 0; i < t->n; i++)
        json_decref(t->ev[i].payload);
}

/* An expected sequence from strings: "name", "name {json}", "...", "any:a,b,c". */
typedef struct fake_seq {
    hx_match items[32];
    hx_match groups[32][8];
    hx_seq seq;
} fake_seq;

static void seq_init(fake_seq *s, const char *const *items)
{
    memset(s, 0, sizeof(*s));
    size_t n = 0;
    for (; *items; items++, n++) {
        hx_match *m = &s->items[n];
        m->loc = (hx_loc){(int)n + 10, 5};
        if (strcmp(*items, "...") == 0) {
            m->kind = HX_MATCH_ELLIPSIS;
        } else if (kp_str_starts(*items, "any:")) {
            m->kind = HX_MATCH_ANY_ORDER;
            m->group = s->groups[n];
            char *list = kp_strdup(*items + 4);
            for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
                hx_match *g = &s->groups[n][m->n_group++];
                g->kind = HX_MATCH_EVENT;
                g->event = kp_strdup(tok);
            }
            free(list);
        } else {
            m->kind = HX_MATCH_EVENT;
            const char *sp = strchr(*items, ' ');
            m->event = kp_strndup(*items, sp ? (size_t)(sp - *items) : strlen(*items));
            json_error_t e;
            m->payload = sp ? json_loads(sp + 1, 0, &e) : NULL;
            assert_true(!sp || m->payload);
        }
    }
    s->seq.items = s->items;
    s->seq.n = n;
    s->seq.loc = (hx_loc){9, 3};
}

static void seq_free(fake_seq *s)
{
    for (size_t i = 0; i < s->seq.n; i++) {
        free(s->items[i].event);
        json_decref(s->items[i].payload);
        for (size_t g = 0; g < s->items[i].n_group; g++)
            free(s->groups[i][g].event);
    }
}

/* Matches; on a mismatch returns its message (caller frees) and the failing indexes. */
static char *run(const char *const *expected, const char *const *recorded, size_t *item,
                 size_t *event)
{
    fake_trace t;
    fake_seq s;
    trace_init(&t, recorded);
    seq_init(&s, expected);
    hx_view v = {.ev = t.ptr, .n = t.n};
    hx_mismatch mm = {0};
    char *msg = NULL;
    if (!hx_match_seq(&s.seq, &v, "expect.events.sequence", &mm)) {
        msg = mm.message;
        mm.message = NULL;
        if (item)
            *item = mm.item;
        if (event)
            *event = mm.event;
        assert_non_null(mm.table);
        hx_mismatch_free(&mm);
    }
    seq_free(&s);
    trace_free(&t);
    return msg;
}

#define LIST(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_exact_sequence(void **state)
{
    assert_null(
        run(LIST("play", "playing", "pause"), LIST("play", "playing", "pause"), NULL, NULL));
    size_t item = 99, event = 99;
    char *msg =
        run(LIST("play", "pause", "ended"), LIST("play", "playing", "pause"), &item, &event);
    assert_non_null(msg);
    assert_int_equal(item, 1);
    assert_int_equal(event, 1);
    assert_string_equal(msg, "expect.events.sequence[1]: expected pause, recorded playing (seq 2, "
                             "t 10 ms)");
    free(msg);
}

static void test_missing_and_extra_events(void **state)
{
    size_t item, event;
    char *msg = run(LIST("play", "playing", "pause"), LIST("play", "playing"), &item, &event);
    assert_string_equal(msg, "expect.events.sequence[2]: expected pause, but the recording ended");
    assert_int_equal(item, 2);
    free(msg);
    msg = run(LIST("play"), LIST("play", "playing"), &item, &event);
    assert_string_equal(msg, "expect.events.sequence: the sequence ended, but the player went on "
                             "with playing (seq 2, t 10 ms)");
    assert_int_equal(event, 1);
    free(msg);
    /* an empty expectation matches only an empty recording */
    assert_null(run((const char *const[]){NULL}, (const char *const[]){NULL}, NULL, NULL));
}

static void test_payload_subsets(void **state)
{
    const char *const rec[] = {"playerstatechanged {\"oldState\":{\"type\":\"idle\"},"
                               "\"newState\":{\"type\":\"loading\"}}",
                               "mutechange {\"mute\":true}", NULL};
    assert_null(run(LIST("playerstatechanged {\"newState\":{\"type\":\"loading\"}}",
                         "mutechange {\"mute\":true}"),
                    rec, NULL, NULL));
    /* numbers compare by value */
    assert_null(run(LIST("error {\"code\":7002.0}"), LIST("error {\"code\":7002,\"severity\":2}"),
                    NULL, NULL));
    char *msg = run(LIST("playerstatechanged {\"newState\":{\"type\":\"paused\"}}", "mutechange"),
                    rec, NULL, NULL);
    assert_non_null(msg);
    assert_true(kp_str_starts(msg, "expect.events.sequence[0]: expected playerstatechanged "
                                   "{\"newState\":{\"type\":\"paused\"}}, recorded "
                                   "playerstatechanged {\"oldState\""));
    free(msg);
    /* a payload expected on an event that has none does not match */
    msg = run(LIST("play {\"x\":1}"), LIST("play"), NULL, NULL);
    assert_non_null(msg);
    free(msg);
}

static void test_any_order(void **state)
{
    assert_null(run(LIST("play", "any:mutechange,volumechange,resize", "playing"),
                    LIST("play", "resize", "mutechange", "volumechange", "playing"), NULL, NULL));
    size_t item, event;
    char *msg = run(LIST("play", "any:mutechange,volumechange", "playing"),
                    LIST("play", "mutechange", "pause", "playing"), &item, &event);
    assert_non_null(msg);
    assert_int_equal(item, 1);
    assert_int_equal(event, 1);
    free(msg);
    /* a member may not match twice */
    msg = run(LIST("any:mutechange,volumechange"), LIST("mutechange", "mutechange"), NULL, NULL);
    assert_non_null(msg);
    free(msg);
}

static void test_ellipsis(void **state)
{
    const char *const rec[] = {"registeredpluginslistevent",
                               "changesourcestarted",
                               "sourceselected",
                               "play",
                               "playing",
                               "pause",
                               "ended",
                               NULL};
    assert_null(run(LIST("...", "play", "...", "ended"), rec, NULL, NULL));
    assert_null(run(LIST("registeredpluginslistevent", "..."), rec, NULL, NULL));
    assert_null(run(LIST("..."), rec, NULL, NULL));
    assert_null(run(LIST("...", "..."), (const char *const[]){NULL}, NULL, NULL));
    /* "..." may match nothing */
    assert_null(run(LIST("play", "...", "playing"), LIST("play", "playing"), NULL, NULL));
    /* the wildcard backtracks: the first "pause" candidate is not forced */
    assert_null(
        run(LIST("...", "pause", "ended"), LIST("pause", "play", "pause", "ended"), NULL, NULL));
    /* the report points at the deepest point reached */
    size_t item, event;
    char *msg = run(LIST("...", "play", "playing", "seeking"), rec, &item, &event);
    assert_non_null(msg);
    assert_int_equal(item, 3);
    assert_int_equal(event, 5);
    assert_string_equal(msg, "expect.events.sequence[3]: expected seeking, recorded pause (seq "
                             "6, t 50 ms)");
    free(msg);
}

static void test_mismatch_location_and_table(void **state)
{
    fake_trace t;
    fake_seq s;
    trace_init(&t, LIST("play", "playing", "pause"));
    seq_init(&s, LIST("play", "seeking", "pause"));
    hx_view v = {.ev = t.ptr, .n = t.n};
    hx_mismatch mm = {0};
    assert_false(hx_match_seq(&s.seq, &v, "steps[2].expect", &mm));
    assert_int_equal(mm.loc.line, 11); /* the item's own location */
    assert_int_equal(mm.loc.col, 5);
    assert_non_null(strstr(mm.table, "expected"));
    assert_non_null(strstr(mm.table, "recorded"));
    assert_non_null(strstr(mm.table, ">   1 seeking"));
    assert_non_null(strstr(mm.table, "| playing (seq 2, t 10 ms)"));
    assert_true(kp_str_starts(mm.message, "steps[2].expect[1]: "));
    hx_mismatch_free(&mm);
    seq_free(&s);
    trace_free(&t);
}

static void test_item_text(void **state)
{
    fake_seq s;
    seq_init(&s, LIST("error {\"code\":7002}", "...", "any:play,pause"));
    char *a = hx_item_text(&s.items[0]);
    char *b = hx_item_text(&s.items[1]);
    char *c = hx_item_text(&s.items[2]);
    assert_string_equal(a, "error {\"code\":7002}");
    assert_string_equal(b, "...");
    assert_string_equal(c, "any_order[play, pause]");
    free(a);
    free(b);
    free(c);
    seq_free(&s);
}

/* ---- the ordered form of expect.requests (hx_request_sequence_check) ---- */

static json_t *ads_journal(void)
{
    /* an ad server's records in arrival order, with an api record in between */
    json_t *j = json_loads(
        "[{\"server\":\"ads\",\"kind\":\"vast\",\"vast\":\"pre\",\"path\":\"/vast/pre\"},"
        " {\"server\":\"ads\",\"kind\":\"impression\",\"ad\":\"a\",\"path\":\"/imp/a\"},"
        " {\"server\":\"api\",\"calls\":[{\"service\":\"baseEntry\",\"action\":\"list\"}]},"
        " {\"server\":\"ads\",\"kind\":\"tracking\",\"event\":\"start\",\"ad\":\"a\"},"
        " {\"server\":\"ads\",\"kind\":\"tracking\",\"event\":\"complete\",\"ad\":\"a\"},"
        " {\"server\":\"ads\",\"kind\":\"error\",\"errorcode\":401,\"ad\":\"b\"}]",
        0, NULL);
    assert_non_null(j);
    return j;
}

static bool run_seq(const char *items, char **msg, char **records, hx_loc *loc)
{
    json_t *journal = ads_journal();
    json_t *seq = json_loads(items, 0, NULL);
    assert_non_null(seq);
    hx_loc locs[8];
    for (size_t i = 0; i < 8; i++)
        locs[i] = (hx_loc){.line = 30 + (int)i, .col = 11};
    hx_request_expect rq = {
        .server = "ads", .count = -1, .loc = {29, 7}, .sequence = seq, .seq_locs = locs};
    *loc = (hx_loc){0};
    bool ok = hx_request_sequence_check(&rq, 2, journal, loc, msg, records);
    json_decref(seq);
    json_decref(journal);
    return ok;
}

static void test_request_sequence_pass(void **state)
{
    (void)state;
    char *msg, *records;
    hx_loc loc;
    /* a subsequence, with the error's ERRORCODE matched by value */
    assert_true(run_seq("[{\"kind\":\"impression\"},{\"kind\":\"tracking\",\"event\":\"start\"},"
                        "{\"kind\":\"error\",\"errorcode\":401}]",
                        &msg, &records, &loc));
    assert_null(msg);
    assert_null(records);
    /* a repeated item needs a second record */
    assert_false(
        run_seq("[{\"kind\":\"impression\"},{\"kind\":\"impression\"}]", &msg, &records, &loc));
    free(msg);
    free(records);
    /* a wrong ERRORCODE does not match */
    assert_false(run_seq("[{\"kind\":\"error\",\"errorcode\":402}]", &msg, &records, &loc));
    assert_int_equal(loc.line, 30);
    free(msg);
    free(records);
}

static void test_request_sequence_out_of_order(void **state)
{
    (void)state;
    char *msg, *records;
    hx_loc loc;
    assert_false(
        run_seq("[{\"kind\":\"impression\"},{\"kind\":\"tracking\",\"event\":\"complete\"},"
                "{\"kind\":\"tracking\",\"event\":\"start\"}]",
                &msg, &records, &loc));
    /* the third item (line 32) is the first that cannot follow the previous one's match */
    assert_int_equal(loc.line, 32);
    assert_int_equal(loc.col, 11);
    assert_string_equal(msg, "expect.requests[2].sequence[2] {\"event\":\"start\",\"kind\":"
                             "\"tracking\"}: no ads request matched after sequence[1] (record "
                             "#4); a matching request came earlier: out of order");
    assert_string_equal(records, "ads records (5 in all), in arrival order:\n"
                                 "  #1 kind vast, path /vast/pre\n"
                                 "  #2 kind impression, path /imp/a\n"
                                 "  #3 kind tracking, event start\n"
                                 "  #4 kind tracking, event complete   <- sequence[1]\n"
                                 "  #5 kind error, errorcode 401\n");
    free(msg);
    free(records);
}

static void test_request_sequence_missing(void **state)
{
    (void)state;
    char *msg, *records;
    hx_loc loc;
    assert_false(
        run_seq("[{\"kind\":\"impression\"},{\"kind\":\"tracking\",\"event\":\"midpoint\"},"
                "{\"kind\":\"tracking\",\"event\":\"complete\"}]",
                &msg, &records, &loc));
    assert_int_equal(loc.line, 31);
    assert_string_equal(msg, "expect.requests[2].sequence[1] {\"event\":\"midpoint\",\"kind\":"
                             "\"tracking\"}: no ads request matched after sequence[0] (record "
                             "#2)");
    assert_non_null(strstr(records, "  #2 kind impression, path /imp/a   <- sequence[0]\n"));
    free(msg);
    free(records);
    /* the first item missing: no previous match to name */
    assert_false(run_seq("[{\"kind\":\"click\"}]", &msg, &records, &loc));
    assert_int_equal(loc.line, 30);
    assert_string_equal(msg, "expect.requests[2].sequence[0] {\"kind\":\"click\"}: no ads request "
                             "matched (5 ads record(s))");
    free(msg);
    free(records);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_sequence),
        cmocka_unit_test(test_missing_and_extra_events),
        cmocka_unit_test(test_payload_subsets),
        cmocka_unit_test(test_any_order),
        cmocka_unit_test(test_ellipsis),
        cmocka_unit_test(test_mismatch_location_and_table),
        cmocka_unit_test(test_item_text),
        cmocka_unit_test(test_request_sequence_pass),
        cmocka_unit_test(test_request_sequence_out_of_order),
        cmocka_unit_test(test_request_sequence_missing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
