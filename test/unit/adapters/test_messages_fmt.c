/* test_messages_fmt.c - unit tests for src/ai/messages_fmt.c: Anthropic
 * Messages requests to canonical requests, canonical answers to Anthropic
 * messages, and canonical chunks to Anthropic SSE events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ai/messages_fmt.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- helpers ---- */

static json_t *parse(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (j == NULL)
        fail_msg("bad test JSON at %d: %s", je.line, je.text);
    return j;
}

/* Translates a request that must be valid. */
static json_t *to_oa(const char *req_text)
{
    json_t *req = parse(req_text);
    char err[256] = "";
    const char *param = "untouched";
    json_t *out = lx_messages_to_openai(req, err, sizeof err, &param);
    json_decref(req);
    if (out == NULL)
        fail_msg("unexpected error: %s (param %s)", err, param ? param : "(null)");
    return out;
}

/* Translates a request that must fail with the given param. */
static void expect_bad(const char *req_text, const char *want_param)
{
    json_t *req = parse(req_text);
    char err[256] = "";
    const char *param = "untouched";
    json_t *out = lx_messages_to_openai(req, err, sizeof err, &param);
    json_decref(req);
    if (out != NULL) {
        json_decref(out);
        fail_msg("accepted a bad request: %s", req_text);
    }
    assert_true(strlen(err) > 0);
    if (want_param == NULL)
        assert_null(param);
    else if (param == NULL || strcmp(param, want_param) != 0)
        fail_msg("param %s, want %s for %s (%s)", param ? param : "(null)", want_param, req_text,
                 err);
}

static const char *sget(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static const json_t *msg_at(const json_t *req, size_t i)
{
    return json_array_get(json_object_get(req, "messages"), i);
}

/* Asserts that j, dumped compactly with sorted keys, equals want (written
 * the same way). */
static void assert_json_eq(const json_t *j, const char *want)
{
    json_t *w = parse(want);
    if (!json_equal((json_t *)j, w)) {
        char *got = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        char *exp = json_dumps(w, JSON_COMPACT | JSON_SORT_KEYS);
        print_error("got  %s\nwant %s\n", got, exp);
        free(got);
        free(exp);
        json_decref(w);
        fail();
    }
    json_decref(w);
}

/* ---- request: validation ---- */

#define MSGS "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]"

static void test_validation_errors_name_the_param(void **state)
{
    (void)state;
    expect_bad("{\"max_tokens\":10," MSGS "}", "model");
    expect_bad("{\"model\":42,\"max_tokens\":10," MSGS "}", "model");
    expect_bad("{\"model\":\"\",\"max_tokens\":10," MSGS "}", "model");
    expect_bad("{\"model\":\"m\"," MSGS "}", "max_tokens");
    expect_bad("{\"model\":\"m\",\"max_tokens\":0," MSGS "}", "max_tokens");
    expect_bad("{\"model\":\"m\",\"max_tokens\":-5," MSGS "}", "max_tokens");
    expect_bad("{\"model\":\"m\",\"max_tokens\":\"100\"," MSGS "}", "max_tokens");
    expect_bad("{\"model\":\"m\",\"max_tokens\":10.5," MSGS "}", "max_tokens");
    expect_bad("{\"model\":\"m\",\"max_tokens\":1000000001," MSGS "}", "max_tokens");
    expect_bad("{\"model\":\"m\",\"max_tokens\":9223372036854775807," MSGS "}", "max_tokens");
    expect_bad("{\"model\":\"m\",\"max_tokens\":10}", "messages");
    expect_bad("{\"model\":\"m\",\"max_tokens\":10,\"messages\":{}}", "messages");
    expect_bad("{\"model\":\"m\",\"max_tokens\":10,\"messages\":[]}", "messages");
    expect_bad("{\"model\":\"m\",\"max_tokens\":10,\"messages\":[\"hi\"]}", "messages");
    expect_bad("{\"model\":\"m\",\"max_tokens\":10,\"messages\":[{\"role\":\"system\","
               "\"content\":\"x\"}]}",
               "messages");
    expect_bad("{\"model\":\"m\",\"max_tokens\":10,\"messages\":[{\"content\":\"x\"}]}",
               "messages");
    expect_bad("{\"model\":\"m\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\"}]}",
               "messages");
    expect_bad("{\"model\":\"m\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\","
               "\"content\":42}]}",
               "messages");
    expect_bad("{\"model\":\"m\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\","
               "\"content\":[\"text\"]}]}",
               "messages");
    expect_bad("{\"model\":\"m\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\","
               "\"content\":[{\"text\":\"no type\"}]}]}",
               "messages");
    expect_bad("{\"model\":\"m\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\","
               "\"content\":[{\"type\":\"video\"}]}]}",
               "messages");
    expect_bad("{\"model\":\"m\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\","
               "\"content\":[{\"type\":\"text\",\"text\":7}]}]}",
               "messages");
    expect_bad("{\"model\":\"m\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\","
               "\"content\":[{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"n\",\"input\":{}}]}]}",
               "messages");
    expect_bad("{\"model\":\"m\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\","
               "\"content\":[{\"type\":\"image\",\"source\":{\"type\":\"file\","
               "\"file_id\":\"f\"}}]}]}",
               "messages");
    expect_bad("{\"model\":\"m\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\","
               "\"content\":[{\"type\":\"tool_result\",\"content\":\"x\"}]}]}",
               "messages");
    expect_bad("{\"model\":\"m\",\"max_tokens\":10,\"messages\":[{\"role\":\"assistant\","
               "\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t\"}]}]}",
               "messages");
    expect_bad("{\"model\":\"m\",\"max_tokens\":10,\"system\":42," MSGS "}", "system");
    expect_bad("{\"model\":\"m\",\"max_tokens\":10,\"system\":[{\"type\":\"image\"}]," MSGS "}",
               "system");
    expect_bad("{\"model\":\"m\",\"max_tokens\":10,\"tools\":[{\"description\":\"x\","
               "\"input_schema\":{}}]," MSGS "}",
               "tools");
    expect_bad("{\"model\":\"m\",\"max_tokens\":10,\"tools\":[{\"type\":\"web_search_20250305\","
               "\"name\":\"web_search\"}]," MSGS "}",
               "tools");
    expect_bad("{\"model\":\"m\",\"max_tokens\":10,\"tools\":[{\"name\":\"t\","
               "\"input_schema\":{}}],\"tool_choice\":{\"type\":\"tool\"}," MSGS "}",
               "tool_choice");
    expect_bad("{\"model\":\"m\",\"max_tokens\":10,\"tools\":[{\"name\":\"t\","
               "\"input_schema\":{}}],\"tool_choice\":{\"type\":\"sometimes\"}," MSGS "}",
               "tool_choice");
    expect_bad("{\"model\":\"m\",\"max_tokens\":10,\"temperature\":\"hot\"," MSGS "}",
               "temperature");
    expect_bad("{\"model\":\"m\",\"max_tokens\":10,\"stop_sequences\":[1]," MSGS "}",
               "stop_sequences");
    expect_bad("[1,2]", NULL);
}

static void test_error_message_points_at_the_field(void **state)
{
    (void)state;
    json_t *req = parse("{\"model\":\"m\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\","
                        "\"content\":\"a\"},{\"role\":\"robot\",\"content\":\"b\"}]}");
    char err[256];
    const char *param = NULL;
    assert_null(lx_messages_to_openai(req, err, sizeof err, &param));
    assert_string_equal(param, "messages");
    assert_non_null(strstr(err, "messages.1.role"));
    json_decref(req);
}

/* ---- request: mapping ---- */

static void test_scalars_pass_and_extras_drop(void **state)
{
    (void)state;
    json_t *oa = to_oa("{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1024,"
                       "\"temperature\":0.7,\"top_p\":0.9,\"top_k\":40,"
                       "\"stop_sequences\":[\"\\n\\nHuman:\",\"END\"],\"stream\":true,"
                       "\"metadata\":{\"user_id\":\"user-123\"},"
                       "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":2000},"
                       "\"service_tier\":\"auto\","
                       "\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}");
    assert_json_eq(oa, "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1024,"
                       "\"temperature\":0.7,\"top_p\":0.9,\"stop\":[\"\\n\\nHuman:\",\"END\"],"
                       "\"stream\":true,\"user\":\"user-123\","
                       "\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}");
    json_decref(oa);
}

