/* server.c: the mock license server (see mdrm/mdrm.h): libmicrohttpd on a loopback socket
 * bound before any worker runs, one worker thread per core, every request journaled. */
#include "mdrm/mdrm.h"

#include "kp/buf.h"
#include "kp/drm.h"
#include "kp/drmmsg.h"
#include "kp/err.h"
#include "kp/fault.h"
#include "kp/jsonu.h"
#include "mockc/fault_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_BODY (1u << 20)

typedef struct key_rec {
    char *id;
    uint8_t kid[16], key[16];
    mdrm_policy policy;
    long long granted; /* licenses granted so far (guarded by the server's lock) */
} key_rec;

struct mdrm_server {
    struct MHD_Daemon *daemon;
    char url[64];
    uint16_t port;
    long long partner_id;
    char *secret;
    kp_log *log;
    long long (*clock)(void *ud);
    void *clock_ud;
    key_rec *keys;
    size_t n_keys;
    uint8_t cert[64];
    uint8_t cert_hash[20];
    pthread_mutex_t lock; /* guards the policies, the counts and the journal */
    json_t *journal;
    unsigned long long seq;
    struct kp_fault_set *faults; /* borrowed, may be NULL */
    bool fault_real_time;
    atomic_bool stopping;
};

typedef struct req_ctx {
    kp_buf body;
    bool too_large;
} req_ctx;

/* An answer under construction. */
typedef struct reply {
    int status;
    const char *type;
    kp_buf body;
    const char *outcome;
    char message[512];
    kp_drm_system system;
    const key_rec *entry;
    long long duration;
} reply;

static long long now_ms(const mdrm_server *s)
{
    return s->clock ? s->clock(s->clock_ud) : 0;
}

static void hex16(const uint8_t *b, char out[33])
{
    static const char d[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = d[b[i] >> 4];
        out[2 * i + 1] = d[b[i] & 15];
    }
    out[32] = '\0';
}

static const key_rec *find_entry(const mdrm_server *s, const char *id)
{
    for (size_t i = 0; id && i < s->n_keys; i++)
        if (strcmp(s->keys[i].id, id) == 0)
            return &s->keys[i];
    return NULL;
}

static const key_rec *find_kid(const mdrm_server *s, const uint8_t kid[16])
{
    for (size_t i = 0; i < s->n_keys; i++)
        if (memcmp(s->keys[i].kid, kid, 16) == 0)
            return &s->keys[i];
    return NULL;
}

/* ---- error bodies ---- */

static void xml_escape(kp_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '<')
            kp_buf_puts(b, "&lt;");
        else if (*s == '>')
            kp_buf_puts(b, "&gt;");
        else if (*s == '&')
            kp_buf_puts(b, "&amp;");
        else
            kp_buf_putc(b, *s);
    }
}

/* A failure: status, outcome and the message (logged as a warning, as the back-end logs the
 * requests it refuses). */
static void refuse(mdrm_server *s, reply *r, int status, const char *outcome, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void refuse(mdrm_server *s, reply *r, int status, const char *outcome, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof(r->message), fmt, ap);
    va_end(ap);
    r->status = status;
    r->outcome = outcome;
    kp_buf_reset(&r->body);
    KP_LOG_W(s->log, "mdrm", "%s license request refused (HTTP %d, %s): %s",
             kp_drm_system_name(r->system) ? kp_drm_system_name(r->system) : "a", status, outcome,
             r->message);
    if (r->system == KP_DRM_PLAYREADY) {
        /* PlayReady servers answer SOAP Faults; the StatusCode is the closest of theirs */
        const char *code = strcmp(outcome, "malformed") == 0 ? "0x8004C601" /* INVALID_MESSAGE */
                           : strcmp(outcome, "limit") == 0   ? "0x8004C602" /* DEVICE_LIMIT */
                                                             : "0x8004C604";  /* SERVICE_SPECIFIC */
        r->type = "text/xml; charset=utf-8";
        kp_buf_puts(&r->body, "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope "
                              "xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">"
                              "<soap:Body><soap:Fault><faultcode>soap:Server</faultcode>"
                              "<faultstring>System.Web.Services.Protocols.SoapException: ");
        xml_escape(&r->body, r->message);
        kp_buf_printf(&r->body,
                      "</faultstring><faultactor>%s/cenc/playready/license</faultactor><detail>"
                      "<Exception><StatusCode>%s</StatusCode><Outcome>%s</Outcome></Exception>"
                      "</detail></soap:Fault></soap:Body></soap:Envelope>",
                      s->url, code, outcome);
        return;
    }
    r->type = "application/json";
    json_t *o = json_pack("{s:s, s:s}", "error", outcome, "message", r->message);
    char *t = o ? kp_json_dumps(o) : NULL;
    if (t)
        kp_buf_puts(&r->body, t);
    free(t);
    json_decref(o);
}

