/* crud.c - the generic list/get/create/update/delete engine over the entity
 * descriptors.
 *
 * SQL text is assembled only from the descriptors' static column names and
 * expressions; every client value travels as a parameter: the validated
 * document as one jsonb parameter ($1) from which each column is read, ids
 * and filters as their own parameters. Each write is one statement with
 * data-modifying CTEs: the change, its audit_log row and the pg_notify that
 * tells every llmux to reload (all or nothing, in one implicit
 * transaction). */
#include "admin/internal.h"

#include <stdio.h>
#include <stdlib.h>

#define DOC_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

/* ---- query strings ---- */

const char *adm_query(lx_req_t *req, const char *name, char *buf, size_t cap)
{
    const char *raw = lx_req_query(req, name);
    if (raw == NULL)
        return NULL;
    size_t n = 0;
    for (const char *p = raw; *p && n + 1 < cap; p++) {
        int hi, lo;
        if (*p == '%' && (hi = lx_hex_digit(p[1])) >= 0 && (lo = lx_hex_digit(p[2])) >= 0) {
            buf[n++] = (char)(hi * 16 + lo);
            p += 2;
        } else {
            buf[n++] = *p == '+' ? ' ' : *p;
        }
    }
    buf[n] = '\0';
    if (strlen(buf) != n) /* %00 */
        buf[0] = '\0';
    return buf;
}

static bool query_int(lx_req_t *req, const char *name, int64_t dflt, int64_t max, int64_t *out,
                      adm_verr_t *e)
{
    char buf[32];
    const char *s = adm_query(req, name, buf, sizeof buf);
    *out = dflt;
    if (s == NULL)
        return true;
    size_t n = strlen(s);
    if (n == 0 || n > 12 || strspn(s, "0123456789") != n)
        return adm_verr(e, name, "'%s' must be a non-negative integer", name);
    *out = strtoll(s, NULL, 10);
    if (*out > max)
        return adm_verr(e, name, "'%s' must be at most %lld", name, (long long)max);
    return true;
}

bool adm_query_page(lx_req_t *req, int64_t *limit, int64_t *offset, adm_verr_t *e)
{
    memset(e, 0, sizeof *e);
    if (!query_int(req, "limit", 50, INT64_C(999999999999), limit, e) ||
        !query_int(req, "offset", 0, INT64_C(1000000000000), offset, e))
        return false;
    if (*limit < 1 || *limit > 500)
        return adm_verr(e, "limit", "'limit' must be between 1 and 500 (got %lld)",
                        (long long)*limit);
    return true;
}

/* ---- SQL pieces ---- */

static const char *column_of(const adm_field_t *f)
{
    return f->column ? f->column : f->name;
}

static void value_expr(lx_buf_t *b, const adm_field_t *f)
{
    const char *n = f->name;
    if (f->expr) {
        lx_buf_append(b, f->expr, strlen(f->expr));
        return;
    }
    switch (f->type) {
    case FT_TEXT:
        lx_buf_printf(b, "($1::jsonb->>'%s')", n);
        break;
    case FT_INT:
        lx_buf_printf(b, "($1::jsonb->>'%s')::integer", n);
        break;
    case FT_BIGINT:
        lx_buf_printf(b, "($1::jsonb->>'%s')::bigint", n);
        break;
    case FT_NUM:
        lx_buf_printf(b, "($1::jsonb->>'%s')::numeric", n);
        break;
    case FT_TEXTARR:
        lx_buf_printf(b,
                      "(CASE WHEN jsonb_typeof($1::jsonb->'%s') = 'array' THEN ARRAY(SELECT e.v "
                      "FROM jsonb_array_elements_text($1::jsonb->'%s') WITH ORDINALITY AS e(v, i) "
                      "ORDER BY e.i) END)",
                      n, n);
        break;
    case FT_JSONB:
        lx_buf_printf(b, "NULLIF($1::jsonb->'%s', 'null'::jsonb)", n);
        break;
    case FT_TS:
        lx_buf_printf(b, "($1::jsonb->>'%s')::timestamptz", n);
        break;
    case FT_VIRTUAL:
        break;
    }
}

