# Helpers for pg_billing's TAP tests of the background workers: a preloaded cluster, the stand-in
# connector, waiting, and killing the server or one of its workers.
package PgbTest;

use strict;
use warnings;

# What the framework expects from PostgreSQL's own build tree: $TESTDIR must exist before
# PostgreSQL::Test::Utils loads (it logs there), and $PG_REGRESS names pg_regress (for initdb's
# authentication setup). Both paths are derived from the pgxs tree that PERL5LIB points into.
BEGIN
{
	require File::Path;
	# a failed earlier run leaves its data directories behind: start clean
	File::Path::rmtree("$ENV{TESTDIR}/tmp_check") if $ENV{TESTDIR};
	mkdir $ENV{TESTDIR} if $ENV{TESTDIR} && !-d $ENV{TESTDIR};
	if (!$ENV{PG_REGRESS})
	{
		for my $dir (split /:/, $ENV{PERL5LIB} // '')
		{
			my $candidate = "$dir/../regress/pg_regress";
			if (-x $candidate) { $ENV{PG_REGRESS} = $candidate; last; }
		}
	}
}

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use Exporter 'import';

our @EXPORT = qw(pgb_node pgb_install_standin pgb_query pgb_wait pgb_kill_server pgb_kill_backend
  pgb_restart_after_kill pgb_worker_pid pgb_wait_restarted);

# A cluster with pg_billing preloaded, the workers serving database $db, pg_billing installed there,
# and short retry delays so that tests do not wait for production backoff.
sub pgb_node
{
	my ($name, %opt) = @_;
	my $db   = $opt{database} // 'billing';
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', <<"CONF" . ($opt{conf} // ''));
shared_preload_libraries = 'pg_billing'
pg_billing.database = '$db'
max_worker_processes = 16
restart_after_crash = on
log_statement = none
log_min_messages = log
CONF
	$node->start;
	$node->safe_psql('postgres', qq{CREATE DATABASE "$db"});
	$node->safe_psql($db, 'CREATE EXTENSION pg_billing');
	$node->safe_psql($db, q{SELECT billing.set_setting('sync_retry_base', '1 second'),
	                               billing.set_setting('sync_retry_max', '2 seconds')});
	return $node;
}

# Replaces billing._sync_run with the stand-in connector and loads $records vendor records.
sub pgb_install_standin
{
	my ($node, $db, $records) = @_;
	$node->safe_psql($db, slurp_file("$ENV{PGB_SRC}/test/tap/standin_sync.sql"));
	$node->safe_psql($db,
		"INSERT INTO pgb_fake.vendor SELECT g, md5(g::text) FROM generate_series(1, $records) g");
}

sub pgb_query
{
	my ($node, $db, $sql) = @_;
	return scalar $node->safe_psql($db, $sql);
}

# Waits until $sql returns $expected ('t' by default); false after the framework's timeout.
sub pgb_wait
{
	my ($node, $db, $sql, $expected) = @_;
	return $node->poll_query_until($db, $sql, $expected // 't');
}

# The pid of a pg_billing worker of the given type ('launcher', 'scheduler', 'sync'), or ''.
sub pgb_worker_pid
{
	my ($node, $type) = @_;
	return pgb_query($node, 'postgres',
		"SELECT coalesce(min(pid)::text, '') FROM pg_stat_activity WHERE backend_type = 'pg_billing $type'");
}

sub _children
{
	my ($ppid) = @_;
	my @kids;
	opendir(my $dh, '/proc') or return ();
	for my $pid (grep { /^\d+$/ } readdir $dh)
	{
		open(my $fh, '<', "/proc/$pid/stat") or next;
		my $stat = <$fh>;
		close $fh;
		push @kids, $pid if defined $stat && $stat =~ /\)\s+\S+\s+(\d+)/ && $1 == $ppid;
	}
	closedir $dh;
	return @kids;
}

# The whole server dies at once, as in a power cut: SIGKILL to the postmaster and every child.
sub pgb_kill_server
{
	my ($node) = @_;
	my $pm = $node->{_pid};
	my @kids = _children($pm);
	kill 'KILL', @kids if @kids;
	$node->kill9;
	usleep(100_000);
	kill 'KILL', grep { kill 0, $_ } @kids;
}

# Starts the server again after a kill; orphans may hold the pid file for a moment.
sub pgb_restart_after_kill
{
	my ($node) = @_;
	for my $try (1 .. 20)
	{
		return 1 if $node->start(fail_ok => 1);
		$node->stop('immediate', fail_ok => 1);
		usleep(250_000);
	}
	return 0;
}

# SIGKILL to one backend: the postmaster resets shared memory and restarts (restart_after_crash).
sub pgb_kill_backend
{
	my ($node, $pid) = @_;
	return kill 'KILL', $pid;
}

# After a crash-restart: wait until connections work and the launcher is back.
sub pgb_wait_restarted
{
	my ($node) = @_;
	return $node->poll_query_until('postgres',
		"SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'pg_billing launcher'");
}

1;
