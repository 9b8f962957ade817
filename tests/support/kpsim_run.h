/* kpsim_run.h: running the real kpsim binary ($KPSIM_BIN) from a test, as a user does. Failures
 * fail the running cmocka test. */
#ifndef TEST_KPSIM_RUN_H
#define TEST_KPSIM_RUN_H

#include "kp/buf.h"

/* $KPSIM_BIN (borrowed). */
const char *test_kpsim_bin(void);

/* Runs cmd with the shell; its stdout in out (reset first, NUL-terminated). Returns the exit
 * code, or -1 when it did not exit. */
int test_run(const char *cmd, kp_buf *out);

#endif
