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
        {'u', 1, "alice", "active", 10, 5, 0, 0, 0, true, 2.5, "daily", "{\"m1\": {\"rpm\": 3}}"},
        {'u', 2, "bob", "disabled", 0, 0, 0, 0, 0, false, 0, NULL, NULL},
        {'u', 3, "carol", "active", 0, 0, 0, 0, 0, false, 0, NULL, "{}"},
        {'t', 10, "red", "active", 0, 0, 100, 0, 0, false, 0, NULL, NULL},
        {'t', 11, "blue", "active", 0, 7, 0, 0, 0, true, 9, NULL, "{\"m2\": {\"budget_usd\": 1}}"},
        {'t', 12, "grey", "disabled", 0, 0, 0, 0, 0, false, 0, NULL, NULL},
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
    /* JWT users' budgets: the user's and team's spend slots, and overrides */
    assert_null(who.spend.s[0]);
    assert_string_equal(who.spend.s[1]->subject, "user:1");
    assert_int_equal(atomic_load(&who.spend.s[1]->budget), 2500000000LL);
    assert_int_equal(atomic_load(&who.spend.s[1]->period), LX_PERIOD_DAILY);
    assert_string_equal(who.spend.s[2]->subject, "team:10");
    assert_int_equal(atomic_load(&who.spend.s[2]->budget), -1);
    assert_int_equal(who.mls[1]->n, 1);
    assert_string_equal(who.mls[1]->v[0].allow->subject, "user:1@m1");
    assert_null(who.mls[2]);

    c = claims("alice", "blue"); /* the team claim names the team */
    assert_int_equal(lx_signin_map(s, &c, &who, &why), LX_OK);
    assert_int_equal(who.team->id, 11);
    assert_string_equal(who.allow.s[2]->subject, "team:11");
    assert_string_equal(who.mls[2]->v[0].spend->subject, "team:11@m2");
    assert_null(who.mls[2]->v[0].allow); /* a budget only */

    c = claims("carol", ""); /* no team, no limits */
    assert_int_equal(lx_signin_map(s, &c, &who, &why), LX_OK);
    assert_null(who.team);
    assert_null(who.allow.s[1]);
    assert_null(who.allow.s[2]);
    assert_non_null(who.spend.s[1]); /* spend is tracked for every user */
    assert_null(who.mls[1]);

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

/* HS256 over {"iss":"https://idp.test","aud":"llmux","sub":"alice",
 * "exp":2000000000} with CACHE_SECRET (made once with Python's hmac). */
#define CACHE_TOKEN                                                                                \
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."                                                        \
    "eyJpc3MiOiJodHRwczovL2lkcC50ZXN0IiwiYXVkIjoibGxtdXgiLCJz"                                     \
    "dWIiOiJhbGljZSIsImV4cCI6MjAwMDAwMDAwMH0.YT2GGLZTQXDpzoMnrQ-q7LXI8UZUTrlyFvrAsOay_II"
static const char CACHE_SECRET[] = "0123456789abcdef0123456789abcdef-signin";

/* A token verified once is answered from the thread's cache, with the same
 * claims, until it expires: a cached token is refused at exp + leeway
 * like a fresh one. A token with another signature is not a hit. */
static void test_verified_cache(void **state)
{
    (void)state;
    char msg[200];
    lx_signin_t si = {.ks = lx_jwt_keyset_new(),
                      .pol = {.issuer = "https://idp.test", .audience = "llmux", .leeway_s = 60}};
    assert_int_equal(lx_jwt_keyset_add_hmac(si.ks, NULL, (const unsigned char *)CACHE_SECRET,
                                            sizeof CACHE_SECRET - 1, msg, sizeof msg),
                     LX_OK);
    lx_jwt_result_t res;
    uint64_t hits = lx_signin_cache_hits();
    assert_int_equal(lx_signin_verify(&si, lx_str(CACHE_TOKEN), 1900000000, &res, msg, sizeof msg),
                     LX_OK);
    assert_int_equal(lx_signin_cache_hits(), hits);
    memset(&res, 0, sizeof res);
    assert_int_equal(lx_signin_verify(&si, lx_str(CACHE_TOKEN), 1900000001, &res, msg, sizeof msg),
                     LX_OK);
    assert_int_equal(lx_signin_cache_hits(), hits + 1);
    assert_string_equal(res.user, "alice");
    assert_int_equal(res.exp, 2000000000);
    /* still within the leeway, then past it */
    assert_int_equal(lx_signin_verify(&si, lx_str(CACHE_TOKEN), 2000000059, &res, msg, sizeof msg),
                     LX_OK);
    assert_int_equal(lx_signin_verify(&si, lx_str(CACHE_TOKEN), 2000000060, &res, msg, sizeof msg),
                     LX_ERROR);
    assert_non_null(strstr(msg, "expired"));
    /* the same header and claims with a forged signature */
    char forged[sizeof CACHE_TOKEN];
    memcpy(forged, CACHE_TOKEN, sizeof forged);
    forged[sizeof forged - 3] = forged[sizeof forged - 3] == 'A' ? 'B' : 'A';
    hits = lx_signin_cache_hits();
    assert_int_equal(lx_signin_verify(&si, lx_str(forged), 1900000000, &res, msg, sizeof msg),
                     LX_ERROR);
    assert_int_equal(lx_signin_cache_hits(), hits);
    lx_jwt_keyset_free(si.ks);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_looks_jwt),      cmocka_unit_test(test_map),
        cmocka_unit_test(test_empty_snapshot), cmocka_unit_test(test_not_configured),
        cmocka_unit_test(test_verified_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
