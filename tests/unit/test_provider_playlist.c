/* test_provider_playlist.c: the OVP provider's playlists and entry lists (kp/provider.h):
 * the requests (session, playlist.get/execute, userEntry.list; one baseEntry.list per entry;
 * the empty-playlist retry's commas), the ProviderPlaylistObject, "empty, retry" versus final,
 * the missing-id and failure paths, entries matched by position; user.get; then the
 * synchronous client against the mock back-end over real sockets: the retry loop, user.get
 * setting isAnonymous, and transport failures (connection reset, refused, timeout).
 * Fixtures: $KPSIM_TEST_DATA/provider/playlist_anon.json (session, playlist, two entries,
 * userEntry list) and entry_list_anon.json (session, list, error, list).
 */
#include "kp/buf.h"
#include "kp/err.h"
#include "kp/jsonu.h"
#include "kp/provider.h"
#include "mbe/mbe.h"
#include "mock_server.h"
#include "provider_fixture.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#define MR_URL "https://cdnapisec.kaltura.com/api_v3/service/multirequest"
#define FIELDS                                                                                   \
    "id,referenceId,name,description,thumbnailUrl,dataUrl,duration,msDuration,flavorParamsIds,"  \
    "mediaType,type,tags,dvrStatus,externalSourceType,status,createdAt,updatedAt,endDate,plays," \
    "views,downloadUrl,creatorId,userId,rootEntryId,capabilities,adminTags"

/* ---- helpers -------------------------------------------------------------------------------- */

static const char *const k_hdrs[] = {"X-Kaltura-Session: 5"};

/* An outcome for body (owned by *text, which the caller frees). */
static kp_http_outcome answer(const json_t *body, char **text)
{
    *text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
    assert_non_null(*text);
    return test_outcome(*text, MR_URL, k_hdrs, 1);
}

/* kp_ovp_playlist_parse on body; returns its code. */
static int playlist_parse(const kp_provider_opts *o, const kp_playlist_info *pi, int retry,
                          const json_t *body, json_t **pl, json_t **err)
{
    char *text;
    kp_http_outcome h = answer(body, &text);
    int rc = kp_ovp_playlist_parse(o, pi, retry, &h, pl, err);
    free(text);
    return rc;
}

static int entry_list_parse(const kp_provider_opts *o, const kp_entry_list_info *el,
                            const json_t *body, json_t **pl, json_t **err)
{
    char *text;
    kp_http_outcome h = answer(body, &text);
    int rc = kp_ovp_entry_list_parse(o, el, &h, pl, err);
    free(text);
    return rc;
}

/* ---- playlists ------------------------------------------------------------------------------ */

static void test_playlist_request(void **state)
{
    (void)state;
    kp_provider_opts o = test_ovp_opts();
    kp_playlist_info pi = {.playlist_id = "0_pl"};
    char *url;
    json_t *body, *err;
    assert_int_equal(kp_ovp_playlist_request(&o, &pi, 0, &url, &body, &err), 0);
    assert_string_equal(url, MR_URL);
    test_assert_json(
        body, "{\"1\":{\"service\":\"session\",\"action\":\"startWidgetSession\","
              "\"widgetId\":\"_123\"},"
              "\"2\":{\"service\":\"playlist\",\"action\":\"get\",\"ks\":\"{1:result:ks}\","
              "\"id\":\"0_pl\",\"responseProfile\":{\"fields\":\"id,name,description,"
              "thumbnailUrl\",\"type\":1}},"
              "\"3\":{\"service\":\"playlist\",\"action\":\"execute\",\"ks\":\"{1:result:ks}\","
              "\"id\":\"0_pl\",\"responseProfile\":{\"type\":1,\"fields\":\"" FIELDS "\"}},"
              "\"4\":{\"service\":\"userEntry\",\"action\":\"list\",\"ks\":\"{1:result:ks}\","
              "\"filter\":{\"objectType\":\"KalturaViewHistoryUserEntry\",\"entryIdEqual\":"
              "\"0_pl\",\"userIdEqualCurrent\":1},\"responseProfile\":{\"fields\":"
              "\"playlistLastEntryId\",\"type\":1}},"
              "\"apiVersion\":\"3.3.0\",\"format\":1,\"ks\":\"\",\"clientTag\":\"html5:vT\","
              "\"partnerId\":123}");
    free(url);
    json_decref(body);
    /* with a KS: three sub-requests, the KS literal everywhere */
    pi.ks = "PKS";
    assert_int_equal(kp_ovp_playlist_request(&o, &pi, 0, &url, &body, &err), 0);
    assert_string_equal(kp_json_str(body, "1.action", ""), "get");
    assert_string_equal(kp_json_str(body, "3.service", ""), "userEntry");
    assert_null(json_object_get(body, "4"));
    for (int i = 1; i <= 3; i++) {
        char path[16];
        snprintf(path, sizeof(path), "%d.ks", i);
        assert_string_equal(kp_json_str(body, path, ""), "PKS");
    }
    assert_string_equal(kp_json_str(body, "ks", ""), "PKS");
    free(url);
    json_decref(body);
}

