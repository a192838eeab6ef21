/* test_deploy.c - unit tests for deployments (credential x upstream model):
 * their keys and the request-path share of the state table (state.c), the
 * credential's most-failing rule (deploy.c), and which state each signal of
 * an attempt lands on (attempt.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ai/routing/attempt.h"

#include <stdio.h>

static lx_state_table_t *tab;
static int64_t next_id = 1;
static lx_route_conf_t conf;

#define NOW INT64_C(1700000000000)

static int setup(void **state)
{
    (void)state;
    tab = lx_state_table_new(4096);
    lx_route_conf_default(&conf);
    return tab ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    lx_state_table_free(tab);
    return 0;
}

/* A credential and one of its deployments, fresh. */
static void pair(lx_route_state_t **cred, lx_route_state_t **dep, const char *model)
{
    int64_t id = next_id++;
    *cred = lx_state_table_get(tab, lx_state_key_cred(id));
    *dep = lx_state_table_get(tab, lx_state_key_deploy(id, lx_str(model)));
    assert_non_null(*cred);
    assert_non_null(*dep);
    assert_ptr_not_equal(*cred, *dep);
}

static lx_verdict_t classify(int status, lx_xfer_t o, bool quota)
{
    lx_attempt_facts_t f = {.status = status,
                            .transport = o,
                            .request_sent = o == LX_XFER_OK,
                            .idempotent = true,
                            .quota = quota};
    return lx_failure_classify(&f);
}

/* One attempt on (cred, dep) ending with v. */
static void attempt(lx_route_state_t *cred, lx_route_state_t *dep, lx_verdict_t v, const char *ra,
                    int64_t now)
{
    lx_attempt_t a;
    assert_int_equal(lx_attempt_begin(&a, cred, dep, NULL, 0, 0, &conf, now), LX_WHY_OK);
    lx_attempt_end(&a, &conf, &v, -1, ra, now);
}

static void test_keys(void **state)
{
    (void)state;
    uint64_t k = lx_state_key_deploy(7, LX_STR("gpt-4o"));
    assert_true(k != 0);
    assert_int_equal(k >> 62, 2); /* its own namespace */
    assert_int_equal(lx_state_key_deploy(7, LX_STR("gpt-4o")), k);
    /* the name is read by length, not up to a NUL */
    assert_int_equal(lx_state_key_deploy(7, (lx_str_t){"gpt-4o-mini", 6}), k);
    assert_true(lx_state_key_deploy(7, LX_STR("gpt-4o-mini")) != k);
    assert_true(lx_state_key_deploy(8, LX_STR("gpt-4o")) != k);
    assert_true(lx_state_key_deploy(7, LX_STR("GPT-4o")) != k);
    assert_true(k != lx_state_key_cred(7) && k != lx_state_key_member(7, 0));
    assert_int_equal(lx_state_key_deploy(0, LX_STR("m")), 0);
    assert_int_equal(lx_state_key_deploy(-1, LX_STR("m")), 0);
    assert_int_equal(lx_state_key_deploy(7, LX_STR("")), 0);
    assert_int_equal(lx_state_key_deploy(7, (lx_str_t){NULL, 0}), 0);
    /* no two of 20000 pairs (200 credentials x 100 models) share a key */
    lx_state_table_t *t = lx_state_table_new(32768);
    char name[32];
    for (int c = 1; c <= 200; c++) {
        for (int m = 0; m < 100; m++) {
            snprintf(name, sizeof name, "model-%d", m);
            lx_route_state_t *st = lx_state_table_get(t, lx_state_key_deploy(c, lx_str(name)));
            assert_non_null(st);
            assert_int_equal(atomic_load(&st->inflight), 0);
            atomic_store(&st->inflight, 1); /* a second pair with this key would see 1 */
        }
    }
    assert_int_equal(lx_state_table_count(t), 20000);
    lx_state_table_free(t);
}

