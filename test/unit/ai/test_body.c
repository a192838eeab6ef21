/* test_body.c - unit tests for src/ai/body.c (top-level JSON key splicing).
 *
 * lx_body_set must change only the top-level key's value (or insert the pair
 * first when absent) and keep every other byte of the client's body. Each
 * result is checked three ways: byte for byte against the expected text, as
 * valid JSON with no duplicate keys (jansson, JSON_REJECT_DUPLICATES), and as
 * JSON equal to the input document with the key set by jansson itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ai/body.h"
#include "core/json.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */

static void expect_find(const char *doc, const char *key, const char *value_text)
{
    size_t vs = 0, ve = 0, n = strlen(doc);
    int rc = lx_body_find(doc, n, key, &vs, &ve);
    if (rc != LX_OK)
        fail_msg("key '%s' not found in %s", key, doc);
    assert_true(vs <= ve && ve <= n);
    if (ve - vs != strlen(value_text) || memcmp(doc + vs, value_text, ve - vs) != 0)
        fail_msg("key '%s': found '%.*s', expected '%s'", key, (int)(ve - vs), doc + vs,
                 value_text);
}

static void expect_absent(const char *doc, const char *key)
{
    size_t vs = 12345, ve = 67890;
    int rc = lx_body_find(doc, strlen(doc), key, &vs, &ve);
    if (rc != LX_ERROR)
        fail_msg("key '%s' unexpectedly found in %s at [%zu,%zu)", key, doc, vs, ve);
}

/* The output as JSON must equal jansson's own edit of the input document. */
static void assert_json_is_edit(const char *doc, size_t dn, const char *key, const char *value,
                                const char *out, size_t on)
{
    json_error_t err;
    json_t *got = json_loadb(out, on, JSON_REJECT_DUPLICATES, &err);
    if (got == NULL)
        fail_msg("output is not valid JSON (or has duplicate keys): %s: %.*s", err.text, (int)on,
                 out);
    json_t *want = json_loadb(doc, dn, 0, &err);
    assert_non_null(want);
    json_t *v = json_loads(value, JSON_DECODE_ANY, &err);
    assert_non_null(v);
    assert_int_equal(json_object_set_new(want, key, v), 0);
    if (!json_equal(got, want)) {
        char *a = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
        char *b = json_dumps(want, JSON_SORT_KEYS | JSON_COMPACT);
        printf("# got  %s\n# want %s\n", a, b);
        free(a);
        free(b);
        fail_msg("output differs, as JSON, from the expected document");
    }
    json_decref(got);
    json_decref(want);
}

/* lx_body_set(doc, key, value) must give exactly `expected` (if not NULL)
 * and, as JSON, doc with doc[key] = value. */
static void check_set(const char *doc, const char *key, const char *value, const char *expected)
{
    size_t dn = strlen(doc);
    lx_buf_t out;
    lx_buf_init(&out, 0);
    lx_body_set(&out, doc, dn, key, value, strlen(value));
    if (expected && !lx_str_eq_cstr(lx_buf_str(&out), expected))
        fail_msg("set '%s'=%s on %s\n gave     %.*s\n expected %s", key, value, doc, (int)out.n,
                 out.p, expected);
    assert_json_is_edit(doc, dn, key, value, out.p, out.n);
    /* The key is then found with the new value. */
    expect_find(out.p, key, value);
    lx_buf_free(&out);
}

/* ------------------------------------------------------------------------ */
/* A realistic chat body                                                     */

/* Before the model: messages whose strings hold braces, brackets, quotes,
 * escaped quotes, backslashes, a fake "model" key and unicode; a metadata
 * object and a tools array that both hold nested "model" keys. */
