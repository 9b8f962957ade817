/* fuzz_provider_playlist.c: the OVP provider's playlist and entry-list parsing on arbitrary
 * HTTP bodies. The first byte picks: getPlaylistConfig anonymous at attempt 0 or at the last
 * retry, with a KS, or getEntryListConfig anonymous / with a KS. Invariant: a 0 return
 * carries exactly one of a playlist object (with an items array) or an error object;
 * KP_PROVIDER_RETRY carries neither and only before the last attempt; never a crash. */
#include "kp/provider.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned mode = data[0] % 5;
    kp_provider_opts o;
    kp_provider_opts_init(&o);
    o.partner_id = 1234567;
    const char *headers[] = {"x-kaltura-session: 7"};
    kp_http_outcome h = {.status = 200,
                         .body = (const char *)data + 1,
                         .body_len = size - 1,
                         .headers = headers,
                         .n_headers = 1,
                         .attempt = 1};
    json_t *result = NULL, *error = NULL;
    int rc;
    if (mode <= 2) {
        kp_playlist_info pi = {.playlist_id = "0_fuzzpl", .ks = mode == 2 ? "KS" : NULL};
        int retry = mode == 1 ? KP_OVP_PLAYLIST_MAX_RETRIES : 0;
        rc = kp_ovp_playlist_parse(&o, &pi, retry, &h, &result, &error);
        if (rc == KP_PROVIDER_RETRY && (result || error || retry == KP_OVP_PLAYLIST_MAX_RETRIES))
            abort();
    } else {
        kp_entry_ref refs[] = {{.entry_id = "0_a"}, {.reference_id = "ref"}, {.entry_id = "0_c"}};
        kp_entry_list_info el = {.entries = refs,
                                 .n_entries = 3,
                                 .ks = mode == 4 ? "KS" : NULL,
                                 .redirect_from_entry_id = -1};
        rc = kp_ovp_entry_list_parse(&o, &el, &h, &result, &error);
    }
    if (rc == 0 && !result == !error)
        abort();
    if (result && !json_is_array(json_object_get(result, "items")))
        abort();
    if (error && !json_is_integer(json_object_get(error, "code")))
        abort();
    json_decref(result);
    json_decref(error);
    return 0;
}
