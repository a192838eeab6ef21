/* attempt.c - eligibility, attempt begin / end over a credential and a deployment. */
#include "ai/routing/attempt.h"

/* Is the credential out (its own breaker, or most of its deployments)? */
static bool cred_out(const lx_route_state_t *cred, const lx_route_conf_t *c, int64_t now_ms)
{
    return !lx_breaker_would_allow(cred, &c->breaker, now_ms) ||
           lx_deploy_most_failing(cred, now_ms, c->breaker.window_ms);
}

/* The holds and cooling, shared by the check and begin. */
static lx_route_why_t holds(const lx_route_state_t *cred, const lx_route_state_t *dep,
                            int64_t now_ms)
{
    if (lx_state_auth_flagged(cred, now_ms))
        return LX_WHY_AUTH_FAILED;
    if (lx_state_auth_flagged(dep, now_ms))
        return LX_WHY_MODEL_DENIED;
    if (lx_cooling_active(cred, now_ms) || lx_cooling_active(dep, now_ms))
        return LX_WHY_COOLING;
    return LX_WHY_OK;
}

lx_route_why_t lx_route_check(const lx_route_state_t *cred, const lx_route_state_t *dep,
                              const lx_route_conf_t *c, int64_t now_ms, int rpm, int rpd)
{
    if (dep == cred)
        dep = NULL;
    lx_route_why_t why = holds(cred, dep, now_ms);
    if (why != LX_WHY_OK)
        return why;
    if (cred && cred_out(cred, c, now_ms))
        return LX_WHY_BREAKER_OPEN;
    if (dep && !lx_breaker_would_allow(dep, &c->breaker, now_ms))
        return LX_WHY_BREAKER_OPEN;
    if (cred && (rpm > 0 || rpd > 0) && lx_limits_check(cred, now_ms, rpm, rpd) != LX_LIMIT_OK)
        return LX_WHY_RATE_LIMITED;
    return LX_WHY_OK;
}

/* The credential's error in an attempt's verdict, or NONE for a success or a
 * result that says nothing about the credential (the client left, a 4xx of
 * the client's own). 429 / quota and 401 / 403 count as errors of the
 * credential although the breaker leaves them to cooling and the holds. */
static lx_cred_err_t error_kind(const lx_verdict_t *v)
{
    if (!v)
        return LX_CRED_ERR_NONE;
    if (v->cls == LX_FAIL_ROTATE)
        return LX_CRED_ERR_RATE_LIMITED;
    if (v->cls == LX_FAIL_FLAG_AUTH)
        return LX_CRED_ERR_AUTH;
    if (v->breaker != LX_BRK_FAILURE)
        return LX_CRED_ERR_NONE;
    switch (v->err) {
    case LX_E_UPSTREAM_TIMEOUT:
    case LX_E_REQUEST_TIMEOUT:
        return LX_CRED_ERR_TIMEOUT;
    case LX_E_UNAVAILABLE:
        return LX_CRED_ERR_UNAVAILABLE;
    default:
        return LX_CRED_ERR_UPSTREAM;
    }
}

