/* test_cmd_provider.c: `kpsim provider` as a user runs it: the real binary ($KPSIM_BIN)
 * against a mock back-end this test starts in-process (real entries, media in
 * $KPSIM_CACHE_DIR): the media config of an HLS entry (exit 0), the provider error of an
 * unknown entry (exit 1), a playlist and an entry list, OTT through canned answers (multirequest
 * and --ott-single-requests, checked in the mock's journal), and bad command lines (exit 2,
 * usage on stderr, nothing on stdout).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "kp/buf.h"
#include "kp/jsonu.h"
#include "kpsim_run.h"
#include "mbe/mbe.h"
#include "mock_server.h"
#include "provider_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PARTNER "4242"

typedef struct fixture {
    test_mock mock;
    char errfile[64];
} fixture;

static const int hls_only[] = {MBE_FORMAT_HLS};
static const char *const low[] = {"180p"};
static const char *const pl_entries[] = {"0_cmdhls01", "0_cmdhls02"};

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    const mbe_entry entries[] = {
        {.id = "0_cmdhls01",
         .name = "HLS one",
         .duration = 4,
         .formats = hls_only,
         .n_formats = 1,
         .renditions = low,
         .n_renditions = 1},
        {.id = "0_cmdhls02",
         .name = "HLS two",
         .duration = 4,
         .formats = hls_only,
         .n_formats = 1,
         .renditions = low,
         .n_renditions = 1},
    };
    const mbe_playlist playlists[] = {{.id = "0_cmdpl001",
                                       .name = "Two",
                                       .description = "two clips",
                                       .entries = pl_entries,
                                       .n_entries = 2}};
    mbe_config cfg = {.partner_id = 4242,
                      .entries = entries,
                      .n_entries = 2,
                      .playlists = playlists,
                      .n_playlists = 1};
    test_mock_start(&f->mock, &cfg);
    snprintf(f->errfile, sizeof(f->errfile), "/tmp/kpsim-cmdprov-XXXXXX");
    int fd = mkstemp(f->errfile);
    assert_true(fd >= 0);
    close(fd);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    test_mock_stop(&f->mock);
    unlink(f->errfile);
    free(f);
    return 0;
}

/* Runs `kpsim provider ARGS`; returns the exit code, stdout in out, stderr in err. */
static int kpsim(fixture *f, const char *args, kp_buf *out, kp_buf *err)
{
    char *cmd = kp_asprintf("'%s' provider %s 2>'%s'", test_kpsim_bin(), args, f->errfile);
    int code = test_run(cmd, out);
    free(cmd);
    kp_buf_reset(err);
    assert_int_equal(kp_read_file(f->errfile, err), 0);
    kp_buf_putc(err, '\0');
    err->len--;
    return code;
}

static json_t *parse_stdout(const kp_buf *out)
{
    json_error_t e;
    json_t *j = json_loads(out->data ? out->data : "", 0, &e);
    if (!j)
        fail_msg("stdout is not JSON (%s): %s", e.text, out->data ? out->data : "");
    return j;
}

static void test_hls_entry(void **state)
{
    fixture *f = *state;
    kp_buf out, err;
    kp_buf_init(&out);
    kp_buf_init(&err);
    char *args = kp_asprintf("--service-url %s --partner-id " PARTNER " --entry-id 0_cmdhls01 "
                             "--timeout 20",
                             f->mock.service);
    int code = kpsim(f, args, &out, &err);
    if (code != 0)
        fail_msg("exit %d\nstdout: %s\nstderr: %s", code, out.data, err.data);
    json_t *cfg = parse_stdout(&out);
    /* indented, as promised */
    assert_non_null(strstr(out.data, "\n  \""));
    assert_string_equal(kp_json_str(cfg, "sources.id", ""), "0_cmdhls01");
    assert_string_equal(kp_json_str(cfg, "sources.type", ""), "Vod");
    assert_true(kp_json_bool(cfg, "session.isAnonymous", false));
    assert_int_equal(kp_json_int(cfg, "session.partnerId", 0), 4242);
    assert_string_equal(kp_json_str(cfg, "sources.hls.0.mimetype", ""), "application/x-mpegURL");
    const char *url = kp_json_str(cfg, "sources.hls.0.url", "");
    char *want = kp_asprintf("%s/p/4242/sp/424200/playManifest/entryId/0_cmdhls01/",
                             mbe_server_url(f->mock.srv));
    if (!kp_str_starts(url, want))
        fail_msg("hls url %s does not start with %s", url, want);
    free(want);
    assert_true(kp_str_ends(url, "/a.m3u8"));
    assert_int_equal(json_array_size(kp_json_path(cfg, "sources.dash")), 0);
    json_decref(cfg);
    /* the mock saw the provider's multirequest, with the default clientTag */
    json_t *match = json_pack("{s:s, s:s}", "service", "baseEntry", "action", "getPlaybackContext");
    assert_int_equal(mbe_server_count(f->mock.srv, "api", match), 1);
    json_decref(match);
    json_t *journal = mbe_server_journal(f->mock.srv);
    bool tag = false;
    for (size_t i = 0; i < json_array_size(journal); i++)
        tag = tag || !strcmp(kp_json_str(json_array_get(journal, i), "body.clientTag", ""),
                             "html5:v3.17.95");
    assert_true(tag);
    json_decref(journal);
    free(args);
    kp_buf_free(&out);
    kp_buf_free(&err);
}

