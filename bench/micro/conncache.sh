#!/bin/sh
# conncache.sh - bench-conncache's table (README.md, "bench-conncache"):
# instructions per new upstream transfer at 0, 1,000 and 10,000 open
# streams, HTTP/1.1 (plain) and HTTP/2 (TLS), under callgrind. Starts its
# own mock on loopback ports 19448/19449 and stops it (by its PID) at the
# end. Needs build-release/ (bench/compare or meson) and valgrind.
#   bench/micro/conncache.sh [STREAMS...]      (default: 1000 10000)
set -eu
cd "$(dirname "$0")/../.."
B=build-release
STREAMS=${*:-1000 10000}
ONLY=${ONLY:-}
TMP=$(mktemp -d); echo "files: $TMP"
bench/mock/gen-certs.sh "$TMP" >/dev/null 2>&1
$B/bench/mock/llmux-mock --listen 127.0.0.1:19448 --threads 1 --no-record \
    --tls-port 19449 --tls-cert "$TMP/server.pem" --tls-key "$TMP/server.key" >"$TMP/mock.log" 2>&1 &
MOCK=$!
trap 'kill $MOCK 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$TMP"' EXIT INT TERM
sleep 0.5
PROBES=100
# Ir of one callgrind dump (its "summary:" or "totals:" line) / PROBES.
per_probe() { awk -v p=$PROBES '/^(summary|totals):/ {print int($2 / p); exit}' "$1"; }
run() { # label streams args...
    label=$1 n=$2; shift 2
    out="$TMP/cg.$(echo "$label" | tr -c "a-zA-Z0-9\n" _).$n"
    timeout 900 valgrind --tool=callgrind --compress-strings=no --compress-pos=no --callgrind-out-file="$out" \
        $B/bench/micro/bench-conncache --streams "$n" --probes $PROBES "$@" >"$TMP/run.log" 2>&1 ||
        { cat "$TMP/run.log"; exit 1; }
    idle=$(per_probe "$out.1") loaded=$(per_probe "$out.2")
    printf '%-16s %6d streams  sockets %-6s  Ir/new transfer idle %8d  loaded %8d  (+%d)\n' \
        "$label" "$n" "$(grep '^loaded' "$TMP/run.log" | sed 's/.*sockets //')" \
        "$idle" "$loaded" $((loaded - idle))
}
for n in $STREAMS; do
    [ "$ONLY" = h2 ] || run "HTTP/1.1 plain" "$n" --url http://127.0.0.1:19448/v1/chat/completions --http1
    [ "$ONLY" = h1 ] || run "HTTP/2 TLS" "$n" --url https://127.0.0.1:19449/v1/chat/completions --ca "$TMP/ca.pem"
done
