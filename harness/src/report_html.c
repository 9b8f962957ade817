/* report_html.c: report.html, one self-contained page per run (no network: CSS, script and
 * SVG inline). A summary table, then per scenario its failures, the expected and recorded
 * sequences side by side (the matcher's table), a timeline (content playhead, ad breaks,
 * player states, buffering, events, requests, errors) drawn as SVG from the trace, and for a
 * failed or flaky scenario the recorded events and the mock servers' requests (a passing
 * one's are in traces/, which keeps the page small for a large suite). */
#include "hx/report.h"

#include "kp/buf.h"
#include "kp/err.h"
#include "kp/jsonu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TL_W    960.0 /* timeline drawing width, px */
#define TL_X0   130.0 /* left margin for the lane names */
#define LANE_H  22.0
#define N_LANES 7

/* The CSS class of a result's badge, and its text. */
static const char *status_class(const hx_result *r)
{
    if (r->flaky)
        return "flaky";
    return r->status == HX_NOT_RECORDED ? "norec" : hx_status_name(r->status);
}

static const char *status_text(const hx_result *r)
{
    return r->flaky ? "flaky" : hx_status_name(r->status);
}

static const char CSS[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d232a;background:#fafbfc}"
    "h1{font-size:22px;margin:0 0 8px}h2{font-size:17px;margin:0}"
    ".sum span{display:inline-block;margin-right:14px;padding:2px 10px;border-radius:10px;"
    "color:#fff;font-weight:600}"
    "table{border-collapse:collapse}td,th{padding:3px 8px;border-bottom:1px solid #e3e6ea;"
    "text-align:left;vertical-align:top}"
    ".st{font-weight:700;text-transform:uppercase;font-size:12px;padding:1px 6px;"
    "border-radius:4px;color:#fff}"
    ".passed{background:#2e7d32}.failed{background:#c62828}.timeout{background:#ef6c00}"
    ".invalid{background:#6a1b9a}.flaky{background:#f9a825}.norec{background:#546e7a}"
    "details.sc{background:#fff;border:1px solid #d8dde3;border-radius:6px;margin:10px 0;"
    "padding:8px 12px}details.sc>summary{cursor:pointer;font-weight:600}"
    "pre{background:#f3f5f7;padding:8px;overflow:auto;font-size:12px;max-height:420px}"
    ".fail{color:#b71c1c;font-family:monospace;white-space:pre-wrap}"
    "svg text{font:11px sans-serif;fill:#37474f}"
    "#ctl{margin:12px 0}.hide{display:none}";

static const char JS[] =
    "function onlyBad(on){document.querySelectorAll('[data-status]').forEach(function(e){"
    "var s=e.getAttribute('data-status');e.classList.toggle('hide',on&&s==='passed');});}";

static double ev_t(const json_t *e)
{
    return (double)json_integer_value(json_object_get(e, "t"));
}

static const char *ev_type(const json_t *e)
{
    const char *s = json_string_value(json_object_get(e, "type"));
    return s ? s : "";
}

static bool is_ad_event(const char *t)
{
    return strncmp(t, "ad", 2) == 0 && strncmp(t, "adblock", 7) != 0;
}

static const char *state_color(const char *s)
{
    if (!strcmp(s, "playing"))
        return "#43a047";
    if (!strcmp(s, "paused"))
        return "#90a4ae";
    if (!strcmp(s, "buffering"))
        return "#fb8c00";
    if (!strcmp(s, "loading"))
        return "#42a5f5";
    return "#cfd8dc"; /* idle and others */
}

static double xof(double t, double tmax)
{
    return TL_X0 + (TL_W - TL_X0 - 10) * (tmax > 0 ? t / tmax : 0);
}

static void lane_label(kp_buf *b, int lane, const char *name)
{
    kp_buf_printf(b, "<text x=\"4\" y=\"%.0f\">%s</text>", 18 + lane * LANE_H + 14, name);
    kp_buf_printf(b, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.0f\" y2=\"%.0f\" stroke=\"#eceff1\"/>",
                  TL_X0, TL_W - 10, 18 + (lane + 1) * LANE_H, 18 + (lane + 1) * LANE_H);
}

static double lane_y(int lane)
{
    return 18 + lane * LANE_H + 3;
}

static void span(kp_buf *b, int lane, double t0, double t1, double tmax, const char *color,
                 const char *title)
{
    double x0 = xof(t0, tmax), x1 = xof(t1, tmax);
    kp_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.0f\" fill=\"%s\"", x0,
                  lane_y(lane), x1 - x0 > 1 ? x1 - x0 : 1, LANE_H - 6, color);
    if (!title) {
        kp_buf_puts(b, "/>");
        return;
    }
    kp_buf_puts(b, "><title>");
    hx_xml_escape(b, title);
    kp_buf_puts(b, "</title></rect>");
}

