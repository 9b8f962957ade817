/* perror.c: player error objects and the Kaltura name tables. */
#include "kp/perror.h"

#include "kp/jsonu.h"

#include <string.h>

json_t *kp_perror_new(int severity, int category, int code, json_t *data)
{
    return json_pack("{s:i, s:i, s:i, s:o}", "severity", severity, "category", category, "code",
                     code, "data", data ? data : json_object());
}

int kp_perror_category_for_provider(const json_t *e)
{
    long long code = kp_json_int(e, "code", 0);
    const char *msg = kp_json_str(e, "data.messages.0.code", "");
    switch (code) {
    case KP_PROVCODE_BLOCK_ACTION:
        if (strcmp(msg, "SESSION_RESTRICTED") == 0)
            return KP_PCAT_MEDIA_UNAVAILABLE;
        if (strcmp(msg, "COUNTRY_RESTRICTED") == 0)
            return KP_PCAT_GEO_LOCATION;
        if (strcmp(msg, "IP_RESTRICTED") == 0)
            return KP_PCAT_IP_RESTRICTED;
        if (strcmp(msg, "SITE_RESTRICTED") == 0)
            return KP_PCAT_SITE_RESTRICTED;
        return KP_PCAT_ACCESS_CONTROL_BLOCKED;
    case KP_PROVCODE_MEDIA_STATUS_NOT_READY:
        return KP_PCAT_MEDIA_NOT_READY;
    case KP_PROVCODE_SCHEDULED_RESTRICTED:
        return strcmp(msg, "SCHEDULED_RESTRICTED") == 0 ? KP_PCAT_SCHEDULED_RESTRICTED
                                                        : KP_PCAT_PLAYER;
    case KP_PROVCODE_DELETED_ENTRY:
        return KP_PCAT_DELETED_ENTRY;
    default:
        return KP_PCAT_PLAYER;
    }
}

json_t *kp_perror_load_failed(const json_t *provider_error)
{
    json_t *e = kp_perror_new(KP_SEVERITY_CRITICAL, kp_perror_category_for_provider(provider_error),
                              KP_PCODE_LOAD_FAILED, json_incref((json_t *)provider_error));
    if (e)
        json_object_set_new(e, "errorDetails", json_object());
    return e;
}

json_t *kp_perror_playlist_failed(const json_t *provider_error)
{
    json_t *e = kp_perror_new(KP_SEVERITY_CRITICAL, KP_PCAT_PLAYER, KP_PCODE_LOAD_FAILED,
                              json_incref((json_t *)provider_error));
    if (e)
        json_object_set_new(e, "errorDetails", json_object());
    return e;
}

const char *kp_pcode_name(int code)
{
    switch (code) {
#define XX(name, num) \
    case num:         \
        return #name;
        KP_PCODE_MAP(XX)
#undef XX
    default:
        return NULL;
    }
}

const char *kp_pcategory_name(int category)
{
    switch (category) {
#define XX(name, num) \
    case num:         \
        return #name;
        KP_PCATEGORY_MAP(XX)
#undef XX
    default:
        return NULL;
    }
}

const char *kp_provider_code_name(int code)
{
    switch (code) {
#define XX(name, num) \
    case num:         \
        return #name;
        KP_PROVIDER_CODE_MAP(XX)
#undef XX
    default:
        return NULL;
    }
}

const char *kp_provider_category_name(int category)
{
    switch (category) {
#define XX(name, num) \
    case num:         \
        return #name;
        KP_PROVIDER_CATEGORY_MAP(XX)
#undef XX
    default:
        return NULL;
    }
}

const char *kp_severity_name(int severity)
{
    return severity == 1 ? "RECOVERABLE" : severity == 2 ? "CRITICAL" : NULL;
}
