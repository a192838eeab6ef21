/* test_select.c - unit tests for src/ai/routing/select.c: the seven group
 * strategies (statistics over 10,000 decisions), eligibility, and that the
 * fallback order holds every other eligible member exactly once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ai/routing/select.h"

#include <pthread.h>

#define DECISIONS 10000

static lx_state_table_t *tab;
static int64_t next_id = 1;
static lx_route_conf_t conf;
static const int64_t NOW = 1000000;

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

/* n members, each on its own fresh connection; arrays may be NULL */
static void make_group(lx_group_t *g, lx_strategy_t s, int n, const int *w, const int *prio,
                       const double *cost)
{
    lx_member_t m[LX_GROUP_MAX_MEMBERS];
    for (int i = 0; i < n; i++) {
        m[i] = (lx_member_t){
            .cred_id = next_id,
            .weight = w ? w[i] : 1,
            .priority = prio ? prio[i] : 0,
            .cost = cost ? cost[i] : 1.0,
            .cred = lx_state_table_get(tab, (uint64_t)next_id++),
        };
    }
    assert_int_equal(lx_group_init(g, s, m, n), LX_OK);
}

/* The order is a permutation of the eligible members (mask bit i set). */
static void assert_perm(const uint16_t *out, int k, uint64_t eligible)
{
    uint64_t seen = 0;
    for (int i = 0; i < k; i++) {
        assert_true(out[i] < 64);
        uint64_t bit = UINT64_C(1) << out[i];
        if (seen & bit)
            fail_msg("member %d twice", out[i]);
        if (!(eligible & bit))
            fail_msg("ineligible member %d listed", out[i]);
        seen |= bit;
    }
    if (seen != eligible)
        fail_msg("order misses members: %llx of %llx", (unsigned long long)seen,
                 (unsigned long long)eligible);
}

static int order(lx_group_t *g, lx_rng_t *rng, uint16_t *out, lx_route_excl_t *x)
{
    return lx_group_order(g, &conf, NOW, rng, out, LX_GROUP_MAX_MEMBERS, x);
}

static void test_strategy_names(void **state)
{
    (void)state;
    for (int i = 0; i < LX_STRAT__COUNT; i++) {
        lx_strategy_t s;
        assert_int_equal(lx_strategy_parse(lx_str(lx_strategy_name((lx_strategy_t)i)), &s), LX_OK);
        assert_int_equal(s, i);
    }
    lx_strategy_t s;
    assert_int_equal(lx_strategy_parse(lx_str("fastest"), &s), LX_ERROR);
    assert_string_equal(lx_strategy_name(LX_STRAT_SMOOTH_WEIGHTED), "smooth_weighted");
}

static void test_init_errors(void **state)
{
    (void)state;
    lx_group_t g;
    lx_member_t m = {.weight = 1};
    assert_int_equal(lx_group_init(&g, LX_STRAT_PRIORITY, &m, 0), LX_ERROR);
    assert_int_equal(lx_group_init(&g, LX_STRAT_PRIORITY, &m, LX_GROUP_MAX_MEMBERS + 1), LX_ERROR);
    assert_int_equal(lx_group_init(&g, LX_STRAT__COUNT, &m, 1), LX_ERROR);
    lx_group_free(&g);
}

static void test_round_robin_exact_cycle(void **state)
{
    (void)state;
    lx_group_t g;
    make_group(&g, LX_STRAT_ROUND_ROBIN, 3, NULL, NULL, NULL);
    lx_rng_t rng;
    lx_rng_seed(&rng, 1);
    uint16_t out[LX_GROUP_MAX_MEMBERS];
    for (int d = 0; d < DECISIONS; d++) {
        int k = order(&g, &rng, out, NULL);
        assert_int_equal(k, 3);
        for (int i = 0; i < 3; i++)
            assert_int_equal(out[i], (d + i) % 3); /* first in turn, then the cycle */
    }
    lx_group_free(&g);
}

/* A republished snapshot builds the group again: it goes on taking turns
 * where the last one was (it restarted at the first member). */
