/* test_anthropic.c - unit tests for src/ai/adapters/anthropic.c (the
 * Anthropic Messages adapter).
 *
 * Requests are built from realistic OpenAI chat requests and the resulting
 * Messages bodies compared field by field (json_equal against hand-written
 * expectations). Answers and streams are recorded Anthropic payloads (the
 * shapes of the public API docs and of bench/mock/anthropic.c); streams go
 * through the real SSE parser (src/ai/sse.c) in small odd-sized feeds, as
 * they would from curl, and every emitted chunk must be a valid
 * chat.completion.chunk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ai/adapter.h"
#include "ai/sse.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const lx_adapter_t *A = &lx_adapter_anthropic;

/* ---- helpers ---- */

static json_t *load(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (j == NULL)
        fail_msg("bad JSON in test: %s (%s)", je.text, text);
    return j;
}

/* Asserts that actual equals the JSON in expected (borrowed actual). */
static void assert_json(const json_t *actual, const char *expected)
{
    json_t *e = load(expected);
    if (!json_equal((json_t *)actual, e)) {
        char *a = json_dumps(actual, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        char *x = json_dumps(e, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        print_error("actual:   %s\nexpected: %s\n", a ? a : "(null)", x);
        free(a);
        free(x);
        json_decref(e);
        fail();
    }
    json_decref(e);
}

/* The provider fixture: a stack conf as config.c would fill it. */
typedef struct {
    lx_provider_conf_t conf;
    char name[16], base_url[64], key[64], hname[32], hval[32];
} fixture_t;

static void fixture_init(fixture_t *f, const char *base_url, const char *key)
{
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "anthropic");
    snprintf(f->base_url, sizeof f->base_url, "%s", base_url);
    f->conf.name = f->name;
    f->conf.kind = LX_PROVIDER_ANTHROPIC;
    f->conf.base_url = f->base_url;
    if (key) {
        snprintf(f->key, sizeof f->key, "%s", key);
        f->conf.api_key = f->key;
    }
}

static void fixture_header(fixture_t *f, const char *name, const char *value)
{
    snprintf(f->hname, sizeof f->hname, "%s", name);
    snprintf(f->hval, sizeof f->hval, "%s", value);
    f->conf.header_names[0] = f->hname;
    f->conf.header_values[0] = f->hval;
    f->conf.nheaders = 1;
}

/* Builds req (JSON text) for a default provider; returns the upstream body
 * parsed, or NULL with err filled when chat_build refused. */
static json_t *build(const char *req_text, bool stream, char *err, size_t errlen)
{
    fixture_t f;
    fixture_init(&f, "https://api.anthropic.com", "sk-ant-test");
    json_t *req = load(req_text);
    lx_up_build_t b;
    lx_up_build_init(&b);
    err[0] = '\0';
    int rc = A->chat_build(&f.conf, req, stream, &b, err, errlen);
    json_decref(req);
    json_t *body = NULL;
    if (rc == LX_OK) {
        assert_int_equal(err[0], '\0');
        body = json_loadb(b.body.p, b.body.n, 0, NULL);
        assert_non_null(body);
    } else {
        assert_int_equal(rc, LX_ERROR);
        assert_int_equal(b.body.n, 0);
        assert_true(strlen(err) > 0);
    }
    lx_up_build_free(&b);
    return body;
}

static json_t *build_ok(const char *req_text)
{
    char err[256];
    json_t *body = build(req_text, false, err, sizeof err);
    if (body == NULL)
        fail_msg("chat_build refused: %s", err);
    return body;
}

/* Asserts chat_build refuses req and that err contains frag (and frag2
 * unless NULL). */
static void build_fails(const char *req_text, const char *frag, const char *frag2)
{
    char err[256];
    json_t *body = build(req_text, false, err, sizeof err);
    if (body != NULL) {
        json_decref(body);
        fail_msg("chat_build accepted %s", req_text);
    }
    if (strstr(err, frag) == NULL || (frag2 && strstr(err, frag2) == NULL))
        fail_msg("err \"%s\" lacks \"%s\" / \"%s\"", err, frag, frag2 ? frag2 : "");
}

/* ---- adapter table ---- */

static void test_vtable_text_and_errors_only(void **state)
{
    (void)state;
    assert_string_equal(A->name, "anthropic");
    assert_non_null(A->chat_build);
    assert_non_null(A->chat_parse);
    assert_non_null(A->stream_new);
    assert_non_null(A->stream_event);
    assert_non_null(A->stream_free);
    assert_non_null(A->error_message);
    assert_null(A->embed_build); /* no embeddings API at Anthropic */
    assert_null(A->embed_parse);
    assert_ptr_equal(lx_adapter_for(LX_PROVIDER_ANTHROPIC), A);
}

/* ---- chat_build: transport ---- */

static void test_build_url_and_headers(void **state)
{
    (void)state;
    fixture_t f;
    fixture_init(&f, "https://api.anthropic.com", "sk-ant-api03-secret");
    fixture_header(&f, "anthropic-beta", "prompt-caching-2024-07-31");
    json_t *req = load("{\"model\":\"claude-sonnet-4-20250514\","
                       "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}");
    lx_up_build_t b;
    lx_up_build_init(&b);
    char err[128] = "";
    assert_int_equal(A->chat_build(&f.conf, req, false, &b, err, sizeof err), LX_OK);
    assert_string_equal(b.url.p, "https://api.anthropic.com/v1/messages");
    assert_int_equal(b.nheaders, 4);
    assert_string_equal(b.headers[0], "Content-Type: application/json");
    assert_string_equal(b.headers[1], "x-api-key: sk-ant-api03-secret");
    assert_string_equal(b.headers[2], "anthropic-version: 2023-06-01");
    assert_string_equal(b.headers[3], "anthropic-beta: prompt-caching-2024-07-31");
    for (int i = 0; i < b.nheaders; i++)
        assert_null(strstr(b.headers[i], "Authorization")); /* not the OpenAI scheme */
    lx_up_build_free(&b);
    json_decref(req);
}

static void test_build_keyless_trailing_slash_and_version_override(void **state)
{
    (void)state;
    fixture_t f;
    fixture_init(&f, "http://127.0.0.1:9999/", NULL);
    fixture_header(&f, "Anthropic-Version", "2024-01-01");
    json_t *req = load("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}");
    lx_up_build_t b;
    lx_up_build_init(&b);
    char err[128] = "";
    assert_int_equal(A->chat_build(&f.conf, req, true, &b, err, sizeof err), LX_OK);
    assert_string_equal(b.url.p, "http://127.0.0.1:9999/v1/messages");
    assert_int_equal(b.nheaders, 2);
    assert_string_equal(b.headers[0], "Content-Type: application/json");
    assert_string_equal(b.headers[1], "Anthropic-Version: 2024-01-01");
    lx_up_build_free(&b);
    json_decref(req);
}

/* ---- chat_build: body ---- */

static void test_build_minimal_body_and_max_tokens_default(void **state)
{
    (void)state;
    json_t *body = build_ok("{\"model\":\"claude-3-5-haiku-20241022\","
                            "\"messages\":[{\"role\":\"user\",\"content\":\"Hello, Claude\"}]}");
    assert_json(body, "{\"model\":\"claude-3-5-haiku-20241022\",\"max_tokens\":4096,"
                      "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
                      "\"text\":\"Hello, Claude\"}]}]}");
    json_decref(body);
}

static void test_build_max_tokens_sources(void **state)
{
    (void)state;
    json_t *b = build_ok("{\"model\":\"m\",\"max_tokens\":300,"
                         "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    assert_int_equal(json_integer_value(json_object_get(b, "max_tokens")), 300);
    json_decref(b);
    b = build_ok("{\"model\":\"m\",\"max_tokens\":300,\"max_completion_tokens\":1024,"
                 "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    assert_int_equal(json_integer_value(json_object_get(b, "max_tokens")), 1024);
    json_decref(b);
    b = build_ok("{\"model\":\"m\",\"max_tokens\":null,"
                 "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    assert_int_equal(json_integer_value(json_object_get(b, "max_tokens")), 4096);
    json_decref(b);
    build_fails("{\"model\":\"m\",\"max_tokens\":0,\"messages\":[]}", "max_tokens", NULL);
    build_fails("{\"model\":\"m\",\"max_tokens\":\"100\",\"messages\":[]}", "max_tokens", NULL);
    build_fails("{\"model\":\"m\",\"max_tokens\":9223372036854775807,\"messages\":[]}",
                "max_tokens", NULL);
    build_fails("{\"model\":\"m\",\"max_completion_tokens\":1000000001,\"messages\":[]}",
                "max_completion_tokens", NULL);
}

static void test_build_system_and_developer_merged(void **state)
{
    (void)state;
    json_t *body =
        build_ok("{\"model\":\"m\",\"messages\":["
                 "{\"role\":\"system\",\"content\":\"You are a terse assistant.\"},"
                 "{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"Answer in "
                 "French.\"},{\"type\":\"text\",\"text\":\"Never use emoji.\"}]},"
                 "{\"role\":\"user\",\"content\":\"What is the capital of Italy?\"},"
                 "{\"role\":\"system\",\"content\":\"Be precise.\"}]}");
    assert_string_equal(json_string_value(json_object_get(body, "system")),
                        "You are a terse assistant.\n\nAnswer in French.\n\nNever use "
                        "emoji.\n\nBe precise.");
    assert_json(json_object_get(body, "messages"),
                "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What is the "
                "capital of Italy?\"}]}]");
    json_decref(body);
    build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":[{\"type\":"
                "\"image_url\",\"image_url\":{\"url\":\"https://x/y.png\"}}]}]}",
                "messages[0].content[0]", "user messages");
}

static void test_build_consecutive_roles_merged(void **state)
{
    (void)state;
    json_t *body =
        build_ok("{\"model\":\"m\",\"messages\":["
                 "{\"role\":\"user\",\"content\":\"First question.\"},"
                 "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Second part.\"}]},"
                 "{\"role\":\"assistant\",\"content\":\"Answer one.\"},"
                 "{\"role\":\"assistant\",\"content\":\"Answer two.\"},"
                 "{\"role\":\"user\",\"content\":\"\"},"
                 "{\"role\":\"user\",\"content\":\"Thanks!\"}]}");
    assert_json(json_object_get(body, "messages"),
                "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"First "
                "question.\"},{\"type\":\"text\",\"text\":\"Second part.\"}]},"
                "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"Answer "
                "one.\"},{\"type\":\"text\",\"text\":\"Answer two.\"}]},"
                "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Thanks!\"}]}]");
    json_decref(body);
}

static void test_build_images_base64_and_url(void **state)
{
    (void)state;
    json_t *body = build_ok(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":["
        "{\"type\":\"text\",\"text\":\"Compare these.\"},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,"
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5E"
        "rkJggg==\",\"detail\":\"high\"}},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://upload.wikimedia.org/a/b/"
        "Ant.jpg\"}}]}]}");
    assert_json(json_object_get(body, "messages"),
                "[{\"role\":\"user\",\"content\":["
                "{\"type\":\"text\",\"text\":\"Compare these.\"},"
                "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\","
                "\"data\":\"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+"
                "M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==\"}},"
                "{\"type\":\"image\",\"source\":{\"type\":\"url\",\"url\":\"https://"
                "upload.wikimedia.org/a/b/Ant.jpg\"}}]}]");
    json_decref(body);
}

static void test_build_bad_images_and_parts_rejected(void **state)
{
    (void)state;
    build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
                "\"text\":\"x\"},{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/"
                "png,rawbytes\"}}]}]}",
                "messages[0].content[1]", "base64");
    build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
                "\"image_url\",\"image_url\":{\"url\":\"data:image/tiff;base64,AAAA\"}}]}]}",
                "image/tiff", "messages[0].content[0]");
    build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
                "\"image_url\",\"image_url\":{\"url\":\"file:///etc/passwd\"}}]}]}",
                "messages[0].content[0]", "http");
    build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":"
                "\"assistant\",\"content\":\"ok\"},{\"role\":\"user\",\"content\":[{\"type\":"
                "\"input_audio\",\"input_audio\":{\"data\":\"AAAA\",\"format\":\"wav\"}}]}]}",
                "messages[2].content[0]", "input_audio");
    build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"function\",\"name\":\"f\","
                "\"content\":\"1\"}]}",
                "messages[0].role", "function");
    build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":42}]}",
                "messages[0].content", NULL);
    build_fails("{\"model\":\"m\",\"n\":2,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                "n > 1", NULL);
    build_fails("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "model", NULL);
}

static const char *const TOOL_ROUND_TRIP =
    "{\"model\":\"claude-sonnet-4-20250514\",\"messages\":["
    "{\"role\":\"user\",\"content\":\"What's the weather in Paris and in Tokyo?\"},"
    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
    "{\"id\":\"toolu_01A09q90qw90lq917835lq9\",\"type\":\"function\",\"function\":{\"name\":"
    "\"get_weather\",\"arguments\":\"{\\\"location\\\":\\\"Paris\\\",\\\"unit\\\":"
    "\\\"celsius\\\"}\"}},"
    "{\"id\":\"toolu_01B\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
    "\"arguments\":\"{\\\"location\\\": \\\"Tokyo\\\"}\"}}]},"
    "{\"role\":\"tool\",\"tool_call_id\":\"toolu_01A09q90qw90lq917835lq9\",\"content\":"
    "\"15 degrees\"},"
    "{\"role\":\"tool\",\"tool_call_id\":\"toolu_01B\",\"content\":[{\"type\":\"text\",\"text\":"
    "\"22 degrees\"}]},"
    "{\"role\":\"user\",\"content\":\"Which is warmer?\"}],"
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":"
    "\"Get the current weather in a given location\",\"parameters\":{\"type\":\"object\","
    "\"properties\":{\"location\":{\"type\":\"string\"},\"unit\":{\"type\":\"string\",\"enum\":"
    "[\"celsius\",\"fahrenheit\"]}},\"required\":[\"location\"]}}},"
    "{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}}]}";

static void test_build_tool_round_trip(void **state)
{
    (void)state;
    json_t *body = build_ok(TOOL_ROUND_TRIP);
    assert_json(json_object_get(body, "messages"),
                "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What's the "
                "weather in Paris and in Tokyo?\"}]},"
                "{\"role\":\"assistant\",\"content\":["
                "{\"type\":\"tool_use\",\"id\":\"toolu_01A09q90qw90lq917835lq9\",\"name\":"
                "\"get_weather\",\"input\":{\"location\":\"Paris\",\"unit\":\"celsius\"}},"
                "{\"type\":\"tool_use\",\"id\":\"toolu_01B\",\"name\":\"get_weather\",\"input\":"
                "{\"location\":\"Tokyo\"}}]},"
                "{\"role\":\"user\",\"content\":["
                "{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_01A09q90qw90lq917835lq9\","
                "\"content\":\"15 degrees\"},"
                "{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_01B\",\"content\":\"22 "
                "degrees\"},"
                "{\"type\":\"text\",\"text\":\"Which is warmer?\"}]}]");
    assert_json(json_object_get(body, "tools"),
                "[{\"name\":\"get_weather\",\"description\":\"Get the current weather in a given "
                "location\",\"input_schema\":{\"type\":\"object\",\"properties\":{\"location\":{"
                "\"type\":\"string\"},\"unit\":{\"type\":\"string\",\"enum\":[\"celsius\","
                "\"fahrenheit\"]}},\"required\":[\"location\"]}},"
                "{\"name\":\"get_time\",\"input_schema\":{\"type\":\"object\"}}]");
    assert_null(json_object_get(body, "tool_choice"));
    json_decref(body);
}

static void test_build_assistant_text_then_tool_use_and_result_first(void **state)
{
    (void)state;
    /* A user note that arrives before the tool result must not precede it:
     * Anthropic wants tool_result blocks first in the user turn. */
    json_t *body = build_ok(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"time?\"},"
        "{\"role\":\"assistant\",\"content\":\"Let me check.\",\"tool_calls\":[{\"id\":\"t1\","
        "\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":\"\"}}]},"
        "{\"role\":\"user\",\"content\":\"hurry\"},"
        "{\"role\":\"tool\",\"tool_call_id\":\"t1\",\"content\":\"\"}]}");
    assert_json(json_object_get(body, "messages"),
                "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"time?\"}]},"
                "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"Let me "
                "check.\"},{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"get_time\",\"input\":"
                "{}}]},"
                "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":"
                "\"t1\"},{\"type\":\"text\",\"text\":\"hurry\"}]}]");
    json_decref(body);
}

static void test_build_invalid_tool_arguments(void **state)
{
    (void)state;
    build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"},"
                "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"t1\",\"type\":\"function\","
                "\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":\"}}]}]}",
                "messages[1].tool_calls[0].function.arguments", "JSON");
    build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"},"
                "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"t1\",\"type\":\"function\","
                "\"function\":{\"name\":\"f\",\"arguments\":\"[1,2]\"}}]}]}",
                "messages[1].tool_calls[0].function.arguments", NULL);
    build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"tool\",\"content\":\"x\"}]}",
                "messages[0].tool_call_id", NULL);
    build_fails("{\"model\":\"m\",\"messages\":[],\"tools\":[{\"type\":\"code_interpreter\"}]}",
                "tools[0]", "code_interpreter");
}

