/* select.c: files under paths, loading them as cases, and the --filter/--tag/--skip-tag
 * selection (select.h). */
#include "hx/select.h"

#include "kp/buf.h"
#include "kp/err.h"

#include <dirent.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int push(const char ***v, size_t *n, const char *s)
{
    const char **p = realloc(*v, (*n + 1) * sizeof(*p));
    if (!p)
        return KP_ENOMEM;
    *v = p;
    p[(*n)++] = s;
    return KP_OK;
}

int hx_select_arg(hx_select *sel, int argc, char **argv, int *i, char *err, size_t errlen)
{
    const char *a = argv[*i];
    bool filter = strcmp(a, "--filter") == 0, tag = strcmp(a, "--tag") == 0,
         skip = strcmp(a, "--skip-tag") == 0;
    if (!filter && !tag && !skip)
        return 0;
    if (*i + 1 >= argc || argv[*i + 1][0] == '\0') {
        snprintf(err, errlen, "%s needs a value (%s)", a,
                 filter ? "a glob such as 'hls-*'" : "a tag name");
        return KP_EINVAL;
    }
    const char *v = argv[++*i];
    if (filter) {
        if (sel->filter) {
            snprintf(err, errlen, "--filter is given twice ('%s' and '%s')", sel->filter, v);
            return KP_EINVAL;
        }
        sel->filter = v;
        return 1;
    }
    int rc = tag ? push(&sel->tags, &sel->n_tags, v) : push(&sel->skip_tags, &sel->n_skip_tags, v);
    if (rc < 0) {
        snprintf(err, errlen, "out of memory");
        return rc;
    }
    return 1;
}

static bool has_tag(const hx_scenario *s, const char *t)
{
    for (size_t i = 0; i < s->n_tags; i++)
        if (strcmp(s->tags[i], t) == 0)
            return true;
    return false;
}

bool hx_select_match(const hx_select *sel, const hx_scenario *s)
{
    if (!sel)
        return true;
    if (sel->filter && fnmatch(sel->filter, s->name, 0) != 0)
        return false;
    for (size_t i = 0; i < sel->n_skip_tags; i++)
        if (has_tag(s, sel->skip_tags[i]))
            return false;
    if (!sel->n_tags)
        return true;
    for (size_t i = 0; i < sel->n_tags; i++)
        if (has_tag(s, sel->tags[i]))
            return true;
    return false;
}

void hx_select_free(hx_select *sel)
{
    free(sel->tags);
    free(sel->skip_tags);
    *sel = (hx_select){0};
}

/* ---- files ---------------------------------------------------------------------------- */

typedef struct list {
    char **v;
    size_t n;
} list;

static int add(list *l, char *owned)
{
    if (!owned)
        return KP_ENOMEM;
    char **v = realloc(l->v, (l->n + 1) * sizeof(*v));
    if (!v) {
        free(owned);
        return KP_ENOMEM;
    }
    l->v = v;
    l->v[l->n++] = owned;
    return KP_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool yaml_name(const char *s)
{
    size_t n = strlen(s);
    return (n > 5 && strcmp(s + n - 5, ".yaml") == 0) || (n > 4 && strcmp(s + n - 4, ".yml") == 0);
}

static int walk(const char *dir, list *out, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "cannot read the folder %s", dir);
        return KP_EIO;
    }
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    list names = {0};
    int rc = KP_OK;
    struct dirent *de;
    while (rc == KP_OK && (de = readdir(d)))
        if (de->d_name[0] != '.')
            rc = add(&names, kp_asprintf("%.*s/%s", (int)dl, dir, de->d_name));
    closedir(d);
    if (names.n)
        qsort(names.v, names.n, sizeof(char *), cmp_str);
    for (size_t i = 0; rc == KP_OK && i < names.n; i++) {
        struct stat st;
        if (stat(names.v[i], &st) != 0)
            continue;
        const char *base = strrchr(names.v[i], '/') + 1;
        if (S_ISDIR(st.st_mode)) {
            if (strcmp(base, "fixtures") != 0)
                rc = walk(names.v[i], out, err, errlen);
        } else if (yaml_name(base)) {
            rc = add(out, names.v[i]);
            names.v[i] = NULL;
        }
    }
    for (size_t i = 0; i < names.n; i++)
        free(names.v[i]);
    free(names.v);
    if (rc == KP_ENOMEM)
        snprintf(err, errlen, "out of memory");
    return rc;
}

int hx_collect_files(char *const *paths, size_t n_paths, char ***out, size_t *n, char *err,
                     size_t errlen)
{
    list l = {0};
    int rc = KP_OK;
    for (size_t i = 0; rc == KP_OK && i < n_paths; i++) {
        struct stat st;
        if (stat(paths[i], &st) != 0) {
            snprintf(err, errlen, "%s: no such file or directory", paths[i]);
            rc = KP_ENOENT;
        } else if (S_ISDIR(st.st_mode)) {
            rc = walk(paths[i], &l, err, errlen);
        } else {
            rc = add(&l, kp_strdup(paths[i]));
            if (rc < 0)
                snprintf(err, errlen, "out of memory");
        }
    }
    if (rc < 0) {
        hx_files_free(l.v, l.n);
        return rc;
    }
    *out = l.v;
    *n = l.n;
    return KP_OK;
}

void hx_files_free(char **files, size_t n)
{
    for (size_t i = 0; files && i < n; i++)
        free(files[i]);
    free(files);
}

/* ---- cases ---------------------------------------------------------------------------- */

int hx_cases_load(char *const *files, size_t n_files, const hx_select *sel, hx_case **out,
                  size_t *n, size_t *n_invalid)
{
    hx_case *v = NULL;
    size_t nv = 0, cap = 0, bad = 0;
    *out = NULL;
    *n = 0;
    *n_invalid = 0;
    for (size_t f = 0; f < n_files; f++) {
        hx_scenario **vars = NULL;
        size_t nl = 0;
        hx_diag diag = {0};
        int rc = hx_scenario_load_variants(files[f], &vars, &nl, &diag);
        if (rc == KP_ENOMEM) {
            hx_diag_free(&diag);
            hx_cases_free(v, nv);
            return rc;
        }
        size_t need = rc == KP_OK ? nl : 1;
        if (nv + need > cap) {
            size_t c2 = (cap ? cap * 2 : 64) + need;
            hx_case *p = realloc(v, c2 * sizeof(*p));
            if (!p) {
                hx_scenarios_free(vars, nl);
                hx_diag_free(&diag);
                hx_cases_free(v, nv);
                return KP_ENOMEM;
            }
            v = p;
            cap = c2;
        }
        if (rc != KP_OK) {
            v[nv++] = (hx_case){.file = files[f], .sc = NULL, .diag = diag};
            bad++;
            continue;
        }
        hx_diag_free(&diag);
        for (size_t i = 0; i < nl; i++) {
            if (hx_select_match(sel, vars[i]))
                v[nv++] = (hx_case){.file = files[f], .sc = vars[i]};
            else
                hx_scenario_free(vars[i]);
        }
        free(vars);
    }
    *out = v;
    *n = nv;
    *n_invalid = bad;
    return KP_OK;
}

void hx_cases_free(hx_case *cases, size_t n)
{
    for (size_t i = 0; cases && i < n; i++) {
        hx_scenario_free(cases[i].sc);
        hx_diag_free(&cases[i].diag);
    }
    free(cases);
}
