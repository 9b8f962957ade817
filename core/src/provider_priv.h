/* provider_priv.h: what the OVP and OTT providers share (not a public API): turning an HTTP
 * outcome into either the decoded Kaltura answer or the provider's transport/format error
 * (reference/kaltura-provider.md §1.1, §1.2, §3.1), in provider_outcome.c.
 *
 * The real provider's RequestBuilder and MultiRequestResult are shared by OVP and OTT, so
 * these helpers are too. Every json_t * returned is a new reference owned by the caller;
 * the members of kp_prov__decoded are owned by it and released by kp_prov__decoded_free().
 */
#ifndef KP_PROVIDER_PRIV_H
#define KP_PROVIDER_PRIV_H

#include "kp/provider.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* {severity 2 CRITICAL, category, code, data}; data is stolen (NULL becomes {}). */
json_t *kp_prov__error(int category, int code, json_t *data);

/* XHR getAllResponseHeaders().split('\n') filtered on the "x-" prefix: lower-case names,
 * same-name headers combined with ", ", sorted by name, each line keeping its "\r".
 * NULL when out of memory. */
json_t *kp_prov__headers(const kp_http_outcome *h);

/* The body as XHR's responseText (UTF-8 decoded, a leading BOM removed), as a JSON string. */
json_t *kp_prov__body_text(const kp_http_outcome *h);

/* A Kaltura answer as MultiRequestResult sees it. */
typedef struct kp_prov__decoded {
    json_t *root;    /* the parsed body */
    json_t *items;   /* array of raw result items */
    json_t *results; /* [{hasError, data} | {hasError, error:{code, message}}] */
    size_t n_errors;
} kp_prov__decoded;

void kp_prov__decoded_free(kp_prov__decoded *d);

/* Whether an item is a KalturaAPIException, bare or as {"error": {...}}: the exception object
 * (borrowed), or NULL. */
const json_t *kp_prov__item_error(const json_t *item);

/* Looks at an outcome the way RequestBuilder does: a transport error gives 1002 HTTP_ERROR or
 * 1003 TIMEOUT, a status other than 200 gives kpsim's 1001 BAD_HTTP_STATUS, a body that is not
 * JSON gives 1005 BAD_SERVER_RESPONSE. `url` is the request URL for the error data, `headers`
 * the kp_prov__headers() of h (borrowed). Returns 0 with *error set in those cases, 0 with *d
 * filled otherwise (MultiRequestResult: the body's `result` when truthy, an array as is,
 * anything else as one item), or KP_ENOMEM. */
int kp_prov__outcome(const kp_http_outcome *h, const char *url, const json_t *headers,
                     kp_prov__decoded *d, json_t **error);

/* The multirequest failed (requestsMustSucceed: any error item; otherwise: every item an
 * error, or no item at all). */
bool kp_prov__failed(const kp_prov__decoded *d, bool must_succeed);

/* 1006 MULTIREQUEST_API_ERROR {url, headers, results}. NULL when out of memory. */
json_t *kp_prov__api_error(const char *url, const json_t *headers, const kp_prov__decoded *d);

/* 1007 API_RESPONSE_MISMATCH {headers}: DataLoaderManager's error for an answer that does
 * not fit the loaders (where the real provider throws a TypeError). */
json_t *kp_prov__mismatch_error(const json_t *headers);

#endif
