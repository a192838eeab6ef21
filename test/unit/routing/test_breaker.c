/* test_breaker.c - unit tests for src/ai/routing/breaker.c: transitions,
 * consecutive and ratio trips, open timeout, half-open probe limit and the
 * discard of results from an older generation. Time is injected (now_ms). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ai/routing/breaker.h"

#include <pthread.h>

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

/* allow + record in one step; returns the event */
static lx_breaker_event_t req(lx_route_state_t *s, const lx_breaker_conf_t *c, bool ok, int64_t now)
{
    uint32_t gen;
    lx_breaker_verdict_t v = lx_breaker_allow(s, c, now, &gen);
    assert_int_not_equal(v, LX_BRK_DENIED);
    return lx_breaker_record(s, c, ok, gen, now);
}

static void test_defaults(void **state)
{
    (void)state;
    lx_breaker_conf_t c;
    lx_breaker_conf_default(&c);
    assert_int_equal(c.failure_threshold, 5);
    assert_true(c.failure_ratio == 0.5);
    assert_int_equal(c.min_requests, 20);
    assert_int_equal(c.window_ms, 30000);
    assert_int_equal(c.open_ms, 30000);
    assert_int_equal(c.half_open_max, 1);
    assert_string_equal(lx_breaker_state_name(LX_BRK_HALF_OPEN), "half_open");
    assert_string_equal(lx_breaker_event_name(LX_BRK_EV_STALE), "stale");
}

static void test_consecutive_trip_open_halfopen_close(void **state)
{
    (void)state;
    lx_breaker_conf_t c;
    lx_breaker_conf_default(&c);
    lx_route_state_t *s = fresh();
    int64_t t = 1000;
    for (int i = 0; i < 4; i++)
        assert_int_equal(req(s, &c, false, t), LX_BRK_EV_NONE);
    assert_int_equal(lx_breaker_state(s), LX_BRK_CLOSED);
    assert_int_equal(req(s, &c, false, t), LX_BRK_EV_OPENED);
    assert_int_equal(lx_breaker_state(s), LX_BRK_OPEN);

    uint32_t gen;
    assert_int_equal(lx_breaker_allow(s, &c, t + 29999, &gen), LX_BRK_DENIED);
    assert_false(lx_breaker_would_allow(s, &c, t + 29999));
    assert_true(lx_breaker_would_allow(s, &c, t + 30000));
    /* open_ms passed: one probe, the next is denied */
    assert_int_equal(lx_breaker_allow(s, &c, t + 30000, &gen), LX_BRK_PROBE);
    assert_int_equal(lx_breaker_state(s), LX_BRK_HALF_OPEN);
    uint32_t g2;
    assert_int_equal(lx_breaker_allow(s, &c, t + 30001, &g2), LX_BRK_DENIED);
    assert_false(lx_breaker_would_allow(s, &c, t + 30001));
    /* probe success closes */
    assert_int_equal(lx_breaker_record(s, &c, true, gen, t + 30100), LX_BRK_EV_CLOSED);
    assert_int_equal(lx_breaker_state(s), LX_BRK_CLOSED);
    assert_int_equal(lx_breaker_allow(s, &c, t + 30200, &g2), LX_BRK_ALLOWED);
    /* the consecutive count restarted */
    for (int i = 0; i < 4; i++)
        assert_int_equal(req(s, &c, false, t + 30300), LX_BRK_EV_NONE);
    assert_int_equal(lx_breaker_state(s), LX_BRK_CLOSED);
}

static void test_probe_failure_reopens(void **state)
{
    (void)state;
    lx_breaker_conf_t c;
    lx_breaker_conf_default(&c);
    lx_route_state_t *s = fresh();
    for (int i = 0; i < 5; i++)
        req(s, &c, false, 0);
    assert_int_equal(lx_breaker_state(s), LX_BRK_OPEN);
    uint32_t gen;
    assert_int_equal(lx_breaker_allow(s, &c, 30000, &gen), LX_BRK_PROBE);
    assert_int_equal(lx_breaker_record(s, &c, false, gen, 30500), LX_BRK_EV_REOPENED);
    assert_int_equal(lx_breaker_state(s), LX_BRK_OPEN);
    /* the open timeout restarts from the reopening */
    assert_int_equal(lx_breaker_allow(s, &c, 60000, &gen), LX_BRK_DENIED);
    assert_int_equal(lx_breaker_allow(s, &c, 60500, &gen), LX_BRK_PROBE);
}

static void test_success_resets_consecutive(void **state)
{
    (void)state;
    lx_breaker_conf_t c;
    lx_breaker_conf_default(&c);
    c.failure_ratio = 0; /* consecutive only */
    lx_route_state_t *s = fresh();
    for (int round = 0; round < 10; round++) {
        for (int i = 0; i < 4; i++)
            req(s, &c, false, round);
        req(s, &c, true, round);
    }
    assert_int_equal(lx_breaker_state(s), LX_BRK_CLOSED);
}

