/* test_state.c: the player state machine (core/src/state.h) against the transition table of
 * reference/kaltura-core.md §1.5, written out cell by cell below (a "-" cell is "no
 * transition"). Every state x every event x seeking x critical x previous state is checked,
 * then the conditional cells get tests of their own.
 */
#include "state.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <setjmp.h>

#include <cmocka.h>

#define N_STATES 5

/* The columns of the reference table, in its order. */
static const kp_event_type columns[] = {
    KP_EV_LOAD_START, KP_EV_PLAY,   KP_EV_PLAYING, KP_EV_LOADED_METADATA, KP_EV_PAUSE,
    KP_EV_WAITING,    KP_EV_SEEKED, KP_EV_ENDED,   KP_EV_ERROR,           KP_EV_TIME_UPDATE,
};
#define N_COLUMNS (sizeof(columns) / sizeof(columns[0]))

/* "seek?" = loading if the element is seeking, else buffering; "prev?" = playing if the
 * previous state was playing, else no transition; the error column applies to CRITICAL
 * errors only. The buffering+timeupdate cell is IE-only in the reference: no transition. */
static const char *const table[N_STATES][N_COLUMNS] = {
    /*              loadstart  play         playing    loadedmeta pause     waiting  seeked
                    ended   error   timeupdate */
    /* idle */ {"loading", "buffering", "-", "-", "-", "-", "paused", "-", "-", "-"},
    /* loading */ {"-", "-", "-", "paused", "-", "-", "prev?", "-", "idle", "-"},
    /* paused */ {"-", "playing", "playing", "-", "-", "-", "-", "idle", "-", "-"},
    /* playing */ {"-", "-", "-", "-", "paused", "seek?", "-", "idle", "idle", "-"},
    /* buffering */ {"-", "-", "playing", "-", "paused", "-", "-", "-", "-", "-"},
};

static kp_state state_named(const char *name)
{
    for (int s = 0; s < N_STATES; s++)
        if (strcmp(kp_state_name((kp_state)s), name) == 0)
            return (kp_state)s;
    fail_msg("no state named %s", name);
    return KP_STATE_IDLE;
}

static kp_state expected(kp_state cur, kp_state prev, kp_event_type ev, bool seeking, bool critical)
{
    size_t col = N_COLUMNS;
    for (size_t c = 0; c < N_COLUMNS; c++)
        if (columns[c] == ev)
            col = c;
    if (col == N_COLUMNS)
        return cur; /* events outside the table never change the state */
    const char *cell = table[cur][col];
    if (strcmp(cell, "-") == 0)
        return cur;
    if (strcmp(cell, "seek?") == 0)
        return seeking ? KP_STATE_LOADING : KP_STATE_BUFFERING;
    if (strcmp(cell, "prev?") == 0)
        return prev == KP_STATE_PLAYING ? KP_STATE_PLAYING : cur;
    if (ev == KP_EV_ERROR && !critical)
        return cur;
    return state_named(cell);
}

static void test_state_names(void **state)
{
    assert_string_equal(kp_state_name(KP_STATE_IDLE), "idle");
    assert_string_equal(kp_state_name(KP_STATE_LOADING), "loading");
    assert_string_equal(kp_state_name(KP_STATE_PAUSED), "paused");
    assert_string_equal(kp_state_name(KP_STATE_PLAYING), "playing");
    assert_string_equal(kp_state_name(KP_STATE_BUFFERING), "buffering");
    assert_string_equal(kp_state_name((kp_state)5), "idle");
    assert_string_equal(kp_state_name((kp_state)-1), "idle");
}

static void test_whole_table(void **state)
{
    size_t checked = 0, transitions = 0;
    for (int cur = 0; cur < N_STATES; cur++)
        for (int ev = 0; ev < KP_EV_COUNT_; ev++)
            for (int prev = 0; prev < N_STATES; prev++)
                for (int seeking = 0; seeking < 2; seeking++)
                    for (int critical = 0; critical < 2; critical++) {
                        kp_state want = expected((kp_state)cur, (kp_state)prev, (kp_event_type)ev,
                                                 seeking, critical);
                        kp_state got = kp_state_next((kp_state)cur, (kp_state)prev,
                                                     (kp_event_type)ev, seeking, critical);
                        if (got != want)
                            fail_msg("%s + %s (prev %s, seeking %d, critical %d): got %s, "
                                     "want %s",
                                     kp_state_name((kp_state)cur), kp_event_name((kp_event_type)ev),
                                     kp_state_name((kp_state)prev), seeking, critical,
                                     kp_state_name(got), kp_state_name(want));
                        checked++;
                        transitions += got != (kp_state)cur;
                    }
    assert_int_equal(checked, (size_t)N_STATES * KP_EV_COUNT_ * N_STATES * 4);
    /* 11 unconditional cells (x20 combinations of prev, seeking, critical), the 2 error
     * cells only when critical (x10), playing+waiting always (x20), loading+seeked only after
     * playing (x4): the table has no other transitions */
    assert_int_equal(transitions, 11 * 20 + 2 * 10 + 20 + 4);
}

