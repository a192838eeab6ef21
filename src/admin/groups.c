/* groups.c - routing groups (ai_groups) and their members
 * (ai_group_members, a sub-resource of a group). */
#include "admin/internal.h"

static bool chk_strategy(const char *f, const json_t *v, adm_verr_t *e)
{
    static const char *const names[] = {"round_robin", "smooth_weighted", "weighted_random",
                                        "priority",    "least_latency",   "least_busy",
                                        "lowest_cost"};
    const char *s = json_string_value(v);
    for (size_t i = 0; i < LX_ARRAY_LEN(names); i++)
        if (strcmp(s, names[i]) == 0)
            return true;
    return adm_verr(e, f,
                    "'%s' must be one of round_robin, smooth_weighted, weighted_random, priority, "
                    "least_latency, least_busy, lowest_cost",
                    f);
}

static const adm_field_t group_fields[] = {
    {"id", FT_BIGINT, F_READONLY, NULL},
    {"name", FT_TEXT, F_REQUIRED, adm_chk_model_name},
    {"strategy", FT_TEXT, 0, chk_strategy},
    {"status", FT_TEXT, 0, adm_chk_status},
    {"description", FT_TEXT, F_NULLABLE, adm_chk_text},
    {"members", FT_VIRTUAL, F_READONLY, NULL},
    {"created_at", FT_TS, F_READONLY, NULL},
    {"updated_at", FT_TS, F_READONLY, NULL},
};

static const adm_filter_t group_filters[] = {
    {"status", "status", "text", adm_chk_text_status},
    {"strategy", "strategy", "text", chk_strategy},
    {"name", "name", "text", NULL},
};

#define GROUP_VIEW                                                                                 \
    "(to_jsonb(x) || jsonb_build_object('members', coalesce((SELECT jsonb_agg(to_jsonb(m) ORDER "  \
    "BY m.priority, m.id) FROM ai_group_members m WHERE m.group_id = x.id), '[]'::jsonb)))"

const adm_entity_t adm_groups = {
    .name = "groups",
    .singular = "group",
    .table = "ai_groups",
    .fields = group_fields,
    .nfields = LX_ARRAY_LEN(group_fields),
    .filters = group_filters,
    .nfilters = LX_ARRAY_LEN(group_filters),
    .view = GROUP_VIEW,
    .has_updated_at = true,
};

static const adm_field_t member_fields[] = {
    {"id", FT_BIGINT, F_READONLY, NULL},
    {"group_id", FT_BIGINT, F_READONLY, NULL},
    {"provider_id", FT_BIGINT, F_REQUIRED, adm_chk_id},
    {"upstream_name", FT_TEXT, F_REQUIRED, adm_chk_model_name},
    {"connection_id", FT_BIGINT, F_NULLABLE, adm_chk_id},
    {"weight", FT_INT, 0, adm_chk_nonneg},
    {"priority", FT_INT, 0, adm_chk_int32},
    {"created_at", FT_TS, F_READONLY, NULL},
};

const adm_entity_t adm_members = {
    .name = "group_members",
    .notify = "groups",
    .singular = "group member",
    .table = "ai_group_members",
    .parent_col = "group_id",
    .parent_table = "ai_groups",
    .fields = member_fields,
    .nfields = LX_ARRAY_LEN(member_fields),
    .view = "to_jsonb(x)",
};
