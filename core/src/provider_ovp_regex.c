/* provider_ovp_regex.c: the eCDN REQUEST_HOST_REGEX action's JavaScript regex (flag "i"),
 * translated to a POSIX extended regex, and JS String.prototype.replace over it.
 *
 * What translates: literals, ., ^, $, |, groups (capturing, (?:...) and (?<name>...)),
 * greedy quantifiers * + ? {n,m}, classes [...] with ranges and \d \w \s, the escapes \d \D
 * \w \W \s \S \n \r \t \f \v \xHH \uHHHH \/ and escaped punctuation. What does not (the
 * caller then leaves URLs alone): lookaround, lazy quantifiers, back-references, \b \B,
 * non-ASCII inside a class. POSIX picks the leftmost-longest match where JS picks the
 * leftmost-first one; the two differ only for ambiguous alternations, which host patterns
 * do not use. Returned strings are malloc'd and owned by the caller.
 */
#include "provider_ovp_priv.h"

#include "kp/err.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>

#define MAX_GROUPS 99

struct kp_ovp__regex {
    regex_t re;
    size_t n_posix; /* POSIX groups (capturing and translated (?:)) */
    size_t n_js;    /* JS capturing groups */
    size_t js_to_posix[MAX_GROUPS + 1];
};

static bool ere_special(char c)
{
    return strchr(".[]{}()*+?^$|\\", c) != NULL;
}

