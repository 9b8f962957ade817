#!/bin/sh
# Fetches what the real-player test needs into a cache outside git, once:
#   CACHE/npm/node_modules/playwright-core       (npm ci from package-lock.json, no install scripts:
#                                                  Playwright drives Debian's /usr/bin/chromium, it
#                                                  downloads no browser)
#   CACHE/player/<version>/kaltura-ovp-player.js (npm pack of @playkit-js/kaltura-player-js, checked
#                                                  against the pinned integrity, then unpacked)
# `npm install @playkit-js/kaltura-player-js` cannot be used: the package pins
# @playkit-js/playkit-js-dash@1.40.0, which was never published (ETARGET). Its dist/ bundle is
# self-contained, so the package tarball alone is enough.
#
# usage: tests/realplayer/setup.sh [CACHE]
#   CACHE defaults to $KPSIM_REALPLAYER_CACHE, else build/realplayer-cache in the checkout.
#   CHROMIUM names the browser (default /usr/bin/chromium).
# Idempotent: a second run checks the stamps and fetches nothing. Exits 1, saying why, when
# chromium, node (>= 20) or npm is missing or the registry cannot be reached: the test must fail
# then, not be skipped.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${1:-${KPSIM_REALPLAYER_CACHE:-$repo/build/realplayer-cache}}
chromium=${CHROMIUM:-/usr/bin/chromium}

player_pkg=@playkit-js/kaltura-player-js
player_version=3.17.95
# dist.integrity of that tarball on the registry; a tarball that does not match is refused
player_integrity=sha512-QhBAtfuJW6ienLWJ9V0cZ1F5H0tGz2GV9wbeqSFDS2kf2SXQrk/PLandaDFbMXZTyCvIRC5BxZ4eqiFFaeAYFQ==

fail() {
    echo "realplayer setup: $*" >&2
    exit 1
}

# ---- what must be on the machine (tools/install-deps.sh installs it) ----
[ -x "$chromium" ] || fail "no browser at $chromium (Debian package chromium; tools/install-deps.sh installs it)"
command -v node >/dev/null 2>&1 || fail "node is not installed (Node.js 20 or later)"
command -v npm >/dev/null 2>&1 || fail "npm is not installed"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || fail "node $(node --version) is too old: playwright-core 1.65 needs Node.js 20 or later"

mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

# One setup at a time per cache (two test runs may share it).
if command -v flock >/dev/null 2>&1 && [ -z "${KPSIM_REALPLAYER_LOCKED:-}" ]; then
    KPSIM_REALPLAYER_LOCKED=1 exec flock "$cache/.lock" sh "$0" "$cache"
fi

sha512_of() { # file -> sha512-<base64>, npm's integrity notation
    node -e 'const c=require("crypto"),f=require("fs");
process.stdout.write("sha512-"+c.createHash("sha512").update(f.readFileSync(process.argv[1])).digest("base64"))' "$1"
}

export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
# a registry that does not answer must fail the test well inside CTest's 600 s
export npm_config_fetch_timeout="${npm_config_fetch_timeout:-60000}"
export npm_config_fetch_retries="${npm_config_fetch_retries:-2}"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

# ---- playwright-core ----
npm_dir=$cache/npm
lock_sum=$(sha512_of "$here/package-lock.json")
if [ -f "$npm_dir/.stamp" ] && [ "$(cat "$npm_dir/.stamp")" = "$lock_sum" ] &&
    [ -f "$npm_dir/node_modules/playwright-core/package.json" ]; then
    echo "realplayer setup: playwright-core already in $npm_dir"
else
    echo "realplayer setup: npm ci (playwright-core) in $npm_dir"
    rm -rf "$npm_dir"
    mkdir -p "$npm_dir"
    cp "$here/package.json" "$here/package-lock.json" "$npm_dir/"
    (cd "$npm_dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) ||
        fail "npm ci failed (is the npm registry reachable?)"
    printf '%s' "$lock_sum" >"$npm_dir/.stamp"
fi

# ---- the player bundle ----
player_dir=$cache/player/$player_version
bundle=$player_dir/kaltura-ovp-player.js
if [ -f "$player_dir/.stamp" ] && [ "$(cat "$player_dir/.stamp")" = "$player_integrity" ] &&
    [ -f "$bundle" ]; then
    echo "realplayer setup: $player_pkg@$player_version already in $player_dir"
else
    echo "realplayer setup: npm pack $player_pkg@$player_version into $player_dir"
    tmp=$cache/player/.tmp.$$
    rm -rf "$tmp" "$player_dir"
    mkdir -p "$tmp"
    (cd "$tmp" && npm pack "$player_pkg@$player_version" --loglevel=error >/dev/null) ||
        fail "npm pack $player_pkg@$player_version failed (is the npm registry reachable?)"
    tgz=$tmp/playkit-js-kaltura-player-js-$player_version.tgz
    [ -f "$tgz" ] || fail "npm pack left no $tgz"
    got=$(sha512_of "$tgz")
    [ "$got" = "$player_integrity" ] || fail "$tgz has integrity $got, expected $player_integrity"
    tar -xzf "$tgz" -C "$tmp"
    [ -f "$tmp/package/dist/kaltura-ovp-player.js" ] || fail "the tarball has no dist/kaltura-ovp-player.js"
    mkdir -p "$tmp/out"
    cp "$tmp/package/dist/kaltura-ovp-player.js" "$tmp/package/package.json" "$tmp/out/"
    printf '%s' "$player_integrity" >"$tmp/out/.stamp"
    mv "$tmp/out" "$player_dir"
    rm -rf "$tmp"
fi
echo "realplayer setup: ready ($cache)"
