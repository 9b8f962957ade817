/* bench_decrypt.c: decryption throughput of kp_cenc_decrypt_fragment over the mock CDN's real
 * DASH segments (H.264 video and AAC audio, packaged cenc and cbcs by media_protect.c), the
 * way a player runs it: one kp_cenc_ctx, each fragment parsed (moof/traf/trun/senc/saiz/saio)
 * and its samples decrypted in place. Prints figures; asserts nothing about speed.
 *
 *   bench_decrypt [duration_s [rendition [seconds_per_scheme]]]     default: 20 360p 2
 *
 * Throughput is segment bytes (boxes included) per second, MB = 10^6 bytes, the figure
 * `openssl speed` reports in kB = 10^3 bytes (bench_decrypt.sh puts them side by side). The
 * same buffers are decrypted over and over: the box structure does not change and the
 * cipher's work does not depend on the bytes, so the figure is that of fresh segments.
 * The media comes from the media cache ($KPSIM_CACHE_DIR, else the default directory):
 * encoded on the first run, loaded afterwards. Lines "scheme=<s> mbs=<x>" are for scripts.
 */
#include "kp/cenc.h"
#include "kp/drm.h"
#include "kp/err.h"
#include "mbe/media.h"
#include "media_protect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct seg {
    uint8_t *data;
    size_t len;
    const kp_cenc_init *init;
} seg;

static int bench(const mbe_media *m, int scheme, double secs)
{
    mbe_drm d = {.scheme = scheme, .systems = 1u << KP_DRM_CLEARKEY};
    kp_drm_derive_key("0_bench01", d.kid, d.key);
    mbe__protected *p = NULL;
    int rc = mbe__protected_new(m, &d, MBE_HLS_TS, NULL, &p);
    if (rc < 0) {
        fprintf(stderr, "bench_decrypt: cannot package: %s\n", kp_strerror(rc));
        return rc;
    }
    kp_cenc_init inits[2];
    seg segs[512];
    size_t n = 0, total = 0;
    char err[256];
    for (int s = 0; s < 2; s++) { /* video rendition 0, then the audio */
        size_t index = s ? SIZE_MAX : 0, len = 0;
        const uint8_t *init = mbe__protected_dash(p, index, 0, &len);
        if (!init || kp_cenc_parse_init(init, len, &inits[s], err, sizeof(err)) < 0) {
            fprintf(stderr, "bench_decrypt: init: %s\n", err);
            mbe__protected_free(p);
            return KP_EMEDIA;
        }
        const uint8_t *b;
        for (unsigned long k = 1; n < 512 && (b = mbe__protected_dash(p, index, k, &len)); k++) {
            segs[n].data = malloc(len);
            if (!segs[n].data)
                return KP_ENOMEM;
            memcpy(segs[n].data, b, len);
            segs[n].len = len;
            segs[n].init = &inits[s];
            total += len;
            n++;
        }
    }
    kp_cenc_ctx *c = kp_cenc_ctx_new();
    kp_cenc_stats st = {0};
    size_t bytes = 0;
    int rounds = 0;
    double t0 = now_s(), t = 0;
    while (rc == 0 && (t = now_s() - t0) < secs) {
        for (size_t i = 0; i < n && rc == 0; i++) {
            rc = kp_cenc_decrypt_fragment(c, segs[i].init, d.key, segs[i].data, segs[i].len, &st,
                                          err, sizeof(err));
            bytes += segs[i].len;
        }
        rounds++;
    }
    if (rc < 0)
        fprintf(stderr, "bench_decrypt: %s\n", err);
    else
        printf("%s: %zu segments (%.2f MB: video %s + audio), %d rounds in %.2f s: %.1f MB/s of "
               "segments, %.1f MB/s of protected ranges (%.1f%% of the bytes, %zu samples/round)\n"
               "scheme=%s mbs=%.1f protected_mbs=%.1f\n",
               kp_enc_scheme_name((kp_enc_scheme)scheme), n, (double)total / 1e6,
               m->dash_video[0].r.name, rounds, t, (double)bytes / 1e6 / t,
               (double)bytes / 1e6 / t * (double)st.protected_bytes /
                   (double)(st.bytes ? st.bytes : 1),
               100.0 * (double)st.protected_bytes / (double)(st.bytes ? st.bytes : 1),
               st.samples / (size_t)(rounds ? rounds : 1),
               kp_enc_scheme_name((kp_enc_scheme)scheme), (double)bytes / 1e6 / t,
               (double)bytes / 1e6 / t * (double)st.protected_bytes /
                   (double)(st.bytes ? st.bytes : 1));
    kp_cenc_ctx_free(c);
    for (size_t i = 0; i < n; i++)
        free(segs[i].data);
    mbe__protected_free(p);
    return rc;
}

int main(int argc, char **argv)
{
    double duration = argc > 1 ? atof(argv[1]) : 20;
    const char *name = argc > 2 ? argv[2] : "360p";
    double secs = argc > 3 ? atof(argv[3]) : 2;
    mbe_rendition r;
    if (duration <= 0 || secs <= 0 || mbe_rendition_parse(name, &r) < 0) {
        fprintf(stderr, "usage: bench_decrypt [duration_s [rendition [seconds_per_scheme]]]\n");
        return 2;
    }
    mbe_media_cache *cache = mbe_media_cache_new(NULL, NULL);
    mbe_media_spec spec = {.duration_s = duration,
                           .renditions = &r,
                           .n_renditions = 1,
                           .segment_s = MBE_MEDIA_SEGMENT_S_DEFAULT,
                           .packagings = MBE_PACKAGE_DASH};
    const mbe_media *m = NULL;
    double t0 = now_s();
    int rc = cache ? mbe_media_get(cache, &spec, &m) : KP_ENOMEM;
    if (rc < 0) {
        fprintf(stderr, "bench_decrypt: no media: %s\n", kp_strerror(rc));
        mbe_media_cache_free(cache);
        return 1;
    }
    printf("media: %.0f s of %s, ready in %.2f s\n", duration, name, now_s() - t0);
    rc = bench(m, KP_ENC_CENC, secs);
    if (rc == 0)
        rc = bench(m, KP_ENC_CBCS, secs);
    mbe_media_cache_free(cache);
    return rc < 0 ? 1 : 0;
}
