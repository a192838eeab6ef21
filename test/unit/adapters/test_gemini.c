/* test_gemini.c - unit tests for src/ai/adapters/gemini.c (lx_adapter_gemini). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ai/adapter.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#define A (&lx_adapter_gemini)

static const char *const KEY = "AIzaSyTEST-secret-key_123";

static lx_provider_conf_t provider(void)
{
    lx_provider_conf_t p;
    memset(&p, 0, sizeof p);
    p.name = (char *)"gemini";
    p.kind = LX_PROVIDER_GEMINI;
    p.base_url = (char *)"https://generativelanguage.googleapis.com";
    p.api_key = (char *)KEY;
    return p;
}

static json_t *parse(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    if (j == NULL)
        fail_msg("bad test JSON: %s: %s", e.text, s);
    return j;
}

/* Builds a chat request and returns its body parsed; out holds url/headers. */
static json_t *build_ok(const char *req_json, bool stream, lx_up_build_t *out)
{
    lx_provider_conf_t p = provider();
    json_t *req = parse(req_json);
    char err[256] = "";
    lx_up_build_init(out);
    int rc = A->chat_build(&p, req, stream, out, err, sizeof err);
    json_decref(req);
    if (rc != LX_OK)
        fail_msg("chat_build failed: %s", err);
    json_t *body = json_loadb(out->body.p, out->body.n, 0, NULL);
    assert_non_null(body);
    return body;
}

static json_t *build_body(const char *req_json)
{
    lx_up_build_t out;
    json_t *body = build_ok(req_json, false, &out);
    lx_up_build_free(&out);
    return body;
}

/* Expects chat_build to fail; err must contain needle. */
static void build_fails(const char *req_json, const char *needle)
{
    lx_provider_conf_t p = provider();
    json_t *req = parse(req_json);
    char err[256] = "";
    lx_up_build_t out;
    lx_up_build_init(&out);
    int rc = A->chat_build(&p, req, false, &out, err, sizeof err);
    lx_up_build_free(&out);
    json_decref(req);
    assert_int_equal(rc, LX_ERROR);
    if (strstr(err, needle) == NULL)
        fail_msg("error '%s' does not mention '%s'", err, needle);
}

static const char *header(const lx_up_build_t *b, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < b->nheaders; i++)
        if (strncasecmp(b->headers[i], name, n) == 0 && b->headers[i][n] == ':')
            return b->headers[i] + n + 2;
    return NULL;
}

/* Path lookup "a.b.0.c" in a JSON value (borrowed). */
static json_t *at(json_t *j, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ".", &save); tok && j; tok = strtok_r(NULL, ".", &save)) {
        if (json_is_array(j))
            j = json_array_get(j, strtoul(tok, NULL, 10));
        else
            j = json_object_get(j, tok);
    }
    return j;
}

static const char *str_at(json_t *j, const char *path)
{
    return json_string_value(at(j, path));
}

static void assert_json_eq(json_t *got, const char *want_json)
{
    json_t *want = parse(want_json);
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);
        fail_msg("JSON mismatch\n got: %s\nwant: %s", g ? g : "(null)", want_json);
    }
    json_decref(want);
}

/* ------------------------------------------------------------ chat_build */

static void test_url_and_key_header(void **state)
{
    (void)state;
    lx_provider_conf_t p = provider();
    p.header_names[0] = (char *)"x-goog-user-project";
    p.header_values[0] = (char *)"proj-1";
    p.nheaders = 1;
    json_t *req = parse("{\"model\":\"gemini-2.0-flash\",\"messages\":[{\"role\":\"user\","
                        "\"content\":\"hi\"}]}");
    char err[256] = "";
    lx_up_build_t out;
    lx_up_build_init(&out);
    assert_int_equal(A->chat_build(&p, req, false, &out, err, sizeof err), LX_OK);
    assert_string_equal(out.url.p, "https://generativelanguage.googleapis.com/v1beta/models/"
                                   "gemini-2.0-flash:generateContent");
    assert_null(strstr(out.url.p, KEY));
    assert_null(strstr(out.url.p, "key="));
    assert_string_equal(header(&out, "x-goog-api-key"), KEY);
    assert_string_equal(header(&out, "Content-Type"), "application/json");
    assert_string_equal(header(&out, "x-goog-user-project"), "proj-1");
    assert_null(header(&out, "Authorization"));
    assert_null(strstr(out.body.p, KEY));
    lx_up_build_free(&out);
    json_decref(req);
}

