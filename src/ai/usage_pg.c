/* usage_pg.c - usage records to Postgres, off the request path.
 *
 * push() copies the record into this worker's queue and returns: a request
 * never waits on the database. The queue is a list of blocks of BLOCK
 * records, allocated as it grows and freed as batches are confirmed, so its
 * memory follows the backlog (a few blocks under load), not the capacity
 * (20,000 records, 18 MB, all resident once a fixed ring had gone round).
 *
 * A timer (100 ms) or a full batch starts a flush: the oldest records (up
 * to BATCH) become one prepared INSERT ... SELECT unnest(arrays), the
 * arrays in Postgres' binary format, so a batch is one round trip and the
 * server parses no text.
 *
 * Rows leave the queue only when the database confirmed them; a failed or
 * lost batch is sent again, the same records under the same number. Each
 * sink is a writer with a random id, and the statement first moves its row
 * in ai_usage_writers from the previous batch number to this one: when that
 * row already holds this number, the batch was committed before (only its
 * answer was lost) and nothing is inserted. One small row per batch makes
 * retries idempotent, instead of a unique index entry per usage row. The
 * same statement moves the batch's keys' api_keys.last_used_at forward
 * (once a second per key at most, so a busy key is not a hot row). */
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

/* Large batches: a statement costs Postgres about 150 us beyond its rows
 * (bench/scenarios/usage_rows.sh: 3.3-3.6 us per row in batches of 256,
 * 2.9 in batches of 1,024). Under load a batch fills in well under the tick. */
#define BATCH    2048
#define BLOCK    64 /* records per block: 126 KB, under malloc's mmap threshold */
#define FLUSH_AT LX_USAGE_PG_FLUSH_AT
#define TICK_MS  100
#define NCOLS    22 /* the usage arrays; then the writer id and the batch number */
#define NPARAMS  (NCOLS + 2)
#define STMT     "lx_usage_insert"

/* Element types of the arrays (fixed OIDs of Postgres' built-in types). */
enum { OID_INT8 = 20, OID_INT4 = 23, OID_TEXT = 25, OID_TIMESTAMPTZ = 1184, OID_NUMERIC = 1700 };

#define PG_EPOCH_MS INT64_C(946684800000) /* 2000-01-01T00:00:00Z, Postgres' time zero */

typedef struct block {
    struct block *next;
    lx_usage_t rec[BLOCK];
} block_t;

struct lx_usage_pg {
    lx_usage_sink_t sink; /* first: the sink pointer is the struct pointer */
    lx_pg_t *pg;
    struct event timer;
    /* The queued records: count of them from first->rec[head] on; the next
     * goes to last->rec[tail] (a new block when tail == BLOCK). */
    block_t *first, *last;
    block_t *spare; /* one emptied block kept, so a steady load does not malloc */
    size_t head, tail, count, cap;
    bool freed;     /* lx_usage_pg_free ran while a batch was out */
    size_t batch;   /* the oldest batch records form the unconfirmed batch (0: none) */
    bool in_flight; /* that batch is being written */
    int64_t seq;    /* its number; batches 1 .. seq - 1 are confirmed */
    unsigned char writer[16];
    /* What /metrics reads from any thread; written by the loop only. */
    _Atomic uint64_t dropped, written, depth; /* depth: count, published */
    lx_hist_t flush_hist;                     /* a batch's send to its answer */
    int64_t sent_us;                          /* when the batch out was sent */
    int64_t last_drop_log_ms;
};

/* The unnest calls sit in the select list: one ProjectSet node, no
 * tuplestore per array as with unnest in FROM (up to 1 us less per row).
 * NULLs are NULL elements of the arrays. */
static const char insert_sql[] =
    "WITH claimed AS (INSERT INTO ai_usage_writers AS w (writer, seq) VALUES ($23::uuid, "
    "$24::bigint) ON CONFLICT (writer) DO UPDATE SET seq = excluded.seq, updated_at = now() "
    "WHERE w.seq < excluded.seq RETURNING 1), "
    /* the keys' last use, written at most once a second per key */
    "used AS (UPDATE api_keys k SET last_used_at = v.t FROM (SELECT x.id, max(x.t) AS t "
    "FROM unnest($2::bigint[], $15::timestamptz[]) AS x(id, t) WHERE x.id IS NOT NULL "
    "GROUP BY x.id) v WHERE k.id = v.id AND (k.last_used_at IS NULL OR "
    "k.last_used_at < v.t - interval '1 second') AND EXISTS (SELECT FROM claimed)) "
    "INSERT INTO ai_usage (request_id, api_key_id, connection_id, provider, model, feature, "
    "tokens_in, tokens_out, tokens_cached, cost_usd, status, error, ttfb_us, total_us, "
    "created_at, requested_model, error_code, user_id, team_id, overhead_us, ttfc_us, attempts) "
    "SELECT unnest($1::text[]), unnest($2::bigint[]), unnest($3::bigint[]), unnest($4::text[]), "
    "unnest($5::text[]), unnest($6::text[]), unnest($7::bigint[]), unnest($8::bigint[]), "
    "unnest($9::bigint[]), unnest($10::numeric[]), unnest($11::int[]), unnest($12::text[]), "
    "unnest($13::bigint[]), unnest($14::bigint[]), unnest($15::timestamptz[]), "
    "unnest($16::text[]), unnest($17::text[]), unnest($18::bigint[]), unnest($19::bigint[]), "
    "unnest($20::bigint[]), unnest($21::bigint[]), unnest($22::text[]) "
    "WHERE EXISTS (SELECT FROM claimed)";

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

