# One row must not stop the scheduler (issue 9 item 4). A schedule that cannot advance
# ('1 month -29 days' anchored on 31 January) and an infinite anchor are refused by add_source and
# UPDATE; rows that got past the checks (dropped here, as a superuser could) no longer make every
# tick fail or loop, so another source's requested run still runs. A tick blocked in a statement
# ends at SIGTERM (a fast shutdown is fast) and at pg_billing.tick_timeout.
use strict;
use warnings;
use lib "$ENV{PGB_SRC}/test/tap";
use PgbTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

# errors logged too (PgbTest logs from LOG up, which leaves ERROR out): a failing tick must show
my $node = pgb_node('stuck', conf => "log_min_messages = warning\n");
my $db   = 'billing';

my $err = '';
$node->psql($db, q{SELECT billing.add_source('stuck', 'manual', schedule => '1 month -29 days')}, stderr => \$err);
like($err, qr/violates check constraint "sources_schedule_steps_forward"/, 'add_source refuses a schedule that cannot advance');
$node->safe_psql($db, q{SELECT billing.add_source('stuck', 'manual', schedule => '1 day')});
$node->psql($db, q{UPDATE billing.sources SET schedule_anchor = 'infinity' WHERE name = 'stuck'}, stderr => \$err);
like($err, qr/violates check constraint "sources_schedule_anchor_finite"/, 'UPDATE refuses an infinite anchor');

# the rows as a 0.2.0 database could hold them
$node->safe_psql($db, q{
    ALTER TABLE billing.sources DROP CONSTRAINT sources_schedule_steps_forward, DROP CONSTRAINT sources_schedule_anchor_finite;
    UPDATE billing.sources SET schedule = '1 month -29 days', schedule_anchor = '2026-01-31 00:00+00' WHERE name = 'stuck';
    SELECT billing.add_source('endless', 'manual', schedule => '1 hour');
    UPDATE billing.sources SET schedule_anchor = 'infinity' WHERE name = 'endless';
    SELECT billing.add_source('other', 'manual');});
is(pgb_query($node, $db, q{SELECT string_agg(source || ':' || coalesce(next_run_at::text, 'none'), ',' ORDER BY source)
    FROM billing.sync_schedule WHERE source IN ('stuck', 'endless')}), 'endless:none,stuck:none',
	'the schedule view has no next slot for either row (and does not fail)');
my $run = pgb_query($node, $db, q{SELECT billing.request_sync('other')});
ok(pgb_wait($node, $db, "SELECT status = 'succeeded' FROM billing.sync_runs WHERE id = $run"),
	'another source\'s requested run succeeds beside both rows');
ok(!$node->log_contains('billing._worker_tick') && !$node->log_contains('out of range'), 'no tick failed');

# a tick that blocks: every scheduled run queued sleeps in a trigger
$node->safe_psql($db, q{
    CREATE FUNCTION public.slow_insert() RETURNS trigger LANGUAGE plpgsql AS
      $$BEGIN PERFORM pg_catalog.pg_sleep(600); RETURN NEW; END$$;
    CREATE TRIGGER slow BEFORE INSERT ON billing.sync_runs FOR EACH ROW WHEN (NEW.trigger = 'schedule')
      EXECUTE FUNCTION public.slow_insert();
    SELECT billing.add_source('due', 'manual', schedule => '1 hour');});
ok(pgb_wait($node, $db, q{SELECT count(*) = 1 FROM pg_stat_activity
    WHERE backend_type = 'pg_billing scheduler' AND wait_event = 'PgSleep'}), 'a tick is blocked in a statement');
my $t0 = time;
$node->stop('fast');
my $took = time - $t0;
cmp_ok($took, '<', 10, 'a fast shutdown does not wait for the blocked tick');
note sprintf('report: fast shutdown with a blocked tick took %.1f s', $took);
ok($node->log_contains('terminating background worker "pg_billing scheduler" due to administrator command'),
	'the scheduler was ended by SIGTERM in mid-tick');

# and with a short tick_timeout the blocked tick is cancelled, logged and retried
$node->append_conf('postgresql.conf', "pg_billing.tick_timeout = '1s'");
$node->start;
ok(pgb_wait($node, $db, q{SELECT true}), 'the server is back');
my $ok = 0;
for (1 .. 120)
{
	if ($node->log_contains('canceling statement due to statement timeout')) { $ok = 1; last; }
	sleep 1;
}
ok($ok, 'pg_billing.tick_timeout cancels the blocked tick');
$node->safe_psql($db, q{DROP TRIGGER slow ON billing.sync_runs});
ok(pgb_wait($node, $db, q{SELECT count(*) >= 1 FROM billing.sync_runs r JOIN billing.sources s ON s.id = r.source_id
    WHERE s.name = 'due' AND r.status = 'succeeded'}), 'once the trigger is gone, the next tick queues and runs it');
$node->stop;
done_testing();
