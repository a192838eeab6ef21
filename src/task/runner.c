/* runner.c - one worker's share of the tasks: claims (queued tasks, and
 * tasks whose lease expired) every claim_ms, lease renewal every renew_ms,
 * and one poll timer per task in memory; every executor call and every
 * transition happens on the worker's loop. Each transition is one UPDATE
 * conditional on this worker's lease, so a task taken over by another
 * instance is never written by this one again: a write that changes no row
 * makes the runner renew at once, and the renewal's answer says whether the
 * task is still ours, was cancelled (tell the provider), or is gone.
 *
 * A task (run_t) stays in memory while anything refers to it: its job out
 * at the executor, or queries in flight. The runner itself is freed once
 * its last query answered (at the latest inside lx_pg_free, which answers
 * every queued query with "closing"). */
#include "core/clock.h"
#include "core/crypto.h"
#include "core/json.h"
#include "core/log.h"
#include "db/pg.h"
#include "task/backoff.h"
#include "task/internal.h"
#include "task/run.h"

#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#define CLAIM_BATCH 64

static void start_job(run_t *t, jkind_t kind);
static void renew_now(lx_task_runner_t *r);

static void held_add(run_t *t, int64_t d)
{
    lx_task_stats_held(&t->r->stats, t->type_ix, t->status, d);
}

/* Every change of a held task's status goes through here. */
static void set_status(run_t *t, lx_task_status_t st)
{
    if (t->dropped) {
        t->status = st;
        return;
    }
    held_add(t, -1);
    t->status = st;
    held_add(t, 1);
}

static void count_poll(run_t *t, bool retry)
{
    lx_task_stats_poll(&t->r->stats, t->type_ix, lx_now_us() - t->job_us, retry);
}

/* ---- memory ---- */

static void run_free(run_t *t)
{
    if (t->timer)
        event_free(t->timer);
    free(t->type);
    free(t->provider);
    free(t->credential);
    free(t->external);
    free(t->idem);
    json_decref(t->input);
    free(t);
}

static void unlink_run(run_t *t)
{
    if (t->dropped)
        return;
    t->dropped = true;
    if (t->prev)
        t->prev->next = t->next;
    else
        t->r->head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    t->r->nruns--;
    held_add(t, -1);
    if (t->timer)
        evtimer_del(t->timer);
}

static void maybe_free(run_t *t)
{
    if (t->dropped && t->writes == 0 && t->job.kind == J_NONE)
        run_free(t);
}

void lx_task_run_drop(run_t *t)
{
    unlink_run(t);
    maybe_free(t);
}

void lx_task_runner_maybe_free(lx_task_runner_t *r)
{
    if (r->closing && r->pending == 0)
        free(r);
}

static char *dupz(const lx_pg_result_t *res, int row, int col)
{
    return lx_pg_isnull(res, row, col) ? NULL : strdup(lx_pg_value(res, row, col));
}

/* ---- queries ---- */

typedef void (*wdone_fn)(run_t *t, const lx_pg_result_t *res);

typedef struct {
    run_t *t;
    lx_task_runner_t *r;
    wdone_fn done;
} wctx_t;

static void write_cb(const lx_pg_result_t *res, void *arg)
{
    wctx_t *w = arg;
    lx_task_runner_t *r = w->r;
    run_t *t = w->t;
    r->pending--;
    if (t) { /* the write still counts while done runs: t stays */
        if (!r->closing && !t->dropped && w->done)
            w->done(t, res);
        t->writes--;
        maybe_free(t);
    }
    free(w);
    lx_task_runner_maybe_free(r);
}

static int query(lx_task_runner_t *r, run_t *t, const char *sql, int n, const char *const *p,
                 wdone_fn done)
{
    wctx_t *w = malloc(sizeof *w);
    if (w == NULL)
        return LX_ERROR;
    *w = (wctx_t){t, r, done};
    if (lx_pg_query(r->pg, sql, n, p, 0, write_cb, w) != LX_OK) {
        free(w);
        return LX_ERROR;
    }
    r->pending++;
    if (t)
        t->writes++;
    return LX_OK;
}

