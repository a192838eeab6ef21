/* pg.c - one non-blocking Postgres connection on a worker's event loop.
 *
 * States: WAIT (no connection; the timer fires the next attempt after a
 * backoff), CONNECTING (PQconnectPoll driven by socket events; the same timer
 * is the connect deadline), READY (pipeline mode; the socket is always
 * watched for READ, and for WRITE only while PQflush has output left) and
 * CLOSING (inside lx_pg_free).
 *
 * Every query is sent as its own pipeline segment: PQsendQuery* followed by
 * a sync. An error then aborts nothing but that query, and a query counts as
 * done only when its sync result arrives (in pipeline mode a COMMAND_OK is
 * not committed before that). The in-flight FIFO therefore matches libpq's
 * own command queue one for one: each entry ends with one PGRES_PIPELINE_SYNC
 * result. The set_config of statement_timeout/application_name and the
 * prepares of registered statements are internal entries of the same FIFO,
 * sent first on every new connection.
 *
 * Callbacks run only when our lists are consistent: the entry is unlinked
 * first. lx_pg_query and lx_pg_prepare never send: they queue and activate
 * a zero-delay "kick" event, so a callback can submit freely and no callback
 * ever runs inside lx_pg_query. lx_pg_free must not be called from inside
 * one of this connection's callbacks (query or on_state): it is asserted.
 *
 * No blocking libpq call runs here: no PQexec/PQconnectdb, PQgetResult only
 * when PQisBusy says it will not wait, and never PQcancel (it blocks; the
 * server-side statement_timeout bounds a slow query instead). Caveat:
 * PQconnectStart resolves a host name with getaddrinfo, which blocks; give a
 * numeric address (hostaddr=) or a unix socket directory on the hot path.
 *
 * lx_pg_new returns NULL for a conninfo that does not parse (start-up
 * fails fast); a server that cannot be reached is retried forever. */
#include "db/pg.h"
#include "db/pg_result.h"
#include "db/conninfo.h"
#include "db/pg_log.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"

#include <assert.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_INFLIGHT       256 /* user queries sent and not yet answered */
#define CONNECT_TIMEOUT_MS 5000
#define BACKOFF_MIN_MS     100
#define BACKOFF_MAX_MS     5000
#define DEFAULT_TIMEOUT_MS 5000
#define DEFAULT_MAX_QUEUE  10000
#define MAX_PARAMS         65535 /* the protocol's limit */

typedef enum { ST_WAIT, ST_CONNECTING, ST_READY, ST_CLOSING } state_t;
typedef enum { IT_QUERY, IT_SETUP, IT_PREPARE } kind_t;

typedef struct stmt {
    struct stmt *next;
    char *name, *sql;
    int nparams;
    bool sent; /* prepare sent on the current connection */
} stmt_t;

typedef struct item {
    struct item *next;
    kind_t kind;
    unsigned flags;
    int nparams;
    const char *sql;           /* SQL text or statement name; same allocation */
    const char *const *params; /* same allocation */
    const int *lengths;        /* binary parameters: their lengths (else NULL) */
    const int *formats;        /* binary parameters: all 1 (else NULL) */
    const stmt_t *stmt;        /* IT_PREPARE */
    lx_pg_cb cb;
    void *arg;
    int64_t t_us;  /* submitted (a query's latency) */
    PGresult *res; /* the query's result, kept until its sync arrives */
    char *err;     /* owned: libpq refused to send it */
} item_t;

typedef struct {
    item_t *head, *tail;
    int n;
} fifo_t;

struct lx_pg {
    struct event_base *base;
    char *conninfo; /* may hold a password: never logged */
    char *app_name;
    char timeout_str[16];
    int max_queue;
    int connect_timeout_ms;
    lx_pg_state_cb on_state;
    void *state_arg;
    void (*on_latency)(int64_t us, void *arg);
    void *latency_arg;

