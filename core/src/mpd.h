/* mpd.h: the DASH MPD parser (ISO/IEC 23009-1), on libxml2, and segment list generation.
 *
 * kp_mpd_parse() takes the MPD's bytes and the URL it came from (BaseURL elements at the MPD,
 * Period, AdaptationSet and Representation levels are resolved against it, in that order) and
 * returns a kp_mpd the caller owns (kp_mpd_free). Nothing here touches the network.
 *
 * What it reads: MPD@type (static; dynamic is refused for now), mediaPresentationDuration,
 * minBufferTime, every Period (start, duration), AdaptationSets (content type from
 * contentType, mimeType or the Representations; lang, codecs; ContentProtection, including
 * the Representations' own), Representations (id, bandwidth, width, height, codecs, mimeType)
 * and their segment information, inherited Period → AdaptationSet → Representation:
 * SegmentTemplate (media, initialization, startNumber, timescale, duration,
 * presentationTimeOffset, SegmentTimeline S@t/@d/@r with r=-1), SegmentBase (indexRange,
 * Initialization@range, whose sidx box the caller fetches and hands to kp_mpd_sidx_parse),
 * SegmentList (SegmentURL@media/@mediaRange with @duration).
 *
 * Every malformed input fails with KP_EPARSE (or KP_ENOTSUP for what is valid but not
 * supported) and a kp_mpd_error naming the element and attribute, the XML line when libxml2
 * knows it, and the Kaltura player error code a player reports for it (4001 DASH_INVALID_XML,
 * 4002 DASH_NO_SEGMENT_INFO, 4003 DASH_EMPTY_ADAPTATION_SET, 4004 DASH_EMPTY_PERIOD,
 * 4007 DASH_PSSH_BAD_ENCODING, 4014 NO_PERIODS, 4018 DASH_DUPLICATE_REPRESENTATION_ID,
 * 3004-3006 for a bad sidx box, 4011 UNPLAYABLE_PERIOD for a dynamic MPD).
 */
#ifndef KP_MPD_H
#define KP_MPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kp_mpd_error {
    int line;  /* 1-based XML line; 0 when not known */
    int pcode; /* Kaltura player error code (kp/perror.h numbering) */
    char msg[256];
} kp_mpd_error;

typedef enum kp_mpd_content {
    KP_MPD_VIDEO = 0,
    KP_MPD_AUDIO = 1,
    KP_MPD_TEXT = 2,
    KP_MPD_OTHER = 3
} kp_mpd_content;

/* One S element of a SegmentTimeline, in the template's timescale. */
typedef struct kp_mpd_s {
    uint64_t t; /* valid when has_t */
    bool has_t;
    uint64_t d; /* > 0 */
    int64_t r;  /* >= -1 */
} kp_mpd_s;

typedef enum kp_mpd_seg_kind {
    KP_MPD_SEG_NONE = 0, /* only a BaseURL: the whole resource is one segment */
    KP_MPD_SEG_TEMPLATE, /* SegmentTemplate */
    KP_MPD_SEG_BASE,     /* SegmentBase: the segments are in the sidx at index_range */
    KP_MPD_SEG_LIST      /* SegmentList */
} kp_mpd_seg_kind;

typedef struct kp_mpd_seg_url {
    char *media;                      /* as written (NULL: the BaseURL) */
    long long range_start, range_end; /* -1 when absent */
} kp_mpd_seg_url;

/* A Representation's segment information, after inheritance. */
typedef struct kp_mpd_seg_info {
    kp_mpd_seg_kind kind;
    char *media;          /* template, as written */
    char *initialization; /* template or Initialization@sourceURL, as written; NULL if none */
    long long init_range_start, init_range_end;   /* Initialization@range; -1 when absent */
    long long index_range_start, index_range_end; /* SegmentBase@indexRange; -1 when absent */
    uint64_t start_number;                        /* default 1 */
    uint64_t timescale;                           /* default 1; > 0 */
    uint64_t duration;                            /* @duration in timescale units; 0 when absent */
    uint64_t pto;                                 /* presentationTimeOffset */
    kp_mpd_s *timeline;                           /* NULL when there is no SegmentTimeline */
    size_t n_timeline;
    kp_mpd_seg_url *urls; /* SegmentList */
    size_t n_urls;
} kp_mpd_seg_info;

