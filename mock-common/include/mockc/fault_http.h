/* fault_http.h: delivering a fault rule's reply over libmicrohttpd, shared by the mock
 * back-end and the mock license server.
 *
 * kp/fault.h decides which request goes wrong; mockc_fault_answer() answers it: a status, a
 * broken or truncated body, a reset or closed connection, random bytes, or the normal answer
 * late, trickling or never. In virtual-time mode (kpsim run) nothing sleeps: the normal answer
 * goes out at once with a KP_FAULT_HDR_* header that the player's network (core/src/net.c)
 * turns into virtual time. In real-time mode (kpsim serve, a real browser) the server really
 * waits, in slices, giving up as soon as *stopping is set (the server is stopping).
 */
#ifndef MOCKC_FAULT_HTTP_H
#define MOCKC_FAULT_HTTP_H

#include "kp/fault.h"

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* The answer the server would give without the fault. */
typedef struct mockc_answer {
    int status;
    const char *content_type; /* may be NULL */
    const char *body;
    size_t len;
    const char *path; /* the request's path (picks the malformed body's kind) */
    /* adds the server's own headers (CORS, session ...) to a response; may be NULL */
    void (*add_headers)(struct MHD_Response *resp, void *ud);
    void *ud;
} mockc_answer;

/* What was sent, for the journal. */
typedef struct mockc_sent {
    int status;   /* 0: no HTTP answer */
    size_t bytes; /* body bytes sent */
} mockc_sent;

/* Answers the request as `a` says (KP_FAULT_API_ERROR: the answer as given, the server has
 * already put the exception in it). Returns what the access handler returns. */
enum MHD_Result mockc_fault_answer(struct MHD_Connection *c, const kp_fault_action *a,
                                   const mockc_answer *orig, bool real_time,
                                   const atomic_bool *stopping, mockc_sent *sent);

#endif
