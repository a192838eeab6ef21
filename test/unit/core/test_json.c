/* test_json.c - unit tests for src/core/json.c: depth scanning, the
 * depth-limited parse and lx_json_str. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/json.h"

#include <stdio.h>
#include <stdlib.h>

static int depth(const char *s, int limit)
{
    return lx_json_depth(s, strlen(s), limit);
}

/* "[[[...]]]" nested n deep. Caller frees. */
static char *nested_arrays(int n)
{
    char *s = malloc((size_t)n * 2 + 1);
    for (int i = 0; i < n; i++) {
        s[i] = '[';
        s[n + i] = ']';
    }
    s[2 * n] = '\0';
    return s;
}

/* ---- lx_json_depth ---- */

static void test_depth_basic(void **state)
{
    (void)state;
    assert_int_equal(depth("", 64), 0);
    assert_int_equal(depth("42", 64), 0);
    assert_int_equal(depth("\"str\"", 64), 0);
    assert_int_equal(depth("{}", 64), 1);
    assert_int_equal(depth("[]", 64), 1);
    assert_int_equal(depth("[[[]]]", 64), 3);
    assert_int_equal(depth("[[], [[]], []]", 64), 3);
    assert_int_equal(depth("{\"a\":[1,{\"b\":2}],\"c\":{}}", 64), 3);
    /* Siblings do not add up: the max nesting counts. */
    assert_int_equal(depth("[[1],[2],[3],[4],[5]]", 64), 2);
}

static void test_depth_skips_brackets_in_strings(void **state)
{
    (void)state;
    assert_int_equal(depth("{\"a\":\"[[[{{{\"}", 64), 1);
    assert_int_equal(depth("[\"]]]]\", [1]]", 64), 2);
    assert_int_equal(depth("\"[[[[[[[[\"", 2), 0);
    /* Keys are strings too. */
    assert_int_equal(depth("{\"[[[[\":1}", 64), 1);
}

static void test_depth_handles_escaped_quotes(void **state)
{
    (void)state;
    /* {"a":"x\"[[["} : the escaped quote does not end the string. */
    assert_int_equal(depth("{\"a\":\"x\\\"[[[\"}", 64), 1);
    assert_int_equal(depth("{\"a\":\"x\\\"[[[\"}", 1), 1);
    /* {"a":"x\\","b":[[1]]} : an escaped backslash does end before the quote. */
    assert_int_equal(depth("{\"a\":\"x\\\\\",\"b\":[[1]]}", 64), 3);
    /* ["\\\"[", [[]]] : backslash, then an escaped quote, then '['. */
    assert_int_equal(depth("[\"\\\\\\\"[\", [[]]]", 64), 3);
    /* Other escapes, including \u, are skipped one char at a time safely. */
    assert_int_equal(depth("[\"\\u005b\\n\\t[\"]", 64), 1);
}

static void test_depth_limit(void **state)
{
    (void)state;
    assert_int_equal(depth("[[[[]]]]", 4), 4); /* exactly the limit is fine */
    assert_int_equal(depth("[[[[]]]]", 3), -1);
    assert_int_equal(depth("{\"a\":{\"b\":{\"c\":{}}}}", 3), -1);
    assert_int_equal(depth("[]", 0), -1);
    assert_int_equal(depth("1", 0), 0);
    /* Depth counts the open ones at any moment, not the total. */
    assert_int_equal(depth("[[]][[]][[]]", 2), 2);

    char *deep = nested_arrays(5000);
    assert_int_equal(lx_json_depth(deep, strlen(deep), LX_JSON_MAX_DEPTH), -1);
    assert_int_equal(lx_json_depth(deep, strlen(deep), 5000), 5000);
    free(deep);
}

static void test_depth_reads_only_n_bytes(void **state)
{
    (void)state;
    const char *s = "[[]][[[[[[";
    assert_int_equal(lx_json_depth(s, 4, 2), 2);
    assert_int_equal(lx_json_depth(s, 10, 64), 6);
    /* The closing quote is beyond n: the rest is still inside the string. */
    const char *t = "[\"abc\"[[[[[";
    assert_int_equal(lx_json_depth(t, 5, 1), 1);
}

