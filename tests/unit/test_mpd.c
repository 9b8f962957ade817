/* test_mpd.c: the DASH MPD parser (core/src/mpd.h): the mock back-end's MPD shape
 * (SegmentTemplate + SegmentTimeline with @r, separate audio and video), template identifiers
 * ($Time$, widths, $Bandwidth$, $$), r=-1 to the Period end, SegmentTemplate@duration,
 * SegmentBase + a sidx box, SegmentList, inheritance, BaseURL at every level, ContentProtection
 * (mp4protection, default_KID, pssh, mspr:pro), ISO 8601 durations, and every error path with
 * its message, XML line and Kaltura code.
 */
#include "kp/err.h"
#include "mpd.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>

#include <cmocka.h>

#define URL "http://cdn.example.com/p/1/a.mpd?token=t"

#define HEAD                                                                                 \
    "<?xml version=\"1.0\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"static\" " \
    "mediaPresentationDuration=\"PT10S\" minBufferTime=\"PT2S\">\n"

static kp_mpd *parse_ok(const char *text)
{
    kp_mpd *m = NULL;
    kp_mpd_error e;
    int rc = kp_mpd_parse(text, strlen(text), URL, &m, &e);
    if (rc != KP_OK)
        fail_msg("parse failed: %s (line %d, pcode %d): %s", kp_err_name(rc), e.line, e.pcode,
                 e.msg);
    assert_non_null(m);
    return m;
}

static void expect_error(const char *text, int rc, int line, int pcode, const char *msg)
{
    kp_mpd *m = (kp_mpd *)1;
    kp_mpd_error e;
    memset(&e, 0x5a, sizeof(e));
    int got = kp_mpd_parse(text, strlen(text), URL, &m, &e);
    if (got != rc || e.pcode != pcode || strstr(e.msg, msg) == NULL ||
        (line >= 0 && e.line != line))
        fail_msg("expected %s/%d line %d \"%s\", got %s/%d line %d \"%s\"", kp_err_name(rc), pcode,
                 line, msg, kp_err_name(got), e.pcode, e.line, e.msg);
    assert_null(m);
}

static kp_mpd_segments segments_ok(const kp_mpd *m, size_t set, size_t rep)
{
    kp_mpd_segments s;
    kp_mpd_error e;
    int rc = kp_mpd_segments_of(&m->periods[0], &m->periods[0].sets[set].reps[rep], &s, &e);
    if (rc != KP_OK)
        fail_msg("segments failed: %s: %s", kp_err_name(rc), e.msg);
    return s;
}

/* ---- the mock back-end's MPD --------------------------------------------------------------- */

static const char mock_mpd[] =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
    "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" "
    "profiles=\"urn:mpeg:dash:profile:isoff-live:2011\"\n"
    " type=\"static\" mediaPresentationDuration=\"PT6.000S\" minBufferTime=\"PT2.0S\">\n"
    " <BaseURL>http://127.0.0.1:8/dash/p/1/v/1/</BaseURL>\n"
    " <Period id=\"0\" start=\"PT0.0S\">\n"
    "  <AdaptationSet id=\"0\" contentType=\"video\" mimeType=\"video/mp4\">\n"
    "   <SegmentTemplate timescale=\"12800\" initialization=\"init-$RepresentationID$.m4s\"\n"
    "    media=\"chunk-$RepresentationID$-$Number$.m4s\" startNumber=\"1\">\n"
    "    <SegmentTimeline><S t=\"0\" d=\"25600\" r=\"2\" /></SegmentTimeline>\n"
    "   </SegmentTemplate>\n"
    "   <Representation id=\"v1\" codecs=\"avc1.4d400c\" bandwidth=\"203480\" width=\"320\" "
    "height=\"180\" />\n"
    "   <Representation id=\"v2\" codecs=\"avc1.4d400c\" bandwidth=\"155760\" width=\"256\" "
    "height=\"144\" />\n"
    "  </AdaptationSet>\n"
    "  <AdaptationSet id=\"1\" contentType=\"audio\" mimeType=\"audio/mp4\" lang=\"en\">\n"
    "   <SegmentTemplate timescale=\"48000\" initialization=\"init-$RepresentationID$.m4s\"\n"
    "    media=\"chunk-$RepresentationID$-$Number$.m4s\" startNumber=\"1\">\n"
    "    <SegmentTimeline><S t=\"0\" d=\"96256\" r=\"1\" /><S d=\"96512\" /></SegmentTimeline>\n"
    "   </SegmentTemplate>\n"
    "   <Representation id=\"audio\" codecs=\"mp4a.40.2\" bandwidth=\"69012\" />\n"
    "  </AdaptationSet>\n"
    " </Period>\n"
    "</MPD>\n";

