/* platform.c: the capability profiles (see platform.h).
 *
 * What the values rest on:
 *   - MSE everywhere but iOS: the iPhone's Safari has no MediaSource before iOS 17.1 (the
 *     profile models iOS 16), so there only the element itself plays HLS.
 *   - native HLS: Safari, iOS and Tizen play HLS in the element; Chromium 156 does too
 *     (canPlayType("application/vnd.apple.mpegurl") is "maybe", real-player-observations §1),
 *     and so do Edge and Chrome for Android, but playkit's NativeAdapter answers false for
 *     exactly "application/x-mpegURL" on non-iOS Chrome and Edge (kaltura-core.md §3.2), which
 *     source_select.c applies. Firefox has no native HLS. No browser plays DASH natively.
 *   - key systems: as the brief of the DRM work gives them (chrome, firefox and android:
 *     Widevine + ClearKey; edge: PlayReady + Widevine + ClearKey; safari and ios: FairPlay,
 *     through WebKitMediaKeys too; smarttv: PlayReady + Widevine).
 *   - preferNative.hls: kaltura-player-js sets it on macOS Safari and iOS only.
 *   - drm.keySystem: kaltura-player-js sets PlayReady on Edge for Windows.
 *   - autoplay: headless Chromium let the real player autoplay with sound (observations §5.6)
 *     and the chrome profile follows that recording; the other browsers' default policies
 *     block audible autoplay and allow muted autoplay; a TV allows both.
 */
#include "platform.h"

#include <string.h>
#include <strings.h>

#define KS(x) (1u << (x))

static const kp_platform profiles[] = {
    {
        .name = "chrome",
        .description = "Chrome 156 on Linux (desktop), as the real player was recorded",
        .user_agent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                      "Chrome/156.0.0.0 Safari/537.36",
        .browser = "Chrome",
        .os = "Linux",
        .device_type = "",
        .mse = true,
        .native_hls = true,
        .key_systems = KS(KP_DRM_WIDEVINE) | KS(KP_DRM_CLEARKEY),
        .autoplay_unmuted = true,
        .autoplay_muted = true,
    },
    {
        .name = "firefox",
        .description = "Firefox 140 on Linux (desktop)",
        .user_agent = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
        .browser = "Firefox",
        .os = "Linux",
        .device_type = "",
        .mse = true,
        .key_systems = KS(KP_DRM_WIDEVINE) | KS(KP_DRM_CLEARKEY),
        .autoplay_muted = true,
    },
    {
        .name = "edge",
        .description = "Edge 156 on Windows 10 (desktop)",
        .user_agent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
                      "Gecko) Chrome/156.0.0.0 Safari/537.36 Edg/156.0.0.0",
        .browser = "Edge",
        .os = "Windows",
        .device_type = "",
        .mse = true,
        .native_hls = true,
        .key_systems = KS(KP_DRM_PLAYREADY) | KS(KP_DRM_WIDEVINE) | KS(KP_DRM_CLEARKEY),
        .default_key_system = "com.microsoft.playready",
        .autoplay_muted = true,
    },
    {
        .name = "safari",
        .description = "Safari 18 on macOS (desktop)",
        .user_agent = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
                      "(KHTML, like Gecko) Version/18.5 Safari/605.1.15",
        .browser = "Safari",
        .os = "Mac OS",
        .device_type = "",
        .mse = true,
        .native_hls = true,
        .webkit_media_keys = true,
        .key_systems = KS(KP_DRM_FAIRPLAY),
        .prefer_native_hls = true,
        .autoplay_muted = true,
    },
    {
        .name = "ios",
        .description = "Safari on iOS 16 (iPhone): no MediaSource",
        .user_agent = "Mozilla/5.0 (iPhone; CPU iPhone OS 16_7 like Mac OS X) AppleWebKit/605.1.15 "
                      "(KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
        .browser = "Mobile Safari",
        .os = "iOS",
        .device_type = "mobile",
        .native_hls = true,
        .webkit_media_keys = true,
        .key_systems = KS(KP_DRM_FAIRPLAY),
        .prefer_native_hls = true,
        .autoplay_muted = true,
    },
    {
        .name = "android",
        .description = "Chrome 156 on Android 10 (phone)",
        .user_agent = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
                      "Chrome/156.0.0.0 Mobile Safari/537.36",
        .browser = "Chrome",
        .os = "Android",
        .device_type = "mobile",
        .mse = true,
        .native_hls = true,
        .key_systems = KS(KP_DRM_WIDEVINE) | KS(KP_DRM_CLEARKEY),
        .autoplay_muted = true,
    },
    {
        .name = "smarttv",
        .description = "Samsung Tizen 6.0 TV (2021), its Chromium-76-based browser",
        .user_agent = "Mozilla/5.0 (SMART-TV; LINUX; Tizen 6.0) AppleWebKit/537.36 (KHTML, like "
                      "Gecko) 76.0.3809.146/6.0 TV Safari/537.36",
        .browser = "Samsung Browser",
        .os = "Tizen",
        .device_type = "smarttv",
        .mse = true,
        .native_hls = true,
        .key_systems = KS(KP_DRM_PLAYREADY) | KS(KP_DRM_WIDEVINE),
        .autoplay_unmuted = true,
        .autoplay_muted = true,
    },
};

#define N_PROFILES (sizeof(profiles) / sizeof(profiles[0]))

const kp_platform *kp_platform_find(const char *name)
{
    for (size_t i = 0; name && i < N_PROFILES; i++)
        if (strcmp(profiles[i].name, name) == 0)
            return &profiles[i];
    return NULL;
}

size_t kp_platform_count(void)
{
    return N_PROFILES;
}

const kp_platform *kp_platform_at(size_t i)
{
    return i < N_PROFILES ? &profiles[i] : NULL;
}

const char *kp_platform_names(void)
{
    return "chrome, firefox, edge, safari, ios, android, smarttv";
}

bool kp_platform_has_key_system(const kp_platform *pf, kp_drm_system ks)
{
    return ks >= 0 && ks < KP_DRM_SYSTEM_COUNT && (pf->key_systems & KS(ks)) != 0;
}

bool kp_mime_is_hls(const char *mimetype)
{
    static const char *const types[] = {"application/x-mpegurl", "application/vnd.apple.mpegurl",
                                        "audio/mpegurl",         "audio/x-mpegurl",
                                        "video/x-mpegurl",       "video/mpegurl",
                                        "application/mpegurl"};
    for (size_t i = 0; mimetype && i < sizeof(types) / sizeof(types[0]); i++)
        if (strcasecmp(mimetype, types[i]) == 0)
            return true;
    return false;
}

bool kp_platform_can_play_type(const kp_platform *pf, const char *mimetype)
{
    if (!mimetype)
        return false;
    /* every profile plays MP4 (H.264/AAC) and MP3 in the element */
    static const char *const progressive[] = {"video/mp4", "audio/mp4", "audio/mp3", "audio/mpeg"};
    for (size_t i = 0; i < sizeof(progressive) / sizeof(progressive[0]); i++)
        if (strcasecmp(mimetype, progressive[i]) == 0)
            return true;
    if (kp_mime_is_hls(mimetype))
        return pf->native_hls;
    return false; /* application/dash+xml and anything else */
}
