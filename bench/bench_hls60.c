/* bench_hls60.c: the speed figure. A 60-second HLS entry with two renditions
 * (360p, 180p) is loaded and played to the end with muted autoplay, through the whole stack
 * (mock back-end over loopback HTTP, provider, HLS engine, libavformat demuxing, recorder).
 * Prints: the first run with an empty media cache (generation + playback), then RUNS cached
 * runs (min, median, max wall time) and the ratio of virtual to wall time. Figures, not
 * assertions: speed is never tested.
 *
 *   bench_hls60 [RUNS]        (default 20)
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

static const char scenario[] = "name: bench 60 s HLS to the end\n"
                               "backend:\n"
                               "  entries:\n"
                               "    - {id: 0_bench060, duration: 60, formats: [hls],"
                               " renditions: [360p, 180p]}\n"
                               "player:\n"
                               "  network: {bandwidth: 8mbps, latency: 20ms}\n"
                               "  config:\n"
                               "    playback: {autoplay: true, muted: true}\n"
                               "steps:\n"
                               "  - load_media: {entry_id: 0_bench060}\n"
                               "  - wait_for: {event: ended, timeout: 120s}\n";

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

static int run_once(const hx_scenario *sc, mbe_media_cache *cache, double *wall, long long *virt,
                    size_t *events)
{
    hx_run_opts opts = {.media = cache, .check_expectations = true};
    hx_result r;
    double t0 = now_ms();
    int rc = hx_run(sc, &opts, &r);
    *wall = now_ms() - t0;
    *virt = r.virtual_ms;
    *events = r.trace ? json_array_size(r.trace) : 0;
    if (rc != 0 || r.status != HX_PASSED) {
        fprintf(stderr, "run failed: %s\n", r.n_failures ? r.failures[0].message : "?");
        rc = -1;
    }
    hx_result_free(&r);
    return rc;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 20;
    if (runs < 1)
        runs = 1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    kp_ffmpeg_set_log_level(KP_LOG_WARN);
    hx_scenario *sc = NULL;
    hx_diag diag = {0};
    if (hx_scenario_load_buffer("bench.yaml", scenario, strlen(scenario), &sc, &diag) != 0) {
        fprintf(stderr, "%s\n", diag.n ? diag.msgs[0] : "bad scenario");
        return 1;
    }
    char dir[] = "/tmp/kpsim-bench-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    mbe_media_cache *cache = mbe_media_cache_new(dir, NULL);
    double wall;
    long long virt;
    size_t events;
    if (run_once(sc, cache, &wall, &virt, &events) != 0)
        return 1;
    printf("first run, empty media cache: %.0f ms wall (media generation + playback)\n", wall);
    mbe_media_cache_free(cache);

    /* cached: a fresh cache object on the same directory each time, as a new kpsim process
     * would see it (disk hit), and one shared object (memory hit, as in a suite run) */
    double *w = calloc((size_t)runs, sizeof(double));
    for (int i = 0; i < runs; i++) {
        cache = mbe_media_cache_new(dir, NULL);
        if (run_once(sc, cache, &w[i], &virt, &events) != 0)
            return 1;
        mbe_media_cache_free(cache);
    }
    qsort(w, (size_t)runs, sizeof(double), cmp);
    printf("cached on disk, %d runs: min %.1f ms, median %.1f ms, max %.1f ms wall\n", runs, w[0],
           w[runs / 2], w[runs - 1]);
    printf("  virtual time %lld ms, %zu events; median speed %.0fx real time\n", virt, events,
           (double)virt / w[runs / 2]);
    cache = mbe_media_cache_new(dir, NULL);
    run_once(sc, cache, &wall, &virt, &events); /* warm the memory cache */
    for (int i = 0; i < runs; i++)
        if (run_once(sc, cache, &w[i], &virt, &events) != 0)
            return 1;
    qsort(w, (size_t)runs, sizeof(double), cmp);
    printf("cached in memory (one suite run), %d runs: min %.1f ms, median %.1f ms, max %.1f ms "
           "wall; %.0fx real time\n",
           runs, w[0], w[runs / 2], w[runs - 1], (double)virt / w[runs / 2]);
    mbe_media_cache_free(cache);
    free(w);
    hx_scenario_free(sc);
    hx_diag_free(&diag);
    char *rm = kp_asprintf("rm -rf '%s'", dir);
    if (rm && system(rm) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    free(rm);
    curl_global_cleanup();
    return 0;
}
