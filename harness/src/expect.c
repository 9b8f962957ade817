/* expect.c: the sequence matcher and its divergence report. */
#include "hx/expect.h"

#include "kp/buf.h"
#include "kp/jsonu.h"
#include "mbe/mbe.h"

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

/* ---- ordered request expectations ---------------------------------------------------- */

/* Whether the record belongs to the server ("drm" journal records name none). */
static bool of_server(const char *server, const json_t *rec)
{
    const char *s = json_string_value(json_object_get(rec, "server"));
    return s ? strcmp(s, server) == 0 : strcmp(server, "drm") == 0;
}

bool hx_request_record_matches(const char *server, const json_t *match, const json_t *rec)
{
    if (!json_is_object(rec) || !of_server(server, rec))
        return false;
    /* the license server's records name no server and match as mdrm_server_count does */
    if (strcmp(server, "drm") == 0)
        return kp_json_subset(match, rec);
    return mbe_journal_match(server, match, rec) > 0;
}

/* One record as "kind tracking, event start, errorcode 405, path /track/start": the fields
 * that tell requests apart, whichever the record has. */
static void record_line(kp_buf *b, const json_t *rec)
{
    static const char *const fields[] = {"kind",   "event",  "errorcode", "eventName", "service",
                                         "action", "system", "outcome",   "status",    "path"};
    bool first = true;
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const json_t *v = json_object_get(rec, fields[i]);
        if (!v || json_is_null(v))
            continue;
        char *t = json_is_string(v) ? NULL : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        kp_buf_printf(b, "%s%s %s", first ? "" : ", ", fields[i], t ? t : json_string_value(v));
        free(t);
        first = false;
    }
    if (strcmp(kp_json_str(rec, "server", ""), "api") == 0) {
        size_t j;
        json_t *call;
        json_array_foreach(json_object_get(rec, "calls"), j, call)
        {
            kp_buf_printf(b, "%s%s.%s", first ? "" : ", ", kp_json_str(call, "service", "?"),
                          kp_json_str(call, "action", "?"));
            first = false;
        }
    }
}

bool hx_request_sequence_check(const hx_request_expect *rq, size_t index, const json_t *journal,
                               hx_loc *loc, char **msg, char **records)
{
    *msg = NULL;
    *records = NULL;
    /* the server's records, in arrival order */
    size_t n_all = json_array_size(journal), n = 0;
    const json_t **recs = calloc(n_all ? n_all : 1, sizeof(*recs));
    if (!recs)
        return false;
    for (size_t i = 0; i < n_all; i++) {
        const json_t *r = json_array_get(journal, i);
        if (json_is_object(r) && of_server(rq->server, r))
            recs[n++] = r;
    }
    size_t next = 0;        /* where the search for the current item starts */
    size_t prev = SIZE_MAX; /* the record that matched the previous item */
    size_t item;
    json_t *want;
    bool ok = true;
    json_array_foreach(rq->sequence, item, want)
    {
        size_t k = next;
        while (k < n && !hx_request_record_matches(rq->server, want, recs[k]))
            k++;
        if (k < n) {
            prev = k;
            next = k + 1;
            continue;
        }
        ok = false;
        break;
    }
    if (ok) {
        free(recs);
        return true;
    }

    *loc = rq->seq_locs ? rq->seq_locs[item] : rq->loc;
    char *w = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);
    bool anywhere = false;
    for (size_t k = 0; k < n && !anywhere; k++)
        anywhere = hx_request_record_matches(rq->server, want, recs[k]);
    if (item == 0)
        *msg = kp_asprintf("expect.requests[%zu].sequence[0] %s: no %s request matched (%zu %s "
                           "record(s))",
                           index, w ? w : "?", rq->server, n, rq->server);
    else
        *msg = kp_asprintf("expect.requests[%zu].sequence[%zu] %s: no %s request matched after "
                           "sequence[%zu] (record #%zu)%s",
                           index, item, w ? w : "?", rq->server, item - 1, prev + 1,
                           anywhere ? "; a matching request came earlier: out of order" : "");
    free(w);

    /* the records around the point where the search started: a few before, more after */
    kp_buf b;
    kp_buf_init(&b);
    size_t from = next > 4 ? next - 4 : 0, to = next + 12 < n ? next + 12 : n;
    kp_buf_printf(&b, "%s records (%zu in all), in arrival order:\n", rq->server, n);
    if (from > 0)
        kp_buf_printf(&b, "  ... %zu earlier\n", from);
    for (size_t k = from; k < to; k++) {
        kp_buf_printf(&b, "  #%zu ", k + 1);
        record_line(&b, recs[k]);
        if (k == prev)
            kp_buf_printf(&b, "   <- sequence[%zu]", item - 1);
        kp_buf_putc(&b, '\n');
    }
    if (to < n)
        kp_buf_printf(&b, "  ... %zu later\n", n - to);
    *records = kp_buf_steal(&b);
    free(recs);
    return false;
}
