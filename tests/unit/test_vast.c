/* test_vast.c: the VAST/VMAP parsers (core/src/vast.h) on documents written for these tests
 * with the structures of the IAB VAST 4.x samples: an inline linear ad like Inline_Simple.xml
 * (Error, Impression, AdServingId, tracking with a progress offset, quartiles, three
 * progressive MediaFiles, ClickThrough, UniversalAdId), a wrapper, a pod, skip offsets as time
 * and percentage, NonLinear / Companion / AdVerifications elements skipped, VAST 2.0 and 3.0
 * shapes, VMAP with every timeOffset form, and every error with its VAST code and line.
 */
#include "kp/err.h"
#include "vast.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>

#include <cmocka.h>

static kp_vast *vast_ok(const char *text)
{
    kp_vast *v = NULL;
    kp_vast_error err;
    int rc = kp_vast_parse(text, strlen(text), &v, &err);
    if (rc != 0)
        fprintf(stderr, "unexpected error %d (VAST %d, line %d): %s\n", rc, err.code, err.line,
                err.msg);
    assert_int_equal(rc, 0);
    assert_non_null(v);
    return v;
}

static void vast_fails(const char *text, int code, int line, const char *msg_part)
{
    kp_vast *v = (kp_vast *)1;
    kp_vast_error err;
    int rc = kp_vast_parse(text, strlen(text), &v, &err);
    assert_int_equal(rc, KP_EPARSE);
    assert_null(v);
    if (code != err.code || (msg_part && !strstr(err.msg, msg_part)))
        fprintf(stderr, "got VAST %d: %s\n", err.code, err.msg);
    assert_int_equal(err.code, code);
    if (line >= 0)
        assert_int_equal(err.line, line);
    if (msg_part)
        assert_non_null(strstr(err.msg, msg_part));
}