/* ---- licenses ---- */

static const char *query(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

/* The entries the request's keys belong to, checked against their policies and counted:
 * false (and r refused) when one refuses. */
static bool apply_policies(mdrm_server *s, reply *r, const key_rec *const *entries, size_t n)
{
    bool ok = true;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < n && ok; i++) {
        key_rec *e = (key_rec *)entries[i];
        if (e->policy.deny) {
            refuse(s, r, 403, "denied", "entry %s: licenses are denied by its policy", e->id);
            ok = false;
        } else if (e->policy.limit > 0 && e->granted >= e->policy.limit) {
            refuse(s, r, 403, "limit", "entry %s: its %lld license(s) are used up", e->id,
                   e->policy.limit);
            ok = false;
        }
    }
    long long duration = 0;
    for (size_t i = 0; i < n && ok; i++) {
        key_rec *e = (key_rec *)entries[i];
        e->granted++;
        if (e->policy.expire_s > 0 && (duration == 0 || e->policy.expire_s < duration))
            duration = e->policy.expire_s;
    }
    pthread_mutex_unlock(&s->lock);
    r->duration = duration;
    return ok;
}

static void handle_license(mdrm_server *s, struct MHD_Connection *c, const req_ctx *rc, reply *r,
                           json_t *rec)
{
    char err[512] = "";
    const char *cd = query(c, "custom_data"), *sig = query(c, "signature");
    kp_udrm_data ud = {0};
    bool udrm = r->system != KP_DRM_CLEARKEY || cd || sig;
    if (udrm) {
        int v = kp_udrm_verify(s->secret, cd, sig, &ud, err, sizeof(err));
        if (v == KP_ENOMEM) {
            refuse(s, r, 500, "error", "out of memory");
            return;
        }
        if (v != KP_OK) {
            refuse(s, r, 403, "bad_signature", "%s", err);
            return;
        }
        char pid[32];
        snprintf(pid, sizeof(pid), "%lld", s->partner_id);
        if (strcmp(ud.account_id, pid) != 0) {
            refuse(s, r, 403, "wrong_partner", "custom_data: account_id %s is not partner %s",
                   ud.account_id, pid);
            kp_udrm_data_free(&ud);
            return;
        }
        json_object_set_new(rec, "content_id", json_string(ud.content_id));
    }
    kp_drmmsg_request rq;
    if (kp_drmmsg_parse_request(r->system, rc->body.data, rc->body.len, &rq, err, sizeof(err)) !=
        KP_OK) {
        refuse(s, r, 400, "malformed", "%s", err);
        kp_udrm_data_free(&ud);
        return;
    }
    json_t *kids = json_array();
    for (size_t i = 0; i < rq.n_kids; i++) {
        char h[33];
        hex16(rq.kids[i], h);
        json_array_append_new(kids, json_string(h));
    }
    json_object_set_new(rec, "kids", kids);
    if (rq.kind == KP_DRMMSG_CERTIFICATE) {
        kp_drmmsg_build_wv_certificate(s->cert, sizeof(s->cert), &r->body);
        r->status = 200;
        r->outcome = "certificate";
        r->type = kp_drmmsg_license_type(r->system);
        kp_udrm_data_free(&ud);
        return;
    }
    const key_rec *entry = NULL;
    if (udrm) {
        entry = find_entry(s, ud.content_id);
        if (!entry) {
            refuse(s, r, 404, "unknown_entry", "content_id %s: no such entry in the key store",
                   ud.content_id);
            kp_udrm_data_free(&ud);
            return;
        }
    }
    kp_udrm_data_free(&ud);
    r->entry = entry;
    const key_rec *owners[KP_DRMMSG_MAX_KIDS];
    size_t n_owners = 0;
    kp_drmmsg_license lic;
    memset(&lic, 0, sizeof(lic));
    lic.system = r->system;
    lic.persistent = rq.persistent;
    memcpy(lic.nonce, rq.nonce, 16);
    if (r->system == KP_DRM_FAIRPLAY) {
        char h[33];
        if (memcmp(rq.cert_hash, s->cert_hash, 20) != 0) {
            refuse(s, r, 400, "malformed",
                   "FairPlay SPC: made for another application certificate than /fps/certificate");
            return;
        }
        hex16(entry->kid, h);
        if (strcmp(rq.asset_id, entry->id) != 0 && strcmp(rq.asset_id, h) != 0) {
            refuse(s, r, 404, "unknown_kid",
                   "FairPlay SPC: asset id %s is neither entry %s nor its KID %s", rq.asset_id,
                   entry->id, h);
            return;
        }
        snprintf(lic.asset_id, sizeof(lic.asset_id), "%s", rq.asset_id);
        memcpy(lic.keys[0].kid, entry->kid, 16);
        memcpy(lic.keys[0].key, entry->key, 16);
        lic.n_keys = 1;
    }
    for (size_t i = 0; i < rq.n_kids; i++) {
        const key_rec *k = entry ? (memcmp(entry->kid, rq.kids[i], 16) == 0 ? entry : NULL)
                                 : find_kid(s, rq.kids[i]);
        if (!k) {
            char h[33];
            hex16(rq.kids[i], h);
            if (entry)
                refuse(s, r, 404, "unknown_kid", "KID %s is not the key of entry %s", h, entry->id);
            else
                refuse(s, r, 404, "unknown_kid", "KID %s: no such key in the key store", h);
            return;
        }
        if (r->system != KP_DRM_FAIRPLAY) {
            memcpy(lic.keys[lic.n_keys].kid, k->kid, 16);
            memcpy(lic.keys[lic.n_keys].key, k->key, 16);
            lic.n_keys++;
        }
        if (!r->entry)
            r->entry = k;
        bool seen = false;
        for (size_t j = 0; j < n_owners; j++)
            seen = seen || owners[j] == k;
        if (!seen)
            owners[n_owners++] = k;
    }
    if (n_owners == 0 && entry)
        owners[n_owners++] = entry;
    if (!apply_policies(s, r, owners, n_owners))
        return;
    lic.duration_s = r->duration;
    lic.start_s = r->system == KP_DRM_WIDEVINE ? now_ms(s) / 1000 : 0;
    if (kp_drmmsg_build_license(&lic, &r->body) != KP_OK) {
        refuse(s, r, 500, "error", "the license could not be built");
        return;
    }
    r->status = 200;
    r->outcome = "granted";
    r->type = kp_drmmsg_license_type(r->system);
}

