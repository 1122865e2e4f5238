/*
 * store_sql.h: the upsert statements, one per table. $1 is the source id; $2... are the columns
 * in the order of common/records.h, as text[] and the raw one as jsonb[]. An update applies only
 * when the incoming version is not older (remote_updated_at) and differs (raw) or revives a
 * tombstone; RETURNING says inserted or updated.
 */
#ifndef PGB_STORE_SQL_H
#define PGB_STORE_SQL_H

#define NEWER_WHERE \
	" WHERE (t.remote_updated_at IS NULL OR excluded.remote_updated_at >= t.remote_updated_at)" \
	" AND (t.raw IS DISTINCT FROM excluded.raw OR t.deleted_at IS NOT NULL)"

/* The same, where a column the connector derives from options (not from raw) may also change. */
#define NEWER_OR_WHERE(also) \
	" WHERE (t.remote_updated_at IS NULL OR excluded.remote_updated_at >= t.remote_updated_at)" \
	" AND (t.raw IS DISTINCT FROM excluded.raw OR t.deleted_at IS NOT NULL" also ")"

/*
 * A row names the records it belongs to by external id; each is found by one index probe per row
 * (OFFSET 0 keeps the subquery a parameterised scan). A join would let the cached plan, made while
 * the tables were small, hash every invoice or customer of the source on every page: at page 50 of
 * a 20,000-invoice sync the lines' join read 10,000 invoices to find 200, a cost that grows with
 * the square of the site. PROBE requires the record (the row is not stored without it); PROBE_LEFT
 * leaves its columns NULL when there is none. "also" adds conditions on the record (x).
 */
#define PROBE_SUBQUERY(cols, table, key, also) \
	" (SELECT " cols " FROM billing." table " x WHERE x.source_id = $1" \
	" AND x.external_id = " key also " OFFSET 0) "
#define PROBE_ALSO(alias, cols, table, key, also) \
	" CROSS JOIN LATERAL" PROBE_SUBQUERY(cols, table, key, also) alias
#define PROBE(alias, cols, table, key) PROBE_ALSO(alias, cols, table, key, "")
#define PROBE_LEFT(alias, cols, table, key) \
	" LEFT JOIN LATERAL" PROBE_SUBQUERY(cols, table, key, "") alias " ON true"

#define CUSTOMER_OF_ROW PROBE("c", "x.id", "customers", "r.customer")

#define SQL_PLACEHOLDER_CUSTOMERS \
	"INSERT INTO billing.customers (source_id, external_id)" \
	" SELECT DISTINCT $1, u.x FROM pg_catalog.unnest($2::text[]) AS u(x) WHERE u.x IS NOT NULL" \
	" ON CONFLICT (source_id, external_id) DO NOTHING"

#define SQL_CUSTOMERS \
	"INSERT INTO billing.customers AS t (source_id, external_id, reference, name, organization, email, parent_id," \
	" remote_created_at, remote_updated_at, raw, synced_at, deleted_at, vendor_ref, status)" \
	" SELECT $1, r.ext, r.reference, r.name, r.org, r.email," \
	" (SELECT p.id FROM billing.customers p WHERE p.source_id = $1 AND p.external_id = r.parent)," \
	" r.created::timestamptz, r.updated::timestamptz, r.raw, pg_catalog.now(), NULL, r.vendor_ref, r.status" \
	" FROM (SELECT DISTINCT ON (u.ext) u.* FROM ROWS FROM (pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::text[]), pg_catalog.unnest($5::text[]), pg_catalog.unnest($6::text[]), pg_catalog.unnest($7::text[]), pg_catalog.unnest($8::text[]), pg_catalog.unnest($9::text[]), pg_catalog.unnest($10::jsonb[]), pg_catalog.unnest($11::text[]), pg_catalog.unnest($12::text[]))" \
	" AS u(ext, reference, name, org, email, parent, created, updated, raw, vendor_ref, status)" \
	" ORDER BY u.ext, u.updated::timestamptz DESC NULLS LAST) r" \
	" ON CONFLICT (source_id, external_id) DO UPDATE SET reference = excluded.reference, name = excluded.name," \
	" organization = excluded.organization, email = excluded.email, parent_id = excluded.parent_id," \
	" remote_created_at = excluded.remote_created_at, remote_updated_at = excluded.remote_updated_at," \
	" raw = excluded.raw, synced_at = excluded.synced_at, deleted_at = NULL, vendor_ref = excluded.vendor_ref," \
	" status = coalesce(excluded.status, t.status)" \
	NEWER_OR_WHERE(" OR t.vendor_ref IS DISTINCT FROM excluded.vendor_ref") " RETURNING t.external_id, (t.xmax = 0)"

#define SQL_PRODUCTS \
	"INSERT INTO billing.products AS t (source_id, external_id, sku, name, family, price, currency, interval_months," \
	" recurring, remote_updated_at, raw, synced_at, deleted_at, cost, billing_cycle)" \
	" SELECT $1, r.ext, r.sku, r.name, r.family, r.price::numeric, r.currency, r.months::integer, r.recurring::boolean," \
	" r.updated::timestamptz, r.raw, pg_catalog.now(), NULL, r.cost::numeric, r.cycle" \
	" FROM (SELECT DISTINCT ON (u.ext) u.* FROM ROWS FROM (pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::text[]), pg_catalog.unnest($5::text[]), pg_catalog.unnest($6::text[]), pg_catalog.unnest($7::text[]), pg_catalog.unnest($8::text[]), pg_catalog.unnest($9::text[]), pg_catalog.unnest($10::text[]), pg_catalog.unnest($11::jsonb[]), pg_catalog.unnest($12::text[]), pg_catalog.unnest($13::text[]))" \
	" AS u(ext, sku, name, family, price, currency, months, recurring, updated, raw, cost, cycle)" \
	" ORDER BY u.ext, u.updated::timestamptz DESC NULLS LAST) r" \
	" ON CONFLICT (source_id, external_id) DO UPDATE SET sku = excluded.sku, name = excluded.name," \
	" family = excluded.family, price = excluded.price, currency = excluded.currency," \
	" interval_months = excluded.interval_months, recurring = excluded.recurring," \
	" remote_updated_at = excluded.remote_updated_at, raw = excluded.raw, synced_at = excluded.synced_at, deleted_at = NULL," \
	" cost = excluded.cost, billing_cycle = excluded.billing_cycle" \
	NEWER_WHERE " RETURNING t.external_id, (t.xmax = 0)"