#define CHAT_PRE                                                                                   \
    "{\n"                                                                                          \
    "  \"messages\": [\n"                                                                          \
    "    {\"role\": \"system\", \"content\": \"You are {\\\"model\\\": \\\"fake\\\"} a helper. "   \
    "Braces {[}] \\\\\\\" and a trailing backslash \\\\\"},\n"                                     \
    "    {\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"h\xc3\xa9llo "        \
    "\xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x8e\x89 \\u00e9 \\ud83c\\udf89 \\\"model\\\":\\\"x\\\" "    \
    "}\"},\n"                                                                                      \
    "      {\"type\": \"image_url\", \"image_url\": {\"url\": "                                    \
    "\"data:image/png;base64,iVBO\"}}]}\n"                                                         \
    "  ],\n"                                                                                       \
    "  \"metadata\": {\"model\": \"nested-do-not-touch\", \"tags\": [\"model\", {\"model\": "      \
    "1}]},\n"                                                                                      \
    "  \"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"pick_model\", "             \
    "\"parameters\": {\"type\": \"object\", \"properties\": {\"model\": {\"type\": "               \
    "\"string\"}}, \"required\": [\"model\"]}}}],\n"                                               \
    "  \"model\" : "
#define CHAT_POST                                                                                  \
    " ,\n"                                                                                         \
    "  \"temperature\": 0.7,\n"                                                                    \
    "  \"max_tokens\": 256,\n"                                                                     \
    "  \"stream\": true,\n"                                                                        \
    "  \"stream_options\": {\"include_usage\": false},\n"                                          \
    "  \"user\": \"u-1\"\n"                                                                        \
    "}\n"
#define CHAT_MODEL "\"openai/gpt-4o-mini\""
#define CHAT_BODY  CHAT_PRE CHAT_MODEL CHAT_POST

static void test_chat_body_is_valid_json(void **state)
{
    (void)state;
    json_error_t err;
    json_t *j = json_loads(CHAT_BODY, JSON_REJECT_DUPLICATES, &err);
    if (j == NULL)
        fail_msg("test corpus is not JSON: %s line %d col %d", err.text, err.line, err.column);
    assert_string_equal(json_string_value(json_object_get(j, "model")), "openai/gpt-4o-mini");
    json_decref(j);
}

static void test_find_top_level_keys_in_chat_body(void **state)
{
    (void)state;
    const char *d = CHAT_BODY;
    expect_find(d, "model", CHAT_MODEL);
    expect_find(d, "temperature", "0.7");
    expect_find(d, "max_tokens", "256");
    expect_find(d, "stream", "true");
    expect_find(d, "stream_options", "{\"include_usage\": false}");
    expect_find(d, "user", "\"u-1\"");
    expect_find(d, "metadata",
                "{\"model\": \"nested-do-not-touch\", \"tags\": [\"model\", {\"model\": 1}]}");
    /* Keys that exist only nested, or prefixes/case variants, are absent. */
    expect_absent(d, "include_usage");
    expect_absent(d, "role");
    expect_absent(d, "content");
    expect_absent(d, "required");
    expect_absent(d, "properties");
    expect_absent(d, "mod");
    expect_absent(d, "models");
    expect_absent(d, "Model");
    expect_absent(d, "");
}

static void test_set_model_in_chat_body(void **state)
{
    (void)state;
    check_set(CHAT_BODY, "model", "\"gpt-4o-mini\"", CHAT_PRE "\"gpt-4o-mini\"" CHAT_POST);
    /* A longer name and one that needs escapes. */
    check_set(CHAT_BODY, "model", "\"a-much-longer-upstream-model-name-2024-08-06\"",
              CHAT_PRE "\"a-much-longer-upstream-model-name-2024-08-06\"" CHAT_POST);
    check_set(CHAT_BODY, "model", "\"we\\\"ird\\\\ \xe6\xa8\xa1\xe5\x9e\x8b\"",
              CHAT_PRE "\"we\\\"ird\\\\ \xe6\xa8\xa1\xe5\x9e\x8b\"" CHAT_POST);
}

