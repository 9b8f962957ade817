#!/bin/sh
# Runs every libFuzzer target for a bounded time (tools/dev.sh test does, in CI):
#   tools/fuzz.sh [SECONDS] [TARGET...]    default 60 s each, every target
# Builds the `fuzz` preset (clang, ASan+UBSan), then fuzzes each target from a scratch copy of
# its seed corpus (tests/fuzz/corpus/<target>/; the checked-in seeds are not modified). A
# crash, leak, sanitizer report or timeout fails the run: the reproducer is kept under
# build/fuzz/findings/<target>/ and its path printed, to be fixed and then added to the seeds.
set -eu
cd "$(dirname "$0")/.."
secs=${1:-60}
[ $# -gt 0 ] && shift
case "$secs" in
'' | *[!0-9]*)
    echo "usage: tools/fuzz.sh [SECONDS] [TARGET...]" >&2
    exit 2
    ;;
esac
targets="$*"
if [ -z "$targets" ]; then
    targets=$(sed -n 's/^set(KPSIM_FUZZ_TARGETS \(.*\))$/\1/p' tests/fuzz/CMakeLists.txt)
fi
[ -n "$targets" ] || { echo "tools/fuzz.sh: no targets found in tests/fuzz/CMakeLists.txt" >&2; exit 1; }

cmake --preset fuzz >/dev/null
for t in $targets; do
    cmake --build --preset fuzz --target "fuzz-$t"
done

status=0
for t in $targets; do
    work=build/fuzz/work/$t
    found=build/fuzz/findings/$t
    rm -rf "$work"
    mkdir -p "$work" "$found"
    cp tests/fuzz/corpus/"$t"/* "$work"/
    echo "== fuzz-$t for ${secs}s"
    # -fork would survive the first crash; one crash is enough to fail CI
    if build/fuzz/tests/fuzz/fuzz-"$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$found/" -print_final_stats=1 "$work" >"$found/log.txt" 2>&1; then
        grep -E '^stat::number_of_executed_units|^stat::new_units_added' "$found/log.txt" |
            tr '\n' ' '
        echo
    else
        status=1
        echo "fuzz-$t FAILED; reproducer(s):" >&2
        ls "$found"/crash-* "$found"/leak-* "$found"/timeout-* "$found"/oom-* 2>/dev/null >&2 || true
        tail -n 40 "$found/log.txt" >&2
    fi
done
exit $status
