/* bench_body.c - micro-benchmark of the per-request work on a chat body
 * (bench-body): JSON parse and model rewrite.
 *
 * Bodies: "small", a typical 300 B chat request (model first, two messages,
 * temperature, max_tokens, stream) and "large", a 20 KB conversation (a
 * system prompt, 24 turns, a tool call and its result, two tools) with
 * "model" after "messages", as openai-python orders it, so the rewrite has
 * to skip the conversation to find it.
 *
 * Rows, per body:
 *   parse             lx_json_parse (depth check + jansson, duplicate keys
 *                     refused) and json_decref
 *   model rewrite     lx_body_set_model into a fresh buffer, then freed (as
 *                     lx_up_build_t's body is per attempt)
 *   parse + rewrite   the two above
 *   jansson path      parse + the reads chat_body did with jansson
 *                     (messages, stream, stream_options, model, max tokens,
 *                     the capability walk over tools, response_format and
 *                     content parts: lx_chat_req_from_json, the scan's
 *                     fallback) + passthrough_body (model rewrite, then
 *                     the stream_options splice of a stream whose client
 *                     did not ask for usage) + decref. The jansson
 *                     passthrough_body chat.c had before the scan is
 *                     replicated here.
 * and the allocation-free reader (src/ai/chat_scan.h):
 *   jscan validate    lx_jscan_validate alone
 *   scan              lx_chat_req_scan: validate + extract the same fields
 *   scan + rewrite    the above + lx_body_set_model
 *
 * Timing: clock_gettime(CLOCK_MONOTONIC) around each sample; a sample is
 * one body, or a batch of k bodies when one takes under 1 us (k shown; the
 * percentiles are then those of k-body means). Samples for 0.4 s per row
 * (0.05 s with --quick, at least 1,000), after a warm-up; same bytes every
 * time, so caches are warm. Usage: bench-body [--json] [--quick]. */
#include "ai/body.h"
#include "core/json.h"
#include "micro.h"

#include "ai/chat_scan.h"
#include "core/jscan.h"
#define HAVE_SCAN 1

#include <stdio.h>
#include <stdlib.h>

#define MAX_SAMPLES 400000
#define MODEL       "gpt-4o-mini-2024-07-18"

static const char small_body[] =
    "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"system\",\"content\":\"You are a "
    "helpful assistant.\"},{\"role\":\"user\",\"content\":\"Write a haiku about latency in "
    "distributed systems, then explain its imagery in one sentence.\"}],\"temperature\":0.7,"
    "\"max_tokens\":256,\"stream\":true}";

static lx_buf_t large_body;
static volatile size_t sink;

/* ---- the large body ---------------------------------------------------------- */

static const char *const words[] = {
    "the",     "request",    "latency", "gateway", "provider", "stream", "token",   "model",
    "cache",   "retry",      "budget",  "of",      "and",      "to",     "a",       "is",
    "that",    "we",         "can",     "should",  "measure",  "p99",    "under",   "load",
    "config:", "\"quoted\"", "naïve",   "café",    "東京",     "—",      "x = 42;", "\n",
};
#define NWORDS (sizeof words / sizeof words[0])

static void paragraph(lx_buf_t *b, uint64_t *rng, size_t chars)
{
    lx_buf_t t;
    lx_buf_init(&t, chars + 32);
    while (t.n < chars) {
        if (t.n)
            lx_buf_append_char(&t, ' ');
        lx_buf_append_cstr(&t, words[micro_below(rng, NWORDS)]);
    }
    lx_buf_append_json_str(b, t.p, t.n);
    lx_buf_free(&t);
}