/* ---- lx_json_parse ---- */

static void test_parse_ok(void **state)
{
    (void)state;
    char err[256] = "untouched";
    const char *doc =
        "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    json_t *v = lx_json_parse(doc, strlen(doc), LX_JSON_MAX_DEPTH, err, sizeof err);
    assert_non_null(v);
    assert_true(json_is_object(v));
    assert_string_equal(json_string_value(json_object_get(v, "model")), "gpt-4o");
    assert_int_equal(json_array_size(json_object_get(v, "messages")), 1);
    json_decref(v);
}

static void test_parse_rejects_too_deep_with_message(void **state)
{
    (void)state;
    char err[256] = "";
    char *deep = nested_arrays(LX_JSON_MAX_DEPTH + 1);
    json_t *v = lx_json_parse(deep, strlen(deep), LX_JSON_MAX_DEPTH, err, sizeof err);
    assert_null(v);
    char want[64];
    snprintf(want, sizeof want, "deeper than %d", LX_JSON_MAX_DEPTH);
    if (strstr(err, want) == NULL)
        fail_msg("error '%s' does not say '%s'", err, want);
    free(deep);

    /* Exactly at the limit parses. */
    deep = nested_arrays(LX_JSON_MAX_DEPTH);
    err[0] = '\0';
    v = lx_json_parse(deep, strlen(deep), LX_JSON_MAX_DEPTH, err, sizeof err);
    assert_non_null(v);
    json_decref(v);
    free(deep);

    /* A document jansson would take (2000 deep) is refused by our limit. */
    deep = nested_arrays(2000);
    v = lx_json_parse(deep, strlen(deep), LX_JSON_MAX_DEPTH, err, sizeof err);
    assert_null(v);
    assert_non_null(strstr(err, want));
    free(deep);

    /* A custom, smaller limit is honoured and named. */
    const char *obj = "{\"a\":{\"b\":{\"c\":1}}}";
    v = lx_json_parse(obj, strlen(obj), 2, err, sizeof err);
    assert_null(v);
    assert_non_null(strstr(err, "deeper than 2"));
    v = lx_json_parse(obj, strlen(obj), 3, err, sizeof err);
    assert_non_null(v);
    json_decref(v);
}

static void test_parse_errors_give_line_and_column(void **state)
{
    (void)state;
    char err[256];
    /* The stray '}' is on line 3, column 8 (1-based). */
    const char *doc = "{\n  \"a\": 1,\n  \"b\": }";
    json_t *v = lx_json_parse(doc, strlen(doc), LX_JSON_MAX_DEPTH, err, sizeof err);
    assert_null(v);
    if (strstr(err, "line 3 column 8") == NULL)
        fail_msg("unexpected error text: %s", err);

    const char *one = "[1, 2,, 3]";
    v = lx_json_parse(one, strlen(one), LX_JSON_MAX_DEPTH, err, sizeof err);
    assert_null(v);
    if (strstr(err, "line 1 column 7") == NULL)
        fail_msg("unexpected error text: %s", err);
}

static void test_parse_rejects_invalid_documents(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "{",
        "[1,]",
        "{\"a\" 1}",
        "{} x",
        "nul",
        "{'a':1}",
        "[1] [2]",
        "\"unterminated",
        "42",
        "\"str\"",
        "null",
        "true",                /* a document is an object or an array */
        "{\"a\":\"\\u0000\"}", /* NUL in a string is refused
                                */
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(bad); i++) {
        char err[256] = "";
        json_t *v = lx_json_parse(bad[i], strlen(bad[i]), LX_JSON_MAX_DEPTH, err, sizeof err);
        if (v != NULL) {
            json_decref(v);
            fail_msg("parsed invalid JSON %s", bad[i]);
        }
        assert_non_null(strstr(err, "invalid JSON"));
    }
}

/* A raw NUL byte can never be part of JSON text, but jansson ends a number
 * at one and then reads on: "{\"a\":1<NUL>}" parsed as {"a":1}. A body
 * that llmux accepts and forwards must be one the upstream can parse too
 * (found by test/fuzz/fuzz_jscan). */