/*
 * A subscription without a customer of its own (an agreement addition) takes its contract's; one
 * with neither is not stored. One without its own SKU takes its product's (Pax8: the SKU its invoice
 * items name).
 */
#define SQL_SUBSCRIPTIONS \
	"INSERT INTO billing.subscriptions AS t (source_id, external_id, customer_id, product_id, product, sku, state," \
	" quantity, unit_price, currency, interval_months, billing_term, current_period_start, current_period_end," \
	" started_at, canceled_at, ends_at, remote_updated_at, raw, unit_cost, synced_at, deleted_at, contract_id," \
	" included_quantity, billable)" \
	" SELECT $1, r.ext, coalesce(c.id, k.customer_id), p.id, r.product, coalesce(r.sku, p.sku), r.state, r.quantity::numeric, r.unit_price::numeric, r.currency," \
	" r.months::integer, r.term, r.ps::timestamptz, r.pe::timestamptz, r.started::timestamptz, r.canceled::timestamptz," \
	" r.ends::timestamptz, r.updated::timestamptz, r.raw, r.cost::numeric, pg_catalog.now(), NULL, k.id," \
	" coalesce(r.included::numeric, 0), coalesce(r.billable::boolean, true)" \
	" FROM (SELECT DISTINCT ON (u.ext) u.* FROM ROWS FROM (pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::text[]), pg_catalog.unnest($5::text[]), pg_catalog.unnest($6::text[]), pg_catalog.unnest($7::text[]), pg_catalog.unnest($8::text[]), pg_catalog.unnest($9::text[]), pg_catalog.unnest($10::text[]), pg_catalog.unnest($11::text[]), pg_catalog.unnest($12::text[]), pg_catalog.unnest($13::text[]), pg_catalog.unnest($14::text[]), pg_catalog.unnest($15::text[]), pg_catalog.unnest($16::text[]), pg_catalog.unnest($17::text[]), pg_catalog.unnest($18::text[]), pg_catalog.unnest($19::jsonb[]), pg_catalog.unnest($20::text[]), pg_catalog.unnest($21::text[]), pg_catalog.unnest($22::text[]), pg_catalog.unnest($23::text[]))" \
	" AS u(ext, customer, product_ext, product, sku, state, quantity, unit_price, currency, months, term, ps, pe," \
	" started, canceled, ends, updated, raw, cost, contract, included, billable)" \
	" ORDER BY u.ext, u.updated::timestamptz DESC NULLS LAST) r" \
	PROBE_LEFT("c", "x.id", "customers", "r.customer") \
	PROBE_LEFT("k", "x.id, x.customer_id", "contracts", "r.contract") \
	PROBE_LEFT("p", "x.id, x.sku", "products", "r.product_ext") \
	" WHERE coalesce(c.id, k.customer_id) IS NOT NULL" \
	" ON CONFLICT (source_id, external_id) DO UPDATE SET customer_id = excluded.customer_id," \
	" product_id = excluded.product_id, product = excluded.product, sku = excluded.sku, state = excluded.state," \
	" quantity = excluded.quantity, unit_price = excluded.unit_price, currency = excluded.currency," \
	" interval_months = excluded.interval_months, billing_term = excluded.billing_term," \
	" current_period_start = excluded.current_period_start, current_period_end = excluded.current_period_end," \
	" started_at = excluded.started_at, canceled_at = excluded.canceled_at, ends_at = excluded.ends_at," \
	" unit_cost = excluded.unit_cost, remote_updated_at = excluded.remote_updated_at, raw = excluded.raw," \
	" synced_at = excluded.synced_at, deleted_at = NULL, contract_id = excluded.contract_id," \
	" included_quantity = excluded.included_quantity, billable = excluded.billable" \
	NEWER_WHERE " RETURNING t.external_id, (t.xmax = 0)"

/* Contracts (agreements): the customer is a placeholder until its own record arrives. */
#define SQL_CONTRACTS \
	"INSERT INTO billing.contracts AS t (source_id, external_id, customer_id, name, type, start_date, end_date," \
	" canceled_on, billing_cycle, currency, remote_updated_at, raw, synced_at, deleted_at)" \
	" SELECT $1, r.ext, c.id, r.name, r.type, r.start::date, r.finish::date, r.canceled::date, r.cycle, r.currency," \
	" r.updated::timestamptz, r.raw, pg_catalog.now(), NULL" \
	" FROM (SELECT DISTINCT ON (u.ext) u.* FROM ROWS FROM (pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::text[]), pg_catalog.unnest($5::text[]), pg_catalog.unnest($6::text[]), pg_catalog.unnest($7::text[]), pg_catalog.unnest($8::text[]), pg_catalog.unnest($9::text[]), pg_catalog.unnest($10::text[]), pg_catalog.unnest($11::text[]), pg_catalog.unnest($12::jsonb[]))" \
	" AS u(ext, customer, name, type, start, finish, canceled, cycle, currency, updated, raw)" \
	" ORDER BY u.ext, u.updated::timestamptz DESC NULLS LAST) r" \
	CUSTOMER_OF_ROW \
	" ON CONFLICT (source_id, external_id) DO UPDATE SET customer_id = excluded.customer_id, name = excluded.name," \
	" type = excluded.type, start_date = excluded.start_date, end_date = excluded.end_date," \
	" canceled_on = excluded.canceled_on, billing_cycle = excluded.billing_cycle, currency = excluded.currency," \
	" remote_updated_at = excluded.remote_updated_at, raw = excluded.raw, synced_at = excluded.synced_at, deleted_at = NULL" \
	NEWER_WHERE " RETURNING t.external_id, (t.xmax = 0)"

/* The next parent record of a child entity's listing: live, in external id order, after $3 (or from it). */
#define SQL_NEXT_PARENT(table) \
	"SELECT t.external_id FROM billing." table " t WHERE t.source_id = $1 AND t.deleted_at IS NULL" \
	" AND ($2::text IS NULL OR t.external_id > $2 OR ($3 AND t.external_id = $2))" \
	" ORDER BY t.external_id LIMIT 1"

