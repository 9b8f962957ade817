/* media_mp4.c: the ISO BMFF (MP4) writer of the media module: sample tables from encoded
 * tracks, fragmented-MP4 init segments and fragments (DASH), and whole files with the moov
 * first (progressive download).
 *
 * Boxes are written into a kp_buf with their size patched when they close. The layout
 * follows what FFmpeg 5.1's mov/dash muxers produce for the same streams (ISO/IEC 14496-12
 * and -15), without the parts these streams do not need (edit lists, B-frame offsets):
 *   init:      ftyp(iso5) moov{mvhd trak{tkhd mdia{mdhd hdlr minf{vmhd|smhd dinf stbl}}}
 *              mvex{trex}}
 *   fragment:  styp(msdh) sidx(v1) moof{mfhd traf{tfhd tfdt(v1) trun}} mdat
 *   file:      ftyp(isom) moov{mvhd trak... } mdat (chunks of both tracks interleaved)
 * Decode time equals presentation time for every sample (the encoder makes no B-frames).
 */
#include "media_priv.h"

#include "kp/err.h"

#include <libavutil/mathematics.h>
#include <stdlib.h>
#include <string.h>

/* ---- byte writer ------------------------------------------------------------------------ */

typedef struct bw {
    kp_buf *b;
    int err; /* sticky: the first failure */
} bw;

static void put(bw *w, const void *p, size_t n)
{
    if (w->err == KP_OK && n)
        w->err = kp_buf_append(w->b, p, n);
}

static void u8(bw *w, unsigned v)
{
    uint8_t x = (uint8_t)v;
    put(w, &x, 1);
}

static void u16(bw *w, unsigned v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    put(w, x, 2);
}

