/* fault.c: fault rules: parsing, matching, counting, deterministic probability (kp/fault.h). */
#include "kp/fault.h"

#include "kp/err.h"

#include <ctype.h>
#include <fnmatch.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const KIND_NAMES[KP_FAULT_N_KINDS + 1] = {
    "status",    "api_error",         "delay",   "reset",  "empty", "truncate",
    "malformed", "random_then_close", "dribble", "timeout"};

static const char *const SERVERS[] = {"api", "cdn", "drm", "ads", "analytics", NULL};
static const char *const RULE_KEYS[] = {"server",      "match", "reply", "times", "after",
                                        "probability", "seed",  "when",  NULL};
/* the match keys each server knows (same order as SERVERS) */
static const char *const MATCH_API[] = {"path", "method", "service", "action", NULL};
static const char *const MATCH_CDN[] = {"path", "method", "segment", "rendition",
                                        "kind", "entry",  NULL};
static const char *const MATCH_DRM[] = {"path", "method", "scheme", "entry", NULL};
static const char *const MATCH_HTTP[] = {"path", "method", NULL};
static const char *const *const MATCH_KEYS[] = {MATCH_API, MATCH_CDN, MATCH_DRM, MATCH_HTTP,
                                                MATCH_HTTP};
static const char *const SCHEMES[] = {"clearkey", "widevine", "playready", "fairplay", NULL};
static const char *const METHODS[] = {"GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", NULL};
static const char *const WHEN_KEYS[] = {"event", "nth", NULL};

const char *kp_fault_kind_name(kp_fault_kind k)
{
    return (unsigned)k < KP_FAULT_N_KINDS ? KIND_NAMES[k] : "?";
}

struct kp_fault_rule {
    int id;
    char *server;
    /* match */
    char *path, *method, *service, *action, *rendition, *kind, *entry, *scheme;
    long long segment; /* -1: any */
    /* reply */
    kp_fault_action reply;
    /* limits */
    long long times, after;
    double probability;
    uint64_t seed;
    char *when_event;
    long long when_nth;
    /* state */
    long long seen_events; /* of when_event */
    unsigned long long matched, fired;
    json_t *source; /* the rule as given */
};

struct kp_fault_set {
    pthread_mutex_t lock;
    kp_fault_rule **rules;
    size_t n, cap;
    int next_id;
};

/* ---- parsing ---- */

typedef struct perr {
    char *err;
    size_t errlen;
    char *where;
    size_t wherelen;
} perr;

static int bad(perr *p, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad(perr *p, const char *where, const char *fmt, ...)
{
    if (p->err && p->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err, p->errlen, fmt, ap);
        va_end(ap);
    }
    if (p->where && p->wherelen)
        snprintf(p->where, p->wherelen, "%s", where);
    return KP_EPARSE;
}

static int in_list(const char *s, const char *const *list)
{
    for (int i = 0; list[i]; i++)
        if (strcmp(s, list[i]) == 0)
            return i;
    return -1;
}

static void join(char *buf, size_t n, const char *const *list)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; list[i] && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%s", i ? ", " : "", list[i]);
}

static const char *jtype(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "a mapping";
    case JSON_ARRAY:
        return "a list";
    case JSON_STRING:
        return "text";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "true/false";
    default:
        return "nothing";
    }
}

int kp_fault_parse_duration(const char *s, long long *us)
{
    if (!s || !*s)
        return KP_EPARSE;
    char *end = NULL;
    if (!isdigit((unsigned char)s[0]) && s[0] != '.')
        return KP_EPARSE;
    double v = strtod(s, &end);
    if (end == s || !isfinite(v) || v < 0)
        return KP_EPARSE;
    double mult;
    if (!*end || strcmp(end, "s") == 0)
        mult = 1e6;
    else if (strcmp(end, "ms") == 0)
        mult = 1e3;
    else if (strcmp(end, "us") == 0)
        mult = 1;
    else if (strcmp(end, "m") == 0)
        mult = 60e6;
    else if (strcmp(end, "h") == 0)
        mult = 3600e6;
    else
        return KP_EPARSE;
    for (const char *q = s; q < end; q++)
        if (*q == 'e' || *q == 'E')
            return KP_EPARSE;
    if (!(v * mult < 9.0e18))
        return KP_EPARSE;
    *us = llround(v * mult);
    return KP_OK;
}

