#!/bin/sh
# kpsim's one entry point for developers and CI (the README's two commands):
#   tools/dev.sh suite   install what is missing, build, run the bundled suite (scenarios/)
#   tools/dev.sh test    install what is missing, build, run every test: unit, integration
#                        and scenario tests, then all of them again under ASan+UBSan, and the
#                        clang-format check
# Environment: KPSIM_SHARED_DIR points at the shared/ material (oracle traces, provider
# goldens); by default ../shared beside the checkout is used when it exists. With
# KPSIM_REQUIRE_SHARED=1 (CI) its absence is an error, so the tests that need it cannot be
# skipped by accident. JOBS sets the parallelism (default: the number of cores).
# `test` also runs the real Kaltura Player (npm) in Debian's headless Chromium against
# `kpsim serve` (tests/realplayer/, dev build only): it needs the Debian and npm registries;
# KPSIM_REALPLAYER=0 leaves it out (CI never does). Last, it fuzzes every libFuzzer target for
# KPSIM_FUZZ_SECONDS each (default 60; 0 leaves fuzzing out, CI never does): tools/fuzz.sh.
set -eu
cd "$(dirname "$0")/.."
mode=${1:-}
case "$mode" in
suite | test) ;;
*)
    echo "usage: tools/dev.sh suite|test" >&2
    exit 2
    ;;
esac

realplayer=OFF
[ "$mode" = test ] && [ "${KPSIM_REALPLAYER:-1}" != 0 ] && realplayer=ON
fuzz_secs=${KPSIM_FUZZ_SECONDS:-60}
deps=""
[ "$realplayer" = ON ] && deps="realplayer"
[ "$mode" = test ] && [ "$fuzz_secs" != 0 ] && deps="$deps fuzz"
# shellcheck disable=SC2086
tools/install-deps.sh $deps

jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
shared=${KPSIM_SHARED_DIR:-}
if [ -z "$shared" ] && [ -d ../shared/conformance ]; then
    shared=$(cd ../shared && pwd)
fi
if [ "${KPSIM_REQUIRE_SHARED:-0}" = 1 ] && { [ -z "$shared" ] || [ ! -d "$shared/conformance" ]; }; then
    echo "tools/dev.sh: KPSIM_REQUIRE_SHARED=1 but the shared/ material is missing (KPSIM_SHARED_DIR='$shared')" >&2
    exit 1
fi

build() { # preset [cmake -D options]
    preset=$1
    shift
    cmake --preset "$preset" -DKPSIM_SHARED_DIR="$shared" "$@" >/dev/null
    cmake --build --preset "$preset" -j "$jobs"
}

if [ "$mode" = suite ]; then
    build dev
    exec build/dev/harness/kpsim run scenarios/
fi

echo "== format check"
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find core harness mock-backend tests bench -name '*.[ch]')
# shellcheck disable=SC2086
clang-format --dry-run --Werror $files

echo "== build and test (RelWithDebInfo, -Werror; real player: $realplayer)"
build dev -DKPSIM_REALPLAYER="$realplayer"
ctest --preset dev -j "$jobs"

echo "== build and test under AddressSanitizer + UndefinedBehaviorSanitizer"
build asan
ctest --preset asan -j "$jobs"

if [ "$fuzz_secs" != 0 ]; then
    echo "== fuzz every target for ${fuzz_secs}s (libFuzzer, ASan+UBSan)"
    tools/fuzz.sh "$fuzz_secs"
fi
echo "== all tests passed"
