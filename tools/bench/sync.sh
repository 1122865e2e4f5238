#!/usr/bin/env bash
# Benchmark: CALL billing.sync of N invoices (3 lines each on every third, 2 otherwise, plus
# payments) from the fake Advanced Billing API over HTTPS on this machine, next to COPY of the same
# rows into the same tables, measured in the same cluster. Prints rows/s for both, for each of R
# runs (each in a new database), and the ratios' medians, which the verdicts judge: on a machine
# shared with others, one run's ratio moves by ±40 %.
#   tools/bench/sync.sh [invoices [runs]]   (defaults 100000 and 3; needs what `make test` needs, no network)
set -euo pipefail
. "$(dirname "$0")/../../test/lib.sh"
n=${1:-100000}
runs=${2:-3}

pgb_make_root
dir=$PGB_RT/bench-sync
rm -rf "$dir" && mkdir -p "$dir/logs"
"$PGB_SRC/test/fake/gen_certs.sh" "$dir/certs"
echo "generating the fake's $n invoices (not timed)..."
python3 "$PGB_SRC/test/fake/maxio_fake.py" --pregen "$n" 200 "$dir/pages"
trap 'pgb_stop_cluster bench; kill ${PGB_FAKE_PID:-} 2>/dev/null || true' EXIT
pgb_start_fake "$dir/fake.out" --certs "$dir/certs" --logs "$dir/logs" --bench-dir "$dir/pages"
port=${PGB_FAKE_PORTS%%,*}
chmod -R a+rX "$dir"
chown "$PGB_RUN_USER" "$dir"

pgb_start_cluster bench <<CONF
pg_billing.ca_file = '$dir/certs/ca.pem'
pg_billing.allow_loopback = on
shared_buffers = '512MB'
max_wal_size = '4GB'
CONF

# A mark in a session: wall-clock seconds and the CPU seconds its backend has used (utime + stime from
# /proc/self/stat, 10 ms ticks); elapsed turns the first and last marks of a session into "wall cpu".
# On a shared machine the CPU time is the steadier of the two.
mark="SELECT 'T', extract(epoch FROM clock_timestamp()), (SELECT (split_part(s, ' ', 12)::bigint + split_part(s, ' ', 13)::bigint) / 100.0
        FROM (SELECT split_part(pg_read_file('/proc/self/stat'), ') ', 2) s) x)"
elapsed() { awk -F'|' '$1 == "T" { w[++k] = $2; c[k] = $3 } END { printf "%.3f %.2f", w[k] - w[1], c[k] - c[1] }'; }
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"

