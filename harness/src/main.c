/* main.c: the kpsim command.
 *
 *   kpsim run [--report-dir DIR] [--log-level LEVEL] [--filter GLOB] [--tag T]... [--skip-tag T]...
 *             PATH...                                           run scenarios (files or folders)
 *   kpsim validate PATH... / kpsim list [selection] PATH...     cmd_validate.h
 *   kpsim record [--log-level LEVEL] [--output FILE] PATH       run one scenario and write its
 *                                                               recorded trace as its expectation
 * Exit codes (SCENARIOS.md): 0 all passed, 1 some failed, 2 a scenario or the command line is
 * invalid.
 */
#include "hx/cmd_provider.h"
#include "hx/cmd_validate.h"
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
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define EXIT_PASSED  0
#define EXIT_FAILED  1
#define EXIT_INVALID 2

static void usage(FILE *f)
{
    fprintf(f, "usage: kpsim run [--report-dir DIR] [--log-level LEVEL] [SELECT] PATH...\n"
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
               "        junit.xml, results.json and traces/ into DIR (default: reports)\n"
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

static void print_result(const hx_result *r)
{
    const char *tag = r->status == HX_PASSED         ? "PASS   "
                      : r->status == HX_INVALID      ? "INVALID"
                      : r->status == HX_TIMEOUT      ? "TIMEOUT"
                      : r->status == HX_NOT_RECORDED ? "NOREC  "
                                                     : "FAIL   ";
    printf("%s %s  (%s; %.0f ms wall, %.3f s virtual)\n", tag, r->name ? r->name : "?", r->file,
           r->wall_ms, (double)r->virtual_ms / 1000.0);
    for (size_t i = 0; i < r->n_diagnostics; i++)
        printf("  %s\n", r->diagnostics[i]);
    for (size_t i = 0; i < r->n_failures; i++) {
        printf("  %s\n", r->failures[i].message);
        if (r->failures[i].detail)
            printf("%s", r->failures[i].detail);
    }
    fflush(stdout);
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1000.0 + (double)t.tv_nsec / 1e6;
}

/* A name must be unique within the suite: a repeated one makes the later scenario invalid. */
static void check_unique(hx_result *rs, size_t n)
{
    hx_result *r = &rs[n - 1];
    if (r->status == HX_INVALID || !r->name)
        return;
    for (size_t i = 0; i + 1 < n; i++) {
        if (rs[i].status == HX_INVALID || !rs[i].name || strcmp(rs[i].name, r->name) != 0)
            continue;
        char *msg =
            kp_asprintf("%s:1:1: name '%s' is already used by %s", r->file, r->name, rs[i].file);
        char **d = realloc(r->diagnostics, (r->n_diagnostics + 1) * sizeof(*d));
        if (d && msg) {
            r->diagnostics = d;
            r->diagnostics[r->n_diagnostics++] = msg;
            r->status = HX_INVALID;
        } else {
            free(msg);
        }
        return;
    }
}

static int cmd_run(int argc, char **argv, kp_log *log, mbe_media_cache *media)
{
    const char *report_dir = "reports";
    file_list paths = {0};
    hx_select sel = {0};
    char err[512] = "";
    for (int i = 0; i < argc; i++) {
        int sr = hx_select_arg(&sel, argc, argv, &i, err, sizeof(err));
        if (sr < 0) {
            fprintf(stderr, "kpsim run: %s\n", err);
            hx_select_free(&sel);
            list_free(&paths);
            return EXIT_INVALID;
        }
        if (sr == 1)
            continue;
        if (strcmp(argv[i], "--report-dir") == 0 && i + 1 < argc) {
            report_dir = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            fprintf(stderr, "kpsim run: unknown option '%s'\n", argv[i]);
            usage(stderr);
            hx_select_free(&sel);
            list_free(&paths);
            return EXIT_INVALID;
        } else if (list_add(&paths, argv[i]) != KP_OK) {
            hx_select_free(&sel);
            list_free(&paths);
            return EXIT_INVALID;
        }
    }
    /* files (folders: every *.yaml below, fixtures/ left out), then one case per selected
     * scenario or matrix variant (select.h) */
    file_list files = {0};
    hx_case *cases = NULL;
    size_t n_cases = 0, n_bad = 0;
    int crc = hx_collect_files(paths.v, paths.n, &files.v, &files.n, err, sizeof(err));
    list_free(&paths);
    if (crc != KP_OK) {
        fprintf(stderr, "kpsim run: %s\n", err);
        hx_select_free(&sel);
        return EXIT_INVALID;
    }
    if (files.n == 0) {
        fprintf(stderr, "kpsim run: no scenario files given (or none under the folders)\n");
        usage(stderr);
        hx_select_free(&sel);
        list_free(&files);
        return EXIT_INVALID;
    }
    if (hx_cases_load(files.v, files.n, &sel, &cases, &n_cases, &n_bad) != KP_OK) {
        hx_select_free(&sel);
        list_free(&files);
        return EXIT_INVALID;
    }
    hx_select_free(&sel);
    if (n_cases == 0) {
        fprintf(stderr, "kpsim run: no scenario matches the selection (--filter/--tag/"
                        "--skip-tag)\n");
        hx_cases_free(cases, n_cases);
        list_free(&files);
        return EXIT_INVALID;
    }
    hx_result *results = calloc(n_cases, sizeof(*results));
    if (!results) {
        hx_cases_free(cases, n_cases);
        list_free(&files);
        return EXIT_INVALID;
    }
    hx_run_opts opts = {.media = media, .log = log, .check_expectations = true};
    double t0 = now_ms();
    size_t passed = 0, failed = 0, invalid = 0, norec = 0;
    for (size_t i = 0; i < n_cases; i++) {
        if (cases[i].sc)
            hx_run(cases[i].sc, &opts, &results[i]);
        else
            hx_run_file(cases[i].file, &opts, &results[i]); /* an invalid result */
        check_unique(results, i + 1);
        print_result(&results[i]);
        if (results[i].status == HX_PASSED)
            passed++;
        else if (results[i].status == HX_INVALID)
            invalid++;
        else if (results[i].status == HX_NOT_RECORDED)
            norec++;
        else
            failed++;
    }
    double wall = now_ms() - t0;
    int wrc = hx_report_write(report_dir, results, n_cases, wall, err, sizeof(err));
    printf("\n%zu scenario%s: %zu passed, %zu failed, %zu invalid", n_cases,
           n_cases == 1 ? "" : "s", passed, failed, invalid);
    if (norec)
        printf(", %zu not recorded", norec);
    printf(" (%.0f ms); reports in %s/\n", wall, report_dir);
    if (wrc != KP_OK)
        fprintf(stderr, "kpsim run: %s: %s\n", err, kp_strerror(wrc));
    for (size_t i = 0; i < n_cases; i++)
        hx_result_free(&results[i]);
    free(results);
    hx_cases_free(cases, n_cases);
    list_free(&files);
    if (invalid)
        return EXIT_INVALID;
    if (failed || norec || wrc != KP_OK)
        return EXIT_FAILED;
    return EXIT_PASSED;
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
