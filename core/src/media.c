/* media.c: the simulated media element (see media.h). */
#include "media.h"

#include "demux.h"

#include <stdlib.h>
#include <string.h>

#define RANGE_JOIN KP_MS(2) /* gaps below this (timestamp rounding) join ranges */

typedef struct range {
    kp_time start, end;
} range;

typedef struct rlist {
    range *r;
    size_t n, cap;
} rlist;

typedef struct qev {
    struct qev *prev, *next;
    kp_media *m;
    kp_event_type type;
    kp_task_id task;
} qev;

struct kp_media {
    kp_sched *sched;
    kp_media_sink relay, adapter;
    void *relay_ud, *adapter_ud;

    bool paused, ended, seeking, eos;
    bool has_metadata, loadeddata_fired;
    int ready;
    bool muted;
    double volume;
    kp_time duration; /* -1: NaN */

    /* playback clock: while advancing, position = anchor_pos + (now - anchor_t) */
    kp_time anchor_pos, anchor_t;
    bool advancing;
    kp_time next_timeupdate;
    kp_task_id tick_task;
    kp_task_id seek_task;

    rlist tracks[2]; /* KP_TRACK_VIDEO, KP_TRACK_AUDIO */
    bool has_track[2];

    qev *queue; /* events queued and not yet delivered */

    /* the element's own fetch (native sources) */
    bool net_loading, net_progressed;
    kp_time net_last_bytes; /* when bytes of the resource last arrived (or the fetch began) */
    bool net_stalled;       /* `stalled` fired since those bytes */
    kp_task_id progress_task;
};

static void reschedule(kp_media *m);
static void evaluate(kp_media *m);

/* ---- ranges ---- */

static void rlist_add(rlist *l, kp_time start, kp_time end)
{
    if (end <= start)
        return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        range *r = realloc(l->r, cap * sizeof(*r));
        if (!r)
            return;
        l->r = r;
        l->cap = cap;
    }
    size_t i = 0;
    while (i < l->n && l->r[i].start < start)
        i++;
    memmove(&l->r[i + 1], &l->r[i], (l->n - i) * sizeof(range));
    l->r[i] = (range){start, end};
    l->n++;
    /* merge overlapping or touching neighbours */
    size_t w = 0;
    for (size_t k = 1; k < l->n; k++) {
        if (l->r[k].start <= l->r[w].end + RANGE_JOIN) {
            if (l->r[k].end > l->r[w].end)
                l->r[w].end = l->r[k].end;
        } else {
            l->r[++w] = l->r[k];
        }
    }
    l->n = w + 1;
}

static const range *rlist_find(const rlist *l, kp_time pos)
{
    for (size_t i = 0; i < l->n; i++)
        if (pos >= l->r[i].start - RANGE_JOIN && pos < l->r[i].end)
            return &l->r[i];
    return NULL;
}

static kp_time rlist_max_end(const rlist *l)
{
    return l->n ? l->r[l->n - 1].end : -1;
}

/* ---- queued events ---- */

static void deliver(void *ud)
{
    qev *e = ud;
    kp_media *m = e->m;
    if (e->prev)
        e->prev->next = e->next;
    else
        m->queue = e->next;
    if (e->next)
        e->next->prev = e->prev;
    kp_event_type type = e->type;
    free(e);
    if (m->relay)
        m->relay(m->relay_ud, type);
    if (m->adapter)
        m->adapter(m->adapter_ud, type);
}

static void queue_event(kp_media *m, kp_event_type type)
{
    qev *e = calloc(1, sizeof(*e));
    if (!e)
        return;
    e->m = m;
    e->type = type;
    e->task = kp_sched_after(m->sched, 0, deliver, e);
    if (!e->task) {
        free(e);
        return;
    }
    /* append at the tail to keep the list in delivery order */
    qev **pp = &m->queue, *prev = NULL;
    while (*pp) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    e->prev = prev;
    *pp = e;
}

static void drop_queue(kp_media *m)
{
    while (m->queue) {
        qev *e = m->queue;
        m->queue = e->next;
        kp_sched_cancel(m->sched, e->task);
        free(e);
    }
}

/* ---- lifecycle ---- */

