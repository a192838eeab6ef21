/* routes.c - the route table and the process-level endpoints (health,
 * readiness, metrics). */
#include "app/app.h"
#include "admin/openapi.h"
#include "admin/ui.h"
#include "ai/handlers.h"
#include "ai/registry.h"
#include "core/buf.h"
#include "core/clock.h"

#include <jansson.h>
#include <stdlib.h>

static int healthz(lx_req_t *req, void *arg)
{
    lx_req_reply(req, 200, "application/json", "{\"status\":\"ok\"}", 15);
    return LX_OK;
}

static int readyz(lx_req_t *req, void *arg)
{
    lx_worker_t *w = arg;
    lx_app_t *app = w->app;
    bool db_configured = app->cfg->database_url != NULL;
    bool db_ok = lx_registry_db_ok();
    lx_snapshot_t *snap = lx_registry_acquire();
    bool draining = lx_http_server_draining(w->http);
    /* Ready once a snapshot exists: if the database goes away later, llmux
     * keeps serving from the last one and reports the database degraded. */
    bool ready = snap != NULL && !draining;
    const char *reason = draining       ? "shutting down"
                         : snap == NULL ? "configuration not loaded"
                                        : NULL;
    json_t *body =
        json_pack("{s:s, s:s, s:b, s:i, s:I}", "status", ready ? "ready" : "not_ready", "database",
                  !db_configured ? "disabled"
                  : db_ok        ? "ok"
                                 : "degraded",
                  "config", snap != NULL, "workers", app->nworkers, "registry_version",
                  (json_int_t)(snap ? snap->version : 0));
    lx_registry_release(snap);
    if (reason)
        json_object_set_new(body, "reason", json_string(reason));
    lx_req_reply_json(req, ready ? 200 : 503, body);
    return LX_OK;
}

/* Prometheus text format; counters come from each worker's relaxed atomics. */
static int metrics(lx_req_t *req, void *arg)
{
    lx_worker_t *self = arg;
    lx_app_t *app = self->app;
    lx_buf_t b;
    lx_buf_init(&b, 4096);
    static const struct {
        const char *name, *type, *help;
        size_t off;
    } http_metrics[] = {
        {"llmux_connections_accepted_total", "counter", "Connections accepted.",
         offsetof(lx_http_stats_t, connections_accepted)},
        {"llmux_connections_open", "gauge", "Connections open now.",
         offsetof(lx_http_stats_t, connections_open)},
        {"llmux_http_requests_total", "counter", "Requests whose head was read.",
         offsetof(lx_http_stats_t, requests)},
        {"llmux_http_requests_active", "gauge", "Requests in progress.",
         offsetof(lx_http_stats_t, requests_active)},
        {"llmux_http_rejected_total", "counter", "Requests refused before a handler ran.",
         offsetof(lx_http_stats_t, rejected)},
    };
    for (size_t m = 0; m < LX_ARRAY_LEN(http_metrics); m++) {
        lx_buf_printf(&b, "# HELP %s %s\n# TYPE %s %s\n", http_metrics[m].name,
                      http_metrics[m].help, http_metrics[m].name, http_metrics[m].type);
        for (int i = 0; i < app->nworkers; i++) {
            const lx_http_stats_t *st = lx_http_server_stats(app->workers[i].http);
            const _Atomic uint64_t *v =
                (const _Atomic uint64_t *)((const char *)st + http_metrics[m].off);
            lx_buf_printf(&b, "%s{worker=\"%d\"} %llu\n", http_metrics[m].name, i,
                          (unsigned long long)atomic_load_explicit(v, memory_order_relaxed));
        }
    }
    lx_buf_printf(&b, "# HELP llmux_streams_active Client streams in progress.\n"
                      "# TYPE llmux_streams_active gauge\n");
    for (int i = 0; i < app->nworkers; i++)
        lx_buf_printf(&b, "llmux_streams_active{worker=\"%d\"} %llu\n", i,
                      (unsigned long long)atomic_load_explicit(&app->workers[i].ai.streams_active,
                                                               memory_order_relaxed));
    lx_buf_printf(&b, "# HELP llmux_upstream_pauses_total Upstream transfers paused for a slow "
                      "client.\n# TYPE llmux_upstream_pauses_total counter\n");
    for (int i = 0; i < app->nworkers; i++)
        lx_buf_printf(&b, "llmux_upstream_pauses_total{worker=\"%d\"} %llu\n", i,
                      (unsigned long long)atomic_load_explicit(&app->workers[i].ai.upstream_pauses,
                                                               memory_order_relaxed));
    lx_buf_printf(&b, "# HELP llmux_ai_unauthenticated_total AI requests refused with 401 (no, "
                      "unknown, disabled or expired key); they leave no usage row.\n"
                      "# TYPE llmux_ai_unauthenticated_total counter\n");
    for (int i = 0; i < app->nworkers; i++)
        lx_buf_printf(&b, "llmux_ai_unauthenticated_total{worker=\"%d\"} %llu\n", i,
                      (unsigned long long)atomic_load_explicit(&app->workers[i].ai.unauthenticated,
                                                               memory_order_relaxed));
    lx_buf_printf(&b,
                  "# HELP llmux_ai_limit_refusals_total Requests refused by a key's, user's "
                  "or team's limit (window: minute and day requests, tokens a minute, requests in "
                  "flight).\n# TYPE llmux_ai_limit_refusals_total counter\n");
    static const char *const subjects[3] = {"key", "user", "team"};
    static const char *const windows[4] = {"minute", "day", "tokens", "parallel"};
    for (int i = 0; i < app->nworkers; i++)
        for (int s = 0; s < 3; s++)
            for (int p = 0; p < 4; p++)
                lx_buf_printf(&b,
                              "llmux_ai_limit_refusals_total{worker=\"%d\",subject=\"%s\","
                              "window=\"%s\"} %llu\n",
                              i, subjects[s], windows[p],
                              (unsigned long long)atomic_load_explicit(
                                  &app->workers[i].ai.limit_refusals[s][p], memory_order_relaxed));
    lx_buf_printf(&b, "# HELP llmux_ai_budget_refusals_total Requests refused by a key's, user's "
                      "or team's budget.\n# TYPE llmux_ai_budget_refusals_total counter\n");
    for (int i = 0; i < app->nworkers; i++)
        for (int s = 0; s < 3; s++)
            lx_buf_printf(&b, "llmux_ai_budget_refusals_total{worker=\"%d\",subject=\"%s\"} %llu\n",
                          i, subjects[s],
                          (unsigned long long)atomic_load_explicit(
                              &app->workers[i].ai.budget_refusals[s], memory_order_relaxed));
    lx_app_metrics(app, &b);
    lx_app_task_metrics(app, &b);
    lx_trace_metrics(&b);
    lx_buf_printf(&b,
                  "# HELP llmux_uptime_seconds Seconds since start.\n"
                  "# TYPE llmux_uptime_seconds gauge\nllmux_uptime_seconds %lld\n",
                  (long long)((lx_wall_ms() - app->started_ms) / 1000));
    lx_req_reply(req, 200, "text/plain; version=0.0.4", b.p, b.n);
    lx_buf_free(&b);
    return LX_OK;
}