static void test_stream_url_keeps_model_chars(void **state)
{
    (void)state;
    lx_provider_conf_t p = provider();
    p.base_url = (char *)"http://127.0.0.1:9000/"; /* trailing slash tolerated */
    json_t *req =
        parse("{\"model\":\"gem+ini=1.5\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
              "\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
    char err[256] = "";
    lx_up_build_t out;
    lx_up_build_init(&out);
    assert_int_equal(A->chat_build(&p, req, true, &out, err, sizeof err), LX_OK);
    assert_string_equal(out.url.p, "http://127.0.0.1:9000/v1beta/models/"
                                   "gem+ini=1.5:streamGenerateContent?alt=sse");
    assert_null(strstr(out.url.p, KEY));
    assert_string_equal(header(&out, "x-goog-api-key"), KEY);
    /* OpenAI-only fields never reach Gemini. */
    json_t *body = json_loadb(out.body.p, out.body.n, 0, NULL);
    assert_null(json_object_get(body, "stream"));
    assert_null(json_object_get(body, "stream_options"));
    assert_null(json_object_get(body, "model"));
    json_decref(body);
    lx_up_build_free(&out);
    json_decref(req);
}

static void test_model_prefix_and_unsafe_chars(void **state)
{
    (void)state;
    lx_up_build_t out;
    json_t *b = build_ok("{\"model\":\"models/gemini-2.5-pro\",\"messages\":[{\"role\":\"user\","
                         "\"content\":\"x\"}]}",
                         false, &out);
    assert_string_equal(out.url.p, "https://generativelanguage.googleapis.com/v1beta/models/"
                                   "gemini-2.5-pro:generateContent");
    lx_up_build_free(&out);
    json_decref(b);
    b = build_ok("{\"model\":\"a b?c#d/e\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                 false, &out);
    assert_string_equal(out.url.p, "https://generativelanguage.googleapis.com/v1beta/models/"
                                   "a%20b%3Fc%23d%2Fe:generateContent");
    lx_up_build_free(&out);
    json_decref(b);
}

static void test_no_key_no_header(void **state)
{
    (void)state;
    lx_provider_conf_t p = provider();
    p.api_key = NULL;
    json_t *req = parse("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    char err[256] = "";
    lx_up_build_t out;
    lx_up_build_init(&out);
    assert_int_equal(A->chat_build(&p, req, false, &out, err, sizeof err), LX_OK);
    assert_null(header(&out, "x-goog-api-key"));
    lx_up_build_free(&out);
    json_decref(req);
}

static void test_missing_model_or_messages(void **state)
{
    (void)state;
    build_fails("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "model");
    build_fails("{\"model\":\"m\",\"messages\":[]}", "messages");
    build_fails("{\"model\":\"m\"}", "messages");
    build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"critic\",\"content\":\"x\"}]}",
                "critic");
}

static void test_system_instruction(void **state)
{
    (void)state;
    json_t *b = build_body(
        "{\"model\":\"m\",\"messages\":["
        "{\"role\":\"system\",\"content\":\"You are terse.\"},"
        "{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"Answer in French.\"}]},"
        "{\"role\":\"user\",\"content\":\"Hello\"}]}");
    assert_json_eq(json_object_get(b, "systemInstruction"),
                   "{\"parts\":[{\"text\":\"You are terse.\"},{\"text\":\"Answer in French.\"}]}");
    assert_json_eq(json_object_get(b, "contents"),
                   "[{\"role\":\"user\",\"parts\":[{\"text\":\"Hello\"}]}]");
    assert_null(json_object_get(b, "generationConfig"));
    assert_null(json_object_get(b, "tools"));
    json_decref(b);

    b = build_body("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}");
    assert_null(json_object_get(b, "systemInstruction"));
    json_decref(b);

    build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":[{\"type\":"
                "\"image_url\",\"image_url\":{\"url\":\"https://x/y.png\"}}]},{\"role\":\"user\","
                "\"content\":\"x\"}]}",
                "system");
}

static void test_roles_and_merging(void **state)
{
    (void)state;
    json_t *b = build_body("{\"model\":\"m\",\"messages\":["
                           "{\"role\":\"user\",\"content\":\"one\"},"
                           "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"two\"},"
                           "{\"type\":\"text\",\"text\":\"three\"}]},"
                           "{\"role\":\"assistant\",\"content\":\"four\"},"
                           "{\"role\":\"system\",\"content\":\"sys in the middle\"},"
                           "{\"role\":\"assistant\",\"content\":\"five\"},"
                           "{\"role\":\"user\",\"content\":\"six\"}]}");
    assert_json_eq(json_object_get(b, "contents"),
                   "[{\"role\":\"user\",\"parts\":[{\"text\":\"one\"},{\"text\":\"two\"},"
                   "{\"text\":\"three\"}]},"
                   "{\"role\":\"model\",\"parts\":[{\"text\":\"four\"},{\"text\":\"five\"}]},"
                   "{\"role\":\"user\",\"parts\":[{\"text\":\"six\"}]}]");
    assert_json_eq(json_object_get(b, "systemInstruction"),
                   "{\"parts\":[{\"text\":\"sys in the middle\"}]}");
    json_decref(b);
}

static void test_images(void **state)
{
    (void)state;
    json_t *b = build_body(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":["
        "{\"type\":\"text\",\"text\":\"What is in these?\"},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0KGgo=\","
        "\"detail\":\"high\"}},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://example.com/cat.WEBP?w=200\"}},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://example.com/photo\"}},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"http://example.com/a.b/pic.gif\"}}"
        "]}]}");
    assert_json_eq(
        at(b, "contents.0.parts"),
        "[{\"text\":\"What is in these?\"},"
        "{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":\"iVBORw0KGgo=\"}},"
        "{\"fileData\":{\"mimeType\":\"image/webp\","
        "\"fileUri\":\"https://example.com/cat.WEBP?w=200\"}},"
        "{\"fileData\":{\"mimeType\":\"image/jpeg\",\"fileUri\":\"https://example.com/photo\"}},"
        "{\"fileData\":{\"mimeType\":\"image/gif\",\"fileUri\":\"http://example.com/a.b/pic.gif\"}}"
        "]");
    json_decref(b);
}

static void test_unsupported_parts(void **state)
{
    (void)state;
    build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
                "\"video_url\",\"video_url\":{\"url\":\"https://x\"}}]}]}",
                "video_url");
    build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
                "\"image_url\",\"image_url\":{\"url\":\"data:image/png,rawbytes\"}}]}]}",
                "base64");
    build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
                "\"image_url\",\"image_url\":{\"url\":\"ftp://x/y.png\"}}]}]}",
                "image_url");
    build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
                "\"image_url\"}]}]}",
                "url");
    build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":42}]}", "content");
}

static void test_audio_and_file_parts(void **state)
{
    (void)state;
    json_t *b = build_body(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":["
        "{\"type\":\"input_audio\",\"input_audio\":{\"data\":\"UklGRg==\",\"format\":\"wav\"}},"
        "{\"type\":\"file\",\"file\":{\"filename\":\"a.pdf\","
        "\"file_data\":\"data:application/pdf;base64,JVBERi0=\"}}]}]}");
    assert_json_eq(at(b, "contents.0.parts"),
                   "[{\"inlineData\":{\"mimeType\":\"audio/wav\",\"data\":\"UklGRg==\"}},"
                   "{\"inlineData\":{\"mimeType\":\"application/pdf\",\"data\":\"JVBERi0=\"}}]");
    json_decref(b);
    build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"file\","
                "\"file\":{\"file_id\":\"file-abc\"}}]}]}",
                "file");
}

static const char *TOOL_CONVERSATION =
    "{\"model\":\"gemini-2.0-flash\",\"messages\":["
    "{\"role\":\"user\",\"content\":\"Weather in Paris and time in Tokyo?\"},"
    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
    "{\"id\":\"call_a1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
    "\"arguments\":\"{\\\"location\\\":\\\"Paris\\\",\\\"unit\\\":\\\"celsius\\\"}\"}},"
    "{\"id\":\"call_b2\",\"type\":\"function\",\"function\":{\"name\":\"get_time\","
    "\"arguments\":\"{\\\"tz\\\":\\\"Asia/Tokyo\\\"}\"}}]},"
    "{\"role\":\"tool\",\"tool_call_id\":\"call_b2\",\"content\":\"09:14\"},"
    "{\"role\":\"tool\",\"tool_call_id\":\"call_a1\","
    "\"content\":\"{\\\"temp\\\":21.5,\\\"sky\\\":\\\"clear\\\"}\"},"
    "{\"role\":\"user\",\"content\":\"Thanks. Summarise.\"}],"
    "\"tools\":["
    "{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"Current "
    "weather\",\"parameters\":{\"type\":\"object\",\"properties\":{\"location\":{\"type\":"
    "\"string\"},\"unit\":{\"type\":\"string\",\"enum\":[\"celsius\",\"fahrenheit\"]}},"
    "\"required\":[\"location\"]}}},"
    "{\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"parameters\":{\"type\":"
    "\"object\",\"properties\":{\"tz\":{\"type\":\"string\"}}}}},"
    "{\"type\":\"function\",\"function\":{\"name\":\"ping\",\"description\":\"no args\","
    "\"parameters\":{\"type\":\"object\",\"properties\":{}}}}],"
    "\"tool_choice\":\"auto\"}";

