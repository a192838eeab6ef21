/* store.c - submit, get, list and cancel: one statement each on the
 * calling worker's Postgres connection; the callback runs on its loop
 * with the task object parsed from the statement's JSON text. */
#include "core/crypto.h"
#include "core/json.h"
#include "db/pg.h"
#include "task/internal.h"

#include <stdio.h>
#include <stdlib.h>

typedef enum { Q_ONE, Q_LIST, Q_CANCEL } qkind_t;

typedef struct {
    lx_task_cb cb;
    void *arg;
    qkind_t kind;
    int limit;
} qctx_t;

void lx_task_who_params(const lx_task_caller_t *who, char admin[24], char key[24], char user[24])
{
    snprintf(admin, 24, "%s", who->admin ? "t" : "f");
    snprintf(key, 24, "%lld", (long long)who->key_id);
    snprintf(user, 24, "%lld", (long long)who->user_id);
}

static json_t *parse(const char *text)
{
    char err[128];
    return lx_json_parse(text, strlen(text), 64, err, sizeof err);
}

static void done_cb(const lx_pg_result_t *res, void *arg)
{
    qctx_t *q = arg;
    json_t *out = NULL;
    lx_err_t err = LX_E_NONE;
    if (!lx_pg_ok(res)) {
        err = LX_E_UNAVAILABLE;
    } else if (q->kind == Q_LIST) {
        json_t *data = json_array();
        int n = lx_pg_ntuples(res);
        bool more = n > q->limit;
        for (int i = 0; i < n && i < q->limit; i++) {
            json_t *t = parse(lx_pg_value(res, i, 0));
            if (t)
                json_array_append_new(data, t);
        }
        json_t *last = json_array_size(data)
                           ? json_incref(json_object_get(
                                 json_array_get(data, json_array_size(data) - 1), "id"))
                           : json_null();
        out = json_pack("{s:s, s:o, s:b, s:o}", "object", "list", "data", data, "has_more", more,
                        "last_id", last);
    } else if (lx_pg_ntuples(res) == 0) {
        err = LX_E_NOT_FOUND;
    } else if (q->kind == Q_CANCEL) {
        out = parse(lx_pg_value(res, 0, 1));
        if (strcmp(lx_pg_value(res, 0, 0), "1") != 0)
            err = LX_E_CONFLICT; /* already finished: the object as it is */
    } else {
        out = parse(lx_pg_value(res, 0, 0));
    }
    if (out == NULL && err == LX_E_NONE)
        err = LX_E_INTERNAL;
    q->cb(out, err, q->arg);
    free(q);
}

static int run(lx_pg_t *pg, const char *sql, int n, const char *const *p, qkind_t kind, int limit,
               lx_task_cb cb, void *arg)
{
    qctx_t *q = calloc(1, sizeof *q);
    if (q == NULL)
        return LX_ERROR;
    *q = (qctx_t){cb, arg, kind, limit};
    if (lx_pg_query(pg, sql, n, p, 0, done_cb, q) != LX_OK) {
        free(q);
        return LX_ERROR;
    }
    return LX_OK;
}

static void hex_id(char *out, const char *prefix, size_t nbytes)
{
    unsigned char b[16];
    lx_random_bytes(b, nbytes);
    size_t k = (size_t)sprintf(out, "%s", prefix);
    for (size_t i = 0; i < nbytes; i++)
        k += (size_t)sprintf(out + k, "%02x", b[i]);
}

static const char SUBMIT_SQL[] =
    "INSERT INTO ai_tasks (public_id, type, priority, input, provider, credential_id, "
    "idempotency_key, api_key_id, user_id, team_id, deadline_at, callback_url) "
    "VALUES ($1, $2, $3::int, $4::jsonb, $5, $6, $7, nullif($8::bigint, 0), "
    "nullif($9::bigint, 0), nullif($10::bigint, 0), "
    "now() + $11::int * interval '1 millisecond', $12) RETURNING " TASK_JSON;