static void schedule(run_t *t, jkind_t kind, int delay_ms)
{
    t->next_job = kind;
    struct timeval tv = {delay_ms / 1000, (delay_ms % 1000) * 1000};
    evtimer_add(t->timer, &tv);
}

static uint32_t rnd32(void)
{
    uint32_t v;
    lx_random_bytes(&v, sizeof v);
    return v;
}

static void schedule_poll(run_t *t, int hint_ms)
{
    int d = lx_task_backoff_ms(&t->r->o.conf, t->polls++, hint_ms, rnd32());
    schedule(t, J_POLL, d);
}

/* A conditional write changed nothing: the lease is someone else's, or a
 * client cancelled the task. The renewal's answer decides. */
static bool lost(run_t *t, const lx_pg_result_t *res)
{
    if (!lx_pg_ok(res)) { /* try again later: the lease may still be ours */
        lx_log_warn("task write failed", "\"task\":\"%s\"", t->public_id);
        renew_now(t->r);
        return true;
    }
    bool changed =
        lx_pg_ntuples(res) > 0 ? strcmp(lx_pg_value(res, 0, 0), "1") == 0 : lx_pg_affected(res) > 0;
    if (changed)
        return false;
    renew_now(t->r);
    return true;
}

/* ---- transitions ---- */

static const char RUNNING_SQL[] =
    "UPDATE ai_tasks SET status = 'running', external_id = $2, updated_at = now() "
    "WHERE id = $1::bigint AND lease_owner = $3 AND status = 'submitting'";

static void running_done(run_t *t, const lx_pg_result_t *res)
{
    if (lost(t, res)) {
        if (!lx_pg_ok(res)) /* not stored yet: store it again shortly */
            schedule(t, J_SUBMIT, 1000);
        return;
    }
    set_status(t, LX_TASK_RUNNING);
    schedule_poll(t, 0);
}

static void store_running(run_t *t)
{
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)t->id);
    const char *p[3] = {id, t->external, t->r->owner};
    if (query(t->r, t, RUNNING_SQL, 3, p, running_done) != LX_OK)
        schedule(t, J_SUBMIT, 1000); /* J_SUBMIT with an external id stores it */
}

static const char PROGRESS_SQL[] =
    "UPDATE ai_tasks SET progress = $2::int, updated_at = now(), "
    "next_poll_at = now() + $4::int * interval '1 millisecond' "
    "WHERE id = $1::bigint AND lease_owner = $3 AND status = 'running'";

static void progress_done(run_t *t, const lx_pg_result_t *res)
{
    if (lost(t, res))
        evtimer_del(t->timer); /* the renewal decides */
}

static const char FINISH_SQL[] =
    "WITH t AS (UPDATE ai_tasks SET status = $2, output = $3::jsonb, error_code = $4, "
    "error_message = $5, progress = CASE WHEN $2 = 'succeeded' THEN 100 ELSE progress END, "
    "finished_at = now(), updated_at = now(), lease_owner = NULL, lease_expires_at = NULL, "
    "next_poll_at = NULL WHERE id = $1::bigint AND lease_owner = $6 "
    "AND status IN ('queued', 'submitting', 'running') RETURNING id, callback_url), "
    "w AS (INSERT INTO ai_task_webhooks (task_id, url) "
    "SELECT id, callback_url FROM t WHERE callback_url IS NOT NULL) "
    "SELECT CASE WHEN EXISTS (SELECT 1 FROM t) THEN 1 ELSE 0 END";

