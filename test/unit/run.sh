#!/usr/bin/env bash
# Builds and runs the unit tests of the server-free parts under ASan and UBSan; prints TAP.
# Usage: test/unit/run.sh [output-dir]   (test/fake/start.sh runs it at every `make test`)
# Besides stdout (test_pure.c), it writes output-dir/json.tap (test_json.c: jansson's capped
# allocator, raw numbers) and output-dir/fuzz.tap (every fuzz corpus and kept crasher replayed,
# test/fuzz/); test/pgtap/json_unit.sql checks those two.
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$(mktemp -d)}
mkdir -p "$out"
cflags="-std=gnu11 -g -O1 -Wall -Wextra -Werror -fsanitize=address,undefined -fno-sanitize-recover=all -I$src/src"

# test_json.c and the fuzz replays, into their own files
if gcc $cflags "$src/test/unit/test_json.c" "$src/src/common/decimal_time.c" "$src/src/json/json_mem.c" \
        -ljansson -lm -o "$out/test_json" 2> "$out/build_json.txt"; then
    ASAN_OPTIONS=detect_leaks=1 "$out/test_json" > "$out/json.tap" 2>&1
else
    { sed 's/^/# /' "$out/build_json.txt"; echo "not ok 1 - json unit tests build"; echo "1..1"; } > "$out/json.tap"
fi
{
    i=0
    for t in json http numbers; do
        i=$((i + 1))
        case $t in
            json) extra="$src/src/common/decimal_time.c $src/src/json/json_mem.c -ljansson" ;;
            http) extra="$src/src/http/http_util.c $src/src/common/decimal_time.c" ;;
            numbers) extra="$src/src/common/decimal_time.c" ;;
        esac
        # shellcheck disable=SC2086
        if gcc $cflags "$src/test/fuzz/replay_main.c" "$src/test/fuzz/fuzz_$t.c" $extra -lm \
                -o "$out/replay_$t" 2> "$out/build_$t.txt"; then
            ASAN_OPTIONS=detect_leaks=1 "$out/replay_$t" "$i - fuzz_$t" "$src/test/fuzz/corpus/$t" \
                "$src/test/fuzz/regress/$t" 2>&1 || echo "not ok $i - fuzz_$t replay crashed or failed"
        else
            sed 's/^/# /' "$out/build_$t.txt"; echo "not ok $i - fuzz_$t replay builds"
        fi
    done
    echo "1..$i"
} > "$out/fuzz.tap"

if ! gcc -std=gnu11 -g -O1 -Wall -Wextra -Werror -fsanitize=address,undefined -fno-sanitize-recover=all \
        -I"$src/src" "$src/test/unit/test_pure.c" "$src/src/http/http_util.c" "$src/src/common/decimal_time.c" \
        -lm -o "$out/test_pure" 2> "$out/build.txt"; then
    sed 's/^/# /' "$out/build.txt"; echo "not ok 1 - unit tests build"; echo "1..1"; exit 1
fi
ASAN_OPTIONS=detect_leaks=1 "$out/test_pure"
