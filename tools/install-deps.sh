#!/bin/sh
# Installs the Debian 12 packages kpsim needs, when some are missing (uses sudo when not root).
#   tools/install-deps.sh [realplayer] [fuzz]
# With no argument: what building and the C tests need. `realplayer` adds what
# tests/realplayer/ needs: Debian's chromium, and node and npm when there are none
# (playwright-core needs Node.js 20; Debian 12's nodejs is 18, so a machine without Node 20
# must bring its own). `fuzz` adds clang and its sanitizer and libFuzzer runtimes
# (tools/fuzz.sh). python3-cryptography runs the prototype packager that
# tests/integration/test_cenc_media.c compares kpsim's CENC packaging with.
# python3-jsonschema and python3-yaml run tests/schema/test_schema.py (schema.json vs the loader);
# libxml2-utils (xmllint) checks junit.xml against reports/junit.xsd (tests/integration/test_scale.c).
set -eu
pkgs="cmake ninja-build pkg-config gcc clang-format git libmicrohttpd-dev libcurl4-openssl-dev
libavformat-dev libavcodec-dev libavutil-dev libssl-dev libyaml-dev libjansson-dev libxml2-dev
libcmocka-dev libxml2-utils python3 python3-cryptography python3-jsonschema python3-yaml"
realplayer=0
for arg in "$@"; do
    case "$arg" in
    realplayer)
        realplayer=1
        pkgs="$pkgs chromium"
        ;;
    fuzz) pkgs="$pkgs clang libclang-rt-14-dev" ;;
    *)
        echo "usage: tools/install-deps.sh [realplayer] [fuzz]" >&2
        exit 2
        ;;
    esac
done
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ "$realplayer" = 1 ]; then
    command -v node >/dev/null 2>&1 || missing="$missing nodejs"
    command -v npm >/dev/null 2>&1 || missing="$missing npm"
fi
[ -z "$missing" ] && exit 0
echo "installing:$missing"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