/* A duration value: a number of seconds or a duration text. */
static int get_duration(perr *p, const json_t *v, const char *where, bool zero_ok, long long *out)
{
    long long us = -1;
    if (json_is_number(v)) {
        double d = json_number_value(v);
        if (d >= 0 && d * 1e6 < 9.0e18)
            us = llround(d * 1e6);
    } else if (json_is_string(v)) {
        if (kp_fault_parse_duration(json_string_value(v), &us) != KP_OK)
            us = -1;
    }
    if (us < 0)
        return bad(p, where,
                   "expected a duration such as 1.5s, 500ms, 2m or a number of seconds, got %s",
                   json_is_string(v) ? json_string_value(v) : jtype(v));
    if (!zero_ok && us == 0)
        return bad(p, where, "must be greater than 0");
    *out = us;
    return KP_OK;
}

static int get_int(perr *p, const json_t *v, const char *where, long long lo, long long *out)
{
    if (!json_is_integer(v))
        return bad(p, where, "expected a whole number, got %s", jtype(v));
    long long x = (long long)json_integer_value(v);
    if (x < lo)
        return lo == 0 ? bad(p, where, "must not be negative, got %lld", x)
                       : bad(p, where, "must be at least %lld, got %lld", lo, x);
    *out = x;
    return KP_OK;
}

static int get_str(perr *p, const json_t *v, const char *where, char **out)
{
    if (!json_is_string(v) || !json_string_length(v))
        return bad(p, where, "expected non-empty text, got %s", jtype(v));
    *out = kp_strdup(json_string_value(v));
    return *out ? KP_OK : KP_ENOMEM;
}

/* A path glob: starts with '/' or '*', brackets closed, no trailing backslash. */
static int check_glob(perr *p, const char *g)
{
    if (g[0] != '/' && g[0] != '*')
        return bad(p, "match.path", "a path glob starts with / or *, got '%s'", g);
    for (const char *q = g; *q; q++) {
        if (*q == '\\') {
            if (!q[1])
                return bad(p, "match.path", "the glob '%s' ends with a lone backslash", g);
            q++;
        } else if (*q == '[') {
            const char *close = strchr(q + 1 + (q[1] == ']'), ']');
            if (!close)
                return bad(p, "match.path", "the glob '%s' has a '[' without its ']'", g);
            q = close;
        }
    }
    return KP_OK;
}

static int parse_match(perr *p, kp_fault_rule *r, const json_t *m, int server)
{
    if (!json_is_object(m))
        return bad(p, "match", "expected a mapping, got %s", jtype(m));
    const char *key;
    const json_t *v;
    char where[64], list[160];
    json_object_foreach((json_t *)m, key, v)
    {
        snprintf(where, sizeof(where), "match.%s", key);
        if (in_list(key, MATCH_KEYS[server]) < 0) {
            join(list, sizeof(list), MATCH_KEYS[server]);
            return bad(p, where, "unknown match key '%s' for server %s (known: %s)", key,
                       SERVERS[server], list);
        }
        int rc;
        if (strcmp(key, "segment") == 0) {
            rc = get_int(p, v, where, 0, &r->segment);
        } else {
            char **slot = strcmp(key, "path") == 0        ? &r->path
                          : strcmp(key, "method") == 0    ? &r->method
                          : strcmp(key, "service") == 0   ? &r->service
                          : strcmp(key, "action") == 0    ? &r->action
                          : strcmp(key, "rendition") == 0 ? &r->rendition
                          : strcmp(key, "kind") == 0      ? &r->kind
                          : strcmp(key, "entry") == 0     ? &r->entry
                                                          : &r->scheme;
            rc = get_str(p, v, where, slot);
        }
        if (rc != KP_OK)
            return rc;
    }
    if (r->path && check_glob(p, r->path) != KP_OK)
        return KP_EPARSE;
    if (r->method && in_list(r->method, METHODS) < 0) {
        join(list, sizeof(list), METHODS);
        return bad(p, "match.method", "unknown method '%s' (known: %s)", r->method, list);
    }
    if (r->scheme && in_list(r->scheme, SCHEMES) < 0) {
        join(list, sizeof(list), SCHEMES);
        return bad(p, "match.scheme", "unknown license scheme '%s' (known: %s)", r->scheme, list);
    }
    return KP_OK;
}

