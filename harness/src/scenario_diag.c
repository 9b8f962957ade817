/* scenario_diag.c: hx_diag, the list of "file:line:col: message" diagnostics of one file.
 * The hx_diag owns its strings and locations; hx_diag_free releases them.
 */
#include "hx/scenario.h"
#include "kp/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void hx_diag_free(hx_diag *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++)
        free(d->msgs[i]);
    free(d->msgs);
    free(d->locs);
    d->msgs = NULL;
    d->locs = NULL;
    d->n = 0;
}

void hx_diag_addf(hx_diag *d, const char *file, hx_loc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hx_diag_vaddf(d, file, loc, fmt, ap);
    va_end(ap);
}

int hx_diag_vaddf(hx_diag *d, const char *file, hx_loc loc, const char *fmt, va_list ap)
{
    if (!d)
        return KP_OK;
    char *msg = NULL;
    int n = vasprintf(&msg, fmt, ap);
    if (n < 0)
        return KP_ENOMEM;
    char *line = NULL;
    if (!file)
        file = "<input>";
    if (loc.line > 0)
        n = asprintf(&line, "%s:%d:%d: %s", file, loc.line, loc.col, msg);
    else
        n = asprintf(&line, "%s: %s", file, msg);
    free(msg);
    if (n < 0)
        return KP_ENOMEM;
    char **msgs = realloc(d->msgs, (d->n + 1) * sizeof(*msgs));
    if (!msgs) {
        free(line);
        return KP_ENOMEM;
    }
    d->msgs = msgs;
    hx_loc *locs = realloc(d->locs, (d->n + 1) * sizeof(*locs));
    if (!locs) {
        free(line);
        return KP_ENOMEM;
    }
    d->locs = locs;
    d->msgs[d->n] = line;
    d->locs[d->n] = loc;
    d->n++;
    return KP_OK;
}
