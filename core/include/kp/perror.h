/* perror.h: the player's error objects and Kaltura's numeric tables.
 *
 * A player error is the JSON object {severity, category, code, data[, errorDetails]} that
 * travels as the payload of `error` events (playkit-js src/error/). Provider errors have
 * the same shape with the provider's own category and code tables (playkit-js-providers
 * src/util/error/); the player wraps them as `data` of a 7002 LOAD_FAILED error.
 * Every kp_perror_* constructor returns a new reference owned by the caller.
 */
#ifndef KP_PERROR_H
#define KP_PERROR_H

#include <jansson.h>

enum { KP_SEVERITY_RECOVERABLE = 1, KP_SEVERITY_CRITICAL = 2 };

#define KP_PCATEGORY_MAP(XX)       \
    XX(NETWORK, 1)                 \
    XX(TEXT, 2)                    \
    XX(MEDIA, 3)                   \
    XX(MANIFEST, 4)                \
    XX(STREAMING, 5)               \
    XX(DRM, 6)                     \
    XX(PLAYER, 7)                  \
    XX(ADS, 8)                     \
    XX(STORAGE, 9)                 \
    XX(CAST, 10)                   \
    XX(VR, 11)                     \
    XX(MEDIA_NOT_READY, 12)        \
    XX(GEO_LOCATION, 13)           \
    XX(MEDIA_UNAVAILABLE, 14)      \
    XX(IP_RESTRICTED, 15)          \
    XX(SITE_RESTRICTED, 16)        \
    XX(SCHEDULED_RESTRICTED, 17)   \
    XX(ACCESS_CONTROL_BLOCKED, 18) \
    XX(DELETED_ENTRY, 19)

enum kp_pcategory {
#define XX(name, num) KP_PCAT_##name = num,
    KP_PCATEGORY_MAP(XX)
#undef XX
};

/* The core codes the reference player raises today (playkit-js src/error/code.ts). */
#define KP_PCODE_MAP(XX)                              \
    XX(BAD_HTTP_STATUS, 1001)                         \
    XX(HTTP_ERROR, 1002)                              \
    XX(TIMEOUT, 1003)                                 \
    XX(REQUEST_FILTER_ERROR, 1006)                    \
    XX(RESPONSE_FILTER_ERROR, 1007)                   \
    XX(MEDIA_SOURCE_OPERATION_FAILED, 3014)           \
    XX(VIDEO_ERROR, 3016)                             \
    XX(HLS_FATAL_MEDIA_ERROR, 3018)                   \
    XX(HLS_FRAG_PARSING_ERROR, 3019)                  \
    XX(NATIVE_ADAPTER_LOAD_FAILED, 3022)              \
    XX(HLS_PLAYLIST_HEADER_MISSING, 4015)             \
    XX(INVALID_HLS_TAG, 4016)                         \
    XX(HLS_REQUIRED_ATTRIBUTE_MISSING, 4023)          \
    XX(HLS_REQUIRED_TAG_MISSING, 4024)                \
    XX(HLSJS_CANNOT_PARSE, 4030)                      \
    XX(NO_RECOGNIZED_KEY_SYSTEMS, 6000)               \
    XX(REQUESTED_KEY_SYSTEM_CONFIG_UNAVAILABLE, 6001) \
    XX(FAILED_TO_CREATE_CDM, 6002)                    \
    XX(INVALID_SERVER_CERTIFICATE, 6004)              \
    XX(FAILED_TO_GENERATE_LICENSE_REQUEST, 6006)      \
    XX(LICENSE_REQUEST_FAILED, 6007)                  \
    XX(LICENSE_RESPONSE_REJECTED, 6008)               \
    XX(ENCRYPTED_CONTENT_WITHOUT_DRM_INFO, 6010)      \
    XX(NO_LICENSE_SERVER_GIVEN, 6012)                 \
    XX(EXPIRED, 6014)                                 \
    XX(BAD_FAIRPLAY_RESPONSE, 6015)                   \
    XX(COULD_NOT_CREATE_KEY_SESSION, 6017)            \
    XX(LOAD_INTERRUPTED, 7000)                        \
    XX(LOAD_FAILED, 7002)                             \
    XX(NO_SOURCE_PROVIDED, 7006)                      \
    XX(NO_ENGINE_FOUND_TO_PLAY_THE_SOURCE, 7007)

enum kp_pcode {
#define XX(name, num) KP_PCODE_##name = num,
    KP_PCODE_MAP(XX)
#undef XX
};

/* The provider's tables (categories NETWORK 1, SERVICE 2, PROVIDER 3). */
#define KP_PROVIDER_CATEGORY_MAP(XX) \
    XX(NETWORK, 1)                   \
    XX(SERVICE, 2)                   \
    XX(PROVIDER, 3)

#define KP_PROVIDER_CODE_MAP(XX)       \
    XX(UNSUPPORTED_SCHEME, 1000)       \
    XX(BAD_HTTP_STATUS, 1001)          \
    XX(HTTP_ERROR, 1002)               \
    XX(TIMEOUT, 1003)                  \
    XX(MALFORMED_DATA_URI, 1004)       \
    XX(BAD_SERVER_RESPONSE, 1005)      \
    XX(MULTIREQUEST_API_ERROR, 1006)   \
    XX(API_RESPONSE_MISMATCH, 1007)    \
    XX(ERROR, 2000)                    \
    XX(BLOCK_ACTION, 2001)             \
    XX(MEDIA_STATUS_NOT_READY, 2002)   \
    XX(SCHEDULED_RESTRICTED, 2003)     \
    XX(DELETED_ENTRY, 2004)            \
    XX(MISSING_MANDATORY_PARAMS, 3000) \
    XX(MISSING_PLAY_SOURCE, 3001)      \
    XX(METHOD_NOT_IMPLEMENTED, 3002)

enum kp_provider_category {
#define XX(name, num) KP_PROVCAT_##name = num,
    KP_PROVIDER_CATEGORY_MAP(XX)
#undef XX
};

enum kp_provider_code {
#define XX(name, num) KP_PROVCODE_##name = num,
    KP_PROVIDER_CODE_MAP(XX)
#undef XX
};

/* {severity, category, code, data}; data is stolen (NULL becomes {}). */
json_t *kp_perror_new(int severity, int category, int code, json_t *data);
/* The 7002 LOAD_FAILED wrapper KalturaPlayer.loadMedia() emits for a provider error,
 * with the category chosen like kaltura-player-js getErrorCategory(). provider_error is
 * borrowed (the result holds its own reference). */
json_t *kp_perror_load_failed(const json_t *provider_error);
/* The 7002 wrapper of KalturaPlayer.loadPlaylist*(): always category 7 PLAYER. */
json_t *kp_perror_playlist_failed(const json_t *provider_error);
/* getErrorCategory(): the player category for a provider error object. */
int kp_perror_category_for_provider(const json_t *provider_error);

/* Symbolic names ("LOAD_FAILED", "PLAYER", "CRITICAL"); NULL when unknown. */
const char *kp_pcode_name(int code);
const char *kp_pcategory_name(int category);
const char *kp_provider_code_name(int code);
const char *kp_provider_category_name(int category);
const char *kp_severity_name(int severity);

#endif
