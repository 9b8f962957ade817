/* test_scenario.c: unit tests of the scenario loader (hx/scenario.h).
 *
 * Bad inputs live in tests/data/scenarios/bad/ (one file per kind of problem) or inline; each
 * test asserts the exact, complete list of diagnostics, "file:line:column: message". Good
 * inputs live in tests/data/scenarios/good/. The group setup changes into $KPSIM_TEST_DATA so
 * that file names in the messages are short and stable ("scenarios/bad/x.yaml:3:1: ...").
 */
#include "hx/scenario.h"
#include "kp/drm.h"
#include "kp/err.h"
#include "kp/event.h"
#include "kp/jsonu.h"

#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static int group_setup(void **state)
{
    const char *dir = getenv("KPSIM_TEST_DATA");
    if (!dir || chdir(dir) != 0) {
        fprintf(stderr, "KPSIM_TEST_DATA is not set or not a directory\n");
        return -1;
    }
    return 0;
}

/* Prints what the loader said, so that a failing comparison shows the whole picture. */
static void dump(const char *what, const hx_diag *d)
{
    fprintf(stderr, "-- diagnostics for %s (%zu):\n", what, d->n);
    for (size_t i = 0; i < d->n; i++)
        fprintf(stderr, "   %s\n", d->msgs[i]);
}

static void check_diags(const char *what, int rc, hx_scenario *s, hx_diag *d,
                        const char *const *want)
{
    size_t n = 0;
    while (want[n])
        n++;
    bool same = rc == KP_EPARSE && s == NULL && d->n == n;
    for (size_t i = 0; same && i < n; i++)
        same = strcmp(d->msgs[i], want[i]) == 0;
    if (!same) {
        dump(what, d);
        fprintf(stderr, "-- expected rc %d (got %d), %zu message(s):\n", KP_EPARSE, rc, n);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, "   %s\n", want[i]);
    }
    hx_scenario_free(s);
    hx_diag_free(d);
    assert_true(same);
}

/* Loads scenarios/bad/<name> and asserts the exact diagnostics (a NULL-terminated list). */
static void expect_file(const char *name, ...)
{
    const char *want[32];
    size_t n = 0;
    va_list ap;
    va_start(ap, name);
    const char *m;
    while ((m = va_arg(ap, const char *)) != NULL && n < 31)
        want[n++] = m;
    va_end(ap);
    want[n] = NULL;

    char path[256];
    snprintf(path, sizeof(path), "scenarios/bad/%s", name);
    hx_diag d = {0};
    hx_scenario *s = NULL;
    int rc = hx_scenario_load(path, &s, &d);
    check_diags(path, rc, s, &d, want);
}

/* The same for an inline text, named "inline.yaml" in the messages. */
static void expect_text(const char *text, ...)
{
    const char *want[32];
    size_t n = 0;
    va_list ap;
    va_start(ap, text);
    const char *m;
    while ((m = va_arg(ap, const char *)) != NULL && n < 31)
        want[n++] = m;
    va_end(ap);
    want[n] = NULL;

    hx_diag d = {0};
    hx_scenario *s = NULL;
    int rc = hx_scenario_load_buffer("inline.yaml", text, strlen(text), &s, &d);
    check_diags(text, rc, s, &d, want);
}

static hx_scenario *load_good(const char *path)
{
    hx_diag d = {0};
    hx_scenario *s = NULL;
    int rc = hx_scenario_load(path, &s, &d);
    if (rc != 0)
        dump(path, &d);
    assert_int_equal(rc, 0);
    assert_int_equal(d.n, 0);
    assert_non_null(s);
    hx_diag_free(&d);
    return s;
}

static hx_scenario *load_good_text(const char *text)
{
    hx_diag d = {0};
    hx_scenario *s = NULL;
    int rc = hx_scenario_load_buffer("inline.yaml", text, strlen(text), &s, &d);
    if (rc != 0)
        dump(text, &d);
    assert_int_equal(rc, 0);
    assert_non_null(s);
    hx_diag_free(&d);
    return s;
}

static void assert_json(const json_t *have, const char *want_text)
{
    json_error_t err;
    json_t *want = json_loads(want_text, 0, &err);
    assert_non_null(want);
    assert_non_null(have);
    if (!json_equal(want, have)) {
        char *h = json_dumps(have, JSON_COMPACT | JSON_SORT_KEYS);
        fprintf(stderr, "-- JSON differs: want %s, have %s\n", want_text, h);
        free(h);
    }
    assert_true(json_equal(want, have));
    json_decref(want);
}

/* ---- bad inputs, one kind per test ------------------------------------------------------ */

static void test_yaml_syntax_error(void **state)
{
    expect_file("syntax_error.yaml",
                "scenarios/bad/syntax_error.yaml:4:2: YAML syntax error: did not find expected "
                "key (while parsing a block mapping at line 1, column 1)",
                NULL);
    expect_text("name: [unclosed\nsteps: [play]\n",
                "inline.yaml:2:6: YAML syntax error: did not find expected ',' or ']' (while "
                "parsing a flow sequence at line 1, column 7)",
                NULL);
}

static void test_bad_encoding(void **state)
{
    expect_text("name: caf\xff\nsteps: [play]\n",
                "inline.yaml:1:10: YAML syntax error: invalid leading UTF-8 octet", NULL);
}

static void test_unknown_key_top_level(void **state)
{
    expect_file("unknown_key_top.yaml",
                "scenarios/bad/unknown_key_top.yaml:2:1: unknown top-level key 'descripton' (did "
                "you mean 'description'?)",
                NULL);
    /* nothing close enough: no suggestion */
    expect_text("name: x\nsteps: [play]\nflavour: vanilla\n",
                "inline.yaml:3:1: unknown top-level key 'flavour'", NULL);
}

static void test_unknown_key_nested(void **state)
{
    expect_file("unknown_key_nested.yaml",
                "scenarios/bad/unknown_key_nested.yaml:5:7: unknown key 'durration' in "
                "backend.entries[0] (did you mean 'duration'?)",
                NULL);
}

static void test_unknown_key_player_config(void **state)
{
    expect_file("unknown_key_config.yaml",
                "scenarios/bad/unknown_key_config.yaml:4:16: unknown key 'autoPlay' in "
                "player.config.playback (did you mean 'autoplay'?)",
                "scenarios/bad/unknown_key_config.yaml:5:5: unknown key 'plugin' in "
                "player.config (did you mean 'plugins'?)",
                NULL);
}

static void test_wrong_type_string_for_number(void **state)
{
    expect_file("type_string_for_number.yaml",
                "scenarios/bad/type_string_for_number.yaml:5:11: steps[2].seek: expected a "
                "number of seconds, got 'abc'",
                NULL);
    /* quoted numbers are text */
    expect_text("name: x\nsteps:\n  - seek: \"5\"\n",
                "inline.yaml:3:11: steps[0].seek: expected a number of seconds, got '5'", NULL);
}

static void test_wrong_type_list_for_mapping(void **state)
{
    expect_file("type_list_for_mapping.yaml",
                "scenarios/bad/type_list_for_mapping.yaml:3:3: backend: expected a mapping, got "
                "a list",
                NULL);
}

static void test_wrong_type_bad_duration(void **state)
{
    expect_file("type_bad_duration.yaml",
                "scenarios/bad/type_bad_duration.yaml:4:11: steps[1].wait: expected a duration "
                "such as 1.5s, 500ms, 2m or a number of seconds, got '5 sec'",
                NULL);
    expect_text("name: x\ntimeout: 0s\nsteps:\n  - wait: 0\n",
                "inline.yaml:2:10: timeout: must be greater than 0, got '0s'",
                "inline.yaml:4:11: steps[0].wait: must be greater than 0, got 0", NULL);
}

static void test_wrong_type_bad_bandwidth(void **state)
{
    expect_file("type_bad_bandwidth.yaml",
                "scenarios/bad/type_bad_bandwidth.yaml:3:24: player.network.bandwidth: expected "
                "a bandwidth greater than 0 such as 8mbps, 500kbps or a number of bit/s, got "
                "'fast'",
                NULL);
    expect_text("name: x\nplayer: {network: {bandwidth: 0, latency: -1ms}}\nsteps: [play]\n",
                "inline.yaml:2:31: player.network.bandwidth: must be greater than 0, got 0",
                "inline.yaml:2:43: player.network.latency: expected a duration such as 1.5s, "
                "500ms, 2m or a number of seconds, got '-1ms'",
                NULL);
}

static void test_wrong_type_volume_out_of_range(void **state)
{
    expect_file("type_volume_range.yaml",
                "scenarios/bad/type_volume_range.yaml:4:17: steps[1].set_volume: must be between "
                "0 and 1, got 1.5",
                NULL);
    expect_text("name: x\nplayer: {config: {playback: {volume: -0.1}}}\nsteps: [play]\n",
                "inline.yaml:2:38: player.config.playback.volume: must be between 0 and 1, got "
                "-0.1",
                NULL);
}

static void test_wrong_type_others(void **state)
{
    expect_text("name: 12345\n"
                "tags: smoke\n"
                "steps:\n"
                "  - set_muted: \"true\"\n"
                "  - play: 3\n"
                "expect:\n"
                "  events: {ignore: [playing, 5]}\n",
                "inline.yaml:1:7: name: expected text, got 12345 (quote it to make it text)",
                "inline.yaml:2:7: tags: expected a list, got 'smoke'",
                "inline.yaml:4:16: steps[0].set_muted: expected true or false, got 'true'",
                "inline.yaml:5:11: steps[1].play: takes no value, got 3",
                "inline.yaml:7:30: expect.events.ignore[1]: expected text, got 5 (quote it to "
                "make it text)",
                NULL);
}

static void test_missing_name(void **state)
{
    expect_file("missing_name.yaml",
                "scenarios/bad/missing_name.yaml:2:1: missing required key 'name'", NULL);
}

