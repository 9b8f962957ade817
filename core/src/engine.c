/* engine.c: what the engines share (engine.h). */
#include "engine.h"

#include "kp/err.h"

#include <stdio.h>
#include <string.h>

double kp_engine_elapsed_ms(const kp_http_response *r)
{
    return (double)(r->finished - r->started) / 1000.0;
}

void kp_engine_frag_loaded(const kp_engine_host *host, const kp_http_response *r)
{
    host->emit(host->ud, KP_EV_FRAG_LOADED,
               json_pack("{s:f, s:I, s:s}", "miliSeconds", kp_engine_elapsed_ms(r), "bytes",
                         (json_int_t)r->body.len, "url", r->url));
}

int kp_engine_hls_aes_decrypt(kp_cenc_ctx **ctx, const uint8_t *key, const kp_m3u8_key *k,
                              const kp_m3u8_segment *sg, const void *data, size_t len,
                              kp_buf *plain, char *err, size_t errlen)
{
    snprintf(err, errlen, "the segment's key was not loaded");
    int rc = key ? KP_OK : KP_ESTATE;
    if (rc == KP_OK && !*ctx && !(*ctx = kp_cenc_ctx_new()))
        rc = KP_ENOMEM;
    plain->len = 0;
    if (rc == KP_OK)
        rc = kp_buf_append(plain, data, len);
    if (rc == KP_ENOMEM) {
        snprintf(err, errlen, "out of memory");
        return rc;
    }
    if (rc != KP_OK)
        return rc;
    uint8_t iv[16];
    if (k->has_iv)
        memcpy(iv, k->iv_bytes, 16);
    else
        kp_hls_aes_iv_from_sequence((uint64_t)sg->sequence, iv);
    size_t out_len = 0;
    rc = kp_hls_aes_decrypt(*ctx, key, iv, (uint8_t *)plain->data, plain->len, &out_len, err,
                            errlen);
    if (rc == KP_OK)
        plain->len = out_len;
    return rc;
}
