/* allow_lease.c - allowance slices leased from ai_limit_windows. */
#include "ai/allow_lease.h"
#include "ai/allow_parallel.h"
#include "ai/registry.h"
#include "ai/routing/limits.h"
#include "core/clock.h"
#include "core/log.h"
#include "db/pg.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>

struct lx_allow_lease {
    lx_pg_t *pg;
    struct event *timer;
    int ticks;
    lx_allow_parallel_t *par; /* the ticker's in-flight publication */
};

typedef struct {
    lx_allow_t *a;
    lx_allow_per_t p;
    uint32_t w;
} ask_t;

/* granted rises by one slice, never past the limit; last_grant is what this
 * statement added (SET sees the old row), spent whether none is left. */
static const char lease_sql[] =
    "INSERT INTO ai_limit_windows AS x (subject, win, lim, granted, last_grant, updated_at)"
    " VALUES ($1, $2, $3::int, least($3::int, $4::int), least($3::int, $4::int), now())"
    " ON CONFLICT (subject, win) DO UPDATE SET lim = EXCLUDED.lim,"
    " granted = greatest(x.granted, least(EXCLUDED.lim, x.granted + $4::int)),"
    " last_grant = greatest(x.granted, least(EXCLUDED.lim, x.granted + $4::int)) - x.granted,"
    " updated_at = now()"
    " RETURNING last_grant, lim - granted";

static void on_lease(const lx_pg_result_t *res, void *arg)
{
    ask_t *x = arg;
    uint32_t got = 0;
    int32_t room = LX_ALLOW_ROOM_UNKNOWN;
    if (lx_pg_ok(res) && lx_pg_ntuples(res) == 1) {
        long v = strtol(lx_pg_value(res, 0, 0), NULL, 10);
        got = v > 0 ? (uint32_t)v : 0;
        long left = strtol(lx_pg_value(res, 0, 1), NULL, 10);
        room = left < 0 ? 0 : left > 1000000000 ? 1000000000 : (int32_t)left;
    } else if (!lx_pg_ok(res))
        lx_log_warn("allowance lease failed", "\"subject\":\"%s\"", x->a->subject);
    lx_allow_lease_done(x->a, x->p, x->w, got, room);
    free(x);
}

void lx_allow_lease_ask(void *arg, lx_allow_t *a, lx_allow_per_t p, int64_t window)
{
    lx_allow_lease_t *l = arg;
    int lim = atomic_load_explicit(&a->limit[p], memory_order_relaxed);
    char win[32], limit[16], slice[16];
    /* one slice, plus the debt a tokens window's settlement left */
    int64_t want = lx_allow_slice(lim), left = lx_allow_left(a, p, (uint32_t)window);
    if (left < 0)
        want -= left;
    snprintf(win, sizeof win, "%c:%lld", "mdt"[p], (long long)window);
    snprintf(limit, sizeof limit, "%d", lim);
    snprintf(slice, sizeof slice, "%lld", (long long)(want > lim ? lim : want));
    const char *params[4] = {a->subject, win, limit, slice};
    ask_t *x = lx_calloc(1, sizeof *x);
    *x = (ask_t){.a = a, .p = p, .w = (uint32_t)window};
    if (l == NULL || lim <= 0 ||
        lx_pg_query(l->pg, "allow_lease", 4, params, LX_PG_PREPARED, on_lease, x) != LX_OK) {
        lx_allow_lease_done(a, p, (uint32_t)window, 0, LX_ALLOW_ROOM_UNKNOWN);
        free(x);
    }
}

static void prefetch(lx_allow_lease_t *l, lx_allow_t *a, int64_t now)
{
    if (a == NULL)
        return;
    for (int p = 0; p < LX_ALLOW_NWIN; p++) {
        if (atomic_load_explicit(&a->limit[p], memory_order_relaxed) <= 0)
            continue;
        int64_t full = p == LX_ALLOW_DAY ? lx_limits_day_index(now) : lx_limits_minute_index(now);
        if (lx_allow_active(a, (lx_allow_per_t)p, (uint32_t)full) &&
            lx_allow_left(a, (lx_allow_per_t)p, (uint32_t)full) <= 0 &&
            lx_allow_lease_claim(a, (lx_allow_per_t)p, (uint32_t)full))
            lx_allow_lease_ask(l, a, (lx_allow_per_t)p, full);
    }
}

static void prefetch_models(lx_allow_lease_t *l, const lx_model_limits_t *ml, int64_t now)
{
    for (int i = 0; i < ml->n; i++)
        prefetch(l, ml->v[i].allow, now);
}

static void on_cleanup(const lx_pg_result_t *res, void *arg)
{
    (void)res, (void)arg;
}

static void tick(evutil_socket_t fd, short ev, void *arg)
{
    (void)fd, (void)ev;
    lx_allow_lease_t *l = arg;
    if (!lx_pg_connected(l->pg) || lx_pg_pending(l->pg) > 1000) {
        lx_allow_parallel_idle(l->par);
        return;
    }
    if (++l->ticks % 240 == 1)
        lx_pg_query(l->pg,
                    "DELETE FROM ai_limit_windows WHERE updated_at < now() - interval '2 days'", 0,
                    NULL, 0, on_cleanup, NULL);
    if (l->ticks % 240 == 2)
        lx_pg_query(l->pg,
                    "DELETE FROM ai_limit_inflight WHERE updated_at < now() - interval '1 hour'", 0,
                    NULL, 0, on_cleanup, NULL);
    lx_snapshot_t *s = lx_registry_acquire();
    if (s == NULL)
        return;
    int64_t now = lx_wall_ms();
    for (int i = 0; i < s->nkeys; i++) {
        for (int k = 0; k < LX_LEVELS; k++)
            prefetch(l, s->keys[i].allow.s[k], now);
        prefetch_models(l, &s->keys[i].ml, now);
    }
    /* JWT users' and teams' own (a key's user and team are the same
     * slots: a second prefetch finds the lease claimed or tokens there),
     * and their model entries. */
    for (int i = 0; i < s->nusers; i++)
        prefetch(l, s->users[i].slot, now), prefetch_models(l, &s->users[i].ml, now);
    for (int i = 0; i < s->nteams; i++)
        prefetch(l, s->teams[i].slot, now), prefetch_models(l, &s->teams[i].ml, now);
    lx_allow_parallel_tick(l->par, s);
    lx_registry_release(s);
}

lx_allow_lease_t *lx_allow_lease_new(struct event_base *base, lx_pg_t *pg, bool ticking)
{
    lx_allow_lease_t *l = lx_calloc(1, sizeof *l);
    l->pg = pg;
    lx_pg_prepare(pg, "allow_lease", lease_sql, 4);
    if (ticking) {
        l->par = lx_allow_parallel_new(pg);
        l->timer = event_new(base, -1, EV_PERSIST, tick, l);
        struct timeval tv = {0, 250000};
        event_add(l->timer, &tv);
    }
    return l;
}

void lx_allow_lease_free(lx_allow_lease_t *l)
{
    if (l == NULL)
        return;
    if (l->timer)
        event_free(l->timer);
    lx_allow_parallel_free(l->par);
    free(l);
}
