/* fuzz_scenario.c: the scenario loader (YAML → validated scenarios, matrix/variants expanded,
 * include: refused from memory) on arbitrary bytes. Any input must give either scenarios or
 * diagnostics with a location, never a crash or a leak. */
#include "hx/scenario.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hx_scenario **sc = NULL;
    size_t n = 0;
    hx_diag diag = {0};
    int rc =
        hx_scenario_load_variants_buffer("fuzz.yaml", (const char *)data, size, &sc, &n, &diag);
    if (rc == 0 && (!sc || n == 0))
        abort(); /* success must give scenarios */
    for (size_t i = 0; rc == 0 && i < n; i++)
        for (size_t k = 0; k < i; k++)
            if (strcmp(sc[i]->name, sc[k]->name) == 0)
                abort(); /* variant names are unique */
    if (rc != 0 && (sc || diag.n == 0))
        abort(); /* failure must explain itself */
    hx_scenarios_free(sc, n);
    hx_diag_free(&diag);
    return 0;
}
