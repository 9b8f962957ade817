/* yaml_tree.h: one YAML document parsed with libyaml into a tree of typed nodes (private to
 * the harness).
 *
 * Every node keeps the 1-based line and column where it starts. Scalars are typed the way
 * scenario files expect: plain `true`/`false` are booleans (only those spellings), plain
 * `null`, `~` or nothing are null, plain numbers are numbers, everything else (and anything
 * quoted or written as a block scalar) is a string.
 *
 * The tree is strict: duplicate keys, anchors, aliases, tags, keys that are not scalars,
 * several documents and an empty file are reported as problems (the file is then invalid).
 * Nodes that could not be built (an alias) are kept as HX_Y_BAD so that the checks above the
 * tree can skip them without reporting them twice.
 *
 * hx_yaml_parse returns a tree the caller owns and releases with hx_ynode_free.
 */
#ifndef HX_YAML_TREE_H
#define HX_YAML_TREE_H

#include "hx/scenario.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum hx_ytype {
    HX_Y_NULL,
    HX_Y_BOOL,
    HX_Y_NUM,
    HX_Y_STR,
    HX_Y_MAP,
    HX_Y_SEQ,
    HX_Y_BAD /* already reported (e.g. an alias); check nothing about it */
} hx_ytype;

/* A node's location: hx_loc plus the file when the node comes from an included fixture
 * (NULL: the scenario file itself). */
typedef struct hx_yloc {
    int line;
    int col;
    const char *file;
} hx_yloc;

static inline hx_loc hx_yloc_pub(hx_yloc l)
{
    hx_loc p = {l.line, l.col};
    return p;
}

typedef struct hx_ynode hx_ynode;

typedef struct hx_ypair {
    hx_ynode *key; /* always a scalar node; key->text is the key */
    hx_ynode *val;
} hx_ypair;

struct hx_ynode {
    hx_ytype type;
    hx_yloc loc;
    /* scalars (every type but MAP, SEQ and BAD): the text as written, unescaped */
    char *text; /* NUL-terminated; may contain NUL bytes when len says so */
    size_t len;
    bool quoted;  /* not a plain scalar (quoted, literal or folded) */
    bool boolean; /* HX_Y_BOOL */
    double num;   /* HX_Y_NUM */
    bool is_int;  /* HX_Y_NUM written as an integer that fits in a long long */
    long long ival;
    /* HX_Y_MAP: pairs in file order, keys unique; HX_Y_SEQ: items */
    hx_ypair *pairs;
    hx_ynode **items;
    size_t n;
    size_t cap;
};

/* Parses data (len bytes, need not be NUL-terminated). `file` names the input in
 * diagnostics. Returns:
 *   0          *out is the document's root node; diag may have received problems that do not
 *              stop the tree from being built (duplicate keys, anchors ...): `*n_errors` says
 *              how many
 *   KP_EPARSE  a fatal problem (YAML syntax error, empty file, nesting too deep): reported in
 *              diag, *out is NULL
 *   KP_ENOMEM  out of memory, *out is NULL
 * diag may be NULL (problems are then only counted). */
int hx_yaml_parse(const char *file, const char *data, size_t len, hx_ynode **out, hx_diag *diag,
                  size_t *n_errors);
void hx_ynode_free(hx_ynode *n);

/* The value for `key` in a mapping node, or NULL (also when m is not a mapping). */
const hx_ynode *hx_ymap_get(const hx_ynode *m, const char *key);
/* The key node for `key` in a mapping node, or NULL. */
const hx_ynode *hx_ymap_key(const hx_ynode *m, const char *key);

/* scenario.c: checks a (composed) tree as a scenario; n_prior_errors counts problems already
 * reported (the scenario is then invalid whatever the tree says). Returns 0 with *out,
 * KP_EPARSE or KP_ENOMEM. Values whose loc.file is set are reported in that file. */
int hx_scenario_check_tree(const char *name, const hx_ynode *root, size_t n_prior_errors,
                           hx_diag *diag, hx_scenario **out);

#endif
