/* test_m3u8.c: the HLS playlist parser (core/src/m3u8.h): master playlists (variant attributes,
 * URI resolution), media playlists (segments, sequence numbers, start times, keys, map,
 * discontinuities), line-level leniency (CRLF, BOM, blank lines, comments) and every error
 * with its exact message, line and Kaltura code.
 */
#include "kp/err.h"
#include "kp/perror.h"
#include "m3u8.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>

#include <cmocka.h>

#define BASE "https://cdn.example.com/p/1/hls/master.m3u8?token=abc"

/* ---- helpers --------------------------------------------------------------------------------- */

static kp_m3u8 *parse_ok_len(const char *text, size_t len, const char *base)
{
    kp_m3u8 *pl = NULL;
    kp_m3u8_error err;
    int rc = kp_m3u8_parse(text, len, base, &pl, &err);
    if (rc != KP_OK)
        fail_msg("parse failed: %s (line %d, pcode %d): %s", kp_err_name(rc), err.line, err.pcode,
                 err.msg);
    assert_non_null(pl);
    assert_int_equal(err.line, 0);
    assert_int_equal(err.pcode, 0);
    assert_string_equal(err.msg, "");
    return pl;
}

static kp_m3u8 *parse_ok(const char *text)
{
    return parse_ok_len(text, strlen(text), BASE);
}

static void expect_error_len(const char *text, size_t len, int line, int pcode, const char *msg)
{
    kp_m3u8 *pl = (kp_m3u8 *)1; /* must be reset to NULL */
    kp_m3u8_error err;
    memset(&err, 0x5a, sizeof(err));
    assert_int_equal(kp_m3u8_parse(text, len, BASE, &pl, &err), KP_EPARSE);
    assert_null(pl);
    assert_string_equal(err.msg, msg);
    assert_int_equal(err.line, line);
    assert_int_equal(err.pcode, pcode);
}

static void expect_error(const char *text, int line, int pcode, const char *msg)
{
    expect_error_len(text, strlen(text), line, pcode, msg);
}

/* ---- master playlists ------------------------------------------------------------------------ */

static void test_master_variants(void **state)
{
    kp_m3u8 *pl = parse_ok(
        "#EXTM3U\n"
        "#EXT-X-VERSION:4\n"
        "#EXT-X-INDEPENDENT-SEGMENTS\n"
        "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"en\",URI=\"audio/en.m3u8\"\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=1280000,AVERAGE-BANDWIDTH=1000000,RESOLUTION=1280x720,"
        "CODECS=\"avc1.4d401f,mp4a.40.2\",FRAME-RATE=29.970\n"
        "low/index.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=2560000\n"
        "https://other.example.com/hi.m3u8\n"
        "#EXT-X-STREAM-INF:CODECS=\"mp4a.40.2\",BANDWIDTH=64000\n"
        "/audio/only.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=1\n"
        "../up.m3u8?x=1\n");
    assert_true(pl->is_master);
    assert_int_equal(pl->version, 4);
    assert_true(pl->independent_segments);
    assert_int_equal(pl->n_variants, 4);
    assert_int_equal(pl->n_segments, 0);
    assert_int_equal(pl->n_keys, 0);

    const kp_m3u8_variant *v = &pl->variants[0];
    assert_string_equal(v->uri, "https://cdn.example.com/p/1/hls/low/index.m3u8");
    assert_int_equal(v->bandwidth, 1280000);
    assert_int_equal(v->average_bandwidth, 1000000);
    assert_int_equal(v->width, 1280);
    assert_int_equal(v->height, 720);
    assert_string_equal(v->codecs, "avc1.4d401f,mp4a.40.2"); /* the quoted comma stays */
    assert_float_equal(v->frame_rate, 29.97, 1e-9);

    v = &pl->variants[1]; /* absolute URI, only the required attribute */
    assert_string_equal(v->uri, "https://other.example.com/hi.m3u8");
    assert_int_equal(v->bandwidth, 2560000);
    assert_int_equal(v->average_bandwidth, 0);
    assert_int_equal(v->width, 0);
    assert_int_equal(v->height, 0);
    assert_null(v->codecs);
    assert_float_equal(v->frame_rate, 0.0, 0.0);

    v = &pl->variants[2]; /* attribute order does not matter; absolute path */
    assert_string_equal(v->uri, "https://cdn.example.com/audio/only.m3u8");
    assert_int_equal(v->bandwidth, 64000);
    assert_string_equal(v->codecs, "mp4a.40.2");

    assert_string_equal(pl->variants[3].uri, "https://cdn.example.com/p/1/up.m3u8?x=1");
    kp_m3u8_free(pl);
}

