/* server.c: the libmicrohttpd front of the mock back-end (see mbe/mbe.h). */
#include "mbe_internal.h"
#include "multireq.h"

#include "kp/buf.h"
#include "kp/codec.h"
#include "kp/drmmsg.h"
#include "kp/err.h"
#include "kp/fault.h"
#include "kp/jsonu.h"
#include "mockc/fault_http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_BODY (8u << 20)

typedef struct req_ctx {
    kp_buf body;
    bool too_large;
} req_ctx;

/* Whether the override sets header `name` itself (then it replaces the mock's own). */
static bool override_sets(const mbe_override_rec *o, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; o && i < o->n_headers; i++)
        if (strncasecmp(o->headers[i], name, n) == 0 && o->headers[i][n] == ':')
            return true;
    return false;
}

/* The headers of every reply; those an override sets are left to it. */
static void add_common_headers(struct MHD_Response *resp, unsigned long long seq,
                               const mbe_override_rec *o)
{
    char session[32];
    snprintf(session, sizeof(session), "%llu", seq);
    static const char *const fixed[][2] = {
        {"Access-Control-Allow-Origin", "*"},
        {"Access-Control-Allow-Headers", "content-type, x-kaltura-ks"},
        {"Access-Control-Allow-Methods", "GET, POST, OPTIONS"},
        {"Access-Control-Expose-Headers", "X-Kaltura-Session, X-Me"},
        {"X-Kaltura-Session", NULL},
        {"X-Me", "kpsim-mock-backend"},
    };
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        if (!override_sets(o, fixed[i][0]))
            MHD_add_response_header(resp, fixed[i][0], fixed[i][1] ? fixed[i][1] : session);
}

static enum MHD_Result queue(struct MHD_Connection *c, mbe_server *s, int status, const char *type,
                             const void *data, size_t len, bool persistent, unsigned long long seq,
                             const mbe_reply *r)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, (void *)data, persistent ? MHD_RESPMEM_PERSISTENT : MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    if (type)
        MHD_add_response_header(resp, "Content-Type", type);
    if (r && r->location)
        MHD_add_response_header(resp, "Location", r->location);
    if (r && r->accept_ranges)
        MHD_add_response_header(resp, "Accept-Ranges", "bytes");
    if (r && r->content_range[0])
        MHD_add_response_header(resp, "Content-Range", r->content_range);
    add_common_headers(resp, seq, NULL);
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    json_object_set_new(cls, key, json_string(value ? value : ""));
    return MHD_YES;
}

static json_t *api_call_cb(void *ud, const char *service, const char *action, json_t *params)
{
    mbe_server *s = ud;
    return s->kind == MBE_OTT ? mbe_ott_call(s, service, action, params)
                              : mbe_api_call(s, service, action, params);
}

/* Phoenix wraps every answer: {"result": <answer>, "executionTime": t}; an error inside a
 * multirequest is {"error": {...}} (or, configured so, the bare exception), a failed single
 * request {"result": {"error": {...}}}. */
static json_t *ott_envelope(const mbe_server *s, json_t *answer, bool multi)
{
    if (multi && json_is_array(answer) && !s->ott_bare_item_errors) {
        size_t i;
        json_t *item;
        json_array_foreach(answer, i, item)
        {
            if (mbe_is_exception(item))
                json_array_set_new(answer, i, json_pack("{s:O}", "error", item));
        }
    } else if (!multi && mbe_is_exception(answer)) {
        json_t *wrapped = json_pack("{s:O}", "error", answer);
        json_decref(answer);
        answer = wrapped;
    }
    return json_pack("{s:o, s:f}", "result", answer, "executionTime", 0.001);
}

/* ---- API parameters ----
 * As the real front controller takes them: the query string, plus the body when it is
 * application/json (a JSON object) or application/x-www-form-urlencoded ("1:filter:idEqual=x"
 * keys, split on ':' into nested objects). A body of any other type is not read. */

static char *url_decode(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
                   isxdigit((unsigned char)s[i + 2])) {
            char hex[3] = {s[i + 1], s[i + 2], '\0'};
            out[o++] = (char)strtol(hex, NULL, 16);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

/* Sets "a:b:c" = value in obj as obj.a.b.c (creating objects; a non-object in the way is
 * replaced, as PHP's array building does). */
static void set_flat(json_t *obj, const char *key, const char *value)
{
    char *copy = kp_strdup(key), *save = NULL;
    json_t *cur = obj;
    char *tok = copy ? strtok_r(copy, ":", &save) : NULL;
    while (tok) {
        char *next = strtok_r(NULL, ":", &save);
        if (!next) {
            json_object_set_new(cur, tok, json_string(value));
            break;
        }
        json_t *child = json_object_get(cur, tok);
        if (!json_is_object(child)) {
            child = json_object();
            json_object_set_new(cur, tok, child);
        }
        cur = child;
        tok = next;
    }
    free(copy);
}

static void parse_form(json_t *params, const char *body, size_t len)
{
    const char *p = body, *end = body + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pair_end = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pair_end - p));
        char *k = url_decode(p, (size_t)((eq ? eq : pair_end) - p));
        char *v = eq ? url_decode(eq + 1, (size_t)(pair_end - eq - 1)) : kp_strdup("");
        if (k && v && *k)
            set_flat(params, k, v);
        free(k);
        free(v);
        p = pair_end + 1;
    }
}

