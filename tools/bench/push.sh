#!/usr/bin/env bash
# Benchmark: CALL billing.push of N closed statements (N new contacts + N invoices; then N more
# statements of the same customers: invoices only) to the fake Xero, which enforces Xero's limits
# (5 in flight, 60 a minute, 5000 a day). Prints statements pushed per API call, and per day within
# the limits, next to the ~500 invoices a day of the usual one-document-per-call integration.
#   tools/bench/push.sh [statements]        (default 2000; needs what `make test` needs, no network)
set -euo pipefail
. "$(dirname "$0")/../../test/lib.sh"
n=${1:-2000}

pgb_make_root
dir=$PGB_RT/bench-push
rm -rf "$dir" && mkdir -p "$dir/logs"
"$PGB_SRC/test/fake/gen_certs.sh" "$dir/certs"
python3 "$PGB_SRC/test/fake/xero_fake.py" --certs "$dir/certs" --logs "$dir/logs" > "$dir/xero.out" 2>&1 &
fake_pid=$!
trap 'pgb_stop_cluster benchpush; kill $fake_pid 2>/dev/null || true' EXIT
port=
for _ in $(seq 100); do
    port=$(sed -n 's/^ready //p' "$dir/xero.out" 2>/dev/null); [ -n "$port" ] && break; sleep 0.1
done
[ -n "$port" ] || { echo "the fake Xero did not start"; cat "$dir/xero.out"; exit 1; }
chmod -R a+rX "$dir"
key="ok-bench$RANDOM"            # Xero's own limits: _con5, _min60 (60 s), _day5000 (86400 s)
url="https://127.0.0.1:$port/s/$key"
state() { curl -s --cacert "$dir/certs/ca.pem" "$url/_state"; }
tenant=$(state | python3 -c 'import json,sys; print(json.load(sys.stdin)["tenant_id"])')

pgb_start_cluster benchpush <<CONF
pg_billing.ca_file = '$dir/certs/ca.pem'
pg_billing.allow_loopback = on
CONF
pgb_psql -d postgres -c "CREATE DATABASE bench" >/dev/null
pgb_psql -d bench -c "CREATE EXTENSION pg_billing" >/dev/null
pgb_psql -d bench -q -v n="$n" -v url="$url" -v tenant="$tenant" > /dev/null <<'SQL'
SET client_min_messages = warning;
SELECT billing.add_source('books', 'xero', :'url' || '/api.xro/2.0', '{"client_id": "c", "client_secret": "s"}');
UPDATE billing.sources SET options = jsonb_build_object('token_url', :'url' || '/connect/token', 'tenant_id', :'tenant') WHERE name = 'books';
SELECT billing.add_source('site', 'advanced_billing', 'https://site.chargify.com', '{"api_key": "k"}', '{"statements": true, "push_to": "books"}');
INSERT INTO billing.accounting_maps (source_id, map_kind, local_key, remote_code) VALUES
    (NULL, 'account', 'sales', '200'), (NULL, 'account', 'rounding', '860'), (NULL, 'tax_rate', 'VAT 20%', 'OUTPUT2');
INSERT INTO billing.customers (source_id, external_id, name, currency)
SELECT billing._source_id('site'), g::text, 'Customer ' || g, 'GBP' FROM generate_series(1, :n) g;
CREATE FUNCTION pg_temp.month(m int) RETURNS void LANGUAGE sql AS $$
INSERT INTO billing.statements (source_id, external_id, customer_id, opened_at, closed_at, starting_balance, total, currency)
SELECT c.source_id, 'st' || m || '-' || c.external_id, c.id, make_date(2024, m, 1), make_date(2024, m + 1, 1), 0, 12.00, 'GBP' FROM billing.customers c;
INSERT INTO billing.invoices (source_id, external_id, customer_id, statement_id, issue_date, currency, total)
SELECT s.source_id, 'inv_' || s.external_id, s.customer_id, s.id, s.closed_at::date, 'GBP', 12.00 FROM billing.statements s
 WHERE s.external_id LIKE 'st' || m || '-%';
INSERT INTO billing.invoice_lines (invoice_id, external_id, line_no, kind, description, quantity, unit_price, subtotal, discount, tax, total,
                                   tax_code, period_start, period_end)
SELECT i.id, 'li_' || i.external_id, 1, 'plan', 'Plan', 1, 10, 10.00, 0, 2.00, 12.00, 'VAT 20%', i.issue_date - 31, i.issue_date
  FROM billing.invoices i WHERE i.external_id LIKE 'inv_st' || m || '-%';
$$;
SELECT pg_temp.month(1);
SQL


run() {   # $1: label; pushes, prints statements per call and per day
    local label=$1 before after t0 t1
    before=$(state | python3 -c 'import json,sys; print(json.load(sys.stdin)["counts"]["requests"])')
    t0=$(date +%s.%N)
    pgb_psql -d bench -q -c "CALL billing.push('books')"
    t1=$(date +%s.%N)
    after=$(state | python3 -c 'import json,sys; print(json.load(sys.stdin)["counts"]["requests"])')
    pgb_psql -d bench -At -c "SELECT documents, confirmed, failed, requests FROM billing.push_runs ORDER BY id DESC LIMIT 1" |
    awk -F'|' -v n="$n" -v calls="$((after - before))" -v s="$(awk "BEGIN{print $t1 - $t0}")" -v label="$label" '{
        per_call = n / calls; per_min = n / s * 60;
        day = per_call * 5000; if (per_min * 1440 < day) day = per_min * 1440;
        printf "%s: %d statements, %d documents (%d confirmed, %d failed) in %d API calls (the fake counted %d), %.1f s\n", label, n, $1, $2, $3, $4, calls, s;
        printf "    %.1f statements per API call; %.0f statements a minute within 60 calls/min and 5 in flight\n", per_call, per_min;
        printf "    per day within Xero limits (5000 calls/day, 60/min): %.0f statements/day   (usual integration: ~500/day; target >= 50000)\n", day }'
}
echo "push of $n statements to the fake Xero at https://127.0.0.1:$port (Xero's limits enforced)"
run "month 1 (new customers: a contact and an invoice each)"
pgb_psql -d bench -q <<'SQL'
SET client_min_messages = warning;
INSERT INTO billing.statements (source_id, external_id, customer_id, opened_at, closed_at, starting_balance, total, currency)
SELECT c.source_id, 'st2-' || c.external_id, c.id, '2024-02-01', '2024-03-01', 0, 12.00, 'GBP' FROM billing.customers c;
INSERT INTO billing.invoices (source_id, external_id, customer_id, statement_id, issue_date, currency, total)
SELECT s.source_id, 'inv_' || s.external_id, s.customer_id, s.id, '2024-03-01', 'GBP', 12.00 FROM billing.statements s WHERE s.external_id LIKE 'st2-%';
INSERT INTO billing.invoice_lines (invoice_id, external_id, line_no, kind, description, quantity, unit_price, subtotal, discount, tax, total,
                                   tax_code, period_start, period_end)
SELECT i.id, 'li_' || i.external_id, 1, 'plan', 'Plan', 1, 10, 10.00, 0, 2.00, 12.00, 'VAT 20%', '2024-02-01', '2024-03-01'
  FROM billing.invoices i WHERE i.external_id LIKE 'inv_st2-%';
SQL
run "month 2 (known customers: invoices only)"
state | python3 -c 'import json,sys; c=json.load(sys.stdin)["counts"]; print("    fake Xero: max in flight %d, 429s %s, writes %s" % (c["max_in_flight"], c["rejected_429"], c["writes"]))'