static const char INLINE_42[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<VAST version=\"4.2\" xmlns=\"http://www.iab.com/VAST\">\n"
    "  <Ad id=\"20001\">\n"
    "    <InLine>\n"
    "      <AdSystem version=\"4.0\">kpsim test</AdSystem>\n"
    "      <Error><![CDATA[http://ads.test/error?code=[ERRORCODE]]]></Error>\n"
    "      <Extensions><Extension type=\"x\"><Foo>bar</Foo></Extension></Extensions>\n"
    "      <Impression id=\"i1\"><![CDATA[http://ads.test/imp1]]></Impression>\n"
    "      <Impression id=\"i2\"> http://ads.test/imp2 </Impression>\n"
    "      <AdServingId>a532d16d-4d7f-4440-bd29-2ec0e693fc80</AdServingId>\n"
    "      <AdTitle>Inline simple</AdTitle>\n"
    "      <AdVerifications><Verification vendor=\"v\"><JavaScriptResource "
    "apiFramework=\"omid\"><![CDATA[http://v.test/omid.js]]></JavaScriptResource>"
    "</Verification></AdVerifications>\n"
    "      <Creatives>\n"
    "        <Creative id=\"5480\" sequence=\"1\" adId=\"2447226\">\n"
    "          <UniversalAdId idRegistry=\"Ad-ID\">8465</UniversalAdId>\n"
    "          <Linear skipoffset=\"00:00:05\">\n"
    "            <TrackingEvents>\n"
    "              <Tracking event=\"start\"><![CDATA[http://ads.test/start]]></Tracking>\n"
    "              <Tracking event=\"progress\" offset=\"00:00:10\">"
    "<![CDATA[http://ads.test/p10]]></Tracking>\n"
    "              <Tracking event=\"progress\" offset=\"25%\">http://ads.test/p25</Tracking>\n"
    "              <Tracking event=\"progress\">http://ads.test/no-offset</Tracking>\n"
    "              <Tracking event=\"firstQuartile\">http://ads.test/q1</Tracking>\n"
    "              <Tracking event=\"complete\">http://ads.test/complete</Tracking>\n"
    "            </TrackingEvents>\n"
    "            <Duration>00:00:16.500</Duration>\n"
    "            <MediaFiles>\n"
    "              <MediaFile id=\"5241\" delivery=\"progressive\" type=\"video/mp4\" "
    "bitrate=\"2000\" width=\"1280\" height=\"720\" minBitrate=\"1500\" maxBitrate=\"2500\" "
    "scalable=\"1\" maintainAspectRatio=\"1\" codec=\"0\">"
    "<![CDATA[http://cdn.test/ad-720.mp4]]></MediaFile>\n"
    "              <MediaFile delivery=\"progressive\" type=\"video/mp4\" bitrate=\"600\" "
    "width=\"640\" height=\"360\">http://cdn.test/ad-360.mp4</MediaFile>\n"
    "              <Mezzanine delivery=\"progressive\" type=\"video/mp4\" width=\"1920\" "
    "height=\"1080\">http://cdn.test/mezz.mp4</Mezzanine>\n"
    "              <InteractiveCreativeFile type=\"text/html\" apiFramework=\"SIMID\">"
    "http://cdn.test/simid.html</InteractiveCreativeFile>\n"
    "            </MediaFiles>\n"
    "            <VideoClicks>\n"
    "              <ClickThrough id=\"blog\"><![CDATA[https://iabtechlab.com]]></ClickThrough>\n"
    "              <ClickTracking>http://ads.test/click1</ClickTracking>\n"
    "              <ClickTracking>http://ads.test/click2</ClickTracking>\n"
    "            </VideoClicks>\n"
    "          </Linear>\n"
    "        </Creative>\n"
    "        <Creative id=\"5481\"><CompanionAds><Companion width=\"300\" height=\"250\">"
    "<StaticResource creativeType=\"image/png\">http://c.test/c.png</StaticResource>"
    "</Companion></CompanionAds></Creative>\n"
    "      </Creatives>\n"
    "    </InLine>\n"
    "  </Ad>\n"
    "</VAST>\n";

static void test_inline_42(void **state)
{
    (void)state;
    kp_vast *v = vast_ok(INLINE_42);
    assert_string_equal(v->version, "4.2");
    assert_int_equal(v->n_ads, 1);
    kp_vast_ad *a = &v->ads[0];
    assert_string_equal(a->id, "20001");
    assert_int_equal(a->sequence, 0);
    assert_false(a->wrapper);
    assert_string_equal(a->ad_system, "kpsim test");
    assert_string_equal(a->title, "Inline simple");
    assert_string_equal(a->universal_ad_id, "8465");
    assert_string_equal(a->creative_id, "5480");
    assert_int_equal(a->n_impressions, 2);
    assert_string_equal(a->impressions[0], "http://ads.test/imp1");
    assert_string_equal(a->impressions[1], "http://ads.test/imp2");
    assert_int_equal(a->n_errors, 1);
    assert_string_equal(a->errors[0], "http://ads.test/error?code=[ERRORCODE]");
    assert_true(a->linear);
    assert_int_equal(a->duration, 16500000);
    assert_int_equal(a->skip_offset, 5000000);
    assert_true(a->skip_pct < 0);
    /* the progress without an offset is dropped */
    assert_int_equal(a->n_tracking, 5);
    assert_string_equal(a->tracking[0].event, "start");
    assert_int_equal(a->tracking[0].offset, -1);
    assert_string_equal(a->tracking[1].event, "progress");
    assert_int_equal(a->tracking[1].offset, 10000000);
    assert_string_equal(a->tracking[2].url, "http://ads.test/p25");
    assert_true(a->tracking[2].offset_pct == 25.0);
    assert_string_equal(a->tracking[4].event, "complete");
    assert_string_equal(a->click_through, "https://iabtechlab.com");
    assert_int_equal(a->n_click_tracking, 2);
    /* Mezzanine and InteractiveCreativeFile are not media files to play */
    assert_int_equal(a->n_media, 2);
    assert_string_equal(a->media[0].url, "http://cdn.test/ad-720.mp4");
    assert_string_equal(a->media[0].type, "video/mp4");
    assert_string_equal(a->media[0].delivery, "progressive");
    assert_int_equal(a->media[0].width, 1280);
    assert_int_equal(a->media[0].height, 720);
    assert_int_equal(a->media[0].bitrate, 2000);
    assert_int_equal(a->media[1].bitrate, 600);
    assert_false(a->nonlinear);
    size_t idx[4];
    assert_int_equal(kp_vast_pick(v, idx, 4), 1);
    assert_int_equal(idx[0], 0);
    kp_vast_free(v);
}

static void test_wrapper_and_versions(void **state)
{
    (void)state;
    kp_vast *v = vast_ok(
        "<VAST version=\"3.0\"><Ad id=\"w1\"><Wrapper followAdditionalWrappers=\"false\">"
        "<AdSystem>W</AdSystem><VASTAdTagURI><![CDATA[ http://ads.test/next.xml ]]>"
        "</VASTAdTagURI><Error>http://ads.test/werr?c=[ERRORCODE]</Error>"
        "<Impression>http://ads.test/wimp</Impression><Creatives><Creative><Linear>"
        "<TrackingEvents><Tracking event=\"midpoint\">http://ads.test/wmid</Tracking>"
        "</TrackingEvents><VideoClicks><ClickTracking>http://ads.test/wclick</ClickTracking>"
        "</VideoClicks></Linear></Creative></Creatives></Wrapper></Ad></VAST>");
    assert_int_equal(v->n_ads, 1);
    kp_vast_ad *a = &v->ads[0];
    assert_true(a->wrapper);
    assert_false(a->follow_redirects);
    assert_string_equal(a->ad_tag_uri, "http://ads.test/next.xml");
    assert_int_equal(a->duration, -1); /* a wrapper's linear has no duration */
    assert_int_equal(a->n_tracking, 1);
    assert_int_equal(a->n_click_tracking, 1);
    assert_int_equal(a->n_media, 0);
    kp_vast_free(v);

    /* VAST 2.0 with a NonLinear ad only: parsed, not linear */
    v = vast_ok("<VAST version=\"2.0\"><Ad id=\"n\"><InLine><AdSystem>S</AdSystem>"
                "<AdTitle>T</AdTitle><Impression>http://i</Impression><Creatives><Creative>"
                "<NonLinearAds><NonLinear width=\"300\" height=\"50\"><StaticResource "
                "creativeType=\"image/png\">http://x/y.png</StaticResource></NonLinear>"
                "</NonLinearAds></Creative></Creatives></InLine></Ad></VAST>");
    assert_false(v->ads[0].linear);
    assert_true(v->ads[0].nonlinear);
    kp_vast_free(v);

    /* an empty VAST, with a root Error URL (no-ad response) */
    v = vast_ok("<VAST version=\"4.0\"><Error>http://ads.test/noad?c=[ERRORCODE]</Error></VAST>");
    assert_int_equal(v->n_ads, 0);
    assert_int_equal(v->n_errors, 1);
    size_t idx[2];
    assert_int_equal(kp_vast_pick(v, idx, 2), 0);
    kp_vast_free(v);
}

static void test_pod_and_skip_pct(void **state)
{
    (void)state;
#define LIN(skip, dur)                                                                    \
    "<InLine><AdSystem>S</AdSystem><AdTitle>T</AdTitle><Impression>http://i</Impression>" \
    "<Creatives><Creative><Linear" skip "><Duration>" dur "</Duration><MediaFiles>"       \
    "<MediaFile delivery=\"progressive\" type=\"video/mp4\" width=\"1\" height=\"1\">"    \
    "http://m.mp4</MediaFile></MediaFiles></Linear></Creative></Creatives></InLine>"
    kp_vast *v = vast_ok(
        "<VAST version=\"3.0\">"
        "<Ad id=\"c\" sequence=\"3\">" LIN(
            "", "00:00:05") "</Ad>"
                            "<Ad id=\"solo\">" LIN(
                                "", "00:00:07") "</Ad>"
                                                "<Ad id=\"a\" sequence=\"1\">" LIN(
                                                    " skipoffset=\"50%\"",
                                                    "00:00:10") "</Ad>"
                                                                "<Ad id=\"b\" sequence=\"2\">" LIN(
                                                                    "", "00:01:00.25") "</Ad>"
                                                                                       "</VAST>");
    assert_int_equal(v->n_ads, 4);
    size_t idx[8];
    size_t n = kp_vast_pick(v, idx, 8);
    assert_int_equal(n, 3);
    assert_string_equal(v->ads[idx[0]].id, "a");
    assert_string_equal(v->ads[idx[1]].id, "b");
    assert_string_equal(v->ads[idx[2]].id, "c");
    assert_true(v->ads[idx[0]].skip_pct == 50.0);
    assert_int_equal(v->ads[idx[0]].skip_offset, -1);
    assert_int_equal(v->ads[idx[1]].duration, 60250000);
    /* a limit keeps the first of the pod */
    assert_int_equal(kp_vast_pick(v, idx, 2), 2);
    assert_string_equal(v->ads[idx[1]].id, "b");
    kp_vast_free(v);
}

static void test_vast_errors(void **state)
{
    (void)state;
    vast_fails("", KP_VAST_XML_PARSE, 0, "empty");
    vast_fails("<VAST version=\"3.0\"><Ad>", KP_VAST_XML_PARSE, -1, "not XML");
    vast_fails("not xml at all", KP_VAST_XML_PARSE, -1, "not XML");
    vast_fails("<?xml version=\"1.0\"?>\n<MPD/>", KP_VAST_SCHEMA, 2, "<MPD>, not <VAST>");
    vast_fails("<VAST version=\"1.0\"/>", KP_VAST_VERSION, 1, "'1.0' is not supported");
    vast_fails("<VAST version=\"5.0\"/>", KP_VAST_VERSION, 1, "'5.0'");
    vast_fails("<VAST/>", KP_VAST_VERSION, 1, "(none)");
    vast_fails("<VAST version=\"3.0\">\n<Ad id=\"x\"/></VAST>", KP_VAST_SCHEMA, 2,
               "neither InLine nor Wrapper");
    vast_fails("<VAST version=\"3.0\"><Ad>\n<Wrapper><AdSystem>a</AdSystem></Wrapper></Ad></VAST>",
               KP_VAST_SCHEMA, 2, "no VASTAdTagURI");
    vast_fails("<VAST version=\"3.0\"><Ad><InLine><Creatives><Creative>\n<Linear>"
               "</Linear></Creative></Creatives></InLine></Ad></VAST>",
               KP_VAST_SCHEMA, 2, "no Duration");
    vast_fails("<VAST version=\"3.0\"><Ad><InLine><Creatives><Creative><Linear>\n"
               "<Duration>5 seconds</Duration></Linear></Creative></Creatives></InLine></Ad>"
               "</VAST>",
               KP_VAST_SCHEMA, 2, "'5 seconds'");
    vast_fails("<VAST version=\"3.0\"><Ad><InLine><Creatives><Creative><Linear "
               "skipoffset=\"150%\"><Duration>00:00:05</Duration></Linear></Creative>"
               "</Creatives></InLine></Ad></VAST>",
               KP_VAST_SCHEMA, 1, "skipoffset '150%'");
}

static void test_clock(void **state)
{
    (void)state;
    kp_time t;
    assert_int_equal(kp_vast_parse_clock("00:00:00", &t), 0);
    assert_int_equal(t, 0);
    assert_int_equal(kp_vast_parse_clock("01:02:03.004", &t), 0);
    assert_int_equal(t, 3723004000LL);
    assert_int_equal(kp_vast_parse_clock(" 00:00:15.5 ", &t), 0);
    assert_int_equal(t, 15500000);
    assert_int_equal(kp_vast_parse_clock("00:60:00", &t), KP_EPARSE);
    assert_int_equal(kp_vast_parse_clock("00:00", &t), KP_EPARSE);
    assert_int_equal(kp_vast_parse_clock("00:00:05.", &t), KP_EPARSE);
    assert_int_equal(kp_vast_parse_clock("00:00:05x", &t), KP_EPARSE);
    assert_int_equal(kp_vast_parse_clock("9999999:00:00", &t), KP_EPARSE);
    assert_int_equal(kp_vast_parse_clock(NULL, &t), KP_EPARSE);
}

static const char VMAP[] =
    "<?xml version=\"1.0\"?>\n"
    "<vmap:VMAP xmlns:vmap=\"http://www.iab.net/videosuite/vmap\" version=\"1.0\">\n"
    " <vmap:AdBreak timeOffset=\"start\" breakType=\"linear\" breakId=\"pre\">\n"
    "  <vmap:AdSource id=\"s1\" allowMultipleAds=\"false\" followRedirects=\"true\">\n"
    "   <vmap:AdTagURI templateType=\"vast3\"><![CDATA[http://ads.test/pre]]></vmap:AdTagURI>\n"
    "  </vmap:AdSource>\n"
    "  <vmap:TrackingEvents><vmap:Tracking event=\"breakStart\">http://ads.test/bs"
    "</vmap:Tracking><vmap:Tracking event=\"breakEnd\">http://ads.test/be</vmap:Tracking>"
    "<vmap:Tracking event=\"error\">http://ads.test/be?e=[ERRORCODE]</vmap:Tracking>"
    "</vmap:TrackingEvents>\n"
    " </vmap:AdBreak>\n"
    " <vmap:AdBreak timeOffset=\"00:00:15.000\" breakType=\"linear\" breakId=\"mid1\">\n"
    "  <vmap:AdSource><vmap:VASTAdData><VAST version=\"3.0\"><Ad id=\"in\"><InLine>"
    "<AdSystem>S</AdSystem><AdTitle>T</AdTitle><Creatives><Creative><Linear><Duration>"
    "00:00:03</Duration></Linear></Creative></Creatives></InLine></Ad></VAST>"
    "</vmap:VASTAdData></vmap:AdSource>\n"
    " </vmap:AdBreak>\n"
    " <vmap:AdBreak timeOffset=\"50%\" breakType=\"linear\"><vmap:AdSource><vmap:AdTagURI>"
    "http://ads.test/half</vmap:AdTagURI></vmap:AdSource></vmap:AdBreak>\n"
    " <vmap:AdBreak timeOffset=\"#2\" breakType=\"linear\"><vmap:AdSource><vmap:CustomAdData>"
    "x</vmap:CustomAdData></vmap:AdSource></vmap:AdBreak>\n"
    " <vmap:AdBreak timeOffset=\"end\" breakType=\"linear\"><vmap:AdSource><vmap:AdTagURI>"
    "http://ads.test/post</vmap:AdTagURI></vmap:AdSource></vmap:AdBreak>\n"
    " <vmap:Extensions/>\n"
    "</vmap:VMAP>\n";

static void test_vmap(void **state)
{
    (void)state;
    assert_true(kp_vmap_sniff(VMAP, strlen(VMAP)));
    assert_false(kp_vmap_sniff(INLINE_42, strlen(INLINE_42)));
    assert_false(kp_vmap_sniff("<", 1));
    assert_true(kp_vmap_sniff("<!-- c --><VMAP/>", 17));
    kp_vmap *m = NULL;
    kp_vast_error err;
    assert_int_equal(kp_vmap_parse(VMAP, strlen(VMAP), &m, &err), 0);
    assert_int_equal(m->n_breaks, 5);
    assert_string_equal(m->breaks[0].id, "pre");
    assert_int_equal(m->breaks[0].offset, 0);
    assert_string_equal(m->breaks[0].ad_tag_uri, "http://ads.test/pre");
    assert_int_equal(m->breaks[0].n_start, 1);
    assert_int_equal(m->breaks[0].n_end, 1);
    assert_int_equal(m->breaks[0].n_error, 1);
    assert_int_equal(m->breaks[1].offset, 15000000);
    assert_non_null(m->breaks[1].vast);
    assert_int_equal(m->breaks[1].vast->n_ads, 1);
    assert_int_equal(m->breaks[1].vast->ads[0].duration, 3000000);
    assert_true(m->breaks[2].offset_pct == 50.0);
    assert_int_equal(m->breaks[3].nth, 2);
    assert_null(m->breaks[3].ad_tag_uri);
    assert_null(m->breaks[3].vast);
    assert_int_equal(m->breaks[4].offset, -1);
    kp_vmap_free(m);

    m = (kp_vmap *)1;
    const char *soon = "<vmap:VMAP xmlns:vmap=\"x\" version=\"1.0\">\n"
                       "<vmap:AdBreak timeOffset=\"soon\"/></vmap:VMAP>";
    assert_int_equal(kp_vmap_parse(soon, strlen(soon), &m, &err), KP_EPARSE);
    assert_null(m);
    assert_int_equal(err.code, KP_VAST_SCHEMA);
    assert_int_equal(err.line, 2);
    assert_non_null(strstr(err.msg, "'soon'"));
    const char *bad_ver = "<VMAP version=\"2.0\"/>";
    assert_int_equal(kp_vmap_parse(bad_ver, strlen(bad_ver), &m, &err), KP_EPARSE);
    assert_int_equal(err.code, KP_VAST_VERSION);
    const char *inner = "<VMAP version=\"1.0\"><AdBreak timeOffset=\"start\"><AdSource>"
                        "<VASTAdData><VAST version=\"9\"/></VASTAdData></AdSource></AdBreak>"
                        "</VMAP>";
    assert_int_equal(kp_vmap_parse(inner, strlen(inner), &m, &err), KP_EPARSE);
    assert_int_equal(err.code, KP_VAST_VERSION);
    assert_int_equal(kp_vmap_parse("<VAST version=\"3.0\"/>", 21, &m, &err), KP_EPARSE);
    assert_int_equal(err.code, KP_VAST_SCHEMA);
    assert_int_equal(kp_vmap_parse("<", 1, &m, &err), KP_EPARSE);
    assert_int_equal(err.code, KP_VAST_XML_PARSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inline_42),
        cmocka_unit_test(test_wrapper_and_versions),
        cmocka_unit_test(test_pod_and_skip_pct),
        cmocka_unit_test(test_vast_errors),
        cmocka_unit_test(test_clock),
        cmocka_unit_test(test_vmap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