/* What chat.c does for a stream whose client did not ask for usage. */
static void test_chain_model_then_stream_options(void **state)
{
    (void)state;
    lx_buf_t a, b;
    lx_buf_init(&a, 0);
    lx_buf_init(&b, 0);
    lx_body_set(&a, CHAT_BODY, strlen(CHAT_BODY), "model", "\"gpt-4o-mini\"", 13);
    static const char so[] = "{\"include_usage\":true}";
    lx_body_set(&b, a.p, a.n, "stream_options", so, sizeof so - 1);
    const char *expected = CHAT_PRE "\"gpt-4o-mini\"" CHAT_POST;
    lx_buf_t want;
    lx_buf_init(&want, 0);
    const char *at = strstr(expected, "{\"include_usage\": false}");
    assert_non_null(at);
    lx_buf_append(&want, expected, (size_t)(at - expected));
    lx_buf_append(&want, so, sizeof so - 1);
    lx_buf_append_cstr(&want, at + strlen("{\"include_usage\": false}"));
    assert_true(lx_str_eq(lx_buf_str(&b), lx_buf_str(&want)));
    assert_json_is_edit(a.p, a.n, "stream_options", so, b.p, b.n);

    json_t *j = json_loadb(b.p, b.n, JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "model")), "gpt-4o-mini");
    json_t *meta = json_object_get(j, "metadata");
    assert_string_equal(json_string_value(json_object_get(meta, "model")), "nested-do-not-touch");
    assert_true(
        json_is_true(json_object_get(json_object_get(j, "stream_options"), "include_usage")));
    json_decref(j);
    lx_buf_free(&a);
    lx_buf_free(&b);
    lx_buf_free(&want);
}

/* ------------------------------------------------------------------------ */
/* Replace: positions, whitespace, value types, tricky neighbours            */

typedef struct {
    const char *doc;
    const char *expected;
} case_t;

static void run_cases(const case_t *cases, size_t n, const char *key, const char *value)
{
    for (size_t i = 0; i < n; i++)
        check_set(cases[i].doc, key, value, cases[i].expected);
}

static void test_replace_whitespace_and_position_variants(void **state)
{
    (void)state;
    static const case_t cases[] = {
        {"{\"model\":\"old\"}", "{\"model\":\"new\"}"},
        {"{ \"model\" : \"old\" }", "{ \"model\" : \"new\" }"},
        {"\n\t {\n\t\"model\"\n:\r\n\"old\"\r\n}\n ", "\n\t {\n\t\"model\"\n:\r\n\"new\"\r\n}\n "},
        {"{\"model\":\"old\",\"a\":1}", "{\"model\":\"new\",\"a\":1}"},
        {"{\"a\":1,\"model\":\"old\"}", "{\"a\":1,\"model\":\"new\"}"},
        {"{\"a\":1 , \"model\":\"old\" , \"b\":2}", "{\"a\":1 , \"model\":\"new\" , \"b\":2}"},
        {"{\"a\":1,\"model\":\"old\"\t}", "{\"a\":1,\"model\":\"new\"\t}"},
        {"{\n  \"a\": 1,\n  \"model\": \"old\"\n}", "{\n  \"a\": 1,\n  \"model\": \"new\"\n}"},
    };
    run_cases(cases, LX_ARRAY_LEN(cases), "model", "\"new\"");
}

static void test_replace_any_value_type(void **state)
{
    (void)state;
    static const case_t cases[] = {
        {"{\"model\":null}", "{\"model\":\"new\"}"},
        {"{\"model\":42,\"x\":1}", "{\"model\":\"new\",\"x\":1}"},
        {"{\"model\":-1.5e+3 , \"x\":1}", "{\"model\":\"new\" , \"x\":1}"},
        {"{\"model\":0}", "{\"model\":\"new\"}"},
        {"{\"model\":true}", "{\"model\":\"new\"}"},
        {"{\"model\":false }", "{\"model\":\"new\" }"},
        {"{\"model\":\"\"}", "{\"model\":\"new\"}"},
        {"{\"model\":[\"a\",{\"b\":\"]}\"}],\"x\":[]}", "{\"model\":\"new\",\"x\":[]}"},
        {"{\"model\":{\"name\":\"x\",\"model\":\"y\",\"n\":{\"m\":[1,{}]}},\"x\":{}}",
         "{\"model\":\"new\",\"x\":{}}"},
        {"{\"model\":\"a\\\"b\\\\\",\"x\":\"\\\\\"}", "{\"model\":\"new\",\"x\":\"\\\\\"}"},
        {"{\"model\":\"}{][,:\\\"\",\"x\":1}", "{\"model\":\"new\",\"x\":1}"},
    };
    run_cases(cases, LX_ARRAY_LEN(cases), "model", "\"new\"");
}