static void test_build_tool_choice_mapping(void **state)
{
    (void)state;
    static const struct {
        const char *choice; /* JSON, or NULL for none given */
        const char *parallel;
        const char *expected; /* JSON, or NULL for no tool_choice */
    } cases[] = {
        {"\"auto\"", NULL, "{\"type\":\"auto\"}"},
        {"\"required\"", NULL, "{\"type\":\"any\"}"},
        {"\"none\"", NULL, "{\"type\":\"none\"}"},
        {"{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}", NULL,
         "{\"type\":\"tool\",\"name\":\"get_weather\"}"},
        {"\"auto\"", "false", "{\"type\":\"auto\",\"disable_parallel_tool_use\":true}"},
        {"\"required\"", "false", "{\"type\":\"any\",\"disable_parallel_tool_use\":true}"},
        {"{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}", "false",
         "{\"type\":\"tool\",\"name\":\"get_weather\",\"disable_parallel_tool_use\":true}"},
        {"\"none\"", "false", "{\"type\":\"none\"}"},
        {NULL, "false", "{\"type\":\"auto\",\"disable_parallel_tool_use\":true}"},
        {NULL, "true", NULL},
        {"\"auto\"", "true", "{\"type\":\"auto\"}"},
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(cases); i++) {
        char req[768];
        snprintf(req, sizeof req,
                 "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                 "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
                 "\"parameters\":{\"type\":\"object\"}}}]%s%s%s%s}",
                 cases[i].choice ? ",\"tool_choice\":" : "", cases[i].choice ? cases[i].choice : "",
                 cases[i].parallel ? ",\"parallel_tool_calls\":" : "",
                 cases[i].parallel ? cases[i].parallel : "");
        json_t *body = build_ok(req);
        json_t *tc = json_object_get(body, "tool_choice");
        if (cases[i].expected == NULL)
            assert_null(tc);
        else
            assert_json(tc, cases[i].expected);
        json_decref(body);
    }
    /* No tools: a tool_choice has nothing to choose from and is left out. */
    json_t *body = build_ok("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                            "\"tool_choice\":\"none\"}");
    assert_null(json_object_get(body, "tool_choice"));
    assert_null(json_object_get(body, "tools"));
    json_decref(body);
    build_fails("{\"model\":\"m\",\"messages\":[],\"tools\":[{\"type\":\"function\",\"function\":"
                "{\"name\":\"f\"}}],\"tool_choice\":\"sometimes\"}",
                "tool_choice", NULL);
}

