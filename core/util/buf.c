/* buf.c: growable buffers, string copies and file helpers. */
#include "kp/buf.h"

#include "kp/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void kp_buf_init(kp_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void kp_buf_free(kp_buf *b)
{
    free(b->data);
    kp_buf_init(b);
}

void kp_buf_reset(kp_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

int kp_buf_reserve(kp_buf *b, size_t extra)
{
    if (extra >= SIZE_MAX - b->len)
        return KP_ENOMEM; /* len + extra + 1 would wrap around */
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return KP_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return KP_ENOMEM;
    if (!b->data)
        p[0] = '\0'; /* the text is a C string as soon as there is storage */
    b->data = p;
    b->cap = cap;
    return KP_OK;
}

int kp_buf_append(kp_buf *b, const void *data, size_t len)
{
    int rc = kp_buf_reserve(b, len);
    if (rc < 0)
        return rc;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return KP_OK;
}

int kp_buf_puts(kp_buf *b, const char *s)
{
    return kp_buf_append(b, s, strlen(s));
}

int kp_buf_putc(kp_buf *b, char c)
{
    return kp_buf_append(b, &c, 1);
}

int kp_buf_printf(kp_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        va_end(ap2);
        return KP_EINVAL;
    }
    int rc = kp_buf_reserve(b, (size_t)n);
    if (rc < 0) {
        va_end(ap2);
        return rc;
    }
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    b->len += (size_t)n;
    return KP_OK;
}

char *kp_buf_steal(kp_buf *b)
{
    char *p = b->data;
    if (!p)
        p = calloc(1, 1);
    kp_buf_init(b);
    return p;
}

char *kp_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

char *kp_strndup(const char *s, size_t n)
{
    return s ? strndup(s, n) : NULL;
}

char *kp_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *out = NULL;
    int n = vasprintf(&out, fmt, ap);
    va_end(ap);
    return n < 0 ? NULL : out;
}

bool kp_str_starts(const char *s, const char *prefix)
{
    return s && prefix && strncmp(s, prefix, strlen(prefix)) == 0;
}

bool kp_str_ends(const char *s, const char *suffix)
{
    if (!s || !suffix)
        return false;
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

int kp_read_file(const char *path, kp_buf *out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? KP_ENOENT : KP_EIO;
    char chunk[65536];
    size_t n;
    int rc = KP_OK;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        rc = kp_buf_append(out, chunk, n);
        if (rc < 0)
            break;
    }
    if (rc == KP_OK && ferror(f))
        rc = KP_EIO;
    fclose(f);
    if (rc == KP_OK && !out->data)
        rc = kp_buf_reserve(out, 0);
    if (rc == KP_OK)
        out->data[out->len] = '\0';
    return rc;
}

/* Creates a temporary file next to path, unique per call: the pid tells processes apart, the
 * counter calls of one process (threads included), and O_EXCL guards against leftovers. Unlike
 * mkstemp (mode 0600) the file gets the usual 0666 & ~umask. */
static FILE *open_temp(const char *path, char **tmp_out)
{
    static atomic_ulong counter;
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned long n = atomic_fetch_add(&counter, 1);
        char *tmp = kp_asprintf("%s.tmp.%ld.%lu", path, (long)getpid(), n);
        if (!tmp)
            return NULL;
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            FILE *f = fdopen(fd, "wb");
            if (f) {
                *tmp_out = tmp;
                return f;
            }
            close(fd);
            unlink(tmp);
        }
        free(tmp);
        if (fd >= 0 || errno != EEXIST)
            return NULL;
    }
    return NULL;
}

int kp_write_file_atomic(const char *path, const void *data, size_t len)
{
    char *tmp = NULL;
    FILE *f = open_temp(path, &tmp);
    if (!f)
        return errno == ENOMEM ? KP_ENOMEM : KP_EIO;
    int rc = KP_OK;
    if (len && fwrite(data, 1, len, f) != len)
        rc = KP_EIO;
    if (fclose(f) != 0)
        rc = KP_EIO;
    if (rc == KP_OK && rename(tmp, path) != 0)
        rc = KP_EIO;
    if (rc != KP_OK)
        unlink(tmp);
    free(tmp);
    return rc;
}

int kp_mkdirs(const char *path)
{
    char *p = kp_strdup(path);
    if (!p)
        return KP_ENOMEM;
    int rc = KP_OK;
    /* every prefix that ends before a '/' (but not the root itself), then the whole path */
    for (char *s = p; *s; s++) {
        if (*s != '/' || s == p)
            continue;
        *s = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST)
            rc = KP_EIO;
        *s = '/';
        if (rc)
            break;
    }
    struct stat st;
    if (rc == KP_OK && mkdir(p, 0777) != 0 &&
        (errno != EEXIST || stat(p, &st) != 0 || !S_ISDIR(st.st_mode)))
        rc = KP_EIO; /* includes "" and an existing file that is not a directory */
    free(p);
    return rc;
}
