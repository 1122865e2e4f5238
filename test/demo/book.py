#!/usr/bin/env python3
"""A realistic, deterministic book of subscription billing for the demo and the benchmarks.

A few hundred customers over two years: monthly and annual plans, per-seat plans, upgrades with
proration, downgrades and seat changes at renewal, cancellations and returns, coupons, setup fees,
cash refunds, unpaid and voided invoices, in two currencies. Amounts are Decimal, never float.

    book.py OUTDIR [--customers N] [--seed S] [--today YYYY-MM-DD]

writes customers.csv, subscriptions.csv, invoices.csv, invoice_lines.csv, payments.csv and
refunds.csv in the column order of the billing.manual_* views, and maxio.json: the same book in
Maxio Advanced Billing's shapes, which test/fake/maxio_fake.py --book serves (scenario "book").
"""
import argparse
import calendar
import csv
import datetime as dt
import json
import os
import random
from decimal import Decimal, ROUND_HALF_UP

CENT = Decimal("0.01")

# name, price per unit per interval (USD), interval months, per-seat
PLANS = {
    "starter-monthly": (Decimal("29.00"), 1, False),
    "pro-monthly": (Decimal("99.00"), 1, False),
    "team-monthly": (Decimal("15.00"), 1, True),
    "pro-annual": (Decimal("990.00"), 12, False),
    "business-annual": (Decimal("2990.00"), 12, False),
}
UPGRADE = {"starter-monthly": "pro-monthly"}
DOWNGRADE = {"pro-monthly": "starter-monthly", "business-annual": "pro-annual"}
EUR_PER_USD = Decimal("0.92")
SETUP_FEE = Decimal("99.00")
VAT = {"EUR": Decimal("0.20"), "USD": Decimal("0.00")}


def money(x):
    return Decimal(x).quantize(CENT, rounding=ROUND_HALF_UP)


def add_months(anchor, n):
    """The anniversary n months after anchor, clamped to the month's end (Jan 31 -> Feb 28)."""
    y, m = divmod(anchor.month - 1 + n, 12)
    year, month = anchor.year + y, m + 1
    return dt.date(year, month, min(anchor.day, calendar.monthrange(year, month)[1]))


