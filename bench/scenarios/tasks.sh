#!/usr/bin/env bash
# bench/scenarios/tasks.sh - 10,000 tasks polling at once on one llmux (issue 19):
#  1. chat throughput (wrk, non-stream, c=$CONC) of an llmux holding N tasks
#     that poll, against an llmux of the same build on the same database
#     holding none, in alternating rounds of the same run: the median ratio;
#  2. that llmux's RSS before the tasks and with all N polling -> memory per
#     polling task;
#  3. polls per task per minute (llmux_task_polls_total over a window).
# The tasks run the test-only executor "test.job" (LLMUX_TEST_TASKS=1): its
# provider is a table in the same Postgres (one UPDATE per poll), and each
# job needs a million polls, so every task polls for the whole run with the
# default backoff (1 s growing to 30 s, jittered).
# MODE=mock: the tasks are video.generate tasks of the real media executor
# (src/media/exec.c) against the mock's OpenAI video API, each job an hour
# long (duration_ms), so every task polls the mock for the whole run; the
# llmux holding none has its own database (both executors are always
# registered, so on a shared database it would claim tasks too), on the
# same Postgres server; polls are also counted at the mock (video_poll).
# Uses build-release and a private Postgres under build-release/bench-pg
# (port $PGPORT). Everything on loopback; every step bounded in time.
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
cd "$LX_ROOT"
lx_need $LX_PKGS_BUILD postgresql wrk
lx_build build-release --buildtype=release -Dtests=false
BIN=build-release/src/llmux; MOCK=build-release/bench/mock/llmux-mock
MODE=${MODE:-testjob}; N=${N:-10000}; DUR=${DUR:-5}; ROUNDS=${ROUNDS:-5}; CONC=${CONC:-64}; PGPORT=${PGPORT:-5440}
WINDOW=${WINDOW:-60} # seconds over which polls are counted
KEY=bench-admin-key-0123456789abcdef
MASTER=$(head -c 32 /dev/urandom | base64)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true
            lx_pg_stop build-release/bench-pg; }
trap cleanup EXIT

DB=$(lx_pg_start build-release/bench-pg "$PGPORT")
psql "$DB" -Atq -c "DROP DATABASE IF EXISTS bench_tasks" >/dev/null 2>&1 || true
psql "$DB" -q -c "CREATE DATABASE bench_tasks" >/dev/null
DBB=${DB/dbname=llmux/dbname=bench_tasks}
DBN=$DBB # the database of the llmux holding no tasks
if [ "$MODE" = mock ]; then
    psql "$DB" -Atq -c "DROP DATABASE IF EXISTS bench_tasks_none" >/dev/null 2>&1 || true
    psql "$DB" -q -c "CREATE DATABASE bench_tasks_none" >/dev/null
    DBN=${DB/dbname=llmux/dbname=bench_tasks_none}
    TYPE=video.generate
else
    TYPE=test.job
fi
PSQL() { psql "$DBB" -Atq -v ON_ERROR_STOP=1 -c "$1"; }
"$MOCK" --listen 127.0.0.1:29511 --no-record >/dev/null 2>&1 & pids+=($!)
start_llmux() { # port test_tasks database
    LLMUX_LISTEN=127.0.0.1:$1 LLMUX_TEST_TASKS=$2 LLMUX_TASK_POOL=$((N + 100)) \
    LLMUX_USAGE_LOG=false LLMUX_ACCESS_LOG=false LLMUX_ADMIN_KEY=$KEY \
    LLMUX_MASTER_KEY=$MASTER LLMUX_DATABASE_URL=$3 LLMUX_DEMO_BASE_URL=http://127.0.0.1:29511/v1 \
    LLMUX_LOG_LEVEL=warn "$BIN" >/dev/null 2>&1 & pids+=($!)
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$1/readyz" >/dev/null && return; sleep 0.1; done
    echo "llmux on $1 did not start" >&2; exit 1
}
start_llmux 28511 1 "$DBB"; T_PID=${pids[-1]} # holds the tasks
start_llmux 28512 0 "$DBN"                    # claims none
PSQL "CREATE TABLE llmux_test_jobs (id BIGSERIAL PRIMARY KEY, idem TEXT UNIQUE, task TEXT,
      polls INT NOT NULL DEFAULT 0, polls_needed INT NOT NULL, fail TEXT,
      cancelled BOOLEAN NOT NULL DEFAULT false, submits INT NOT NULL DEFAULT 1)"
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
polls() { curl -sf "http://127.0.0.1:28511/metrics" |
          awk -v t="$TYPE" 'index($0, "llmux_task_polls_total{type=\"" t "\"") == 1 {s += $2} END {print s + 0}'; }
