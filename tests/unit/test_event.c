/* test_event.c: the event vocabulary and the synchronous event bus (kp/event.h): name/lookup
 * round trips, registration order, per-type vs all listeners, snapshot semantics for
 * listeners added or removed during a dispatch, nested dispatch order, payload ownership
 * (leaks show under ASan), and the virtual time and position stamped on each event.
 */
#include "kp/event.h"
#include "kp/sched.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>

#include <cmocka.h>

/* ---- a trace of listener calls --------------------------------------------------------------- */

#define TRACE_CAP 256

typedef struct trace {
    char who[TRACE_CAP];
    kp_event_type type[TRACE_CAP];
    size_t n;
} trace;

typedef struct lis {
    trace *tr;
    char name;
    kp_bus *bus;
    /* optional actions taken when called */
    int emit_on;        /* event type that triggers a nested emit, -1 for none */
    kp_event_type emit; /* what to emit */
    int add_on;         /* event type that triggers adding `add` */
    struct lis *add;    /* listener to add (listening to all) */
    int remove_on;      /* event type that triggers removing `remove_id` */
    uint64_t remove_id;
    int calls;
} lis;

static void on_event(void *ud, const kp_event *ev)
{
    lis *l = ud;
    assert_true(l->tr->n < TRACE_CAP);
    l->tr->who[l->tr->n] = l->name;
    l->tr->type[l->tr->n] = ev->type;
    l->tr->n++;
    l->calls++;
    assert_string_equal(ev->name, kp_event_name(ev->type));
    if (l->add && (int)ev->type == l->add_on) {
        assert_int_not_equal(kp_bus_listen(l->bus, -1, on_event, l->add), 0);
        l->add = NULL;
    }
    if (l->remove_id && (int)ev->type == l->remove_on) {
        kp_bus_unlisten(l->bus, l->remove_id);
        l->remove_id = 0;
    }
    if (l->emit_on >= 0 && (int)ev->type == l->emit_on)
        kp_bus_emit(l->bus, l->emit, NULL);
}

static lis make_lis(trace *tr, kp_bus *bus, char name)
{
    return (lis){.tr = tr, .name = name, .bus = bus, .emit_on = -1, .add_on = -1, .remove_on = -1};
}

/* "A:play B:play ..." */
static void assert_trace(const trace *tr, const char *want)
{
    char got[TRACE_CAP * 32] = "";
    size_t off = 0;
    for (size_t i = 0; i < tr->n; i++)
        off += (size_t)snprintf(got + off, sizeof(got) - off, "%s%c:%s", i ? " " : "", tr->who[i],
                                kp_event_name(tr->type[i]));
    assert_string_equal(got, want);
}

/* ---- names ----------------------------------------------------------------------------------- */

static void test_names_round_trip(void **state)
{
    static const struct {
        kp_event_type t;
        const char *name;
    } map[] = {
#define XX(id, name) {KP_EV_##id, name},
        KP_EVENT_MAP(XX)
#undef XX
    };
    size_t n = sizeof(map) / sizeof(map[0]);
    assert_int_equal(n, KP_EV_COUNT_);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(map[i].t, (int)i);
        assert_string_equal(kp_event_name(map[i].t), map[i].name);
        assert_int_equal(kp_event_lookup(map[i].name), (int)map[i].t);
        for (size_t j = 0; j < i; j++) /* names are unique */
            assert_string_not_equal(map[i].name, map[j].name);
    }
    /* a few spot checks against the Kaltura strings */
    assert_string_equal(kp_event_name(KP_EV_PLAYER_STATE_CHANGED), "playerstatechanged");
    assert_string_equal(kp_event_name(KP_EV_TRACKS_CHANGED), "trackschanged");
    assert_string_equal(kp_event_name(KP_EV_REGISTERED_PLUGINS_LIST), "registeredpluginslistevent");
    assert_int_equal(kp_event_lookup("timeupdate"), KP_EV_TIME_UPDATE);
}

static void test_names_unknown(void **state)
{
    assert_null(kp_event_name(KP_EV_COUNT_));
    assert_null(kp_event_name((kp_event_type)-1));
    assert_null(kp_event_name((kp_event_type)100000));
    assert_int_equal(kp_event_lookup(NULL), -1);
    assert_int_equal(kp_event_lookup(""), -1);
    assert_int_equal(kp_event_lookup("tracksChanged"), -1); /* case matters */
    assert_int_equal(kp_event_lookup("PLAY"), -1);
    assert_int_equal(kp_event_lookup("play "), -1);
    assert_int_equal(kp_event_lookup("adsrequested"), -1); /* not a web-player event */
}

/* ---- dispatch -------------------------------------------------------------------------------- */

