#!/usr/bin/env bash
# Renders the demo's charts as PNG files with gnuplot (Debian's gnuplot-nox, installed by make deps):
#   mrr_bridge_<CUR>.png   MRR movements per month as stacked bars (new, expansion, reactivation up;
#                          contraction, churn down) with month-end MRR as a line (billing.mrr_summary)
#   revenue_<CUR>.png      recognised and billed revenue per month as bars, the deferred revenue
#                          balance at month end as a line (billing.monthly_revenue)
# one pair per currency of the book; and, given an as-of date (the MSP's reconciliation, when synced):
#   recon_licences.png     licences bought at the vendor minus licences billed in the PSA, per company
#                          and SKU, for every row that is not matched (billing.license_variance)
#   recon_margin.png       the month's margin per company (PSA price - vendor cost), sorted, negative
#                          in red (billing.billing_comparison)
# Usage: tools/demo/charts.sh OUTDIR FIRST_MONTH LAST_MONTH [AS_OF] (dates as YYYY-MM-DD); psql
# connection settings come from the environment (test/lib.sh's pgb_psql).
set -euo pipefail
. "$(dirname "$0")/../../test/lib.sh"
out=$1 first=$2 last=$3 as_of=${4:-}
mkdir -p "$out"
# the plotted figures, kept apart from the pictures (OUTDIR may be docs/img)
dat=$(mktemp -d)
trap 'rm -rf "$dat"' EXIT

for cur in $(pgb_psql -d postgres -At -c "SELECT DISTINCT currency FROM billing.mrr_summary ORDER BY 1"); do
    pgb_psql -d postgres -At -F ' ' -v cur="$cur" -v first="$first" -v last="$last" > "$dat/mrr_$cur.dat" <<'SQL'
SELECT to_char(month, 'YYYY-MM'), new, expansion, reactivation, contraction, churn, mrr_end
FROM billing.mrr_summary WHERE currency = :'cur' AND month BETWEEN :'first' AND :'last' ORDER BY month;
SQL
    pgb_psql -d postgres -At -F ' ' -v cur="$cur" -v first="$first" -v last="$last" > "$dat/revenue_$cur.dat" <<'SQL'
SELECT to_char(month, 'YYYY-MM'), sum(recognized), sum(billed), sum(deferred_end)
FROM billing.monthly_revenue WHERE currency = :'cur' AND month BETWEEN :'first' AND :'last'
GROUP BY month ORDER BY month;
SQL
    [ -s "$dat/mrr_$cur.dat" ] || continue
    gnuplot <<GP
set terminal pngcairo size 1100,560 font 'DejaVu Sans,10'
set datafile separator ' '
set style fill solid 0.85 border -1
set boxwidth 0.7
set grid ytics lc rgb '#dddddd'
set xtics rotate by -45 nomirror
set key below horizontal
set format y '%.0f'

set output '$out/mrr_bridge_$cur.png'
set title 'MRR bridge, $cur: movements per month (bars) and month-end MRR (line)'
set ylabel 'movement in the month ($cur)'
set y2label 'MRR at month end ($cur)'
set y2tics
set y2range [0:*]
set ytics nomirror
set xzeroaxis lt -1
# stacked by drawing each stack's running total, tallest first
plot '$dat/mrr_$cur.dat' using 0:(\$2+\$3+\$4):xtic(1) with boxes lc rgb '#8fd18f' title 'reactivation', \
     '' using 0:(\$2+\$3) with boxes lc rgb '#4c9be8' title 'expansion', \
     '' using 0:2 with boxes lc rgb '#1f5fa8' title 'new', \
     '' using 0:(-\$5-\$6) with boxes lc rgb '#e07b7b' title 'churn', \
     '' using 0:(-\$5) with boxes lc rgb '#f2b36b' title 'contraction', \
     '' using 0:7 axes x1y2 with linespoints lw 2.5 pt 7 ps 0.8 lc rgb '#222222' title 'MRR (right axis)'

