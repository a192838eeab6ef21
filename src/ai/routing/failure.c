/* failure.c - attempt classification and the retry / fallback decision. */
#include "ai/routing/failure.h"

static lx_verdict_t verdict(lx_fail_class_t cls, lx_brk_effect_t b, lx_err_t err)
{
    return (lx_verdict_t){cls, b, err, LX_SCOPE_DEPLOYMENT};
}

static lx_verdict_t cred_verdict(lx_fail_class_t cls, lx_brk_effect_t b, lx_err_t err)
{
    return (lx_verdict_t){cls, b, err, LX_SCOPE_CREDENTIAL};
}

static lx_err_t transport_err(lx_xfer_t o)
{
    switch (o) {
    case LX_XFER_TIMEOUT_CONNECT:
    case LX_XFER_TIMEOUT_FIRST_BYTE:
    case LX_XFER_TIMEOUT_IDLE:
    case LX_XFER_TIMEOUT_TOTAL:
        return LX_E_UPSTREAM_TIMEOUT;
    default:
        return LX_E_UPSTREAM;
    }
}

static lx_err_t status_err(int status)
{
    lx_err_t e = lx_err_from_status(status);
    return e == LX_E_NONE ? LX_E_UPSTREAM : e;
}

lx_verdict_t lx_failure_classify(const lx_attempt_facts_t *f)
{
    lx_xfer_t o = f->transport;
    int s = f->status;

    if (o == LX_XFER_ABORTED)
        return verdict(LX_FAIL_FATAL, LX_BRK_NEUTRAL, LX_E_CLIENT_GONE);
    if (o == LX_XFER_REFUSED) /* our own network policy: retrying changes nothing */
        return verdict(LX_FAIL_FATAL, LX_BRK_NEUTRAL, LX_E_UPSTREAM);
    if (o == LX_XFER_TLS_VERIFY) /* a retry meets the same certificate */
        return cred_verdict(LX_FAIL_NEXT, LX_BRK_FAILURE, LX_E_UPSTREAM);

    if (o != LX_XFER_OK) {
        /* transport failure */
        lx_err_t err = transport_err(o);
        if (f->client_bytes_sent) /* mid-stream: too late to retry, but it counts */
            return verdict(LX_FAIL_FATAL, LX_BRK_FAILURE, err);
        if (o == LX_XFER_CONNECT_FAILED || o == LX_XFER_TIMEOUT_CONNECT) /* no model was reached */
            return cred_verdict(LX_FAIL_RETRY, LX_BRK_FAILURE, err);
        if (!f->idempotent && f->request_sent) /* it may have been executed */
            return verdict(LX_FAIL_FATAL, LX_BRK_FAILURE, err);
        return verdict(LX_FAIL_RETRY, LX_BRK_FAILURE, err);
    }

    if (s > 0 && s < 400)
        return verdict(LX_FAIL_SUCCESS, LX_BRK_SUCCESS, LX_E_NONE);
    if (s <= 0) /* a "complete" response without a status: treat as broken */
        return verdict(f->client_bytes_sent || (!f->idempotent && f->request_sent) ? LX_FAIL_FATAL
                                                                                   : LX_FAIL_RETRY,
                       LX_BRK_FAILURE, LX_E_UPSTREAM);

    if (f->client_bytes_sent) /* an error status after bytes went out */
        return verdict(LX_FAIL_FATAL, s >= 500 ? LX_BRK_FAILURE : LX_BRK_NEUTRAL, status_err(s));

    if (s == 402 || f->quota) /* the account is out of credit: every model */
        return cred_verdict(LX_FAIL_ROTATE, LX_BRK_NEUTRAL, LX_E_RATE_LIMITED);
    if (s == 429) /* providers limit per model */
        return verdict(LX_FAIL_ROTATE, LX_BRK_NEUTRAL, LX_E_RATE_LIMITED);
    if (s == 401) /* the key itself is refused */
        return cred_verdict(LX_FAIL_FLAG_AUTH, LX_BRK_NEUTRAL, LX_E_UPSTREAM);
    if (s == 403) /* often one model or project: hold only the deployment */
        return verdict(LX_FAIL_FLAG_AUTH, LX_BRK_NEUTRAL, LX_E_UPSTREAM);
    if (s == 408 || s == 503 || s == 529) /* refused before any work was done */
        return verdict(LX_FAIL_RETRY, LX_BRK_FAILURE, status_err(s));
    if (s >= 500 && s != 501 && s != 505)
        return verdict(f->idempotent ? LX_FAIL_RETRY : LX_FAIL_FATAL, LX_BRK_FAILURE,
                       status_err(s));
    if (s >= 500) /* 501, 505: this will not change by retrying */
        return verdict(LX_FAIL_FATAL, LX_BRK_NEUTRAL, status_err(s));
    /* 400, 404, 413, 422 and the rest of 4xx: the request's own fault */
    return verdict(LX_FAIL_FATAL, LX_BRK_NEUTRAL, status_err(s));
}

