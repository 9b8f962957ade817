/* ads.h: the ads plugin ("ima"): the Kaltura IMA plugin and KalturaPlayer's AdsController in
 * one, on the virtual clock (docs/model.md "Ads").
 *
 * Enabled by player.config.plugins.ima (adTagUrl or adsResponse: a VAST or VMAP requested when
 * the media loads) or by player.config.advertising.adBreaks (position | percentage | every,
 * ads: [{url: [...]}]). It fetches VAST through the player's kp_net, follows wrappers up to
 * plugins.ima.numRedirects (4), plays the ads' progressive MP4 files on an ad element of its
 * own (the bytes really fetched and demuxed), pauses and resumes content around breaks, fires
 * impression, tracking and error beacons, and emits the ad events with their payloads.
 *
 * The player calls the kp__ads_* hooks below; the plugin state is owned by the player's
 * plugin list (created from the config table in player.c).
 */
#ifndef KP_ADS_H
#define KP_ADS_H

#include "kp/player.h"

#include <stdbool.h>

typedef struct kp_ads kp_ads;

extern const kp_plugin_desc kp_ads_plugin;

/* Whether a configuration enables the plugin (plugins.ima or advertising.adBreaks). */
bool kp_ads_enabled(const json_t *config);

/* The player's play middleware reached the ads: true when content must wait (a preroll is
 * pending or playing); the plugin then calls kp__player_ads_release when it may go on. */
bool kp__ads_hold_play(kp_ads *a);
/* playbackended is due: true when it must wait for alladscompleted (a postroll); the plugin
 * then calls kp__player_ads_ended. */
bool kp__ads_hold_ended(kp_ads *a);
/* The viewer pressed skip: skips the current ad when it can be skipped. Returns 0, or
 * KP_ESTATE when no skippable ad is playing. */
int kp__ads_skip(kp_ads *a);
/* The player API's pause/play while an ad break is on: they act on the ad (adpaused,
 * adresumed and their beacons), not on the content. true when the call was the ads'. */
bool kp__ads_pause(kp_ads *a);
bool kp__ads_resume(kp_ads *a);

#endif
