/* endpoint.c - the one driver every AI endpoint runs (a row of the table
 * in handlers.h), and the checks they share: key, body, model.
 *
 * Every step fills an lx_outcome_t instead of replying; a refusal ends in
 * lx_ai_refuse (refusal.c), a request that reaches a call ends in the
 * call's finalizer (call.c). */
#include "ai/allow_headers.h"
#include "ai/allow_lease.h"
#include "auth/budget_sync.h"
#include "ai/call.h"
#include "ai/catalog.h"
#include "ai/handlers.h"
#include "ai/signin.h"
#include "core/clock.h"
#include "core/crypto.h"
#include "core/json.h"

#include <stdio.h>
#include <stdlib.h>

bool lx_ai_model_name_valid(lx_str_t m)
{
    if (m.n == 0 || m.n > 200)
        return false;
    for (size_t i = 0; i < m.n; i++) {
        char c = m.p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("._:/+=@-", c)))
            return false;
    }
    return true;
}

void lx_ai_init(lx_ai_t *ai, const lx_config_t *cfg, lx_routing_t *routing, lx_upstream_t *up,
                lx_usage_sink_t *usage)
{
    ai->cfg = cfg;
    ai->routing = routing;
    ai->up = up;
    ai->up_ops = &lx_up_ops;
    ai->usage = usage;
    ai->has_admin = cfg->admin_key != NULL;
    if (ai->has_admin)
        lx_sha256(cfg->admin_key, strlen(cfg->admin_key), ai->admin_hash);
}

static bool unauthorized(lx_ai_t *ai, lx_outcome_t *o, const char *why)
{
    atomic_fetch_add_explicit(&ai->unauthenticated, 1, memory_order_relaxed);
    lx_outcome_fail(o, LX_SIDE_CLIENT, 0, LX_E_UNAUTHORIZED, NULL, "%s", why);
    return false;
}

/* A JWT bearer (signin.h): verified, its user and team found in the
 * snapshot; the request counts against their allowances. */
static bool begin_jwt(lx_ai_t *ai, lx_req_t *req, lx_str_t token, lx_ai_auth_t *a, lx_outcome_t *o)
{
    lx_jwt_result_t res;
    char msg[200];
    const char *why = msg;
    lx_signin_who_t who;
    if (lx_signin_verify(lx_signin(), token, lx_wall_ms() / 1000, &res, msg, sizeof msg) != LX_OK ||
        lx_signin_map(a->snap, &res, &who, &why) != LX_OK) {
        lx_ai_end(a);
        return unauthorized(ai, o, why);
    }
    a->allow = who.allow;
    a->spend = who.spend;
    memcpy(a->mls, who.mls, sizeof a->mls);
    a->user_id = who.user->id;
    a->team_id = who.team ? who.team->id : 0;
    snprintf(a->key_id, sizeof a->key_id, "user_%lld", (long long)who.user->id);
    lx_req_set_key_id(req, a->key_id);
    return true;
}

bool lx_ai_begin(lx_ai_t *ai, lx_req_t *req, lx_ai_auth_t *a, lx_outcome_t *o)
{
    memset(a, 0, sizeof *a);
    lx_str_t key = lx_req_api_key(req);
    if (key.n == 0)
        return unauthorized(ai, o, "missing API key (Authorization: Bearer ...)");
    a->snap = lx_registry_acquire();
    if (a->snap == NULL) {
        lx_outcome_fail(o, LX_SIDE_LLMUX, 0, LX_E_UNAVAILABLE, NULL,
                        "configuration not loaded yet");
        return false;
    }
    unsigned char h[32];
    lx_sha256(key.p, key.n, h);
    if (ai->has_admin) {
        /* Compare digests so the time taken does not depend on the key. */
        if (lx_ct_equal(h, ai->admin_hash, 32)) {
            lx_copy_cstr(a->key_id, sizeof a->key_id, "admin");
            lx_req_set_key_id(req, a->key_id);
            return true;
        }
    }
    if (lx_signin_looks_jwt(key))
        return begin_jwt(ai, req, key, a, o);
    const lx_apikey_t *k = lx_snapshot_key(a->snap, h);
    const char *why = NULL;
    if (k == NULL || !lx_ct_equal(k->hash, h, 32))
        why = "invalid API key";
    else if (!k->active)
        why = "this API key is disabled";
    else if (k->expires_ms && k->expires_ms <= lx_wall_ms())
        why = "this API key has expired";
    if (why) {
        lx_ai_end(a);
        return unauthorized(ai, o, why);
    }
    a->key = k;
    a->allow = k->allow;
    a->spend = k->spend;
    memcpy(a->mls, k->mls, sizeof a->mls);
    lx_copy_cstr(a->key_id, sizeof a->key_id, k->label);
    lx_req_set_key_id(req, a->key_id);
    return true;
}

