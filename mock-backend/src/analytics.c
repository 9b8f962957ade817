/* analytics.c: the mock analytics sink (the KAVA endpoint, analytics.kaltura.com's
 * /api_v3/index.php?service=analytics&action=trackEvent) under /analytics/ on the back-end's
 * port.
 *
 * A beacon is answered the way the real server answers: HTTP 200, JSON
 * {"time": <session start, the back-end's clock in seconds>, "viewEventsEnabled": true}.
 * Its journal record carries "kind": "beacon", the eventType (number) and its name, and every
 * parameter of the URL and the body with numbers as numbers. */
#include "mbe_internal.h"

#include "kp/buf.h"

#include <stdlib.h>
#include <string.h>

/* KAVA's event types (playkit-js-kava kava-event-model.ts): the sink's own copy, the mock
 * back-end knowing nothing of the player. */
static const struct {
    int id;
    const char *name;
} event_types[] = {
    {1, "IMPRESSION"},
    {2, "PLAY_REQUEST"},
    {3, "PLAY"},
    {4, "RESUME"},
    {11, "PLAY_REACHED_25_PERCENT"},
    {12, "PLAY_REACHED_50_PERCENT"},
    {13, "PLAY_REACHED_75_PERCENT"},
    {14, "PLAY_REACHED_100_PERCENT"},
    {15, "PLAY_REACHED_90_PERCENT"},
    {21, "SHARE_CLICKED"},
    {22, "SHARE_NETWORK"},
    {23, "DOWNLOAD"},
    {24, "REPORT_CLICKED"},
    {25, "REPORT_SUBMITTED"},
    {31, "ENTER_FULLSCREEN"},
    {32, "EXIT_FULLSCREEN"},
    {33, "PAUSE"},
    {34, "REPLAY"},
    {35, "SEEK"},
    {36, "RELATED_OPEN"},
    {37, "RELATED_SELECTED"},
    {38, "CAPTIONS"},
    {39, "SOURCE_SELECTED"},
    {40, "INFO"},
    {41, "SPEED"},
    {42, "AUDIO_SELECTED"},
    {43, "FLAVOR_SWITCH"},
    {45, "BUFFER_START"},
    {46, "BUFFER_END"},
    {98, "ERROR"},
    {99, "VIEW"},
    {10002, "BUTTON_CLICKED"},
    {10003, "PAGE_LOAD"},
};

static const char *event_name(long long id)
{
    for (size_t i = 0; i < sizeof(event_types) / sizeof(event_types[0]); i++)
        if (event_types[i].id == id)
            return event_types[i].name;
    return NULL;
}

/* A query value as the beacon meant it: a JSON number when the text is one, else the string. */
static json_t *typed(const char *text)
{
    if (text && *text && strspn(text, "-0123456789.eE+") == strlen(text)) {
        json_error_t err;
        json_t *v = json_loads(text, JSON_DECODE_ANY, &err);
        if (json_is_number(v))
            return v;
        json_decref(v);
    }
    return json_string(text ? text : "");
}

void mbe_analytics_answer(mbe_server *s, const char *url, json_t *params, mbe_reply *r, json_t *rec)
{
    json_t *typed_params = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(params, k, v)
    {
        json_object_set_new(typed_params, k,
                            json_is_string(v) ? typed(json_string_value(v)) : json_incref(v));
    }
    json_object_set_new(rec, "server", json_string("analytics"));
    json_object_set_new(rec, "kind", json_string("beacon"));
    const char *service = json_string_value(json_object_get(typed_params, "service"));
    const char *action = json_string_value(json_object_get(typed_params, "action"));
    json_t *et = json_object_get(typed_params, "eventType");
    bool track = service && action && strcmp(service, "analytics") == 0 &&
                 strcmp(action, "trackEvent") == 0 && json_is_integer(et);
    if (json_is_integer(et)) {
        json_object_set_new(rec, "eventType", json_incref(et));
        const char *name = event_name(json_integer_value(et));
        if (name)
            json_object_set_new(rec, "eventName", json_string(name));
    }
    json_object_set_new(rec, "params", typed_params);
    r->content_type = "application/json";
    if (!track) {
        /* the real API: a KalturaAPIException inside HTTP 200 */
        KP_LOG_W(s->log, "mbe", "%s: not an analytics trackEvent with an eventType", url);
        json_t *ex = mbe_exception("MISSING_MANDATORY_PARAMETER", NULL, "Missing parameter \"%s\"",
                                   !service || strcmp(service, "analytics") != 0  ? "service"
                                   : !action || strcmp(action, "trackEvent") != 0 ? "action"
                                                                                  : "eventType");
        r->status = 200;
        r->body = json_dumps(ex, JSON_COMPACT);
        json_decref(ex);
    } else if (s->analytics_status && s->analytics_status != 200) {
        r->status = s->analytics_status;
        r->content_type = "text/html";
        r->body = kp_asprintf("<html><body><h1>%d</h1>analytics unavailable</body></html>\n",
                              s->analytics_status);
    } else {
        r->status = 200;
        r->body = kp_asprintf("{\"time\":%lld.0,\"viewEventsEnabled\":%s}", s->epoch,
                              s->analytics_no_views ? "false" : "true");
    }
    r->len = r->body ? strlen(r->body) : 0;
}
