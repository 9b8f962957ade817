/* test_html_report.c: report.html renders in Debian's headless Chromium. A run with a passing
 * and a failing scenario writes its report into html-report/ (in the test's working folder,
 * kept for a person to look at); Chromium takes a screenshot of it (report.png, kept there
 * too), which must exist and not be one flat colour (decoded with FFmpeg's PNG decoder), and
 * dumps the DOM after the page's script ran, which must name both scenarios and hold the
 * timelines and the side-by-side table. The browser is $CHROMIUM or /usr/bin/chromium (as
 * tests/realplayer finds it; tools/install-deps.sh installs it); without one the test is
 * skipped on a developer's machine and fails in CI (.ci/run sets KPSIM_REQUIRE_BROWSER=1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "kp/buf.h"
#include "kpsim_run.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char passing[] = "name: html passing one\n"
                              "backend:\n"
                              "  entries:\n"
                              "    - {id: 0_htm00001, duration: 4, renditions: [180p]}\n"
                              "player:\n"
                              "  config:\n"
                              "    playback: {autoplay: true, muted: true}\n"
                              "steps:\n"
                              "  - load_media: {entry_id: 0_htm00001}\n"
                              "  - wait_for: {event: ended}\n"
                              "expect:\n"
                              "  events:\n"
                              "    sequence: [..., firstplaying, ..., ended, playbackended]\n";

static const char failing[] = "name: html failing one\n"
                              "backend:\n"
                              "  entries:\n"
                              "    - {id: 0_htm00001, duration: 4, renditions: [180p]}\n"
                              "player:\n"
                              "  config:\n"
                              "    playback: {autoplay: true, muted: true}\n"
                              "steps:\n"
                              "  - load_media: {entry_id: 0_htm00001}\n"
                              "  - wait_for: {event: firstplaying}\n"
                              "expect:\n"
                              "  events:\n"
                              "    sequence:\n"
                              "      - registeredpluginslistevent\n"
                              "      - sourceselected\n"
                              "      - ...\n";

static const char *chromium(void)
{
    const char *c = getenv("CHROMIUM");
    return c && *c ? c : "/usr/bin/chromium";
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* The share of pixels that differ from the first one, from the decoded PNG. */
static double varied_share(const char *png)
{
    AVFormatContext *fmt = NULL;
    assert_int_equal(avformat_open_input(&fmt, png, NULL, NULL), 0);
    assert_true(avformat_find_stream_info(fmt, NULL) >= 0);
    assert_true(fmt->nb_streams >= 1);
    const AVCodecParameters *par = fmt->streams[0]->codecpar;
    const AVCodec *dec = avcodec_find_decoder(par->codec_id);
    assert_non_null(dec);
    AVCodecContext *ctx = avcodec_alloc_context3(dec);
    assert_int_equal(avcodec_parameters_to_context(ctx, par), 0);
    assert_int_equal(avcodec_open2(ctx, dec, NULL), 0);
    AVPacket *pkt = av_packet_alloc();
    AVFrame *fr = av_frame_alloc();
    assert_int_equal(av_read_frame(fmt, pkt), 0);
    assert_int_equal(avcodec_send_packet(ctx, pkt), 0);
    assert_int_equal(avcodec_receive_frame(ctx, fr), 0);
    assert_true(fr->width >= 800 && fr->height >= 600);
    int bpp = fr->format == AV_PIX_FMT_RGBA ? 4 : fr->format == AV_PIX_FMT_RGB24 ? 3 : 0;
    if (!bpp)
        fail_msg("unexpected PNG pixel format %d", fr->format);
    const uint8_t *first = fr->data[0];
    size_t differ = 0, total = (size_t)fr->width * (size_t)fr->height;
    for (int y = 0; y < fr->height; y++) {
        const uint8_t *row = fr->data[0] + (size_t)y * (size_t)fr->linesize[0];
        for (int x = 0; x < fr->width; x++)
            differ += memcmp(row + x * bpp, first, (size_t)bpp) != 0;
    }
    av_frame_free(&fr);
    av_packet_free(&pkt);
    avcodec_free_context(&ctx);
    avformat_close_input(&fmt);
    return (double)differ / (double)total;
}

static void test_report_renders(void **state)
{
    if (access(chromium(), X_OK) != 0) {
        /* CI installs chromium (tools/install-deps.sh) and sets KPSIM_REQUIRE_BROWSER: there
         * a missing browser is a failure, never a skip */
        const char *req = getenv("KPSIM_REQUIRE_BROWSER");
        if (req && strcmp(req, "1") == 0)
            fail_msg("no browser at %s (Debian package chromium), and KPSIM_REQUIRE_BROWSER=1",
                     chromium());
        print_message("no browser at %s (Debian package chromium): skipped\n", chromium());
        skip();
    }
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    char *dir = kp_asprintf("%s/html-report", cwd);
    char *cmd = kp_asprintf("rm -rf '%s' && mkdir -p '%s/suite'", dir, dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    char *p = kp_asprintf("%s/suite/a.yaml", dir);
    write_text(p, passing);
    free(p);
    p = kp_asprintf("%s/suite/b.yaml", dir);
    write_text(p, failing);
    free(p);
    kp_buf out;
    kp_buf_init(&out);
    cmd = kp_asprintf("cd '%s' && '%s' run suite --report-dir . 2>&1", dir, test_kpsim_bin());
    assert_int_equal(test_run(cmd, &out), 1);
    free(cmd);

    const char *flags = "--headless --no-sandbox --disable-gpu --hide-scrollbars "
                        "--no-first-run --window-size=1280,1600";
    cmd = kp_asprintf("cd '%s' && '%s' %s --user-data-dir='%s/.chromium' "
                      "--screenshot='%s/report.png' 'file://%s/report.html' >/dev/null 2>&1",
                      dir, chromium(), flags, dir, dir, dir);
    test_run(cmd, &out);
    free(cmd);
    char *png = kp_asprintf("%s/report.png", dir);
    struct stat st;
    if (stat(png, &st) != 0)
        fail_msg("chromium wrote no screenshot at %s", png);
    assert_true(st.st_size > 1000);
    double share = varied_share(png);
    print_message("screenshot %s: %lld bytes, %.1f%% of pixels differ from the corner\n", png,
                  (long long)st.st_size, share * 100.0);
    assert_true(share > 0.02);
    free(png);

    cmd = kp_asprintf("cd '%s' && '%s' %s --user-data-dir='%s/.chromium' --dump-dom "
                      "'file://%s/report.html' 2>/dev/null",
                      dir, chromium(), flags, dir, dir);
    test_run(cmd, &out);
    free(cmd);
    assert_non_null(strstr(out.data, "html passing one"));
    assert_non_null(strstr(out.data, "html failing one"));
    assert_non_null(strstr(out.data, "<svg"));
    assert_non_null(strstr(out.data, "class=\"diff\""));
    assert_non_null(strstr(out.data, "registeredpluginslistevent"));
    cmd = kp_asprintf("rm -rf '%s/.chromium'", dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    kp_buf_free(&out);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_renders),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
