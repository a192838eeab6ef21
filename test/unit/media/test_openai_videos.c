/* test_openai_videos.c - the OpenAI Videos API adapter
 * (src/media/openai_videos.c): each request as OpenAI documents it, each
 * status, progress, errors, and ids that cannot change the path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "media_test.h"

static const lx_media_adapter_t *A = &lx_media_openai_videos;

static int build(lx_job_op_t op, const lx_job_ctx_t *ctx, lx_job_req_t *r)
{
    char err[128];
    return A->build(A, op, ctx, r, err, sizeof err);
}

static void test_submit_body_is_openais(void **state)
{
    (void)state;
    json_t *in = J("{\"type\":\"video.generate\",\"model\":\"sora-2\",\"prompt\":\"a fox\","
                   "\"seconds\":8,\"size\":\"1280x720\",\"image\":\"https://i.example/a.png\","
                   "\"callback_url\":\"https://cb.example/x\",\"metadata\":{\"k\":\"v\"}}");
    lx_job_ctx_t ctx = {.base_url = "https://api.openai.com/v1/",
                        .key = "sk-test",
                        .idempotency_key = "task_abc",
                        .input = in};
    lx_job_req_t r;
    assert_int_equal(build(LX_JOB_OP_SUBMIT, &ctx, &r), LX_OK);
    assert_string_equal(r.method, "POST");
    assert_string_equal(r.url, "https://api.openai.com/v1/videos");
    assert_string_equal(lx_job_req_header(&r, "Authorization"), "Bearer sk-test");
    assert_string_equal(lx_job_req_header(&r, "Idempotency-Key"), "task_abc");
    /* seconds as a string, the image as input_reference; llmux's own
     * fields (type, callback_url, metadata) stay home. */
    assert_body_json(&r, "{\"model\":\"sora-2\",\"prompt\":\"a fox\",\"seconds\":\"8\","
                         "\"size\":\"1280x720\",\"input_reference\":"
                         "{\"image_url\":\"https://i.example/a.png\"}}");
    lx_job_req_free(&r);
    json_decref(in);

    in = J("{\"model\":\"sora-2\",\"prompt\":\"p\"}");
    ctx.input = in;
    ctx.idempotency_key = NULL;
    assert_int_equal(build(LX_JOB_OP_SUBMIT, &ctx, &r), LX_OK);
    assert_null(lx_job_req_header(&r, "Idempotency-Key"));
    assert_body_json(&r, "{\"model\":\"sora-2\",\"prompt\":\"p\"}");
    lx_job_req_free(&r);
    json_decref(in);

    in = J("{\"model\":\"sora-2\"}");
    ctx.input = in;
    assert_int_equal(build(LX_JOB_OP_SUBMIT, &ctx, &r), LX_ERROR);
    assert_null(r.url);
    json_decref(in);
}

static void test_poll_cancel_content_urls(void **state)
{
    (void)state;
    lx_job_ctx_t ctx = {.base_url = "https://api.openai.com/v1", .key = "k", .job_id = "video_1"};
    lx_job_req_t r;
    assert_int_equal(build(LX_JOB_OP_POLL, &ctx, &r), LX_OK);
    assert_string_equal(r.method, "GET");
    assert_string_equal(r.url, "https://api.openai.com/v1/videos/video_1");
    assert_null(r.body);
    lx_job_req_free(&r);
    assert_int_equal(build(LX_JOB_OP_CANCEL, &ctx, &r), LX_OK);
    assert_string_equal(r.method, "DELETE");
    assert_string_equal(r.url, "https://api.openai.com/v1/videos/video_1");
    lx_job_req_free(&r);
    assert_int_equal(build(LX_JOB_OP_CONTENT, &ctx, &r), LX_OK);
    assert_string_equal(r.url, "https://api.openai.com/v1/videos/video_1/content");
    lx_job_req_free(&r);
    ctx.variant = "thumbnail";
    assert_int_equal(build(LX_JOB_OP_CONTENT, &ctx, &r), LX_OK);
    assert_string_equal(r.url,
                        "https://api.openai.com/v1/videos/video_1/content?variant=thumbnail");
    lx_job_req_free(&r);
    ctx.variant = "a&b=c";
    assert_int_equal(build(LX_JOB_OP_CONTENT, &ctx, &r), LX_OK);
    assert_string_equal(r.url,
                        "https://api.openai.com/v1/videos/video_1/content?variant=a%26b%3Dc");
    lx_job_req_free(&r);
}

