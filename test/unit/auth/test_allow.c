/* test_allow.c - unit tests for src/auth/allow.c: the allowance arithmetic
 * (local windows start full, shared ones empty until a lease credits them),
 * the slice, lease claims, all-or-nothing admission over key, user and team,
 * window roll-over and Retry-After. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "auth/allow.h"
#include "ai/allow_headers.h"
#include "ai/routing/limits.h"

/* 2024-05-01T10:00:30Z: the middle of a minute */
#define T0 INT64_C(1714557630000)

static int64_t next_id = 1;

/* One request (a one-token estimate) admitted at at. */
static bool admit_at(const lx_allow_set_t *set, int64_t at, lx_allow_lease_fn lease,
                     lx_allow_refusal_t *r)
{
    lx_allow_ticket_t t = {.at_ms = at, .tokens = 1};
    return lx_allow_admit(set, &t, lease, NULL, r);
}

static void release_at(const lx_allow_set_t *set, int64_t at)
{
    lx_allow_ticket_t t = {.at_ms = at, .tokens = 1};
    lx_allow_release(set, &t);
}

static void test_slice(void **state)
{
    (void)state;
    assert_int_equal(lx_allow_slice(0), 0);
    assert_int_equal(lx_allow_slice(1), 1);
    assert_int_equal(lx_allow_slice(5), 1);
    assert_int_equal(lx_allow_slice(20), 1);
    assert_int_equal(lx_allow_slice(21), 2);
    assert_int_equal(lx_allow_slice(60), 3);
    assert_int_equal(lx_allow_slice(1000), 50);
}

static void test_get_is_stable_and_updates_limits(void **state)
{
    (void)state;
    int64_t id = next_id++;
    lx_allow_t *a = lx_allow_get('k', id, 5, 0);
    assert_non_null(a);
    assert_string_equal(a->subject, "key:"
                                    "1");
    assert_ptr_equal(lx_allow_get('k', id, 7, 100), a);
    assert_int_equal(a->limit[LX_ALLOW_MIN], 7);
    assert_int_equal(a->limit[LX_ALLOW_DAY], 100);
    lx_allow_t *t = lx_allow_get('t', id, 5, 0); /* another kind, same id */
    assert_ptr_not_equal(t, a);
    assert_string_equal(t->subject, "team:1");
}

static void test_local_window_exact(void **state)
{
    (void)state;
    lx_allow_set_shared(false);
    lx_allow_set_t set = {{lx_allow_get('k', next_id++, 3, 0), NULL, NULL}};
    lx_allow_refusal_t r;
    for (int i = 0; i < 3; i++)
        assert_true(admit_at(&set, T0, NULL, &r));
    assert_false(admit_at(&set, T0, NULL, &r));
    assert_ptr_equal(r.who, set.s[0]);
    assert_int_equal(r.per, LX_ALLOW_MIN);
    assert_int_equal(r.limit, 3);
    assert_false(r.waiting);
    assert_int_equal(r.retry_after_s, 30); /* to the end of the minute */
    /* the next minute starts full again */
    assert_true(admit_at(&set, T0 + 60000, NULL, &r));
}

static int asked;
static lx_allow_t *asked_a;
static int64_t asked_window;

static void fake_lease(void *arg, lx_allow_t *a, lx_allow_per_t p, int64_t window)
{
    (void)arg, (void)p;
    asked++;
    asked_a = a;
    asked_window = window;
}

/* Shared mode: a window starts empty; the first requests borrow up to one
 * slice (3 of 60) against the lease they ask for, never waiting; the lease
 * pays the debt first; once the global count is spent, nothing more. */