static void test_registration_order_and_filter(void **state)
{
    trace tr = {0};
    kp_bus *bus = kp_bus_new(NULL, NULL, NULL);
    assert_non_null(bus);
    lis a = make_lis(&tr, bus, 'A'), b = make_lis(&tr, bus, 'B'), c = make_lis(&tr, bus, 'C'),
        d = make_lis(&tr, bus, 'D');
    uint64_t ids[4];
    ids[0] = kp_bus_listen(bus, KP_EV_PLAY, on_event, &a);
    ids[1] = kp_bus_listen(bus, -1, on_event, &b);
    ids[2] = kp_bus_listen(bus, KP_EV_PAUSE, on_event, &c);
    ids[3] = kp_bus_listen(bus, KP_EV_PLAY, on_event, &d);
    for (int i = 0; i < 4; i++) {
        assert_int_not_equal(ids[i], 0);
        for (int j = 0; j < i; j++)
            assert_int_not_equal(ids[i], ids[j]);
    }
    kp_bus_emit(bus, KP_EV_PLAY, NULL);
    kp_bus_emit(bus, KP_EV_PAUSE, NULL);
    kp_bus_emit(bus, KP_EV_ENDED, NULL);
    assert_trace(&tr, "A:play B:play D:play B:pause C:pause B:ended");

    /* the same function twice is two listeners */
    tr.n = 0;
    uint64_t again = kp_bus_listen(bus, KP_EV_ENDED, on_event, &a);
    kp_bus_emit(bus, KP_EV_PLAY, NULL);
    kp_bus_emit(bus, KP_EV_ENDED, NULL);
    assert_trace(&tr, "A:play B:play D:play B:ended A:ended");

    /* unlisten outside a dispatch; unknown ids and 0 are ignored */
    tr.n = 0;
    kp_bus_unlisten(bus, ids[1]);
    kp_bus_unlisten(bus, again);
    kp_bus_unlisten(bus, 0);
    kp_bus_unlisten(bus, 987654);
    kp_bus_unlisten(bus, ids[1]);
    kp_bus_emit(bus, KP_EV_PLAY, NULL);
    kp_bus_emit(bus, KP_EV_ENDED, NULL);
    assert_trace(&tr, "A:play D:play");
    kp_bus_free(bus);
    kp_bus_free(NULL);
}

static void test_many_listeners(void **state)
{
    /* more listeners than the bus's on-stack snapshot */
    enum { N = 100 };
    trace tr = {0};
    kp_bus *bus = kp_bus_new(NULL, NULL, NULL);
    lis *ls = calloc(N, sizeof(*ls));
    assert_non_null(ls);
    for (int i = 0; i < N; i++) {
        ls[i] = make_lis(&tr, bus, (char)('!' + i % 90));
        kp_bus_listen(bus, i % 2 ? KP_EV_SEEKED : -1, on_event, &ls[i]);
    }
    kp_bus_emit(bus, KP_EV_SEEKING, NULL);
    assert_int_equal(tr.n, N / 2);
    kp_bus_emit(bus, KP_EV_SEEKED, NULL);
    assert_int_equal(tr.n, N / 2 + N);
    for (int i = 0; i < N; i++)
        assert_int_equal(tr.who[N / 2 + i], '!' + i % 90);
    free(ls);
    kp_bus_free(bus);
}

static void test_added_during_dispatch(void **state)
{
    trace tr = {0};
    kp_bus *bus = kp_bus_new(NULL, NULL, NULL);
    lis a = make_lis(&tr, bus, 'A'), b = make_lis(&tr, bus, 'B'), n = make_lis(&tr, bus, 'N');
    a.add_on = KP_EV_PLAY;
    a.add = &n;
    kp_bus_listen(bus, -1, on_event, &a);
    kp_bus_listen(bus, -1, on_event, &b);
    kp_bus_emit(bus, KP_EV_PLAY, NULL); /* N is added by A: not called for this one */
    kp_bus_emit(bus, KP_EV_PLAYING, NULL);
    assert_trace(&tr, "A:play B:play A:playing B:playing N:playing");
    kp_bus_free(bus);
}

static void test_removed_during_dispatch(void **state)
{
    trace tr = {0};
    kp_bus *bus = kp_bus_new(NULL, NULL, NULL);
    lis a = make_lis(&tr, bus, 'A'), b = make_lis(&tr, bus, 'B'), c = make_lis(&tr, bus, 'C');
    kp_bus_listen(bus, -1, on_event, &a);
    kp_bus_listen(bus, -1, on_event, &b);
    uint64_t cid = kp_bus_listen(bus, -1, on_event, &c);
    a.remove_on = KP_EV_PLAY;
    a.remove_id = cid;
    kp_bus_emit(bus, KP_EV_PLAY, NULL); /* C is removed by A: still called for this one */
    kp_bus_emit(bus, KP_EV_PLAYING, NULL);
    assert_trace(&tr, "A:play B:play C:play A:playing B:playing");
    kp_bus_free(bus);
}