static int put_literal(kp_buf *b, unsigned char c)
{
    if (c == '\n' || c == '\r') /* fine inside ERE as themselves */
        return kp_buf_putc(b, (char)c);
    if (ere_special((char)c)) {
        int rc = kp_buf_putc(b, '\\');
        return rc < 0 ? rc : kp_buf_putc(b, (char)c);
    }
    return kp_buf_putc(b, (char)c);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads \xHH or \uHHHH at p (after the backslash and letter); returns the code point or
 * -1 when the digits are not there (JS then reads the letter literally). */
static long read_hex(const char *p, int n)
{
    long v = 0;
    for (int i = 0; i < n; i++) {
        int h = hexval(p[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

static int put_codepoint(kp_buf *b, long cp)
{
    if (cp < 0x80)
        return put_literal(b, (unsigned char)cp);
    char u[4];
    size_t n;
    if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    }
    return kp_buf_append(b, u, n);
}

/* A bracket expression being collected: single bytes and named classes. */
typedef struct rx_class {
    bool negated;
    unsigned char has[256];
    char ranges[64][2];
    size_t n_ranges;
    bool space, digit, word;
} rx_class;

static int class_add_escape(rx_class *cl, const char **pp, int *single)
{
    const char *p = *pp; /* at the char after '\\' */
    *single = -1;
    switch (*p) {
    case 'd':
        cl->digit = true;
        break;
    case 'w':
        cl->word = true;
        break;
    case 's':
        cl->space = true;
        break;
    case 'D':
    case 'W':
    case 'S':
        return KP_ENOTSUP;
    case 'n':
        *single = '\n';
        break;
    case 'r':
        *single = '\r';
        break;
    case 't':
        *single = '\t';
        break;
    case 'f':
        *single = '\f';
        break;
    case 'v':
        *single = '\v';
        break;
    case 'b':
        *single = '\b';
        break;
    case 'x': {
        long v = read_hex(p + 1, 2);
        if (v >= 0) {
            *single = (int)v;
            p += 2;
        } else {
            *single = 'x';
        }
        break;
    }
    case 'u': {
        long v = read_hex(p + 1, 4);
        if (v >= 0) {
            *single = (int)v;
            p += 4;
        } else {
            *single = 'u';
        }
        break;
    }
    case '\0':
        return KP_EPARSE;
    default:
        if (*p >= '0' && *p <= '9')
            return KP_ENOTSUP;
        *single = (unsigned char)*p;
        break;
    }
    if (*single >= 0x80)
        return KP_ENOTSUP;
    *pp = p + 1;
    return 0;
}

/* Parses a class starting after '[' at *pp; leaves *pp after the closing ']'. */
static int parse_class(const char **pp, kp_buf *out)
{
    rx_class cl;
    memset(&cl, 0, sizeof(cl));
    const char *p = *pp;
    if (*p == '^') {
        cl.negated = true;
        p++;
    }
    if (*p == ']')
        return KP_ENOTSUP; /* JS [] and [^]: no POSIX spelling */
    while (*p && *p != ']') {
        int lo;
        if (*p == '\\') {
            p++;
            int rc = class_add_escape(&cl, &p, &lo);
            if (rc < 0)
                return rc;
            if (lo < 0)
                continue; /* a named class; it cannot start a range */
        } else {
            if ((unsigned char)*p >= 0x80)
                return KP_ENOTSUP;
            lo = (unsigned char)*p++;
        }
        if (p[0] == '-' && p[1] && p[1] != ']') {
            int hi;
            p++;
            if (*p == '\\') {
                p++;
                int rc = class_add_escape(&cl, &p, &hi);
                if (rc < 0)
                    return rc;
                if (hi < 0)
                    return KP_ENOTSUP;
            } else {
                if ((unsigned char)*p >= 0x80)
                    return KP_ENOTSUP;
                hi = (unsigned char)*p++;
            }
            if (hi < lo)
                return KP_EPARSE;
            if (strchr("]-^[\\", lo) || strchr("]-^[\\", hi)) {
                for (int c = lo; c <= hi; c++)
                    cl.has[c] = 1;
            } else {
                if (cl.n_ranges >= sizeof(cl.ranges) / sizeof(cl.ranges[0]))
                    return KP_ENOTSUP;
                cl.ranges[cl.n_ranges][0] = (char)lo;
                cl.ranges[cl.n_ranges][1] = (char)hi;
                cl.n_ranges++;
            }
        } else {
            cl.has[lo] = 1;
        }
    }
    if (*p != ']')
        return KP_EPARSE;
    *pp = p + 1;

    /* POSIX order: ']' first, '-' last, '^' never first, '[' late. */
    size_t members = cl.n_ranges + cl.space + cl.digit + cl.word;
    for (int c = 0; c < 256; c++)
        members += cl.has[c];
    if (!cl.negated && members == 1 && cl.has['^'])
        return kp_buf_puts(out, "\\^");
    int rc = kp_buf_putc(out, '[');
    if (rc >= 0 && cl.negated)
        rc = kp_buf_putc(out, '^');
    if (rc >= 0 && cl.has[']'])
        rc = kp_buf_putc(out, ']');
    for (int c = 1; rc >= 0 && c < 256; c++)
        if (cl.has[c] && !strchr("]-^[", c))
            rc = kp_buf_putc(out, (char)c);
    for (size_t i = 0; rc >= 0 && i < cl.n_ranges; i++)
        rc = kp_buf_printf(out, "%c-%c", cl.ranges[i][0], cl.ranges[i][1]);
    if (rc >= 0 && cl.digit)
        rc = kp_buf_puts(out, "0-9");
    if (rc >= 0 && cl.word)
        rc = kp_buf_puts(out, "A-Za-z0-9_");
    if (rc >= 0 && cl.space)
        rc = kp_buf_puts(out, "[:space:]");
    if (rc >= 0 && cl.has['^'])
        rc = kp_buf_putc(out, '^');
    if (rc >= 0 && cl.has['['])
        rc = kp_buf_putc(out, '[');
    if (rc >= 0 && cl.has['-'])
        rc = kp_buf_putc(out, '-');
    if (rc >= 0)
        rc = kp_buf_putc(out, ']');
    return rc < 0 ? rc : 0;
}

/* true when p starts a JS {n}, {n,} or {n,m} quantifier; *len is its length. */
static bool brace_quantifier(const char *p, size_t *len)
{
    const char *q = p + 1;
    if (!(*q >= '0' && *q <= '9'))
        return false;
    while (*q >= '0' && *q <= '9')
        q++;
    if (*q == ',') {
        q++;
        while (*q >= '0' && *q <= '9')
            q++;
    }
    if (*q != '}')
        return false;
    *len = (size_t)(q - p) + 1;
    return true;
}

static int translate(const char *p, kp_buf *out, kp_ovp__regex *re)
{
    int rc = 0;
    while (rc >= 0 && *p) {
        char c = *p;
        if (c == '\\') {
            p++;
            char e = *p;
            if (!e)
                return KP_EPARSE;
            p++;
            switch (e) {
            case 'd':
                rc = kp_buf_puts(out, "[0-9]");
                break;
            case 'D':
                rc = kp_buf_puts(out, "[^0-9]");
                break;
            case 'w':
                rc = kp_buf_puts(out, "[A-Za-z0-9_]");
                break;
            case 'W':
                rc = kp_buf_puts(out, "[^A-Za-z0-9_]");
                break;
            case 's':
                rc = kp_buf_puts(out, "[[:space:]]");
                break;
            case 'S':
                rc = kp_buf_puts(out, "[^[:space:]]");
                break;
            case 'b':
            case 'B':
            case 'k':
                return KP_ENOTSUP;
            case 'n':
                rc = kp_buf_putc(out, '\n');
                break;
            case 'r':
                rc = kp_buf_putc(out, '\r');
                break;
            case 't':
                rc = kp_buf_putc(out, '\t');
                break;
            case 'f':
                rc = kp_buf_putc(out, '\f');
                break;
            case 'v':
                rc = kp_buf_putc(out, '\v');
                break;
            case 'x':
            case 'u': {
                int n = e == 'x' ? 2 : 4;
                long v = read_hex(p, n);
                if (v < 0) {
                    rc = put_literal(out, (unsigned char)e);
                } else {
                    if (v == 0)
                        return KP_ENOTSUP;
                    rc = put_codepoint(out, v);
                    p += n;
                }
                break;
            }
            default:
                if (e >= '0' && e <= '9')
                    return KP_ENOTSUP; /* back-reference or \0 */
                rc = put_literal(out, (unsigned char)e);
                break;
            }
        } else if (c == '(') {
            p++;
            if (p[0] == '?') {
                if (p[1] == ':') {
                    p += 2;
                } else if (p[1] == '<' && p[2] != '=' && p[2] != '!') {
                    const char *end = strchr(p, '>');
                    if (!end)
                        return KP_EPARSE;
                    p = end + 1;
                    if (re->n_js >= MAX_GROUPS)
                        return KP_ENOTSUP;
                    re->js_to_posix[++re->n_js] = re->n_posix + 1;
                } else {
                    return KP_ENOTSUP; /* lookaround */
                }
            } else {
                if (re->n_js >= MAX_GROUPS)
                    return KP_ENOTSUP;
                re->js_to_posix[++re->n_js] = re->n_posix + 1;
            }
            if (re->n_posix >= MAX_GROUPS)
                return KP_ENOTSUP;
            re->n_posix++;
            rc = kp_buf_putc(out, '(');
        } else if (c == '[') {
            p++;
            rc = parse_class(&p, out);
        } else if (c == '*' || c == '+' || c == '?') {
            p++;
            if (*p == '?')
                return KP_ENOTSUP; /* lazy */
            rc = kp_buf_putc(out, c);
        } else if (c == '{') {
            size_t len;
            if (brace_quantifier(p, &len)) {
                rc = kp_buf_append(out, p, len);
                p += len;
                if (*p == '?')
                    return KP_ENOTSUP;
            } else {
                rc = kp_buf_puts(out, "\\{");
                p++;
            }
        } else if (c == '}' || c == ']') {
            rc = put_literal(out, (unsigned char)c);
            p++;
        } else if (c == '.') {
            rc = kp_buf_puts(out, "[^\n\r]");
            p++;
        } else {
            rc = kp_buf_putc(out, c);
            p++;
        }
    }
    return rc < 0 ? rc : 0;
}

int kp_ovp__regex_new(const char *pattern, kp_ovp__regex **out)
{
    *out = NULL;
    kp_ovp__regex *re = calloc(1, sizeof(*re));
    if (!re)
        return KP_ENOMEM;
    kp_buf ere;
    kp_buf_init(&ere);
    int rc = translate(pattern, &ere, re);
    if (rc == 0 && !ere.data)
        rc = kp_buf_puts(&ere, "");
    if (rc == 0 && regcomp(&re->re, ere.data, REG_EXTENDED | REG_ICASE) != 0)
        rc = KP_EPARSE;
    kp_buf_free(&ere);
    if (rc < 0) {
        free(re);
        return rc;
    }
    *out = re;
    return 0;
}

void kp_ovp__regex_free(kp_ovp__regex *re)
{
    if (!re)
        return;
    regfree(&re->re);
    free(re);
}

bool kp_ovp__regex_test(const kp_ovp__regex *re, const char *s)
{
    return regexec(&re->re, s, 0, NULL, 0) == 0;
}

int kp_ovp__regex_replace(const kp_ovp__regex *re, const char *s, const char *rep, char **out)
{
    *out = NULL;
    regmatch_t m[MAX_GROUPS + 1];
    if (regexec(&re->re, s, re->n_posix + 1, m, 0) != 0) {
        *out = kp_strdup(s);
        return *out ? 0 : KP_ENOMEM;
    }
    kp_buf b;
    kp_buf_init(&b);
    int rc = kp_buf_append(&b, s, (size_t)m[0].rm_so);
    for (const char *r = rep; rc >= 0 && *r; r++) {
        if (*r != '$' || !r[1]) {
            rc = kp_buf_putc(&b, *r);
            continue;
        }
        char n1 = r[1];
        if (n1 == '$') {
            rc = kp_buf_putc(&b, '$');
            r++;
        } else if (n1 == '&') {
            rc = kp_buf_append(&b, s + m[0].rm_so, (size_t)(m[0].rm_eo - m[0].rm_so));
            r++;
        } else if (n1 == '`') {
            rc = kp_buf_append(&b, s, (size_t)m[0].rm_so);
            r++;
        } else if (n1 == '\'') {
            rc = kp_buf_puts(&b, s + m[0].rm_eo);
            r++;
        } else if (n1 >= '0' && n1 <= '9') {
            size_t idx = 0, used = 0;
            char n2 = r[2];
            if (n2 >= '0' && n2 <= '9') {
                size_t two = (size_t)(n1 - '0') * 10 + (size_t)(n2 - '0');
                if (two >= 1 && two <= re->n_js) {
                    idx = two;
                    used = 2;
                }
            }
            if (!used) {
                size_t one = (size_t)(n1 - '0');
                if (one >= 1 && one <= re->n_js) {
                    idx = one;
                    used = 1;
                }
            }
            if (!used) {
                rc = kp_buf_putc(&b, '$');
                continue;
            }
            const regmatch_t *g = &m[re->js_to_posix[idx]];
            if (g->rm_so >= 0)
                rc = kp_buf_append(&b, s + g->rm_so, (size_t)(g->rm_eo - g->rm_so));
            r += used;
        } else {
            rc = kp_buf_putc(&b, '$');
        }
    }
    if (rc >= 0)
        rc = kp_buf_puts(&b, s + m[0].rm_eo);
    if (rc < 0) {
        kp_buf_free(&b);
        return KP_ENOMEM;
    }
    *out = kp_buf_steal(&b);
    return 0;
}
