/* test_outcome.c - lx_outcome_t (src/ai/outcome.c) and the one "no
 * upstream can take this request" outcome with its Retry-After rule
 * (lx_call_no_target, src/ai/call_targets.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ai/call.h"
#include "ai/outcome.h"
#include "ai/routing/limits.h"
#include "core/clock.h"

#include <stdlib.h>
#include <string.h>

static void test_fail_takes_the_reasons_status(void **state)
{
    (void)state;
    lx_outcome_t o;
    lx_outcome_fail(&o, LX_SIDE_CLIENT, 0, LX_E_MODEL_NOT_FOUND, "model", "no %s", "such");
    assert_int_equal(o.status, 404);
    assert_int_equal(o.side, LX_SIDE_CLIENT);
    assert_string_equal(o.param, "model");
    assert_string_equal(o.message, "no such");
    assert_string_equal(o.retry_after, "");
    assert_string_equal(lx_outcome_code(&o), "model_not_found");
    lx_outcome_fail(&o, LX_SIDE_UPSTREAM, 529, LX_E_UNAVAILABLE, NULL, "x");
    assert_int_equal(o.status, 529); /* an explicit status wins */
    lx_outcome_ok(&o);
    assert_int_equal(o.status, 200);
    assert_string_equal(lx_outcome_code(&o), "");
}

static void test_retry_after_rounds_up_and_is_never_zero(void **state)
{
    (void)state;
    lx_outcome_t o;
    lx_outcome_ok(&o);
    lx_outcome_retry_after_ms(&o, 1500);
    assert_string_equal(o.retry_after, "2");
    lx_outcome_retry_after_ms(&o, 0);
    assert_string_equal(o.retry_after, "1");
    lx_outcome_retry_after_ms(&o, -1);
    assert_string_equal(o.retry_after, "1");
}

static lx_route_excl_t excl_of(lx_route_why_t why, int n)
{
    lx_route_excl_t x;
    memset(&x, 0, sizeof x);
    x.n[why] = (uint16_t)n;
    return x;
}

/* Cooling everywhere: 429, Retry-After the soonest end among the targets. */
static void test_no_target_cooling_is_429_soonest_end(void **state)
{
    (void)state;
    static lx_route_state_t a, b;
    int64_t now = lx_wall_ms();
    lx_cooling_set(&a, now, "30", 5000, 60000);
    lx_cooling_set(&b, now, "10", 5000, 60000);
    lx_target_t t[2];
    memset(t, 0, sizeof t);
    t[0].state = &a;
    t[1].state = &b;
    lx_route_excl_t x = excl_of(LX_WHY_COOLING, 2);
    lx_outcome_t o;
    lx_call_no_target(&o, &x, 2, t, 2);
    assert_int_equal(o.status, 429);
    assert_int_equal(o.err, LX_E_RATE_LIMITED);
    assert_int_equal(o.side, LX_SIDE_LLMUX);
    assert_string_equal(o.retry_after, "10");
    assert_non_null(strstr(o.message, "no upstream can take this request now"));
}

/* Breakers open: 503, no Retry-After. */
static void test_no_target_breaker_is_503_without_retry_after(void **state)
{
    (void)state;
    lx_target_t t[1];
    memset(t, 0, sizeof t);
    lx_route_excl_t x = excl_of(LX_WHY_BREAKER_OPEN, 1);
    lx_outcome_t o;
    lx_call_no_target(&o, &x, 1, t, 1);
    assert_int_equal(o.status, 503);
    assert_int_equal(o.err, LX_E_UNAVAILABLE);
    assert_string_equal(o.retry_after, "");
}

/* A credential that used up its minute: Retry-After is the end of that
 * minute, not the 1 s a rate-limited refusal used to say. */
static void test_no_target_rate_window_end(void **state)
{
    (void)state;
    static lx_route_state_t st;
    lx_credential_t cred;
    memset(&cred, 0, sizeof cred);
    cred.rate_limit_per_minute = 1;
    int64_t now = lx_wall_ms();
    assert_int_equal(lx_limits_take(&st, now, 1, 0), LX_LIMIT_OK);
    lx_target_t t[1];
    memset(t, 0, sizeof t);
    t[0].state = &st;
    t[0].cred = &cred;
    lx_route_excl_t x = excl_of(LX_WHY_RATE_LIMITED, 1);
    lx_outcome_t o;
    lx_call_no_target(&o, &x, 1, t, 1);
    assert_int_equal(o.status, 429);
    long want = (long)((60000 - now % 60000 + 999) / 1000), got = atol(o.retry_after);
    /* the minute may roll between the take and the refusal: then 1..60 anew */
    if (lx_limits_minute_index(lx_wall_ms()) == lx_limits_minute_index(now))
        assert_true(got == want || got == want - 1);
    else
        assert_true(got >= 1 && got <= 60);
    if (want > 2) /* what the old rule said (1 s) is not what this says */
        assert_true(got > 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fail_takes_the_reasons_status),
        cmocka_unit_test(test_retry_after_rounds_up_and_is_never_zero),
        cmocka_unit_test(test_no_target_cooling_is_429_soonest_end),
        cmocka_unit_test(test_no_target_breaker_is_503_without_retry_after),
        cmocka_unit_test(test_no_target_rate_window_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