static void test_mock_mpd(void **state)
{
    kp_mpd *m = parse_ok(mock_mpd);
    assert_false(m->dynamic);
    assert_true(m->duration == 6.0);
    assert_true(m->min_buffer_time == 2.0);
    assert_int_equal(m->n_periods, 1);
    const kp_mpd_period *p = &m->periods[0];
    assert_string_equal(p->id, "0");
    assert_true(p->start == 0 && p->duration == 6.0);
    assert_int_equal(p->n_sets, 2);
    assert_int_equal(p->sets[0].type, KP_MPD_VIDEO);
    assert_int_equal(p->sets[1].type, KP_MPD_AUDIO);
    assert_string_equal(p->sets[1].lang, "en");
    const kp_mpd_representation *v = &p->sets[0].reps[0];
    assert_string_equal(v->id, "v1");
    assert_int_equal(v->bandwidth, 203480);
    assert_int_equal(v->width, 320);
    assert_int_equal(v->height, 180);
    assert_string_equal(v->codecs, "avc1.4d400c");
    assert_string_equal(v->mime_type, "video/mp4"); /* inherited */
    assert_int_equal(v->seg.kind, KP_MPD_SEG_TEMPLATE);

    kp_mpd_segments s = segments_ok(m, 0, 1);
    assert_string_equal(s.init.url, "http://127.0.0.1:8/dash/p/1/v/1/init-v2.m4s");
    assert_int_equal(s.init.range_start, -1);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.segs[2].url, "http://127.0.0.1:8/dash/p/1/v/1/chunk-v2-3.m4s");
    assert_true(s.segs[2].start == 4.0 && s.segs[2].duration == 2.0);
    assert_int_equal(s.segs[2].number, 3);
    kp_mpd_segments_free(&s);

    s = segments_ok(m, 1, 0);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.segs[0].url, "http://127.0.0.1:8/dash/p/1/v/1/chunk-audio-1.m4s");
    assert_float_equal(s.segs[1].start, 96256.0 / 48000, 1e-9);
    assert_float_equal(s.segs[2].start, 2 * 96256.0 / 48000, 1e-9);
    assert_float_equal(s.segs[2].duration, 96512.0 / 48000, 1e-9);
    kp_mpd_segments_free(&s);
    kp_mpd_free(m);
}

/* ---- templates ------------------------------------------------------------------------------ */

static void test_expand(void **state)
{
    char e[128];
    char *x = kp_mpd_expand("a/$RepresentationID$/$Number%05d$-$Time%08d$-$Bandwidth$-$$.m4s", "v1",
                            42, 123456, 800000, e, sizeof(e));
    assert_non_null(x);
    assert_string_equal(x, "a/v1/00042-00123456-800000-$.m4s");
    free(x);
    x = kp_mpd_expand("$Number%03x$_$Time$", "r", 255, 7, 0, e, sizeof(e));
    assert_string_equal(x, "0ff_7");
    free(x);
    /* wider than the width: printed in full */
    x = kp_mpd_expand("$Number%02d$", "r", 12345, 0, 0, e, sizeof(e));
    assert_string_equal(x, "12345");
    free(x);
    /* an empty template expands to an empty string (found by fuzz-mpd: it was unterminated) */
    x = kp_mpd_expand("", "r", 1, 0, 0, e, sizeof(e));
    assert_string_equal(x, "");
    free(x);

    assert_null(kp_mpd_expand("seg-$Number.m4s", "r", 1, 0, 0, e, sizeof(e)));
    assert_string_equal(e, "an unterminated $ identifier at offset 4");
    assert_null(kp_mpd_expand("$Frame$", "r", 1, 0, 0, e, sizeof(e)));
    assert_string_equal(e, "unknown identifier $Frame$");
    assert_null(kp_mpd_expand("$Number%5d$", "r", 1, 0, 0, e, sizeof(e)));
    assert_string_equal(e, "the format \"%5d\" of $Number$ is not %0<width>d");
    assert_null(kp_mpd_expand("$Number%05s$", "r", 1, 0, 0, e, sizeof(e)));
    assert_null(kp_mpd_expand("$RepresentationID%05d$", "r", 1, 0, 0, e, sizeof(e)));
    assert_string_equal(e, "$RepresentationID$ takes no format");
}

