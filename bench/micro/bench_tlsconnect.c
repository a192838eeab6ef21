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
 *   bench-tlsconnect --url https://127.0.0.1:PORT/v1/chat/completions \
 *       --ca BUNDLE [--streams N] */
#include "upstream/upstream.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

typedef struct {
    int opened, done, failed;
} counts_t;

static void on_headers(lx_up_call_t *c, int status, void *arg)
{
    counts_t *n = arg;
    if (status == 200)
        n->opened++;
    else
        n->failed++;
}

static int on_data(lx_up_call_t *c, const char *p, size_t len, void *arg)
{
    return LX_OK;
}

static void on_done(lx_up_call_t *c, const lx_up_result_t *res, void *arg)
{
    counts_t *n = arg;
    n->done++;
    if (res->outcome != LX_UP_OK || res->status != 200) {
        n->failed++;
        fprintf(stderr, "transfer failed: %s %d %s\n", lx_up_outcome_name(res->outcome),
                res->status, res->error ? res->error : "");
    }
}

static bool loop_until(struct event_base *base, const int *v, int want, int seconds)
{
    time_t end = time(NULL) + seconds;
    while (*v < want && time(NULL) < end)
        event_base_loop(base, EVLOOP_ONCE);
    return *v >= want;
}

static double cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + ru.ru_utime.tv_usec +
           ru.ru_stime.tv_usec;
}

int main(int argc, char **argv)
{
    const char *url = NULL, *ca = NULL;
    int streams = 200;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--url") && i + 1 < argc)
            url = argv[++i];
        else if (!strcmp(argv[i], "--ca") && i + 1 < argc)
            ca = argv[++i];
        else if (!strcmp(argv[i], "--streams") && i + 1 < argc)
            streams = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench-tlsconnect --url URL --ca FILE [--streams N]\n");
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
    static const char body_stream[] =
        "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    static const char body_whole[] =
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    const char *hold_headers[] = {"Content-Type: application/json", "x-mock-chunks: 2",
                                  "x-mock-gap-ms: 600000"};
    const char *probe_headers[] = {"Content-Type: application/json", "x-mock-chunks: 1"};
    lx_timeouts_t to = {30000, 900000, 900000, 900000};
    lx_up_handlers_t h = {on_headers, on_data, on_done};
    lx_up_request_t hold = {.url = url,
                            .headers = hold_headers,
                            .nheaders = 3,
                            .body = body_stream,
                            .body_len = strlen(body_stream),
                            .timeouts = to,
                            .stream = true,
                            .transport = &tp};
    lx_up_request_t probe = {.url = url,
                             .headers = probe_headers,
                             .nheaders = 2,
                             .body = body_whole,
                             .body_len = strlen(body_whole),
                             .timeouts = to,
                             .transport = &tp};
    counts_t pc = {0}, hc = {0};

    /* warm-up: the first connection (the CA store, the TLS session) */
    lx_up_call_start(u, &probe, &h, &pc);
    if (!loop_until(base, &pc.done, 1, 60) || pc.failed) {
        fprintf(stderr, "bench-tlsconnect: the warm-up transfer failed\n");
        return 1;
    }
    double t0 = cpu_us();
    for (int i = 0; i < streams; i++)
        lx_up_call_start(u, &hold, &h, &hc);
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
