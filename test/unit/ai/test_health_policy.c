/* test_health_policy.c - unit tests for src/ai/health_policy.c, the health
 * monitor's decisions: when a credential is probed, what a probe's answer
 * does to its breaker and to the monitor's memory, and what a counter write
 * adds. Breakers and limits are real (a private state table); time is
 * injected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ai/health_policy.h"
#include "ai/routing/limits.h"

static lx_state_table_t *tab;
static uint64_t next_key = 1;
static lx_breaker_conf_t brk;

#define T0 1000000 /* ms */

static int setup(void **state)
{
    (void)state;
    tab = lx_state_table_new(1024);
    lx_breaker_conf_default(&brk);
    brk.open_ms = 10000;
    return tab ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    lx_state_table_free(tab);
    return 0;
}

static lx_route_state_t *fresh(void)
{
    return lx_state_table_get(tab, next_key++);
}

/* A credential whose breaker traffic opened at T0. */
static lx_route_state_t *opened(void)
{
    lx_route_state_t *st = fresh();
    for (uint32_t i = 0; i < brk.failure_threshold; i++) {
        uint32_t gen;
        assert_int_equal(lx_breaker_allow(st, &brk, T0, &gen), LX_BRK_ALLOWED);
        lx_breaker_record(st, &brk, false, gen, T0);
    }
    assert_int_equal(lx_breaker_state(st), LX_BRK_OPEN);
    return st;
}

static bool due(const lx_health_conn_t *c, const lx_route_state_t *st, int64_t now)
{
    return lx_health_probe_due(c, true, 0, 4, st, &brk, now);
}

/* ---- when to probe ---- */

static void test_due_only_open_and_past_open_period(void **state)
{
    (void)state;
    lx_health_conn_t c = {.id = 1};
    lx_route_state_t *closed = fresh();
    assert_false(due(&c, closed, T0));
    assert_false(due(&c, closed, T0 + 100000)); /* closed breakers are never probed */

    lx_route_state_t *st = opened();
    assert_false(due(&c, st, T0));
    assert_false(due(&c, st, T0 + brk.open_ms - 1));
    assert_true(due(&c, st, T0 + brk.open_ms));
}

static void test_due_refused_by_each_guard(void **state)
{
    (void)state;
    lx_route_state_t *st = opened();
    int64_t now = T0 + brk.open_ms;
    lx_health_conn_t c = {.id = 1};
    assert_true(lx_health_probe_due(&c, true, 3, 4, st, &brk, now));
    assert_false(lx_health_probe_due(&c, false, 0, 4, st, &brk, now)); /* inactive */
    assert_false(lx_health_probe_due(&c, true, 4, 4, st, &brk, now));  /* max_probes in flight */
    c.probing = true;
    assert_false(due(&c, st, now)); /* one in flight for it already */
    c.probing = false;
    c.next_probe_ms = now + 1; /* after an inconclusive probe */
    assert_false(due(&c, st, now));
    assert_true(due(&c, st, now + 1));
    c.next_probe_ms = 0;

    lx_route_state_t *cool = opened();
    lx_cooling_set(cool, now, "30", LX_COOLING_DEFAULT_MS, 0);
    assert_false(due(&c, cool, now));
    assert_true(due(&c, cool, now + 30000));

    lx_route_state_t *auth = opened();
    lx_state_flag_auth(auth, now, 5000);
    assert_false(due(&c, auth, now));
    assert_true(due(&c, auth, now + 5000));
}

static void test_claim_takes_the_half_open_slot(void **state)
{
    (void)state;
    lx_route_state_t *st = opened();
    int64_t now = T0 + brk.open_ms;
    uint32_t gen;
    assert_true(lx_health_probe_claim(st, &brk, 0, 0, now, &gen));
    assert_int_equal(lx_breaker_state(st), LX_BRK_HALF_OPEN);
    assert_int_equal(gen, lx_breaker_generation(st));
    /* the slot is the probe's: traffic (and a second probe) is denied */
    lx_health_conn_t c = {.id = 1};
    assert_false(due(&c, st, now));
    uint32_t g2;
    assert_false(lx_health_probe_claim(st, &brk, 0, 0, now, &g2));
    /* a probe that cannot start gives it back */
    lx_health_probe_unclaim(st, 0, 0, now, gen);
    assert_true(due(&c, st, now));
    assert_true(lx_health_probe_claim(st, &brk, 0, 0, now, &g2));
}

