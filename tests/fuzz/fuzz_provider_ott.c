/* fuzz_provider_ott.c: the OTT provider's response parsing on arbitrary HTTP bodies. The first
 * byte picks what is parsed: getMediaConfig anonymous (login slot), with a KS, with a formats
 * filter and an epg/START_OVER asset, getEntryListConfig, or single-request mode (the rest of
 * the input split into the three answers at "\n--\n"). Invariant: a 0 return carries exactly
 * one of a config object or a {severity, category, code, data} error, never a crash. */
#include "kp/provider.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int rc, json_t *result, json_t *error)
{
    if (rc == 0 && !result == !error)
        abort();
    if (rc < 0 && (result || error))
        abort();
    if (error &&
        (!json_is_integer(json_object_get(error, "code")) ||
         !json_is_integer(json_object_get(error, "category")) || !json_object_get(error, "data")))
        abort();
    if (result && !json_is_object(result))
        abort();
    json_decref(result);
    json_decref(error);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned mode = data[0] % 5;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    kp_provider_opts o;
    kp_provider_opts_init(&o);
    o.service_url = "https://ott.example/api_v3";
    o.partner_id = 3;
    const char *formats[] = {"Web_HD", "Mobile_SD"};
    kp_ott_media_info mi = {.entry_id = "42", .entry_id_is_number = true};
    if (mode == 1)
        mi.ks = "UKS";
    if (mode == 2) {
        mi.formats = formats;
        mi.n_formats = 2;
        mi.media_type = "epg";
        mi.context_type = "START_OVER";
    }
    const char *headers[] = {"x-kaltura-session: 7", "content-type: application/json"};
    kp_http_outcome h = {.status = 200,
                         .body = body,
                         .body_len = len,
                         .headers = headers,
                         .n_headers = 2,
                         .attempt = 1};
    json_t *result = NULL, *error = NULL;
    if (mode <= 2) {
        int rc = kp_ott_media_parse(&o, &mi, &h, &result, &error);
        check(rc, result, error);
    } else if (mode == 3) {
        kp_entry_ref refs[] = {{.entry_id = "1"}, {.entry_id = "2"}, {.entry_id = "3"}};
        kp_entry_list_info el = {.entries = refs, .n_entries = 3};
        int rc = kp_ott_entry_list_parse(&o, &el, &h, &result, &error);
        check(rc, result, error);
    } else {
        kp_http_outcome parts[3];
        size_t n = 0;
        const char *p = body, *end = body + len;
        while (n < 3) {
            const char *sep = NULL;
            for (const char *q = p; q + 4 <= end && !sep; q++)
                if (memcmp(q, "\n--\n", 4) == 0)
                    sep = q;
            parts[n] = h;
            parts[n].body = p;
            parts[n].body_len = (size_t)((sep ? sep : end) - p);
            n++;
            if (!sep)
                break;
            p = sep + 4;
        }
        o.ott_disable_multirequest = true;
        char *url;
        json_t *req;
        /* the next request must be well formed whatever the earlier answers were */
        int rc = kp_ott_single_next(&o, &mi, parts, n, &url, &req, &error);
        if (rc == 1) {
            if (!url || !json_is_object(req))
                abort();
            free(url);
            json_decref(req);
        } else if (rc != 0) {
            abort();
        }
        rc = kp_ott_single_parse(&o, &mi, parts, n, &result, &error);
        check(rc, result, error);
    }
    return 0;
}