static void test_unknown_entry(void **state)
{
    fixture *f = *state;
    kp_buf out, err;
    kp_buf_init(&out);
    kp_buf_init(&err);
    char *args = kp_asprintf("--service-url %s --partner-id " PARTNER " --entry-id 0_nosuch99",
                             f->mock.service);
    int code = kpsim(f, args, &out, &err);
    if (code != 1)
        fail_msg("exit %d\nstdout: %s\nstderr: %s", code, out.data, err.data);
    json_t *e = parse_stdout(&out);
    assert_int_equal(kp_json_int(e, "severity", 0), 2);
    assert_int_equal(kp_json_int(e, "code", 0), 1006);
    assert_true(json_array_size(kp_json_path(e, "data.results")) >= 3);
    json_decref(e);
    free(args);
    kp_buf_free(&out);
    kp_buf_free(&err);
}

static void test_playlist_and_entry_list(void **state)
{
    fixture *f = *state;
    kp_buf out, err;
    kp_buf_init(&out);
    kp_buf_init(&err);
    char *args = kp_asprintf("--service-url %s --partner-id " PARTNER " --playlist-id 0_cmdpl001",
                             f->mock.service);
    int code = kpsim(f, args, &out, &err);
    if (code != 0)
        fail_msg("playlist: exit %d\nstdout: %s\nstderr: %s", code, out.data, err.data);
    json_t *pl = parse_stdout(&out);
    assert_string_equal(kp_json_str(pl, "id", ""), "0_cmdpl001");
    assert_string_equal(kp_json_str(pl, "metadata.name", ""), "Two");
    assert_int_equal(json_array_size(json_object_get(pl, "items")), 2);
    assert_string_equal(kp_json_str(pl, "items.1.sources.id", ""), "0_cmdhls02");
    json_decref(pl);
    free(args);
    args = kp_asprintf("--service-url %s --partner-id " PARTNER
                       " --entry-list 0_cmdhls02,0_nosuch99,0_cmdhls01",
                       f->mock.service);
    code = kpsim(f, args, &out, &err);
    if (code != 0)
        fail_msg("entry list: exit %d\nstdout: %s\nstderr: %s", code, out.data, err.data);
    pl = parse_stdout(&out);
    assert_int_equal(json_array_size(json_object_get(pl, "items")), 2);
    assert_string_equal(kp_json_str(pl, "items.0.sources.id", ""), "0_cmdhls02");
    assert_string_equal(kp_json_str(pl, "items.1.sources.id", ""), "0_cmdhls01");
    assert_string_equal(kp_json_str(pl, "id", "?"), "");
    json_decref(pl);
    free(args);
    kp_buf_free(&out);
    kp_buf_free(&err);
}

