/* provider_fixture.h: what the provider tests share: the OVP tests' provider options, the
 * canned answers in $KPSIM_TEST_DATA/provider/, JSON comparison with a readable failure, and
 * the kp_http_outcome of a canned answer. Failures fail the running cmocka test. JSON values
 * returned are new references owned by the caller. */
#ifndef TEST_PROVIDER_FIXTURE_H
#define TEST_PROVIDER_FIXTURE_H

#include "kp/provider.h"

#include <jansson.h>
#include <stddef.h>

/* The provider options of the OVP tests and fixtures: partner 123, clientTag "html5:vT". */
kp_provider_opts test_ovp_opts(void);

/* The parsed $KPSIM_TEST_DATA/provider/<name>. */
json_t *test_provider_json(const char *name);

/* got equals the JSON text want_text, key order ignored. */
void test_assert_json(const json_t *got, const char *want_text);

/* A status-200 outcome of the first attempt: body text (borrowed, NUL-terminated), the request
 * url (borrowed, may be NULL) and its response header lines (borrowed). */
kp_http_outcome test_outcome(const char *text, const char *url, const char *const *headers,
                             size_t n_headers);

#endif