static enum MHD_Result query_to_params(void *cls, enum MHD_ValueKind kind, const char *key,
                                       const char *value)
{
    set_flat(cls, key, value ? value : "");
    return MHD_YES;
}

/* The parsed JSON body (a new reference, to a value nobody may modify), or NULL with *jerr
 * set; *text gets its compact JSON (a new reference to a string; NULL when not at hand). A
 * player sends the same body again and again (the same playback start, say), and parsing is
 * a pure function of the bytes: the last few bodies are kept parsed, and written out once
 * for the journal. */
static json_t *parse_body(mbe_server *s, const char *bytes, size_t len, json_error_t *jerr,
                          json_t **text)
{
    *text = NULL;
    uint64_t h = kp_fnv1a(bytes, len);
    json_t *v = NULL;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < sizeof(s->parsed) / sizeof(s->parsed[0]) && !v; i++) {
        const struct mbe_parsed_body *p = &s->parsed[i];
        if (p->value && p->hash == h && p->len == len && memcmp(p->bytes, bytes, len) == 0) {
            v = json_incref(p->value);
            *text = json_incref(p->text);
        }
    }
    pthread_mutex_unlock(&s->lock);
    if (v)
        return v;
    v = json_loadb(bytes, len, 0, jerr);
    char *copy = v ? kp_strndup(bytes, len) : NULL;
    kp_buf compact;
    kp_buf_init(&compact);
    json_t *t = v && kp_json_write(&compact, v, 0) == KP_OK
                    ? json_stringn_nocheck(compact.data, compact.len)
                    : NULL;
    kp_buf_free(&compact);
    if (!copy || !t) {
        free(copy);
        json_decref(t);
        return v;
    }
    *text = json_incref(t);
    pthread_mutex_lock(&s->lock);
    struct mbe_parsed_body *slot =
        &s->parsed[s->parsed_next++ % (sizeof(s->parsed) / sizeof(s->parsed[0]))];
    free(slot->bytes);
    json_decref(slot->value);
    json_decref(slot->text);
    *slot = (struct mbe_parsed_body){
        .hash = h, .bytes = copy, .len = len, .value = json_incref(v), .text = t};
    pthread_mutex_unlock(&s->lock);
    return v;
}

static void parsed_bodies_free(mbe_server *s)
{
    for (size_t i = 0; i < sizeof(s->parsed) / sizeof(s->parsed[0]); i++) {
        free(s->parsed[i].bytes);
        json_decref(s->parsed[i].value);
        json_decref(s->parsed[i].text);
    }
}

/* The request's parameters, or NULL with *error set (a JSON body that does not parse). When
 * they are exactly the JSON body, *body_text gets its compact JSON (a new reference). */
static json_t *api_params(mbe_server *s, struct MHD_Connection *c, const req_ctx *rc,
                          json_t **error, json_t **body_text)
{
    *body_text = NULL;
    json_t *params = json_object();
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, query_to_params, params);
    const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    if (!rc->body.len || !type)
        return params;
    if (strcasestr(type, "application/json")) {
        json_error_t jerr;
        json_t *text;
        json_t *body = parse_body(s, rc->body.data, rc->body.len, &jerr, &text);
        if (!json_is_object(body)) {
            KP_LOG_W(s->log, "mbe", "an API request's JSON body %s: answered INVALID_JSON",
                     body ? "is not an object" : "does not parse");
            *error = mbe_exception("INVALID_JSON", NULL, "Invalid JSON request body: %s",
                                   body ? "not an object" : jerr.text);
            json_decref(body);
            json_decref(text);
            json_decref(params);
            return NULL;
        }
        if (json_object_size(params) == 0)
            *body_text = json_incref(text);
        json_decref(text);
        json_object_update(params, body);
        json_decref(body);
    } else if (strcasestr(type, "application/x-www-form-urlencoded")) {
        parse_form(params, rc->body.data, rc->body.len);
    }
    return params;
}

/* service and action from /api_v3/service/<s>[/action/<a>] or the query's service/action. */
static void service_action(const char *url, const json_t *params, char **svc, char **act)
{
    const char *rest = strstr(url, "/service/");
    if (rest) {
        rest += strlen("/service/");
        *svc = kp_strndup(rest, strcspn(rest, "/"));
        const char *a = strstr(rest, "/action/");
        *act = a ? kp_strndup(a + 8, strcspn(a + 8, "/")) : NULL;
    } else {
        *svc = kp_strdup(kp_json_str(params, "service", NULL));
        *act = NULL;
    }
    if (!*act && kp_json_str(params, "action", NULL))
        *act = kp_strdup(kp_json_str(params, "action", NULL));
}

/* ---- fault rules ---- */

/* The server name of a path, as the journal and fault rules say it. */
static const char *server_of(const char *url)
{
    if (kp_str_starts(url, "/api_v3/"))
        return "api";
    if (kp_str_starts(url, "/ads/") || strcmp(url, "/ads") == 0)
        return "ads";
    if (kp_str_starts(url, "/analytics/") || strcmp(url, "/analytics") == 0)
        return "analytics";
    return "cdn";
}

