#!/usr/bin/env python3
"""A fake Splynx REST API v2.0 for pg_billing's tests (python3 standard library only, HTTPS).

Shapes from shared/specs/splynx (API Blueprint) and design/apis.md section 4: lists under
/api/2.0/admin/... paged with limit/offset, the total in the X-total-count header (also on HEAD),
search main_attributes[<field>][0]=<op>&main_attributes[<field>][1]=<value> on date_updated and
id, order[id]=ASC; access tokens from POST /api/2.0/admin/auth/tokens with
{"auth_type": "api_key", "key", "signature", "nonce"} where signature is
UPPER(hex(HMAC-SHA256(secret, nonce . key))) and the nonce must grow; requests then carry
"Authorization: Splynx-EA (access_token=<token>)". Numbers arrive as strings in some records and
as JSON numbers in others.

The scenario is the path prefix: https://127.0.0.1:PORT/s/<scenario>-<nonce>/api/2.0/...
    ok        tokens live 1800 s
    expiring  tokens live 2 s and every list answer waits 0.6 s: a client that does not renew
              before expiry gets 401 EXPIRED_ACCESS_TOKEN
    revoked   the first token is refused from its second use on (401 EXPIRED_ACCESS_TOKEN)
    fault     customers answer 429 (Retry-After: 0) once; invoices at offset 2 answer 500 on the
              first four requests (a client with 3 retries gives up), then normally
    badjson   invoices at offset 2 answer a truncated body once
    cut       payments at offset 0: the first answer stops short of its Content-Length (the
              connection closes mid-body)
    slow      invoices at offset 0: the first answer waits 3 s before it starts
    shrink    customer 1 is deleted right after the first customers page is answered (the list
              shrinks under a pass: X-total-count falls from 3 to 2)
    shrinking customers pages after the first answer with X-total-count one less than the first
              (a list that shrinks under every pass)
    empty     every list is empty (X-total-count 0)
    mrr       invoices are MRR_INVOICES (service periods of 1, 2, 3 and 12 months and a proration)
From the second listing of invoices on, invoice 2 is paid (date_updated 2024-02-10 12:00:00),
payment 4 and transaction 4 exist.

Keys: "splynx-key"/"splynx-secret" (Basic refused: no "unsecure access") and "basic-key"/
"basic-secret" (Basic allowed). Each request is appended to <log-dir>/<key>.log as
"<status> <method> <path after api/2.0/> <auth>" where <auth> is t1, t2... (the token's number),
"basic" or "-"; never a secret.
"""
import argparse
import base64
import copy
import hashlib
import hmac
import json
import os
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LOG_DIR = "."
STATE = {}
LOCK = threading.Lock()
KEYS = {"splynx-key": ("splynx-secret", False), "basic-key": ("basic-secret", True)}

