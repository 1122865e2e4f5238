#!/usr/bin/env python3
"""Runs one of the test fakes with the demo's generated data instead of its small fixed book.

    serve_fake.py pax8|connectwise DATA.json FAKE-ARGS...      (e.g. --certs DIR --logs DIR)

DATA.json is what tools/demo/msp.py writes. The fake itself (test/fake/pax8_fake.py or
connectwise_fake.py) is loaded unchanged and run with FAKE-ARGS: only the book it serves is
replaced (Pax8: its COMPANIES, PRODUCTS, SUBSCRIPTIONS, INVOICES and ITEMS; ConnectWise: its
book()), so every behaviour the tests rely on (auth, paging, tokens, logs) is the tests' own. Use
scenario "ok" in the base URL (.../s/ok-<anything>/...).
"""
import copy
import importlib.util
import json
import os
import sys

FAKES = {"pax8": "pax8_fake", "connectwise": "connectwise_fake"}


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in FAKES:
        sys.exit("usage: serve_fake.py pax8|connectwise DATA.json FAKE-ARGS...")
    which, data_file = sys.argv[1], sys.argv[2]
    with open(data_file) as f:
        data = json.load(f)[which]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "fake", FAKES[which] + ".py")
    spec = importlib.util.spec_from_file_location(FAKES[which], path)
    fake = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fake)
    if which == "pax8":
        fake.COMPANIES, fake.PRODUCTS = data["companies"], data["products"]
        fake.SUBSCRIPTIONS, fake.INVOICES, fake.ITEMS = data["subscriptions"], data["invoices"], data["items"]
    else:
        # JSON object keys are strings; the fake keys each agreement's additions by its integer id
        book = dict(data, additions={int(k): v for k, v in data["additions"].items()})
        fake.book = lambda: copy.deepcopy(book)
    sys.argv = [path] + sys.argv[3:]
    fake.main()


if __name__ == "__main__":
    main()