lx_route_why_t lx_attempt_begin(lx_attempt_t *a, lx_route_state_t *cred, lx_route_state_t *dep,
                                lx_route_state_t *stats, int rpm, int rpd, const lx_route_conf_t *c,
                                int64_t now_ms)
{
    if (dep == cred)
        dep = NULL;
    *a = (lx_attempt_t){.cred = cred, .dep = dep, .stats = stats == cred ? NULL : stats};
    lx_route_why_t why = holds(cred, dep, now_ms);
    if (why != LX_WHY_OK)
        return why;
    if (cred) {
        if (lx_deploy_most_failing(cred, now_ms, c->breaker.window_ms))
            return LX_WHY_BREAKER_OPEN;
        lx_breaker_verdict_t bv = lx_breaker_allow(cred, &c->breaker, now_ms, &a->gen);
        if (bv == LX_BRK_DENIED)
            return LX_WHY_BREAKER_OPEN;
        a->probe = bv == LX_BRK_PROBE;
    }
    if (dep) {
        lx_breaker_verdict_t bv = lx_breaker_allow(dep, &c->breaker, now_ms, &a->dep_gen);
        if (bv == LX_BRK_DENIED) {
            lx_breaker_release(cred, a->gen);
            return LX_WHY_BREAKER_OPEN;
        }
        a->dep_probe = bv == LX_BRK_PROBE;
    }
    if (cred && (rpm > 0 || rpd > 0) && lx_limits_take(cred, now_ms, rpm, rpd) != LX_LIMIT_OK) {
        lx_breaker_release(cred, a->gen);
        lx_breaker_release(dep, a->dep_gen);
        return LX_WHY_RATE_LIMITED;
    }
    lx_state_inflight_acquire(cred);
    lx_state_inflight_acquire(dep); /* the deployment's own count (/metrics, health) */
    lx_state_inflight_acquire(a->stats);
    a->active = true;
    return LX_WHY_OK;
}

/* Records eff on one breaker: a success, a failure when this breaker is the
 * failure's scope, else the probe slot goes back. */
static lx_breaker_event_t record(lx_route_state_t *st, uint32_t gen, const lx_route_conf_t *c,
                                 lx_brk_effect_t eff, bool in_scope, int64_t now_ms)
{
    if (!st)
        return LX_BRK_EV_NONE;
    if (eff == LX_BRK_SUCCESS || (eff == LX_BRK_FAILURE && in_scope))
        return lx_breaker_record(st, &c->breaker, eff == LX_BRK_SUCCESS, gen, now_ms);
    lx_breaker_release(st, gen);
    return LX_BRK_EV_NONE;
}

lx_breaker_event_t lx_attempt_end(lx_attempt_t *a, const lx_route_conf_t *c, const lx_verdict_t *v,
                                  int64_t ttfb_us, const char *retry_after, int64_t now_ms)
{
    if (!a->active)
        return LX_BRK_EV_NONE;
    a->active = false;
    lx_route_state_t *cred = a->cred, *dep = a->dep;
    lx_state_inflight_release(cred);
    lx_state_inflight_release(dep);
    lx_state_inflight_release(a->stats);
    if (ttfb_us >= 0) {
        lx_state_ttfb_update(cred, ttfb_us);
        lx_state_ttfb_update(dep, ttfb_us);
        lx_state_ttfb_update(a->stats, ttfb_us);
    }
    lx_brk_effect_t eff = v ? v->breaker : LX_BRK_NEUTRAL;
    /* without a deployment state, everything lands on the credential */
    bool on_cred = !dep || (v && v->scope == LX_SCOPE_CREDENTIAL);
    lx_breaker_event_t ev_dep = record(dep, a->dep_gen, c, eff, !on_cred, now_ms);
    lx_breaker_event_t ev_cred = record(cred, a->gen, c, eff, on_cred, now_ms);
    if (dep && eff != LX_BRK_NEUTRAL && (eff == LX_BRK_SUCCESS || !on_cred))
        lx_deploy_note(cred, dep, lx_breaker_state(dep) == LX_BRK_OPEN, now_ms,
                       c->breaker.window_ms);
    lx_state_count(cred, eff == LX_BRK_SUCCESS, error_kind(v), now_ms);
    lx_route_state_t *target = on_cred ? cred : dep;
    if (v && v->cls == LX_FAIL_ROTATE)
        lx_cooling_set(target, now_ms, retry_after, c->cooling_default_ms, c->cooling_cap_ms);
    else if (v && v->cls == LX_FAIL_FLAG_AUTH)
        lx_state_flag_auth(target, now_ms, c->auth_hold_ms);
    if (eff == LX_BRK_SUCCESS)
        return ev_dep != LX_BRK_EV_NONE ? ev_dep : ev_cred;
    return on_cred ? ev_cred : ev_dep;
}
