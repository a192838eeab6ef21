/* test_chat_scan.c - unit tests for src/ai/chat_scan.c: what the chat
 * handler reads from a body without a tree must equal what it reads from the
 * jansson tree, on a corpus of request shapes and on random edits of them;
 * and the scan must give up (so the handler parses) exactly where it
 * cannot be sure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ai/catalog.h"
#include "ai/chat_scan.h"
#include "core/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */

static const char *desc(const lx_chat_req_t *r, char *buf, size_t n)
{
    snprintf(buf, n,
             "{messages_array=%d stream=%d client_usage=%d need=%#x max_tokens=%lld "
             "bad_param=%s model=%s'%.*s'}",
             r->messages_array, r->stream, r->client_usage, r->need, (long long)r->max_tokens,
             r->bad_param ? r->bad_param : "NULL", r->model.p ? "" : "NULL ", (int)r->model.n,
             r->model.p ? r->model.p : "");
    return buf;
}

static bool same(const lx_chat_req_t *a, const lx_chat_req_t *b)
{
    return a->messages_array == b->messages_array && a->stream == b->stream &&
           a->client_usage == b->client_usage && a->need == b->need &&
           a->max_tokens == b->max_tokens && (a->bad_param == NULL) == (b->bad_param == NULL) &&
           (a->bad_param == NULL || strcmp(a->bad_param, b->bad_param) == 0) &&
           (a->model.p == NULL) == (b->model.p == NULL) && a->model.n == b->model.n &&
           (a->model.n == 0 || memcmp(a->model.p, b->model.p, a->model.n) == 0);
}

/* Scans body[0..n) from a private copy; if the scan is sure, the tree must
 * say the same. Returns whether the scan was sure; *out is its answer (or
 * the tree's when it was not and the body parses). */
static bool check_n(const char *body, size_t n, lx_chat_req_t *out)
{
    char *copy = malloc(n ? n : 1), d1[400], d2[400];
    memcpy(copy, body, n);
    lx_chat_req_t s, t;
    bool sure = lx_chat_req_scan((lx_str_t){copy, n}, &s);
    char err[200];
    json_t *root = lx_json_parse(copy, n, LX_JSON_MAX_DEPTH, err, sizeof err);
    if (sure && !json_is_object(root))
        fail_msg("scan sure of a body jansson refuses (%s): '%.*s'", err, (int)n, body);
    if (root && json_is_object(root)) {
        lx_chat_req_from_json(root, &t);
        if (sure && !same(&s, &t))
            fail_msg("scan %s != tree %s for '%.*s'", desc(&s, d1, sizeof d1),
                     desc(&t, d2, sizeof d2), (int)n, body);
        if (out) {
            *out = sure ? s : t;
            /* views into the copy or the tree die here: keep the length */
            out->model.p = out->model.p ? "" : NULL;
        }
    }
    json_decref(root);
    free(copy);
    return sure;
}

/* A body the scan must read by itself, with the expected fields. */
static void expect_scan(const char *body, bool messages_array, bool stream, bool client_usage,
                        unsigned need, int64_t max_tokens, const char *model)
{
    lx_chat_req_t r;
    if (!check_n(body, strlen(body), &r))
        fail_msg("scan gave up on '%s'", body);
    assert_int_equal(r.messages_array, messages_array);
    assert_int_equal(r.stream, stream);
    assert_int_equal(r.client_usage, client_usage);
    assert_int_equal(r.need, need);
    assert_int_equal(r.max_tokens, max_tokens);
    if (model == NULL)
        assert_null(r.model.p);
    else
        assert_int_equal(r.model.n, strlen(model));
}

/* A body the scan must leave to jansson. */
static void expect_fallback(const char *body)
{
    if (check_n(body, strlen(body), NULL))
        fail_msg("scan was sure of '%s'", body);
}

#define MSGS "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"

/* ------------------------------------------------------------------------ */
/* Corpus                                                                    */

