/* budget_hook.h - budget alert webhooks: delivers the rows of the outbox
 * ai_budget_alerts (sql/011; the trigger on ai_spend fills it when a key's
 * or team's spend crosses 50, 80 or 100 % of its budget in a period, once
 * per threshold and period across every instance).
 *
 * One per process, on worker 0's loop: every 500 ms it claims up to 8 due
 * rows (FOR UPDATE SKIP LOCKED, so instances share the work; a claim holds
 * a row for 60 s) and POSTs each body to the subject's budget_webhook_url
 * through the worker's upstream client (its network policy applies, as
 * for providers), with
 *   content-type: application/json
 *   x-llmux-timestamp: <Unix seconds of the attempt>
 *   x-llmux-delivery: <the alert's id>
 *   x-llmux-signature: sha256=<hex HMAC-SHA256 of the body under the
 *                       subject's budget_webhook_secret> (with a secret)
 * A 2xx answer delivers it; anything else is retried after 1, 2, 4 ... s
 * (doubling, at most 8 attempts, then failed_at is set). Pending rows
 * survive a restart. Never on a request's path.
 *
 * Ownership: the hook owns its deliveries in flight (cancelled at free);
 * it borrows cfg (the master key opens the secrets), pg and up, which
 * must outlive it. */
#ifndef LX_AI_BUDGET_HOOK_H
#define LX_AI_BUDGET_HOOK_H

#include "core/config.h"

struct event_base;
struct lx_pg;
struct lx_upstream;
typedef struct lx_budget_hook lx_budget_hook_t;

#define LX_BUDGET_HOOK_ATTEMPTS 8

lx_budget_hook_t *lx_budget_hook_new(struct event_base *base, const lx_config_t *cfg,
                                     struct lx_pg *pg, struct lx_upstream *up);
void lx_budget_hook_free(lx_budget_hook_t *h);

/* The AAD a subject kind's webhook secret is sealed with ("key", "team"). */
void lx_budget_hook_aad(const char *kind, char out[48]);

#endif