/* A kind that takes no argument: given as the reply's text, or as {kind: true}. */
static bool no_arg_kind(kp_fault_kind k)
{
    return k == KP_FAULT_RESET || k == KP_FAULT_EMPTY || k == KP_FAULT_MALFORMED ||
           k == KP_FAULT_RANDOM_THEN_CLOSE || k == KP_FAULT_TIMEOUT;
}

static int kind_of(const char *name)
{
    for (int k = 0; k < KP_FAULT_N_KINDS; k++)
        if (strcmp(name, KIND_NAMES[k]) == 0)
            return k;
    return -1;
}

static int parse_reply(perr *p, kp_fault_rule *r, const json_t *v, int server)
{
    kp_fault_action *a = &r->reply;
    char list[200];
    join(list, sizeof(list), KIND_NAMES);
    if (json_is_string(v)) {
        int k = kind_of(json_string_value(v));
        if (k < 0)
            return bad(p, "reply", "unknown reply kind '%s' (known: %s)", json_string_value(v),
                       list);
        if (!no_arg_kind((kp_fault_kind)k))
            return bad(p, "reply", "reply %s takes a value (write {%s: ...})", KIND_NAMES[k],
                       KIND_NAMES[k]);
        a->kind = (kp_fault_kind)k;
        return KP_OK;
    }
    if (!json_is_object(v))
        return bad(p, "reply", "expected a reply kind (%s) or a mapping, got %s", list, jtype(v));
    int found = -1;
    const char *key;
    const json_t *x;
    json_object_foreach((json_t *)v, key, x)
    {
        char where[64];
        snprintf(where, sizeof(where), "reply.%s", key);
        if (strcmp(key, "body") == 0)
            continue;
        int k = kind_of(key);
        if (k < 0)
            return bad(p, where, "unknown reply kind '%s' (known: %s)", key, list);
        if (found >= 0)
            return bad(p, where, "a reply has one kind: %s and %s given", KIND_NAMES[found], key);
        found = k;
    }
    if (found < 0)
        return bad(p, "reply", "no reply kind given (one of %s)", list);
    a->kind = (kp_fault_kind)found;
    char where[64];
    snprintf(where, sizeof(where), "reply.%s", KIND_NAMES[found]);
    const json_t *arg = json_object_get(v, KIND_NAMES[found]);
    const json_t *body = json_object_get(v, "body");
    if (body && a->kind != KP_FAULT_STATUS)
        return bad(p, "reply.body", "body goes with status only");
    int rc = KP_OK;
    long long n = 0;
    switch (a->kind) {
    case KP_FAULT_STATUS:
        if ((rc = get_int(p, arg, where, 100, &n)) != KP_OK)
            return rc;
        if (n > 599)
            return bad(p, where, "an HTTP status is 100..599, got %lld", n);
        a->status = (int)n;
        if (body) {
            if (!json_is_string(body))
                return bad(p, "reply.body", "expected text, got %s", jtype(body));
            a->body_len = json_string_length(body);
            a->body = kp_strndup(json_string_value(body), a->body_len);
            if (!a->body)
                return KP_ENOMEM;
        }
        return KP_OK;
    case KP_FAULT_API_ERROR: {
        if (server != 0)
            return bad(p, where, "api_error is a reply of the api server, not of %s",
                       SERVERS[server]);
        if (!json_is_object(arg))
            return bad(p, where, "expected {code, message}, got %s", jtype(arg));
        json_object_foreach((json_t *)arg, key, x)
        {
            if (strcmp(key, "code") != 0 && strcmp(key, "message") != 0) {
                char w2[80];
                snprintf(w2, sizeof(w2), "%s.%s", where, key);
                return bad(p, w2, "unknown key '%s' in api_error (known: code, message)", key);
            }
        }
        const json_t *code = json_object_get(arg, "code");
        if (!code)
            return bad(p, where, "missing required key 'code' in api_error");
        char w2[80];
        snprintf(w2, sizeof(w2), "%s.code", where);
        if ((rc = get_str(p, code, w2, &a->code)) != KP_OK)
            return rc;
        const json_t *msg = json_object_get(arg, "message");
        snprintf(w2, sizeof(w2), "%s.message", where);
        if (msg && !json_is_string(msg))
            return bad(p, w2, "expected text, got %s", jtype(msg));
        a->message = kp_strdup(msg ? json_string_value(msg) : a->code);
        return a->message ? KP_OK : KP_ENOMEM;
    }
    case KP_FAULT_DELAY:
        return get_duration(p, arg, where, false, &a->delay_us);
    case KP_FAULT_TRUNCATE:
        if ((rc = get_int(p, arg, where, 0, &n)) != KP_OK)
            return rc;
        a->bytes = (size_t)n;
        return KP_OK;
    case KP_FAULT_DRIBBLE: {
        if (!json_is_object(arg))
            return bad(p, where, "expected {bytes, every}, got %s", jtype(arg));
        json_object_foreach((json_t *)arg, key, x)
        {
            if (strcmp(key, "bytes") != 0 && strcmp(key, "every") != 0) {
                char w2[80];
                snprintf(w2, sizeof(w2), "%s.%s", where, key);
                return bad(p, w2, "unknown key '%s' in dribble (known: bytes, every)", key);
            }
        }
        const json_t *b = json_object_get(arg, "bytes"), *e = json_object_get(arg, "every");
        if (!b || !e)
            return bad(p, where, "missing required key '%s' in dribble", b ? "every" : "bytes");
        char w2[80];
        snprintf(w2, sizeof(w2), "%s.bytes", where);
        if ((rc = get_int(p, b, w2, 1, &n)) != KP_OK)
            return rc;
        a->bytes = (size_t)n;
        snprintf(w2, sizeof(w2), "%s.every", where);
        return get_duration(p, e, w2, false, &a->every_us);
    }
    case KP_FAULT_RESET: {
        if (json_is_true(arg))
            return KP_OK;
        if (!json_is_object(arg))
            return bad(p, where, "expected true or {after: BYTES}, got %s", jtype(arg));
        json_object_foreach((json_t *)arg, key, x)
        {
            if (strcmp(key, "after") != 0) {
                char w2[80];
                snprintf(w2, sizeof(w2), "%s.%s", where, key);
                return bad(p, w2, "unknown key '%s' in reset (known: after)", key);
            }
        }
        const json_t *after = json_object_get(arg, "after");
        if (!after)
            return bad(p, where, "missing required key 'after' in reset");
        char w2[80];
        snprintf(w2, sizeof(w2), "%s.after", where);
        if ((rc = get_int(p, after, w2, 0, &n)) != KP_OK)
            return rc;
        a->bytes = (size_t)n;
        a->mid_body = true;
        return KP_OK;
    }
    default: /* no argument: true */
        if (!json_is_true(arg))
            return bad(p, where, "%s takes no value: write '%s' or {%s: true}", KIND_NAMES[found],
                       KIND_NAMES[found], KIND_NAMES[found]);
        return KP_OK;
    }
}

