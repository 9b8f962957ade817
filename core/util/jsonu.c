/* jsonu.c: path lookup, subset matching and canonical dumping for jansson values. */
#include "kp/jsonu.h"

#include "kp/err.h"

#include <math.h>
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

char *kp_json_dumps(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(12));
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