static void test_missing_steps(void **state)
{
    expect_file("missing_steps.yaml",
                "scenarios/bad/missing_steps.yaml:1:1: missing required key 'steps'", NULL);
    expect_text("name: x\nsteps: []\n", "inline.yaml:2:8: steps: must list at least one step",
                NULL);
}

static void test_missing_entry_id(void **state)
{
    expect_file("missing_entry_id.yaml",
                "scenarios/bad/missing_entry_id.yaml:4:7: missing required key 'id' in "
                "backend.entries[0]",
                NULL);
}

static void test_step_names_missing_entry(void **state)
{
    expect_file("unknown_entry.yaml",
                "scenarios/bad/unknown_entry.yaml:7:28: steps[0].load_media.entry_id: no entry "
                "'0_nope' in backend.entries (known: 0_vod00001, 0_vod00002)",
                NULL);
    expect_file("unknown_entry_default.yaml",
                "scenarios/bad/unknown_entry_default.yaml:4:17: steps[0].load_media.entry_id: no "
                "entry '0_nope' in backend.entries (backend.entries is left out, so the only "
                "entry is the default 0_vod00001)",
                NULL);
    expect_text("name: x\nsteps:\n  - load_media: {reference_id: r1}\n",
                "inline.yaml:3:32: steps[0].load_media.reference_id: no entry in backend.entries "
                "has reference_id 'r1' (no entry has a reference_id)",
                NULL);
}

static void test_duplicate_entry_id(void **state)
{
    expect_file("duplicate_entry_id.yaml",
                "scenarios/bad/duplicate_entry_id.yaml:6:11: backend.entries[2].id: duplicate "
                "entry id '0_vod00001' (first used at line 4)",
                NULL);
}

static void test_unknown_event_in_sequence(void **state)
{
    expect_file("unknown_event.yaml",
                "scenarios/bad/unknown_event.yaml:7:9: expect.events.sequence[1]: unknown event "
                "'playng' (did you mean 'playing'?)",
                NULL);
    expect_text("name: x\n"
                "steps:\n"
                "  - wait_for: {event: plaing}\n"
                "  - play: {}\n"
                "    expect: [{sourceselect: {format: hls}}]\n"
                "expect:\n"
                "  events:\n"
                "    ignore: [timeupdat]\n"
                "    sequence:\n"
                "      - {any_order: [mutechange, volumechnage]}\n",
                "inline.yaml:3:23: steps[0].wait_for.event: unknown event 'plaing' (did you mean "
                "'playing'?)",
                "inline.yaml:5:15: steps[1].expect[0]: unknown event 'sourceselect' (did you mean "
                "'sourceselected'?)",
                "inline.yaml:8:14: expect.events.ignore[0]: unknown event 'timeupdat' (did you "
                "mean 'timeupdate'?)",
                "inline.yaml:10:34: expect.events.sequence[0].any_order[1]: unknown event "
                "'volumechnage' (did you mean 'volumechange'?)",
                NULL);
}

static void test_sequence_shapes(void **state)
{
    expect_text("name: x\n"
                "steps: [play]\n"
                "expect:\n"
                "  events:\n"
                "    sequence:\n"
                "      - {any_order: [play, ...]}\n"
                "      - {any_order: [{any_order: [play]}]}\n"
                "      - {any_order: []}\n"
                "      - {play: {}, pause: {}}\n"
                "      - {play: 5}\n"
                "      - 42\n",
                "inline.yaml:6:28: expect.events.sequence[0].any_order[1]: '...' cannot be used "
                "inside any_order",
                "inline.yaml:7:22: expect.events.sequence[1].any_order[0]: any_order groups "
                "cannot be nested",
                "inline.yaml:8:21: expect.events.sequence[2].any_order: must list at least one "
                "event",
                "inline.yaml:9:9: expect.events.sequence[3]: expected one event per item, got a "
                "mapping with 2 keys",
                "inline.yaml:10:16: expect.events.sequence[4].play: expected a payload mapping "
                "(or nothing), got 5",
                "inline.yaml:11:9: expect.events.sequence[5]: expected an event name, '...', "
                "{event: payload} or {any_order: [...]}, got 42",
                NULL);
}

static void test_not_supported_yet(void **state)
{
    expect_file(
        "not_supported.yaml",
        "scenarios/bad/not_supported.yaml:5:13: backend.entries[0].type 'live' is not supported "
        "yet",
        "scenarios/bad/not_supported.yaml:6:15: backend.ads.vast: expected a list, got "
        "'preroll.xml'",
        "scenarios/bad/not_supported.yaml:8:13: player.platform: expected one of chrome, firefox, "
        "edge, safari, ios, android or smarttv, got 'netscape'",
        "scenarios/bad/not_supported.yaml:10:5: steps[0]: step 'change_media' is not supported yet",
        "scenarios/bad/not_supported.yaml:11:5: steps[1]: step 'select_audio' is not supported "
        "yet",
        NULL);
    expect_text("name: x\n"
                "backend:\n"
                "  faults: [{server: cdn}]\n"
                "  entries:\n"
                "    - {id: a}\n"
                "steps: [change_media, set_network, select_text]\n",
                "inline.yaml:3:12: backend.faults[0]: missing required key 'reply' in a fault rule",
                "inline.yaml:6:9: steps[0]: step 'change_media' is not supported yet",
                "inline.yaml:6:23: steps[1]: step 'set_network' needs a value (set_network: "
                "{bandwidth: 500kbps})",
                "inline.yaml:6:36: steps[2]: step 'select_text' is not supported yet", NULL);
}

static void test_several_errors_all_reported(void **state)
{
    expect_file(
        "several_errors.yaml", "scenarios/bad/several_errors.yaml:1:7: name: must not be empty",
        "scenarios/bad/several_errors.yaml:2:10: timeout: must be greater than 0, got -5",
        "scenarios/bad/several_errors.yaml:4:15: backend.partner_id: expected a whole number, got "
        "12.5",
        "scenarios/bad/several_errors.yaml:7:13: backend.entries[0].type: expected one of vod, "
        "live, audio or image, got 'film'",
        "scenarios/bad/several_errors.yaml:8:17: backend.entries[0].duration: must be greater "
        "than 0 and at most 14400, got 20000",
        "scenarios/bad/several_errors.yaml:9:22: backend.entries[0].formats[1]: format 'hls' is "
        "listed twice",
        "scenarios/bad/several_errors.yaml:10:26: backend.entries[0].renditions[1]: the height "
        "must be even and from 144 to 2160, got '361p'",
        "scenarios/bad/several_errors.yaml:10:32: backend.entries[0].renditions[2]: expected a "
        "rendition such as 360p (a height and 'p'), got 'hd'",
        "scenarios/bad/several_errors.yaml:11:15: backend.entries[0].status: expected one of "
        "ready, import, preconvert or deleted, got 'gone'",
        "scenarios/bad/several_errors.yaml:13:5: steps[0]: unknown step 'lod_media' (did you mean "
        "'load_media'?)",
        "scenarios/bad/several_errors.yaml:15:5: steps[1]: one action per step: found 'pause' "
        "after 'seek' (make them two steps)",
        "scenarios/bad/several_errors.yaml:16:32: steps[2].wait_for: give 'event' or 'position', "
        "not both",
        "scenarios/bad/several_errors.yaml:17:16: steps[3].set_muted: expected true or false, got "
        "'yes'",
        "scenarios/bad/several_errors.yaml:19:10: expect.error: expected null (no error allowed) "
        "or a mapping such as {code: 7002}, got 7002",
        "scenarios/bad/several_errors.yaml:21:16: expect.requests[0].server: expected one of api, "
        "cdn, drm, ads or analytics, got 'dmr' (did you mean 'drm'?)",
        "scenarios/bad/several_errors.yaml:21:28: expect.requests[0].count: must not be negative, "
        "got -1",
        NULL);
}

static void test_step_forms(void **state)
{
    expect_text("name: x\n"
                "steps:\n"
                "  - seek\n"
                "  - paly\n"
                "  - expect: [play]\n"
                "  - load_media: {}\n"
                "  - load_media: {entry_id: 0_vod00001, reference_id: r}\n"
                "  - wait_for: {timeout: 1s}\n"
                "  - wait_for: {position: 2, payload: {a: 1}}\n"
                "  - [play]\n"
                "  - wait: 1s\n"
                "    wiat: 2s\n",
                "inline.yaml:3:5: steps[0]: step 'seek' needs a value (seek: SECONDS)",
                "inline.yaml:4:5: steps[1]: unknown step 'paly' (did you mean 'play'?)",
                "inline.yaml:5:5: steps[2]: no action in this step (only 'expect')",
                "inline.yaml:6:17: steps[3].load_media: needs 'entry_id' or 'reference_id'",
                "inline.yaml:7:40: steps[4].load_media: give 'entry_id' or 'reference_id', not "
                "both",
                "inline.yaml:8:15: steps[5].wait_for: needs 'event' or 'position'",
                "inline.yaml:9:29: steps[6].wait_for.payload: only applies when waiting for an "
                "'event'",
                "inline.yaml:10:5: steps[7]: expected a step such as 'play' or {seek: 5}, got a "
                "list",
                "inline.yaml:12:5: steps[8]: one action per step: found 'wiat' after 'wait' (make "
                "them two steps)",
                NULL);
}

