/* test_kava.c: the KAVA beacon builder (kp/kava.h): the event table, every event type's
 * parameters (the common ones, the event's own, none of another event's), the optional fields
 * left out when unset, the POST and GET wire forms, the deterministic session id, and bad
 * input.
 */
#include "kp/kava.h"

#include "kp/err.h"
#include "kp/jsonu.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>

#include <cmocka.h>

static const char *const COMMON[] = {"eventType",  "partnerId", "entryId",      "sessionId",
                                     "eventIndex", "referrer",  "deliveryType", "playbackType",
                                     "clientVer",  "clientTag", "position",     "playbackSpeed",
                                     "playerSkin", NULL};

/* Every key an event may carry besides the common ones. */
static const char *const OWN[] = {"loadedPlugins",
                                  "bufferTime",
                                  "bufferTimeSum",
                                  "actualBitrate",
                                  "joinTime",
                                  "canPlay",
                                  "screenMode",
                                  "targetPosition",
                                  "language",
                                  "errorCode",
                                  "errorDetails",
                                  "errorPosition",
                                  "playTimeSum",
                                  "averageBitrate",
                                  "audioLanguage",
                                  "soundMode",
                                  "tabMode",
                                  "viewabilityMode",
                                  NULL};

typedef struct own_case {
    int type;
    const char *keys[12];
} own_case;

/* kava-event-model.ts: each event's own fields (reference/kaltura-core.md §6.1). */
static const own_case own_cases[] = {
    {KP_KAVA_IMPRESSION, {"loadedPlugins"}},
    {KP_KAVA_PLAY_REQUEST, {0}},
    {KP_KAVA_PLAY, {"bufferTime", "bufferTimeSum", "actualBitrate", "joinTime", "canPlay"}},
    {KP_KAVA_RESUME, {"bufferTime", "bufferTimeSum", "actualBitrate"}},
    {KP_KAVA_PLAY_REACHED_25_PERCENT, {0}},
    {KP_KAVA_PLAY_REACHED_50_PERCENT, {0}},
    {KP_KAVA_PLAY_REACHED_75_PERCENT, {0}},
    {KP_KAVA_PLAY_REACHED_90_PERCENT, {0}},
    {KP_KAVA_PLAY_REACHED_100_PERCENT, {0}},
    {KP_KAVA_ENTER_FULLSCREEN, {"screenMode"}},
    {KP_KAVA_EXIT_FULLSCREEN, {"screenMode"}},
    {KP_KAVA_PAUSE, {0}},
    {KP_KAVA_REPLAY, {0}},
    {KP_KAVA_SEEK, {"targetPosition"}},
    {KP_KAVA_CAPTIONS, {0}},
    {KP_KAVA_SOURCE_SELECTED, {"actualBitrate"}},
    {KP_KAVA_SPEED, {0}},
    {KP_KAVA_AUDIO_SELECTED, {"language"}},
    {KP_KAVA_FLAVOR_SWITCH, {"actualBitrate"}},
    {KP_KAVA_BUFFER_START, {0}},
    {KP_KAVA_BUFFER_END, {0}},
    {KP_KAVA_ERROR, {"errorCode", "errorDetails", "errorPosition"}},
    {KP_KAVA_VIEW,
     {"playTimeSum", "bufferTime", "bufferTimeSum", "actualBitrate", "averageBitrate",
      "audioLanguage", "soundMode", "tabMode", "viewabilityMode", "screenMode"}},
};

static kp_kava_snapshot full_snapshot(json_t *details)
{
    kp_kava_snapshot s = {
        .partner_id = 1234567,
        .entry_id = "0_abcdefgh",
        .session_id = "sid-1",
        .event_index = 7,
        .referrer = "http://127.0.0.1/kpsim/player.html",
        .delivery_type = "hls",
        .playback_type = "vod",
        .client_ver = "3.17.95",
        .position = 12.3456,
        .playback_speed = 1,
        .player_skin = 1,
        .loaded_plugins = "kava,ima",
        .buffer_time = 0.25,
        .buffer_time_sum = 1.5,
        .actual_bitrate = 722.625,
        .average_bitrate = 700,
        .join_time = 0.4434,
        .can_play = true,
        .play_time_sum = 21,
        .audio_language = "en",
        .sound_mode = 2,
        .tab_mode = 2,
        .viewability_mode = 1,
        .screen_mode = 1,
        .target_position = 15,
        .error_code = 6007,
        .error_position = KP_KAVA_PRE_PLAYING,
        .error_details = details,
    };
    return s;
}

static bool listed(const char *const *keys, const char *k)
{
    for (size_t i = 0; keys[i]; i++)
        if (strcmp(keys[i], k) == 0)
            return true;
    return false;
}

