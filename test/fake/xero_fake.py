#!/usr/bin/env python3
"""A stateful fake Xero (accounting API + OAuth2 token endpoint) for pg_billing's tests, python3
standard library only. It keeps a ledger per organisation, so a push driver can be tested for
exactly-once delivery: what was created, how often, and what a lost response left behind.

Every test gets its own organisation, chosen by the path prefix (like test/fake/maxio_fake.py):

    token URL   https://127.0.0.1:PORT/s/<scenario>-<nonce>/connect/token
    base URL    https://127.0.0.1:PORT/s/<scenario>-<nonce>/api.xro/2.0
    tenants     https://127.0.0.1:PORT/s/<scenario>-<nonce>/connections
    ledger      https://127.0.0.1:PORT/s/<scenario>-<nonce>/_state        (GET; no auth)

Numbers in the nonce tune the organisation (all optional, any order, e.g. "ok-t1_tok5_min10"):
    _tok<S>   access tokens live S seconds (default 1800)
    _min<N>   requests per minute window (default 60)      _mw<S>  minute window in seconds (default 60)
    _day<N>   requests per day window (default 5000)       _dw<S>  day window in seconds (default 86400)
    _con<N>   requests in flight at once (default 5)       _d<MS>  every API answer waits MS ms
    _n<K>     how many requests a fault scenario hits (default 1)

Scenarios:
    ok       nothing wrong
    lost     the first K writes (PUT/POST) are carried out, then the connection is closed without an
             answer: the documents exist, the client does not know (look them up before sending again)
    e503     the first K writes answer 503 and change nothing        e500  every write answers 500
    slow     every API answer waits 3 s                                badauth  the token endpoint says 401
    noidem   Idempotency-Key is ignored (a replay creates again), to prove a driver's own lookups
    noid     the first K writes answer 200 with the request's documents echoed, no ids, and save
             nothing (as a mock or a broken proxy would)
    pull, pullbad, pullbadline   a fixed ledger for the pull tests (test/fake/xero_pull_fixture.py); every
             list read is also logged with its query and If-Modified-Since in <log-dir>/<key>.reads

OAuth2 (POST /connect/token, form-encoded; client id/secret as HTTP Basic or in the form):
    grant_type=client_credentials                → access token (no refresh token)
    grant_type=refresh_token&refresh_token=R     → access token and a NEW refresh token; R is then
                                                   refused (400 invalid_grant): rotation. The first
                                                   refresh token of every organisation is "rt-initial".
Accounting calls need "Authorization: Bearer <token>" (401 when missing, unknown or expired, with
WWW-Authenticate) and "xero-tenant-id" (400 when missing, 403 when not this organisation's id, which
GET /connections returns).

Limits (per organisation; token endpoint, /connections and /_state are not counted): more than
_con requests in flight, _min in the minute window or _day in the day window → 429 with Retry-After
(seconds) and X-Rate-Limit-Problem: concurrent | minute | day. Every counted answer carries
X-MinLimit-Remaining, X-DayLimit-Remaining and X-AppMinLimit-Remaining.

Endpoints (JSON only; dates in answers are MS-JSON "/Date(ms+0000)/", dates in requests "YYYY-MM-DD"
or MS-JSON):
    GET  Contacts Invoices CreditNotes Payments TaxRates Accounts  (page, pageSize, If-Modified-Since,
         where: clauses  Field=="value"  joined with AND or &&, groups of them joined with OR or ||,
         e.g. Reference=="79001", Contact.ContactNumber=="chargify_1",
         ContactNumber=="a" OR ContactNumber=="b"; IDs, InvoiceNumbers, ContactNumbers lists)
    GET  Contacts/{id} Invoices/{id or number} CreditNotes/{id or number}
    PUT  Contacts Invoices CreditNotes Payments TaxRates (create many; {"<Plural>": [...]})
    POST Contacts Invoices CreditNotes (create, or update the one named by its id)
    PUT  CreditNotes/{id}/Allocations  {"Allocations": [{"Amount", "Date", "Invoice": {"InvoiceID"}}]}
With summarizeErrors=false a batch answers 200 and each element carries HasErrors,
StatusAttributeString (OK/ERROR) and ValidationErrors; without it one bad element fails the whole
request (400 ValidationException, nothing saved). Idempotency-Key (≤ 128 characters): the same key
on the same path answers the first answer again and changes nothing.

Every request is appended to <log-dir>/<key>.log as "<unix time> <status> <method> <path> <client port>"
(never a token or secret).
"""
import argparse
import base64
import datetime as dt
import decimal
import json
import os
import re
import secrets
import socket
import ssl
import sys
import threading
import time
import uuid
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import xero_pull_fixture

LOG_DIR = "."
SITES = {}
SITES_LOCK = threading.Lock()
MAX_BODY = 3_500_000
CENT = Decimal("0.01")

ACCOUNTS = [("200", "Sales", "REVENUE", False), ("260", "Other Revenue", "REVENUE", False),
            ("090", "Business Bank Account", "BANK", True), ("091", "Business Savings Account", "BANK", True),
            ("860", "Rounding", "EXPENSE", False), ("899", "Clearing", "CURRLIAB", False),
            ("610", "Accounts Receivable", "CURRENT", False)]
TAX_RATES = [("NONE", "No VAT", "0"), ("OUTPUT2", "20% (VAT on Income)", "20"),
             ("RROUTPUT", "5% (VAT on Income)", "5"), ("ZERORATEDOUTPUT", "Zero Rated Income", "0")]


def r2(x):
    return x.quantize(CENT, rounding=decimal.ROUND_HALF_UP)


def msdate(t):
    return "/Date(%d+0000)/" % int(t.timestamp() * 1000)


def parse_date(v):
    """YYYY-MM-DD[Thh:mm:ss] or /Date(ms[+zzzz])/ → aware datetime; None when absent or invalid."""
    if not isinstance(v, str):
        return None
    m = re.match(r"^/Date\((-?\d+)([+-]\d{4})?\)/$", v)
    if m:
        return dt.datetime.fromtimestamp(int(m.group(1)) / 1000, dt.timezone.utc)
    try:
        d = dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return None
    return d if d.tzinfo else d.replace(tzinfo=dt.timezone.utc)


