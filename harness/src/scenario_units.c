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

/* A decimal followed by one of the units (an empty suffix is the first unit's meaning);
 * the result is the value times the unit's scale, below 9e18. */
typedef struct unit {
    const char *suffix;
    double scale;
} unit;

static int parse_scaled(const char *s, const unit *units, size_t n_units, bool any_case,
                        double *out)
{
    if (!s)
        return KP_EPARSE;
    const char *p;
    double v;
    if (parse_decimal(s, &p, &v) < 0)
        return KP_EPARSE;
    for (size_t i = 0; i < n_units; i++) {
        bool same =
            any_case ? strcasecmp(p, units[i].suffix) == 0 : strcmp(p, units[i].suffix) == 0;
        if (same || (*p == '\0' && i == 0)) {
            double r = v * units[i].scale;
            if (!(r < 9.0e18))
                return KP_EPARSE;
            *out = r;
            return KP_OK;
        }
    }
    return KP_EPARSE;
}

int hx_parse_duration(const char *s, kp_time *out)
{
    static const unit units[] = {{"s", 1e6}, {"ms", 1e3}, {"m", 60e6}, {"h", 3600e6}};
    double us;
    if (!out || parse_scaled(s, units, sizeof(units) / sizeof(units[0]), false, &us) < 0)
        return KP_EPARSE;
    *out = (kp_time)llround(us); /* microseconds */
    return KP_OK;
}

int hx_parse_bandwidth(const char *s, long long *out)
{
    static const unit units[] = {{"bps", 1}, {"kbps", 1e3}, {"mbps", 1e6}, {"gbps", 1e9}};
    double bps;
    if (!out || parse_scaled(s, units, sizeof(units) / sizeof(units[0]), true, &bps) < 0)
        return KP_EPARSE;
    long long r = llround(bps);
    if (r <= 0)
        return KP_EPARSE;
    *out = r;
    return KP_OK;
}