#define SQL_INVOICES \
	"INSERT INTO billing.invoices AS t (source_id, external_id, number, customer_id, subscription_id, status," \
	" issue_date, due_date, paid_date, period_start, period_end, currency, subtotal, discount, tax, total, credit," \
	" refunded, paid, due, remote_updated_at, raw, direction, synced_at, deleted_at)" \
	" SELECT $1, r.ext, r.number, c.id, s.id, r.status, r.issue::date, r.due_date::date, r.paid_date::date," \
	" r.ps::date, r.pe::date, r.currency, coalesce(r.subtotal::numeric, 0), coalesce(r.discount::numeric, 0)," \
	" coalesce(r.tax::numeric, 0), coalesce(r.total::numeric, 0), coalesce(r.credit::numeric, 0)," \
	" coalesce(r.refunded::numeric, 0), coalesce(r.paid::numeric, 0), coalesce(r.due::numeric, 0)," \
	" r.updated::timestamptz, r.raw, coalesce(r.direction, 'receivable'), pg_catalog.now(), NULL" \
	" FROM (SELECT DISTINCT ON (u.ext) u.* FROM ROWS FROM (pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::text[]), pg_catalog.unnest($5::text[]), pg_catalog.unnest($6::text[]), pg_catalog.unnest($7::text[]), pg_catalog.unnest($8::text[]), pg_catalog.unnest($9::text[]), pg_catalog.unnest($10::text[]), pg_catalog.unnest($11::text[]), pg_catalog.unnest($12::text[]), pg_catalog.unnest($13::text[]), pg_catalog.unnest($14::text[]), pg_catalog.unnest($15::text[]), pg_catalog.unnest($16::text[]), pg_catalog.unnest($17::text[]), pg_catalog.unnest($18::text[]), pg_catalog.unnest($19::text[]), pg_catalog.unnest($20::text[]), pg_catalog.unnest($21::text[]), pg_catalog.unnest($22::jsonb[]), pg_catalog.unnest($23::text[]))" \
	" AS u(ext, number, customer, subscription, status, issue, due_date, paid_date, ps, pe, currency, subtotal," \
	" discount, tax, total, credit, refunded, paid, due, updated, raw, direction)" \
	" ORDER BY u.ext, u.updated::timestamptz DESC NULLS LAST) r" \
	CUSTOMER_OF_ROW \
	PROBE_LEFT("s", "x.id", "subscriptions", "r.subscription") \
	" ON CONFLICT (source_id, external_id) DO UPDATE SET number = excluded.number, customer_id = excluded.customer_id," \
	" subscription_id = excluded.subscription_id, status = excluded.status, issue_date = excluded.issue_date," \
	" due_date = excluded.due_date, paid_date = excluded.paid_date, period_start = excluded.period_start," \
	" period_end = excluded.period_end, currency = excluded.currency, subtotal = excluded.subtotal," \
	" discount = excluded.discount, tax = excluded.tax, total = excluded.total, credit = excluded.credit," \
	" refunded = excluded.refunded, paid = excluded.paid, due = excluded.due, direction = excluded.direction," \
	" remote_updated_at = excluded.remote_updated_at, raw = excluded.raw, synced_at = excluded.synced_at, deleted_at = NULL" \
	NEWER_WHERE " RETURNING t.external_id, (t.xmax = 0)"

/* Lines of changed documents ($2) are replaced whole: deleted, then inserted from the page. */
#define SQL_DELETE_INVOICE_LINES \
	"DELETE FROM billing.invoice_lines l USING billing.invoices i" \
	" WHERE l.invoice_id = i.id AND i.source_id = $1 AND i.external_id = ANY ($2::text[])"

/*
 * A line's customer and subscription are external ids of the same source (a line's customer is
 * stored as a placeholder first when not yet listed, like an invoice's).
 * Interval and full_period_amount (domain.md C5) come from the line itself when the connector says
 * (C_LIN_INTERVAL, e.g. from its service period), else from the line's own product where it is known,
 * else from the subscription: after a plan change the subscription names the new plan, while the
 * credit for the old one is still on the invoice. A line covering exactly one interval, counted from
 * either end with end-of-month clamping ([Feb 28, Mar 31) is a month), costs its own net amount; a
 * prorated plan line of one unit costs its product's price in the invoice's currency (the
 * subscription's price point when it is the subscription's product), with the line's sign and its
 * discount share; other prorated lines leave it null (rule 3 then applies).
 */
#define SQL_INVOICE_LINES \
	"INSERT INTO billing.invoice_lines (invoice_id, external_id, line_no, kind, product, description, quantity," \
	" unit_price, subtotal, discount, tax, total, currency, period_start, period_end, recurring, interval_months," \
	" full_period_amount, raw, sku, cost, customer_id, billing_term, subscription_id, tax_code)" \
	" SELECT i.id, r.ext, r.no::integer, r.kind, r.product, r.description, coalesce(r.quantity::numeric, 1)," \
	" r.unit_price::numeric, r.subtotal::numeric, coalesce(r.discount::numeric, 0), coalesce(r.tax::numeric, 0)," \
	" r.total::numeric, i.currency, r.ps::date, r.pe::date," \
	" r.recurring::boolean AND m.months IS NOT NULL," \
	" CASE WHEN r.recurring::boolean THEN m.months END," \
	" CASE WHEN NOT r.recurring::boolean OR m.months IS NULL THEN NULL" \
	"  WHEN (r.ps::date + pg_catalog.make_interval(months => m.months))::date = r.pe::date" \
	"    OR (r.pe::date - pg_catalog.make_interval(months => m.months))::date = r.ps::date" \
	"   THEN r.subtotal::numeric - coalesce(r.discount::numeric, 0)" \
	"  WHEN r.kind = 'plan' AND m.price IS NOT NULL AND r.subtotal::numeric <> 0" \
	"   AND pg_catalog.abs(coalesce(r.quantity::numeric, 1)) = 1" \
	"   THEN pg_catalog.round(m.price * (r.subtotal::numeric - coalesce(r.discount::numeric, 0))" \
	"                         / pg_catalog.abs(r.subtotal::numeric), 2)" \
	"  END," \
	" r.raw, r.sku, r.cost::numeric, lc.id, r.term, ls.id, r.tax_code" \
	" FROM (SELECT u.* FROM ROWS FROM (pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::text[]), pg_catalog.unnest($5::text[]), pg_catalog.unnest($6::text[]), pg_catalog.unnest($7::text[]), pg_catalog.unnest($8::text[]), pg_catalog.unnest($9::text[]), pg_catalog.unnest($10::text[]), pg_catalog.unnest($11::text[]), pg_catalog.unnest($12::text[]), pg_catalog.unnest($13::text[]), pg_catalog.unnest($14::text[]), pg_catalog.unnest($15::text[]), pg_catalog.unnest($16::text[]), pg_catalog.unnest($17::jsonb[]), pg_catalog.unnest($18::text[]), pg_catalog.unnest($19::text[]), pg_catalog.unnest($20::text[]), pg_catalog.unnest($21::text[]), pg_catalog.unnest($22::text[]), pg_catalog.unnest($23::text[]), pg_catalog.unnest($24::text[]))" \
	" AS u(doc, ext, no, kind, product, description, quantity, unit_price, subtotal, discount, tax, total, ps, pe," \
	" recurring, raw, sku, cost, customer, term, subscription, tax_code, line_months)" \
	" OFFSET 0) r" \
	PROBE("i", "x.id, x.currency, x.subscription_id", "invoices", "r.doc") \
	PROBE_LEFT("lc", "x.id", "customers", "r.customer") \
	PROBE_LEFT("ls", "x.id", "subscriptions", "r.subscription") \
	" LEFT JOIN LATERAL (SELECT x.interval_months, x.unit_price, x.product_id FROM billing.subscriptions x" \
	" WHERE x.id = i.subscription_id OFFSET 0) s ON true" \
	PROBE_LEFT("p", "x.id, x.interval_months, x.currency, x.price", "products", "r.raw ->> 'product_id'") \
	" CROSS JOIN LATERAL (SELECT coalesce(r.line_months::integer," \
	"   CASE WHEN p.id IS NULL THEN s.interval_months ELSE p.interval_months END) AS months," \
	"   CASE WHEN p.id IS NULL OR p.id = s.product_id THEN s.unit_price" \
	"        WHEN p.currency = i.currency THEN p.price END AS price) m" \
	" ON CONFLICT (invoice_id, external_id) DO NOTHING"