static void test_shared_borrows_against_the_lease(void **state)
{
    (void)state;
    lx_allow_set_shared(true);
    lx_allow_t *a = lx_allow_get('k', next_id++, 60, 0);
    lx_allow_set_t set = {{a, NULL, NULL}};
    lx_allow_refusal_t r;
    uint32_t w = (uint32_t)lx_limits_minute_index(T0);
    asked = 0;
    for (int i = 0; i < 3; i++) /* a quiet key's first requests are served */
        assert_true(admit_at(&set, T0, fake_lease, &r));
    assert_int_equal(asked, 1); /* one lease in flight, asked by the first */
    assert_ptr_equal(asked_a, a);
    assert_int_equal(asked_window, lx_limits_minute_index(T0));
    assert_int_equal(lx_allow_left(a, LX_ALLOW_MIN, w), -3);
    /* one slice borrowed: refused until the lease answers, told to retry soon */
    assert_false(admit_at(&set, T0, fake_lease, &r));
    assert_true(r.waiting);
    assert_int_equal(r.retry_after_s, 1);
    assert_int_equal(asked, 1);
    /* the lease brings 3: they pay the debt; the next take borrows again and asks */
    lx_allow_lease_done(a, LX_ALLOW_MIN, w, 3, 57);
    assert_int_equal(lx_allow_left(a, LX_ALLOW_MIN, w), 0);
    assert_true(admit_at(&set, T0, fake_lease, &r));
    assert_int_equal(asked, 2);
    lx_allow_lease_done(a, LX_ALLOW_MIN, w, 3, 54);
    assert_int_equal(lx_allow_left(a, LX_ALLOW_MIN, w), 2);
    /* the global count is spent: no borrowing, refused until the window ends */
    lx_allow_lease_done(a, LX_ALLOW_MIN, w, 0, 0);
    assert_true(admit_at(&set, T0, fake_lease, &r));
    assert_true(admit_at(&set, T0, fake_lease, &r));
    assert_false(admit_at(&set, T0, fake_lease, &r));
    assert_false(r.waiting);
    assert_int_equal(r.retry_after_s, 30);
    /* a new minute: borrowing again, a new lease asked */
    int before = asked;
    assert_true(admit_at(&set, T0 + 60000, fake_lease, &r));
    assert_int_equal(asked, before + 1);
    lx_allow_set_shared(false);
}

/* One instance alone never admits more than its limit: borrowing stops at
 * what the global count had left after the last lease (a limit that is not
 * a multiple of the slice: 7 with slices of 1 would be exact anyway, so 61
 * with slices of 4). */
static void test_borrowing_stops_at_the_room_left(void **state)
{
    (void)state;
    lx_allow_set_shared(true);
    lx_allow_t *a = lx_allow_get('k', next_id++, 61, 0);
    lx_allow_set_t set = {{a, NULL, NULL}};
    lx_allow_refusal_t r;
    uint32_t w = (uint32_t)lx_limits_minute_index(T0);
    assert_int_equal(lx_allow_slice(61), 4);
    /* 60 granted and spent here: the last lease said 1 is left */
    lx_allow_lease_done(a, LX_ALLOW_MIN, w, 0, 1);
    int served = 0;
    for (int i = 0; i < 6; i++)
        served += admit_at(&set, T0, fake_lease, &r);
    assert_int_equal(served, 1);                   /* borrowed 1, not 4 */
    lx_allow_lease_done(a, LX_ALLOW_MIN, w, 1, 0); /* it pays the debt; spent */
    assert_int_equal(lx_allow_left(a, LX_ALLOW_MIN, w), 0);
    assert_false(admit_at(&set, T0, fake_lease, &r));
    assert_false(r.waiting);
    lx_allow_set_shared(false);
}

static void test_credit_for_an_ended_window_is_dropped(void **state)
{
    (void)state;
    lx_allow_set_shared(true);
    lx_allow_t *a = lx_allow_get('u', next_id++, 10, 0);
    uint32_t w = (uint32_t)lx_limits_minute_index(T0);
    int32_t left;
    assert_int_equal(lx_allow_take(a, LX_ALLOW_MIN, w + 1, &left), LX_ALLOW_TAKEN); /* borrowed */
    assert_int_equal(left, -1);
    lx_allow_credit(a, LX_ALLOW_MIN, w, 5); /* a late answer for the old window */
    assert_int_equal(lx_allow_left(a, LX_ALLOW_MIN, w + 1), -1);
    lx_allow_credit(a, LX_ALLOW_MIN, w + 1, 2);
    assert_int_equal(lx_allow_left(a, LX_ALLOW_MIN, w + 1), 1);
    lx_allow_set_shared(false);
}

