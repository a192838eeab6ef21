/* pg.h - one non-blocking Postgres connection driven by a worker's event
 * loop (the only code besides migrate.c and the registry loader that
 * includes libpq-fe.h).
 *
 * Ownership: the lx_pg_t belongs to its loop thread; every function runs
 * there. Queries are queued in order and sent in pipeline mode; parameters
 * are copied at submit time. Each query's callback runs exactly once, on the
 * loop: with a result, or with an error (connection lost, statement failed,
 * timed out, or the lx_pg_t being freed: then res->error says "closing").
 * The result is borrowed: valid only during the callback.
 *
 * The connection connects with PQconnectStart/PQconnectPoll on events,
 * reconnects on its own with exponential backoff (100 ms .. 5 s) when the
 * server goes away, sets statement_timeout, and prepares named statements
 * again after every reconnect. While disconnected, queries wait in the
 * queue (bounded: past max_queue, submit fails at once). */
#ifndef LX_DB_PG_H
#define LX_DB_PG_H

#include "core/common.h"

struct event_base;
typedef struct lx_pg lx_pg_t;
typedef struct lx_pg_result lx_pg_result_t;

typedef void (*lx_pg_cb)(const lx_pg_result_t *res, void *arg);
/* Called on every change of connection state (connected true/false). */
typedef void (*lx_pg_state_cb)(lx_pg_t *pg, bool connected, void *arg);

typedef struct {
    int statement_timeout_ms; /* default 5000 */
    int max_queue;            /* default 10000 queries waiting */
    const char *application_name;
    lx_pg_state_cb on_state;
    void *state_arg;
    /* Called on the loop with each query's time from submit to its answer
     * (metrics); NULL: none. */
    void (*on_latency)(int64_t us, void *arg);
    void *latency_arg;
} lx_pg_opts_t;

/* conninfo is copied. Starts connecting at once (asynchronously). */
lx_pg_t *lx_pg_new(struct event_base *base, const char *conninfo, const lx_pg_opts_t *opts);
/* Fails queued queries with "closing" (their callbacks run before this
 * returns), closes the connection, frees everything. */
void lx_pg_free(lx_pg_t *pg);
bool lx_pg_connected(const lx_pg_t *pg);
/* Known down: not connected, and the last attempt failed or the connection
 * was lost since the last success (false while a first attempt is still
 * under way). A caller may refuse at once instead of queueing. */
bool lx_pg_down(const lx_pg_t *pg);
/* Queries submitted and not yet answered. */
int lx_pg_pending(const lx_pg_t *pg);

/* Notifications: on every (re)connection, before any query, the
 * connection sends LISTEN channel (a lower-case identifier: [a-z_][a-z0-9_]*,
 * at most 63 bytes; one channel per connection), and cb runs on the loop
 * with each notification's payload (borrowed for the call) as it arrives.
 * Notifications sent while the connection was down are lost: a listener
 * re-reads what it watches now and then. cb may submit queries but must not
 * free pg. LX_ERROR for a bad name or a second channel. */
typedef void (*lx_pg_notify_cb)(const char *payload, void *arg);
int lx_pg_listen(lx_pg_t *pg, const char *channel, lx_pg_notify_cb cb, void *arg);
/* cb is not called any more (the session keeps listening; notifications
 * are dropped). */
void lx_pg_listen_stop(lx_pg_t *pg);

/* Registers a statement prepared on every (re)connection before any query
 * runs. name and sql are copied. Call before or after connecting. */
int lx_pg_prepare(lx_pg_t *pg, const char *name, const char *sql, int nparams);

/* Queues a query: sql is SQL text, or, with LX_PG_PREPARED, a name given to
 * lx_pg_prepare. params: nparams text values (NULL = SQL NULL), copied.
 * Returns LX_OK, or LX_ERROR if the queue is full (cb not called). */
enum { LX_PG_PREPARED = 1 };
int lx_pg_query(lx_pg_t *pg, const char *sql, int nparams, const char *const *params,
                unsigned flags, lx_pg_cb cb, void *arg);
/* The same with binary parameters: params[i] holds lengths[i] bytes in
 * Postgres' binary format for the parameter's type (the type the statement
 * gives $i, e.g. $1::bigint[]; NULL = SQL NULL). Copied. Results are text,
 * as with lx_pg_query. LX_ERROR also for a missing or negative length. */
int lx_pg_query_binary(lx_pg_t *pg, const char *sql, int nparams, const char *const *params,
                       const int *lengths, unsigned flags, lx_pg_cb cb, void *arg);

/* ---- results (borrowed, valid during the callback) ---- */
bool lx_pg_ok(const lx_pg_result_t *res);
const char *lx_pg_error(const lx_pg_result_t *res);    /* NULL when ok */
const char *lx_pg_sqlstate(const lx_pg_result_t *res); /* e.g. "23505", NULL if none */
int lx_pg_ntuples(const lx_pg_result_t *res);
int lx_pg_nfields(const lx_pg_result_t *res);
const char *lx_pg_fname(const lx_pg_result_t *res, int col);
/* "" for NULL; use lx_pg_isnull to tell them apart. */
const char *lx_pg_value(const lx_pg_result_t *res, int row, int col);
bool lx_pg_isnull(const lx_pg_result_t *res, int row, int col);
/* Rows affected by INSERT/UPDATE/DELETE (PQcmdTuples), 0 if none. */
long lx_pg_affected(const lx_pg_result_t *res);

#endif