/* OTT through canned answers (the mock serves them verbatim). */
static void test_ott(void **state)
{
    fixture *f = *state;
    json_t *fx = test_provider_json("ott_anon.json");
    test_mock_serve(&f->mock, "/api_v3/service/multirequest", fx);
    static const char *const paths[] = {"/api_v3/service/ottuser/action/anonymousLogin",
                                        "/api_v3/service/asset/action/get",
                                        "/api_v3/service/asset/action/getPlaybackContext"};
    for (size_t i = 0; i < 3; i++) {
        json_t *one =
            json_pack("{s:O}", "result", json_array_get(json_object_get(fx, "result"), i));
        test_mock_serve(&f->mock, paths[i], one);
        json_decref(one);
    }
    kp_buf out, err;
    kp_buf_init(&out);
    kp_buf_init(&err);
    for (int single = 0; single < 2; single++) {
        char *args = kp_asprintf("--kind ott --service-url %s --partner-id 3 --entry-id 42 "
                                 "--context-type TRAILER --formats Web_HD,Mobile_SD "
                                 "--client-tag my-app%s",
                                 f->mock.service, single ? " --ott-single-requests" : "");
        int code = kpsim(f, args, &out, &err);
        if (code != 0)
            fail_msg("exit %d\nstdout: %s\nstderr: %s", code, out.data, err.data);
        json_t *cfg = parse_stdout(&out);
        assert_string_equal(kp_json_str(cfg, "session.ks", ""), "OTTKS");
        assert_string_equal(kp_json_str(cfg, "sources.type", ""), "Vod");
        assert_int_equal(json_array_size(kp_json_path(cfg, "sources.hls")), 1);
        assert_int_equal(json_array_size(kp_json_path(cfg, "sources.dash")), 0);
        assert_int_equal(json_array_size(kp_json_path(cfg, "sources.progressive")), 1);
        json_decref(cfg);
        free(args);
    }
    /* what went out: the multirequest with clientTag and a numeric id, then three singles */
    json_t *journal = mbe_server_journal(f->mock.srv);
    size_t multi = 0, singles = 0;
    for (size_t i = 0; i < json_array_size(journal); i++) {
        const json_t *rec = json_array_get(journal, i);
        const char *path = kp_json_str(rec, "path", "");
        if (!strcmp(path, paths[0]) || !strcmp(path, paths[1]) || !strcmp(path, paths[2])) {
            singles++;
            assert_string_equal(kp_json_str(rec, "body.apiVersion", ""), "7.8.1");
        } else if (!strcmp(path, "/api_v3/service/multirequest") &&
                   !strcmp(kp_json_str(rec, "body.1.service", ""), "ottuser")) {
            multi++;
            assert_string_equal(kp_json_str(rec, "body.clientTag", ""), "my-app");
            assert_int_equal(kp_json_int(rec, "body.2.id", 0), 42);
            assert_string_equal(kp_json_str(rec, "body.3.contextDataParams.context", ""),
                                "TRAILER");
        }
    }
    assert_int_equal(multi, 1);
    assert_int_equal(singles, 3);
    json_decref(journal);
    json_decref(fx);
    kp_buf_free(&out);
    kp_buf_free(&err);
}

static void test_usage_errors(void **state)
{
    fixture *f = *state;
    const char *bad[] = {
        "",
        "--partner-id 1 --entry-id x",
        "--service-url http://127.0.0.1:9/api_v3 --entry-id x",
        "--service-url http://127.0.0.1:9/api_v3 --partner-id abc --entry-id x",
        "--service-url http://127.0.0.1:9/api_v3 --partner-id 1",
        "--service-url http://127.0.0.1:9/api_v3 --partner-id 1 --entry-id x --playlist-id y",
        "--service-url http://127.0.0.1:9/api_v3 --partner-id 1 --entry-id x --kind vod",
        "--service-url http://127.0.0.1:9/api_v3 --partner-id 1 --entry-id x --media-type epg",
        "--service-url http://127.0.0.1:9/api_v3 --partner-id 1 --entry-id x --kind ott "
        "--media-type film",
        "--service-url http://127.0.0.1:9/api_v3 --partner-id 1 --entry-id x --kind ott "
        "--context-type LIVE",
        "--service-url http://127.0.0.1:9/api_v3 --partner-id 1 --reference-id r --kind ott",
        "--service-url http://127.0.0.1:9/api_v3 --partner-id 1 --entry-id x --timeout -1",
        "--service-url http://127.0.0.1:9/api_v3 --partner-id 1 --entry-list a,,b",
        "--service-url http://127.0.0.1:9/api_v3 --partner-id 1 --entry-id x --bogus 1",
        "--service-url http://127.0.0.1:9/api_v3 --partner-id 1 --entry-id",
        "--service-url http://127.0.0.1:9/api_v3 --partner-id 1 --entry-id x --entry-id y",
    };
    kp_buf out, err;
    kp_buf_init(&out);
    kp_buf_init(&err);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int code = kpsim(f, bad[i], &out, &err);
        if (code != 2 || !strstr(err.data, "usage: kpsim provider") || out.len != 0)
            fail_msg("'%s': exit %d, stdout '%s', stderr '%s'", bad[i], code, out.data, err.data);
    }
    /* --help is not an error */
    assert_int_equal(kpsim(f, "--help", &out, &err), 0);
    assert_non_null(strstr(out.data, "usage: kpsim provider"));
    /* an OTT playlist is a provider answer (3002), not a usage error */
    assert_int_equal(kpsim(f,
                           "--kind ott --service-url http://127.0.0.1:9/api_v3 --partner-id 1 "
                           "--playlist-id p",
                           &out, &err),
                     1);
    json_t *e = parse_stdout(&out);
    assert_int_equal(kp_json_int(e, "code", 0), 3002);
    json_decref(e);
    kp_buf_free(&out);
    kp_buf_free(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hls_entry),
        cmocka_unit_test(test_unknown_entry),
        cmocka_unit_test(test_playlist_and_entry_list),
        cmocka_unit_test(test_ott),
        cmocka_unit_test(test_usage_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
