/* test_usage_text.c - unit tests for src/ai/usage_text.c: token counts read
 * from usage objects without a parse must equal what jansson-based reading
 * (json_integer_value semantics) gives, on the shapes upstreams send. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ai/usage_text.h"

#include <jansson.h>
#include <string.h>

/* The reference: what the jansson-based code computed, each count brought
 * into [0, LX_TOKENS_MAX] (and sums that cannot overflow). */
static void ref_openai(lx_tokens_t *t, const char *text)
{
    json_t *u = json_loads(text, JSON_DECODE_ANY, NULL);
    if (json_is_object(u)) {
        t->in = lx_tokens_clamp(json_integer_value(json_object_get(u, "prompt_tokens")));
        t->out = lx_tokens_clamp(json_integer_value(json_object_get(u, "completion_tokens")));
        t->cached = lx_tokens_clamp(json_integer_value(
            json_object_get(json_object_get(u, "prompt_tokens_details"), "cached_tokens")));
    }
    json_decref(u);
}

static void ref_anthropic(lx_tokens_t *t, const char *text)
{
    json_t *u = json_loads(text, JSON_DECODE_ANY, NULL);
    if (json_is_object(u)) {
        json_t *in = json_object_get(u, "input_tokens");
        if (json_is_integer(in)) {
            int64_t read = json_integer_value(json_object_get(u, "cache_read_input_tokens"));
            int64_t made = json_integer_value(json_object_get(u, "cache_creation_input_tokens"));
            t->in = lx_tokens_add(lx_tokens_add(json_integer_value(in), read), made);
            t->cached = lx_tokens_clamp(read);
        }
        json_t *out = json_object_get(u, "output_tokens");
        if (json_is_integer(out))
            t->out = lx_tokens_clamp(json_integer_value(out));
    }
    json_decref(u);
}

/* Only valid JSON: where jansson rejects a whole document (an integer past
 * int64, a leading zero) it reads no usage, and reading the rest is fine. */
static const char *const openai_cases[] = {
    "{\"prompt_tokens\":16,\"completion_tokens\":5,\"total_tokens\":21}",
    "{\"prompt_tokens\":16,\"completion_tokens\":5,\"total_tokens\":21,\"prompt_tokens_details\":"
    "{\"cached_tokens\":8,\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":"
    "2}}",
    " { \"completion_tokens\" : 7 , \"prompt_tokens\" : 0 } ",
    "{\"prompt_tokens\":1.5,\"completion_tokens\":\"3\"}",
    "{\"prompt_tokens\":1e3,\"completion_tokens\":-4}",
    "{\"prompt_tokens_details\":null,\"prompt_tokens\":9223372036854775807}",
    "{\"nested\":{\"prompt_tokens\":99},\"prompt_tokens\":3}",
    "{\"prompt_tokens_details\":{\"cached_tokens\":true},\"prompt_tokens\":3}",
    "{\"prompt\\u005ftokens\":4,\"completion_tokens\":2,\"prompt_tokens_details\":{\"cached\\u005f"
    "tokens\":1}}",
    "{}",
    "null",
    "[1,2]",
    "{\"prompt_tokens\":-9223372036854775807,\"completion_tokens\":9223372036854775807,"
    "\"prompt_tokens_details\":{\"cached_tokens\":-9223372036854775807}}",
    "{\"prompt_tokens\":1000000001,\"completion_tokens\":-1}",
};

static void test_openai_matches_jansson(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof openai_cases / sizeof openai_cases[0]; i++) {
        lx_tokens_t got = {-1, -1, -1}, want = {-1, -1, -1};
        lx_usage_text_openai(&got, openai_cases[i], strlen(openai_cases[i]));
        ref_openai(&want, openai_cases[i]);
        if (memcmp(&got, &want, sizeof got) != 0)
            fail_msg("case %zu (%s): got %lld/%lld/%lld want %lld/%lld/%lld", i, openai_cases[i],
                     (long long)got.in, (long long)got.out, (long long)got.cached,
                     (long long)want.in, (long long)want.out, (long long)want.cached);
    }
}

