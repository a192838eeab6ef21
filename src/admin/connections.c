/* connections.c - provider connections (ai_connections): a credential and
 * the knobs routing reads. The API key is write-only: it is sealed with the
 * master key (AES-256-GCM, AAD bound to the row id) before it reaches the
 * database, and answers only say whether one is stored. */
#include "admin/internal.h"
#include "core/secret.h"
#include "db/store.h"

#include <stdio.h>
#include <stdlib.h>

#define KEY_VERSION 1

static bool chk_status(const char *f, const json_t *v, adm_verr_t *e)
{
    const char *s = json_string_value(v);
    if (strcmp(s, "active") && strcmp(s, "disabled") && strcmp(s, "cooling"))
        return adm_verr(e, f, "'%s' must be one of active, disabled, cooling", f);
    return true;
}

static bool chk_api_key(const char *f, const json_t *v, adm_verr_t *e)
{
    if (!json_is_string(v))
        return adm_verr(e, f, "'%s' must be a string", f);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n == 0 || n > 8192 || strlen(s) != n)
        return adm_verr(e, f, "'%s' must be 1..8192 characters", f);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return adm_verr(e, f, "'%s' must not contain control characters", f);
    return true;
}

static const adm_field_t fields[] = {
    {"id", FT_BIGINT, F_READONLY, NULL, NULL, NULL},
    {"provider_id", FT_BIGINT, F_REQUIRED, adm_chk_id, NULL, NULL},
    {"name", FT_TEXT, F_REQUIRED, adm_chk_label, NULL, NULL},
    {"api_key", FT_VIRTUAL, F_NULLABLE, chk_api_key, NULL, NULL},
    {"settings", FT_JSONB, 0, NULL, NULL, NULL},
    {"priority", FT_INT, 0, adm_chk_int32, NULL, NULL},
    {"weight", FT_INT, 0, adm_chk_nonneg, NULL, NULL},
    {"status", FT_TEXT, 0, chk_status, NULL, NULL},
    {"rate_limit_per_minute", FT_INT, F_NULLABLE, adm_chk_positive, NULL, NULL},
    {"rate_limit_per_day", FT_INT, F_NULLABLE, adm_chk_positive, NULL, NULL},
    {"has_credential", FT_VIRTUAL, F_READONLY, NULL, NULL, NULL},
    {"cooling_until", FT_TS, F_READONLY, NULL, NULL, NULL},
    {"last_used_at", FT_TS, F_READONLY, NULL, NULL, NULL},
    {"last_error_at", FT_TS, F_READONLY, NULL, NULL, NULL},
    {"last_error", FT_TEXT, F_READONLY, NULL, NULL, NULL},
    {"success_count", FT_BIGINT, F_READONLY, NULL, NULL, NULL},
    {"error_count", FT_BIGINT, F_READONLY, NULL, NULL, NULL},
    {"created_at", FT_TS, F_READONLY, NULL, NULL, NULL},
    {"updated_at", FT_TS, F_READONLY, NULL, NULL, NULL},
};

static const adm_filter_t filters[] = {
    {"provider_id", "provider_id", "bigint", adm_chk_text_id, NULL},
    {"status", "status", "text", chk_status, NULL},
    {"name", "name", "text", NULL, NULL},
};

const adm_entity_t adm_connections = {
    .name = "connections",
    .singular = "connection",
    .table = "ai_connections",
    .fields = fields,
    .nfields = LX_ARRAY_LEN(fields),
    .filters = filters,
    .nfilters = LX_ARRAY_LEN(filters),
    .view = "((to_jsonb(x) - 'credential') || jsonb_build_object('has_credential', x.credential "
            "IS NOT NULL))",
    .has_updated_at = true,
};

/* Seals key for connection id into bytea text ("\x..."). */
static int seal(const lx_config_t *cfg, int64_t id, const char *key, lx_buf_t *hex)
{
    char aad[64];
    lx_credential_aad(id, aad, sizeof aad);
    lx_buf_t sealed;
    lx_buf_init(&sealed, 0);
    int rc = lx_secret_seal(cfg->master_key, KEY_VERSION, aad, key, strlen(key), &sealed);
    if (rc == LX_OK)
        lx_bytea_encode(sealed.p, sealed.n, hex);
    lx_buf_free(&sealed);
    return rc;
}

static void forget_secret(adm_op_t *op)
{
    if (op->secret) {
        explicit_bzero(op->secret, strlen(op->secret));
        free(op->secret);
        op->secret = NULL;
    }
}