static void test_playlist_retry_commas(void **state)
{
    (void)state;
    kp_provider_opts o = test_ovp_opts();
    kp_playlist_info pi = {.playlist_id = "0_pl", .ks = "PKS"};
    int ks[] = {1, 3, 10};
    for (size_t i = 0; i < 3; i++) {
        char *url;
        json_t *body, *err;
        assert_int_equal(kp_ovp_playlist_request(&o, &pi, ks[i], &url, &body, &err), 0);
        const char *fields = kp_json_str(body, "2.responseProfile.fields", "");
        size_t n = strlen(FIELDS);
        assert_int_equal(strlen(fields), n + (size_t)ks[i]);
        assert_memory_equal(fields, FIELDS, n);
        assert_int_equal(strspn(fields + n, ","), (size_t)ks[i]);
        /* only playlist.execute is busted */
        assert_string_equal(kp_json_str(body, "1.responseProfile.fields", ""),
                            "id,name,description,thumbnailUrl");
        free(url);
        json_decref(body);
    }
    char *url;
    json_t *body, *err;
    assert_int_equal(kp_ovp_playlist_request(&o, &pi, 11, &url, &body, &err), KP_EINVAL);
    assert_int_equal(kp_ovp_playlist_request(&o, &pi, -1, &url, &body, &err), KP_EINVAL);
    /* a missing id: 3000 */
    pi.playlist_id = "";
    assert_int_equal(kp_ovp_playlist_request(&o, &pi, 0, &url, &body, &err), KP_EINVAL);
    test_assert_json(err, "{\"severity\":2,\"category\":3,\"code\":3000,\"data\":{\"message\":"
                          "\"Missing mandatory parameter\"}}");
    json_decref(err);
}