    state_t state;
    PGconn *conn;
    struct event sock_ev, timer, kick;
    bool ev_added;
    evutil_socket_t ev_fd;
    short ev_what;
    int backoff_ms; /* the next wait before reconnecting */
    bool up;        /* the last state reported through on_state */
    bool failing;   /* a connect failed or the connection was lost since the last success */
    bool setup_sent;
    char *listen;     /* lx_pg_listen's channel (an identifier), NULL: none */
    bool listen_sent; /* LISTEN sent on the current connection */
    lx_pg_notify_cb on_notify;
    void *notify_arg;

    stmt_t *stmts, *stmts_tail;
    fifo_t waiting;  /* user queries not sent yet */
    fifo_t inflight; /* sent (user and internal), waiting for their sync */
    int user_inflight;
    int cb_depth; /* > 0 while one of our callbacks runs */
};

static void sock_cb(evutil_socket_t fd, short what, void *arg);
static void conn_lost(lx_pg_t *pg, const char *why);
static bool read_results(lx_pg_t *pg, bool readable);

/* ---- small helpers ---- */

static void fifo_push(fifo_t *f, item_t *it)
{
    it->next = NULL;
    if (f->tail)
        f->tail->next = it;
    else
        f->head = it;
    f->tail = it;
    f->n++;
}

static void fifo_push_front(fifo_t *f, item_t *it)
{
    it->next = f->head;
    f->head = it;
    if (f->tail == NULL)
        f->tail = it;
    f->n++;
}

static item_t *fifo_pop(fifo_t *f)
{
    item_t *it = f->head;
    if (it == NULL)
        return NULL;
    f->head = it->next;
    if (f->head == NULL)
        f->tail = NULL;
    f->n--;
    it->next = NULL;
    return it;
}

/* One allocation holds the item, the parameter pointers and every string.
 * With lengths, the parameters are binary: lengths[i] bytes each, and the
 * item also holds the lengths and the formats. */
static item_t *item_new_with(kind_t kind, const char *sql, int nparams, const char *const *params,
                             const int *lengths)
{
    size_t sql_len = strlen(sql) + 1;
    size_t nints = lengths ? 2 * (size_t)nparams : 0;
    size_t size = sizeof(item_t) + (size_t)nparams * sizeof(char *) + nints * sizeof(int) + sql_len;
    for (int i = 0; i < nparams; i++)
        if (params[i])
            size += lengths ? (size_t)lengths[i] : strlen(params[i]) + 1;
    item_t *it = lx_alloc(size);
    memset(it, 0, sizeof *it);
    it->t_us = lx_now_us();
    char **pv = (char **)(it + 1);
    int *iv = (int *)(pv + nparams);
    char *p = (char *)(iv + nints);
    memcpy(p, sql, sql_len);
    it->sql = p;
    p += sql_len;
    for (int i = 0; i < nparams; i++) {
        if (lengths) {
            iv[i] = params[i] ? lengths[i] : 0;
            iv[nparams + i] = 1;
        }
        if (params[i] == NULL) {
            pv[i] = NULL;
            continue;
        }
        size_t n = lengths ? (size_t)lengths[i] : strlen(params[i]) + 1;
        memcpy(p, params[i], n);
        pv[i] = p;
        p += n;
    }
    it->kind = kind;
    it->nparams = nparams;
    it->params = (const char *const *)pv;
    if (lengths) {
        it->lengths = iv;
        it->formats = iv + nparams;
    }
    return it;
}

static item_t *item_new(kind_t kind, const char *sql, int nparams, const char *const *params)
{
    return item_new_with(kind, sql, nparams, params, NULL);
}

static void item_free(item_t *it)
{
    PQclear(it->res);
    free(it->err);
    free(it);
}

/* A libpq message about pg's connection, trimmed, with the password the
 * conninfo carries replaced (libpq may quote pieces of it). Owned. */
static char *scrubbed(const lx_pg_t *pg, const char *msg)
{
    char buf[512];
    return lx_pg_trimmed_dup(lx_conninfo_scrub(pg->conninfo, msg, buf, sizeof buf));
}

static void notice_cb(void *arg, const char *message)
{
    lx_pg_log(LX_LOG_DEBUG, "postgres notice", message);
}

/* Runs the item's callback (or logs an internal item's failure). The item
 * is already unlinked; the caller frees it afterwards. */
