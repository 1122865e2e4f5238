-- Revenue, 2 of 7: where results are stored. The queue of customers to recompute and the stored
-- results per customer that the public relations read.

-- Stored results ---------------------------------------------------------------------------------

CREATE TABLE billing._revenue_dirty (
    customer_id bigint PRIMARY KEY
);
COMMENT ON TABLE billing._revenue_dirty IS 'Customers whose stored revenue results are out of date; emptied by billing.refresh_revenue().';

CREATE TABLE billing._revenue_pending (
    txid bigint PRIMARY KEY
);
COMMENT ON TABLE billing._revenue_pending IS 'One row per transaction that queued customers: its insert arms the commit-time refresh.';

CREATE UNLOGGED TABLE billing._revenue_work (
    txid        bigint NOT NULL,
    customer_id bigint NOT NULL,
    PRIMARY KEY (txid, customer_id)
);
COMMENT ON TABLE billing._revenue_work IS 'Customers being recomputed by a running refresh, keyed by its transaction.';

CREATE TABLE billing._revenue_monthly (
    customer_id          bigint NOT NULL,
    currency             text NOT NULL,
    month                date NOT NULL,
    recognized           numeric NOT NULL,
    contra               numeric NOT NULL,
    billed               numeric NOT NULL,
    deferred_end         numeric NOT NULL,
    unbilled_end         numeric NOT NULL,
    reporting_currency   text,
    recognized_reporting numeric,
    -- journal amounts of the documents issued in the month, each line split by its own sign
    ar_debit             numeric NOT NULL,
    ar_credit            numeric NOT NULL,
    deferred_debit       numeric NOT NULL,
    deferred_credit      numeric NOT NULL,
    tax_debit            numeric NOT NULL,
    tax_credit           numeric NOT NULL,
    unbilled_change      numeric NOT NULL,
    -- month-end MRR as reported (rounded once, negative as 0) and the previous month's
    mrr                  numeric NOT NULL,
    mrr_prev             numeric NOT NULL,
    mrr_reporting        numeric,
    mrr_reporting_prev   numeric,
    PRIMARY KEY (customer_id, currency, month)
);
CREATE INDEX _revenue_monthly_month ON billing._revenue_monthly (month);
COMMENT ON TABLE billing._revenue_monthly IS 'Stored result behind billing.monthly_revenue and billing.customer_mrr; one row per customer, currency and month of its range.';

CREATE TABLE billing._refund_effects (
    customer_id bigint NOT NULL,
    currency    text NOT NULL,
    invoice_id  bigint,
    refund_id   bigint NOT NULL,
    month       date NOT NULL,
    contra      numeric NOT NULL DEFAULT 0,
    excess      numeric NOT NULL DEFAULT 0,
    tax         numeric NOT NULL DEFAULT 0,
    adjust      numeric NOT NULL DEFAULT 0
);
CREATE INDEX _refund_effects_customer ON billing._refund_effects (customer_id);
COMMENT ON TABLE billing._refund_effects IS 'Rule C2a per cash refund: contra revenue, excess taken off deferred revenue, tax part, and the monthly change of the refunded invoice''s later recognition.';

CREATE TABLE billing._mrr_movements (
    customer_id      bigint NOT NULL,
    currency         text NOT NULL,
    month            date NOT NULL,
    movement         text NOT NULL,
    amount           numeric,
    reporting_amount numeric,
    PRIMARY KEY (customer_id, currency, month, movement)
);
CREATE INDEX _mrr_movements_month ON billing._mrr_movements (month);
COMMENT ON TABLE billing._mrr_movements IS 'Stored result behind billing.mrr_movements; fx rows carry only a signed reporting_amount.';