static void test_build_sampling_stop_stream_user(void **state)
{
    (void)state;
    char err[128];
    const char *req = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"Count\"}],"
                      "\"temperature\":0.5,\"top_p\":0.9,\"stop\":[\"\\n\\nHuman:\",\"END\"],"
                      "\"user\":\"user-1234\",\"stream\":true,\"stream_options\":"
                      "{\"include_usage\":true},\"frequency_penalty\":0.1}";
    json_t *body = build(req, true, err, sizeof err);
    assert_non_null(body);
    assert_json(body, "{\"model\":\"m\",\"max_tokens\":4096,\"messages\":[{\"role\":\"user\","
                      "\"content\":[{\"type\":\"text\",\"text\":\"Count\"}]}],"
                      "\"stop_sequences\":[\"\\n\\nHuman:\",\"END\"],\"temperature\":0.5,"
                      "\"top_p\":0.9,\"metadata\":{\"user_id\":\"user-1234\"},\"stream\":true}");
    json_decref(body);
    /* Not streaming: no "stream" even if the client's body said so. */
    body = build(req, false, err, sizeof err);
    assert_null(json_object_get(body, "stream"));
    json_decref(body);
    body = build_ok("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                    "\"stop\":\"###\"}");
    assert_json(json_object_get(body, "stop_sequences"), "[\"###\"]");
    json_decref(body);
    build_fails("{\"model\":\"m\",\"messages\":[],\"stop\":[\"a\",1]}", "stop[1]", NULL);
}