static void test_tool_call_round_trip(void **state)
{
    (void)state;
    json_t *b = build_body(TOOL_CONVERSATION);
    assert_json_eq(
        json_object_get(b, "contents"),
        "[{\"role\":\"user\",\"parts\":[{\"text\":\"Weather in Paris and time in Tokyo?\"}]},"
        "{\"role\":\"model\",\"parts\":["
        "{\"functionCall\":{\"name\":\"get_weather\",\"args\":{\"location\":\"Paris\","
        "\"unit\":\"celsius\"}}},"
        "{\"functionCall\":{\"name\":\"get_time\",\"args\":{\"tz\":\"Asia/Tokyo\"}}}]},"
        "{\"role\":\"user\",\"parts\":["
        "{\"functionResponse\":{\"name\":\"get_time\",\"response\":{\"content\":\"09:14\"}}},"
        "{\"functionResponse\":{\"name\":\"get_weather\",\"response\":{\"content\":"
        "{\"temp\":21.5,\"sky\":\"clear\"}}}},"
        "{\"text\":\"Thanks. Summarise.\"}]}]");
    assert_json_eq(
        json_object_get(b, "tools"),
        "[{\"functionDeclarations\":["
        "{\"name\":\"get_weather\",\"description\":\"Current weather\",\"parameters\":"
        "{\"type\":\"object\",\"properties\":{\"location\":{\"type\":\"string\"},\"unit\":"
        "{\"type\":\"string\",\"enum\":[\"celsius\",\"fahrenheit\"]}},\"required\":"
        "[\"location\"]}},"
        "{\"name\":\"get_time\",\"parameters\":{\"type\":\"object\",\"properties\":{\"tz\":"
        "{\"type\":\"string\"}}}},"
        "{\"name\":\"ping\",\"description\":\"no args\"}]}]");
    assert_json_eq(json_object_get(b, "toolConfig"),
                   "{\"functionCallingConfig\":{\"mode\":\"AUTO\"}}");
    json_decref(b);
}

static void test_tool_message_edge_cases(void **state)
{
    (void)state;
    /* Unknown tool_call_id and no name: the client's fault. */
    build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"},"
                "{\"role\":\"tool\",\"tool_call_id\":\"call_zz\",\"content\":\"r\"}]}",
                "call_zz");
    /* Bad arguments on an assistant tool call. */
    build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":"
                "\"c\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"[1]\"}}]"
                "}]}",
                "arguments");
    build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":"
                "[{\"type\":\"web_search\"}]}",
                "web_search");
    /* Empty arguments, text-part tool content, JSON array content stays a string,
     * legacy "function" role with its own name. */
    json_t *b = build_body(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"},"
        "{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"id\":\"c1\",\"type\":"
        "\"function\",\"function\":{\"name\":\"now\",\"arguments\":\"\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":[{\"type\":\"text\",\"text\":"
        "\"[1,\"},{\"type\":\"text\",\"text\":\"2]\"}]},"
        "{\"role\":\"function\",\"name\":\"legacy\",\"content\":\"{\\\"ok\\\":true}\"}]}");
    assert_json_eq(
        json_object_get(b, "contents"),
        "[{\"role\":\"user\",\"parts\":[{\"text\":\"x\"}]},"
        "{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"name\":\"now\",\"args\":{}}}]},"
        "{\"role\":\"user\",\"parts\":["
        "{\"functionResponse\":{\"name\":\"now\",\"response\":{\"content\":\"[1,2]\"}}},"
        "{\"functionResponse\":{\"name\":\"legacy\",\"response\":{\"content\":{\"ok\":true}}}}"
        "]}]");
    json_decref(b);
}

static void test_tool_choice(void **state)
{
    (void)state;
    static const struct {
        const char *choice, *want;
    } cases[] = {
        {"\"auto\"", "{\"functionCallingConfig\":{\"mode\":\"AUTO\"}}"},
        {"\"none\"", "{\"functionCallingConfig\":{\"mode\":\"NONE\"}}"},
        {"\"required\"", "{\"functionCallingConfig\":{\"mode\":\"ANY\"}}"},
        {"{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}}",
         "{\"functionCallingConfig\":{\"mode\":\"ANY\",\"allowedFunctionNames\":"
         "[\"get_time\"]}}"},
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(cases); i++) {
        char req[512];
        snprintf(req, sizeof req,
                 "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                 "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}}],"
                 "\"tool_choice\":%s}",
                 cases[i].choice);
        json_t *b = build_body(req);
        assert_json_eq(json_object_get(b, "toolConfig"), cases[i].want);
        json_decref(b);
    }
    json_t *b = build_body("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                           "\"tool_choice\":null}");
    assert_null(json_object_get(b, "toolConfig"));
    json_decref(b);
    build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                "\"tool_choice\":\"sometimes\"}",
                "tool_choice");
}

static void test_generation_config(void **state)
{
    (void)state;
    lx_up_build_t out;
    json_t *b = build_ok("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                         "\"temperature\":0.7,\"top_p\":0.95,\"max_tokens\":256,\"n\":2,"
                         "\"stop\":[\"END\",\"\\n\\n\"],\"presence_penalty\":0.5,\"seed\":42,"
                         "\"user\":\"u-1\",\"logit_bias\":null}",
                         false, &out);
    assert_json_eq(json_object_get(b, "generationConfig"),
                   "{\"temperature\":0.7,\"topP\":0.95,\"maxOutputTokens\":256,"
                   "\"candidateCount\":2,\"presencePenalty\":0.5,\"seed\":42,"
                   "\"stopSequences\":[\"END\",\"\\n\\n\"]}");
    /* Short decimals are written as the client wrote them. */
    assert_non_null(strstr(out.body.p, "\"temperature\":0.7,"));
    assert_non_null(strstr(out.body.p, "\"topP\":0.95,"));
    lx_up_build_free(&out);
    json_decref(b);

    b = build_body("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                   "\"max_tokens\":10,\"max_completion_tokens\":99,\"stop\":\"STOP\","
                   "\"temperature\":null}");
    assert_json_eq(json_object_get(b, "generationConfig"),
                   "{\"maxOutputTokens\":99,\"stopSequences\":[\"STOP\"]}");
    json_decref(b);

    build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                "\"max_tokens\":\"lots\"}",
                "max_tokens");
    build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                "\"stop\":[1]}",
                "stop");
}

