/* run.h - the runner's own types (runner.c only): a task held in memory
 * (run_t), the job handed to an executor, and the runner. Owns nothing. */
#ifndef LX_TASK_RUN_H
#define LX_TASK_RUN_H

#include "task/internal.h"

struct event;

#define TYPES_MAX 2048

typedef enum { J_NONE, J_SUBMIT, J_POLL, J_CANCEL, J_RECONCILE } jkind_t;

struct lx_task_job {
    struct run *run;
    jkind_t kind;
    void *data; /* the executor's (lx_task_job_data) */
};

typedef struct run {
    struct run *prev, *next;
    lx_task_runner_t *r;
    int64_t id;
    char public_id[LX_TASK_ID_MAX];
    char *type, *provider, *credential, *external, *idem;
    json_t *input;
    const lx_task_executor_t *ex;
    lx_task_status_t status;
    int progress, stored_progress, attempts, polls;
    int64_t deadline_ms, fail_since_ms;
    struct event *timer;
    jkind_t next_job; /* what the timer starts */
    int type_ix;      /* the row of lx_task_stats_t */
    int64_t job_us;   /* when the job out at the executor started */
    lx_task_job_t job;
    int writes;      /* queries in flight that refer to this run */
    bool dropped;    /* out of the list; freed when nothing refers to it */
    bool cancelling; /* cancelled by a client: tell the provider, then let go */
    bool finished;   /* a terminal write was sent */
} run_t;

struct lx_task_runner {
    struct event_base *base;
    lx_pg_t *pg;
    lx_task_runner_opts_t o;
    char owner[64];
    char types[TYPES_MAX];
    int ntypes;
    run_t *head;
    int nruns;
    lx_task_stats_t stats;
    int pending; /* queries in flight */
    bool claiming, renewing, closing;
    bool stopped;   /* lx_task_runner_stop: no claim, renewal or poll any more */
    bool releasing; /* its lease release is in flight */
    struct event *claim_ev, *renew_ev;
    lx_task_webhooks_t *webhooks; /* with a poster only */
};

/* runner.c: drops a task from the runner's list (freed when nothing refers
 * to it), and frees a closing runner once its last query answered. */
void lx_task_run_drop(run_t *t);
/* Every job at an executor abandoned (its abandon hook), every run dropped. */
void lx_task_runner_abandon_all(lx_task_runner_t *r);
void lx_task_runner_maybe_free(lx_task_runner_t *r);

#endif