static void test_system_string(void **state)
{
    (void)state;
    json_t *oa = to_oa("{\"model\":\"m\",\"max_tokens\":5,\"system\":\"You are terse.\","
                       "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}");
    assert_int_equal(json_array_size(json_object_get(oa, "messages")), 2);
    assert_json_eq(msg_at(oa, 0), "{\"role\":\"system\",\"content\":\"You are terse.\"}");
    assert_json_eq(msg_at(oa, 1), "{\"role\":\"user\",\"content\":\"Hi\"}");
    json_decref(oa);
}

static void test_system_blocks_with_cache_control(void **state)
{
    (void)state;
    json_t *oa = to_oa("{\"model\":\"m\",\"max_tokens\":5,\"system\":["
                       "{\"type\":\"text\",\"text\":\"You are Claude Code.\"},"
                       "{\"type\":\"text\",\"text\":\"Be careful.\","
                       "\"cache_control\":{\"type\":\"ephemeral\"}}],"
                       "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
                       "\"text\":\"Hi\",\"cache_control\":{\"type\":\"ephemeral\"}}]}]}");
    assert_json_eq(msg_at(oa, 0),
                   "{\"role\":\"system\",\"content\":\"You are Claude Code.\\nBe careful.\"}");
    /* a text-only message becomes string content; cache_control is gone */
    assert_json_eq(msg_at(oa, 1), "{\"role\":\"user\",\"content\":\"Hi\"}");
    json_decref(oa);
}

static void test_image_blocks_base64_and_url(void **state)
{
    (void)state;
    json_t *oa =
        to_oa("{\"model\":\"m\",\"max_tokens\":100,\"messages\":[{\"role\":\"user\",\"content\":["
              "{\"type\":\"text\",\"text\":\"Compare these two.\"},"
              "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\","
              "\"data\":\"iVBORw0KGgo=\"}},"
              "{\"type\":\"image\",\"source\":{\"type\":\"url\","
              "\"url\":\"https://example.com/cat.jpg\"}}]}]}");
    assert_json_eq(msg_at(oa, 0), "{\"role\":\"user\",\"content\":["
                                  "{\"type\":\"text\",\"text\":\"Compare these two.\"},"
                                  "{\"type\":\"image_url\",\"image_url\":{\"url\":"
                                  "\"data:image/png;base64,iVBORw0KGgo=\"}},"
                                  "{\"type\":\"image_url\",\"image_url\":{\"url\":"
                                  "\"https://example.com/cat.jpg\"}}]}");
    json_decref(oa);
}

