/* fault.h: fault rules of the mock servers (SCENARIOS.md "Faults"), without any HTTP.
 *
 * A rule says which requests of which server go wrong and how:
 *   {server: api|cdn|drm|ads|analytics, match: {...}, reply: {...}, times: N, after: N,
 *    probability: P, seed: S, when: {event: NAME, nth: N}}
 * kp_fault_rule_parse() checks one rule given as JSON (the scenario loader converts its YAML,
 * the admin path of `kpsim serve` takes JSON) and says where a problem is as a key path inside
 * the rule ("reply.delay"), so the caller can point at the file's line and column.
 *
 * A kp_fault_set holds the rules of a whole mock deployment (every server consults the same
 * set; a rule's server name selects whose requests it sees). kp_fault_decide() is what a
 * server calls for each request: rules are tried in the order they were added; a rule whose
 * `match` selects the request counts it (only while armed, see `when`); it fires when the
 * count is past `after`, it has fired fewer than `times` times (0: no limit), and, when
 * `probability` < 1, a hash of (seed, count) falls under it: the same requests in the same
 * order give the same faults, run after run, never rand(). The first rule that fires answers;
 * the rules after it do not see the request.
 *
 * A rule with `when` is disarmed until kp_fault_set_event() has reported the player event
 * `nth` times (the runner forwards the player's events). Every function is thread-safe (the
 * servers call from their worker threads while the runner or an admin request changes the
 * set). The set owns its rules; a decision (kp_fault_action) owns copies of what it needs.
 */
#ifndef KP_FAULT_H
#define KP_FAULT_H

#include "kp/buf.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The reply kinds, in the scenario's words (kp_fault_kind_name). */
typedef enum kp_fault_kind {
    KP_FAULT_STATUS = 0,        /* status: CODE (+ body) */
    KP_FAULT_API_ERROR,         /* api_error: {code, message}: KalturaAPIException in HTTP 200 */
    KP_FAULT_DELAY,             /* delay: DURATION, then the normal answer */
    KP_FAULT_RESET,             /* connection reset, no answer; {after: BYTES}: mid-body */
    KP_FAULT_EMPTY,             /* connection closed, no answer */
    KP_FAULT_TRUNCATE,          /* truncate: BYTES: Content-Length promises more, close after */
    KP_FAULT_MALFORMED,         /* 200 with a body that is not the promised format */
    KP_FAULT_RANDOM_THEN_CLOSE, /* random bytes (not HTTP), then close */
    KP_FAULT_DRIBBLE,           /* dribble: {bytes, every}: the answer trickles */
    KP_FAULT_TIMEOUT,           /* never answers */
    KP_FAULT_N_KINDS
} kp_fault_kind;

const char *kp_fault_kind_name(kp_fault_kind k);

/* What a server must do with one request. */
typedef struct kp_fault_action {
    int rule; /* the firing rule's id (its index in the scenario's list) */
    kp_fault_kind kind;
    int status; /* KP_FAULT_STATUS */
    char *body; /* KP_FAULT_STATUS: the body (NULL: a short text of the status) */
    size_t body_len;
    char *code;         /* KP_FAULT_API_ERROR */
    char *message;      /* KP_FAULT_API_ERROR */
    long long delay_us; /* KP_FAULT_DELAY */
    size_t bytes;       /* KP_FAULT_TRUNCATE, KP_FAULT_RESET mid_body: body bytes sent;
                           KP_FAULT_DRIBBLE: per chunk */
    bool mid_body;      /* KP_FAULT_RESET {after: BYTES}: the status, the headers and `bytes`
                           of the body go out, then the reset */
    long long every_us; /* KP_FAULT_DRIBBLE: between chunks */
    uint64_t seed;      /* for the random bytes of malformed / random_then_close */
    /* the rule's API match (NULL: any): which calls of a multirequest api_error replaces */
    char *match_service, *match_action;
} kp_fault_action;

