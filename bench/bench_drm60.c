/* bench_drm60.c: the DRM speed figure. A 60-second DASH entry (two renditions) is
 * played to the end with muted autoplay, once in the clear and once protected for Widevine
 * (cenc), through the whole stack: mock back-end and mock license server over loopback HTTP,
 * provider, source selection, the EME's license exchange, the DASH engine, CENC decryption of
 * every segment, libavformat demuxing. Both run on a warm media cache (the encrypted
 * packaging is made on first use, then cached like the clear media).
 * Prints the median wall time of each over RUNS runs, and the ratio encrypted / clear (the
 * target is 1.5 at most). Figures, not assertions: speed is never tested.
 *
 *   bench_drm60 [RUNS]        (default 10)
 */
#include "hx/runner.h"
#include "hx/scenario.h"
#include "kp/buf.h"
#include "kp/ffmpeg.h"
#include "mbe/media.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char clear_yaml[] = "name: bench 60 s DASH clear\n"
                                 "backend:\n"
                                 "  entries:\n"
                                 "    - {id: 0_bench061, duration: 60, formats: [dash],"
                                 " renditions: [360p, 180p]}\n"
                                 "player:\n"
                                 "  network: {bandwidth: 8mbps, latency: 20ms}\n"
                                 "  config:\n"
                                 "    playback: {autoplay: true, muted: true}\n"
                                 "steps:\n"
                                 "  - load_media: {entry_id: 0_bench061}\n"
                                 "  - wait_for: {event: ended, timeout: 120s}\n";

/* the same content under another id, protected (the media cache keys on content, not id) */
static const char drm_yaml[] = "name: bench 60 s DASH Widevine\n"
                               "backend:\n"
                               "  entries:\n"
                               "    - {id: 0_bench062, duration: 60, formats: [dash],"
                               " renditions: [360p, 180p], drm: [widevine]}\n"
                               "player:\n"
                               "  network: {bandwidth: 8mbps, latency: 20ms}\n"
                               "  config:\n"
                               "    playback: {autoplay: true, muted: true}\n"
                               "steps:\n"
                               "  - load_media: {entry_id: 0_bench062}\n"
                               "  - wait_for: {event: ended, timeout: 120s}\n"
                               "expect:\n"
                               "  requests:\n"
                               "    - {server: drm, match: {outcome: granted}, count: 1}\n";

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1000.0 + (double)t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static hx_scenario *load(const char *text)
{
    hx_scenario *sc = NULL;
    hx_diag diag = {0};
    if (hx_scenario_load_buffer("bench.yaml", text, strlen(text), &sc, &diag) != 0)
        fprintf(stderr, "%s\n", diag.n ? diag.msgs[0] : "bad scenario");
    hx_diag_free(&diag);
    return sc;
}

/* Wall time of one run in ms, or -1 when it did not pass. */
static double run_once(const hx_scenario *sc, mbe_media_cache *cache, long long *virt)
{
    hx_run_opts opts = {.media = cache, .check_expectations = true};
    hx_result r;
    double t0 = now_ms();
    int rc = hx_run(sc, &opts, &r);
    double wall = now_ms() - t0;
    *virt = r.virtual_ms;
    if (rc != 0 || r.status != HX_PASSED) {
        fprintf(stderr, "%s: run failed: %s\n", sc->name,
                r.n_failures ? r.failures[0].message : "?");
        wall = -1;
    }
    hx_result_free(&r);
    return wall;
}

/* The median of runs (after one warm-up run), or -1. */
static double median(const hx_scenario *sc, mbe_media_cache *cache, int runs, long long *virt)
{
    if (run_once(sc, cache, virt) < 0)
        return -1;
    double *w = calloc((size_t)runs, sizeof(double));
    if (!w)
        return -1;
    for (int i = 0; i < runs; i++) {
        w[i] = run_once(sc, cache, virt);
        if (w[i] < 0) {
            free(w);
            return -1;
        }
    }
    qsort(w, (size_t)runs, sizeof(double), cmp);
    double m = w[runs / 2];
    printf("  %-28s %d runs: min %.1f ms, median %.1f ms, max %.1f ms wall (%lld ms virtual)\n",
           sc->name, runs, w[0], m, w[runs - 1], *virt);
    free(w);
    return m;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 10;
    if (runs < 1)
        runs = 1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    kp_ffmpeg_set_log_level(KP_LOG_WARN);
    hx_scenario *clear = load(clear_yaml), *drm = load(drm_yaml);
    char dir[] = "/tmp/kpsim-bench-XXXXXX";
    if (!clear || !drm || !mkdtemp(dir))
        return 1;
    mbe_media_cache *cache = mbe_media_cache_new(dir, NULL);
    long long virt;
    double c = median(clear, cache, runs, &virt);
    double d = median(drm, cache, runs, &virt);
    if (c > 0 && d > 0)
        printf("encrypted / clear: %.2f (target: at most 1.5)\n", d / c);
    mbe_media_cache_free(cache);
    hx_scenario_free(clear);
    hx_scenario_free(drm);
    char *rm = kp_asprintf("rm -rf '%s'", dir);
    if (rm && system(rm) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    free(rm);
    curl_global_cleanup();
    return c > 0 && d > 0 ? 0 : 1;
}
