/* fuzz_fault.c: fault rules as the admin path of `kpsim serve` takes them (arbitrary JSON):
 * kp_fault_rule_parse either rejects with a message and a key path or gives a rule that can be
 * listed and decided on; and the broken bodies for every kind of content. */
#include "kp/err.h"
#include "kp/fault.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!j)
        return 0;
    kp_fault_rule *r = NULL;
    char err[256], where[128];
    int rc = kp_fault_rule_parse(j, NULL, &r, err, sizeof(err), where, sizeof(where));
    if (rc == KP_EPARSE && (r || !err[0]))
        abort(); /* a rejection always says why */
    if (rc == KP_OK) {
        kp_fault_set *s = kp_fault_set_new();
        kp_fault_set_add(s, r);
        json_t *list = kp_fault_set_json(s);
        if (json_array_size(list) != 1)
            abort();
        json_decref(list);
        const char *svc[] = {"baseEntry"}, *act[] = {"list"};
        static const char *const servers[] = {"api", "cdn", "drm", "ads", "analytics"};
        for (size_t i = 0; i < 5; i++) {
            kp_fault_req q = {.server = servers[i],
                              .method = "GET",
                              .path = "/hls/seg-1.ts",
                              .services = svc,
                              .actions = act,
                              .n_calls = 1,
                              .segment = 1,
                              .rendition = "360p",
                              .kind = "segment",
                              .scheme = "widevine"};
            kp_fault_set_event(s, "playing");
            kp_fault_action a;
            if (kp_fault_decide(s, &q, &a)) {
                kp_buf b;
                kp_buf_init(&b);
                kp_fault_malformed_body("video/mp4", q.path, a.bytes % 4096, a.seed, &b);
                kp_buf_free(&b);
            }
            kp_fault_action_clear(&a);
        }
        kp_fault_set_free(s);
    }
    json_decref(j);
    return 0;
}
