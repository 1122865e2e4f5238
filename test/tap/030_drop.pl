# The workers never stand in the way of DROP EXTENSION or DROP DATABASE, even mid-sync: the
# scheduler leaves when the extension goes (and comes back when it is created again), and leaves
# the database, stopping its sync workers, as soon as DROP DATABASE asks for it.
use strict;
use warnings;
use lib "$ENV{PGB_SRC}/test/tap";
use PgbTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = pgb_node('drop');
my $db   = 'billing';
my $scheduler = q{SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_billing scheduler')};


# ---- DROP EXTENSION mid-sync
ok(pgb_wait($node, $db, "$scheduler = 1"), 'the scheduler runs');
pgb_install_standin($node, $db, 5000);
pgb_query($node, $db, q{SELECT billing.add_source('long', 'manual', options => '{"per_page": 50, "delay": 0.05}')});
my $run = pgb_query($node, $db, q{SELECT billing.request_sync('long')});
ok(pgb_wait($node, $db, "SELECT page >= 2 FROM billing.sync_progress WHERE run_id = $run"), 'a sync is running');
my $t0 = time;
my ($rc, $out, $err) = $node->psql($db, q{SET lock_timeout = '20s'; DROP EXTENSION pg_billing CASCADE});
is($rc, 0, 'DROP EXTENSION succeeds while a sync runs') or diag $err;
note sprintf('DROP EXTENSION took %.2f s', time - $t0);
ok(pgb_wait($node, $db, "$scheduler = 0"), 'the scheduler leaves when the extension is gone');
ok(pgb_wait($node, $db, q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pg_billing sync'}), 'and so does the sync worker');
is(pgb_query($node, $db, q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_billing launcher'}), '1', 'the launcher stays');

# ---- CREATE EXTENSION brings the scheduler back (its install script wakes the launcher)
$node->safe_psql($db, 'DROP SCHEMA pgb_fake CASCADE');
$node->safe_psql($db, 'CREATE EXTENSION pg_billing');
ok(pgb_wait($node, $db, "$scheduler = 1"), 'the scheduler comes back with the extension');
my $q = pgb_query($node, $db, q{SELECT billing.add_source('quick', 'manual')});
$q = pgb_query($node, $db, q{SELECT billing.request_sync('quick')});
ok(pgb_wait($node, $db, "SELECT status = 'succeeded' FROM billing.sync_runs WHERE id = $q"), 'and serves requests again');

# ---- DROP DATABASE mid-sync
pgb_install_standin($node, $db, 5000);
pgb_query($node, $db, q{SELECT billing.set_setting('sync_retry_base', '1 second')});
pgb_query($node, $db, q{SELECT billing.add_source('long', 'manual', options => '{"per_page": 50, "delay": 0.05}')});
$run = pgb_query($node, $db, q{SELECT billing.request_sync('long')});
ok(pgb_wait($node, $db, "SELECT page >= 2 FROM billing.sync_progress WHERE run_id = $run"), 'a sync is running again');
$t0 = time;
($rc, $out, $err) = $node->psql('postgres', "DROP DATABASE $db");
is($rc, 0, 'DROP DATABASE succeeds while the scheduler and a sync worker are connected') or diag $err;
note sprintf('DROP DATABASE took %.2f s', time - $t0);
is(pgb_query($node, 'postgres', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type IN ('pg_billing scheduler', 'pg_billing sync')}),
	'0', 'no worker is left in the dropped database');
is(pgb_query($node, 'postgres', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_billing launcher'}), '1', 'the launcher stays');

# ---- the database comes back: so does the scheduler
$node->safe_psql('postgres', "CREATE DATABASE $db");
$node->safe_psql($db, 'CREATE EXTENSION pg_billing');
ok(pgb_wait($node, $db, "$scheduler = 1"), 'the scheduler serves the new database');
# CREATE DATABASE ... TEMPLATE of the workers' database is not blocked either
($rc, $out, $err) = $node->psql('postgres', "CREATE DATABASE copy_of_billing TEMPLATE $db");
is($rc, 0, 'the workers\' database can be used as a template') or diag $err;
ok(!$node->log_contains('terminated by signal'), 'no process crashed');

$node->stop;
done_testing();
