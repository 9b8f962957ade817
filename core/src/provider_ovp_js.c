/* provider_ovp_js.c: the JavaScript value semantics the OVP provider's output depends on
 * (truthiness, String(v), Number(v), toFixed(2), XHR's UTF-8 decoding), over jansson values.
 * Used only by provider_ovp*.c; returned json_t * are new references owned by the caller.
 */
#include "provider_ovp_priv.h"

#include "kp/err.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const json_t *kp_ovp__get(const json_t *v, const char *key)
{
    return json_is_object(v) ? json_object_get(v, key) : NULL;
}

bool kp_ovp__truthy(const json_t *v)
{
    if (!v)
        return false;
    switch (json_typeof(v)) {
    case JSON_NULL:
    case JSON_FALSE:
        return false;
    case JSON_INTEGER:
        return json_integer_value(v) != 0;
    case JSON_REAL: {
        double d = json_real_value(v);
        return d != 0 && !isnan(d);
    }
    case JSON_STRING:
        return json_string_length(v) > 0;
    default:
        return true;
    }
}

bool kp_ovp__is_num(const json_t *v, double n)
{
    return json_is_number(v) && json_number_value(v) == n;
}

bool kp_ovp__is_str(const json_t *v, const char *s)
{
    return json_is_string(v) && strlen(s) == json_string_length(v) &&
           memcmp(json_string_value(v), s, json_string_length(v)) == 0;
}

static double js_string_to_number(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t k;
    while (n && (k = kp_ovp__js_space(s, n)) != 0) {
        s += k;
        n -= k;
    }
    while (n) {
        size_t i = n;
        /* trailing whitespace: try the 1-, 2- and 3-byte forms */
        if (kp_ovp__js_space(s + i - 1, 1))
            n -= 1;
        else if (i >= 2 && kp_ovp__js_space(s + i - 2, 2) == 2)
            n -= 2;
        else if (i >= 3 && kp_ovp__js_space(s + i - 3, 3) == 3)
            n -= 3;
        else
            break;
    }
    if (n == 0)
        return 0;
    char tmp[128];
    if (n >= sizeof(tmp))
        return NAN;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    const char *p = tmp;
    if (p[0] == '0' &&
        (p[1] == 'x' || p[1] == 'X' || p[1] == 'o' || p[1] == 'O' || p[1] == 'b' || p[1] == 'B')) {
        int base = (p[1] == 'x' || p[1] == 'X') ? 16 : (p[1] == 'o' || p[1] == 'O') ? 8 : 2;
        if (!p[2])
            return NAN;
        double v = 0;
        for (const char *q = p + 2; *q; q++) {
            int d = (*q >= '0' && *q <= '9')   ? *q - '0'
                    : (*q >= 'a' && *q <= 'f') ? *q - 'a' + 10
                    : (*q >= 'A' && *q <= 'F') ? *q - 'A' + 10
                                               : 99;
            if (d >= base)
                return NAN;
            v = v * base + d;
        }
        return v;
    }
    const char *q = p;
    if (*q == '+' || *q == '-')
        q++;
    if (strcmp(q, "Infinity") == 0)
        return p[0] == '-' ? -INFINITY : INFINITY;
    /* StrDecimalLiteral: digits [. digits] | . digits, then an optional exponent */
    size_t int_digits = 0, frac_digits = 0;
    while (*q >= '0' && *q <= '9') {
        q++;
        int_digits++;
    }
    if (*q == '.') {
        q++;
        while (*q >= '0' && *q <= '9') {
            q++;
            frac_digits++;
        }
    }
    if (int_digits + frac_digits == 0)
        return NAN;
    if (*q == 'e' || *q == 'E') {
        q++;
        if (*q == '+' || *q == '-')
            q++;
        if (!(*q >= '0' && *q <= '9'))
            return NAN;
        while (*q >= '0' && *q <= '9')
            q++;
    }
    if (*q)
        return NAN;
    return strtod(p, NULL);
}

