/* err.c: names and messages for the KP_ERR_MAP table. */
#include "kp/err.h"

const char *kp_err_name(int err)
{
    switch (err) {
    case KP_OK:
        return "KP_OK";
#define XX(code, msg) \
    case KP_##code:   \
        return "KP_" #code;
        KP_ERR_MAP(XX)
#undef XX
    default:
        return "KP_UNKNOWN";
    }
}

const char *kp_strerror(int err)
{
    switch (err) {
    case KP_OK:
        return "success";
#define XX(code, msg) \
    case KP_##code:   \
        return msg;
        KP_ERR_MAP(XX)
#undef XX
    default:
        return "unknown error";
    }
}
