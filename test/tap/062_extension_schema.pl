# The workers name the schema `billing` in their statements (issue 9 item 1, C side): they run
# only when that name is pg_billing's own schema (pg_extension.extnamespace) and it belongs to the
# extension's owner. A schema handed to another role, or another schema renamed into the name
# with a trojan billing._worker_tick, makes them log why and do nothing.
use strict;
use warnings;
use lib "$ENV{PGB_SRC}/test/tap";
use PgbTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = pgb_node('schema');
my $db   = 'billing';
my $warning = q{schema "billing" is not the extension's own schema};

$node->safe_psql($db, q{CREATE ROLE mallory LOGIN; SELECT billing.add_source('quick', 'manual')});
my $run = pgb_query($node, $db, q{SELECT billing.request_sync('quick')});
ok(pgb_wait($node, $db, "SELECT status = 'succeeded' FROM billing.sync_runs WHERE id = $run"), 'the workers run at first');

# 1. the extension's schema given to another role
$node->safe_psql($db, q{ALTER SCHEMA billing OWNER TO mallory});
$run = pgb_query($node, $db, q{SELECT billing.request_sync('quick')});
ok(pgb_wait($node, 'postgres', q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pg_billing scheduler'}),
	'with billing owned by another role, the scheduler leaves');
ok($node->log_contains(qr/LOG:  pg_billing workers do nothing in database "billing": \Q$warning\E/), 'and says why');
sleep 2;
is(pgb_query($node, $db, "SELECT status FROM billing.sync_runs WHERE id = $run"), 'queued', 'the requested run was not started');
$node->safe_psql($db, q{ALTER SCHEMA billing OWNER TO postgres});
$node->safe_psql($db, q{SELECT billing._worker_wake()});
ok(pgb_wait($node, $db, "SELECT status = 'succeeded' FROM billing.sync_runs WHERE id = $run"),
	'given back to the extension\'s owner, the workers resume and run it');

# 2. the extension's schema renamed away and a trojan schema named billing in its place
my $log_at = -s $node->logfile;
$node->safe_psql($db, q{ALTER SCHEMA billing RENAME TO billing_real; CREATE SCHEMA billing AUTHORIZATION mallory});
$node->safe_psql($db, <<'SQL', extra_params => ['-U', 'mallory']);
CREATE TABLE billing.calls (fn text, by_role text);
CREATE FUNCTION billing._worker_tick(bigint[], timestamptz) RETURNS double precision LANGUAGE plpgsql AS
  $$BEGIN INSERT INTO billing.calls VALUES ('tick', current_user); RETURN 1; END$$;
CREATE FUNCTION billing._worker_runnable(bigint[], integer) RETURNS TABLE (run_id bigint, source_id bigint) LANGUAGE plpgsql AS
  $$BEGIN INSERT INTO billing.calls VALUES ('runnable', current_user); RETURN; END$$;
SQL
$node->safe_psql($db, q{SELECT billing_real._worker_wake()});
my $warned = 0;
for (1 .. 60)
{
	if (slurp_file($node->logfile, $log_at) =~ /\Q$warning\E/) { $warned = 1; last; }
	sleep 1;
}
ok($warned, 'a trojan schema named billing: the workers say why they stop');
sleep 2;
is(pgb_query($node, $db, q{SELECT count(*) FROM billing.calls}), '0', 'and never call its functions');
$node->stop;
done_testing();