static void test_time_template_and_r_minus_one(void **state)
{
    const char *mpd = HEAD
        "<Period duration=\"PT9S\"><AdaptationSet mimeType=\"video/mp4\">\n"
        "<SegmentTemplate timescale=\"1000\" media=\"s-$Time%010d$.m4s\" "
        "presentationTimeOffset=\"500\">\n"
        "<SegmentTimeline><S t=\"500\" d=\"2000\" r=\"-1\"/></SegmentTimeline></SegmentTemplate>\n"
        "<Representation id=\"v\" bandwidth=\"1\"/></AdaptationSet></Period></MPD>";
    kp_mpd *m = parse_ok(mpd);
    assert_true(m->periods[0].duration == 9.0);
    kp_mpd_segments s = segments_ok(m, 0, 0);
    /* 9 s of 2 s segments from t=500 (= time 0 after the offset): 5, the last one cut */
    assert_int_equal(s.n, 5);
    assert_null(s.init.url);
    assert_string_equal(s.segs[0].url, "http://cdn.example.com/p/1/s-0000000500.m4s");
    assert_string_equal(s.segs[4].url, "http://cdn.example.com/p/1/s-0000008500.m4s");
    assert_true(s.segs[0].start == 0.0 && s.segs[4].start == 8.0);
    kp_mpd_segments_free(&s);
    kp_mpd_free(m);

    /* r=-1 up to the next S@t */
    mpd =
        HEAD "<Period><AdaptationSet mimeType=\"audio/mp4\">\n"
             "<SegmentTemplate media=\"$Number$\" startNumber=\"7\">\n"
             "<SegmentTimeline><S t=\"0\" d=\"2\" r=\"-1\"/><S t=\"6\" d=\"4\"/></SegmentTimeline>"
             "</SegmentTemplate>\n"
             "<Representation id=\"a\" bandwidth=\"1\"/></AdaptationSet></Period></MPD>";
    m = parse_ok(mpd);
    s = segments_ok(m, 0, 0);
    assert_int_equal(s.n, 4);
    assert_string_equal(s.segs[0].url, "http://cdn.example.com/p/1/7");
    assert_true(s.segs[3].start == 6.0 && s.segs[3].duration == 4.0);
    assert_int_equal(s.segs[3].number, 10);
    kp_mpd_segments_free(&s);
    kp_mpd_free(m);
}

static void test_duration_template_and_inheritance(void **state)
{
    /* Period-level template, AdaptationSet overrides media, Representation the timescale */
    const char *mpd =
        HEAD "<Period><SegmentTemplate media=\"p-$Number$\" initialization=\"i-$Bandwidth$\" "
             "duration=\"4\" timescale=\"2\" startNumber=\"0\"/>\n"
             "<AdaptationSet contentType=\"video\"><SegmentTemplate "
             "media=\"as-$Number$-$Bandwidth$\"/>\n"
             "<Representation id=\"v\" bandwidth=\"300\" mimeType=\"video/mp4\">"
             "<SegmentTemplate timescale=\"1\"/></Representation>\n"
             "<Representation id=\"w\" bandwidth=\"500\"/></AdaptationSet></Period></MPD>";
    kp_mpd *m = parse_ok(mpd);
    kp_mpd_segments s = segments_ok(m, 0, 0);
    /* duration 4 at timescale 1: 3 segments over 10 s, the last 2 s long */
    assert_int_equal(s.n, 3);
    assert_string_equal(s.init.url, "http://cdn.example.com/p/1/i-300");
    assert_string_equal(s.segs[0].url, "http://cdn.example.com/p/1/as-0-300");
    assert_true(s.segs[2].start == 8.0 && s.segs[2].duration == 2.0);
    kp_mpd_segments_free(&s);
    s = segments_ok(m, 0, 1); /* timescale 2: 2 s segments */
    assert_int_equal(s.n, 5);
    assert_string_equal(s.segs[4].url, "http://cdn.example.com/p/1/as-4-500");
    kp_mpd_segments_free(&s);
    kp_mpd_free(m);
}

/* ---- BaseURL, SegmentBase + sidx, SegmentList ----------------------------------------------- */

static const uint8_t sidx_box[56] = {
    0x00, 0x00, 0x00, 0x38, 's',  'i',  'd',  'x',  0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x01, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x07, 0xd0, 0x90, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x05, 0xdc, 0x00, 0x00, 0x07, 0xd0, 0x90, 0x00, 0x00, 0x00};

