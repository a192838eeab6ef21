/* deploy.h - what a credential learns from its deployments (credential x
 * upstream model, state.h): the rule that takes a whole credential out when
 * most of its models fail, although each model has its own breaker.
 *
 * The rule: a credential is out (LX_WHY_BREAKER_OPEN) while
 *   - its own breaker is open (fed by connect failures, connect timeouts and
 *     TLS errors: what no model can get past), or
 *   - in the current breaker window (window_ms of the breaker conf, fixed
 *     windows aligned to the clock), at least LX_DEPLOY_MIN_FAILING of its
 *     deployments that ended an attempt in that window had an open breaker
 *     afterwards, and they are more than half of those deployments.
 * A deployment counts once per window in each column (seen, failing); one
 * that failed and then recovered in the same window stays counted as
 * failing until the window ends. When the window rolls over the counts start
 * again from zero, so the credential comes back at the next window at the
 * latest and its deployments' own breakers decide again.
 *
 * Two atomic words: dep_win of the deployment (which columns it was counted
 * in, this window) and dep_win of the credential (the counts). Lock-free and
 * allocation-free; any thread. NULL entries are ignored (untracked). */
#ifndef LX_AI_ROUTING_DEPLOY_H
#define LX_AI_ROUTING_DEPLOY_H

#include "ai/routing/state.h"

#define LX_DEPLOY_MIN_FAILING 2

/* One attempt on dep (a deployment of cred) ended with a verdict on it;
 * failing: dep's breaker is open after recording it. */
void lx_deploy_note(lx_route_state_t *cred, lx_route_state_t *dep, bool failing, int64_t now_ms,
                    int64_t window_ms);
/* The counts of the current window (0, 0 for a NULL cred). */
void lx_deploy_counts(const lx_route_state_t *cred, int64_t now_ms, int64_t window_ms,
                      uint32_t *seen, uint32_t *failing);
/* The rule above (its second half): are most of cred's deployments failing? */
bool lx_deploy_most_failing(const lx_route_state_t *cred, int64_t now_ms, int64_t window_ms);

#endif
