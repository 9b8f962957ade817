/* main.c: the kpsim command.
 *
 *   kpsim run [--report-dir DIR] [--jobs N] [--retries N] [--shard I/N] [--tap FILE|-]
 *             [--log-level LEVEL] [--filter GLOB] [--tag T]... [--skip-tag T]... PATH...
 *                                                               run scenarios (files or folders),
 *                                                               each in its own process
 *   kpsim validate PATH... / kpsim list [selection] PATH...     cmd_validate.h
 *   kpsim merge [--tap FILE|-] OUT_DIR SHARD_DIR...            one report from shards' reports
 *   kpsim record [--log-level LEVEL] [--output FILE] PATH       run one scenario and write its
 *                                                               recorded trace as its expectation
 * Exit codes (SCENARIOS.md): 0 all passed, 1 some failed, 2 a scenario or the command line is
 * invalid.
 */
#include "hx/cmd_provider.h"
#include "hx/cmd_validate.h"
#include "hx/pool.h"
#include "hx/record.h"
#include "hx/report.h"
#include "hx/runner.h"
#include "hx/scenario.h"
#include "hx/select.h"
#include "kp/buf.h"
#include "kp/err.h"
#include "kp/fault.h"
#include "kp/ffmpeg.h"
#include "kp/log.h"
#include "mbe/media.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EXIT_PASSED  0
#define EXIT_FAILED  1
#define EXIT_INVALID 2

static void usage(FILE *f)
{
    fprintf(f, "usage: kpsim run [--report-dir DIR] [--jobs N] [--retries N] [--shard I/N]\n"
               "                 [--tap FILE|-] [--log-level LEVEL] [SELECT] PATH...\n"
               "       kpsim merge [--tap FILE|-] OUT_DIR SHARD_DIR...\n"
               "       kpsim validate PATH...\n"
               "       kpsim list [SELECT] PATH...\n"
               "       kpsim record [--log-level LEVEL] [--output FILE] PATH\n"
               "       kpsim serve [--port N] [--drm-port N] [--journal FILE] [--log-level LEVEL] "
               "SCENARIO\n"
               "       kpsim provider --service-url URL --partner-id N (--entry-id ID |\n"
               "             --reference-id REF | --playlist-id ID | --entry-list ID,...) [...]\n"
               "       kpsim --version\n"
               "\n"
               "run     runs scenario files, or every *.yaml under the folders given; writes\n"
               "        junit.xml, results.json, results.tap, report.html and traces/ into\n"
               "        DIR (default: reports); each scenario runs in its own process, N at a\n"
               "        time (--jobs, default 1), killed after its timeout: (TIMEOUT); a failed\n"
               "        one runs again up to --retries times (passing then: flaky); --shard I/N\n"
               "        runs the I-th of N parts of the suite (sorted by name, every N-th);\n"
               "        --tap also writes TAP 14 to FILE (- for stdout)\n"
               "merge   joins the results.json and traces of shard report folders into one\n"
               "        report (junit.xml, results.json, results.tap, report.html) in OUT_DIR\n"
               "record  runs one scenario and writes the events it recorded as its expect:\n"
               "        block (in place, or into FILE)\n"
               "serve   runs the scenario's mock back-end on 127.0.0.1:N (default: any free\n"
               "        port), and its license server when an entry has drm (--drm-port),\n"
               "        until SIGINT/SIGTERM, for real players; FILE gets the journal\n"
               "provider  asks a back-end (any, real or mock) for an entry, playlist or entry\n"
               "        list as the player's provider does; prints the media config or the\n"
               "        error object (kpsim provider --help: every option)\n"
               "validate  loads every scenario (with includes and matrix variants) without\n"
               "        running it; problems as file:line:column: message\n"
               "list    prints the selected scenarios: name, file, tags (tab-separated)\n"
               "SELECT  --filter GLOB (on the name), --tag T (any of), --skip-tag T (none of);\n"
               "        each --tag/--skip-tag may be repeated\n"
               "LEVEL   error, warn (default), info, debug, trace\n"
               "exit    0 all passed, 1 some failed, 2 invalid scenario or command line\n");
}

typedef struct file_list {
    char **v;
    size_t n, cap;
} file_list;

