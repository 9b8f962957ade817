/* bench_media.c: how long the media module takes to generate (encode once, then package
 * HLS-TS, DASH fMP4 and progressive MP4), load from disk and hit in memory, and to draw
 * thumbnails. Prints figures; asserts nothing about speed.
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

typedef struct totals {
    size_t hls, hls_files, dash, dash_files, mp4, mp4_files;
} totals;

static size_t media_bytes(const mbe_media *m, totals *t)
{
    memset(t, 0, sizeof(*t));
    for (size_t i = 0; i < m->n_hls; i++) {
        for (size_t k = 0; k < m->hls[i].n_segments; k++)
            t->hls += m->hls[i].segments[k].size;
        t->hls_files += m->hls[i].n_segments;
    }
    for (size_t i = 0; i <= m->n_dash_video; i++) {
        const mbe_dash_stream *s = i < m->n_dash_video ? &m->dash_video[i] : m->dash_audio;
        t->dash += s->init_size;
        for (size_t k = 0; k < s->n_segments; k++)
            t->dash += s->segments[k].size;
        t->dash_files += 1 + s->n_segments;
    }
    for (size_t i = 0; i < m->n_mp4; i++)
        t->mp4 += m->mp4[i].size;
    t->mp4_files = m->n_mp4;
    return t->hls + t->dash + t->mp4;
}

/* Median wall time of `runs` thumbnails, in ms; 0 and a message when one fails. */
static double thumb_ms(const mbe_thumb_spec *t, int runs, size_t *bytes)
{
    double times[16];
    runs = runs > 16 ? 16 : runs;
    for (int i = 0; i < runs; i++) {
        uint8_t *jpeg = NULL;
        double t0 = now_s();
        int rc = mbe_thumbnail_jpeg(t, NULL, &jpeg, bytes);
        times[i] = now_s() - t0;
        free(jpeg);
        if (rc < 0) {
            fprintf(stderr, "thumbnail failed: %s\n", kp_strerror(rc));
            return 0;
        }
    }
    for (int i = 1; i < runs; i++) /* insertion sort */
        for (int j = i; j > 0 && times[j] < times[j - 1]; j--) {
            double x = times[j];
            times[j] = times[j - 1];
            times[j - 1] = x;
        }
    return times[runs / 2] * 1e3;
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
    mbe_media_spec spec = {duration, rs, n, segment_s, 0};

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
    totals tot;
    size_t bytes = media_bytes(m, &tot);
    printf("spec: %.2f s, segment_s %d, renditions:", m->duration_s, segment_s);
    for (size_t i = 0; i < m->n_hls; i++)
        printf(" %s(%dx%d %dk)", m->hls[i].r.name, m->hls[i].r.width, m->hls[i].r.height,
               m->hls[i].r.video_kbps);
    printf("\nkey: %s\n", m->key);
    printf("first generation:  %8.3f s wall   (%.1fx realtime; encode + HLS + DASH + MP4 + "
           "disk store)\n",
           t_gen, m->duration_s / t_gen);
    printf("bytes produced:    %zu: HLS %zu in %zu segments, DASH %zu in %zu files, MP4 %zu in "
           "%zu files\n",
           bytes, tot.hls, tot.hls_files, tot.dash, tot.dash_files, tot.mp4, tot.mp4_files);
    for (size_t i = 0; i < m->n_hls; i++)
        printf("  %-6s HLS %3zu segments BANDWIDTH=%ld AVERAGE-BANDWIDTH=%ld CODECS=\"%s\"; "
               "DASH bandwidth=%ld; MP4 %zu bytes (%ld bit/s)\n",
               m->hls[i].r.name, m->hls[i].n_segments, m->hls[i].bandwidth,
               m->hls[i].average_bandwidth, m->hls[i].codecs, m->dash_video[i].bandwidth,
               m->mp4[i].size, m->mp4[i].bitrate);
    printf("  audio  DASH %zu segments bandwidth=%ld codecs=%s\n", m->dash_audio->n_segments,
           m->dash_audio->bandwidth, m->dash_audio->codecs);

    t0 = now_s();
    rc = mbe_media_get(c1, &spec, &m);
    double t_mem = now_s() - t0;

    /* Disk loads by new cache objects on the same directory, of every packaging (0) and
     * of HLS alone. The first one needs `bytes` of memory the process never touched before
     * (page faults; costly on some VMs); later ones may reuse what the previous object
     * freed. */
    double t_disk[2][4];
    mbe_media_stats s1, s2 = {0};
    const unsigned masks[2] = {0, MBE_PACKAGE_HLS};
    for (int k = 0; k < 2; k++) {
        mbe_media_spec sp = spec;
        sp.packagings = masks[k];
        for (int i = 0; i < 4; i++) {
            mbe_media_cache *c2 = mbe_media_cache_new(dir, log);
            t0 = now_s();
            int rc2 = mbe_media_get(c2, &sp, &m);
            t_disk[k][i] = now_s() - t0;
            mbe_media_cache_stats(c2, &s2);
            mbe_media_cache_free(c2);
            if (rc2 < 0 || s2.loaded_from_disk != 1) {
                fprintf(stderr, "disk load failed: %s\n", kp_strerror(rc2));
                goto out;
            }
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
    for (int k = 0; k < 2; k++) {
        const double *t = t_disk[k];
        double warm =
            t[1] + t[2] + t[3] - fmax(t[1], fmax(t[2], t[3])) - fmin(t[1], fmin(t[2], t[3]));
        printf("disk-cache load:   %8.3f ms cold, %.3f ms warm (%s; cold: first load in "
               "this process, warm: median of 3 more, new cache object each)\n",
               t[0] * 1e3, warm * 1e3, k ? "HLS only" : "every packaging");
    }
    printf("  (for comparison, first touch of %zu bytes of fresh anonymous memory: %.3f ms)\n",
           bytes, t_touch * 1e3);
    printf("memory hit:        %8.3f us\n", t_mem * 1e6);
    mbe_thumb_spec poster = {
        .duration_s = m->duration_s, .width = 640, .height = 360, .vid_sec = -1};
    mbe_thumb_spec sprite = {
        .duration_s = m->duration_s, .width = 164, .slices = 100, .vid_sec = -1};
    size_t pb = 0, sb = 0;
    double tp = thumb_ms(&poster, 9, &pb), ts = thumb_ms(&sprite, 9, &sb);
    printf("thumbnail:         %8.3f ms poster 640x360 (%zu bytes), %.3f ms sprite 100 x 164x92 "
           "(%zu bytes), median of 9\n",
           tp, pb, ts, sb);
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