static void test_master_without_base(void **state)
{
    const char *text = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=5\nrel/v.m3u8\n";
    kp_m3u8 *pl = parse_ok_len(text, strlen(text), NULL);
    assert_int_equal(pl->n_variants, 1);
    assert_string_equal(pl->variants[0].uri, "rel/v.m3u8"); /* nothing to resolve against */
    kp_m3u8_free(pl);
}

static void test_master_stream_inf_twice(void **state)
{
    /* A STREAM-INF replaced by another before its URI line: one variant, nothing leaked. */
    kp_m3u8 *pl = parse_ok("#EXTM3U\n"
                           "#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1\"\n"
                           "#EXT-X-STREAM-INF:BANDWIDTH=2,CODECS=\"hvc1\"\n"
                           "v.m3u8\n");
    assert_int_equal(pl->n_variants, 1);
    assert_string_equal(pl->variants[0].uri, "https://cdn.example.com/p/1/hls/v.m3u8");
    assert_int_equal(pl->variants[0].bandwidth, 2);
    assert_string_equal(pl->variants[0].codecs, "hvc1");
    kp_m3u8_free(pl);
}

/* ---- media playlists ------------------------------------------------------------------------- */

static void test_media_segments(void **state)
{
    kp_m3u8 *pl = parse_ok("#EXTM3U\n"
                           "#EXT-X-VERSION:7\n"
                           "#EXT-X-TARGETDURATION:10\n"
                           "#EXT-X-MEDIA-SEQUENCE:7\n"
                           "#EXT-X-PLAYLIST-TYPE:VOD\n"
                           "#EXT-X-MAP:URI=\"init.mp4\",BYTERANGE=\"720@0\"\n"
                           "#EXTINF:9.009,first segment, with a comma\n"
                           "seg7.m4s\n"
                           "#EXTINF:10,\n"
                           "seg8.m4s\n"
                           "#EXT-X-DISCONTINUITY\n"
                           "#EXTINF:4.5\n"
                           "https://other.example.com/seg9.m4s\n"
                           "#EXTINF:3,\n"
                           "seg10.m4s\n"
                           "#EXT-X-ENDLIST\n");
    assert_false(pl->is_master);
    assert_int_equal(pl->version, 7);
    assert_false(pl->independent_segments);
    assert_int_equal(pl->n_variants, 0);
    assert_float_equal(pl->target_duration, 10.0, 0.0);
    assert_int_equal(pl->media_sequence, 7);
    assert_string_equal(pl->playlist_type, "VOD");
    assert_true(pl->endlist);
    assert_string_equal(pl->map_uri, "https://cdn.example.com/p/1/hls/init.mp4");
    assert_int_equal(pl->n_keys, 0);
    assert_int_equal(pl->n_segments, 4);

    static const char *const uris[] = {
        "https://cdn.example.com/p/1/hls/seg7.m4s", "https://cdn.example.com/p/1/hls/seg8.m4s",
        "https://other.example.com/seg9.m4s", "https://cdn.example.com/p/1/hls/seg10.m4s"};
    static const double durations[] = {9.009, 10.0, 4.5, 3.0};
    static const double starts[] = {0.0, 9.009, 19.009, 23.509};
    for (size_t i = 0; i < 4; i++) {
        const kp_m3u8_segment *s = &pl->segments[i];
        assert_string_equal(s->uri, uris[i]);
        assert_float_equal(s->duration, durations[i], 1e-9);
        assert_float_equal(s->start, starts[i], 1e-9);
        assert_int_equal(s->sequence, 7 + (long long)i);
        assert_int_equal(s->discontinuity, i == 2); /* only the segment after the tag */
        assert_int_equal(s->key_index, -1);
    }
    assert_float_equal(pl->total_duration, 26.509, 1e-9);
    kp_m3u8_free(pl);
}

