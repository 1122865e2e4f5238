#!/usr/bin/env bash
# Converts Splynx's API Blueprint (shared/specs/splynx/api-description-document) to OpenAPI 3.0 with
# apib2swagger, pinned in tools/npm (make deps), for Prism in test/pgtap/splynx_contract.sql.
# Usage: tools/splynx_openapi.sh BLUEPRINT OUT.json
# The converted document needs no fixes for Prism: it serves the paths at its root (the servers
# entry http://demo.splynx.com/api/2.0/ is not matched against requests), and the list endpoints
# declare no query parameters, so limit, offset, order and main_attributes pass validation.
# OUT appears only once complete (the test waits for Prism, which starts after this script).
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 BLUEPRINT OUT.json" >&2; exit 2; }
bin="$(cd "$(dirname "$0")" && pwd)/npm/node_modules/.bin/apib2swagger"
[ -x "$bin" ] || { echo "$0: apib2swagger is not installed: run make deps (npm ci in tools/npm)" >&2; exit 1; }
"$bin" --open-api-3 -i "$1" -o "$2.part"
mv "$2.part" "$2"