static const char *audit_view(const adm_entity_t *ent)
{
    return ent->audit_view ? ent->audit_view : ent->view;
}

static const char *notify_of(const adm_entity_t *ent)
{
    return ent->notify ? ent->notify : ent->name;
}

/* The tail every write shares: audit row, notify, the returned view. */
static void sql_tail(lx_buf_t *sql, const adm_entity_t *ent, const char *action, const char *cte)
{
    const char *av = audit_view(ent);
    if (strcmp(action, "update") == 0)
        lx_buf_printf(sql,
                      ", aud AS (INSERT INTO audit_log (actor, action, entity, entity_id, before, "
                      "after) SELECT 'admin', 'update', '%s', x.id::text, (SELECT %s FROM prev x), "
                      "%s FROM upd x)",
                      ent->name, av, av);
    else
        lx_buf_printf(sql,
                      ", aud AS (INSERT INTO audit_log (actor, action, entity, entity_id, %s) "
                      "SELECT 'admin', '%s', '%s', x.id::text, %s FROM %s x)",
                      strcmp(action, "delete") == 0 ? "before" : "after", action, ent->name, av,
                      cte);
    lx_buf_printf(sql,
                  ", note AS (SELECT pg_notify('llmux_config', '%s') AS n) "
                  "SELECT (%s)::text, (SELECT count(*) FROM note) FROM %s x",
                  notify_of(ent), ent->view, cte);
}

void adm_sql_insert(lx_buf_t *sql, const adm_entity_t *ent, const json_t *doc,
                    const adm_extra_t *extra, int nextra)
{
    adm_sql_insert_cte(sql, ent, doc, extra, nextra);
    sql_tail(sql, ent, "create", "ins");
}

void adm_sql_insert_cte(lx_buf_t *sql, const adm_entity_t *ent, const json_t *doc,
                        const adm_extra_t *extra, int nextra)
{
    lx_buf_t cols, vals;
    lx_buf_init(&cols, 256);
    lx_buf_init(&vals, 512);
    for (size_t i = 0; i < ent->nfields; i++) {
        const adm_field_t *f = &ent->fields[i];
        if (f->type == FT_VIRTUAL || json_object_get(doc, f->name) == NULL)
            continue;
        lx_buf_printf(&cols, "%s%s", cols.n ? ", " : "", column_of(f));
        if (vals.n)
            lx_buf_append_lit(&vals, ", ");
        value_expr(&vals, f);
    }
    for (int i = 0; i < nextra; i++) {
        lx_buf_printf(&cols, "%s%s", cols.n ? ", " : "", extra[i].column);
        lx_buf_printf(&vals, "%s%s", vals.n ? ", " : "", extra[i].expr);
    }
    /* $1 is referenced even when no column reads it, so its type is known */
    lx_buf_printf(sql, "WITH ins AS (INSERT INTO %s ", ent->table);
    if (cols.n)
        lx_buf_printf(sql, "(%s) SELECT %s WHERE $1::jsonb IS NOT NULL", cols.p, vals.p);
    else
        lx_buf_printf(sql,
                      "(id) SELECT nextval(pg_get_serial_sequence('%s', 'id')) WHERE "
                      "$1::jsonb IS NOT NULL",
                      ent->table);
    lx_buf_append_lit(sql, " RETURNING *)");
    lx_buf_free(&cols);
    lx_buf_free(&vals);
}

/* scope: NULL, or the parameter ("$3") of a team_admin's team: only a row
 * of that team is touched (principal.c). */
