#!/usr/bin/env node
// The real Kaltura Player against kpsim's mock back-end.
//
//   node tests/realplayer/driver.js --kpsim build/dev/harness/kpsim \
//        [--scenario tests/realplayer/backend.yaml] [--cache DIR] [--out DIR] \
//        [--entry ID]... [--entry-timeout SECONDS] [--deadline SECONDS] [--chromium PATH]
//
// 1. starts `kpsim serve SCENARIO --port 0 --journal OUT/journal.json` and reads the back-end's
//    URL, partner and entries from what it prints (the first line must say where it listens);
// 2. serves a page that embeds the player bundle (from setup.sh's cache) on a second loopback
//    origin, so that every request to kpsim is cross-origin, as from a real embed;
// 3. launches Debian's headless Chromium through playwright-core, with nothing but 127.0.0.1
//    resolvable, and for each entry opens a fresh page that sets the player up against kpsim
//    (muted autoplay), calls loadMedia and waits for `ended`;
// 4. closes the browser, stops kpsim with SIGTERM and checks that it exits 0 and that its
//    journal holds the entry's playManifest and media requests.
// Exits 1 when an entry raises an `error` event, rejects loadMedia, never ends (or ends away
// from its duration), or its requests are missing from the journal, or when anything else goes
// wrong; 0 otherwise. Waits are for events; the timeouts (--entry-timeout per entry, 120 s, and
// --deadline for the whole run, 480 s, below CTest's 600 s so that kpsim and the browser are
// always stopped by the driver) only guard against a hang.
// OUT (default build/realplayer-out) receives journal.json, kpsim.log, summary.json and, per
// entry, events-ID.json and console-ID.log; Chromium's fresh profile lives in
// OUT/chromium-profile while it runs.
'use strict';

const fs = require('fs');
const http = require('http');
const path = require('path');
const readline = require('readline');
const {spawn} = require('child_process');

const HERE = __dirname;
const REPO = path.resolve(HERE, '..', '..');

// The flags the real player was observed with (shared/reference/real-player-observations.md),
// --no-sandbox because CI runs as root; the resolver rule keeps everything on 127.0.0.1.
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
];

const SETPRIV = '/usr/bin/setpriv';
const KPSIM_START_TIMEOUT_MS = 120000; // media for a new scenario is made on the first start
const PAGE_READY_TIMEOUT_MS = 60000;
const KPSIM_STOP_TIMEOUT_MS = 30000;
// `ended` must come at the entry's duration (as kpsim serve lists it), give or take this
const END_TOLERANCE_S = 0.5;

function usage(msg) {
  if (msg) process.stderr.write(`realplayer: ${msg}\n`);
  process.stderr.write(
    'usage: driver.js --kpsim BIN [--scenario FILE] [--cache DIR] [--out DIR] [--entry ID]...\n' +
      '                 [--entry-timeout SECONDS] [--deadline SECONDS] [--chromium PATH]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const o = {
    kpsim: process.env.KPSIM_BIN || '',
    scenario: path.join(HERE, 'backend.yaml'),
    cache: process.env.KPSIM_REALPLAYER_CACHE || path.join(REPO, 'build', 'realplayer-cache'),
    out: path.join(REPO, 'build', 'realplayer-out'),
    entries: [],
    entryTimeoutS: 120,
    deadlineS: 480,
    chromium: process.env.CHROMIUM || '/usr/bin/chromium',
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) usage(`${a} takes a value`);
      return argv[++i];
    };
    if (a === '--kpsim') o.kpsim = val();
    else if (a === '--scenario') o.scenario = val();
    else if (a === '--cache') o.cache = val();
    else if (a === '--out') o.out = val();
    else if (a === '--entry') o.entries.push(val());
    else if (a === '--entry-timeout') o.entryTimeoutS = Number(val());
    else if (a === '--deadline') o.deadlineS = Number(val());
    else if (a === '--chromium') o.chromium = val();
    else if (a === '--help' || a === '-h') usage();
    else usage(`unknown argument '${a}'`);
  }
  if (!o.kpsim) usage('--kpsim is required (or KPSIM_BIN)');
  if (!(o.entryTimeoutS > 0)) usage('--entry-timeout takes a positive number of seconds');
  if (!(o.deadlineS > 0)) usage('--deadline takes a positive number of seconds');
  return o;
}

