/* media_dash.c: the DASH and progressive-MP4 packagers (boxes by media_mp4.c) and the MPD.
 *
 * DASH: every stream (the video of one rendition, or the shared audio) is its own
 * one-track fragmented MP4: an init segment and one fragment per GOP, as FFmpeg's dash
 * muxer cuts them (reference drm-and-media.md §4.2 (c)): video segment k holds frames
 * [k*G, (k+1)*G), audio segment k the AAC frames that start in the same span, so the video
 * timeline is regular (d = G * 512 at timescale 12800) and the audio one nearly so (whole
 * AAC frames of 1024 samples at 48 kHz). Both timelines start at 0 and have no gaps.
 *
 * The MPD is written per request (the CDN chooses the flavors, ids and BaseURL): static,
 * isoff-live profile, SegmentTemplate with $RepresentationID$ and $Number$ (from 1) and a
 * SegmentTimeline, as shaka-player and FFmpeg's dash demuxer read it.
 */
#include "media_priv.h"

#include "kp/err.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD "media"

int64_t mbe__dash_video_t(const mbe__plan *p, size_t k)
{
    return (int64_t)k * p->gop_frames * (MBE_DASH_TIMESCALE_VIDEO / MBE__FPS);
}

int64_t mbe__dash_video_d(const mbe__plan *p, size_t k)
{
    int64_t f0 = (int64_t)k * p->gop_frames;
    int64_t f1 = f0 + p->gop_frames < p->n_frames ? f0 + p->gop_frames : p->n_frames;
    return (f1 - f0) * (MBE_DASH_TIMESCALE_VIDEO / MBE__FPS);
}

void mbe__dash_compute_stats(mbe_dash_stream *s)
{
    double peak = 0;
    for (size_t k = 0; k < s->n_segments; k++) {
        const mbe_dash_segment *g = &s->segments[k];
        if (g->d <= 0)
            continue;
        double rate = (double)g->size * 8 * s->timescale / (double)g->d;
        peak = rate > peak ? rate : peak;
    }
    s->bandwidth = (long)ceil(peak);
}

void mbe__dash_stream_clear(mbe_dash_stream *s)
{
    if (!s)
        return;
    free((void *)s->init);
    for (size_t k = 0; s->segments && k < s->n_segments; k++)
        free((void *)s->segments[k].data);
    free((void *)s->segments);
    memset(s, 0, sizeof(*s));
}

static int fail(kp_log *log, const char *who, const char *what, int rc)
{
    KP_LOG_E(log, MOD, "%s: %s failed: %s", who, what, kp_strerror(rc));
    return rc < 0 ? rc : KP_EMEDIA;
}

