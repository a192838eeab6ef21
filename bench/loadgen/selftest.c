/* selftest.c - checks for llmux-bench's pure parts: the histogram's error
 * bound and merge, the JSON scanner, HTTP/1.1 and SSE parsing fed at every
 * split point and byte by byte, and stream fidelity verdicts. Prints
 * "N passed, N failed" and exits non-zero on any failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"
#include "http1.h"
#include "jscan.h"
#include "sse.h"
#include "stream.h"

static int passed, failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            passed++;                                                                              \
        } else {                                                                                   \
            failed++;                                                                              \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                        \
        }                                                                                          \
    } while (0)

static void test_hist(void)
{
    lb_hist_t *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
    int worst_ok = 1;

    lb_hist_init(a);
    CHECK(lb_hist_percentile(a, 50) == 0);
    for (uint64_t v = 0; v < 70000000u; v = v < 1000 ? v + 1 : v + v / 97) {
        uint64_t lo, hi, mid;
        uint32_t i = lb_hist_index(v);
        lb_hist_bucket_range(i, &lo, &hi);
        mid = lo + (hi - lo) / 2;
        if (v <= LB_HIST_MAX_US && (v < lo || v > hi))
            worst_ok = 0;
        if (v <= LB_HIST_MAX_US && v > 0 &&
            (double)(mid > v ? mid - v : v - mid) / (double)v > 0.01)
            worst_ok = 0;
        if (i >= LB_HIST_LEN)
            worst_ok = 0;
    }
    CHECK(worst_ok);
    for (uint64_t v = 1; v <= 10000; v++)
        lb_hist_add(a, v * 100);
    CHECK(a->count == 10000 && a->min == 100 && a->max == 1000000);
    uint64_t p50 = lb_hist_percentile(a, 50), p99 = lb_hist_percentile(a, 99);
    CHECK(p50 > 495000 && p50 < 505000);
    CHECK(p99 > 980000 && p99 < 1000000);
    CHECK(lb_hist_percentile(a, 100) == 1000000);
    lb_hist_init(b);
    lb_hist_add(b, 5);
    lb_hist_add(b, 100000000); /* clamped, max exact */
    lb_hist_merge(a, b);
    CHECK(a->count == 10002 && a->min == 5 && a->max == 100000000);
    free(a);
    free(b);
}

static void test_json(void)
{
    const char *j = " {\"id\":\"x\\\"}\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"a\","
                    "\"content\":\"tok1 \\u00e9\\n\"}}],\"n\":[1,{\"a\":[]}],\"t\":true}";
    lb_span_t all = {j, strlen(j)}, obj, ch, c0, d, c, t;
    lb_json_str_t s;
    char buf[16];
    size_t n;

    CHECK(lb_json_value(all, &obj));
    CHECK(lb_json_get(obj, "choices", &ch));
    CHECK(!lb_json_at(ch, 1, &c0));
    if (!lb_json_at(ch, 0, &c0) || !lb_json_get(c0, "delta", &d) ||
        !lb_json_get(d, "content", &c)) {
        CHECK(!"choices[0].delta.content found");
        return;
    }
    lb_json_str_init(&s, c);
    n = lb_json_str_read(&s, buf, sizeof(buf));
    CHECK(n == 8 && memcmp(buf, "tok1 \xc3\xa9\n", 8) == 0 && !s.bad);
    CHECK(lb_json_get(obj, "t", &t) && t.n == 4);
    CHECK(!lb_json_get(obj, "missing", &t));
    lb_span_t cut = {j, strlen(j) - 10};
    CHECK(!lb_json_value(cut, &obj));
}

/* Feeds msg to a fresh parser in pieces split at `split` (and byte by byte
 * when split == 0); returns the parser's state and collects the body. */
typedef struct {
    char body[4096];
    size_t n;
    int heads;
} body_t;