static void test_media_defaults(void **state)
{
    /* No MEDIA-SEQUENCE (starts at 0), no PLAYLIST-TYPE, no ENDLIST (a live-style playlist). */
    kp_m3u8 *pl = parse_ok("#EXTM3U\n"
                           "#EXT-X-TARGETDURATION:6\n"
                           "#EXT-X-PLAYLIST-TYPE:EVENT\n"
                           "#EXT-X-PLAYLIST-TYPE:VOD\n"
                           "#EXTINF:6,\n"
                           "a.ts\n"
                           "#EXTINF:6,\n"
                           "b.ts\n");
    assert_int_equal(pl->version, 0);
    assert_int_equal(pl->media_sequence, 0);
    assert_string_equal(pl->playlist_type, "VOD"); /* the last one wins, no leak */
    assert_false(pl->endlist);
    assert_null(pl->map_uri);
    assert_int_equal(pl->n_segments, 2);
    assert_int_equal(pl->segments[0].sequence, 0);
    assert_int_equal(pl->segments[1].sequence, 1);
    assert_false(pl->segments[0].discontinuity);
    assert_float_equal(pl->segments[1].start, 6.0, 0.0);
    kp_m3u8_free(pl);

    pl = parse_ok("#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\na.ts\n");
    assert_null(pl->playlist_type);
    kp_m3u8_free(pl);
}

static void test_media_keys(void **state)
{
    kp_m3u8 *pl = parse_ok("#EXTM3U\n"
                           "#EXT-X-TARGETDURATION:6\n"
                           "#EXTINF:6,\n"
                           "clear0.ts\n"
                           "#EXT-X-KEY:METHOD=AES-128,URI=\"keys/k1.bin\","
                           "IV=0x000102030405060708090a0b0c0d0e0f\n"
                           "#EXTINF:6,\n"
                           "enc1.ts\n"
                           "#EXTINF:6,\n"
                           "enc2.ts\n"
                           "#EXT-X-KEY:METHOD=NONE\n"
                           "#EXTINF:6,\n"
                           "clear3.ts\n"
                           "#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"https://keys.example.com/k2?a=1\","
                           "KEYFORMAT=\"identity\"\n"
                           "#EXTINF:6,\n"
                           "enc4.ts\n"
                           "#EXT-X-ENDLIST\n");
    assert_int_equal(pl->n_keys, 3);
    assert_string_equal(pl->keys[0].method, "AES-128");
    assert_string_equal(pl->keys[0].uri, "https://cdn.example.com/p/1/hls/keys/k1.bin");
    assert_string_equal(pl->keys[0].iv, "0x000102030405060708090a0b0c0d0e0f");
    assert_string_equal(pl->keys[1].method, "NONE");
    assert_null(pl->keys[1].uri);
    assert_null(pl->keys[1].iv);
    assert_string_equal(pl->keys[2].method, "SAMPLE-AES");
    assert_string_equal(pl->keys[2].uri, "https://keys.example.com/k2?a=1");
    assert_null(pl->keys[2].iv);
    /* the IV as bytes; KEYFORMAT kept */
    assert_true(pl->keys[0].has_iv);
    for (int i = 0; i < 16; i++)
        assert_int_equal(pl->keys[0].iv_bytes[i], i);
    assert_null(pl->keys[0].keyformat);
    assert_false(pl->keys[2].has_iv);
    assert_string_equal(pl->keys[2].keyformat, "identity");

    static const int key_index[] = {-1, 0, 0, -1, 2};
    assert_int_equal(pl->n_segments, 5);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(pl->segments[i].key_index, key_index[i]);
    kp_m3u8_free(pl);
}

