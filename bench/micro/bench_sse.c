/* bench_sse.c - micro-benchmark of the incremental SSE parser (bench-sse).
 *
 * What is timed: lx_sse_init, lx_sse_feed of a whole upstream stream, and
 * lx_sse_free (one pass = one upstream response, a fresh parser each time),
 * with an on_event callback that only counts. Two corpora (corpus.c): an
 * OpenAI chat stream of 4,000 content chunks and an Anthropic Messages
 * stream of 3,000 text deltas plus a tool call (event: lines). Three read
 * sizes: one event per feed, 1,448 B (a TCP segment at MTU 1500) and 16 KB
 * (curl's largest write callback, CURL_MAX_WRITE_SIZE).
 *
 * Timing: each repetition runs whole passes for at least 20 ms (2 ms with
 * --quick) of the thread's CPU time (CLOCK_THREAD_CPUTIME_ID: time this
 * thread spent preempted on the shared machine is not counted); MB/s and
 * events/s are per repetition; the table gives the median and p10/p90 over
 * 15 repetitions (5 with --quick), after one warm-up repetition.
 * Usage: bench-sse [--json] [--quick]. */
#include "ai/sse.h"
#include "corpus.h"
#include "micro.h"

#include <stdio.h>
#include <stdlib.h>

#define MAX_REPS 64

typedef struct {
    size_t events, bytes;
} sink_t;

static int on_event(const lx_sse_event_t *ev, void *arg)
{
    sink_t *s = arg;
    s->events++;
    s->bytes += ev->data.n + ev->event.n + ev->raw.n;
    return LX_OK;
}

/* One upstream response; read = 0: one event per feed. */
static void one_pass(const corpus_t *c, size_t read, sink_t *s)
{
    lx_sse_parser_t p;
    lx_sse_init(&p, on_event, s);
    const char *b = c->bytes.p;
    size_t n = c->bytes.n;
    if (read == 0) {
        size_t at = 0;
        for (size_t i = 0; i < c->nevents; i++) {
            lx_sse_feed(&p, b + at, c->ends[i] - at);
            at = c->ends[i];
        }
    } else {
        for (size_t at = 0; at < n; at += read)
            lx_sse_feed(&p, b + at, n - at < read ? n - at : read);
    }
    lx_sse_free(&p);
}

static void run(const char *cname, const corpus_t *c, const char *rname, size_t read,
                const micro_opts_t *o)
{
    int reps = o->quick ? 5 : 15;
    double min_ns = o->quick ? 2e6 : 20e6;
    sink_t s = {0};
    /* check and calibrate: passes per repetition */
    double t0 = micro_cpu_ns();
    one_pass(c, read, &s);
    double pass_ns = micro_cpu_ns() - t0;
    if (s.events != c->nevents) {
        fprintf(stderr, "bench-sse: %s/%s: %zu events, expected %zu\n", cname, rname, s.events,
                c->nevents);
        exit(1);
    }
    long passes = (long)(min_ns / (pass_ns > 1 ? pass_ns : 1)) + 1;
    double mbs[MAX_REPS], evs[MAX_REPS];
    for (int r = -1; r < reps; r++) { /* r = -1: warm-up */
        t0 = micro_cpu_ns();
        for (long k = 0; k < passes; k++)
            one_pass(c, read, &s);
        double ns = micro_cpu_ns() - t0;
        if (r >= 0) {
            mbs[r] = (double)c->bytes.n * (double)passes / ns * 1e3;
            evs[r] = (double)c->nevents * (double)passes / ns * 1e9;
        }
    }
    micro_sort(mbs, (size_t)reps);
    micro_sort(evs, (size_t)reps);
    double mb = micro_pct(mbs, reps, 50), ev = micro_pct(evs, reps, 50);
    printf("| %-9s | %-12s | %8.0f | %8.0f | %8.0f | %10.2f | %8.1f |\n", cname, rname, mb,
           micro_pct(mbs, reps, 10), micro_pct(mbs, reps, 90), ev / 1e6, 1e9 / ev);
    char name[96];
    snprintf(name, sizeof name, "%s stream, %s", cname, rname);
    micro_row(name, "MB/s", mb, micro_pct(mbs, reps, 10), micro_pct(mbs, reps, 90), NAN, "events/s",
              ev);
}

static void describe(const char *name, const corpus_t *c)
{
    printf("%-9s %zu events, %zu bytes (%.0f B per event)\n", name, c->nevents, c->bytes.n,
           (double)c->bytes.n / (double)c->nevents);
}

int main(int argc, char **argv)
{
    micro_opts_t o;
    micro_args(argc, argv, &o, "bench-sse [--json] [--quick]");
    corpus_t oa, an;
    corpus_openai(&oa, 4000, 1);
    corpus_anthropic(&an, 3000, 40, 2);
    printf("bench-sse: lx_sse_feed over one whole upstream stream per pass (fresh parser), "
           "callback counts only\n");
    printf("%d repetitions of >= %d ms of thread CPU time after a warm-up; median, p10 and p90 "
           "over the repetitions\n",
           o.quick ? 5 : 15, o.quick ? 2 : 20);
    describe("openai:", &oa);
    describe("anthropic:", &an);
    printf("\n| %-9s | %-12s | %8s | %8s | %8s | %10s | %8s |\n", "corpus", "reads", "MB/s", "p10",
           "p90", "M events/s", "ns/event");
    printf("|-----------|--------------|----------|----------|----------|------------|----------|"
           "\n");
    static const struct {
        const char *name;
        size_t read;
    } reads[] = {{"whole events", 0}, {"1448 B", 1448}, {"16 KB", 16384}};
    for (size_t i = 0; i < 3; i++)
        run("openai", &oa, reads[i].name, reads[i].read, &o);
    for (size_t i = 0; i < 3; i++)
        run("anthropic", &an, reads[i].name, reads[i].read, &o);
    corpus_free(&oa);
    corpus_free(&an);
    micro_json(&o, "bench-sse");
    return 0;
}
