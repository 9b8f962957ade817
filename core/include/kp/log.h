/* log.h: the one logger. Every line carries a level and a module prefix:
 *   "kpsim WARN  [hls] fragment 3 failed: ..."
 * A NULL logger is valid and silent. Never log key material (DRM keys, KS secrets).
 * The logger is owned by whoever created it (normally main or a test) and must outlive
 * every object it was handed to.
 */
#ifndef KP_LOG_H
#define KP_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

typedef enum kp_log_level {
    KP_LOG_ERROR = 0,
    KP_LOG_WARN,
    KP_LOG_INFO,
    KP_LOG_DEBUG,
    KP_LOG_TRACE
} kp_log_level;

typedef struct kp_log kp_log;

kp_log *kp_log_new(kp_log_level level, FILE *sink);
void kp_log_free(kp_log *lg);
void kp_log_set_level(kp_log *lg, kp_log_level level);
bool kp_log_enabled(const kp_log *lg, kp_log_level level);
/* Parses "error", "warn", "info", "debug", "trace"; returns -1 for anything else. */
int kp_log_level_parse(const char *s);

void kp_logf(const kp_log *lg, kp_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void kp_vlogf(const kp_log *lg, kp_log_level level, const char *module, const char *fmt,
              va_list ap);

#define KP_LOG_E(lg, mod, ...) kp_logf((lg), KP_LOG_ERROR, (mod), __VA_ARGS__)
#define KP_LOG_W(lg, mod, ...) kp_logf((lg), KP_LOG_WARN, (mod), __VA_ARGS__)
#define KP_LOG_I(lg, mod, ...) kp_logf((lg), KP_LOG_INFO, (mod), __VA_ARGS__)
#define KP_LOG_D(lg, mod, ...) kp_logf((lg), KP_LOG_DEBUG, (mod), __VA_ARGS__)
#define KP_LOG_T(lg, mod, ...) kp_logf((lg), KP_LOG_TRACE, (mod), __VA_ARGS__)

#endif