static int list_add(file_list *l, const char *path)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        char **v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return KP_ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n] = kp_strdup(path);
    return l->v[l->n++] ? KP_OK : KP_ENOMEM;
}

static void list_free(file_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

static const char *status_tag(const hx_result *r)
{
    if (r->flaky)
        return "FLAKY  ";
    switch (r->status) {
    case HX_PASSED:
        return "PASS   ";
    case HX_INVALID:
        return "INVALID";
    case HX_TIMEOUT:
        return "TIMEOUT";
    case HX_NOT_RECORDED:
        return "NOREC  ";
    default:
        return "FAIL   ";
    }
}

static void print_result(FILE *f, const hx_result *r)
{
    fprintf(f, "%s %s  (%s; %.0f ms wall, %.3f s virtual", status_tag(r), r->name ? r->name : "?",
            r->file, r->wall_ms, (double)r->virtual_ms / 1000.0);
    if (r->attempts > 1)
        fprintf(f, "; %u attempts", r->attempts);
    fprintf(f, ")\n");
    for (size_t i = 0; i < r->n_earlier; i++)
        fprintf(f, "  attempt %zu: %s: %s\n", i + 1, hx_status_name(r->earlier[i].status),
                r->earlier[i].message ? r->earlier[i].message : "");
    for (size_t i = 0; i < r->n_diagnostics; i++)
        fprintf(f, "  %s\n", r->diagnostics[i]);
    for (size_t i = 0; i < r->n_failures; i++) {
        fprintf(f, "  %s\n", r->failures[i].message);
        if (r->failures[i].detail)
            fprintf(f, "%s", r->failures[i].detail);
    }
    if (r->output && r->status != HX_PASSED) {
        fprintf(f, "  output of the scenario's process:\n");
        const char *p = r->output;
        while (*p) {
            const char *nl = strchr(p, '\n');
            int len = nl ? (int)(nl - p) : (int)strlen(p);
            fprintf(f, "    | %.*s\n", len, p);
            p += len + (nl ? 1 : 0);
        }
    }
    fflush(f);
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1000.0 + (double)t.tv_nsec / 1e6;
}

/* A case of the run: one loaded scenario, or a file that did not load (`invalid` holds its
 * HX_INVALID result). */
typedef struct run_item {
    char *file;
    hx_scenario *sc;
    hx_result invalid;
    bool is_invalid;
} run_item;

typedef struct item_list {
    run_item *v;
    size_t n, cap;
} item_list;

static run_item *items_push(item_list *l)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        run_item *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return NULL;
        l->v = v;
        l->cap = cap;
    }
    run_item *it = &l->v[l->n++];
    memset(it, 0, sizeof(*it));
    return it;
}

static void items_free(item_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].file);
        hx_scenario_free(l->v[i].sc);
        hx_result_free(&l->v[i].invalid);
    }
    free(l->v);
}

static const char *item_name(const run_item *it)
{
    return it->is_invalid ? it->invalid.name : it->sc->name;
}

static char *dir_of(const char *file)
{
    char *copy = kp_strdup(file);
    char *d = copy ? kp_strdup(basename(dirname(copy))) : NULL;
    free(copy);
    return d;
}

static void make_invalid(run_item *it, const char *path, char **msgs, size_t n)
{
    hx_result *r = &it->invalid;
    r->file = kp_strdup(path);
    if (!r->name) {
        char *copy = kp_strdup(path);
        r->name = copy ? kp_strdup(basename(copy)) : NULL;
        free(copy);
    }
    r->classname = dir_of(path);
    r->status = HX_INVALID;
    char **d = realloc(r->diagnostics, (r->n_diagnostics + n) * sizeof(*d));
    if (d) {
        r->diagnostics = d;
        for (size_t i = 0; i < n; i++)
            r->diagnostics[r->n_diagnostics++] = msgs[i];
    } else {
        for (size_t i = 0; i < n; i++)
            free(msgs[i]);
    }
    it->is_invalid = true;
}

/* The run's cases from the selection's (select.h): each loaded scenario or matrix variant,
 * and each file that did not load as an invalid case. The cases' scenarios move into items. */
