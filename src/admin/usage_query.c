/* usage_query.c - what the usage endpoints (usage.c, usage_requests.c)
 * share: their query parameters (range, filters, group_by) read once, and
 * the SQL they turn into. Every value travels as a parameter ($n): only
 * fixed column names and expressions from the tables below are pasted.
 *
 * The small parsers here (timestamps, integers) are the usage endpoints'
 * own; they sit in one place so that they can move to shared helpers. */
#include "admin/internal.h"
#include "core/clock.h"

#include <stdio.h>
#include <stdlib.h>

#define DAY_MS (24 * 3600 * INT64_C(1000))

/* group_by dimensions: the columns each adds to a row, the GROUP BY list,
 * and the join it needs (J_KEY: api_keys k, J_CONN: ai_connections c,
 * J_TEAM: teams tm and J_USER: users us, both through k). A request is
 * counted for the team and user its key belongs to now; a JWT request
 * (sql/013: no key) for the user and team recorded in its row. */
enum { J_KEY = 1, J_CONN = 2, J_TEAM = 4 | J_KEY, J_USER = 8 | J_KEY };

static const adm_usage_dim_t dims[] = {
    {"key", "u.api_key_id AS api_key_id, k.name AS key_name, k.prefix AS key_prefix",
     "u.api_key_id, k.name, k.prefix", J_KEY},
    {"api_key_id", "u.api_key_id AS api_key_id, k.name AS key_name, k.prefix AS key_prefix",
     "u.api_key_id, k.name, k.prefix", J_KEY},
#define TEAM_OF "coalesce(k.team_id, u.team_id)"
#define USER_OF "coalesce(k.user_id, u.user_id)"
    {"team", TEAM_OF " AS team_id, tm.name AS team", TEAM_OF ", tm.name", J_TEAM},
    {"team_id", TEAM_OF " AS team_id, tm.name AS team", TEAM_OF ", tm.name", J_TEAM},
    {"user", USER_OF " AS user_id, us.name AS user_name", USER_OF ", us.name", J_USER},
    {"user_id", USER_OF " AS user_id, us.name AS user_name", USER_OF ", us.name", J_USER},
    {"provider", "u.provider AS provider", "u.provider", 0},
    {"model", "u.provider AS provider, u.model AS model", "u.provider, u.model", 0},
    {"status", "u.status AS status", "u.status", 0},
    {"error_code", "u.error_code AS error_code", "u.error_code", 0},
    {"feature", "u.feature AS feature", "u.feature", 0},
    {"connection", "u.connection_id AS connection_id, c.name AS connection_name",
     "u.connection_id, c.name", J_CONN},
};

#define DIM_NAMES                                                                                  \
    "key (or api_key_id), team (or team_id), user (or user_id), provider, model, status, "         \
    "error_code, feature, connection"

/* A positive integer of at most 18 digits. */
static bool parse_pos(const char *s, int64_t *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 18 || strspn(s, "0123456789") != n)
        return false;
    *out = strtoll(s, NULL, 10);
    return *out > 0;
}

/* "429" (one status) or "4xx" (a class). */
static bool parse_status(const char *s, int *lo, int *hi)
{
    if (strlen(s) != 3 || s[0] < '1' || s[0] > '5')
        return false;
    if ((s[1] == 'x' || s[1] == 'X') && (s[2] == 'x' || s[2] == 'X')) {
        *lo = (s[0] - '0') * 100;
        *hi = *lo + 99;
        return true;
    }
    if (strspn(s, "0123456789") != 3)
        return false;
    *lo = *hi = atoi(s);
    return true;
}

static bool text_param(lx_req_t *req, const char *name, char *buf, size_t cap, adm_verr_t *e,
                       const char **out)
{
    *out = adm_query(req, name, buf, cap);
    if (*out && ((*out)[0] == '\0' || strlen(*out) + 1 >= cap))
        return adm_verr(e, name, "'%s' must be 1 to %zu characters", name, cap - 2);
    return true;
}

