/* cmd_validate.c: `kpsim validate` and `kpsim list` (cmd_validate.h). */
#include "hx/cmd_validate.h"

#include "hx/scenario.h"
#include "hx/select.h"
#include "kp/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXIT_OK      0
#define EXIT_INVALID 2

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1000.0 + (double)t.tv_nsec / 1e6;
}

/* Parses PATH... and (when sel) the selection options; loads the cases. Returns -1 when done
 * (cases loaded), or the exit code of a command-line problem. */
static int load(const char *cmd, int argc, char **argv, hx_select *sel, char ***files,
                size_t *n_files, hx_case **cases, size_t *n_cases, size_t *n_invalid)
{
    char **paths = calloc((size_t)argc + 1, sizeof(char *));
    size_t np = 0;
    char err[512] = "";
    if (!paths)
        return EXIT_INVALID;
    for (int i = 0; i < argc; i++) {
        int rc = sel ? hx_select_arg(sel, argc, argv, &i, err, sizeof(err)) : 0;
        if (rc < 0) {
            fprintf(stderr, "kpsim %s: %s\n", cmd, err);
            free(paths);
            return EXIT_INVALID;
        }
        if (rc == 1)
            continue;
        if (argv[i][0] == '-' && argv[i][1] == '-') {
            fprintf(stderr, "kpsim %s: unknown option '%s'\n", cmd, argv[i]);
            free(paths);
            return EXIT_INVALID;
        }
        paths[np++] = argv[i];
    }
    if (!np) {
        fprintf(stderr, "kpsim %s: no files or folders given\n", cmd);
        free(paths);
        return EXIT_INVALID;
    }
    int rc = hx_collect_files(paths, np, files, n_files, err, sizeof(err));
    free(paths);
    if (rc < 0) {
        fprintf(stderr, "kpsim %s: %s\n", cmd, err);
        return EXIT_INVALID;
    }
    if (*n_files == 0) {
        fprintf(stderr, "kpsim %s: no scenario files (*.yaml) under the paths given\n", cmd);
        hx_files_free(*files, *n_files);
        return EXIT_INVALID;
    }
    rc = hx_cases_load(*files, *n_files, sel, cases, n_cases, n_invalid);
    if (rc < 0) {
        fprintf(stderr, "kpsim %s: %s\n", cmd, kp_strerror(rc));
        hx_files_free(*files, *n_files);
        return EXIT_INVALID;
    }
    return -1;
}

/* A scenario name used twice in the suite: the later one is reported. Returns how many. */
static size_t report_duplicates(const hx_case *c, size_t n)
{
    size_t dups = 0;
    for (size_t i = 0; i < n; i++) {
        if (!c[i].sc)
            continue;
        for (size_t k = 0; k < i; k++) {
            if (c[k].sc && strcmp(c[k].sc->name, c[i].sc->name) == 0) {
                fprintf(stderr, "%s:1:1: name '%s' is already used by %s\n", c[i].file,
                        c[i].sc->name, c[k].file);
                dups++;
                break;
            }
        }
    }
    return dups;
}

static void print_diags(const hx_case *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < c[i].diag.n; k++)
            fprintf(stderr, "%s\n", c[i].diag.msgs[k]);
}

int hx_cmd_validate(int argc, char **argv)
{
    double t0 = now_ms();
    char **files = NULL;
    size_t n_files = 0, n_cases = 0, n_invalid = 0;
    hx_case *cases = NULL;
    int code = load("validate", argc, argv, NULL, &files, &n_files, &cases, &n_cases, &n_invalid);
    if (code >= 0)
        return code;
    print_diags(cases, n_cases);
    size_t dups = report_duplicates(cases, n_cases);
    size_t n_sc = n_cases - n_invalid;
    if (n_invalid || dups)
        printf("kpsim validate: %zu of %zu file%s invalid, %zu duplicate name%s (%.0f ms)\n",
               n_invalid, n_files, n_files == 1 ? "" : "s", dups, dups == 1 ? "" : "s",
               now_ms() - t0);
    else
        printf("kpsim validate: %zu file%s, %zu scenario%s, all valid (%.0f ms)\n", n_files,
               n_files == 1 ? "" : "s", n_sc, n_sc == 1 ? "" : "s", now_ms() - t0);
    hx_cases_free(cases, n_cases);
    hx_files_free(files, n_files);
    return n_invalid || dups ? EXIT_INVALID : EXIT_OK;
}

int hx_cmd_list(int argc, char **argv)
{
    hx_select sel = {0};
    char **files = NULL;
    size_t n_files = 0, n_cases = 0, n_invalid = 0;
    hx_case *cases = NULL;
    int code = load("list", argc, argv, &sel, &files, &n_files, &cases, &n_cases, &n_invalid);
    if (code >= 0) {
        hx_select_free(&sel);
        return code;
    }
    print_diags(cases, n_cases);
    for (size_t i = 0; i < n_cases; i++) {
        const hx_scenario *s = cases[i].sc;
        if (!s)
            continue;
        printf("%s\t%s\t", s->name, cases[i].file);
        for (size_t t = 0; t < s->n_tags; t++)
            printf("%s%s", t ? "," : "", s->tags[t]);
        putchar('\n');
    }
    hx_cases_free(cases, n_cases);
    hx_files_free(files, n_files);
    hx_select_free(&sel);
    return n_invalid ? EXIT_INVALID : EXIT_OK;
}