static int items_from_cases(hx_case *cases, size_t n, item_list *items)
{
    for (size_t i = 0; i < n; i++) {
        run_item *it = items_push(items);
        if (!it)
            return KP_ENOMEM;
        it->file = kp_strdup(cases[i].file);
        if (cases[i].sc) {
            it->sc = cases[i].sc;
            cases[i].sc = NULL;
        } else {
            make_invalid(it, cases[i].file, cases[i].diag.msgs, cases[i].diag.n);
            free(cases[i].diag.msgs);
            cases[i].diag.msgs = NULL;
            cases[i].diag.n = 0;
        }
    }
    return KP_OK;
}

/* A name must be unique within the suite: a repeated one makes the later case invalid. */
static void check_unique(item_list *items)
{
    for (size_t k = 1; k < items->n; k++) {
        run_item *it = &items->v[k];
        if (it->is_invalid)
            continue;
        for (size_t i = 0; i < k; i++) {
            const run_item *o = &items->v[i];
            if (o->is_invalid || strcmp(o->sc->name, it->sc->name) != 0)
                continue;
            char *msg = kp_asprintf("%s:1:1: name '%s' is already used by %s", it->file,
                                    it->sc->name, o->file);
            it->invalid.name = kp_strdup(it->sc->name);
            hx_scenario_free(it->sc);
            it->sc = NULL;
            if (msg)
                make_invalid(it, it->file, &msg, 1);
            else
                it->is_invalid = true;
            break;
        }
    }
}

/* "I/N" with 1 <= I <= N; 0 or KP_EINVAL with the reason in err. */
static int parse_shard(const char *s, unsigned *index, unsigned *count, char *err, size_t n)
{
    const char *slash = strchr(s, '/');
    char *end;
    if (!slash || slash == s || !slash[1]) {
        snprintf(err, n, "expected I/N (the I-th of N parts, from 1)");
        return KP_EINVAL;
    }
    for (const char *p = s; *p; p++) {
        if (p != slash && (*p < '0' || *p > '9')) {
            snprintf(err, n, "expected I/N with I and N whole numbers, found '%c'", *p);
            return KP_EINVAL;
        }
    }
    unsigned long i = strtoul(s, &end, 10), c = strtoul(slash + 1, &end, 10);
    if (c < 1 || c > 100000) {
        snprintf(err, n, "the number of shards N must be within 1..100000");
        return KP_EINVAL;
    }
    if (i < 1 || i > c) {
        snprintf(err, n, "the shard index I must be within 1..%lu", c);
        return KP_EINVAL;
    }
    *index = (unsigned)i;
    *count = (unsigned)c;
    return KP_OK;
}

static int parse_count(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi)
        return -1;
    *out = (unsigned)v;
    return 0;
}

typedef struct rank {
    const char *name;
    size_t i;
} rank;

static int cmp_rank(const void *a, const void *b)
{
    const rank *x = a, *y = b;
    int c = strcmp(x->name ? x->name : "", y->name ? y->name : "");
    return c ? c : (x->i < y->i ? -1 : x->i > y->i);
}

/* Keeps the shard's cases: the cases sorted by name, every N-th from the I-th. Every machine
 * of a CI matrix sees the same suite, so the parts are disjoint and cover it. */
static void apply_shard(item_list *items, unsigned index, unsigned count)
{
    rank *r = calloc(items->n ? items->n : 1, sizeof(*r));
    bool *keep = calloc(items->n ? items->n : 1, sizeof(*keep));
    if (!r || !keep) {
        free(r);
        free(keep);
        return;
    }
    for (size_t i = 0; i < items->n; i++)
        r[i] = (rank){item_name(&items->v[i]), i};
    qsort(r, items->n, sizeof(*r), cmp_rank);
    for (size_t k = 0; k < items->n; k++)
        keep[r[k].i] = k % count == index - 1;
    size_t m = 0;
    for (size_t i = 0; i < items->n; i++) {
        if (keep[i]) {
            items->v[m++] = items->v[i];
        } else {
            free(items->v[i].file);
            hx_scenario_free(items->v[i].sc);
            hx_result_free(&items->v[i].invalid);
        }
    }
    items->n = m;
    free(r);
    free(keep);
}

typedef struct progress {
    bool tty;
    FILE *out; /* stdout, or stderr when stdout carries TAP */
    size_t total, done, failed, flaky;
    const hx_pool_case *cases;
    const char *running;
} progress;

