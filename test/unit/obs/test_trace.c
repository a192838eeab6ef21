/* test_trace.c - unit tests for src/obs: the id generator, the W3C
 * traceparent/tracestate parsers, the samplers, the OTEL_* settings
 * (headers included) and the OTLP JSON encoding of spans. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "obs/otlp.h"
#include "obs/trace.h"
#include "obs/trace_conf.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TP_OK "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

/* ---- ids ---- */

static int cmp16(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

static void test_ids_are_random_and_never_zero(void **state)
{
    (void)state;
    enum { N = 20000 };
    static uint8_t ids[N][16];
    int bits[128] = {0};
    for (int i = 0; i < N; i++) {
        lx_trace_random_id(ids[i], 16);
        assert_false(lx_trace_id_is_zero(ids[i], 16));
        for (int b = 0; b < 128; b++)
            bits[b] += (ids[i][b / 8] >> (b % 8)) & 1;
    }
    qsort(ids, N, 16, cmp16);
    for (int i = 1; i < N; i++)
        assert_int_not_equal(memcmp(ids[i - 1], ids[i], 16), 0);
    for (int b = 0; b < 128; b++) /* each bit set about half the time */
        assert_true(bits[b] > N * 45 / 100 && bits[b] < N * 55 / 100);
    uint8_t span[8];
    lx_trace_random_id(span, 8);
    assert_false(lx_trace_id_is_zero(span, 8));
}

static void *thread_id(void *arg)
{
    lx_trace_random_id(arg, 16);
    return NULL;
}

static void test_ids_differ_across_threads(void **state)
{
    (void)state;
    /* each thread seeds its own generator from the CSPRNG: two fresh
     * threads never start alike */
    uint8_t a[16], b[16];
    pthread_t t1, t2;
    pthread_create(&t1, NULL, thread_id, a);
    pthread_join(t1, NULL);
    pthread_create(&t2, NULL, thread_id, b);
    pthread_join(t2, NULL);
    assert_int_not_equal(memcmp(a, b, 16), 0);
}

/* ---- traceparent ---- */

static void test_traceparent_valid(void **state)
{
    (void)state;
    lx_trace_ctx_t c;
    assert_int_equal(lx_traceparent_parse(TP_OK, strlen(TP_OK), &c), LX_OK);
    char hex[33];
    lx_trace_hex(c.trace_id, 16, hex);
    assert_string_equal(hex, "4bf92f3577b34da6a3ce929d0e0e4736");
    lx_trace_hex(c.span_id, 8, hex);
    assert_string_equal(hex, "00f067aa0ba902b7");
    assert_int_equal(c.flags, 1);
    char out[LX_TRACEPARENT_LEN + 1];
    lx_traceparent_format(&c, out);
    assert_string_equal(out, TP_OK);
    /* unsampled, and flags with other bits (kept, but only bit 0 is written) */
    const char *tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
    assert_int_equal(lx_traceparent_parse(tp, strlen(tp), &c), LX_OK);
    assert_int_equal(c.flags, 0);
    tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09";
    assert_int_equal(lx_traceparent_parse(tp, strlen(tp), &c), LX_OK);
    lx_traceparent_format(&c, out);
    assert_string_equal(out + 53, "01");
    /* a future version with more fields after a '-' */
    tp = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds";
    assert_int_equal(lx_traceparent_parse(tp, strlen(tp), &c), LX_OK);
}

static void test_traceparent_invalid(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "00",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",   /* short */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-", /* 00 is exact */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", /* trailing */
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  /* uppercase */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",  /* uppercase */
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  /* zero trace */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  /* zero parent */
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  /* version ff */
        "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  /* bad version */
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  /* separator */
        "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01",
        "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01", /* not hex */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0z",
        "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", /* future: no '-' */
        " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lx_trace_ctx_t c;
        memset(&c, 0xab, sizeof c);
        if (lx_traceparent_parse(bad[i], strlen(bad[i]), &c) != LX_ERROR)
            fail_msg("accepted %s", bad[i]);
        assert_int_equal(c.flags, 0xab); /* untouched */
    }
    lx_trace_ctx_t c;
    assert_int_equal(lx_traceparent_parse(NULL, 0, &c), LX_ERROR);
}

