/* test_roles.c - unit tests for src/auth/roles.c and the role column of
 * the admin route table (router.c): role names, who may use what, the 403
 * message, and the table's invariants (viewers only read; operators never
 * reach keys, teams, users, usage or audit; team admins only keys, users
 * and usage; nobody but admin reaches teams). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "admin/admin.h"
#include "auth/roles.h"

#include <string.h>

static void test_parse_and_names(void **state)
{
    (void)state;
    assert_int_equal(lx_role_parse(lx_str("admin")), LX_ROLE_ADMIN);
    assert_int_equal(lx_role_parse(lx_str("operator")), LX_ROLE_OPERATOR);
    assert_int_equal(lx_role_parse(lx_str("team_admin")), LX_ROLE_TEAM_ADMIN);
    assert_int_equal(lx_role_parse(lx_str("viewer")), LX_ROLE_VIEWER);
    assert_int_equal(lx_role_parse(lx_str("root")), LX_ROLE_UNKNOWN); /* only the admin key */
    assert_int_equal(lx_role_parse(lx_str("Admin")), LX_ROLE_UNKNOWN);
    assert_int_equal(lx_role_parse(lx_str("")), LX_ROLE_UNKNOWN);
    assert_string_equal(lx_role_name(LX_ROLE_TEAM_ADMIN), "team_admin");
}

static void test_allows(void **state)
{
    (void)state;
    assert_true(lx_role_allows(LX_ROLE_ROOT, 0));
    assert_true(lx_role_allows(LX_ROLE_ADMIN, 0));
    assert_false(lx_role_allows(LX_ROLE_OPERATOR, 0));
    assert_true(lx_role_allows(LX_ROLE_OPERATOR, LX_R_OPS));
    assert_false(lx_role_allows(LX_ROLE_VIEWER, LX_R_OPS | LX_R_TEAM));
    assert_true(lx_role_allows(LX_ROLE_VIEWER, LX_R_TEAM | LX_R_VIEW));
    assert_false(lx_role_allows(LX_ROLE_UNKNOWN, ~0u));
}

static void test_denied_message(void **state)
{
    (void)state;
    char m[300];
    lx_role_denied(LX_ROLE_VIEWER, "viewer", "POST", "keys", m, sizeof m);
    assert_string_equal(m, "role 'viewer' may not use POST /api/v1/admin/ai/keys");
    lx_role_denied(LX_ROLE_UNKNOWN, "auditor", "GET", "audit", m, sizeof m);
    assert_non_null(strstr(m, "role 'auditor' is not an admin role"));
    /* a claim that is not a plain word is never echoed */
    lx_role_denied(LX_ROLE_UNKNOWN, "<script>", "GET", "audit", m, sizeof m);
    assert_null(strstr(m, "<script>"));
    assert_non_null(strstr(m, "an unknown role"));
    lx_role_denied(LX_ROLE_UNKNOWN, "", "GET", "audit", m, sizeof m);
    assert_non_null(strstr(m, "no role claim"));
}

static bool starts(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

static void test_route_table(void **state)
{
    (void)state;
    const char *method, *pattern;
    size_t n = 0;
    for (size_t i = 0; lx_admin_route_at(i, &method, &pattern); i++, n++) {
        unsigned roles = lx_admin_route_roles(i);
        bool view = lx_role_allows(LX_ROLE_VIEWER, roles);
        bool ops = lx_role_allows(LX_ROLE_OPERATOR, roles);
        bool team = lx_role_allows(LX_ROLE_TEAM_ADMIN, roles);
        bool upstream = starts(pattern, "providers") || starts(pattern, "connections") ||
                        starts(pattern, "models") || starts(pattern, "groups");
        /* reset-spend is the admin's only: it is not confined to a team */
        bool reset = strstr(pattern, "/reset-spend") != NULL;
        bool people = (starts(pattern, "keys") || starts(pattern, "users")) && !reset;
        bool usage = starts(pattern, "usage/");
        /* whoami: every role may ask who it is */
        bool whoami = strcmp(pattern, "whoami") == 0;
        bool health = strcmp(pattern, "health") == 0; /* read-only: operators and viewers */
        /* every caller's tasks: operators, and viewers read them */
        bool tasks = starts(pattern, "tasks");
        if (view)
            assert_string_equal(method, "GET");
        assert_true(view == (usage || whoami || health || strcmp(pattern, "audit") == 0 ||
                             (tasks && strcmp(method, "GET") == 0)));
        assert_true(ops == (upstream || whoami || health || tasks));
        assert_true(team == (people || usage || whoami));
        if (starts(pattern, "teams"))
            assert_int_equal(roles, 0);
        assert_true(lx_role_allows(LX_ROLE_ADMIN, roles));
        assert_false(lx_role_allows(LX_ROLE_UNKNOWN, roles));
    }
    assert_true(n >= 45);
    assert_int_equal(lx_admin_route_roles(n), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_names),
        cmocka_unit_test(test_allows),
        cmocka_unit_test(test_denied_message),
        cmocka_unit_test(test_route_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