static void sql_update(lx_buf_t *sql, const adm_entity_t *ent, const json_t *doc,
                       const adm_extra_t *extra, int nextra, const char *scope)
{
    lx_buf_printf(sql, "WITH prev AS (SELECT * FROM %s WHERE id = $2::bigint", ent->table);
    if (ent->parent_col)
        lx_buf_printf(sql, " AND %s = $3::bigint", ent->parent_col);
    if (scope)
        lx_buf_printf(sql, " AND team_id = %s::bigint", scope);
    lx_buf_printf(sql, " FOR UPDATE), upd AS (UPDATE %s t SET ", ent->table);
    bool first = true;
    for (size_t i = 0; i < ent->nfields; i++) {
        const adm_field_t *f = &ent->fields[i];
        if (f->type == FT_VIRTUAL || json_object_get(doc, f->name) == NULL)
            continue;
        lx_buf_printf(sql, "%s%s = ", first ? "" : ", ", column_of(f));
        value_expr(sql, f);
        first = false;
    }
    for (int i = 0; i < nextra; i++) {
        lx_buf_printf(sql, "%s%s = %s", first ? "" : ", ", extra[i].column, extra[i].expr);
        first = false;
    }
    if (ent->has_updated_at) {
        lx_buf_printf(sql, "%supdated_at = now()", first ? "" : ", ");
        first = false;
    }
    if (first) /* nothing to set: a no-op that still locks and returns the row */
        lx_buf_append_lit(sql, "id = t.id");
    lx_buf_append_lit(sql, " FROM prev WHERE t.id = prev.id AND $1::jsonb IS NOT NULL "
                           "RETURNING t.*)");
    sql_tail(sql, ent, "update", "upd");
}

void adm_sql_update(lx_buf_t *sql, const adm_entity_t *ent, const json_t *doc,
                    const adm_extra_t *extra, int nextra)
{
    sql_update(sql, ent, doc, extra, nextra, NULL);
}

static void sql_delete(lx_buf_t *sql, const adm_entity_t *ent, const char *scope)
{
    lx_buf_printf(sql, "WITH del AS (DELETE FROM %s WHERE id = $1::bigint", ent->table);
    if (ent->parent_col)
        lx_buf_printf(sql, " AND %s = $2::bigint", ent->parent_col);
    if (scope)
        lx_buf_printf(sql, " AND team_id = %s::bigint", scope);
    lx_buf_append_lit(sql, " RETURNING *)");
    sql_tail(sql, ent, "delete", "del");
}

/* ---- steps ---- */

static void not_found(adm_op_t *op)
{
    char msg[160];
    if (op->id)
        snprintf(msg, sizeof msg, "%s %lld not found", op->ent->singular, (long long)op->id);
    else
        snprintf(msg, sizeof msg, "%s not found", op->ent->singular);
    adm_error(op, 404, LX_E_NOT_FOUND, msg, NULL);
}

void adm_step_one(adm_op_t *op, const lx_pg_result_t *res)
{
    if (!lx_pg_ok(res)) {
        adm_db_error(op, res);
        return;
    }
    if (lx_pg_ntuples(res) == 0) {
        not_found(op);
        return;
    }
    json_t *row = adm_row_json(res, 0, 0);
    if (row == NULL) {
        adm_error(op, 500, LX_E_INTERNAL, "unreadable row", NULL);
        return;
    }
    if (op->secret) /* a new API key: shown in this one answer only */
        json_object_set_new(row, "key", json_string(op->secret));
    adm_reply_json(op, op->ok_status, row);
}

static void step_deleted(adm_op_t *op, const lx_pg_result_t *res)
{
    if (!lx_pg_ok(res)) {
        adm_db_error(op, res);
        return;
    }
    if (lx_pg_ntuples(res) == 0) {
        not_found(op);
        return;
    }
    adm_reply_json(op, 200,
                   json_pack("{s:I, s:s, s:b}", "id", (json_int_t)op->id, "object",
                             op->ent->singular, "deleted", 1));
}

static void step_list(adm_op_t *op, const lx_pg_result_t *res)
{
    if (!lx_pg_ok(res)) {
        adm_db_error(op, res);
        return;
    }
    if (op->ent->parent_col && strcmp(lx_pg_value(res, 0, 2), "t") != 0) {
        op->id = op->parent_id;
        adm_error(op, 404, LX_E_NOT_FOUND, "group not found", NULL);
        return;
    }
    json_t *data = adm_row_json(res, 0, 1);
    if (!json_is_array(data)) {
        json_decref(data);
        adm_error(op, 500, LX_E_INTERNAL, "unreadable rows", NULL);
        return;
    }
    json_t *out = json_pack("{s:o, s:I, s:I, s:I}", "data", data, "total",
                            (json_int_t)strtoll(lx_pg_value(res, 0, 0), NULL, 10), "limit",
                            (json_int_t)op->limit, "offset", (json_int_t)op->offset);
    adm_reply_json(op, 200, out);
}