static void test_response_format(void **state)
{
    (void)state;
    json_t *b = build_body("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                           "\"response_format\":{\"type\":\"json_object\"}}");
    assert_json_eq(json_object_get(b, "generationConfig"),
                   "{\"responseMimeType\":\"application/json\"}");
    json_decref(b);

    b = build_body("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                   "\"temperature\":0,\"response_format\":{\"type\":\"json_schema\","
                   "\"json_schema\":{\"name\":\"city\",\"strict\":true,\"schema\":{\"type\":"
                   "\"object\",\"properties\":{\"name\":{\"type\":\"string\"},\"pop\":{\"type\":"
                   "\"integer\"}},\"required\":[\"name\"]}}}}");
    assert_json_eq(json_object_get(b, "generationConfig"),
                   "{\"temperature\":0,\"responseMimeType\":\"application/json\","
                   "\"responseSchema\":{\"type\":\"object\",\"properties\":{\"name\":{\"type\":"
                   "\"string\"},\"pop\":{\"type\":\"integer\"}},\"required\":[\"name\"]}}");
    json_decref(b);

    b = build_body("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                   "\"response_format\":{\"type\":\"text\"}}");
    assert_null(json_object_get(b, "generationConfig"));
    json_decref(b);

    build_fails("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                "\"response_format\":{\"type\":\"yaml\"}}",
                "yaml");
}

/* ------------------------------------------------------------ chat_parse */

static json_t *parse_ok(const char *body, lx_tokens_t *u)
{
    char err[256] = "";
    memset(u, 0, sizeof *u);
    json_t *r = A->chat_parse(body, strlen(body), "my-alias", u, err, sizeof err);
    if (r == NULL)
        fail_msg("chat_parse failed: %s", err);
    return r;
}

static void test_parse_text(void **state)
{
    (void)state;
    /* The shape bench/mock/gemini.c answers with. */
    const char *body =
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hello\"},{\"text\":\", world\"}],"
        "\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],"
        "\"usageMetadata\":{\"promptTokenCount\":12,\"candidatesTokenCount\":3,"
        "\"totalTokenCount\":15},\"modelVersion\":\"gemini-2.0-flash\","
        "\"responseId\":\"mock17\"}";
    lx_tokens_t u;
    json_t *r = parse_ok(body, &u);
    assert_string_equal(str_at(r, "id"), "chatcmpl-mock17");
    assert_string_equal(str_at(r, "object"), "chat.completion");
    assert_string_equal(str_at(r, "model"), "my-alias");
    assert_true(json_integer_value(json_object_get(r, "created")) > 1600000000);
    assert_int_equal(json_array_size(json_object_get(r, "choices")), 1);
    assert_int_equal(json_integer_value(at(r, "choices.0.index")), 0);
    assert_string_equal(str_at(r, "choices.0.message.role"), "assistant");
    assert_string_equal(str_at(r, "choices.0.message.content"), "Hello, world");
    assert_null(at(r, "choices.0.message.tool_calls"));
    assert_string_equal(str_at(r, "choices.0.finish_reason"), "stop");
    assert_json_eq(json_object_get(r, "usage"),
                   "{\"prompt_tokens\":12,\"completion_tokens\":3,\"total_tokens\":15,"
                   "\"prompt_tokens_details\":{\"cached_tokens\":0},"
                   "\"completion_tokens_details\":{\"reasoning_tokens\":0}}");
    assert_int_equal(u.in, 12);
    assert_int_equal(u.out, 3);
    assert_int_equal(u.cached, 0);
    json_decref(r);
}

static void test_parse_function_calls(void **state)
{
    (void)state;
    const char *body =
        "{\"candidates\":[{\"content\":{\"parts\":["
        "{\"text\":\"Checking.\"},"
        "{\"functionCall\":{\"name\":\"get_weather\",\"args\":{\"location\":\"Paris\","
        "\"unit\":\"celsius\"}}},"
        "{\"functionCall\":{\"name\":\"get_time\",\"args\":{\"tz\":\"Asia/Tokyo\",\"n\":1.5}}},"
        "{\"functionCall\":{\"name\":\"ping\"}}"
        "],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],"
        "\"usageMetadata\":{\"promptTokenCount\":40,\"candidatesTokenCount\":20,"
        "\"totalTokenCount\":60},\"responseId\":\"r1\"}";
    lx_tokens_t u;
    json_t *r = parse_ok(body, &u);
    assert_string_equal(str_at(r, "choices.0.finish_reason"), "tool_calls");
    assert_string_equal(str_at(r, "choices.0.message.content"), "Checking.");
    assert_json_eq(at(r, "choices.0.message.tool_calls"),
                   "[{\"id\":\"call_0\",\"type\":\"function\",\"function\":{\"name\":"
                   "\"get_weather\",\"arguments\":"
                   "\"{\\\"location\\\":\\\"Paris\\\",\\\"unit\\\":\\\"celsius\\\"}\"}},"
                   "{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":"
                   "\"get_time\",\"arguments\":\"{\\\"tz\\\":\\\"Asia/Tokyo\\\",\\\"n\\\":1.5}\"}},"
                   "{\"id\":\"call_2\",\"type\":\"function\",\"function\":{\"name\":\"ping\","
                   "\"arguments\":\"{}\"}}]");
    json_decref(r);

    /* Only a call: content is null. */
    r = parse_ok("{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"f\","
                 "\"args\":{}}}],\"role\":\"model\"},\"finishReason\":\"STOP\"}]}",
                 &u);
    assert_true(json_is_null(at(r, "choices.0.message.content")));
    assert_string_equal(str_at(r, "choices.0.message.tool_calls.0.id"), "call_0");
    assert_string_equal(str_at(r, "choices.0.message.tool_calls.0.function.arguments"), "{}");
    /* No responseId: an id is generated. */
    assert_true(strncmp(str_at(r, "id"), "chatcmpl-", 9) == 0);
    assert_true(strlen(str_at(r, "id")) > 9);
    json_decref(r);
}

