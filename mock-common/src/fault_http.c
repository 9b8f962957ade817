/* fault_http.c: a fault rule's reply over libmicrohttpd (mockc/fault_http.h). */
#include "mockc/fault_http.h"

#include "kp/buf.h"
#include "kp/err.h"

#include <errno.h>
#include <linux/sockios.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

/* Sleeps `us` microseconds in slices; false when the server started stopping meanwhile. */
static bool nap(long long us, const atomic_bool *stopping)
{
    while (us > 0) {
        if (stopping && atomic_load(stopping))
            return false;
        long long slice = us < 20000 ? us : 20000;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)(slice * 1000)};
        nanosleep(&ts, NULL);
        us -= slice;
    }
    return !(stopping && atomic_load(stopping));
}

static int conn_fd(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    return ci ? ci->connect_fd : -1;
}

static enum MHD_Result send_buffer(struct MHD_Connection *c, int status, const char *type,
                                   const void *data, size_t len, const mockc_answer *o,
                                   const char *hdr, const char *hdr_value)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    if (type)
        MHD_add_response_header(resp, "Content-Type", type);
    if (o->add_headers)
        o->add_headers(resp, o->ud);
    if (hdr)
        MHD_add_response_header(resp, hdr, hdr_value);
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* A body served by a callback: truncated (stops with an error after `limit` bytes while the
 * Content-Length promised `len`) or dribbled (chunks of `step` bytes, `every_us` apart). */
typedef struct feed {
    char *data;
    size_t len, limit, step;
    long long every_us;
    const atomic_bool *stopping;
} feed;

static ssize_t feed_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    feed *f = cls;
    if (pos >= f->limit)
        return f->limit < f->len ? MHD_CONTENT_READER_END_WITH_ERROR
                                 : MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = f->limit - (size_t)pos;
    if (n > max)
        n = max;
    if (f->step) {
        if (n > f->step)
            n = f->step;
        if (pos > 0 && !nap(f->every_us, f->stopping))
            return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    memcpy(buf, f->data + pos, n);
    return (ssize_t)n;
}

static void feed_free(void *cls)
{
    feed *f = cls;
    free(f->data);
    free(f);
}

