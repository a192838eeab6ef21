/* call_targets.c - the ordered targets of one request: a group's members in
 * its strategy's order, or the candidates of a model (every credential of
 * every provider that serves it) through the strategy chain. Refusals when
 * none can take the request are outcomes (lx_call_no_target), rendered by
 * whoever ends the request. */
#include "ai/call.h"
#include "core/clock.h"
#include "ai/routing/chain.h"
#include "ai/routing/limits.h"
#include "ai/routing/state.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

void lx_routing_init(lx_routing_t *r, const lx_config_t *cfg)
{
    lx_route_conf_t *rc = &r->conf;
    lx_route_conf_default(rc);
    rc->breaker.failure_threshold = (uint32_t)cfg->breaker_failures;
    if (cfg->breaker_failures == 0)
        rc->breaker.failure_ratio = 0; /* breakers off */
    rc->breaker.open_ms = cfg->breaker_open_ms;
    rc->cooling_cap_ms = cfg->cooling_cap_ms > 0 ? cfg->cooling_cap_ms : -1; /* 0: off */
    if (cfg->cooling_cap_ms > 0 && rc->cooling_default_ms > cfg->cooling_cap_ms)
        rc->cooling_default_ms = cfg->cooling_cap_ms;
    rc->backoff.max_same = cfg->retry_same;
    rc->auth_hold_ms = cfg->auth_hold_ms;
    lx_retry_budget_init(&r->budget, LX_RETRY_RATIO_DEFAULT, LX_RETRY_CAP_DEFAULT,
                         LX_RETRY_CAP_DEFAULT);
}

/* How long target t cannot take a request: until both its credential and
 * its deployment stop cooling, and, when its credential used up a rate
 * window, until that window ends. 0: it could now. */
static int64_t wait_ms(const lx_target_t *t, int64_t now)
{
    int64_t w = LX_MAX(lx_cooling_left_ms(t->state, now), lx_cooling_left_ms(t->dep, now));
    int rpm = t->cred ? t->cred->rate_limit_per_minute : 0;
    int rpd = t->cred ? t->cred->rate_limit_per_day : 0;
    if (t->state && (rpm > 0 || rpd > 0)) {
        lx_limit_rc_t rc = lx_limits_check(t->state, now, rpm, rpd);
        if (rc == LX_LIMIT_MINUTE)
            w = LX_MAX(w, 60000 - now % 60000);
        else if (rc == LX_LIMIT_DAY)
            w = LX_MAX(w, 86400000 - now % 86400000);
    }
    return w;
}

void lx_call_no_target(lx_outcome_t *o, const lx_route_excl_t *excl, int ncand,
                       const lx_target_t *t, int n)
{
    lx_route_why_t why;
    lx_err_t e = lx_route_error(excl, ncand, &why);
    bool now = e == LX_E_RATE_LIMITED || e == LX_E_UNAVAILABLE;
    lx_outcome_fail(o, now ? LX_SIDE_LLMUX : LX_SIDE_CLIENT, 0, e, NULL,
                    "no upstream can take this request%s: %s", now ? " now" : "",
                    lx_route_why_info(why)->message);
    if (e == LX_E_RATE_LIMITED) {
        int64_t ms = lx_wall_ms(), best = -1;
        for (int i = 0; i < n; i++) {
            int64_t left = wait_ms(&t[i], ms);
            if (left > 0 && (best < 0 || left < best))
                best = left;
        }
        lx_outcome_retry_after_ms(o, best);
    }
}

/* A group: its strategy orders the members; the rest are the fallbacks. */
static int group_targets(lx_req_t *req, const lx_route_conf_t *rc, const lx_group_entry_t *g,
                         lx_target_t *out, int max, lx_outcome_t *oc)
{
    lx_rng_t rng;
    lx_str_t rid = lx_req_id(req);
    lx_rng_seed(&rng, (uint64_t)lx_now_us() ^ lx_hash(rid.p, rid.n));
    uint16_t order[LX_CALL_MAX_TARGETS];
    lx_route_excl_t excl;
    memset(&excl, 0, sizeof excl);
    int k = lx_group_order(&g->sel, rc, lx_wall_ms(), &rng, order, LX_MIN(max, LX_CALL_MAX_TARGETS),
                           &excl);
    /* x-llmux-provider: the caller's preferred provider(s) among the members */
    const char *pref = lx_req_hdr(req, LX_HDR_LLMUX_PROVIDER);
    if (pref && pref[0] && k > 0) {
        int kept = 0;
        for (int i = 0; i < k; i++)
            if (lx_chain_in_list(lx_str(pref), lx_str(g->targets[order[i]].prov->conf.name)))
                order[kept++] = order[i];
        if (kept == 0)
            excl.n[LX_WHY_PROVIDER] += (uint16_t)k;
        k = kept;
    }
    if (k <= 0) { /* Retry-After: the soonest end over every member */
        lx_call_no_target(oc, &excl, g->ntargets, g->targets, g->ntargets);
        return 0;
    }
    for (int i = 0; i < k; i++)
        out[i] = g->targets[order[i]];
    return k;
}

/* Where a non-group request may go: the resolved model, or, for a bare
 * public name, every active model with that name (so that routing can pick
 * among providers: cheapest first when asked, healthy first always). */
typedef struct {
    const lx_provider_t *prov;
    const lx_model_t *model;
    const char *upstream;
} source_t;