set output '$out/revenue_$cur.png'
set title 'Revenue, $cur: recognised and billed per month (bars), deferred revenue at month end (line)'
set ylabel 'per month ($cur)'
set y2label 'deferred at month end ($cur)'
set style data histogram
set style histogram clustered gap 1
set boxwidth 0.9 relative
plot '$dat/revenue_$cur.dat' using 2:xtic(1) lc rgb '#2e8b57' title 'recognised', \
     '' using 3 lc rgb '#9aa5b1' title 'billed', \
     '' using 0:4 axes x1y2 with linespoints lw 2.5 pt 7 ps 0.8 lc rgb '#b03a2e' title 'deferred (right axis)'
GP
    echo "   $out/mrr_bridge_$cur.png  $out/revenue_$cur.png"
done

[ -n "$as_of" ] || exit 0
[ "$(pgb_psql -d postgres -At -c "SELECT count(*) FROM billing._recon_sources")" -gt 0 ] || exit 0
# label, under-billed, over-billed, unmapped (bought, compared with nothing)
pgb_psql -d postgres -At -F $'\t' -v as_of="$as_of" > "$dat/recon_licences.dat" <<'SQL'
SELECT company || ' / ' || sku,
       CASE WHEN status = 'under_billed' THEN difference ELSE 0 END,
       CASE WHEN status = 'over_billed' THEN difference ELSE 0 END,
       CASE WHEN status LIKE 'unmapped%' THEN vendor_quantity ELSE 0 END
  FROM billing.license_variance(:'as_of') WHERE status <> 'matched'
 ORDER BY coalesce(difference, vendor_quantity) DESC, company, sku;
SQL
pgb_psql -d postgres -At -F $'\t' -v month="${as_of%-*}-01" > "$dat/recon_margin.dat" <<'SQL'
SELECT company, sum(margin), sum(psa_price), sum(vendor_cost)
  FROM billing.billing_comparison(:'month') GROUP BY company ORDER BY sum(margin), company;
SQL
[ -s "$dat/recon_margin.dat" ] || exit 0
gnuplot <<GP
set terminal pngcairo size 1100,640 font 'DejaVu Sans,10' noenhanced
set datafile separator '\t'
set style fill solid 0.85 border -1
set boxwidth 0.7
set grid ytics lc rgb '#dddddd'
set xtics rotate by -50 nomirror font ',9'
set key top right
set xzeroaxis lt -1
set bmargin 13
set rmargin 8

set output '$out/recon_licences.png'
set title 'Licences, ${as_of}: bought at Pax8 minus billed in ConnectWise, rows that do not match (billing.license_variance)'
set ylabel 'licences'
set offsets 0.5, 0.5, 3, 3
plot '$dat/recon_licences.dat' using 0:2:xtic(1) with boxes lc rgb '#e08a2e' title 'under-billed (bought, not billed)', \
     '' using 0:3 with boxes lc rgb '#4c7fc0' title 'over-billed (billed, not bought)', \
     '' using 0:4 with boxes lc rgb '#9aa5b1' title 'unmapped company or SKU (bought, compared with nothing)'

set output '$out/recon_margin.png'
set title 'Margin per company, ${as_of%-*}: ConnectWise price minus Pax8 cost (billing.billing_comparison)'
set ylabel 'margin in the month (USD)'
set format y '%.0f'
set key top left
set offsets 0.5, 0.5, 20, 20
plot '$dat/recon_margin.dat' using 0:(\$2 >= 0 ? \$2 : 1/0):xtic(1) with boxes lc rgb '#2e8b57' title 'margin', \
     '' using 0:(\$2 < 0 ? \$2 : 1/0) with boxes lc rgb '#c0392b' title 'negative margin'
GP
echo "   $out/recon_licences.png  $out/recon_margin.png"
