/* test_media_element.c: the simulated media element (core/src/media.c) on the virtual clock:
 * the load algorithm, readiness, play/pause, seeking, stalls, end of stream, the end of
 * playback and the timeupdate cadence, each as the sequence and times of its events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "demux.h"
#include "kp/buf.h"
#include "media.h"

#include <string.h>

typedef struct rec {
    kp_sched *s;
    kp_media *m;
    kp_buf log; /* "t:event " entries, t in ms */
    int relay_calls, adapter_calls;
} rec;

static void relay(void *ud, kp_event_type t)
{
    rec *r = ud;
    r->relay_calls++;
    kp_buf_printf(&r->log, "%lld:%s ", (long long)(kp_sched_now(r->s) / 1000), kp_event_name(t));
}

static void adapter(void *ud, kp_event_type t)
{
    rec *r = ud;
    /* the adapter hears every event, after the relay */
    assert_int_equal(r->adapter_calls + 1, r->relay_calls);
    r->adapter_calls++;
}

static int setup(void **state)
{
    rec *r = calloc(1, sizeof(*r));
    r->s = kp_sched_new();
    r->m = kp_media_new(r->s);
    kp_buf_init(&r->log);
    kp_media_set_relay(r->m, relay, r);
    kp_media_set_adapter(r->m, adapter, r);
    *state = r;
    return 0;
}

static int teardown(void **state)
{
    rec *r = *state;
    kp_media_free(r->m);
    kp_sched_free(r->s);
    kp_buf_free(&r->log);
    free(r);
    return 0;
}

/* Runs the clock to `ms` and returns the events logged since the last call. */
static const char *until(rec *r, long long ms)
{
    kp_buf_reset(&r->log);
    kp_sched_run_until(r->s, KP_MS(ms));
    return r->log.data ? r->log.data : "";
}

/* Appends [a, b) seconds to both tracks. */
static void append(rec *r, double a, double b)
{
    kp_media_append(r->m, KP_TRACK_VIDEO, KP_SEC(a), KP_SEC(b));
    kp_media_append(r->m, KP_TRACK_AUDIO, KP_SEC(a), KP_SEC(b));
    kp_media_appended(r->m);
}

static void test_load_and_readiness(void **state)
{
    rec *r = *state;
    kp_media_load(r->m);
    assert_string_equal(until(r, 10), "0:emptied 0:loadstart ");
    kp_media_set_duration(r->m, KP_SEC(10));
    assert_string_equal(until(r, 20), "10:durationchange ");
    assert_int_equal(kp_media_ready_state(r->m), KP_HAVE_NOTHING);
    append(r, 0, 2); /* metadata, but less than 2.5 s ahead */
    assert_string_equal(until(r, 30), "20:durationchange 20:loadedmetadata ");
    assert_int_equal(kp_media_ready_state(r->m), KP_HAVE_METADATA);
    append(r, 2, 4); /* enough ahead: paused, so no playing */
    assert_string_equal(until(r, 40), "30:loadeddata 30:canplay 30:canplaythrough ");
    assert_int_equal(kp_media_ready_state(r->m), KP_HAVE_ENOUGH_DATA);
    assert_true(kp_media_paused(r->m));
    /* setting the same duration again is no change */
    kp_media_set_duration(r->m, KP_SEC(10));
    assert_string_equal(until(r, 40), "");
}

static void test_play_before_data_then_playing(void **state)
{
    rec *r = *state;
    kp_media_load(r->m);
    kp_media_set_duration(r->m, KP_SEC(10));
    kp_media_play(r->m);
    assert_string_equal(until(r, 100), "0:emptied 0:loadstart 0:durationchange 0:play 0:waiting ");
    append(r, 0, 4);
    assert_string_equal(until(r, 100), "100:durationchange 100:loadedmetadata 100:loadeddata "
                                       "100:canplay 100:playing 100:canplaythrough ");
    /* timeupdate every 250 ms of playback; the position follows the clock */
    assert_string_equal(until(r, 600), "350:timeupdate 600:timeupdate ");
    assert_int_equal(kp_media_position(r->m), KP_MS(500));
}