static void test_event_table(void **state)
{
    (void)state;
    assert_string_equal(kp_kava_event_name(1), "IMPRESSION");
    assert_string_equal(kp_kava_event_name(99), "VIEW");
    assert_string_equal(kp_kava_event_name(15), "PLAY_REACHED_90_PERCENT");
    assert_null(kp_kava_event_name(0));
    assert_null(kp_kava_event_name(44));
    assert_int_equal(kp_kava_event_lookup("BUFFER_END"), 46);
    assert_int_equal(kp_kava_event_lookup("ERROR"), 98);
    assert_int_equal(kp_kava_event_lookup("error"), -1);
    assert_int_equal(kp_kava_event_lookup(NULL), -1);
    for (size_t i = 0; i < sizeof(own_cases) / sizeof(own_cases[0]); i++)
        assert_int_equal(kp_kava_event_lookup(kp_kava_event_name(own_cases[i].type)),
                         own_cases[i].type);
}

static void test_every_event_params(void **state)
{
    (void)state;
    json_t *details = json_pack("{s:i}", "responseCode", 403);
    kp_kava_snapshot s = full_snapshot(details);
    for (size_t i = 0; i < sizeof(own_cases) / sizeof(own_cases[0]); i++) {
        const own_case *c = &own_cases[i];
        json_t *p = kp_kava_params(c->type, &s);
        assert_non_null(p);
        for (size_t k = 0; COMMON[k]; k++)
            if (!json_object_get(p, COMMON[k]))
                fail_msg("event %d lacks %s", c->type, COMMON[k]);
        const char *key;
        json_t *v;
        json_object_foreach(p, key, v)
        {
            if (listed(OWN, key) && !listed(c->keys, key))
                fail_msg("event %s carries %s", kp_kava_event_name(c->type), key);
        }
        for (size_t k = 0; k < 12 && c->keys[k]; k++)
            if (!json_object_get(p, c->keys[k]))
                fail_msg("event %s lacks %s", kp_kava_event_name(c->type), c->keys[k]);
        assert_int_equal(kp_json_int(p, "eventType", 0), c->type);
        assert_int_equal(kp_json_int(p, "partnerId", 0), 1234567);
        assert_int_equal(kp_json_int(p, "eventIndex", 0), 7);
        assert_string_equal(kp_json_str(p, "clientTag", ""), "html5:v3.17.95");
        /* rounded to the millisecond */
        assert_true(kp_json_num(p, "position", 0) == 12.346);
        json_decref(p);
    }
    json_t *p = kp_kava_params(KP_KAVA_ERROR, &s);
    assert_int_equal(kp_json_int(p, "errorCode", 0), 6007);
    assert_int_equal(kp_json_int(p, "errorPosition", 0), 1);
    assert_int_equal(kp_json_int(p, "errorDetails.responseCode", 0), 403);
    json_decref(p);
    p = kp_kava_params(KP_KAVA_PLAY, &s);
    assert_true(kp_json_num(p, "joinTime", 0) == 0.443);
    assert_int_equal(kp_json_int(p, "canPlay", 0), 1);
    assert_true(kp_json_num(p, "actualBitrate", 0) == 722.625);
    json_decref(p);
    p = kp_kava_params(KP_KAVA_VIEW, &s);
    /* whole numbers are JSON integers, as JSON.stringify writes them */
    assert_true(json_is_integer(json_object_get(p, "playTimeSum")));
    assert_int_equal(kp_json_int(p, "playTimeSum", 0), 21);
    assert_string_equal(kp_json_str(p, "audioLanguage", ""), "en");
    json_decref(p);
    json_decref(details);
}

static void test_optional_fields(void **state)
{
    (void)state;
    kp_kava_snapshot s = full_snapshot(NULL);
    json_t *p = kp_kava_params(KP_KAVA_PAUSE, &s);
    static const char *const optional[] = {"ks",
                                           "uiConfId",
                                           "playlistId",
                                           "customVar1",
                                           "customVar2",
                                           "customVar3",
                                           "playbackContext",
                                           "application",
                                           "applicationVer",
                                           "kalturaApplication",
                                           "kalturaApplicationVer",
                                           "userId",
                                           "persistentSessionId",
                                           "caption",
                                           "sessionStartTime",
                                           NULL};
    for (size_t i = 0; optional[i]; i++)
        if (json_object_get(p, optional[i]))
            fail_msg("unset %s was sent", optional[i]);
    json_decref(p);
    s.ks = "djJ8MTIzNDU2N3x";
    s.ui_conf_id = "23448";
    s.custom_var[1] = "two";
    s.kaltura_application = "21";
    s.session_start_time = 1767225600.5;
    s.caption = "";
    p = kp_kava_params(KP_KAVA_PAUSE, &s);
    assert_string_equal(kp_json_str(p, "ks", ""), "djJ8MTIzNDU2N3x");
    assert_string_equal(kp_json_str(p, "uiConfId", ""), "23448");
    assert_string_equal(kp_json_str(p, "customVar2", ""), "two");
    assert_null(json_object_get(p, "customVar1"));
    assert_null(json_object_get(p, "caption")); /* "" counts as unset */
    assert_string_equal(kp_json_str(p, "kalturaApplication", ""), "21");
    assert_true(kp_json_num(p, "sessionStartTime", 0) == 1767225600.5);
    json_decref(p);
    /* bad input */
    assert_null(kp_kava_params(44, &s));
    assert_null(kp_kava_params(KP_KAVA_VIEW, NULL));
}

