/* http_client.c: see http_client.h. */
#include "http_client.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <curl/curl.h>
#include <string.h>

static size_t on_data(char *p, size_t s, size_t n, void *ud)
{
    kp_buf_append(ud, p, s * n);
    return s * n;
}

void test_http(const char *method, const char *url, const char *body, const char *content_type,
               const char *extra_header, test_reply *r)
{
    kp_buf_init(&r->body);
    kp_buf_init(&r->headers);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
    struct curl_slist *h = NULL;
    char ct[128];
    if (body) {
        snprintf(ct, sizeof(ct), "Content-Type: %s",
                 content_type ? content_type : "application/json");
        h = curl_slist_append(h, ct);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    }
    if (extra_header)
        h = curl_slist_append(h, extra_header);
    if (h)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "GET") != 0 && !(body && strcmp(method, "POST") == 0))
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    kp_buf_reserve(&r->body, 0);
    kp_buf_reserve(&r->headers, 0);
}

void test_reply_free(test_reply *r)
{
    kp_buf_free(&r->body);
    kp_buf_free(&r->headers);
}