/* Nested "model" keys and "model" inside strings are never touched. */
static void test_nested_and_quoted_model_untouched(void **state)
{
    (void)state;
    static const case_t cases[] = {
        {"{\"a\":{\"model\":\"x\"},\"model\":\"old\",\"b\":[{\"model\":\"y\"}]}",
         "{\"a\":{\"model\":\"x\"},\"model\":\"new\",\"b\":[{\"model\":\"y\"}]}"},
        {"{\"a\":[[{\"model\":{\"model\":\"deep\"}}]],\"model\":\"old\"}",
         "{\"a\":[[{\"model\":{\"model\":\"deep\"}}]],\"model\":\"new\"}"},
        /* A key containing an escaped quote and the word model; a value that
         * is "}{"; a value that is one backslash; a value that looks like a
         * pair. */
        {"{\"a\\\"model\":\"}{\",\"b\":\"\\\\\",\"c\":\"\\\"model\\\":\\\"z\\\"\","
         "\"model\":\"old\"}",
         "{\"a\\\"model\":\"}{\",\"b\":\"\\\\\",\"c\":\"\\\"model\\\":\\\"z\\\"\","
         "\"model\":\"new\"}"},
        {"{\"modelx\":1,\"xmodel\":2,\"Model\":3,\"mode\":4,\"model\":\"old\"}",
         "{\"modelx\":1,\"xmodel\":2,\"Model\":3,\"mode\":4,\"model\":\"new\"}"},
        {"{\"\":\"\",\"model\":\"old\"}", "{\"\":\"\",\"model\":\"new\"}"},
        {"{\"s\":\"{\\\"model\\\":1}\",\"model\":\"old\",\"t\":\"[\"}",
         "{\"s\":\"{\\\"model\\\":1}\",\"model\":\"new\",\"t\":\"[\"}"},
    };
    run_cases(cases, LX_ARRAY_LEN(cases), "model", "\"new\"");
}

static void test_unicode(void **state)
{
    (void)state;
    static const case_t cases[] = {
        {"{\"mod\xc3\xa8le\":\"\xc3\xa9\",\"model\":\"\xe6\xa8\xa1\xe5\x9e\x8b\",\"x\":"
         "\"\xf0\x9f\x8e\x89\"}",
         "{\"mod\xc3\xa8le\":\"\xc3\xa9\",\"model\":\"new\",\"x\":\"\xf0\x9f\x8e\x89\"}"},
        {"{\"\xe2\x80\xa8\":\"\\u2028\\ud83c\\udf89\",\"model\":\"\\u00e9\"}",
         "{\"\xe2\x80\xa8\":\"\\u2028\\ud83c\\udf89\",\"model\":\"new\"}"},
    };
    run_cases(cases, LX_ARRAY_LEN(cases), "model", "\"new\"");
    check_set("{\"model\":\"old\"}", "model", "\"\xe6\xa8\xa1\xe5\x9e\x8b-\xf0\x9f\x8e\x89\"",
              "{\"model\":\"\xe6\xa8\xa1\xe5\x9e\x8b-\xf0\x9f\x8e\x89\"}");
}

/* ------------------------------------------------------------------------ */
/* Insert when absent                                                        */

static void test_insert_when_absent(void **state)
{
    (void)state;
    static const case_t cases[] = {
        {"{}", "{\"model\":\"m\"}"},
        {"{ }", "{\"model\":\"m\" }"},
        {"{\n}", "{\"model\":\"m\"\n}"},
        {"  {}  ", "  {\"model\":\"m\"}  "},
        {"{\"messages\":[]}", "{\"model\":\"m\",\"messages\":[]}"},
        {"  {\n  \"a\": 1\n}\n", "  {\"model\":\"m\",\n  \"a\": 1\n}\n"},
        {"{\"metadata\":{\"model\":\"x\"},\"tools\":[{\"model\":\"y\"}]}",
         "{\"model\":\"m\",\"metadata\":{\"model\":\"x\"},\"tools\":[{\"model\":\"y\"}]}"},
        {"{\"a\\\"model\\\"\":1,\"s\":\"\\\"model\\\":2\"}",
         "{\"model\":\"m\",\"a\\\"model\\\"\":1,\"s\":\"\\\"model\\\":2\"}"},
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(cases); i++)
        expect_absent(cases[i].doc, "model");
    run_cases(cases, LX_ARRAY_LEN(cases), "model", "\"m\"");
}

