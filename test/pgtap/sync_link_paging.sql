-- LINK paging (src/sync/paging.c) with the test-only connectors test_link (RFC 8288 Link headers)
-- and test_link_body (a "next" URL in the body), bearer auth from an OAuth2 client-credentials
-- grant, against test/fake/link_fake.py: every page read; a next link to another host or scheme
-- refused before any request; a next link back to the same page or the one before stops the run;
-- a run that failed mid-list resumes by following the links again. Also: a source whose kind has
-- no connector is refused with a clear error.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
\ir lib/helpers.sql

-- The test kinds are not in billing.sources' kind CHECK: only this throwaway database drops it.
ALTER TABLE billing.sources DROP CONSTRAINT sources_kind_known;

CREATE FUNCTION pg_temp.lk(name text, scenario text, kind text DEFAULT 'test_link') RETURNS bigint LANGUAGE sql AS $$
    SELECT billing.add_source(name, kind,
        current_setting('pgb_test.link_url') || '/s/' || scenario || '/api' || CASE WHEN kind = 'test_link_body' THEN '/body' ELSE '' END,
        '{"client_id": "link-client", "client_secret": "link-secret"}',
        jsonb_build_object('per_page', 3, 'reconcile_every', 0,
                           'token_url', current_setting('pgb_test.link_url') || '/s/' || scenario || '/oauth/token'))
$$;
-- The fake's log of a scenario: status, method and path (below the scenario) of each request.
CREATE FUNCTION pg_temp.log(scenario text) RETURNS TABLE (n bigint, status int, method text, path text) LANGUAGE sql AS $$
    SELECT l.n, split_part(l.x, ' ', 1)::int, split_part(l.x, ' ', 2), split_part(l.x, ' ', 3)
    FROM regexp_split_to_table(pg_read_file(current_setting('pgb_test.fake_dir') || '/link_logs/' || scenario || '.log'), E'\n')
         WITH ORDINALITY AS l(x, n)
    WHERE l.x <> ''
$$;
CREATE FUNCTION pg_temp.customers(src text) RETURNS TABLE (external_id text, name text, email text) LANGUAGE sql AS $$
    SELECT c.external_id, c.name, c.email FROM billing.customers c
    WHERE c.source_id = billing._source_id(src) ORDER BY c.external_id
$$;

SELECT plan(19);

-- 1. Link headers: page 1 by the limit, then the opaque cursors the pages name (an absolute URL,
-- then an absolute path), skipping rel="prev" and rel="last" links and a comma in a quoted title.
SELECT pg_temp.lk('ok', 'ok-l1') \gset
CALL billing.sync('ok');
SELECT results_eq($$SELECT status, records_inserted, pages, requests, error FROM pg_temp.last('ok')$$,
                  $$VALUES ('succeeded', 7::bigint, 3::bigint, 4::bigint, NULL::text)$$,
                  'Link paging: 7 customers in 3 pages, 1 token and 3 page requests');
SELECT results_eq($$SELECT status, method, path FROM pg_temp.log('ok-l1') ORDER BY n$$,
                  $$VALUES (200, 'POST', 'oauth/token'),
                           (200, 'GET', 'api/customers?limit=3'),
                           (200, 'GET', 'api/customers?cursor=p2&limit=3'),
                           (200, 'GET', 'api/customers?cursor=p3&limit=3')$$,
                  'each next page is the URL the page before named; the last page names none');
SELECT results_eq($$SELECT * FROM pg_temp.customers('ok')$$,
                  $$VALUES ('c1', 'Customer 1', 'c1@example.test'), ('c2', 'Customer 2', NULL), ('c3', 'Customer 3', 'c3@example.test'),
                           ('c4', 'Customer 4', NULL), ('c5', 'Customer 5', 'c5@example.test'), ('c6', 'Customer 6', NULL),
                           ('c7', 'Customer 7', 'c7@example.test')$$,
                  'every record of every page is stored');

-- 2. The body variant: {"items": [...], "next": URL or null}.
SELECT pg_temp.lk('body', 'ok-b1', 'test_link_body') \gset
CALL billing.sync('body');
SELECT results_eq($$SELECT status, records_inserted, pages, requests FROM pg_temp.last('body')$$,
                  $$VALUES ('succeeded', 7::bigint, 3::bigint, 4::bigint)$$,
                  'body next: 7 customers in 3 pages');
SELECT results_eq($$SELECT path FROM pg_temp.log('ok-b1') WHERE method = 'GET' ORDER BY n$$,
                  $$VALUES ('api/body/customers?limit=3'), ('api/body/customers?cursor=p2&limit=3'),
                           ('api/body/customers?cursor=p3&limit=3')$$,
                  'body next: the pages the bodies named, to the one whose next is null');

