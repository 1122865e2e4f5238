-- Log injection (issue 9 item 7): text from outside (a vendor's record, a source name, a path)
-- with a newline must not start a line of its own in the server log. Every message raised by
-- pg_billing's C code is escaped on its way out (\n, \r, \t, \xHH), and a run's error is stored
-- escaped, so raising it again (CALL billing.sync) or showing it cannot forge a line either.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT plan(7);

SELECT is(billing._escape_control(E'a\nb\rc\td\x01e\x7ff'), 'a\nb\rc\td\x01e\x7ff', 'control characters are escaped');
SELECT is(billing._escape_control('plain text, "quoted", ünïcode'), 'plain text, "quoted", ünïcode', 'other text is unchanged');

-- a run's error quoting a vendor's text (as sync.c records it) is stored escaped
SELECT billing.add_source('inj', 'advanced_billing', 'https://10.9.9.9/s/x', '{"api_key": "k"}');
SELECT billing._start_run(billing._source_id('inj'), 'manual') AS r \gset
SELECT billing._finish_run(:r, E'source "inj": invoices page 1: record 7\nLOG:  forged run line', E'vendor said:\r\x1b[2J\nHint: retry.');
SELECT results_eq(format('SELECT error, error_detail FROM billing.sync_runs WHERE id = %s', :r),
          $$VALUES ('source "inj": invoices page 1: record 7\nLOG:  forged run line', E'vendor said:\\r\\x1b[2J\nHint: retry.')$$,
          'the stored error and detail have their control characters escaped (the detail keeps its line breaks between parts)');
SELECT is((SELECT count(*)::int FROM billing.sync_runs WHERE error ~ '[\x01-\x1f\x7f]' OR error_detail ~ '[\x01-\x09\x0b-\x1f\x7f]'), 0,
          'no stored error holds a control character, nor any detail but its line breaks');
SELECT throws_ok($$SELECT billing.add_source(E'evil\nLOG:  forged', 'manual')$$, '23514', NULL,
                 'a source name with a control character is refused');

-- a C error quoting outside text (here a path; a vendor's record id takes the same way), raised
-- at top level so that it is logged
\set ON_ERROR_STOP 0
SELECT billing.set_credentials_from_file('x', E'/nonexistent/pgb\nLOG:  forged_c_line_7f3a\r\x1b[31m');
\set ON_ERROR_STOP 1

CREATE TEMP TABLE server_log AS
SELECT pg_read_file(setting || '/../main.log') AS log FROM pg_settings WHERE name = 'data_directory';
SELECT ok((SELECT strpos(log, E'could not open credentials file "/nonexistent/pgb\\nLOG:  forged_c_line_7f3a\\r\\x1b[31m"') > 0 FROM server_log),
          'the C error is in the log with its control characters escaped');
SELECT is((SELECT count(*)::int FROM server_log, regexp_split_to_table(log, E'\n') AS line
            WHERE line ~ '^LOG:  forged_c_line_7f3a'), 0, 'and it starts no line of its own');
SELECT * FROM finish();