CUSTOMERS = [
    {"id": 1, "login": "ann", "name": "Ann Smith", "email": "ann@example.net", "status": "active",
     "category": "person", "date_add": "2023-12-01", "parent_id": 0},
    {"id": "2", "login": "bob", "name": "Bob's Café", "email": "", "status": "active",
     "category": "company", "date_add": "2023-12-15", "parent_id": "0"},
    {"id": "3", "login": "carl", "name": "Carl Ltd", "email": "carl@example.net", "status": "blocked",
     "category": "company", "date_add": "0000-00-00"},
]
INVOICES = [
    {"id": 1, "customer_id": 1, "number": "INV-1", "date_created": "2024-01-01", "date_till": "2024-01-15",
     "date_payment": "2024-01-10", "date_updated": "2024-01-10 09:00:00", "status": "paid", "type": "recurring",
     "items": [{"id": 11, "description": "Internet 100 Mbit", "quantity": 1, "unit": "month", "price": "30.00",
                "tax": "20", "period_from": "2024-01-01", "period_to": "2024-01-31"}]},
    {"id": "2", "customer_id": "2", "number": "INV-2", "date_created": "2024-01-05", "date_till": "2024-01-20",
     "date_payment": "0000-00-00", "date_updated": "2024-01-05", "status": "not_paid", "type": "one_time",
     "items": [{"id": "21", "description": "Router", "quantity": "2", "price": 12.345, "tax": 10},
               {"id": "22", "description": "Installation", "quantity": 1, "price": "0.125", "tax": "0"}]},
    {"id": 3, "customer_id": 3, "number": "INV-3", "date_created": "2024-02-01", "date_till": "2024-02-15",
     "date_payment": "0000-00-00", "date_updated": "2024-02-02 10:00:00", "status": "deleted", "type": "one_time",
     "items": [{"id": 31, "description": "Static IP", "quantity": 1, "price": 10, "tax": "20"}]},
]
CREDIT_NOTES = [
    {"id": 1, "customer_id": "1", "number": "CN-1", "date_created": "2024-01-20", "date_updated": "2024-01-20",
     "status": "not_paid", "note": "Outage 18 Jan",
     "items": [{"id": 101, "description": "Outage credit", "quantity": "1", "price": "5.005", "tax": "20"}]},
]
PAYMENTS = [
    {"id": 1, "customer_id": 1, "invoice_id": 1, "payment_type": "2", "receipt_number": "R-1",
     "date": "2024-01-10", "amount": "36.00"},
    {"id": "2", "customer_id": "2", "invoice_id": "0", "payment_type": 1, "receipt_number": "R-2",
     "date": "2024-01-06", "amount": 10},
    {"id": 3, "customer_id": 3, "invoice_id": 0, "payment_type": "1", "receipt_number": "",
     "date": "2024-02-03", "amount": "12.5"},
]
LATER_PAYMENT = {"id": 4, "customer_id": 2, "invoice_id": 2, "payment_type": "2", "receipt_number": "R-4",
                 "date": "2024-02-10", "amount": "27.29"}
# The ledger: the blueprint's Transaction Response, numbers as strings or numbers; a total is
# missing on 3 (the client computes it), empty and 0000-00-00 periods mean none.
TRANSACTIONS = [
    {"id": 1, "type": "debit", "customer_id": 1, "quantity": 1, "unit": "month", "price": "30.00", "tax_percent": "20",
     "total": "36.0000", "date": "2024-01-01", "category": "1", "description": "Internet 100 Mbit",
     "period_from": "2024-01-01", "period_to": "2024-01-31", "service_id": 7, "service_type": "internet",
     "payment_id": None, "credit_note_id": 0, "invoice_id": 1, "invoiced_by_id": None, "source": "auto"},
    {"id": "2", "type": "credit", "customer_id": "1", "quantity": "1", "price": 36, "tax_percent": 0, "total": 36,
     "date": "2024-01-10", "category": 3, "description": "Payment R-1", "period_from": "0000-00-00",
     "period_to": "0000-00-00", "payment_id": "1", "invoice_id": "0", "source": "manual"},
    {"id": 3, "type": "debit", "customer_id": 2, "quantity": "2", "price": 12.345, "tax_percent": 10,
     "date": "2024-01-05", "category": "2", "description": "Router", "period_from": "", "period_to": "",
     "invoice_id": 2, "source": "manual"},
]
LATER_TRANSACTION = {"id": 4, "type": "credit", "customer_id": 2, "quantity": 1, "price": "27.29", "tax_percent": "0",
                     "total": "27.2900", "date": "2024-02-10", "category": "3", "description": "Payment R-4",
                     "payment_id": 4, "invoice_id": 0}
