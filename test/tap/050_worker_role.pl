# The workers as a plain member of billing_admin (pg_billing.worker_role), not a superuser: the
# scheduler and the sync workers connect as that role, requested and scheduled syncs run, and a
# failing source raises its alert.
use strict;
use warnings;
use lib "$ENV{PGB_SRC}/test/tap";
use PgbTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = pgb_node('role');
my $db   = 'billing';
$node->safe_psql($db, q{CREATE ROLE billing_worker LOGIN; GRANT billing_admin TO billing_worker});
$node->append_conf('postgresql.conf', "pg_billing.worker_role = 'billing_worker'");
$node->restart;

is(pgb_query($node, $db, q{SELECT rolsuper OR rolcreaterole OR rolbypassrls FROM pg_roles WHERE rolname = 'billing_worker'}),
	'f', 'the worker role has no special attribute');
ok(pgb_wait($node, $db, q{SELECT count(*) = 1 FROM pg_stat_activity
    WHERE backend_type = 'pg_billing scheduler' AND usename = 'billing_worker'}),
	'the scheduler connects as the worker role');

my $quick = pgb_query($node, $db, q{SELECT billing.add_source('quick', 'manual')});
my $run   = pgb_query($node, $db, q{SELECT billing.request_sync('quick')});
ok(pgb_wait($node, $db, "SELECT status = 'succeeded' FROM billing.sync_runs WHERE id = $run"),
	'a requested sync runs to its end as the worker role');

# a source whose connector does not exist in this version fails every time: retried, then alerted
$node->safe_psql($db, q{SELECT billing.set_setting('sync_retry_base', '1 second'), billing.set_setting('sync_retry_max', '2 seconds'),
                               billing.set_setting('alert_failed_runs', '2')});
my $bad = pgb_query($node, $db, q{SELECT billing.add_source('later', 'connectwise', 'https://api.connectwise.test', '{"client_id": "x", "company_id": "x", "private_key": "x", "public_key": "x"}', schedule => '1 hour')});
ok(pgb_wait($node, $db, "SELECT count(*) >= 2 FROM billing.sync_runs WHERE source_id = $bad AND status = 'failed'"),
	'a scheduled source is run and retried by the worker role');
ok(pgb_wait($node, $db, "SELECT count(*) = 1 FROM billing.alerts WHERE source_id = $bad AND kind = 'source_failing' AND resolved_at IS NULL"),
	'and its failures raise an alert');
is(pgb_query($node, $db, "SELECT error FROM billing.sync_runs WHERE source_id = $bad ORDER BY id LIMIT 1"),
	'source "later": no connector for kind connectwise in this version', 'the run says why it failed');

ok(!$node->log_contains('permission denied'), 'no permission was missing');
$node->stop;
done_testing();
