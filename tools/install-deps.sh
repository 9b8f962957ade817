#!/bin/sh
# Installs the Debian 12 packages kpsim needs, when some are missing (uses sudo when not root).
set -eu
pkgs="cmake ninja-build pkg-config gcc clang-format git libmicrohttpd-dev libcurl4-openssl-dev
libavformat-dev libavcodec-dev libavutil-dev libssl-dev libyaml-dev libjansson-dev libxml2-dev
libcmocka-dev"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
