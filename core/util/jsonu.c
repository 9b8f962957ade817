/* jsonu.c: path lookup, subset matching and canonical dumping for jansson values. */
#include "kp/jsonu.h"

#include "kp/buf.h"
#include "kp/err.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *kp_json_path(const json_t *root, const char *path)
{
    const json_t *cur = root;
    const char *p = path;
    while (cur && p && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        char key[256];
        if (n >= sizeof(key))
            return NULL;
        memcpy(key, p, n);
        key[n] = '\0';
        if (json_is_object(cur)) {
            cur = json_object_get(cur, key);
        } else if (json_is_array(cur)) {
            char *end;
            long idx = strtol(key, &end, 10);
            if (*end || idx < 0)
                return NULL;
            cur = json_array_get(cur, (size_t)idx);
        } else {
            return NULL;
        }
        p = dot ? dot + 1 : NULL;
    }
    return (json_t *)cur;
}

const char *kp_json_str(const json_t *obj, const char *path, const char *dflt)
{
    const json_t *v = kp_json_path(obj, path);
    return json_is_string(v) ? json_string_value(v) : dflt;
}

long long kp_json_int(const json_t *obj, const char *path, long long dflt)
{
    const json_t *v = kp_json_path(obj, path);
    if (json_is_integer(v))
        return json_integer_value(v);
    if (json_is_real(v))
        return (long long)json_real_value(v);
    return dflt;
}

double kp_json_num(const json_t *obj, const char *path, double dflt)
{
    const json_t *v = kp_json_path(obj, path);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

bool kp_json_bool(const json_t *obj, const char *path, bool dflt)
{
    const json_t *v = kp_json_path(obj, path);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

bool kp_json_subset(const json_t *want, const json_t *have)
{
    if (!want)
        return true;
    if (!have)
        return false;
    if (json_is_integer(want) && json_is_integer(have)) /* exact, even beyond 2^53 */
        return json_integer_value(want) == json_integer_value(have);
    if (json_is_number(want) && json_is_number(have))
        return json_number_value(want) == json_number_value(have);
    if (json_typeof(want) != json_typeof(have))
        return false;
    switch (json_typeof(want)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)want, k, v)
        {
            if (!kp_json_subset(v, json_object_get(have, k)))
                return false;
        }
        return true;
    }
    case JSON_ARRAY:
        if (json_array_size(want) != json_array_size(have))
            return false;
        for (size_t i = 0; i < json_array_size(want); i++)
            if (!kp_json_subset(json_array_get(want, i), json_array_get(have, i)))
                return false;
        return true;
    case JSON_STRING:
        return strcmp(json_string_value(want), json_string_value(have)) == 0;
    default:
        return json_equal((json_t *)want, (json_t *)have);
    }
}

/* jansson's form of a real ("%.*g", then ".0" when that reads as an integer, and no '+' or
 * leading zeros in the exponent). */
static int put_real(kp_buf *b, double d, int precision)
{
    char tmp[64];
    int n = snprintf(tmp, sizeof(tmp), "%.*g", precision, d);
    if (n < 0 || (size_t)n >= sizeof(tmp) - 3)
        return KP_EINVAL;
    char *e = strchr(tmp, 'e');
    if (!e && !strchr(tmp, '.')) {
        memcpy(tmp + n, ".0", 3);
        n += 2;
    }
    if (e) {
        char *from = e + 1, *to = e + 1;
        if (*from == '+')
            from++;
        else if (*from == '-')
            *to++ = *from++;
        while (*from == '0' && from[1])
            from++;
        memmove(to, from, strlen(from) + 1);
        n = (int)strlen(tmp);
    }
    return kp_buf_append(b, tmp, (size_t)n);
}

static int put_int(kp_buf *b, json_int_t v)
{
    char tmp[24], *p = tmp + sizeof(tmp);
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    return kp_buf_append(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

static int put_string(kp_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    if (kp_buf_reserve(b, len + 2) < 0)
        return KP_ENOMEM;
    b->data[b->len++] = '"';
    size_t run = 0; /* bytes copied as they are, not yet appended */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            run++;
            continue;
        }
        if (kp_buf_append(b, s + i - run, run) < 0)
            return KP_ENOMEM;
        run = 0;
        char esc[7] = {'\\', 0};
        size_t n = 2;
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        if (kp_buf_append(b, esc, n) < 0)
            return KP_ENOMEM;
    }
    if (kp_buf_append(b, s + len - run, run) < 0 || kp_buf_putc(b, '"') < 0)
        return KP_ENOMEM;
    return KP_OK;
}

static int put_value(kp_buf *b, const json_t *v, int precision, int depth)
{
    if (depth > 2048)
        return KP_EINVAL;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        if (kp_buf_putc(b, '{') < 0)
            return KP_ENOMEM;
        const char *k;
        json_t *x;
        bool first = true;
        json_object_foreach((json_t *)v, k, x)
        {
            if ((!first && kp_buf_putc(b, ',') < 0) || put_string(b, k, strlen(k)) < 0 ||
                kp_buf_putc(b, ':') < 0)
                return KP_ENOMEM;
            int rc = put_value(b, x, precision, depth + 1);
            if (rc < 0)
                return rc;
            first = false;
        }
        return kp_buf_putc(b, '}');
    }
    case JSON_ARRAY: {
        if (kp_buf_putc(b, '[') < 0)
            return KP_ENOMEM;
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            if (i && kp_buf_putc(b, ',') < 0)
                return KP_ENOMEM;
            int rc = put_value(b, x, precision, depth + 1);
            if (rc < 0)
                return rc;
        }
        return kp_buf_putc(b, ']');
    }
    case JSON_STRING:
        return put_string(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return put_int(b, json_integer_value(v));
    case JSON_REAL:
        return put_real(b, json_real_value(v), precision);
    case JSON_TRUE:
        return kp_buf_puts(b, "true");
    case JSON_FALSE:
        return kp_buf_puts(b, "false");
    case JSON_NULL:
        return kp_buf_puts(b, "null");
    }
    return KP_EINVAL;
}

int kp_json_write(kp_buf *b, const json_t *v, int real_precision)
{
    if (!v)
        return KP_EINVAL;
    size_t mark = b->len;
    int rc = put_value(b, v, real_precision > 0 ? real_precision : 17, 0);
    if (rc < 0 && b->data) {
        b->len = mark;
        b->data[mark] = '\0';
    }
    return rc;
}

char *kp_json_dumps(const json_t *v)
{
    kp_buf b;
    kp_buf_init(&b);
    if (kp_json_write(&b, v, 12) < 0) {
        kp_buf_free(&b);
        return NULL;
    }
    return kp_buf_steal(&b);
}

int kp_json_merge(json_t *dst, const json_t *src)
{
    if (!json_is_object(dst) || !json_is_object(src))
        return KP_EINVAL;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)src, k, v)
    {
        json_t *d = json_object_get(dst, k);
        /* values are copied: sharing them would let a later merge into dst modify src */
        if (json_is_object(d) && json_is_object(v)) {
            int rc = kp_json_merge(d, v);
            if (rc < 0)
                return rc;
        } else if (json_object_set_new(dst, k, json_deep_copy(v)) != 0) {
            return KP_ENOMEM;
        }
    }
    return KP_OK;
}