static void test_base_url_levels_and_segment_base(void **state)
{
    const char *mpd = HEAD
        "<BaseURL>media/</BaseURL>\n"
        "<Period><BaseURL>p1/</BaseURL>\n"
        "<AdaptationSet mimeType=\"video/mp4\"><BaseURL>../as/</BaseURL>\n"
        "<Representation id=\"v\" bandwidth=\"1\"><BaseURL>v.mp4</BaseURL>\n"
        "<SegmentBase indexRange=\"800-855\" timescale=\"1000\">"
        "<Initialization range=\"0-799\"/></SegmentBase></Representation>\n"
        "<Representation id=\"w\" bandwidth=\"2\"><BaseURL>http://other.example/w.mp4</BaseURL>"
        "<SegmentBase indexRange=\"0-55\"/></Representation>\n"
        "</AdaptationSet></Period></MPD>";
    kp_mpd *m = parse_ok(mpd);
    const kp_mpd_representation *v = &m->periods[0].sets[0].reps[0];
    assert_string_equal(v->base_url, "http://cdn.example.com/p/1/media/as/v.mp4");
    assert_string_equal(m->periods[0].sets[0].reps[1].base_url, "http://other.example/w.mp4");
    kp_mpd_segments s = segments_ok(m, 0, 0);
    assert_string_equal(s.init.url, v->base_url);
    assert_int_equal(s.init.range_start, 0);
    assert_int_equal(s.init.range_end, 799);
    assert_string_equal(s.index.url, v->base_url);
    assert_int_equal(s.index.range_start, 800);
    assert_int_equal(s.index.range_end, 855);
    assert_int_equal(s.n, 0);
    kp_mpd_error e;
    assert_int_equal(kp_mpd_sidx_parse(sidx_box, sizeof(sidx_box), &m->periods[0], v, &s, &e),
                     KP_OK);
    assert_int_equal(s.n, 2);
    /* offsets count from the byte after the sidx box: 800 + 56 */
    assert_int_equal(s.segs[0].range_start, 856);
    assert_int_equal(s.segs[0].range_end, 1855);
    assert_int_equal(s.segs[1].range_start, 1856);
    assert_int_equal(s.segs[1].range_end, 3355);
    assert_true(s.segs[0].start == 0.0 && s.segs[0].duration == 2.0 && s.segs[1].start == 2.0);

    /* the sidx errors */
    uint8_t bad[sizeof(sidx_box)];
    memcpy(bad, sidx_box, sizeof(bad));
    memcpy(bad + 4, "moof", 4);
    kp_mpd_segments t = {0};
    assert_int_equal(kp_mpd_sidx_parse(bad, sizeof(bad), &m->periods[0], v, &t, &e), KP_EPARSE);
    assert_int_equal(e.pcode, 3004);
    assert_string_equal(e.msg, "the index range holds a 'moof' box, not 'sidx'");
    memcpy(bad, sidx_box, sizeof(bad));
    memset(bad + 16, 0, 4); /* timescale */
    assert_int_equal(kp_mpd_sidx_parse(bad, sizeof(bad), &m->periods[0], v, &t, &e), KP_EPARSE);
    assert_int_equal(e.pcode, 3005);
    memcpy(bad, sidx_box, sizeof(bad));
    bad[32] = 0x80; /* a reference to another sidx */
    assert_int_equal(kp_mpd_sidx_parse(bad, sizeof(bad), &m->periods[0], v, &t, &e), KP_ENOTSUP);
    assert_int_equal(e.pcode, 3006);
    assert_int_equal(kp_mpd_sidx_parse(sidx_box, 40, &m->periods[0], v, &t, &e), KP_EPARSE);
    assert_string_equal(e.msg, "the sidx box says 56 bytes, 40 are there");
    kp_mpd_segments_free(&t);
    kp_mpd_segments_free(&s);
    kp_mpd_free(m);
}

static void test_segment_list(void **state)
{
    const char *mpd = HEAD
        "<Period><AdaptationSet mimeType=\"audio/mp4\">\n"
        "<Representation id=\"a\" bandwidth=\"1\"><BaseURL>a.mp4</BaseURL>\n"
        "<SegmentList duration=\"4\" timescale=\"1\"><Initialization sourceURL=\"init.mp4\"/>\n"
        "<SegmentURL media=\"s1.mp4\"/><SegmentURL mediaRange=\"100-199\"/>"
        "<SegmentURL media=\"s3.mp4\"/>\n"
        "</SegmentList></Representation></AdaptationSet></Period></MPD>";
    kp_mpd *m = parse_ok(mpd);
    kp_mpd_segments s = segments_ok(m, 0, 0);
    assert_string_equal(s.init.url, "http://cdn.example.com/p/1/init.mp4");
    assert_int_equal(s.n, 3);
    assert_string_equal(s.segs[0].url, "http://cdn.example.com/p/1/s1.mp4");
    assert_string_equal(s.segs[1].url, "http://cdn.example.com/p/1/a.mp4");
    assert_int_equal(s.segs[1].range_start, 100);
    assert_int_equal(s.segs[1].range_end, 199);
    assert_true(s.segs[2].start == 8.0 && s.segs[2].duration == 2.0);
    kp_mpd_segments_free(&s);
    kp_mpd_free(m);
}