static void build_large(lx_buf_t *b)
{
    uint64_t rng = 7;
    lx_buf_init(b, 24 << 10);
    lx_buf_append_cstr(b, "{\"messages\":[{\"role\":\"system\",\"content\":");
    paragraph(b, &rng, 1200);
    lx_buf_append_cstr(b, "}");
    for (int turn = 0; turn < 12; turn++) {
        lx_buf_append_cstr(b, ",{\"role\":\"user\",\"content\":");
        if (turn == 3) { /* a multi-part user message */
            lx_buf_append_cstr(b, "[{\"type\":\"text\",\"text\":");
            paragraph(b, &rng, 300);
            lx_buf_append_cstr(b, "},{\"type\":\"text\",\"text\":");
            paragraph(b, &rng, 120);
            lx_buf_append_cstr(b, "}]");
        } else {
            paragraph(b, &rng, 150 + micro_below(&rng, 400));
        }
        lx_buf_append_cstr(b, "}");
        if (turn == 6) { /* a tool call and its result */
            lx_buf_append_cstr(b, ",{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{"
                                  "\"id\":\"call_Wq3bX9pL2mN8vR4tY6uZ0aC1\",\"type\":\"function\","
                                  "\"function\":{\"name\":\"search_docs\",\"arguments\":\"{\\\""
                                  "query\\\": \\\"gateway p99 latency\\\", \\\"limit\\\": 5}\"}}]},"
                                  "{\"role\":\"tool\",\"tool_call_id\":\"call_Wq3bX9pL2mN8vR4tY6uZ0"
                                  "aC1\",\"content\":");
            paragraph(b, &rng, 1500);
            lx_buf_append_cstr(b, "}");
        }
        lx_buf_append_cstr(b, ",{\"role\":\"assistant\",\"content\":");
        paragraph(b, &rng, 500 + micro_below(&rng, 900));
        lx_buf_append_cstr(b, "}");
    }
    lx_buf_append_cstr(b, ",{\"role\":\"user\",\"content\":");
    paragraph(b, &rng, 200);
    lx_buf_append_cstr(
        b, "}],\"model\":\"gpt-4o\",\"stream\":true,\"temperature\":0.2,\"max_completion_tokens\":"
           "2048,\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"search_docs\","
           "\"description\":\"Search the documentation\",\"parameters\":{\"type\":\"object\","
           "\"properties\":{\"query\":{\"type\":\"string\"},\"limit\":{\"type\":\"integer\"}},"
           "\"required\":[\"query\"]}}},{\"type\":\"function\",\"function\":{\"name\":"
           "\"get_metrics\",\"description\":\"Read a metric series\",\"parameters\":{\"type\":"
           "\"object\",\"properties\":{\"name\":{\"type\":\"string\"},\"window_s\":{\"type\":"
           "\"integer\"}},\"required\":[\"name\"]}}}],\"tool_choice\":\"auto\",\"user\":"
           "\"bench-user-1\"}");
}

/* ---- the operations ---------------------------------------------------------- */

typedef struct {
    const char *p;
    size_t n;
} body_t;

static json_t *parse(const body_t *b)
{
    char err[200];
    json_t *root = lx_json_parse(b->p, b->n, LX_JSON_MAX_DEPTH, err, sizeof err);
    if (!json_is_object(root)) {
        fprintf(stderr, "bench-body: the body does not parse: %s\n", err);
        exit(1);
    }
    return root;
}

static void op_parse(const body_t *b)
{
    json_t *root = parse(b);
    sink += json_object_size(root);
    json_decref(root);
}

static void op_rewrite(const body_t *b)
{
    lx_buf_t out;
    lx_buf_init(&out, 0);
    lx_body_set_model(&out, b->p, b->n, MODEL);
    sink += out.n;
    lx_buf_free(&out);
}

static void op_parse_rewrite(const body_t *b)
{
    op_parse(b);
    op_rewrite(b);
}

/* chat.c's passthrough_body (static there). */
static void passthrough_body(lx_buf_t *out, const body_t *b, const char *model, json_t *so,
                             bool add_usage)
{
    lx_buf_t tmp;
    lx_body_set_model(out, b->p, b->n, model);
    if (!add_usage)
        return;
    json_t *opts = json_is_object(so) ? json_deep_copy(so) : json_object();
    json_object_set_new(opts, "include_usage", json_true());
    char *text = json_dumps(opts, JSON_COMPACT);
    lx_buf_init(&tmp, out->n + 64);
    lx_body_set(&tmp, out->p, out->n, "stream_options", text, strlen(text));
    free(text);
    json_decref(opts);
    lx_buf_free(out);
    *out = tmp;
}

static void op_jansson_path(const body_t *b)
{
    json_t *root = parse(b);
    if (!json_is_array(json_object_get(root, "messages")))
        abort();
    lx_chat_req_t r;
    lx_chat_req_from_json(root, &r); /* the reads chat_body does on this path */
    lx_buf_t out;
    lx_buf_init(&out, 0);
    passthrough_body(&out, b, MODEL, json_object_get(root, "stream_options"),
                     r.stream && !r.client_usage);
    sink += out.n + r.need + r.model.n + (size_t)r.max_tokens;
    lx_buf_free(&out);
    json_decref(root);
}

