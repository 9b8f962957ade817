/* http_client.h: a blocking libcurl helper for integration tests (real sockets, 127.0.0.1).
 * Replies own their buffers; free them with test_reply_free. */
#ifndef TEST_HTTP_CLIENT_H
#define TEST_HTTP_CLIENT_H

#include "kp/buf.h"

typedef struct test_reply {
    long status;
    kp_buf body;
    kp_buf headers; /* raw header lines of the final answer */
} test_reply;

/* method "GET", "POST", "PUT", "HEAD"...; body NULL for none; content_type used with a body
 * (NULL: application/json); extra_header one more "Name: value" line or NULL. Aborts the test
 * when no HTTP answer arrives. Redirects are not followed. */
void test_http(const char *method, const char *url, const char *body, const char *content_type,
               const char *extra_header, test_reply *r);
void test_reply_free(test_reply *r);

#endif
