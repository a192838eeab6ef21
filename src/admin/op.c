/* op.c - the pending admin operation: one context per request that waits
 * on Postgres (or an upstream call), safe against the client leaving. */
#include "admin/internal.h"
#include "core/log.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>

adm_op_t *adm_op_new(lx_admin_t *admin, lx_req_t *req, const adm_entity_t *ent)
{
    adm_op_t *op = lx_calloc(1, sizeof *op);
    op->admin = admin;
    op->req = req;
    op->ent = ent;
    op->ok_status = 200;
    if (admin->who)
        op->who = *admin->who;
    else
        lx_copy_cstr(op->who.actor, sizeof op->who.actor, "admin");
    return op;
}

void adm_op_free(adm_op_t *op)
{
    if (op->deadline)
        event_free(op->deadline);
    if (op->on_free)
        op->on_free(op);
    if (op->secret) {
        explicit_bzero(op->secret, strlen(op->secret));
        free(op->secret);
    }
    free(op->doc);
    free(op);
}

/* The client left: forget the request. Whatever the op waits for decides
 * when it is freed: a queued query's callback always runs (and frees it);
 * an upstream call is cancelled by on_abort, after which nothing else will
 * call us back. The server finishes the request itself after this. */
static void op_abort(lx_req_t *req, void *arg)
{
    adm_op_t *op = arg;
    op->req = NULL;
    if (op->on_abort)
        op->on_abort(op);
    if (!op->db_pending)
        adm_op_free(op);
}

/* The database has not answered in time (it is unreachable and the query
 * still waits in the queue): answer now; the op stays until its callback. */
static void op_deadline(evutil_socket_t fd, short what, void *arg)
{
    adm_op_t *op = arg;
    if (op->req == NULL || !op->db_pending)
        return;
    lx_req_t *req = op->req;
    op->req = NULL;
    lx_req_on_abort(req, NULL, NULL);
    lx_log_warn("admin request answered 503: the database did not answer", "\"deadline_ms\":%d",
                ADM_DB_DEADLINE_MS);
    lx_req_reply_error_status(req, 503, LX_E_UNAVAILABLE,
                              "the database did not answer in time, try again", NULL);
}

static void op_db_cb(const lx_pg_result_t *res, void *arg)
{
    adm_op_t *op = arg;
    op->db_pending = false;
    if (op->deadline)
        event_del(op->deadline);
    if (op->req == NULL) {
        adm_op_free(op);
        return;
    }
    op->step(op, res);
}

int adm_submit(adm_op_t *op, const char *sql, int nparams, const char *const *params,
               adm_step_fn step)
{
    op->step = step;
    if (lx_pg_down(op->admin->pg)) {
        /* Known down: say so now rather than after ADM_DB_DEADLINE_MS. */
        if (op->req)
            lx_req_set_header(op->req, "Retry-After", "1");
        adm_error(op, 503, LX_E_UNAVAILABLE, "the database is unreachable, try again", NULL);
        return LX_OK;
    }
    /* a JWT caller is the audit rows' actor (principal.c) */
    char *actor_sql = op->who.role != LX_ROLE_ROOT ? adm_actor_sql(sql, nparams) : NULL;
    const char *aparams[32];
    if (actor_sql && nparams < 31) {
        memcpy(aparams, params, (size_t)nparams * sizeof *params);
        aparams[nparams++] = op->who.actor;
        sql = actor_sql;
        params = aparams;
    }
    int qrc = lx_pg_query(op->admin->pg, sql, nparams, params, 0, op_db_cb, op);
    free(actor_sql);
    if (qrc != LX_OK) {
        adm_error(op, 503, LX_E_UNAVAILABLE, "database busy: too many queries waiting", NULL);
        return LX_OK;
    }
    op->db_pending = true;
    lx_req_on_abort(op->req, op_abort, op);
    if (op->deadline == NULL)
        op->deadline = evtimer_new(lx_req_base(op->req), op_deadline, op);
    if (op->deadline) {
        struct timeval tv = {ADM_DB_DEADLINE_MS / 1000, (ADM_DB_DEADLINE_MS % 1000) * 1000};
        evtimer_add(op->deadline, &tv);
    }
    return LX_AGAIN;
}

void adm_reply_json(adm_op_t *op, int status, json_t *body)
{
    if (op->req) {
        lx_req_on_abort(op->req, NULL, NULL);
        adm_normalize_times(body);
        lx_req_reply_json(op->req, status, body);
    } else {
        json_decref(body);
    }
    adm_op_free(op);
}

void adm_error(adm_op_t *op, int status, lx_err_t err, const char *msg, const char *param)
{
    if (op->req) {
        lx_req_on_abort(op->req, NULL, NULL);
        lx_req_reply_error_status(op->req, status, err, msg, param);
    }
    adm_op_free(op);
}

json_t *adm_row_json(const lx_pg_result_t *res, int row, int col)
{
    if (row >= lx_pg_ntuples(res) || col >= lx_pg_nfields(res) || lx_pg_isnull(res, row, col))
        return NULL;
    return json_loads(lx_pg_value(res, row, col), JSON_DECODE_ANY, NULL);
}