static void finish_done(run_t *t, const lx_pg_result_t *res)
{
    if (!lx_pg_ok(res)) {
        t->finished = false; /* not stored: the renewal keeps it ours; retried below */
        renew_now(t->r);
        return;
    }
    if (lost(t, res))
        return;
    lx_log_info("task finished", "\"task\":\"%s\",\"status\":\"%s\"", t->public_id,
                lx_task_status_name(t->status));
    lx_task_stats_finished(&t->r->stats, t->type_ix, t->status);
    if (t->status == LX_TASK_EXPIRED && t->external && t->ex->cancel) {
        start_job(t, J_CANCEL); /* best effort; dropped when it reports */
        return;
    }
    lx_task_run_drop(t);
}

static void finish(run_t *t, lx_task_status_t st, json_t *output, const char *code, const char *msg)
{
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)t->id);
    char *out = output ? json_dumps(output, JSON_COMPACT) : NULL;
    json_decref(output);
    set_status(t, st);
    t->finished = true;
    evtimer_del(t->timer);
    const char *p[6] = {id, lx_task_status_name(st), out, code, msg, t->r->owner};
    if (query(t->r, t, FINISH_SQL, 6, p, finish_done) != LX_OK) {
        t->finished = false;
        schedule(t, J_POLL, 1000);
    }
    free(out);
}

static const char RELEASE_SQL[] =
    "UPDATE ai_tasks SET cancel_pending = false, lease_owner = NULL, lease_expires_at = NULL "
    "WHERE id = $1::bigint AND lease_owner = $2";

static void release_done(run_t *t, const lx_pg_result_t *res)
{
    lx_task_run_drop(t);
}

/* A client cancelled the task: the provider is told (if it has a job),
 * then the lease is given back. */
static void cancel_now(run_t *t)
{
    if (t->job.kind != J_NONE)
        return; /* when the job reports */
    evtimer_del(t->timer);
    if (t->external && t->ex->cancel && t->next_job != J_CANCEL) {
        t->next_job = J_CANCEL;
        start_job(t, J_CANCEL);
        return;
    }
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)t->id);
    const char *p[2] = {id, t->r->owner};
    if (query(t->r, t, RELEASE_SQL, 2, p, release_done) != LX_OK)
        lx_task_run_drop(t); /* the lease expires; whoever claims it finishes the cancel */
}

/* ---- jobs ---- */

static void view_of(run_t *t, lx_task_view_t *v)
{
    *v = (lx_task_view_t){
        .public_id = t->public_id,
        .type = t->type,
        .input = t->input,
        .provider = t->provider,
        .credential_id = t->credential,
        .external_id = t->external,
        .idempotency_key = t->idem,
        .progress = t->progress,
        .attempts = t->attempts,
        .base = t->r->base,
        .pg = t->r->pg,
        .ctx = t->r->o.exec_ctx,
    };
}

static void start_job(run_t *t, jkind_t kind)
{
    if (t->dropped || t->job.kind != J_NONE)
        return;
    if ((kind == J_POLL || kind == J_SUBMIT) && lx_wall_ms() >= t->deadline_ms && !t->cancelling) {
        finish(t, LX_TASK_EXPIRED, NULL, "expired", "the task did not finish before its deadline");
        return;
    }
    lx_task_exec_fn fn = kind == J_SUBMIT      ? t->ex->submit
                         : kind == J_POLL      ? t->ex->poll
                         : kind == J_RECONCILE ? t->ex->reconcile
                                               : t->ex->cancel;
    if (kind == J_SUBMIT && t->external) { /* the id is known: only store it */
        store_running(t);
        return;
    }
    if (fn == NULL) {
        if (kind == J_RECONCILE)
            finish(t, LX_TASK_FAILED, NULL, "submission_uncertain",
                   "llmux stopped between submitting this task and storing the provider's job "
                   "id, and the provider offers no way to find or resubmit it safely");
        return;
    }
    t->job = (lx_task_job_t){t, kind, NULL};
    t->job_us = lx_now_us();
    lx_task_view_t v;
    view_of(t, &v);
    fn(&v, &t->job, t->ex->arg);
}