static void test_parse_finish_reasons(void **state)
{
    (void)state;
    static const struct {
        const char *gemini, *openai;
    } cases[] = {
        {"STOP", "stop"},
        {"MAX_TOKENS", "length"},
        {"SAFETY", "content_filter"},
        {"RECITATION", "content_filter"},
        {"BLOCKLIST", "content_filter"},
        {"PROHIBITED_CONTENT", "content_filter"},
        {"SPII", "content_filter"},
        {"MALFORMED_FUNCTION_CALL", "stop"},
        {"OTHER", "stop"},
        {"FINISH_REASON_UNSPECIFIED", "stop"},
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(cases); i++) {
        char body[512];
        snprintf(body, sizeof body,
                 "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"t\"}],\"role\":\"model\"},"
                 "\"finishReason\":\"%s\",\"index\":0}],\"responseId\":\"x\"}",
                 cases[i].gemini);
        lx_tokens_t u;
        json_t *r = parse_ok(body, &u);
        assert_string_equal(str_at(r, "choices.0.finish_reason"), cases[i].openai);
        json_decref(r);
    }
    /* A safety stop with no content at all. */
    lx_tokens_t u;
    json_t *r = parse_ok("{\"candidates\":[{\"finishReason\":\"SAFETY\",\"index\":0,"
                         "\"safetyRatings\":[{\"category\":\"HARM_CATEGORY_HARASSMENT\","
                         "\"probability\":\"HIGH\",\"blocked\":true}]}]}",
                         &u);
    assert_true(json_is_null(at(r, "choices.0.message.content")));
    assert_string_equal(str_at(r, "choices.0.finish_reason"), "content_filter");
    json_decref(r);
}

static void test_parse_usage_thoughts_and_cache(void **state)
{
    (void)state;
    const char *body =
        "{\"candidates\":[{\"content\":{\"parts\":["
        "{\"text\":\"Let me think about primes...\",\"thought\":true},"
        "{\"text\":\"17 is prime.\"}],\"role\":\"model\"},\"finishReason\":\"STOP\"}],"
        "\"usageMetadata\":{\"promptTokenCount\":1000,\"candidatesTokenCount\":5,"
        "\"thoughtsTokenCount\":120,\"cachedContentTokenCount\":800,"
        "\"totalTokenCount\":1125},\"modelVersion\":\"gemini-2.5-pro\",\"responseId\":\"abc\"}";
    lx_tokens_t u;
    json_t *r = parse_ok(body, &u);
    assert_string_equal(str_at(r, "choices.0.message.content"), "17 is prime.");
    assert_json_eq(json_object_get(r, "usage"),
                   "{\"prompt_tokens\":1000,\"completion_tokens\":125,\"total_tokens\":1125,"
                   "\"prompt_tokens_details\":{\"cached_tokens\":800},"
                   "\"completion_tokens_details\":{\"reasoning_tokens\":120}}");
    assert_int_equal(u.in, 1000);
    assert_int_equal(u.out, 125);
    assert_int_equal(u.cached, 800);
    json_decref(r);
}

/* An upstream's counts are clamped to [0, LX_TOKENS_MAX]; sums do not wrap. */
static void test_parse_usage_hostile_counts(void **state)
{
    (void)state;
    const char *body =
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}],\"role\":\"model\"},"
        "\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":"
        "-9223372036854775807,\"candidatesTokenCount\":9223372036854775807,"
        "\"thoughtsTokenCount\":9223372036854775807,\"cachedContentTokenCount\":-1}}";
    lx_tokens_t u;
    json_t *r = parse_ok(body, &u);
    assert_true(u.in == 0);
    assert_true(u.out == LX_TOKENS_MAX);
    assert_true(u.cached == 0);
    assert_json_eq(json_object_get(r, "usage"),
                   "{\"prompt_tokens\":0,\"completion_tokens\":1000000000,"
                   "\"total_tokens\":1000000000,\"prompt_tokens_details\":{\"cached_tokens\":0},"
                   "\"completion_tokens_details\":{\"reasoning_tokens\":1000000000}}");
    json_decref(r);
}

static void test_parse_blocked_prompt(void **state)
{
    (void)state;
    const char *body =
        "{\"promptFeedback\":{\"blockReason\":\"SAFETY\",\"safetyRatings\":[{\"category\":"
        "\"HARM_CATEGORY_DANGEROUS_CONTENT\",\"probability\":\"HIGH\"}]},"
        "\"usageMetadata\":{\"promptTokenCount\":9,\"totalTokenCount\":9},"
        "\"modelVersion\":\"gemini-2.0-flash\",\"responseId\":\"blk\"}";
    lx_tokens_t u;
    json_t *r = parse_ok(body, &u);
    assert_int_equal(json_array_size(json_object_get(r, "choices")), 1);
    assert_true(json_is_null(at(r, "choices.0.message.content")));
    assert_string_equal(str_at(r, "choices.0.message.role"), "assistant");
    assert_string_equal(str_at(r, "choices.0.finish_reason"), "content_filter");
    assert_int_equal(u.in, 9);
    assert_int_equal(u.out, 0);
    json_decref(r);
}

static void test_parse_multiple_candidates(void **state)
{
    (void)state;
    const char *body =
        "{\"candidates\":["
        "{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"f\",\"args\":{\"a\":1}}}],"
        "\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0},"
        "{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"g\",\"args\":{}}}],"
        "\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":1}]}";
    lx_tokens_t u;
    json_t *r = parse_ok(body, &u);
    assert_int_equal(json_array_size(json_object_get(r, "choices")), 2);
    assert_int_equal(json_integer_value(at(r, "choices.1.index")), 1);
    /* Call ids are unique across the whole response. */
    assert_string_equal(str_at(r, "choices.0.message.tool_calls.0.id"), "call_0");
    assert_string_equal(str_at(r, "choices.1.message.tool_calls.0.id"), "call_1");
    json_decref(r);
}

static void test_parse_rejects_other_shapes(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "not json",
        "[]",
        "{\"choices\":[]}",
        "{\"error\":{\"code\":400,\"message\":\"bad\",\"status\":\"INVALID_ARGUMENT\"}}",
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(bad); i++) {
        char err[256] = "";
        lx_tokens_t u = {0};
        assert_null(A->chat_parse(bad[i], strlen(bad[i]), "m", &u, err, sizeof err));
        assert_true(err[0] != '\0');
    }
}

/* ---------------------------------------------------------------- stream */

typedef struct {
    json_t *chunks; /* array of parsed chunks */
} sink_t;

