/* test_generic.c - the generic job adapter (src/media/generic.c,
 * generic_conf.c): configuration checks with messages naming the setting,
 * requests from templates, answers through JSON field paths and the state
 * mapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "media/generic.h"
#include "media_test.h"

#define CONF                                                                                       \
    "{\"submit\":{\"method\":\"POST\",\"path\":\"/v2/{model}/jobs\",\"body\":{\"input\":"          \
    "{\"text\":\"{prompt}\",\"duration\":\"{seconds}\",\"image\":\"{image}\"}}},"                  \
    "\"poll\":{\"path\":\"/v2/jobs/{id}\"},"                                                       \
    "\"cancel\":{\"method\":\"POST\",\"path\":\"/v2/jobs/{id}/cancel\"},"                          \
    "\"job_id_path\":\"data.id\",\"status_path\":\"data.state\","                                  \
    "\"states\":{\"waiting\":\"queued\",\"working\":\"running\",\"done\":\"succeeded\","           \
    "\"error\":\"failed\",\"stopped\":\"cancelled\",\"3\":\"running\"},"                           \
    "\"progress_path\":\"data.pct\",\"progress_scale\":1,"                                         \
    "\"output_paths\":[\"data.video.url\",\"data.extra\"],"                                        \
    "\"error_path\":\"data.err.msg\",\"error_code_path\":\"data.err.code\","                       \
    "\"auth\":{\"header\":\"x-api-key\"},\"idempotency_header\":\"X-Request-Key\"}"

static lx_media_adapter_t *make(const char *text)
{
    json_t *c = J(text);
    char err[256];
    lx_media_adapter_t *a = lx_media_generic_new(c, err, sizeof err);
    if (a == NULL)
        fail_msg("conf refused: %s", err);
    json_decref(c);
    return a;
}

static void test_requests_from_templates(void **state)
{
    (void)state;
    lx_media_adapter_t *a = make(CONF);
    assert_true(a->idempotent_submit);
    assert_true(lx_media_adapter_can(a, LX_JOB_OP_CANCEL));
    assert_false(lx_media_adapter_can(a, LX_JOB_OP_CONTENT));
    json_t *in = J("{\"type\":\"video.generate\",\"model\":\"kling/v2\",\"prompt\":\"rain\","
                   "\"seconds\":6}");
    lx_job_ctx_t ctx = {
        .base_url = "https://gen.example/", .key = "K1", .idempotency_key = "t9", .input = in};
    lx_job_req_t r;
    char err[128];
    assert_int_equal(a->build(a, LX_JOB_OP_SUBMIT, &ctx, &r, err, sizeof err), LX_OK);
    assert_string_equal(r.method, "POST");
    assert_string_equal(r.url, "https://gen.example/v2/kling%2Fv2/jobs");
    assert_string_equal(lx_job_req_header(&r, "x-api-key"), "K1");
    assert_null(lx_job_req_header(&r, "Authorization"));
    assert_string_equal(lx_job_req_header(&r, "X-Request-Key"), "t9");
    assert_body_json(&r, "{\"input\":{\"text\":\"rain\",\"duration\":6}}");
    lx_job_req_free(&r);

    ctx.job_id = "j/../1";
    assert_int_equal(a->build(a, LX_JOB_OP_POLL, &ctx, &r, err, sizeof err), LX_OK);
    assert_string_equal(r.method, "GET");
    assert_string_equal(r.url, "https://gen.example/v2/jobs/j%2F..%2F1");
    assert_null(r.body);
    lx_job_req_free(&r);
    assert_int_equal(a->build(a, LX_JOB_OP_CANCEL, &ctx, &r, err, sizeof err), LX_OK);
    assert_string_equal(r.method, "POST");
    assert_string_equal(r.url, "https://gen.example/v2/jobs/j%2F..%2F1/cancel");
    lx_job_req_free(&r);
    assert_int_equal(a->build(a, LX_JOB_OP_CONTENT, &ctx, &r, err, sizeof err), LX_ERROR);
    assert_non_null(strstr(err, "content"));
    ctx.job_id = "";
    assert_int_equal(a->build(a, LX_JOB_OP_POLL, &ctx, &r, err, sizeof err), LX_ERROR);
    json_decref(in);
    lx_media_generic_free(a);
}

static void test_pass_through_and_default_auth(void **state)
{
    (void)state;
    lx_media_adapter_t *a =
        make("{\"submit\":{\"path\":\"/jobs\"},\"poll\":{\"method\":\"POST\",\"path\":"
             "\"/jobs/{id}/status\"},\"job_id_path\":\"id\",\"status_path\":\"status\","
             "\"states\":{\"ok\":\"succeeded\",\"ko\":\"failed\"},\"output_paths\":\"url\"}");
    assert_false(a->idempotent_submit);
    json_t *in = J("{\"type\":\"video.generate\",\"model\":\"m\",\"prompt\":\"p\",\"seconds\":4,"
                   "\"callback_url\":\"https://c.example\",\"metadata\":{\"a\":\"b\"}}");
    lx_job_ctx_t ctx = {.base_url = "http://127.0.0.1:9", .key = "K", .input = in};
    lx_job_req_t r;
    char err[128];
    assert_int_equal(a->build(a, LX_JOB_OP_SUBMIT, &ctx, &r, err, sizeof err), LX_OK);
    assert_string_equal(r.method, "POST");
    assert_string_equal(lx_job_req_header(&r, "Authorization"), "Bearer K");
    assert_body_json(&r, "{\"model\":\"m\",\"prompt\":\"p\",\"seconds\":4}");
    lx_job_req_free(&r);
    ctx.job_id = "7";
    assert_int_equal(a->build(a, LX_JOB_OP_POLL, &ctx, &r, err, sizeof err), LX_OK);
    assert_string_equal(r.method, "POST");
    assert_string_equal(r.url, "http://127.0.0.1:9/jobs/7/status");
    lx_job_req_free(&r);
    json_decref(in);
    lx_media_generic_free(a);
}

static void test_answers(void **state)
{
    (void)state;
    lx_media_adapter_t *a = make(CONF);
    lx_job_result_t r;
    parse_answer(a, LX_JOB_OP_SUBMIT, 201, "{\"data\":{\"id\":\"j1\"}}", NULL, &r);
    assert_int_equal(r.state, LX_JOB_QUEUED);
    assert_string_equal(r.job_id, "j1");
    lx_job_result_free(&r);
    parse_answer(a, LX_JOB_OP_SUBMIT, 200, "{\"data\":{\"id\":42,\"state\":\"working\"}}", NULL,
                 &r);
    assert_int_equal(r.state, LX_JOB_RUNNING);
    assert_string_equal(r.job_id, "42");
    lx_job_result_free(&r);
    parse_answer(a, LX_JOB_OP_SUBMIT, 200, "{\"id\":\"j1\"}", NULL, &r);
    assert_int_equal(r.state, LX_JOB_NONE);
    assert_string_equal(r.error_code, "bad_answer");
    assert_false(r.permanent);
    lx_job_result_free(&r);

    static const struct {
        const char *status;
        lx_job_state_t want;
    } map[] = {{"\"waiting\"", LX_JOB_QUEUED},    {"\"working\"", LX_JOB_RUNNING},
               {"\"stopped\"", LX_JOB_CANCELLED}, {"3", LX_JOB_RUNNING},
               {"\"Working\"", LX_JOB_NONE},      {"\"?\"", LX_JOB_NONE}};
    for (size_t i = 0; i < LX_ARRAY_LEN(map); i++) {
        char body[128];
        snprintf(body, sizeof body, "{\"data\":{\"state\":%s,\"pct\":0.5}}", map[i].status);
        parse_answer(a, LX_JOB_OP_POLL, 200, body, NULL, &r);
        if (r.state != map[i].want)
            fail_msg("%s: state %d", map[i].status, r.state);
        if (map[i].want == LX_JOB_NONE)
            assert_string_equal(r.error_code, "unknown_status");
        else
            assert_int_equal(r.progress, 50);
        lx_job_result_free(&r);
    }

    parse_answer(a, LX_JOB_OP_POLL, 200,
                 "{\"data\":{\"state\":\"done\",\"video\":{\"url\":\"https://v.example/1.mp4\"},"
                 "\"extra\":[\"https://v.example/t.jpg\",7]}}",
                 NULL, &r);
    assert_int_equal(r.state, LX_JOB_SUCCEEDED);
    assert_int_equal(r.progress, 100);
    assert_string_equal(out_url(&r, 0), "https://v.example/1.mp4");
    assert_string_equal(out_url(&r, 1), "https://v.example/t.jpg");
    assert_null(out_url(&r, 2));
    lx_job_result_free(&r);

    parse_answer(a, LX_JOB_OP_POLL, 200, "{\"data\":{\"state\":\"done\"}}", NULL, &r);
    assert_int_equal(r.state, LX_JOB_NONE);
    assert_string_equal(r.error_code, "bad_answer");
    lx_job_result_free(&r);

    parse_answer(a, LX_JOB_OP_POLL, 200,
                 "{\"data\":{\"state\":\"error\",\"err\":{\"msg\":\"nsfw\",\"code\":\"E42\"}}}",
                 NULL, &r);
    assert_int_equal(r.state, LX_JOB_FAILED);
    assert_string_equal(r.error_code, "E42");
    assert_string_equal(r.error_message, "nsfw");
    assert_true(r.permanent);
    lx_job_result_free(&r);

    parse_answer(a, LX_JOB_OP_POLL, 200, "{\"data\":{}}", NULL, &r);
    assert_int_equal(r.state, LX_JOB_NONE);
    assert_string_equal(r.error_code, "bad_answer");
    lx_job_result_free(&r);

    parse_answer(a, LX_JOB_OP_POLL, 502, "", NULL, &r);
    assert_int_equal(r.state, LX_JOB_NONE);
    assert_false(r.permanent);
    lx_job_result_free(&r);

    parse_answer(a, LX_JOB_OP_CANCEL, 202, "", NULL, &r);
    assert_int_equal(r.state, LX_JOB_CANCELLED);
    lx_job_result_free(&r);
    lx_media_generic_free(a);
}

static void test_progress_scale_100(void **state)
{
    (void)state;
    lx_media_adapter_t *a =
        make("{\"submit\":{\"path\":\"/j\"},\"poll\":{\"path\":\"/j/{id}\"},\"job_id_path\":"
             "\"id\",\"status_path\":\"s\",\"states\":{\"a\":\"succeeded\",\"b\":\"failed\","
             "\"r\":\"running\"},\"progress_path\":\"p\",\"content\":{\"path\":\"/j/{id}/file\"}}");
    lx_job_result_t r;
    parse_answer(a, LX_JOB_OP_POLL, 200, "{\"s\":\"r\",\"p\":73.9}", NULL, &r);
    assert_int_equal(r.progress, 73);
    lx_job_result_free(&r);
    parse_answer(a, LX_JOB_OP_POLL, 200, "{\"s\":\"r\",\"p\":-4}", NULL, &r);
    assert_int_equal(r.progress, 0);
    lx_job_result_free(&r);
    /* With a content call, success needs no URL. */
    parse_answer(a, LX_JOB_OP_POLL, 200, "{\"s\":\"a\"}", NULL, &r);
    assert_int_equal(r.state, LX_JOB_SUCCEEDED);
    assert_string_equal(json_string_value(json_object_get(r.output, "content")), "provider");
    lx_job_result_free(&r);
    lx_media_generic_free(a);
}

