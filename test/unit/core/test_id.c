/* test_id.c - unit tests for src/core/id.c: request id format, uniqueness
 * (within and across threads) and validation of client-supplied ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/id.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define ID_LEN 28 /* "req_" + 24 hex */

static bool is_lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static void assert_id_format(const char *id, size_t n)
{
    assert_int_equal(n, ID_LEN);
    assert_int_equal(strlen(id), ID_LEN);
    assert_memory_equal(id, "req_", 4);
    for (int i = 4; i < ID_LEN; i++)
        if (!is_lower_hex(id[i]))
            fail_msg("id %s: char %d is not lowercase hex", id, i);
}

static int cmp_ids(const void *a, const void *b)
{
    return memcmp(a, b, ID_LEN);
}

static void test_format(void **state)
{
    (void)state;
    char id[64];
    memset(id, 'X', sizeof id);
    size_t n = lx_request_id_new(id);
    assert_id_format(id, n);
    assert_int_equal(id[ID_LEN], '\0');
    assert_int_equal(id[ID_LEN + 1], 'X'); /* writes 29 bytes, no more */
    assert_true(lx_request_id_valid(id, n));
}

static void test_exact_buffer(void **state)
{
    (void)state;
    char *id = malloc(ID_LEN + 1); /* the documented minimum: ASan checks */
    assert_non_null(id);
    size_t n = lx_request_id_new(id);
    assert_id_format(id, n);
    free(id);
}

#define MANY 10000

static void test_10000_unique_and_every_digit_varies(void **state)
{
    (void)state;
    char(*ids)[ID_LEN + 1] = malloc(sizeof *ids * MANY);
    assert_non_null(ids);
    /* seen[pos][digit]: every position takes every hex digit over 10,000 ids,
     * so all 96 bits are random (no constant or stuck field). */
    bool seen[ID_LEN][16];
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < MANY; i++) {
        size_t n = lx_request_id_new(ids[i]);
        assert_id_format(ids[i], n);
        for (int p = 4; p < ID_LEN; p++) {
            char c = ids[i][p];
            seen[p][c <= '9' ? c - '0' : c - 'a' + 10] = true;
        }
    }
    qsort(ids, MANY, sizeof *ids, cmp_ids);
    for (int i = 1; i < MANY; i++)
        if (memcmp(ids[i - 1], ids[i], ID_LEN) == 0)
            fail_msg("duplicate id %s", ids[i]);
    for (int p = 4; p < ID_LEN; p++)
        for (int d = 0; d < 16; d++)
            if (!seen[p][d])
                fail_msg("position %d never held digit %x", p, d);
    free(ids);
}

#define THREADS    4
#define PER_THREAD 2500

static void *gen_thread(void *arg)
{
    char(*ids)[ID_LEN + 1] = arg;
    for (int i = 0; i < PER_THREAD; i++)
        lx_request_id_new(ids[i]);
    return NULL;
}

static void test_unique_across_threads(void **state)
{
    (void)state;
    /* Each thread seeds its own generator; streams must not collide. */
    char(*ids)[ID_LEN + 1] = malloc(sizeof *ids * THREADS * PER_THREAD);
    assert_non_null(ids);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, gen_thread, ids + i * PER_THREAD), 0);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < THREADS * PER_THREAD; i++)
        assert_id_format(ids[i], strlen(ids[i]));
    qsort(ids, THREADS * PER_THREAD, sizeof *ids, cmp_ids);
    for (int i = 1; i < THREADS * PER_THREAD; i++)
        if (memcmp(ids[i - 1], ids[i], ID_LEN) == 0)
            fail_msg("duplicate id across threads %s", ids[i]);
    free(ids);
}

static bool valid(const char *s)
{
    return lx_request_id_valid(s, strlen(s));
}

static void test_valid_accepts(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "a",
        "Z",
        "0",
        "req_0123456789abcdef01234567",
        "abc-DEF_123.456:789",
        "550e8400-e29b-41d4-a716-446655440000",
        "trace:span.1",
        "...",
        "-",
        "_:_",
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(ok); i++)
        if (!valid(ok[i]))
            fail_msg("rejected valid id '%s'", ok[i]);

    char max[LX_REQUEST_ID_MAX];
    memset(max, 'a', sizeof max);
    assert_true(lx_request_id_valid(max, LX_REQUEST_ID_MAX));
    /* Length counts, not NUL: a prefix of an invalid string may be valid. */
    assert_true(lx_request_id_valid("abc def", 3));
}

static void test_valid_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "has space", "slash/", "back\\slash", "quote\"", "new\nline", "cr\r",        "tab\t",
        "{json}",    "<html>", "semi;colon",  "comma,",  "eq=",       "caf\xc3\xa9", "\x7f",
        "pct%20",    "at@",    "plus+",       "star*",   "hash#",     "bang!",
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(bad); i++)
        if (valid(bad[i]))
            fail_msg("accepted unsafe id '%s'", bad[i]);

    assert_false(lx_request_id_valid("", 0));
    assert_false(lx_request_id_valid("abc", 0));
    assert_false(lx_request_id_valid("a\0b", 3)); /* embedded NUL */

    char over[LX_REQUEST_ID_MAX + 1];
    memset(over, 'a', sizeof over);
    assert_false(lx_request_id_valid(over, sizeof over));

    /* Every byte outside [A-Za-z0-9._:-] is rejected on its own. */
    for (int c = 0; c < 256; c++) {
        char s[1] = {(char)c};
        bool want = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == ':' || c == '-';
        if (lx_request_id_valid(s, 1) != want)
            fail_msg("byte 0x%02x: got %d, want %d", c, !want, want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_exact_buffer),
        cmocka_unit_test(test_10000_unique_and_every_digit_varies),
        cmocka_unit_test(test_unique_across_threads),
        cmocka_unit_test(test_valid_accepts),
        cmocka_unit_test(test_valid_rejects),
    };
    return cmocka_run_group_tests_name("core/id", tests, NULL, NULL);
}
