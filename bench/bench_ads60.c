/* bench_ads60.c: the ads speed figure of issue 5. A 60-second HLS entry (360p, 180p) plays to
 * playbackended with muted autoplay, once with a preroll, two midrolls (20 s, 40 s) and a
 * postroll of 15 s ads (advertising.adBreaks; each ad a VAST served by the mock back-end whose
 * MediaFile is a real 15 s progressive MP4 of the mock CDN), and once without ads. The whole
 * stack runs (loopback HTTP, provider, HLS engine, libavformat, the ads plugin, the recorder).
 * Prints the median wall times of RUNS runs of each and their ratio. Figures, not assertions.
 *
 *   bench_ads60 [RUNS]        (default 10)
 */
#include "kp/buf.h"
#include "kp/err.h"
#include "kp/ffmpeg.h"
#include "kp/jsonu.h"
#include "kp/player.h"
#include "kp/recorder.h"
#include "mbe/mbe.h"
#include "mbe/media.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PID 4242

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

/* One run to playbackended; returns the wall time in ms, or a negative value on failure. */
static double run_once(mbe_server *srv, bool ads, size_t *events, long long *virt_ms)
{
    double t0 = now_ms();
    kp_sched *sched = kp_sched_new();
    kp_net_profile prof = {.bandwidth_bps = 8000000, .latency = KP_MS(20)};
    kp_net *net = kp_net_new(sched, &prof, NULL);
    char service[160];
    snprintf(service, sizeof(service), "%s/api_v3", mbe_server_url(srv));
    json_t *cfg = json_pack("{s:{s:i,s:{s:s}},s:{s:b,s:b}}", "provider", "partnerId", PID, "env",
                            "serviceUrl", service, "playback", "autoplay", 1, "muted", 1);
    if (ads) {
        char *tag = kp_asprintf("%s/ads/bench.xml", mbe_server_url(srv));
        json_t *breaks = json_array();
        const int pos[] = {0, 20, 40, -1};
        for (int i = 0; i < 4; i++)
            json_array_append_new(
                breaks, json_pack("{s:i,s:[{s:[s]}]}", "position", pos[i], "ads", "url", tag));
        json_object_set_new(cfg, "advertising", json_pack("{s:o}", "adBreaks", breaks));
        free(tag);
    }
    kp_player *p = kp_player_new(sched, net, cfg, NULL);
    json_decref(cfg);
    void *st = NULL;
    if (!p || kp_player_add_plugin(p, &kp_recorder_plugin, NULL, NULL, &st) != KP_OK)
        return -1;
    kp_recorder *rec = st;
    json_t *mi = json_pack("{s:s}", "entryId", "0_bench060");
    kp_player_load_media(p, mi);
    json_decref(mi);
    bool ended = false;
    size_t seen = 0, ads_done = 0;
    while (!ended && kp_sched_now(sched) < KP_SEC(600) && kp_sched_step(sched)) {
        for (; seen < kp_recorder_count(rec); seen++) {
            const char *n = kp_recorder_get(rec, seen)->name;
            ended = ended || strcmp(n, "playbackended") == 0;
            ads_done += strcmp(n, "adcompleted") == 0;
        }
    }
    *events = kp_recorder_count(rec);
    *virt_ms = kp_sched_now(sched) / 1000;
    kp_player_free(p);
    kp_net_free(net);
    kp_sched_free(sched);
    double wall = now_ms() - t0;
    if (!ended || (ads && ads_done != 4)) {
        fprintf(stderr, "run failed: ended %d, %zu ads completed\n", ended, ads_done);
        return -1;
    }
    return wall;
}

static int series(mbe_server *srv, bool ads, int runs, double *median)
{
    double *w = calloc((size_t)runs, sizeof(double));
    size_t events = 0;
    long long virt = 0;
    if (!w || run_once(srv, ads, &events, &virt) < 0) /* warm the media cache */
        return -1;
    for (int i = 0; i < runs; i++)
        if ((w[i] = run_once(srv, ads, &events, &virt)) < 0)
            return -1;
    qsort(w, (size_t)runs, sizeof(double), cmp);
    *median = w[runs / 2];
    printf("%-9s %d runs: min %.1f ms, median %.1f ms, max %.1f ms wall; virtual %lld ms, "
           "%zu events\n",
           ads ? "with ads" : "no ads", runs, w[0], w[runs / 2], w[runs - 1], virt, events);
    free(w);
    return 0;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 10;
    if (runs < 1)
        runs = 1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    kp_ffmpeg_set_log_level(KP_LOG_WARN);
    char dir[] = "/tmp/kpsim-bench-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    static const int hls[] = {MBE_FORMAT_HLS};
    static const int prog[] = {MBE_FORMAT_PROGRESSIVE};
    static const char *const two[] = {"360p", "180p"};
    static const char *const one[] = {"360p"};
    const mbe_entry entries[] = {
        {.id = "0_bench060",
         .duration = 60,
         .formats = hls,
         .n_formats = 1,
         .renditions = two,
         .n_renditions = 2},
        {.id = "0_benchad15",
         .duration = 15,
         .formats = prog,
         .n_formats = 1,
         .renditions = one,
         .n_renditions = 1},
    };
    mbe_media_cache *cache = mbe_media_cache_new(dir, NULL);
    mbe_config cfg = {.partner_id = PID, .entries = entries, .n_entries = 2, .media = cache};
    mbe_server *srv = NULL;
    if (!cache || mbe_server_start(&cfg, &srv) != 0) {
        fprintf(stderr, "the mock back-end did not start\n");
        return 1;
    }
    const char *b = mbe_server_url(srv);
    char *vast = kp_asprintf(
        "<VAST version=\"4.2\"><Ad id=\"bench\"><InLine><AdSystem>kpsim</AdSystem>"
        "<AdTitle>bench</AdTitle><Impression>%s/ads/t/impression</Impression><Creatives>"
        "<Creative><Linear><Duration>00:00:15</Duration><TrackingEvents>"
        "<Tracking event=\"start\">%s/ads/t/start</Tracking>"
        "<Tracking event=\"complete\">%s/ads/t/complete</Tracking></TrackingEvents>"
        "<MediaFiles><MediaFile delivery=\"progressive\" type=\"video/mp4\" width=\"640\" "
        "height=\"360\">%s/p/%d/sp/%d00/playManifest/entryId/0_benchad15/protocol/http/format/"
        "url/a.mp4</MediaFile></MediaFiles></Linear></Creative></Creatives></InLine></Ad>"
        "</VAST>",
        b, b, b, b, PID, PID);
    mbe_override o = {.path = "/ads/bench.xml",
                      .status = 200,
                      .content_type = "application/xml",
                      .body = vast,
                      .body_len = strlen(vast)};
    mbe_server_override(srv, &o);
    const char *beacons[] = {"/ads/t/impression", "/ads/t/start", "/ads/t/complete"};
    for (int i = 0; i < 3; i++) {
        mbe_override bo = {.path = beacons[i], .status = 204};
        mbe_server_override(srv, &bo);
    }
    double plain = 0, with = 0;
    int rc = series(srv, false, runs, &plain) || series(srv, true, runs, &with);
    if (rc == 0)
        printf("ratio with/without ads: %.2fx (target <= 1.5x); 60 s of content + 60 s of ads\n",
               with / plain);
    mbe_server_stop(srv);
    mbe_media_cache_free(cache);
    free(vast);
    char *rm = kp_asprintf("rm -rf '%s'", dir);
    if (rm && system(rm) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    free(rm);
    curl_global_cleanup();
    return rc ? 1 : 0;
}
