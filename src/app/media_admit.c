/* media_admit.c - media/routes.h's admission seam: a media task's
 * submission is admitted as one request of the caller's key (or JWT user)
 * by the AI endpoints' own path (ai/handlers.h lx_ai_admit), so that the
 * same allowances, budgets, messages and refusal counters apply:
 *   - the key's allowed models (403 model not allowed);
 *   - the budgets of the key, its user and its team and of the model_limits
 *     entry of each that applies to the model (429 insufficient_quota /
 *     budget_exceeded while a period's spend is at or over one);
 *   - their rpm and rpd, and the model entries' (429 rate_limit_exceeded,
 *     Retry-After). tpm and max_parallel do not apply to tasks: a task has
 *     no tokens, and it runs long after its submission answered.
 * A refusal is answered in the OpenAI shape and recorded as a zero-token
 * usage row (feature 'video' or 'image') like the AI endpoints' refusals.
 * A request taken is spent even if storing the task then fails. Runs on
 * the request's loop; takes and drops one snapshot reference. */
#include "app/app.h"
#include "ai/handlers.h"
#include "core/clock.h"

bool lx_app_media_admit(lx_req_t *req, void *arg, const char *model, lx_media_kind_t kind)
{
    lx_ai_t *ai = arg;
    lx_ai_auth_t a;
    lx_outcome_t o;
    if (!lx_ai_begin(ai, req, &a, &o)) {
        lx_ai_refuse(ai, req, &a, &o);
        return false;
    }
    a.feature = kind == LX_MEDIA_VIDEO ? "video" : "image";
    lx_str_t sent = lx_str(model ? model : "");
    if (a.key && !lx_apikey_allows(a.key, sent)) {
        lx_outcome_fail(&o, LX_SIDE_CLIENT, 0, LX_E_FORBIDDEN, "model",
                        "this API key may not use model '%.*s'", (int)sent.n, sent.p);
        lx_ai_refuse(ai, req, &a, &o);
        return false;
    }
    lx_resolved_t t;
    if (lx_resolve_model(a.snap, sent, &t) != LX_RESOLVE_OK)
        memset(&t, 0, sizeof t);
    lx_ai_model_scope(&a, sent, &t);
    lx_allow_ticket_t ticket = {.at_ms = lx_wall_ms(), .tokens = 1, .requests_only = true};
    if (!lx_ai_admit(ai, req, &a, &ticket, &o)) {
        lx_ai_refuse(ai, req, &a, &o);
        return false;
    }
    lx_ai_end(&a);
    return true;
}
