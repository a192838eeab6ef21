/* test_failure.c - unit tests for src/ai/routing/failure.c: the
 * classification table for every listed status and transport outcome
 * (idempotent or not, before or after bytes reached the client), quota
 * bodies, backoff with full jitter, and the next-step decision under the
 * deadline and the retry budget. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ai/routing/failure.h"

typedef struct {
    int status;
    lx_xfer_t outcome;
    bool request_sent, client_bytes, idempotent, quota;
    lx_fail_class_t cls;
    lx_brk_effect_t brk;
} row_t;

#define OK_ LX_XFER_OK
#define S   LX_BRK_SUCCESS
#define F   LX_BRK_FAILURE
#define N   LX_BRK_NEUTRAL

static const row_t table[] = {
    /* status, outcome, sent, client bytes, idempotent, quota -> class, breaker */
    {200, OK_, true, false, true, false, LX_FAIL_SUCCESS, S},
    {201, OK_, true, false, false, false, LX_FAIL_SUCCESS, S},
    {200, OK_, true, true, true, false, LX_FAIL_SUCCESS, S},
    /* 429 and quota: cool + move on at once */
    {429, OK_, true, false, true, false, LX_FAIL_ROTATE, N},
    {429, OK_, true, false, false, false, LX_FAIL_ROTATE, N},
    {402, OK_, true, false, true, false, LX_FAIL_ROTATE, N},
    {403, OK_, true, false, true, true, LX_FAIL_ROTATE, N},
    {400, OK_, true, false, true, true, LX_FAIL_ROTATE, N},
    /* retryable statuses */
    {500, OK_, true, false, true, false, LX_FAIL_RETRY, F},
    {502, OK_, true, false, true, false, LX_FAIL_RETRY, F},
    {503, OK_, true, false, true, false, LX_FAIL_RETRY, F},
    {504, OK_, true, false, true, false, LX_FAIL_RETRY, F},
    {529, OK_, true, false, true, false, LX_FAIL_RETRY, F},
    {408, OK_, true, false, true, false, LX_FAIL_RETRY, F},
    {520, OK_, true, false, true, false, LX_FAIL_RETRY, F},
    /* non-idempotent: only where the upstream surely did no work */
    {500, OK_, true, false, false, false, LX_FAIL_FATAL, F},
    {502, OK_, true, false, false, false, LX_FAIL_FATAL, F},
    {504, OK_, true, false, false, false, LX_FAIL_FATAL, F},
    {503, OK_, true, false, false, false, LX_FAIL_RETRY, F},
    {529, OK_, true, false, false, false, LX_FAIL_RETRY, F},
    /* no retry */
    {400, OK_, true, false, true, false, LX_FAIL_FATAL, N},
    {404, OK_, true, false, true, false, LX_FAIL_FATAL, N},
    {413, OK_, true, false, true, false, LX_FAIL_FATAL, N},
    {422, OK_, true, false, true, false, LX_FAIL_FATAL, N},
    {409, OK_, true, false, true, false, LX_FAIL_FATAL, N},
    {501, OK_, true, false, true, false, LX_FAIL_FATAL, N},
    {505, OK_, true, false, true, false, LX_FAIL_FATAL, N},
    /* no retry, and flag the connection */
    {401, OK_, true, false, true, false, LX_FAIL_FLAG_AUTH, N},
    {403, OK_, true, false, true, false, LX_FAIL_FLAG_AUTH, N},
    {401, OK_, true, false, false, false, LX_FAIL_FLAG_AUTH, N},
    /* transport, nothing relayed yet */
    {0, LX_XFER_CONNECT_FAILED, false, false, true, false, LX_FAIL_RETRY, F},
    {0, LX_XFER_CONNECT_FAILED, false, false, false, false, LX_FAIL_RETRY, F},
    {0, LX_XFER_TIMEOUT_CONNECT, false, false, false, false, LX_FAIL_RETRY, F},
    {0, LX_XFER_TIMEOUT_FIRST_BYTE, true, false, true, false, LX_FAIL_RETRY, F},
    {0, LX_XFER_TIMEOUT_FIRST_BYTE, true, false, false, false, LX_FAIL_FATAL, F},
    {0, LX_XFER_TIMEOUT_FIRST_BYTE, false, false, false, false, LX_FAIL_RETRY, F},
    {0, LX_XFER_TIMEOUT_IDLE, true, false, true, false, LX_FAIL_RETRY, F},
    {0, LX_XFER_TIMEOUT_IDLE, true, false, false, false, LX_FAIL_FATAL, F},
    {0, LX_XFER_TIMEOUT_TOTAL, true, false, true, false, LX_FAIL_RETRY, F},
    {0, LX_XFER_TIMEOUT_TOTAL, true, false, false, false, LX_FAIL_FATAL, F},
    {0, LX_XFER_BROKEN, true, false, true, false, LX_FAIL_RETRY, F},
    {0, LX_XFER_BROKEN, true, false, false, false, LX_FAIL_FATAL, F},
    {0, LX_XFER_BROKEN, false, false, false, false, LX_FAIL_RETRY, F},
    /* mid-stream: too late to retry, but the breaker hears of it */
    {200, LX_XFER_BROKEN, true, true, true, false, LX_FAIL_FATAL, F},
    {200, LX_XFER_TIMEOUT_IDLE, true, true, true, false, LX_FAIL_FATAL, F},
    {200, LX_XFER_TIMEOUT_TOTAL, true, true, true, false, LX_FAIL_FATAL, F},
    {500, OK_, true, true, true, false, LX_FAIL_FATAL, F},
    {429, OK_, true, true, true, false, LX_FAIL_FATAL, N},
    /* a certificate that does not verify: the next target, never the same again */
    {0, LX_XFER_TLS_VERIFY, false, false, true, false, LX_FAIL_NEXT, F},
    {0, LX_XFER_TLS_VERIFY, false, false, false, false, LX_FAIL_NEXT, F},
    /* our own abort: nobody's fault */
    {0, LX_XFER_ABORTED, true, false, true, false, LX_FAIL_FATAL, N},
    {200, LX_XFER_ABORTED, true, true, true, false, LX_FAIL_FATAL, N},
};