static void collect(void *arg, const char *json, size_t n)
{
    sink_t *s = arg;
    json_error_t e;
    json_t *j = json_loadb(json, n, 0, &e);
    if (j == NULL)
        fail_msg("decoder emitted invalid JSON: %.*s", (int)n, json);
    json_array_append_new(s->chunks, j);
}

static lx_stream_rc_t feed(lx_stream_dec_t *d, const char *data, lx_tokens_t *u, char *err,
                           size_t errlen)
{
    return A->stream_event(d, LX_STR(""), lx_str(data), u, err, errlen);
}

/* A recorded streamGenerateContent?alt=sse answer (event data only; the SSE
 * parser already split on \r\n\r\n). */
static const char *const RECORDED[] = {
    "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"The capital\"}],\"role\":\"model\"},"
    "\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":31,\"totalTokenCount\":31},"
    "\"modelVersion\":\"gemini-2.0-flash\",\"responseId\":\"a1b2c3\"}",
    "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\" of France is Paris.\"},"
    "{\"text\":\" Checking the weather.\"}],\"role\":\"model\"},\"index\":0}],"
    "\"usageMetadata\":{\"promptTokenCount\":31,\"totalTokenCount\":31},"
    "\"modelVersion\":\"gemini-2.0-flash\",\"responseId\":\"a1b2c3\"}",
    "{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"get_weather\","
    "\"args\":{\"location\":\"Paris\",\"unit\":\"celsius\"}}}],\"role\":\"model\"},"
    "\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":31,\"totalTokenCount\":31},"
    "\"modelVersion\":\"gemini-2.0-flash\",\"responseId\":\"a1b2c3\"}",
    "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"\"}],\"role\":\"model\"},"
    "\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":31,"
    "\"candidatesTokenCount\":14,\"thoughtsTokenCount\":6,\"cachedContentTokenCount\":8,"
    "\"totalTokenCount\":51},\"modelVersion\":\"gemini-2.0-flash\",\"responseId\":\"a1b2c3\"}",
};

static json_t *run_recorded(bool include_usage, lx_tokens_t *u)
{
    sink_t s = {json_array()};
    lx_stream_dec_t *d =
        A->stream_new("alias-model", "chatcmpl-fixed42", include_usage, collect, &s);
    char err[256] = "";
    memset(u, 0, sizeof *u);
    for (size_t i = 0; i < LX_ARRAY_LEN(RECORDED); i++) {
        lx_stream_rc_t rc = feed(d, RECORDED[i], u, err, sizeof err);
        if (i + 1 < LX_ARRAY_LEN(RECORDED))
            assert_int_equal(rc, LX_STREAM_MORE);
        else
            assert_int_equal(rc, LX_STREAM_END);
        if (i == 0) { /* usage is reported as it arrives */
            assert_int_equal(u->in, 31);
            assert_int_equal(u->out, 0);
        }
    }
    A->stream_free(d);
    return s.chunks;
}

static void test_stream_recorded(void **state)
{
    (void)state;
    lx_tokens_t u;
    json_t *chunks = run_recorded(true, &u);
    /* role, 3 text, tool call, finish, usage */
    assert_int_equal(json_array_size(chunks), 7);
    json_int_t created = json_integer_value(at(chunks, "0.created"));
    assert_true(created > 1600000000);
    size_t i;
    json_t *c;
    lx_buf_t text;
    lx_buf_init(&text, 0);
    json_array_foreach(chunks, i, c)
    {
        assert_string_equal(str_at(c, "id"), "chatcmpl-fixed42");
        assert_string_equal(str_at(c, "model"), "alias-model");
        assert_string_equal(str_at(c, "object"), "chat.completion.chunk");
        assert_int_equal(json_integer_value(json_object_get(c, "created")), created);
        const char *t = str_at(c, "choices.0.delta.content");
        if (t)
            lx_buf_append_cstr(&text, t);
    }
    assert_string_equal(text.p, "The capital of France is Paris. Checking the weather.");
    lx_buf_free(&text);

    assert_json_eq(at(chunks, "0.choices"), "[{\"index\":0,\"delta\":{\"role\":\"assistant\","
                                            "\"content\":\"\"},\"logprobs\":null,"
                                            "\"finish_reason\":null}]");
    assert_json_eq(at(chunks, "1.choices.0.delta"), "{\"content\":\"The capital\"}");
    assert_json_eq(at(chunks, "4.choices.0.delta"),
                   "{\"tool_calls\":[{\"index\":0,\"id\":\"call_0\",\"type\":\"function\","
                   "\"function\":{\"name\":\"get_weather\",\"arguments\":"
                   "\"{\\\"location\\\":\\\"Paris\\\",\\\"unit\\\":\\\"celsius\\\"}\"}}]}");
    assert_json_eq(at(chunks, "5.choices"), "[{\"index\":0,\"delta\":{},\"logprobs\":null,"
                                            "\"finish_reason\":\"tool_calls\"}]");
    assert_null(at(chunks, "5.usage"));
    assert_json_eq(at(chunks, "6.choices"), "[]");
    assert_json_eq(at(chunks, "6.usage"),
                   "{\"prompt_tokens\":31,\"completion_tokens\":20,\"total_tokens\":51,"
                   "\"prompt_tokens_details\":{\"cached_tokens\":8},"
                   "\"completion_tokens_details\":{\"reasoning_tokens\":6}}");
    assert_int_equal(u.in, 31);
    assert_int_equal(u.out, 20);
    assert_int_equal(u.cached, 8);
    json_decref(chunks);
}

static void test_stream_without_include_usage(void **state)
{
    (void)state;
    lx_tokens_t u;
    json_t *chunks = run_recorded(false, &u);
    assert_int_equal(json_array_size(chunks), 6);
    size_t i;
    json_t *c;
    json_array_foreach(chunks, i, c)
    {
        assert_null(json_object_get(c, "usage"));
        assert_int_equal(json_array_size(json_object_get(c, "choices")), 1);
    }
    assert_string_equal(str_at(chunks, "5.choices.0.finish_reason"), "tool_calls");
    /* usage is still reported to the caller. */
    assert_int_equal(u.in, 31);
    assert_int_equal(u.out, 20);
    json_decref(chunks);
}

