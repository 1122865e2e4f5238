#!/usr/bin/env bash
# Bounded memory of a sync (issue 13, item 5): the peak memory of the backend running
# CALL billing.sync of a small site and of a site ten times larger, from the fake Advanced Billing API
# over HTTPS (per_page 200, components off, no rate limit), each in a fresh cluster and database.
#
# A run ends with one revenue refresh of every customer its pages touched (billing.sync, after the
# run is recorded as finished); the two phases are measured apart by the run's status in
# billing.sync_runs ('running' while paging). The paging phase is what must not grow with the site;
# the refresh works set-wise over every customer the run touched and is bounded by work_mem (128MB in
# billing.refresh_revenue: its sorts, hashes and the engine's result spill to disk beyond it), so it
# grows with the site up to that bound.
# Measured from outside the backend, so nothing in it changes:
#   - private peak: the largest RssAnon (the backend's own heap: memory contexts, curl, jansson)
#     seen in /proc/<pid>/status, sampled every 50 ms, per phase;
#   - VmHWM at the end (peak resident set, which also counts the shared buffers the backend touched:
#     it grows with the data read and written up to shared_buffers, so it says little on its own);
#   - RssShmem at the end (those shared buffers).
# The baseline is the small site's private peak while paging, measured in the same run; the target
# is that the large site's stays within 1.25 times it.
#   tools/bench/sync_memory.sh [small [large]]     (default 10000 100000 invoices)
set -euo pipefail
. "$(dirname "$0")/../../test/lib.sh"
small=${1:-10000}
large=${2:-100000}

pgb_make_root
dir=$PGB_RT/bench-sync-memory
rm -rf "$dir" && mkdir -p "$dir/logs" "$dir/pages"
"$PGB_SRC/test/fake/gen_certs.sh" "$dir/certs"
echo "generating the fake's pages for $small and $large invoices (not timed)..."
python3 "$PGB_SRC/test/fake/maxio_fake.py" --pregen "$small" 200 "$dir/pages"
python3 "$PGB_SRC/test/fake/maxio_fake.py" --pregen "$large" 200 "$dir/pages"
trap 'pgb_stop_cluster bench_memory; kill ${PGB_FAKE_PID:-} ${sampler:-} 2>/dev/null || true' EXIT
pgb_start_fake "$dir/fake.out" --certs "$dir/certs" --logs "$dir/logs" --bench-dir "$dir/pages"
port=${PGB_FAKE_PORTS%%,*}
chmod -R a+rX "$dir"
chown "$PGB_RUN_USER" "$dir"

kb() { awk -v k="$1" '$1 == k":" { print $2 }' "/proc/$2/status" 2>/dev/null || true; }

# Syncs n invoices in a fresh cluster; prints "invoices private_peak_kb vmhwm_kb rssshmem_kb seconds".
measure() {
    local n=$1 peakfile=$dir/peak-$1
    pgb_start_cluster bench_memory <<CONF
pg_billing.ca_file = '$dir/certs/ca.pem'
pg_billing.allow_loopback = on
shared_buffers = '128MB'
max_wal_size = '4GB'
CONF
    pgb_psql -d postgres -c "CREATE DATABASE bench" >/dev/null
    pgb_psql -d bench -c "CREATE EXTENSION pg_billing" >/dev/null
    pgb_psql -d bench -v url="https://127.0.0.1:$port/s/bench$n-run1" >/dev/null <<'SQL'
SELECT billing.add_source('bench', 'advanced_billing', :'url', '{"api_key": "bench-key"}',
       '{"per_page": 200, "components": false, "max_requests_per_second": 0}');
SQL
    : > "$peakfile"
    # the sampler: the largest RssAnon of the backend while it exists
    (
        pid=
        for _ in $(seq 600); do
            pid=$(pgb_psql -d bench -At -c "SELECT pid FROM pg_stat_activity
                                             WHERE query LIKE 'CALL billing.sync%' AND pid <> pg_backend_pid() LIMIT 1" 2>/dev/null || true)
            [ -n "$pid" ] && break
            sleep 0.05
        done
        pid=${pid:-0}
        while [ "$pid" -gt 0 ] && [ -d "/proc/$pid" ]; do
            v=$(kb RssAnon "$pid")
            st=$(pgb_psql -d bench -At -c "SELECT status FROM billing.sync_runs ORDER BY id DESC LIMIT 1" 2>/dev/null || true)
            echo "${st:-unknown} ${v:-0}" >> "$peakfile"
            sleep 0.05
        done
    ) &
    sampler=$!
    local t0 t1 out
    t0=$(date +%s.%N)
    out=$(pgb_psql -d bench -At \
        -c "CALL billing.sync('bench')" \
        -c "SELECT 'M', (regexp_match(s, 'VmHWM:\s+(\d+) kB'))[1], (regexp_match(s, 'RssShmem:\s+(\d+) kB'))[1],
                   (regexp_match(s, 'RssAnon:\s+(\d+) kB'))[1], (SELECT count(*) FROM billing.invoices)
              FROM pg_read_file('/proc/' || pg_backend_pid() || '/status') s" \
        2>&1)
    t1=$(date +%s.%N)
    wait "$sampler" || true
    local m
    m=$(printf '%s\n' "$out" | awk -F'|' '$1 == "M" { print $2, $3, $4, $5 }')
    [ -n "$m" ] || { echo "sync of $n failed: $out" >&2; exit 1; }
    read -r hwm shmem anon_end invoices <<< "$m"
    local peaks
    # the largest sample of each phase: paging (the run 'running'), then the refresh
    peaks=$(awk -v end="$anon_end" '$1 == "running" { if ($2 > p) p = $2; next } { if ($2 > r) r = $2 }
                END { if (end > r) r = end; printf "%d %d", p, r }' "$peakfile")
    pgb_stop_cluster bench_memory
    echo "$invoices $peaks $hwm $shmem $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}")"
}

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
read -r inv_s peak_s refr_s hwm_s shm_s sec_s <<< "$(measure "$small")"
read -r inv_l peak_l refr_l hwm_l shm_l sec_l <<< "$(measure "$large")"
ratio=$(awk -v a="$peak_l" -v b="$peak_s" 'BEGIN{printf "%.2f", a / b}')
ratio_r=$(awk -v a="$refr_l" -v b="$refr_s" 'BEGIN{printf "%.2f", a / b}')
printf '%-9s %8s %15s %9s %15s %9s %10s %12s\n' invoices seconds paging_peak_kB ratio refresh_peak_kB ratio VmHWM_kB RssShmem_kB
printf '%-9s %8s %15s %9s %15s %9s %10s %12s\n' "$inv_s" "$sec_s" "$peak_s" 1.00 "$refr_s" 1.00 "$hwm_s" "$shm_s"
printf '%-9s %8s %15s %9s %15s %9s %10s %12s\n' "$inv_l" "$sec_l" "$peak_l" "$ratio" "$refr_l" "$ratio_r" "$hwm_l" "$shm_l"
printf 'sync private peak memory while paging, %s vs %s invoices: ratio %s (target <= 1.25: %s)\n' "$inv_l" "$inv_s" "$ratio" \
    "$(awk -v r="$ratio" 'BEGIN{ print (r <= 1.25) ? "target met" : "not met" }')"
printf 'the revenue refresh at the end of the run (bounded by work_mem = 128MB, not by the site): ratio %s\n' "$ratio_r"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