double kp_ovp__number(const json_t *v)
{
    if (!v)
        return NAN;
    switch (json_typeof(v)) {
    case JSON_NULL:
    case JSON_FALSE:
        return 0;
    case JSON_TRUE:
        return 1;
    case JSON_INTEGER:
        return (double)json_integer_value(v);
    case JSON_REAL:
        return json_real_value(v);
    case JSON_STRING:
        return js_string_to_number(json_string_value(v), json_string_length(v));
    default:
        return NAN;
    }
}

json_t *kp_ovp__num_json(double d)
{
    if (isnan(d) || isinf(d))
        return json_null();
    if (d == floor(d) && fabs(d) <= 9007199254740992.0)
        return json_integer((json_int_t)d);
    return json_real(d);
}

int kp_ovp__put_num(kp_buf *b, double d)
{
    if (isnan(d))
        return kp_buf_puts(b, "NaN");
    if (d == 0)
        return kp_buf_puts(b, "0");
    if (isinf(d))
        return kp_buf_puts(b, d < 0 ? "-Infinity" : "Infinity");
    if (d < 0) {
        int rc = kp_buf_putc(b, '-');
        return rc < 0 ? rc : kp_ovp__put_num(b, -d);
    }
    /* the shortest digit string that reads back as d */
    char e_form[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(e_form, sizeof(e_form), "%.*e", prec - 1, d);
        if (strtod(e_form, NULL) == d)
            break;
    }
    char digits[24];
    size_t k = 0;
    const char *p = e_form;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9' && k < sizeof(digits) - 1)
            digits[k++] = *p;
    digits[k] = '\0';
    while (k > 1 && digits[k - 1] == '0')
        digits[--k] = '\0';
    int e = *p == 'e' ? atoi(p + 1) : 0;
    int n = e + 1; /* position of the decimal point */
    int rc = 0;
    if ((int)k <= n && n <= 21) {
        rc = kp_buf_puts(b, digits);
        for (int i = 0; rc >= 0 && i < n - (int)k; i++)
            rc = kp_buf_putc(b, '0');
    } else if (0 < n && n <= 21) {
        rc = kp_buf_append(b, digits, (size_t)n);
        if (rc >= 0)
            rc = kp_buf_putc(b, '.');
        if (rc >= 0)
            rc = kp_buf_puts(b, digits + n);
    } else if (-6 < n && n <= 0) {
        rc = kp_buf_puts(b, "0.");
        for (int i = 0; rc >= 0 && i < -n; i++)
            rc = kp_buf_putc(b, '0');
        if (rc >= 0)
            rc = kp_buf_puts(b, digits);
    } else {
        rc = kp_buf_putc(b, digits[0]);
        if (rc >= 0 && k > 1)
            rc = kp_buf_printf(b, ".%s", digits + 1);
        if (rc >= 0)
            rc = kp_buf_printf(b, "e%c%d", n - 1 >= 0 ? '+' : '-', abs(n - 1));
    }
    return rc < 0 ? rc : 0;
}

int kp_ovp__put_str(kp_buf *b, const json_t *v)
{
    if (!v)
        return kp_buf_puts(b, "undefined");
    switch (json_typeof(v)) {
    case JSON_NULL:
        return kp_buf_puts(b, "null");
    case JSON_TRUE:
        return kp_buf_puts(b, "true");
    case JSON_FALSE:
        return kp_buf_puts(b, "false");
    case JSON_INTEGER:
        return kp_buf_printf(b, "%lld", (long long)json_integer_value(v));
    case JSON_REAL:
        return kp_ovp__put_num(b, json_real_value(v));
    case JSON_STRING:
        return kp_buf_append(b, json_string_value(v), json_string_length(v));
    case JSON_ARRAY:
        /* Array.prototype.join(','): null and undefined elements are empty */
        for (size_t i = 0; i < json_array_size(v); i++) {
            const json_t *e = json_array_get(v, i);
            int rc = i ? kp_buf_putc(b, ',') : 0;
            if (rc >= 0 && !json_is_null(e))
                rc = kp_ovp__put_str(b, e);
            if (rc < 0)
                return rc;
        }
        return 0;
    default:
        return kp_buf_puts(b, "[object Object]");
    }
}

