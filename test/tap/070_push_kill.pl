# Exactly once under SIGKILL (issue 11 item 7): the whole server is killed at random moments while
# a worker pushes 600 contacts and 600 invoices (12 batches of 50 each: 6 rounds of sends) to the fake Xero, restarted, and the push resumed.
# The fake runs scenario noidem (it ignores Idempotency-Key) and answers slowly (1.5 s: batched look-ups
# resolve a killed round in one call per 25 documents, so with a faster fake a run ends before the next kill), so a kill often
# lands after a write and before its answer is recorded: only the driver's look-ups by natural
# key prevent a duplicate. At the end: every document confirmed, and 0 duplicates in Xero's ledger.
use strict;
use warnings;
use lib "$ENV{PGB_SRC}/test/tap";
use PgbTest;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use Time::HiRes qw(usleep);

my $conf = $ENV{PGB_TEST_CONF} // '';
my ($xero) = $conf =~ /pgb_test\.xero_url = '([^']+)'/;
my ($fake_dir) = $conf =~ /pgb_test\.fake_dir = '([^']+)'/;
plan skip_all => 'the fake Xero is not running (PGB_TEST_CONF has no pgb_test.xero_url)' unless $xero && $fake_dir;

my $seed = $ENV{PGB_SEED} // int(time);
srand($seed);
note "random seed $seed (PGB_SEED reproduces it)";

my $node = pgb_node('pushkill', conf => "$conf\n");
my $db   = 'billing';
my $n    = 600;
my $key  = 'noidem-k' . int(rand(1e9)) . '_d1500_min100000_day1000000_con5';

sub ledger
{
	my $out = `curl -s --cacert $fake_dir/certs/ca.pem $xero/s/$key/_state`;
	return decode_json($out);
}

my $tenant = ledger()->{tenant_id};
$node->safe_psql($db, qq{
SELECT billing.add_source('books', 'xero', '$xero/s/$key/api.xro/2.0', '{"client_id": "c", "client_secret": "s"}');
UPDATE billing.sources SET options = '{"token_url": "$xero/s/$key/connect/token", "tenant_id": "$tenant"}' WHERE name = 'books';
SELECT billing.add_source('site', 'advanced_billing', 'https://site.chargify.com', '{"api_key": "k"}', '{"statements": true, "push_to": "books"}');
INSERT INTO billing.accounting_maps (source_id, map_kind, local_key, remote_code) VALUES
    (NULL, 'account', 'sales', '200'), (NULL, 'account', 'rounding', '860'), (NULL, 'tax_rate', 'VAT 20%', 'OUTPUT2');
BEGIN;
INSERT INTO billing.customers (source_id, external_id, name, currency)
SELECT billing._source_id('site'), g::text, 'Customer ' || g, 'GBP' FROM generate_series(1, $n) g;
INSERT INTO billing.statements (source_id, external_id, customer_id, opened_at, closed_at, starting_balance, total, currency)
SELECT c.source_id, 'st' || c.external_id, c.id, '2024-01-01', '2024-02-01', 0, 12.00, 'GBP' FROM billing.customers c;
INSERT INTO billing.invoices (source_id, external_id, customer_id, statement_id, issue_date, currency, total)
SELECT s.source_id, 'inv_' || s.external_id, s.customer_id, s.id, '2024-02-01', 'GBP', 12.00 FROM billing.statements s;
INSERT INTO billing.invoice_lines (invoice_id, external_id, line_no, kind, description, quantity, unit_price, subtotal, discount, tax, total, tax_code, period_start, period_end)
SELECT i.id, 'li_' || i.external_id, 1, 'plan', 'Plan', 1, 10, 10.00, 0, 2.00, 12.00, 'VAT 20%', '2024-01-01', '2024-02-01' FROM billing.invoices i;
COMMIT;
});
is($node->safe_psql($db, "SELECT count(*) FROM billing.outbox WHERE state = 'pending'"), 2 * $n, "$n contacts and $n invoices to push");

my $kills = 0;
for my $round (1 .. 6)
{
	my $before = $node->safe_psql($db, "SELECT coalesce(max(id), 0) FROM billing.push_runs");
	$node->safe_psql($db, "SELECT billing.request_sync('books')");
	# inside a send: documents this run claimed are in flight (each answer takes 300 ms or more)
	pgb_wait($node, $db, "SELECT count(*) > 0 FROM billing.outbox o, billing.push_runs r WHERE r.id > $before"
		. " AND o.state = 'in_flight' AND o.updated_at > r.started_at OR NOT EXISTS (SELECT FROM billing.outbox WHERE state <> 'confirmed')")
	  or next;
	last if $node->safe_psql($db, "SELECT count(*) FROM billing.outbox WHERE state <> 'confirmed'") == 0;
	usleep(int(rand(120_000)));
	pgb_kill_server($node);
	pgb_restart_after_kill($node) or BAIL_OUT('server did not start after SIGKILL');
	$kills++;
}
note "report: $kills SIGKILLs of the server mid-push";
cmp_ok($kills, '>=', 3, 'at least three kills happened mid-push');

# push to completion
for my $try (1 .. 10)
{
	last if $node->safe_psql($db, "SELECT count(*) FROM billing.outbox WHERE state <> 'confirmed'") == 0;
	$node->psql($db, "CALL billing.push('books')");	# may meet a worker's push: then the next try
}
is($node->safe_psql($db, "SELECT count(*) FROM billing.outbox WHERE state = 'confirmed' AND remote_id IS NOT NULL"), 2 * $n,
	'every document confirmed with Xero\'s id');

my $l = ledger();
my (%contacts, %invoices);
$contacts{$_->{ContactNumber}}++ for @{$l->{contacts}};
$invoices{$_->{Reference}}++ for @{$l->{invoices}};
is(scalar(@{$l->{contacts}}), $n, "Xero holds $n contacts");
is(scalar(grep { $_ > 1 } values %contacts), 0, '0 duplicate contacts');
is(scalar(@{$l->{invoices}}), $n, "Xero holds $n invoices");
is(scalar(grep { $_ > 1 } values %invoices), 0, '0 duplicate invoices');
is($node->safe_psql($db, "SELECT count(*) FROM billing.outbox o WHERE o.doc_kind = 'invoice'"
	. " AND o.remote_id NOT IN (" . join(',', map { "'$_->{InvoiceID}'" } @{$l->{invoices}}) . ")"), 0,
	'every confirmed invoice holds the id of the invoice Xero has');
my $total = 0;
$total += $_->{Total} for @{$l->{invoices}};
is(sprintf('%.2f', $total), sprintf('%.2f', 12 * $n), 'Xero totals = source totals (' . (12 * $n) . '.00)');
note 'runs: ' . $node->safe_psql($db, "SELECT string_agg(format('%s %s %s docs %s lookups %s %s', id, trigger, status, documents, lookups, coalesce(error, '')), '; ' ORDER BY id) FROM billing.push_runs");
$node->stop;
done_testing();
