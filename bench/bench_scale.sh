#!/bin/sh
# bench_scale.sh: the suite-scale figure of issue 7: 1,000 generated 30-second VOD scenarios
# (HLS, DASH and progressive MP4 in turn, each playing to the end and asserting its
# sequence) run by `kpsim run --jobs 2`, one process per scenario.
#
#   bench/bench_scale.sh [BUILD_DIR] [COUNT] [JOBS]      (defaults: build/dev, 1000, 2)
#
# Prints the total wall time and the per-scenario peak RSS (each scenario process's
# ru_maxrss, from wait4; results.json keeps it as peak_rss_kb): max and median. Targets:
# under 60 s in total, under 50 MB per process. The media cache is warmed first (one
# scenario per format) so that the figure is the run's, not FFmpeg's encoding of the media
# once per machine. A figure, not a test: only a run that does not pass exits non-zero.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build/dev}
count=${2:-1000}
jobs=${3:-2}
kpsim=$build/harness/kpsim
[ -x "$kpsim" ] || { echo "bench_scale: no $kpsim (build first)" >&2; exit 2; }
export KPSIM_CACHE_DIR=${KPSIM_CACHE_DIR:-$build/media-cache}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/suite" "$tmp/warm"
i=0
while [ $i -lt "$count" ]; do
    case $((i % 3)) in
    0) fmt=hls ;;
    1) fmt=dash ;;
    *) fmt=progressive ;;
    esac
    bw=$((4 + i % 5 * 2))
    cat >"$tmp/suite/s$(printf %04d $i).yaml" <<YAML
name: bench $i $fmt ${bw}mbps
tags: [bench, $fmt]
backend:
  entries:
    - {id: 0_bench$fmt, duration: 30, formats: [$fmt], renditions: [360p, 180p]}
player:
  network: {bandwidth: ${bw}mbps, latency: 20ms}
  config:
    playback: {autoplay: true, muted: true}
steps:
  - load_media: {entry_id: 0_bench$fmt}
  - wait_for: {event: ended, timeout: 60s}
expect:
  events:
    sequence: [..., firstplaying, ..., playreached100percent, ..., ended, playbackended]
  error: null
YAML
    i=$((i + 1))
done
cp "$tmp/suite/s0000.yaml" "$tmp/suite/s0001.yaml" "$tmp/suite/s0002.yaml" "$tmp/warm/"
"$kpsim" run --report-dir "$tmp/warm-report" "$tmp/warm" >/dev/null

start=$(date +%s.%N)
set +e
"$kpsim" run --jobs "$jobs" --report-dir "$tmp/report" "$tmp/suite" >"$tmp/run.out" 2>&1
code=$?
set -e
end=$(date +%s.%N)
tail -n 1 "$tmp/run.out"
grep -o '"peak_rss_kb": [0-9]*' "$tmp/report/results.json" | awk '{print $2}' | sort -n \
    >"$tmp/rss"
n=$(wc -l <"$tmp/rss")
max=$(tail -n 1 "$tmp/rss")
median=$(sed -n "$(((n + 1) / 2))p" "$tmp/rss")
wall=$(echo "$end $start" | awk '{printf "%.1f", $1 - $2}')
echo "bench_scale: $count scenarios of 30 s, --jobs $jobs: ${wall} s wall (target < 60 s)"
echo "bench_scale: peak RSS per scenario process: max $((max / 1024)) MB, median" \
    "$((median / 1024)) MB over $n processes (target < 50 MB)"
[ "$code" -eq 0 ] || { echo "bench_scale: the run exited with $code" >&2; grep -v '^PASS' "$tmp/run.out" | head -20 >&2; exit 1; }
