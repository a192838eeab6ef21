/* metrics_scrape.c - the families of /metrics that the app assembles: every
 * worker's request metrics merged (obs/metrics.h), deployment and credential
 * routing state read from the shared state table over the current snapshot,
 * the usage queues, each worker's Postgres connection, the registry and the
 * process. Runs on the worker that serves the scrape; reads the others'
 * figures through relaxed atomics and takes no lock. Owns nothing; writes
 * into the caller's buffer. */
#include "app/app.h"
#include "ai/registry.h"
#include "ai/routing/breaker.h"
#include "ai/routing/state.h"
#include "core/clock.h"
#include "obs/metrics_proc.h"

#include <stdlib.h>
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

/* Per credential (breaker, cooling, in flight) and per deployment
 * (credential x model: breaker, cooling) of the active catalog. */
static void routing_state(const lx_snapshot_t *s, lx_buf_t *b)
{
    lx_state_table_t *tab = lx_route_state_table();
    int64_t now = lx_wall_ms();
    static const char *const cn[2] = {"provider", "credential"};
    static const char *const dn[3] = {"provider", "credential", "model"};
    char lab[512];
    static const struct {
        const char *name, *help;
    } cred_fam[3] = {
        {"llmux_ai_credential_breaker_state",
         "A credential's breaker (connect and TLS failures): 0 closed, 1 half-open, 2 open."},
        {"llmux_ai_credential_cooling", "1 while a credential cools down (quota exhausted)."},
        {"llmux_ai_credential_inflight", "Upstream attempts in flight on a credential."},
    };
    for (int f = 0; f < 3; f++) {
        head(b, cred_fam[f].name, "gauge", cred_fam[f].help);
        for (int p = 0; s && p < s->nproviders; p++) {
            const lx_provider_t *pv = &s->providers[p];
            for (int c = 0; pv->active && c < pv->ncreds; c++) {
                const lx_credential_t *cr = &pv->creds[c];
                if (!cr->active)
                    continue;
                const char *cv[2] = {pv->conf.name, cr->name};
                if (lx_metrics_labels(lab, sizeof lab, cn, cv, 2) == 0)
                    continue;
                const lx_route_state_t *st =
                    tab ? lx_state_table_find(tab, lx_state_key_cred(cr->id)) : NULL;
                long long v = f == 0   ? breaker_value(st)
                              : f == 1 ? cooling(st, now)
                              : st     ? atomic_load_explicit(&st->inflight, memory_order_relaxed)
                                       : 0;
                lx_buf_printf(b, "%s{%s} %lld\n", cred_fam[f].name, lab, v);
            }
        }
    }
    static const struct {
        const char *name, *help;
    } dep_fam[2] = {
        {"llmux_ai_deployment_breaker_state",
         "A deployment's (credential x model) breaker: 0 closed, 1 half-open, 2 open."},
        {"llmux_ai_deployment_cooling", "1 while a deployment cools down (after a 429)."},
    };
    for (int f = 0; f < 2; f++) {
        head(b, dep_fam[f].name, "gauge", dep_fam[f].help);
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
                if (lx_metrics_labels(lab, sizeof lab, dn, dv, 3) == 0)
                    continue;
                const lx_route_state_t *st =
                    tab ? lx_state_table_find(
                              tab, lx_state_key_deploy(cr->id, lx_str(md->upstream_name)))
                        : NULL;
                lx_buf_printf(b, "%s{%s} %d\n", dep_fam[f].name, lab,
                              f == 0 ? breaker_value(st) : (int)cooling(st, now));
            }
        }
    }
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

void lx_app_metrics(lx_app_t *app, lx_buf_t *b)
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
    tables[nt++] = getpid(); /* the main thread's table (shared by threads without their own) */
    for (int i = 0; i < app->nworkers && nt < (int)LX_ARRAY_LEN(tables); i++)
        if (app->workers[i].own_files)
            tables[nt++] = app->workers[i].tid;
    lx_metrics_process(b, tables, nt);
}