static void test_playlist_parse(void **state)
{
    (void)state;
    kp_provider_opts o = test_ovp_opts();
    kp_playlist_info pi = {.playlist_id = "0_pl"};
    json_t *fx = test_provider_json("playlist_anon.json");
    json_t *pl, *err;
    assert_int_equal(playlist_parse(&o, &pi, 0, fx, &pl, &err), 0);
    assert_null(err);
    test_assert_json(
        pl, "{\"id\":\"0_pl\",\"metadata\":{\"name\":\"My list\",\"description\":"
            "\"two clips\"},\"poster\":\"https://img.example/p/123/thumbnail/entry_id/0_pl/"
            "version/1\",\"playlistLastEntryId\":\"0_live\",\"items\":["
            "{\"sources\":{\"hls\":[],\"dash\":[],\"progressive\":[],\"image\":[],"
            "\"document\":[],\"id\":\"0_a\",\"duration\":30,\"type\":\"Vod\","
            "\"poster\":\"https://img.example/p/123/thumbnail/entry_id/0_a/version/1\","
            "\"rawThumbnailUrl\":\"https://img.example/p/123/thumbnail/entry_id/0_a/"
            "version/1\",\"dvr\":false,\"vr\":{},\"metadata\":{\"name\":\"Clip A\","
            "\"description\":\"\",\"tags\":\"x, 360\",\"entryId\":\"0_a\",\"adminTags\":\"\","
            "\"createdAt\":1700000000},\"downloadUrl\":\"\",\"rootEntryId\":\"0_a\","
            "\"capabilities\":[\"c1\",\"c2\"]}},"
            "{\"sources\":{\"hls\":[],\"dash\":[],\"progressive\":[],\"image\":[],"
            "\"document\":[],\"id\":\"0_live\",\"type\":\"Live\","
            "\"poster\":\"https://img.example/p/123/thumbnail/entry_id/0_live/version/1\","
            "\"rawThumbnailUrl\":\"https://img.example/p/123/thumbnail/entry_id/0_live/"
            "version/1\",\"dvr\":true,\"vr\":null,\"metadata\":{\"name\":\"Live\","
            "\"description\":\"\",\"tags\":\"\",\"entryId\":\"0_live\",\"adminTags\":\"\"},"
            "\"downloadUrl\":\"https://dl.example/0_live\",\"capabilities\":[]}}]}");
    /* items carry no captions, audioFlavors or aspectRatio */
    assert_null(kp_json_path(pl, "items.0.sources.captions"));
    assert_null(kp_json_path(pl, "items.0.sources.metadata.audioFlavors"));
    json_decref(pl);

    /* no userEntry object: playlistLastEntryId is absent (undefined) */
    json_array_set_new(fx, 3, json_pack("{s:[], s:i}", "objects", "totalCount", 0));
    assert_int_equal(playlist_parse(&o, &pi, 0, fx, &pl, &err), 0);
    assert_null(json_object_get(pl, "playlistLastEntryId"));
    assert_int_equal(json_array_size(json_object_get(pl, "items")), 2);
    json_decref(pl);
    json_decref(fx);
}

static void test_playlist_empty_retry_then_final(void **state)
{
    (void)state;
    kp_provider_opts o = test_ovp_opts();
    kp_playlist_info pi = {.playlist_id = "0_pl"};
    json_t *fx = test_provider_json("playlist_anon.json");
    json_array_set_new(fx, 2, json_array());
    json_t *pl = (json_t *)1, *err = (json_t *)1;
    for (int k = 0; k < KP_OVP_PLAYLIST_MAX_RETRIES; k++) {
        assert_int_equal(playlist_parse(&o, &pi, k, fx, &pl, &err), KP_PROVIDER_RETRY);
        assert_null(pl);
        assert_null(err);
    }
    assert_int_equal(playlist_parse(&o, &pi, KP_OVP_PLAYLIST_MAX_RETRIES, fx, &pl, &err), 0);
    assert_null(pl);
    test_assert_json(err, "{\"severity\":2,\"category\":2,\"code\":3001,\"data\":{\"action\":\"\","
                          "\"messages\":\"No play source for playlist id: 0_pl\",\"playlist\":"
                          "{\"id\":\"\",\"metadata\":{\"name\":\"\",\"description\":\"\"},"
                          "\"poster\":\"\",\"playlistLastEntryId\":\"\",\"items\":[]}}}");
    json_decref(err);
    json_decref(fx);
}

