"""The ledger the fake Xero serves to the pull tests (test/pgtap/xero_pull.sql), python3 stdlib only.

Scenarios (the part of the site key before "-", see xero_fake.py):
    pull         the organisation below; the first Invoices list that carries If-Modified-Since
                 finds invoice INV-0001 paid in full since (a new payment), so a second, incremental
                 sync picks up exactly that invoice and that payment
    pullbad      the same, but invoice INV-0002 has "Date": "2024-02-10" (not an MS-JSON date)
    pullbadline  the same, but line 2 of INV-0001 has "LineAmount": "forty-five"
Every pull site uses the tenant id TENANT. Amounts and dates are fixed, so the tests can assert
exact rows; the figures are worked out in the test.
"""
import datetime as dt

TENANT = "7e7e0000-0000-4000-8000-00000000a001"


def ms(iso):
    """'2024-01-15' or '2024-03-05T10:00:00' (UTC) → '/Date(ms+0000)/'."""
    d = dt.datetime.fromisoformat(iso).replace(tzinfo=dt.timezone.utc)
    return "/Date(%d+0000)/" % int(d.timestamp() * 1000)


def gid(kind, n):
    return "%s0000000-0000-4000-8000-%012d" % (kind, n)


C1, C2, C3 = gid("c", 1), gid("c", 2), gid("c", 3)
I1, I2, I3, I4 = gid("a", 1), gid("a", 2), gid("a", 3), gid("a", 4)
N1, N2 = gid("b", 1), gid("b", 2)


def contact(cid, name, number, email, status, updated):
    c = {"ContactID": cid, "Name": name, "ContactStatus": status, "UpdatedDateUTC": ms(updated), "IsCustomer": True}
    if number:
        c["ContactNumber"] = number
    if email:
        c["EmailAddress"] = email
    return c


def line(n, doc, desc, qty, unit, amount, tax_type, tax, item=None):
    li = {"LineItemID": gid("d", doc * 10 + n), "Description": desc, "Quantity": qty, "UnitAmount": unit,
          "LineAmount": amount, "TaxType": tax_type, "TaxAmount": tax, "AccountCode": "200"}
    if item:
        li["ItemCode"] = item
    return li


