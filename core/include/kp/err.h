/* err.h: kpsim's internal error codes.
 *
 * Functions that can fail return an int: 0 (KP_OK) or more on success, a negative KP_E*
 * code on failure. One X-macro table below is the only source of truth; it generates the
 * enum, kp_err_name() ("KP_EPARSE") and kp_strerror() ("malformed input"). Codes are never
 * renumbered: new ones go at the end. A call that fails fires no callback.
 *
 * These are not the player's error objects (kp/perror.h): those follow Kaltura's numeric
 * tables and travel inside `error` events.
 */
#ifndef KP_ERR_H
#define KP_ERR_H

#define KP_ERR_MAP(XX)                                \
    XX(ENOMEM, "out of memory")                       \
    XX(EINVAL, "invalid argument")                    \
    XX(EIO, "input/output error")                     \
    XX(ENOENT, "no such item")                        \
    XX(EPARSE, "malformed input")                     \
    XX(EHTTP, "HTTP transfer failed")                 \
    XX(ETIMEDOUT, "timed out")                        \
    XX(ENOTSUP, "not supported")                      \
    XX(EMEDIA, "media library failure")               \
    XX(ESTATE, "call not valid in the current state") \
    XX(EEXIST, "already exists")                      \
    XX(EBUSY, "resource busy")                        \
    XX(ECRYPTO, "cryptographic library failure")      \
    XX(ERANGE, "value out of range")                  \
    XX(ESERVER, "server could not start")

enum kp_err_index_ {
    KP_ERR_INDEX_OK_ = 0,
#define XX(code, msg) KP_ERR_INDEX_##code,
    KP_ERR_MAP(XX)
#undef XX
        KP_ERR_INDEX_END_
};

typedef enum kp_err {
    KP_OK = 0,
#define XX(code, msg) KP_##code = -KP_ERR_INDEX_##code,
    KP_ERR_MAP(XX)
#undef XX
} kp_err;

/* "KP_EPARSE" for KP_EPARSE, "KP_OK" for 0, "KP_UNKNOWN" otherwise. Static string. */
const char *kp_err_name(int err);
/* A lower-case sentence fragment describing err. Static string. */
const char *kp_strerror(int err);

#endif
