/* test_chain.c - unit tests for src/ai/routing/chain.c: user preference,
 * capability, context-window and health filters with their exclusion
 * counts, cost ranking, and load balancing by priority then weight. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ai/catalog.h"
#include "ai/routing/chain.h"

#define DECISIONS 10000
#define NC        6

static lx_state_table_t *tab;
static int64_t next_id = 1;
static lx_route_conf_t conf;
static const int64_t NOW = 5000000;
static lx_candidate_t cands[NC];

enum { OA_A, OA_B, ANTH, GEM, LOCAL, EMB };

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

/* A fresh set of candidates (fresh connection states) before each test. */
static int fresh(void **state)
{
    (void)state;
    const unsigned chat = LX_CAP_CHAT | LX_CAP_STREAM;
    const lx_candidate_t c[NC] = {
        [OA_A] = {.provider = LX_STR("openai"),
                  .caps = chat | LX_CAP_TOOLS | LX_CAP_VISION | LX_CAP_JSON,
                  .context_window = 128000,
                  .input_per_1m = 2.5,
                  .output_per_1m = 10,
                  .priority = 0,
                  .weight = 1},
        [OA_B] = {.provider = LX_STR("openai"),
                  .caps = chat | LX_CAP_TOOLS | LX_CAP_VISION | LX_CAP_JSON,
                  .context_window = 128000,
                  .input_per_1m = 2.5,
                  .output_per_1m = 10,
                  .priority = 0,
                  .weight = 3},
        [ANTH] = {.provider = LX_STR("anthropic"),
                  .caps = chat | LX_CAP_TOOLS | LX_CAP_VISION,
                  .context_window = 200000,
                  .input_per_1m = 3,
                  .output_per_1m = 15,
                  .priority = 1,
                  .weight = 1},
        [GEM] = {.provider = LX_STR("gemini"),
                 .caps = chat | LX_CAP_TOOLS | LX_CAP_VISION | LX_CAP_JSON,
                 .context_window = 1000000,
                 .input_per_1m = 1.25,
                 .output_per_1m = 5,
                 .priority = 2,
                 .weight = 1},
        [LOCAL] = {.provider = LX_STR("local"),
                   .caps = chat,
                   .context_window = 32768,
                   .priority = 3,
                   .weight = 1},
        [EMB] = {.provider = LX_STR("openai"),
                 .caps = LX_CAP_EMBED,
                 .context_window = 8192,
                 .input_per_1m = 0.02,
                 .priority = 0,
                 .weight = 1},
    };
    for (int i = 0; i < NC; i++) {
        cands[i] = c[i];
        cands[i].cred_id = next_id;
        cands[i].cred = lx_state_table_get(tab, (uint64_t)next_id++);
    }
    return 0;
}

static void assert_perm(const uint16_t *out, int k, unsigned eligible)
{
    unsigned seen = 0;
    for (int i = 0; i < k; i++) {
        unsigned bit = 1u << out[i];
        if (seen & bit)
            fail_msg("candidate %d twice", out[i]);
        if (!(eligible & bit))
            fail_msg("excluded candidate %d listed", out[i]);
        seen |= bit;
    }
    if (seen != eligible)
        fail_msg("order %x, want %x", seen, eligible);
}

static int run(const lx_route_request_t *rq, uint16_t *out, lx_route_excl_t *x)
{
    static lx_rng_t rng;
    if (!rng.s)
        lx_rng_seed(&rng, 2024);
    return lx_chain_order(cands, NC, rq, &conf, NOW, &rng, out, 16, x);
}

#define BIT(i) (1u << (i))

static void test_load_balancing_priority_then_weight(void **state)
{
    (void)state;
    lx_route_request_t rq = {.need_caps = LX_CAP_CHAT};
    uint16_t out[16];
    int first_b = 0;
    for (int d = 0; d < DECISIONS; d++) {
        lx_route_excl_t x = {{0}};
        int k = run(&rq, out, &x);
        assert_int_equal(k, 5);
        assert_perm(out, k, 0x1f);
        assert_true(out[0] == OA_A || out[0] == OA_B);
        assert_true(out[1] == OA_A || out[1] == OA_B);
        assert_int_equal(out[2], ANTH);
        assert_int_equal(out[3], GEM);
        assert_int_equal(out[4], LOCAL);
        assert_int_equal(x.n[LX_WHY_CAPABILITY], 1); /* the embeddings-only one */
        first_b += out[0] == OA_B;
    }
    /* weights 1 : 3 within the priority-0 tier, +-3% */
    double share = (double)first_b / DECISIONS;
    if (share < 0.72 || share > 0.78)
        fail_msg("weight-3 share %.3f", share);
}