int kp_fault_rule_parse(const json_t *j, bool (*known_event)(const char *name), kp_fault_rule **out,
                        char *err, size_t errlen, char *where, size_t wherelen)
{
    *out = NULL;
    perr p = {err, errlen, where, wherelen};
    if (where && wherelen)
        where[0] = '\0';
    if (!json_is_object(j))
        return bad(&p, "", "expected a mapping {server, match, reply, ...}, got %s", jtype(j));
    const char *key;
    const json_t *v;
    char list[200];
    json_object_foreach((json_t *)j, key, v)
    {
        if (in_list(key, RULE_KEYS) < 0) {
            join(list, sizeof(list), RULE_KEYS);
            return bad(&p, key, "unknown key '%s' in a fault rule (known: %s)", key, list);
        }
    }
    const json_t *sv = json_object_get(j, "server");
    if (!sv)
        return bad(&p, "", "missing required key 'server' in a fault rule");
    join(list, sizeof(list), SERVERS);
    int server = json_is_string(sv) ? in_list(json_string_value(sv), SERVERS) : -1;
    if (server < 0)
        return bad(&p, "server", "unknown server '%s' (known: %s)",
                   json_is_string(sv) ? json_string_value(sv) : jtype(sv), list);
    if (!json_object_get(j, "reply"))
        return bad(&p, "", "missing required key 'reply' in a fault rule");
    kp_fault_rule *r = calloc(1, sizeof(*r));
    if (!r)
        return KP_ENOMEM;
    r->segment = -1;
    r->probability = 1.0;
    r->when_nth = 1;
    r->reply.rule = -1;
    r->server = kp_strdup(SERVERS[server]);
    int rc = r->server ? KP_OK : KP_ENOMEM;
    const json_t *m = json_object_get(j, "match");
    if (rc == KP_OK && m)
        rc = parse_match(&p, r, m, server);
    if (rc == KP_OK)
        rc = parse_reply(&p, r, json_object_get(j, "reply"), server);
    if (rc == KP_OK && (v = json_object_get(j, "times")))
        rc = get_int(&p, v, "times", 0, &r->times);
    if (rc == KP_OK && (v = json_object_get(j, "after")))
        rc = get_int(&p, v, "after", 0, &r->after);
    if (rc == KP_OK && (v = json_object_get(j, "probability"))) {
        if (!json_is_number(v))
            rc = bad(&p, "probability", "expected a number between 0 and 1, got %s", jtype(v));
        else if (!(json_number_value(v) >= 0 && json_number_value(v) <= 1))
            rc = bad(&p, "probability", "must be between 0 and 1, got %g", json_number_value(v));
        else
            r->probability = json_number_value(v);
    }
    if (rc == KP_OK && (v = json_object_get(j, "seed"))) {
        long long seed = 0;
        rc = get_int(&p, v, "seed", 0, &seed);
        r->seed = (uint64_t)seed;
    }
    if (rc == KP_OK && (v = json_object_get(j, "when"))) {
        if (!json_is_object(v)) {
            rc = bad(&p, "when", "expected {event, nth}, got %s", jtype(v));
        } else {
            json_object_foreach((json_t *)v, key, m)
            {
                if (rc == KP_OK && in_list(key, WHEN_KEYS) < 0) {
                    char w2[64];
                    snprintf(w2, sizeof(w2), "when.%s", key);
                    rc = bad(&p, w2, "unknown key '%s' in when (known: event, nth)", key);
                }
            }
            const json_t *ev = json_object_get(v, "event");
            if (rc == KP_OK && !ev)
                rc = bad(&p, "when", "missing required key 'event' in when");
            if (rc == KP_OK)
                rc = get_str(&p, ev, "when.event", &r->when_event);
            if (rc == KP_OK && known_event && !known_event(r->when_event))
                rc = bad(&p, "when.event", "unknown player event '%s'", r->when_event);
            if (rc == KP_OK && (m = json_object_get(v, "nth")))
                rc = get_int(&p, m, "when.nth", 1, &r->when_nth);
        }
    }
    if (rc == KP_OK) {
        r->source = json_deep_copy(j);
        if (!r->source)
            rc = KP_ENOMEM;
        r->reply.seed = r->seed;
    }
    if (rc == KP_OK && ((r->service && !(r->reply.match_service = kp_strdup(r->service))) ||
                        (r->action && !(r->reply.match_action = kp_strdup(r->action)))))
        rc = KP_ENOMEM;
    if (rc != KP_OK) {
        kp_fault_rule_free(r);
        return rc;
    }
    *out = r;
    return KP_OK;
}