static int collect(void *arg, const char *p, size_t n)
{
    body_t *b = arg;
    if (b->n + n > sizeof(b->body))
        return -1;
    memcpy(b->body + b->n, p, n);
    b->n += n;
    return 0;
}

static void on_head(void *arg)
{
    ((body_t *)arg)->heads++;
}

static lb_h1_state_t feed_split(lb_h1_t *h, const char *msg, size_t len, size_t split, body_t *b,
                                size_t *used)
{
    size_t off = 0;

    *used = 0;
    while (off < len && h->state != LB_H1_DONE && h->state != LB_H1_ERROR) {
        size_t k = split ? (off < split ? split - off : len - off) : 1;
        if (k > len - off)
            k = len - off;
        size_t u = lb_h1_feed(h, msg + off, k, on_head, collect, b);
        *used += u;
        off += k;
        if (u < k)
            break;
    }
    return h->state;
}

static void test_http1(void)
{
    static const char cl[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             "Content-Length: 11\r\n\r\nhello world";
    static const char ch[] = "HTTP/1.1 100 Continue\r\n\r\n"
                             "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n"
                             "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n";
    static const char eof[] = "HTTP/1.0 503 Busy\nContent-Type: text/plain\n\nbye";
    static const char bad[] = "HTTP/1.1 2000 OK\r\n\r\n";
    int all_ok = 1;
    lb_h1_t h;
    body_t b;
    size_t used;

    lb_h1_init(&h);
    for (size_t split = 0; split <= sizeof(cl); split++) {
        memset(&b, 0, sizeof(b));
        lb_h1_reset(&h);
        if (feed_split(&h, cl, sizeof(cl) - 1, split, &b, &used) != LB_H1_DONE || h.status != 200 ||
            !h.keep_alive || b.n != 11 || memcmp(b.body, "hello world", 11) ||
            used != sizeof(cl) - 1 || b.heads != 1 || h.event_stream)
            all_ok = 0;
    }
    CHECK(all_ok);
    all_ok = 1;
    for (size_t split = 0; split <= sizeof(ch); split++) {
        memset(&b, 0, sizeof(b));
        lb_h1_reset(&h);
        if (feed_split(&h, ch, sizeof(ch) - 1, split, &b, &used) != LB_H1_DONE || h.status != 200 ||
            !h.event_stream || !h.chunked || b.n != 11 || memcmp(b.body, "hello world", 11) ||
            used != sizeof(ch) - 1 || b.heads != 1)
            all_ok = 0;
    }
    CHECK(all_ok);
    memset(&b, 0, sizeof(b));
    lb_h1_reset(&h);
    CHECK(feed_split(&h, eof, sizeof(eof) - 1, 7, &b, &used) == LB_H1_BODY_EOF);
    CHECK(h.status == 503 && !h.keep_alive && lb_h1_eof(&h) && b.n == 3);
    /* Two responses back to back: the parser stops after the first. */
    char two[256];
    snprintf(two, sizeof(two), "%s%s", cl, cl);
    memset(&b, 0, sizeof(b));
    lb_h1_reset(&h);
    CHECK(feed_split(&h, two, strlen(two), 1000, &b, &used) == LB_H1_DONE &&
          used == sizeof(cl) - 1);
    lb_h1_reset(&h);
    CHECK(feed_split(&h, bad, sizeof(bad) - 1, 3, &b, &used) == LB_H1_ERROR);
    lb_h1_reset(&h);
    CHECK(!lb_h1_started(&h));
    CHECK(lb_h1_feed(&h, "HTTP/1.1 20", 11, NULL, NULL, NULL) == 11 && lb_h1_started(&h));
    lb_h1_free(&h);
}

typedef struct {
    char names[8][32];
    char data[8][256];
    int n;
} events_t;

static void on_ev(void *arg, const char *name, size_t nl, const char *data, size_t dl)
{
    events_t *e = arg;
    if (e->n < 8) {
        snprintf(e->names[e->n], 32, "%.*s", (int)nl, name);
        snprintf(e->data[e->n], 256, "%.*s", (int)dl, data);
    }
    e->n++;
}

static void test_sse(void)
{
    static const char in[] = ": comment\r\nevent: a\r\ndata: one\r\ndata:two\r\n\r\n"
                             "data: {\"x\":1}\n\n"
                             "event: b\rdata: three\r\r"
                             "retry: 5\nid: 1\n\n"
                             "data: [DONE]\n\n";
    int all_ok = 1;
    lb_sse_t s;
    events_t e;

    lb_sse_init(&s);
    for (size_t split = 0; split <= sizeof(in); split++) {
        memset(&e, 0, sizeof(e));
        lb_sse_reset(&s);
        size_t len = sizeof(in) - 1;
        if (split == 0) {
            for (size_t i = 0; i < len; i++)
                lb_sse_feed(&s, in + i, 1, on_ev, &e);
        } else {
            size_t k = split < len ? split : len;
            lb_sse_feed(&s, in, k, on_ev, &e);
            lb_sse_feed(&s, in + k, len - k, on_ev, &e);
        }
        if (e.n != 4 || strcmp(e.names[0], "a") || strcmp(e.data[0], "one\ntwo") ||
            strcmp(e.names[1], "") || strcmp(e.data[1], "{\"x\":1}") || strcmp(e.names[2], "b") ||
            strcmp(e.data[2], "three") || strcmp(e.data[3], "[DONE]")) {
            all_ok = 0;
            fprintf(stderr, "sse split %zu: %d events\n", split, e.n);
        }
    }
    CHECK(all_ok);
    lb_sse_free(&s);
}

static void ev(lb_stream_t *st, const char *data)
{
    lb_stream_event(st, "", 0, data, strlen(data));
}

static void openai_piece(lb_stream_t *st, const char *text)
{
    char buf[256];
    snprintf(buf, sizeof(buf),
             "{\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%s\"},"
             "\"finish_reason\":null}]}",
             text);
    ev(st, buf);
}

static void test_stream(void)
{
    lb_expect_t e;
    lb_stream_t st;
    lb_stream_verdict_t v;

    CHECK(lb_expect_build(&e, 3) == 0 && strcmp(e.text, "tok0 tok1 tok2 ") == 0);
    /* good, with a role chunk and a coalesced delta */
    lb_stream_start(&st, &e);
    ev(&st, "{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}");
    openai_piece(&st, "tok0 ");
    openai_piece(&st, "tok1 tok2 ");
    ev(&st, "{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}");
    ev(&st, "[DONE]");
    v = lb_stream_verdict(&st);
    CHECK(v.ok && st.chunks == 2 && st.events == 5);
    /* missing */
    lb_stream_start(&st, &e);
    openai_piece(&st, "tok0 ");
    openai_piece(&st, "tok2 ");
    ev(&st, "[DONE]");
    v = lb_stream_verdict(&st);
    CHECK(!v.ok && v.problem == LB_FID_MISSING && !v.no_done);
    /* duplicated */
    lb_stream_start(&st, &e);
    openai_piece(&st, "tok0 ");
    openai_piece(&st, "tok0 ");
    v = lb_stream_verdict(&st);
    CHECK(!v.ok && v.problem == LB_FID_REORDER && v.no_done);
    /* extra token after the end */
    lb_stream_start(&st, &e);
    openai_piece(&st, "tok0 tok1 tok2 tok1 ");
    ev(&st, "[DONE]");
    CHECK(lb_stream_verdict(&st).problem == LB_FID_REORDER);
    /* truncated */
    lb_stream_start(&st, &e);
    openai_piece(&st, "tok0 ");
    ev(&st, "[DONE]");
    CHECK(lb_stream_verdict(&st).problem == LB_FID_MISSING);
    /* corrupt */
    lb_stream_start(&st, &e);
    openai_piece(&st, "tok0 tik1 ");
    CHECK(lb_stream_verdict(&st).problem == LB_FID_CORRUPT);
    /* error event */
    lb_stream_start(&st, NULL);
    openai_piece(&st, "tok0 ");
    ev(&st, "{\"error\":{\"message\":\"upstream failure\"}}");
    v = lb_stream_verdict(&st);
    CHECK(!v.ok && v.no_done && st.error_event);
    /* anthropic */
    lb_stream_start(&st, &e);
    ev(&st, "{\"type\":\"message_start\",\"message\":{\"content\":[]}}");
    ev(&st, "{\"type\":\"ping\"}");
    for (int i = 0; i < 3; i++) {
        char b[160];
        snprintf(b, sizeof(b),
                 "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
                 "\"text_delta\",\"text\":\"tok%d \"}}",
                 i);
        ev(&st, b);
    }
    ev(&st, "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"}}");
    CHECK(lb_stream_verdict(&st).no_done);
    ev(&st, "{\"type\":\"message_stop\"}");
    v = lb_stream_verdict(&st);
    CHECK(v.ok && st.kind == LB_SK_ANTHROPIC && st.chunks == 3);
    lb_expect_free(&e);
}