/* ---- HTTP ---- */

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    json_object_set_new(cls, key, json_string(value ? value : ""));
    return MHD_YES;
}

static void journal_add(mdrm_server *s, json_t *rec)
{
    pthread_mutex_lock(&s->lock);
    json_object_set_new(rec, "seq", json_integer((json_int_t)++s->seq));
    json_array_append_new(s->journal, rec);
    pthread_mutex_unlock(&s->lock);
}

static void add_headers(struct MHD_Response *resp, void *ud)
{
    const char *allow = ud;
    if (allow)
        MHD_add_response_header(resp, "Allow", allow);
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
    MHD_add_response_header(resp, "Access-Control-Allow-Headers",
                            "content-type, soapaction, x-kaltura-initdata");
    MHD_add_response_header(resp, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    MHD_add_response_header(resp, "X-Me", "kpsim-mock-drm");
}

static enum MHD_Result send_reply(struct MHD_Connection *c, int status, const char *type,
                                  const void *data, size_t len, const char *allow)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    if (type)
        MHD_add_response_header(resp, "Content-Type", type);
    add_headers(resp, (void *)allow);
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static int route(const char *url)
{
    if (strcmp(url, "/clearkey/license") == 0)
        return KP_DRM_CLEARKEY;
    if (strcmp(url, "/cenc/widevine/license") == 0)
        return KP_DRM_WIDEVINE;
    if (strcmp(url, "/cenc/playready/license") == 0)
        return KP_DRM_PLAYREADY;
    if (strcmp(url, "/fps/license") == 0)
        return KP_DRM_FAIRPLAY;
    return -1;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    mdrm_server *s = cls;
    req_ctx *rc = *con_cls;
    if (!rc) {
        rc = calloc(1, sizeof(*rc));
        if (!rc)
            return MHD_NO;
        kp_buf_init(&rc->body);
        *con_cls = rc;
        return MHD_YES;
    }
    if (*upload_size) {
        if (rc->too_large || rc->body.len + *upload_size > MAX_BODY)
            rc->too_large = true;
        else if (kp_buf_append(&rc->body, upload, *upload_size) != KP_OK)
            rc->too_large = true;
        *upload_size = 0;
        return MHD_YES;
    }
    json_t *q = json_object();
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_query, q);
    json_t *rec =
        json_pack("{s:I, s:s, s:s, s:o, s:n, s:n, s:[]}", "time_ms", (json_int_t)now_ms(s),
                  "method", method, "path", url, "query", q, "system", "entry", "kids");
    reply r = {.status = 500, .system = KP_DRM_SYSTEM_COUNT};
    kp_buf_init(&r.body);
    const char *allow = NULL;
    int sys = route(url);
    bool cert = strcmp(url, "/fps/certificate") == 0;
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (strcmp(method, "OPTIONS") == 0) {
        r.status = 204;
        r.outcome = "options";
    } else if (sys < 0 && !cert) {
        refuse(s, &r, 404, "not_found", "%s: no such endpoint", url);
    } else if (cert && !get) {
        allow = "GET, HEAD, OPTIONS";
        refuse(s, &r, 405, "method", "%s takes GET", url);
    } else if (cert) {
        json_object_set_new(rec, "system", json_string("fairplay"));
        kp_buf_append(&r.body, s->cert, sizeof(s->cert));
        r.status = 200;
        r.type = "application/octet-stream";
        r.outcome = "certificate";
    } else {
        r.system = (kp_drm_system)sys;
        json_object_set_new(rec, "system", json_string(kp_drm_system_name(r.system)));
        if (strcmp(method, "POST") != 0) {
            allow = "POST, OPTIONS";
            refuse(s, &r, 405, "method", "%s takes POST, not %s", url, method);
        } else if (rc->too_large) {
            refuse(s, &r, 413, "too_large", "the request body is over %u bytes", MAX_BODY);
        } else {
            handle_license(s, c, rc, &r, rec);
        }
    }
    if (r.entry)
        json_object_set_new(rec, "entry", json_string(r.entry->id));
    json_object_set_new(rec, "status", json_integer(r.status));
    json_object_set_new(rec, "outcome", json_string(r.outcome ? r.outcome : "error"));
    if (r.status >= 400)
        json_object_set_new(rec, "message", json_string(r.message));
    else if (r.outcome && strcmp(r.outcome, "granted") == 0)
        json_object_set_new(rec, "duration", json_integer(r.duration));
    kp_fault_action fa = {0};
    kp_fault_req fq = {.server = "drm",
                       .method = method,
                       .path = url,
                       .segment = -1,
                       .entry = r.entry ? r.entry->id : NULL,
                       .scheme = kp_json_str(rec, "system", NULL)};
    int fired = s->faults ? kp_fault_decide(s->faults, &fq, &fa) : 0;
    enum MHD_Result res;
    if (fired) {
        json_object_set_new(rec, "fault", json_integer(fa.rule));
        json_object_set_new(rec, "fault_reply", json_string(kp_fault_kind_name(fa.kind)));
        KP_LOG_D(s->log, "mdrm", "%s: fault rule %d (%s)", url, fa.rule,
                 kp_fault_kind_name(fa.kind));
        json_t *fstatus = json_integer(fa.kind == KP_FAULT_STATUS ? fa.status
                                       : (fa.kind == KP_FAULT_RESET && !fa.mid_body) ||
                                               fa.kind == KP_FAULT_EMPTY ||
                                               fa.kind == KP_FAULT_RANDOM_THEN_CLOSE ||
                                               (fa.kind == KP_FAULT_TIMEOUT && s->fault_real_time)
                                           ? 0
                                           : r.status);
        json_object_set_new(rec, "status", fstatus);
        journal_add(s, rec);
        mockc_answer o = {.status = r.status,
                          .content_type = r.type,
                          .body = r.body.data ? r.body.data : "",
                          .len = r.body.len,
                          .path = url,
                          .add_headers = add_headers,
                          .ud = (void *)allow};
        mockc_sent sent;
        res = mockc_fault_answer(c, &fa, &o, s->fault_real_time, &s->stopping, &sent);
        kp_fault_action_clear(&fa);
    } else {
        journal_add(s, rec);
        res = send_reply(c, r.status, r.type, r.body.data ? r.body.data : "", r.body.len, allow);
    }
    kp_buf_free(&r.body);
    (void)version;
    return res;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    req_ctx *rc = *con_cls;
    if (rc) {
        kp_buf_free(&rc->body);
        free(rc);
    }
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    mdrm_server *s = cls;
    kp_vlogf(s->log, KP_LOG_DEBUG, "mdrm-http", fmt, ap);
}

