/* allow_parallel.h - requests in flight (max_parallel) made global across
 * llmux instances sharing one Postgres (the bound is stated in allow.h).
 *
 * Every tick of the lease ticker (allow_lease.c, one per process, 250 ms)
 * one statement upserts this instance's in-flight count of each subject
 * with max_parallel in the snapshot whose count is or was non-zero
 * (ai_limit_inflight, sql/012) and reads, for all of them, the sum the
 * other instances published within the last 3 s (an instance that died
 * stops counting after 3 s); the answer is stored in each slot's others,
 * which admission adds to its local count. Off the request path.
 *
 * Ownership: the publisher is owned by its lease ticker; the slot array of
 * a tick is owned by its query until the answer comes. */
#ifndef LX_AI_ALLOW_PARALLEL_H
#define LX_AI_ALLOW_PARALLEL_H

#include "auth/allow.h"

struct lx_pg;
struct lx_snapshot;
typedef struct lx_allow_parallel lx_allow_parallel_t;

/* Prepares its statement on pg; the instance id is random per process. */
lx_allow_parallel_t *lx_allow_parallel_new(struct lx_pg *pg);
/* Freed now, or by the answer of a query in flight. */
void lx_allow_parallel_free(lx_allow_parallel_t *p);
/* A tick without a database: after 3 s without an answer the others'
 * counts are dropped (their rows would be stale too). */
void lx_allow_parallel_idle(lx_allow_parallel_t *p);
/* One publication for the subjects of snapshot s (borrowed for the call). */
void lx_allow_parallel_tick(lx_allow_parallel_t *p, const struct lx_snapshot *s);

#endif