static bool parse_group_by(lx_req_t *req, adm_usage_q_t *q, adm_verr_t *e)
{
    char buf[128];
    const char *g = adm_query(req, "group_by", buf, sizeof buf);
    q->ndims = 0;
    if (g == NULL || g[0] == '\0' || strcmp(g, "none") == 0)
        return true;
    snprintf(q->group_by, sizeof q->group_by, "%s", g);
    char *save = NULL;
    for (char *s = strtok_r(buf, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
        const adm_usage_dim_t *d = NULL;
        for (size_t i = 0; i < LX_ARRAY_LEN(dims); i++)
            if (strcmp(s, dims[i].name) == 0)
                d = &dims[i];
        if (d == NULL)
            return adm_verr(e, "group_by",
                            "'group_by' must be one or more (comma-separated) of " DIM_NAMES);
        for (int i = 0; i < q->ndims; i++)
            if (strcmp(q->dims[i]->group, d->group) == 0)
                return adm_verr(e, "group_by", "'group_by' names '%s' twice", s);
        if (q->ndims == ADM_USAGE_MAX_DIMS)
            return adm_verr(e, "group_by", "'group_by' takes at most %d dimensions",
                            ADM_USAGE_MAX_DIMS);
        q->dims[q->ndims++] = d;
    }
    return true;
}

bool adm_usage_q_parse(lx_req_t *req, adm_usage_q_t *q, adm_verr_t *e)
{
    memset(q, 0, sizeof *q);
    memset(e, 0, sizeof *e);
    char buf[64];
    q->to_ms = lx_wall_ms();
    int from = adm_query_time(req, "from", &q->from_ms, e);
    if (from < 0 || adm_query_time(req, "to", &q->to_ms, e) < 0)
        return false;
    if (!from)
        q->from_ms = q->to_ms - DAY_MS;
    if (q->from_ms >= q->to_ms)
        return adm_verr(e, "from", "'from' must be before 'to'");
    adm_format_rfc3339(q->from_ms, q->from);
    adm_format_rfc3339(q->to_ms, q->to);
    const char *v = adm_query(req, "api_key_id", buf, sizeof buf);
    if (v && !parse_pos(v, &q->api_key_id))
        return adm_verr(e, "api_key_id", "'api_key_id' must be a positive integer");
    v = adm_query(req, "team_id", buf, sizeof buf);
    if (v && !parse_pos(v, &q->team_id))
        return adm_verr(e, "team_id", "'team_id' must be a positive integer");
    v = adm_query(req, "user_id", buf, sizeof buf);
    if (v && !parse_pos(v, &q->user_id))
        return adm_verr(e, "user_id", "'user_id' must be a positive integer");
    v = adm_query(req, "status", buf, sizeof buf);
    if (v && !parse_status(v, &q->status_lo, &q->status_hi))
        return adm_verr(e, "status", "'status' must be an HTTP status (429) or a class (4xx)");
    const char *t;
    if (!text_param(req, "team", q->team, sizeof q->team, e, &t) ||
        !text_param(req, "user", q->user, sizeof q->user, e, &t) ||
        !text_param(req, "provider", q->provider, sizeof q->provider, e, &t) ||
        !text_param(req, "model", q->model, sizeof q->model, e, &t) ||
        !text_param(req, "feature", q->feature, sizeof q->feature, e, &t) ||
        !text_param(req, "error_code", q->error_code, sizeof q->error_code, e, &t))
        return false;
    return parse_group_by(req, q, e);
}

static const char *push(adm_usage_q_t *q, const char *v)
{
    q->params[q->np++] = v;
    snprintf(q->ref, sizeof q->ref, "$%d", q->np);
    return q->ref;
}

void adm_usage_q_begin(adm_usage_q_t *q, bool with_group_by)
{
    q->np = 0;
    push(q, q->from);
    push(q, q->to);
    if (with_group_by)
        push(q, q->group_by);
}

void adm_usage_q_where(adm_usage_q_t *q, lx_buf_t *sql)
{
    lx_buf_append_lit(sql,
                      " AND u.created_at >= $1::timestamptz AND u.created_at < $2::timestamptz");
    if (q->api_key_id) {
        snprintf(q->num[0], sizeof q->num[0], "%lld", (long long)q->api_key_id);
        lx_buf_printf(sql, " AND u.api_key_id = %s::bigint", push(q, q->num[0]));
    }
    if (q->team[0])
        lx_buf_printf(sql,
                      " AND (u.api_key_id IN (SELECT fk.id FROM api_keys fk JOIN teams ft ON ft.id "
                      "= fk.team_id WHERE ft.name = %s::text) OR u.team_id IN (SELECT id FROM "
                      "teams WHERE name = %s::text))",
                      push(q, q->team), q->ref);
    if (q->team_id) {
        snprintf(q->num[3], sizeof q->num[3], "%lld", (long long)q->team_id);
        lx_buf_printf(sql,
                      " AND (u.api_key_id IN (SELECT id FROM api_keys WHERE team_id = %s::bigint) "
                      "OR u.team_id = %s::bigint)",
                      push(q, q->num[3]), q->ref);
    }
    if (q->user[0])
        lx_buf_printf(sql,
                      " AND (u.api_key_id IN (SELECT fk.id FROM api_keys fk JOIN users fu ON fu.id "
                      "= fk.user_id WHERE fu.name = %s::text) OR u.user_id IN (SELECT id FROM "
                      "users WHERE name = %s::text))",
                      push(q, q->user), q->ref);
    if (q->user_id) {
        snprintf(q->num[4], sizeof q->num[4], "%lld", (long long)q->user_id);
        lx_buf_printf(sql,
                      " AND (u.api_key_id IN (SELECT id FROM api_keys WHERE user_id = %s::bigint) "
                      "OR u.user_id = %s::bigint)",
                      push(q, q->num[4]), q->ref);
    }
    if (q->provider[0])
        lx_buf_printf(sql, " AND u.provider = %s::text", push(q, q->provider));
    if (q->model[0]) { /* the upstream name, or provider/upstream name */
        const char *r = push(q, q->model);
        lx_buf_printf(sql, " AND (u.model = %s::text OR u.provider || '/' || u.model = %s::text)",
                      r, r);
    }
    if (q->status_lo) {
        snprintf(q->num[1], sizeof q->num[1], "%d", q->status_lo);
        snprintf(q->num[2], sizeof q->num[2], "%d", q->status_hi);
        lx_buf_printf(sql, " AND u.status >= %s::int", push(q, q->num[1]));
        lx_buf_printf(sql, " AND u.status <= %s::int", push(q, q->num[2]));
    }
    if (q->feature[0])
        lx_buf_printf(sql, " AND u.feature = %s::text", push(q, q->feature));
    if (q->error_code[0])
        lx_buf_printf(sql, " AND u.error_code = %s::text", push(q, q->error_code));
}

void adm_usage_q_select(const adm_usage_q_t *q, lx_buf_t *sql)
{
    for (int i = 0; i < q->ndims; i++)
        lx_buf_printf(sql, "%s, ", q->dims[i]->select);
}

void adm_usage_q_joins(const adm_usage_q_t *q, lx_buf_t *sql)
{
    unsigned j = 0;
    for (int i = 0; i < q->ndims; i++)
        j |= q->dims[i]->join;
    if (j & J_KEY)
        lx_buf_append_lit(sql, " LEFT JOIN api_keys k ON k.id = u.api_key_id");
    if ((j & J_TEAM) == J_TEAM)
        lx_buf_append_lit(sql, " LEFT JOIN teams tm ON tm.id = " TEAM_OF);
    if ((j & J_USER) == J_USER)
        lx_buf_append_lit(sql, " LEFT JOIN users us ON us.id = " USER_OF);
    if (j & J_CONN)
        lx_buf_append_lit(sql, " LEFT JOIN ai_connections c ON c.id = u.connection_id");
}

void adm_usage_q_group(const adm_usage_q_t *q, lx_buf_t *sql, bool leading_comma)
{
    for (int i = 0; i < q->ndims; i++)
        lx_buf_printf(sql, "%s%s", i || leading_comma ? ", " : " GROUP BY ", q->dims[i]->group);
}

bool adm_usage_q_parse_as(const lx_admin_t *a, lx_req_t *req, adm_usage_q_t *q, adm_verr_t *e)
{
    if (!adm_usage_q_parse(req, q, e))
        return false;
    int64_t team = adm_scope_team(a);
    if (team == 0)
        return true;
    /* a team_admin reads its own team's usage only */
    if ((q->team_id && q->team_id != team) || (q->team[0] && strcmp(q->team, a->who->team))) {
        adm_verr(e, q->team[0] ? "team" : "team_id",
                 "role 'team_admin' may only read its own team's usage");
        e->status = 403;
        e->err = LX_E_FORBIDDEN;
        return false;
    }
    q->team_id = team;
    return true;
}
