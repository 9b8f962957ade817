/* fuzz_multireq.c: the mock back-end's multirequest executor (sub-request gathering and
 * {N:result:path} resolution) on arbitrary JSON request bodies. */
#include "multireq.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static json_t *echo(void *ud, const char *service, const char *action, json_t *params)
{
    /* a result with nested objects and arrays for references to walk */
    return json_pack("{s:s, s:O, s:[{s:s}]}", "service", service, "params", params, "objects", "id",
                     action);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t e;
    json_t *body = json_loadb((const char *)data, size, 0, &e);
    if (!json_is_object(body)) {
        json_decref(body);
        return 0;
    }
    json_t *calls = NULL;
    json_t *out = mbe_multirequest_run(body, echo, NULL, &calls);
    if (!json_is_array(out) || json_array_size(out) != json_array_size(calls))
        abort();
    json_decref(out);
    json_decref(calls);
    json_decref(body);
    return 0;
}