class Book:
    def __init__(self, seed, today):
        self.rng = random.Random(seed)
        self.today = today
        self.rows = {k: [] for k in ("customers", "subscriptions", "invoices", "invoice_lines", "payments", "refunds")}
        self.invoice_seq = 1000

    def price(self, plan, currency):
        p = PLANS[plan][0]
        return money(p * EUR_PER_USD) if currency == "EUR" else p

    def add_invoice(self, cust, sub, currency, issued, lines):
        """lines: (kind, product, qty, unit_price, discount, period_start, period_end, recurring, interval, full)"""
        self.invoice_seq += 1
        inv = f"inv_{self.invoice_seq}"
        subtotal = sum(money(line[2] * line[3]) for line in lines)
        discount = sum(line[4] for line in lines)
        taxes = [money((money(line[2] * line[3]) - line[4]) * VAT[currency]) for line in lines]
        status, paid_date = self.settle(cust, inv, currency, issued, subtotal - discount + sum(taxes))
        self.rows["invoices"].append([inv, f"INV-{self.invoice_seq}", cust, sub, status, issued,
                                      issued + dt.timedelta(days=30), paid_date or "", currency,
                                      subtotal, discount, sum(taxes)])
        for n, (kind, product, qty, unit, disc, start, end, recurring, interval, full) in enumerate(lines, 1):
            self.rows["invoice_lines"].append([inv, f"{inv}_l{n}", kind, product, qty, unit, money(qty * unit), disc,
                                               taxes[n - 1], currency, start, end, "t" if recurring else "f",
                                               interval or "", "" if full is None else full])

    def settle(self, cust, inv, currency, issued, amount):
        """Most invoices are paid within a week; a few stay open, a few are voided, a few refunded."""
        r = self.rng.random()
        if r < 0.01:
            return "voided", None
        if amount <= 0:
            return "paid", issued
        paid = issued + dt.timedelta(days=self.rng.choice((0, 0, 0, 1, 3, 7)))
        if r < 0.05 or paid > self.today:
            return "open", None
        self.rows["payments"].append([f"pay_{inv}", cust, inv, amount, currency, paid, "credit_card"])
        if self.rng.random() < 0.03:
            refund_day = paid + dt.timedelta(days=self.rng.randint(1, 20))
            if refund_day <= self.today:
                self.rows["refunds"].append([f"ref_{inv}", cust, inv, money(amount / 2), currency,
                                             refund_day, "goodwill refund"])
        return "paid", paid

    def price(self, plan, currency):
        return self.convert(PLANS[plan][0], currency)

    @staticmethod
    def convert(usd, currency):
        return money(usd * EUR_PER_USD) if currency == "EUR" else usd

    def customer(self, n):
        cust = f"cus_{n:05d}"
        currency = "EUR" if self.rng.random() < 0.2 else "USD"
        self.rows["customers"].append([cust, f"REF{n:05d}", f"Customer {n}", f"Company {n} Ltd",
                                       f"billing{n}@example.com", currency])
        first_day = dt.date(2024, 12, 1)
        start = first_day + dt.timedelta(days=self.rng.randint(0, (self.today - first_day).days))
        self.subscription(cust, f"sub_{n:05d}", currency, start, first=True)

    def subscription(self, cust, sub, currency, start, first):
        rng = self.rng
        plan = rng.choice(list(PLANS))
        seats = rng.randint(2, 25) if PLANS[plan][2] else 1
        coupon_periods = 3 if rng.random() < 0.25 else 0
        churn_after = rng.choice((None, None, None, rng.randint(2, 14)))
        anchor, n, billed, period = start, 0, 0, start
        while period <= self.today:
            interval = PLANS[plan][1]
            end = add_months(anchor, (n + 1) * interval)
            unit = self.price(plan, currency)
            disc = money(seats * unit * Decimal("0.20")) if billed < coupon_periods else Decimal("0.00")
            lines = [("plan", plan, Decimal(seats), unit, disc, period, end, True, interval, None)]
            if billed == 0 and first and interval == 12:
                lines.append(("one_time", "setup-fee", Decimal(1), self.convert(SETUP_FEE, currency),
                              Decimal("0.00"), period, period, False, None, None))
            self.add_invoice(cust, sub, currency, period, lines)
            billed += 1
            if plan in UPGRADE and disc == 0 and rng.random() < 0.08:
                mid = period + dt.timedelta(days=rng.randint(1, (end - period).days - 1))
                if mid <= self.today:
                    self.upgrade(cust, sub, currency, plan, UPGRADE[plan], seats, period, mid, end, disc)
                    plan = UPGRADE[plan]
            if churn_after is not None and billed >= churn_after:
                back = end + dt.timedelta(days=rng.randint(45, 200))
                if first and rng.random() < 0.3 and back <= self.today:  # some come back after a gap
                    self.subscription(cust, sub + "_r", currency, back, first=False)
                break
            n += 1
            if plan in DOWNGRADE and rng.random() < 0.03:  # changes take effect at renewal
                plan, anchor, n = DOWNGRADE[plan], end, 0
            elif PLANS[plan][2] and rng.random() < 0.15:
                seats = max(1, seats + rng.choice((-3, -1, 1, 2, 5)))
            period = end
        self.rows["subscriptions"].append([sub, cust, plan, plan, "active" if period > self.today else "canceled",
                                           seats, self.price(plan, currency), currency, PLANS[plan][1],
                                           "Monthly" if PLANS[plan][1] == 1 else "Annual", start])

    def upgrade(self, cust, sub, currency, old, new, seats, start, mid, end, old_discount):
        """Credit the unused part of the old plan and charge the new one to the same period end (as vector C)."""
        old_net = money(seats * self.price(old, currency)) - old_discount
        new_full = money(seats * self.price(new, currency))
        share = Decimal((end - mid).days) / Decimal((end - start).days)
        credit = -money(old_net * share)
        charge = money(new_full * share)
        self.add_invoice(cust, sub, currency, mid, [
            ("credit", old, Decimal(1), credit, Decimal("0.00"), mid, end, True, 1, -old_net),
            ("plan", new, Decimal(1), charge, Decimal("0.00"), mid, end, True, 1, new_full),
        ])


def noon(day):
    return f"{day}T12:00:00+00:00"


def product_id(plan, currency):
    """Each plan is a product per currency: a product has one price."""
    return 501 + 2 * list(PLANS).index(plan) + (currency == "EUR")


def sub_id(sub):
    return int(sub[4:9]) + (100000 if sub.endswith("_r") else 0)