def parse_since(v):
    """If-Modified-Since: ISO date-time (Xero's SDKs) or an HTTP date."""
    d = parse_date(v)
    if d:
        return d
    try:
        from email.utils import parsedate_to_datetime
        return parsedate_to_datetime(v)
    except (TypeError, ValueError):
        return None


def num(v):
    """A JSON number or numeric string as an exact Decimal; None when it is not one."""
    if isinstance(v, bool) or v is None:
        return None
    try:
        d = Decimal(str(v))
    except decimal.InvalidOperation:
        return None
    return d if d.is_finite() else None


class Site:
    """One Xero organisation: its ledger, tokens, limits and fault counters."""

    def __init__(self, key):
        self.key = key
        self.scenario = key.split("-", 1)[0]
        opt = lambda name, default: int(m.group(1)) if (m := re.search(r"_%s(\d+)" % name, key)) else default
        self.token_life = opt("tok", 1800)
        self.min_limit, self.min_window = opt("min", 60), opt("mw", 60)
        self.day_limit, self.day_window = opt("day", 5000), opt("dw", 86400)
        self.con_limit = opt("con", 5)
        self.delay_ms = opt("d", 0)
        self.fault_n = opt("n", 1)
        self.tenant = str(uuid.uuid5(uuid.NAMESPACE_URL, "xero-fake:" + key))
        self.lock = threading.RLock()
        self.tokens = {}                       # access token → expiry (epoch)
        self.refresh = "rt-initial"            # the one refresh token that works now
        self.refresh_used = []                 # rotated-out tokens (refused if presented again)
        self.calls = []                        # epoch of every counted request (minute window)
        self.day_start = time.time()
        self.day_calls = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.idem = {}                         # (path, key) → (status, body)
        self.hits = {}
        self.counts = {"requests": 0, "writes": 0, "rejected_429": {}, "replays": 0, "lost": 0,
                       "tokens_issued": 0, "refreshes": 0, "refused_refresh": 0, "noid": 0,
                       "list_reads": {}}              # GETs of each list (look-ups, pulls), by endpoint
        self.seq = {}
        now = dt.datetime.now(dt.timezone.utc)
        self.contacts, self.invoices, self.credit_notes, self.payments, self.allocations = [], [], [], [], []
        self.accounts = [{"AccountID": str(uuid.uuid5(uuid.NAMESPACE_URL, self.tenant + c)), "Code": c, "Name": n,
                          "Type": t, "Status": "ACTIVE", "EnablePaymentsToAccount": p, "UpdatedDateUTC": msdate(now)}
                         for c, n, t, p in ACCOUNTS]
        self.tax_rates = [{"Name": n, "TaxType": t, "Status": "ACTIVE", "ReportTaxType": "OUTPUT",
                           "EffectiveRate": r, "DisplayTaxRate": r, "CanApplyToRevenue": True,
                           "TaxComponents": [{"Name": n, "Rate": r, "IsCompound": False}]} for t, n, r in TAX_RATES]
        if self.scenario.startswith("pull"):           # a fixed ledger for the pull tests
            xero_pull_fixture.load(self)

    def hit(self, name):
        with self.lock:
            self.hits[name] = self.hits.get(name, 0) + 1
            return self.hits[name]

    def next_no(self, prefix):
        with self.lock:
            self.seq[prefix] = self.seq.get(prefix, 0) + 1
            return "%s-%04d" % (prefix, self.seq[prefix])

    def state(self):
        with self.lock:
            return {"tenant_id": self.tenant, "contacts": self.contacts, "invoices": self.invoices,
                    "credit_notes": self.credit_notes, "payments": self.payments, "allocations": self.allocations,
                    "tax_rates": self.tax_rates, "counts": dict(self.counts, max_in_flight=self.max_in_flight,
                                                                day_calls=self.day_calls,
                                                                idempotency_keys=len(self.idem))}


def site(key):
    with SITES_LOCK:
        if key not in SITES:
            SITES[key] = Site(key)
        return SITES[key]


# --- documents ----------------------------------------------------------------------------------

class Invalid(Exception):
    pass


def find(rows, **kw):
    for r in rows:
        if all(r.get(k) == v for k, v in kw.items()):
            return r
    return None


def resolve_contact(s, c):
    if not isinstance(c, dict):
        raise Invalid("A Contact must be specified for this type of transaction")
    found = None
    if c.get("ContactID"):
        found = find(s.contacts, ContactID=c["ContactID"])
    elif c.get("ContactNumber"):
        found = find(s.contacts, ContactNumber=c["ContactNumber"], ContactStatus="ACTIVE")
    elif c.get("Name"):
        found = find(s.contacts, Name=c["Name"], ContactStatus="ACTIVE")
        if found is None:
            found = save_contact(s, {"Name": c["Name"]})
    if found is None:
        raise Invalid("The contact could not be found")
    return {"ContactID": found["ContactID"], "ContactNumber": found.get("ContactNumber"), "Name": found["Name"]}


def check_contact(s, c, current=None):
    name = c.get("Name", current["Name"] if current else None)
    if not isinstance(name, str) or not name.strip():
        raise Invalid("The contact name must be specified")
    if len(name) > 255:
        raise Invalid("The contact name must not exceed 255 characters")
    number = c.get("ContactNumber")
    if number is not None and (not isinstance(number, str) or len(number) > 50):
        raise Invalid("The contact number must not exceed 50 characters")
    for o in s.contacts:
        if o is not current and o["ContactStatus"] == "ACTIVE" and o["Name"].strip().lower() == name.strip().lower():
            raise Invalid("The contact name %s is already assigned to another contact. The contact name must be "
                          "unique across all active contacts." % name)


def save_contact(s, c, current=None):
    check_contact(s, c, current)
    now = dt.datetime.now(dt.timezone.utc)
    if current is None:
        current = {"ContactID": str(uuid.uuid4()), "ContactStatus": "ACTIVE", "IsCustomer": True}
        s.contacts.append(current)
    for k in ("Name", "ContactNumber", "EmailAddress", "FirstName", "LastName", "AccountNumber"):
        if k in c:
            current[k] = c[k]
    current["UpdatedDateUTC"] = msdate(now)
    return current


