/* expect.c: the sequence matcher and its divergence report. */
#include "hx/expect.h"

#include "kp/buf.h"
#include "kp/jsonu.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const char *const hx_default_ignore[] = {"timeupdate", "progress", "fragloaded", "adprogress"};
const size_t hx_default_ignore_count = sizeof(hx_default_ignore) / sizeof(hx_default_ignore[0]);

static bool ignored(const char *name, char *const *extra, size_t n_extra)
{
    for (size_t i = 0; i < hx_default_ignore_count; i++)
        if (strcmp(name, hx_default_ignore[i]) == 0)
            return true;
    for (size_t i = 0; i < n_extra; i++)
        if (strcmp(name, extra[i]) == 0)
            return true;
    return false;
}

int hx_view_make(const kp_recorder *rec, size_t from, size_t to, char *const *extra_ignore,
                 size_t n_extra, hx_view *out)
{
    size_t total = kp_recorder_count(rec);
    if (to > total)
        to = total;
    out->n = 0;
    out->ev = calloc(to > from ? to - from : 1, sizeof(*out->ev));
    if (!out->ev)
        return -1;
    for (size_t i = from; i < to; i++) {
        const kp_recorded *e = kp_recorder_get(rec, i);
        if (!ignored(e->name, extra_ignore, n_extra))
            out->ev[out->n++] = e;
    }
    return 0;
}

void hx_view_free(hx_view *v)
{
    free(v->ev);
    v->ev = NULL;
    v->n = 0;
}

void hx_mismatch_free(hx_mismatch *m)
{
    free(m->message);
    free(m->table);
    m->message = m->table = NULL;
}

bool hx_item_matches(const hx_match *item, const kp_recorded *ev)
{
    if (item->kind != HX_MATCH_EVENT || strcmp(item->event, ev->name) != 0)
        return false;
    if (!item->payload)
        return true;
    return kp_json_subset(item->payload, ev->payload);
}

char *hx_item_text(const hx_match *item)
{
    if (item->kind == HX_MATCH_ELLIPSIS)
        return kp_strdup("...");
    if (item->kind == HX_MATCH_ANY_ORDER) {
        kp_buf b;
        kp_buf_init(&b);
        kp_buf_puts(&b, "any_order[");
        for (size_t i = 0; i < item->n_group; i++) {
            char *t = hx_item_text(&item->group[i]);
            kp_buf_printf(&b, "%s%s", i ? ", " : "", t ? t : "?");
            free(t);
        }
        kp_buf_puts(&b, "]");
        return kp_buf_steal(&b);
    }
    if (!item->payload)
        return kp_strdup(item->event);
    char *p = kp_json_dumps(item->payload);
    char *s = kp_asprintf("%s %s", item->event, p ? p : "");
    free(p);
    return s;
}

char *hx_event_text(const kp_recorded *ev, bool with_payload)
{
    char *p = (with_payload && ev->payload) ? kp_json_dumps(ev->payload) : NULL;
    char *s = kp_asprintf("%s%s%s (seq %llu, t %lld ms)", ev->name, p ? " " : "", p ? p : "",
                          (unsigned long long)ev->seq, (long long)ev->t_ms);
    free(p);
    return s;
}

/* ---- matching with memoised backtracking ---- */

typedef struct matcher {
    const hx_seq *seq;
    const hx_view *view;
    uint8_t *failed;              /* (item, event) pairs known not to match the rest */
    size_t best_item, best_event; /* furthest failure point */
    bool have_best;
} matcher;

static void note_failure(matcher *m, size_t item, size_t event)
{
    /* the furthest the expectation got (then the furthest in the recording): with "..."
     * items the recording index alone would point at hopeless late attempts */
    if (!m->have_best || item > m->best_item || (item == m->best_item && event > m->best_event)) {
        m->best_item = item;
        m->best_event = event;
        m->have_best = true;
    }
}

/* Matches the group's members against view[j .. j+k) in any order. */
static bool group_matches(const hx_match *g, const hx_view *v, size_t j)
{
    size_t k = g->n_group;
    if (j + k > v->n)
        return false;
    bool used[64] = {false};
    if (k > 64)
        return false;
    for (size_t e = 0; e < k; e++) {
        bool found = false;
        for (size_t i = 0; i < k && !found; i++) {
            if (!used[i] && hx_item_matches(&g->group[i], v->ev[j + e])) {
                used[i] = true;
                found = true;
            }
        }
        if (!found)
            return false;
    }
    return true;
}

