/* test_mock_cdn.c: the mock CDN's DASH, progressive MP4 and thumbnail routes over real HTTP
 * on 127.0.0.1 (libcurl): playManifest → MPD (BaseURL, listed flavors) → init and media
 * segments that demux and decode; playManifest → 302 → MP4 with byte ranges (206, 416,
 * ignored headers); thumbnails that decode at the asked size; HEAD; 404s and 400s; the
 * journal's kinds. Last, FFmpeg itself plays the MPD (its dash demuxer fetches over
 * loopback) and the MP4 through the redirect. Entries are 4 s of 180p + 144p.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http_client.h"
#include "kp/buf.h"
#include "kp/err.h"
#include "kp/ffmpeg.h"
#include "mbe/mbe.h"
#include "media_priv.h"
#include "mock_server.h"

#include <curl/curl.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PID "4242"
#define SP  "424200"

typedef struct fixture {
    test_mock mock;
    const char *url;
    char ids[2][32]; /* flavor ids of 0_cdn00001: 180p, 144p (from its MPD) */
} fixture;

static const int all_formats[] = {MBE_FORMAT_HLS, MBE_FORMAT_DASH, MBE_FORMAT_PROGRESSIVE};
static const int hls_only[] = {MBE_FORMAT_HLS};
static const char *const ladder[] = {"180p", "144p"};
static const char *const low[] = {"144p"};

/* ---- HTTP -------------------------------------------------------------------------------- */

typedef test_reply reply;

/* One request, redirects not followed. range: a Range header value (sent verbatim, so that
 * malformed ones reach the server as they are), or NULL. */
static void http(const char *method, const char *url, const char *range, reply *r)
{
    char line[256];
    if (range)
        snprintf(line, sizeof(line), "Range: %s", range);
    test_http(method, url, NULL, NULL, range ? line : NULL, r);
}

static void reply_free(reply *r)
{
    test_reply_free(r);
}

/* A response header's value (malloc'd), or NULL. */
static char *header(const reply *r, const char *name)
{
    size_t n = strlen(name);
    const char *p = r->headers.data;
    while (p && *p) {
        const char *eol = strstr(p, "\r\n");
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > n && p[n] == ':' && strncasecmp(p, name, n) == 0) {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            return kp_strndup(v, (size_t)(p + len - v));
        }
        p = eol ? eol + 2 : p + len;
    }
    return NULL;
}

static void assert_header(const reply *r, const char *name, const char *want)
{
    char *v = header(r, name);
    if (!want) {
        if (v)
            fail_msg("unexpected %s: %s", name, v);
        return;
    }
    if (!v)
        fail_msg("no %s header in:\n%s", name, r->headers.data);
    if (strcmp(v, want) != 0)
        fail_msg("%s: \"%s\", want \"%s\"", name, v, want);
    free(v);
}

static void get(const char *url, long want_status, reply *r)
{
    http("GET", url, NULL, r);
    if (r->status != want_status)
        fail_msg("GET %s: %ld, want %ld (%s)", url, r->status, want_status,
                 r->body.data ? r->body.data : "");
}

static void expect_status(const char *method, const char *url, long want)
{
    reply r;
    http(method, url, NULL, &r);
    if (r.status != want)
        fail_msg("%s %s: %ld, want %ld", method, url, r.status, want);
    reply_free(&r);
}

static size_t count(fixture *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    json_t *m = json_vpack_ex(NULL, 0, fmt, ap);
    va_end(ap);
    assert_non_null(m);
    size_t n = mbe_server_count(f->mock.srv, "cdn", m);
    json_decref(m);
    return n;
}

/* ---- MPD --------------------------------------------------------------------------------- */

static xmlNode *child(xmlNode *n, const char *name, int index)
{
    for (xmlNode *x = n ? n->children : NULL; x; x = x->next)
        if (x->type == XML_ELEMENT_NODE && strcmp((const char *)x->name, name) == 0 && index-- == 0)
            return x;
    return NULL;
}

static char *prop(xmlNode *n, const char *name)
{
    assert_non_null(n);
    xmlChar *v = xmlGetProp(n, BAD_CAST name);
    assert_non_null(v);
    char *s = kp_strdup((const char *)v);
    xmlFree(v);
    return s;
}

typedef struct mpd_info {
    char base[256];
    int n_video;
    char video_ids[4][32];
    int heights[4];
    char audio_id[32];
    int n_segments[2]; /* video, audio: from the SegmentTimelines */
} mpd_info;

