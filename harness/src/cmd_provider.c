/* cmd_provider.c: `kpsim provider` (hx/cmd_provider.h): the command line turned into one call
 * of the synchronous provider client (kp/provider.h) and its answer printed as JSON.
 * Exit codes: 0 a config or playlist, 1 the provider's error object, 2 a bad command line.
 */
#include "hx/cmd_provider.h"

#include "kp/buf.h"
#include "kp/err.h"
#include "kp/provider.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_CONFIG  0
#define EXIT_ERROR   1
#define EXIT_INVALID 2

#define DEFAULT_OVP_CLIENT_TAG "html5:v3.17.95"
#define DEFAULT_TIMEOUT_S      30.0

static const char k_usage[] =
    "usage: kpsim provider --service-url URL --partner-id N\n"
    "                      (--entry-id ID | --reference-id REF | --playlist-id ID |\n"
    "                       --entry-list ID,ID,...)\n"
    "                      [--ks KS] [--kind ovp|ott] [--widget-id ID] [--uiconf-id N]\n"
    "                      [--referrer URL] [--client-tag TAG] [--timeout SECONDS]\n"
    "       OTT only:      [--media-type media|epg|recording]\n"
    "                      [--context-type PLAYBACK|START_OVER|CATCHUP|TRAILER|DOWNLOAD]\n"
    "                      [--protocol P] [--file-ids IDS] [--streamer-type T] [--url-type T]\n"
    "                      [--asset-reference-type T] [--formats A,B] [--ott-single-requests]\n"
    "\n"
    "Asks the back-end at URL (e.g. https://cdnapisec.kaltura.com/api_v3) what the reference\n"
    "player's provider would, and prints the media config (or playlist) as JSON.\n"
    "--client-tag  default html5:v3.17.95 for OVP, none for OTT\n"
    "--timeout     per HTTP request, default 30 (0: none, as the real provider)\n"
    "exit          0 config printed, 1 provider error object printed, 2 bad command line\n";

const char *hx_cmd_provider_usage(void)
{
    return k_usage;
}

typedef struct args {
    const char *service_url, *partner_id, *entry_id, *reference_id, *playlist_id, *entry_list;
    const char *ks, *kind, *widget_id, *uiconf_id, *referrer, *client_tag, *timeout;
    const char *media_type, *context_type, *protocol, *file_ids, *streamer_type, *url_type;
    const char *asset_reference_type, *formats;
    bool single;
} args;

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "kpsim provider: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n%s", k_usage);
    va_end(ap);
    return EXIT_INVALID;
}

/* Fills a; returns 0, or EXIT_INVALID after printing why. */
static int parse_args(int argc, char **argv, args *a)
{
    static const struct {
        const char *name;
        size_t offset;
    } opts[] = {
#define OPT(n, f) {n, offsetof(args, f)}
        OPT("--service-url", service_url),
        OPT("--partner-id", partner_id),
        OPT("--entry-id", entry_id),
        OPT("--reference-id", reference_id),
        OPT("--playlist-id", playlist_id),
        OPT("--entry-list", entry_list),
        OPT("--ks", ks),
        OPT("--kind", kind),
        OPT("--widget-id", widget_id),
        OPT("--uiconf-id", uiconf_id),
        OPT("--referrer", referrer),
        OPT("--client-tag", client_tag),
        OPT("--timeout", timeout),
        OPT("--media-type", media_type),
        OPT("--context-type", context_type),
        OPT("--protocol", protocol),
        OPT("--file-ids", file_ids),
        OPT("--streamer-type", streamer_type),
        OPT("--url-type", url_type),
        OPT("--asset-reference-type", asset_reference_type),
        OPT("--formats", formats),
#undef OPT
    };
    memset(a, 0, sizeof(*a));
    int i = argc > 0 && argv[0] && strcmp(argv[0], "provider") == 0 ? 1 : 0;
    for (; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--ott-single-requests") == 0) {
            a->single = true;
            continue;
        }
        size_t k = 0;
        while (k < sizeof(opts) / sizeof(opts[0]) && strcmp(opts[k].name, arg) != 0)
            k++;
        if (k == sizeof(opts) / sizeof(opts[0]))
            return usage_error("unknown argument '%s'", arg);
        if (i + 1 >= argc)
            return usage_error("%s needs a value", arg);
        const char **slot = (const char **)((char *)a + opts[k].offset);
        if (*slot)
            return usage_error("%s is given twice", arg);
        *slot = argv[++i];
    }
    return 0;
}

