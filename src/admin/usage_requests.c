/* usage_requests.c - GET usage/requests: the per-request log (ai_usage),
 * newest first, filtered like the summary (usage_query.c), a page at a
 * time. Pages are cut by keyset on (created_at, request_id), carried in an
 * opaque cursor: rows written while a client pages through come before its
 * cursor or after it, so a page never repeats or skips a row it would have
 * shown (a request's row is written when it ends: one that ends later with
 * an earlier created_at than the cursor shows up on a later page). */
#include "admin/internal.h"
#include "core/id.h"

#include <stdio.h>
#include <stdlib.h>

#define CURSOR_TEXT_MAX 200 /* "<timestamp>|<request id>" */

void adm_cursor_encode(const char *text, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[CURSOR_TEXT_MAX + 8];
    int n = snprintf(tmp, sizeof tmp, "v1|%s", text);
    size_t k = 0;
    for (int i = 0; i < n && k + 2 < cap; i++) {
        out[k++] = hex[(unsigned char)tmp[i] >> 4];
        out[k++] = hex[(unsigned char)tmp[i] & 15];
    }
    out[k] = '\0';
}

static int hexdigit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

bool adm_cursor_decode(const char *cursor, char *out, size_t cap)
{
    size_t n = strlen(cursor);
    if (n % 2 || n / 2 < 3 || n / 2 >= cap)
        return false;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexdigit(cursor[2 * i]), lo = hexdigit(cursor[2 * i + 1]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
            return false;
        out[i] = (char)(hi * 16 + lo);
    }
    out[n / 2] = '\0';
    if (strncmp(out, "v1|", 3) != 0)
        return false;
    memmove(out, out + 3, n / 2 - 2);
    return true;
}

void adm_page_reply(adm_op_t *op, const lx_pg_result_t *res)
{
    if (!lx_pg_ok(res)) {
        adm_db_error(op, res);
        return;
    }
    json_t *out = adm_row_json(res, 0, 0);
    json_t *data = json_object_get(out, "data");
    if (!json_is_array(data)) {
        json_decref(out);
        adm_error(op, 500, LX_E_INTERNAL, "unreadable rows", NULL);
        return;
    }
    bool more = (int64_t)json_array_size(data) > op->limit;
    if (more)
        json_array_remove(data, json_array_size(data) - 1);
    char cursor[2 * (CURSOR_TEXT_MAX + 8) + 1] = "";
    size_t i;
    json_t *row;
    json_array_foreach(data, i, row)
    {
        const char *pos = json_string_value(json_object_get(row, "_pos"));
        if (more && i + 1 == json_array_size(data) && pos)
            adm_cursor_encode(pos, cursor, sizeof cursor);
        json_object_del(row, "_pos");
    }
    json_object_set_new(out, "next_cursor", cursor[0] ? json_string(cursor) : json_null());
    adm_reply_json(op, 200, out);
}

bool adm_page_params(lx_req_t *req, int64_t *limit, char *pos, size_t cap, adm_verr_t *e)
{
    char buf[2 * (CURSOR_TEXT_MAX + 8) + 8];
    const char *v = adm_query(req, "limit", buf, sizeof buf);
    *limit = 50;
    if (v) {
        size_t n = strlen(v);
        if (n == 0 || n > 4 || strspn(v, "0123456789") != n || atoi(v) < 1 || atoi(v) > 500)
            return adm_verr(e, "limit", "'limit' must be an integer from 1 to 500");
        *limit = atoi(v);
    }
    pos[0] = '\0';
    v = adm_query(req, "cursor", buf, sizeof buf);
    if (v && !adm_cursor_decode(v, pos, cap))
        return adm_verr(e, "cursor", "'cursor' is not a cursor this list returned");
    return true;
}

int adm_usage_requests(lx_admin_t *a, lx_req_t *req)
{
    adm_usage_q_t q;
    adm_verr_t e;
    int64_t limit;
    char pos[CURSOR_TEXT_MAX + 8];
    if (!adm_usage_q_parse_as(a, req, &q, &e) ||
        !adm_page_params(req, &limit, pos, sizeof pos, &e)) {
        adm_reply_verr(req, &e);
        return LX_OK;
    }
    if (q.ndims) {
        adm_verr(&e, "group_by", "'group_by' is for usage/summary and usage/timeseries");
        adm_reply_verr(req, &e);
        return LX_OK;
    }
    char *bar = strchr(pos, '|');
    if (pos[0] && (bar == NULL || bar - pos > 40)) {
        adm_verr(&e, "cursor", "'cursor' is not a cursor this list returned");
        adm_reply_verr(req, &e);
        return LX_OK;
    }
    adm_usage_q_begin(&q, false);
    char lim[24];
    snprintf(lim, sizeof lim, "%lld", (long long)limit + 1);
    q.params[q.np++] = lim; /* $3 */
    lx_buf_t sql;
    lx_buf_init(&sql, 2048);
    /* a key's team and user, or a JWT request's own (sql/013) */
    lx_buf_append_lit(&sql, "WITH r AS (SELECT u.*, k.name AS key_name, coalesce(k.team_id, "
                            "u.team_id) AS team_of, tm.name AS team, coalesce(k.user_id, "
                            "u.user_id) AS user_of, us.name AS user_name FROM "
                            "ai_usage u LEFT JOIN api_keys k ON k.id = u.api_key_id LEFT JOIN "
                            "teams tm ON tm.id = coalesce(k.team_id, u.team_id) LEFT JOIN users "
                            "us ON us.id = coalesce(k.user_id, u.user_id) WHERE true");
    adm_usage_q_where(&q, &sql);
    if (pos[0]) {
        *bar = '\0';
        q.params[q.np++] = pos;
        q.params[q.np++] = bar + 1;
        lx_buf_printf(&sql,
                      " AND u.created_at <= $%d::timestamptz AND (u.created_at, u.request_id) < "
                      "($%d::timestamptz, $%d::text)",
                      q.np - 1, q.np - 1, q.np);
    }
    lx_buf_append_lit(
        &sql,
        " ORDER BY u.created_at DESC, u.request_id DESC LIMIT $3::bigint) "
        "SELECT jsonb_build_object('from', $1::text, 'to', $2::text, 'data', "
        "(SELECT coalesce(jsonb_agg(jsonb_build_object("
        "'request_id', r.request_id, "
        "'created_at', to_char(r.created_at AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
        "'api_key_id', r.api_key_id, 'key_name', r.key_name, 'team', r.team, "
        "'team_id', r.team_of, 'user_id', r.user_of, 'user_name', r.user_name, "
        "'connection_id', r.connection_id, 'provider', r.provider, 'model', r.model, "
        "'feature', r.feature, 'status', r.status, 'error_code', r.error_code, "
        "'error', r.error, 'tokens_in', r.tokens_in, 'tokens_out', r.tokens_out, "
        "'tokens_cached', r.tokens_cached, 'cost_usd', r.cost_usd, "
        "'ttfb_ms', round(r.ttfb_us / 1000.0, 3), 'latency_ms', round(r.total_us / 1000.0, 3), "
        "'_pos', to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') "
        "|| '|' || r.request_id) ORDER BY r.created_at DESC, r.request_id DESC), "
        "'[]'::jsonb) FROM r))::text");
    adm_op_t *op = adm_op_new(a, req, NULL);
    op->limit = limit;
    int rc = adm_submit(op, sql.p, q.np, q.params, adm_page_reply);
    lx_buf_free(&sql);
    return rc;
}

