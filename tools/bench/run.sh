#!/usr/bin/env bash
# make bench: every benchmark script, one after the other.
set -euo pipefail
here=$(dirname "$0")
"$here/revenue.sh"
"$here/sync.sh"
"$here/sync_memory.sh"
"$here/sync_latency.sh"
"$here/recon.sh"
"$here/push.sh"