typedef struct kp_mpd_representation {
    char *id;
    long long bandwidth;
    int width, height; /* 0 when absent */
    char *codecs;      /* the Representation's, else the AdaptationSet's; may be NULL */
    char *mime_type;   /* idem */
    char *base_url;    /* absolute: every BaseURL level resolved */
    kp_mpd_seg_info seg;
} kp_mpd_representation;

/* A ContentProtection element. */
typedef struct kp_mpd_protection {
    char *scheme_id_uri; /* as written */
    char *value;         /* "cenc", "cbcs", a DRM name, or NULL */
    bool mp4protection;  /* urn:mpeg:dash:mp4protection:2011 */
    bool has_system_id;  /* urn:uuid:<SystemID> */
    uint8_t system_id[16];
    bool has_default_kid; /* cenc:default_KID */
    uint8_t default_kid[16];
    uint8_t *pssh; /* decoded cenc:pssh (a whole pssh box); NULL when absent */
    size_t pssh_len;
    uint8_t *pro; /* decoded mspr:pro (a PlayReady Object); NULL when absent */
    size_t pro_len;
} kp_mpd_protection;

typedef struct kp_mpd_adaptation {
    char *id; /* NULL when absent */
    kp_mpd_content type;
    char *mime_type, *lang, *codecs; /* as written; may be NULL */
    kp_mpd_representation *reps;
    size_t n_reps;
    kp_mpd_protection *protections; /* the AdaptationSet's, then its Representations' */
    size_t n_protections;
} kp_mpd_adaptation;

typedef struct kp_mpd_period {
    char *id;
    double start;    /* seconds */
    double duration; /* seconds; -1 when unknown */
    kp_mpd_adaptation *sets;
    size_t n_sets;
} kp_mpd_period;

typedef struct kp_mpd {
    bool dynamic;
    double duration;        /* mediaPresentationDuration, or the periods' end; -1 unknown */
    double min_buffer_time; /* seconds; 0 when absent */
    kp_mpd_period *periods;
    size_t n_periods;
} kp_mpd;

int kp_mpd_parse(const char *data, size_t len, const char *url, kp_mpd **out, kp_mpd_error *err);
void kp_mpd_free(kp_mpd *mpd);

/* ISO 8601 duration ("PT1H2M3.5S", "P1DT2H"), strictly: seconds out, KP_EPARSE otherwise.
 * Years count 365 days and months 30. */
int kp_mpd_parse_duration(const char *s, double *out);

/* Expands a SegmentTemplate string ($RepresentationID$, $Number$, $Time$, $Bandwidth$, $$,
 * each but the first with an optional printf width such as %05d). Returns a malloc'd string,
 * or NULL with a message in err. */
char *kp_mpd_expand(const char *tmpl, const char *rep_id, uint64_t number, uint64_t time,
                    long long bandwidth, char *err, size_t errlen);

typedef struct kp_mpd_segment {
    char *url;                        /* absolute; NULL for "none" */
    long long range_start, range_end; /* inclusive byte range; -1 when the whole resource */
    double start, duration;           /* presentation time, seconds */
    uint64_t number;                  /* $Number$ (SegmentTemplate); else the index from 1 */
} kp_mpd_segment;

typedef struct kp_mpd_segments {
    kp_mpd_segment init;  /* url NULL when there is no initialization segment */
    kp_mpd_segment index; /* SegmentBase: the sidx range to fetch; url NULL otherwise */
    kp_mpd_segment *segs; /* in presentation order; empty for SegmentBase until the sidx */
    size_t n;
} kp_mpd_segments;

/* The segments of representation r of period p: {url, byte range or none, start, duration}.
 * Fails (KP_EPARSE / KP_ERANGE) with a message when the information does not give a finite
 * list (no period end for r=-1 or @duration, more than KP_MPD_MAX_SEGMENTS). */
#define KP_MPD_MAX_SEGMENTS 200000
int kp_mpd_segments_of(const kp_mpd_period *p, const kp_mpd_representation *r, kp_mpd_segments *out,
                       kp_mpd_error *err);
/* SegmentBase: fills out->segs from the sidx box fetched at out->index (data = those bytes). */
int kp_mpd_sidx_parse(const uint8_t *data, size_t len, const kp_mpd_period *p,
                      const kp_mpd_representation *r, kp_mpd_segments *out, kp_mpd_error *err);
void kp_mpd_segments_free(kp_mpd_segments *s);

/* "video", "audio", "text", "other". */
const char *kp_mpd_content_name(kp_mpd_content c);

#endif
