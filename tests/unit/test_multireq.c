/* test_multireq.c: the mock server's multirequest executor (mock-backend/src/multireq.h,
 * reference/kaltura-provider.md §1.2) driven with a fake call function: sub-request order
 * and the stop rule, "N:param" keys, common params, {N:result:path} references (paths, embedding,
 * rendering, failures, malformed tokens, nested params), exceptions and the calls log.
 */
#include "kp/jsonu.h"
#include "multireq.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>

#include <cmocka.h>

/* ---- the fake back-end ----------------------------------------------------------------------- */

typedef struct fake {
    json_t *calls; /* [{"service","action","params"}] as received */
} fake;

static json_t *exception(const char *code)
{
    return json_pack("{s:s, s:s, s:s, s:{}}", "code", code, "message", "failed", "objectType",
                     "KalturaAPIException", "args");
}

static json_t *fake_call(void *ud, const char *service, const char *action, json_t *params)
{
    fake *f = ud;
    json_array_append_new(f->calls, json_pack("{s:s, s:s, s:O}", "service", service, "action",
                                              action, "params", params ? params : json_null()));
    if (strcmp(service, "session") == 0 && strcmp(action, "startWidgetSession") == 0)
        return json_pack("{s:I, s:s, s:i, s:s}", "partnerId", (json_int_t)1082342, "ks", "KS-ANON",
                         "userId", 0, "objectType", "KalturaStartWidgetSessionResponse");
    if (strcmp(service, "baseEntry") == 0 && strcmp(action, "list") == 0)
        return json_pack("{s:[{s:s, s:s, s:i, s:f, s:b, s:b, s:n, s:[i, i]}], s:i, s:s}", "objects",
                         "id", "1_abc", "name", "Entry", "duration", 60, "ratio", 2.5, "live", 1,
                         "dvr", 0, "none", "tags", 7, 8, "totalCount", 1, "objectType",
                         "KalturaBaseEntryListResponse");
    if (strcmp(service, "echo") == 0) /* its params, as the result */
        return json_deep_copy(params);
    if (strcmp(service, "text") == 0)
        return json_string("plain-result");
    if (strcmp(service, "matrix") == 0)
        return json_pack("[[s, s], [s, s]]", "a0", "a1", "b0", "b1");
    if (strcmp(service, "fail") == 0)
        return strcmp(action, "wrapped") == 0
                   ? json_pack("{s:o}", "error", exception("WRAPPED_FAILURE"))
                   : exception("ENTRY_ID_NOT_FOUND");
    return exception("SERVICE_DOES_NOT_EXISTS");
}

static void fake_init(fake *f)
{
    f->calls = json_array();
}

static void fake_free(fake *f)
{
    json_decref(f->calls);
}

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
    if (!v)
        fail_msg("bad test JSON at %d:%d: %s", e.line, e.column, e.text);
    return v;
}

/* The services called, "session.startWidgetSession baseEntry.list" */
static void assert_called(const fake *f, const char *want)
{
    char got[1024] = "";
    size_t off = 0, i;
    json_t *c;
    json_array_foreach(f->calls, i, c)
    {
        off += (size_t)snprintf(got + off, sizeof(got) - off, "%s%s.%s", i ? " " : "",
                                kp_json_str(c, "service", "?"), kp_json_str(c, "action", "?"));
    }
    assert_string_equal(got, want);
}

static void assert_json_eq(const json_t *got, const char *want_text)
{
    json_t *want = parse(want_text);
    if (!json_equal((json_t *)got, want)) {
        char *g = kp_json_dumps(got);
        char msg[2048];
        snprintf(msg, sizeof(msg), "got %s\nwant %s", g ? g : "NULL", want_text);
        free(g);
        json_decref(want);
        fail_msg("%s", msg);
    }
    json_decref(want);
}

/* ---- ordering -------------------------------------------------------------------------------- */

