#!/usr/bin/env bash
# bench/scenarios/instructions.sh - user-space instructions llmux spends per
# request, counted by callgrind: deterministic, so two builds can be
# compared on a noisy machine. A one-worker release llmux (no database, no
# access log) serves the mock; the figure is the difference between N2 and
# N1 requests at concurrency 4, divided by N2 - N1, so start-up and
# shutdown cancel out.
#
#   bench/scenarios/instructions.sh [TREE]            non-stream requests
#   STREAM=1 bench/scenarios/instructions.sh [TREE]   streams of 20 chunks
#   TLS=1 ...            the mock over HTTPS (its test CA), llmux's default
#                        http2 "auto" (HTTP/1.1 keep-alive at this load)
#   TLS=1 HTTP2=true ... the same over HTTP/2 (provider setting http2: true)
#
# TREE: a checkout whose build-release/ is built (default: this one).
# Environment: N1 (default 1000), N2 (default 3000).
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
TREE=${1:-$LX_ROOT}
N1=${N1:-1000} N2=${N2:-3000}
command -v valgrind >/dev/null || lx_need valgrind
KEY=sk-admin-instructions-0123456789
EXTRA=() WHAT=request
[ "${STREAM:-0}" = 1 ] && EXTRA=(--stream --model 'demo/m+chunks=20') WHAT=stream

CERTS=
if [ "${TLS:-0}" = 1 ]; then
    CERTS=$(mktemp -d)
    "$LX_ROOT/bench/mock/gen-certs.sh" "$CERTS" >/dev/null 2>&1
    WHAT="$WHAT over HTTPS, http2 ${HTTP2:-auto}"
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

count() { # count N: total instructions of a run serving N requests
    local n=$1 port mport tport out mock llmux base tlsenv=() mockargs=()
    port=$(free_port) mport=$(free_port)
    out=$(mktemp)
    base="http://127.0.0.1:$mport/v1"
    if [ -n "$CERTS" ]; then
        tport=$(free_port)
        mockargs=(--tls-port "$tport" --tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server.key")
        base="https://127.0.0.1:$tport/v1"
        printf '{"providers": {"demo": {"kind": "openai_compatible", "base_url": "%s"%s}}}\n' \
            "$base" "${HTTP2:+, \"http2\": $HTTP2}" >"$CERTS/llmux.json"
        tlsenv=(LLMUX_UPSTREAM_CA_FILE="$CERTS/ca.pem" LLMUX_CONFIG="$CERTS/llmux.json")
    fi
    "$TREE/build-release/bench/mock/llmux-mock" --listen "127.0.0.1:$mport" --no-record \
        "${mockargs[@]}" >/dev/null 2>&1 &
    mock=$!
    env -i PATH="$PATH" LLMUX_LISTEN="127.0.0.1:$port" LLMUX_WORKERS=1 LLMUX_ADMIN_KEY=$KEY \
        LLMUX_DEMO_BASE_URL="$base" LLMUX_ACCESS_LOG=false "${tlsenv[@]}" \
        valgrind --tool=callgrind --callgrind-out-file="$out" "$TREE/build-release/src/llmux" \
        >/dev/null 2>&1 &
    llmux=$!
    for _ in $(seq 1 150); do
        curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
        sleep 0.2
    done
    "$TREE/build-release/bench/loadgen/llmux-bench" --url "http://127.0.0.1:$port/v1/chat/completions" \
        --api-key $KEY -c 4 -n "$n" -d 300s "${EXTRA[@]}" >/dev/null
    kill -TERM "$llmux"
    wait "$llmux" || true
    kill "$mock"
    wait "$mock" 2>/dev/null || true
    awk '/^(summary|totals):/ {print $2; exit}' "$out"
    [ -n "${KEEP_OUT:-}" ] && cp "$out" "$KEEP_OUT.$n"
    rm -f "$out"
}

[ -z "$CERTS" ] || trap 'rm -rf "$CERTS"' EXIT
a=$(count "$N1")
b=$(count "$N2")
echo "instructions per $WHAT: $(((b - a) / (N2 - N1))) ($TREE)"
