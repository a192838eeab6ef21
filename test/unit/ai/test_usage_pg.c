/* test_usage_pg.c - unit tests for src/ai/usage_pg.c (the Postgres usage
 * sink) against a live Postgres: every value survives the binary encoding,
 * and a batch sent again after a lost connection is written exactly once,
 * whether the first attempt was committed (only its answer lost) or never
 * reached the server.
 *
 * LLMUX_TEST_PG holds the conninfo (scripts/test starts the server); without
 * it the program prints a TAP skip. Each test gets a fresh database with
 * the migrations applied. The sink talks to Postgres through a small proxy
 * on the test's event loop that can swallow either direction and cut the
 * connection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ai/usage.h"
#include "db/migrate.h"
#include "db/pg.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <libpq-fe.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *g_conninfo;

/* ---- a proxy in front of the test server's TCP port ---- */

typedef struct {
    struct event_base *base;
    struct evconnlistener *listener;
    int port, pg_port;
    struct bufferevent *cli, *srv; /* the current connection, if any */
    bool mute_answers;             /* swallow what the server sends */
    bool mute_queries;             /* swallow what the client sends */
    int accepted;
} proxy_t;

static void proxy_cut(proxy_t *p)
{
    if (p->cli)
        bufferevent_free(p->cli);
    if (p->srv)
        bufferevent_free(p->srv);
    p->cli = p->srv = NULL;
}

static void proxy_read(struct bufferevent *bev, void *arg)
{
    proxy_t *p = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    bool from_cli = bev == p->cli;
    struct bufferevent *to = from_cli ? p->srv : p->cli;
    if ((from_cli && p->mute_queries) || (!from_cli && p->mute_answers) || to == NULL)
        evbuffer_drain(in, evbuffer_get_length(in));
    else
        bufferevent_write_buffer(to, in);
}

static void proxy_event(struct bufferevent *bev, short what, void *arg)
{
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        proxy_cut(arg);
}

static void proxy_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                         int socklen, void *arg)
{
    proxy_t *p = arg;
    proxy_cut(p); /* one connection at a time: the sink's */
    p->accepted++;
    p->cli = bufferevent_socket_new(p->base, fd, BEV_OPT_CLOSE_ON_FREE);
    p->srv = bufferevent_socket_new(p->base, -1, BEV_OPT_CLOSE_ON_FREE);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p->pg_port)};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bufferevent_setcb(p->cli, proxy_read, NULL, proxy_event, p);
    bufferevent_setcb(p->srv, proxy_read, NULL, proxy_event, p);
    bufferevent_enable(p->cli, EV_READ | EV_WRITE);
    bufferevent_enable(p->srv, EV_READ | EV_WRITE);
    if (bufferevent_socket_connect(p->srv, (struct sockaddr *)&to, sizeof to) != 0)
        proxy_cut(p);
}

static void proxy_start(proxy_t *p, struct event_base *base, int pg_port)
{
    memset(p, 0, sizeof *p);
    p->base = base;
    p->pg_port = pg_port;
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    p->listener =
        evconnlistener_new_bind(base, proxy_accept, p, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                16, (struct sockaddr *)&sin, sizeof sin);
    assert_non_null(p->listener);
    struct sockaddr_in got;
    socklen_t len = sizeof got;
    assert_int_equal(getsockname(evconnlistener_get_fd(p->listener), (struct sockaddr *)&got, &len),
                     0);
    p->port = ntohs(got.sin_port);
}

static void proxy_stop(proxy_t *p)
{
    proxy_cut(p);
    evconnlistener_free(p->listener);
}

/* ---- harness: a fresh database, a sink connected through the proxy ---- */

typedef struct {
    struct event_base *base;
    proxy_t proxy;
    char db[64];
    char direct[512]; /* conninfo of the fresh database (unix socket) */
    PGconn *conn;     /* blocking, for checks */
    lx_pg_t *pg;
    lx_usage_pg_t *sink;
} env_t;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