bool lx_app_task_auth(lx_req_t *req, void *arg, lx_task_caller_t *who)
{
    lx_ai_t *ai = arg;
    lx_ai_auth_t a;
    lx_outcome_t o;
    if (!lx_ai_begin(ai, req, &a, &o)) {
        lx_ai_refuse(ai, req, &a, &o);
        return false;
    }
    *who = (lx_task_caller_t){
        .key_id = a.key ? a.key->id : 0,
        .user_id = a.user_id,
        .team_id = a.team_id,
        .admin = a.key == NULL && a.user_id == 0,
    };
    lx_ai_end(&a);
    return true;
}

size_t lx_routes_build(lx_worker_t *w, lx_route_t *routes, size_t cap)
{
    const lx_route_t table[] = {
        {"GET", "/healthz", healthz, w, 0},
        {"GET", "/readyz", readyz, w, 0},
        {"GET", "/metrics", metrics, w, 0},
        {"GET", "/openapi.json", lx_openapi_handler, NULL, 0},
        {"GET", "/v1/models", lx_ai_models_handler, &w->ai, 0},
        {"GET", "/v1/models/", lx_ai_model_get_handler, &w->ai, LX_ROUTE_PREFIX},
        {"GET", "/v1/key/info", lx_ai_key_info_handler, &w->ai, 0},
        {NULL, "/api/v1/admin/", lx_admin_handler, &w->admin, LX_ROUTE_PREFIX},
        {NULL, "/admin", lx_admin_ui_handler, NULL, LX_ROUTE_PREFIX},
    };
    size_t n = LX_MIN(cap, LX_ARRAY_LEN(table));
    memcpy(routes, table, n * sizeof *routes);
    n += lx_task_routes(&w->task_http, routes + n, cap - n);
    n += lx_media_routes(&w->media_http, routes + n, cap - n);
    return n + lx_ai_routes(&w->ai, routes + n, cap - n);
}
