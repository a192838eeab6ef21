/* health_view.c - GET health: each deployment (provider x credential x
 * upstream model of the current snapshot) with what routing knows of it
 * now: the deployment's and the credential's breaker, cooling, the 401/403
 * hold, attempts in flight, the EWMA of time to first byte, success and
 * error totals and the newest error with its time.
 *
 * That state is process-wide (ai/routing/state.h: C11 atomics that every
 * worker updates without a lock), so this reads it directly with relaxed
 * loads: nothing to merge, nothing locked, nothing written; each value is
 * exact, the set is not one instant. Runs on the admin request's loop
 * thread, in a time linear in the snapshot's deployments. */
#include "admin/internal.h"
#include "ai/registry.h"
#include "ai/routing/breaker.h"
#include "ai/routing/state.h"
#include "core/clock.h"

#include <stdio.h>

/* A time in ms as RFC 3339, or null when it is not after now (0: never). */
static json_t *until(int64_t ms, int64_t now_ms)
{
    if (ms <= now_ms)
        return json_null();
    char t[48];
    adm_format_rfc3339(ms, t);
    return json_string(t);
}

static json_t *at(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    char t[48];
    adm_format_rfc3339(ms, t);
    return json_string(t);
}

static json_t *ms_of_us(int64_t us)
{
    return us < 0 ? json_null() : json_real((double)(us / 10) / 100.0);
}

static int64_t load(const _Atomic int64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

/* The credential's part, shared by each of its deployments. */
static json_t *cred_json(const lx_credential_t *cr, const lx_route_state_t *st, int64_t now)
{
    lx_cred_err_t code = LX_CRED_ERR_NONE;
    int64_t err_ms = st ? lx_state_last_error(st, &code) : 0;
    json_t *o = json_object();
    json_object_set_new(o, "breaker",
                        json_string(lx_breaker_state_name(st ? lx_breaker_state(st) : 0)));
    json_object_set_new(o, "cooling_until", until(st ? load(&st->cooling_until) : 0, now));
    json_object_set_new(o, "auth_hold_until", until(st ? load(&st->auth_until) : 0, now));
    json_object_set_new(o, "in_flight", json_integer(lx_state_inflight(st)));
    json_object_set_new(o, "ttfb_ewma_ms", ms_of_us(lx_state_ttfb_us(st)));
    json_object_set_new(o, "success_total", json_integer((json_int_t)lx_state_success_total(st)));
    json_object_set_new(o, "error_total", json_integer((json_int_t)lx_state_error_total(st)));
    json_object_set_new(o, "last_used_at", at(st ? lx_state_last_used_ms(st) : 0));
    json_object_set_new(o, "last_error",
                        err_ms ? json_string(lx_cred_err_name(code)) : json_null());
    json_object_set_new(o, "last_error_at", at(err_ms));
    (void)cr;
    return o;
}

static json_t *deployment(const lx_provider_t *p, const lx_credential_t *cr,
                          const lx_route_state_t *cst, const char *model, int64_t now)
{
    lx_state_table_t *tab = lx_route_state_table();
    uint64_t key = model[0] ? lx_state_key_deploy(cr->id, lx_str(model)) : 0;
    lx_route_state_t *dst = tab && key ? lx_state_table_find(tab, key) : NULL;
    int64_t cool = LX_MAX(dst ? load(&dst->cooling_until) : 0, cst ? load(&cst->cooling_until) : 0);
    lx_breaker_state_t db = dst ? lx_breaker_state(dst) : LX_BRK_CLOSED;
    lx_breaker_state_t cb = cst ? lx_breaker_state(cst) : LX_BRK_CLOSED;
    int64_t ttfb = dst ? lx_state_ttfb_us(dst) : -1;
    if (ttfb < 0)
        ttfb = lx_state_ttfb_us(cst);
    /* the state routing acts on: the worse of the two breakers, cooling */
    const char *state = cb == LX_BRK_OPEN || db == LX_BRK_OPEN             ? "open"
                        : cb == LX_BRK_HALF_OPEN || db == LX_BRK_HALF_OPEN ? "half_open"
                        : cool > now                                       ? "cooling"
                        : !cr->active || !p->active                        ? "disabled"
                                                                           : "ok";
    json_t *o = json_object();
    json_object_set_new(o, "provider", json_string(p->conf.name ? p->conf.name : ""));
    json_object_set_new(o, "provider_id", json_integer(p->id));
    json_object_set_new(o, "connection_id", json_integer(cr->id));
    json_object_set_new(o, "connection", json_string(cr->name ? cr->name : ""));
    json_object_set_new(o, "model", json_string(model));
    json_object_set_new(o, "active", json_boolean(cr->active && p->active));
    json_object_set_new(o, "state", json_string(state));
    json_object_set_new(o, "breaker", json_string(lx_breaker_state_name(db)));
    json_object_set_new(o, "cooling_until", until(cool, now));
    json_object_set_new(o, "auth_hold_until", until(dst ? load(&dst->auth_until) : 0, now));
    json_object_set_new(o, "in_flight", json_integer(lx_state_inflight(cst)));
    json_object_set_new(o, "ttfb_ewma_ms", ms_of_us(ttfb));
    json_object_set_new(o, "credential", cred_json(cr, cst, now));
    return o;
}

int adm_health(lx_admin_t *a, lx_req_t *req)
{
    int64_t now = lx_wall_ms();
    lx_snapshot_t *snap = lx_registry_acquire();
    json_t *data = json_array();
    for (int i = 0; snap && i < snap->nproviders; i++) {
        const lx_provider_t *p = &snap->providers[i];
        for (int j = 0; j < p->ncreds; j++) {
            const lx_credential_t *cr = &p->creds[j];
            lx_route_state_t *cst = lx_cred_state_get(cr->id);
            int n = 0;
            for (int m = 0; m < snap->nmodels; m++) {
                const lx_model_t *md = &snap->models[m];
                if (md->provider != p)
                    continue;
                /* an alias shares its upstream model's deployment: listed
                 * once, under the model itself or the first alias */
                bool seen = false, alias = strcmp(md->public_name, md->upstream_name) != 0;
                for (int k = 0; alias && k < snap->nmodels && !seen; k++) {
                    const lx_model_t *o = &snap->models[k];
                    seen = k != m && o->provider == p &&
                           strcmp(o->upstream_name, md->upstream_name) == 0 &&
                           (k < m || strcmp(o->public_name, o->upstream_name) == 0);
                }
                if (seen)
                    continue;
                json_array_append_new(data, deployment(p, cr, cst, md->upstream_name, now));
                n++;
            }
            if (n == 0) /* a credential with no catalog model: its own state */
                json_array_append_new(data, deployment(p, cr, cst, "", now));
        }
    }
    lx_registry_release(snap);
    char t[48];
    adm_format_rfc3339(now, t);
    json_t *out = json_object();
    json_object_set_new(out, "at", json_string(t));
    json_object_set_new(out, "data", data);
    lx_req_reply_json(req, 200, out);
    return LX_OK;
}
