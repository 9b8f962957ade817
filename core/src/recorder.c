/* recorder.c: the recording plugin. */
#include "kp/recorder.h"

#include "kp/buf.h"
#include "kp/err.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RULES 4

struct kp_recorder {
    kp_player *player;
    uint64_t listener;
    kp_recorded *events;
    size_t n, cap;
    char *from[MAX_RULES], *to[MAX_RULES];
    size_t n_rules;
};

int kp_recorder_normalize(kp_recorder *r, const char *from, const char *to)
{
    if (r->n_rules == MAX_RULES)
        return KP_ERANGE;
    r->from[r->n_rules] = kp_strdup(from);
    r->to[r->n_rules] = kp_strdup(to);
    if (!r->from[r->n_rules] || !r->to[r->n_rules]) {
        free(r->from[r->n_rules]);
        free(r->to[r->n_rules]);
        return KP_ENOMEM;
    }
    r->n_rules++;
    return KP_OK;
}

static char *replace_all(const char *s, const char *from, const char *to)
{
    kp_buf b;
    kp_buf_init(&b);
    size_t n = strlen(from);
    for (const char *hit; (hit = strstr(s, from)); s = hit + n) {
        kp_buf_append(&b, s, (size_t)(hit - s));
        kp_buf_puts(&b, to);
    }
    kp_buf_puts(&b, s);
    return kp_buf_steal(&b);
}

/* Applies the rules to every string inside v (in place). */
static void normalize(const kp_recorder *r, json_t *v)
{
    if (json_is_string(v)) {
        for (size_t i = 0; i < r->n_rules; i++) {
            if (!strstr(json_string_value(v), r->from[i]))
                continue;
            char *s = replace_all(json_string_value(v), r->from[i], r->to[i]);
            if (s)
                json_string_set(v, s);
            free(s);
        }
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x)
        {
            normalize(r, x);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            normalize(r, x);
        }
    }
}

static void on_event(void *ud, const kp_event *ev)
{
    kp_recorder *r = ud;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 256;
        kp_recorded *e = realloc(r->events, cap * sizeof(*e));
        if (!e)
            return;
        r->events = e;
        r->cap = cap;
    }
    r->events[r->n] = (kp_recorded){
        .seq = r->n + 1,
        .t_ms = ev->t / 1000,
        .pos = round(ev->pos * 1000.0) / 1000.0,
        .type = ev->type,
        .name = ev->name,
        .payload = ev->payload ? json_deep_copy(ev->payload) : NULL,
    };
    if (r->events[r->n].payload && r->n_rules)
        normalize(r, r->events[r->n].payload);
    r->n++;
}

static void *create(kp_player *p, const json_t *config, void *arg)
{
    kp_recorder *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->player = p;
    r->listener = kp_bus_listen(kp_player_bus(p), -1, on_event, r);
    if (!r->listener) {
        free(r);
        return NULL;
    }
    return r;
}

static void destroy(void *state)
{
    kp_recorder *r = state;
    if (!r)
        return;
    kp_bus_unlisten(kp_player_bus(r->player), r->listener);
    for (size_t i = 0; i < r->n; i++)
        json_decref(r->events[i].payload);
    for (size_t i = 0; i < r->n_rules; i++) {
        free(r->from[i]);
        free(r->to[i]);
    }
    free(r->events);
    free(r);
}

const kp_plugin_desc kp_recorder_plugin = {
    .name = "recorder",
    .instrument = true,
    .create = create,
    .reset = NULL,
    .destroy = destroy,
};

size_t kp_recorder_count(const kp_recorder *r)
{
    return r->n;
}

const kp_recorded *kp_recorder_get(const kp_recorder *r, size_t i)
{
    return i < r->n ? &r->events[i] : NULL;
}

json_t *kp_recorded_json(const kp_recorded *e)
{
    json_t *payload = e->payload ? json_incref(e->payload) : json_object();
    return json_pack("{s:I, s:I, s:f, s:s, s:o}", "seq", (json_int_t)e->seq, "t",
                     (json_int_t)e->t_ms, "pos", e->pos, "type", e->name, "payload", payload);
}