static void test_parse_rejects_raw_nul_bytes(void **state)
{
    (void)state;
    static const struct {
        const char *p;
        size_t n;
    } bad[] = {
        {"{\"a\":1\0}", 8}, {"[19\0]", 5},           {"{\"a\":\"b\"}\0", 10},
        {"\0{}", 3},        {"{\"a\":\"b\0\"}", 10},
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(bad); i++) {
        char err[256] = "";
        json_t *v = lx_json_parse(bad[i].p, bad[i].n, LX_JSON_MAX_DEPTH, err, sizeof err);
        if (v != NULL) {
            json_decref(v);
            fail_msg("parsed JSON with a NUL byte (case %zu)", i);
        }
        assert_non_null(strstr(err, "invalid JSON"));
    }
}

static void test_parse_reads_only_n_bytes(void **state)
{
    (void)state;
    char err[256];
    const char *s = "{\"a\":1}garbage";
    json_t *v = lx_json_parse(s, 7, LX_JSON_MAX_DEPTH, err, sizeof err);
    assert_non_null(v);
    assert_int_equal(json_integer_value(json_object_get(v, "a")), 1);
    json_decref(v);

    /* Not NUL-terminated at all: a heap copy of exactly n bytes (ASan). */
    const char *doc = "[1,2,3]";
    char *exact = malloc(7);
    memcpy(exact, doc, 7);
    v = lx_json_parse(exact, 7, LX_JSON_MAX_DEPTH, err, sizeof err);
    assert_non_null(v);
    assert_int_equal(json_array_size(v), 3);
    json_decref(v);
    free(exact);
}

static void test_parse_error_message_fits_small_buffer(void **state)
{
    (void)state;
    char err[16];
    memset(err, 'Z', sizeof err);
    json_t *v = lx_json_parse("{", 1, LX_JSON_MAX_DEPTH, err, sizeof err);
    assert_null(v);
    assert_int_equal(strlen(err), sizeof err - 1); /* truncated, terminated */
}

/* ---- lx_json_str ---- */

static void test_json_str(void **state)
{
    (void)state;
    char err[128];
    const char *doc = "{\"s\":\"hello\",\"e\":\"\",\"u\":\"caf\\u00e9\",\"n\":5,\"z\":null,"
                      "\"o\":{},\"a\":[\"x\"],\"b\":true}";
    json_t *v = lx_json_parse(doc, strlen(doc), LX_JSON_MAX_DEPTH, err, sizeof err);
    assert_non_null(v);

    lx_str_t s = lx_json_str(v, "s");
    assert_int_equal(s.n, 5);
    assert_memory_equal(s.p, "hello", 5);
    assert_ptr_equal(s.p, json_string_value(json_object_get(v, "s"))); /* borrowed */

    s = lx_json_str(v, "e");
    assert_non_null(s.p); /* empty, but present */
    assert_int_equal(s.n, 0);

    s = lx_json_str(v, "u");
    assert_int_equal(s.n, 5); /* bytes, not characters */
    assert_memory_equal(s.p, "caf\xc3\xa9", 5);

    static const char *const not_strings[] = {"n", "z", "o", "a", "b", "missing", ""};
    for (size_t i = 0; i < LX_ARRAY_LEN(not_strings); i++) {
        s = lx_json_str(v, not_strings[i]);
        assert_null(s.p);
        assert_int_equal(s.n, 0);
    }
    json_decref(v);
}

static void test_json_str_embedded_nul_and_non_objects(void **state)
{
    (void)state;
    json_t *o = json_object();
    json_object_set_new(o, "k", json_stringn("a\0b", 3));
    lx_str_t s = lx_json_str(o, "k");
    assert_int_equal(s.n, 3);
    assert_memory_equal(s.p, "a\0b", 3);
    json_decref(o);

    json_t *arr = json_pack("[s]", "x");
    s = lx_json_str(arr, "k");
    assert_null(s.p);
    json_decref(arr);

    s = lx_json_str(NULL, "k");
    assert_null(s.p);
    assert_int_equal(s.n, 0);
}

