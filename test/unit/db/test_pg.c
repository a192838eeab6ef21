/* test_pg.c - unit tests for src/db/pg.c (lx_pg_t) against a live Postgres.
 *
 * LLMUX_TEST_PG holds the conninfo (scripts/test starts the server); without
 * it the program prints a TAP skip. Each test runs its own event_base until
 * what it waits for happened, under a guard timer so a hang fails instead of
 * blocking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "db/pg.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *g_conninfo;

/* ---- harness ---- */

typedef struct {
    struct event_base *base;
    struct event *guard;
    bool timed_out;
    int ups, downs;
    bool connected_in_down_cb;
    /* A query to submit from on_state(true) / on_state(false), once. */
    const char *up_sql, *down_sql;
    unsigned down_flags;
    void *up_cap, *down_cap;
    int down_rc;
} env_t;

#define MAXC 8
#define MAXR 4

typedef struct {
    int calls;
    bool ok;
    char error[256];
    char sqlstate[8];
    int ntuples, nfields;
    long affected;
    char fname[MAXC][32];
    char val[MAXR][MAXC][64];
    bool isnull[MAXR][MAXC];
} cap_t;

static void cap_cb(const lx_pg_result_t *r, void *arg)
{
    cap_t *c = arg;
    c->calls++;
    c->ok = lx_pg_ok(r);
    snprintf(c->error, sizeof c->error, "%s", lx_pg_error(r) ? lx_pg_error(r) : "");
    snprintf(c->sqlstate, sizeof c->sqlstate, "%s", lx_pg_sqlstate(r) ? lx_pg_sqlstate(r) : "");
    c->ntuples = lx_pg_ntuples(r);
    c->nfields = lx_pg_nfields(r);
    c->affected = lx_pg_affected(r);
    for (int j = 0; j < c->nfields && j < MAXC; j++)
        snprintf(c->fname[j], sizeof c->fname[j], "%s", lx_pg_fname(r, j));
    for (int i = 0; i < c->ntuples && i < MAXR; i++) {
        for (int j = 0; j < c->nfields && j < MAXC; j++) {
            snprintf(c->val[i][j], sizeof c->val[i][j], "%s", lx_pg_value(r, i, j));
            c->isnull[i][j] = lx_pg_isnull(r, i, j);
        }
    }
}

static void state_cb(lx_pg_t *pg, bool connected, void *arg)
{
    env_t *e = arg;
    if (connected) {
        e->ups++;
        if (e->up_sql) {
            lx_pg_query(pg, e->up_sql, 0, NULL, 0, cap_cb, e->up_cap);
            e->up_sql = NULL;
        }
        return;
    }
    e->downs++;
    e->connected_in_down_cb = lx_pg_connected(pg);
    if (e->down_sql) {
        e->down_rc = lx_pg_query(pg, e->down_sql, 0, NULL, e->down_flags, cap_cb, e->down_cap);
        e->down_sql = NULL;
    }
}

static void guard_cb(evutil_socket_t fd, short what, void *arg)
{
    env_t *e = arg;
    e->timed_out = true;
    event_base_loopbreak(e->base);
}

/* Runs the loop until *counter >= target or ms pass; true if reached. */
static bool run_until(env_t *e, const int *counter, int target, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    e->timed_out = false;
    evtimer_add(e->guard, &tv);
    while (*counter < target && !e->timed_out)
        event_base_loop(e->base, EVLOOP_ONCE);
    evtimer_del(e->guard);
    return *counter >= target;
}

static void run_for(env_t *e, int ms)
{
    int never = 0;
    run_until(e, &never, 1, ms);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int setup(void **state)
{
    env_t *e = calloc(1, sizeof *e);
    /* The same base flags as a worker (src/app/worker.c). */
    struct event_config *ec = event_config_new();
    event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
    event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK);
    event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    e->base = event_base_new_with_config(ec);
    event_config_free(ec);
    e->guard = evtimer_new(e->base, guard_cb, e);
    *state = e;
    return e->base && e->guard ? 0 : -1;
}

static int teardown(void **state)
{
    env_t *e = *state;
    event_free(e->guard);
    event_base_free(e->base);
    free(e);
    return 0;
}

static lx_pg_opts_t opts_for(env_t *e)
{
    lx_pg_opts_t o = {0};
    o.on_state = state_cb;
    o.state_arg = e;
    o.application_name = "llmux-test";
    return o;
}

