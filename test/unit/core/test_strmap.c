/* test_strmap.c - the immutable string map: every key found with its value,
 * absent keys miss, first put wins, prefixes and lengths are exact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/strmap.h"

#include <stdio.h>
#include <stdlib.h>

static void test_many_keys(void **state)
{
    (void)state;
    enum { N = 5000 };
    static char keys[N][32];
    lx_strmap_t m;
    lx_strmap_init(&m, N);
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "provider-%d/model-%d", i % 97, i);
        lx_strmap_put(&m, keys[i], strlen(keys[i]), i);
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(lx_strmap_get(&m, lx_str(keys[i])), i);
    assert_int_equal(lx_strmap_get(&m, LX_STR("provider-1/model-5001")), -1);
    assert_int_equal(lx_strmap_get(&m, LX_STR("")), -1);
    lx_strmap_free(&m);
}

static void test_first_put_wins_and_exact_length(void **state)
{
    (void)state;
    lx_strmap_t m;
    lx_strmap_init(&m, 4);
    lx_strmap_put(&m, "gpt-4o", 6, 1);
    lx_strmap_put(&m, "gpt-4o", 6, 2);
    lx_strmap_put(&m, "gpt-4o-mini", 11, 3);
    assert_int_equal(lx_strmap_get(&m, LX_STR("gpt-4o")), 1);
    assert_int_equal(lx_strmap_get(&m, LX_STR("gpt-4o-mini")), 3);
    assert_int_equal(lx_strmap_get(&m, LX_STR("gpt-4")), -1);
    /* a view into a longer string matches only its own length */
    lx_str_t view = {"gpt-4o-mini", 6};
    assert_int_equal(lx_strmap_get(&m, view), 1);
    lx_strmap_free(&m);
}

static void test_empty_map(void **state)
{
    (void)state;
    lx_strmap_t m = {0};
    assert_int_equal(lx_strmap_get(&m, LX_STR("x")), -1);
    lx_strmap_init(&m, 0);
    assert_int_equal(lx_strmap_get(&m, LX_STR("x")), -1);
    lx_strmap_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_first_put_wins_and_exact_length),
        cmocka_unit_test(test_empty_map),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
