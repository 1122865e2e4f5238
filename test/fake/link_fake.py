#!/usr/bin/env python3
"""A fake API that pages with next links, for the test-only connectors test_link (RFC 8288 Link
headers) and test_link_body (a "next" URL in the body); python3 standard library only, HTTPS.

The scenario is chosen by the path prefix: https://127.0.0.1:PORT/s/<scenario>-<nonce>/api/customers
and /s/<scenario>-<nonce>/oauth/token, so each test has its own state. Seven customers, c1..c7;
page 1 is /api/customers?limit=N, the next pages are ?cursor=pK&limit=N (an opaque cursor). The
next link of page 1 is an absolute URL, of later pages an absolute path; the Link header also
carries rel="last" and rel="prev" links, which the client must skip. Scenarios:

    ok       pages as above (Link header); the body variant when the path is /api/body/customers
    hostile  page 1's next link names another host (https://169.254.169.254/...)
    scheme   page 1's next link names the same host and port over plain http
    loop     page 2's next link is page 2 itself
    back     page 3's next link is page 2 (a two-page loop)
    resume   page 3 answers 500 to its first 4 requests (a run fails after page 2; the next resumes)

OAuth2 client credentials: POST JSON {grant_type client_credentials, client_id "link-client",
client_secret "link-secret", audience "test-api"}; anything else gets 401. An API request without
the bearer token gets 401.

Every request is appended to <log-dir>/<key>.log as "<status> <method> <path-below-key>?<query>".
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
LOCK = threading.Lock()
TOKENS = set()
FAILS = {}
CUSTOMERS = [{"id": "c%d" % i, "name": "Customer %d" % i, "email": "c%d@example.test" % i if i % 2 else None}
             for i in range(1, 8)]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def log(self, key, status):
        with LOCK:
            with open(os.path.join(LOG_DIR, key + ".log"), "a") as f:
                f.write("%d %s %s\n" % (status, self.command, self.path.split("/", 3)[3]))

    def send(self, status, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or []):
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        segs = urlsplit(self.path).path.split("/")
        if len(segs) != 5 or segs[1] != "s" or segs[3:] != ["oauth", "token"]:
            self.send(404, {"error": "not_found"})
            return
        key = segs[2]
        n = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(n)) if 0 < n < 65536 else {}
        except ValueError:
            body = {}
        if body.get("grant_type") != "client_credentials" or body.get("client_id") != "link-client" or \
                body.get("client_secret") != "link-secret" or body.get("audience") != "test-api":
            self.log(key, 401)
            self.send(401, {"error": "access_denied"})
            return
        token = "tok-%s-%d" % (key, len(TOKENS) + 1)
        with LOCK:
            TOKENS.add(token)
        self.log(key, 200)
        self.send(200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"})

    def do_GET(self):
        parts = urlsplit(self.path)
        segs = parts.path.split("/")
        if len(segs) < 5 or segs[1] != "s" or segs[3] != "api":
            self.send(404, {"error": "not_found"})
            return
        key, rest = segs[2], segs[4:]
        scenario = key.split("-")[0]
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in TOKENS:
            self.log(key, 401)
            self.send(401, {"error": "unauthorized"})
            return
        body_style = rest[:1] == ["body"]
        if body_style:
            rest = rest[1:]
        if rest != ["customers"]:
            self.log(key, 404)
            self.send(404, {"error": "not_found"})
            return
        q = parse_qs(parts.query)
        try:
            size = int(q.get("limit", ["0"])[0])
            page = int(q.get("cursor", ["p1"])[0][1:])
        except ValueError:
            size, page = 0, 0
        if size < 1 or size > 100 or page < 1:
            self.log(key, 422)
            self.send(422, {"error": "bad paging"})
            return
        if scenario == "resume" and page == 3:
            with LOCK:
                FAILS[key] = FAILS.get(key, 0) + 1
                failing = FAILS[key] <= 4
            if failing:
                self.log(key, 500)
                self.send(500, {"error": "unavailable"})
                return
        recs = CUSTOMERS[(page - 1) * size:page * size]
        last_page = (len(CUSTOMERS) + size - 1) // size
        base = "/s/%s/api%s/customers" % (key, "/body" if body_style else "")
        host = "https://127.0.0.1:%d" % self.server.server_address[1]

        def page_url(k):
            return base + ("?limit=%d" % size if k == 1 else "?cursor=p%d&limit=%d" % (k, size))

        nxt = None
        if page < last_page:
            nxt = (host + page_url(page + 1)) if page == 1 else page_url(page + 1)
        if scenario == "hostile" and page == 1:
            nxt = "https://169.254.169.254" + page_url(2)
        elif scenario == "scheme" and page == 1:
            nxt = "http://127.0.0.1:%d%s" % (self.server.server_address[1], page_url(2))
        elif scenario == "loop" and page == 2:
            nxt = page_url(2)
        elif scenario == "back" and page == 3:
            nxt = page_url(2)
        self.log(key, 200)
        if body_style:
            self.send(200, {"items": recs, "next": nxt})
            return
        links = ['<%s>; rel="last"' % page_url(last_page)]
        if page > 1:
            links.insert(0, '<%s>; rel=prev; title="a, b"' % page_url(page - 1))
        headers = [("Link", ", ".join(links))]
        if nxt:
            # a separate header field, as RFC 9110 allows: the client joins them
            headers.append(("Link", '<%s>; title="next page"; rel="next"' % nxt))
        self.send(200, recs, headers)


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