/* Opens a connection and waits until it is up. */
static lx_pg_t *open_pg(env_t *e, const lx_pg_opts_t *o)
{
    lx_pg_t *pg = lx_pg_new(e->base, g_conninfo, o);
    assert_non_null(pg);
    assert_true(run_until(e, &e->ups, 1, 5000));
    assert_true(lx_pg_connected(pg));
    return pg;
}

static int query(lx_pg_t *pg, const char *sql, cap_t *c)
{
    return lx_pg_query(pg, sql, 0, NULL, 0, cap_cb, c);
}

/* ---- tests ---- */

static void test_connect_rows_and_nulls(void **state)
{
    env_t *e = *state;
    lx_pg_opts_t o = opts_for(e);
    lx_pg_t *pg = open_pg(e, &o);
    assert_int_equal(lx_pg_pending(pg), 0);

    cap_t rows = {0}, create = {0}, ins = {0}, upd = {0}, app = {0};
    assert_int_equal(query(pg,
                           "SELECT * FROM (VALUES (1, NULL::text, 'x'), (2, 'y', NULL)) "
                           "AS t(a, b, c) ORDER BY a",
                           &rows),
                     LX_OK);
    assert_int_equal(query(pg, "CREATE TEMP TABLE t1 (x int)", &create), LX_OK);
    assert_int_equal(query(pg, "INSERT INTO t1 VALUES (1), (2), (3)", &ins), LX_OK);
    assert_int_equal(query(pg, "UPDATE t1 SET x = x + 1 WHERE x > 1", &upd), LX_OK);
    assert_int_equal(query(pg, "SHOW application_name", &app), LX_OK);
    assert_int_equal(lx_pg_pending(pg), 5);
    assert_true(run_until(e, &app.calls, 1, 5000));
    assert_int_equal(lx_pg_pending(pg), 0);

    assert_int_equal(rows.calls, 1);
    assert_true(rows.ok);
    assert_string_equal(rows.error, "");
    assert_string_equal(rows.sqlstate, "");
    assert_int_equal(rows.ntuples, 2);
    assert_int_equal(rows.nfields, 3);
    assert_string_equal(rows.fname[0], "a");
    assert_string_equal(rows.fname[1], "b");
    assert_string_equal(rows.fname[2], "c");
    assert_string_equal(rows.val[0][0], "1");
    assert_false(rows.isnull[0][0]);
    assert_string_equal(rows.val[0][1], ""); /* NULL reads as "" */
    assert_true(rows.isnull[0][1]);
    assert_string_equal(rows.val[0][2], "x");
    assert_string_equal(rows.val[1][0], "2");
    assert_string_equal(rows.val[1][1], "y");
    assert_true(rows.isnull[1][2]);
    assert_false(rows.isnull[1][1]);
    assert_int_equal(rows.affected, 2); /* SELECT reports its row count */

    assert_true(create.ok);
    assert_int_equal(create.ntuples, 0);
    assert_int_equal(create.affected, 0);
    assert_true(ins.ok);
    assert_int_equal(ins.affected, 3);
    assert_true(upd.ok);
    assert_int_equal(upd.affected, 2);
    assert_true(app.ok);
    assert_string_equal(app.val[0][0], "llmux-test");

    lx_pg_free(pg);
    assert_int_equal(e->downs, 0); /* free is not a state change */
}

static void test_params_null_and_utf8(void **state)
{
    env_t *e = *state;
    lx_pg_opts_t o = opts_for(e);
    lx_pg_t *pg = open_pg(e, &o);

    char text[64];
    snprintf(text, sizeof text, "%s", "h\xc3\xa9llo \xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c\xac");
    const char *p1[] = {text, "41", NULL};
    cap_t a = {0}, b = {0};
    assert_int_equal(lx_pg_query(pg,
                                 "SELECT $1::text, $2::int + 1, $3::text IS NULL, "
                                 "length($1::text), octet_length($1::text), $3::text",
                                 3, p1, 0, cap_cb, &a),
                     LX_OK);
    text[0] = 'X'; /* parameters are copied at submit time */
    const char *p2[] = {""};
    assert_int_equal(
        lx_pg_query(pg, "SELECT $1::text IS NULL, $1::text = ''", 1, p2, 0, cap_cb, &b), LX_OK);
    assert_true(run_until(e, &b.calls, 1, 5000));

    assert_true(a.ok);
    assert_int_equal(a.nfields, 6);
    assert_string_equal(a.val[0][0], "h\xc3\xa9llo \xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c\xac");
    assert_string_equal(a.val[0][1], "42");
    assert_string_equal(a.val[0][2], "t");
    assert_string_equal(a.val[0][3], "10");
    assert_string_equal(a.val[0][4], "17");
    assert_true(a.isnull[0][5]);
    assert_true(b.ok);
    assert_string_equal(b.val[0][0], "f"); /* "" is not NULL */
    assert_string_equal(b.val[0][1], "t");

    /* Bad arguments fail at once, without a callback. */
    assert_int_equal(lx_pg_query(pg, "SELECT $1", 1, NULL, 0, cap_cb, &b), LX_ERROR);
    assert_int_equal(lx_pg_query(pg, "SELECT 1", -1, NULL, 0, cap_cb, &b), LX_ERROR);
    assert_int_equal(lx_pg_query(pg, NULL, 0, NULL, 0, cap_cb, &b), LX_ERROR);
    run_for(e, 20);
    assert_int_equal(b.calls, 1);
    lx_pg_free(pg);
}