static void test_entry_values(void **state)
{
    expect_text("name: x\n"
                "backend:\n"
                "  partner_id: -1\n"
                "  entries:\n"
                "    - id: \"\"\n"
                "      access: block\n"
                "      formats: [hls, hls]\n"
                "      renditions: [0360p, 4320p]\n"
                "    - id: b\n"
                "      access: {block: GEO}\n"
                "      formats: [hsl]\n"
                "steps: [play]\n",
                "inline.yaml:3:15: backend.partner_id: must not be negative, got -1",
                "inline.yaml:5:11: backend.entries[0].id: must not be empty",
                "inline.yaml:6:15: backend.entries[0].access: expected 'allow' or {block: CODE}, "
                "got 'block'",
                "inline.yaml:7:22: backend.entries[0].formats[1]: format 'hls' is listed twice",
                "inline.yaml:8:20: backend.entries[0].renditions[0]: expected a rendition such as "
                "360p (a height and 'p'), got '0360p'",
                "inline.yaml:8:27: backend.entries[0].renditions[1]: the height must be even and "
                "from 144 to 2160, got '4320p'",
                "inline.yaml:10:23: backend.entries[1].access.block: expected one of "
                "COUNTRY_RESTRICTED, SITE_RESTRICTED, IP_RESTRICTED, SESSION_RESTRICTED, "
                "USER_AGENT_RESTRICTED or SCHEDULED_RESTRICTED, got 'GEO'",
                "inline.yaml:11:17: backend.entries[1].formats[0]: expected one of hls, dash or "
                "progressive, got 'hsl' (did you mean 'hls'?)",
                NULL);
}

static void test_player_config_rules(void **state)
{
    expect_text("name: x\n"
                "player:\n"
                "  config:\n"
                "    provider: {partnerId: 1, uiConfId: abc}\n"
                "    playback:\n"
                "      preload: metadata\n"
                "      streamPriority: [{engine: html5}, {engine: html5, format: mp4}]\n"
                "      preferNative: {hls: yes, mp4: true}\n"
                "    abr: true\n"
                "steps: [play]\n",
                "inline.yaml:4:16: player.config.provider.partnerId: set backend.partner_id "
                "instead (the harness fills this in)",
                "inline.yaml:4:40: player.config.provider.uiConfId: expected a whole number, got "
                "'abc'",
                "inline.yaml:6:16: player.config.playback.preload: expected none or auto, got "
                "'metadata'",
                "inline.yaml:7:24: missing required key 'format' in "
                "player.config.playback.streamPriority[0]",
                "inline.yaml:7:65: player.config.playback.streamPriority[1].format: expected one "
                "of hls, dash or progressive, got 'mp4'",
                "inline.yaml:8:27: player.config.playback.preferNative.hls: expected true or "
                "false, got 'yes'",
                "inline.yaml:8:32: unknown key 'mp4' in player.config.playback.preferNative",
                "inline.yaml:9:10: player.config.abr: expected a mapping, got true", NULL);
}

static void test_empty_file(void **state)
{
    expect_file("empty.yaml",
                "scenarios/bad/empty.yaml:1:1: the file is empty: a scenario needs at least 'name' "
                "and 'steps'",
                NULL);
    expect_text("",
                "inline.yaml:1:1: the file is empty: a scenario needs at least 'name' and "
                "'steps'",
                NULL);
    expect_text("---\n",
                "inline.yaml:1:1: the file is empty: a scenario needs at least 'name' "
                "and 'steps'",
                NULL);
}

static void test_top_level_not_a_mapping(void **state)
{
    expect_file("top_level_list.yaml",
                "scenarios/bad/top_level_list.yaml:1:1: expected a mapping of keys (name, steps, "
                "...) at the top level, got a list",
                NULL);
    expect_text("just words\n",
                "inline.yaml:1:1: expected a mapping of keys (name, steps, ...) at the top level, "
                "got 'just words'",
                NULL);
}

static void test_several_documents(void **state)
{
    expect_file("two_documents.yaml",
                "scenarios/bad/two_documents.yaml:3:1: a second YAML document: a scenario file "
                "holds exactly one",
                NULL);
}

static void test_duplicate_key(void **state)
{
    expect_file("duplicate_key.yaml",
                "scenarios/bad/duplicate_key.yaml:3:1: duplicate key 'name' (first given at line "
                "1, column 1)",
                NULL);
}

static void test_anchors_aliases_tags(void **state)
{
    expect_file("anchors.yaml",
                "scenarios/bad/anchors.yaml:4:7: YAML anchors (&e) are not supported: write the "
                "value out in full where it is needed",
                "scenarios/bad/anchors.yaml:6:17: YAML aliases (*e) are not supported: write the "
                "value out in full",
                NULL);
    expect_text("name: !!str x\nsteps: !custom [play]\n",
                "inline.yaml:1:7: YAML tags (!!str) are not supported: the loader types values "
                "itself",
                "inline.yaml:2:8: YAML tags (!custom) are not supported: the loader types values "
                "itself",
                NULL);
}

static void test_nesting_and_complex_keys(void **state)
{
    /* 70 nested lists: the tree stops at 64 levels, whatever the input */
    char text[256] = "name: x\nsteps: ";
    size_t k = strlen(text);
    for (int i = 0; i < 70; i++)
        text[k++] = '[';
    for (int i = 0; i < 70; i++)
        text[k++] = ']';
    text[k] = '\0';
    expect_text(text, "inline.yaml:2:71: nesting deeper than 64 levels", NULL);
    expect_text("name: x\n? [a]\n: b\nsteps: [play]\nwait: 1e300\n",
                "inline.yaml:2:3: a mapping key must be plain text, not a list",
                "inline.yaml:5:1: unknown top-level key 'wait'", NULL);
    expect_text("name: x\nsteps:\n  - wait: 1e300\n",
                "inline.yaml:3:11: steps[0].wait: is too large, got 1e300", NULL);
}

static void test_unreadable_file(void **state)
{
    hx_diag d = {0};
    hx_scenario *s = (hx_scenario *)&d; /* must be reset to NULL */
    int rc = hx_scenario_load("scenarios/no/such/file.yaml", &s, &d);
    assert_int_equal(rc, KP_ENOENT);
    assert_null(s);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.msgs[0], "scenarios/no/such/file.yaml: cannot read the file: no such "
                                   "item");
    assert_int_equal(d.locs[0].line, 0);
    hx_diag_free(&d);
}

/* ---- good inputs ------------------------------------------------------------------------ */