static void deliver(lx_pg_t *pg, item_t *it, PGresult *res, const char *err)
{
    lx_pg_result_t r;
    r.res = res;
    r.error = err ? err : lx_pg_result_error(res, r.ebuf, sizeof r.ebuf);
    if (it->kind == IT_QUERY) {
        if (pg->on_latency)
            pg->on_latency(lx_now_us() - it->t_us, pg->latency_arg);
        if (it->cb) {
            pg->cb_depth++;
            it->cb(&r, it->arg);
            pg->cb_depth--;
        }
        return;
    }
    if (r.error && err == NULL) { /* the server refused our setup */
        if (it->kind == IT_PREPARE) {
            lx_buf_t b;
            lx_buf_init(&b, 0);
            lx_buf_append_json_str(&b, it->stmt->name, strlen(it->stmt->name));
            lx_buf_append_lit(&b, ",\"error\":");
            lx_buf_append_json_str(&b, r.error, strlen(r.error));
            lx_log_warn("postgres prepare failed", "\"statement\":%s", b.p);
            lx_buf_free(&b);
        } else {
            lx_pg_log(LX_LOG_WARN, "postgres session setup failed", r.error);
        }
    }
}

/* ---- socket and timers ---- */

static void watch(lx_pg_t *pg, short what)
{
    evutil_socket_t fd = PQsocket(pg->conn);
    if (pg->ev_added && fd == pg->ev_fd && what == pg->ev_what)
        return;
    if (pg->ev_added)
        event_del(&pg->sock_ev);
    event_assign(&pg->sock_ev, pg->base, fd, (short)(what | EV_PERSIST), sock_cb, pg);
    event_add(&pg->sock_ev, NULL);
    pg->ev_added = true;
    pg->ev_fd = fd;
    pg->ev_what = what;
}

static void unwatch(lx_pg_t *pg)
{
    if (pg->ev_added) {
        event_del(&pg->sock_ev);
        pg->ev_added = false;
    }
}

static void timer_in(lx_pg_t *pg, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(&pg->timer, &tv);
}

static void kick(lx_pg_t *pg)
{
    if (pg->state == ST_READY)
        event_active(&pg->kick, EV_TIMEOUT, 1);
}

/* Closes the connection (the socket event first: libpq closes the fd, and a
 * new socket may get the same number). */
static void drop_conn(lx_pg_t *pg)
{
    unwatch(pg);
    event_del(&pg->kick);
    if (pg->conn) {
        PQfinish(pg->conn);
        pg->conn = NULL;
    }
    pg->setup_sent = false;
    pg->listen_sent = false;
    for (stmt_t *s = pg->stmts; s; s = s->next)
        s->sent = false;
}

static void schedule_reconnect(lx_pg_t *pg)
{
    pg->state = ST_WAIT;
    int ms = pg->backoff_ms;
    pg->backoff_ms = LX_MIN(ms * 2, BACKOFF_MAX_MS);
    timer_in(pg, ms);
}

static void connect_failed(lx_pg_t *pg, const char *why)
{
    pg->failing = true;
    char *clean = scrubbed(pg, why);
    lx_pg_log(LX_LOG_WARN, "postgres connect failed", clean);
    free(clean);
    drop_conn(pg);
    schedule_reconnect(pg);
}

/* ---- sending ---- */

static int send_sync(PGconn *conn)
{
#ifdef LIBPQ_HAS_SEND_PIPELINE_SYNC
    return PQsendPipelineSync(conn); /* libpq 17+: no flush of its own */
#else
    return PQpipelineSync(conn);
#endif
}

/* Sends one item and its sync and moves it to the in-flight FIFO. Returns
 * false when the connection was lost (conn_lost has run, callbacks too). */
