/* journal.c: the request journal and its queries.
 *
 * Records are kept as compact JSON text, one line each, in one growing buffer: a request costs
 * one serialisation and a copy instead of a tree of objects kept alive, which is what lets the
 * back-end serve a playback start's multirequest tens of thousands of times a second with the
 * journal on (bench/bench_backend.sh). Queries parse the lines back. */
#include "mbe_internal.h"

#include "kp/err.h"
#include "kp/jsonu.h"

#include <stdio.h>
#include <string.h>

void mbe_journal_add(mbe_server *s, json_t *record)
{
    kp_buf text;
    kp_buf_init(&text);
    int rc = kp_json_write(&text, record, 0);
    json_decref(record);
    pthread_mutex_lock(&s->lock);
    unsigned long long seq = ++s->seq;
    if (rc == KP_OK && text.len > 2) {
        char head[40];
        int n = snprintf(head, sizeof(head), "{\"seq\":%llu,", seq);
        /* "{" + "seq" + the record's own keys after its "{", then a newline */
        if (kp_buf_reserve(&s->journal, (size_t)n + text.len) == KP_OK) {
            kp_buf_append(&s->journal, head, (size_t)n);
            kp_buf_append(&s->journal, text.data + 1, text.len - 1);
            kp_buf_putc(&s->journal, '\n');
            s->journal_n++;
        } else {
            s->journal_lost++;
        }
    } else {
        s->journal_lost++;
    }
    pthread_mutex_unlock(&s->lock);
    kp_buf_free(&text);
}

/* Calls fn on each record, parsed, in order (under the lock: fn must not call back into the
 * server). Stops early when fn returns false. */
static void each_record(mbe_server *s, bool (*fn)(json_t *rec, void *ud), void *ud)
{
    pthread_mutex_lock(&s->lock);
    const char *p = s->journal.data, *end = p ? p + s->journal.len : NULL;
    while (p && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        json_t *rec = json_loadb(p, len, 0, NULL);
        bool more = !rec || fn(rec, ud);
        json_decref(rec);
        if (!more)
            break;
        p += len + 1;
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

typedef struct count_ctx {
    const char *server;
    const json_t *match;
    size_t count;
} count_ctx;

static bool count_record(json_t *rec, void *ud)
{
    count_ctx *c = ud;
    if (strcmp(kp_json_str(rec, "server", ""), c->server) != 0)
        return true;
    if (strcmp(c->server, "api") == 0) {
        size_t j;
        json_t *call;
        json_array_foreach(json_object_get(rec, "calls"), j, call)
        {
            if (call_matches(call, c->match))
                c->count++;
        }
    } else if (kp_json_subset(c->match, rec)) {
        c->count++;
    }
    return true;
}

size_t mbe_server_count(mbe_server *s, const char *server, const json_t *match)
{
    count_ctx c = {.server = server, .match = match};
    each_record(s, count_record, &c);
    return c.count;
}