static void test_binary_params(void **state)
{
    env_t *e = *state;
    lx_pg_opts_t o = opts_for(e);
    lx_pg_t *pg = open_pg(e, &o);
    assert_int_equal(lx_pg_prepare(pg, "bin",
                                   "SELECT $1::bigint + 1, $2::bytea, $3::text, "
                                   "$4::int IS NULL, $5::bigint[]",
                                   5),
                     LX_OK);
    /* -2 as a big-endian int8; bytes with a NUL inside; text; NULL; an
     * int8[] {7, NULL} (dims, has-nulls flag, element type 20, length 2,
     * lower bound 1, then each element's length and bytes) */
    unsigned char i8[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe};
    unsigned char by[3] = {'a', 0, 'b'};
    unsigned char arr[] = {0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 20, 0, 0, 0,    2,    0,    0,
                           0, 1, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0,  0, 7, 0xff, 0xff, 0xff, 0xff};
    const char *params[] = {(const char *)i8, (const char *)by, "t\\xt", NULL, (const char *)arr};
    int lengths[] = {8, 3, 4, 0, (int)sizeof arr};
    cap_t a = {0}, b = {0};
    assert_int_equal(lx_pg_query_binary(pg, "bin", 5, params, lengths, LX_PG_PREPARED, cap_cb, &a),
                     LX_OK);
    i8[7] = 0; /* parameters are copied at submit time */
    /* unprepared too */
    const char *p2[] = {(const char *)i8};
    int l2[] = {4}; /* 4 bytes for an int8: the server refuses it */
    assert_int_equal(lx_pg_query_binary(pg, "SELECT $1::bigint", 1, p2, l2, 0, cap_cb, &b), LX_OK);
    assert_true(run_until(e, &b.calls, 1, 5000));
    assert_true(a.ok);
    assert_string_equal(a.val[0][0], "-1");
    assert_string_equal(a.val[0][1], "\\x610062");
    assert_string_equal(a.val[0][2], "t\\xt");
    assert_string_equal(a.val[0][3], "t");
    assert_string_equal(a.val[0][4], "{7,NULL}");
    assert_false(b.ok);

    /* Lengths are required, and not negative. */
    assert_int_equal(lx_pg_query_binary(pg, "bin", 5, params, NULL, LX_PG_PREPARED, cap_cb, &b),
                     LX_ERROR);
    lengths[0] = -1;
    assert_int_equal(lx_pg_query_binary(pg, "bin", 5, params, lengths, LX_PG_PREPARED, cap_cb, &b),
                     LX_ERROR);
    run_for(e, 20);
    assert_int_equal(b.calls, 1);
    lx_pg_free(pg);
}

