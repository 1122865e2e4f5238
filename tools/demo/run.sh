#!/usr/bin/env bash
# make demo: a throwaway cluster with pg_billing, a local sandbox of the Maxio Advanced Billing API
# serving a generated two-year book of a few hundred customers, a sync of that book over HTTPS, and
# what a user looks at first; then an MSP's month (Pax8 and ConnectWise fakes serving generated data,
# reconciled: tools/demo/msp.sh), the book pushed to a fake Xero and tied out (tools/demo/xero.sh),
# and the charts (tools/demo/charts.sh). Leaves nothing running unless PGB_DEMO_KEEP=1 (then it prints
# how to connect and how to stop). docs/demo.md describes what it shows.
set -euo pipefail
. "$(dirname "$0")/../../test/lib.sh"

dir=$PGB_RT/demo-sandbox
echo "== building a private PostgreSQL root with pg_billing in $PGB_ROOT"
pgb_make_root
rm -rf "$dir" && mkdir -p "$dir/logs"

echo "== generating the book and starting the sandbox API (test/fake/maxio_fake.py, its own test CA)"
python3 "$PGB_SRC/test/fixtures/book.py" "$dir/book" --customers "${PGB_DEMO_CUSTOMERS:-300}"
"$PGB_SRC/test/fake/gen_certs.sh" "$dir/certs"
# whatever fails from here on, nothing is left running (unless asked to keep the demo): the cluster
# and every fake this script started ($demo_pids)
demo_pids=
if [ "${PGB_DEMO_KEEP:-0}" != 1 ]; then trap 'pgb_stop_cluster demo; kill $demo_pids 2>/dev/null || true' EXIT; fi
pgb_start_fake "$dir/sandbox.out" --certs "$dir/certs" --logs "$dir/logs" --book "$dir/book/maxio.json"
sandbox=$PGB_FAKE_PID
demo_pids=$sandbox

# demo_serve VAR NAME CMD...: starts CMD (a fake that prints "ready <port>"), its output in
# $dir/NAME.out, adds it to $demo_pids, waits for it and sets VAR to its port.
demo_serve() {
    local var=$1 name=$2 port=
    shift 2
    "$@" > "$dir/$name.out" 2>&1 &
    demo_pids="$demo_pids $!"
    for _ in $(seq 600); do
        port=$(sed -n 's/^ready //p' "$dir/$name.out" 2>/dev/null)
        [ -n "$port" ] && break
        sleep 0.1
    done
    if [ -z "$port" ]; then echo "pg_billing: the demo's $name fake did not start:" >&2; cat "$dir/$name.out" >&2; return 1; fi
    printf -v "$var" '%s' "$port"
}
chmod -R a+rX "$dir"

pgb_start_cluster demo <<CONF
pg_billing.ca_file = '$dir/certs/ca.pem'
pg_billing.allow_loopback = on
CONF

url="https://127.0.0.1:${PGB_FAKE_PORTS%%,*}/s/book-demo"
echo "== syncing the book from $url"
pgb_psql -d postgres <<SQL
CREATE EXTENSION pg_billing;
SELECT billing.add_source('demo-sandbox', 'advanced_billing', '$url',
       credentials => '{"api_key": "demo-key"}', options => '{"components": false, "max_requests_per_second": 200}')
       AS source_id;
\timing on
CALL billing.sync('demo-sandbox');
\timing off
SELECT id, status, records_inserted, records_updated, records_unchanged, pages, requests, finished_at - started_at AS took,
       store_time, error
FROM billing.sync_runs;
SQL

pgb_psql -d postgres -P pager=off -f "$PGB_SRC/tools/demo/show.sql"

# the demo's date: the book's "today" (test/fixtures/book.py), so every figure is the same on any day
demo_today=2026-11-23
. "$PGB_SRC/tools/demo/msp.sh"
. "$PGB_SRC/tools/demo/xero.sh"

charts=${PGB_DEMO_CHARTS:-$PGB_RT/charts}
echo
echo "== charts of the 22 complete months to October 2026 and of the MSP's $demo_today (gnuplot), in $charts:"
"$PGB_SRC/tools/demo/charts.sh" "$charts" 2025-01-01 2026-10-01 "$demo_today"

# ---- an ISP's book in Splynx, payment mode mixed (docs/splynx-payment-modes.md); it stops its own fakes.
# Further books go here, before the cluster stops (a sourced script can start fakes with demo_serve:
# they are then stopped at the end with the rest, $demo_pids).
echo
"$PGB_SRC/tools/demo/isp.sh" "$dir"

if [ "${PGB_DEMO_KEEP:-0}" = 1 ]; then
    echo "== still running: psql -h $PGHOST -p $PGPORT -U postgres postgres (sandbox API: $url)"
    as_user=
    [ "$(id -un)" = "$PGB_RUN_USER" ] || as_user="runuser -u $PGB_RUN_USER -- "
    echo "   stop with: $as_user$PG_BIN/pg_ctl -D $PGB_RT/demo stop; kill $demo_pids"
fi