static void test_full_scenario(void **state)
{
    hx_scenario *s = load_good("scenarios/good/full.yaml");
    assert_string_equal(s->file, "scenarios/good/full.yaml");
    assert_string_equal(s->name, "HLS VOD plays to the end");
    assert_string_equal(s->description, "Muted autoplay, seek, pause, resume, end.");
    assert_int_equal(s->n_tags, 3);
    assert_string_equal(s->tags[0], "playback");
    assert_string_equal(s->tags[1], "hls");
    assert_string_equal(s->tags[2], "smoke");
    assert_true(s->timeout_s == 90.0);

    /* backend */
    assert_string_equal(s->backend.kind, "ovp");
    assert_int_equal(s->backend.partner_id, 2222);
    assert_false(s->backend.entries_defaulted);
    assert_int_equal(s->backend.n_entries, 2);
    const hx_entry *e = &s->backend.entries[0];
    assert_string_equal(e->id, "0_vod00001");
    assert_string_equal(e->name, "Demo VOD");
    assert_string_equal(e->type, "vod");
    assert_true(e->duration == 10.0);
    assert_int_equal(e->formats, HX_FORMAT_HLS | HX_FORMAT_DASH | HX_FORMAT_PROGRESSIVE);
    assert_int_equal(e->n_formats, 3);
    assert_int_equal(e->format_order[0], HX_FORMAT_DASH);
    assert_int_equal(e->format_order[1], HX_FORMAT_HLS);
    assert_int_equal(e->format_order[2], HX_FORMAT_PROGRESSIVE);
    assert_int_equal(e->n_renditions, 3);
    assert_string_equal(e->renditions[0], "720p");
    assert_string_equal(e->renditions[1], "360p");
    assert_string_equal(e->renditions[2], "180p");
    assert_string_equal(e->status, "ready");
    assert_null(e->block);
    assert_null(e->reference_id);
    assert_int_equal(e->loc.line, 11);
    assert_int_equal(e->loc.col, 7);
    e = &s->backend.entries[1];
    assert_string_equal(e->id, "0_blocked1");
    assert_string_equal(e->name, "0_blocked1"); /* name defaults to the id */
    assert_true(e->duration == 12.5);
    assert_int_equal(e->formats, HX_FORMAT_HLS);
    assert_int_equal(e->n_formats, 1);
    assert_int_equal(e->format_order[0], HX_FORMAT_HLS);
    assert_int_equal(e->n_renditions, 2);
    assert_string_equal(e->renditions[0], "360p");
    assert_string_equal(e->renditions[1], "180p");
    assert_string_equal(e->status, "import");
    assert_string_equal(e->block, "COUNTRY_RESTRICTED");
    assert_string_equal(e->reference_id, "ref-42");
    assert_int_equal(e->loc.line, 21);

    /* player */
    assert_string_equal(s->player.platform, "chrome");
    assert_int_equal(s->player.bandwidth_bps, 1500000);
    assert_int_equal(s->player.latency, KP_MS(35));
    assert_json(s->player.config,
                "{\"playback\": {\"autoplay\": true, \"muted\": true, \"volume\": 0.5,"
                " \"preload\": \"auto\", \"streamPriority\": [{\"engine\": \"html5\", \"format\":"
                " \"hls\"}, {\"engine\": \"html5\", \"format\": \"dash\"}], \"preferNative\":"
                " {\"hls\": false}, \"startTime\": 0, \"textLanguage\": \"en\"},"
                " \"provider\": {\"ks\": \"abc\", \"uiConfId\": 4242, \"env\": {\"serviceUrl\":"
                " \"http://x\"}}, \"ui\": {}}");

    /* steps */
    assert_int_equal(s->n_steps, 14);
    const hx_step *st = s->steps;
    assert_int_equal(st[0].kind, HX_STEP_LOAD_MEDIA);
    assert_string_equal(st[0].entry_id, "0_vod00001");
    assert_null(st[0].reference_id);
    assert_int_equal(st[0].loc.line, 49);
    assert_int_equal(st[0].loc.col, 5);
    assert_false(st[0].has_expect);
    assert_int_equal(st[1].kind, HX_STEP_WAIT_FOR);
    assert_string_equal(st[1].event, "playing");
    assert_null(st[1].payload);
    assert_false(st[1].for_position);
    assert_int_equal(st[1].timeout, KP_SEC(30));
    assert_int_equal(st[2].kind, HX_STEP_SEEK);
    assert_true(st[2].number == 5.0);
    assert_int_equal(st[3].kind, HX_STEP_WAIT);
    assert_int_equal(st[3].duration, KP_SEC(1));
    assert_int_equal(st[4].kind, HX_STEP_PAUSE);
    assert_int_equal(st[4].loc.line, 53);
    assert_int_equal(st[5].kind, HX_STEP_WAIT);
    assert_int_equal(st[5].duration, KP_MS(500));
    assert_int_equal(st[6].kind, HX_STEP_PLAY);
    assert_int_equal(st[7].kind, HX_STEP_SET_MUTED);
    assert_false(st[7].flag);
    assert_int_equal(st[8].kind, HX_STEP_SET_VOLUME);
    assert_true(st[8].number == 0.25);
    assert_int_equal(st[9].kind, HX_STEP_LOAD_MEDIA);
    assert_null(st[9].entry_id);
    assert_string_equal(st[9].reference_id, "ref-42");
    assert_int_equal(st[10].kind, HX_STEP_WAIT_FOR);
    assert_true(st[10].for_position);
    assert_null(st[10].event);
    assert_true(st[10].number == 7.5);
    assert_int_equal(st[10].timeout, KP_SEC(120));
    assert_int_equal(st[11].kind, HX_STEP_WAIT_FOR);
    assert_string_equal(st[11].event, "sourceselected");
    assert_json(st[11].payload, "{\"format\": \"hls\"}");
    assert_int_equal(st[11].timeout, KP_SEC(10));
    assert_int_equal(st[12].kind, HX_STEP_PLAY);
    assert_true(st[12].has_expect);
    assert_int_equal(st[12].expect.n, 2);
    assert_int_equal(st[12].expect.loc.line, 66);
    assert_int_equal(st[12].expect.items[0].kind, HX_MATCH_EVENT);
    assert_string_equal(st[12].expect.items[0].event, "play");
    assert_int_equal(st[12].expect.items[1].kind, HX_MATCH_ELLIPSIS);
    assert_int_equal(st[12].expect.items[1].loc.line, 67);
    assert_int_equal(st[13].kind, HX_STEP_WAIT_FOR);
    assert_string_equal(st[13].event, "ended");

    /* expect */
    assert_int_equal(s->expect.loc.line, 71);
    assert_int_equal(s->expect.n_ignore, 2);
    assert_string_equal(s->expect.ignore[0], "timeupdate");
    assert_string_equal(s->expect.ignore[1], "progress");
    assert_true(s->expect.has_sequence);
    const hx_seq *q = &s->expect.sequence;
    assert_int_equal(q->n, 5);
    assert_int_equal(q->loc.line, 74);
    assert_int_equal(q->items[0].kind, HX_MATCH_EVENT);
    assert_string_equal(q->items[0].event, "changesourcestarted");
    assert_null(q->items[0].payload);
    assert_int_equal(q->items[0].loc.line, 74);
    assert_int_equal(q->items[0].loc.col, 9);
    assert_int_equal(q->items[1].kind, HX_MATCH_EVENT);
    assert_string_equal(q->items[1].event, "sourceselected");
    assert_json(q->items[1].payload, "{\"format\": \"hls\"}");
    assert_int_equal(q->items[2].kind, HX_MATCH_ANY_ORDER);
    assert_null(q->items[2].event);
    assert_int_equal(q->items[2].n_group, 2);
    assert_int_equal(q->items[2].group[0].kind, HX_MATCH_EVENT);
    assert_string_equal(q->items[2].group[0].event, "mutechange");
    assert_null(q->items[2].group[0].payload);
    assert_string_equal(q->items[2].group[1].event, "volumechange");
    assert_json(q->items[2].group[1].payload, "{\"volume\": 0.5}");
    assert_int_equal(q->items[2].group[1].loc.line, 76);
    assert_int_equal(q->items[2].group[1].loc.col, 34);
    assert_int_equal(q->items[3].kind, HX_MATCH_EVENT);
    assert_string_equal(q->items[3].event, "playing");
    assert_null(q->items[3].payload);
    assert_int_equal(q->items[4].kind, HX_MATCH_ELLIPSIS);
    assert_true(s->expect.has_error);
    assert_null(s->expect.error);
    assert_int_equal(s->expect.n_requests, 2);
    assert_string_equal(s->expect.requests[0].server, "api");
    assert_json(s->expect.requests[0].match,
                "{\"service\": \"baseEntry\", \"action\": \"getPlaybackContext\"}");
    assert_int_equal(s->expect.requests[0].count, 1);
    assert_int_equal(s->expect.requests[0].loc.line, 81);
    assert_string_equal(s->expect.requests[1].server, "cdn");
    assert_json(s->expect.requests[1].match, "{\"path\": \"*.m3u8\"}");
    assert_int_equal(s->expect.requests[1].count, -1);

    /* layout: expect is the last top-level key */
    assert_int_equal(s->layout.expect_line, 70);
    assert_int_equal(s->layout.after_expect_line, 0);
    hx_scenario_free(s);
}

static void test_defaults(void **state)
{
    hx_scenario *s = load_good("scenarios/good/minimal.yaml");
    assert_string_equal(s->name, "minimal");
    assert_null(s->description);
    assert_int_equal(s->n_tags, 0);
    assert_true(s->timeout_s == 60.0);
    assert_string_equal(s->backend.kind, "ovp");
    assert_int_equal(s->backend.partner_id, 1234567);
    assert_true(s->backend.entries_defaulted);
    assert_int_equal(s->backend.n_entries, 1);
    const hx_entry *e = &s->backend.entries[0];
    assert_string_equal(e->id, "0_vod00001");
    assert_string_equal(e->name, "Demo VOD");
    assert_string_equal(e->type, "vod");
    assert_true(e->duration == 10.0);
    assert_int_equal(e->formats, HX_FORMAT_HLS);
    assert_int_equal(e->n_formats, 1);
    assert_int_equal(e->format_order[0], HX_FORMAT_HLS);
    assert_int_equal(e->n_renditions, 2);
    assert_string_equal(e->renditions[0], "360p");
    assert_string_equal(e->renditions[1], "180p");
    assert_string_equal(e->status, "ready");
    assert_null(e->block);
    assert_null(e->reference_id);
    assert_string_equal(s->player.platform, "chrome");
    assert_int_equal(s->player.bandwidth_bps, 8000000);
    assert_int_equal(s->player.latency, KP_MS(20));
    assert_json(s->player.config, "{}");
    assert_int_equal(s->n_steps, 2);
    assert_int_equal(s->steps[1].kind, HX_STEP_PLAY);
    assert_int_equal(s->expect.n_ignore, 0);
    assert_false(s->expect.has_sequence);
    assert_false(s->expect.has_error);
    assert_null(s->expect.error);
    assert_int_equal(s->expect.n_requests, 0);
    assert_int_equal(s->expect.loc.line, 0);
    assert_int_equal(s->layout.expect_line, 0);
    assert_int_equal(s->layout.after_expect_line, 0);
    hx_scenario_free(s);

    /* a backend without entries still gets the default entry */
    s = load_good_text("name: x\nbackend: {partner_id: 0}\nsteps: [play]\n");
    assert_int_equal(s->backend.partner_id, 0);
    assert_true(s->backend.entries_defaulted);
    assert_int_equal(s->backend.n_entries, 1);
    assert_string_equal(s->backend.entries[0].id, "0_vod00001");
    hx_scenario_free(s);
}

static void test_expect_first_layout_and_error(void **state)
{
    hx_scenario *s = load_good("scenarios/good/expect_first.yaml");
    assert_int_equal(s->layout.expect_line, 1);
    assert_int_equal(s->layout.after_expect_line, 3);
    assert_true(s->expect.has_error);
    assert_json(
        s->expect.error,
        "{\"severity\": 2, \"category\": 7, \"code\": 7002, \"data\": {\"reason\": \"x\"}}");
    assert_false(s->expect.has_sequence);
    hx_scenario_free(s);
}

static void test_scalar_typing(void **state)
{
    /* only plain true/false are booleans; null, ~ and nothing are null; quotes make text */
    hx_scenario *s = load_good_text("name: \"true\"\n"
                                    "description: '12'\n"
                                    "tags: [yes, no, on, 'null']\n"
                                    "steps:\n"
                                    "  - set_muted: true\n"
                                    "  - play: ~\n"
                                    "  - pause: null\n"
                                    "  - play:\n"
                                    "  - seek: 1e1\n"
                                    "player: {config: {plugins: {x: {a: 007, b: -2.5, c: null, "
                                    "d: \"5\", e: [1, yes]}}}}\n");
    assert_string_equal(s->name, "true");
    assert_string_equal(s->description, "12");
    assert_int_equal(s->n_tags, 4);
    assert_string_equal(s->tags[0], "yes");
    assert_string_equal(s->tags[3], "null");
    assert_true(s->steps[0].flag);
    assert_int_equal(s->steps[1].kind, HX_STEP_PLAY);
    assert_int_equal(s->steps[2].kind, HX_STEP_PAUSE);
    assert_int_equal(s->steps[3].kind, HX_STEP_PLAY);
    assert_true(s->steps[4].number == 10.0);
    assert_json(s->player.config, "{\"plugins\": {\"x\": {\"a\": 7, \"b\": -2.5, \"c\": null, "
                                  "\"d\": \"5\", \"e\": [1, \"yes\"]}}}");
    assert_true(json_is_integer(kp_json_path(s->player.config, "plugins.x.a")));
    assert_true(json_is_real(kp_json_path(s->player.config, "plugins.x.b")));
    hx_scenario_free(s);

    expect_text("name: x\nsteps:\n  - set_muted: True\n  - set_muted: ~\n",
                "inline.yaml:3:16: steps[0].set_muted: expected true or false, got 'True'",
                "inline.yaml:4:16: steps[1].set_muted: expected true or false, got ~", NULL);
}

