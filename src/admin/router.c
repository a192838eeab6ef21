/* router.c - /api/v1/admin/ai/...: the admin key check, then dispatch by
 * path and method.
 *
 *   providers[/{id}]                  GET POST | GET PATCH DELETE
 *   connections[/{id}]                GET POST | GET PATCH DELETE
 *   connections/{id}/test             POST
 *   models[/{id}]                     GET POST | GET PATCH DELETE
 *   groups[/{id}]                     GET POST | GET PATCH DELETE
 *   groups/{id}/members[/{member_id}] GET POST | GET PATCH DELETE
 *   keys[/{id}]                       GET POST | GET PATCH DELETE
 *   usage/summary, usage/timeseries   GET
 */
#include "admin/internal.h"
#include "ai/registry.h"
#include "core/crypto.h"

#include <stdio.h>
#include <stdlib.h>

#define PREFIX   "/api/v1/admin/"
#define MAX_SEGS 5

typedef enum { M_GET, M_POST, M_PATCH, M_DELETE, M_OTHER } method_t;

static method_t method_of(lx_req_t *req)
{
    lx_str_t m = lx_req_method(req);
    if (lx_str_eq_cstr(m, "GET") || lx_str_eq_cstr(m, "HEAD"))
        return M_GET;
    if (lx_str_eq_cstr(m, "POST"))
        return M_POST;
    if (lx_str_eq_cstr(m, "PATCH"))
        return M_PATCH;
    if (lx_str_eq_cstr(m, "DELETE"))
        return M_DELETE;
    return M_OTHER;
}

/* Admin key only: 401 for a missing or unknown key, 403 for a client API
 * key (it is valid, just not here). Digests are compared so the time taken
 * does not depend on the key. */
static bool authorize(lx_admin_t *a, lx_req_t *req)
{
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

static int method_not_allowed(lx_req_t *req, const char *allow)
{
    lx_req_set_header(req, "Allow", allow);
    lx_req_reply_error(req, LX_E_METHOD_NOT_ALLOWED, NULL, NULL);
    return LX_OK;
}

static int no_route(lx_req_t *req)
{
    lx_req_reply_error(req, LX_E_NOT_FOUND, "no such admin route", NULL);
    return LX_OK;
}

static int bad_id(lx_req_t *req, const char *param)
{
    char msg[96];
    snprintf(msg, sizeof msg, "'%s' in the path must be a positive integer", param);
    lx_req_reply_error(req, LX_E_BAD_REQUEST, msg, param);
    return LX_OK;
}

/* A collection and its items: /{name} and /{name}/{id}. */
static int collection(lx_admin_t *a, lx_req_t *req, method_t m, const adm_entity_t *ent, char **seg,
                      int nseg)
{
    if (nseg == 1) {
        if (m == M_GET)
            return adm_crud_list(a, req, ent, 0);
        if (m == M_POST) {
            if (ent == &adm_providers)
                return adm_provider_create(a, req);
            if (ent == &adm_connections)
                return adm_connection_create(a, req);
            if (ent == &adm_keys)
                return adm_key_create(a, req);
            return adm_crud_create(a, req, ent, 0);
        }
        return method_not_allowed(req, "GET, POST");
    }
    int64_t id;
    if (!parse_id(seg[1], &id))
        return bad_id(req, "id");
    if (nseg == 3 && ent == &adm_connections && strcmp(seg[2], "test") == 0)
        return m == M_POST ? adm_connection_test(a, req, id) : method_not_allowed(req, "POST");
    if (nseg >= 3 && ent == &adm_groups && strcmp(seg[2], "members") == 0) {
        if (nseg == 3) {
            if (m == M_GET)
                return adm_crud_list(a, req, &adm_members, id);
            if (m == M_POST)
                return adm_crud_create(a, req, &adm_members, id);
            return method_not_allowed(req, "GET, POST");
        }
        int64_t mid;
        if (nseg != 4)
            return no_route(req);
        if (!parse_id(seg[3], &mid))
            return bad_id(req, "member_id");
        if (m == M_GET)
            return adm_crud_get(a, req, &adm_members, mid, id);
        if (m == M_PATCH)
            return adm_crud_update(a, req, &adm_members, mid, id);
        if (m == M_DELETE)
            return adm_crud_delete(a, req, &adm_members, mid, id);
        return method_not_allowed(req, "GET, PATCH, DELETE");
    }
    if (nseg != 2)
        return no_route(req);
    if (m == M_GET)
        return adm_crud_get(a, req, ent, id, 0);
    if (m == M_PATCH) {
        if (ent == &adm_providers)
            return adm_provider_update(a, req, id);
        if (ent == &adm_connections)
            return adm_connection_update(a, req, id);
        return adm_crud_update(a, req, ent, id, 0);
    }
    if (m == M_DELETE)
        return adm_crud_delete(a, req, ent, id, 0);
    return method_not_allowed(req, "GET, PATCH, DELETE");
}

static int dispatch(lx_admin_t *a, lx_req_t *req, char **seg, int nseg)
{
    static const adm_entity_t *const entities[] = {&adm_providers, &adm_connections, &adm_models,
                                                   &adm_groups, &adm_keys};
    method_t m = method_of(req);
    if (nseg >= 2 && strcmp(seg[0], "usage") == 0) {
        if (nseg != 2 || (strcmp(seg[1], "summary") && strcmp(seg[1], "timeseries")))
            return no_route(req);
        if (m != M_GET)
            return method_not_allowed(req, "GET");
        return strcmp(seg[1], "summary") == 0 ? adm_usage_summary(a, req)
                                              : adm_usage_timeseries(a, req);
    }
    for (size_t i = 0; i < LX_ARRAY_LEN(entities); i++)
        if (strcmp(seg[0], entities[i]->name) == 0)
            return collection(a, req, m, entities[i], seg, nseg);
    return no_route(req);
}

int lx_admin_handler(lx_req_t *req, void *arg)
{
    lx_admin_t *a = arg;
    if (!authorize(a, req))
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
    return dispatch(a, req, seg, nseg);
}