/* Each bad configuration is refused with a message naming the setting. */
static void test_validation_names_the_setting(void **state)
{
    (void)state;
    static const struct {
        const char *conf, *want;
    } cases[] = {
        {"[]", "must be a JSON object"},
        {"{}", "submit: required"},
        {"{\"submit\":{\"path\":\"/j\"}}", "poll: required"},
        {"{\"submit\":{\"path\":\"/j\"},\"poll\":{\"path\":\"/j/{id}\"},\"bogus\":1}",
         "bogus: unknown setting"},
        {"{\"submit\":{\"path\":\"j\"},\"poll\":{\"path\":\"/j/{id}\"}}",
         "submit.path: must start with '/'"},
        {"{\"submit\":{\"path\":\"/j/{id}\"},\"poll\":{\"path\":\"/j/{id}\"}}",
         "submit.path: may not hold {id}"},
        {"{\"submit\":{\"method\":\"GET\",\"path\":\"/j\"},\"poll\":{\"path\":\"/j/{id}\"}}",
         "submit.method: must be one of POST, PUT"},
        {"{\"submit\":{\"path\":\"/j\"},\"poll\":{\"path\":\"/j\"}}", "poll.path: must hold {id}"},
        {"{\"submit\":{\"path\":\"/j\"},\"poll\":{\"path\":\"/j/{job}\"}}",
         "poll.path: may hold only"},
        {"{\"submit\":{\"path\":\"/j\"},\"poll\":{\"path\":\"/j/../{id}\"}}",
         "poll.path: must not"},
        {"{\"submit\":{\"path\":\"/j\",\"body\":{\"x\":\"{what}\"}},\"poll\":{\"path\":"
         "\"/j/{id}\"}}",
         "submit.body: "},
        {"{\"submit\":{\"path\":\"/j\",\"verb\":1},\"poll\":{\"path\":\"/j/{id}\"}}",
         "submit.verb: unknown setting"},
        {"{\"submit\":{\"path\":\"/j\"},\"poll\":{\"path\":\"/j/{id}\"}}", "job_id_path: required"},
        {"{\"submit\":{\"path\":\"/j\"},\"poll\":{\"path\":\"/j/{id}\"},\"job_id_path\":\"a..b\"}",
         "job_id_path: has an empty segment"},
        {"{\"submit\":{\"path\":\"/j\"},\"poll\":{\"path\":\"/j/{id}\"},\"job_id_path\":\"id\"}",
         "status_path: required"},
        {"{\"submit\":{\"path\":\"/j\"},\"poll\":{\"path\":\"/j/{id}\"},\"job_id_path\":\"id\","
         "\"status_path\":\"s\"}",
         "states: required"},
        {"{\"submit\":{\"path\":\"/j\"},\"poll\":{\"path\":\"/j/{id}\"},\"job_id_path\":\"id\","
         "\"status_path\":\"s\",\"states\":{\"done\":\"finished\"}}",
         "states.done: unknown state"},
        {"{\"submit\":{\"path\":\"/j\"},\"poll\":{\"path\":\"/j/{id}\"},\"job_id_path\":\"id\","
         "\"status_path\":\"s\",\"states\":{\"done\":\"succeeded\"}}",
         "states: must map at least one status to failed"},
        {"{\"submit\":{\"path\":\"/j\"},\"poll\":{\"path\":\"/j/{id}\"},\"job_id_path\":\"id\","
         "\"status_path\":\"s\",\"states\":{\"e\":\"failed\"}}",
         "states: must map at least one status to succeeded"},
        {"{\"submit\":{\"path\":\"/j\"},\"poll\":{\"path\":\"/j/{id}\"},\"job_id_path\":\"id\","
         "\"status_path\":\"s\",\"states\":{\"d\":\"succeeded\",\"e\":\"failed\"}}",
         "output_paths: required unless content"},
        {"{\"submit\":{\"path\":\"/j\"},\"poll\":{\"path\":\"/j/{id}\"},\"job_id_path\":\"id\","
         "\"status_path\":\"s\",\"states\":{\"d\":\"succeeded\",\"e\":\"failed\"},"
         "\"output_paths\":[\"ok\",\"bad path\"]}",
         "output_paths[1]: "},
        {"{\"submit\":{\"path\":\"/j\"},\"poll\":{\"path\":\"/j/{id}\"},\"job_id_path\":\"id\","
         "\"status_path\":\"s\",\"states\":{\"d\":\"succeeded\",\"e\":\"failed\"},"
         "\"output_paths\":\"u\",\"progress_scale\":10,\"progress_path\":\"p\"}",
         "progress_scale: must be 1"},
        {"{\"submit\":{\"path\":\"/j\"},\"poll\":{\"path\":\"/j/{id}\"},\"job_id_path\":\"id\","
         "\"status_path\":\"s\",\"states\":{\"d\":\"succeeded\",\"e\":\"failed\"},"
         "\"output_paths\":\"u\",\"progress_scale\":1}",
         "progress_scale: set without progress_path"},
        {"{\"submit\":{\"path\":\"/j\"},\"poll\":{\"path\":\"/j/{id}\"},\"job_id_path\":\"id\","
         "\"status_path\":\"s\",\"states\":{\"d\":\"succeeded\",\"e\":\"failed\"},"
         "\"output_paths\":\"u\",\"auth\":{\"header\":\"bad header\"}}",
         "auth.header: must be a header name"},
        {"{\"submit\":{\"path\":\"/j\"},\"poll\":{\"path\":\"/j/{id}\"},\"job_id_path\":\"id\","
         "\"status_path\":\"s\",\"states\":{\"d\":\"succeeded\",\"e\":\"failed\"},"
         "\"output_paths\":\"u\",\"idempotency_header\":\"a:b\"}",
         "idempotency_header: must be a header name"},
        {"{\"submit\":{\"path\":\"/j\"},\"poll\":{\"path\":\"/j/{id}\"},\"job_id_path\":\"id\","
         "\"status_path\":\"s\",\"states\":{\"d\":\"succeeded\",\"e\":\"failed\"},"
         "\"output_paths\":\"u\",\"cancel\":{\"method\":\"PATCH\",\"path\":\"/j/{id}\"}}",
         "cancel.method: must be one of DELETE, POST, PUT, GET"},
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(cases); i++) {
        json_t *c = J(cases[i].conf);
        char err[256] = "";
        assert_int_equal(lx_media_generic_validate(c, err, sizeof err), LX_ERROR);
        if (strstr(err, cases[i].want) == NULL)
            fail_msg("case %zu: \"%s\" does not hold \"%s\"", i, err, cases[i].want);
        assert_null(lx_media_generic_new(c, err, sizeof err));
        json_decref(c);
    }
    json_t *ok = J(CONF);
    char err[256];
    assert_int_equal(lx_media_generic_validate(ok, err, sizeof err), LX_OK);
    json_decref(ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests_from_templates),
        cmocka_unit_test(test_pass_through_and_default_auth),
        cmocka_unit_test(test_answers),
        cmocka_unit_test(test_progress_scale_100),
        cmocka_unit_test(test_validation_names_the_setting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