static void test_hostile_ids_stay_in_their_segment(void **state)
{
    (void)state;
    lx_job_ctx_t ctx = {.base_url = "https://api.openai.com/v1", .job_id = "../files/x"};
    lx_job_req_t r;
    assert_int_equal(build(LX_JOB_OP_POLL, &ctx, &r), LX_OK);
    assert_string_equal(r.url, "https://api.openai.com/v1/videos/..%2Ffiles%2Fx");
    lx_job_req_free(&r);
    ctx.job_id = "..";
    assert_int_equal(build(LX_JOB_OP_CANCEL, &ctx, &r), LX_OK);
    assert_string_equal(r.url, "https://api.openai.com/v1/videos/%2E%2E");
    lx_job_req_free(&r);
    ctx.job_id = "";
    assert_int_equal(build(LX_JOB_OP_POLL, &ctx, &r), LX_ERROR);
    ctx.job_id = NULL;
    assert_int_equal(build(LX_JOB_OP_CONTENT, &ctx, &r), LX_ERROR);
}

static void test_every_status(void **state)
{
    (void)state;
    lx_job_result_t r;
    parse_answer(A, LX_JOB_OP_SUBMIT, 200,
                 "{\"id\":\"video_1\",\"object\":\"video\",\"status\":\"queued\",\"progress\":0}",
                 NULL, &r);
    assert_int_equal(r.state, LX_JOB_QUEUED);
    assert_string_equal(r.job_id, "video_1");
    assert_int_equal(r.progress, 0);
    lx_job_result_free(&r);

    parse_answer(A, LX_JOB_OP_POLL, 200,
                 "{\"id\":\"video_1\",\"status\":\"in_progress\",\"progress\":42}", NULL, &r);
    assert_int_equal(r.state, LX_JOB_RUNNING);
    assert_int_equal(r.progress, 42);
    assert_null(r.output);
    lx_job_result_free(&r);

    parse_answer(A, LX_JOB_OP_POLL, 200,
                 "{\"id\":\"video_1\",\"status\":\"in_progress\",\"progress\":250}", NULL, &r);
    assert_int_equal(r.progress, 100);
    lx_job_result_free(&r);

    parse_answer(A, LX_JOB_OP_POLL, 200,
                 "{\"id\":\"video_1\",\"status\":\"completed\",\"progress\":100,"
                 "\"model\":\"sora-2\",\"seconds\":\"8\",\"size\":\"1280x720\","
                 "\"created_at\":1,\"completed_at\":9,\"expires_at\":null}",
                 NULL, &r);
    assert_int_equal(r.state, LX_JOB_SUCCEEDED);
    assert_int_equal(r.progress, 100);
    json_t *want = J("{\"urls\":[],\"content\":\"provider\",\"metadata\":{\"model\":\"sora-2\","
                     "\"seconds\":\"8\",\"size\":\"1280x720\",\"created_at\":1,"
                     "\"completed_at\":9}}");
    assert_true(json_equal(r.output, want));
    json_decref(want);
    lx_job_result_free(&r);

    parse_answer(A, LX_JOB_OP_POLL, 200,
                 "{\"id\":\"video_1\",\"status\":\"failed\",\"error\":"
                 "{\"code\":\"moderation_blocked\",\"message\":\"blocked\"}}",
                 NULL, &r);
    assert_int_equal(r.state, LX_JOB_FAILED);
    assert_string_equal(r.error_code, "moderation_blocked");
    assert_string_equal(r.error_message, "blocked");
    assert_true(r.permanent);
    lx_job_result_free(&r);

    parse_answer(A, LX_JOB_OP_POLL, 200,
                 "{\"id\":\"video_1\",\"status\":\"failed\",\"error\":"
                 "{\"code\":\"internal_error\",\"message\":\"oops\"}}",
                 NULL, &r);
    assert_int_equal(r.state, LX_JOB_FAILED);
    assert_false(r.permanent);
    lx_job_result_free(&r);

    parse_answer(A, LX_JOB_OP_POLL, 200, "{\"id\":\"video_1\",\"status\":\"failed\"}", NULL, &r);
    assert_int_equal(r.state, LX_JOB_FAILED);
    assert_string_equal(r.error_code, "video_failed");
    lx_job_result_free(&r);

    parse_answer(A, LX_JOB_OP_POLL, 200, "{\"id\":\"video_1\",\"status\":\"melting\"}", NULL, &r);
    assert_int_equal(r.state, LX_JOB_NONE);
    assert_string_equal(r.error_code, "unknown_status");
    assert_false(r.permanent);
    lx_job_result_free(&r);

    parse_answer(A, LX_JOB_OP_POLL, 200, "{\"status\":\"queued\"}", NULL, &r);
    assert_int_equal(r.state, LX_JOB_NONE);
    assert_string_equal(r.error_code, "bad_answer");
    lx_job_result_free(&r);
}