static void test_key_iv_short_and_fairplay(void **state)
{
    /* A short IV is a left-padded big-endian integer; FairPlay's KEYFORMAT is kept. */
    kp_m3u8 *pl = parse_ok("#EXTM3U\n#EXT-X-TARGETDURATION:6\n"
                           "#EXT-X-KEY:METHOD=AES-128,URI=\"k\",IV=0X1aB\n"
                           "#EXTINF:6,\na.ts\n"
                           "#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"skd://0_abc\","
                           "KEYFORMAT=\"com.apple.streamingkeydelivery\",KEYFORMATVERSIONS=\"1\"\n"
                           "#EXT-X-MAP:URI=\"init.mp4\"\n"
                           "#EXTINF:6,\nb.m4s\n");
    static const unsigned char want[16] = {[14] = 0x01, [15] = 0xab};
    assert_true(pl->keys[0].has_iv);
    assert_memory_equal(pl->keys[0].iv_bytes, want, 16);
    assert_string_equal(pl->keys[1].uri, "skd://0_abc");
    assert_string_equal(pl->keys[1].keyformat, "com.apple.streamingkeydelivery");
    assert_string_equal(pl->map_uri, "https://cdn.example.com/p/1/hls/init.mp4");
    kp_m3u8_free(pl);
    expect_error("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\",IV=0x0g\n",
                 3, KP_PCODE_INVALID_HLS_TAG,
                 "EXT-X-KEY IV '0x0g' is not 0x and 1 to 32 hex digits");
    expect_error("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\",IV=0x"
                 "000102030405060708090a0b0c0d0e0f0\n",
                 3, KP_PCODE_INVALID_HLS_TAG,
                 "EXT-X-KEY IV '0x000102030405060708090a0b0c0d0e0f0' is not 0x and 1 to 32 hex "
                 "digits");
    expect_error("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\",IV=12\n", 3,
                 KP_PCODE_INVALID_HLS_TAG, "EXT-X-KEY IV '12' is not 0x and 1 to 32 hex digits");
}

static void test_master_media_renditions(void **state)
{
    kp_m3u8 *pl = parse_ok("#EXTM3U\n"
                           "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aac\",NAME=\"audio\",DEFAULT=YES,"
                           "LANGUAGE=\"en\",URI=\"audio/index.m3u8\"\n"
                           "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",NAME=\"English\"\n"
                           "#EXT-X-STREAM-INF:BANDWIDTH=800000,AUDIO=\"aac\"\n"
                           "v1/index.m3u8\n"
                           "#EXT-X-STREAM-INF:BANDWIDTH=400000\n"
                           "v2/index.m3u8\n");
    assert_true(pl->is_master);
    assert_int_equal(pl->n_media, 2);
    assert_string_equal(pl->media[0].type, "AUDIO");
    assert_string_equal(pl->media[0].group_id, "aac");
    assert_string_equal(pl->media[0].name, "audio");
    assert_string_equal(pl->media[0].language, "en");
    assert_true(pl->media[0].is_default);
    assert_string_equal(pl->media[0].uri, "https://cdn.example.com/p/1/hls/audio/index.m3u8");
    assert_null(pl->media[1].uri);
    assert_false(pl->media[1].is_default);
    assert_string_equal(pl->variants[0].audio, "aac");
    assert_null(pl->variants[1].audio);
    kp_m3u8_free(pl);
    expect_error("#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,NAME=\"a\"\n", 2,
                 KP_PCODE_HLS_REQUIRED_ATTRIBUTE_MISSING, "EXT-X-MEDIA without GROUP-ID");
    expect_error("#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,NAME=\"a\n", 2, KP_PCODE_INVALID_HLS_TAG,
                 "malformed attribute list in EXT-X-MEDIA");
    expect_error("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\na.ts\n"
                 "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"a\"\n",
                 5, KP_PCODE_INVALID_HLS_TAG,
                 "the playlist mixes EXT-X-STREAM-INF variants and media segments");
}