static void test_classification_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < LX_ARRAY_LEN(table); i++) {
        const row_t *r = &table[i];
        lx_attempt_facts_t f = {
            .status = r->status,
            .transport = r->outcome,
            .request_sent = r->request_sent,
            .client_bytes_sent = r->client_bytes,
            .idempotent = r->idempotent,
            .quota = r->quota,
        };
        lx_verdict_t v = lx_failure_classify(&f);
        if (v.cls != r->cls || v.breaker != r->brk)
            fail_msg("row %zu (status %d, transport %d, idempotent %d): got %s/%d, want %s/%d", i,
                     r->status, (int)r->outcome, r->idempotent, lx_fail_class_name(v.cls),
                     v.breaker, lx_fail_class_name(r->cls), r->brk);
        if (v.cls == LX_FAIL_SUCCESS)
            assert_int_equal(v.err, LX_E_NONE);
        else
            assert_int_not_equal(v.err, LX_E_NONE);
    }
}

static void test_error_reasons(void **state)
{
    (void)state;
    lx_attempt_facts_t f = {.status = 429, .transport = LX_XFER_OK, .idempotent = true};
    assert_int_equal(lx_failure_classify(&f).err, LX_E_RATE_LIMITED);
    f.status = 401; /* our credential failed, not the client's key */
    assert_int_equal(lx_failure_classify(&f).err, LX_E_UPSTREAM);
    f.status = 413;
    assert_int_equal(lx_failure_classify(&f).err, LX_E_BODY_TOO_LARGE);
    f.status = 503;
    assert_int_equal(lx_failure_classify(&f).err, LX_E_UNAVAILABLE);
    f = (lx_attempt_facts_t){.transport = LX_XFER_TIMEOUT_FIRST_BYTE, .idempotent = true};
    assert_int_equal(lx_failure_classify(&f).err, LX_E_UPSTREAM_TIMEOUT);
    f.transport = LX_XFER_CONNECT_FAILED;
    assert_int_equal(lx_failure_classify(&f).err, LX_E_UPSTREAM);
    assert_string_equal(lx_fail_class_name(LX_FAIL_ROTATE), "rotate");
}

