/* yaml_tree.c: builds the located, typed node tree of yaml_tree.h from libyaml's events.
 * The builder keeps an explicit stack (no recursion while parsing) and caps nesting, so any
 * input, however hostile, gives either a tree or diagnostics. The caller owns the tree.
 */
#include "yaml_tree.h"

#include "kp/err.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define HX_YAML_MAX_DEPTH 64

typedef struct frame {
    hx_ynode *node; /* the open mapping or sequence */
    hx_ynode *key;  /* mapping: key waiting for its value (not yet in the tree) */
    hx_ynode *val;  /* mapping: value being built (not yet in the tree) */
} frame;

typedef struct builder {
    const char *file;
    const char *data;
    size_t len;
    hx_diag *diag;
    size_t n_errors;
    hx_ynode *root;
    frame stack[HX_YAML_MAX_DEPTH];
    int depth;
} builder;

static void report(builder *b, hx_loc loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void report(builder *b, hx_loc loc, const char *fmt, ...)
{
    b->n_errors++;
    va_list ap;
    va_start(ap, fmt);
    hx_diag_vaddf(b->diag, b->file, loc, fmt, ap);
    va_end(ap);
}

static hx_loc mark_loc(yaml_mark_t m)
{
    hx_loc l = {(int)m.line + 1, (int)m.column + 1};
    return l;
}

void hx_ynode_free(hx_ynode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++) {
        if (n->type == HX_Y_MAP) {
            hx_ynode_free(n->pairs[i].key);
            hx_ynode_free(n->pairs[i].val);
        } else if (n->type == HX_Y_SEQ) {
            hx_ynode_free(n->items[i]);
        }
    }
    free(n->pairs);
    free(n->items);
    free(n->text);
    free(n);
}

const hx_ynode *hx_ymap_key(const hx_ynode *m, const char *key)
{
    if (!m || m->type != HX_Y_MAP)
        return NULL;
    size_t len = strlen(key);
    for (size_t i = 0; i < m->n; i++) {
        const hx_ynode *k = m->pairs[i].key;
        if (k->len == len && memcmp(k->text, key, len) == 0)
            return k;
    }
    return NULL;
}

const hx_ynode *hx_ymap_get(const hx_ynode *m, const char *key)
{
    if (!m || m->type != HX_Y_MAP)
        return NULL;
    size_t len = strlen(key);
    for (size_t i = 0; i < m->n; i++) {
        const hx_ynode *k = m->pairs[i].key;
        if (k->len == len && memcmp(k->text, key, len) == 0)
            return m->pairs[i].val;
    }
    return NULL;
}

/* YAML 1.2 core schema numbers: [-+]? ( .digits | digits [. digits*] ) ([eE] [-+]? digits)? */
static bool is_number(const char *s, bool *is_int)
{
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    size_t int_digits = 0, frac_digits = 0;
    while (*p >= '0' && *p <= '9') {
        p++;
        int_digits++;
    }
    bool dot = false;
    if (*p == '.') {
        dot = true;
        p++;
        while (*p >= '0' && *p <= '9') {
            p++;
            frac_digits++;
        }
    }
    if (int_digits == 0 && frac_digits == 0)
        return false;
    bool exp = false;
    if (*p == 'e' || *p == 'E') {
        exp = true;
        p++;
        if (*p == '-' || *p == '+')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    *is_int = !dot && !exp;
    return *p == '\0';
}

static void type_plain_scalar(hx_ynode *n)
{
    const char *t = n->text;
    if (n->len != strlen(t)) {
        n->type = HX_Y_STR;
    } else if (n->len == 0 || strcmp(t, "~") == 0 || strcmp(t, "null") == 0) {
        n->type = HX_Y_NULL;
    } else if (strcmp(t, "true") == 0 || strcmp(t, "false") == 0) {
        n->type = HX_Y_BOOL;
        n->boolean = t[0] == 't';
    } else {
        bool is_int = false;
        n->type = HX_Y_STR;
        if (!is_number(t, &is_int))
            return;
        errno = 0;
        double d = strtod(t, NULL);
        if (errno == ERANGE && isinf(d))
            return; /* 1e999: stays a string, so the checks say so */
        n->type = HX_Y_NUM;
        n->num = d;
        if (is_int) {
            errno = 0;
            long long v = strtoll(t, NULL, 10);
            if (errno != ERANGE) {
                n->is_int = true;
                n->ival = v;
            }
        }
    }
}

static const char *short_tag(const char *tag)
{
    static const char core[] = "tag:yaml.org,2002:";
    return strncmp(tag, core, sizeof(core) - 1) == 0 ? tag + sizeof(core) - 1 : tag;
}

static void report_props(builder *b, hx_loc loc, const yaml_char_t *anchor, const yaml_char_t *tag,
                         bool implicit_tag)
{
    if (anchor)
        report(b, loc,
               "YAML anchors (&%s) are not supported: write the value out in full where it is "
               "needed",
               (const char *)anchor);
    if (tag && !implicit_tag) {
        const char *t = (const char *)tag;
        const char *s = short_tag(t);
        report(b, loc, "YAML tags (%s%s) are not supported: the loader types values itself",
               s == t ? "" : "!!", s);
    }
}

static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return KP_OK;
    size_t c = *cap ? *cap * 2 : 4;
    void *p = realloc(*arr, c * elem);
    if (!p)
        return KP_ENOMEM;
    *arr = p;
    *cap = c;
    return KP_OK;
}

