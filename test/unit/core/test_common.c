/* test_common.c - unit tests for src/core/common.{h,c}: lx_str_t helpers and
 * the allocation wrappers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>

#include "core/common.h"

#include <stdlib.h>
#include <string.h>

static void test_str_macros(void **state)
{
    (void)state;
    lx_str_t s = LX_STR("abc");
    assert_int_equal(s.n, 3);
    assert_memory_equal(s.p, "abc", 3);
    lx_str_t z = LX_NULL_STR;
    assert_null(z.p);
    assert_int_equal(z.n, 0);
    lx_str_t c = lx_str("hello");
    assert_int_equal(c.n, 5);
    lx_str_t nul = lx_str(NULL);
    assert_null(nul.p);
    assert_int_equal(nul.n, 0);
    int arr[7];
    assert_int_equal(LX_ARRAY_LEN(arr), 7);
    assert_int_equal(LX_MIN(3, -2), -2);
    assert_int_equal(LX_MAX(3, -2), 3);
}

static void test_str_eq(void **state)
{
    (void)state;
    assert_true(lx_str_eq(LX_STR("abc"), lx_str("abc")));
    assert_false(lx_str_eq(LX_STR("abc"), LX_STR("abd")));
    assert_false(lx_str_eq(LX_STR("abc"), LX_STR("ab")));
    assert_false(lx_str_eq(LX_STR("abc"), LX_STR("ABC")));
    /* Empty views are equal whatever they point at (NULL included). */
    assert_true(lx_str_eq(LX_NULL_STR, LX_STR("")));
    assert_true(lx_str_eq((lx_str_t){"xyz", 0}, LX_NULL_STR));
    /* Length-carrying: bytes beyond n are ignored, embedded NUL compared. */
    assert_true(lx_str_eq((lx_str_t){"abcdef", 3}, LX_STR("abc")));
    assert_false(lx_str_eq((lx_str_t){"a\0b", 3}, (lx_str_t){"a\0c", 3}));
    assert_true(lx_str_eq_cstr((lx_str_t){"model-x", 5}, "model"));
    assert_false(lx_str_eq_cstr(LX_STR("model"), "model-x"));
}

static void test_str_has_prefix(void **state)
{
    (void)state;
    assert_true(lx_str_has_prefix(LX_STR("Bearer sk-1"), "Bearer "));
    assert_true(lx_str_has_prefix(LX_STR("abc"), ""));
    assert_true(lx_str_has_prefix(LX_STR("abc"), "abc"));
    assert_false(lx_str_has_prefix(LX_STR("ab"), "abc"));
    assert_false(lx_str_has_prefix((lx_str_t){"abcdef", 2}, "abc"));
    assert_false(lx_str_has_prefix(LX_STR("bearer x"), "Bearer "));
}

static void test_str_ieq(void **state)
{
    (void)state;
    assert_true(lx_str_ieq(LX_STR("Content-Type"), LX_STR("content-type")));
    assert_true(lx_str_ieq(LX_STR("X-API-KEY"), LX_STR("x-api-key")));
    assert_true(lx_str_ieq(LX_NULL_STR, LX_STR("")));
    assert_false(lx_str_ieq(LX_STR("Content-Type"), LX_STR("Content-Typo")));
    assert_false(lx_str_ieq(LX_STR("abc"), LX_STR("abcd")));
    /* ASCII only: '@' (0x40) and '`' (0x60) differ by the case bit but are
     * not letters. */
    assert_false(lx_str_ieq(LX_STR("@"), LX_STR("`")));
    assert_false(lx_str_ieq(LX_STR("["), LX_STR("{")));
    assert_true(lx_str_ieq((lx_str_t){"HOSTx", 4}, (lx_str_t){"hostY", 4}));
}