/* HTTP chunked framing around an SSE stream, chunk boundaries and read
 * boundaries both arbitrary: the whole path a stream takes in conn.c. */
typedef struct {
    lb_sse_t *sse;
    lb_stream_t *st;
} path_t;

static void stream_ev(void *arg, const char *name, size_t nl, const char *data, size_t dl)
{
    lb_stream_event(arg, name, nl, data, dl);
}

static int sse_body(void *arg, const char *p, size_t n)
{
    path_t *a = arg;
    return lb_sse_feed(a->sse, p, n, stream_ev, a->st);
}

static void test_full_path(void)
{
    char sse[2048], msg[4096];
    size_t sl = 0, ml, used;
    lb_expect_t e;
    lb_h1_t h;
    lb_sse_t s;
    lb_stream_t st;
    int all_ok = 1;

    for (int i = 0; i < 5; i++)
        sl += (size_t)snprintf(sse + sl, sizeof(sse) - sl,
                               "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":"
                               "\"tok%d \"}}]}\n\n",
                               i);
    sl += (size_t)snprintf(sse + sl, sizeof(sse) - sl, "data: [DONE]\n\n");
    ml = (size_t)snprintf(msg, sizeof(msg),
                          "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n");
    for (size_t off = 0, k = 1; off < sl; off += k, k = k * 3 % 97 + 1) {
        size_t n = off + k > sl ? sl - off : k;
        ml += (size_t)snprintf(msg + ml, sizeof(msg) - ml, "%zx\r\n%.*s\r\n", n, (int)n, sse + off);
    }
    ml += (size_t)snprintf(msg + ml, sizeof(msg) - ml, "0\r\n\r\n");
    lb_expect_build(&e, 5);
    lb_h1_init(&h);
    lb_sse_init(&s);
    for (size_t split = 1; split <= ml; split += 7) {
        path_t pa = {&s, &st};
        lb_h1_reset(&h);
        lb_sse_reset(&s);
        lb_stream_start(&st, &e);
        used = 0;
        for (size_t off = 0; off < ml; off += split) {
            size_t n = off + split > ml ? ml - off : split;
            used += lb_h1_feed(&h, msg + off, n, NULL, sse_body, &pa);
        }
        if (h.state != LB_H1_DONE || used != ml || !h.event_stream || !lb_stream_verdict(&st).ok ||
            st.chunks != 5 || st.events != 6)
            all_ok = 0;
    }
    CHECK(all_ok);
    lb_h1_free(&h);
    lb_sse_free(&s);
    lb_expect_free(&e);
}

int main(void)
{
    test_hist();
    test_json();
    test_http1();
    test_sse();
    test_stream();
    test_full_path();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