static void progress_line(progress *p)
{
    if (!p->tty)
        return;
    printf("\r\033[K[%zu/%zu] %zu failed", p->done, p->total, p->failed);
    if (p->flaky)
        printf(", %zu flaky", p->flaky);
    if (p->running)
        printf("  running %.60s", p->running);
    fflush(stdout);
}

static void on_start(void *ud, size_t i, unsigned attempt)
{
    progress *p = ud;
    (void)attempt;
    p->running = p->cases[i].sc->name;
    progress_line(p);
}

static void on_done(void *ud, size_t i, const hx_result *r)
{
    progress *p = ud;
    (void)i;
    p->done++;
    bool bad = r->status != HX_PASSED;
    p->failed += bad;
    p->flaky += r->flaky;
    if (p->tty) {
        printf("\r\033[K");
        if (bad || r->flaky)
            print_result(p->out, r);
        p->running = NULL;
        progress_line(p);
    } else {
        print_result(p->out, r);
    }
}

static int exit_code(const hx_result *rs, size_t n, int wrc)
{
    bool invalid = false, failed = wrc != KP_OK;
    for (size_t i = 0; i < n; i++) {
        if (rs[i].status == HX_INVALID)
            invalid = true;
        else if (rs[i].status != HX_PASSED)
            failed = true;
    }
    return invalid ? EXIT_INVALID : failed ? EXIT_FAILED : EXIT_PASSED;
}

static void print_summary(const hx_result *rs, size_t n, double wall, const char *dir)
{
    size_t passed = 0, failed = 0, invalid = 0, timeout = 0, flaky = 0, norec = 0;
    for (size_t i = 0; i < n; i++) {
        flaky += rs[i].flaky;
        if (rs[i].status == HX_PASSED)
            passed++;
        else if (rs[i].status == HX_INVALID)
            invalid++;
        else if (rs[i].status == HX_TIMEOUT)
            timeout++;
        else if (rs[i].status == HX_NOT_RECORDED)
            norec++;
        else
            failed++;
    }
    printf("\n%zu scenario%s: %zu passed", n, n == 1 ? "" : "s", passed);
    if (flaky)
        printf(" (%zu flaky)", flaky);
    printf(", %zu failed, ", failed);
    if (timeout)
        printf("%zu timed out, ", timeout);
    if (norec)
        printf("%zu not recorded, ", norec);
    printf("%zu invalid (%.0f ms); reports in %s/\n", invalid, wall, dir);
}

static int write_tap_to(const char *tap, const hx_result *rs, size_t n)
{
    char *text = hx_report_tap(rs, n);
    int rc = text ? KP_OK : KP_ENOMEM;
    if (text && strcmp(tap, "-") == 0) {
        fputs(text, stdout);
        fflush(stdout);
    } else if (text) {
        rc = kp_write_file_atomic(tap, text, strlen(text));
        if (rc != KP_OK)
            fprintf(stderr, "kpsim: cannot write the TAP report to %s: %s\n", tap, kp_strerror(rc));
    }
    free(text);
    return rc;
}

