/* metrics_scrape.c - the /metrics text the app assembles: every worker's
 * HTTP counters and request metrics merged (obs/metrics.h), deployment and
 * credential routing state read from the shared state table over the
 * current snapshot, the usage queues, each worker's Postgres connection,
 * the registry, the tasks and the process. Runs on the scrape thread
 * (scrape.h), never on a worker loop; reads the workers' figures through
 * relaxed atomics and published lists and takes no lock. Owns nothing but
 * the snapshot reference it takes and releases; writes into the caller's
 * buffer. */
#include "app/app.h"
#include "ai/registry.h"
#include "ai/routing/breaker.h"
#include "ai/routing/state.h"
#include "core/clock.h"
#include "obs/metrics_proc.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static void head(lx_buf_t *b, const char *name, const char *type, const char *help)
{
    lx_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* 0 closed, 1 half-open, 2 open (no entry yet: closed). */
static int breaker_value(const lx_route_state_t *st)
{
    if (st == NULL)
        return 0;
    switch (lx_breaker_state(st)) {
    case LX_BRK_HALF_OPEN:
        return 1;
    case LX_BRK_OPEN:
        return 2;
    default:
        return 0;
    }
}

static bool cooling(const lx_route_state_t *st, int64_t now)
{
    return st && now < atomic_load_explicit(&st->cooling_until, memory_order_relaxed);
}

/* One credential or deployment of the catalog: its rendered labels and its
 * state entry (NULL: never used, all zero). */
typedef struct {
    const lx_route_state_t *st;
    uint32_t off, len; /* of its labels in the scratch buffer */
} row_t;

typedef struct {
    row_t *rows;
    size_t n, cap;
    lx_buf_t lab;
} rows_t;

static void row_add(rows_t *r, const char *const *names, const char *const *values, int n,
                    const lx_route_state_t *st)
{
    char lab[1024];
    size_t len = lx_metrics_labels(lab, sizeof lab, names, values, n);
    if (len == 0)
        return;
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 256;
        r->rows = lx_realloc(r->rows, r->cap * sizeof *r->rows);
    }
    r->rows[r->n++] = (row_t){.st = st, .off = (uint32_t)r->lab.n, .len = (uint32_t)len};
    lx_buf_append(&r->lab, lab, len);
}

typedef enum { G_BREAKER, G_COOLING, G_INFLIGHT } gauge_t;

/* One family over the rows: head, then a sample per row. */
static void gauge_family(lx_buf_t *b, const char *name, const char *help, const rows_t *r,
                         gauge_t g, int64_t now)
{
    head(b, name, "gauge", help);
    size_t nl = strlen(name);
    for (size_t i = 0; i < r->n; i++) {
        const lx_route_state_t *st = r->rows[i].st;
        int64_t v = g == G_BREAKER   ? breaker_value(st)
                    : g == G_COOLING ? cooling(st, now)
                                     : LX_MAX(lx_state_inflight(st), 0);
        lx_metrics_sample_n(b, name, nl, r->lab.p + r->rows[i].off, r->rows[i].len, (uint64_t)v);
    }
}

/* Per credential (breaker, cooling, in flight) and per deployment
 * (credential x model: breaker, cooling, in flight) of the active catalog.
 * Each one's labels are escaped and its state entry found once, then read
 * by each of its families. */
static void routing_state(const lx_snapshot_t *s, lx_buf_t *b)
{
    lx_state_table_t *tab = lx_route_state_table();
    int64_t now = lx_wall_ms();
    static const char *const cn[2] = {"provider", "credential"};
    static const char *const dn[3] = {"provider", "credential", "model"};
    rows_t r = {0};
    lx_buf_init(&r.lab, 64 * 1024);
    for (int p = 0; s && p < s->nproviders; p++) {
        const lx_provider_t *pv = &s->providers[p];
        for (int c = 0; pv->active && c < pv->ncreds; c++) {
            const lx_credential_t *cr = &pv->creds[c];
            if (!cr->active)
                continue;
            const char *cv[2] = {pv->conf.name, cr->name};
            row_add(&r, cn, cv, 2,
                    tab ? lx_state_table_find(tab, lx_state_key_cred(cr->id)) : NULL);
        }
    }
    gauge_family(b, "llmux_ai_credential_breaker_state",
                 "A credential's breaker (connect and TLS failures): 0 closed, 1 half-open, 2 "
                 "open.",
                 &r, G_BREAKER, now);
    gauge_family(b, "llmux_ai_credential_cooling",
                 "1 while a credential cools down (quota exhausted).", &r, G_COOLING, now);
    gauge_family(b, "llmux_ai_credential_inflight", "Upstream attempts in flight on a credential.",
                 &r, G_INFLIGHT, now);
    r.n = 0;
    lx_buf_reset(&r.lab);
    for (int m = 0; s && m < s->nmodels; m++) {
        const lx_model_t *md = &s->models[m];
        const lx_provider_t *pv = md->provider;
        if (!md->active || pv == NULL || !pv->active)
            continue;
        for (int c = 0; c < pv->ncreds; c++) {
            const lx_credential_t *cr = &pv->creds[c];
            if (!cr->active)
                continue;
            const char *dv[3] = {pv->conf.name, cr->name, md->public_name};
            row_add(&r, dn, dv, 3,
                    tab ? lx_state_table_find(
                              tab, lx_state_key_deploy(cr->id, lx_str(md->upstream_name)))
                        : NULL);
        }
    }
    gauge_family(b, "llmux_ai_deployment_breaker_state",
                 "A deployment's (credential x model) breaker: 0 closed, 1 half-open, 2 open.", &r,
                 G_BREAKER, now);
    gauge_family(b, "llmux_ai_deployment_cooling", "1 while a deployment cools down (after a 429).",
                 &r, G_COOLING, now);
    gauge_family(b, "llmux_ai_deployment_in_flight",
                 "Upstream attempts in flight on a deployment (credential x model).", &r,
                 G_INFLIGHT, now);
    free(r.rows);
    lx_buf_free(&r.lab);
}