static long count_rows(env_t *e)
{
    PGresult *r = PQexec(e->conn, "SELECT count(*) FROM ai_usage");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    long n = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

/* Runs the loop until the sink has written n records or ms pass. */
static bool run_until_written(env_t *e, uint64_t n, int ms)
{
    int64_t end = now_ms() + ms;
    while (lx_usage_pg_written(e->sink) < n && now_ms() < end) {
        event_base_loop(e->base, EVLOOP_NONBLOCK);
        usleep(1000);
    }
    return lx_usage_pg_written(e->sink) >= n;
}

/* Runs the loop until the table holds n rows or ms pass. */
static bool run_until_rows(env_t *e, long n, int ms)
{
    int64_t end = now_ms() + ms;
    while (count_rows(e) < n && now_ms() < end) {
        for (int i = 0; i < 5; i++) {
            event_base_loop(e->base, EVLOOP_NONBLOCK);
            usleep(1000);
        }
    }
    return count_rows(e) >= n;
}

static void run_for(env_t *e, int ms)
{
    int64_t end = now_ms() + ms;
    while (now_ms() < end) {
        event_base_loop(e->base, EVLOOP_NONBLOCK);
        usleep(1000);
    }
}

static int setup(void **state)
{
    env_t *e = calloc(1, sizeof *e);
    e->base = event_base_new();
    PGconn *admin = PQconnectdb(g_conninfo);
    if (PQstatus(admin) != CONNECTION_OK) {
        fprintf(stderr, "# %s", PQerrorMessage(admin));
        return -1;
    }
    snprintf(e->db, sizeof e->db, "t_usage_pg_%d_%ld", (int)getpid(), (long)(now_ms() % 1000000));
    char sql[160];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", e->db);
    exec_ok(admin, sql);
    PQfinish(admin);
    snprintf(e->direct, sizeof e->direct, "%s dbname=%s", g_conninfo, e->db);
    char err[512];
    if (lx_db_migrate(e->direct, err, sizeof err) < 0) {
        fprintf(stderr, "# migrate: %s\n", err);
        return -1;
    }
    e->conn = PQconnectdb(e->direct);
    if (PQstatus(e->conn) != CONNECTION_OK)
        return -1;

    const char *p = strstr(g_conninfo, "port=");
    int pg_port = p ? atoi(p + 5) : 5432;
    proxy_start(&e->proxy, e->base, pg_port);
    char via[256];
    snprintf(via, sizeof via, "host=127.0.0.1 port=%d user=postgres dbname=%s", e->proxy.port,
             e->db);
    lx_pg_opts_t o = {.application_name = "llmux-test-usage"};
    e->pg = lx_pg_new(e->base, via, &o);
    e->sink = lx_usage_pg_new(e->base, e->pg, 1000);
    int64_t end = now_ms() + 5000;
    while (!lx_pg_connected(e->pg) && now_ms() < end)
        event_base_loop(e->base, EVLOOP_ONCE);
    *state = e;
    return lx_pg_connected(e->pg) ? 0 : -1;
}

static int teardown(void **state)
{
    env_t *e = *state;
    lx_usage_pg_free(e->sink);
    lx_pg_free(e->pg);
    proxy_stop(&e->proxy);
    PQfinish(e->conn);
    event_base_free(e->base); /* closes the proxy's sockets */
    PGconn *admin = PQconnectdb(g_conninfo);
    char sql[160];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", e->db);
    PQclear(PQexec(admin, sql));
    PQfinish(admin);
    free(e);
    return 0;
}

static void fill(lx_usage_t *u, int i)
{
    memset(u, 0, sizeof *u);
    lx_usage_new_id(u, 0);
    snprintf(u->request_id, sizeof u->request_id, "req-%d", i);
    u->api_key_id = 7;
    u->connection_id = 3;
    snprintf(u->provider, sizeof u->provider, "demo");
    snprintf(u->model, sizeof u->model, "mock-model");
    u->feature = "chat";
    u->tokens_in = i;
    u->tokens_out = 2;
    u->cost_usd = 0.0000012;
    u->status = 200;
    u->ttfb_us = 900;
    u->total_us = 1500;
    u->created_ms = INT64_C(1700000000000) + i;
}

static void push_n(env_t *e, int from, int n)
{
    lx_usage_sink_t *sink = lx_usage_pg_sink(e->sink);
    lx_usage_t u;
    for (int i = from; i < from + n; i++) {
        fill(&u, i);
        sink->push(sink, &u);
    }
    lx_usage_pg_flush(e->sink);
}

/* ---- tests ---- */

static void test_values_round_trip(void **state)
{
    env_t *e = *state;
    static const struct {
        double cost;
        const char *want;
    } costs[] = {
        {0, "0.00000000"},
        {1e-8, "0.00000001"},
        {0.0000012, "0.00000120"},
        {0.000000004, "0.00000000"},
        {0.000000005, "0.00000001"},
        {1.5, "1.50000000"},
        {1234.56789012, "1234.56789012"},
        {10000.0001, "10000.00010000"},
        {100000000, "100000000.00000000"},
        {12345678.12345678, "12345678.12345678"},
        {1e12, "9999999999.99999999"}, /* NUMERIC(18, 8) holds no more */
        {-0.25, "-0.25000000"},
        {NAN, "0.00000000"},
    };
    enum { NC = sizeof costs / sizeof costs[0] };
    lx_usage_sink_t *sink = lx_usage_pg_sink(e->sink);
    lx_usage_t u;
    for (int i = 0; i < NC; i++) {
        fill(&u, i);
        u.cost_usd = costs[i].cost;
        switch (i) {
        case 0: /* the admin key, no connection, an error, no first byte */
            u.api_key_id = 0;
            u.connection_id = 0;
            snprintf(u.error, sizeof u.error, "upstream_timeout");
            u.ttfb_us = -1;
            u.status = 504;
            u.feature = "embed";
            break;
        case 1: /* what a text array would have had to quote */
            snprintf(u.request_id, sizeof u.request_id, "a\"b\\c,{d} NULL");
            snprintf(u.model, sizeof u.model, "mod\xc3\xa8le-\xe6\x97\xa5");
            break;
        case 2: /* invalid UTF-8: a character cut short, stray bytes */
            snprintf(u.model, sizeof u.model, "x\xe6\x97");
            snprintf(u.error, sizeof u.error, "bad\xff\xfe.");
            break;
        case 3:
            u.tokens_out = INT64_MAX;
            u.total_us = INT64_C(-5);
            u.api_key_id = INT64_C(9007199254740993);
            break;
        default:
            break;
        }
        sink->push(sink, &u);
    }
    lx_usage_pg_flush(e->sink);
    assert_true(run_until_written(e, NC, 5000));
    assert_int_equal(lx_usage_pg_pending(e->sink), 0);

    PGresult *r = PQexec(e->conn, "SELECT tokens_in, request_id, api_key_id, connection_id, "
                                  "provider, model, feature, tokens_out, tokens_cached, "
                                  "cost_usd::text, status, error, ttfb_us, total_us, "
                                  "to_char(created_at AT TIME ZONE 'UTC', "
                                  "'YYYY-MM-DD HH24:MI:SS.MS'), record_id "
                                  "FROM ai_usage ORDER BY tokens_in");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(r), NC);
    for (int i = 0; i < NC; i++) {
        char want[64];
        assert_int_equal(atoi(PQgetvalue(r, i, 0)), i);
        assert_string_equal(PQgetvalue(r, i, 9), costs[i].want);
        assert_string_equal(PQgetvalue(r, i, 4), "demo");
        assert_string_equal(PQgetvalue(r, i, 8), "0");
        snprintf(want, sizeof want, "2023-11-14 22:13:20.%03d", i);
        assert_string_equal(PQgetvalue(r, i, 14), want);
        assert_true(PQgetisnull(r, i, 15)); /* record_id: no longer stored */
    }
    /* row 0: NULLs for the admin key, no connection, no first byte */
    assert_true(PQgetisnull(r, 0, 2));
    assert_true(PQgetisnull(r, 0, 3));
    assert_string_equal(PQgetvalue(r, 0, 6), "embed");
    assert_string_equal(PQgetvalue(r, 0, 10), "504");
    assert_string_equal(PQgetvalue(r, 0, 11), "upstream_timeout");
    assert_true(PQgetisnull(r, 0, 12));
    /* row 1: strings as they were; no error is NULL */
    assert_string_equal(PQgetvalue(r, 1, 1), "a\"b\\c,{d} NULL");
    assert_string_equal(PQgetvalue(r, 1, 5), "mod\xc3\xa8le-\xe6\x97\xa5");
    assert_true(PQgetisnull(r, 1, 11));
    assert_string_equal(PQgetvalue(r, 1, 2), "7");
    assert_string_equal(PQgetvalue(r, 1, 3), "3");
    assert_string_equal(PQgetvalue(r, 1, 7), "2");
    assert_string_equal(PQgetvalue(r, 1, 12), "900");
    assert_string_equal(PQgetvalue(r, 1, 13), "1500");
    /* row 2: invalid UTF-8 replaced, the batch written */
    assert_string_equal(PQgetvalue(r, 2, 5), "x??");
    assert_string_equal(PQgetvalue(r, 2, 11), "bad??.");
    /* row 3: 64-bit values whole */
    assert_string_equal(PQgetvalue(r, 3, 7), "9223372036854775807");
    assert_string_equal(PQgetvalue(r, 3, 13), "-5");
    assert_string_equal(PQgetvalue(r, 3, 2), "9007199254740993");
    PQclear(r);
}

