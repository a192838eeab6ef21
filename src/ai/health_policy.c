/* health_policy.c - the health monitor's decisions (see health_policy.h). */
#include "ai/health_policy.h"
#include "ai/routing/limits.h"

bool lx_health_probe_due(const lx_health_conn_t *c, bool active, int nprobes, int max_probes,
                         const lx_route_state_t *st, const lx_breaker_conf_t *brk, int64_t now_ms)
{
    return active && !c->probing && nprobes < max_probes && now_ms >= c->next_probe_ms &&
           lx_breaker_state(st) != LX_BRK_CLOSED && !lx_cooling_active(st, now_ms) &&
           !lx_state_auth_flagged(st, now_ms) && lx_breaker_would_allow(st, brk, now_ms);
}

bool lx_health_probe_claim(lx_route_state_t *st, const lx_breaker_conf_t *brk, int rpm, int rpd,
                           int64_t now_ms, uint32_t *gen)
{
    if (lx_breaker_allow(st, brk, now_ms, gen) != LX_BRK_PROBE)
        return false; /* closed meanwhile (ALLOWED takes nothing), or traffic took the slot */
    if ((rpm > 0 || rpd > 0) && lx_limits_take(st, now_ms, rpm, rpd) != LX_LIMIT_OK) {
        lx_breaker_release(st, *gen);
        return false;
    }
    return true;
}

void lx_health_probe_unclaim(lx_route_state_t *st, int rpm, int rpd, int64_t now_ms, uint32_t gen)
{
    lx_breaker_release(st, gen);
    if (rpm > 0 || rpd > 0)
        lx_limits_give_back(st, now_ms, rpm, rpd);
}

lx_probe_verdict_t lx_health_probe_verdict(bool models, const lx_attempt_facts_t *facts)
{
    int s = facts->status;
    if (models && s >= 400 && s < 500 && s != 401 && s != 403 && s != 408 && s != 429)
        return LX_PROBE_TRY_CHAT; /* no models list here (404, 405, ...) */
    lx_verdict_t v = lx_failure_classify(facts);
    if (v.breaker == LX_BRK_SUCCESS)
        return LX_PROBE_CLOSE;
    if (v.breaker == LX_BRK_FAILURE || v.cls == LX_FAIL_FLAG_AUTH)
        return LX_PROBE_REOPEN;
    /* 429, a 4xx: the credential answered but said nothing of its health */
    return LX_PROBE_INCONCLUSIVE;
}

lx_breaker_event_t lx_health_probe_apply(lx_probe_verdict_t v, lx_health_conn_t *c,
                                         lx_route_state_t *st, const lx_breaker_conf_t *brk,
                                         uint32_t gen, int64_t now_ms)
{
    lx_breaker_event_t ev = LX_BRK_EV_NONE;
    switch (v) {
    case LX_PROBE_TRY_CHAT:
        lx_breaker_release(st, gen);
        if (c)
            c->no_models = true;
        break;
    case LX_PROBE_CLOSE:
        ev = lx_breaker_record(st, brk, true, gen, now_ms);
        if (ev == LX_BRK_EV_CLOSED && c) {
            c->seen_open = false;
            c->failed_probes = 0;
        }
        break;
    case LX_PROBE_REOPEN:
        ev = lx_breaker_record(st, brk, false, gen, now_ms);
        if (c)
            c->failed_probes++;
        break;
    case LX_PROBE_INCONCLUSIVE:
        /* leave the slot to traffic and look again after an open period */
        lx_breaker_release(st, gen);
        if (c)
            c->next_probe_ms = now_ms + brk->open_ms;
        break;
    }
    return ev;
}

bool lx_health_delta(const lx_health_totals_t *written, const lx_health_totals_t *now,
                     lx_health_delta_t *d)
{
    if (now->ok == written->ok && now->fail == written->fail && now->used_ms == written->used_ms &&
        now->err_ms == written->err_ms)
        return false;
    d->add_ok = now->ok - written->ok;
    d->add_fail = now->fail - written->fail;
    d->used_ms = now->used_ms > written->used_ms ? now->used_ms : 0;
    d->err_ms = now->err_ms > written->err_ms ? (int64_t)now->err_ms : 0;
    return true;
}