static int cmd_run(int argc, char **argv, kp_log *log, mbe_media_cache *media)
{
    const char *report_dir = "reports", *tap = NULL;
    unsigned jobs = 1, retries = 0, shard_i = 0, shard_n = 0;
    file_list paths = {0};
    hx_select sel = {0};
    char err[512] = "";
    for (int i = 0; i < argc; i++) {
        bool has_val = i + 1 < argc;
        int sr = hx_select_arg(&sel, argc, argv, &i, err, sizeof(err));
        if (sr < 0) {
            fprintf(stderr, "kpsim run: %s\n", err);
            hx_select_free(&sel);
            list_free(&paths);
            hx_select_free(&sel);
            return EXIT_INVALID;
        }
        if (sr == 1)
            continue;
        if (strcmp(argv[i], "--report-dir") == 0 && has_val) {
            report_dir = argv[++i];
        } else if (strcmp(argv[i], "--tap") == 0 && has_val) {
            tap = argv[++i];
        } else if (strcmp(argv[i], "--jobs") == 0 && has_val) {
            if (parse_count(argv[++i], 1, 1024, &jobs) != 0) {
                fprintf(stderr,
                        "kpsim run: argument %d: --jobs '%s': expected a number of "
                        "processes within 1..1024\n",
                        i + 1, argv[i]);
                list_free(&paths);
                hx_select_free(&sel);
                return EXIT_INVALID;
            }
        } else if (strcmp(argv[i], "--retries") == 0 && has_val) {
            if (parse_count(argv[++i], 0, 100, &retries) != 0) {
                fprintf(stderr,
                        "kpsim run: argument %d: --retries '%s': expected a number "
                        "within 0..100\n",
                        i + 1, argv[i]);
                list_free(&paths);
                hx_select_free(&sel);
                return EXIT_INVALID;
            }
        } else if (strcmp(argv[i], "--shard") == 0 && has_val) {
            char why[128];
            if (parse_shard(argv[++i], &shard_i, &shard_n, why, sizeof(why)) != KP_OK) {
                fprintf(stderr, "kpsim run: argument %d: --shard '%s': %s\n", i + 1, argv[i], why);
                list_free(&paths);
                hx_select_free(&sel);
                return EXIT_INVALID;
            }
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            fprintf(stderr, "kpsim run: argument %d: unknown option '%s'%s\n", i + 1, argv[i],
                    has_val ? "" : " (or its value is missing)");
            usage(stderr);
            list_free(&paths);
            hx_select_free(&sel);
            return EXIT_INVALID;
        } else if (list_add(&paths, argv[i]) != KP_OK) {
            list_free(&paths);
            hx_select_free(&sel);
            return EXIT_INVALID;
        }
    }
    /* files (folders: every *.yaml below, fixtures/ left out), then one case per selected
     * scenario or matrix variant (select.h) */
    file_list files = {0};
    int crc = hx_collect_files(paths.v, paths.n, &files.v, &files.n, err, sizeof(err));
    list_free(&paths);
    if (crc != KP_OK || files.n == 0) {
        if (crc != KP_OK)
            fprintf(stderr, "kpsim run: %s\n", err);
        else
            fprintf(stderr, "kpsim run: no scenario files given (or none under the folders)\n");
        usage(stderr);
        hx_select_free(&sel);
        list_free(&files);
        return EXIT_INVALID;
    }
    double t0 = now_ms();
    hx_case *loaded = NULL;
    size_t n_loaded = 0, n_bad = 0;
    int lrc = hx_cases_load(files.v, files.n, &sel, &loaded, &n_loaded, &n_bad);
    hx_select_free(&sel);
    item_list items = {0};
    if (lrc == KP_OK && n_loaded == 0) {
        fprintf(stderr, "kpsim run: no scenario matches the selection (--filter/--tag/"
                        "--skip-tag)\n");
        hx_cases_free(loaded, n_loaded);
        list_free(&files);
        return EXIT_INVALID;
    }
    if (lrc != KP_OK || items_from_cases(loaded, n_loaded, &items) != KP_OK) {
        fprintf(stderr, "kpsim run: out of memory loading the scenarios\n");
        hx_cases_free(loaded, n_loaded);
        items_free(&items);
        list_free(&files);
        return EXIT_INVALID;
    }
    hx_cases_free(loaded, n_loaded);
    list_free(&files);
    check_unique(&items);
    if (shard_n)
        apply_shard(&items, shard_i, shard_n);

    size_t n = items.n, nc = 0;
    hx_result *results = calloc(n ? n : 1, sizeof(*results));
    hx_pool_case *cases = calloc(n ? n : 1, sizeof(*cases));
    size_t *case_item = calloc(n ? n : 1, sizeof(*case_item));
    hx_result *case_res = calloc(n ? n : 1, sizeof(*case_res));
    if (!results || !cases || !case_item || !case_res) {
        free(results);
        free(cases);
        free(case_item);
        free(case_res);
        items_free(&items);
        return EXIT_INVALID;
    }
    progress pr = {.tty = isatty(STDOUT_FILENO) && !(tap && strcmp(tap, "-") == 0),
                   .out = tap && strcmp(tap, "-") == 0 ? stderr : stdout,
                   .total = n,
                   .cases = cases};
    for (size_t i = 0; i < n; i++) {
        run_item *it = &items.v[i];
        if (it->is_invalid) {
            results[i] = it->invalid;
            memset(&it->invalid, 0, sizeof(it->invalid));
            on_done(&pr, i, &results[i]);
            continue;
        }
        cases[nc] = (hx_pool_case){.file = it->file, .sc = it->sc};
        case_item[nc++] = i;
    }
    int prc = KP_OK;
    if (nc) {
        char *work = kp_asprintf("%s/.work-%ld", report_dir, (long)getpid());
        hx_pool_opts po = {.media = media,
                           .log = log,
                           .jobs = jobs,
                           .retries = retries,
                           .grace_ms = -1,
                           .work_dir = work,
                           .on_start = on_start,
                           .on_done = on_done,
                           .ud = &pr};
        prc = work ? hx_pool_run(cases, nc, &po, case_res, err, sizeof(err)) : KP_ENOMEM;
        free(work);
        for (size_t k = 0; k < nc; k++)
            results[case_item[k]] = case_res[k];
    }
    if (pr.tty)
        printf("\r\033[K");
    if (prc != KP_OK)
        fprintf(stderr, "kpsim run: %s: %s\n", err, kp_strerror(prc));
    double wall = now_ms() - t0;
    int wrc = hx_report_write(report_dir, results, n, wall, err, sizeof(err));
    if (tap && write_tap_to(tap, results, n) != KP_OK)
        wrc = KP_EIO;
    if (!(tap && strcmp(tap, "-") == 0))
        print_summary(results, n, wall, report_dir);
    if (wrc != KP_OK && err[0])
        fprintf(stderr, "kpsim run: %s: %s\n", err, kp_strerror(wrc));
    int code = exit_code(results, n, wrc != KP_OK ? wrc : prc);
    for (size_t i = 0; i < n; i++)
        hx_result_free(&results[i]);
    free(results);
    free(cases);
    free(case_item);
    free(case_res);
    items_free(&items);
    return code;
}

