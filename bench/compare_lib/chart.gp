# bench/compare_lib/chart.gp - the two-panel chart of bench/compare.
# Variables (gnuplot -e): term, out, lat, gap (data files: a header line of
# system names, then one row per percentile, values in ms), n1, n2 (number of
# systems in each), title, t1, t2.
if (term eq 'pngcairo') {
    set terminal pngcairo size 1400,600 enhanced font 'DejaVu Sans,10' noenhanced
} else {
    set terminal png size 1400,600 noenhanced
}
set output out
set multiplot layout 1,2 title title
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key top left
set grid ytics
set yrange [0:*]
set ylabel 'ms'
set xlabel 'percentile'

set title t1
plot for [i=2:n1+1] lat using i:xtic(1) title columnheader(i)

# gaps sit near the mock's own 10 ms: lines on a free y range show the differences
set title t2
set key top left
set yrange [*:*]
set offsets 0.3, 0.3, 0, 0
plot for [i=2:n2+1] gap using 0:i:xtic(1) with linespoints lw 2 pt 7 ps 1.2 title columnheader(i)
unset multiplot
