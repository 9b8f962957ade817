/* test_provider_golden.c: the OVP provider's pure functions against the golden corpus
 * ($KPSIM_SHARED_DIR/conformance/provider/golden/<case>.json, recorded from the real JavaScript
 * provider). For each OVP getMediaConfig case: build the request from the case's options and
 * input and compare URL and body with requests[0]; feed the recorded response (status 200,
 * the x-kaltura-session header the corpus's error objects show) to kp_ovp_media_parse and
 * compare the config or error with the golden. JSON equality ignores key order; numbers must
 * match in value and in JSON type (integer or real). HANG cases check kpsim's defined replacement instead. One line per case.
 *
 * How the corpus was recorded (MANIFEST.txt): clientTag "html5:v1.2.3", page protocol https,
 * default serviceUrl. Mapping notes: a case with userGetRequests had a user.get answered with
 * a real user, so is_anonymous = 0; ovp_regex_manifest_only was run with
 * env.replaceHostOnlyManifestUrls = true although its recorded options omit it (its output and
 * the upstream test show it); a numeric input.entryId (1234) is passed as the string "1234".
 */
#include "kp/buf.h"
#include "kp/err.h"
#include "kp/jsonu.h"
#include "kp/provider.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* JSON equality with key order ignored; numbers must also have the same JSON type (an
 * integer in the corpus must come out as an integer, a real as a real). */
static bool json_same(const json_t *a, const json_t *b)
{
    if (!a || !b)
        return a == b;
    if (json_typeof(a) != json_typeof(b))
        return false;
    switch (json_typeof(a)) {
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return false;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)a, k, v)
        {
            if (!json_same(v, json_object_get(b, k)))
                return false;
        }
        return true;
    }
    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b))
            return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!json_same(json_array_get(a, i), json_array_get(b, i)))
                return false;
        return true;
    default:
        return json_equal((json_t *)a, (json_t *)b);
    }
}

/* Prints the first difference between want and got, with its path. */
static void print_diff(const char *path, const json_t *want, const json_t *got)
{
    if (json_same(want, got))
        return;
    if (json_is_object(want) && json_is_object(got)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)want, k, v)
        {
            char sub[512];
            snprintf(sub, sizeof(sub), "%s.%s", path, k);
            if (!json_object_get(got, k)) {
                char *w = kp_json_dumps(v);
                printf("      %s: missing (want %.200s)\n", sub, w ? w : "?");
                free(w);
                return;
            }
            if (!json_same(v, json_object_get(got, k))) {
                print_diff(sub, v, json_object_get(got, k));
                return;
            }
        }
        json_object_foreach((json_t *)got, k, v)
        {
            if (!json_object_get(want, k)) {
                printf("      %s.%s: unexpected key\n", path, k);
                return;
            }
        }
    }
    if (json_is_array(want) && json_is_array(got) &&
        json_array_size(want) == json_array_size(got)) {
        for (size_t i = 0; i < json_array_size(want); i++) {
            if (!json_same(json_array_get(want, i), json_array_get(got, i))) {
                char sub[512];
                snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
                print_diff(sub, json_array_get(want, i), json_array_get(got, i));
                return;
            }
        }
    }
    char *w = kp_json_dumps(want), *g = kp_json_dumps(got);
    printf("      %s:\n        want %.400s\n        got  %.400s\n", path, w ? w : "(null)",
           g ? g : "(null)");
    free(w);
    free(g);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct golden_run {
    int checked, passed;
} golden_run;

/* Options and input of a case, as kpsim's structs (strings borrowed from the case JSON). */
typedef struct mapped {
    kp_provider_opts o;
    kp_media_info mi;
    char entry_id_buf[64];
} mapped;