/* ---- handlers ---- */

static void id_text(int64_t id, char out[24])
{
    snprintf(out, 24, "%lld", (long long)id);
}

int adm_crud_list(lx_admin_t *a, lx_req_t *req, const adm_entity_t *ent, int64_t parent_id)
{
    adm_verr_t e;
    int64_t limit, offset;
    if (!adm_query_page(req, &limit, &offset, &e)) {
        adm_reply_verr(req, &e);
        return LX_OK;
    }
    char lim[24], off[24], par[24];
    id_text(limit, lim);
    id_text(offset, off);
    id_text(parent_id, par);
    const char *params[3 + 16] = {lim, off, par};
    char vals[16][256];
    int np = 2;
    lx_buf_t where;
    lx_buf_init(&where, 128);
    if (ent->parent_col) {
        lx_buf_printf(&where, " AND x.%s = $3::bigint", ent->parent_col);
        np = 3;
    }
    for (size_t i = 0; i < ent->nfilters && i < 16; i++) {
        const adm_filter_t *f = &ent->filters[i];
        const char *v = adm_query(req, f->param, vals[i], sizeof vals[i]);
        if (v == NULL)
            continue;
        json_t *js = json_string(v);
        bool ok = js && strlen(v) <= 200;
        if (!ok)
            adm_verr(&e, f->param, "'%s' is not a valid filter value", f->param);
        else if (f->check)
            ok = f->check(f->param, js, &e);
        json_decref(js);
        if (!ok) {
            lx_buf_free(&where);
            adm_reply_verr(req, &e);
            return LX_OK;
        }
        params[np++] = v;
        if (f->sub)
            lx_buf_printf(&where, " AND x.%s IN (%s $%d::%s)", f->column, f->sub, np, f->cast);
        else
            lx_buf_printf(&where, " AND x.%s = $%d::%s", f->column, np, f->cast);
    }
    char scope[24];
    if (adm_scope_team(a)) { /* a team_admin sees its team's rows only */
        id_text(adm_scope_team(a), scope);
        params[np++] = scope;
        lx_buf_printf(&where, " AND x.team_id = $%d::bigint", np);
    }
    lx_buf_t sql;
    lx_buf_init(&sql, 512);
    lx_buf_printf(&sql,
                  "WITH f AS (SELECT * FROM %s x WHERE true%s) SELECT (SELECT count(*) FROM "
                  "f), (SELECT coalesce(jsonb_agg(%s ORDER BY x.id), '[]'::jsonb) FROM "
                  "(SELECT * FROM f ORDER BY id LIMIT $1::bigint OFFSET $2::bigint) x)::text",
                  ent->table, where.n ? where.p : "", ent->view);
    if (ent->parent_col)
        lx_buf_printf(&sql, ", EXISTS (SELECT 1 FROM %s WHERE id = $3::bigint)", ent->parent_table);
    adm_op_t *op = adm_op_new(a, req, ent);
    op->limit = limit;
    op->offset = offset;
    op->parent_id = parent_id;
    int rc = adm_submit(op, sql.p, np, params, step_list);
    lx_buf_free(&sql);
    lx_buf_free(&where);
    return rc;
}

int adm_crud_get(lx_admin_t *a, lx_req_t *req, const adm_entity_t *ent, int64_t id,
                 int64_t parent_id)
{
    char ids[24], par[24], scope[24];
    id_text(id, ids);
    id_text(parent_id, par);
    const char *params[3] = {ids, par};
    int np = ent->parent_col ? 2 : 1;
    lx_buf_t sql;
    lx_buf_init(&sql, 256);
    lx_buf_printf(&sql, "SELECT (%s)::text FROM %s x WHERE x.id = $1::bigint", ent->view,
                  ent->table);
    if (ent->parent_col)
        lx_buf_printf(&sql, " AND x.%s = $2::bigint", ent->parent_col);
    if (adm_scope_team(a)) { /* another team's row is not found */
        id_text(adm_scope_team(a), scope);
        params[np++] = scope;
        lx_buf_printf(&sql, " AND x.team_id = $%d::bigint", np);
    }
    adm_op_t *op = adm_op_new(a, req, ent);
    op->id = id;
    int rc = adm_submit(op, sql.p, np, params, adm_step_one);
    lx_buf_free(&sql);
    return rc;
}

