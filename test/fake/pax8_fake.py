#!/usr/bin/env python3
"""A fake Pax8 Partner API for pg_billing's tests (python3 standard library only, HTTPS).

Shapes from shared/specs/pax8 (partner endpoints and authentication): lists paged from 0 with
page/size (size at most 200, else 422) in {"content": [...], "page": {size, totalElements,
totalPages, number}}; single records at /v1/<entity>/<id>; an OAuth2 client-credentials token
endpoint (POST JSON {client_id, client_secret, audience, grant_type}) whose bearer tokens expire.

The scenario is chosen by the path prefix: https://127.0.0.1:PORT/s/<scenario>-<nonce>/v1/...
and /s/<scenario>-<nonce>/oauth/token, so each test has its own state. Scenarios:

    ok          the book, nothing wrong; tokens live 3600 s
    revoked     the first token is refused (401) from its second use on: the client must fetch a
                new one once and go on
    expiring    tokens live 2 s and every list answer waits 0.6 s: a client that does not renew
                before expiry gets a 401 (logged as "expired")
    gone        from the 2nd companies listing on, company 3 is gone (404 when asked for by id)

Faults (for test/pgtap/pax8_faults.sql), all on the items of the second invoice listed (the March
invoice), items page 1 (page=1, the second items page at size 2), unless said otherwise:
    r429a       429 with Retry-After: 1 once, then the page
    r429n       429 without Retry-After twice, then the page
    e503        503 twice, then the page
    e500        500 every time
    slow        the answer waits 3 s
    trunc       the body is cut in half (a complete HTTP answer of half the JSON)
    badjson     the body is not JSON
    wrongtype   item 3 of the March invoice has "costTotal": true
    wronginv    the March invoice's "total" is "12,50" (not a decimal number), on the invoices page
    expiring    (see above) tokens expire during the invoices and their items

Credentials: client_id "pax8-client", client_secret "pax8-secret" (or the suite's canary, "canary_..."),
audience "api://p8p.client";
anything else gets 401 from the token endpoint. An API request without a valid token gets 401.

Every request is appended to <log-dir>/<key>.log as "<status> <method> <path>?<query> <token> <time>"
where <token> is "t1", "t2"... (the number of the token used, never a secret) or "-", and <time>
is the server's clock in seconds.
"""
import argparse
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
CLIENT_ID = "pax8-client"
CLIENT_SECRET = "pax8-secret"
AUDIENCE = "api://p8p.client"


def uid(kind, n):
    return "%s-0000-4000-8000-%012d" % ({"c": "11111111", "p": "22222222", "s": "33333333", "i": "44444444",
                                          "l": "55555555"}[kind], n)


COMPANIES = [
    {"id": uid("c", 1), "name": "Acme Pty", "externalId": "ACME", "status": "Active",
     "address": {"city": "Perth", "country": "AU"}, "updatedDate": "2024-03-01T10:00:00Z"},
    {"id": uid("c", 2), "name": "Beta LLC", "externalId": None, "status": "Active",
     "updatedDate": "2024-03-02T11:30:00.000Z"},
    {"id": uid("c", 3), "name": "Gamma Inc", "status": "Inactive"},
]
PRODUCTS = [
    {"id": uid("p", 1), "name": "Microsoft 365 Business Basic", "vendorName": "Microsoft", "sku": "MST-365-BB",
     "requiresCommitment": True},
    {"id": uid("p", 2), "name": "Acronis Backup", "vendorName": "Acronis", "sku": "ACR-BKP", "requiresCommitment": False},
]
SUBSCRIPTIONS = [
    {"id": uid("s", 1), "companyId": uid("c", 1), "productId": uid("p", 1), "productName": "Microsoft 365 Business Basic",
     "vendorSkuId": "CFQ7TTC0LH18", "quantity": 10, "price": 6.0, "partnerCost": 5.1, "currencyCode": "USD",
     "billingTerm": "Monthly", "status": "Active", "startDate": "2024-01-01T00:00:00Z",
     "createdDate": "2024-01-01T00:00:00Z", "updatedDate": "2024-03-05T00:00:00Z",
     "commitmentTerm": {"id": "c1", "term": "1-Year", "endDate": "2025-01-01T00:00:00Z"}},
    {"id": uid("s", 2), "companyId": uid("c", 1), "productId": uid("p", 2), "productName": "Acronis Backup",
     "quantity": 3, "price": 12.5, "partnerCost": 9.99, "currencyCode": "USD", "billingTerm": "Annual",
     "status": "Active", "startDate": "2024-02-01T00:00:00Z", "createdDate": "2024-02-01T00:00:00Z",
     "commitmentTerm": {"id": "c2", "term": "1-Year", "endDate": "2025-02-01T00:00:00Z"}},
    {"id": uid("s", 3), "companyId": uid("c", 2), "productId": uid("p", 1), "productName": "Microsoft 365 Business Basic",
     "quantity": 25, "price": 6.0, "partnerCost": 5.1, "currencyCode": "USD", "billingTerm": "Monthly",
     "status": "Cancelled", "startDate": "2024-01-15T00:00:00Z", "endDate": "2024-06-30T00:00:00Z",
     "createdDate": "2024-01-15T00:00:00Z"},
    {"id": uid("s", 4), "companyId": uid("c", 3), "productId": uid("p", 2), "productName": "Acronis Backup",
     "quantity": 1, "price": "19.99", "partnerCost": 15, "currencyCode": "AUD", "billingTerm": "2-Year",
     "status": "PendingManual", "createdDate": "2024-03-01T00:00:00Z"},
]