static void test_request_path_inserts_stop_at_half(void **state)
{
    (void)state;
    lx_state_table_t *t = lx_state_table_new(64);
    uint64_t k = 1;
    for (; k <= 32; k++)
        assert_non_null(lx_state_table_get_soft(t, k));
    assert_null(lx_state_table_get_soft(t, k));     /* half full: no more from requests */
    assert_non_null(lx_state_table_get_soft(t, 5)); /* present ones are still found */
    assert_non_null(lx_state_table_get(t, k));      /* the snapshot builder goes on */
    assert_int_equal(lx_state_table_count(t), 33);
    lx_state_table_free(t);
}

static void test_429_cools_only_the_deployment(void **state)
{
    (void)state;
    lx_route_state_t *cred, *a, *b;
    pair(&cred, &a, "a");
    b = lx_state_table_get(tab, lx_state_key_deploy(next_id - 1, LX_STR("b")));
    attempt(cred, a, classify(429, LX_XFER_OK, false), "20", NOW);
    assert_int_equal(lx_route_check(cred, a, &conf, NOW, 0, 0), LX_WHY_COOLING);
    assert_int_equal(lx_cooling_left_ms(a, NOW), 20000);
    assert_false(lx_cooling_active(cred, NOW));
    assert_int_equal(lx_route_check(cred, b, &conf, NOW, 0, 0), LX_WHY_OK);
    /* the credential still counts it as its error (health write-back) */
    assert_int_equal(lx_state_error_total(cred), 1);
    lx_cred_err_t code;
    lx_state_last_error(cred, &code);
    assert_int_equal(code, LX_CRED_ERR_RATE_LIMITED);
}

static void test_quota_and_402_cool_the_credential(void **state)
{
    (void)state;
    lx_route_state_t *cred, *a;
    pair(&cred, &a, "a");
    attempt(cred, a, classify(429, LX_XFER_OK, true), NULL, NOW);
    assert_true(lx_cooling_active(cred, NOW));
    assert_false(lx_cooling_active(a, NOW));
    lx_route_state_t *other =
        lx_state_table_get(tab, lx_state_key_deploy(next_id - 1, LX_STR("z")));
    assert_int_equal(lx_route_check(cred, other, &conf, NOW, 0, 0), LX_WHY_COOLING);

    pair(&cred, &a, "a");
    attempt(cred, a, classify(402, LX_XFER_OK, false), NULL, NOW);
    assert_true(lx_cooling_active(cred, NOW));
}

static void test_401_holds_the_credential_403_the_deployment(void **state)
{
    (void)state;
    lx_route_state_t *cred, *a, *b;
    pair(&cred, &a, "a");
    b = lx_state_table_get(tab, lx_state_key_deploy(next_id - 1, LX_STR("b")));
    attempt(cred, a, classify(403, LX_XFER_OK, false), NULL, NOW);
    assert_int_equal(lx_route_check(cred, a, &conf, NOW, 0, 0), LX_WHY_MODEL_DENIED);
    assert_int_equal(lx_route_check(cred, b, &conf, NOW, 0, 0), LX_WHY_OK);
    assert_int_equal(lx_route_check(cred, a, &conf, NOW + conf.auth_hold_ms, 0, 0), LX_WHY_OK);
    lx_attempt_t at;
    assert_int_equal(lx_attempt_begin(&at, cred, a, NULL, 0, 0, &conf, NOW), LX_WHY_MODEL_DENIED);
    assert_false(at.active);

    attempt(cred, b, classify(401, LX_XFER_OK, false), NULL, NOW);
    assert_int_equal(lx_route_check(cred, b, &conf, NOW, 0, 0), LX_WHY_AUTH_FAILED);
    lx_route_state_t *c = lx_state_table_get(tab, lx_state_key_deploy(next_id - 1, LX_STR("c")));
    assert_int_equal(lx_route_check(cred, c, &conf, NOW, 0, 0), LX_WHY_AUTH_FAILED);
    /* the route error of a 403-held target: unavailable, with its own reason */
    lx_route_excl_t x = {{0}};
    x.n[LX_WHY_MODEL_DENIED] = 1;
    lx_route_why_t why;
    assert_int_equal(lx_route_error(&x, 1, &why), LX_E_UNAVAILABLE);
    assert_int_equal(why, LX_WHY_MODEL_DENIED);
}

