/* test_xfer_map.c - unit tests for src/ai/xfer_map.c: every transport
 * outcome of the upstream module reaches routing as the fact of the same
 * meaning, and a value out of range reads as a broken transfer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ai/xfer_map.h"

static const struct {
    lx_up_outcome_t up;
    lx_xfer_t xfer;
} pairs[] = {
    {LX_UP_OK, LX_XFER_OK},
    {LX_UP_CONNECT_FAILED, LX_XFER_CONNECT_FAILED},
    {LX_UP_TIMEOUT_CONNECT, LX_XFER_TIMEOUT_CONNECT},
    {LX_UP_TIMEOUT_FIRST_BYTE, LX_XFER_TIMEOUT_FIRST_BYTE},
    {LX_UP_TIMEOUT_IDLE, LX_XFER_TIMEOUT_IDLE},
    {LX_UP_TIMEOUT_TOTAL, LX_XFER_TIMEOUT_TOTAL},
    {LX_UP_BROKEN, LX_XFER_BROKEN},
    {LX_UP_ABORTED, LX_XFER_ABORTED},
    {LX_UP_REFUSED, LX_XFER_REFUSED},
    {LX_UP_TLS_VERIFY, LX_XFER_TLS_VERIFY},
};

static void test_every_outcome_maps(void **state)
{
    (void)state;
    /* a new upstream outcome needs its routing fact (and this row) */
    assert_int_equal(LX_ARRAY_LEN(pairs), LX_UP__COUNT);
    assert_int_equal(LX_XFER__COUNT, LX_UP__COUNT);
    for (size_t i = 0; i < LX_ARRAY_LEN(pairs); i++) {
        if (lx_xfer_from_up(pairs[i].up) != pairs[i].xfer)
            fail_msg("%s: got %d, want %d", lx_up_outcome_name(pairs[i].up),
                     (int)lx_xfer_from_up(pairs[i].up), (int)pairs[i].xfer);
    }
}

static void test_classified_alike(void **state)
{
    (void)state;
    /* what the mapping is for: a connect timeout lands on the credential and
     * reports a timeout; our own abort is nobody's fault */
    lx_attempt_facts_t f = {.transport = lx_xfer_from_up(LX_UP_TIMEOUT_CONNECT),
                            .idempotent = true};
    lx_verdict_t v = lx_failure_classify(&f);
    assert_int_equal(v.cls, LX_FAIL_RETRY);
    assert_int_equal(v.scope, LX_SCOPE_CREDENTIAL);
    assert_int_equal(v.err, LX_E_UPSTREAM_TIMEOUT);
    f.transport = lx_xfer_from_up(LX_UP_ABORTED);
    v = lx_failure_classify(&f);
    assert_int_equal(v.cls, LX_FAIL_FATAL);
    assert_int_equal(v.breaker, LX_BRK_NEUTRAL);
}

static void test_out_of_range_is_broken(void **state)
{
    (void)state;
    assert_int_equal(lx_xfer_from_up(LX_UP__COUNT), LX_XFER_BROKEN);
    assert_int_equal(lx_xfer_from_up((lx_up_outcome_t)77), LX_XFER_BROKEN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_outcome_maps),
        cmocka_unit_test(test_classified_alike),
        cmocka_unit_test(test_out_of_range_is_broken),
    };
    return cmocka_run_group_tests_name("ai/xfer_map", tests, NULL, NULL);
}
