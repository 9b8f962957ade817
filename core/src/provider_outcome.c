/* provider_outcome.c: the HTTP outcome as the real provider's RequestBuilder and
 * MultiRequestResult see it, shared by the OVP and OTT providers (provider_priv.h), and what
 * their parse functions make of it alike: the provider errors, the media config's last step,
 * the entry-list answer. Every json_t * returned is owned by the caller.
 */
#include "provider_priv.h"

#include "provider_ovp_priv.h"

#include "kp/buf.h"
#include "kp/err.h"
#include "kp/perror.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define G    kp_ovp__get
#define jset kp_prov__set

json_t *kp_prov__error(int category, int code, json_t *data)
{
    return kp_perror_new(KP_SEVERITY_CRITICAL, category, code, data);
}

typedef struct header_kv {
    char *name;
    kp_buf value;
} header_kv;

static int cmp_header(const void *a, const void *b)
{
    return strcmp(((const header_kv *)a)->name, ((const header_kv *)b)->name);
}

json_t *kp_prov__headers(const kp_http_outcome *h)
{
    json_t *out = json_array();
    if (!out || !h->headers || !h->n_headers)
        return out;
    header_kv *kv = calloc(h->n_headers, sizeof(*kv));
    size_t n = 0;
    int rc = kv ? 0 : KP_ENOMEM;
    for (size_t i = 0; rc >= 0 && i < h->n_headers; i++) {
        const char *line = h->headers[i];
        const char *colon = line ? strchr(line, ':') : NULL;
        if (!colon)
            continue;
        const char *ns = line, *ne = colon;
        while (ns < ne && (*ns == ' ' || *ns == '\t'))
            ns++;
        while (ne > ns && (ne[-1] == ' ' || ne[-1] == '\t'))
            ne--;
        const char *vs = colon + 1, *ve = colon + strlen(colon);
        while (vs < ve && (*vs == ' ' || *vs == '\t'))
            vs++;
        while (ve > vs && (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\r' || ve[-1] == '\n'))
            ve--;
        char *name = kp_strndup(ns, (size_t)(ne - ns));
        if (!name) {
            rc = KP_ENOMEM;
            break;
        }
        for (char *p = name; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        size_t j = 0;
        while (j < n && strcmp(kv[j].name, name) != 0)
            j++;
        if (j < n) {
            free(name);
            rc = kp_buf_puts(&kv[j].value, ", ");
        } else {
            kv[n].name = name;
            kp_buf_init(&kv[n].value);
            rc = kp_buf_puts(&kv[n].value, "");
            j = n++;
        }
        if (rc >= 0)
            rc = kp_buf_append(&kv[j].value, vs, (size_t)(ve - vs));
    }
    if (rc >= 0)
        qsort(kv, n, sizeof(*kv), cmp_header);
    for (size_t i = 0; rc >= 0 && i < n; i++) {
        if (strncmp(kv[i].name, "x-", 2) != 0)
            continue;
        char *line = kp_asprintf("%s: %s\r", kv[i].name, kv[i].value.data ? kv[i].value.data : "");
        json_t *s = line ? json_string(line) : NULL;
        free(line);
        rc = s && json_array_append_new(out, s) == 0 ? 0 : KP_ENOMEM;
    }
    for (size_t i = 0; kv && i < n; i++) {
        free(kv[i].name);
        kp_buf_free(&kv[i].value);
    }
    free(kv);
    if (rc < 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* The body as XHR's responseText: UTF-8 decoded, a leading BOM removed. */
static void body_bytes(const kp_http_outcome *h, const char **p, size_t *n)
{
    *p = h->body ? h->body : "";
    *n = h->body ? h->body_len : 0;
    if (*n >= 3 && memcmp(*p, "\xEF\xBB\xBF", 3) == 0) {
        *p += 3;
        *n -= 3;
    }
}

json_t *kp_prov__body_text(const kp_http_outcome *h)
{
    const char *p;
    size_t n;
    body_bytes(h, &p, &n);
    return kp_ovp__string_bytes(p, n);
}

void kp_prov__decoded_free(kp_prov__decoded *d)
{
    json_decref(d->root);
    json_decref(d->items);
    json_decref(d->results);
    memset(d, 0, sizeof(*d));
}

const json_t *kp_prov__item_error(const json_t *it)
{
    if (kp_ovp__is_str(G(it, "objectType"), "KalturaAPIException"))
        return it;
    if (kp_ovp__is_str(G(G(it, "error"), "objectType"), "KalturaAPIException"))
        return G(it, "error");
    return NULL;
}

json_t *kp_prov__exception(const json_t *exc)
{
    json_t *e = json_object();
    if (!e || kp_ovp__set_raw(e, "code", G(exc, "code")) < 0 ||
        kp_ovp__set_raw(e, "message", G(exc, "message")) < 0) {
        json_decref(e);
        return NULL;
    }
    return e;
}

/* Returns 0, KP_EPARSE when the body is not JSON (or is `null`), KP_ENOMEM. */
static int decode(const kp_http_outcome *h, kp_prov__decoded *d)
{
    memset(d, 0, sizeof(*d));
    json_error_t jerr;
    const char *p;
    size_t n;
    body_bytes(h, &p, &n);
    d->root = json_loadb(p, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!d->root || json_is_null(d->root)) {
        kp_prov__decoded_free(d);
        return KP_EPARSE;
    }
    const json_t *result = d->root;
    if (kp_ovp__truthy(G(d->root, "result")))
        result = G(d->root, "result");
    if (json_is_array(result)) {
        d->items = json_incref((json_t *)result);
    } else {
        d->items = json_array();
        if (d->items && json_array_append(d->items, (json_t *)result) != 0) {
            kp_prov__decoded_free(d);
            return KP_ENOMEM;
        }
    }
    d->results = json_array();
    if (!d->items || !d->results) {
        kp_prov__decoded_free(d);
        return KP_ENOMEM;
    }
    for (size_t i = 0; i < json_array_size(d->items); i++) {
        const json_t *it = json_array_get(d->items, i);
        const json_t *err = kp_prov__item_error(it);
        json_t *r = json_object();
        int rc = r ? jset(r, "hasError", json_boolean(err != NULL)) : KP_ENOMEM;
        if (rc >= 0 && err) {
            rc = jset(r, "error", kp_prov__exception(err));
            d->n_errors++;
        } else if (rc >= 0) {
            rc = jset(r, "data", json_deep_copy(it));
        }
        if (rc >= 0)
            rc = json_array_append_new(d->results, r) == 0 ? 0 : KP_ENOMEM;
        else
            json_decref(r);
        if (rc < 0) {
            kp_prov__decoded_free(d);
            return KP_ENOMEM;
        }
    }
    return 0;
}

int kp_prov__outcome(const kp_http_outcome *h, const char *url, const json_t *headers,
                     kp_prov__decoded *d, json_t **error)
{
    memset(d, 0, sizeof(*d));
    *error = NULL;
    int attempt = h->attempt > 0 ? h->attempt : 1;
    if (h->transport_error) {
        json_t *data;
        if (h->transport_error == KP_ETIMEDOUT)
            data = json_pack("{s:f, s:s, s:s, s:O, s:i}", "timeout", (double)h->elapsed_ms / 1000.0,
                             "statusText", "", "url", url, "headers", headers, "attempt", attempt);
        else
            data = json_pack("{s:o, s:s, s:s, s:O, s:i}", "text", kp_prov__body_text(h),
                             "statusText", "", "url", url, "headers", headers, "attempt", attempt);
        *error = data ? kp_prov__error(KP_PROVCAT_NETWORK,
                                       h->transport_error == KP_ETIMEDOUT ? KP_PROVCODE_TIMEOUT
                                                                          : KP_PROVCODE_HTTP_ERROR,
                                       data)
                      : NULL;
        return *error ? 0 : KP_ENOMEM;
    }
    if (h->status != 200) {
        json_t *data = json_pack("{s:s, s:i, s:O, s:o}", "url", url, "status", h->status, "headers",
                                 headers, "text", kp_prov__body_text(h));
        *error =
            data ? kp_prov__error(KP_PROVCAT_NETWORK, KP_PROVCODE_BAD_HTTP_STATUS, data) : NULL;
        return *error ? 0 : KP_ENOMEM;
    }
    int rc = decode(h, d);
    if (rc == KP_EPARSE) {
        json_t *data = json_pack("{s:o, s:s, s:O, s:i}", "text", kp_prov__body_text(h), "url", url,
                                 "headers", headers, "attempt", attempt);
        *error =
            data ? kp_prov__error(KP_PROVCAT_NETWORK, KP_PROVCODE_BAD_SERVER_RESPONSE, data) : NULL;
        return *error ? 0 : KP_ENOMEM;
    }
    return rc;
}

bool kp_prov__failed(const kp_prov__decoded *d, bool must_succeed)
{
    size_t n = json_array_size(d->items);
    return (must_succeed && d->n_errors > 0) || d->n_errors == n;
}

json_t *kp_prov__api_error(const char *url, const json_t *headers, const kp_prov__decoded *d)
{
    json_t *data = json_pack("{s:s, s:O, s:O}", "url", url, "headers", (json_t *)headers, "results",
                             d->results);
    return data ? kp_prov__error(KP_PROVCAT_NETWORK, KP_PROVCODE_MULTIREQUEST_API_ERROR, data)
                : NULL;
}

json_t *kp_prov__mismatch_error(const json_t *headers)
{
    json_t *data = json_pack("{s:O}", "headers", (json_t *)headers);
    return data ? kp_prov__error(KP_PROVCAT_NETWORK, KP_PROVCODE_API_RESPONSE_MISMATCH, data)
                : NULL;
}

json_t *kp_prov__missing_params(const char *message)
{
    return kp_prov__error(KP_PROVCAT_PROVIDER, KP_PROVCODE_MISSING_MANDATORY_PARAMS,
                          json_pack("{s:s}", "message", message));
}

/* ---- what the parse functions make of it ---------------------------------------------------- */

int kp_prov__answer_read(const kp_http_outcome *h, const char *service_url, const char *path,
                         kp_prov__answer *a, json_t **error)
{
    memset(a, 0, sizeof(*a));
    a->url = h->url;
    if (!a->url) {
        a->own_url = kp_asprintf("%s%s", service_url, path);
        if (!a->own_url)
            return KP_ENOMEM;
        a->url = a->own_url;
    }
    a->headers = kp_prov__headers(h);
    if (!a->headers)
        return KP_ENOMEM;
    return kp_prov__outcome(h, a->url, a->headers, &a->d, error);
}

void kp_prov__answer_free(kp_prov__answer *a)
{
    kp_prov__decoded_free(&a->d);
    json_decref(a->headers);
    free(a->own_url);
    memset(a, 0, sizeof(*a));
}

int kp_prov__media_result(int rc, json_t *cfg, const json_t *headers, json_t **config,
                          json_t **error)
{
    if (rc == KP_EPARSE) {
        json_decref(cfg);
        *error = kp_prov__mismatch_error(headers);
        return *error ? 0 : KP_ENOMEM;
    }
    if (rc < 0 || *error) {
        json_decref(cfg);
        return rc < 0 ? rc : 0;
    }
    *config = cfg;
    return 0;
}

int kp_prov__settle(int rc, json_t **result, json_t **error)
{
    if (rc < 0) {
        json_decref(*result);
        json_decref(*error);
        *result = NULL;
        *error = NULL;
    }
    return rc;
}

int kp_prov__entry_list(const kp_http_outcome *h, const char *service_url, size_t first,
                        size_t n_entries, json_t *pl, kp_prov__item_fn item, void *ud,
                        json_t **playlist, json_t **error)
{
    kp_prov__answer a;
    int rc = kp_prov__answer_read(h, service_url, "/service/multirequest", &a, error);
    if (rc >= 0 && !*error) {
        json_t *items = json_object_get(pl, "items");
        rc = pl ? 0 : KP_ENOMEM;
        for (size_t i = 0; rc >= 0 && !kp_prov__failed(&a.d, false) && i < n_entries; i++) {
            const json_t *result = json_array_get(a.d.items, first + i);
            if (!result || kp_prov__item_error(result))
                continue;
            json_t *sources = NULL;
            int r = item(result, ud, &sources);
            if (r == KP_EPARSE)
                continue;
            rc = r < 0 ? r : kp_prov__push(items, json_pack("{s:o}", "sources", sources));
        }
        if (rc >= 0 && json_array_size(items) == 0) {
            *error = kp_prov__api_error(a.url, a.headers, &a.d);
            rc = *error ? 0 : KP_ENOMEM;
        }
    }
    kp_prov__answer_free(&a);
    if (rc < 0 || *error) {
        json_decref(pl);
        pl = NULL;
    }
    *playlist = pl;
    return kp_prov__settle(rc, playlist, error);
}