def base():
    contacts = [
        contact(C1, "Alpha Ltd", "CUST-1", "ap@alpha.example", "ACTIVE", "2024-03-01T10:00:00"),
        contact(C2, "Beta Supplies", None, None, "ARCHIVED", "2024-03-01T11:00:00"),
        contact(C3, "Gamma GmbH", "CUST-3", "gamma@gamma.example", "ACTIVE", "2024-03-02T09:00:00"),
    ]
    ref = lambda cid, name: {"ContactID": cid, "Name": name}
    invoices = [
        {"InvoiceID": I1, "InvoiceNumber": "INV-0001", "Type": "ACCREC", "Contact": ref(C1, "Alpha Ltd"),
         "Status": "AUTHORISED", "LineAmountTypes": "Exclusive", "Date": ms("2024-01-15"), "DueDate": ms("2024-02-14"),
         "CurrencyCode": "GBP", "LineItems": [line(1, 1, "Consulting", 10.0, 95.5, 955.0, "OUTPUT2", 191.0, "CONS"),
                                              line(2, 1, "Setup fee", 1.0, 45.0, 45.0, "NONE", 0.0)],
         "SubTotal": 1000.0, "TotalTax": 191.0, "Total": 1191.0, "AmountPaid": 0.0, "AmountCredited": 70.0,
         "AmountDue": 1121.0, "UpdatedDateUTC": ms("2024-03-05T10:00:00")},
        {"InvoiceID": I2, "InvoiceNumber": "INV-0002", "Type": "ACCREC", "Contact": ref(C3, "Gamma GmbH"),
         "Status": "PAID", "LineAmountTypes": "Inclusive", "Date": ms("2024-02-10"), "DueDate": ms("2024-02-24"),
         "FullyPaidOnDate": ms("2024-02-20"), "CurrencyCode": "GBP",
         "LineItems": [line(1, 2, "Licence", 1.0, 120.0, 120.0, "OUTPUT2", 20.0)],
         "SubTotal": 100.0, "TotalTax": 20.0, "Total": 120.0, "AmountPaid": 120.0, "AmountCredited": 0.0,
         "AmountDue": 0.0, "UpdatedDateUTC": ms("2024-03-05T11:00:00")},
        {"InvoiceID": I3, "InvoiceNumber": "BILL-77", "Type": "ACCPAY", "Contact": ref(C2, "Beta Supplies"),
         "Status": "AUTHORISED", "LineAmountTypes": "Exclusive", "Date": ms("2024-01-20"), "DueDate": ms("2024-02-19"),
         "CurrencyCode": "GBP", "LineItems": [line(1, 3, "Office chairs", 2.0, 150.25, 300.5, "INPUT2", 60.1)],
         "SubTotal": 300.5, "TotalTax": 60.1, "Total": 360.6, "AmountPaid": 100.0, "AmountCredited": 0.0,
         "AmountDue": 260.6, "UpdatedDateUTC": ms("2024-03-05T12:00:00")},
        {"InvoiceID": I4, "InvoiceNumber": "INV-0003", "Type": "ACCREC", "Contact": ref(C1, "Alpha Ltd"),
         "Status": "DRAFT", "LineAmountTypes": "Exclusive", "Date": ms("2024-02-28"), "CurrencyCode": "GBP",
         "LineItems": [line(1, 4, "Draft work", 1.0, 500.0, 500.0, "OUTPUT2", 100.0)],
         "SubTotal": 500.0, "TotalTax": 100.0, "Total": 600.0, "AmountPaid": 0.0, "AmountCredited": 0.0,
         "AmountDue": 600.0, "UpdatedDateUTC": ms("2024-03-05T13:00:00")},
    ]
    credit_notes = [
        {"CreditNoteID": N1, "CreditNoteNumber": "CN-0001", "Type": "ACCRECCREDIT", "Contact": ref(C1, "Alpha Ltd"),
         "Status": "PAID", "LineAmountTypes": "Exclusive", "Date": ms("2024-02-05"), "CurrencyCode": "GBP",
         "Reference": "Goodwill", "LineItems": [line(1, 5, "Discount on consulting", 1.0, 100.0, 100.0, "OUTPUT2", 20.0)],
         "SubTotal": 100.0, "TotalTax": 20.0, "Total": 120.0, "AppliedAmount": 70.0, "RemainingCredit": 0.0,
         "Allocations": [{"AllocationID": gid("e", 1), "Amount": 70.0, "Date": ms("2024-02-06"),
                          "Invoice": {"InvoiceID": I1, "InvoiceNumber": "INV-0001"}, "IsDeleted": False}],
         "UpdatedDateUTC": ms("2024-03-06T10:00:00")},
        {"CreditNoteID": N2, "CreditNoteNumber": "CN-B1", "Type": "ACCPAYCREDIT", "Contact": ref(C2, "Beta Supplies"),
         "Status": "AUTHORISED", "LineAmountTypes": "NoTax", "Date": ms("2024-01-25"), "CurrencyCode": "GBP",
         "LineItems": [line(1, 6, "Returned chair", 1.0, 50.0, 50.0, "NONE", 0.0)],
         "SubTotal": 50.0, "TotalTax": 0.0, "Total": 50.0, "AppliedAmount": 0.0, "RemainingCredit": 50.0,
         "Allocations": [], "UpdatedDateUTC": ms("2024-03-06T11:00:00")},
    ]
    payments = [
        {"PaymentID": gid("f", 1), "Date": ms("2024-02-20"), "Amount": 120.0, "Reference": "Card 4242",
         "Status": "AUTHORISED", "PaymentType": "ACCRECPAYMENT", "Invoice": {"InvoiceID": I2, "InvoiceNumber": "INV-0002"},
         "UpdatedDateUTC": ms("2024-03-07T10:00:00")},
        {"PaymentID": gid("f", 2), "Date": ms("2024-02-07"), "Amount": 50.0, "Reference": "Refund CN-0001",
         "Status": "AUTHORISED", "PaymentType": "ARCREDITPAYMENT",
         "CreditNote": {"CreditNoteID": N1, "CreditNoteNumber": "CN-0001"}, "UpdatedDateUTC": ms("2024-03-07T11:00:00")},
        {"PaymentID": gid("f", 3), "Date": ms("2024-02-01"), "Amount": 100.0, "Status": "AUTHORISED",
         "PaymentType": "ACCPAYPAYMENT", "Invoice": {"InvoiceID": I3, "InvoiceNumber": "BILL-77"},
         "UpdatedDateUTC": ms("2024-03-07T09:00:00")},
    ]
    return contacts, invoices, credit_notes, payments


def load(site):
    """Fills a pull site's ledger (called once, when the site is created)."""
    site.tenant = TENANT
    site.contacts, site.invoices, site.credit_notes, site.payments = base()
    if site.scenario == "pullbad":
        site.invoices[1]["Date"] = "2024-02-10"
    if site.scenario == "pullbadline":
        site.invoices[0]["LineItems"][1]["LineAmount"] = "forty-five"
    site.pull_changed = False


def before_list(site, plural, since):
    """The change the second, incremental sync finds: INV-0001 paid in full on 2024-03-10."""
    if plural != "Invoices" or since is None or site.pull_changed:
        return
    site.pull_changed = True
    inv = site.invoices[0]
    inv.update({"Status": "PAID", "AmountPaid": 1121.0, "AmountDue": 0.0, "FullyPaidOnDate": ms("2024-03-10"),
                "UpdatedDateUTC": ms("2024-04-01T09:00:00")})
    site.payments.append({"PaymentID": gid("f", 5), "Date": ms("2024-03-10"), "Amount": 1121.0, "Reference": "BACS",
                          "Status": "AUTHORISED", "PaymentType": "ACCRECPAYMENT",
                          "Invoice": {"InvoiceID": I1, "InvoiceNumber": "INV-0001"},
                          "UpdatedDateUTC": ms("2024-04-01T09:00:00")})

