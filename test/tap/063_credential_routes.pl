# The credential routes of docs/security.md, section 4 and 6, performed against a real cluster:
#
# (a) The bound-parameter route: a driver sends "SELECT billing.set_credentials($1, $2)" with the
#     key as a bound parameter (extended query protocol; pgbench -M extended does it here, as psql
#     15 has no \bind). Calls that fail (an unknown source, malformed JSON) are logged with their
#     statement under the default log_min_error_statement, and the key is in no line of the log.
#     The control: the same failing call with log_parameter_max_length_on_error = -1 does put the
#     key in the log, so this test sees a leak when there is one.
# (b) Roles shared by every database of the cluster: a billing_reader of database A cannot read
#     database B's credentials; a billing_admin of A can, until CONNECT on B is revoked from PUBLIC
#     as docs/security.md says; then it cannot even connect.
# Keys are random per run and never the suite's canary (pgbench's command line is written to this
# test's own log).
use strict;
use warnings;
use lib "$ENV{PGB_SRC}/test/tap";
use PgbTest;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

# pgb_node's log_min_messages = log hides ERRORs (LOG ranks above ERROR there): the default again
my $node = pgb_node('credential_routes', conf => "log_min_messages = warning\n");
my $db   = 'billing';
my $rand = join '', map { sprintf '%02x', int(rand(256)) } 1 .. 12;
my ($key, $control) = ("bindkey_$rand", "bindctl_$rand");

$node->safe_psql($db, q{SELECT billing.add_source('maxio', 'advanced_billing', 'https://example.com', '{"api_key": "placeholder"}')});

# One statement through the extended protocol with the variables as bound parameters; returns stderr.
sub bound_call
{
	my ($source, $credentials, $pgoptions) = @_;
	my $script = "$PostgreSQL::Test::Utils::tmp_check/bound_call.sql";
	open my $fh, '>', $script or die "cannot write $script: $!";
	print $fh "SELECT billing.set_credentials(:src, :cred);\n";
	close $fh;
	local $ENV{PGOPTIONS} = $pgoptions // '';
	my ($out, $err) = ('', '');
	IPC::Run::run(['pgbench', '-n', '-t', '1', '-M', 'extended', '-h', $node->host, '-p', $node->port,
		'-D', "src=$source", '-D', "cred=$credentials", '-f', $script, $db], '>', \$out, '2>', \$err);
	return $err;
}

# (a) a failing call: the source does not exist
my $err = bound_call('nosuch', qq({"api_key": "$key"}));
like($err, qr/source "nosuch" does not exist/, 'a bound call for an unknown source fails');
# a failing call: the JSON is malformed (the text overload refuses it without quoting it)
$err = bound_call('maxio', qq({"api_key": "$key"));
like($err, qr/credentials are not valid JSON/, 'a bound call with malformed JSON fails');
# and a call that works, so the key is really set through the route
bound_call('maxio', qq({"api_key": "$key"}));
is(pgb_query($node, $db, q{SELECT secret ->> 'api_key' FROM billing._credentials}), $key, 'a bound call sets the key');

my $log = slurp_file($node->logfile);
like($log, qr/STATEMENT:\s+SELECT billing\.set_credentials\(\$1, \$2\)/,
	'the failing statements are logged (log_min_error_statement = error), with placeholders');
ok(index($log, $key) < 0, 'the key bound as a parameter is in no line of the server log');

# the control: a setting that logs the parameters of failing statements puts the key in the log
bound_call('nosuch', qq({"api_key": "$control"}), '-c log_parameter_max_length_on_error=-1');
$log = slurp_file($node->logfile);
ok(index($log, $control) >= 0, 'control: with log_parameter_max_length_on_error = -1 the bound key is logged (the check above can fail)');

# (b) two databases of one cluster, both with pg_billing
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', 'CREATE EXTENSION pg_billing');
$node->safe_psql('other', qq{SELECT billing.add_source('theirs', 'advanced_billing', 'https://example.com', '{"api_key": "other_$rand"}')});
$node->safe_psql('postgres', q{CREATE ROLE reader_a LOGIN; GRANT billing_reader TO reader_a;
                                CREATE ROLE admin_a LOGIN; GRANT billing_admin TO admin_a;});

my ($rc, $stdout, $stderr) = $node->psql('other', 'SELECT secret FROM billing._credentials',
	extra_params => ['-U', 'reader_a']);
isnt($rc, 0, 'a billing_reader cannot read the credentials of another database');
like($stderr, qr/permission denied for table _credentials/, '... permission denied');
($rc, $stdout, $stderr) = $node->psql('other', 'SELECT count(*) FROM billing.sources', extra_params => ['-U', 'reader_a']);
is($stdout, '1', '... while it reads that database\'s billing data (the roles are shared, as documented)');

# a billing_admin is an admin in every database it can connect to (documented), until CONNECT is scoped
($rc, $stdout, $stderr) = $node->psql('other', q{SELECT secret ->> 'api_key' FROM billing._credentials},
	extra_params => ['-U', 'admin_a']);
is($stdout, "other_$rand", 'a billing_admin reads the credentials of every database it can connect to (documented)');
$node->safe_psql('postgres', 'REVOKE CONNECT ON DATABASE other FROM PUBLIC');
($rc, $stdout, $stderr) = $node->psql('other', 'SELECT secret FROM billing._credentials', extra_params => ['-U', 'admin_a']);
isnt($rc, 0, 'after REVOKE CONNECT ON DATABASE other FROM PUBLIC the other admin cannot read them');
like($stderr, qr/permission denied for database "other"/, '... it cannot connect at all');

$node->stop;
done_testing();