void lx_ai_end(lx_ai_auth_t *a)
{
    lx_registry_release(a->snap);
    a->snap = NULL;
}

int lx_ai_guarded(lx_ai_t *ai, lx_req_t *req,
                  int (*body)(lx_ai_t *ai, lx_req_t *req, lx_ai_auth_t *a))
{
    lx_ai_auth_t a;
    lx_outcome_t o;
    if (!lx_ai_begin(ai, req, &a, &o)) {
        lx_ai_refuse(ai, req, &a, &o);
        return LX_OK;
    }
    int rc = body(ai, req, &a);
    lx_ai_end(&a);
    return rc;
}

json_t *lx_ai_parse_body(lx_req_t *req, lx_outcome_t *o)
{
    lx_str_t body = lx_req_body(req);
    char err[200];
    json_t *root = lx_json_parse(body.p, body.n, LX_JSON_MAX_DEPTH, err, sizeof err);
    if (root == NULL) {
        lx_outcome_fail(o, LX_SIDE_CLIENT, 0, LX_E_INVALID_JSON, NULL, "%s", err);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        lx_outcome_fail(o, LX_SIDE_CLIENT, 0, LX_E_BAD_REQUEST, NULL,
                        "request body must be a JSON object");
        return NULL;
    }
    return root;
}

bool lx_ai_resolve_model(lx_ai_auth_t *a, lx_str_t model, unsigned need, lx_resolved_t *t,
                         lx_outcome_t *o)
{
    a->model[0] = '\0';
    if (model.n == 0) {
        lx_outcome_fail(o, LX_SIDE_CLIENT, 0, LX_E_MISSING_FIELD, "model", "'model' is required");
        return false;
    }
    if (!lx_ai_model_name_valid(model)) {
        lx_outcome_fail(o, LX_SIDE_CLIENT, 0, LX_E_BAD_REQUEST, "model",
                        "'model' has characters a model name cannot");
        return false;
    }
    if (a->key && !lx_apikey_allows(a->key, model)) {
        lx_outcome_fail(o, LX_SIDE_CLIENT, 0, LX_E_FORBIDDEN, "model",
                        "this API key may not use model '%.*s'", (int)model.n, model.p);
        return false;
    }
    lx_resolve_rc_t rc = lx_resolve_model(a->snap, model, t);
    if (rc != LX_RESOLVE_OK) {
        lx_outcome_fail(o, LX_SIDE_CLIENT, 0, LX_E_MODEL_NOT_FOUND, "model",
                        rc == LX_RESOLVE_UNKNOWN_PROVIDER
                            ? "model '%.*s' not found: no such provider is configured"
                            : "model '%.*s' not found: use provider/model or a catalog model of "
                              "a configured provider",
                        (int)model.n, model.p);
        return false;
    }
    if ((t->caps & need) != need) {
        lx_outcome_fail(o, LX_SIDE_CLIENT, 0, LX_E_BAD_REQUEST, "model",
                        "model '%.*s' (provider %s) does not support this endpoint", (int)model.n,
                        model.p, t->prov->conf.name);
        return false;
    }
    lx_copy(a->model, sizeof a->model, model.p, model.n);
    return true;
}

int64_t lx_ai_estimate_tokens(size_t body_bytes)
{
    return (int64_t)(body_bytes / 4) + 1;
}

void lx_ai_model_scope(lx_ai_auth_t *a, lx_str_t sent, const lx_resolved_t *t)
{
    if (a->mls[0] == NULL && a->mls[1] == NULL && a->mls[2] == NULL)
        return;
    const lx_model_t *m = t->group ? NULL : t->model;
    for (int l = 0; l < LX_LEVELS; l++) {
        const lx_model_limit_t *e = lx_model_limits_match(a->mls[l], sent, m ? m->full_name : NULL,
                                                          m ? m->public_name : NULL);
        a->mlim[l] = e;
        a->allow.s[LX_LEVELS + l] = e ? e->allow : NULL;
        a->spend.s[LX_LEVELS + l] = e ? e->spend : NULL;
    }
}