static void test_strndup_strdup(void **state)
{
    (void)state;
    char *s = lx_strndup("abcdef", 3);
    assert_string_equal(s, "abc");
    free(s);
    s = lx_strndup(NULL, 0);
    assert_string_equal(s, "");
    free(s);
    s = lx_strndup("a\0b", 3);
    assert_memory_equal(s, "a\0b", 4);
    free(s);
    const char *orig = "duplicate me";
    s = lx_strdup(orig);
    assert_string_equal(s, orig);
    assert_ptr_not_equal(s, orig);
    free(s);
}

static void test_alloc_wrappers(void **state)
{
    (void)state;
    /* Zero-size requests still return a unique, freeable pointer. */
    void *p = lx_alloc(0);
    assert_non_null(p);
    free(p);
    unsigned char *c = lx_calloc(16, 4);
    assert_non_null(c);
    for (int i = 0; i < 64; i++)
        assert_int_equal(c[i], 0);
    c = lx_realloc(c, 4096);
    assert_non_null(c);
    for (int i = 0; i < 64; i++)
        assert_int_equal(c[i], 0); /* contents kept */
    free(c);
    p = lx_calloc(0, 0);
    assert_non_null(p);
    free(p);
    p = lx_realloc(NULL, 0);
    assert_non_null(p);
    free(p);
}

/* lx_calloc takes small blocks from malloc (and clears them itself): a block
 * just freed dirty, which malloc hands straight back, must come back zeroed,
 * at each size up to the malloc path's limit and past it. */
static void test_calloc_zeroes_reused_blocks(void **state)
{
    (void)state;
    static const size_t sizes[][2] = {{1, 24},   {1, 568},  {4, 256},      {1, 1024},
                                      {1, 1025}, {3, 1000}, {1, 64 * 1024}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t total = sizes[i][0] * sizes[i][1];
        for (int round = 0; round < 3; round++) {
            unsigned char *dirty = lx_alloc(total);
            memset(dirty, 0xab, total);
            free(dirty);
            unsigned char *c = lx_calloc(sizes[i][0], sizes[i][1]);
            for (size_t k = 0; k < total; k++)
                if (c[k] != 0)
                    fail_msg("lx_calloc(%zu, %zu): byte %zu is %#x", sizes[i][0], sizes[i][1], k,
                             c[k]);
            free(c);
        }
    }
}

static void test_copy_truncates_and_terminates(void **state)
{
    (void)state;
    char d[6];
    assert_int_equal(lx_copy(d, sizeof d, "abc", 3), 3);
    assert_string_equal(d, "abc");
    assert_int_equal(lx_copy(d, sizeof d, "abcdefgh", 8), 5);
    assert_string_equal(d, "abcde");
    assert_int_equal(lx_copy(d, sizeof d, "xyz", 0), 0);
    assert_string_equal(d, "");
    assert_int_equal(lx_copy_cstr(d, sizeof d, NULL), 0);
    assert_string_equal(d, "");
    assert_int_equal(lx_copy_cstr(d, 1, "abc"), 0);
    assert_string_equal(d, "");
}

static void test_i64_str_matches_printf(void **state)
{
    (void)state;
    const int64_t vals[] = {0, 1, -1, 9, 10, -10, 123456789, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        char got[24], want[32];
        size_t n = lx_i64_str(got, vals[i]);
        snprintf(want, sizeof want, "%lld", (long long)vals[i]);
        assert_string_equal(got, want);
        assert_int_equal(n, strlen(want));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_str_macros),
        cmocka_unit_test(test_str_eq),
        cmocka_unit_test(test_str_has_prefix),
        cmocka_unit_test(test_str_ieq),
        cmocka_unit_test(test_strndup_strdup),
        cmocka_unit_test(test_alloc_wrappers),
        cmocka_unit_test(test_calloc_zeroes_reused_blocks),
        cmocka_unit_test(test_copy_truncates_and_terminates),
        cmocka_unit_test(test_i64_str_matches_printf),
    };
    return cmocka_run_group_tests_name("core/common", tests, NULL, NULL);
}
