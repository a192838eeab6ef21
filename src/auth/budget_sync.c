/* budget_sync.c - the spend table synced with ai_spend (budget_sync.h). */
#include "auth/budget_sync.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "db/pg.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>

static int64_t clock_offset_ms; /* written once at start-up */

void lx_budget_clock_start(int64_t ms)
{
    clock_offset_ms = ms - lx_wall_ms();
}

int64_t lx_budget_now_ms(void)
{
    return lx_wall_ms() + clock_offset_ms;
}

/* One entry per subject whose pending spend went out with a statement. */
typedef struct {
    lx_spend_t *s;
    int64_t nano;
} sent_t;

struct lx_budget_sync {
    lx_pg_t *pg;
    struct event *timer;
    int ticks;
    bool busy;    /* a statement in flight */
    bool fresh;   /* the first full read has not succeeded yet */
    bool closing; /* freed while busy: on_sync frees it */
    sent_t *sent;
    int nsent;
};

/* $1 subjects, $2 periods, $3 nano-USD to add; $4 read every row of the
 * periods in $5 (else those changed in the last 5 s). The second part sees
 * the rows as they were before the upsert: those it wrote come from it. */
static const char sync_sql[] =
    "WITH d AS (SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) AS d(subject, "
    "period, nano)), "
    "up AS (INSERT INTO ai_spend AS s (subject, period, spend_usd, updated_at) "
    "SELECT subject, period, nano / 1e9, now() FROM d ON CONFLICT (subject, period) DO UPDATE "
    "SET spend_usd = s.spend_usd + EXCLUDED.spend_usd, updated_at = now() "
    "RETURNING s.subject, s.period, s.spend_usd) "
    "SELECT subject, period, (spend_usd * 1e9)::bigint FROM up UNION ALL "
    "SELECT subject, period, (spend_usd * 1e9)::bigint FROM ai_spend x "
    "WHERE x.period = ANY($5::text[]) AND ($4::boolean OR x.updated_at >= now() - interval "
    "'5 seconds') AND NOT EXISTS (SELECT 1 FROM d WHERE d.subject = x.subject AND d.period = "
    "x.period)";

static void give_back(lx_budget_sync_t *b)
{
    for (int i = 0; i < b->nsent; i++) {
        atomic_fetch_add_explicit(&b->sent[i].s->pending, b->sent[i].nano, memory_order_relaxed);
        atomic_fetch_sub_explicit(&b->sent[i].s->sending, b->sent[i].nano, memory_order_relaxed);
    }
    b->nsent = 0;
}

static void on_sync(const lx_pg_result_t *res, void *arg)
{
    lx_budget_sync_t *b = arg;
    b->busy = false;
    if (b->closing) {
        free(b->sent);
        free(b);
        return;
    }
    if (!lx_pg_ok(res)) {
        lx_log_warn("budget spend sync failed", "\"error\":\"%s\"",
                    lx_pg_error(res) ? "statement failed" : "unknown");
        give_back(b);
        return;
    }
    int64_t now = lx_budget_now_ms();
    for (int r = 0; r < lx_pg_ntuples(res); r++) {
        lx_spend_t *s = lx_spend_find(lx_pg_value(res, r, 0));
        lx_period_t p;
        int64_t idx;
        if (s == NULL || lx_period_key_parse(lx_pg_value(res, r, 1), &p, &idx) != LX_OK)
            continue;
        if ((int)p != atomic_load_explicit(&s->period, memory_order_relaxed) ||
            idx != lx_period_index(p, now))
            continue;
        lx_spend_set_global(s, idx, strtoll(lx_pg_value(res, r, 2), NULL, 10));
    }
    /* After the totals that include them: never a moment without both. */
    for (int i = 0; i < b->nsent; i++)
        atomic_fetch_sub_explicit(&b->sent[i].s->sending, b->sent[i].nano, memory_order_relaxed);
    b->nsent = 0;
    b->fresh = false;
}

static void on_cleanup(const lx_pg_result_t *res, void *arg)
{
    (void)res, (void)arg;
}

/* Rows of ended periods: a day, week or month row untouched for 62 days
 * belongs to a period that has ended; alerts settled 30 days ago. */
static const char cleanup_sql[] =
    "WITH s AS (DELETE FROM ai_spend WHERE period <> 't' AND updated_at < now() - interval "
    "'62 days') DELETE FROM ai_budget_alerts WHERE (delivered_at IS NOT NULL OR failed_at IS NOT "
    "NULL) AND created_at < now() - interval '30 days'";

