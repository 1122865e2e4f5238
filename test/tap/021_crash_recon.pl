# Crash safety of the Pax8 and ConnectWise syncs (issue 10): as 020_crash.pl does for Advanced
# Billing, the server (even rounds) or the sync worker (odd rounds) is killed with SIGKILL while a
# worker syncs the fake API, the server comes back and the scheduler retries the interrupted run
# until it succeeds. Then every synced table must hold what a clean sync of the same API holds in
# another database (same records, same content: nothing lost, nothing half-written, nothing twice),
# and the credentials (the suite's canary, read from a file inside the server) must be in no log.
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
my $node = pgb_node('crash_recon', conf => "$conf\n");
my $db   = 'billing';

# the fakes run when PGB_TEST_CONF names them (test/fake/start.sh); an unstarted one has port 1
my $pax8 = pgb_query($node, $db, "SELECT coalesce(current_setting('pgb_test.pax8_url', true), '')");
my $cw   = pgb_query($node, $db, "SELECT coalesce(current_setting('pgb_test.connectwise_url', true), '')");
plan skip_all => 'the fake Pax8 and ConnectWise APIs are not running (PGB_TEST_CONF)'
  if $pax8 eq '' || $pax8 =~ /:1$/ || $cw eq '' || $cw =~ /:1$/;

$node->safe_psql('postgres', 'CREATE DATABASE reference');
$node->safe_psql('reference', 'CREATE EXTENSION pg_billing');

# The sources, one page per record and a few requests a second, so that kills land mid-sync. The
# secrets are read from the canary file inside the server: no statement holds them.
sub add_sources
{
	my ($d, $nonce) = @_;
	$node->safe_psql($d, qq{SELECT billing.add_source('p8', 'pax8',
	    current_setting('pgb_test.pax8_url') || '/s/ok-$nonce/v1',
	    jsonb_build_object('client_id', 'pax8-client',
	                       'client_secret', pg_read_file(current_setting('pgb_test.fake_dir') || '/canary.key')),
	    jsonb_build_object('per_page', 1, 'max_requests_per_second', 4, 'reconcile_every', 0,
	                       'token_url', current_setting('pgb_test.pax8_url') || '/s/ok-$nonce/oauth/token'))});
	$node->safe_psql($d, qq{SELECT billing.add_source('cw', 'connectwise',
	    current_setting('pgb_test.connectwise_url') || '/s/ok-$nonce',
	    jsonb_build_object('company_id', 'acme', 'public_key', 'pub-$nonce', 'client_id', 'client-$nonce',
	                       'private_key', pg_read_file(current_setting('pgb_test.fake_dir') || '/canary.key')),
	    '{"per_page": 1, "max_requests_per_second": 4, "reconcile_every": 0}')});
}
add_sources($db, "crash$seed");
add_sources('reference', "clean$seed");
$node->safe_psql('reference', q{SELECT billing.set_setting('sync_retry_base', '1 second'), billing.set_setting('sync_retry_max', '2 seconds')});

# Kills the server (even rounds) or the sync worker (odd rounds) once $progress_sql reaches
# $threshold, and brings it back. Returns true when a kill happened.
sub kill_at
{
	my ($round, $progress_sql, $threshold) = @_;
	pgb_wait($node, $db, "SELECT ($progress_sql) >= $threshold") or return 0;
	usleep(int(rand(150_000)));    # somewhere inside the next page
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

# Every table of the source with (source_id, external_id): count and md5 of each record's id and
# whole content as received (raw); lines by their document, with their typed money and periods.
sub signatures
{
	my ($d, $source) = @_;
	my $sid = pgb_query($node, $d, "SELECT billing._source_id('$source')");
	my $tables = pgb_query($node, $d, q{SELECT string_agg(DISTINCT c.table_name, ' ')
	    FROM information_schema.columns c JOIN information_schema.columns k USING (table_schema, table_name)
	    JOIN pg_catalog.pg_class t ON t.relname = c.table_name AND t.relnamespace = 'billing'::regnamespace AND t.relkind = 'r'
	   WHERE c.table_schema = 'billing' AND c.column_name = 'external_id' AND k.column_name = 'source_id'
	     AND c.table_name NOT LIKE '\_%'});
	my %sig;
	for my $t (split ' ', $tables)
	{
		$sig{$t} = pgb_query($node, $d, "SELECT count(*) || ':' || md5(coalesce(string_agg(external_id::text || '='
		    || coalesce(raw::text, ''), ',' ORDER BY external_id::text), '')) FROM billing.$t WHERE source_id = $sid");
	}
	$sig{invoice_lines} = pgb_query($node, $d, "SELECT count(*) || ':' || md5(coalesce(string_agg(concat_ws('|',
	    d.external_id, l.external_id, l.amount, l.cost, l.currency, l.period_start, l.period_end, l.raw::text), ','
	    ORDER BY d.external_id, l.external_id), '')) FROM billing.invoice_lines l JOIN billing.invoices d ON d.id = l.invoice_id
	    WHERE d.source_id = $sid");
	$sig{_dups} = pgb_query($node, $d, 'SELECT ' . join(' + ', map {
		"(SELECT count(*) - count(DISTINCT external_id) FROM billing.$_ WHERE source_id = $sid)" } split ' ', $tables));
	return %sig;
}

