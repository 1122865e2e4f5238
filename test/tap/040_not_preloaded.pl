# Without shared_preload_libraries there are no workers: request_sync still queues the run, and
# says in a NOTICE, with a hint, that nothing will pick it up.
use strict;
use warnings;
use lib "$ENV{PGB_SRC}/test/tap";
use PgbTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('plain');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_billing');
$node->safe_psql('postgres', q{SELECT billing.add_source('acme', 'manual')});

my ($rc, $out, $err) = $node->psql('postgres', q{SELECT billing.request_sync('acme')});
is($rc, 0, 'request_sync works without the workers');
like($err, qr/NOTICE:  a sync of source "acme" is queued, but no background worker serves this database/, 'a NOTICE says no worker will run it');
like($err, qr/HINT:  Add pg_billing to shared_preload_libraries, set pg_billing.database and restart PostgreSQL; CALL billing.sync\('acme'\) syncs now in this session\./,
	'its hint says how to get the workers, and how to sync now');
is(pgb_query($node, 'postgres', q{SELECT status || ' ' || trigger FROM billing.sync_runs}), 'queued request', 'the run is queued');
is(pgb_query($node, 'postgres', q{SELECT preloaded::text || ' ' || (launcher_pid IS NULL)::text FROM billing.worker_status()}),
	'false true', 'worker_status says the workers are absent');
is(pgb_query($node, 'postgres', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'pg_billing%'}), '0', 'no pg_billing process runs');
# the session syncs by itself instead
$node->safe_psql('postgres', q{CALL billing.sync('acme')});
is(pgb_query($node, 'postgres', q{SELECT count(*) FROM billing.sync_runs WHERE status = 'succeeded' AND trigger = 'manual'}), '1', 'CALL billing.sync works');
# and DROP EXTENSION works without the library's workers too (the event trigger finds none)
($rc, $out, $err) = $node->psql('postgres', 'DROP EXTENSION pg_billing');
is($rc, 0, 'DROP EXTENSION works') or diag $err;

$node->stop;
done_testing();