/* The HTTP servers' and the workers' own counters, by worker. */
static void http_families(lx_app_t *app, lx_buf_t *b)
{
    /* counters in each worker's HTTP stats (http) or its AI context (ai) */
    static const struct {
        const char *name, *type, *help;
        size_t off;
        bool ai;
    } counters[] = {
        {"llmux_connections_accepted_total", "counter", "Connections accepted.",
         offsetof(lx_http_stats_t, connections_accepted), false},
        {"llmux_connections_open", "gauge", "Connections open now.",
         offsetof(lx_http_stats_t, connections_open), false},
        {"llmux_http_requests_total", "counter", "Requests whose head was read.",
         offsetof(lx_http_stats_t, requests), false},
        {"llmux_http_requests_active", "gauge", "Requests in progress.",
         offsetof(lx_http_stats_t, requests_active), false},
        {"llmux_http_rejected_total", "counter", "Requests refused before a handler ran.",
         offsetof(lx_http_stats_t, rejected), false},
        {"llmux_streams_active", "gauge", "Client streams in progress.",
         offsetof(lx_ai_t, streams_active), true},
        {"llmux_upstream_pauses_total", "counter", "Upstream transfers paused for a slow client.",
         offsetof(lx_ai_t, upstream_pauses), true},
        {"llmux_ai_unauthenticated_total", "counter",
         "AI requests refused with 401 (no, unknown, disabled or expired key); they leave no "
         "usage row.",
         offsetof(lx_ai_t, unauthenticated), true},
    };
    for (size_t m = 0; m < LX_ARRAY_LEN(counters); m++) {
        lx_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", counters[m].name, counters[m].help,
                      counters[m].name, counters[m].type);
        for (int i = 0; i < app->nworkers; i++) {
            const char *base = counters[m].ai
                                   ? (const char *)&app->workers[i].ai
                                   : (const char *)lx_http_server_stats(app->workers[i].http);
            const _Atomic uint64_t *v = (const _Atomic uint64_t *)(base + counters[m].off);
            lx_buf_printf(b, "%s{worker=\"%d\"} %llu\n", counters[m].name, i,
                          (unsigned long long)atomic_load_explicit(v, memory_order_relaxed));
        }
    }
    lx_buf_printf(b,
                  "# HELP llmux_ai_limit_refusals_total Requests refused by a key's, user's "
                  "or team's limit (window: minute and day requests, tokens a minute, requests in "
                  "flight).\n# TYPE llmux_ai_limit_refusals_total counter\n");
    static const char *const subjects[3] = {"key", "user", "team"};
    static const char *const windows[4] = {"minute", "day", "tokens", "parallel"};
    for (int i = 0; i < app->nworkers; i++)
        for (int s = 0; s < 3; s++)
            for (int p = 0; p < 4; p++)
                lx_buf_printf(b,
                              "llmux_ai_limit_refusals_total{worker=\"%d\",subject=\"%s\","
                              "window=\"%s\"} %llu\n",
                              i, subjects[s], windows[p],
                              (unsigned long long)atomic_load_explicit(
                                  &app->workers[i].ai.limit_refusals[s][p], memory_order_relaxed));
    lx_buf_printf(b, "# HELP llmux_ai_budget_refusals_total Requests refused by a key's, user's "
                     "or team's budget.\n# TYPE llmux_ai_budget_refusals_total counter\n");
    for (int i = 0; i < app->nworkers; i++)
        for (int s = 0; s < 3; s++)
            lx_buf_printf(b, "llmux_ai_budget_refusals_total{worker=\"%d\",subject=\"%s\"} %llu\n",
                          i, subjects[s],
                          (unsigned long long)atomic_load_explicit(
                              &app->workers[i].ai.budget_refusals[s], memory_order_relaxed));
}

