/* test_util.c: the shared utilities of core/util: buffers and string helpers (kp/buf.h), the
 * file helpers (in a fresh mkdtemp directory, with racing writers), base64, hex, URL escaping,
 * splitmix64, FNV-1a and UUIDs (kp/codec.h, against published test vectors), the JSON helpers
 * (kp/jsonu.h) and the error table (kp/err.h).
 */
#include "kp/buf.h"
#include "kp/codec.h"
#include "kp/err.h"
#include "kp/jsonu.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>

#include <cmocka.h>

/* In the ASan build, let an impossible allocation return NULL instead of aborting, so the
 * buffer's out-of-memory path can be reached. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

/* ---- helpers --------------------------------------------------------------------------------- */

static void make_tmpdir(char *out, size_t cap)
{
    const char *base = getenv("TMPDIR");
    snprintf(out, cap, "%s/kpsim-test-util-XXXXXX", base && *base ? base : "/tmp");
    assert_non_null(mkdtemp(out));
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)remove(path);
    return 0;
}

static void rm_tree(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The names in dir other than . and .., sorted, joined with spaces. */
static void list_dir(const char *dir, char *out, size_t cap)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    assert_true(n >= 0);
    size_t off = 0;
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i]->d_name, ".") != 0 && strcmp(names[i]->d_name, "..") != 0)
            off += (size_t)snprintf(out + off, cap - off, "%s%s", off ? " " : "", names[i]->d_name);
        free(names[i]);
    }
    free(names);
}

/* ---- kp_buf ---------------------------------------------------------------------------------- */

static void test_buf_growth(void **state)
{
    kp_buf b;
    kp_buf_init(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);

    /* many appends of varying sizes, binary bytes included */
    unsigned char chunk[300];
    size_t total = 0;
    for (size_t i = 0; i < 500; i++) {
        size_t n = i % 300;
        for (size_t j = 0; j < n; j++)
            chunk[j] = (unsigned char)(i + j);
        assert_int_equal(kp_buf_append(&b, chunk, n), KP_OK);
        total += n;
        assert_int_equal(b.len, total);
        assert_true(b.cap >= b.len + 1);
        assert_int_equal(b.data[b.len], '\0');
    }
    /* the content survived every reallocation */
    size_t off = 0;
    for (size_t i = 0; i < 500; i++) {
        size_t n = i % 300;
        for (size_t j = 0; j < n; j++)
            assert_int_equal((unsigned char)b.data[off + j], (unsigned char)(i + j));
        off += n;
    }
    /* capacity grows by doubling from 256 */
    size_t cap = 256;
    while (cap < total + 1)
        cap *= 2;
    assert_int_equal(b.cap, cap);

    /* reset keeps the storage */
    char *data = b.data;
    kp_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, cap);
    assert_ptr_equal(b.data, data);
    assert_string_equal(b.data, "");
    kp_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.cap, 0);

    /* an empty append still gives a valid empty string */
    assert_int_equal(kp_buf_append(&b, NULL, 0), KP_OK);
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    kp_buf_free(&b);
    kp_buf_reset(&b); /* on an empty buffer */
    assert_null(b.data);
}

static void test_buf_text(void **state)
{
    kp_buf b;
    kp_buf_init(&b);
    assert_int_equal(kp_buf_puts(&b, "hello"), KP_OK);
    assert_int_equal(kp_buf_putc(&b, ','), KP_OK);
    assert_int_equal(kp_buf_putc(&b, ' '), KP_OK);
    assert_int_equal(kp_buf_printf(&b, "%s #%d of %.2f%%", "world", 42, 99.5), KP_OK);
    assert_string_equal(b.data, "hello, world #42 of 99.50%");
    assert_int_equal(b.len, strlen(b.data));
    assert_int_equal(kp_buf_printf(&b, "%s", ""), KP_OK);
    assert_int_equal(b.len, strlen("hello, world #42 of 99.50%"));

    /* printf output larger than the whole current capacity */
    char big[3000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    size_t before = b.len;
    assert_int_equal(kp_buf_printf(&b, "[%s]", big), KP_OK);
    assert_int_equal(b.len, before + 2 + strlen(big));
    assert_int_equal(b.data[before], '[');
    assert_int_equal(b.data[b.len - 1], ']');
    assert_int_equal(b.data[b.len], '\0');
    assert_int_equal(strlen(b.data), b.len);

    /* printf into a fresh buffer */
    kp_buf c;
    kp_buf_init(&c);
    assert_int_equal(kp_buf_printf(&c, "%05d|%-3s|%x", 42, "a", 255), KP_OK);
    assert_string_equal(c.data, "00042|a  |ff");
    kp_buf_free(&c);
    kp_buf_free(&b);
}

static void test_buf_steal(void **state)
{
    kp_buf b;
    kp_buf_init(&b);
    kp_buf_puts(&b, "mine now");
    char *s = kp_buf_steal(&b);
    assert_string_equal(s, "mine now");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    free(s);

    /* stealing from an empty buffer gives "" (never NULL) */
    s = kp_buf_steal(&b);
    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);

    /* the buffer is usable again */
    kp_buf_puts(&b, "again");
    assert_string_equal(b.data, "again");
    kp_buf_free(&b);
}