static const char *kind_name(const hx_ynode *n)
{
    return n->type == HX_Y_MAP ? "a mapping" : "a list";
}

/* Both key and value of the top mapping frame are complete: add the pair or drop it. */
static int complete_pair(builder *b, frame *f)
{
    hx_ynode *k = f->key, *v = f->val;
    f->key = NULL;
    f->val = NULL;
    if (k->type == HX_Y_MAP || k->type == HX_Y_SEQ || k->type == HX_Y_BAD) {
        if (k->type != HX_Y_BAD)
            report(b, hx_yloc_pub(k->loc), "a mapping key must be plain text, not %s",
                   kind_name(k));
        hx_ynode_free(k);
        hx_ynode_free(v);
        return KP_OK;
    }
    hx_ynode *m = f->node;
    for (size_t i = 0; i < m->n; i++) {
        const hx_ynode *o = m->pairs[i].key;
        if (o->len == k->len && memcmp(o->text, k->text, k->len) == 0) {
            report(b, hx_yloc_pub(k->loc), "duplicate key '%s' (first given at line %d, column %d)",
                   k->text, o->loc.line, o->loc.col);
            hx_ynode_free(k);
            hx_ynode_free(v);
            return KP_OK;
        }
    }
    if (grow((void **)&m->pairs, &m->cap, m->n, sizeof(*m->pairs)) < 0) {
        hx_ynode_free(k);
        hx_ynode_free(v);
        return KP_ENOMEM;
    }
    m->pairs[m->n].key = k;
    m->pairs[m->n].val = v;
    m->n++;
    return KP_OK;
}

/* Hands a new node to its parent. `complete` is false for a mapping or sequence that is
 * about to be filled (its pair, if any, is completed when it ends). Takes ownership. */
static int attach(builder *b, hx_ynode *n, bool complete)
{
    if (b->depth == 0) {
        b->root = n;
        return KP_OK;
    }
    frame *f = &b->stack[b->depth - 1];
    hx_ynode *p = f->node;
    if (p->type == HX_Y_SEQ) {
        if (grow((void **)&p->items, &p->cap, p->n, sizeof(*p->items)) < 0) {
            hx_ynode_free(n);
            return KP_ENOMEM;
        }
        p->items[p->n++] = n;
        return KP_OK;
    }
    if (!f->key) {
        f->key = n;
        return KP_OK;
    }
    f->val = n;
    return complete ? complete_pair(b, f) : KP_OK;
}

/* A mapping or sequence ended: pop it and, if it was a mapping value, complete its pair. */
static int close_container(builder *b)
{
    b->depth--;
    if (b->depth == 0)
        return KP_OK;
    frame *f = &b->stack[b->depth - 1];
    if (f->node->type == HX_Y_MAP && f->val)
        return complete_pair(b, f);
    return KP_OK;
}

static hx_ynode *node_new(hx_ytype type, yaml_mark_t m)
{
    hx_ynode *n = calloc(1, sizeof(*n));
    if (n) {
        n->type = type;
        hx_loc l = mark_loc(m);
        n->loc = (hx_yloc){l.line, l.col, NULL};
    }
    return n;
}

static int on_scalar(builder *b, const yaml_event_t *e)
{
    hx_ynode *n = node_new(HX_Y_STR, e->start_mark);
    if (!n)
        return KP_ENOMEM;
    size_t len = e->data.scalar.length;
    n->text = malloc(len + 1);
    if (!n->text) {
        free(n);
        return KP_ENOMEM;
    }
    memcpy(n->text, e->data.scalar.value, len);
    n->text[len] = '\0';
    n->len = len;
    n->quoted = e->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
    bool tagged = e->data.scalar.tag &&
                  !(n->quoted ? e->data.scalar.quoted_implicit : e->data.scalar.plain_implicit);
    report_props(b, hx_yloc_pub(n->loc), e->data.scalar.anchor, e->data.scalar.tag,
                 n->quoted ? e->data.scalar.quoted_implicit : e->data.scalar.plain_implicit);
    if (tagged)
        n->type = HX_Y_BAD;
    else if (!n->quoted)
        type_plain_scalar(n);
    return attach(b, n, true);
}

