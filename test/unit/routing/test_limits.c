/* test_limits.c - unit tests for src/ai/routing/limits.c: rpm / rpd windows
 * (incl. 4 threads on one connection), Retry-After parsing, cooling and the
 * retry budget. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ai/routing/limits.h"

#include <pthread.h>
#include <time.h>

static lx_state_table_t *tab;
static int64_t next_id = 1;

static lx_route_state_t *fresh(void)
{
    return lx_state_table_get(tab, (uint64_t)next_id++);
}

static int setup(void **state)
{
    (void)state;
    tab = lx_state_table_new(1024);
    return tab ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    lx_state_table_free(tab);
    return 0;
}

#define MIN_MS INT64_C(60000)
#define DAY_MS INT64_C(86400000)
/* a wall-clock-like time: 2024-05-01T10:00:00Z */
#define T0 INT64_C(1714557600000)

static void test_rpm_window(void **state)
{
    (void)state;
    lx_route_state_t *s = fresh();
    for (int i = 0; i < 3; i++)
        assert_int_equal(lx_limits_take(s, T0 + i, 3, 0), LX_LIMIT_OK);
    assert_int_equal(lx_limits_check(s, T0 + 10, 3, 0), LX_LIMIT_MINUTE);
    for (int i = 0; i < 5; i++) /* refused requests count nowhere */
        assert_int_equal(lx_limits_take(s, T0 + 10, 3, 0), LX_LIMIT_MINUTE);
    uint32_t m, d;
    lx_limits_used(s, T0 + 10, &m, &d);
    assert_int_equal(m, 3);
    assert_int_equal(d, 0);
    /* the next minute starts afresh */
    assert_int_equal(lx_limits_check(s, T0 + MIN_MS, 3, 0), LX_LIMIT_OK);
    assert_int_equal(lx_limits_take(s, T0 + MIN_MS, 3, 0), LX_LIMIT_OK);
    lx_limits_used(s, T0 + MIN_MS, &m, &d);
    assert_int_equal(m, 1);
    /* 0 means unlimited */
    for (int i = 0; i < 1000; i++)
        assert_int_equal(lx_limits_take(s, T0, 0, 0), LX_LIMIT_OK);
}

/* A fixed window clock (tests of llmux itself): a minute boundary passed in
 * now_ms no longer rolls the window; restoring the clock does. */
static void test_fixed_window_clock(void **state)
{
    (void)state;
    lx_route_state_t *s = fresh();
    lx_limits_fix_window_clock(T0 + MIN_MS - 1);
    assert_int_equal(lx_limits_minute_index(T0 + 5 * MIN_MS), (T0 + MIN_MS - 1) / MIN_MS);
    assert_int_equal(lx_limits_take(s, T0, 2, 0), LX_LIMIT_OK);
    assert_int_equal(lx_limits_take(s, T0 + 3 * MIN_MS, 2, 0), LX_LIMIT_OK);
    assert_int_equal(lx_limits_take(s, T0 + 9 * MIN_MS, 2, 0), LX_LIMIT_MINUTE);
    lx_limits_fix_window_clock(-1);
    assert_int_equal(lx_limits_minute_index(T0 + 5 * MIN_MS), (T0 + 5 * MIN_MS) / MIN_MS);
    assert_int_equal(lx_limits_take(s, T0 + 9 * MIN_MS, 2, 0), LX_LIMIT_OK);
}

