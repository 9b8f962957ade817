/* source_select.c: playkit's source selection for a platform (see source_select.h). */
#include "source_select.h"

#include "kp/err.h"
#include "kp/jsonu.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *kp_adapter_name(kp_adapter a)
{
    switch (a) {
    case KP_ADAPTER_NATIVE:
        return "native";
    case KP_ADAPTER_HLS:
        return "hls";
    case KP_ADAPTER_DASH:
        return "dash";
    }
    return "?";
}

/* The default playback.streamPriority (playkit-js src/player-config.js); flash/hls, its
 * fourth entry, is never playable and is left out. */
static const char *const default_formats[] = {"hls", "dash", "progressive"};

static bool has_drm(const json_t *source)
{
    const json_t *d = json_object_get(source, "drmData");
    return json_is_array(d) && json_array_size(d) > 0;
}

/* Whether drmData lists key system ks. */
static bool drm_lists(const json_t *source, int ks)
{
    size_t i;
    const json_t *d;
    json_array_foreach(json_object_get(source, "drmData"), i, d)
    {
        if (kp_drm_system_parse(kp_json_str(d, "scheme", "")) == ks)
            return true;
    }
    return false;
}

/* drm.keySystem, else the platform's default (Edge); -1 when neither names a key system. */
static int configured_key_system(const json_t *config, const kp_platform *pf)
{
    const char *ks = kp_json_str(config, "drm.keySystem", "");
    if (!*ks && pf->default_key_system)
        ks = pf->default_key_system;
    return *ks ? kp_drm_system_parse(ks) : -1;
}

/* The NativeAdapter's canPlayType: the element's answer, with playkit's explicit false for
 * "application/x-mpegURL" (exactly) on Chrome and Edge outside iOS. */
static bool native_can_play_type(const kp_platform *pf, const char *mime)
{
    if (strcmp(mime, "application/x-mpegURL") == 0 && strcmp(pf->os, "iOS") != 0 &&
        (strcmp(pf->browser, "Chrome") == 0 || strcmp(pf->browser, "Edge") == 0))
        return false;
    return kp_platform_can_play_type(pf, mime);
}

static bool can_play_type(kp_adapter a, const kp_platform *pf, const char *mime)
{
    switch (a) {
    case KP_ADAPTER_NATIVE:
        return native_can_play_type(pf, mime);
    case KP_ADAPTER_HLS:
        return pf->mse && kp_mime_is_hls(mime);
    case KP_ADAPTER_DASH:
        return pf->mse && strcasecmp(mime, "application/dash+xml") == 0;
    }
    return false;
}

/* The key systems the DASH adapter's protocols cover, in its order. */
static const int dash_protocols[] = {KP_DRM_WIDEVINE, KP_DRM_PLAYREADY, KP_DRM_CLEARKEY};
#define N_DASH_PROTOCOLS (sizeof(dash_protocols) / sizeof(dash_protocols[0]))

/* canPlayDrm; *ks gets the key system the adapter will use (-1 when the platform has none
 * of the ones it accepted). */
static bool can_play_drm(kp_adapter a, const kp_platform *pf, const json_t *source, int configured,
                         int *ks)
{
    *ks = -1;
    switch (a) {
    case KP_ADAPTER_HLS:
        return false; /* hls.js never plays DRM */
    case KP_ADAPTER_NATIVE:
        if ((configured == KP_DRM_FAIRPLAY && drm_lists(source, KP_DRM_FAIRPLAY)) ||
            (drm_lists(source, KP_DRM_FAIRPLAY) && pf->webkit_media_keys)) {
            *ks = kp_platform_has_key_system(pf, KP_DRM_FAIRPLAY) ? KP_DRM_FAIRPLAY : -1;
            return true;
        }
        return false;
    case KP_ADAPTER_DASH: {
        bool configured_listed = false;
        for (size_t i = 0; i < N_DASH_PROTOCOLS; i++)
            if (dash_protocols[i] == configured && drm_lists(source, configured))
                configured_listed = true;
        if (configured_listed) {
            /* only the configured protocol is used */
            *ks = kp_platform_has_key_system(pf, (kp_drm_system)configured) ? configured : -1;
            return true;
        }
        bool any = false;
        for (size_t i = 0; i < N_DASH_PROTOCOLS; i++) {
            if (!drm_lists(source, dash_protocols[i]))
                continue;
            any = true;
            if (*ks < 0 && kp_platform_has_key_system(pf, (kp_drm_system)dash_protocols[i]))
                *ks = dash_protocols[i];
        }
        return any;
    }
    }
    return false;
}