#define SQL_PAYMENTS \
	"INSERT INTO billing.payments AS t (source_id, external_id, customer_id, invoice_id, amount, currency," \
	" payment_date, received_at, method, reference, prepayment, remote_updated_at, raw, synced_at, deleted_at)" \
	" SELECT $1, r.ext, c.id, i.id, r.amount::numeric, r.currency, r.day::date, r.received::timestamptz, r.method," \
	" r.reference, coalesce(r.prepayment::boolean, false), r.updated::timestamptz, r.raw, pg_catalog.now(), NULL" \
	" FROM (SELECT DISTINCT ON (u.ext) u.* FROM ROWS FROM (pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::text[]), pg_catalog.unnest($5::text[]), pg_catalog.unnest($6::text[]), pg_catalog.unnest($7::text[]), pg_catalog.unnest($8::text[]), pg_catalog.unnest($9::text[]), pg_catalog.unnest($10::text[]), pg_catalog.unnest($11::text[]), pg_catalog.unnest($12::text[]), pg_catalog.unnest($13::jsonb[]))" \
	" AS u(ext, customer, invoice, amount, currency, day, received, method, reference, prepayment, updated, raw)" \
	" ORDER BY u.ext, u.updated::timestamptz DESC) r" \
	CUSTOMER_OF_ROW \
	PROBE_LEFT("i", "x.id", "invoices", "r.invoice") \
	" ON CONFLICT (source_id, external_id) DO UPDATE SET customer_id = excluded.customer_id," \
	" invoice_id = excluded.invoice_id, amount = excluded.amount, currency = excluded.currency," \
	" payment_date = excluded.payment_date, received_at = excluded.received_at, method = excluded.method," \
	" reference = excluded.reference, prepayment = excluded.prepayment, remote_updated_at = excluded.remote_updated_at," \
	" raw = excluded.raw, synced_at = excluded.synced_at, deleted_at = NULL" NEWER_WHERE

#define SQL_REFUNDS \
	"INSERT INTO billing.refunds AS t (source_id, external_id, customer_id, invoice_id, payment_id, amount, currency," \
	" refund_date, memo, remote_updated_at, raw, synced_at, deleted_at)" \
	" SELECT $1, r.ext, c.id, i.id, p.id, r.amount::numeric, r.currency, r.day::date, r.memo, r.updated::timestamptz," \
	" r.raw, pg_catalog.now(), NULL" \
	" FROM (SELECT DISTINCT ON (u.ext) u.* FROM ROWS FROM (pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::text[]), pg_catalog.unnest($5::text[]), pg_catalog.unnest($6::text[]), pg_catalog.unnest($7::text[]), pg_catalog.unnest($8::text[]), pg_catalog.unnest($9::text[]), pg_catalog.unnest($10::text[]), pg_catalog.unnest($11::jsonb[]))" \
	" AS u(ext, customer, invoice, payment, amount, currency, day, memo, updated, raw)" \
	" WHERE u.amount::numeric > 0 ORDER BY u.ext, u.updated::timestamptz DESC) r" \
	CUSTOMER_OF_ROW \
	PROBE_LEFT("i", "x.id", "invoices", "r.invoice") \
	PROBE_LEFT("p", "x.id", "payments", "r.payment") \
	" ON CONFLICT (source_id, external_id) DO UPDATE SET customer_id = excluded.customer_id," \
	" invoice_id = excluded.invoice_id, payment_id = excluded.payment_id, amount = excluded.amount," \
	" currency = excluded.currency, memo = excluded.memo, remote_updated_at = excluded.remote_updated_at," \
	" raw = excluded.raw, synced_at = excluded.synced_at, deleted_at = NULL" NEWER_WHERE