static void timer_cb(evutil_socket_t fd, short ev, void *arg)
{
    run_t *t = arg;
    if (t->cancelling) {
        cancel_now(t);
        return;
    }
    if (t->finished) /* a terminal write failed: renew_now decides */
        return;
    start_job(t, t->next_job);
}

void **lx_task_job_data(lx_task_job_t *job)
{
    return &job->data;
}

/* Takes the job back from the executor; NULL if it was not out. */
static run_t *job_end(lx_task_job_t *job, jkind_t *kind, bool retry)
{
    run_t *t = job->run;
    *kind = job->kind;
    job->kind = J_NONE;
    job->data = NULL;
    if (*kind == J_POLL)
        count_poll(t, retry);
    if (t->dropped) {
        maybe_free(t);
        return NULL;
    }
    if (*kind == J_CANCEL) { /* whatever the provider said */
        if (t->cancelling)
            cancel_now(t);
        else
            lx_task_run_drop(t); /* expired, best-effort cancel done */
        return NULL;
    }
    return t;
}

/* job_end for a report; a task being cancelled is cancelled now instead
 * of taking it. NULL: the report has nothing more to do. */
static run_t *job_report(lx_task_job_t *job, bool retry)
{
    jkind_t kind;
    run_t *t = job_end(job, &kind, retry);
    if (t && t->cancelling) {
        cancel_now(t);
        return NULL;
    }
    return t;
}

void lx_task_report_submitted(lx_task_job_t *job, const char *external_id)
{
    run_t *t = job->run;
    if (t->r->o.crash_after_submit && !t->dropped) {
        lx_log_warn("LLMUX_TEST_TASK_CRASH=after_submit: killing the process", "\"task\":\"%s\"",
                    t->public_id);
        lx_log_flush();
        raise(SIGKILL);
    }
    jkind_t kind;
    if ((t = job_end(job, &kind, false)) == NULL)
        return;
    free(t->external);
    t->external = strdup(external_id ? external_id : "");
    t->fail_since_ms = 0;
    if (t->cancelling) {
        cancel_now(t);
        return;
    }
    store_running(t);
}

void lx_task_report_progress(lx_task_job_t *job, int progress, int hint_ms)
{
    run_t *t = job_report(job, false);
    if (t == NULL)
        return;
    t->fail_since_ms = 0;
    t->progress = progress < 0 ? 0 : progress > 100 ? 100 : progress;
    schedule_poll(t, hint_ms);
    if (t->progress != t->stored_progress) { /* coalesced: only changes are written */
        char id[24], pr[8], next[16];
        snprintf(id, sizeof id, "%lld", (long long)t->id);
        snprintf(pr, sizeof pr, "%d", t->progress);
        snprintf(next, sizeof next, "%d",
                 lx_task_backoff_base_ms(&t->r->o.conf, t->polls, hint_ms));
        const char *p[4] = {id, pr, t->r->owner, next};
        if (query(t->r, t, PROGRESS_SQL, 4, p, progress_done) == LX_OK)
            t->stored_progress = t->progress;
    }
}

void lx_task_report_succeeded(lx_task_job_t *job, json_t *output)
{
    run_t *t = job_report(job, false);
    if (t == NULL) {
        json_decref(output);
        return;
    }
    finish(t, LX_TASK_SUCCEEDED, output ? output : json_object(), NULL, NULL);
}

void lx_task_report_failed(lx_task_job_t *job, const char *code, const char *message)
{
    run_t *t = job_report(job, false);
    if (t == NULL)
        return;
    finish(t, LX_TASK_FAILED, NULL, code ? code : "failed", message ? message : "the task failed");
}

void lx_task_report_uncertain(lx_task_job_t *job, const char *message)
{
    run_t *t = job_report(job, false);
    if (t == NULL)
        return;
    finish(t, LX_TASK_FAILED, NULL, "submission_uncertain",
           message ? message
                   : "llmux stopped between submitting this task and storing the provider's "
                     "job id; the job could not be found again");
}

