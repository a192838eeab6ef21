/* bench_conncache.c - what a new upstream transfer costs in curl while many
 * streams are open to the same host: the connection cache walk (README.md,
 * "Connection cache walk"). Not a timing benchmark: run it under callgrind,
 * which counts instructions (this machine has no hardware counters):
 *
 *   valgrind --tool=callgrind \
 *     build-release/bench/micro/bench-conncache --url URL --streams 1000
 *
 * It drives the real upstream client (src/upstream, one worker's curl
 * multi) on a libevent loop against the mock upstream (bench/mock):
 *   1. --probes short transfers one after another with nothing else open
 *      (dumped as callgrind part "idle");
 *   2. --streams streams held open (the mock's gap between pieces is ten
 *      minutes), all with their headers in;
 *   3. --probes short transfers again (part "loaded").
 * The difference per probe between the two parts is the cost of the open
 * streams to each new transfer. It also prints the sockets it holds open
 * after step 2 (HTTP/1.1: one per stream; HTTP/2: streams / the cap).
 * --http1 forces HTTP/1.1 (provider setting "http2": false), --ca FILE
 * trusts the mock's test CA, --max-streams N sets the stream cap. */
#include "upstream_fx.h"

#include <dirent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <valgrind/callgrind.h>

static int open_sockets(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    struct dirent *e;
    char path[300], link[64];
    while (d && (e = readdir(d))) {
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t k = readlink(path, link, sizeof link - 1);
        if (k > 0) {
            link[k] = '\0';
            n += strncmp(link, "socket:", 7) == 0;
        }
    }
    if (d)
        closedir(d);
    return n;
}

int main(int argc, char **argv)
{
    const char *url = NULL, *ca = NULL;
    int streams = 1000, probes = 200;
    lx_transport_t tp = {.http2 = LX_HTTP2_ON}; /* the walk over HTTP/2 connections */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--url") && i + 1 < argc)
            url = argv[++i];
        else if (!strcmp(argv[i], "--streams") && i + 1 < argc)
            streams = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--probes") && i + 1 < argc)
            probes = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--ca") && i + 1 < argc)
            ca = argv[++i];
        else if (!strcmp(argv[i], "--max-streams") && i + 1 < argc)
            tp.max_streams = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--http1"))
            tp.http2 = LX_HTTP2_OFF;
        else {
            fprintf(stderr, "usage: bench-conncache --url URL [--streams N] [--probes N] "
                            "[--http1] [--ca FILE] [--max-streams N]\n");
            return 2;
        }
    }
    if (url == NULL) {
        fprintf(stderr, "bench-conncache: --url (the mock's chat completions URL) is required\n");
        return 2;
    }
    if (lx_upstream_global_init() != LX_OK)
        return 1;
    struct event_base *base = event_base_new();
    lx_up_tls_t tls = {.ca_file = ca, .tls_min = 12};
    lx_upstream_t *u = lx_upstream_new(base, NULL, &tls);
    lx_up_handlers_t h = fx_handlers;
    lx_up_request_t hold, probe;
    fx_requests(url, &tp, &hold, &probe);
    counts_t pc = {0}, hc = {0};

    /* warm-up: a connection, the DNS entry, the TLS session */
    lx_up_call_start(u, &probe, &h, &pc);
    if (!loop_until(base, &pc.done, 1, 30) || pc.failed) {
        fprintf(stderr, "bench-conncache: the warm-up transfer failed\n");
        return 1;
    }
    for (int phase = 0; phase < 2; phase++) {
        if (phase == 1) {
            for (int i = 0; i < streams; i++)
                lx_up_call_start(u, &hold, &h, &hc);
            if (!loop_until(base, &hc.opened, streams, 120) || hc.failed) {
                fprintf(stderr, "bench-conncache: %d of %d streams open, %d failed\n", hc.opened,
                        streams, hc.failed);
                return 1;
            }
            printf("open streams %d, sockets %d\n", hc.opened, open_sockets());
            /* one probe to settle the connection it will reuse */
            int want = pc.done + 1;
            lx_up_call_start(u, &probe, &h, &pc);
            loop_until(base, &pc.done, want, 30);
        }
        CALLGRIND_ZERO_STATS;
        for (int i = 0; i < probes; i++) {
            int want = pc.done + 1;
            lx_up_call_start(u, &probe, &h, &pc);
            loop_until(base, &pc.done, want, 30);
        }
        CALLGRIND_DUMP_STATS_AT(phase == 0 ? "idle" : "loaded");
        printf("%s: %d probes, %d failed, sockets %d\n", phase == 0 ? "idle" : "loaded", probes,
               pc.failed, open_sockets());
    }
    lx_upstream_free(u);
    event_base_free(base);
    lx_upstream_global_cleanup();
    return pc.failed ? 1 : 0;
}