static void test_playlist_failures(void **state)
{
    (void)state;
    kp_provider_opts o = test_ovp_opts();
    kp_playlist_info pi = {.playlist_id = "0_pl"};
    json_t *fx = test_provider_json("playlist_anon.json");
    json_t *pl, *err;
    /* an error item: 1006 (no retry) */
    json_t *bad = json_deep_copy(fx);
    json_array_set_new(bad, 1,
                       json_pack("{s:s, s:s, s:s}", "code", "INVALID_PLAYLIST_ID", "message", "x",
                                 "objectType", "KalturaAPIException"));
    assert_int_equal(playlist_parse(&o, &pi, 0, bad, &pl, &err), 0);
    assert_int_equal(kp_json_int(err, "code", 0), 1006);
    assert_string_equal(kp_json_str(err, "data.headers.0", ""), "x-kaltura-session: 5\r");
    json_decref(err);
    json_decref(bad);
    /* shapes the JS cannot digest: 1007 */
    const char *edits[] = {"execute-object", "null-entry", "caps-number", "missing-userentry",
                           "objects-string"};
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        bad = json_deep_copy(fx);
        if (!strcmp(edits[i], "execute-object"))
            json_array_set_new(bad, 2, json_object());
        else if (!strcmp(edits[i], "null-entry"))
            json_array_append_new(json_array_get(bad, 2), json_null());
        else if (!strcmp(edits[i], "caps-number"))
            json_object_set_new(json_array_get(json_array_get(bad, 2), 0), "capabilities",
                                json_integer(3));
        else if (!strcmp(edits[i], "missing-userentry"))
            json_array_remove(bad, 3);
        else
            json_object_set_new(json_array_get(bad, 3), "objects", json_string("x"));
        assert_int_equal(playlist_parse(&o, &pi, 0, bad, &pl, &err), 0);
        if (kp_json_int(err, "code", 0) != 1007)
            fail_msg("%s: got %s", edits[i], kp_json_dumps(err));
        json_decref(err);
        json_decref(bad);
    }
    /* transport: 1002 */
    kp_http_outcome h = {.transport_error = KP_EHTTP, .attempt = 4};
    assert_int_equal(kp_ovp_playlist_parse(&o, &pi, 0, &h, &pl, &err), 0);
    assert_int_equal(kp_json_int(err, "code", 0), 1002);
    assert_string_equal(kp_json_str(err, "data.url", ""), MR_URL);
    json_decref(err);
    json_decref(fx);
}

/* ---- entry lists ---------------------------------------------------------------------------- */

static void test_entry_list_request(void **state)
{
    (void)state;
    kp_provider_opts o = test_ovp_opts();
    kp_entry_ref refs[] = {{.entry_id = "0_a"}, {.reference_id = "ref-b"}, {.entry_id = "0_c"}};
    kp_entry_list_info el = {.entries = refs, .n_entries = 3, .redirect_from_entry_id = -1};
    char *url;
    json_t *body, *err;
    assert_int_equal(kp_ovp_entry_list_request(&o, &el, &url, &body, &err), 0);
    assert_string_equal(kp_json_str(body, "1.action", ""), "startWidgetSession");
    test_assert_json(json_object_get(body, "2"),
                     "{\"service\":\"baseEntry\",\"action\":\"list\",\"ks\":\"{1:result:ks}\","
                     "\"filter\":{\"redirectFromEntryId\":\"0_a\"},\"responseProfile\":{\"type\":1,"
                     "\"fields\":\"" FIELDS "\"}}");
    test_assert_json(kp_json_path(body, "3.filter"),
                     "{\"objectType\":\"KalturaBaseEntryFilter\",\"referenceIdEqual\":\"ref-b\"}");
    test_assert_json(kp_json_path(body, "4.filter"), "{\"redirectFromEntryId\":\"0_c\"}");
    assert_null(json_object_get(body, "5"));
    free(url);
    json_decref(body);
    /* KS and idEqual */
    el.ks = "EKS";
    el.redirect_from_entry_id = 0;
    assert_int_equal(kp_ovp_entry_list_request(&o, &el, &url, &body, &err), 0);
    test_assert_json(kp_json_path(body, "1.filter"), "{\"idEqual\":\"0_a\"}");
    assert_string_equal(kp_json_str(body, "1.ks", ""), "EKS");
    assert_null(json_object_get(body, "4"));
    free(url);
    json_decref(body);
    /* an entry with neither id, or no entries: 3000 */
    refs[1].reference_id = NULL;
    assert_int_equal(kp_ovp_entry_list_request(&o, &el, &url, &body, &err), KP_EINVAL);
    assert_int_equal(kp_json_int(err, "code", 0), 3000);
    json_decref(err);
    el.n_entries = 0;
    assert_int_equal(kp_ovp_entry_list_request(&o, &el, &url, &body, &err), KP_EINVAL);
    assert_int_equal(kp_json_int(err, "code", 0), 3000);
    json_decref(err);
}

