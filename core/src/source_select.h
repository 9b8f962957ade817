/* source_select.h: which source the player plays, and with which media-source adapter: the
 * pure decision of playkit-js Player._selectEngineByPriority and
 * MediaSourceProvider.canPlaySource (reference/kaltura-core.md §3), for a platform profile.
 *
 * Rules (in order):
 *   - playback.streamPriority (default html5/hls, html5/dash, html5/progressive): entries
 *     whose engine is not "html5" are skipped (no other engine is registered, as in the web
 *     player, where flash is skipped silently); names are compared in lower case;
 *   - only sources[format][0] is considered, never a later source of the same format;
 *   - adapters are tried in playkit's registration order [native, hls, dash], with native
 *     moved first when playback.preferNative[format] is true and last when false; the
 *     default is the platform's (preferNative.hls is true on Safari and iOS), and for
 *     formats without a preferNative key (progressive) native goes first;
 *   - an adapter takes the source when it is supported on the platform (hls.js and shaka
 *     need MediaSource), its canPlayType accepts the mimetype (native: the element's
 *     canPlayType, false for exactly "application/x-mpegURL" on non-iOS Chrome and Edge;
 *     hls: the HLS types; dash: application/dash+xml), and, for a source with drmData, its
 *     canPlayDrm accepts it (native: FairPlay with WebKitMediaKeys, or drm.keySystem set to
 *     FairPlay and present; hls: never; dash: drm.keySystem when present in drmData, else
 *     any Widevine or PlayReady entry -- and ClearKey, a kpsim extension -- without asking
 *     the browser, as playkit-js-dash does);
 *   - the caller's `available` callback then says whether kpsim has an engine for that
 *     adapter and format that takes the source; when it has none, the next adapter is tried
 *     (kpsim cannot play what it has no engine for; docs/parity.md).
 * The result also names the key system the chosen adapter will use: drm.keySystem when the
 * platform has it, else the first of the source's key systems the platform has; when the
 * platform has none of them (shaka took a DRM source on faith), drm_unsupported is set; the
 * load then fails the way shaka's does (6001, from the player's EME, eme.h).
 */
#ifndef KP_SOURCE_SELECT_H
#define KP_SOURCE_SELECT_H

#include "platform.h"

#include <jansson.h>
#include <stdbool.h>

/* playkit-js's media-source adapters. */
typedef enum kp_adapter { KP_ADAPTER_NATIVE = 0, KP_ADAPTER_HLS, KP_ADAPTER_DASH } kp_adapter;

/* "native", "hls", "dash". */
const char *kp_adapter_name(kp_adapter a);

typedef struct kp_source_choice {
    const char *format;   /* "hls", "dash", "progressive" ... (borrowed from the input) */
    kp_adapter adapter;   /* who plays it */
    const json_t *source; /* sources[format][0] (borrowed) */
    const json_t *list;   /* sources[format]: the sourceselected payload (borrowed) */
    int key_system;       /* kp_drm_system used, or -1 (clear source, or none available) */
    bool drm_unsupported; /* a DRM source taken by an adapter the platform cannot serve */
} kp_source_choice;

/* Whether kpsim can play `source` of `format` with adapter `a` (an engine exists and takes it). */
typedef bool (*kp_source_available_fn)(void *ud, kp_adapter a, const char *format,
                                       const json_t *source);

/* sources: the media config's sources object; config: the player configuration (both
 * borrowed). available may be NULL (every adapter has an engine). Returns 0 with *out set,
 * or KP_ENOENT when no source is playable (the player's 7007). */
int kp_source_select(const json_t *sources, const json_t *config, const kp_platform *pf,
                     kp_source_available_fn available, void *ud, kp_source_choice *out);

#endif