static void test_quota_bodies(void **state)
{
    (void)state;
    assert_true(lx_failure_body_is_quota(
        lx_str("{\"error\":{\"code\":\"insufficient_quota\",\"message\":\"You exceeded your "
               "current quota\"}}")));
    /* Gemini's 429: per model, even though it says "quota" */
    assert_false(
        lx_failure_body_is_quota(lx_str("{\"error\":{\"status\":\"RESOURCE_EXHAUSTED\"}}")));
    assert_false(lx_failure_body_is_quota(
        lx_str("{\"error\":{\"code\":429,\"message\":\"You exceeded your current quota, please "
               "check your plan and billing details.\",\"status\":\"RESOURCE_EXHAUSTED\"}}")));
    assert_true(lx_failure_body_is_quota(
        lx_str("{\"type\":\"error\",\"error\":{\"message\":\"Your credit balance is too low\"}}")));
    assert_true(lx_failure_body_is_quota(lx_str("Insufficient credits")));
    assert_false(lx_failure_body_is_quota(lx_str("{\"error\":\"model overloaded\"}")));
    assert_false(lx_failure_body_is_quota(LX_NULL_STR));
    assert_false(lx_failure_body_is_quota((lx_str_t){"insufficient_quota", 10}));
}

static void test_backoff_full_jitter(void **state)
{
    (void)state;
    lx_backoff_conf_t c;
    lx_backoff_conf_default(&c);
    assert_int_equal(c.base_ms, 100);
    assert_int_equal(c.cap_ms, 2000);
    lx_rng_t rng;
    lx_rng_seed(&rng, 7);
    const int64_t ceil[] = {100, 200, 400, 800, 1600, 2000, 2000, 2000};
    for (int n = 0; n < 8; n++) {
        int64_t mx = 0, sum = 0;
        for (int i = 0; i < 10000; i++) {
            int64_t d = lx_backoff_ms(&c, n, &rng);
            assert_in_range(d, 0, ceil[n]);
            mx = d > mx ? d : mx;
            sum += d;
        }
        assert_true(mx >= ceil[n] * 95 / 100);
        int64_t mean = sum / 10000;
        assert_in_range(mean, ceil[n] * 45 / 100, ceil[n] * 55 / 100);
    }
    assert_in_range(lx_backoff_ms(&c, 1000, &rng), 0, 2000); /* no overflow */
}

static lx_verdict_t cls(lx_fail_class_t c)
{
    return (lx_verdict_t){c, LX_BRK_NEUTRAL, LX_E_UPSTREAM, LX_SCOPE_DEPLOYMENT};
}

static void test_next_step(void **state)
{
    (void)state;
    lx_backoff_conf_t c;
    lx_backoff_conf_default(&c);
    lx_rng_t rng;
    lx_rng_seed(&rng, 1);
    int64_t now = 1000, dl = 31000;
    lx_verdict_t v;

    v = cls(LX_FAIL_SUCCESS);
    assert_int_equal(lx_failure_next(&v, 0, true, &c, NULL, &rng, now, dl).kind, LX_STEP_DONE);
    v = cls(LX_FAIL_FATAL);
    assert_int_equal(lx_failure_next(&v, 0, true, &c, NULL, &rng, now, dl).kind, LX_STEP_GIVE_UP);
    v = cls(LX_FAIL_FLAG_AUTH);
    assert_int_equal(lx_failure_next(&v, 0, true, &c, NULL, &rng, now, dl).kind, LX_STEP_GIVE_UP);
    /* TLS verification failed: the next target at once, never the same */
    v = cls(LX_FAIL_NEXT);
    lx_step_t nx = lx_failure_next(&v, 0, true, &c, NULL, &rng, now, dl);
    assert_int_equal(nx.kind, LX_STEP_NEXT);
    assert_int_equal(nx.delay_ms, 0);
    assert_int_equal(lx_failure_next(&v, 0, false, &c, NULL, &rng, now, dl).kind, LX_STEP_GIVE_UP);
    assert_string_equal(lx_fail_class_name(LX_FAIL_NEXT), "next");

    /* rotate: next at once, no budget spent; nothing left: give up */
    lx_retry_budget_t b;
    lx_retry_budget_init(&b, 0.2, 10, 0);
    v = cls(LX_FAIL_ROTATE);
    lx_step_t s = lx_failure_next(&v, 0, true, &c, &b, &rng, now, dl);
    assert_int_equal(s.kind, LX_STEP_NEXT);
    assert_int_equal(s.delay_ms, 0);
    assert_int_equal(lx_failure_next(&v, 0, false, &c, &b, &rng, now, dl).kind, LX_STEP_GIVE_UP);

    /* retry: same target after a backoff within [0, 100], then fall back */
    lx_retry_budget_init(&b, 0.2, 10, 10);
    v = cls(LX_FAIL_RETRY);
    s = lx_failure_next(&v, 0, true, &c, &b, &rng, now, dl);
    assert_int_equal(s.kind, LX_STEP_RETRY_SAME);
    assert_in_range(s.delay_ms, 0, 100);
    s = lx_failure_next(&v, 1, true, &c, &b, &rng, now, dl);
    assert_int_equal(s.kind, LX_STEP_NEXT);
    assert_int_equal(lx_failure_next(&v, 1, false, &c, &b, &rng, now, dl).kind, LX_STEP_GIVE_UP);
    assert_true(lx_retry_budget_tokens(&b) == 8.0); /* two tokens spent */

    /* the deadline */
    assert_int_equal(lx_failure_next(&v, 0, true, &c, &b, &rng, dl, dl).kind, LX_STEP_GIVE_UP);
    v = cls(LX_FAIL_ROTATE);
    assert_int_equal(lx_failure_next(&v, 0, true, &c, &b, &rng, dl, dl).kind, LX_STEP_GIVE_UP);
    v = cls(LX_FAIL_RETRY);
    for (int i = 0; i < 1000; i++) {
        /* 50 ms left: a wait that would reach the deadline is never chosen */
        s = lx_failure_next(&v, 0, true, &c, NULL, &rng, now, now + 50);
        if (s.kind == LX_STEP_RETRY_SAME)
            assert_true(now + s.delay_ms < now + 50);
        else
            assert_int_equal(s.kind, LX_STEP_NEXT);
        s = lx_failure_next(&v, 0, false, &c, NULL, &rng, now, now + 50);
        assert_true(s.kind == LX_STEP_GIVE_UP || s.delay_ms < 50);
    }

    /* the budget spent: no retry and no fallback after a failure */
    lx_retry_budget_init(&b, 0.2, 10, 0);
    assert_int_equal(lx_failure_next(&v, 0, true, &c, &b, &rng, now, dl).kind, LX_STEP_GIVE_UP);
    v = cls(LX_FAIL_ROTATE); /* ... but 429 still rotates */
    assert_int_equal(lx_failure_next(&v, 0, true, &c, &b, &rng, now, dl).kind, LX_STEP_NEXT);
    assert_string_equal(lx_step_name(LX_STEP_RETRY_SAME), "retry_same");
    assert_int_equal(lx_deadline_left_ms(5, 3), 0);
    assert_int_equal(lx_deadline_left_ms(3, 5), 2);
}

