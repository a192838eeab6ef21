/* providers.c - the ai_providers entity: fields, checks, views, and the
 * create/update handlers that seal extra_headers.
 *
 * extra_headers are write-only and sealed at rest like a connection's
 * api_key: their JSON object is sealed with the master key (AES-256-GCM,
 * AAD bound to the row id, core/sealed_headers.h) before it reaches the
 * database, into extra_headers_sealed; only their names are stored
 * readable (extra_header_names) and answers show each with "***". The
 * plain extra_headers column is only read for rows an older version wrote
 * (sealed at the next start-up) and always written empty. */
#include "admin/internal.h"
#include "core/baseurl.h"
#include "core/sealed_headers.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

static bool chk_name(const char *f, const json_t *v, adm_verr_t *e)
{
    const char *s = json_string_value(v);
    size_t n = strlen(s);
    if (n < 1 || n > 64 || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") != n)
        return adm_verr(e, f, "'%s' must match ^[a-z0-9_-]{1,64}$", f);
    return true;
}

static bool chk_kind(const char *f, const json_t *v, adm_verr_t *e)
{
    const char *s = json_string_value(v);
    if (strcmp(s, "openai") && strcmp(s, "anthropic") && strcmp(s, "gemini") &&
        strcmp(s, "openai_compatible"))
        return adm_verr(e, f, "'%s' must be one of openai, anthropic, gemini, openai_compatible",
                        f);
    return true;
}

static bool chk_url(const char *f, const json_t *v, adm_verr_t *e)
{
    const char *s = json_string_value(v);
    if (strlen(s) > 2048)
        return adm_verr(e, f, "'%s' must be an http:// or https:// URL of at most 2048 bytes", f);
    const char *why = lx_base_url_problem(s);
    if (why)
        return adm_verr(e, f, "'%s' %s", f, why);
    return true;
}

static bool chk_headers(const char *f, const json_t *v, adm_verr_t *e)
{
    if (!json_is_object(v))
        return adm_verr(e, f, "'%s' must be a JSON object", f);
    if (json_object_size(v) > LX_MAX_EXTRA_HEADERS)
        return adm_verr(e, f, "'%s' may hold at most %d headers", f, LX_MAX_EXTRA_HEADERS);
    static const char *const reserved[] = {"host",       "content-length", "transfer-encoding",
                                           "connection", "content-type",   "expect"};
    const char *k;
    json_t *hv;
    json_object_foreach((json_t *)v, k, hv)
    {
        size_t n = strlen(k);
        if (n == 0 || n > 64 ||
            strspn(
                k,
                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_!#$%&'*+.^`|~") !=
                n)
            return adm_verr(e, f, "'%s' has a header name that is not an HTTP token", f);
        for (size_t i = 0; i < LX_ARRAY_LEN(reserved); i++)
            if (strcasecmp(k, reserved[i]) == 0)
                return adm_verr(e, f, "'%s' may not set the %s header", f, reserved[i]);
        if (!json_is_string(hv))
            return adm_verr(e, f, "'%s' values must be strings", f);
        const char *s = json_string_value(hv);
        size_t m = json_string_length(hv);
        if (m > 4096 || strlen(s) != m)
            return adm_verr(e, f, "'%s' has a value that is too long or not text", f);
        for (size_t i = 0; i < m; i++)
            if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
                return adm_verr(e, f, "'%s' values must not contain control characters", f);
    }
    return true;
}

/* settings: {"jobs": {...}} (sql/017); the jobs object is media's to
 * check (media/jobs_conf.h), lent by the app (admin may not use media).
 * The connection settings beside it ("http2", "max_connections", ...) are
 * core/transport.h's. */
static lx_admin_jobs_check_fn jobs_check;

void lx_admin_set_jobs_check(lx_admin_jobs_check_fn fn)
{
    jobs_check = fn;
}

static bool chk_settings(const char *f, const json_t *v, adm_verr_t *e)
{
    if (!json_is_object(v))
        return adm_verr(e, f, "'%s' must be a JSON object", f);
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x)
    {
        if (lx_transport_is_key(k)) { /* connection settings: core/transport.h */
            lx_transport_t t = {0};
            char why[200];
            int rc = lx_transport_set(&t, k, x, why, sizeof why);
            lx_transport_free(&t);
            if (rc != LX_OK) {
                char param[64];
                snprintf(param, sizeof param, "%s.%s", f, k);
                return adm_verr(e, param, "%s.%s", f, why);
            }
        } else if (strcmp(k, "jobs") != 0) {
            return adm_verr(e, f,
                            "'%s' has an unknown setting '%.64s' (known: jobs, http2, "
                            "http1_connections, http1_streams, max_connections, "
                            "max_streams_per_connection, ca_file)",
                            f, k);
        }
    }
    json_t *jobs = json_object_get(v, "jobs");
    char why[512];
    if (jobs && jobs_check && jobs_check(jobs, why, sizeof why) != LX_OK)
        return adm_verr(e, f, "'%s' is not valid: %s", f, why);
    return true;
}

/* A trailing slash would double in "<base_url>/chat/completions". */
static bool fixup(json_t *doc, bool create, adm_verr_t *e)
{
    const char *url = json_string_value(json_object_get(doc, "base_url"));
    if (url) {
        size_t n = strlen(url);
        while (n > 0 && url[n - 1] == '/')
            n--;
        json_object_set_new(doc, "base_url", json_stringn(url, n));
    }
    return true;
}

/* The names of the sealed headers, and of plain ones an older version
 * wrote, each with "***"; never the sealed blob. */
#define MASKED_VIEW                                                                                \
    "((to_jsonb(x) - 'extra_headers_sealed' - 'extra_header_names') || "                           \
    "jsonb_build_object('extra_headers', (SELECT coalesce(jsonb_object_agg(h.k, '***'), "          \
    "'{}'::jsonb) FROM (SELECT jsonb_object_keys(x.extra_headers) UNION "                          \
    "SELECT unnest(x.extra_header_names)) AS h(k))))"

static const adm_field_t fields[] = {
    {"id", FT_BIGINT, F_READONLY, NULL, NULL, NULL},
    {"name", FT_TEXT, F_REQUIRED, chk_name, NULL, NULL},
    {"kind", FT_TEXT, F_REQUIRED, chk_kind, NULL, NULL},
    {"base_url", FT_TEXT, F_REQUIRED, chk_url, NULL, NULL},
    {"status", FT_TEXT, 0, adm_chk_status, NULL, NULL},
    {"extra_headers", FT_VIRTUAL, 0, chk_headers, NULL, NULL}, /* sealed: see the handlers below */
    {"default_connection_id", FT_BIGINT, F_NULLABLE, adm_chk_id, NULL, NULL},
    {"connect_timeout_ms", FT_INT, F_NULLABLE, adm_chk_positive, NULL, NULL},
    {"first_byte_timeout_ms", FT_INT, F_NULLABLE, adm_chk_positive, NULL, NULL},
    {"idle_timeout_ms", FT_INT, F_NULLABLE, adm_chk_positive, NULL, NULL},
    {"total_timeout_ms", FT_INT, F_NULLABLE, adm_chk_positive, NULL, NULL},
    {"settings", FT_JSONB, 0, chk_settings, NULL, NULL},
    {"created_at", FT_TS, F_READONLY, NULL, NULL, NULL},
    {"updated_at", FT_TS, F_READONLY, NULL, NULL, NULL},
};

static const adm_filter_t filters[] = {
    {"status", "status", "text", adm_chk_text_status, NULL},
    {"kind", "kind", "text", chk_kind, NULL},
    {"name", "name", "text", NULL, NULL},
};

const adm_entity_t adm_providers = {
    .name = "providers",
    .singular = "provider",
    .table = "ai_providers",
    .fields = fields,
    .nfields = LX_ARRAY_LEN(fields),
    .filters = filters,
    .nfilters = LX_ARRAY_LEN(filters),
    /* header values may carry tokens: write-only, answers and the audit
     * trail show only the names */
    .view = MASKED_VIEW,
    .audit_view = MASKED_VIEW,
    .has_updated_at = true,
    .fixup = fixup,
};

/* ---- create and update: extra_headers sealed ---- */

/* The names column, from the names the document carries in their place. */
#define NAMES_EXPR "ARRAY(SELECT jsonb_array_elements_text($1::jsonb->'extra_header_names'))"

/* Takes extra_headers out of doc (zeroing jansson's copies of the values)
 * and leaves their names as extra_header_names. Returns their JSON text
 * (the caller zeroes and frees it), or NULL when doc has none; *count is
 * how many. */
static char *take_headers(json_t *doc, size_t *count)
{
    json_t *h = json_object_get(doc, "extra_headers");
    *count = 0;
    if (!json_is_object(h))
        return NULL;
    json_t *names = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(h, k, v)
    {
        json_array_append_new(names, json_string(k));
    }
    *count = json_object_size(h);
    char *plain = json_dumps(h, JSON_COMPACT);
    json_object_foreach(h, k, v)
    {
        if (json_is_string(v))
            explicit_bzero((char *)json_string_value(v), json_string_length(v));
    }
    json_object_del(doc, "extra_headers");
    json_object_set_new(doc, "extra_header_names", names);
    return plain;
}

static void forget(char *plain)
{
    if (plain) {
        explicit_bzero(plain, strlen(plain));
        free(plain);
    }
}

static void no_master_key(lx_req_t *req)
{
    lx_req_reply_error_status(req, 503, LX_E_UNAVAILABLE,
                              "storing extra_headers values needs LLMUX_MASTER_KEY (base64 of 32 "
                              "bytes) to be configured: they are sealed at rest like an api_key",
                              "extra_headers");
}

/* Step 2 of a creation with headers: the id is known, seal and insert. */
static void step_insert(adm_op_t *op, const lx_pg_result_t *res)
{
    if (!lx_pg_ok(res)) {
        adm_db_error(op, res);
        return;
    }
    int64_t id = strtoll(lx_pg_value(res, 0, 0), NULL, 10);
    lx_buf_t hex;
    lx_buf_init(&hex, 256);
    int rc = lx_headers_seal_hex(op->admin->cfg->master_key, id, op->secret, &hex);
    forget(op->secret); /* before adm_step_one, which would show it */
    op->secret = NULL;
    if (rc != LX_OK) {
        lx_buf_free(&hex);
        adm_error(op, 500, LX_E_INTERNAL, "cannot seal the extra_headers", "extra_headers");
        return;
    }
    static const adm_extra_t extra[] = {{"id", "$2::bigint"},
                                        {"extra_headers_sealed", "$3::bytea"},
                                        {"extra_header_names", NAMES_EXPR}};
    adm_insert_sealed(op, &adm_providers, extra, 3, id, hex.p);
    lx_buf_free(&hex);
}

int adm_provider_create(lx_admin_t *a, lx_req_t *req)
{
    json_t *doc = adm_read_doc(req, &adm_providers, true);
    if (doc == NULL)
        return LX_OK;
    size_t count;
    char *plain = take_headers(doc, &count);
    if (count > 0 && !a->cfg->has_master_key) {
        forget(plain);
        json_decref(doc);
        no_master_key(req);
        return LX_OK;
    }
    adm_op_t *op = adm_op_new(a, req, &adm_providers);
    op->ok_status = 201;
    op->doc = json_dumps(doc, JSON_COMPACT);
    int rc;
    if (count > 0) {
        /* The AAD binds the sealed headers to their row id: take the id first. */
        op->secret = plain;
        rc = adm_submit(op, "SELECT nextval(pg_get_serial_sequence('ai_providers', 'id'))", 0, NULL,
                        step_insert);
    } else {
        forget(plain);
        adm_extra_t names = {"extra_header_names", NAMES_EXPR};
        lx_buf_t sql;
        lx_buf_init(&sql, 1024);
        adm_sql_insert(&sql, &adm_providers, doc, &names,
                       json_object_get(doc, "extra_header_names") ? 1 : 0);
        rc = adm_submit(op, sql.p, 1, (const char *const[]){op->doc}, adm_step_one);
        lx_buf_free(&sql);
    }
    json_decref(doc);
    return rc;
}

/* A PATCH that sets extra_headers replaces them all ({} removes them). */
int adm_provider_update(lx_admin_t *a, lx_req_t *req, int64_t id)
{
    json_t *doc = adm_read_doc(req, &adm_providers, false);
    if (doc == NULL)
        return LX_OK;
    size_t count;
    char *plain = take_headers(doc, &count);
    lx_buf_t hex;
    lx_buf_init(&hex, 256);
    if (count > 0) {
        int rc = a->cfg->has_master_key ? lx_headers_seal_hex(a->cfg->master_key, id, plain, &hex)
                                        : LX_ERROR;
        forget(plain);
        if (rc != LX_OK) {
            json_decref(doc);
            lx_buf_free(&hex);
            if (!a->cfg->has_master_key)
                no_master_key(req);
            else
                lx_req_reply_error_status(req, 500, LX_E_INTERNAL, "cannot seal the extra_headers",
                                          "extra_headers");
            return LX_OK;
        }
    } else {
        forget(plain);
    }
    /* with new headers, the plain column of an older version empties too */
    const adm_extra_t extra[] = {{"extra_headers_sealed", count > 0 ? "$3::bytea" : "NULL"},
                                 {"extra_header_names", NAMES_EXPR},
                                 {"extra_headers", "'{}'::jsonb"}};
    int nextra = json_object_get(doc, "extra_header_names") ? 3 : 0;
    lx_buf_t sql;
    lx_buf_init(&sql, 1024);
    adm_sql_update(&sql, &adm_providers, doc, extra, nextra);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    const char *params[] = {text, ids, hex.p};
    adm_op_t *op = adm_op_new(a, req, &adm_providers);
    op->id = id;
    int rc = adm_submit(op, sql.p, count > 0 ? 3 : 2, params, adm_step_one);
    free(text);
    lx_buf_free(&sql);
    lx_buf_free(&hex);
    return rc;
}