# Invoices (the partner's: Pax8 bills the MSP) and their items, which name the client companies.
# Amounts are JSON numbers, as Pax8 sends them; the figures are worked by hand in pax8_sync.sql and
# pax8_recon.sql.
PARTNER = "Northwind MSP"
INVOICES = [
    {"id": uid("i", 1), "invoiceDate": "2024-03-01", "dueDate": "2024-03-15", "status": "Unpaid",
     "total": 211.47, "balance": 211.47, "carriedBalance": 0, "currencyCode": "USD", "partnerName": PARTNER},
    {"id": uid("i", 2), "invoiceDate": "2024-02-01", "dueDate": "2024-02-15", "status": "Paid",
     "total": 40.8, "balance": 0, "carriedBalance": 0, "currencyCode": "USD", "partnerName": PARTNER},
]
ITEMS = {
    uid("i", 1): [
        {"id": uid("l", 1), "type": "subscription", "companyId": uid("c", 1), "companyName": "Acme Pty",
         "subscriptionId": uid("s", 1), "productId": uid("p", 1), "productName": "Microsoft 365 Business Basic",
         "sku": "MST-365-BB", "description": "Microsoft 365 Business Basic", "quantity": 10, "unitOfMeasure": "User",
         "term": "Monthly", "startPeriod": "2024-03-01", "endPeriod": "2024-04-01", "rateType": "single",
         "chargeType": "per", "price": 6.0, "subTotal": 60.0, "cost": 5.1, "costTotal": 51.0, "total": 60.0,
         "salesTax": 0, "amountDue": 60.0, "billingFee": 0, "billingFeeRate": 0, "billedByPax8": False,
         "offeredBy": "Pax8", "currencyCode": "USD", "vendorName": "Microsoft"},
        {"id": uid("l", 2), "type": "subscription", "companyId": uid("c", 1), "companyName": "Acme Pty",
         "subscriptionId": uid("s", 2), "productId": uid("p", 2), "productName": "Acronis Backup",
         "sku": "ACR-BKP", "description": "Acronis Backup", "quantity": 3, "term": "Annual",
         "startPeriod": "2024-02-01", "endPeriod": "2025-02-01", "price": 12.5, "subTotal": 37.5, "cost": 9.99,
         "costTotal": 29.97, "total": 40.5, "salesTax": 3.0, "currencyCode": "USD", "vendorName": "Acronis"},
        {"id": uid("l", 3), "type": "subscription", "companyId": uid("c", 2), "companyName": "Beta LLC",
         "subscriptionId": uid("s", 3), "productId": uid("p", 1), "productName": "Microsoft 365 Business Basic",
         "sku": "MST-365-BB", "description": "Microsoft 365 Business Basic", "quantity": 25, "term": "Monthly",
         "startPeriod": "2024-03-01", "endPeriod": "2024-04-01", "price": 6, "subTotal": 150, "cost": 5.1,
         "costTotal": 127.5, "total": 150, "currencyCode": "USD"},
    ],
    uid("i", 2): [
        {"id": uid("l", 4), "type": "prorate", "companyId": uid("c", 1), "companyName": "Acme Pty",
         "subscriptionId": uid("s", 1), "sku": "MST-365-BB", "productName": "Microsoft 365 Business Basic",
         "quantity": 8, "term": "Monthly", "startPeriod": "2024-02-01", "endPeriod": "2024-03-01",
         "price": 6.0, "subTotal": 48.0, "cost": 5.1, "costTotal": 40.8, "total": 48.0, "currencyCode": "USD"},
    ],
}


