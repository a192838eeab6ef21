/* usage_pg.c - usage records to Postgres, off the request path.
 *
 * push() copies the record into this worker's ring and returns: a request
 * never waits on the database. A timer (100 ms) or a full batch starts a
 * flush: the oldest records (up to BATCH) become one INSERT ... SELECT FROM
 * unnest(arrays), a prepared statement, so a batch is one round trip. Rows
 * leave the ring only when the database confirmed them; a failed or lost
 * batch is sent again, and record_id (unique) makes that idempotent. */
#include "ai/usage.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/crypto.h"
#include "core/log.h"
#include "db/pg.h"

#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define BATCH    500
#define FLUSH_AT 256
#define TICK_MS  100
#define NCOLS    16
#define STMT     "lx_usage_insert"

struct lx_usage_pg {
    lx_usage_sink_t sink; /* first: the sink pointer is the struct pointer */
    lx_pg_t *pg;
    struct event timer;
    lx_usage_t *ring;
    size_t cap, head, count; /* records [head, head + count) modulo cap */
    size_t in_flight;        /* the oldest in_flight records are being written */
    uint64_t dropped, written;
    int64_t last_drop_log_ms;
};

static const char insert_sql[] =
    "INSERT INTO ai_usage (record_id, request_id, api_key_id, connection_id, provider, model, "
    "feature, tokens_in, tokens_out, tokens_cached, cost_usd, status, error, ttfb_us, total_us, "
    "created_at) "
    "SELECT r, q, NULLIF(k, 0), NULLIF(c, 0), p, m, f, ti, tout, tc, cost, st, NULLIF(e, ''), "
    "NULLIF(tt, -1), tot, to_timestamp(at / 1000.0) "
    "FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], "
    "$7::text[], $8::bigint[], $9::bigint[], $10::bigint[], $11::numeric[], $12::int[], "
    "$13::text[], $14::bigint[], $15::bigint[], $16::bigint[]) "
    "AS u(r, q, k, c, p, m, f, ti, tout, tc, cost, st, e, tt, tot, at) "
    "ON CONFLICT (record_id) DO NOTHING";

static _Thread_local uint64_t tl_seq;
static _Thread_local char tl_salt[13];

void lx_usage_new_id(lx_usage_t *u, int worker_id)
{
    if (tl_salt[0] == '\0') {
        unsigned char r[6];
        lx_random_bytes(r, sizeof r);
        lx_hex(r, sizeof r, tl_salt);
    }
    snprintf(u->record_id, sizeof u->record_id, "%s-%d-%llu", tl_salt, worker_id,
             (unsigned long long)++tl_seq);
}

static lx_usage_t *at(lx_usage_pg_t *s, size_t i)
{
    return &s->ring[(s->head + i) % s->cap];
}

/* Appends one element of a Postgres array literal. */
static void arr_str(lx_buf_t *b, const char *v)
{
    lx_buf_append_char(b, b->n > 1 ? ',' : '{');
    lx_buf_append_char(b, '"');
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\')
            lx_buf_append_char(b, '\\');
        lx_buf_append_char(b, *p);
    }
    lx_buf_append_char(b, '"');
}

/* Appends one integer element (no printf: a batch has thousands). */
static void arr_int(lx_buf_t *b, int64_t v)
{
    char tmp[24], *e = tmp + sizeof tmp, *p = e;
    uint64_t u = v < 0 ? (uint64_t)(-(v + 1)) + 1 : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    lx_buf_append_char(b, b->n > 1 ? ',' : '{');
    lx_buf_append(b, p, (size_t)(e - p));
}

/* Cost in USD with 8 decimals, as an exact decimal (micro-dollar cents). */
static void arr_cost(lx_buf_t *b, double usd)
{
    int64_t units = (int64_t)(usd * 1e8 + (usd >= 0 ? 0.5 : -0.5));
    arr_int(b, units / 100000000);
    int64_t frac = units % 100000000;
    if (frac < 0)
        frac = -frac;
    char f[10];
    for (int i = 7; i >= 0; i--, frac /= 10)
        f[i] = (char)('0' + frac % 10);
    lx_buf_append_char(b, '.');
    lx_buf_append(b, f, 8);
}

