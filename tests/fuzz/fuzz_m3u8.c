/* fuzz_m3u8.c: the HLS playlist parser on arbitrary bytes: a playlist or a located error. */
#include "m3u8.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kp_m3u8 *pl = NULL;
    kp_m3u8_error err;
    int rc =
        kp_m3u8_parse((const char *)data, size, "http://127.0.0.1:8080/a/b/master.m3u8", &pl, &err);
    if (rc == 0 && !pl)
        abort();
    if (rc != 0 && (pl || err.msg[0] == '\0' || err.pcode < 4000))
        abort();
    kp_m3u8_free(pl);
    return 0;
}
