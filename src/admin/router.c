/* router.c - /api/v1/admin/ai/...: the admin key check, then dispatch
 * through the route table below (method, path pattern, handler). The table
 * is also what the OpenAPI check reads (lx_admin_route_at). */
#include "admin/internal.h"
#include "ai/registry.h"
#include "ai/signin.h"
#include "core/crypto.h"
#include "core/id.h"

#include <stdio.h>
#include <stdlib.h>

#define PREFIX     "/api/v1/admin/"
#define MAX_SEGS   5
#define MAX_PARAMS 2

/* A route's handler gets the path's ids in pattern order. */
typedef struct adm_route adm_route_t;
typedef int (*adm_route_fn)(lx_admin_t *a, lx_req_t *req, const adm_route_t *r, const int64_t *ids);

struct adm_route {
    const char *method;  /* GET (also answers HEAD), POST, PATCH, DELETE */
    const char *pattern; /* under /api/v1/admin/ai/; "{name}": a positive integer id */
    adm_route_fn fn;
    const adm_entity_t *ent;
    unsigned roles; /* who besides root and admin may use it (roles.h) */
};

/* Collections: /{name} has no id, /groups/{id}/members has the group's. */
static int64_t parent_of(const adm_route_t *r, const int64_t *ids)
{
    return r->ent->parent_col ? ids[0] : 0;
}

/* Items: the last id is the item's, the one before it its parent's. */
static int64_t item_of(const adm_route_t *r, const int64_t *ids)
{
    return r->ent->parent_col ? ids[1] : ids[0];
}

static int r_list(lx_admin_t *a, lx_req_t *req, const adm_route_t *r, const int64_t *ids)
{
    return adm_crud_list(a, req, r->ent, parent_of(r, ids));
}

static int r_create(lx_admin_t *a, lx_req_t *req, const adm_route_t *r, const int64_t *ids)
{
    return adm_crud_create(a, req, r->ent, parent_of(r, ids));
}

static int r_get(lx_admin_t *a, lx_req_t *req, const adm_route_t *r, const int64_t *ids)
{
    return adm_crud_get(a, req, r->ent, item_of(r, ids), parent_of(r, ids));
}

static int r_update(lx_admin_t *a, lx_req_t *req, const adm_route_t *r, const int64_t *ids)
{
    return adm_crud_update(a, req, r->ent, item_of(r, ids), parent_of(r, ids));
}

static int r_delete(lx_admin_t *a, lx_req_t *req, const adm_route_t *r, const int64_t *ids)
{
    return adm_crud_delete(a, req, r->ent, item_of(r, ids), parent_of(r, ids));
}

static int r_refs_delete(lx_admin_t *a, lx_req_t *req, const adm_route_t *r, const int64_t *ids)
{
    return adm_refs_delete(a, req, r->ent, ids[0]);
}

static int r_owner_delete(lx_admin_t *a, lx_req_t *req, const adm_route_t *r, const int64_t *ids)
{
    return adm_owner_delete(a, req, r->ent, ids[0]);
}

static int r_group_create(lx_admin_t *a, lx_req_t *req, const adm_route_t *r, const int64_t *ids)
{
    return adm_group_create(a, req);
}

static int r_member_create(lx_admin_t *a, lx_req_t *req, const adm_route_t *r, const int64_t *ids)
{
    return adm_member_create(a, req, ids[0]);
}

static int r_member_update(lx_admin_t *a, lx_req_t *req, const adm_route_t *r, const int64_t *ids)
{
    return adm_member_update(a, req, ids[1], ids[0]);
}

static int r_provider_create(lx_admin_t *a, lx_req_t *req, const adm_route_t *r, const int64_t *ids)
{
    return adm_provider_create(a, req);
}

static int r_provider_update(lx_admin_t *a, lx_req_t *req, const adm_route_t *r, const int64_t *ids)
{
    return adm_provider_update(a, req, ids[0]);
}

