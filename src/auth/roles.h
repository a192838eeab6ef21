/* roles.h - the admin API's roles: who may use which route.
 *
 * The admin key is root and may use every route. A JWT (ai/signin.h)
 * carries a role claim: "admin" (every route), "operator" (providers,
 * connections and their tests, models, groups and members, deployment
 * health), "team_admin" (keys, users and usage of its own team only),
 * "viewer" (usage, deployment health and the audit log, read only). Each route of the table in router.c declares the
 * roles besides root and admin that may use it (LX_ROLE_BIT masks): that
 * table is the one place this is decided.
 *
 * Pure functions over static data: no allocation, any thread. */
#ifndef LX_AUTH_ROLES_H
#define LX_AUTH_ROLES_H

#include "core/common.h"

typedef enum {
    LX_ROLE_ROOT = 0, /* the admin key */
    LX_ROLE_ADMIN,
    LX_ROLE_OPERATOR,
    LX_ROLE_TEAM_ADMIN,
    LX_ROLE_VIEWER,
    LX_ROLE_UNKNOWN, /* a role claim llmux does not know: allowed nothing */
} lx_role_t;

#define LX_ROLE_BIT(r) (1u << (r))
#define LX_R_OPS       LX_ROLE_BIT(LX_ROLE_OPERATOR)
#define LX_R_TEAM      LX_ROLE_BIT(LX_ROLE_TEAM_ADMIN)
#define LX_R_VIEW      LX_ROLE_BIT(LX_ROLE_VIEWER)

/* The role a claim names (exact, case-sensitive); LX_ROLE_UNKNOWN else. */
lx_role_t lx_role_parse(lx_str_t s);
/* "root", "admin", "operator", "team_admin", "viewer", "unknown". */
const char *lx_role_name(lx_role_t r);
/* Whether role r may use a route whose table entry allows route_roles. */
bool lx_role_allows(lx_role_t r, unsigned route_roles);
/* The 403 message: "role 'viewer' may not use POST /api/v1/admin/ai/keys"
 * (claim: the role claim as the token has it, shown when it is a short
 * [a-z0-9_-] word, else "an unknown role"). */
void lx_role_denied(lx_role_t r, const char *claim, const char *method, const char *pattern,
                    char *out, size_t cap);

#endif
