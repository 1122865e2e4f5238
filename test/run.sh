#!/usr/bin/env bash
# make test: every pg_regress test (sql/, expected/) and every pgTAP test (test/pgtap/) in a throwaway
# cluster with pg_billing preloaded, then the TAP crash tests (test/tap/). Ends with one line
# "N passed, N failed" and exits non-zero on any failure.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

passed=0
failed=0
skipped=0
# PGB_ONLY=pattern runs only the tests whose file name matches (a shell glob), e.g. PGB_ONLY='sync_*'.
only=${PGB_ONLY:-*}
failures=()

pgb_make_root
tests=$PGB_RT/tests
rm -rf "$tests" && mkdir -p "$tests" && cp -a "$PGB_SRC/sql" "$PGB_SRC/expected" "$PGB_SRC/test" "$tests/"
if [ -d "$PGB_SHARED/vectors" ]; then
    mkdir -p "$tests/shared" && cp -a "$PGB_SHARED/vectors" "$tests/shared/"
    PGB_TEST_CONF="${PGB_TEST_CONF:-}
pgb_test.vectors_file = '$tests/shared/vectors/revenue_vectors.json'"
fi
chown -R "$PGB_RUN_USER" "$tests"

# Fake vendor APIs and their TLS material, when the suite has them.
[ -x "$PGB_SRC/test/fake/start.sh" ] && . "$PGB_SRC/test/fake/start.sh"

pgb_start_cluster main <<CONF
log_statement = 'all'
log_min_messages = 'debug1'
${PGB_TEST_CONF:-}
CONF
trap 'pgb_stop_cluster main; [ -n "${PGB_FAKE_PIDS:-}" ] && kill $PGB_FAKE_PIDS 2>/dev/null' EXIT

# pg_regress: one test per file in sql/, compared with expected/.
# the regress tests share one database, which install.sql sets up
regress_tests=$(cd "$tests/sql" && ls install.sql $only.sql 2>/dev/null | sed 's/\.sql$//' | sort -u)
if [ -n "$regress_tests" ]; then
    out=$PGB_RT/regress
    rm -rf "$out" && mkdir -p "$out" && chown "$PGB_RUN_USER" "$out"
    pgb_as_user "$PGB_ROOT$PG_PKGLIB/pgxs/src/test/regress/pg_regress" \
        --bindir="$PG_BIN" --host="$PGHOST" --port="$PGPORT" --user=postgres \
        --inputdir="$tests" --outputdir="$out" --dbname=pgb_regress $regress_tests > "$out/summary.txt" 2>&1
    rc=$?
    grep -E '^(test| ) *[a-z0-9_]+ +\.\.\.' "$out/summary.txt"
    for t in $regress_tests; do
        if grep -Eq "^(test)? *$t +\.\.\. ok" "$out/summary.txt"; then
            passed=$((passed + 1))
        else
            failed=$((failed + 1)); failures+=("pg_regress $t")
        fi
    done
    if [ $rc -ne 0 ] && ! grep -q 'FAILED\|failed' "$out/summary.txt"; then
        cat "$out/summary.txt"; failed=$((failed + 1)); failures+=("pg_regress did not run")
    fi
    [ -f "$out/regression.diffs" ] && cp "$out/regression.diffs" "$PGB_SRC/regression.diffs" 2>/dev/null
fi

# pgTAP: each file gets a fresh database with pg_billing and pgtap, so tests may commit.
pgb_psql -d postgres -c "CREATE DATABASE pgb_tap_template" \
         -c "ALTER DATABASE pgb_tap_template IS_TEMPLATE true"
