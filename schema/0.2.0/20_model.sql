-- pg_billing 0.2.0: the data model completed for the connectors to come (shared/design/apis.md), and an
-- index behind every foreign key. Fresh installs and upgrades from 0.1.0 both run this file.

\echo Use "CREATE EXTENSION pg_billing" to load this file. \quit

-- Customers: every vendor has a customer status (Pax8 company status Active/Inactive/Deleted,
-- ConnectWise company status{name}, Splynx new/active/blocked/disabled, Xero ContactStatus
-- ACTIVE/ARCHIVED/GDPRREQUEST). Kept as the provider says it, like subscriptions.state.
ALTER TABLE billing.customers ADD COLUMN status text;
ALTER TABLE billing.customers ADD CONSTRAINT customers_status_not_blank CHECK (pg_catalog.btrim(status) <> '');
COMMENT ON COLUMN billing.customers.status IS 'Status as the provider names it (Pax8 Active/Inactive/Deleted, ConnectWise status name, Splynx new/active/blocked/disabled, Xero ACTIVE/ARCHIVED/GDPRREQUEST); null when the provider has none.';

-- Direction: Xero holds sales invoices (Type ACCREC, credit notes ACCRECCREDIT) and supplier bills
-- (ACCPAY, ACCPAYCREDIT) in the same lists. A bill is not revenue, so a stored document says which it is.
ALTER TABLE billing.invoices ADD COLUMN direction text NOT NULL DEFAULT 'receivable';
ALTER TABLE billing.invoices ADD CONSTRAINT invoices_direction_known CHECK (direction IN ('receivable', 'payable'));
COMMENT ON COLUMN billing.invoices.direction IS 'receivable (a sales invoice: Xero ACCREC, and every billing vendor''s invoice to its customer) or payable (a bill from a supplier: Xero ACCPAY). Only receivables are revenue; no connector stores payables yet.';
ALTER TABLE billing.credit_notes ADD COLUMN direction text NOT NULL DEFAULT 'receivable';
ALTER TABLE billing.credit_notes ADD CONSTRAINT credit_notes_direction_known CHECK (direction IN ('receivable', 'payable'));
COMMENT ON COLUMN billing.credit_notes.direction IS 'receivable (a credit to a customer: Xero ACCRECCREDIT, every billing vendor''s credit note) or payable (a credit from a supplier: Xero ACCPAYCREDIT).';

-- Credit notes carry an amount like payments, refunds and allocations (sql-interface.md): the money
-- credited, which is the document's total. Generated from total, so the two never disagree and every
-- connector that fills total fills it.
ALTER TABLE billing.credit_notes ADD COLUMN amount numeric GENERATED ALWAYS AS (total) STORED;
COMMENT ON COLUMN billing.credit_notes.amount IS 'Amount credited, tax included (= total; Advanced Billing total_amount, Xero Total): the figure payments, refunds and allocations call amount.';

-- Invoice lines: Pax8 invoice items carry subscriptionId; Xero lines carry TaxType (what the tax_rate
-- accounting mapping maps) and Advanced Billing products a tax_code.
ALTER TABLE billing.invoice_lines ADD COLUMN subscription_id bigint REFERENCES billing.subscriptions (id) ON DELETE SET NULL;
ALTER TABLE billing.invoice_lines ADD COLUMN tax_code text;
ALTER TABLE billing.invoice_lines ADD CONSTRAINT invoice_lines_tax_code_not_blank CHECK (pg_catalog.btrim(tax_code) <> '');
COMMENT ON COLUMN billing.invoice_lines.subscription_id IS 'The subscription this line bills, where the provider says (Pax8 item subscriptionId); an invoice may bill several.';
COMMENT ON COLUMN billing.invoice_lines.tax_code IS 'Tax code of the line as the source names it (Xero TaxType, Advanced Billing tax_code); billing.accounting_maps (map_kind tax_rate) maps it to the accounting system.';
ALTER TABLE billing.credit_note_lines ADD COLUMN tax_code text;
ALTER TABLE billing.credit_note_lines ADD CONSTRAINT credit_note_lines_tax_code_not_blank CHECK (pg_catalog.btrim(tax_code) <> '');
COMMENT ON COLUMN billing.credit_note_lines.tax_code IS 'Tax code of the line as the source names it (Xero TaxType on credit note lines).';

-- Allocations: Xero applies credit to an invoice from a credit note, an overpayment or a prepayment
-- (Allocation: CreditNote | Overpayment | Prepayment). Over- and prepayments are stored as payments
-- (billing.payments.prepayment), so an allocation comes from exactly one credit note or one payment.
ALTER TABLE billing.credit_note_allocations ALTER COLUMN credit_note_id DROP NOT NULL;
ALTER TABLE billing.credit_note_allocations ADD COLUMN payment_id bigint REFERENCES billing.payments (id) ON DELETE CASCADE;
ALTER TABLE billing.credit_note_allocations ADD CONSTRAINT credit_note_allocations_one_source
    CHECK (pg_catalog.num_nonnulls(credit_note_id, payment_id) = 1);