static void test_entry_list_parse(void **state)
{
    (void)state;
    kp_provider_opts o = test_ovp_opts();
    kp_entry_ref refs[] = {{.entry_id = "0_a"}, {.entry_id = "0_gone"}, {.entry_id = "0_c"}};
    kp_entry_list_info el = {.entries = refs, .n_entries = 3, .redirect_from_entry_id = -1};
    json_t *fx = test_provider_json("entry_list_anon.json");
    json_t *pl, *err;
    /* partial failure: the failed entry is left out, the others keep their order */
    assert_int_equal(entry_list_parse(&o, &el, fx, &pl, &err), 0);
    assert_null(err);
    test_assert_json(pl,
                     "{\"id\":\"\",\"metadata\":{\"name\":\"\",\"description\":\"\"},"
                     "\"poster\":\"\",\"playlistLastEntryId\":\"\",\"items\":["
                     "{\"sources\":{\"hls\":[],\"dash\":[],\"progressive\":[],\"image\":[],"
                     "\"document\":[],\"id\":\"0_a\",\"duration\":30,\"type\":\"Vod\","
                     "\"poster\":\"https://img.example/p/123/thumbnail/entry_id/0_a/version/1\","
                     "\"rawThumbnailUrl\":\"https://img.example/p/123/thumbnail/entry_id/0_a/"
                     "version/1\",\"dvr\":false,\"vr\":null,\"metadata\":{\"name\":\"Clip A\","
                     "\"description\":\"\",\"tags\":\"\",\"entryId\":\"0_a\",\"adminTags\":\"\"},"
                     "\"downloadUrl\":\"\",\"capabilities\":[]}},"
                     "{\"sources\":{\"hls\":[],\"dash\":[],\"progressive\":[],\"image\":[],"
                     "\"document\":[],\"id\":\"0_c\",\"duration\":12,\"type\":\"Audio\","
                     "\"poster\":\"https://img.example/p/123/thumbnail/entry_id/0_c/version/1\","
                     "\"rawThumbnailUrl\":\"https://img.example/p/123/thumbnail/entry_id/0_c/"
                     "version/1\",\"dvr\":false,\"vr\":null,\"metadata\":{\"name\":\"Clip C\","
                     "\"description\":\"\",\"tags\":\"\",\"entryId\":\"0_c\",\"adminTags\":\"\"},"
                     "\"downloadUrl\":\"\",\"capabilities\":[]}}]}");
    json_decref(pl);

    /* the session failed: the entries still map by position (PR #277's shift does not
     * happen), so the first item is still 0_a */
    json_t *shifted = json_deep_copy(fx);
    json_array_set_new(shifted, 0,
                       json_pack("{s:s, s:s, s:s}", "code", "INVALID_WIDGET_ID", "message", "x",
                                 "objectType", "KalturaAPIException"));
    assert_int_equal(entry_list_parse(&o, &el, shifted, &pl, &err), 0);
    assert_int_equal(json_array_size(json_object_get(pl, "items")), 2);
    assert_string_equal(kp_json_str(pl, "items.0.sources.id", ""), "0_a");
    assert_string_equal(kp_json_str(pl, "items.1.sources.id", ""), "0_c");
    json_decref(pl);
    json_decref(shifted);

    /* an empty list (idEqual of an unknown id) is left out too */
    json_t *empty = json_deep_copy(fx);
    json_array_set_new(empty, 3, json_pack("{s:[], s:i}", "objects", "totalCount", 0));
    assert_int_equal(entry_list_parse(&o, &el, empty, &pl, &err), 0);
    assert_int_equal(json_array_size(json_object_get(pl, "items")), 1);
    json_decref(pl);

    /* nothing loaded: 1006 with the results */
    json_array_set_new(empty, 1, json_pack("{s:[], s:i}", "objects", "totalCount", 0));
    assert_int_equal(entry_list_parse(&o, &el, empty, &pl, &err), 0);
    assert_null(pl);
    assert_int_equal(kp_json_int(err, "code", 0), 1006);
    assert_int_equal(json_array_size(kp_json_path(err, "data.results")), 4);
    json_decref(err);
    json_decref(empty);
    json_decref(fx);
}

