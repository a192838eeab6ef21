/* task.h - the generic task system: long-running work (a video, an image
 * batch) stored in ai_tasks, driven by timer events on the worker loops,
 * leased to one worker of one instance at a time, taken over when a lease
 * expires, never submitted to a provider twice.
 *
 * Threading and ownership:
 * - Executors are registered on the main thread before the workers start
 *   (lx_task_register); the table is read-only from then on and shared by
 *   every worker. An executor's tables and strings must outlive the process.
 * - Each worker owns one runner (lx_task_runner_t, runner.c): its claim,
 *   lease-renewal and poll timers, the tasks it holds in memory, and every
 *   call into an executor for those tasks, all on that worker's loop. An
 *   executor's callbacks run on that loop and must not block (no sleep, no
 *   blocking I/O): they start asynchronous work (an upstream transfer, a
 *   query) and report its end later, on the same loop.
 * - Each call into an executor passes a job (lx_task_job_t). The executor
 *   reports on it exactly once (lx_task_report_*), synchronously or later.
 *   If the runner abandons the job (lease lost, shutdown) it calls the
 *   executor's abandon first: from then on the executor must not touch the
 *   job (it may still finish its own asynchronous work and free its own
 *   state). Views (lx_task_view_t) are borrowed for the call only; copy
 *   what outlives it.
 *
 * The rule "never submit twice": a task is stored as 'submitting' (with an
 * idempotency key made at lx_task_submit) before the executor's submit
 * runs, and the provider's job id is stored ('running') as soon as the
 * executor reports it. A 'submitting' task found without a job id after a
 * crash or a lost lease is never submitted blindly: it goes to the
 * executor's reconcile, which looks the job up, or resubmits with the same
 * idempotency key when the provider honours one, or reports
 * lx_task_report_uncertain (the task fails with `submission_uncertain`). */
#ifndef LX_TASK_TASK_H
#define LX_TASK_TASK_H

#include "core/common.h"
#include "core/err.h"
#include "http/request.h"
#include "http/server.h"

#include <jansson.h>
#include <stdatomic.h>

struct event_base;
typedef struct lx_pg lx_pg_t;

#define LX_TASK_ID_MAX 48 /* "task_" + 24 hex + NUL fits with room */
/* Whether p[0..n) can be a task id (letters, digits, "_" and "-", shorter
 * than LX_TASK_ID_MAX): checked before an id reaches a query or a path. */
bool lx_task_id_valid(const char *p, size_t n);

typedef enum {
    LX_TASK_QUEUED,
    LX_TASK_SUBMITTING,
    LX_TASK_RUNNING,
    LX_TASK_SUCCEEDED,
    LX_TASK_FAILED,
    LX_TASK_CANCELLED,
    LX_TASK_EXPIRED,
    LX_TASK__COUNT
} lx_task_status_t;

/* state.c: the names stored in ai_tasks.status, and the transitions the
 * runner and the API may make. */
const char *lx_task_status_name(lx_task_status_t s);
/* LX_TASK__COUNT for an unknown name. */
lx_task_status_t lx_task_status_parse(const char *name);
bool lx_task_status_terminal(lx_task_status_t s);
bool lx_task_can_move(lx_task_status_t from, lx_task_status_t to);

/* ---- settings (config: tasks.*; README "Configuration") ---- */
typedef struct {
    int poll_min_ms;          /* first poll delay and the floor of a provider's hint (1000) */
    int poll_max_ms;          /* the backoff's ceiling (30000) */
    int lease_ms;             /* a lease's length (30000) */
    int renew_ms;             /* how often a worker renews its leases (10000) */
    int claim_ms;             /* how often a worker looks for queued and orphaned tasks (1000) */
    int unreachable_ms;       /* a provider failing this long fails the task (600000) */
    int max_age_ms;           /* a task not finished this long after submit expires (86400000) */
    int pool;                 /* tasks submitting or running per credential, all instances (8) */
    int webhook_max_attempts; /* deliveries tried before a webhook is dropped (10) */
} lx_task_conf_t;

/* ---- executors ---- */
typedef struct lx_task_job lx_task_job_t;

/* What an executor sees of a task (borrowed for the call). */
typedef struct {
    const char *public_id;       /* "task_..." */
    const char *type;            /* "video.generate", ... */
    const json_t *input;         /* the submitted input object */
    const char *provider;        /* NULL if none was given */
    const char *credential_id;   /* the pool key; NULL if none */
    const char *external_id;     /* the provider's job id; NULL before it is known */
    const char *idempotency_key; /* the same for every submission of this task */
    int progress;                /* 0..100, as last stored */
    int attempts;                /* claims from queued so far (1 on the first submit) */
    struct event_base *base;     /* the worker's loop */
    lx_pg_t *pg;                 /* the worker's Postgres connection */
    void *ctx;                   /* what the app gave the runner (e.g. the upstream client) */
} lx_task_view_t;