/* Whether a fault rule fires for the request the record describes (its "calls" for the API;
 * "segment", "rendition", "kind", "entryId" for the CDN). */
static int fault_decide(mbe_server *s, const json_t *rec, kp_fault_action *fa)
{
    memset(fa, 0, sizeof(*fa));
    if (!s->faults)
        return 0;
    const json_t *calls = json_object_get(rec, "calls");
    size_t n = json_array_size(calls);
    const char **svc = calloc(n ? n : 1, sizeof(char *));
    const char **act = calloc(n ? n : 1, sizeof(char *));
    if (!svc || !act) {
        free(svc);
        free(act);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        svc[i] = kp_json_str(json_array_get(calls, i), "service", NULL);
        act[i] = kp_json_str(json_array_get(calls, i), "action", NULL);
    }
    const json_t *seg = json_object_get(rec, "segment");
    kp_fault_req q = {.server = kp_json_str(rec, "server", NULL),
                      .method = kp_json_str(rec, "method", NULL),
                      .path = kp_json_str(rec, "path", NULL),
                      .services = svc,
                      .actions = act,
                      .n_calls = n,
                      .segment = json_is_integer(seg) ? (long long)json_integer_value(seg) : -1,
                      .rendition = kp_json_str(rec, "rendition", NULL),
                      .kind = kp_json_str(rec, "kind", NULL),
                      .entry = kp_json_str(rec, "entryId", NULL)};
    int fired = kp_fault_decide(s->faults, &q, fa);
    free(svc);
    free(act);
    return fired;
}

typedef struct hdr_ctx {
    unsigned long long seq;
    const mbe_reply *r;
} hdr_ctx;

static void add_headers_cb(struct MHD_Response *resp, void *ud)
{
    const hdr_ctx *h = ud;
    if (h->r && h->r->location)
        MHD_add_response_header(resp, "Location", h->r->location);
    if (h->r && h->r->accept_ranges)
        MHD_add_response_header(resp, "Accept-Ranges", "bytes");
    if (h->r && h->r->content_range[0])
        MHD_add_response_header(resp, "Content-Range", h->r->content_range);
    add_common_headers(resp, h->seq, NULL);
}

/* What a fault reply sends, for the journal: the status (0: none) and the body bytes. */
static void fault_outcome(const kp_fault_action *fa, int status, const char *type, const char *path,
                          size_t len, bool real_time, int *st, size_t *bytes)
{
    *st = status;
    *bytes = len;
    switch (fa->kind) {
    case KP_FAULT_STATUS:
        *st = fa->status;
        *bytes =
            fa->body ? fa->body_len : (size_t)snprintf(NULL, 0, "%d kpsim fault\n", fa->status);
        break;
    case KP_FAULT_RESET:
        if (fa->mid_body) { /* the status and `bytes` of the body, then the reset */
            *bytes = fa->bytes < len ? fa->bytes : len;
            break;
        }
        *st = 0;
        *bytes = 0;
        break;
    case KP_FAULT_EMPTY:
    case KP_FAULT_RANDOM_THEN_CLOSE:
        *st = 0;
        *bytes = 0;
        break;
    case KP_FAULT_TIMEOUT:
        *bytes = 0;
        if (real_time)
            *st = 0;
        break;
    case KP_FAULT_TRUNCATE:
        *bytes = fa->bytes < len ? fa->bytes : len;
        break;
    case KP_FAULT_MALFORMED: {
        kp_buf b;
        kp_buf_init(&b);
        kp_fault_malformed_body(type, path, len, fa->seed, &b);
        *bytes = b.len;
        *st = status >= 200 && status < 300 ? status : 200;
        kp_buf_free(&b);
        break;
    }
    default:
        break;
    }
}

/* Journals the request and sends the answer: as is, or as the fault says when fa is set. */
static enum MHD_Result finish(mbe_server *s, struct MHD_Connection *c, json_t *rec,
                              kp_fault_action *fa, int status, const char *type, const char *body,
                              size_t len, bool persistent, const mbe_reply *r,
                              const char *body_json)
{
    if (!fa) {
        json_object_set_new(rec, "status", json_integer(status));
        json_object_set_new(rec, "bytes", json_integer((json_int_t)len));
        unsigned long long seq = mbe_journal_add(s, rec, body_json);
        return queue(c, s, status, type, body, len, persistent, seq, r);
    }
    char *path = kp_strdup(kp_json_str(rec, "path", ""));
    int st;
    size_t bytes;
    fault_outcome(fa, status, type, path, len, s->fault_real_time, &st, &bytes);
    json_object_set_new(rec, "status", json_integer(st));
    json_object_set_new(rec, "bytes", json_integer((json_int_t)bytes));
    json_object_set_new(rec, "fault", json_integer(fa->rule));
    json_object_set_new(rec, "fault_reply", json_string(kp_fault_kind_name(fa->kind)));
    KP_LOG_D(s->log, "mbe", "%s: fault rule %d (%s)", path ? path : "?", fa->rule,
             kp_fault_kind_name(fa->kind));
    hdr_ctx h = {.seq = mbe_journal_add(s, rec, body_json), .r = r};
    mockc_answer o = {.status = status,
                      .content_type = type,
                      .body = body,
                      .len = len,
                      .path = path,
                      .add_headers = add_headers_cb,
                      .ud = &h};
    mockc_sent sent;
    enum MHD_Result res = mockc_fault_answer(c, fa, &o, s->fault_real_time, &s->stopping, &sent);
    free(path);
    return res;
}