/* One writer (the loop): a load and a store. */
static void set(_Atomic uint64_t *v, uint64_t x)
{
    atomic_store_explicit(v, x, memory_order_relaxed);
}

static uint64_t get(const _Atomic uint64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

static void block_release(lx_usage_pg_t *s, block_t *b)
{
    if (s->spare == NULL)
        s->spare = b;
    else
        free(b);
}

static lx_usage_t *slot_new(lx_usage_pg_t *s)
{
    if (s->last == NULL || s->tail == BLOCK) {
        block_t *b = s->spare ? s->spare : lx_alloc(sizeof *b);
        s->spare = NULL;
        b->next = NULL;
        if (s->last)
            s->last->next = b;
        else
            s->first = b;
        s->last = b;
        s->tail = 0;
    }
    return &s->last->rec[s->tail++];
}

/* Drops the n oldest records (a confirmed batch) and the blocks they emptied. */
static void drop_oldest(lx_usage_pg_t *s, size_t n)
{
    s->head += n;
    s->count -= n;
    set(&s->depth, s->count);
    while (s->first && (s->head >= BLOCK || s->count == 0)) {
        block_t *b = s->first;
        s->first = b->next;
        s->head = s->head >= BLOCK ? s->head - BLOCK : 0;
        block_release(s, b);
    }
    if (s->first == NULL) {
        s->last = NULL;
        s->head = 0;
    }
}

/* ---- binary format (network byte order) ---- */

static void be16(lx_buf_t *b, uint16_t v)
{
    unsigned char x[2] = {(unsigned char)(v >> 8), (unsigned char)v};
    lx_buf_append(b, x, 2);
}

static void be32(lx_buf_t *b, uint32_t v)
{
    unsigned char x[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    lx_buf_append(b, x, 4);
}

static void be64(lx_buf_t *b, uint64_t v)
{
    be32(b, (uint32_t)(v >> 32));
    be32(b, (uint32_t)v);
}

/* A one-dimensional array of n elements: dimensions, "has nulls" flag (set
 * by el_null: the buffer holds this array alone), element type, length and
 * lower bound 1. */
static void arr_begin(lx_buf_t *b, uint32_t elem_oid, size_t n)
{
    be32(b, 1);
    be32(b, 0);
    be32(b, elem_oid);
    be32(b, (uint32_t)n);
    be32(b, 1);
}

static void el_null(lx_buf_t *b)
{
    be32(b, UINT32_MAX); /* length -1 */
    b->p[7] = 1;
}

static void el_int8(lx_buf_t *b, int64_t v)
{
    be32(b, 8);
    be64(b, (uint64_t)v);
}

/* The length of the valid UTF-8 sequence at p (n > 0 bytes left), 0 if the
 * bytes there are not one (Postgres rejects overlong forms, surrogates and
 * code points past U+10FFFF as well). */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    size_t len = c >= 0xC2 && c <= 0xDF   ? 2
                 : c >= 0xE0 && c <= 0xEF ? 3
                 : c >= 0xF0 && c <= 0xF4 ? 4
                                          : 0;
    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F) || (c == 0xF0 && p[1] < 0x90) ||
        (c == 0xF4 && p[1] > 0x8F))
        return 0;
    return len;
}

/* Text as is when it is valid UTF-8 (as it nearly always is); otherwise each
 * byte that does not start a valid sequence becomes '?' (a name cut in the
 * middle of a character, say), so the length stays: one bad string must not
 * fail its batch for ever. */
static void el_text(lx_buf_t *b, const char *v)
{
    const unsigned char *p = (const unsigned char *)v;
    size_t n = strlen(v), i = 0;
    while (i < n && p[i] < 0x80)
        i++;
    be32(b, (uint32_t)n);
    if (i == n) {
        lx_buf_append(b, v, n);
        return;
    }
    lx_buf_append(b, v, i);
    while (i < n) {
        size_t k = utf8_seq(p + i, n - i);
        if (k == 0) {
            lx_buf_append_char(b, '?');
            i++;
        } else {
            lx_buf_append(b, p + i, k);
            i += k;
        }
    }
}

