/* scenario_units.c: the unit parsers of the scenario format, durations ("1.5s", "500ms")
 * and bandwidths ("8mbps"). Pure functions; nothing is allocated.
 */
#include "hx/scenario.h"

#include "kp/err.h"

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

/* A plain decimal: digits [. digits] or . digits, no sign, no exponent, at most 18
 * significant digits. Sets *end past it. */
static int parse_decimal(const char *s, const char **end, double *out)
{
    uint64_t mant = 0;
    int digits = 0, frac = 0;
    const char *p = s;
    bool any = false;
    for (; *p >= '0' && *p <= '9'; p++) {
        any = true;
        if (mant == 0 && *p == '0')
            continue; /* leading zeros are not significant */
        if (++digits > 18)
            return KP_EPARSE;
        mant = mant * 10 + (uint64_t)(*p - '0');
    }
    if (*p == '.') {
        p++;
        if (!(*p >= '0' && *p <= '9'))
            return KP_EPARSE;
        for (; *p >= '0' && *p <= '9'; p++) {
            any = true;
            if (mant != 0 || *p != '0')
                digits++;
            if (digits > 18 || frac >= 18)
                return KP_EPARSE;
            mant = mant * 10 + (uint64_t)(*p - '0');
            frac++;
        }
    }
    if (!any)
        return KP_EPARSE;
    *out = (double)mant / pow(10.0, frac);
    *end = p;
    return KP_OK;
}

int hx_parse_duration(const char *s, kp_time *out)
{
    if (!s || !out)
        return KP_EPARSE;
    const char *p;
    double v;
    if (parse_decimal(s, &p, &v) < 0)
        return KP_EPARSE;
    double scale; /* microseconds per unit */
    if (*p == '\0' || strcmp(p, "s") == 0)
        scale = 1e6;
    else if (strcmp(p, "ms") == 0)
        scale = 1e3;
    else if (strcmp(p, "m") == 0)
        scale = 60e6;
    else if (strcmp(p, "h") == 0)
        scale = 3600e6;
    else
        return KP_EPARSE;
    double us = v * scale;
    if (!(us < 9.0e18))
        return KP_EPARSE;
    *out = (kp_time)llround(us);
    return KP_OK;
}

int hx_parse_bandwidth(const char *s, long long *out)
{
    if (!s || !out)
        return KP_EPARSE;
    const char *p;
    double v;
    if (parse_decimal(s, &p, &v) < 0)
        return KP_EPARSE;
    double scale; /* bit/s per unit */
    if (*p == '\0' || strcasecmp(p, "bps") == 0)
        scale = 1;
    else if (strcasecmp(p, "kbps") == 0)
        scale = 1e3;
    else if (strcasecmp(p, "mbps") == 0)
        scale = 1e6;
    else if (strcasecmp(p, "gbps") == 0)
        scale = 1e9;
    else
        return KP_EPARSE;
    double bps = v * scale;
    if (!(bps < 9.0e18))
        return KP_EPARSE;
    long long r = llround(bps);
    if (r <= 0)
        return KP_EPARSE;
    *out = r;
    return KP_OK;
}
