/* mock_server.h: the mock back-end (mbe/mbe.h) started in-process for a test, on 127.0.0.1,
 * with its media cache in $KPSIM_CACHE_DIR: canned API answers and what the journal saw.
 * Failures fail the running cmocka test. JSON values returned are new references owned by the
 * caller. */
#ifndef TEST_MOCK_SERVER_H
#define TEST_MOCK_SERVER_H

#include "mbe/mbe.h"

#include <jansson.h>

typedef struct test_mock {
    mbe_media_cache *media;
    mbe_server *srv;
    char service[128]; /* the API base: "<server URL>/api_v3" */
} test_mock;

/* Starts m with cfg (whose media cache is m's own). test_mock_stop() releases it. */
void test_mock_start(test_mock *m, const mbe_config *cfg);
void test_mock_stop(test_mock *m);
/* The same for a test_mock of its own (cmocka state); test_mock_free() stops and frees it. */
test_mock *test_mock_new(const mbe_config *cfg);
void test_mock_free(test_mock *m);

/* POSTs to path are answered 200 with text (application/json), or as kind says. */
void test_mock_serve_text(test_mock *m, const char *path, const char *text, mbe_reply_kind kind);
/* POSTs to path are answered 200 with body's JSON text. */
void test_mock_serve(test_mock *m, const char *path, const json_t *body);
/* The journal's records of requests to path, in arrival order. */
json_t *test_mock_journaled(test_mock *m, const char *path);

#endif