static void test_errors_cancel_and_content(void **state)
{
    (void)state;
    lx_job_result_t r;
    parse_answer(A, LX_JOB_OP_POLL, 503, "", "3", &r);
    assert_int_equal(r.state, LX_JOB_NONE);
    assert_false(r.permanent);
    assert_int_equal(r.retry_after_ms, 3000);
    lx_job_result_free(&r);
    parse_answer(A, LX_JOB_OP_SUBMIT, 400,
                 "{\"error\":{\"message\":\"Invalid size\",\"type\":\"invalid_request_error\"}}",
                 NULL, &r);
    assert_true(r.permanent);
    assert_string_equal(r.error_code, "invalid_request_error");
    assert_string_equal(r.error_message, "Invalid size");
    lx_job_result_free(&r);
    parse_answer(A, LX_JOB_OP_CANCEL, 200,
                 "{\"id\":\"video_1\",\"object\":\"video.deleted\",\"deleted\":true}", NULL, &r);
    assert_int_equal(r.state, LX_JOB_CANCELLED);
    assert_string_equal(r.error_code, "");
    lx_job_result_free(&r);
    parse_answer(A, LX_JOB_OP_CANCEL, 404, "{}", NULL, &r);
    assert_int_equal(r.state, LX_JOB_NONE);
    assert_string_equal(r.error_code, "not_found");
    lx_job_result_free(&r);
    parse_answer(A, LX_JOB_OP_CONTENT, 200, "\x00\x01binary", NULL, &r);
    assert_int_equal(r.state, LX_JOB_SUCCEEDED);
    lx_job_result_free(&r);
    parse_answer(A, LX_JOB_OP_POLL, 200, "not json", NULL, &r);
    assert_string_equal(r.error_code, "bad_answer");
    lx_job_result_free(&r);
}

static void test_capabilities(void **state)
{
    (void)state;
    assert_true(A->idempotent_submit);
    for (int op = 0; op < LX_JOB_OP__COUNT; op++)
        assert_true(lx_media_adapter_can(A, (lx_job_op_t)op));
    assert_ptr_equal(lx_media_adapter_find("openai-videos"), A);
    assert_ptr_equal(lx_media_adapter_find("runway"), &lx_media_runway);
    assert_null(lx_media_adapter_find("nope"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_submit_body_is_openais),
        cmocka_unit_test(test_poll_cancel_content_urls),
        cmocka_unit_test(test_hostile_ids_stay_in_their_segment),
        cmocka_unit_test(test_every_status),
        cmocka_unit_test(test_errors_cancel_and_content),
        cmocka_unit_test(test_capabilities),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
