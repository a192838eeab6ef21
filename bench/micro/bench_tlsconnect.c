/* bench_tlsconnect.c - the CPU a new upstream TLS connection costs llmux's
 * upstream client (src/upstream, one worker's curl multis on a libevent
 * loop), with a CA bundle the size of the system's (README.md,
 * "bench-tlsconnect"). It opens --streams streams over HTTP/1.1 with TLS
 * (provider setting "http2": false), each on a connection of its own, held
 * open by the mock (ten minutes between pieces), and prints this process's
 * user+system CPU (getrusage) from the first start to the last stream's
 * headers, per connection; then as many whole answers one after another on
 * the connections kept alive, per request, for comparison. CPU time, not
 * wall time: a busy machine does not move it much.
 *
 * --ca2 FILE: every other stream goes to a second provider that names FILE
 * as its own ca_file (a copy of the bundle under another name), as when a
 * worker serves a provider with its own CA beside one without.
 *
 *   bench-tlsconnect --url https://127.0.0.1:PORT/v1/chat/completions \
 *       --ca BUNDLE [--ca2 FILE] [--streams N] */
#include "upstream_fx.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + ru.ru_utime.tv_usec +
           ru.ru_stime.tv_usec;
}

int main(int argc, char **argv)
{
    const char *url = NULL, *ca = NULL, *ca2 = NULL;
    int streams = 200;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--url") && i + 1 < argc)
            url = argv[++i];
        else if (!strcmp(argv[i], "--ca") && i + 1 < argc)
            ca = argv[++i];
        else if (!strcmp(argv[i], "--ca2") && i + 1 < argc)
            ca2 = argv[++i];
        else if (!strcmp(argv[i], "--streams") && i + 1 < argc)
            streams = atoi(argv[++i]);
        else {
            fprintf(stderr,
                    "usage: bench-tlsconnect --url URL --ca FILE [--ca2 FILE] [--streams N]\n");
            return 2;
        }
    }
    if (url == NULL || ca == NULL || streams < 1) {
        fprintf(stderr, "bench-tlsconnect: --url (the mock's HTTPS chat completions URL) and "
                        "--ca (a bundle that holds the mock's CA) are required\n");
        return 2;
    }
    if (lx_upstream_global_init() != LX_OK)
        return 1;
    struct event_base *base = event_base_new();
    lx_up_tls_t tls = {.ca_file = ca, .tls_min = 12};
    lx_upstream_t *u = lx_upstream_new(base, NULL, &tls);
    lx_transport_t tp = {.http2 = LX_HTTP2_OFF};
    lx_up_handlers_t h = fx_handlers;
    lx_up_request_t hold, probe;
    fx_requests(url, &tp, &hold, &probe);
    lx_transport_t tp2 = {.http2 = LX_HTTP2_OFF, .ca_file = (char *)ca2};
    lx_up_request_t hold2, probe2;
    fx_requests(url, &tp2, &hold2, &probe2);
    counts_t pc = {0}, hc = {0};

    /* warm-up: the first connection (the CA store, the TLS session) */
    lx_up_call_start(u, &probe, &h, &pc);
    if (ca2)
        lx_up_call_start(u, &probe2, &h, &pc);
    if (!loop_until(base, &pc.done, ca2 ? 2 : 1, 60) || pc.failed) {
        fprintf(stderr, "bench-tlsconnect: the warm-up transfer failed\n");
        return 1;
    }
    double t0 = cpu_us();
    for (int i = 0; i < streams; i++)
        lx_up_call_start(u, ca2 && i % 2 ? &hold2 : &hold, &h, &hc);
    if (!loop_until(base, &hc.opened, streams, 300) || hc.failed) {
        fprintf(stderr, "bench-tlsconnect: %d of %d streams open, %d failed\n", hc.opened, streams,
                hc.failed);
        return 1;
    }
    double t1 = cpu_us();
    for (int i = 0; i < streams; i++) {
        int want = pc.done + 1;
        lx_up_call_start(u, &probe, &h, &pc);
        loop_until(base, &pc.done, want, 30);
    }
    double t2 = cpu_us();
    printf("new TLS connections: %d, CPU per connection %.0f us; requests on kept connections: "
           "%d, CPU per request %.0f us; failed %d\n",
           streams, (t1 - t0) / streams, streams, (t2 - t1) / streams, pc.failed);
    lx_upstream_free(u);
    event_base_free(base);
    lx_upstream_global_cleanup();
    return pc.failed ? 1 : 0;
}