/* ---- one request ---- */

static void request_reply(adm_op_t *op, const lx_pg_result_t *res)
{
    if (!lx_pg_ok(res)) {
        adm_db_error(op, res);
        return;
    }
    if (lx_pg_ntuples(res) == 0) {
        adm_error(op, 404, LX_E_NOT_FOUND,
                  "no request with that id in the time range (from, to: the last 7 days unless "
                  "given)",
                  "request_id");
        return;
    }
    json_t *out = adm_row_json(res, 0, 0);
    if (!json_is_object(out)) {
        json_decref(out);
        adm_error(op, 500, LX_E_INTERNAL, "unreadable row", NULL);
        return;
    }
    adm_reply_json(op, 200, out);
}

int adm_usage_request(lx_admin_t *a, lx_req_t *req)
{
    lx_str_t path = lx_req_path(req);
    while (path.n > 0 && path.p[path.n - 1] == '/')
        path.n--;
    size_t start = path.n;
    while (start > 0 && path.p[start - 1] != '/')
        start--;
    char rid[LX_REQUEST_ID_MAX + 1];
    lx_copy(rid, sizeof rid, path.p + start, path.n - start);
    adm_usage_q_t q;
    adm_verr_t e;
    char buf[8];
    bool has_from = adm_query(req, "from", buf, sizeof buf) != NULL;
    if (!adm_usage_q_parse_as(a, req, &q, &e)) {
        adm_reply_verr(req, &e);
        return LX_OK;
    }
    if (!has_from) { /* a request's detail is looked for over a week */
        q.from_ms = q.to_ms - 7 * 24 * 3600 * INT64_C(1000);
        adm_format_rfc3339(q.from_ms, q.from);
    }
    adm_usage_q_begin(&q, false);
    q.params[q.np++] = rid; /* $3 */
    lx_buf_t sql;
    lx_buf_init(&sql, 2048);
    lx_buf_append_lit(&sql, "WITH r AS (SELECT u.*, k.name AS key_name, coalesce(k.team_id, "
                            "u.team_id) AS team_of, tm.name AS team, c.name AS connection_name "
                            "FROM ai_usage u LEFT JOIN api_keys k ON k.id = u.api_key_id LEFT JOIN "
                            "teams tm ON tm.id = coalesce(k.team_id, u.team_id) LEFT JOIN "
                            "ai_connections c ON c.id = u.connection_id WHERE u.request_id = "
                            "$3::text");
    adm_usage_q_where(&q, &sql);
    lx_buf_append_lit(
        &sql, " ORDER BY u.created_at DESC LIMIT 1) "
              "SELECT jsonb_build_object("
              "'request_id', r.request_id, "
              "'created_at', to_char(r.created_at AT TIME ZONE 'UTC', "
              "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
              "'api_key_id', r.api_key_id, 'key_name', r.key_name, 'team', r.team, "
              "'team_id', r.team_of, 'connection_id', r.connection_id, "
              "'connection_name', r.connection_name, 'provider', r.provider, 'model', r.model, "
              "'requested_model', r.requested_model, "
              "'feature', r.feature, 'status', r.status, 'error_code', r.error_code, "
              "'error', r.error, 'tokens_in', r.tokens_in, 'tokens_out', r.tokens_out, "
              "'tokens_cached', r.tokens_cached, 'cost_usd', r.cost_usd, "
              "'ttfb_us', r.ttfb_us, 'ttfc_us', r.ttfc_us, 'overhead_us', r.overhead_us, "
              "'total_us', r.total_us, "
              "'attempts', coalesce(r.attempts::jsonb, '[]'::jsonb))::text FROM r");
    adm_op_t *op = adm_op_new(a, req, NULL);
    int rc = adm_submit(op, sql.p, q.np, q.params, request_reply);
    lx_buf_free(&sql);
    return rc;
}
