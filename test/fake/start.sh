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

# pgb_fake_serve VAR NAME SCRIPT [ARG...]: starts python3 test/fake/SCRIPT with the test CA and the
# arguments (its output in NAME.out), waits up to a minute for its "ready <port>" line and sets VAR
# to that port; when it does not start, says so and leaves VAR empty (its tests then fail).
pgb_fake_serve() {
    local var=$1 name=$2 script=$3 port=
    shift 3
    python3 "$PGB_SRC/test/fake/$script" --certs "$pgb_fake_dir/certs" "$@" > "$pgb_fake_dir/$name.out" 2>&1 &
    PGB_FAKE_PIDS="$PGB_FAKE_PIDS $!"
    for _ in $(seq 600); do
        port=$(sed -n 's/^ready //p' "$pgb_fake_dir/$name.out" 2>/dev/null)
        [ -n "$port" ] && break
        sleep 0.1
    done
    [ -n "$port" ] || { echo "pg_billing: the fake $script did not start:"; cat "$pgb_fake_dir/$name.out"; }
    printf -v "$var" '%s' "$port"
}

# The fake Pax8 Partner API (OAuth2 token endpoint, pages from 0), for test/pgtap/pax8_*.sql.
pgb_fake_serve pgb_p_pax8 pax8 pax8_fake.py --logs "$pgb_fake_dir/logs"
# The fake Splynx API (token and Basic auth, limit/offset paging), for test/pgtap/splynx_*.sql.
pgb_fake_serve pgb_p_splynx splynx splynx_fake.py --logs "$pgb_fake_dir/splynx_logs"
# A fake paging with next links (Link header or body), for test/pgtap/sync_link_paging.sql.
pgb_fake_serve pgb_p_link link link_fake.py --logs "$pgb_fake_dir/link_logs"

# Unit tests of the server-free C parts (ASan/UBSan); test/pgtap/sync_unit.sql checks the result.
"$PGB_SRC/test/unit/run.sh" "$pgb_fake_dir/unit" > "$pgb_fake_dir/unit.tap" 2>&1

# The canary API key the tests use: read from this file inside the database, so it is never in
# a statement the server logs; test/run.sh greps every server log for it.
PGB_CANARY="canary_$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s' "$PGB_CANARY" > "$pgb_fake_dir/canary.key"

# The fake ConnectWise Manage API: one HTTPS port (the kernel's choice, printed), the same test CA;
# every request must carry the canary key as its private key.
pgb_fake_serve pgb_p_cw cw connectwise_fake.py --logs "$pgb_fake_dir/logs" --canary "$pgb_fake_dir/canary.key"

# Prism mocks of the vendors' published specs, for the contract tests: pinned in tools/npm,
# installed by `make deps`. pgb_prism_serve VAR LOG SPEC starts one (its output in LOG.log.txt) and sets VAR to its URL (or
# "unavailable" when Prism or the spec is missing; the contract tests then say so).
pgb_prism=$PGB_SRC/tools/npm/node_modules/.bin/prism
[ -x "$pgb_prism" ] || echo "pg_billing: Prism is not installed: run make deps (npm ci in tools/npm)"
pgb_prism_serve() {
    local var=$1 name=$2 spec=$3 port
    printf -v "$var" '%s' unavailable
    [ -x "$pgb_prism" ] && [ -f "$spec" ] || return 0
    port=$(pgb_free_port)
    "$pgb_prism" mock -h 127.0.0.1 -p "$port" "$spec" > "$pgb_fake_dir/$name.log.txt" 2>&1 &
    PGB_FAKE_PIDS="$PGB_FAKE_PIDS $!"
    printf -v "$var" 'http://127.0.0.1:%s' "$port"
}
pgb_prism_serve pgb_prism_url prism "$PGB_SHARED/specs/maxio/portal/spec/openapi.yaml"
pgb_prism_serve pgb_prism_cw_url prism_cw "$PGB_SHARED/specs/connectwise/connectwise-manage-subset.yaml"
pgb_prism_serve pgb_prism_pax8_url prism_pax8 "$PGB_SHARED/specs/pax8/openapi/_original/pax8-partner-endpoints-openapi.json"
# Splynx publishes an API Blueprint: converted to OpenAPI 3 in the background (tools/splynx_openapi.sh,
# apib2swagger pinned in tools/npm; a minute or two on a busy machine), then served by Prism;
# test/pgtap/splynx_contract.sql waits for it.
pgb_prism_splynx_url=unavailable
if [ -x "$pgb_prism" ] && [ -f "$PGB_SHARED/specs/splynx/api-description-document" ]; then
    pgb_p_prism_splynx=$(pgb_free_port)
    ( "$PGB_SRC/tools/splynx_openapi.sh" "$PGB_SHARED/specs/splynx/api-description-document" "$pgb_fake_dir/splynx-openapi.json" \
      && exec "$pgb_prism" mock -h 127.0.0.1 -p "$pgb_p_prism_splynx" "$pgb_fake_dir/splynx-openapi.json" ) \
        > "$pgb_fake_dir/prism_splynx.log.txt" 2>&1 &
    PGB_FAKE_PIDS="$PGB_FAKE_PIDS $!"
    pgb_prism_splynx_url=http://127.0.0.1:$pgb_p_prism_splynx
fi
# Xero's spec with its schema cycles cut (tools/xero_spec_cut.js; without the cut Prism validates no request body)
[ -x "$pgb_prism" ] && node "$PGB_SRC/tools/xero_spec_cut.js" "$PGB_SHARED/specs/xero/xero_accounting.yaml" \
    "$pgb_fake_dir/xero_cut.json" > "$pgb_fake_dir/xero_cut.out" 2>&1
pgb_prism_serve pgb_prism_xero_url prism_xero "$pgb_fake_dir/xero_cut.json"
# The fake Xero (test/fake/xero_fake.py): its own checks (read by test/pgtap/push_documents_fake.sql),
# and a server for the push tests, on a port the kernel chooses.
python3 "$PGB_SRC/test/fake/xero_fake.py" --selftest --certs "$pgb_fake_dir/certs" > "$pgb_fake_dir/xero_selftest.tap" 2>&1
pgb_fake_serve pgb_p_xero xero xero_fake.py --logs "$pgb_fake_dir/xero_logs"
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
pgb_test.splynx_url = 'https://127.0.0.1:${pgb_p_splynx:-1}'
pgb_test.link_url = 'https://127.0.0.1:${pgb_p_link:-1}'
pgb_test.prism_url = '$pgb_prism_url'
pgb_test.prism_pax8_url = '$pgb_prism_pax8_url'
pgb_test.prism_splynx_url = '$pgb_prism_splynx_url'
pgb_test.prism_xero_url = '$pgb_prism_xero_url'
pgb_test.xero_url = 'https://127.0.0.1:${pgb_p_xero:-1}'
pgb_test.connectwise_url = 'https://127.0.0.1:${pgb_p_cw:-1}'
pgb_test.prism_cw_url = '$pgb_prism_cw_url'
pgb_test.fake_dir = '$pgb_fake_dir'
pgb_test.book_dir = '$pgb_fake_dir/book'"
