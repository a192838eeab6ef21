/* route.c - routing defaults and the exclusion reasons table. */
#include "ai/routing/route.h"

void lx_route_conf_default(lx_route_conf_t *c)
{
    memset(c, 0, sizeof *c);
    lx_breaker_conf_default(&c->breaker);
    lx_backoff_conf_default(&c->backoff);
    c->cooling_default_ms = LX_COOLING_DEFAULT_MS;
    c->cooling_cap_ms = LX_COOLING_CAP_MS;
    c->auth_hold_ms = 300000;
}

static const lx_route_why_info_t why_table[LX_WHY__COUNT] = {
    [LX_WHY_OK] = {"ok", "eligible"},
    [LX_WHY_BREAKER_OPEN] = {"breaker_open", "the upstream is failing (circuit breaker open)"},
    [LX_WHY_COOLING] = {"cooling", "the upstream asked us to slow down (cooling after 429)"},
    [LX_WHY_RATE_LIMITED] = {"rate_limited", "the credential's request limit is reached"},
    [LX_WHY_AUTH_FAILED] = {"auth_failed", "the upstream rejected the credential"},
    [LX_WHY_MODEL_DENIED] = {"model_denied",
                             "the upstream refused this credential access to the model (403)"},
    [LX_WHY_NOT_ALLOWED] = {"provider_not_allowed", "this API key may not use that provider"},
    [LX_WHY_PROVIDER] = {"provider_mismatch", "no target of the requested provider"},
    [LX_WHY_CAPABILITY] = {"capability", "no target supports what the request needs"},
    [LX_WHY_CONTEXT] = {"context_window",
                        "the prompt plus max_tokens exceed every target's context window"},
};

const lx_route_why_info_t *lx_route_why_info(lx_route_why_t w)
{
    if ((unsigned)w >= LX_WHY__COUNT)
        w = LX_WHY_OK;
    return &why_table[w];
}

lx_err_t lx_route_error(const lx_route_excl_t *x, int ncand, lx_route_why_t *why)
{
    const uint16_t *n = x->n;
    lx_route_why_t w;
    lx_err_t e;
    int failed_static =
        n[LX_WHY_NOT_ALLOWED] + n[LX_WHY_PROVIDER] + n[LX_WHY_CAPABILITY] + n[LX_WHY_CONTEXT];
    if (ncand <= 0) {
        w = LX_WHY_OK;
        e = LX_E_MODEL_NOT_FOUND;
    } else if (failed_static < ncand) {
        /* some target passed the static filters: health took the rest */
        if (n[LX_WHY_BREAKER_OPEN] || n[LX_WHY_AUTH_FAILED] || n[LX_WHY_MODEL_DENIED]) {
            w = n[LX_WHY_BREAKER_OPEN]  ? LX_WHY_BREAKER_OPEN
                : n[LX_WHY_AUTH_FAILED] ? LX_WHY_AUTH_FAILED
                                        : LX_WHY_MODEL_DENIED;
            e = LX_E_UNAVAILABLE;
        } else {
            w = n[LX_WHY_RATE_LIMITED] ? LX_WHY_RATE_LIMITED : LX_WHY_COOLING;
            e = LX_E_RATE_LIMITED;
        }
    } else if (n[LX_WHY_CONTEXT] || n[LX_WHY_CAPABILITY]) {
        /* targets matched the preferences but none can serve this request */
        w = n[LX_WHY_CONTEXT] ? LX_WHY_CONTEXT : LX_WHY_CAPABILITY;
        e = LX_E_BAD_REQUEST;
    } else if (n[LX_WHY_PROVIDER]) {
        w = LX_WHY_PROVIDER;
        e = LX_E_MODEL_NOT_FOUND;
    } else {
        w = LX_WHY_NOT_ALLOWED;
        e = LX_E_FORBIDDEN;
    }
    if (why)
        *why = w;
    return e;
}
