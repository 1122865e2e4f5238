#!/usr/bin/env python3
"""A fake ConnectWise Manage (PSA) REST API 3.0 for pg_billing's tests (python3 standard library only).

It serves the shapes of shared/specs/connectwise/connectwise-manage-subset.yaml: companies, catalog
items, agreements and each agreement's additions, from a small fixed book (below), over HTTPS with the
test CA's "good" certificate, and injects faults on request.

The scenario is chosen by the path prefix of the source's base_url:

    https://127.0.0.1:PORT/s/<scenario>-<nonce>/company/companies?page=1&pageSize=2...

so every test has its own source, scenario and state (keyed by "<scenario>-<nonce>").

Every request needs Basic auth "<company_id>+<public_key>:<private_key>" (401 otherwise) and a
clientId header (422 otherwise, as the spec has it required); the private key must be the suite's
canary key (the file given with --canary, read when the request comes). Lists page from 1 with
pageSize (at most 1000), ordered by id, with a Link header naming the next page while there is one,
and honour conditions=lastUpdated>[YYYY-MM-DDTHH:MM:SSZ] (nothing else is accepted in conditions).

Scenarios:
    ok        the book, nothing wrong
    auth      401 unless the user is "acme+pub-<nonce>" and clientId is "client-<nonce>"
    changed   from the 2nd listing of agreement 201's additions on: addition 301 has quantity 15
              and a later lastUpdated; catalog item 102 costs 33.00 (and is newer) from its 2nd listing on
    deleted   from the 2nd listing of agreement 201's additions on: addition 303 is gone (404 by id too)
    r429      the first listing of agreement 202's additions: 429 with Retry-After: 1
    e503      the first 2 tries of catalog page 2: 503
    flaky     the first 4 tries of agreement 202's additions: 500 (more than the tests' retries)
    trunc     the first answer for agreement 202's additions is cut in half (valid HTTP, invalid JSON)
    slow      every response waits 3 s
    wrongtype addition 304's unitPrice is the string "36.00"
    badbill   addition 304's billCustomer is "Sometimes"

Every request is appended to <log-dir>/<key>.log as "<unix time> <status> <path>?<query> <client port>"
(never a credential).
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
from urllib.parse import parse_qs, urlsplit, quote

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
LOG_DIR = "."
CANARY = None
STATE = {}
STATE_LOCK = threading.Lock()


def ts(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def info(hours):
    return {"lastUpdated": ts(T0 + dt.timedelta(hours=hours)), "updatedBy": "api",
            "dateEntered": ts(T0 - dt.timedelta(days=30)), "enteredBy": "admin"}


def company(cid, ident, name, hours, account=None, pax8=None, parent=None):
    c = {"id": cid, "identifier": ident, "name": name, "status": {"id": 1, "name": "Active"},
         "addressLine1": "1 Main St", "city": "Tampa", "state": "FL", "zip": "33602",
         "country": {"id": 1, "name": "United States"}, "phoneNumber": "555-0100", "website": "example.com",
         "accountNumber": account, "deletedFlag": False, "invoiceToEmailAddress": "billing@%s.example" % ident.lower(),
         "types": [{"id": 1, "name": "Client"}], "_info": info(hours),
         "customFields": [{"id": 7, "caption": "Pax8 ID", "type": "Text", "entryMethod": "EntryField",
                           "numberOfDecimals": 0, "value": pax8}]}
    if parent:
        c["parentCompany"] = {"id": parent, "identifier": "CONTOSO", "name": "Contoso Ltd"}
    return c


def catalog(iid, ident, desc, price, cost, cycle, hours):
    c = {"id": iid, "identifier": ident, "description": desc, "customerDescription": desc, "inactiveFlag": False,
         "subcategory": {"id": 4, "name": "Cloud"}, "type": {"id": 2, "name": "Licence"},
         "category": {"id": 3, "name": "Licences"}, "productClass": "NonInventory", "price": price, "cost": cost,
         "taxableFlag": True, "recurringFlag": cycle is not None, "recurringRevenue": price if cycle else 0,
         "recurringCost": cost if cycle else 0, "manufacturer": {"id": 9, "name": "Microsoft"},
         "_info": info(hours)}
    if cycle:
        c["recurringBillCycle"] = {"id": 1 if cycle == "Monthly" else 2, "name": cycle}
    return c


def agreement(aid, name, comp, start, end, cycle, hours, cancelled=None):
    return {"id": aid, "name": name, "type": {"id": 5, "name": "Managed Services"},
            "company": {"id": comp, "identifier": "X", "name": "X"}, "contact": {"id": 1, "name": "Pat"},
            "startDate": start, "endDate": end, "noEndingDateFlag": end is None,
            "cancelledFlag": cancelled is not None, "dateCancelled": cancelled,
            "billingCycle": {"id": 1, "name": cycle}, "billAmount": 0.0, "agreementStatus": "Active",
            "currency": {"id": 1, "symbol": "$", "currencyCode": "USD", "name": "US Dollars"},
            "_info": info(hours)}


def addition(xid, aid, pid, ident, qty, less, price, cost, bill, effective, hours, cancelled=None, desc=None):
    a = {"id": xid, "product": {"id": pid, "identifier": ident}, "quantity": qty, "lessIncluded": less,
         "unitPrice": price, "unitCost": cost, "billCustomer": bill, "effectiveDate": effective,
         "taxableFlag": True, "agreementId": aid, "billedQuantity": qty - less, "uom": "Each",
         "extPrice": price * qty, "extCost": cost * qty, "agreementStatus": "Active", "_info": info(hours)}
    if cancelled:
        a["cancelledDate"] = cancelled
    if desc:
        a["description"] = desc
    return a


def book():
    return {
        "companies": [company(11, "CONTOSO", "Contoso Ltd", 1, account="ACC-11", pax8="p8-contoso"),
                      company(12, "FABRIKAM", "Fabrikam, Inc.", 2, account="  "),
                      company(13, "NORTHWIND", "Northwind GmbH", 3, parent=11)],
        "catalog": [catalog(101, "M365-BP", "Microsoft 365 Business Premium", 22.0, 18.7, "Monthly", 4),
                    catalog(102, "M365-E3-ANNUAL", "Microsoft 365 E3 (annual)", 36.0, 32.4, "Annual", 5),
                    catalog(103, "SETUP", "Onboarding", 150.0, 0.0, None, 6)],
        "agreements": [agreement(201, "Contoso Managed Services", 11, "2024-01-01T00:00:00Z", None, "Monthly", 7),
                       agreement(202, "Fabrikam Licences", 12, "2024-02-01T00:00:00Z", "2025-01-31T00:00:00Z",
                                 "Annual", 8),
                       agreement(203, "Northwind (old)", 13, "2023-01-01T00:00:00Z", None, "Monthly", 9,
                                 cancelled="2024-03-15T00:00:00Z")],
        "additions": {
            201: [addition(301, 201, 101, "M365-BP", 12, 2, 22.0, 18.7, "Billable", "2024-01-01T00:00:00Z", 10,
                           desc="Business Premium seats"),
                  addition(302, 201, 103, "SETUP", 1, 0, 150.0, 0.0, "NoCharge", "2024-01-01T00:00:00Z", 11),
                  addition(303, 201, 101, "M365-BP", 3, 0, 22.0, 18.7, "Billable", "2024-06-01T00:00:00Z", 12,
                           cancelled="2024-09-30T00:00:00Z")],
            202: [addition(304, 202, 102, "M365-E3-ANNUAL", 5, 0, 36.0, 32.4, "DoNotBill", "2024-02-01T00:00:00Z", 13)],
            203: [],
        },
    }


class Site:
    def __init__(self, key):
        self.key = key
        self.scenario = key.split("-")[0]
        self.nonce = key.split("-", 1)[1]
        self.book = book()
        self.lock = threading.Lock()
        self.hits = {}
        if self.scenario == "wrongtype":
            self.book["additions"][202][0]["unitPrice"] = "36.00"
        if self.scenario == "badbill":
            self.book["additions"][202][0]["billCustomer"] = "Sometimes"

    def hit(self, name):
        with self.lock:
            self.hits[name] = self.hits.get(name, 0) + 1
            return self.hits[name]


def site(key):
    with STATE_LOCK:
        if key not in STATE:
            STATE[key] = Site(key)
        return STATE[key]


class BadRequest(Exception):
    pass


def since_of(q):
    """conditions=lastUpdated>[YYYY-MM-DDTHH:MM:SSZ], the only condition this fake (and the connector) uses."""
    c = q.get("conditions")
    if not c:
        return None
    m = re.fullmatch(r"lastUpdated>\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)\]", c[0])
    if not m:
        raise BadRequest("unsupported conditions: %s" % c[0])
    return dt.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)


def updated(r):
    return dt.datetime.strptime(r["_info"]["lastUpdated"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)


def mutate(s, what):
    """Changes the book as the scenario says, before a listing is served."""
    if what == "additions-201":
        n = s.hit("list-additions-201")
        if s.scenario == "changed" and n == 2:
            a = s.book["additions"][201][0]
            a["quantity"] = 15
            a["billedQuantity"] = 13
            a["_info"] = info(24 * 400)
        if s.scenario == "deleted" and n == 2:
            s.book["additions"][201] = [a for a in s.book["additions"][201] if a["id"] != 303]
    if what == "catalog":
        n = s.hit("list-catalog")
        if s.scenario == "changed" and n == 2:
            c = s.book["catalog"][1]
            c["cost"] = 33.0
            c["_info"] = info(24 * 401)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeConnectWise/1.0"

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
            f.write("%.3f %d %s %d\n" % (self.arrived, status, self.path, self.client_address[1]))

    def reply(self, key, status, body, headers=None):
        data = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
        self.record(key, status)
        self.send_response(status)
        self.send_header("Content-Type", "application/vnd.connectwise.com+json; version=2025.8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass

    def error(self, key, status, code, message, headers=None):
        return self.reply(key, status, {"code": code, "message": message, "errors": []}, headers)

    def do_GET(self):
        self.arrived = time.time()
        try:
            self.handle_get()
        except BadRequest as e:
            m = re.match(r"^/s/([a-z0-9]+-[A-Za-z0-9_]+)", urlsplit(self.path).path)
            self.error(m.group(1) if m else None, 400, "InvalidObject", str(e))
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass

    def authorized(self, s):
        auth = self.headers.get("Authorization", "")
        try:
            user, _, pw = base64.b64decode(auth[6:]).decode().partition(":") if auth.startswith("Basic ") else ("", "", "")
        except Exception:
            user, pw = "", ""
        company, plus, public = user.partition("+")
        canary = open(CANARY).read() if CANARY and os.path.exists(CANARY) else None
        if not company or not plus or not public or not pw or (canary is not None and pw != canary):
            return False
        if s.scenario == "auth" and (user != "acme+pub-" + s.nonce or self.headers.get("clientId") != "client-" + s.nonce):
            return False
        return True

    def handle_get(self):
        u = urlsplit(self.path)
        m = re.match(r"^/s/([a-z0-9]+-[A-Za-z0-9_]+)(/.*)$", u.path)
        if not m:
            return self.error(None, 404, "NotFound", "unknown path")
        key, path = m.group(1), m.group(2)
        s = site(key)
        q = parse_qs(u.query)
        if not self.authorized(s):
            return self.error(key, 401, "Unauthorized", "Invalid credentials")
        if not self.headers.get("clientId"):
            return self.error(key, 422, "InvalidObject", "clientId header is required")
        if s.scenario == "slow":
            time.sleep(3)

        rm = re.match(r"^/(company/companies|procurement/catalog|finance/agreements)/(\d+)$", path)
        if rm:
            entity = {"company/companies": "companies", "procurement/catalog": "catalog",
                      "finance/agreements": "agreements"}[rm.group(1)]
            rec = next((r for r in s.book[entity] if r["id"] == int(rm.group(2))), None)
            return self.reply(key, 200, rec) if rec else self.error(key, 404, "NotFound", "not found")
        am = re.match(r"^/finance/agreements/(\d+)/additions(?:/(\d+))?$", path)
        if am:
            parent = int(am.group(1))
            if parent not in s.book["additions"]:
                return self.error(key, 404, "NotFound", "agreement not found")
            if am.group(2):
                rec = next((r for r in s.book["additions"][parent] if r["id"] == int(am.group(2))), None)
                return self.reply(key, 200, rec) if rec else self.error(key, 404, "NotFound", "not found")
            if self.addition_fault(s, key, parent, q):
                return
            if int(q.get("page", ["1"])[0]) == 1:
                mutate(s, "additions-%d" % parent)
            return self.list(s, key, u, q, s.book["additions"][parent], parent)
        lm = re.match(r"^/(company/companies|procurement/catalog|finance/agreements)$", path)
        if not lm:
            return self.error(key, 404, "NotFound", "unknown path")
        entity = {"company/companies": "companies", "procurement/catalog": "catalog",
                  "finance/agreements": "agreements"}[lm.group(1)]
        page = int(q.get("page", ["1"])[0])
        if entity == "catalog" and s.scenario == "e503" and page == 2 and s.hit("catalog-2") <= 2:
            return self.error(key, 503, "Unavailable", "try again")
        if page == 1:
            mutate(s, entity)
        return self.list(s, key, u, q, s.book[entity], None)

    def addition_fault(self, s, key, parent, q):
        if parent != 202:
            return False
        n = s.hit("additions-202")
        if s.scenario == "r429" and n == 1:
            self.error(key, 429, "TooManyRequests", "slow down", {"Retry-After": "1"})
            return True
        if s.scenario == "flaky" and n <= 4:
            self.error(key, 500, "InternalError", "boom")
            return True
        if s.scenario == "trunc" and n == 1:
            data = json.dumps(s.book["additions"][202], separators=(",", ":")).encode()
            self.reply(key, 200, data[: len(data) // 2])
            return True
        return False

    def list(self, s, key, u, q, records, parent):
        page = int(q.get("page", ["1"])[0])
        size = int(q.get("pageSize", ["25"])[0])
        if page < 1 or size < 1 or size > 1000:
            raise BadRequest("page must be 1 or more and pageSize from 1 to 1000")
        if q.get("orderBy", ["id asc"])[0] != "id asc":
            raise BadRequest("unsupported orderBy")
        since = since_of(q)
        recs = sorted((r for r in records if since is None or updated(r) > since), key=lambda r: r["id"])
        out = recs[(page - 1) * size: page * size]
        headers = {}
        if page * size < len(recs):
            nq = dict(q, page=[str(page + 1)])
            qs = "&".join("%s=%s" % (k, quote(v[0], safe="")) for k, v in sorted(nq.items()))
            headers["Link"] = '<https://%s%s?%s>; rel="next"' % (self.headers.get("Host", "localhost"), u.path, qs)
        body = json.dumps(out, separators=(",", ":")).encode()
        self.reply(key, 200, body, headers)


def main():
    global LOG_DIR, CANARY
    ap = argparse.ArgumentParser()
    ap.add_argument("--certs", required=True, help="directory made by gen_certs.sh")
    ap.add_argument("--logs", required=True)
    ap.add_argument("--canary", help="file holding the private key every request must carry")
    a = ap.parse_args()
    LOG_DIR = a.logs
    CANARY = a.canary
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