typedef void (*lx_task_exec_fn)(const lx_task_view_t *t, lx_task_job_t *job, void *arg);

typedef struct {
    const char *type; /* registered name: "video.generate", "image.generate", ... */
    /* Starts the provider job: reports lx_task_report_submitted (job id),
     * lx_task_report_failed (the provider refused it: permanent), or
     * lx_task_report_retry (certainly not submitted; the runner tries again
     * later with the same idempotency key). */
    lx_task_exec_fn submit;
    /* Asks the provider how the job is doing: lx_task_report_progress
     * (still running, poll again; an optional hint in ms), _succeeded
     * (output), _failed, or _retry (provider not answering: backoff; the
     * task fails with `provider_unreachable` after unreachable_ms). */
    lx_task_exec_fn poll;
    /* The provider's cancel/delete (best effort): report anything; only
     * that it ended counts. NULL: nothing to tell the provider. */
    lx_task_exec_fn cancel;
    /* A 'submitting' task without a stored job id (the process died, or
     * lost its lease, between submit and storing the id): report
     * _submitted (the job found, or resubmitted with the same idempotency
     * key), _retry, or lx_task_report_uncertain. NULL: always uncertain. */
    lx_task_exec_fn reconcile;
    /* The runner gives up a job before it was reported (lease lost,
     * shutdown): forget job (do not report on it). NULL if the executor
     * always reports before returning. */
    void (*abandon)(lx_task_job_t *job, void *arg);
    /* For POST /api/v1/tasks (the generic route): checks input and may set
     * provider and credential_id (copied to buffers of 128 bytes). Returns
     * LX_OK or LX_ERROR with a message for a 400 in msg (256 bytes). NULL:
     * the type is not submittable through the generic route. */
    int (*prepare)(const json_t *input, char *provider, char *credential_id, char *msg);
    void *arg;
} lx_task_executor_t;

/* Main thread, before the workers start. The table is borrowed for the
 * process's life. LX_ERROR if the type is taken or the table is full (32). */
int lx_task_register(const lx_task_executor_t *ex);
const lx_task_executor_t *lx_task_executor(const char *type);
/* Registered types by index, 0..lx_task_type_count()-1 (the order of
 * registration; the index of a type is the row of lx_task_stats_t). */
int lx_task_type_index(const char *type); /* -1: unknown */
int lx_task_type_count(void);
const char *lx_task_type_at(int i); /* NULL out of range */
/* Clears the registry (tests; main thread, no worker running). */
void lx_task_registry_reset(void);

/* A slot for the executor's own state of this job (e.g. what abandon
 * must find); NULL when the job starts, cleared after the report. */
void **lx_task_job_data(lx_task_job_t *job);

/* Reports (each job exactly once; on the runner's loop). */
void lx_task_report_submitted(lx_task_job_t *job, const char *external_id);
void lx_task_report_progress(lx_task_job_t *job, int progress, int hint_ms);
void lx_task_report_succeeded(lx_task_job_t *job, json_t *output /* stolen */);
/* code: a short snake_case word (stored as error_code); message: for the
 * client, never a secret. Both copied. */
void lx_task_report_failed(lx_task_job_t *job, const char *code, const char *message);
void lx_task_report_retry(lx_task_job_t *job, const char *code, const char *message, int hint_ms);
void lx_task_report_uncertain(lx_task_job_t *job, const char *message);

/* ---- submitting, reading, cancelling (any worker, async on its pg) ---- */
typedef struct {
    int64_t key_id;  /* the API key (0: none) */
    int64_t user_id; /* a JWT's user (0: none) */
    int64_t team_id; /* 0: none */
    bool admin;      /* the admin key: sees every task */
} lx_task_caller_t;

typedef struct {
    const char *type;          /* registered */
    const json_t *input;       /* object; serialized at submit */
    int priority;              /* higher first; FIFO within one */
    const char *provider;      /* may be NULL */
    const char *credential_id; /* pool key; NULL: the one pool of tasks without one */
    const char *callback_url;  /* may be NULL */
    int max_age_ms;            /* 0: the configured max_age_ms */
    lx_task_caller_t owner;
} lx_task_new_t;

/* task: the task object (new reference, NULL on error); err: LX_E_NONE or
 * the reason (LX_E_NOT_FOUND, LX_E_UNAVAILABLE, LX_E_CONFLICT, ...). */
typedef void (*lx_task_cb)(json_t *task, lx_err_t err, void *arg);

/* Stores the task queued and writes its public id into id_out at once
 * (before the row is stored); cb runs once the INSERT answered, with the
 * task object. LX_ERROR (cb not called) if the type is unknown or pg's
 * queue is full. Everything is copied. */