static void test_multi_turn_tool_conversation(void **state)
{
    (void)state;
    json_t *oa = to_oa(
        "{\"model\":\"m\",\"max_tokens\":1024,\"system\":\"Use tools.\",\"messages\":["
        "{\"role\":\"user\",\"content\":\"Weather in Paris and the time in Tokyo?\"},"
        "{\"role\":\"assistant\",\"content\":["
        "{\"type\":\"thinking\",\"thinking\":\"two tools\",\"signature\":\"sig\"},"
        "{\"type\":\"text\",\"text\":\"I'll look both up.\"},"
        "{\"type\":\"tool_use\",\"id\":\"toolu_01A\",\"name\":\"get_weather\","
        "\"input\":{\"city\":\"Paris\",\"unit\":\"celsius\"}},"
        "{\"type\":\"tool_use\",\"id\":\"toolu_01B\",\"name\":\"get_time\","
        "\"input\":{\"tz\":\"Asia/Tokyo\"}}]},"
        "{\"role\":\"user\",\"content\":["
        "{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_01A\",\"content\":\"18C, cloudy\"},"
        "{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_01B\",\"content\":["
        "{\"type\":\"text\",\"text\":\"21:04\"},{\"type\":\"text\",\"text\":\"JST\"}]},"
        "{\"type\":\"text\",\"text\":\"Thanks, summarize please.\"}]},"
        "{\"role\":\"assistant\",\"content\":\"Paris: 18C. Tokyo: 21:04.\"},"
        "{\"role\":\"user\",\"content\":\"And tomorrow?\"}]}");
    assert_json_eq(
        json_object_get(oa, "messages"),
        "[{\"role\":\"system\",\"content\":\"Use tools.\"},"
        "{\"role\":\"user\",\"content\":\"Weather in Paris and the time in Tokyo?\"},"
        "{\"role\":\"assistant\",\"content\":\"I'll look both up.\",\"tool_calls\":["
        "{\"id\":\"toolu_01A\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
        "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\",\\\"unit\\\":\\\"celsius\\\"}\"}},"
        "{\"id\":\"toolu_01B\",\"type\":\"function\",\"function\":{\"name\":\"get_time\","
        "\"arguments\":\"{\\\"tz\\\":\\\"Asia/Tokyo\\\"}\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"toolu_01A\",\"content\":\"18C, cloudy\"},"
        "{\"role\":\"tool\",\"tool_call_id\":\"toolu_01B\",\"content\":\"21:04\\nJST\"},"
        "{\"role\":\"user\",\"content\":\"Thanks, summarize please.\"},"
        "{\"role\":\"assistant\",\"content\":\"Paris: 18C. Tokyo: 21:04.\"},"
        "{\"role\":\"user\",\"content\":\"And tomorrow?\"}]");
    /* the arguments string is exactly compact JSON of the input */
    const json_t *call = json_array_get(json_object_get(msg_at(oa, 2), "tool_calls"), 0);
    assert_string_equal(sget(json_object_get(call, "function"), "arguments"),
                        "{\"city\":\"Paris\",\"unit\":\"celsius\"}");
    json_decref(oa);
}

static void test_tool_only_assistant_and_result_only_user(void **state)
{
    (void)state;
    json_t *oa = to_oa("{\"model\":\"m\",\"max_tokens\":10,\"messages\":["
                       "{\"role\":\"user\",\"content\":\"ls\"},"
                       "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\","
                       "\"id\":\"call_1\",\"name\":\"bash\",\"input\":{}}]},"
                       "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\","
                       "\"tool_use_id\":\"call_1\",\"is_error\":true}]}]}");
    assert_json_eq(json_object_get(oa, "messages"),
                   "[{\"role\":\"user\",\"content\":\"ls\"},"
                   "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\","
                   "\"type\":\"function\",\"function\":{\"name\":\"bash\","
                   "\"arguments\":\"{}\"}}]},"
                   "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"\"}]");
    json_decref(oa);
}

static void test_image_inside_tool_result_follows_as_user_part(void **state)
{
    (void)state;
    json_t *oa = to_oa("{\"model\":\"m\",\"max_tokens\":10,\"messages\":["
                       "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\","
                       "\"tool_use_id\":\"t1\",\"content\":[{\"type\":\"text\",\"text\":\"shot\"},"
                       "{\"type\":\"image\",\"source\":{\"type\":\"base64\","
                       "\"media_type\":\"image/jpeg\",\"data\":\"AAAA\"}}]}]}]}");
    assert_json_eq(json_object_get(oa, "messages"),
                   "[{\"role\":\"tool\",\"tool_call_id\":\"t1\",\"content\":\"shot\"},"
                   "{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":"
                   "{\"url\":\"data:image/jpeg;base64,AAAA\"}}]}]");
    json_decref(oa);
}

#define TOOLS                                                                                      \
    "\"tools\":[{\"name\":\"get_weather\",\"description\":\"Current weather\","                    \
    "\"input_schema\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},"       \
    "\"required\":[\"city\"]},\"cache_control\":{\"type\":\"ephemeral\"}},"                        \
    "{\"name\":\"noop\",\"input_schema\":{\"type\":\"object\"}}]"