# One run in a new database: the sync, a second sync, then COPY of the same rows; appends
# "sync_s store_s copy_s sync_cpu_s copy_cpu_s" to $dir/runs.
one_run() {
local run=$1
pgb_psql -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS bench" -c "CREATE DATABASE bench" >/dev/null
pgb_psql -d bench -c "CREATE EXTENSION pg_billing" >/dev/null
echo "run $run: sync of $n invoices from https://127.0.0.1:$port (fake API, per_page 200)"
pgb_psql -d bench -v n="$n" -v url="https://127.0.0.1:$port/s/bench$n-run$run" <<'SQL'
SET log_statement = none;
SELECT billing.add_source('bench', 'advanced_billing', :'url', '{"api_key": "bench-key"}',
       '{"per_page": 200, "components": false, "max_requests_per_second": 0}') \gset
SQL
read -r sync_s sync_cpu_s <<< "$(pgb_psql -d bench -At -c "$mark" -c "CALL billing.sync('bench')" -c "$mark" | elapsed)"
pgb_psql -d bench -At -F' ' > "$dir/counts" <<'SQL'
SELECT (SELECT count(*) FROM billing.invoices), (SELECT count(*) FROM billing.invoice_lines),
       (SELECT count(*) FROM billing.payments), (SELECT count(*) FROM billing.customers) + (SELECT count(*) FROM billing.subscriptions) + (SELECT count(*) FROM billing.products),
       (SELECT pages FROM billing.sync_runs ORDER BY id DESC LIMIT 1), (SELECT requests FROM billing.sync_runs ORDER BY id DESC LIMIT 1),
       (SELECT extract(epoch FROM store_time) FROM billing.sync_runs ORDER BY id DESC LIMIT 1)
SQL
read -r inv lines pays others pages reqs store_s < "$dir/counts"
rows=$((inv + lines + pays))
printf 'sync:  %d invoices + %d lines + %d payments (+ %d customers/subscriptions/products), %d pages, %d requests in %.1f s (backend CPU %.1f s) = %.0f invoice-table rows/s, %.0f invoices/s\n' \
    "$inv" "$lines" "$pays" "$others" "$pages" "$reqs" "$sync_s" "$sync_cpu_s" "$(awk "BEGIN{print $rows / $sync_s}")" "$(awk "BEGIN{print $inv / $sync_s}")"
printf 'of which storing the pages (sync_runs.store_time): %.1f s = %.0f invoice-table rows/s\n' "$store_s" "$(awk "BEGIN{print $rows / $store_s}")"

# A second sync in a row: incremental, nothing changes.
t0=$(date +%s.%N)
pgb_psql -d bench -c "CALL billing.sync('bench')"
t1=$(date +%s.%N)
printf 'second (incremental) sync: %.2f s\n' "$(awk "BEGIN{print $t1 - $t0}")"

# COPY of the same rows into the same tables (same indexes, constraints and triggers).
pgb_psql -d bench -q <<SQL
COPY (SELECT id, source_id, external_id, number, customer_id, subscription_id, statement_id, status, issue_date, due_date, paid_date,
             period_start, period_end, currency, subtotal, discount, tax, total, credit, refunded, paid, due, remote_updated_at,
             deleted_at, synced_at, raw FROM billing.invoices) TO '$dir/invoices.csv' CSV;
COPY (SELECT id, invoice_id, external_id, line_no, kind, product_id, product, sku, description, quantity, unit_price, subtotal,
             discount, tax, total, cost, currency, period_start, period_end, recurring, interval_months, full_period_amount, raw
      FROM billing.invoice_lines) TO '$dir/lines.csv' CSV;
COPY (SELECT id, source_id, external_id, customer_id, invoice_id, amount, currency, payment_date, received_at, method, reference,
             prepayment, remote_updated_at, deleted_at, synced_at, raw FROM billing.payments) TO '$dir/payments.csv' CSV;
TRUNCATE billing.invoice_lines, billing.payments, billing.refunds, billing.credit_note_allocations, billing.invoices CASCADE;
CHECKPOINT;
SQL
read -r copy_s copy_cpu_s <<< "$(pgb_psql -d bench -q -At <<SQL | elapsed
$mark;
BEGIN;
COPY billing.invoices (id, source_id, external_id, number, customer_id, subscription_id, statement_id, status, issue_date, due_date,
     paid_date, period_start, period_end, currency, subtotal, discount, tax, total, credit, refunded, paid, due, remote_updated_at,
     deleted_at, synced_at, raw) FROM '$dir/invoices.csv' CSV;
COPY billing.invoice_lines (id, invoice_id, external_id, line_no, kind, product_id, product, sku, description, quantity, unit_price,
     subtotal, discount, tax, total, cost, currency, period_start, period_end, recurring, interval_months, full_period_amount, raw)
     FROM '$dir/lines.csv' CSV;
COPY billing.payments (id, source_id, external_id, customer_id, invoice_id, amount, currency, payment_date, received_at, method,
     reference, prepayment, remote_updated_at, deleted_at, synced_at, raw) FROM '$dir/payments.csv' CSV;
COMMIT;
$mark;
SQL
)"
printf 'COPY:  the same %d rows in %.1f s (backend CPU %.1f s) = %.0f rows/s\n' "$rows" "$copy_s" "$copy_cpu_s" "$(awk "BEGIN{print $rows / $copy_s}")"
printf 'run %d: store rate / COPY rate %.2f, whole sync rate / COPY rate %.2f\n' "$run" \
    "$(awk "BEGIN{print $copy_s / $store_s}")" "$(awk "BEGIN{print $copy_s / $sync_s}")"
echo "$sync_s $store_s $copy_s $sync_cpu_s $copy_cpu_s" >> "$dir/runs"
}

: > "$dir/runs"
for run in $(seq "$runs"); do one_run "$run"; done

# medians over the runs of each ratio (COPY time / sync time, as rates are rows / time)
median_ratio() { awk -v num="$1" -v den="$2" '{ r[++n] = $num / $den }
    END { for (i = 2; i <= n; i++) for (j = i; j > 1 && r[j-1] > r[j]; j--) { t = r[j]; r[j] = r[j-1]; r[j-1] = t }
          printf "%.2f", n % 2 ? r[(n + 1) / 2] : (r[n / 2] + r[n / 2 + 1]) / 2 }' "$dir/runs"; }
verdict() { awk -v r="$1" 'BEGIN{ print (r >= 0.6) ? "target met" : "not met" }'; }
store_ratio=$(median_ratio 3 2)
ratio=$(median_ratio 3 1)
cpu_ratio=$(median_ratio 5 4)
printf 'store rate / COPY rate (the upsert path alone, store_time, wall-clock; baseline: COPY of the same rows in the same run), median of %d runs: %s (target >= 0.6: %s)\n' \
    "$runs" "$store_ratio" "$(verdict "$store_ratio")"
printf 'whole sync rate / COPY rate (with the HTTPS transfers and JSON decoding COPY does not do), median of %d runs: %s wall-clock, %s backend CPU (target >= 0.6: %s)\n' \
    "$runs" "$ratio" "$cpu_ratio" "$(verdict "$ratio")"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