static void u24(bw *w, uint32_t v)
{
    uint8_t x[3] = {(uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put(w, x, 3);
}

static void u32(bw *w, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put(w, x, 4);
}

static void u64(bw *w, uint64_t v)
{
    u32(w, (uint32_t)(v >> 32));
    u32(w, (uint32_t)v);
}

static void zeros(bw *w, size_t n)
{
    static const uint8_t z[32];
    while (n > 0) {
        size_t k = n < sizeof(z) ? n : sizeof(z);
        put(w, z, k);
        n -= k;
    }
}

static void fourcc(bw *w, const char *s)
{
    put(w, s, 4);
}

static void patch32(bw *w, size_t at, uint32_t v)
{
    if (w->err != KP_OK)
        return;
    uint8_t *p = (uint8_t *)w->b->data + at;
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Opens a box; returns where it starts, for end(). */
static size_t box(bw *w, const char *type)
{
    size_t at = w->b->len;
    u32(w, 0);
    fourcc(w, type);
    return at;
}

static size_t fullbox(bw *w, const char *type, unsigned version, uint32_t flags)
{
    size_t at = box(w, type);
    u8(w, version);
    u24(w, flags);
    return at;
}

static void end(bw *w, size_t at)
{
    if (w->err != KP_OK)
        return;
    size_t n = w->b->len - at;
    if (n > UINT32_MAX) {
        w->err = KP_ERANGE;
        return;
    }
    patch32(w, at, (uint32_t)n);
}

/* ---- samples ---------------------------------------------------------------------------- */

/* Next Annex B NAL unit of d[0..n) at or after *pos: its payload (without the start code
 * and trailing zero bytes) in *nal / *len. false when there is none. */
static bool next_nal(const uint8_t *d, size_t n, size_t *pos, const uint8_t **nal, size_t *len)
{
    size_t i = *pos;
    while (i + 3 <= n && !(d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1))
        i++;
    if (i + 3 > n)
        return false;
    size_t start = i + 3, end_ = start;
    while (end_ + 3 <= n && !(d[end_] == 0 && d[end_ + 1] == 0 && d[end_ + 2] == 1))
        end_++;
    if (end_ + 3 > n)
        end_ = n;
    *pos = end_;
    size_t last = end_;
    while (last > start && d[last - 1] == 0)
        last--;
    *nal = d + start;
    *len = last - start;
    return true;
}

static int sample_append(mbe__samples *s, size_t *cap, const mbe__sample *x)
{
    if (s->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 256;
        mbe__sample *p = realloc(s->s, nc * sizeof(*p));
        if (!p)
            return KP_ENOMEM;
        s->s = p;
        *cap = nc;
    }
    s->s[s->n++] = *x;
    return KP_OK;
}

int mbe__samples_from_track(const mbe__track *t, bool video, mbe__samples *out)
{
    memset(out, 0, sizeof(*out));
    kp_buf_init(&out->data);
    out->video = video;
    out->timescale = video ? MBE_DASH_TIMESCALE_VIDEO : MBE_DASH_TIMESCALE_AUDIO;
    AVRational ts = {1, (int)out->timescale};
    size_t cap = 0;
    int rc = KP_OK;
    for (size_t i = 0; i < t->n_pkts && rc == KP_OK; i++) {
        const mbe__packet *p = &t->pkts[i];
        const uint8_t *d = mbe__packet_data(t, p);
        mbe__sample x = {.offset = out->data.len, .key = p->key};
        x.dts = av_rescale_q(p->dts, t->time_base, ts);
        int64_t next = i + 1 < t->n_pkts ? av_rescale_q(t->pkts[i + 1].dts, t->time_base, ts)
                                         : x.dts + av_rescale_q(p->duration, t->time_base, ts);
        if (next <= x.dts || next - x.dts > UINT32_MAX) {
            rc = KP_EMEDIA;
            break;
        }
        x.duration = (uint32_t)(next - x.dts);
        if (video) {
            size_t pos = 0, len;
            const uint8_t *nal;
            while (rc == KP_OK && next_nal(d, (size_t)p->size, &pos, &nal, &len)) {
                int type = len ? nal[0] & 0x1f : 0;
                if (len == 0 || type == 7 || type == 8 || type == 9)
                    continue; /* parameter sets are in avcC; no delimiters in MP4 */
                uint8_t be[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                                 (uint8_t)len};
                rc = kp_buf_append(&out->data, be, 4);
                if (rc == KP_OK)
                    rc = kp_buf_append(&out->data, nal, len);
            }
        } else {
            rc = kp_buf_append(&out->data, d, (size_t)p->size);
        }
        size_t size = out->data.len - x.offset;
        if (rc == KP_OK && (size == 0 || size > UINT32_MAX))
            rc = KP_EMEDIA;
        x.size = (uint32_t)size;
        if (rc == KP_OK)
            rc = sample_append(out, &cap, &x);
    }
    if (rc == KP_OK && out->n == 0)
        rc = KP_EMEDIA;
    if (rc < 0)
        mbe__samples_free(out);
    return rc;
}

void mbe__samples_free(mbe__samples *s)
{
    if (!s)
        return;
    free(s->s);
    kp_buf_free(&s->data);
    memset(s, 0, sizeof(*s));
}

size_t mbe__samples_lower_bound(const mbe__samples *s, int64_t dts)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->s[mid].dts < dts)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int64_t samples_duration(const mbe__samples *s)
{
    return s->n ? s->s[s->n - 1].dts + s->s[s->n - 1].duration - s->s[0].dts : 0;
}

/* ---- sample descriptions ------------------------------------------------------------------ */

static const uint32_t unity_matrix[9] = {0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000};

static void matrix(bw *w)
{
    for (int i = 0; i < 9; i++)
        u32(w, unity_matrix[i]);
}

/* avcC from the Annex B SPS/PPS in the extradata. */
static void avcc(bw *w, const AVCodecParameters *par)
{
    const uint8_t *d = par->extradata;
    size_t n = (size_t)par->extradata_size, pos = 0, len;
    const uint8_t *nal, *sps[8], *pps[8];
    size_t sps_len[8], pps_len[8], nsps = 0, npps = 0;
    while (next_nal(d, n, &pos, &nal, &len)) {
        int type = len ? nal[0] & 0x1f : 0;
        if (type == 7 && nsps < 8 && len >= 4 && len <= 0xffff) {
            sps[nsps] = nal;
            sps_len[nsps++] = len;
        } else if (type == 8 && npps < 8 && len <= 0xffff) {
            pps[npps] = nal;
            pps_len[npps++] = len;
        }
    }
    if (nsps == 0 || npps == 0) {
        if (w->err == KP_OK)
            w->err = KP_EMEDIA;
        return;
    }
    size_t at = box(w, "avcC");
    u8(w, 1);         /* configurationVersion */
    u8(w, sps[0][1]); /* AVCProfileIndication */
    u8(w, sps[0][2]); /* profile_compatibility */
    u8(w, sps[0][3]); /* AVCLevelIndication */
    u8(w, 0xfc | 3);  /* lengthSizeMinusOne: 4-byte lengths */
    u8(w, 0xe0 | (unsigned)nsps);
    for (size_t i = 0; i < nsps; i++) {
        u16(w, (unsigned)sps_len[i]);
        put(w, sps[i], sps_len[i]);
    }
    u8(w, (unsigned)npps);
    for (size_t i = 0; i < npps; i++) {
        u16(w, (unsigned)pps_len[i]);
        put(w, pps[i], pps_len[i]);
    }
    int profile = sps[0][1];
    if (profile == 100 || profile == 110 || profile == 122 || profile == 144) {
        /* the encoder makes 8-bit 4:2:0 */
        u8(w, 0xfc | 1); /* chroma_format_idc */
        u8(w, 0xf8 | 0); /* bit_depth_luma_minus8 */
        u8(w, 0xf8 | 0); /* bit_depth_chroma_minus8 */
        u8(w, 0);        /* numOfSequenceParameterSetExt */
    }
    end(w, at);
}

static void descr_len(bw *w, unsigned tag, size_t len)
{
    u8(w, tag);
    /* FFmpeg's form: always four bytes of length */
    u8(w, 0x80 | (unsigned)((len >> 21) & 0x7f));
    u8(w, 0x80 | (unsigned)((len >> 14) & 0x7f));
    u8(w, 0x80 | (unsigned)((len >> 7) & 0x7f));
    u8(w, (unsigned)(len & 0x7f));
}

/* Peak bit rate over any whole second, average bit rate, largest sample (for esds). */
static void rates(const mbe__samples *s, uint32_t *max_br, uint32_t *avg_br, uint32_t *max_size)
{
    uint64_t total = 0, window = 0, peak = 0;
    uint32_t big = 0;
    int64_t second = -1;
    for (size_t i = 0; i < s->n; i++) {
        int64_t sec = s->s[i].dts / s->timescale;
        if (sec != second) {
            peak = window > peak ? window : peak;
            window = 0;
            second = sec;
        }
        window += s->s[i].size;
        total += s->s[i].size;
        big = s->s[i].size > big ? s->s[i].size : big;
    }
    peak = window > peak ? window : peak;
    int64_t dur = samples_duration(s);
    *max_br = (uint32_t)(peak * 8 > UINT32_MAX ? UINT32_MAX : peak * 8);
    *avg_br = dur > 0 ? (uint32_t)av_rescale(total * 8, s->timescale, dur) : 0;
    *max_size = big;
}

static void esds(bw *w, const mbe__mp4_track *t)
{
    const AVCodecParameters *par = t->enc->par;
    size_t asc = (size_t)par->extradata_size;
    uint32_t max_br, avg_br, max_size;
    rates(t->smp, &max_br, &avg_br, &max_size);
    size_t at = fullbox(w, "esds", 0, 0);
    size_t dsi = 5 + asc;            /* DecoderSpecificInfo, header included */
    size_t dcd = 5 + 13 + dsi;       /* DecoderConfigDescriptor, header included */
    size_t es_payload = 3 + dcd + 6; /* ES_ID, flags, DCD, SLConfigDescriptor */
    descr_len(w, 0x03, es_payload);
    u16(w, t->track_id);
    u8(w, 0); /* no stream dependence, URL or OCR stream */
    descr_len(w, 0x04, dcd - 5);
    u8(w, 0x40);            /* objectTypeIndication: MPEG-4 audio */
    u8(w, (0x05 << 2) | 1); /* streamType audio, upStream 0, reserved 1 */
    u24(w, max_size);       /* bufferSizeDB */
    u32(w, max_br);
    u32(w, avg_br);
    descr_len(w, 0x05, asc);
    put(w, par->extradata, asc);
    descr_len(w, 0x06, 1);
    u8(w, 0x02); /* SLConfigDescriptor predefined: MP4 */
    end(w, at);
}

/* The sample entry. A protection scheme renames it (encv/enca) and appends sinf here. */
static void sample_entry(bw *w, const mbe__mp4_track *t)
{
    const AVCodecParameters *par = t->enc->par;
    if (t->smp->video) {
        size_t at = box(w, "avc1");
        zeros(w, 6);
        u16(w, 1); /* data_reference_index */
        zeros(w, 16);
        u16(w, (unsigned)par->width);
        u16(w, (unsigned)par->height);
        u32(w, 0x00480000); /* 72 dpi */
        u32(w, 0x00480000);
        u32(w, 0);
        u16(w, 1);      /* frame_count */
        zeros(w, 32);   /* compressorname: empty */
        u16(w, 0x18);   /* depth */
        u16(w, 0xffff); /* pre_defined = -1 */
        avcc(w, par);
        size_t pasp = box(w, "pasp");
        u32(w, 1);
        u32(w, 1);
        end(w, pasp);
        end(w, at);
    } else {
        size_t at = box(w, "mp4a");
        zeros(w, 6);
        u16(w, 1);
        zeros(w, 8);
        u16(w, (unsigned)par->ch_layout.nb_channels);
        u16(w, 16); /* samplesize */
        u16(w, 0);
        u16(w, 0);
        u32(w, (uint32_t)par->sample_rate << 16);
        esds(w, t);
        end(w, at);
    }
}

/* ---- moov ------------------------------------------------------------------------------- */

static void mvhd(bw *w, uint64_t duration_ms, uint32_t next_track)
{
    size_t at = fullbox(w, "mvhd", 0, 0);
    u32(w, 0); /* creation_time: none, for determinism */
    u32(w, 0);
    u32(w, 1000);
    u32(w, duration_ms > UINT32_MAX ? UINT32_MAX : (uint32_t)duration_ms);
    u32(w, 0x00010000); /* rate 1.0 */
    u16(w, 0x0100);     /* volume 1.0 */
    zeros(w, 10);
    matrix(w);
    zeros(w, 24);
    u32(w, next_track);
    end(w, at);
}

/* Where the samples of one track lie in a progressive file: chunk c holds samples
 * [first[c], first[c] + count[c]) at file offset off[c]. */
typedef struct chunks {
    size_t *first, *count;
    uint64_t *off;
    size_t n, cap;
} chunks;

static void stbl_tables(bw *w, const mbe__mp4_track *t, const chunks *ch, bool co64)
{
    const mbe__samples *s = t->smp;
    size_t n = ch ? s->n : 0;
    /* stts: runs of equal durations */
    size_t at = fullbox(w, "stts", 0, 0);
    size_t count_at = w->b->len;
    u32(w, 0);
    uint32_t runs = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && s->s[j].duration == s->s[i].duration)
            j++;
        u32(w, (uint32_t)(j - i));
        u32(w, s->s[i].duration);
        runs++;
        i = j;
    }
    patch32(w, count_at, runs);
    end(w, at);
    /* stss: sync samples, when not all are */
    bool all_key = true;
    for (size_t i = 0; i < n && all_key; i++)
        all_key = s->s[i].key;
    if (!all_key) {
        at = fullbox(w, "stss", 0, 0);
        count_at = w->b->len;
        u32(w, 0);
        uint32_t keys = 0;
        for (size_t i = 0; i < n; i++) {
            if (s->s[i].key) {
                u32(w, (uint32_t)(i + 1));
                keys++;
            }
        }
        patch32(w, count_at, keys);
        end(w, at);
    }
    /* stsc: runs of chunks with the same sample count */
    at = fullbox(w, "stsc", 0, 0);
    count_at = w->b->len;
    u32(w, 0);
    runs = 0;
    for (size_t c = 0; ch && c < ch->n; c++) {
        if (c > 0 && ch->count[c] == ch->count[c - 1])
            continue;
        u32(w, (uint32_t)(c + 1));
        u32(w, (uint32_t)ch->count[c]);
        u32(w, 1);
        runs++;
    }
    patch32(w, count_at, runs);
    end(w, at);
    /* stsz */
    at = fullbox(w, "stsz", 0, 0);
    u32(w, 0);
    u32(w, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        u32(w, s->s[i].size);
    end(w, at);
    /* stco / co64 */
    at = fullbox(w, co64 ? "co64" : "stco", 0, 0);
    u32(w, ch ? (uint32_t)ch->n : 0);
    for (size_t c = 0; ch && c < ch->n; c++) {
        if (co64)
            u64(w, ch->off[c]);
        else
            u32(w, (uint32_t)ch->off[c]);
    }
    end(w, at);
}

/* ch NULL: a fragmented file's track (no samples in moov, durations 0). */
static void trak(bw *w, const mbe__mp4_track *t, const chunks *ch, bool co64)
{
    const mbe__samples *s = t->smp;
    const AVCodecParameters *par = t->enc->par;
    int64_t dur = ch ? samples_duration(s) : 0;
    uint64_t dur_ms = (uint64_t)av_rescale_rnd(dur, 1000, s->timescale, AV_ROUND_UP);
    size_t tk = box(w, "trak");
    size_t at = fullbox(w, "tkhd", 0, 3); /* enabled, in movie */
    u32(w, 0);
    u32(w, 0);
    u32(w, t->track_id);
    u32(w, 0);
    u32(w, dur_ms > UINT32_MAX ? UINT32_MAX : (uint32_t)dur_ms);
    zeros(w, 8);
    u16(w, 0);                     /* layer */
    u16(w, 0);                     /* alternate_group */
    u16(w, s->video ? 0 : 0x0100); /* volume */
    u16(w, 0);
    matrix(w);
    u32(w, s->video ? (uint32_t)par->width << 16 : 0);
    u32(w, s->video ? (uint32_t)par->height << 16 : 0);
    end(w, at);

    size_t md = box(w, "mdia");
    at = fullbox(w, "mdhd", 0, 0);
    u32(w, 0);
    u32(w, 0);
    u32(w, s->timescale);
    u32(w, dur > UINT32_MAX ? UINT32_MAX : (uint32_t)dur);
    u16(w, ((('u' - 0x60) << 10) | (('n' - 0x60) << 5) | ('d' - 0x60))); /* "und" */
    u16(w, 0);
    end(w, at);
    at = fullbox(w, "hdlr", 0, 0);
    u32(w, 0);
    fourcc(w, s->video ? "vide" : "soun");
    zeros(w, 12);
    const char *name = s->video ? "VideoHandler" : "SoundHandler";
    put(w, name, strlen(name) + 1);
    end(w, at);

    size_t mi = box(w, "minf");
    if (s->video) {
        at = fullbox(w, "vmhd", 0, 1);
        zeros(w, 8); /* graphicsmode, opcolor */
    } else {
        at = fullbox(w, "smhd", 0, 0);
        zeros(w, 4); /* balance, reserved */
    }
    end(w, at);
    size_t di = box(w, "dinf");
    size_t dr = fullbox(w, "dref", 0, 0);
    u32(w, 1);
    at = fullbox(w, "url ", 0, 1); /* media in this file */
    end(w, at);
    end(w, dr);
    end(w, di);
    size_t st = box(w, "stbl");
    at = fullbox(w, "stsd", 0, 0);
    u32(w, 1);
    sample_entry(w, t);
    end(w, at);
    stbl_tables(w, t, ch, co64);
    end(w, st);
    end(w, mi);
    end(w, md);
    end(w, tk);
}

int mbe__mp4_init_segment(const mbe__mp4_track *t, kp_buf *out)
{
    bw w = {out, KP_OK};
    size_t at = box(&w, "ftyp");
    fourcc(&w, "iso5");
    u32(&w, 512);
    fourcc(&w, "iso5");
    fourcc(&w, "iso6");
    fourcc(&w, "mp41");
    end(&w, at);
    size_t mo = box(&w, "moov");
    mvhd(&w, 0, t->track_id + 1);
    trak(&w, t, NULL, false);
    size_t mv = box(&w, "mvex");
    at = fullbox(&w, "trex", 0, 0);
    u32(&w, t->track_id);
    u32(&w, 1); /* default_sample_description_index */
    u32(&w, 0);
    u32(&w, 0);
    u32(&w, 0);
    end(&w, at);
    end(&w, mv);
    end(&w, mo);
    return w.err;
}

/* ---- fragments -------------------------------------------------------------------------- */

#define FLAGS_SYNC     0x02000000u /* sample_depends_on = 2 (an I picture) */
#define FLAGS_NON_SYNC 0x01010000u /* depends on others, sample_is_non_sync_sample */

static uint32_t sample_flags(const mbe__sample *x)
{
    return x->key ? FLAGS_SYNC : FLAGS_NON_SYNC;
}

int mbe__mp4_fragment(const mbe__mp4_track *t, size_t first, size_t count, uint32_t sequence,
                      kp_buf *out)
{
    const mbe__samples *s = t->smp;
    if (count == 0 || first >= s->n || count > s->n - first)
        return KP_EINVAL;
    const mbe__sample *x = &s->s[first];
    uint64_t payload = 0, dur = 0;
    for (size_t i = 0; i < count; i++) {
        payload += x[i].size;
        dur += x[i].duration;
    }
    if (payload + 8 > UINT32_MAX || dur > UINT32_MAX)
        return KP_ERANGE;
    /* default flags for the traf; trun carries the first sample's own flags, or every
     * sample's when the rest are not all alike */
    uint32_t def = s->video ? FLAGS_NON_SYNC : FLAGS_SYNC;
    bool per_sample = false;
    for (size_t i = 1; i < count && !per_sample; i++)
        per_sample = sample_flags(&x[i]) != def;
    bool first_flags = !per_sample && sample_flags(&x[0]) != def;

    bw w = {out, KP_OK};
    size_t at = box(&w, "styp");
    fourcc(&w, "msdh");
    u32(&w, 0);
    fourcc(&w, "msdh");
    fourcc(&w, "msix");
    end(&w, at);

    at = fullbox(&w, "sidx", 1, 0);
    u32(&w, t->track_id); /* reference_ID */
    u32(&w, s->timescale);
    u64(&w, (uint64_t)x[0].dts); /* earliest_presentation_time */
    u64(&w, 0);                  /* first_offset: the moof follows */
    u16(&w, 0);
    u16(&w, 1); /* reference_count */
    size_t ref_size_at = w.b->len;
    u32(&w, 0); /* reference_type 0 (media) | referenced_size: patched */
    u32(&w, (uint32_t)dur);
    u32(&w, x[0].key ? 0x90000000u : 0); /* starts_with_SAP, SAP_type 1 */
    end(&w, at);

    size_t moof = box(&w, "moof");
    at = fullbox(&w, "mfhd", 0, 0);
    u32(&w, sequence);
    end(&w, at);
    size_t traf = box(&w, "traf");
    at = fullbox(&w, "tfhd", 0, 0x020000 | 0x000020); /* default-base-is-moof, flags */
    u32(&w, t->track_id);
    u32(&w, def);
    end(&w, at);
    at = fullbox(&w, "tfdt", 1, 0);
    u64(&w, (uint64_t)x[0].dts);
    end(&w, at);
    uint32_t tr_flags = 0x000001 | 0x000100 | 0x000200; /* data offset, durations, sizes */
    tr_flags |= first_flags ? 0x000004 : 0;
    tr_flags |= per_sample ? 0x000400 : 0;
    at = fullbox(&w, "trun", 0, tr_flags);
    u32(&w, (uint32_t)count);
    size_t data_offset_at = w.b->len;
    u32(&w, 0); /* patched below */
    if (first_flags)
        u32(&w, sample_flags(&x[0]));
    for (size_t i = 0; i < count; i++) {
        u32(&w, x[i].duration);
        u32(&w, x[i].size);
        if (per_sample)
            u32(&w, sample_flags(&x[i]));
    }
    end(&w, at);
    /* protection: saiz, saio and senc go here; saio offsets are relative to `moof` too */
    end(&w, traf);
    end(&w, moof);

    size_t mdat = w.b->len;
    u32(&w, (uint32_t)(payload + 8));
    fourcc(&w, "mdat");
    if (w.err == KP_OK)
        w.err = kp_buf_reserve(w.b, (size_t)payload);
    for (size_t i = 0; i < count; i++)
        put(&w, (const uint8_t *)s->data.data + x[i].offset, x[i].size);
    if (w.err == KP_OK && (mdat + 8 - moof > INT32_MAX || w.b->len - moof > 0x7fffffff))
        w.err = KP_ERANGE;
    patch32(&w, data_offset_at, (uint32_t)(mdat + 8 - moof));
    patch32(&w, ref_size_at, (uint32_t)(w.b->len - moof));
    return w.err;
}

/* ---- progressive file ------------------------------------------------------------------- */

static int chunk_add(chunks *ch, size_t first, size_t count)
{
    if (ch->n == ch->cap) {
        size_t nc = ch->cap ? ch->cap * 2 : 64;
        size_t *f = realloc(ch->first, nc * sizeof(*f));
        if (!f)
            return KP_ENOMEM;
        ch->first = f;
        size_t *c = realloc(ch->count, nc * sizeof(*c));
        if (!c)
            return KP_ENOMEM;
        ch->count = c;
        uint64_t *o = realloc(ch->off, nc * sizeof(*o));
        if (!o)
            return KP_ENOMEM;
        ch->off = o;
        ch->cap = nc;
    }
    ch->first[ch->n] = first;
    ch->count[ch->n] = count;
    ch->off[ch->n] = 0;
    ch->n++;
    return KP_OK;
}

static void chunks_free(chunks *ch)
{
    free(ch->first);
    free(ch->count);
    free(ch->off);
}

#define MAX_TRACKS 4

/* One chunk in file order. */
typedef struct placed {
    size_t track, chunk;
} placed;

static int write_moov(kp_buf *out, const mbe__mp4_track *tracks, size_t n, const chunks *ch,
                      bool co64)
{
    bw w = {out, KP_OK};
    uint64_t dur_ms = 0;
    for (size_t i = 0; i < n; i++) {
        const mbe__samples *s = tracks[i].smp;
        uint64_t d = (uint64_t)av_rescale_rnd(samples_duration(s), 1000, s->timescale, AV_ROUND_UP);
        dur_ms = d > dur_ms ? d : dur_ms;
    }
    size_t mo = box(&w, "moov");
    uint32_t next = 0;
    for (size_t i = 0; i < n; i++)
        next = tracks[i].track_id > next ? tracks[i].track_id : next;
    mvhd(&w, dur_ms, next + 1);
    for (size_t i = 0; i < n; i++)
        trak(&w, &tracks[i], &ch[i], co64);
    end(&w, mo);
    return w.err;
}

int mbe__mp4_progressive(const mbe__mp4_track *tracks, size_t n, double chunk_s, kp_buf *out)
{
    if (n == 0 || n > MAX_TRACKS || !(chunk_s > 0))
        return KP_EINVAL;
    chunks ch[MAX_TRACKS];
    memset(ch, 0, sizeof(ch));
    placed *order = NULL;
    size_t n_order = 0, cap_order = 0;
    size_t next[MAX_TRACKS] = {0};
    uint64_t payload = 0;
    int rc = KP_OK;
    /* chunk c of every track: its samples that start before (c + 1) * chunk_s */
    for (int64_t c = 0; rc == KP_OK; c++) {
        bool left = false;
        for (size_t i = 0; i < n; i++)
            left = left || next[i] < tracks[i].smp->n;
        if (!left)
            break;
        for (size_t i = 0; i < n && rc == KP_OK; i++) {
            const mbe__samples *s = tracks[i].smp;
            int64_t limit = llround((double)(c + 1) * chunk_s * s->timescale);
            size_t stop = mbe__samples_lower_bound(s, limit);
            if (stop <= next[i])
                continue;
            rc = chunk_add(&ch[i], next[i], stop - next[i]);
            if (rc == KP_OK && n_order == cap_order) {
                size_t nc = cap_order ? cap_order * 2 : 64;
                placed *p = realloc(order, nc * sizeof(*p));
                if (!p)
                    rc = KP_ENOMEM;
                else
                    order = p, cap_order = nc;
            }
            if (rc == KP_OK)
                order[n_order++] = (placed){i, ch[i].n - 1};
            for (size_t k = next[i]; k < stop; k++)
                payload += s->s[k].size;
            next[i] = stop;
        }
    }
    /* moov's size does not depend on the offsets, only on stco against co64 */
    kp_buf moov;
    kp_buf_init(&moov);
    size_t ftyp_size = 8 + 4 + 4 + 4 * 4;
    bool co64 = false;
    if (rc == KP_OK)
        rc = write_moov(&moov, tracks, n, ch, false);
    if (rc == KP_OK && ftyp_size + moov.len + 16 + payload > UINT32_MAX) {
        co64 = true;
        kp_buf_reset(&moov);
        rc = write_moov(&moov, tracks, n, ch, true);
    }
    bool large = ftyp_size + moov.len + 8 + payload > UINT32_MAX;
    uint64_t pos = ftyp_size + moov.len + (large ? 16 : 8);
    for (size_t k = 0; rc == KP_OK && k < n_order; k++) {
        const chunks *c = &ch[order[k].track];
        size_t j = order[k].chunk;
        c->off[j] = pos;
        const mbe__samples *s = tracks[order[k].track].smp;
        for (size_t m = c->first[j]; m < c->first[j] + c->count[j]; m++)
            pos += s->s[m].size;
    }
    if (rc == KP_OK) {
        size_t before = moov.len;
        kp_buf_reset(&moov);
        rc = write_moov(&moov, tracks, n, ch, co64);
        if (rc == KP_OK && moov.len != before)
            rc = KP_EMEDIA; /* cannot happen: same tables, other offsets */
    }
    if (rc == KP_OK)
        rc = kp_buf_reserve(out, (size_t)pos);
    size_t start = out->len;
    bw w = {out, rc};
    size_t at = box(&w, "ftyp");
    fourcc(&w, "isom");
    u32(&w, 512);
    fourcc(&w, "isom");
    fourcc(&w, "iso2");
    fourcc(&w, "avc1");
    fourcc(&w, "mp41");
    end(&w, at);
    put(&w, moov.data, moov.len);
    if (large) {
        u32(&w, 1);
        fourcc(&w, "mdat");
        u64(&w, 16 + payload);
    } else {
        u32(&w, (uint32_t)(8 + payload));
        fourcc(&w, "mdat");
    }
    for (size_t k = 0; k < n_order; k++) {
        const chunks *c = &ch[order[k].track];
        const mbe__samples *s = tracks[order[k].track].smp;
        size_t j = order[k].chunk;
        const mbe__sample *x = &s->s[c->first[j]];
        /* a chunk's samples are contiguous in the track's buffer */
        size_t bytes = (size_t)(x[c->count[j] - 1].offset + x[c->count[j] - 1].size - x[0].offset);
        put(&w, (const uint8_t *)s->data.data + x[0].offset, bytes);
    }
    if (w.err == KP_OK && out->len - start != pos)
        w.err = KP_EMEDIA;
    kp_buf_free(&moov);
    for (size_t i = 0; i < n; i++)
        chunks_free(&ch[i]);
    free(order);
    return w.err;
}
