-- How an Advanced Billing source is set up, and what a misconfigured one says. Every case here
-- fails before any request is sent, so the test needs no network.
SET client_min_messages = warning;
-- Options are a JSON object; every one has a default (see the README section on syncing).
SELECT billing.add_source('cfg_http', 'advanced_billing', 'http://billing.example.com', '{"api_key": "not-a-real-key"}') > 0 AS added;
SELECT billing.add_source('cfg_per_page', 'advanced_billing', 'https://acme.chargify.com', '{"api_key": "not-a-real-key"}',
                          '{"per_page": 500}') > 0 AS added;
SELECT billing.add_source('cfg_overlap', 'advanced_billing', 'https://acme.chargify.com', '{"api_key": "not-a-real-key"}',
                          '{"overlap_seconds": -1}') > 0 AS added;
SELECT billing.add_source('cfg_entities', 'advanced_billing', 'https://acme.chargify.com', '{"api_key": "not-a-real-key"}',
                          '{"entities": ["customers", "invoice"]}') > 0 AS added;
SELECT billing.add_source('cfg_type', 'advanced_billing', 'https://acme.chargify.com', '{"api_key": "not-a-real-key"}',
                          '{"per_page": "many"}') > 0 AS added;
SELECT billing.add_source('cfg_typo', 'advanced_billing', 'https://acme.chargify.com', '{"api_key": "not-a-real-key"}',
                          '{"perpage": 100}') > 0 AS added;
-- a request rate too small or too large for the client (it would overflow the gap between requests)
SELECT billing.add_source('cfg_rate_tiny', 'advanced_billing', 'https://acme.chargify.com', '{"api_key": "not-a-real-key"}',
                          '{"max_requests_per_second": 1e-300}') > 0 AS added;
SELECT billing.add_source('cfg_rate_big', 'advanced_billing', 'https://acme.chargify.com', '{"api_key": "not-a-real-key"}',
                          '{"max_requests_per_second": 10001}') > 0 AS added;
SELECT billing.add_source('cfg_unseen', 'advanced_billing', 'https://acme.chargify.com', '{"api_key": "not-a-real-key"}',
                          '{"reconcile_max_unseen": -5}') > 0 AS added;
SELECT billing.add_source('cfg_xero', 'xero', 'https://api.xero.com', '{"client_id": "a", "client_secret": "b"}') > 0 AS added;
-- a source without an api_key is refused when it is added, naming only the missing field
SELECT billing.add_source('cfg_nokey', 'advanced_billing', 'https://acme.chargify.com', '{"apikey": "typo"}');
-- a run per source: billing._sync_run records how each ended and never raises
SELECT billing._start_run(id, 'manual') IS NOT NULL AS started FROM billing.sources WHERE name LIKE 'cfg\_%' ORDER BY id;
SELECT r.id AS run FROM billing.sync_runs r JOIN billing.sources s ON s.id = r.source_id WHERE s.name = 'cfg_http' \gset
CALL billing._sync_run(:run);
SELECT r.id AS run FROM billing.sync_runs r JOIN billing.sources s ON s.id = r.source_id WHERE s.name = 'cfg_per_page' \gset
CALL billing._sync_run(:run);
SELECT r.id AS run FROM billing.sync_runs r JOIN billing.sources s ON s.id = r.source_id WHERE s.name = 'cfg_overlap' \gset
CALL billing._sync_run(:run);
SELECT r.id AS run FROM billing.sync_runs r JOIN billing.sources s ON s.id = r.source_id WHERE s.name = 'cfg_entities' \gset
CALL billing._sync_run(:run);
SELECT r.id AS run FROM billing.sync_runs r JOIN billing.sources s ON s.id = r.source_id WHERE s.name = 'cfg_type' \gset
CALL billing._sync_run(:run);
SELECT r.id AS run FROM billing.sync_runs r JOIN billing.sources s ON s.id = r.source_id WHERE s.name = 'cfg_typo' \gset
CALL billing._sync_run(:run);
SELECT r.id AS run FROM billing.sync_runs r JOIN billing.sources s ON s.id = r.source_id WHERE s.name = 'cfg_xero' \gset
CALL billing._sync_run(:run);
SELECT r.id AS run FROM billing.sync_runs r JOIN billing.sources s ON s.id = r.source_id WHERE s.name = 'cfg_rate_tiny' \gset
CALL billing._sync_run(:run);
SELECT r.id AS run FROM billing.sync_runs r JOIN billing.sources s ON s.id = r.source_id WHERE s.name = 'cfg_rate_big' \gset
CALL billing._sync_run(:run);
SELECT r.id AS run FROM billing.sync_runs r JOIN billing.sources s ON s.id = r.source_id WHERE s.name = 'cfg_unseen' \gset
CALL billing._sync_run(:run);
SELECT s.name, r.status, r.requests, r.pages, r.error
FROM billing.sync_runs r JOIN billing.sources s ON s.id = r.source_id WHERE s.name LIKE 'cfg\_%' ORDER BY s.name;
SELECT s.name, r.error_detail
FROM billing.sync_runs r JOIN billing.sources s ON s.id = r.source_id WHERE s.name IN ('cfg_http', 'cfg_type', 'cfg_rate_tiny') ORDER BY s.name;
-- a sync commits page by page, so it cannot run inside a transaction block
BEGIN;
CALL billing.sync('cfg_http');
ROLLBACK;
-- nothing was stored and no checkpoint moved
SELECT count(*) AS checkpoints FROM billing._sync_state;
SELECT count(*) AS customers FROM billing.customers;