def line_items(s, doc, credit):
    items = doc.get("LineItems")
    if not isinstance(items, list) or not items:
        raise Invalid("At least one line item is required")
    out, sub, tax = [], Decimal(0), Decimal(0)
    for li in items:
        if not isinstance(li, dict):
            raise Invalid("A line item must be an object")
        if not isinstance(li.get("Description"), str) or not li["Description"].strip():
            raise Invalid("Description needs to be specified for each line item")
        q = num(li.get("Quantity", 1))
        u = num(li.get("UnitAmount", 0))
        d = num(li.get("DiscountAmount", 0))
        if q is None or u is None or d is None:
            raise Invalid("Quantity, UnitAmount and DiscountAmount must be numbers")
        if credit and (li.get("DiscountAmount") or li.get("DiscountRate")):
            raise Invalid("Discounts are not supported on credit notes")
        code = li.get("AccountCode")
        if not find(s.accounts, Code=code):
            raise Invalid("Account code '%s' is not a valid code for this document." % code)
        ttype = li.get("TaxType", "NONE") if doc.get("LineAmountTypes") != "NoTax" else "NONE"
        rate = find(s.tax_rates, TaxType=ttype)
        if rate is None or rate["Status"] != "ACTIVE":
            raise Invalid("The TaxType code '%s' does not exist or cannot be used for this type of transaction." % ttype)
        amount = r2(q * u) - r2(d)
        given = num(li.get("TaxAmount")) if "TaxAmount" in li else None
        t = r2(given) if given is not None else r2(amount * Decimal(str(rate["EffectiveRate"])) / 100)
        sub, tax = sub + amount, tax + t
        out.append(dict(li, LineItemID=str(uuid.uuid4()), Quantity=float(q), UnitAmount=float(u), TaxType=ttype,
                        LineAmount=float(amount), TaxAmount=float(t)))
    return out, sub, tax


def save_document(s, doc, kind, current=None):
    """Validates and stores an invoice (kind "Invoice") or credit note ("CreditNote")."""
    credit = kind == "CreditNote"
    if current is not None:
        if current["Status"] in ("PAID", "VOIDED", "DELETED") or (current.get("AmountPaid", 0) or current.get("AppliedAmount", 0)):
            raise Invalid("This document cannot be edited as it has payments or allocations or is not of a valid status for modification")
        doc = dict(current, **doc)
    typ = doc.get("Type")
    if typ not in (("ACCRECCREDIT", "ACCPAYCREDIT") if credit else ("ACCREC", "ACCPAY")):
        raise Invalid("Type must be %s" % ("ACCRECCREDIT or ACCPAYCREDIT" if credit else "ACCREC or ACCPAY"))
    status = doc.get("Status", "DRAFT")
    if status not in ("DRAFT", "SUBMITTED", "AUTHORISED"):
        raise Invalid("Status must be DRAFT, SUBMITTED or AUTHORISED")
    date = parse_date(doc.get("Date"))
    if date is None:
        raise Invalid("Date must be specified")
    due = parse_date(doc.get("DueDate"))
    if not credit and status == "AUTHORISED" and due is None:
        raise Invalid("Due Date is required.")
    if doc.get("LineAmountTypes", "Exclusive") not in ("Exclusive", "Inclusive", "NoTax"):
        raise Invalid("LineAmountTypes must be Exclusive, Inclusive or NoTax")
    contact = resolve_contact(s, doc.get("Contact"))
    items, sub, tax = line_items(s, doc, credit)
    total = sub + tax
    if total < 0:
        raise Invalid("The document total cannot be negative")
    now = dt.datetime.now(dt.timezone.utc)
    row = current if current is not None else {}
    idf, nof = ("CreditNoteID", "CreditNoteNumber") if credit else ("InvoiceID", "InvoiceNumber")
    row.update({k: v for k, v in doc.items() if k in ("Reference", "CurrencyCode", "LineAmountTypes", "Status", "Type")})
    row.update({idf: row.get(idf) or str(uuid.uuid4()), nof: row.get(nof) or doc.get(nof) or s.next_no("CN" if credit else "INV"),
                "Contact": contact, "Date": msdate(date), "DateString": date.strftime("%Y-%m-%dT00:00:00"),
                "LineItems": items, "SubTotal": float(sub), "TotalTax": float(tax), "Total": float(total),
                "UpdatedDateUTC": msdate(now), "Status": status})
    if due:
        row.update({"DueDate": msdate(due), "DueDateString": due.strftime("%Y-%m-%dT00:00:00")})
    if credit:
        row.update({"RemainingCredit": float(total), "AppliedAmount": 0.0, "Allocations": [], "Payments": []})
    else:
        row.update({"AmountDue": float(total), "AmountPaid": 0.0, "AmountCredited": 0.0, "Payments": [], "CreditNotes": []})
    if current is None:
        (s.credit_notes if credit else s.invoices).append(row)
    return row


def doc_by_ref(rows, ref, idf, nof):
    if not isinstance(ref, dict):
        return None
    if ref.get(idf):
        return find(rows, **{idf: ref[idf]})
    if ref.get(nof):
        return find(rows, **{nof: ref[nof]})
    return None


