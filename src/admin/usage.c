/* usage.c - usage analytics over ai_usage: totals per group over a time
 * range (summary) and the same per time bucket (timeseries), both over the
 * rows that pass the filters (usage_query.c). */
#include "admin/internal.h"
#include "core/clock.h"

#include <stdio.h>
#include <stdlib.h>

#define DAY_MS      (24 * 3600 * INT64_C(1000))
#define MAX_BUCKETS 10000

/* The aggregates every row carries (over the rows of u). The percentiles
 * of each measure come from one ordered-set aggregate over an array of
 * fractions (one sort per group; Postgres computes identical aggregate
 * calls once). */
#define PCT(col, i, name)                                                                          \
    "round(((percentile_cont(ARRAY[0.5, 0.9, 0.95, 0.99]) WITHIN GROUP (ORDER BY u." col "))[" #i  \
    "] / 1000.0)::numeric, 3) AS " name
#define LAT_PCT                                                                                    \
    PCT("total_us", 1, "p50_latency_ms, ")                                                         \
    PCT("total_us", 2, "p90_latency_ms, ")                                                         \
    PCT("total_us", 3, "p95_latency_ms, ")                                                         \
    PCT("total_us", 4, "p99_latency_ms, ")
#define TTFB_PCT                                                                                   \
    PCT("ttfb_us", 1, "p50_ttfb_ms, ")                                                             \
    PCT("ttfb_us", 2, "p90_ttfb_ms, ")                                                             \
    PCT("ttfb_us", 4, "p99_ttfb_ms")
#define AGG                                                                                        \
    "count(*) AS requests, "                                                                       \
    "count(*) FILTER (WHERE u.status >= 400 OR u.error_code IS NOT NULL) AS errors, "              \
    "coalesce(sum(u.tokens_in), 0) AS tokens_in, coalesce(sum(u.tokens_out), 0) AS tokens_out, "   \
    "coalesce(sum(u.tokens_cached), 0) AS tokens_cached, "                                         \
    "coalesce(sum(u.cost_usd), 0) AS cost_usd, "                                                   \
    "round(avg(u.total_us) / 1000.0, 3) AS avg_latency_ms, " LAT_PCT                               \
    "round(avg(u.ttfb_us) / 1000.0, 3) AS avg_ttfb_ms, " TTFB_PCT

static void step_usage(adm_op_t *op, const lx_pg_result_t *res)
{
    if (!lx_pg_ok(res)) {
        adm_db_error(op, res);
        return;
    }
    json_t *out = adm_row_json(res, 0, 0);
    if (!json_is_object(out)) {
        json_decref(out);
        adm_error(op, 500, LX_E_INTERNAL, "unreadable usage rows", NULL);
        return;
    }
    adm_reply_json(op, 200, out);
}

static int submit_usage(lx_admin_t *a, lx_req_t *req, const adm_usage_q_t *q, const char *sql)
{
    adm_op_t *op = adm_op_new(a, req, NULL);
    return adm_submit(op, sql, q->np, q->params, step_usage);
}

/* The rows of the range that pass the filters, as the CTE u. */
static void filtered(adm_usage_q_t *q, lx_buf_t *sql)
{
    lx_buf_append_lit(sql, "WITH u AS (SELECT u.* FROM ai_usage u WHERE true");
    adm_usage_q_where(q, sql);
    lx_buf_append_lit(sql, ")");
}

int adm_usage_summary(lx_admin_t *a, lx_req_t *req)
{
    adm_usage_q_t q;
    adm_verr_t e;
    if (!adm_usage_q_parse_as(a, req, &q, &e)) {
        adm_reply_verr(req, &e);
        return LX_OK;
    }
    adm_usage_q_begin(&q, true);
    lx_buf_t sql;
    lx_buf_init(&sql, 2048);
    filtered(&q, &sql);
    lx_buf_append_lit(&sql, ", t AS (SELECT " AGG " FROM u), g AS (SELECT ");
    adm_usage_q_select(&q, &sql);
    lx_buf_append_lit(&sql, AGG " FROM u");
    adm_usage_q_joins(&q, &sql);
    adm_usage_q_group(&q, &sql, false);
    lx_buf_append_lit(&sql, ") SELECT jsonb_build_object('from', $1::text, 'to', $2::text, "
                            "'group_by', NULLIF($3::text, ''), 'totals', (SELECT to_jsonb(t) "
                            "FROM t), 'data', (SELECT coalesce(jsonb_agg(to_jsonb(g) ORDER BY "
                            "g.requests DESC), '[]'::jsonb) FROM g))::text");
    int rc = submit_usage(a, req, &q, sql.p);
    lx_buf_free(&sql);
    return rc;
}

int adm_usage_timeseries(lx_admin_t *a, lx_req_t *req)
{
    adm_usage_q_t q;
    adm_verr_t e;
    if (!adm_usage_q_parse_as(a, req, &q, &e)) {
        adm_reply_verr(req, &e);
        return LX_OK;
    }
    char buf[32];
    const char *bucket = adm_query(req, "bucket", buf, sizeof buf);
    if (bucket == NULL)
        bucket = "hour";
    int64_t len_ms = strcmp(bucket, "minute") == 0 ? 60000
                     : strcmp(bucket, "hour") == 0 ? 3600000
                     : strcmp(bucket, "day") == 0  ? DAY_MS
                                                   : 0;
    if (len_ms == 0) {
        adm_verr(&e, "bucket", "'bucket' must be one of minute, hour, day");
        adm_reply_verr(req, &e);
        return LX_OK;
    }
    if ((q.to_ms - q.from_ms) / len_ms > MAX_BUCKETS) {
        adm_verr(&e, "bucket",
                 "too many buckets (more than %d): use a larger bucket or a "
                 "shorter range",
                 MAX_BUCKETS);
        adm_reply_verr(req, &e);
        return LX_OK;
    }
    adm_usage_q_begin(&q, true);
    q.params[q.np++] = bucket; /* $4 */
    lx_buf_t sql;
    lx_buf_init(&sql, 2048);
    filtered(&q, &sql);
    lx_buf_append_lit(
        &sql, ", g AS (SELECT date_trunc($4::text, u.created_at AT TIME ZONE 'UTC') AS b, ");
    adm_usage_q_select(&q, &sql);
    lx_buf_append_lit(&sql, AGG " FROM u");
    adm_usage_q_joins(&q, &sql);
    lx_buf_append_lit(&sql, " GROUP BY 1");
    adm_usage_q_group(&q, &sql, true);
    lx_buf_append_lit(
        &sql, ") SELECT jsonb_build_object('from', $1::text, 'to', $2::text, 'group_by', "
              "NULLIF($3::text, ''), 'bucket', $4::text, 'data', "
              "(SELECT coalesce(jsonb_agg((to_jsonb(g) - 'b') || jsonb_build_object('bucket', "
              "to_char(g.b, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')) ORDER BY g.b, g.requests DESC), "
              "'[]'::jsonb) FROM g))::text");
    int rc = submit_usage(a, req, &q, sql.p);
    lx_buf_free(&sql);
    return rc;
}
