/* budget_sync.h - the spend table (budget.h) kept in step with ai_spend.
 *
 * One per process, on worker 0's loop and its Postgres connection: every
 * 250 ms (LX_BUDGET_SYNC_MS) one statement adds each subject's pending
 * spend to its row of the current period (a batched upsert) and returns
 * the global totals of those rows and of every row another instance or a
 * reset-spend changed in the last 5 s (every row of the current periods at
 * start and every 10 s). At most one statement in flight; a failed one
 * gives its amounts back to pending. Hourly it deletes the rows of periods
 * that ended (untouched for 62 days) and alerts settled 30 days ago. Off
 * the request path.
 *
 * Tests: LLMUX_TEST_BUDGET_CLOCK_MS (lx_budget_clock_start) starts the
 * budget clock at that Unix time; it then runs at the real clock's pace,
 * so a test can start just before a period's end and see it roll over.
 * The admin API's spend_usd reads Postgres' clock.
 *
 * Ownership: lx_budget_sync_t belongs to worker 0's loop (lx_budget_sync_new
 * to lx_budget_sync_free); it borrows pg, which must outlive it, and
 * writes the spend table's global totals (budget.h owns the slots). */
#ifndef LX_AUTH_BUDGET_SYNC_H
#define LX_AUTH_BUDGET_SYNC_H

#include "auth/budget.h"

#define LX_BUDGET_SYNC_MS 250

struct event_base;
struct lx_pg;
typedef struct lx_budget_sync lx_budget_sync_t;

lx_budget_sync_t *lx_budget_sync_new(struct event_base *base, struct lx_pg *pg);
/* Shutdown, after the last request of worker 0 (app/worker.c's flush
 * wait, until its deadline): true while spend waits to be sent or a
 * statement is in flight, and then starts one if none is. Spend that
 * another worker's last requests add after worker 0 stopped is not in
 * ai_spend (ai_usage has every request's cost). b may be NULL. */
bool lx_budget_sync_draining(lx_budget_sync_t *b);
void lx_budget_sync_free(lx_budget_sync_t *b);

/* The clock budgets read: the wall clock, or the test clock. */
int64_t lx_budget_now_ms(void);
/* Start-up only, before any worker runs: the budget clock reads ms now. */
void lx_budget_clock_start(int64_t ms);

#endif