/* Where each failure lands: the deployment (credential x model) unless the
 * signal is about the whole credential. */
static void test_scopes(void **state)
{
    (void)state;
    static const struct {
        int status;
        lx_xfer_t outcome;
        bool quota;
        lx_fail_scope_t scope;
    } rows[] = {
        {429, OK_, false, LX_SCOPE_DEPLOYMENT},
        {429, OK_, true, LX_SCOPE_CREDENTIAL}, /* insufficient_quota */
        {402, OK_, false, LX_SCOPE_CREDENTIAL},
        {403, OK_, true, LX_SCOPE_CREDENTIAL}, /* a quota body wins */
        {401, OK_, false, LX_SCOPE_CREDENTIAL},
        {403, OK_, false, LX_SCOPE_DEPLOYMENT},
        {500, OK_, false, LX_SCOPE_DEPLOYMENT},
        {503, OK_, false, LX_SCOPE_DEPLOYMENT},
        {0, LX_XFER_CONNECT_FAILED, false, LX_SCOPE_CREDENTIAL}, /* TLS errors too */
        {0, LX_XFER_TIMEOUT_CONNECT, false, LX_SCOPE_CREDENTIAL},
        {0, LX_XFER_TIMEOUT_FIRST_BYTE, false, LX_SCOPE_DEPLOYMENT},
        {0, LX_XFER_TIMEOUT_IDLE, false, LX_SCOPE_DEPLOYMENT},
        {0, LX_XFER_BROKEN, false, LX_SCOPE_DEPLOYMENT},
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(rows); i++) {
        lx_attempt_facts_t f = {.status = rows[i].status,
                                .transport = rows[i].outcome,
                                .request_sent = rows[i].outcome == OK_,
                                .idempotent = true,
                                .quota = rows[i].quota};
        lx_verdict_t v = lx_failure_classify(&f);
        if (v.scope != rows[i].scope)
            fail_msg("row %zu: status %d outcome %d: scope %d, want %d", i, rows[i].status,
                     (int)rows[i].outcome, (int)v.scope, (int)rows[i].scope);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classification_table), cmocka_unit_test(test_scopes),
        cmocka_unit_test(test_error_reasons),        cmocka_unit_test(test_quota_bodies),
        cmocka_unit_test(test_backoff_full_jitter),  cmocka_unit_test(test_next_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
