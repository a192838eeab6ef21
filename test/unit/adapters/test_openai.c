/* test_openai.c - unit tests for src/ai/adapters/openai.c (lx_adapter_openai):
 * the usage an OpenAI-compatible upstream reports is read into bounded
 * token counts, whole answers and stream chunks alike. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ai/adapter.h"

#include <jansson.h>
#include <string.h>

#define A (&lx_adapter_openai)

#define HOSTILE_USAGE                                                                              \
    "\"usage\":{\"prompt_tokens\":-9223372036854775807,\"completion_tokens\":"                     \
    "9223372036854775807,\"prompt_tokens_details\":{\"cached_tokens\":-9223372036854775808}}"

static void test_parse_usage(void **state)
{
    (void)state;
    const char *body = "{\"id\":\"c\",\"object\":\"chat.completion\",\"choices\":[],"
                       "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3,"
                       "\"prompt_tokens_details\":{\"cached_tokens\":4}}}";
    lx_tokens_t t = {0, 0, 0};
    char err[128] = "";
    json_t *c = A->chat_parse(body, strlen(body), "m", &t, err, sizeof err);
    assert_non_null(c);
    assert_true(t.in == 12 && t.out == 3 && t.cached == 4);
    json_decref(c);
}

/* Counts an upstream claims are clamped to [0, LX_TOKENS_MAX]. */
static void test_parse_usage_hostile_counts(void **state)
{
    (void)state;
    const char *body =
        "{\"id\":\"c\",\"object\":\"chat.completion\",\"choices\":[]," HOSTILE_USAGE "}";
    lx_tokens_t t = {0, 0, 0};
    char err[128] = "";
    json_t *c = A->chat_parse(body, strlen(body), "m", &t, err, sizeof err);
    assert_non_null(c);
    assert_true(t.in == 0);
    assert_true(t.out == LX_TOKENS_MAX);
    assert_true(t.cached == 0);
    json_decref(c);
}

static void noop_emit(void *arg, const char *json, size_t n)
{
    (void)arg;
    (void)json;
    (void)n;
}

static void test_stream_usage_hostile_counts(void **state)
{
    (void)state;
    lx_stream_dec_t *d = A->stream_new("m", "chatcmpl-x", false, noop_emit, NULL);
    assert_non_null(d);
    const char *chunk =
        "{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[]," HOSTILE_USAGE "}";
    lx_tokens_t t = {0, 0, 0};
    char err[128] = "";
    A->stream_event(d, LX_NULL_STR, (lx_str_t){chunk, strlen(chunk)}, &t, err, sizeof err);
    assert_true(t.in == 0);
    assert_true(t.out == LX_TOKENS_MAX);
    assert_true(t.cached == 0);
    A->stream_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_usage),
        cmocka_unit_test(test_parse_usage_hostile_counts),
        cmocka_unit_test(test_stream_usage_hostile_counts),
    };
    return cmocka_run_group_tests_name("adapters/openai", tests, NULL, NULL);
}