for my $source ('p8', 'cw')
{
	my $name = $source eq 'p8' ? 'Pax8' : 'ConnectWise';
	$node->safe_psql('reference', "CALL billing.sync('$source')");
	is(pgb_query($node, 'reference', "SELECT status FROM billing.sync_runs WHERE source_id = billing._source_id('$source')"),
		'succeeded', "$name: the clean reference sync succeeded");
	my $total = pgb_query($node, 'reference', "SELECT sum(pages) FROM billing.sync_runs WHERE source_id = billing._source_id('$source')");
	pgb_wait($node, $db, q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_billing scheduler'});
	pgb_query($node, $db, "SELECT billing.request_sync('$source')");
	my $pages = "SELECT coalesce(sum(pages), 0) FROM billing.sync_runs WHERE source_id = billing._source_id('$source')";
	my $succeeded = "SELECT count(*) FROM billing.sync_runs WHERE source_id = billing._source_id('$source') AND status = 'succeeded'";
	my ($kills, $mid, $last) = (0, 0, 0);
	for my $round (0 .. 5)
	{
		my $threshold = $last + 1 + int(rand(2));
		last if $threshold >= $total - 1;
		my $before = pgb_query($node, $db, $succeeded);
		my $killed = kill_at($round, $pages, $threshold);
		$kills += $killed;
		$mid += $killed && $before eq '0' ? 1 : 0;
		$last = pgb_query($node, $db, $pages);
	}
	ok(pgb_wait($node, $db, "SELECT ($succeeded) >= 1"), "$name: the sync finished after the kills");
	note "report: $name connector against the fake API: $kills SIGKILLs survived, $mid of them mid-sync ($total pages in a clean sync)";
	cmp_ok($mid, '>=', 2, "$name: at least two kills happened mid-sync");
	my %got  = signatures($db, $source);
	my %want = signatures('reference', $source);
	my $diff = 0;
	for my $t (sort keys %want)
	{
		next if $t eq '_dups';
		if (($got{$t} // '') ne $want{$t}) { $diff++; diag "$name: $t differs: $got{$t} (after kills) vs $want{$t} (clean)"; }
	}
	note "$name compared: " . join(', ', map { "$_ " . (split /:/, $want{$_})[0] } grep { $_ ne '_dups' } sort keys %want);
	is($diff, 0, "$name: every synced table holds the same records with the same content as a clean sync: 0 lost, 0 extra, 0 half-written");
	is($got{_dups}, '0', "$name: 0 records stored twice");
	cmp_ok(pgb_query($node, $db, "SELECT count(*) FROM billing.sync_runs WHERE source_id = billing._source_id('$source') AND status = 'interrupted'"),
		'>=', $mid, "$name: every mid-sync kill left an interrupted run");
	is(pgb_query($node, $db, "SELECT count(*) FROM billing.sync_runs WHERE source_id = billing._source_id('$source') AND status IN ('queued', 'running')"),
		'0', "$name: no run left open");
}

# No credential in the server log (the canary is the Pax8 client secret and the ConnectWise private key).
my $canary = slurp_file(pgb_query($node, $db, "SELECT current_setting('pgb_test.fake_dir')") . '/canary.key');
my $log = slurp_file($node->logfile);
ok(length($canary) > 20 && index($log, $canary) < 0, 'the credentials are in no line of the server log');

$node->stop;
done_testing();