static void test_all_or_nothing(void **state)
{
    (void)state;
    lx_allow_set_shared(false);
    lx_allow_t *k = lx_allow_get('k', next_id++, 10, 0);
    lx_allow_t *u = lx_allow_get('u', next_id++, 10, 100);
    lx_allow_t *t = lx_allow_get('t', next_id++, 2, 0);
    lx_allow_set_t set = {{k, u, t}};
    lx_allow_refusal_t r;
    uint32_t m = (uint32_t)lx_limits_minute_index(T0), d = (uint32_t)lx_limits_day_index(T0);
    assert_true(admit_at(&set, T0, NULL, &r));
    assert_true(admit_at(&set, T0, NULL, &r));
    assert_false(admit_at(&set, T0, NULL, &r));
    assert_ptr_equal(r.who, t);
    /* the key's and the user's tokens taken before the team refused came back */
    assert_int_equal(lx_allow_left(k, LX_ALLOW_MIN, m), 8);
    assert_int_equal(lx_allow_left(u, LX_ALLOW_MIN, m), 8);
    assert_int_equal(lx_allow_left(u, LX_ALLOW_DAY, d), 98);
    /* release gives back a request refused later */
    lx_allow_set_t ku = {{k, u, NULL}};
    assert_true(admit_at(&ku, T0, NULL, &r));
    release_at(&ku, T0);
    assert_int_equal(lx_allow_left(k, LX_ALLOW_MIN, m), 8);
    assert_int_equal(lx_allow_left(u, LX_ALLOW_DAY, d), 98);
}

static void test_day_refusal_waits_to_midnight(void **state)
{
    (void)state;
    lx_allow_set_shared(false);
    lx_allow_set_t set = {{lx_allow_get('t', next_id++, 0, 1), NULL, NULL}};
    lx_allow_refusal_t r;
    assert_true(admit_at(&set, T0, NULL, &r));
    assert_false(admit_at(&set, T0, NULL, &r));
    assert_int_equal(r.per, LX_ALLOW_DAY);
    assert_int_equal(r.retry_after_s, 14 * 3600 - 30); /* 10:00:30 to midnight */
}

static void test_active_for_leasing_ahead(void **state)
{
    (void)state;
    lx_allow_t *a = lx_allow_get('k', next_id++, 10, 0);
    uint32_t w = (uint32_t)lx_limits_minute_index(T0);
    int32_t left;
    assert_true(lx_allow_active(a, LX_ALLOW_MIN, w)); /* new: lease ahead */
    lx_allow_take(a, LX_ALLOW_MIN, w, &left);
    assert_true(lx_allow_active(a, LX_ALLOW_MIN, w));
    assert_true(lx_allow_active(a, LX_ALLOW_MIN, w + 1));  /* used in the minute before */
    assert_false(lx_allow_active(a, LX_ALLOW_MIN, w + 2)); /* idle: no query */
}

static bool admit_tokens(const lx_allow_set_t *set, lx_allow_ticket_t *t, int64_t at, int32_t n,
                         lx_allow_refusal_t *r)
{
    *t = (lx_allow_ticket_t){.at_ms = at, .tokens = n};
    return lx_allow_admit(set, t, NULL, NULL, r);
}

/* tpm, one instance: the estimate is taken while the window is above zero
 * (the last admitted may take it below, by up to its estimate), the end
 * settles to the real use: the difference given back or taken. */