/* A listening TCP socket on 127.0.0.1:port (0: ephemeral), its port in *bound; -1 on failure. */
static int listen_loopback(uint16_t port, uint16_t *bound)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, 128) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    *bound = ntohs(addr.sin_port);
    return fd;
}

static unsigned pool_size(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 2 ? 2u : n > 8 ? 8u : (unsigned)n;
}

int mdrm_server_start(const mdrm_config *cfg, mdrm_server **out)
{
    *out = NULL;
    mdrm_server *s = calloc(1, sizeof(*s));
    if (!s)
        return KP_ENOMEM;
    pthread_mutex_init(&s->lock, NULL);
    s->partner_id = cfg->partner_id;
    s->log = cfg->log;
    s->clock = cfg->clock;
    s->clock_ud = cfg->clock_ud;
    s->faults = cfg->faults;
    s->fault_real_time = cfg->fault_real_time != 0;
    atomic_init(&s->stopping, false);
    char secret[64];
    kp_udrm_default_secret(cfg->partner_id, secret, sizeof(secret));
    s->secret = kp_strdup(cfg->udrm_secret ? cfg->udrm_secret : secret);
    s->journal = json_array();
    s->keys = calloc(cfg->n_entries ? cfg->n_entries : 1, sizeof(*s->keys));
    kp_drm_fps_certificate(cfg->partner_id, s->cert);
    kp_drm_fps_certificate_hash(s->cert, sizeof(s->cert), s->cert_hash);
    int rc = s->secret && s->journal && s->keys ? KP_OK : KP_ENOMEM;
    for (size_t i = 0; rc == KP_OK && i < cfg->n_entries; i++) {
        const mdrm_entry *e = &cfg->entries[i];
        if (!e->id || !*e->id || find_entry(s, e->id)) {
            KP_LOG_E(s->log, "mdrm", "key store entry %zu: %s", i,
                     !e->id || !*e->id ? "no id" : "a duplicate id");
            rc = KP_EINVAL;
            break;
        }
        key_rec *k = &s->keys[i];
        k->id = kp_strdup(e->id);
        if (!k->id) {
            rc = KP_ENOMEM;
            break;
        }
        s->n_keys = i + 1;
        if (e->has_key) {
            memcpy(k->kid, e->kid, 16);
            memcpy(k->key, e->key, 16);
        } else {
            kp_drm_derive_key(e->id, k->kid, k->key);
        }
        k->policy = e->policy;
    }
    if (rc == KP_OK) {
        int fd = listen_loopback(cfg->port, &s->port);
        if (fd < 0) {
            KP_LOG_E(s->log, "mdrm", "cannot listen on 127.0.0.1:%u: %s", cfg->port,
                     strerror(errno));
            rc = KP_ESERVER;
        } else {
            snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%u", s->port);
            s->daemon = MHD_start_daemon(
                MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, handler, s,
                MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED, completed, s,
                MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
                MHD_OPTION_THREAD_POOL_SIZE, pool_size(), MHD_OPTION_END);
            if (!s->daemon) {
                close(fd);
                KP_LOG_E(s->log, "mdrm", "cannot start the HTTP server on %s", s->url);
                rc = KP_ESERVER;
            }
        }
    }
    if (rc != KP_OK) {
        mdrm_server_stop(s);
        return rc;
    }
    KP_LOG_I(s->log, "mdrm", "mock license server at %s (partner %lld, %zu keys)", s->url,
             s->partner_id, s->n_keys);
    *out = s;
    return KP_OK;
}

