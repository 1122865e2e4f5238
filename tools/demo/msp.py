#!/usr/bin/env python3
"""An MSP's month for the demo: what Pax8 bills the MSP and what the MSP bills in ConnectWise Manage.

    msp.py OUTFILE [--today YYYY-MM-DD] [--seed S]

writes one JSON file {"today", "pax8": {...}, "connectwise": {...}} in the shapes the fakes serve
(test/fake/pax8_fake.py and connectwise_fake.py; tools/demo/serve_fake.py loads it into them).
Deterministic: the same arguments give the same file. "today" is the demo's date (the book's,
2026-11-23); the Pax8 invoices are those of the 1st of that month and of the month before.

Most companies are billed exactly as bought (3 to 4 licence lines each, matched on both sides). The
cases a person must look at are placed on purpose, each on its own company (see CASES below):
names that match only after normalisation, a name two PSA companies share, companies and SKUs no
one has mapped, an SKU billed as two PSA catalog items, licences under- and over-billed, an old
price under cost, an annual term billed monthly, an addition not yet in force and one cancelled,
a subscription cancelled at Pax8 but still billed, and annual commitments ending within 15, 30 and
90 days. Money is Decimal, written as JSON numbers (as both vendors send them).
"""
import argparse
import datetime as dt
import json
import os
import random
from decimal import Decimal

import importlib.util

HERE = os.path.dirname(os.path.abspath(__file__))


