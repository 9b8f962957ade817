/* net.c: libcurl transfers with virtual completion times (see net.h). */
#include "kp/net.h"

#include "kp/err.h"
#include "kp/fault.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct pending {
    struct pending *next;
    uint64_t id;
    kp_task_id task;
    kp_net *net;
    kp_http_fn cb;
    void *ud;
    kp_http_response resp;
    /* streamed answers */
    void (*on_data)(void *ud, const kp_http_response *resp, size_t received);
    size_t data_step, data_next; /* the next announcement is at data_next bytes */
    kp_task_id data_task;
} pending;

struct kp_net {
    kp_sched *sched;
    kp_log *log;
    kp_net_profile profile;
    CURL *curl;
    kp_time link_free;
    uint64_t next_id;
    pending *pending;
    kp_net_stats stats;
};

kp_net *kp_net_new(kp_sched *sched, const kp_net_profile *profile, kp_log *log)
{
    kp_net *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->curl = curl_easy_init();
    if (!n->curl) {
        free(n);
        return NULL;
    }
    n->sched = sched;
    n->log = log;
    n->next_id = 1;
    kp_net_set_profile(n, profile);
    return n;
}

static void response_clear(kp_http_response *r)
{
    free(r->error_text);
    kp_buf_free(&r->body);
    for (size_t i = 0; i < r->n_headers; i++)
        free(r->headers[i]);
    free(r->headers);
    free(r->url);
    free(r->effective_url);
    memset(r, 0, sizeof(*r));
}

void kp_net_free(kp_net *net)
{
    if (!net)
        return;
    while (net->pending) {
        pending *p = net->pending;
        net->pending = p->next;
        kp_sched_cancel(net->sched, p->task);
        kp_sched_cancel(net->sched, p->data_task);
        response_clear(&p->resp);
        free(p);
    }
    curl_easy_cleanup(net->curl);
    free(net);
}

void kp_net_set_profile(kp_net *net, const kp_net_profile *profile)
{
    kp_net_profile def = {.bandwidth_bps = 8000000, .latency = KP_MS(20)};
    net->profile = profile ? *profile : def;
    if (net->profile.bandwidth_bps <= 0)
        net->profile.bandwidth_bps = def.bandwidth_bps;
    if (net->profile.latency < 0)
        net->profile.latency = 0;
}

const kp_net_profile *kp_net_profile_get(const kp_net *net)
{
    return &net->profile;
}

typedef struct body_sink {
    kp_buf *b;
    size_t max; /* 0: no limit */
    bool *truncated;
} body_sink;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    body_sink *s = ud;
    size_t n = size * nmemb, keep = n;
    if (s->max && s->b->len + n > s->max) {
        keep = s->max - s->b->len;
        *s->truncated = true;
    }
    if (keep && kp_buf_append(s->b, ptr, keep) != KP_OK)
        return 0;
    return keep == n && !(*s->truncated) ? n : 0; /* 0 stops the transfer */
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    kp_http_response *r = ud;
    size_t n = size * nmemb;
    if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
        /* a new answer (after a redirect): keep only the final answer's headers */
        for (size_t i = 0; i < r->n_headers; i++)
            free(r->headers[i]);
        r->n_headers = 0;
        return n;
    }
    const char *colon = memchr(ptr, ':', n);
    if (!colon)
        return n;
    size_t name_len = (size_t)(colon - ptr);
    const char *v = colon + 1;
    const char *end = ptr + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    char **h = realloc(r->headers, (r->n_headers + 1) * sizeof(*h));
    if (!h)
        return 0;
    r->headers = h;
    char *line = kp_asprintf("%.*s: %.*s", (int)name_len, ptr, (int)(end - v), v);
    if (!line)
        return 0;
    for (size_t i = 0; i < name_len; i++)
        line[i] = (char)tolower((unsigned char)line[i]);
    r->headers[r->n_headers++] = line;
    return n;
}

/* The value of a "name: value" line when its name is `name` (case-insensitive), else NULL. */
static const char *header_value(const char *line, const char *name)
{
    size_t n = strlen(name);
    return strncasecmp(line, name, n) == 0 && line[n] == ':' ? line + n + 2 : NULL;
}

const char *kp_http_header(const kp_http_response *resp, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < resp->n_headers; i++) {
        const char *h = resp->headers[i];
        if (strncasecmp(h, name, n) == 0 && h[n] == ':')
            return h + n + 2;
    }
    return NULL;
}

