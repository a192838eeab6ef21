/* test_backoff.c - the poll delay curve (src/task/backoff.c): from
 * poll_min_ms growing by 1.5 to poll_max_ms, jitter within +-20 % and
 * actually spread, a provider's hint clamped. */
#include "task/backoff.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

static const lx_task_conf_t conf = {.poll_min_ms = 1000, .poll_max_ms = 30000};

static void test_curve(void **state)
{
    assert_int_equal(lx_task_backoff_base_ms(&conf, 0, 0), 1000);
    assert_int_equal(lx_task_backoff_base_ms(&conf, 1, 0), 1500);
    assert_int_equal(lx_task_backoff_base_ms(&conf, 2, 0), 2250);
    int prev = 0;
    for (int n = 0; n < 40; n++) { /* never shrinks, never past the ceiling */
        int d = lx_task_backoff_base_ms(&conf, n, 0);
        assert_true(d >= prev);
        assert_true(d <= 30000);
        prev = d;
    }
    assert_int_equal(lx_task_backoff_base_ms(&conf, 9, 0), 30000); /* 1000 * 1.5^9 > 30000 */
    assert_int_equal(lx_task_backoff_base_ms(&conf, 1000000, 0), 30000);
}

static void test_jitter_bounds_and_spread(void **state)
{
    for (int n = 0; n < 12; n++) {
        int base = lx_task_backoff_base_ms(&conf, n, 0);
        assert_int_equal(lx_task_backoff_ms(&conf, n, 0, 0), (int)(base * 0.8));
        assert_int_equal(lx_task_backoff_ms(&conf, n, 0, UINT32_MAX), (int)(base * 1.2));
        int lo = base, hi = 0;
        uint32_t x = 2463534242u;
        for (int i = 0; i < 1000; i++) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5; /* xorshift32 */
            int d = lx_task_backoff_ms(&conf, n, 0, x);
            assert_true(d >= (int)(base * 0.8) && d <= (int)(base * 1.2));
            lo = d < lo ? d : lo;
            hi = d > hi ? d : hi;
        }
        /* spread: 1,000 tasks do not poll in lock-step */
        assert_true(hi - lo > base * 0.3);
    }
}

static void test_hint_clamped(void **state)
{
    assert_int_equal(lx_task_backoff_base_ms(&conf, 5, 5000), 5000);
    assert_int_equal(lx_task_backoff_base_ms(&conf, 5, 10), 1000);      /* floor */
    assert_int_equal(lx_task_backoff_base_ms(&conf, 0, 900000), 30000); /* ceiling */
    int d = lx_task_backoff_ms(&conf, 0, 5000, UINT32_MAX / 2);
    assert_true(d >= 4000 && d <= 6000);
}

static void test_odd_settings(void **state)
{
    lx_task_conf_t c = {.poll_min_ms = 500, .poll_max_ms = 100}; /* max below min */
    assert_int_equal(lx_task_backoff_base_ms(&c, 3, 0), 500);
    lx_task_conf_t z = {0};
    assert_true(lx_task_backoff_ms(&z, 0, 0, 0) >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_curve),
        cmocka_unit_test(test_jitter_bounds_and_spread),
        cmocka_unit_test(test_hint_clamped),
        cmocka_unit_test(test_odd_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