/* preferNative[format]: the configuration's, else the platform's default for hls, false for
 * dash; formats without a key (progressive) count as true (MediaSourceProvider's default). */
static bool prefer_native(const json_t *config, const kp_platform *pf, const char *format)
{
    if (strcmp(format, "hls") != 0 && strcmp(format, "dash") != 0)
        return true;
    const json_t *pn = kp_json_path(config, "playback.preferNative");
    const json_t *v = json_object_get(pn, format);
    if (json_is_boolean(v))
        return json_is_true(v);
    return strcmp(format, "hls") == 0 ? pf->prefer_native_hls : false;
}

/* Tries sources[format][0]; true with *out filled when an adapter takes it. */
static bool try_format(const json_t *sources, const char *format, const json_t *config,
                       const kp_platform *pf, kp_source_available_fn available, void *ud,
                       kp_source_choice *out)
{
    const json_t *list = json_object_get(sources, format);
    if (!json_is_array(list) || json_array_size(list) == 0)
        return false;
    const json_t *source = json_array_get(list, 0);
    const char *mime = kp_json_str(source, "mimetype", "");
    kp_adapter order[3] = {KP_ADAPTER_NATIVE, KP_ADAPTER_HLS, KP_ADAPTER_DASH};
    if (!prefer_native(config, pf, format)) {
        order[0] = KP_ADAPTER_HLS;
        order[1] = KP_ADAPTER_DASH;
        order[2] = KP_ADAPTER_NATIVE;
    }
    int configured = configured_key_system(config, pf);
    for (size_t i = 0; i < 3; i++) {
        kp_adapter a = order[i];
        int ks = -1;
        if (!can_play_type(a, pf, mime))
            continue;
        if (has_drm(source) && !can_play_drm(a, pf, source, configured, &ks))
            continue;
        if (available && !available(ud, a, format, source))
            continue;
        *out = (kp_source_choice){.format = format,
                                  .adapter = a,
                                  .source = source,
                                  .list = list,
                                  .key_system = ks,
                                  .drm_unsupported = has_drm(source) && ks < 0};
        return true;
    }
    return false;
}

int kp_source_select(const json_t *sources, const json_t *config, const kp_platform *pf,
                     kp_source_available_fn available, void *ud, kp_source_choice *out)
{
    memset(out, 0, sizeof(*out));
    out->key_system = -1;
    if (!pf || !json_is_object(sources))
        return KP_ENOENT;
    const json_t *prio = kp_json_path(config, "playback.streamPriority");
    if (json_is_array(prio) && json_array_size(prio) > 0) {
        size_t i;
        const json_t *it;
        json_array_foreach(prio, i, it)
        {
            const char *engine = kp_json_str(it, "engine", "");
            const char *format = kp_json_str(it, "format", "");
            char lower[32];
            size_t n = strlen(format);
            if (strcasecmp(engine, "html5") != 0 || n == 0 || n >= sizeof(lower))
                continue;
            for (size_t k = 0; k <= n; k++)
                lower[k] = (char)tolower((unsigned char)format[k]);
            /* the result must not point into this stack buffer: use the sources' own key */
            const char *key = NULL;
            const char *k2;
            const json_t *v;
            json_object_foreach((json_t *)sources, k2, v)
            {
                if (strcmp(k2, lower) == 0)
                    key = k2;
            }
            if (key && try_format(sources, key, config, pf, available, ud, out))
                return KP_OK;
        }
        return KP_ENOENT;
    }
    for (size_t i = 0; i < sizeof(default_formats) / sizeof(default_formats[0]); i++)
        if (try_format(sources, default_formats[i], config, pf, available, ud, out))
            return KP_OK;
    return KP_ENOENT;
}