class Site:
    def __init__(self, key):
        self.key = key
        self.scenario = key.split("-")[0]
        self.tokens = {}          # token -> (number, expires at)
        self.issued = 0
        self.uses = {}            # token number -> API requests made with it
        self.listings = {}        # entity -> page-0 requests
        self.hits = {}            # path?query -> requests so far

    def issue(self):
        self.issued += 1
        life = 2 if self.scenario == "expiring" else 3600
        token = "fake-%s-%d-%s" % (self.key, self.issued, os.urandom(6).hex())
        self.tokens[token] = (self.issued, time.time() + life)
        return token, life

    def records(self, entity):
        if entity == "companies":
            recs = sorted(COMPANIES, key=lambda c: c["name"])
            if self.scenario == "gone" and self.listings.get("companies", 0) >= 2:
                recs = [c for c in recs if c["id"] != uid("c", 3)]
            return recs
        if entity == "products":
            return sorted(PRODUCTS, key=lambda p: p["name"])
        if entity == "invoices":
            recs = [dict(i) for i in sorted(INVOICES, key=lambda i: i["invoiceDate"])]
            if self.scenario == "wronginv":
                recs[1]["total"] = "12,50"
            return recs
        return sorted(SUBSCRIPTIONS, key=lambda s: s["createdDate"])

    def items(self, invoice):
        recs = [dict(i) for i in ITEMS.get(invoice, [])]
        if self.scenario == "wrongtype" and invoice == uid("i", 1):
            recs[2]["costTotal"] = True
        return recs

    def fault(self, path, query):
        """The fault of this request, or None: faults hit the March invoice's items page 1."""
        if path != "v1/invoices/%s/items" % uid("i", 1) or query.get("page") != ["1"]:
            return None
        with LOCK:
            n = self.hits[path] = self.hits.get(path, 0) + 1
        sc = self.scenario
        if sc == "r429a" and n == 1:
            return "429a"
        if sc == "r429n" and n <= 2:
            return "429n"
        if sc == "e503" and n <= 2:
            return "503"
        if sc == "e500":
            return "500"
        if sc in ("slow", "trunc", "badjson"):
            return sc
        return None


def site(key):
    with LOCK:
        if key not in STATE:
            STATE[key] = Site(key)
        return STATE[key]


