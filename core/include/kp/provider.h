/* provider.h: the OVP provider, as pure functions over the wire protocol.
 *
 * The provider turns "play entry X" into the exact multirequest the real Kaltura provider
 * (playkit-js-providers 2.46.0) sends, and the back-end's answer into either the media
 * config (ProviderMediaConfigObject, same JSON shape and key names) or the provider error
 * object {severity, category, code, data} (reference/kaltura-provider.md §1-§3). Transport is
 * not done here: the player (core/src/provider_glue.c) sends the request through kp_net and
 * hands the outcome back, so these functions can be tested without sockets.
 *
 * Nothing here keeps state between calls: every call sees only its arguments (the real
 * provider's sticky module-global config and sticky mediaInfo.ks are not copied).
 * All returned strings and JSON values are new references owned by the caller.
 * The places where kpsim knowingly differs from the real provider are listed at the top of
 * core/src/provider_ovp.c.
 */
#ifndef KP_PROVIDER_H
#define KP_PROVIDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define KP_PROVIDER_DEFAULT_SERVICE_URL "https://cdnapisec.kaltura.com/api_v3"
#define KP_PROVIDER_DEFAULT_CDN_URL     "https://cdnapisec.kaltura.com"
/* Sent when kp_provider_opts.client_tag is NULL (the real one is "html5:v" + player version). */
#define KP_PROVIDER_DEFAULT_CLIENT_TAG "html5:vkpsim"

typedef struct kp_provider_opts {
    const char *service_url; /* NULL or "": the default above (apply overrideServiceUrl first) */
    const char *cdn_url;     /* NULL: the default above; its scheme is the base protocol */
    long long partner_id;    /* 0 is a valid partner (then no partnerId key is sent) */
    const char *ks;          /* NULL or "": anonymous (a widget session is started) */
    const char *widget_id;   /* NULL or "": "_" + partner_id */
    long long uiconf_id;     /* 0: none */
    const char *client_tag;  /* e.g. "html5:v3.17.95"; NULL: KP_PROVIDER_DEFAULT_CLIENT_TAG */
    const char *referrer;    /* NULL or "": not sent; else added raw to getPlaybackContext */
    bool use_api_captions;   /* provider default true */
    bool load_thumbnail_with_ks; /* not used by the provider itself (the player's poster) */
    bool replace_host_only_manifest_urls;
    bool use_header_for_ks; /* playManifest URLs and captions get no KS */
    /* Added by the provider owner: */
    const char *vr_tag; /* NULL: "360" (an entry tagged with it gets sources.vr = {}) */
    /* session.isAnonymous: -1 (default) derives it (no opts KS: true; opts KS: false, see
     * provider_ovp.c); 0/1: the answer of a user.get the caller made itself. */
    int is_anonymous;
} kp_provider_opts;

/* Fills the provider defaults (use_api_captions = true, is_anonymous = -1, everything else
 * off/NULL/0). */
void kp_provider_opts_init(kp_provider_opts *o);

typedef struct kp_media_info {
    const char *entry_id; /* one of entry_id / reference_id ("" counts as absent) */
    const char *reference_id;
    /* mediaInfo.ks: overrides opts->ks for this request only; it does not change
     * session.isAnonymous. */
    const char *ks;
    int redirect_from_entry_id; /* -1: provider default (true); 0: idEqual; 1: redirect */
} kp_media_info;

/* The HTTP outcome of the multirequest as the provider sees it. */
typedef struct kp_http_outcome {
    /* 0, or a negative KP_E* code when no HTTP answer arrived (KP_ETIMEDOUT gives 1003
     * TIMEOUT, any other code 1002 HTTP_ERROR). */
    int transport_error;
    /* Message for transport errors (may be NULL). For logs only: the real error object has no
     * place for it. */
    const char *transport_text;
    int status;       /* HTTP status (0 with a transport error) */
    const char *body; /* response body (need not be NUL-terminated) */
    size_t body_len;
    const char *url;            /* the request URL (NULL: rebuilt from opts) */
    const char *const *headers; /* response headers as "name: value", names in any case */
    size_t n_headers;
    int attempt; /* 1-based attempt number that produced this outcome (0 counts as 1) */
    /* Added by the provider owner: the send-to-timeout time of a KP_ETIMEDOUT outcome,
     * reported in seconds as 1003's data.timeout. */
    long long elapsed_ms;
} kp_http_outcome;

/* Builds the getMediaConfig multirequest: POST *url with JSON *body. Returns 0, or a
 * negative KP_E* code; on KP_EINVAL (no entry id and no reference id) *error is set to the
 * provider's 3000 MISSING_MANDATORY_PARAMS object and nothing else. NULL pointer arguments
 * also give KP_EINVAL, with nothing set. */
int kp_ovp_media_request(const kp_provider_opts *o, const kp_media_info *mi, char **url,
                         json_t **body, json_t **error);

/* Parses the outcome. Returns 0 with exactly one of *config / *error set, or a negative
 * KP_E* code (out of memory, NULL arguments) with neither set. */
int kp_ovp_media_parse(const kp_provider_opts *o, const kp_media_info *mi, const kp_http_outcome *h,
                       json_t **config, json_t **error);

/* The eCDN ping (reference §2.8). When the playback context carries a REQUEST_HOST_REGEX
 * action (type 7) whose pattern matches the CDN URL and whose checkAliveTimeoutMs is > 0,
 * the real provider first GETs a ping URL and rewrites the source URLs only if it answers
 * 200. kp_ovp_media_parse cannot do network, so in that case it keeps the original URLs;
 * the caller may then:
 *   kp_ovp_ecdn_ping():  returns 1 and sets *ping_url (malloc'd) and *timeout_ms when a ping
 *                        is wanted for this outcome, 0 when not, or a negative KP_E* code;
 *   kp_ovp_ecdn_apply(): after the ping answered 200, rewrites config (the one
 *                        kp_ovp_media_parse returned for the same outcome) in place.
 *                        Returns 1 when it rewrote, 0 when there was nothing to do, or a
 *                        negative KP_E* code. */
int kp_ovp_ecdn_ping(const kp_provider_opts *o, const kp_media_info *mi, const kp_http_outcome *h,
                     char **ping_url, long long *timeout_ms);
int kp_ovp_ecdn_apply(const kp_provider_opts *o, const kp_media_info *mi, const kp_http_outcome *h,
                      json_t *config);

#endif