static void test_tools_and_tool_choice(void **state)
{
    (void)state;
    json_t *oa = to_oa("{\"model\":\"m\",\"max_tokens\":10," TOOLS "," MSGS "}");
    assert_json_eq(json_object_get(oa, "tools"),
                   "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
                   "\"description\":\"Current weather\",\"parameters\":{\"type\":\"object\","
                   "\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}}},"
                   "{\"type\":\"function\",\"function\":{\"name\":\"noop\","
                   "\"parameters\":{\"type\":\"object\"}}}]");
    assert_null(json_object_get(oa, "tool_choice"));
    assert_null(json_object_get(oa, "parallel_tool_calls"));
    json_decref(oa);

    static const struct {
        const char *choice, *want;
    } cases[] = {
        {"{\"type\":\"auto\"}", "\"auto\""},
        {"{\"type\":\"any\"}", "\"required\""},
        {"{\"type\":\"none\"}", "\"none\""},
        {"{\"type\":\"tool\",\"name\":\"get_weather\"}",
         "{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}"},
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(cases); i++) {
        char body[1024];
        snprintf(body, sizeof body,
                 "{\"model\":\"m\",\"max_tokens\":10,\"tool_choice\":%s," TOOLS "," MSGS "}",
                 cases[i].choice);
        oa = to_oa(body);
        json_t *want = json_loads(cases[i].want, JSON_DECODE_ANY, NULL);
        assert_true(json_equal(json_object_get(oa, "tool_choice"), want));
        json_decref(want);
        assert_null(json_object_get(oa, "parallel_tool_calls"));
        json_decref(oa);
    }

    oa = to_oa("{\"model\":\"m\",\"max_tokens\":10,\"tool_choice\":{\"type\":\"any\","
               "\"disable_parallel_tool_use\":true}," TOOLS "," MSGS "}");
    assert_string_equal(json_string_value(json_object_get(oa, "tool_choice")), "required");
    assert_true(json_is_false(json_object_get(oa, "parallel_tool_calls")));
    json_decref(oa);

    /* without tools, OpenAI would reject tool_choice: it is dropped */
    oa = to_oa("{\"model\":\"m\",\"max_tokens\":10,\"tool_choice\":{\"type\":\"auto\","
               "\"disable_parallel_tool_use\":true}," MSGS "}");
    assert_null(json_object_get(oa, "tool_choice"));
    assert_null(json_object_get(oa, "parallel_tool_calls"));
    assert_null(json_object_get(oa, "tools"));
    json_decref(oa);
}

/* ---- whole answer ---- */

static json_t *from_oa(const char *completion, const lx_tokens_t *usage)
{
    json_t *c = parse(completion);
    json_t *m = lx_messages_from_openai(c, "claude-via-gpt", usage);
    json_decref(c);
    return m;
}

static void test_from_openai_text(void **state)
{
    (void)state;
    lx_tokens_t u = {.in = 25, .out = 7, .cached = 0};
    json_t *m = from_oa("{\"id\":\"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT\","
                        "\"object\":\"chat.completion\",\"created\":1741569952,"
                        "\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,"
                        "\"message\":{\"role\":\"assistant\",\"content\":\"Hello! How can I "
                        "help?\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
                        "\"usage\":{\"prompt_tokens\":25,\"completion_tokens\":7}}",
                        &u);
    assert_json_eq(m, "{\"id\":\"msg_B9MBs8CjcvOU2jLn4n570S5qMJKcT\",\"type\":\"message\","
                      "\"role\":\"assistant\",\"model\":\"claude-via-gpt\",\"content\":["
                      "{\"type\":\"text\",\"text\":\"Hello! How can I help?\"}],"
                      "\"stop_reason\":\"end_turn\",\"stop_sequence\":null,"
                      "\"usage\":{\"input_tokens\":25,\"output_tokens\":7,"
                      "\"cache_read_input_tokens\":0,\"cache_creation_input_tokens\":0}}");
    json_decref(m);
}

static void test_from_openai_tool_calls(void **state)
{
    (void)state;
    lx_tokens_t u = {.in = 300, .out = 40, .cached = 256};
    json_t *m = from_oa(
        "{\"id\":\"gen-123\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
        "\"content\":null,\"tool_calls\":[{\"id\":\"call_abc\",\"type\":\"function\","
        "\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
        "{\"id\":\"call_def\",\"type\":\"function\",\"function\":{\"name\":\"broken\","
        "\"arguments\":\"{\\\"city\\\":\"}}]},\"finish_reason\":\"tool_calls\"}]}",
        &u);
    assert_json_eq(m, "{\"id\":\"msg_gen-123\",\"type\":\"message\",\"role\":\"assistant\","
                      "\"model\":\"claude-via-gpt\",\"content\":["
                      "{\"type\":\"tool_use\",\"id\":\"call_abc\",\"name\":\"get_weather\","
                      "\"input\":{\"city\":\"Paris\"}},"
                      "{\"type\":\"tool_use\",\"id\":\"call_def\",\"name\":\"broken\","
                      "\"input\":{}}],"
                      "\"stop_reason\":\"tool_use\",\"stop_sequence\":null,"
                      "\"usage\":{\"input_tokens\":44,\"output_tokens\":40,"
                      "\"cache_read_input_tokens\":256,\"cache_creation_input_tokens\":0}}");
    json_decref(m);

    /* text before the tool calls comes first */
    m = from_oa("{\"id\":\"x\",\"choices\":[{\"message\":{\"content\":\"Checking.\","
                "\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":"
                "\"f\",\"arguments\":\"{}\"}}]},\"finish_reason\":\"tool_calls\"}]}",
                NULL);
    const json_t *content = json_object_get(m, "content");
    assert_int_equal(json_array_size(content), 2);
    assert_string_equal(sget(json_array_get(content, 0), "type"), "text");
    assert_string_equal(sget(json_array_get(content, 1), "type"), "tool_use");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(m, "usage"), "input_tokens")), 0);
    json_decref(m);
}

