# The background workers in a live server: visible in pg_stat_activity, woken by request_sync's
# commit, sources scheduled independently (a source that always fails neither crash-loops nor
# delays another), capped exponential backoff, alerts raised and resolved, SIGTERM to each worker
# and they come back, and runs left running by a stopped server marked interrupted at start-up.
use strict;
use warnings;
use lib "$ENV{PGB_SRC}/test/tap";
use PgbTest;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time usleep);

my $node = pgb_node('worker');
my $db   = 'billing';
pgb_install_standin($node, $db, 20);

# ---- visible workers
ok(pgb_wait($node, $db, q{SELECT count(*) = 2 FROM pg_stat_activity
    WHERE backend_type IN ('pg_billing launcher', 'pg_billing scheduler') AND application_name = backend_type}),
	'launcher and scheduler appear in pg_stat_activity with their type and application name');
is(pgb_query($node, $db, q{SELECT datname FROM pg_stat_activity WHERE backend_type = 'pg_billing scheduler'}),
	$db, 'the scheduler is connected to pg_billing.database');
is(pgb_query($node, $db, q{SELECT s.scheduler_pid = a.pid AND s.serves_this_database FROM billing.worker_status() s,
    pg_stat_activity a WHERE a.backend_type = 'pg_billing scheduler'}), 't', 'billing.worker_status() names the scheduler');

# ---- request_sync wakes a worker at commit
pgb_query($node, $db, q{SELECT billing.add_source('quick', 'manual')});
$node->safe_psql($db, q{BEGIN; SELECT billing.request_sync('quick'); ROLLBACK;});
my $run = pgb_query($node, $db, q{SELECT billing.request_sync('quick')});
is($run, pgb_query($node, $db, q{SELECT max(id) FROM billing.sync_runs}), 'request_sync returns the run id');
ok(pgb_wait($node, $db, "SELECT status = 'succeeded' FROM billing.sync_runs WHERE id = $run"), 'the requested run succeeded');
is(pgb_query($node, $db, q{SELECT count(*) FROM billing.sync_runs r JOIN billing.sources s ON s.id = r.source_id WHERE s.name = 'quick'}),
	'1', 'a request rolled back queued nothing');
my $latency = pgb_query($node, $db, "SELECT round(extract(epoch FROM started_at - requested_at) * 1000) FROM billing.sync_runs WHERE id = $run");
note "request_sync -> run started: $latency ms (the scheduler's idle tick is 60 s: only the commit wake-up explains this)";
cmp_ok($latency, '<', 30000, 'the run started long before the idle tick');
my @lat;
for my $i (1 .. 5)
{
	my $r = pgb_query($node, $db, q{SELECT billing.request_sync('quick')});
	pgb_wait($node, $db, "SELECT status = 'succeeded' FROM billing.sync_runs WHERE id = $r");
	push @lat, pgb_query($node, $db, "SELECT round(extract(epoch FROM started_at - requested_at) * 1000) FROM billing.sync_runs WHERE id = $r");
}
note 'request_sync -> start latencies (ms): ' . join(', ', @lat);

# ---- a source that always fails does not disturb another one's schedule
my $bad  = pgb_query($node, $db, q{SELECT billing.add_source('bad', 'manual', options => '{"fail": true}', schedule => '1 minute')});
my $good = pgb_query($node, $db, q{SELECT billing.add_source('good', 'manual', options => '{"per_page": 100, "delay": 0}', schedule => '1 minute')});
ok(pgb_wait($node, $db, "SELECT count(*) >= 4 FROM billing.sync_runs WHERE source_id = $bad AND status = 'failed'"),
	'the failing source is retried');
ok(pgb_wait($node, $db, "SELECT count(*) = 1 FROM billing.sync_runs WHERE source_id = $good AND status = 'succeeded'"),
	'the good source ran on its schedule');
# its next run is due in a minute: move its history a minute back and tell the scheduler
$node->safe_psql($db, qq{UPDATE billing.sync_runs SET requested_at = requested_at - interval '61 seconds',
    started_at = started_at - interval '61 seconds', finished_at = finished_at - interval '61 seconds' WHERE source_id = $good;
    UPDATE billing.sources SET schedule = schedule WHERE id = $good});
ok(pgb_wait($node, $db, "SELECT count(*) = 2 FROM billing.sync_runs WHERE source_id = $good AND status = 'succeeded' AND trigger = 'schedule'"),
	'the good source ran again when its schedule came, while the other kept failing');
is(pgb_query($node, $db, "SELECT count(*) FROM billing.sync_runs WHERE source_id = $good AND status <> 'succeeded'"), '0',
	'no run of the good source failed or waited');
