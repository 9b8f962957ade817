/* select.h: which scenarios a command works on (docs/scenarios.md, "Selecting scenarios").
 *
 * The paths given on the command line are files or folders; a folder gives every *.yaml and
 * *.yml below it, sorted, except what is inside a folder named `fixtures` (files that are
 * included, not run). Each file is loaded with its include: fixtures and matrix: variants;
 * the selection (--filter GLOB on the name, --tag T: has one of these tags, --skip-tag T: has
 * none of these) then keeps some of the loaded scenarios. A file that does not load is always
 * kept, as an invalid case: a broken scenario is never hidden by a filter.
 *
 * Used by kpsim run, list and validate alike, so that all three see the same suite.
 */
#ifndef HX_SELECT_H
#define HX_SELECT_H

#include "hx/scenario.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct hx_select {
    const char *filter; /* fnmatch(3) glob on the scenario (variant) name; NULL: all */
    const char **tags;  /* keep scenarios with at least one of these; none: all */
    size_t n_tags;
    const char **skip_tags; /* drop scenarios with any of these */
    size_t n_skip_tags;
} hx_select;

/* Takes argv[*i] (and its value) when it is --filter, --tag or --skip-tag, advancing *i.
 * Returns 1 when taken, 0 when it is not a selection option, KP_EINVAL when the value is
 * missing (the reason in err). The strings are borrowed from argv. */
int hx_select_arg(hx_select *sel, int argc, char **argv, int *i, char *err, size_t errlen);
/* Whether a loaded scenario is selected. */
bool hx_select_match(const hx_select *sel, const hx_scenario *s);
void hx_select_free(hx_select *sel);

/* The scenario files under the given paths (see above), sorted per folder. Returns 0, or
 * KP_ENOENT / KP_EIO / KP_ENOMEM with the path in err. Free with hx_files_free. */
int hx_collect_files(char *const *paths, size_t n_paths, char ***out, size_t *n, char *err,
                     size_t errlen);
void hx_files_free(char **files, size_t n);

/* One test case: a loaded (and selected) scenario or variant, or a file that did not load. */
typedef struct hx_case {
    const char *file; /* borrowed from the file list */
    hx_scenario *sc;  /* NULL when the file is invalid */
    hx_diag diag;     /* the loader's messages when invalid */
} hx_case;

/* Loads every file and keeps the selected scenarios (sel may be NULL: all), in file order
 * and, within a file, in variant order. *n_invalid counts files that did not load. Returns 0
 * or KP_ENOMEM. Free with hx_cases_free. */
int hx_cases_load(char *const *files, size_t n_files, const hx_select *sel, hx_case **out,
                  size_t *n, size_t *n_invalid);
void hx_cases_free(hx_case *cases, size_t n);

#endif