pgb_psql -d pgb_tap_template -c "CREATE EXTENSION pg_billing" -c "CREATE EXTENSION pgtap"
for f in $(ls "$tests"/test/pgtap/$only.sql 2>/dev/null | sort); do
    name=$(basename "$f" .sql)
    # Tests driven by ../shared/vectors need it: CI always has it; a bare clone may not.
    if grep -q 'pgb_test.vectors_file' "$f" && [ ! -d "$tests/shared/vectors" ]; then
        if [ "${CI:-}" = true ]; then
            failed=$((failed + 1)); failures+=("pgtap $name: $PGB_SHARED/vectors not found")
        else
            echo "pgtap $name: SKIPPED, $PGB_SHARED/vectors not found (set PGB_SHARED to the shared directory)"
        fi
        continue
    fi
    db="pgb_tap_$name"
    PGOPTIONS="-c client_min_messages=warning" pgb_psql -d postgres -c "DROP DATABASE IF EXISTS \"$db\"" -c "CREATE DATABASE \"$db\" TEMPLATE pgb_tap_template"
    log=$PGB_RT/pgtap_$name.out
    pgb_as_user env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres \
        pg_prove --verbose --failures -d "$db" "$f" > "$log" 2>&1
    rc=$?
    ok=$(grep -E '^ok [0-9]+' "$log" | grep -Evic '# skip')
    skip=$(grep -E '^ok [0-9]+' "$log" | grep -Eic '# skip')
    notok=$(grep -Ec '^not ok [0-9]+' "$log")
    passed=$((passed + ok)); failed=$((failed + notok)); skipped=$((skipped + skip))
    if [ $rc -ne 0 ]; then
        cat "$log"
        [ "$notok" -eq 0 ] && failed=$((failed + 1))
        failures+=("pgtap $name")
    else
        echo "pgtap $name: $ok passed"
    fi
done

# TAP tests with PostgreSQL::Test::Cluster (kills and restarts); each prints TAP.
for t in $(ls "$tests"/test/tap/$only.pl 2>/dev/null | sort); do
    name=$(basename "$t" .pl)
    log=$PGB_RT/tap_$name.out
    rm -rf "$PGB_RT/tap_$name" && mkdir -p "$PGB_RT/tap_$name" && chown "$PGB_RUN_USER" "$PGB_RT/tap_$name"
    pgb_as_user env PATH="$PG_BIN:$PATH" PGB_SRC="$tests" PGB_RT="$PGB_RT" ${PGB_TAP_ENV:-} \
        PG_REGRESS="$PGB_ROOT$PG_PKGLIB/pgxs/src/test/regress/pg_regress" PGB_TEST_CONF="${PGB_TEST_CONF:-}" \
        PERL5LIB="$PGB_ROOT$PG_PKGLIB/pgxs/src/test/perl" TESTDIR="$PGB_RT/tap_$name" \
        prove -v "$t" > "$log" 2>&1
    rc=$?
    ok=$(grep -E '^ok [0-9]+' "$log" | grep -Evic '# skip')
    skip=$(grep -E '^ok [0-9]+' "$log" | grep -Eic '# skip')
    notok=$(grep -Ec '^not ok [0-9]+' "$log")
    passed=$((passed + ok)); failed=$((failed + notok)); skipped=$((skipped + skip))
    if [ $rc -ne 0 ]; then cat "$log"; [ "$notok" -eq 0 ] && failed=$((failed + 1)); failures+=("tap $name"); else echo "tap $name: $ok passed"; fi
    # what a test reports for people (e.g. how many kills were survived): its notes marked "report:"
    sed -n 's/^# report: /    /p' "$log"
done

# A fake API that died mid-run explains every connection refused above: say so, with its output.
if [ -n "${PGB_FAKE_PID:-}" ] && ! kill -0 "$PGB_FAKE_PID" 2>/dev/null; then
    failed=$((failed + 1)); failures+=("the fake vendor API stopped during the tests")
    tail -n 40 "$pgb_fake_dir/fake.out"
fi

# Secrets: the canary credential the suite uses must appear in no server log.
if [ -n "${PGB_CANARY:-}" ]; then
    if grep -rqF "$PGB_CANARY" "$PGB_RT"/*.log "$PGB_RT"/tap_* 2>/dev/null; then
        failed=$((failed + 1)); failures+=("canary secret found in a server log")
    else
        passed=$((passed + 1)); echo "canary secret: absent from every server log"
    fi
fi

((${#failures[@]})) && printf 'FAILED: %s\n' "${failures[@]}"
((skipped)) && echo "$skipped assertions skipped (their reason is in the test's output above or in $PGB_RT)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