static void test_buf_reserve_overflow(void **state)
{
    kp_buf b;
    kp_buf_init(&b);
    /* storage reserved on an empty buffer already holds the empty string */
    assert_int_equal(kp_buf_reserve(&b, 10), KP_OK);
    assert_string_equal(b.data, "");
    kp_buf_free(&b);
    /* len + extra + 1 would wrap around to a small number */
    assert_int_equal(kp_buf_reserve(&b, SIZE_MAX), KP_ENOMEM);
    assert_null(b.data);
    kp_buf_puts(&b, "abc");
    assert_int_equal(kp_buf_reserve(&b, SIZE_MAX - 3), KP_ENOMEM);
    assert_int_equal(kp_buf_reserve(&b, SIZE_MAX - 2), KP_ENOMEM);
    /* fits size_t but no allocator gives that much: fails, without looping forever while
     * doubling the capacity */
    assert_int_equal(kp_buf_reserve(&b, SIZE_MAX - 10), KP_ENOMEM);
    assert_int_equal(kp_buf_reserve(&b, SIZE_MAX / 2 + 1), KP_ENOMEM);
    /* nothing was lost */
    assert_string_equal(b.data, "abc");
    assert_int_equal(b.len, 3);
    assert_int_equal(kp_buf_reserve(&b, 1000), KP_OK);
    assert_true(b.cap >= 1004);
    kp_buf_free(&b);
}

static void test_string_helpers(void **state)
{
    char *s = kp_strdup("abc");
    assert_string_equal(s, "abc");
    free(s);
    assert_null(kp_strdup(NULL));
    s = kp_strndup("abcdef", 3);
    assert_string_equal(s, "abc");
    free(s);
    s = kp_strndup("ab", 10);
    assert_string_equal(s, "ab");
    free(s);
    assert_null(kp_strndup(NULL, 3));
    s = kp_asprintf("%s-%03d-%c", "x", 7, 'z');
    assert_string_equal(s, "x-007-z");
    free(s);

    assert_true(kp_str_starts("playManifest", "play"));
    assert_true(kp_str_starts("play", "play"));
    assert_true(kp_str_starts("play", ""));
    assert_false(kp_str_starts("pla", "play"));
    assert_false(kp_str_starts(NULL, "a"));
    assert_false(kp_str_starts("a", NULL));
    assert_true(kp_str_ends("index.m3u8", ".m3u8"));
    assert_true(kp_str_ends("x", ""));
    assert_false(kp_str_ends("m3u8", ".m3u8"));
    assert_false(kp_str_ends("index.m3u8x", ".m3u8"));
    assert_false(kp_str_ends(NULL, "a"));
    assert_false(kp_str_ends("a", NULL));
}

/* ---- files ----------------------------------------------------------------------------------- */

static void test_mkdirs(void **state)
{
    char dir[256], path[512];
    make_tmpdir(dir, sizeof(dir));

    snprintf(path, sizeof(path), "%s/a/b/c", dir);
    assert_int_equal(kp_mkdirs(path), KP_OK);
    assert_true(is_dir(path));
    assert_int_equal(kp_mkdirs(path), KP_OK); /* already there */
    snprintf(path, sizeof(path), "%s/a", dir);
    assert_int_equal(kp_mkdirs(path), KP_OK);

    snprintf(path, sizeof(path), "%s/t/u/", dir); /* trailing slash */
    assert_int_equal(kp_mkdirs(path), KP_OK);
    snprintf(path, sizeof(path), "%s/t/u", dir);
    assert_true(is_dir(path));

    snprintf(path, sizeof(path), "%s//d//e", dir); /* doubled slashes */
    assert_int_equal(kp_mkdirs(path), KP_OK);
    snprintf(path, sizeof(path), "%s/d/e", dir);
    assert_true(is_dir(path));

    assert_int_equal(kp_mkdirs("/"), KP_OK);
    assert_int_equal(kp_mkdirs(dir), KP_OK);

    /* "" is no directory (and must not be read past its end: ASan) */
    assert_int_equal(kp_mkdirs(""), KP_EIO);

    /* a file in the way, at the end or in the middle */
    snprintf(path, sizeof(path), "%s/file", dir);
    assert_int_equal(kp_write_file_atomic(path, "x", 1), KP_OK);
    assert_int_equal(kp_mkdirs(path), KP_EIO);
    snprintf(path, sizeof(path), "%s/file/sub", dir);
    assert_int_equal(kp_mkdirs(path), KP_EIO);
    rm_tree(dir);
}