static void test_load_buffer(void **state)
{
    /* the buffer need not be NUL-terminated; the name is used in messages and s->file */
    static const char text[] = "name: buf\nsteps: [pause]\nXXXX";
    hx_scenario *s = NULL;
    hx_diag d = {0};
    int rc = hx_scenario_load_buffer("mem.yaml", text, sizeof(text) - 1 - 4, &s, &d);
    assert_int_equal(rc, 0);
    assert_int_equal(d.n, 0);
    assert_string_equal(s->file, "mem.yaml");
    assert_string_equal(s->name, "buf");
    assert_int_equal(s->steps[0].kind, HX_STEP_PAUSE);
    hx_scenario_free(s);

    /* a NULL diag is allowed: problems are still counted */
    s = (hx_scenario *)&d;
    rc = hx_scenario_load_buffer("mem.yaml", text, sizeof(text) - 1, &s, NULL);
    assert_int_equal(rc, KP_EPARSE);
    assert_null(s);

    /* messages keep coming in location order after earlier ones in the same diag */
    hx_diag_addf(&d, "earlier.yaml", (hx_loc){9, 9}, "kept first");
    rc = hx_scenario_load_buffer("m.yaml", "steps: [x]\nb: 1\n", 15, &s, &d);
    assert_int_equal(rc, KP_EPARSE);
    assert_int_equal(d.n, 4);
    assert_string_equal(d.msgs[0], "earlier.yaml:9:9: kept first");
    assert_string_equal(d.msgs[1], "m.yaml:1:1: missing required key 'name'");
    assert_string_equal(d.msgs[2], "m.yaml:1:9: steps[0]: unknown step 'x'");
    assert_string_equal(d.msgs[3], "m.yaml:2:1: unknown top-level key 'b'");
    assert_int_equal(d.locs[2].line, 1);
    assert_int_equal(d.locs[2].col, 9);
    hx_diag_free(&d);
    assert_int_equal(d.n, 0);
}

/* backend.ads: every fixture kind with its values, as the runner passes them on */
static void test_ads_fixtures(void **state)
{
    hx_scenario *s = load_good("scenarios/good/ads.yaml");
    assert_int_equal(s->backend.ads.n_creatives, 7);
    const hx_ad *a = &s->backend.ads.creatives[0];
    assert_string_equal(a->id, "spot15");
    assert_string_equal(a->title, "Spot & 15");
    assert_true(a->duration == 15 && a->skipoffset == 5 && a->skip_pct < 0);
    a = &s->backend.ads.creatives[1];
    assert_true(a->skipoffset < 0 && a->skip_pct == 25);
    a = &s->backend.ads.creatives[2];
    assert_true(a->duration == 5.5 && a->skipoffset == 2.5);
    assert_string_equal(a->click_through, "https://example.com/x?a=1&b=2");
    assert_int_equal(s->backend.ads.creatives[3].media, 1);    /* missing */
    assert_int_equal(s->backend.ads.creatives[4].media, 2);    /* none */
    assert_int_equal(s->backend.ads.creatives[5].creative, 2); /* vpaid */
    assert_int_equal(s->backend.ads.creatives[6].creative, 1); /* nonlinear */
    assert_int_equal(s->backend.ads.n_vast, 11);
    static const char *const versions[] = {"4.2", "2.0", "3.0", "4.0", "4.2", "3.0",
                                           "4.2", "4.2", "4.2", "4.2", "4.2"};
    for (size_t i = 0; i < 11; i++)
        assert_string_equal(s->backend.ads.vast[i].version, versions[i]);
    assert_int_equal(s->backend.ads.vast[2].n_ads, 3);
    assert_string_equal(s->backend.ads.vast[2].ads[2], "spot5");
    assert_int_equal(s->backend.ads.vast[3].n_ads, 0);
    assert_null(s->backend.ads.vast[3].wrapper);
    assert_string_equal(s->backend.ads.vast[4].wrapper, "wrap2");
    assert_string_equal(s->backend.ads.vast[6].wrapper, "loop");
    static const int broken[] = {1, 2, 3, 4};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(s->backend.ads.vast[7 + i].broken, broken[i]);
    assert_int_equal(s->backend.ads.n_vmap, 2);
    const hx_vmap *m = &s->backend.ads.vmap[0];
    assert_int_equal(m->n_breaks, 6);
    static const char *const offsets[] = {"start",        "00:00:10.000", "50%",
                                          "00:00:20.250", "#2",           "end"};
    static const char *const ids[] = {"break-1", "mid", "break-3", "break-4", "break-5", "break-6"};
    for (size_t i = 0; i < 6; i++) {
        assert_string_equal(m->breaks[i].offset, offsets[i]);
        assert_string_equal(m->breaks[i].id, ids[i]);
        assert_int_equal(m->breaks[i].inline_vast, i == 1);
    }
    assert_string_equal(m->breaks[2].vast, "wrap1");
    assert_int_equal(s->backend.ads.vmap[1].broken, 3); /* not_vmap */
    assert_int_equal(s->expect.n_requests, 3);
    assert_string_equal(s->expect.requests[0].server, "ads");
    assert_json(s->expect.requests[1].match, "{\"kind\": \"error\", \"errorcode\": 405}");
    /* placeholders stay in the loaded config: the runner replaces them */
    assert_string_equal(kp_json_str(s->player.config, "plugins.ima.adTagUrl", ""),
                        "{{ads}}/vmap/all");
    hx_scenario_free(s);
}

/* backend.ads: a located message for every bad value, reference and placeholder */
static void test_ads_bad(void **state)
{
    expect_file(
        "ads_bad_values.yaml",
        "scenarios/bad/ads_bad_values.yaml:5:14: backend.ads.creatives[0].id: 'a b': an id may "
        "only hold letters, digits and . _ ~ - (it is part of URLs)",
        "scenarios/bad/ads_bad_values.yaml:6:30: backend.ads.creatives[1].duration: must be "
        "greater than 0 and at most 3600, got 0",
        "scenarios/bad/ads_bad_values.yaml:7:14: backend.ads.creatives[2].id: duplicate creative "
        "id 'spot'",
        "scenarios/bad/ads_bad_values.yaml:7:45: backend.ads.creatives[2].skipoffset: 7 s is not "
        "before the end of the 5 s ad",
        "scenarios/bad/ads_bad_values.yaml:7:54: backend.ads.creatives[2].type: expected one of "
        "linear, nonlinear or vpaid, got 'linnear' (did you mean 'linear'?)",
        "scenarios/bad/ads_bad_values.yaml:7:70: backend.ads.creatives[2].media: expected one of "
        "served, missing or none, got 'lost'",
        "scenarios/bad/ads_bad_values.yaml:8:43: backend.ads.creatives[3].skipoffset: expected "
        "seconds, 'HH:MM:SS[.mmm]' or a percentage such as '25%', got '1:2:3'",
        "scenarios/bad/ads_bad_values.yaml:9:9: missing required key 'id' in "
        "backend.ads.creatives[4]",
        "scenarios/bad/ads_bad_values.yaml:9:23: unknown key 'colour' in backend.ads.creatives[4]",
        "scenarios/bad/ads_bad_values.yaml:11:26: backend.ads.vast[0].version: expected a VAST "
        "version (2.0, 3.0, 4.0, 4.1 or 4.2), got 5.0",
        "scenarios/bad/ads_bad_values.yaml:12:26: backend.ads.vast[1].wrapper: no vast document "
        "'nowhere' in backend.ads.vast",
        "scenarios/bad/ads_bad_values.yaml:12:40: backend.ads.vast[1].ads: a wrapper has no ads of "
        "its own: give ads or wrapper, not both",
        "scenarios/bad/ads_bad_values.yaml:13:40: backend.ads.vast[2].ads: a pod (several ads) "
        "needs VAST 3.0 or later",
        "scenarios/bad/ads_bad_values.yaml:14:25: backend.ads.vast[3].broken: expected one of "
        "malformed, truncated, not_vast or empty_body, got 'sideways'",
        "scenarios/bad/ads_bad_values.yaml:18:22: backend.ads.vmap[0].breaks[0].offset: expected "
        "start, end, seconds, 'HH:MM:SS[.mmm]', a percentage such as '50%' or a position such as "
        "'#2', got 'soon'",
        "scenarios/bad/ads_bad_values.yaml:20:13: missing required key 'offset' in "
        "backend.ads.vmap[0].breaks[2]",
        "scenarios/bad/ads_bad_values.yaml:20:31: backend.ads.vmap[0].breaks[2].inline: expected "
        "true or false, got 'yes'",
        "scenarios/bad/ads_bad_values.yaml:21:25: backend.ads.vmap[1].breaks: a VMAP needs at "
        "least one break",
        "scenarios/bad/ads_bad_values.yaml:22:5: unknown key 'vpaid' in backend.ads", NULL);
    expect_file(
        "ads_bad_refs.yaml",
        "scenarios/bad/ads_bad_refs.yaml:7:29: backend.ads.vast[0].ads[1]: no creative 'spott' in "
        "backend.ads.creatives (did you mean 'spot'?)",
        "scenarios/bad/ads_bad_refs.yaml:8:39: backend.ads.vast[1].ads[0]: creative 'spot' is "
        "skippable, which VAST 2.0 cannot say (skipoffset is VAST 3.0+)",
        "scenarios/bad/ads_bad_refs.yaml:9:26: backend.ads.vast[2].wrapper: no vast document 'vv' "
        "in backend.ads.vast",
        "scenarios/bad/ads_bad_refs.yaml:15:33: backend.ads.vmap[0].breaks[1].vast: 'cut' is a "
        "broken document: it cannot be inline (VASTAdData); use an AdTagURI (inline: false)",
        "scenarios/bad/ads_bad_refs.yaml:17:18: backend.ads.vmap[0].breaks[3].id: duplicate break "
        "id 'a'",
        "scenarios/bad/ads_bad_refs.yaml:21:23: player.config.plugins.ima.adTagUrl: unknown "
        "placeholder '{{adz}}' (did you mean '{{ads}}'?) (known: {{ads}}, {{analytics}}, {{api}}, "
        "{{drm}})",
        "scenarios/bad/ads_bad_refs.yaml:21:44: player.config.plugins.ima.x: {{drm}}: there is no "
        "license server (no entry in backend.entries has drm)",
        "scenarios/bad/ads_bad_refs.yaml:21:59: player.config.plugins.ima.y[0]: '{{' without a "
        "closing '}}' (placeholders: {{ads}}, {{analytics}}, {{api}}, {{drm}})",
        "scenarios/bad/ads_bad_refs.yaml:24:35: expect.requests[0].match.kind: expected one of "
        "vast, vmap, media, impression, tracking, error, click or unknown, got 'beacon'",
        "scenarios/bad/ads_bad_refs.yaml:24:43: unknown key 'evnt' in expect.requests[0].match "
        "(did you mean 'event'?)",
        "scenarios/bad/ads_bad_refs.yaml:25:16: expect.requests[1].server: expected one of api, "
        "cdn, drm, ads or analytics, got 'adz' (did you mean 'ads'?)",
        NULL);
    expect_text("name: x\n"
                "backend: {ads: {vast: [{id: a}, {id: a}], vmap: [{id: m, breaks: [{offset: "
                "101%, vast: a}]}]}}\n"
                "player: {config: {plugins: {ima: {adTagUrl: \"{{ads}}{{api}}{{}}\"}}}}\n"
                "steps: [play]\n",
                "inline.yaml:2:38: backend.ads.vast[1].id: duplicate vast id 'a'",
                "inline.yaml:2:76: backend.ads.vmap[0].breaks[0].offset: expected start, end, "
                "seconds, 'HH:MM:SS[.mmm]', a percentage such as '50%' or a position such as "
                "'#2', got '101%'",
                "inline.yaml:3:45: player.config.plugins.ima.adTagUrl: unknown placeholder "
                "'{{}}' (known: {{ads}}, {{analytics}}, {{api}}, {{drm}})",
                NULL);
    /* ads: {} is still fine, and so is a scenario without ads */
    hx_scenario *s = load_good_text("name: x\nbackend: {ads: {}}\nsteps: [play]\n");
    assert_int_equal(s->backend.ads.n_vast, 0);
    hx_scenario_free(s);
}

