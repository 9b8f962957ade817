/* provider_ovp_priv.h: internals shared by the provider_ovp*.c files (not a public API).
 *
 * The real provider is JavaScript reading untyped JSON, so these helpers reproduce the few
 * JavaScript semantics its output depends on: truthiness, String(v), Number(v), strict
 * equality with a number, and the JS-regex replace of the eCDN action. Every json_t * they
 * return is a new reference owned by the caller unless the comment says "borrowed".
 */
#ifndef KP_PROVIDER_OVP_PRIV_H
#define KP_PROVIDER_OVP_PRIV_H

#include "kp/buf.h"
#include "kp/provider.h"

#include <jansson.h>
#include <stdbool.h>

/* ---- JavaScript value semantics over jansson (provider_ovp_js.c) ---------------------- */

/* v[key] for an object, NULL ("undefined") for anything else. Borrowed. */
const json_t *kp_ovp__get(const json_t *v, const char *key);
/* JS truthiness; NULL is undefined (falsy). */
bool kp_ovp__truthy(const json_t *v);
/* v === n for a JSON number v. */
bool kp_ovp__is_num(const json_t *v, double n);
/* v === s for a JSON string v. */
bool kp_ovp__is_str(const json_t *v, const char *s);
/* JS Number(v); NaN when it is not a number. */
double kp_ovp__number(const json_t *v);
/* A JSON number for d as JSON.stringify writes it: integral values become integers,
 * NaN and infinities null. */
json_t *kp_ovp__num_json(double d);
/* Appends JS String(v) (NULL is "undefined"). */
int kp_ovp__put_str(kp_buf *b, const json_t *v);
/* Appends the JS Number.prototype.toString() form of d. */
int kp_ovp__put_num(kp_buf *b, double d);
/* +Number(d).toFixed(2), exactly as JS rounds (half away from zero on the exact value). */
double kp_ovp__round2(double d);
/* The length in bytes of the JS \s character (UTF-8) at s, or 0. */
size_t kp_ovp__js_space(const unsigned char *s, size_t n);
/* A JSON string from arbitrary bytes; invalid UTF-8 becomes U+FFFD as XHR decoding does. */
json_t *kp_ovp__string_bytes(const char *s, size_t n);
/* Copies v (a new reference), or NULL when v is NULL. Used to copy raw values through. */
json_t *kp_ovp__copy(const json_t *v);
/* Sets obj[key] = copy of v when v is defined (undefined keys vanish in JSON). */
int kp_ovp__set_raw(json_t *obj, const char *key, const json_t *v);
/* obj[key] = v (stolen); deletes key when v is NULL ("undefined"). KP_ENOMEM on failure. */
int kp_ovp__set_or_del(json_t *obj, const char *key, json_t *v);

/* ---- the eCDN request-host regex (provider_ovp_regex.c) -------------------------------- */

typedef struct kp_ovp__regex kp_ovp__regex;

/* Compiles a JavaScript pattern with flag "i". Returns 0, KP_ENOTSUP for constructs POSIX
 * cannot express (lookaround, lazy quantifiers, back-references, \b), KP_EPARSE for an
 * invalid pattern, KP_ENOMEM. */
int kp_ovp__regex_new(const char *pattern, kp_ovp__regex **out);
void kp_ovp__regex_free(kp_ovp__regex *re);
/* true when re matches somewhere in s. */
bool kp_ovp__regex_test(const kp_ovp__regex *re, const char *s);
/* JS s.replace(re, replacement): the first match only, with $1..$99, $&, $`, $' and $$.
 * Sets *out (malloc'd; a copy of s when nothing matched). */
int kp_ovp__regex_replace(const kp_ovp__regex *re, const char *s, const char *replacement,
                          char **out);

/* ---- request pieces (provider_ovp.c) ---------------------------------------------------- */

/* The 26 fields of the baseEntry response profile (base-entry-response-profile.ts). */
extern const char *const kp_ovp__entry_fields;
/* opts->service_url, or the default when NULL or "" (borrowed). */
const char *kp_ovp__service_url(const kp_provider_opts *o);
/* opts->cdn_url, or the default when NULL (borrowed). */
const char *kp_ovp__cdn_url(const kp_provider_opts *o);

/* ---- media config construction (provider_ovp_config.c) --------------------------------- */

/* What the parser knows besides the back-end data. */
typedef struct kp_ovp__ctx {
    const kp_provider_opts *o;
    const char *service_url;   /* resolved */
    const char *cdn_url;       /* resolved */
    const char *base_protocol; /* "http" or "https" */
    const char *url_ks;        /* KS put into playManifest and caption URLs ("" for none) */
    const char *bumper_ks;     /* KS put into the bumper URL (ignores use_header_for_ks) */
} kp_ovp__ctx;

/* Fills cfg (the media config whose session part the caller built) from the media-entry
 * loader's three results (metadata may be NULL), or sets *error. Returns 0 with exactly
 * one of them filled, KP_ENOMEM, or KP_EPARSE when the back-end data does not fit the
 * loader (the caller reports 1007). */
int kp_ovp__build_media(const kp_ovp__ctx *c, const json_t *list, const json_t *pbc,
                        const json_t *metadata, json_t *cfg, json_t **error);

/* The sources object of a playlist or entry-list item (an entry of playlist.execute or
 * baseEntry.list, without playback context): empty hls/dash/progressive/image/document, id,
 * duration, type, poster, dvr, vr, metadata... Returns 0, KP_EPARSE where the JS would
 * throw (a null entry, capabilities that is not a string), KP_ENOMEM. */
int kp_ovp__entry_sources(const kp_ovp__ctx *c, const json_t *entry, json_t **sources);

/* _parseMetadata() of a raw metadata_metadata.list result (NULL when the slot is missing)
 * into metadata (provider_ovp_xml.c). Returns 0, KP_EPARSE where the JS throws (an xml
 * that is not a string, a document without a <metadata> root), KP_ENOMEM. */
int kp_ovp__custom_metadata(const json_t *md, json_t *metadata);

/* The first REQUEST_HOST_REGEX action (type 7) of a playback context. Borrowed. */
const json_t *kp_ovp__regex_action(const json_t *pbc);

enum { KP_OVP__RX_NONE = 0, KP_OVP__RX_NOW = 1, KP_OVP__RX_PING = 2 };
/* Whether the action applies (§2.8): KP_OVP__RX_NONE (no action, pattern does not match
 * the CDN URL, or the pattern is not supported), KP_OVP__RX_NOW (rewrite now), or
 * KP_OVP__RX_PING (ping first: *ping_url, malloc'd, and *timeout_ms are set when the
 * pointers are non-NULL). KP_ENOMEM. */
int kp_ovp__regex_check(const kp_ovp__ctx *c, const json_t *action, char **ping_url,
                        long long *timeout_ms);
/* Rewrites cfg's source URLs (and, unless replace_host_only_manifest_urls, the captions
 * and the poster) in place. Returns 0 or KP_ENOMEM. */
int kp_ovp__regex_rewrite(const kp_ovp__ctx *c, const json_t *action, json_t *cfg);

#endif