static void test_user_get(void **state)
{
    (void)state;
    kp_provider_opts o = test_ovp_opts();
    char *url;
    json_t *body;
    assert_int_equal(kp_ovp_user_get_request(&o, "UKS", &url, &body), 0);
    assert_string_equal(url, "https://cdnapisec.kaltura.com/api_v3/service/user/action/get");
    test_assert_json(body, "{\"ks\":\"UKS\",\"format\":1}");
    free(url);
    json_decref(body);
    struct {
        const char *body;
        int status, want;
    } rows[] = {
        {"{\"id\":\"someone@example.com\",\"objectType\":\"KalturaUser\"}", 200, 0},
        {"{\"id\":\"0\"}", 200, 1},
        {"{\"id\":\"\"}", 200, 1},
        {"{\"id\":null}", 200, 1},
        {"{\"code\":\"INVALID_KS\",\"objectType\":\"KalturaAPIException\"}", 200, 1},
        {"{\"id\":0}", 200, 0}, /* ['0','',null,undefined].includes(0) is false */
        {"not json", 200, -1},
        {"{\"id\":\"x\"}", 500, -1},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        kp_http_outcome h = {
            .status = rows[i].status, .body = rows[i].body, .body_len = strlen(rows[i].body)};
        if (kp_ovp_user_get_parse(&h) != rows[i].want)
            fail_msg("row %zu (%s): got %d", i, rows[i].body, kp_ovp_user_get_parse(&h));
    }
    kp_http_outcome t = {.transport_error = KP_EHTTP};
    assert_int_equal(kp_ovp_user_get_parse(&t), -1);
}

/* ---- the client against the mock back-end (real sockets) ------------------------------------ */

static int mock_setup(void **state)
{
    mbe_config cfg = {.partner_id = 123};
    *state = test_mock_new(&cfg);
    return 0;
}

static int mock_teardown(void **state)
{
    test_mock_free(*state);
    return 0;
}

static kp_provider_client client(void)
{
    kp_provider_client c;
    kp_provider_client_init(&c);
    c.playlist_retry_interval_ms = 0;
    c.timeout_ms = 5000;
    return c;
}

static void test_client_playlist_retry_loop(void **state)
{
    test_mock *m = *state;
    json_t *fx = test_provider_json("playlist_anon.json");
    json_array_set_new(fx, 2, json_array()); /* playlist.execute: [] every time */
    test_mock_serve(m, "/api_v3/service/multirequest", fx);
    kp_provider_opts o = test_ovp_opts();
    o.service_url = m->service;
    kp_playlist_info pi = {.playlist_id = "0_pl"};
    kp_provider_client c = client();
    json_t *pl, *err;
    assert_int_equal(kp_ovp_fetch_playlist(&c, &o, &pi, &pl, &err), 0);
    assert_null(pl);
    assert_int_equal(kp_json_int(err, "code", 0), 3001);
    json_decref(err);
    /* 1 + 10 retries, attempt k with k commas, the session asked each time */
    json_t *sent = test_mock_journaled(m, "/api_v3/service/multirequest");
    assert_int_equal(json_array_size(sent), 1 + KP_OVP_PLAYLIST_MAX_RETRIES);
    for (size_t k = 0; k < json_array_size(sent); k++) {
        const json_t *body = json_object_get(json_array_get(sent, k), "body");
        const char *fields = kp_json_str(body, "3.responseProfile.fields", "");
        assert_int_equal(strlen(fields), strlen(FIELDS) + k);
        assert_string_equal(kp_json_str(body, "1.action", ""), "startWidgetSession");
    }
    json_decref(sent);
    /* the playlist fills in: the next call succeeds at once */
    json_decref(fx);
    fx = test_provider_json("playlist_anon.json");
    test_mock_serve(m, "/api_v3/service/multirequest", fx);
    assert_int_equal(kp_ovp_fetch_playlist(&c, &o, &pi, &pl, &err), 0);
    assert_null(err);
    assert_int_equal(json_array_size(json_object_get(pl, "items")), 2);
    assert_string_equal(kp_json_str(pl, "playlistLastEntryId", ""), "0_live");
    json_decref(pl);
    json_decref(fx);
}

