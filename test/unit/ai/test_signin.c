/* test_signin.c - unit tests for src/ai/signin.c and registry_principals.c:
 * which bearers are taken for JWTs (never an llmux API key), how a verified
 * token's claims map to the snapshot's user and team (unknown, disabled, the
 * team claim over the user's own team) and the allowance set they count
 * against. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ai/registry_build.h"
#include "ai/signin.h"

#include <stdio.h>
#include <stdlib.h>

static void test_looks_jwt(void **state)
{
    (void)state;
    assert_true(lx_signin_looks_jwt(lx_str("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln")));
    assert_true(lx_signin_looks_jwt(lx_str("e30.e30."))); /* unsecured: refused later */
    assert_false(lx_signin_looks_jwt(lx_str("lx-0123456789ABCDEFGHIJabcdefghij0123456789")));
    assert_false(lx_signin_looks_jwt(lx_str("e30.e30")));
    assert_false(lx_signin_looks_jwt(lx_str(".e30.sig")));
    assert_false(lx_signin_looks_jwt(lx_str("e30..sig")));
    assert_false(lx_signin_looks_jwt(lx_str("e30.e30.sig.x")));
    assert_false(lx_signin_looks_jwt(lx_str("e30.e30.s g")));
    assert_false(lx_signin_looks_jwt(lx_str("e30.e30.s=")));
    assert_false(lx_signin_looks_jwt(lx_str("")));
}

static lx_snapshot_t *snap(void)
{
    static lx_principal_row_t rows[] = {
        {'u', 1, "alice", "active", 10, 5, 0, 0, 0}, {'u', 2, "bob", "disabled", 0, 0, 0, 0, 0},
        {'u', 3, "carol", "active", 0, 0, 0, 0, 0},  {'t', 10, "red", "active", 0, 0, 100, 0, 0},
        {'t', 11, "blue", "active", 0, 7, 0, 0, 0},  {'t', 12, "grey", "disabled", 0, 0, 0, 0, 0},
    };
    lx_registry_rows_t r = {.principals = rows, .nprincipals = 6};
    lx_snapshot_t *s = lx_calloc(1, sizeof *s);
    lx_snapshot_build_principals(s, &r);
    return s;
}

static lx_jwt_result_t claims(const char *user, const char *team)
{
    lx_jwt_result_t r = {0};
    snprintf(r.user, sizeof r.user, "%s", user);
    snprintf(r.team, sizeof r.team, "%s", team);
    return r;
}

static void test_map(void **state)
{
    (void)state;
    lx_snapshot_t *s = snap();
    lx_signin_who_t who;
    const char *why = NULL;
    lx_jwt_result_t c = claims("alice", "");
    assert_int_equal(lx_signin_map(s, &c, &who, &why), LX_OK);
    assert_int_equal(who.user->id, 1);
    assert_int_equal(who.team->id, 10); /* the user's own team */
    assert_null(who.allow.s[0]);
    assert_non_null(who.allow.s[1]); /* alice: rpm 5 */
    assert_string_equal(who.allow.s[1]->subject, "user:1");
    assert_non_null(who.allow.s[2]); /* red: rpd 100 */
    assert_string_equal(who.allow.s[2]->subject, "team:10");

    c = claims("alice", "blue"); /* the team claim names the team */
    assert_int_equal(lx_signin_map(s, &c, &who, &why), LX_OK);
    assert_int_equal(who.team->id, 11);
    assert_string_equal(who.allow.s[2]->subject, "team:11");

    c = claims("carol", ""); /* no team, no limits */
    assert_int_equal(lx_signin_map(s, &c, &who, &why), LX_OK);
    assert_null(who.team);
    assert_null(who.allow.s[1]);
    assert_null(who.allow.s[2]);

    c = claims("nobody", "");
    assert_int_equal(lx_signin_map(s, &c, &who, &why), LX_ERROR);
    assert_non_null(strstr(why, "unknown_user"));
    c = claims("bob", "");
    assert_int_equal(lx_signin_map(s, &c, &who, &why), LX_ERROR);
    assert_non_null(strstr(why, "user_disabled"));
    c = claims("alice", "green");
    assert_int_equal(lx_signin_map(s, &c, &who, &why), LX_ERROR);
    assert_non_null(strstr(why, "unknown_team"));
    c = claims("alice", "grey");
    assert_int_equal(lx_signin_map(s, &c, &who, &why), LX_ERROR);
    assert_non_null(strstr(why, "team_disabled"));

    assert_int_equal(lx_snapshot_team_by_id(s, 12)->id, 12);
    assert_null(lx_snapshot_team_by_id(s, 13));
    assert_null(lx_snapshot_user(s, lx_str("")));
    lx_snapshot_free_principals(s);
    free(s);
}

static void test_empty_snapshot(void **state)
{
    (void)state;
    lx_snapshot_t s = {0}; /* built from the configuration: no users */
    lx_jwt_result_t c = claims("alice", "");
    lx_signin_who_t who;
    const char *why = NULL;
    assert_int_equal(lx_signin_map(&s, &c, &who, &why), LX_ERROR);
    assert_null(lx_snapshot_team_by_id(&s, 1));
    lx_snapshot_free_principals(&s);
}

static void test_not_configured(void **state)
{
    (void)state;
    lx_signin_t off = {0};
    lx_jwt_result_t res;
    char msg[200];
    assert_int_equal(lx_signin_verify(&off, lx_str("e30.e30.e30"), 0, &res, msg, sizeof msg),
                     LX_ERROR);
    assert_non_null(strstr(msg, "not configured"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_looks_jwt),
        cmocka_unit_test(test_map),
        cmocka_unit_test(test_empty_snapshot),
        cmocka_unit_test(test_not_configured),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
