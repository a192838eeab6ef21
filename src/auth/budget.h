/* budget.h - budgets and spend of API keys, users and teams: the period
 * arithmetic and a process-wide lock-free spend table, so that admission
 * refuses a subject whose period spend reached its budget without a
 * database round trip, and the spend is global across instances.
 *
 * Periods (UTC): daily, weekly (ISO weeks: Monday 00:00), monthly
 * (calendar) or total. A period has an index (days since 1970-01-01; weeks
 * since the Monday 1970-01-05, the days before in week 0; months since
 * 1970-01; 0 for total) and a key ("d:19850", "w:2836", "m:652", "t"), the
 * ai_spend.period of sql/011 (llmux_period_key there computes the same).
 *
 * A slot per subject ('key:12', 'user:7', 'team:3') holds its budget and
 * period (from the snapshot), the period's global spend as last read from
 * Postgres, this process's spend not yet sent (pending) and the spend on
 * its way (sending). Money is in nano-USD (int64). A request's end adds
 * its cost to pending (lx_spend_add: one atomic add per subject); worker
 * 0's 250 ms tick (budget_sync.h) sends pending to ai_spend and reads back
 * the global totals. Admission refuses when global + pending + sending >=
 * budget.
 *
 * Bounds. Requests admitted while the known spend is under the budget all
 * complete: within one instance the spend may pass the budget by at most
 * the cost of the requests in flight when it was reached (each admitted
 * request is served and billed, none is cut off). Across instances, add
 * what the other instances spent within one sync interval plus one query
 * (250 ms + a round trip): until then an instance does not know it. A
 * period rollover needs no sync: the new period's global spend is 0 until
 * read. Spend settled within one tick of a period's end may count in the
 * next period. A failed sync query is retried with the same amount; when
 * the connection broke with the query in flight it may have committed and
 * is then counted twice (the error is on the side of refusing early).
 *
 * Ownership: this module owns the slots (a static table, process
 * lifetime); claimed when a snapshot is built (off the loops), never freed;
 * the snapshot's keys keep pointers to them. */
#ifndef LX_AUTH_BUDGET_H
#define LX_AUTH_BUDGET_H

#include "core/common.h"
#include "auth/allow.h"

#include <stdatomic.h>

#define LX_SPEND_SLOTS 8192 /* subjects tracked, per process */
#define LX_NANO_USD    1000000000.0

typedef enum {
    LX_PERIOD_TOTAL = 0,
    LX_PERIOD_DAILY,
    LX_PERIOD_WEEKLY,
    LX_PERIOD_MONTHLY,
} lx_period_t;

/* "daily", "weekly", "monthly", "total"; NULL or anything else: total. */
lx_period_t lx_period_parse(const char *s);
const char *lx_period_name(lx_period_t p);
/* The index of the period that holds ms (Unix milliseconds, UTC). */
int64_t lx_period_index(lx_period_t p, int64_t ms);
/* The start of period index i in Unix ms (total: 0). */
int64_t lx_period_start_ms(lx_period_t p, int64_t i);
/* When the period holding ms ends (the next starts); -1 for total. */
int64_t lx_period_end_ms(lx_period_t p, int64_t ms);
/* The ai_spend.period of index i ("d:19850", "t"): out has 24 bytes. */
void lx_period_key(lx_period_t p, int64_t i, char out[24]);
/* Parses a key back: LX_OK with *p and *i, or LX_ERROR. */
int lx_period_key_parse(const char *key, lx_period_t *p, int64_t *i);

typedef struct lx_spend {
    _Atomic uint64_t key;         /* kind << 56 | id; 0 = free */
    char subject[LX_SUBJECT_MAX]; /* "key:12", "key:12@gpt-4o": the ai_spend subject */
    _Atomic int64_t budget;       /* nano-USD; < 0: none */
    _Atomic int period;           /* lx_period_t */
    _Atomic uint64_t seq;         /* odd while the sync writes gidx and global */
    _Atomic int64_t gidx;         /* period index + 1 that global is for, 0: none */
    _Atomic int64_t global;       /* nano-USD: the period's global spend, last read */
    _Atomic int64_t pending;      /* nano-USD spent here, not sent yet */
    _Atomic int64_t sending;      /* nano-USD sent, answer not in yet */
} lx_spend_t;

/* The subjects of a request, as in lx_allow_set_t: [0..2] the key, its
 * user and its team, [3..5] the model entry of each level that applies;
 * NULL where none. */
typedef struct {
    lx_spend_t *s[LX_LIMIT_SUBJECTS];
} lx_spend_set_t;

/* The slot of a subject (kind 'k', 'u' or 't'), claimed on first use, its
 * budget (USD, < 0: none) and period set; NULL when the table is full (its
 * spend is then not tracked nor limited). Off the loops (snapshot build). */
lx_spend_t *lx_spend_get(char kind, int64_t id, double budget_usd, lx_period_t period);
/* The slot of a model entry of a subject (subject.h), its budget and the
 * owner's period set. Off the loops. */
lx_spend_t *lx_spend_get_model(char kind, int64_t id, const char *model, double budget_usd,
                               lx_period_t period);
/* The slot of a subject by its text ("key:12"), or NULL if none. */
lx_spend_t *lx_spend_find(const char *subject);
/* Slot i of the table (0 <= i < LX_SPEND_SLOTS), for the sync's scan. */
lx_spend_t *lx_spend_slot(int i);

/* What a subject has spent in the period holding now_ms, as known here. */
int64_t lx_spend_known(const lx_spend_t *s, int64_t now_ms);
/* Adds a request's cost (USD; <= 0: nothing) to every subject of set. */
void lx_spend_add(const lx_spend_set_t *set, double cost_usd);
/* The global spend of period index idx read from Postgres (single
 * writer: the sync). Ignored when idx is not the period of now_ms. */
void lx_spend_set_global(lx_spend_t *s, int64_t idx, int64_t nano);

/* A refusal: whose budget, and when its period ends (-1: total). */
typedef struct {
    const lx_spend_t *who;
    int idx;               /* who's index in the set */
    int64_t budget, spent; /* nano-USD */
    lx_period_t period;
    int64_t reset_ms;
} lx_budget_refusal_t;

/* true when every subject of set with a budget is under it at now_ms;
 * else false with the first that is not in *r. Reads only. */
bool lx_budget_admit(const lx_spend_set_t *set, int64_t now_ms, lx_budget_refusal_t *r);

#endif