int mbe__dash_package(const mbe__content *c, size_t index, kp_log *log, mbe_dash_stream *out)
{
    const mbe__plan *p = &c->plan;
    bool audio = index == SIZE_MAX;
    const mbe__track *t = audio ? &c->audio : &c->video[index];
    memset(out, 0, sizeof(*out));
    out->audio = audio;
    if (audio)
        snprintf(out->r.name, sizeof(out->r.name), "audio");
    else
        out->r = p->renditions[index];
    const char *who = out->r.name;
    out->timescale = audio ? MBE_DASH_TIMESCALE_AUDIO : MBE_DASH_TIMESCALE_VIDEO;
    if (mbe__codec_string(t, out->codecs, sizeof(out->codecs)) < 0)
        return fail(log, who, "deriving the codec string", KP_EMEDIA);

    mbe__samples smp;
    int rc = mbe__samples_from_track(t, !audio, &smp);
    if (rc < 0)
        return fail(log, who, "converting the samples", rc);
    mbe__mp4_track mt = {t, &smp, 1};
    kp_buf b;
    kp_buf_init(&b);
    rc = mbe__mp4_init_segment(&mt, &b);
    if (rc == KP_OK) {
        out->init_size = b.len;
        out->init = (const uint8_t *)kp_buf_steal(&b);
    }
    size_t n = (size_t)((p->n_frames + p->gop_frames - 1) / p->gop_frames);
    mbe_dash_segment *segs = rc == KP_OK ? calloc(n, sizeof(*segs)) : NULL;
    if (rc == KP_OK && !segs)
        rc = KP_ENOMEM;
    out->segments = segs;
    out->n_segments = segs ? n : 0;
    int64_t per_frame = out->timescale / MBE__FPS; /* exact for both timescales */
    for (size_t k = 0; k < n && rc == KP_OK; k++) {
        int64_t f0 = (int64_t)k * p->gop_frames;
        int64_t f1 = f0 + p->gop_frames;
        size_t first = mbe__samples_lower_bound(&smp, f0 * per_frame);
        size_t stop = k + 1 == n ? smp.n : mbe__samples_lower_bound(&smp, f1 * per_frame);
        if (stop <= first) {
            rc = KP_EMEDIA;
            break;
        }
        rc = mbe__mp4_fragment(&mt, first, stop - first, (uint32_t)(k + 1), &b);
        if (rc < 0)
            break;
        segs[k].size = b.len;
        segs[k].data = (const uint8_t *)kp_buf_steal(&b);
        segs[k].t = smp.s[first].dts;
        segs[k].d = smp.s[stop - 1].dts + smp.s[stop - 1].duration - smp.s[first].dts;
    }
    kp_buf_free(&b);
    mbe__samples_free(&smp);
    if (rc < 0) {
        mbe__dash_stream_clear(out);
        return fail(log, who, "DASH packaging", rc);
    }
    mbe__dash_compute_stats(out);
    return KP_OK;
}

void mbe__mp4_file_clear(mbe_mp4_file *f)
{
    if (!f)
        return;
    free((void *)f->data);
    memset(f, 0, sizeof(*f));
}

int mbe__mp4_package(const mbe__content *c, size_t index, kp_log *log, mbe_mp4_file *out)
{
    memset(out, 0, sizeof(*out));
    out->r = c->plan.renditions[index];
    const char *who = out->r.name;
    mbe__samples v, a;
    int rc = mbe__samples_from_track(&c->video[index], true, &v);
    if (rc < 0)
        return fail(log, who, "converting the video samples", rc);
    rc = mbe__samples_from_track(&c->audio, false, &a);
    if (rc < 0) {
        mbe__samples_free(&v);
        return fail(log, who, "converting the audio samples", rc);
    }
    const mbe__mp4_track tracks[2] = {{&c->video[index], &v, 1}, {&c->audio, &a, 2}};
    kp_buf b;
    kp_buf_init(&b);
    rc = mbe__mp4_progressive(tracks, 2, 1.0, &b);
    mbe__samples_free(&v);
    mbe__samples_free(&a);
    if (rc < 0) {
        kp_buf_free(&b);
        return fail(log, who, "writing the MP4 file", rc);
    }
    out->size = b.len;
    out->data = (const uint8_t *)kp_buf_steal(&b);
    out->bitrate = (long)ceil((double)out->size * 8 * MBE__FPS / (double)c->plan.n_frames);
    return KP_OK;
}

/* ---- MPD -------------------------------------------------------------------------------- */

typedef struct text {
    kp_buf b;
    int rc; /* sticky: the first failure */
} text;

static void tf(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void tf(text *t, const char *fmt, ...)
{
    if (t->rc != KP_OK)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || (t->rc = kp_buf_reserve(&t->b, (size_t)n + 1)) != KP_OK) {
        t->rc = t->rc ? t->rc : KP_EINVAL;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(t->b.data + t->b.len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t->b.len += (size_t)n;
}

static bool id_ok(const char *id)
{
    if (!id || !*id || strlen(id) > 64)
        return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '.' || *p == '-' || *p == '~'))
            return false;
    return true;
}

static void xml_escaped(text *t, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            tf(t, "&amp;");
            break;
        case '<':
            tf(t, "&lt;");
            break;
        case '>':
            tf(t, "&gt;");
            break;
        case '"':
            tf(t, "&quot;");
            break;
        case '\'':
            tf(t, "&apos;");
            break;
        default:
            tf(t, "%c", *s);
        }
    }
}

