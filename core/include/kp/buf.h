/* buf.h: a growable byte buffer and small string helpers.
 * A kp_buf owns its data; kp_buf_free releases it. data is always NUL-terminated after any
 * successful append (the NUL is not counted in len), so text can be used as a C string.
 */
#ifndef KP_BUF_H
#define KP_BUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct kp_buf {
    char *data;
    size_t len;
    size_t cap;
} kp_buf;

void kp_buf_init(kp_buf *b);
void kp_buf_free(kp_buf *b);
void kp_buf_reset(kp_buf *b);
int kp_buf_reserve(kp_buf *b, size_t extra);
int kp_buf_append(kp_buf *b, const void *data, size_t len);
int kp_buf_puts(kp_buf *b, const char *s);
int kp_buf_putc(kp_buf *b, char c);
int kp_buf_printf(kp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the data to the caller (who frees it) and leaves b empty. Never NULL. */
char *kp_buf_steal(kp_buf *b);

/* malloc'd copies; NULL only when out of memory (or s is NULL for kp_strdup). */
char *kp_strdup(const char *s);
char *kp_strndup(const char *s, size_t n);
char *kp_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool kp_str_starts(const char *s, const char *prefix);
bool kp_str_ends(const char *s, const char *suffix);

/* Reads a whole file; returns 0 and fills out, or a negative KP_E* code. */
int kp_read_file(const char *path, kp_buf *out);
/* Writes atomically (temp file + rename); creates no directories. */
int kp_write_file_atomic(const char *path, const void *data, size_t len);
/* mkdir -p; returns 0 or KP_EIO. */
int kp_mkdirs(const char *path);

#endif