static int r_connection_create(lx_admin_t *a, lx_req_t *req, const adm_route_t *r,
                               const int64_t *ids)
{
    return adm_connection_create(a, req);
}

static int r_connection_update(lx_admin_t *a, lx_req_t *req, const adm_route_t *r,
                               const int64_t *ids)
{
    return adm_connection_update(a, req, ids[0]);
}

static int r_connection_test(lx_admin_t *a, lx_req_t *req, const adm_route_t *r, const int64_t *ids)
{
    return adm_connection_test(a, req, ids[0]);
}

static int r_reset_spend(lx_admin_t *a, lx_req_t *req, const adm_route_t *r, const int64_t *ids)
{
    return adm_reset_spend(a, req, r->ent, ids[0]);
}

static int r_key_create(lx_admin_t *a, lx_req_t *req, const adm_route_t *r, const int64_t *ids)
{
    return adm_key_create(a, req);
}

static int r_usage_summary(lx_admin_t *a, lx_req_t *req, const adm_route_t *r, const int64_t *ids)
{
    return adm_usage_summary(a, req);
}

static int r_usage_timeseries(lx_admin_t *a, lx_req_t *req, const adm_route_t *r,
                              const int64_t *ids)
{
    return adm_usage_timeseries(a, req);
}

static int r_usage_requests(lx_admin_t *a, lx_req_t *req, const adm_route_t *r, const int64_t *ids)
{
    return adm_usage_requests(a, req);
}

static int r_usage_request(lx_admin_t *a, lx_req_t *req, const adm_route_t *r, const int64_t *ids)
{
    return adm_usage_request(a, req);
}

static int r_health(lx_admin_t *a, lx_req_t *req, const adm_route_t *r, const int64_t *ids)
{
    return adm_health(a, req);
}

static int r_audit(lx_admin_t *a, lx_req_t *req, const adm_route_t *r, const int64_t *ids)
{
    return adm_audit_list(a, req);
}

/* tasks, tasks/{task_id}[/events]: the task API's own routes (task/api.c)
 * for every caller's tasks; the task id is text, checked there. */
static int r_tasks(lx_admin_t *a, lx_req_t *req, const adm_route_t *r, const int64_t *ids)
{
    if (a->tasks == NULL) {
        lx_req_reply_error(req, LX_E_UNAVAILABLE, "tasks are not served by this instance", NULL);
        return LX_OK;
    }
    lx_str_t path = lx_req_path(req);
    static const char base[] = PREFIX "ai/tasks";
    lx_str_t rest = {path.p + sizeof base - 1, path.n - (sizeof base - 1)};
    while (rest.n > 0 && rest.p[rest.n - 1] == '/')
        rest.n--;
    lx_task_caller_t who = {.admin = true};
    return lx_task_http_serve(req, a->tasks, &who, rest);
}

static int r_whoami(lx_admin_t *a, lx_req_t *req, const adm_route_t *r, const int64_t *ids);

/* Who besides root (the admin key) and admin may use a route (roles.h):
 * operators the upstream side, team admins their team's keys, users and
 * usage, viewers usage and the audit log. */
#define NONE  0u
#define OPS   LX_R_OPS
#define TEAM  LX_R_TEAM
#define VIEW  LX_R_VIEW
#define USAGE (LX_R_TEAM | LX_R_VIEW)

/* Every admin route, with the roles that may use it. docs/openapi.json
 * documents each one (a unit test checks that). Routes of one pattern are listed together, in the
 * order their methods appear in a 405's Allow header. */
