#!/usr/bin/env python3
"""A fake Maxio Advanced Billing API for pg_billing's tests (python3 standard library only).

It speaks the shapes of the published OpenAPI spec (customers, subscriptions and their components,
invoices with line items / payments / refunds, credit notes, legacy statements), generates a
deterministic book of data, and injects faults on request.

The scenario is chosen by the path prefix of the source's base_url:

    https://127.0.0.1:PORT/s/<scenario>-<nonce>/customers.json?...

so every test has its own source, scenario and state (keyed by "<scenario>-<nonce>"). A nonce ending
in _d<ms> delays every answer by that many milliseconds (the crash test's kills then land mid-sync;
the latency benchmark's 200 ms per request). A nonce holding _cf<N> makes the components request of
subscription 2003 answer 500 its first N times (_cf1: retried, _cf99: a hard failure); _pf<N> makes
invoices page N answer 500 every time, _pj<N> makes it answer 200 with a body cut short (not JSON).

Counters (no auth, not counted themselves): GET /s/<key>/_stats answers {"requests": n,
"max_in_flight": m, "max_per_second": k}: the requests answered, the most that were being handled at
once (from arrival until the answer starts), and the most that arrived within any one second.
Scenarios:

    ok          the book, nothing wrong          big         invoices page 2 is larger than any cap
    r429s       first try of invoices page 1: 429, Retry-After: 1 (seconds)
    r429d       the same with Retry-After as an HTTP date (2 s ahead)
    e503        first 2 tries of invoices page 2: 503       unauth     every request 401
    drop        first 2 tries of invoices page 2: the connection is closed without an answer
    e500        invoices page 2 always 500        trunc      invoices page 2 cut in half (valid HTTP)
    cut         invoices page 2 promises more bytes than it sends, then closes
    badjson     invoices page 2 is not JSON       wrongtype  one invoice's subtotal_amount is a boolean
    dupkey      one invoice has a key twice       nul        one invoice has \\u0000 in its memo
    hugenum     one amount is the JSON number 1e15 numbers   amounts as JSON numbers (exact)
    hugeint     one amount is the JSON integer 10^15 (not a real)
    orphan      one more statement (79099), of a subscription (2099) that no listing has
    stmtsite    a legacy statement site: invoices 1-3 taxed (VAT 20%, the setup fee VAT 5%: "taxes" with
                line_item_breakouts), statements 79001-79003 each listing its invoice's line
                transactions (transactions[].id = line_items[].transaction_id); no credit notes
    samepage    customers: every page number gets page 1 (full), so paging would never end
    badsubid    subscription 2's id is the string "1/../../x" (it must never reach a URL path)
    dup         each invoices page repeats the last record of the page before
    changing    after invoices page 1 is served: a new invoice is added and invoice 1 changes
    stale       from the 2nd invoices listing on: invoice 1 comes back older (and different)
    voided      from the 2nd invoices listing on: invoice 2 is voided
    deleted     from the 2nd customers listing on: customer 5 is gone
    shift       the same, and in the 2nd listing, after page 1: customer 2 is deleted (customer 3
                moves back onto page 1, already read)
    hidden      from the 2nd listing of each entity on: one record of each is left out of the list
    swapped     as hidden, and the read endpoint answers with another record than the one asked for
                (customer 1002, subscription 2002, inv_000003, cn_000001, statement 79002)
    emptylist   150 customers; from the 2nd customers listing on, the listing is empty (the records
                are still there when asked for one by one; customer 1100's first 4 GETs answer 500)
    slow        every response waits 3 s          hang        every response waits 10 minutes
    authkey     401 unless the Basic-auth user (the API key) is key-<scenario>-<nonce>
    redirect    every request answered 302 to another host
    bench<N>    N invoices with 3 lines each, made on the fly (benchmark)
    book        the book in the file given with --book (test/fixtures/book.py writes it: the demo's
                realistic two-year book, and the same book the tests also load by hand)
    gzipbomb    invoices page 2: 99 kB of gzip (Content-Encoding: gzip) that decodes to 100 MB of JSON
    gzipbomb2   invoices page 2: two layers of gzip (Content-Encoding: gzip, gzip), 10 kB that decode to 2 GB
    manyobjs    invoices page 2: 6 MB of tiny objects, {"invoices":[{},{},...]}, uncompressed (costly to decode)
    deepjson    invoices page 2: arrays nested 100000 deep
    tinynum     invoices page 2: one subtotal_amount is the JSON number 1e-100
    rawnum      customer 1001 carries numbers as text the vendor chose (19.99, 0.1, 1e-7, 12345.6789...),
                and every other kind of JSON value (escaped and raw UTF-8 text, literals, empty containers,
                the 64-bit integer limits, -0.0)
    fuzz<S>     every page: about one value in twenty replaced by an odd one (seeded by S); some
                seeds also truncate the body or flip a byte

Single records: GET /<entity>/<id>.json (customers, subscriptions, statements by id; invoices and
credit notes by uid) answers the record as the book holds it now, or 404 when it is gone.

Every request is appended to <log-dir>/<key>.log as "<unix time of arrival> <status> <path>?<query> <client
port>" (never a credential; the port tells connections apart), so tests can read what was asked with pg_read_file().
"""
import argparse
import base64
import datetime as dt
import json
import os
import re
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
LOG_DIR = "."
BENCH_DIR = None
BOOK = {"customers": [], "subscriptions": [], "invoices": []}
STATE = {}
STATE_LOCK = threading.Lock()