static void test_rpd_window_and_no_count_on_refusal(void **state)
{
    (void)state;
    lx_route_state_t *s = fresh();
    int64_t t = T0;
    for (int i = 0; i < 3; i++)
        assert_int_equal(lx_limits_take(s, t, 3, 5), LX_LIMIT_OK);
    assert_int_equal(lx_limits_take(s, t, 3, 5), LX_LIMIT_MINUTE);
    t += MIN_MS;
    assert_int_equal(lx_limits_take(s, t, 3, 5), LX_LIMIT_OK);
    assert_int_equal(lx_limits_take(s, t, 3, 5), LX_LIMIT_OK);
    assert_int_equal(lx_limits_take(s, t, 3, 5), LX_LIMIT_DAY);
    assert_int_equal(lx_limits_check(s, t, 3, 5), LX_LIMIT_DAY);
    /* the day refusal gave its minute token back */
    uint32_t m, d;
    lx_limits_used(s, t, &m, &d);
    assert_int_equal(m, 2);
    assert_int_equal(d, 5);
    /* later that day: still refused; the next UTC day: granted */
    assert_int_equal(lx_limits_take(s, t + 3600000, 3, 5), LX_LIMIT_DAY);
    int64_t next_day = (T0 / DAY_MS + 1) * DAY_MS;
    assert_int_equal(lx_limits_take(s, next_day, 3, 5), LX_LIMIT_OK);
}

static void test_check_give_back_absorb(void **state)
{
    (void)state;
    lx_route_state_t *s = fresh();
    for (int i = 0; i < 10; i++)
        assert_int_equal(lx_limits_check(s, T0, 2, 0), LX_LIMIT_OK); /* takes nothing */
    assert_int_equal(lx_limits_take(s, T0, 2, 10), LX_LIMIT_OK);
    assert_int_equal(lx_limits_take(s, T0, 2, 10), LX_LIMIT_OK);
    assert_int_equal(lx_limits_take(s, T0, 2, 10), LX_LIMIT_MINUTE);
    lx_limits_give_back(s, T0, 2, 10);
    uint32_t m, d;
    lx_limits_used(s, T0, &m, &d);
    assert_int_equal(m, 1);
    assert_int_equal(d, 1);
    assert_int_equal(lx_limits_take(s, T0, 2, 10), LX_LIMIT_OK);
    /* requests seen by another instance */
    lx_limits_absorb(s, T0, 0, 7);
    lx_limits_used(s, T0, &m, &d);
    assert_int_equal(d, 9);
    assert_int_equal(lx_limits_take(s, T0 + MIN_MS, 2, 10), LX_LIMIT_OK);
    assert_int_equal(lx_limits_take(s, T0 + MIN_MS, 2, 10), LX_LIMIT_DAY);
    /* NULL: unlimited */
    assert_int_equal(lx_limits_take(NULL, T0, 1, 1), LX_LIMIT_OK);
    assert_int_equal(lx_limits_check(NULL, T0, 1, 1), LX_LIMIT_OK);
}

static void test_boundary_does_not_flip_back(void **state)
{
    (void)state;
    lx_route_state_t *s = fresh();
    int64_t w1 = (T0 / MIN_MS + 1) * MIN_MS;
    /* one worker is already in the next minute, another still reads the old */
    assert_int_equal(lx_limits_take(s, w1, 2, 0), LX_LIMIT_OK);
    assert_int_equal(lx_limits_take(s, w1 - 1, 2, 0), LX_LIMIT_OK);
    assert_int_equal(lx_limits_take(s, w1, 2, 0), LX_LIMIT_MINUTE);
    assert_int_equal(lx_limits_take(s, w1 - 1, 2, 0), LX_LIMIT_MINUTE);
    /* a clock that stepped back far restarts the count */
    assert_int_equal(lx_limits_take(s, w1 - 10 * MIN_MS, 2, 0), LX_LIMIT_OK);
}

#define NTHREADS 4
typedef struct {
    lx_route_state_t *s;
    int64_t now;
    int rpm, tries, granted;
} hammer_t;

static void *hammer(void *arg)
{
    hammer_t *h = arg;
    for (int i = 0; i < h->tries; i++)
        if (lx_limits_take(h->s, h->now, h->rpm, 0) == LX_LIMIT_OK)
            h->granted++;
    return NULL;
}