-- 3. A next link to another host: refused before any request to it; page 1 stays stored.
SELECT pg_temp.lk('hostile', 'hostile-h1') \gset
CALL pg_temp.run('hostile');
SELECT results_eq($$SELECT status, error, error_context FROM pg_temp.last('hostile')$$,
                  $$VALUES ('failed', 'the next link of page 1 leaves the source''s base_url, run stopped',
                            'source "hostile", entity customers, page 1')$$,
                  'a next link to another host fails the run with a clear error and its location');
SELECT alike((pg_temp.last('hostile')).error_detail,
            'The link names https://169.254.169.254:443; a next link must keep the scheme, host and port of the base_url (https://127.0.0.1:%',
            'the detail names the refused origin and the allowed one');
SELECT results_eq($$SELECT count(*) FROM pg_temp.log('hostile-h1') WHERE method = 'GET'$$, $$VALUES (1::bigint)$$,
                  'only page 1 was requested');
SELECT is((SELECT count(*) FROM billing.customers WHERE source_id = billing._source_id('hostile')), 0::bigint,
          'the page with the hostile link is not committed (its step failed as a whole)');

-- 4. The same host and port over plain http: another scheme, refused as well.
SELECT pg_temp.lk('scheme', 'scheme-s1') \gset
CALL pg_temp.run('scheme');
SELECT results_eq($$SELECT status, error FROM pg_temp.last('scheme')$$,
                  $$VALUES ('failed', 'the next link of page 1 leaves the source''s base_url, run stopped')$$,
                  'a next link to http:// on the same host and port is refused');

-- 5. Loops: a next link to the page itself, or back to the page before, stops the run.
SELECT pg_temp.lk('loop', 'loop-o1') \gset
CALL pg_temp.run('loop');
SELECT results_eq($$SELECT status, error, error_context FROM pg_temp.last('loop')$$,
                  $$VALUES ('failed', 'the next link of page 2 leads back to page 2, run stopped',
                            'source "loop", entity customers, page 2')$$,
                  'next = the same URL: the run stops at once');
SELECT results_eq($$SELECT count(*) FROM pg_temp.log('loop-o1') WHERE method = 'GET'$$, $$VALUES (2::bigint)$$,
                  'the looping page was requested once');
SELECT is((SELECT count(*) FROM billing.customers WHERE source_id = billing._source_id('loop')), 3::bigint,
          'page 1 stays committed');
SELECT pg_temp.lk('back', 'back-k1') \gset
CALL pg_temp.run('back');
SELECT results_eq($$SELECT status, error FROM pg_temp.last('back')$$,
                  $$VALUES ('failed', 'the next link of page 3 leads back to page 2, run stopped')$$,
                  'a next link back to the page before stops the run');

-- 6. A run that fails at page 3 (500 four times) keeps pages 1 and 2; the next run resumes at
-- page 3, reading pages 1 and 2 again for their next links only.
SELECT pg_temp.lk('resume', 'resume-r1') \gset
CALL pg_temp.run('resume');
SELECT results_eq($$SELECT status, pages, error_context FROM pg_temp.last('resume')$$,
                  $$VALUES ('failed', 2::bigint, 'source "resume", entity customers, page 3')$$,
                  'the first run fails at page 3 after committing pages 1 and 2');
SELECT is((SELECT count(*) FROM billing.customers WHERE source_id = billing._source_id('resume')), 6::bigint,
          'pages 1 and 2 are stored');
CALL billing.sync('resume');
SELECT results_eq($$SELECT status, records_inserted, pages FROM pg_temp.last('resume')$$,
                  $$VALUES ('succeeded', 1::bigint, 1::bigint)$$,
                  'the rerun resumes at page 3: one page, the last record');
SELECT results_eq($$SELECT status, path FROM pg_temp.log('resume-r1') WHERE method = 'GET' AND n > 7 ORDER BY n$$,
                  $$VALUES (200, 'api/customers?limit=3'), (200, 'api/customers?cursor=p2&limit=3'),
                           (200, 'api/customers?cursor=p3&limit=3')$$,
                  'the rerun follows the links of pages 1 and 2 again to reach page 3');

-- 7. A kind the sources CHECK would refuse and no connector serves: the run fails and says so.
INSERT INTO billing.sources (name, kind, base_url) VALUES ('nosuch', 'nosuch_vendor', 'https://example.invalid');
INSERT INTO billing._credentials (source_id, secret) VALUES (billing._source_id('nosuch'), '{}');
CALL pg_temp.run('nosuch');
SELECT results_eq($$SELECT status, error FROM pg_temp.last('nosuch')$$,
                  $$VALUES ('failed', 'source "nosuch": no connector for kind nosuch_vendor in this version')$$,
                  'a kind without a registered connector is refused with a clear error');

SELECT * FROM finish();