void lx_task_report_retry(lx_task_job_t *job, const char *code, const char *message, int hint_ms)
{
    jkind_t kind;
    run_t *t = job_end(job, &kind, true);
    if (t == NULL)
        return;
    if (t->cancelling) {
        cancel_now(t);
        return;
    }
    int64_t now = lx_wall_ms();
    if (t->fail_since_ms == 0)
        t->fail_since_ms = now;
    if (now - t->fail_since_ms >= t->r->o.conf.unreachable_ms) {
        char msg[512];
        snprintf(msg, sizeof msg, "the provider did not answer for %d s%s%s",
                 t->r->o.conf.unreachable_ms / 1000, message ? ": " : "", message ? message : "");
        (void)code;
        finish(t, LX_TASK_FAILED, NULL, "provider_unreachable", msg);
        return;
    }
    int d = lx_task_backoff_ms(&t->r->o.conf, t->polls++, hint_ms, rnd32());
    schedule(t, kind, d);
}

/* ---- claims ---- */

static run_t *find(lx_task_runner_t *r, int64_t id)
{
    for (run_t *t = r->head; t; t = t->next)
        if (t->id == id)
            return t;
    return NULL;
}

/* Columns of llmux_task_claim (sql/016). */
enum {
    C_HOW,
    C_ID,
    C_PUBLIC,
    C_TYPE,
    C_STATUS,
    C_PROGRESS,
    C_INPUT,
    C_PROVIDER,
    C_CRED,
    C_EXTERNAL,
    C_IDEM,
    C_ATTEMPTS,
    C_DEADLINE,
    C_CANCEL
};

static void adopt(lx_task_runner_t *r, const lx_pg_result_t *res, int i)
{
    int64_t id = strtoll(lx_pg_value(res, i, C_ID), NULL, 10);
    if (find(r, id)) /* ours already (a renewal was late): nothing changes */
        return;
    run_t *t = calloc(1, sizeof *t);
    if (t == NULL)
        return;
    t->r = r;
    t->id = id;
    snprintf(t->public_id, sizeof t->public_id, "%s", lx_pg_value(res, i, C_PUBLIC));
    t->type = strdup(lx_pg_value(res, i, C_TYPE));
    t->ex = lx_task_executor(t->type);
    t->provider = dupz(res, i, C_PROVIDER);
    t->credential = dupz(res, i, C_CRED);
    t->external = dupz(res, i, C_EXTERNAL);
    t->idem = strdup(lx_pg_value(res, i, C_IDEM));
    const char *in = lx_pg_value(res, i, C_INPUT);
    char err[64];
    t->input = lx_json_parse(in, strlen(in), 64, err, sizeof err);
    if (t->input == NULL)
        t->input = json_object();
    t->status = lx_task_status_parse(lx_pg_value(res, i, C_STATUS));
    t->type_ix = lx_task_type_index(t->type);
    t->progress = t->stored_progress = atoi(lx_pg_value(res, i, C_PROGRESS));
    t->attempts = atoi(lx_pg_value(res, i, C_ATTEMPTS));
    t->deadline_ms = strtoll(lx_pg_value(res, i, C_DEADLINE), NULL, 10);
    t->cancelling = strcmp(lx_pg_value(res, i, C_CANCEL), "t") == 0;
    t->timer = evtimer_new(r->base, timer_cb, t);
    t->next = r->head;
    if (r->head)
        r->head->prev = t;
    r->head = t;
    r->nruns++;
    held_add(t, 1);
    if (t->ex == NULL || t->timer == NULL) { /* listed in the claim's types: cannot happen */
        lx_task_run_drop(t);
        return;
    }
    bool takeover = strcmp(lx_pg_value(res, i, C_HOW), "takeover") == 0;
    if (takeover)
        lx_log_info("task taken over", "\"task\":\"%s\",\"status\":\"%s\"", t->public_id,
                    lx_task_status_name(t->status));
    if (t->cancelling)
        cancel_now(t);
    else if (t->external) /* running: poll where it stopped */
        start_job(t, J_POLL);
    else if (takeover) /* submitting, no job id: never resubmit blindly */
        start_job(t, J_RECONCILE);
    else
        start_job(t, J_SUBMIT);
}

