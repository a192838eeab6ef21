/* attempt.c - eligibility, attempt begin / end. */
#include "ai/routing/attempt.h"

lx_route_why_t lx_route_check(const lx_conn_state_t *st, const lx_route_conf_t *c, int64_t now_ms,
                              int rpm, int rpd)
{
    if (!st)
        return LX_WHY_OK;
    if (lx_conn_auth_flagged(st, now_ms))
        return LX_WHY_AUTH_FAILED;
    if (lx_cooling_active(st, now_ms))
        return LX_WHY_COOLING;
    if (!lx_breaker_would_allow(st, &c->breaker, now_ms))
        return LX_WHY_BREAKER_OPEN;
    if ((rpm > 0 || rpd > 0) && lx_limits_check(st, now_ms, rpm, rpd) != LX_LIMIT_OK)
        return LX_WHY_RATE_LIMITED;
    return LX_WHY_OK;
}

/* The connection's error in an attempt's verdict, or NONE for a success or a
 * result that says nothing about the connection (the client left, a 4xx of
 * the client's own). 429 / quota and 401 / 403 count as errors of the
 * connection although the breaker leaves them to cooling and the auth flag. */
static lx_conn_err_t error_kind(const lx_verdict_t *v)
{
    if (!v)
        return LX_CONN_ERR_NONE;
    if (v->cls == LX_FAIL_ROTATE)
        return LX_CONN_ERR_RATE_LIMITED;
    if (v->cls == LX_FAIL_FLAG_AUTH)
        return LX_CONN_ERR_AUTH;
    if (v->breaker != LX_BRK_FAILURE)
        return LX_CONN_ERR_NONE;
    switch (v->err) {
    case LX_E_UPSTREAM_TIMEOUT:
    case LX_E_REQUEST_TIMEOUT:
        return LX_CONN_ERR_TIMEOUT;
    case LX_E_UNAVAILABLE:
        return LX_CONN_ERR_UNAVAILABLE;
    default:
        return LX_CONN_ERR_UPSTREAM;
    }
}

lx_route_why_t lx_attempt_begin(lx_attempt_t *a, lx_conn_state_t *conn, lx_conn_state_t *stats,
                                int rpm, int rpd, const lx_route_conf_t *c, int64_t now_ms)
{
    *a = (lx_attempt_t){.conn = conn, .stats = stats == conn ? NULL : stats};
    if (conn) {
        if (lx_conn_auth_flagged(conn, now_ms))
            return LX_WHY_AUTH_FAILED;
        if (lx_cooling_active(conn, now_ms))
            return LX_WHY_COOLING;
        lx_breaker_verdict_t bv = lx_breaker_allow(conn, &c->breaker, now_ms, &a->gen);
        if (bv == LX_BRK_DENIED)
            return LX_WHY_BREAKER_OPEN;
        a->probe = bv == LX_BRK_PROBE;
        if ((rpm > 0 || rpd > 0) && lx_limits_take(conn, now_ms, rpm, rpd) != LX_LIMIT_OK) {
            lx_breaker_release(conn, a->gen);
            return LX_WHY_RATE_LIMITED;
        }
    }
    lx_conn_inflight_acquire(conn);
    lx_conn_inflight_acquire(a->stats);
    a->active = true;
    return LX_WHY_OK;
}

lx_breaker_event_t lx_attempt_end(lx_attempt_t *a, const lx_route_conf_t *c, const lx_verdict_t *v,
                                  int64_t ttfb_us, const char *retry_after, int64_t now_ms)
{
    if (!a->active)
        return LX_BRK_EV_NONE;
    a->active = false;
    lx_conn_state_t *conn = a->conn;
    lx_conn_inflight_release(conn);
    lx_conn_inflight_release(a->stats);
    if (ttfb_us >= 0) {
        lx_conn_ttfb_update(conn, ttfb_us);
        lx_conn_ttfb_update(a->stats, ttfb_us);
    }
    lx_brk_effect_t eff = v ? v->breaker : LX_BRK_NEUTRAL;
    lx_breaker_event_t ev = LX_BRK_EV_NONE;
    if (!conn)
        return ev;
    if (eff == LX_BRK_NEUTRAL)
        lx_breaker_release(conn, a->gen);
    else
        ev = lx_breaker_record(conn, &c->breaker, eff == LX_BRK_SUCCESS, a->gen, now_ms);
    lx_conn_count(conn, eff == LX_BRK_SUCCESS, error_kind(v), now_ms);
    if (v && v->cls == LX_FAIL_ROTATE)
        lx_cooling_set(conn, now_ms, retry_after, c->cooling_default_ms, c->cooling_cap_ms);
    else if (v && v->cls == LX_FAIL_FLAG_AUTH)
        lx_conn_flag_auth(conn, now_ms, c->auth_hold_ms);
    return ev;
}