static void test_stream_mock_text_and_finish_reasons(void **state)
{
    (void)state;
    /* What bench/mock/gemini.c streams, with MAX_TOKENS on the last event. */
    static const char *const ev[] = {
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"tok0 \"}],\"role\":\"model\"},"
        "\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":5,\"totalTokenCount\":5},"
        "\"modelVersion\":\"m\",\"responseId\":\"mock3\"}",
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"tok1 \"}],\"role\":\"model\"},"
        "\"finishReason\":\"MAX_TOKENS\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":5,"
        "\"candidatesTokenCount\":2,\"totalTokenCount\":7},\"modelVersion\":\"m\","
        "\"responseId\":\"mock3\"}",
    };
    sink_t s = {json_array()};
    lx_stream_dec_t *d = A->stream_new("m", "id1", true, collect, &s);
    lx_tokens_t u = {0};
    char err[256] = "";
    assert_int_equal(feed(d, "", &u, err, sizeof err), LX_STREAM_MORE); /* empty event */
    assert_int_equal(json_array_size(s.chunks), 0);
    assert_int_equal(feed(d, ev[0], &u, err, sizeof err), LX_STREAM_MORE);
    assert_int_equal(feed(d, ev[1], &u, err, sizeof err), LX_STREAM_END);
    /* role, tok0, tok1, finish, usage */
    assert_int_equal(json_array_size(s.chunks), 5);
    assert_string_equal(str_at(s.chunks, "3.choices.0.finish_reason"), "length");
    assert_int_equal(json_integer_value(at(s.chunks, "4.usage.completion_tokens")), 2);
    assert_int_equal(u.in, 5);
    assert_int_equal(u.out, 2);
    A->stream_free(d);
    json_decref(s.chunks);

    /* SAFETY finish and a blocked prompt both end as content_filter. */
    s.chunks = json_array();
    d = A->stream_new("m", "id2", false, collect, &s);
    assert_int_equal(feed(d,
                          "{\"promptFeedback\":{\"blockReason\":\"PROHIBITED_CONTENT\"},"
                          "\"usageMetadata\":{\"promptTokenCount\":4,\"totalTokenCount\":4}}",
                          &u, err, sizeof err),
                     LX_STREAM_END);
    assert_int_equal(json_array_size(s.chunks), 2);
    assert_string_equal(str_at(s.chunks, "0.choices.0.delta.role"), "assistant");
    assert_string_equal(str_at(s.chunks, "1.choices.0.finish_reason"), "content_filter");
    A->stream_free(d);
    json_decref(s.chunks);
}

static void test_stream_function_call_only(void **state)
{
    (void)state;
    /* The mock's tool answer: one event with the call and the finishReason. */
    sink_t s = {json_array()};
    lx_stream_dec_t *d = A->stream_new("m", "id3", false, collect, &s);
    lx_tokens_t u = {0};
    char err[256] = "";
    assert_int_equal(
        feed(d,
             "{\"candidates\":[{\"content\":{\"parts\":["
             "{\"functionCall\":{\"name\":\"a\",\"args\":{\"x\":1}}},"
             "{\"functionCall\":{\"name\":\"b\",\"args\":{}}}],\"role\":\"model\"},"
             "\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":3,"
             "\"candidatesTokenCount\":7,\"totalTokenCount\":10},\"responseId\":\"r\"}",
             &u, err, sizeof err),
        LX_STREAM_END);
    assert_int_equal(json_array_size(s.chunks), 4);
    assert_int_equal(json_integer_value(at(s.chunks, "1.choices.0.delta.tool_calls.0.index")), 0);
    assert_string_equal(str_at(s.chunks, "1.choices.0.delta.tool_calls.0.id"), "call_0");
    assert_string_equal(str_at(s.chunks, "1.choices.0.delta.tool_calls.0.function.arguments"),
                        "{\"x\":1}");
    assert_int_equal(json_integer_value(at(s.chunks, "2.choices.0.delta.tool_calls.0.index")), 1);
    assert_string_equal(str_at(s.chunks, "2.choices.0.delta.tool_calls.0.id"), "call_1");
    assert_string_equal(str_at(s.chunks, "2.choices.0.delta.tool_calls.0.function.name"), "b");
    assert_string_equal(str_at(s.chunks, "3.choices.0.finish_reason"), "tool_calls");
    /* Anything after the end is ignored. */
    assert_int_equal(feed(d, RECORDED[0], &u, err, sizeof err), LX_STREAM_END);
    assert_int_equal(json_array_size(s.chunks), 4);
    A->stream_free(d);
    json_decref(s.chunks);
}