static void test_capability_filter(void **state)
{
    (void)state;
    uint16_t out[16];
    lx_route_excl_t x = {{0}};
    lx_route_request_t rq = {.need_caps = LX_CAP_CHAT | LX_CAP_TOOLS | LX_CAP_VISION};
    int k = run(&rq, out, &x);
    assert_perm(out, k, BIT(OA_A) | BIT(OA_B) | BIT(ANTH) | BIT(GEM));
    assert_int_equal(x.n[LX_WHY_CAPABILITY], 2);

    x = (lx_route_excl_t){{0}};
    rq.need_caps = LX_CAP_CHAT | LX_CAP_JSON;
    k = run(&rq, out, &x);
    assert_perm(out, k, BIT(OA_A) | BIT(OA_B) | BIT(GEM));
    assert_int_equal(x.n[LX_WHY_CAPABILITY], 3);

    x = (lx_route_excl_t){{0}};
    rq.need_caps = LX_CAP_EMBED;
    k = run(&rq, out, &x);
    assert_int_equal(k, 1);
    assert_int_equal(out[0], EMB);

    x = (lx_route_excl_t){{0}};
    rq.need_caps = LX_CAP_IMAGES;
    assert_int_equal(run(&rq, out, &x), 0);
    assert_int_equal(x.n[LX_WHY_CAPABILITY], NC);
    lx_route_why_t why;
    assert_int_equal(lx_route_error(&x, NC, &why), LX_E_BAD_REQUEST);
    assert_int_equal(why, LX_WHY_CAPABILITY);
}

static void test_context_window_filter(void **state)
{
    (void)state;
    uint16_t out[16];
    lx_route_excl_t x = {{0}};
    lx_route_request_t rq = {
        .need_caps = LX_CAP_CHAT, .prompt_tokens = 100000, .max_tokens = 28000};
    /* 128000 fits exactly in 128k */
    int k = run(&rq, out, &x);
    assert_perm(out, k, BIT(OA_A) | BIT(OA_B) | BIT(ANTH) | BIT(GEM));
    assert_int_equal(x.n[LX_WHY_CONTEXT], 1);

    x = (lx_route_excl_t){{0}};
    rq.max_tokens = 28001;
    k = run(&rq, out, &x);
    assert_perm(out, k, BIT(ANTH) | BIT(GEM));
    assert_int_equal(x.n[LX_WHY_CONTEXT], 3);
    assert_int_equal(x.n[LX_WHY_CAPABILITY], 1);

    x = (lx_route_excl_t){{0}};
    rq.prompt_tokens = 2000000;
    assert_int_equal(run(&rq, out, &x), 0);
    lx_route_why_t why;
    assert_int_equal(lx_route_error(&x, NC, &why), LX_E_BAD_REQUEST);
    assert_int_equal(why, LX_WHY_CONTEXT);

    /* unknown window: never excluded */
    cands[LOCAL].context_window = 0;
    x = (lx_route_excl_t){{0}};
    k = run(&rq, out, &x);
    assert_int_equal(k, 1);
    assert_int_equal(out[0], LOCAL);
}

