/* m3u8.h: HLS playlist parser (RFC 8216), master and media playlists.
 *
 * kp_m3u8_parse() accepts the playlist text and the URL it came from (relative URIs are
 * resolved against it). On bad input it fails with KP_EPARSE and fills a kp_m3u8_error with
 * the line and a precise message, plus the Kaltura player error code a player reports for
 * it (4015 HLS_PLAYLIST_HEADER_MISSING, 4016 INVALID_HLS_TAG, 4023/4024 missing attribute or
 * tag; an EXT-X-KEY IV that is not 0x + 1 to 32 hex digits is 4016). The returned playlist is owned by the caller (kp_m3u8_free).
 */
#ifndef KP_M3U8_H
#define KP_M3U8_H

#include <stdbool.h>
#include <stddef.h>

typedef struct kp_m3u8_variant {
    char *uri; /* absolute */
    long bandwidth;
    long average_bandwidth; /* 0 when absent */
    int width, height;      /* 0 when RESOLUTION is absent */
    char *codecs;           /* NULL when absent */
    double frame_rate;      /* 0 when absent */
    char *audio;            /* AUDIO group id (EXT-X-MEDIA TYPE=AUDIO), or NULL */
} kp_m3u8_variant;

/* An EXT-X-MEDIA rendition of a master playlist. */
typedef struct kp_m3u8_media {
    char *type;     /* "AUDIO", "SUBTITLES", "CLOSED-CAPTIONS", "VIDEO" */
    char *group_id; /* GROUP-ID */
    char *name;     /* NAME */
    char *language; /* LANGUAGE or NULL */
    char *uri;      /* absolute, or NULL (the rendition is in the variant's own stream) */
    bool is_default;
} kp_m3u8_media;

typedef struct kp_m3u8_key {
    char *method;    /* "NONE", "AES-128", "SAMPLE-AES" ... */
    char *uri;       /* absolute; NULL for NONE */
    char *iv;        /* "0x..." as written, or NULL */
    char *keyformat; /* KEYFORMAT, or NULL ("identity") */
    bool has_iv;     /* IV given: iv_bytes holds it (big-endian, left-padded) */
    unsigned char iv_bytes[16];
} kp_m3u8_key;

typedef struct kp_m3u8_segment {
    char *uri; /* absolute */
    double duration;
    long long sequence; /* media sequence number */
    double start;       /* sum of the previous EXTINF durations */
    bool discontinuity;
    int key_index; /* index into keys, -1 for none */
} kp_m3u8_segment;

typedef struct kp_m3u8 {
    bool is_master;
    int version;
    bool independent_segments;
    /* master */
    kp_m3u8_variant *variants;
    size_t n_variants;
    kp_m3u8_media *media; /* EXT-X-MEDIA renditions, in order */
    size_t n_media;
    /* media */
    double target_duration;
    long long media_sequence;
    char *playlist_type; /* "VOD", "EVENT" or NULL */
    bool endlist;
    char *map_uri; /* EXT-X-MAP URI (absolute) or NULL */
    kp_m3u8_segment *segments;
    size_t n_segments;
    kp_m3u8_key *keys;
    size_t n_keys;
    double total_duration;
} kp_m3u8;

typedef struct kp_m3u8_error {
    int line;  /* 1-based; 0 when the problem is the whole playlist */
    int pcode; /* Kaltura player error code (kp/perror.h) */
    char msg[256];
} kp_m3u8_error;

int kp_m3u8_parse(const char *text, size_t len, const char *base_url, kp_m3u8 **out,
                  kp_m3u8_error *err);
void kp_m3u8_free(kp_m3u8 *pl);

/* The audio rendition a player loads as a second stream for variant v of master: the
 * EXT-X-MEDIA TYPE=AUDIO of v's AUDIO group that has a URI, the DEFAULT=YES one, else the
 * first; NULL when v has no AUDIO group or the group has no such rendition (its audio is in
 * the variant's own stream). */
const kp_m3u8_media *kp_m3u8_audio_rendition(const kp_m3u8 *master, const kp_m3u8_variant *v);

#endif