static void test_tokens_estimate_and_settle(void **state)
{
    (void)state;
    lx_allow_set_shared(false);
    lx_allow_t *a = lx_allow_get_all('k', next_id++, 0, 0, 100, 0);
    lx_allow_set_t set = {{a, NULL, NULL}};
    uint32_t w = (uint32_t)lx_limits_minute_index(T0);
    lx_allow_ticket_t t1, t2, t3;
    lx_allow_refusal_t r;
    assert_true(admit_tokens(&set, &t1, T0, 30, &r));
    assert_int_equal(t1.took_tokens, 1);
    assert_int_equal(lx_allow_left(a, LX_ALLOW_TOK, w), 70);
    lx_allow_settle(&set, &t1, 10); /* 20 back */
    assert_int_equal(lx_allow_left(a, LX_ALLOW_TOK, w), 90);
    assert_true(admit_tokens(&set, &t2, T0, 95, &r)); /* 90 > 0: admitted, to -5 */
    assert_int_equal(lx_allow_left(a, LX_ALLOW_TOK, w), -5);
    assert_false(admit_tokens(&set, &t3, T0, 1, &r));
    assert_int_equal(r.per, LX_ALLOW_TOK);
    assert_int_equal(r.limit, 100);
    assert_int_equal(r.retry_after_s, 30);
    lx_allow_settle(&set, &t2, 120); /* used more than estimated: 25 more taken */
    assert_int_equal(lx_allow_left(a, LX_ALLOW_TOK, w), -30);
    lx_allow_view_t v;
    lx_allow_view(a, LX_ALLOW_TOK, T0, &v);
    assert_int_equal(v.limit, 100);
    assert_int_equal(v.remaining, 0);
    assert_int_equal(v.reset_ms, 30000);
    /* a settlement for a window that rolled is dropped; the new one is full */
    assert_true(admit_tokens(&set, &t3, T0 + 60000, 40, &r));
    lx_allow_settle(&set, &t2, 0);
    assert_int_equal(lx_allow_left(a, LX_ALLOW_TOK, w + 1), 60);
    lx_allow_settle(&set, &t3, 40);
    assert_int_equal(lx_allow_left(a, LX_ALLOW_TOK, w + 1), 60);
}

/* tpm, shared: a big estimate borrows (the window was above its floor),
 * the lease asked covers the debt, and what the view shows as remaining is
 * the limit less the real use whether or not the lease has answered. */
static void test_tokens_shared_remaining(void **state)
{
    (void)state;
    lx_allow_set_shared(true);
    lx_allow_t *a = lx_allow_get_all('k', next_id++, 0, 0, 200, 0);
    lx_allow_set_t set = {{a, NULL, NULL}};
    uint32_t w = (uint32_t)lx_limits_minute_index(T0);
    lx_allow_ticket_t t;
    lx_allow_refusal_t r;
    t = (lx_allow_ticket_t){.at_ms = T0, .tokens = 73};
    asked = 0;
    assert_true(lx_allow_admit(&set, &t, fake_lease, NULL, &r));
    assert_int_equal(asked, 1);
    assert_int_equal(lx_allow_left(a, LX_ALLOW_TOK, w), -73);
    lx_allow_settle(&set, &t, 21);
    lx_allow_view_t v;
    lx_allow_view(a, LX_ALLOW_TOK, T0, &v);
    assert_int_equal(v.remaining, 200 - 21); /* no lease answer yet */
    lx_allow_lease_done(a, LX_ALLOW_TOK, w, 73, 127);
    lx_allow_view(a, LX_ALLOW_TOK, T0, &v);
    assert_int_equal(v.remaining, 200 - 21); /* after it: the same */
    assert_int_equal(lx_allow_left(a, LX_ALLOW_TOK, w), 52);
    lx_allow_set_shared(false);
}

/* max_parallel: a place per request in flight, local plus what the other
 * instances published; refusals take nothing; each end releases once, even
 * when the limit changed meanwhile. */
