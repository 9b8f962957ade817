#!/bin/sh
# bench_fault_delay.sh: fault delays cost no wall time in `kpsim run`. The same HLS scenario
# (a 10 s entry played to the end) runs N times as is and N times with a fault rule that
# delays one media segment by 30 s of virtual time (the player buffers, then plays on); both
# batches' wall times are printed with their ratio and the virtual times, which differ by the
# 30 s. The requirement (issue 6) is a ratio within 1.10. One rendition: with a ladder the
# slow segment makes ABR switch down, and the player then does other work (another playlist,
# other segments), which is not the fault's cost.
#
#   bench/bench_fault_delay.sh [BUILD_DIR] [N]   (defaults: build/dev, 30)
#
# A figure, not a test: nothing here fails on speed. The first batch warms the media cache.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build/dev}
n=${2:-30}
kpsim=$build/harness/kpsim
[ -x "$kpsim" ] || { echo "bench_fault_delay: no $kpsim (build first)" >&2; exit 2; }
export KPSIM_CACHE_DIR=${KPSIM_CACHE_DIR:-$build/media-cache}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/plain" "$tmp/delayed"
scenario() { # $1: a unique name, $2: the faults block (or nothing)
    cat <<YAML
name: $1
backend:
  entries:
    - {id: 0_vod00001, duration: 10, formats: [hls], renditions: [360p]}
$2
player:
  config:
    playback: {autoplay: true, muted: true}
steps:
  - load_media: {entry_id: 0_vod00001}
  - wait_for: {event: ended, timeout: 120s}
expect: {error: null}
YAML
}
i=0
while [ "$i" -lt "$n" ]; do
    scenario "plain $i" "" >"$tmp/plain/s$i.yaml"
    scenario "delayed $i" "  faults:
    - {server: cdn, match: {kind: segment, segment: 3}, reply: {delay: 30s}}" >"$tmp/delayed/s$i.yaml"
    i=$((i + 1))
done

"$kpsim" run --report-dir "$tmp/warm" "$tmp/plain/s0.yaml" >/dev/null
batch() { # $1: folder; prints "wall_ms virtual_ms_of_one"
    "$kpsim" run --report-dir "$tmp/r-$1" "$tmp/$1" >/dev/null || {
        echo "bench_fault_delay: the $1 batch failed" >&2
        exit 1
    }
    python3 - "$tmp/r-$1/results.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print("%.1f %d" % (r["summary"]["wall_ms"], r["scenarios"][0]["virtual_ms"]))
PY
}
# alternate the batches so that drifting machine load hits both
p1=$(batch plain); d1=$(batch delayed); p2=$(batch plain); d2=$(batch delayed)
python3 - "$n" "$p1" "$d1" "$p2" "$d2" <<'PY'
import sys
n = int(sys.argv[1])
p = [tuple(map(float, a.split())) for a in sys.argv[2::2]]
d = [tuple(map(float, a.split())) for a in sys.argv[3::2]]
pw = sum(x[0] for x in p) / len(p); dw = sum(x[0] for x in d) / len(d)
print("scenarios per batch    %d" % n)
print("without the fault      %.1f ms wall per batch, %.3f s virtual each" % (pw, p[0][1] / 1000))
print("with a 30 s delay      %.1f ms wall per batch, %.3f s virtual each" % (dw, d[0][1] / 1000))
print("wall ratio             %.3f (requirement: within 1.10)" % (dw / pw))
PY
