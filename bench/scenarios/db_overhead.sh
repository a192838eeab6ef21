#!/usr/bin/env bash
# bench/scenarios/db_overhead.sh - what the database side costs on the hot path:
#  1. usage recording on vs off (same llmux build, same Postgres, same mock);
#  2. p99 under load while the registry reloads 1,000 providers x 10 models
#     again and again (NOTIFY every 200 ms), against the same load without.
# Uses build-release (./scripts/run builds it) and a private Postgres under
# build-release/bench-pg. Everything on loopback, every run bounded.
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
cd "$LX_ROOT"
lx_need $LX_PKGS_BUILD postgresql wrk
lx_build build-release --buildtype=release -Dtests=false
BIN=build-release/src/llmux; MOCK=build-release/bench/mock/llmux-mock
DUR=${DUR:-5}; ROUNDS=${ROUNDS:-3}; CONC=${CONC:-64}
KEY=bench-admin-key-0123456789abcdef
MASTER=$(head -c 32 /dev/urandom | base64)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true
            lx_pg_stop build-release/bench-pg; }
trap cleanup EXIT

DB=$(lx_pg_start build-release/bench-pg 5439)
PSQL() { psql "$DB" -Atq -v ON_ERROR_STOP=1 -c "$1"; }
PSQL "DROP DATABASE IF EXISTS bench" >/dev/null 2>&1 || true
DBB=${DB/dbname=llmux/dbname=bench}
psql "$DB" -q -c "CREATE DATABASE bench" >/dev/null
"$MOCK" --listen 127.0.0.1:29501 --no-record >/dev/null 2>&1 & pids+=($!)
start_llmux() { # port usage_log
    LLMUX_LISTEN=127.0.0.1:$1 LLMUX_USAGE_LOG=$2 LLMUX_ACCESS_LOG=false LLMUX_ADMIN_KEY=$KEY \
    LLMUX_MASTER_KEY=$MASTER LLMUX_DATABASE_URL=$DBB LLMUX_DEMO_BASE_URL=http://127.0.0.1:29501/v1 \
    LLMUX_LOG_LEVEL=warn "$BIN" >/dev/null 2>&1 & pids+=($!)
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$1/readyz" >/dev/null && return; sleep 0.1; done
    echo "llmux on $1 did not start" >&2; exit 1
}
start_llmux 28501 true
start_llmux 28502 false
run() { # port -> "rps p99_ms"
    MODEL=demo/mock-model KEY=$KEY wrk -t2 -c"$CONC" -d"${DUR}s" --latency -s bench/wrk/chat.lua \
        "http://127.0.0.1:$1/v1/chat/completions" | awk '
        /Requests\/sec/ {rps=$2}
        / 99%/ {v=$2; if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; p99=v}
        END {print rps, p99}'
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "== usage recording on vs off (${ROUNDS} alternating rounds of ${DUR}s, c=$CONC)"
on=(); off=()
for i in $(seq "$ROUNDS"); do
    on+=("$(run 28501 | cut -d' ' -f1)"); off+=("$(run 28502 | cut -d' ' -f1)")
done
m_on=$(printf '%s\n' "${on[@]}" | median); m_off=$(printf '%s\n' "${off[@]}" | median)
echo "usage on : ${on[*]} req/s (median $m_on)"
echo "usage off: ${off[*]} req/s (median $m_off)"
echo "ratio on/off: $(awk -v a="$m_on" -v b="$m_off" 'BEGIN {printf "%.3f", a/b}')   rows written: $(psql "$DBB" -Atq -c 'SELECT count(*) FROM ai_usage')"

echo "== registry refresh: 1,000 providers x 10 models, reloaded every 200 ms under load"
psql "$DBB" -q -v ON_ERROR_STOP=1 <<'SQL' >/dev/null
INSERT INTO ai_providers (name, kind, base_url, status)
SELECT 'bulk' || g, 'openai_compatible', 'http://127.0.0.1:29501/v1', 'active' FROM generate_series(1, 1000) g
ON CONFLICT (name) DO NOTHING;
INSERT INTO ai_models (provider_id, upstream_name, public_name)
SELECT p.id, 'model-' || m, 'bulk-model-' || p.id || '-' || m FROM ai_providers p, generate_series(1, 10) m
WHERE p.name LIKE 'bulk%' ON CONFLICT DO NOTHING;
SELECT pg_notify('llmux_config', 'bulk');
SQL
sleep 1
base=(); during=()
for i in $(seq "$ROUNDS"); do
    base+=("$(run 28502 | cut -d' ' -f2)")
    ( end=$((SECONDS + DUR + 1)); while [ $SECONDS -lt $end ]; do
        psql "$DBB" -Atq -c "SELECT pg_notify('llmux_config', 'bench')" >/dev/null; sleep 0.2; done ) &
    n=$!
    during+=("$(run 28502 | cut -d' ' -f2)")
    wait $n
done
m_base=$(printf '%s\n' "${base[@]}" | median); m_during=$(printf '%s\n' "${during[@]}" | median)
echo "p99 without reloads: ${base[*]} ms (median $m_base)"
echo "p99 with reloads   : ${during[*]} ms (median $m_during)"
echo "ratio: $(awk -v a="$m_during" -v b="$m_base" 'BEGIN {printf "%.3f", a/b}')"
