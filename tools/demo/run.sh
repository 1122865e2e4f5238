#!/usr/bin/env bash
# make demo: a throwaway cluster with pg_billing, a local sandbox of the Maxio Advanced Billing API
# serving a generated two-year book of a few hundred customers, a sync of that book over HTTPS, and
# what a user looks at first. Leaves nothing running unless PGB_DEMO_KEEP=1 (then it prints how to
# connect and how to stop).
set -euo pipefail
. "$(dirname "$0")/../../test/lib.sh"

dir=$PGB_RT/demo-sandbox
echo "== building a private PostgreSQL root with pg_billing in $PGB_ROOT"
pgb_make_root
rm -rf "$dir" && mkdir -p "$dir/logs"

echo "== generating the book and starting the sandbox API (test/fake/maxio_fake.py, its own test CA)"
python3 "$PGB_SRC/test/fixtures/book.py" "$dir/book" --customers "${PGB_DEMO_CUSTOMERS:-300}"
"$PGB_SRC/test/fake/gen_certs.sh" "$dir/certs"
# whatever fails from here on, nothing is left running (unless asked to keep the demo)
if [ "${PGB_DEMO_KEEP:-0}" != 1 ]; then trap 'pgb_stop_cluster demo; kill ${PGB_FAKE_PID:-} 2>/dev/null || true' EXIT; fi
pgb_start_fake "$dir/sandbox.out" --certs "$dir/certs" --logs "$dir/logs" --book "$dir/book/maxio.json"
sandbox=$PGB_FAKE_PID
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
SELECT id, status, records_inserted, records_updated, records_unchanged, pages, requests, finished_at - started_at AS took, error
FROM billing.sync_runs;
SQL

pgb_psql -d postgres -P pager=off -f "$PGB_SRC/tools/demo/show.sql"
"$PGB_SRC/tools/demo/isp.sh" "$dir"   # a small ISP book in Splynx payment mode mixed (docs/splynx-payment-modes.md)

charts=${PGB_DEMO_CHARTS:-$PGB_RT/charts}
echo "== charts of the 22 complete months to October 2026 (gnuplot), in $charts:"
"$PGB_SRC/tools/demo/charts.sh" "$charts" 2025-01-01 2026-10-01

if [ "${PGB_DEMO_KEEP:-0}" = 1 ]; then
    echo "== still running: psql -h $PGHOST -p $PGPORT -U postgres postgres (sandbox API: $url)"
    echo "   stop with: $PG_BIN/pg_ctl -D $PGB_RT/demo stop; kill $sandbox"
fi