static void test_audio_rendition_choice(void **state)
{
    (void)state;
    kp_m3u8 *pl = parse_ok(
        "#EXTM3U\n"
        "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aac\",NAME=\"muxed\"\n"
        "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aac\",NAME=\"fr\",URI=\"fr.m3u8\"\n"
        "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aac\",NAME=\"en\",DEFAULT=YES,URI=\"en.m3u8\"\n"
        "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"mp3\",NAME=\"in\"\n"
        "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"aac\",NAME=\"s\",URI=\"s.m3u8\"\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO=\"aac\"\nv1.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=2,AUDIO=\"mp3\"\nv2.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=3\nv3.m3u8\n");
    assert_int_equal(pl->n_variants, 3);
    /* the DEFAULT=YES rendition with a URI wins over the first one with a URI */
    const kp_m3u8_media *m = kp_m3u8_audio_rendition(pl, &pl->variants[0]);
    assert_non_null(m);
    assert_string_equal(m->name, "en");
    /* a group whose renditions are all in the variant's stream, or no group: none */
    assert_null(kp_m3u8_audio_rendition(pl, &pl->variants[1]));
    assert_null(kp_m3u8_audio_rendition(pl, &pl->variants[2]));
    assert_null(kp_m3u8_audio_rendition(NULL, &pl->variants[0]));
    kp_m3u8_free(pl);
}

static void test_lexical_leniency(void **state)
{
    /* BOM, CRLF, trailing blanks, blank lines (also between EXTINF and its URI), comments,
     * unknown tags, and a last line without a newline. */
    kp_m3u8 *pl = parse_ok("\xEF\xBB\xBF#EXTM3U\r\n"
                           "# a comment\r\n"
                           "\r\n"
                           "#EXT-X-TARGETDURATION:5 \r\n"
                           "#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:00Z\r\n"
                           "#EXTINF:5,\r\n"
                           "\r\n"
                           "# between the tag and its URI\r\n"
                           "a.ts\r\n"
                           "\n"
                           "#EXTINF:2.5,title\t\r\n"
                           "b.ts \t\r\n"
                           "#EXT-X-ENDLIST");
    assert_float_equal(pl->target_duration, 5.0, 0.0);
    assert_true(pl->endlist);
    assert_int_equal(pl->n_segments, 2);
    assert_string_equal(pl->segments[0].uri, "https://cdn.example.com/p/1/hls/a.ts");
    assert_string_equal(pl->segments[1].uri, "https://cdn.example.com/p/1/hls/b.ts");
    assert_float_equal(pl->segments[1].duration, 2.5, 0.0);
    assert_float_equal(pl->total_duration, 7.5, 0.0);
    kp_m3u8_free(pl);

    /* a CRLF master playlist whose last line has no line ending */
    pl = parse_ok("#EXTM3U\r\n#EXT-X-STREAM-INF:BANDWIDTH=9\r\nv.m3u8");
    assert_int_equal(pl->n_variants, 1);
    assert_string_equal(pl->variants[0].uri, "https://cdn.example.com/p/1/hls/v.m3u8");
    kp_m3u8_free(pl);
}

static void test_len_is_respected(void **state)
{
    /* Only the first len bytes are parsed: the tail would be a second (bad) segment. */
    const char *text = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\na.ts\ngarbage\n";
    size_t len = strlen(text) - strlen("garbage\n");
    kp_m3u8 *pl = parse_ok_len(text, len, BASE);
    assert_int_equal(pl->n_segments, 1);
    kp_m3u8_free(pl);
}

static void test_error_without_err_struct(void **state)
{
    kp_m3u8 *pl = (kp_m3u8 *)1;
    assert_int_equal(kp_m3u8_parse("nope", 4, BASE, &pl, NULL), KP_EPARSE);
    assert_null(pl);
    const char *nul = "#EXTM3U\n\0";
    assert_int_equal(kp_m3u8_parse(nul, 9, BASE, &pl, NULL), KP_EPARSE);
    assert_null(pl);
}

/* ---- errors ---------------------------------------------------------------------------------- */

static void test_error_header(void **state)
{
    expect_error("#EXTM4U\n#EXT-X-TARGETDURATION:4\n", 1, KP_PCODE_HLS_PLAYLIST_HEADER_MISSING,
                 "the playlist does not start with #EXTM3U");
    expect_error("\n#EXTM3U\n", 1, KP_PCODE_HLS_PLAYLIST_HEADER_MISSING,
                 "the playlist does not start with #EXTM3U");
    expect_error("<html>404</html>", 1, KP_PCODE_HLS_PLAYLIST_HEADER_MISSING,
                 "the playlist does not start with #EXTM3U");
    expect_error("#EXTM3U-X\n", 1, KP_PCODE_HLS_PLAYLIST_HEADER_MISSING,
                 "the playlist does not start with #EXTM3U");
}