static void test_from_openai_finish_reasons(void **state)
{
    (void)state;
    static const struct {
        const char *finish, *want;
    } cases[] = {
        {"\"stop\"", "end_turn"},       {"\"length\"", "max_tokens"},
        {"\"tool_calls\"", "tool_use"}, {"\"content_filter\"", "refusal"},
        {"null", "end_turn"},
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(cases); i++) {
        char body[256];
        snprintf(body, sizeof body,
                 "{\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
                 "\"assistant\",\"content\":\"x\"},\"finish_reason\":%s}]}",
                 cases[i].finish);
        json_t *m = from_oa(body, NULL);
        assert_string_equal(sget(m, "stop_reason"), cases[i].want);
        assert_true(json_is_null(json_object_get(m, "stop_sequence")));
        json_decref(m);
    }
}

static void test_from_openai_empty_content_is_empty_array(void **state)
{
    (void)state;
    json_t *m = from_oa("{\"id\":\"chatcmpl-e\",\"choices\":[{\"index\":0,\"message\":{"
                        "\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":\"length\"}]}",
                        NULL);
    assert_true(json_is_array(json_object_get(m, "content")));
    assert_int_equal(json_array_size(json_object_get(m, "content")), 0);
    assert_string_equal(sget(m, "stop_reason"), "max_tokens");
    json_decref(m);
}

/* ---- stream ---- */

/* Splits out into events; every event is "event: T\ndata: J" with J.type == T. */
static json_t *parse_sse(const lx_buf_t *out)
{
    json_t *events = json_array();
    const char *p = out->p ? out->p : "";
    const char *end = p + out->n;
    while (p < end) {
        const char *sep = strstr(p, "\n\n");
        assert_non_null(sep);
        size_t n = (size_t)(sep - p);
        assert_true(n > 7 && memcmp(p, "event: ", 7) == 0);
        const char *nl = memchr(p, '\n', n);
        assert_non_null(nl);
        size_t tn = (size_t)(nl - (p + 7));
        const char *data = nl + 1;
        assert_true((size_t)(sep - data) > 6 && memcmp(data, "data: ", 6) == 0);
        json_error_t je;
        json_t *j = json_loadb(data + 6, (size_t)(sep - data - 6), 0, &je);
        if (j == NULL)
            fail_msg("bad event JSON: %s", je.text);
        const char *type = sget(j, "type");
        assert_non_null(type);
        assert_int_equal(strlen(type), tn);
        assert_memory_equal(type, p + 7, tn);
        assert_null(strstr(type, "ping"));
        json_array_append_new(events, j);
        p = sep + 2;
    }
    assert_null(strstr(out->p ? out->p : "", "[DONE]"));
    return events;
}

/* What a client reassembles from a well-formed event sequence. */
typedef struct {
    int nblocks;
    char types[8][16];
    char ids[8][32];
    lx_buf_t data[8]; /* text or partial_json per block */
    const char *stop_reason;
    int64_t output_tokens;
    int max_open; /* most blocks open at the same time */
} replay_t;

static void replay_free(replay_t *r)
{
    for (int i = 0; i < 8; i++)
        lx_buf_free(&r->data[i]);
}

/* Checks the order rules of Anthropic's stream and reassembles the blocks. */
static void replay(const json_t *events, replay_t *r)
{
    memset(r, 0, sizeof *r);
    enum { NONE, OPEN, STOPPED } st[8] = {NONE};
    size_t n = json_array_size(events);
    assert_true(n >= 3);
    assert_string_equal(sget(json_array_get(events, 0), "type"), "message_start");
    assert_string_equal(sget(json_array_get(events, n - 2), "type"), "message_delta");
    assert_string_equal(sget(json_array_get(events, n - 1), "type"), "message_stop");
    int open = 0;
    for (size_t i = 1; i < n - 2; i++) {
        const json_t *ev = json_array_get(events, i);
        const char *type = sget(ev, "type");
        int idx = (int)json_integer_value(json_object_get(ev, "index"));
        assert_true(idx >= 0 && idx < 8);
        if (strcmp(type, "content_block_start") == 0) {
            assert_int_equal(idx, r->nblocks); /* 0, 1, 2... in creation order */
            assert_int_equal(st[idx], NONE);
            st[idx] = OPEN;
            r->nblocks++;
            open++;
            r->max_open = LX_MAX(r->max_open, open);
            const json_t *cb = json_object_get(ev, "content_block");
            snprintf(r->types[idx], sizeof r->types[idx], "%s", sget(cb, "type"));
            if (strcmp(r->types[idx], "tool_use") == 0) {
                snprintf(r->ids[idx], sizeof r->ids[idx], "%s", sget(cb, "id"));
                assert_non_null(sget(cb, "name"));
                assert_true(json_is_object(json_object_get(cb, "input")));
                assert_int_equal(json_object_size(json_object_get(cb, "input")), 0);
            } else {
                assert_string_equal(sget(cb, "text"), "");
            }
        } else if (strcmp(type, "content_block_delta") == 0) {
            assert_int_equal(st[idx], OPEN);
            const json_t *d = json_object_get(ev, "delta");
            const char *dt = sget(d, "type");
            const json_t *s;
            if (strcmp(r->types[idx], "text") == 0) {
                assert_string_equal(dt, "text_delta");
                s = json_object_get(d, "text");
            } else {
                assert_string_equal(dt, "input_json_delta");
                s = json_object_get(d, "partial_json");
            }
            assert_true(json_is_string(s));
            lx_buf_append(&r->data[idx], json_string_value(s), json_string_length(s));
        } else if (strcmp(type, "content_block_stop") == 0) {
            assert_int_equal(st[idx], OPEN);
            st[idx] = STOPPED;
            open--;
        } else {
            fail_msg("unexpected event %s in the middle of the stream", type);
        }
    }
    for (int i = 0; i < r->nblocks; i++)
        assert_int_equal(st[i], STOPPED);
    const json_t *md = json_array_get(events, n - 2);
    r->stop_reason = sget(json_object_get(md, "delta"), "stop_reason");
    assert_true(json_is_null(json_object_get(json_object_get(md, "delta"), "stop_sequence")));
    r->output_tokens =
        json_integer_value(json_object_get(json_object_get(md, "usage"), "output_tokens"));
}