static const adm_route_t routes[] = {
    {"GET", "providers", r_list, &adm_providers, OPS},
    {"POST", "providers", r_provider_create, &adm_providers, OPS},
    {"GET", "providers/{id}", r_get, &adm_providers, OPS},
    {"PATCH", "providers/{id}", r_provider_update, &adm_providers, OPS},
    {"DELETE", "providers/{id}", r_refs_delete, &adm_providers, OPS},

    {"GET", "connections", r_list, &adm_connections, OPS},
    {"POST", "connections", r_connection_create, &adm_connections, OPS},
    {"GET", "connections/{id}", r_get, &adm_connections, OPS},
    {"PATCH", "connections/{id}", r_connection_update, &adm_connections, OPS},
    {"DELETE", "connections/{id}", r_refs_delete, &adm_connections, OPS},
    {"POST", "connections/{id}/test", r_connection_test, &adm_connections, OPS},

    {"GET", "models", r_list, &adm_models, OPS},
    {"POST", "models", r_create, &adm_models, OPS},
    {"GET", "models/{id}", r_get, &adm_models, OPS},
    {"PATCH", "models/{id}", r_update, &adm_models, OPS},
    {"DELETE", "models/{id}", r_refs_delete, &adm_models, OPS},

    {"GET", "groups", r_list, &adm_groups, OPS},
    {"POST", "groups", r_group_create, &adm_groups, OPS},
    {"GET", "groups/{id}", r_get, &adm_groups, OPS},
    {"PATCH", "groups/{id}", r_update, &adm_groups, OPS},
    {"DELETE", "groups/{id}", r_delete, &adm_groups, OPS},
    {"GET", "groups/{id}/members", r_list, &adm_members, OPS},
    {"POST", "groups/{id}/members", r_member_create, &adm_members, OPS},
    {"GET", "groups/{id}/members/{member_id}", r_get, &adm_members, OPS},
    {"PATCH", "groups/{id}/members/{member_id}", r_member_update, &adm_members, OPS},
    {"DELETE", "groups/{id}/members/{member_id}", r_delete, &adm_members, OPS},

    {"GET", "keys", r_list, &adm_keys, TEAM},
    {"POST", "keys", r_key_create, &adm_keys, TEAM},
    {"GET", "keys/{id}", r_get, &adm_keys, TEAM},
    {"PATCH", "keys/{id}", r_update, &adm_keys, TEAM},
    {"DELETE", "keys/{id}", r_delete, &adm_keys, TEAM},
    {"POST", "keys/{id}/reset-spend", r_reset_spend, &adm_keys, NONE},

    {"GET", "teams", r_list, &adm_teams, NONE},
    {"POST", "teams", r_create, &adm_teams, NONE},
    {"GET", "teams/{id}", r_get, &adm_teams, NONE},
    {"PATCH", "teams/{id}", r_update, &adm_teams, NONE},
    {"DELETE", "teams/{id}", r_owner_delete, &adm_teams, NONE},
    {"POST", "teams/{id}/reset-spend", r_reset_spend, &adm_teams, NONE},

    {"GET", "users", r_list, &adm_users, TEAM},
    {"POST", "users", r_create, &adm_users, TEAM},
    {"GET", "users/{id}", r_get, &adm_users, TEAM},
    {"PATCH", "users/{id}", r_update, &adm_users, TEAM},
    {"DELETE", "users/{id}", r_owner_delete, &adm_users, TEAM},
    {"POST", "users/{id}/reset-spend", r_reset_spend, &adm_users, NONE},

    {"GET", "usage/summary", r_usage_summary, NULL, USAGE},
    {"GET", "usage/timeseries", r_usage_timeseries, NULL, USAGE},
    {"GET", "usage/requests", r_usage_requests, NULL, USAGE},
    {"GET", "usage/requests/{request_id}", r_usage_request, NULL, USAGE},
    {"GET", "health", r_health, NULL, OPS | VIEW},
    {"GET", "audit", r_audit, NULL, VIEW},
    {"GET", "tasks", r_tasks, NULL, OPS | VIEW},
    {"GET", "tasks/{task_id}", r_tasks, NULL, OPS | VIEW},
    {"DELETE", "tasks/{task_id}", r_tasks, NULL, OPS},
    {"GET", "tasks/{task_id}/events", r_tasks, NULL, OPS | VIEW},

    {"GET", "whoami", r_whoami, NULL, OPS | TEAM | VIEW},
};