static void tick(evutil_socket_t fd, short ev, void *arg)
{
    (void)fd, (void)ev;
    lx_budget_sync_t *b = arg;
    if (b->busy || !lx_pg_connected(b->pg))
        return;
    if (++b->ticks % 14400 == 2) /* at start, then hourly */
        lx_pg_query(b->pg, cleanup_sql, 0, NULL, 0, on_cleanup, NULL);
    int64_t now = lx_budget_now_ms();
    lx_buf_t subj, per, nano;
    lx_buf_init(&subj, 256);
    lx_buf_init(&per, 256);
    lx_buf_init(&nano, 256);
    lx_buf_append_cstr(&subj, "{");
    lx_buf_append_cstr(&per, "{");
    lx_buf_append_cstr(&nano, "{");
    for (int i = 0; i < LX_SPEND_SLOTS; i++) {
        lx_spend_t *s = lx_spend_slot(i);
        if (atomic_load_explicit(&s->key, memory_order_acquire) == 0 ||
            atomic_load_explicit(&s->pending, memory_order_relaxed) == 0)
            continue;
        /* sending first, then pending down: a reader may count it twice
         * for a moment, never not at all */
        int64_t v = atomic_load_explicit(&s->pending, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->sending, v, memory_order_relaxed);
        atomic_fetch_sub_explicit(&s->pending, v, memory_order_relaxed);
        lx_period_t p = (lx_period_t)atomic_load_explicit(&s->period, memory_order_relaxed);
        char key[24];
        lx_period_key(p, lx_period_index(p, now), key);
        const char *sep = b->nsent ? "," : "";
        lx_buf_printf(&subj, "%s%s", sep, s->subject);
        lx_buf_printf(&per, "%s%s", sep, key);
        lx_buf_printf(&nano, "%s%lld", sep, (long long)v);
        b->sent = lx_realloc(b->sent, (size_t)(b->nsent + 1) * sizeof *b->sent);
        b->sent[b->nsent++] = (sent_t){s, v};
    }
    lx_buf_append_cstr(&subj, "}");
    lx_buf_append_cstr(&per, "}");
    lx_buf_append_cstr(&nano, "}");
    char periods[120], k[4][24];
    for (int p = 0; p < 4; p++)
        lx_period_key((lx_period_t)p, lx_period_index((lx_period_t)p, now), k[p]);
    snprintf(periods, sizeof periods, "{%s,%s,%s,%s}", k[0], k[1], k[2], k[3]);
    bool full = b->fresh || b->ticks % 40 == 1;
    const char *params[5] = {subj.p, per.p, nano.p, full ? "true" : "false", periods};
    if (lx_pg_query(b->pg, "budget_sync", 5, params, LX_PG_PREPARED, on_sync, b) == LX_OK)
        b->busy = true;
    else
        give_back(b);
    lx_buf_free(&subj);
    lx_buf_free(&per);
    lx_buf_free(&nano);
}

lx_budget_sync_t *lx_budget_sync_new(struct event_base *base, lx_pg_t *pg)
{
    lx_budget_sync_t *b = lx_calloc(1, sizeof *b);
    b->pg = pg;
    b->fresh = true;
    lx_pg_prepare(pg, "budget_sync", sync_sql, 5);
    b->timer = event_new(base, -1, EV_PERSIST, tick, b);
    struct timeval tv = {0, LX_BUDGET_SYNC_MS * 1000};
    event_add(b->timer, &tv);
    return b;
}

bool lx_budget_sync_draining(lx_budget_sync_t *b)
{
    if (b == NULL)
        return false;
    bool left = b->busy;
    for (int i = 0; !left && i < LX_SPEND_SLOTS; i++) {
        const lx_spend_t *s = lx_spend_slot(i);
        left = atomic_load_explicit(&s->key, memory_order_acquire) != 0 &&
               atomic_load_explicit(&s->pending, memory_order_relaxed) != 0;
    }
    if (left && !b->busy)
        tick(-1, 0, b);
    return left;
}

void lx_budget_sync_free(lx_budget_sync_t *b)
{
    if (b == NULL)
        return;
    event_free(b->timer);
    if (b->busy) { /* its callback still runs, from lx_pg_free at the latest */
        b->closing = true;
        return;
    }
    free(b->sent);
    free(b);
}
