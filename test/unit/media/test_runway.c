/* test_runway.c - the Runway adapter (src/media/runway.c): the two submit
 * endpoints and bodies as Runway documents them, X-Runway-Version, every
 * task status, progress 0-1, failure classes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "media_test.h"

static const lx_media_adapter_t *A = &lx_media_runway;

static int build(lx_job_op_t op, const lx_job_ctx_t *ctx, lx_job_req_t *r)
{
    char err[128];
    return A->build(A, op, ctx, r, err, sizeof err);
}

static void test_text_to_video(void **state)
{
    (void)state;
    json_t *in = J("{\"type\":\"video.generate\",\"model\":\"gen4.5\",\"prompt\":\"waves\","
                   "\"seconds\":5,\"size\":\"1280x720\",\"metadata\":{\"a\":\"b\"}}");
    lx_job_ctx_t ctx = {.base_url = "https://api.dev.runwayml.com/v1",
                        .key = "key_1",
                        .idempotency_key = "t1",
                        .input = in};
    lx_job_req_t r;
    assert_int_equal(build(LX_JOB_OP_SUBMIT, &ctx, &r), LX_OK);
    assert_string_equal(r.method, "POST");
    assert_string_equal(r.url, "https://api.dev.runwayml.com/v1/text_to_video");
    assert_string_equal(lx_job_req_header(&r, "Authorization"), "Bearer key_1");
    assert_string_equal(lx_job_req_header(&r, "X-Runway-Version"), "2024-11-06");
    assert_null(lx_job_req_header(&r, "Idempotency-Key")); /* Runway takes none */
    assert_body_json(&r, "{\"model\":\"gen4.5\",\"promptText\":\"waves\",\"ratio\":\"1280:720\","
                         "\"duration\":5}");
    lx_job_req_free(&r);
    json_decref(in);

    in = J("{\"model\":\"gen4.5\",\"prompt\":\"waves\"}"); /* the default ratio */
    ctx.input = in;
    assert_int_equal(build(LX_JOB_OP_SUBMIT, &ctx, &r), LX_OK);
    assert_body_json(&r, "{\"model\":\"gen4.5\",\"promptText\":\"waves\",\"ratio\":\"1280:720\"}");
    lx_job_req_free(&r);
    json_decref(in);

    in = J("{\"model\":\"gen4.5\",\"prompt\":\"waves\",\"size\":\"wide\"}");
    ctx.input = in;
    assert_int_equal(build(LX_JOB_OP_SUBMIT, &ctx, &r), LX_ERROR);
    json_decref(in);
}

static void test_image_to_video(void **state)
{
    (void)state;
    json_t *in = J("{\"model\":\"gen4_turbo\",\"prompt\":\"zoom\",\"seconds\":10,"
                   "\"size\":\"720x1280\",\"image\":\"https://i.example/a.png\"}");
    lx_job_ctx_t ctx = {
        .base_url = "https://api.dev.runwayml.com/v1/", .key = "key_1", .input = in};
    lx_job_req_t r;
    assert_int_equal(build(LX_JOB_OP_SUBMIT, &ctx, &r), LX_OK);
    assert_string_equal(r.url, "https://api.dev.runwayml.com/v1/image_to_video");
    assert_body_json(&r, "{\"model\":\"gen4_turbo\",\"promptImage\":\"https://i.example/a.png\","
                         "\"promptText\":\"zoom\",\"ratio\":\"720:1280\",\"duration\":10}");
    lx_job_req_free(&r);
    json_decref(in);
}

static void test_poll_and_cancel(void **state)
{
    (void)state;
    lx_job_ctx_t ctx = {
        .base_url = "https://api.dev.runwayml.com/v1", .key = "k", .job_id = "17f20503-6c24"};
    lx_job_req_t r;
    assert_int_equal(build(LX_JOB_OP_POLL, &ctx, &r), LX_OK);
    assert_string_equal(r.method, "GET");
    assert_string_equal(r.url, "https://api.dev.runwayml.com/v1/tasks/17f20503-6c24");
    assert_string_equal(lx_job_req_header(&r, "X-Runway-Version"), "2024-11-06");
    lx_job_req_free(&r);
    assert_int_equal(build(LX_JOB_OP_CANCEL, &ctx, &r), LX_OK);
    assert_string_equal(r.method, "DELETE");
    assert_string_equal(r.url, "https://api.dev.runwayml.com/v1/tasks/17f20503-6c24");
    lx_job_req_free(&r);
    ctx.job_id = "a/../../b";
    assert_int_equal(build(LX_JOB_OP_POLL, &ctx, &r), LX_OK);
    assert_string_equal(r.url, "https://api.dev.runwayml.com/v1/tasks/a%2F..%2F..%2Fb");
    lx_job_req_free(&r);
    assert_int_equal(build(LX_JOB_OP_CONTENT, &ctx, &r), LX_ERROR);
    assert_false(lx_media_adapter_can(A, LX_JOB_OP_CONTENT));
    assert_false(A->idempotent_submit);
}