static bool parse_ll(const char *s, long long *out)
{
    if (!s || !*s)
        return false;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < 0)
        return false;
    *out = v;
    return true;
}

static bool one_of(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

/* Splits a comma list in place; returns the count, or 0 when an item is empty. */
static size_t split(char *s, char **items, size_t max)
{
    size_t n = 0;
    for (char *p = s;; p++) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (!*p || n == max)
            return 0;
        items[n++] = p;
        if (!comma)
            return n;
        p = comma;
    }
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

static int print_result(int rc, json_t *result, json_t *error)
{
    if (rc < 0 || (!result && !error)) {
        fprintf(stderr, "kpsim provider: the call could not be made: %s\n", kp_strerror(rc));
        json_decref(result);
        json_decref(error);
        return EXIT_INVALID;
    }
    json_t *out = result ? result : error;
    char *text = json_dumps(out, JSON_INDENT(2) | JSON_ENCODE_ANY);
    if (text)
        printf("%s\n", text);
    free(text);
    json_decref(result);
    json_decref(error);
    fflush(stdout);
    return result ? EXIT_CONFIG : EXIT_ERROR;
}

#define MAX_LIST 256

int hx_cmd_provider(int argc, char **argv, kp_log *log)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(k_usage, stdout);
            return EXIT_CONFIG;
        }
    }
    args a;
    int bad = parse_args(argc, argv, &a);
    if (bad)
        return bad;
    bool ott = false;
    if (a.kind && strcmp(a.kind, "ott") == 0)
        ott = true;
    else if (a.kind && strcmp(a.kind, "ovp") != 0)
        return usage_error("--kind must be ovp or ott, not '%s'", a.kind);
    if (!a.service_url || !*a.service_url)
        return usage_error("%s is required", "--service-url");
    long long partner, uiconf = 0;
    if (!a.partner_id)
        return usage_error("%s is required", "--partner-id");
    if (!parse_ll(a.partner_id, &partner))
        return usage_error("--partner-id must be a number, not '%s'", a.partner_id);
    if (a.uiconf_id && !parse_ll(a.uiconf_id, &uiconf))
        return usage_error("--uiconf-id must be a number, not '%s'", a.uiconf_id);
    int n_ids = !!a.entry_id + !!a.reference_id + !!a.playlist_id + !!a.entry_list;
    if (n_ids != 1)
        return usage_error("give exactly one of --entry-id, --reference-id, --playlist-id, "
                           "--entry-list");
    double timeout_s = DEFAULT_TIMEOUT_S;
    if (a.timeout) {
        char *end;
        errno = 0;
        timeout_s = strtod(a.timeout, &end);
        if (errno || *end || !*a.timeout || !(timeout_s >= 0) || isinf(timeout_s))
            return usage_error("--timeout must be a number of seconds, not '%s'", a.timeout);
    }
    if (ott) {
        if (a.reference_id)
            return usage_error("%s is OVP only", "--reference-id");
        if (a.widget_id)
            return usage_error("%s is OVP only", "--widget-id");
        if (a.referrer)
            return usage_error("%s is OVP only", "--referrer");
        static const char *const media_types[] = {"media", "epg", "recording", NULL};
        static const char *const contexts[] = {"PLAYBACK", "START_OVER", "CATCHUP",
                                               "TRAILER",  "DOWNLOAD",   NULL};
        if (a.media_type && !one_of(a.media_type, media_types))
            return usage_error("--media-type must be media, epg or recording, not '%s'",
                               a.media_type);
        if (a.context_type && !one_of(a.context_type, contexts))
            return usage_error("--context-type must be PLAYBACK, START_OVER, CATCHUP, TRAILER "
                               "or DOWNLOAD, not '%s'",
                               a.context_type);
    } else {
        const char *ott_only = a.media_type             ? "--media-type"
                               : a.context_type         ? "--context-type"
                               : a.protocol             ? "--protocol"
                               : a.file_ids             ? "--file-ids"
                               : a.streamer_type        ? "--streamer-type"
                               : a.url_type             ? "--url-type"
                               : a.asset_reference_type ? "--asset-reference-type"
                               : a.formats              ? "--formats"
                               : a.single               ? "--ott-single-requests"
                                                        : NULL;
        if (ott_only)
            return usage_error("%s is OTT only (add --kind ott)", ott_only);
    }

    kp_provider_opts o;
    kp_provider_opts_init(&o);
    o.service_url = a.service_url;
    o.partner_id = partner;
    o.ks = a.ks;
    o.widget_id = a.widget_id;
    o.uiconf_id = uiconf;
    o.referrer = a.referrer;
    o.client_tag = a.client_tag ? a.client_tag : ott ? NULL : DEFAULT_OVP_CLIENT_TAG;
    o.ott_disable_multirequest = a.single;
    kp_provider_client c;
    kp_provider_client_init(&c);
    c.timeout_ms = (long long)(timeout_s * 1000.0 + 0.5);
    c.log = log;

    /* the comma lists, split in copies */
    char *list_copy = a.entry_list ? kp_strdup(a.entry_list) : NULL;
    char *formats_copy = a.formats ? kp_strdup(a.formats) : NULL;
    char *ids[MAX_LIST], *formats[MAX_LIST];
    size_t n_list = list_copy ? split(list_copy, ids, MAX_LIST) : 0;
    size_t n_formats = formats_copy ? split(formats_copy, formats, MAX_LIST) : 0;
    int code = -1;
    if ((a.entry_list && !list_copy) || (a.formats && !formats_copy)) {
        fprintf(stderr, "kpsim provider: out of memory\n");
        code = EXIT_INVALID;
    } else if (a.entry_list && n_list == 0) {
        code = usage_error("--entry-list needs ids separated by commas (at most 256), not '%s'",
                           a.entry_list);
    } else if (a.formats && n_formats == 0) {
        code = usage_error("--formats needs names separated by commas, not '%s'", a.formats);
    }
    if (code >= 0) {
        free(list_copy);
        free(formats_copy);
        return code;
    }

    json_t *result = NULL, *error = NULL;
    int rc;
    if (a.entry_list) {
        kp_entry_ref refs[MAX_LIST];
        memset(refs, 0, sizeof(refs));
        for (size_t i = 0; i < n_list; i++) {
            refs[i].entry_id = ids[i];
            refs[i].entry_id_is_number = ott && all_digits(ids[i]);
            refs[i].asset_reference_type = a.asset_reference_type;
        }
        kp_entry_list_info el = {
            .entries = refs, .n_entries = n_list, .ks = a.ks, .redirect_from_entry_id = -1};
        rc = ott ? kp_ott_fetch_entry_list(&c, &o, &el, &result, &error)
                 : kp_ovp_fetch_entry_list(&c, &o, &el, &result, &error);
    } else if (a.playlist_id) {
        kp_playlist_info pi = {.playlist_id = a.playlist_id, .ks = a.ks};
        rc = ott ? kp_ott_fetch_playlist(&c, &o, &pi, &result, &error)
                 : kp_ovp_fetch_playlist(&c, &o, &pi, &result, &error);
    } else if (ott) {
        kp_ott_media_info mi = {.entry_id = a.entry_id,
                                .entry_id_is_number = all_digits(a.entry_id),
                                .ks = a.ks,
                                .media_type = a.media_type,
                                .context_type = a.context_type,
                                .protocol = a.protocol,
                                .file_ids = a.file_ids,
                                .streamer_type = a.streamer_type,
                                .url_type = a.url_type,
                                .asset_reference_type = a.asset_reference_type,
                                .formats = (const char *const *)formats,
                                .n_formats = n_formats};
        rc = kp_ott_fetch_media(&c, &o, &mi, &result, &error);
    } else {
        kp_media_info mi = {.entry_id = a.entry_id,
                            .reference_id = a.reference_id,
                            .ks = a.ks,
                            .redirect_from_entry_id = -1};
        rc = kp_ovp_fetch_media(&c, &o, &mi, &result, &error);
    }
    free(list_copy);
    free(formats_copy);
    return print_result(rc, result, error);
}