/* The dump appends to what the buffer holds, keeps it NUL-terminated and
 * matches json_dumps byte for byte. */
static void test_dump_buf_appends_compact_json(void **state)
{
    (void)state;
    json_t *v = json_pack("{s:i,s:[s,b],s:s}", "a", 1, "b", "x\"y", 1, "c", "\xc3\xa9");
    lx_buf_t b;
    lx_buf_init(&b, 0);
    lx_buf_append_cstr(&b, "data: ");
    lx_json_dump_buf(&b, v, JSON_COMPACT);
    char *want = json_dumps(v, JSON_COMPACT);
    assert_int_equal(b.n, 6 + strlen(want));
    assert_memory_equal(b.p, "data: ", 6);
    assert_string_equal(b.p + 6, want);
    free(want);
    json_decref(v);
    lx_buf_free(&b);
}

static char *text_of(const char *json)
{
    json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);
    assert_non_null(v);
    char *t = lx_json_text(v, NULL);
    json_decref(v);
    return t;
}

/* Reals print as the shortest text that reads back the same double. */
static void test_write_reals_shortest(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"0.15", "0.15"},
        {"0.1", "0.1"},
        {"0.3", "0.3"},
        {"2.6e-05", "2.6e-05"},
        {"0.0000263", "2.63e-05"},
        {"1.0", "1.0"},
        {"-0.0", "-0.0"},
        {"1e300", "1e+300"},
        {"123456.789", "123456.789"},
        {"0.30000000000000004", "0.30000000000000004"},
        {"3.141592653589793", "3.141592653589793"},
        {"12.34", "12.34"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *t = text_of(cases[i].in);
        assert_string_equal(t, cases[i].out);
        free(t);
    }
    /* every printed real reads back bit-exact */
    double d = 0.1;
    for (int i = 0; i < 2000; i++, d = d * 1.37 + 0.013) {
        char buf[32];
        lx_json_real_text(d, buf);
        assert_true(strtod(buf, NULL) == d);
        assert_true(strlen(buf) <= 24);
    }
}

/* Everything but reals prints as jansson's JSON_COMPACT does. */
static void test_write_matches_jansson_compact(void **state)
{
    const char *doc = "{\"b\":[1,-2,true,false,null,{}],\"a\":\"q\\\"\\\\/\\n\\t\\u0001"
                      "\\u001f\u00e9\\u0000x\",\"\":{\"z\":[]},\"big\":-9223372036854775807}";
    json_t *v = json_loads(doc, JSON_ALLOW_NUL, NULL);
    assert_non_null(v);
    size_t n = 0;
    char *mine = lx_json_text(v, &n);
    char *theirs = json_dumps(v, JSON_COMPACT);
    assert_string_equal(mine, theirs);
    assert_int_equal(n, strlen(theirs));
    free(mine);
    free(theirs);
    json_decref(v);
    char *s = text_of("\"plain\"");
    assert_string_equal(s, "\"plain\"");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_depth_basic),
        cmocka_unit_test(test_depth_skips_brackets_in_strings),
        cmocka_unit_test(test_depth_handles_escaped_quotes),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_depth_reads_only_n_bytes),
        cmocka_unit_test(test_parse_ok),
        cmocka_unit_test(test_parse_rejects_too_deep_with_message),
        cmocka_unit_test(test_parse_errors_give_line_and_column),
        cmocka_unit_test(test_parse_rejects_invalid_documents),
        cmocka_unit_test(test_parse_rejects_raw_nul_bytes),
        cmocka_unit_test(test_parse_reads_only_n_bytes),
        cmocka_unit_test(test_parse_error_message_fits_small_buffer),
        cmocka_unit_test(test_json_str),
        cmocka_unit_test(test_json_str_embedded_nul_and_non_objects),
        cmocka_unit_test(test_dump_buf_appends_compact_json),
        cmocka_unit_test(test_write_reals_shortest),
        cmocka_unit_test(test_write_matches_jansson_compact),
    };
    return cmocka_run_group_tests_name("core/json", tests, NULL, NULL);
}
