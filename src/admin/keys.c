/* keys.c - client API keys (api_keys). A key is generated here, shown once
 * in the creation answer and stored only as its SHA-256 and a short prefix.
 * A key belongs to at most one team and one user (team_id, user_id: rows
 * that must exist, else 422 naming the field). "team" takes a team's name
 * instead of its id: an unknown name is refused with 422 (teams are
 * created only through /teams, never as a side effect of a key). Answers
 * show team_id and team (the name). */
#include "admin/internal.h"
#include "core/crypto.h"
#include "core/secret.h"

#include <stdio.h>
#include <stdlib.h>

#define KEY_CHARS 40

/* "team" (a name) and "team_id" set the same column: one or the other;
 * so do "rpm" and "rate_limit_per_minute" (the key's requests per minute). */
static bool fixup(json_t *doc, bool create, adm_verr_t *e)
{
    (void)create;
    if (json_object_get(doc, "team") && json_object_get(doc, "team_id"))
        return adm_verr(e, "team", "give 'team' (a team's name) or 'team_id', not both");
    if (json_object_get(doc, "rpm") && json_object_get(doc, "rate_limit_per_minute"))
        return adm_verr(e, "rpm",
                        "give 'rpm' or 'rate_limit_per_minute' (the same limit), not both");
    return adm_budget_seal(doc, "key", e);
}

static const adm_field_t fields[] = {
    {"id", FT_BIGINT, F_READONLY, NULL, NULL, NULL},
    {"name", FT_TEXT, F_REQUIRED, adm_chk_label, NULL, NULL},
    {"owner", FT_TEXT, F_NULLABLE, adm_chk_label, NULL, NULL},
    {"team", FT_TEXT, F_NULLABLE, adm_chk_label, "team_id",
     "llmux_team_id($1::jsonb->>'team', 'team')"},
    {"team_id", FT_BIGINT, F_NULLABLE, adm_chk_id, NULL, NULL},
    {"user_id", FT_BIGINT, F_NULLABLE, adm_chk_id, NULL, NULL},
    {"status", FT_TEXT, 0, adm_chk_status, NULL, NULL},
    {"expires_at", FT_TS, F_NULLABLE, adm_chk_rfc3339, NULL, NULL},
    {"allowed_models", FT_TEXTARR, F_NULLABLE, adm_chk_model_list, NULL, NULL},
    {"rate_limit_per_minute", FT_INT, F_NULLABLE, adm_chk_positive, NULL, NULL},
    {"rpm", FT_INT, F_NULLABLE, adm_chk_positive, "rate_limit_per_minute",
     "($1::jsonb->>'rpm')::int"},
    {"rpd", FT_INT, F_NULLABLE, adm_chk_positive, NULL, NULL},
    {"tpm", FT_INT, F_NULLABLE, adm_chk_positive, NULL, NULL},
    {"max_parallel", FT_INT, F_NULLABLE, adm_chk_positive, NULL, NULL},
    {"budget_usd", FT_NUM, F_NULLABLE, adm_chk_money, NULL, NULL},
    {"model_limits", FT_JSONB, 0, adm_chk_model_limits, NULL, NULL},
    {"budget_period", FT_TEXT, 0, adm_chk_period, NULL, NULL},
    {"budget_webhook_url", FT_TEXT, F_NULLABLE, adm_chk_webhook_url, NULL, NULL},
    {"budget_webhook_secret", FT_TEXT, F_NULLABLE, adm_chk_webhook_secret, NULL,
     "($1::jsonb->>'budget_webhook_secret')::bytea"},
    {"has_budget_webhook_secret", FT_VIRTUAL, F_READONLY, NULL, NULL, NULL},
    {"spend_usd", FT_NUM, F_READONLY, NULL, NULL, NULL},
    {"budget_reset_at", FT_TS, F_READONLY, NULL, NULL, NULL},
    {"prefix", FT_TEXT, F_READONLY, NULL, NULL, NULL},
    {"key", FT_VIRTUAL, F_READONLY, NULL, NULL, NULL},
    {"key_hash", FT_VIRTUAL, F_READONLY, NULL, NULL, NULL},
    {"created_at", FT_TS, F_READONLY, NULL, NULL, NULL},
    {"last_used_at", FT_TS, F_READONLY, NULL, NULL, NULL},
};

static const adm_filter_t filters[] = {
    {"status", "status", "text", adm_chk_text_status, NULL},
    {"name", "name", "text", NULL, NULL},
    {"owner", "owner", "text", NULL, NULL},
    {"team", "team_id", "text", NULL, "SELECT id FROM teams WHERE name ="},
    {"team_id", "team_id", "bigint", adm_chk_text_id, NULL},
    {"user_id", "user_id", "bigint", adm_chk_text_id, NULL},
    {"prefix", "prefix", "text", NULL, NULL},
};

const adm_entity_t adm_keys = {
    .name = "keys",
    .singular = "API key",
    .table = "api_keys",
    .fields = fields,
    .nfields = LX_ARRAY_LEN(fields),
    .filters = filters,
    .nfilters = LX_ARRAY_LEN(filters),
    .view =
        "(to_jsonb(x) - 'key_hash' - 'budget_webhook_secret') || jsonb_build_object('team', "
        "(SELECT t.name FROM teams t WHERE t.id = x.team_id), 'has_budget_webhook_secret', "
        "x.budget_webhook_secret IS NOT NULL, 'rpm', x.rate_limit_per_minute) || " ADM_SPEND_VIEW(
            "key"),
    .fixup = fixup,
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
    adm_verr_t e;
    if (!adm_scope_doc(a, doc, true, &e)) { /* a team_admin: its own team */
        json_decref(doc);
        adm_reply_verr(req, &e);
        return LX_OK;
    }
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
