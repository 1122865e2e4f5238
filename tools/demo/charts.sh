#!/usr/bin/env bash
# Renders the demo's charts as PNG files with gnuplot (Debian's gnuplot-nox, installed by make deps):
#   mrr_bridge_<CUR>.png   MRR movements per month as stacked bars (new, expansion, reactivation up;
#                          contraction, churn down) with month-end MRR as a line (billing.mrr_summary)
#   revenue_<CUR>.png      recognised and billed revenue per month as bars, the deferred revenue
#                          balance at month end as a line (billing.monthly_revenue)
# one pair per currency of the book. Usage: tools/demo/charts.sh OUTDIR FIRST_MONTH LAST_MONTH
# (months as YYYY-MM-DD); psql connection settings come from the environment (test/lib.sh's pgb_psql).
set -euo pipefail
. "$(dirname "$0")/../../test/lib.sh"
out=$1 first=$2 last=$3
mkdir -p "$out"

for cur in $(pgb_psql -d postgres -At -c "SELECT DISTINCT currency FROM billing.mrr_summary ORDER BY 1"); do
    pgb_psql -d postgres -At -F ' ' -v cur="$cur" -v first="$first" -v last="$last" > "$out/mrr_$cur.dat" <<'SQL'
SELECT to_char(month, 'YYYY-MM'), new, expansion, reactivation, contraction, churn, mrr_end
FROM billing.mrr_summary WHERE currency = :'cur' AND month BETWEEN :'first' AND :'last' ORDER BY month;
SQL
    pgb_psql -d postgres -At -F ' ' -v cur="$cur" -v first="$first" -v last="$last" > "$out/revenue_$cur.dat" <<'SQL'
SELECT to_char(month, 'YYYY-MM'), sum(recognized), sum(billed), sum(deferred_end)
FROM billing.monthly_revenue WHERE currency = :'cur' AND month BETWEEN :'first' AND :'last'
GROUP BY month ORDER BY month;
SQL
    [ -s "$out/mrr_$cur.dat" ] || continue
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
plot '$out/mrr_$cur.dat' using 0:(\$2+\$3+\$4):xtic(1) with boxes lc rgb '#8fd18f' title 'reactivation', \
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
plot '$out/revenue_$cur.dat' using 2:xtic(1) lc rgb '#2e8b57' title 'recognised', \
     '' using 3 lc rgb '#9aa5b1' title 'billed', \
     '' using 0:4 axes x1y2 with linespoints lw 2.5 pt 7 ps 0.8 lc rgb '#b03a2e' title 'deferred (right axis)'
GP
    echo "   $out/mrr_bridge_$cur.png  $out/revenue_$cur.png"
done