static void map_case(const json_t *c, mapped *m)
{
    const json_t *opt = json_object_get(c, "options");
    const json_t *in = json_object_get(c, "input");
    kp_provider_opts_init(&m->o);
    m->o.client_tag = "html5:v1.2.3";
    m->o.partner_id = kp_json_int(opt, "partnerId", 0);
    m->o.ks = kp_json_str(opt, "ks", NULL);
    m->o.uiconf_id = kp_json_int(opt, "uiConfId", 0);
    m->o.widget_id = kp_json_str(opt, "widgetId", NULL);
    m->o.referrer = kp_json_str(opt, "referrer", NULL);
    m->o.vr_tag = kp_json_str(opt, "vrTag", NULL);
    m->o.use_header_for_ks = kp_json_bool(opt, "useHeaderForKs", false);
    m->o.service_url =
        kp_json_str(opt, "env.overrideServiceUrl", kp_json_str(opt, "env.serviceUrl", NULL));
    m->o.cdn_url = kp_json_str(opt, "env.cdnUrl", NULL);
    m->o.use_api_captions = kp_json_bool(opt, "env.useApiCaptions", true);
    m->o.replace_host_only_manifest_urls =
        kp_json_bool(opt, "env.replaceHostOnlyManifestUrls", false);
    if (strcmp(kp_json_str(c, "case", ""), "ovp_regex_manifest_only") == 0)
        m->o.replace_host_only_manifest_urls = true;
    if (json_array_size(json_object_get(c, "userGetRequests")) > 0)
        m->o.is_anonymous = 0;

    memset(&m->mi, 0, sizeof(m->mi));
    m->mi.redirect_from_entry_id = -1;
    const json_t *eid = json_object_get(in, "entryId");
    if (json_is_string(eid)) {
        m->mi.entry_id = json_string_value(eid);
    } else if (json_is_integer(eid)) {
        snprintf(m->entry_id_buf, sizeof(m->entry_id_buf), "%lld",
                 (long long)json_integer_value(eid));
        m->mi.entry_id = m->entry_id_buf;
    }
    m->mi.reference_id = kp_json_str(in, "referenceId", NULL);
    m->mi.ks = kp_json_str(in, "ks", NULL);
    const json_t *redirect = json_object_get(in, "redirectFromEntryId");
    if (json_is_boolean(redirect))
        m->mi.redirect_from_entry_id = json_is_true(redirect) ? 1 : 0;
}

/* The expected request body, with a numeric entry id turned into the string kpsim sends. */
static json_t *expected_body(const json_t *c)
{
    json_t *body = json_deep_copy(kp_json_path(c, "requests.0.body"));
    const json_t *eid = kp_json_path(c, "input.entryId");
    if (body && json_is_integer(eid)) {
        const char *k;
        json_t *v;
        json_object_foreach(body, k, v)
        {
            json_t *f = json_object_get(v, "filter");
            const char *keys[] = {"redirectFromEntryId", "idEqual"};
            for (size_t i = 0; i < 2; i++)
                if (json_is_integer(json_object_get(f, keys[i])))
                    json_object_set_new(f, keys[i],
                                        json_sprintf("%lld", (long long)json_integer_value(eid)));
        }
    }
    return body;
}

/* The recorded HTTP body of a case (malloc'd in out). */
static bool case_body(const char *dir, const json_t *c, const char *body_key, kp_buf *out)
{
    const json_t *rb = json_object_get(c, body_key);
    const char *fixture = kp_json_str(c, "fixture", "");
    if (rb) {
        if (json_is_string(rb))
            return kp_buf_puts(out, json_string_value(rb)) >= 0;
        char *s = json_dumps(rb, JSON_COMPACT | JSON_ENCODE_ANY);
        bool ok = s && kp_buf_puts(out, s) >= 0;
        free(s);
        return ok;
    }
    if (strcmp(fixture, "(non-JSON 200 body)") == 0)
        return kp_buf_puts(out, kp_json_str(c, "error.data.text", "")) >= 0;
    if (fixture[0] == '(' || !fixture[0])
        return kp_buf_puts(out, "") >= 0;
    char path[1024];
    snprintf(path, sizeof(path), "%s/conformance/provider/json/ovp-be.%s.json", dir, fixture);
    return kp_read_file(path, out) >= 0;
}

static const char *const k_headers[] = {"Content-Type: application/json", "X-Kaltura-Session: 123"};

