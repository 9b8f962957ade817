#!/bin/sh
# The CTest entry point (realplayer.kaltura-player): setup.sh, then the driver.
#   tests/realplayer/run.sh KPSIM_BIN [OUT_DIR] [driver options...]
# The cache is $KPSIM_REALPLAYER_CACHE, else build/realplayer-cache in the checkout.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || {
    echo "usage: $0 KPSIM_BIN [OUT_DIR] [driver options...]" >&2
    exit 2
}
kpsim=$1
shift
out=${1:-$(cd "$here/../.." && pwd)/build/realplayer-out}
[ $# -ge 1 ] && shift
cache=${KPSIM_REALPLAYER_CACHE:-$(cd "$here/../.." && pwd)/build/realplayer-cache}
start=$(date +%s)
sh "$here/setup.sh" "$cache"
took=$(($(date +%s) - start))
echo "realplayer: setup took $took s"
# CTest stops the test at 600 s; the driver must finish (and stop kpsim and Chromium) before
deadline=$((560 - took))
[ "$deadline" -ge 60 ] || deadline=60
exec node "$here/driver.js" --kpsim "$kpsim" --cache "$cache" --out "$out" --deadline "$deadline" "$@"