COMMENT ON TABLE billing.credit_note_allocations IS 'Credit applied to an invoice, from a credit note or from a prepayment or overpayment (exactly one of the two).';
COMMENT ON COLUMN billing.credit_note_allocations.credit_note_id IS 'The credit note applied; null when the credit comes from a payment.';
COMMENT ON COLUMN billing.credit_note_allocations.payment_id IS 'The prepayment or overpayment applied (Xero Allocation Prepayment/Overpayment); null when the credit comes from a credit note.';

-- Payments: Splynx payments carry credit_note_id, and Xero pays out credit notes (PaymentType
-- ARCREDITPAYMENT, with CreditNote as the target instead of Invoice).
ALTER TABLE billing.payments ADD COLUMN credit_note_id bigint REFERENCES billing.credit_notes (id) ON DELETE SET NULL;
COMMENT ON COLUMN billing.payments.credit_note_id IS 'The credit note the payment is linked to, where the provider links one (Splynx credit_note_id, Xero CreditNote target).';

-- An index behind every foreign key, so that deleting or re-keying a referenced row (a source, a
-- customer, a product) does not scan the referencing table. Partial where the column is mostly null.
CREATE INDEX alerts_source ON billing.alerts (source_id) WHERE source_id IS NOT NULL;
CREATE INDEX customers_parent ON billing.customers (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX subscriptions_contract ON billing.subscriptions (contract_id) WHERE contract_id IS NOT NULL;
CREATE INDEX subscriptions_product ON billing.subscriptions (product_id) WHERE product_id IS NOT NULL;
CREATE INDEX statements_subscription ON billing.statements (subscription_id) WHERE subscription_id IS NOT NULL;
CREATE INDEX invoice_lines_product ON billing.invoice_lines (product_id) WHERE product_id IS NOT NULL;
CREATE INDEX invoice_lines_subscription ON billing.invoice_lines (subscription_id) WHERE subscription_id IS NOT NULL;
CREATE INDEX credit_notes_subscription ON billing.credit_notes (subscription_id) WHERE subscription_id IS NOT NULL;
CREATE INDEX credit_note_allocations_customer ON billing.credit_note_allocations (customer_id, allocated_on);
CREATE INDEX credit_note_allocations_payment ON billing.credit_note_allocations (payment_id) WHERE payment_id IS NOT NULL;
CREATE INDEX payments_credit_note ON billing.payments (credit_note_id) WHERE credit_note_id IS NOT NULL;
CREATE INDEX refunds_payment ON billing.refunds (payment_id) WHERE payment_id IS NOT NULL;
CREATE INDEX refunds_credit_note ON billing.refunds (credit_note_id) WHERE credit_note_id IS NOT NULL;
CREATE INDEX product_map_psa_source ON billing.product_map (psa_source_id);
CREATE INDEX outbox_origin_source ON billing.outbox (origin_source_id) WHERE origin_source_id IS NOT NULL;
COMMENT ON INDEX billing.alerts_source IS 'Foreign key index: alerts of a source.';
COMMENT ON INDEX billing.customers_parent IS 'Foreign key index: children of a customer.';
COMMENT ON INDEX billing.subscriptions_contract IS 'Foreign key index: subscriptions of a contract.';
COMMENT ON INDEX billing.subscriptions_product IS 'Foreign key index: subscriptions of a product.';
COMMENT ON INDEX billing.statements_subscription IS 'Foreign key index: statements of a subscription.';
COMMENT ON INDEX billing.invoice_lines_product IS 'Foreign key index: invoice lines of a product.';
COMMENT ON INDEX billing.invoice_lines_subscription IS 'Foreign key index: invoice lines of a subscription.';
COMMENT ON INDEX billing.credit_notes_subscription IS 'Foreign key index: credit notes of a subscription.';
COMMENT ON INDEX billing.credit_note_allocations_customer IS 'Foreign key index: allocations of a customer, by date.';
COMMENT ON INDEX billing.credit_note_allocations_payment IS 'Foreign key index: allocations from a prepayment or overpayment.';
COMMENT ON INDEX billing.payments_credit_note IS 'Foreign key index: payments linked to a credit note.';
COMMENT ON INDEX billing.refunds_payment IS 'Foreign key index: refunds of a payment.';
COMMENT ON INDEX billing.refunds_credit_note IS 'Foreign key index: refunds paid out of a credit note.';
COMMENT ON INDEX billing.product_map_psa_source IS 'Foreign key index: product mappings to a PSA source.';
COMMENT ON INDEX billing.outbox_origin_source IS 'Foreign key index: outbox documents from a billing source.';