static void test_every_status(void **state)
{
    (void)state;
    lx_job_result_t r;
    parse_answer(A, LX_JOB_OP_SUBMIT, 200, "{\"id\":\"t-1\"}", NULL, &r);
    assert_int_equal(r.state, LX_JOB_QUEUED);
    assert_string_equal(r.job_id, "t-1");
    lx_job_result_free(&r);

    parse_answer(A, LX_JOB_OP_SUBMIT, 200, "{\"task\":\"t-1\"}", NULL, &r);
    assert_int_equal(r.state, LX_JOB_NONE);
    assert_string_equal(r.error_code, "bad_answer");
    lx_job_result_free(&r);

    static const struct {
        const char *status;
        lx_job_state_t want;
    } simple[] = {
        {"PENDING", LX_JOB_QUEUED}, {"THROTTLED", LX_JOB_QUEUED}, {"CANCELLED", LX_JOB_CANCELLED}};
    for (size_t i = 0; i < LX_ARRAY_LEN(simple); i++) {
        char body[128];
        snprintf(body, sizeof body, "{\"id\":\"t-1\",\"status\":\"%s\"}", simple[i].status);
        parse_answer(A, LX_JOB_OP_POLL, 200, body, NULL, &r);
        assert_int_equal(r.state, simple[i].want);
        lx_job_result_free(&r);
    }

    parse_answer(A, LX_JOB_OP_POLL, 200,
                 "{\"id\":\"t-1\",\"status\":\"RUNNING\",\"progress\":0.37}", NULL, &r);
    assert_int_equal(r.state, LX_JOB_RUNNING);
    assert_int_equal(r.progress, 37);
    lx_job_result_free(&r);
    parse_answer(A, LX_JOB_OP_POLL, 200,
                 "{\"id\":\"t-1\",\"status\":\"RUNNING\",\"progress\":null}", NULL, &r);
    assert_int_equal(r.state, LX_JOB_RUNNING);
    assert_int_equal(r.progress, -1);
    lx_job_result_free(&r);
    parse_answer(A, LX_JOB_OP_POLL, 200, "{\"id\":\"t-1\",\"status\":\"RUNNING\",\"progress\":1.7}",
                 NULL, &r);
    assert_int_equal(r.progress, 100);
    lx_job_result_free(&r);

    parse_answer(A, LX_JOB_OP_POLL, 200,
                 "{\"id\":\"t-1\",\"status\":\"SUCCEEDED\",\"createdAt\":\"2024-11-30T07:06:07Z\","
                 "\"output\":[\"https://cdn.example/a.mp4\",\"https://cdn.example/b.mp4\"]}",
                 NULL, &r);
    assert_int_equal(r.state, LX_JOB_SUCCEEDED);
    assert_int_equal(r.progress, 100);
    assert_string_equal(out_url(&r, 0), "https://cdn.example/a.mp4");
    assert_string_equal(out_url(&r, 1), "https://cdn.example/b.mp4");
    lx_job_result_free(&r);

    parse_answer(A, LX_JOB_OP_POLL, 200, "{\"id\":\"t-1\",\"status\":\"SUCCEEDED\",\"output\":[]}",
                 NULL, &r);
    assert_int_equal(r.state, LX_JOB_NONE);
    assert_string_equal(r.error_code, "bad_answer");
    lx_job_result_free(&r);

    parse_answer(A, LX_JOB_OP_POLL, 200, "{\"id\":\"t-1\",\"status\":\"PAUSED\"}", NULL, &r);
    assert_int_equal(r.state, LX_JOB_NONE);
    assert_string_equal(r.error_code, "unknown_status");
    lx_job_result_free(&r);
}

static void test_failure_classes(void **state)
{
    (void)state;
    static const struct {
        const char *code;
        bool permanent;
    } cases[] = {{"SAFETY.INPUT.TEXT", true},
                 {"SAFETY.OUTPUT.VIDEO", true},
                 {"ASSET.INVALID", true},
                 {"INTERNAL.BAD_OUTPUT.CODE01", false},
                 {"INTERNAL", false}};
    for (size_t i = 0; i < LX_ARRAY_LEN(cases); i++) {
        char body[200];
        snprintf(body, sizeof body,
                 "{\"id\":\"t\",\"status\":\"FAILED\",\"failure\":\"it broke\","
                 "\"failureCode\":\"%s\"}",
                 cases[i].code);
        lx_job_result_t r;
        parse_answer(A, LX_JOB_OP_POLL, 200, body, NULL, &r);
        assert_int_equal(r.state, LX_JOB_FAILED);
        assert_string_equal(r.error_code, cases[i].code);
        assert_string_equal(r.error_message, "it broke");
        if (r.permanent != cases[i].permanent)
            fail_msg("%s: permanent %d", cases[i].code, r.permanent);
        lx_job_result_free(&r);
    }
    lx_job_result_t r;
    parse_answer(A, LX_JOB_OP_POLL, 200, "{\"id\":\"t\",\"status\":\"FAILED\"}", NULL, &r);
    assert_string_equal(r.error_code, "task_failed");
    assert_true(r.permanent);
    lx_job_result_free(&r);
    parse_answer(A, LX_JOB_OP_CANCEL, 204, NULL, NULL, &r);
    assert_int_equal(r.state, LX_JOB_CANCELLED);
    lx_job_result_free(&r);
    parse_answer(A, LX_JOB_OP_SUBMIT, 429, "{\"error\":\"too many\"}", "30", &r);
    assert_int_equal(r.state, LX_JOB_NONE);
    assert_false(r.permanent);
    assert_int_equal(r.retry_after_ms, 30000);
    assert_string_equal(r.error_message, "too many");
    lx_job_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_to_video),   cmocka_unit_test(test_image_to_video),
        cmocka_unit_test(test_poll_and_cancel), cmocka_unit_test(test_every_status),
        cmocka_unit_test(test_failure_classes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