static void test_5xx_opens_the_deployment_connect_failures_the_credential(void **state)
{
    (void)state;
    lx_route_state_t *cred, *a, *b;
    pair(&cred, &a, "a");
    b = lx_state_table_get(tab, lx_state_key_deploy(next_id - 1, LX_STR("b")));
    for (int i = 0; i < 5; i++)
        attempt(cred, a, classify(500, LX_XFER_OK, false), NULL, NOW + i);
    assert_int_equal(lx_breaker_state(a), LX_BRK_OPEN);
    assert_int_equal(lx_breaker_state(cred), LX_BRK_CLOSED);
    assert_int_equal(lx_route_check(cred, a, &conf, NOW + 10, 0, 0), LX_WHY_BREAKER_OPEN);
    assert_int_equal(lx_route_check(cred, b, &conf, NOW + 10, 0, 0), LX_WHY_OK);
    /* after open_ms the deployment lets one probe through; success closes it */
    int64_t t = NOW + conf.breaker.open_ms + 10;
    lx_attempt_t at;
    assert_int_equal(lx_attempt_begin(&at, cred, a, NULL, 0, 0, &conf, t), LX_WHY_OK);
    assert_true(at.dep_probe);
    assert_false(at.probe);
    lx_verdict_t ok = classify(200, LX_XFER_OK, false);
    assert_int_equal(lx_attempt_end(&at, &conf, &ok, 100, NULL, t), LX_BRK_EV_CLOSED);
    assert_int_equal(lx_breaker_state(a), LX_BRK_CLOSED);

    pair(&cred, &a, "a");
    b = lx_state_table_get(tab, lx_state_key_deploy(next_id - 1, LX_STR("b")));
    for (int i = 0; i < 5; i++)
        attempt(cred, i % 2 ? a : b, classify(0, LX_XFER_CONNECT_FAILED, false), NULL, NOW + i);
    assert_int_equal(lx_breaker_state(cred), LX_BRK_OPEN);
    assert_int_equal(lx_breaker_state(a), LX_BRK_CLOSED);
    lx_route_state_t *c = lx_state_table_get(tab, lx_state_key_deploy(next_id - 1, LX_STR("c")));
    assert_int_equal(lx_route_check(cred, c, &conf, NOW + 10, 0, 0), LX_WHY_BREAKER_OPEN);
}

static void test_no_deployment_state_falls_back_on_the_credential(void **state)
{
    (void)state;
    lx_route_state_t *cred, *a;
    pair(&cred, &a, "a");
    attempt(cred, NULL, classify(429, LX_XFER_OK, false), "3", NOW);
    assert_true(lx_cooling_active(cred, NOW));
    pair(&cred, &a, "a");
    for (int i = 0; i < 5; i++)
        attempt(cred, NULL, classify(500, LX_XFER_OK, false), NULL, NOW + i);
    assert_int_equal(lx_breaker_state(cred), LX_BRK_OPEN);
    /* a deployment equal to its credential is no deployment */
    pair(&cred, &a, "a");
    attempt(cred, cred, classify(403, LX_XFER_OK, false), NULL, NOW);
    assert_true(lx_state_auth_flagged(cred, NOW));
}