/* ------------------------------------------------------------------------ */
/* stream_options: an object value                                           */

static void test_stream_options_object_value(void **state)
{
    (void)state;
    static const char so[] = "{\"include_usage\":true}";
    static const case_t replace[] = {
        {"{\"model\":\"x\",\"stream\":true,\"stream_options\":{\"include_usage\":false},"
         "\"messages\":[]}",
         "{\"model\":\"x\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
         "\"messages\":[]}"},
        {"{\"stream_options\" : { \"include_usage\" : false, \"x\" : {\"y\" : [1]} } }",
         "{\"stream_options\" : {\"include_usage\":true} }"},
        {"{\"stream\":true,\"stream_options\":null}",
         "{\"stream\":true,\"stream_options\":{\"include_usage\":true}}"},
        {"{\"stream\":true,\"stream_options\":{}}",
         "{\"stream\":true,\"stream_options\":{\"include_usage\":true}}"},
    };
    run_cases(replace, LX_ARRAY_LEN(replace), "stream_options", so);
    static const case_t insert[] = {
        {"{\"model\":\"x\",\"stream\":true,\"messages\":[{\"stream_options\":1}]}",
         "{\"stream_options\":{\"include_usage\":true},\"model\":\"x\",\"stream\":true,"
         "\"messages\":[{\"stream_options\":1}]}"},
    };
    run_cases(insert, LX_ARRAY_LEN(insert), "stream_options", so);
    expect_find(replace[1].doc, "stream_options",
                "{ \"include_usage\" : false, \"x\" : {\"y\" : [1]} }");
}

/* lx_body_set_usage must give, as JSON, what chat.c built with jansson
 * before: the client's stream_options object (or a new one when absent or
 * not an object) with include_usage set to true. */
static void check_usage(const char *doc, const char *expected)
{
    size_t dn = strlen(doc);
    lx_buf_t out;
    lx_buf_init(&out, 0);
    lx_body_set_usage(&out, doc, dn);
    if (expected && !lx_str_eq_cstr(lx_buf_str(&out), expected))
        fail_msg("usage on %s\n gave     %.*s\n expected %s", doc, (int)out.n, out.p, expected);
    json_t *want = json_loadb(doc, dn, JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(want);
    json_t *so = json_object_get(want, "stream_options");
    json_t *opts = json_is_object(so) ? json_deep_copy(so) : json_object();
    json_object_set_new(opts, "include_usage", json_true());
    json_object_set_new(want, "stream_options", opts);
    char *text = json_dumps(json_object_get(want, "stream_options"), JSON_COMPACT);
    assert_json_is_edit(doc, dn, "stream_options", text, out.p, out.n);
    free(text);
    json_decref(want);
    lx_buf_free(&out);
}

static void test_set_usage(void **state)
{
    (void)state;
    check_usage("{\"model\":\"m\",\"stream\":true}",
                "{\"stream_options\":{\"include_usage\":true},\"model\":\"m\",\"stream\":true}");
    check_usage("{}", "{\"stream_options\":{\"include_usage\":true}}");
    check_usage("{\"stream_options\":null,\"n\":1}",
                "{\"stream_options\":{\"include_usage\":true},\"n\":1}");
    check_usage("{\"stream_options\":\"x\"}", "{\"stream_options\":{\"include_usage\":true}}");
    check_usage("{\"stream_options\":[{\"include_usage\":false}]}",
                "{\"stream_options\":{\"include_usage\":true}}");
    check_usage("{\"stream_options\":{}}", "{\"stream_options\":{\"include_usage\":true}}");
    check_usage("{\"stream_options\": { } ,\"n\":1}",
                "{\"stream_options\": {\"include_usage\":true } ,\"n\":1}");
    check_usage("{\"stream_options\":{\"include_usage\":false},\"n\":1}",
                "{\"stream_options\":{\"include_usage\":true},\"n\":1}");
    check_usage("{\"stream_options\":{ \"x\" : [1], \"include_usage\" : null }}",
                "{\"stream_options\":{ \"x\" : [1], \"include_usage\" : true }}");
    check_usage("{\"stream_options\":{\"x\":{\"include_usage\":false}}}",
                "{\"stream_options\":{\"include_usage\":true,\"x\":{\"include_usage\":false}}}");
    check_usage("{\"stream_options\":{\"include\\u005fusage\":false}}",
                "{\"stream_options\":{\"include\\u005fusage\":true}}");
    check_usage("{\"messages\":[{\"stream_options\":1}],\"stream_options\":{\"a\":\"}\"}}",
                "{\"messages\":[{\"stream_options\":1}],\"stream_options\":{\"include_usage\":"
                "true,\"a\":\"}\"}}");
    check_usage(CHAT_BODY, NULL);
}

/* ------------------------------------------------------------------------ */
/* Not an object                                                             */

static void test_find_not_an_object_is_error(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "[{\"model\":\"x\"}]",   "[]", "\"model\"", "42", "null", "true", "", "   ", "\n",
        " [ {\"model\" : 1} ] ",
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(docs); i++)
        expect_absent(docs[i], "model");
    /* Length-bounded: a NUL-free prefix that stops before the key. */
    static const char doc[] = "{\"a\":1,\"model\":\"x\"}";
    size_t vs, ve;
    assert_int_equal(lx_body_find(doc, 8, "model", &vs, &ve), LX_ERROR);
    assert_int_equal(lx_body_find(doc, sizeof doc - 1, "model", &vs, &ve), LX_OK);
    assert_int_equal(vs, 15);
    assert_int_equal(ve, 18);
}