/* GET whoami: the caller's role, team and actor, and the routes of the
 * table above its role may use ("METHOD pattern"), so that the web UI
 * shows only what the server will allow. The admin key is "admin". */
static int r_whoami(lx_admin_t *a, lx_req_t *req, const adm_route_t *r, const int64_t *ids)
{
    const adm_principal_t *who = a->who;
    json_t *caps = json_array();
    for (size_t i = 0; i < LX_ARRAY_LEN(routes); i++) {
        if (!lx_role_allows(who->role, routes[i].roles))
            continue;
        char cap[160];
        snprintf(cap, sizeof cap, "%s %s", routes[i].method, routes[i].pattern);
        json_array_append_new(caps, json_string(cap));
    }
    json_t *body = json_pack(
        "{s:s, s:s, s:o, s:o, s:o}", "role",
        who->role == LX_ROLE_ROOT ? "admin" : lx_role_name(who->role), "actor", who->actor,
        "team_id", who->team_id ? json_integer(who->team_id) : json_null(), "team",
        who->team[0] ? json_string(who->team) : json_null(), "capabilities", caps);
    lx_req_reply_json(req, 200, body);
    return LX_OK;
}

bool lx_admin_route_at(size_t i, const char **method, const char **pattern)
{
    if (i >= LX_ARRAY_LEN(routes))
        return false;
    *method = routes[i].method;
    *pattern = routes[i].pattern;
    return true;
}

unsigned lx_admin_route_roles(size_t i)
{
    return i < LX_ARRAY_LEN(routes) ? routes[i].roles : 0;
}

/* Whether the path's segments have the pattern's shape; the texts in the
 * place of its "{name}" segments go to params. */
static bool shape_matches(const char *pattern, char **seg, int nseg, const char **params,
                          const char **names, int *nparams)
{
    char buf[128];
    size_t n = strlen(pattern);
    if (n >= sizeof buf)
        return false;
    memcpy(buf, pattern, n + 1);
    int i = 0, np = 0;
    char *save = NULL;
    for (char *p = strtok_r(buf, "/", &save); p; p = strtok_r(NULL, "/", &save), i++) {
        if (i == nseg)
            return false;
        if (p[0] == '{') {
            if (np == MAX_PARAMS)
                return false;
            params[np] = seg[i];
            /* the name, as it stands in the (static) pattern */
            names[np++] = pattern + (p - buf) + 1;
        } else if (strcmp(p, seg[i]) != 0) {
            return false;
        }
    }
    *nparams = np;
    return i == nseg;
}

/* The admin key (root), or a JWT with a role (principal.c; its routes are
 * checked in dispatch): 401 for a missing or unknown key or a bad token,
 * 403 for a client API key (it is valid, just not here). Digests are
 * compared so the time taken does not depend on the key. */
static bool authorize(lx_admin_t *a, lx_req_t *req, adm_principal_t *who)
{
    memset(who, 0, sizeof *who);
    lx_copy_cstr(who->actor, sizeof who->actor, "admin");
    lx_str_t key = lx_req_api_key(req);
    if (key.n == 0) {
        lx_req_reply_error(req, LX_E_UNAUTHORIZED,
                           "missing admin key (Authorization: Bearer <LLMUX_ADMIN_KEY>)", NULL);
        return false;
    }
    unsigned char h[32];
    lx_sha256(key.p, key.n, h);
    const char *admin = a->cfg->admin_key;
    if (admin) {
        unsigned char ah[32];
        lx_sha256(admin, strlen(admin), ah);
        if (lx_ct_equal(h, ah, 32)) {
            lx_req_set_key_id(req, "admin");
            return true;
        }
    }
    if (lx_signin_looks_jwt(key)) {
        char msg[300];
        int status;
        if (adm_principal_from_jwt(key, who, &status, msg, sizeof msg) == LX_OK) {
            lx_req_set_key_id(req, who->actor);
            return true;
        }
        lx_req_reply_error(req, status == 403 ? LX_E_FORBIDDEN : LX_E_UNAUTHORIZED, msg, NULL);
        return false;
    }
    lx_snapshot_t *snap = lx_registry_acquire();
    const lx_apikey_t *k = snap ? lx_snapshot_key(snap, h) : NULL;
    bool client_key = k && lx_ct_equal(k->hash, h, 32);
    if (client_key)
        lx_req_set_key_id(req, k->label);
    lx_registry_release(snap);
    if (client_key)
        lx_req_reply_error(req, LX_E_FORBIDDEN,
                           "API keys cannot use the admin API: use the admin key", NULL);
    else
        lx_req_reply_error(req, LX_E_UNAUTHORIZED,
                           admin ? "invalid admin key"
                                 : "the admin API is disabled: LLMUX_ADMIN_KEY is not set",
                           NULL);
    return false;
}