void kp_fault_action_clear(kp_fault_action *a)
{
    if (!a)
        return;
    free(a->body);
    free(a->code);
    free(a->message);
    free(a->match_service);
    free(a->match_action);
    memset(a, 0, sizeof(*a));
}

void kp_fault_rule_free(kp_fault_rule *r)
{
    if (!r)
        return;
    free(r->server);
    free(r->path);
    free(r->method);
    free(r->service);
    free(r->action);
    free(r->rendition);
    free(r->kind);
    free(r->entry);
    free(r->scheme);
    free(r->when_event);
    kp_fault_action_clear(&r->reply);
    json_decref(r->source);
    free(r);
}

const char *kp_fault_rule_server(const kp_fault_rule *r)
{
    return r->server;
}

json_t *kp_fault_rule_json(const kp_fault_rule *r)
{
    json_t *j = json_deep_copy(r->source);
    if (!j)
        return NULL;
    json_object_set_new(j, "id", json_integer(r->id));
    json_object_set_new(j, "matched", json_integer((json_int_t)r->matched));
    json_object_set_new(j, "fired", json_integer((json_int_t)r->fired));
    json_object_set_new(j, "armed", json_boolean(!r->when_event || r->seen_events >= r->when_nth));
    return j;
}

/* ---- the set ---- */

