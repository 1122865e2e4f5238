#!/usr/bin/env bash
# Builds and runs the unit tests of the server-free parts under ASan and UBSan; prints TAP.
# Usage: test/unit/run.sh [output-dir]   (test/fake/start.sh runs it at every `make test`)
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$(mktemp -d)}
mkdir -p "$out"
if ! gcc -std=gnu11 -g -O1 -Wall -Wextra -Werror -fsanitize=address,undefined -fno-sanitize-recover=all \
        -I"$src/src" "$src/test/unit/test_pure.c" "$src/src/http/http_util.c" "$src/src/common/decimal_time.c" \
        -lm -o "$out/test_pure" 2> "$out/build.txt"; then
    sed 's/^/# /' "$out/build.txt"; echo "not ok 1 - unit tests build"; echo "1..1"; exit 1
fi
ASAN_OPTIONS=detect_leaks=1 "$out/test_pure"