/* api_error: the exception replaces the answer of a single call, or, in a multirequest, the
 * answers of the calls the rule's service/action select (all of them when it names none). */
static json_t *api_error_answer(json_t *answer, bool multi, const json_t *calls,
                                const kp_fault_action *fa)
{
    if (!multi || !json_is_array(answer)) {
        json_decref(answer);
        return mbe_exception(fa->code, NULL, "%s", fa->message);
    }
    for (size_t i = 0; i < json_array_size(answer); i++) {
        const json_t *call = json_array_get(calls, i);
        const char *svc = kp_json_str(call, "service", NULL),
                   *act = kp_json_str(call, "action", NULL);
        if ((fa->match_service && (!svc || strcmp(svc, fa->match_service) != 0)) ||
            (fa->match_action && (!act || strcmp(act, fa->match_action) != 0)))
            continue;
        json_array_set_new(answer, i, mbe_exception(fa->code, NULL, "%s", fa->message));
    }
    return answer;
}

static enum MHD_Result handle_api(mbe_server *s, struct MHD_Connection *c, const char *url,
                                  req_ctx *rc, json_t *rec)
{
    json_t *answer = NULL, *calls = NULL;
    json_t *body_text = NULL;
    bool multi = false;
    json_t *params = api_params(s, c, rc, &answer, &body_text);
    if (!params) {
        json_object_set_new(rec, "body",
                            json_stringn(rc->body.data ? rc->body.data : "", rc->body.len));
    } else {
        if (!body_text) /* else the journal takes the text the body parsed from */
            json_object_set(rec, "body", params);
        char *svc = NULL, *act = NULL;
        service_action(url, params, &svc, &act);
        if (svc && strcmp(svc, "multirequest") == 0) {
            answer = mbe_multirequest_run(params, api_call_cb, s, &calls);
            multi = true;
        } else if (!svc || !*svc || !act || !*act) {
            KP_LOG_W(s->log, "mbe", "%s: no %s named: answered MISSING_MANDATORY_PARAMETER", url,
                     !svc || !*svc ? "service" : "action");
            answer = mbe_exception(
                "MISSING_MANDATORY_PARAMETER",
                json_pack("{s:s}", "PARAM_NAME", !svc || !*svc ? "service" : "action"),
                "Missing parameter \"%s\"", !svc || !*svc ? "service" : "action");
        } else {
            json_object_del(params, "service");
            json_object_del(params, "action");
            answer = api_call_cb(s, svc, act, params);
            calls = json_pack("[{s:s, s:s, s:O}]", "service", svc, "action", act, "params", params);
        }
        free(svc);
        free(act);
        json_decref(params);
    }
    json_object_set_new(rec, "calls", calls ? calls : json_array());
    kp_fault_action fa;
    int fired = fault_decide(s, rec, &fa);
    if (fired && fa.kind == KP_FAULT_API_ERROR)
        answer = api_error_answer(answer, multi, json_object_get(rec, "calls"), &fa);
    if (s->kind == MBE_OTT && (multi || json_array_size(json_object_get(rec, "calls"))))
        answer = ott_envelope(s, answer, multi);
    kp_buf out;
    kp_buf_init(&out);
    kp_buf_reserve(&out, 4096);
    char *text = kp_json_write(&out, answer, 0) == KP_OK ? kp_buf_steal(&out) : NULL;
    kp_buf_free(&out);
    json_decref(answer);
    size_t len = text ? strlen(text) : 0;
    enum MHD_Result r =
        finish(s, c, rec, fired ? &fa : NULL, 200, "application/json", text ? text : "", len, false,
               NULL, body_text ? json_string_value(body_text) : NULL);
    json_decref(body_text);
    kp_fault_action_clear(&fa);
    free(text);
    return r;
}

/* The (service, action) pairs a multirequest body names, for the journal of an overridden
 * request (the calls are not executed). */
static json_t *named_calls(const json_t *body)
{
    json_t *calls = json_array();
    for (int i = 1;; i++) {
        char key[16];
        snprintf(key, sizeof(key), "%d", i);
        const json_t *sub = json_object_get(body, key);
        const char *svc = kp_json_str(sub, "service", NULL),
                   *act = kp_json_str(sub, "action", NULL);
        if (!svc || !act)
            break;
        json_array_append_new(
            calls, json_pack("{s:s, s:s, s:O}", "service", svc, "action", act, "params", sub));
    }
    return calls;
}

