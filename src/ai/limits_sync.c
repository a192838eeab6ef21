/* limits_sync.c - rate-limit windows shared through Postgres.
 *
 * For every connection with a per-minute or per-day limit:
 *   own   = what this instance counted in the window (its total minus what
 *           it absorbed from others in that window);
 *   other = the sum the other instances published for the same window.
 * Each tick upserts own and reads other in one statement; the increase of
 * other since the last tick is absorbed into the local window. A window
 * that rolls over starts from zero on every side. */
#include "ai/limits_sync.h"
#include "ai/registry.h"
#include "ai/routing/limits.h"
#include "ai/routing/state.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/crypto.h"
#include "core/log.h"
#include "db/pg.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_CONNS 4096

typedef struct {
    int64_t id;
    int64_t minute_idx, day_idx;
    uint32_t absorbed_m, absorbed_d; /* from others, in those windows */
} track_t;

struct lx_limits_sync {
    struct event *timer;
    lx_pg_t *pg;
    char instance[32];
    track_t *tracks;
    int ntracks;
    bool in_flight;
    bool *alive; /* set to false when freed with a query out */
};

static track_t *track_get(lx_limits_sync_t *ls, int64_t id)
{
    for (int i = 0; i < ls->ntracks; i++)
        if (ls->tracks[i].id == id)
            return &ls->tracks[i];
    if (ls->ntracks == MAX_CONNS)
        return NULL;
    ls->tracks = lx_realloc(ls->tracks, (size_t)(ls->ntracks + 1) * sizeof *ls->tracks);
    track_t *t = &ls->tracks[ls->ntracks++];
    memset(t, 0, sizeof *t);
    t->id = id;
    return t;
}

/* Brings a track to the current windows (a new window: nothing absorbed). */
static void track_roll(track_t *t, int64_t now)
{
    if (t->minute_idx != lx_limits_minute_index(now)) {
        t->minute_idx = lx_limits_minute_index(now);
        t->absorbed_m = 0;
    }
    if (t->day_idx != lx_limits_day_index(now)) {
        t->day_idx = lx_limits_day_index(now);
        t->absorbed_d = 0;
    }
}

static void arr_add(lx_buf_t *b, int64_t v)
{
    lx_buf_printf(b, "%s%lld", b->n > 1 ? "," : "", (long long)v);
}

typedef struct {
    lx_limits_sync_t *ls;
    bool *alive;
} ctx_t;

static void on_result(const lx_pg_result_t *res, void *arg)
{
    ctx_t *x = arg;
    bool alive = *x->alive;
    lx_limits_sync_t *ls = x->ls;
    if (!alive) { /* freed meanwhile: the flag is ours to free */
        free(x->alive);
        free(x);
        return;
    }
    free(x);
    ls->in_flight = false;
    if (!lx_pg_ok(res))
        return; /* try again next tick; nothing was absorbed */
    int64_t now = lx_wall_ms();
    for (int r = 0; r < lx_pg_ntuples(res); r++) {
        int64_t id = strtoll(lx_pg_value(res, r, 0), NULL, 10);
        uint32_t other_m = (uint32_t)strtoul(lx_pg_value(res, r, 1), NULL, 10);
        uint32_t other_d = (uint32_t)strtoul(lx_pg_value(res, r, 2), NULL, 10);
        track_t *t = track_get(ls, id);
        lx_route_state_t *st = lx_cred_state_get(id);
        if (t == NULL || st == NULL)
            continue;
        track_roll(t, now);
        uint32_t dm = other_m > t->absorbed_m ? other_m - t->absorbed_m : 0;
        uint32_t dd = other_d > t->absorbed_d ? other_d - t->absorbed_d : 0;
        if (dm || dd)
            lx_limits_absorb(st, now, dm, dd);
        t->absorbed_m += dm;
        t->absorbed_d += dd;
    }
}