/* kpsim merge OUT_DIR SHARD_DIR...: the shards' results.json (and traces) as one report. */
static int cmd_merge(int argc, char **argv)
{
    const char *tap = NULL;
    const char *dirs[1024];
    int nd = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--tap") == 0 && i + 1 < argc) {
            tap = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            fprintf(stderr, "kpsim merge: argument %d: unknown option '%s'\n", i + 1, argv[i]);
            return EXIT_INVALID;
        } else if (nd < 1024) {
            dirs[nd++] = argv[i];
        }
    }
    if (nd < 2) {
        fprintf(stderr, "usage: kpsim merge [--tap FILE] OUT_DIR SHARD_DIR...\n");
        return EXIT_INVALID;
    }
    hx_result *all = NULL;
    size_t n = 0;
    double wall = 0;
    for (int d = 1; d < nd; d++) {
        hx_result *rs = NULL;
        size_t k = 0;
        double w = 0;
        char err[512] = "";
        int rc = hx_report_load(dirs[d], &rs, &k, &w, err, sizeof(err));
        if (rc != KP_OK) {
            fprintf(stderr, "kpsim merge: %s\n", err);
            for (size_t i = 0; i < n; i++)
                hx_result_free(&all[i]);
            free(all);
            return EXIT_INVALID;
        }
        hx_result *grown = realloc(all, (n + k + 1) * sizeof(*grown));
        if (!grown) {
            for (size_t i = 0; i < k; i++)
                hx_result_free(&rs[i]);
            free(rs);
            break;
        }
        all = grown;
        for (size_t i = 0; i < k; i++) {
            for (size_t j = 0; j < n; j++)
                if (rs[i].name && all[j].name && strcmp(rs[i].name, all[j].name) == 0)
                    fprintf(stderr, "kpsim merge: %s: '%s' is also in an earlier shard\n", dirs[d],
                            rs[i].name);
            all[n + i] = rs[i];
        }
        n += k;
        free(rs);
        if (w > wall)
            wall = w; /* shards run side by side: the longest is the run's */
    }
    char err[512] = "";
    int wrc = hx_report_write(dirs[0], all, n, wall, err, sizeof(err));
    if (wrc != KP_OK)
        fprintf(stderr, "kpsim merge: %s: %s\n", err, kp_strerror(wrc));
    if (tap && write_tap_to(tap, all, n) != KP_OK)
        wrc = KP_EIO;
    print_summary(all, n, wall, dirs[0]);
    int code = exit_code(all, n, wrc);
    for (size_t i = 0; i < n; i++)
        hx_result_free(&all[i]);
    free(all);
    return code;
}

