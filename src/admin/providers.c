/* providers.c - the ai_providers entity: fields, checks, views. */
#include "admin/internal.h"
#include "core/baseurl.h"

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

#define MASKED_VIEW                                                                                \
    "(to_jsonb(x) || jsonb_build_object('extra_headers', (SELECT "                                 \
    "coalesce(jsonb_object_agg(h.k, '***'), '{}'::jsonb) FROM "                                    \
    "jsonb_object_keys(x.extra_headers) AS h(k))))"

static const adm_field_t fields[] = {
    {"id", FT_BIGINT, F_READONLY, NULL},
    {"name", FT_TEXT, F_REQUIRED, chk_name},
    {"kind", FT_TEXT, F_REQUIRED, chk_kind},
    {"base_url", FT_TEXT, F_REQUIRED, chk_url},
    {"status", FT_TEXT, 0, adm_chk_status},
    {"extra_headers", FT_JSONB, 0, chk_headers},
    {"default_connection_id", FT_BIGINT, F_NULLABLE, adm_chk_id},
    {"connect_timeout_ms", FT_INT, F_NULLABLE, adm_chk_positive},
    {"first_byte_timeout_ms", FT_INT, F_NULLABLE, adm_chk_positive},
    {"idle_timeout_ms", FT_INT, F_NULLABLE, adm_chk_positive},
    {"total_timeout_ms", FT_INT, F_NULLABLE, adm_chk_positive},
    {"created_at", FT_TS, F_READONLY, NULL},
    {"updated_at", FT_TS, F_READONLY, NULL},
};

static const adm_filter_t filters[] = {
    {"status", "status", "text", adm_chk_text_status},
    {"kind", "kind", "text", chk_kind},
    {"name", "name", "text", NULL},
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