/* A mark for event e; its tooltip (the whole event) only when e is not NULL. */
static void tick(kp_buf *b, int lane, double t, double tmax, const char *color, const json_t *e)
{
    double x = xof(t, tmax);
    kp_buf_printf(b,
                  "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                  "stroke-width=\"2\"",
                  x, x, lane_y(lane), lane_y(lane) + LANE_H - 6, color);
    if (!e) {
        kp_buf_puts(b, "/>");
        return;
    }
    kp_buf_puts(b, "><title>");
    char *text = kp_json_dumps(e);
    hx_xml_escape(b, text);
    free(text);
    kp_buf_puts(b, "</title></line>");
}

/* The timeline of one trace as an inline SVG; with `tips`, every mark carries its event as a
 * tooltip (for the failures: a passing scenario's page weight stays small). */
static void timeline(kp_buf *b, const json_t *trace, bool tips)
{
    size_t n = json_array_size(trace);
    double tmax = 1, posmax = 0.001;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(trace, i);
        if (ev_t(e) > tmax)
            tmax = ev_t(e);
        double p = json_number_value(json_object_get(e, "pos"));
        if (p > posmax)
            posmax = p;
    }
    double h = 18 + N_LANES * LANE_H + 20;
    kp_buf_printf(b,
                  "<svg class=\"tl\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
                  "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\">",
                  TL_W, h, TL_W, h);
    static const char *const lanes[N_LANES] = {
        "content (playhead)", "ad breaks", "player state", "buffering", "events",
        "requests",           "errors"};
    for (int l = 0; l < N_LANES; l++)
        lane_label(b, l, lanes[l]);
    /* time axis */
    for (int k = 0; k <= 10; k++) {
        double t = tmax * k / 10.0;
        kp_buf_printf(b, "<text x=\"%.0f\" y=\"12\">%.*fs</text>", xof(t, tmax) - 8,
                      tmax < 2000 ? 2 : 1, t / 1000.0);
    }
    /* content: the playhead as a line rising with the position */
    kp_buf_puts(b, "<polyline fill=\"none\" stroke=\"#1565c0\" stroke-width=\"1.5\" points=\"");
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(trace, i);
        double p = json_number_value(json_object_get(e, "pos"));
        kp_buf_printf(b, "%.1f,%.1f ", xof(ev_t(e), tmax),
                      lane_y(0) + (LANE_H - 6) * (1 - p / posmax));
    }
    kp_buf_puts(b, "\"><title>playhead (currentTime) over virtual time</title></polyline>");
    double ad_start = -1, buf_start = -1, state_t = 0;
    const char *state = "idle";
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(trace, i);
        const char *t = ev_type(e);
        double at = ev_t(e);
        if (!strcmp(t, "adbreakstart") || !strcmp(t, "adbreakstarted")) {
            ad_start = at;
        } else if ((!strcmp(t, "adbreakend") || !strcmp(t, "adbreakended")) && ad_start >= 0) {
            span(b, 1, ad_start, at, tmax, "#ab47bc", "ad break");
            ad_start = -1;
        } else if (is_ad_event(t)) {
            tick(b, 1, at, tmax, "#8e24aa", tips ? e : NULL);
        }
        if (!strcmp(t, "playerstatechanged")) {
            const char *ns = kp_json_str(e, "payload.newState.type", "?");
            span(b, 2, state_t, at, tmax, state_color(state), tips ? state : NULL);
            state = ns;
            state_t = at;
        }
        if (!strcmp(t, "waiting") && buf_start < 0)
            buf_start = at;
        else if ((!strcmp(t, "playing") || !strcmp(t, "ended") || !strcmp(t, "pause")) &&
                 buf_start >= 0) {
            span(b, 3, buf_start, at, tmax, "#fb8c00", "waiting for data");
            buf_start = -1;
        }
        if (strcmp(t, "timeupdate") != 0)
            tick(b, 4, at, tmax, "#546e7a", tips ? e : NULL);
        const json_t *ms = json_object_get(json_object_get(e, "payload"), "miliSeconds");
        if (json_is_number(ms) && !tips) {
            double d = json_number_value(ms);
            span(b, 5, at - d, at, tmax, "#26a69a", NULL);
        } else if (json_is_number(ms)) {
            double d = json_number_value(ms);
            char *text = kp_json_dumps(json_object_get(e, "payload"));
            char title[600];
            snprintf(title, sizeof(title), "%s %s", t, text ? text : "");
            free(text);
            span(b, 5, at - d, at, tmax, "#26a69a", title);
        }
        if (!strcmp(t, "error"))
            tick(b, 6, at, tmax, "#d50000", e);
    }
    span(b, 2, state_t, tmax, tmax, state_color(state), state);
    if (ad_start >= 0)
        span(b, 1, ad_start, tmax, tmax, "#ab47bc", "ad break (not ended)");
    if (buf_start >= 0)
        span(b, 3, buf_start, tmax, tmax, "#fb8c00", "waiting for data (not resumed)");
    kp_buf_puts(b, "</svg>");
}