static void claim_cb(const lx_pg_result_t *res, void *arg)
{
    lx_task_runner_t *r = arg;
    r->pending--;
    r->claiming = false;
    if (!r->closing && !r->stopped) { /* stopped: the release gives these back */
        if (!lx_pg_ok(res))
            lx_log_warn("task claim failed", "\"error\":\"%s\"", lx_pg_error(res));
        else
            for (int i = 0; i < lx_pg_ntuples(res); i++)
                adopt(r, res, i);
        /* A full batch: there may be more waiting. */
        if (lx_pg_ok(res) && lx_pg_ntuples(res) >= CLAIM_BATCH)
            event_active(r->claim_ev, EV_TIMEOUT, 0);
    }
    lx_task_runner_maybe_free(r);
}

static void claim_tick(evutil_socket_t fd, short ev, void *arg)
{
    lx_task_runner_t *r = arg;
    if (r->claiming || r->ntypes <= 0 || lx_pg_down(r->pg))
        return;
    char lim[16], lease[16], pool[16];
    snprintf(lim, sizeof lim, "%d", CLAIM_BATCH);
    snprintf(lease, sizeof lease, "%d", r->o.conf.lease_ms);
    snprintf(pool, sizeof pool, "%d", r->o.conf.pool);
    const char *p[5] = {r->owner, r->types, lim, lease, pool};
    if (lx_pg_query(r->pg,
                    "SELECT * FROM llmux_task_claim($1, $2::text[], $3::int, $4::int, $5::int)", 5,
                    p, 0, claim_cb, r) == LX_OK) {
        r->claiming = true;
        r->pending++;
    }
}

/* ---- lease renewal ---- */

static const char RENEW_SQL[] =
    "UPDATE ai_tasks SET lease_expires_at = now() + $2::int * interval '1 millisecond' "
    "WHERE lease_owner = $1 AND (status IN ('submitting', 'running') OR cancel_pending) "
    "RETURNING id, status";

typedef struct {
    int64_t id;
    bool cancelled;
} owned_t;

static int owned_cmp(const void *a, const void *b)
{
    int64_t x = ((const owned_t *)a)->id, y = ((const owned_t *)b)->id;
    return x < y ? -1 : x > y;
}

static void renew_cb(const lx_pg_result_t *res, void *arg)
{
    lx_task_runner_t *r = arg;
    r->pending--;
    r->renewing = false;
    if (!r->closing && !r->stopped && lx_pg_ok(res)) {
        int n = lx_pg_ntuples(res);
        /* What is still ours, sorted by id (one lookup per task in memory:
         * n log n with thousands of tasks); the rest was taken over. */
        owned_t *own = n ? malloc((size_t)n * sizeof *own) : NULL;
        for (int i = 0; own && i < n; i++) {
            own[i].id = strtoll(lx_pg_value(res, i, 0), NULL, 10);
            own[i].cancelled = strcmp(lx_pg_value(res, i, 1), "cancelled") == 0;
        }
        if (own)
            qsort(own, (size_t)n, sizeof *own, owned_cmp);
        else
            n = 0;
        run_t *next;
        for (run_t *t = r->head; t; t = next) {
            next = t->next;
            owned_t key = {t->id, false};
            const owned_t *k = n ? bsearch(&key, own, (size_t)n, sizeof *own, owned_cmp) : NULL;
            if (k == NULL) {
                if (t->writes == 0 || !t->finished) { /* someone else's now */
                    if (!t->finished)
                        lx_log_info("task lease lost", "\"task\":\"%s\"", t->public_id);
                    if (t->job.kind != J_NONE && t->ex->abandon) {
                        t->ex->abandon(&t->job, t->ex->arg);
                        t->job.kind = J_NONE;
                    }
                    lx_task_run_drop(t);
                }
            } else if (k->cancelled && !t->cancelling) {
                t->cancelling = true;
                cancel_now(t);
            } else if (t->finished && t->writes == 0) { /* the terminal write failed */
                t->finished = false;
                schedule(t, J_POLL, 1000);
            } else if (!t->finished && t->job.kind == J_NONE && !t->cancelling &&
                       !evtimer_pending(t->timer, NULL) && t->writes == 0) {
                /* idle and still ours: go on (a submitting task without a
                 * job id is reconciled, never submitted again) */
                schedule(t,
                         t->status == LX_TASK_RUNNING ? J_POLL
                         : t->external                ? J_SUBMIT
                                                      : J_RECONCILE,
                         100);
            }
        }
        free(own);
    }
    lx_task_runner_maybe_free(r);
}

