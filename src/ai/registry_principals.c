/* registry_principals.c - a snapshot's users and teams, found by name for
 * sign-in by JWT (the user and team claims) and by id for a user's team,
 * each with its allowance slot (allow.h: the same slot a key of that user
 * or team counts against), its spend slot (budget.h) and its per-model
 * overrides (model_limit.h). Built off the loops with the rest of the
 * snapshot; read-only afterwards. */
#include "ai/registry_build.h"

#include <stdlib.h>

static void build(lx_principal_t **out, int *n, lx_strmap_t *map, const lx_registry_rows_t *rows,
                  char kind)
{
    int cnt = 0;
    for (int i = 0; i < rows->nprincipals; i++)
        cnt += rows->principals[i].kind == kind;
    *out = lx_calloc((size_t)cnt + 1, sizeof **out);
    lx_strmap_init(map, (size_t)cnt);
    *n = 0;
    for (int i = 0; i < rows->nprincipals; i++) { /* rows come by id */
        const lx_principal_row_t *r = &rows->principals[i];
        if (r->kind != kind || r->name == NULL)
            continue;
        lx_principal_t *p = &(*out)[(*n)++];
        p->id = r->id;
        p->name = lx_strdup(r->name);
        p->active = r->status && strcmp(r->status, "active") == 0;
        p->team_id = r->team_id;
        if (r->rpm > 0 || r->rpd > 0 || r->tpm > 0 || r->max_parallel > 0)
            p->slot = lx_allow_get_all(kind, r->id, r->rpm, r->rpd, r->tpm, r->max_parallel);
        lx_period_t per = lx_period_parse(r->budget_period);
        p->spend = lx_spend_get(kind, r->id, r->has_budget ? r->budget : -1, per);
        lx_model_limits_build(&p->ml, r->model_limits, kind, r->id, per);
        lx_strmap_put(map, p->name, strlen(p->name), *n - 1);
    }
}

void lx_snapshot_build_principals(lx_snapshot_t *s, const lx_registry_rows_t *rows)
{
    build(&s->users, &s->nusers, &s->user_by_name, rows, 'u');
    build(&s->teams, &s->nteams, &s->team_by_name, rows, 't');
}

void lx_snapshot_free_principals(lx_snapshot_t *s)
{
    for (int i = 0; i < s->nusers; i++)
        free(s->users[i].name), lx_model_limits_free(&s->users[i].ml);
    for (int i = 0; i < s->nteams; i++)
        free(s->teams[i].name), lx_model_limits_free(&s->teams[i].ml);
    free(s->users);
    free(s->teams);
    if (s->users)
        lx_strmap_free(&s->user_by_name);
    if (s->teams)
        lx_strmap_free(&s->team_by_name);
}

static const lx_principal_t *by_name(const lx_principal_t *v, int n, const lx_strmap_t *m,
                                     lx_str_t name)
{
    if (n == 0 || name.n == 0)
        return NULL;
    int32_t i = lx_strmap_get(m, name);
    return i < 0 ? NULL : &v[i];
}

const lx_principal_t *lx_snapshot_user(const lx_snapshot_t *s, lx_str_t name)
{
    return by_name(s->users, s->nusers, &s->user_by_name, name);
}

const lx_principal_t *lx_snapshot_team(const lx_snapshot_t *s, lx_str_t name)
{
    return by_name(s->teams, s->nteams, &s->team_by_name, name);
}

static const lx_principal_t *by_id(const lx_principal_t *v, int n, int64_t id)
{
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (v[mid].id == id)
            return &v[mid];
        if (v[mid].id < id)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

const lx_principal_t *lx_snapshot_team_by_id(const lx_snapshot_t *s, int64_t id)
{
    return by_id(s->teams, s->nteams, id);
}

const lx_principal_t *lx_snapshot_user_by_id(const lx_snapshot_t *s, int64_t id)
{
    return by_id(s->users, s->nusers, id);
}
