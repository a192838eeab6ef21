/* principal.c - who calls the admin API: a JWT's role, user and team
 * (ai/signin.h), a team_admin's confinement to its team, and the audit
 * log's actor. */
#include "admin/internal.h"
#include "ai/signin.h"
#include "core/clock.h"

#include <stdio.h>
#include <stdlib.h>

int adm_principal_from_jwt(lx_str_t token, adm_principal_t *p, int *status, char *msg, size_t cap)
{
    memset(p, 0, sizeof *p);
    lx_jwt_result_t res;
    *status = 401;
    if (lx_signin_verify(lx_signin(), token, lx_wall_ms() / 1000, &res, msg, cap) != LX_OK)
        return LX_ERROR;
    p->role = res.role[0] ? lx_role_parse(lx_str(res.role)) : LX_ROLE_UNKNOWN;
    lx_copy_cstr(p->claim, sizeof p->claim, strlen(res.role) < sizeof p->claim ? res.role : "?");
    snprintf(p->actor, sizeof p->actor, "jwt:%s", res.user);
    if (p->role != LX_ROLE_TEAM_ADMIN)
        return LX_OK;
    /* a team_admin's team: the team claim, else its user record's team */
    lx_snapshot_t *snap = lx_registry_acquire();
    const lx_principal_t *t = NULL;
    if (snap && res.team[0]) {
        t = lx_snapshot_team(snap, lx_str(res.team));
    } else if (snap) {
        const lx_principal_t *u = lx_snapshot_user(snap, lx_str(res.user));
        t = u && u->team_id ? lx_snapshot_team_by_id(snap, u->team_id) : NULL;
    }
    if (t) {
        p->team_id = t->id;
        lx_copy_cstr(p->team, sizeof p->team, t->name);
    }
    lx_registry_release(snap);
    if (p->team_id == 0) {
        *status = 403;
        snprintf(msg, cap,
                 "role 'team_admin' needs a team: the token's team claim (or its user's record) "
                 "must name an existing team");
        return LX_ERROR;
    }
    return LX_OK;
}

int64_t adm_scope_team(const lx_admin_t *a)
{
    return a->who && a->who->role == LX_ROLE_TEAM_ADMIN ? a->who->team_id : 0;
}

static bool other_team(adm_verr_t *e, const char *field)
{
    adm_verr(e, field, "role 'team_admin' may only use its own team: '%s' names another", field);
    e->status = 403;
    e->err = LX_E_FORBIDDEN;
    return false;
}

bool adm_scope_doc(const lx_admin_t *a, json_t *doc, bool create, adm_verr_t *e)
{
    int64_t team = adm_scope_team(a);
    if (team == 0)
        return true;
    memset(e, 0, sizeof *e);
    json_t *id = json_object_get(doc, "team_id"), *name = json_object_get(doc, "team");
    if (id && (!json_is_integer(id) || json_integer_value(id) != team))
        return other_team(e, "team_id");
    if (name && (!json_is_string(name) || strcmp(json_string_value(name), a->who->team) != 0))
        return other_team(e, "team");
    json_t *user = json_object_get(doc, "user_id");
    if (user && json_is_integer(user)) { /* a key of its team for a user of another: no */
        lx_snapshot_t *snap = lx_registry_acquire();
        const lx_principal_t *u =
            snap ? lx_snapshot_user_by_id(snap, json_integer_value(user)) : NULL;
        bool ours = u && u->team_id == team;
        lx_registry_release(snap);
        if (!ours)
            return other_team(e, "user_id");
    }
    if (create && id == NULL && name == NULL)
        json_object_set_new(doc, "team_id", json_integer(team));
    return true;
}

char *adm_actor_sql(const char *sql, int nparams)
{
    static const char from[] = "SELECT 'admin', ";
    if (strstr(sql, "audit_log") == NULL || strstr(sql, from) == NULL)
        return NULL;
    char to[32];
    snprintf(to, sizeof to, "SELECT $%d::text, ", nparams + 1);
    lx_buf_t out;
    lx_buf_init(&out, strlen(sql) + 64);
    const char *p = sql, *hit;
    while ((hit = strstr(p, from)) != NULL) {
        lx_buf_append(&out, p, (size_t)(hit - p));
        lx_buf_append_cstr(&out, to);
        p = hit + sizeof from - 1;
    }
    lx_buf_append_cstr(&out, p);
    lx_buf_append_char(&out, '\0');
    return out.p;
}