/* set_network: bandwidth and/or latency, checked like player.network. */
static void test_set_network(void **state)
{
    (void)state;
    static const char text[] = "name: n\nsteps:\n  - set_network: {bandwidth: 300kbps}\n"
                               "  - set_network: {latency: 150ms}\n";
    hx_scenario *s = NULL;
    hx_diag d = {0};
    assert_int_equal(hx_scenario_load_buffer("n.yaml", text, sizeof(text) - 1, &s, &d), 0);
    assert_int_equal(s->steps[0].kind, HX_STEP_SET_NETWORK);
    assert_int_equal(s->steps[0].bandwidth_bps, 300000);
    assert_int_equal(s->steps[0].latency, -1);
    assert_int_equal(s->steps[1].bandwidth_bps, 0);
    assert_int_equal(s->steps[1].latency, KP_MS(150));
    hx_scenario_free(s);
    expect_text("name: x\nsteps:\n  - set_network: {}\n  - set_network: {bandwith: 1mbps}\n",
                "inline.yaml:3:18: steps[0].set_network: give bandwidth, latency or both",
                "inline.yaml:4:18: steps[1].set_network: give bandwidth, latency or both",
                "inline.yaml:4:19: unknown key 'bandwith' in steps[1].set_network (did you mean "
                "'bandwidth'?)",
                NULL);
}

/* Every good fixture loads; every bad fixture is rejected with at least one message, each
 * naming the file and a location. */
static void test_fixture_directories(void **state)
{
    static const char *const dirs[] = {"scenarios/good", "scenarios/bad"};
    for (int k = 0; k < 2; k++) {
        DIR *dir = opendir(dirs[k]);
        assert_non_null(dir);
        struct dirent *de;
        int seen = 0;
        while ((de = readdir(dir)) != NULL) {
            size_t len = strlen(de->d_name);
            if (len < 6 || strcmp(de->d_name + len - 5, ".yaml") != 0)
                continue;
            char path[512];
            snprintf(path, sizeof(path), "%s/%s", dirs[k], de->d_name);
            hx_diag d = {0};
            hx_scenario *s = NULL;
            int rc = hx_scenario_load(path, &s, &d);
            if ((k == 0) != (rc == 0))
                dump(path, &d);
            if (k == 0) {
                assert_int_equal(rc, 0);
                assert_non_null(s);
            } else {
                assert_int_equal(rc, KP_EPARSE);
                assert_null(s);
                assert_true(d.n > 0);
                for (size_t i = 0; i < d.n; i++) {
                    assert_true(strncmp(d.msgs[i], path, strlen(path)) == 0);
                    assert_true(d.locs[i].line > 0 && d.locs[i].col > 0);
                }
            }
            hx_scenario_free(s);
            hx_diag_free(&d);
            seen++;
        }
        closedir(dir);
        assert_true(seen >= 3);
    }
}

/* ---- unit parsers ---------------------------------------------------------------------- */

static void test_parse_duration(void **state)
{
    static const struct {
        const char *in;
        kp_time want;
    } good[] = {
        {"60s", KP_SEC(60)},
        {"500ms", KP_MS(500)},
        {"1.5s", KP_MS(1500)},
        {"2m", KP_SEC(120)},
        {"1h", KP_SEC(3600)},
        {"0s", 0},
        {"0", 0},
        {"10", KP_SEC(10)},
        {"2.25", KP_MS(2250)},
        {".5s", KP_MS(500)},
        {"0.001ms", 1},
        {"1.5h", KP_SEC(5400)},
        {"007s", KP_SEC(7)},
        {"0.5m", KP_SEC(30)},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        kp_time t = -1;
        int rc = hx_parse_duration(good[i].in, &t);
        if (rc != 0 || t != good[i].want)
            fprintf(stderr, "-- duration '%s': rc %d, %lld\n", good[i].in, rc, (long long)t);
        assert_int_equal(rc, 0);
        assert_int_equal(t, good[i].want);
    }
    static const char *const bad[] = {"",
                                      "-1s",
                                      "+1s",
                                      "s",
                                      "1.s",
                                      "1 s",
                                      " 1s",
                                      "1sec",
                                      "1S",
                                      "1d",
                                      "abc",
                                      "1e3",
                                      "1.5.5s",
                                      "inf",
                                      "nan",
                                      "0x10",
                                      "1s ",
                                      "1ms5",
                                      "99999999999999999999h",
                                      "1.2.3",
                                      NULL};
    for (size_t i = 0; bad[i]; i++) {
        kp_time t = 42;
        int rc = hx_parse_duration(bad[i], &t);
        if (rc != KP_EPARSE)
            fprintf(stderr, "-- duration '%s' was accepted\n", bad[i]);
        assert_int_equal(rc, KP_EPARSE);
        assert_int_equal(t, 42); /* untouched on failure */
    }
    kp_time t;
    assert_int_equal(hx_parse_duration(NULL, &t), KP_EPARSE);
}

static void test_parse_bandwidth(void **state)
{
    static const struct {
        const char *in;
        long long want;
    } good[] = {
        {"8mbps", 8000000},
        {"8Mbps", 8000000},
        {"8MBPS", 8000000},
        {"500kbps", 500000},
        {"1.5mbps", 1500000},
        {"1gbps", 1000000000},
        {"64000bps", 64000},
        {"64000", 64000},
        {"2.5", 3},
        {"0.25kbps", 250},
        {"1.234567gbps", 1234567000},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        long long v = -1;
        int rc = hx_parse_bandwidth(good[i].in, &v);
        if (rc != 0 || v != good[i].want)
            fprintf(stderr, "-- bandwidth '%s': rc %d, %lld\n", good[i].in, rc, v);
        assert_int_equal(rc, 0);
        assert_int_equal(v, good[i].want);
    }
    static const char *const bad[] = {
        "",      "0",    "0mbps",  "-8mbps", "0.1bps",          "mbps", "8 mbps", "8mb",
        "8mbit", "fast", "8mbps ", "1e6",    "99999999999gbps", NULL};
    for (size_t i = 0; bad[i]; i++) {
        long long v = 42;
        int rc = hx_parse_bandwidth(bad[i], &v);
        if (rc != KP_EPARSE)
            fprintf(stderr, "-- bandwidth '%s' was accepted\n", bad[i]);
        assert_int_equal(rc, KP_EPARSE);
        assert_int_equal(v, 42);
    }
}

/* The provider keys: sessions, playlists (an empty one too), captions, metadata, bumper,
 * reference ids, player.session, and load_playlist in both forms. */