void kp_fault_action_clear(kp_fault_action *a);

/* One request as a server sees it. Unknown attributes are NULL / -1. */
typedef struct kp_fault_req {
    const char *server; /* "api" | "cdn" | "drm" | "ads" | "analytics" */
    const char *method; /* "GET" ... */
    const char *path;   /* without the query */
    /* API: the calls, a multirequest's sub-calls each (service[i], action[i]) */
    const char *const *services;
    const char *const *actions;
    size_t n_calls;
    long long segment;     /* CDN: the media segment's index, -1 when not a segment */
    const char *rendition; /* CDN: "360p" */
    const char *kind;      /* CDN: the journal's kind (master, playlist, segment, init, mpd, ...) */
    const char *entry;     /* CDN, DRM: the entry id */
    const char *scheme;    /* DRM: the license's key system (clearkey, widevine, playready,
                              fairplay) */
} kp_fault_req;

typedef struct kp_fault_rule kp_fault_rule;

/* Checks one rule. `known_event` (may be NULL: any name) says whether a `when.event` name is a
 * player event. Returns 0 and *out, or KP_EPARSE with err (the message) and where (the key
 * path inside the rule, "" for the rule itself) filled. */
int kp_fault_rule_parse(const json_t *j, bool (*known_event)(const char *name), kp_fault_rule **out,
                        char *err, size_t errlen, char *where, size_t wherelen);
void kp_fault_rule_free(kp_fault_rule *r);
const char *kp_fault_rule_server(const kp_fault_rule *r);
/* The rule as JSON (a new reference): what was parsed, with its id and counters. */
json_t *kp_fault_rule_json(const kp_fault_rule *r);

typedef struct kp_fault_set kp_fault_set;

kp_fault_set *kp_fault_set_new(void);
void kp_fault_set_free(kp_fault_set *s);
/* Takes the rule over (also on failure); its id is the next one (0, 1, ...). Returns the id,
 * or KP_ENOMEM. */
int kp_fault_set_add(kp_fault_set *s, kp_fault_rule *r);
/* Removes rule `id` (KP_ENOENT when there is none), or every rule when id < 0. */
int kp_fault_set_remove(kp_fault_set *s, int id);
/* The rules as a JSON array (a new reference). */
json_t *kp_fault_set_json(kp_fault_set *s);
size_t kp_fault_set_count(kp_fault_set *s);
/* The player emitted `event` once more: arms the rules waiting for it. */
void kp_fault_set_event(kp_fault_set *s, const char *event);
/* Whether a rule fires for the request: 1 and *out filled (kp_fault_action_clear), or 0. */
int kp_fault_decide(kp_fault_set *s, const kp_fault_req *req, kp_fault_action *out);

/* A body that is not what `content_type` / `path` promise (broken JSON, XML, m3u8, garbage
 * media of `len` bytes), deterministic from seed. Appends to out; returns 0 or KP_ENOMEM. */
int kp_fault_malformed_body(const char *content_type, const char *path, size_t len, uint64_t seed,
                            kp_buf *out);
/* n deterministic pseudo-random bytes. */
void kp_fault_random_bytes(uint64_t seed, uint8_t *out, size_t n);

/* Parses "30s", "500ms", "1.5s", "2m", "1h" or a bare number of seconds to microseconds.
 * Returns 0 or KP_EPARSE. */
int kp_fault_parse_duration(const char *s, long long *us);

/* Response headers by which a server in virtual-time mode tells the player's network how
 * long its answer takes (core/src/net.c consumes and strips them). */
#define KP_FAULT_HDR_DELAY   "X-Kpsim-Fault-Delay"   /* microseconds before the answer */
#define KP_FAULT_HDR_DRIBBLE "X-Kpsim-Fault-Dribble" /* "<bytes>/<microseconds>" */
#define KP_FAULT_HDR_TIMEOUT "X-Kpsim-Fault-Timeout" /* "1": the answer never arrives */

#endif
