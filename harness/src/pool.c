/* pool.c: one process per scenario (see hx/pool.h). */
#include "hx/pool.h"

#include "hx/resultio.h"
#include "kp/buf.h"
#include "kp/err.h"

#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define OUTPUT_MAX (64 * 1024) /* the tail of a child's output kept in a result */

typedef struct slot {
    pid_t pid;
    size_t i;
    unsigned attempt;
    double started, deadline;
    bool killed;
} slot;

typedef struct job {
    size_t i;
    unsigned attempt;
} job;

static double mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1000.0 + (double)t.tv_nsec / 1e6;
}

static bool env_names(const char *var, const char *name)
{
    const char *v = getenv(var);
    return v && name && strcmp(v, name) == 0;
}

static char *work_file(const char *dir, size_t i, unsigned attempt, const char *ext)
{
    return kp_asprintf("%s/case-%zu-%u.%s", dir, i, attempt, ext);
}

/* In the child: never returns. */
static void child_main(const hx_pool_case *c, size_t i, unsigned attempt, const hx_pool_opts *o,
                       const sigset_t *mask)
{
    sigprocmask(SIG_SETMASK, mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    char *log_path = work_file(o->work_dir, i, attempt, "log");
    int fd = log_path ? open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
    }
    free(log_path);
    const char *name = c->sc->name;
    if (env_names("KPSIM_TEST_CRASH", name)) {
        fprintf(stderr, "kpsim: '%s' crashes on purpose (KPSIM_TEST_CRASH)\n", name);
        fflush(stderr);
        signal(SIGSEGV, SIG_DFL);
        raise(SIGSEGV);
        _exit(4);
    }
    if (env_names("KPSIM_TEST_HANG", name)) {
        fprintf(stderr, "kpsim: '%s' hangs on purpose (KPSIM_TEST_HANG)\n", name);
        fflush(stderr);
        for (;;)
            pause();
    }
    if (env_names("KPSIM_TEST_FLAKY", name) && attempt == 1) {
        fprintf(stderr, "kpsim: '%s' fails its first attempt on purpose (KPSIM_TEST_FLAKY)\n",
                name);
        fflush(stderr);
        _exit(3);
    }
    hx_run_opts ro = {.media = o->media, .log = o->log, .check_expectations = true};
    hx_result r;
    hx_run(c->sc, &ro, &r);
    /* the summary, and apart from it the bulk (trace, journals) that the parent only reads
     * once every case has run: the parent stays small, and so do the children it forks */
    json_t *j = hx_result_to_json(&r, false);
    json_t *d = json_object();
    if (d && r.trace)
        json_object_set(d, "trace_events", r.trace);
    if (d && r.journal)
        json_object_set(d, "journal", r.journal);
    if (d && r.drm_journal)
        json_object_set(d, "drm_journal", r.drm_journal);
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
    char *data = d ? json_dumps(d, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
    char *path = work_file(o->work_dir, i, attempt, "json");
    char *dpath = work_file(o->work_dir, i, attempt, "data.json");
    /* the summary last: its presence says the data is complete */
    int rc = data && dpath ? kp_write_file_atomic(dpath, data, strlen(data)) : KP_ENOMEM;
    if (rc == KP_OK)
        rc = text && path ? kp_write_file_atomic(path, text, strlen(text)) : KP_ENOMEM;
    fflush(stdout);
    fflush(stderr);
    /* _exit: the parent's atexit handlers and stdio buffers are not the child's to run */
    _exit(rc == KP_OK ? 0 : 5);
}

/* The tail of the child's output, or NULL when it wrote nothing. */
static char *read_output(const char *dir, size_t i, unsigned attempt)
{
    char *path = work_file(dir, i, attempt, "log");
    kp_buf b;
    kp_buf_init(&b);
    char *out = NULL;
    if (path && kp_read_file(path, &b) == KP_OK && b.len) {
        size_t from = b.len > OUTPUT_MAX ? b.len - OUTPUT_MAX : 0;
        out = kp_strndup(b.data + from, b.len - from);
    }
    kp_buf_free(&b);
    if (path)
        unlink(path);
    free(path);
    return out;
}

static char *dir_name(const char *file)
{
    char *copy = kp_strdup(file);
    char *d = copy ? kp_strdup(basename(dirname(copy))) : NULL;
    free(copy);
    return d;
}

/* The result of a child that left none: crashed, exited early or was killed. */
static void abnormal_result(const hx_pool_case *c, const slot *s, int wstatus, double grace,
                            char *output, hx_result *r)
{
    memset(r, 0, sizeof(*r));
    r->file = kp_strdup(c->file);
    r->name = kp_strdup(c->sc->name);
    r->classname = dir_name(c->file);
    r->wall_ms = mono_ms() - s->started;
    r->output = output;
    char msg[512];
    if (s->killed) {
        r->status = HX_TIMEOUT;
        snprintf(msg, sizeof(msg),
                 "the scenario did not finish within its timeout of %.0f s of wall-clock time "
                 "(+%.1f s grace): its process was killed by the watchdog",
                 c->sc->timeout_s, grace / 1000.0);
    } else if (WIFSIGNALED(wstatus)) {
        r->status = HX_FAILED;
        snprintf(msg, sizeof(msg), "the scenario's process crashed: killed by signal %d (%s)",
                 WTERMSIG(wstatus), strsignal(WTERMSIG(wstatus)));
    } else {
        r->status = HX_FAILED;
        snprintf(msg, sizeof(msg),
                 "the scenario's process exited with code %d without a result (see its output)",
                 WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1);
    }
    r->failures = calloc(1, sizeof(*r->failures));
    if (r->failures) {
        r->failures[0].message = kp_asprintf("%s:1:1: %s", c->file, msg);
        r->failures[0].loc = (hx_loc){1, 1};
        r->n_failures = 1;
    }
}

/* Reads what the child left; fills r. */
static void collect(const hx_pool_case *c, const slot *s, int wstatus, const hx_pool_opts *o,
                    double grace, hx_result *r)
{
    char *path = work_file(o->work_dir, s->i, s->attempt, "json");
    bool ok = false;
    if (path && !s->killed && WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) {
        /* the summary only: the bulk stays in <case>-<attempt>.data.json (attach_data) */
        json_error_t je;
        json_t *j = json_load_file(path, 0, &je);
        char err[256];
        ok = j && hx_result_from_json(j, r, err, sizeof(err)) == KP_OK;
        if (!ok && j)
            hx_result_free(r);
        json_decref(j);
    }
    if (path)
        unlink(path);
    free(path);
    char *output = read_output(o->work_dir, s->i, s->attempt);
    if (ok) {
        if (r->status != HX_PASSED && output && !r->output)
            r->output = output;
        else
            free(output);
    } else {
        abnormal_result(c, s, wstatus, grace, output, r);
    }
}

/* Loads, in the parent, the media every case's back-end will ask for, so that the children
 * inherit it (shared, copy-on-write) instead of each reading and checking it from the disk
 * cache again: that was most of a short scenario's cost. The spec follows the back-end's own
 * rule (mock-backend/src/server.c prepare_entry): HLS always, plus the formats offered, plus
 * DASH for fMP4 HLS. A failure here is left for the child to report. */
static void preload_media(const hx_pool_case *cases, size_t n, mbe_media_cache *media)
{
    for (size_t i = 0; media && i < n; i++) {
        const hx_scenario *sc = cases[i].sc;
        for (size_t k = 0; k < sc->backend.n_entries; k++) {
            const hx_entry *e = &sc->backend.entries[k];
            bool ready = !e->status || strcmp(e->status, "ready") == 0;
            if (!ready || e->block || !e->n_formats || !e->n_renditions || e->n_renditions > 16)
                continue;
            mbe_rendition rs[16];
            bool ok = true;
            for (size_t r = 0; ok && r < e->n_renditions; r++)
                ok = mbe_rendition_parse(e->renditions[r], &rs[r]) == KP_OK;
            if (!ok)
                continue;
            unsigned want = MBE_PACKAGE_HLS;
            for (size_t f = 0; f < e->n_formats; f++)
                want |= e->format_order[f] == HX_FORMAT_HLS    ? MBE_PACKAGE_HLS
                        : e->format_order[f] == HX_FORMAT_DASH ? MBE_PACKAGE_DASH
                                                               : MBE_PACKAGE_MP4;
            if (e->hls_fmp4)
                want |= MBE_PACKAGE_DASH;
            mbe_media_spec spec = {.duration_s = e->duration,
                                   .renditions = rs,
                                   .n_renditions = e->n_renditions,
                                   .segment_s = 2,
                                   .packagings = want};
            const mbe_media *m;
            mbe_media_get(media, &spec, &m);
        }
    }
}

/* Takes the trace and journals of case i's final attempt from its data file, and removes it. */
static void attach_data(const char *dir, size_t i, unsigned attempt, hx_result *r)
{
    char *path = work_file(dir, i, attempt, "data.json");
    json_t *d = path ? json_load_file(path, 0, NULL) : NULL;
    if (d) {
        json_t *t = json_object_get(d, "trace_events");
        if (json_is_array(t) && !r->trace)
            r->trace = json_incref(t);
        t = json_object_get(d, "journal");
        if (json_is_array(t) && !r->journal)
            r->journal = json_incref(t);
        t = json_object_get(d, "drm_journal");
        if (json_is_array(t) && !r->drm_journal)
            r->drm_journal = json_incref(t);
        json_decref(d);
    }
    if (path)
        unlink(path);
    free(path);
}

static void drop_data(const char *dir, size_t i, unsigned attempt)
{
    char *path = work_file(dir, i, attempt, "data.json");
    if (path)
        unlink(path);
    free(path);
}

static bool retry_worthy(hx_status s)
{
    return s == HX_FAILED || s == HX_TIMEOUT;
}

int hx_pool_run(const hx_pool_case *cases, size_t n, const hx_pool_opts *o, hx_result *results,
                char *err, size_t errlen)
{
    memset(results, 0, n * sizeof(*results));
    if (kp_mkdirs(o->work_dir) != KP_OK) {
        snprintf(err, errlen, "cannot create the work directory %s", o->work_dir);
        return KP_EIO;
    }
    unsigned jobs = o->jobs ? o->jobs : 1;
    double grace = o->grace_ms < 0 ? 1000.0 : o->grace_ms;
    slot *slots = calloc(jobs, sizeof(*slots));
    /* every case once, then each retry: at most n * (retries + 1) jobs */
    size_t qcap = n + 1, qhead = 0, qtail = 0;
    job *queue = calloc(qcap, sizeof(*queue));
    if (!slots || !queue) {
        free(slots);
        free(queue);
        snprintf(err, errlen, "out of memory");
        return KP_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        queue[qtail++] = (job){i, 1};
    preload_media(cases, n, o->media);
    /* FFmpeg's MPEG-TS demuxer converts the DVB service names of every HLS segment with
     * iconv from ISO 6937: glibc loads that converter (a shared object, with its symbol
     * lookups) on first use. Held open here it is loaded once, not once per child. */
    iconv_t iso6937 = iconv_open("UTF-8", "ISO6937");
    /* SIGCHLD stays pending while blocked: sigtimedwait wakes on a child's end */
    sigset_t chld, old;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &old);
    int rc = KP_OK;
    size_t running = 0;
    while (qhead != qtail || running) {
        /* start children while there are free slots */
        for (unsigned k = 0; k < jobs && qhead != qtail && rc == KP_OK; k++) {
            if (slots[k].pid)
                continue;
            job jb = queue[qhead];
            qhead = (qhead + 1) % qcap;
            if (o->on_start)
                o->on_start(o->ud, jb.i, jb.attempt);
            fflush(stdout);
            fflush(stderr);
            pid_t pid = fork();
            if (pid < 0) {
                snprintf(err, errlen, "fork: %s", strerror(errno));
                rc = KP_EIO;
                break;
            }
            if (pid == 0)
                child_main(&cases[jb.i], jb.i, jb.attempt, o, &old);
            double now = mono_ms();
            slots[k] = (slot){.pid = pid,
                              .i = jb.i,
                              .attempt = jb.attempt,
                              .started = now,
                              .deadline = now + cases[jb.i].sc->timeout_s * 1000.0 + grace};
            running++;
        }
        if (!running)
            break;
        /* wait for a child's end or the nearest deadline */
        double now = mono_ms(), next = now + 1000.0;
        for (unsigned k = 0; k < jobs; k++)
            if (slots[k].pid && !slots[k].killed && slots[k].deadline < next)
                next = slots[k].deadline;
        double wait = next > now ? next - now : 0;
        struct timespec ts = {(time_t)(wait / 1000.0),
                              (long)((wait - (double)(long)(wait / 1000.0) * 1000.0) * 1e6)};
        sigtimedwait(&chld, NULL, &ts);
        now = mono_ms();
        for (unsigned k = 0; k < jobs; k++) {
            slot *s = &slots[k];
            if (!s->pid)
                continue;
            int ws = 0;
            struct rusage ru;
            memset(&ru, 0, sizeof(ru));
            pid_t got = wait4(s->pid, &ws, WNOHANG, &ru);
            if (got == 0) {
                if (!s->killed && now >= s->deadline) {
                    s->killed = true;
                    kill(s->pid, SIGKILL);
                }
                continue;
            }
            const hx_pool_case *c = &cases[s->i];
            hx_result r;
            collect(c, s, got == s->pid ? ws : 0, o, grace, &r);
            r.attempts = s->attempt;
            r.peak_rss_kb = ru.ru_maxrss;
            hx_result *dst = &results[s->i];
            /* earlier failed attempts were parked in results[i] */
            r.earlier = dst->earlier;
            r.n_earlier = dst->n_earlier;
            dst->earlier = NULL;
            dst->n_earlier = 0;
            bool again = retry_worthy(r.status) && s->attempt <= o->retries;
            if (again) {
                hx_attempt *e = realloc(r.earlier, (r.n_earlier + 1) * sizeof(*e));
                if (e) {
                    e[r.n_earlier++] = (hx_attempt){
                        .status = r.status,
                        .message = kp_strdup(r.n_failures ? r.failures[0].message : "failed"),
                        .output = r.output};
                    r.output = NULL;
                    r.earlier = e;
                }
                drop_data(o->work_dir, s->i, s->attempt);
                dst->earlier = r.earlier;
                dst->n_earlier = r.n_earlier;
                r.earlier = NULL;
                r.n_earlier = 0;
                hx_result_free(&r);
                if ((qtail + 1) % qcap == qhead) {
                    /* grow the ring: keep its order */
                    job *q = calloc(qcap * 2, sizeof(*q));
                    size_t m = 0;
                    for (size_t p = qhead; q && p != qtail; p = (p + 1) % qcap)
                        q[m++] = queue[p];
                    if (q) {
                        free(queue);
                        queue = q;
                        qcap *= 2;
                        qhead = 0;
                        qtail = m;
                    }
                }
                if ((qtail + 1) % qcap != qhead) {
                    queue[qtail] = (job){s->i, s->attempt + 1};
                    qtail = (qtail + 1) % qcap;
                }
            } else {
                r.flaky = r.status == HX_PASSED && r.n_earlier > 0;
                *dst = r;
                if (o->on_done)
                    o->on_done(o->ud, s->i, dst);
            }
            memset(s, 0, sizeof(*s));
            running--;
        }
    }
    /* after an error: stop what still runs */
    for (unsigned k = 0; k < jobs; k++) {
        if (!slots[k].pid)
            continue;
        kill(slots[k].pid, SIGKILL);
        waitpid(slots[k].pid, NULL, 0);
    }
    /* no SIGCHLD of ours may stay pending once the mask is restored */
    struct timespec zero = {0, 0};
    while (sigtimedwait(&chld, NULL, &zero) > 0) {
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (iso6937 != (iconv_t)-1)
        iconv_close(iso6937);
    /* every child is done: now the bulk of the results may come in */
    for (size_t i = 0; i < n; i++)
        if (results[i].attempts)
            attach_data(o->work_dir, i, results[i].attempts, &results[i]);
    free(slots);
    free(queue);
    rmdir(o->work_dir);
    return rc;
}