static void test_error_empty(void **state)
{
    expect_error("", 0, KP_PCODE_HLS_PLAYLIST_HEADER_MISSING, "empty playlist (no #EXTM3U)");
    expect_error_len("#EXTM3U\n", 0, 0, KP_PCODE_HLS_PLAYLIST_HEADER_MISSING,
                     "empty playlist (no #EXTM3U)");
}

static void test_error_nul_byte(void **state)
{
    static const char text[] = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\na\0.ts\n";
    expect_error_len(text, sizeof(text) - 1, 0, KP_PCODE_HLSJS_CANNOT_PARSE,
                     "the playlist contains a NUL byte");
}

static void test_error_malformed_attributes(void **state)
{
    static const char *const lists[] = {
        "BANDWIDTH=1000,CODECS=\"avc1",    /* unterminated quote */
        "BANDWIDTH=1000,RESOLUTION",       /* a name without '=' */
        "CODECS=\"avc1\"x,BANDWIDTH=1000", /* junk after a quoted value */
        "BANDWIDTH",
    };
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text), "#EXTM3U\n\n#EXT-X-STREAM-INF:%s\nv.m3u8\n", lists[i]);
        expect_error(text, 3, KP_PCODE_INVALID_HLS_TAG,
                     "malformed attribute list in EXT-X-STREAM-INF");
    }
    expect_error("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\n", 3,
                 KP_PCODE_INVALID_HLS_TAG, "malformed attribute list in EXT-X-KEY");
    expect_error("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-KEY:METHOD\n", 3,
                 KP_PCODE_INVALID_HLS_TAG, "malformed attribute list in EXT-X-KEY");
    expect_error("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MAP:URI=\"init.mp4\n", 3,
                 KP_PCODE_HLS_REQUIRED_ATTRIBUTE_MISSING, "EXT-X-MAP without a URI attribute");
    expect_error("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MAP:BYTERANGE=\"1@0\"\n", 3,
                 KP_PCODE_HLS_REQUIRED_ATTRIBUTE_MISSING, "EXT-X-MAP without a URI attribute");
}

static void test_error_missing_attributes(void **state)
{
    expect_error("#EXTM3U\n#EXT-X-STREAM-INF:RESOLUTION=640x360,CODECS=\"avc1.42e01e\"\nv.m3u8\n",
                 2, KP_PCODE_HLS_REQUIRED_ATTRIBUTE_MISSING,
                 "EXT-X-STREAM-INF without the required BANDWIDTH attribute");
    expect_error("#EXTM3U\n#EXT-X-STREAM-INF:\nv.m3u8\n", 2,
                 KP_PCODE_HLS_REQUIRED_ATTRIBUTE_MISSING,
                 "EXT-X-STREAM-INF without the required BANDWIDTH attribute");
    expect_error("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-KEY:URI=\"k.bin\"\n", 3,
                 KP_PCODE_HLS_REQUIRED_ATTRIBUTE_MISSING, "EXT-X-KEY without METHOD");
    expect_error("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-KEY:METHOD=AES-128,IV=0x01\n", 3,
                 KP_PCODE_HLS_REQUIRED_ATTRIBUTE_MISSING, "EXT-X-KEY METHOD=AES-128 without URI");
}