/* ---- protection, text, periods ---------------------------------------------------------------- */

static void test_protection_and_text(void **state)
{
    const char *mpd =
        "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" xmlns:cenc=\"urn:mpeg:cenc:2013\" "
        "xmlns:mspr=\"urn:microsoft:playready\" type=\"static\" mediaPresentationDuration=\"PT4S\">"
        "<Period><AdaptationSet mimeType=\"video/mp4\">\n"
        "<ContentProtection schemeIdUri=\"urn:mpeg:dash:mp4protection:2011\" value=\"cbcs\" "
        "cenc:default_KID=\"01234567-89ab-cdef-0123-456789abcdef\"/>\n"
        "<ContentProtection schemeIdUri=\"urn:uuid:EDEF8BA9-79D6-4ACE-A3C8-27DCD51D21ED\">"
        "<cenc:pssh>AAAAIHBzc2gAAAAA7e+LqXnWSs6jyCfc1R0h7QAAAAA=</cenc:pssh></ContentProtection>\n"
        "<SegmentTemplate media=\"$Number$\" duration=\"2\"/>\n"
        "<Representation id=\"v\" bandwidth=\"1\">"
        "<ContentProtection schemeIdUri=\"urn:uuid:9a04f079-9840-4286-ab92-e65be0885f95\">"
        "<mspr:pro>AQID</mspr:pro></ContentProtection></Representation>\n"
        "</AdaptationSet>\n"
        "<AdaptationSet contentType=\"text\" mimeType=\"text/vtt\" lang=\"fr\">"
        "<Representation id=\"t\" bandwidth=\"1\"><BaseURL>fr.vtt</BaseURL></Representation>"
        "</AdaptationSet></Period></MPD>";
    kp_mpd *m = parse_ok(mpd);
    const kp_mpd_adaptation *as = &m->periods[0].sets[0];
    assert_int_equal(as->n_protections, 3);
    assert_true(as->protections[0].mp4protection);
    assert_string_equal(as->protections[0].value, "cbcs");
    assert_true(as->protections[0].has_default_kid);
    assert_int_equal(as->protections[0].default_kid[0], 0x01);
    assert_int_equal(as->protections[0].default_kid[15], 0xef);
    assert_true(as->protections[1].has_system_id);
    assert_int_equal(as->protections[1].system_id[0], 0xed);
    assert_int_equal(as->protections[1].pssh_len, 32);
    assert_memory_equal(as->protections[1].pssh + 4, "pssh", 4);
    assert_int_equal(as->protections[2].system_id[0], 0x9a);
    assert_int_equal(as->protections[2].pro_len, 3);
    const kp_mpd_adaptation *text = &m->periods[0].sets[1];
    assert_int_equal(text->type, KP_MPD_TEXT);
    assert_string_equal(text->lang, "fr");
    kp_mpd_segments s = segments_ok(m, 1, 0); /* BaseURL only: one segment, the whole file */
    assert_int_equal(s.n, 1);
    assert_string_equal(s.segs[0].url, "http://cdn.example.com/p/1/fr.vtt");
    assert_true(s.segs[0].duration == 4.0);
    kp_mpd_segments_free(&s);
    kp_mpd_free(m);
}

static void test_periods(void **state)
{
    const char *mpd =
        "<MPD type=\"static\"><Period duration=\"PT1M\"><AdaptationSet mimeType=\"audio/mp4\">"
        "<Representation id=\"a\" bandwidth=\"1\"><SegmentTemplate media=\"$Number$\" "
        "duration=\"6\"/></Representation></AdaptationSet></Period>"
        "<Period duration=\"PT30S\"><AdaptationSet mimeType=\"audio/mp4\">"
        "<Representation id=\"a\" bandwidth=\"1\"><SegmentTemplate media=\"$Number$\" "
        "duration=\"6\"/></Representation></AdaptationSet></Period></MPD>";
    kp_mpd *m = parse_ok(mpd);
    assert_int_equal(m->n_periods, 2);
    assert_true(m->periods[1].start == 60.0);
    assert_true(m->duration == 90.0);
    kp_mpd_free(m);
}