static void on_written(const lx_pg_result_t *res, void *arg)
{
    lx_usage_pg_t *s = arg;
    size_t n = s->in_flight;
    s->in_flight = 0;
    if (s->ring == NULL) { /* the sink was freed while this batch was out */
        free(s);
        return;
    }
    if (!lx_pg_ok(res)) {
        lx_log_warn("usage batch not written; will retry", "\"records\":%zu,\"queued\":%zu", n,
                    s->count);
        return;
    }
    s->head = (s->head + n) % s->cap;
    s->count -= n;
    s->written += n;
    if (s->count >= FLUSH_AT)
        lx_usage_pg_flush(s);
}

void lx_usage_pg_flush(lx_usage_pg_t *s)
{
    if (s->in_flight || s->count == 0 || !lx_pg_connected(s->pg))
        return;
    size_t n = LX_MIN(s->count, (size_t)BATCH);
    lx_buf_t col[NCOLS];
    for (int c = 0; c < NCOLS; c++)
        lx_buf_init(&col[c], n * 16 + 2);
    for (size_t i = 0; i < n; i++) {
        const lx_usage_t *u = at(s, i);
        arr_str(&col[0], u->record_id);
        arr_str(&col[1], u->request_id);
        arr_int(&col[2], u->api_key_id);
        arr_int(&col[3], u->connection_id);
        arr_str(&col[4], u->provider);
        arr_str(&col[5], u->model);
        arr_str(&col[6], u->feature);
        arr_int(&col[7], u->tokens_in);
        arr_int(&col[8], u->tokens_out);
        arr_int(&col[9], u->tokens_cached);
        arr_cost(&col[10], u->cost_usd);
        arr_int(&col[11], u->status);
        arr_str(&col[12], u->error);
        arr_int(&col[13], u->ttfb_us);
        arr_int(&col[14], u->total_us);
        arr_int(&col[15], u->created_ms);
    }
    const char *params[NCOLS];
    for (int c = 0; c < NCOLS; c++) {
        lx_buf_append_char(&col[c], '}');
        params[c] = col[c].p;
    }
    s->in_flight = n;
    if (lx_pg_query(s->pg, STMT, NCOLS, params, LX_PG_PREPARED, on_written, s) != LX_OK)
        s->in_flight = 0; /* queue full: try again next tick */
    for (int c = 0; c < NCOLS; c++)
        lx_buf_free(&col[c]);
}

static void tick(evutil_socket_t fd, short ev, void *arg)
{
    lx_usage_pg_flush(arg);
}

static void push(lx_usage_sink_t *sink, const lx_usage_t *u)
{
    lx_usage_pg_t *s = (lx_usage_pg_t *)sink;
    if (s->count == s->cap) {
        s->dropped++;
        int64_t now = lx_wall_ms();
        if (now - s->last_drop_log_ms > 1000) { /* counted always, logged once a second */
            s->last_drop_log_ms = now;
            lx_log_error("usage queue full: records dropped",
                         "\"dropped_total\":%llu,\"capacity\":%zu", (unsigned long long)s->dropped,
                         s->cap);
        }
        return;
    }
    *at(s, s->count) = *u;
    s->count++;
    if (s->count >= FLUSH_AT)
        lx_usage_pg_flush(s);
}

lx_usage_pg_t *lx_usage_pg_new(struct event_base *base, lx_pg_t *pg, size_t capacity)
{
    lx_usage_pg_t *s = lx_calloc(1, sizeof *s);
    s->sink.push = push;
    s->pg = pg;
    s->cap = capacity ? capacity : 20000;
    s->ring = lx_calloc(s->cap, sizeof *s->ring);
    lx_pg_prepare(pg, STMT, insert_sql, NCOLS);
    event_assign(&s->timer, base, -1, EV_PERSIST, tick, s);
    struct timeval tv = {0, TICK_MS * 1000};
    event_add(&s->timer, &tv);
    return s;
}

lx_usage_sink_t *lx_usage_pg_sink(lx_usage_pg_t *s)
{
    return &s->sink;
}

size_t lx_usage_pg_pending(const lx_usage_pg_t *s)
{
    return s->count;
}

uint64_t lx_usage_pg_dropped(const lx_usage_pg_t *s)
{
    return s->dropped;
}

uint64_t lx_usage_pg_written(const lx_usage_pg_t *s)
{
    return s->written;
}

void lx_usage_pg_free(lx_usage_pg_t *s)
{
    if (s == NULL)
        return;
    event_del(&s->timer);
    if (s->count)
        lx_log_error("usage records not written at exit", "\"records\":%zu", s->count);
    free(s->ring);
    s->ring = NULL;
    /* A batch still out holds s as its callback argument: lx_pg_free (which
     * the worker calls after this) fails it, and on_written frees s then. */
    if (s->in_flight == 0)
        free(s);
}
