/* fuzz_provider.c: the OVP provider's response parsing on arbitrary HTTP bodies: exactly one
 * of a media config or a provider error object, never a crash. */
#include "kp/provider.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kp_provider_opts o;
    kp_provider_opts_init(&o);
    o.partner_id = 1234567;
    kp_media_info mi = {.entry_id = "0_fuzz0001", .redirect_from_entry_id = -1};
    const char *headers[] = {"x-kaltura-session: 7", "content-type: application/json"};
    kp_http_outcome h = {.status = 200,
                         .body = (const char *)data,
                         .body_len = size,
                         .headers = headers,
                         .n_headers = 2,
                         .attempt = 1};
    json_t *config = NULL, *error = NULL;
    int rc = kp_ovp_media_parse(&o, &mi, &h, &config, &error);
    if (rc == 0 && !config == !error)
        abort();
    json_decref(config);
    json_decref(error);
    return 0;
}