static bool send_item(lx_pg_t *pg, item_t *it)
{
    PGconn *conn = pg->conn;
    int ok;
    switch (it->kind) {
    case IT_QUERY:
        if (it->flags & LX_PG_PREPARED)
            ok = PQsendQueryPrepared(conn, it->sql, it->nparams, it->params, it->lengths,
                                     it->formats, 0);
        else
            ok = PQsendQueryParams(conn, it->sql, it->nparams, NULL, it->params, it->lengths,
                                   it->formats, 0);
        break;
    case IT_PREPARE:
        ok = PQsendPrepare(conn, it->stmt->name, it->stmt->sql, it->stmt->nparams, NULL);
        break;
    case IT_SETUP:
    default:
        ok = PQsendQueryParams(conn, it->sql, it->nparams, NULL, it->params, NULL, NULL, 0);
        break;
    }
    if (!ok) {
        if (PQstatus(conn) == CONNECTION_BAD) {
            /* Not sent: a user query waits for the next connection. */
            if (it->kind == IT_QUERY)
                fifo_push_front(&pg->waiting, it);
            else
                item_free(it);
        } else {
            /* libpq refused it for another reason; what it left in its
             * output buffer is unknown, so start over on a new connection
             * and fail this query (after those before it). */
            it->err = scrubbed(pg, PQerrorMessage(conn));
            fifo_push(&pg->inflight, it);
        }
        conn_lost(pg, PQerrorMessage(conn));
        return false;
    }
    fifo_push(&pg->inflight, it);
    if (it->kind == IT_QUERY)
        pg->user_inflight++;
    if (!send_sync(conn)) {
        conn_lost(pg, PQerrorMessage(conn));
        return false;
    }
    return true;
}

static void flush(lx_pg_t *pg)
{
    int r = PQflush(pg->conn);
    if (r < 0) {
        conn_lost(pg, PQerrorMessage(pg->conn));
        return;
    }
    watch(pg, r > 0 ? (short)(EV_READ | EV_WRITE) : (short)EV_READ);
}

/* Sends the session setup and the prepares the connection lacks, then queued
 * queries up to the in-flight limit, then flushes. */
static void pump(lx_pg_t *pg)
{
    if (pg->state != ST_READY)
        return;
    if (!pg->setup_sent) {
        const char *params[2] = {pg->timeout_str, pg->app_name};
        item_t *it = item_new(IT_SETUP,
                              pg->app_name ? "SELECT set_config('statement_timeout', $1, false), "
                                             "set_config('application_name', $2, false)"
                                           : "SELECT set_config('statement_timeout', $1, false)",
                              pg->app_name ? 2 : 1, params);
        pg->setup_sent = true;
        if (!send_item(pg, it))
            return;
    }
    if (pg->listen && !pg->listen_sent) {
        char sql[96];
        snprintf(sql, sizeof sql, "LISTEN %s", pg->listen);
        pg->listen_sent = true;
        if (!send_item(pg, item_new(IT_SETUP, sql, 0, NULL)))
            return;
    }
    for (stmt_t *s = pg->stmts; s; s = s->next) {
        if (s->sent)
            continue;
        item_t *it = item_new(IT_PREPARE, s->name, 0, NULL);
        it->stmt = s;
        s->sent = true;
        if (!send_item(pg, it))
            return;
    }
    while (pg->waiting.head && pg->user_inflight < MAX_INFLIGHT) {
        if (!send_item(pg, fifo_pop(&pg->waiting)))
            return;
    }
    flush(pg);
    /* When the socket is full, libpq reads from it while sending (to avoid
     * a deadlock). What it read sits in its buffer, and no READ event will
     * announce it: parse it now. Freed slots let more go out: kick again. */
    if (pg->state == ST_READY && pg->inflight.head && read_results(pg, false) && pg->waiting.head &&
        pg->user_inflight < MAX_INFLIGHT)
        kick(pg);
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
    pump(arg);
}

/* ---- connection loss ---- */

/* Fails the in-flight queries (they may or may not have run), keeps the
 * waiting ones, reports the state change once, and schedules a reconnect. */
