/* multireq.h: executing a Kaltura multirequest the way the real server does
 * (kaltura/server KalturaFrontController handleMultiRequest; reference/kaltura-provider.md §1.2).
 *
 * Numeric keys "1", "2", ... are sub-requests, run in ascending order until the first index
 * without service or action; "N:name" keys are also params of sub-request N. Other keys are
 * common params: ks, partnerId and clientTag are copied into a sub-request that has none;
 * format is not passed down. A string param containing "{N:result[:a:b]}" gets the token
 * replaced (inside the string) by that path of result N after request N ran; a missing path,
 * a request N that failed or has not run yet gives "". A failing sub-request puts its
 * KalturaAPIException in its slot; the others still run.
 */
#ifndef MBE_MULTIREQ_H
#define MBE_MULTIREQ_H

#include <jansson.h>

/* Runs one call; returns its result (a new reference), or a KalturaAPIException object. */
typedef json_t *(*mbe_call_fn)(void *ud, const char *service, const char *action, json_t *params);

/* Returns the array of results (new reference). When calls_out is not NULL it receives an
 * array of {"service","action","params"} with the params as executed (resolved). */
json_t *mbe_multirequest_run(const json_t *body, mbe_call_fn fn, void *ud, json_t **calls_out);

/* Replaces every {N:result[:path]} token in s; results[i] is the result of request i+1
 * (NULL or an exception for a failed one). Returns a malloc'd string. */
char *mbe_multirequest_resolve(const char *s, json_t *const *results, size_t n_results);

/* true when v is a KalturaAPIException (objectType at the top or under "error"). */
int mbe_is_exception(const json_t *v);

#endif