static const char *const quota_words[] = {
    "insufficient_quota",   "exceeded your current quota", "quota exceeded",
    "quota_exceeded",       "credit balance is too low",   "insufficient credits",
    "insufficient_credits", "billing_hard_limit",
};

static bool has_word_ci(const char *p, size_t n, const char *w)
{
    size_t wn = strlen(w);
    for (size_t i = 0; i + wn <= n; i++) {
        size_t k = 0;
        while (k < wn) {
            char c = p[i + k];
            if (c >= 'A' && c <= 'Z')
                c = (char)(c + 32);
            if (c != w[k])
                break;
            k++;
        }
        if (k == wn)
            return true;
    }
    return false;
}

bool lx_failure_body_is_quota(lx_str_t body)
{
    if (!body.p)
        return false;
    size_t n = body.n < 4096 ? body.n : 4096;
    /* Gemini answers every 429 with RESOURCE_EXHAUSTED and "You exceeded your
     * current quota", its quotas being per model and per minute or day: one
     * model's limit, not the credential's credit. */
    if (has_word_ci(body.p, n, "resource_exhausted"))
        return false;
    for (size_t i = 0; i < LX_ARRAY_LEN(quota_words); i++)
        if (has_word_ci(body.p, n, quota_words[i]))
            return true;
    return false;
}

static const char *const class_names[LX_FAIL__COUNT] = {
    [LX_FAIL_SUCCESS] = "success", [LX_FAIL_RETRY] = "retry",    [LX_FAIL_ROTATE] = "rotate",
    [LX_FAIL_FATAL] = "fatal",     [LX_FAIL_FLAG_AUTH] = "auth", [LX_FAIL_NEXT] = "next",
};

const char *lx_fail_class_name(lx_fail_class_t c)
{
    return (unsigned)c < LX_FAIL__COUNT ? class_names[c] : "unknown";
}

/* --- backoff and the next step ------------------------------------------- */

void lx_backoff_conf_default(lx_backoff_conf_t *c)
{
    *c = (lx_backoff_conf_t){.base_ms = 100, .cap_ms = 2000, .max_same = 1};
}

int64_t lx_backoff_ms(const lx_backoff_conf_t *c, int n, lx_rng_t *rng)
{
    int64_t cap = c->cap_ms > 0 ? c->cap_ms : 0;
    int64_t ceil = c->base_ms > 0 ? c->base_ms : 0;
    for (int i = 0; i < n && ceil < cap; i++)
        ceil *= 2;
    if (ceil > cap)
        ceil = cap;
    return (int64_t)lx_rng_upto(rng, (uint64_t)ceil);
}

static lx_step_t step(lx_step_kind_t k, int64_t delay)
{
    return (lx_step_t){k, delay};
}

lx_step_t lx_failure_next(const lx_verdict_t *v, int retries_on_target, bool have_next,
                          const lx_backoff_conf_t *c, lx_retry_budget_t *budget, lx_rng_t *rng,
                          int64_t now_ms, int64_t deadline_ms)
{
    switch (v->cls) {
    case LX_FAIL_SUCCESS:
        return step(LX_STEP_DONE, 0);
    case LX_FAIL_FATAL:
    case LX_FAIL_FLAG_AUTH:
    case LX_FAIL__COUNT:
        return step(LX_STEP_GIVE_UP, 0);
    case LX_FAIL_ROTATE:
    case LX_FAIL_NEXT:
        if (have_next && now_ms < deadline_ms)
            return step(LX_STEP_NEXT, 0);
        return step(LX_STEP_GIVE_UP, 0);
    case LX_FAIL_RETRY:
        break;
    }
    if (now_ms >= deadline_ms)
        return step(LX_STEP_GIVE_UP, 0);
    if (retries_on_target < c->max_same) {
        int64_t d = lx_backoff_ms(c, retries_on_target, rng);
        if (now_ms + d < deadline_ms && (!budget || lx_retry_allowed(budget)))
            return step(LX_STEP_RETRY_SAME, d);
        if (!have_next)
            return step(LX_STEP_GIVE_UP, 0);
        /* the wait does not fit (or no token): try falling back instead */
    }
    if (have_next && (!budget || lx_retry_allowed(budget)))
        return step(LX_STEP_NEXT, 0);
    return step(LX_STEP_GIVE_UP, 0);
}

static const char *const step_names[] = {
    [LX_STEP_DONE] = "done",
    [LX_STEP_GIVE_UP] = "give_up",
    [LX_STEP_RETRY_SAME] = "retry_same",
    [LX_STEP_NEXT] = "next",
};

const char *lx_step_name(lx_step_kind_t k)
{
    return (unsigned)k < LX_ARRAY_LEN(step_names) ? step_names[k] : "unknown";
}