static bool parse_id(const char *s, int64_t *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 18 || strspn(s, "0123456789") != n)
        return false;
    *out = strtoll(s, NULL, 10);
    return *out > 0;
}

static int no_route(lx_req_t *req)
{
    lx_req_reply_error(req, LX_E_NOT_FOUND, "no such admin route", NULL);
    return LX_OK;
}

/* name points into a pattern at "name}...". */
static int bad_id(lx_req_t *req, const char *name)
{
    char param[32];
    size_t n = strcspn(name, "}");
    if (n >= sizeof param)
        n = sizeof param - 1;
    memcpy(param, name, n);
    param[n] = '\0';
    char msg[96];
    snprintf(msg, sizeof msg, "'%s' in the path must be a positive integer", param);
    lx_req_reply_error(req, LX_E_BAD_REQUEST, msg, param);
    return LX_OK;
}

/* Every route takes only its own query parameters: lists limit, offset
 * and their filters, deletes that check references cascade, the usage
 * routes their range, filters and grouping or cursor, the audit log its
 * filters and cursor; the others none. False after a 400 naming the first other one. */
static bool params_ok(lx_req_t *req, const adm_route_t *r)
{
    static const char *const page[] = {"limit", "offset", NULL};
    static const char *const cascade[] = {"cascade", NULL};
#define USAGE_FILTERS                                                                              \
    "from", "to", "api_key_id", "team", "team_id", "user", "user_id", "provider", "model",         \
        "status", "feature", "error_code"
    static const char *const summary[] = {USAGE_FILTERS, "group_by", NULL};
    static const char *const series[] = {USAGE_FILTERS, "group_by", "bucket", NULL};
    static const char *const requests[] = {USAGE_FILTERS, "limit", "cursor", NULL};
    static const char *const one_request[] = {"from", "to", NULL};
    static const char *const audit[] = {"entity", "entity_id", "actor",  "action", "from",
                                        "to",     "limit",     "cursor", NULL};
    static const char *const tasks[] = {"status", "type", "after", "limit", NULL};
    const char *const *allowed = NULL;
    const adm_entity_t *filters = NULL;
    if (r->fn == r_list) {
        allowed = page;
        filters = r->ent;
    } else if (r->fn == r_refs_delete || r->fn == r_owner_delete) {
        allowed = cascade;
    } else if (r->fn == r_usage_summary) {
        allowed = summary;
    } else if (r->fn == r_usage_timeseries) {
        allowed = series;
    } else if (r->fn == r_usage_requests) {
        allowed = requests;
    } else if (r->fn == r_usage_request) {
        allowed = one_request;
    } else if (r->fn == r_audit) {
        allowed = audit;
    } else if (r->fn == r_tasks) {
        allowed = tasks;
    }
    adm_verr_t e;
    if (adm_query_only(req, allowed, filters, &e))
        return true;
    adm_reply_verr(req, &e);
    return false;
}