/* ---- chat_parse ---- */

static json_t *parse_ok(const char *body, const char *model, lx_tokens_t *tok)
{
    char err[128] = "";
    json_t *c = A->chat_parse(body, strlen(body), model, tok, err, sizeof err);
    if (c == NULL)
        fail_msg("chat_parse refused: %s", err);
    assert_string_equal(json_string_value(json_object_get(c, "object")), "chat.completion");
    assert_string_equal(json_string_value(json_object_get(c, "model")), model);
    json_int_t created = json_integer_value(json_object_get(c, "created"));
    assert_true(created > 1700000000 && created <= (json_int_t)time(NULL));
    assert_int_equal(json_array_size(json_object_get(c, "choices")), 1);
    return c;
}

static json_t *choice0(json_t *c)
{
    return json_array_get(json_object_get(c, "choices"), 0);
}

static void test_parse_text(void **state)
{
    (void)state;
    const char *body =
        "{\"id\":\"msg_013Zva2CMHLNnXjNJJKqJ2EF\",\"type\":\"message\",\"role\":\"assistant\","
        "\"model\":\"claude-sonnet-4-20250514\",\"content\":[{\"type\":\"text\",\"text\":\"Hi! "
        "My name is Claude.\"},{\"type\":\"text\",\"text\":\" How can I help?\"}],"
        "\"stop_reason\":\"end_turn\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":2095,"
        "\"output_tokens\":503}}";
    lx_tokens_t tok = {-1, -1, -1};
    json_t *c = parse_ok(body, "claude-sonnet", &tok);
    assert_string_equal(json_string_value(json_object_get(c, "id")),
                        "msg_013Zva2CMHLNnXjNJJKqJ2EF");
    assert_json(choice0(c), "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hi! "
                            "My name is Claude. How can I help?\"},\"finish_reason\":\"stop\"}");
    assert_json(json_object_get(c, "usage"),
                "{\"prompt_tokens\":2095,\"completion_tokens\":503,\"total_tokens\":2598,"
                "\"prompt_tokens_details\":{\"cached_tokens\":0}}");
    assert_int_equal(tok.in, 2095);
    assert_int_equal(tok.out, 503);
    assert_int_equal(tok.cached, 0);
    json_decref(c);
}

static void test_parse_tool_use(void **state)
{
    (void)state;
    const char *body =
        "{\"id\":\"msg_01Aq9w938a90dw8q\",\"type\":\"message\",\"role\":\"assistant\","
        "\"model\":\"claude-opus-4-20250514\",\"content\":["
        "{\"type\":\"thinking\",\"thinking\":\"The user wants weather.\",\"signature\":\"EqQB\"},"
        "{\"type\":\"text\",\"text\":\"I'll check the weather.\"},"
        "{\"type\":\"tool_use\",\"id\":\"toolu_01A09q90qw90lq917835lq9\",\"name\":\"get_weather\","
        "\"input\":{\"location\": \"San Francisco, CA\", \"unit\": \"celsius\"}},"
        "{\"type\":\"tool_use\",\"id\":\"toolu_02\",\"name\":\"get_time\",\"input\":{}}],"
        "\"stop_reason\":\"tool_use\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":384,"
        "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":92}}";
    lx_tokens_t tok = {0, 0, 0};
    json_t *c = parse_ok(body, "claude-opus-4", &tok);
    assert_json(choice0(c),
                "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"I'll check the "
                "weather.\",\"tool_calls\":["
                "{\"id\":\"toolu_01A09q90qw90lq917835lq9\",\"type\":\"function\",\"function\":{"
                "\"name\":\"get_weather\",\"arguments\":\"{\\\"location\\\":\\\"San Francisco, "
                "CA\\\",\\\"unit\\\":\\\"celsius\\\"}\"}},"
                "{\"id\":\"toolu_02\",\"type\":\"function\",\"function\":{\"name\":\"get_time\","
                "\"arguments\":\"{}\"}}]},\"finish_reason\":\"tool_calls\"}");
    json_decref(c);

    /* Only a tool_use block: content is null, as in OpenAI. */
    body = "{\"id\":\"msg_2\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"x\","
           "\"content\":[{\"type\":\"tool_use\",\"id\":\"toolu_mock1\",\"name\":\"f\",\"input\":"
           "{\"location\":\"Paris\",\"unit\":\"celsius\"}}],\"stop_reason\":\"tool_use\","
           "\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}";
    c = parse_ok(body, "x", &tok);
    json_t *msg = json_object_get(choice0(c), "message");
    assert_true(json_is_null(json_object_get(msg, "content")));
    json_t *args = load(json_string_value(json_object_get(
        json_object_get(json_array_get(json_object_get(msg, "tool_calls"), 0), "function"),
        "arguments")));
    assert_json(args, "{\"location\":\"Paris\",\"unit\":\"celsius\"}");
    json_decref(args);
    json_decref(c);
}