def ts(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def day(t):
    return t.strftime("%Y-%m-%d")


def add_months(d, n):
    m = d.month - 1 + n
    y = d.year + m // 12
    m = m % 12 + 1
    mdays = [31, 29 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    return d.replace(year=y, month=m, day=min(d.day, mdays[m - 1]))


# ---------------------------------------------------------------------------------------------
# The book: 5 customers, 4 subscriptions, 7 invoices, 2 credit notes, 4 statements.
NC, NS, NI = 5, 4, 7
PRODUCTS = [
    {"id": 77, "name": "Pro Plan", "handle": "pro", "price_in_cents": 4900, "interval": 1, "interval_unit": "month"},
    {"id": 78, "name": "Annual Plan", "handle": "annual", "price_in_cents": 120000, "interval": 12, "interval_unit": "month"},
]


def customer(i):
    created = T0 + dt.timedelta(hours=i)
    return {"id": 1000 + i, "first_name": "First%d" % i, "last_name": "Last%d" % i, "email": "c%d@example.com" % i,
            "cc_emails": None, "organization": "Org %d" % i, "reference": "C-%04d" % i,
            "created_at": ts(created), "updated_at": ts(created + dt.timedelta(minutes=i)),
            "address": None, "city": "Boston", "state": "MA", "zip": "02120", "country": "US",
            "tax_exempt": False, "vat_number": None, "parent_id": None, "locale": "en-US", "verified": False}


def product(j):
    p = dict(PRODUCTS[(j - 1) % 2])
    p.update({"product_family": {"id": 5, "name": "Billing Plans"}, "accounting_code": None,
              "created_at": ts(T0), "updated_at": ts(T0)})
    return p


def subscription(j, minutes=False):
    created = T0 + (dt.timedelta(minutes=j) if minutes else dt.timedelta(days=j))
    p = product(j)
    start = created
    end = add_months(start, p["interval"])
    return {"id": 2000 + j, "state": "active", "customer": customer((j - 1) % NC + 1), "product": p,
            "product_price_point_id": 300 + p["id"], "product_price_in_cents": p["price_in_cents"],
            "current_period_started_at": ts(start), "current_period_ends_at": ts(end),
            "activated_at": ts(created), "canceled_at": None, "expires_at": None,
            "coupon_codes": ["WELCOME"] if j == 1 else [],
            "coupons": [{"code": "WELCOME", "use_count": 1, "uses_allowed": None, "expires_at": None,
                         "recurring": False, "amount_in_cents": None, "percentage": "10.0"}] if j == 1 else [],
            "currency": "USD", "payment_collection_method": "automatic", "balance_in_cents": 0,
            "created_at": ts(created), "updated_at": ts(created + dt.timedelta(hours=2))}


def components(j):
    return [{"component": {"id": 9000 + j, "component_id": 500, "component_handle": "seats", "name": "Seats",
                           "kind": "quantity_based_component", "unit_name": "seat", "enabled": True,
                           "allocated_quantity": 3, "pricing_scheme": "per_unit", "price_point_id": 600,
                           "recurring": True, "currency": "USD", "subscription_id": 2000 + j,
                           "product_family_id": 5, "created_at": ts(T0), "updated_at": ts(T0)}}]


def money(cents):
    return "%d.%02d" % (cents // 100, cents % 100)


def invoice(k, ns=NS, nc=NC, minutes=False):
    """Invoice k: a plan line (full period), a seats component line, and on every third invoice a
    one-time setup fee. Invoice 4 is voided; invoice 3 has a refund; paid invoices have a payment."""
    j = (k - 1) % ns + 1
    p = PRODUCTS[(j - 1) % 2]
    # test books: one invoice a day; the bench book: one a minute (100k invoices stay in the past)
    issue = T0 + (dt.timedelta(days=10, minutes=k) if minutes else dt.timedelta(days=10 + k))
    start = issue.date()
    end = add_months(start, p["interval"])
    lines = [{"uid": "li_%06d_1" % k, "title": p["name"], "description": "Plan charge", "kind": "baseline",
              "quantity": "1.0", "unit_price": money(p["price_in_cents"]), "subtotal_amount": money(p["price_in_cents"]),
              "discount_amount": "0.0", "tax_amount": "0.0", "total_amount": money(p["price_in_cents"]),
              "tiered_unit_price": False, "period_range_start": str(start), "period_range_end": str(end),
              "transaction_id": 70000 + k * 10 + 1, "product_id": p["id"], "product_version": 1,
              "component_id": None, "price_point_id": None, "hide": False, "custom_item": False,
              "product_price_point_id": 300 + p["id"]},
             {"uid": "li_%06d_2" % k, "title": "Seats", "description": "3 seats", "kind": "quantity_based_component",
              "quantity": "3.0", "unit_price": "5.0", "subtotal_amount": "15.0", "discount_amount": "1.5",
              "tax_amount": "0.0", "total_amount": "13.5", "tiered_unit_price": False,
              "period_range_start": str(start), "period_range_end": str(end), "transaction_id": 70000 + k * 10 + 2,
              "product_id": p["id"], "product_version": 1, "component_id": 500, "price_point_id": 600,
              "hide": False, "custom_item": False, "product_price_point_id": None}]
    sub = p["price_in_cents"] + 1500
    disc = 150
    if k % 3 == 0:
        lines.append({"uid": "li_%06d_3" % k, "title": "Setup fee", "description": "One-time setup", "kind": "one_time",
                      "quantity": "1.0", "unit_price": "25.0", "subtotal_amount": "25.0", "discount_amount": "0.0",
                      "tax_amount": "0.0", "total_amount": "25.0", "tiered_unit_price": False,
                      "period_range_start": str(start), "period_range_end": str(start),
                      "transaction_id": 70000 + k * 10 + 3, "product_id": None, "product_version": None,
                      "component_id": None, "price_point_id": None, "hide": False, "custom_item": True,
                      "product_price_point_id": None})
        sub += 2500
    total = sub - disc
    status = "voided" if k == 4 else ("open" if k % 5 == 0 else "paid")
    paid = total if status == "paid" else 0
    refund = 1000 if k == 3 else 0
    inv = {"uid": "inv_%06d" % k, "site_id": 1, "customer_id": 1000 + (j - 1) % nc + 1, "subscription_id": 2000 + j,
           "number": str(k), "sequence_number": k, "issue_date": day(issue), "due_date": day(issue),
           "paid_date": day(issue) if paid else None, "status": status, "role": "renewal",
           "collection_method": "automatic", "currency": "USD", "consolidation_level": "none",
           "product_name": p["name"], "product_family_name": "Billing Plans",
           "customer": {"chargify_id": 1000 + (j - 1) % nc + 1, "first_name": "F", "last_name": "L",
                        "organization": "", "email": "x@example.com"},
           "memo": "Thanks", "subtotal_amount": money(sub), "discount_amount": money(disc), "tax_amount": "0.0",
           "total_amount": money(total), "credit_amount": "0.0", "refund_amount": money(refund),
           "paid_amount": money(paid), "due_amount": money(total - paid),
           "created_at": ts(issue), "updated_at": ts(issue + dt.timedelta(hours=1)),
           "line_items": lines,
           "discounts": [{"uid": "dli_%06d" % k, "title": "Seats discount", "code": "SEATS10", "source_type": "Coupon",
                          "source_id": 1, "discount_type": "percentage", "percentage": "10.0",
                          "eligible_amount": "15.0", "discount_amount": "1.5", "transaction_id": 80000 + k,
                          "line_item_breakouts": [{"uid": "li_%06d_2" % k, "eligible_amount": "15.0",
                                                   "discount_amount": "1.5"}]}],
           "taxes": [], "credits": [],
           "payments": [{"transaction_time": ts(issue + dt.timedelta(minutes=5)), "memo": "card", "original_amount": money(paid),
                         "applied_amount": money(paid), "transaction_id": 90000 + k, "prepayment": False,
                         "gateway_used": "bogus", "gateway_transaction_id": "gw-%d" % k,
                         "payment_method": {"type": "credit_card", "card_brand": "visa", "card_expiration": "12/2030",
                                            "last_four": "1111", "masked_card_number": "XXXX-1111"}}] if paid else [],
           "refunds": [{"transaction_id": 95000 + k, "payment_id": 90000 + k, "memo": "partial refund",
                        "original_amount": money(refund), "applied_amount": money(refund), "gateway_used": "bogus",
                        "gateway_transaction_id": None, "gateway_handle": None}] if refund else []}
    return inv


def credit_note(n):
    k = n  # credits invoice n
    inv = invoice(k)
    issue = T0 + dt.timedelta(days=40 + n)
    return {"uid": "cn_%06d" % n, "site_id": 1, "customer_id": inv["customer_id"], "subscription_id": inv["subscription_id"],
            "number": "CN-%d" % n, "sequence_number": n, "issue_date": day(issue), "applied_date": day(issue),
            "status": "applied", "currency": "USD", "memo": "Credit for downtime",
            "subtotal_amount": "10.0", "discount_amount": "0.0", "tax_amount": "0.0", "total_amount": "10.0",
            "applied_amount": "10.0", "remaining_amount": "0.0",
            "line_items": [{"uid": "cnli_%06d_1" % n, "title": "Pro Plan", "description": "credit", "quantity": "1.0",
                            "unit_price": "10.0", "subtotal_amount": "10.0", "discount_amount": "0.0",
                            "tax_amount": "0.0", "total_amount": "10.0", "tiered_unit_price": False,
                            "period_range_start": inv["line_items"][0]["period_range_start"],
                            "period_range_end": inv["line_items"][0]["period_range_end"], "product_id": 77,
                            "product_version": 1, "component_id": None, "price_point_id": None}],
            "discounts": [], "taxes": [], "refunds": [],
            "applications": [{"uid": "cnapp_%06d" % n, "transaction_time": ts(issue), "invoice_uid": inv["uid"],
                              "memo": "applied", "applied_amount": "10.0"}],
            "origin_invoices": [{"uid": inv["uid"], "number": inv["number"]}]}


def statement(j):
    opened = T0 + dt.timedelta(days=j)
    return {"id": 79000 + j, "subscription_id": 2000 + j, "opened_at": ts(opened),
            "closed_at": ts(opened + dt.timedelta(days=30)), "settled_at": ts(opened + dt.timedelta(days=31)),
            "created_at": ts(opened), "updated_at": ts(opened + dt.timedelta(days=31)), "memo": "",
            "starting_balance_in_cents": 0, "ending_balance_in_cents": 0, "total_in_cents": 4900,
            "customer_first_name": "First%d" % j, "customer_last_name": "Last%d" % j, "customer_organization": "",
            "transactions": [], "events": [], "future_payments": []}


def cents(m):
    whole, _, frac = m.partition(".")
    return int(whole) * 100 + int((frac + "00")[:2])


def taxed_invoice(k):
    """Scenario stmtsite: invoice k (1..3) with VAT on every line ("taxes" with line_item_breakouts,
    the shape of the spec's Invoice-Tax): 20% on plan and seats lines, 5% on the setup fee; no refund.
    Invoice 1: 49.00 + 13.50 net, 9.80 + 2.70 VAT = 75.00; invoice 2: 1200.00 + 13.50 net,
    240.00 + 2.70 VAT = 1456.20; invoice 3: 49.00 + 13.50 + 25.00 net, 9.80 + 2.70 + 1.25 VAT = 101.25."""
    inv = invoice(k)
    taxes = {}
    tax_total = 0
    for li in inv["line_items"]:
        net = cents(li["subtotal_amount"]) - cents(li["discount_amount"])
        pct = 5 if li["kind"] == "one_time" else 20
        tax = (net * pct + 50) // 100
        li["tax_amount"] = money(tax)
        li["total_amount"] = money(net + tax)
        tax_total += tax
        t = taxes.setdefault(pct, {"uid": "tax_%06d_%d" % (k, pct), "title": "VAT", "description": None,
                                   "source_type": "Tax", "source_id": pct, "percentage": "%d.0" % pct,
                                   "taxable_amount": 0, "tax_amount": 0, "transaction_id": 85000 + k * 10 + pct // 5,
                                   "line_item_breakouts": [], "tax_component_breakouts": []})
        t["taxable_amount"] += net
        t["tax_amount"] += tax
        t["line_item_breakouts"].append({"uid": li["uid"], "taxable_amount": money(net), "tax_amount": money(tax),
                                         "tax_exempt_amount": "0.0"})
    for t in taxes.values():
        t["taxable_amount"], t["tax_amount"] = money(t["taxable_amount"]), money(t["tax_amount"])
    total = cents(inv["total_amount"]) + tax_total
    inv.update({"tax_amount": money(tax_total), "total_amount": money(total), "taxes": list(taxes.values()),
                "refund_amount": "0.0", "refunds": []})
    if inv["status"] == "paid":
        inv["paid_amount"] = money(total)
        inv["due_amount"] = "0.0"
        for p in inv["payments"]:
            p["original_amount"] = p["applied_amount"] = money(total)
    else:
        inv["due_amount"] = money(total)
    return inv


def linked_statement(j):
    """Scenario stmtsite: statement 7900j, closed, listing the transactions of invoice j's lines (the
    link, Legacy-Transaction.id = Invoice-Line-Item.transaction_id), its taxes and its payment."""
    st = statement(j)
    inv = taxed_invoice(j)
    txs = [{"id": li["transaction_id"], "subscription_id": 2000 + j, "customer_id": inv["customer_id"],
            "statement_id": st["id"], "type": "Charge", "transaction_type": "charge", "kind": li["kind"],
            "success": True, "amount_in_cents": cents(li["subtotal_amount"]) - cents(li["discount_amount"]),
            "memo": li["title"], "created_at": inv["created_at"]} for li in inv["line_items"]]
    txs += [{"id": t["transaction_id"], "subscription_id": 2000 + j, "customer_id": inv["customer_id"],
             "statement_id": st["id"], "type": "Charge", "transaction_type": "charge", "kind": "tax",
             "success": True, "amount_in_cents": cents(t["tax_amount"]), "memo": t["title"],
             "created_at": inv["created_at"]} for t in inv["taxes"]]
    txs += [{"id": p["transaction_id"], "subscription_id": 2000 + j, "customer_id": inv["customer_id"],
             "statement_id": st["id"], "type": "Payment", "transaction_type": "payment", "kind": None,
             "success": True, "amount_in_cents": cents(p["applied_amount"]), "memo": p["memo"],
             "created_at": p["transaction_time"]} for p in inv["payments"]]
    st.update({"total_in_cents": cents(inv["total_amount"]), "transactions": txs,
               "ending_balance_in_cents": cents(inv["due_amount"])})
    return st


# ---------------------------------------------------------------------------------------------
class Book:
    """The records of one entity as a virtual list in created (= id) order, with overrides."""

    def __init__(self, count, make, updated):
        self.count, self.make, self.updated = count, make, updated   # updated(i): monotonic, 1-based
        self.over = {}      # index -> replacement record (or None: deleted)
        self.extra = []     # records appended after the first `count`

    def get(self, i):
        if i < self.count:
            if i in self.over:
                return self.over[i]
            return self.make(i + 1)
        return self.extra[i - self.count]

    def size(self):
        return self.count + len(self.extra)


def unwrap_updated(rec):
    if rec is None:
        return None
    inner = rec
    for w in ("customer", "subscription", "statement"):
        if isinstance(rec, dict) and w in rec and len(rec) == 1:
            inner = rec[w]
    return inner.get("updated_at")


class Site:
    def __init__(self, key):
        self.key = key
        name = key.split("-")[0]
        bm = re.match(r"^bench(\d+)$", name)
        fm = re.match(r"^fuzz(\d+)$", name)
        self.seed = int(fm.group(1)) if fm else 0
        self.scenario = "bench" if bm else "fuzz" if fm else name
        n_inv = int(bm.group(1)) if bm else NI
        self.lock = threading.Lock()
        self.hits = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self.arrivals = []      # arrival times, for the most requests in any one second
        nc, ns = (NC, NS) if self.scenario != "bench" else (max(1, n_inv // 20), max(1, n_inv // 10))
        if self.scenario == "emptylist":
            nc = 150            # more than a reconcile confirms one by one by default
        self.books = {
            "customers": Book(nc, lambda i: {"customer": customer(i)},
                              lambda i: T0 + dt.timedelta(hours=i, minutes=i)),
            "subscriptions": Book(ns, lambda i: {"subscription": subscription(i, bm is not None)},
                                  (lambda i: T0 + dt.timedelta(minutes=i, hours=2)) if bm else
                                  (lambda i: T0 + dt.timedelta(days=i, hours=2))),
            "invoices": Book(n_inv, lambda i: invoice(i, ns, nc, bm is not None),
                             (lambda i: T0 + dt.timedelta(days=10, minutes=i, hours=1)) if bm else
                             (lambda i: T0 + dt.timedelta(days=10 + i, hours=1))),
            "credit_notes": Book(2 if self.scenario != "bench" else 0, credit_note, None),
            "statements": Book(ns if self.scenario != "bench" else 0, lambda i: {"statement": statement(i)}, None),
        }
        if self.scenario == "book":
            self.books = {e: Book(len(BOOK[e]), (lambda recs: lambda i: recs[i - 1])(BOOK[e]), None)
                          for e in ("customers", "subscriptions", "invoices")}
            self.books["credit_notes"] = Book(0, None, None)
            self.books["statements"] = Book(0, None, None)
        if self.scenario == "stmtsite":
            self.books["invoices"] = Book(3, taxed_invoice, lambda i: T0 + dt.timedelta(days=10 + i, hours=1))
            self.books["credit_notes"] = Book(0, None, None)
            self.books["statements"] = Book(3, lambda i: {"statement": linked_statement(i)}, None)
        self.bench = self.scenario == "bench"
        self.n_inv = n_inv
        if self.scenario == "hugenum":
            r = invoice(2)
            r["paid_amount"] = 1e15
            self.books["invoices"].over[1] = r
        if self.scenario == "orphan":
            r = statement(1)
            r.update({"id": 79099, "subscription_id": 2099})     # a subscription the site does not list
            self.books["statements"].extra.append({"statement": r})
        if self.scenario == "badsubid":
            r = subscription(2)
            r["id"] = "1/../../x"
            self.books["subscriptions"].over[1] = {"subscription": r}
        if self.scenario == "hugeint":
            r = invoice(2)
            r["paid_amount"] = 10 ** 15
            self.books["invoices"].over[1] = r
        if self.scenario == "numbers":
            r = invoice(2)
            for f in ("subtotal_amount", "discount_amount", "tax_amount", "total_amount", "paid_amount", "due_amount"):
                r[f] = float(r[f])
            r["line_items"][1]["discount_amount"] = 1.5
            self.books["invoices"].over[1] = r

    def hit(self, name):
        with self.lock:
            self.hits[name] = self.hits.get(name, 0) + 1
            return self.hits[name]


def arrive(s, t):
    with s.lock:
        s.in_flight += 1
        s.max_in_flight = max(s.max_in_flight, s.in_flight)
        s.arrivals.append(t)


def leave(s):
    with s.lock:
        s.in_flight -= 1


def stats(s):
    with s.lock:
        a = sorted(s.arrivals)
        best, lo = 0, 0
        for hi in range(len(a)):
            while a[hi] - a[lo] >= 1.0:
                lo += 1
            best = max(best, hi - lo + 1)
        return {"requests": len(a), "max_in_flight": s.max_in_flight, "max_per_second": best}


def site(key):
    with STATE_LOCK:
        if key not in STATE:
            STATE[key] = Site(key)
        return STATE[key]


def parse_since(v):
    v = v.strip().replace(" ", "T", 1)
    if v.endswith("Z"):
        v = v[:-1] + "+00:00"
    t = dt.datetime.fromisoformat(v)
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return t


def list_page(s, entity, q):
    """The records of one page, with the spec's filters (date_field=updated_at, start_datetime)."""
    book = s.books[entity]
    page = int(q.get("page", ["1"])[0])
    per_page = min(int(q.get("per_page", ["20"])[0]), 200)
    since = None
    if q.get("date_field", [""])[0] == "updated_at" and q.get("start_datetime"):
        since = parse_since(q["start_datetime"][0])
    if s.bench:
        # the bench book is in updated order: find the first record at or after since by bisection
        first, hi = 0, book.count
        while since is not None and first < hi:
            mid = (first + hi) // 2
            if book.updated(mid + 1) < since:
                first = mid + 1
            else:
                hi = mid
        lo = first + (page - 1) * per_page
        return [book.get(i) for i in range(lo, min(lo + per_page, book.size()))]
    if s.scenario == "samepage" and entity == "customers":
        page = 1                # a server (or cache) that ignores the page number
    recs = []
    for i in range(book.size()):
        r = book.get(i)
        if r is None:
            continue
        if since is not None:
            u = unwrap_updated(r)
            if u is not None and dt.datetime.fromisoformat(u) < since:
                continue
        recs.append(r)
    if s.scenario in ("hidden", "swapped") and s.hits.get("list-" + entity, 0) >= 2:
        recs = [r for r in recs if str(record_id(r)) not in HIDDEN]
    if s.scenario == "emptylist" and entity == "customers" and s.hits.get("customers-listing", 0) >= 2:
        recs = []               # a broken server: the listing is empty, the records are there
    if q.get("direction", ["asc"])[0] == "desc":
        recs.reverse()
    return recs[(page - 1) * per_page: page * per_page]


def mutate_before(s, entity, page):
    """Changes the book as a scenario says, before a listing is served."""
    if entity == "invoices" and page == 1:
        n = s.hit("invoices-listing")
        if s.scenario == "voided" and n == 2:
            r = invoice(2)
            r["status"] = "voided"
            r["updated_at"] = ts(T0 + dt.timedelta(days=400))
            s.books["invoices"].over[1] = r
    if entity == "customers" and page == 1:
        n = s.hit("customers-listing")
        if s.scenario in ("deleted", "shift") and n >= 2:
            s.books["customers"].over[4] = None


def mutate_after(s, entity, page):
    if s.scenario == "shift" and entity == "customers" and page == 1 and s.hits.get("customers-listing") == 2:
        # deleted between two page reads: customer 1003 moves back onto page 1, already read
        s.books["customers"].over[1] = None
    if s.scenario == "changing" and entity == "invoices" and page == 1 and s.hit("changing") == 1:
        b = s.books["invoices"]
        late = T0 + dt.timedelta(days=500)
        r = invoice(1)
        r["memo"] = "changed between pages"
        r["total_amount"] = "99.99"
        r["updated_at"] = ts(late)
        b.over[0] = r
        new = invoice(NI + 1)
        new["created_at"] = ts(late)
        new["updated_at"] = ts(late)
        b.extra.append(new)


HIDDEN = {"1002", "2002", "inv_000003", "cn_000001", "79002"}


def record_id(r):
    inner = r
    for w in ("customer", "subscription", "statement"):
        if isinstance(r, dict) and w in r and len(r) == 1:
            inner = r[w]
    return inner.get("uid", inner.get("id"))


def find_record(s, entity, rid):
    """GET /<entity>/<id>.json: the record as the spec's read endpoints give it ({"customer": {...}},
    {"subscription": {...}}, {"statement": {...}}; invoices and credit notes bare), or None (404)."""
    book = s.books[entity]
    for i in range(book.size()):
        r = book.get(i)
        if r is not None and str(record_id(r)) == rid:
            return r
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeMaxio/1.0"

    def log_message(self, fmt, *args):
        pass

    def setup(self):
        super().setup()
        # headers and body go out in separate writes: without this, Nagle and delayed ACKs
        # add ~40 ms to every response
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def record(self, key, status):
        if not key:
            return
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", key)
        with open(os.path.join(LOG_DIR, safe + ".log"), "a") as f:
            f.write("%.3f %d %s %d\n" % (self.arrived, status, self.path, self.client_address[1]))

    def reply(self, key, status, body, headers=None, length=None):
        data = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
        self.record(key, status)
        if getattr(self, "counted", None) is not None:
            leave(self.counted)     # before the answer goes out: the client may send the next at once
            self.counted = None
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(length if length is not None else len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass

    def do_GET(self):
        self.arrived = time.time()      # logged: when the request came, not when it was answered
        self.counted = None
        try:
            self.handle_get()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass
        finally:
            if self.counted is not None:
                leave(self.counted)
                self.counted = None

    def handle_get(self):
        u = urlsplit(self.path)
        m = re.match(r"^/s/([a-z0-9]+-[A-Za-z0-9_]+)(/.*)$", u.path)
        if not m:
            return self.reply(None, 404, {"errors": ["unknown path"]})
        key, path = m.group(1), m.group(2)
        s = site(key)
        if path == "/_stats":
            data = json.dumps(stats(s)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        arrive(s, self.arrived)
        self.counted = s
        q = parse_qs(u.query)
        auth = self.headers.get("Authorization", "")
        try:
            user, _, pw = base64.b64decode(auth[6:]).decode().partition(":") if auth.startswith("Basic ") else ("", "", "")
        except Exception:
            user, pw = "", ""
        # Advanced Billing's Basic auth: the API key is the user, "x" the password ("authkey" also checks the key)
        if not user or pw != "x" or s.scenario == "unauth" or (s.scenario == "authkey" and user != "key-" + key):
            return self.reply(key, 401, {"errors": ["Unauthorized"]})
        if s.scenario == "hang":
            self.record(key, 0)
            time.sleep(600)
            return
        if s.scenario == "slow":
            time.sleep(3)
        delay = re.search(r"_d(\d{1,4})$", key)
        if delay:
            time.sleep(int(delay.group(1)) / 1000)
        if s.scenario == "redirect":
            return self.reply(key, 302, {}, {"Location": "https://169.254.169.254/latest/meta-data/"})

        cm = re.match(r"^/subscriptions/(\d+)/components\.json$", path)
        if cm:
            cf = re.search(r"_cf(\d+)", key)
            if cf and cm.group(1) == "2003" and s.hit("cf") <= int(cf.group(1)):
                return self.reply(key, 500, {"errors": ["boom"]})
            return self.reply(key, 200, [] if s.scenario == "book" else components(int(cm.group(1)) - 2000))
        rm = re.match(r"^/(customers|subscriptions|invoices|credit_notes|statements)/([A-Za-z0-9_]+)\.json$", path)
        if rm:
            if s.scenario == "emptylist" and rm.group(2) == "1100" and s.hit("get-1100") <= 4:
                return self.reply(key, 500, {"errors": ["boom"]})     # fails a run mid-check once
            rec = find_record(s, rm.group(1), rm.group(2))
            if s.scenario == "swapped" and rec is not None:
                rec = s.books[rm.group(1)].get(0)     # answers with another record than asked for
            if rec is None:
                return self.reply(key, 404, {"errors": ["Not Found"]})
            return self.reply(key, 200, rec)
        em = re.match(r"^/(customers|subscriptions|invoices|credit_notes|statements)\.json$", path)
        if not em:
            return self.reply(key, 404, {"errors": ["Not found"]})
        entity = em.group(1)
        page = int(q.get("page", ["1"])[0])
        if entity == "invoices":
            fault = self.invoice_fault(s, key, page)
            if fault:
                return
        if page == 1:
            s.hit("list-" + entity)
        mutate_before(s, entity, page)
        if s.bench and not q.get("start_datetime") and BENCH_DIR:
            f = os.path.join(BENCH_DIR, "%d-%s-%d-%s.json" % (s.n_inv, entity, page, q.get("per_page", ["20"])[0]))
            if os.path.exists(f):
                with open(f, "rb") as fh:
                    return self.reply(key, 200, fh.read())
        recs = list_page(s, entity, q)
        if s.scenario == "stale" and entity == "invoices" and page == 1 and s.hits.get("invoices-listing", 0) >= 2:
            old = invoice(1)
            old["updated_at"] = ts(T0)          # older than the version served before, and different
            old["total_amount"] = "1.0"
            recs = [old] + [r for r in recs if r.get("uid") != "inv_000001"]
        if s.scenario == "dup" and page > 1 and entity == "invoices":
            prev = list_page(s, entity, dict(q, page=[str(page - 1)]))
            if prev and recs:
                recs = [prev[-1]] + recs
        body = {entity: recs} if entity in ("invoices", "credit_notes") else recs
        data = json.dumps(body, separators=(",", ":")).encode()
        if entity == "invoices" and page == 2:
            data = self.corrupt(s, data)
        if s.scenario == "fuzz":
            data = fuzz(data, s.seed, entity, page)
        if s.scenario == "rawnum" and entity == "customers":
            data = data.replace(b'"id":1001,', b'"id":1001,"n":{"a":19.99,"b":0.1,"c":1e-7,"d":12345.6789,"e":1.0,'
                                b'"f":-0.5,"g":100,"h":2.50,"i":1E+21,"j":123456789012.34,"k":[0.3,-1.5e-10]},'
                                b'"o":{"u":"\\u00e9 \xe2\x9c\x93 \\ud83d\\ude00","q":"a\\"b\\\\c\\n","t":true,"f":false,"z":null,'
                                b'"e":{},"a":[[],[{}]],"big":9223372036854775807,"neg":-9223372036854775808,"nz":-0.0},', 1)
        self.reply(key, 200, data)
        mutate_after(s, entity, page)

    def invoice_fault(self, s, key, page):
        sc = s.scenario
        n = s.hit("inv-page-%d" % page)
        pf = re.search(r"_pf(\d+)", key)
        if pf and page == int(pf.group(1)):
            self.reply(key, 500, {"errors": ["boom"]})
            return True
        pj = re.search(r"_pj(\d+)", key)
        if pj and page == int(pj.group(1)):
            self.reply(key, 200, b'{"invoices":[{"uid":"inv_')
            return True
        if sc == "r429s" and page == 1 and n == 1:
            self.reply(key, 429, {"errors": ["slow down"]}, {"Retry-After": "1"})
            return True
        if sc == "r429d" and page == 1 and n == 1:
            when = time.time() + 2
            self.reply(key, 429, {"errors": ["slow down"]},
                       {"Retry-After": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(when))})
            return True
        if sc == "e503" and page == 2 and n <= 2:
            self.reply(key, 503, {"errors": ["unavailable"]})
            return True
        if sc == "drop" and page == 2 and n <= 2:
            self.record(key, 0)
            self.close_connection = True        # no answer at all: the client sees an empty reply
            return True
        if sc == "e500" and page == 2:
            self.reply(key, 500, {"errors": ["boom"]})
            return True
        if sc == "cut" and page == 2:
            self.record(key, 200)
            data = b'{"invoices":[{"uid":"inv_000003"'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
            self.close_connection = True
            return True
        if sc in ("gzipbomb", "gzipbomb2") and page == 2:
            self.reply(key, 200, bomb(sc), {"Content-Encoding": "gzip" if sc == "gzipbomb" else "gzip, gzip"})
            return True
        if sc == "manyobjs" and page == 2:
            self.reply(key, 200, b'{"invoices":[' + b"{}," * (2 << 20) + b"{}]}")
            return True
        if sc == "deepjson" and page == 2:
            self.reply(key, 200, b"[" * 100000 + b"]" * 100000)
            return True
        if sc == "big" and page == 2:
            self.record(key, 200)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b" " * 65536
            try:
                for _ in range(64):     # 4 MB of whitespace, more than the tests' cap
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                pass
            self.close_connection = True
            return True
        return False

    def corrupt(self, s, data):
        sc = s.scenario
        if sc == "trunc":
            return data[: len(data) // 2]
        if sc == "badjson":
            return b"<html>Service temporarily unavailable</html>"
        if sc == "wrongtype":
            return data.replace(b'"subtotal_amount":"', b'"subtotal_amount":true,"x":"', 1)
        if sc == "dupkey":
            return data.replace(b'"memo":"Thanks"', b'"memo":"Thanks","memo":"again"', 1)
        if sc == "tinynum":
            return data.replace(b'"subtotal_amount":"', b'"subtotal_amount":1e-100,"x":"', 1)
        if sc == "nul":
            return data.replace(b'"memo":"Thanks"', b'"memo":"Tha\\u0000nks"', 1)
        return data


def gzip_repeat(prefix, chunk, times, suffix):
    """A gzip stream of prefix + chunk * times + suffix, made without compressing every copy: after a
    full flush deflate starts afresh, so each copy of the chunk compresses to the same bytes."""
    import struct
    import zlib
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    body = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    tail = c.compress(suffix) + c.flush()
    crc = zlib.crc32(prefix)
    for _ in range(times):
        crc = zlib.crc32(chunk, crc)
    crc = zlib.crc32(suffix, crc)
    size = len(prefix) + len(chunk) * times + len(suffix)
    return (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + head + body * times + tail +
            struct.pack("<II", crc & 0xffffffff, size & 0xffffffff))


BOMBS = {}
BOMBS_LOCK = threading.Lock()


def bomb(name):
    """The gzip bombs, made once: 100 MB in one layer, 2 GB in two."""
    with BOMBS_LOCK:
        if name not in BOMBS:
            chunk = b"{}," * (1 << 18)
            if name == "gzipbomb":
                BOMBS[name] = gzip_repeat(b'{"invoices":[', chunk, 133, b"{}]}")
            else:
                import zlib
                inner = gzip_repeat(b'{"invoices":[', chunk, 2731, b"{}]}")
                c = zlib.compressobj(9, zlib.DEFLATED, 31)
                BOMBS[name] = c.compress(inner) + c.flush()
        return BOMBS[name]


ODD_VALUES = [None, True, False, 0, -1, 1.5, -0.0001, 1e300, 12345678901234, "", "x" * 5000, "2024-13-45",
              "2024-02-30T25:61:00Z", "NaN", "-", "1e5", "0x10", "\u00e9\u4e2d", {}, [], [[[]]], {"a": {"b": {}}},
              "inv_000001", "USD ", "usd", 9007199254740993]


def fuzz(data, seed, entity, page):
    """Replaces about one value in twenty with an odd one (deterministic per seed, entity and page);
    some seeds also cut the body or break its syntax."""
    import random
    import zlib
    rng = random.Random(seed * 1000003 + zlib.crc32(entity.encode()) + page)
    doc = json.loads(data)

    def walk(v):
        if isinstance(v, dict):
            return {k: (rng.choice(ODD_VALUES) if rng.random() < 0.05 else walk(x)) for k, x in v.items()}
        if isinstance(v, list):
            return [(rng.choice(ODD_VALUES) if rng.random() < 0.02 else walk(x)) for x in v]
        return v
    out = json.dumps(walk(doc), separators=(",", ":")).encode()
    if seed % 7 == 0:
        out = out[: rng.randrange(len(out) + 1)]
    if seed % 11 == 0 and out:
        i = rng.randrange(len(out))
        out = out[:i] + bytes([rng.randrange(256)]) + out[i + 1:]
    return out


def serve(port, cert, key, plain=False):
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    if not plain:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(cert, key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    return srv


def pregen_one(args):
    n, entity, page, per_page, out = args
    s = site("bench%d-pregen" % n)
    recs = list_page(s, entity, {"page": [str(page)], "per_page": [str(per_page)]})
    body = {entity: recs} if entity in ("invoices", "credit_notes") else recs
    with open(os.path.join(out, "%d-%s-%d-%d.json" % (n, entity, page, per_page)), "wb") as f:
        f.write(json.dumps(body, separators=(",", ":")).encode())
    return len(recs)


def pregen(n, per_page, out):
    """Writes every page of the bench book to files (in parallel), so the server only reads them."""
    import multiprocessing
    os.makedirs(out, exist_ok=True)
    s = site("bench%d-pregen" % n)
    jobs = []
    for entity in ("customers", "subscriptions", "invoices", "credit_notes", "statements"):
        pages = s.books[entity].size() // per_page + 1
        jobs += [(n, entity, p, per_page, out) for p in range(1, pages + 1)]
    with multiprocessing.Pool() as pool:
        pool.map(pregen_one, jobs, chunksize=4)


def main():
    global LOG_DIR, BENCH_DIR, BOOK
    if len(sys.argv) > 1 and sys.argv[1] == "--pregen":
        pregen(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--certs", required=True, help="directory made by gen_certs.sh")
    ap.add_argument("--logs", required=True)
    ap.add_argument("--ports", default="0,0,0,0,0",
                    help="good,plain,selfsigned,wrongname,expired (0: any free port, printed after ready)")
    ap.add_argument("--bench-dir", help="pages written by --pregen N PER_PAGE DIR")
    ap.add_argument("--book", help="maxio.json written by test/fixtures/book.py, served as scenario book")
    a = ap.parse_args()
    if a.book:
        with open(a.book) as f:
            BOOK = json.load(f)
    LOG_DIR = a.logs
    BENCH_DIR = a.bench_dir
    os.makedirs(LOG_DIR, exist_ok=True)
    good, plain, selfsigned, wrongname, expired = [int(p) for p in a.ports.split(",")]
    c = lambda n: (os.path.join(a.certs, n + ".pem"), os.path.join(a.certs, n + ".key"))
    servers = [serve(good, *c("good")), serve(plain, None, None, plain=True), serve(selfsigned, *c("selfsigned")),
               serve(wrongname, *c("wrongname")), serve(expired, *c("expired"))]
    # the ports the kernel gave: choosing them beforehand could hand out one port twice
    sys.stdout.write("ready %s\n" % ",".join(str(srv.server_address[1]) for srv in servers))
    sys.stdout.flush()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