/* Answers with the newest matching override; false when none matches. */
static bool apply_override(mbe_server *s, struct MHD_Connection *c, const char *method,
                           const char *url, const req_ctx *rc, json_t *rec, enum MHD_Result *result)
{
    /* the array may move when an override is added; the strings it points to do not until
     * the server stops, so a copy of the record taken under the lock stays valid */
    mbe_override_rec copy;
    bool found = false;
    pthread_mutex_lock(&s->lock);
    for (size_t i = s->n_overrides; i-- > 0 && !found;) {
        const mbe_override_rec *x = &s->overrides[i];
        if ((!x->method || strcmp(x->method, method) == 0) && strcmp(x->path, url) == 0) {
            copy = *x;
            found = true;
        }
    }
    pthread_mutex_unlock(&s->lock);
    if (!found)
        return false;
    const mbe_override_rec *o = &copy;
    json_object_set_new(rec, "override", json_true());
    if (rc->body.len) {
        json_t *body = json_loadb(rc->body.data, rc->body.len, 0, NULL);
        if (body) {
            json_object_set_new(rec, "calls", named_calls(body));
            json_object_set_new(rec, "body", body);
        } else {
            json_object_set_new(rec, "body", json_stringn(rc->body.data, rc->body.len));
        }
    }
    if (o->kind == MBE_REPLY_RESET) {
        json_object_set_new(rec, "status", json_integer(0));
        mbe_journal_add(s, rec, NULL);
        *result = MHD_NO; /* libmicrohttpd closes the connection without an answer */
        return true;
    }
    json_object_set_new(rec, "status", json_integer(o->status));
    json_object_set_new(rec, "bytes", json_integer((json_int_t)o->body_len));
    unsigned long long seq = mbe_journal_add(s, rec, NULL);
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        o->body_len, (void *)(o->body ? o->body : ""), MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        *result = MHD_NO;
        return true;
    }
    if (o->content_type)
        MHD_add_response_header(resp, "Content-Type", o->content_type);
    add_common_headers(resp, seq, o);
    for (size_t i = 0; i < o->n_headers; i++) {
        const char *h = o->headers[i];
        const char *colon = strchr(h, ':');
        if (!colon)
            continue;
        char *name = kp_strndup(h, (size_t)(colon - h));
        const char *value = colon + 1;
        while (*value == ' ')
            value++;
        if (name)
            MHD_add_response_header(resp, name, value);
        free(name);
    }
    *result = MHD_queue_response(c, (unsigned)o->status, resp);
    MHD_destroy_response(resp);
    return true;
}

/* The analytics sink: a beacon's parameters from the query and a JSON or form body. A sink
 * that is down closes the connection without an answer (the player sees a network error);
 * otherwise the fault rules for server analytics apply to the answer. */
static enum MHD_Result handle_analytics(mbe_server *s, struct MHD_Connection *c, const char *url,
                                        req_ctx *rc, json_t *rec)
{
    json_t *error = NULL, *body_text = NULL;
    json_t *params = api_params(s, c, rc, &error, &body_text);
    json_decref(body_text);
    if (!params) {
        json_decref(error);
        params = json_object();
    }
    mbe_reply r = {0};
    mbe_analytics_answer(s, url, params, &r, rec);
    json_decref(params);
    if (s->analytics_down) {
        free(r.body);
        json_object_set_new(rec, "status", json_integer(0));
        json_object_set_new(rec, "down", json_true());
        mbe_journal_add(s, rec, NULL);
        return MHD_NO;
    }
    kp_fault_action fa;
    int fired = fault_decide(s, rec, &fa);
    enum MHD_Result res = finish(s, c, rec, fired ? &fa : NULL, r.status, r.content_type,
                                 r.body ? r.body : "", r.len, false, &r, NULL);
    kp_fault_action_clear(&fa);
    free(r.body);
    return res;
}

static void override_free(mbe_override_rec *o)
{
    free(o->method);
    free(o->path);
    free(o->content_type);
    free(o->body);
    for (size_t i = 0; i < o->n_headers; i++)
        free(o->headers[i]);
    free(o->headers);
}

int mbe_server_override(mbe_server *s, const mbe_override *in)
{
    if (!in || !in->path)
        return KP_EINVAL;
    mbe_override_rec o = {.kind = in->kind, .status = in->status, .body_len = in->body_len};
    o.method = kp_strdup(in->method);
    o.path = kp_strdup(in->path);
    o.content_type = kp_strdup(in->content_type);
    o.body = malloc(in->body_len + 1);
    o.headers = calloc(in->n_headers + 1, sizeof(char *));
    bool ok = o.path && o.body && o.headers && (!in->method || o.method) &&
              (!in->content_type || o.content_type);
    if (o.body) {
        if (in->body_len)
            memcpy(o.body, in->body, in->body_len);
        o.body[in->body_len] = '\0';
    }
    for (size_t i = 0; ok && i < in->n_headers; i++) {
        o.headers[i] = kp_strdup(in->headers[i]);
        ok = o.headers[i] != NULL;
        o.n_headers = i + 1;
    }
    pthread_mutex_lock(&s->lock);
    mbe_override_rec *grown =
        ok ? realloc(s->overrides, (s->n_overrides + 1) * sizeof(*grown)) : NULL;
    if (grown) {
        s->overrides = grown;
        s->overrides[s->n_overrides++] = o;
    }
    pthread_mutex_unlock(&s->lock);
    if (!grown) {
        override_free(&o);
        return KP_ENOMEM;
    }
    return KP_OK;
}

