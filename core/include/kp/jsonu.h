/* jsonu.h: small helpers over jansson used by every room.
 * Getters return borrowed references (valid while the parent lives) or the given default.
 */
#ifndef KP_JSONU_H
#define KP_JSONU_H

#include "kp/buf.h"

#include <jansson.h>
#include <stdbool.h>

/* Walks "a.b.0.c" (object keys and array indexes). Borrowed; NULL if absent. */
json_t *kp_json_path(const json_t *root, const char *path);
const char *kp_json_str(const json_t *obj, const char *path, const char *dflt);
long long kp_json_int(const json_t *obj, const char *path, long long dflt);
double kp_json_num(const json_t *obj, const char *path, double dflt);
bool kp_json_bool(const json_t *obj, const char *path, bool dflt);

/* true when every key of `want` exists in `have` with a matching value (recursively for
 * objects; arrays must match element by element, each element as a subset; numbers compare
 * by value, so 2 matches 2.0). A null `want` matches only null. */
bool kp_json_subset(const json_t *want, const json_t *have);

/* Compact one-line JSON, keys in insertion order, reals with up to 12 significant digits.
 * malloc'd; NULL on failure. */
char *kp_json_dumps(const json_t *v);
/* Appends v as compact JSON to b: the bytes json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY |
 * JSON_REAL_PRECISION(p)) gives (p 0: 17 digits), several times faster. On failure (out of
 * memory, nesting deeper than 2048) b is left as it was and a negative KP_E* code returned. */
int kp_json_write(kp_buf *b, const json_t *v, int real_precision);

/* Deep-merges src into dst (objects merged key by key; other values replaced). */
int kp_json_merge(json_t *dst, const json_t *src);

#endif
