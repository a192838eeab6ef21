/* testexec.c - the test-only executor "test.job" (registered when
 * LLMUX_TEST_TASKS=1): its "provider" is the table llmux_test_jobs in the
 * task's own database, which the test creates:
 *
 *   CREATE TABLE llmux_test_jobs (id BIGSERIAL PRIMARY KEY, idem TEXT UNIQUE,
 *     task TEXT, polls INT NOT NULL DEFAULT 0, polls_needed INT NOT NULL,
 *     fail TEXT, cancelled BOOLEAN NOT NULL DEFAULT false,
 *     submits INT NOT NULL DEFAULT 1);
 *
 * A submission inserts a job (a second one with the same idempotency key
 * counts in `submits` instead: the provider honours the key); each poll
 * adds one to `polls`; the job is done after input.polls polls (default 3),
 * failed with input.fail as its code if given; cancel sets `cancelled`.
 * input.unreachable: every poll finds the provider down. input.reconcile
 * "none": the provider can neither find a job nor dedupe a resubmission
 * (reconcile reports submission_uncertain); else reconcile looks the job
 * up by the idempotency key and resubmits with it if none is found.
 * input.hint_ms: the provider's hint for the next poll.
 *
 * Each query's state (qctx) is the job's data slot: abandon clears its job,
 * and the query's callback then only frees it. */
#include "db/pg.h"
#include "task/task.h"

#include <stdio.h>
#include <stdlib.h>

typedef enum { T_SUBMIT, T_POLL, T_CANCEL, T_LOOKUP } tkind_t;

typedef struct {
    lx_task_job_t *job; /* NULL once abandoned */
    tkind_t kind;
    int hint_ms;
    lx_pg_t *pg;
    char idem[64], task[LX_TASK_ID_MAX], needed[16], fail[64];
    bool has_fail;
} qctx_t;

static const char INSERT_SQL[] =
    "INSERT INTO llmux_test_jobs (idem, task, polls_needed, fail) VALUES ($1, $2, $3::int, $4) "
    "ON CONFLICT (idem) DO UPDATE SET submits = llmux_test_jobs.submits + 1 RETURNING id";

static void done(const lx_pg_result_t *res, void *arg);

static int send_q(qctx_t *q, const char *sql, int n, const char *const *p)
{
    if (lx_pg_query(q->pg, sql, n, p, 0, done, q) != LX_OK)
        return LX_ERROR;
    *lx_task_job_data(q->job) = q;
    return LX_OK;
}

static int submit_query(qctx_t *q)
{
    q->kind = T_SUBMIT;
    const char *p[4] = {q->idem, q->task, q->needed, q->has_fail ? q->fail : NULL};
    return send_q(q, INSERT_SQL, 4, p);
}

static void done(const lx_pg_result_t *res, void *arg)
{
    qctx_t *q = arg;
    lx_task_job_t *job = q->job;
    if (job == NULL) { /* abandoned */
        free(q);
        return;
    }
    if (!lx_pg_ok(res)) {
        free(q);
        lx_task_report_retry(job, "provider_error", "the test provider's database failed", 0);
        return;
    }
    switch (q->kind) {
    case T_SUBMIT:
        lx_task_report_submitted(job, lx_pg_value(res, 0, 0));
        break;
    case T_LOOKUP:
        if (lx_pg_ntuples(res) > 0) {
            lx_task_report_submitted(job, lx_pg_value(res, 0, 0));
        } else if (submit_query(q) == LX_OK) { /* resubmit with the same key */
            return;
        } else {
            lx_task_report_retry(job, "provider_error", "queue full", 0);
        }
        break;
    case T_CANCEL:
        lx_task_report_progress(job, 0, 0);
        break;
    case T_POLL:
        if (lx_pg_ntuples(res) == 0) {
            lx_task_report_failed(job, "job_not_found", "the test provider has no such job");
            break;
        }
        int polls = atoi(lx_pg_value(res, 0, 0)), needed = atoi(lx_pg_value(res, 0, 1));
        const char *fail = lx_pg_isnull(res, 0, 2) ? NULL : lx_pg_value(res, 0, 2);
        if (polls < needed) {
            lx_task_report_progress(job, needed > 0 ? polls * 100 / needed : 0, q->hint_ms);
        } else if (fail) {
            lx_task_report_failed(job, fail, "the test job failed");
        } else {
            char url[96];
            snprintf(url, sizeof url, "https://example.invalid/jobs/%s", lx_pg_value(res, 0, 3));
            lx_task_report_succeeded(job, json_pack("{s:s, s:i}", "url", url, "polls", polls));
        }
        break;
    }
    free(q);
}