/* Removes api_key from doc, zeroing jansson's copy of it first. */
static void drop_key(json_t *doc)
{
    json_t *k = json_object_get(doc, "api_key");
    if (json_is_string(k))
        explicit_bzero((char *)json_string_value(k), json_string_length(k));
    json_object_del(doc, "api_key");
}

static void no_master_key(lx_req_t *req)
{
    lx_req_reply_error_status(req, 503, LX_E_UNAVAILABLE,
                              "storing an api_key needs LLMUX_MASTER_KEY (base64 of 32 bytes) "
                              "to be configured",
                              "api_key");
}

/* Step 2 of a creation with a key: the id is known, seal and insert. */
static void step_insert(adm_op_t *op, const lx_pg_result_t *res)
{
    if (!lx_pg_ok(res)) {
        adm_db_error(op, res);
        return;
    }
    int64_t id = strtoll(lx_pg_value(res, 0, 0), NULL, 10);
    lx_buf_t hex;
    lx_buf_init(&hex, 256);
    int rc = seal(op->admin->cfg, id, op->secret, &hex);
    forget_secret(op);
    if (rc != LX_OK) {
        lx_buf_free(&hex);
        adm_error(op, 500, LX_E_INTERNAL, "cannot seal the credential", "api_key");
        return;
    }
    static const adm_extra_t extra[] = {{"id", "$2::bigint"}, {"credential", "$3::bytea"}};
    adm_insert_sealed(op, &adm_connections, extra, 2, id, hex.p);
    lx_buf_free(&hex);
}

int adm_connection_create(lx_admin_t *a, lx_req_t *req)
{
    json_t *doc = adm_read_doc(req, &adm_connections, true);
    if (doc == NULL)
        return LX_OK;
    const char *key = json_string_value(json_object_get(doc, "api_key"));
    if (key && !a->cfg->has_master_key) {
        json_decref(doc);
        no_master_key(req);
        return LX_OK;
    }
    adm_op_t *op = adm_op_new(a, req, &adm_connections);
    op->ok_status = 201;
    if (key)
        op->secret = lx_strdup(key);
    drop_key(doc); /* the document never carries the key */
    op->doc = json_dumps(doc, JSON_COMPACT);
    int rc;
    if (op->secret) {
        /* The AAD binds the sealed key to its row id: take the id first. */
        rc = adm_submit(op, "SELECT nextval(pg_get_serial_sequence('ai_connections', 'id'))", 0,
                        NULL, step_insert);
    } else {
        lx_buf_t sql;
        lx_buf_init(&sql, 1024);
        adm_sql_insert(&sql, &adm_connections, doc, NULL, 0);
        rc = adm_submit(op, sql.p, 1, (const char *const[]){op->doc}, adm_step_one);
        lx_buf_free(&sql);
    }
    json_decref(doc);
    return rc;
}

int adm_connection_update(lx_admin_t *a, lx_req_t *req, int64_t id)
{
    json_t *doc = adm_read_doc(req, &adm_connections, false);
    if (doc == NULL)
        return LX_OK;
    json_t *k = json_object_get(doc, "api_key");
    adm_extra_t extra = {"credential", "NULL"};
    int nextra = 0, nparams = 2;
    lx_buf_t hex;
    lx_buf_init(&hex, 256);
    if (json_is_string(k)) {
        if (!a->cfg->has_master_key) {
            json_decref(doc);
            lx_buf_free(&hex);
            no_master_key(req);
            return LX_OK;
        }
        if (seal(a->cfg, id, json_string_value(k), &hex) != LX_OK) {
            json_decref(doc);
            lx_buf_free(&hex);
            lx_req_reply_error_status(req, 500, LX_E_INTERNAL, "cannot seal the credential",
                                      "api_key");
            return LX_OK;
        }
        extra.expr = "$3::bytea";
        nextra = 1;
        nparams = 3;
    } else if (json_is_null(k)) {
        nextra = 1; /* api_key: null removes the stored credential */
    }
    drop_key(doc);
    lx_buf_t sql;
    lx_buf_init(&sql, 1024);
    adm_sql_update(&sql, &adm_connections, doc, &extra, nextra);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    const char *params[] = {text, ids, hex.n ? hex.p : ""};
    adm_op_t *op = adm_op_new(a, req, &adm_connections);
    op->id = id;
    int rc = adm_submit(op, sql.p, nparams, params, adm_step_one);
    free(text);
    lx_buf_free(&sql);
    lx_buf_free(&hex);
    return rc;
}