static int timeline_count(xmlNode *tmpl)
{
    int n = 0;
    for (xmlNode *x = child(tmpl, "SegmentTimeline", 0)->children; x; x = x->next) {
        if (x->type != XML_ELEMENT_NODE)
            continue;
        xmlChar *r = xmlGetProp(x, BAD_CAST "r");
        n += 1 + (r ? atoi((const char *)r) : 0);
        xmlFree(r);
    }
    return n;
}

static void parse_mpd(const reply *r, mpd_info *out)
{
    memset(out, 0, sizeof(*out));
    xmlDoc *doc = xmlReadMemory(r->body.data, (int)r->body.len, "a.mpd", NULL, XML_PARSE_NONET);
    assert_non_null(doc);
    xmlNode *root = xmlDocGetRootElement(doc);
    assert_string_equal((const char *)root->name, "MPD");
    xmlChar *base = xmlNodeGetContent(child(root, "BaseURL", 0));
    assert_non_null(base);
    snprintf(out->base, sizeof(out->base), "%s", (const char *)base);
    xmlFree(base);
    xmlNode *period = child(root, "Period", 0);
    xmlNode *va = child(period, "AdaptationSet", 0), *aa = child(period, "AdaptationSet", 1);
    char *ct = prop(va, "contentType");
    assert_string_equal(ct, "video");
    free(ct);
    for (xmlNode *rep = child(va, "Representation", 0); rep && out->n_video < 4;
         rep = child(va, "Representation", out->n_video)) {
        char *id = prop(rep, "id"), *h = prop(rep, "height");
        snprintf(out->video_ids[out->n_video], sizeof(out->video_ids[0]), "%s", id);
        out->heights[out->n_video++] = atoi(h);
        free(id);
        free(h);
    }
    char *id = prop(child(aa, "Representation", 0), "id");
    snprintf(out->audio_id, sizeof(out->audio_id), "%s", id);
    free(id);
    out->n_segments[0] = timeline_count(child(va, "SegmentTemplate", 0));
    out->n_segments[1] = timeline_count(child(aa, "SegmentTemplate", 0));
    xmlFreeDoc(doc);
}

/* ---- demuxing ------------------------------------------------------------------------------ */

typedef struct played {
    int packets, decoded, width, height;
    bool counters_in_order, increasing;
    enum AVCodecID codec;
} played;

/* Demuxes an init segment and its media segments, concatenated, through a non-seekable
 * AVIOContext (as MSE appends them), decoding the video. */
static void play_fmp4(const uint8_t *d, size_t n, played *out)
{
    memset(out, 0, sizeof(*out));
    out->counters_in_order = out->increasing = true;
    AVFormatContext *fc = NULL;
    assert_int_equal(kp_ffmpeg_open_memory(d, n, "mp4", false, &fc, NULL, 0), KP_OK);
    assert_true(avformat_find_stream_info(fc, NULL) >= 0);
    assert_int_equal(fc->nb_streams, 1);
    const AVCodecParameters *par = fc->streams[0]->codecpar;
    out->codec = par->codec_id;
    out->width = par->width;
    out->height = par->height;
    AVCodecContext *dc = NULL;
    if (par->codec_type == AVMEDIA_TYPE_VIDEO) {
        const AVCodec *c = avcodec_find_decoder(par->codec_id);
        dc = avcodec_alloc_context3(c);
        assert_int_equal(avcodec_parameters_to_context(dc, par), 0);
        dc->thread_count = 1;
        assert_int_equal(avcodec_open2(dc, c, NULL), 0);
    }
    AVPacket *pkt = av_packet_alloc();
    AVFrame *fr = av_frame_alloc();
    int64_t last = -1;
    for (bool flush = false; !flush;) {
        int ret = av_read_frame(fc, pkt);
        flush = ret < 0;
        if (!flush) {
            out->increasing = out->increasing && pkt->dts > last;
            last = pkt->dts;
            out->packets++;
        }
        if (dc) {
            avcodec_send_packet(dc, flush ? NULL : pkt);
            while (avcodec_receive_frame(dc, fr) == 0) {
                int64_t c =
                    mbe__read_frame_counter(fr->data[0], fr->linesize[0], fr->width, fr->height);
                out->counters_in_order = out->counters_in_order && c == out->decoded;
                out->decoded++;
            }
        }
        av_packet_unref(pkt);
    }
    av_frame_free(&fr);
    av_packet_free(&pkt);
    avcodec_free_context(&dc);
    kp_ffmpeg_close_memory(&fc);
}