static void per_worker(lx_app_t *app, lx_buf_t *b)
{
    bool db = app->cfg->database_url != NULL;
    head(b, "llmux_usage_queue_depth", "gauge",
         "Usage records queued for Postgres and not yet confirmed written.");
    for (int i = 0; db && i < app->nworkers; i++)
        if (app->workers[i].usage)
            lx_buf_printf(b, "llmux_usage_queue_depth{worker=\"%d\"} %llu\n", i,
                          (unsigned long long)lx_usage_pg_depth(app->workers[i].usage));
    head(b, "llmux_usage_dropped_total", "counter",
         "Usage records dropped because the worker's queue was full.");
    for (int i = 0; db && i < app->nworkers; i++)
        if (app->workers[i].usage)
            lx_buf_printf(b, "llmux_usage_dropped_total{worker=\"%d\"} %llu\n", i,
                          (unsigned long long)lx_usage_pg_dropped(app->workers[i].usage));
    head(b, "llmux_usage_written_total", "counter", "Usage records written to Postgres.");
    for (int i = 0; db && i < app->nworkers; i++)
        if (app->workers[i].usage)
            lx_buf_printf(b, "llmux_usage_written_total{worker=\"%d\"} %llu\n", i,
                          (unsigned long long)lx_usage_pg_written(app->workers[i].usage));
    lx_hist_sum_t h = {0};
    for (int i = 0; db && i < app->nworkers; i++)
        if (app->workers[i].usage)
            lx_hist_add_to(lx_usage_pg_flush_hist(app->workers[i].usage), &h);
    head(b, "llmux_usage_flush_seconds", "histogram",
         "Time from sending a batch of usage records to Postgres to its answer.");
    if (db)
        lx_hist_render(b, "llmux_usage_flush_seconds", "", &h);

    head(b, "llmux_postgres_up", "gauge",
         "1 while the worker's Postgres connection is up (absent without a database).");
    for (int i = 0; db && i < app->nworkers; i++)
        lx_buf_printf(
            b, "llmux_postgres_up{worker=\"%d\"} %llu\n", i,
            (unsigned long long)atomic_load_explicit(&app->workers[i].pg_up, memory_order_relaxed));
    lx_hist_sum_t q = {0};
    for (int i = 0; db && i < app->nworkers; i++)
        lx_hist_add_to(&app->workers[i].pg_query_hist, &q);
    head(b, "llmux_postgres_query_seconds", "histogram",
         "Time from submitting a query on a worker's connection to its answer.");
    if (db)
        lx_hist_render(b, "llmux_postgres_query_seconds", "", &q);
}

static void ai_families(lx_app_t *app, lx_buf_t *b)
{
    lx_metrics_t *ms[256];
    int n = LX_MIN(app->nworkers, (int)LX_ARRAY_LEN(ms));
    for (int i = 0; i < n; i++)
        ms[i] = app->workers[i].metrics;
    lx_metrics_render(ms, n, b);

    lx_snapshot_t *s = lx_registry_acquire();
    routing_state(s, b);
    head(b, "llmux_registry_version", "gauge",
         "Version of the registry snapshot in use (providers, models, keys).");
    if (s)
        lx_buf_printf(b, "llmux_registry_version %llu\n", (unsigned long long)s->version);
    head(b, "llmux_registry_age_seconds", "gauge", "Seconds since that snapshot was published.");
    if (s)
        lx_buf_printf(b, "llmux_registry_age_seconds %.3f\n",
                      (double)LX_MAX(lx_wall_ms() - s->published_ms, 0) / 1e3);
    lx_registry_release(s);
    per_worker(app, b);

    pid_t tables[257];
    int nt = 0;
    /* the main thread's table, shared by the scrape thread (this one) and
     * by workers without their own */
    tables[nt++] = getpid();
    for (int i = 0; i < app->nworkers && nt < (int)LX_ARRAY_LEN(tables); i++)
        if (app->workers[i].own_files)
            tables[nt++] = app->workers[i].tid;
    lx_metrics_process(b, tables, nt, 0);
}

void lx_app_metrics(lx_app_t *app, lx_buf_t *b)
{
    if (app->test_scrape_delay_ms > 0) { /* tests: a slow render (never on a loop: scrape.h) */
        struct timespec ts = {app->test_scrape_delay_ms / 1000,
                              (app->test_scrape_delay_ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
    http_families(app, b);
    ai_families(app, b);
    lx_app_task_metrics(app, b);
    lx_trace_metrics(b);
    lx_buf_printf(b,
                  "# HELP llmux_uptime_seconds Seconds since start.\n"
                  "# TYPE llmux_uptime_seconds gauge\nllmux_uptime_seconds %lld\n",
                  (long long)((lx_wall_ms() - app->started_ms) / 1000));
}
