/* bench_translate.c - micro-benchmark of stream translation into OpenAI
 * chat.completion.chunk objects (bench-translate).
 *
 * Through the adapter vtable (ai/adapter.h), as the call engine (call.c)
 * does it: stream_new, then stream_event once per upstream SSE event, each
 * emitted chunk handed to a callback, stream_free. Two rows per provider:
 *   decoder  the SSE events already split (event, data): stream_event and
 *            a callback that counts; nothing else.
 *   engine   what call.c does per upstream read: lx_sse_feed of 1,448 B
 *            reads (a TCP segment), on_event -> stream_event, each chunk
 *            framed "data: ...\n\n" into a reused buffer (call.c's
 *            emit_chunk for an OpenAI client) and copied into an output
 *            buffer drained after every read (the stand-in for
 *            lx_req_stream_write), "data: [DONE]" at the end.
 * The client asked for usage (include_usage), so the decoders also build
 * the final usage chunk.
 *
 * Corpora (corpus.c): Anthropic Messages, 1,000 text deltas + a tool_use
 * block streamed in 30 input_json_delta events (1,038 events, 1,034
 * chunks); Gemini alt=sse, 1,000 responses of 3-12 words + a functionCall
 * + the final one (1,002 events, 1,005 chunks).
 *
 * Timing: each repetition runs whole streams for at least 20 ms (2 ms with
 * --quick) of the thread's CPU time (CLOCK_THREAD_CPUTIME_ID: time spent
 * preempted on the shared machine is not counted); 15 repetitions (5)
 * after a warm-up; medians and p10/p90 of chunks/s across them, ns per
 * upstream event from the median.
 * Usage: bench-translate [--json] [--quick]. */
#include "ai/adapter.h"
#include "ai/sse.h"
#include "corpus.h"
#include "micro.h"

#include <stdio.h>
#include <stdlib.h>

#define MAX_REPS 64
#define READ     1448
#define MODEL    "upstream-model-2025"
#define CALL_ID  "chatcmpl-7f3a9c1e5b2d4f60a8e1c3b5d7f9a2c4"

/* ---- the events, split once (decoder rows) --------------------------------- */

typedef struct {
    lx_str_t *event, *data;
    size_t n;
} events_t;

typedef struct {
    lx_buf_t text;
    size_t *off; /* event start, event len, data start, data len */
    size_t n, cap;
} split_t;

static int keep_event(const lx_sse_event_t *ev, void *arg)
{
    split_t *s = arg;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->off = lx_realloc(s->off, s->cap * 4 * sizeof *s->off);
    }
    size_t *o = &s->off[s->n++ * 4];
    o[0] = s->text.n;
    o[1] = ev->event.n;
    lx_buf_append(&s->text, ev->event.p, ev->event.n);
    o[2] = s->text.n;
    o[3] = ev->data.n;
    lx_buf_append(&s->text, ev->data.p, ev->data.n);
    return LX_OK;
}

static void split(const corpus_t *c, split_t *s, events_t *e)
{
    *s = (split_t){0};
    lx_buf_init(&s->text, c->bytes.n);
    lx_sse_parser_t p;
    lx_sse_init(&p, keep_event, s);
    lx_sse_feed(&p, c->bytes.p, c->bytes.n);
    lx_sse_free(&p);
    e->n = s->n;
    e->event = lx_calloc(s->n, sizeof *e->event);
    e->data = lx_calloc(s->n, sizeof *e->data);
    for (size_t i = 0; i < s->n; i++) {
        const size_t *o = &s->off[i * 4];
        e->event[i] = (lx_str_t){s->text.p + o[0], o[1]};
        e->data[i] = (lx_str_t){s->text.p + o[2], o[3]};
    }
}

/* ---- one stream -------------------------------------------------------------- */

typedef struct {
    const lx_adapter_t *ad;
    lx_stream_dec_t *dec;
    lx_tokens_t tokens;
    bool done, failed;
    size_t chunks, bytes;
    lx_buf_t out;  /* one framed chunk (call.c's c->out) */
    lx_buf_t wire; /* what the client connection would be handed */
} stream_t;

static void count_chunk(void *arg, const char *json, size_t n)
{
    stream_t *s = arg;
    s->chunks++;
    s->bytes += n;
}

static void frame_chunk(void *arg, const char *json, size_t n)
{
    stream_t *s = arg;
    s->chunks++;
    lx_buf_reset(&s->out);
    lx_buf_append(&s->out, "data: ", 6);
    lx_buf_append(&s->out, json, n);
    lx_buf_append(&s->out, "\n\n", 2);
    lx_buf_append(&s->wire, s->out.p, s->out.n);
}

static void decoder_pass(stream_t *s, const events_t *e)
{
    char err[256];
    s->dec = s->ad->stream_new(MODEL, CALL_ID, true, count_chunk, s);
    s->done = false;
    for (size_t i = 0; i < e->n && !s->done; i++) {
        lx_stream_rc_t rc =
            s->ad->stream_event(s->dec, e->event[i], e->data[i], &s->tokens, err, sizeof err);
        s->done = rc == LX_STREAM_END;
        s->failed |= rc == LX_STREAM_FAILED;
    }
    s->ad->stream_free(s->dec);
}