static void content_protection(text *t, const mbe_mpd_protection *p)
{
    if (!p)
        return;
    const uint8_t *k = p->kid;
    tf(t,
       "\t\t\t<ContentProtection schemeIdUri=\"urn:mpeg:dash:mp4protection:2011\" "
       "value=\"%s\" cenc:default_KID=\"%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
       "%02x%02x%02x%02x%02x%02x\" />\n",
       p->scheme, k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7], k[8], k[9], k[10], k[11], k[12],
       k[13], k[14], k[15]);
    for (size_t i = 0; i < p->n_systems; i++) {
        const uint8_t *u = p->systems[i].system_id;
        tf(t,
           "\t\t\t<ContentProtection schemeIdUri=\"urn:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-"
           "%02x%02x-%02x%02x%02x%02x%02x%02x\"",
           u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
           u[14], u[15]);
        if (p->systems[i].value) {
            tf(t, " value=\"");
            xml_escaped(t, p->systems[i].value);
            tf(t, "\"");
        }
        if (p->systems[i].pssh_b64) {
            tf(t, ">\n\t\t\t\t<cenc:pssh>");
            xml_escaped(t, p->systems[i].pssh_b64);
            tf(t, "</cenc:pssh>\n\t\t\t</ContentProtection>\n");
        } else {
            tf(t, " />\n");
        }
    }
}

static void segment_template(text *t, const mbe_dash_stream *s)
{
    tf(t,
       "\t\t\t<SegmentTemplate timescale=\"%d\" initialization=\"%s\" media=\"%s\" "
       "startNumber=\"1\">\n\t\t\t\t<SegmentTimeline>\n",
       s->timescale, MBE_DASH_INIT_TEMPLATE, MBE_DASH_MEDIA_TEMPLATE);
    for (size_t k = 0; k < s->n_segments;) {
        size_t j = k + 1;
        while (j < s->n_segments && s->segments[j].d == s->segments[k].d &&
               s->segments[j].t == s->segments[j - 1].t + s->segments[j - 1].d)
            j++;
        bool gap = k == 0 || s->segments[k].t != s->segments[k - 1].t + s->segments[k - 1].d;
        tf(t, "\t\t\t\t\t<S ");
        if (gap)
            tf(t, "t=\"%lld\" ", (long long)s->segments[k].t);
        tf(t, "d=\"%lld\"", (long long)s->segments[k].d);
        if (j - k > 1)
            tf(t, " r=\"%zu\"", j - k - 1);
        tf(t, " />\n");
        k = j;
    }
    tf(t, "\t\t\t\t</SegmentTimeline>\n\t\t\t</SegmentTemplate>\n");
}