/* The route's role check (roles.h), then its handler with a->who set for
 * the handler's synchronous part. */
static int run_route(lx_admin_t *a, lx_req_t *req, const adm_route_t *r, const int64_t *ids,
                     const adm_principal_t *who)
{
    if (!lx_role_allows(who->role, r->roles)) {
        char msg[300];
        lx_role_denied(who->role, who->claim, r->method, r->pattern, msg, sizeof msg);
        lx_req_reply_error(req, LX_E_FORBIDDEN, msg, NULL);
        return LX_OK;
    }
    if (!params_ok(req, r))
        return LX_OK;
    a->who = who;
    int rc = r->fn(a, req, r, ids);
    a->who = NULL;
    return rc;
}

static int bad_request_id(lx_req_t *req)
{
    lx_req_reply_error(req, LX_E_BAD_REQUEST,
                       "'request_id' in the path is not a request id llmux gives or accepts",
                       "request_id");
    return LX_OK;
}

static int dispatch(lx_admin_t *a, lx_req_t *req, char **seg, int nseg, const adm_principal_t *who)
{
    lx_str_t m = lx_req_method(req);
    if (lx_str_eq_cstr(m, "HEAD"))
        m = LX_STR("GET");
    const char *params[MAX_PARAMS], *names[MAX_PARAMS];
    int64_t ids[MAX_PARAMS] = {0};
    char allow[64] = "";
    bool shaped = false;
    for (size_t i = 0; i < LX_ARRAY_LEN(routes); i++) {
        const adm_route_t *r = &routes[i];
        int np = 0;
        if (!shape_matches(r->pattern, seg, nseg, params, names, &np))
            continue;
        if (!shaped) { /* ids are checked before the method */
            for (int k = 0; k < np; k++) {
                if (strncmp(names[k], "task_id}", 8) == 0) /* text: the task API checks it */
                    continue;
                if (strncmp(names[k], "request_id}", 11) == 0) { /* text: the handler reads it */
                    if (!lx_request_id_valid(params[k], strlen(params[k])))
                        return bad_request_id(req);
                    continue;
                }
                if (!parse_id(params[k], &ids[k]))
                    return bad_id(req, names[k]);
            }
            shaped = true;
        }
        if (lx_str_eq_cstr(m, r->method))
            return run_route(a, req, r, ids, who);
        size_t used = strlen(allow);
        snprintf(allow + used, sizeof allow - used, "%s%s", used ? ", " : "", r->method);
    }
    if (!shaped)
        return no_route(req);
    lx_req_set_header(req, "Allow", allow);
    lx_req_reply_error(req, LX_E_METHOD_NOT_ALLOWED, NULL, NULL);
    return LX_OK;
}

int lx_admin_handler(lx_req_t *req, void *arg)
{
    lx_admin_t *a = arg;
    adm_principal_t who;
    if (!authorize(a, req, &who))
        return LX_OK;
    if (a->pg == NULL) {
        lx_req_reply_error(req, LX_E_UNAVAILABLE,
                           "the admin API needs a database: set LLMUX_DATABASE_URL", NULL);
        return LX_OK;
    }
    lx_str_t path = lx_req_path(req);
    if (!lx_str_has_prefix(path, PREFIX "ai/") || path.n > 512)
        return no_route(req);
    char buf[520];
    const size_t skip = sizeof(PREFIX "ai/") - 1;
    size_t n = path.n - skip;
    memcpy(buf, path.p + skip, n);
    buf[n] = '\0';
    while (n > 0 && buf[n - 1] == '/') /* a trailing slash is harmless */
        buf[--n] = '\0';
    char *seg[MAX_SEGS];
    int nseg = 0;
    char *save = NULL;
    for (char *s = strtok_r(buf, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
        if (nseg == MAX_SEGS)
            return no_route(req);
        seg[nseg++] = s;
    }
    if (nseg == 0)
        return no_route(req);
    return dispatch(a, req, seg, nseg, &who);
}