static void conn_lost(lx_pg_t *pg, const char *why)
{
    pg->failing = true;
    char *clean = scrubbed(pg, why); /* before PQfinish frees why */
    lx_pg_log(LX_LOG_WARN, "postgres connection lost", clean);
    free(clean);
    fifo_t lost = pg->inflight;
    pg->inflight = (fifo_t){0};
    pg->user_inflight = 0;
    drop_conn(pg);
    schedule_reconnect(pg);
    bool was_up = pg->up;
    pg->up = false;
    /* From here the lx_pg_t is consistent: callbacks may queue queries. */
    item_t *it;
    while ((it = fifo_pop(&lost))) {
        if (it->err)
            deliver(pg, it, NULL, it->err);
        else if (it->res && lx_pg_res_failed(it->res)) /* e.g. 57P01 admin shutdown */
            deliver(pg, it, it->res, NULL);
        else
            deliver(pg, it, NULL, "connection lost");
        item_free(it);
    }
    if (was_up && pg->on_state) {
        pg->cb_depth++;
        pg->on_state(pg, false, pg->state_arg);
        pg->cb_depth--;
    }
}

/* ---- receiving ---- */

/* Reads what the socket has (when readable) and completes every query whose
 * sync result is in libpq's buffer. Returns false when the connection was
 * lost. */
static bool read_results(lx_pg_t *pg, bool readable)
{
    PGconn *conn = pg->conn;
    /* Keep libpq's reason now: parsing what is left may append to it. */
    char *why = !readable || PQconsumeInput(conn) ? NULL : lx_pg_trimmed_dup(PQerrorMessage(conn));
    int nulls = 0;
    /* Even after a failed read, parse what was buffered: a FATAL error
     * (say 57P01 from pg_terminate_backend) may precede the EOF. */
    while (pg->inflight.head && !PQisBusy(conn)) {
        PGresult *r = PQgetResult(conn);
        if (r == NULL) {
            /* One NULL ends each query's results; two in a row mean libpq
             * has nothing more (it should not happen with entries left). */
            if (++nulls >= 2)
                break;
            continue;
        }
        nulls = 0;
        item_t *it = pg->inflight.head;
        if (PQresultStatus(r) != PGRES_PIPELINE_SYNC) {
            if (it->res && lx_pg_res_failed(it->res)) {
                PQclear(r); /* keep the first error */
            } else {
                PQclear(it->res);
                it->res = r;
            }
            continue;
        }
        PQclear(r);
        fifo_pop(&pg->inflight);
        if (it->kind == IT_QUERY)
            pg->user_inflight--;
        deliver(pg, it, it->res, NULL);
        item_free(it);
        if (pg->state != ST_READY) {
            free(why);
            return false;
        }
    }
    PGnotify *n;
    for (; (n = PQnotifies(conn)) != NULL; PQfreemem(n))
        if (pg->on_notify && pg->listen && strcmp(n->relname, pg->listen) == 0) {
            pg->cb_depth++;
            pg->on_notify(n->extra ? n->extra : "", pg->notify_arg);
            pg->cb_depth--;
        }
    if (why || PQstatus(conn) == CONNECTION_BAD) {
        conn_lost(pg, why ? why : PQerrorMessage(conn));
        free(why);
        return false;
    }
    return true;
}

/* ---- connecting ---- */

static void connected(lx_pg_t *pg)
{
    evtimer_del(&pg->timer);
    if (!PQenterPipelineMode(pg->conn)) {
        connect_failed(pg, PQerrorMessage(pg->conn));
        return;
    }
    pg->backoff_ms = BACKOFF_MIN_MS;
    pg->state = ST_READY;
    pg->failing = false;
    lx_log_info("postgres connected", "\"server_version\":%d,\"backend_pid\":%d",
                PQserverVersion(pg->conn), PQbackendPID(pg->conn));
    pump(pg);
    if (pg->state != ST_READY)
        return; /* lost at once; never reported up */
    pg->up = true;
    if (pg->on_state) {
        pg->cb_depth++;
        pg->on_state(pg, true, pg->state_arg);
        pg->cb_depth--;
    }
}

/* One PQconnectPoll step. The socket may change between steps (another
 * address or host), so the event is removed first and set up again. */
