#!/usr/bin/env python3
"""Prints the ledger of one organisation of the fake Xero (test/fake/xero_fake.py) as tab-separated
rows, for the demo's tie-out (tools/demo/xero_tieout.sql reads them with \\copy ... FROM pstdin):

    xero_ledger.py ORG_URL CA_FILE        (ORG_URL: https://127.0.0.1:PORT/s/<key>)

    kind  reference  currency  total  due  status

kind: contact, invoice (ACCREC), credit_note (ACCRECCREDIT), payment (to an invoice), refund (a cash
refund of a credit note), allocation; total: the document's Total or the amount paid or allocated;
due: AmountDue of an invoice, RemainingCredit of a credit note, else 0. A payment's currency is its
document's. Amounts as Xero states them (two decimals).
"""
import json
import ssl
import sys
import urllib.request


def main():
    url, ca = sys.argv[1], sys.argv[2]
    ctx = ssl.create_default_context(cafile=ca)
    with urllib.request.urlopen(url + "/_state", context=ctx, timeout=60) as r:
        st = json.load(r)
    cur = {}
    rows = []
    for c in st["contacts"]:
        rows.append(("contact", c.get("ContactNumber") or c["Name"], "", "0", "0", c.get("ContactStatus", "")))
    for i in st["invoices"]:
        cur[i["InvoiceID"]] = i.get("CurrencyCode", "")
        rows.append(("invoice" if i["Type"] == "ACCREC" else "bill", i.get("Reference") or i["InvoiceNumber"],
                     i.get("CurrencyCode", ""), "%.2f" % i["Total"], "%.2f" % i["AmountDue"], i["Status"]))
    for c in st["credit_notes"]:
        cur[c["CreditNoteID"]] = c.get("CurrencyCode", "")
        rows.append(("credit_note", c.get("Reference") or c["CreditNoteNumber"], c.get("CurrencyCode", ""),
                     "%.2f" % c["Total"], "%.2f" % c["RemainingCredit"], c["Status"]))
    for p in st["payments"]:
        doc = p.get("Invoice") or p.get("CreditNote") or {}
        kind = "refund" if "CreditNote" in p else "payment"
        rows.append((kind, p.get("Reference") or "", cur.get(doc.get("InvoiceID") or doc.get("CreditNoteID"), ""),
                     "%.2f" % p["Amount"], "0", p["Status"]))
    for a in st["allocations"]:
        rows.append(("allocation", "%s>%s" % (a["CreditNote"]["CreditNoteNumber"], a["Invoice"]["InvoiceNumber"]),
                     cur.get(a["Invoice"]["InvoiceID"], ""), "%.2f" % a["Amount"], "0", ""))
    for t in st["tax_rates"]:
        rows.append(("tax_rate", t["Name"], "", t.get("EffectiveRate", "0"), "0", t.get("TaxType", "")))
    for r in rows:
        print("\t".join(str(x).replace("\t", " ").replace("\n", " ").replace("\\", "/") for x in r))


if __name__ == "__main__":
    main()