kp_fault_set *kp_fault_set_new(void)
{
    kp_fault_set *s = calloc(1, sizeof(*s));
    if (s)
        pthread_mutex_init(&s->lock, NULL);
    return s;
}

void kp_fault_set_free(kp_fault_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        kp_fault_rule_free(s->rules[i]);
    free(s->rules);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int kp_fault_set_add(kp_fault_set *s, kp_fault_rule *r)
{
    pthread_mutex_lock(&s->lock);
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        kp_fault_rule **g = realloc(s->rules, cap * sizeof(*g));
        if (!g) {
            pthread_mutex_unlock(&s->lock);
            kp_fault_rule_free(r);
            return KP_ENOMEM;
        }
        s->rules = g;
        s->cap = cap;
    }
    r->id = s->next_id++;
    r->reply.rule = r->id;
    s->rules[s->n++] = r;
    int id = r->id;
    pthread_mutex_unlock(&s->lock);
    return id;
}

int kp_fault_set_remove(kp_fault_set *s, int id)
{
    int rc = KP_ENOENT;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n;) {
        if (id < 0 || s->rules[i]->id == id) {
            kp_fault_rule_free(s->rules[i]);
            memmove(&s->rules[i], &s->rules[i + 1], (s->n - i - 1) * sizeof(*s->rules));
            s->n--;
            rc = KP_OK;
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return id < 0 ? KP_OK : rc;
}

json_t *kp_fault_set_json(kp_fault_set *s)
{
    json_t *a = json_array();
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; a && i < s->n; i++)
        json_array_append_new(a, kp_fault_rule_json(s->rules[i]));
    pthread_mutex_unlock(&s->lock);
    return a;
}

size_t kp_fault_set_count(kp_fault_set *s)
{
    pthread_mutex_lock(&s->lock);
    size_t n = s->n;
    pthread_mutex_unlock(&s->lock);
    return n;
}

void kp_fault_set_event(kp_fault_set *s, const char *event)
{
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n; i++)
        if (s->rules[i]->when_event && strcmp(s->rules[i]->when_event, event) == 0)
            s->rules[i]->seen_events++;
    pthread_mutex_unlock(&s->lock);
}

static bool str_eq(const char *want, const char *have)
{
    return !want || (have && strcmp(want, have) == 0);
}

