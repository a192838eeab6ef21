/* test_input.c - client bodies of media tasks and the OpenAI video object
 * (src/media/input.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "media/input.h"
#include "media_test.h"

typedef json_t *(*reader_t)(const json_t *, lx_media_problem_t *);

static void expect_ok(reader_t f, const char *body, const char *want)
{
    json_t *b = J(body), *w = J(want);
    lx_media_problem_t p = {{0}, {0}};
    json_t *got = f(b, &p);
    if (got == NULL)
        fail_msg("%s refused: %s: %s", body, p.param, p.message);
    if (!json_equal(got, w)) {
        char *s = json_dumps(got, JSON_SORT_KEYS);
        fail_msg("%s -> %s", body, s);
    }
    json_decref(got);
    json_decref(w);
    json_decref(b);
}

static void expect_refused(reader_t f, const char *body, const char *param, const char *words)
{
    json_t *b = J(body);
    lx_media_problem_t p = {{0}, {0}};
    json_t *got = f(b, &p);
    if (got != NULL)
        fail_msg("%s was taken", body);
    if (strcmp(p.param, param) != 0 || strstr(p.message, words) == NULL)
        fail_msg("%s: param \"%s\", message \"%s\"", body, p.param, p.message);
    /* The message names the field it is about. */
    if (*param && strstr(p.message, param) == NULL)
        fail_msg("%s: the message \"%s\" does not name %s", body, p.message, param);
    json_decref(b);
}

static void test_native_video(void **state)
{
    (void)state;
    expect_ok(
        lx_media_video_input,
        "{\"model\":\"openai/sora-2\",\"prompt\":\"a fox\",\"seconds\":8,\"size\":"
        "\"1280x720\",\"image\":\"https://i.example/a.png\",\"callback_url\":"
        "\"https://hooks.example/done?x=1\",\"metadata\":{\"order\":\"42\"}}",
        "{\"type\":\"video.generate\",\"model\":\"openai/sora-2\",\"prompt\":\"a fox\","
        "\"seconds\":8,\"size\":\"1280x720\",\"image\":\"https://i.example/a.png\","
        "\"callback_url\":\"https://hooks.example/done?x=1\",\"metadata\":{\"order\":\"42\"}}");
    expect_ok(lx_media_video_input, "{\"model\":\"m\",\"prompt\":\"p\",\"seconds\":null}",
              "{\"type\":\"video.generate\",\"model\":\"m\",\"prompt\":\"p\"}");
    expect_ok(lx_media_video_input,
              "{\"model\":\"m\",\"prompt\":\"p\",\"image\":\"data:image/png;base64,iVBO\"}",
              "{\"type\":\"video.generate\",\"model\":\"m\",\"prompt\":\"p\",\"image\":"
              "\"data:image/png;base64,iVBO\"}");

    reader_t f = lx_media_video_input;
    expect_refused(f, "[]", "", "JSON object");
    expect_refused(f, "{\"prompt\":\"p\"}", "model", "required");
    expect_refused(f, "{\"model\":\"m\"}", "prompt", "required");
    expect_refused(f, "{\"model\":\"m\",\"prompt\":\"\"}", "prompt", "1 to");
    expect_refused(f, "{\"model\":7,\"prompt\":\"p\"}", "model", "must be a string");
    expect_refused(f, "{\"model\":\"m\",\"prompt\":\"p\",\"seconds\":\"8\"}", "seconds",
                   "whole number");
    expect_refused(f, "{\"model\":\"m\",\"prompt\":\"p\",\"seconds\":0}", "seconds", "from 1");
    expect_refused(f, "{\"model\":\"m\",\"prompt\":\"p\",\"seconds\":2.5}", "seconds", "whole");
    expect_refused(f, "{\"model\":\"m\",\"prompt\":\"p\",\"seconds\":601}", "seconds", "600");
    expect_refused(f, "{\"model\":\"m\",\"prompt\":\"p\",\"size\":\"big\"}", "size", "WIDTHx");
    expect_refused(f, "{\"model\":\"m\",\"prompt\":\"p\",\"size\":\"0x720\"}", "size", "WIDTHx");
    expect_refused(f, "{\"model\":\"m\",\"prompt\":\"p\",\"image\":\"file:///etc/passwd\"}",
                   "image", "http(s) URL");
    expect_refused(f, "{\"model\":\"m\",\"prompt\":\"p\",\"callback_url\":\"ftp://x\"}",
                   "callback_url", "http://");
    expect_refused(
        f, "{\"model\":\"m\",\"prompt\":\"p\",\"callback_url\":\"https://u:pw@h.example/\"}",
        "callback_url", "user:password");
    expect_refused(f, "{\"model\":\"m\",\"prompt\":\"p\",\"callback_url\":\"https://h x\"}",
                   "callback_url", "URL");
    expect_refused(f, "{\"model\":\"m\",\"prompt\":\"p\",\"metadata\":[1]}", "metadata", "object");
    expect_refused(f, "{\"model\":\"m\",\"prompt\":\"p\",\"metadata\":{\"a\":1}}", "metadata",
                   "values strings");
    expect_refused(f, "{\"model\":\"m\",\"prompt\":\"p\",\"duration\":5}", "duration",
                   "unknown field");
}

