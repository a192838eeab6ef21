/* admin.h - the admin REST API (/api/v1/admin/...), admin key only.
 *
 * lx_admin_t belongs to a worker and lives as long as its loop; it borrows
 * the config, the worker's Postgres connection (NULL without a database:
 * every admin endpoint then answers 503) and the worker's AI context (for
 * connection tests, which make a real upstream call). */
#ifndef LX_ADMIN_ADMIN_H
#define LX_ADMIN_ADMIN_H

#include "ai/ai.h"
#include "db/pg.h"
#include "task/task.h"

struct adm_principal;

typedef struct {
    const lx_config_t *cfg;
    lx_pg_t *pg;
    lx_ai_t *ai;
    lx_task_http_t *tasks; /* the worker's task routes (GET tasks ...); NULL: 503 */
    /* Who the request being dispatched is (router.c sets it for the
     * synchronous part of a handler; adm_op_new copies it). */
    const struct adm_principal *who;
} lx_admin_t;

/* Prefix route for /api/v1/admin/: dispatches by method and path. */
int lx_admin_handler(lx_req_t *req, void *admin);

/* Start-up, before the workers: the configuration whose master key seals
 * budget webhook secrets (budgets.c). */
void lx_admin_budget_init(const lx_config_t *cfg);

/* Start-up, before the workers: the check of a provider's settings.jobs
 * (LX_OK, or LX_ERROR with a message naming the setting in err). Unset:
 * not checked beyond being JSON. */
typedef int (*lx_admin_jobs_check_fn)(const json_t *jobs, char *err, size_t errlen);
void lx_admin_set_jobs_check(lx_admin_jobs_check_fn fn);

/* The i-th admin route: its method ("GET", "POST", "PATCH", "DELETE") and
 * path pattern under /api/v1/admin/ai/ ("groups/{id}/members"); static
 * strings. False past the last route. */
bool lx_admin_route_at(size_t i, const char **method, const char **pattern);
/* The roles (auth/roles.h LX_R_* bits) besides root and admin that may
 * use the i-th route; 0 past the last. */
unsigned lx_admin_route_roles(size_t i);

#endif
