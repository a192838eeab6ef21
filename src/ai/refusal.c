/* refusal.c - the usage row of a request llmux refused itself once the
 * caller's key was known (403 model not allowed, 404 unknown model, 400
 * invalid body, 429/503 local limits and cooling): zero tokens, the status
 * and error code the client saw, so denied attempts per key are visible.
 * Requests that reached a call record their own row (call.c). Both come
 * from the request's lx_outcome_t: what was rendered is what is recorded. */
#include "ai/body.h"
#include "ai/call.h"
#include "ai/catalog.h"
#include "ai/handlers.h"
#include "core/clock.h"
#include "obs/metrics.h"

#include <stdio.h>

/* The client's "model" when the body is a complete object whose "model" is
 * a plain string that is a valid model name (else empty). */
static lx_str_t requested_model(lx_req_t *req)
{
    lx_str_t body = lx_req_body(req);
    const char *keys[1] = {"model"};
    size_t vs[1], ve[1];
    if (body.n == 0 || !lx_body_scan(body.p, body.n, keys, 1, vs, ve) || ve[0] == 0)
        return LX_NULL_STR;
    if (ve[0] - vs[0] < 2 || body.p[vs[0]] != '"' || body.p[ve[0] - 1] != '"')
        return LX_NULL_STR;
    lx_str_t m = {body.p + vs[0] + 1, ve[0] - vs[0] - 2};
    return lx_ai_model_name_valid(m) ? m : LX_NULL_STR;
}

static void record(lx_ai_t *ai, lx_req_t *req, const lx_ai_auth_t *a, const lx_outcome_t *o)
{
    lx_usage_t rec = {0}, *u = &rec;
    lx_str_t rid = lx_req_id(req);
    lx_copy(u->request_id, sizeof u->request_id, rid.p, rid.n);
    lx_copy_cstr(u->key_id, sizeof u->key_id, a->key_id);
    u->api_key_id = a->key ? a->key->id : 0;
    u->user_id = a->user_id;
    u->team_id = a->team_id;
    u->feature = a->feature;
    u->status = o->status;
    lx_copy_cstr(u->error_code, sizeof u->error_code, lx_outcome_code(o));
    snprintf(u->error, sizeof u->error, "refused by llmux: %s", lx_err_info(o->err)->message);
    /* A model that resolves to one provider is recorded as its rows are
     * (provider + upstream name); anything else under the name asked for. */
    lx_str_t m = requested_model(req);
    lx_resolved_t t;
    if (m.n && lx_resolve_model(a->snap, m, &t) == LX_RESOLVE_OK && t.group == NULL && !t.bare) {
        lx_copy_cstr(u->provider, sizeof u->provider, t.prov->conf.name);
        lx_copy_cstr(u->model, sizeof u->model, t.upstream_model);
    } else {
        lx_copy(u->model, sizeof u->model, m.p, m.n);
    }
    u->ttfb_us = -1;
    u->created_ms = lx_wall_ms();
    u->total_us = lx_now_us() - lx_req_start_us(req);
    ai->usage->push(ai->usage, u);
}

/* A refused request in the metrics (obs/metrics.h): the provider and model
 * when the name resolves to one in the catalog, else "other". */
static void refusal_metrics(lx_ai_t *ai, lx_req_t *req, const lx_ai_auth_t *a,
                            const lx_outcome_t *o)
{
    lx_metrics_req_t r = {.endpoint = a->feature,
                          .status = o->status,
                          .reason = lx_outcome_code(o),
                          .total_us = lx_now_us() - lx_req_start_us(req),
                          .upstream_us = -1};
    lx_str_t m = requested_model(req);
    lx_resolved_t t;
    if (a->snap && m.n && lx_resolve_model(a->snap, m, &t) == LX_RESOLVE_OK && !t.bare && t.prov) {
        r.provider = t.prov->conf.name;
        r.model = t.group ? t.group->name : t.model ? t.model->public_name : NULL;
    }
    lx_metrics_request(ai->metrics, &r);
}

void lx_ai_refuse(lx_ai_t *ai, lx_req_t *req, lx_ai_auth_t *a, const lx_outcome_t *o)
{
    lx_outcome_reply(req, o);
    if (a->feature && ai->metrics && o->err != LX_E_NONE)
        refusal_metrics(ai, req, a, o);
    if (ai->tracer) /* its span (the body is read again only then) */
        lx_ai_trace_refusal(ai, req, a->feature, requested_model(req), o);
    if (a->feature && a->snap && o->err != LX_E_NONE && o->status != 401)
        record(ai, req, a, o);
    lx_ai_end(a);
}