# Scenario mrr: service lines of 1, 2, 3 and 12 calendar months, and a 15-day proration.
MRR_INVOICES = [
    {"id": 11, "customer_id": 1, "number": "M-11", "date_created": "2024-01-01", "date_till": "2024-01-15",
     "date_payment": "2024-01-02", "date_updated": "2024-01-02", "status": "paid",
     "items": [{"id": 111, "description": "Internet, quarterly", "quantity": 1, "price": "90.00", "tax": "20",
                "period_from": "2024-01-01", "period_to": "2024-03-31"},
               {"id": 112, "description": "Static IP, two months", "quantity": "1", "price": 50, "tax": "0",
                "period_from": "2024-01-01", "period_to": "2024-02-29"}]},
    {"id": 12, "customer_id": 2, "number": "M-12", "date_created": "2024-01-15", "date_till": "2024-01-30",
     "date_payment": "2024-01-16", "date_updated": "2024-01-16", "status": "paid",
     "items": [{"id": 121, "description": "Internet, yearly", "quantity": 1, "price": "240.00", "tax": "10",
                "period_from": "2024-01-15", "period_to": "2025-01-14"}]},
    {"id": 13, "customer_id": 3, "number": "M-13", "date_created": "2024-01-17", "date_till": "2024-01-31",
     "date_payment": "2024-01-18", "date_updated": "2024-01-18", "status": "paid",
     "items": [{"id": 131, "description": "Internet, from 17 Jan", "quantity": 1, "price": "15.50", "tax": "0",
                "period_from": "2024-01-17", "period_to": "2024-01-31"}]},
]
PATHS = {"customers/customer": "customers", "finance/invoices": "invoices",
         "finance/credit-notes": "credit_notes", "finance/payments": "payments",
         "finance/transactions": "transactions"}


class Site:
    def __init__(self, key):
        self.key = key
        self.scenario = key.split("-")[0]
        self.tokens = {}
        self.issued = 0
        self.uses = {}
        self.last_nonce = 0
        self.listings = {}
        self.faults = {}
        self.deleted = False
        self.customer_pages = 0

    def issue(self):
        self.issued += 1
        life = 2 if self.scenario == "expiring" else 1800
        token = "tok%d%s" % (self.issued, os.urandom(8).hex())
        self.tokens[token] = (self.issued, time.time() + life)
        return token, int(time.time()) + life

    def records(self, entity):
        changed = self.listings.get("invoices", 0) >= 2
        if self.scenario == "empty":
            return []
        if entity == "customers":
            return CUSTOMERS[1:] if self.scenario == "shrink" and self.deleted else CUSTOMERS
        if entity == "credit_notes":
            return [] if self.scenario == "mrr" else CREDIT_NOTES
        if entity == "payments":
            return [] if self.scenario == "mrr" else PAYMENTS + ([LATER_PAYMENT] if changed else [])
        if entity == "transactions":
            return [] if self.scenario == "mrr" else TRANSACTIONS + ([LATER_TRANSACTION] if changed else [])
        if self.scenario == "mrr":
            return MRR_INVOICES
        invs = copy.deepcopy(INVOICES)
        if changed:
            invs[1].update(status="paid", date_payment="2024-02-10", date_updated="2024-02-10 12:00:00")
        return invs


def site(key):
    with LOCK:
        if key not in STATE:
            STATE[key] = Site(key)
        return STATE[key]


