#!/bin/sh
# bench_decrypt.sh: kp_cenc's decryption throughput over real DASH segments (bench_decrypt:
# cenc and cbcs, fragments parsed and decrypted in place) next to OpenSSL's own AES-128-CTR
# figure on this machine (`openssl speed -evp aes-128-ctr -bytes 16384`), and their ratio.
# The target for cenc is at least 0.5 of OpenSSL's CTR figure (subsamples, per-sample IVs and
# box parsing cost something); cbcs is shown against the same figure (its pattern encrypts
# one block in ten, but CBC decryption of single blocks is slower per byte than CTR).
#
#   bench/bench_decrypt.sh [BUILD_DIR] [DURATION_S] [RENDITION]   (defaults: build/dev, 20, 360p)
#
# Throughput counts segment bytes (boxes and clear ranges included), as a player receives them;
# the figure for the protected ranges alone is printed too.
# A figure, not a test: nothing here passes or fails on speed. Other load on the machine
# moves both figures; run it on a quiet machine.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build/dev}
duration=${2:-20}
rendition=${3:-360p}
bench=$build/bench/bench_decrypt
command -v openssl >/dev/null || { echo "bench_decrypt: openssl is missing" >&2; exit 2; }
[ -x "$bench" ] || { echo "bench_decrypt: no $bench (build first)" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bench" "$duration" "$rendition" 2 | tee "$tmp/kp.txt"
openssl speed -evp aes-128-ctr -bytes 16384 -seconds 2 >"$tmp/ossl.txt" 2>/dev/null
# the last line reads "AES-128-CTR  <n>k": thousands of bytes per second
ossl_k=$(awk 'tolower($1) ~ /aes-128-ctr/ { v = $NF } END { sub(/k$/, "", v); print v }' "$tmp/ossl.txt")
[ -n "$ossl_k" ] || { cat "$tmp/ossl.txt" >&2; echo "bench_decrypt: no figure from openssl speed" >&2; exit 1; }
awk -v k="$ossl_k" '
    BEGIN { ossl = k / 1000; printf "openssl speed -evp aes-128-ctr -bytes 16384: %.1f MB/s\n", ossl }
    /^scheme=/ {
        split($1, s, "="); split($2, m, "="); split($3, p, "=")
        printf "%s: %.1f MB/s of segments = %.2f x OpenSSL CTR%s; protected ranges alone %.2f x\n",
            s[2], m[2], m[2] / ossl,
            s[2] == "cenc" ? (m[2] / ossl >= 0.5 ? " (target >= 0.5: met)" : " (target >= 0.5: NOT met)") : "",
            p[2] / ossl
    }' "$tmp/kp.txt"