static void test_client_entry_list(void **state)
{
    test_mock *m = *state;
    json_t *fx = test_provider_json("entry_list_anon.json");
    test_mock_serve(m, "/api_v3/service/multirequest", fx);
    kp_provider_opts o = test_ovp_opts();
    o.service_url = m->service;
    kp_entry_ref refs[] = {{.entry_id = "0_a"}, {.entry_id = "0_gone"}, {.entry_id = "0_c"}};
    kp_entry_list_info el = {.entries = refs, .n_entries = 3, .redirect_from_entry_id = -1};
    kp_provider_client c = client();
    json_t *pl, *err;
    assert_int_equal(kp_ovp_fetch_entry_list(&c, &o, &el, &pl, &err), 0);
    assert_null(err);
    assert_int_equal(json_array_size(json_object_get(pl, "items")), 2);
    json_decref(pl);
    /* no user.get for entry lists */
    json_t *users = test_mock_journaled(m, "/api_v3/service/user/action/get");
    assert_int_equal(json_array_size(users), 0);
    json_decref(users);
    json_decref(fx);
}

static void test_client_user_get_sets_is_anonymous(void **state)
{
    test_mock *m = *state;
    json_t *fx = test_provider_json("vod_anon.json");
    json_array_remove(fx, 0); /* with a KS there is no session slot */
    test_mock_serve(m, "/api_v3/service/multirequest", fx);
    kp_provider_opts o = test_ovp_opts();
    o.service_url = m->service;
    o.ks = "UKS";
    kp_media_info mi = {.entry_id = "0_vod", .redirect_from_entry_id = -1};
    kp_provider_client c = client();
    const char *answers[] = {"{\"id\":\"\",\"objectType\":\"KalturaUser\"}",
                             "{\"id\":\"me@example.com\",\"objectType\":\"KalturaUser\"}"};
    for (int i = 0; i < 2; i++) {
        test_mock_serve_text(m, "/api_v3/service/user/action/get", answers[i], MBE_REPLY_HTTP);
        json_t *cfg, *err;
        assert_int_equal(kp_ovp_fetch_media(&c, &o, &mi, &cfg, &err), 0);
        assert_null(err);
        assert_int_equal(kp_json_bool(cfg, "session.isAnonymous", i), i == 0);
        json_decref(cfg);
    }
    json_t *users = test_mock_journaled(m, "/api_v3/service/user/action/get");
    assert_int_equal(json_array_size(users), 2);
    test_assert_json(json_object_get(json_array_get(users, 0), "body"),
                     "{\"ks\":\"UKS\",\"format\":1}");
    json_decref(users);
    /* a user.get that fails leaves the derived flag (options KS: false) */
    test_mock_serve_text(m, "/api_v3/service/user/action/get", "", MBE_REPLY_RESET);
    c.max_attempts = 1;
    json_t *cfg, *err;
    assert_int_equal(kp_ovp_fetch_media(&c, &o, &mi, &cfg, &err), 0);
    assert_false(kp_json_bool(cfg, "session.isAnonymous", true));
    json_decref(cfg);
    json_decref(fx);
}