static void test_round_robin_survives_a_new_snapshot(void **state)
{
    (void)state;
    lx_group_t a, b;
    make_group(&a, LX_STRAT_ROUND_ROBIN, 3, NULL, NULL, NULL);
    lx_group_use_state(&a, lx_state_table_get(tab, lx_state_key_group(4242)));
    lx_rng_t rng;
    lx_rng_seed(&rng, 1);
    uint16_t out[LX_GROUP_MAX_MEMBERS];
    assert_int_equal(order(&a, &rng, out, NULL), 3);
    assert_int_equal(out[0], 0);
    assert_int_equal(order(&a, &rng, out, NULL), 3);
    assert_int_equal(out[0], 1);
    make_group(&b, LX_STRAT_ROUND_ROBIN, 3, NULL, NULL, NULL);
    lx_group_use_state(&b, lx_state_table_get(tab, lx_state_key_group(4242)));
    assert_int_equal(order(&b, &rng, out, NULL), 3);
    assert_int_equal(out[0], 2);
    assert_int_equal(order(&a, &rng, out, NULL), 3); /* the old one, still read */
    assert_int_equal(out[0], 0);
    lx_group_free(&a);
    lx_group_free(&b);
}

static void test_smooth_weighted_sequence(void **state)
{
    (void)state;
    lx_group_t g;
    const int w[] = {5, 1, 1};
    make_group(&g, LX_STRAT_SMOOTH_WEIGHTED, 3, w, NULL, NULL);
    assert_int_equal(g.swrr_len, 7);
    lx_rng_t rng;
    lx_rng_seed(&rng, 1);
    uint16_t out[LX_GROUP_MAX_MEMBERS];
    const int expect[] = {0, 0, 1, 0, 2, 0, 0}; /* a a b a c a a */
    int count[3] = {0};
    for (int d = 0; d < DECISIONS; d++) {
        int k = order(&g, &rng, out, NULL);
        assert_int_equal(k, 3);
        assert_int_equal(out[0], expect[d % 7]);
        assert_perm(out, k, 7);
        if (out[0] == 0) { /* fallbacks by weight, then index */
            assert_int_equal(out[1], 1);
            assert_int_equal(out[2], 2);
        } else {
            assert_int_equal(out[1], 0);
        }
        count[out[0]]++;
    }
    /* 10000 = 1428 periods + a a b a */
    assert_int_equal(count[0], 1428 * 5 + 3);
    assert_int_equal(count[1], 1428 + 1);
    assert_int_equal(count[2], 1428);
    lx_group_free(&g);
}

static void test_smooth_weighted_skips_open_breaker(void **state)
{
    (void)state;
    lx_group_t g;
    const int w[] = {5, 1, 1};
    make_group(&g, LX_STRAT_SMOOTH_WEIGHTED, 3, w, NULL, NULL);
    /* trip member 1's breaker */
    for (int i = 0; i < 5; i++) {
        uint32_t gen;
        lx_breaker_allow(g.members[1].cred, &conf.breaker, NOW, &gen);
        lx_breaker_record(g.members[1].cred, &conf.breaker, false, gen, NOW);
    }
    lx_rng_t rng;
    lx_rng_seed(&rng, 1);
    uint16_t out[LX_GROUP_MAX_MEMBERS];
    lx_route_excl_t x = {{0}};
    int count[3] = {0};
    for (int d = 0; d < 7000; d++) {
        int k = order(&g, &rng, out, &x);
        assert_int_equal(k, 2);
        assert_perm(out, k, 5);
        count[out[0]]++;
    }
    assert_int_equal(count[1], 0);
    assert_int_equal(count[0] + count[2], 7000);
    assert_int_equal(count[2], 1000); /* c keeps its own turns */
    assert_int_equal(x.n[LX_WHY_BREAKER_OPEN], 7000);
    lx_group_free(&g);
}

static void test_smooth_weighted_large_weights(void **state)
{
    (void)state;
    lx_group_t g;
    const int w[] = {3000, 2000, 7, 0};
    make_group(&g, LX_STRAT_SMOOTH_WEIGHTED, 4, w, NULL, NULL);
    assert_true(g.swrr_len <= LX_SWRR_MAX_PERIOD);
    lx_rng_t rng;
    lx_rng_seed(&rng, 1);
    uint16_t out[LX_GROUP_MAX_MEMBERS];
    int count[4] = {0};
    for (int d = 0; d < DECISIONS; d++) {
        int k = order(&g, &rng, out, NULL);
        assert_perm(out, k, 15);
        assert_int_equal(out[k - 1], 3); /* weight 0: fallback only, last */
        count[out[0]]++;
    }
    assert_in_range(count[0], 5900, 6100);
    assert_in_range(count[1], 3900, 4100);
    assert_in_range(count[2], 1, 40);
    assert_int_equal(count[3], 0);
    lx_group_free(&g);
}