static enum MHD_Result send_feed(struct MHD_Connection *c, int status, const mockc_answer *o,
                                 size_t promised, size_t limit, size_t step, long long every_us,
                                 const atomic_bool *stopping)
{
    feed *f = calloc(1, sizeof(*f));
    if (!f)
        return MHD_NO;
    f->data = malloc(promised ? promised : 1);
    if (!f->data) {
        free(f);
        return MHD_NO;
    }
    /* the promised bytes beyond the real body (a truncate longer than it) are never sent */
    memset(f->data, 0, promised);
    memcpy(f->data, o->body, o->len < promised ? o->len : promised);
    f->len = promised;
    f->limit = limit;
    f->step = step;
    f->every_us = every_us;
    f->stopping = stopping;
    struct MHD_Response *resp = MHD_create_response_from_callback(promised, step ? step : 32 * 1024,
                                                                  feed_read, f, feed_free);
    if (!resp) {
        feed_free(f);
        return MHD_NO;
    }
    if (o->content_type)
        MHD_add_response_header(resp, "Content-Type", o->content_type);
    if (o->add_headers)
        o->add_headers(resp, o->ud);
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* The status line and headers the normal answer would have (with the server's own headers),
 * as text. */
static enum MHD_Result add_header_text(void *cls, enum MHD_ValueKind kind, const char *key,
                                       const char *value)
{
    (void)kind;
    kp_buf_printf(cls, "%s: %s\r\n", key, value ? value : "");
    return MHD_YES;
}

/* For reset {after: BYTES}: writes the normal answer's head (status, headers, the whole
 * Content-Length) and its first n body bytes straight to the socket, then waits (bounded)
 * until the kernel has handed every byte to the peer, so that the reset that follows does
 * not discard them. libmicrohttpd has sent nothing on this connection yet. */
static void send_head_and_body(struct MHD_Connection *c, int fd, const mockc_answer *o, size_t n,
                               const atomic_bool *stopping)
{
    (void)c;
    kp_buf head;
    kp_buf_init(&head);
    kp_buf_printf(&head, "HTTP/1.1 %d %s\r\n", o->status,
                  MHD_get_reason_phrase_for((unsigned)o->status));
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (resp) {
        if (o->content_type)
            MHD_add_response_header(resp, "Content-Type", o->content_type);
        if (o->add_headers)
            o->add_headers(resp, o->ud);
        MHD_get_response_headers(resp, add_header_text, &head);
        MHD_destroy_response(resp);
    }
    kp_buf_printf(&head, "Content-Length: %zu\r\n\r\n", o->len);
    kp_buf_append(&head, o->body, n);
    size_t off = 0;
    for (int spins = 0; off < head.len && spins < 2000; spins++) {
        ssize_t w = send(fd, head.data + off, head.len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0)
            off += (size_t)w;
        else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            break;
        else if (!nap(1000, stopping))
            break;
    }
    /* the bytes still queued in the kernel (not yet acknowledged by the peer) */
    for (int spins = 0; spins < 2000; spins++) {
        int queued = 0;
        if (ioctl(fd, SIOCOUTQ, &queued) != 0 || queued <= 0 || !nap(1000, stopping))
            break;
    }
    kp_buf_free(&head);
}

enum MHD_Result mockc_fault_answer(struct MHD_Connection *c, const kp_fault_action *a,
                                   const mockc_answer *o, bool real_time,
                                   const atomic_bool *stopping, mockc_sent *sent)
{
    sent->status = 0;
    sent->bytes = 0;
    char value[64];
    switch (a->kind) {
    case KP_FAULT_STATUS: {
        char text[64];
        const char *body = a->body;
        size_t len = a->body_len;
        if (!body) {
            snprintf(text, sizeof(text), "%d kpsim fault\n", a->status);
            body = text;
            len = strlen(text);
        }
        const char *type = len && (body[0] == '{' || body[0] == '[') ? "application/json"
                           : len && body[0] == '<'                   ? "text/xml"
                                                                     : "text/plain";
        sent->status = a->status;
        sent->bytes = len;
        return send_buffer(c, a->status, type, body, len, o, NULL, NULL);
    }
    case KP_FAULT_API_ERROR:
        sent->status = o->status;
        sent->bytes = o->len;
        return send_buffer(c, o->status, o->content_type, o->body, o->len, o, NULL, NULL);
    case KP_FAULT_DELAY:
        sent->status = o->status;
        sent->bytes = o->len;
        if (real_time) {
            if (!nap(a->delay_us, stopping))
                return MHD_NO;
            return send_buffer(c, o->status, o->content_type, o->body, o->len, o, NULL, NULL);
        }
        snprintf(value, sizeof(value), "%lld", a->delay_us);
        return send_buffer(c, o->status, o->content_type, o->body, o->len, o, KP_FAULT_HDR_DELAY,
                           value);
    case KP_FAULT_DRIBBLE:
        sent->status = o->status;
        sent->bytes = o->len;
        if (real_time)
            return send_feed(c, o->status, o, o->len, o->len, a->bytes, a->every_us, stopping);
        snprintf(value, sizeof(value), "%zu/%lld", a->bytes, a->every_us);
        return send_buffer(c, o->status, o->content_type, o->body, o->len, o, KP_FAULT_HDR_DRIBBLE,
                           value);
    case KP_FAULT_TIMEOUT:
        if (real_time) {
            /* never answer: hold the connection until the client gives up (then libmicrohttpd's
             * connection timeout drops it) or the server stops */
            nap(600LL * 1000000, stopping);
            return MHD_NO;
        }
        sent->status = o->status;
        return send_buffer(c, o->status, o->content_type, o->body, o->len, o, KP_FAULT_HDR_TIMEOUT,
                           "1");
    case KP_FAULT_RESET: {
        int fd = conn_fd(c);
        if (fd >= 0 && a->mid_body) {
            size_t n = a->bytes < o->len ? a->bytes : o->len;
            sent->status = o->status;
            sent->bytes = n;
            send_head_and_body(c, fd, o, n, stopping);
        }
        if (fd >= 0) {
            /* an abortive close: the peer gets a RST, not a FIN. Disconnecting the socket
             * (connect to AF_UNSPEC) resets the connection at once on Linux; the descriptor
             * stays libmicrohttpd's to close. */
            struct linger lg = {.l_onoff = 1, .l_linger = 0};
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
            struct sockaddr unspec = {.sa_family = AF_UNSPEC};
            connect(fd, &unspec, sizeof(unspec));
        }
        return MHD_NO;
    }
    case KP_FAULT_EMPTY:
        return MHD_NO;
    case KP_FAULT_TRUNCATE: {
        size_t limit = a->bytes < o->len ? a->bytes : o->len;
        size_t promised = o->len > a->bytes ? o->len : a->bytes + 1;
        sent->status = o->status;
        sent->bytes = limit;
        return send_feed(c, o->status, o, promised, limit, 0, 0, stopping);
    }
    case KP_FAULT_MALFORMED: {
        kp_buf b;
        kp_buf_init(&b);
        if (kp_fault_malformed_body(o->content_type, o->path, o->len, a->seed, &b) != KP_OK) {
            kp_buf_free(&b);
            return MHD_NO;
        }
        int status = o->status >= 200 && o->status < 300 ? o->status : 200;
        sent->status = status;
        sent->bytes = b.len;
        enum MHD_Result rc = send_buffer(c, status, o->content_type, b.data, b.len, o, NULL, NULL);
        kp_buf_free(&b);
        return rc;
    }
    case KP_FAULT_RANDOM_THEN_CLOSE: {
        uint8_t junk[256];
        kp_fault_random_bytes(a->seed, junk, sizeof(junk));
        junk[0] = (uint8_t)(junk[0] == 'H' ? 'J' : junk[0]); /* never "HTTP/" */
        int fd = conn_fd(c);
        if (fd >= 0) {
            ssize_t w = send(fd, junk, sizeof(junk), MSG_NOSIGNAL);
            sent->bytes = w > 0 ? (size_t)w : 0;
            shutdown(fd, SHUT_WR);
        }
        return MHD_NO;
    }
    default:
        return MHD_NO;
    }
}