def matches(rec, q):
    for field in ("date_updated", "id"):
        op = q.get("main_attributes[%s][0]" % field, [None])[0]
        val = q.get("main_attributes[%s][1]" % field, [None])[0]
        if op is None:
            continue
        have = rec.get(field)
        if field == "id":
            have, val = int(have), int(val)
        else:
            have = have or ""
        if op == ">=" and not have >= val or op == ">" and not have > val:
            return False
    return True


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def log(self, key, status, who):
        path = self.path.split("/api/2.0/", 1)[-1]
        with LOCK:
            with open(os.path.join(LOG_DIR, key + ".log"), "a") as f:
                f.write("%d %s %s %s\n" % (status, self.command, path, who))

    def send(self, status, body, headers=(), raw=None):
        data = raw if raw is not None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        if raw is not None:
            self.close_connection = True

    def error(self, key, status, who, internal):
        self.log(key, status, who)
        self.send(status, {"error": {"message": internal.lower(), "code": status, "internal_code": internal}})

    def route(self):
        parts = urlsplit(self.path)
        segs = parts.path.split("/")
        if len(segs) < 6 or segs[1] != "s" or segs[3:5] != ["api", "2.0"]:
            return None, None, None
        return segs[2], "/".join(segs[5:]), parse_qs(parts.query)

    def do_POST(self):
        key, rest, _ = self.route()
        if key is not None and rest == "admin/finance/payments":   # payment posts: see "Payment modes" below
            return post_payment(self, key)
        if key is None or rest != "admin/auth/tokens":
            self.send(404, {"error": {"message": "not found", "code": 404}})
            return
        s = site(key)
        n = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(n)) if 0 < n < 65536 else {}
            nonce = int(body.get("nonce"))
        except (ValueError, TypeError):
            body, nonce = {}, 0
        secret = KEYS.get(body.get("key"), (None, False))[0]
        want = hmac.new(secret.encode(), (str(body.get("nonce")) + body["key"]).encode(),
                        hashlib.sha256).hexdigest().upper() if secret else None
        with LOCK:
            fresh = nonce > s.last_nonce
            if fresh:
                s.last_nonce = nonce
        if body.get("auth_type") != "api_key" or want is None or body.get("signature") != want or not fresh:
            self.error(key, 401, "-", "INVALID_SIGNATURE" if fresh else "NONCE_USED")
            return
        with LOCK:
            token, exp = s.issue()
        self.log(key, 201, "t%d" % s.issued)
        self.send(201, {"access_token": token, "access_token_expiration": exp,
                        "refresh_token": "r" + token, "refresh_token_expiration": exp + 3600, "permissions": {}})

    def authorized(self, s):
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                k, _, p = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                return None, "INVALID_AUTH"
            secret, allowed = KEYS.get(k, (None, False))
            if secret != p or not allowed:
                return None, "BASIC_AUTH_NOT_ALLOWED"
            return "basic", None
        if not (auth.startswith("Splynx-EA (access_token=") and auth.endswith(")")):
            return None, "UNAUTHORIZED"
        token = auth[len("Splynx-EA (access_token="):-1]
        with LOCK:
            if token not in s.tokens:
                return None, "INVALID_ACCESS_TOKEN"
            number, expires = s.tokens[token]
            if time.time() >= expires:
                return "t%d" % number, "EXPIRED_ACCESS_TOKEN"
            s.uses[number] = s.uses.get(number, 0) + 1
            if s.scenario == "revoked" and number == 1 and s.uses[number] >= 2:
                return "t%d" % number, "EXPIRED_ACCESS_TOKEN"
        return "t%d" % number, None

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        key, rest, q = self.route()
        if key is None or not rest.startswith("admin/"):
            self.send(404, {"error": {"message": "not found", "code": 404}})
            return
        s = site(key)
        who, refused = self.authorized(s)
        if refused:
            self.error(key, 401, who or "-", refused)
            return
        path = rest[len("admin/"):]
        one = None
        if path not in PATHS:
            head, _, one = path.rpartition("/")
            if head not in PATHS:
                self.error(key, 404, who, "NOT_FOUND")
                return
            path = head
        entity = PATHS[path]
        if one is not None:
            recs = s.records(entity)
            recs = [r for r in recs if str(r["id"]) == one]
            if not recs:
                self.error(key, 404, who, "NOT_FOUND")
                return
            self.log(key, 200, who)
            self.send(200, recs[0])
            return
        try:
            offset = int(q.get("offset", ["0"])[0])
            limit = int(q.get("limit", ["100"])[0])
        except ValueError:
            offset, limit = -1, -1
        if offset < 0 or limit < 1 or limit > 1000:
            self.error(key, 400, who, "INVALID_INPUT_DATA")
            return
        with LOCK:
            if offset == 0 and self.command == "GET":
                s.listings[entity] = s.listings.get(entity, 0) + 1
            fault = (entity, offset)
            s.faults[fault] = s.faults.get(fault, 0) + 1
            tries = s.faults[fault]
        if s.scenario == "expiring":
            time.sleep(0.6)
        if s.scenario == "fault" and entity == "customers" and offset == 0 and tries == 1:
            self.log(key, 429, who)
            self.send(429, {"error": {"message": "too many requests", "code": 429}}, [("Retry-After", "0")])
            return
        if s.scenario == "fault" and entity == "invoices" and offset == 2 and tries <= 4:
            self.error(key, 500, who, "INTERNAL_ERROR")
            return
        if s.scenario == "slow" and entity == "invoices" and offset == 0 and tries == 1:
            time.sleep(3)
        recs = [r for r in s.records(entity) if matches(r, q)]
        total = len(recs)
        page = recs[offset:offset + limit]
        if entity == "customers" and self.command == "GET":
            with LOCK:
                s.customer_pages += 1
                if s.scenario == "shrink":
                    s.deleted = True
                if s.scenario == "shrinking" and offset > 0:
                    total -= 1
        if s.scenario == "cut" and entity == "payments" and offset == 0 and tries == 1:
            self.log(key, 200, who)
            data = json.dumps(page).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data) + 100))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
            self.close_connection = True
            return
        self.log(key, 200, who)
        if s.scenario == "badjson" and entity == "invoices" and offset == 2 and tries == 1:
            self.send(200, None, [("X-total-count", str(total))], raw=json.dumps(page).encode()[:-7])
            return
        self.send(200, page, [("X-total-count", str(total))])


