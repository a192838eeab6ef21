/* usage.c - usage analytics over ai_usage: totals per group over a time
 * range (summary) and the same per time bucket (timeseries). */
#include "admin/internal.h"
#include "core/clock.h"

#include <stdio.h>
#include <stdlib.h>

#define DAY_MS      (24 * 3600 * INT64_C(1000))
#define MAX_BUCKETS 10000

/* The aggregates every row carries (over the rows of u). */
#define AGG                                                                                        \
    "count(*) AS requests, count(*) FILTER (WHERE u.status >= 400) AS errors, "                    \
    "coalesce(sum(u.tokens_in), 0) AS tokens_in, coalesce(sum(u.tokens_out), 0) AS tokens_out, "   \
    "coalesce(sum(u.tokens_cached), 0) AS tokens_cached, "                                         \
    "coalesce(sum(u.cost_usd), 0) AS cost_usd, "                                                   \
    "round(avg(u.total_us) / 1000.0, 3) AS avg_latency_ms, "                                       \
    "round((percentile_cont(0.5) WITHIN GROUP (ORDER BY u.total_us) / 1000.0)::numeric, 3) "       \
    "AS p50_latency_ms, "                                                                          \
    "round((percentile_cont(0.95) WITHIN GROUP (ORDER BY u.total_us) / 1000.0)::numeric, 3) "      \
    "AS p95_latency_ms, "                                                                          \
    "round(avg(u.ttfb_us) / 1000.0, 3) AS avg_ttfb_ms"

typedef struct {
    const char *name;
    const char *select; /* grouping columns with their JSON names */
    const char *group;  /* GROUP BY list */
    const char *join;
} group_by_t;

static const group_by_t groupings[] = {
    {"key", "u.api_key_id AS api_key_id, k.name AS key_name, k.prefix AS key_prefix, ",
     "u.api_key_id, k.name, k.prefix", "LEFT JOIN api_keys k ON k.id = u.api_key_id"},
    {"model", "u.provider AS provider, u.model AS model, ", "u.provider, u.model", ""},
    {"connection", "u.connection_id AS connection_id, c.name AS connection_name, ",
     "u.connection_id, c.name", "LEFT JOIN ai_connections c ON c.id = u.connection_id"},
    {"provider", "u.provider AS provider, ", "u.provider", ""},
};

typedef struct {
    char from[48], to[48];
    int64_t from_ms, to_ms;
    const group_by_t *g; /* NULL: everything in one group */
} range_t;

static bool parse_range(lx_req_t *req, range_t *r, adm_verr_t *e)
{
    memset(e, 0, sizeof *e);
    char buf[64];
    r->to_ms = lx_wall_ms();
    int from = adm_query_time(req, "from", &r->from_ms, e);
    if (from < 0 || adm_query_time(req, "to", &r->to_ms, e) < 0)
        return false;
    if (!from)
        r->from_ms = r->to_ms - DAY_MS;
    if (r->from_ms >= r->to_ms)
        return adm_verr(e, "from", "'from' must be before 'to'");
    adm_format_rfc3339(r->from_ms, r->from);
    adm_format_rfc3339(r->to_ms, r->to);
    r->g = NULL;
    const char *g = adm_query(req, "group_by", buf, sizeof buf);
    if (g && g[0] && strcmp(g, "none") != 0) {
        for (size_t i = 0; i < LX_ARRAY_LEN(groupings); i++)
            if (strcmp(g, groupings[i].name) == 0)
                r->g = &groupings[i];
        if (r->g == NULL)
            return adm_verr(e, "group_by",
                            "'group_by' must be one of key, model, connection, "
                            "provider");
    }
    return true;
}

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

static int submit_usage(lx_admin_t *a, lx_req_t *req, const range_t *r, const char *sql,
                        const char *bucket)
{
    const char *params[] = {r->from, r->to, r->g ? r->g->name : "", bucket ? bucket : ""};
    adm_op_t *op = adm_op_new(a, req, NULL);
    return adm_submit(op, sql, bucket ? 4 : 3, params, step_usage);
}

int adm_usage_summary(lx_admin_t *a, lx_req_t *req)
{
    range_t r;
    adm_verr_t e;
    if (!parse_range(req, &r, &e)) {
        adm_reply_verr(req, &e);
        return LX_OK;
    }
    lx_buf_t sql;
    lx_buf_init(&sql, 2048);
    lx_buf_printf(&sql,
                  "WITH u AS (SELECT * FROM ai_usage WHERE created_at >= $1::timestamptz AND "
                  "created_at < $2::timestamptz), "
                  "t AS (SELECT " AGG " FROM u), "
                  "g AS (SELECT %s" AGG " FROM u %s %s%s) "
                  "SELECT jsonb_build_object('from', $1::text, 'to', $2::text, 'group_by', "
                  "NULLIF($3::text, ''), 'totals', (SELECT to_jsonb(t) FROM t), 'data', "
                  "(SELECT coalesce(jsonb_agg(to_jsonb(g) ORDER BY g.requests DESC), "
                  "'[]'::jsonb) FROM g))::text",
                  r.g ? r.g->select : "", r.g ? r.g->join : "", r.g ? "GROUP BY " : "",
                  r.g ? r.g->group : "");
    int rc = submit_usage(a, req, &r, sql.p, NULL);
    lx_buf_free(&sql);
    return rc;
}

int adm_usage_timeseries(lx_admin_t *a, lx_req_t *req)
{
    range_t r;
    adm_verr_t e;
    if (!parse_range(req, &r, &e)) {
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
    if ((r.to_ms - r.from_ms) / len_ms > MAX_BUCKETS) {
        adm_verr(&e, "bucket",
                 "too many buckets (more than %d): use a larger bucket or a "
                 "shorter range",
                 MAX_BUCKETS);
        adm_reply_verr(req, &e);
        return LX_OK;
    }
    lx_buf_t sql;
    lx_buf_init(&sql, 2048);
    lx_buf_printf(&sql,
                  "WITH u AS (SELECT * FROM ai_usage WHERE created_at >= $1::timestamptz AND "
                  "created_at < $2::timestamptz), "
                  "g AS (SELECT date_trunc($4::text, u.created_at AT TIME ZONE 'UTC') AS b, %s" AGG
                  " FROM u %s GROUP BY 1%s%s) "
                  "SELECT jsonb_build_object('from', $1::text, 'to', $2::text, 'group_by', "
                  "NULLIF($3::text, ''), 'bucket', $4::text, 'data', "
                  "(SELECT coalesce(jsonb_agg((to_jsonb(g) - 'b') || jsonb_build_object('bucket', "
                  "to_char(g.b, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')) ORDER BY g.b, g.requests DESC), "
                  "'[]'::jsonb) FROM g))::text",
                  r.g ? r.g->select : "", r.g ? r.g->join : "", r.g ? ", " : "",
                  r.g ? r.g->group : "");
    int rc = submit_usage(a, req, &r, sql.p, bucket);
    lx_buf_free(&sql);
    return rc;
}
