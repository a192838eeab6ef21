/* test_budget.c - unit tests for src/auth/budget.c: the period arithmetic
 * (UTC days, ISO weeks starting Monday, calendar months, leap years),
 * period keys, and the spend table: what admission knows (global + pending
 * + sending), a period rollover, refusals naming the subject and when its
 * period ends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "auth/budget.h"

#include <time.h>

#define DAY INT64_C(86400000)

static int64_t ms_of(int y, int mon, int d, int h, int mi, int s)
{
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mon - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = s};
    return (int64_t)timegm(&tm) * 1000;
}

/* Every day from 1960 to 2110 against gmtime: the month index, the week
 * (starts on a Monday, 7 days) and the day index. */
static void test_periods_against_gmtime(void **state)
{
    (void)state;
    int64_t last_week = INT64_MIN, week_len = 0, weeks = 0;
    for (int64_t day = ms_of(1960, 1, 1, 0, 0, 0) / DAY; day < ms_of(2110, 1, 1, 0, 0, 0) / DAY;
         day++) {
        int64_t ms = day * DAY + 12345678; /* some time of that day */
        time_t t = (time_t)(ms / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        assert_int_equal(lx_period_index(LX_PERIOD_DAILY, ms), day);
        int64_t m = lx_period_index(LX_PERIOD_MONTHLY, ms);
        assert_int_equal(m, (int64_t)(tm.tm_year + 1900 - 1970) * 12 + tm.tm_mon);
        assert_int_equal(lx_period_start_ms(LX_PERIOD_MONTHLY, m),
                         ms_of(tm.tm_year + 1900, tm.tm_mon + 1, 1, 0, 0, 0));
        int64_t w = lx_period_index(LX_PERIOD_WEEKLY, ms);
        int64_t ws = lx_period_start_ms(LX_PERIOD_WEEKLY, w);
        time_t wt = (time_t)(ws / 1000);
        struct tm wtm;
        gmtime_r(&wt, &wtm);
        assert_int_equal(wtm.tm_wday, 1); /* Monday */
        assert_true(ws <= ms && ms < ws + 7 * DAY);
        if (w != last_week) {
            if (last_week != INT64_MIN) {
                assert_int_equal(w, last_week + 1);
                if (++weeks > 1) /* the sweep began mid-week */
                    assert_int_equal(week_len, 7);
            }
            if (last_week != INT64_MIN)
                assert_int_equal(tm.tm_wday, 1); /* a new week starts on a Monday */
            last_week = w, week_len = 0;
        }
        week_len++;
    }
}

static void test_period_ends_and_leap_years(void **state)
{
    (void)state;
    /* Feb of a leap year ends on the 29th; 2100 is not a leap year; 2000 is */
    assert_int_equal(lx_period_end_ms(LX_PERIOD_MONTHLY, ms_of(2024, 2, 29, 23, 59, 59)),
                     ms_of(2024, 3, 1, 0, 0, 0));
    assert_int_equal(lx_period_end_ms(LX_PERIOD_MONTHLY, ms_of(2100, 2, 28, 12, 0, 0)),
                     ms_of(2100, 3, 1, 0, 0, 0));
    assert_int_equal(lx_period_end_ms(LX_PERIOD_MONTHLY, ms_of(2000, 2, 28, 12, 0, 0)),
                     ms_of(2000, 2, 29, 0, 0, 0) + DAY);
    assert_int_equal(lx_period_end_ms(LX_PERIOD_MONTHLY, ms_of(2024, 12, 31, 23, 0, 0)),
                     ms_of(2025, 1, 1, 0, 0, 0));
    assert_int_equal(lx_period_end_ms(LX_PERIOD_DAILY, ms_of(2024, 2, 28, 23, 59, 59)),
                     ms_of(2024, 2, 29, 0, 0, 0));
    /* 2024-05-01 was a Wednesday: its week ends Monday 2024-05-06 */
    assert_int_equal(lx_period_end_ms(LX_PERIOD_WEEKLY, ms_of(2024, 5, 1, 10, 0, 0)),
                     ms_of(2024, 5, 6, 0, 0, 0));
    /* Sunday 23:59:59 is still the week; Monday 00:00 starts the next */
    assert_int_equal(lx_period_end_ms(LX_PERIOD_WEEKLY, ms_of(2024, 5, 5, 23, 59, 59)),
                     ms_of(2024, 5, 6, 0, 0, 0));
    assert_int_equal(lx_period_end_ms(LX_PERIOD_WEEKLY, ms_of(2024, 5, 6, 0, 0, 0)),
                     ms_of(2024, 5, 13, 0, 0, 0));
    /* the first days of 1970 (Thu..Sun) are in week 0, which began Monday
     * 1969-12-29 */
    assert_int_equal(lx_period_index(LX_PERIOD_WEEKLY, 0), 0);
    assert_int_equal(lx_period_start_ms(LX_PERIOD_WEEKLY, 0), ms_of(1969, 12, 29, 0, 0, 0));
    assert_int_equal(lx_period_index(LX_PERIOD_WEEKLY, ms_of(1970, 1, 5, 0, 0, 0)), 1);
    assert_int_equal(lx_period_end_ms(LX_PERIOD_TOTAL, ms_of(2024, 5, 1, 0, 0, 0)), -1);
}

static void test_keys_and_names(void **state)
{
    (void)state;
    char k[24];
    lx_period_t p;
    int64_t i;
    lx_period_key(LX_PERIOD_DAILY, 19844, k);
    assert_string_equal(k, "d:19844");
    assert_int_equal(lx_period_key_parse(k, &p, &i), LX_OK);
    assert_int_equal(p, LX_PERIOD_DAILY);
    assert_int_equal(i, 19844);
    lx_period_key(LX_PERIOD_WEEKLY, 2835, k);
    assert_string_equal(k, "w:2835");
    lx_period_key(LX_PERIOD_MONTHLY, 652, k);
    assert_string_equal(k, "m:652");
    lx_period_key(LX_PERIOD_TOTAL, 0, k);
    assert_string_equal(k, "t");
    assert_int_equal(lx_period_key_parse("t", &p, &i), LX_OK);
    assert_int_equal(p, LX_PERIOD_TOTAL);
    assert_int_equal(lx_period_key_parse("x:1", &p, &i), LX_ERROR);
    assert_int_equal(lx_period_key_parse("d:", &p, &i), LX_ERROR);
    assert_int_equal(lx_period_key_parse("d:12a", &p, &i), LX_ERROR);
    assert_int_equal(lx_period_parse("weekly"), LX_PERIOD_WEEKLY);
    assert_int_equal(lx_period_parse(NULL), LX_PERIOD_TOTAL);
    assert_string_equal(lx_period_name(LX_PERIOD_MONTHLY), "monthly");
}

static void test_spend_table(void **state)
{
    (void)state;
    int64_t now = ms_of(2024, 5, 1, 10, 0, 0);
    lx_spend_t *k = lx_spend_get('k', 41, 2.0, LX_PERIOD_DAILY);
    assert_non_null(k);
    assert_string_equal(k->subject, "key:41");
    assert_ptr_equal(lx_spend_get('k', 41, 2.0, LX_PERIOD_DAILY), k); /* the same slot */
    assert_ptr_equal(lx_spend_find("key:41"), k);
    assert_null(lx_spend_find("key:42"));
    assert_null(lx_spend_find("nope:41"));
    lx_spend_set_t set = {{k, NULL, NULL}};
    lx_budget_refusal_t r;
    assert_true(lx_budget_admit(&set, now, &r));
    lx_spend_add(&set, 1.5);
    assert_int_equal(lx_spend_known(k, now), 1500000000);
    assert_true(lx_budget_admit(&set, now, &r)); /* 1.5 < 2 */
    /* what another instance spent arrives as the global total */
    lx_spend_set_global(k, lx_period_index(LX_PERIOD_DAILY, now), 600000000);
    assert_int_equal(lx_spend_known(k, now), 2100000000);
    assert_false(lx_budget_admit(&set, now, &r));
    assert_ptr_equal(r.who, k);
    assert_int_equal(r.budget, 2000000000);
    assert_int_equal(r.spent, 2100000000);
    assert_int_equal(r.period, LX_PERIOD_DAILY);
    assert_int_equal(r.reset_ms, ms_of(2024, 5, 2, 0, 0, 0));
    /* the next day: the old global total no longer counts */
    int64_t tomorrow = now + DAY;
    assert_int_equal(lx_spend_known(k, tomorrow), 1500000000); /* pending only */
    atomic_store(&k->pending, 0);
    assert_true(lx_budget_admit(&set, tomorrow, &r));
    /* non-positive or non-finite costs add nothing */
    lx_spend_add(&set, 0);
    lx_spend_add(&set, -1);
    assert_int_equal(atomic_load(&k->pending), 0);
}

static void test_levels_and_zero_budget(void **state)
{
    (void)state;
    int64_t now = ms_of(2024, 5, 1, 10, 0, 0);
    lx_spend_t *k = lx_spend_get('k', 51, -1, LX_PERIOD_TOTAL); /* no budget: tracked only */
    lx_spend_t *u = lx_spend_get('u', 51, 10, LX_PERIOD_MONTHLY);
    lx_spend_t *t = lx_spend_get('t', 51, 0, LX_PERIOD_WEEKLY); /* $0: refuses at once */
    assert_true(k != u && u != t);
    lx_budget_refusal_t r;
    lx_spend_set_t ku = {{k, u, NULL}};
    lx_spend_add(&ku, 100);
    assert_false(lx_budget_admit(&ku, now, &r));
    assert_ptr_equal(r.who, u);
    assert_int_equal(r.reset_ms, ms_of(2024, 6, 1, 0, 0, 0));
    lx_spend_set_t kt = {{k, NULL, t}};
    assert_false(lx_budget_admit(&kt, now, &r));
    assert_ptr_equal(r.who, t);
    assert_int_equal(r.reset_ms, ms_of(2024, 5, 6, 0, 0, 0));
    lx_spend_set_t konly = {{k, NULL, NULL}};
    assert_true(lx_budget_admit(&konly, now, &r));
    /* a total budget has no end */
    lx_spend_get('k', 51, 50, LX_PERIOD_TOTAL);
    assert_false(lx_budget_admit(&konly, now, &r));
    assert_int_equal(r.reset_ms, -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_periods_against_gmtime),
        cmocka_unit_test(test_period_ends_and_leap_years),
        cmocka_unit_test(test_keys_and_names),
        cmocka_unit_test(test_spend_table),
        cmocka_unit_test(test_levels_and_zero_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