static void test_claim_refused_on_closed_breaker(void **state)
{
    (void)state;
    lx_route_state_t *st = fresh();
    uint32_t gen;
    assert_false(lx_health_probe_claim(st, &brk, 0, 0, T0, &gen)); /* ALLOWED is not a probe */
    assert_int_equal(lx_breaker_state(st), LX_BRK_CLOSED);
}

static void test_claim_takes_a_rate_token_or_nothing(void **state)
{
    (void)state;
    lx_route_state_t *st = opened();
    int64_t now = T0 + brk.open_ms;
    uint32_t minute, day, gen;
    assert_true(lx_health_probe_claim(st, &brk, 5, 0, now, &gen));
    lx_limits_used(st, now, &minute, &day);
    assert_int_equal(minute, 1);
    lx_health_probe_unclaim(st, 5, 0, now, gen);
    lx_limits_used(st, now, &minute, &day);
    assert_int_equal(minute, 0);

    /* the limit is spent: no probe, and the breaker slot is not kept */
    assert_int_equal(lx_limits_take(st, now, 1, 0), LX_LIMIT_OK);
    assert_false(lx_health_probe_claim(st, &brk, 1, 0, now, &gen));
    lx_health_conn_t c = {.id = 1};
    assert_true(due(&c, st, now));
    assert_true(lx_health_probe_claim(st, &brk, 0, 0, now, &gen));
}

/* ---- what a probe's answer does ---- */

static lx_attempt_facts_t answered(int status)
{
    return (lx_attempt_facts_t){
        .status = status, .transport = LX_XFER_OK, .request_sent = true, .idempotent = true};
}

static lx_attempt_facts_t failed(lx_xfer_t o)
{
    return (lx_attempt_facts_t){
        .transport = o, .request_sent = o != LX_XFER_CONNECT_FAILED, .idempotent = true};
}

static void test_verdict_table(void **state)
{
    (void)state;
    lx_attempt_facts_t f;
    f = answered(200);
    assert_int_equal(lx_health_probe_verdict(true, &f), LX_PROBE_CLOSE);
    assert_int_equal(lx_health_probe_verdict(false, &f), LX_PROBE_CLOSE);
    /* a models list that is not there: try a chat, for a chat it says nothing */
    int no_list[] = {400, 404, 405, 422};
    for (size_t i = 0; i < sizeof no_list / sizeof *no_list; i++) {
        f = answered(no_list[i]);
        assert_int_equal(lx_health_probe_verdict(true, &f), LX_PROBE_TRY_CHAT);
        assert_int_equal(lx_health_probe_verdict(false, &f), LX_PROBE_INCONCLUSIVE);
    }
    int down[] = {500, 502, 503, 504, 529, 408, 401, 403};
    for (size_t i = 0; i < sizeof down / sizeof *down; i++) {
        f = answered(down[i]);
        assert_int_equal(lx_health_probe_verdict(true, &f), LX_PROBE_REOPEN);
        assert_int_equal(lx_health_probe_verdict(false, &f), LX_PROBE_REOPEN);
    }
    f = answered(429);
    assert_int_equal(lx_health_probe_verdict(true, &f), LX_PROBE_INCONCLUSIVE);
    assert_int_equal(lx_health_probe_verdict(false, &f), LX_PROBE_INCONCLUSIVE);
    f = failed(LX_XFER_CONNECT_FAILED);
    assert_int_equal(lx_health_probe_verdict(true, &f), LX_PROBE_REOPEN);
    f = failed(LX_XFER_TIMEOUT_TOTAL);
    assert_int_equal(lx_health_probe_verdict(false, &f), LX_PROBE_REOPEN);
    f = failed(LX_XFER_ABORTED); /* we stopped it: says nothing */
    assert_int_equal(lx_health_probe_verdict(true, &f), LX_PROBE_INCONCLUSIVE);
}

