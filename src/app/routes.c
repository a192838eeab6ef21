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

/* Prometheus text format, rendered on the scrape thread (scrape.h): this
 * worker goes on serving while it runs. */
static int metrics(lx_req_t *req, void *arg)
{
    lx_worker_t *self = arg;
    return lx_scrape_submit(&self->scrape, req);
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