void mdrm_server_stop(mdrm_server *s)
{
    if (!s)
        return;
    if (s->daemon) {
        atomic_store(&s->stopping, true);
        MHD_stop_daemon(s->daemon);
    }
    for (size_t i = 0; i < s->n_keys; i++)
        free(s->keys[i].id);
    free(s->keys);
    free(s->secret);
    json_decref(s->journal);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

const char *mdrm_server_url(const mdrm_server *s)
{
    return s->url;
}

uint16_t mdrm_server_port(const mdrm_server *s)
{
    return s->port;
}

int mdrm_server_set_policy(mdrm_server *s, const char *entry_id, const mdrm_policy *p)
{
    key_rec *k = (key_rec *)find_entry(s, entry_id);
    if (!k)
        return KP_ENOENT;
    pthread_mutex_lock(&s->lock);
    k->policy = *p;
    k->granted = 0;
    pthread_mutex_unlock(&s->lock);
    return KP_OK;
}

json_t *mdrm_server_journal(mdrm_server *s)
{
    pthread_mutex_lock(&s->lock);
    json_t *copy = json_deep_copy(s->journal);
    pthread_mutex_unlock(&s->lock);
    return copy;
}

char *mdrm_server_journal_lines(mdrm_server *s)
{
    kp_buf b;
    kp_buf_init(&b);
    int rc = kp_buf_reserve(&b, 1);
    pthread_mutex_lock(&s->lock);
    size_t i;
    json_t *rec;
    json_array_foreach(s->journal, i, rec)
    {
        if (rc == KP_OK)
            rc = kp_json_write(&b, rec, 0);
        if (rc == KP_OK)
            rc = kp_buf_putc(&b, '\n');
    }
    pthread_mutex_unlock(&s->lock);
    if (rc != KP_OK) {
        kp_buf_free(&b);
        return NULL;
    }
    return kp_buf_steal(&b);
}

size_t mdrm_server_count(mdrm_server *s, const json_t *match)
{
    size_t n = 0, i;
    json_t *rec;
    pthread_mutex_lock(&s->lock);
    json_array_foreach(s->journal, i, rec)
    {
        if (kp_json_subset(match, rec))
            n++;
    }
    pthread_mutex_unlock(&s->lock);
    return n;
}
