/* In-page part of the real-player test: embeds the real Kaltura Player (UMD global
 * KalturaPlayer) the way a web page does, loads one entry and reports how it went.
 *
 *   window.kpsimEmbed.play(config, entryId) -> Promise<outcome>
 *     sets the player up with `config`, listens to every event type the player exposes,
 *     calls loadMedia({entryId}) and settles with the first of:
 *       {end: 'ended'}     the player's `ended` event
 *       {end: 'error'}     an `error` event of CRITICAL severity
 *       {end: 'rejected'}  loadMedia() rejected
 *     It never times out by itself: the driver bounds the wait.
 *   window.kpsimEmbed.report() -> what was recorded so far (also after a timeout):
 *     {events: [{n, t, type, ct}], errors: [{n, t, type, ct, payload}], loadMedia, source,
 *      end, versions, listened}
 * Only the `error` payloads (and the selected source) are kept whole; the rest are types.
 */
(function () {
  'use strict';

  var started = performance.now();
  var events = [];
  var errors = [];
  var loadMedia = {state: 'not called'};
  var source = null;
  var end = null;
  var listened = [];
  var player = null;
  var settle = null;

  function ms() {
    return Math.round(performance.now() - started);
  }

  function position() {
    try {
      var ct = player.currentTime;
      return typeof ct === 'number' && isFinite(ct) ? Math.round(ct * 1000) / 1000 : null;
    } catch (e) {
      return null;
    }
  }

  /* A JSON-safe copy of an event payload: no DOM nodes, no cycles, bounded depth and size. */
  function plain(value, depth, seen) {
    if (value === null || value === undefined) return value === undefined ? null : value;
    var kind = typeof value;
    if (kind === 'number') return isFinite(value) ? value : String(value);
    if (kind === 'string') return value.length > 2000 ? value.slice(0, 2000) + '...' : value;
    if (kind === 'boolean') return value;
    if (kind !== 'object') return '<' + kind + '>';
    if (typeof Node !== 'undefined' && value instanceof Node) return '<' + value.nodeName + '>';
    if (value === window) return '<window>';
    if (seen.indexOf(value) >= 0) return '<cycle>';
    if (depth > 6) return '<deeper>';
    seen = seen.concat([value]);
    if (Array.isArray(value)) {
      return value.slice(0, 50).map(function (v) {
        return plain(v, depth + 1, seen);
      });
    }
    var out = {};
    if (value instanceof Error) {
      out.name = value.name;
      out.message = value.message;
    }
    Object.keys(value).slice(0, 60).forEach(function (k) {
      if (k === 'target' || k === 'currentTarget' || k === 'player' || k === '_player') return;
      try {
        out[k] = plain(value[k], depth + 1, seen);
      } catch (e) {
        out[k] = '<unreadable>';
      }
    });
    return out;
  }

  /* Every event type string the player publishes: the player's own Event table (Core, UI,
   * Cast, Playlist, ...) and the core and UI enums of the bundle. */
  function eventTypes(p) {
    var found = {};
    function collect(table, depth) {
      if (!table || typeof table !== 'object' || depth > 3) return;
      Object.keys(table).forEach(function (k) {
        var v = table[k];
        if (typeof v === 'string') found[v] = true;
        else collect(v, depth + 1);
      });
    }
    var KP = window.KalturaPlayer;
    collect(p.Event, 0);
    if (KP.core) {
      collect(KP.core.EventType, 0);
      collect(KP.core.Html5EventType, 0);
      collect(KP.core.CustomEventType, 0);
      collect(KP.core.AdEventType, 0);
    }
    if (KP.ui) collect(KP.ui.EventType, 0);
    return Object.keys(found).sort();
  }

  function finish(how, detail) {
    if (end) return;
    end = {end: how, t: ms(), ct: position()};
    if (detail) end.detail = detail;
    if (settle) settle(end);
  }

  function play(config, entryId) {
    if (player) throw new Error('kpsimEmbed.play runs once per page');
    var KP = window.KalturaPlayer;
    var core = KP.core || {};
    var ENDED = (core.EventType && core.EventType.ENDED) || 'ended';
    var ERROR = (core.EventType && core.EventType.ERROR) || 'error';
    var SOURCE_SELECTED = (core.EventType && core.EventType.SOURCE_SELECTED) || 'sourceselected';
    var CRITICAL = (core.Error && core.Error.Severity && core.Error.Severity.CRITICAL) || 2;
    var done = new Promise(function (resolve) {
      settle = resolve;
    });

    player = KP.setup(config);
    listened = eventTypes(player);
    listened.forEach(function (type) {
      player.addEventListener(type, function (ev) {
        var rec = {n: events.length + 1, t: ms(), type: (ev && ev.type) || type, ct: position()};
        events.push(rec);
        if (rec.type === ERROR) {
          var err = Object.assign({payload: plain(ev && ev.payload, 0, [])}, rec);
          errors.push(err);
          if (ev && ev.payload && ev.payload.severity === CRITICAL) finish('error');
        } else if (rec.type === SOURCE_SELECTED) {
          var sel = ev && ev.payload && ev.payload.selectedSource;
          sel = Array.isArray(sel) ? sel[0] : sel;
          if (sel) source = {id: sel.id, mimetype: sel.mimetype, url: sel.url};
        } else if (rec.type === ENDED) {
          finish('ended');
        }
      });
    });

    loadMedia = {state: 'pending', t: ms()};
    player.loadMedia({entryId: entryId}).then(
      function () {
        loadMedia = {state: 'resolved', t: ms()};
      },
      function (err) {
        loadMedia = {state: 'rejected', t: ms(), error: plain(err, 0, [])};
        finish('rejected');
      }
    );
    return done;
  }

  function report() {
    var KP = window.KalturaPlayer || {};
    return {
      events: events,
      errors: errors,
      loadMedia: loadMedia,
      source: source,
      end: end,
      listened: listened.length,
      versions: {
        player: KP.VERSION,
        core: KP.core && KP.core.VERSION,
        ui: KP.ui && KP.ui.VERSION,
        providers: KP.providers && KP.providers.VERSION
      },
      userAgent: navigator.userAgent
    };
  }

  window.kpsimEmbed = {play: play, report: report};
})();
