/* multireq.c: the multirequest executor and its result-reference resolver. */
#include "multireq.h"

#include "kp/buf.h"
#include "kp/jsonu.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int mbe_is_exception(const json_t *v)
{
    const char *t = kp_json_str(v, "objectType", NULL);
    if (t && strcmp(t, "KalturaAPIException") == 0)
        return 1;
    t = kp_json_str(v, "error.objectType", NULL);
    return t && strcmp(t, "KalturaAPIException") == 0;
}

/* Walks "objects:0:id" through objects and arrays; renders the value as PHP would when it is
 * put into a string. Returns a malloc'd string ("" when missing). */
static char *value_at(const json_t *root, const char *path)
{
    const json_t *cur = root;
    char *copy = kp_strdup(path ? path : "");
    char *save = NULL;
    for (char *tok = copy && *copy ? strtok_r(copy, ":", &save) : NULL; cur && tok;
         tok = strtok_r(NULL, ":", &save)) {
        if (json_is_object(cur)) {
            cur = json_object_get(cur, tok);
        } else if (json_is_array(cur)) {
            char *end;
            long i = strtol(tok, &end, 10);
            cur = (*end || i < 0) ? NULL : json_array_get(cur, (size_t)i);
        } else {
            cur = NULL;
        }
    }
    free(copy);
    if (!cur)
        return kp_strdup("");
    switch (json_typeof(cur)) {
    case JSON_STRING:
        return kp_strdup(json_string_value(cur));
    case JSON_INTEGER:
        return kp_asprintf("%lld", (long long)json_integer_value(cur));
    case JSON_REAL:
        return kp_asprintf("%.14g", json_real_value(cur));
    case JSON_TRUE:
        return kp_strdup("1");
    default: /* false, null, objects and arrays have no useful string form */
        return kp_strdup("");
    }
}

char *mbe_multirequest_resolve(const char *s, json_t *const *results, size_t n_results)
{
    kp_buf out;
    kp_buf_init(&out);
    const char *p = s;
    while (*p) {
        const char *open = strchr(p, '{');
        if (!open) {
            kp_buf_puts(&out, p);
            break;
        }
        kp_buf_append(&out, p, (size_t)(open - p));
        const char *q = open + 1;
        char *end;
        long n = isdigit((unsigned char)*q) ? strtol(q, &end, 10) : -1;
        const char *close = n >= 1 ? strchr(open, '}') : NULL;
        if (n < 1 || !close || strncmp(end, ":result", 7) != 0 ||
            (end[7] != '}' && end[7] != ':')) {
            kp_buf_putc(&out, '{');
            p = open + 1;
            continue;
        }
        const char *path = end[7] == ':' ? end + 8 : close; /* no path: "" */
        char *pathz = kp_strndup(path, (size_t)(close - path));
        const json_t *res = (size_t)n <= n_results ? results[n - 1] : NULL;
        char *val = (res && !mbe_is_exception(res)) ? value_at(res, pathz) : kp_strdup("");
        kp_buf_puts(&out, val ? val : "");
        free(val);
        free(pathz);
        p = close + 1;
    }
    return kp_buf_steal(&out);
}

/* Whether some string in v may hold a {N:result...} reference. */
static bool has_reference(const json_t *v)
{
    if (json_is_string(v))
        return memchr(json_string_value(v), '{', json_string_length(v)) != NULL;
    const char *k;
    json_t *x;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, x)
        {
            if (has_reference(x))
                return true;
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, x)
        {
            if (has_reference(x))
                return true;
        }
    }
    return false;
}

/* v with its references resolved: a new value where some changed, v itself (a new reference)
 * where none can. */
static json_t *resolve_value(const json_t *v, json_t *const *results, size_t n)
{
    if (!has_reference(v))
        return json_incref((json_t *)v);
    if (json_is_string(v)) {
        char *r = mbe_multirequest_resolve(json_string_value(v), results, n);
        json_t *out = json_string(r ? r : "");
        free(r);
        return out;
    }
    if (json_is_object(v)) {
        json_t *out = json_object();
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x)
        {
            json_object_set_new(out, k, resolve_value(x, results, n));
        }
        return out;
    }
    if (json_is_array(v)) {
        json_t *out = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            json_array_append_new(out, resolve_value(x, results, n));
        }
        return out;
    }
    return json_incref((json_t *)v);
}

static int is_index(const char *k, long *out)
{
    if (!isdigit((unsigned char)*k))
        return 0;
    char *end;
    long n = strtol(k, &end, 10);
    if (*end || n < 1)
        return 0;
    *out = n;
    return 1;
}

json_t *mbe_multirequest_run(const json_t *body, mbe_call_fn fn, void *ud, json_t **calls_out)
{
    json_t *out = json_array();
    json_t *calls = json_array();
    json_t **results = NULL;
    size_t n = 0;
    for (long idx = 1;; idx++) {
        /* gather sub-request idx: "idx": {...} and "idx:name": value */
        char key[32];
        snprintf(key, sizeof(key), "%ld", idx);
        json_t *params = json_object();
        const json_t *sub = json_object_get(body, key);
        if (json_is_object(sub))
            json_object_update(params, (json_t *)sub);
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)body, k, v)
        {
            long m;
            const char *colon = strchr(k, ':');
            if (colon) {
                char *head = kp_strndup(k, (size_t)(colon - k));
                if (head && is_index(head, &m) && m == idx)
                    json_object_set(params, colon + 1, v);
                free(head);
            }
        }
        char *svc = kp_strdup(kp_json_str(params, "service", NULL));
        char *act = kp_strdup(kp_json_str(params, "action", NULL));
        if (!svc || !act) {
            free(svc);
            free(act);
            json_decref(params);
            break;
        }
        /* common params: ks, partnerId and clientTag only where the sub-request has none */
        static const char *const common[] = {"ks", "partnerId", "clientTag"};
        for (size_t c = 0; c < 3; c++) {
            json_t *cv = json_object_get(body, common[c]);
            if (cv && !json_object_get(params, common[c]))
                json_object_set(params, common[c], cv);
        }
        json_object_del(params, "format");
        json_t *resolved = resolve_value(params, results, n);
        json_decref(params);
        json_object_del(resolved, "service");
        json_object_del(resolved, "action");
        json_t *res = fn(ud, svc, act, resolved);
        json_array_append_new(
            calls, json_pack("{s:s, s:s, s:O}", "service", svc, "action", act, "params", resolved));
        free(svc);
        free(act);
        json_decref(resolved);
        json_t **r = realloc(results, (n + 1) * sizeof(*r));
        if (!r) {
            json_decref(res);
            break;
        }
        results = r;
        results[n++] = res;
        json_array_append(out, res);
    }
    for (size_t i = 0; i < n; i++)
        json_decref(results[i]);
    free(results);
    if (calls_out)
        *calls_out = calls;
    else
        json_decref(calls);
    return out;
}