static void test_prepared_before_and_after_connect(void **state)
{
    env_t *e = *state;
    lx_pg_opts_t o = opts_for(e);
    lx_pg_t *pg = lx_pg_new(e->base, g_conninfo, &o);
    assert_non_null(pg);
    assert_false(lx_pg_connected(pg));
    assert_int_equal(lx_pg_prepare(pg, "add", "SELECT $1::int + $2::int", 2), LX_OK);
    /* The same registration again is harmless; another text under the name is not. */
    assert_int_equal(lx_pg_prepare(pg, "add", "SELECT $1::int + $2::int", 2), LX_OK);
    assert_int_equal(lx_pg_prepare(pg, "add", "SELECT $1::int - $2::int", 2), LX_ERROR);
    assert_int_equal(lx_pg_prepare(pg, "", "SELECT 1", 0), LX_ERROR);

    const char *p[] = {"2", "3"};
    cap_t a = {0}, b = {0}, c = {0}, bad = {0};
    assert_int_equal(lx_pg_query(pg, "add", 2, p, LX_PG_PREPARED, cap_cb, &a), LX_OK);
    assert_int_equal(lx_pg_pending(pg), 1);
    assert_true(run_until(e, &a.calls, 1, 5000));
    assert_true(lx_pg_connected(pg));
    assert_true(a.ok);
    assert_string_equal(a.val[0][0], "5");

    /* Registered while connected: sent before the query that follows. */
    assert_int_equal(lx_pg_prepare(pg, "mul", "SELECT $1::int * $2::int", 2), LX_OK);
    const char *q[] = {"3", "4"};
    assert_int_equal(lx_pg_query(pg, "mul", 2, q, LX_PG_PREPARED, cap_cb, &b), LX_OK);
    assert_int_equal(lx_pg_query(pg, "add", 2, q, LX_PG_PREPARED, cap_cb, &c), LX_OK);
    assert_int_equal(lx_pg_query(pg, "nope", 0, NULL, LX_PG_PREPARED, cap_cb, &bad), LX_OK);
    assert_true(run_until(e, &bad.calls, 1, 5000));
    assert_true(b.ok);
    assert_string_equal(b.val[0][0], "12");
    assert_true(c.ok);
    assert_string_equal(c.val[0][0], "7");
    assert_false(bad.ok);
    assert_string_equal(bad.sqlstate, "26000"); /* invalid_sql_statement_name */
    assert_true(strstr(bad.error, "nope") != NULL);
    lx_pg_free(pg);
}

static void test_large_parameters_flush_in_parts(void **state)
{
    env_t *e = *state;
    lx_pg_opts_t o = opts_for(e);
    lx_pg_t *pg = open_pg(e, &o);
    /* Far more than a socket buffer: PQflush returns 1 and WRITE is watched
     * until the rest has gone, while results of earlier queries come in. */
    size_t n = 4u << 20;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, 'a', n);
    big[n] = '\0';
    cap_t c[4] = {{0}};
    const char *p[] = {big};
    for (int i = 0; i < 4; i++)
        assert_int_equal(lx_pg_query(pg, "SELECT length($1::text)", 1, p, 0, cap_cb, &c[i]), LX_OK);
    free(big); /* copied at submit */
    int64_t t0 = now_ms();
    bool done = run_until(e, &c[3].calls, 1, 20000);
    print_message("# 4 x 4 MB parameters in %lld ms\n", (long long)(now_ms() - t0));
    assert_true(done);
    for (int i = 0; i < 4; i++) {
        assert_true(c[i].ok);
        assert_int_equal(atol(c[i].val[0][0]), (long)n);
    }
    lx_pg_free(pg);
}

typedef struct {
    int next, bad, done;
} order_t;

static void order_cb(const lx_pg_result_t *r, void *arg)
{
    order_t *o = arg;
    if (!lx_pg_ok(r) || lx_pg_ntuples(r) != 1 || atoi(lx_pg_value(r, 0, 0)) != o->next)
        o->bad++;
    o->next++;
    o->done++;
}

static void test_thousand_queued_in_order(void **state)
{
    env_t *e = *state;
    lx_pg_opts_t o = opts_for(e);
    lx_pg_t *pg = open_pg(e, &o);
    assert_int_equal(lx_pg_prepare(pg, "echo", "SELECT $1::int", 1), LX_OK);

    order_t ord = {0};
    for (int i = 0; i < 1000; i++) {
        char num[16];
        snprintf(num, sizeof num, "%d", i);
        const char *p[] = {num};
        /* Alternate plain and prepared statements in the same pipeline. */
        int rc = i % 2 ? lx_pg_query(pg, "echo", 1, p, LX_PG_PREPARED, order_cb, &ord)
                       : lx_pg_query(pg, "SELECT $1::int", 1, p, 0, order_cb, &ord);
        assert_int_equal(rc, LX_OK);
    }
    assert_int_equal(lx_pg_pending(pg), 1000);
    int64_t t0 = now_ms();
    assert_true(run_until(e, &ord.done, 1000, 20000));
    print_message("# 1000 pipelined queries in %lld ms\n", (long long)(now_ms() - t0));
    assert_int_equal(ord.bad, 0);
    assert_int_equal(ord.next, 1000);
    assert_int_equal(lx_pg_pending(pg), 0);
    lx_pg_free(pg);
}