typedef struct {
    lx_group_t *g;
    int count[3];
} swrr_arg_t;

static void *swrr_thread(void *arg)
{
    swrr_arg_t *a = arg;
    lx_rng_t rng;
    lx_rng_seed(&rng, (uint64_t)(uintptr_t)arg);
    uint16_t out[4];
    for (int d = 0; d < 7000; d++) {
        if (lx_group_order(a->g, &conf, NOW, &rng, out, 4, NULL) > 0)
            a->count[out[0]]++;
    }
    return NULL;
}

static void test_smooth_weighted_exact_across_threads(void **state)
{
    (void)state;
    lx_group_t g;
    const int w[] = {5, 1, 1};
    make_group(&g, LX_STRAT_SMOOTH_WEIGHTED, 3, w, NULL, NULL);
    swrr_arg_t a[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (swrr_arg_t){.g = &g};
        pthread_create(&th[i], NULL, swrr_thread, &a[i]);
    }
    int count[3] = {0};
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        for (int k = 0; k < 3; k++)
            count[k] += a[i].count[k];
    }
    /* 28000 decisions = 4000 whole periods, whatever the interleaving */
    assert_int_equal(count[0], 20000);
    assert_int_equal(count[1], 4000);
    assert_int_equal(count[2], 4000);
    lx_group_free(&g);
}

static void test_weighted_random_shares(void **state)
{
    (void)state;
    lx_group_t g;
    const int w[] = {1, 2, 3, 4};
    make_group(&g, LX_STRAT_WEIGHTED_RANDOM, 4, w, NULL, NULL);
    lx_rng_t rng;
    lx_rng_seed(&rng, 12345);
    uint16_t out[LX_GROUP_MAX_MEMBERS];
    int count[4] = {0};
    for (int d = 0; d < DECISIONS; d++) {
        int k = order(&g, &rng, out, NULL);
        assert_perm(out, k, 15);
        /* fallbacks by weight descending */
        for (int i = 2; i < k; i++)
            assert_true(w[out[i - 1]] >= w[out[i]]);
        count[out[0]]++;
    }
    for (int i = 0; i < 4; i++) {
        double share = (double)count[i] / DECISIONS, want = w[i] / 10.0;
        if (share < want - 0.03 || share > want + 0.03)
            fail_msg("member %d: share %.3f, want %.3f", i, share, want);
    }
    lx_group_free(&g);
}

static void trip(lx_route_state_t *s)
{
    for (int i = 0; i < 5; i++) {
        uint32_t gen;
        lx_breaker_allow(s, &conf.breaker, NOW, &gen);
        lx_breaker_record(s, &conf.breaker, false, gen, NOW);
    }
    assert_int_equal(lx_breaker_state(s), LX_BRK_OPEN);
}

static void test_priority_and_failover(void **state)
{
    (void)state;
    lx_group_t g;
    const int w[] = {1, 3, 5, 5};
    const int prio[] = {0, 0, 1, 2};
    make_group(&g, LX_STRAT_PRIORITY, 4, w, prio, NULL);
    lx_rng_t rng;
    lx_rng_seed(&rng, 99);
    uint16_t out[LX_GROUP_MAX_MEMBERS];
    int count[4] = {0};
    for (int d = 0; d < DECISIONS; d++) {
        int k = order(&g, &rng, out, NULL);
        assert_int_equal(k, 4);
        assert_perm(out, k, 15);
        assert_true(out[0] == 0 || out[0] == 1); /* the lowest priority value */
        assert_true(out[1] == 0 || out[1] == 1);
        assert_int_equal(out[2], 2);
        assert_int_equal(out[3], 3);
        count[out[0]]++;
    }
    /* ties by weight: 1 : 3 */
    assert_in_range(count[1], 7200, 7800);

    /* breakers of the first tier open: priority 1 takes over */
    trip(g.members[0].cred);
    trip(g.members[1].cred);
    lx_route_excl_t x = {{0}};
    for (int d = 0; d < DECISIONS; d++) {
        int k = order(&g, &rng, out, &x);
        assert_int_equal(k, 2);
        assert_int_equal(out[0], 2);
        assert_int_equal(out[1], 3);
    }
    assert_int_equal(x.n[LX_WHY_BREAKER_OPEN], 2 * DECISIONS);
    /* after open_ms they are probed again, first in line */
    lx_group_order(&g, &conf, NOW + conf.breaker.open_ms, &rng, out, 4, NULL);
    assert_true(out[0] == 0 || out[0] == 1);
    lx_group_free(&g);
}