static void test_most_failing_rule(void **state)
{
    (void)state;
    int64_t w = conf.breaker.window_ms;
    int64_t t0 = (NOW / w) * w; /* the start of a window */
    lx_route_state_t *cred, *d[4];
    pair(&cred, &d[0], "m0");
    for (int i = 1; i < 4; i++) {
        char name[8];
        snprintf(name, sizeof name, "m%d", i);
        d[i] = lx_state_table_get(tab, lx_state_key_deploy(next_id - 1, lx_str(name)));
    }
    uint32_t seen, failing;
    lx_deploy_note(cred, d[0], false, t0, w);
    lx_deploy_note(cred, d[0], false, t0 + 1, w); /* once per window */
    lx_deploy_note(cred, d[1], false, t0 + 2, w);
    lx_deploy_note(cred, d[2], false, t0 + 3, w);
    lx_deploy_counts(cred, t0 + 3, w, &seen, &failing);
    assert_int_equal(seen, 3);
    assert_int_equal(failing, 0);
    /* one failing of three: not out (and one alone never is) */
    lx_deploy_note(cred, d[0], true, t0 + 4, w);
    lx_deploy_note(cred, d[0], true, t0 + 5, w);
    lx_deploy_counts(cred, t0 + 5, w, &seen, &failing);
    assert_int_equal(failing, 1);
    assert_false(lx_deploy_most_failing(cred, t0 + 5, w));
    /* two of three: out, for every deployment of the credential */
    lx_deploy_note(cred, d[1], true, t0 + 6, w);
    assert_true(lx_deploy_most_failing(cred, t0 + 6, w));
    assert_int_equal(lx_route_check(cred, d[3], &conf, t0 + 6, 0, 0), LX_WHY_BREAKER_OPEN);
    lx_attempt_t at;
    assert_int_equal(lx_attempt_begin(&at, cred, d[3], NULL, 0, 0, &conf, t0 + 6),
                     LX_WHY_BREAKER_OPEN);
    /* two of four: not more than half */
    lx_deploy_note(cred, d[3], false, t0 + 7, w);
    assert_false(lx_deploy_most_failing(cred, t0 + 7, w));
    /* the next window starts from zero */
    lx_deploy_note(cred, d[2], true, t0 + 8, w);
    assert_true(lx_deploy_most_failing(cred, t0 + 8, w));
    assert_false(lx_deploy_most_failing(cred, t0 + w, w));
    lx_deploy_counts(cred, t0 + w, w, &seen, &failing);
    assert_int_equal(seen + failing, 0);
    /* NULLs are ignored */
    lx_deploy_note(NULL, d[0], true, t0, w);
    lx_deploy_note(cred, NULL, true, t0, w);
    assert_false(lx_deploy_most_failing(NULL, t0, w));
}

static void test_attempts_feed_the_most_failing_rule(void **state)
{
    (void)state;
    int64_t w = conf.breaker.window_ms;
    int64_t t0 = (NOW / w) * w;
    lx_route_state_t *cred, *a, *b, *c;
    pair(&cred, &a, "a");
    b = lx_state_table_get(tab, lx_state_key_deploy(next_id - 1, LX_STR("b")));
    c = lx_state_table_get(tab, lx_state_key_deploy(next_id - 1, LX_STR("c")));
    attempt(cred, c, classify(200, LX_XFER_OK, false), NULL, t0);
    for (int i = 0; i < 5; i++)
        attempt(cred, a, classify(500, LX_XFER_OK, false), NULL, t0 + 1 + i);
    assert_int_equal(lx_route_check(cred, c, &conf, t0 + 10, 0, 0), LX_WHY_OK);
    for (int i = 0; i < 5; i++)
        attempt(cred, b, classify(502, LX_XFER_OK, false), NULL, t0 + 11 + i);
    assert_int_equal(lx_route_check(cred, c, &conf, t0 + 20, 0, 0), LX_WHY_BREAKER_OPEN);
    assert_int_equal(lx_breaker_state(cred), LX_BRK_CLOSED); /* its own breaker is not open */
    assert_int_equal(lx_route_check(cred, c, &conf, t0 + w, 0, 0), LX_WHY_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_request_path_inserts_stop_at_half),
        cmocka_unit_test(test_429_cools_only_the_deployment),
        cmocka_unit_test(test_quota_and_402_cool_the_credential),
        cmocka_unit_test(test_401_holds_the_credential_403_the_deployment),
        cmocka_unit_test(test_5xx_opens_the_deployment_connect_failures_the_credential),
        cmocka_unit_test(test_no_deployment_state_falls_back_on_the_credential),
        cmocka_unit_test(test_most_failing_rule),
        cmocka_unit_test(test_attempts_feed_the_most_failing_rule),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