int adm_crud_create(lx_admin_t *a, lx_req_t *req, const adm_entity_t *ent, int64_t parent_id)
{
    json_t *doc = adm_read_doc(req, ent, true);
    if (doc == NULL)
        return LX_OK;
    adm_verr_t e;
    if (!adm_scope_doc(a, doc, true, &e)) {
        json_decref(doc);
        adm_reply_verr(req, &e);
        return LX_OK;
    }
    adm_extra_t parent = {ent->parent_col, "$2::bigint"};
    lx_buf_t sql;
    lx_buf_init(&sql, 1024);
    adm_sql_insert(&sql, ent, doc, &parent, ent->parent_col ? 1 : 0);
    char *text = json_dumps(doc, DOC_FLAGS);
    json_decref(doc);
    char par[24];
    id_text(parent_id, par);
    const char *params[] = {text, par};
    adm_op_t *op = adm_op_new(a, req, ent);
    op->ok_status = 201;
    int rc = adm_submit(op, sql.p, ent->parent_col ? 2 : 1, params, adm_step_one);
    free(text);
    lx_buf_free(&sql);
    return rc;
}

int adm_crud_update(lx_admin_t *a, lx_req_t *req, const adm_entity_t *ent, int64_t id,
                    int64_t parent_id)
{
    json_t *doc = adm_read_doc(req, ent, false);
    if (doc == NULL)
        return LX_OK;
    adm_verr_t e;
    if (!adm_scope_doc(a, doc, false, &e)) {
        json_decref(doc);
        adm_reply_verr(req, &e);
        return LX_OK;
    }
    char ids[24], par[24], scope[24], ref[8];
    int np = ent->parent_col ? 3 : 2;
    if (adm_scope_team(a)) {
        id_text(adm_scope_team(a), scope);
        snprintf(ref, sizeof ref, "$%d", np + 1);
    }
    lx_buf_t sql;
    lx_buf_init(&sql, 1024);
    sql_update(&sql, ent, doc, NULL, 0, adm_scope_team(a) ? ref : NULL);
    char *text = json_dumps(doc, DOC_FLAGS);
    json_decref(doc);
    id_text(id, ids);
    id_text(parent_id, par);
    const char *params[4] = {text, ids, par};
    if (adm_scope_team(a))
        params[np++] = scope;
    adm_op_t *op = adm_op_new(a, req, ent);
    op->id = id;
    int rc = adm_submit(op, sql.p, np, params, adm_step_one);
    free(text);
    lx_buf_free(&sql);
    return rc;
}

int adm_crud_delete(lx_admin_t *a, lx_req_t *req, const adm_entity_t *ent, int64_t id,
                    int64_t parent_id)
{
    char ids[24], par[24], scope[24], ref[8];
    id_text(id, ids);
    id_text(parent_id, par);
    const char *params[3] = {ids, par};
    int np = ent->parent_col ? 2 : 1;
    if (adm_scope_team(a)) {
        id_text(adm_scope_team(a), scope);
        params[np++] = scope;
        snprintf(ref, sizeof ref, "$%d", np);
    }
    lx_buf_t sql;
    lx_buf_init(&sql, 1024);
    sql_delete(&sql, ent, adm_scope_team(a) ? ref : NULL);
    adm_op_t *op = adm_op_new(a, req, ent);
    op->id = id;
    int rc = adm_submit(op, sql.p, np, params, step_deleted);
    lx_buf_free(&sql);
    return rc;
}

void adm_insert_sealed(adm_op_t *op, const adm_entity_t *ent, const adm_extra_t *extra, int nextra,
                       int64_t id, const char *sealed_hex)
{
    json_t *doc = json_loads(op->doc, 0, NULL);
    lx_buf_t sql;
    lx_buf_init(&sql, 1024);
    adm_sql_insert(&sql, ent, doc, extra, nextra);
    json_decref(doc);
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    const char *params[] = {op->doc, ids, sealed_hex};
    adm_submit(op, sql.p, 3, params, adm_step_one);
    lx_buf_free(&sql);
}