static void test_replayed_batch_is_not_duplicated(void **state)
{
    env_t *e = *state;
    push_n(e, 0, 10);
    assert_true(run_until_written(e, 10, 5000));
    assert_int_equal(count_rows(e), 10);

    /* The server commits the next batch; its answer never arrives. */
    e->proxy.mute_answers = true;
    push_n(e, 10, 20);
    assert_true(run_until_rows(e, 30, 5000));
    assert_int_equal(lx_usage_pg_written(e->sink), 10);
    assert_int_equal(lx_usage_pg_pending(e->sink), 20);

    /* The connection breaks: the sink cannot know, so it sends the batch
     * again on the next connection, which must insert nothing. */
    int accepted = e->proxy.accepted;
    proxy_cut(&e->proxy);
    e->proxy.mute_answers = false;
    assert_true(run_until_written(e, 30, 10000));
    assert_true(e->proxy.accepted > accepted);
    assert_int_equal(lx_usage_pg_pending(e->sink), 0);
    assert_int_equal(count_rows(e), 30);

    /* And the batches after it go on as usual. */
    push_n(e, 30, 5);
    assert_true(run_until_written(e, 35, 5000));
    assert_int_equal(count_rows(e), 35);
    PGresult *r = PQexec(e->conn, "SELECT count(DISTINCT request_id), min(tokens_in), "
                                  "max(tokens_in) FROM ai_usage");
    assert_string_equal(PQgetvalue(r, 0, 0), "35");
    assert_string_equal(PQgetvalue(r, 0, 1), "0");
    assert_string_equal(PQgetvalue(r, 0, 2), "34");
    PQclear(r);
    r = PQexec(e->conn, "SELECT count(*), max(seq) FROM ai_usage_writers");
    assert_string_equal(PQgetvalue(r, 0, 0), "1"); /* one sink, one writer row */
    assert_string_equal(PQgetvalue(r, 0, 1), "3"); /* three batches committed */
    PQclear(r);
}

