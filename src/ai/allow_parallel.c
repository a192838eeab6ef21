/* allow_parallel.c - in-flight counts published through ai_limit_inflight
 * (allow_parallel.h). */
#include "ai/allow_parallel.h"
#include "ai/registry.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/crypto.h"
#include "core/log.h"
#include "db/pg.h"

#include <stdio.h>
#include <stdlib.h>

struct lx_allow_parallel {
    lx_pg_t *pg;
    char instance[33]; /* random hex, per process */
    uint32_t ticks;
    bool busy;          /* a publication is in flight */
    bool freed;         /* the owner let go while busy: the answer frees */
    lx_allow_t **slots; /* of the publication in flight */
    int nslots;
    lx_allow_t **known; /* of the last answer */
    int nknown;
    int64_t last_ok_us; /* when it came */
};

/* $1 instance, $2 subjects to write, $3 their counts, $4 subjects to read:
 * the data-modifying CTE runs once whether or not the query reads it; the
 * read sees the rows before it (the others' rows, the ones that count). */
static const char sql[] =
    "WITH up AS (INSERT INTO ai_limit_inflight (subject, instance, n, updated_at)"
    " SELECT s, $1, c, now() FROM unnest($2::text[], $3::int[]) AS u(s, c)"
    " ON CONFLICT (subject, instance) DO UPDATE SET n = EXCLUDED.n, updated_at = now())"
    " SELECT coalesce((SELECT sum(f.n) FROM ai_limit_inflight f WHERE f.subject = r.s"
    " AND f.instance <> $1 AND f.n > 0 AND f.updated_at > now() - interval '3 seconds'), 0)"
    " FROM unnest($4::text[]) WITH ORDINALITY AS r(s, i) ORDER BY r.i";

lx_allow_parallel_t *lx_allow_parallel_new(lx_pg_t *pg)
{
    lx_allow_parallel_t *p = lx_calloc(1, sizeof *p);
    p->pg = pg;
    unsigned char rnd[16];
    lx_random_bytes(rnd, sizeof rnd);
    for (int i = 0; i < 16; i++)
        snprintf(p->instance + 2 * i, 3, "%02x", rnd[i]);
    lx_pg_prepare(pg, "allow_inflight", sql, 4);
    return p;
}

static void drop(lx_allow_parallel_t *p)
{
    free(p->slots);
    p->slots = NULL;
    p->nslots = 0;
}

void lx_allow_parallel_free(lx_allow_parallel_t *p)
{
    if (p == NULL)
        return;
    if (p->busy) {
        p->freed = true;
        return;
    }
    drop(p);
    free(p->known);
    free(p);
}

/* The others' counts are only as good as the last answer: after 3 s
 * without one (the database unreachable), they no longer count, as the
 * instances' own rows would no longer be fresh. */
void lx_allow_parallel_idle(lx_allow_parallel_t *p)
{
    if (p->nknown == 0 || lx_now_us() - p->last_ok_us < 3000000)
        return;
    for (int i = 0; i < p->nknown; i++)
        atomic_store_explicit(&p->known[i]->others, 0, memory_order_relaxed);
    free(p->known);
    p->known = NULL;
    p->nknown = 0;
}

static void on_answer(const lx_pg_result_t *res, void *arg)
{
    lx_allow_parallel_t *p = arg;
    p->busy = false;
    if (!p->freed) {
        if (lx_pg_ok(res) && lx_pg_ntuples(res) == p->nslots) {
            for (int i = 0; i < p->nslots; i++) {
                long v = strtol(lx_pg_value(res, i, 0), NULL, 10);
                atomic_store_explicit(&p->slots[i]->others,
                                      v < 0         ? 0
                                      : v > 1000000 ? 1000000
                                                    : (int32_t)v,
                                      memory_order_relaxed);
            }
            free(p->known);
            p->known = p->slots, p->nknown = p->nslots;
            p->slots = NULL, p->nslots = 0;
            p->last_ok_us = lx_now_us();
        } else {
            if (!lx_pg_ok(res))
                lx_log_warn("in-flight publication failed", "\"subjects\":%d", p->nslots);
            for (int i = 0; i < p->nslots; i++) /* write them again next time */
                p->slots[i]->published = -1;
        }
    }
    drop(p);
    if (p->freed) { /* the owner let go while this was in flight */
        free(p->known);
        free(p);
    }
}

/* Adds a to the tick's list once (slots are shared by keys of one user or
 * team), with its count to write when it is or was non-zero. */
static void add(lx_allow_parallel_t *p, lx_allow_t *a, int *cap, lx_buf_t *ws, lx_buf_t *wc,
                lx_buf_t *rs)
{
    if (a == NULL || a->mark == p->ticks ||
        atomic_load_explicit(&a->max_parallel, memory_order_relaxed) <= 0)
        return;
    a->mark = p->ticks;
    if (p->nslots == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        p->slots = lx_realloc(p->slots, (size_t)*cap * sizeof *p->slots);
    }
    p->slots[p->nslots++] = a;
    lx_buf_printf(rs, "%s%s", rs->n > 1 ? "," : "", a->subject);
    int32_t n = atomic_load_explicit(&a->inflight, memory_order_relaxed);
    if (n < 0)
        n = 0;
    if (n != 0 || a->published != 0) {
        lx_buf_printf(ws, "%s%s", ws->n > 1 ? "," : "", a->subject);
        lx_buf_printf(wc, "%s%d", wc->n > 1 ? "," : "", n);
        a->published = n;
    }
}

void lx_allow_parallel_tick(lx_allow_parallel_t *p, const lx_snapshot_t *s)
{
    if (p->busy) {
        lx_allow_parallel_idle(p);
        return;
    }
    if (++p->ticks == 0)
        p->ticks = 1; /* 0 is a slot's initial mark */
    lx_buf_t ws, wc, rs;
    lx_buf_init(&ws, 64), lx_buf_init(&wc, 64), lx_buf_init(&rs, 64);
    lx_buf_printf(&ws, "{"), lx_buf_printf(&wc, "{"), lx_buf_printf(&rs, "{");
    int cap = 0;
    for (int i = 0; i < s->nkeys; i++)
        for (int k = 0; k < 3; k++)
            add(p, s->keys[i].allow.s[k], &cap, &ws, &wc, &rs);
    for (int i = 0; i < s->nusers; i++) /* JWT users' own, and their teams' */
        add(p, s->users[i].slot, &cap, &ws, &wc, &rs);
    for (int i = 0; i < s->nteams; i++)
        add(p, s->teams[i].slot, &cap, &ws, &wc, &rs);
    lx_buf_printf(&ws, "}"), lx_buf_printf(&wc, "}"), lx_buf_printf(&rs, "}");
    if (p->nslots > 0) {
        const char *params[4] = {p->instance, ws.p, wc.p, rs.p};
        if (lx_pg_query(p->pg, "allow_inflight", 4, params, LX_PG_PREPARED, on_answer, p) == LX_OK)
            p->busy = true;
        else {
            for (int i = 0; i < p->nslots; i++) /* write them again next time */
                p->slots[i]->published = -1;
            drop(p);
        }
    }
    lx_buf_free(&ws), lx_buf_free(&wc), lx_buf_free(&rs);
}
