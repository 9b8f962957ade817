/* journal.c: the request journal and its queries. */
#include "mbe_internal.h"

#include "kp/jsonu.h"

#include <string.h>

void mbe_journal_add(mbe_server *s, json_t *record)
{
    pthread_mutex_lock(&s->lock);
    json_object_set_new(record, "seq", json_integer((json_int_t)++s->seq));
    json_array_append_new(s->journal, record);
    pthread_mutex_unlock(&s->lock);
}

json_t *mbe_server_journal(mbe_server *s)
{
    pthread_mutex_lock(&s->lock);
    json_t *copy = json_deep_copy(s->journal);
    pthread_mutex_unlock(&s->lock);
    return copy;
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

size_t mbe_server_count(mbe_server *s, const char *server, const json_t *match)
{
    size_t count = 0;
    pthread_mutex_lock(&s->lock);
    size_t i;
    json_t *rec;
    json_array_foreach(s->journal, i, rec)
    {
        if (strcmp(kp_json_str(rec, "server", ""), server) != 0)
            continue;
        if (strcmp(server, "api") == 0) {
            size_t j;
            json_t *call;
            json_array_foreach(json_object_get(rec, "calls"), j, call)
            {
                if (call_matches(call, match))
                    count++;
            }
        } else if (kp_json_subset(match, rec)) {
            count++;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return count;
}
