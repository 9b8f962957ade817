/* provider.h: the OVP provider, as pure functions over the wire protocol.
 *
 * The provider turns "play entry X" into the exact multirequest the real Kaltura provider
 * (playkit-js-providers 2.46.0) sends, and the back-end's answer into either the media
 * config (ProviderMediaConfigObject, same JSON shape and key names) or the provider error
 * object {severity, category, code, data} (reference/kaltura-provider.md §1-§3). Transport is
 * not done here: the player (core/src/provider_glue.c) sends the request through kp_net and
 * hands the outcome back, so these functions can be tested without sockets.
 *
 * All returned strings and JSON values are new references owned by the caller.
 */
#ifndef KP_PROVIDER_H
#define KP_PROVIDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define KP_PROVIDER_DEFAULT_SERVICE_URL "https://cdnapisec.kaltura.com/api_v3"
#define KP_PROVIDER_DEFAULT_CDN_URL "https://cdnapisec.kaltura.com"

typedef struct kp_provider_opts {
    const char *service_url; /* NULL: the default above */
    const char *cdn_url;     /* NULL: the default above; its scheme is the base protocol */
    long long partner_id;    /* 0 is a valid partner (then no partnerId key is sent) */
    const char *ks;          /* NULL or "": anonymous (a widget session is started) */
    const char *widget_id;   /* NULL: "_" + partner_id */
    long long uiconf_id;     /* 0: none */
    const char *client_tag;  /* e.g. "html5:v3.17.95" */
    const char *referrer;    /* NULL: not sent; else added raw to getPlaybackContext */
    bool use_api_captions;   /* provider default true */
    bool load_thumbnail_with_ks;
    bool replace_host_only_manifest_urls;
    bool use_header_for_ks;
} kp_provider_opts;

/* Fills the provider defaults (use_api_captions = true, everything else off/NULL). */
void kp_provider_opts_init(kp_provider_opts *o);

typedef struct kp_media_info {
    const char *entry_id;     /* one of entry_id / reference_id */
    const char *reference_id;
    const char *ks;           /* mediaInfo.ks: overrides opts->ks for this request */
    int redirect_from_entry_id; /* -1: provider default (true); 0: idEqual; 1: redirect */
} kp_media_info;

/* The HTTP outcome of the multirequest as the provider sees it. */
typedef struct kp_http_outcome {
    int transport_error;     /* 0, or a negative KP_E* code when no HTTP answer arrived */
    const char *transport_text; /* message for transport errors (may be NULL) */
    int status;              /* HTTP status (0 with a transport error) */
    const char *body;        /* response body (need not be NUL-terminated) */
    size_t body_len;
    const char *url;         /* the request URL */
    const char *const *headers; /* response headers as "name: value", names in any case */
    size_t n_headers;
    int attempt;             /* 1-based attempt number that produced this outcome */
} kp_http_outcome;

/* Builds the getMediaConfig multirequest: POST *url with JSON *body. Returns 0, or a
 * negative KP_E* code; on KP_EINVAL (no entry id and no reference id) *error is set to the
 * provider's 3000 MISSING_MANDATORY_PARAMS object and nothing else. */
int kp_ovp_media_request(const kp_provider_opts *o, const kp_media_info *mi, char **url,
                         json_t **body, json_t **error);

/* Parses the outcome. Returns 0 with exactly one of *config / *error set, or a negative
 * KP_E* code (out of memory) with neither set. */
int kp_ovp_media_parse(const kp_provider_opts *o, const kp_media_info *mi,
                       const kp_http_outcome *h, json_t **config, json_t **error);

#endif