static void test_self_removal(void **state)
{
    trace tr = {0};
    kp_bus *bus = kp_bus_new(NULL, NULL, NULL);
    lis a = make_lis(&tr, bus, 'A'), b = make_lis(&tr, bus, 'B');
    uint64_t aid = kp_bus_listen(bus, KP_EV_PLAY, on_event, &a); /* a "listen once" */
    kp_bus_listen(bus, KP_EV_PLAY, on_event, &b);
    a.remove_on = KP_EV_PLAY;
    a.remove_id = aid;
    kp_bus_emit(bus, KP_EV_PLAY, NULL);
    kp_bus_emit(bus, KP_EV_PLAY, NULL);
    assert_trace(&tr, "A:play B:play B:play");
    assert_int_equal(a.calls, 1);
    kp_bus_free(bus);
}

static void test_nested_dispatch_order(void **state)
{
    trace tr = {0};
    kp_bus *bus = kp_bus_new(NULL, NULL, NULL);
    lis s = make_lis(&tr, bus, 'S'), k = make_lis(&tr, bus, 'K'), r = make_lis(&tr, bus, 'R');
    /* S (a state manager) emits playerstatechanged when it sees play */
    s.emit_on = KP_EV_PLAY;
    s.emit = KP_EV_PLAYER_STATE_CHANGED;
    kp_bus_listen(bus, KP_EV_PLAY, on_event, &s);
    kp_bus_listen(bus, -1, on_event, &k);
    kp_bus_listen(bus, -1, on_event, &r);
    kp_bus_emit(bus, KP_EV_PLAY, NULL);
    /* the nested event reaches every listener before the outer one goes on */
    assert_trace(&tr, "S:play K:playerstatechanged R:playerstatechanged K:play R:play");
    kp_bus_free(bus);
}

static void test_nested_two_levels(void **state)
{
    trace tr = {0};
    kp_bus *bus = kp_bus_new(NULL, NULL, NULL);
    lis a = make_lis(&tr, bus, 'A'), b = make_lis(&tr, bus, 'B'), c = make_lis(&tr, bus, 'C');
    a.emit_on = KP_EV_ENDED; /* ended -> pause (at A) */
    a.emit = KP_EV_PAUSE;
    b.emit_on = KP_EV_PAUSE; /* pause -> playerstatechanged (at B) */
    b.emit = KP_EV_PLAYER_STATE_CHANGED;
    kp_bus_listen(bus, -1, on_event, &a);
    kp_bus_listen(bus, -1, on_event, &b);
    kp_bus_listen(bus, -1, on_event, &c);
    kp_bus_emit(bus, KP_EV_ENDED, NULL);
    assert_trace(&tr, "A:ended A:pause B:pause A:playerstatechanged B:playerstatechanged "
                      "C:playerstatechanged C:pause B:ended C:ended");
    kp_bus_free(bus);
}

static void test_nested_snapshots(void **state)
{
    /* A listener removed in an outer dispatch is not called for a nested event emitted after
     * the removal (its snapshot is taken then), but is still called for the outer one; one
     * added in an outer dispatch is called for a nested event emitted after the addition. */
    trace tr = {0};
    kp_bus *bus = kp_bus_new(NULL, NULL, NULL);
    lis a = make_lis(&tr, bus, 'A'), b = make_lis(&tr, bus, 'B'), c = make_lis(&tr, bus, 'C'),
        n = make_lis(&tr, bus, 'N');
    kp_bus_listen(bus, -1, on_event, &a);
    kp_bus_listen(bus, -1, on_event, &b);
    uint64_t cid = kp_bus_listen(bus, -1, on_event, &c);
    a.remove_on = KP_EV_PLAY;
    a.remove_id = cid;
    a.add_on = KP_EV_PLAY;
    a.add = &n;
    a.emit_on = KP_EV_PLAY;
    a.emit = KP_EV_PLAYING;
    kp_bus_emit(bus, KP_EV_PLAY, NULL);
    assert_trace(&tr, "A:play A:playing B:playing N:playing B:play C:play");
    tr.n = 0;
    kp_bus_emit(bus, KP_EV_PAUSE, NULL);
    assert_trace(&tr, "A:pause B:pause N:pause");
    kp_bus_free(bus);
}

/* ---- payload, time and position -------------------------------------------------------------- */

typedef struct keeper {
    json_t *kept;
    const json_t *seen;
    kp_time t;
    double pos;
    int calls;
} keeper;