static void test_parse_each_stop_reason(void **state)
{
    (void)state;
    static const struct {
        const char *stop_reason, *finish;
    } cases[] = {
        {"\"end_turn\"", "stop"},
        {"\"stop_sequence\"", "stop"},
        {"\"max_tokens\"", "length"},
        {"\"tool_use\"", "tool_calls"},
        {"\"refusal\"", "content_filter"},
        {"\"pause_turn\"", "stop"},
        {"null", "stop"},
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(cases); i++) {
        char body[512];
        snprintf(body, sizeof body,
                 "{\"id\":\"msg_x\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\","
                 "\"content\":[{\"type\":\"text\",\"text\":\"partial\"}],\"stop_reason\":%s,"
                 "\"stop_sequence\":null,\"usage\":{\"input_tokens\":3,\"output_tokens\":4}}",
                 cases[i].stop_reason);
        lx_tokens_t tok;
        json_t *c = parse_ok(body, "m", &tok);
        const char *fr = json_string_value(json_object_get(choice0(c), "finish_reason"));
        if (fr == NULL || strcmp(fr, cases[i].finish) != 0)
            fail_msg("stop_reason %s gave %s, want %s", cases[i].stop_reason, fr ? fr : "null",
                     cases[i].finish);
        json_decref(c);
    }
}

static void test_parse_usage_with_cache_tokens(void **state)
{
    (void)state;
    const char *body =
        "{\"id\":\"msg_c\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\","
        "\"content\":[{\"type\":\"text\",\"text\":\"Summary.\"}],\"stop_reason\":\"end_turn\","
        "\"usage\":{\"input_tokens\":21,\"cache_creation_input_tokens\":188086,"
        "\"cache_read_input_tokens\":3000,\"output_tokens\":393,\"service_tier\":\"standard\"}}";
    lx_tokens_t tok = {0, 0, 0};
    json_t *c = parse_ok(body, "m", &tok);
    assert_json(json_object_get(c, "usage"),
                "{\"prompt_tokens\":191107,\"completion_tokens\":393,\"total_tokens\":191500,"
                "\"prompt_tokens_details\":{\"cached_tokens\":3000}}");
    assert_int_equal(tok.in, 191107);
    assert_int_equal(tok.out, 393);
    assert_int_equal(tok.cached, 3000);
    json_decref(c);
}

/* An upstream's counts are clamped to [0, LX_TOKENS_MAX]; sums do not wrap. */
static void test_parse_usage_hostile_counts(void **state)
{
    (void)state;
    const char *body =
        "{\"id\":\"msg_h\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\","
        "\"content\":[{\"type\":\"text\",\"text\":\"x\"}],\"stop_reason\":\"end_turn\","
        "\"usage\":{\"input_tokens\":9223372036854775807,\"cache_creation_input_tokens\":1,"
        "\"cache_read_input_tokens\":9223372036854775807,\"output_tokens\":-5}}";
    lx_tokens_t tok = {0, 0, 0};
    json_t *c = parse_ok(body, "m", &tok);
    assert_true(tok.in == LX_TOKENS_MAX);
    assert_true(tok.cached == LX_TOKENS_MAX);
    assert_true(tok.out == 0);
    assert_json(json_object_get(c, "usage"),
                "{\"prompt_tokens\":1000000000,\"completion_tokens\":0,\"total_tokens\":1000000000,"
                "\"prompt_tokens_details\":{\"cached_tokens\":1000000000}}");
    json_decref(c);
}

static void test_parse_rejects_non_messages(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "not json", "[]", "{\"choices\":[]}",
        "{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"x\"}}"};
    for (size_t i = 0; i < LX_ARRAY_LEN(bad); i++) {
        char err[128] = "";
        lx_tokens_t tok = {0, 0, 0};
        assert_null(A->chat_parse(bad[i], strlen(bad[i]), "m", &tok, err, sizeof err));
        assert_true(strlen(err) > 0);
    }
}

/* ---- stream ---- */

typedef struct {
    json_t *chunks; /* every emitted chunk, parsed */
} sink_t;

static void sink_fn(void *arg, const char *json, size_t n)
{
    sink_t *s = arg;
    json_error_t je;
    json_t *c = json_loadb(json, n, 0, &je);
    if (c == NULL)
        fail_msg("emitted chunk is not JSON: %s: %.*s", je.text, (int)n, json);
    json_array_append_new(s->chunks, c);
}

typedef struct {
    const lx_adapter_t *a;
    lx_stream_dec_t *d;
    lx_tokens_t tok;
    lx_stream_rc_t last;
    int events;
    char err[128];
} run_t;

static int on_sse(const lx_sse_event_t *ev, void *arg)
{
    run_t *r = arg;
    r->events++;
    assert_int_equal(r->last, LX_STREAM_MORE); /* nothing is fed after END/FAILED */
    r->last = r->a->stream_event(r->d, ev->event, ev->data, &r->tok, r->err, sizeof r->err);
    return r->last == LX_STREAM_MORE ? LX_OK : LX_DONE;
}

/* Feeds a whole recorded SSE body through the real SSE parser in 7-byte
 * pieces; chunks land in sink. Returns the last decoder result. */
static lx_stream_rc_t run_stream(const char *sse, const char *model, const char *id,
                                 bool include_usage, sink_t *sink, lx_tokens_t *tok, char *err,
                                 size_t errlen)
{
    run_t r = {.a = A, .last = LX_STREAM_MORE};
    sink->chunks = json_array();
    r.d = A->stream_new(model, id, include_usage, sink_fn, sink);
    assert_non_null(r.d);
    lx_sse_parser_t p;
    lx_sse_init(&p, on_sse, &r);
    size_t n = strlen(sse);
    for (size_t off = 0; off < n && r.last == LX_STREAM_MORE; off += 7)
        lx_sse_feed(&p, sse + off, LX_MIN(7, n - off));
    lx_sse_free(&p);
    A->stream_free(r.d);
    *tok = r.tok;
    snprintf(err, errlen, "%s", r.err);
    return r.last;
}

#define EV(name, data) "event: " name "\ndata: " data "\n\n"

/* The tool-use stream of Anthropic's docs: text, then a tool_use block whose
 * input arrives in three input_json_delta fragments (plus the usual empty
 * first one), a ping, cumulative output_tokens in message_delta. */