static void events_table(kp_buf *b, const json_t *trace)
{
    kp_buf_printf(b,
                  "<details><summary>recorded events (%zu)</summary><table>"
                  "<tr><th>seq</th><th>t ms</th><th>pos s</th><th>type</th><th>payload</th></tr>",
                  json_array_size(trace));
    size_t i;
    const json_t *e;
    json_array_foreach(trace, i, e)
    {
        char *p = kp_json_dumps(json_object_get(e, "payload"));
        kp_buf_printf(b, "<tr><td>%lld</td><td>%lld</td><td>%.3f</td><td>",
                      (long long)json_integer_value(json_object_get(e, "seq")),
                      (long long)json_integer_value(json_object_get(e, "t")),
                      json_number_value(json_object_get(e, "pos")));
        hx_xml_escape(b, ev_type(e));
        kp_buf_puts(b, "</td><td><code>");
        hx_xml_escape(b, p);
        kp_buf_puts(b, "</code></td></tr>");
        free(p);
    }
    kp_buf_puts(b, "</table></details>");
}

static void requests_table(kp_buf *b, const char *server, const json_t *j)
{
    kp_buf_printf(b,
                  "<details><summary>%s requests (%zu)</summary><table>"
                  "<tr><th>#</th><th>server</th><th>method</th><th>path</th><th>status</th>"
                  "<th>bytes</th></tr>",
                  server, json_array_size(j));
    size_t i;
    const json_t *r;
    json_array_foreach(j, i, r)
    {
        kp_buf_printf(b, "<tr><td>%zu</td><td>", i + 1);
        hx_xml_escape(b, kp_json_str(r, "server", server));
        kp_buf_puts(b, "</td><td>");
        hx_xml_escape(b, kp_json_str(r, "method", ""));
        kp_buf_puts(b, "</td><td><code>");
        hx_xml_escape(b, kp_json_str(r, "path", ""));
        kp_buf_printf(b, "</code></td><td>%lld</td><td>%lld</td></tr>", kp_json_int(r, "status", 0),
                      kp_json_int(r, "bytes", 0));
    }
    kp_buf_puts(b, "</table></details>");
}