def load_fake(name):
    """The fake's module (for its record builders), without running it."""
    spec = importlib.util.spec_from_file_location("demo_" + name, os.path.join(HERE, "..", "..", "test", "fake", name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


cw = load_fake("connectwise_fake")

PARTNER = "Skyline MSP"
D = Decimal

# Pax8 SKU: (name, vendor, partner cost, suggested price, CW catalog item(s) it is billed as)
PRODUCTS = {
    "MST-M365-BB": ("Microsoft 365 Business Basic", "Microsoft", D("5.10"), D("6.00"), ["M365-BB"]),
    "MST-M365-BS": ("Microsoft 365 Business Standard", "Microsoft", D("10.63"), D("12.50"), ["M365-BS"]),
    "MST-M365-BP": ("Microsoft 365 Business Premium", "Microsoft", D("18.70"), D("22.00"), ["M365-BP", "M365-BP-ADDON"]),
    "MST-EXO-P1": ("Exchange Online (Plan 1)", "Microsoft", D("3.40"), D("4.00"), ["EXO-P1"]),
    "MST-M365-E3": ("Microsoft 365 E3", "Microsoft", D("30.60"), D("36.00"), ["M365-E3"]),
    "ACR-CP-STD": ("Acronis Cyber Protect Standard", "Acronis", D("6.80"), D("9.00"), ["ACRONIS-CP"]),
    # sold at Pax8 but never set up in the PSA: nothing maps them
    "MST-TEAMS-ESS": ("Microsoft Teams Essentials", "Microsoft", D("3.40"), D("4.00"), []),
    "MST-COPILOT": ("Microsoft 365 Copilot", "Microsoft", D("25.50"), D("30.00"), []),
}
ANNUAL = {"MST-M365-E3", "ACR-CP-STD", "MST-COPILOT"}   # bought on annual commitments
# ConnectWise catalog: identifier -> (description, price, cost, recurring bill cycle)
CATALOG = {
    "M365-BB": ("Microsoft 365 Business Basic", D("6.00"), D("5.10"), "Monthly"),
    "M365-BS": ("Microsoft 365 Business Standard", D("12.50"), D("10.63"), "Monthly"),
    "M365-BP": ("Microsoft 365 Business Premium", D("22.00"), D("18.70"), "Monthly"),
    "M365-BP-ADDON": ("Microsoft 365 Business Premium, seats added mid-term", D("23.00"), D("18.70"), "Monthly"),
    "EXO-P1": ("Exchange Online (Plan 1)", D("4.00"), D("3.40"), "Monthly"),
    "M365-E3": ("Microsoft 365 E3 (annual)", D("36.00"), D("30.60"), "Annual"),
    "ACRONIS-CP": ("Acronis Cyber Protect Standard (annual)", D("9.00"), D("6.80"), "Annual"),
    "MSP-SUPPORT": ("Managed support, per user", D("45.00"), D("0.00"), "Monthly"),
}
# The map a person makes (the demo inserts it into billing.product_map): Pax8 SKU -> CW items
PRODUCT_MAP = {sku: p[4] for sku, p in PRODUCTS.items() if p[4]}

# Clients billed exactly as bought, same name on both sides.
PLAIN = ["Adventure Works Cycles", "Alpine Ski House", "Bellows College", "Blue Yonder Airlines",
         "City Power & Light", "Coho Winery", "Consolidated Messenger", "Fourth Coffee",
         "Graphic Design Institute", "Humongous Insurance", "Litware Inc", "Lucerne Publishing",
         "Margie's Travel", "Northwind Traders", "Proseware Inc", "Relecloud", "School of Fine Art",
         "Tailspin Toys", "Trey Research", "Wide World Importers", "Wingtip Toys", "Woodgrove Bank"]
# (Pax8 name, CW name(s), how they match)
PAIRS = [
    ("VanArsdel Ltd", ["VanArsdel (Head Office)"], "vendor_id"),   # CW custom field "Pax8 ID" holds the Pax8 id
    ("A. Datum Corporation", ["Datum - Main"], "vendor_id"),
    ("Contoso, Ltd.", ["Contoso Limited"], "normalized"),
    ("Fabrikam, Inc.", ["FABRIKAM INC"], "normalized"),
    ("Smith & Sons LLC", ["Smith and Sons"], "normalized"),
    ("Pied Piper Pty. Ltd.", ["Pied Piper"], "normalized"),
    ("Stark Industries", ["Stark Industries Inc.", "Stark Industries LLC"], "ambiguous"),  # mapped by hand
    ("Umbrella Corp (EU)", ["Umbrella Health"], "none"),                                     # mapped by hand
    ("Wayne Enterprises", [], "none"),           # not onboarded in the PSA yet: stays unmapped
    ("Cyberdyne Systems", [], "none"),           # the same
]
OWN_TENANT = "Skyline MSP (internal)"             # the MSP's own licences: excluded from every report
PROSPECT = "Tyrell Corp"                          # a Pax8 company without subscriptions: needs no map
PSA_ONLY = ["Olympia Dental"]                     # billed in the PSA, bought elsewhere (no Pax8 company)


def iso(d):
    return d.isoformat() + "T00:00:00Z"


class Msp:
    def __init__(self, today, seed):
        self.today = today
        self.month = today.replace(day=1)
        self.prev = (self.month - dt.timedelta(days=1)).replace(day=1)
        self.rng = random.Random(seed)
        self.p8 = {"companies": [], "products": [], "subscriptions": [], "invoices": [], "items": {}}
        self.cw = {"companies": [], "catalog": [], "agreements": [], "additions": {}}
        self.n = {}
        self.hours = 0
        # days from today to the end of the next annual commitments: 2 within 15, 2 within 30, 3 within 90
        self.ends = [4, 12, 19, 27, 41, 58, 76]

    def seq(self, kind):
        self.n[kind] = self.n.get(kind, 0) + 1
        return self.n[kind]

    def tick(self):
        self.hours += 1
        return self.hours

    # --- Pax8 ---------------------------------------------------------------------------------
    def uid(self, kind, n):
        return "%s-0000-4000-8000-%012d" % ({"c": "a1000000", "p": "a2000000", "s": "a3000000", "i": "a4000000",
                                              "l": "a5000000"}[kind], n)

    def p8_company(self, name):
        cid = self.uid("c", self.seq("c"))
        self.p8["companies"].append({"id": cid, "name": name, "externalId": None, "status": "Active",
                                     "address": {"city": "Tampa", "country": "US"},
                                     "updatedDate": iso(self.month - dt.timedelta(days=40))})
        return cid

    def p8_products(self):
        self.pid = {}
        for sku, (name, vendor, _c, _p, _m) in PRODUCTS.items():
            self.pid[sku] = self.uid("p", self.seq("p"))
            self.p8["products"].append({"id": self.pid[sku], "name": name, "vendorName": vendor, "sku": sku,
                                        "requiresCommitment": sku in ANNUAL})

    def p8_sub(self, cid, sku, qty, term=None, status="Active", days_left=None):
        name, _v, cost, price, _m = PRODUCTS[sku]
        term = term or ("Annual" if sku in ANNUAL else "Monthly")
        start = self.month - dt.timedelta(days=self.rng.randint(120, 600))
        sid = self.uid("s", self.seq("s"))
        s = {"id": sid, "companyId": cid, "productId": self.pid[sku], "productName": name, "quantity": qty,
             "price": float(price), "partnerCost": float(cost), "currencyCode": "USD", "billingTerm": term,
             "status": status, "startDate": iso(start), "createdDate": iso(start),
             "updatedDate": iso(self.month - dt.timedelta(days=3))}
        if term != "Monthly":
            if days_left is None:
                days_left = self.ends.pop(0) if self.ends else self.rng.randint(100, 330)
            s["commitmentTerm"] = {"id": "ct-%d" % self.n["s"], "term": "1-Year",
                                   "endDate": iso(self.today + dt.timedelta(days=days_left))}
        if status == "Cancelled":
            s["endDate"] = iso(self.prev - dt.timedelta(days=1))
        self.p8["subscriptions"].append(s)
        return s

    def p8_invoices(self):
        """The partner's invoices of last month (paid) and this month (unpaid): one item per active
        subscription, its quantity at this month's prices (a monthly bill of every term)."""
        company = {c["id"]: c["name"] for c in self.p8["companies"]}
        for day, status in ((self.prev, "Paid"), (self.month, "Unpaid")):
            iid = self.uid("i", self.seq("i"))
            items, total = [], D(0)
            end = (day + dt.timedelta(days=32)).replace(day=1)
            for s in self.p8["subscriptions"]:
                if s["status"] != "Active" or s["startDate"] > iso(day):
                    continue
                sku = next(k for k, v in self.pid.items() if v == s["productId"])
                _n, vendor, cost, price, _m = PRODUCTS[sku]
                qty = s["quantity"]
                items.append({"id": self.uid("l", self.seq("l")), "type": "subscription", "companyId": s["companyId"],
                              "companyName": company[s["companyId"]], "subscriptionId": s["id"],
                              "productId": s["productId"], "productName": s["productName"], "sku": sku,
                              "description": s["productName"], "quantity": qty, "unitOfMeasure": "User",
                              "term": s["billingTerm"], "startPeriod": day.isoformat(), "endPeriod": end.isoformat(),
                              "price": float(price), "subTotal": float(price * qty), "cost": float(cost),
                              "costTotal": float(cost * qty), "total": float(price * qty), "salesTax": 0,
                              "currencyCode": "USD", "vendorName": vendor})
                total += cost * qty
            self.p8["invoices"].append({"id": iid, "invoiceDate": day.isoformat(),
                                        "dueDate": (day + dt.timedelta(days=14)).isoformat(), "status": status,
                                        "total": float(total), "balance": float(total if status == "Unpaid" else 0),
                                        "carriedBalance": 0, "currencyCode": "USD", "partnerName": PARTNER})
            self.p8["items"][iid] = items

    # --- ConnectWise ----------------------------------------------------------------------------
    def cw_company(self, name, pax8_id=None):
        cid = 1000 + self.seq("cwc")
        ident = "".join(ch for ch in name.upper() if ch.isalnum())[:20] + str(cid)
        self.cw["companies"].append(cw.company(cid, ident, name, self.tick(), pax8=pax8_id))
        aid = 5000 + cid
        self.cw["agreements"].append(cw.agreement(aid, name + " managed services", cid, "2025-01-01T00:00:00Z",
                                                  None, "Monthly", self.tick()))
        self.cw["additions"][aid] = []
        return aid

    def cw_catalog(self):
        self.item = {}
        for n, (ident, (desc, price, cost, cycle)) in enumerate(CATALOG.items(), 101):
            self.item[ident] = n
            self.cw["catalog"].append(cw.catalog(n, ident, desc, float(price), float(cost), cycle, self.tick()))

    def cw_add(self, aid, ident, qty, less=0, price=None, effective=None, cancelled=None, bill="Billable"):
        _d, cprice, cost, _c = CATALOG[ident]
        price = cprice if price is None else price
        effective = effective or (self.month - dt.timedelta(days=self.rng.randint(120, 600)))
        a = cw.addition(7000 + self.seq("add"), aid, self.item[ident], ident, qty, less, float(price), float(cost), bill,
                        iso(effective), self.tick(), cancelled=iso(cancelled) if cancelled else None)
        # cw.addition multiplies floats; the extended amounts are recomputed exactly here
        a["extPrice"], a["extCost"] = float(price * qty), float(cost * qty)
        self.cw["additions"][aid].append(a)
        return a

    # --- the book -----------------------------------------------------------------------------
    def matched(self, cid, aid, skus):
        """Subscriptions billed exactly as bought."""
        for sku in skus:
            qty = self.rng.choice([3, 5, 8, 10, 12, 15, 20, 25, 30, 40])
            self.p8_sub(cid, sku, qty)
            self.cw_add(aid, PRODUCT_MAP[sku][0], qty)

    def build(self):
        self.p8_products()
        self.cw_catalog()
        base = ["MST-M365-BB", "MST-M365-BS", "MST-M365-BP", "MST-EXO-P1"]
        special = {}
        for name in PLAIN:
            cid = self.p8_company(name)
            aid = self.cw_company(name)
            skus = self.rng.sample(base, self.rng.choice([2, 3]))
            if name in CASES:
                special[name] = (cid, aid)
                skus = [s for s in skus if s not in CASES[name][0]]
            self.matched(cid, aid, skus)
            if name not in CASES:                      # and an annual licence besides
                self.matched(cid, aid, [self.rng.choice(["MST-M365-E3", "ACR-CP-STD"])])
            self.cw_add(aid, "MSP-SUPPORT", self.rng.choice([5, 10, 15, 20]))   # not a licence: never compared
        for name, (skus, case) in CASES.items():
            case(self, *special[name])
        for p8name, cwnames, how in PAIRS:
            cid = self.p8_company(p8name)
            aids = [self.cw_company(n, pax8_id=cid if how == "vendor_id" else None) for n in cwnames]
            if aids:
                self.matched(cid, aids[0], self.rng.sample(base, 2))
            else:                                      # bought and paid for, billed to no one
                self.p8_sub(cid, "MST-M365-BP", 6)
                self.p8_sub(cid, "MST-EXO-P1", 4)
        own = self.p8_company(OWN_TENANT)
        self.p8_sub(own, "MST-M365-BP", 9)
        self.p8_company(PROSPECT)
        for name in PSA_ONLY:
            aid = self.cw_company(name)
            self.cw_add(aid, "M365-BB", 14)
        self.p8_invoices()
        self.p8["companies"].sort(key=lambda c: c["name"])
        return {"today": self.today.isoformat(), "month": self.month.isoformat(), "partner": PARTNER,
                "own_tenant": OWN_TENANT, "product_map": PRODUCT_MAP, "pax8": self.p8, "connectwise": self.cw}


# The placed cases: company -> (SKUs the case owns, builder(msp, pax8 company id, CW agreement id)).
def under_billed(m, cid, aid):
    m.p8_sub(cid, "MST-M365-BP", 25)                   # 3 new starters licensed, not yet billed
    m.cw_add(aid, "M365-BP", 22)


def over_billed(m, cid, aid):
    m.p8_sub(cid, "MST-M365-BB", 12)                   # reduced at Pax8, still billed for 15
    m.cw_add(aid, "M365-BB", 15)


def two_items(m, cid, aid):
    m.p8_sub(cid, "MST-M365-BP", 30)                   # one SKU, billed as two catalog items: 24 + 6
    m.cw_add(aid, "M365-BP", 24)
    m.cw_add(aid, "M365-BP-ADDON", 6)


def less_included(m, cid, aid):
    m.p8_sub(cid, "MST-M365-BP", 18)                   # 20 on the agreement, 2 included in the flat fee
    m.cw_add(aid, "M365-BP", 20, less=2)


def old_price(m, cid, aid):
    m.p8_sub(cid, "MST-M365-BP", 10)                   # still billed at 2023's 16.00, under the 18.70 cost
    m.cw_add(aid, "M365-BP", 10, price=D("16.00"))


def annual_term(m, cid, aid):
    m.p8_sub(cid, "MST-M365-BS", 12, term="Annual", days_left=210)   # annual at Pax8, a monthly item in the PSA
    m.cw_add(aid, "M365-BS", 12)


def not_yet(m, cid, aid):
    m.p8_sub(cid, "MST-EXO-P1", 15)                    # 5 bought for December starters: billed from Dec 1
    m.cw_add(aid, "EXO-P1", 10)
    m.cw_add(aid, "EXO-P1", 5, effective=(m.month + dt.timedelta(days=32)).replace(day=1))


def cancelled(m, cid, aid):
    m.p8_sub(cid, "MST-M365-BB", 8)                    # 4 seats given back in October, on both sides
    m.cw_add(aid, "M365-BB", 8)
    m.cw_add(aid, "M365-BB", 4, effective=m.prev - dt.timedelta(days=90), cancelled=m.prev + dt.timedelta(days=30))


def cancelled_at_vendor(m, cid, aid):
    m.p8_sub(cid, "ACR-CP-STD", 20, status="Cancelled")   # cancelled at Pax8, still billed
    m.cw_add(aid, "ACRONIS-CP", 20)


def unmapped_sku(m, cid, aid):
    m.p8_sub(cid, "MST-TEAMS-ESS", 40)                 # sold, never set up in the PSA


def copilot(m, cid, aid):
    m.p8_sub(cid, "MST-COPILOT", 5, days_left=300)


CASES = {
    "Fourth Coffee": (["MST-M365-BP"], under_billed),
    "Coho Winery": (["MST-M365-BB"], over_billed),
    "Alpine Ski House": (["MST-M365-BP"], two_items),
    "Trey Research": (["MST-M365-BP"], less_included),
    "Lucerne Publishing": (["MST-M365-BP"], old_price),
    "Margie's Travel": (["MST-M365-BS"], annual_term),
    "Tailspin Toys": (["MST-EXO-P1"], not_yet),
    "Wingtip Toys": (["MST-M365-BB"], cancelled),
    "Relecloud": ([], cancelled_at_vendor),
    "Bellows College": ([], unmapped_sku),
    "Woodgrove Bank": ([], copilot),
}


def check(book):
    """The generated data is what the demo explains (docs/demo.md): every reference resolves, every
    id is unique, every placed case and every expiry window is there. Raises on the first fault, so
    a change to this file that breaks the story stops the demo instead of printing other figures."""
    p8, c = book["pax8"], book["connectwise"]
    today = dt.date.fromisoformat(book["today"])

    def unique(rows, what, key="id"):
        ids = [r[key] for r in rows]
        assert len(ids) == len(set(ids)), "%s: duplicate ids" % what
        return set(ids)
    companies, products = unique(p8["companies"], "pax8 companies"), unique(p8["products"], "pax8 products")
    subs = {s["id"]: s for s in p8["subscriptions"]}
    unique(p8["subscriptions"], "pax8 subscriptions")
    for s in p8["subscriptions"]:
        assert s["companyId"] in companies and s["productId"] in products, "subscription %s: unknown company or product" % s["id"]
    unique([i for items in p8["items"].values() for i in items], "pax8 invoice items")
    for inv in p8["invoices"]:
        items = p8["items"][inv["id"]]
        for i in items:
            assert i["subscriptionId"] in subs and i["sku"] in PRODUCTS, "item %s: unknown subscription or SKU" % i["id"]
        assert round(sum(D(str(i["costTotal"])) for i in items), 2) == round(D(str(inv["total"])), 2), \
            "invoice %s: total is not the sum of its items' cost" % inv["id"]
    cw_companies, items = unique(c["companies"], "cw companies"), unique(c["catalog"], "cw catalog")
    agreements = {a["id"]: a for a in c["agreements"]}
    unique(c["agreements"], "cw agreements")
    unique([a for adds in c["additions"].values() for a in adds], "cw additions")
    for aid, adds in c["additions"].items():
        assert agreements[int(aid)]["company"]["id"] in cw_companies, "agreement %s: unknown company" % aid
        for a in adds:
            assert a["product"]["id"] in items and a["agreementId"] == int(aid), "addition %s: unknown item or agreement" % a["id"]
    assert all(i in CATALOG for v in PRODUCT_MAP.values() for i in v), "product map names an item not in the catalog"
    names = {x["name"] for x in p8["companies"]}
    assert all(n in PLAIN and n in names for n in CASES), "a placed case has no company"
    assert {x[0] for x in PAIRS} <= names and OWN_TENANT in names and PROSPECT in names, "a named company is missing"
    left = [(dt.date.fromisoformat(s["commitmentTerm"]["endDate"][:10]) - today).days
            for s in p8["subscriptions"] if s["status"] == "Active" and s["billingTerm"] not in ("Monthly", "Trial")]
    windows = tuple(sum(1 for d in left if 0 <= d <= n) for n in (15, 30, 90))
    assert windows == (2, 4, 7), "expiry windows 15/30/90 hold %s, not (2, 4, 7)" % (windows,)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outfile")
    ap.add_argument("--today", default="2026-11-23", help="the demo's date (the demo book's)")
    ap.add_argument("--seed", type=int, default=20261123)
    a = ap.parse_args()
    book = Msp(dt.date.fromisoformat(a.today), a.seed).build()
    check(book)
    with open(a.outfile, "w") as f:
        json.dump(book, f, indent=1)
    p8, c = book["pax8"], book["connectwise"]
    print("pax8: companies=%d subscriptions=%d invoice_items=%d; connectwise: companies=%d agreements=%d additions=%d"
          % (len(p8["companies"]), len(p8["subscriptions"]), sum(len(v) for v in p8["items"].values()),
             len(c["companies"]), len(c["agreements"]), sum(len(v) for v in c["additions"].values())))


if __name__ == "__main__":
    main()