#define SQL_CREDIT_NOTES \
	"INSERT INTO billing.credit_notes AS t (source_id, external_id, number, customer_id, subscription_id, invoice_id," \
	" status, issue_date, applied_date, currency, subtotal, discount, tax, total, applied, remaining, memo," \
	" remote_updated_at, raw, synced_at, deleted_at, direction)" \
	" SELECT $1, r.ext, r.number, c.id, s.id, i.id, r.status, r.issue::date, r.applied_date::date, r.currency," \
	" coalesce(r.subtotal::numeric, 0), coalesce(r.discount::numeric, 0), coalesce(r.tax::numeric, 0)," \
	" coalesce(r.total::numeric, 0), coalesce(r.applied::numeric, 0), coalesce(r.remaining::numeric, 0), r.memo," \
	" r.updated::timestamptz, r.raw, pg_catalog.now(), NULL, coalesce(r.direction, 'receivable')" \
	" FROM (SELECT DISTINCT ON (u.ext) u.* FROM ROWS FROM (pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::text[]), pg_catalog.unnest($5::text[]), pg_catalog.unnest($6::text[]), pg_catalog.unnest($7::text[]), pg_catalog.unnest($8::text[]), pg_catalog.unnest($9::text[]), pg_catalog.unnest($10::text[]), pg_catalog.unnest($11::text[]), pg_catalog.unnest($12::text[]), pg_catalog.unnest($13::text[]), pg_catalog.unnest($14::text[]), pg_catalog.unnest($15::text[]), pg_catalog.unnest($16::text[]), pg_catalog.unnest($17::text[]), pg_catalog.unnest($18::text[]), pg_catalog.unnest($19::jsonb[]), pg_catalog.unnest($20::text[]))" \
	" AS u(ext, number, customer, subscription, invoice, status, issue, applied_date, currency, subtotal, discount," \
	" tax, total, applied, remaining, memo, updated, raw, direction) ORDER BY u.ext) r" \
	CUSTOMER_OF_ROW \
	PROBE_LEFT("s", "x.id", "subscriptions", "r.subscription") \
	PROBE_LEFT("i", "x.id", "invoices", "r.invoice") \
	" ON CONFLICT (source_id, external_id) DO UPDATE SET number = excluded.number, customer_id = excluded.customer_id," \
	" subscription_id = excluded.subscription_id, invoice_id = excluded.invoice_id, status = excluded.status," \
	" issue_date = excluded.issue_date, applied_date = excluded.applied_date, currency = excluded.currency," \
	" subtotal = excluded.subtotal, discount = excluded.discount, tax = excluded.tax, total = excluded.total," \
	" applied = excluded.applied, remaining = excluded.remaining, memo = excluded.memo, direction = excluded.direction," \
	" remote_updated_at = excluded.remote_updated_at, raw = excluded.raw, synced_at = excluded.synced_at, deleted_at = NULL" \
	NEWER_WHERE " RETURNING t.external_id, (t.xmax = 0)"

#define SQL_DELETE_CREDIT_NOTE_LINES \
	"DELETE FROM billing.credit_note_lines l USING billing.credit_notes n" \
	" WHERE l.credit_note_id = n.id AND n.source_id = $1 AND n.external_id = ANY ($2::text[])"

#define SQL_CREDIT_NOTE_LINES \
	"INSERT INTO billing.credit_note_lines (credit_note_id, external_id, line_no, kind, product, description," \
	" quantity, unit_price, subtotal, discount, tax, total, currency, period_start, period_end, recurring," \
	" interval_months, raw, tax_code)" \
	" SELECT n.id, r.ext, r.no::integer, r.kind, r.product, r.description, coalesce(r.quantity::numeric, 1)," \
	" r.unit_price::numeric, r.subtotal::numeric, coalesce(r.discount::numeric, 0), coalesce(r.tax::numeric, 0)," \
	" r.total::numeric, n.currency, r.ps::date, r.pe::date," \
	" r.recurring::boolean AND coalesce(r.line_months::integer, s.interval_months) IS NOT NULL," \
	" CASE WHEN r.recurring::boolean THEN coalesce(r.line_months::integer, s.interval_months) END, r.raw, r.tax_code" \
	" FROM ROWS FROM (pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::text[]), pg_catalog.unnest($5::text[]), pg_catalog.unnest($6::text[]), pg_catalog.unnest($7::text[]), pg_catalog.unnest($8::text[]), pg_catalog.unnest($9::text[]), pg_catalog.unnest($10::text[]), pg_catalog.unnest($11::text[]), pg_catalog.unnest($12::text[]), pg_catalog.unnest($13::text[]), pg_catalog.unnest($14::text[]), pg_catalog.unnest($15::text[]), pg_catalog.unnest($16::text[]), pg_catalog.unnest($17::jsonb[]), pg_catalog.unnest($18::text[]), pg_catalog.unnest($19::text[]), pg_catalog.unnest($20::text[]), pg_catalog.unnest($21::text[]), pg_catalog.unnest($22::text[]), pg_catalog.unnest($23::text[]), pg_catalog.unnest($24::text[]))" \
	" AS r(doc, ext, no, kind, product, description, quantity, unit_price, subtotal, discount, tax, total, ps, pe," \
	" recurring, raw, sku, cost, customer, term, subscription, tax_code, line_months)" \
	PROBE("n", "x.id, x.currency, x.subscription_id", "credit_notes", "r.doc") \
	" LEFT JOIN LATERAL (SELECT x.interval_months FROM billing.subscriptions x WHERE x.id = n.subscription_id" \
	" OFFSET 0) s ON true" \
	" ON CONFLICT (credit_note_id, external_id) DO NOTHING"

#define SQL_ALLOCATIONS \
	"INSERT INTO billing.credit_note_allocations AS t (source_id, external_id, credit_note_id, invoice_id, customer_id," \
	" amount, currency, allocated_on, raw)" \
	" SELECT $1, r.ext, n.id, i.id, n.customer_id, r.amount::numeric, n.currency, r.day::date, r.raw" \
	" FROM (SELECT DISTINCT ON (u.ext) u.* FROM ROWS FROM (pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::text[]), pg_catalog.unnest($5::text[]), pg_catalog.unnest($6::text[]), pg_catalog.unnest($7::text[]), pg_catalog.unnest($8::text[]), pg_catalog.unnest($9::jsonb[]))" \
	" AS u(ext, note, invoice, customer, amount, currency, day, raw)" \
	" WHERE u.amount::numeric > 0 ORDER BY u.ext) r" \
	PROBE("n", "x.id, x.customer_id, x.currency", "credit_notes", "r.note") \
	PROBE_LEFT("i", "x.id", "invoices", "r.invoice") \
	" ON CONFLICT (source_id, external_id) DO UPDATE SET credit_note_id = excluded.credit_note_id," \
	" invoice_id = excluded.invoice_id, customer_id = excluded.customer_id, amount = excluded.amount," \
	" currency = excluded.currency, allocated_on = excluded.allocated_on, raw = excluded.raw" \
	" WHERE t.raw IS DISTINCT FROM excluded.raw"