static void clear_overrides(mbe_server *s)
{
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n_overrides; i++)
        override_free(&s->overrides[i]);
    free(s->overrides);
    s->overrides = NULL;
    s->n_overrides = 0;
    pthread_mutex_unlock(&s->lock);
}

/* ---- the admin path of the fault rules (mbe.h) ---- */

static enum MHD_Result admin_reply(struct MHD_Connection *c, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    struct MHD_Response *resp =
        text ? MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE)
             : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    if (text)
        MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "X-Me", "kpsim-mock-backend");
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static bool known_event_any(const char *name)
{
    return name && *name;
}

static enum MHD_Result handle_admin(mbe_server *s, struct MHD_Connection *c, const char *url,
                                    const char *method, req_ctx *rc)
{
    const char *rest = url + strlen("/__admin/faults");
    if (strcmp(method, "GET") == 0 && (!*rest || strcmp(rest, "/") == 0))
        return admin_reply(c, 200, kp_fault_set_json(s->faults));
    if (strcmp(method, "POST") == 0 && (!*rest || strcmp(rest, "/") == 0)) {
        json_error_t jerr;
        json_t *j = rc->body.len ? json_loadb(rc->body.data, rc->body.len, 0, &jerr) : NULL;
        if (!j)
            return admin_reply(c, 400,
                               json_pack("{s:s, s:s}", "error",
                                         rc->body.len ? jerr.text
                                                      : "the body is empty: a rule "
                                                        "as JSON is expected",
                                         "where", ""));
        kp_fault_rule *rule = NULL;
        char err[256], where[96];
        int prc =
            kp_fault_rule_parse(j, known_event_any, &rule, err, sizeof(err), where, sizeof(where));
        json_decref(j);
        if (prc != KP_OK)
            return admin_reply(c, 400,
                               json_pack("{s:s, s:s}", "error",
                                         prc == KP_EPARSE ? err : kp_strerror(prc), "where",
                                         prc == KP_EPARSE ? where : ""));
        if (strcmp(kp_fault_rule_server(rule), "drm") == 0)
            KP_LOG_I(s->log, "mbe", "admin: a drm fault rule (applies on the license server)");
        int id = kp_fault_set_add(s->faults, rule);
        if (id < 0)
            return admin_reply(c, 500, json_pack("{s:s}", "error", kp_strerror(id)));
        KP_LOG_I(s->log, "mbe", "admin: fault rule %d added", id);
        return admin_reply(c, 201, json_pack("{s:i}", "id", id));
    }
    if (strcmp(method, "DELETE") == 0) {
        if (!*rest || strcmp(rest, "/") == 0) {
            kp_fault_set_remove(s->faults, -1);
            return admin_reply(c, 204, NULL);
        }
        char *end = NULL;
        long id = rest[0] == '/' ? strtol(rest + 1, &end, 10) : -1;
        if (!end || *end || end == rest + 1 || id < 0 || id > 1000000000)
            return admin_reply(c, 404, json_pack("{s:s}", "error", "no such rule path"));
        if (kp_fault_set_remove(s->faults, (int)id) != KP_OK)
            return admin_reply(c, 404,
                               json_pack("{s:s, s:i}", "error", "no such rule", "id", (int)id));
        return admin_reply(c, 204, NULL);
    }
    return admin_reply(
        c, 405,
        json_pack("{s:s}", "error", "GET or POST /__admin/faults, DELETE /__admin/faults[/<id>]"));
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    mbe_server *s = cls;
    req_ctx *rc = *con_cls;
    if (!rc) {
        rc = calloc(1, sizeof(*rc));
        if (!rc)
            return MHD_NO;
        kp_buf_init(&rc->body);
        *con_cls = rc;
        return MHD_YES;
    }
    if (*upload_size) {
        if (rc->body.len + *upload_size > MAX_BODY)
            rc->too_large = true;
        else
            kp_buf_append(&rc->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (s->fault_admin && s->faults && kp_str_starts(url, "/__admin/faults"))
        return handle_admin(s, c, url, method, rc);
    json_t *query = json_object();
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_query, query);
    json_t *rec = json_pack("{s:s, s:s, s:o}", "method", method, "path", url, "query", query);
    json_object_set_new(rec, "server", json_string(server_of(url)));
    enum MHD_Result over;
    if (apply_override(s, c, method, url, rc, rec, &over))
        return over;
    kp_fault_action fa;
    if (strcmp(method, "OPTIONS") == 0) {
        int fired = fault_decide(s, rec, &fa);
        enum MHD_Result res =
            finish(s, c, rec, fired ? &fa : NULL, 204, NULL, "", 0, true, NULL, NULL);
        kp_fault_action_clear(&fa);
        return res;
    }
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (kp_str_starts(url, "/analytics/"))
        return handle_analytics(s, c, url, rc, rec);
    if (kp_str_starts(url, "/api_v3/") && !mbe_api_is_resource(s, url, get)) {
        if (rc->too_large || (strcmp(method, "POST") != 0 && !get)) {
            const char *msg =
                rc->too_large ? "request body too large\n" : "the API takes POST requests\n";
            int status = rc->too_large ? 413 : 405;
            KP_LOG_W(s->log, "mbe", "%s %s: %s (HTTP %d)", method, url,
                     rc->too_large ? "body over the limit" : "not a POST or GET", status);
            int fired = fault_decide(s, rec, &fa);
            enum MHD_Result res = finish(s, c, rec, fired ? &fa : NULL, status, "text/plain", msg,
                                         strlen(msg), true, NULL, NULL);
            kp_fault_action_clear(&fa);
            return res;
        }
        return handle_api(s, c, url, rc, rec);
    }
    mbe_reply r = {0};
    if (get && kp_str_starts(url, "/api_v3/")) {
        mbe_api_get(s, url, &r, rec);
    } else if (get && kp_str_starts(url, "/ads/")) {
        r.range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE);
        mbe_ads_get(s, url, &r, rec);
    } else if (!get) {
        r.status = 405;
        r.content_type = "text/plain";
        r.body = kp_strdup("405 Method Not Allowed\n");
        r.len = strlen(r.body);
    } else {
        r.range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE);
        mbe_cdn_get(s, url, &r, rec);
    }
    int fired = fault_decide(s, rec, &fa);
    enum MHD_Result res = finish(s, c, rec, fired ? &fa : NULL, r.status, r.content_type,
                                 r.body ? r.body : "", r.len, r.persistent, &r, NULL);
    kp_fault_action_clear(&fa);
    if (!r.persistent)
        free(r.body);
    free(r.location);
    (void)version;
    return res;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    req_ctx *rc = *con_cls;
    if (rc) {
        kp_buf_free(&rc->body);
        free(rc);
    }
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    mbe_server *s = cls;
    kp_vlogf(s->log, KP_LOG_DEBUG, "mbe-http", fmt, ap);
}

