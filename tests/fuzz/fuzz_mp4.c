/* fuzz_mp4.c: the element's MP4 header reader (box walk + libavformat's moov index) on
 * arbitrary bytes: a sample index or a precise error, never a crash. */
#include "engine_progressive.h"

#include "kp/err.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n = 0;
    kp_time d = 0;
    char err[256];
    int rc = kp_native_mp4_probe(data, size, &n, &d, err, sizeof(err));
    if (rc == KP_OK && n == 0)
        abort();
    if (rc != KP_OK && (rc != KP_EMEDIA || err[0] == '\0'))
        abort();
    return 0;
}