def secret_ok(secret):
    """The client secret: "pax8-secret", or the test suite's canary (never logged anywhere)."""
    return secret == CLIENT_SECRET or (isinstance(secret, str) and secret.startswith("canary_") and len(secret) > 20)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def log(self, key, status, token_no):
        with LOCK:
            with open(os.path.join(LOG_DIR, key + ".log"), "a") as f:
                f.write("%d %s %s %s %.3f\n" % (status, self.command, self.path.split("/", 3)[3] if self.path.count("/") >= 3 else self.path,
                                               "t%d" % token_no if token_no else "-", time.time()))

    def send(self, status, body, headers=None, raw=None):
        data = raw if raw is not None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def send_fault(self, key, number, fault, body):
        """Answers with a fault; returns False when the fault only delays the answer."""
        if fault == "slow":
            time.sleep(3)
            return False
        if fault in ("429a", "429n"):
            self.log(key, 429, number)
            self.send(429, {"type": "rate_limited", "status": 429}, {"Retry-After": "1"} if fault == "429a" else None)
        elif fault in ("503", "500"):
            status = int(fault)
            self.log(key, status, number)
            self.send(status, {"type": "unavailable", "status": status})
        elif fault == "trunc":
            data = json.dumps(body).encode()
            self.log(key, 200, number)
            self.send(200, None, raw=data[:len(data) // 2])
        else:
            self.log(key, 200, number)
            self.send(200, None, raw=b"<html>Service Unavailable</html>")
        return True

    def paged(self, q):
        """(page, size) of a list request, or None when out of range."""
        try:
            page = int(q.get("page", ["0"])[0])
            size = int(q.get("size", ["10"])[0])
        except ValueError:
            return None
        if page < 0 or size < 1 or size > 200:
            return None
        return page, size

    def route(self):
        parts = urlsplit(self.path)
        segs = parts.path.split("/")
        if len(segs) < 4 or segs[1] != "s":
            return None, None, None, None
        return segs[2], segs[3:], parse_qs(parts.query), parts

    def do_POST(self):
        key, rest, _, _ = self.route()
        if key is None or rest != ["oauth", "token"]:
            self.send(404, {"type": "not_found", "status": 404})
            return
        s = site(key)
        n = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(n)) if 0 < n < 65536 else {}
        except ValueError:
            body = {}
        if self.headers.get("Content-Type", "").split(";")[0] != "application/json" or \
                body.get("grant_type") != "client_credentials" or body.get("audience") != AUDIENCE or \
                body.get("client_id") != CLIENT_ID or not secret_ok(body.get("client_secret")):
            self.log(key, 401, 0)
            self.send(401, {"error": "access_denied", "error_description": "Unauthorized"})
            return
        with LOCK:
            token, life = s.issue()
        self.log(key, 200, s.issued)
        self.send(200, {"access_token": token, "expires_in": life, "token_type": "Bearer"})

    def authorized(self, s):
        auth = self.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else None
        with LOCK:
            if token not in s.tokens:
                return None, "unknown"
            number, expires = s.tokens[token]
            if time.time() >= expires:
                return number, "expired"
            s.uses[number] = s.uses.get(number, 0) + 1
            if s.scenario == "revoked" and number == 1 and s.uses[number] >= 2:
                return number, "revoked"
        return number, None

    def do_GET(self):
        key, rest, q, parts = self.route()
        if key is None or not rest or rest[0] != "v1" or len(rest) < 2:
            self.send(404, {"type": "not_found", "status": 404})
            return
        s = site(key)
        number, refused = self.authorized(s)
        if refused:
            self.log(key, 401, number or 0)
            self.send(401, {"type": "unauthorized", "message": "token " + refused, "status": 401})
            return
        entity = rest[1]
        if entity == "invoices" and len(rest) == 4 and rest[3] == "items":
            self.items_list(key, s, number, rest[2], q, parts)
            return
        if entity not in ("companies", "products", "subscriptions", "invoices"):
            self.log(key, 404, number)
            self.send(404, {"type": "not_found", "status": 404})
            return
        if len(rest) == 3:
            recs = [r for r in s.records(entity) if r["id"] == rest[2]]
            status = 200 if recs else 404
            self.log(key, status, number)
            self.send(status, recs[0] if recs else {"type": "not_found", "status": 404})
            return
        ps = self.paged(q)
        if ps is None:
            self.log(key, 422, number)
            self.send(422, {"type": "invalid", "message": "page or size out of range", "status": 422})
            return
        page, size = ps
        if page == 0:
            with LOCK:
                s.listings[entity] = s.listings.get(entity, 0) + 1
        if s.scenario == "expiring":
            time.sleep(0.6)
        recs = s.records(entity)
        total = len(recs)
        self.log(key, 200, number)
        self.send(200, {"content": recs[page * size:(page + 1) * size],
                        "page": {"size": size, "totalElements": total, "totalPages": (total + size - 1) // size,
                                 "number": page}})

    def items_list(self, key, s, number, invoice, q, parts):
        if invoice not in ITEMS:
            self.log(key, 404, number)
            self.send(404, {"type": "not_found", "message": "Invalid invoice id", "status": 404})
            return
        ps = self.paged(q)
        if ps is None:
            self.log(key, 422, number)
            self.send(422, {"type": "invalid", "message": "page or size out of range", "status": 422})
            return
        page, size = ps
        if s.scenario == "expiring":
            time.sleep(0.6)
        recs = s.items(invoice)
        body = {"content": recs[page * size:(page + 1) * size],
                "page": {"size": size, "totalElements": len(recs), "totalPages": (len(recs) + size - 1) // size,
                         "number": page}}
        fault = s.fault(parts.path.split("/", 3)[3], q)
        if fault and self.send_fault(key, number, fault, body):
            return
        self.log(key, 200, number)
        self.send(200, body)


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
