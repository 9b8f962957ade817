/* provider.h: the OVP and OTT (Phoenix) providers, as pure functions over the wire protocol,
 * plus a synchronous client that runs them over libcurl.
 *
 * The provider turns "play entry X" (or "load playlist / entry list Y") into the exact
 * request(s) the real Kaltura provider (playkit-js-providers 2.46.0) sends, and the back-end's
 * answer into either the config (ProviderMediaConfigObject or ProviderPlaylistObject, same
 * JSON shape and key names) or the provider error object {severity, category, code, data}
 * (reference/kaltura-provider.md §1-§4). The pure functions do no transport: the player
 * sends the request through kp_net and hands the outcome back, so they can be tested without
 * sockets. The client (provider_client.c, at the end) does the transport itself, for the
 * `kpsim provider` command and the conformance tests.
 *
 * Nothing here keeps state between calls: every call sees only its arguments (the real
 * provider's sticky module-global config and sticky mediaInfo.ks are not copied).
 * All returned strings and JSON values are new references owned by the caller.
 * The places where kpsim knowingly differs from the real provider are listed at the top of
 * core/src/provider_ovp.c (OVP media), core/src/provider_ovp_list.c (OVP playlists and entry
 * lists), core/src/provider_ott.c (OTT) and core/src/provider_client.c (transport).
 */
#ifndef KP_PROVIDER_H
#define KP_PROVIDER_H

#include "kp/log.h"

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
    /* OTT only: env.ottDisableMultirequest (getMediaConfig as three single requests). For OTT
     * a NULL client_tag sends none, and service_url has no default (NULL or "": KP_EINVAL). */
    bool ott_disable_multirequest;
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

/* ---- OVP user.get (provider_ovp.c) ---------------------------------------------------------
 * The real OVP provider asks user.get when it has a KS, and sets session.isAnonymous from the
 * answer (an id of "0", "" or none is anonymous). kp_ovp_user_get_request builds
 * POST {service_url}/service/user/action/get {"ks", "format":1}; kp_ovp_user_get_parse reads
 * the outcome: 1 anonymous, 0 a real user, -1 no usable answer (transport error, status, not
 * JSON: the real flag stays undefined). Put the 0/1 into kp_provider_opts.is_anonymous. */
int kp_ovp_user_get_request(const kp_provider_opts *o, const char *ks, char **url, json_t **body);
int kp_ovp_user_get_parse(const kp_http_outcome *h);

/* ---- OVP playlists and entry lists (provider_ovp_list.c) ----------------------------------- */

/* getPlaylistConfig({playlistId, ks}) (reference §1.4). */
typedef struct kp_playlist_info {
    const char *playlist_id;
    const char *ks; /* overrides opts->ks for this call ("" counts as absent) */
} kp_playlist_info;

/* One entry of an entry list (§1.5): the id, or (OVP) a reference id. */
typedef struct kp_entry_ref {
    const char *entry_id;             /* NULL or "": use reference_id (OVP) */
    const char *reference_id;         /* OVP */
    const char *asset_reference_type; /* OTT: NULL: "media" */
    bool entry_id_is_number;          /* OTT: send the id as a JSON number (digits only) */
} kp_entry_ref;

/* getEntryListConfig({entries, ks}). */
typedef struct kp_entry_list_info {
    const kp_entry_ref *entries;
    size_t n_entries;
    const char *ks;             /* overrides opts->ks for this call */
    int redirect_from_entry_id; /* OVP: -1 provider default (true), 0 idEqual, 1 redirect */
} kp_entry_list_info;

/* The empty-playlist retry (PJP PR #268): an empty playlist is asked again up to
 * KP_OVP_PLAYLIST_MAX_RETRIES times, KP_OVP_PLAYLIST_RETRY_INTERVAL_MS apart; retry k
 * (1..10) appends k commas to playlist.execute's responseProfile.fields (cache busting). */