static void scenario(kp_buf *b, size_t i, const hx_result *r)
{
    bool ok = r->status == HX_PASSED;
    kp_buf_printf(b, "<details class=\"sc\" id=\"s%zu\" data-status=\"%s\"%s><summary>", i,
                  ok ? "passed" : "failed", ok && !r->flaky ? "" : " open");
    kp_buf_printf(b, "<span class=\"st %s\">%s</span> ", status_class(r), status_text(r));
    hx_xml_escape(b, r->name);
    kp_buf_puts(b, "</summary><p><code>");
    hx_xml_escape(b, r->file);
    kp_buf_printf(b, "</code> &middot; %.0f ms wall &middot; %.3f s virtual &middot; %zu events",
                  r->wall_ms, (double)r->virtual_ms / 1000.0,
                  r->trace ? json_array_size(r->trace) : (size_t)0);
    if (r->attempts > 1)
        kp_buf_printf(b, " &middot; %u attempts", r->attempts);
    kp_buf_puts(b, "</p>");
    for (size_t k = 0; k < r->n_diagnostics; k++) {
        kp_buf_puts(b, "<div class=\"fail\">");
        hx_xml_escape(b, r->diagnostics[k]);
        kp_buf_puts(b, "</div>");
    }
    for (size_t k = 0; k < r->n_earlier; k++) {
        kp_buf_printf(b, "<div class=\"fail\">attempt %zu (%s): ", k + 1,
                      hx_status_name(r->earlier[k].status));
        hx_xml_escape(b, r->earlier[k].message);
        kp_buf_puts(b, "</div>");
    }
    for (size_t k = 0; k < r->n_failures; k++) {
        kp_buf_puts(b, "<div class=\"fail\">");
        hx_xml_escape(b, r->failures[k].message);
        kp_buf_puts(b, "</div>");
        if (r->failures[k].detail) {
            kp_buf_puts(b, "<p>expected and recorded, side by side:</p><pre class=\"diff\">");
            hx_xml_escape(b, r->failures[k].detail);
            kp_buf_puts(b, "</pre>");
        }
    }
    if (r->output && !ok) {
        kp_buf_puts(b, "<p>output of the scenario's process:</p><pre>");
        hx_xml_escape(b, r->output);
        kp_buf_puts(b, "</pre>");
    }
    /* a passing scenario's events and requests are in traces/: its timeline only */
    bool full = !ok || r->flaky;
    if (r->trace && json_array_size(r->trace))
        timeline(b, r->trace, full);
    if (full && r->trace && json_array_size(r->trace))
        events_table(b, r->trace);
    if (full && r->journal)
        requests_table(b, "back-end", r->journal);
    if (full && r->drm_journal)
        requests_table(b, "license server", r->drm_journal);
    kp_buf_puts(b, "</details>\n");
}

int hx_report_html(const hx_result *rs, size_t n, double wall_ms, kp_buf *b)
{
    size_t c[6] = {0}; /* passed failed timeout invalid flaky not-recorded */
    for (size_t i = 0; i < n; i++) {
        c[rs[i].status == HX_PASSED         ? 0
          : rs[i].status == HX_TIMEOUT      ? 2
          : rs[i].status == HX_INVALID      ? 3
          : rs[i].status == HX_NOT_RECORDED ? 5
                                            : 1]++;
        c[4] += rs[i].flaky;
    }
    kp_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                   "<title>kpsim report</title><style>");
    kp_buf_puts(b, CSS);
    kp_buf_puts(b, "</style><script>");
    kp_buf_puts(b, JS);
    kp_buf_puts(b, "</script></head><body>\n<h1>kpsim report</h1>");
    kp_buf_printf(b,
                  "<p class=\"sum\"><span class=\"passed\">%zu passed</span>"
                  "<span class=\"flaky\">%zu flaky</span><span class=\"failed\">%zu failed</span>"
                  "<span class=\"timeout\">%zu timeout</span>"
                  "<span class=\"invalid\">%zu invalid</span>"
                  "<span class=\"norec\">%zu not recorded</span> %zu scenarios in %.1f s</p>",
                  c[0], c[4], c[1], c[2], c[3], c[5], n, wall_ms / 1000.0);
    kp_buf_puts(b, "<div id=\"ctl\"><label><input type=\"checkbox\" "
                   "onchange=\"onlyBad(this.checked)\"> only failures</label></div>");
    kp_buf_puts(b, "<table><tr><th>status</th><th>scenario</th><th>file</th><th>wall ms</th>"
                   "<th>virtual s</th></tr>\n");
    for (size_t i = 0; i < n; i++) {
        const hx_result *r = &rs[i];
        kp_buf_printf(b,
                      "<tr data-status=\"%s\"><td><span class=\"st %s\">%s</span></td>"
                      "<td><a href=\"#s%zu\">",
                      r->status == HX_PASSED ? "passed" : "failed", status_class(r), status_text(r),
                      i);
        hx_xml_escape(b, r->name);
        kp_buf_puts(b, "</a></td><td><code>");
        hx_xml_escape(b, r->file);
        kp_buf_printf(b, "</code></td><td>%.0f</td><td>%.3f</td></tr>\n", r->wall_ms,
                      (double)r->virtual_ms / 1000.0);
    }
    kp_buf_puts(b, "</table>\n");
    for (size_t i = 0; i < n; i++)
        scenario(b, i, &rs[i]);
    kp_buf_puts(b, "</body></html>\n");
    return b->data ? KP_OK : KP_ENOMEM;
}
