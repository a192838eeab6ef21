/* test_openai_images.c - OpenAI's synchronous image API as a job
 * (src/media/openai_images.c): the submit body, and an answer that is
 * already terminal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "media_test.h"

static const lx_media_adapter_t *A = &lx_media_openai_images;

static void test_submit_body(void **state)
{
    (void)state;
    json_t *in =
        J("{\"type\":\"image.generate\",\"model\":\"gpt-image-1\",\"prompt\":\"a cat\","
          "\"n\":2,\"size\":\"1024x1024\",\"quality\":\"high\",\"background\":"
          "\"transparent\",\"output_format\":\"png\",\"callback_url\":\"https://c.example\"}");
    lx_job_ctx_t ctx = {.base_url = "https://api.openai.com/v1", .key = "sk-1", .input = in};
    lx_job_req_t r;
    char err[128];
    assert_int_equal(A->build(A, LX_JOB_OP_SUBMIT, &ctx, &r, err, sizeof err), LX_OK);
    assert_string_equal(r.method, "POST");
    assert_string_equal(r.url, "https://api.openai.com/v1/images/generations");
    assert_string_equal(lx_job_req_header(&r, "Authorization"), "Bearer sk-1");
    assert_body_json(&r, "{\"model\":\"gpt-image-1\",\"prompt\":\"a cat\",\"n\":2,"
                         "\"size\":\"1024x1024\",\"quality\":\"high\",\"background\":"
                         "\"transparent\",\"output_format\":\"png\"}");
    lx_job_req_free(&r);
    ctx.job_id = "x";
    assert_int_equal(A->build(A, LX_JOB_OP_POLL, &ctx, &r, err, sizeof err), LX_ERROR);
    assert_non_null(strstr(err, "synchronous"));
    assert_false(lx_media_adapter_can(A, LX_JOB_OP_POLL));
    json_decref(in);
}

static void test_answer_is_terminal(void **state)
{
    (void)state;
    lx_job_result_t r;
    parse_answer(A, LX_JOB_OP_SUBMIT, 200,
                 "{\"created\":1713833628,\"data\":[{\"url\":\"https://img.example/1.png\","
                 "\"revised_prompt\":\"a small cat\"},{\"b64_json\":\"iVBORw0KGgo=\"}],"
                 "\"usage\":{\"total_tokens\":100}}",
                 NULL, &r);
    assert_int_equal(r.state, LX_JOB_SUCCEEDED);
    assert_int_equal(r.progress, 100);
    assert_null(r.job_id);
    json_t *want = J("{\"urls\":[\"https://img.example/1.png\"],\"images\":[{\"url\":"
                     "\"https://img.example/1.png\",\"revised_prompt\":\"a small cat\"},"
                     "{\"b64_json\":\"iVBORw0KGgo=\"}],\"metadata\":{\"created\":1713833628,"
                     "\"usage\":{\"total_tokens\":100}}}");
    assert_true(json_equal(r.output, want));
    json_decref(want);
    lx_job_result_free(&r);

    parse_answer(A, LX_JOB_OP_SUBMIT, 200, "{\"created\":1,\"data\":[]}", NULL, &r);
    assert_int_equal(r.state, LX_JOB_NONE);
    assert_string_equal(r.error_code, "bad_answer");
    lx_job_result_free(&r);

    parse_answer(A, LX_JOB_OP_SUBMIT, 400,
                 "{\"error\":{\"message\":\"Your request was rejected\",\"code\":"
                 "\"content_policy_violation\"}}",
                 NULL, &r);
    assert_int_equal(r.state, LX_JOB_NONE);
    assert_true(r.permanent);
    assert_string_equal(r.error_code, "content_policy_violation");
    lx_job_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_submit_body),
        cmocka_unit_test(test_answer_is_terminal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