static void test_backend_extensions(void **state)
{
    hx_scenario *s = load_good_text("name: x\n"
                                    "backend:\n"
                                    "  entries:\n"
                                    "    - id: 0_a\n"
                                    "      reference_id: ref-1\n"
                                    "      status: preconvert\n"
                                    "      access: {block: SITE_RESTRICTED}\n"
                                    "      captions:\n"
                                    "        - {lang: en, label: English, default: true}\n"
                                    "        - {lang: fr, format: srt}\n"
                                    "      metadata: {Genre: drama, Year: 2026}\n"
                                    "      bumper: {entry_id: 0_b, click_through: http://x/}\n"
                                    "    - {id: 0_b}\n"
                                    "  playlists:\n"
                                    "    - {id: 0_p, name: P, entries: [0_a, 0_b]}\n"
                                    "    - {id: 0_q, entries: []}\n"
                                    "  sessions:\n"
                                    "    - {name: viewer, user_id: u1, privileges: 'view:*'}\n"
                                    "    - {name: old, user_id: u2, expired: true}\n"
                                    "player:\n"
                                    "  session: old\n"
                                    "  config:\n"
                                    "    provider: {clientTag: t}\n"
                                    "    playlist: {options: {autoContinue: false}}\n"
                                    "steps:\n"
                                    "  - load_playlist: {playlist_id: 0_p}\n"
                                    "  - load_playlist: {entries: [0_b, 0_a]}\n");
    const hx_entry *a = &s->backend.entries[0];
    assert_string_equal(a->reference_id, "ref-1");
    assert_string_equal(a->status, "preconvert");
    assert_string_equal(a->block, "SITE_RESTRICTED");
    assert_int_equal(a->n_captions, 2);
    assert_string_equal(a->captions[0].label, "English");
    assert_true(a->captions[0].is_default);
    assert_string_equal(a->captions[0].format, "vtt");
    assert_string_equal(a->captions[1].label, "fr"); /* the language when no label */
    assert_string_equal(a->captions[1].format, "srt");
    assert_false(a->captions[1].is_default);
    assert_string_equal(kp_json_str(a->metadata, "Year", ""), "2026"); /* values are text */
    assert_string_equal(a->bumper_entry, "0_b");
    assert_string_equal(a->bumper_click, "http://x/");
    assert_int_equal(s->backend.n_playlists, 2);
    assert_int_equal(s->backend.playlists[0].n_entries, 2);
    assert_string_equal(s->backend.playlists[0].entries[1], "0_b");
    assert_int_equal(s->backend.playlists[1].n_entries, 0);
    assert_int_equal(s->backend.n_sessions, 2);
    assert_string_equal(s->backend.sessions[0].privileges, "view:*");
    assert_true(s->backend.sessions[1].expired);
    assert_string_equal(s->player.session, "old");
    assert_false(kp_json_bool(s->player.config, "playlist.options.autoContinue", true));
    assert_int_equal(s->steps[0].kind, HX_STEP_LOAD_PLAYLIST);
    assert_string_equal(s->steps[0].playlist_id, "0_p");
    assert_int_equal(s->steps[1].n_list_entries, 2);
    assert_string_equal(s->steps[1].list_entries[0], "0_b");
    hx_scenario_free(s);
}

/* An OTT back-end: numeric asset ids, its own block codes, item_errors, and the OTT provider's
 * mediaInfo options on load_media, in Kaltura's names. */
static void test_ott_backend(void **state)
{
    hx_scenario *s = load_good_text("name: x\n"
                                    "backend:\n"
                                    "  kind: ott\n"
                                    "  item_errors: bare\n"
                                    "  entries:\n"
                                    "    - {id: 1234, access: {block: NotEntitled}}\n"
                                    "steps:\n"
                                    "  - load_media:\n"
                                    "      entry_id: 1234\n"
                                    "      media_type: epg\n"
                                    "      context_type: START_OVER\n"
                                    "      protocol: https\n"
                                    "      file_ids: '7,8'\n"
                                    "      streamer_type: mpegdash\n"
                                    "      url_type: DIRECT\n"
                                    "      asset_reference_type: epg_internal\n"
                                    "      formats: [Dash_Main]\n");
    assert_string_equal(s->backend.kind, "ott");
    assert_true(s->backend.bare_item_errors);
    assert_string_equal(s->backend.entries[0].block, "NotEntitled");
    const json_t *mi = s->steps[0].media_info;
    assert_string_equal(kp_json_str(mi, "mediaType", ""), "epg");
    assert_string_equal(kp_json_str(mi, "contextType", ""), "START_OVER");
    assert_string_equal(kp_json_str(mi, "protocol", ""), "https");
    assert_string_equal(kp_json_str(mi, "fileIds", ""), "7,8");
    assert_string_equal(kp_json_str(mi, "streamerType", ""), "mpegdash");
    assert_string_equal(kp_json_str(mi, "urlType", ""), "DIRECT");
    assert_string_equal(kp_json_str(mi, "assetReferenceType", ""), "epg_internal");
    assert_string_equal(kp_json_str(mi, "formats.0", ""), "Dash_Main");
    hx_scenario_free(s);
}

/* drm, encryption and license: the scheme's defaults, explicit keys, the license policy, and
 * every combination that cannot be served. */
static void test_entry_protection(void **state)
{
    (void)state;
    hx_scenario *s = load_good_text("name: x\n"
                                    "backend:\n"
                                    "  entries:\n"
                                    "    - {id: 0_a, formats: [dash], drm: [widevine, playready]}\n"
                                    "    - {id: 0_b, formats: [hls], drm: [fairplay]}\n"
                                    "    - {id: 0_c, formats: [hls], encryption: aes-128}\n"
                                    "    - id: 0_d\n"
                                    "      formats: [dash, hls]\n"
                                    "      drm: [clearkey]\n"
                                    "      encryption:\n"
                                    "        scheme: cbcs\n"
                                    "        kid: 000102030405060708090a0b0c0d0e0f\n"
                                    "        key: 00112233445566778899AABBCCDDEEFF\n"
                                    "      license: {expire_after: 5s, max_licenses: 2}\n"
                                    "    - {id: 0_e, formats: [dash], drm: [clearkey], "
                                    "license: {deny: true}}\n"
                                    "steps: [play]\n");
    const hx_entry *e = s->backend.entries;
    assert_int_equal(e[0].drm_systems, (1u << KP_DRM_WIDEVINE) | (1u << KP_DRM_PLAYREADY));
    assert_int_equal(e[0].encryption, KP_ENC_CENC);
    assert_false(e[0].has_key);
    assert_int_equal(e[0].license.max_licenses, -1);
    assert_int_equal(e[0].license.expire_after, 0);
    assert_false(e[0].license.deny);
    assert_int_equal(e[1].drm_systems, 1u << KP_DRM_FAIRPLAY);
    assert_int_equal(e[1].encryption, KP_ENC_CBCS);
    assert_int_equal(e[2].drm_systems, 0);
    assert_int_equal(e[2].encryption, KP_ENC_AES128);
    assert_int_equal(e[3].encryption, KP_ENC_CBCS);
    assert_true(e[3].has_key);
    assert_int_equal(e[3].kid[15], 0x0f);
    assert_int_equal(e[3].key[0], 0x00);
    assert_int_equal(e[3].key[10], 0xaa);
    assert_int_equal(e[3].license.expire_after, KP_SEC(5));
    assert_int_equal(e[3].license.max_licenses, 2);
    assert_true(e[4].license.deny);
    assert_int_equal(e[4].encryption, KP_ENC_CENC);
    hx_scenario_free(s);

    expect_text("name: x\n"
                "backend:\n"
                "  entries:\n"
                "    - {id: 0_a, formats: [dash], drm: [widevine, widevine, fairply]}\n"
                "    - {id: 0_b, formats: [hls], drm: [fairplay], encryption: cenc}\n"
                "    - {id: 0_c, formats: [dash], encryption: aes-128}\n"
                "    - {id: 0_d, formats: [progressive], drm: [widevine]}\n"
                "    - {id: 0_e, encryption: {scheme: cenc, kid: 00ff}}\n"
                "    - {id: 0_f, license: {deny: true}}\n"
                "    - {id: 0_g, drm: [clearkey], license: {max_licenses: -1, expire: 1s}}\n"
                "    - {id: 0_h, encryption: {kid: 000102030405060708090a0b0c0d0e0f}}\n"
                "    - {id: 0_i, drm: [widevine], license: {bad_certificate: true}}\n"
                "steps: [play]\n",
                "inline.yaml:4:50: backend.entries[0].drm[1]: key system 'widevine' is listed "
                "twice",
                "inline.yaml:4:60: backend.entries[0].drm[2]: expected one of clearkey, widevine, "
                "playready or fairplay, got 'fairply' (did you mean 'fairplay'?)",
                "inline.yaml:5:62: backend.entries[1].encryption: FairPlay needs the cbcs scheme "
                "(encryption: cbcs)",
                "inline.yaml:6:46: backend.entries[2].encryption: aes-128 encryption needs the hls "
                "format",
                "inline.yaml:7:46: backend.entries[3].drm: cenc encryption needs the dash or hls "
                "format",
                "inline.yaml:8:49: backend.entries[4].encryption.kid: expected 32 hexadecimal "
                "digits (16 bytes), got '00ff'",
                "inline.yaml:9:26: backend.entries[5].license: a license policy needs DRM (drm: "
                "[...])",
                "inline.yaml:10:58: backend.entries[6].license.max_licenses: must not be negative, "
                "got -1",
                "inline.yaml:10:62: unknown key 'expire' in backend.entries[6].license",
                "inline.yaml:11:29: backend.entries[7].encryption: give both kid and key, or "
                "neither (then both are derived from the entry id)",
                "inline.yaml:11:29: missing required key 'scheme' in backend.entries[7].encryption",
                "inline.yaml:12:43: backend.entries[8].license: bad_certificate is about "
                "FairPlay's certificate: the entry needs drm: [fairplay]",
                NULL);
}

/* hls: {segments}: the container of the entry's HLS, its default, and what cannot be served. */
static void test_entry_hls_segments(void **state)
{
    (void)state;
    hx_scenario *s = load_good_text("name: x\n"
                                    "backend:\n"
                                    "  entries:\n"
                                    "    - {id: 0_a}\n"
                                    "    - {id: 0_b, hls: {segments: fmp4}}\n"
                                    "    - {id: 0_c, encryption: aes-128, hls: {segments: fmp4}}\n"
                                    "    - {id: 0_d, hls: {segments: ts}}\n"
                                    "    - {id: 0_e, drm: [fairplay], hls: {segments: fmp4}}\n"
                                    "steps: [play]\n");
    const hx_entry *e = s->backend.entries;
    assert_false(e[0].hls_fmp4);
    assert_true(e[1].hls_fmp4);
    assert_true(e[2].hls_fmp4);
    assert_int_equal(e[2].encryption, KP_ENC_AES128);
    assert_false(e[3].hls_fmp4);
    assert_true(e[4].hls_fmp4);
    hx_scenario_free(s);

    expect_text("name: x\n"
                "backend:\n"
                "  entries:\n"
                "    - {id: 0_a, hls: {segments: mp4}}\n"
                "    - {id: 0_b, hls: fmp4}\n"
                "    - {id: 0_c, hls: {segment: fmp4}}\n"
                "    - {id: 0_d, formats: [dash], hls: {segments: fmp4}}\n"
                "    - {id: 0_e, drm: [fairplay], hls: {segments: ts}}\n"
                "steps: [play]\n",
                "inline.yaml:4:33: backend.entries[0].hls.segments: expected ts or fmp4, "
                "got 'mp4' (did you mean 'fmp4'?)",
                "inline.yaml:5:22: backend.entries[1].hls: expected a mapping, got 'fmp4'",
                "inline.yaml:6:23: unknown key 'segment' in backend.entries[2].hls (did you mean "
                "'segments'?)",
                "inline.yaml:7:50: backend.entries[3].hls.segments: the HLS segment container "
                "needs the hls format",
                "inline.yaml:8:50: backend.entries[4].hls.segments: FairPlay HLS is fMP4: leave "
                "segments out or make it fmp4",
                NULL);
}