static void test_ratio_trip_needs_min_requests(void **state)
{
    (void)state;
    lx_breaker_conf_t c;
    lx_breaker_conf_default(&c);
    lx_route_state_t *s = fresh();
    /* ok, fail, ok, fail...: never 5 in a row, 50% failures */
    for (int i = 1; i <= 19; i++) {
        assert_int_equal(req(s, &c, i % 2 == 0 ? false : true, 5000), LX_BRK_EV_NONE);
        assert_int_equal(lx_breaker_state(s), LX_BRK_CLOSED);
    }
    /* the 20th result is the 10th failure: 10/20 >= 0.5 */
    assert_int_equal(req(s, &c, false, 5000), LX_BRK_EV_OPENED);
}

static void test_ratio_below_threshold_never_trips(void **state)
{
    (void)state;
    lx_breaker_conf_t c;
    lx_breaker_conf_default(&c);
    lx_route_state_t *s = fresh();
    for (int i = 0; i < 400; i++) /* 1 failure in 3 */
        assert_int_equal(req(s, &c, i % 3 != 0, 1000 + i * 10), LX_BRK_EV_NONE);
    assert_int_equal(lx_breaker_state(s), LX_BRK_CLOSED);
}

static void test_ratio_window_rolls(void **state)
{
    (void)state;
    lx_breaker_conf_t c;
    lx_breaker_conf_default(&c);
    lx_route_state_t *s = fresh();
    /* 19 results, 9 failures, at t = 0..: under min_requests */
    for (int i = 0; i < 19; i++)
        req(s, &c, i % 2 == 0, 100);
    /* 31 s later they are out of the window: 1 more failure does not trip */
    assert_int_equal(req(s, &c, false, 31000), LX_BRK_EV_NONE);
    assert_int_equal(lx_breaker_state(s), LX_BRK_CLOSED);
    /* but 20 results at 50% inside the window do */
    lx_breaker_event_t ev = LX_BRK_EV_NONE;
    for (int i = 0; i < 19 && ev == LX_BRK_EV_NONE; i++)
        ev = req(s, &c, i % 2 == 1, 32000);
    assert_int_equal(ev, LX_BRK_EV_OPENED);
}

static void test_stale_generation_discarded(void **state)
{
    (void)state;
    lx_breaker_conf_t c;
    lx_breaker_conf_default(&c);
    lx_route_state_t *s = fresh();

    /* a slow request let through while closed ... */
    uint32_t old_gen;
    assert_int_equal(lx_breaker_allow(s, &c, 0, &old_gen), LX_BRK_ALLOWED);
    /* ... meanwhile the breaker trips */
    for (int i = 0; i < 5; i++)
        req(s, &c, false, 10);
    assert_int_equal(lx_breaker_state(s), LX_BRK_OPEN);
    /* its late success must not close the breaker */
    assert_int_equal(lx_breaker_record(s, &c, true, old_gen, 20), LX_BRK_EV_STALE);
    assert_int_equal(lx_breaker_state(s), LX_BRK_OPEN);

    /* half-open: a pre-open success still cannot close it */
    uint32_t probe;
    assert_int_equal(lx_breaker_allow(s, &c, 30010, &probe), LX_BRK_PROBE);
    assert_int_equal(lx_breaker_record(s, &c, true, old_gen, 30020), LX_BRK_EV_STALE);
    assert_int_equal(lx_breaker_state(s), LX_BRK_HALF_OPEN);
    assert_int_equal(lx_breaker_record(s, &c, true, probe, 30030), LX_BRK_EV_CLOSED);

    /* closed again: failures from before are discarded, even five of them */
    for (int i = 0; i < 5; i++)
        assert_int_equal(lx_breaker_record(s, &c, false, old_gen, 30040), LX_BRK_EV_STALE);
    assert_int_equal(lx_breaker_record(s, &c, false, probe, 30040), LX_BRK_EV_STALE);
    assert_int_equal(lx_breaker_state(s), LX_BRK_CLOSED);
    assert_int_equal(atomic_load(&s->consec_fail), 0);
    /* the window of the old generation does not count either: 4 failures
     * (not 5 in a row, far under min_requests) keep it closed */
    for (int i = 0; i < 4; i++)
        assert_int_equal(req(s, &c, false, 30050), LX_BRK_EV_NONE);
    assert_int_equal(lx_breaker_state(s), LX_BRK_CLOSED);
}