/* ---- entries ---- */

static void flavor_id(const char *entry, const char *rendition, char out[24])
{
    char key[256];
    snprintf(key, sizeof(key), "%s/%s", entry, rendition);
    uint64_t h = kp_fnv1a(key, strlen(key));
    static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    size_t plen = strcspn(entry, "_");
    if (plen > 8)
        plen = 8;
    memcpy(out, entry, plen);
    out[plen] = '_';
    for (int i = 0; i < 8; i++) {
        out[plen + 1 + i] = alphabet[h % 36];
        h /= 36;
    }
    out[plen + 9] = '\0';
}

static void free_entries(mbe_server *s)
{
    for (size_t i = 0; i < s->n_entries; i++) {
        mbe_ientry *e = &s->entries[i];
        free(e->id);
        free(e->name);
        free(e->reference_id);
        free(e->status);
        free(e->block);
        free(e->flavors);
        mbe_entry_extras_free(e);
    }
    free(s->entries);
    s->entries = NULL;
}

static int prepare_entry(mbe_server *s, const mbe_entry *in, mbe_ientry *e)
{
    e->id = kp_strdup(in->id);
    e->name = kp_strdup(in->name ? in->name : in->id);
    e->reference_id = kp_strdup(in->reference_id);
    e->status = kp_strdup(in->status ? in->status : "ready");
    e->block = kp_strdup(in->block);
    e->duration = in->duration;
    if (!e->id || !e->name || !e->status || in->n_formats > 3 || in->n_renditions == 0)
        return KP_EINVAL;
    for (size_t f = 0; f < in->n_formats; f++)
        e->formats[f] = in->formats[f];
    e->n_formats = in->n_formats;
    e->flavors = calloc(in->n_renditions, sizeof(*e->flavors));
    if (!e->flavors)
        return KP_ENOMEM;
    mbe_rendition *rs = calloc(in->n_renditions, sizeof(*rs));
    if (!rs)
        return KP_ENOMEM;
    int rc = KP_OK;
    for (size_t i = 0; i < in->n_renditions && rc == KP_OK; i++) {
        rc = mbe_rendition_parse(in->renditions[i], &rs[i]);
        if (rc != KP_OK) {
            KP_LOG_E(s->log, "mbe", "entry %s: bad rendition '%s'", in->id, in->renditions[i]);
            break;
        }
        mbe_flavor *fl = &e->flavors[i];
        flavor_id(in->id, rs[i].name, fl->id);
        fl->r = rs[i];
        fl->index = (int)i;
        fl->bitrate_kbps = rs[i].video_kbps + 64;
    }
    e->n_flavors = in->n_renditions;
    if (rc == KP_OK)
        rc = mbe_entry_extras(s, in, e);
    bool playable = strcmp(e->status, "ready") == 0 && !e->block && e->n_formats > 0;
    if (rc == KP_OK && playable) {
        /* load only the packagings the entry offers (and HLS, whose bandwidths the flavor
         * bitrates come from); MBE_FORMAT_* and MBE_PACKAGE_* bits are the same */
        unsigned want = MBE_PACKAGE_HLS;
        for (size_t f = 0; f < e->n_formats; f++)
            want |= (unsigned)e->formats[f];
        if (e->hls_segments == MBE_HLS_FMP4) /* fMP4 HLS is the DASH packaging's */
            want |= MBE_PACKAGE_DASH;
        mbe_media_spec spec = {.duration_s = in->duration,
                               .renditions = rs,
                               .n_renditions = in->n_renditions,
                               .segment_s = 2,
                               .packagings = want};
        rc = mbe_media_get(s->media, &spec, &e->media);
        if (rc == KP_OK)
            for (size_t i = 0; i < e->n_flavors; i++)
                e->flavors[i].bitrate_kbps = (int)(e->media->hls[i].average_bandwidth / 1000);
    }
    free(rs);
    return rc;
}