/* The value span never includes the whitespace around it. */
static void test_find_span_excludes_whitespace(void **state)
{
    (void)state;
    static const char doc[] = "{ \"model\" :\t \"x\"   , \"n\" : 12 \n}";
    size_t vs, ve;
    assert_int_equal(lx_body_find(doc, sizeof doc - 1, "model", &vs, &ve), LX_OK);
    assert_memory_equal(doc + vs, "\"x\"", 3);
    assert_int_equal(ve - vs, 3);
    assert_int_equal(lx_body_find(doc, sizeof doc - 1, "n", &vs, &ve), LX_OK);
    assert_int_equal(ve - vs, 2);
    assert_memory_equal(doc + vs, "12", 2);
}

/* ------------------------------------------------------------------------ */
/* Keys that JSON parsers see as "model" but that are spelled differently     */

/* chat.c reads the model with jansson, which decodes escapes in keys, then
 * splices with lx_body_set, which compares raw key bytes. */
static void test_escaped_key_is_the_same_key(void **state)
{
    (void)state;
    static const char doc[] = "{\"mod\\u0065l\":\"openai/gpt-4o\",\"messages\":[]}";
    json_t *j = json_loads(doc, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "model")), "openai/gpt-4o");
    json_decref(j);

    lx_buf_t out;
    lx_buf_init(&out, 0);
    lx_body_set(&out, doc, sizeof doc - 1, "model", "\"gpt-4o\"", 8);
    json_t *strict = json_loadb(out.p, out.n, JSON_REJECT_DUPLICATES, NULL);
    json_t *lax = json_loadb(out.p, out.n, 0, NULL); /* last duplicate wins */
    assert_non_null(lax);
    const char *seen = json_string_value(json_object_get(lax, "model"));
    assert_non_null(strict); /* no second "model" was inserted */
    assert_non_null(seen);
    assert_string_equal(seen, "gpt-4o");
    fflush(stdout);
    json_decref(strict);
    json_decref(lax);
    lx_buf_free(&out);
}

/* Duplicate top-level keys: the router and the splicer could disagree on
 * which "model" counts, so lx_json_parse refuses such bodies outright. */
static void test_duplicate_model_keys(void **state)
{
    (void)state;
    static const char doc[] =
        "{\"model\":\"other/secret\",\"messages\":[],\"model\":\"openai/gpt-4o\"}";
    char err[160] = "";
    json_t *j = lx_json_parse(doc, sizeof doc - 1, LX_JSON_MAX_DEPTH, err, sizeof err);
    assert_null(j);
    assert_non_null(strstr(err, "duplicate"));
}

/* ------------------------------------------------------------------------ */
/* lx_body_scan: a whole answer checked and indexed in one pass               */

static bool scan2(const char *doc, const char *k0, const char *k1, size_t *vs, size_t *ve)
{
    const char *keys[2] = {k0, k1};
    return lx_body_scan(doc, strlen(doc), keys, 2, vs, ve);
}