/* clang-format off */
static const char *const TOOL_STREAM =
    EV("message_start", "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_014p7gG3wDgGV9EUtLvnow3U\","
       "\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-20250514\","
       "\"stop_sequence\":null,\"usage\":{\"input_tokens\":472,\"cache_creation_input_tokens\":100,"
       "\"cache_read_input_tokens\":2048,\"output_tokens\":2},\"content\":[],\"stop_reason\":null}}")
    EV("content_block_start", "{\"type\":\"content_block_start\",\"index\":0,"
       "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}")
    EV("ping", "{\"type\": \"ping\"}")
    EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,"
       "\"delta\":{\"type\":\"text_delta\",\"text\":\"Okay\"}}")
    EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,"
       "\"delta\":{\"type\":\"text_delta\",\"text\":\", let's check \\\"the\\\" weather\\n\"}}")
    EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,"
       "\"delta\":{\"type\":\"text_delta\",\"text\":\" for San Francisco, CA:\"}}")
    EV("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}")
    EV("content_block_start", "{\"type\":\"content_block_start\",\"index\":1,"
       "\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01T1x1fJ34qAmk2tNTrN7Up6\","
       "\"name\":\"get_weather\",\"input\":{}}}")
    EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":1,"
       "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}")
    EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":1,"
       "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"location\\\": \\\"San Fra\"}}")
    EV("ping", "{\"type\": \"ping\"}")
    EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":1,"
       "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"ncisco, CA\\\", \\\"unit\\\": \"}}")
    EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":1,"
       "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"fahrenheit\\\"}\"}}")
    EV("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":1}")
    EV("message_delta", "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\","
       "\"stop_sequence\":null},\"usage\":{\"output_tokens\":89}}")
    EV("message_stop", "{\"type\":\"message_stop\"}");
/* clang-format on */

/* Checks the invariants of every chunk and reassembles text, tool calls
 * and finish_reason. tools: an array of {"id","name","arguments"} by index. */
typedef struct {
    lx_buf_t text;
    json_t *tools;
    const char *finish;
    int finish_count;
    int usage_chunks;
    json_t *usage;
    int role_chunks;
} assembled_t;

static void assemble(json_t *chunks, const char *model, const char *id, assembled_t *out)
{
    memset(out, 0, sizeof *out);
    lx_buf_init(&out->text, 0);
    out->tools = json_array();
    json_int_t created = -1;
    size_t i;
    json_t *c;
    json_array_foreach(chunks, i, c)
    {
        assert_string_equal(json_string_value(json_object_get(c, "id")), id);
        assert_string_equal(json_string_value(json_object_get(c, "model")), model);
        assert_string_equal(json_string_value(json_object_get(c, "object")),
                            "chat.completion.chunk");
        json_int_t cr = json_integer_value(json_object_get(c, "created"));
        assert_true(cr > 1700000000);
        if (created < 0)
            created = cr;
        assert_int_equal(cr, created);
        json_t *choices = json_object_get(c, "choices");
        assert_true(json_is_array(choices));
        if (json_array_size(choices) == 0) {
            out->usage_chunks++;
            out->usage = json_object_get(c, "usage");
            assert_int_equal(i, json_array_size(chunks) - 1); /* usage comes last */
            continue;
        }
        assert_int_equal(json_array_size(choices), 1);
        json_t *ch = json_array_get(choices, 0);
        assert_int_equal(json_integer_value(json_object_get(ch, "index")), 0);
        json_t *delta = json_object_get(ch, "delta");
        assert_true(json_is_object(delta));
        json_t *fr = json_object_get(ch, "finish_reason");
        if (json_is_string(fr)) {
            out->finish = json_string_value(fr);
            out->finish_count++;
        } else {
            assert_true(json_is_null(fr));
        }
        if (json_object_get(delta, "role")) {
            out->role_chunks++;
            assert_int_equal(i, 0);
            assert_json(delta, "{\"role\":\"assistant\",\"content\":\"\"}");
            continue;
        }
        json_t *content = json_object_get(delta, "content");
        if (json_is_string(content))
            lx_buf_append(&out->text, json_string_value(content), json_string_length(content));
        size_t k;
        json_t *tc;
        json_array_foreach(json_object_get(delta, "tool_calls"), k, tc)
        {
            json_int_t idx = json_integer_value(json_object_get(tc, "index"));
            json_t *fn = json_object_get(tc, "function");
            if (json_object_get(tc, "id")) {
                /* A new tool call: indexes come in order 0, 1, 2... */
                assert_int_equal(idx, json_array_size(out->tools));
                assert_string_equal(json_string_value(json_object_get(tc, "type")), "function");
                assert_string_equal(json_string_value(json_object_get(fn, "arguments")), "");
                json_array_append_new(
                    out->tools, json_pack("{s:O,s:O,s:s}", "id", json_object_get(tc, "id"), "name",
                                          json_object_get(fn, "name"), "arguments", ""));
                continue;
            }
            json_t *t = json_array_get(out->tools, (size_t)idx);
            assert_non_null(t); /* arguments only for a started call */
            char *joined = NULL;
            assert_true(asprintf(&joined, "%s%s",
                                 json_string_value(json_object_get(t, "arguments")),
                                 json_string_value(json_object_get(fn, "arguments"))) >= 0);
            json_object_set_new(t, "arguments", json_string(joined));
            free(joined);
        }
    }
}

static void assembled_free(assembled_t *a)
{
    lx_buf_free(&a->text);
    json_decref(a->tools);
}

static void test_stream_tool_use_recorded(void **state)
{
    (void)state;
    sink_t sink;
    lx_tokens_t tok;
    char err[128];
    const char *model = "claude-sonnet-4", *id = "chatcmpl-llmux-7f3a";
    assert_int_equal(run_stream(TOOL_STREAM, model, id, true, &sink, &tok, err, sizeof err),
                     LX_STREAM_END);
    assembled_t a;
    assemble(sink.chunks, model, id, &a);
    assert_int_equal(a.role_chunks, 1);
    assert_string_equal(a.text.p, "Okay, let's check \"the\" weather\n for San Francisco, CA:");
    assert_json(a.tools, "[{\"id\":\"toolu_01T1x1fJ34qAmk2tNTrN7Up6\",\"name\":\"get_weather\","
                         "\"arguments\":\"{\\\"location\\\": \\\"San Francisco, CA\\\", "
                         "\\\"unit\\\": \\\"fahrenheit\\\"}\"}]");
    assert_int_equal(a.finish_count, 1);
    assert_string_equal(a.finish, "tool_calls");
    assert_int_equal(a.usage_chunks, 1);
    assert_json(a.usage, "{\"prompt_tokens\":2620,\"completion_tokens\":89,\"total_tokens\":2709,"
                         "\"prompt_tokens_details\":{\"cached_tokens\":2048}}");
    assert_int_equal(tok.in, 2620);
    assert_int_equal(tok.out, 89); /* cumulative: 89, not 2 + 89 */
    assert_int_equal(tok.cached, 2048);
    /* role + 3 text + tool start + 3 args + finish + usage; pings and the
     * empty fragment emit nothing. */
    assert_int_equal(json_array_size(sink.chunks), 10);
    assembled_free(&a);
    json_decref(sink.chunks);
}

