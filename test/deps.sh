#!/usr/bin/env bash
# Installs what building and testing pg_billing needs, from Debian's packages and the npm registry.
# Idempotent: does nothing when everything is there. Needs root only when something is missing.
set -euo pipefail

packages=(postgresql-15 postgresql-server-dev-15 libcurl4-openssl-dev libjansson-dev pkg-config
          postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl libipc-run-perl
          make gcc openssl python3 ca-certificates)
# npm installs Prism for the contract test; a machine that already has node and npm keeps them.
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
