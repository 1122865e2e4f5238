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

Credentials: client_id "pax8-client", client_secret "pax8-secret", audience "api://p8p.client";
anything else gets 401 from the token endpoint. An API request without a valid token gets 401.

Every request is appended to <log-dir>/<key>.log as "<status> <method> <path>?<query> <token>"
where <token> is "t1", "t2"... (the number of the token used, never a secret) or "-".
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
    return "%s-0000-4000-8000-%012d" % ({"c": "11111111", "p": "22222222", "s": "33333333"}[kind], n)


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


class Site:
    def __init__(self, key):
        self.key = key
        self.scenario = key.split("-")[0]
        self.tokens = {}          # token -> (number, expires at)
        self.issued = 0
        self.uses = {}            # token number -> API requests made with it
        self.listings = {}        # entity -> page-0 requests

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
        return sorted(SUBSCRIPTIONS, key=lambda s: s["createdDate"])


def site(key):
    with LOCK:
        if key not in STATE:
            STATE[key] = Site(key)
        return STATE[key]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def log(self, key, status, token_no):
        with LOCK:
            with open(os.path.join(LOG_DIR, key + ".log"), "a") as f:
                f.write("%d %s %s %s\n" % (status, self.command, self.path.split("/", 3)[3] if self.path.count("/") >= 3 else self.path,
                                          "t%d" % token_no if token_no else "-"))

    def send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

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
                body.get("client_id") != CLIENT_ID or body.get("client_secret") != CLIENT_SECRET:
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
        if entity not in ("companies", "products", "subscriptions"):
            self.log(key, 404, number)
            self.send(404, {"type": "not_found", "status": 404})
            return
        if len(rest) == 3:
            recs = [r for r in s.records(entity) if r["id"] == rest[2]]
            status = 200 if recs else 404
            self.log(key, status, number)
            self.send(status, recs[0] if recs else {"type": "not_found", "status": 404})
            return
        try:
            page = int(q.get("page", ["0"])[0])
            size = int(q.get("size", ["10"])[0])
        except ValueError:
            page, size = -1, -1
        if page < 0 or size < 1 or size > 200:
            self.log(key, 422, number)
            self.send(422, {"type": "invalid", "message": "page or size out of range", "status": 422})
            return
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
