/* bench_media.c: how long the media module takes to generate, load from disk and hit in
 * memory. Prints figures; asserts nothing about speed.
 *
 *   bench_media [duration_s [segment_s [rendition ...]]]     default: 60 2 360p 180p
 *
 * Generation goes into a fresh temporary cache directory (removed at the end unless
 * KPSIM_BENCH_KEEP is set), so the first figure is always a from-scratch encode.
 * KPSIM_BENCH_LOG=info|debug shows the module's own log lines.
 */
#include "kp/err.h"
#include "kp/log.h"
#include "mbe/media.h"

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)remove(path);
    return 0;
}

static size_t media_bytes(const mbe_media *m, size_t *segments)
{
    size_t bytes = 0;
    *segments = 0;
    for (size_t i = 0; i < m->n_hls; i++) {
        for (size_t k = 0; k < m->hls[i].n_segments; k++)
            bytes += m->hls[i].segments[k].size;
        *segments += m->hls[i].n_segments;
    }
    return bytes;
}

int main(int argc, char **argv)
{
    double duration = argc > 1 ? atof(argv[1]) : 60.0;
    int segment_s = argc > 2 ? atoi(argv[2]) : MBE_MEDIA_SEGMENT_S_DEFAULT;
    const char *defaults[] = {"360p", "180p"};
    const char *const *names = argc > 3 ? (const char *const *)argv + 3 : defaults;
    size_t n = argc > 3 ? (size_t)(argc - 3) : 2;
    mbe_rendition rs[16];
    if (n > 16) {
        fprintf(stderr, "at most 16 renditions\n");
        return 2;
    }
    for (size_t i = 0; i < n; i++) {
        if (mbe_rendition_parse(names[i], &rs[i]) < 0) {
            fprintf(stderr, "bad rendition name: %s\n", names[i]);
            return 2;
        }
    }
    mbe_media_spec spec = {duration, rs, n, segment_s};

    char dir[] = "/tmp/kpsim-bench-media-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    const char *lv = getenv("KPSIM_BENCH_LOG");
    int level = lv ? kp_log_level_parse(lv) : -1;
    kp_log *log = kp_log_new(level < 0 ? KP_LOG_WARN : (kp_log_level)level, stderr);
    int status = 1;
    const mbe_media *m = NULL;

    mbe_media_cache *c1 = mbe_media_cache_new(dir, log);
    double t0 = now_s();
    int rc = mbe_media_get(c1, &spec, &m);
    double t_gen = now_s() - t0;
    if (rc < 0) {
        fprintf(stderr, "generation failed: %s\n", kp_strerror(rc));
        goto out;
    }
    size_t nseg = 0;
    size_t bytes = media_bytes(m, &nseg);
    printf("spec: %.2f s, segment_s %d, renditions:", m->duration_s, segment_s);
    for (size_t i = 0; i < m->n_hls; i++)
        printf(" %s(%dx%d %dk)", m->hls[i].r.name, m->hls[i].r.width, m->hls[i].r.height,
               m->hls[i].r.video_kbps);
    printf("\nkey: %s\n", m->key);
    printf("first generation:  %8.3f s wall   (%.1fx realtime)\n", t_gen, m->duration_s / t_gen);
    printf("bytes produced:    %zu in %zu segments\n", bytes, nseg);
    for (size_t i = 0; i < m->n_hls; i++)
        printf("  %-6s %3zu segments  BANDWIDTH=%ld AVERAGE-BANDWIDTH=%ld CODECS=\"%s\" "
               "TARGETDURATION=%d\n",
               m->hls[i].r.name, m->hls[i].n_segments, m->hls[i].bandwidth,
               m->hls[i].average_bandwidth, m->hls[i].codecs, m->hls[i].target_duration);

    t0 = now_s();
    rc = mbe_media_get(c1, &spec, &m);
    double t_mem = now_s() - t0;

    /* Disk loads by new cache objects on the same directory. The first one needs `bytes`
     * of memory the process never touched before (page faults; costly on some VMs); later
     * ones reuse what the previous object freed. */
    double t_disk[4];
    mbe_media_stats s1, s2 = {0};
    for (int i = 0; i < 4; i++) {
        mbe_media_cache *c2 = mbe_media_cache_new(dir, log);
        t0 = now_s();
        int rc2 = mbe_media_get(c2, &spec, &m);
        t_disk[i] = now_s() - t0;
        mbe_media_cache_stats(c2, &s2);
        mbe_media_cache_free(c2);
        if (rc2 < 0 || s2.loaded_from_disk != 1) {
            fprintf(stderr, "disk load failed: %s\n", kp_strerror(rc2));
            goto out;
        }
    }
    mbe_media_cache_stats(c1, &s1);
    if (rc < 0) {
        fprintf(stderr, "memory lookup failed: %s\n", kp_strerror(rc));
        goto out;
    }
    /* what merely touching that much fresh memory costs here, for comparison */
    t0 = now_s();
    void *fresh = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (fresh != MAP_FAILED) {
        volatile char *v = fresh;
        for (size_t i = 0; i < bytes; i += 4096)
            v[i] = 1;
    }
    double t_touch = now_s() - t0;
    if (fresh != MAP_FAILED)
        munmap(fresh, bytes);
    printf("disk-cache load:   %8.3f ms cold  (first load in this process)\n", t_disk[0] * 1e3);
    printf("disk-cache load:   %8.3f ms warm  (median of 3 more, new cache object each)\n",
           (t_disk[1] + t_disk[2] + t_disk[3] - fmax(t_disk[1], fmax(t_disk[2], t_disk[3])) -
            fmin(t_disk[1], fmin(t_disk[2], t_disk[3]))) *
               1e3);
    printf("  (for comparison, first touch of %zu bytes of fresh anonymous memory: %.3f ms)\n",
           bytes, t_touch * 1e3);
    printf("memory hit:        %8.3f us\n", t_mem * 1e6);
    printf("stats: encoded=%u memory_hits=%u; each later cache: loaded_from_disk=%u encoded=%u\n",
           s1.encoded, s1.memory_hits, s2.loaded_from_disk, s2.encoded);
    status = 0;
out:
    mbe_media_cache_free(c1);
    kp_log_free(log);
    if (getenv("KPSIM_BENCH_KEEP"))
        printf("cache kept in %s\n", dir);
    else
        nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return status;
}
