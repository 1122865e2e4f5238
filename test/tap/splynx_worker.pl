# A splynx source run by the background workers (issue 12 item 4): a run asked for with
# billing.request_sync and a scheduled run both sync the fake Splynx (access tokens, limit/offset
# paging, id cursors) to success, with the same figures as the manual sync in splynx_sync.sql.
use strict;
use warnings;
use lib "$ENV{PGB_SRC}/test/tap";
use PgbTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $conf = $ENV{PGB_TEST_CONF} // '';
my ($url) = $conf =~ /pgb_test\.splynx_url = '([^']+)'/;
plan skip_all => 'the fake Splynx is not running (PGB_TEST_CONF has no pgb_test.splynx_url)'
  unless $url && $url !~ /:1$/;

my $node = pgb_node('splynxworker', conf => "$conf\n");
my $db   = 'billing';
my $site = 'ok-w' . int(rand(1e9));
$node->safe_psql($db, qq{SELECT billing.add_source('isp', 'splynx', '$url/s/$site/api/2.0',
    '{"api_key": "splynx-key", "api_secret": "splynx-secret"}',
    '{"currency": "EUR", "per_page": 2, "max_requests_per_second": 200}')});

# ---- a requested run
my $run = pgb_query($node, $db, q{SELECT billing.request_sync('isp')});
ok(pgb_wait($node, $db, "SELECT status IN ('succeeded', 'failed') FROM billing.sync_runs WHERE id = $run"),
	'the requested run ended');
is(pgb_query($node, $db, "SELECT status || ' ' || trigger || ' ' || records_inserted || ' ' || coalesce(error, '-')
    FROM billing.sync_runs WHERE id = $run"), 'succeeded request 13 -', 'a worker ran it: 13 records inserted');
is(pgb_query($node, $db, q{SELECT (SELECT count(*) FROM billing.customers) || ' ' || (SELECT count(*) FROM billing.invoices)
    || ' ' || (SELECT count(*) FROM billing.payments) || ' ' || (SELECT count(*) FROM billing.source_transactions)
    || ' ' || (SELECT sum(total) FROM billing.invoices WHERE status <> 'voided')}),
	'3 3 3 3 63.29', '3 customers, 3 invoices (36.00 + 27.29 and a voided one), 3 payments, 3 transactions');

# ---- a scheduled run: the schedule is due once the last run is a minute old
$node->safe_psql($db, qq{UPDATE billing.sources SET schedule = '1 minute' WHERE name = 'isp';
    UPDATE billing.sync_runs SET requested_at = requested_at - interval '61 seconds',
        started_at = started_at - interval '61 seconds', finished_at = finished_at - interval '61 seconds' WHERE id = $run;
    UPDATE billing.sources SET schedule = schedule WHERE name = 'isp'});
ok(pgb_wait($node, $db, q{SELECT count(*) >= 1 FROM billing.sync_runs r JOIN billing.sources s ON s.id = r.source_id
    WHERE s.name = 'isp' AND r.trigger = 'schedule' AND r.status IN ('succeeded', 'failed')}), 'the scheduled run ended');
is(pgb_query($node, $db, q{SELECT status || ' ' || records_inserted || ' ' || records_updated || ' ' || coalesce(error, '-')
    FROM billing.sync_runs r WHERE trigger = 'schedule' ORDER BY id LIMIT 1}),
	'succeeded 2 1 -', 'the scheduled run is incremental: payment 4 and transaction 4 new (above the id cursors), invoice 2 paid');
is(pgb_query($node, $db, q{SELECT string_agg(entity || '=' || (cursor->>'after_id'), ' ' ORDER BY entity) FROM billing._sync_state
    WHERE cursor ? 'after_id'}), 'payments=4 transactions=4', 'the id cursors moved to 4');
is(pgb_query($node, $db, q{SELECT count(*) FROM billing.alerts WHERE resolved_at IS NULL}), '0', 'no alert');

$node->stop;
done_testing();