static void test_durations(void **state)
{
    static const struct {
        const char *s;
        double v;
    } ok[] = {{"PT0S", 0},       {"PT1.5S", 1.5},   {"PT1H2M3S", 3723},
              {"P1D", 86400},    {"P1DT1S", 86401}, {"PT10M", 600},
              {"P1Y", 31536000}, {"P1M", 2592000},  {"PT0,25S", 0.25}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        double v = -1;
        if (kp_mpd_parse_duration(ok[i].s, &v) != KP_OK || v != ok[i].v)
            fail_msg("%s: got %f", ok[i].s, v);
    }
    static const char *const bad[] = {"",      "P",      "PT",     "T1S",      "P1S",  "PT1D",
                                      "PT1.S", "PT1.5M", "PT1S2M", "PT-1S",    "P1DT", "PT1H1H",
                                      "1S",    "PTS",    "P1.5D",  "PT1.5H2S", "pt1s"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        double v;
        if (kp_mpd_parse_duration(bad[i], &v) != KP_EPARSE)
            fail_msg("\"%s\" was accepted", bad[i]);
    }
}

/* ---- errors ----------------------------------------------------------------------------------- */

#define AS_V    "<AdaptationSet mimeType=\"video/mp4\">"
#define TMPL    "<SegmentTemplate media=\"$Number$\" duration=\"2\"/>"
#define REP     "<Representation id=\"v\" bandwidth=\"1\"/>"
#define BODY(x) HEAD "<Period>" x "</Period></MPD>"

