/* upstream_fx.h - what bench-conncache and bench-tlsconnect share: counting
 * callbacks for the upstream client, a loop that runs until a count is
 * reached, and the two requests they send the mock (a stream it holds open
 * for ten minutes between pieces, and a one-piece whole answer). Header
 * only: each program includes it once. */
#ifndef LX_BENCH_UPSTREAM_FX_H
#define LX_BENCH_UPSTREAM_FX_H

#include "upstream/upstream.h"

#include <event2/event.h>
#include <stdio.h>
#include <string.h>
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

static const lx_up_handlers_t fx_handlers = {on_headers, on_data, on_done};

/* The held stream (hold) and the whole answer (probe) to url, with tp. */
static void fx_requests(const char *url, const lx_transport_t *tp, lx_up_request_t *hold,
                        lx_up_request_t *probe)
{
    static const char body_stream[] =
        "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    static const char body_whole[] =
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    static const char *hold_headers[] = {"Content-Type: application/json", "x-mock-chunks: 2",
                                         "x-mock-gap-ms: 600000"};
    static const char *probe_headers[] = {"Content-Type: application/json", "x-mock-chunks: 1"};
    lx_timeouts_t to = {30000, 900000, 900000, 900000};
    *hold = (lx_up_request_t){.url = url,
                              .headers = hold_headers,
                              .nheaders = 3,
                              .body = body_stream,
                              .body_len = strlen(body_stream),
                              .timeouts = to,
                              .stream = true,
                              .transport = tp};
    *probe = (lx_up_request_t){.url = url,
                               .headers = probe_headers,
                               .nheaders = 2,
                               .body = body_whole,
                               .body_len = strlen(body_whole),
                               .timeouts = to,
                               .transport = tp};
}

#endif