/*
 * Payments listed as an entity of their own (Xero /Payments, Splynx payments), not inside their
 * invoice's record. The customer is the row's own (Splynx; stored first as a placeholder) or else
 * that of the invoice paid (Xero); the currency likewise. A payment of a supplier's (payable) bill
 * is not money received and is not stored, nor one whose customer is unknown (no customer of its
 * own and its invoice not stored); the caller counts those as skipped.
 */
#define SQL_PAYMENTS_LISTED \
	"INSERT INTO billing.payments AS t (source_id, external_id, customer_id, invoice_id, amount, currency," \
	" payment_date, received_at, method, reference, prepayment, remote_updated_at, raw, synced_at, deleted_at)" \
	" SELECT $1, r.ext, coalesce(c.id, i.customer_id), i.id, r.amount::numeric, coalesce(r.currency, i.currency)," \
	" r.day::date, r.received::timestamptz, r.method, r.reference, coalesce(r.prepayment::boolean, false)," \
	" r.updated::timestamptz, r.raw, pg_catalog.now(), NULL" \
	" FROM (SELECT DISTINCT ON (u.ext) u.* FROM ROWS FROM (pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::text[]), pg_catalog.unnest($5::text[]), pg_catalog.unnest($6::text[]), pg_catalog.unnest($7::text[]), pg_catalog.unnest($8::text[]), pg_catalog.unnest($9::text[]), pg_catalog.unnest($10::text[]), pg_catalog.unnest($11::text[]), pg_catalog.unnest($12::text[]), pg_catalog.unnest($13::jsonb[]))" \
	" AS u(ext, customer, invoice, amount, currency, day, received, method, reference, prepayment, updated, raw)" \
	" ORDER BY u.ext, u.updated::timestamptz DESC NULLS LAST) r" \
	PROBE_LEFT("c", "x.id", "customers", "r.customer") \
	PROBE_LEFT("i", "x.id, x.customer_id, x.currency, x.direction", "invoices", "r.invoice") \
	" WHERE (i.id IS NULL OR i.direction = 'receivable') AND coalesce(c.id, i.customer_id) IS NOT NULL" \
	" ON CONFLICT (source_id, external_id) DO UPDATE SET customer_id = excluded.customer_id," \
	" invoice_id = excluded.invoice_id, amount = excluded.amount, currency = excluded.currency," \
	" payment_date = excluded.payment_date, received_at = excluded.received_at, method = excluded.method," \
	" reference = excluded.reference, prepayment = excluded.prepayment, remote_updated_at = excluded.remote_updated_at," \
	" raw = excluded.raw, synced_at = excluded.synced_at, deleted_at = NULL" NEWER_WHERE \
	" RETURNING t.external_id, (t.xmax = 0)"

/* Cash refunds listed on their own (Xero payments of a credit note): customer and currency from the
 * credit note, which must be a stored receivable one. */
#define SQL_REFUNDS_LISTED \
	"INSERT INTO billing.refunds AS t (source_id, external_id, customer_id, invoice_id, credit_note_id, amount, currency," \
	" refund_date, memo, remote_updated_at, raw, synced_at, deleted_at)" \
	" SELECT $1, r.ext, n.customer_id, NULL, n.id, r.amount::numeric, n.currency, r.day::date, r.memo, r.updated::timestamptz," \
	" r.raw, pg_catalog.now(), NULL" \
	" FROM (SELECT DISTINCT ON (u.ext) u.* FROM ROWS FROM (pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::text[]), pg_catalog.unnest($5::text[]), pg_catalog.unnest($6::text[]), pg_catalog.unnest($7::text[]), pg_catalog.unnest($8::text[]), pg_catalog.unnest($9::text[]), pg_catalog.unnest($10::text[]), pg_catalog.unnest($11::jsonb[]), pg_catalog.unnest($12::text[]))" \
	" AS u(ext, customer, invoice, payment, amount, currency, day, memo, updated, raw, note)" \
	" WHERE u.amount::numeric > 0 ORDER BY u.ext, u.updated::timestamptz DESC NULLS LAST) r" \
	PROBE_ALSO("n", "x.id, x.customer_id, x.currency", "credit_notes", "r.note", " AND x.direction = 'receivable'") \
	" ON CONFLICT (source_id, external_id) DO UPDATE SET customer_id = excluded.customer_id," \
	" credit_note_id = excluded.credit_note_id, amount = excluded.amount, currency = excluded.currency," \
	" refund_date = excluded.refund_date, memo = excluded.memo, remote_updated_at = excluded.remote_updated_at," \
	" raw = excluded.raw, synced_at = excluded.synced_at, deleted_at = NULL" NEWER_WHERE \
	" RETURNING t.external_id, (t.xmax = 0)"

#define SQL_ACCOUNTS \
	"INSERT INTO billing.source_accounts AS t (source_id, external_id, code, name, account_type, status," \
	" remote_updated_at, raw, synced_at, deleted_at)" \
	" SELECT $1, r.ext, r.code, r.name, r.type, r.status, r.updated::timestamptz, r.raw, pg_catalog.now(), NULL" \
	" FROM (SELECT DISTINCT ON (u.ext) u.* FROM ROWS FROM (pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::text[]), pg_catalog.unnest($5::text[]), pg_catalog.unnest($6::text[]), pg_catalog.unnest($7::text[]), pg_catalog.unnest($8::jsonb[]))" \
	" AS u(ext, code, name, type, status, updated, raw) ORDER BY u.ext) r" \
	" ON CONFLICT (source_id, external_id) DO UPDATE SET code = excluded.code, name = excluded.name," \
	" account_type = excluded.account_type, status = excluded.status, remote_updated_at = excluded.remote_updated_at," \
	" raw = excluded.raw, synced_at = excluded.synced_at, deleted_at = NULL" \
	NEWER_WHERE " RETURNING t.external_id, (t.xmax = 0)"

#define SQL_TAX_RATES \
	"INSERT INTO billing.source_tax_rates AS t (source_id, external_id, name, rate, report_type, status, raw," \
	" synced_at, deleted_at)" \
	" SELECT $1, r.ext, r.name, r.rate::numeric, r.report, r.status, r.raw, pg_catalog.now(), NULL" \
	" FROM (SELECT DISTINCT ON (u.ext) u.* FROM ROWS FROM (pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::text[]), pg_catalog.unnest($5::text[]), pg_catalog.unnest($6::text[]), pg_catalog.unnest($7::jsonb[]))" \
	" AS u(ext, name, rate, report, status, raw) ORDER BY u.ext) r" \
	" ON CONFLICT (source_id, external_id) DO UPDATE SET name = excluded.name, rate = excluded.rate," \
	" report_type = excluded.report_type, status = excluded.status, raw = excluded.raw," \
	" synced_at = excluded.synced_at, deleted_at = NULL" \
	" WHERE t.raw IS DISTINCT FROM excluded.raw OR t.deleted_at IS NOT NULL RETURNING t.external_id, (t.xmax = 0)"