/* A listening TCP socket on 127.0.0.1:port (0: an ephemeral port), its port in *bound;
 * -1 with errno set on failure. */
static int listen_loopback(uint16_t port, uint16_t *bound)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, 128) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    *bound = ntohs(addr.sin_port);
    return fd;
}

/* Requests are served by one thread per core (2 to 8): a real player's parallel segment
 * fetches, or a load test, are not queued behind one another. Every handler is thread-safe
 * (the server's state is guarded by its lock or immutable once built). */
static unsigned pool_size(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 2 ? 2u : n > 8 ? 8u : (unsigned)n;
}

int mbe_server_start(const mbe_config *cfg, mbe_server **out)
{
    *out = NULL;
    mbe_server *s = calloc(1, sizeof(*s));
    if (!s)
        return KP_ENOMEM;
    pthread_mutex_init(&s->lock, NULL);
    s->kind = cfg->kind;
    s->ott_bare_item_errors = cfg->ott_bare_item_errors != 0;
    s->analytics_down = cfg->analytics_down;
    s->analytics_status = cfg->analytics_status;
    s->analytics_no_views = cfg->analytics_no_views;
    s->partner_id = cfg->partner_id;
    s->epoch = cfg->epoch ? cfg->epoch : 1767225600;
    s->log = cfg->log;
    s->secret = cfg->admin_secret ? kp_strdup(cfg->admin_secret)
                                  : kp_asprintf("kpsim-admin-secret-%lld", cfg->partner_id);
    char udrm[64];
    kp_udrm_default_secret(cfg->partner_id, udrm, sizeof(udrm));
    s->udrm_secret = kp_strdup(cfg->udrm_secret ? cfg->udrm_secret : udrm);
    s->license_url = kp_strdup(cfg->license_url);
    s->faults = cfg->faults;
    s->fault_real_time = cfg->fault_real_time != 0;
    s->fault_admin = cfg->fault_admin != 0;
    atomic_init(&s->stopping, false);
    s->media = cfg->media;
    if (!s->media) {
        s->media = mbe_media_cache_new(NULL, cfg->log);
        s->own_media = true;
    }
    int rc = (s->secret && s->udrm_secret && s->media && (!cfg->license_url || s->license_url))
                 ? KP_OK
                 : KP_ENOMEM;
    if (rc == KP_OK) {
        s->entries = calloc(cfg->n_entries ? cfg->n_entries : 1, sizeof(*s->entries));
        rc = s->entries ? KP_OK : KP_ENOMEM;
    }
    for (size_t i = 0; rc == KP_OK && i < cfg->n_entries; i++) {
        s->n_entries = i + 1;
        rc = prepare_entry(s, &cfg->entries[i], &s->entries[i]);
        s->entries[i].ott_file_base = 700000 + 10 * (long long)i;
    }
    if (rc == KP_OK)
        rc = mbe_playlists_init(s, cfg);
    if (rc == KP_OK) {
        /* bound here rather than by libmicrohttpd, so the URL (and its port) is known before
         * the first request can arrive on a worker thread */
        int fd = listen_loopback(cfg->port, &s->port);
        if (fd < 0) {
            KP_LOG_E(s->log, "mbe", "cannot listen on 127.0.0.1:%u: %s", cfg->port,
                     strerror(errno));
            rc = KP_ESERVER;
        } else {
            snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%u", s->port);
            /* the ad documents hold absolute URLs: written once the port is known */
            rc = mbe_ads_init(s, cfg->ads);
        }
        if (fd >= 0 && rc != KP_OK) {
            close(fd);
        } else if (fd >= 0) {
            s->daemon = MHD_start_daemon(
                MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, handler, s,
                MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED, completed, s,
                MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
                MHD_OPTION_THREAD_POOL_SIZE, pool_size(), MHD_OPTION_END);
            if (!s->daemon) {
                close(fd);
                KP_LOG_E(s->log, "mbe", "cannot start the HTTP server on %s", s->url);
                rc = KP_ESERVER;
            }
        }
    }
    if (rc == KP_OK) {
        KP_LOG_I(s->log, "mbe", "mock back-end at %s (partner %lld, %zu entries)", s->url,
                 s->partner_id, s->n_entries);
        *out = s;
        return KP_OK;
    }
    mbe_server_stop(s);
    return rc;
}

void mbe_server_stop(mbe_server *s)
{
    if (!s)
        return;
    atomic_store(&s->stopping, true);
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    free_entries(s);
    mbe_playlists_free(s);
    mbe_ads_free(s);
    if (s->own_media)
        mbe_media_cache_free(s->media);
    clear_overrides(s);
    mbe_journal_free(s);
    parsed_bodies_free(s);
    free(s->secret);
    free(s->udrm_secret);
    free(s->license_url);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

const char *mbe_server_url(const mbe_server *s)
{
    return s->url;
}

uint16_t mbe_server_port(const mbe_server *s)
{
    return s->port;
}