static void test_client_reset_retries(void **state)
{
    test_mock *m = *state;
    test_mock_serve_text(m, "/api_v3/service/multirequest", "", MBE_REPLY_RESET);
    kp_provider_opts o = test_ovp_opts();
    o.service_url = m->service;
    kp_media_info mi = {.entry_id = "0_vod", .redirect_from_entry_id = -1};
    kp_provider_client c = client();
    c.max_attempts = 3;
    json_t *cfg, *err;
    assert_int_equal(kp_ovp_fetch_media(&c, &o, &mi, &cfg, &err), 0);
    assert_null(cfg);
    assert_int_equal(kp_json_int(err, "code", 0), 1002);
    assert_int_equal(kp_json_int(err, "data.attempt", 0), 3);
    assert_int_equal(json_array_size(kp_json_path(err, "data.headers")), 0);
    char want_url[256];
    snprintf(want_url, sizeof(want_url), "%s/service/multirequest", m->service);
    assert_string_equal(kp_json_str(err, "data.url", ""), want_url);
    json_decref(err);
    json_t *sent = test_mock_journaled(m, "/api_v3/service/multirequest");
    assert_int_equal(json_array_size(sent), 3);
    json_decref(sent);
}

/* A loopback port that accepts connections (the kernel does) but never answers, or (listen
 * false) a port nobody listens on. */
static int loopback_port(bool listen_, int *fd_out)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    if (listen_)
        assert_int_equal(listen(fd, 8), 0);
    *fd_out = fd;
    return ntohs(a.sin_port);
}

static void test_client_timeout_and_refused(void **state)
{
    (void)state;
    int fd;
    int port = loopback_port(true, &fd);
    char svc[64];
    snprintf(svc, sizeof(svc), "http://127.0.0.1:%d/api_v3", port);
    kp_provider_opts o = test_ovp_opts();
    o.service_url = svc;
    kp_playlist_info pi = {.playlist_id = "0_pl"};
    kp_provider_client c = client();
    c.timeout_ms = 150;
    c.max_attempts = 2;
    json_t *pl, *err;
    assert_int_equal(kp_ovp_fetch_playlist(&c, &o, &pi, &pl, &err), 0);
    assert_int_equal(kp_json_int(err, "code", 0), 1003);
    assert_int_equal(kp_json_int(err, "data.attempt", 0), 2);
    assert_true(kp_json_num(err, "data.timeout", 0) >= 0.1);
    json_decref(err);
    close(fd);
    /* nobody listening: 1002 */
    port = loopback_port(false, &fd);
    snprintf(svc, sizeof(svc), "http://127.0.0.1:%d/api_v3", port);
    close(fd);
    kp_media_info mi = {.entry_id = "0_vod", .redirect_from_entry_id = -1};
    json_t *cfg;
    assert_int_equal(kp_ovp_fetch_media(&c, &o, &mi, &cfg, &err), 0);
    assert_int_equal(kp_json_int(err, "code", 0), 1002);
    json_decref(err);
    /* bad arguments: no answer at all */
    assert_int_equal(kp_ovp_fetch_media(&c, &o, NULL, &cfg, &err), KP_EINVAL);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_playlist_request),
        cmocka_unit_test(test_playlist_retry_commas),
        cmocka_unit_test(test_playlist_parse),
        cmocka_unit_test(test_playlist_empty_retry_then_final),
        cmocka_unit_test(test_playlist_failures),
        cmocka_unit_test(test_entry_list_request),
        cmocka_unit_test(test_entry_list_parse),
        cmocka_unit_test(test_user_get),
        cmocka_unit_test_setup_teardown(test_client_playlist_retry_loop, mock_setup, mock_teardown),
        cmocka_unit_test_setup_teardown(test_client_entry_list, mock_setup, mock_teardown),
        cmocka_unit_test_setup_teardown(test_client_user_get_sets_is_anonymous, mock_setup,
                                        mock_teardown),
        cmocka_unit_test_setup_teardown(test_client_reset_retries, mock_setup, mock_teardown),
        cmocka_unit_test(test_client_timeout_and_refused),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