static bool match_from(matcher *m, size_t i, size_t j)
{
    size_t ni = m->seq->n, nj = m->view->n;
    uint8_t *memo = &m->failed[i * (nj + 1) + j];
    if (*memo)
        return false;
    bool ok;
    if (i == ni) {
        ok = j == nj;
        if (!ok)
            note_failure(m, i, j);
    } else {
        const hx_match *it = &m->seq->items[i];
        switch (it->kind) {
        case HX_MATCH_EVENT:
            ok = j < nj && hx_item_matches(it, m->view->ev[j]) && match_from(m, i + 1, j + 1);
            if (!ok && !(j < nj && hx_item_matches(it, m->view->ev[j])))
                note_failure(m, i, j);
            break;
        case HX_MATCH_ANY_ORDER:
            ok = group_matches(it, m->view, j) && match_from(m, i + 1, j + it->n_group);
            if (!ok && !group_matches(it, m->view, j))
                note_failure(m, i, j);
            break;
        default: /* ellipsis: as few events as possible, then more */
            ok = false;
            for (size_t k = j; k <= nj && !ok; k++)
                ok = match_from(m, i + 1, k);
            break;
        }
    }
    if (!ok)
        *memo = 1;
    return ok;
}

/* Expected and recorded, side by side, around the divergence. */
static char *side_by_side(const hx_seq *seq, const hx_view *v, size_t item, size_t event)
{
    kp_buf b;
    kp_buf_init(&b);
    const int width = 44;
    kp_buf_printf(&b, "      %-*s | %s\n", width, "expected", "recorded");
    size_t before = 6, after = 4;
    size_t start_i = item > before ? item - before : 0;
    size_t start_j = event > before ? event - before : 0;
    /* keep the rows aligned on the divergence */
    size_t back = item - start_i < event - start_j ? item - start_i : event - start_j;
    start_i = item - back;
    start_j = event - back;
    for (size_t r = 0;; r++) {
        size_t i = start_i + r, j = start_j + r;
        bool any_i = i < seq->n && i <= item + after;
        bool any_j = j < v->n && j <= event + after;
        if (!any_i && !any_j)
            break;
        char *l = any_i ? hx_item_text(&seq->items[i]) : kp_strdup(i == seq->n ? "(end)" : "");
        char *rt = any_j ? hx_event_text(v->ev[j], false) : kp_strdup(j == v->n ? "(end)" : "");
        bool here = i == item && j == event;
        if (any_i || any_j || here) {
            char num[24] = "";
            if (i < seq->n)
                snprintf(num, sizeof(num), "%zu", i);
            kp_buf_printf(&b, "  %s %3s %-*.*s | %s\n", here ? ">" : " ", num, width, width,
                          l ? l : "", rt ? rt : "");
        }
        free(l);
        free(rt);
        if (r > 40)
            break;
    }
    return kp_buf_steal(&b);
}

bool hx_match_seq(const hx_seq *seq, const hx_view *view, const char *what, hx_mismatch *mm)
{
    matcher m = {.seq = seq, .view = view};
    m.failed = calloc((seq->n + 1) * (view->n + 1), 1);
    if (!m.failed) {
        mm->message = kp_strdup("out of memory while matching");
        mm->table = NULL;
        return false;
    }
    bool ok = match_from(&m, 0, 0);
    free(m.failed);
    if (ok)
        return true;
    size_t i = m.have_best ? m.best_item : 0, j = m.have_best ? m.best_event : 0;
    mm->item = i;
    mm->event = j;
    mm->loc = i < seq->n ? seq->items[i].loc : seq->loc;
    char *exp = i < seq->n ? hx_item_text(&seq->items[i]) : NULL;
    char *rec = j < view->n ? hx_event_text(view->ev[j], true) : NULL;
    if (i < seq->n && j < view->n)
        mm->message = kp_asprintf("%s[%zu]: expected %s, recorded %s", what, i, exp, rec);
    else if (i < seq->n)
        mm->message = kp_asprintf("%s[%zu]: expected %s, but the recording ended", what, i, exp);
    else
        mm->message = kp_asprintf("%s: the sequence ended, but the player went on with %s", what,
                                  rec ? rec : "more events");
    mm->table = side_by_side(seq, view, i, j);
    free(exp);
    free(rec);
    return false;
}
