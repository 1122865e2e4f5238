# The DROP EXTENSION event trigger does not read the query text (issue 9 item 7). A drop of
# pg_billing whose text never names it (built in a DO block) still has the workers leave before the
# drop takes its locks; a DROP EXTENSION that leaves pg_billing installed brings the scheduler back
# at once instead of after its 30-second pause.
use strict;
use warnings;
use lib "$ENV{PGB_SRC}/test/tap";
use PgbTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = pgb_node('drop_trigger');
my $db   = 'billing';
my $scheduler = q{SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_billing scheduler')};

ok(pgb_wait($node, $db, "$scheduler = 1"), 'the scheduler runs');

# Inside the dropping transaction: how many 50 ms polls until the scheduler is gone (0: still there
# after 5 s). The drop is rolled back, so the extension stays for the rest of the test.
my $gone = pgb_query($node, $db, q{
    CREATE FUNCTION pg_temp.scheduler_gone() RETURNS integer LANGUAGE plpgsql AS $f$
    BEGIN
        FOR i IN 1 .. 100 LOOP
            PERFORM pg_stat_clear_snapshot();
            IF NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pg_billing scheduler') THEN
                RETURN i;
            END IF;
            PERFORM pg_sleep(0.05);
        END LOOP;
        RETURN 0;
    END
    $f$;
    BEGIN;
    DO $d$ BEGIN EXECUTE pg_catalog.format('DROP EXTENSION %I CASCADE', pg_catalog.concat('pg', '_billing')); END $d$;
    SELECT pg_temp.scheduler_gone();
    ROLLBACK;
});
cmp_ok($gone, '>', 0, 'a DROP EXTENSION whose text does not name pg_billing still has the scheduler leave first');
is(pgb_query($node, $db, q{SELECT extversion IS NOT NULL FROM pg_extension WHERE extname = 'pg_billing'}), 't',
   'the drop was rolled back');
pgb_query($node, $db, q{SELECT billing._worker_wake()});
ok(pgb_wait($node, $db, "$scheduler = 1"), 'woken, the scheduler comes back');

# Another extension's drop (here one that is not even installed) pauses the workers only for the
# command: the after-trigger wakes them.
my $t0 = time;
pgb_query($node, $db, q{DROP EXTENSION IF EXISTS pgb_not_installed});
ok(pgb_wait($node, $db, "$scheduler = 1"), 'after a DROP EXTENSION of another extension the scheduler runs');
my $took = time - $t0;
cmp_ok($took, '<', 20, 'within seconds, not after the 30-second pause');
note sprintf('scheduler back after %.2f s', $took);
is(pgb_query($node, $db, q{SELECT count(*) FROM pg_event_trigger WHERE evtname LIKE 'pg_billing%'}), '2',
   'both event triggers are in place');
ok(!$node->log_contains('terminated by signal'), 'no process crashed');

$node->stop;
done_testing();
