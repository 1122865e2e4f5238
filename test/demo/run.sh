#!/usr/bin/env bash
# make demo: a throwaway cluster with pg_billing, a generated two-year book of a few hundred
# customers loaded into it, and what a user looks at first. Leaves nothing running unless
# PGB_DEMO_KEEP=1 (then it prints how to connect).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

book=$PGB_RT/demo_book
echo "== building a private PostgreSQL root with pg_billing in $PGB_ROOT"
pgb_make_root
echo "== generating the book"
python3 "$PGB_SRC/test/demo/book.py" "$book" --customers "${PGB_DEMO_CUSTOMERS:-300}"
chmod -R a+rX "$book"

pgb_start_cluster demo </dev/null
if [ "${PGB_DEMO_KEEP:-0}" != 1 ]; then trap 'pgb_stop_cluster demo' EXIT; fi

pgb_psql -d postgres -c "CREATE EXTENSION pg_billing" -c "SELECT billing.add_source('demo-book', 'manual')" >/dev/null
echo "== loading it into the manual source demo-book (COPY into the billing.manual_* views)"
load() {  # view, columns, file
    pgb_psql -d postgres -c "\\copy billing.$1 ($2) FROM PROGRAM 'sed \"s/^/demo-book,/\" $book/$3' WITH (FORMAT csv)"
}
load manual_customers "source, external_id, reference, name, organization, email, currency" customers.csv
load manual_subscriptions "source, external_id, customer, product, sku, state, quantity, unit_price, currency, interval_months, billing_term, started_at" subscriptions.csv
load manual_invoices "source, external_id, number, customer, subscription, status, issue_date, due_date, paid_date, currency, subtotal, discount, tax" invoices.csv
load manual_invoice_lines "source, invoice, external_id, kind, product, quantity, unit_price, subtotal, discount, tax, currency, period_start, period_end, recurring, interval_months, full_period_amount" invoice_lines.csv
load manual_payments "source, external_id, customer, invoice, amount, currency, payment_date, method" payments.csv
load manual_refunds "source, external_id, customer, invoice, amount, currency, refund_date, memo" refunds.csv

pgb_psql -d postgres -P pager=off -f "$PGB_SRC/test/demo/show.sql"

if [ "${PGB_DEMO_KEEP:-0}" = 1 ]; then
    echo "== the demo cluster is still running: psql -h $PGHOST -p $PGPORT -U postgres postgres"
    echo "   stop it with: $PG_BIN/pg_ctl -D $PGB_RT/demo stop"
fi
