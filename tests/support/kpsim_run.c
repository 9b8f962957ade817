/* kpsim_run.c: see kpsim_run.h. */
#include "kpsim_run.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

const char *test_kpsim_bin(void)
{
    const char *bin = getenv("KPSIM_BIN");
    assert_non_null(bin);
    return bin;
}

int test_run(const char *cmd, kp_buf *out)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char chunk[4096];
    size_t n;
    kp_buf_reset(out);
    while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
        kp_buf_append(out, chunk, n);
    int st = pclose(p);
    kp_buf_putc(out, '\0');
    out->len--;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