static void test_scan_finds_keys_in_a_whole_object(void **state)
{
    (void)state;
    size_t vs[2], ve[2];
    const char *doc = " {\"id\":\"x\",\"choices\":[{\"a\":\"}\"}],\"usage\":{\"n\":1} }\n";
    assert_true(scan2(doc, "usage", "choices", vs, ve));
    assert_int_equal(ve[0] - vs[0], 7);
    assert_memory_equal(doc + vs[0], "{\"n\":1}", 7);
    assert_memory_equal(doc + vs[1], "[{\"a\":\"}\"}]", ve[1] - vs[1]);
    /* Absent keys: ve == 0; the object is still whole. */
    assert_true(scan2("{\"data\":[]}", "usage", "choices", vs, ve));
    assert_int_equal(ve[0], 0);
    assert_int_equal(ve[1], 0);
    assert_true(scan2("{}", "usage", "choices", vs, ve));
    assert_true(scan2(" { } ", "usage", "choices", vs, ve));
    assert_int_equal(ve[0], 0);
    /* First occurrence wins, as in lx_body_find; escaped keys match. */
    doc = "{\"usage\":1,\"us\\u0061ge\":2,\"choices\":3}";
    assert_true(scan2(doc, "usage", "choices", vs, ve));
    assert_memory_equal(doc + vs[0], "1", 1);
    doc = "{\"us\\u0061ge\":2,\"usage\":1}";
    assert_true(scan2(doc, "usage", "choices", vs, ve));
    assert_memory_equal(doc + vs[0], "2", 1);
    /* One key may be the other's prefix. */
    assert_true(scan2("{\"usage_x\":1,\"usage\":2}", "usage", "usage_x", vs, ve));
    assert_int_equal(vs[0], 21);
    assert_int_equal(vs[1], 11);
}

static void test_scan_rejects_what_is_not_one_whole_object(void **state)
{
    (void)state;
    size_t vs[2], ve[2];
    static const char *const bad[] = {
        "",
        "   ",
        "[]",
        "null",
        "{",
        "{\"usage\":{\"n\":1}",               /* cut before the last brace */
        "{\"usage\":{\"n\":1},\"choices\":[", /* cut inside a value */
        "{\"usage\":\"abc",                   /* cut inside a string */
        "{\"usage\"",                         /* cut after a key */
        "{\"usage\":1,}",                     /* no member after the comma */
        "{\"usage\":1 \"choices\":2}",        /* no comma */
        "{\"usage\":1}x",                     /* something after it */
        "{\"usage\":1}{\"usage\":2}",         /* two objects */
        "{usage:1}",                          /* a key that is not a string */
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(bad); i++)
        assert_false(scan2(bad[i], "usage", "choices", vs, ve));
    /* Length-bounded: a whole object followed by bytes outside n. */
    static const char doc[] = "{\"usage\":1}garbage";
    const char *keys[1] = {"usage"};
    assert_true(lx_body_scan(doc, 11, keys, 1, vs, ve));
    assert_false(lx_body_scan(doc, 10, keys, 1, vs, ve));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chat_body_is_valid_json),
        cmocka_unit_test(test_find_top_level_keys_in_chat_body),
        cmocka_unit_test(test_set_model_in_chat_body),
        cmocka_unit_test(test_chain_model_then_stream_options),
        cmocka_unit_test(test_replace_whitespace_and_position_variants),
        cmocka_unit_test(test_replace_any_value_type),
        cmocka_unit_test(test_nested_and_quoted_model_untouched),
        cmocka_unit_test(test_unicode),
        cmocka_unit_test(test_insert_when_absent),
        cmocka_unit_test(test_stream_options_object_value),
        cmocka_unit_test(test_set_usage),
        cmocka_unit_test(test_find_not_an_object_is_error),
        cmocka_unit_test(test_find_span_excludes_whitespace),
        cmocka_unit_test(test_escaped_key_is_the_same_key),
        cmocka_unit_test(test_duplicate_model_keys),
        cmocka_unit_test(test_scan_finds_keys_in_a_whole_object),
        cmocka_unit_test(test_scan_rejects_what_is_not_one_whole_object),
    };
    return cmocka_run_group_tests_name("ai/body", tests, NULL, NULL);
}