static void test_basic(void **state)
{
    (void)state;
    expect_scan("{\"model\":\"gpt-4o\"," MSGS "}", true, false, false, 0, 0, "gpt-4o");
    expect_scan(" {\n  \"model\" : \"openai/gpt-4o-mini\" ,\n  " MSGS " }\n", true, false, false, 0,
                0, "openai/gpt-4o-mini");
    expect_scan("{}", false, false, false, 0, 0, NULL);
    expect_scan("{\"model\":\"\"," MSGS "}", true, false, false, 0, 0, "");
    expect_scan("{\"model\":12," MSGS "}", true, false, false, 0, 0, NULL);
    expect_scan("{\"model\":null," MSGS "}", true, false, false, 0, 0, NULL);
    expect_scan("{\"model\":[\"a\"]," MSGS "}", true, false, false, 0, 0, NULL);
    expect_scan("{\"messages\":{},\"model\":\"m\"}", false, false, false, 0, 0, "m");
    expect_scan("{\"messages\":\"[]\",\"model\":\"m\"}", false, false, false, 0, 0, "m");
    expect_scan("{\"messages\":[],\"model\":\"m\"}", true, false, false, 0, 0, "m");
    expect_scan("{\"messages\":null}", false, false, false, 0, 0, NULL);
}

static void test_stream(void **state)
{
    (void)state;
    expect_scan("{" MSGS ",\"stream\":true}", true, true, false, 0, 0, NULL);
    expect_scan("{" MSGS ",\"stream\":false}", true, false, false, 0, 0, NULL);
    expect_scan("{" MSGS ",\"stream\":\"true\"}", true, false, false, 0, 0, NULL);
    expect_scan("{" MSGS ",\"stream\":1}", true, false, false, 0, 0, NULL);
    expect_scan("{" MSGS ",\"stream\":null}", true, false, false, 0, 0, NULL);
    expect_scan("{" MSGS ",\"stream\":[true]}", true, false, false, 0, 0, NULL);
    expect_scan("{\"stream\":true,\"stream_options\":{\"include_usage\":true}," MSGS "}", true,
                true, true, 0, 0, NULL);
    expect_scan("{\"stream_options\":{\"x\":1, \"include_usage\" : true }}", false, false, true, 0,
                0, NULL);
    expect_scan("{\"stream_options\":{\"include_usage\":false}}", false, false, false, 0, 0, NULL);
    expect_scan("{\"stream_options\":{\"include_usage\":1}}", false, false, false, 0, 0, NULL);
    expect_scan("{\"stream_options\":{\"include_usage\":\"true\"}}", false, false, false, 0, 0,
                NULL);
    expect_scan("{\"stream_options\":{}}", false, false, false, 0, 0, NULL);
    expect_scan("{\"stream_options\":null}", false, false, false, 0, 0, NULL);
    expect_scan("{\"stream_options\":[{\"include_usage\":true}]}", false, false, false, 0, 0, NULL);
    expect_scan("{\"stream_options\":\"include_usage\"}", false, false, false, 0, 0, NULL);
    expect_scan("{\"stream_options\":{\"o\":{\"include_usage\":true}}}", false, false, false, 0, 0,
                NULL);
    expect_scan("{\"stream_options\":{\"include\\u005fusage\":true}}", false, false, true, 0, 0,
                NULL);
}