const T0 = Date.now();
const since = () => Date.now() - T0;
const log = (s) => process.stdout.write(`realplayer: ${s}\n`);

function withTimeout(promise, ms, what) {
  let timer;
  const guard = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------------------------------------
// kpsim serve

// Starts kpsim serve; resolves with {child, url, partnerId, entries: [{id, status, duration}],
// exited: Promise<{code, signal}>} once the banner is complete.
function startKpsim(opt, journal, logFile) {
  const out = fs.createWriteStream(logFile);
  let cmd = opt.kpsim;
  let args = ['serve', opt.scenario, '--port', '0', '--journal', journal];
  // With setpriv (util-linux) kpsim gets SIGTERM if the driver dies, even by SIGKILL (a CTest
  // timeout): it must not outlive the test.
  if (fs.existsSync(SETPRIV)) {
    args = ['--pdeathsig', 'TERM', '--', cmd].concat(args);
    cmd = SETPRIV;
  }
  const child = spawn(cmd, args, {stdio: ['ignore', 'pipe', 'pipe']});
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => resolve({code, signal}));
  });
  child.stderr.on('data', (d) => out.write(d));
  const info = {child, exited, url: null, partnerId: null, entries: [], logFile};
  const banner = new Promise((resolve, reject) => {
    child.on('error', (e) => reject(new Error(`cannot start ${opt.kpsim}: ${e.message}`)));
    exited.then(({code, signal}) =>
      reject(new Error(`kpsim serve exited (${signal || 'code ' + code}) before it was ready; ` +
        `see ${logFile}:\n${tail(logFile, 20)}`)));
    const lines = readline.createInterface({input: child.stdout});
    let first = true;
    lines.on('line', (line) => {
      out.write(line + '\n');
      if (first) {
        first = false;
        const m = /^kpsim serve: listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(line);
        if (!m) {
          reject(new Error(`kpsim serve's first line is not 'kpsim serve: listening on URL': ${line}`));
          return;
        }
        info.url = m[1];
        return;
      }
      let m;
      if ((m = /^\s+partnerId\s+(\d+)\s*$/.exec(line))) info.partnerId = Number(m[1]);
      else if ((m = /^\s+entry\s+(\S+) \((\w+), ([\d.]+) s\)\s*$/.exec(line)))
        info.entries.push({id: m[1], status: m[2], duration: Number(m[3])});
      else if (/SIGINT or SIGTERM stops it/.test(line)) resolve(info);
    });
  });
  return withTimeout(banner, KPSIM_START_TIMEOUT_MS, 'kpsim serve start').catch((e) => {
    child.kill('SIGKILL');
    throw e;
  });
}

async function stopKpsim(k) {
  k.child.kill('SIGTERM');
  try {
    return await withTimeout(k.exited, KPSIM_STOP_TIMEOUT_MS, 'kpsim serve stop');
  } catch (e) {
    k.child.kill('SIGKILL');
    await k.exited;
    return {code: null, signal: 'SIGKILL (did not stop on SIGTERM)'};
  }
}

function tail(file, n) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-n - 1).join('\n');
  } catch (e) {
    return `(cannot read ${file}: ${e.message})`;
  }
}

// ---------------------------------------------------------------------------------------------
// the embedding page, on its own origin

function startPageServer(bundle) {
  const files = {
    '/': {file: path.join(HERE, 'page', 'index.html'), type: 'text/html; charset=utf-8'},
    '/index.html': {file: path.join(HERE, 'page', 'index.html'), type: 'text/html; charset=utf-8'},
    '/embed.js': {file: path.join(HERE, 'page', 'embed.js'), type: 'text/javascript'},
    '/kaltura-ovp-player.js': {file: bundle, type: 'text/javascript', cache: true},
  };
  const server = http.createServer((req, res) => {
    if (req.url === '/favicon.ico') {
      res.writeHead(204);
      res.end();
      return;
    }
    const f = files[new URL(req.url, 'http://x').pathname];
    if (!f || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, {'Content-Type': 'text/plain'});
      res.end('not found\n');
      return;
    }
    fs.readFile(f.file, (err, body) => {
      if (err) {
        res.writeHead(500, {'Content-Type': 'text/plain'});
        res.end(String(err));
        return;
      }
      res.writeHead(200, {
        'Content-Type': f.type,
        'Content-Length': body.length,
        'Cache-Control': f.cache ? 'max-age=3600' : 'no-store',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
  });
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve({server, origin: `http://127.0.0.1:${server.address().port}`});
    });
  });
}

