/* event.c: event names and the synchronous, snapshot-based event bus. */
#include "kp/event.h"

#include <stdlib.h>
#include <string.h>

static const char *const event_names[] = {
#define XX(id, name) name,
    KP_EVENT_MAP(XX)
#undef XX
};

const char *kp_event_name(kp_event_type t)
{
    return (unsigned)t < KP_EV_COUNT_ ? event_names[t] : NULL;
}

int kp_event_lookup(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < KP_EV_COUNT_; i++)
        if (strcmp(event_names[i], name) == 0)
            return i;
    return -1;
}

typedef struct listener {
    uint64_t id;
    int type;
    kp_event_fn fn;
    void *ud;
    bool removed;
} listener;

struct kp_bus {
    kp_sched *sched;
    kp_pos_fn pos;
    void *pos_ud;
    listener *list;
    size_t len, cap;
    uint64_t next_id;
    int depth; /* nesting level of dispatches in progress */
};

kp_bus *kp_bus_new(kp_sched *sched, kp_pos_fn pos, void *pos_ud)
{
    kp_bus *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->sched = sched;
    b->pos = pos;
    b->pos_ud = pos_ud;
    b->next_id = 1;
    return b;
}

void kp_bus_free(kp_bus *bus)
{
    if (!bus)
        return;
    free(bus->list);
    free(bus);
}

uint64_t kp_bus_listen(kp_bus *bus, int type, kp_event_fn fn, void *ud)
{
    if (bus->len == bus->cap) {
        size_t cap = bus->cap ? bus->cap * 2 : 16;
        listener *l = realloc(bus->list, cap * sizeof(*l));
        if (!l)
            return 0;
        bus->list = l;
        bus->cap = cap;
    }
    listener l = {.id = bus->next_id++, .type = type, .fn = fn, .ud = ud};
    bus->list[bus->len++] = l;
    return l.id;
}

static void compact(kp_bus *bus)
{
    size_t w = 0;
    for (size_t r = 0; r < bus->len; r++)
        if (!bus->list[r].removed)
            bus->list[w++] = bus->list[r];
    bus->len = w;
}

void kp_bus_unlisten(kp_bus *bus, uint64_t id)
{
    for (size_t i = 0; i < bus->len; i++) {
        if (bus->list[i].id == id) {
            /* While a dispatch runs, its snapshot still calls this listener (playkit-js
             * semantics); the slot is reclaimed when no dispatch is in progress. */
            bus->list[i].removed = true;
            break;
        }
    }
    if (bus->depth == 0)
        compact(bus);
}

void kp_bus_emit(kp_bus *bus, kp_event_type type, json_t *payload)
{
    kp_event ev = {
        .type = type,
        .name = kp_event_name(type),
        .payload = payload,
        .t = bus->sched ? kp_sched_now(bus->sched) : 0,
        .pos = bus->pos ? bus->pos(bus->pos_ud) : 0.0,
    };
    size_t n = bus->len;
    listener stack_snap[32];
    listener *snap = n <= 32 ? stack_snap : malloc(n * sizeof(*snap));
    if (!snap) {
        json_decref(payload);
        return;
    }
    if (n) /* bus->list is NULL before the first listener */
        memcpy(snap, bus->list, n * sizeof(*snap));
    bus->depth++;
    for (size_t i = 0; i < n; i++) {
        if (snap[i].removed || (snap[i].type >= 0 && snap[i].type != (int)type))
            continue;
        snap[i].fn(snap[i].ud, &ev);
    }
    bus->depth--;
    if (snap != stack_snap)
        free(snap);
    if (bus->depth == 0)
        compact(bus);
    json_decref(payload);
}