static void test_error_fails_only_its_query(void **state)
{
    env_t *e = *state;
    lx_pg_opts_t o = opts_for(e);
    lx_pg_t *pg = open_pg(e, &o);

    static const char *const sqls[] = {
        "SELECT 1", "SELECT 2", "SELECT 1/0", "SELECT 4", "SELEC 5", "SELECT 6",
    };
    cap_t c[6] = {{0}};
    for (int i = 0; i < 6; i++)
        assert_int_equal(query(pg, sqls[i], &c[i]), LX_OK);
    assert_true(run_until(e, &c[5].calls, 1, 5000));
    for (int i = 0; i < 6; i++)
        assert_int_equal(c[i].calls, 1);
    assert_true(c[0].ok);
    assert_string_equal(c[0].val[0][0], "1");
    assert_true(c[1].ok);
    assert_string_equal(c[1].val[0][0], "2");
    assert_false(c[2].ok);
    assert_string_equal(c[2].sqlstate, "22012");
    assert_string_equal(c[2].error, "division by zero");
    assert_int_equal(c[2].ntuples, 0);
    assert_true(c[3].ok);
    assert_string_equal(c[3].val[0][0], "4");
    assert_false(c[4].ok);
    assert_string_equal(c[4].sqlstate, "42601"); /* syntax_error */
    assert_true(c[5].ok);
    assert_string_equal(c[5].val[0][0], "6");
    assert_true(lx_pg_connected(pg));
    lx_pg_free(pg);
}

static void test_statement_timeout(void **state)
{
    env_t *e = *state;
    lx_pg_opts_t o = opts_for(e);
    o.statement_timeout_ms = 200;
    lx_pg_t *pg = open_pg(e, &o);

    cap_t show = {0}, slow = {0}, after = {0};
    assert_int_equal(query(pg, "SHOW statement_timeout", &show), LX_OK);
    int64_t t0 = now_ms();
    assert_int_equal(query(pg, "SELECT pg_sleep(2)", &slow), LX_OK);
    assert_int_equal(query(pg, "SELECT 'still fine'", &after), LX_OK);
    assert_true(run_until(e, &after.calls, 1, 5000));
    int64_t took = now_ms() - t0;
    assert_true(show.ok);
    assert_string_equal(show.val[0][0], "200ms");
    assert_false(slow.ok);
    assert_string_equal(slow.sqlstate, "57014"); /* query_canceled */
    assert_true(took < 1900);                    /* cut short, not the full 2 s */
    assert_true(after.ok);
    assert_string_equal(after.val[0][0], "still fine");
    lx_pg_free(pg);
}

typedef struct {
    lx_pg_t *pg;
    int n, bad, done;
    int rc_fail;
} chain_t;

static void chain_cb(const lx_pg_result_t *r, void *arg)
{
    chain_t *ch = arg;
    if (!lx_pg_ok(r) || atoi(lx_pg_value(r, 0, 0)) != ch->done)
        ch->bad++;
    ch->done++;
    if (ch->n < 50) {
        /* Two submissions from inside the callback: both must run, in order. */
        for (int k = 0; k < 2 && ch->n < 50; k++) {
            char num[16];
            snprintf(num, sizeof num, "%d", ++ch->n);
            const char *p[] = {num};
            if (lx_pg_query(ch->pg, "SELECT $1::int", 1, p, 0, chain_cb, ch) != LX_OK)
                ch->rc_fail++;
        }
    }
}

static void test_reentrant_submit_from_callback(void **state)
{
    env_t *e = *state;
    lx_pg_opts_t o = opts_for(e);
    cap_t from_state = {0};
    e->up_sql = "SELECT 'from on_state'";
    e->up_cap = &from_state;
    lx_pg_t *pg = open_pg(e, &o);

    chain_t ch = {.pg = pg};
    const char *p[] = {"0"};
    assert_int_equal(lx_pg_query(pg, "SELECT $1::int", 1, p, 0, chain_cb, &ch), LX_OK);
    assert_true(run_until(e, &ch.done, 51, 5000));
    run_for(e, 20); /* nothing more arrives */
    assert_int_equal(ch.done, 51);
    assert_int_equal(ch.bad, 0);
    assert_int_equal(ch.rc_fail, 0);
    assert_int_equal(from_state.calls, 1);
    assert_true(from_state.ok);
    assert_string_equal(from_state.val[0][0], "from on_state");
    assert_int_equal(lx_pg_pending(pg), 0);
    lx_pg_free(pg);
}