#define KP_OVP_PLAYLIST_MAX_RETRIES       10
#define KP_OVP_PLAYLIST_RETRY_INTERVAL_MS 10000
/* Returned by kp_ovp_playlist_parse: "empty, ask again with retry + 1". */
#define KP_PROVIDER_RETRY 1

/* Builds the playlist multirequest for attempt `retry` (0 first, then 1..10). Returns 0, or
 * KP_EINVAL with *error set to 3000 MISSING_MANDATORY_PARAMS when playlist_id is missing, or
 * KP_EINVAL/KP_ENOMEM with nothing set. */
int kp_ovp_playlist_request(const kp_provider_opts *o, const kp_playlist_info *pi, int retry,
                            char **url, json_t **body, json_t **error);
/* Parses the answer to attempt `retry`. Returns 0 with exactly one of *playlist / *error set
 * (final), KP_PROVIDER_RETRY with neither set when the playlist came back empty and
 * retry < KP_OVP_PLAYLIST_MAX_RETRIES (wait, then send attempt retry + 1), or a negative
 * KP_E* code with neither set. An empty playlist at the last attempt gives *error. */
int kp_ovp_playlist_parse(const kp_provider_opts *o, const kp_playlist_info *pi, int retry,
                          const kp_http_outcome *h, json_t **playlist, json_t **error);

/* The entry-list multirequest: one baseEntry.list per entry. Same returns as the media
 * request (3000 when there is no entry, or an entry with neither id). */
int kp_ovp_entry_list_request(const kp_provider_opts *o, const kp_entry_list_info *el, char **url,
                              json_t **body, json_t **error);
/* 0 with exactly one of *playlist / *error set, or a negative KP_E* code. Entries whose list
 * failed are left out; it fails (1006) only when no entry could be loaded. */
int kp_ovp_entry_list_parse(const kp_provider_opts *o, const kp_entry_list_info *el,
                            const kp_http_outcome *h, json_t **playlist, json_t **error);

/* ---- OTT / Phoenix (provider_ott.c) -------------------------------------------------------- */

/* getMediaConfig(mediaInfo) of the OTT provider (reference §4.2). */
typedef struct kp_ott_media_info {
    const char *entry_id;       /* the asset id */
    bool entry_id_is_number;    /* send it as a JSON number (digits only), as OTT apps usually do */
    const char *ks;             /* mediaInfo.ks: overrides opts->ks and makes isAnonymous false */
    const char *media_type;     /* assetType: NULL: "media" (also "epg", "recording") */
    const char *context_type;   /* NULL: "PLAYBACK" (TRAILER, CATCHUP, START_OVER, DOWNLOAD) */
    const char *protocol;       /* contextDataParams.mediaProtocol; NULL: not sent */
    const char *file_ids;       /* contextDataParams.assetFileIds; NULL: not sent */
    const char *streamer_type;  /* NULL or "": not sent */
    const char *url_type;       /* NULL or "": not sent */
    const json_t *adapter_data; /* borrowed; NULL: not sent */
    const char *asset_reference_type; /* NULL: "media" */
    const char *const *formats;       /* keep only sources whose file type is listed (none: all) */
    size_t n_formats;
} kp_ott_media_info;

/* The multirequest (anonymousLogin when there is no KS, asset.get, asset.getPlaybackContext).
 * Returns 0; KP_EINVAL with *error = 3000 when entry_id is missing; KP_EINVAL with nothing
 * set for a NULL argument or a missing service_url; KP_ENOMEM. */
int kp_ott_media_request(const kp_provider_opts *o, const kp_ott_media_info *mi, char **url,
                         json_t **body, json_t **error);
/* 0 with exactly one of *config / *error set, or a negative KP_E* code. */
int kp_ott_media_parse(const kp_provider_opts *o, const kp_ott_media_info *mi,
                       const kp_http_outcome *h, json_t **config, json_t **error);

