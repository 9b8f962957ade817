/* scenario_compose.c: the parts of a scenario file that are resolved before its checks
 * (docs/scenarios.md, "Reuse"):
 *
 *   include: [fixture.yaml, ...]   fixture files (relative to the including file) merged
 *                                  under the file: mappings merge key by key, lists are
 *                                  joined (the fixture's items first), any other value of the
 *                                  including file replaces the fixture's; fixtures may include
 *                                  others (a cycle is an error)
 *   matrix: {axis: [v1, v2], ...}  one variant per combination of values; ${axis} in any text
 *                                  value is replaced by the variant's value
 *   variants: [{name: X, ...}]     one variant per item, whose keys replace the scenario's
 *                                  (mappings merge, lists and other values are replaced)
 *
 * Everything works on the located YAML tree of yaml_tree.h: nodes that come from a fixture
 * carry its path in loc.file, so that a problem in a fixture is reported in the fixture. Each
 * variant's tree is then checked by hx_scenario_check_tree (scenario.c).
 */
#include "hx/scenario.h"

#include "kp/buf.h"
#include "kp/err.h"
#include "yaml_tree.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INCLUDE_DEPTH 16
#define MAX_VARIANTS      256

typedef struct compose {
    const char *file; /* the scenario file (diagnostics for nodes without loc.file) */
    hx_diag *diag;
    size_t n_errors;
    bool oom;
    bool allow_include;
    char **files; /* included fixtures, as paths: node loc.file points at these strings */
    size_t n_files;
    struct {
        char *real; /* canonical path, for cycle detection */
        const char *shown;
    } stack[MAX_INCLUDE_DEPTH + 1];
    size_t depth;
} compose;