/* ---- mapping database errors onto client errors ---- */

/* The last double-quoted name in a Postgres message: for constraint
 * violations, the constraint. */
static void last_quoted(const char *msg, char *out, size_t outlen)
{
    out[0] = '\0';
    const char *end = msg ? strrchr(msg, '"') : NULL;
    if (end == NULL || end == msg)
        return;
    const char *start = end - 1;
    while (start > msg && *start != '"')
        start--;
    if (*start != '"')
        return;
    snprintf(out, outlen, "%.*s", (int)(end - start - 1), start + 1);
}

static bool strip_suffix(char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    if (n <= k || strcmp(s + n - k, suffix) != 0)
        return false;
    s[n - k] = '\0';
    return true;
}

/* "ai_models_provider_id_upstream_name_key" -> "upstream_name". */
static void constraint_field(const char *table, const char *cons, char *out, size_t outlen)
{
    size_t tn = strlen(table);
    const char *p = cons;
    if (strncmp(p, table, tn) == 0 && p[tn] == '_')
        p += tn + 1;
    snprintf(out, outlen, "%s", p);
    if (!strip_suffix(out, "_fkey") && !strip_suffix(out, "_key") && !strip_suffix(out, "_check") &&
        !strip_suffix(out, "_fk"))
        return;
    if (strncmp(out, "provider_id_", 12) == 0 && out[12]) /* UNIQUE (provider_id, x) */
        memmove(out, out + 12, strlen(out + 12) + 1);
    if (strcmp(out, "default_connection") == 0)
        snprintf(out, outlen, "default_connection_id");
}

static const char *referenced(const char *field)
{
    if (strstr(field, "provider"))
        return "provider";
    if (strstr(field, "connection"))
        return "connection";
    if (strstr(field, "group"))
        return "group";
    return "row";
}

void adm_db_error(adm_op_t *op, const lx_pg_result_t *res)
{
    const char *state = lx_pg_sqlstate(res);
    const char *pgmsg = lx_pg_error(res);
    if (pgmsg == NULL)
        pgmsg = "unknown error";
    const char *what = op->ent ? op->ent->singular : "row";
    char cons[128], field[96], msg[400];
    last_quoted(pgmsg, cons, sizeof cons);
    constraint_field(op->ent ? op->ent->table : "", cons, field, sizeof field);
    if (state && strncmp(state, "LX", 2) == 0) {
        /* raised by our own SQL (sql/007): "LX<status>", "<param>|<message>" */
        int status = atoi(state + 2);
        const char *bar = strchr(pgmsg, '|');
        char param[96] = "";
        if (bar && (size_t)(bar - pgmsg) < sizeof param)
            snprintf(param, sizeof param, "%.*s", (int)(bar - pgmsg), pgmsg);
        if (status < 400 || status > 499)
            status = 400;
        adm_error(op, status, status == 409 ? LX_E_CONFLICT : LX_E_BAD_REQUEST,
                  bar ? bar + 1 : pgmsg, param[0] ? param : NULL);
        return;
    }
    if (state && strcmp(state, "23505") == 0) {
        snprintf(msg, sizeof msg, "a %s with this %s already exists", what, field);
        adm_error(op, 409, LX_E_CONFLICT, msg, field[0] ? field : NULL);
    } else if (state && strcmp(state, "23503") == 0) {
        if (strcmp(field, "group_id") == 0) {
            adm_error(op, 404, LX_E_NOT_FOUND, "group not found", "group_id");
            return;
        }
        snprintf(msg, sizeof msg, "'%s' does not refer to an existing %s", field,
                 referenced(field));
        adm_error(op, 422, LX_E_BAD_REQUEST, msg, field[0] ? field : NULL);
    } else if (state && strcmp(state, "23514") == 0) {
        snprintf(msg, sizeof msg, "'%s' has a value the database refuses (%s)", field, pgmsg);
        adm_error(op, 400, LX_E_BAD_REQUEST, msg, field[0] ? field : NULL);
    } else if (state && (strcmp(state, "23502") == 0 || strncmp(state, "22", 2) == 0)) {
        /* not-null and data exceptions: a value the checks let through */
        snprintf(msg, sizeof msg, "invalid value: %s", pgmsg);
        adm_error(op, 400, LX_E_BAD_REQUEST, msg, NULL);
    } else if (state && strcmp(state, "57014") == 0) {
        adm_error(op, 503, LX_E_UNAVAILABLE, "the database query timed out", NULL);
    } else if (state == NULL) {
        /* no server answer: connection lost, not connected, shutting down */
        lx_log_warn("admin query failed", "\"error\":\"%s\"", "database unavailable");
        adm_error(op, 503, LX_E_UNAVAILABLE, "database unavailable, try again", NULL);
    } else {
        lx_buf_t b;
        lx_buf_init(&b, 128);
        lx_buf_append_json_str(&b, pgmsg, strlen(pgmsg));
        lx_log_error("admin query failed", "\"sqlstate\":\"%.5s\",\"error\":%s", state, b.p);
        lx_buf_free(&b);
        adm_error(op, 500, LX_E_INTERNAL, "database error", NULL);
    }
}