static void reset_state(kp_media *m)
{
    kp_sched_cancel(m->sched, m->tick_task);
    kp_sched_cancel(m->sched, m->seek_task);
    kp_sched_cancel(m->sched, m->progress_task);
    m->tick_task = m->seek_task = m->progress_task = 0;
    m->net_loading = m->net_progressed = false;
    m->paused = true;
    m->ended = m->seeking = m->eos = false;
    m->has_metadata = m->loadeddata_fired = false;
    m->ready = KP_HAVE_NOTHING;
    m->duration = -1;
    m->anchor_pos = 0;
    m->anchor_t = kp_sched_now(m->sched);
    m->advancing = false;
    for (int t = 0; t < 2; t++) {
        m->tracks[t].n = 0;
        m->has_track[t] = false;
    }
}

kp_media *kp_media_new(kp_sched *sched)
{
    kp_media *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->sched = sched;
    m->volume = 1.0;
    reset_state(m);
    return m;
}

void kp_media_free(kp_media *m)
{
    if (!m)
        return;
    drop_queue(m);
    kp_sched_cancel(m->sched, m->tick_task);
    kp_sched_cancel(m->sched, m->seek_task);
    kp_sched_cancel(m->sched, m->progress_task);
    for (int t = 0; t < 2; t++)
        free(m->tracks[t].r);
    free(m);
}

void kp_media_set_relay(kp_media *m, kp_media_sink fn, void *ud)
{
    m->relay = fn;
    m->relay_ud = ud;
}

void kp_media_set_adapter(kp_media *m, kp_media_sink fn, void *ud)
{
    m->adapter = fn;
    m->adapter_ud = ud;
}

/* ---- observers ---- */

kp_time kp_media_position(const kp_media *m)
{
    if (!m->advancing)
        return m->anchor_pos;
    return m->anchor_pos + (kp_sched_now(m->sched) - m->anchor_t);
}

double kp_media_current_time(const kp_media *m)
{
    return (double)kp_media_position(m) / 1e6;
}

kp_time kp_media_duration(const kp_media *m)
{
    return m->duration;
}

bool kp_media_paused(const kp_media *m)
{
    return m->paused;
}

bool kp_media_ended(const kp_media *m)
{
    return m->ended;
}

bool kp_media_seeking(const kp_media *m)
{
    return m->seeking;
}

int kp_media_ready_state(const kp_media *m)
{
    return m->ready;
}

bool kp_media_muted(const kp_media *m)
{
    return m->muted;
}

double kp_media_volume(const kp_media *m)
{
    return m->volume;
}

bool kp_media_eos(const kp_media *m)
{
    return m->eos;
}

/* End of the playable range containing pos: the smallest end over the tracks present. After
 * endOfStream a track whose last range contains pos has ended, so it no longer limits
 * playback (the element plays on to the duration). Returns -1 when pos is not buffered. */
static kp_time playable_end(const kp_media *m, kp_time pos)
{
    kp_time end = INT64_MAX;
    bool any = false, all_ended = true;
    for (int t = 0; t < 2; t++) {
        if (!m->has_track[t])
            continue;
        any = true;
        kp_time max_end = rlist_max_end(&m->tracks[t]);
        if (m->eos && pos >= max_end - RANGE_JOIN)
            continue; /* this track has ended; the others decide */
        all_ended = false;
        const range *r = rlist_find(&m->tracks[t], pos);
        if (!r)
            return -1;
        kp_time e = (m->eos && r->end == max_end) ? INT64_MAX : r->end;
        if (e < end)
            end = e;
    }
    if (!any || (all_ended && !m->eos))
        return -1;
    if (m->eos && m->duration >= 0 && end > m->duration)
        end = m->duration;
    return end;
}

kp_time kp_media_buffered_end(const kp_media *m, kp_time pos)
{
    kp_time e = playable_end(m, pos);
    return e < 0 ? pos : e;
}

bool kp_media_is_buffered(const kp_media *m, kp_time pos)
{
    return playable_end(m, pos) > pos;
}