/* call.c's translated(): ignore stragglers after the end. */
static int on_sse_event(const lx_sse_event_t *ev, void *arg)
{
    stream_t *s = arg;
    if (s->done || s->failed)
        return LX_OK;
    char err[256] = "";
    lx_stream_rc_t rc =
        s->ad->stream_event(s->dec, ev->event, ev->data, &s->tokens, err, sizeof err);
    if (rc == LX_STREAM_END) {
        s->done = true;
        lx_buf_append_cstr(&s->wire, "data: [DONE]\n\n");
    } else if (rc == LX_STREAM_FAILED) {
        s->failed = true;
    }
    return LX_OK;
}

static void engine_pass(stream_t *s, const corpus_t *c)
{
    lx_sse_parser_t p;
    lx_sse_init(&p, on_sse_event, s);
    s->dec = s->ad->stream_new(MODEL, CALL_ID, true, frame_chunk, s);
    s->done = false;
    for (size_t at = 0; at < c->bytes.n; at += READ) {
        size_t n = c->bytes.n - at < READ ? c->bytes.n - at : READ;
        lx_sse_feed(&p, c->bytes.p + at, n);
        s->bytes += s->wire.n;
        lx_buf_reset(&s->wire); /* sent */
    }
    s->ad->stream_free(s->dec);
    lx_sse_free(&p);
}

/* ---- rows ------------------------------------------------------------------- */

static void run(const char *prov, const lx_adapter_t *ad, const corpus_t *c, const events_t *e,
                bool engine, const micro_opts_t *o)
{
    int reps = o->quick ? 5 : 15;
    double min_ns = o->quick ? 2e6 : 20e6;
    stream_t s = {.ad = ad};
    lx_buf_init(&s.out, 512);
    lx_buf_init(&s.wire, 4096);
    double t0 = micro_cpu_ns();
    if (engine)
        engine_pass(&s, c);
    else
        decoder_pass(&s, e);
    double pass_ns = micro_cpu_ns() - t0;
    if (!s.done || s.failed || s.chunks != c->chunks) {
        fprintf(stderr, "bench-translate: %s: %zu chunks (expected %zu), end %d, failed %d\n", prov,
                s.chunks, c->chunks, s.done, s.failed);
        exit(1);
    }
    long passes = (long)(min_ns / (pass_ns > 1 ? pass_ns : 1)) + 1;
    double cps[MAX_REPS];
    for (int r = -1; r < reps; r++) {
        s.chunks = 0;
        t0 = micro_cpu_ns();
        for (long k = 0; k < passes; k++) {
            if (engine)
                engine_pass(&s, c);
            else
                decoder_pass(&s, e);
        }
        double ns = micro_cpu_ns() - t0;
        if (r >= 0)
            cps[r] = (double)s.chunks / ns * 1e9;
    }
    micro_sort(cps, (size_t)reps);
    double med = micro_pct(cps, reps, 50);
    /* ns per upstream event at the median rate */
    double ns_ev = 1e9 / (med / (double)c->chunks * (double)c->nevents);
    const char *what = engine ? "engine: SSE + decoder + framing" : "decoder";
    printf("| %-9s | %-31s | %9.0f | %9.0f | %9.0f | %8.0f |\n", prov, what, med,
           micro_pct(cps, reps, 10), micro_pct(cps, reps, 90), ns_ev);
    char name[96];
    snprintf(name, sizeof name, "%s -> openai, %s", prov, engine ? "engine (1448 B reads)" : what);
    micro_row(name, "chunks/s", med, micro_pct(cps, reps, 10), micro_pct(cps, reps, 90), NAN,
              "ns/event", ns_ev);
    lx_buf_free(&s.out);
    lx_buf_free(&s.wire);
}

static void events_free(split_t *s, events_t *e)
{
    lx_buf_free(&s->text);
    free(s->off);
    free(e->event);
    free(e->data);
}

int main(int argc, char **argv)
{
    micro_opts_t o;
    micro_args(argc, argv, &o, "bench-translate [--json] [--quick]");
    corpus_t an, gm;
    corpus_anthropic(&an, 1000, 30, 3);
    corpus_gemini(&gm, 1000, 4);
    split_t san, sgm;
    events_t ean, egm;
    split(&an, &san, &ean);
    split(&gm, &sgm, &egm);
    printf("bench-translate: upstream stream -> OpenAI chat.completion.chunk through the adapter "
           "vtable (include_usage on)\n");
    printf("anthropic: %zu events, %zu bytes -> %zu chunks; gemini: %zu events, %zu bytes -> %zu "
           "chunks\n",
           an.nevents, an.bytes.n, an.chunks, gm.nevents, gm.bytes.n, gm.chunks);
    printf("%d repetitions of >= %d ms of thread CPU time after a warm-up; median, p10 and p90 of "
           "chunks/s; ns per upstream event at the median\n\n",
           o.quick ? 5 : 15, o.quick ? 2 : 20);
    printf("| %-9s | %-31s | %9s | %9s | %9s | %8s |\n", "provider", "what", "chunks/s", "p10",
           "p90", "ns/event");
    printf("|-----------|---------------------------------|-----------|-----------|-----------|---"
           "-------|\n");
    run("anthropic", &lx_adapter_anthropic, &an, &ean, false, &o);
    run("anthropic", &lx_adapter_anthropic, &an, &ean, true, &o);
    run("gemini", &lx_adapter_gemini, &gm, &egm, false, &o);
    run("gemini", &lx_adapter_gemini, &gm, &egm, true, &o);
    events_free(&san, &ean);
    events_free(&sgm, &egm);
    corpus_free(&an);
    corpus_free(&gm);
    micro_json(&o, "bench-translate");
    return 0;
}
