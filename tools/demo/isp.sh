#!/usr/bin/env bash
# tools/demo/isp.sh DIR: the demo's small ISP book in Splynx payment mode "mixed"
# (docs/splynx-payment-modes.md). Needs the demo's cluster (PGHOST/PGPORT of tools/demo/run.sh) and
# its test CA in DIR/certs (pg_billing.ca_file and allow_loopback set). Starts the fake Splynx with a
# generated book (scenario "isp": PGB_DEMO_ISP_CUSTOMERS subscribers, default 30, billed January to
# March 2024; January and February paid through Splynx's gateway, March open) and the fake Xero;
# adds the sources and the maps, syncs Splynx, pushes to Xero, has a third of the subscribers pay
# March in Xero, pulls Xero, posts those payments to Splynx, syncs and pushes again, and prints a
# tie-out: every payment once in each system, and the same total on both sides.
set -euo pipefail
. "$(dirname "$0")/../../test/lib.sh"

dir=${1:?usage: isp.sh DIR (the demo directory with certs/)}
n=${PGB_DEMO_ISP_CUSTOMERS:-30}
mkdir -p "$dir/isp-logs"
pids=
trap '[ -n "$pids" ] && kill $pids 2>/dev/null || true' EXIT

# start_fake VAR SCRIPT: starts test/fake/SCRIPT with the demo's CA, sets VAR to its port
start_fake() {
    local var=$1 script=$2 out="$dir/isp-$2.out" port=
    python3 "$PGB_SRC/test/fake/$script" --certs "$dir/certs" --logs "$dir/isp-logs" > "$out" 2>&1 &
    pids="$pids $!"
    for _ in $(seq 300); do
        port=$(sed -n 's/^ready //p' "$out" 2>/dev/null)
        [ -n "$port" ] && break
        sleep 0.1
    done
    [ -n "$port" ] || { echo "isp demo: $script did not start:"; cat "$out"; exit 1; }
    printf -v "$var" '%s' "$port"
}
start_fake sx_port splynx_fake.py
start_fake xero_port xero_fake.py
splynx="https://127.0.0.1:$sx_port/s/isp-demo_c$n/api/2.0"
xero="https://127.0.0.1:$xero_port/s/ok-ispdemo"
ca="$dir/certs/ca.pem"
tenant=$(curl -s --cacert "$ca" "$xero/_state" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tenant_id"])')

echo "== an ISP in Splynx ($n subscribers, $splynx) keeping its books in Xero ($xero), payment mode mixed"
pgb_psql -d postgres <<SQL
SELECT billing.add_source('isp-books', 'xero', '$xero/api.xro/2.0', '{"client_id": "demo", "client_secret": "demo"}',
       '{"token_url": "$xero/connect/token", "tenant_id": "$tenant", "max_requests_per_second": 200}') AS xero_source;
SELECT billing.add_source('isp', 'splynx', '$splynx', '{"api_key": "splynx-key", "api_secret": "splynx-secret"}',
       '{"currency": "EUR", "max_requests_per_second": 200, "push_to": "isp-books", "payment_mode": "mixed"}') AS splynx_source;
-- the maps a Splynx source needs before its first push, and the way back
INSERT INTO billing.accounting_maps (source_id, map_kind, local_key, remote_code, remote_name)
SELECT billing._source_id('isp'), k, l, c, d FROM (VALUES
    ('account', 'sales', '200', 'Sales'), ('account', 'rounding', '860', 'Rounding'),
    ('category_account', '1', '200', 'Sales (Splynx category 1: internet)'),
    ('tax_rate', '20%', 'OUTPUT2', '20% (VAT on Income)'),
    ('bank_account', '1', '090', 'Business Bank Account (Splynx gateway, method 1)'),
    ('contact_prefix', 'prefix', 'isp-', NULL),
    ('splynx_payment_type', '090', '1', 'Splynx method 1 for payments into 090')) m(k, l, c, d);
CALL billing.sync('isp');
CALL billing.push('isp-books');
SELECT state, doc_kind, count(*) AS documents, sum(amount) AS amount FROM billing.outbox
 WHERE target_source_id = billing._source_id('isp-books') GROUP BY 1, 2 ORDER BY 1, 2;
SQL

echo "== a third of the subscribers pay March in Xero"
token=$(curl -s --cacert "$ca" -u demo:demo -d grant_type=client_credentials "$xero/connect/token" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
curl -s --cacert "$ca" "$xero/_state" | python3 -c '
import json, sys
st = json.load(sys.stdin)
pays = [{"Invoice": {"InvoiceID": i["InvoiceID"]}, "Account": {"Code": "090"}, "Date": "2024-03-20",
         "Amount": i["AmountDue"], "Reference": "card in Xero"}
        for k, i in enumerate(sorted((i for i in st["invoices"] if i["Status"] == "AUTHORISED"), key=lambda i: i["Reference"]))
        if k % 3 == 0]
print(json.dumps({"Payments": pays}))' |
    curl -s --cacert "$ca" -X PUT -H "Authorization: Bearer $token" -H "xero-tenant-id: $tenant" \
         -H 'Content-Type: application/json' -H 'Accept: application/json' --data-binary @- "$xero/api.xro/2.0/Payments" |
    python3 -c 'import json,sys; print("   %d payments recorded in Xero" % len(json.load(sys.stdin)["Payments"]))'

echo "== pull Xero, post to Splynx, sync Splynx and push again (nothing echoes)"
pgb_psql -d postgres -P pager=off <<SQL
CALL billing.sync('isp-books');
CALL billing.splynx_post('isp');
CALL billing.sync('isp');
CALL billing.push('isp-books');
SELECT id, status, enqueued, posted, found, failed, requests FROM billing.splynx_post_runs ORDER BY id;
\x on
SELECT * FROM billing.splynx_payment_flows;
\x off
SQL

echo "== tie-out: each payment once in each system"
xero_pays=$(curl -s --cacert "$ca" "$xero/_state" |
            python3 -c 'import json,sys; p=json.load(sys.stdin)["payments"]; print("%d %.2f" % (len(p), sum(x["Amount"] for x in p)))')
pgb_psql -d postgres -At <<SQL
SELECT format('Splynx: %s payments, %s EUR (%s from Xero); Xero: %s payments, %s EUR -> %s',
              count(*), sum(amount), count(*) FILTER (WHERE reference LIKE 'xero:%'),
              split_part('$xero_pays', ' ', 1), split_part('$xero_pays', ' ', 2),
              CASE WHEN count(*) = split_part('$xero_pays', ' ', 1)::bigint
                    AND sum(amount) = split_part('$xero_pays', ' ', 2)::numeric THEN 'tie out' ELSE 'DO NOT TIE OUT' END)
  FROM billing.payments WHERE source_id = billing._source_id('isp') AND deleted_at IS NULL;
SQL