def save_payment(s, p):
    amount = num(p.get("Amount"))
    if amount is None or amount <= 0:
        raise Invalid("Payment amount must be greater than zero")
    date = parse_date(p.get("Date"))
    if date is None:
        raise Invalid("Date must be specified")
    acc = p.get("Account") or {}
    account = find(s.accounts, Code=acc.get("Code")) if acc.get("Code") else find(s.accounts, AccountID=acc.get("AccountID"))
    if account is None or not account["EnablePaymentsToAccount"]:
        raise Invalid("Payments can only be made to bank accounts or accounts with payments enabled")
    inv = doc_by_ref(s.invoices, p.get("Invoice"), "InvoiceID", "InvoiceNumber")
    cn = doc_by_ref(s.credit_notes, p.get("CreditNote"), "CreditNoteID", "CreditNoteNumber")
    now = dt.datetime.now(dt.timezone.utc)
    row = {"PaymentID": str(uuid.uuid4()), "Date": msdate(date), "Amount": float(amount), "Reference": p.get("Reference"),
           "Account": {"AccountID": account["AccountID"], "Code": account["Code"]}, "Status": "AUTHORISED",
           "UpdatedDateUTC": msdate(now), "IsReconciled": False}
    if inv is not None:
        if inv["Status"] != "AUTHORISED":
            raise Invalid("Payment cannot be applied: the invoice is not AUTHORISED")
        if r2(amount) > r2(Decimal(str(inv["AmountDue"]))):
            raise Invalid("Payment amount exceeds the amount outstanding on this document")
        inv["AmountPaid"] = float(r2(Decimal(str(inv["AmountPaid"])) + amount))
        inv["AmountDue"] = float(r2(Decimal(str(inv["AmountDue"])) - amount))
        if inv["AmountDue"] == 0:
            inv["Status"], inv["FullyPaidOnDate"] = "PAID", msdate(date)
        inv["UpdatedDateUTC"] = msdate(now)
        row.update({"Invoice": {"InvoiceID": inv["InvoiceID"], "InvoiceNumber": inv["InvoiceNumber"]},
                    "PaymentType": "ACCRECPAYMENT" if inv["Type"] == "ACCREC" else "ACCPAYPAYMENT"})
        inv["Payments"].append({"PaymentID": row["PaymentID"], "Amount": row["Amount"]})
    elif cn is not None:
        if cn["Status"] != "AUTHORISED":
            raise Invalid("Payment cannot be applied: the credit note is not AUTHORISED")
        if r2(amount) > r2(Decimal(str(cn["RemainingCredit"]))):
            raise Invalid("Payment amount exceeds the amount outstanding on this document")
        cn["RemainingCredit"] = float(r2(Decimal(str(cn["RemainingCredit"])) - amount))
        if cn["RemainingCredit"] == 0:
            cn["Status"] = "PAID"
        cn["UpdatedDateUTC"] = msdate(now)
        row.update({"CreditNote": {"CreditNoteID": cn["CreditNoteID"], "CreditNoteNumber": cn["CreditNoteNumber"]},
                    "PaymentType": "ARCREDITPAYMENT" if cn["Type"] == "ACCRECCREDIT" else "APCREDITPAYMENT"})
        cn["Payments"].append({"PaymentID": row["PaymentID"], "Amount": row["Amount"]})
    else:
        raise Invalid("An Invoice or CreditNote must be specified and must exist")
    s.payments.append(row)
    return row


def save_allocation(s, cn, a):
    amount = num(a.get("Amount"))
    date = parse_date(a.get("Date"))
    inv = doc_by_ref(s.invoices, a.get("Invoice"), "InvoiceID", "InvoiceNumber")
    if amount is None or amount <= 0 or date is None or inv is None:
        raise Invalid("Amount, Date and Invoice are required for an allocation")
    if cn["Status"] != "AUTHORISED" or inv["Status"] != "AUTHORISED":
        raise Invalid("Allocations need an AUTHORISED credit note and an AUTHORISED invoice")
    if r2(amount) > r2(Decimal(str(cn["RemainingCredit"]))):
        raise Invalid("The amount allocated exceeds the credit remaining on the credit note")
    if r2(amount) > r2(Decimal(str(inv["AmountDue"]))):
        raise Invalid("The amount allocated exceeds the amount due on the invoice")
    cn["RemainingCredit"] = float(r2(Decimal(str(cn["RemainingCredit"])) - amount))
    cn["AppliedAmount"] = float(r2(Decimal(str(cn["AppliedAmount"])) + amount))
    inv["AmountDue"] = float(r2(Decimal(str(inv["AmountDue"])) - amount))
    inv["AmountCredited"] = float(r2(Decimal(str(inv["AmountCredited"])) + amount))
    if cn["RemainingCredit"] == 0:
        cn["Status"] = "PAID"
    if inv["AmountDue"] == 0:
        inv["Status"] = "PAID"
    row = {"AllocationID": str(uuid.uuid4()), "Amount": float(amount), "Date": msdate(date),
           "Invoice": {"InvoiceID": inv["InvoiceID"], "InvoiceNumber": inv["InvoiceNumber"]},
           "CreditNote": {"CreditNoteID": cn["CreditNoteID"], "CreditNoteNumber": cn["CreditNoteNumber"]}, "IsDeleted": False}
    cn["Allocations"].append(row)
    inv["CreditNotes"].append({"CreditNoteID": cn["CreditNoteID"], "AppliedAmount": row["Amount"]})
    s.allocations.append(row)
    return row


def save_tax_rate(s, t):
    name = t.get("Name")
    comps = t.get("TaxComponents")
    if not isinstance(name, str) or not name.strip() or not isinstance(comps, list) or not comps:
        raise Invalid("A tax rate needs a Name and at least one TaxComponent")
    if find(s.tax_rates, Name=name, Status="ACTIVE"):
        raise Invalid("A tax rate with the name %s already exists" % name)
    rate = Decimal(0)
    for c in comps:
        r = num(c.get("Rate")) if isinstance(c, dict) else None
        if r is None or r < 0 or r > 100:
            raise Invalid("Each TaxComponent needs a Rate from 0 to 100")
        rate += r
    row = {"Name": name, "TaxType": s.next_no("TAX").replace("-", ""), "Status": "ACTIVE",
           "ReportTaxType": t.get("ReportTaxType", "OUTPUT"), "EffectiveRate": str(rate), "DisplayTaxRate": str(rate),
           "CanApplyToRevenue": True, "TaxComponents": comps}
    s.tax_rates.append(row)
    return row


# --- reading --------------------------------------------------------------------------------------

def field(row, path):
    for part in path.split("."):
        row = row.get(part) if isinstance(row, dict) else None
    return row


WHERE_VALUE = r'"((?:[^"\\]|\\.)*)"'


