/* fuzz_license.c: the license message parsers of every key system (kp/drmmsg.h), requests and
 * licenses, the init data parsers, and the UDRM custom_data verifier. The first byte picks the
 * parser: 0-3 the request of system b, 4-7 the license of system b-4, 8 the custom_data
 * verifier (custom_data and signature split at the first newline), 9-11 cenc init data for
 * ClearKey, Widevine, PlayReady, 12 keyids init data. What parses must build back into a
 * message that parses to the same key IDs and keys. */
#include "kp/buf.h"
#include "kp/drm.h"
#include "kp/drmmsg.h"
#include "kp/err.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void request(kp_drm_system s, const uint8_t *d, size_t n)
{
    kp_drmmsg_request rq, back;
    char err[256];
    if (kp_drmmsg_parse_request(s, d, n, &rq, err, sizeof(err)) != KP_OK) {
        if (!err[0])
            abort(); /* every refusal says why */
        return;
    }
    kp_buf b;
    kp_buf_init(&b);
    int rc = kp_drmmsg_build_request(&rq, &b);
    if (rc == KP_OK &&
        (kp_drmmsg_parse_request(s, b.data, b.len, &back, err, sizeof(err)) != KP_OK ||
         back.n_kids != rq.n_kids || memcmp(back.kids, rq.kids, 16 * rq.n_kids) != 0 ||
         strcmp(back.asset_id, rq.asset_id) != 0))
        abort();
    kp_buf_free(&b);
}

static void license(kp_drm_system s, const uint8_t *d, size_t n)
{
    kp_drmmsg_license l, back;
    char err[256];
    if (kp_drmmsg_parse_license(s, d, n, &l, err, sizeof(err)) != KP_OK) {
        if (!err[0])
            abort();
        return;
    }
    kp_buf b;
    kp_buf_init(&b);
    if (kp_drmmsg_build_license(&l, &b) == KP_OK &&
        (kp_drmmsg_parse_license(s, b.data, b.len, &back, err, sizeof(err)) != KP_OK ||
         back.n_keys != l.n_keys || memcmp(back.keys, l.keys, sizeof(kp_drm_key) * l.n_keys) != 0 ||
         back.duration_s != l.duration_s))
        abort();
    kp_buf_free(&b);
}

static void verify(const uint8_t *d, size_t n)
{
    char *text = malloc(n + 1);
    if (!text)
        return;
    memcpy(text, d, n);
    text[n] = '\0';
    char *nl = strchr(text, '\n');
    const char *sig = "";
    if (nl) {
        *nl = '\0';
        sig = nl + 1;
    }
    kp_udrm_data u;
    char err[256];
    int rc = kp_udrm_verify("kpsim-udrm-secret-4242", text, sig, &u, err, sizeof(err));
    if (rc == KP_OK) {
        if (!u.content_id || !u.json)
            abort();
        kp_udrm_data_free(&u);
    } else if (!err[0] && rc != KP_ENOMEM) {
        abort();
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned pick = data[0] % 13;
    const uint8_t *d = data + 1;
    size_t n = size - 1;
    if (pick < 4) {
        request((kp_drm_system)pick, d, n);
    } else if (pick < 8) {
        license((kp_drm_system)(pick - 4), d, n);
    } else if (pick == 8) {
        verify(d, n);
    } else {
        uint8_t kids[KP_DRMMSG_MAX_KIDS][16];
        char err[256];
        int got = kp_drm_initdata_kids(pick == 12 ? KP_DRM_CLEARKEY : (kp_drm_system)(pick - 9),
                                       pick == 12 ? "keyids" : "cenc", d, n, kids,
                                       KP_DRMMSG_MAX_KIDS, err, sizeof(err));
        if (got == 0 || got > KP_DRMMSG_MAX_KIDS || (got < 0 && !err[0]))
            abort();
    }
    return 0;
}
