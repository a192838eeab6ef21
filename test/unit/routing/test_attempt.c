/* test_attempt.c - unit tests for src/ai/routing/attempt.c and route.c:
 * eligibility checks, attempt begin / end effects on the shared state, and
 * the error chosen from exclusion counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ai/routing/attempt.h"

static lx_state_table_t *tab;
static int64_t next_id = 1;
static lx_route_conf_t conf;

static lx_route_state_t *fresh(void)
{
    return lx_state_table_get(tab, (uint64_t)next_id++);
}

static int setup(void **state)
{
    (void)state;
    tab = lx_state_table_new(1024);
    lx_route_conf_default(&conf);
    return tab ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    lx_state_table_free(tab);
    return 0;
}

static lx_verdict_t classify(int status, lx_xfer_t o)
{
    lx_attempt_facts_t f = {
        .status = status, .transport = o, .request_sent = true, .idempotent = true};
    return lx_failure_classify(&f);
}

static void test_conf_defaults_and_names(void **state)
{
    (void)state;
    assert_int_equal(conf.cooling_default_ms, 5000);
    assert_int_equal(conf.cooling_cap_ms, 60000);
    assert_int_equal(conf.breaker.failure_threshold, 5);
    assert_int_equal(conf.backoff.base_ms, 100);
    for (int i = 0; i < LX_WHY__COUNT; i++) {
        assert_non_null(lx_route_why_info((lx_route_why_t)i)->name);
        assert_non_null(lx_route_why_info((lx_route_why_t)i)->message);
    }
    assert_string_equal(lx_route_why_info(LX_WHY_COOLING)->name, "cooling");
}

static void test_begin_end_success(void **state)
{
    (void)state;
    lx_route_state_t *c = fresh(), *m = fresh();
    lx_attempt_t a;
    assert_int_equal(lx_attempt_begin(&a, c, NULL, m, 10, 0, &conf, 1000), LX_WHY_OK);
    assert_true(a.active);
    assert_false(a.probe);
    assert_int_equal(lx_state_inflight(c), 1);
    assert_int_equal(lx_state_inflight(m), 1);
    uint32_t used, day;
    lx_limits_used(c, 1000, &used, &day);
    assert_int_equal(used, 1);
    lx_verdict_t v = classify(200, LX_XFER_OK);
    assert_int_equal(lx_attempt_end(&a, &conf, &v, 1500, NULL, 1200), LX_BRK_EV_NONE);
    assert_false(a.active);
    assert_int_equal(lx_state_inflight(c), 0);
    assert_int_equal(lx_state_inflight(m), 0);
    assert_int_equal(lx_state_ttfb_us(c), 1500);
    assert_int_equal(lx_state_ttfb_us(m), 1500);
    assert_int_equal(atomic_load(&c->ok_total), 1);
    /* ending twice is harmless */
    assert_int_equal(lx_attempt_end(&a, &conf, &v, 1500, NULL, 1200), LX_BRK_EV_NONE);
    assert_int_equal(lx_state_inflight(c), 0);
}

/* A deployment counts its own attempts in flight, as its credential does;
 * a refused begin leaves both at 0. */
static void test_deployment_inflight(void **state)
{
    (void)state;
    lx_route_state_t *c = fresh(), *d = fresh();
    lx_attempt_t a, b;
    assert_int_equal(lx_attempt_begin(&a, c, d, NULL, 0, 0, &conf, 1000), LX_WHY_OK);
    assert_int_equal(lx_state_inflight(d), 1);
    assert_int_equal(lx_attempt_begin(&b, c, d, NULL, 0, 0, &conf, 1000), LX_WHY_OK);
    assert_int_equal(lx_state_inflight(d), 2);
    assert_int_equal(lx_state_inflight(c), 2);
    lx_verdict_t v = classify(200, LX_XFER_OK);
    lx_attempt_end(&a, &conf, &v, 100, NULL, 1100);
    assert_int_equal(lx_state_inflight(d), 1);
    lx_attempt_end(&b, &conf, &v, 100, NULL, 1100);
    lx_attempt_end(&b, &conf, &v, 100, NULL, 1100); /* twice: harmless */
    assert_int_equal(lx_state_inflight(d), 0);
    assert_int_equal(lx_state_inflight(c), 0);
    /* a deployment that is its credential is counted once */
    assert_int_equal(lx_attempt_begin(&a, c, c, NULL, 0, 0, &conf, 1000), LX_WHY_OK);
    assert_int_equal(lx_state_inflight(c), 1);
    lx_attempt_end(&a, &conf, &v, 100, NULL, 1100);
    assert_int_equal(lx_state_inflight(c), 0);
    /* a cooling deployment refuses the attempt and counts nothing */
    lx_route_state_t *e = fresh();
    atomic_store(&e->cooling_until, 5000);
    assert_int_equal(lx_attempt_begin(&a, c, e, NULL, 0, 0, &conf, 1000), LX_WHY_COOLING);
    assert_int_equal(lx_state_inflight(e), 0);
    assert_int_equal(lx_state_inflight(c), 0);
}

