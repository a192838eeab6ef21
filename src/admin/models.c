/* models.c - the ai_models entity (the catalog operators edit). */
#include "admin/internal.h"
#include "ai/catalog.h"

static bool chk_caps(const char *f, const json_t *v, adm_verr_t *e)
{
    size_t i;
    json_t *it;
    unsigned seen = 0;
    json_array_foreach(v, i, it)
    {
        unsigned c = lx_cap_from_name(json_string_value(it));
        if (c == 0)
            return adm_verr(e, f,
                            "'%s[%zu]' must be one of chat, stream, tools, vision, embeddings, "
                            "images, video, json",
                            f, i);
        if (seen & c)
            return adm_verr(e, f, "'%s[%zu]' is a duplicate", f, i);
        seen |= c;
    }
    return true;
}

/* public_name defaults to upstream_name. */
static bool fixup(json_t *doc, bool create, adm_verr_t *e)
{
    if (create && json_object_get(doc, "public_name") == NULL)
        json_object_set(doc, "public_name", json_object_get(doc, "upstream_name"));
    return true;
}

static const adm_field_t fields[] = {
    {"id", FT_BIGINT, F_READONLY, NULL, NULL, NULL},
    {"provider_id", FT_BIGINT, F_REQUIRED, adm_chk_id, NULL, NULL},
    {"upstream_name", FT_TEXT, F_REQUIRED, adm_chk_model_name, NULL, NULL},
    {"public_name", FT_TEXT, 0, adm_chk_model_name, NULL, NULL},
    {"capabilities", FT_TEXTARR, 0, chk_caps, NULL, NULL},
    {"context_window", FT_INT, F_NULLABLE, adm_chk_positive, NULL, NULL},
    {"max_output_tokens", FT_INT, F_NULLABLE, adm_chk_positive, NULL, NULL},
    {"input_cost_per_1m", FT_NUM, 0, adm_chk_money, NULL, NULL},
    {"output_cost_per_1m", FT_NUM, 0, adm_chk_money, NULL, NULL},
    {"cached_cost_per_1m", FT_NUM, 0, adm_chk_money, NULL, NULL},
    /* media: USD per second of video or per image (sql/017) */
    {"unit_cost_usd", FT_NUM, 0, adm_chk_money, NULL, NULL},
    {"status", FT_TEXT, 0, adm_chk_status, NULL, NULL},
    {"created_at", FT_TS, F_READONLY, NULL, NULL, NULL},
    {"updated_at", FT_TS, F_READONLY, NULL, NULL, NULL},
};

static const adm_filter_t filters[] = {
    {"provider_id", "provider_id", "bigint", adm_chk_text_id, NULL},
    {"status", "status", "text", adm_chk_text_status, NULL},
    {"public_name", "public_name", "text", NULL, NULL},
    {"upstream_name", "upstream_name", "text", NULL, NULL},
};

const adm_entity_t adm_models = {
    .name = "models",
    .singular = "model",
    .table = "ai_models",
    .fields = fields,
    .nfields = LX_ARRAY_LEN(fields),
    .filters = filters,
    .nfilters = LX_ARRAY_LEN(filters),
    .view = "to_jsonb(x)",
    .has_updated_at = true,
    .fixup = fixup,
};