static void test_mkdirs_relative(void **state)
{
    char dir[256], cwd[PATH_MAX];
    make_tmpdir(dir, sizeof(dir));
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(dir), 0);
    assert_int_equal(kp_mkdirs("r1/r2"), KP_OK);
    assert_int_equal(kp_mkdirs("single"), KP_OK);
    assert_int_equal(kp_mkdirs("./dot/x"), KP_OK);
    assert_true(is_dir("r1/r2"));
    assert_true(is_dir("single"));
    assert_true(is_dir("dot/x"));
    assert_int_equal(chdir(cwd), 0);
    rm_tree(dir);
}

static void test_file_round_trip(void **state)
{
    char dir[256], path[512], names[1024];
    make_tmpdir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/data.bin", dir);

    /* binary, NULs included, larger than one read chunk */
    size_t n = 200000;
    unsigned char *data = malloc(n);
    assert_non_null(data);
    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)(i * 7 + (i >> 9));
    assert_int_equal(kp_write_file_atomic(path, data, n), KP_OK);
    kp_buf b;
    kp_buf_init(&b);
    assert_int_equal(kp_read_file(path, &b), KP_OK);
    assert_int_equal(b.len, n);
    assert_memory_equal(b.data, data, n);
    assert_int_equal(b.data[n], '\0');
    kp_buf_free(&b);

    /* overwrite with something shorter */
    assert_int_equal(kp_write_file_atomic(path, "short", 5), KP_OK);
    assert_int_equal(kp_read_file(path, &b), KP_OK);
    assert_int_equal(b.len, 5);
    assert_string_equal(b.data, "short");

    /* reading appends to what the buffer holds */
    assert_int_equal(kp_read_file(path, &b), KP_OK);
    assert_string_equal(b.data, "shortshort");
    kp_buf_free(&b);

    /* empty file: a valid empty string */
    assert_int_equal(kp_write_file_atomic(path, NULL, 0), KP_OK);
    assert_int_equal(kp_read_file(path, &b), KP_OK);
    assert_int_equal(b.len, 0);
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    kp_buf_free(&b);

    /* no temporary file left behind */
    list_dir(dir, names, sizeof(names));
    assert_string_equal(names, "data.bin");
    free(data);
    rm_tree(dir);
}

static void test_file_mode_follows_umask(void **state)
{
    char dir[256], path[512];
    make_tmpdir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/mode.txt", dir);
    mode_t old = umask(022);
    int rc = kp_write_file_atomic(path, "m", 1);
    umask(old);
    assert_int_equal(rc, KP_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644); /* 0666 & ~022, like fopen */
    rm_tree(dir);
}

static void test_file_errors(void **state)
{
    char dir[256], path[512], names[1024];
    make_tmpdir(dir, sizeof(dir));
    kp_buf b;
    kp_buf_init(&b);

    snprintf(path, sizeof(path), "%s/missing.txt", dir);
    assert_int_equal(kp_read_file(path, &b), KP_ENOENT);
    assert_int_equal(kp_read_file(dir, &b), KP_EIO); /* a directory */
    assert_null(b.data);

    /* no directories are created */
    snprintf(path, sizeof(path), "%s/no/such/dir/f.txt", dir);
    assert_int_equal(kp_write_file_atomic(path, "x", 1), KP_EIO);
    /* the target is a directory: the rename fails and the temporary file is removed */
    snprintf(path, sizeof(path), "%s/sub", dir);
    assert_int_equal(kp_mkdirs(path), KP_OK);
    snprintf(path, sizeof(path), "%s/sub/inner", dir);
    assert_int_equal(kp_mkdirs(path), KP_OK);
    snprintf(path, sizeof(path), "%s/sub", dir);
    assert_int_equal(kp_write_file_atomic(path, "x", 1), KP_EIO);
    list_dir(dir, names, sizeof(names));
    assert_string_equal(names, "sub");
    rm_tree(dir);
}

typedef struct writer {
    const char *path;
    int id;
    int failures;
} writer;

#define WRITERS    8
#define WRITES     40
#define WRITE_SIZE 65536

static void *write_many(void *ud)
{
    writer *w = ud;
    unsigned char *data = malloc(WRITE_SIZE);
    if (!data) {
        w->failures = WRITES;
        return NULL;
    }
    memset(data, 'A' + w->id, WRITE_SIZE);
    for (int i = 0; i < WRITES; i++)
        if (kp_write_file_atomic(w->path, data, WRITE_SIZE) != KP_OK)
            w->failures++;
    free(data);
    return NULL;
}