static void feed(lx_msg_enc_t *e, const char *chunk, lx_buf_t *out)
{
    assert_int_equal(lx_msg_enc_chunk(e, chunk, strlen(chunk), out), LX_OK);
}

#define CH(delta_and_finish)                                                                       \
    "{\"id\":\"chatcmpl-9xyz\",\"object\":\"chat.completion.chunk\",\"created\":1741569952,"       \
    "\"model\":\"gpt-4o\",\"choices\":[{\"index\":0," delta_and_finish "}]}"

static void test_stream_text_and_interleaved_tools(void **state)
{
    (void)state;
    static const char *const chunks[] = {
        CH("\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},"
           "\"finish_reason\":null"),
        CH("\"delta\":{\"content\":\"Let me check \"},\"finish_reason\":null"),
        CH("\"delta\":{\"content\":\"both \\\"cities\\\".\\n\"},\"finish_reason\":null"),
        CH("\"delta\":{\"content\":\"\"},\"finish_reason\":null"),
        CH("\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_A\",\"type\":\"function\","
           "\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]},\"finish_reason\":null"),
        CH("\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":"
           "\"{\\\"city\\\":\"}}]},\"finish_reason\":null"),
        CH("\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_B\",\"type\":\"function\","
           "\"function\":{\"name\":\"get_time\",\"arguments\":\"{\\\"tz\\\"\"}}]},"
           "\"finish_reason\":null"),
        CH("\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":"
           "\"\\\"Paris, {FR}\\\"}\"}}]},\"finish_reason\":null"),
        CH("\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":"
           "\":\\\"Europe/Paris\\\"}\"}}]},\"finish_reason\":null"),
        CH("\"delta\":{},\"finish_reason\":\"tool_calls\""),
        "{\"id\":\"chatcmpl-9xyz\",\"object\":\"chat.completion.chunk\",\"created\":1741569952,"
        "\"model\":\"gpt-4o\",\"choices\":[],\"usage\":{\"prompt_tokens\":120,"
        "\"completion_tokens\":42,\"total_tokens\":162,"
        "\"prompt_tokens_details\":{\"cached_tokens\":20}}}",
    };
    lx_msg_enc_t *e = lx_msg_enc_new("claude-sonnet-4-5", "msg_01XYZ", 118);
    lx_buf_t out;
    lx_buf_init(&out, 0);
    for (size_t i = 0; i < LX_ARRAY_LEN(chunks); i++)
        feed(e, chunks[i], &out);
    lx_tokens_t u = {.in = 120, .out = 42, .cached = 20};
    lx_msg_enc_finish(e, &u, &out);
    lx_msg_enc_free(e);

    json_t *events = parse_sse(&out);
    assert_json_eq(json_array_get(events, 0),
                   "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_01XYZ\","
                   "\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\","
                   "\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,"
                   "\"usage\":{\"input_tokens\":118,\"output_tokens\":0}}}");
    replay_t r;
    replay(events, &r);
    assert_int_equal(r.nblocks, 3);
    assert_string_equal(r.types[0], "text");
    assert_string_equal(r.types[1], "tool_use");
    assert_string_equal(r.types[2], "tool_use");
    assert_string_equal(r.data[0].p, "Let me check both \"cities\".\n");
    assert_string_equal(r.ids[1], "call_A");
    assert_string_equal(r.data[1].p, "{\"city\":\"Paris, {FR}\"}");
    assert_string_equal(r.ids[2], "call_B");
    assert_string_equal(r.data[2].p, "{\"tz\":\"Europe/Paris\"}");
    assert_string_equal(r.stop_reason, "tool_use");
    assert_int_equal(r.output_tokens, 42);
    /* The text block closed before the first tool started; the two tools
     * were open together only because their fragments interleave. */
    assert_int_equal(r.max_open, 2);
    const json_t *md = json_array_get(events, json_array_size(events) - 2);
    assert_json_eq(md, "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\","
                       "\"stop_sequence\":null},\"usage\":{\"input_tokens\":100,"
                       "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":20,"
                       "\"output_tokens\":42}}");
    assert_json_eq(json_array_get(events, json_array_size(events) - 1),
                   "{\"type\":\"message_stop\"}");
    /* the events in order: start, text, tool A, tool B, stops, delta, stop */
    static const char *const order[] = {
        "message_start",       "content_block_start", "content_block_delta", "content_block_delta",
        "content_block_stop",  "content_block_start", "content_block_delta", "content_block_start",
        "content_block_delta", "content_block_delta", "content_block_delta", "content_block_stop",
        "content_block_stop",  "message_delta",       "message_stop",
    };
    assert_int_equal(json_array_size(events), LX_ARRAY_LEN(order));
    for (size_t i = 0; i < LX_ARRAY_LEN(order); i++)
        assert_string_equal(sget(json_array_get(events, i), "type"), order[i]);
    replay_free(&r);
    json_decref(events);
    lx_buf_free(&out);
}