static void test_pause_and_resume(void **state)
{
    rec *r = *state;
    kp_media_load(r->m);
    kp_media_set_duration(r->m, KP_SEC(10));
    append(r, 0, 10);
    kp_media_play(r->m);
    until(r, 0);
    until(r, 1000);
    kp_media_pause(r->m);
    assert_string_equal(until(r, 1000), "1000:timeupdate 1000:pause ");
    assert_string_equal(until(r, 5000), ""); /* paused: nothing, the position stays */
    assert_int_equal(kp_media_position(r->m), KP_SEC(1));
    kp_media_play(r->m);
    assert_string_equal(until(r, 5000), "5000:play 5000:playing ");
    kp_media_pause(r->m);
    kp_media_pause(r->m); /* a second pause is no change */
    assert_string_equal(until(r, 5000), "5000:timeupdate 5000:pause ");
}

static void test_seek_in_buffer_while_playing(void **state)
{
    rec *r = *state;
    kp_media_load(r->m);
    kp_media_set_duration(r->m, KP_SEC(10));
    append(r, 0, 10);
    kp_media_play(r->m);
    until(r, 1000);
    kp_media_seek(r->m, KP_SEC(5));
    assert_true(kp_media_seeking(r->m));
    assert_string_equal(until(r, 1000), "1000:seeking 1000:waiting ");
    assert_string_equal(
        until(r, 1015),
        "1015:timeupdate 1015:seeked 1015:canplay 1015:playing 1015:canplaythrough ");
    assert_false(kp_media_seeking(r->m));
    assert_int_equal(kp_media_position(r->m), KP_SEC(5));
}

static void test_seek_outside_buffer_waits_for_data(void **state)
{
    rec *r = *state;
    kp_media_load(r->m);
    kp_media_set_duration(r->m, KP_SEC(20));
    append(r, 0, 6);
    until(r, 0);
    kp_media_seek(r->m, KP_SEC(12)); /* paused: no waiting */
    assert_string_equal(until(r, 500), "0:seeking ");
    append(r, 12, 14);
    assert_string_equal(until(r, 600), ""); /* 2 s ahead is not enough */
    append(r, 14, 16); /* at 600 ms: 4 s ahead, the seek completes after decoding */
    assert_string_equal(until(r, 700), "615:timeupdate 615:seeked 615:canplay 615:canplaythrough ");
    assert_true(kp_media_is_buffered(r->m, KP_SEC(13)));
    assert_false(kp_media_is_buffered(r->m, KP_SEC(8)));
    assert_int_equal(kp_media_buffered_end(r->m, KP_SEC(12)), KP_SEC(16));
}

/* A seek onto a fragment boundary whose data starts a little later (video 21 ms after the
 * nominal start, audio at it): the position is in a hole, and the next playable range starts
 * where both tracks have data, which the HLS engine's gap controller jumps into. */
static void test_hole_in_front_of_a_seek(void **state)
{
    rec *r = *state;
    kp_media_load(r->m);
    kp_media_set_duration(r->m, KP_SEC(20));
    append(r, 0, 6);
    until(r, 0);
    kp_media_seek(r->m, KP_SEC(12));
    assert_string_equal(until(r, 100), "0:seeking ");
    assert_int_equal(kp_media_next_buffered_start(r->m, KP_SEC(12)), -1); /* nothing ahead */
    kp_media_append(r->m, KP_TRACK_AUDIO, KP_SEC(12), KP_SEC(18));
    kp_media_append(r->m, KP_TRACK_VIDEO, KP_MS(12021), KP_SEC(18));
    kp_media_appended(r->m);
    assert_string_equal(until(r, 1000), ""); /* the seek waits in the hole */
    assert_false(kp_media_is_buffered(r->m, KP_SEC(12)));
    assert_int_equal(kp_media_next_buffered_start(r->m, KP_SEC(12)), KP_MS(12021));
    assert_int_equal(kp_media_next_buffered_start(r->m, KP_SEC(8)), KP_MS(12021));
    assert_int_equal(kp_media_next_buffered_start(r->m, KP_SEC(13)), -1); /* inside: no hole */
    assert_int_equal(kp_media_next_buffered_start(r->m, KP_SEC(3)), -1);
    kp_media_seek(r->m, KP_MS(12100)); /* the nudge completes */
    assert_string_equal(until(r, 1200), "1000:seeking 1015:timeupdate 1015:seeked 1015:canplay "
                                        "1015:canplaythrough ");
}