static void test_batch_lost_on_the_way_is_written_once(void **state)
{
    env_t *e = *state;
    push_n(e, 0, 4);
    assert_true(run_until_written(e, 4, 5000));

    /* This batch never reaches the server. */
    e->proxy.mute_queries = true;
    push_n(e, 4, 7);
    run_for(e, 300);
    assert_int_equal(count_rows(e), 4);
    assert_int_equal(lx_usage_pg_written(e->sink), 4);

    /* Records queued meanwhile wait behind it and go in a later batch. */
    push_n(e, 11, 3);
    proxy_cut(&e->proxy);
    e->proxy.mute_queries = false;
    assert_true(run_until_written(e, 14, 10000));
    assert_int_equal(count_rows(e), 14);
    PGresult *r = PQexec(e->conn, "SELECT count(DISTINCT request_id) FROM ai_usage");
    assert_string_equal(PQgetvalue(r, 0, 0), "14");
    PQclear(r);
}

/* A backlog across many blocks (the database away): the oldest go first,
 * the overflow past capacity is counted, and every queued record is
 * written once when the database is back; then the emptied queue fills
 * and drains again. */
static void test_backlog_across_blocks(void **state)
{
    env_t *e = *state;
    e->proxy.mute_queries = true;
    push_n(e, 0, 1200); /* capacity 1000: 200 dropped */
    run_for(e, 200);
    assert_int_equal(lx_usage_pg_pending(e->sink), 1000);
    assert_int_equal(lx_usage_pg_dropped(e->sink), 200);
    assert_int_equal(count_rows(e), 0);

    proxy_cut(&e->proxy);
    e->proxy.mute_queries = false;
    assert_true(run_until_written(e, 1000, 15000));
    assert_int_equal(lx_usage_pg_pending(e->sink), 0);
    PGresult *r = PQexec(e->conn, "SELECT count(*), count(DISTINCT request_id), min(tokens_in), "
                                  "max(tokens_in) FROM ai_usage");
    assert_string_equal(PQgetvalue(r, 0, 0), "1000");
    assert_string_equal(PQgetvalue(r, 0, 1), "1000");
    assert_string_equal(PQgetvalue(r, 0, 2), "0");
    assert_string_equal(PQgetvalue(r, 0, 3), "999");
    PQclear(r);

    for (int round = 0; round < 3; round++) /* 300 at a time: blocks freed and reused */
        push_n(e, 2000 + round * 300, 300);
    assert_true(run_until_written(e, 1900, 15000));
    assert_int_equal(lx_usage_pg_pending(e->sink), 0);
    r = PQexec(e->conn, "SELECT count(DISTINCT request_id), max(tokens_in) FROM ai_usage "
                        "WHERE tokens_in >= 2000");
    assert_string_equal(PQgetvalue(r, 0, 0), "900");
    assert_string_equal(PQgetvalue(r, 0, 1), "2899");
    PQclear(r);
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
        T(test_values_round_trip),
        T(test_replayed_batch_is_not_duplicated),
        T(test_batch_lost_on_the_way_is_written_once),
        T(test_backlog_across_blocks),
    };
#undef T
    return cmocka_run_group_tests_name("ai/usage_pg", tests, NULL, NULL);
}