static const char sync_sql[] =
    "WITH mine AS ("
    " INSERT INTO ai_rate_windows (connection_id, instance, minute_idx, minute_n, day_idx, day_n,"
    " updated_at)"
    " SELECT c, $1, $4, m, $5, d, now() FROM unnest($2::bigint[], $3::int[], $6::int[])"
    " AS u(c, m, d)"
    " ON CONFLICT (connection_id, instance) DO UPDATE SET minute_idx = EXCLUDED.minute_idx,"
    " minute_n = EXCLUDED.minute_n, day_idx = EXCLUDED.day_idx, day_n = EXCLUDED.day_n,"
    " updated_at = now())"
    " SELECT connection_id, coalesce(sum(minute_n) FILTER (WHERE minute_idx = $4), 0),"
    " coalesce(sum(day_n) FILTER (WHERE day_idx = $5), 0)"
    " FROM ai_rate_windows WHERE instance <> $1 AND connection_id = ANY($2::bigint[])"
    " GROUP BY connection_id";

static void tick(evutil_socket_t fd, short ev, void *arg)
{
    lx_limits_sync_t *ls = arg;
    if (ls->in_flight || !lx_pg_connected(ls->pg))
        return;
    lx_snapshot_t *s = lx_registry_acquire();
    if (s == NULL)
        return;
    int64_t now = lx_wall_ms();
    lx_buf_t ids, mins, days;
    lx_buf_init(&ids, 64), lx_buf_init(&mins, 64), lx_buf_init(&days, 64);
    lx_buf_append_char(&ids, '{'), lx_buf_append_char(&mins, '{'), lx_buf_append_char(&days, '{');
    int n = 0;
    for (int i = 0; i < s->nproviders; i++) {
        const lx_provider_t *p = &s->providers[i];
        for (int j = 0; j < p->ncreds; j++) {
            const lx_credential_t *cr = &p->creds[j];
            if (cr->rate_limit_per_minute <= 0 && cr->rate_limit_per_day <= 0)
                continue;
            lx_route_state_t *st = lx_cred_state_get(cr->id);
            track_t *t = track_get(ls, cr->id);
            if (st == NULL || t == NULL)
                continue;
            track_roll(t, now);
            uint32_t used_m = 0, used_d = 0;
            lx_limits_used(st, now, &used_m, &used_d);
            arr_add(&ids, cr->id);
            arr_add(&mins, used_m > t->absorbed_m ? used_m - t->absorbed_m : 0);
            arr_add(&days, used_d > t->absorbed_d ? used_d - t->absorbed_d : 0);
            n++;
        }
    }
    lx_registry_release(s);
    if (n > 0) {
        lx_buf_append_char(&ids, '}'), lx_buf_append_char(&mins, '}'),
            lx_buf_append_char(&days, '}');
        char mi[24], di[24];
        snprintf(mi, sizeof mi, "%lld", (long long)lx_limits_minute_index(now));
        snprintf(di, sizeof di, "%lld", (long long)lx_limits_day_index(now));
        const char *params[6] = {ls->instance, ids.p, mins.p, mi, di, days.p};
        ctx_t *x = lx_calloc(1, sizeof *x);
        x->ls = ls;
        x->alive = ls->alive;
        if (lx_pg_query(ls->pg, sync_sql, 6, params, 0, on_result, x) == LX_OK)
            ls->in_flight = true;
        else
            free(x);
    }
    lx_buf_free(&ids), lx_buf_free(&mins), lx_buf_free(&days);
}

lx_limits_sync_t *lx_limits_sync_new(struct event_base *base, lx_pg_t *pg)
{
    lx_limits_sync_t *ls = lx_calloc(1, sizeof *ls);
    ls->pg = pg;
    ls->alive = lx_calloc(1, sizeof *ls->alive);
    *ls->alive = true;
    unsigned char r[8];
    lx_random_bytes(r, sizeof r);
    lx_hex(r, sizeof r, ls->instance);
    ls->timer = event_new(base, -1, EV_PERSIST, tick, ls);
    struct timeval tv = {1, 0};
    event_add(ls->timer, &tv);
    return ls;
}

void lx_limits_sync_free(lx_limits_sync_t *ls)
{
    if (ls == NULL)
        return;
    event_free(ls->timer);
    if (ls->in_flight)
        *ls->alive = false; /* the callback frees the flag */
    else
        free(ls->alive);
    free(ls->tracks);
    free(ls);
}