static void test_order_and_results(void **state)
{
    fake f;
    fake_init(&f);
    /* keys deliberately out of order */
    json_t *body =
        parse("{\"3\":{\"service\":\"echo\",\"action\":\"get\",\"entryId\":"
              "\"{2:result:objects:0:id}\",\"ks\":\"{1:result:ks}\"},"
              "\"1\":{\"service\":\"session\",\"action\":\"startWidgetSession\","
              "\"widgetId\":\"_1082342\"},"
              "\"2\":{\"service\":\"baseEntry\",\"action\":\"list\",\"ks\":\"{1:result:ks}\","
              "\"filter\":{\"redirectFromEntryId\":\"1_abc\"}},"
              "\"apiVersion\":\"3.3.0\",\"format\":1,\"ks\":\"\",\"partnerId\":1082342}");
    json_t *out = mbe_multirequest_run(body, fake_call, &f, NULL);
    assert_called(&f, "session.startWidgetSession baseEntry.list echo.get");
    assert_int_equal(json_array_size(out), 3);
    assert_string_equal(kp_json_str(out, "0.ks", NULL), "KS-ANON");
    assert_string_equal(kp_json_str(out, "1.objects.0.id", NULL), "1_abc");
    assert_json_eq(json_array_get(out, 2),
                   "{\"entryId\":\"1_abc\",\"ks\":\"KS-ANON\",\"partnerId\":1082342}");
    /* the sub-request's own ks wins over the top-level "" */
    assert_string_equal(kp_json_str(f.calls, "1.params.ks", NULL), "KS-ANON");
    json_decref(out);
    json_decref(body);
    fake_free(&f);
}

static void test_numeric_order(void **state)
{
    fake f;
    fake_init(&f);
    json_t *body = json_object();
    for (int i = 12; i >= 1; i--) {
        char key[16], act[16];
        snprintf(key, sizeof(key), "%d", i);
        snprintf(act, sizeof(act), "a%d", i);
        json_object_set_new(body, key, json_pack("{s:s, s:s}", "service", "echo", "action", act));
    }
    json_t *out = mbe_multirequest_run(body, fake_call, &f, NULL);
    assert_int_equal(json_array_size(out), 12);
    assert_called(&f, "echo.a1 echo.a2 echo.a3 echo.a4 echo.a5 echo.a6 echo.a7 echo.a8 echo.a9 "
                      "echo.a10 echo.a11 echo.a12");
    json_decref(out);
    json_decref(body);
    fake_free(&f);
}