static const char *const anthropic_cases[] = {
    "{\"input_tokens\":10,\"output_tokens\":3}",
    "{\"input_tokens\":10,\"cache_read_input_tokens\":100,\"cache_creation_input_tokens\":5,"
    "\"output_tokens\":1}",
    "{\"output_tokens\":42}",
    "{\"input_tokens\":null,\"output_tokens\":7,\"cache_read_input_tokens\":4}",
    "{\"input_tokens\":2.0,\"output_tokens\":7}",
    "{\"output_tokens\":1,\"cache_read_input\\u005ftokens\":6,\"input_tokens\":3}",
    "{}",
    "\"text\"",
    "{\"input_tokens\":9223372036854775807,\"cache_read_input_tokens\":9223372036854775807,"
    "\"cache_creation_input_tokens\":9223372036854775807,\"output_tokens\":9223372036854775807}",
    "{\"input_tokens\":-9223372036854775808,\"cache_read_input_tokens\":-1,"
    "\"output_tokens\":-9223372036854775807}",
    "{\"input_tokens\":5,\"cache_read_input_tokens\":-9223372036854775807,\"output_tokens\":2}",
};

static void test_anthropic_matches_jansson(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof anthropic_cases / sizeof anthropic_cases[0]; i++) {
        lx_tokens_t got = {-1, -1, -1}, want = {-1, -1, -1};
        lx_usage_text_anthropic(&got, anthropic_cases[i], strlen(anthropic_cases[i]));
        ref_anthropic(&want, anthropic_cases[i]);
        if (memcmp(&got, &want, sizeof got) != 0)
            fail_msg("case %zu (%s): got %lld/%lld/%lld want %lld/%lld/%lld", i, anthropic_cases[i],
                     (long long)got.in, (long long)got.out, (long long)got.cached,
                     (long long)want.in, (long long)want.out, (long long)want.cached);
    }
}

/* What an upstream claims is bounded: never negative, never past
 * LX_TOKENS_MAX, and sums of hostile parts do not wrap. */
static void test_hostile_counts_are_clamped(void **state)
{
    (void)state;
    lx_tokens_t t = {0, 0, 0};
    const char *a = "{\"input_tokens\":9223372036854775807,\"cache_read_input_tokens\":"
                    "9223372036854775807,\"output_tokens\":-3}";
    lx_usage_text_anthropic(&t, a, strlen(a));
    assert_true(t.in == LX_TOKENS_MAX);
    assert_true(t.cached == LX_TOKENS_MAX);
    assert_true(t.out == 0);
    const char *o = "{\"prompt_tokens\":12,\"completion_tokens\":-9223372036854775808,"
                    "\"prompt_tokens_details\":{\"cached_tokens\":-9223372036854775807}}";
    lx_usage_text_openai(&t, o, strlen(o));
    assert_true(t.in == 12 && t.out == 0 && t.cached == 0);
    lx_tokens_t s = {-5, INT64_MAX, INT64_MAX};
    lx_tokens_sane(&s);
    assert_true(s.in == 0 && s.out == LX_TOKENS_MAX && s.cached == 0);
    assert_true(lx_tokens_add(INT64_MAX, INT64_MAX) == LX_TOKENS_MAX);
    assert_true(lx_tokens_add(INT64_MIN, 7) == 7);
}

static void test_text_shapes(void **state)
{
    (void)state;
    assert_true(lx_json_text_is_empty_array(" [ ] ", 5));
    assert_true(lx_json_text_is_empty_array("[]", 2));
    assert_false(lx_json_text_is_empty_array("[0]", 3));
    assert_false(lx_json_text_is_empty_array("{}", 2));
    assert_true(lx_json_text_is_object("\n{\"a\":1}", 8));
    assert_false(lx_json_text_is_object("null", 4));
    int64_t v = 0;
    assert_true(lx_json_text_int("{\"a\":-9223372036854775808}", 26, "a", &v));
    assert_true(v == INT64_MIN);
    assert_false(lx_json_text_int("{\"a\":-}", 7, "a", &v));
    assert_false(lx_json_text_int("{\"a\":1}", 7, "b", &v));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_openai_matches_jansson),
        cmocka_unit_test(test_anthropic_matches_jansson),
        cmocka_unit_test(test_hostile_counts_are_clamped),
        cmocka_unit_test(test_text_shapes),
    };
    return cmocka_run_group_tests_name("ai/usage_text", tests, NULL, NULL);
}
