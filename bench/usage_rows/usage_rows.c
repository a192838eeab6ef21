/* usage_rows.c - llmux-usage-rows: writes usage rows into Postgres the way a
 * worker does, so that bench/scenarios/usage_rows.sh can measure what one
 * row costs the server.
 *
 *   llmux-usage-rows CONNINFO [--rows N] [--batch 1..1024] [--legacy]
 *
 * By default the records go through the real sink (src/ai/usage_pg.c) on an
 * event loop with a non-blocking lx_pg connection: N records, pushed BATCH at
 * a time, each batch written before the next is pushed. --legacy sends the
 * statement llmux used before sql/004 (text arrays, unnest in FROM, ON
 * CONFLICT (record_id)) over a blocking connection, for the same records;
 * it needs the schema from before 004 (the script recreates it). Records
 * look like a benchmark's: random request ids, a few keys and connections,
 * one model, 2% upstream errors. Prints the rows written; exits non-zero on
 * any failure. */
#include "ai/usage.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "db/pg.h"

#include <event2/event.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t rng = 0x9E3779B97F4A7C15u;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void make_record(lx_usage_t *u, long i)
{
    memset(u, 0, sizeof *u);
    lx_usage_new_id(u, 0);
    snprintf(u->request_id, sizeof u->request_id, "req_%016llx%08x",
             (unsigned long long)next_rand(), (unsigned)next_rand());
    u->api_key_id = next_rand() % 5 == 0 ? 0 : (int64_t)(next_rand() % 5 + 1);
    u->connection_id = (int64_t)(next_rand() % 3 + 1);
    snprintf(u->provider, sizeof u->provider, "demo");
    snprintf(u->model, sizeof u->model, "mock-model");
    u->feature = "chat";
    u->tokens_in = (int64_t)(next_rand() % 20 + 10);
    u->tokens_out = 3 + i % 2;
    u->cost_usd = ((double)u->tokens_in * 0.10 + (double)u->tokens_out * 0.20) / 1e6;
    u->status = next_rand() % 50 == 0 ? 502 : 200;
    if (u->status != 200)
        snprintf(u->error, sizeof u->error, "upstream_error");
    u->ttfb_us = u->status == 200 ? (int64_t)(next_rand() % 1500 + 500) : -1;
    u->total_us = (u->ttfb_us > 0 ? u->ttfb_us : 100) + 200;
    u->created_ms = lx_wall_ms();
}

/* ---- through the sink ---- */

static int run_sink(const char *conninfo, long rows, long batch)
{
    struct event_base *base = event_base_new();
    lx_pg_opts_t o = {.application_name = "llmux-usage-rows"};
    lx_pg_t *pg = lx_pg_new(base, conninfo, &o);
    if (pg == NULL)
        return 1;
    int64_t deadline = lx_now_us() + 10 * 1000000;
    while (!lx_pg_connected(pg) && lx_now_us() < deadline)
        event_base_loop(base, EVLOOP_ONCE);
    if (!lx_pg_connected(pg)) {
        fprintf(stderr, "cannot connect\n");
        return 1;
    }
    lx_usage_pg_t *s = lx_usage_pg_new(base, pg, (size_t)batch + 1);
    lx_usage_sink_t *sink = lx_usage_pg_sink(s);
    lx_usage_t u;
    for (long done = 0; done < rows;) {
        long n = LX_MIN(batch, rows - done);
        for (long i = 0; i < n; i++) {
            make_record(&u, done + i);
            sink->push(sink, &u);
        }
        lx_usage_pg_flush(s);
        done += n;
        deadline = lx_now_us() + 30 * 1000000;
        while (lx_usage_pg_written(s) < (uint64_t)done && lx_now_us() < deadline)
            event_base_loop(base, EVLOOP_ONCE);
        if (lx_usage_pg_written(s) < (uint64_t)done) {
            fprintf(stderr, "batch not written after 30 s\n");
            return 1;
        }
    }
    printf("%llu\n", (unsigned long long)lx_usage_pg_written(s));
    lx_usage_pg_free(s);
    lx_pg_free(pg);
    event_base_free(base);
    return 0;
}

/* ---- the statement before sql/004 (src/ai/usage_pg.c at that time) ---- */

static const char legacy_sql[] =
    "INSERT INTO ai_usage (record_id, request_id, api_key_id, connection_id, provider, model, "
    "feature, tokens_in, tokens_out, tokens_cached, cost_usd, status, error, ttfb_us, total_us, "
    "created_at) "
    "SELECT r, q, NULLIF(k, 0), NULLIF(c, 0), p, m, f, ti, tout, tc, cost, st, NULLIF(e, ''), "
    "NULLIF(tt, -1), tot, to_timestamp(at / 1000.0) "
    "FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], "
    "$7::text[], $8::bigint[], $9::bigint[], $10::bigint[], $11::numeric[], $12::int[], "
    "$13::text[], $14::bigint[], $15::bigint[], $16::bigint[]) "
    "AS u(r, q, k, c, p, m, f, ti, tout, tc, cost, st, e, tt, tot, at) "
    "ON CONFLICT (record_id) DO NOTHING";

