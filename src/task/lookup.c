/* lookup.c - a task with the fields the public object leaves out (task.h,
 * lx_task_get_full, lx_task_list_full), for modules that serve their own
 * view of a task (media's OpenAI video objects and content). One
 * statement on the caller's connection; the callback runs on its loop. */
#include "core/json.h"
#include "db/pg.h"
#include "task/internal.h"

#include <stdio.h>
#include <stdlib.h>

#define FULL_JSON                                                                                  \
    "(" TASK_JSON "::jsonb || jsonb_build_object('input', input, 'provider', provider, "           \
    "'credential_id', credential_id, 'external_id', external_id, 'api_key_id', api_key_id, "       \
    "'created_unix', extract(epoch from created_at)::bigint, 'finished_unix', "                    \
    "extract(epoch from finished_at)::bigint))::text"

typedef struct {
    lx_task_cb cb;
    void *arg;
    bool list;
    int limit;
} lctx_t;

static json_t *parse(const char *text)
{
    char err[128];
    return lx_json_parse(text, strlen(text), 64, err, sizeof err);
}

static void done_cb(const lx_pg_result_t *res, void *arg)
{
    lctx_t *q = arg;
    json_t *out = NULL;
    lx_err_t err = LX_E_NONE;
    if (!lx_pg_ok(res)) {
        err = LX_E_UNAVAILABLE;
    } else if (q->list) {
        json_t *data = json_array();
        int n = lx_pg_ntuples(res);
        for (int i = 0; i < n && i < q->limit; i++) {
            json_t *t = parse(lx_pg_value(res, i, 0));
            if (t)
                json_array_append_new(data, t);
        }
        out = json_pack("{s:o, s:b}", "data", data, "has_more", n > q->limit);
    } else if (lx_pg_ntuples(res) == 0) {
        err = LX_E_NOT_FOUND;
    } else {
        out = parse(lx_pg_value(res, 0, 0));
        if (out == NULL)
            err = LX_E_INTERNAL;
    }
    q->cb(out, err, q->arg);
    free(q);
}

static int run(lx_pg_t *pg, const char *sql, int n, const char *const *p, bool list, int limit,
               lx_task_cb cb, void *arg)
{
    lctx_t *q = calloc(1, sizeof *q);
    if (q == NULL)
        return LX_ERROR;
    *q = (lctx_t){cb, arg, list, limit};
    if (lx_pg_query(pg, sql, n, p, 0, done_cb, q) != LX_OK) {
        free(q);
        return LX_ERROR;
    }
    return LX_OK;
}

int lx_task_get_full(lx_pg_t *pg, const char *public_id, const lx_task_caller_t *who, lx_task_cb cb,
                     void *arg)
{
    char a[24], k[24], u[24];
    lx_task_who_params(who, a, k, u);
    const char *p[4] = {public_id, a, k, u};
    return run(
        pg, "SELECT " FULL_JSON " FROM ai_tasks WHERE public_id = $1 AND " TASK_WHO("2", "3", "4"),
        4, p, false, 0, cb, arg);
}

int lx_task_list_full(lx_pg_t *pg, const lx_task_caller_t *who, const char *type,
                      const char *after_id, bool ascending, int limit, lx_task_cb cb, void *arg)
{
    char a[24], k[24], u[24], lim[16];
    lx_task_who_params(who, a, k, u);
    limit = limit < 1 ? 20 : limit > 100 ? 100 : limit;
    snprintf(lim, sizeof lim, "%d", limit + 1);
    const char *p[6] = {a, k, u, type, after_id ? after_id : "", lim};
    return run(pg,
               ascending ? "SELECT " FULL_JSON " FROM ai_tasks WHERE " TASK_WHO(
                               "1", "2", "3") " AND type = $4 AND ($5 = '' OR id > (SELECT id "
                                              "FROM ai_tasks WHERE public_id = $5)) ORDER BY id "
                                              "LIMIT $6::int"
                         : "SELECT " FULL_JSON " FROM ai_tasks WHERE " TASK_WHO(
                               "1", "2", "3") " AND type = $4 AND ($5 = '' OR id < (SELECT id "
                                              "FROM ai_tasks WHERE public_id = $5)) ORDER BY id "
                                              "DESC LIMIT $6::int",
               6, p, true, limit, cb, arg);
}
