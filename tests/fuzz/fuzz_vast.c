/* fuzz_vast.c: the VAST and VMAP parsers on arbitrary bytes: either a model whose every string
 * the plugin reads is set where it must be, and whose pod pick stays in range, or an error
 * with a VAST code and a message. */
#include "vast.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_vast(const kp_vast *v)
{
    size_t idx[8];
    size_t n = kp_vast_pick(v, idx, 8);
    if (n > 8 || (v->n_ads > 0 && n == 0) || (v->n_ads == 0 && n != 0))
        abort();
    for (size_t i = 0; i < n; i++)
        if (idx[i] >= v->n_ads)
            abort();
    for (size_t i = 0; i < v->n_ads; i++) {
        const kp_vast_ad *a = &v->ads[i];
        if (a->wrapper && !a->ad_tag_uri)
            abort();
        if (!a->wrapper && a->linear && a->duration < 0)
            abort();
        for (size_t k = 0; k < a->n_media; k++)
            if (!a->media[k].url)
                abort();
        for (size_t k = 0; k < a->n_tracking; k++)
            if (!a->tracking[k].event || !a->tracking[k].url)
                abort();
    }
}

static void check_error(int rc, const kp_vast_error *err)
{
    if (rc == 0)
        return;
    if (err->msg[0] == '\0' || err->code < 100 || err->code > 900)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    kp_vast_error err;
    if (kp_vmap_sniff(text, size)) {
        kp_vmap *m = NULL;
        int rc = kp_vmap_parse(text, size, &m, &err);
        if ((rc == 0) != (m != NULL))
            abort();
        check_error(rc, &err);
        for (size_t i = 0; m && i < m->n_breaks; i++)
            if (m->breaks[i].vast)
                check_vast(m->breaks[i].vast);
        kp_vmap_free(m);
        return 0;
    }
    kp_vast *v = NULL;
    int rc = kp_vast_parse(text, size, &v, &err);
    if ((rc == 0) != (v != NULL))
        abort();
    check_error(rc, &err);
    if (v)
        check_vast(v);
    kp_vast_free(v);
    return 0;
}