def maxio_book(rows):
    """The book in the shapes of Maxio's API: customers, subscriptions, invoices with embedded lines,
    payments and refunds. Ids are integers where Maxio's are; customer references are the CSV ids."""
    kinds = {"plan": "baseline", "one_time": "one_time", "credit": "prorated"}
    customers = [{"customer": {"id": int(c[0][4:]), "first_name": "Customer", "last_name": c[0][4:], "email": c[4],
                               "organization": c[3], "reference": c[0], "created_at": noon("2024-11-01"),
                               "updated_at": noon("2024-11-01")}} for c in rows["customers"]]
    subs = []
    for sub, cust, plan, _sku, state, _seats, unit, currency, interval, _term, start in rows["subscriptions"]:
        cents = int(Decimal(unit) * 100)
        subs.append({"subscription": {
            "id": sub_id(sub), "state": state, "customer": {"id": int(cust[4:])}, "currency": currency,
            "product": {"id": product_id(plan, currency), "name": plan, "handle": plan, "price_in_cents": cents,
                        "interval": interval, "interval_unit": "month"},
            "product_price_in_cents": cents, "activated_at": noon(start),
            "created_at": noon(start), "updated_at": noon(start)}})
    lines, payments, refunds = {}, {}, {}
    for inv, ext, kind, product, qty, unit, subtotal, disc, tax, currency, start, end, _rec, _iv, _full in rows["invoice_lines"]:
        lines.setdefault(inv, []).append({
            "uid": ext, "title": product, "description": product,
            "kind": kinds["credit"] if kind == "plan" and start != end and end != add_months(start, PLANS[product][1]) else kinds[kind],
            "quantity": str(qty), "unit_price": str(unit), "subtotal_amount": str(subtotal),
            "discount_amount": str(disc), "tax_amount": str(tax), "total_amount": str(subtotal - disc + tax),
            "period_range_start": str(start), "period_range_end": str(end),
            "product_id": product_id(product, currency) if product in PLANS else None})
    for n, (ext, _cust, inv, amount, _cur, day, method) in enumerate(rows["payments"], 1):
        payments[inv] = {"transaction_id": 700000 + n, "applied_amount": str(amount), "original_amount": str(amount),
                         "transaction_time": noon(day), "memo": "card", "prepayment": False,
                         "payment_method": {"type": method}}
    for n, (ext, _cust, inv, amount, _cur, day, memo) in enumerate(rows["refunds"], 1):
        refunds[inv] = ({"transaction_id": 800000 + n, "payment_id": payments[inv]["transaction_id"],
                         "applied_amount": str(amount), "original_amount": str(amount), "memo": memo}, day)
    invoices = []
    for inv, number, cust, sub, status, issued, due, paid_date, currency, subtotal, disc, tax in rows["invoices"]:
        total = subtotal - disc + tax
        paid = total if status == "paid" else Decimal("0.00")
        refund, refund_day = refunds.get(inv, (None, None))
        updated = max(d for d in (issued, paid_date or issued, refund_day or issued))
        invoices.append({
            "uid": inv, "number": number, "customer_id": int(cust[4:]), "subscription_id": sub_id(sub),
            "status": status, "issue_date": str(issued), "due_date": str(due),
            "paid_date": str(paid_date) if paid_date else None, "currency": currency,
            "subtotal_amount": str(subtotal), "discount_amount": str(disc), "tax_amount": str(tax),
            "total_amount": str(total), "credit_amount": "0.00", "paid_amount": str(paid), "due_amount": str(total - paid),
            "refund_amount": refund["applied_amount"] if refund else "0.00",
            "created_at": noon(issued), "updated_at": noon(updated), "line_items": lines[inv],
            "discounts": [], "taxes": [], "credits": [],
            "payments": [payments[inv]] if inv in payments else [], "refunds": [refund] if refund else []})
    invoices.sort(key=lambda i: (i["created_at"], i["uid"]))
    return {"customers": customers, "subscriptions": subs, "invoices": invoices}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("--customers", type=int, default=300)
    ap.add_argument("--seed", type=int, default=20261123)
    ap.add_argument("--today", default="2026-11-23")
    args = ap.parse_args()
    book = Book(args.seed, dt.date.fromisoformat(args.today))
    for n in range(1, args.customers + 1):
        book.customer(n)
    os.makedirs(args.outdir, exist_ok=True)
    for name, rows in book.rows.items():
        with open(os.path.join(args.outdir, name + ".csv"), "w", newline="") as f:
            csv.writer(f).writerows(rows)
    with open(os.path.join(args.outdir, "maxio.json"), "w") as f:
        json.dump(maxio_book(book.rows), f, separators=(",", ":"))
    print(" ".join(f"{k}={len(v)}" for k, v in book.rows.items()))


if __name__ == "__main__":
    main()