static void test_needs(void **state)
{
    (void)state;
    expect_scan("{" MSGS ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\","
                "\"parameters\":{\"type\":\"object\",\"properties\":{}}}}]}",
                true, false, false, LX_CAP_TOOLS, 0, NULL);
    expect_scan("{" MSGS ",\"tools\":[]}", true, false, false, 0, 0, NULL);
    expect_scan("{" MSGS ",\"tools\":[ ]}", true, false, false, 0, 0, NULL);
    expect_scan("{" MSGS ",\"tools\":[null]}", true, false, false, LX_CAP_TOOLS, 0, NULL);
    expect_scan("{" MSGS ",\"tools\":{\"a\":1}}", true, false, false, 0, 0, NULL);
    expect_scan("{" MSGS ",\"tools\":\"[1]\"}", true, false, false, 0, 0, NULL);

    expect_scan("{\"response_format\":{\"type\":\"json_object\"}}", false, false, false,
                LX_CAP_JSON, 0, NULL);
    expect_scan("{\"response_format\":{\"json_schema\":{\"type\":\"x\"},\"type\":\"json_schema\"}}",
                false, false, false, LX_CAP_JSON, 0, NULL);
    expect_scan("{\"response_format\":{\"type\":\"json\\u005fobject\"}}", false, false, false,
                LX_CAP_JSON, 0, NULL);
    expect_scan("{\"response_format\":{\"type\":\"text\"}}", false, false, false, 0, 0, NULL);
    expect_scan("{\"response_format\":{\"type\":\"json_object \"}}", false, false, false, 0, 0,
                NULL);
    expect_scan("{\"response_format\":{\"type\":[\"json_object\"]}}", false, false, false, 0, 0,
                NULL);
    expect_scan("{\"response_format\":\"json_object\"}", false, false, false, 0, 0, NULL);
    expect_scan("{\"response_format\":[{\"type\":\"json_object\"}]}", false, false, false, 0, 0,
                NULL);

    static const char image[] =
        "{\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},{\"role\":\"user\","
        "\"content\":[{\"type\":\"text\",\"text\":\"what is this image_url?\"},{\"image_url\":{"
        "\"url\":\"data:image/png;base64,AAAA\"},\"type\":\"image_url\"}]}]}";
    expect_scan(image, true, false, false, LX_CAP_VISION, 0, NULL);
    expect_scan("{\"messages\":[{\"content\":[{\"type\":\"image\\u005furl\"}]}]}", true, false,
                false, LX_CAP_VISION, 0, NULL);
    expect_scan("{\"messages\":[{\"content\":\"image_url\"},{\"content\":[{\"type\":\"text\"}]}]}",
                true, false, false, 0, 0, NULL);
    expect_scan("{\"messages\":[{\"content\":[{\"type\":\"image_url \"}]}]}", true, false, false, 0,
                0, NULL);
    expect_scan("{\"messages\":[{\"content\":[\"image_url\",[{\"type\":\"image_url\"}]]}]}", true,
                false, false, 0, 0, NULL);
    expect_scan("{\"messages\":[{\"content\":{\"type\":\"image_url\"}}]}", true, false, false, 0, 0,
                NULL);
    expect_scan("{\"messages\":[[{\"content\":[{\"type\":\"image_url\"}]}],{\"type\":\"image_url\""
                "}]}",
                true, false, false, 0, 0, NULL);
    expect_scan("{\"messages\":{\"content\":[{\"type\":\"image_url\"}]}}", false, false, false, 0,
                0, NULL);
    expect_scan("{\"messages\":[{\"contents\":[{\"type\":\"image_url\"}]}]}", true, false, false, 0,
                0, NULL);
    expect_scan("{\"tools\":[1],\"response_format\":{\"type\":\"json_object\"},\"messages\":[{"
                "\"content\":[{\"type\":\"image_url\"}]}],\"stream\":true}",
                true, true, false, LX_CAP_TOOLS | LX_CAP_JSON | LX_CAP_VISION, 0, NULL);
}

static void test_max_tokens(void **state)
{
    (void)state;
    expect_scan("{\"max_completion_tokens\":100}", false, false, false, 0, 100, NULL);
    expect_scan("{\"max_tokens\":64}", false, false, false, 0, 64, NULL);
    expect_scan("{\"max_tokens\":-5}", false, false, false, 0, -5, NULL);
    expect_scan("{\"max_tokens\":-0}", false, false, false, 0, 0, NULL);
    expect_scan("{\"max_tokens\":64,\"max_completion_tokens\":100}", false, false, false, 0, 100,
                NULL);
    expect_scan("{\"max_completion_tokens\":0,\"max_tokens\":5}", false, false, false, 0, 0, NULL);
    expect_scan("{\"max_completion_tokens\":100.0,\"max_tokens\":50}", false, false, false, 0, 50,
                NULL);
    expect_scan("{\"max_completion_tokens\":\"100\",\"max_tokens\":7}", false, false, false, 0, 7,
                NULL);
    expect_scan("{\"max_completion_tokens\":null,\"max_tokens\":9}", false, false, false, 0, 9,
                NULL);
    expect_scan("{\"max_tokens\":1e3}", false, false, false, 0, 0, NULL);
    expect_scan("{\"max_tokens\":\"12\"}", false, false, false, 0, 0, NULL);
    expect_scan("{\"max_completion_tokens\":1.5}", false, false, false, 0, 0, NULL);
    expect_scan("{\"max_tokens\":999999999999999999}", false, false, false, 0, 999999999999999999LL,
                NULL);
}

/* The token limit a client asks for: absent or null, or an integer in
 * [1, LX_TOKENS_MAX]; anything else names the field (scan and tree agree). */