/* The virtual timing a mock server's fault rule asks for (kp/fault.h KP_FAULT_HDR_*): taken
 * from the answer's headers and removed from them, so the player never sees them. */
typedef struct fault_timing {
    kp_time delay; /* before the first byte */
    long long dribble_bytes;
    kp_time dribble_every; /* between chunks of dribble_bytes */
    bool never;            /* the answer never arrives */
} fault_timing;

static void take_fault_headers(kp_http_response *r, fault_timing *ft)
{
    memset(ft, 0, sizeof(*ft));
    size_t o = 0;
    for (size_t i = 0; i < r->n_headers; i++) {
        char *h = r->headers[i];
        const char *v = NULL;
        if ((v = header_value(h, KP_FAULT_HDR_DELAY))) {
            long long us = strtoll(v, NULL, 10);
            ft->delay = us > 0 ? us : 0;
        } else if ((v = header_value(h, KP_FAULT_HDR_DRIBBLE))) {
            char *end = NULL;
            long long b = strtoll(v, &end, 10);
            long long us = end && *end == '/' ? strtoll(end + 1, NULL, 10) : 0;
            if (b > 0 && us > 0) {
                ft->dribble_bytes = b;
                ft->dribble_every = us;
            }
        } else if ((v = header_value(h, KP_FAULT_HDR_TIMEOUT))) {
            ft->never = strcmp(v, "1") == 0;
        } else {
            r->headers[o++] = h;
            continue;
        }
        free(h);
    }
    r->n_headers = o;
}

static void deliver_data(void *ud);

/* Schedules the next on_data announcement of a streamed answer, if any remains before the
 * end (the final callback covers the rest). */
static void schedule_data(pending *p)
{
    kp_net *net = p->net;
    p->data_task = 0;
    if (!p->on_data || p->data_next >= p->resp.body.len)
        return;
    long double bits = (long double)p->data_next * 8.0L;
    kp_time at =
        p->resp.first_byte + (kp_time)(bits * 1000000.0L / (long double)net->profile.bandwidth_bps);
    p->data_task = kp_sched_at(net->sched, at, deliver_data, p);
}

static void deliver_data(void *ud)
{
    pending *p = ud;
    size_t received = p->data_next;
    p->data_next += p->data_step;
    schedule_data(p); /* before the call: the callee may cancel (and free) p */
    p->on_data(p->ud, &p->resp, received);
}

static void deliver(void *ud)
{
    pending *p = ud;
    kp_net *net = p->net;
    for (pending **pp = &net->pending; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    kp_sched_cancel(net->sched, p->data_task);
    p->cb(p->ud, &p->resp);
    response_clear(&p->resp);
    free(p);
}

static void perform(kp_net *net, const kp_http_request *req, kp_http_response *r)
{
    CURL *c = net->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, req->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L); /* wall-clock guard; the watchdog is separate */
    body_sink sink = {.b = &r->body, .max = req->max_body, .truncated = &r->truncated};
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "kpsim-reference-player");
    struct curl_slist *hdrs = NULL;
    for (const char *const *h = req->headers; h && *h; h++)
        hdrs = curl_slist_append(hdrs, *h);
    if (req->method && strcmp(req->method, "POST") == 0) {
        hdrs = curl_slist_append(hdrs, "Expect:");
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    } else if (req->method && strcmp(req->method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
    }
    if (hdrs)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_WRITE_ERROR && r->truncated)
        rc = CURLE_OK; /* the reader stopped on purpose */
    if (rc != CURLE_OK) {
        r->error = rc == CURLE_OPERATION_TIMEDOUT ? KP_ETIMEDOUT : KP_EHTTP;
        r->error_text = kp_strdup(curl_easy_strerror(rc));
        r->status = 0;
    } else {
        long status = 0, redirects = 0;
        char *eff = NULL;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(c, CURLINFO_REDIRECT_COUNT, &redirects);
        curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &eff);
        r->status = (int)status;
        r->redirects = (int)redirects;
        r->effective_url = kp_strdup(eff);
    }
    curl_slist_free_all(hdrs);
    if (!r->body.data)
        kp_buf_reserve(&r->body, 0);
}