static int run_hammer(lx_route_state_t *s, int64_t now, int rpm)
{
    hammer_t h[NTHREADS];
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        h[i] = (hammer_t){s, now, rpm, 20000, 0};
        pthread_create(&th[i], NULL, hammer, &h[i]);
    }
    int total = 0;
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        total += h[i].granted;
    }
    return total;
}

static void test_four_threads_exact_rpm(void **state)
{
    (void)state;
    lx_route_state_t *s = fresh();
    for (int w = 0; w < 3; w++)
        assert_int_equal(run_hammer(s, T0 + w * MIN_MS + 5, 5000), 5000);
    uint32_t m, d;
    lx_limits_used(s, T0 + 2 * MIN_MS + 5, &m, &d);
    assert_int_equal(m, 5000);
}

/* --- Retry-After --------------------------------------------------------- */

static int64_t epoch_ms(int y, int mon, int day, int h, int mi, int sec)
{
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mon - 1,
                    .tm_mday = day,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec};
    return (int64_t)timegm(&tm) * 1000;
}

static int64_t parse(const char *s, int64_t now)
{
    int64_t d = -42;
    if (lx_retry_after_parse(lx_str(s), now, &d) != LX_OK)
        return -1;
    assert_true(d >= 0);
    return d;
}

static void test_retry_after_seconds(void **state)
{
    (void)state;
    assert_int_equal(parse("120", 0), 120000);
    assert_int_equal(parse("0", 0), 0);
    assert_int_equal(parse("  7\t", 0), 7000);
    assert_int_equal(parse("007", 0), 7000);
    /* huge values saturate (the cooling cap applies later) */
    assert_true(parse("99999999999999999999999", 0) >= INT64_C(1000000000000));
}

static void test_retry_after_dates(void **state)
{
    (void)state;
    int64_t at = epoch_ms(1994, 11, 6, 8, 49, 37);
    assert_int_equal(parse("Sun, 06 Nov 1994 08:49:37 GMT", at - 30000), 30000);
    assert_int_equal(parse("Sunday, 06-Nov-94 08:49:37 GMT", at - 30000), 30000);
    assert_int_equal(parse("Sun Nov  6 08:49:37 1994", at - 30000), 30000);
    assert_int_equal(parse("Sun Nov 16 08:49:37 1994", at - 30000), 30000 + 10 * 86400000LL);
    /* names are matched without regard to case or locale */
    assert_int_equal(parse("sun, 06 nov 1994 08:49:37 GMT", at), 0);
    /* a date in the past gives 0 */
    assert_int_equal(parse("Sun, 06 Nov 1994 08:49:37 GMT", at + 5000), 0);
    /* RFC 850 two-digit years below 70 are 20xx */
    int64_t at2 = epoch_ms(2030, 1, 2, 3, 4, 5);
    assert_int_equal(parse("Wednesday, 02-Jan-30 03:04:05 GMT", at2 - 1000), 1000);
    int64_t now = epoch_ms(2024, 5, 1, 10, 0, 0);
    assert_int_equal(parse("Wed, 01 May 2024 10:00:45 GMT", now), 45000);
    assert_int_equal(parse("  Wed, 01 May 2024 10:00:45 GMT  ", now), 45000);
}

static void test_retry_after_garbage(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "   ",
        "abc",
        "12abc",
        "-5",
        "1.5",
        "+3",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 32 Nov 1994 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 25:49:37 GMT",
        "Sun, 06 Nov 1994 08:49 GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sun Nov 6 08:49:37 1994",
        "Sun Nov  6 08:49:37 94",
        "Funday, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT extra",
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(bad); i++) {
        int64_t d = -42;
        if (lx_retry_after_parse(lx_str(bad[i]), 0, &d) != LX_ERROR)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(d, -42);
    }
    int64_t d = 0;
    assert_int_equal(lx_retry_after_parse(LX_NULL_STR, 0, &d), LX_ERROR);
    /* a length-carrying view: bytes past n are not read */
    assert_int_equal(lx_retry_after_parse((lx_str_t){"12x", 2}, 0, &d), LX_OK);
    assert_int_equal(d, 12000);
}