int lx_task_submit(lx_pg_t *pg, const lx_task_conf_t *conf, const lx_task_new_t *t,
                   char id_out[LX_TASK_ID_MAX], lx_task_cb cb, void *arg);
/* The task as the caller may see it (LX_E_NOT_FOUND if it is not theirs). */
int lx_task_get(lx_pg_t *pg, const char *public_id, const lx_task_caller_t *who, lx_task_cb cb,
                void *arg);
/* status, type: NULL for any; after_id: a page's cursor ("" for the first);
 * limit 1..100. cb gets {"object":"list","data":[...],"has_more":b,
 * "last_id":...}. */
int lx_task_list(lx_pg_t *pg, const lx_task_caller_t *who, const char *status, const char *type,
                 const char *after_id, int limit, lx_task_cb cb, void *arg);
/* Moves a queued, submitting or running task to 'cancelled' (one UPDATE;
 * its runner, or whoever takes it over, tells the provider). A task
 * already finished: LX_E_CONFLICT with the task object. */
int lx_task_cancel(lx_pg_t *pg, const char *public_id, const lx_task_caller_t *who, lx_task_cb cb,
                   void *arg);

/* lookup.c: the task object with what it leaves out (input, provider,
 * credential_id, external_id, api_key_id, created_unix, finished_unix),
 * for a module that renders its own view of a task; never hand those
 * fields to a client as they are. The list's cb gets {"data": [...],
 * "has_more": b}, newest first unless ascending; type is required. */
int lx_task_get_full(lx_pg_t *pg, const char *public_id, const lx_task_caller_t *who, lx_task_cb cb,
                     void *arg);
int lx_task_list_full(lx_pg_t *pg, const lx_task_caller_t *who, const char *type,
                      const char *after_id, bool ascending, int limit, lx_task_cb cb, void *arg);

/* ---- progress subscriptions (any worker) ----
 * Calls cb with the task object whenever its status or progress changed,
 * starting with the current state; the last call is for a terminal state
 * (or with err set: not found, database unavailable after retries), after
 * which the subscription is done and must still be freed with
 * lx_task_unsubscribe (which may be called at any time, also from cb).
 * Works across instances: it reads the row, whoever writes it.
 *
 * With an events hub (one per worker, on the worker's pg; it LISTENs on
 * the channel llmux_task from its first subscription on) the row is read
 * as soon as Postgres announces a change (sql/018's trigger), and every
 * interval_ms as a safety net; without one (lx_task_subscribe) only every
 * interval_ms (250 ms by default). */
#define LX_TASK_EVENTS_SAFETY_MS 5000 /* the row read between notifications */
typedef struct lx_task_sub lx_task_sub_t;
typedef struct lx_task_events lx_task_events_t;
/* pg is borrowed and must outlive the hub; the hub must outlive its
 * subscriptions' use (free it after them, before pg). */
lx_task_events_t *lx_task_events_new(lx_pg_t *pg);
void lx_task_events_free(lx_task_events_t *hub);
lx_task_sub_t *lx_task_subscribe(struct event_base *base, lx_pg_t *pg, const char *public_id,
                                 const lx_task_caller_t *who, int interval_ms, lx_task_cb cb,
                                 void *arg);
/* hub: NULL behaves as lx_task_subscribe. */
lx_task_sub_t *lx_task_subscribe_events(struct event_base *base, lx_pg_t *pg, lx_task_events_t *hub,
                                        const char *public_id, const lx_task_caller_t *who,
                                        int interval_ms, lx_task_cb cb, void *arg);
void lx_task_unsubscribe(lx_task_sub_t *s);

/* ---- the runner (one per worker) ---- */
typedef struct lx_task_runner lx_task_runner_t;

/* Webhook delivery, wired by the app to the upstream module (task may not
 * include it). post starts a POST of body with headers ("Name: value"
 * lines, nheaders of them) to url, copying all of them, and returns a
 * handle, or NULL if it could not start (done is then not called). done
 * runs once, on the loop, with the HTTP status (0: no answer), unless the
 * handle was given to cancel first. */
typedef void (*lx_task_post_done)(int status, void *done_arg);
typedef struct {
    void *(*post)(void *arg, const char *url, const char *const *headers, int nheaders,
                  const char *body, size_t len, lx_task_post_done done, void *done_arg);
    void (*cancel)(void *arg, void *handle);
    void *arg;
} lx_task_poster_t;