static void test_native_image(void **state)
{
    (void)state;
    expect_ok(lx_media_image_input,
              "{\"model\":\"gpt-image-1\",\"prompt\":\"a cat\",\"n\":2,\"size\":\"auto\","
              "\"quality\":\"high\",\"response_format\":\"b64_json\",\"metadata\":{}}",
              "{\"type\":\"image.generate\",\"model\":\"gpt-image-1\",\"prompt\":\"a cat\","
              "\"n\":2,\"size\":\"auto\",\"quality\":\"high\",\"response_format\":\"b64_json\","
              "\"metadata\":{}}");
    reader_t f = lx_media_image_input;
    expect_refused(f, "{\"model\":\"m\",\"prompt\":\"p\",\"n\":11}", "n", "from 1 to 10");
    expect_refused(f, "{\"model\":\"m\",\"prompt\":\"p\",\"n\":\"2\"}", "n", "whole number");
    expect_refused(f, "{\"model\":\"m\",\"prompt\":\"p\",\"response_format\":\"png\"}",
                   "response_format", "\"url\" or \"b64_json\"");
    expect_refused(f, "{\"model\":\"m\",\"prompt\":\"p\",\"quality\":5}", "quality", "string");
    expect_refused(f, "{\"model\":\"m\",\"prompt\":\"p\",\"seconds\":5}", "seconds", "unknown");
}

static void test_openai_compatible_video(void **state)
{
    (void)state;
    expect_ok(lx_media_openai_video_input,
              "{\"model\":\"sora-2-pro\",\"prompt\":\"a fox\",\"seconds\":\"12\",\"size\":"
              "\"1792x1024\",\"input_reference\":{\"image_url\":\"https://i.example/a.png\"}}",
              "{\"type\":\"video.generate\",\"model\":\"sora-2-pro\",\"prompt\":\"a fox\","
              "\"seconds\":12,\"size\":\"1792x1024\",\"image\":\"https://i.example/a.png\"}");
    /* OpenAI's default model. */
    expect_ok(lx_media_openai_video_input, "{\"prompt\":\"p\"}",
              "{\"type\":\"video.generate\",\"model\":\"sora-2\",\"prompt\":\"p\"}");
    reader_t f = lx_media_openai_video_input;
    expect_refused(f, "{\"prompt\":\"p\",\"seconds\":8}", "seconds", "a string");
    expect_refused(f, "{\"prompt\":\"p\",\"seconds\":\"8s\"}", "seconds", "a string");
    expect_refused(f, "{\"prompt\":\"p\",\"seconds\":\"0\"}", "seconds", "a string");
    expect_refused(f, "{\"prompt\":\"p\",\"seconds\":\"-4\"}", "seconds", "a string");
    expect_refused(f, "{\"prompt\":\"p\",\"size\":\"1280:720\"}", "size", "WIDTHx");
    expect_refused(f, "{\"prompt\":\"p\",\"input_reference\":{\"file_id\":\"file_1\"}}",
                   "input_reference", "file_id is not supported");
    expect_refused(f, "{\"prompt\":\"p\",\"input_reference\":\"https://i.example/a.png\"}",
                   "input_reference", "image_url");
    expect_refused(f, "{\"prompt\":\"p\",\"input_reference\":{\"image_url\":\"gopher://x\"}}",
                   "input_reference", "image_url");
    expect_refused(f, "{\"prompt\":\"p\",\"callback_url\":\"https://x.example\"}", "callback_url",
                   "unknown field");
    expect_refused(f, "{\"model\":\"sora-2\"}", "prompt", "required");
}