/* Cost in USD as NUMERIC with 8 decimals (base-10000 digits, weight of the
 * first, sign, display scale), rounded to 1e-8 the way the text form was.
 * ai_usage.cost_usd is NUMERIC(18, 8): a value it cannot hold is clamped. */
static void el_cost(lx_buf_t *b, double usd)
{
    const int64_t max_units = INT64_C(999999999999999999);
    int64_t units;
    if (usd != usd)
        units = 0;
    else if (usd >= 1e10)
        units = max_units;
    else if (usd <= -1e10)
        units = -max_units;
    else
        units = (int64_t)(usd * 1e8 + (usd >= 0 ? 0.5 : -0.5));
    if (units > max_units || units < -max_units)
        units = units < 0 ? -max_units : max_units;
    bool neg = units < 0;
    uint64_t u = (uint64_t)(neg ? -units : units), ip = u / 100000000, fr = u % 100000000;
    uint16_t d[6], ig[3];
    int ni = 0, nd = 0;
    for (; ip; ip /= 10000)
        ig[ni++] = (uint16_t)(ip % 10000);
    for (int i = ni - 1; i >= 0; i--)
        d[nd++] = ig[i];
    d[nd++] = (uint16_t)(fr / 10000);
    d[nd++] = (uint16_t)(fr % 10000);
    int first = 0, weight = ni - 1;
    while (first < nd && d[first] == 0) {
        first++;
        weight--;
    }
    while (nd > first && d[nd - 1] == 0)
        nd--;
    int ndigits = nd - first;
    if (ndigits == 0) {
        weight = 0;
        neg = false;
    }
    be32(b, (uint32_t)(8 + 2 * ndigits));
    be16(b, (uint16_t)ndigits);
    be16(b, (uint16_t)(int16_t)weight);
    be16(b, neg ? 0x4000 : 0);
    be16(b, 8);
    for (int i = first; i < nd; i++)
        be16(b, d[i]);
}

static void on_written(const lx_pg_result_t *res, void *arg)
{
    lx_usage_pg_t *s = arg;
    s->in_flight = false;
    if (s->freed) { /* the sink was freed while this batch was out */
        free(s);
        return;
    }
    if (!lx_pg_ok(res)) {
        /* Committed or not, it goes again as it is: same records, same
         * number (a committed one then inserts nothing). */
        lx_log_warn("usage batch not written; will retry", "\"records\":%zu,\"queued\":%zu",
                    s->batch, s->count);
        return;
    }
    lx_hist_observe(&s->flush_hist, lx_now_us() - s->sent_us);
    drop_oldest(s, s->batch);
    set(&s->written, get(&s->written) + s->batch);
    s->batch = 0;
    s->seq++;
    if (s->count >= FLUSH_AT)
        lx_usage_pg_flush(s);
}