kp_time kp_media_next_buffered_start(const kp_media *m, kp_time pos)
{
    kp_time start = -1;
    bool any = false;
    for (int t = 0; t < 2; t++) {
        if (!m->has_track[t])
            continue;
        any = true;
        const range *first = NULL; /* the track's first range ending after pos */
        for (size_t i = 0; i < m->tracks[t].n && !first; i++)
            if (m->tracks[t].r[i].end > pos)
                first = &m->tracks[t].r[i];
        if (!first)
            return -1;
        if (first->start > start)
            start = first->start;
    }
    if (!any || start <= pos || playable_end(m, start) <= start)
        return -1;
    return start;
}

kp_time kp_media_track_buffered_end(const kp_media *m, int track, kp_time pos)
{
    if (track != KP_TRACK_VIDEO && track != KP_TRACK_AUDIO)
        return pos;
    const range *r = rlist_find(&m->tracks[track], pos);
    return r && r->end > pos ? r->end : pos;
}

static bool enough_data(const kp_media *m, kp_time pos)
{
    kp_time e = playable_end(m, pos);
    if (e <= pos)
        return false;
    if (e - pos >= KP_MEDIA_ENOUGH_AHEAD)
        return true;
    return m->eos && m->duration >= 0 && e >= m->duration;
}

static bool potentially_playing(const kp_media *m)
{
    return !m->paused && !m->ended && !m->seeking && m->ready >= KP_HAVE_FUTURE_DATA;
}

static void set_anchor(kp_media *m)
{
    m->anchor_pos = kp_media_position(m);
    m->anchor_t = kp_sched_now(m->sched);
}

/* ---- playback clock ---- */

static void reach_end(kp_media *m)
{
    m->anchor_pos = m->duration;
    m->anchor_t = kp_sched_now(m->sched);
    m->advancing = false;
    m->ended = true;
    queue_event(m, KP_EV_TIME_UPDATE);
    if (!m->paused) {
        m->paused = true;
        queue_event(m, KP_EV_PAUSE);
    }
    queue_event(m, KP_EV_ENDED);
}

static void tick(void *ud)
{
    kp_media *m = ud;
    m->tick_task = 0;
    set_anchor(m);
    kp_time pos = m->anchor_pos;
    kp_time now = kp_sched_now(m->sched);
    if (m->eos && m->duration >= 0 && pos >= m->duration) {
        reach_end(m);
        return;
    }
    kp_time end = playable_end(m, pos);
    if (end <= pos) {
        /* ran out of data: readyState drops below HAVE_FUTURE_DATA while playing */
        m->advancing = false;
        m->ready = kp_media_is_buffered(m, pos) ? KP_HAVE_CURRENT_DATA : KP_HAVE_METADATA;
        queue_event(m, KP_EV_TIME_UPDATE);
        queue_event(m, KP_EV_WAITING);
        return;
    }
    if (now >= m->next_timeupdate) {
        queue_event(m, KP_EV_TIME_UPDATE);
        m->next_timeupdate = now + KP_MEDIA_TIMEUPDATE_PERIOD;
    }
    reschedule(m);
}

static void reschedule(kp_media *m)
{
    kp_sched_cancel(m->sched, m->tick_task);
    m->tick_task = 0;
    if (!potentially_playing(m)) {
        if (m->advancing)
            set_anchor(m);
        m->advancing = false;
        return;
    }
    if (!m->advancing) {
        set_anchor(m);
        m->advancing = true;
        m->next_timeupdate = kp_sched_now(m->sched) + KP_MEDIA_TIMEUPDATE_PERIOD;
    }
    kp_time now = kp_sched_now(m->sched);
    kp_time pos = kp_media_position(m);
    kp_time end = playable_end(m, pos);
    kp_time at = m->next_timeupdate;
    if (end > pos && now + (end - pos) < at)
        at = now + (end - pos);
    if (end <= pos)
        at = now;
    m->tick_task = kp_sched_at(m->sched, at, tick, m);
}

/* Raises readyState to HAVE_ENOUGH_DATA when there is enough data at the playhead, firing
 * the events of each step up (loadeddata once per load, canplay, playing when not paused,
 * canplaythrough). */
