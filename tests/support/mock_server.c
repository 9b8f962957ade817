/* mock_server.c: see mock_server.h. */
#include "mock_server.h"

#include "kp/jsonu.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void test_mock_start(test_mock *m, const mbe_config *cfg)
{
    memset(m, 0, sizeof(*m));
    m->media = mbe_media_cache_new(getenv("KPSIM_CACHE_DIR"), NULL);
    mbe_config c = *cfg;
    c.media = m->media;
    assert_int_equal(mbe_server_start(&c, &m->srv), 0);
    snprintf(m->service, sizeof(m->service), "%s/api_v3", mbe_server_url(m->srv));
}

void test_mock_stop(test_mock *m)
{
    mbe_server_stop(m->srv);
    mbe_media_cache_free(m->media);
    memset(m, 0, sizeof(*m));
}

test_mock *test_mock_new(const mbe_config *cfg)
{
    test_mock *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    test_mock_start(m, cfg);
    return m;
}

void test_mock_free(test_mock *m)
{
    test_mock_stop(m);
    free(m);
}

void test_mock_serve_text(test_mock *m, const char *path, const char *text, mbe_reply_kind kind)
{
    mbe_override ov = {.method = "POST",
                       .path = path,
                       .kind = kind,
                       .status = 200,
                       .content_type = "application/json",
                       .body = text,
                       .body_len = strlen(text)};
    assert_int_equal(mbe_server_override(m->srv, &ov), 0);
}

void test_mock_serve(test_mock *m, const char *path, const json_t *body)
{
    char *s = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
    assert_non_null(s);
    test_mock_serve_text(m, path, s, MBE_REPLY_HTTP);
    free(s);
}

json_t *test_mock_journaled(test_mock *m, const char *path)
{
    json_t *j = mbe_server_journal(m->srv), *out = json_array();
    for (size_t i = 0; i < json_array_size(j); i++)
        if (!strcmp(kp_json_str(json_array_get(j, i), "path", ""), path))
            json_array_append(out, json_array_get(j, i));
    json_decref(j);
    return out;
}