/* A claimed probe on a freshly opened breaker, and its memory. */
static lx_route_state_t *probing(lx_health_conn_t *c, uint32_t *gen)
{
    lx_route_state_t *st = opened();
    *c = (lx_health_conn_t){.id = 7, .seen_open = true, .probing = false};
    assert_true(lx_health_probe_claim(st, &brk, 0, 0, T0 + brk.open_ms, gen));
    return st;
}

static void test_apply_close(void **state)
{
    (void)state;
    lx_health_conn_t c;
    uint32_t gen;
    lx_route_state_t *st = probing(&c, &gen);
    c.failed_probes = 3;
    int64_t now = T0 + brk.open_ms + 5;
    assert_int_equal(lx_health_probe_apply(LX_PROBE_CLOSE, &c, st, &brk, gen, now),
                     LX_BRK_EV_CLOSED);
    assert_int_equal(lx_breaker_state(st), LX_BRK_CLOSED);
    assert_int_equal(c.failed_probes, 0);
    assert_false(c.seen_open);
    assert_false(due(&c, st, now + 100000));
}

static void test_apply_reopen_counts_failed_probes(void **state)
{
    (void)state;
    lx_health_conn_t c;
    uint32_t gen;
    lx_route_state_t *st = probing(&c, &gen);
    int64_t now = T0 + brk.open_ms + 5;
    assert_int_equal(lx_health_probe_apply(LX_PROBE_REOPEN, &c, st, &brk, gen, now),
                     LX_BRK_EV_REOPENED);
    assert_int_equal(lx_breaker_state(st), LX_BRK_OPEN);
    assert_int_equal(c.failed_probes, 1);
    assert_true(c.seen_open);
    /* a whole open period before the next probe */
    assert_false(due(&c, st, now + brk.open_ms - 1));
    assert_true(due(&c, st, now + brk.open_ms));
    assert_true(lx_health_probe_claim(st, &brk, 0, 0, now + brk.open_ms, &gen));
    lx_health_probe_apply(LX_PROBE_REOPEN, &c, st, &brk, gen, now + brk.open_ms);
    assert_int_equal(c.failed_probes, 2);
    /* a forgotten credential: the breaker still hears it */
    assert_true(lx_health_probe_claim(st, &brk, 0, 0, now + 2 * brk.open_ms, &gen));
    assert_int_equal(
        lx_health_probe_apply(LX_PROBE_REOPEN, NULL, st, &brk, gen, now + 2 * brk.open_ms),
        LX_BRK_EV_REOPENED);
}

static void test_apply_inconclusive_waits_an_open_period(void **state)
{
    (void)state;
    lx_health_conn_t c;
    uint32_t gen;
    lx_route_state_t *st = probing(&c, &gen);
    int64_t now = T0 + brk.open_ms + 5;
    assert_int_equal(lx_health_probe_apply(LX_PROBE_INCONCLUSIVE, &c, st, &brk, gen, now),
                     LX_BRK_EV_NONE);
    assert_int_equal(lx_breaker_state(st), LX_BRK_HALF_OPEN); /* nothing recorded */
    assert_int_equal(c.failed_probes, 0);
    assert_int_equal(c.next_probe_ms, now + brk.open_ms);
    /* the slot went back to traffic, but the monitor waits */
    uint32_t g2;
    assert_int_equal(lx_breaker_allow(st, &brk, now, &g2), LX_BRK_PROBE);
    lx_breaker_release(st, g2);
    assert_false(due(&c, st, now));
    assert_true(due(&c, st, now + brk.open_ms));
}