static void test_429_cools_and_401_flags(void **state)
{
    (void)state;
    lx_route_state_t *c = fresh();
    lx_attempt_t a;
    assert_int_equal(lx_attempt_begin(&a, c, NULL, NULL, 0, 0, &conf, 1000), LX_WHY_OK);
    lx_verdict_t v = classify(429, LX_XFER_OK);
    lx_attempt_end(&a, &conf, &v, -1, "7", 1000);
    assert_int_equal(lx_route_check(c, NULL, &conf, 1000, 0, 0), LX_WHY_COOLING);
    assert_int_equal(lx_attempt_begin(&a, c, NULL, NULL, 0, 0, &conf, 7999), LX_WHY_COOLING);
    assert_false(a.active);
    assert_int_equal(lx_route_check(c, NULL, &conf, 8000, 0, 0), LX_WHY_OK);
    assert_int_equal(lx_state_ttfb_us(c), -1);
    /* the breaker did not count the 429 */
    assert_int_equal(atomic_load(&c->consec_fail), 0);

    lx_route_state_t *d = fresh();
    assert_int_equal(lx_attempt_begin(&a, d, NULL, NULL, 0, 0, &conf, 1000), LX_WHY_OK);
    v = classify(401, LX_XFER_OK);
    lx_attempt_end(&a, &conf, &v, -1, NULL, 1000);
    assert_int_equal(lx_route_check(d, NULL, &conf, 1000 + conf.auth_hold_ms - 1, 0, 0),
                     LX_WHY_AUTH_FAILED);
    assert_int_equal(lx_route_check(d, NULL, &conf, 1000 + conf.auth_hold_ms, 0, 0), LX_WHY_OK);
}

static void test_failures_open_breaker_midstream_counts(void **state)
{
    (void)state;
    lx_route_state_t *c = fresh();
    lx_attempt_t a;
    lx_attempt_facts_t f = {.status = 200,
                            .transport = LX_XFER_BROKEN,
                            .request_sent = true,
                            .client_bytes_sent = true,
                            .idempotent = true};
    lx_verdict_t v = lx_failure_classify(&f);
    lx_breaker_event_t ev = LX_BRK_EV_NONE;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(lx_attempt_begin(&a, c, NULL, NULL, 0, 0, &conf, 100), LX_WHY_OK);
        ev = lx_attempt_end(&a, &conf, &v, 50, NULL, 100);
    }
    assert_int_equal(ev, LX_BRK_EV_OPENED);
    assert_int_equal(lx_route_check(c, NULL, &conf, 101, 0, 0), LX_WHY_BREAKER_OPEN);
    assert_int_equal(lx_attempt_begin(&a, c, NULL, NULL, 0, 0, &conf, 101), LX_WHY_BREAKER_OPEN);
    assert_int_equal(atomic_load(&c->fail_total), 5);

    /* half-open: the probe is taken by begin; a client-gone end gives it back */
    int64_t t = 100 + conf.breaker.open_ms;
    assert_int_equal(lx_route_check(c, NULL, &conf, t, 0, 0), LX_WHY_OK);
    assert_int_equal(lx_attempt_begin(&a, c, NULL, NULL, 0, 0, &conf, t), LX_WHY_OK);
    assert_true(a.probe);
    lx_attempt_t b;
    assert_int_equal(lx_attempt_begin(&b, c, NULL, NULL, 0, 0, &conf, t), LX_WHY_BREAKER_OPEN);
    lx_attempt_end(&a, &conf, NULL, -1, NULL, t);
    assert_int_equal(lx_attempt_begin(&b, c, NULL, NULL, 0, 0, &conf, t), LX_WHY_OK);
    v = classify(200, LX_XFER_OK);
    assert_int_equal(lx_attempt_end(&b, &conf, &v, 10, NULL, t), LX_BRK_EV_CLOSED);
}