/* ---- fixture ------------------------------------------------------------------------------- */

static char *manifest_url(fixture *f, const char *entry, const char *format, const char *ids,
                          const char *ext)
{
    return kp_asprintf("%s/p/" PID "/sp/" SP "/playManifest/entryId/%s/protocol/http/format/%s%s%s"
                       "/a.%s?playSessionId=x:y&clientTag=html5:v3.17.95",
                       f->url, entry, format, ids ? "/flavorIds/" : "", ids ? ids : "", ext);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    const mbe_entry entries[] = {
        {.id = "0_cdn00001",
         .duration = 4,
         .formats = all_formats,
         .n_formats = 3,
         .renditions = ladder,
         .n_renditions = 2},
        {.id = "0_hlsonly1",
         .duration = 2,
         .formats = hls_only,
         .n_formats = 1,
         .renditions = low,
         .n_renditions = 1},
        {.id = "0_import01",
         .duration = 2,
         .formats = all_formats,
         .n_formats = 3,
         .renditions = low,
         .n_renditions = 1,
         .status = "import"},
        {.id = "0_gone0001",
         .duration = 2,
         .formats = all_formats,
         .n_formats = 3,
         .renditions = low,
         .n_renditions = 1,
         .status = "deleted"},
    };
    mbe_config cfg = {.partner_id = 4242, .entries = entries, .n_entries = 4};
    test_mock_start(&f->mock, &cfg);
    f->url = mbe_server_url(f->mock.srv);
    /* the flavor ids, as the MPD of every flavor names them */
    char *u = manifest_url(f, "0_cdn00001", "mpegdash", NULL, "mpd");
    reply r;
    get(u, 200, &r);
    mpd_info mi;
    parse_mpd(&r, &mi);
    assert_int_equal(mi.n_video, 2);
    snprintf(f->ids[0], sizeof(f->ids[0]), "%s", mi.video_ids[0]);
    snprintf(f->ids[1], sizeof(f->ids[1]), "%s", mi.video_ids[1]);
    reply_free(&r);
    free(u);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    test_mock_stop(&f->mock);
    free(f);
    return 0;
}

/* ---- tests --------------------------------------------------------------------------------- */

static void test_mpd_lists_the_requested_flavors(void **state)
{
    fixture *f = *state;
    size_t before = count(f, "{s:s, s:s}", "kind", "mpd", "entryId", "0_cdn00001");
    char ids[80];
    snprintf(ids, sizeof(ids), "%s,%s", f->ids[0], f->ids[1]);
    char *u = manifest_url(f, "0_cdn00001", "mpegdash", ids, "mpd");
    reply r;
    get(u, 200, &r);
    assert_header(&r, "Content-Type", "application/dash+xml");
    assert_header(&r, "Access-Control-Allow-Origin", "*");
    mpd_info mi;
    parse_mpd(&r, &mi);
    char *base =
        kp_asprintf("%s/dash/p/" PID "/sp/" SP "/serveFlavor/entryId/0_cdn00001/v/1/", f->url);
    assert_string_equal(mi.base, base);
    assert_int_equal(mi.n_video, 2);
    assert_string_equal(mi.video_ids[0], f->ids[0]);
    assert_int_equal(mi.heights[0], 180);
    assert_int_equal(mi.heights[1], 144);
    assert_string_equal(mi.audio_id, "audio");
    assert_int_equal(mi.n_segments[0], 2);
    assert_int_equal(mi.n_segments[1], 2);
    reply_free(&r);
    free(u);

    /* one flavor only; the order of the list is kept */
    u = manifest_url(f, "0_cdn00001", "mpegdash", f->ids[1], "mpd");
    get(u, 200, &r);
    parse_mpd(&r, &mi);
    assert_int_equal(mi.n_video, 1);
    assert_string_equal(mi.video_ids[0], f->ids[1]);
    assert_int_equal(mi.heights[0], 144);
    reply_free(&r);
    free(u);
    snprintf(ids, sizeof(ids), "%s,%s", f->ids[1], f->ids[0]);
    u = manifest_url(f, "0_cdn00001", "mpegdash", ids, "mpd");
    get(u, 200, &r);
    parse_mpd(&r, &mi);
    assert_string_equal(mi.video_ids[0], f->ids[1]);
    assert_string_equal(mi.video_ids[1], f->ids[0]);
    reply_free(&r);
    free(u);
    assert_int_equal(
        count(f, "{s:s, s:s, s:i}", "kind", "mpd", "entryId", "0_cdn00001", "status", 200),
        before + 3);

    /* unknown flavor, an entry without DASH, one not ready: 404 */
    u = manifest_url(f, "0_cdn00001", "mpegdash", "0_nosuchfl", "mpd");
    expect_status("GET", u, 404);
    free(u);
    u = manifest_url(f, "0_hlsonly1", "mpegdash", NULL, "mpd");
    expect_status("GET", u, 404);
    free(u);
    u = manifest_url(f, "0_import01", "mpegdash", NULL, "mpd");
    expect_status("GET", u, 404);
    free(u);
    u = manifest_url(f, "0_cdn00001", "hdnetworksmil", NULL, "smil");
    expect_status("GET", u, 404);
    free(u);
    free(base);
}

