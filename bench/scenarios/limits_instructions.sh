#!/usr/bin/env bash
# bench/scenarios/limits_instructions.sh - user-space instructions per request
# of a free key and of a key limited on every level (key, user, team: rpm,
# rpd, tpm, max_parallel; nothing refused), counted by callgrind in one
# release llmux (1 worker, a private Postgres, no access log): collection
# zeroed and dumped around each batch of N requests (c=4), two rounds each.
# Measured (issue 18, after per-model entries and the set_header length
# check): free 122.6k-124.1k, limited 130.0k-130.6k per request (+~6.5k:
# admission, views and settlement ~2.3k, the six x-ratelimit headers and
# their rendering ~3k, the rest noise). Uses build-release (built first).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh
N=${N:-2000} # requests per batch; PG_PORT: the private Postgres port (5463)
ADMIN=bench-admin-key-0123456789abcdef
MASTER=$(head -c 32 /dev/urandom | base64)
free_port() { python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
PORT=$(free_port) MPORT=$(free_port)
lx_need valgrind
lx_build build-release --buildtype=release -Dtests=false
DB=$(lx_pg_start build-release/bench-pg "${PG_PORT:-5463}")
psql "$DB" -q -c "DROP DATABASE IF EXISTS bench_ins" >/dev/null 2>&1 || true
psql "$DB" -q -c "CREATE DATABASE bench_ins" >/dev/null
DBB=${DB/dbname=llmux/dbname=bench_ins}
build-release/bench/mock/llmux-mock --listen 127.0.0.1:$MPORT --no-record >/dev/null 2>&1 & mock=$!
TMP=$(mktemp -d); OUT=$TMP/cg.out
env OPENAI_API_KEY= ANTHROPIC_API_KEY= GEMINI_API_KEY= OPENROUTER_API_KEY= LLMUX_CONFIG= LLMUX_LISTEN=127.0.0.1:$PORT LLMUX_WORKERS=1 LLMUX_ACCESS_LOG=false LLMUX_ADMIN_KEY=$ADMIN \
  LLMUX_MASTER_KEY=$MASTER LLMUX_DATABASE_URL="$DBB" LLMUX_DEMO_BASE_URL=http://127.0.0.1:$MPORT/v1 LLMUX_LOG_LEVEL=warn \
  valgrind --tool=callgrind --callgrind-out-file=$OUT build-release/src/llmux >"$TMP"/llmux.log 2>&1 & lx=$!
trap 'kill $lx $mock 2>/dev/null; wait 2>/dev/null; lx_pg_stop build-release/bench-pg; rm -rf "$TMP"' EXIT
for _ in $(seq 300); do curl -sf http://127.0.0.1:$PORT/readyz >/dev/null && break; sleep 0.2; done
admin() { curl -sf -X "$1" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' "http://127.0.0.1:$PORT/api/v1/admin/ai/$2" -d "$3"; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
LIM='"rpm":2000000,"tpm":200000000,"rpd":100000000,"max_parallel":100000'
team=$(admin POST teams "{\"name\":\"t\",$LIM}" | field id)
user=$(admin POST users "{\"name\":\"u\",\"team_id\":$team,$LIM}" | field id)
free=$(admin POST keys '{"name":"free"}' | field key)
limited=$(admin POST keys "{\"name\":\"lim\",\"team_id\":$team,\"user_id\":$user,$LIM}" | field key)
for k in $free $limited; do for _ in $(seq 100); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $k" http://127.0.0.1:$PORT/v1/models)" = 200 ] && break; sleep 0.2; done; done
batch() { # key -> instructions per request
  build-release/bench/loadgen/llmux-bench --url http://127.0.0.1:$PORT/v1/chat/completions --api-key $1 -c 4 -n 200 -d 120s >/dev/null
  callgrind_control -z $lx >/dev/null
  build-release/bench/loadgen/llmux-bench --url http://127.0.0.1:$PORT/v1/chat/completions --api-key $1 -c 4 -n $N -d 300s | grep -iE "non-2xx|errors|requests" | head -3 >&2
  rm -f $OUT.*
  callgrind_control -d $lx >/dev/null
  f=$(ls -t $OUT.* | head -1)
  awk -v n=$N '/^(summary|totals):/ {printf "%d\n", $2 / n; exit}' "$f"
}
for r in 1 2; do
  echo "free:    $(batch $free) instructions/request"
  echo "limited: $(batch $limited) instructions/request"
done