static void test_rate_limit_refusal_releases_probe(void **state)
{
    (void)state;
    lx_route_state_t *c = fresh();
    lx_attempt_t a;
    lx_verdict_t fail = classify(500, LX_XFER_OK);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(lx_attempt_begin(&a, c, NULL, NULL, 100, 0, &conf, 0), LX_WHY_OK);
        lx_attempt_end(&a, &conf, &fail, -1, NULL, 0);
    }
    int64_t t = conf.breaker.open_ms + 120000; /* a later minute */
    lx_limits_absorb(c, t, 100, 0);            /* this minute is used up elsewhere */
    assert_int_equal(lx_route_check(c, NULL, &conf, t, 100, 0), LX_WHY_RATE_LIMITED);
    assert_int_equal(lx_attempt_begin(&a, c, NULL, NULL, 100, 0, &conf, t), LX_WHY_RATE_LIMITED);
    assert_false(a.active);
    assert_int_equal(lx_state_inflight(c), 0);
    /* the probe slot taken on the way was given back */
    assert_int_equal(lx_attempt_begin(&a, c, NULL, NULL, 0, 0, &conf, t), LX_WHY_OK);
    assert_true(a.probe);
    lx_attempt_end(&a, &conf, NULL, -1, NULL, t);
}

static void test_untracked_target(void **state)
{
    (void)state;
    lx_attempt_t a;
    assert_int_equal(lx_route_check(NULL, NULL, &conf, 0, 1, 1), LX_WHY_OK);
    assert_int_equal(lx_attempt_begin(&a, NULL, NULL, NULL, 1, 1, &conf, 0), LX_WHY_OK);
    lx_verdict_t v = classify(429, LX_XFER_OK);
    assert_int_equal(lx_attempt_end(&a, &conf, &v, 5, "3", 0), LX_BRK_EV_NONE);
}

static void test_route_error(void **state)
{
    (void)state;
    lx_route_why_t why;
    lx_route_excl_t x = {{0}};
    assert_int_equal(lx_route_error(&x, 0, &why), LX_E_MODEL_NOT_FOUND);

    x = (lx_route_excl_t){{0}};
    x.n[LX_WHY_CAPABILITY] = 3;
    assert_int_equal(lx_route_error(&x, 3, &why), LX_E_BAD_REQUEST);
    assert_int_equal(why, LX_WHY_CAPABILITY);
    x.n[LX_WHY_CONTEXT] = 1;
    assert_int_equal(lx_route_error(&x, 4, &why), LX_E_BAD_REQUEST);
    assert_int_equal(why, LX_WHY_CONTEXT);
    /* one could have served it but its breaker is open: 503 */
    x.n[LX_WHY_BREAKER_OPEN] = 1;
    assert_int_equal(lx_route_error(&x, 5, &why), LX_E_UNAVAILABLE);
    assert_int_equal(why, LX_WHY_BREAKER_OPEN);

    x = (lx_route_excl_t){{0}};
    x.n[LX_WHY_COOLING] = 1;
    x.n[LX_WHY_RATE_LIMITED] = 1;
    assert_int_equal(lx_route_error(&x, 2, &why), LX_E_RATE_LIMITED);
    assert_int_equal(why, LX_WHY_RATE_LIMITED);

    x = (lx_route_excl_t){{0}};
    x.n[LX_WHY_AUTH_FAILED] = 2;
    assert_int_equal(lx_route_error(&x, 2, &why), LX_E_UNAVAILABLE);
    assert_int_equal(why, LX_WHY_AUTH_FAILED);

    x = (lx_route_excl_t){{0}};
    x.n[LX_WHY_PROVIDER] = 2;
    x.n[LX_WHY_NOT_ALLOWED] = 1;
    assert_int_equal(lx_route_error(&x, 3, &why), LX_E_MODEL_NOT_FOUND);
    x.n[LX_WHY_PROVIDER] = 0;
    assert_int_equal(lx_route_error(&x, 1, NULL), LX_E_FORBIDDEN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conf_defaults_and_names),
        cmocka_unit_test(test_begin_end_success),
        cmocka_unit_test(test_deployment_inflight),
        cmocka_unit_test(test_429_cools_and_401_flags),
        cmocka_unit_test(test_failures_open_breaker_midstream_counts),
        cmocka_unit_test(test_rate_limit_refusal_releases_probe),
        cmocka_unit_test(test_untracked_target),
        cmocka_unit_test(test_route_error),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