static void test_parallel(void **state)
{
    (void)state;
    lx_allow_set_shared(false);
    lx_allow_t *k = lx_allow_get_all('k', next_id++, 10, 0, 0, 2);
    lx_allow_set_t set = {{k, NULL, NULL}};
    uint32_t w = (uint32_t)lx_limits_minute_index(T0);
    lx_allow_ticket_t t1, t2, t3;
    lx_allow_refusal_t r;
    assert_true(admit_tokens(&set, &t1, T0, 1, &r));
    assert_true(admit_tokens(&set, &t2, T0, 1, &r));
    assert_int_equal(lx_allow_in_flight(k), 2);
    assert_false(admit_tokens(&set, &t3, T0, 1, &r));
    assert_int_equal(r.per, LX_ALLOW_PAR);
    assert_int_equal(r.limit, 2);
    assert_int_equal(r.retry_after_s, 1);
    assert_int_equal(lx_allow_left(k, LX_ALLOW_MIN, w), 8); /* the refusal took no request */
    lx_allow_settle(&set, &t1, 0);
    assert_int_equal(lx_allow_in_flight(k), 1);
    atomic_store(&k->others, 1); /* another instance has one */
    assert_false(admit_tokens(&set, &t3, T0, 1, &r));
    atomic_store(&k->others, 0);
    assert_true(admit_tokens(&set, &t3, T0, 1, &r));
    lx_allow_release(&set, &t3); /* refused after admission: all given back */
    assert_int_equal(lx_allow_in_flight(k), 1);
    assert_int_equal(lx_allow_left(k, LX_ALLOW_MIN, w), 8);
    lx_allow_get_all('k', (int64_t)(atomic_load(&k->key) & 0xffffffffffffffull), 10, 0, 0, 0);
    lx_allow_settle(&set, &t2, 0); /* the limit went: still released */
    assert_int_equal(lx_allow_in_flight(k), 0);
}

/* All or nothing across levels and kinds: a team's max_parallel refusal
 * gives back the key's request and tokens. */
static void test_parallel_refusal_gives_back_all(void **state)
{
    (void)state;
    lx_allow_set_shared(false);
    lx_allow_t *k = lx_allow_get_all('k', next_id++, 5, 0, 1000, 0);
    lx_allow_t *t = lx_allow_get_all('t', next_id++, 0, 0, 0, 1);
    lx_allow_set_t set = {{k, NULL, t}};
    uint32_t w = (uint32_t)lx_limits_minute_index(T0);
    lx_allow_ticket_t t1, t2;
    lx_allow_refusal_t r;
    assert_true(admit_tokens(&set, &t1, T0, 100, &r));
    assert_int_equal(t1.entered, 4);
    assert_false(admit_tokens(&set, &t2, T0, 100, &r));
    assert_ptr_equal(r.who, t);
    assert_int_equal(lx_allow_left(k, LX_ALLOW_MIN, w), 4);
    assert_int_equal(lx_allow_left(k, LX_ALLOW_TOK, w), 900);
    assert_int_equal(lx_allow_in_flight(t), 1);
    lx_allow_settle(&set, &t1, 50);
    assert_int_equal(lx_allow_left(k, LX_ALLOW_TOK, w), 950);
    assert_int_equal(lx_allow_in_flight(t), 0);
}

static void test_reset_durations(void **state)
{
    (void)state;
    char b[24];
    lx_allow_duration(250, b);
    assert_string_equal(b, "250ms");
    lx_allow_duration(1000, b);
    assert_string_equal(b, "1s");
    lx_allow_duration(1001, b);
    assert_string_equal(b, "2s");
    lx_allow_duration(360000, b);
    assert_string_equal(b, "6m0s");
    lx_allow_duration(3723000, b);
    assert_string_equal(b, "1h2m3s");
    lx_allow_duration(86400000, b);
    assert_string_equal(b, "24h0m0s");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slice),
        cmocka_unit_test(test_get_is_stable_and_updates_limits),
        cmocka_unit_test(test_local_window_exact),
        cmocka_unit_test(test_shared_borrows_against_the_lease),
        cmocka_unit_test(test_borrowing_stops_at_the_room_left),
        cmocka_unit_test(test_credit_for_an_ended_window_is_dropped),
        cmocka_unit_test(test_all_or_nothing),
        cmocka_unit_test(test_day_refusal_waits_to_midnight),
        cmocka_unit_test(test_active_for_leasing_ahead),
        cmocka_unit_test(test_tokens_estimate_and_settle),
        cmocka_unit_test(test_tokens_shared_remaining),
        cmocka_unit_test(test_parallel),
        cmocka_unit_test(test_parallel_refusal_gives_back_all),
        cmocka_unit_test(test_reset_durations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
