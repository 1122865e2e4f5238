# Crash safety: the server is killed with SIGKILL at random points of a sync (the whole server at
# once, or only the sync worker, which makes the postmaster reset every process), restarted, and
# the sync left to finish. Then the synced tables must equal the vendor's records: 0 lost, 0
# written twice, 0 half-applied pages, every killed run marked interrupted, counters consistent.
#
# Part 1 runs with the stand-in connector (standin_sync.sql: a vendor in a table, many small pages).
# Part 2 runs the same kills against the Advanced Billing connector and the fake vendor API (it
# needs pgb_test.maxio_url from PGB_TEST_CONF) and compares with a clean sync of the same API.
use strict;
use warnings;
use lib "$ENV{PGB_SRC}/test/tap";
use PgbTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $seed = $ENV{PGB_SEED} // int(time);
srand($seed);
note "random seed $seed (PGB_SEED reproduces it)";

my $conf = $ENV{PGB_TEST_CONF} // '';
my $node = pgb_node('crash', conf => "$conf\n");
my $db   = 'billing';

# Kills the server (even rounds) or the sync worker (odd rounds) once $progress_sql reaches
# $threshold, and brings it back. Returns true when a kill happened.
sub kill_at
{
	my ($round, $progress_sql, $threshold) = @_;
	pgb_wait($node, $db, "SELECT ($progress_sql) >= $threshold") or return 0;
	usleep(int(rand(30_000)));    # somewhere inside the next page
	if ($round % 2 == 0)
	{
		pgb_kill_server($node);
		pgb_restart_after_kill($node) or BAIL_OUT('server did not start after SIGKILL');
		return 1;
	}
	my $launcher = pgb_worker_pid($node, 'launcher');
	my $sync     = pgb_worker_pid($node, 'sync');
	return 0 if $sync eq '';
	pgb_kill_backend($node, $sync);
	pgb_wait($node, 'postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_billing launcher' AND pid <> $launcher")
	  or BAIL_OUT('server did not come back after a worker was killed');
	return 1;
}

# ---- Part 1: stand-in connector, 4000 records in pages of 50 --------------------------------------
my ($records, $per_page) = (4000, 50);
my $pages = $records / $per_page;
pgb_install_standin($node, $db, $records);
my $src = pgb_query($node, $db,
	qq{SELECT billing.add_source('vendor', 'manual', options => '{"per_page": $per_page, "delay": 0.03}')});
pgb_query($node, $db, "SELECT billing.request_sync('vendor')");

my $kills = 0;
my $done_page = 0;
for my $round (0 .. 5)
{
	# strictly past the last kill, so that a run was running (and committing) when the kill came,
	# and well before the end, as polling lags a few pages behind the sync
	my $threshold = $done_page + 1 + int(rand(3));
	last if $threshold > $pages - 12;
	$kills += kill_at($round, 'SELECT coalesce(max(page), 0) FROM pgb_fake.applied', $threshold);
	$done_page = pgb_query($node, $db, 'SELECT coalesce(max(page), 0) FROM pgb_fake.applied');
}
ok(pgb_wait($node, $db,
	"SELECT count(*) = 1 FROM billing.sync_runs WHERE source_id = $src AND status = 'succeeded'"),
	'the sync finished after the kills');
note "report: stand-in connector: $kills SIGKILLs of the server survived";
note pgb_query($node, $db, "SELECT string_agg(format('run %s %s %s pages %s..%s %s', r.id, r.trigger, r.status, (SELECT min(page) FROM pgb_fake.applied a WHERE a.run_id = r.id), (SELECT max(page) FROM pgb_fake.applied a WHERE a.run_id = r.id), r.error), E'\n' ORDER BY r.id) FROM billing.sync_runs r");
cmp_ok($kills, '>=', 4, 'at least four kills happened mid-sync');

is(pgb_query($node, $db, "SELECT count(*) FROM pgb_fake.vendor v LEFT JOIN pgb_fake.synced s ON s.source_id = $src AND s.id = v.id AND s.payload = v.payload WHERE s.id IS NULL"),
	'0', '0 records lost or different from the vendor');
is(pgb_query($node, $db, "SELECT count(*) FROM pgb_fake.synced WHERE source_id = $src"), $records, 'exactly the vendor\'s records are stored');
is(pgb_query($node, $db, "SELECT count(*) - count(DISTINCT id) FROM pgb_fake.applied WHERE source_id = $src"),
	'0', '0 records written twice by committed pages');
is(pgb_query($node, $db, "SELECT count(*) FROM (SELECT page FROM pgb_fake.applied WHERE source_id = $src GROUP BY page HAVING count(*) <> $per_page OR count(DISTINCT run_id) <> 1) p"),
	'0', '0 half-applied pages: every page committed whole, by exactly one run');
is(pgb_query($node, $db, "SELECT count(DISTINCT page) FROM pgb_fake.applied WHERE source_id = $src"), $pages, "all $pages pages applied");
is(pgb_query($node, $db, "SELECT count(*) FROM billing.sync_runs WHERE source_id = $src AND status = 'interrupted'"),
	$kills, 'every kill left exactly one interrupted run');
is(pgb_query($node, $db, "SELECT count(*) FROM billing.sync_runs WHERE source_id = $src AND status = 'interrupted' AND error <> 'interrupted: the server stopped during the run'"),
	'0', 'interrupted runs say the server stopped');
is(pgb_query($node, $db, "SELECT sum(records_inserted) || '/' || sum(pages) FROM billing.sync_runs WHERE source_id = $src"),
	"$records/$pages", 'run counters add up to the records and pages committed');
is(pgb_query($node, $db, "SELECT count(*) FROM billing.sync_runs WHERE status IN ('queued', 'running')"), '0', 'no run left open');

# ---- Part 2: the Advanced Billing connector against the fake vendor API ---------------------------
SKIP:
{
	my $url = pgb_query($node, $db, "SELECT coalesce(current_setting('pgb_test.maxio_url', true), '')");
	skip 'the fake vendor API is not running (no pgb_test.maxio_url in PGB_TEST_CONF)', 5 if $url eq '';
	# a fresh database tells whether this tree has the connector (the stand-in replaced it here)
	$node->safe_psql('postgres', 'CREATE DATABASE reference');
	$node->safe_psql('reference', 'CREATE EXTENSION pg_billing');
	my $connector = pgb_query($node, 'reference',
		"SELECT to_regprocedure('billing._sync_connector(bigint)') IS NOT NULL");
	skip 'the Advanced Billing connector is not in this tree', 5 if $connector ne 't';

	$node->safe_psql($db, 'DROP EXTENSION pg_billing CASCADE');
	$node->safe_psql($db, 'DROP SCHEMA pgb_fake CASCADE');
	$node->safe_psql($db, 'CREATE EXTENSION pg_billing');
	for my $d ($db, 'reference')
	{
		$node->safe_psql($d, q{SELECT billing.set_setting('sync_retry_base', '1 second'), billing.set_setting('sync_retry_max', '2 seconds')});
		# 3000 invoices (9000 lines) with 150 customers and 300 subscriptions, 100 ms per answer
		$node->safe_psql($d, q{SELECT billing.add_source('maxio', 'advanced_billing',
		                                                 current_setting('pgb_test.maxio_url') || '/s/bench3000-crash_d100',
		                                                 jsonb_build_object('api_key', 'crash-test-key'),
		                                                 '{"per_page": 100, "components": false, "max_requests_per_second": 100}')});
	}
	pgb_wait($node, $db, q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_billing scheduler'});

	# the reference: one clean sync of the same API in another database, in this session
	$node->safe_psql('reference', q{CALL billing.sync('maxio')});
	my $total = pgb_query($node, 'reference', 'SELECT sum(pages) FROM billing.sync_runs');
	pgb_query($node, $db, "SELECT billing.request_sync('maxio')");
	my ($kills, $mid) = (0, 0);
	my $last = 0;
	for my $round (0 .. 5)
	{
		my $threshold = $last + 1 + int(rand(2));
		last if $threshold >= $total - 1;
		# a kill counts as mid-sync when no run had succeeded just before it
		my $before = pgb_query($node, $db, q{SELECT count(*) = 0 FROM billing.sync_runs WHERE status = 'succeeded'});
		my $killed = kill_at($round, 'SELECT coalesce(sum(pages), 0) FROM billing.sync_runs', $threshold);
		$kills += $killed;
		$mid += $killed && $before eq 't' ? 1 : 0;
		$last = pgb_query($node, $db, 'SELECT coalesce(sum(pages), 0) FROM billing.sync_runs');
	}
	ok(pgb_wait($node, $db, "SELECT count(*) >= 1 FROM billing.sync_runs WHERE status = 'succeeded'"),
		'the connector\'s sync finished after the kills');
	note "report: Advanced Billing connector against the fake API: $kills SIGKILLs survived, $mid of them mid-sync ($total pages in a clean sync)";
	cmp_ok($mid, '>=', 3, 'at least three kills happened mid-sync');
	# every table with (source_id, external_id): the same records as the clean sync, once each
	my $tables = pgb_query($node, $db, q{SELECT string_agg(DISTINCT c.table_name, ' ')
	    FROM information_schema.columns c JOIN information_schema.columns k USING (table_schema, table_name)
	    JOIN pg_catalog.pg_class t ON t.relname = c.table_name AND t.relnamespace = 'billing'::regnamespace AND t.relkind = 'r'
	   WHERE c.table_schema = 'billing' AND c.column_name = 'external_id' AND k.column_name = 'source_id'
	     AND c.table_name NOT LIKE '\_%'});
	my ($diff, $dups) = (0, 0);
	# each record's id and its whole content as received (raw), so a half-written record differs too
	my %sig = map {
		$_ => "SELECT count(*) || ':' || md5(coalesce(string_agg(external_id::text || '=' || coalesce(raw::text, ''), ','
		       ORDER BY external_id::text), '')) FROM billing.$_"
	} split ' ', $tables;
	# lines belong to their document: compared by document, with their typed money and periods
	for my $doc ('invoice', 'credit_note')
	{
		$sig{"${doc}_lines"} = "SELECT count(*) || ':' || md5(coalesce(string_agg(concat_ws('|', d.external_id,
		       l.external_id, l.amount, l.currency, l.period_start, l.period_end, l.raw::text), ','
		       ORDER BY d.external_id, l.external_id), '')) FROM billing.${doc}_lines l JOIN billing.${doc}s d ON d.id = l.${doc}_id";
	}
	for my $t (sort keys %sig)
	{
		my ($a, $b) = (pgb_query($node, $db, $sig{$t}), pgb_query($node, 'reference', $sig{$t}));
		if ($a ne $b) { $diff++; diag "$t differs: $a (after kills) vs $b (clean)"; }
	}
	for my $t (split ' ', $tables)
	{
		$dups += pgb_query($node, $db, "SELECT count(*) - count(DISTINCT (source_id, external_id)) FROM billing.$t");
	}
	note 'compared: ' . join(', ', map { "$_ " . (split /:/, pgb_query($node, 'reference', $sig{$_}))[0] } sort keys %sig);
	is($diff, 0, 'every synced table and the invoice and credit note lines hold the same records, with the same'
		. ' content, as a clean sync: 0 lost, 0 extra, 0 half-written');
	is($dups, 0, '0 records stored twice');
	cmp_ok(pgb_query($node, $db, "SELECT count(*) FROM billing.sync_runs WHERE status = 'interrupted'"), '>=', $mid,
		'every mid-sync kill left an interrupted run');
}

$node->stop;
done_testing();