static void test_half_open_probe_limit_and_release(void **state)
{
    (void)state;
    lx_breaker_conf_t c;
    lx_breaker_conf_default(&c);
    c.half_open_max = 2;
    lx_route_state_t *s = fresh();
    for (int i = 0; i < 5; i++)
        req(s, &c, false, 0);
    /* would_allow takes nothing */
    for (int i = 0; i < 10; i++)
        assert_true(lx_breaker_would_allow(s, &c, 30000));
    uint32_t g1, g2, g3;
    assert_int_equal(lx_breaker_allow(s, &c, 30000, &g1), LX_BRK_PROBE);
    assert_int_equal(lx_breaker_allow(s, &c, 30001, &g2), LX_BRK_PROBE);
    assert_int_equal(g1, g2);
    assert_int_equal(lx_breaker_allow(s, &c, 30002, &g3), LX_BRK_DENIED);
    /* a probe that ends without a verdict gives its slot back */
    lx_breaker_release(s, g1);
    assert_int_equal(lx_breaker_allow(s, &c, 30003, &g3), LX_BRK_PROBE);
    assert_int_equal(lx_breaker_allow(s, &c, 30004, &g3), LX_BRK_DENIED);
    /* the first verdict decides; the other probe's result is then stale */
    assert_int_equal(lx_breaker_record(s, &c, false, g2, 30010), LX_BRK_EV_REOPENED);
    assert_int_equal(lx_breaker_record(s, &c, true, g1, 30011), LX_BRK_EV_STALE);
    assert_int_equal(lx_breaker_state(s), LX_BRK_OPEN);
}

static void test_abandoned_probe_expires(void **state)
{
    (void)state;
    lx_breaker_conf_t c;
    lx_breaker_conf_default(&c);
    lx_route_state_t *s = fresh();
    for (int i = 0; i < 5; i++)
        req(s, &c, false, 0);
    uint32_t g1, g2;
    assert_int_equal(lx_breaker_allow(s, &c, 30000, &g1), LX_BRK_PROBE);
    /* never reports: denied for open_ms, then a new probe, new generation */
    assert_int_equal(lx_breaker_allow(s, &c, 59999, &g2), LX_BRK_DENIED);
    assert_int_equal(lx_breaker_allow(s, &c, 60000, &g2), LX_BRK_PROBE);
    assert_int_not_equal(g1, g2);
    assert_int_equal(lx_breaker_record(s, &c, true, g1, 60001), LX_BRK_EV_STALE);
    assert_int_equal(lx_breaker_record(s, &c, true, g2, 60002), LX_BRK_EV_CLOSED);
}

typedef struct {
    lx_route_state_t *s;
    const lx_breaker_conf_t *c;
    int probes;
} probe_arg_t;

static void *probe_thread(void *arg)
{
    probe_arg_t *a = arg;
    for (int i = 0; i < 10000; i++) {
        uint32_t g;
        if (lx_breaker_allow(a->s, a->c, 60000, &g) == LX_BRK_PROBE)
            a->probes++;
    }
    return NULL;
}

static void test_concurrent_probes_limited(void **state)
{
    (void)state;
    lx_breaker_conf_t c;
    lx_breaker_conf_default(&c);
    c.half_open_max = 3;
    lx_route_state_t *s = fresh();
    for (int i = 0; i < 5; i++)
        req(s, &c, false, 20000);
    probe_arg_t a[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (probe_arg_t){s, &c, 0};
        pthread_create(&th[i], NULL, probe_thread, &a[i]);
    }
    int total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        total += a[i].probes;
    }
    assert_int_equal(total, 3);
}

static void test_null_state(void **state)
{
    (void)state;
    lx_breaker_conf_t c;
    lx_breaker_conf_default(&c);
    uint32_t g = 99;
    assert_int_equal(lx_breaker_allow(NULL, &c, 0, &g), LX_BRK_ALLOWED);
    assert_int_equal(g, 0);
    assert_true(lx_breaker_would_allow(NULL, &c, 0));
    assert_int_equal(lx_breaker_record(NULL, &c, false, 0, 0), LX_BRK_EV_NONE);
    lx_breaker_release(NULL, 0);
    assert_int_equal(lx_breaker_state(NULL), LX_BRK_CLOSED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_consecutive_trip_open_halfopen_close),
        cmocka_unit_test(test_probe_failure_reopens),
        cmocka_unit_test(test_success_resets_consecutive),
        cmocka_unit_test(test_ratio_trip_needs_min_requests),
        cmocka_unit_test(test_ratio_below_threshold_never_trips),
        cmocka_unit_test(test_ratio_window_rolls),
        cmocka_unit_test(test_stale_generation_discarded),
        cmocka_unit_test(test_half_open_probe_limit_and_release),
        cmocka_unit_test(test_abandoned_probe_expires),
        cmocka_unit_test(test_concurrent_probes_limited),
        cmocka_unit_test(test_null_state),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
