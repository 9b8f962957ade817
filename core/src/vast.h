/* vast.h: the VAST 2.0/3.0/4.x and VMAP 1.0 parsers of the ads plugin (libxml2, no I/O).
 *
 * Bytes in, a model out: kp_vast_parse turns a VAST document into its ads (InLine or Wrapper,
 * pods by sequence, the Linear creative's duration, skip offset, tracking, clicks and media
 * files, impressions, error URLs), kp_vmap_parse a VMAP document into its ad breaks (time
 * offset, inline VAST or an ad tag URI). Whatever the input, a call either succeeds or fails
 * with the VAST error code the IMA SDK would report for it (100 XML parsing, 101 schema
 * validation, 102 version not supported ...) and a located message. Elements the plugin does
 * not play (NonLinear, Companion, AdVerifications, Extensions ...) are accepted and skipped.
 *
 * Everything a parse returns is owned by the returned document; free it with its _free.
 */
#ifndef KP_VAST_H
#define KP_VAST_H

#include "kp/sched.h"

#include <stdbool.h>
#include <stddef.h>

/* VAST error codes (IAB VAST 4.x §2.3.6.3, what IMA's AdError.getVastErrorCode reports). */
enum {
    KP_VAST_XML_PARSE = 100,
    KP_VAST_SCHEMA = 101,
    KP_VAST_VERSION = 102,
    KP_VAST_TRAFFICKING = 200,
    KP_VAST_LINEARITY = 201,
    KP_VAST_WRAPPER = 300,
    KP_VAST_WRAPPER_TIMEOUT = 301,
    KP_VAST_WRAPPER_LIMIT = 302,
    KP_VAST_NO_ADS_AFTER_WRAPPER = 303,
    KP_VAST_LINEAR = 400,
    KP_VAST_FILE_NOT_FOUND = 401,
    KP_VAST_MEDIA_TIMEOUT = 402,
    KP_VAST_NO_SUPPORTED_MEDIA = 403,
    KP_VAST_MEDIA_DISPLAY = 405,
    KP_VAST_UNDEFINED = 900,
};

typedef struct kp_vast_error {
    int code; /* a VAST error code above */
    int line; /* 1-based line of the offending element, 0 when unknown */
    char msg[256];
} kp_vast_error;

typedef struct kp_vast_tracking {
    char *event;       /* "start", "firstQuartile", "progress", "skip", "pause" ... */
    char *url;         /* as written (macros unexpanded) */
    kp_time offset;    /* progress: the offset (us); -1 for a percentage or another event */
    double offset_pct; /* progress with "n%": n; -1 otherwise */
} kp_vast_tracking;

typedef struct kp_vast_media_file {
    char *url;
    char *type;                 /* "video/mp4" ... */
    char *delivery;             /* "progressive" | "streaming" (as written; NULL when absent) */
    char *api_framework;        /* VPAID ... (NULL when absent) */
    int width, height, bitrate; /* 0 when absent */
} kp_vast_media_file;

typedef struct kp_vast_ad {
    char *id;     /* Ad@id, NULL when absent */
    int sequence; /* Ad@sequence, 0 when absent (a standalone ad) */
    bool wrapper; /* a Wrapper: ad_tag_uri says where the rest is */
    char *ad_tag_uri;
    bool follow_redirects; /* Wrapper@followAdditionalWrappers (default true) */
    char *ad_system, *title, *universal_ad_id, *creative_id;
    char **impressions;
    size_t n_impressions;
    char **errors; /* Error URLs */
    size_t n_errors;
    /* the first Linear creative (InLine: required to play; Wrapper: tracking only) */
    bool linear;
    kp_time duration;    /* -1 when absent (a Wrapper) */
    kp_time skip_offset; /* -1 when not skippable or given as a percentage */
    double skip_pct;     /* skipoffset="n%": n; -1 otherwise */
    kp_vast_tracking *tracking;
    size_t n_tracking;
    char *click_through;
    char **click_tracking;
    size_t n_click_tracking;
    kp_vast_media_file *media;
    size_t n_media;
    bool nonlinear; /* has NonLinearAds (not played) */
} kp_vast_ad;

typedef struct kp_vast {
    char *version;   /* VAST@version */
    kp_vast_ad *ads; /* document order */
    size_t n_ads;
    char **errors; /* root-level Error URLs (a no-ad response) */
    size_t n_errors;
} kp_vast;

/* Parses a VAST document. Returns 0 and *out, or KP_EPARSE (or KP_ENOMEM) with *err filled
 * (err->code the VAST code) and *out NULL. A VAST without any Ad is a success with n_ads 0
 * (the caller reports it as a no-ads response). */
int kp_vast_parse(const char *data, size_t len, kp_vast **out, kp_vast_error *err);
void kp_vast_free(kp_vast *v);

/* The ads of the first pod (ads with a sequence, in sequence order) when the document has
 * one, else the first standalone ad (IMA plays pods over standalone ads, VAST 4 §2.3.2):
 * writes up to max indexes into v->ads and returns how many. */
size_t kp_vast_pick(const kp_vast *v, size_t *idx, size_t max);

/* "HH:MM:SS", "HH:MM:SS.mmm" -> microseconds. Returns 0 or KP_EPARSE. */
int kp_vast_parse_clock(const char *s, kp_time *out);

typedef struct kp_vmap_break {
    char *id;          /* breakId, NULL when absent */
    kp_time offset;    /* start: 0; end: -1; a clock value; else see pct/nth */
    double offset_pct; /* "n%": n; -1 otherwise */
    int nth;           /* "#n": n; 0 otherwise */
    char *ad_tag_uri;  /* AdTagURI, or NULL */
    kp_vast *vast;     /* VASTAdData parsed, or NULL */
    char **tracking_start, **tracking_end, **tracking_error;
    size_t n_start, n_end, n_error;
} kp_vmap_break;

typedef struct kp_vmap {
    kp_vmap_break *breaks;
    size_t n_breaks;
} kp_vmap;

/* Whether the document's root element is vmap:VMAP (a cheap sniff; no validation). */
bool kp_vmap_sniff(const char *data, size_t len);
/* Parses a VMAP 1.0 document (errors as kp_vast_parse; an inline VAST that fails fails the
 * whole document with its code). */
int kp_vmap_parse(const char *data, size_t len, kp_vmap **out, kp_vast_error *err);
void kp_vmap_free(kp_vmap *m);

#endif