static void test_stream_usage_only_when_asked(void **state)
{
    (void)state;
    sink_t sink;
    lx_tokens_t tok;
    char err[128];
    assert_int_equal(run_stream(TOOL_STREAM, "m", "id-1", false, &sink, &tok, err, sizeof err),
                     LX_STREAM_END);
    assembled_t a;
    assemble(sink.chunks, "m", "id-1", &a);
    assert_int_equal(a.usage_chunks, 0);
    assert_int_equal(json_array_size(sink.chunks), 9);
    /* The caller still learns the usage. */
    assert_int_equal(tok.in, 2620);
    assert_int_equal(tok.out, 89);
    assert_int_equal(tok.cached, 2048);
    assembled_free(&a);
    json_decref(sink.chunks);
}

/* Thinking first, then text, then two tools: tool indexes count tool_use
 * blocks (0, 1), not Anthropic's block indexes (2, 3); thinking is dropped;
 * a tool without input gets "{}" arguments. No event: lines (the SSE
 * parser gives an empty name): the data's "type" is enough. */
static void test_stream_thinking_and_two_tools(void **state)
{
    (void)state;
    const char *sse =
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\","
        "\"role\":\"assistant\",\"content\":[],\"model\":\"claude-opus-4\",\"stop_reason\":null,"
        "\"usage\":{\"input_tokens\":50,\"output_tokens\":1}}}\n\n"
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":"
        "\"thinking\",\"thinking\":\"\"}}\n\n"
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
        "\"thinking_delta\",\"thinking\":\"Need two tools.\"}}\n\n"
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
        "\"signature_delta\",\"signature\":\"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl\"}}\n\n"
        "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
        "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\","
        "\"text\":\"\"}}\n\n"
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\","
        "\"text\":\"Checking.\"}}\n\n"
        "data: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
        "data: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":"
        "\"tool_use\",\"id\":\"toolu_A\",\"name\":\"get_time\",\"input\":{}}}\n\n"
        "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":"
        "\"input_json_delta\",\"partial_json\":\"\"}}\n\n"
        "data: {\"type\":\"content_block_stop\",\"index\":2}\n\n"
        "data: {\"type\":\"content_block_start\",\"index\":3,\"content_block\":{\"type\":"
        "\"tool_use\",\"id\":\"toolu_B\",\"name\":\"get_weather\",\"input\":{}}}\n\n"
        "data: {\"type\":\"content_block_delta\",\"index\":3,\"delta\":{\"type\":"
        "\"input_json_delta\",\"partial_json\":\"{\\\"city\\\":\"}}\n\n"
        "data: {\"type\":\"some_future_event\",\"index\":3}\n\n"
        "data: {\"type\":\"content_block_delta\",\"index\":3,\"delta\":{\"type\":"
        "\"input_json_delta\",\"partial_json\":\"\\\"Oslo\\\"}\"}}\n\n"
        "data: {\"type\":\"content_block_stop\",\"index\":3}\n\n"
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\","
        "\"stop_sequence\":null},\"usage\":{\"output_tokens\":40}}\n\n"
        "data: {\"type\":\"message_delta\",\"delta\":{},\"usage\":{\"output_tokens\":64}}\n\n"
        "data: {\"type\":\"message_stop\"}\n\n";
    sink_t sink;
    lx_tokens_t tok;
    char err[128];
    assert_int_equal(run_stream(sse, "opus", "c1", true, &sink, &tok, err, sizeof err),
                     LX_STREAM_END);
    assembled_t a;
    assemble(sink.chunks, "opus", "c1", &a);
    assert_string_equal(a.text.p, "Checking.");
    assert_json(a.tools, "[{\"id\":\"toolu_A\",\"name\":\"get_time\",\"arguments\":\"{}\"},"
                         "{\"id\":\"toolu_B\",\"name\":\"get_weather\",\"arguments\":"
                         "\"{\\\"city\\\":\\\"Oslo\\\"}\"}]");
    assert_int_equal(a.finish_count, 1);
    assert_string_equal(a.finish, "tool_calls");
    assert_json(a.usage, "{\"prompt_tokens\":50,\"completion_tokens\":64,\"total_tokens\":114,"
                         "\"prompt_tokens_details\":{\"cached_tokens\":0}}");
    assert_int_equal(tok.out, 64); /* the last cumulative value, never a sum */
    for (size_t i = 0; i < json_array_size(sink.chunks); i++) {
        char *s = json_dumps(json_array_get(sink.chunks, i), JSON_COMPACT);
        assert_null(strstr(s, "Need two tools")); /* thinking never leaks */
        assert_null(strstr(s, "EqQB"));
        free(s);
    }
    assembled_free(&a);
    json_decref(sink.chunks);
}

/* Exactly what bench/mock/anthropic.c sends for a plain stream, with
 * max_tokens as the stop reason. */
static void test_stream_mock_text_max_tokens(void **state)
{
    (void)state;
    const char *sse =
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":"
        "\"msg_mock7\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-mock\","
        "\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":12,"
        "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":1}}}\n\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
        "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
        "event: ping\ndata: {\"type\": \"ping\"}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
        "\"delta\":{\"type\":\"text_delta\",\"text\":\"tok0 \"}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
        "\"delta\":{\"type\":\"text_delta\",\"text\":\"tok1 \"}}\n\n"
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
        "\"max_tokens\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":2}}\n\n"
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    sink_t sink;
    lx_tokens_t tok;
    char err[128];
    assert_int_equal(run_stream(sse, "claude-mock", "x", true, &sink, &tok, err, sizeof err),
                     LX_STREAM_END);
    assembled_t a;
    assemble(sink.chunks, "claude-mock", "x", &a);
    assert_string_equal(a.text.p, "tok0 tok1 ");
    assert_int_equal(json_array_size(a.tools), 0);
    assert_string_equal(a.finish, "length");
    assert_json(a.usage, "{\"prompt_tokens\":12,\"completion_tokens\":2,\"total_tokens\":14,"
                         "\"prompt_tokens_details\":{\"cached_tokens\":0}}");
    assembled_free(&a);
    json_decref(sink.chunks);
}

static void test_stream_error_event_fails(void **state)
{
    (void)state;
    const char *sse =
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_e\","
        "\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\",\"content\":[],"
        "\"usage\":{\"input_tokens\":9,\"output_tokens\":1}}}\n\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
        "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
        "\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n"
        "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
        "\"message\":\"Overloaded\"}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
        "\"delta\":{\"type\":\"text_delta\",\"text\":\"never\"}}\n\n";
    sink_t sink;
    lx_tokens_t tok;
    char err[128];
    assert_int_equal(run_stream(sse, "m", "e1", true, &sink, &tok, err, sizeof err),
                     LX_STREAM_FAILED);
    assert_string_equal(err, "Overloaded");
    assembled_t a;
    assemble(sink.chunks, "m", "e1", &a);
    assert_string_equal(a.text.p, "Hel");
    assert_int_equal(a.finish_count, 0); /* no fake normal end */
    assert_int_equal(a.usage_chunks, 0);
    assert_int_equal(tok.in, 9);
    assembled_free(&a);
    json_decref(sink.chunks);
}