is(pgb_query($node, $db, "SELECT count(*) FROM billing.sync_runs WHERE source_id = $bad AND status = 'succeeded'"), '0',
	'the failing source never succeeded');
# backoff: each retry starts no sooner than base * 2^(n-1) (base 1 s, cap 2 s) after the n-th failure
is(pgb_query($node, $db, qq{SELECT count(*) FROM (
    SELECT started_at, lag(finished_at) OVER w AS prev_end, row_number() OVER w - 1 AS n
      FROM billing.sync_runs WHERE source_id = $bad WINDOW w AS (ORDER BY id)) x
     WHERE n > 0 AND started_at < prev_end + least(interval '1 second' * power(2, n - 1), interval '2 seconds')}),
	'0', 'retries back off exponentially up to the cap');
is(pgb_query($node, $db, "SELECT state || ' ' || retry_delay FROM billing.sync_schedule WHERE source_id = $bad"),
	'retrying 00:00:02', 'sync_schedule shows the source retrying at the capped backoff');
is(pgb_query($node, $db, q{SELECT string_agg(a.kind || ':' || s.name || ':' || a.severity, ',' ORDER BY a.kind) FROM billing.alerts a
    JOIN billing.sources s ON s.id = a.source_id WHERE a.resolved_at IS NULL}),
	'source_failing:bad:error', 'one open alert: the failing source');
$node->safe_psql($db, qq{UPDATE billing.sources SET options = '{}' WHERE id = $bad});
ok(pgb_wait($node, $db, "SELECT count(*) = 1 FROM billing.sync_runs WHERE source_id = $bad AND status = 'succeeded'"),
	'the source recovers on its next retry');
ok(pgb_wait($node, $db, "SELECT count(*) = 0 FROM billing.alerts WHERE resolved_at IS NULL"),
	'its alert is resolved by itself');

# ---- SIGTERM: each worker stops cleanly and comes back
for my $type ('scheduler', 'launcher')
{
	my $old = pgb_worker_pid($node, $type);
	kill 'TERM', $old;
	ok(pgb_wait($node, $db, "SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_billing $type' AND pid <> $old"),
		"the $type comes back after SIGTERM");
}
my $after = pgb_query($node, $db, q{SELECT billing.request_sync('quick')});
ok(pgb_wait($node, $db, "SELECT status = 'succeeded' FROM billing.sync_runs WHERE id = $after"), 'requests are served after the restarts');

# ---- a session holding a lock the scheduler needs neither freezes it nor keeps it from stopping
my $locker = IPC::Run::start(
	[ 'psql', '-X', '-h', $node->host, '-p', $node->port, '-d', $db, '-c',
	  'BEGIN; LOCK billing.sync_runs IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(20); COMMIT;' ],
	'>', \my $locker_out, '2>', \my $locker_err);
pgb_wait($node, $db, q{SELECT count(*) = 1 FROM pg_locks WHERE relation = 'billing.sync_runs'::regclass
    AND mode = 'AccessExclusiveLock' AND granted});
my $woken_at = pgb_query($node, $db, 'SELECT clock_timestamp()');
$node->safe_psql($db, q{UPDATE billing.sources SET schedule = schedule WHERE name = 'quick'});    # wakes a tick
ok(pgb_wait($node, $db, qq{SELECT count(*) = 1 FROM pg_stat_activity
    WHERE backend_type = 'pg_billing scheduler' AND state = 'idle' AND state_change > '$woken_at'
      AND EXISTS (SELECT 1 FROM pg_locks WHERE relation = 'billing.sync_runs'::regclass
                  AND mode = 'AccessExclusiveLock' AND granted)}),
	'the scheduler gives up waiting for the lock after its lock_timeout, while the lock is still held');
my $sched = pgb_worker_pid($node, 'scheduler');
my $term_at = time;
kill 'TERM', $sched;
ok(pgb_wait($node, 'postgres', "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $sched"), 'SIGTERM stops it');
my $term_took = time - $term_at;
note sprintf('scheduler stopped %.1f s after SIGTERM, with the lock still held', $term_took);
cmp_ok($term_took, '<', 10, 'long before the lock is released (20 s)');
$node->safe_psql($db, q{SELECT pg_terminate_backend(pid) FROM pg_locks WHERE relation = 'billing.sync_runs'::regclass
    AND mode = 'AccessExclusiveLock' AND granted});