static void test_stall_and_recovery(void **state)
{
    rec *r = *state;
    kp_media_load(r->m);
    kp_media_set_duration(r->m, KP_SEC(10));
    append(r, 0, 3);
    kp_media_play(r->m);
    until(r, 0);
    /* the playhead reaches the end of the buffer at 3 s */
    const char *log = until(r, 3100);
    assert_non_null(strstr(log, "3000:timeupdate 3000:waiting "));
    assert_int_equal(kp_media_position(r->m), KP_SEC(3));
    append(r, 3, 6);
    assert_string_equal(until(r, 3200), "3100:canplay 3100:playing 3100:canplaythrough ");
}

/* The element's own fetch: `progress` while bytes arrive, `stalled` once after 3 s without
 * any (on the virtual clock), again only after bytes came and stopped again. */
static void test_stalled_fetch(void **state)
{
    rec *r = *state;
    kp_media_load(r->m);
    until(r, 0);
    kp_media_net_loading(r->m);
    kp_media_net_received(r->m);
    assert_string_equal(until(r, 400), "350:progress ");
    /* no bytes since t=0: the tick after 3 s (3150 ms) fires stalled, once */
    assert_string_equal(until(r, 3100), "");
    assert_string_equal(until(r, 3200), "3150:stalled ");
    assert_string_equal(until(r, 9000), "");
    kp_media_net_received(r->m);
    assert_string_equal(until(r, 9200), "9100:progress ");
    assert_string_equal(until(r, 12000), "");
    assert_string_equal(until(r, 12300), "12250:stalled ");
    kp_media_net_idle(r->m);
    assert_string_equal(until(r, 20000), "12300:suspend ");
}

static void test_end_of_stream_and_end(void **state)
{
    rec *r = *state;
    kp_media_load(r->m);
    kp_media_set_duration(r->m, KP_SEC(4));
    kp_media_append(r->m, KP_TRACK_VIDEO, 0, KP_SEC(4));
    kp_media_append(r->m, KP_TRACK_AUDIO, 0, KP_MS(4027)); /* audio runs 27 ms longer */
    kp_media_end_of_stream(r->m);
    /* MediaSource.duration, then metadata, then the longer track extends the duration, and
     * endOfStream fires durationchange again */
    assert_string_equal(until(r, 0), "0:emptied 0:loadstart 0:durationchange 0:durationchange "
                                     "0:loadedmetadata 0:durationchange 0:durationchange "
                                     "0:loadeddata 0:canplay 0:canplaythrough ");
    assert_int_equal(kp_media_duration(r->m), KP_MS(4027));
    kp_media_play(r->m);
    const char *log = until(r, 5000);
    /* playback runs past the video's end to the duration, then pause and ended */
    assert_non_null(strstr(log, "4027:timeupdate 4027:pause 4027:ended "));
    assert_true(kp_media_ended(r->m));
    assert_true(kp_media_paused(r->m));
    /* play after the end starts again from 0 */
    kp_media_play(r->m);
    log = until(r, 5100);
    assert_true(kp_str_starts(log, "5000:seeking 5000:play "));
}

static void test_volume_and_detach(void **state)
{
    rec *r = *state;
    kp_media_set_muted(r->m, true);
    kp_media_set_muted(r->m, true);
    kp_media_set_volume(r->m, 0.5);
    kp_media_set_volume(r->m, 2.0); /* clamped to 1 */
    assert_string_equal(until(r, 0), "0:volumechange 0:volumechange 0:volumechange ");
    assert_true(kp_media_volume(r->m) == 1.0);
    kp_media_load(r->m);
    kp_media_detach(r->m); /* queued events are dropped */
    assert_string_equal(until(r, 10), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_load_and_readiness, setup, teardown),
        cmocka_unit_test_setup_teardown(test_play_before_data_then_playing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pause_and_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seek_in_buffer_while_playing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seek_outside_buffer_waits_for_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hole_in_front_of_a_seek, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stall_and_recovery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stalled_fetch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_end_of_stream_and_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_volume_and_detach, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