/* Who subject idx of a request's sets is, for a refusal's message:
 * "this API key", "this key's user", "this user's team"..., and the model
 * entry's name (NULL for the owner's own limits). */
static const char *who_of(const lx_ai_auth_t *a, int idx, const char **model)
{
    int level = idx % LX_LEVELS;
    *model = idx >= LX_LEVELS && a->mlim[level] ? a->mlim[level]->name : NULL;
    return level == 0   ? "this API key"
           : level == 1 ? (a->key ? "this key's user" : "this user")
                        : (a->key ? "this key's team" : "this user's team");
}

/* The budgets of the request's levels and of their model entries
 * (budget.h): a 429 insufficient_quota naming the level (and the model)
 * while the period's spend is at or over one. Reads only; nothing to give
 * back. */
static bool within_budget(lx_ai_t *ai, const lx_ai_auth_t *a, lx_outcome_t *o)
{
    lx_budget_refusal_t r;
    int64_t now = lx_budget_now_ms();
    if (lx_budget_admit(&a->spend, now, &r))
        return true;
    atomic_fetch_add_explicit(&ai->budget_refusals[r.idx % LX_LEVELS], 1, memory_order_relaxed);
    const char *model, *who = who_of(a, r.idx, &model);
    lx_outcome_fail(o, LX_SIDE_LLMUX, 429, LX_E_BUDGET_EXCEEDED, NULL,
                    "budget exceeded for %s%s%s%s: spent $%.6f of $%.6f (%s)%s", who,
                    model ? " on model '" : "", model ? model : "", model ? "'" : "",
                    (double)r.spent / LX_NANO_USD, (double)r.budget / LX_NANO_USD,
                    lx_period_name(r.period),
                    r.reset_ms < 0 ? "" : "; it resets at the start of the next period");
    if (r.reset_ms >= 0)
        lx_outcome_retry_after_ms(o, r.reset_ms - now);
    return false;
}

/* The tokens a request is held to at admission (tpm): its prompt estimate
 * plus what it allows for the answer (max_tokens, else a default for
 * generating endpoints); settled with the real use at its end. */
static int32_t tokens_estimate(const lx_endpoint_t *ep, const lx_call_input_t *in)
{
    int64_t n = in->prompt_estimate > 0 ? in->prompt_estimate : lx_ai_estimate_tokens(in->body.n);
    if (in->max_tokens > 0)
        n += in->max_tokens;
    else if (ep->kind == LX_CALL_CHAT)
        n += LX_ALLOW_TPM_DEFAULT_OUT;
    return n > 100000000 ? 100000000 : (int32_t)n;
}

/* Budgets, then limits (handlers.h): the AI endpoints' admission and a
 * media task's submission (app/media_admit.c). */
bool lx_ai_admit(lx_ai_t *ai, lx_req_t *req, const lx_ai_auth_t *a, lx_allow_ticket_t *t,
                 lx_outcome_t *o)
{
    lx_allow_refusal_t r;
    const lx_allow_set_t *set = &a->allow;
    bool limited = false;
    for (int i = 0; i < LX_LIMIT_SUBJECTS; i++)
        limited |= set->s[i] != NULL;
    if (!within_budget(ai, a, o)) {
        if (limited)
            lx_allow_headers(req, set, t->at_ms);
        return false;
    }
    if (!limited)
        return true;
    bool ok = lx_allow_admit(set, t, ai->lease ? lx_allow_lease_ask : NULL, ai->lease, &r);
    lx_allow_headers(req, set, t->at_ms);
    if (ok)
        return true;
    atomic_fetch_add_explicit(&ai->limit_refusals[r.idx % LX_LEVELS][r.per], 1,
                              memory_order_relaxed);
    const char *model, *who = who_of(a, r.idx, &model);
    if (r.per == LX_ALLOW_PAR)
        lx_outcome_fail(o, LX_SIDE_LLMUX, 429, LX_E_RATE_LIMITED, NULL,
                        "rate limit reached for %s: %d requests in flight at most", who, r.limit);
    else
        lx_outcome_fail(o, LX_SIDE_LLMUX, 429, LX_E_RATE_LIMITED, NULL,
                        "rate limit reached for %s%s%s%s: %d %s per %s%s", who,
                        model ? " on model '" : "", model ? model : "", model ? "'" : "", r.limit,
                        r.per == LX_ALLOW_TOK ? "tokens" : "requests",
                        r.per == LX_ALLOW_DAY ? "day" : "minute",
                        r.waiting ? " here for now (more allowance is on its way)" : "");
    lx_outcome_retry_after_ms(o, r.retry_after_s * 1000);
    return false;
}

