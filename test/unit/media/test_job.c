/* test_job.c - the shared job values (src/media/job.c), JSON field paths
 * (jpath.c) and templates (template.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "media/jpath.h"
#include "media/template.h"
#include "media_test.h"

static void test_state_names_round_trip(void **state)
{
    (void)state;
    for (int s = LX_JOB_QUEUED; s < LX_JOB__COUNT; s++)
        assert_int_equal(lx_job_state_parse(lx_job_state_name((lx_job_state_t)s)), s);
    assert_int_equal(lx_job_state_parse("none"), LX_JOB_NONE);
    assert_int_equal(lx_job_state_parse("QUEUED"), LX_JOB_NONE);
    assert_int_equal(lx_job_state_parse(NULL), LX_JOB_NONE);
    assert_true(lx_job_state_terminal(LX_JOB_CANCELLED));
    assert_false(lx_job_state_terminal(LX_JOB_RUNNING));
}

static char *segment(const char *s)
{
    lx_buf_t b;
    lx_buf_init(&b, 16);
    if (lx_job_path_segment(&b, s, strlen(s)) != LX_OK) {
        lx_buf_free(&b);
        return NULL;
    }
    return b.p;
}

static void test_path_segment_cannot_change_the_path(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"video_123", "video_123"}, {"a/b", "a%2Fb"},
        {"..", "%2E%2E"},           {".", "%2E"},
        {"../admin", "..%2Fadmin"}, {"a.b-c~_", "a.b-c~_"},
        {"x?y#z", "x%3Fy%23z"},     {"sp ace", "sp%20ace"},
        {"%2F", "%252F"},           {"\xc3\xa9", "%C3%A9"},
        {"a\\b", "a%5Cb"},
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(cases); i++) {
        char *got = segment(cases[i].in);
        assert_non_null(got);
        assert_string_equal(got, cases[i].out);
        free(got);
    }
    assert_null(segment(""));
    char big[1100];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_null(segment(big));
}

static void test_retry_after_seconds_only(void **state)
{
    (void)state;
    int64_t ms = -1;
    assert_int_equal(lx_job_retry_after_ms("7", &ms), LX_OK);
    assert_int_equal(ms, 7000);
    assert_int_equal(lx_job_retry_after_ms(" 0 ", &ms), LX_OK);
    assert_int_equal(ms, 0);
    ms = -5;
    assert_int_equal(lx_job_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", &ms), LX_ERROR);
    assert_int_equal(lx_job_retry_after_ms("-1", &ms), LX_ERROR);
    assert_int_equal(lx_job_retry_after_ms("1.5", &ms), LX_ERROR);
    assert_int_equal(lx_job_retry_after_ms("99999999999999999999", &ms), LX_ERROR);
    assert_int_equal(lx_job_retry_after_ms(NULL, &ms), LX_ERROR);
    assert_int_equal(ms, -5);
}

static void http_error(int status, const char *body, const char *ra, lx_job_result_t *res)
{
    lx_job_answer_t a = {status, body, body ? strlen(body) : 0, ra};
    lx_job_result_init(res);
    lx_job_http_error(&a, res);
}

static void test_http_error_classes(void **state)
{
    (void)state;
    static const struct {
        int status;
        bool permanent;
    } cases[] = {{0, false},   {400, true},  {401, true},  {403, true},  {404, true},
                 {408, false}, {409, false}, {422, true},  {425, false}, {429, false},
                 {500, false}, {502, false}, {503, false}, {504, false}};
    for (size_t i = 0; i < LX_ARRAY_LEN(cases); i++) {
        lx_job_result_t r;
        http_error(cases[i].status, NULL, NULL, &r);
        assert_int_equal(r.state, LX_JOB_NONE);
        if (r.permanent != cases[i].permanent)
            fail_msg("status %d: permanent %d", cases[i].status, r.permanent);
        assert_non_null(r.error_message);
        assert_true(r.error_code[0] != '\0');
        lx_job_result_free(&r);
    }
}

static void test_http_error_reads_the_body_and_retry_after(void **state)
{
    (void)state;
    lx_job_result_t r;
    http_error(429, "{\"error\":{\"message\":\"slow down\",\"code\":\"rate_limit_exceeded\"}}",
               "12", &r);
    assert_string_equal(r.error_code, "rate_limit_exceeded");
    assert_string_equal(r.error_message, "slow down");
    assert_int_equal(r.retry_after_ms, 12000);
    assert_false(r.permanent);
    lx_job_result_free(&r);

    http_error(400, "{\"error\":\"promptText: too long\"}", NULL, &r);
    assert_string_equal(r.error_code, "http_400");
    assert_string_equal(r.error_message, "promptText: too long");
    assert_int_equal(r.retry_after_ms, -1);
    assert_true(r.permanent);
    lx_job_result_free(&r);

    http_error(404, "not json", NULL, &r);
    assert_string_equal(r.error_code, "not_found");
    assert_true(r.permanent);
    lx_job_result_free(&r);
}

static void test_http_error_never_copies_an_auth_message(void **state)
{
    (void)state;
    lx_job_result_t r;
    http_error(401,
               "{\"error\":{\"message\":\"Incorrect API key provided: sk-abc***wxyz\","
               "\"code\":\"invalid_api_key\"}}",
               NULL, &r);
    assert_string_equal(r.error_code, "provider_auth");
    assert_null(strstr(r.error_message, "sk-"));
    assert_true(r.permanent);
    lx_job_result_free(&r);
}

static void test_answer_json_and_ids(void **state)
{
    (void)state;
    lx_job_result_t r;
    lx_job_result_init(&r);
    lx_job_answer_t a = {200, "[1]", 3, NULL};
    assert_null(lx_job_answer_json(&a, &r));
    assert_string_equal(r.error_code, "bad_answer");
    assert_false(r.permanent);
    lx_job_result_free(&r);

    json_t *ok = json_string("job-1"), *empty = json_string(""), *nul = json_stringn("a\0b", 3);
    json_t *num = json_integer(5);
    assert_int_equal(lx_job_take_id(&r, ok), LX_OK);
    assert_string_equal(r.job_id, "job-1");
    assert_int_equal(lx_job_take_id(&r, empty), LX_ERROR);
    assert_int_equal(lx_job_take_id(&r, nul), LX_ERROR);
    assert_int_equal(lx_job_take_id(&r, num), LX_ERROR);
    assert_string_equal(r.job_id, "job-1");
    lx_job_result_free(&r);
    json_decref(ok);
    json_decref(empty);
    json_decref(nul);
    json_decref(num);
}

static void test_request_basics(void **state)
{
    (void)state;
    lx_job_req_t r;
    lx_job_req_start(&r, "GET", "https://h.example/v1//", "/x", "sk-1");
    assert_string_equal(r.url, "https://h.example/v1/x");
    assert_string_equal(lx_job_req_header(&r, "authorization"), "Bearer sk-1");
    for (int i = 1; i < LX_JOB_MAX_HEADERS; i++)
        assert_int_equal(lx_job_req_add_header(&r, "X-N", "v"), LX_OK);
    assert_int_equal(lx_job_req_add_header(&r, "X-Full", "v"), LX_ERROR);
    lx_job_req_free(&r);
    lx_job_req_start(&r, "GET", "https://h.example", "/x", NULL);
    assert_int_equal(r.n_headers, 0);
    assert_null(lx_job_req_header(&r, "Authorization"));
    lx_job_req_free(&r);
}

static void test_jpath(void **state)
{
    (void)state;
    assert_null(lx_jpath_problem("data.id"));
    assert_null(lx_jpath_problem("output.0.url"));
    assert_null(lx_jpath_problem("$meta.@x"));
    assert_non_null(lx_jpath_problem(""));
    assert_non_null(lx_jpath_problem(NULL));
    assert_non_null(lx_jpath_problem(".a"));
    assert_non_null(lx_jpath_problem("a."));
    assert_non_null(lx_jpath_problem("a..b"));
    assert_non_null(lx_jpath_problem("a b"));
    assert_non_null(lx_jpath_problem("a[0]"));
    assert_non_null(lx_jpath_problem("a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q"));
    json_t *doc = J("{\"data\":{\"id\":\"j1\",\"out\":[\"u0\",{\"url\":\"u1\"}],\"0\":\"zero\"}}");
    assert_string_equal(json_string_value(lx_jpath_get(doc, "data.id")), "j1");
    assert_string_equal(json_string_value(lx_jpath_get(doc, "data.out.0")), "u0");
    assert_string_equal(json_string_value(lx_jpath_get(doc, "data.out.1.url")), "u1");
    assert_string_equal(json_string_value(lx_jpath_get(doc, "data.0")), "zero");
    assert_null(lx_jpath_get(doc, "data.out.2"));
    assert_null(lx_jpath_get(doc, "data.out.x"));
    assert_null(lx_jpath_get(doc, "data.id.more"));
    assert_null(lx_jpath_get(doc, "nope"));
    assert_null(lx_jpath_get(doc, "data..id"));
    json_decref(doc);
}

static void test_path_templates(void **state)
{
    (void)state;
    assert_null(lx_tpl_path_problem("/jobs/{id}", LX_TPL_ID | LX_TPL_MODEL));
    assert_null(lx_tpl_path_problem("/models/{model}/jobs", LX_TPL_MODEL));
    assert_non_null(lx_tpl_path_problem("jobs/{id}", LX_TPL_ID));
    assert_non_null(lx_tpl_path_problem("/jobs/{id}", LX_TPL_MODEL));
    assert_non_null(lx_tpl_path_problem("/jobs/{job}", LX_TPL_ID));
    assert_non_null(lx_tpl_path_problem("/jobs/{id", LX_TPL_ID));
    assert_non_null(lx_tpl_path_problem("/jobs/id}", LX_TPL_ID));
    assert_non_null(lx_tpl_path_problem("/jobs/../admin", LX_TPL_ID));
    assert_non_null(lx_tpl_path_problem("/jobs/{id} x", LX_TPL_ID));
    assert_non_null(lx_tpl_path_problem("/jobs#{id}", LX_TPL_ID));

    json_t *in = J("{\"model\":\"m/1\"}");
    lx_buf_t b;
    lx_buf_init(&b, 32);
    assert_int_equal(lx_tpl_path_fill(&b, "/m/{model}/jobs/{id}", "../x", in), LX_OK);
    assert_string_equal(b.p, "/m/m%2F1/jobs/..%2Fx");
    lx_buf_reset(&b);
    assert_int_equal(lx_tpl_path_fill(&b, "/jobs/{id}", "..", in), LX_OK);
    assert_string_equal(b.p, "/jobs/%2E%2E");
    lx_buf_reset(&b);
    assert_int_equal(lx_tpl_path_fill(&b, "/jobs/{id}", "", in), LX_ERROR);
    lx_buf_reset(&b);
    assert_int_equal(lx_tpl_path_fill(&b, "/jobs/{id}", NULL, in), LX_ERROR);
    lx_buf_free(&b);
    json_decref(in);
}

static void test_body_templates(void **state)
{
    (void)state;
    char why[200];
    json_t *ok = J("{\"model\":\"{model}\",\"input\":{\"text\":\"say: {prompt}!\","
                   "\"duration\":\"{seconds}\",\"ratio\":\"{size}\",\"img\":[\"{image}\"],"
                   "\"lit\":\"{{prompt}}\",\"fixed\":3,\"key\":\"{idempotency_key}\"}}");
    assert_null(lx_tpl_body_problem(ok, why, sizeof why));
    json_t *bad = J("{\"a\":[\"{nope}\"]}");
    assert_non_null(lx_tpl_body_problem(bad, why, sizeof why));
    assert_non_null(strstr(why, "unknown placeholder"));
    json_t *brace = J("{\"a\":\"x}\"}");
    assert_non_null(lx_tpl_body_problem(brace, why, sizeof why));
    json_t *arr = J("[1]");
    assert_non_null(lx_tpl_body_problem(arr, why, sizeof why));

    json_t *in = J("{\"model\":\"m\",\"prompt\":\"a cat\",\"seconds\":8}");
    json_t *got = lx_tpl_body_fill(ok, in, "idem-1");
    json_t *want = J("{\"model\":\"m\",\"input\":{\"text\":\"say: a cat!\",\"duration\":8,"
                     "\"img\":[],\"lit\":\"{prompt}\",\"fixed\":3,\"key\":\"idem-1\"}}");
    if (!json_equal(got, want)) {
        char *s = json_dumps(got, JSON_SORT_KEYS);
        fail_msg("filled: %s", s);
    }
    json_t *mixed = J("{\"d\":\"{seconds}s\"}");
    json_t *got2 = lx_tpl_body_fill(mixed, in, NULL);
    assert_string_equal(json_string_value(json_object_get(got2, "d")), "8s");
    json_decref(got2);
    json_decref(mixed);
    json_decref(want);
    json_decref(got);
    json_decref(in);
    json_decref(arr);
    json_decref(brace);
    json_decref(bad);
    json_decref(ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_names_round_trip),
        cmocka_unit_test(test_path_segment_cannot_change_the_path),
        cmocka_unit_test(test_retry_after_seconds_only),
        cmocka_unit_test(test_http_error_classes),
        cmocka_unit_test(test_http_error_reads_the_body_and_retry_after),
        cmocka_unit_test(test_http_error_never_copies_an_auth_message),
        cmocka_unit_test(test_answer_json_and_ids),
        cmocka_unit_test(test_request_basics),
        cmocka_unit_test(test_jpath),
        cmocka_unit_test(test_path_templates),
        cmocka_unit_test(test_body_templates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
