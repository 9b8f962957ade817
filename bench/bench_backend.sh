#!/bin/sh
# bench_backend.sh: the mock back-end's throughput for the multirequest a playback start sends
# (startWidgetSession, baseEntry.list, getPlaybackContext, metadata_metadata.list, with their
# {N:result:...} references), measured as WireMock's figure was: wrk -t1 -c10, one route, the
# request journal on (kpsim serve keeps it and writes it out with --journal).
#
#   bench/bench_backend.sh [BUILD_DIR] [SECONDS]      (defaults: build/dev, 10)
#
# After a 2 s warm-up, three rounds of SECONDS each; prints each round and the median, and its
# ratio to WireMock 3.13's 7.8k requests/s on this kind of machine (2 cores, wrk on the same
# machine). Every request is journaled; the journal's record count is checked at the end.
# Needs wrk (Debian package wrk). A figure, not a test: nothing here passes or fails on speed.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build/dev}
secs=${2:-10}
kpsim=$build/harness/kpsim
wiremock_rps=7800
command -v wrk >/dev/null || { echo "bench_backend: wrk is missing (apt-get install wrk)" >&2; exit 2; }
[ -x "$kpsim" ] || { echo "bench_backend: no $kpsim (build first)" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
"$kpsim" serve --port 0 --journal "$tmp/journal.json" "$here/scenarios/playback/hls-vod-to-end.yaml" \
    >"$tmp/serve.out" 2>&1 &
pid=$!
i=0
until grep -q 'listening on' "$tmp/serve.out"; do
    i=$((i + 1))
    [ $i -lt 100 ] || { cat "$tmp/serve.out" >&2; exit 1; }
    sleep 0.1
done
base=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$tmp/serve.out")

cat >"$tmp/body.json" <<'JSON'
{"1":{"service":"session","action":"startWidgetSession","widgetId":"_1234567"},
 "2":{"service":"baseEntry","action":"list","ks":"{1:result:ks}",
      "filter":{"redirectFromEntryId":"0_vod00001"},
      "responseProfile":{"type":1,"fields":"id,referenceId,name,description,thumbnailUrl,dataUrl,duration,msDuration,flavorParamsIds,mediaType,type,tags,dvrStatus,externalSourceType,status,createdAt,updatedAt,endDate,plays,views,downloadUrl,creatorId,userId,rootEntryId,capabilities,adminTags"}},
 "3":{"service":"baseEntry","action":"getPlaybackContext","entryId":"{2:result:objects:0:id}",
      "ks":"{1:result:ks}","contextDataParams":{"objectType":"KalturaContextDataParams","flavorTags":"all"}},
 "4":{"service":"metadata_metadata","action":"list","ks":"{1:result:ks}",
      "filter":{"objectType":"KalturaMetadataFilter","objectIdEqual":"{2:result:objects:0:id}","metadataObjectTypeEqual":"1"}},
 "apiVersion":"3.3.0","format":1,"ks":"","clientTag":"html5:v3.17.95","partnerId":1234567}
JSON
# the reply must be a real playback context, not an error
curl -sf -H 'Content-Type: application/json' --data-binary @"$tmp/body.json" \
    "$base/api_v3/service/multirequest" >"$tmp/reply.json"
grep -q '"KalturaPlaybackContext"' "$tmp/reply.json" ||
    { echo "bench_backend: unexpected reply: $(head -c 400 "$tmp/reply.json")" >&2; exit 1; }

cat >"$tmp/post.lua" <<LUA
local f = io.open("$tmp/body.json", "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
LUA
echo "kpsim mock back-end: playback-start multirequest (4 sub-requests), journal on, wrk -t1 -c10"
wrk -t1 -c10 -d2s -s "$tmp/post.lua" "$base/api_v3/service/multirequest" >/dev/null # warm-up
: >"$tmp/rates"
for round in 1 2 3; do
    wrk -t1 -c10 -d"${secs}s" -s "$tmp/post.lua" "$base/api_v3/service/multirequest" >"$tmp/wrk.out"
    rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$tmp/wrk.out")
    lat=$(sed -n 's/^ *Latency *\([^ ]*\).*/\1/p' "$tmp/wrk.out")
    errs=$(grep -E 'Non-2xx|Socket errors' "$tmp/wrk.out" || true)
    echo "round $round: ${rps} requests/s over ${secs}s, mean latency $lat ${errs}"
    echo "$rps" >>"$tmp/rates"
done
kill -TERM "$pid"
wait "$pid" || true
journaled=$(grep -o '"seq":' "$tmp/journal.json" | wc -l)
sort -n "$tmp/rates" | awk -v w="$wiremock_rps" -v j="$journaled" '{ r[NR] = $1 } END {
    printf "median %.0f requests/s (min %.0f, max %.0f); WireMock 3.13: %d; ratio %.2fx (target 3x); journal records %d\n",
        r[2], r[1], r[3], w, r[2] / w, j }'