static void test_errors(void **state)
{
    expect_error("", KP_EPARSE, 0, 4001, "the MPD is empty");
    expect_error("<MPD>\n<Period>\n</MPD>", KP_EPARSE, 3, 4001, "the MPD is not well-formed XML: ");
    expect_error("<?xml version=\"1.0\"?>\n<Manifest/>", KP_EPARSE, 2, 4001,
                 "the root element is <Manifest>, not <MPD>");
    expect_error("<MPD type=\"dynamic\"><Period/></MPD>", KP_ENOTSUP, 1, 4011,
                 "MPD@type=\"dynamic\" (live) is not supported");
    expect_error("<MPD type=\"live\"/>", KP_EPARSE, 1, 4001,
                 "MPD@type=\"live\" is neither static nor dynamic");
    expect_error("<MPD mediaPresentationDuration=\"10s\"/>", KP_EPARSE, 1, 4001,
                 "MPD@mediaPresentationDuration=\"10s\" is not an ISO 8601 duration");
    expect_error("<MPD minBufferTime=\"PT\"/>", KP_EPARSE, 1, 4001,
                 "MPD@minBufferTime=\"PT\" is not an ISO 8601 duration");
    expect_error(HEAD "</MPD>", KP_EPARSE, 2, 4014, "the MPD has no Period");
    expect_error(HEAD "<Period id=\"p\"/></MPD>", KP_EPARSE, 3, 4004,
                 "Period id=\"p\" has no AdaptationSet");
    expect_error(BODY(AS_V "</AdaptationSet>"), KP_EPARSE, 3, 4003,
                 "AdaptationSet has no Representation");
    expect_error(BODY("<AdaptationSet contentType=\"movie\">" REP "</AdaptationSet>"), KP_EPARSE, 3,
                 4001, "AdaptationSet@contentType=\"movie\" is not video");
    expect_error(BODY(AS_V TMPL "<Representation bandwidth=\"1\"/></AdaptationSet>"), KP_EPARSE, 3,
                 4001, "Representation has no @id");
    expect_error(BODY(AS_V TMPL "<Representation id=\"v\"/></AdaptationSet>"), KP_EPARSE, 3, 4001,
                 "Representation id=\"v\" has no @bandwidth");
    expect_error(BODY(AS_V TMPL "<Representation id=\"v\" bandwidth=\"-5\"/></AdaptationSet>"),
                 KP_EPARSE, 3, 4001, "Representation@bandwidth=\"-5\" is not an unsigned integer");
    expect_error(BODY(AS_V TMPL "<Representation id=\"v\" bandwidth=\"1\" width=\"wide\"/>"
                                "</AdaptationSet>"),
                 KP_EPARSE, 3, 4001, "Representation@width=\"wide\" is not an unsigned integer");
    expect_error(BODY(AS_V TMPL REP REP "</AdaptationSet>"), KP_EPARSE, 3, 4018,
                 "two Representations have the id \"v\"");
    expect_error(BODY(AS_V REP "</AdaptationSet>"), KP_EPARSE, 3, 4002,
                 "Representation id=\"v\" has no SegmentBase, SegmentTemplate or SegmentList");
    expect_error(BODY(AS_V "<SegmentTemplate duration=\"2\"/>" REP "</AdaptationSet>"), KP_EPARSE,
                 3, 4002, "SegmentTemplate has no @media");
    expect_error(BODY(AS_V "<SegmentTemplate media=\"x\"/>" REP "</AdaptationSet>"), KP_EPARSE, 3,
                 4002, "SegmentTemplate has neither @duration nor a SegmentTimeline");
    expect_error(
        BODY(AS_V "<SegmentTemplate media=\"$Frame$\" duration=\"1\"/>" REP "</AdaptationSet>"),
        KP_EPARSE, 3, 4001, "SegmentTemplate@media=\"$Frame$\": unknown identifier $Frame$");
    expect_error(BODY(AS_V "<SegmentTemplate media=\"x\" initialization=\"i-$Number$\" "
                           "duration=\"1\"/>" REP "</AdaptationSet>"),
                 KP_EPARSE, 3, 4001, "uses $Number$ or $Time$");
    expect_error(BODY(AS_V "<SegmentTemplate media=\"x\" duration=\"0\"/>" REP "</AdaptationSet>"),
                 KP_EPARSE, 3, 4001, "SegmentTemplate@duration is 0");
    expect_error(BODY(AS_V "<SegmentTemplate media=\"x\" timescale=\"0\" duration=\"1\"/>" REP
                           "</AdaptationSet>"),
                 KP_EPARSE, 3, 4001, "SegmentTemplate@timescale is 0");
    expect_error(BODY(AS_V "<SegmentTemplate media=\"x\" startNumber=\"1e3\" duration=\"1\"/>" REP
                           "</AdaptationSet>"),
                 KP_EPARSE, 3, 4001,
                 "SegmentTemplate@startNumber=\"1e3\" is not an unsigned integer");
    expect_error(BODY(AS_V "<SegmentTemplate media=\"x\">\n<SegmentTimeline><S t=\"0\"/>"
                           "</SegmentTimeline></SegmentTemplate>" REP "</AdaptationSet>"),
                 KP_EPARSE, 4, 4001, "SegmentTimeline S has no @d");
    expect_error(BODY(AS_V "<SegmentTemplate media=\"x\"><SegmentTimeline><S d=\"1\" r=\"-2\"/>"
                           "</SegmentTimeline></SegmentTemplate>" REP "</AdaptationSet>"),
                 KP_EPARSE, 3, 4001, "SegmentTimeline S@r=\"-2\" is not an integer >= -1");
    expect_error(BODY(AS_V "<SegmentTemplate media=\"x\"><SegmentTimeline/></SegmentTemplate>" REP
                           "</AdaptationSet>"),
                 KP_EPARSE, 3, 4001, "SegmentTimeline has no S element");
    expect_error(BODY(AS_V TMPL "<SegmentBase indexRange=\"0-1\"/>" REP "</AdaptationSet>"),
                 KP_EPARSE, 3, 4001,
                 "AdaptationSet has more than one of SegmentBase, SegmentTemplate, SegmentList");
    expect_error(BODY(AS_V "<SegmentBase/>" REP "</AdaptationSet>"), KP_EPARSE, 3, 4002,
                 "SegmentBase has no @indexRange");
    expect_error(BODY(AS_V "<SegmentBase indexRange=\"9-1\"/>" REP "</AdaptationSet>"), KP_EPARSE,
                 3, 4001, "SegmentBase@indexRange=\"9-1\" is not a byte range \"first-last\"");
    expect_error(BODY(AS_V "<SegmentBase indexRange=\"0-1\"><Initialization range=\"x\"/>"
                           "</SegmentBase>" REP "</AdaptationSet>"),
                 KP_EPARSE, 3, 4001, "Initialization@range=\"x\" is not a byte range");
    expect_error(BODY(AS_V "<SegmentList/>" REP "</AdaptationSet>"), KP_EPARSE, 3, 4002,
                 "SegmentList has no SegmentURL");
    expect_error(
        BODY(AS_V "<SegmentList><SegmentURL/><SegmentURL/></SegmentList>" REP "</AdaptationSet>"),
        KP_EPARSE, 3, 4002, "SegmentList of 2 segments has no @duration");
    expect_error(BODY(AS_V "<SegmentList duration=\"1\"><SegmentURL mediaRange=\"a-b\"/>"
                           "</SegmentList>" REP "</AdaptationSet>"),
                 KP_EPARSE, 3, 4001, "SegmentURL@mediaRange=\"a-b\" is not a byte range");
    expect_error(BODY(AS_V "<BaseURL> </BaseURL>" TMPL REP "</AdaptationSet>"), KP_EPARSE, 3, 4001,
                 "BaseURL is empty");
    expect_error(BODY(AS_V "<ContentProtection/>" TMPL REP "</AdaptationSet>"), KP_EPARSE, 3, 4001,
                 "ContentProtection has no @schemeIdUri");
    expect_error(BODY(AS_V "<ContentProtection schemeIdUri=\"urn:mpeg:dash:mp4protection:2011\" "
                           "value=\"aes\"/>" TMPL REP "</AdaptationSet>"),
                 KP_EPARSE, 3, 4001, "ContentProtection@value=\"aes\" is not a protection scheme");
    expect_error(
        BODY(AS_V "<ContentProtection schemeIdUri=\"urn:uuid:1234\"/>" TMPL REP "</AdaptationSet>"),
        KP_EPARSE, 3, 4001, "ContentProtection@schemeIdUri=\"urn:uuid:1234\" has no valid UUID");
    expect_error(BODY(AS_V "<ContentProtection schemeIdUri=\"urn:mpeg:dash:mp4protection:2011\" "
                           "default_KID=\"0123\"/>" TMPL REP "</AdaptationSet>"),
                 KP_EPARSE, 3, 4001,
                 "ContentProtection@cenc:default_KID=\"0123\" is not a 16-byte UUID");
    expect_error(BODY(AS_V "<ContentProtection schemeIdUri=\"urn:uuid:"
                           "edef8ba9-79d6-4ace-a3c8-27dcd51d21ed\">\n<pssh>!!!</pssh>"
                           "</ContentProtection>" TMPL REP "</AdaptationSet>"),
                 KP_EPARSE, 4, 4007, "ContentProtection cenc:pssh is not valid base64");
    expect_error(BODY(AS_V "<ContentProtection schemeIdUri=\"urn:uuid:"
                           "edef8ba9-79d6-4ace-a3c8-27dcd51d21ed\"><pssh>AQID</pssh>"
                           "</ContentProtection>" TMPL REP "</AdaptationSet>"),
                 KP_EPARSE, 3, 4007, "ContentProtection cenc:pssh does not hold one pssh box");
    expect_error(BODY(AS_V "<ContentProtection schemeIdUri=\"urn:uuid:"
                           "9a04f079-9840-4286-ab92-e65be0885f95\"><pro>@@</pro>"
                           "</ContentProtection>" TMPL REP "</AdaptationSet>"),
                 KP_EPARSE, 3, 4007, "ContentProtection mspr:pro is not valid base64");
    expect_error("<MPD type=\"static\"><Period>" AS_V TMPL REP "</AdaptationSet></Period></MPD>",
                 KP_EPARSE, 1, 4001,
                 "a static MPD needs @mediaPresentationDuration or a last Period with @duration");
    expect_error(HEAD "<Period start=\"PT5S\">" AS_V TMPL REP "</AdaptationSet></Period>\n"
                      "<Period start=\"PT1S\">" AS_V TMPL
                      "<Representation id=\"w\" bandwidth=\"1\"/></AdaptationSet></Period></MPD>",
                 KP_EPARSE, 4, 4001, "Period 2 starts before the previous one");
}