static void keep_payload(void *ud, const kp_event *ev)
{
    keeper *k = ud;
    k->calls++;
    k->seen = ev->payload;
    k->t = ev->t;
    k->pos = ev->pos;
    if (ev->payload && !k->kept)
        k->kept = json_incref((json_t *)ev->payload);
}

static void peek_payload(void *ud, const kp_event *ev)
{
    keeper *k = ud;
    k->calls++;
    k->seen = ev->payload;
    assert_string_equal(json_string_value(json_object_get(ev->payload, "newState")), "playing");
}

static void test_payload_ownership(void **state)
{
    kp_bus *bus = kp_bus_new(NULL, NULL, NULL);
    keeper peek = {0}, keep = {0};
    kp_bus_listen(bus, KP_EV_PLAYER_STATE_CHANGED, peek_payload, &peek);
    kp_bus_listen(bus, -1, keep_payload, &keep);

    /* the bus releases the payload after the dispatch; a listener can keep a reference */
    json_t *p = json_pack("{s:s, s:s}", "oldState", "paused", "newState", "playing");
    kp_bus_emit(bus, KP_EV_PLAYER_STATE_CHANGED, p);
    assert_int_equal(peek.calls, 1);
    assert_ptr_equal(peek.seen, p);
    assert_ptr_equal(keep.kept, p);
    assert_int_equal(keep.kept->refcount, 1); /* only the keeper's reference is left */
    assert_string_equal(json_string_value(json_object_get(keep.kept, "oldState")), "paused");
    json_decref(keep.kept);

    /* no payload */
    kp_bus_emit(bus, KP_EV_PLAY, NULL);
    assert_null(keep.seen);
    assert_int_equal(keep.calls, 2);

    /* a payload nobody listens to is still released (ASan: no leak) */
    kp_bus_free(bus);
    bus = kp_bus_new(NULL, NULL, NULL);
    kp_bus_emit(bus, KP_EV_TIME_UPDATE, json_pack("{s:f}", "currentTime", 1.5));
    kp_bus_emit(
        bus, KP_EV_ERROR,
        json_pack("{s:i, s:i, s:i, s:{}}", "severity", 2, "category", 7, "code", 7002, "data"));
    kp_bus_free(bus);
}

static double fake_pos(void *ud)
{
    return *(const double *)ud;
}

static void emit_play(void *ud)
{
    kp_bus_emit(ud, KP_EV_PLAY, NULL);
}

static void test_time_and_position(void **state)
{
    kp_sched *s = kp_sched_new();
    double pos = 0.0;
    kp_bus *bus = kp_bus_new(s, fake_pos, &pos);
    keeper k = {0};
    kp_bus_listen(bus, -1, keep_payload, &k);

    kp_bus_emit(bus, KP_EV_LOAD_START, NULL);
    assert_int_equal(k.t, 0);
    assert_float_equal(k.pos, 0.0, 0.0);

    kp_sched_run_until(s, KP_MS(1500));
    pos = 12.25;
    kp_bus_emit(bus, KP_EV_TIME_UPDATE, NULL);
    assert_int_equal(k.t, KP_MS(1500));
    assert_float_equal(k.pos, 12.25, 0.0);

    /* from inside a scheduled task: the task's time */
    pos = 3.5;
    kp_sched_at(s, KP_MS(2750), emit_play, bus);
    assert_true(kp_sched_step(s));
    assert_int_equal(k.calls, 3);
    assert_int_equal(k.t, KP_MS(2750));
    assert_float_equal(k.pos, 3.5, 0.0);
    kp_bus_free(bus);

    /* without scheduler and position callback: zeros */
    bus = kp_bus_new(NULL, NULL, NULL);
    k = (keeper){0};
    kp_bus_listen(bus, -1, keep_payload, &k);
    k.t = 99;
    k.pos = 99.0;
    kp_bus_emit(bus, KP_EV_PLAY, NULL);
    assert_int_equal(k.t, 0);
    assert_float_equal(k.pos, 0.0, 0.0);
    kp_bus_free(bus);
    kp_sched_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_round_trip),
        cmocka_unit_test(test_names_unknown),
        cmocka_unit_test(test_registration_order_and_filter),
        cmocka_unit_test(test_many_listeners),
        cmocka_unit_test(test_added_during_dispatch),
        cmocka_unit_test(test_removed_during_dispatch),
        cmocka_unit_test(test_self_removal),
        cmocka_unit_test(test_nested_dispatch_order),
        cmocka_unit_test(test_nested_two_levels),
        cmocka_unit_test(test_nested_snapshots),
        cmocka_unit_test(test_payload_ownership),
        cmocka_unit_test(test_time_and_position),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
