/* call_targets.c - the ordered targets of one request: a group's members in
 * its strategy's order, or the candidates of a model (every credential of
 * every provider that serves it) through the strategy chain. Refusals when
 * none can take the request are answered here, in the client's shape. */
#include "ai/call.h"
#include "core/clock.h"
#include "ai/routing/chain.h"
#include "ai/routing/limits.h"
#include "ai/routing/state.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Routing tunables and the global retry budget, set once at start-up
 * (lx_call_routing_init) and read by every call. */
static lx_route_conf_t route_conf;
static lx_retry_budget_t retry_budget;

lx_retry_budget_t *lx_call_retry_budget(void)
{
    return &retry_budget;
}

const lx_route_conf_t *lx_call_route_conf(void)
{
    return &route_conf;
}

void lx_call_routing_init(const lx_config_t *cfg)
{
    lx_route_conf_default(&route_conf);
    route_conf.breaker.failure_threshold = (uint32_t)cfg->breaker_failures;
    if (cfg->breaker_failures == 0)
        route_conf.breaker.failure_ratio = 0; /* breakers off */
    route_conf.breaker.open_ms = cfg->breaker_open_ms;
    route_conf.cooling_cap_ms = cfg->cooling_cap_ms > 0 ? cfg->cooling_cap_ms : -1; /* 0: off */
    if (cfg->cooling_cap_ms > 0 && route_conf.cooling_default_ms > cfg->cooling_cap_ms)
        route_conf.cooling_default_ms = cfg->cooling_cap_ms;
    route_conf.backoff.max_same = cfg->retry_same;
    route_conf.auth_hold_ms = cfg->auth_hold_ms;
    lx_retry_budget_init(&retry_budget, LX_RETRY_RATIO_DEFAULT, LX_RETRY_CAP_DEFAULT,
                         LX_RETRY_CAP_DEFAULT);
    lx_route_state_init(0);
}

/* How long a target still cools: until both its credential and its
 * deployment stop cooling. */
static int64_t cooling_left(const lx_route_state_t *cred, const lx_route_state_t *dep, int64_t now)
{
    return LX_MAX(lx_cooling_left_ms(cred, now), lx_cooling_left_ms(dep, now));
}

static void set_retry_after_ms(lx_req_t *req, int64_t best)
{
    char v[24];
    snprintf(v, sizeof v, "%lld", (long long)(best > 0 ? (best + 999) / 1000 : 1));
    lx_req_set_header(req, "Retry-After", v);
}

void lx_call_set_retry_after(lx_req_t *req, const lx_call_target_t *t, int n)
{
    int64_t now = lx_wall_ms(), best = -1;
    for (int i = 0; i < n; i++) {
        int64_t left = cooling_left(t[i].state, t[i].dep, now);
        if (left > 0 && (best < 0 || left < best))
            best = left;
    }
    set_retry_after_ms(req, best);
}

/* No member of group g can take the request. */
static void no_target_reply(lx_req_t *req, const lx_group_entry_t *g, const lx_route_excl_t *excl)
{
    lx_route_why_t why;
    lx_err_t e = lx_route_error(excl, g->ntargets, &why);
    char msg[300];
    snprintf(msg, sizeof msg, "no upstream can take this request now: %s",
             lx_route_why_info(why)->message);
    if (e == LX_E_RATE_LIMITED) { /* the soonest end of a member's cooling */
        int64_t now = lx_wall_ms(), best = -1;
        for (int i = 0; i < g->sel.nmembers; i++) {
            int64_t left = cooling_left(g->sel.members[i].cred, g->sel.members[i].dep, now);
            if (left > 0 && (best < 0 || left < best))
                best = left;
        }
        set_retry_after_ms(req, best);
    }
    lx_req_reply_error(req, e, msg, NULL);
}

/* A group: its strategy orders the members; the rest are the fallbacks. */
static int group_targets(lx_req_t *req, const lx_group_entry_t *g, lx_call_target_t *out, int max)
{
    lx_rng_t rng;
    lx_str_t rid = lx_req_id(req);
    lx_rng_seed(&rng, (uint64_t)lx_now_us() ^ lx_hash(rid.p, rid.n));
    uint16_t order[LX_CALL_MAX_TARGETS];
    lx_route_excl_t excl;
    memset(&excl, 0, sizeof excl);
    int k = lx_group_order(&g->sel, &route_conf, lx_wall_ms(), &rng, order,
                           LX_MIN(max, LX_CALL_MAX_TARGETS), &excl);
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
    if (k <= 0) {
        no_target_reply(req, g, &excl);
        return 0;
    }
    for (int i = 0; i < k; i++) {
        const lx_group_target_t *gt = &g->targets[order[i]];
        lx_call_target_t *o = &out[i];
        memset(o, 0, sizeof *o);
        o->prov = gt->prov;
        o->cred = gt->cred;
        o->model = gt->model;
        lx_copy_cstr(o->upstream_model, sizeof o->upstream_model, gt->upstream_name);
        o->conf = gt->prov->conf;
        o->conf.api_key = gt->cred ? gt->cred->api_key : NULL;
        o->state = g->sel.members[order[i]].cred;
        o->dep = g->sel.members[order[i]].dep;
        o->stats = g->sel.members[order[i]].stats;
    }
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

static int sources_of(const lx_snapshot_t *snap, const lx_target_t *t, source_t *src, int max)
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

static void source_fill(lx_call_target_t *o, const source_t *sc, const lx_credential_t *cred,
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

int lx_call_targets(lx_ai_t *ai, lx_req_t *req, const lx_snapshot_t *snap, const lx_target_t *t,
                    unsigned need, int64_t prompt_tokens, int64_t max_tokens, lx_call_target_t *out,
                    int max)
{
    if (t->group)
        return group_targets(req, t->group, out, max);
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
    int k = lx_chain_order(cands, n, &rq, &route_conf, lx_wall_ms(), &rng, order, LX_MIN(max, n),
                           &excl);
    if (k <= 0) {
        lx_route_why_t why;
        lx_err_t e = lx_route_error(&excl, n, &why);
        char msg[300];
        if (why == LX_WHY_CONTEXT) {
            /* not a passing state: say what would fit */
            int64_t largest = 0;
            for (int i = 0; i < n; i++)
                largest = LX_MAX(largest, cands[i].context_window);
            snprintf(msg, sizeof msg,
                     "the prompt (about %lld tokens) plus max_tokens (%lld) exceed every target's "
                     "context window; the largest is %lld tokens",
                     (long long)prompt_tokens, (long long)max_tokens, (long long)largest);
        } else {
            snprintf(msg, sizeof msg, "no upstream can take this request%s: %s",
                     e == LX_E_RATE_LIMITED || e == LX_E_UNAVAILABLE ? " now" : "",
                     lx_route_why_info(why)->message);
        }
        if (e == LX_E_RATE_LIMITED) {
            lx_call_target_t tmp[LX_CALL_MAX_TARGETS];
            for (int i = 0; i < n; i++)
                source_fill(&tmp[i], &src[of[i]], creds[i], &cands[i]);
            lx_call_set_retry_after(req, tmp, n);
        }
        lx_req_reply_error(req, e, msg, NULL);
        return 0;
    }
    for (int i = 0; i < k; i++)
        source_fill(&out[i], &src[of[order[i]]], creds[order[i]], &cands[order[i]]);
    return k;
}