static void expect_param(const char *body, const char *param)
{
    lx_chat_req_t r;
    memset(&r, 0xff, sizeof r);
    check_n(body, strlen(body), &r);
    if (param == NULL && r.bad_param != NULL)
        fail_msg("'%s': %s refused", body, r.bad_param);
    if (param != NULL && (r.bad_param == NULL || strcmp(r.bad_param, param) != 0))
        fail_msg("'%s': want %s refused, got %s", body, param,
                 r.bad_param ? r.bad_param : "nothing");
}

static void test_max_tokens_bounds(void **state)
{
    (void)state;
    expect_param("{}", NULL);
    expect_param("{\"max_tokens\":1}", NULL);
    expect_param("{\"max_tokens\":null}", NULL);
    expect_param("{ \"max_tokens\" : null , \"max_completion_tokens\" : 7 }", NULL);
    expect_param("{ \"max_tokens\" : 0 , \"max_completion_tokens\" : null }", "max_tokens");
    expect_param("{\"max_tokens\":1000000000}", NULL);
    expect_param("{\"max_completion_tokens\":4096,\"max_tokens\":null}", NULL);
    expect_param("{\"max_tokens\":1000000001}", "max_tokens");
    expect_param("{\"max_tokens\":999999999999999999}", "max_tokens");
    expect_param("{\"max_tokens\":9223372036854775807}", "max_tokens");
    expect_param("{\"max_tokens\":-9223372036854775808}", "max_tokens");
    expect_param("{\"max_tokens\":0}", "max_tokens");
    expect_param("{\"max_tokens\":-0}", "max_tokens");
    expect_param("{\"max_tokens\":-5}", "max_tokens");
    expect_param("{\"max_tokens\":1.5}", "max_tokens");
    expect_param("{\"max_tokens\":1e3}", "max_tokens");
    expect_param("{\"max_tokens\":\"12\"}", "max_tokens");
    expect_param("{\"max_tokens\":true}", "max_tokens");
    expect_param("{\"max_tokens\":[1]}", "max_tokens");
    expect_param("{\"max_completion_tokens\":9223372036854775807}", "max_completion_tokens");
    expect_param("{\"max_completion_tokens\":-1,\"max_tokens\":5}", "max_completion_tokens");
    expect_param("{\"max_tokens\":-1,\"max_completion_tokens\":5}", "max_tokens");
    expect_param("{\"max_tokens\":5,\"max_completion_tokens\":0}", "max_completion_tokens");
}

static void test_escaped_keys(void **state)
{
    (void)state;
    /* Keys written with escapes are read as jansson decodes them. */
    expect_scan("{\"mod\\u0065l\":\"m\",\"m\\u0065ssages\":[],\"str\\u0065am\":true,\"max\\u005f"
                "tokens\":3,\"tools\":[1]}",
                true, true, false, LX_CAP_TOOLS, 3, "m");
    expect_scan("{\"\\u006dodel\":\"abc\"}", false, false, false, 0, 0, "abc");
    expect_scan("{\"model \":\"abc\",\"Model\":\"x\"}", false, false, false, 0, 0, NULL);
}

static void test_fallbacks(void **state)
{
    (void)state;
    /* A model name with escapes: the tree decodes it. */
    expect_fallback("{\"model\":\"openai\\/gpt-4o\"," MSGS "}");
    expect_fallback("{\"model\":\"gpt\\u002d4o\"," MSGS "}");
    /* Not an object, or not JSON: jansson's error message. */
    expect_fallback("[" MSGS "]");
    expect_fallback("");
    expect_fallback("{\"model\":\"m\"," MSGS);
    expect_fallback("{\"model\":\"m\"," MSGS "} x");
    expect_fallback("{\"model\":'m'}");
    expect_fallback("\"model\"");
    /* Duplicate keys, at the top or deeper: jansson refuses them. */
    expect_fallback("{\"model\":\"a\"," MSGS ",\"model\":\"b\"}");
    expect_fallback("{\"model\":\"a\",\"mod\\u0065l\":\"b\"}");
    expect_fallback("{\"stream\":true,\"stream\":false}");
    expect_fallback("{\"messages\":[{\"role\":\"user\",\"role\":\"system\"}]}");
    expect_fallback("{\"stream_options\":{\"include_usage\":true,\"include_usage\":false}}");
    /* What only jansson can judge. */
    expect_fallback("{\"model\":\"m\",\"messages\":[{\"content\":\"a\\u0000b\"}]}");
    expect_fallback("{\"model\":\"m\",\"seed\":12345678901234567890}");
    expect_fallback("{\"model\":\"m\",\"temperature\":1e999}");
    /* Too deep. */
    char deep[300];
    size_t n = (size_t)snprintf(deep, sizeof deep, "{\"model\":\"m\",\"x\":");
    for (int i = 0; i < LX_JSON_MAX_DEPTH; i++)
        deep[n++] = '[';
    for (int i = 0; i < LX_JSON_MAX_DEPTH; i++)
        deep[n++] = ']';
    snprintf(deep + n, sizeof deep - n, "}");
    expect_fallback(deep);
}

