/* platform.h: the capability profiles of the browsers and devices the reference player can
 * pretend to run on: which media the <video> element plays by itself, whether Media Source
 * Extensions exist (so that hls.js and shaka can run), which EME key systems the browser has,
 * its autoplay policy, and the identity (user agent, playkit Env names) it reports.
 *
 * Profiles are static tables (no state); kp_platform_find returns a pointer into them that
 * lives as long as the program. What each value is based on is said next to the table in
 * platform.c and in docs/model.md. The smart-TV profile models a Samsung Tizen 6 TV (2021).
 */
#ifndef KP_PLATFORM_H
#define KP_PLATFORM_H

#include "kp/drm.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct kp_platform {
    const char *name; /* "chrome", "firefox", "edge", "safari", "ios", "android", "smarttv" */
    const char *description; /* one line for people */
    const char *user_agent;  /* navigator.userAgent */
    const char *browser; /* playkit Env.browser.name ("Chrome", "Safari", "Mobile Safari" ...) */
    const char *os;      /* playkit Env.os.name ("Linux", "Mac OS", "iOS", "Tizen" ...) */
    const char *device_type; /* playkit Env.device.type: "" (desktop), "mobile", "smarttv" */
    /* window.MediaSource: hls.js (playkit-js-hls) and shaka (playkit-js-dash) can run. */
    bool mse;
    /* video.canPlayType() is non-empty for the HLS MIME types (native HLS playback). */
    bool native_hls;
    /* window.WebKitMediaKeys (the legacy FairPlay path playkit's NativeAdapter checks). */
    bool webkit_media_keys;
    /* EME key systems: a mask of 1u << KP_DRM_*. */
    unsigned key_systems;
    /* kaltura-player-js checkNativeHlsSupport: playback.preferNative.hls defaults to true
     * (macOS Safari and iOS) unless the configuration sets it. */
    bool prefer_native_hls;
    /* drm.keySystem default set by kaltura-player-js when the configuration leaves it empty
     * (configureEdgeDRMDefaultOptions), or NULL. */
    const char *default_key_system;
    /* The autoplay capability probe (Player.getCapabilities): with sound / muted allowed. */
    bool autoplay_unmuted;
    bool autoplay_muted;
} kp_platform;

/* The default profile: headless Chromium on Linux, as the real player was recorded on. */
#define KP_PLATFORM_DEFAULT "chrome"

/* The profile called `name` (exact, lower case), or NULL. */
const kp_platform *kp_platform_find(const char *name);
/* The profiles in table order: index < kp_platform_count(), else NULL. */
size_t kp_platform_count(void);
const kp_platform *kp_platform_at(size_t i);
/* "chrome, firefox, edge, safari, ios, android, smarttv" (static). */
const char *kp_platform_names(void);

/* Whether the platform has the EME key system. */
bool kp_platform_has_key_system(const kp_platform *pf, kp_drm_system ks);
/* HTMLVideoElement.canPlayType(mimetype) != "" on that platform (case-insensitive). */
bool kp_platform_can_play_type(const kp_platform *pf, const char *mimetype);
/* Whether the mimetype is one of the HLS ones hls.js accepts (case-insensitive). */
bool kp_mime_is_hls(const char *mimetype);

#endif