static void test_reconnect_after_backend_terminated(void **state)
{
    env_t *e = *state;
    lx_pg_opts_t o = opts_for(e);
    lx_pg_t *pg = lx_pg_new(e->base, g_conninfo, &o);
    assert_non_null(pg);
    assert_int_equal(lx_pg_prepare(pg, "pid", "SELECT pg_backend_pid()", 0), LX_OK);
    assert_true(run_until(e, &e->ups, 1, 5000));

    cap_t pid1 = {0};
    assert_int_equal(lx_pg_query(pg, "pid", 0, NULL, LX_PG_PREPARED, cap_cb, &pid1), LX_OK);
    assert_true(run_until(e, &pid1.calls, 1, 5000));
    assert_true(pid1.ok);

    /* A query in flight when the backend dies fails. */
    cap_t sleeping = {0};
    assert_int_equal(query(pg, "SELECT pg_sleep(10)", &sleeping), LX_OK);
    run_for(e, 100);
    assert_int_equal(sleeping.calls, 0);

    /* Submitted from on_state(false): waits for the next connection. */
    cap_t queued = {0};
    e->down_sql = "pid";
    e->down_flags = LX_PG_PREPARED;
    e->down_cap = &queued;
    e->down_rc = -99;

    PGconn *admin = PQconnectdb(g_conninfo);
    assert_int_equal(PQstatus(admin), CONNECTION_OK);
    const char *tp[] = {pid1.val[0][0]};
    PGresult *tr =
        PQexecParams(admin, "SELECT pg_terminate_backend($1::int)", 1, NULL, tp, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(tr), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(tr, 0, 0), "t");
    PQclear(tr);
    PQfinish(admin);

    assert_true(run_until(e, &e->downs, 1, 5000));
    assert_true(run_until(e, &sleeping.calls, 1, 1000));
    assert_false(sleeping.ok);
    assert_true(sleeping.error[0] != '\0');
    print_message("# in-flight query failed with [%s] %s\n", sleeping.sqlstate, sleeping.error);
    assert_int_equal(e->downs, 1);
    assert_false(e->connected_in_down_cb);
    assert_int_equal(e->down_rc, LX_OK);
    assert_false(lx_pg_connected(pg));
    assert_int_equal(queued.calls, 0);
    assert_int_equal(lx_pg_pending(pg), 1);

    /* Back after the backoff; statements are prepared again. */
    assert_true(run_until(e, &e->ups, 2, 5000));
    assert_true(run_until(e, &queued.calls, 1, 5000));
    assert_true(queued.ok);
    assert_string_not_equal(queued.val[0][0], pid1.val[0][0]);
    assert_int_equal(e->downs, 1);

    cap_t after = {0};
    assert_int_equal(query(pg, "SHOW statement_timeout", &after), LX_OK);
    assert_true(run_until(e, &after.calls, 1, 5000));
    assert_true(after.ok);
    assert_string_equal(after.val[0][0], "5s"); /* the default, set again */
    lx_pg_free(pg);
}

typedef struct {
    lx_pg_t *pg;
    int calls, closing, resubmit_rc;
} closing_t;

static void closing_cb(const lx_pg_result_t *r, void *arg)
{
    closing_t *c = arg;
    c->calls++;
    if (!lx_pg_ok(r) && strcmp(lx_pg_error(r), "closing") == 0)
        c->closing++;
    if (c->calls == 1) /* a submit while closing is refused */
        c->resubmit_rc = lx_pg_query(c->pg, "SELECT 1", 0, NULL, 0, closing_cb, c);
}

static void test_free_fails_queued_with_closing(void **state)
{
    env_t *e = *state;
    lx_pg_opts_t o = opts_for(e);
    lx_pg_t *pg = open_pg(e, &o);

    closing_t c = {.pg = pg, .resubmit_rc = -99};
    /* One in flight, then five that wait behind it. */
    assert_int_equal(lx_pg_query(pg, "SELECT pg_sleep(3)", 0, NULL, 0, closing_cb, &c), LX_OK);
    run_for(e, 100);
    for (int i = 0; i < 5; i++)
        assert_int_equal(lx_pg_query(pg, "SELECT 1", 0, NULL, 0, closing_cb, &c), LX_OK);
    assert_int_equal(lx_pg_pending(pg), 6);
    assert_int_equal(c.calls, 0);
    lx_pg_free(pg);
    assert_int_equal(c.calls, 6);
    assert_int_equal(c.closing, 6);
    assert_int_equal(c.resubmit_rc, LX_ERROR);
    run_for(e, 20); /* nothing left armed on the base */
    assert_int_equal(c.calls, 6);
}

