/* test_state.c - unit tests for src/ai/routing/state.c (the lock-free
 * table of routing state). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ai/routing/state.h"

#include <pthread.h>
#include <stdlib.h>

static void test_keys(void **state)
{
    (void)state;
    assert_int_equal(lx_state_key_cred(0), 0);
    assert_int_equal(lx_state_key_cred(-3), 0);
    assert_int_equal(lx_state_key_cred(INT64_MAX), 0);
    assert_int_equal(lx_state_key_cred(7), 7);
    uint64_t m = lx_state_key_member(7, 0);
    assert_true(m != 0 && m != 7);
    assert_true(lx_state_key_member(7, 1) != m);
    assert_true(lx_state_key_member(8, 0) != m);
    assert_int_equal(lx_state_key_member(0, 1), 0);
    assert_int_equal(lx_state_key_member(1, -1), 0);
    assert_int_equal(lx_state_key_member(1, 65536), 0);
    /* a group's key: its own namespace, apart from credentials, members and
     * deployments */
    uint64_t g = lx_state_key_group(7);
    assert_true(g != 0 && g != 7 && g != m && g != lx_state_key_deploy(7, lx_str("x")));
    assert_int_equal(g >> 62, 3);
    assert_true(lx_state_key_group(8) != g);
    assert_int_equal(lx_state_key_group(0), 0);
    assert_int_equal(lx_state_key_group(-1), 0);
}

static void test_get_inserts_once_and_find_does_not_insert(void **state)
{
    (void)state;
    lx_state_table_t *t = lx_state_table_new(100);
    assert_non_null(t);
    assert_int_equal(lx_state_table_capacity(t), 128);
    assert_null(lx_state_table_find(t, 42));
    assert_int_equal(lx_state_table_count(t), 0);
    lx_route_state_t *a = lx_state_table_get(t, 42);
    assert_non_null(a);
    assert_int_equal((uintptr_t)a % 64, 0);
    assert_ptr_equal(lx_state_table_get(t, 42), a);
    assert_ptr_equal(lx_state_table_find(t, 42), a);
    assert_int_equal(lx_state_table_count(t), 1);
    assert_null(lx_state_table_get(t, 0));
    /* a fresh entry is all zero: closed breaker, no data */
    assert_int_equal(atomic_load(&a->brk), 0);
    assert_int_equal(lx_state_ttfb_us(a), -1);
    assert_int_equal(lx_state_inflight(a), 0);
    lx_state_table_free(t);
}

static void test_sequential_ids_distinct_entries(void **state)
{
    (void)state;
    lx_state_table_t *t = lx_state_table_new(4096);
    lx_route_state_t **p = calloc(3000, sizeof *p);
    for (int i = 0; i < 3000; i++) {
        p[i] = lx_state_table_get(t, (uint64_t)i + 1);
        assert_non_null(p[i]);
        assert_int_equal(atomic_load(&p[i]->key), (uint64_t)i + 1);
    }
    for (int i = 0; i < 3000; i++)
        assert_ptr_equal(lx_state_table_find(t, (uint64_t)i + 1), p[i]);
    assert_int_equal(lx_state_table_count(t), 3000);
    free(p);
    lx_state_table_free(t);
}

static void test_full_table_returns_null(void **state)
{
    (void)state;
    lx_state_table_t *t = lx_state_table_new(64); /* inserts stop at 56 */
    for (int i = 1; i <= 56; i++)
        assert_non_null(lx_state_table_get(t, (uint64_t)i));
    assert_null(lx_state_table_get(t, 1000));
    /* existing keys are still found */
    assert_non_null(lx_state_table_get(t, 56));
    assert_non_null(lx_state_table_find(t, 1));
    assert_null(lx_state_table_find(t, 1000));
    lx_state_table_free(t);
}

#define NT   4
#define NIDS 5000
typedef struct {
    lx_state_table_t *t;
    lx_route_state_t *got[NIDS];
    int offset;
} ins_arg_t;

static void *ins_thread(void *arg)
{
    ins_arg_t *a = arg;
    for (int k = 0; k < NIDS; k++) {
        int i = (k + a->offset) % NIDS; /* each thread in a different order */
        a->got[i] = lx_state_table_get(a->t, (uint64_t)i + 1);
        lx_state_inflight_acquire(a->got[i]);
    }
    return NULL;
}