static void test_video_object(void **state)
{
    (void)state;
    static const struct {
        const char *task, *openai;
    } st[] = {{"queued", "queued"},       {"submitting", "queued"}, {"running", "in_progress"},
              {"succeeded", "completed"}, {"failed", "failed"},     {"cancelled", "failed"},
              {"expired", "failed"},      {"bogus", "failed"}};
    for (size_t i = 0; i < LX_ARRAY_LEN(st); i++)
        assert_string_equal(lx_media_openai_video_status(st[i].task), st[i].openai);

    lx_media_video_view_t v = {.id = "task_1",
                               .model = "sora-2",
                               .status = "running",
                               .progress = 40,
                               .created_at = 1700000000,
                               .prompt = "a fox",
                               .size = "1280x720",
                               .seconds = 8};
    json_t *o = lx_media_openai_video_object(&v);
    json_t *want =
        J("{\"id\":\"task_1\",\"object\":\"video\",\"model\":\"sora-2\",\"status\":"
          "\"in_progress\",\"progress\":40,\"created_at\":1700000000,"
          "\"completed_at\":null,\"expires_at\":null,\"prompt\":\"a fox\",\"size\":"
          "\"1280x720\",\"seconds\":\"8\",\"remixed_from_video_id\":null,\"error\":null}");
    assert_true(json_equal(o, want));
    json_decref(o);
    json_decref(want);

    v.status = "succeeded";
    v.progress = 97;
    v.completed_at = 1700000100;
    o = lx_media_openai_video_object(&v);
    assert_string_equal(json_string_value(json_object_get(o, "status")), "completed");
    assert_int_equal(json_integer_value(json_object_get(o, "progress")), 100);
    assert_int_equal(json_integer_value(json_object_get(o, "completed_at")), 1700000100);
    assert_true(json_is_null(json_object_get(o, "error")));
    json_decref(o);

    v.status = "failed";
    v.error_code = "moderation_blocked";
    v.error_message = "blocked";
    o = lx_media_openai_video_object(&v);
    want = J("{\"code\":\"moderation_blocked\",\"message\":\"blocked\"}");
    assert_true(json_equal(json_object_get(o, "error"), want));
    json_decref(want);
    json_decref(o);

    lx_media_video_view_t c = {.id = "t", .status = "cancelled", .progress = 150};
    o = lx_media_openai_video_object(&c);
    assert_string_equal(json_string_value(json_object_get(o, "status")), "failed");
    assert_int_equal(json_integer_value(json_object_get(o, "progress")), 100);
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "error"), "code")),
                        "cancelled");
    assert_string_equal(json_string_value(json_object_get(o, "seconds")), "");
    assert_true(json_is_null(json_object_get(o, "prompt")));
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_native_video),
        cmocka_unit_test(test_native_image),
        cmocka_unit_test(test_openai_compatible_video),
        cmocka_unit_test(test_video_object),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