uint64_t kp_net_fetch(kp_net *net, const kp_http_request *req, kp_http_fn cb, void *ud)
{
    if (!req || !req->url || !cb)
        return 0;
    pending *p = calloc(1, sizeof(*p));
    if (!p)
        return 0;
    p->net = net;
    p->cb = cb;
    p->ud = ud;
    p->id = net->next_id++;
    p->resp.url = kp_strdup(req->url);
    kp_buf_init(&p->resp.body);
    perform(net, req, &p->resp);
    fault_timing ft;
    take_fault_headers(&p->resp, &ft);

    kp_time now = kp_sched_now(net->sched);
    kp_time first_byte = now + net->profile.latency * (1 + p->resp.redirects) + ft.delay;
    kp_time done = first_byte, link_before = net->link_free;
    if (p->resp.error == KP_OK && !ft.never) {
        kp_time start = first_byte > net->link_free ? first_byte : net->link_free;
        long double bits = (long double)p->resp.body.len * 8.0L;
        kp_time transfer = (kp_time)(bits * 1000000.0L / (long double)net->profile.bandwidth_bps);
        if (ft.dribble_bytes) {
            /* the first chunk at once, each further one `every` later */
            long long chunks =
                ((long long)p->resp.body.len + ft.dribble_bytes - 1) / ft.dribble_bytes;
            kp_time trickle = chunks > 1 ? (chunks - 1) * ft.dribble_every : 0;
            if (trickle > transfer)
                transfer = trickle;
        }
        done = start + transfer;
        net->link_free = done;
        first_byte = start;
    }
    if (ft.never && req->timeout <= 0) {
        /* a server that never answers, and no timer: the answer never arrives (nothing is
         * scheduled; cancelling or freeing the net drops it) */
        p->resp.error = KP_ETIMEDOUT;
        p->resp.status = 0;
        p->resp.body.len = 0;
        p->resp.started = now;
        p->resp.first_byte = p->resp.finished = now;
        net->stats.requests++;
        p->next = net->pending;
        net->pending = p;
        KP_LOG_T(net->log, "net", "%s %s -> never answered (fault)",
                 req->method ? req->method : "GET", req->url);
        return p->id;
    }
    if (req->timeout > 0 && (ft.never || done - now > req->timeout)) {
        /* the answer is abandoned when the timer fires; the link is free from then on */
        done = now + req->timeout;
        if (net->link_free > done)
            net->link_free = done > link_before ? done : link_before;
        if (first_byte > done)
            first_byte = done;
        p->resp.error = KP_ETIMEDOUT;
        free(p->resp.error_text);
        p->resp.error_text = kp_strdup("timed out (virtual)");
        p->resp.status = 0;
        p->resp.body.len = 0;
    }
    p->resp.started = now;
    p->resp.first_byte = first_byte;
    p->resp.finished = done;
    if (req->on_data && p->resp.error == KP_OK) {
        p->on_data = req->on_data;
        p->data_step = req->data_step ? req->data_step : 65536;
        p->data_next = p->data_step;
        schedule_data(p);
    }
    net->stats.requests++;
    net->stats.bytes += p->resp.body.len;
    p->task = kp_sched_at(net->sched, done, deliver, p);
    if (!p->task) {
        response_clear(&p->resp);
        free(p);
        return 0;
    }
    p->next = net->pending;
    net->pending = p;
    KP_LOG_T(net->log, "net", "%s %s -> %d (%zu bytes, %.1f ms virtual)",
             req->method ? req->method : "GET", req->url, p->resp.status, p->resp.body.len,
             (double)(done - now) / 1000.0);
    return p->id;
}

bool kp_net_cancel(kp_net *net, uint64_t id)
{
    for (pending **pp = &net->pending; *pp; pp = &(*pp)->next) {
        pending *p = *pp;
        if (p->id == id) {
            *pp = p->next;
            kp_sched_cancel(net->sched, p->task);
            kp_sched_cancel(net->sched, p->data_task);
            /* a dropped stream stops using the link (whole answers keep their slot) */
            kp_time now = kp_sched_now(net->sched);
            if (p->on_data && net->link_free == p->resp.finished && now < p->resp.finished)
                net->link_free = now > p->resp.first_byte ? now : p->resp.first_byte;
            response_clear(&p->resp);
            free(p);
            return true;
        }
    }
    return false;
}

void kp_net_stats_get(const kp_net *net, kp_net_stats *out)
{
    *out = net->stats;
}