# Payment modes (docs/splynx-payment-modes.md) ------------------------------------------------------
# POST /api/2.0/admin/finance/payments creates a payment: stateful per site, so the next list (and
# GET .../payments/<id>) shows it; lists filter main_attributes[receipt_number]=<value> (a look-up).
# A payment of an invoice's whole total marks the invoice paid (date_updated = the payment's day at
# 12:00:00). Scenarios of their own, chosen like the others by the path prefix:
#     modes   a small ISP: customers 1 Ann and 2 Bob; INV-101 (Ann, paid in Splynx by payment 1,
#             payment_type 2, receipt R-101, 36.00 = 30.00 + 20%), INV-102 (Bob, open, 24.00 + 18.00
#             = 42.00: Internet 20.00 + 20% in category 1, Router 15.00 + 20% in category 2), credit
#             note CN-101 (Ann, 5.00 + 20% = 6.00, category 1). Item categories: categoryIdForTransaction.
#     lose    the same book; the first payment post is created, then the connection is closed
#             without an answer (the client must look it up by receipt_number, not post it again)
#     isp     a generated book (the demo): isp-<anything>_c<N> has N customers (default 12), each
#             with invoices for January to March 2024 (one plan of 25, 35 or 50 + 20%, category 1),
#             the first two months paid in Splynx (payment_type 1), March open; _d<MS> in the key
#             delays each post's answer by MS ms after the payment is created (the kill test)
# Posted payments get ids from 1001 up. Each post is logged like the other requests.
MODES_CUSTOMERS = [
    {"id": 1, "login": "ann", "name": "Ann Smith", "email": "ann@example.net", "status": "active",
     "category": "person", "date_add": "2024-01-01", "parent_id": 0},
    {"id": 2, "login": "bob", "name": "Bob Jones", "email": "bob@example.net", "status": "active",
     "category": "person", "date_add": "2024-01-01", "parent_id": 0},
]
MODES_INVOICES = [
    {"id": 101, "customer_id": 1, "number": "INV-101", "date_created": "2024-03-01", "date_till": "2024-03-15",
     "date_payment": "2024-03-10", "date_updated": "2024-03-10 09:00:00", "status": "paid", "type": "recurring",
     "items": [{"id": 1011, "description": "Internet 100", "quantity": 1, "price": "30.00", "tax": "20",
                "period_from": "2024-03-01", "period_to": "2024-03-31", "categoryIdForTransaction": 1}]},
    {"id": 102, "customer_id": 2, "number": "INV-102", "date_created": "2024-03-01", "date_till": "2024-03-15",
     "date_payment": "0000-00-00", "date_updated": "2024-03-01", "status": "not_paid", "type": "recurring",
     "items": [{"id": 1021, "description": "Internet 50", "quantity": 1, "price": "20.00", "tax": "20",
                "period_from": "2024-03-01", "period_to": "2024-03-31", "categoryIdForTransaction": 1},
               {"id": 1022, "description": "Router", "quantity": "1", "price": 15, "tax": 20,
                "categoryIdForTransaction": "2"}]},
]
MODES_CREDIT_NOTES = [
    {"id": 101, "customer_id": 1, "number": "CN-101", "date_created": "2024-03-05", "date_updated": "2024-03-05",
     "status": "not_paid", "note": "Outage 4 March",
     "items": [{"id": 1031, "description": "Outage credit", "quantity": 1, "price": "5.00", "tax": "20",
                "categoryIdForTransaction": 1}]},
]
MODES_PAYMENTS = [
    {"id": 1, "customer_id": 1, "invoice_id": 101, "payment_type": "2", "receipt_number": "R-101",
     "date": "2024-03-10", "amount": "36.00", "comment": ""},
]
MODES = {}          # site key -> {"invoices": [...], "posted": [...], "posts": n}


