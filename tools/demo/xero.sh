# Sourced by tools/demo/run.sh (uses its cluster, $dir, demo_serve): the demo book pushed to a fake
# Xero organisation (test/fake/xero_fake.py), then its ledger tied out with the source
# (tools/demo/xero.sql, xero_ledger.py, xero_tieout.sql).
# dir, demo_today and the ports are set by run.sh and demo_serve:
# shellcheck shell=bash disable=SC2154
xero_since=2026-09-01   # the books' start in Xero: invoices issued from then on are pushed
demo_serve xero_port xero python3 "$PGB_SRC/test/fake/xero_fake.py" --certs "$dir/certs" --logs "$dir/xero_logs"
xero_org="https://127.0.0.1:$xero_port/s/ok-demo"
xero_tenant=$(python3 -c 'import json, ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[2])
print(json.load(urllib.request.urlopen(sys.argv[1] + "/_state", context=ctx))["tenant_id"])' "$xero_org" "$dir/certs/ca.pem")
pgb_psql -d postgres -P pager=off -v xero_url="$xero_org" -v tenant="$xero_tenant" -v since="$xero_since" \
    -f "$PGB_SRC/tools/demo/xero.sql"
python3 "$PGB_SRC/tools/demo/xero_ledger.py" "$xero_org" "$dir/certs/ca.pem" \
    | pgb_psql -d postgres -P pager=off -v since="$xero_since" -f "$PGB_SRC/tools/demo/xero_tieout.sql"
