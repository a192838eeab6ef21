/* media_test.h - helpers the src/media unit tests share. Owns nothing
 * beyond what each helper says it returns. */
#ifndef LX_TEST_MEDIA_TEST_H
#define LX_TEST_MEDIA_TEST_H

#include "media/adapter.h"

#include <stdio.h>
#include <stdlib.h>

/* A JSON value from text (the caller owns it); fails the test on bad text. */
static inline json_t *J(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
    if (v == NULL) {
        fprintf(stderr, "bad test JSON: %s: %s\n", text, e.text);
        abort();
    }
    return v;
}

/* Asserts that the request's body is exactly the JSON want. */
static inline void assert_body_json(const lx_job_req_t *r, const char *want)
{
    assert_non_null(r->body);
    assert_string_equal(r->content_type, "application/json");
    json_t *got = J(r->body), *w = J(want);
    if (!json_equal(got, w)) {
        fprintf(stderr, "body %s\nwant %s\n", r->body, want);
        fail();
    }
    json_decref(got);
    json_decref(w);
}

/* Parses an answer (status, body text, Retry-After) with adapter a. */
static inline void parse_answer(const lx_media_adapter_t *a, lx_job_op_t op, int status,
                                const char *body, const char *retry_after, lx_job_result_t *res)
{
    lx_job_answer_t ans = {status, body, body ? strlen(body) : 0, retry_after};
    lx_job_result_init(res);
    a->parse(a, op, &ans, res);
}

static inline const char *out_url(const lx_job_result_t *r, size_t i)
{
    return json_string_value(json_array_get(json_object_get(r->output, "urls"), i));
}

#endif