def isp_book(key):
    import random
    m = __import__("re").search(r"_c(\d+)", key)
    n = min(int(m.group(1)), 500) if m else 12
    rnd = random.Random(7)
    customers, invoices, payments = [], [], []
    for c in range(1, n + 1):
        customers.append({"id": c, "login": "isp%03d" % c, "name": "Subscriber %03d" % c,
                          "email": "isp%03d@example.net" % c, "status": "active", "category": "person",
                          "date_add": "2023-12-15", "parent_id": 0})
        price = rnd.choice(["25.00", "35.00", "50.00"])
        total = "%.2f" % (float(price) * 1.2)
        for mo, (start, end) in enumerate([("2024-01-01", "2024-01-31"), ("2024-02-01", "2024-02-29"),
                                           ("2024-03-01", "2024-03-31")], 1):
            iid = c * 10 + mo
            paid = mo < 3
            invoices.append({"id": iid, "customer_id": c, "number": "ISP-%05d" % iid, "date_created": start,
                             "date_till": start[:8] + "15", "date_payment": start[:8] + "05" if paid else "0000-00-00",
                             "date_updated": start, "status": "paid" if paid else "not_paid", "type": "recurring",
                             "items": [{"id": iid * 10, "description": "Internet %s" % price, "quantity": 1,
                                        "price": price, "tax": "20", "period_from": start, "period_to": end,
                                        "categoryIdForTransaction": 1}]})
            if paid:
                payments.append({"id": iid, "customer_id": c, "invoice_id": iid, "payment_type": "1",
                                 "receipt_number": "GW-%05d" % iid, "date": start[:8] + "05", "amount": total})
    return customers, invoices, payments


def modes_site(key):
    with LOCK:
        if key not in MODES:
            scenario = key.split("-")[0]
            if scenario == "isp":
                cust, invs, pays = isp_book(key)
                MODES[key] = {"customers": cust, "invoices": invs, "credit_notes": [], "payments": pays}
            else:
                MODES[key] = {"customers": MODES_CUSTOMERS, "invoices": copy.deepcopy(MODES_INVOICES),
                              "credit_notes": MODES_CREDIT_NOTES, "payments": list(MODES_PAYMENTS)}
            MODES[key].update(posted=[], posts=0)
        return MODES[key]


