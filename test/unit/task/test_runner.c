/* test_runner.c - the task runner (src/task/runner.c) against a fake
 * Postgres (pg_fake.c) and a fake executor: what a claim starts (submit for
 * a queued task, poll for a running one, reconcile, never submit, for a
 * 'submitting' one without a job id), that every transition is conditional
 * on this worker's lease, that a write that changed nothing makes the
 * runner renew and let go of a task that is no longer its own, coalesced
 * progress writes, the cancel hand-off and provider_unreachable. */
#include "pg_fake.h"
#include "task/task.h"

#include <event2/event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

static struct {
    int submits, polls, cancels, reconciles;
    int progress; /* what the next poll reports; 100: succeeded, -1: retry */
} ex;

static void ex_submit(const lx_task_view_t *t, lx_task_job_t *job, void *arg)
{
    ex.submits++;
    assert_non_null(t->idempotency_key);
    lx_task_report_submitted(job, "job-1");
}

static void ex_poll(const lx_task_view_t *t, lx_task_job_t *job, void *arg)
{
    ex.polls++;
    assert_non_null(t->external_id);
    if (ex.progress == 100)
        lx_task_report_succeeded(job, json_pack("{s:s}", "url", "u"));
    else if (ex.progress < 0)
        lx_task_report_retry(job, "down", "connection refused", 0);
    else
        lx_task_report_progress(job, ex.progress, 0);
}

static void ex_cancel(const lx_task_view_t *t, lx_task_job_t *job, void *arg)
{
    ex.cancels++;
    lx_task_report_progress(job, 0, 0);
}

static void ex_reconcile(const lx_task_view_t *t, lx_task_job_t *job, void *arg)
{
    ex.reconciles++;
    lx_task_report_submitted(job, "job-r");
}

static const lx_task_executor_t unit_ex = {
    .type = "unit.job",
    .submit = ex_submit,
    .poll = ex_poll,
    .cancel = ex_cancel,
    .reconcile = ex_reconcile,
};

static struct event_base *base;
static lx_task_runner_t *runner;

static lx_task_runner_t *new_runner(int renew_ms, int unreachable_ms)
{
    lx_task_runner_opts_t o = {
        .conf = {.poll_min_ms = 5,
                 .poll_max_ms = 10,
                 .lease_ms = 30000,
                 .renew_ms = renew_ms,
                 .claim_ms = 3600000,
                 .unreachable_ms = unreachable_ms,
                 .max_age_ms = 3600000,
                 .pool = 8},
        .instance_id = "itest",
        .worker_id = 0,
    };
    return lx_task_runner_new(base, NULL, &o);
}

static int setup(void **state)
{
    memset(&ex, 0, sizeof ex);
    fake_reset();
    lx_task_registry_reset();
    assert_int_equal(lx_task_register(&unit_ex), LX_OK);
    base = event_base_new();
    return 0;
}

static int teardown(void **state)
{
    lx_task_runner_free(runner);
    runner = NULL;
    while (fake_pending()) /* the runner is freed by its last answer */
        fake_answer_error();
    event_base_free(base);
    fake_reset();
    return 0;
}

/* Runs the loop until a query waits (or 2 s pass). */
static fake_query_t *next_query(void)
{
    for (int i = 0; i < 400 && fake_pending() == 0; i++) {
        struct timeval tv = {0, 5000};
        event_base_loopexit(base, &tv);
        event_base_loop(base, EVLOOP_ONCE);
    }
    fake_query_t *q = fake_peek();
    assert_non_null(q);
    return q;
}

/* Runs the loop for about ms milliseconds. */
static void spin(int ms)
{
    struct timeval tv = {0, ms * 1000};
    event_base_loopexit(base, &tv);
    event_base_loop(base, 0);
}

/* One claim row (llmux_task_claim's columns). */
static void answer_claim(const char *how, const char *status, const char *external,
                         const char *cancel)
{
    fake_query_t *q = next_query();
    assert_non_null(strstr(q->sql, "llmux_task_claim"));
    assert_string_equal(q->params[0], "itest.w0");
    assert_string_equal(q->params[1], "{\"unit.job\"}");
    const char *row[14] = {
        how,     "1",      "task_a", "unit.job", status,           "0",   "{}", NULL,
        "cred1", external, "idem-1", "1",        "99999999999999", cancel};
    fake_answer_rows(1, 14, row);
}

