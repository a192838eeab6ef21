#!/usr/bin/env bash
# bench/scenarios/scrape.sh - what a /metrics scrape costs with 1,000 models
# configured: a provider on the mock with two credentials and 1,000 models
# (admin API for the provider and credentials, SQL for the models), one chat
# request to every model so each has its request, token and cost series, then
# N scrapes timed with curl -w, and /healthz timed the same way in the same
# run as the baseline. Prints the median and p90 of each and the scrape's
# body size and series count. Then what a scrape costs the request path:
# /healthz timed while another client scrapes in a loop (with WORKERS=1
# every /healthz shares the scraping worker's loop; a render on that loop
# shows up in the healthz p99 and max). Uses build-release (./scripts/run
# builds it; BIN=path runs another binary, e.g. an older build, against the
# same setup) and a private Postgres under build-release/bench-pg; loopback
# only, every step bounded. PERF=file runs llmux under `perf record -g`
# (the whole run: start-up and the chat traffic included; the scrapes
# dominate its render functions).
#   N=200 WORKERS=2 bench/scenarios/scrape.sh
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
cd "$LX_ROOT"
lx_need $LX_PKGS_BUILD postgresql curl
lx_build build-release --buildtype=release -Dtests=false
BIN=${BIN:-build-release/src/llmux}; MOCK=build-release/bench/mock/llmux-mock
N=${N:-200}; WORKERS=${WORKERS:-2}; MODELS=${MODELS:-1000}
KEY=bench-admin-key-0123456789abcdef
MASTER=$(head -c 32 /dev/urandom | base64)
pids=()
cleanup() { for p in "${pids[@]}"; do
                # under PERF: timeout -> perf -> llmux; stop llmux itself so perf writes its file
                for c in $(pgrep -P "$p" 2>/dev/null); do for g in $(pgrep -P "$c" 2>/dev/null); do
                    kill "$g" 2>/dev/null || true; done; done
                kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true
            lx_pg_stop build-release/bench-pg; }
trap cleanup EXIT

DB=$(lx_pg_start build-release/bench-pg 5439)
psql "$DB" -q -c "DROP DATABASE IF EXISTS bench_scrape" >/dev/null 2>&1 || true
psql "$DB" -q -c "CREATE DATABASE bench_scrape" >/dev/null
DBB=${DB/dbname=llmux/dbname=bench_scrape}
"$MOCK" --listen 127.0.0.1:29511 --threads 1 --no-record >/dev/null 2>&1 & pids+=($!)
URL=http://127.0.0.1:28511
LLMUX_LISTEN=127.0.0.1:28511 LLMUX_WORKERS=$WORKERS LLMUX_ACCESS_LOG=false LLMUX_ADMIN_KEY=$KEY \
LLMUX_MASTER_KEY=$MASTER LLMUX_DATABASE_URL=$DBB LLMUX_DEMO_BASE_URL=http://127.0.0.1:29511/v1 \
LLMUX_LOG_LEVEL=warn timeout 600 ${PERF:+perf record -q -F 1999 -g -o "$PERF" --} "$BIN" >/dev/null 2>&1 & pids+=($!)
for _ in $(seq 100); do curl -sf "$URL/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "$URL/readyz" >/dev/null || { echo "llmux did not start" >&2; exit 1; }

adm() { curl -sf -m 10 -X "$1" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
        "$URL/api/v1/admin/ai$2" ${3:+-d "$3"}; }
pid=$(adm POST /providers '{"name":"bulk","kind":"openai_compatible","base_url":"http://127.0.0.1:29511/v1"}' |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
adm POST /connections "{\"provider_id\":$pid,\"name\":\"a\",\"api_key\":\"sk-a\",\"priority\":0}" >/dev/null
adm POST /connections "{\"provider_id\":$pid,\"name\":\"b\",\"api_key\":\"sk-b\",\"priority\":1}" >/dev/null
psql "$DBB" -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
INSERT INTO ai_models (provider_id, upstream_name, public_name, input_cost_per_1m, output_cost_per_1m)
SELECT $pid, 'model-' || m, 'model-' || m, 0.5, 1.5 FROM generate_series(1, $MODELS) m;
SELECT pg_notify('llmux_config', 'bench');
SQL
# wait until the last model resolves
for _ in $(seq 100); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 -H "Authorization: Bearer $KEY" \
        -H 'Content-Type: application/json' -d "{\"model\":\"bulk/model-$MODELS\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" \
        "$URL/v1/chat/completions")
    [ "$code" = 200 ] && break; sleep 0.1
done
[ "$code" = 200 ] || { echo "the models did not load" >&2; exit 1; }

echo "== traffic: one chat request to each of the $MODELS models (4 at a time)"
seq 1 "$MODELS" | timeout 300 xargs -P4 -I{} curl -s -o /dev/null -m 10 -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' \
    -d '{"model":"bulk/model-{}","messages":[{"role":"user","content":"hi"}]}' "$URL/v1/chat/completions"

times() { # path -> one "seconds bytes" line per request
    for _ in $(seq "$N"); do curl -s -o /dev/null -m 10 -w '%{time_total} %{size_download}\n' "$URL$1"; done
}
stats() { sort -n | awk '{a[NR]=$1; b=$2} END {printf "median %.3f ms  p90 %.3f ms  p99 %.3f ms  max %.3f ms  body %d bytes\n", a[int((NR+1)/2)]*1000, a[int(NR*0.9)]*1000, a[int(NR*0.99)]*1000, a[NR]*1000, b}'; }
curl -s "$URL/metrics" >/tmp/llmux-scrape.$$.txt
echo "== $N requests each, sequential, one connection per request (curl), $WORKERS workers"
echo "/healthz : $(times /healthz | stats)"
echo "/metrics : $(times /metrics | stats)"
# /healthz while a second client scrapes back to back (bounded: N scrapes or the healthz run)
( for _ in $(seq "$N"); do curl -s -o /dev/null -m 10 "$URL/metrics"; done ) & scraper=$!
echo "/healthz while scraping: $(times /healthz | stats)"
kill "$scraper" 2>/dev/null || true; wait "$scraper" 2>/dev/null || true
echo "series in a scrape: $(grep -vc '^#' /tmp/llmux-scrape.$$.txt)"
echo "ai requests counted: $(awk '/^llmux_ai_requests_total/ {s+=$2} END {print s}' /tmp/llmux-scrape.$$.txt)"
rm -f /tmp/llmux-scrape.$$.txt