active() { curl -sf "http://127.0.0.1:28511/metrics" |
           awk -v t="$TYPE" 'index($0, "llmux_tasks_active{type=\"" t "\",status=\"running\"}") == 1 {print $2}'; }
mock_polls() { curl -sf "http://127.0.0.1:29511/_mock/stats?jobs=0" |
               python3 -c 'import json,sys; print(json.load(sys.stdin)["video_poll"])'; }
run() { # port -> rps
    MODEL=demo/mock-model KEY=$KEY wrk -t2 -c"$CONC" -d"${DUR}s" -s bench/wrk/chat.lua \
        "http://127.0.0.1:$1/v1/chat/completions" | awk '/Requests\/sec/ {print $2}'
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

run 28511 >/dev/null # warm both (connections, allocator) before the RSS baseline
run 28512 >/dev/null
rss0=$(rss_kb "$T_PID")
if [ "$MODE" = mock ]; then
    echo "== $N tasks (video.generate, one-hour jobs at the mock's OpenAI video API) submitted to :28511"
    # one through the route, for the stored shape (input, provider, credential); the rest by SQL
    curl -sf -o /dev/null -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
        -d '{"model":"demo/sora-2+duration_ms=3600000","prompt":"bench-0","seconds":4}' \
        http://127.0.0.1:28511/api/v1/media/videos
    t0=$SECONDS
    PSQL "INSERT INTO ai_tasks (public_id, type, input, provider, credential_id, idempotency_key,
          deadline_at) SELECT 'task_bench' || g, type, jsonb_set(input, '{prompt}',
          to_jsonb('bench-' || g)), provider, credential_id, 'llmux-bench-' || g,
          now() + interval '1 day' FROM ai_tasks, generate_series(1, $((N - 1))) g"
else
    echo "== $N tasks (test.job, 1,000,000 polls each) submitted to :28511"
    t0=$SECONDS
    PSQL "INSERT INTO ai_tasks (public_id, type, input, provider, credential_id, idempotency_key,
          deadline_at) SELECT 'task_bench' || g, 'test.job', '{\"polls\":1000000}', 'test', 'bench',
          'llmux-bench-' || g, now() + interval '1 day' FROM generate_series(1, $N) g"
fi
end=$((SECONDS + 120))
until [ "$(active)" = "$N" ]; do
    [ $SECONDS -lt $end ] || { echo "only $(active) of $N tasks running after 120 s" >&2; exit 1; }
    sleep 1
done
echo "all $N running after $((SECONDS - t0)) s"
sleep 35 # past the backoff's ramp (1 s .. 30 s): polling at its steady pace
rss1=$(rss_kb "$T_PID")
echo "RSS: ${rss0} kB without tasks, ${rss1} kB with $N polling -> $(( (rss1 - rss0) * 1024 / N )) bytes per polling task"

echo "== chat throughput: llmux with $N tasks (:28511) vs none (:28512), $ROUNDS alternating rounds of ${DUR}s, c=$CONC"
p0=$(polls); w0=$SECONDS; [ "$MODE" = mock ] && mp0=$(mock_polls)
with=(); without=()
for i in $(seq "$ROUNDS"); do
    with+=("$(run 28511)"); without+=("$(run 28512)")
done
m_w=$(printf '%s\n' "${with[@]}" | median); m_wo=$(printf '%s\n' "${without[@]}" | median)
echo "with tasks   : ${with[*]} req/s (median $m_w)"
echo "without tasks: ${without[*]} req/s (median $m_wo)"
echo "ratio with/without: $(awk -v a="$m_w" -v b="$m_wo" 'BEGIN {printf "%.3f", a/b}')"
rest=$((WINDOW - (SECONDS - w0))); [ $rest -gt 0 ] && sleep $rest
p1=$(polls); el=$((SECONDS - w0))
echo "polls: $((p1 - p0)) in ${el} s -> $(awk -v p=$((p1 - p0)) -v n="$N" -v s="$el" \
     'BEGIN {printf "%.2f", p / n / (s / 60)}') polls per task per minute; still running: $(active)"
if [ "$MODE" = mock ]; then
    mp1=$(mock_polls)
    echo "at the mock: $((mp1 - mp0)) video polls in ${el} s -> $(awk -v p=$((mp1 - mp0)) -v n="$N" \
         -v s="$el" 'BEGIN {printf "%.2f", p / n / (s / 60)}') polls per task per minute;" \
         "$(curl -sf "http://127.0.0.1:29511/_mock/stats?jobs=0" | python3 -c 'import json,sys
d = json.load(sys.stdin); print(d["jobs_created"], "jobs created,", d["job_duplicate_submits"], "duplicate submits")')"
fi
