/* test_ads_scenario.c: backend.ads from a scenario to the wire. A scenario's fixtures reach
 * the mock ad server through hx_servers_start (the VMAP and the VAST it points at, fetched
 * over HTTP and parsed); hx_player_config replaces {{ads}}, {{analytics}}, {{api}} and
 * {{drm}} in every text of player.config (nested, in lists, several in one text) and leaves
 * other text alone; `kpsim serve` lists and serves the documents and journals the beacons
 * with server "ads".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http_client.h"
#include "hx/runner.h"
#include "hx/scenario.h"
#include "kp/buf.h"
#include "kp/jsonu.h"
#include "kpsim_run.h"
#include "mbe/mbe.h"

#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char SCENARIO[] =
    "name: ads wiring\n"
    "backend:\n"
    "  entries:\n"
    "    - {id: 0_wire0001, duration: 4, formats: [progressive], renditions: [144p]}\n"
    "  ads:\n"
    "    creatives:\n"
    "      - {id: spot, duration: 2, skipoffset: 1}\n"
    "    vast:\n"
    "      - {id: pre, version: 3.0, ads: [spot]}\n"
    "      - {id: wrap, wrapper: pre}\n"
    "    vmap:\n"
    "      - id: sched\n"
    "        breaks:\n"
    "          - {offset: start, vast: wrap}\n"
    "          - {offset: 1.5, vast: pre, id: mid}\n"
    "player:\n"
    "  config:\n"
    "    plugins:\n"
    "      ima:\n"
    "        adTagUrl: \"{{ads}}/vmap/sched\"\n"
    "        urls: [\"{{api}}/p\", \"{{analytics}}\", \"{{ads}}|{{api}}\"]\n"
    "        plain: \"no placeholder {here}\"\n"
    "        n: 5\n"
    "steps: [play]\n";

static hx_scenario *load(void)
{
    hx_diag d = {0};
    hx_scenario *s = NULL;
    int rc = hx_scenario_load_buffer("wire.yaml", SCENARIO, strlen(SCENARIO), &s, &d);
    for (size_t i = 0; i < d.n; i++)
        fprintf(stderr, "%s\n", d.msgs[i]);
    hx_diag_free(&d);
    assert_int_equal(rc, 0);
    return s;
}

static xmlDocPtr fetch_xml(const char *url)
{
    test_reply r;
    test_http("GET", url, NULL, NULL, NULL, &r);
    if (r.status != 200)
        fail_msg("GET %s: %ld", url, r.status);
    xmlDocPtr d = xmlReadMemory(r.body.data, (int)r.body.len, url, NULL, XML_PARSE_NONET);
    assert_non_null(d);
    test_reply_free(&r);
    return d;
}

static xmlNode *find_el(xmlNode *n, const char *name)
{
    for (; n; n = n->next) {
        if (n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0)
            return n;
        xmlNode *c = find_el(n->children, name);
        if (c)
            return c;
    }
    return NULL;
}

static char *content(xmlNode *n)
{
    assert_non_null(n);
    xmlChar *c = xmlNodeGetContent(n);
    char *out = kp_strdup((const char *)c);
    xmlFree(c);
    return out;
}

static void test_fixtures_reach_the_server(void **state)
{
    (void)state;
    hx_scenario *sc = load();
    assert_int_equal(sc->backend.ads.n_vmap, 1);
    assert_string_equal(sc->backend.ads.vmap[0].breaks[1].offset, "00:00:01.500");
    assert_string_equal(sc->backend.ads.vmap[0].breaks[0].id, "break-1");
    assert_string_equal(sc->backend.ads.vast[1].version, "4.2");
    mbe_media_cache *media = mbe_media_cache_new(getenv("KPSIM_CACHE_DIR"), NULL);
    hx_servers srv;
    assert_int_equal(hx_servers_start(sc, media, NULL, 0, 0, &srv), 0);
    const char *base = mbe_server_url(srv.api);

    /* the placeholders */
    json_t *cfg = hx_player_config(sc, &srv);
    assert_non_null(cfg);
    char *want = kp_asprintf("%s/ads/vmap/sched", base);
    const char *tag = kp_json_str(cfg, "plugins.ima.adTagUrl", "");
    assert_string_equal(tag, want);
    free(want);
    json_t *urls = json_object_get(json_object_get(json_object_get(cfg, "plugins"), "ima"), "urls");
    want = kp_asprintf("%s/p", base);
    assert_string_equal(json_string_value(json_array_get(urls, 0)), want);
    free(want);
    want = kp_asprintf("%s/analytics", base);
    assert_string_equal(json_string_value(json_array_get(urls, 1)), want);
    free(want);
    want = kp_asprintf("%s/ads|%s", base, base);
    assert_string_equal(json_string_value(json_array_get(urls, 2)), want);
    free(want);
    assert_string_equal(kp_json_str(cfg, "plugins.ima.plain", ""), "no placeholder {here}");
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(json_object_get(cfg, "plugins"), "ima"), "n")),
                     5);
    want = kp_asprintf("%s/api_v3", base);
    assert_string_equal(kp_json_str(cfg, "provider.env.serviceUrl", ""), want);
    free(want);
    /* the scenario's own config is untouched */
    assert_string_equal(kp_json_str(sc->player.config, "plugins.ima.adTagUrl", ""),
                        "{{ads}}/vmap/sched");

    /* the VMAP from the adTagUrl, its first break's wrapper, the wrapped inline ad */
    xmlDocPtr d = fetch_xml(tag);
    char *uri = content(find_el(xmlDocGetRootElement(d), "AdTagURI"));
    xmlFreeDoc(d);
    d = fetch_xml(uri);
    free(uri);
    uri = content(find_el(xmlDocGetRootElement(d), "VASTAdTagURI"));
    xmlFreeDoc(d);
    d = fetch_xml(uri);
    free(uri);
    xmlNode *lin = find_el(xmlDocGetRootElement(d), "Linear");
    assert_non_null(lin);
    xmlChar *skip = xmlGetProp(lin, (const xmlChar *)"skipoffset");
    assert_string_equal((const char *)skip, "00:00:01");
    xmlFree(skip);
    char *media_url = content(find_el(lin, "MediaFile"));
    xmlFreeDoc(d);
    test_reply r;
    test_http("GET", media_url, NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_memory_equal(r.body.data + 4, "ftyp", 4);
    test_reply_free(&r);
    free(media_url);

    json_t *m = json_pack("{s:s}", "kind", "vast");
    assert_int_equal(mbe_server_count(srv.api, "ads", m), 2);
    json_decref(m);
    m = json_pack("{s:s, s:s}", "kind", "media", "ad", "spot");
    assert_int_equal(mbe_server_count(srv.api, "ads", m), 1);
    json_decref(m);
    json_decref(cfg);
    hx_servers_stop(&srv);
    mbe_media_cache_free(media);
    hx_scenario_free(sc);
}

