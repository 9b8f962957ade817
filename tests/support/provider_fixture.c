/* provider_fixture.c: see provider_fixture.h. */
#include "provider_fixture.h"

#include "kp/jsonu.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

kp_provider_opts test_ovp_opts(void)
{
    kp_provider_opts o;
    kp_provider_opts_init(&o);
    o.partner_id = 123;
    o.client_tag = "html5:vT";
    return o;
}

json_t *test_provider_json(const char *name)
{
    const char *dir = getenv("KPSIM_TEST_DATA");
    assert_non_null(dir);
    char path[1024];
    snprintf(path, sizeof(path), "%s/provider/%s", dir, name);
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    if (!j)
        fail_msg("%s: %s", path, e.text);
    return j;
}

void test_assert_json(const json_t *got, const char *want_text)
{
    json_error_t e;
    json_t *want = json_loads(want_text, JSON_DECODE_ANY, &e);
    if (!want)
        fail_msg("bad expected JSON: %s", e.text);
    if (!(kp_json_subset(want, got) && kp_json_subset(got, want))) {
        char *g = kp_json_dumps(got);
        fail_msg("JSON differs\n  want %s\n  got  %s", want_text, g ? g : "(null)");
    }
    json_decref(want);
}

kp_http_outcome test_outcome(const char *text, const char *url, const char *const *headers,
                             size_t n_headers)
{
    kp_http_outcome h = {.status = 200,
                         .body = text,
                         .body_len = strlen(text),
                         .url = url,
                         .headers = headers,
                         .n_headers = n_headers,
                         .attempt = 1};
    return h;
}
