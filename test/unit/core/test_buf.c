/* test_buf.c - unit tests for src/core/buf.c (lx_buf_t). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/buf.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

static void test_init_zero_cap_allocates_nothing(void **state)
{
    (void)state;
    lx_buf_t b;
    memset(&b, 0xa5, sizeof b);
    lx_buf_init(&b, 0);
    assert_null(b.p);
    assert_int_equal(b.n, 0);
    assert_int_equal(b.cap, 0);
    lx_buf_free(&b);
}

static void test_init_with_cap_reserves_room_for_nul(void **state)
{
    (void)state;
    lx_buf_t b;
    lx_buf_init(&b, 100);
    assert_non_null(b.p);
    assert_int_equal(b.n, 0);
    assert_true(b.cap >= 101);
    char *before = b.p;
    /* Filling exactly the reserved amount must not reallocate. */
    for (int i = 0; i < 100; i++)
        lx_buf_append_char(&b, 'x');
    assert_ptr_equal(b.p, before);
    assert_int_equal(b.n, 100);
    assert_int_equal(b.p[100], '\0');
    lx_buf_free(&b);
}

static void test_append_bytes_and_nul_termination(void **state)
{
    (void)state;
    lx_buf_t b;
    lx_buf_init(&b, 0);
    lx_buf_append(&b, "hello", 5);
    assert_int_equal(b.n, 5);
    assert_string_equal(b.p, "hello");
    assert_true(b.cap > b.n);
    /* Embedded NUL bytes count in n; p stays terminated after them. */
    lx_buf_append(&b, "a\0b", 3);
    assert_int_equal(b.n, 8);
    assert_memory_equal(b.p, "helloa\0b", 8);
    assert_int_equal(b.p[8], '\0');
    lx_buf_free(&b);
}

static void test_append_zero_bytes_on_empty_buffer_gives_empty_string(void **state)
{
    (void)state;
    lx_buf_t b;
    lx_buf_init(&b, 0);
    lx_buf_append(&b, NULL, 0);
    assert_non_null(b.p);
    assert_int_equal(b.n, 0);
    assert_string_equal(b.p, "");
    lx_buf_free(&b);
}

static void test_append_many_grows_and_keeps_content(void **state)
{
    (void)state;
    lx_buf_t b;
    lx_buf_init(&b, 0);
    for (int i = 0; i < 10000; i++)
        lx_buf_append_char(&b, (char)('a' + i % 26));
    assert_int_equal(b.n, 10000);
    assert_true(b.cap >= 10001);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(b.p[i], 'a' + i % 26);
    assert_int_equal(b.p[10000], '\0');

    /* One large append past the current capacity. */
    size_t big = b.cap * 3;
    char *chunk = malloc(big);
    assert_non_null(chunk);
    memset(chunk, 'Z', big);
    lx_buf_append(&b, chunk, big);
    assert_int_equal(b.n, 10000 + big);
    assert_int_equal(b.p[9999], 'a' + 9999 % 26);
    assert_int_equal(b.p[10000], 'Z');
    assert_int_equal(b.p[b.n - 1], 'Z');
    assert_int_equal(b.p[b.n], '\0');
    free(chunk);
    lx_buf_free(&b);
}

static void test_append_str_cstr_char(void **state)
{
    (void)state;
    lx_buf_t b;
    lx_buf_init(&b, 4);
    lx_buf_append_str(&b, LX_STR("ab"));
    lx_buf_append_str(&b, (lx_str_t){"cdXX", 2}); /* only n bytes count */
    lx_buf_append_cstr(&b, "ef");
    lx_buf_append_char(&b, 'g');
    lx_buf_append_str(&b, LX_NULL_STR);
    assert_int_equal(b.n, 7);
    assert_string_equal(b.p, "abcdefg");
    lx_str_t s = lx_buf_str(&b);
    assert_ptr_equal(s.p, b.p);
    assert_int_equal(s.n, 7);
    assert_true(lx_str_eq_cstr(s, "abcdefg"));
    lx_buf_free(&b);
}

/* A literal's length comes from sizeof: the NUL is not appended, adjacent
 * literals join, an empty one appends nothing, and the buffer grows. */
