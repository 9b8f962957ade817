/* expect.h: matching a recorded trace against an expected sequence (SCENARIOS.md "Matching
 * events"): exact order, payload subsets, {any_order: [...]} groups and "..." wildcards.
 * On a mismatch it explains the first divergence: which expected item, which recorded
 * event, and both sequences side by side around that point. */
#ifndef HX_EXPECT_H
#define HX_EXPECT_H

#include "hx/scenario.h"
#include "kp/recorder.h"

#include <jansson.h>

#include <stdbool.h>
#include <stddef.h>

/* The events a sequence is matched against: the trace minus ignored types. */
typedef struct hx_view {
    const kp_recorded **ev;
    size_t n;
} hx_view;

/* The default ignore list: events whose count depends on reporting granularity. */
extern const char *const hx_default_ignore[];
extern const size_t hx_default_ignore_count;

/* Filters events [from, to) of the recorder, dropping the default and extra ignored types.
 * The view borrows from the recorder; free its array with hx_view_free. */
int hx_view_make(const kp_recorder *rec, size_t from, size_t to, char *const *extra_ignore,
                 size_t n_extra, hx_view *out);
void hx_view_free(hx_view *v);

typedef struct hx_mismatch {
    size_t item;   /* index of the expected item where matching failed (n when extra events) */
    size_t event;  /* index into the view of the recorded event there (n when missing) */
    hx_loc loc;    /* scenario location of that item (or of the sequence) */
    char *message; /* one line, malloc'd */
    char *table;   /* expected | recorded, side by side, malloc'd */
} hx_mismatch;

void hx_mismatch_free(hx_mismatch *m);

/* true when the view matches the sequence; otherwise fills *mm (caller frees). `what`
 * names the sequence in messages ("expect.events.sequence", "steps[3].expect"). */
bool hx_match_seq(const hx_seq *seq, const hx_view *view, const char *what, hx_mismatch *mm);

/* Whether one recorded event satisfies one HX_MATCH_EVENT item. */
bool hx_item_matches(const hx_match *item, const kp_recorded *ev);

/* "playerstatechanged {oldState: {type: idle}, ...}" style text for an item. malloc'd. */
char *hx_item_text(const hx_match *item);
/* "playerstatechanged {...payload...} (seq 12, t 457 ms)". malloc'd. */
char *hx_event_text(const kp_recorded *ev, bool with_payload);

/* Whether one journal record of `server` matches one request match map: for "api" some
 * call of the record has the map's service/action and params; for "analytics" each key
 * equals the record's field or else the beacon parameter of that name; otherwise the map
 * is a subset of the record (kp_json_subset). Records of another server never match. */
bool hx_request_record_matches(const char *server, const json_t *match, const json_t *rec);

/* Checks the ordered form of a request expectation (rq->sequence, not NULL) against a
 * journal: the server's records in arrival order (mbe_server_journal; for "drm"
 * mdrm_server_journal, whose records name no server). true when a record matches each item,
 * each record after the one that matched the previous item. Otherwise *loc is the
 * location of the first item that could not be matched, *msg (malloc'd, one line) names
 * it, and *records (malloc'd, several lines) lists the server's records around the point
 * where the search for it started (kind/event/path), the previous item's match marked.
 * `index` is rq's position in expect.requests, for the messages. */
bool hx_request_sequence_check(const hx_request_expect *rq, size_t index, const json_t *journal,
                               hx_loc *loc, char **msg, char **records);

#endif