// ---------------------------------------------------------------------------------------------
// one entry in a fresh page

async function playEntry(ctx, pageOrigin, config, entry, opt) {
  const consoleLines = [];
  const note = (s) => consoleLines.push(`${since()} ${s}`);
  const page = await ctx.newPage();
  page.on('console', (m) => note(`[console.${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => note(`[pageerror] ${(e && e.stack) || e}`));
  page.on('requestfailed', (r) => note(`[requestfailed] ${r.method()} ${r.url()} ${r.failure() && r.failure().errorText}`));
  page.on('response', (r) => {
    if (r.status() >= 400) note(`[http ${r.status()}] ${r.request().method()} ${r.url()}`);
  });
  const t0 = since();
  const result = {entry: entry.id, duration: entry.duration, pageErrors: 0};
  page.on('pageerror', () => result.pageErrors++);
  try {
    await page.goto(`${pageOrigin}/index.html`, {waitUntil: 'load', timeout: PAGE_READY_TIMEOUT_MS});
    await page.waitForFunction(() => !!(window.KalturaPlayer && window.kpsimEmbed),
      null, {timeout: PAGE_READY_TIMEOUT_MS});
    result.pageReadyMs = since() - t0;
    const run = page.evaluate(([c, id]) => window.kpsimEmbed.play(c, id), [config, entry.id]);
    const budget = Math.max(1000, Math.min(opt.entryTimeoutS * 1000, opt.deadlineS * 1000 - since() - 30000));
    try {
      await withTimeout(run, budget, `entry ${entry.id}`);
    } catch (e) {
      result.timeout = e.message;
      run.catch(() => {}); // settles (rejected) when the page closes
    }
    Object.assign(result, await page.evaluate(() => window.kpsimEmbed.report()));
  } catch (e) {
    result.driverError = String((e && e.stack) || e);
  } finally {
    result.wallMs = since() - t0;
    await page.close().catch(() => {});
    result.console = consoleLines;
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// the journal: which requests belong to which entry

function apiEntryId(rec) {
  // the provider's multirequest: {"2": {"service": "baseEntry", "action": "list",
  // "filter": {"redirectFromEntryId": ID}}, ...}
  const body = rec.body;
  if (!body || typeof body !== 'object') return null;
  for (const k of Object.keys(body)) {
    const c = body[k];
    if (c && c.service === 'baseEntry' && c.action === 'list' && c.filter)
      return c.filter.redirectFromEntryId || c.filter.idEqual || null;
  }
  return null;
}

// The entries play one after another, each in its own page, so an entry's requests run from
// its multirequest (and the CORS preflight right before it) to the next entry's.
function splitJournal(journal, ids) {
  const starts = [];
  for (let i = 0; i < journal.length; i++) {
    const id = apiEntryId(journal[i]);
    if (id && ids.includes(id) && !starts.some((s) => s.id === id)) {
      let from = i;
      if (i > 0 && journal[i - 1].method === 'OPTIONS' && journal[i - 1].path === journal[i].path) from = i - 1;
      starts.push({id, from});
    }
  }
  const byEntry = {};
  starts.forEach((s, k) => {
    byEntry[s.id] = journal.slice(s.from, k + 1 < starts.length ? starts[k + 1].from : journal.length);
  });
  return byEntry;
}

function isPlayManifest(rec) {
  return /\/playManifest\//.test(rec.path || '');
}

// A media request: anything on the CDN for the entry that is neither the playManifest nor a
// playlist or thumbnail, answered with bytes (200, or 206 for a range).
function isMedia(rec) {
  if (rec.server !== 'cdn' || isPlayManifest(rec) || /\/thumbnail\//.test(rec.path || '')) return false;
  if (rec.kind === 'master' || rec.kind === 'playlist' || rec.kind === 'manifest' || rec.kind === 'thumbnail')
    return false;
  return /\.(ts|m4s|mp4|m4v|m4a|aac)$/.test(rec.path || '') || rec.kind === 'segment' ||
    rec.kind === 'init' || rec.kind === 'media' || rec.kind === 'mp4';
}

function describe(rec) {
  const q = rec.query && Object.keys(rec.query).length ? '?' + Object.keys(rec.query).join('&') : '';
  const bits = [`#${rec.seq}`, rec.server || '?', rec.method, (rec.path || '') + q, '->', rec.status];
  if (rec.kind) bits.push(`[${rec.kind}]`);
  const calls = Array.isArray(rec.calls) ? rec.calls.map((c) => `${c.service}.${c.action}`).join(',') : '';
  if (calls) bits.push(`{${calls}}`);
  if (rec.range || (rec.headers && rec.headers.range)) bits.push(`range=${rec.range || rec.headers.range}`);
  return bits.join(' ');
}

function countsLine(recs) {
  const c = {};
  for (const r of recs) {
    const k = isPlayManifest(r) ? 'playManifest' : r.server === 'api' ? `api ${r.method}` : r.kind || 'other';
    const key = `${k} ${r.status}`;
    c[key] = (c[key] || 0) + 1;
  }
  return Object.entries(c).map(([k, n]) => `${n}x ${k}`).join(', ');
}

// ---------------------------------------------------------------------------------------------

function errorLine(err) {
  const p = err.payload || {};
  const data = JSON.stringify(p.data === undefined ? null : p.data);
  return `'error' event at ct=${err.ct}: severity ${p.severity}, category ${p.category}, code ${p.code}, ` +
    `data ${data.length > 400 ? data.slice(0, 400) + '...' : data}`;
}

async function main() {
  const opt = parseArgs(process.argv.slice(2));
  const pwPath = path.join(opt.cache, 'npm', 'node_modules', 'playwright-core');
  const playerDir = path.join(opt.cache, 'player');
  const bundleDir = fs.existsSync(playerDir) ? fs.readdirSync(playerDir).filter((d) => /^\d/.test(d)).sort() : [];
  const bundle = bundleDir.length ? path.join(playerDir, bundleDir[bundleDir.length - 1], 'kaltura-ovp-player.js') : '';
  if (!fs.existsSync(pwPath) || !bundle || !fs.existsSync(bundle))
    throw new Error(`nothing set up in ${opt.cache}: run tests/realplayer/setup.sh first`);
  if (!fs.existsSync(opt.chromium)) throw new Error(`no browser at ${opt.chromium} (Debian package chromium)`);
  const {chromium} = require(pwPath);
  const playerVersion = JSON.parse(fs.readFileSync(path.join(path.dirname(bundle), 'package.json'), 'utf8')).version;

  fs.mkdirSync(opt.out, {recursive: true});
  for (const f of fs.readdirSync(opt.out)) if (/^(events|console)-.*|^(journal|summary)\.json$|^kpsim\.log$/.test(f))
    fs.rmSync(path.join(opt.out, f), {force: true});
  const journalFile = path.join(opt.out, 'journal.json');
  const timing = {};
  const failures = [];

  log(`player ${playerVersion} (${bundle}), playwright-core ${require(path.join(pwPath, 'package.json')).version}`);
  const kpsim = await startKpsim(opt, journalFile, path.join(opt.out, 'kpsim.log'));
  // kpsim must not outlive the driver, however the driver ends
  let kpsimRunning = true;
  kpsim.exited.then(() => { kpsimRunning = false; });
  process.on('exit', () => { if (kpsimRunning) kpsim.child.kill('SIGKILL'); });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      process.stderr.write(`realplayer: ${sig}, stopping\n`);
      process.exit(1);
    });
  }
  timing.kpsimReadyMs = since();
  log(`kpsim serve at ${kpsim.url} (partner ${kpsim.partnerId}; ${kpsim.entries.length} entries) in ${timing.kpsimReadyMs} ms`);
  if (!kpsim.partnerId || kpsim.partnerId === 2504201)
    failures.push(`partnerId ${kpsim.partnerId} is not usable (unset or 2504201 makes the bundle send a beacon)`);
  let entries = kpsim.entries;
  if (opt.entries.length) {
    entries = opt.entries.map((id) => kpsim.entries.find((e) => e.id === id) || {id, status: '?', duration: NaN});
  }
  if (!entries.length) failures.push('kpsim serve listed no entries');

  let pageSrv = null;
  let ctx = null;
  let udd = null;
  const results = [];
  const external = [];
  try {
    if (failures.length) throw null;
    pageSrv = await startPageServer(bundle);
    udd = path.join(opt.out, 'chromium-profile'); // fresh: emptied before and after the run
    fs.rmSync(udd, {recursive: true, force: true});
    fs.mkdirSync(udd);
    ctx = await chromium.launchPersistentContext(udd, {
      executablePath: opt.chromium,
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: {width: 800, height: 450},
      timeout: 60000,
    });
    timing.browserReadyMs = since();
    const browserVersion = ctx.browser() ? ctx.browser().version() : '?';
    log(`chromium ${browserVersion} up in ${timing.browserReadyMs - timing.kpsimReadyMs} ms; page origin ${pageSrv.origin}`);
    // No request interception (it would answer CORS preflights itself); only watch for
    // anything that tries to leave the loopback.
    ctx.on('request', (r) => {
      const u = r.url();
      if (/^(data|blob|about):/.test(u) || /^https?:\/\/127\.0\.0\.1(:\d+)?\//.test(u)) return;
      external.push(`${r.method()} ${u}`);
    });

    const config = {
      targetId: 'player',
      log: {level: 'WARN'},
      provider: {
        partnerId: kpsim.partnerId,
        env: {serviceUrl: `${kpsim.url}/api_v3`, cdnUrl: kpsim.url},
      },
      playback: {autoplay: true, muted: true},
    };
    for (const entry of entries) {
      if (since() > opt.deadlineS * 1000 - 30000) {
        results.push({entry: entry.id, duration: entry.duration, driverError: `not played: the ${opt.deadlineS} s deadline is near`});
        continue;
      }
      const r = await playEntry(ctx, pageSrv.origin, config, entry, opt);
      results.push(r);
      fs.writeFileSync(path.join(opt.out, `events-${entry.id}.json`), JSON.stringify(r, null, 1) + '\n');
      fs.writeFileSync(path.join(opt.out, `console-${entry.id}.log`), r.console.join('\n') + '\n');
      log(`entry ${entry.id}: ${r.end ? r.end.end : 'no end'} after ${r.wallMs} ms ` +
        `(${(r.events || []).length} player events, ${(r.errors || []).length} errors)`);
    }
  } catch (e) {
    if (e !== null) failures.push(String((e && e.stack) || e));
  } finally {
    const tClose = since();
    if (ctx) await ctx.close().catch((e) => failures.push(`closing the browser: ${e}`));
    if (pageSrv) await new Promise((r) => pageSrv.server.close(r));
    if (udd) fs.rmSync(udd, {recursive: true, force: true});
    timing.browserCloseMs = since() - tClose;
  }

  const stopped = await stopKpsim(kpsim);
  timing.totalMs = since();
  if (stopped.code !== 0)
    failures.push(`kpsim serve did not exit 0 on SIGTERM (${stopped.signal || 'code ' + stopped.code}); see ${kpsim.logFile}`);
  let journal = [];
  try {
    journal = JSON.parse(fs.readFileSync(journalFile, 'utf8'));
    if (!Array.isArray(journal)) throw new Error('not a JSON array');
  } catch (e) {
    failures.push(`kpsim's journal ${journalFile} is unreadable: ${e.message}`);
    journal = [];
  }
  if (external.length) failures.push(`requests left the loopback: ${external.join(', ')}`);

  // ---- per entry verdict ----
  const byEntry = splitJournal(journal, results.map((r) => r.entry));
  const summary = [];
  for (const r of results) {
    const why = [];
    const recs = byEntry[r.entry] || [];
    if (r.driverError) why.push(`driver: ${r.driverError.split('\n')[0]}`);
    if (r.timeout) why.push(`never reached 'ended' (${r.timeout})`);
    if (r.loadMedia && r.loadMedia.state === 'rejected') why.push('loadMedia() rejected');
    for (const err of r.errors || []) why.push(errorLine(err));
    if (!r.end || r.end.end !== 'ended') {
      if (!r.timeout && !r.driverError) why.push(`stopped waiting on '${r.end ? r.end.end : '?'}' before 'ended'`);
    } else if (isFinite(r.duration) && !(Math.abs(r.end.ct - r.duration) <= END_TOLERANCE_S)) {
      why.push(`'ended' came at position ${r.end.ct} s, but the entry is ${r.duration} s long`);
    }
    const manifests = recs.filter(isPlayManifest);
    const media = recs.filter(isMedia);
    if (!manifests.length) why.push('kpsim journaled no playManifest request for it');
    else if (!manifests.some((m) => m.status >= 200 && m.status < 400)) why.push('every playManifest request failed');
    if (!media.some((m) => m.status === 200 || m.status === 206)) why.push('kpsim journaled no media (segment or file) request answered with bytes');
    const s = {
      entry: r.entry,
      pass: why.length === 0,
      why,
      end: r.end,
      loadMedia: r.loadMedia && r.loadMedia.state,
      source: r.source,
      playerEvents: (r.events || []).length,
      eventTypes: [...new Set((r.events || []).map((e) => e.type))],
      errors: r.errors || [],
      pageErrors: r.pageErrors,
      pageReadyMs: r.pageReadyMs,
      wallMs: r.wallMs,
      requests: countsLine(recs),
      versions: r.versions,
    };
    summary.push(s);
  }
  fs.writeFileSync(path.join(opt.out, 'summary.json'),
    JSON.stringify({timing, failures, entries: summary}, null, 1) + '\n');

  // ---- report ----
  process.stdout.write('\n');
  for (const s of summary) {
    const src = s.source ? `${s.source.mimetype}` : 'no source selected';
    const endAt = s.end && s.end.end === 'ended' ? `ended at ct=${s.end.ct}` : `end: ${s.end ? s.end.end : 'none'}`;
    process.stdout.write(`${s.pass ? 'PASS' : 'FAIL'}  ${s.entry}  ${src}; ${endAt}; ` +
      `${s.playerEvents} player events of ${s.eventTypes.length} types; ${s.errors.length} error events; ` +
      `${s.wallMs} ms\n      requests: ${s.requests || 'none'}\n`);
    if (s.pageErrors) process.stdout.write(`      ${s.pageErrors} uncaught page errors (console-${s.entry}.log)\n`);
    if (!s.pass) {
      for (const w of s.why) process.stdout.write(`      - ${w}\n`);
      const rr = results.find((x) => x.entry === s.entry);
      const types = (rr.events || []).map((e) => e.type).filter((t) => !/^playkit-ui-/.test(t));
      process.stdout.write(`      player events in order (UI events left out; all in events-${s.entry}.json): ${types.join(' ')}\n`);
      process.stdout.write(`      what kpsim journaled for it (${(byEntry[s.entry] || []).length} requests):\n`);
      for (const rec of byEntry[s.entry] || []) process.stdout.write(`        ${describe(rec)}\n`);
      const cons = rr.console || [];
      if (cons.length) {
        process.stdout.write(`      browser console (last ${Math.min(cons.length, 15)} of ${cons.length}):\n`);
        for (const l of cons.slice(-15)) process.stdout.write(`        ${l.slice(0, 300)}\n`);
      }
    }
  }
  const unplaced = journal.length - Object.values(byEntry).reduce((n, a) => n + a.length, 0);
  if (unplaced) process.stdout.write(`(${unplaced} journaled requests belong to no entry)\n`);
  for (const f of failures) process.stdout.write(`FAIL  ${f}\n`);
  process.stdout.write(`timing: kpsim ready ${timing.kpsimReadyMs} ms, browser ready ${timing.browserReadyMs} ms, ` +
    `browser closed in ${timing.browserCloseMs} ms, total ${timing.totalMs} ms; journal: ${journal.length} requests (${journalFile})\n`);
  const bad = summary.filter((s) => !s.pass).length;
  if (bad || failures.length || summary.length < entries.length) {
    process.stdout.write(`realplayer: FAILED (${bad} of ${entries.length} entries failed` +
      `${failures.length ? `, ${failures.length} other problems` : ''}); details in ${opt.out}\n`);
    return 1;
  }
  process.stdout.write(`realplayer: OK, the real Kaltura Player ${playerVersion} played all ${summary.length} entries to the end\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`realplayer: ${(e && e.stack) || e}\n`);
    process.exit(1);
  });
