/* scenario.h: a loaded, validated scenario (SCENARIOS.md, format version 1).
 *
 * hx_scenario_load() reads one YAML file, checks every key, type and value, resolves
 * defaults, and either returns a complete hx_scenario or fills an hx_diag with one message
 * per problem, each "file:line:column: message" (1-based, the way compilers report), sorted
 * by location. A loaded scenario owns all its strings and JSON values; hx_scenario_free
 * releases them. An hx_diag owns its messages; hx_diag_free releases them.
 */
#ifndef HX_SCENARIO_H
#define HX_SCENARIO_H

#include "kp/sched.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct hx_loc {
    int line; /* 1-based; 0 when unknown */
    int col;  /* 1-based */
} hx_loc;

/* Diagnostics for one file. Start from a zeroed struct: hx_diag d = {0}. */
typedef struct hx_diag {
    char **msgs;  /* "file:line:col: message" ("file: message" when the line is unknown) */
    hx_loc *locs; /* locs[i]: where msgs[i] points */
    size_t n;
} hx_diag;

/* Frees the messages and leaves d empty (reusable). */
void hx_diag_free(hx_diag *d);
/* Appends one message; a NULL file prints as "<input>". Does nothing when d is NULL; drops the
 * message when out of memory. */
void hx_diag_addf(hx_diag *d, const char *file, hx_loc loc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The same with a va_list; returns 0, or KP_ENOMEM when the message was dropped (0 when d is
 * NULL). */
int hx_diag_vaddf(hx_diag *d, const char *file, hx_loc loc, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

/* One element of an event sequence (expect.events.sequence or a step's expect). */
typedef enum hx_match_kind {
    HX_MATCH_EVENT,     /* an event name, optionally with a payload subset */
    HX_MATCH_ANY_ORDER, /* {any_order: [...]}: these members in any order, then go on */
    HX_MATCH_ELLIPSIS   /* "...": any number of events (possibly none) */
} hx_match_kind;

typedef struct hx_match {
    hx_match_kind kind;
    char *event;            /* HX_MATCH_EVENT: a name kp_event_lookup() knows */
    json_t *payload;        /* HX_MATCH_EVENT: subset to match, or NULL */
    struct hx_match *group; /* HX_MATCH_ANY_ORDER members (events only, no nesting) */
    size_t n_group;
    hx_loc loc;
} hx_match;

typedef struct hx_seq {
    hx_match *items;
    size_t n;
    hx_loc loc; /* where the sequence starts */
} hx_seq;

typedef enum hx_step_kind {
    HX_STEP_LOAD_MEDIA,
    HX_STEP_PLAY,
    HX_STEP_PAUSE,
    HX_STEP_SEEK,
    HX_STEP_WAIT,
    HX_STEP_WAIT_FOR,
    HX_STEP_SET_MUTED,
    HX_STEP_SET_VOLUME,
    HX_STEP_LOAD_PLAYLIST,
    HX_STEP_SKIP_AD,
    HX_STEP_SET_NETWORK
} hx_step_kind;

typedef struct hx_step {
    hx_step_kind kind;
    hx_loc loc;
    /* load_media */
    char *entry_id; /* exactly one of entry_id / reference_id is set */
    char *reference_id;
    bool missing;       /* load_media {missing: true}: the id is deliberately not on the
                           back-end (to test "entry not found") */
    json_t *media_info; /* load_media on an OTT back-end: the extra mediaInfo options
                           (mediaType, contextType, protocol, fileIds, streamerType, urlType,
                           assetReferenceType, formats), in Kaltura's names; NULL when none */
    /* load_playlist: exactly one of playlist_id / list_entries */
    char *playlist_id;
    char **list_entries;
    size_t n_list_entries;
    /* seek (seconds), wait_for {position} (seconds), set_volume (0..1) */
    double number;
    /* wait (duration) */
    kp_time duration;
    /* wait_for */
    char *event;       /* NULL when waiting for a position */
    json_t *payload;   /* subset the event's payload must contain, or NULL */
    bool for_position; /* wait_for {position: S}: number holds S */
    kp_time timeout;   /* virtual; default 30 s */
    /* set_muted */
    bool flag;
    /* set_network: the new profile; 0 / -1 for a part left unchanged */
    long long bandwidth_bps;
    kp_time latency;
    /* step-level expectation */
    bool has_expect;
    hx_seq expect;
} hx_step;

typedef enum hx_format {
    HX_FORMAT_HLS = 1u << 0,
    HX_FORMAT_DASH = 1u << 1,
    HX_FORMAT_PROGRESSIVE = 1u << 2
} hx_format;

typedef struct hx_entry {
    char *id;
    char *name;
    char *type;       /* vod | live | audio | image */
    double duration;  /* seconds, > 0 */
    unsigned formats; /* hx_format bits, in the order given in `format_order` */
    hx_format format_order[3];
    size_t n_formats;
    char **renditions; /* e.g. "360p"; validated names */
    size_t n_renditions;
    char *status;       /* ready | import | preconvert | deleted */
    char *block;        /* NULL for access: allow; else the restriction code */
    char *reference_id; /* optional */
    struct hx_caption {
        char *lang, *label, *format; /* format: vtt | srt */
        bool is_default;
    } * captions;
    size_t n_captions;
    json_t *metadata;   /* custom metadata {"Key": "value"}, or NULL */
    char *bumper_entry; /* bumper: {entry_id, click_through} */
    char *bumper_click;
    /* protection: drm lists the key systems (1u << KP_DRM_*), encryption the scheme
     * (KP_ENC_*: defaulted from the formats and systems when drm is set) */
    unsigned drm_systems;
    int encryption;
    bool has_key;  /* encryption.kid/key given; otherwise derived from the id */
    bool hls_fmp4; /* hls.segments: fmp4 (kpsim): HLS served as fMP4, not MPEG-TS */
    uint8_t kid[16], key[16];
    struct hx_license {
        bool deny;              /* every license request is refused */
        kp_time expire_after;   /* the license's duration; 0: unlimited */
        long long max_licenses; /* licenses granted before the server refuses; -1: unlimited */
        bool bad_signature;     /* the back-end signs custom_data with a secret the license server
                             * does not share (for every protected entry of the back-end) */
        bool unknown_kid;       /* the license server's key store holds another KID for it */
        bool bad_certificate;   /* FairPlay: the back-end hands out a certificate that is not
                                 * the license server's */
    } license;
    hx_loc loc;
} hx_entry;

typedef struct hx_playlist {
    char *id, *name, *description;
    char **entries;
    size_t n_entries;
    hx_loc loc;
} hx_playlist;

/* backend.sessions: a KS the back-end issues, named for player.session */
typedef struct hx_session {
    char *name;
    char *user_id;
    char *privileges;
    bool expired;
    hx_loc loc;
} hx_session;

/* backend.ads (kpsim): the mock ad server's fixtures (docs/scenarios.md). The enum values
 * are mbe/mbe.h's: creative MBE_AD_*, media MBE_AD_MEDIA_*, broken MBE_VAST_*. */
typedef struct hx_ad {
    char *id;
    char *title;         /* NULL: the id */
    char *click_through; /* NULL: the mock's landing page */
    double duration;     /* seconds */
    double skipoffset;   /* seconds; < 0: not skippable (or skip_pct) */
    double skip_pct;     /* 0..100; < 0: not a percentage */
    int creative;        /* 0 linear, 1 nonlinear, 2 vpaid */
    int media;           /* 0 served, 1 missing (404), 2 none (no MediaFiles) */
    hx_loc loc;
} hx_ad;

typedef struct hx_vast {
    char *id;
    char *version; /* "2.0" ... "4.2" */
    char **ads;    /* creative ids; none and no wrapper: an empty VAST */
    size_t n_ads;
    char *wrapper; /* a vast id, or NULL */
    int broken;    /* 0 good, 1 malformed, 2 truncated, 3 not_vast, 4 empty_body */
    hx_loc loc;
} hx_vast;

typedef struct hx_vmap_break {
    char *id;     /* breakId (default "break-<n>") */
    char *offset; /* timeOffset as the VMAP writes it */
    char *vast;
    bool inline_vast;
    hx_loc loc;
} hx_vmap_break;

typedef struct hx_vmap {
    char *id;
    hx_vmap_break *breaks;
    size_t n_breaks;
    int broken; /* as hx_vast's (3: not_vmap) */
    hx_loc loc;
} hx_vmap;

/* One entry of expect.requests: what a mock server must have received. */
typedef struct hx_request_expect {
    char *server;    /* "api" | "cdn" | "drm" | "ads" */
    json_t *match;   /* e.g. {"service":"baseEntry","action":"list"}; {} when not given */
    long long count; /* -1 when not given: at least one */
    hx_loc loc;
    /* The ordered form {server, sequence: [match, ...]}: NULL when not given (then `match`
     * and `count` apply). Each item is a match map as above; the server's records, in
     * arrival order, must hold a record matching each item after the previous item's. */
    json_t *sequence;
    hx_loc *seq_locs; /* seq_locs[i]: where sequence item i sits */
} hx_request_expect;

typedef struct hx_scenario {
    char *file;
    char *name;      /* for a matrix variant: the variant's own, unique name */
    char *variant;   /* the variant's label ("chrome-hls"), NULL when the file has no matrix */
    char **includes; /* the fixture files it includes, directly or not, as paths */
    size_t n_includes;
    char *description;
    char **tags;
    size_t n_tags;
    double timeout_s; /* wall-clock watchdog, default 60 */

    struct {
        char *kind; /* "ovp" | "ott" */
        long long partner_id;
        hx_entry *entries;
        size_t n_entries;
        bool entries_defaulted; /* backend.entries omitted: one default entry */
        hx_playlist *playlists;
        size_t n_playlists;
        hx_session *sessions;
        size_t n_sessions;
        bool bare_item_errors; /* OTT: item_errors: bare */
        struct {
            hx_ad *creatives;
            size_t n_creatives;
            hx_vast *vast;
            size_t n_vast;
            hx_vmap *vmap;
            size_t n_vmap;
        } ads;
        struct {
            bool down;     /* the sink closes connections without an answer */
            int status;    /* 0, or the HTTP status the sink answers beacons with */
            bool no_views; /* view_events: false → viewEventsEnabled:false */
        } analytics;       /* backend.analytics */
        /* backend.faults: the fault rules (kp/fault.h), each a JSON object as written and
         * already checked by kp_fault_rule_parse; fault_locs[i] is where rule i starts */
        json_t *faults; /* an array, NULL when there are none */
        hx_loc *fault_locs;
    } backend;

    struct {
        char *platform;          /* "chrome" */
        long long bandwidth_bps; /* default 8 Mbit/s */
        kp_time latency;         /* default 20 ms */
        json_t *config;          /* Kaltura Player config (always an object) */
        char *session;           /* the backend.sessions name whose KS the player uses */
    } player;

    hx_step *steps;
    size_t n_steps;

    struct {
        char **ignore; /* added to the default ignore list */
        size_t n_ignore;
        bool has_sequence;
        hx_seq sequence;
        bool has_error; /* expect.error given */
        json_t *error;  /* NULL when expect.error is null: no error event allowed */
        hx_request_expect *requests;
        size_t n_requests;
        hx_loc loc;
    } expect;

    /* Where the top-level `expect:` block sits in the file, so that it can be rewritten in
     * place (kpsim record). Lines are 1-based. */
    struct {
        int expect_line;       /* line of the top-level `expect:` key; 0 when absent */
        int after_expect_line; /* line of the top-level key after it; 0 when expect is last */
    } layout;
} hx_scenario;

/* Loads and validates one file with its `include:` fixtures (paths relative to the including
 * file) and expands its `matrix:` or `variants:` (docs/scenarios.md): *out gets *n >= 1
 * scenarios, one per variant, each with a unique name (a file without a matrix gives one).
 * Returns 0, or KP_EPARSE with every problem in diag (located: include cycles, missing
 * include files, unknown ${axis}, duplicate variant names ...) and *out NULL, or another
 * KP_E* code (file unreadable: also reported in diag). Free with hx_scenarios_free. */
int hx_scenario_load_variants(const char *path, hx_scenario ***out, size_t *n, hx_diag *diag);
/* The same from memory: `name` is the file name in diagnostics; data need not be
 * NUL-terminated; `include:` is refused (nothing is read from disk). diag may be NULL. */
int hx_scenario_load_variants_buffer(const char *name, const char *data, size_t len,
                                     hx_scenario ***out, size_t *n, hx_diag *diag);
void hx_scenarios_free(hx_scenario **v, size_t n);

/* Loads a file that gives exactly one scenario (hx_scenario_load_variants; a file with
 * several variants is reported as KP_EPARSE). Returns 0 and sets *out, or KP_EPARSE with every
 * problem in diag (and *out NULL), or another KP_E* code (file unreadable: also in diag). */
int hx_scenario_load(const char *path, hx_scenario **out, hx_diag *diag);
/* The same from memory (the fuzzing entry point): `name` is used as the file name in
 * diagnostics and in s->file; data need not be NUL-terminated. diag may be NULL. Returns 0,
 * KP_EPARSE or KP_ENOMEM. */
int hx_scenario_load_buffer(const char *name, const char *data, size_t len, hx_scenario **out,
                            hx_diag *diag);
void hx_scenario_free(hx_scenario *s);

/* Whether the scenario asserts anything: an expect block (events, error or requests) or a
 * step's expect. One that does not is "not recorded" when run (kpsim record writes it). */
bool hx_scenario_has_expectation(const hx_scenario *s);

/* Parses "60s", "500ms", "1.5s", "2m", "1h" or a bare number of seconds into virtual time
 * (rounded to the microsecond). No sign, spaces or exponent. Returns 0 or KP_EPARSE. */
int hx_parse_duration(const char *s, kp_time *out);
/* Parses "8mbps", "500kbps", "1.5Mbps", "1gbps", "64000bps" or a bare number of bit/s
 * (decimal multipliers, unit case-insensitive). Returns 0 or KP_EPARSE (also for <= 0). */
int hx_parse_bandwidth(const char *s, long long *out);

#endif
