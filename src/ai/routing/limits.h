/* limits.h - per-credential request limits, cooling, and the global retry
 * budget. All lock-free (C11 atomics), safe from any thread.
 *
 * Rate limits: fixed windows aligned to the clock passed in (with the wall
 * clock: UTC minutes and UTC days). Each window is one atomic word (window
 * index << 32 | count) reset by CAS when the window rolls, so a limit holds
 * exactly across every worker of the process: with rpm = N, at most N takes
 * succeed per minute whatever the concurrency. A request that would exceed
 * either limit is refused and counts nowhere. (When the minute is granted
 * and then the day refused, the minute token is given back; in that short
 * window a concurrent request may see the minute as one fuller than it will
 * be: it is refused, never over-granted.)
 *
 * Cooling: a deployment answered 429 (or a credential a quota error:
 * attempt.h says which state) is skipped until a time taken from
 * Retry-After (delta-seconds or an HTTP-date), else a default, capped.
 * Cooling only ever extends. It is per instance (not shared through
 * Postgres, unlike the rate windows).
 *
 * st may be NULL everywhere (untracked: unlimited, never cooling).
 *
 * Owns nothing: windows and cooling live in the caller's lx_route_state_t
 * (state.h), a retry budget in the lx_retry_budget_t its owner declares. */
#ifndef LX_AI_ROUTING_LIMITS_H
#define LX_AI_ROUTING_LIMITS_H

#include "ai/routing/state.h"

#define LX_COOLING_CAP_MS     60000
#define LX_COOLING_DEFAULT_MS 5000

typedef enum {
    LX_LIMIT_OK = 0,
    LX_LIMIT_MINUTE, /* rate_limit_per_minute reached */
    LX_LIMIT_DAY,    /* rate_limit_per_day reached */
} lx_limit_rc_t;

/* Takes one request from both windows, or none: LX_LIMIT_OK when granted.
 * rpm / rpd <= 0 mean "no limit". */
lx_limit_rc_t lx_limits_take(lx_route_state_t *st, int64_t now_ms, int rpm, int rpd);
/* Would lx_limits_take grant now? Reads only. */
lx_limit_rc_t lx_limits_check(const lx_route_state_t *st, int64_t now_ms, int rpm, int rpd);
/* Returns a token taken with lx_limits_take at now_ms for an attempt that was
 * never sent (a later check refused it). No-op once the window has rolled. */
void lx_limits_give_back(lx_route_state_t *st, int64_t now_ms, int rpm, int rpd);
/* Adds requests made elsewhere (another llmux instance, merged through
 * Postgres) to the current windows; they may push the count past the limit. */
void lx_limits_absorb(lx_route_state_t *st, int64_t now_ms, uint32_t minute_n, uint32_t day_n);
/* Requests counted in the current minute and day windows. */
void lx_limits_used(const lx_route_state_t *st, int64_t now_ms, uint32_t *minute_n,
                    uint32_t *day_n);

/* The indexes of the minute and day windows at now_ms (what Postgres keeps
 * in ai_rate_windows). */
int64_t lx_limits_minute_index(int64_t now_ms);
int64_t lx_limits_day_index(int64_t now_ms);
/* Tests only: every rate-limit window is taken at the fixed time ms instead
 * of the clock passed in, so a test never straddles a minute boundary
 * (LLMUX_TEST_RATE_CLOCK_MS). A negative ms restores the clock. Call before
 * any other thread uses the limits; cooling and Retry-After keep the real
 * clock. */
void lx_limits_fix_window_clock(int64_t ms);

/* Parses a Retry-After value: delta-seconds ("120") or an HTTP-date in any
 * of the three forms (IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", RFC 850
 * "Sunday, 06-Nov-94 08:49:37 GMT", asctime "Sun Nov  6 08:49:37 1994"),
 * surrounding blanks allowed. No locale is involved. For a date, now_ms must
 * be the wall clock; a date in the past gives 0. *delay_ms is never negative.
 * LX_OK, or LX_ERROR on anything else (then *delay_ms is untouched). */
int lx_retry_after_parse(lx_str_t value, int64_t now_ms, int64_t *delay_ms);

/* Cools st for the Retry-After value (NUL-terminated, may be NULL), or for
 * default_ms when it is absent or unreadable; never longer than cap_ms
 * (<= 0: LX_COOLING_CAP_MS). Returns the cooling end in ms (unchanged if the
 * credential was already cooling longer). */
/* cap_ms: 0 takes the default cap; a negative cap switches cooling off. */
int64_t lx_cooling_set(lx_route_state_t *st, int64_t now_ms, const char *retry_after,
                       int64_t default_ms, int64_t cap_ms);
bool lx_cooling_active(const lx_route_state_t *st, int64_t now_ms);
/* Remaining cooling in ms, 0 when not cooling. */
int64_t lx_cooling_left_ms(const lx_route_state_t *st, int64_t now_ms);
void lx_cooling_clear(lx_route_state_t *st);

/* Retry budget: a token bucket shared by every worker. Each first attempt
 * deposits `ratio` tokens (default 0.2) up to `cap` tokens; each retry or
 * fallback spends one. So retries stay within ratio x traffic (plus the cap
 * as a burst) and an outage cannot multiply the load on the providers.
 * Fixed point in thousandths of a token, one atomic word. */
typedef struct {
    _Atomic int64_t milli;
    int64_t ratio_milli;
    int64_t cap_milli;
} lx_retry_budget_t;

#define LX_RETRY_RATIO_DEFAULT 0.2
#define LX_RETRY_CAP_DEFAULT   100.0

/* Start-up (or a test). initial: tokens available before any traffic, so
 * that a quiet instance can still retry (clamped to cap). */
void lx_retry_budget_init(lx_retry_budget_t *b, double ratio, double cap, double initial);
/* A first attempt started. */
void lx_retry_budget_deposit(lx_retry_budget_t *b);
/* Takes one token for a retry: false when the budget is spent. */
bool lx_retry_allowed(lx_retry_budget_t *b);
double lx_retry_budget_tokens(const lx_retry_budget_t *b);

#endif