int lx_task_submit(lx_pg_t *pg, const lx_task_conf_t *conf, const lx_task_new_t *t,
                   char id_out[LX_TASK_ID_MAX], lx_task_cb cb, void *arg)
{
    if (pg == NULL || t->type == NULL || lx_task_executor(t->type) == NULL)
        return LX_ERROR;
    char pub[LX_TASK_ID_MAX], idem[48], prio[16], key[24], user[24], team[24], age[16];
    hex_id(pub, "task_", 12);
    hex_id(idem, "llmux-", 16);
    snprintf(prio, sizeof prio, "%d", t->priority);
    snprintf(key, sizeof key, "%lld", (long long)t->owner.key_id);
    snprintf(user, sizeof user, "%lld", (long long)t->owner.user_id);
    snprintf(team, sizeof team, "%lld", (long long)t->owner.team_id);
    snprintf(age, sizeof age, "%d", t->max_age_ms > 0 ? t->max_age_ms : conf->max_age_ms);
    char *input = t->input ? json_dumps(t->input, JSON_COMPACT) : NULL;
    const char *p[12] = {pub,         t->type ? t->type : "",
                         prio,        input ? input : "{}",
                         t->provider, t->credential_id,
                         idem,        key,
                         user,        team,
                         age,         t->callback_url};
    int rc = run(pg, SUBMIT_SQL, 12, p, Q_ONE, 0, cb, arg);
    free(input);
    if (rc == LX_OK)
        memcpy(id_out, pub, sizeof pub);
    return rc;
}

int lx_task_get(lx_pg_t *pg, const char *public_id, const lx_task_caller_t *who, lx_task_cb cb,
                void *arg)
{
    char a[24], k[24], u[24];
    lx_task_who_params(who, a, k, u);
    const char *p[4] = {public_id, a, k, u};
    return run(
        pg, "SELECT " TASK_JSON " FROM ai_tasks WHERE public_id = $1 AND " TASK_WHO("2", "3", "4"),
        4, p, Q_ONE, 0, cb, arg);
}

int lx_task_list(lx_pg_t *pg, const lx_task_caller_t *who, const char *status, const char *type,
                 const char *after_id, int limit, lx_task_cb cb, void *arg)
{
    char a[24], k[24], u[24], lim[16];
    lx_task_who_params(who, a, k, u);
    limit = limit < 1 ? 20 : limit > 100 ? 100 : limit;
    snprintf(lim, sizeof lim, "%d", limit + 1);
    const char *p[7] = {a, k, u, status, type, after_id ? after_id : "", lim};
    return run(pg,
               "SELECT " TASK_JSON " FROM ai_tasks WHERE " TASK_WHO(
                   "1", "2",
                   "3") " AND ($4::text IS NULL OR status = $4) AND ($5::text IS NULL OR type = $5)"
                        " AND ($6 = '' OR id < (SELECT id FROM ai_tasks WHERE public_id = $6))"
                        " ORDER BY id DESC LIMIT $7::int",
               7, p, Q_LIST, limit, cb, arg);
}

/* Column 0: 1 when this statement cancelled it, 0 when it had finished. */
static const char CANCEL_SQL[] =
    "WITH c AS (UPDATE ai_tasks SET status = 'cancelled', "
    "cancel_pending = status IN ('submitting', 'running'), finished_at = now(), "
    "updated_at = now() WHERE public_id = $1 AND " TASK_WHO(
        "2", "3", "4") " AND status IN ('queued', 'submitting', 'running') RETURNING *) "
                       "SELECT 1, " TASK_JSON " FROM c UNION ALL "
                       "SELECT 0, " TASK_JSON " FROM ai_tasks WHERE public_id = $1 AND " TASK_WHO(
                           "2", "3", "4") " AND NOT EXISTS (SELECT 1 FROM c)";

int lx_task_cancel(lx_pg_t *pg, const char *public_id, const lx_task_caller_t *who, lx_task_cb cb,
                   void *arg)
{
    char a[24], k[24], u[24];
    lx_task_who_params(who, a, k, u);
    const char *p[4] = {public_id, a, k, u};
    return run(pg, CANCEL_SQL, 4, p, Q_CANCEL, 0, cb, arg);
}
