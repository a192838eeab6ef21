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

count() { # count N: total instructions of a run serving N requests
    local n=$1 port mport out mock llmux
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    out=$(mktemp)
    "$TREE/build-release/bench/mock/llmux-mock" --listen "127.0.0.1:$mport" --no-record >/dev/null 2>&1 &
    mock=$!
    env -i PATH="$PATH" LLMUX_LISTEN="127.0.0.1:$port" LLMUX_WORKERS=1 LLMUX_ADMIN_KEY=$KEY \
        LLMUX_DEMO_BASE_URL="http://127.0.0.1:$mport/v1" LLMUX_ACCESS_LOG=false \
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
    rm -f "$out"
}

a=$(count "$N1")
b=$(count "$N2")
echo "instructions per $WHAT: $(((b - a) / (N2 - N1))) ($TREE)"
