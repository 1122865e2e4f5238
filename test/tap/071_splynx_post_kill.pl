# Exactly once under SIGKILL, Xero -> Splynx (issue 12, docs/splynx-payment-modes.md): 60 payments
# taken in Xero are posted to a Splynx source in payment mode xero by the worker (a scheduled run of
# the Xero source pulls them, then posts), while the whole server is killed at random moments and
# restarted. The fake Splynx (scenario isp, _d150) answers each post 150 ms after the payment exists,
# so a kill often lands after a payment was created and before its answer was recorded: only the
# look-up by receipt_number prevents a duplicate. At the end: 60 posts posted, and Splynx holds each
# Xero payment exactly once.
use strict;
use warnings;
use lib "$ENV{PGB_SRC}/test/tap";
use PgbTest;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use Time::HiRes qw(usleep);

my $conf = $ENV{PGB_TEST_CONF} // '';
my ($xero)     = $conf =~ /pgb_test\.xero_url = '([^']+)'/;
my ($splynx)   = $conf =~ /pgb_test\.splynx_url = '([^']+)'/;
my ($fake_dir) = $conf =~ /pgb_test\.fake_dir = '([^']+)'/;
plan skip_all => 'the fake Xero or Splynx is not running' unless $xero && $splynx && $fake_dir;

my $seed = $ENV{PGB_SEED} // int(time);
srand($seed);
note "random seed $seed (PGB_SEED reproduces it)";

my $node = pgb_node('splynxkill', conf => "$conf\n");
my $db   = 'billing';
my $n    = 60;
my $k    = 'k' . int(rand(1e9));
my $xkey = "ok-$k" . '_min100000_day1000000';
my $skey = "isp-$k" . "_c${n}_d150";
my $ca   = "$fake_dir/certs/ca.pem";

sub xero_ledger { return decode_json(`curl -s --cacert $ca $xero/s/$xkey/_state`); }

# Splynx's payments from Xero, by receipt_number (Basic auth with the fake's second key)
sub splynx_receipts
{
	my $list = decode_json(`curl -s --cacert $ca -u basic-key:basic-secret '$splynx/s/$skey/api/2.0/admin/finance/payments?limit=1000&offset=0'`);
	my %r;
	$r{$_->{receipt_number}}++ for grep { $_->{receipt_number} =~ /^xero:/ } @$list;
	return \%r;
}

my $tenant = xero_ledger()->{tenant_id};
$node->safe_psql($db, qq{
SELECT billing.add_source('books', 'xero', '$xero/s/$xkey/api.xro/2.0', '{"client_id": "c", "client_secret": "s"}',
       '{"token_url": "$xero/s/$xkey/connect/token", "tenant_id": "$tenant", "max_requests_per_second": 200, "per_page": 100}');
SELECT billing.add_source('isp', 'splynx', '$splynx/s/$skey/api/2.0', '{"api_key": "splynx-key", "api_secret": "splynx-secret"}',
       '{"currency": "EUR", "max_requests_per_second": 200, "per_page": 200, "push_to": "books", "payment_mode": "xero"}');
INSERT INTO billing.accounting_maps (source_id, map_kind, local_key, remote_code) VALUES
    (NULL, 'account', 'sales', '200'), (NULL, 'account', 'rounding', '860'), (NULL, 'tax_rate', '20%', 'OUTPUT2'),
    (NULL, 'category_account', '1', '200'), (NULL, 'splynx_payment_type', '*', '1');
});
$node->safe_psql($db, "CALL billing.sync('isp')");
$node->safe_psql($db, "CALL billing.push('books')");
is($node->safe_psql($db, "SELECT count(*) FROM billing.outbox WHERE doc_kind = 'invoice' AND state = 'confirmed'"), 3 * $n,
	3 * $n . ' invoices pushed to Xero (no payments: mode xero)');

# every subscriber pays March in Xero: one PUT of $n payments
my @open = grep { $_->{Status} eq 'AUTHORISED' && $_->{Reference} =~ /3$/ } @{ xero_ledger()->{invoices} };	# March (ISP-xxxx3)
my $token = decode_json(`curl -s --cacert $ca -u c:s -d grant_type=client_credentials $xero/s/$xkey/connect/token`)->{access_token};
my $body = encode_json({ Payments => [ map { { Invoice => { InvoiceID => $_->{InvoiceID} }, Account => { Code => '090' },
	Date => '2024-03-20', Amount => $_->{AmountDue}, Reference => 'card' } } @open ] });
open(my $fh, '>', "$ENV{TESTDIR}/payments.json") or die;
print $fh $body;
close $fh;
my $put = decode_json(`curl -s --cacert $ca -X PUT -H 'Authorization: Bearer $token' -H 'xero-tenant-id: $tenant' -H 'Content-Type: application/json' -H 'Accept: application/json' --data-binary \@$ENV{TESTDIR}/payments.json '$xero/s/$xkey/api.xro/2.0/Payments'`);
is(scalar(@{ $put->{Payments} }), $n, "$n payments taken in Xero");

my $kills = 0;
for my $round (1 .. 6)
{
	my $before = $node->safe_psql($db, "SELECT coalesce(max(id), 0) FROM billing.splynx_post_runs");
	$node->safe_psql($db, "SELECT billing.request_sync('books')");
	# inside a post: a run of this round has a payment on the wire (each answer takes 150 ms)
	pgb_wait($node, $db, "SELECT EXISTS (SELECT FROM billing.splynx_posts p, billing.splynx_post_runs r WHERE r.id > $before"
		. " AND p.state = 'sending' AND p.updated_at > r.started_at)"
		. " OR (SELECT count(*) FROM billing.splynx_posts WHERE state = 'posted') = $n")
	  or next;
	last if $node->safe_psql($db, "SELECT count(*) FROM billing.splynx_posts WHERE state = 'posted'") == $n;
	usleep(int(rand(200_000)));
	pgb_kill_server($node);
	pgb_restart_after_kill($node) or BAIL_OUT('server did not start after SIGKILL');
	$kills++;
}
note "report: $kills SIGKILLs of the server mid-post";
cmp_ok($kills, '>=', 3, 'at least three kills happened mid-post');

# post to completion (the worker may be posting too: then the next try)
for my $try (1 .. 60)
{
	last if $node->safe_psql($db, "SELECT count(*) FROM billing.splynx_posts WHERE state = 'posted'") == $n;
	$node->psql($db, "CALL billing.splynx_post('isp')");
	usleep(1_000_000);
}
is($node->safe_psql($db, "SELECT count(*) FROM billing.splynx_posts WHERE state = 'posted' AND remote_id IS NOT NULL"), $n,
	"all $n posts posted with Splynx's id");
my $r = splynx_receipts();
is(scalar(keys %$r), $n, "Splynx holds the $n Xero payments");
is(scalar(grep { $_ > 1 } values %$r), 0, '0 duplicates in Splynx');
is($node->safe_psql($db, "SELECT count(DISTINCT remote_id) FROM billing.splynx_posts"), $n, 'each post has its own Splynx payment');
note 'runs: ' . $node->safe_psql($db, "SELECT string_agg(format('%s %s %s posted %s found %s %s', id, trigger, status, posted, found, coalesce(error, '')), '; ' ORDER BY id) FROM billing.splynx_post_runs");
$node->stop;
done_testing();
