/* cmd_provider.h: `kpsim provider`, one provider call against a real back-end (or the mock),
 * printed as JSON: what the reference player's provider makes of an entry, a playlist or an
 * entry list, OVP or OTT. Uses the synchronous client of kp/provider.h (libcurl; the caller
 * has called curl_global_init()).
 *
 *   kpsim provider --service-url URL --partner-id N
 *                  (--entry-id ID | --reference-id REF | --playlist-id ID | --entry-list ID,...)
 *                  [--ks KS] [--kind ovp|ott] [--widget-id ID] [--uiconf-id N] [--referrer URL]
 *                  [--client-tag TAG] [--timeout SECONDS]
 *                  OTT: [--media-type media|epg|recording]
 *                       [--context-type PLAYBACK|START_OVER|CATCHUP|TRAILER|DOWNLOAD]
 *                       [--protocol P] [--file-ids IDS] [--streamer-type T] [--url-type T]
 *                       [--asset-reference-type T] [--formats A,B] [--ott-single-requests]
 *
 * Prints the media config (or playlist object), indented, on stdout and returns 0; prints the
 * provider error object on stdout and returns 1; a bad command line prints the usage on
 * stderr and returns 2 (so does a call that cannot be made at all, e.g. out of memory).
 * argv holds the arguments after the command name ("provider" itself may be argv[0]); log
 * may be NULL. Nothing is kept after the call.
 */
#ifndef HX_CMD_PROVIDER_H
#define HX_CMD_PROVIDER_H

#include "kp/log.h"

int hx_cmd_provider(int argc, char **argv, kp_log *log);

/* The usage text (static). */
const char *hx_cmd_provider_usage(void);

#endif