/* kpsim serve: the documents are listed at start, served, and beacons journaled. */
static void test_serve_serves_ads(void **state)
{
    (void)state;
    char dir[] = "/tmp/kpsim-ads-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *scenario = kp_asprintf("%s/wire.yaml", dir);
    char *journal = kp_asprintf("%s/journal.json", dir);
    FILE *sf = fopen(scenario, "w");
    assert_non_null(sf);
    fputs(SCENARIO, sf);
    fclose(sf);
    const char *bin = test_kpsim_bin();
    int out[2];
    assert_int_equal(pipe(out), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(out[1], STDOUT_FILENO);
        close(out[0]);
        close(out[1]);
        execl(bin, bin, "serve", "--journal", journal, scenario, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    FILE *f = fdopen(out[0], "r");
    assert_non_null(f);
    char line[512] = "", vmap[256] = "", vast[256] = "";
    while ((!vmap[0] || !strstr(line, "entry")) && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "  vmap ", 7) == 0)
            sscanf(line + 7, " %255s", vmap);
        if (strncmp(line, "  vast ", 7) == 0 && !vast[0])
            sscanf(line + 7, " %255s", vast);
    }
    assert_true(kp_str_starts(vmap, "http://127.0.0.1:"));
    assert_non_null(strstr(vmap, "/ads/vmap/sched"));
    assert_non_null(strstr(vast, "/ads/vast/pre"));
    xmlDocPtr d = fetch_xml(vmap);
    assert_non_null(find_el(xmlDocGetRootElement(d), "AdBreak"));
    xmlFreeDoc(d);
    d = fetch_xml(vast);
    char *err = content(find_el(xmlDocGetRootElement(d), "Error"));
    xmlFreeDoc(d);
    /* the player fills [ERRORCODE] (and leaves the other macros, as a sloppy one would) */
    char *code = strstr(err, "[ERRORCODE]");
    assert_non_null(code);
    char *beacon = kp_asprintf("%.*s402%s", (int)(code - err), err, code + strlen("[ERRORCODE]"));
    for (char *p = beacon; (p = strpbrk(p, "[]")); p++)
        *p = *p == '[' ? 'x' : 'y'; /* keep the URL plain */
    test_reply r;
    test_http("GET", beacon, NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    test_reply_free(&r);
    free(beacon);
    free(err);
    assert_int_equal(kill(pid, SIGTERM), 0);
    int st = 0;
    pid_t done = 0;
    for (int i = 0; i < 200 && done == 0; i++) {
        done = waitpid(pid, &st, WNOHANG);
        if (done == 0)
            usleep(50 * 1000);
    }
    if (done != pid) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        fail_msg("kpsim serve did not stop on SIGTERM");
    }
    fclose(f);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    json_error_t e;
    json_t *j = json_load_file(journal, 0, &e);
    if (!j)
        fail_msg("%s: %s", journal, e.text);
    size_t i, errors = 0, docs = 0;
    json_t *rec;
    json_array_foreach(j, i, rec)
    {
        assert_string_equal(kp_json_str(rec, "server", ""), "ads");
        if (strcmp(kp_json_str(rec, "kind", ""), "error") == 0) {
            errors++;
            assert_int_equal(json_integer_value(json_object_get(rec, "errorcode")), 402);
            assert_string_equal(kp_json_str(rec, "ad", ""), "spot");
            assert_string_equal(kp_json_str(rec, "vast", ""), "pre");
            assert_string_equal(kp_json_str(rec, "cachebusting", ""), "xCACHEBUSTINGy");
        } else {
            docs++;
        }
    }
    assert_int_equal(errors, 1);
    assert_int_equal(docs, 2);
    json_decref(j);
    unlink(journal);
    unlink(scenario);
    rmdir(dir);
    free(journal);
    free(scenario);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures_reach_the_server),
        cmocka_unit_test(test_serve_serves_ads),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    xmlCleanupParser();
    return rc;
}
