/* allow_lease.h - leases of allowance slices from Postgres (allow.h).
 *
 * One per worker with a database, on that worker's loop and its own
 * Postgres connection. A request that leaves a window without tokens asks
 * (lx_allow_lease_ask, through lx_allow_admit) and goes on: the lease is an
 * async upsert on ai_limit_windows (subject, win) that raises granted by
 * one slice, never past the limit, and returns what it added; the tokens
 * are credited to the process-wide slot when the answer comes. The first
 * worker's lease also ticks every 250 ms: it leases the first slice of each
 * limited subject of the current snapshot whose window holds no tokens
 * and that is new or had requests in this window or the one before (a new
 * key, a new minute of a busy one), so a window is rarely empty when its
 * first request comes while idle subjects cost no query, and deletes windows older than two days
 * once a minute. Off the request path apart from queueing the query. */
#ifndef LX_AI_ALLOW_LEASE_H
#define LX_AI_ALLOW_LEASE_H

#include "auth/allow.h"

struct event_base;
struct lx_pg;
typedef struct lx_allow_lease lx_allow_lease_t;

/* tick: this one scans the snapshot (one per process). */
lx_allow_lease_t *lx_allow_lease_new(struct event_base *base, struct lx_pg *pg, bool tick);
void lx_allow_lease_free(lx_allow_lease_t *l);

/* An lx_allow_lease_fn: arg is the lx_allow_lease_t; the window claimed. */
void lx_allow_lease_ask(void *arg, lx_allow_t *a, lx_allow_per_t p, int64_t window);

#endif
