#!/usr/bin/env bash
# Reconciliation benchmark: in a private throwaway cluster, generates N companies on each side
# (default 5000) with 20 vendor subscriptions and 20 PSA additions each and a month's vendor bill
# (test/bench_recon_gen.sql), then times each reconciliation relation and prints, per statement run
# inside it, the plan's node types (auto_explain with ANALYZE). A scan repeated inside a nested loop
# of a table that grows with the book (or of a function), over more than 100 rows, is reported as a NESTED SCAN and makes the script exit 1.
# Usage: test/bench_recon.sh [companies]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

n=${1:-5000}
pgb_make_root
pgb_start_cluster bench_recon <<CONF
shared_buffers = '256MB'
work_mem = '32MB'
jit = off
CONF
trap 'pgb_stop_cluster bench_recon' EXIT

db=bench_recon
pgb_psql -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
pgb_psql -d "$db" -c "CREATE EXTENSION pg_billing" >/dev/null
start=$(date +%s.%N)
pgb_psql -d "$db" -v companies="$n" -c "SET session_replication_role = replica" -f "$PGB_SRC/test/bench_recon_gen.sql" >/dev/null
pgb_psql -d "$db" -c "VACUUM ANALYZE" >/dev/null
printf 'generated in %.1f s: ' "$(echo "$(date +%s.%N) - $start" | bc)"
pgb_psql -d "$db" -At -F ' ' -c "SELECT (SELECT count(*) FROM billing.customers) || ' companies, ' ||
    (SELECT count(*) FROM billing.subscriptions) || ' subscriptions and additions, ' ||
    (SELECT count(*) FROM billing.invoice_lines) || ' vendor bill lines'"

# Milliseconds of one statement (best of three), then its plans with auto_explain.
bad=0
# the tables that grow with the book; a scan of sources or exclusions (a few rows) per outer row is harmless
big_seq='(Seq Scan on (customers|subscriptions|invoices|invoice_lines|contracts|products|company_map|product_map|alerts)|Function Scan)'
measure() {
    local label=$1 stmt=$2 best=""
    for _ in 1 2 3; do
        t=$(pgb_psql -d "$db" -At -c "SELECT extract(epoch FROM clock_timestamp()) * 1000" -c "$stmt" \
                -c "SELECT extract(epoch FROM clock_timestamp()) * 1000" | awk '$1 + 0 > 1e12 { t[++k] = $1 } END { printf "%.0f", t[2] - t[1] }')
        if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
    done
    printf '%-52s %7s ms\n' "$label" "$best"
    plans=$(pgb_psql -d "$db" -At -c "LOAD 'auto_explain'" -c "SET auto_explain.log_min_duration = 0" \
        -c "SET auto_explain.log_nested_statements = on" -c "SET auto_explain.log_analyze = on" \
        -c "SET auto_explain.log_timing = off" -c "SET client_min_messages = log" -c "$stmt" 2>&1 >/dev/null || true)
    # node types with their count, largest first
    echo "$plans" | grep -oE '(->  |^[[:space:]]*Query Text|^LOG:  duration)?(Hash|Merge|Nested Loop)( (Left|Right|Full|Anti|Semi|Right Anti))*( Join)?|(Seq|Index|Index Only|Bitmap Heap|Bitmap Index|Function|CTE|Subquery) Scan' \
        | sed 's/^->  //' | sort | uniq -c | sort -rn | awk '{c=$1; $1=""; printf "    %s x%s\n", $0, c}' | paste -sd' ' | fold -w 110 -s | sed 's/^/   /'
    # a scan run more than 100 times is a nested scan: the plan repeats it per outer row
    nested=$(echo "$plans" | grep -E '(Seq|Index|Index Only|Bitmap Heap|Function) Scan' | grep -oE 'loops=[0-9]+' | awk -F= '$2 > 100' | wc -l)
    seqnested=$(echo "$plans" | grep -E "$big_seq" | grep -oE 'loops=[0-9]+' | awk -F= '$2 > 100' | wc -l)
    if [ "$seqnested" -gt 0 ]; then
        echo "    NESTED SCAN: a sequential or function scan repeated per outer row"; bad=1
        echo "$plans" | grep -E "$big_seq" | grep -E 'loops=[0-9]{3,}' | head -5 | sed 's/^/      /'
    elif [ "$nested" -gt 0 ]; then
        echo "    (index lookups repeated per outer row: $nested node(s), each an index probe)"
    fi
}

measure "refresh_company_map() (first, full)" "SELECT billing.refresh_company_map()"
measure "refresh_company_map() (again: nothing changes)" "SELECT billing.refresh_company_map()"
measure "unmapped_companies" "SELECT count(*) FROM billing.unmapped_companies"
measure "unmapped_products" "SELECT count(*) FROM billing.unmapped_products"
measure "license_variance (all rows)" "SELECT count(*), sum(difference) FROM billing.license_variance('2026-03-15')"
measure "license_variance (one company)" "SELECT * FROM billing.license_variance('2026-03-15') WHERE company = 'COMPANY 42 LLC'"
measure "billing_comparison('2026-03-01') (all rows)" "SELECT status, count(*), sum(margin) FROM billing.billing_comparison('2026-03-01') GROUP BY status"
measure "expiring_subscriptions('2026-03-01')" "SELECT bucket, count(*) FROM billing.expiring_subscriptions('2026-03-01') GROUP BY bucket"
measure "refresh_reconciliation_alerts('2026-03-01')" "SELECT billing.refresh_reconciliation_alerts('2026-03-01')"
measure "refresh_reconciliation_alerts (again)" "SELECT billing.refresh_reconciliation_alerts('2026-03-01')"
pgb_psql -d "$db" -At -c "SELECT 'open alerts: ' || string_agg(kind || ' ' || n, ', ') FROM (SELECT kind, count(*) n FROM billing.alerts WHERE resolved_at IS NULL GROUP BY kind ORDER BY kind) a"
exit $bad