/* The usual OpenAI shape: tool calls one after the other (some servers
 * repeat id and name on every fragment). Blocks never overlap. */
static void test_stream_sequential_tools_do_not_overlap(void **state)
{
    (void)state;
    static const char *const chunks[] = {
        CH("\"delta\":{\"role\":\"assistant\",\"content\":null},\"finish_reason\":null"),
        CH("\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\","
           "\"function\":{\"name\":\"read\",\"arguments\":\"{\\\"path\\\":\"}}]}"),
        CH("\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\","
           "\"function\":{\"name\":\"read\",\"arguments\":\"\\\"a}.txt\\\"}\"}}]}"),
        CH("\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_2\",\"type\":\"function\","
           "\"function\":{\"name\":\"read\",\"arguments\":\"{\\\"path\\\":\\\"b.txt\\\"}\"}}]}"),
        /* a stray fragment for the finished first tool: no delta for a stopped block */
        CH("\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\" \"}}]}"),
        CH("\"delta\":{\"content\":\"Reading.\"}"),
        CH("\"delta\":{},\"finish_reason\":\"stop\""),
    };
    lx_msg_enc_t *e = lx_msg_enc_new("m", "chatcmpl-abc", 10);
    lx_buf_t out;
    lx_buf_init(&out, 0);
    for (size_t i = 0; i < LX_ARRAY_LEN(chunks); i++)
        feed(e, chunks[i], &out);
    lx_tokens_t u = {.out = 17};
    lx_msg_enc_finish(e, &u, &out);
    lx_msg_enc_free(e);

    json_t *events = parse_sse(&out);
    assert_string_equal(sget(json_object_get(json_array_get(events, 0), "message"), "id"),
                        "msg_abc");
    replay_t r;
    replay(events, &r);
    assert_int_equal(r.nblocks, 3);
    assert_int_equal(r.max_open, 1);
    assert_string_equal(r.data[0].p, "{\"path\":\"a}.txt\"}");
    assert_string_equal(r.data[1].p, "{\"path\":\"b.txt\"}");
    assert_string_equal(r.types[2], "text");
    assert_string_equal(r.data[2].p, "Reading.");
    /* finish_reason "stop" with tool calls still asks the client to run them */
    assert_string_equal(r.stop_reason, "tool_use");
    assert_int_equal(r.output_tokens, 17);
    /* the input count was not known: message_delta does not invent one */
    const json_t *usage =
        json_object_get(json_array_get(events, json_array_size(events) - 2), "usage");
    assert_null(json_object_get(usage, "input_tokens"));
    replay_free(&r);
    json_decref(events);
    lx_buf_free(&out);
}

static void test_stream_finish_reasons(void **state)
{
    (void)state;
    static const struct {
        const char *finish, *want;
    } cases[] = {
        {"stop", "end_turn"},
        {"length", "max_tokens"},
        {"content_filter", "refusal"},
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(cases); i++) {
        char chunk[512];
        snprintf(chunk, sizeof chunk, CH("\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"%s\""),
                 cases[i].finish);
        lx_msg_enc_t *e = lx_msg_enc_new("m", "msg_1", 0);
        lx_buf_t out;
        lx_buf_init(&out, 0);
        feed(e, chunk, &out);
        lx_msg_enc_finish(e, NULL, &out);
        lx_msg_enc_free(e);
        json_t *events = parse_sse(&out);
        replay_t r;
        replay(events, &r);
        assert_string_equal(r.stop_reason, cases[i].want);
        assert_string_equal(r.data[0].p, "hi");
        replay_free(&r);
        json_decref(events);
        lx_buf_free(&out);
    }
}

static void test_stream_finish_without_chunks(void **state)
{
    (void)state;
    lx_msg_enc_t *e = lx_msg_enc_new("claude-haiku", "msg_empty", 9);
    lx_buf_t out;
    lx_buf_init(&out, 0);
    lx_tokens_t u = {0};
    lx_msg_enc_finish(e, &u, &out);
    lx_msg_enc_finish(e, &u, &out); /* a second finish adds nothing */
    lx_msg_enc_free(e);
    json_t *events = parse_sse(&out);
    assert_int_equal(json_array_size(events), 3);
    replay_t r;
    replay(events, &r);
    assert_int_equal(r.nblocks, 0);
    assert_string_equal(r.stop_reason, "end_turn");
    assert_int_equal(r.output_tokens, 0);
    assert_string_equal(sget(json_object_get(json_array_get(events, 0), "message"), "model"),
                        "claude-haiku");
    replay_free(&r);
    json_decref(events);
    lx_buf_free(&out);
}

