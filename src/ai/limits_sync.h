/* limits_sync.h - per-connection rate limits across instances.
 *
 * Each instance counts requests per connection in lock-free windows
 * (routing/limits.h). Once a second, this module (one per process, on one
 * worker's loop) publishes the instance's own counts of the current minute
 * and day to ai_rate_windows and absorbs what the other instances added
 * since the last tick, so that every instance's windows converge on the
 * total within about a second. Off the request path; nothing when there is
 * no database. */
#ifndef LX_AI_LIMITS_SYNC_H
#define LX_AI_LIMITS_SYNC_H

struct event_base;
struct lx_pg;
typedef struct lx_limits_sync lx_limits_sync_t;

lx_limits_sync_t *lx_limits_sync_new(struct event_base *base, struct lx_pg *pg);
void lx_limits_sync_free(lx_limits_sync_t *ls);

#endif