static void test_unreachable_server(void **state)
{
    env_t *e = *state;
    lx_pg_opts_t o = opts_for(e);
    o.max_queue = 3;
    char conninfo[1024];
    snprintf(conninfo, sizeof conninfo, "%s host=127.0.0.1 port=1", g_conninfo);
    lx_pg_t *pg = lx_pg_new(e->base, conninfo, &o);
    assert_non_null(pg);

    closing_t c = {.pg = pg, .resubmit_rc = -99};
    for (int i = 0; i < 3; i++)
        assert_int_equal(lx_pg_query(pg, "SELECT 1", 0, NULL, 0, closing_cb, &c), LX_OK);
    /* Past max_queue a submit fails at once. */
    assert_int_equal(lx_pg_query(pg, "SELECT 1", 0, NULL, 0, closing_cb, &c), LX_ERROR);
    run_for(e, 700); /* several attempts: 100, 200, 400 ms backoff */
    assert_int_equal(e->ups, 0);
    assert_int_equal(e->downs, 0);
    assert_false(lx_pg_connected(pg));
    assert_int_equal(lx_pg_pending(pg), 3);
    assert_int_equal(c.calls, 0);
    lx_pg_free(pg);
    assert_int_equal(c.calls, 3);
    assert_int_equal(c.closing, 3);
    assert_int_equal(c.resubmit_rc, LX_ERROR);
}

typedef struct {
    int n;
    int fds[16];
} acceptor_t;

static void accept_cb(evutil_socket_t fd, short what, void *arg)
{
    acceptor_t *a = arg;
    int c = accept(fd, NULL, NULL);
    if (c < 0)
        return;
    if (a->n < (int)(sizeof a->fds / sizeof a->fds[0]))
        a->fds[a->n++] = c; /* held open, never answered */
    else
        close(c);
}

static void test_connect_deadline_is_a_failure(void **state)
{
    env_t *e = *state;
    /* A listener that accepts and then never says a word. */
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(ls >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(ls, 8), 0);
    socklen_t sl = sizeof sa;
    assert_int_equal(getsockname(ls, (struct sockaddr *)&sa, &sl), 0);
    acceptor_t acc = {0};
    struct event *lev = event_new(e->base, ls, EV_READ | EV_PERSIST, accept_cb, &acc);
    event_add(lev, NULL);

    lx_pg_opts_t o = opts_for(e);
    char conninfo[1024];
    snprintf(conninfo, sizeof conninfo,
             "%s host=127.0.0.1 port=%d connect_timeout=2 sslmode=disable", g_conninfo,
             ntohs(sa.sin_port));
    int64_t t0 = now_ms();
    lx_pg_t *pg = lx_pg_new(e->base, conninfo, &o);
    assert_non_null(pg);
    closing_t c = {.pg = pg, .resubmit_rc = -99};
    assert_int_equal(lx_pg_query(pg, "SELECT 1", 0, NULL, 0, closing_cb, &c), LX_OK);

    assert_true(run_until(e, &acc.n, 1, 1000));
    run_for(e, 1000);
    assert_int_equal(acc.n, 1); /* still waiting on the first attempt */
    /* The 2 s deadline fails the attempt; the next one comes after 100 ms. */
    assert_true(run_until(e, &acc.n, 2, 3000));
    int64_t took = now_ms() - t0;
    assert_true(took >= 1900 && took < 4800);
    assert_int_equal(e->ups, 0);
    assert_false(lx_pg_connected(pg));
    assert_int_equal(lx_pg_pending(pg), 1);
    assert_int_equal(c.calls, 0);
    lx_pg_free(pg); /* while connecting */
    assert_int_equal(c.closing, 1);

    event_free(lev);
    close(ls);
    for (int i = 0; i < acc.n; i++)
        close(acc.fds[i]);
}

typedef struct {
    struct event_base *base;
    int answered;
} responder_t;

/* Reads the startup packet, answers FATAL 57P03 ("cannot connect now"), on
 * which libpq moves on to the next host, and hangs up. */