static void test_apply_try_chat(void **state)
{
    (void)state;
    lx_health_conn_t c;
    uint32_t gen;
    lx_route_state_t *st = probing(&c, &gen);
    int64_t now = T0 + brk.open_ms + 5;
    assert_int_equal(lx_health_probe_apply(LX_PROBE_TRY_CHAT, &c, st, &brk, gen, now),
                     LX_BRK_EV_NONE);
    assert_true(c.no_models);
    assert_int_equal(c.failed_probes, 0);
    /* the chat probe may go on the next tick */
    assert_true(due(&c, st, now));
    assert_true(lx_health_probe_claim(st, &brk, 0, 0, now, &gen));
}

/* ---- what a counter write adds ---- */

static void test_delta_nothing_moved(void **state)
{
    (void)state;
    lx_health_totals_t w = {.ok = 5, .fail = 2, .used_ms = 100, .err_ms = 90};
    lx_health_totals_t now = w;
    lx_health_delta_t d;
    assert_false(lx_health_delta(&w, &now, &d));
}

static void test_delta_adds_the_growth(void **state)
{
    (void)state;
    lx_health_totals_t w = {.ok = 5, .fail = 2, .used_ms = 100, .err_ms = 90};
    lx_health_totals_t now = {.ok = 9, .fail = 2, .used_ms = 200, .err_ms = 90};
    lx_health_delta_t d;
    assert_true(lx_health_delta(&w, &now, &d));
    assert_int_equal(d.add_ok, 4);
    assert_int_equal(d.add_fail, 0);
    assert_int_equal(d.used_ms, 200);
    assert_int_equal(d.err_ms, 0); /* no new error: last_error untouched */

    now.fail = 3;
    now.err_ms = 150;
    assert_true(lx_health_delta(&w, &now, &d));
    assert_int_equal(d.add_fail, 1);
    assert_int_equal(d.err_ms, 150);

    /* only the last use moved */
    lx_health_totals_t use = w;
    use.used_ms = 101;
    assert_true(lx_health_delta(&w, &use, &d));
    assert_int_equal(d.add_ok, 0);
    assert_int_equal(d.used_ms, 101);
}

static void test_delta_after_a_failed_write_carries_both(void **state)
{
    (void)state;
    /* written only moves when a write succeeds: a failed write's growth is
     * in the next row, nothing lost or counted twice */
    lx_health_totals_t w = {0};
    lx_health_totals_t t1 = {.ok = 3, .fail = 1, .used_ms = 10, .err_ms = 8};
    lx_health_delta_t d;
    assert_true(lx_health_delta(&w, &t1, &d)); /* this write fails: w stays */
    lx_health_totals_t t2 = {.ok = 7, .fail = 1, .used_ms = 20, .err_ms = 8};
    assert_true(lx_health_delta(&w, &t2, &d));
    assert_int_equal(d.add_ok, 7);
    assert_int_equal(d.add_fail, 1);
    assert_int_equal(d.used_ms, 20);
    assert_int_equal(d.err_ms, 8);
    w = t2; /* this one succeeds */
    assert_false(lx_health_delta(&w, &t2, &d));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_due_only_open_and_past_open_period),
        cmocka_unit_test(test_due_refused_by_each_guard),
        cmocka_unit_test(test_claim_takes_the_half_open_slot),
        cmocka_unit_test(test_claim_refused_on_closed_breaker),
        cmocka_unit_test(test_claim_takes_a_rate_token_or_nothing),
        cmocka_unit_test(test_verdict_table),
        cmocka_unit_test(test_apply_close),
        cmocka_unit_test(test_apply_reopen_counts_failed_probes),
        cmocka_unit_test(test_apply_inconclusive_waits_an_open_period),
        cmocka_unit_test(test_apply_try_chat),
        cmocka_unit_test(test_delta_nothing_moved),
        cmocka_unit_test(test_delta_adds_the_growth),
        cmocka_unit_test(test_delta_after_a_failed_write_carries_both),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