static void arr_str(lx_buf_t *b, const char *v)
{
    lx_buf_append_char(b, b->n > 1 ? ',' : '{');
    lx_buf_append_char(b, '"');
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\')
            lx_buf_append_char(b, '\\');
        lx_buf_append_char(b, *p);
    }
    lx_buf_append_char(b, '"');
}

static void arr_int(lx_buf_t *b, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%lld", (long long)v);
    lx_buf_append_char(b, b->n > 1 ? ',' : '{');
    lx_buf_append(b, tmp, (size_t)n);
}

static void arr_cost(lx_buf_t *b, double usd)
{
    int64_t units = (int64_t)(usd * 1e8 + (usd >= 0 ? 0.5 : -0.5));
    char tmp[40];
    int n = snprintf(tmp, sizeof tmp, "%lld.%08lld", (long long)(units / 100000000),
                     (long long)(units % 100000000));
    lx_buf_append_char(b, b->n > 1 ? ',' : '{');
    lx_buf_append(b, tmp, (size_t)n);
}

static int run_legacy(const char *conninfo, long rows, long batch)
{
    PGconn *conn = PQconnectdb(conninfo);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "%s", PQerrorMessage(conn));
        return 1;
    }
    PGresult *r = PQprepare(conn, "legacy", legacy_sql, 16, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "%s", PQerrorMessage(conn));
        return 1;
    }
    PQclear(r);
    lx_usage_t *recs = lx_calloc((size_t)batch, sizeof *recs);
    long written = 0;
    for (long done = 0; done < rows;) {
        long n = LX_MIN(batch, rows - done);
        lx_buf_t col[16];
        for (int c = 0; c < 16; c++)
            lx_buf_init(&col[c], (size_t)n * 16 + 2);
        for (long i = 0; i < n; i++) {
            lx_usage_t *u = &recs[i];
            make_record(u, done + i);
            arr_str(&col[0], u->record_id);
            arr_str(&col[1], u->request_id);
            arr_int(&col[2], u->api_key_id);
            arr_int(&col[3], u->connection_id);
            arr_str(&col[4], u->provider);
            arr_str(&col[5], u->model);
            arr_str(&col[6], u->feature);
            arr_int(&col[7], u->tokens_in);
            arr_int(&col[8], u->tokens_out);
            arr_int(&col[9], u->tokens_cached);
            arr_cost(&col[10], u->cost_usd);
            arr_int(&col[11], u->status);
            arr_str(&col[12], u->error);
            arr_int(&col[13], u->ttfb_us);
            arr_int(&col[14], u->total_us);
            arr_int(&col[15], u->created_ms);
        }
        const char *params[16];
        for (int c = 0; c < 16; c++) {
            lx_buf_append_char(&col[c], '}');
            params[c] = col[c].p;
        }
        r = PQexecPrepared(conn, "legacy", 16, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            fprintf(stderr, "%s", PQerrorMessage(conn));
            return 1;
        }
        written += atol(PQcmdTuples(r));
        PQclear(r);
        for (int c = 0; c < 16; c++)
            lx_buf_free(&col[c]);
        done += n;
    }
    printf("%ld\n", written);
    free(recs);
    PQfinish(conn);
    return 0;
}

int main(int argc, char **argv)
{
    long rows = 200000, batch = 256;
    bool legacy = false;
    const char *conninfo = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rows") == 0 && i + 1 < argc)
            rows = atol(argv[++i]);
        else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
            batch = atol(argv[++i]);
        else if (strcmp(argv[i], "--legacy") == 0)
            legacy = true;
        else if (argv[i][0] != '-' && conninfo == NULL)
            conninfo = argv[i];
        else {
            conninfo = NULL;
            break;
        }
    }
    /* The sink sends a batch when LX_USAGE_PG_FLUSH_AT records are queued:
     * larger batches would not be one statement each. */
    if (conninfo == NULL || rows <= 0 || batch <= 0 || batch > LX_USAGE_PG_FLUSH_AT) {
        fprintf(stderr, "usage: llmux-usage-rows CONNINFO [--rows N] [--batch 1..%d] [--legacy]\n",
                LX_USAGE_PG_FLUSH_AT);
        return 2;
    }
    rng ^= (uint64_t)lx_now_us();
    lx_log_min_level = LX_LOG_WARN;
    return legacy ? run_legacy(conninfo, rows, batch) : run_sink(conninfo, rows, batch);
}