def where_filter(rows, where):
    """Keeps the rows a where clause selects: equalities Field=="value" (\\" and \\\\ escaped inside
    the value), joined with AND/&& and, between such groups, OR/|| (AND binds tighter, as in Xero)."""
    if not where:
        return rows
    groups = []
    for group in re.split(r"\s+OR\s+|\s*\|\|\s*", where.strip()):
        clauses = []
        for clause in re.split(r"\s+AND\s+|\s*&&\s*", group.strip()):
            m = re.match(r'^\s*([A-Za-z.]+)\s*==\s*' + WHERE_VALUE + r'\s*$', clause)
            if not m:
                raise Invalid("unsupported where clause: %s" % clause)
            clauses.append((m.group(1), re.sub(r"\\(.)", r"\1", m.group(2))))
        groups.append(clauses)
    return [r for r in rows if any(all(str(field(r, f)) == v for f, v in g) for g in groups)]


LISTS = {"Contacts": ("contacts", "ContactID"), "Invoices": ("invoices", "InvoiceID"),
         "CreditNotes": ("credit_notes", "CreditNoteID"), "Payments": ("payments", "PaymentID"),
         "TaxRates": ("tax_rates", "TaxType"), "Accounts": ("accounts", "AccountID")}


def list_rows(s, plural, q, since):
    attr, idf = LISTS[plural]
    s.counts["list_reads"][plural] = s.counts["list_reads"].get(plural, 0) + 1
    rows = list(getattr(s, attr))
    if since and plural not in ("TaxRates",):
        rows = [r for r in rows if parse_date(r.get("UpdatedDateUTC")) and parse_date(r["UpdatedDateUTC"]) > since]
    rows = where_filter(rows, q.get("where", [""])[0])
    for param, f in (("IDs", idf), ("InvoiceNumbers", "InvoiceNumber"), ("ContactNumbers", "ContactNumber")):
        if q.get(param):
            wanted = set(q[param][0].split(","))
            rows = [r for r in rows if r.get(f) in wanted]
    body = {plural: rows}
    if "page" in q and plural not in ("TaxRates", "Accounts"):
        size = max(1, min(int(q.get("pageSize", ["100"])[0]), 1000))
        page = max(1, int(q["page"][0]))
        body = {"pagination": {"page": page, "pageSize": size, "pageCount": (len(rows) + size - 1) // size,
                               "itemCount": len(rows)}, plural: rows[(page - 1) * size: page * size]}
    return body


