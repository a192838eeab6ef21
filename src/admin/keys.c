/* keys.c - client API keys (api_keys). A key is generated here, shown once
 * in the creation answer and stored only as its SHA-256 and a short prefix. */
#include "admin/internal.h"
#include "core/crypto.h"
#include "core/secret.h"

#include <stdio.h>
#include <stdlib.h>

#define KEY_CHARS 40

static const adm_field_t fields[] = {
    {"id", FT_BIGINT, F_READONLY, NULL},
    {"name", FT_TEXT, F_REQUIRED, adm_chk_label},
    {"owner", FT_TEXT, F_NULLABLE, adm_chk_label},
    {"team", FT_TEXT, F_NULLABLE, adm_chk_label},
    {"status", FT_TEXT, 0, adm_chk_status},
    {"expires_at", FT_TS, F_NULLABLE, adm_chk_rfc3339},
    {"allowed_models", FT_TEXTARR, F_NULLABLE, adm_chk_model_list},
    {"rate_limit_per_minute", FT_INT, F_NULLABLE, adm_chk_positive},
    {"budget_usd", FT_NUM, F_NULLABLE, adm_chk_money},
    {"prefix", FT_TEXT, F_READONLY, NULL},
    {"key", FT_VIRTUAL, F_READONLY, NULL},
    {"key_hash", FT_VIRTUAL, F_READONLY, NULL},
    {"created_at", FT_TS, F_READONLY, NULL},
    {"last_used_at", FT_TS, F_READONLY, NULL},
};

static const adm_filter_t filters[] = {
    {"status", "status", "text", adm_chk_text_status},
    {"name", "name", "text", NULL},
    {"owner", "owner", "text", NULL},
    {"team", "team", "text", NULL},
    {"prefix", "prefix", "text", NULL},
};

const adm_entity_t adm_keys = {
    .name = "keys",
    .singular = "API key",
    .table = "api_keys",
    .fields = fields,
    .nfields = LX_ARRAY_LEN(fields),
    .filters = filters,
    .nfilters = LX_ARRAY_LEN(filters),
    .view = "(to_jsonb(x) - 'key_hash')",
};

/* "lx-" + 40 base62 characters (about 238 bits), without modulo bias. */
static void new_key(char out[3 + KEY_CHARS + 1])
{
    static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    memcpy(out, "lx-", 3);
    int n = 0;
    unsigned char rnd[64];
    while (n < KEY_CHARS) {
        lx_random_bytes(rnd, sizeof rnd);
        for (size_t i = 0; i < sizeof rnd && n < KEY_CHARS; i++)
            if (rnd[i] < 248) /* 248 = 4 * 62 */
                out[3 + n++] = alphabet[rnd[i] % 62];
    }
    out[3 + KEY_CHARS] = '\0';
    explicit_bzero(rnd, sizeof rnd);
}

int adm_key_create(lx_admin_t *a, lx_req_t *req)
{
    json_t *doc = adm_read_doc(req, &adm_keys, true);
    if (doc == NULL)
        return LX_OK;
    char key[3 + KEY_CHARS + 1], prefix[16];
    new_key(key);
    snprintf(prefix, sizeof prefix, "%.11s", key); /* "lx-" + 8 */
    unsigned char hash[32];
    lx_sha256(key, strlen(key), hash);
    lx_buf_t hex;
    lx_buf_init(&hex, 80);
    lx_bytea_encode(hash, sizeof hash, &hex);

    static const adm_extra_t extra[] = {{"key_hash", "$2::bytea"}, {"prefix", "$3::text"}};
    lx_buf_t sql;
    lx_buf_init(&sql, 1024);
    adm_sql_insert(&sql, &adm_keys, doc, extra, 2);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    const char *params[] = {text, hex.p, prefix};
    adm_op_t *op = adm_op_new(a, req, &adm_keys);
    op->ok_status = 201;
    op->secret = lx_strdup(key);
    explicit_bzero(key, sizeof key);
    int rc = adm_submit(op, sql.p, 3, params, adm_step_one);
    free(text);
    lx_buf_free(&sql);
    lx_buf_free(&hex);
    return rc;
}
