/* log.c: level-filtered, module-prefixed logging to one FILE. */
#include "kp/log.h"

#include <stdlib.h>
#include <string.h>

struct kp_log {
    kp_log_level level;
    FILE *sink;
};

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG", "TRACE"};

kp_log *kp_log_new(kp_log_level level, FILE *sink)
{
    kp_log *lg = calloc(1, sizeof(*lg));
    if (!lg)
        return NULL;
    lg->level = level;
    lg->sink = sink ? sink : stderr;
    return lg;
}

void kp_log_free(kp_log *lg)
{
    free(lg);
}

void kp_log_set_level(kp_log *lg, kp_log_level level)
{
    if (lg)
        lg->level = level;
}

bool kp_log_enabled(const kp_log *lg, kp_log_level level)
{
    return lg && level <= lg->level;
}

int kp_log_level_parse(const char *s)
{
    static const char *const names[] = {"error", "warn", "info", "debug", "trace"};
    for (int i = 0; i < 5; i++)
        if (s && strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

void kp_vlogf(const kp_log *lg, kp_log_level level, const char *module, const char *fmt, va_list ap)
{
    if (!kp_log_enabled(lg, level))
        return;
    char line[1024];
    vsnprintf(line, sizeof(line), fmt, ap);
    fprintf(lg->sink, "kpsim %-5s [%s] %s\n", level_names[level], module ? module : "-", line);
}

void kp_logf(const kp_log *lg, kp_log_level level, const char *module, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kp_vlogf(lg, level, module, fmt, ap);
    va_end(ap);
}