/* --- cooling ------------------------------------------------------------- */

static void test_cooling(void **state)
{
    (void)state;
    lx_route_state_t *s = fresh();
    assert_false(lx_cooling_active(s, T0));
    /* no header: the default */
    assert_int_equal(lx_cooling_set(s, T0, NULL, 5000, 60000), T0 + 5000);
    assert_true(lx_cooling_active(s, T0 + 4999));
    assert_false(lx_cooling_active(s, T0 + 5000));
    assert_int_equal(lx_cooling_left_ms(s, T0 + 1000), 4000);
    /* seconds, capped */
    assert_int_equal(lx_cooling_set(s, T0, "120", 5000, 60000), T0 + 60000);
    assert_int_equal(lx_cooling_set(s, T0, "3600", 5000, 0), T0 + LX_COOLING_CAP_MS);
    /* never shortens */
    assert_int_equal(lx_cooling_set(s, T0, "1", 5000, 60000), T0 + 60000);
    lx_cooling_clear(s);
    assert_false(lx_cooling_active(s, T0));
    /* garbage: the default */
    assert_int_equal(lx_cooling_set(s, T0, "soon", 2000, 60000), T0 + 2000);
    lx_cooling_clear(s);
    /* an HTTP date 10 s ahead of the (wall) clock */
    int64_t now = epoch_ms(2024, 5, 1, 10, 0, 0);
    assert_int_equal(lx_cooling_set(s, now, "Wed, 01 May 2024 10:00:10 GMT", 5000, 60000),
                     now + 10000);
    lx_cooling_clear(s);
    /* "0": no cooling at all */
    assert_int_equal(lx_cooling_set(s, T0, "0", 5000, 60000), T0);
    assert_false(lx_cooling_active(s, T0));
    assert_false(lx_cooling_active(NULL, T0));
}

/* --- retry budget -------------------------------------------------------- */

static void test_retry_budget(void **state)
{
    (void)state;
    lx_retry_budget_t b;
    lx_retry_budget_init(&b, 0.2, 10, 0);
    assert_false(lx_retry_allowed(&b));
    for (int i = 0; i < 4; i++)
        lx_retry_budget_deposit(&b);
    assert_false(lx_retry_allowed(&b)); /* 0.8 tokens */
    lx_retry_budget_deposit(&b);
    assert_true(lx_retry_allowed(&b)); /* 1.0 */
    assert_false(lx_retry_allowed(&b));
    for (int i = 0; i < 1000; i++)
        lx_retry_budget_deposit(&b);
    assert_true(lx_retry_budget_tokens(&b) == 10.0); /* capped */

    /* steady state: every request fails and wants a retry: retries stay at
     * ratio x requests (plus the initial burst) */
    lx_retry_budget_init(&b, 0.2, 10, 10);
    int retries = 0;
    for (int i = 0; i < 10000; i++) {
        lx_retry_budget_deposit(&b);
        if (lx_retry_allowed(&b))
            retries++;
    }
    assert_in_range(retries, 2000, 2010);
    /* initial tokens are clamped to the cap */
    lx_retry_budget_init(&b, 0.2, 3, 100);
    assert_true(lx_retry_budget_tokens(&b) == 3.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rpm_window),
        cmocka_unit_test(test_fixed_window_clock),
        cmocka_unit_test(test_rpd_window_and_no_count_on_refusal),
        cmocka_unit_test(test_check_give_back_absorb),
        cmocka_unit_test(test_boundary_does_not_flip_back),
        cmocka_unit_test(test_four_threads_exact_rpm),
        cmocka_unit_test(test_retry_after_seconds),
        cmocka_unit_test(test_retry_after_dates),
        cmocka_unit_test(test_retry_after_garbage),
        cmocka_unit_test(test_cooling),
        cmocka_unit_test(test_retry_budget),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
