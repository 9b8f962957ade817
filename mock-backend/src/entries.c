/* entries.c: what an entry carries beyond its media (captions, custom metadata, bumper), the
 * playlists, and sessions (KS) made on request. */
#include "ks.h"
#include "mbe_internal.h"
#include "media_protect.h"

#include "kp/buf.h"
#include "kp/drm.h"
#include "kp/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mbe_entry_extras(mbe_server *s, const mbe_entry *in, mbe_ientry *e)
{
    if (in->drm.scheme < KP_ENC_NONE || in->drm.scheme >= KP_ENC_SCHEME_COUNT ||
        in->drm.systems >= (1u << KP_DRM_SYSTEM_COUNT)) {
        KP_LOG_E(s->log, "mbe", "entry %s: bad drm scheme %d or key systems 0x%x", in->id,
                 in->drm.scheme, in->drm.systems);
        return KP_EINVAL;
    }
    if (in->hls_segments != MBE_HLS_TS && in->hls_segments != MBE_HLS_FMP4) {
        KP_LOG_E(s->log, "mbe", "entry %s: bad HLS segment container %d", in->id, in->hls_segments);
        return KP_EINVAL;
    }
    e->hls_segments = in->hls_segments;
    e->drm = in->drm;
    if (e->drm.scheme != KP_ENC_NONE && !e->drm.has_key)
        kp_drm_derive_key(in->id, e->drm.kid, e->drm.key);
    atomic_init(&e->prot, NULL);
    if (in->n_captions) {
        e->captions = calloc(in->n_captions, sizeof(*e->captions));
        if (!e->captions)
            return KP_ENOMEM;
        for (size_t i = 0; i < in->n_captions; i++) {
            const mbe_caption *c = &in->captions[i];
            e->captions[i] = (mbe_caption){
                .lang = kp_strdup(c->lang ? c->lang : "en"),
                .label = kp_strdup(c->label ? c->label : (c->lang ? c->lang : "English")),
                .format = kp_strdup(c->format ? c->format : "vtt"),
                .is_default = c->is_default,
            };
            e->n_captions = i + 1;
            if (!e->captions[i].lang || !e->captions[i].label || !e->captions[i].format)
                return KP_ENOMEM;
        }
    }
    if (in->metadata) {
        e->metadata = json_deep_copy(in->metadata);
        if (!e->metadata)
            return KP_ENOMEM;
    }
    if (in->bumper_entry) {
        e->bumper_entry = kp_strdup(in->bumper_entry);
        e->bumper_click = kp_strdup(in->bumper_click ? in->bumper_click : "");
        if (!e->bumper_entry || !e->bumper_click)
            return KP_ENOMEM;
    }
    return KP_OK;
}

void mbe_entry_extras_free(mbe_ientry *e)
{
    for (size_t i = 0; i < e->n_captions; i++) {
        free((char *)e->captions[i].lang);
        free((char *)e->captions[i].label);
        free((char *)e->captions[i].format);
    }
    free(e->captions);
    json_decref(e->metadata);
    free(e->bumper_entry);
    free(e->bumper_click);
    mbe_entry_api_free(e);
    mbe__protected_free(atomic_load(&e->prot));
    atomic_store(&e->prot, NULL);
}

int mbe_playlists_init(mbe_server *s, const mbe_config *cfg)
{
    if (!cfg->n_playlists)
        return KP_OK;
    s->playlists = calloc(cfg->n_playlists, sizeof(*s->playlists));
    if (!s->playlists)
        return KP_ENOMEM;
    for (size_t i = 0; i < cfg->n_playlists; i++) {
        const mbe_playlist *in = &cfg->playlists[i];
        mbe_iplaylist *p = &s->playlists[i];
        s->n_playlists = i + 1;
        p->id = kp_strdup(in->id);
        p->name = kp_strdup(in->name ? in->name : in->id);
        p->description = kp_strdup(in->description ? in->description : "");
        p->entries = calloc(in->n_entries + 1, sizeof(char *));
        if (!p->id || !p->name || !p->description || !p->entries)
            return KP_ENOMEM;
        for (size_t k = 0; k < in->n_entries; k++) {
            if (!mbe_find_entry(s, in->entries[k])) {
                KP_LOG_E(s->log, "mbe", "playlist %s: no entry %s", in->id, in->entries[k]);
                return KP_EINVAL;
            }
            p->entries[k] = kp_strdup(in->entries[k]);
            p->n_entries = k + 1;
            if (!p->entries[k])
                return KP_ENOMEM;
        }
    }
    return KP_OK;
}

void mbe_playlists_free(mbe_server *s)
{
    for (size_t i = 0; i < s->n_playlists; i++) {
        mbe_iplaylist *p = &s->playlists[i];
        free(p->id);
        free(p->name);
        free(p->description);
        for (size_t k = 0; k < p->n_entries; k++)
            free(p->entries[k]);
        free(p->entries);
    }
    free(s->playlists);
    s->playlists = NULL;
    s->n_playlists = 0;
}

const mbe_iplaylist *mbe_find_playlist(const mbe_server *s, const char *id)
{
    for (size_t i = 0; id && i < s->n_playlists; i++)
        if (strcmp(s->playlists[i].id, id) == 0)
            return &s->playlists[i];
    return NULL;
}

char *mbe_server_make_ks(const mbe_server *s, const char *user_id, const char *privileges,
                         long long expires_in)
{
    char rand[48];
    snprintf(rand, sizeof(rand), "%lld.9999", s->epoch);
    return mbe_ks_make(s->partner_id, s->secret, s->epoch + expires_in, 0, rand,
                       user_id ? user_id : "", privileges ? privileges : "view:*");
}
