/* url.c: reference resolution against a base URL. */
#include "url.h"

#include "kp/buf.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

int kp_url_has_scheme(const char *s)
{
    if (!s || !isalpha((unsigned char)*s))
        return 0;
    for (const char *p = s + 1; *p; p++) {
        if (*p == ':')
            return 1;
        if (!isalnum((unsigned char)*p) && *p != '+' && *p != '-' && *p != '.')
            return 0;
    }
    return 0;
}

/* Removes "." and ".." segments from an absolute path, in place. */
static void remove_dot_segments(char *path)
{
    char *out = path, *in = path;
    while (*in) {
        if (strncmp(in, "/./", 3) == 0) {
            in += 2;
        } else if (strcmp(in, "/.") == 0) {
            in[1] = '\0';
        } else if (strncmp(in, "/../", 4) == 0 || strcmp(in, "/..") == 0) {
            in += 3;
            if (!*in) {
                in--;
                *in = '/';
            }
            while (out > path && *--out != '/')
                ;
        } else {
            do {
                *out++ = *in++;
            } while (*in && *in != '/');
        }
    }
    *out = '\0';
}

char *kp_url_resolve(const char *base, const char *ref)
{
    if (!ref)
        return NULL;
    if (kp_url_has_scheme(ref) || !base)
        return kp_strdup(ref);
    const char *scheme_end = strstr(base, "://");
    if (!scheme_end)
        return kp_strdup(ref);
    const char *auth = scheme_end + 3;
    const char *path = auth + strcspn(auth, "/?#");
    if (ref[0] == '/' && ref[1] == '/')
        return kp_asprintf("%.*s%s", (int)(scheme_end + 1 - base), base, ref);
    kp_buf b;
    kp_buf_init(&b);
    kp_buf_append(&b, base, (size_t)(path - base));
    size_t path_start = b.len;
    if (ref[0] == '/') {
        kp_buf_puts(&b, ref);
    } else if (ref[0] == '?' || ref[0] == '#' || ref[0] == '\0') {
        /* "#f" and "" keep the base query (RFC 3986 §5.2.2); "?q" replaces it */
        size_t plen = strcspn(path, ref[0] == '?' ? "?#" : "#");
        kp_buf_append(&b, path, plen);
        kp_buf_puts(&b, ref);
    } else {
        size_t plen = strcspn(path, "?#");
        const char *last = NULL;
        for (const char *p = path; p < path + plen; p++)
            if (*p == '/')
                last = p;
        if (last)
            kp_buf_append(&b, path, (size_t)(last - path + 1));
        else
            kp_buf_putc(&b, '/');
        kp_buf_puts(&b, ref);
    }
    if (!b.data)
        return NULL;
    /* normalise the path part only (up to the query) */
    char *p = b.data + path_start;
    size_t qpos = strcspn(p, "?#");
    char *query = kp_strdup(p + qpos);
    p[qpos] = '\0';
    remove_dot_segments(p);
    b.len = strlen(b.data);
    kp_buf_puts(&b, query ? query : "");
    free(query);
    return kp_buf_steal(&b);
}