static void test_stream_malformed_event_fails(void **state)
{
    (void)state;
    /* bench/mock's "malformed" fault: a truncated JSON object. */
    const char *sse =
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\","
        "\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
        "\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"\n\n";
    sink_t sink;
    lx_tokens_t tok;
    char err[128];
    assert_int_equal(run_stream(sse, "m", "i", false, &sink, &tok, err, sizeof err),
                     LX_STREAM_FAILED);
    assert_true(strlen(err) > 0);
    assert_int_equal(json_array_size(sink.chunks), 1); /* only the role chunk */
    json_decref(sink.chunks);
}

static void test_stream_direct_events_and_escaping(void **state)
{
    (void)state;
    /* Called directly (no SSE parser): an id and a model that need JSON
     * escaping, an empty ping, text with a NUL-free control character. */
    sink_t sink = {json_array()};
    lx_stream_dec_t *d = A->stream_new("we\"ird/model", "id\\1", false, sink_fn, &sink);
    lx_tokens_t tok = {0, 0, 0};
    char err[64] = "";
    assert_int_equal(A->stream_event(d, LX_STR("ping"), LX_NULL_STR, &tok, err, sizeof err),
                     LX_STREAM_MORE);
    assert_int_equal(A->stream_event(d, LX_STR("message_start"),
                                     LX_STR("{\"type\":\"message_start\",\"message\":{\"usage\":{"
                                            "\"input_tokens\":5,\"output_tokens\":1}}}"),
                                     &tok, err, sizeof err),
                     LX_STREAM_MORE);
    assert_int_equal(tok.in, 5);
    assert_int_equal(tok.out, 1);
    assert_int_equal(A->stream_event(d, LX_STR("content_block_delta"),
                                     LX_STR("{\"type\":\"content_block_delta\",\"index\":0,"
                                            "\"delta\":{\"type\":\"text_delta\",\"text\":"
                                            "\"a\\u0001b\\u00e9\"}}"),
                                     &tok, err, sizeof err),
                     LX_STREAM_MORE);
    /* input_json_delta for a block never started as tool_use: dropped. */
    assert_int_equal(A->stream_event(d, LX_STR("content_block_delta"),
                                     LX_STR("{\"type\":\"content_block_delta\",\"index\":9,"
                                            "\"delta\":{\"type\":\"input_json_delta\","
                                            "\"partial_json\":\"{}\"}}"),
                                     &tok, err, sizeof err),
                     LX_STREAM_MORE);
    assert_int_equal(A->stream_event(d, LX_STR("message_stop"),
                                     LX_STR("{\"type\":\"message_stop\"}"), &tok, err, sizeof err),
                     LX_STREAM_END);
    A->stream_free(d);
    assert_int_equal(json_array_size(sink.chunks), 2);
    json_t *c = json_array_get(sink.chunks, 1);
    assert_string_equal(json_string_value(json_object_get(c, "id")), "id\\1");
    assert_string_equal(json_string_value(json_object_get(c, "model")), "we\"ird/model");
    assert_json(json_object_get(json_array_get(json_object_get(c, "choices"), 0), "delta"),
                "{\"content\":\"a\\u0001b\\u00e9\"}");
    json_decref(sink.chunks);
}

/* ---- error_message ---- */

static void test_error_message(void **state)
{
    (void)state;
    char out[64];
    const char *body = "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
                       "\"message\":\"max_tokens: Field required\"},\"request_id\":\"req_011\"}";
    A->error_message(body, strlen(body), out, sizeof out);
    assert_string_equal(out, "max_tokens: Field required");
    body = "{\"type\":\"error\",\"error\":{\"type\":\"authentication_error\",\"message\":"
           "\"invalid x-api-key\"}}";
    A->error_message(body, strlen(body), out, sizeof out);
    assert_string_equal(out, "invalid x-api-key");
    A->error_message("<html>502 Bad Gateway</html>", 28, out, sizeof out);
    assert_string_equal(out, "");
    A->error_message("{\"type\":\"error\",\"error\":{}}", 26, out, sizeof out);
    assert_string_equal(out, "");
    char small[8];
    body = "{\"error\":{\"message\":\"Overloaded right now\"}}";
    A->error_message(body, strlen(body), small, sizeof small);
    assert_string_equal(small, "Overloa");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vtable_text_and_errors_only),
        cmocka_unit_test(test_build_url_and_headers),
        cmocka_unit_test(test_build_keyless_trailing_slash_and_version_override),
        cmocka_unit_test(test_build_minimal_body_and_max_tokens_default),
        cmocka_unit_test(test_build_max_tokens_sources),
        cmocka_unit_test(test_build_system_and_developer_merged),
        cmocka_unit_test(test_build_consecutive_roles_merged),
        cmocka_unit_test(test_build_images_base64_and_url),
        cmocka_unit_test(test_build_bad_images_and_parts_rejected),
        cmocka_unit_test(test_build_tool_round_trip),
        cmocka_unit_test(test_build_assistant_text_then_tool_use_and_result_first),
        cmocka_unit_test(test_build_invalid_tool_arguments),
        cmocka_unit_test(test_build_tool_choice_mapping),
        cmocka_unit_test(test_build_sampling_stop_stream_user),
        cmocka_unit_test(test_parse_text),
        cmocka_unit_test(test_parse_tool_use),
        cmocka_unit_test(test_parse_each_stop_reason),
        cmocka_unit_test(test_parse_usage_with_cache_tokens),
        cmocka_unit_test(test_parse_usage_hostile_counts),
        cmocka_unit_test(test_parse_rejects_non_messages),
        cmocka_unit_test(test_stream_tool_use_recorded),
        cmocka_unit_test(test_stream_usage_only_when_asked),
        cmocka_unit_test(test_stream_thinking_and_two_tools),
        cmocka_unit_test(test_stream_mock_text_max_tokens),
        cmocka_unit_test(test_stream_error_event_fails),
        cmocka_unit_test(test_stream_malformed_event_fails),
        cmocka_unit_test(test_stream_direct_events_and_escaping),
        cmocka_unit_test(test_error_message),
    };
    return cmocka_run_group_tests_name("adapters/anthropic", tests, NULL, NULL);
}
