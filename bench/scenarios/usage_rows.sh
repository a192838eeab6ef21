#!/usr/bin/env bash
# bench/scenarios/usage_rows.sh - what one usage row costs Postgres, alone:
# no llmux, no load, just rows written the way a worker writes them
# (bench/usage_rows: the real sink, batches of BATCH rows, one at a time).
#
# For each variant and run: a fresh database, `llmux migrate`, autovacuum
# off for ai_usage (so that it cannot land in one run and not another), a
# CHECKPOINT, then ROWS rows. Postgres' CPU is read from /proc (user +
# system time of the postmaster, of its live children and of the children
# it has reaped) before and after; then a VACUUM (ANALYZE) of the table is
# measured on its own: autovacuum does that work later, once per row.
#
#   current  the schema and the writer of this tree
#   legacy   the schema and statement before sql/004 (the five indexes and
#            the id put back, text arrays, ON CONFLICT (record_id))
#
# Environment: BUILD (build-release), PG_DIR ($BUILD/usage-rows-pg),
# PG_PORT (5482), ROWS (200000), BATCH (1024: a full batch of the sink), RUNS (3),
# VARIANTS ("legacy current"). Prints each run and the medians.
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
cd "$LX_ROOT"
BUILD=${BUILD:-build-release}
PG_DIR=${PG_DIR:-$BUILD/usage-rows-pg}; PG_PORT=${PG_PORT:-5482}
ROWS=${ROWS:-200000}; BATCH=${BATCH:-1024}; RUNS=${RUNS:-3}; VARIANTS=${VARIANTS:-legacy current}
lx_need $LX_PKGS_BUILD postgresql postgresql-client
lx_build "$BUILD" --buildtype=release -Dtests=false
BIN=$BUILD/src/llmux; DRIVER=$BUILD/bench/usage_rows/llmux-usage-rows
trap 'lx_pg_stop "$PG_DIR"' EXIT

DB=$(lx_pg_start "$PG_DIR" "$PG_PORT")
DBU=${DB/dbname=llmux/dbname=usage_rows}
PM=$(head -1 "$(readlink -f "$PG_DIR")/data/postmaster.pid")
HZ=$(getconf CLK_TCK)

# Clock ticks used by Postgres so far: the postmaster's own and its reaped
# children's (stat fields 14-17), plus each live child's (fields 14-15).
pg_ticks() {
    local f t p
    read -r -a f < <(sed 's/^.*) //' "/proc/$PM/stat")
    t=$((f[11] + f[12] + f[13] + f[14]))
    for p in $(cat "/proc/$PM/task/$PM/children"); do
        if read -r -a f < <(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null); then
            t=$((t + f[11] + f[12]))
        fi
    done
    echo "$t"
}

# The indexes and the id that sql/004 dropped, and no ai_usage_writers.
LEGACY_SQL="DROP TABLE ai_usage_writers; DROP INDEX ai_usage_created_brin;
CREATE INDEX ai_usage_created_idx ON ai_usage (created_at);
CREATE INDEX ai_usage_key_idx ON ai_usage (api_key_id, created_at);
CREATE INDEX ai_usage_connection_idx ON ai_usage (connection_id, created_at);
CREATE INDEX ai_usage_model_idx ON ai_usage (model, created_at);
CREATE INDEX ai_usage_request_idx ON ai_usage (request_id);
ALTER TABLE ai_usage ADD COLUMN id BIGSERIAL PRIMARY KEY;"

run_one() { # variant -> "insert_us vacuum_us"
    local v=$1 t0 t1 t2 n
    psql "$DB" -Atq -c "DROP DATABASE IF EXISTS usage_rows" -c "CREATE DATABASE usage_rows" 2>/dev/null
    LLMUX_DATABASE_URL=$DBU LLMUX_LOG_LEVEL=warn "$BIN" migrate >/dev/null
    [ "$v" = legacy ] && psql "$DBU" -Atq -v ON_ERROR_STOP=1 -c "$LEGACY_SQL" >/dev/null
    psql "$DBU" -Atq -c "ALTER TABLE ai_usage SET (autovacuum_enabled = off)" -c "CHECKPOINT"
    sleep 0.5
    t0=$(pg_ticks)
    if [ "$v" = legacy ]; then
        "$DRIVER" "$DBU" --rows "$ROWS" --batch "$BATCH" --legacy >/dev/null
    else
        "$DRIVER" "$DBU" --rows "$ROWS" --batch "$BATCH" >/dev/null
    fi
    sleep 0.5 # the backend exits and is reaped: its time moves to the postmaster's
    t1=$(pg_ticks)
    psql "$DBU" -Atq -c "VACUUM (ANALYZE) ai_usage"
    sleep 0.5
    t2=$(pg_ticks)
    n=$(psql "$DBU" -Atq -c "SELECT count(*) FROM ai_usage")
    [ "$n" = "$ROWS" ] || lx_die "$v: $n rows in ai_usage, expected $ROWS"
    awk -v a="$t0" -v b="$t1" -v c="$t2" -v n="$n" -v hz="$HZ" \
        'BEGIN {printf "%.2f %.2f\n", (b - a) / hz * 1e6 / n, (c - b) / hz * 1e6 / n}'
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "== Postgres CPU per usage row: $ROWS rows in batches of $BATCH, $RUNS runs per variant"
declare -A ins vac
for r in $(seq "$RUNS"); do
    for v in $VARIANTS; do
        res=$(run_one "$v"); i=${res% *}; c=${res#* }
        echo "run $r  $v: insert $i us/row, vacuum+analyze $c us/row"
        ins[$v]+="$i "; vac[$v]+="$c "
    done
done
printf '%-10s %18s %24s\n' variant "insert (us/row)" "vacuum+analyze (us/row)"
for v in $VARIANTS; do
    printf '%-10s %18s %24s\n' "$v" "$(tr ' ' '\n' <<<"${ins[$v]}" | grep . | median)" \
        "$(tr ' ' '\n' <<<"${vac[$v]}" | grep . | median)"
done