static void test_error_bad_numbers(void **state)
{
    static const struct {
        const char *stream_inf;
        const char *msg;
    } master[] = {
        {"BANDWIDTH=12k", "BANDWIDTH '12k' is not a decimal integer"},
        {"BANDWIDTH=-5", "BANDWIDTH '-5' is not a decimal integer"},
        {"BANDWIDTH=1.5", "BANDWIDTH '1.5' is not a decimal integer"},
        {"BANDWIDTH=\"\"", "BANDWIDTH '' is not a decimal integer"},
        {"BANDWIDTH=1,AVERAGE-BANDWIDTH=x", "AVERAGE-BANDWIDTH 'x' is not an integer"},
        {"BANDWIDTH=1,RESOLUTION=wide", "RESOLUTION 'wide' is not WIDTHxHEIGHT"},
        {"BANDWIDTH=1,RESOLUTION=1280", "RESOLUTION '1280' is not WIDTHxHEIGHT"},
        {"BANDWIDTH=1,FRAME-RATE=fast", "FRAME-RATE 'fast' is not a number"},
        {"CODECS=\"avc1\",BANDWIDTH=1,FRAME-RATE=-1", "FRAME-RATE '-1' is not a number"},
    };
    for (size_t i = 0; i < sizeof(master) / sizeof(master[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text), "#EXTM3U\n#EXT-X-STREAM-INF:%s\nv.m3u8\n",
                 master[i].stream_inf);
        expect_error(text, 2, KP_PCODE_INVALID_HLS_TAG, master[i].msg);
    }

    static const struct {
        const char *line;
        const char *msg;
    } media[] = {
        {"#EXTINF:abc,", "EXTINF duration 'abc,' is not a number"},
        {"#EXTINF:-1,", "EXTINF duration '-1,' is not a number"},
        {"#EXTINF:,", "EXTINF duration ',' is not a number"},
        {"#EXTINF:4s,", "EXTINF duration '4s,' is not a number"},
        {"#EXTINF:nan,", "EXTINF duration 'nan,' is not a number"},
        {"#EXTINF:inf,", "EXTINF duration 'inf,' is not a number"},
        {"#EXTINF:1e999,", "EXTINF duration '1e999,' is not a number"},
        {"#EXT-X-TARGETDURATION:ten", "EXT-X-TARGETDURATION 'ten' is not a number"},
        {"#EXT-X-VERSION:three", "EXT-X-VERSION 'three' is not an integer"},
        {"#EXT-X-VERSION:", "EXT-X-VERSION '' is not an integer"},
        {"#EXT-X-MEDIA-SEQUENCE:1.5", "EXT-X-MEDIA-SEQUENCE '1.5' is not an integer"},
        {"#EXT-X-MEDIA-SEQUENCE:-3", "EXT-X-MEDIA-SEQUENCE '-3' is not an integer"},
    };
    for (size_t i = 0; i < sizeof(media) / sizeof(media[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text), "#EXTM3U\n#EXT-X-TARGETDURATION:4\n%s\na.ts\n", media[i].line);
        expect_error(text, 3, KP_PCODE_INVALID_HLS_TAG, media[i].msg);
    }
}

static void test_error_uri_without_extinf(void **state)
{
    expect_error("#EXTM3U\n#EXT-X-TARGETDURATION:4\nseg.ts\n", 3, KP_PCODE_INVALID_HLS_TAG,
                 "URI line 'seg.ts' without a preceding EXTINF");
    /* one EXTINF is used up by its URI */
    expect_error("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\na.ts\nb.ts\n", 5,
                 KP_PCODE_INVALID_HLS_TAG, "URI line 'b.ts' without a preceding EXTINF");
    /* "#EXTINF" without its colon is not an EXTINF */
    expect_error("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF\na.ts\n", 4, KP_PCODE_INVALID_HLS_TAG,
                 "URI line 'a.ts' without a preceding EXTINF");
    /* the quoted URI is cut at 60 characters */
    char text[256], msg[256];
    const char *uri = "0123456789012345678901234567890123456789012345678901234567890123456789.ts";
    snprintf(text, sizeof(text), "#EXTM3U\n#EXT-X-TARGETDURATION:4\n%s\n", uri);
    snprintf(msg, sizeof(msg), "URI line '%.60s' without a preceding EXTINF", uri);
    assert_int_equal(strlen(msg), strlen("URI line '' without a preceding EXTINF") + 60);
    expect_error(text, 3, KP_PCODE_INVALID_HLS_TAG, msg);
}

