#!/usr/bin/env bash
# make deps: installs what building and testing pg_billing needs, from Debian's packages and the npm
# registry (the npm tools exactly as tools/npm/package-lock.json pins them, with npm ci).
# Idempotent: does nothing when everything is there. Needs root only when a Debian package is missing.
set -euo pipefail

packages=(postgresql-15 postgresql-server-dev-15 libcurl4-openssl-dev libjansson-dev pkg-config
          postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl libipc-run-perl
          make gcc openssl python3 ca-certificates
          gnuplot-nox)   # make demo draws its charts (tools/demo/charts.sh) with gnuplot's PNG terminal
# npm installs the pinned tools (Prism for the contract test); a machine that already has node and
# npm keeps them (tools/npm/package.json's engines field says which Node.js versions work).
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "pg_billing: installing ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        echo "pg_billing: these Debian packages are missing and installing them needs root: ${missing[*]}" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The npm tools, exactly as locked; npm ci starts from scratch, so it runs only when the lock changed.
npm_dir=$(cd "$(dirname "$0")/npm" && pwd)
if ! cmp -s "$npm_dir/package-lock.json" "$npm_dir/node_modules/.pgb-installed-lock" 2>/dev/null; then
    echo "pg_billing: installing the npm tools (npm ci in $npm_dir)"
    if ! (cd "$npm_dir" && timeout 600 npm ci --no-audit --no-fund --loglevel=error); then
        echo "pg_billing: npm ci in $npm_dir failed (is the npm registry reachable?)" >&2
        exit 1
    fi
    cp "$npm_dir/package-lock.json" "$npm_dir/node_modules/.pgb-installed-lock"
fi