#ifdef HAVE_SCAN
static void op_validate(const body_t *b)
{
    if (lx_jscan_validate(b->p, b->n) != LX_JSCAN_OK) {
        fprintf(stderr, "bench-body: lx_jscan_validate does not say OK\n");
        exit(1);
    }
}

static void op_scan(const body_t *b)
{
    lx_chat_req_t r;
    if (!lx_chat_req_scan((lx_str_t){b->p, b->n}, &r) || !r.messages_array || !r.stream) {
        fprintf(stderr, "bench-body: lx_chat_req_scan cannot read the body\n");
        exit(1);
    }
    sink += r.model.n + r.need + (size_t)r.max_tokens;
}

static void op_scan_rewrite(const body_t *b)
{
    op_scan(b);
    op_rewrite(b);
}
#endif

/* ---- timing ----------------------------------------------------------------- */

typedef void (*op_fn)(const body_t *b);

static double samples[MAX_SAMPLES];

static void run(const char *bname, const body_t *b, const char *oname, op_fn op,
                const micro_opts_t *o)
{
    /* warm-up, then calibration */
    int warm = 200;
    for (int i = 0; i < warm; i++)
        op(b);
    double t0 = micro_now_ns();
    for (int i = 0; i < warm; i++)
        op(b);
    double one = (micro_now_ns() - t0) / warm;
    int batch = one >= 1000 ? 1 : (int)(1000 / (one > 1 ? one : 1)) + 1;
    double budget = o->quick ? 0.05e9 : 0.4e9;
    long n = (long)(budget / (one * batch));
    if (n < 1000)
        n = 1000;
    if (n > MAX_SAMPLES)
        n = MAX_SAMPLES;
    double total = 0;
    for (long s = 0; s < n; s++) {
        t0 = micro_now_ns();
        for (int k = 0; k < batch; k++)
            op(b);
        double ns = micro_now_ns() - t0;
        samples[s] = ns / batch;
        total += ns;
    }
    micro_sort(samples, (size_t)n);
    double med = micro_pct(samples, n, 50), p10 = micro_pct(samples, n, 10);
    double p90 = micro_pct(samples, n, 90), p99 = micro_pct(samples, n, 99);
    double mean = total / ((double)n * batch);
    printf("| %-5s | %-15s | %7.0f | %7.0f | %7.0f | %7.0f | %7.0f | %5d | %8ld |\n", bname, oname,
           med, p10, p90, p99, mean, batch, n);
    char name[96];
    snprintf(name, sizeof name, "%s body (%zu B), %s", bname, b->n, oname);
    micro_row(name, "ns/body", med, p10, p90, p99, "mean ns", mean);
}

int main(int argc, char **argv)
{
    micro_opts_t o;
    micro_args(argc, argv, &o, "bench-body [--json] [--quick]");
    build_large(&large_body);
    body_t small = {small_body, sizeof small_body - 1};
    body_t large = {large_body.p, large_body.n};
    printf(
        "bench-body: a chat request body: lx_json_parse and lx_body_set_model (model -> \"%s\")\n",
        MODEL);
    printf("small: %zu B, model first; large: %zu B (%d messages), model after the messages\n",
           small.n, large.n, 2 * 12 + 4);
    printf("ns per body: median, p10, p90, p99 over the samples; a sample is k bodies (k = batch) "
           "when one takes < 1 us\n\n");
    printf("| %-5s | %-15s | %7s | %7s | %7s | %7s | %7s | %5s | %8s |\n", "body", "operation",
           "median", "p10", "p90", "p99", "mean", "batch", "samples");
    printf(
        "|-------|-----------------|---------|---------|---------|---------|---------|-------|---"
        "-------|\n");
    static const struct {
        const char *name;
        op_fn op;
    } ops[] = {
        {"parse", op_parse},
        {"model rewrite", op_rewrite},
        {"parse + rewrite", op_parse_rewrite},
        {"jansson path", op_jansson_path},
#ifdef HAVE_SCAN
        {"jscan validate", op_validate},
        {"scan", op_scan},
        {"scan + rewrite", op_scan_rewrite},
#endif
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        run("small", &small, ops[i].name, ops[i].op, &o);
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        run("large", &large, ops[i].name, ops[i].op, &o);
    lx_buf_free(&large_body);
    micro_json(&o, "bench-body");
    return 0;
}