int lx_ai_endpoint(lx_ai_t *ai, lx_req_t *req, const lx_endpoint_t *ep)
{
    int64_t t0 = lx_now_us();
    lx_ai_auth_t a;
    lx_outcome_t out;
    if (!lx_ai_begin(ai, req, &a, &out)) {
        lx_ai_refuse(ai, req, &a, &out);
        return LX_OK;
    }
    a.feature = ep->feature;
    lx_call_input_t in = {.body = lx_req_body(req)};
    lx_resolved_t t;
    lx_target_t targets[LX_CALL_MAX_TARGETS];
    int ntargets = 0;
    lx_call_opts_t o = {
        .ai = ai,
        .req = req,
        .client = ep->wire,
        .kind = ep->kind,
        .feature = ep->feature,
        .key_id = a.key_id,
        .api_key_id = a.key ? a.key->id : 0,
        .user_id = a.user_id,
        .team_id = a.team_id,
        .t_handler_start = t0,
        .build = ep->build,
    };
    unsigned need = ep->need;
    lx_allow_ticket_t ticket = {.at_ms = lx_wall_ms()};
    bool admitted = false;
    if (ep->read(req, &in, &out) != LX_OK ||
        !lx_ai_resolve_model(&a, in.model, need |= in.need, &t, &out) ||
        (ep->check && ep->check(&in, &t, &out) != LX_OK) ||
        (lx_ai_model_scope(&a, in.model, &t), (ticket.tokens = tokens_estimate(ep, &in)),
         !(admitted = lx_ai_admit(ai, req, &a, &ticket, &out))) ||
        (ntargets = lx_call_targets(req, &ai->routing->conf, a.snap, &t, need, in.prompt_estimate,
                                    in.max_tokens, targets, LX_CALL_MAX_TARGETS, &out)) == 0) {
        if (admitted)
            lx_allow_release(&a.allow, &ticket);
        json_decref(in.root);
        json_decref(in.canon);
        lx_ai_refuse(ai, req, &a, &out);
        return LX_OK;
    }
    o.stream = in.stream;
    o.client_usage = in.client_usage;
    o.input_tokens_estimate = in.prompt_estimate;
    o.in = in;
    o.snap = a.snap; /* the call's from here on */
    o.allow = a.allow;
    o.spend = a.spend;
    o.allow_ticket = ticket;
    lx_copy_cstr(o.requested_model, sizeof o.requested_model, a.model);
    return lx_call_run(&o, targets, ntargets);
}

/* The endpoint table: every AI endpoint the driver runs, in route order. */
static const lx_endpoint_t *const endpoints[] = {
    &lx_endpoint_chat,
    &lx_endpoint_messages,
    &lx_endpoint_embed,
    &lx_endpoint_images,
};

_Static_assert(LX_ARRAY_LEN(endpoints) <= LX_AI_MAX_ENDPOINTS, "raise LX_AI_MAX_ENDPOINTS");

static int endpoint_handler(lx_req_t *req, void *arg)
{
    const lx_ai_binding_t *b = arg;
    return lx_ai_endpoint(b->ai, req, b->ep);
}

size_t lx_ai_routes(lx_ai_t *ai, lx_route_t *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < LX_ARRAY_LEN(endpoints); i++) {
        const lx_endpoint_t *ep = endpoints[i];
        ai->bindings[i] = (lx_ai_binding_t){.ai = ai, .ep = ep};
        for (int k = 0; k < 3 && ep->paths[k] && n < cap; k++)
            out[n++] = (lx_route_t){"POST", ep->paths[k], endpoint_handler, &ai->bindings[i],
                                    ep->wire == LX_FMT_ANTHROPIC ? LX_ROUTE_ANTHROPIC_ERRORS : 0};
    }
    return n;
}
