#!/usr/bin/env bash
# Revenue engine benchmark: for each book size (customers over 24 months, test/fixtures/revenue_gen.sql)
# times, in a private throwaway cluster,
#   - one sequential scan of the invoice lines (the floor),
#   - a full computation with the C engine and with the SQL formulation (the test oracle,
#     test/oracle/revenue_oracle.sql, loaded into each database),
#   - an incremental refresh after touching 1% of the customers, with each engine,
# and prints each figure with its ratio to the SQL formulation and to the sequential scan.
# Usage: tools/bench/revenue.sh [customers ...]   (default: 10000 100000)
set -euo pipefail
. "$(dirname "$0")/../../test/lib.sh"

sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(10000 100000)

pgb_make_root
pgb_start_cluster bench_revenue <<CONF
shared_buffers = '512MB'
work_mem = '64MB'
maintenance_work_mem = '256MB'
max_wal_size = '4GB'
checkpoint_timeout = '30min'
jit = off
CONF
trap 'pgb_stop_cluster bench_revenue' EXIT

# Milliseconds of one statement, run in its own session after the settings given.
ms() {
    local db=$1 pre=$2 stmt=$3
    pgb_psql -d "$db" -At -c "$pre" -c "SELECT extract(epoch FROM clock_timestamp()) * 1000" -c "$stmt" \
        -c "SELECT extract(epoch FROM clock_timestamp()) * 1000" 2>/dev/null \
        | awk '$1 + 0 > 1e12 { t[++k] = $1 } END { printf "%.0f", t[2] - t[1] }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

printf '%-9s %-9s %-34s %10s %9s %9s\n' customers lines measure ms vs_sql vs_scan
for n in "${sizes[@]}"; do
    db=bench_$n
    pgb_psql -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
    pgb_psql -d "$db" -c "CREATE EXTENSION pg_billing" >/dev/null
    # the load itself bypasses the triggers: the full computation is timed on its own below
    pgb_psql -d "$db" -v seed=0.42 -v customers="$n" -c "SET session_replication_role = replica" \
        -f "$PGB_SRC/test/fixtures/revenue_gen.sql" >/dev/null
    pgb_psql -d "$db" -c "SET client_min_messages = warning" -f "$PGB_SRC/test/oracle/revenue_oracle.sql" >/dev/null
    lines=$(pgb_psql -d "$db" -At -c "SELECT count(*) FROM billing.invoice_lines")
    pgb_psql -d "$db" -c "VACUUM ANALYZE" >/dev/null

    ms "$db" "SELECT 1" "SELECT count(*), sum(amount) FROM billing.invoice_lines" >/dev/null   # warm the cache
    scan=$(ms "$db" "SELECT 1" "SELECT count(*), sum(amount) FROM billing.invoice_lines")
    full_sql=$(ms "$db" "SELECT 1" "SELECT revenue_oracle.refresh_revenue(true)")
    full_c=$(ms "$db" "SELECT 1" "SELECT billing.refresh_revenue(true)")

    # touch 1% of the customers (a line amount changes); the statement trigger queues them
    touch="UPDATE billing.invoice_lines l SET subtotal = l.subtotal + 1, total = l.total + 1
             FROM billing.invoices i WHERE i.id = l.invoice_id AND i.customer_id % 100 = 7"
    incr() {
        pgb_psql -d "$db" -At -c "BEGIN" -c "$touch" \
            -c "SELECT extract(epoch FROM clock_timestamp()) * 1000" -c "SELECT $1.refresh_revenue()" \
            -c "SELECT extract(epoch FROM clock_timestamp()) * 1000" -c "COMMIT" 2>/dev/null \
            | grep -E '^[0-9.]+$' | awk 'NR==1{a=$1} NR==3{b=$1} END{printf "%.0f", b-a}'
    }
    incr_sql=$(incr revenue_oracle)
    incr_c=$(incr billing)
    touched=$(pgb_psql -d "$db" -At -c "SELECT count(DISTINCT customer_id) FROM billing.invoices WHERE customer_id % 100 = 7")

    printf '%-9s %-9s %-34s %10s %9s %9s\n' "$n" "$lines" "sequential scan of the lines" "$scan" "$(ratio "$scan" "$full_sql")" 1.00
    printf '%-9s %-9s %-34s %10s %9s %9s\n' "$n" "$lines" "full, SQL formulation" "$full_sql" 1.00 "$(ratio "$full_sql" "$scan")"
    printf '%-9s %-9s %-34s %10s %9s %9s\n' "$n" "$lines" "full, C engine" "$full_c" "$(ratio "$full_c" "$full_sql")" "$(ratio "$full_c" "$scan")"
    printf '%-9s %-9s %-34s %10s %9s %9s\n' "$n" "$lines" "incremental $touched cust., SQL" "$incr_sql" "$(ratio "$incr_sql" "$full_sql")" "$(ratio "$incr_sql" "$scan")"
    printf '%-9s %-9s %-34s %10s %9s %9s\n' "$n" "$lines" "incremental $touched cust., C" "$incr_c" "$(ratio "$incr_c" "$full_sql")" "$(ratio "$incr_c" "$scan")"
    pgb_psql -d postgres -c "DROP DATABASE $db" >/dev/null
done
