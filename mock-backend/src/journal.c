/* journal.c: the request journal and its queries.
 *
 * Records are kept as compact JSON text, one line each, in one growing buffer: a request costs
 * one serialisation and a copy instead of a tree of objects kept alive, which is what lets the
 * back-end serve a playback start's multirequest tens of thousands of times a second with the
 * journal on (bench/bench_backend.sh). Queries parse the lines back. */
#include "mbe_internal.h"

#include "kp/err.h"
#include "kp/jsonu.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Chunks are never moved or grown: adding a record copies it once, whatever the journal's
 * size (a realloc'd buffer would copy everything again at each doubling). They are mapped
 * 2 MiB-aligned with transparent huge pages advised, so filling one costs a couple of page
 * faults instead of a thousand (faults dominated the journal's cost on a VM). */
enum { HUGE_PAGE = 2 << 20, CHUNK_BYTES = 2 * HUGE_PAGE };

struct mbe_journal_chunk {
    struct mbe_journal_chunk *next;
    size_t len, cap, mapped;
    char data[];
};

static mbe_journal_chunk *chunk_new(size_t need)
{
    size_t size = sizeof(mbe_journal_chunk) + need;
    size = size < CHUNK_BYTES ? CHUNK_BYTES : (size + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    /* map one huge page more, then trim to an aligned start */
    char *raw =
        mmap(NULL, size + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    uintptr_t at = ((uintptr_t)raw + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
    size_t head = (size_t)(at - (uintptr_t)raw);
    if (head)
        munmap(raw, head);
    if (HUGE_PAGE - head)
        munmap((char *)at + size, HUGE_PAGE - head);
    madvise((void *)at, size, MADV_HUGEPAGE); /* advice only: fine if refused */
    mbe_journal_chunk *c = (mbe_journal_chunk *)at;
    c->next = NULL;
    c->len = 0;
    c->mapped = size;
    c->cap = size - sizeof(*c);
    return c;
}

/* Room for n more bytes at the journal's end, or NULL (out of memory). Lock held. */
static char *journal_room(mbe_server *s, size_t n)
{
    mbe_journal_chunk *t = s->journal_tail;
    if (!t || t->cap - t->len < n) {
        mbe_journal_chunk *c = chunk_new(n);
        if (!c)
            return NULL;
        if (t)
            t->next = c;
        else
            s->journal_head = c;
        s->journal_tail = t = c;
    }
    return t->data + t->len;
}

unsigned long long mbe_journal_add(mbe_server *s, json_t *record, const char *body_json)
{
    kp_buf text;
    kp_buf_init(&text);
    kp_buf_reserve(&text, 4096);
    int rc = kp_json_write(&text, record, 0);
    json_decref(record);
    if (rc == KP_OK && body_json && text.len > 2) {
        /* before the record's closing brace */
        text.len--;
        rc = kp_buf_puts(&text, ",\"body\":") == KP_OK && kp_buf_puts(&text, body_json) == KP_OK &&
                     kp_buf_putc(&text, '}') == KP_OK
                 ? KP_OK
                 : KP_ENOMEM;
    }
    pthread_mutex_lock(&s->lock);
    unsigned long long seq = ++s->seq;
    char head[40];
    int n = snprintf(head, sizeof(head), "{\"seq\":%llu,", seq);
    /* "{" "seq" and the record's own keys after its "{", then a newline */
    size_t need = (size_t)n + text.len;
    char *at = rc == KP_OK && text.len > 2 ? journal_room(s, need) : NULL;
    if (at) {
        memcpy(at, head, (size_t)n);
        memcpy(at + n, text.data + 1, text.len - 1);
        at[need - 1] = '\n';
        s->journal_tail->len += need;
        s->journal_n++;
    } else {
        s->journal_lost++;
    }
    pthread_mutex_unlock(&s->lock);
    kp_buf_free(&text);
    return seq;
}

void mbe_journal_free(mbe_server *s)
{
    for (mbe_journal_chunk *c = s->journal_head, *next; c; c = next) {
        next = c->next;
        munmap(c, c->mapped);
    }
    s->journal_head = s->journal_tail = NULL;
}

/* Calls fn on each record, parsed, in order (under the lock: fn must not call back into the
 * server). Stops early when fn returns false. */
static void each_record(mbe_server *s, bool (*fn)(json_t *rec, void *ud), void *ud)
{
    pthread_mutex_lock(&s->lock);
    bool more = true;
    for (const mbe_journal_chunk *c = s->journal_head; c && more; c = c->next) {
        const char *p = c->data, *end = c->data + c->len;
        while (p < end && more) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
            json_t *rec = json_loadb(p, len, 0, NULL);
            more = !rec || fn(rec, ud);
            json_decref(rec);
            p += len + 1;
        }
    }
    pthread_mutex_unlock(&s->lock);
}

static bool append_record(json_t *rec, void *ud)
{
    json_array_append(ud, rec);
    return true;
}

json_t *mbe_server_journal(mbe_server *s)
{
    json_t *all = json_array();
    if (all)
        each_record(s, append_record, all);
    return all;
}

/* An API call matches when service/action are equal and every other key of `match` is a
 * subset of its params. */
static bool call_matches(const json_t *call, const json_t *match)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)match, k, v)
    {
        if (strcmp(k, "service") == 0 || strcmp(k, "action") == 0) {
            if (!kp_json_subset(v, json_object_get(call, k)))
                return false;
        } else if (!kp_json_subset(v, kp_json_path(json_object_get(call, "params"), k))) {
            return false;
        }
    }
    return true;
}

size_t mbe_journal_match(const char *server, const json_t *match, const json_t *rec)
{
    if (strcmp(kp_json_str(rec, "server", ""), server) != 0)
        return 0;
    if (strcmp(server, "api") == 0) {
        size_t j, n = 0;
        json_t *call;
        json_array_foreach(json_object_get(rec, "calls"), j, call)
        {
            if (call_matches(call, match))
                n++;
        }
        return n;
    }
    if (strcmp(server, "analytics") == 0) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)match, k, v)
        {
            json_t *have = json_object_get(rec, k);
            if (!have)
                have = kp_json_path(json_object_get(rec, "params"), k);
            if (!kp_json_subset(v, have))
                return 0;
        }
        return 1;
    }
    return kp_json_subset(match, rec) ? 1 : 0;
}

typedef struct count_ctx {
    const char *server;
    const json_t *match;
    size_t count;
} count_ctx;

static bool count_record(json_t *rec, void *ud)
{
    count_ctx *c = ud;
    c->count += mbe_journal_match(c->server, c->match, rec);
    return true;
}

size_t mbe_server_count(mbe_server *s, const char *server, const json_t *match)
{
    count_ctx c = {.server = server, .match = match};
    each_record(s, count_record, &c);
    return c.count;
}
