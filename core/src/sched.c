/* sched.c: a binary min-heap of tasks keyed by (time, insertion sequence). */
#include "kp/sched.h"

#include <stdlib.h>

typedef struct task {
    kp_time at;
    uint64_t seq; /* also the task id */
    kp_task_fn fn;
    void *ud;
    bool cancelled;
} task;

struct kp_sched {
    kp_time now;
    uint64_t next_seq;
    uint64_t ran;
    task *heap;
    size_t len, cap;
    size_t live; /* pending and not cancelled */
};

kp_sched *kp_sched_new(void)
{
    kp_sched *s = calloc(1, sizeof(*s));
    if (s)
        s->next_seq = 1;
    return s;
}

void kp_sched_free(kp_sched *s)
{
    if (!s)
        return;
    free(s->heap);
    free(s);
}

kp_time kp_sched_now(const kp_sched *s)
{
    return s->now;
}

static bool before(const task *a, const task *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void sift_up(kp_sched *s, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&s->heap[i], &s->heap[p]))
            break;
        task t = s->heap[i];
        s->heap[i] = s->heap[p];
        s->heap[p] = t;
        i = p;
    }
}

static void sift_down(kp_sched *s, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->len && before(&s->heap[l], &s->heap[m]))
            m = l;
        if (r < s->len && before(&s->heap[r], &s->heap[m]))
            m = r;
        if (m == i)
            break;
        task t = s->heap[i];
        s->heap[i] = s->heap[m];
        s->heap[m] = t;
        i = m;
    }
}

kp_task_id kp_sched_at(kp_sched *s, kp_time at, kp_task_fn fn, void *ud)
{
    if (s->len == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        task *h = realloc(s->heap, cap * sizeof(*h));
        if (!h)
            return 0;
        s->heap = h;
        s->cap = cap;
    }
    task t = {.at = at < s->now ? s->now : at, .seq = s->next_seq++, .fn = fn, .ud = ud};
    s->heap[s->len] = t;
    sift_up(s, s->len++);
    s->live++;
    return t.seq;
}

kp_task_id kp_sched_after(kp_sched *s, kp_time delay, kp_task_fn fn, void *ud)
{
    return kp_sched_at(s, s->now + (delay > 0 ? delay : 0), fn, ud);
}

bool kp_sched_cancel(kp_sched *s, kp_task_id id)
{
    if (!id)
        return false;
    for (size_t i = 0; i < s->len; i++) {
        if (s->heap[i].seq == id && !s->heap[i].cancelled) {
            s->heap[i].cancelled = true;
            s->live--;
            return true;
        }
    }
    return false;
}

static void pop(kp_sched *s, task *out)
{
    *out = s->heap[0];
    s->heap[0] = s->heap[--s->len];
    if (s->len)
        sift_down(s, 0);
}

static void drop_cancelled_top(kp_sched *s)
{
    task t;
    while (s->len && s->heap[0].cancelled)
        pop(s, &t);
}

bool kp_sched_idle(const kp_sched *s)
{
    return s->live == 0;
}

kp_time kp_sched_next_time(const kp_sched *s)
{
    drop_cancelled_top((kp_sched *)s);
    return s->len ? s->heap[0].at : -1;
}

bool kp_sched_step(kp_sched *s)
{
    drop_cancelled_top(s);
    if (!s->len)
        return false;
    task t;
    pop(s, &t);
    s->live--;
    s->now = t.at;
    s->ran++;
    t.fn(t.ud);
    return true;
}

void kp_sched_run_until(kp_sched *s, kp_time until)
{
    for (;;) {
        kp_time next = kp_sched_next_time(s);
        if (next < 0 || next > until)
            break;
        kp_sched_step(s);
    }
    if (until > s->now)
        s->now = until;
}

uint64_t kp_sched_tasks_run(const kp_sched *s)
{
    return s->ran;
}