static void test_unconditional_cells(void **state)
{
    static const struct {
        kp_state from;
        kp_event_type ev;
        kp_state to;
    } cells[] = {
        {KP_STATE_IDLE, KP_EV_LOAD_START, KP_STATE_LOADING},
        {KP_STATE_IDLE, KP_EV_PLAY, KP_STATE_BUFFERING},
        {KP_STATE_IDLE, KP_EV_SEEKED, KP_STATE_PAUSED},
        {KP_STATE_LOADING, KP_EV_LOADED_METADATA, KP_STATE_PAUSED},
        {KP_STATE_PAUSED, KP_EV_PLAY, KP_STATE_PLAYING},
        {KP_STATE_PAUSED, KP_EV_PLAYING, KP_STATE_PLAYING},
        {KP_STATE_PAUSED, KP_EV_ENDED, KP_STATE_IDLE},
        {KP_STATE_PLAYING, KP_EV_PAUSE, KP_STATE_PAUSED},
        {KP_STATE_PLAYING, KP_EV_ENDED, KP_STATE_IDLE},
        {KP_STATE_BUFFERING, KP_EV_PLAYING, KP_STATE_PLAYING},
        {KP_STATE_BUFFERING, KP_EV_PAUSE, KP_STATE_PAUSED},
    };
    for (size_t i = 0; i < sizeof(cells) / sizeof(cells[0]); i++)
        assert_int_equal(kp_state_next(cells[i].from, KP_STATE_IDLE, cells[i].ev, false, false),
                         cells[i].to);
}

static void test_playing_waiting_uses_seeking(void **state)
{
    assert_int_equal(kp_state_next(KP_STATE_PLAYING, KP_STATE_PAUSED, KP_EV_WAITING, true, false),
                     KP_STATE_LOADING);
    assert_int_equal(kp_state_next(KP_STATE_PLAYING, KP_STATE_PAUSED, KP_EV_WAITING, false, false),
                     KP_STATE_BUFFERING);
    /* the flag matters only there */
    assert_int_equal(kp_state_next(KP_STATE_PAUSED, KP_STATE_PLAYING, KP_EV_WAITING, true, false),
                     KP_STATE_PAUSED);
    assert_int_equal(
        kp_state_next(KP_STATE_BUFFERING, KP_STATE_PLAYING, KP_EV_WAITING, true, false),
        KP_STATE_BUFFERING);
}

static void test_loading_seeked_uses_prev(void **state)
{
    for (int prev = 0; prev < N_STATES; prev++) {
        kp_state want = prev == KP_STATE_PLAYING ? KP_STATE_PLAYING : KP_STATE_LOADING;
        assert_int_equal(
            kp_state_next(KP_STATE_LOADING, (kp_state)prev, KP_EV_SEEKED, false, false), want);
        assert_int_equal(kp_state_next(KP_STATE_LOADING, (kp_state)prev, KP_EV_SEEKED, true, true),
                         want);
    }
}

static void test_errors(void **state)
{
    /* CRITICAL: loading and playing go idle; idle, paused and buffering stay */
    assert_int_equal(kp_state_next(KP_STATE_LOADING, KP_STATE_IDLE, KP_EV_ERROR, false, true),
                     KP_STATE_IDLE);
    assert_int_equal(kp_state_next(KP_STATE_PLAYING, KP_STATE_PAUSED, KP_EV_ERROR, false, true),
                     KP_STATE_IDLE);
    assert_int_equal(kp_state_next(KP_STATE_IDLE, KP_STATE_IDLE, KP_EV_ERROR, false, true),
                     KP_STATE_IDLE);
    assert_int_equal(kp_state_next(KP_STATE_PAUSED, KP_STATE_LOADING, KP_EV_ERROR, false, true),
                     KP_STATE_PAUSED);
    assert_int_equal(kp_state_next(KP_STATE_BUFFERING, KP_STATE_PLAYING, KP_EV_ERROR, false, true),
                     KP_STATE_BUFFERING);
    /* RECOVERABLE: nothing changes, in any state */
    for (int s = 0; s < N_STATES; s++)
        for (int seeking = 0; seeking < 2; seeking++)
            assert_int_equal(
                kp_state_next((kp_state)s, KP_STATE_PLAYING, KP_EV_ERROR, seeking, false), s);
    /* the critical flag is ignored for other events */
    assert_int_equal(kp_state_next(KP_STATE_PAUSED, KP_STATE_IDLE, KP_EV_PLAY, false, true),
                     KP_STATE_PLAYING);
    assert_int_equal(kp_state_next(KP_STATE_PAUSED, KP_STATE_IDLE, KP_EV_PAUSE, false, true),
                     KP_STATE_PAUSED);
}

static void test_resume_skips_buffering(void **state)
{
    /* paused -> playing on play (not on playing): a resume never passes through buffering,
     * while a start from idle does */
    kp_state s = KP_STATE_PAUSED;
    s = kp_state_next(s, KP_STATE_PLAYING, KP_EV_PLAY, false, false);
    assert_int_equal(s, KP_STATE_PLAYING);
    s = kp_state_next(s, KP_STATE_PAUSED, KP_EV_PLAYING, false, false);
    assert_int_equal(s, KP_STATE_PLAYING);

    s = KP_STATE_IDLE;
    s = kp_state_next(s, KP_STATE_IDLE, KP_EV_PLAY, false, false);
    assert_int_equal(s, KP_STATE_BUFFERING);
    s = kp_state_next(s, KP_STATE_IDLE, KP_EV_PLAYING, false, false);
    assert_int_equal(s, KP_STATE_PLAYING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_names),
        cmocka_unit_test(test_whole_table),
        cmocka_unit_test(test_unconditional_cells),
        cmocka_unit_test(test_playing_waiting_uses_seeking),
        cmocka_unit_test(test_loading_seeked_uses_prev),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_resume_skips_buffering),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
