/* expect.h: matching a recorded trace against an expected sequence (SCENARIOS.md "Matching
 * events"): exact order, payload subsets, {any_order: [...]} groups and "..." wildcards.
 * On a mismatch it explains the first divergence: which expected item, which recorded
 * event, and both sequences side by side around that point. */
#ifndef HX_EXPECT_H
#define HX_EXPECT_H

#include "hx/scenario.h"
#include "kp/recorder.h"

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

#endif