static void connect_step(lx_pg_t *pg)
{
    unwatch(pg);
    switch (PQconnectPoll(pg->conn)) {
    case PGRES_POLLING_READING:
        if (PQsocket(pg->conn) < 0)
            break;
        watch(pg, EV_READ);
        return;
    case PGRES_POLLING_WRITING:
        if (PQsocket(pg->conn) < 0)
            break;
        watch(pg, EV_WRITE);
        return;
    case PGRES_POLLING_OK:
        connected(pg);
        return;
    default:
        break;
    }
    connect_failed(pg, PQerrorMessage(pg->conn));
}

static void start_connect(lx_pg_t *pg)
{
    pg->conn = PQconnectStart(pg->conninfo);
    if (pg->conn == NULL) {
        connect_failed(pg, "out of memory");
        return;
    }
    PQsetNoticeProcessor(pg->conn, notice_cb, pg);
    if (PQstatus(pg->conn) == CONNECTION_BAD || PQsocket(pg->conn) < 0 ||
        PQsetnonblocking(pg->conn, 1) != 0) {
        connect_failed(pg, PQerrorMessage(pg->conn));
        return;
    }
    pg->state = ST_CONNECTING;
    watch(pg, EV_WRITE); /* PQconnectStart left a connect() in progress */
    timer_in(pg, pg->connect_timeout_ms);
}

static void sock_cb(evutil_socket_t fd, short what, void *arg)
{
    lx_pg_t *pg = arg;
    if (pg->state == ST_CONNECTING) {
        connect_step(pg);
        return;
    }
    if (pg->state != ST_READY)
        return;
    if (!read_results(pg, (what & EV_READ) != 0))
        return;
    pump(pg); /* sends what waits and flushes (the WRITE case) */
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    lx_pg_t *pg = arg;
    if (pg->state == ST_WAIT)
        start_connect(pg);
    else if (pg->state == ST_CONNECTING)
        connect_failed(pg, "connect timed out");
}

/* ---- public API ---- */

lx_pg_t *lx_pg_new(struct event_base *base, const char *conninfo, const lx_pg_opts_t *opts)
{
    if (base == NULL || conninfo == NULL)
        return NULL;
    int connect_timeout_ms = lx_conninfo_connect_timeout_ms(conninfo, CONNECT_TIMEOUT_MS);
    if (connect_timeout_ms < 0) {
        /* libpq's message may quote a piece of the string: not logged. */
        lx_log_error("postgres conninfo does not parse", "%s", "");
        return NULL;
    }
    lx_pg_t *pg = lx_calloc(1, sizeof *pg);
    pg->base = base;
    pg->conninfo = lx_strdup(conninfo);
    pg->connect_timeout_ms = connect_timeout_ms;
    int timeout_ms = DEFAULT_TIMEOUT_MS;
    pg->max_queue = DEFAULT_MAX_QUEUE;
    if (opts) {
        if (opts->statement_timeout_ms > 0)
            timeout_ms = opts->statement_timeout_ms;
        else if (opts->statement_timeout_ms < 0)
            timeout_ms = 0; /* no limit */
        if (opts->max_queue > 0)
            pg->max_queue = opts->max_queue;
        if (opts->application_name)
            pg->app_name = lx_strdup(opts->application_name);
        pg->on_state = opts->on_state;
        pg->state_arg = opts->state_arg;
        pg->on_latency = opts->on_latency;
        pg->latency_arg = opts->latency_arg;
    }
    snprintf(pg->timeout_str, sizeof pg->timeout_str, "%d", timeout_ms);
    pg->backoff_ms = BACKOFF_MIN_MS;
    pg->ev_fd = -1;
    evtimer_assign(&pg->timer, base, timer_cb, pg);
    event_assign(&pg->kick, base, -1, 0, kick_cb, pg);
    pg->state = ST_WAIT;
    start_connect(pg);
    return pg;
}

