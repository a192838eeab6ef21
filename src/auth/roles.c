/* roles.c - admin API roles (roles.h). */
#include "auth/roles.h"

#include <stdio.h>

static const char *const names[] = {
    [LX_ROLE_ROOT] = "root",         [LX_ROLE_ADMIN] = "admin",
    [LX_ROLE_OPERATOR] = "operator", [LX_ROLE_TEAM_ADMIN] = "team_admin",
    [LX_ROLE_VIEWER] = "viewer",     [LX_ROLE_UNKNOWN] = "unknown",
};

lx_role_t lx_role_parse(lx_str_t s)
{
    for (int r = LX_ROLE_ADMIN; r < LX_ROLE_UNKNOWN; r++)
        if (lx_str_eq_cstr(s, names[r]))
            return (lx_role_t)r;
    return LX_ROLE_UNKNOWN;
}

const char *lx_role_name(lx_role_t r)
{
    return (unsigned)r <= LX_ROLE_UNKNOWN ? names[r] : "unknown";
}

bool lx_role_allows(lx_role_t r, unsigned route_roles)
{
    if (r == LX_ROLE_ROOT || r == LX_ROLE_ADMIN)
        return true;
    if (r == LX_ROLE_UNKNOWN || (unsigned)r > LX_ROLE_UNKNOWN)
        return false;
    return (route_roles & LX_ROLE_BIT(r)) != 0;
}

static bool word(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n <= 32 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

void lx_role_denied(lx_role_t r, const char *claim, const char *method, const char *pattern,
                    char *out, size_t cap)
{
    if (r == LX_ROLE_UNKNOWN) {
        if (word(claim))
            snprintf(out, cap,
                     "role '%s' is not an admin role (admin, operator, team_admin, viewer): it may "
                     "not use %s /api/v1/admin/ai/%s",
                     claim, method, pattern);
        else
            snprintf(out, cap,
                     "the token has %s: it may not use %s /api/v1/admin/ai/%s (roles: admin, "
                     "operator, team_admin, viewer)",
                     claim && claim[0] ? "an unknown role" : "no role claim", method, pattern);
        return;
    }
    snprintf(out, cap, "role '%s' may not use %s /api/v1/admin/ai/%s", lx_role_name(r), method,
             pattern);
}