/*
 * Ledger transactions (billing.source_transactions): customer stored first as a placeholder when not
 * yet listed; invoice, payment and credit note linked when stored (else NULL). No updated-at: a row
 * changes when its raw record does.
 */
#define SQL_TRANSACTIONS \
	"INSERT INTO billing.source_transactions AS t (source_id, external_id, customer_id, entry_type, category," \
	" description, quantity, unit_price, tax_percent, total, currency, entry_date, period_start, period_end," \
	" invoice_id, payment_id, credit_note_id, raw, synced_at, deleted_at)" \
	" SELECT $1, r.ext, c.id, r.type, r.category, r.description, r.quantity::numeric, r.price::numeric, r.tax::numeric," \
	" r.total::numeric, r.currency, r.day::date, r.ps::date, r.pe::date, i.id, p.id, n.id, r.raw, pg_catalog.now(), NULL" \
	" FROM (SELECT DISTINCT ON (u.ext) u.* FROM ROWS FROM (pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::text[]), pg_catalog.unnest($5::text[]), pg_catalog.unnest($6::text[]), pg_catalog.unnest($7::text[]), pg_catalog.unnest($8::text[]), pg_catalog.unnest($9::text[]), pg_catalog.unnest($10::text[]), pg_catalog.unnest($11::text[]), pg_catalog.unnest($12::text[]), pg_catalog.unnest($13::text[]), pg_catalog.unnest($14::text[]), pg_catalog.unnest($15::text[]), pg_catalog.unnest($16::text[]), pg_catalog.unnest($17::text[]), pg_catalog.unnest($18::jsonb[]))" \
	" AS u(ext, customer, type, category, description, quantity, price, tax, total, currency, day, ps, pe, invoice, payment, note, raw) ORDER BY u.ext) r" \
	CUSTOMER_OF_ROW \
	PROBE_LEFT("i", "x.id", "invoices", "r.invoice") \
	PROBE_LEFT("p", "x.id", "payments", "r.payment") \
	PROBE_LEFT("n", "x.id", "credit_notes", "r.note") \
	" ON CONFLICT (source_id, external_id) DO UPDATE SET customer_id = excluded.customer_id," \
	" entry_type = excluded.entry_type, category = excluded.category, description = excluded.description," \
	" quantity = excluded.quantity, unit_price = excluded.unit_price, tax_percent = excluded.tax_percent," \
	" total = excluded.total, currency = excluded.currency, entry_date = excluded.entry_date," \
	" period_start = excluded.period_start, period_end = excluded.period_end, invoice_id = excluded.invoice_id," \
	" payment_id = excluded.payment_id, credit_note_id = excluded.credit_note_id, raw = excluded.raw," \
	" synced_at = excluded.synced_at, deleted_at = NULL" \
	" WHERE t.raw IS DISTINCT FROM excluded.raw OR t.deleted_at IS NOT NULL" \
	" OR t.invoice_id IS DISTINCT FROM excluded.invoice_id OR t.payment_id IS DISTINCT FROM excluded.payment_id" \
	" OR t.credit_note_id IS DISTINCT FROM excluded.credit_note_id RETURNING t.external_id, (t.xmax = 0)"

/* Statements take customer and currency from their subscription; those of unknown ones wait. */
#define SQL_STATEMENTS \
	"INSERT INTO billing.statements AS t (source_id, external_id, customer_id, subscription_id, opened_at, closed_at," \
	" settled_at, starting_balance, ending_balance, total, currency, remote_updated_at, raw, synced_at, deleted_at)" \
	" SELECT $1, r.ext, s.customer_id, s.id, r.opened::timestamptz, r.closed::timestamptz, r.settled::timestamptz," \
	" r.start_bal::numeric, r.end_bal::numeric, r.total::numeric, s.currency, r.updated::timestamptz, r.raw," \
	" pg_catalog.now(), NULL" \
	" FROM (SELECT DISTINCT ON (u.ext) u.* FROM ROWS FROM (pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::text[]), pg_catalog.unnest($5::text[]), pg_catalog.unnest($6::text[]), pg_catalog.unnest($7::text[]), pg_catalog.unnest($8::text[]), pg_catalog.unnest($9::text[]), pg_catalog.unnest($10::text[]), pg_catalog.unnest($11::jsonb[]))" \
	" AS u(ext, subscription, opened, closed, settled, start_bal, end_bal, total, updated, raw)" \
	" ORDER BY u.ext, u.updated::timestamptz DESC NULLS LAST) r" \
	PROBE_ALSO("s", "x.id, x.customer_id, x.currency", "subscriptions", "r.subscription", " AND x.currency IS NOT NULL") \
	" ON CONFLICT (source_id, external_id) DO UPDATE SET customer_id = excluded.customer_id," \
	" subscription_id = excluded.subscription_id, opened_at = excluded.opened_at, closed_at = excluded.closed_at," \
	" settled_at = excluded.settled_at, starting_balance = excluded.starting_balance," \
	" ending_balance = excluded.ending_balance, total = excluded.total, currency = excluded.currency," \
	" remote_updated_at = excluded.remote_updated_at, raw = excluded.raw, synced_at = excluded.synced_at, deleted_at = NULL" \
	NEWER_WHERE " RETURNING t.external_id, (t.xmax = 0)"

/* Statements of a page that SQL_STATEMENTS leaves out: no subscription, or one without a currency. */
#define SQL_STATEMENTS_UNMATCHED \
	"SELECT DISTINCT ON (u.ext) u.ext, u.subscription" \
	" FROM ROWS FROM (pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::text[])) AS u(ext, subscription)" \
	" WHERE NOT EXISTS (SELECT 1 FROM billing.subscriptions s WHERE s.source_id = $1" \
	" AND s.external_id = u.subscription AND s.currency IS NOT NULL) ORDER BY u.ext"

#define SQL_MARK_SEEN \
	"INSERT INTO billing._sync_seen (source_id, entity, external_id)" \
	" SELECT $1, $2, u.x FROM pg_catalog.unnest($3::text[]) AS u(x) ON CONFLICT DO NOTHING"