static bool run_case(const char *dir, const char *name, const json_t *c)
{
    mapped m;
    map_case(c, &m);
    const char *verdict = kp_json_str(c, "verdict", "");
    bool hang = strcmp(verdict, "HANG") == 0;
    bool ok = true;
    char *url = NULL;
    json_t *body = NULL, *err = NULL, *cfg = NULL;

    int rc = kp_ovp_media_request(&m.o, &m.mi, &url, &body, &err);
    const json_t *want_req = kp_json_path(c, "requests.0");
    if (!hang && !want_req) {
        /* no request was sent: the error comes from the request builder */
        const json_t *want_err = json_object_get(c, "error");
        if (rc != KP_EINVAL || !json_same(want_err, err)) {
            printf("    request error differs (rc %d)\n", rc);
            print_diff("error", want_err, err);
            ok = false;
        }
        goto done;
    }
    if (rc != 0) {
        printf("    request failed: %s\n", kp_err_name(rc));
        ok = false;
        goto done;
    }
    if (!hang) {
        const char *want_url = kp_json_str(want_req, "url", "");
        if (strcmp(url, want_url) != 0) {
            printf("    url differs: want %s got %s\n", want_url, url);
            ok = false;
        }
        json_t *want_body = expected_body(c);
        if (!json_same(want_body, body)) {
            printf("    request body differs\n");
            print_diff("body", want_body, body);
            ok = false;
        }
        json_decref(want_body);
    }

    kp_buf resp;
    kp_buf_init(&resp);
    if (!case_body(dir, c, hang ? "fixtureBody" : "responseBody", &resp)) {
        printf("    cannot load the response body\n");
        kp_buf_free(&resp);
        ok = false;
        goto done;
    }
    kp_http_outcome h = {.status = 200,
                         .body = resp.data,
                         .body_len = resp.len,
                         .url = url,
                         .headers = k_headers,
                         .n_headers = 2,
                         .attempt = 1};
    if (strcmp(kp_json_str(c, "fixture", ""), "(XHR onerror)") == 0) {
        h.transport_error = KP_EHTTP;
        h.status = 0;
        h.attempt = (int)kp_json_int(c, "options.networkRetryParameters.maxAttempts", 4);
    }
    if (hang && strstr(name, "http_500"))
        h.status = 500;
    rc = kp_ovp_media_parse(&m.o, &m.mi, &h, &cfg, &err);
    kp_buf_free(&resp);
    if (rc != 0 || (!cfg == !err)) {
        printf("    parse returned %s\n", kp_err_name(rc));
        ok = false;
        goto done;
    }
    if (hang) {
        /* kpsim's defined replacement for a promise that never settles */
        long long want_code = strstr(name, "http_500") ? 1001 : 1006;
        long long got = kp_json_int(err, "code", 0);
        if (got != want_code) {
            printf("    HANG upstream: want kpsim's %lld, got %lld\n", want_code, got);
            ok = false;
        } else {
            printf("    HANG upstream; kpsim reports %lld\n", got);
        }
        goto done;
    }
    const json_t *want_out = json_object_get(c, "output");
    const json_t *want_err = json_object_get(c, "error");
    if (want_out && !json_same(want_out, cfg)) {
        printf("    output differs%s\n", err ? " (got an error instead)" : "");
        print_diff("output", want_out, cfg ? cfg : err);
        ok = false;
    }
    if (want_err && !json_same(want_err, err)) {
        printf("    error differs%s\n", cfg ? " (got a config instead)" : "");
        print_diff("error", want_err, err ? err : cfg);
        ok = false;
    }
done:
    free(url);
    json_decref(body);
    json_decref(err);
    json_decref(cfg);
    return ok;
}

static void test_golden_ovp_media_config(void **state)
{
    (void)state;
    const char *dir = getenv("KPSIM_SHARED_DIR");
    if (!dir || !*dir)
        fail_msg("KPSIM_SHARED_DIR is unset or empty: configure with "
                 "-DKPSIM_SHARED_DIR=/path/to/shared to run the provider golden corpus");
    char gdir[1024];
    snprintf(gdir, sizeof(gdir), "%s/conformance/provider/golden", dir);
    DIR *d = opendir(gdir);
    if (!d)
        fail_msg("cannot open %s", gdir);
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!kp_str_ends(de->d_name, ".json"))
            continue;
        names = realloc(names, (n + 1) * sizeof(*names));
        assert_non_null(names);
        names[n++] = kp_strdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(*names), cmp_names);

    golden_run run = {0, 0};
    for (size_t i = 0; i < n; i++) {
        char path[2048];
        snprintf(path, sizeof(path), "%s/%s", gdir, names[i]);
        json_error_t jerr;
        json_t *c = json_load_file(path, 0, &jerr);
        if (!c)
            fail_msg("%s: %s (line %d)", path, jerr.text, jerr.line);
        const char *kind = kp_json_str(c, "kind", "");
        const char *method = kp_json_str(c, "method", NULL);
        const char *verdict = kp_json_str(c, "verdict", "");
        const char *name = kp_json_str(c, "case", names[i]);
        bool hang = strcmp(verdict, "HANG") == 0;
        if (strcmp(kind, "ovp") != 0 || (!hang && (!method || strcmp(method, "getMediaConfig"))) ||
            (hang && json_object_get(c, "input") && kp_json_path(c, "input.playlistId"))) {
            json_decref(c);
            continue;
        }
        printf("  %-45s (%s)\n", name, verdict);
        run.checked++;
        if (run_case(dir, name, c)) {
            run.passed++;
            printf("    ok\n");
        } else {
            printf("    FAIL\n");
        }
        json_decref(c);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    printf("provider golden: %d of %d OVP getMediaConfig cases match\n", run.passed, run.checked);
    assert_true(run.checked > 0);
    assert_int_equal(run.passed, run.checked);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_ovp_media_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