/* ------------------------------------------------------------------------ */
/* Random edits                                                              */

static uint64_t seed = 0x2545F4914F6CDD1Du;

static size_t rnd(size_t n)
{
    seed ^= seed >> 12;
    seed ^= seed << 25;
    seed ^= seed >> 27;
    return (size_t)((seed * 0x2545F4914F6CDD1Du) >> 33) % n;
}

static const char *bodies[] = {
    "{\"model\":\"gpt-4o\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
    "\"messages\":"
    "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"},{\"type\":\"image_url\","
    "\"image_url\":{\"url\":\"u\"}}]}],\"max_tokens\":64,\"max_completion_tokens\":128}",
    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{\"type\":"
    "\"function\",\"function\":{\"name\":\"f\"}}],\"response_format\":{\"type\":\"json_object\"},"
    "\"stream\":false,\"max_tokens\":12}",
    "{\"messages\":[{\"content\":[{\"type\":\"image_url\"}]},{\"content\":\"t\"}],\"model\":\"a/"
    "b\","
    "\"stream_options\":{\"include_usage\":false},\"response_format\":{\"type\":\"json_schema\"}}",
};

/* Tokens that change what the scan reads when dropped into a body. */
static const char *tokens[] = {
    "true",
    "false",
    "null",
    "1",
    "1.0",
    "-7",
    "\"image_url\"",
    "[]",
    "{}",
    "[1]",
    "\"type\"",
    "\"model\"",
    "\"stream\"",
    "\"max_tokens\"",
    ",",
    ":",
    "\"",
    "{",
    "}",
    "[",
    "]",
    "\\u0065",
    "\\/",
    "\"messages\":[],",
    "\"tools\":[0],",
    "\"json_object\"",
};

static void test_random_edits(void **state)
{
    (void)state;
    enum { ROUNDS = 5000, CAP = 1024 };
    char buf[CAP];
    int sure = 0, parsed = 0;
    for (int r = 0; r < ROUNDS; r++) {
        const char *b = bodies[rnd(LX_ARRAY_LEN(bodies))];
        size_t n = strlen(b);
        memcpy(buf, b, n);
        for (size_t e = 1 + rnd(2); e > 0; e--) {
            /* replace a run of bytes with a token */
            const char *t = tokens[rnd(LX_ARRAY_LEN(tokens))];
            size_t at = rnd(n), cut = rnd(6), k = strlen(t);
            cut = LX_MIN(cut, n - at);
            if (n - cut + k > CAP)
                continue;
            memmove(buf + at + k, buf + at + cut, n - at - cut);
            memcpy(buf + at, t, k);
            n = n - cut + k;
        }
        char err[200];
        json_t *root = lx_json_parse(buf, n, LX_JSON_MAX_DEPTH, err, sizeof err);
        parsed += json_is_object(root);
        json_decref(root);
        sure += check_n(buf, n, NULL);
    }
    print_message("# random edits: scan sure of %d, jansson parsed %d of %d\n", sure, parsed,
                  ROUNDS);
    assert_true(sure > ROUNDS / 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_needs),
        cmocka_unit_test(test_max_tokens),
        cmocka_unit_test(test_max_tokens_bounds),
        cmocka_unit_test(test_escaped_keys),
        cmocka_unit_test(test_fallbacks),
        cmocka_unit_test(test_random_edits),
    };
    return cmocka_run_group_tests_name("ai/chat_scan", tests, NULL, NULL);
}