int mbe_dash_mpd(const mbe_media *m, const mbe_mpd_opts *o, char **out)
{
    if (out)
        *out = NULL;
    if (!m || !o || !out || !m->dash_audio || m->n_dash_video == 0)
        return KP_EINVAL;
    size_t n = o->renditions ? o->n : m->n_dash_video;
    if (n == 0 || n > m->n_dash_video || n > MBE__MAX_RENDITIONS)
        return KP_EINVAL;
    const char *audio_id = o->audio_id ? o->audio_id : "audio";
    if (!id_ok(audio_id))
        return KP_EINVAL;
    const mbe_mpd_protection *prot = o->protection;
    if (prot && (!prot->scheme || (prot->n_systems && !prot->systems)))
        return KP_EINVAL;
    size_t idx[MBE__MAX_RENDITIONS];
    const char *ids[MBE__MAX_RENDITIONS];
    int max_w = 0, max_h = 0;
    for (size_t i = 0; i < n; i++) {
        idx[i] = o->renditions ? o->renditions[i] : i;
        if (idx[i] >= m->n_dash_video)
            return KP_EINVAL;
        ids[i] = o->video_ids ? o->video_ids[i] : m->dash_video[idx[i]].r.name;
        if (!id_ok(ids[i]) || strcmp(ids[i], audio_id) == 0)
            return KP_EINVAL;
        for (size_t j = 0; j < i; j++)
            if (idx[j] == idx[i] || strcmp(ids[j], ids[i]) == 0)
                return KP_EINVAL;
        const mbe_rendition *r = &m->dash_video[idx[i]].r;
        max_w = r->width > max_w ? r->width : max_w;
        max_h = r->height > max_h ? r->height : max_h;
    }

    text t = {.rc = KP_OK};
    kp_buf_init(&t.b);
    tf(&t,
       "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
       "<MPD xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"\n"
       "\txmlns=\"urn:mpeg:dash:schema:mpd:2011\"\n"
       "\txsi:schemaLocation=\"urn:mpeg:DASH:schema:MPD:2011 "
       "http://standards.iso.org/ittf/PubliclyAvailableStandards/MPEG-DASH_schema_files/"
       "DASH-MPD.xsd\"\n"
       "\tprofiles=\"urn:mpeg:dash:profile:isoff-live:2011\"\n"
       "\ttype=\"static\"\n"
       "\tmediaPresentationDuration=\"PT%.3fS\"\n"
       "\tminBufferTime=\"PT%d.0S\"%s>\n",
       m->duration_s, m->segment_s, prot ? "\n\txmlns:cenc=\"urn:mpeg:cenc:2013\"" : "");
    if (o->base_url) {
        tf(&t, "\t<BaseURL>");
        xml_escaped(&t, o->base_url);
        tf(&t, "</BaseURL>\n");
    }
    tf(&t, "\t<Period id=\"0\" start=\"PT0.0S\">\n");
    tf(&t,
       "\t\t<AdaptationSet id=\"0\" contentType=\"video\" mimeType=\"video/mp4\" "
       "segmentAlignment=\"true\" startWithSAP=\"1\" maxWidth=\"%d\" maxHeight=\"%d\" "
       "maxFrameRate=\"%d\">\n",
       max_w, max_h, MBE__FPS);
    content_protection(&t, prot);
    /* every rendition has the same timeline (the GOP) */
    segment_template(&t, &m->dash_video[idx[0]]);
    for (size_t i = 0; i < n; i++) {
        const mbe_dash_stream *s = &m->dash_video[idx[i]];
        tf(&t,
           "\t\t\t<Representation id=\"%s\" codecs=\"%s\" bandwidth=\"%ld\" width=\"%d\" "
           "height=\"%d\" frameRate=\"%d\" sar=\"1:1\" />\n",
           ids[i], s->codecs, s->bandwidth, s->r.width, s->r.height, MBE__FPS);
    }
    tf(&t, "\t\t</AdaptationSet>\n");
    const mbe_dash_stream *a = m->dash_audio;
    tf(&t, "\t\t<AdaptationSet id=\"1\" contentType=\"audio\" mimeType=\"audio/mp4\" "
           "segmentAlignment=\"true\" startWithSAP=\"1\">\n");
    content_protection(&t, prot);
    segment_template(&t, a);
    tf(&t,
       "\t\t\t<Representation id=\"%s\" codecs=\"%s\" bandwidth=\"%ld\" "
       "audioSamplingRate=\"%d\">\n"
       "\t\t\t\t<AudioChannelConfiguration "
       "schemeIdUri=\"urn:mpeg:dash:23003:3:audio_channel_configuration:2011\" value=\"%d\" />\n"
       "\t\t\t</Representation>\n",
       audio_id, a->codecs, a->bandwidth, MBE__AUDIO_RATE, MBE__AUDIO_CHANNELS);
    tf(&t, "\t\t</AdaptationSet>\n\t</Period>\n</MPD>\n");
    if (t.rc != KP_OK) {
        kp_buf_free(&t.b);
        return t.rc;
    }
    *out = kp_buf_steal(&t.b);
    return KP_OK;
}