typedef struct {
    lx_task_conf_t conf;
    const char *instance_id; /* lx_task_instance_id() */
    int worker_id;
    void *exec_ctx; /* handed to executors as lx_task_view_t.ctx */
    /* Webhooks: the runner with a poster delivers the outbox
     * ai_task_webhooks (one runner per process is enough; NULL post: none).
     * A secret signs each body (x-llmux-signature: sha256=<hex of
     * HMAC-SHA256(secret, body)>); borrowed; NULL: unsigned. */
    lx_task_poster_t poster;
    const char *webhook_secret;
    /* Test-only fault hook (LLMUX_TEST_TASK_CRASH=after_submit): the
     * process is killed (SIGKILL) right after an executor reported a job id
     * and before it is stored. */
    bool crash_after_submit;
} lx_task_runner_opts_t;

/* A random id per process ("i" + 16 hex), made on first use (main thread
 * first). */
const char *lx_task_instance_id(void);
/* Starts the runner's timers on base; the first claim runs at once. */
lx_task_runner_t *lx_task_runner_new(struct event_base *base, lx_pg_t *pg,
                                     const lx_task_runner_opts_t *opts);
/* Looks for work now (after a local submit). */
void lx_task_runner_kick(lx_task_runner_t *r);
/* Tasks held in memory now. */
int lx_task_runner_active(const lx_task_runner_t *r);

/* A runner's counters for /metrics: written by its loop, read (relaxed)
 * by any thread; rows are type indexes (lx_task_type_index). */
#define LX_TASK_TYPES_MAX    32
#define LX_TASK_POLL_BUCKETS 8 /* upper bounds: lx_task_poll_bucket_ms */
typedef struct {
    _Atomic int64_t held[LX_TASK_TYPES_MAX][LX_TASK__COUNT];      /* in memory now, by status */
    _Atomic uint64_t finished[LX_TASK_TYPES_MAX][LX_TASK__COUNT]; /* terminal states stored */
    _Atomic uint64_t polls[LX_TASK_TYPES_MAX];                    /* provider polls answered */
    _Atomic uint64_t poll_retries[LX_TASK_TYPES_MAX];             /* ... of which: retry */
    _Atomic uint64_t poll_us_sum[LX_TASK_TYPES_MAX];
    _Atomic uint64_t poll_le[LX_TASK_TYPES_MAX][LX_TASK_POLL_BUCKETS]; /* cumulative */
} lx_task_stats_t;
extern const int lx_task_poll_bucket_ms[LX_TASK_POLL_BUCKETS];
/* NULL for a NULL runner. Lives as long as the runner. */
const lx_task_stats_t *lx_task_runner_stats(const lx_task_runner_t *r);
/* Clean shutdown (SIGTERM): stops claiming, renewing and polling,
 * abandons the jobs out at executors, and gives every lease of this worker
 * back (lease_owner NULL, lease_expires_at now()) so that another instance
 * takes the tasks over at its next claim instead of after the lease time.
 * A task between submit and storing its job id is reconciled by whoever
 * takes it (never submitted blindly). lx_task_runner_stopping is true until
 * the release answered. Free it with lx_task_runner_free afterwards. */
void lx_task_runner_stop(lx_task_runner_t *r);
bool lx_task_runner_stopping(const lx_task_runner_t *r);
/* Abandons every job (executors' abandon), frees everything. Without a
 * lx_task_runner_stop first, the leases stay: another worker or instance takes the tasks over when
 * they expire. */
void lx_task_runner_free(lx_task_runner_t *r);

/* ---- HTTP (api.c) ----
 * GET /api/v1/tasks, POST /api/v1/tasks, GET|DELETE /api/v1/tasks/{id},
 * GET /api/v1/tasks/{id}/events (SSE). The app says who calls: auth
 * fills who and returns true, or replies (401) and returns false. */
typedef bool (*lx_task_auth_fn)(lx_req_t *req, void *auth_arg, lx_task_caller_t *who);

typedef struct {
    lx_pg_t *pg; /* NULL: no database, every route answers 503 */
    const lx_task_conf_t *conf;
    lx_task_runner_t *runner; /* kicked after a submit; may be NULL */
    lx_task_events_t *events; /* the worker's hub (may be NULL: the row is read every 250 ms) */
    lx_task_auth_fn auth;
    void *auth_arg;
} lx_task_http_t;

/* The same routes for a caller the app has already authenticated (the
 * admin API's tasks routes): rest is the path after the routes' prefix
 * ("" for the list, "/{id}", "/{id}/events"). who is copied where kept. */
int lx_task_http_serve(lx_req_t *req, lx_task_http_t *h, const lx_task_caller_t *who,
                       lx_str_t rest);
/* Adds the routes (one prefix route) to routes; returns how many. */
size_t lx_task_routes(lx_task_http_t *h, lx_route_t *routes, size_t cap);

/* testexec.c: the test-only executor "test.job", a fake provider kept in
 * the table llmux_test_jobs of the same database (the test creates it;
 * see test/integration/test_tasks.py), so that submissions are counted
 * across crashes. Registered by the app when LLMUX_TEST_TASKS=1. */
extern const lx_task_executor_t lx_task_test_executor;

#endif