static void evaluate(kp_media *m)
{
    if (!m->has_metadata)
        return;
    kp_time pos = kp_media_position(m);
    if (m->seeking)
        return; /* complete_seek() decides */
    if (m->ready >= KP_HAVE_FUTURE_DATA || !enough_data(m, pos))
        return;
    if (!m->loadeddata_fired) {
        m->loadeddata_fired = true;
        queue_event(m, KP_EV_LOADED_DATA);
    }
    m->ready = KP_HAVE_ENOUGH_DATA;
    queue_event(m, KP_EV_CAN_PLAY);
    if (!m->paused)
        queue_event(m, KP_EV_PLAYING);
    queue_event(m, KP_EV_CAN_PLAY_THROUGH);
    reschedule(m);
}

static void complete_seek(void *ud)
{
    kp_media *m = ud;
    m->seek_task = 0;
    if (!m->seeking)
        return;
    if (!enough_data(m, m->anchor_pos))
        return; /* data went away; wait for more appends */
    m->seeking = false;
    queue_event(m, KP_EV_TIME_UPDATE);
    queue_event(m, KP_EV_SEEKED);
    evaluate(m);
}

static void try_seek(kp_media *m)
{
    if (m->seeking && !m->seek_task && enough_data(m, m->anchor_pos))
        m->seek_task = kp_sched_after(m->sched, KP_MEDIA_SEEK_DECODE, complete_seek, m);
}

/* ---- element API ---- */

void kp_media_load(kp_media *m)
{
    drop_queue(m);
    reset_state(m);
    queue_event(m, KP_EV_EMPTIED);
    queue_event(m, KP_EV_LOAD_START);
}

void kp_media_reload(kp_media *m)
{
    drop_queue(m);
    reset_state(m);
    queue_event(m, KP_EV_ABORT);
    queue_event(m, KP_EV_EMPTIED);
    queue_event(m, KP_EV_LOAD_START);
}

void kp_media_detach(kp_media *m)
{
    drop_queue(m);
    reset_state(m);
}

void kp_media_play(kp_media *m)
{
    if (!m->paused)
        return;
    if (m->ended && m->duration >= 0 && kp_media_position(m) >= m->duration)
        kp_media_seek(m, 0);
    m->paused = false;
    queue_event(m, KP_EV_PLAY);
    if (m->ready >= KP_HAVE_FUTURE_DATA && !m->seeking) {
        queue_event(m, KP_EV_PLAYING);
        reschedule(m);
    } else {
        queue_event(m, KP_EV_WAITING);
    }
}

void kp_media_pause(kp_media *m)
{
    if (m->paused)
        return;
    set_anchor(m);
    m->paused = true;
    reschedule(m);
    queue_event(m, KP_EV_TIME_UPDATE);
    queue_event(m, KP_EV_PAUSE);
}

void kp_media_seek(kp_media *m, kp_time pos)
{
    if (pos < 0)
        pos = 0;
    if (m->duration >= 0 && pos > m->duration)
        pos = m->duration;
    if (!m->has_metadata) {
        m->anchor_pos = pos; /* the default playback start position */
        return;
    }
    bool was_playing = potentially_playing(m);
    kp_sched_cancel(m->sched, m->tick_task);
    kp_sched_cancel(m->sched, m->seek_task);
    m->tick_task = m->seek_task = 0;
    m->advancing = false;
    m->anchor_pos = pos;
    m->anchor_t = kp_sched_now(m->sched);
    m->seeking = true;
    m->ended = false;
    if (m->ready > KP_HAVE_METADATA)
        m->ready = KP_HAVE_METADATA;
    queue_event(m, KP_EV_SEEKING);
    if (was_playing)
        queue_event(m, KP_EV_WAITING);
    try_seek(m);
}

void kp_media_set_muted(kp_media *m, bool muted)
{
    if (m->muted == muted)
        return;
    m->muted = muted;
    queue_event(m, KP_EV_VOLUME_CHANGE);
}

void kp_media_set_volume(kp_media *m, double volume)
{
    if (volume < 0)
        volume = 0;
    if (volume > 1)
        volume = 1;
    if (m->volume == volume)
        return;
    m->volume = volume;
    queue_event(m, KP_EV_VOLUME_CHANGE);
}

/* ---- MediaSource side ---- */

void kp_media_set_duration(kp_media *m, kp_time d)
{
    if (d == m->duration)
        return;
    m->duration = d;
    queue_event(m, KP_EV_DURATION_CHANGE);
}