static void renew_tick(evutil_socket_t fd, short ev, void *arg)
{
    lx_task_runner_t *r = arg;
    if (r->renewing || r->nruns == 0)
        return;
    char lease[16];
    snprintf(lease, sizeof lease, "%d", r->o.conf.lease_ms);
    const char *p[2] = {r->owner, lease};
    if (lx_pg_query(r->pg, RENEW_SQL, 2, p, 0, renew_cb, r) == LX_OK) {
        r->renewing = true;
        r->pending++;
    }
}

static void renew_now(lx_task_runner_t *r)
{
    if (!r->closing && !r->stopped)
        event_active(r->renew_ev, EV_TIMEOUT, 0);
}

/* ---- lifecycle ---- */

lx_task_runner_t *lx_task_runner_new(struct event_base *base, lx_pg_t *pg,
                                     const lx_task_runner_opts_t *opts)
{
    lx_task_runner_t *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->base = base;
    r->pg = pg;
    r->o = *opts;
    snprintf(r->owner, sizeof r->owner, "%s.w%d", opts->instance_id, opts->worker_id);
    r->ntypes = lx_task_types_literal(r->types, sizeof r->types);
    r->claim_ev = event_new(base, -1, EV_PERSIST, claim_tick, r);
    r->renew_ev = event_new(base, -1, EV_PERSIST, renew_tick, r);
    struct timeval ct = {r->o.conf.claim_ms / 1000, (r->o.conf.claim_ms % 1000) * 1000};
    struct timeval rt = {r->o.conf.renew_ms / 1000, (r->o.conf.renew_ms % 1000) * 1000};
    event_add(r->claim_ev, &ct);
    event_add(r->renew_ev, &rt);
    event_active(r->claim_ev, EV_TIMEOUT, 0);
    if (opts->poster.post)
        r->webhooks = lx_task_webhooks_new(base, pg, &opts->poster, opts->webhook_secret,
                                           opts->conf.webhook_max_attempts);
    return r;
}

void lx_task_runner_kick(lx_task_runner_t *r)
{
    if (r && !r->closing && !r->stopped)
        event_active(r->claim_ev, EV_TIMEOUT, 0);
}

const lx_task_stats_t *lx_task_runner_stats(const lx_task_runner_t *r)
{
    return r ? &r->stats : NULL;
}

int lx_task_runner_active(const lx_task_runner_t *r)
{
    return r ? r->nruns : 0;
}

void lx_task_runner_abandon_all(lx_task_runner_t *r)
{
    run_t *next;
    for (run_t *t = r->head; t; t = next) {
        next = t->next;
        if (t->job.kind != J_NONE) {
            if (t->ex->abandon)
                t->ex->abandon(&t->job, t->ex->arg);
            t->job.kind = J_NONE;
        }
        lx_task_run_drop(t);
    }
}

void lx_task_runner_free(lx_task_runner_t *r)
{
    if (r == NULL)
        return;
    r->closing = true;
    lx_task_webhooks_free(r->webhooks);
    event_free(r->claim_ev);
    event_free(r->renew_ev);
    lx_task_runner_abandon_all(r);
    lx_task_runner_maybe_free(r);
}