static void test_user_preference_filters(void **state)
{
    (void)state;
    uint16_t out[16];
    lx_route_excl_t x = {{0}};
    lx_route_request_t rq = {.need_caps = LX_CAP_CHAT, .provider = LX_STR("anthropic")};
    int k = run(&rq, out, &x);
    assert_int_equal(k, 1);
    assert_int_equal(out[0], ANTH);
    assert_int_equal(x.n[LX_WHY_PROVIDER], 5);

    x = (lx_route_excl_t){{0}};
    rq = (lx_route_request_t){.need_caps = LX_CAP_CHAT,
                              .header_providers = LX_STR(" gemini ,LOCAL")};
    k = run(&rq, out, &x);
    assert_int_equal(k, 2);
    assert_int_equal(out[0], GEM); /* priority 2 before 3 */
    assert_int_equal(out[1], LOCAL);
    assert_int_equal(x.n[LX_WHY_PROVIDER], 4);

    const lx_str_t allowed[] = {LX_STR("openai"), LX_STR("local")};
    x = (lx_route_excl_t){{0}};
    rq = (lx_route_request_t){.need_caps = LX_CAP_CHAT, .allowed = allowed, .nallowed = 2};
    k = run(&rq, out, &x);
    assert_perm(out, k, BIT(OA_A) | BIT(OA_B) | BIT(LOCAL));
    assert_int_equal(x.n[LX_WHY_NOT_ALLOWED], 2);
    assert_int_equal(x.n[LX_WHY_CAPABILITY], 1);

    /* the key allows openai only, the header asks for gemini: nothing */
    x = (lx_route_excl_t){{0}};
    rq.nallowed = 1;
    rq.header_providers = LX_STR("gemini");
    assert_int_equal(run(&rq, out, &x), 0);
    assert_int_equal(x.n[LX_WHY_NOT_ALLOWED], 3);
    assert_int_equal(x.n[LX_WHY_PROVIDER], 3);
    assert_int_equal(lx_route_error(&x, NC, NULL), LX_E_MODEL_NOT_FOUND);

    x = (lx_route_excl_t){{0}};
    rq = (lx_route_request_t){.need_caps = LX_CAP_CHAT, .allowed = allowed + 1, .nallowed = 0};
    assert_int_equal(run(&rq, out, &x), 0);
    assert_int_equal(lx_route_error(&x, NC, NULL), LX_E_FORBIDDEN);
}

static void test_health_filter(void **state)
{
    (void)state;
    /* OA_A: breaker open, OA_B: cooling, ANTH: rpm used up, GEM: auth flagged */
    for (int i = 0; i < 5; i++) {
        uint32_t gen;
        lx_breaker_allow(cands[OA_A].cred, &conf.breaker, NOW, &gen);
        lx_breaker_record(cands[OA_A].cred, &conf.breaker, false, gen, NOW);
    }
    lx_cooling_set(cands[OA_B].cred, NOW, "20", 5000, 60000);
    cands[ANTH].rpm = 2;
    lx_limits_take(cands[ANTH].cred, NOW, 2, 0);
    lx_limits_take(cands[ANTH].cred, NOW, 2, 0);
    lx_state_flag_auth(cands[GEM].cred, NOW, 60000);

    uint16_t out[16];
    lx_route_excl_t x = {{0}};
    lx_route_request_t rq = {.need_caps = LX_CAP_CHAT};
    int k = run(&rq, out, &x);
    assert_int_equal(k, 1);
    assert_int_equal(out[0], LOCAL);
    assert_int_equal(x.n[LX_WHY_BREAKER_OPEN], 1);
    assert_int_equal(x.n[LX_WHY_COOLING], 1);
    assert_int_equal(x.n[LX_WHY_RATE_LIMITED], 1);
    assert_int_equal(x.n[LX_WHY_AUTH_FAILED], 1);
    assert_int_equal(x.n[LX_WHY_CAPABILITY], 1);

    /* nothing healthy left for a vision request: 503, not 400 */
    x = (lx_route_excl_t){{0}};
    rq.need_caps = LX_CAP_CHAT | LX_CAP_VISION;
    assert_int_equal(run(&rq, out, &x), 0);
    lx_route_why_t why;
    assert_int_equal(lx_route_error(&x, NC, &why), LX_E_UNAVAILABLE);
    assert_int_equal(why, LX_WHY_BREAKER_OPEN);

    /* only the rate-limited / cooling ones could: 429 */
    x = (lx_route_excl_t){{0}};
    rq.provider = LX_STR("anthropic");
    assert_int_equal(run(&rq, out, &x), 0);
    assert_int_equal(lx_route_error(&x, NC, &why), LX_E_RATE_LIMITED);
    assert_int_equal(why, LX_WHY_RATE_LIMITED);
}