void kp_media_append(kp_media *m, int track, kp_time start, kp_time end)
{
    if (track != KP_TRACK_VIDEO && track != KP_TRACK_AUDIO)
        return;
    if (!m->has_metadata) {
        m->has_metadata = true;
        m->ready = KP_HAVE_METADATA;
        queue_event(m, KP_EV_DURATION_CHANGE);
        queue_event(m, KP_EV_LOADED_METADATA);
    }
    m->has_track[track] = true;
    rlist_add(&m->tracks[track], start, end);
    if (m->duration >= 0 && end > m->duration) {
        /* MSE: a coded frame past the duration extends it */
        m->duration = end;
        queue_event(m, KP_EV_DURATION_CHANGE);
    }
}

void kp_media_appended(kp_media *m)
{
    if (m->seeking)
        try_seek(m);
    else if (m->ready < KP_HAVE_FUTURE_DATA)
        evaluate(m);
    else
        reschedule(m); /* the stall point may have moved */
}

void kp_media_end_of_stream(kp_media *m)
{
    m->eos = true;
    kp_time end = -1;
    for (int t = 0; t < 2; t++)
        if (m->has_track[t] && rlist_max_end(&m->tracks[t]) > end)
            end = rlist_max_end(&m->tracks[t]);
    if (end >= 0)
        m->duration = end;
    queue_event(m, KP_EV_DURATION_CHANGE); /* Chromium fires it even when unchanged */
    kp_media_appended(m);
}

void kp_media_end_of_stream_exact(kp_media *m)
{
    m->eos = true;
    kp_time end = -1;
    for (int t = 0; t < 2; t++)
        if (m->has_track[t] && rlist_max_end(&m->tracks[t]) > end)
            end = rlist_max_end(&m->tracks[t]);
    if (end >= 0 && end != m->duration) {
        m->duration = end;
        queue_event(m, KP_EV_DURATION_CHANGE);
    }
    kp_media_appended(m);
}

/* ---- the element's own fetch ---- */

static void progress_tick(void *ud)
{
    kp_media *m = ud;
    m->progress_task = kp_sched_after(m->sched, KP_MEDIA_PROGRESS_PERIOD, progress_tick, m);
    if (m->net_progressed) {
        m->net_progressed = false;
        queue_event(m, KP_EV_PROGRESS);
    } else if (!m->net_stalled &&
               kp_sched_now(m->sched) - m->net_last_bytes >= KP_MEDIA_STALLED_TIMEOUT) {
        /* WHATWG resource fetch: no data for about 3 seconds: `stalled`, once until bytes
         * arrive again */
        m->net_stalled = true;
        queue_event(m, KP_EV_STALLED);
    }
}

void kp_media_net_loading(kp_media *m)
{
    if (m->net_loading)
        return;
    m->net_loading = true;
    m->net_last_bytes = kp_sched_now(m->sched);
    m->net_stalled = false;
    m->progress_task = kp_sched_after(m->sched, KP_MEDIA_PROGRESS_PERIOD, progress_tick, m);
}

void kp_media_net_received(kp_media *m)
{
    m->net_progressed = true;
    m->net_last_bytes = kp_sched_now(m->sched);
    m->net_stalled = false;
}

void kp_media_net_idle(kp_media *m)
{
    if (!m->net_loading)
        return;
    m->net_loading = false;
    kp_sched_cancel(m->sched, m->progress_task);
    m->progress_task = 0;
    if (m->net_progressed) {
        m->net_progressed = false;
        queue_event(m, KP_EV_PROGRESS);
    }
    queue_event(m, KP_EV_SUSPEND);
}

void kp_media_net_stop(kp_media *m)
{
    m->net_loading = m->net_progressed = false;
    kp_sched_cancel(m->sched, m->progress_task);
    m->progress_task = 0;
}

void kp_media_set_metadata(kp_media *m, kp_time duration)
{
    if (m->has_metadata)
        return;
    m->has_metadata = true;
    m->ready = KP_HAVE_METADATA;
    m->duration = duration;
    queue_event(m, KP_EV_DURATION_CHANGE);
    queue_event(m, KP_EV_LOADED_METADATA);
}

void kp_media_end_of_data(kp_media *m)
{
    m->eos = true;
    kp_media_appended(m);
}
