#!/bin/sh
# tlsconnect.sh - bench-tlsconnect's figure (README.md, "bench-tlsconnect"):
# CPU per new upstream TLS connection, with the system's CA bundle plus the
# mock's test CA (a bundle the size of what production uses). Starts its own
# mock on loopback ports 19458/19459 and stops it (by its PID) at the end.
# Needs build-release/ (bench/compare or meson).
#   bench/micro/tlsconnect.sh [STREAMS]      (default: 200)
#   CA2=1 bench/micro/tlsconnect.sh ...      every other stream to a provider
#                                            with its own copy of the bundle
set -eu
cd "$(dirname "$0")/../.."
B=build-release
N=${1:-200}
TMP=$(mktemp -d)
bench/mock/gen-certs.sh "$TMP" >/dev/null 2>&1
cat /etc/ssl/certs/ca-certificates.crt "$TMP/ca.pem" >"$TMP/bundle.pem"
$B/bench/mock/llmux-mock --listen 127.0.0.1:19458 --threads 1 --no-record \
    --tls-port 19459 --tls-cert "$TMP/server.pem" --tls-key "$TMP/server.key" >"$TMP/mock.log" 2>&1 &
MOCK=$!
trap 'kill $MOCK 2>/dev/null; rm -rf "$TMP"' EXIT INT TERM
for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/19459) 2>/dev/null && break; sleep 0.05; done
echo "CA bundle: $(grep -c BEGIN "$TMP/bundle.pem") certificates"
ulimit -n 4096 2>/dev/null || true
EXTRA=
if [ -n "${CA2:-}" ]; then
    cp "$TMP/bundle.pem" "$TMP/bundle2.pem"
    EXTRA="--ca2 $TMP/bundle2.pem"
fi
# shellcheck disable=SC2086
$B/bench/micro/bench-tlsconnect --url https://127.0.0.1:19459/v1/chat/completions \
    --ca "$TMP/bundle.pem" $EXTRA --streams "$N"