static int cmd_record(int argc, char **argv, kp_log *log, mbe_media_cache *media)
{
    const char *output = NULL, *path = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--output") == 0 && i + 1 < argc) {
            output = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            fprintf(stderr, "kpsim record: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return EXIT_INVALID;
        } else if (path) {
            fprintf(stderr, "kpsim record: one scenario at a time\n");
            return EXIT_INVALID;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        usage(stderr);
        return EXIT_INVALID;
    }
    char err[512] = "";
    int rc = hx_record_file(path, output, media, log, err, sizeof(err));
    if (rc == KP_EPARSE) {
        fprintf(stderr, "%s", err);
        return EXIT_INVALID;
    }
    if (rc != KP_OK) {
        fprintf(stderr, "kpsim record: %s\n", err);
        return EXIT_FAILED;
    }
    printf("%s\n", err);
    return EXIT_PASSED;
}

static int parse_port(const char *s, uint16_t *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < 0 || v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

static int cmd_serve(int argc, char **argv, kp_log *log, mbe_media_cache *media)
{
    const char *path = NULL, *journal = NULL;
    uint16_t port = 0, drm_port = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            if (parse_port(argv[++i], &port) != 0) {
                fprintf(stderr, "kpsim serve: --port takes 0..65535, got '%s'\n", argv[i]);
                return EXIT_INVALID;
            }
        } else if (strcmp(argv[i], "--drm-port") == 0 && i + 1 < argc) {
            if (parse_port(argv[++i], &drm_port) != 0) {
                fprintf(stderr, "kpsim serve: --drm-port takes 0..65535, got '%s'\n", argv[i]);
                return EXIT_INVALID;
            }
        } else if (strcmp(argv[i], "--journal") == 0 && i + 1 < argc) {
            journal = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            fprintf(stderr, "kpsim serve: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return EXIT_INVALID;
        } else if (path) {
            fprintf(stderr, "kpsim serve: one scenario at a time\n");
            return EXIT_INVALID;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        usage(stderr);
        return EXIT_INVALID;
    }
    hx_scenario *sc = NULL;
    hx_diag diag = {0};
    if (hx_scenario_load(path, &sc, &diag) != KP_OK) {
        for (size_t i = 0; i < diag.n; i++)
            fprintf(stderr, "%s\n", diag.msgs[i]);
        hx_diag_free(&diag);
        return EXIT_INVALID;
    }
    hx_diag_free(&diag);
    /* SIGINT and SIGTERM are taken synchronously below; block them before the server's
     * threads start, so that none of those threads receives them */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    hx_servers servers;
    int rc = hx_servers_start_mode(sc, media, log, port, drm_port, true, &servers);
    if (rc != KP_OK) {
        fprintf(stderr,
                "kpsim serve: the mock servers could not start on 127.0.0.1 (port %u, license "
                "server port %u): %s\n",
                port, drm_port, kp_strerror(rc));
        hx_scenario_free(sc);
        return EXIT_FAILED;
    }
    mbe_server *srv = servers.api;
    const char *url = mbe_server_url(srv);
    printf("kpsim serve: listening on %s\n", url);
    printf("  scenario     %s (%s)\n", sc->name, sc->file);
    printf("  serviceUrl   %s/api_v3\n", url);
    printf("  partnerId    %lld\n", sc->backend.partner_id);
    if (servers.drm)
        printf("  licenses     %s (ClearKey /clearkey/license, UDRM /cenc/widevine, "
               "/cenc/playready, /fps)\n",
               mdrm_server_url(servers.drm));
    if (sc->backend.ads.n_vast || sc->backend.ads.n_vmap)
        printf("  ads          %s/ads (%zu VAST at /ads/vast/<id>, %zu VMAP at /ads/vmap/<id>)\n",
               url, sc->backend.ads.n_vast, sc->backend.ads.n_vmap);
    for (size_t i = 0; i < sc->backend.ads.n_vast; i++)
        printf("  vast         %s/ads/vast/%s\n", url, sc->backend.ads.vast[i].id);
    for (size_t i = 0; i < sc->backend.ads.n_vmap; i++)
        printf("  vmap         %s/ads/vmap/%s\n", url, sc->backend.ads.vmap[i].id);
    for (size_t i = 0; i < sc->backend.n_entries; i++)
        printf("  entry        %s (%s, %.1f s)\n", sc->backend.entries[i].id,
               sc->backend.entries[i].status, sc->backend.entries[i].duration);
    printf("  faults       %zu rule(s); GET/POST/DELETE %s/__admin/faults changes them\n",
           kp_fault_set_count(servers.faults), url);
    printf("  SIGINT or SIGTERM stops it%s%s\n", journal ? "; the journal goes to " : "",
           journal ? journal : "");
    fflush(stdout);
    int sig = 0;
    sigwait(&stop, &sig);
    json_t *j = mbe_server_journal(srv);
    if (servers.drm) {
        /* one journal: the license server's requests after the back-end's, marked */
        json_t *dj = mdrm_server_journal(servers.drm);
        size_t k;
        json_t *it;
        json_array_foreach(dj, k, it)
        {
            json_object_set_new(it, "server", json_string("drm"));
            json_array_append(j, it);
        }
        json_decref(dj);
    }
    hx_servers_stop(&servers);
    size_t n = json_array_size(j);
    int code = EXIT_PASSED;
    if (journal) {
        char *text = json_dumps(j, JSON_INDENT(1));
        if (!text || kp_write_file_atomic(journal, text, strlen(text)) != KP_OK) {
            fprintf(stderr, "kpsim serve: cannot write the journal to %s\n", journal);
            code = EXIT_FAILED;
        }
        free(text);
    }
    printf("kpsim serve: stopped by %s after %zu requests\n", sig == SIGINT ? "SIGINT" : "SIGTERM",
           n);
    json_decref(j);
    hx_scenario_free(sc);
    return code;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--version") == 0)) {
        printf("kpsim 0.1.0\n");
        return EXIT_PASSED;
    }
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0)) {
        usage(stdout);
        return EXIT_PASSED;
    }
    if (argc >= 3 && strcmp(argv[1], "provider") == 0 &&
        (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
        fputs(hx_cmd_provider_usage(), stdout);
        return EXIT_PASSED;
    }
    if (argc >= 2 && strcmp(argv[1], "merge") == 0)
        return cmd_merge(argc - 2, argv + 2);
    /* commands that load scenarios without running them: no media cache, no log */
    if (argc >= 2 && strcmp(argv[1], "validate") == 0)
        return hx_cmd_validate(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "list") == 0)
        return hx_cmd_list(argc - 2, argv + 2);
    if (argc < 2 || (strcmp(argv[1], "run") != 0 && strcmp(argv[1], "record") != 0 &&
                     strcmp(argv[1], "serve") != 0 && strcmp(argv[1], "provider") != 0)) {
        usage(stderr);
        return EXIT_INVALID;
    }
    /* global options, wherever they appear */
    int level = KP_LOG_WARN;
    int n = 0;
    char **rest = calloc((size_t)argc, sizeof(char *));
    if (!rest)
        return EXIT_INVALID;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc) {
            level = kp_log_level_parse(argv[++i]);
            if (level < 0) {
                fprintf(stderr, "kpsim: unknown log level '%s'\n", argv[i]);
                free(rest);
                return EXIT_INVALID;
            }
        } else {
            rest[n++] = argv[i];
        }
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    kp_ffmpeg_set_log_level((kp_log_level)level);
    kp_log *log = kp_log_new((kp_log_level)level, stderr);
    int code;
    if (strcmp(argv[1], "provider") == 0) {
        /* no media cache: nothing is served */
        code = log ? hx_cmd_provider(n, rest, log) : EXIT_INVALID;
        kp_log_free(log);
        free(rest);
        curl_global_cleanup();
        return code;
    }
    mbe_media_cache *media = mbe_media_cache_new(NULL, log);
    if (!log || !media) {
        fprintf(stderr, "kpsim: cannot set up the media cache (see above)\n");
        code = EXIT_INVALID;
    } else if (strcmp(argv[1], "run") == 0) {
        code = cmd_run(n, rest, log, media);
    } else if (strcmp(argv[1], "serve") == 0) {
        code = cmd_serve(n, rest, log, media);
    } else {
        code = cmd_record(n, rest, log, media);
    }
    mbe_media_cache_free(media);
    kp_log_free(log);
    free(rest);
    curl_global_cleanup();
    return code;
}