static void test_segment_list_errors(void **state)
{
    /* S@t going back in time */
    const char *mpd = BODY(AS_V "<SegmentTemplate media=\"x\"><SegmentTimeline><S t=\"1\" d=\"5\"/>"
                                "<S t=\"3\" d=\"5\"/></SegmentTimeline></SegmentTemplate>" REP
                                "</AdaptationSet>");
    kp_mpd *m = parse_ok(mpd);
    kp_mpd_segments s;
    kp_mpd_error e;
    assert_int_equal(kp_mpd_segments_of(&m->periods[0], &m->periods[0].sets[0].reps[0], &s, &e),
                     KP_EPARSE);
    assert_string_equal(e.msg, "Representation id=\"v\": SegmentTimeline S 2 has @t=3 before "
                               "the previous S's end 6");
    assert_int_equal(e.pcode, 4002);
    assert_null(s.segs);
    kp_mpd_free(m);
    /* too many segments */
    mpd = HEAD "<Period duration=\"PT100000S\">" AS_V
               "<SegmentTemplate media=\"x\" timescale=\"1000\" duration=\"1\"/>" REP
               "</AdaptationSet></Period></MPD>";
    m = parse_ok(mpd);
    assert_int_equal(kp_mpd_segments_of(&m->periods[0], &m->periods[0].sets[0].reps[0], &s, &e),
                     KP_ERANGE);
    assert_string_equal(e.msg,
                        "Representation id=\"v\": @duration makes more than 200000 segments");
    kp_mpd_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mock_mpd),
        cmocka_unit_test(test_expand),
        cmocka_unit_test(test_time_template_and_r_minus_one),
        cmocka_unit_test(test_duration_template_and_inheritance),
        cmocka_unit_test(test_base_url_levels_and_segment_base),
        cmocka_unit_test(test_segment_list),
        cmocka_unit_test(test_protection_and_text),
        cmocka_unit_test(test_periods),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_segment_list_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
