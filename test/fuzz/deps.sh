#!/usr/bin/env bash
# Installs what `make fuzz` needs: clang 14 and its runtime (libFuzzer, ASan, UBSan), from Debian.
# Idempotent: quick when they are there.
set -euo pipefail
if command -v clang-14 >/dev/null && [ -n "$(find /usr/lib/llvm-14 -name 'libclang_rt.fuzzer*.a' 2>/dev/null | head -1)" ]; then
    exit 0
fi
SUDO=; [ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq clang-14 libclang-rt-14-dev libjansson-dev >/dev/null