static void test_stop_at_first_gap(void **state)
{
    static const struct {
        const char *body;
        const char *called;
    } cases[] = {
        /* 3 is missing: 4 never runs */
        {"{\"1\":{\"service\":\"echo\",\"action\":\"a\"},\"2\":{\"service\":\"echo\","
         "\"action\":\"b\"},\"4\":{\"service\":\"echo\",\"action\":\"d\"}}",
         "echo.a echo.b"},
        /* 2 has no action: 3 never runs */
        {"{\"1\":{\"service\":\"echo\",\"action\":\"a\"},\"2\":{\"service\":\"echo\"},"
         "\"3\":{\"service\":\"echo\",\"action\":\"c\"}}",
         "echo.a"},
        /* 1 has no service */
        {"{\"1\":{\"action\":\"a\"},\"2\":{\"service\":\"echo\",\"action\":\"b\"}}", ""},
        /* a non-string service does not count */
        {"{\"1\":{\"service\":7,\"action\":\"a\"}}", ""},
        /* no 1 at all (0 is not a sub-request) */
        {"{\"0\":{\"service\":\"echo\",\"action\":\"z\"},\"2\":{\"service\":\"echo\","
         "\"action\":\"b\"}}",
         ""},
        /* not an object at all */
        {"{\"1\":\"echo.a\"}", ""},
        {"{}", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fake f;
        fake_init(&f);
        json_t *body = parse(cases[i].body);
        json_t *out = mbe_multirequest_run(body, fake_call, &f, NULL);
        assert_called(&f, cases[i].called);
        assert_int_equal(json_array_size(out), json_array_size(f.calls));
        json_decref(out);
        json_decref(body);
        fake_free(&f);
    }
}

static void test_index_colon_params(void **state)
{
    fake f;
    fake_init(&f);
    json_t *body = parse("{\"1\":{\"service\":\"echo\",\"action\":\"a\",\"x\":\"inner\"},"
                         "\"1:x\":\"outer\",\"1:filter\":{\"idEqual\":\"{1:result:nothing}\"},"
                         "\"2:service\":\"echo\",\"2:action\":\"b\",\"2:entryId\":"
                         "\"{1:result:x}\",\"3:service\":\"echo\","
                         "\"x:service\":\"echo\",\"0:action\":\"zero\"}");
    json_t *out = mbe_multirequest_run(body, fake_call, &f, NULL);
    /* sub-request 2 is made of "2:..." keys only; 3 has no action: the run stops there */
    assert_called(&f, "echo.a echo.b");
    /* "1:x" overrides the sub-request's own x; a future reference resolves to "" */
    assert_json_eq(json_array_get(out, 0), "{\"x\":\"outer\",\"filter\":{\"idEqual\":\"\"}}");
    assert_json_eq(json_array_get(out, 1), "{\"entryId\":\"outer\"}");
    json_decref(out);
    json_decref(body);
    fake_free(&f);
}

/* ---- common params --------------------------------------------------------------------------- */

static void test_common_params(void **state)
{
    fake f;
    fake_init(&f);
    json_t *body =
        parse("{\"1\":{\"service\":\"echo\",\"action\":\"a\"},"
              "\"2\":{\"service\":\"echo\",\"action\":\"b\",\"ks\":\"OWN\",\"partnerId\":7,"
              "\"clientTag\":\"mine\",\"format\":2},"
              "\"3\":{\"service\":\"echo\",\"action\":\"c\",\"ks\":null},"
              "\"ks\":\"TOP\",\"partnerId\":1082342,\"clientTag\":\"html5:v1.2.3\","
              "\"format\":1,\"apiVersion\":\"3.3.0\",\"other\":\"x\"}");
    json_t *out = mbe_multirequest_run(body, fake_call, &f, NULL);
    assert_int_equal(json_array_size(out), 3);
    /* copied only when absent; format never passed down; nothing else copied */
    assert_json_eq(json_array_get(out, 0),
                   "{\"ks\":\"TOP\",\"partnerId\":1082342,\"clientTag\":\"html5:v1.2.3\"}");
    assert_json_eq(json_array_get(out, 1),
                   "{\"ks\":\"OWN\",\"partnerId\":7,\"clientTag\":\"mine\"}");
    /* a null ks is a ks: kept */
    assert_json_eq(json_array_get(out, 2),
                   "{\"ks\":null,\"partnerId\":1082342,\"clientTag\":\"html5:v1.2.3\"}");
    /* the body is not modified */
    assert_int_equal(kp_json_int(body, "2.format", 0), 2);
    assert_null(kp_json_path(body, "1.ks"));
    json_decref(out);
    json_decref(body);
    fake_free(&f);
}

/* ---- result references ----------------------------------------------------------------------- */

/* results: 1 = widget session, 2 = entry list, 3 = failed, 4 = string, 5 = nested arrays */
static json_t **make_results(size_t *n)
{
    fake f;
    fake_init(&f);
    json_t **r = calloc(5, sizeof(*r));
    assert_non_null(r);
    r[0] = fake_call(&f, "session", "startWidgetSession", NULL);
    r[1] = fake_call(&f, "baseEntry", "list", NULL);
    r[2] = fake_call(&f, "fail", "now", NULL);
    r[3] = fake_call(&f, "text", "get", NULL);
    r[4] = fake_call(&f, "matrix", "get", NULL);
    fake_free(&f);
    *n = 5;
    return r;
}

static void free_results(json_t **r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        json_decref(r[i]);
    free(r);
}

static void check_resolve(json_t *const *r, size_t n, const char *in, const char *want)
{
    char *got = mbe_multirequest_resolve(in, r, n);
    assert_non_null(got);
    if (strcmp(got, want) != 0) {
        char msg[512];
        snprintf(msg, sizeof(msg), "resolve(%s) = '%s', want '%s'", in, got, want);
        free(got);
        fail_msg("%s", msg);
    }
    free(got);
}

static void test_resolve_paths(void **state)
{
    size_t n;
    json_t **r = make_results(&n);
    check_resolve(r, n, "{1:result:ks}", "KS-ANON");
    check_resolve(r, n, "{2:result:objects:0:id}", "1_abc");
    check_resolve(r, n, "{2:result:objects:0:tags:1}", "8");
    check_resolve(r, n, "{5:result:1:0}", "b0");
    check_resolve(r, n, "{4:result}", "plain-result"); /* no path: the result itself */
    check_resolve(r, n, "{2:result:objectType}", "KalturaBaseEntryListResponse");
    free_results(r, n);
}

static void test_resolve_rendering(void **state)
{
    size_t n;
    json_t **r = make_results(&n);
    check_resolve(r, n, "{1:result:partnerId}", "1082342"); /* numbers as strings */
    check_resolve(r, n, "{2:result:totalCount}", "1");
    check_resolve(r, n, "{2:result:objects:0:ratio}", "2.5");
    check_resolve(r, n, "{1:result:userId}", "0");
    check_resolve(r, n, "{2:result:objects:0:live}", "1"); /* PHP: true is "1" */
    check_resolve(r, n, "{2:result:objects:0:dvr}", "");   /* false is "" */
    check_resolve(r, n, "{2:result:objects:0:none}", "");  /* null is "" */
    check_resolve(r, n, "{2:result:objects}", "");         /* arrays and objects too */
    check_resolve(r, n, "{2:result}", "");
    free_results(r, n);
}

static void test_resolve_embedding(void **state)
{
    size_t n;
    json_t **r = make_results(&n);
    check_resolve(r, n, "ks={1:result:ks}&x=1", "ks=KS-ANON&x=1");
    check_resolve(r, n, "{1:result:ks}/{2:result:objects:0:id}/{1:result:ks}",
                  "KS-ANON/1_abc/KS-ANON");
    check_resolve(r, n, "{1:result:ks}{2:result:totalCount}", "KS-ANON1");
    check_resolve(r, n, "no tokens {here}", "no tokens {here}");
    check_resolve(r, n, "", "");
    free_results(r, n);
}

static void test_resolve_failures(void **state)
{
    size_t n;
    json_t **r = make_results(&n);
    check_resolve(r, n, "[{3:result:code}]", "[]"); /* request 3 failed */
    check_resolve(r, n, "[{3:result}]", "[]");
    check_resolve(r, n, "[{1:result:nope}]", "[]");         /* missing key */
    check_resolve(r, n, "[{2:result:objects:5:id}]", "[]"); /* index out of range */
    check_resolve(r, n, "[{2:result:objects:x:id}]", "[]"); /* not an index */
    check_resolve(r, n, "[{2:result:objects:-1:id}]", "[]");
    check_resolve(r, n, "[{1:result:ks:deeper}]", "[]"); /* through a string */
    check_resolve(r, n, "[{6:result:ks}]", "[]");        /* has not run yet */
    check_resolve(r, n, "[{99999999999999999999:result}]", "[]");
    /* a NULL slot (no result) */
    json_t *none[1] = {NULL};
    check_resolve(none, 1, "[{1:result:ks}]", "[]");
    check_resolve(NULL, 0, "[{1:result:ks}]", "[]");
    free_results(r, n);
}

static void test_resolve_malformed(void **state)
{
    size_t n;
    json_t **r = make_results(&n);
    static const char *const left_alone[] = {
        "{1:res}", "{1:resultx}",    "{x:result}",  "{1:result", "{}",
        "{",       "{0:result}",     "{-1:result}", "{:result}", "{1 :result}",
        "}{",      "{1:results:ks}", "{1}:result}",
    };
    for (size_t i = 0; i < sizeof(left_alone) / sizeof(left_alone[0]); i++)
        check_resolve(r, n, left_alone[i], left_alone[i]);
    /* a malformed brace next to a good token */
    check_resolve(r, n, "{{1:result:ks}}", "{KS-ANON}");
    check_resolve(r, n, "{x}{1:result:ks}", "{x}KS-ANON");
    free_results(r, n);
}

static void test_resolve_has_no_hidden_state(void **state)
{
    /* The resolver keeps no state between calls (the mock server runs on its own threads):
     * a caller's own strtok() walk survives a resolution in the middle of it. */
    size_t n;
    json_t **r = make_results(&n);
    char list[] = "one,two,three";
    char *tok = strtok(list, ",");
    assert_string_equal(tok, "one");
    check_resolve(r, n, "{2:result:objects:0:id}", "1_abc");
    tok = strtok(NULL, ",");
    assert_non_null(tok);
    assert_string_equal(tok, "two");
    free_results(r, n);
}

static void test_nested_params_resolved(void **state)
{
    fake f;
    fake_init(&f);
    json_t *body =
        parse("{\"1\":{\"service\":\"baseEntry\",\"action\":\"list\"},"
              "\"2\":{\"service\":\"echo\",\"action\":\"a\","
              "\"filter\":{\"objectType\":\"KalturaMetadataFilter\",\"objectIdEqual\":"
              "\"{1:result:objects:0:id}\",\"deep\":{\"list\":[\"{1:result:totalCount}\","
              "5,true,null,{\"k\":\"id={1:result:objects:0:id}\"}]}},"
              "\"ids\":[\"{1:result:objects:0:id}\",\"plain\"],\"n\":3.5}}");
    json_t *out = mbe_multirequest_run(body, fake_call, &f, NULL);
    assert_json_eq(json_array_get(out, 1),
                   "{\"filter\":{\"objectType\":\"KalturaMetadataFilter\",\"objectIdEqual\":"
                   "\"1_abc\",\"deep\":{\"list\":[\"1\",5,true,null,{\"k\":\"id=1_abc\"}]}},"
                   "\"ids\":[\"1_abc\",\"plain\"],\"n\":3.5}");
    /* the body keeps its tokens */
    assert_string_equal(kp_json_str(body, "2.filter.objectIdEqual", NULL),
                        "{1:result:objects:0:id}");
    assert_string_equal(kp_json_str(body, "2.filter.deep.list.4.k", NULL),
                        "id={1:result:objects:0:id}");
    json_decref(out);
    json_decref(body);
    fake_free(&f);
}

static void test_failed_request_others_run(void **state)
{
    fake f;
    fake_init(&f);
    json_t *body = parse("{\"1\":{\"service\":\"fail\",\"action\":\"now\"},"
                         "\"2\":{\"service\":\"echo\",\"action\":\"a\",\"ks\":\"[{1:result:ks}]\"},"
                         "\"3\":{\"service\":\"fail\",\"action\":\"wrapped\"},"
                         "\"4\":{\"service\":\"echo\",\"action\":\"b\",\"c\":\"[{3:result:code}]\","
                         "\"d\":\"[{3:result:error:code}]\"}}");
    json_t *out = mbe_multirequest_run(body, fake_call, &f, NULL);
    assert_int_equal(json_array_size(out), 4);
    assert_true(mbe_is_exception(json_array_get(out, 0)));
    assert_string_equal(kp_json_str(out, "0.code", NULL), "ENTRY_ID_NOT_FOUND");
    assert_json_eq(json_array_get(out, 1), "{\"ks\":\"[]\"}");
    assert_true(mbe_is_exception(json_array_get(out, 2)));
    /* an exception under "error" also resolves to "" */
    assert_json_eq(json_array_get(out, 3), "{\"c\":\"[]\",\"d\":\"[]\"}");
    json_decref(out);
    json_decref(body);
    fake_free(&f);
}

static void test_is_exception(void **state)
{
    json_t *top = exception("X");
    json_t *wrapped = json_pack("{s:o}", "error", exception("Y"));
    json_t *other = json_pack("{s:s}", "objectType", "KalturaMediaEntry");
    json_t *other_err = json_pack("{s:{s:s}}", "error", "objectType", "KalturaError");
    json_t *not_str = json_pack("{s:i}", "objectType", 1);
    json_t *arr = json_pack("[o]", exception("Z"));
    json_t *str = json_string("KalturaAPIException");
    assert_true(mbe_is_exception(top));
    assert_true(mbe_is_exception(wrapped));
    assert_false(mbe_is_exception(other));
    assert_false(mbe_is_exception(other_err));
    assert_false(mbe_is_exception(not_str));
    assert_false(mbe_is_exception(arr));
    assert_false(mbe_is_exception(str));
    assert_false(mbe_is_exception(NULL));
    json_decref(top);
    json_decref(wrapped);
    json_decref(other);
    json_decref(other_err);
    json_decref(not_str);
    json_decref(arr);
    json_decref(str);
}

static void test_calls_log(void **state)
{
    fake f;
    fake_init(&f);
    json_t *body = parse("{\"1\":{\"service\":\"session\",\"action\":\"startWidgetSession\","
                         "\"widgetId\":\"_1\"},"
                         "\"2\":{\"service\":\"fail\",\"action\":\"now\",\"ks\":"
                         "\"{1:result:ks}\",\"format\":1},"
                         "\"ks\":\"\",\"format\":1}");
    json_t *calls = NULL;
    json_t *out = mbe_multirequest_run(body, fake_call, &f, &calls);
    assert_non_null(calls);
    assert_json_eq(calls,
                   "[{\"service\":\"session\",\"action\":\"startWidgetSession\","
                   "\"params\":{\"widgetId\":\"_1\",\"ks\":\"\"}},"
                   "{\"service\":\"fail\",\"action\":\"now\",\"params\":{\"ks\":\"KS-ANON\"}}]");
    /* what the call function received is what the log says */
    assert_true(json_equal(calls, f.calls));
    json_decref(calls);
    json_decref(out);

    /* an empty run still gives an empty log and an empty answer */
    json_t *empty = json_object();
    calls = NULL;
    out = mbe_multirequest_run(empty, fake_call, &f, &calls);
    assert_true(json_is_array(out));
    assert_int_equal(json_array_size(out), 0);
    assert_true(json_is_array(calls));
    assert_int_equal(json_array_size(calls), 0);
    json_decref(calls);
    json_decref(out);
    json_decref(empty);
    json_decref(body);
    fake_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_results),
        cmocka_unit_test(test_numeric_order),
        cmocka_unit_test(test_stop_at_first_gap),
        cmocka_unit_test(test_index_colon_params),
        cmocka_unit_test(test_common_params),
        cmocka_unit_test(test_resolve_paths),
        cmocka_unit_test(test_resolve_rendering),
        cmocka_unit_test(test_resolve_embedding),
        cmocka_unit_test(test_resolve_failures),
        cmocka_unit_test(test_resolve_malformed),
        cmocka_unit_test(test_resolve_has_no_hidden_state),
        cmocka_unit_test(test_nested_params_resolved),
        cmocka_unit_test(test_failed_request_others_run),
        cmocka_unit_test(test_is_exception),
        cmocka_unit_test(test_calls_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
