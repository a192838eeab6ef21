/* test_metrics.c - unit tests for src/obs: histogram bucketing and
 * rendering, the merge of several workers' series at scrape time, label
 * escaping, "other" for missing names, the per-key switch, and a writer
 * thread racing a scraping thread (meaningful under scripts/tsan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "obs/hist.h"
#include "obs/metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The value of the sample line that starts with prefix (-1: none). */
static double sample(const char *text, const char *prefix)
{
    const char *p = text;
    size_t n = strlen(prefix);
    while (p && *p) {
        if (strncmp(p, prefix, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return -1;
}

static char *render(lx_metrics_t **ms, int n)
{
    lx_buf_t b;
    lx_buf_init(&b, 0);
    lx_metrics_render(ms, n, &b);
    return b.p; /* NUL-ended; the caller frees */
}

static void test_bucket_bounds(void **state)
{
    (void)state;
    assert_int_equal(lx_hist_bucket(-5), 0);
    assert_int_equal(lx_hist_bucket(0), 0);
    assert_int_equal(lx_hist_bucket(50), 0);
    assert_int_equal(lx_hist_bucket(51), 1);
    assert_int_equal(lx_hist_bucket(100), 1);
    assert_int_equal(lx_hist_bucket(1000), 4);
    assert_int_equal(lx_hist_bucket(1001), 5);
    assert_int_equal(lx_hist_bucket(60000000), LX_HIST_BOUNDS - 1);
    assert_int_equal(lx_hist_bucket(60000001), LX_HIST_BOUNDS);
    for (int i = 1; i < LX_HIST_BOUNDS; i++)
        assert_true(lx_hist_bounds_us[i] > lx_hist_bounds_us[i - 1]);
    assert_int_equal(lx_hist_bounds_us[0], 50);
    assert_int_equal(lx_hist_bounds_us[LX_HIST_BOUNDS - 1], 60000000);
    /* the le texts are what "%g" of the bounds in seconds writes */
    for (int i = 0; i < LX_HIST_BOUNDS; i++) {
        char g[32];
        snprintf(g, sizeof g, "%g", (double)lx_hist_bounds_us[i] / 1e6);
        assert_string_equal(lx_hist_bounds_text[i], g);
    }
}

/* The printf-free sample writers: the same text as the printf forms. */
static void test_sample_lines(void **state)
{
    (void)state;
    lx_buf_t b;
    lx_buf_init(&b, 0);
    lx_metrics_sample(&b, "a_total", "x=\"1\"", 0);
    lx_metrics_sample(&b, "b", "", 18446744073709551615ULL);
    lx_metrics_sample_n(&b, "c_totalXX", 7, "k=\"v\"YY", 5, 42);
    assert_string_equal(b.p, "a_total{x=\"1\"} 0\nb 18446744073709551615\nc_total{k=\"v\"} 42\n");
    lx_buf_free(&b);
}

static void test_hist_render_cumulative_seconds(void **state)
{
    (void)state;
    lx_hist_t h;
    memset(&h, 0, sizeof h);
    lx_hist_observe(&h, 40);       /* le 5e-05 */
    lx_hist_observe(&h, 700);      /* le 0.001 */
    lx_hist_observe(&h, 2000000);  /* le 2.5 */
    lx_hist_observe(&h, 90000000); /* +Inf only */
    lx_hist_sum_t s;
    memset(&s, 0, sizeof s);
    lx_hist_add_to(&h, &s);
    lx_hist_add_to(&h, &s); /* a second worker with the same figures */
    lx_buf_t b;
    lx_buf_init(&b, 0);
    lx_hist_render(&b, "x_seconds", "a=\"1\"", &s);
    assert_true(sample(b.p, "x_seconds_bucket{a=\"1\",le=\"5e-05\"}") == 2);
    assert_true(sample(b.p, "x_seconds_bucket{a=\"1\",le=\"0.0005\"}") == 2);
    assert_true(sample(b.p, "x_seconds_bucket{a=\"1\",le=\"0.001\"}") == 4);
    assert_true(sample(b.p, "x_seconds_bucket{a=\"1\",le=\"2.5\"}") == 6);
    assert_true(sample(b.p, "x_seconds_bucket{a=\"1\",le=\"60\"}") == 6);
    assert_true(sample(b.p, "x_seconds_bucket{a=\"1\",le=\"+Inf\"}") == 8);
    assert_true(sample(b.p, "x_seconds_count{a=\"1\"}") == 8);
    double sum = sample(b.p, "x_seconds_sum{a=\"1\"}");
    assert_true(sum > 184.0014 && sum < 184.0016); /* 2 x 92.00074 s */
    lx_buf_reset(&b);
    lx_hist_render(&b, "y_seconds", "", &s);
    assert_true(sample(b.p, "y_seconds_bucket{le=\"+Inf\"}") == 8);
    assert_true(sample(b.p, "y_seconds_count") == 8);
    lx_buf_free(&b);
}

static lx_metrics_req_t req(const char *provider, const char *model, int status, const char *reason)
{
    return (lx_metrics_req_t){.endpoint = "chat",
                              .provider = provider,
                              .model = model,
                              .status = status,
                              .reason = reason,
                              .total_us = 3000,
                              .upstream_us = 2000,
                              .tokens_in = 10,
                              .tokens_out = 5,
                              .cost_usd = 0.0015};
}

static void test_merge_across_workers(void **state)
{
    (void)state;
    lx_metrics_t *ms[3] = {lx_metrics_new(false), lx_metrics_new(false), NULL};
    lx_metrics_req_t r = req("openai", "gpt-4o", 200, "ok");
    lx_metrics_request(ms[0], &r);
    lx_metrics_request(ms[0], &r);
    lx_metrics_request(ms[1], &r);
    lx_metrics_req_t e = req("openai", "gpt-4o", 502, "upstream_error");
    lx_metrics_request(ms[1], &e);
    lx_metrics_attempt(ms[0], "chat", "openai", 1500, LX_METRICS_RETRY, "upstream_error");
    lx_metrics_attempt(ms[1], "chat", "openai", 1500, LX_METRICS_FALLBACK, "timeout");
    char *t = render(ms, 3);
    const char *ok = "llmux_ai_requests_total{endpoint=\"chat\",provider=\"openai\",model=\"gpt-"
                     "4o\",status_class=\"2xx\",reason=\"ok\"}";
    assert_true(sample(t, ok) == 3);
    const char *bad = "llmux_ai_requests_total{endpoint=\"chat\",provider=\"openai\",model=\"gpt-"
                      "4o\",status_class=\"5xx\",reason=\"upstream_error\"}";
    assert_true(sample(t, bad) == 1);
    /* one line per label set: merged, not one per worker */
    assert_null(strstr(strstr(t, ok) + 1, ok));
    assert_true(sample(t, "llmux_ai_request_duration_seconds_count{endpoint=\"chat\","
                          "provider=\"openai\"}") == 4);
    assert_true(sample(t, "llmux_ai_overhead_seconds_bucket{endpoint=\"chat\","
                          "provider=\"openai\",le=\"0.001\"}") == 4);
    assert_true(sample(t, "llmux_ai_upstream_ttfb_seconds_count{endpoint=\"chat\","
                          "provider=\"openai\"}") == 2);
    assert_true(sample(t, "llmux_ai_retries_total{reason=\"upstream_error\"}") == 1);
    assert_true(sample(t, "llmux_ai_fallbacks_total{reason=\"timeout\"}") == 1);
    assert_true(sample(t, "llmux_ai_fallbacks_total{reason=\"upstream_error\"}") == 0);
    assert_true(sample(t, "llmux_ai_tokens_total{provider=\"openai\",model=\"gpt-4o\","
                          "direction=\"in\"}") == 40);
    assert_true(sample(t, "llmux_ai_tokens_total{provider=\"openai\",model=\"gpt-4o\","
                          "direction=\"out\"}") == 20);
    double cost = sample(t, "llmux_ai_cost_usd_total{provider=\"openai\",model=\"gpt-4o\"}");
    assert_true(cost > 0.005999 && cost < 0.006001);
    /* nine decimals, as "%.9f" writes them */
    assert_non_null(
        strstr(t, "llmux_ai_cost_usd_total{provider=\"openai\",model=\"gpt-4o\"} 0.006000000\n"));
    assert_non_null(strstr(t, "llmux_ai_tokens_total{provider=\"openai\",model=\"gpt-4o\","
                              "direction=\"out\"} 20\n"));
    assert_null(strstr(t, "llmux_ai_key_requests_total")); /* per key off */
    free(t);
    lx_metrics_free(ms[0]);
    lx_metrics_free(ms[1]);
}

static void test_labels_escaped_and_other(void **state)
{
    (void)state;
    char out[256];
    const char *names[3] = {"a", "b", "c"};
    const char *values[3] = {"q\"uote", "back\\slash\nnl", NULL};
    size_t n = lx_metrics_labels(out, sizeof out, names, values, 3);
    assert_string_equal(out, "a=\"q\\\"uote\",b=\"back\\\\slash\\nnl\",c=\"other\"");
    assert_int_equal(n, strlen(out));
    assert_int_equal(lx_metrics_labels(out, 8, names, values, 3), 0); /* does not fit */
    char longv[400];
    memset(longv, 'x', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    const char *lv[1] = {longv};
    assert_int_equal(lx_metrics_labels(out, sizeof out, names, lv, 1),
                     strlen("a=\"\"") + LX_METRICS_LABEL_MAX);

    lx_metrics_t *m = lx_metrics_new(true);
    lx_metrics_req_t r = req(NULL, NULL, 404, "model_not_found");
    r.team = "t\"1";
    r.key = "key_7";
    lx_metrics_request(m, &r);
    char *t = render(&m, 1);
    assert_true(sample(t, "llmux_ai_requests_total{endpoint=\"chat\",provider=\"other\","
                          "model=\"other\",status_class=\"4xx\",reason=\"model_not_found\"}") == 1);
    assert_true(sample(t, "llmux_ai_team_requests_total{team=\"t\\\"1\"}") == 1);
    assert_true(sample(t, "llmux_ai_key_requests_total{key=\"key_7\"}") == 1);
    assert_true(sample(t, "llmux_ai_key_tokens_total{key=\"key_7\",direction=\"out\"}") == 5);
    free(t);
    lx_metrics_free(m);
}

static void test_status_class(void **state)
{
    (void)state;
    assert_string_equal(lx_metrics_status_class(200), "2xx");
    assert_string_equal(lx_metrics_status_class(429), "4xx");
    assert_string_equal(lx_metrics_status_class(499), "4xx");
    assert_string_equal(lx_metrics_status_class(503), "5xx");
    assert_string_equal(lx_metrics_status_class(0), "other");
    assert_string_equal(lx_metrics_status_class(600), "other");
}

static void test_stream_series(void **state)
{
    (void)state;
    lx_metrics_t *m = lx_metrics_new(false);
    lx_mseries_t *s = lx_metrics_stream_series(m, "chat", "demo");
    assert_non_null(s);
    assert_ptr_equal(s, lx_metrics_stream_series(m, "chat", "demo")); /* no second series */
    lx_metrics_stream_first(s, 7000);
    lx_metrics_stream_gap(s, 100);
    lx_metrics_stream_gap(s, 200);
    lx_metrics_stream_first(NULL, 1); /* NULL: ignored */
    lx_metrics_request(NULL, NULL);
    char *t = render(&m, 1);
    assert_true(sample(t, "llmux_ai_stream_first_chunk_seconds_count{endpoint=\"chat\","
                          "provider=\"demo\"}") == 1);
    assert_true(sample(t, "llmux_ai_stream_chunk_gap_seconds_count{endpoint=\"chat\","
                          "provider=\"demo\"}") == 2);
    assert_true(sample(t, "llmux_ai_stream_chunk_gap_seconds_bucket{endpoint=\"chat\","
                          "provider=\"demo\",le=\"0.0001\"}") == 1);
    free(t);
    lx_metrics_free(m);
}

/* One worker writes while another thread scrapes: no lock, nothing lost. */
#define RACE_N 20000
static void *writer(void *arg)
{
    lx_metrics_t *m = arg;
    char model[32];
    for (int i = 0; i < RACE_N; i++) {
        snprintf(model, sizeof model, "m%d", i % 50); /* new series appear as it runs */
        lx_metrics_req_t r = req("p", model, 200, "ok");
        lx_metrics_request(m, &r);
    }
    return NULL;
}

static void test_scrape_races_writer(void **state)
{
    (void)state;
    lx_metrics_t *m = lx_metrics_new(false);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, writer, m), 0);
    for (int i = 0; i < 20; i++)
        free(render(&m, 1));
    pthread_join(th, NULL);
    char *t = render(&m, 1);
    double total = 0;
    for (int k = 0; k < 50; k++) {
        char name[200];
        snprintf(name, sizeof name,
                 "llmux_ai_requests_total{endpoint=\"chat\",provider=\"p\",model=\"m%d\","
                 "status_class=\"2xx\",reason=\"ok\"}",
                 k);
        total += sample(t, name);
    }
    assert_true(total == RACE_N);
    free(t);
    lx_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_bounds),
        cmocka_unit_test(test_sample_lines),
        cmocka_unit_test(test_hist_render_cumulative_seconds),
        cmocka_unit_test(test_merge_across_workers),
        cmocka_unit_test(test_labels_escaped_and_other),
        cmocka_unit_test(test_status_class),
        cmocka_unit_test(test_stream_series),
        cmocka_unit_test(test_scrape_races_writer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
