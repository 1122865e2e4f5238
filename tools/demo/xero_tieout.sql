-- The tie-out of the demo's push: the fake Xero's ledger (tools/demo/xero_ledger.py, on stdin)
-- against the source's figures for the same documents, per currency. psql variable: since.
CREATE TEMP TABLE xero_ledger (kind text, reference text, currency text, total numeric, due numeric, status text);
\copy xero_ledger FROM pstdin

\echo == Documents in Xero now (the ledger of the fake Xero organisation)
SELECT kind, currency, status, count(*) AS documents, sum(total) AS total, sum(due) AS due
  FROM xero_ledger WHERE kind <> 'tax_rate' GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;

\echo == Tie-out per currency: Xero = source (invoices issued since :since, their payments, refunds since then)
-- A source invoice with negative lines is, in Xero, an invoice of its other lines and a credit note
-- "<number>-CR" of the negative ones allocated to it (docs/push-xero.md): both are shown.
WITH src AS (
    SELECT i.*, coalesce((SELECT -sum(l.total) FROM billing.invoice_lines l WHERE l.invoice_id = i.id AND l.total < 0), 0) AS negative
      FROM billing.invoices i
     WHERE i.source_id = billing._source_id('demo-sandbox') AND i.direction = 'receivable' AND i.deleted_at IS NULL
       AND i.issue_date >= :'since' AND i.status IN ('draft', 'open', 'pending', 'paid')),
x AS (SELECT * FROM xero_ledger),
figures (currency, ord, figure, source, xero) AS (
    SELECT currency, 1, 'invoices', count(*)::numeric, NULL::numeric FROM src GROUP BY 1
    UNION ALL SELECT currency, 2, 'positive lines (Xero invoices)', sum(total + negative), NULL FROM src GROUP BY 1
    UNION ALL SELECT currency, 3, 'negative lines (credit notes -CR, allocated)', sum(negative), NULL FROM src GROUP BY 1
    UNION ALL SELECT currency, 4, 'invoiced, net, incl. tax', sum(total), NULL FROM src GROUP BY 1
    UNION ALL SELECT p.currency, 5, 'payments received', sum(p.amount), NULL
                FROM billing.payments p JOIN src ON src.id = p.invoice_id WHERE p.deleted_at IS NULL GROUP BY 1
    UNION ALL SELECT currency, 6, 'still due', sum(due), NULL FROM src GROUP BY 1
    UNION ALL SELECT r.currency, 7, 'refunds (credit notes, paid out)', sum(r.amount), NULL
                FROM billing.refunds r WHERE r.source_id = billing._source_id('demo-sandbox') AND r.refund_date >= :'since' GROUP BY 1
    UNION ALL SELECT currency, 1, 'invoices', NULL, count(*) FROM x WHERE kind = 'invoice' GROUP BY 1
    UNION ALL SELECT currency, 2, 'positive lines (Xero invoices)', NULL, sum(total) FROM x WHERE kind = 'invoice' GROUP BY 1
    UNION ALL SELECT currency, 3, 'negative lines (credit notes -CR, allocated)', NULL,
                     sum(total) FILTER (WHERE reference LIKE '%-CR') FROM x WHERE kind = 'credit_note' GROUP BY 1
    UNION ALL SELECT currency, 4, 'invoiced, net, incl. tax', NULL,
                     sum(CASE WHEN kind = 'invoice' THEN total ELSE -total END)
                FROM x WHERE kind = 'invoice' OR (kind = 'credit_note' AND reference LIKE '%-CR') GROUP BY 1
    UNION ALL SELECT currency, 5, 'payments received', NULL, sum(total) FROM x WHERE kind = 'payment' GROUP BY 1
    UNION ALL SELECT currency, 6, 'still due', NULL, sum(due) FROM x WHERE kind = 'invoice' GROUP BY 1
    UNION ALL SELECT currency, 7, 'refunds (credit notes, paid out)', NULL, sum(total) FROM x WHERE kind = 'refund' GROUP BY 1)
SELECT currency, figure, sum(source) AS source, sum(xero) AS xero,
       CASE WHEN coalesce(sum(source), 0) = coalesce(sum(xero), 0) THEN 'ties out' ELSE 'DIFFERS' END AS check
  FROM figures GROUP BY currency, ord, figure ORDER BY currency, ord;

\echo == Invoice by invoice (Reference = invoice number): Xero invoice less its -CR credit note = source total, amount due = source due
SELECT i.currency, count(*) AS invoices,
       count(*) FILTER (WHERE x.reference IS NULL) AS missing_in_xero,
       count(*) FILTER (WHERE x.total - coalesce(cr.total, 0) <> i.total OR x.due <> i.due) AS differing,
       (SELECT count(*) FROM (SELECT d.reference FROM xero_ledger d WHERE d.kind = 'invoice' AND d.currency = i.currency
                               GROUP BY 1 HAVING count(*) > 1) dup) AS duplicated
  FROM billing.invoices i
  LEFT JOIN xero_ledger x ON x.kind = 'invoice' AND x.reference = i.number
  LEFT JOIN xero_ledger cr ON cr.kind = 'credit_note' AND cr.reference = i.number || '-CR'
 WHERE i.source_id = billing._source_id('demo-sandbox') AND i.direction = 'receivable' AND i.deleted_at IS NULL
   AND i.issue_date >= :'since' AND i.status IN ('draft', 'open', 'pending', 'paid')
 GROUP BY 1 ORDER BY 1;