static void test_file_racing_writers(void **state)
{
    /* Threads of one process writing the same path: every write succeeds and the file is
     * always one writer's whole content (no shared temporary file). */
    char dir[256], path[512], names[1024];
    make_tmpdir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/race.bin", dir);
    pthread_t th[WRITERS];
    writer w[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (writer){.path = path, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, write_many, &w[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < WRITERS; i++)
        assert_int_equal(w[i].failures, 0);

    kp_buf b;
    kp_buf_init(&b);
    assert_int_equal(kp_read_file(path, &b), KP_OK);
    assert_int_equal(b.len, WRITE_SIZE);
    char first = b.data[0];
    assert_in_range(first, 'A', 'A' + WRITERS - 1);
    for (size_t i = 0; i < b.len; i++)
        if (b.data[i] != first)
            fail_msg("mixed content at %zu: %c then %c", i, first, b.data[i]);
    kp_buf_free(&b);
    list_dir(dir, names, sizeof(names));
    assert_string_equal(names, "race.bin");
    rm_tree(dir);
}

/* ---- codec ----------------------------------------------------------------------------------- */

static void test_base64_rfc4648(void **state)
{
    static const struct {
        const char *plain, *enc, *unpadded;
    } v[] = {
        {"", "", ""},
        {"f", "Zg==", "Zg"},
        {"fo", "Zm8=", "Zm8"},
        {"foo", "Zm9v", "Zm9v"},
        {"foob", "Zm9vYg==", "Zm9vYg"},
        {"fooba", "Zm9vYmE=", "Zm9vYmE"},
        {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char *enc = kp_base64_encode(v[i].plain, strlen(v[i].plain));
        assert_string_equal(enc, v[i].enc);
        free(enc);
        unsigned char out[16];
        int n = kp_base64_decode(v[i].enc, out, sizeof(out));
        assert_int_equal(n, strlen(v[i].plain));
        assert_memory_equal(out, v[i].plain, (size_t)n);
        n = kp_base64_decode(v[i].unpadded, out, sizeof(out));
        assert_int_equal(n, strlen(v[i].plain));
        assert_memory_equal(out, v[i].plain, (size_t)n);
    }
    /* both ends of the alphabet */
    static const unsigned char all_ones[] = {0xfb, 0xff, 0xbf};
    char *enc = kp_base64_encode(all_ones, 3);
    assert_string_equal(enc, "+/+/");
    free(enc);
}

static void test_base64_round_trip(void **state)
{
    unsigned char data[300], out[300];
    for (int i = 0; i < 256; i++)
        data[i] = (unsigned char)i;
    kp_rng r;
    kp_rng_seed(&r, 7);
    for (size_t len = 0; len <= 300; len++) {
        if (len > 256)
            data[len - 1] = (unsigned char)kp_rng_next(&r);
        char *enc = kp_base64_encode(data, len);
        assert_int_equal(strlen(enc), 4 * ((len + 2) / 3));
        int n = kp_base64_decode(enc, out, sizeof(out));
        assert_int_equal(n, len);
        assert_memory_equal(out, data, len);
        free(enc);
    }
}

static void test_base64_bad_input(void **state)
{
    unsigned char out[64];
    /* a bad character, a space, a newline, data after padding, a bad pad, the URL-safe
     * alphabet, non-ASCII (é), a dot */
    static const char *const bad[] = {
        "Zm9v!", "Zm 9v", "Zm9v\n", "Zg==Zg==", "Zg=a", "Zm-_", "\303\251AAA", "Zm9v.YmFy"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(kp_base64_decode(bad[i], out, sizeof(out)), KP_EPARSE);
    /* not enough room */
    assert_int_equal(kp_base64_decode("Zm9vYmFy", out, 5), KP_ERANGE);
    assert_int_equal(kp_base64_decode("Zm9vYmFy", out, 6), 6);
    assert_int_equal(kp_base64_decode("Zg==", out, 0), KP_ERANGE);
}

static void test_hex_and_escape(void **state)
{
    char *s = kp_hex_encode("\x00\x01\xab\xff\x10", 5);
    assert_string_equal(s, "0001abff10");
    free(s);
    s = kp_hex_encode("", 0);
    assert_string_equal(s, "");
    free(s);

    static const struct {
        const char *in, *out;
    } esc[] = {
        {"", ""},
        {"abcXYZ0189-_.~", "abcXYZ0189-_.~"},
        {"a b&c=d/e?f#g", "a%20b%26c%3Dd%2Fe%3Ff%23g"},
        {"100%+1", "100%25%2B1"},
        {"caf\xc3\xa9", "caf%C3%A9"},
        {"{1:result:ks}", "%7B1%3Aresult%3Aks%7D"},
        {"\x01\x7f", "%01%7F"},
    };
    for (size_t i = 0; i < sizeof(esc) / sizeof(esc[0]); i++) {
        s = kp_url_escape(esc[i].in);
        assert_string_equal(s, esc[i].out);
        free(s);
    }
}

static void test_rng(void **state)
{
    /* splitmix64's published outputs */
    kp_rng r;
    kp_rng_seed(&r, 0);
    assert_int_equal(kp_rng_next(&r), 0xe220a8397b1dcdafULL);
    assert_int_equal(kp_rng_next(&r), 0x6e789e6aa1b965f4ULL);
    assert_int_equal(kp_rng_next(&r), 0x06c45d188009454fULL);
    kp_rng_seed(&r, 1234567);
    static const uint64_t want[] = {6457827717110365317ULL, 3203168211198807973ULL,
                                    9817491932198370423ULL, 4593380528125082431ULL,
                                    16408922859458223821ULL};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(kp_rng_next(&r), want[i]);

    /* same seed, same stream; another seed, another stream */
    kp_rng a, b, c;
    kp_rng_seed(&a, 42);
    kp_rng_seed(&b, 42);
    kp_rng_seed(&c, 43);
    int same_as_c = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = kp_rng_next(&a);
        assert_int_equal(x, kp_rng_next(&b));
        same_as_c += x == kp_rng_next(&c);
    }
    assert_int_equal(same_as_c, 0);

    /* string seeds */
    kp_rng_seed_str(&a, "scenario/playback/pause-resume");
    kp_rng_seed_str(&b, "scenario/playback/pause-resume");
    kp_rng_seed_str(&c, "scenario/playback/pause-resumf");
    uint64_t xa = kp_rng_next(&a);
    assert_int_equal(xa, kp_rng_next(&b));
    assert_int_not_equal(xa, kp_rng_next(&c));
    kp_rng_seed_str(&a, "foobar");
    kp_rng_seed(&b, 0x85944171f73967e8ULL);
    assert_int_equal(kp_rng_next(&a), kp_rng_next(&b));
}

static void test_fnv1a(void **state)
{
    /* the published FNV-1a 64-bit values */
    assert_int_equal(kp_fnv1a("", 0), 0xcbf29ce484222325ULL);
    assert_int_equal(kp_fnv1a("a", 1), 0xaf63dc4c8601ec8cULL);
    assert_int_equal(kp_fnv1a("foobar", 6), 0x85944171f73967e8ULL);
    /* bytes, not C strings */
    assert_int_not_equal(kp_fnv1a("a\0b", 3), kp_fnv1a("a", 1));
}

static void test_uuid(void **state)
{
    kp_rng r, r2;
    kp_rng_seed(&r, 99);
    kp_rng_seed(&r2, 99);
    enum { N = 1000 };
    char(*ids)[37] = calloc(N, sizeof(*ids));
    assert_non_null(ids);
    for (int i = 0; i < N; i++) {
        char *u = ids[i];
        kp_rng_uuid(&r, u);
        assert_int_equal(strlen(u), 36);
        for (int j = 0; j < 36; j++) {
            if (j == 8 || j == 13 || j == 18 || j == 23)
                assert_int_equal(u[j], '-');
            else
                assert_non_null(strchr("0123456789abcdef", u[j]));
        }
        assert_int_equal(u[14], '4');           /* version 4 */
        assert_non_null(strchr("89ab", u[19])); /* variant 10 */
        char again[37];
        kp_rng_uuid(&r2, again);
        assert_string_equal(u, again); /* deterministic */
        for (int k = 0; k < i; k++)
            assert_string_not_equal(u, ids[k]);
    }
    free(ids);
}

/* ---- JSON helpers ---------------------------------------------------------------------------- */

static json_t *js(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
    if (!v)
        fail_msg("bad test JSON: %s", e.text);
    return v;
}

static void test_json_path(void **state)
{
    json_t *root = js("{\"a\":{\"b\":[10,{\"c\":\"deep\"},[true]]},\"s\":\"x\",\"n\":null,"
                      "\"k.dot\":1,\"\":\"empty\"}");
    assert_ptr_equal(kp_json_path(root, ""), root);
    assert_ptr_equal(kp_json_path(root, NULL), root);
    assert_string_equal(json_string_value(kp_json_path(root, "a.b.1.c")), "deep");
    assert_int_equal(json_integer_value(kp_json_path(root, "a.b.0")), 10);
    assert_true(json_is_true(kp_json_path(root, "a.b.2.0")));
    assert_true(json_is_null(kp_json_path(root, "n")));
    assert_null(kp_json_path(root, "missing"));
    assert_null(kp_json_path(root, "a.missing.c"));
    assert_null(kp_json_path(root, "a.b.3"));  /* index out of range */
    assert_null(kp_json_path(root, "a.b.-1")); /* negative index */
    assert_null(kp_json_path(root, "a.b.x"));  /* not an index */
    assert_null(kp_json_path(root, "a.b.1x"));
    assert_null(kp_json_path(root, "s.0"));   /* through a string */
    assert_null(kp_json_path(root, "n.x"));   /* through null */
    assert_null(kp_json_path(root, "k.dot")); /* dots always separate */
    assert_null(kp_json_path(NULL, "a"));
    char longkey[300];
    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    assert_null(kp_json_path(root, longkey));
    json_decref(root);
}

static void test_json_getters(void **state)
{
    json_t *o = js("{\"s\":\"str\",\"i\":42,\"r\":2.9,\"neg\":-3.7,\"t\":true,\"f\":false,"
                   "\"z\":null,\"o\":{\"big\":9007199254740993}}");
    assert_string_equal(kp_json_str(o, "s", "d"), "str");
    assert_string_equal(kp_json_str(o, "i", "d"), "d");
    assert_string_equal(kp_json_str(o, "nope", "d"), "d");
    assert_null(kp_json_str(o, "z", NULL));
    assert_int_equal(kp_json_int(o, "i", -1), 42);
    assert_int_equal(kp_json_int(o, "r", -1), 2); /* reals truncate */
    assert_int_equal(kp_json_int(o, "neg", 0), -3);
    assert_int_equal(kp_json_int(o, "s", -1), -1);
    assert_int_equal(kp_json_int(o, "t", -1), -1);
    assert_int_equal(kp_json_int(o, "o.big", 0), 9007199254740993LL);
    assert_float_equal(kp_json_num(o, "r", 0), 2.9, 0.0);
    assert_float_equal(kp_json_num(o, "i", 0), 42.0, 0.0);
    assert_float_equal(kp_json_num(o, "s", 1.5), 1.5, 0.0);
    assert_true(kp_json_bool(o, "t", false));
    assert_false(kp_json_bool(o, "f", true));
    assert_true(kp_json_bool(o, "i", true)); /* not a boolean: the default */
    assert_false(kp_json_bool(o, "z", false));
    assert_true(kp_json_bool(NULL, "t", true));
    json_decref(o);
}

static void expect_subset(const char *want, const char *have, bool result)
{
    json_t *w = js(want), *h = js(have);
    if (kp_json_subset(w, h) != result)
        fail_msg("subset(%s, %s) should be %s", want, have, result ? "true" : "false");
    json_decref(w);
    json_decref(h);
}

static void test_json_subset(void **state)
{
    /* objects: extra keys in have are fine, nested too */
    expect_subset("{}", "{\"a\":1}", true);
    expect_subset("{\"a\":1}", "{\"a\":1,\"b\":2}", true);
    expect_subset("{\"a\":1,\"c\":3}", "{\"a\":1,\"b\":2}", false);
    expect_subset("{\"a\":{\"x\":\"y\"}}", "{\"a\":{\"x\":\"y\",\"z\":0}}", true);
    expect_subset("{\"a\":{\"x\":\"y\"}}", "{\"a\":{\"x\":\"Y\"}}", false);
    /* arrays: same length, element by element, each a subset */
    expect_subset("[1,{\"k\":2}]", "[1,{\"k\":2,\"extra\":true}]", true);
    expect_subset("[1,2]", "[2,1]", false);
    expect_subset("[1]", "[1,2]", false);
    expect_subset("[1,2]", "[1]", false);
    expect_subset("[]", "[]", true);
    /* numbers by value */
    expect_subset("2", "2.0", true);
    expect_subset("2.0", "2", true);
    expect_subset("{\"t\":1.5}", "{\"t\":1.5}", true);
    expect_subset("2", "3", false);
    expect_subset("9007199254740993", "9007199254740992", false); /* beyond double precision */
    expect_subset("-0.0", "0", true);
    /* null matches only null */
    expect_subset("null", "null", true);
    expect_subset("{\"a\":null}", "{\"a\":null}", true);
    expect_subset("{\"a\":null}", "{}", false);
    expect_subset("{\"a\":null}", "{\"a\":0}", false);
    expect_subset("null", "false", false);
    /* type mismatches */
    expect_subset("\"2\"", "2", false);
    expect_subset("true", "1", false);
    expect_subset("true", "false", false);
    expect_subset("{}", "[]", false);
    expect_subset("[]", "{}", false);
    expect_subset("\"a\"", "\"a\"", true);
    expect_subset("\"\"", "\"a\"", false);
    /* C NULLs */
    json_t *v = js("{\"a\":1}");
    assert_true(kp_json_subset(NULL, v));
    assert_true(kp_json_subset(NULL, NULL));
    assert_false(kp_json_subset(v, NULL));
    json_decref(v);
}

static void test_json_merge(void **state)
{
    json_t *dst = js("{\"a\":{\"x\":1,\"y\":2},\"b\":[1,2],\"c\":\"keep\",\"d\":{\"o\":1},"
                     "\"e\":5}");
    json_t *src = js("{\"a\":{\"y\":20,\"z\":30},\"b\":[3],\"d\":7,\"e\":{\"now\":\"obj\"},"
                     "\"f\":null}");
    assert_int_equal(kp_json_merge(dst, src), KP_OK);
    json_t *want = js("{\"a\":{\"x\":1,\"y\":20,\"z\":30},\"b\":[3],\"c\":\"keep\",\"d\":7,"
                      "\"e\":{\"now\":\"obj\"},\"f\":null}");
    assert_true(json_equal(dst, want));
    json_decref(want);

    /* src is not tied to dst: merging more into dst leaves src as it was */
    json_t *src_copy = json_deep_copy(src);
    json_t *more = js("{\"e\":{\"added\":1},\"b\":[4]}");
    assert_int_equal(kp_json_merge(dst, more), KP_OK);
    assert_true(json_equal(src, src_copy));
    assert_string_equal(kp_json_str(dst, "e.now", NULL), "obj");
    assert_int_equal(kp_json_int(dst, "e.added", 0), 1);
    json_decref(more);
    json_decref(src_copy);

    /* only objects merge */
    json_t *arr = js("[1]");
    assert_int_equal(kp_json_merge(arr, src), KP_EINVAL);
    assert_int_equal(kp_json_merge(dst, arr), KP_EINVAL);
    json_decref(arr);

    /* empty sources and destinations */
    json_t *empty = json_object();
    assert_int_equal(kp_json_merge(dst, empty), KP_OK);
    assert_int_equal(kp_json_merge(empty, src), KP_OK);
    assert_true(json_equal(empty, src));
    json_decref(empty);
    json_decref(src);
    json_decref(dst);
}

static void test_json_dumps(void **state)
{
    json_t *v = js("{\"b\":[true,null,\"s\"],\"a\":1,\"r\":0.1,\"t\":2.5}");
    char *s = kp_json_dumps(v);
    assert_string_equal(s, "{\"b\":[true,null,\"s\"],\"a\":1,\"r\":0.1,\"t\":2.5}");
    free(s);
    json_decref(v);
    v = json_real(1.0 / 3.0);
    s = kp_json_dumps(v);
    assert_string_equal(s, "0.333333333333");
    free(s);
    json_decref(v);
    v = json_string("x");
    s = kp_json_dumps(v);
    assert_string_equal(s, "\"x\"");
    free(s);
    json_decref(v);
}

/* A random JSON tree: every type, strings with escapes, controls and UTF-8, reals across
 * magnitudes (exponents both ways), nesting. */
static json_t *random_json(kp_rng *r, int depth)
{
    static const char *const pieces[] = {"a",  "\"",   "\\", "/",    "\n",        "\t",
                                         "\r", "\b",   "\f", "\x01", "\x1f",      "\x7f",
                                         "é",  "日本", "😀",  " ",    "{1:result}"};
    unsigned kind = (unsigned)(kp_rng_next(r) % (depth > 4 ? 6 : 8));
    switch (kind) {
    case 0:
        return json_null();
    case 1:
        return json_boolean(kp_rng_next(r) & 1);
    case 2: {
        long long v = (long long)kp_rng_next(r);
        return json_integer((json_int_t)(kp_rng_next(r) & 1 ? v : v % 1000));
    }
    case 3: {
        double m = (double)(kp_rng_next(r) % 2000001) / 1000.0 - 1000.0;
        int e = (int)(kp_rng_next(r) % 61) - 30;
        return json_real(m * pow(10.0, e));
    }
    case 4:
    case 5: {
        char buf[128] = "";
        size_t n = kp_rng_next(r) % 6;
        for (size_t i = 0; i < n; i++)
            strcat(buf, pieces[kp_rng_next(r) % (sizeof(pieces) / sizeof(pieces[0]))]);
        return json_string(buf);
    }
    case 6: {
        json_t *a = json_array();
        size_t n = kp_rng_next(r) % 5;
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, random_json(r, depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        size_t n = kp_rng_next(r) % 5;
        for (size_t i = 0; i < n; i++) {
            char key[32];
            snprintf(key, sizeof(key), "k%u\t\"%zu", (unsigned)(kp_rng_next(r) % 50), i);
            json_object_set_new(o, key, random_json(r, depth + 1));
        }
        return o;
    }
    }
}

/* kp_json_write gives json_dumps' bytes exactly (it replaces it where speed matters). */
static void test_json_write_matches_jansson(void **state)
{
    kp_rng r;
    kp_rng_seed(&r, 20261127);
    kp_buf b;
    kp_buf_init(&b);
    for (int i = 0; i < 3000; i++) {
        json_t *v = random_json(&r, 0);
        int precision = i % 3 == 0 ? 0 : i % 3 == 1 ? 12 : 5;
        char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(precision));
        kp_buf_reset(&b);
        assert_int_equal(kp_json_write(&b, v, precision), KP_OK);
        assert_non_null(want);
        if (strcmp(b.data, want) != 0)
            fail_msg("case %d: kp_json_write %s, json_dumps %s", i, b.data, want);
        free(want);
        json_decref(v);
    }
    /* extremes */
    json_t *v = json_pack("[I, I, f, f, f, f]", (json_int_t)INT64_MIN, (json_int_t)INT64_MAX, 1e300,
                          -1e-300, 5e-324, 100.0);
    char *want = json_dumps(v, JSON_COMPACT);
    kp_buf_reset(&b);
    assert_int_equal(kp_json_write(&b, v, 0), KP_OK);
    assert_string_equal(b.data, want);
    free(want);
    json_decref(v);
    /* appends after what the buffer holds; too deep a tree leaves the buffer as it was */
    kp_buf_reset(&b);
    kp_buf_puts(&b, "x=");
    json_t *deep = json_array(), *cur = deep;
    for (int i = 0; i < 3000; i++) {
        json_t *next = json_array();
        json_array_append_new(cur, next);
        cur = next;
    }
    assert_int_equal(kp_json_write(&b, deep, 0), KP_EINVAL);
    assert_string_equal(b.data, "x=");
    json_decref(deep);
    json_t *one = json_integer(-7);
    assert_int_equal(kp_json_write(&b, one, 0), KP_OK);
    assert_string_equal(b.data, "x=-7");
    json_decref(one);
    kp_buf_free(&b);
}

/* ---- errors ---------------------------------------------------------------------------------- */

static void test_err_table(void **state)
{
    static const struct {
        int code;
        const char *name, *msg;
    } table[] = {
#define XX(code, msg) {KP_##code, "KP_" #code, msg},
        KP_ERR_MAP(XX)
#undef XX
    };
    size_t n = sizeof(table) / sizeof(table[0]);
    assert_int_equal(n, KP_ERR_INDEX_END_ - 1);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(table[i].code, -(int)(i + 1)); /* -1, -2, ... in table order */
        assert_string_equal(kp_err_name(table[i].code), table[i].name);
        assert_string_equal(kp_strerror(table[i].code), table[i].msg);
    }
    /* codes are never renumbered: a few pinned */
    assert_int_equal(KP_ENOMEM, -1);
    assert_int_equal(KP_EPARSE, -5);
    assert_int_equal(KP_ESERVER, -15);
    assert_string_equal(kp_err_name(KP_OK), "KP_OK");
    assert_string_equal(kp_strerror(KP_OK), "success");
    static const int unknown[] = {1, 42, -(int)KP_ERR_INDEX_END_, -1000, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        assert_string_equal(kp_err_name(unknown[i]), "KP_UNKNOWN");
        assert_string_equal(kp_strerror(unknown[i]), "unknown error");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_growth),
        cmocka_unit_test(test_buf_text),
        cmocka_unit_test(test_buf_steal),
        cmocka_unit_test(test_buf_reserve_overflow),
        cmocka_unit_test(test_string_helpers),
        cmocka_unit_test(test_mkdirs),
        cmocka_unit_test(test_mkdirs_relative),
        cmocka_unit_test(test_file_round_trip),
        cmocka_unit_test(test_file_mode_follows_umask),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_file_racing_writers),
        cmocka_unit_test(test_base64_rfc4648),
        cmocka_unit_test(test_base64_round_trip),
        cmocka_unit_test(test_base64_bad_input),
        cmocka_unit_test(test_hex_and_escape),
        cmocka_unit_test(test_rng),
        cmocka_unit_test(test_fnv1a),
        cmocka_unit_test(test_uuid),
        cmocka_unit_test(test_json_path),
        cmocka_unit_test(test_json_getters),
        cmocka_unit_test(test_json_subset),
        cmocka_unit_test(test_json_merge),
        cmocka_unit_test(test_json_dumps),
        cmocka_unit_test(test_json_write_matches_jansson),
        cmocka_unit_test(test_err_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