static void test_stream_error_mid_stream(void **state)
{
    (void)state;
    lx_msg_enc_t *e = lx_msg_enc_new("m", "msg_err", 3);
    lx_buf_t out;
    lx_buf_init(&out, 0);
    feed(e, CH("\"delta\":{\"role\":\"assistant\",\"content\":\"Partial\"}"), &out);
    lx_msg_enc_error(e, "overloaded_error", "upstream said \"busy\"", &out);
    /* nothing after the error: no normal end is faked */
    feed(e, CH("\"delta\":{\"content\":\"late\"}"), &out);
    lx_msg_enc_finish(e, NULL, &out);
    lx_msg_enc_free(e);
    json_t *events = parse_sse(&out);
    size_t n = json_array_size(events);
    assert_int_equal(n, 4);
    assert_string_equal(sget(json_array_get(events, 0), "type"), "message_start");
    assert_string_equal(sget(json_array_get(events, 1), "type"), "content_block_start");
    assert_string_equal(sget(json_array_get(events, 2), "type"), "content_block_delta");
    assert_json_eq(json_array_get(events, 3),
                   "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
                   "\"message\":\"upstream said \\\"busy\\\"\"}}");
    json_decref(events);
    lx_buf_free(&out);

    /* an error before any chunk still opens the message first */
    e = lx_msg_enc_new("m", "msg_err2", 3);
    lx_buf_init(&out, 0);
    lx_msg_enc_error(e, "api_error", "connect failed", &out);
    lx_msg_enc_free(e);
    events = parse_sse(&out);
    assert_int_equal(json_array_size(events), 2);
    assert_string_equal(sget(json_array_get(events, 0), "type"), "message_start");
    assert_string_equal(sget(json_array_get(events, 1), "type"), "error");
    json_decref(events);
    lx_buf_free(&out);
}

static void test_stream_rejects_garbage_chunk(void **state)
{
    (void)state;
    lx_msg_enc_t *e = lx_msg_enc_new("m", "msg_g", 0);
    lx_buf_t out;
    lx_buf_init(&out, 0);
    assert_int_equal(lx_msg_enc_chunk(e, "{not json", 9, &out), LX_ERROR);
    assert_int_equal(out.n, 0);
    lx_msg_enc_free(e);
    lx_buf_free(&out);
}

/* Counts from an upstream chunk or a caller are clamped: never negative,
 * never past LX_TOKENS_MAX, no overflow in input - cached. */
static void test_hostile_usage_is_clamped(void **state)
{
    (void)state;
    lx_msg_enc_t *e = lx_msg_enc_new("claude-x", "msg_h", 10);
    lx_buf_t out;
    lx_buf_init(&out, 0);
    feed(e, CH("\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\""), &out);
    feed(e,
         "{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"g\","
         "\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":"
         "9223372036854775807,\"prompt_tokens_details\":{\"cached_tokens\":"
         "-9223372036854775807}}}",
         &out);
    lx_msg_enc_finish(e, NULL, &out);
    lx_msg_enc_free(e);
    json_t *events = parse_sse(&out);
    assert_json_eq(json_object_get(json_array_get(events, json_array_size(events) - 2), "usage"),
                   "{\"input_tokens\":5,\"cache_creation_input_tokens\":0,"
                   "\"cache_read_input_tokens\":0,\"output_tokens\":1000000000}");
    json_decref(events);
    lx_buf_free(&out);

    lx_tokens_t u = {.in = 5, .out = -1, .cached = -9223372036854775807LL};
    json_t *m = from_oa("{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,"
                        "\"model\":\"g\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
                        "\"assistant\",\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}",
                        &u);
    assert_json_eq(json_object_get(m, "usage"),
                   "{\"input_tokens\":5,\"output_tokens\":0,\"cache_read_input_tokens\":0,"
                   "\"cache_creation_input_tokens\":0}");
    json_decref(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validation_errors_name_the_param),
        cmocka_unit_test(test_hostile_usage_is_clamped),
        cmocka_unit_test(test_error_message_points_at_the_field),
        cmocka_unit_test(test_scalars_pass_and_extras_drop),
        cmocka_unit_test(test_system_string),
        cmocka_unit_test(test_system_blocks_with_cache_control),
        cmocka_unit_test(test_image_blocks_base64_and_url),
        cmocka_unit_test(test_multi_turn_tool_conversation),
        cmocka_unit_test(test_tool_only_assistant_and_result_only_user),
        cmocka_unit_test(test_image_inside_tool_result_follows_as_user_part),
        cmocka_unit_test(test_tools_and_tool_choice),
        cmocka_unit_test(test_from_openai_text),
        cmocka_unit_test(test_from_openai_tool_calls),
        cmocka_unit_test(test_from_openai_finish_reasons),
        cmocka_unit_test(test_from_openai_empty_content_is_empty_array),
        cmocka_unit_test(test_stream_text_and_interleaved_tools),
        cmocka_unit_test(test_stream_sequential_tools_do_not_overlap),
        cmocka_unit_test(test_stream_finish_reasons),
        cmocka_unit_test(test_stream_finish_without_chunks),
        cmocka_unit_test(test_stream_error_mid_stream),
        cmocka_unit_test(test_stream_rejects_garbage_chunk),
    };
    return cmocka_run_group_tests_name("adapters/messages_fmt", tests, NULL, NULL);
}