double kp_ovp__round2(double d)
{
    if (isnan(d) || isinf(d) || fabs(d) >= 1e21)
        return d;
    /* glibc prints the exact binary value; JS picks the larger n on an exact tie, which is
     * "round half up" on the magnitude. */
    char exact[1200];
    int len = snprintf(exact, sizeof(exact), "%.1100f", fabs(d));
    if (len <= 0 || (size_t)len >= sizeof(exact))
        return d;
    char *dot = strchr(exact, '.');
    if (!dot)
        return d;
    bool up = dot[3] >= '5';
    size_t keep = (size_t)(dot - exact) + 3;
    exact[keep] = '\0';
    if (up) {
        /* increment the last kept digit, with carry */
        long q = (long)keep - 1;
        while (q >= 0) {
            if (exact[q] == '.') {
                q--;
            } else if (exact[q] == '9') {
                exact[q] = '0';
                q--;
            } else {
                exact[q]++;
                break;
            }
        }
        if (q < 0) {
            memmove(exact + 1, exact, keep + 1);
            exact[0] = '1';
        }
    }
    double r = strtod(exact, NULL);
    return d < 0 ? -r : r;
}

json_t *kp_ovp__string_bytes(const char *s, size_t n)
{
    if (!s)
        return json_string("");
    kp_buf b;
    kp_buf_init(&b);
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    int rc = kp_buf_reserve(&b, n + 1);
    while (rc >= 0 && i < n) {
        unsigned char c = p[i];
        size_t need = 0;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c < 0x80) {
            rc = kp_buf_putc(&b, (char)c);
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0;
            if (c == 0xED)
                hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90;
            if (c == 0xF4)
                hi = 0x8F;
        } else {
            rc = kp_buf_puts(&b, "\xEF\xBF\xBD");
            i++;
            continue;
        }
        size_t got = 0;
        while (got < need && i + 1 + got < n) {
            unsigned char cc = p[i + 1 + got];
            unsigned char l = got == 0 ? lo : 0x80, h = got == 0 ? hi : 0xBF;
            if (cc < l || cc > h)
                break;
            got++;
        }
        if (got == need) {
            rc = kp_buf_append(&b, p + i, need + 1);
            i += need + 1;
        } else {
            /* the maximal subpart becomes one U+FFFD */
            rc = kp_buf_puts(&b, "\xEF\xBF\xBD");
            i += got + 1;
        }
    }
    json_t *j = rc < 0 ? NULL : json_stringn(b.data ? b.data : "", b.len);
    kp_buf_free(&b);
    return j;
}

json_t *kp_ovp__copy(const json_t *v)
{
    return v ? json_deep_copy(v) : NULL;
}

int kp_ovp__set_raw(json_t *obj, const char *key, const json_t *v)
{
    if (!v)
        return 0;
    return json_object_set_new(obj, key, json_deep_copy(v)) == 0 ? 0 : KP_ENOMEM;
}

int kp_ovp__set_or_del(json_t *obj, const char *key, json_t *v)
{
    if (!v) {
        json_object_del(obj, key);
        return 0;
    }
    return json_object_set_new(obj, key, v) == 0 ? 0 : KP_ENOMEM;
}

/* JS \s at s (UTF-8): its length in bytes, or 0. */
size_t kp_ovp__js_space(const unsigned char *s, size_t n)
{
    if (n >= 1 && (s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r')))
        return 1;
    if (n >= 2 && s[0] == 0xC2 && s[1] == 0xA0)
        return 2;
    if (n >= 3) {
        unsigned cp =
            ((unsigned)(s[0] & 0x0F) << 12) | ((unsigned)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
        if ((s[0] & 0xF0) == 0xE0 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80 &&
            (cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
             cp == 0x202F || cp == 0x205F || cp == 0x3000 || cp == 0xFEFF))
            return 3;
    }
    return 0;
}
