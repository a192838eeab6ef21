/* health.h - the health monitor: one per process, owned by worker 0 and run
 * by a timer on its loop (never on a request path).
 *
 * Each tick (every interval_ms, default 1 s) it walks the credentials of the
 * current registry snapshot and:
 *   - writes the growth of each connection's success / error counts, its last
 *     use and its last error (kept lock-free in lx_route_state_t by
 *     lx_attempt_end) back to ai_connections, all connections in ONE
 *     statement. The totals already written are kept here per connection id
 *     and only move forward when the statement succeeds, so nothing is lost
 *     while the database is away (one write in flight at a time; a write whose
 *     answer is lost after the commit may count twice). Skipped without a
 *     database, while it is disconnected, or when the snapshot was not loaded
 *     from it;
 *   - probes connections whose own breaker is open (or half-open) once their
 *     open period has passed (a credential's breaker: connect / TLS failures;
 *     a deployment's breaker, credential x model, is probed by the next
 *     request after its open period instead): one cheap real request through the provider's
 *     adapter (OpenAI and OpenAI-compatible: GET {base_url}/models; others,
 *     or a server without /models: a one-token chat with the provider's first
 *     chat model, else "test"). The probe takes the breaker's half-open slot
 *     (lx_breaker_allow) and one rate-limit token, and records its result
 *     (lx_breaker_record): a success closes the breaker, a failure (5xx,
 *     timeout, 401/403) opens it again; an inconclusive answer (429, another
 *     4xx) gives the slot back and waits another open period. Closed breakers
 *     are never probed, nor cooling or auth-flagged connections. At most
 *     max_probes run at once, each within probe_timeout_ms;
 *   - logs breaker changes (opened by traffic, closed, reopened by a probe)
 *     with the connection id and name and the provider name, never the key.
 *
 * Ownership: the monitor borrows base, cfg, up and pg (pg may be NULL); all
 * must outlive it. Everything runs on base's thread. */
#ifndef LX_AI_HEALTH_H
#define LX_AI_HEALTH_H

#include "ai/routing/breaker.h"
#include "core/config.h"
#include "db/pg.h"
#include "upstream/upstream.h"

struct event_base;
typedef struct lx_health lx_health_t;

typedef struct {
    int interval_ms;      /* tick period; <= 0: 1000 */
    int probe_timeout_ms; /* each probe's whole budget; <= 0: 3000 */
    int max_probes;       /* probes at once; <= 0: 4 */
} lx_health_opts_t;

/* Starts the timer (the first tick comes after one interval). opts may be
 * NULL. Never NULL (allocation failure aborts). */
/* brk: the breaker settings the request path drives the same breakers with
 * (copied). */
lx_health_t *lx_health_new(struct event_base *base, const lx_config_t *cfg,
                           const lx_breaker_conf_t *brk, lx_upstream_t *up, lx_pg_t *pg,
                           const lx_health_opts_t *opts);

/* Writes the counters now (shutdown: after the last request). Does nothing
 * while a write is in flight or without a usable database. */
void lx_health_flush(lx_health_t *h);
/* A counter write is in flight. */
bool lx_health_flushing(const lx_health_t *h);

/* Stops the timer, cancels probes in flight (their breaker slots are given
 * back) and frees the monitor. A counter write still in flight is
 * abandoned (its callback finds the monitor gone). Call before freeing up
 * or pg. NULL is fine. */
void lx_health_free(lx_health_t *h);

#endif