#define SQL_CLEAR_SEEN "DELETE FROM billing._sync_seen WHERE source_id = $1 AND entity = $2"

/*
 * The checkpoint, built as jsonb from typed values: {"since"} settled, or where a pass stands. An
 * id_cursor entity's adds "after_id" (settled: the greatest id listed), and in a pass "run_after"
 * (its lower bound) and "max_id"; strings of digits, present only when set, so the checkpoints of
 * other entities keep their shape.
 */
#define SQL_CHECKPOINT \
	"INSERT INTO billing._sync_state AS t (source_id, entity, cursor, updated_at)" \
	" VALUES ($1, $2, CASE WHEN $4 THEN pg_catalog.jsonb_build_object('since', $3, 'run_since', $5, 'page', $6," \
	" 'max_seen', $7, 'date0', $8, 'reconcile', $9, 'verify', $10, 'parent', $11)" \
	"  OPERATOR(pg_catalog.||) pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object('after_id', $12," \
	"   'run_after', $13, 'max_id', $14))" \
	" ELSE pg_catalog.jsonb_build_object('since', $3)" \
	"  OPERATOR(pg_catalog.||) pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object('after_id', $12)) END," \
	" pg_catalog.now())" \
	" ON CONFLICT (source_id, entity) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at"

/*
 * A checkpoint read with every field type-checked: (valid, since, in pass, page, run_since,
 * max_seen, date0, reconcile, verify, parent, after_id, run_after, max_id). Only what SQL_CHECKPOINT
 * writes is valid (a checkpoint from before the id cursor has no after_id: still valid); the
 * numbers are cast only once valid says they are whole numbers in range.
 */
#define CP_INT(f, re) \
	" AND pg_catalog.jsonb_typeof(c.v->'" f "') OPERATOR(pg_catalog.=) 'number'" \
	" AND (c.v->>'" f "') OPERATOR(pg_catalog.~) '" re "'"
#define CP_BOOL(f) \
	" AND coalesce(pg_catalog.jsonb_typeof(c.v->'" f "'), 'boolean') OPERATOR(pg_catalog.=) 'boolean'"
#define CP_ID(f) \
	" AND (coalesce(pg_catalog.jsonb_typeof(c.v->'" f "'), 'null') OPERATOR(pg_catalog.=) 'null'" \
	"  OR (pg_catalog.jsonb_typeof(c.v->'" f "') OPERATOR(pg_catalog.=) 'string'" \
	"   AND (c.v->>'" f "') OPERATOR(pg_catalog.~) '^[0-9]{1,20}$'))"
#define SQL_READ_CHECKPOINT \
	"SELECT ok.valid, CASE WHEN ok.valid THEN c.v->>'since' END, ok.valid AND c.v ? 'page'," \
	" CASE WHEN ok.valid AND c.v ? 'page' THEN (c.v->>'page')::bigint END," \
	" CASE WHEN ok.valid AND c.v ? 'page' THEN (c.v->>'run_since')::bigint END," \
	" CASE WHEN ok.valid AND c.v ? 'page' THEN (c.v->>'max_seen')::bigint END," \
	" CASE WHEN ok.valid AND c.v ? 'page' THEN (c.v->>'date0')::bigint END," \
	" CASE WHEN ok.valid AND c.v ? 'page' THEN coalesce((c.v->>'reconcile')::boolean, false) END," \
	" CASE WHEN ok.valid AND c.v ? 'page' THEN coalesce((c.v->>'verify')::boolean, false) END," \
	" CASE WHEN ok.valid AND c.v ? 'page' THEN c.v->>'parent' END," \
	" CASE WHEN ok.valid THEN c.v->>'after_id' END," \
	" CASE WHEN ok.valid AND c.v ? 'page' THEN c.v->>'run_after' END," \
	" CASE WHEN ok.valid AND c.v ? 'page' THEN c.v->>'max_id' END" \
	" FROM billing._sync_state s, LATERAL (SELECT s.cursor) c(v), LATERAL (SELECT" \
	" pg_catalog.jsonb_typeof(c.v) OPERATOR(pg_catalog.=) 'object'" \
	" AND (coalesce(pg_catalog.jsonb_typeof(c.v->'since'), 'null') OPERATOR(pg_catalog.=) 'null'" \
	"  OR (pg_catalog.jsonb_typeof(c.v->'since') OPERATOR(pg_catalog.=) 'string'" \
	"   AND (c.v->>'since') OPERATOR(pg_catalog.~) '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$'))" \
	CP_ID("after_id") CP_ID("run_after") CP_ID("max_id") \
	" AND (NOT c.v ? 'page' OR (true" CP_INT("page", "^[0-9]{1,9}$") CP_INT("run_since", "^-?[0-9]{1,15}$") \
	CP_INT("max_seen", "^-?[0-9]{1,15}$") CP_INT("date0", "^-?[0-9]{1,15}$") CP_BOOL("reconcile") CP_BOOL("verify") \
	" AND (coalesce(pg_catalog.jsonb_typeof(c.v->'parent'), 'null') OPERATOR(pg_catalog.=) 'null'" \
	"  OR (pg_catalog.jsonb_typeof(c.v->'parent') OPERATOR(pg_catalog.=) 'string'" \
	"   AND pg_catalog.length(c.v->>'parent') OPERATOR(pg_catalog.<=) 200))" "))" \
	" AS valid) ok WHERE s.source_id = $1 AND s.entity = $2"

#define SQL_MARK_RECONCILE "UPDATE billing.sync_runs SET full_reconcile = true WHERE id = $1"

#define SQL_PROGRESS \
	"UPDATE billing.sync_runs SET current_entity = $2, current_page = $3," \
	" pages = pages + (CASE WHEN $9 THEN 1 ELSE 0 END), requests = $4," \
	" records_inserted = records_inserted + $5, records_updated = records_updated + $6," \
	" records_unchanged = records_unchanged + $7, records_deleted = records_deleted + $8," \
	" records_skipped = records_skipped + $10," \
	" warnings = CASE WHEN $11 IS NULL THEN warnings ELSE pg_catalog.concat_ws(E'\\n', warnings, $11) END," \
	" store_time = coalesce(store_time, interval '0') + $12 * interval '1 microsecond'" \
	" WHERE id = $1"

#endif