static bool rule_matches(const kp_fault_rule *r, const kp_fault_req *q)
{
    if (!q->server || strcmp(r->server, q->server) != 0)
        return false;
    if (r->method && (!q->method || strcasecmp(r->method, q->method) != 0))
        return false;
    if (r->path && (!q->path || fnmatch(r->path, q->path, 0) != 0))
        return false;
    if (r->service || r->action) {
        bool any = false;
        for (size_t i = 0; i < q->n_calls && !any; i++)
            any = str_eq(r->service, q->services[i]) && str_eq(r->action, q->actions[i]);
        if (!any)
            return false;
    }
    if (r->segment >= 0 && q->segment != r->segment)
        return false;
    return str_eq(r->rendition, q->rendition) && str_eq(r->kind, q->kind) &&
           str_eq(r->entry, q->entry) && str_eq(r->scheme, q->scheme);
}

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static int copy_action(const kp_fault_action *in, kp_fault_action *out)
{
    *out = *in;
    out->body = NULL;
    out->code = out->message = out->match_service = out->match_action = NULL;
    if (in->body && !(out->body = kp_strndup(in->body, in->body_len)))
        goto oom;
    if (in->code && !(out->code = kp_strdup(in->code)))
        goto oom;
    if (in->message && !(out->message = kp_strdup(in->message)))
        goto oom;
    if (in->match_service && !(out->match_service = kp_strdup(in->match_service)))
        goto oom;
    if (in->match_action && !(out->match_action = kp_strdup(in->match_action)))
        goto oom;
    return KP_OK;
oom:
    kp_fault_action_clear(out);
    return KP_ENOMEM;
}

int kp_fault_decide(kp_fault_set *s, const kp_fault_req *req, kp_fault_action *out)
{
    memset(out, 0, sizeof(*out));
    if (!s)
        return 0;
    int fired = 0;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n && !fired; i++) {
        kp_fault_rule *r = s->rules[i];
        if (r->when_event && r->seen_events < r->when_nth)
            continue;
        if (!rule_matches(r, req))
            continue;
        unsigned long long n = r->matched++;
        if (n < (unsigned long long)r->after)
            continue;
        if (r->times > 0 && r->fired >= (unsigned long long)r->times)
            continue;
        if (r->probability < 1.0) {
            uint64_t h = mix64(r->seed ^ mix64(n + 1));
            double u = (double)(h >> 11) / 9007199254740992.0; /* [0, 1) */
            if (!(u < r->probability))
                continue;
        }
        r->fired++;
        if (copy_action(&r->reply, out) == KP_OK) {
            out->seed = mix64(r->seed ^ (n + 1));
            fired = 1;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return fired;
}

/* ---- broken bodies ---- */

void kp_fault_random_bytes(uint64_t seed, uint8_t *out, size_t n)
{
    uint64_t x = seed;
    for (size_t i = 0; i < n; i += 8) {
        x = mix64(x);
        for (size_t k = 0; k < 8 && i + k < n; k++)
            out[i + k] = (uint8_t)(x >> (8 * k));
    }
}

int kp_fault_malformed_body(const char *content_type, const char *path, size_t len, uint64_t seed,
                            kp_buf *out)
{
    const char *t = content_type ? content_type : "";
    const char *pth = path ? path : "";
    const char *text = NULL;
    if (strstr(t, "json"))
        text = "{\"objectType\":\"KalturaAPIException\",\"code\":\"MALFORMED\",\"message\":\"the "
               "answer stops here";
    else if (strstr(t, "mpegurl") || kp_str_ends(pth, ".m3u8"))
        text = "#EXT-KPSIM-NOT-A-PLAYLIST\n#EXTINF:not-a-number,\n<html>\n";
    else if (strstr(t, "xml") || kp_str_ends(pth, ".mpd"))
        text = "<?xml version=\"1.0\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\"><Period "
               "id=\"0\"><AdaptationSet mimeType=\"video/mp4\"><Representation";
    else if (strstr(t, "text/"))
        text = "\x01\x02 kpsim malformed text \xff\xfe";
    if (text)
        return kp_buf_puts(out, text);
    /* media or a binary license: garbage of the promised length (at least 188 bytes: one TS
     * packet without its sync byte) */
    size_t n = len < 188 ? 188 : len;
    if (kp_buf_reserve(out, n) != KP_OK)
        return KP_ENOMEM;
    uint8_t *at = (uint8_t *)out->data + out->len;
    kp_fault_random_bytes(seed ^ 0x6d616c66ULL, at, n);
    for (size_t i = 0; i < n; i += 188)
        if (at[i] == 0x47)
            at[i] = 0x46;
    if (n >= 8)
        memcpy(at + 4, "junk", 4); /* never an ISO BMFF box type */
    out->len += n;
    out->data[out->len] = '\0';
    return KP_OK;
}