static void report(compose *cp, hx_yloc loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void report(compose *cp, hx_yloc loc, const char *fmt, ...)
{
    cp->n_errors++;
    if (!cp->diag)
        return;
    hx_diag *d = cp->diag;
    va_list ap;
    va_start(ap, fmt);
    int rc = hx_diag_vaddf(d, loc.file ? loc.file : cp->file, hx_yloc_pub(loc), fmt, ap);
    va_end(ap);
    if (rc != KP_OK) {
        cp->oom = true;
        return;
    }
    /* the same problem in every variant (an unknown ${axis}): once */
    for (size_t i = 0; d->n && i + 1 < d->n; i++) {
        if (strcmp(d->msgs[i], d->msgs[d->n - 1]) == 0) {
            free(d->msgs[--d->n]);
            break;
        }
    }
}

/* ---- tree helpers --------------------------------------------------------------------- */

/* A deep copy; loc.file pointers found in from[] are re-pointed to to[] (n pairs). */
static hx_ynode *clone_remap(const hx_ynode *n, char *const *from, char *const *to, size_t nmap)
{
    hx_ynode *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    *c = *n;
    c->text = NULL;
    c->pairs = NULL;
    c->items = NULL;
    c->n = 0;
    c->cap = 0;
    for (size_t i = 0; i < nmap; i++)
        if (n->loc.file == from[i])
            c->loc.file = to[i];
    if (n->text) {
        c->text = malloc(n->len + 1);
        if (!c->text)
            goto fail;
        memcpy(c->text, n->text, n->len + 1);
    }
    if (n->type == HX_Y_MAP && n->n) {
        c->pairs = calloc(n->n, sizeof(*c->pairs));
        if (!c->pairs)
            goto fail;
        c->cap = n->n;
        for (size_t i = 0; i < n->n; i++) {
            c->pairs[i].key = clone_remap(n->pairs[i].key, from, to, nmap);
            c->pairs[i].val = clone_remap(n->pairs[i].val, from, to, nmap);
            c->n = i + 1;
            if (!c->pairs[i].key || !c->pairs[i].val)
                goto fail;
        }
    } else if (n->type == HX_Y_SEQ && n->n) {
        c->items = calloc(n->n, sizeof(*c->items));
        if (!c->items)
            goto fail;
        c->cap = n->n;
        for (size_t i = 0; i < n->n; i++) {
            c->items[i] = clone_remap(n->items[i], from, to, nmap);
            c->n = i + 1;
            if (!c->items[i])
                goto fail;
        }
    }
    return c;
fail:
    hx_ynode_free(c);
    return NULL;
}

static void set_file(hx_ynode *n, const char *file)
{
    n->loc.file = file;
    for (size_t i = 0; n->type == HX_Y_MAP && i < n->n; i++) {
        set_file(n->pairs[i].key, file);
        set_file(n->pairs[i].val, file);
    }
    for (size_t i = 0; n->type == HX_Y_SEQ && i < n->n; i++)
        set_file(n->items[i], file);
}

/* Removes the pair for `key` from mapping m; the caller owns the returned key and value. */
static bool detach(hx_ynode *m, const char *key, hx_ypair *out)
{
    for (size_t i = 0; m->type == HX_Y_MAP && i < m->n; i++) {
        if (strcmp(m->pairs[i].key->text, key) != 0)
            continue;
        *out = m->pairs[i];
        memmove(&m->pairs[i], &m->pairs[i + 1], (m->n - i - 1) * sizeof(*m->pairs));
        m->n--;
        return true;
    }
    return false;
}

static void free_pair(hx_ypair *p)
{
    hx_ynode_free(p->key);
    hx_ynode_free(p->val);
    p->key = p->val = NULL;
}

/* Frees a container node without its children (they were moved elsewhere). */
static void free_shell(hx_ynode *n)
{
    free(n->pairs);
    free(n->items);
    free(n->text);
    free(n);
}

/* Merges `over` onto `base` (both consumed) and returns the result. Mappings merge key by key
 * (the key node of `over` is kept, so locations point at the overriding file); lists are
 * joined when `join_lists`, else replaced; any other value of `over` replaces base's. NULL
 * only when out of memory (both are then freed). */
static hx_ynode *merge(hx_ynode *base, hx_ynode *over, bool join_lists)
{
    if (base->type == HX_Y_MAP && over->type == HX_Y_MAP) {
        for (size_t i = 0; i < over->n; i++) {
            hx_ypair *op = &over->pairs[i];
            size_t k = 0;
            while (k < base->n && strcmp(base->pairs[k].key->text, op->key->text) != 0)
                k++;
            if (k < base->n) {
                hx_ynode_free(base->pairs[k].key);
                base->pairs[k].key = op->key;
                base->pairs[k].val = merge(base->pairs[k].val, op->val, join_lists);
                op->key = op->val = NULL;
                if (!base->pairs[k].val) {
                    base->pairs[k].val = calloc(1, sizeof(hx_ynode)); /* keep the tree whole */
                    goto oom;
                }
                continue;
            }
            hx_ypair *p = realloc(base->pairs, (base->n + 1) * sizeof(*p));
            if (!p)
                goto oom;
            base->pairs = p;
            base->pairs[base->n++] = *op;
            base->cap = base->n;
            op->key = op->val = NULL;
        }
        base->loc = over->loc; /* "missing key" problems point at the including file */
        free_shell(over);
        return base;
    }
    if (join_lists && base->type == HX_Y_SEQ && over->type == HX_Y_SEQ) {
        if (over->n) {
            hx_ynode **v = realloc(base->items, (base->n + over->n) * sizeof(*v));
            if (!v)
                goto oom;
            base->items = v;
            memcpy(base->items + base->n, over->items, over->n * sizeof(*v));
            base->n += over->n;
            base->cap = base->n;
        }
        /* the joined list starts where the including file's list does */
        base->loc = over->loc;
        free_shell(over);
        return base;
    }
    hx_ynode_free(base);
    return over;
oom:
    for (size_t i = 0; i < over->n; i++)
        free_pair(&over->pairs[i]);
    over->n = 0;
    hx_ynode_free(over);
    hx_ynode_free(base);
    return NULL;
}

/* ---- include ------------------------------------------------------------------------- */

static const char *keep_file(compose *cp, const char *path)
{
    char **v = realloc(cp->files, (cp->n_files + 1) * sizeof(*v));
    if (!v)
        return NULL;
    cp->files = v;
    v[cp->n_files] = kp_strdup(path);
    return v[cp->n_files] ? v[cp->n_files++] : NULL;
}

/* "a.yaml -> b.yaml -> a.yaml" for a cycle closing at stack index `from`. */
static char *cycle_text(const compose *cp, size_t from, const char *again)
{
    kp_buf b;
    kp_buf_init(&b);
    for (size_t i = from; i < cp->depth; i++)
        kp_buf_printf(&b, "%s -> ", cp->stack[i].shown);
    kp_buf_puts(&b, again);
    return kp_buf_steal(&b);
}

static hx_ynode *resolve_includes(compose *cp, hx_ynode *doc, const char *doc_path);

/* Reads, parses and resolves one fixture named by item (a text node of an include list in the
 * file doc_path). NULL when reported. */
static hx_ynode *load_fixture(compose *cp, const hx_ynode *item, const char *doc_path)
{
    if (item->type != HX_Y_STR || item->len == 0 || strlen(item->text) != item->len) {
        if (item->type != HX_Y_BAD)
            report(cp, item->loc, "include: expected a file name (text), got %s",
                   item->type == HX_Y_MAP   ? "a mapping"
                   : item->type == HX_Y_SEQ ? "a list"
                   : item->len              ? item->text
                                            : "nothing");
        return NULL;
    }
    const char *slash = strrchr(doc_path, '/');
    char *path = item->text[0] == '/' || !slash
                     ? kp_strdup(item->text)
                     : kp_asprintf("%.*s/%s", (int)(slash - doc_path), doc_path, item->text);
    if (!path) {
        cp->oom = true;
        return NULL;
    }
    char real[PATH_MAX];
    if (!realpath(path, real)) {
        report(cp, item->loc, "include: cannot read '%s' (%s): %s", item->text, path,
               strerror(errno));
        free(path);
        return NULL;
    }
    for (size_t i = 0; i < cp->depth; i++) {
        if (strcmp(cp->stack[i].real, real) != 0)
            continue;
        char *cyc = cycle_text(cp, i, path);
        report(cp, item->loc, "include cycle: %s", cyc ? cyc : path);
        free(cyc);
        free(path);
        return NULL;
    }
    if (cp->depth >= MAX_INCLUDE_DEPTH) {
        report(cp, item->loc, "include: fixtures nested more than %d deep", MAX_INCLUDE_DEPTH);
        free(path);
        return NULL;
    }
    const char *shown = keep_file(cp, path);
    free(path);
    if (!shown) {
        cp->oom = true;
        return NULL;
    }
    kp_buf b;
    kp_buf_init(&b);
    int rc = kp_read_file(shown, &b);
    if (rc < 0) {
        report(cp, item->loc, "include: cannot read '%s' (%s): %s", item->text, shown,
               kp_strerror(rc));
        kp_buf_free(&b);
        return NULL;
    }
    hx_ynode *root = NULL;
    size_t n_yaml = 0;
    rc = hx_yaml_parse(shown, b.data ? b.data : "", b.len, &root, cp->diag, &n_yaml);
    kp_buf_free(&b);
    cp->n_errors += n_yaml;
    if (rc == KP_ENOMEM)
        cp->oom = true;
    if (rc < 0) {
        cp->n_errors += rc == KP_EPARSE && n_yaml == 0;
        return NULL;
    }
    set_file(root, shown);
    if (root->type != HX_Y_MAP) {
        if (root->type != HX_Y_BAD)
            report(cp, root->loc, "a fixture is a mapping of scenario keys (backend, player ...)");
        hx_ynode_free(root);
        return NULL;
    }
    static const char *const not_here[] = {"matrix", "variants", NULL};
    for (size_t i = 0; not_here[i]; i++) {
        const hx_ynode *k = hx_ymap_key(root, not_here[i]);
        if (k)
            report(cp, k->loc, "%s belongs in the scenario file, not in an included fixture",
                   not_here[i]);
    }
    cp->stack[cp->depth].real = kp_strdup(real);
    cp->stack[cp->depth].shown = shown;
    if (!cp->stack[cp->depth].real) {
        cp->oom = true;
        hx_ynode_free(root);
        return NULL;
    }
    cp->depth++;
    root = resolve_includes(cp, root, shown);
    cp->depth--;
    free(cp->stack[cp->depth].real);
    cp->stack[cp->depth].real = NULL;
    return root;
}

/* Resolves doc's `include:` (doc is consumed; the result has no include key). */
static hx_ynode *resolve_includes(compose *cp, hx_ynode *doc, const char *doc_path)
{
    hx_ypair inc;
    if (doc->type != HX_Y_MAP || !detach(doc, "include", &inc))
        return doc;
    if (!cp->allow_include) {
        report(cp, inc.key->loc, "include: needs a scenario file on disk (not available here)");
        free_pair(&inc);
        return doc;
    }
    const hx_ynode *const *items = NULL;
    size_t n = 0;
    const hx_ynode *one = inc.val;
    if (inc.val->type == HX_Y_SEQ) {
        items = (const hx_ynode *const *)inc.val->items;
        n = inc.val->n;
    } else {
        items = &one;
        n = 1;
    }
    hx_ynode *acc = NULL;
    for (size_t i = 0; i < n && !cp->oom; i++) {
        hx_ynode *fx = load_fixture(cp, items[i], doc_path);
        if (!fx)
            continue;
        acc = acc ? merge(acc, fx, true) : fx;
        if (!acc)
            cp->oom = true;
    }
    free_pair(&inc);
    if (!acc)
        return doc;
    hx_ynode *out = merge(acc, doc, true);
    if (!out)
        cp->oom = true;
    return out;
}

/* ---- matrix and variants -------------------------------------------------------------- */

typedef struct binding {
    const char *axis;
    const hx_ynode *value; /* a scalar */
} binding;

static bool axis_name_ok(const char *s)
{
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
        return false;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return false;
    return true;
}

/* Replaces ${axis} in the text values below n. */
static void substitute(compose *cp, hx_ynode *n, const binding *b, size_t nb)
{
    if (n->type == HX_Y_MAP) {
        for (size_t i = 0; i < n->n; i++)
            substitute(cp, n->pairs[i].val, b, nb);
        return;
    }
    if (n->type == HX_Y_SEQ) {
        for (size_t i = 0; i < n->n; i++)
            substitute(cp, n->items[i], b, nb);
        return;
    }
    if (n->type != HX_Y_STR || !strstr(n->text, "${"))
        return;
    kp_buf out;
    kp_buf_init(&out);
    const char *p = n->text;
    const hx_ynode *whole = NULL; /* the value when the text is exactly ${axis} */
    while (*p) {
        const char *d = strstr(p, "${");
        if (!d) {
            kp_buf_puts(&out, p);
            break;
        }
        kp_buf_append(&out, p, (size_t)(d - p));
        const char *end = strchr(d + 2, '}');
        if (!end) {
            report(cp, n->loc, "unterminated '${' in '%s' (write ${AXIS})", n->text);
            kp_buf_free(&out);
            n->type = HX_Y_BAD; /* reported: the checks skip it */
            return;
        }
        size_t k = 0;
        while (k < nb && !(strlen(b[k].axis) == (size_t)(end - d - 2) &&
                           strncmp(b[k].axis, d + 2, (size_t)(end - d - 2)) == 0))
            k++;
        if (k == nb) {
            kp_buf names;
            kp_buf_init(&names);
            for (size_t i = 0; i < nb; i++)
                kp_buf_printf(&names, "%s%s", i ? ", " : "", b[i].axis);
            report(cp, n->loc, "unknown matrix axis '%.*s' in '%s' (the axes are %s)",
                   (int)(end - d - 2), d + 2, n->text, names.data ? names.data : "none");
            kp_buf_free(&names);
            kp_buf_free(&out);
            n->type = HX_Y_BAD;
            return;
        }
        if (d == n->text && end[1] == '\0')
            whole = b[k].value;
        kp_buf_puts(&out, b[k].value->text);
        p = end + 1;
    }
    char *text = kp_buf_steal(&out);
    if (!text) {
        cp->oom = true;
        return;
    }
    free(n->text);
    n->text = text;
    n->len = strlen(text);
    if (whole) { /* `bandwidth: ${bw}` with bw 500000 stays a number */
        n->type = whole->type;
        n->boolean = whole->boolean;
        n->num = whole->num;
        n->is_int = whole->is_int;
        n->ival = whole->ival;
        n->quoted = whole->quoted;
    } else {
        n->quoted = true;
    }
}

typedef struct variant {
    char *label; /* "chrome-hls", or the variants item's name */
    binding *b;  /* matrix bindings, or NULL */
    size_t nb;
    const hx_ynode *over; /* variants: the item (its name is skipped), or NULL */
} variant;

static bool scalar_value(const hx_ynode *v)
{
    return v->type == HX_Y_STR || v->type == HX_Y_NUM || v->type == HX_Y_BOOL;
}

/* Checks matrix: and builds the combinations. Returns how many (0 when reported). */
static size_t expand_matrix(compose *cp, const hx_ypair *mx, variant **out)
{
    const hx_ynode *m = mx->val;
    *out = NULL;
    if (m->type != HX_Y_MAP || m->n == 0) {
        if (m->type != HX_Y_BAD)
            report(cp, m->loc,
                   "matrix: expected a mapping of axes to lists of values, such as "
                   "{platform: [chrome, safari]}");
        return 0;
    }
    size_t total = 1;
    bool ok = true;
    for (size_t i = 0; i < m->n; i++) {
        const hx_ynode *k = m->pairs[i].key, *v = m->pairs[i].val;
        if (!axis_name_ok(k->text)) {
            report(cp, k->loc,
                   "matrix: an axis name is letters, digits and '_' (not starting with a "
                   "digit), got '%s'",
                   k->text);
            ok = false;
        }
        if (v->type != HX_Y_SEQ || v->n == 0) {
            if (v->type != HX_Y_BAD)
                report(cp, v->loc, "matrix.%s: expected a non-empty list of values", k->text);
            ok = false;
            continue;
        }
        for (size_t j = 0; j < v->n; j++) {
            const hx_ynode *it = v->items[j];
            if (!scalar_value(it) || it->len == 0 || strlen(it->text) != it->len) {
                if (it->type != HX_Y_BAD)
                    report(cp, it->loc,
                           "matrix.%s[%zu]: expected a value (text, a number or true/false)",
                           k->text, j);
                ok = false;
                continue;
            }
            for (size_t q = 0; q < j; q++)
                if (v->items[q]->text && strcmp(v->items[q]->text, it->text) == 0) {
                    report(cp, it->loc, "matrix.%s[%zu]: '%s' is listed twice", k->text, j,
                           it->text);
                    ok = false;
                }
        }
        total *= v->n;
        if (total > MAX_VARIANTS) {
            report(cp, mx->key->loc, "matrix: more than %d variants", MAX_VARIANTS);
            return 0;
        }
    }
    if (!ok)
        return 0;
    variant *v = calloc(total, sizeof(*v));
    if (!v) {
        cp->oom = true;
        return 0;
    }
    for (size_t i = 0; i < total; i++) {
        v[i].b = calloc(m->n, sizeof(binding));
        v[i].nb = m->n;
        kp_buf label;
        kp_buf_init(&label);
        size_t rest = i;
        /* the last axis varies fastest: {a: [1, 2], b: [x, y]} gives 1-x, 1-y, 2-x, 2-y */
        size_t stride = total;
        for (size_t a = 0; a < m->n; a++) {
            const hx_ynode *vals = m->pairs[a].val;
            stride /= vals->n;
            const hx_ynode *val = vals->items[rest / stride];
            rest %= stride;
            if (v[i].b)
                v[i].b[a] = (binding){m->pairs[a].key->text, val};
            kp_buf_printf(&label, "%s%s", a ? "-" : "", val->text);
        }
        v[i].label = kp_buf_steal(&label);
        if (!v[i].b || !v[i].label)
            cp->oom = true;
    }
    *out = v;
    return total;
}

static size_t expand_variants(compose *cp, const hx_ypair *vp, variant **out)
{
    static const char *const keys[] = {"name",   "description", "tags",   "timeout", "backend",
                                       "player", "steps",       "expect", NULL};
    const hx_ynode *l = vp->val;
    *out = NULL;
    if (l->type != HX_Y_SEQ || l->n == 0) {
        if (l->type != HX_Y_BAD)
            report(cp, l->loc,
                   "variants: expected a non-empty list such as [{name: safari, player: "
                   "{platform: safari}}]");
        return 0;
    }
    if (l->n > MAX_VARIANTS) {
        report(cp, l->loc, "variants: more than %d variants", MAX_VARIANTS);
        return 0;
    }
    bool ok = true;
    for (size_t i = 0; i < l->n; i++) {
        const hx_ynode *it = l->items[i];
        if (it->type != HX_Y_MAP) {
            if (it->type != HX_Y_BAD)
                report(cp, it->loc, "variants[%zu]: expected a mapping with a name", i);
            ok = false;
            continue;
        }
        for (size_t k = 0; k < it->n; k++) {
            const hx_ynode *key = it->pairs[k].key;
            bool known = false;
            for (size_t q = 0; keys[q]; q++)
                known = known || strcmp(keys[q], key->text) == 0;
            if (!known) {
                report(cp, key->loc,
                       "unknown key '%s' in variants[%zu] (a variant takes name, description, "
                       "tags, timeout, backend, player, steps and expect)",
                       key->text, i);
                ok = false;
            }
        }
        const hx_ynode *name = hx_ymap_get(it, "name");
        if (!name) {
            report(cp, it->loc, "missing required key 'name' in variants[%zu]", i);
            ok = false;
        } else if (name->type != HX_Y_STR || name->len == 0 || strlen(name->text) != name->len) {
            if (name->type != HX_Y_BAD)
                report(cp, name->loc, "variants[%zu].name: expected non-empty text", i);
            ok = false;
        }
    }
    if (!ok)
        return 0;
    variant *v = calloc(l->n, sizeof(*v));
    if (!v) {
        cp->oom = true;
        return 0;
    }
    for (size_t i = 0; i < l->n; i++) {
        v[i].label = kp_strdup(hx_ymap_get(l->items[i], "name")->text);
        v[i].over = l->items[i];
        if (!v[i].label)
            cp->oom = true;
    }
    *out = v;
    return l->n;
}

/* Moves a finished message (already "file:line:col: ...") into d. */
static void diag_take(compose *cp, hx_diag *d, char *msg, hx_loc loc)
{
    char **m = realloc(d->msgs, (d->n + 1) * sizeof(*m));
    if (m)
        d->msgs = m;
    hx_loc *l = m ? realloc(d->locs, (d->n + 1) * sizeof(*l)) : NULL;
    if (l)
        d->locs = l;
    if (!m || !l) {
        cp->oom = true;
        free(msg);
        return;
    }
    d->msgs[d->n] = msg;
    d->locs[d->n++] = loc;
}

static bool diag_has(const hx_diag *d, size_t upto, const char *msg)
{
    for (size_t i = 0; i < upto; i++)
        if (strcmp(d->msgs[i], msg) == 0)
            return true;
    return false;
}

/* One variant's tree: a copy of doc with its substitutions, overrides and name. */
static hx_ynode *variant_tree(compose *cp, const hx_ynode *doc, const variant *v,
                              char *const *files, size_t n_files)
{
    hx_ynode *t = clone_remap(doc, cp->files, files, n_files);
    if (!t) {
        cp->oom = true;
        return NULL;
    }
    const hx_ynode *name0 = hx_ymap_get(doc, "name");
    bool templated = name0 && name0->type == HX_Y_STR && strstr(name0->text, "${");
    if (v->b)
        substitute(cp, t, v->b, v->nb);
    if (v->over) {
        hx_ynode *o = clone_remap(v->over, cp->files, files, n_files);
        hx_ypair nm;
        if (o && detach(o, "name", &nm))
            free_pair(&nm);
        t = o ? merge(t, o, false) : t;
        if (!o || !t) {
            cp->oom = true;
            return t;
        }
    }
    hx_ynode *name = (hx_ynode *)hx_ymap_get(t, "name");
    if (name && name->type == HX_Y_STR && !templated) {
        char *full = kp_asprintf("%s/%s", name->text, v->label);
        if (!full) {
            cp->oom = true;
        } else {
            free(name->text);
            name->text = full;
            name->len = strlen(full);
        }
    }
    return t;
}

static char **copy_files(compose *cp)
{
    if (!cp->n_files)
        return NULL;
    char **v = calloc(cp->n_files, sizeof(*v));
    for (size_t i = 0; v && i < cp->n_files; i++)
        if (!(v[i] = kp_strdup(cp->files[i])))
            cp->oom = true;
    if (!v)
        cp->oom = true;
    return v;
}

static void free_files(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

void hx_scenarios_free(hx_scenario **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        hx_scenario_free(v[i]);
    free(v);
}

/* Checks the composed doc as one scenario, or as one per variant. */
static int build(compose *cp, const char *name, hx_ynode *doc, hx_scenario ***out, size_t *n_out)
{
    hx_ypair mx = {0}, vs = {0};
    bool has_m = doc->type == HX_Y_MAP && detach(doc, "matrix", &mx);
    bool has_v = doc->type == HX_Y_MAP && detach(doc, "variants", &vs);
    variant *vars = NULL;
    size_t nv = 1;
    const hx_ypair *where = has_m ? &mx : has_v ? &vs : NULL;
    if (has_m && has_v) {
        const hx_ynode *later =
            mx.key->loc.line > vs.key->loc.line ? mx.key : vs.key; /* the second one given */
        report(cp, later->loc, "give matrix or variants, not both");
        nv = 0;
    } else if (has_m) {
        nv = expand_matrix(cp, &mx, &vars);
    } else if (has_v) {
        nv = expand_variants(cp, &vs, &vars);
    }
    hx_scenario **list = nv ? calloc(nv, sizeof(*list)) : NULL;
    if (nv && !list)
        cp->oom = true;
    size_t made = 0;
    for (size_t i = 0; list && i < nv && !cp->oom; i++) {
        char **files = copy_files(cp);
        hx_ynode *t = vars ? variant_tree(cp, doc, &vars[i], files, cp->n_files)
                           : clone_remap(doc, cp->files, files, cp->n_files);
        if (!t) {
            cp->oom = true;
            free_files(files, cp->n_files);
            break;
        }
        hx_diag local = {0};
        hx_diag *d = i == 0 ? cp->diag : cp->diag ? &local : NULL;
        hx_scenario *s = NULL;
        int rc = hx_scenario_check_tree(name, t, cp->n_errors, d, &s);
        hx_ynode_free(t);
        for (size_t k = 0; k < local.n; k++) { /* a problem common to every variant: once */
            if (diag_has(cp->diag, cp->diag->n, local.msgs[k]))
                continue;
            diag_take(cp, cp->diag, local.msgs[k], local.locs[k]);
            local.msgs[k] = NULL;
        }
        hx_diag_free(&local);
        if (rc == KP_ENOMEM)
            cp->oom = true;
        if (rc != KP_OK) {
            cp->n_errors += rc == KP_EPARSE;
            free_files(files, cp->n_files);
            continue;
        }
        s->includes = files;
        s->n_includes = cp->n_files;
        if (vars) {
            s->variant = kp_strdup(vars[i].label);
            if (!s->variant)
                cp->oom = true;
        }
        list[made++] = s;
    }
    /* every variant its own test case: names must differ */
    for (size_t i = 0; where && !cp->oom && i < made; i++)
        for (size_t k = 0; k < i; k++)
            if (strcmp(list[i]->name, list[k]->name) == 0) {
                if (has_m)
                    report(cp, where->key->loc,
                           "matrix: variants '%s' and '%s' are both named '%s' (each variant "
                           "needs its own name: use every axis in a ${...} name, or none)",
                           list[k]->variant, list[i]->variant, list[i]->name);
                else
                    report(cp, where->key->loc,
                           "variants: the variants %zu and %zu are both named '%s' (give each "
                           "its own name)",
                           k + 1, i + 1, list[i]->name);
                break;
            }
    for (size_t i = 0; vars && i < nv; i++) {
        free(vars[i].label);
        free(vars[i].b);
    }
    free(vars);
    if (has_m)
        free_pair(&mx);
    if (has_v)
        free_pair(&vs);
    if (cp->oom || cp->n_errors || made != nv) {
        hx_scenarios_free(list, made);
        return cp->oom ? KP_ENOMEM : KP_EPARSE;
    }
    *out = list;
    *n_out = made;
    return KP_OK;
}

static int load(const char *name, const char *data, size_t len, bool from_file, hx_scenario ***out,
                size_t *n, hx_diag *diag)
{
    *out = NULL;
    *n = 0;
    if (!name)
        name = "<input>";
    compose cp = {.file = name, .diag = diag, .allow_include = from_file};
    hx_diag scratch = {0};
    if (!cp.diag)
        cp.diag = &scratch; /* the variants' messages are compared even when not wanted */
    hx_ynode *root = NULL;
    size_t n_yaml = 0;
    int rc = hx_yaml_parse(name, data ? data : "", data ? len : 0, &root, cp.diag, &n_yaml);
    if (rc < 0) {
        hx_diag_free(&scratch);
        return rc;
    }
    cp.n_errors = n_yaml;
    char real[PATH_MAX];
    if (from_file && realpath(name, real)) {
        cp.stack[0].real = kp_strdup(real);
        cp.stack[0].shown = name;
        cp.depth = cp.stack[0].real ? 1 : 0;
    }
    root = resolve_includes(&cp, root, name);
    if (root && !cp.oom)
        rc = build(&cp, name, root, out, n);
    else
        rc = KP_ENOMEM;
    hx_ynode_free(root);
    free(cp.stack[0].real);
    free_files(cp.files, cp.n_files);
    hx_diag_free(&scratch);
    return rc;
}

int hx_scenario_load_variants_buffer(const char *name, const char *data, size_t len,
                                     hx_scenario ***out, size_t *n, hx_diag *diag)
{
    return load(name, data, len, false, out, n, diag);
}

int hx_scenario_load_variants(const char *path, hx_scenario ***out, size_t *n, hx_diag *diag)
{
    *out = NULL;
    *n = 0;
    kp_buf b;
    kp_buf_init(&b);
    int rc = kp_read_file(path, &b);
    if (rc < 0) {
        hx_diag_addf(diag, path, (hx_loc){0, 0}, "cannot read the file: %s", kp_strerror(rc));
        kp_buf_free(&b);
        return rc;
    }
    rc = load(path, b.data, b.len, true, out, n, diag);
    kp_buf_free(&b);
    return rc;
}

static int just_one(const char *name, int rc, hx_scenario **v, size_t n, hx_scenario **out,
                    hx_diag *diag)
{
    if (rc != KP_OK)
        return rc;
    if (n != 1) {
        hx_diag_addf(diag, name, (hx_loc){0, 0},
                     "the file gives %zu variants (matrix/variants): this command takes one "
                     "scenario",
                     n);
        hx_scenarios_free(v, n);
        return KP_EPARSE;
    }
    *out = v[0];
    free(v);
    return KP_OK;
}

int hx_scenario_load(const char *path, hx_scenario **out, hx_diag *diag)
{
    hx_scenario **v = NULL;
    size_t n = 0;
    *out = NULL;
    int rc = hx_scenario_load_variants(path, &v, &n, diag);
    return just_one(path, rc, v, n, out, diag);
}

int hx_scenario_load_buffer(const char *name, const char *data, size_t len, hx_scenario **out,
                            hx_diag *diag)
{
    hx_scenario **v = NULL;
    size_t n = 0;
    *out = NULL;
    int rc = hx_scenario_load_variants_buffer(name, data, len, &v, &n, diag);
    return just_one(name ? name : "<input>", rc, v, n, out, diag);
}