static int on_container(builder *b, const yaml_event_t *e, hx_ytype type)
{
    hx_loc loc = mark_loc(e->start_mark);
    if (b->depth == HX_YAML_MAX_DEPTH) {
        report(b, loc, "nesting deeper than %d levels", HX_YAML_MAX_DEPTH);
        return KP_EPARSE;
    }
    hx_ynode *n = node_new(type, e->start_mark);
    if (!n)
        return KP_ENOMEM;
    if (type == HX_Y_MAP)
        report_props(b, loc, e->data.mapping_start.anchor, e->data.mapping_start.tag,
                     e->data.mapping_start.implicit);
    else
        report_props(b, loc, e->data.sequence_start.anchor, e->data.sequence_start.tag,
                     e->data.sequence_start.implicit);
    int rc = attach(b, n, false);
    if (rc < 0)
        return rc;
    frame *f = &b->stack[b->depth++];
    f->node = n;
    f->key = NULL;
    f->val = NULL;
    return KP_OK;
}

static int on_alias(builder *b, const yaml_event_t *e)
{
    hx_ynode *n = node_new(HX_Y_BAD, e->start_mark);
    if (!n)
        return KP_ENOMEM;
    report(b, hx_yloc_pub(n->loc),
           "YAML aliases (*%s) are not supported: write the value out in full",
           (const char *)e->data.alias.anchor);
    return attach(b, n, true);
}

/* libyaml gives reader errors (bad encoding) as a byte offset only. */
static hx_loc offset_loc(const builder *b, size_t off)
{
    hx_loc l = {1, 1};
    for (size_t i = 0; i < off && i < b->len; i++) {
        if (b->data[i] == '\n') {
            l.line++;
            l.col = 1;
        } else {
            l.col++;
        }
    }
    return l;
}

static int syntax_error(builder *b, const yaml_parser_t *p)
{
    if (p->error == YAML_MEMORY_ERROR)
        return KP_ENOMEM;
    const char *problem = p->problem ? p->problem : "unknown problem";
    if (p->error == YAML_READER_ERROR) {
        report(b, offset_loc(b, p->problem_offset), "YAML syntax error: %s", problem);
    } else if (p->context) {
        report(b, mark_loc(p->problem_mark), "YAML syntax error: %s (%s at line %d, column %d)",
               problem, p->context, (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
    } else {
        report(b, mark_loc(p->problem_mark), "YAML syntax error: %s", problem);
    }
    return KP_EPARSE;
}

static void discard_pending(builder *b)
{
    for (int i = 0; i < b->depth; i++) {
        /* a pending value may be a container deeper in the stack: free it only here */
        hx_ynode_free(b->stack[i].key);
        hx_ynode_free(b->stack[i].val);
    }
    b->depth = 0;
    hx_ynode_free(b->root);
    b->root = NULL;
}

static int run(builder *b, yaml_parser_t *p)
{
    int docs = 0;
    for (;;) {
        yaml_event_t e;
        if (!yaml_parser_parse(p, &e))
            return syntax_error(b, p);
        int rc = KP_OK;
        bool done = false;
        switch (e.type) {
        case YAML_DOCUMENT_START_EVENT:
            if (docs++ > 0) {
                report(b, mark_loc(e.start_mark),
                       "a second YAML document: a scenario file holds exactly one");
                done = true;
            }
            break;
        case YAML_SCALAR_EVENT:
            rc = on_scalar(b, &e);
            break;
        case YAML_ALIAS_EVENT:
            rc = on_alias(b, &e);
            break;
        case YAML_MAPPING_START_EVENT:
            rc = on_container(b, &e, HX_Y_MAP);
            break;
        case YAML_SEQUENCE_START_EVENT:
            rc = on_container(b, &e, HX_Y_SEQ);
            break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            rc = close_container(b);
            break;
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        default:
            break;
        }
        yaml_event_delete(&e);
        if (rc < 0)
            return rc;
        if (done)
            return KP_OK;
    }
}

int hx_yaml_parse(const char *file, const char *data, size_t len, hx_ynode **out, hx_diag *diag,
                  size_t *n_errors)
{
    *out = NULL;
    builder *b = calloc(1, sizeof(*b));
    if (!b)
        return KP_ENOMEM;
    b->file = file;
    b->data = data;
    b->len = len;
    b->diag = diag;

    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        free(b);
        return KP_ENOMEM;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)data, len);
    int rc = run(b, &p);
    yaml_parser_delete(&p);

    if (rc == KP_OK && (!b->root || (b->root->type == HX_Y_NULL && b->root->len == 0))) {
        hx_loc first = {1, 1};
        report(b, first, "the file is empty: a scenario needs at least 'name' and 'steps'");
        rc = KP_EPARSE;
    }
    if (rc < 0)
        discard_pending(b);
    else
        *out = b->root;
    if (n_errors)
        *n_errors = b->n_errors;
    free(b);
    return rc;
}
