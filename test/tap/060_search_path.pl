# search_path hijack (issue 9 item 3): the database's owner, not a superuser, puts a schema of
# their own first on the database's search_path and fills it with =, <>, <= and || operators that
# record every call. The workers run as the bootstrap superuser; a requested sync and the
# scheduler's ticks must call none of them. A plain session with that search_path does call them,
# which shows the trap works.
use strict;
use warnings;
use lib "$ENV{PGB_SRC}/test/tap";
use PgbTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = pgb_node('hijack');
my $db   = 'billing';
my $safe = '';
# this test's own sessions keep a safe path (PGOPTIONS reaches client connections, never workers)
$ENV{PGOPTIONS} = '-c search_path=pg_catalog,public';

$node->safe_psql('postgres', qq{CREATE ROLE owner_x LOGIN; ALTER DATABASE "$db" OWNER TO owner_x});
$node->safe_psql($db, <<'SQL', extra_params => ['-U', 'owner_x']);
CREATE SCHEMA trap;
CREATE TABLE trap.calls (op text, by_role text, at timestamptz DEFAULT clock_timestamp());
GRANT USAGE ON SCHEMA trap TO PUBLIC;
GRANT INSERT, SELECT ON trap.calls TO PUBLIC;
CREATE FUNCTION trap.eq8(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS
  $$BEGIN INSERT INTO trap.calls (op, by_role) VALUES ('=int8', current_user); RETURN $1 OPERATOR(pg_catalog.=) $2; END$$;
CREATE FUNCTION trap.ne8(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS
  $$BEGIN INSERT INTO trap.calls (op, by_role) VALUES ('<>int8', current_user); RETURN $1 OPERATOR(pg_catalog.<>) $2; END$$;
CREATE FUNCTION trap.eqt(text, text) RETURNS boolean LANGUAGE plpgsql AS
  $$BEGIN INSERT INTO trap.calls (op, by_role) VALUES ('=text', current_user); RETURN $1 OPERATOR(pg_catalog.=) $2; END$$;
CREATE FUNCTION trap.cat(text, text) RETURNS text LANGUAGE plpgsql AS
  $$BEGIN INSERT INTO trap.calls (op, by_role) VALUES ('||', current_user); RETURN $1 OPERATOR(pg_catalog.||) $2; END$$;
CREATE FUNCTION trap.le_tz(timestamptz, timestamptz) RETURNS boolean LANGUAGE plpgsql AS
  $$BEGIN INSERT INTO trap.calls (op, by_role) VALUES ('<=tz', current_user); RETURN $1 OPERATOR(pg_catalog.<=) $2; END$$;
CREATE OPERATOR trap.= (FUNCTION = trap.eq8, LEFTARG = bigint, RIGHTARG = bigint);
CREATE OPERATOR trap.<> (FUNCTION = trap.ne8, LEFTARG = bigint, RIGHTARG = bigint);
CREATE OPERATOR trap.= (FUNCTION = trap.eqt, LEFTARG = text, RIGHTARG = text);
CREATE OPERATOR trap.|| (FUNCTION = trap.cat, LEFTARG = text, RIGHTARG = text);
CREATE OPERATOR trap.<= (FUNCTION = trap.le_tz, LEFTARG = timestamptz, RIGHTARG = timestamptz);
ALTER DATABASE billing SET search_path = trap, pg_catalog, public;
SQL

# the workers connect anew after a restart, with the database's setting in force
$node->restart;
ok(pgb_wait($node, $db, $safe . q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_billing scheduler'}),
	'the scheduler runs in the database');

is(do { local $ENV{PGOPTIONS} = ''; $node->safe_psql($db, q{SELECT 1::bigint = 1::bigint; SET search_path = pg_catalog; SELECT count(*) FROM trap.calls}) },
	"t\n1", 'the trap works: a plain session with the database search_path calls the owner\'s = operator');
$node->safe_psql($db, $safe . 'TRUNCATE trap.calls');

# a real sync over HTTP when the fake vendor API is there, else the manual connector
my $fake = ($ENV{PGB_TEST_CONF} // '') =~ /pgb_test\.maxio_url/;
if ($fake)
{
	$node->append_conf('postgresql.conf', $ENV{PGB_TEST_CONF});
	$node->reload;
	$node->safe_psql($db, $safe . q{SELECT billing.add_source('vendor', 'advanced_billing',
	    current_setting('pgb_test.maxio_url') || '/s/ok-hijack1',
	    '{"api_key": "tap-key"}',
	    '{"per_page": 2, "max_requests_per_second": 0, "components": false}')});
}
else
{
	$node->safe_psql($db, $safe . q{SELECT billing.add_source('vendor', 'manual')});
}
$node->safe_psql($db, $safe . q{SELECT billing.add_source('nightly', 'manual', schedule => '1 day')});
my $run = pgb_query($node, $db, $safe . q{SELECT billing.request_sync('vendor')});
ok(pgb_wait($node, $db, $safe . "SELECT status OPERATOR(pg_catalog.=) 'succeeded' FROM billing.sync_runs WHERE id OPERATOR(pg_catalog.=) $run"),
	'the worker-driven sync succeeds' . ($fake ? ' (over HTTP from the fake API)' : ''));
SKIP:
{
	skip 'no fake vendor API', 1 unless $fake;
	is(pgb_query($node, $db, "SELECT records_inserted FROM billing.sync_runs WHERE id OPERATOR(pg_catalog.=) $run"), '18',
		'and stored every record');
}
ok(pgb_wait($node, $db, $safe . q{SELECT count(*) OPERATOR(pg_catalog.>=) 1 FROM billing.sync_runs r JOIN billing.sources s
    ON s.id OPERATOR(pg_catalog.=) r.source_id WHERE s.name OPERATOR(pg_catalog.=) 'nightly'
    AND r.status OPERATOR(pg_catalog.=) 'succeeded'}),
	'a scheduled run queued by a tick ran too');

is(pgb_query($node, $db, $safe . q{SELECT count(*) FROM trap.calls}), '0',
	'the workers called none of the database owner\'s operators');
is(pgb_query($node, $db, $safe . q{SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'pg_billing%'
    AND backend_type OPERATOR(pg_catalog.<>) 'pg_billing launcher' AND usesysid OPERATOR(pg_catalog.<>) 10}), '0',
	'(they did run as the bootstrap superuser, the role the attack aims at)');
$node->stop;
done_testing();
