/* fuzz_scenario.c: the scenario loader (YAML → validated scenario) on arbitrary bytes. Any
 * input must give either a scenario or diagnostics with a location, never a crash or a leak. */
#include "hx/scenario.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hx_scenario *sc = NULL;
    hx_diag diag = {0};
    int rc = hx_scenario_load_buffer("fuzz.yaml", (const char *)data, size, &sc, &diag);
    if (rc == 0 && !sc)
        abort(); /* success must give a scenario */
    if (rc != 0 && (sc || diag.n == 0))
        abort(); /* failure must explain itself */
    hx_scenario_free(sc);
    hx_diag_free(&diag);
    return 0;
}