/* Single-request mode (opts->ott_disable_multirequest): the same calls, one POST each, to
 * {service_url}/service/<service>/action/<action>, the login's KS put into the next ones.
 * kp_ott_single_next() gets the outcomes so far (done[0..n_done-1], in order) and returns 1
 * with *url and *body set to the next request to send, 0 when no more are needed (then call
 * kp_ott_single_parse() with all outcomes), KP_EINVAL with *error = 3000 when entry_id is
 * missing, or another negative KP_E* code. */
int kp_ott_single_next(const kp_provider_opts *o, const kp_ott_media_info *mi,
                       const kp_http_outcome *done, size_t n_done, char **url, json_t **body,
                       json_t **error);
int kp_ott_single_parse(const kp_provider_opts *o, const kp_ott_media_info *mi,
                        const kp_http_outcome *done, size_t n_done, json_t **config,
                        json_t **error);

/* getEntryListConfig: N x asset.get (always one multirequest). Same contract as OVP. */
int kp_ott_entry_list_request(const kp_provider_opts *o, const kp_entry_list_info *el, char **url,
                              json_t **body, json_t **error);
int kp_ott_entry_list_parse(const kp_provider_opts *o, const kp_entry_list_info *el,
                            const kp_http_outcome *h, json_t **playlist, json_t **error);

/* getPlaylistConfig is not implemented by the OTT provider: always KP_ENOTSUP with *error =
 * {2, 3, 3002 METHOD_NOT_IMPLEMENTED, {message}} (KP_EINVAL for NULL pointers). */
int kp_ott_playlist_request(const kp_provider_opts *o, const kp_playlist_info *pi, char **url,
                            json_t **body, json_t **error);

/* ---- the synchronous client (provider_client.c) -------------------------------------------
 * Runs a provider call for real: builds the request(s) with the functions above, sends them
 * with libcurl (blocking; curl_global_init() must have been called), retries transport
 * errors like the real RequestBuilder, asks OVP user.get for session.isAnonymous, runs the
 * playlist retry loop and OTT single-request mode, and parses the answer. Not the player's
 * virtual network: this is wall-clock time. */
typedef struct kp_provider_client {
    long long timeout_ms; /* per HTTP attempt; 0: none (the real default) */
    int max_attempts;     /* networkRetryParameters.maxAttempts: transport tries (default 4) */
    long long playlist_retry_interval_ms; /* default KP_OVP_PLAYLIST_RETRY_INTERVAL_MS */
    bool user_get; /* OVP media: ask user.get when a KS is given (default true) */
    kp_log *log;   /* borrowed; may be NULL */
} kp_provider_client;

void kp_provider_client_init(kp_provider_client *c);

/* Each returns 0 with exactly one of the result / *error set (a provider answer, including
 * 3000 for missing ids and 1002/1003 for transport failures), or a negative KP_E* code with
 * neither set (NULL arguments, missing OTT service_url, out of memory). */
int kp_ovp_fetch_media(const kp_provider_client *c, const kp_provider_opts *o,
                       const kp_media_info *mi, json_t **config, json_t **error);
int kp_ovp_fetch_playlist(const kp_provider_client *c, const kp_provider_opts *o,
                          const kp_playlist_info *pi, json_t **playlist, json_t **error);
int kp_ovp_fetch_entry_list(const kp_provider_client *c, const kp_provider_opts *o,
                            const kp_entry_list_info *el, json_t **playlist, json_t **error);
int kp_ott_fetch_media(const kp_provider_client *c, const kp_provider_opts *o,
                       const kp_ott_media_info *mi, json_t **config, json_t **error);
int kp_ott_fetch_playlist(const kp_provider_client *c, const kp_provider_opts *o,
                          const kp_playlist_info *pi, json_t **playlist, json_t **error);
int kp_ott_fetch_entry_list(const kp_provider_client *c, const kp_provider_opts *o,
                            const kp_entry_list_info *el, json_t **playlist, json_t **error);

#endif
