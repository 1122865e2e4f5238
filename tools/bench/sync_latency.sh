#!/usr/bin/env bash
# Benchmark: how much vendor latency a sync hides. The fake Advanced Billing API answers every
# request 200 ms late; the site is the demo's book of 300 customers (test/fixtures/book.py), synced
# with components (one request per subscription). The same sync runs twice in one cluster, each
# from an empty source: one request at a time (max_concurrent_requests 1: the baseline) and with
# the connector's default (4 for Advanced Billing). Both without a rate limit, so that latency alone
# is measured (the rate limit is its own knob: see docs/sync-concurrency.md). Prints both times,
# the requests, and the ratio; target >= 3.
#   tools/bench/sync_latency.sh [customers] [latency_ms] [more]   (defaults 300, 200; more: also time
#   max_concurrent_requests = more, e.g. 8)
set -euo pipefail
. "$(dirname "$0")/../../test/lib.sh"
customers=${1:-300}
latency=${2:-200}
more=${3:-}

pgb_make_root
dir=$PGB_RT/bench-latency
rm -rf "$dir" && mkdir -p "$dir/logs"
"$PGB_SRC/test/fake/gen_certs.sh" "$dir/certs"
python3 "$PGB_SRC/test/fixtures/book.py" "$dir/book" --customers "$customers" > /dev/null
trap 'pgb_stop_cluster latency; kill ${PGB_FAKE_PID:-} 2>/dev/null || true' EXIT
pgb_start_fake "$dir/fake.out" --certs "$dir/certs" --logs "$dir/logs" --book "$dir/book/maxio.json"
port=${PGB_FAKE_PORTS%%,*}
chmod -R a+rX "$dir"
chown "$PGB_RUN_USER" "$dir"

pgb_start_cluster latency <<CONF
pg_billing.ca_file = '$dir/certs/ca.pem'
pg_billing.allow_loopback = on
CONF
pgb_psql -d postgres -c "CREATE DATABASE bench" >/dev/null
pgb_psql -d bench -c "CREATE EXTENSION pg_billing" >/dev/null

# run NAME CONCURRENCY: one full sync of a fresh source (its own fake state); prints "seconds requests
# most-in-flight" (the last as the fake counted it)
run() {
    local name=$1 conc=$2 t0 t1 key="book-$1${RANDOM}_d$latency"
    pgb_psql -d bench -q -v ON_ERROR_STOP=1 -v name="$name" -v url="https://127.0.0.1:$port/s/$key" -v conc="$conc" <<'SQL'
SET log_statement = none;
SELECT billing.add_source(:'name', 'advanced_billing', :'url', '{"api_key": "bench-key"}',
       jsonb_strip_nulls(jsonb_build_object('per_page', 200, 'max_requests_per_second', 0,
                                            'max_concurrent_requests', nullif(:'conc', 'default')::int))) \gset
SQL
    t0=$(date +%s.%N)
    pgb_psql -d bench -q -c "CALL billing.sync('$name')"
    t1=$(date +%s.%N)
    printf '%s %s %s\n' "$(awk "BEGIN{print $t1 - $t0}")" \
        "$(pgb_psql -d bench -At -c "SELECT requests FROM billing.sync_runs WHERE source_id = billing._source_id('$name') ORDER BY id DESC LIMIT 1")" \
        "$(curl -s --cacert "$dir/certs/ca.pem" "https://127.0.0.1:$port/s/$key/_stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["max_in_flight"])')"
}
verdict() { awk "BEGIN{print ($1 >= $2) ? \"target met\" : \"not met\"}"; }

echo "sync of a $customers-customer book with components, the fake answering each request ${latency} ms late"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
read -r seq_s seq_n seq_f < <(run seq 1)
printf 'one request at a time (max_concurrent_requests 1): %6.1f s, %d requests, at most %d in flight\n' "$seq_s" "$seq_n" "$seq_f"
read -r def_s def_n def_f < <(run conc default)
printf 'default concurrency (4 for advanced_billing):      %6.1f s, %d requests, at most %d in flight\n' "$def_s" "$def_n" "$def_f"
same=$(pgb_psql -d bench -At <<'SQL'
SELECT (SELECT md5(string_agg(raw::text, '' ORDER BY external_id)) FROM billing.subscriptions WHERE source_id = billing._source_id('seq'))
     = (SELECT md5(string_agg(raw::text, '' ORDER BY external_id)) FROM billing.subscriptions WHERE source_id = billing._source_id('conc'))
   AND (SELECT md5(string_agg(raw::text, '' ORDER BY external_id)) FROM billing.invoices WHERE source_id = billing._source_id('seq'))
     = (SELECT md5(string_agg(raw::text, '' ORDER BY external_id)) FROM billing.invoices WHERE source_id = billing._source_id('conc'))
SQL
)
printf 'same subscriptions and invoices in both: %s\n' "$same"
ratio=$(awk "BEGIN{print $seq_s / $def_s}")
printf 'latency hiding: default / one at a time = %.2fx faster (target >= 3: %s)\n' "$ratio" "$(verdict "$ratio" 3)"
if [ -n "$more" ]; then
    read -r more_s more_n more_f < <(run more "$more")
    printf 'max_concurrent_requests %s: %6.1f s, %d requests, at most %d in flight, %.2fx faster than one at a time\n' \
        "$more" "$more_s" "$more_n" "$more_f" "$(awk "BEGIN{print $seq_s / $more_s}")"
fi
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
