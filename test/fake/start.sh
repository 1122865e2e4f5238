# Sourced by test/run.sh before the cluster starts (do not run it on its own): starts the fake
# Advanced Billing API (HTTPS with a fresh test CA, plain HTTP, and three servers with bad
# certificates), and Prism for the contract test; tells the cluster where they are.
# shellcheck shell=bash
pgb_fake_dir=$PGB_RT/fake
rm -rf "$pgb_fake_dir" && mkdir -p "$pgb_fake_dir/logs"
"$PGB_SRC/test/fake/gen_certs.sh" "$pgb_fake_dir/certs" || { echo "pg_billing: test certificates could not be made"; exit 1; }

# The demo's generated book, small: served as scenario "book" and loaded by hand by sync_book.sql.
python3 "$PGB_SRC/test/fixtures/book.py" "$pgb_fake_dir/book" --customers 60 --seed 7 > /dev/null \
    || { echo "pg_billing: the test book could not be generated"; exit 1; }

if ! pgb_start_fake "$pgb_fake_dir/fake.out" --certs "$pgb_fake_dir/certs" --logs "$pgb_fake_dir/logs" \
        --book "$pgb_fake_dir/book/maxio.json"; then
    echo "0 passed, 1 failed"
    exit 1
fi
PGB_FAKE_PIDS="${PGB_FAKE_PIDS:-} $PGB_FAKE_PID"
IFS=, read -r pgb_p_good pgb_p_plain pgb_p_self pgb_p_wrong pgb_p_expired <<< "$PGB_FAKE_PORTS"

# The fake Pax8 Partner API (OAuth2 token endpoint, pages from 0), for test/pgtap/pax8_*.sql.
python3 "$PGB_SRC/test/fake/pax8_fake.py" --certs "$pgb_fake_dir/certs" --logs "$pgb_fake_dir/logs" \
    > "$pgb_fake_dir/pax8.out" 2>&1 &
PGB_FAKE_PIDS="$PGB_FAKE_PIDS $!"
pgb_p_pax8=
for _ in $(seq 300); do
    pgb_p_pax8=$(sed -n 's/^ready //p' "$pgb_fake_dir/pax8.out" 2>/dev/null)
    [ -n "$pgb_p_pax8" ] && break
    sleep 0.1
done
[ -n "$pgb_p_pax8" ] || { echo "pg_billing: the fake Pax8 API did not start:"; cat "$pgb_fake_dir/pax8.out"; }

# Unit tests of the server-free C parts (ASan/UBSan); test/pgtap/sync_unit.sql checks the result.
"$PGB_SRC/test/unit/run.sh" "$pgb_fake_dir/unit" > "$pgb_fake_dir/unit.tap" 2>&1

# The canary API key the tests use: read from this file inside the database, so it is never in
# a statement the server logs; test/run.sh greps every server log for it.
PGB_CANARY="canary_$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s' "$PGB_CANARY" > "$pgb_fake_dir/canary.key"

# Prism mock of the published spec, for the contract test: pinned in tools/npm, installed by `make deps`.
pgb_prism_url=unavailable
pgb_prism=$PGB_SRC/tools/npm/node_modules/.bin/prism
[ -x "$pgb_prism" ] || echo "pg_billing: Prism is not installed: run make deps (npm ci in tools/npm)"
if [ -x "$pgb_prism" ] && [ -f "$PGB_SHARED/specs/maxio/portal/spec/openapi.yaml" ]; then
    pgb_p_prism=$(pgb_free_port)
    "$pgb_prism" mock -h 127.0.0.1 -p "$pgb_p_prism" \
        "$PGB_SHARED/specs/maxio/portal/spec/openapi.yaml" > "$pgb_fake_dir/prism.log.txt" 2>&1 &
    PGB_FAKE_PIDS="$PGB_FAKE_PIDS $!"
    pgb_prism_url="http://127.0.0.1:$pgb_p_prism"
fi
# The fake Xero (test/fake/xero_fake.py): its own checks (read by test/pgtap/push_documents_fake.sql),
# and a server for the push tests, on a port the kernel chooses.
python3 "$PGB_SRC/test/fake/xero_fake.py" --selftest --certs "$pgb_fake_dir/certs" > "$pgb_fake_dir/xero_selftest.tap" 2>&1
python3 "$PGB_SRC/test/fake/xero_fake.py" --certs "$pgb_fake_dir/certs" --logs "$pgb_fake_dir/xero_logs" > "$pgb_fake_dir/xero.out" 2>&1 &
PGB_FAKE_PIDS="$PGB_FAKE_PIDS $!"
pgb_p_xero=
for _ in $(seq 100); do
    pgb_p_xero=$(sed -n 's/^ready //p' "$pgb_fake_dir/xero.out" 2>/dev/null); [ -n "$pgb_p_xero" ] && break; sleep 0.1
done
chmod -R a+rX "$pgb_fake_dir"
export PGB_FAKE_PIDS PGB_CANARY

PGB_TEST_CONF="${PGB_TEST_CONF:-}
pg_billing.ca_file = '$pgb_fake_dir/certs/ca.pem'
pg_billing.allow_loopback = on
pg_billing.http_retry_base = 50
pg_billing.http_retry_max = 400
pg_billing.http_max_retries = 3
pgb_test.maxio_url = 'https://127.0.0.1:$pgb_p_good'
pgb_test.maxio_plain_url = 'http://127.0.0.1:$pgb_p_plain'
pgb_test.maxio_selfsigned_url = 'https://127.0.0.1:$pgb_p_self'
pgb_test.maxio_wrongname_url = 'https://127.0.0.1:$pgb_p_wrong'
pgb_test.maxio_expired_url = 'https://127.0.0.1:$pgb_p_expired'
pgb_test.pax8_url = 'https://127.0.0.1:${pgb_p_pax8:-1}'
pgb_test.prism_url = '$pgb_prism_url'
pgb_test.xero_url = 'https://127.0.0.1:$pgb_p_xero'
pgb_test.fake_dir = '$pgb_fake_dir'
pgb_test.book_dir = '$pgb_fake_dir/book'"