static void startup_cb(evutil_socket_t fd, short what, void *arg)
{
    responder_t *r = arg;
    char buf[512];
    if (read(fd, buf, sizeof buf) > 0) {
        static const char fields[] = "SFATAL\0VFATAL\0C57P03\0Mthe database system is "
                                     "starting up\0";
        char msg[128];
        size_t n = sizeof fields; /* the fields and the final terminator */
        msg[0] = 'E';
        uint32_t len = htonl((uint32_t)(4 + n));
        memcpy(msg + 1, &len, 4);
        memcpy(msg + 5, fields, n);
        assert_int_equal(write(fd, msg, 5 + n), (ssize_t)(5 + n));
        r->answered++;
    }
    close(fd);
}

static void responder_accept_cb(evutil_socket_t fd, short what, void *arg)
{
    responder_t *r = arg;
    int c = accept(fd, NULL, NULL);
    if (c >= 0)
        event_base_once(r->base, c, EV_READ, startup_cb, r, NULL);
}

/* conninfo whose first host refuses (TCP port 1) or turns us away during
 * start-up (a local fake server), then the real server: libpq changes the
 * socket between PQconnectPoll steps. */
static void test_second_host_after_first_fails(void **state)
{
    env_t *e = *state;
    PQconninfoOption *co = PQconninfoParse(g_conninfo, NULL);
    assert_non_null(co);
    const char *host = NULL, *port = NULL, *user = NULL, *db = NULL;
    for (PQconninfoOption *x = co; x->keyword; x++) {
        if (strcmp(x->keyword, "host") == 0)
            host = x->val;
        else if (strcmp(x->keyword, "port") == 0)
            port = x->val;
        else if (strcmp(x->keyword, "user") == 0)
            user = x->val;
        else if (strcmp(x->keyword, "dbname") == 0)
            db = x->val;
    }
    assert_non_null(host);
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(ls, 8), 0);
    socklen_t sl = sizeof sa;
    assert_int_equal(getsockname(ls, (struct sockaddr *)&sa, &sl), 0);
    responder_t resp = {.base = e->base};
    struct event *lev = event_new(e->base, ls, EV_READ | EV_PERSIST, responder_accept_cb, &resp);
    event_add(lev, NULL);

    for (int v = 0; v < 2; v++) {
        char conninfo[1024];
        snprintf(conninfo, sizeof conninfo,
                 "host=127.0.0.1,%s port=%d,%s user=%s dbname=%s sslmode=disable "
                 "gssencmode=disable",
                 host, v == 0 ? 1 : ntohs(sa.sin_port), port ? port : "5432",
                 user ? user : "postgres", db ? db : "postgres");
        lx_pg_opts_t o = opts_for(e);
        e->ups = 0;
        lx_pg_t *pg = lx_pg_new(e->base, conninfo, &o);
        assert_non_null(pg);
        cap_t c = {0};
        assert_int_equal(query(pg, "SELECT 7", &c), LX_OK);
        assert_true(run_until(e, &c.calls, 1, 5000));
        assert_true(c.ok);
        assert_string_equal(c.val[0][0], "7");
        assert_int_equal(e->ups, 1);
        lx_pg_free(pg);
    }
    assert_int_equal(resp.answered, 1); /* one turn-away, then straight to host 2 */
    event_free(lev);
    close(ls);
    PQconninfoFree(co);
}

static void test_bad_conninfo_fails_fast(void **state)
{
    env_t *e = *state;
    lx_pg_opts_t o = opts_for(e);
    assert_null(lx_pg_new(e->base, "host=/tmp port", &o));
    assert_null(lx_pg_new(e->base, "nosuchoption=1", &o));
    assert_null(lx_pg_new(NULL, g_conninfo, &o));
}

int main(void)
{
    g_conninfo = getenv("LLMUX_TEST_PG");
    if (g_conninfo == NULL || *g_conninfo == '\0') {
        printf("1..0 # SKIP LLMUX_TEST_PG not set\n");
        return 0;
    }
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_connect_rows_and_nulls),
        T(test_params_null_and_utf8),
        T(test_binary_params),
        T(test_prepared_before_and_after_connect),
        T(test_thousand_queued_in_order),
        T(test_large_parameters_flush_in_parts),
        T(test_error_fails_only_its_query),
        T(test_statement_timeout),
        T(test_reentrant_submit_from_callback),
        T(test_reconnect_after_backend_terminated),
        T(test_free_fails_queued_with_closing),
        T(test_unreachable_server),
        T(test_connect_deadline_is_a_failure),
        T(test_second_host_after_first_fails),
        T(test_bad_conninfo_fails_fast),
    };
#undef T
    return cmocka_run_group_tests_name("db/pg", tests, NULL, NULL);
}
