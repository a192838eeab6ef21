/* test_ramp.c - unit tests for src/upstream/ramp.c, the HTTP/2 connection
 * ramp: hosts keyed by scheme://authority, how many transfers of a burst go
 * into curl before their connections exist (one per connection they
 * need), the next ones as each gets its connection, and the ramp switched
 * off for a server that does not multiplex (a second connection while the
 * first is busy and never carried two, or an HTTP/1.x status line). Real
 * easy and multi handles; nothing is connected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "upstream/multi_int.h"

#include <stdlib.h>
#include <string.h>

#define N 50

typedef struct {
    struct event_base *base;
    shard_t lane; /* the ramp is per shard */
    lx_up_call_t calls[N];
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    f->base = event_base_new();
    f->lane.max_streams = 10;
    f->lane.multi = curl_multi_init();
    event_assign(&f->lane.release, f->base, -1, 0, lx_up_ramp_release, &f->lane);
    for (int i = 0; i < N; i++) {
        f->calls[i].shard = &f->lane;
        f->calls[i].easy = curl_easy_init();
        curl_easy_setopt(f->calls[i].easy, CURLOPT_URL, "https://127.0.0.1:9/v1/chat/completions");
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    for (int i = 0; i < N; i++) {
        if (f->calls[i].in_multi)
            curl_multi_remove_handle(f->lane.multi, f->calls[i].easy);
        curl_easy_cleanup(f->calls[i].easy);
    }
    event_del(&f->lane.release);
    curl_multi_cleanup(f->lane.multi);
    free(f->lane.hosts);
    event_base_free(f->base);
    free(f);
    return 0;
}

/* What lx_up_call_start does: held, or into the multi. */
static void start(fx_t *f, int i, ramp_host_t *h)
{
    lx_up_call_t *c = &f->calls[i];
    c->host = h;
    if (lx_up_ramp_hold(c))
        return;
    assert_int_equal(curl_multi_add_handle(f->lane.multi, c->easy), CURLM_OK);
    c->in_multi = true;
    h->waiting++;
}

static void run_release(fx_t *f)
{
    event_base_loop(f->base, EVLOOP_NONBLOCK);
}

static int in_multi(const fx_t *f)
{
    int n = 0;
    for (int i = 0; i < N; i++)
        n += f->calls[i].in_multi;
    return n;
}

static void test_hosts(void **state)
{
    fx_t *f = *state;
    ramp_host_t *a = lx_up_ramp_host(&f->lane, "https://api.example.com/v1/chat/completions");
    assert_non_null(a);
    assert_string_equal(a->key, "https://api.example.com");
    assert_ptr_equal(lx_up_ramp_host(&f->lane, "https://api.example.com/v1/embeddings"), a);
    ramp_host_t *b = lx_up_ramp_host(&f->lane, "https://api.example.com:8443/v1");
    assert_ptr_not_equal(b, a);
    assert_ptr_not_equal(lx_up_ramp_host(&f->lane, "https://other.example.com/v1"), a);
    assert_null(lx_up_ramp_host(&f->lane, "no scheme"));
    char longurl[300];
    memset(longurl, 'a', sizeof longurl - 1);
    memcpy(longurl, "https://", 8);
    longurl[sizeof longurl - 1] = '\0';
    assert_null(lx_up_ramp_host(&f->lane, longurl)); /* not ramped, not truncated */
}

static void test_burst_goes_in_one_per_connection_needed(void **state)
{
    fx_t *f = *state;
    ramp_host_t *h = lx_up_ramp_host(&f->lane, "https://127.0.0.1:9/v1/chat/completions");
    for (int i = 0; i < N; i++)
        start(f, i, h);
    run_release(f);
    /* 50 streams, 10 a connection: 5 in curl (each opens one), 45 held */
    assert_int_equal(in_multi(f), 5);
    assert_int_equal(h->waiting, 5);
    assert_int_equal(h->held, 45);
    /* the first connection is up: its transfer and the next ones fill it */
    lx_up_ramp_prereq(&f->calls[0], NULL, NULL, 443, 1000);
    run_release(f);
    int added = in_multi(f);
    assert_int_equal(added, 6);
    for (int i = 1; i < N && f->calls[i].in_multi; i++)
        if (!f->calls[i].on_conn && i > 4) /* the one just added lands on it */
            lx_up_ramp_prereq(&f->calls[i], NULL, NULL, 443, 1000);
    assert_true(h->mux_seen);
    assert_false(h->http1);
    /* a transfer on another connection of a multiplexing host changes nothing */
    lx_up_ramp_prereq(&f->calls[1], NULL, NULL, 443, 1001);
    assert_false(h->http1);
    /* a held call that ends leaves the line */
    lx_up_call_t *last = &f->calls[N - 1];
    assert_true(last->held);
    int held = h->held;
    lx_up_ramp_forget(last);
    assert_false(last->held);
    assert_int_equal(h->held, held - 1);
}

static void test_http1_server_detected_by_a_second_connection(void **state)
{
    fx_t *f = *state;
    ramp_host_t *h = lx_up_ramp_host(&f->lane, "https://127.0.0.1:9/v1/chat/completions");
    for (int i = 0; i < 8; i++)
        start(f, i, h);
    run_release(f);
    assert_int_equal(in_multi(f), 1); /* 8 fit one connection: one goes first */
    lx_up_ramp_prereq(&f->calls[0], NULL, NULL, 443, 2000);
    run_release(f);
    assert_int_equal(in_multi(f), 2);
    /* the next one got its own connection while the first was busy: no
     * multiplexing, so the ramp lets every held one in */
    lx_up_ramp_prereq(&f->calls[1], NULL, NULL, 443, 2001);
    assert_true(h->http1);
    run_release(f);
    assert_int_equal(in_multi(f), 8);
    assert_int_equal(h->held, 0);
    start(f, 8, h); /* and later ones go straight in */
    assert_true(f->calls[8].in_multi);
}

static void test_http1_status_line_switches_the_ramp_off(void **state)
{
    fx_t *f = *state;
    ramp_host_t *h = lx_up_ramp_host(&f->lane, "https://127.0.0.1:9/v1/chat/completions");
    for (int i = 0; i < 5; i++)
        start(f, i, h);
    run_release(f);
    assert_int_equal(in_multi(f), 1);
    lx_up_ramp_http1(&f->calls[0]);
    run_release(f);
    assert_int_equal(in_multi(f), 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hosts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_burst_goes_in_one_per_connection_needed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_http1_server_detected_by_a_second_connection, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_http1_status_line_switches_the_ramp_off, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
