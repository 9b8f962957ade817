/* fuzz_cenc.c: kp/cenc.h on arbitrary bytes. The input is a 4-byte big-endian length N, an
 * init segment of N bytes, then a media segment (the rest; a short input is all init).
 * Every step runs on what the previous one accepted, with a fixed key:
 *   parse the init (and each of its pssh boxes alone), decrypt the fragment in place;
 *   package: protect the init (cenc and cbcs) and the fragment with the protected init, and
 *   decrypt what the packager wrote (it must accept its own output);
 *   HLS AES-128 decryption of the whole input.
 * Invariants: a failure is a negative KP_E* code with a message; nothing crashes or leaks. */
#include "kp/buf.h"
#include "kp/cenc.h"
#include "kp/err.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t KEY[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};

static void check(int rc, const char *err)
{
    if (rc > 0 || (rc < 0 && (err[0] == '\0' || kp_err_name(rc)[3] == 'U')))
        abort(); /* a failure without a message, or an unknown code */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n = size;
    if (size >= 4) {
        size_t want =
            (size_t)data[0] << 24 | (size_t)data[1] << 16 | (size_t)data[2] << 8 | data[3];
        n = want <= size - 4 ? want : size - 4;
        data += 4;
        size -= 4;
    }
    const uint8_t *init = data, *frag = data + n;
    size_t frag_len = size - n;
    char err[256] = "";
    kp_cenc_ctx *c = kp_cenc_ctx_new();
    if (!c)
        return 0;
    kp_cenc_init in;
    uint8_t *copy = malloc(frag_len ? frag_len : 1);
    if (!copy) {
        kp_cenc_ctx_free(c);
        return 0;
    }
    int rc = kp_cenc_parse_init(init, n, &in, err, sizeof(err));
    check(rc, err);
    if (rc == 0) {
        for (size_t i = 0; i < in.n_pssh; i++) {
            kp_cenc_pssh p;
            err[0] = '\0';
            if (kp_cenc_parse_pssh(init + in.pssh[i].offset, in.pssh[i].size, &p, err,
                                   sizeof(err)) != 0)
                abort(); /* parse_init accepted it */
        }
        memcpy(copy, frag, frag_len);
        err[0] = '\0';
        kp_cenc_stats st = {0};
        check(kp_cenc_decrypt_fragment(c, &in, KEY, copy, frag_len, &st, err, sizeof(err)), err);
    }
    /* the packager on the same bytes */
    for (int s = 0; s < 2; s++) {
        kp_cenc_protect p = {.scheme = s ? KP_CENC_SCHEME_CBCS : KP_CENC_SCHEME_CENC};
        memset(p.kid, 0x42, 16);
        memset(p.constant_iv, 0x24, 16);
        kp_buf pinit, pfrag;
        kp_buf_init(&pinit);
        kp_buf_init(&pfrag);
        err[0] = '\0';
        rc = kp_cenc_protect_init(&p, init, n, &pinit, err, sizeof(err));
        check(rc, err);
        kp_cenc_init pin;
        if (rc == 0) {
            err[0] = '\0';
            rc = kp_cenc_parse_init((const uint8_t *)pinit.data, pinit.len, &pin, err, sizeof(err));
            check(rc, err);
        }
        if (rc == 0) {
            uint64_t iv = 1;
            err[0] = '\0';
            rc = kp_cenc_protect_fragment(c, &pin, KEY, &iv, frag, frag_len, &pfrag, err,
                                          sizeof(err));
            check(rc, err);
            if (rc == 0) {
                err[0] = '\0';
                if (kp_cenc_decrypt_fragment(c, &pin, KEY, (uint8_t *)pfrag.data, pfrag.len, NULL,
                                             err, sizeof(err)) != 0)
                    abort(); /* the decryptor refuses what the packager wrote */
            }
        }
        kp_buf_free(&pinit);
        kp_buf_free(&pfrag);
    }
    /* HLS AES-128 */
    uint8_t *all = malloc(size ? size : 1);
    if (all) {
        memcpy(all, data, size);
        size_t out = 0;
        uint8_t iv[16];
        kp_hls_aes_iv_from_sequence(size, iv);
        err[0] = '\0';
        rc = kp_hls_aes_decrypt(c, KEY, iv, all, size, &out, err, sizeof(err));
        check(rc, err);
        if (rc == 0 && (out > size || size - out > 16 || size - out == 0))
            abort();
        free(all);
    }
    free(copy);
    kp_cenc_ctx_free(c);
    return 0;
}
