# Sourced by test/run.sh before the cluster starts (do not run it on its own): starts the fake
# Advanced Billing API (HTTPS with a fresh test CA, plain HTTP, and three servers with bad
# certificates), and Prism for the contract test; tells the cluster where they are.
# shellcheck shell=bash
pgb_fake_dir=$PGB_RT/fake
rm -rf "$pgb_fake_dir" && mkdir -p "$pgb_fake_dir/logs"
"$PGB_SRC/test/fake/gen_certs.sh" "$pgb_fake_dir/certs" || { echo "pg_billing: test certificates could not be made"; exit 1; }

# The demo's generated book, small: served as scenario "book" and loaded by hand by sync_book.sql.
python3 "$PGB_SRC/test/demo/book.py" "$pgb_fake_dir/book" --customers 60 --seed 7 > /dev/null \
    || { echo "pg_billing: the test book could not be generated"; exit 1; }

if ! pgb_start_fake "$pgb_fake_dir/fake.out" --certs "$pgb_fake_dir/certs" --logs "$pgb_fake_dir/logs" \
        --book "$pgb_fake_dir/book/maxio.json"; then
    echo "0 passed, 1 failed"
    exit 1
fi
PGB_FAKE_PIDS="${PGB_FAKE_PIDS:-} $PGB_FAKE_PID"
IFS=, read -r pgb_p_good pgb_p_plain pgb_p_self pgb_p_wrong pgb_p_expired <<< "$PGB_FAKE_PORTS"

# Unit tests of the server-free C parts (ASan/UBSan); test/pgtap/sync_unit.sql checks the result.
"$PGB_SRC/test/unit/run.sh" "$pgb_fake_dir/unit" > "$pgb_fake_dir/unit.tap" 2>&1

# The canary API key the tests use: read from this file inside the database, so it is never in
# a statement the server logs; test/run.sh greps every server log for it.
PGB_CANARY="canary_$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s' "$PGB_CANARY" > "$pgb_fake_dir/canary.key"

# The fake ConnectWise Manage API: one HTTPS port (the kernel's choice, printed), the same test CA;
# every request must carry the canary key as its private key.
python3 "$PGB_SRC/test/fake/connectwise_fake.py" --certs "$pgb_fake_dir/certs" --logs "$pgb_fake_dir/logs" \
    --canary "$pgb_fake_dir/canary.key" > "$pgb_fake_dir/cw.out" 2>&1 &
PGB_FAKE_PIDS="$PGB_FAKE_PIDS $!"
pgb_p_cw=
for _ in $(seq 600); do
    pgb_p_cw=$(sed -n 's/^ready //p' "$pgb_fake_dir/cw.out" 2>/dev/null)
    [ -n "$pgb_p_cw" ] && break
    sleep 0.1
done
[ -n "$pgb_p_cw" ] || { echo "pg_billing: the fake ConnectWise API did not start:"; cat "$pgb_fake_dir/cw.out"; }

# Prism mock of the published spec, for the contract test (npm registry needed the first time).
pgb_prism_url=unavailable
pgb_prism_dir=$PGB_RT/prism
if [ ! -x "$pgb_prism_dir/node_modules/.bin/prism" ]; then
    mkdir -p "$pgb_prism_dir"
    timeout 300 npm install --silent --no-audit --no-fund --prefix "$pgb_prism_dir" @stoplight/prism-cli@5.14 \
        > "$pgb_fake_dir/npm.out" 2>&1 || echo "pg_billing: npm install of prism-cli failed (see $pgb_fake_dir/npm.out)"
fi
if [ -x "$pgb_prism_dir/node_modules/.bin/prism" ] && [ -f "$PGB_SHARED/specs/maxio/portal/spec/openapi.yaml" ]; then
    pgb_p_prism=$(pgb_free_port)
    "$pgb_prism_dir/node_modules/.bin/prism" mock -h 127.0.0.1 -p "$pgb_p_prism" \
        "$PGB_SHARED/specs/maxio/portal/spec/openapi.yaml" > "$pgb_fake_dir/prism.log.txt" 2>&1 &
    PGB_FAKE_PIDS="$PGB_FAKE_PIDS $!"
    pgb_prism_url="http://127.0.0.1:$pgb_p_prism"
fi
# ...and of the ConnectWise Manage subset spec (test/pgtap/cw_contract.sql).
pgb_prism_cw_url=unavailable
if [ -x "$pgb_prism_dir/node_modules/.bin/prism" ] && [ -f "$PGB_SHARED/specs/connectwise/connectwise-manage-subset.yaml" ]; then
    pgb_p_prism_cw=$(pgb_free_port)
    "$pgb_prism_dir/node_modules/.bin/prism" mock -h 127.0.0.1 -p "$pgb_p_prism_cw" \
        "$PGB_SHARED/specs/connectwise/connectwise-manage-subset.yaml" > "$pgb_fake_dir/prism_cw.log.txt" 2>&1 &
    PGB_FAKE_PIDS="$PGB_FAKE_PIDS $!"
    pgb_prism_cw_url="http://127.0.0.1:$pgb_p_prism_cw"
fi
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
pgb_test.prism_url = '$pgb_prism_url'
pgb_test.connectwise_url = 'https://127.0.0.1:${pgb_p_cw:-1}'
pgb_test.prism_cw_url = '$pgb_prism_cw_url'
pgb_test.fake_dir = '$pgb_fake_dir'
pgb_test.book_dir = '$pgb_fake_dir/book'"