static void test_stream_error_event(void **state)
{
    (void)state;
    sink_t s = {json_array()};
    lx_stream_dec_t *d = A->stream_new("m", "id4", true, collect, &s);
    lx_tokens_t u = {0};
    char err[256] = "";
    assert_int_equal(feed(d, RECORDED[0], &u, err, sizeof err), LX_STREAM_MORE);
    assert_int_equal(feed(d,
                          "{\"error\":{\"code\":500,\"message\":\"upstream failure\","
                          "\"status\":\"INTERNAL\"}}",
                          &u, err, sizeof err),
                     LX_STREAM_FAILED);
    assert_string_equal(err, "upstream failure");
    /* No fake finish chunk was emitted. */
    size_t i;
    json_t *c;
    json_array_foreach(s.chunks, i, c)
    {
        assert_true(json_is_null(at(c, "choices.0.finish_reason")));
    }
    A->stream_free(d);
    json_decref(s.chunks);

    /* A truncated event (the mock's "malformed" fault). */
    s.chunks = json_array();
    d = A->stream_new("m", "id5", false, collect, &s);
    err[0] = '\0';
    assert_int_equal(
        feed(d, "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"", &u, err, sizeof err),
        LX_STREAM_FAILED);
    assert_true(err[0] != '\0');
    A->stream_free(d);
    json_decref(s.chunks);
}

/* ------------------------------------------------------------ embeddings */

static void embed_build_ok(const char *req_json, lx_up_build_t *out, json_t **body)
{
    lx_provider_conf_t p = provider();
    json_t *req = parse(req_json);
    char err[256] = "";
    lx_up_build_init(out);
    int rc = A->embed_build(&p, req, out, err, sizeof err);
    json_decref(req);
    if (rc != LX_OK)
        fail_msg("embed_build failed: %s", err);
    *body = json_loadb(out->body.p, out->body.n, 0, NULL);
    assert_non_null(*body);
}

static void test_embed_single(void **state)
{
    (void)state;
    lx_up_build_t out;
    json_t *b;
    embed_build_ok(
        "{\"model\":\"text-embedding-004\",\"input\":\"hello world\",\"dimensions\":256}", &out,
        &b);
    assert_string_equal(out.url.p, "https://generativelanguage.googleapis.com/v1beta/models/"
                                   "text-embedding-004:embedContent");
    assert_null(strstr(out.url.p, KEY));
    assert_string_equal(header(&out, "x-goog-api-key"), KEY);
    assert_json_eq(b, "{\"content\":{\"parts\":[{\"text\":\"hello world\"}]},"
                      "\"outputDimensionality\":256}");
    json_decref(b);
    lx_up_build_free(&out);

    const char *resp = "{\"embedding\":{\"values\":[0.25,-0.5,0.125]}}";
    char err[256] = "";
    lx_tokens_t u = {0};
    json_t *r = A->embed_parse(resp, strlen(resp), "emb-alias", &u, err, sizeof err);
    assert_non_null(r);
    assert_json_eq(r, "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,"
                      "\"embedding\":[0.25,-0.5,0.125]}],\"model\":\"emb-alias\","
                      "\"usage\":{\"prompt_tokens\":0,\"total_tokens\":0}}");
    assert_int_equal(u.in, 0);
    json_decref(r);
}

static void test_embed_batch(void **state)
{
    (void)state;
    lx_up_build_t out;
    json_t *b;
    embed_build_ok("{\"model\":\"text-embedding-004\",\"input\":[\"a\",\"bb\"]}", &out, &b);
    assert_string_equal(out.url.p, "https://generativelanguage.googleapis.com/v1beta/models/"
                                   "text-embedding-004:batchEmbedContents");
    assert_json_eq(b, "{\"requests\":["
                      "{\"model\":\"models/text-embedding-004\",\"content\":{\"parts\":"
                      "[{\"text\":\"a\"}]}},"
                      "{\"model\":\"models/text-embedding-004\",\"content\":{\"parts\":"
                      "[{\"text\":\"bb\"}]}}]}");
    json_decref(b);
    lx_up_build_free(&out);

    embed_build_ok("{\"model\":\"models/e\",\"input\":[\"a\"],\"dimensions\":8}", &out, &b);
    assert_string_equal(out.url.p, "https://generativelanguage.googleapis.com/v1beta/models/"
                                   "e:batchEmbedContents");
    assert_json_eq(b, "{\"requests\":[{\"model\":\"models/e\",\"content\":{\"parts\":"
                      "[{\"text\":\"a\"}]},\"outputDimensionality\":8}]}");
    json_decref(b);
    lx_up_build_free(&out);

    const char *resp = "{\"embeddings\":[{\"values\":[1,2]},{\"values\":[3.5,4]}]}";
    char err[256] = "";
    lx_tokens_t u = {0};
    json_t *r = A->embed_parse(resp, strlen(resp), "e", &u, err, sizeof err);
    assert_non_null(r);
    assert_json_eq(r, "{\"object\":\"list\",\"data\":["
                      "{\"object\":\"embedding\",\"index\":0,\"embedding\":[1,2]},"
                      "{\"object\":\"embedding\",\"index\":1,\"embedding\":[3.5,4]}],"
                      "\"model\":\"e\",\"usage\":{\"prompt_tokens\":0,\"total_tokens\":0}}");
    json_decref(r);
}

static void test_embed_errors(void **state)
{
    (void)state;
    static const char *bad[] = {
        "{\"model\":\"e\",\"input\":[1,2,3]}",
        "{\"model\":\"e\",\"input\":[[1,2],[3]]}",
        "{\"model\":\"e\",\"input\":[]}",
        "{\"model\":\"e\"}",
    };
    lx_provider_conf_t p = provider();
    for (size_t i = 0; i < LX_ARRAY_LEN(bad); i++) {
        json_t *req = parse(bad[i]);
        char err[256] = "";
        lx_up_build_t out;
        lx_up_build_init(&out);
        assert_int_equal(A->embed_build(&p, req, &out, err, sizeof err), LX_ERROR);
        assert_string_equal(err, "Gemini embeddings need text input");
        lx_up_build_free(&out);
        json_decref(req);
    }
    const char *resp = "{\"data\":[]}";
    char err[256] = "";
    lx_tokens_t u = {0};
    assert_null(A->embed_parse(resp, strlen(resp), "e", &u, err, sizeof err));
    assert_true(err[0] != '\0');
}

/* ---------------------------------------------------------------- errors */

static void test_error_message(void **state)
{
    (void)state;
    char out[128];
    const char *b1 = "{\"error\":{\"code\":400,\"message\":\"API key not valid. Please pass a "
                     "valid API key.\",\"status\":\"INVALID_ARGUMENT\"}}";
    A->error_message(b1, strlen(b1), out, sizeof out);
    assert_string_equal(out, "API key not valid. Please pass a valid API key.");
    const char *b2 = "[{\"error\":{\"code\":429,\"message\":\"Resource has been exhausted\","
                     "\"status\":\"RESOURCE_EXHAUSTED\"}}]";
    A->error_message(b2, strlen(b2), out, sizeof out);
    assert_string_equal(out, "Resource has been exhausted");
    const char *b3 = "<html>502</html>";
    A->error_message(b3, strlen(b3), out, sizeof out);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_and_key_header),
        cmocka_unit_test(test_stream_url_keeps_model_chars),
        cmocka_unit_test(test_model_prefix_and_unsafe_chars),
        cmocka_unit_test(test_no_key_no_header),
        cmocka_unit_test(test_missing_model_or_messages),
        cmocka_unit_test(test_system_instruction),
        cmocka_unit_test(test_roles_and_merging),
        cmocka_unit_test(test_images),
        cmocka_unit_test(test_unsupported_parts),
        cmocka_unit_test(test_audio_and_file_parts),
        cmocka_unit_test(test_tool_call_round_trip),
        cmocka_unit_test(test_tool_message_edge_cases),
        cmocka_unit_test(test_tool_choice),
        cmocka_unit_test(test_generation_config),
        cmocka_unit_test(test_response_format),
        cmocka_unit_test(test_parse_text),
        cmocka_unit_test(test_parse_function_calls),
        cmocka_unit_test(test_parse_finish_reasons),
        cmocka_unit_test(test_parse_usage_thoughts_and_cache),
        cmocka_unit_test(test_parse_usage_hostile_counts),
        cmocka_unit_test(test_parse_blocked_prompt),
        cmocka_unit_test(test_parse_multiple_candidates),
        cmocka_unit_test(test_parse_rejects_other_shapes),
        cmocka_unit_test(test_stream_recorded),
        cmocka_unit_test(test_stream_without_include_usage),
        cmocka_unit_test(test_stream_mock_text_and_finish_reasons),
        cmocka_unit_test(test_stream_function_call_only),
        cmocka_unit_test(test_stream_error_event),
        cmocka_unit_test(test_embed_single),
        cmocka_unit_test(test_embed_batch),
        cmocka_unit_test(test_embed_errors),
        cmocka_unit_test(test_error_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
