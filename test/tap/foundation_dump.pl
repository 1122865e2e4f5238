# pg_dump keeps what users and syncs put in pg_billing's tables, and a restored database goes on
# handing out fresh ids (the identity sequences are dumped too).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->start;

$node->safe_psql('postgres', q{
    CREATE DATABASE original;
    CREATE DATABASE restored;
});
$node->safe_psql('original', q{
    CREATE EXTENSION pg_billing;
    SELECT billing.add_source('book', 'manual');
    SELECT billing.add_source('vendor', 'advanced_billing', 'https://acme.chargify.com', '{"api_key": "k"}');
    INSERT INTO billing.manual_customers (source, external_id, name, currency) VALUES ('book', 'c1', 'Acme', 'USD');
    INSERT INTO billing.manual_invoices (source, external_id, customer, issue_date, currency) VALUES ('book', 'i1', 'c1', '2026-01-01', 'USD');
    INSERT INTO billing.manual_invoice_lines (source, invoice, external_id, kind, subtotal, period_start, period_end)
    VALUES ('book', 'i1', 'l1', 'plan', 100, '2026-01-01', '2026-02-01');
    SELECT billing.set_setting('past_due_days', '10');
});

my $dump = $node->basedir . '/original.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('original') ], 'pg_dump of a database with pg_billing');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('restored'), $dump ], 'pg_restore into an empty database');

is($node->safe_psql('restored', q{SELECT string_agg(name || ':' || kind, ',' ORDER BY id) FROM billing.sources}),
   'book:manual,vendor:advanced_billing', 'sources are restored');
is($node->safe_psql('restored', q{SELECT string_agg(source_id || ':' || coalesce(secret ->> 'api_key', '-'), ',' ORDER BY source_id) FROM billing._credentials}), '1:-,2:k', 'credentials are restored');
is($node->safe_psql('restored', q{SELECT count(*) || ' ' || sum(amount) FROM billing.invoice_lines}), '1 100', 'invoice lines are restored');
is($node->safe_psql('restored', q{SELECT value FROM billing.settings WHERE key = 'past_due_days'}), '10', 'a changed setting is restored');
is($node->safe_psql('restored', q{SELECT value FROM billing.settings WHERE key = 'recognition'}), 'daily', 'an unchanged setting keeps its default');
is($node->safe_psql('restored', q{SELECT billing.add_source('book2', 'manual')}), '3', 'a restored database hands out the next source id');
is($node->safe_psql('restored', q{
    INSERT INTO billing.manual_customers (source, external_id, name) VALUES ('book', 'c2', 'Beta');
    SELECT string_agg(id || ':' || external_id, ',' ORDER BY id) FROM billing.customers}),
   '1:c1,2:c2', 'and the next customer id');

$node->stop;
done_testing();