/* ---- tracestate ---- */

static void test_tracestate(void **state)
{
    (void)state;
    static const char *const good[] = {
        "congo=t61rcWkgMzE",
        "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
        "rojo=00f067aa0ba902b7 , congo=t61rcWkgMzE",
        "a=1,,b=2",
        "tenant@vendor=x",
        "1tenant@vendor=x",
        "k=v with spaces inside",
        "a_b-c*d/e=~!",
    };
    static const char *const bad[] = {
        "",
        ",",
        "Upper=1",
        "1digitfirst=1",
        "k",
        "=v",
        "k=",
        "k=a,b",
        "k=a=b",
        "a=1,a=2",
        "k@=1",
        "k@Sys=1",
        "k@sys3456789012345=1",
        "k=\x01",
        "k=\x7f",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!lx_tracestate_valid(good[i], strlen(good[i])))
            fail_msg("refused %s", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (lx_tracestate_valid(bad[i], strlen(bad[i])))
            fail_msg("accepted %s", bad[i]);
    /* 32 members fit, 33 do not; more than 512 bytes do not */
    char buf[1024];
    size_t n = 0;
    for (int i = 0; i < 33; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%sk%d=v", i ? "," : "", i);
    size_t n32 = (size_t)(strrchr(buf, ',') - buf);
    assert_true(lx_tracestate_valid(buf, n32));
    assert_false(lx_tracestate_valid(buf, n));
    memset(buf, 'v', sizeof buf);
    memcpy(buf, "k=", 2);
    assert_false(lx_tracestate_valid(buf, 513));
}

/* ---- samplers ---- */

static void id_with_low(uint8_t id[16], uint64_t low)
{
    memset(id, 0x11, 8);
    for (int i = 15; i >= 8; i--, low >>= 8)
        id[i] = (uint8_t)low;
}

static void test_sampler_names(void **state)
{
    (void)state;
    lx_sampler_kind_t k;
    assert_int_equal(lx_sampler_parse("always_on", &k), LX_OK);
    assert_int_equal(k, LX_SAMPLER_ALWAYS_ON);
    assert_int_equal(lx_sampler_parse("parentbased_traceidratio", &k), LX_OK);
    assert_int_equal(k, LX_SAMPLER_PARENT_RATIO);
    assert_int_equal(lx_sampler_parse("parentbased_always_off", &k), LX_OK);
    assert_int_equal(k, LX_SAMPLER_PARENT_OFF);
    assert_int_equal(lx_sampler_parse("Always_On", &k), LX_ERROR);
    assert_int_equal(lx_sampler_parse("jaeger_remote", &k), LX_ERROR);
}

static void test_sampler_decisions(void **state)
{
    (void)state;
    uint8_t lo[16], hi[16];
    id_with_low(lo, 1);
    id_with_low(hi, UINT64_MAX);
    lx_trace_ctx_t on = {.flags = 1}, off = {.flags = 0};
    lx_sampler_t s = {LX_SAMPLER_ALWAYS_ON, 1};
    assert_true(lx_sampler_decide(&s, &off, lo)); /* not parent-based */
    s.kind = LX_SAMPLER_ALWAYS_OFF;
    assert_false(lx_sampler_decide(&s, &on, lo));
    s = (lx_sampler_t){LX_SAMPLER_RATIO, 0};
    assert_false(lx_sampler_decide(&s, NULL, lo));
    s.ratio = 1;
    assert_true(lx_sampler_decide(&s, NULL, hi));
    s.ratio = 0.5;
    assert_true(lx_sampler_decide(&s, &off, lo)); /* the id decides, not the parent */
    assert_false(lx_sampler_decide(&s, &on, hi));
    s.kind = LX_SAMPLER_PARENT_RATIO;
    s.ratio = 0;
    assert_true(lx_sampler_decide(&s, &on, hi));
    assert_false(lx_sampler_decide(&s, &off, lo));
    assert_false(lx_sampler_decide(&s, NULL, lo));
    s.ratio = 1;
    assert_true(lx_sampler_decide(&s, NULL, hi));
    s.kind = LX_SAMPLER_PARENT_ON;
    assert_true(lx_sampler_decide(&s, NULL, lo));
    assert_false(lx_sampler_decide(&s, &off, lo));
    s.kind = LX_SAMPLER_PARENT_OFF;
    assert_false(lx_sampler_decide(&s, NULL, lo));
    assert_true(lx_sampler_decide(&s, &on, lo));
    /* traceidratio keeps about its share of random ids */
    s = (lx_sampler_t){LX_SAMPLER_RATIO, 0.25};
    int kept = 0;
    for (int i = 0; i < 20000; i++) {
        uint8_t id[16];
        lx_trace_random_id(id, 16);
        kept += lx_sampler_decide(&s, NULL, id);
    }
    assert_true(kept > 4500 && kept < 5500);
}

/* ---- settings ---- */

static void test_headers_parse(void **state)
{
    (void)state;
    char *lines[4];
    int n;
    char err[200];
    assert_int_equal(
        lx_otlp_headers_parse(" api-key = se%20cr%2Cet ,x=1,,y=%3d", lines, 4, &n, err, sizeof err),
        LX_OK);
    assert_int_equal(n, 3);
    assert_string_equal(lines[0], "api-key: se cr,et");
    assert_string_equal(lines[1], "x: 1");
    assert_string_equal(lines[2], "y: =");
    for (int i = 0; i < n; i++)
        free(lines[i]);
    assert_int_equal(lx_otlp_headers_parse("", lines, 4, &n, err, sizeof err), LX_OK);
    assert_int_equal(n, 0);
    assert_int_equal(lx_otlp_headers_parse(NULL, lines, 4, &n, err, sizeof err), LX_OK);
    static const struct {
        const char *in, *why;
    } bad[] = {
        {"a=1,topsecret", "entry 2 has no '='"},
        {"bad key=topsecret", "entry 1 has a name"},
        {"=topsecret", "entry 1 has a name"},
        {"k=topsecret%zz", "bad %XX"},
        {"k=topsecret%4", "bad %XX"},
        {"k=top%0asecret", "control character"},
        {"a=1,b=2,c=3,d=4,e=topsecret", "one too many"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(lx_otlp_headers_parse(bad[i].in, lines, 4, &n, err, sizeof err), LX_ERROR);
        assert_int_equal(n, 0);
        if (strstr(err, bad[i].why) == NULL || strstr(err, "topsecret") != NULL)
            fail_msg("%s: %s", bad[i].in, err);
    }
}

static void test_conf_build(void **state)
{
    (void)state;
    lx_tracing_conf_t in = {0};
    lx_trace_conf_t c;
    char err[300];
    assert_int_equal(lx_trace_conf_build(&in, &c, err, sizeof err), LX_OK);
    assert_false(c.enabled); /* no endpoint: off */
    assert_string_equal(c.service_name, "llmux");
    assert_int_equal(c.sampler.kind, LX_SAMPLER_PARENT_ON);
    lx_trace_conf_free(&c);

    in.endpoint = "http://127.0.0.1:4318";
    assert_int_equal(lx_trace_conf_build(&in, &c, err, sizeof err), LX_OK);
    assert_true(c.enabled);
    assert_string_equal(c.url, "http://127.0.0.1:4318/v1/traces");
    lx_trace_conf_free(&c);
    in.endpoint = "http://127.0.0.1:4318/";
    assert_int_equal(lx_trace_conf_build(&in, &c, err, sizeof err), LX_OK);
    assert_string_equal(c.url, "http://127.0.0.1:4318/v1/traces");
    lx_trace_conf_free(&c);
    in.traces_endpoint = "https://collector/custom/path";
    in.sampler = "traceidratio";
    in.sampler_arg = "0.125";
    in.service_name = "gw";
    assert_int_equal(lx_trace_conf_build(&in, &c, err, sizeof err), LX_OK);
    assert_string_equal(c.url, "https://collector/custom/path"); /* as it is */
    assert_int_equal(c.sampler.kind, LX_SAMPLER_RATIO);
    assert_true(c.sampler.ratio == 0.125);
    assert_string_equal(c.service_name, "gw");
    lx_trace_conf_free(&c);
    in.disabled = true;
    assert_int_equal(lx_trace_conf_build(&in, &c, err, sizeof err), LX_OK);
    assert_false(c.enabled);
    lx_trace_conf_free(&c);
    in.disabled = false;

    static const struct {
        const char *field, *value, *needle;
    } bad[] = {
        {"sampler", "sometimes", "OTEL_TRACES_SAMPLER"},
        {"sampler_arg", "2", "OTEL_TRACES_SAMPLER_ARG"},
        {"sampler_arg", "-0.1", "OTEL_TRACES_SAMPLER_ARG"},
        {"sampler_arg", "half", "OTEL_TRACES_SAMPLER_ARG"},
        {"traces_endpoint", "collector:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"},
        {"headers", "nokey", "OTEL_EXPORTER_OTLP_HEADERS"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lx_tracing_conf_t b = in;
        if (strcmp(bad[i].field, "sampler") == 0)
            b.sampler = (char *)bad[i].value;
        else if (strcmp(bad[i].field, "sampler_arg") == 0)
            b.sampler_arg = (char *)bad[i].value;
        else if (strcmp(bad[i].field, "traces_endpoint") == 0)
            b.traces_endpoint = (char *)bad[i].value;
        else
            b.headers = (char *)bad[i].value;
        assert_int_equal(lx_trace_conf_build(&b, &c, err, sizeof err), LX_ERROR);
        if (strstr(err, bad[i].needle) == NULL)
            fail_msg("%s=%s: %s", bad[i].field, bad[i].value, err);
        assert_null(c.url);
    }
}

/* ---- OTLP JSON ---- */

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    assert_non_null(s);
    return s;
}

static json_t *attr_value(json_t *span, const char *key)
{
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(span, "attributes"), i, a)
    {
        if (strcmp(jstr(a, "key"), key) == 0)
            return json_object_get(a, "value");
    }
    fail_msg("no attribute %s", key);
    return NULL;
}

static void test_otlp_encoding(void **state)
{
    (void)state;
    uint8_t trace[16];
    for (int i = 0; i < 16; i++)
        trace[i] = (uint8_t)(0xa0 + i);
    lx_span_t *root =
        lx_span_new("chat \"gpt-4o\"", LX_SPAN_SERVER, trace, NULL, 1700000000123456789LL);
    root->end_ns = 1700000000223456789LL;
    lx_span_cstr(root, "gen_ai.system", "openai");
    lx_span_int(root, "gen_ai.usage.input_tokens", 9007199254740993LL); /* > 2^53 */
    lx_span_double(root, "x.ratio", 0.1);
    lx_span_bool(root, "llmux.fallback", true);
    lx_span_str(root, "x.bytes", "a\0b\n", 4);
    lx_span_cstr(root, "gen_ai.system", "anthropic"); /* set twice: the last wins */
    root->tracestate = strdup("k=v");
    root->status = LX_SPAN_ERROR;
    lx_span_t *child = lx_span_new("chat m", LX_SPAN_CLIENT, trace, root->span_id, 5);
    child->end_ns = 6;
    lx_span_t *spans[2] = {root, child};
    lx_buf_t b;
    lx_buf_init(&b, 0);
    lx_otlp_encode(&b, "svc", spans, 2);
    json_error_t je;
    json_t *doc = json_loadb(b.p, b.n, JSON_ALLOW_NUL, &je); /* \u0000 is JSON */
    if (doc == NULL)
        fail_msg("not JSON: %s: %.*s", je.text, (int)b.n, b.p);
    json_t *rs = json_array_get(json_object_get(doc, "resourceSpans"), 0);
    json_t *ra = json_array_get(json_object_get(json_object_get(rs, "resource"), "attributes"), 0);
    assert_string_equal(jstr(ra, "key"), "service.name");
    assert_string_equal(jstr(json_object_get(ra, "value"), "stringValue"), "svc");
    json_t *ss = json_array_get(json_object_get(rs, "scopeSpans"), 0);
    json_t *arr = json_object_get(ss, "spans");
    assert_int_equal(json_array_size(arr), 2);
    json_t *s0 = json_array_get(arr, 0), *s1 = json_array_get(arr, 1);
    assert_string_equal(jstr(s0, "name"), "chat \"gpt-4o\"");
    assert_string_equal(jstr(s0, "traceId"), "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
    char hex[17];
    lx_trace_hex(root->span_id, 8, hex);
    assert_string_equal(jstr(s0, "spanId"), hex);
    assert_null(json_object_get(s0, "parentSpanId"));
    assert_string_equal(jstr(s1, "parentSpanId"), hex);
    assert_string_equal(jstr(s0, "traceState"), "k=v");
    assert_int_equal(json_integer_value(json_object_get(s0, "kind")), 2);
    assert_int_equal(json_integer_value(json_object_get(s1, "kind")), 3);
    assert_string_equal(jstr(s0, "startTimeUnixNano"), "1700000000123456789");
    assert_string_equal(jstr(s0, "endTimeUnixNano"), "1700000000223456789");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(s0, "status"), "code")), 2);
    assert_string_equal(jstr(attr_value(s0, "gen_ai.system"), "stringValue"), "anthropic");
    assert_string_equal(jstr(attr_value(s0, "gen_ai.usage.input_tokens"), "intValue"),
                        "9007199254740993");
    assert_true(json_real_value(json_object_get(attr_value(s0, "x.ratio"), "doubleValue")) == 0.1);
    assert_true(json_is_true(json_object_get(attr_value(s0, "llmux.fallback"), "boolValue")));
    json_t *bytes = json_object_get(attr_value(s0, "x.bytes"), "stringValue");
    assert_int_equal(json_string_length(bytes), 4);
    assert_memory_equal(json_string_value(bytes), "a\0b\n", 4);
    assert_int_equal(json_array_size(json_object_get(s0, "attributes")), 5);
    json_decref(doc);
    lx_buf_free(&b);
    lx_span_free(root);
    lx_span_free(child);
}

static void test_span_attr_limit(void **state)
{
    (void)state;
    uint8_t trace[16] = {1};
    lx_span_t *s = lx_span_new("x", LX_SPAN_INTERNAL, trace, NULL, 1);
    static char keys[LX_SPAN_MAX_ATTRS + 5][8];
    for (int i = 0; i < LX_SPAN_MAX_ATTRS + 5; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        lx_span_cstr(s, keys[i], "v");
    }
    assert_int_equal(s->nattrs, LX_SPAN_MAX_ATTRS);
    assert_null(lx_span_attr(s, keys[LX_SPAN_MAX_ATTRS]));
    lx_span_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_are_random_and_never_zero),
        cmocka_unit_test(test_ids_differ_across_threads),
        cmocka_unit_test(test_traceparent_valid),
        cmocka_unit_test(test_traceparent_invalid),
        cmocka_unit_test(test_tracestate),
        cmocka_unit_test(test_sampler_names),
        cmocka_unit_test(test_sampler_decisions),
        cmocka_unit_test(test_headers_parse),
        cmocka_unit_test(test_conf_build),
        cmocka_unit_test(test_otlp_encoding),
        cmocka_unit_test(test_span_attr_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