static void test_dash_segments_demux(void **state)
{
    fixture *f = *state;
    char *u = manifest_url(f, "0_cdn00001", "mpegdash", NULL, "mpd");
    reply r;
    get(u, 200, &r);
    free(u);
    mpd_info mi;
    parse_mpd(&r, &mi);
    reply_free(&r);
    size_t inits = count(f, "{s:s, s:s}", "kind", "init", "format", "mpegdash");
    for (int s = 0; s < 3; s++) {
        const char *id = s < 2 ? mi.video_ids[s] : mi.audio_id;
        int nseg = mi.n_segments[s < 2 ? 0 : 1];
        kp_buf all;
        kp_buf_init(&all);
        for (int k = 0; k <= nseg; k++) {
            char *seg = k == 0 ? kp_asprintf("%sinit-%s.m4s", mi.base, id)
                               : kp_asprintf("%schunk-%s-%d.m4s", mi.base, id, k);
            get(seg, 200, &r);
            assert_header(&r, "Content-Type", s < 2 ? "video/mp4" : "audio/mp4");
            assert_header(&r, "Accept-Ranges", "bytes");
            kp_buf_append(&all, r.body.data, r.body.len);
            reply_free(&r);
            free(seg);
        }
        played p;
        play_fmp4((const uint8_t *)all.data, all.len, &p);
        kp_buf_free(&all);
        assert_true(p.increasing);
        if (s < 2) {
            assert_int_equal(p.codec, AV_CODEC_ID_H264);
            assert_int_equal(p.height, mi.heights[s]);
            assert_int_equal(p.packets, 100);
            assert_int_equal(p.decoded, 100);
            assert_true(p.counters_in_order);
        } else {
            assert_int_equal(p.codec, AV_CODEC_ID_AAC);
            assert_int_equal(p.packets, (4 * 48000 + 1024 + 1023) / 1024);
        }
    }
    assert_int_equal(count(f, "{s:s, s:s}", "kind", "init", "format", "mpegdash"), inits + 3);
    json_t *m = json_pack("{s:s, s:s, s:s, s:i, s:s}", "kind", "segment", "format", "mpegdash",
                          "rendition", "audio", "segment", 2, "entryId", "0_cdn00001");
    assert_true(mbe_server_count(f->mock.srv, "cdn", m) >= 1);
    json_decref(m);
    m = json_pack("{s:s, s:s, s:s, s:s}", "kind", "segment", "flavorId", mi.video_ids[1],
                  "rendition", "144p", "format", "mpegdash");
    assert_true(mbe_server_count(f->mock.srv, "cdn", m) >= 2);
    json_decref(m);

    /* what the MPD does not name */
    const char *bad[][2] = {{"chunk-", "-3.m4s"}, {"chunk-", "-0.m4s"},  {"chunk-", "-01.m4s"},
                            {"chunk-", "-.m4s"},  {"init-", ".mp4"},     {"init-", "-x.m4s"},
                            {"chunk-", "-1.ts"},  {"chunk-", "-1.m4s/x"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *seg = kp_asprintf("%s%s%s%s", mi.base, bad[i][0], mi.video_ids[0], bad[i][1]);
        expect_status("GET", seg, 404);
        free(seg);
    }
    char *seg = kp_asprintf("%sinit-0_nosuchfl.m4s", mi.base);
    expect_status("GET", seg, 404);
    free(seg);
    seg = kp_asprintf("%s/dash/p/" PID "/sp/" SP "/serveFlavor/entryId/0_hlsonly1/v/1/"
                      "init-audio.m4s",
                      f->url);
    expect_status("GET", seg, 404);
    free(seg);
}

static void test_progressive_redirect(void **state)
{
    fixture *f = *state;
    size_t before = count(f, "{s:s, s:i}", "kind", "redirect", "status", 302);
    /* one flavor: 302 to it, the way Kaltura's serveFlavor URL looks */
    char *u = manifest_url(f, "0_cdn00001", "url", f->ids[1], "mp4");
    reply r;
    get(u, 302, &r);
    char *want = kp_asprintf("%s/p/" PID "/sp/" SP "/serveFlavor/entryId/0_cdn00001/v/1/flavorId/"
                             "%s/name/a.mp4",
                             f->url, f->ids[1]);
    assert_header(&r, "Location", want);
    reply_free(&r);
    free(want);
    free(u);
    /* none, or several: the highest bit rate (180p) */
    char ids[80];
    snprintf(ids, sizeof(ids), "%s,%s", f->ids[1], f->ids[0]);
    const char *lists[] = {NULL, ids};
    for (int i = 0; i < 2; i++) {
        u = manifest_url(f, "0_cdn00001", "url", lists[i], "mp4");
        get(u, 302, &r);
        char *loc = header(&r, "Location");
        assert_non_null(loc);
        assert_non_null(strstr(loc, f->ids[0]));
        free(loc);
        reply_free(&r);
        free(u);
    }
    assert_int_equal(count(f, "{s:s, s:i}", "kind", "redirect", "status", 302), before + 3);
    json_t *m = json_pack("{s:s, s:s, s:s}", "kind", "redirect", "flavorId", f->ids[1], "rendition",
                          "144p");
    assert_int_equal(mbe_server_count(f->mock.srv, "cdn", m), 1);
    json_decref(m);
    u = manifest_url(f, "0_hlsonly1", "url", NULL, "mp4");
    expect_status("GET", u, 404);
    free(u);
    u = manifest_url(f, "0_cdn00001", "url", "0_nosuchfl", "mp4");
    expect_status("GET", u, 404);
    free(u);
}

static char *mp4_url(fixture *f, int flavor)
{
    return kp_asprintf("%s/p/" PID "/sp/" SP "/serveFlavor/entryId/0_cdn00001/v/1/flavorId/%s/name/"
                       "a.mp4",
                       f->url, f->ids[flavor]);
}

static void expect_range(const char *url, const char *range, const kp_buf *full, long status,
                         size_t a, size_t b)
{
    reply r;
    http("GET", url, range, &r);
    if (r.status != status)
        fail_msg("Range: %s gave %ld, want %ld", range, r.status, status);
    assert_header(&r, "Content-Type", "video/mp4");
    assert_header(&r, "Accept-Ranges", "bytes");
    if (status == 206) {
        char want[96];
        snprintf(want, sizeof(want), "bytes %zu-%zu/%zu", a, b, full->len);
        assert_header(&r, "Content-Range", want);
        assert_int_equal(r.body.len, b - a + 1);
        assert_memory_equal(r.body.data, full->data + a, b - a + 1);
    } else {
        assert_header(&r, "Content-Range", NULL);
        assert_int_equal(r.body.len, full->len);
        assert_memory_equal(r.body.data, full->data, full->len);
    }
    reply_free(&r);
}

static void test_mp4_ranges(void **state)
{
    fixture *f = *state;
    char *u = mp4_url(f, 0);
    reply full;
    get(u, 200, &full);
    assert_header(&full, "Content-Type", "video/mp4");
    assert_header(&full, "Accept-Ranges", "bytes");
    assert_header(&full, "Content-Range", NULL);
    size_t n = full.body.len;
    assert_true(n > 10000);
    /* faststart: ftyp, then moov */
    assert_memory_equal(full.body.data + 4, "ftyp", 4);
    size_t ftyp = (size_t)(uint8_t)full.body.data[3];
    assert_memory_equal(full.body.data + ftyp + 4, "moov", 4);

    char r1[64], r2[64], r3[64], r4[64];
    expect_range(u, "bytes=0-", &full.body, 206, 0, n - 1); /* what the player sends */
    expect_range(u, "bytes=100-199", &full.body, 206, 100, 199);
    expect_range(u, "bytes=0-0", &full.body, 206, 0, 0);
    expect_range(u, "bytes=-500", &full.body, 206, n - 500, n - 1);
    snprintf(r1, sizeof(r1), "bytes=-%zu", n + 10);
    expect_range(u, r1, &full.body, 206, 0, n - 1);
    snprintf(r2, sizeof(r2), "bytes=%zu-%zu", n - 1, n + 100);
    expect_range(u, r2, &full.body, 206, n - 1, n - 1);
    expect_range(u, "bytes=1000-99999999999999999999999", &full.body, 206, 1000, n - 1);
    expect_range(u, "BYTES=10-20", &full.body, 206, 10, 20); /* the unit is case-insensitive */
    /* malformed, another unit, several ranges: ignored, the whole file */
    const char *ignored[] = {"bytes=abc", "bytes=5-2", "items=0-1", "bytes=0-1,5-6", "bytes",
                             "bytes=",    "bytes=-",   "bytes 0-1", "bytes=1-2x",    "bytes=1 - 2"};
    for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
        expect_range(u, ignored[i], &full.body, 200, 0, 0);
    /* unsatisfiable: 416 with the length */
    snprintf(r3, sizeof(r3), "bytes=%zu-", n);
    snprintf(r4, sizeof(r4), "bytes=%zu-%zu", n + 5, n + 9);
    const char *unsat[] = {r3, r4, "bytes=-0", "bytes=99999999999999999999999-"};
    for (size_t i = 0; i < sizeof(unsat) / sizeof(unsat[0]); i++) {
        reply r;
        http("GET", u, unsat[i], &r);
        if (r.status != 416)
            fail_msg("Range: %s gave %ld, want 416", unsat[i], r.status);
        char want[64];
        snprintf(want, sizeof(want), "bytes */%zu", n);
        assert_header(&r, "Content-Range", want);
        assert_true(r.body.len < 100);
        reply_free(&r);
    }
    /* the journal keeps the header and the bytes sent */
    json_t *m = json_pack("{s:s, s:s, s:i, s:i}", "kind", "mp4", "range", "bytes=100-199", "status",
                          206, "bytes", 100);
    assert_int_equal(mbe_server_count(f->mock.srv, "cdn", m), 1);
    json_decref(m);
    m = json_pack("{s:s, s:s, s:s}", "kind", "mp4", "flavorId", f->ids[0], "rendition", "180p");
    assert_true(mbe_server_count(f->mock.srv, "cdn", m) >= 20);
    json_decref(m);
    /* the other flavor is another, smaller file */
    char *u2 = mp4_url(f, 1);
    reply other;
    get(u2, 200, &other);
    assert_true(other.body.len < n);
    reply_free(&other);
    free(u2);
    /* an entry without progressive, a flavor of another entry, a wrong file name */
    char *bad = kp_asprintf("%s/p/" PID "/sp/" SP "/serveFlavor/entryId/0_hlsonly1/v/1/flavorId/"
                            "%s/name/a.mp4",
                            f->url, f->ids[0]);
    expect_status("GET", bad, 404);
    free(bad);
    bad = kp_strdup(u);
    strcpy(strstr(bad, "a.mp4"), "b.mp4");
    expect_status("GET", bad, 404);
    free(bad);
    reply_free(&full);
    free(u);
}

static void test_head_like_get(void **state)
{
    fixture *f = *state;
    char *urls[4];
    urls[0] = manifest_url(f, "0_cdn00001", "mpegdash", NULL, "mpd");
    urls[1] = mp4_url(f, 1);
    urls[2] = kp_asprintf("%s/p/" PID "/sp/" SP "/thumbnail/entry_id/0_cdn00001/version/100002/"
                          "height/360/width/640",
                          f->url);
    urls[3] = manifest_url(f, "0_cdn00001", "url", f->ids[1], "mp4");
    for (int i = 0; i < 4; i++) {
        reply g, h;
        http("GET", urls[i], NULL, &g);
        http("HEAD", urls[i], NULL, &h);
        assert_int_equal(h.status, g.status);
        assert_int_equal(h.body.len, 0);
        char *lg = header(&g, "Content-Length"), *lh = header(&h, "Content-Length");
        char *tg = header(&g, "Content-Type"), *th = header(&h, "Content-Type");
        assert_non_null(lh);
        assert_string_equal(lh, lg);
        assert_string_equal(th, tg);
        assert_int_equal((size_t)atol(lh), g.body.len);
        free(lg);
        free(lh);
        free(tg);
        free(th);
        reply_free(&g);
        reply_free(&h);
        free(urls[i]);
    }
    /* HEAD with a range */
    char *u = mp4_url(f, 1);
    reply h;
    http("HEAD", u, "bytes=10-19", &h);
    assert_int_equal(h.status, 206);
    assert_header(&h, "Content-Length", "10");
    assert_int_equal(h.body.len, 0);
    reply_free(&h);
    free(u);
    json_t *m = json_pack("{s:s, s:s}", "method", "HEAD", "kind", "thumbnail");
    assert_int_equal(mbe_server_count(f->mock.srv, "cdn", m), 1);
    json_decref(m);
}

static void decode_jpeg(const reply *r, int *w, int *h)
{
    const AVCodec *c = avcodec_find_decoder(AV_CODEC_ID_MJPEG);
    AVCodecContext *dc = avcodec_alloc_context3(c);
    assert_int_equal(avcodec_open2(dc, c, NULL), 0);
    AVPacket *pkt = av_packet_alloc();
    AVFrame *fr = av_frame_alloc();
    uint8_t *copy = av_mallocz(r->body.len + AV_INPUT_BUFFER_PADDING_SIZE);
    memcpy(copy, r->body.data, r->body.len);
    assert_int_equal(av_packet_from_data(pkt, copy, (int)r->body.len), 0);
    assert_int_equal(avcodec_send_packet(dc, pkt), 0);
    assert_int_equal(avcodec_receive_frame(dc, fr), 0);
    *w = fr->width;
    *h = fr->height;
    av_frame_free(&fr);
    av_packet_free(&pkt);
    avcodec_free_context(&dc);
}

static void test_thumbnails(void **state)
{
    fixture *f = *state;
    const struct {
        const char *entry, *rest;
        long status;
        int w, h;
    } cases[] = {
        /* what the player asks: the seek-bar sprite and the poster */
        {"0_cdn00001", "/width/164/vid_slices/100", 200, 16400, 92},
        {"0_cdn00001", "/height/360/width/640", 200, 640, 360},
        {"0_cdn00001", "/width/164/vid_slices/100/start_sec/1/end_sec/3/ks/abc", 200, 16400, 92},
        {"0_cdn00001", "", 200, 640, 360},
        {"0_cdn00001", "/width/320/type/1/quality/80", 200, 320, 180},
        {"0_import01", "/width/120/height/90", 200, 120, 90}, /* not ready: still a picture */
        {"0_gone0001", "/width/120", 404, 0, 0},
        {"0_nothere1", "/width/120", 404, 0, 0},
        {"0_cdn00001", "/width/abc", 400, 0, 0},
        {"0_cdn00001", "/width/-5", 400, 0, 0},
        {"0_cdn00001", "/width/5000", 400, 0, 0},
        {"0_cdn00001", "/width/400/vid_slices/400", 400, 0, 0},
        {"0_cdn00001", "/vid_sec/x", 400, 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *u = kp_asprintf("%s/p/" PID "/sp/" SP "/thumbnail/entry_id/%s/version/100002%s",
                              f->url, cases[i].entry, cases[i].rest);
        reply r;
        get(u, cases[i].status, &r);
        if (cases[i].status == 200) {
            assert_header(&r, "Content-Type", "image/jpeg");
            int w, h;
            decode_jpeg(&r, &w, &h);
            assert_int_equal(w, cases[i].w);
            assert_int_equal(h, cases[i].h);
        } else {
            assert_header(&r, "Content-Type", "text/plain");
            assert_true(r.body.len < 100);
        }
        reply_free(&r);
        free(u);
    }
    json_t *m = json_pack("{s:s, s:s, s:i, s:i, s:i}", "kind", "thumbnail", "entryId", "0_cdn00001",
                          "width", 164, "slices", 100, "status", 200);
    assert_int_equal(mbe_server_count(f->mock.srv, "cdn", m), 2);
    json_decref(m);
}

static void test_unknown_paths(void **state)
{
    fixture *f = *state;
    size_t before = count(f, "{s:s, s:i}", "kind", "unknown", "status", 404);
    const char *paths[] = {
        "/nothing/here",
        "/",
        "/p/" PID "/sp/" SP "/somethingElse/entryId/0_cdn00001",
        "/p/1/sp/100/playManifest/entryId/0_cdn00001/format/mpegdash/a.mpd",
        "/dash/p/" PID "/sp/" SP "/somethingElse/entryId/0_cdn00001/v/1/init-audio.m4s",
        "/p/" PID "/sp/" SP "/playManifest",
    };
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        char *u = kp_asprintf("%s%s", f->url, paths[i]);
        reply r;
        get(u, 404, &r);
        assert_header(&r, "Content-Type", "text/plain");
        assert_true(kp_str_starts(r.body.data, "404 Not Found"));
        assert_true(r.body.len < 100);
        reply_free(&r);
        free(u);
    }
    assert_int_equal(count(f, "{s:s, s:i}", "kind", "unknown", "status", 404), before + 6);
    char *u = kp_asprintf("%s/p/" PID "/sp/" SP "/serveFlavor/entryId/0_cdn00001", f->url);
    expect_status("DELETE", u, 405);
    free(u);
}

/* ---- FFmpeg as the player ------------------------------------------------------------------ */

typedef struct opened {
    int n_streams;
    int packets[4];
    enum AVCodecID codec[4];
    int height[4];
    int64_t duration;
} opened;

static void ffmpeg_open(const char *url, opened *o)
{
    memset(o, 0, sizeof(*o));
    AVFormatContext *fc = NULL;
    int ret = avformat_open_input(&fc, url, NULL, NULL);
    if (ret < 0)
        fail_msg("avformat_open_input(%s): %s", url, av_err2str(ret));
    assert_true(avformat_find_stream_info(fc, NULL) >= 0);
    assert_true(fc->nb_streams <= 4);
    o->n_streams = (int)fc->nb_streams;
    o->duration = fc->duration;
    for (unsigned i = 0; i < fc->nb_streams; i++) {
        o->codec[i] = fc->streams[i]->codecpar->codec_id;
        o->height[i] = fc->streams[i]->codecpar->height;
    }
    AVPacket *pkt = av_packet_alloc();
    while (av_read_frame(fc, pkt) >= 0) {
        o->packets[pkt->stream_index]++;
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    avformat_close_input(&fc);
}

static void test_ffmpeg_plays_dash_and_mp4(void **state)
{
    fixture *f = *state;
    /* FFmpeg's http protocol asks for "bytes=0-" every time */
    size_t segs =
        count(f, "{s:s, s:s, s:i}", "kind", "segment", "format", "mpegdash", "status", 206);
    char *u = manifest_url(f, "0_cdn00001", "mpegdash", NULL, "mpd");
    opened o;
    ffmpeg_open(u, &o);
    free(u);
    assert_int_equal(o.n_streams, 3);
    assert_int_equal(o.codec[0], AV_CODEC_ID_H264);
    assert_int_equal(o.height[0], 180);
    assert_int_equal(o.height[1], 144);
    assert_int_equal(o.codec[2], AV_CODEC_ID_AAC);
    assert_int_equal(o.packets[0], 100);
    assert_int_equal(o.packets[1], 100);
    /* FFmpeg 5.1's dash demuxer ends every stream when the one furthest behind ends: the
     * video's last frame starts at 3.96 s, so the AAC frames after it are not returned */
    int aac_frames = (4 * 48000 + 1024 + 1023) / 1024;
    assert_true(o.packets[2] <= aac_frames);
    assert_true(o.packets[2] >= (int)((3.96 * 48000 + 1024) / 1024));
    assert_int_equal(o.duration, 4 * AV_TIME_BASE);
    /* it fetched every segment of every stream from the CDN */
    assert_int_equal(
        count(f, "{s:s, s:s, s:i}", "kind", "segment", "format", "mpegdash", "status", 206),
        segs + 6);

    /* the MP4 through playManifest's redirect (FFmpeg follows it, then reads ranges) */
    size_t ranges = count(f, "{s:s, s:i}", "kind", "mp4", "status", 206);
    u = manifest_url(f, "0_cdn00001", "url", f->ids[1], "mp4");
    ffmpeg_open(u, &o);
    free(u);
    assert_int_equal(o.n_streams, 2);
    assert_int_equal(o.height[0], 144);
    assert_int_equal(o.packets[0], 100);
    assert_int_equal(o.packets[1], (4 * 48000 + 1024 + 1023) / 1024);
    assert_true(o.duration >= 4 * AV_TIME_BASE &&
                o.duration < 4 * AV_TIME_BASE + AV_TIME_BASE / 20);
    assert_true(count(f, "{s:s, s:i}", "kind", "mp4", "status", 206) > ranges);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    avformat_network_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mpd_lists_the_requested_flavors),
        cmocka_unit_test(test_dash_segments_demux),
        cmocka_unit_test(test_progressive_redirect),
        cmocka_unit_test(test_mp4_ranges),
        cmocka_unit_test(test_head_like_get),
        cmocka_unit_test(test_thumbnails),
        cmocka_unit_test(test_unknown_paths),
        cmocka_unit_test(test_ffmpeg_plays_dash_and_mp4),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    avformat_network_deinit();
    curl_global_cleanup();
    xmlCleanupParser();
    return rc;
}
