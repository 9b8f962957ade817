/* provider_priv.h: what the OVP and OTT providers share (not a public API): turning an HTTP
 * outcome into either the decoded Kaltura answer or the provider's transport/format error
 * (reference/kaltura-provider.md §1.1, §1.2, §3.1), and the entry-list answer, in
 * provider_outcome.c; the JSON both build or check alike (multirequest bodies, the shape of
 * KalturaPlaybackContext, DRM data, access-control messages, the 2001/3001 errors), in
 * provider_json.c.
 *
 * The real provider's RequestBuilder, MultiRequestResult and playback-context classes are
 * shared by OVP and OTT, so these helpers are too. Every json_t * returned is a new reference
 * owned by the caller unless the comment says "borrowed"; the members of kp_prov__decoded
 * are owned by it and released by kp_prov__decoded_free(), those of kp_prov__answer by
 * kp_prov__answer_free().
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

/* {code, message}: copies of a KalturaAPIException's fields (undefined ones left out). NULL
 * when out of memory. */
json_t *kp_prov__exception(const json_t *exc);

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

/* 3000 MISSING_MANDATORY_PARAMS {message} (category PROVIDER). NULL when out of memory. */
json_t *kp_prov__missing_params(const char *message);

/* What a parse function reads first. */
typedef struct kp_prov__answer {
    const char *url; /* the request URL for error data: h->url, or own_url */
    char *own_url;   /* service_url + path when h->url is NULL */
    json_t *headers; /* kp_prov__headers() of h */
    kp_prov__decoded d;
} kp_prov__answer;

/* Fills *a: the URL, the headers, and kp_prov__outcome() of h. Returns 0 (with *error set,
 * or a->d filled) or KP_ENOMEM; *a is to be released with kp_prov__answer_free() in every
 * case. */
int kp_prov__answer_read(const kp_http_outcome *h, const char *service_url, const char *path,
                         kp_prov__answer *a, json_t **error);
void kp_prov__answer_free(kp_prov__answer *a);

/* The end of a media-config parse: KP_EPARSE (the answer does not fit the loaders) becomes
 * the 1007 of kp_prov__mismatch_error(headers) in *error; otherwise cfg goes to *config when
 * rc is not an error and no *error was set. cfg is released when it does not. Returns 0 or a
 * negative KP_E* code. */
int kp_prov__media_result(int rc, json_t *cfg, const json_t *headers, json_t **config,
                          json_t **error);

/* A call that fails returns nothing: when rc < 0, releases and clears *result and *error.
 * Returns rc. */
int kp_prov__settle(int rc, json_t **result, json_t **error);

/* Builds the sources object of one entry-list item from its entry's (successful) result:
 * 0 with *sources set, KP_EPARSE to leave the entry out, or KP_ENOMEM. */
typedef int (*kp_prov__item_fn)(const json_t *result, void *ud, json_t **sources);

/* getEntryListConfig's answer as OVP and OTT read it: h read as by kp_prov__answer_read();
 * result first + i belongs to entry i (no index shift); an entry whose result is missing, an
 * API error or unusable (item() says KP_EPARSE) is left out, and each other one becomes
 * {sources} in the "items" of pl (the empty playlist object, stolen); when no entry loaded,
 * 1006 MULTIREQUEST_API_ERROR. Returns 0 with exactly one of *playlist and *error set, or a
 * negative KP_E* code with neither. */
int kp_prov__entry_list(const kp_http_outcome *h, const char *service_url, size_t first,
                        size_t n_entries, json_t *pl, kp_prov__item_fn item, void *ud,
                        json_t **playlist, json_t **error);

/* ---- JSON both providers build or check alike (provider_json.c) ------------------------- */

/* obj[key] = v, stealing v; KP_ENOMEM when v is NULL or the set fails. */
int kp_prov__set(json_t *obj, const char *key, json_t *v);
/* Appends v to arr, stealing v; KP_ENOMEM when v is NULL or the append fails. */
int kp_prov__push(json_t *arr, json_t *v);
/* The size of an array; 0 for anything else (NULL too). */
size_t kp_prov__asize(const json_t *a);

/* A multirequest body being built: sub-requests keyed "1", "2"..., then the common params. */
typedef struct kp_prov__mr {
    json_t *body;
    int n;  /* sub-requests so far */
    int rc; /* first failure */
} kp_prov__mr;

/* Starts an empty body (m->rc is KP_ENOMEM when it cannot). */
void kp_prov__mr_init(kp_prov__mr *m);
/* Adds sub (stolen; NULL counts as out of memory) as the next sub-request, unless an earlier
 * step failed. */
void kp_prov__mr_add(kp_prov__mr *m, json_t *sub);

/* The KS of a call: ks (mediaInfo's, entry list's...) when non-empty, else the provider's,
 * else "" (anonymous). Borrowed. */
const char *kp_prov__call_ks(const kp_provider_opts *o, const char *ks);

/* `x.map(e => new Class(e))` where the class reads fields of e: false where the JS throws
 * (not an array, a null element). */
bool kp_prov__array_of_objects(const json_t *v);
/* The same behind `if (x)`: true for a falsy x too. */
bool kp_prov__array_or_falsy(const json_t *v);
/* new KalturaPlaybackSource(s) for each of sources would not throw: sources an array of
 * objects (or falsy), and so is each one's drm. */
bool kp_prov__sources_ok(const json_t *sources);
/* new KalturaPlaybackContext(pbc) would not throw, as far as the fields both providers read
 * go (pbc not null; messages, actions and sources); each checks its own others. */
bool kp_prov__context_ok(const json_t *pbc);
/* The array a playback-context class keeps of field key ([] when the field is not an
 * array): borrowed, NULL for []. */
const json_t *kp_prov__ctx_array(const json_t *pbc, const char *key);

/* MediaSource.drmData of a source's drm list: [{licenseUrl, scheme, certificate}], the
 * scheme mapped to its key system (left out when unknown), the certificate only when truthy.
 * NULL when out of memory. */
json_t *kp_prov__drm_data(const json_t *drm);
/* {message, code} copies of a playback context's access-control messages. NULL when out of
 * memory. */
json_t *kp_prov__messages(const json_t *pbc);
/* 2001 BLOCK_ACTION {action: {type}, messages} for a playback context with a BLOCK action;
 * type is stolen. NULL when out of memory. */
json_t *kp_prov__block_error(const json_t *pbc, json_t *type);
/* 3001 MISSING_PLAY_SOURCE {action: "", messages: "No play source for entry id: <id>"}, id
 * as JS String() writes it. NULL when out of memory. */
json_t *kp_prov__no_source_error(const json_t *id);
/* The first keys of _getSourcesObject(): hls, dash, progressive, image and document, in that
 * order, into sources. The five lists are stolen, whatever happens. Returns 0 or KP_ENOMEM
 * (sources NULL too). */
int kp_prov__set_source_lists(json_t *sources, json_t *hls, json_t *dash, json_t *progressive,
                              json_t *image, json_t *document);
/* The end of a media config: cfg.sources, then cfg.plugins, when rc is not an error; both
 * are stolen either way. Returns rc, or KP_ENOMEM. */
int kp_prov__set_media(json_t *cfg, int rc, json_t *sources, json_t *plugins);

#endif
