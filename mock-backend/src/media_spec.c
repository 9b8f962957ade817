/* media_spec.c: rendition names, the bit rate ladder, spec validation and the cache key text. */
#include "media_priv.h"

#include "kp/err.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MOD "media"

static const struct {
    int height;
    int kbps;
} ladder[] = {
    {144, 150},  {180, 200},   {240, 300},   {360, 600},    {480, 1000},
    {720, 2500}, {1080, 4500}, {1440, 8000}, {2160, 16000},
};

int mbe__ladder_kbps(int height)
{
    size_t n = sizeof(ladder) / sizeof(ladder[0]);
    if (height <= ladder[0].height)
        return ladder[0].kbps;
    for (size_t i = 1; i < n; i++) {
        if (height > ladder[i].height)
            continue;
        int h0 = ladder[i - 1].height, h1 = ladder[i].height;
        int k0 = ladder[i - 1].kbps, k1 = ladder[i].kbps;
        /* linear, rounded to the nearest 10 kbit/s */
        long num = (long)k0 * (h1 - h0) + (long)(k1 - k0) * (height - h0);
        long kbps = (num + (h1 - h0) / 2) / (h1 - h0);
        return (int)((kbps + 5) / 10 * 10);
    }
    return ladder[n - 1].kbps;
}

int mbe_rendition_parse(const char *name, mbe_rendition *out)
{
    if (!name || !out)
        return KP_EINVAL;
    size_t len = strlen(name);
    /* digits (no leading zero) then 'p': "144p" .. "2160p" */
    if (len < 4 || len > 5 || name[len - 1] != 'p' || name[0] == '0')
        return KP_EINVAL;
    int height = 0;
    for (size_t i = 0; i + 1 < len; i++) {
        if (name[i] < '0' || name[i] > '9')
            return KP_EINVAL;
        height = height * 10 + (name[i] - '0');
    }
    if (height < 144 || height > 2160 || height % 2 != 0)
        return KP_EINVAL;
    memset(out, 0, sizeof(*out));
    snprintf(out->name, sizeof(out->name), "%dp", height);
    out->height = height;
    out->width = 2 * ((height * 8 + 4) / 9); /* height * 16 / 9, rounded to even */
    out->video_kbps = mbe__ladder_kbps(height);
    return KP_OK;
}

static int check_rendition(const mbe_rendition *r, size_t i, kp_log *log)
{
    char name[sizeof(r->name) + 1];
    memcpy(name, r->name, sizeof(r->name));
    name[sizeof(r->name)] = '\0';
    mbe_rendition want;
    if (mbe_rendition_parse(name, &want) < 0) {
        KP_LOG_W(log, MOD,
                 "bad media spec: rendition %zu has a bad name \"%s\" (want <height>p, "
                 "height even, 144..2160)",
                 i, name);
        return KP_EINVAL;
    }
    if (r->width != want.width || r->height != want.height) {
        KP_LOG_W(log, MOD, "bad media spec: rendition %s is %dx%d, its name says %dx%d", name,
                 r->width, r->height, want.width, want.height);
        return KP_EINVAL;
    }
    if (r->video_kbps < MBE__MIN_KBPS || r->video_kbps > MBE__MAX_KBPS) {
        KP_LOG_W(log, MOD, "bad media spec: rendition %s has video_kbps %d (want %d..%d)", name,
                 r->video_kbps, MBE__MIN_KBPS, MBE__MAX_KBPS);
        return KP_EINVAL;
    }
    return KP_OK;
}

int mbe__plan_from_spec(const mbe_media_spec *spec, kp_log *log, mbe__plan *out)
{
    if (!spec || !out) {
        KP_LOG_W(log, MOD, "bad media spec: NULL");
        return KP_EINVAL;
    }
    memset(out, 0, sizeof(*out));
    if (!(spec->duration_s > 0) || !isfinite(spec->duration_s)) {
        KP_LOG_W(log, MOD, "bad media spec: duration_s %g is not > 0", spec->duration_s);
        return KP_EINVAL;
    }
    if (spec->duration_s > MBE__MAX_DURATION_S) {
        KP_LOG_W(log, MOD, "bad media spec: duration_s %g is absurd (more than %d s)",
                 spec->duration_s, MBE__MAX_DURATION_S);
        return KP_EINVAL;
    }
    int64_t frames = (int64_t)llround(spec->duration_s * MBE__FPS);
    if (frames < 1) {
        KP_LOG_W(log, MOD, "bad media spec: duration_s %g is shorter than one frame (1/%d s)",
                 spec->duration_s, MBE__FPS);
        return KP_EINVAL;
    }
    if (spec->segment_s < 1 || spec->segment_s > MBE__MAX_SEGMENT_S) {
        KP_LOG_W(log, MOD, "bad media spec: segment_s %d is out of range (1..%d)", spec->segment_s,
                 MBE__MAX_SEGMENT_S);
        return KP_EINVAL;
    }
    if (spec->packagings & ~MBE_PACKAGE_ALL) {
        KP_LOG_W(log, MOD, "bad media spec: unknown packagings 0x%x", spec->packagings);
        return KP_EINVAL;
    }
    if (spec->n_renditions == 0 || !spec->renditions) {
        KP_LOG_W(log, MOD, "bad media spec: no renditions");
        return KP_EINVAL;
    }
    if (spec->n_renditions > MBE__MAX_RENDITIONS) {
        KP_LOG_W(log, MOD, "bad media spec: %zu renditions (at most %d)", spec->n_renditions,
                 MBE__MAX_RENDITIONS);
        return KP_EINVAL;
    }
    for (size_t i = 0; i < spec->n_renditions; i++) {
        int rc = check_rendition(&spec->renditions[i], i, log);
        if (rc < 0)
            return rc;
        for (size_t j = 0; j < i; j++) {
            if (spec->renditions[j].height == spec->renditions[i].height) {
                KP_LOG_W(log, MOD, "bad media spec: rendition %dp appears twice",
                         spec->renditions[i].height);
                return KP_EINVAL;
            }
        }
        out->renditions[i] = spec->renditions[i];
        /* normalise: the name is NUL-terminated and nothing follows it */
        memset(out->renditions[i].name, 0, sizeof(out->renditions[i].name));
        snprintf(out->renditions[i].name, sizeof(out->renditions[i].name), "%dp",
                 spec->renditions[i].height);
    }
    out->n_frames = frames;
    out->segment_s = spec->segment_s;
    out->gop_frames = spec->segment_s * MBE__FPS;
    out->n_renditions = spec->n_renditions;
    out->packagings = spec->packagings ? spec->packagings : MBE_PACKAGE_ALL;
    return KP_OK;
}

int mbe__plan_key_text(const mbe__plan *p, const char *lib_versions, kp_buf *out)
{
    int rc = kp_buf_printf(out,
                           "kpsim-media generator=%d fps=%d audio=aac-lc/%d/%d/%d frames=%lld "
                           "segment_s=%d libs=[%s] renditions=",
                           MBE__GENERATOR_VERSION, MBE__FPS, MBE__AUDIO_RATE, MBE__AUDIO_CHANNELS,
                           MBE__AUDIO_BITRATE, (long long)p->n_frames, p->segment_s, lib_versions);
    for (size_t i = 0; rc == KP_OK && i < p->n_renditions; i++) {
        const mbe_rendition *r = &p->renditions[i];
        rc = kp_buf_printf(out, "%s%s:%dx%d:%dk", i ? "," : "", r->name, r->width, r->height,
                           r->video_kbps);
    }
    return rc;
}
