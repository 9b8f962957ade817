/* engine.h: the interface between the player and its playback engines (hls, dash, later
 * progressive), in the spirit of playkit-js media-source adapters and curl's connection-filter
 * vtables: a const ops table per engine, an opaque context per instance.
 *
 * The player creates an engine for the selected source, then calls load(); the engine feeds
 * the media element and reports back through the host callbacks. destroy() cancels whatever
 * is in flight; no host callback fires after it.
 */
#ifndef KP_ENGINE_H
#define KP_ENGINE_H

#include "kp/cenc.h"
#include "kp/event.h"
#include "kp/log.h"
#include "kp/net.h"
#include "kp/sched.h"
#include "m3u8.h"
#include "media.h"
#include "mpd.h"

#include <jansson.h>
#include <stdbool.h>

struct kp_eme;

typedef struct kp_engine_host {
    kp_sched *sched;
    kp_net *net;
    kp_media *media;
    kp_log *log;
    /* The source's EME (eme.h) when it has drmData, else NULL: protected content then fails
     * with a DRM error. */
    struct kp_eme *eme;
    void *ud; /* the player */
    /* An adapter event (abrmodechanged, manifestloaded, fragloaded, videotrackchanged ...);
     * payload stolen. */
    void (*emit)(void *ud, kp_event_type type, json_t *payload);
    /* load() resolved: the track list (stolen), as the Player's trackschanged payload wants. */
    void (*loaded)(void *ud, json_t *tracks);
    /* An engine error: a player error object (stolen). A CRITICAL one is fatal (the engine
     * stops loading); a RECOVERABLE one is only reported (the engine goes on). */
    void (*fail)(void *ud, json_t *error);
    /* A media event the adapter raises itself (the NativeAdapter's synthetic playing and
     * waiting): the player treats it as the element's own. */
    void (*media_event)(void *ud, kp_event_type type);
} kp_engine_host;

typedef struct kp_engine_ops {
    const char *name;   /* "hls" */
    const char *format; /* the sources key it plays: "hls", "dash", "progressive" */
    /* The playkit media-source adapter it stands for: "native" (the element plays the URL
     * itself), "hls" (hls.js), "dash" (shaka); NULL means the MSE adapter of its format (hls,
     * dash), or native for other formats. Source selection (source_select.h) decides the
     * adapter, then looks for an engine of that adapter and format in the player's table. */
    const char *adapter;
    /* playkit canPlaySource: mimetype and DRM support. */
    bool (*can_play)(const json_t *source, const json_t *player_config);
    void *(*create)(const kp_engine_host *host, const json_t *source, const json_t *player_config);
    /* Starts loading (emits abrmodechanged, resets the element, fetches the manifest). */
    void (*load)(void *engine);
    void (*destroy)(void *engine);
} kp_engine_ops;

/* The helpers every engine uses (engine.c). */
/* How long a transfer took on the virtual clock, in milliseconds (the adapters' miliSeconds). */
double kp_engine_elapsed_ms(const kp_http_response *r);
/* fragloaded {miliSeconds, bytes, url} for a segment (init sections included) that arrived. */
void kp_engine_frag_loaded(const kp_engine_host *host, const kp_http_response *r);
/* An HLS METHOD=AES-128 segment (data, len) decrypted into *plain with key (NULL: the key was
 * never loaded) and the IV of the tag or of the segment's media sequence number; *ctx is made
 * on first use. KP_OK, or a code with err set (a wrong key or IV breaks the padding). */
int kp_engine_hls_aes_decrypt(kp_cenc_ctx **ctx, const uint8_t *key, const kp_m3u8_key *k,
                              const kp_m3u8_segment *sg, const void *data, size_t len,
                              kp_buf *plain, char *err, size_t errlen);

extern const kp_engine_ops kp_engine_hls;
extern const kp_engine_ops kp_engine_dash;

/* The DASH engine's parsed MPD (its ContentProtection per AdaptationSet, for the DRM glue), or
 * NULL before the manifest arrived or when it did not parse. Owned by the engine. */
const kp_mpd *kp_engine_dash_manifest(const void *engine);
extern const kp_engine_ops kp_engine_progressive;
extern const kp_engine_ops kp_engine_native_hls; /* HLS played by the element itself */

#endif