static void test_least_latency(void **state)
{
    (void)state;
    lx_group_t g;
    make_group(&g, LX_STRAT_LEAST_LATENCY, 4, NULL, NULL, NULL);
    lx_rng_t rng;
    lx_rng_seed(&rng, 5);
    uint16_t out[LX_GROUP_MAX_MEMBERS];
    /* no data anywhere: every member gets sampled */
    int count[4] = {0};
    for (int d = 0; d < DECISIONS; d++) {
        int k = order(&g, &rng, out, NULL);
        assert_perm(out, k, 15);
        count[out[0]]++;
    }
    for (int i = 0; i < 4; i++)
        assert_in_range(count[i], 2000, 3000);
    /* data for three of them: the one without data first, then fastest */
    const int64_t ttfb[] = {500000, 100000, 300000};
    for (int r = 0; r < 20; r++)
        for (int i = 0; i < 3; i++)
            lx_state_ttfb_update(g.members[i].cred, ttfb[i]);
    for (int d = 0; d < DECISIONS; d++) {
        int k = order(&g, &rng, out, NULL);
        assert_int_equal(k, 4);
        assert_int_equal(out[0], 3);
        assert_int_equal(out[1], 1);
        assert_int_equal(out[2], 2);
        assert_int_equal(out[3], 0);
    }
    lx_state_ttfb_update(g.members[3].cred, 900000);
    /* member 1 slows down: after updates, member 2 is the fastest */
    for (int r = 0; r < 40; r++)
        lx_state_ttfb_update(g.members[1].cred, 800000);
    for (int d = 0; d < DECISIONS; d++) {
        order(&g, &rng, out, NULL);
        assert_int_equal(out[0], 2);
        assert_int_equal(out[1], 0);
    }
    lx_group_free(&g);
}

static void test_least_busy(void **state)
{
    (void)state;
    lx_group_t g;
    make_group(&g, LX_STRAT_LEAST_BUSY, 3, NULL, NULL, NULL);
    lx_rng_t rng;
    lx_rng_seed(&rng, 6);
    uint16_t out[LX_GROUP_MAX_MEMBERS];
    const int busy[] = {3, 1, 2};
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < busy[i]; k++)
            lx_state_inflight_acquire(g.members[i].cred);
    for (int d = 0; d < DECISIONS; d++) {
        int k = order(&g, &rng, out, NULL);
        assert_int_equal(k, 3);
        assert_int_equal(out[0], 1);
        assert_int_equal(out[1], 2);
        assert_int_equal(out[2], 0);
    }
    /* member stats (its own in-flight) win over the connection's */
    lx_route_state_t *own = lx_state_table_get(tab, (uint64_t)next_id++);
    g.members[0].stats = own;
    order(&g, &rng, out, NULL);
    assert_int_equal(out[0], 0);
    g.members[0].stats = NULL;
    /* equal load: shared evenly */
    lx_state_inflight_release(g.members[0].cred);
    lx_state_inflight_release(g.members[0].cred);
    lx_state_inflight_release(g.members[2].cred);
    int count[3] = {0};
    for (int d = 0; d < DECISIONS; d++) {
        order(&g, &rng, out, NULL);
        count[out[0]]++;
    }
    for (int i = 0; i < 3; i++)
        assert_in_range(count[i], 2900, 3770);
    lx_group_free(&g);
}