$locker->finish;
ok(pgb_wait($node, $db, q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_billing scheduler'}),
	'and it comes back');

# SIGTERM to a sync worker mid-run: the run is interrupted, then resumed from its checkpoint
$node->safe_psql($db, q{TRUNCATE pgb_fake.vendor; INSERT INTO pgb_fake.vendor SELECT g, md5(g::text) FROM generate_series(1, 2000) g});
my $long = pgb_query($node, $db, q{SELECT billing.add_source('long', 'manual', options => '{"per_page": 50, "delay": 0.05}')});
my $lrun = pgb_query($node, $db, q{SELECT billing.request_sync('long')});
ok(pgb_wait($node, $db, "SELECT page >= 3 FROM billing.sync_progress WHERE run_id = $lrun"), 'sync_progress shows the running sync');
kill 'TERM', pgb_worker_pid($node, 'sync');
ok(pgb_wait($node, $db, "SELECT status = 'interrupted' AND error = 'interrupted: the worker running it stopped' FROM billing.sync_runs WHERE id = $lrun"),
	'the run of a terminated sync worker is marked interrupted');
ok(pgb_wait($node, $db, "SELECT count(*) = 1 FROM billing.sync_runs WHERE source_id = $long AND status = 'succeeded'"),
	'a new run resumes and finishes');
is(pgb_query($node, $db, "SELECT count(*) || ' ' || count(DISTINCT id) FROM pgb_fake.applied WHERE source_id = $long"),
	'2000 2000', 'resumed from the checkpoint: every record once');

# ---- SIGHUP: a lower pg_billing.max_sync_workers takes effect on reload
$node->safe_psql('postgres', 'ALTER SYSTEM SET pg_billing.max_sync_workers = 1');
$node->reload;
pgb_wait($node, $db, q{SELECT current_setting('pg_billing.max_sync_workers') = '1'});
usleep(300_000);    # the scheduler rereads its configuration when its latch is set by SIGHUP
my ($p1, $p2) = map { pgb_query($node, $db, qq{SELECT billing.add_source('$_', 'manual', options => '{"per_page": 500, "delay": 0.1}')}) } ('p1', 'p2');
$node->safe_psql($db, q{BEGIN; SELECT billing.request_sync('p1'); SELECT billing.request_sync('p2'); COMMIT;});
ok(pgb_wait($node, $db, "SELECT count(*) = 2 FROM billing.sync_runs WHERE source_id IN ($p1, $p2) AND status = 'succeeded'"),
	'both requested syncs ran');
is(pgb_query($node, $db, qq{SELECT a.started_at >= b.finished_at OR b.started_at >= a.finished_at
    FROM billing.sync_runs a, billing.sync_runs b WHERE a.source_id = $p1 AND b.source_id = $p2}), 't',
	'with one sync worker allowed, they ran one after the other');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET pg_billing.max_sync_workers');
$node->reload;

# ---- a manual run whose session is gone is interrupted at once; runs left running by a server
# that stopped are interrupted at start-up, then resumed
my $orphan = pgb_query($node, $db, qq{INSERT INTO billing.sync_runs (source_id, status, trigger, started_at)
    VALUES ($good, 'running', 'manual', now()) RETURNING id});
pgb_query($node, $db, q{SELECT billing.request_sync('quick')});    # a tick
ok(pgb_wait($node, $db, "SELECT status = 'interrupted' AND error = 'interrupted: the session running it ended' FROM billing.sync_runs WHERE id = $orphan"),
	'a manual run whose session ended is marked interrupted');
my $stopped = pgb_query($node, $db, q{SELECT billing.add_source('stopped', 'manual', options => '{"per_page": 50, "delay": 0.05}')});
my $srun = pgb_query($node, $db, q{SELECT billing.request_sync('stopped')});
ok(pgb_wait($node, $db, "SELECT page >= 2 FROM billing.sync_progress WHERE run_id = $srun"), 'a sync runs when the server stops');
$node->restart;
# (the scheduler may see the sync worker stop before it stops itself: either reason is right)
ok(pgb_wait($node, $db, "SELECT status = 'interrupted' AND error IN ('interrupted: the server stopped during the run', 'interrupted: the worker running it stopped') FROM billing.sync_runs WHERE id = $srun"),
	'the run the shutdown stopped is marked interrupted');
ok(pgb_wait($node, $db, "SELECT count(*) = 1 FROM billing.sync_runs WHERE source_id = $stopped AND id > $srun AND status = 'succeeded'"),
	'and a new run of that source finishes');
is(pgb_query($node, $db, "SELECT count(*) || ' ' || count(DISTINCT id) FROM pgb_fake.applied WHERE source_id = $stopped"),
	'2000 2000', 'from the checkpoint: every record once');
is(pgb_query($node, $db, q{SELECT count(*) FROM billing.sync_runs WHERE status = 'running' AND started_at < pg_postmaster_start_time()}),
	'0', 'nothing from before the restart is left running');

# no cluster crash-restart happened in all this
ok(!$node->log_contains('terminated by signal'), 'no process crashed');

$node->stop;
done_testing();
