/* app.h - the process: config, workers and the state they share.
 *
 * The main thread owns lx_app_t and every worker in it. Workers read the app
 * (config, readiness flags, each other's counters for /metrics) but never
 * write to another worker's state. */
#ifndef LX_APP_APP_H
#define LX_APP_APP_H

#include "admin/admin.h"
#include "app/scrape.h"
#include "ai/ai.h"
#include "ai/health.h"
#include "ai/allow_lease.h"
#include "ai/budget_hook.h"
#include "auth/budget_sync.h"
#include "ai/limits_sync.h"
#include "db/pg.h"
#include "core/buf.h"
#include "core/config.h"
#include "http/server.h"
#include "media/exec.h"
#include "media/routes.h"
#include "obs/metrics.h"
#include "obs/trace_export.h"
#include "task/task.h"
#include "upstream/upstream.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>

struct event;
typedef struct lx_app lx_app_t;

#define LX_MAX_ROUTES 32

typedef struct {
    lx_app_t *app;
    int id;
    pthread_t thread;
    struct event_base *base;
    lx_http_server_t *http;
    lx_upstream_t *up;
    lx_tracer_t *tracer; /* the worker's span exporter; NULL: tracing off */
    lx_ai_t ai;
    lx_metrics_t *metrics;   /* the worker's request metrics (obs/metrics.h), ai.metrics */
    pid_t tid;               /* the thread's id (process_open_fds reads its fd table) */
    lx_hist_t pg_query_hist; /* its Postgres queries' latency (written by its loop) */
    _Atomic uint64_t pg_up;  /* its Postgres connection is up (1) or not (0) */
    lx_admin_t admin;
    lx_pg_t *pg;                   /* this worker's Postgres connection, NULL without a database */
    lx_usage_pg_t *usage;          /* usage records to Postgres, NULL without a database */
    lx_health_t *health;           /* worker 0 only: breaker probes, counter write-back */
    lx_limits_sync_t *limits_sync; /* worker 0 only, with a database: shared rate windows */
    lx_allow_lease_t *lease;       /* with a database: key/user/team allowance leases */
    lx_budget_sync_t *budget_sync; /* worker 0 only, with a database: spend in ai_spend */
    lx_budget_hook_t *budget_hook; /* worker 0 only, with a database: budget webhooks */
    lx_task_runner_t *tasks;       /* with a database: this worker's tasks (task.h) */
    lx_task_events_t *task_events; /* with a database: its progress notifications (sub.c) */
    lx_task_http_t task_http;      /* the /api/v1/tasks routes' context */
    lx_media_http_t media_http;    /* the media routes' context (media/routes.h) */
    struct event *flush_ev;        /* shutdown: waits for the usage queue to empty */
    int64_t flush_deadline_ms;
    uint64_t trimmed_at_requests; /* requests seen at the last trim */
    uint64_t seen_requests;       /* requests seen at the last tick */
    int64_t quiet_since_ms;       /* no new request since then */
    int control_fd;               /* eventfd: the main thread asks for drain (1) or stop (2) */
    lx_scrape_inbox_t scrape;     /* its /metrics scrapes back from the scrape thread */
    bool own_files;               /* the thread has an open-file table of its own (worker.c) */
    sem_t started;                /* posted once the thread has set the worker up */
    sem_t go;                     /* posted when every worker is up: the loop starts */
    int start_rc;
    struct event *control_ev;
    struct event *log_flush_ev;
    struct event *deadline_ev;
    lx_route_t routes[LX_MAX_ROUTES];
    size_t nroutes;
} lx_worker_t;

struct lx_app {
    lx_config_t *cfg;
    lx_routing_t routing;              /* read by every worker; its retry budget shared */
    lx_task_conf_t task_conf;          /* read-only once workers start */
    const lx_trace_conf_t *trace_conf; /* traces (obs/trace_conf.h): read-only */
    bool task_crash_after_submit;      /* LLMUX_TEST_TASK_CRASH=after_submit (tests) */
    int test_scrape_delay_ms; /* LLMUX_TEST_SCRAPE_DELAY_MS: a render lasts that much longer */
    lx_worker_t *workers;
    int nworkers;
    lx_scraper_t *scraper; /* renders /metrics off the worker loops (scrape.h) */
    int64_t started_ms;
    /* Every worker waits here once its loop has ended, before it frees
     * anything: a handler of one worker reads the others' counters (/metrics),
     * so no worker frees its server while another loop still runs. */
    pthread_barrier_t loops_done;
};

/* Starts worker id on its own thread and waits until it has set itself up
 * (event loop, listener, upstream, Postgres) there; LX_ERROR if it could not. */
int lx_worker_start(lx_worker_t *w, lx_app_t *app, int id);
/* Once every worker has started: their loops run. */
void lx_worker_go(lx_worker_t *w);
/* 1: drain gracefully; 2: close everything now. Async-signal-safe. */
void lx_worker_signal(lx_worker_t *w, uint64_t what);
void lx_worker_release(lx_worker_t *w);

/* app/routes.c: who calls a task route (task.h's auth seam): the admin key,
 * an API key or a JWT user; false after replying 401. arg: the worker's
 * lx_ai_t. */
bool lx_app_task_auth(lx_req_t *req, void *arg, lx_task_caller_t *who);
/* metrics_scrape.c: the whole /metrics text: every worker's HTTP and
 * request metrics merged, routing state, usage queues, Postgres, registry,
 * tasks and process. Runs on the scrape thread (scrape.h); reads the
 * workers' figures through relaxed atomics and published lists. */
void lx_app_metrics(lx_app_t *app, lx_buf_t *b);
/* task_metrics.c: the task counters of every worker in Prometheus text (/metrics). */
void lx_app_task_metrics(lx_app_t *app, lx_buf_t *b);
/* app/task_post.c: task webhooks posted through the worker's upstream client. */
lx_task_poster_t lx_app_task_poster(lx_upstream_t *up);
/* app/media_resolve.c: media/exec.h's resolver over the registry. */
int lx_app_media_resolve(const char *model, lx_media_kind_t kind, const char *credential_id,
                         lx_media_target_t *out, char *err, size_t errlen);
/* app/media_admit.c: media/routes.h's admission seam (rpm, rpd, budgets,
 * allowed models of the caller). arg: the worker's lx_ai_t. */
bool lx_app_media_admit(lx_req_t *req, void *arg, const char *model, lx_media_kind_t kind);
/* app/routes.c: the route table of a worker. */
size_t lx_routes_build(lx_worker_t *w, lx_route_t *routes, size_t cap);

#endif