static void test_post_request(void **state)
{
    (void)state;
    kp_kava_snapshot s = full_snapshot(NULL);
    s.entry_id = "0_a b&c";
    json_t *p = kp_kava_params(KP_KAVA_SEEK, &s);
    char *url = NULL, *body = NULL;
    assert_int_equal(kp_kava_request("http://h/analytics/api_v3/index.php", p, true, &url, &body),
                     KP_OK);
    assert_string_equal(url, "http://h/analytics/api_v3/index.php?service=analytics&action="
                             "trackEvent&eventType=35&partnerId=1234567&entryId=0_a%20b%26c&"
                             "sessionId=sid-1");
    json_t *b = json_loads(body, 0, NULL);
    assert_non_null(b);
    assert_string_equal(kp_json_str(b, "apiVersion", ""), "3.3.0");
    assert_int_equal(kp_json_int(b, "format", 0), 1);
    assert_int_equal(kp_json_int(b, "eventIndex", 0), 7);
    assert_int_equal(kp_json_int(b, "targetPosition", 0), 15);
    assert_null(json_object_get(b, "eventType")); /* in the URL only */
    assert_null(json_object_get(b, "sessionId"));
    json_decref(b);
    free(url);
    free(body);
    /* a service URL with a query of its own */
    assert_int_equal(kp_kava_request("http://h/x?a=1", p, true, &url, &body), KP_OK);
    assert_true(strncmp(url, "http://h/x?a=1&service=analytics&action=trackEvent&", 51) == 0);
    free(url);
    free(body);
    json_decref(p);
}

static void test_get_request(void **state)
{
    (void)state;
    kp_kava_snapshot s = full_snapshot(NULL);
    json_t *p = kp_kava_params(KP_KAVA_BUFFER_START, &s);
    char *url = NULL, *body = (char *)"x";
    assert_int_equal(kp_kava_request("http://h/i.php", p, false, &url, &body), KP_OK);
    assert_null(body);
    assert_true(strncmp(url, "http://h/i.php?service=analytics&action=trackEvent&", 51) == 0);
    assert_non_null(strstr(url, "&eventType=45&"));
    assert_non_null(strstr(url, "&apiVersion=3.3.0&"));
    assert_non_null(strstr(url, "&position=12.346&"));
    assert_non_null(strstr(url, "&referrer=http%3A%2F%2F127.0.0.1%2Fkpsim%2Fplayer.html&"));
    assert_non_null(strstr(url, "&clientTag=html5%3Av3.17.95&"));
    free(url);
    /* GET needs no body pointer; POST does */
    assert_int_equal(kp_kava_request("http://h/i.php", p, false, &url, NULL), KP_OK);
    free(url);
    assert_int_equal(kp_kava_request("http://h/i.php", p, true, &url, NULL), KP_EINVAL);
    assert_null(url);
    assert_int_equal(kp_kava_request("", p, false, &url, NULL), KP_EINVAL);
    assert_int_equal(kp_kava_request(NULL, p, false, &url, NULL), KP_EINVAL);
    json_t *arr = json_array();
    assert_int_equal(kp_kava_request("http://h", arr, false, &url, NULL), KP_EINVAL);
    json_decref(arr);
    json_decref(p);
}

static void test_session_id(void **state)
{
    (void)state;
    char a[37], b[37], c[37], d[37];
    kp_kava_session_id(1234567, "0_vod00001", a);
    kp_kava_session_id(1234567, "0_vod00001", b);
    kp_kava_session_id(1234567, "0_vod00002", c);
    kp_kava_session_id(7654321, "0_vod00001", d);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_string_not_equal(a, d);
    assert_int_equal(strlen(a), 36);
    assert_int_equal(a[8], '-');
    assert_int_equal(a[14], '4'); /* version-4 shaped */
    kp_kava_session_id(0, NULL, a);
    assert_int_equal(strlen(a), 36);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_table),     cmocka_unit_test(test_every_event_params),
        cmocka_unit_test(test_optional_fields), cmocka_unit_test(test_post_request),
        cmocka_unit_test(test_get_request),     cmocka_unit_test(test_session_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