static int sources_of(const lx_snapshot_t *snap, const lx_resolved_t *t, source_t *src, int max)
{
    if (!t->bare || t->model == NULL) {
        src[0] = (source_t){t->prov, t->model, t->upstream_model};
        return 1;
    }
    int n = 0;
    for (int i = 0; i < snap->nmodels && n < max; i++) {
        const lx_model_t *m = &snap->models[i];
        if (m->active && m->provider->active && strcmp(m->public_name, t->model->public_name) == 0)
            src[n++] = (source_t){m->provider, m, m->upstream_name};
    }
    return n;
}

static void source_fill(lx_target_t *o, const source_t *sc, const lx_credential_t *cred,
                        const lx_candidate_t *cand)
{
    memset(o, 0, sizeof *o);
    o->prov = sc->prov;
    o->cred = cred;
    o->model = sc->model;
    lx_copy_cstr(o->upstream_model, sizeof o->upstream_model, sc->upstream);
    o->conf = sc->prov->conf;
    o->conf.api_key = cred ? cred->api_key : NULL;
    o->state = cand->cred;
    o->dep = cand->dep;
}

int lx_call_targets(lx_req_t *req, const lx_route_conf_t *rc, const lx_snapshot_t *snap,
                    const lx_resolved_t *t, unsigned need, int64_t prompt_tokens,
                    int64_t max_tokens, lx_target_t *out, int max, lx_outcome_t *oc)
{
    if (t->group)
        return group_targets(req, rc, t->group, out, max, oc);
    source_t src[LX_CALL_MAX_TARGETS];
    int nsrc = sources_of(snap, t, src, LX_CALL_MAX_TARGETS);
    lx_candidate_t cands[LX_CALL_MAX_TARGETS];
    const lx_credential_t *creds[LX_CALL_MAX_TARGETS];
    int of[LX_CALL_MAX_TARGETS]; /* the source of each candidate */
    int n = 0;
    for (int s_i = 0; s_i < nsrc && n < LX_CALL_MAX_TARGETS; s_i++) {
        const source_t *sc = &src[s_i];
        unsigned caps = lx_provider_caps(sc->prov->conf.kind) & (sc->model ? sc->model->caps : ~0u);
        lx_candidate_t base = {
            .provider = lx_str(sc->prov->conf.name),
            .caps = nsrc == 1 ? t->caps : caps,
            .context_window = sc->model ? sc->model->context_window : 0,
            .input_per_1m = sc->model ? sc->model->input_per_1m : 0,
            .output_per_1m = sc->model ? sc->model->output_per_1m : 0,
            .weight = 1,
        };
        int before = n;
        for (int i = 0; i < sc->prov->ncreds && n < LX_CALL_MAX_TARGETS; i++) {
            const lx_credential_t *cr = &sc->prov->creds[i];
            if (!cr->active)
                continue;
            creds[n] = cr;
            of[n] = s_i;
            cands[n] = base;
            cands[n].target = cr;
            cands[n].cred_id = cr->id;
            cands[n].priority = cr->priority;
            cands[n].weight = cr->weight > 0 ? cr->weight : 1;
            cands[n].rpm = cr->rate_limit_per_minute;
            cands[n].rpd = cr->rate_limit_per_day;
            cands[n].cred = lx_cred_state_get(cr->id);
            /* the deployment: hashed here because a request may name a model
             * the catalog does not hold (inserted only below half the table) */
            cands[n].dep = lx_deploy_state_use(cr->id, lx_str(sc->upstream));
            n++;
        }
        if (n == before && n < LX_CALL_MAX_TARGETS) { /* keyless: one untracked target */
            creds[n] = NULL;
            of[n] = s_i;
            cands[n++] = base;
        }
    }
    const char *pref = lx_req_hdr(req, LX_HDR_LLMUX_PROVIDER);
    const char *route = lx_req_hdr(req, LX_HDR_LLMUX_ROUTE);
    lx_route_request_t rq = {.need_caps = need,
                             .prompt_tokens = prompt_tokens,
                             .max_tokens = max_tokens,
                             .header_providers = pref ? lx_str(pref) : LX_NULL_STR,
                             .optimize_cost = route && strcasecmp(route, "cheapest") == 0};
    lx_rng_t rng;
    lx_str_t rid = lx_req_id(req);
    lx_rng_seed(&rng, (uint64_t)lx_now_us() ^ lx_hash(rid.p, rid.n));
    uint16_t order[LX_CALL_MAX_TARGETS];
    lx_route_excl_t excl;
    memset(&excl, 0, sizeof excl);
    int k = lx_chain_order(cands, n, &rq, rc, lx_wall_ms(), &rng, order, LX_MIN(max, n), &excl);
    if (k <= 0) {
        lx_route_why_t why;
        lx_route_error(&excl, n, &why);
        if (why == LX_WHY_CONTEXT) { /* not a passing state: say what would fit */
            int64_t largest = 0;
            for (int i = 0; i < n; i++)
                largest = LX_MAX(largest, cands[i].context_window);
            lx_outcome_fail(oc, LX_SIDE_CLIENT, 0, lx_route_error(&excl, n, NULL), NULL,
                            "the prompt (about %lld tokens) plus max_tokens (%lld) exceed every "
                            "target's context window; the largest is %lld tokens",
                            (long long)prompt_tokens, (long long)max_tokens, (long long)largest);
            return 0;
        }
        lx_target_t tmp[LX_CALL_MAX_TARGETS];
        for (int i = 0; i < n; i++)
            source_fill(&tmp[i], &src[of[i]], creds[i], &cands[i]);
        lx_call_no_target(oc, &excl, n, tmp, n);
        return 0;
    }
    for (int i = 0; i < k; i++)
        source_fill(&out[i], &src[of[order[i]]], creds[order[i]], &cands[order[i]]);
    return k;
}