static void test_concurrent_inserts_agree(void **state)
{
    (void)state;
    lx_state_table_t *t = lx_state_table_new(16384);
    static ins_arg_t args[NT];
    pthread_t th[NT];
    for (int i = 0; i < NT; i++) {
        args[i].t = t;
        args[i].offset = i * 1237;
        pthread_create(&th[i], NULL, ins_thread, &args[i]);
    }
    for (int i = 0; i < NT; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(lx_state_table_count(t), NIDS);
    for (int i = 0; i < NIDS; i++) {
        assert_non_null(args[0].got[i]);
        for (int k = 1; k < NT; k++)
            assert_ptr_equal(args[k].got[i], args[0].got[i]);
        assert_int_equal(lx_state_inflight(args[0].got[i]), NT);
    }
    lx_state_table_free(t);
}

static void test_ewma(void **state)
{
    (void)state;
    lx_state_table_t *t = lx_state_table_new(64);
    lx_route_state_t *s = lx_state_table_get(t, 1);
    lx_state_ttfb_update(s, -5); /* ignored */
    assert_int_equal(lx_state_ttfb_us(s), -1);
    lx_state_ttfb_update(s, 1000);
    assert_int_equal(lx_state_ttfb_us(s), 1000);
    lx_state_ttfb_update(s, 2000); /* + (2000 - 1000) / 8 */
    assert_int_equal(lx_state_ttfb_us(s), 1125);
    for (int i = 0; i < 200; i++)
        lx_state_ttfb_update(s, 300);
    assert_in_range(lx_state_ttfb_us(s), 299, 301);
    lx_state_ttfb_update(s, 0); /* a zero sample is data, not "no data" */
    assert_true(lx_state_ttfb_us(s) >= 0);
    lx_state_table_free(t);
}

static void test_inflight_and_auth_flag(void **state)
{
    (void)state;
    lx_state_table_t *t = lx_state_table_new(64);
    lx_route_state_t *s = lx_state_table_get(t, 9);
    lx_state_inflight_acquire(s);
    lx_state_inflight_acquire(s);
    lx_state_inflight_release(s);
    assert_int_equal(lx_state_inflight(s), 1);
    assert_false(lx_state_auth_flagged(s, 1000));
    lx_state_flag_auth(s, 1000, 500);
    assert_true(lx_state_auth_flagged(s, 1000));
    assert_true(lx_state_auth_flagged(s, 1499));
    assert_false(lx_state_auth_flagged(s, 1500));
    lx_state_flag_auth(s, 2000, 500);
    lx_state_flag_auth(s, 2000, 100); /* never shortens */
    assert_true(lx_state_auth_flagged(s, 2400));
    lx_state_clear_auth(s);
    assert_false(lx_state_auth_flagged(s, 2400));
    lx_state_table_free(t);
}

static void test_null_state_is_untracked(void **state)
{
    (void)state;
    lx_state_inflight_acquire(NULL);
    lx_state_inflight_release(NULL);
    assert_int_equal(lx_state_inflight(NULL), 0);
    lx_state_ttfb_update(NULL, 5);
    assert_int_equal(lx_state_ttfb_us(NULL), -1);
    lx_state_flag_auth(NULL, 0, 10);
    assert_false(lx_state_auth_flagged(NULL, 0));
    assert_null(lx_state_table_get(NULL, 1));
}

static void test_global_table(void **state)
{
    (void)state;
    assert_null(lx_cred_state_get(1)); /* not initialised */
    assert_int_equal(lx_route_state_init(0), LX_OK);
    assert_int_equal(lx_route_state_init(0), LX_ERROR);
    assert_int_equal(lx_state_table_capacity(lx_route_state_table()), LX_STATE_DEFAULT_CAPACITY);
    lx_route_state_t *c = lx_cred_state_get(5);
    assert_non_null(c);
    assert_ptr_equal(lx_cred_state_get(5), c);
    lx_route_state_t *m = lx_member_state_get(5, 0);
    assert_non_null(m);
    assert_ptr_not_equal(m, c);
    assert_null(lx_cred_state_get(0));
    lx_route_state_shutdown();
    assert_null(lx_route_state_table());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_get_inserts_once_and_find_does_not_insert),
        cmocka_unit_test(test_sequential_ids_distinct_entries),
        cmocka_unit_test(test_full_table_returns_null),
        cmocka_unit_test(test_concurrent_inserts_agree),
        cmocka_unit_test(test_ewma),
        cmocka_unit_test(test_inflight_and_auth_flag),
        cmocka_unit_test(test_null_state_is_untracked),
        cmocka_unit_test(test_global_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