static void test_backend_extensions_bad(void **state)
{
    expect_text("name: x\n"
                "backend:\n"
                "  item_errors: bare\n"
                "  entries:\n"
                "    - {id: 0_a, bumper: {entry_id: 0_zz}, captions: [{label: L}]}\n"
                "  playlists:\n"
                "    - {id: 0_a, entries: [0_nope]}\n"
                "  sessions:\n"
                "    - {name: s1}\n"
                "player:\n"
                "  session: s2\n"
                "steps:\n"
                "  - load_media: {entry_id: 0_a, media_type: media}\n"
                "  - load_playlist: {playlist_id: 0_none}\n"
                "  - load_playlist: {entries: []}\n"
                "  - load_playlist: {}\n",
                "inline.yaml:3:16: backend.item_errors: item_errors is for an OTT back-end "
                "(kind: ott)",
                "inline.yaml:5:36: backend.entries[0].bumper.entry_id: no entry '0_zz' in "
                "backend.entries",
                "inline.yaml:5:54: missing required key 'lang' in backend.entries[0].captions[0]",
                "inline.yaml:7:12: backend.playlists[0].id: '0_a' is already an entry id (a "
                "playlist is an entry too)",
                "inline.yaml:7:27: backend.playlists[0].entries[0]: no entry '0_nope' in "
                "backend.entries",
                "inline.yaml:11:12: player.session: no session 's2' in backend.sessions",
                "inline.yaml:13:45: steps[0].load_media.media_type: media_type is for an OTT "
                "back-end (backend.kind: ott)",
                "inline.yaml:14:34: steps[1].load_playlist.playlist_id: no playlist '0_none' in "
                "backend.playlists",
                "inline.yaml:15:30: steps[2].load_playlist.entries: must list at least one entry "
                "id",
                "inline.yaml:16:20: steps[3].load_playlist: needs 'playlist_id' or 'entries'",
                NULL);
    expect_text("name: x\n"
                "backend:\n"
                "  kind: ott\n"
                "  entries:\n"
                "    - {id: 0_abc, access: {block: COUNTRY_RESTRICTED}}\n"
                "steps:\n"
                "  - load_playlist: {playlist_id: 0_p}\n",
                "inline.yaml:5:12: backend.entries[0].id: an OTT asset id is a number, got "
                "'0_abc'",
                "inline.yaml:5:35: backend.entries[0].access.block: expected one of "
                "ConcurrencyLimitation, MediaConcurrencyLimitation, NotEntitled, "
                "ServiceNotAllowed, DeviceTypeNotAllowed or NoFilesFound, got "
                "'COUNTRY_RESTRICTED'",
                "inline.yaml:7:21: steps[0].load_playlist: an OTT back-end has no "
                "playlists (the OTT provider does not implement getPlaylistConfig); use entries",
                NULL);
}

/* expect.requests[i].sequence: the ordered form, and its located errors. */
static void test_request_sequence(void **state)
{
    (void)state;
    hx_scenario *s = load_good_text("name: a\nsteps: [play]\nexpect:\n  requests:\n"
                                    "    - server: ads\n      sequence:\n"
                                    "        - {kind: impression}\n"
                                    "        - {kind: tracking, event: start}\n"
                                    "    - {server: ads, match: {kind: error}, count: 0}\n");
    assert_int_equal(s->expect.n_requests, 2);
    assert_json(s->expect.requests[0].sequence,
                "[{\"kind\": \"impression\"}, {\"kind\": \"tracking\", \"event\": \"start\"}]");
    assert_int_equal(s->expect.requests[0].seq_locs[1].line, 8);
    assert_int_equal(s->expect.requests[0].seq_locs[1].col, 11);
    assert_int_equal(s->expect.requests[0].count, -1);
    assert_null(s->expect.requests[1].sequence);
    hx_scenario_free(s);

    expect_text("name: a\nsteps: [play]\nexpect:\n  requests:\n"
                "    - server: ads\n      match: {kind: impression}\n"
                "      sequence: [{kind: impression}]\n"
                "    - server: ads\n      count: 2\n      sequence:\n"
                "        - {kind: tracking, evnt: start}\n"
                "        - {kind: nope}\n"
                "    - {server: ads, sequence: []}\n"
                "    - {server: cdn, sequence: [master]}\n",
                "inline.yaml:7:17: expect.requests[0].sequence: 'match' and 'sequence' are "
                "mutually exclusive (match at line 6)",
                "inline.yaml:11:9: expect.requests[1].sequence: 'count' does not go with "
                "'sequence' (each item stands for one request; repeat an item to ask for "
                "several)",
                "inline.yaml:11:28: unknown key 'evnt' in expect.requests[1].sequence[0] (did "
                "you mean 'event'?)",
                "inline.yaml:12:18: expect.requests[1].sequence[1].kind: expected one of vast, "
                "vmap, media, impression, tracking, error, click or unknown, got 'nope'",
                "inline.yaml:13:31: expect.requests[2].sequence: expected at least one item",
                "inline.yaml:14:32: expect.requests[3].sequence[0]: expected a mapping, got "
                "'master'",
                NULL);
}

/* backend.analytics: the sink's behaviour, with located errors. */
static void test_backend_analytics(void **state)
{
    (void)state;
    hx_scenario *s =
        load_good_text("name: a\nbackend:\n  analytics: {down: true, status: 503, view_events: "
                       "false}\nsteps: [play]\nexpect:\n  requests:\n    - {server: "
                       "analytics, match: {eventName: VIEW}, count: 2}\n");
    assert_true(s->backend.analytics.down);
    assert_int_equal(s->backend.analytics.status, 503);
    assert_true(s->backend.analytics.no_views);
    assert_string_equal(s->expect.requests[0].server, "analytics");
    assert_json(s->expect.requests[0].match, "{\"eventName\": \"VIEW\"}");
    hx_scenario_free(s);
    s = load_good_text("name: a\nsteps: [play]\n");
    assert_false(s->backend.analytics.down);
    assert_int_equal(s->backend.analytics.status, 0);
    assert_false(s->backend.analytics.no_views);
    hx_scenario_free(s);
    expect_text(
        "name: a\nbackend:\n  analytics: {status: 42, dwon: true}\nsteps: [play]\n",
        "inline.yaml:3:23: backend.analytics: status must be an HTTP status (100 to 599), got 42",
        "inline.yaml:3:27: unknown key 'dwon' in backend.analytics (did you mean 'down'?)", NULL);
    expect_text("name: a\nbackend:\n  analytics: true\nsteps: [play]\n",
                "inline.yaml:3:14: backend.analytics: expected a mapping, got true", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yaml_syntax_error),
        cmocka_unit_test(test_bad_encoding),
        cmocka_unit_test(test_request_sequence),
        cmocka_unit_test(test_unknown_key_top_level),
        cmocka_unit_test(test_unknown_key_nested),
        cmocka_unit_test(test_unknown_key_player_config),
        cmocka_unit_test(test_wrong_type_string_for_number),
        cmocka_unit_test(test_wrong_type_list_for_mapping),
        cmocka_unit_test(test_wrong_type_bad_duration),
        cmocka_unit_test(test_wrong_type_bad_bandwidth),
        cmocka_unit_test(test_wrong_type_volume_out_of_range),
        cmocka_unit_test(test_wrong_type_others),
        cmocka_unit_test(test_missing_name),
        cmocka_unit_test(test_missing_steps),
        cmocka_unit_test(test_missing_entry_id),
        cmocka_unit_test(test_step_names_missing_entry),
        cmocka_unit_test(test_duplicate_entry_id),
        cmocka_unit_test(test_unknown_event_in_sequence),
        cmocka_unit_test(test_sequence_shapes),
        cmocka_unit_test(test_not_supported_yet),
        cmocka_unit_test(test_several_errors_all_reported),
        cmocka_unit_test(test_step_forms),
        cmocka_unit_test(test_entry_values),
        cmocka_unit_test(test_backend_extensions),
        cmocka_unit_test(test_ott_backend),
        cmocka_unit_test(test_backend_extensions_bad),
        cmocka_unit_test(test_entry_protection),
        cmocka_unit_test(test_entry_hls_segments),
        cmocka_unit_test(test_player_config_rules),
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_top_level_not_a_mapping),
        cmocka_unit_test(test_several_documents),
        cmocka_unit_test(test_duplicate_key),
        cmocka_unit_test(test_anchors_aliases_tags),
        cmocka_unit_test(test_nesting_and_complex_keys),
        cmocka_unit_test(test_unreadable_file),
        cmocka_unit_test(test_full_scenario),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_expect_first_layout_and_error),
        cmocka_unit_test(test_scalar_typing),
        cmocka_unit_test(test_load_buffer),
        cmocka_unit_test(test_set_network),
        cmocka_unit_test(test_fixture_directories),
        cmocka_unit_test(test_ads_fixtures),
        cmocka_unit_test(test_ads_bad),
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_parse_bandwidth),
        cmocka_unit_test(test_backend_analytics),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