static void test_queued_task_submits_once_then_polls_to_success(void **state)
{
    runner = new_runner(3600000, 1000);
    answer_claim("queued", "submitting", NULL, "f");
    assert_int_equal(ex.submits, 1);
    assert_int_equal(ex.reconciles, 0);
    fake_query_t *q = next_query(); /* the job id, stored at once, on our lease only */
    assert_non_null(strstr(q->sql, "status = 'running'"));
    assert_non_null(strstr(q->sql, "lease_owner = $3 AND status = 'submitting'"));
    assert_string_equal(q->params[1], "job-1");
    assert_string_equal(q->params[2], "itest.w0");
    assert_int_equal(ex.polls, 0); /* no poll before the id is stored */
    fake_answer_affected(1);
    ex.progress = 40;
    q = next_query();
    assert_non_null(strstr(q->sql, "progress = $2::int"));
    assert_string_equal(q->params[1], "40");
    assert_string_equal(q->params[2], "itest.w0");
    fake_answer_affected(1);
    int polls = ex.polls;
    while (ex.polls < polls + 3) /* the same progress: nothing written */
        spin(5);
    assert_int_equal(fake_pending(), 0);
    ex.progress = 100;
    q = next_query();
    assert_non_null(strstr(q->sql, "status = $2"));
    assert_string_equal(q->params[1], "succeeded");
    assert_string_equal(q->params[5], "itest.w0");
    assert_non_null(strstr(q->sql, "lease_owner = $6"));
    assert_int_equal(lx_task_runner_active(runner), 1);
    const char *one[1] = {"1"};
    fake_answer_rows(1, 1, one);
    assert_int_equal(lx_task_runner_active(runner), 0);
    assert_int_equal(ex.submits, 1);
}

static void test_write_that_changes_nothing_lets_the_task_go(void **state)
{
    runner = new_runner(3600000, 1000);
    ex.progress = 50;
    answer_claim("takeover", "running", "job-9", "f");
    assert_int_equal(ex.submits, 0); /* it has a job id: polled where it stopped */
    assert_int_equal(ex.polls, 1);
    fake_query_t *q = next_query();
    assert_non_null(strstr(q->sql, "progress = $2::int"));
    fake_answer_affected(0); /* another instance holds it now */
    q = next_query();
    assert_non_null(strstr(q->sql, "lease_expires_at = now()"));
    assert_string_equal(q->params[0], "itest.w0");
    fake_answer_rows(0, 2, NULL); /* not ours */
    assert_int_equal(lx_task_runner_active(runner), 0);
    int polls = ex.polls;
    spin(40);
    assert_int_equal(ex.polls, polls); /* never polled or written again */
    assert_int_equal(fake_pending(), 0);
}

static void test_submitting_without_job_id_is_reconciled_not_resubmitted(void **state)
{
    runner = new_runner(3600000, 1000);
    answer_claim("takeover", "submitting", NULL, "f");
    assert_int_equal(ex.submits, 0);
    assert_int_equal(ex.reconciles, 1);
    fake_query_t *q = next_query();
    assert_string_equal(q->params[1], "job-r");
    fake_answer_affected(1);
}

static void test_cancel_seen_at_renewal_reaches_provider(void **state)
{
    runner = new_runner(20, 1000);
    ex.progress = 10;
    answer_claim("takeover", "running", "job-9", "f");
    fake_query_t *q = next_query();
    assert_non_null(strstr(q->sql, "progress = $2::int"));
    fake_answer_affected(1);
    q = next_query(); /* the periodic renewal */
    assert_non_null(strstr(q->sql, "lease_expires_at = now()"));
    const char *row[2] = {"1", "cancelled"};
    fake_answer_rows(1, 2, row);
    assert_int_equal(ex.cancels, 1);
    q = next_query();
    assert_non_null(strstr(q->sql, "cancel_pending = false"));
    assert_string_equal(q->params[1], "itest.w0");
    fake_answer_affected(1);
    assert_int_equal(lx_task_runner_active(runner), 0);
}

static void test_provider_unreachable(void **state)
{
    runner = new_runner(3600000, 30);
    ex.progress = -1;
    answer_claim("takeover", "running", "job-9", "f");
    fake_query_t *q = next_query();
    assert_string_equal(q->params[1], "failed");
    assert_string_equal(q->params[3], "provider_unreachable");
    assert_true(ex.polls >= 2); /* retried with backoff first */
    const char *one[1] = {"1"};
    fake_answer_rows(1, 1, one);
    assert_int_equal(lx_task_runner_active(runner), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_queued_task_submits_once_then_polls_to_success, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_write_that_changes_nothing_lets_the_task_go, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_submitting_without_job_id_is_reconciled_not_resubmitted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_seen_at_renewal_reaches_provider, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_provider_unreachable, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