void lx_usage_pg_flush(lx_usage_pg_t *s)
{
    if (s->in_flight || s->count == 0 || !lx_pg_connected(s->pg))
        return;
    if (s->batch == 0)
        s->batch = LX_MIN(s->count, (size_t)BATCH);
    size_t n = s->batch;
    static const uint32_t oid[NCOLS] = {
        OID_TEXT, OID_INT8,    OID_INT8, OID_TEXT, OID_TEXT, OID_TEXT, OID_INT8,        OID_INT8,
        OID_INT8, OID_NUMERIC, OID_INT4, OID_TEXT, OID_INT8, OID_INT8, OID_TIMESTAMPTZ, OID_TEXT,
        OID_TEXT, OID_INT8,    OID_INT8, OID_INT8, OID_INT8, OID_TEXT};
    lx_buf_t col[NCOLS];
    for (int c = 0; c < NCOLS; c++) {
        lx_buf_init(&col[c], 20 + n * (c == 0 || c == 5 ? 36 : c == 21 ? 200 : 16));
        arr_begin(&col[c], oid[c], n);
    }
    const block_t *blk = s->first;
    size_t at = s->head;
    for (size_t i = 0; i < n; i++, at++) {
        if (at == BLOCK) {
            blk = blk->next;
            at = 0;
        }
        const lx_usage_t *u = &blk->rec[at];
        el_text(&col[0], u->request_id);
        if (u->api_key_id)
            el_int8(&col[1], u->api_key_id);
        else
            el_null(&col[1]);
        if (u->connection_id)
            el_int8(&col[2], u->connection_id);
        else
            el_null(&col[2]);
        el_text(&col[3], u->provider);
        el_text(&col[4], u->model);
        el_text(&col[5], u->feature ? u->feature : "");
        el_int8(&col[6], u->tokens_in);
        el_int8(&col[7], u->tokens_out);
        el_int8(&col[8], u->tokens_cached);
        el_cost(&col[9], u->cost_usd);
        be32(&col[10], 4);
        be32(&col[10], (uint32_t)u->status);
        if (u->error[0])
            el_text(&col[11], u->error);
        else
            el_null(&col[11]);
        if (u->ttfb_us >= 0)
            el_int8(&col[12], u->ttfb_us);
        else
            el_null(&col[12]);
        el_int8(&col[13], u->total_us);
        el_int8(&col[14], (u->created_ms - PG_EPOCH_MS) * 1000);
        if (u->requested_model[0])
            el_text(&col[15], u->requested_model);
        else
            el_null(&col[15]);
        if (u->error_code[0])
            el_text(&col[16], u->error_code);
        else
            el_null(&col[16]);
        if (u->user_id)
            el_int8(&col[17], u->user_id);
        else
            el_null(&col[17]);
        if (u->team_id)
            el_int8(&col[18], u->team_id);
        else
            el_null(&col[18]);
        if (u->overhead_us >= 0)
            el_int8(&col[19], u->overhead_us);
        else
            el_null(&col[19]);
        if (u->ttfc_us > 0) /* 0: a record that never measured it (a refusal's) */
            el_int8(&col[20], u->ttfc_us);
        else
            el_null(&col[20]);
        if (u->attempts[0])
            el_text(&col[21], u->attempts);
        else
            el_null(&col[21]);
    }
    unsigned char seq[8];
    for (int k = 0; k < 8; k++)
        seq[k] = (unsigned char)((uint64_t)s->seq >> (56 - 8 * k));
    const char *params[NPARAMS];
    int lengths[NPARAMS];
    for (int c = 0; c < NCOLS; c++) {
        params[c] = col[c].p;
        lengths[c] = (int)col[c].n;
    }
    params[NCOLS] = (const char *)s->writer;
    lengths[NCOLS] = sizeof s->writer;
    params[NCOLS + 1] = (const char *)seq;
    lengths[NCOLS + 1] = sizeof seq;
    s->in_flight = true;
    s->sent_us = lx_now_us();
    if (lx_pg_query_binary(s->pg, STMT, NPARAMS, params, lengths, LX_PG_PREPARED, on_written, s) !=
        LX_OK)
        s->in_flight = false; /* queue full: try again next tick */
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
        set(&s->dropped, get(&s->dropped) + 1);
        int64_t now = lx_wall_ms();
        if (now - s->last_drop_log_ms > 1000) { /* counted always, logged once a second */
            s->last_drop_log_ms = now;
            lx_log_error("usage queue full: records dropped",
                         "\"dropped_total\":%llu,\"capacity\":%zu",
                         (unsigned long long)get(&s->dropped), s->cap);
        }
        return;
    }
    *slot_new(s) = *u;
    s->count++;
    set(&s->depth, s->count);
    if (s->count >= FLUSH_AT)
        lx_usage_pg_flush(s);
}

lx_usage_pg_t *lx_usage_pg_new(struct event_base *base, lx_pg_t *pg, size_t capacity)
{
    lx_usage_pg_t *s = lx_calloc(1, sizeof *s);
    s->sink.push = push;
    s->pg = pg;
    s->cap = capacity ? capacity : 20000;
    s->seq = 1;
    lx_random_bytes(s->writer, sizeof s->writer);
    s->writer[6] = (unsigned char)((s->writer[6] & 0x0F) | 0x40); /* a version 4 UUID */
    s->writer[8] = (unsigned char)((s->writer[8] & 0x3F) | 0x80);
    lx_pg_prepare(pg, STMT, insert_sql, NPARAMS);
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
    return get(&s->dropped);
}

uint64_t lx_usage_pg_written(const lx_usage_pg_t *s)
{
    return get(&s->written);
}

uint64_t lx_usage_pg_depth(const lx_usage_pg_t *s)
{
    return get(&s->depth);
}

const lx_hist_t *lx_usage_pg_flush_hist(const lx_usage_pg_t *s)
{
    return &s->flush_hist;
}

void lx_usage_pg_free(lx_usage_pg_t *s)
{
    if (s == NULL)
        return;
    event_del(&s->timer);
    if (s->count)
        lx_log_error("usage records not written at exit", "\"records\":%zu", s->count);
    while (s->first) {
        block_t *b = s->first;
        s->first = b->next;
        free(b);
    }
    free(s->spare);
    s->last = s->spare = NULL;
    s->freed = true;
    /* A batch still out holds s as its callback argument: lx_pg_free (which
     * the worker calls after this) fails it, and on_written frees s then. */
    if (!s->in_flight)
        free(s);
}
