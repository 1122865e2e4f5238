-- The demo book pushed to Xero (a local fake, test/fake/xero_fake.py): set-up as docs/push-xero.md
-- has it, the outbox before and after CALL billing.push, what Xero refused or holds. psql variables:
-- xero_url (the organisation's URL on the fake), tenant (its tenant id), since (the books' start).
\echo
\echo == Pushing the book to Xero (a local fake Xero organisation), invoices issued since :since
-- 1. the Xero organisation (a custom connection: client credentials)
SELECT billing.add_source('xero-books', 'xero', :'xero_url' || '/api.xro/2.0',
       credentials => '{"client_id": "demo-xero-client", "client_secret": "demo-xero-secret"}',
       options => jsonb_build_object('token_url', :'xero_url' || '/connect/token', 'tenant_id', :'tenant')) AS xero_id \gset
-- 2. the maps: sales and rounding accounts, one bank account for every payment method. No tax
--    map: "VAT 20%" is created in Xero by the push and remembered as a map.
INSERT INTO billing.accounting_maps (source_id, map_kind, local_key, remote_code, remote_name) VALUES
    (NULL, 'account', 'sales', '200', 'Sales'),
    (NULL, 'account', 'rounding', '860', 'Rounding'),
    (NULL, 'bank_account', '*', '090', 'Business Bank Account');
-- 3. the billing source pushes its invoices there (push_unit invoices: relationship invoicing;
--    see docs/demo.md), 4. the invoices since the books' start go into the outbox
UPDATE billing.sources SET options = options || '{"push_to": "xero-books", "push_unit": "invoices"}' WHERE name = 'demo-sandbox';
SELECT billing.push_enqueue('demo-sandbox', since => :'since') AS units_enqueued;

\echo == The outbox before the push (billing.outbox: one row per Xero document)
SELECT doc_kind, state, count(*) AS documents, sum(amount) AS amount
  FROM billing.outbox WHERE target_source_id = billing._source_id('xero-books') GROUP BY 1, 2 ORDER BY 1, 2;

\echo == CALL billing.push: batches of up to 50 documents, at most 5 requests in flight, within Xero limits
\timing on
CALL billing.push('xero-books');
\timing off
SELECT id, trigger, status, documents, confirmed, failed, lookups, requests, finished_at - started_at AS took, error
  FROM billing.push_runs ORDER BY id;

\echo == The outbox after the push
SELECT doc_kind, state, count(*) AS documents, sum(amount) AS amount, count(remote_id) AS with_xero_id
  FROM billing.outbox WHERE target_source_id = billing._source_id('xero-books') GROUP BY 1, 2 ORDER BY 1, 2;
SELECT doc_kind, natural_key, state, coalesce(held_for::text, last_error) AS why
  FROM billing.outbox WHERE target_source_id = billing._source_id('xero-books') AND state <> 'confirmed'
 ORDER BY doc_kind, natural_key LIMIT 10;
SELECT local_key AS tax_code, remote_code AS xero_tax_type FROM billing.accounting_maps WHERE map_kind = 'tax_rate';
SELECT kind, message FROM billing.alerts WHERE kind LIKE 'push%' AND resolved_at IS NULL ORDER BY kind, message;