static void test_cost_ranking(void **state)
{
    (void)state;
    uint16_t out[16];
    lx_route_request_t rq = {.need_caps = LX_CAP_CHAT, .optimize_cost = true};
    for (int d = 0; d < 1000; d++) {
        int k = run(&rq, out, NULL);
        assert_int_equal(k, 5);
        assert_int_equal(out[0], LOCAL); /* free */
        assert_int_equal(out[1], GEM);
        assert_int_equal(out[2], OA_B); /* same price as OA_A: heavier weight first */
        assert_int_equal(out[3], OA_A);
        assert_int_equal(out[4], ANTH);
    }
    /* prices weighted by the request's token counts */
    cands[OA_A].input_per_1m = 1;
    cands[OA_A].output_per_1m = 10;
    cands[OA_B].input_per_1m = 5;
    cands[OA_B].output_per_1m = 2;
    rq.provider = LX_STR("openai");
    rq.prompt_tokens = 10000;
    rq.max_tokens = 100;
    assert_int_equal(run(&rq, out, NULL), 2);
    assert_int_equal(out[0], OA_A); /* long prompt: cheap input wins */
    rq.prompt_tokens = 100;
    rq.max_tokens = 10000;
    assert_int_equal(run(&rq, out, NULL), 2);
    assert_int_equal(out[0], OA_B); /* long answer: cheap output wins */
}

/* Token counts from a client are int64: prompt + max_tokens must not wrap
 * (a wrapped, negative need would pass every context window). */
static void test_context_window_no_overflow(void **state)
{
    (void)state;
    uint16_t out[16];
    lx_route_excl_t x = {{0}};
    lx_route_request_t rq = {
        .need_caps = LX_CAP_CHAT, .prompt_tokens = 100, .max_tokens = INT64_MAX};
    assert_int_equal(run(&rq, out, &x), 0);
    assert_int_equal(x.n[LX_WHY_CONTEXT], 5);
    x = (lx_route_excl_t){{0}};
    rq.prompt_tokens = INT64_MAX;
    rq.max_tokens = INT64_MAX;
    assert_int_equal(run(&rq, out, &x), 0);
    assert_int_equal(x.n[LX_WHY_CONTEXT], 5);
    x = (lx_route_excl_t){{0}};
    rq.prompt_tokens = INT64_MAX - 10;
    rq.max_tokens = 11;
    assert_int_equal(run(&rq, out, &x), 0);
    assert_int_equal(x.n[LX_WHY_CONTEXT], 5);
    /* the cost ranking reads the same counts */
    rq.optimize_cost = true;
    assert_int_equal(run(&rq, out, NULL), 0);
    rq.prompt_tokens = 10;
    rq.max_tokens = 10;
    assert_int_equal(run(&rq, out, NULL), 5);
}

static void test_limits_and_bounds(void **state)
{
    (void)state;
    uint16_t out[16];
    lx_route_request_t rq = {.need_caps = LX_CAP_CHAT};
    lx_rng_t rng;
    lx_rng_seed(&rng, 1);
    assert_int_equal(lx_chain_order(cands, NC, &rq, &conf, NOW, &rng, out, 2, NULL), 2);
    assert_int_equal(lx_chain_order(cands, NC, &rq, &conf, NOW, &rng, out, 0, NULL), 0);
    assert_int_equal(lx_chain_order(cands, 0, &rq, &conf, NOW, &rng, out, 16, NULL), 0);
    /* untracked candidates (no state) are healthy */
    for (int i = 0; i < NC; i++)
        cands[i].cred = NULL;
    assert_int_equal(lx_chain_order(cands, NC, &rq, &conf, NOW, &rng, out, 16, NULL), 5);
    assert_int_equal(lx_chain_static_check(&cands[EMB], &rq), LX_WHY_CAPABILITY);
    assert_int_equal(lx_chain_static_check(&cands[GEM], &rq), LX_WHY_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_load_balancing_priority_then_weight, fresh),
        cmocka_unit_test_setup(test_capability_filter, fresh),
        cmocka_unit_test_setup(test_context_window_filter, fresh),
        cmocka_unit_test_setup(test_user_preference_filters, fresh),
        cmocka_unit_test_setup(test_health_filter, fresh),
        cmocka_unit_test_setup(test_cost_ranking, fresh),
        cmocka_unit_test_setup(test_context_window_no_overflow, fresh),
        cmocka_unit_test_setup(test_limits_and_bounds, fresh),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
