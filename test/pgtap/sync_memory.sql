-- A sync's memory does not grow with the number of pages (issue 13, item 5). The sync holds one
-- SPI connection for its whole run, and SPI keeps the result of every statement that returns rows
-- (an SPITupleTable, a memory context of its own) until the connection ends: one per page (the
-- invoice upsert's RETURNING rows) piled up over the run. The store frees each result once read.
-- Seen from inside the syncing backend: a trigger on billing.sync_runs, fired by the progress row
-- the sync writes after every page, records the backend's memory contexts
-- (pg_backend_memory_contexts) at that moment. It also raises notices, as a trigger or a function a
-- sync runs may: each report runs the sync's error context callback, which kept a copy of every
-- report's location in the run's context and left its text in ErrorContext, until the run ended.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

CREATE TABLE public.mem_samples (
    n           serial PRIMARY KEY,
    entity      text,
    page        bigint,
    tuptables   int,        -- 'SPI TupTable' contexts alive in the backend
    spi_bytes   bigint,     -- their bytes
    run_bytes   bigint,     -- the sync's run context ('pg_billing sync run', without its per-page child)
    error_bytes bigint      -- ErrorContext
);

CREATE FUNCTION public.mem_sample() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..50 LOOP
        RAISE NOTICE 'sample %', i;
    END LOOP;
    INSERT INTO public.mem_samples (entity, page, tuptables, spi_bytes, run_bytes, error_bytes)
    SELECT NEW.current_entity, NEW.current_page,
           count(*) FILTER (WHERE c.name = 'SPI TupTable'),
           coalesce(sum(c.total_bytes) FILTER (WHERE c.name = 'SPI TupTable'), 0),
           coalesce(sum(c.total_bytes) FILTER (WHERE c.name = 'pg_billing sync run'), 0),
           coalesce(sum(c.total_bytes) FILTER (WHERE c.name = 'ErrorContext'), 0)
    FROM pg_catalog.pg_backend_memory_contexts c;
    RETURN NULL;
END $$;

-- every progress row the sync writes (one per page and per entity's start)
CREATE TRIGGER mem_sample AFTER UPDATE OF current_page ON billing.sync_runs
    FOR EACH ROW WHEN (NEW.status = 'running') EXECUTE FUNCTION public.mem_sample();

-- the fake's generated site: 200 invoices (10 customers, 20 subscriptions), 10 a page
SELECT billing.add_source('mem', 'advanced_billing', current_setting('pgb_test.maxio_url') || '/s/bench200-mem1',
    jsonb_build_object('api_key', pg_read_file(current_setting('pgb_test.fake_dir') || '/canary.key')),
    '{"per_page": 10, "components": false, "max_requests_per_second": 0}') AS source_id \gset

SELECT plan(7);

-- the notices go to the server's log (each one runs the error context callbacks), not to the client
SET log_min_messages = notice;
CALL billing.sync('mem');
RESET log_min_messages;

SELECT results_eq($$SELECT status, error, (SELECT count(*) FROM billing.invoices) FROM billing.sync_runs$$,
                  $$VALUES ('succeeded', NULL::text, 200::bigint)$$,
                  'the sync stored the 200 invoices');
SELECT is((SELECT count(*) FROM public.mem_samples WHERE entity = 'invoices' AND page > 0), 21::bigint,
          'one sample after each of the 21 pages of invoices (20 full, then an empty one)');

-- Before the fix: one more table per page of invoices (+19 by the last), ~30 kB each.
SELECT is((SELECT max(tuptables) - min(tuptables) FROM public.mem_samples WHERE entity = 'invoices' AND page > 0), 0,
          'as many SPI result tables are alive after the 21st page of invoices as after the 1st');
SELECT cmp_ok((SELECT max(tuptables) FROM public.mem_samples), '<=', 3,
              'at most 3 SPI result tables alive at any page (the trigger''s own and the store''s last)');
SELECT is((SELECT (max(spi_bytes) - min(spi_bytes))::bigint FROM public.mem_samples WHERE entity = 'invoices' AND page > 0), 0::bigint,
          'their bytes do not grow from page to page');
-- the per-page context is reset between pages; the run's context holds the run's state only
SELECT is((SELECT (max(run_bytes) - min(run_bytes))::bigint FROM public.mem_samples WHERE entity = 'invoices' AND page > 0), 0::bigint,
          'the run''s context does not grow from page to page, 50 notices a page notwithstanding');
SELECT is((SELECT (max(error_bytes) - min(error_bytes))::bigint FROM public.mem_samples WHERE entity = 'invoices' AND page > 0), 0::bigint,
          'nor does ErrorContext');

SELECT * FROM finish();