static void test_error_tag_without_uri(void **state)
{
    expect_error("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\n", 3,
                 KP_PCODE_HLS_REQUIRED_TAG_MISSING,
                 "the playlist ends after a tag that needs a URI line");
    /* the line is the tag's, not the blank lines or comments after it */
    expect_error("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\n\n# c\n\n", 3,
                 KP_PCODE_HLS_REQUIRED_TAG_MISSING,
                 "the playlist ends after a tag that needs a URI line");
    expect_error("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1\"", 2,
                 KP_PCODE_HLS_REQUIRED_TAG_MISSING,
                 "the playlist ends after a tag that needs a URI line");
    expect_error("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n"
                 "#EXT-X-STREAM-INF:BANDWIDTH=2\n#EXT-X-ENDLIST\n",
                 4, KP_PCODE_HLS_REQUIRED_TAG_MISSING,
                 "the playlist ends after a tag that needs a URI line");
}

static void test_error_master_without_variants(void **state)
{
    /* The only way to make a master playlist is a STREAM-INF, which then lacks its URI. */
    expect_error("#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-STREAM-INF:BANDWIDTH=1\n", 3,
                 KP_PCODE_HLS_REQUIRED_TAG_MISSING,
                 "the playlist ends after a tag that needs a URI line");
    /* Master-only tags without any STREAM-INF: judged as a media playlist. */
    expect_error("#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n"
                 "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\"\n",
                 0, KP_PCODE_HLS_REQUIRED_TAG_MISSING,
                 "media playlist without EXT-X-TARGETDURATION");
}

static void test_error_media_incomplete(void **state)
{
    expect_error("#EXTM3U\n#EXTINF:10,\na.ts\n#EXT-X-ENDLIST\n", 0,
                 KP_PCODE_HLS_REQUIRED_TAG_MISSING, "media playlist without EXT-X-TARGETDURATION");
    expect_error("#EXTM3U\n", 0, KP_PCODE_HLS_REQUIRED_TAG_MISSING,
                 "media playlist without EXT-X-TARGETDURATION");
    expect_error("#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXT-X-ENDLIST\n", 0,
                 KP_PCODE_HLS_REQUIRED_TAG_MISSING, "media playlist without segments");
}

static void test_error_mixed(void **state)
{
    const char *msg = "the playlist mixes EXT-X-STREAM-INF variants and media segments";
    /* segments, then a variant: reported at the STREAM-INF */
    expect_error("#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\na.ts\n"
                 "#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n",
                 5, KP_PCODE_INVALID_HLS_TAG, msg);
    /* a variant, then a segment: reported at the EXTINF */
    expect_error("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n#EXTINF:10,\na.ts\n", 4,
                 KP_PCODE_INVALID_HLS_TAG, msg);
    /* an EXTINF waiting for its URI, then a STREAM-INF */
    expect_error("#EXTM3U\n#EXTINF:10,\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n", 3,
                 KP_PCODE_INVALID_HLS_TAG, msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_master_variants),
        cmocka_unit_test(test_master_without_base),
        cmocka_unit_test(test_master_stream_inf_twice),
        cmocka_unit_test(test_media_segments),
        cmocka_unit_test(test_media_defaults),
        cmocka_unit_test(test_media_keys),
        cmocka_unit_test(test_key_iv_short_and_fairplay),
        cmocka_unit_test(test_master_media_renditions),
        cmocka_unit_test(test_audio_rendition_choice),
        cmocka_unit_test(test_lexical_leniency),
        cmocka_unit_test(test_len_is_respected),
        cmocka_unit_test(test_error_without_err_struct),
        cmocka_unit_test(test_error_header),
        cmocka_unit_test(test_error_empty),
        cmocka_unit_test(test_error_nul_byte),
        cmocka_unit_test(test_error_malformed_attributes),
        cmocka_unit_test(test_error_missing_attributes),
        cmocka_unit_test(test_error_bad_numbers),
        cmocka_unit_test(test_error_uri_without_extinf),
        cmocka_unit_test(test_error_tag_without_uri),
        cmocka_unit_test(test_error_master_without_variants),
        cmocka_unit_test(test_error_media_incomplete),
        cmocka_unit_test(test_error_mixed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
