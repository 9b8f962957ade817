/* recorder.c: the recording plugin. */
#include "kp/recorder.h"

#include <math.h>
#include <stdlib.h>

struct kp_recorder {
    kp_player *player;
    uint64_t listener;
    kp_recorded *events;
    size_t n, cap;
};

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
