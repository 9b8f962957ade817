/* codec.c: base64, hex, URL escaping and splitmix64. */
#include "kp/codec.h"

#include "kp/err.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Both alphabets: padded with '=' (standard) or not (base64url, as EME's JSON has it). */
static char *encode(const void *data, size_t len, const char *alpha, bool pad)
{
    const unsigned char *in = data;
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = alpha[(v >> 18) & 63];
        out[o++] = alpha[(v >> 12) & 63];
        if (i + 1 < len || pad)
            out[o++] = i + 1 < len ? alpha[(v >> 6) & 63] : '=';
        if (i + 2 < len || pad)
            out[o++] = i + 2 < len ? alpha[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

/* Decodes s[0, n) (no '='): the byte count, KP_EPARSE (a character outside the alphabet, or
 * with strict, leftover bits that are not zero or a length of 4k+1), KP_ERANGE (over cap). */
static int decode(const char *s, size_t n, const char *alpha, bool strict, unsigned char *out,
                  size_t cap)
{
    if (strict && n % 4 == 1)
        return KP_EPARSE;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = s[i] ? memchr(alpha, s[i], 64) : NULL;
        if (!p)
            return KP_EPARSE;
        acc = (acc << 6) | (uint32_t)(p - alpha);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= cap)
                return KP_ERANGE;
            out[o++] = (unsigned char)((acc >> bits) & 0xff);
        }
    }
    if (strict && (acc & ((1u << bits) - 1)))
        return KP_EPARSE;
    return (int)o;
}

char *kp_base64_encode(const void *data, size_t len)
{
    return encode(data, len, b64, true);
}

int kp_base64_decode(const char *s, unsigned char *out, size_t cap)
{
    size_t n = strcspn(s, "=");
    for (const char *p = s + n; *p; p++)
        if (*p != '=')
            return KP_EPARSE;
    return decode(s, n, b64, false, out, cap);
}

char *kp_b64url_encode(const void *data, size_t len)
{
    return encode(data, len, b64url, false);
}

int kp_b64url_decode(const char *s, size_t n, uint8_t *out, size_t cap)
{
    return decode(s, n, b64url, true, out, cap);
}

char *kp_hex_encode(const void *data, size_t len)
{
    const unsigned char *in = data;
    char *out = malloc(2 * len + 1);
    if (!out)
        return NULL;
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
    return out;
}

char *kp_url_escape(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(3 * n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            out[o++] = (char)c;
        } else {
            snprintf(out + o, 4, "%%%02X", c);
            o += 3;
        }
    }
    out[o] = '\0';
    return out;
}

uint64_t kp_fnv1a(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 14695981039346656037ULL; /* the FNV-1a 64-bit offset basis */
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

void kp_rng_seed(kp_rng *r, uint64_t seed)
{
    r->state = seed;
}

void kp_rng_seed_str(kp_rng *r, const char *s)
{
    r->state = kp_fnv1a(s, strlen(s));
}

uint64_t kp_rng_next(kp_rng *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void kp_rng_uuid(kp_rng *r, char out[37])
{
    uint64_t hi = kp_rng_next(r), lo = kp_rng_next(r);
    hi = (hi & ~0xf000ULL) | 0x4000ULL;                        /* version 4 */
    lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL; /* variant 10 */
    snprintf(out, 37, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(hi >> 32),
             (unsigned)((hi >> 16) & 0xffff), (unsigned)(hi & 0xffff), (unsigned)(lo >> 48),
             (unsigned long long)(lo & 0xffffffffffffULL));
}
