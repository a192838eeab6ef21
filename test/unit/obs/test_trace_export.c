/* test_trace_export.c - unit tests for src/obs/trace_export.c: a tracer is
 * made only when tracing is on, and its queue is bounded: with an export
 * in flight (the loop never runs here, so it stays in flight), spans beyond
 * the queue are dropped and counted, never waited for; freeing the tracer
 * counts what it still held. The export itself (POSTs, retries) runs in
 * integration-traces against a real receiver. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "obs/trace_export.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t counter(const char *name)
{
    lx_buf_t b;
    lx_buf_init(&b, 0);
    lx_trace_metrics(&b);
    lx_buf_append_char(&b, '\0');
    char key[96];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *p = strstr(b.p, key);
    assert_non_null(p);
    unsigned long long v = strtoull(p + strlen(key), NULL, 10);
    lx_buf_free(&b);
    return v;
}

static void test_off_without_endpoint(void **state)
{
    (void)state;
    lx_tracing_conf_t in = {0};
    lx_trace_conf_t conf;
    char err[200];
    assert_int_equal(lx_trace_conf_build(&in, &conf, err, sizeof err), LX_OK);
    assert_null(lx_tracer_new(NULL, NULL, &conf));
    assert_null(lx_tracer_new(NULL, NULL, NULL));
    assert_true(lx_tracer_idle(NULL));
    lx_tracer_flush(NULL);
    lx_tracer_free(NULL);
    lx_trace_conf_free(&conf);
}

static void test_full_queue_drops_and_counts(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    assert_int_equal(lx_upstream_global_init(), LX_OK);
    lx_upstream_t *up = lx_upstream_new(base, NULL, NULL);
    lx_tracing_conf_t in = {.endpoint = "http://127.0.0.1:9"};
    lx_trace_conf_t conf;
    char err[200];
    assert_int_equal(lx_trace_conf_build(&in, &conf, err, sizeof err), LX_OK);
    lx_tracer_t *t = lx_tracer_new(base, up, &conf);
    assert_non_null(t);
    assert_true(lx_tracer_idle(t));
    uint64_t dropped0 = counter("llmux_trace_spans_dropped_total");
    uint8_t trace[16];
    lx_trace_random_id(trace, 16);
    int extra = 440;
    for (int i = 0; i < LX_TRACE_BATCH_MAX + LX_TRACE_QUEUE_MAX + extra; i++) {
        lx_span_t *s = lx_span_new("s", LX_SPAN_INTERNAL, trace, NULL, 1);
        lx_span_cstr(s, "k", "v");
        lx_tracer_submit(t, s); /* the first 512 go out at once, and stay in flight */
    }
    assert_int_equal(counter("llmux_trace_spans_dropped_total") - dropped0, extra);
    assert_false(lx_tracer_idle(t));
    assert_int_equal(counter("llmux_trace_spans_exported_total"), 0);
    lx_tracer_free(t); /* what it held: the queue and the batch in flight */
    assert_int_equal(counter("llmux_trace_spans_dropped_total") - dropped0,
                     LX_TRACE_BATCH_MAX + LX_TRACE_QUEUE_MAX + extra);
    lx_upstream_free(up);
    lx_trace_conf_free(&conf);
    event_base_free(base);
    lx_upstream_global_cleanup();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_off_without_endpoint),
        cmocka_unit_test(test_full_queue_drops_and_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