_plain_records = Site.records


def records_with_posts(self, entity):
    if self.scenario in ("modes", "lose", "isp"):
        m = modes_site(self.key)
        if entity == "payments":
            return m["payments"] + m["posted"]
        return m.get(entity, [])          # the modes books have no transactions
    recs = _plain_records(self, entity)
    return recs + modes_site(self.key)["posted"] if entity == "payments" and self.key in MODES else recs


Site.records = records_with_posts
_plain_matches = matches


def matches(rec, q):     # noqa: F811 (the plain filter, and an equality on receipt_number)
    want = q.get("main_attributes[receipt_number]", [None])[0]
    return _plain_matches(rec, q) and (want is None or rec.get("receipt_number") == want)


def post_payment(h, key):
    s = site(key)
    who, refused = h.authorized(s)
    if refused:
        h.error(key, 401, who or "-", refused)
        return
    n = int(h.headers.get("Content-Length") or 0)
    try:
        body = json.loads(h.rfile.read(n)) if 0 < n < 65536 else None
    except ValueError:
        body = None
    m = modes_site(key)
    custs = {str(c["id"]) for c in s.records("customers")}
    invs = {str(i["id"]): i for i in s.records("invoices")}
    bad = not isinstance(body, dict) or any(not str(body.get(f) or "") for f in
                                            ("customer_id", "payment_type", "receipt_number", "date", "amount"))
    if not bad:
        try:
            amount = float(body["amount"])
        except (TypeError, ValueError):
            amount = -1
        inv = invs.get(str(body.get("invoice_id") or ""))
        bad = (amount <= 0 or str(body["customer_id"]) not in custs or
               (body.get("invoice_id") and (inv is None or str(inv["customer_id"]) != str(body["customer_id"]))))
    if bad:
        h.error(key, 400, who, "INVALID_INPUT_DATA")
        return
    with LOCK:
        m["posts"] += 1
        first = m["posts"] == 1
        pid = 1000 + len(m["posted"]) + 1
        rec = {"id": pid, "customer_id": int(body["customer_id"]), "invoice_id": int(body.get("invoice_id") or 0),
               "payment_type": str(body["payment_type"]), "receipt_number": body["receipt_number"],
               "date": body["date"], "amount": "%.2f" % amount, "comment": body.get("comment", ""),
               "added_by": "api"}
        m["posted"].append(rec)
        if inv is not None and inv in m.get("invoices", []):
            total = sum(round(float(it.get("quantity", 1)) * float(it["price"]) * (1 + float(it.get("tax", 0)) / 100), 2)
                        for it in inv["items"])
            if amount >= round(total, 2) - 0.005:
                inv.update(status="paid", date_payment=body["date"], date_updated=body["date"] + " 12:00:00")
    delay = __import__("re").search(r"_d(\d+)", key)
    if delay:                       # isp-..._d<ms>: the answer comes ms after the payment exists
        time.sleep(min(int(delay.group(1)), 10000) / 1000.0)
    if s.scenario == "lose" and first:
        h.log(key, 0, who)          # created, but the answer is lost
        h.close_connection = True
        return
    h.log(key, 201, who)
    h.send(201, {"id": pid})



def main():
    global LOG_DIR
    ap = argparse.ArgumentParser()
    ap.add_argument("--certs", required=True, help="directory made by gen_certs.sh")
    ap.add_argument("--logs", required=True)
    a = ap.parse_args()
    LOG_DIR = a.logs
    os.makedirs(LOG_DIR, exist_ok=True)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(os.path.join(a.certs, "good.pem"), os.path.join(a.certs, "good.key"))
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    sys.stdout.write("ready %d\n" % srv.server_address[1])
    sys.stdout.flush()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