# --- HTTP -----------------------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeXero/1.0"

    def log_message(self, fmt, *args):
        pass

    def setup(self):
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def record(self, key, status):
        if not key:
            return
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", key)
        with open(os.path.join(LOG_DIR, safe + ".log"), "a") as f:
            f.write("%.3f %d %s %s %d\n" % (self.arrived, status, self.command, urlsplit(self.path).path,
                                            self.client_address[1]))

    def record_read(self, key):
        """Pull tests: every list read with its query and If-Modified-Since, in <key>.reads."""
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", key)
        with open(os.path.join(LOG_DIR, safe + ".reads"), "a") as f:
            f.write("%s %s\n" % (urlsplit(self.path).path.split("/api.xro/2.0/", 1)[-1] + "?" + urlsplit(self.path).query,
                                 self.headers.get("If-Modified-Since") or "-"))

    def reply(self, key, status, body, headers=None):
        data = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
        self.record(key, status)
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.end_headers()
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass

    def drop(self, key):
        """Closes the connection without an answer (the request was carried out)."""
        self.record(key, 0)
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            raise OverflowError
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def dispatch(self):
        self.arrived = time.time()
        try:
            self.route()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass

    def route(self):
        u = urlsplit(self.path)
        m = re.match(r"^/s/([a-z0-9]+-[A-Za-z0-9_]+)(/.*)$", u.path)
        if not m:
            return self.reply(None, 404, {"Title": "Not Found", "Status": 404})
        key, path = m.group(1), m.group(2)
        s = site(key)
        q = parse_qs(u.query)
        try:
            raw = self.body()
        except OverflowError:
            return self.reply(key, 413, {"Title": "Request Entity Too Large", "Status": 413})
        if path == "/_state" and self.command == "GET":
            return self.reply(key, 200, s.state())
        if path == "/connect/token" and self.command == "POST":
            return self.token(key, s, raw)
        if path == "/connections" and self.command == "GET":
            if not self.authorised(s):
                return self.reply(key, 401, {"Title": "Unauthorized", "Status": 401}, {"WWW-Authenticate": "Bearer"})
            return self.reply(key, 200, [{"id": str(uuid.uuid5(uuid.NAMESPACE_URL, key)), "tenantId": s.tenant,
                                          "tenantType": "ORGANISATION", "tenantName": "Fake Org " + key}])
        am = re.match(r"^/api\.xro/2\.0/(.+)$", path)
        if not am:
            return self.reply(key, 404, {"Title": "Not Found", "Status": 404})
        if not self.authorised(s):
            return self.reply(key, 401, {"Title": "Unauthorized", "Status": 401, "Detail": "TokenExpired or invalid"},
                              {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        tenant = self.headers.get("xero-tenant-id")
        if not tenant:
            return self.reply(key, 400, {"Title": "Bad Request", "Status": 400, "Detail": "xero-tenant-id header is required"})
        if tenant != s.tenant:
            return self.reply(key, 403, {"Type": None, "Title": "Forbidden", "Status": 403,
                                         "Detail": "AuthenticationUnsuccessful"})
        limited = self.admit(s)
        if limited:
            problem, retry = limited
            return self.reply(key, 429, {"Title": "Too Many Requests", "Status": 429},
                              dict(self.limit_headers(s), **{"Retry-After": retry, "X-Rate-Limit-Problem": problem}))
        try:
            if s.scenario == "slow":
                time.sleep(3)
            if s.delay_ms:
                time.sleep(s.delay_ms / 1000)
            self.api(key, s, am.group(1), q, raw)
        finally:
            with s.lock:
                s.in_flight -= 1

    # OAuth2 ------------------------------------------------------------------------------------
    def token(self, key, s, raw):
        form = parse_qs(raw.decode("utf-8", "replace"))
        get = lambda k: form.get(k, [""])[0]
        cid, secret = get("client_id"), get("client_secret")
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                cid, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                cid, secret = "", ""
        if not cid or not secret or s.scenario == "badauth":
            return self.reply(key, 401, {"error": "invalid_client"})
        grant = get("grant_type")
        body = {"token_type": "Bearer", "expires_in": s.token_life,
                "scope": "accounting.transactions accounting.contacts accounting.settings"}
        with s.lock:
            if grant == "refresh_token":
                presented = get("refresh_token")
                if presented != s.refresh:
                    s.counts["refused_refresh"] += 1
                    return self.reply(key, 400, {"error": "invalid_grant"})
                s.refresh_used.append(presented)
                s.refresh = "rt-" + secrets.token_hex(12)
                s.counts["refreshes"] += 1
                body["refresh_token"] = s.refresh
            elif grant != "client_credentials":
                return self.reply(key, 400, {"error": "unsupported_grant_type"})
            tok = secrets.token_hex(20)
            s.tokens[tok] = time.time() + s.token_life
            s.counts["tokens_issued"] += 1
        body["access_token"] = tok
        return self.reply(key, 200, body)

    def authorised(self, s):
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return False
        with s.lock:
            exp = s.tokens.get(auth[7:])
        return exp is not None and exp > time.time()

    # Limits ------------------------------------------------------------------------------------
    def admit(self, s):
        """Counts the request; returns (problem, retry_after) when a limit refuses it."""
        now = time.time()
        with s.lock:
            if now - s.day_start >= s.day_window:
                s.day_start, s.day_calls = now, 0
            s.calls = [t for t in s.calls if now - t < s.min_window]
            problem = None
            if s.day_calls >= s.day_limit:
                problem, retry = "day", max(1, int(s.day_start + s.day_window - now + 0.999))
            elif len(s.calls) >= s.min_limit:
                problem, retry = "minute", max(1, int(s.calls[0] + s.min_window - now + 0.999))
            elif s.in_flight >= s.con_limit:
                problem, retry = "concurrent", 1
            if problem:
                s.counts["rejected_429"][problem] = s.counts["rejected_429"].get(problem, 0) + 1
                return problem, retry
            s.calls.append(now)
            s.day_calls += 1
            s.in_flight += 1
            s.max_in_flight = max(s.max_in_flight, s.in_flight)
            s.counts["requests"] += 1
        return None

    def limit_headers(self, s):
        with s.lock:
            return {"X-MinLimit-Remaining": max(0, s.min_limit - len(s.calls)),
                    "X-DayLimit-Remaining": max(0, s.day_limit - s.day_calls),
                    "X-AppMinLimit-Remaining": 9999}

    # Accounting API ----------------------------------------------------------------------------
    def api(self, key, s, rest, q, raw):
        hdr = self.limit_headers(s)
        since = parse_since(self.headers.get("If-Modified-Since", "")) if self.headers.get("If-Modified-Since") else None
        write = self.command in ("PUT", "POST")
        if write:
            idem = self.headers.get("Idempotency-Key")
            if idem is not None and len(idem) > 128:
                return self.reply(key, 400, {"Title": "Bad Request", "Status": 400,
                                             "Detail": "Idempotency-Key must be at most 128 characters"}, hdr)
            ikey = (self.command, rest, idem)
            with s.lock:
                if idem and s.scenario != "noidem" and ikey in s.idem:
                    s.counts["replays"] += 1
                    status, body = s.idem[ikey]
                    return self.reply(key, status, body, dict(hdr, **{"Idempotency-Replayed": "true"}))
                s.counts["writes"] += 1
            if s.scenario == "e500" or (s.scenario == "e503" and s.hit("e503") <= s.fault_n):
                code = 500 if s.scenario == "e500" else 503
                return self.reply(key, code, {"Title": "Service Unavailable" if code == 503 else "Internal Server Error",
                                              "Status": code}, hdr)
            try:
                doc = json.loads(raw or b"null")
            except ValueError:
                return self.reply(key, 400, {"Title": "Bad Request", "Status": 400, "Detail": "invalid JSON"}, hdr)
            if s.scenario == "noid" and s.hit("noid") <= s.fault_n:
                with s.lock:
                    s.counts["noid"] += 1
                return self.reply(key, 200, doc if isinstance(doc, dict) else {}, hdr)
            with s.lock:
                status, body = self.write(s, rest, q, doc)
                if idem and status < 500:
                    s.idem[ikey] = (status, body)
                if s.scenario == "lost" and s.hit("lost") <= s.fault_n:
                    s.counts["lost"] += 1
                    return self.drop(key)
            return self.reply(key, status, body, hdr)
        if self.command != "GET":
            return self.reply(key, 405, {"Title": "Method Not Allowed", "Status": 405}, hdr)
        with s.lock:
            parts = rest.split("/")
            if parts[0] in LISTS and len(parts) == 1:
                if s.scenario.startswith("pull"):
                    xero_pull_fixture.before_list(s, parts[0], since)
                    self.record_read(key)
                try:
                    return self.reply(key, 200, envelope(list_rows(s, parts[0], q, since)), hdr)
                except (Invalid, ValueError) as e:
                    return self.reply(key, 400, validation_error(str(e), []), hdr)
            if len(parts) == 2 and parts[0] in ("Contacts", "Invoices", "CreditNotes", "Payments"):
                attr, idf = LISTS[parts[0]]
                nof = {"Invoices": "InvoiceNumber", "CreditNotes": "CreditNoteNumber"}.get(parts[0], idf)
                ident = unquote(parts[1])
                row = find(getattr(s, attr), **{idf: ident}) or find(getattr(s, attr), **{nof: ident})
                if row is None:
                    return self.reply(key, 404, {"Title": "Resource not found", "Status": 404}, hdr)
                return self.reply(key, 200, envelope({parts[0]: [row]}), hdr)
        return self.reply(key, 404, {"Title": "Resource not found", "Status": 404}, hdr)

    def write(self, s, rest, q, doc):
        """Carries out one write; returns (status, body). Called with the site locked."""
        summarize = q.get("summarizeErrors", ["true"])[0].lower() != "false"
        am = re.match(r"^CreditNotes/([^/]+)/Allocations$", rest)
        parts = rest.split("/")
        if am and self.command == "PUT":
            cn = find(s.credit_notes, CreditNoteID=am.group(1)) or find(s.credit_notes, CreditNoteNumber=am.group(1))
            if cn is None:
                return 404, {"Title": "Resource not found", "Status": 404}
            return self.batch(s, doc, "Allocations", lambda a: save_allocation(s, cn, a), summarize)
        plural = parts[0]
        savers = {"Contacts": lambda c, cur=None: save_contact(s, c, cur),
                  "Invoices": lambda d, cur=None: save_document(s, d, "Invoice", cur),
                  "CreditNotes": lambda d, cur=None: save_document(s, d, "CreditNote", cur),
                  "Payments": lambda p, cur=None: save_payment(s, p),
                  "TaxRates": lambda t, cur=None: save_tax_rate(s, t)}
        if plural not in savers or len(parts) > 2:
            return 404, {"Title": "Resource not found", "Status": 404}
        idf = LISTS[plural][1]

        def one(el):
            if self.command == "POST" and isinstance(el, dict) and el.get(idf) and plural in ("Contacts", "Invoices", "CreditNotes"):
                cur = find(getattr(s, LISTS[plural][0]), **{idf: el[idf]})
                if cur is None:
                    raise Invalid("%s %s does not exist" % (idf, el[idf]))
                return savers[plural](el, cur)
            return savers[plural](el)
        return self.batch(s, doc, plural, one, summarize)

    def batch(self, s, doc, plural, save, summarize):
        els = doc.get(plural) if isinstance(doc, dict) else None
        if isinstance(els, dict):
            els = [els]
        if not isinstance(els, list) or not els:
            return 400, validation_error("The request body must hold a non-empty %s array" % plural, [])
        # all or nothing unless summarizeErrors=false: try on a copy of the ledger first
        snapshot = None
        if summarize:
            import copy
            snapshot = copy.deepcopy((s.contacts, s.invoices, s.credit_notes, s.payments, s.allocations, s.tax_rates, s.seq))
        out, errors = [], 0
        for el in els:
            try:
                if not isinstance(el, dict):
                    raise Invalid("Each element must be an object")
                row = save(el)
                out.append(dict(row, HasErrors=False, StatusAttributeString="OK"))
            except Invalid as e:
                errors += 1
                out.append(dict(el if isinstance(el, dict) else {}, HasErrors=True, StatusAttributeString="ERROR",
                                ValidationErrors=[{"Message": str(e)}]))
        if errors and summarize:
            (s.contacts, s.invoices, s.credit_notes, s.payments, s.allocations, s.tax_rates, s.seq) = snapshot
            return 400, validation_error("A validation exception occurred", [e for e in out if e["HasErrors"]])
        if not summarize:
            return 200, envelope({plural: out})
        return 200, envelope({plural: [{k: v for k, v in e.items() if k not in ("HasErrors",)} for e in out]})


def envelope(body):
    now = dt.datetime.now(dt.timezone.utc)
    return dict({"Id": str(uuid.uuid4()), "Status": "OK", "ProviderName": "pg_billing tests", "DateTimeUTC": msdate(now)}, **body)


def validation_error(message, elements):
    return {"ErrorNumber": 10, "Type": "ValidationException", "Message": message, "Elements": elements}


def serve(port, cert, key):
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


# --- self-test: prints TAP, for test/pgtap/push_documents_fake.sql ------------------------------------

def selftest(certs):
    import urllib.error
    import urllib.request
    global LOG_DIR
    import tempfile
    LOG_DIR = tempfile.mkdtemp()
    srv = serve(0, os.path.join(certs, "good.pem"), os.path.join(certs, "good.key"))
    ctx = ssl.create_default_context(cafile=os.path.join(certs, "ca.pem"))
    base = "https://127.0.0.1:%d/s/" % srv.server_address[1]
    results = []

    def call(method, url, body=None, headers=None, form=None):
        data = json.dumps(body).encode() if body is not None else (form.encode() if form else None)
        req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
                return r.status, dict(r.headers), json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), json.loads(e.read() or b"null")
        except (urllib.error.URLError, ConnectionError, OSError) as e:
            return 0, {}, str(e)

    def ok(cond, name):
        results.append((bool(cond), name))

    basic = {"Authorization": "Basic " + base64.b64encode(b"cid:secret").decode(),
             "Content-Type": "application/x-www-form-urlencoded"}
    k = "ok-self1_min12"
    st, _, tok = call("POST", base + k + "/connect/token", form="grant_type=client_credentials", headers=basic)
    ok(st == 200 and tok.get("expires_in") == 1800 and "refresh_token" not in tok, "client credentials: a 30-minute token, no refresh token")
    st, _, conns = call("GET", base + k + "/connections", headers={"Authorization": "Bearer " + tok["access_token"]})
    tenant = conns[0]["tenantId"]
    h = {"Authorization": "Bearer " + tok["access_token"], "xero-tenant-id": tenant, "Accept": "application/json",
         "Content-Type": "application/json"}
    api = base + k + "/api.xro/2.0/"
    st, _, _ = call("GET", api + "Invoices", headers={"Authorization": h["Authorization"]})
    ok(st == 400, "xero-tenant-id is required")
    st, _, _ = call("GET", api + "Invoices", headers={"xero-tenant-id": tenant})
    ok(st == 401, "a bearer token is required")
    st, hd, _ = call("PUT", api + "Contacts?summarizeErrors=false", {"Contacts": [
        {"ContactNumber": "chargify_1", "Name": "Acme"}, {"ContactNumber": "chargify_2", "Name": "acme"}]}, h)
    ok(st == 200 and "X-MinLimit-Remaining" in hd and "X-DayLimit-Remaining" in hd, "limits in the headers")
    st, _, body = call("GET", api + "Contacts", headers=h)
    ok(len(body["Contacts"]) == 1, "per-element results: the namesake is refused, the other saved")
    inv = {"Type": "ACCREC", "Contact": {"ContactNumber": "chargify_1"}, "Date": "2024-02-01", "DueDate": "2024-02-01",
           "Reference": "79001", "Status": "AUTHORISED", "LineAmountTypes": "Exclusive",
           "LineItems": [{"Description": "Pro", "Quantity": 3, "UnitAmount": 3.335, "AccountCode": "200", "TaxType": "OUTPUT2", "TaxAmount": 2.00},
                         {"Description": "Seats", "Quantity": 1, "UnitAmount": 5, "DiscountAmount": 0.5, "AccountCode": "200", "TaxType": "OUTPUT2"},
                         {"Description": "Rounding", "Quantity": 1, "UnitAmount": -0.01, "AccountCode": "860", "TaxType": "NONE"}]}
    hi = dict(h, **{"Idempotency-Key": "k-79001"})
    st, _, body = call("PUT", api + "Invoices?summarizeErrors=false", {"Invoices": [inv]}, hi)
    ok(st == 200 and body["Invoices"][0]["Total"] == 17.40, "invoice total 10.01 + 2.00 + 4.50 + 0.90 - 0.01 = 17.40")
    ok(re.match(r"^/Date\(\d+\+0000\)/$", body["Invoices"][0]["Date"]), "dates are MS-JSON")
    st, hd, again = call("PUT", api + "Invoices?summarizeErrors=false", {"Invoices": [inv]}, hi)
    ok(again == body, "the same Idempotency-Key replays the first answer")
    st, _, found = call("GET", api + 'Invoices?where=Reference%3D%3D%2279001%22', headers=h)
    ok(len(found["Invoices"]) == 1, "one invoice, found by Reference")
    iid = found["Invoices"][0]["InvoiceID"]
    st, _, p = call("PUT", api + "Payments", {"Payments": [{"Invoice": {"InvoiceID": iid}, "Account": {"Code": "090"},
                                                           "Date": "2024-02-02", "Amount": 17.40}]}, h)
    st, _, got = call("GET", api + "Invoices/" + iid, headers=h)
    ok(got["Invoices"][0]["Status"] == "PAID" and got["Invoices"][0]["AmountDue"] == 0, "paid in full: PAID, nothing due")
    st, _, bad = call("POST", api + "Invoices", {"Invoices": [dict(inv, InvoiceID=iid, Reference="x")]}, h)
    ok(st == 400 and bad["Type"] == "ValidationException", "a paid invoice cannot be edited")
    st, _, cn = call("PUT", api + "CreditNotes?summarizeErrors=false", {"CreditNotes": [
        {"Type": "ACCRECCREDIT", "Contact": {"ContactNumber": "chargify_1"}, "Date": "2024-02-03", "Status": "AUTHORISED",
         "LineItems": [{"Description": "x", "Quantity": 1, "UnitAmount": 5, "DiscountAmount": 1, "AccountCode": "200"}]}]}, h)
    ok(cn["CreditNotes"][0]["HasErrors"], "no discounts on credit notes")
    lk = "lost-self2"
    st, _, t2 = call("POST", base + lk + "/connect/token", form="grant_type=refresh_token&refresh_token=rt-initial", headers=basic)
    ok(st == 200 and t2.get("refresh_token", "").startswith("rt-"), "refresh grant: a new refresh token")
    st, _, _ = call("POST", base + lk + "/connect/token", form="grant_type=refresh_token&refresh_token=rt-initial", headers=basic)
    ok(st == 400, "the rotated refresh token is refused")
    st, _, c2 = call("GET", base + lk + "/connections", headers={"Authorization": "Bearer " + t2["access_token"]})
    h2 = dict(h, **{"Authorization": "Bearer " + t2["access_token"], "xero-tenant-id": c2[0]["tenantId"]})
    st, _, _ = call("PUT", base + lk + "/api.xro/2.0/Contacts", {"Contacts": [{"Name": "Lost Ltd", "ContactNumber": "c9"}]}, h2)
    st2, _, led = call("GET", base + lk + "/_state")
    ok(st == 0 and len(led["contacts"]) == 1, "lost: no answer, but the contact exists")
    codes = [call("GET", api + "TaxRates", headers=h) for _ in range(12)]
    limited = [c for c in codes if c[0] == 429]
    ok(limited and limited[0][1].get("X-Rate-Limit-Problem") == "minute" and int(limited[0][1]["Retry-After"]) >= 1,
       "the minute limit: 429, Retry-After, X-Rate-Limit-Problem minute")
    ek = "e503-self3_tok1_day3"
    st, _, t3 = call("POST", base + ek + "/connect/token", form="grant_type=client_credentials", headers=basic)
    st, _, c3 = call("GET", base + ek + "/connections", headers={"Authorization": "Bearer " + t3["access_token"]})
    h3 = dict(h, **{"Authorization": "Bearer " + t3["access_token"], "xero-tenant-id": c3[0]["tenantId"]})
    first = call("PUT", base + ek + "/api.xro/2.0/Contacts", {"Contacts": [{"Name": "Five"}]}, h3)[0]
    second = call("PUT", base + ek + "/api.xro/2.0/Contacts", {"Contacts": [{"Name": "Five"}]}, h3)[0]
    ok((first, second) == (503, 200), "e503: the first write fails and changes nothing, the next one works")
    third = call("GET", base + ek + "/api.xro/2.0/Contacts", headers=h3)
    fourth = call("GET", base + ek + "/api.xro/2.0/Contacts", headers=h3)
    ok(third[0] == 200 and len(third[2]["Contacts"]) == 1 and fourth[0] == 429
       and fourth[1].get("X-Rate-Limit-Problem") == "day", "the day budget: the 4th call of 3 is refused with problem day")
    time.sleep(1.2)
    ok(call("GET", base + ek + "/api.xro/2.0/Contacts", headers=h3)[0] == 401, "an expired access token is refused")
    srv.shutdown()
    print("1..%d" % len(results))
    for i, (good, name) in enumerate(results, 1):
        print("%sok %d - %s" % ("" if good else "not ", i, name))


def main():
    global LOG_DIR
    ap = argparse.ArgumentParser()
    ap.add_argument("--certs", required=True, help="directory made by gen_certs.sh")
    ap.add_argument("--logs", help="request log directory")
    ap.add_argument("--port", type=int, default=0, help="0: a free port chosen by the kernel, printed after ready")
    ap.add_argument("--selftest", action="store_true", help="run the fake's own checks and print TAP")
    a = ap.parse_args()
    if a.selftest:
        return selftest(a.certs)
    LOG_DIR = a.logs or "."
    os.makedirs(LOG_DIR, exist_ok=True)
    srv = serve(a.port, os.path.join(a.certs, "good.pem"), os.path.join(a.certs, "good.key"))
    sys.stdout.write("ready %d\n" % srv.server_address[1])
    sys.stdout.flush()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