void lx_pg_free(lx_pg_t *pg)
{
    if (pg == NULL)
        return;
    assert(pg->cb_depth == 0 && "lx_pg_free called from one of its own callbacks");
    pg->state = ST_CLOSING; /* lx_pg_query/lx_pg_prepare now fail */
    evtimer_del(&pg->timer);
    drop_conn(pg);
    item_t *it;
    while ((it = fifo_pop(&pg->inflight))) {
        deliver(pg, it, NULL, "closing");
        item_free(it);
    }
    while ((it = fifo_pop(&pg->waiting))) {
        deliver(pg, it, NULL, "closing");
        item_free(it);
    }
    while (pg->stmts) {
        stmt_t *s = pg->stmts;
        pg->stmts = s->next;
        free(s->name);
        free(s->sql);
        free(s);
    }
    free(pg->conninfo);
    free(pg->app_name);
    free(pg->listen);
    free(pg);
}

bool lx_pg_connected(const lx_pg_t *pg)
{
    return pg->state == ST_READY;
}

bool lx_pg_down(const lx_pg_t *pg)
{
    return pg->state != ST_READY && pg->failing;
}

int lx_pg_pending(const lx_pg_t *pg)
{
    return pg->waiting.n + pg->user_inflight;
}

int lx_pg_listen(lx_pg_t *pg, const char *channel, lx_pg_notify_cb cb, void *arg)
{
    size_t n = channel ? strlen(channel) : 0;
    if (pg == NULL || cb == NULL || n == 0 || n > 63 || pg->listen || pg->state == ST_CLOSING ||
        strspn(channel, "abcdefghijklmnopqrstuvwxyz_0123456789") != n || channel[0] <= '9')
        return LX_ERROR;
    pg->listen = lx_strdup(channel);
    pg->on_notify = cb;
    pg->notify_arg = arg;
    kick(pg); /* sent before any query submitted after this call */
    return LX_OK;
}

void lx_pg_listen_stop(lx_pg_t *pg)
{
    if (pg)
        pg->on_notify = NULL;
}

int lx_pg_prepare(lx_pg_t *pg, const char *name, const char *sql, int nparams)
{
    if (pg == NULL || name == NULL || *name == '\0' || sql == NULL || nparams < 0 ||
        nparams > MAX_PARAMS || pg->state == ST_CLOSING)
        return LX_ERROR;
    for (stmt_t *s = pg->stmts; s; s = s->next) {
        if (strcmp(s->name, name) == 0) /* the same registration again is fine */
            return strcmp(s->sql, sql) == 0 && s->nparams == nparams ? LX_OK : LX_ERROR;
    }
    stmt_t *s = lx_calloc(1, sizeof *s);
    s->name = lx_strdup(name);
    s->sql = lx_strdup(sql);
    s->nparams = nparams;
    if (pg->stmts_tail)
        pg->stmts_tail->next = s;
    else
        pg->stmts = s;
    pg->stmts_tail = s;
    kick(pg); /* sent before any query submitted after this call */
    return LX_OK;
}

static int submit(lx_pg_t *pg, const char *sql, int nparams, const char *const *params,
                  const int *lengths, unsigned flags, lx_pg_cb cb, void *arg)
{
    if (pg == NULL || sql == NULL || nparams < 0 || nparams > MAX_PARAMS ||
        (nparams > 0 && params == NULL) || pg->state == ST_CLOSING)
        return LX_ERROR;
    if (pg->waiting.n >= pg->max_queue)
        return LX_ERROR;
    item_t *it = item_new_with(IT_QUERY, sql, nparams, params, lengths);
    it->flags = flags;
    it->cb = cb;
    it->arg = arg;
    fifo_push(&pg->waiting, it);
    if (pg->user_inflight < MAX_INFLIGHT)
        kick(pg);
    return LX_OK;
}

int lx_pg_query(lx_pg_t *pg, const char *sql, int nparams, const char *const *params,
                unsigned flags, lx_pg_cb cb, void *arg)
{
    return submit(pg, sql, nparams, params, NULL, flags, cb, arg);
}

int lx_pg_query_binary(lx_pg_t *pg, const char *sql, int nparams, const char *const *params,
                       const int *lengths, unsigned flags, lx_pg_cb cb, void *arg)
{
    if (nparams > 0 && lengths == NULL)
        return LX_ERROR;
    for (int i = 0; i < nparams; i++)
        if (params && params[i] && lengths[i] < 0)
            return LX_ERROR;
    return submit(pg, sql, nparams, params, lengths, flags, cb, arg);
}