static void test_append_lit(void **state)
{
    (void)state;
    lx_buf_t b;
    lx_buf_init(&b, 0);
    lx_buf_append_lit(&b, "");
    assert_int_equal(b.n, 0);
    assert_string_equal(b.p, "");
    lx_buf_append_lit(&b, "HTTP/1.1 ");
    lx_buf_append_lit(&b, "200 OK\r\n"
                          "Content-Length: 0\r\n");
    assert_int_equal(b.n, 9 + 8 + 19);
    assert_string_equal(b.p, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n");
    assert_true(b.cap > b.n);
    lx_buf_free(&b);
}

static void test_printf_formats_and_appends(void **state)
{
    (void)state;
    lx_buf_t b;
    lx_buf_init(&b, 0);
    lx_buf_append_cstr(&b, "x=");
    lx_buf_printf(&b, "%d,%s,%zu,%05.1f", -42, "str", (size_t)7, 3.25);
    assert_string_equal(b.p, "x=-42,str,7,003.2");
    assert_int_equal(b.n, strlen("x=-42,str,7,003.2"));
    lx_buf_free(&b);
}

static void test_printf_longer_than_capacity(void **state)
{
    (void)state;
    lx_buf_t b;
    lx_buf_init(&b, 8);
    char expect[1200];
    memset(expect, 'q', 1000);
    expect[1000] = '\0';
    lx_buf_append_cstr(&b, "<");
    lx_buf_printf(&b, "%s|%d", expect, 12345);
    assert_int_equal(b.n, 1 + 1000 + 6);
    assert_int_equal(b.p[0], '<');
    assert_memory_equal(b.p + 1, expect, 1000);
    assert_string_equal(b.p + 1001, "|12345");
    lx_buf_free(&b);
}

static void vprintf_helper(lx_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void vprintf_helper(lx_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lx_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

static void test_vprintf(void **state)
{
    (void)state;
    lx_buf_t b;
    lx_buf_init(&b, 0);
    vprintf_helper(&b, "%s-%x", "id", 255u);
    vprintf_helper(&b, "%c", '!');
    assert_string_equal(b.p, "id-ff!");
    assert_int_equal(b.n, 6);
    lx_buf_free(&b);
}

static void test_printf_empty_result(void **state)
{
    (void)state;
    lx_buf_t b;
    lx_buf_init(&b, 0);
    lx_buf_append_cstr(&b, "keep");
    lx_buf_printf(&b, "%s", "");
    assert_int_equal(b.n, 4);
    assert_string_equal(b.p, "keep");
    lx_buf_free(&b);

    /* buf.h: "p is always NUL-terminated after any append", even when an
     * empty printf is the first append to a fresh buffer. */
    lx_buf_init(&b, 0);
    lx_buf_printf(&b, "%s", "");
    assert_int_equal(b.n, 0);
    assert_non_null(b.p);
    assert_string_equal(b.p, "");
    lx_buf_free(&b);
}

static void test_reset_keeps_capacity(void **state)
{
    (void)state;
    lx_buf_t b;
    lx_buf_init(&b, 0);
    lx_buf_reset(&b); /* reset on a never-allocated buffer is harmless */
    assert_null(b.p);
    lx_buf_append_cstr(&b, "some text");
    size_t cap = b.cap;
    char *p = b.p;
    lx_buf_reset(&b);
    assert_int_equal(b.n, 0);
    assert_int_equal(b.cap, cap);
    assert_ptr_equal(b.p, p);
    assert_string_equal(b.p, "");
    lx_buf_append_cstr(&b, "new");
    assert_string_equal(b.p, "new");
    lx_buf_free(&b);
}

static void test_reserve_guarantees_room(void **state)
{
    (void)state;
    lx_buf_t b;
    lx_buf_init(&b, 0);
    lx_buf_append_cstr(&b, "abc");
    lx_buf_reserve(&b, 500);
    assert_true(b.cap >= 3 + 500 + 1);
    assert_string_equal(b.p, "abc"); /* content preserved across growth */
    char *p = b.p;
    for (int i = 0; i < 500; i++)
        lx_buf_append_char(&b, '.');
    assert_ptr_equal(b.p, p);
    assert_int_equal(b.n, 503);
    /* Reserving less than what is free changes nothing. */
    size_t cap = b.cap;
    lx_buf_reserve(&b, cap - b.n - 1);
    assert_int_equal(b.cap, cap);
    lx_buf_free(&b);
}

static void test_consume(void **state)
{
    (void)state;
    lx_buf_t b;
    lx_buf_init(&b, 0);
    lx_buf_append_cstr(&b, "0123456789");
    lx_buf_consume(&b, 0);
    assert_string_equal(b.p, "0123456789");
    lx_buf_consume(&b, 3);
    assert_int_equal(b.n, 7);
    assert_string_equal(b.p, "3456789");
    lx_buf_consume(&b, 6);
    assert_int_equal(b.n, 1);
    assert_string_equal(b.p, "9");
    lx_buf_consume(&b, 1);
    assert_int_equal(b.n, 0);
    assert_string_equal(b.p, "");
    lx_buf_append_cstr(&b, "ab");
    lx_buf_consume(&b, 1000); /* more than held: empties */
    assert_int_equal(b.n, 0);
    assert_string_equal(b.p, "");
    lx_buf_free(&b);
}

static void test_free_zeroes_and_is_idempotent(void **state)
{
    (void)state;
    lx_buf_t b;
    lx_buf_init(&b, 10);
    lx_buf_append_cstr(&b, "x");
    lx_buf_free(&b);
    assert_null(b.p);
    assert_int_equal(b.n, 0);
    assert_int_equal(b.cap, 0);
    lx_buf_free(&b);
    /* A freed buffer can be used again. */
    lx_buf_append_cstr(&b, "again");
    assert_string_equal(b.p, "again");
    lx_buf_free(&b);
}

static char *json_str(const char *s, size_t n)
{
    lx_buf_t b;
    lx_buf_init(&b, 0);
    lx_buf_append_json_str(&b, s, n);
    assert_int_equal(strlen(b.p), b.n);
    return b.p;
}

static void test_json_str_escapes(void **state)
{
    (void)state;
    char *s = json_str("plain", 5);
    assert_string_equal(s, "\"plain\"");
    free(s);

    s = json_str("", 0);
    assert_string_equal(s, "\"\"");
    free(s);

    s = json_str("a\"b\\c\nd\re\tf", 11);
    assert_string_equal(s, "\"a\\\"b\\\\c\\nd\\re\\tf\"");
    free(s);

    s = json_str("\x01\x1f\b\f", 4);
    assert_string_equal(s, "\"\\u0001\\u001f\\u0008\\u000c\"");
    free(s);

    /* An embedded NUL is escaped, not a terminator. */
    s = json_str("a\0b", 3);
    assert_string_equal(s, "\"a\\u0000b\"");
    free(s);

    /* DEL, '/' and UTF-8 pass through unchanged. */
    s = json_str("\x7f/\xc3\xa9", 4);
    assert_string_equal(s, "\"\x7f/\xc3\xa9\"");
    free(s);

    /* Only n bytes are read. */
    s = json_str("abc\"def", 3);
    assert_string_equal(s, "\"abc\"");
    free(s);
}

static void test_json_str_appends_after_existing_content(void **state)
{
    (void)state;
    lx_buf_t b;
    lx_buf_init(&b, 0);
    lx_buf_append_cstr(&b, "{\"k\":");
    lx_buf_append_json_str(&b, "v\"\n", 3);
    lx_buf_append_char(&b, '}');
    assert_string_equal(b.p, "{\"k\":\"v\\\"\\n\"}");
    lx_buf_free(&b);
}

static void test_json_str_round_trips_every_byte_through_jansson(void **state)
{
    (void)state;
    /* Every byte 0x00..0x7f, in runs and singly, must decode back to itself. */
    char in[128 * 3];
    size_t n = 0;
    for (int c = 0; c < 128; c++) {
        in[n++] = (char)c;
        in[n++] = 'x';
        in[n++] = (char)c;
    }
    lx_buf_t b;
    lx_buf_init(&b, 0);
    lx_buf_append_json_str(&b, in, n);
    json_error_t jerr;
    json_t *v = json_loadb(b.p, b.n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    assert_non_null(v);
    assert_true(json_is_string(v));
    assert_int_equal(json_string_length(v), n);
    assert_memory_equal(json_string_value(v), in, n);
    json_decref(v);

    /* Long text with a single escape near the end exercises the run copy. */
    lx_buf_reset(&b);
    char longer[3000];
    memset(longer, 'k', sizeof longer);
    longer[2990] = '"';
    lx_buf_append_json_str(&b, longer, sizeof longer);
    v = json_loadb(b.p, b.n, JSON_DECODE_ANY, &jerr);
    assert_non_null(v);
    assert_int_equal(json_string_length(v), sizeof longer);
    assert_memory_equal(json_string_value(v), longer, sizeof longer);
    json_decref(v);
    lx_buf_free(&b);
}

static void test_append_uint_matches_printf(void **state)
{
    (void)state;
    const uint64_t vals[] = {0, 7, 10, 99, 100, 4096, 1234567890ULL, UINT64_MAX};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        lx_buf_t b, want;
        lx_buf_init(&b, 0);
        lx_buf_init(&want, 0);
        lx_buf_append_cstr(&b, "n=");
        lx_buf_append_uint(&b, vals[i]);
        lx_buf_printf(&want, "n=%llu", (unsigned long long)vals[i]);
        assert_int_equal(b.n, want.n);
        assert_string_equal(b.p, want.p);
        lx_buf_free(&b);
        lx_buf_free(&want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_zero_cap_allocates_nothing),
        cmocka_unit_test(test_init_with_cap_reserves_room_for_nul),
        cmocka_unit_test(test_append_bytes_and_nul_termination),
        cmocka_unit_test(test_append_zero_bytes_on_empty_buffer_gives_empty_string),
        cmocka_unit_test(test_append_many_grows_and_keeps_content),
        cmocka_unit_test(test_append_str_cstr_char),
        cmocka_unit_test(test_append_lit),
        cmocka_unit_test(test_printf_formats_and_appends),
        cmocka_unit_test(test_printf_longer_than_capacity),
        cmocka_unit_test(test_vprintf),
        cmocka_unit_test(test_printf_empty_result),
        cmocka_unit_test(test_reset_keeps_capacity),
        cmocka_unit_test(test_reserve_guarantees_room),
        cmocka_unit_test(test_consume),
        cmocka_unit_test(test_free_zeroes_and_is_idempotent),
        cmocka_unit_test(test_json_str_escapes),
        cmocka_unit_test(test_json_str_appends_after_existing_content),
        cmocka_unit_test(test_json_str_round_trips_every_byte_through_jansson),
        cmocka_unit_test(test_append_uint_matches_printf),
    };
    return cmocka_run_group_tests_name("core/buf", tests, NULL, NULL);
}