static void test_lowest_cost(void **state)
{
    (void)state;
    lx_group_t g;
    const double cost[] = {3.0, 0.5, 1.0, 12.0};
    make_group(&g, LX_STRAT_LOWEST_COST, 4, NULL, NULL, cost);
    lx_rng_t rng;
    lx_rng_seed(&rng, 7);
    uint16_t out[LX_GROUP_MAX_MEMBERS];
    for (int d = 0; d < DECISIONS; d++) {
        int k = order(&g, &rng, out, NULL);
        assert_int_equal(k, 4);
        assert_int_equal(out[0], 1);
        assert_int_equal(out[1], 2);
        assert_int_equal(out[2], 0);
        assert_int_equal(out[3], 3);
    }
    /* the cheapest cooling: the next cheapest */
    lx_cooling_set(g.members[1].cred, NOW, "30", 0, 60000);
    assert_int_equal(order(&g, &rng, out, NULL), 3);
    assert_int_equal(out[0], 2);
    lx_group_free(&g);
}

static void test_every_strategy_fallback_is_a_permutation(void **state)
{
    (void)state;
    const int w[] = {1, 4, 2, 0, 3, 1, 2, 5};
    const int prio[] = {2, 0, 1, 0, 1, 2, 0, 3};
    const double cost[] = {1, 2, 3, 4, 5, 6, 7, 8};
    for (int s = 0; s < LX_STRAT__COUNT; s++) {
        lx_group_t g;
        make_group(&g, (lx_strategy_t)s, 8, w, prio, cost);
        lx_cooling_set(g.members[5].cred, NOW, "60", 0, 60000);
        lx_limits_take(g.members[6].cred, NOW, 1, 0); /* its one per minute is used */
        g.members[6].rpm = 1;
        for (int i = 0; i < 8; i++)
            lx_state_ttfb_update(g.members[i].cred, 1000 * (i % 3));
        lx_rng_t rng;
        lx_rng_seed(&rng, (uint64_t)s);
        uint16_t out[LX_GROUP_MAX_MEMBERS];
        lx_route_excl_t x = {{0}};
        const uint64_t eligible = 0xff & ~(UINT64_C(1) << 5) & ~(UINT64_C(1) << 6);
        for (int d = 0; d < DECISIONS; d++) {
            int k = order(&g, &rng, out, &x);
            assert_int_equal(k, 6);
            assert_perm(out, k, eligible);
        }
        assert_int_equal(x.n[LX_WHY_COOLING], DECISIONS);
        assert_int_equal(x.n[LX_WHY_RATE_LIMITED], DECISIONS);
        /* max shorter than the list */
        assert_int_equal(lx_group_order(&g, &conf, NOW, &rng, out, 2, NULL), 2);
        assert_int_equal(lx_group_order(&g, &conf, NOW, &rng, out, 0, NULL), 0);
        lx_group_free(&g);
    }
}

static void test_nothing_eligible(void **state)
{
    (void)state;
    lx_group_t g;
    make_group(&g, LX_STRAT_ROUND_ROBIN, 2, NULL, NULL, NULL);
    trip(g.members[0].cred);
    lx_state_flag_auth(g.members[1].cred, NOW, 1000);
    lx_rng_t rng;
    lx_rng_seed(&rng, 1);
    uint16_t out[4];
    lx_route_excl_t x = {{0}};
    assert_int_equal(order(&g, &rng, out, &x), 0);
    assert_int_equal(x.n[LX_WHY_BREAKER_OPEN], 1);
    assert_int_equal(x.n[LX_WHY_AUTH_FAILED], 1);
    lx_route_why_t why;
    assert_int_equal(lx_route_error(&x, 2, &why), LX_E_UNAVAILABLE);
    lx_group_free(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strategy_names),
        cmocka_unit_test(test_init_errors),
        cmocka_unit_test(test_round_robin_exact_cycle),
        cmocka_unit_test(test_round_robin_survives_a_new_snapshot),
        cmocka_unit_test(test_smooth_weighted_sequence),
        cmocka_unit_test(test_smooth_weighted_skips_open_breaker),
        cmocka_unit_test(test_smooth_weighted_large_weights),
        cmocka_unit_test(test_smooth_weighted_exact_across_threads),
        cmocka_unit_test(test_weighted_random_shares),
        cmocka_unit_test(test_priority_and_failover),
        cmocka_unit_test(test_least_latency),
        cmocka_unit_test(test_least_busy),
        cmocka_unit_test(test_lowest_cost),
        cmocka_unit_test(test_every_strategy_fallback_is_a_permutation),
        cmocka_unit_test(test_nothing_eligible),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