static qctx_t *ctx_new(const lx_task_view_t *t, lx_task_job_t *job, tkind_t kind)
{
    qctx_t *q = calloc(1, sizeof *q);
    if (q == NULL)
        return NULL;
    q->job = job;
    q->kind = kind;
    q->pg = t->pg;
    snprintf(q->idem, sizeof q->idem, "%s", t->idempotency_key);
    snprintf(q->task, sizeof q->task, "%s", t->public_id);
    json_t *polls = json_object_get(t->input, "polls");
    snprintf(q->needed, sizeof q->needed, "%d",
             json_is_integer(polls) ? (int)json_integer_value(polls) : 3);
    const char *fail = json_string_value(json_object_get(t->input, "fail"));
    q->has_fail = fail != NULL;
    snprintf(q->fail, sizeof q->fail, "%s", fail ? fail : "");
    json_t *hint = json_object_get(t->input, "hint_ms");
    q->hint_ms = json_is_integer(hint) ? (int)json_integer_value(hint) : 0;
    return q;
}

static void start(const lx_task_view_t *t, lx_task_job_t *job, tkind_t kind, const char *sql, int n,
                  const char *const *p)
{
    qctx_t *q = ctx_new(t, job, kind);
    if (q == NULL || (kind == T_SUBMIT ? submit_query(q) : send_q(q, sql, n, p)) != LX_OK) {
        free(q);
        lx_task_report_retry(job, "provider_error", "the test provider is busy", 0);
    }
}

static void ex_submit(const lx_task_view_t *t, lx_task_job_t *job, void *arg)
{
    start(t, job, T_SUBMIT, NULL, 0, NULL);
}

static void ex_poll(const lx_task_view_t *t, lx_task_job_t *job, void *arg)
{
    if (json_is_true(json_object_get(t->input, "unreachable"))) {
        lx_task_report_retry(job, "provider_unreachable", "connection refused", 0);
        return;
    }
    const char *p[1] = {t->external_id};
    start(t, job, T_POLL,
          "UPDATE llmux_test_jobs SET polls = polls + 1 WHERE id = $1::bigint "
          "RETURNING polls, polls_needed, fail, id",
          1, p);
}

static void ex_cancel(const lx_task_view_t *t, lx_task_job_t *job, void *arg)
{
    const char *p[1] = {t->external_id};
    start(t, job, T_CANCEL, "UPDATE llmux_test_jobs SET cancelled = true WHERE id = $1::bigint", 1,
          p);
}

static void ex_reconcile(const lx_task_view_t *t, lx_task_job_t *job, void *arg)
{
    const char *how = json_string_value(json_object_get(t->input, "reconcile"));
    if (how && strcmp(how, "none") == 0) {
        lx_task_report_uncertain(job, NULL);
        return;
    }
    const char *p[1] = {t->idempotency_key};
    start(t, job, T_LOOKUP, "SELECT id FROM llmux_test_jobs WHERE idem = $1", 1, p);
}

static void ex_abandon(lx_task_job_t *job, void *arg)
{
    qctx_t *q = *lx_task_job_data(job);
    if (q)
        q->job = NULL;
}

static int ex_prepare(const json_t *input, char *provider, char *credential_id, char *msg)
{
    json_t *polls = json_object_get(input, "polls");
    if (polls && (!json_is_integer(polls) || json_integer_value(polls) < 0 ||
                  json_integer_value(polls) > 1000000)) {
        snprintf(msg, 256, "input.polls must be an integer from 0 to 1000000");
        return LX_ERROR;
    }
    const char *cred = json_string_value(json_object_get(input, "credential"));
    snprintf(provider, 128, "test");
    snprintf(credential_id, 128, "%s", cred ? cred : "test-default");
    return LX_OK;
}

const lx_task_executor_t lx_task_test_executor = {
    .type = "test.job",
    .submit = ex_submit,
    .poll = ex_poll,
    .cancel = ex_cancel,
    .reconcile = ex_reconcile,
    .abandon = ex_abandon,
    .prepare = ex_prepare,
};
