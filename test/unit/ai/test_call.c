/* test_call.c - the AI call's attempt loop and its one finalizer
 * (src/ai/call.c, call_client.c, call_end.c) against a scripted upstream
 * and an observed client (call_fakes.h): retries, fallbacks, no retry once
 * bytes reached the client, the client leaving in each state, exactly one
 * usage record per outcome with the status the client saw, and the outcome
 * rendered in each wire. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ai/call.h"
#include "ai/call_int.h"
#include "ai/routing/limits.h"
#include "call_fakes.h"
#include "core/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct event_base *base;
static lx_config_t cfg;
static lx_ai_t ai;
static lx_routing_t routing;
static fake_up_t up;
static fake_sink_t sink;
static lx_req_t req;
static lx_route_state_t states[3];
static lx_client_fmt_t cur_client;
static bool build_refuses;

static const char *const names[3] = {"alpha", "beta", "gamma"};

#define OPENAI_ANSWER                                                                              \
    "{\"id\":\"x\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{"         \
    "\"role\":\"assistant\",\"content\":\"hi\"},\"finish_reason\":\"stop\"}],\"usage\":{"          \
    "\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}"
#define OPENAI_CHUNK                                                                               \
    "data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{"      \
    "\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":null}]}\n\n"
#define OPENAI_DONE "data: [DONE]\n\n"

/* ---- set-up ---- */

static int group_setup(void **state)
{
    (void)state;
    lx_config_defaults(&cfg);
    lx_routing_init(&routing, &cfg);
    lx_route_state_init(0);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    return 0;
}

static int setup(void **state)
{
    (void)state;
    base = event_base_new(); /* one per test: what a failed test left cannot run later */
    memset(&ai, 0, sizeof ai);
    ai.cfg = &cfg;
    ai.routing = &routing;
    ai.up = (lx_upstream_t *)(uintptr_t)&up;
    ai.up_ops = &fake_up_ops;
    ai.usage = &sink.sink;
    fake_up_reset(&up);
    fake_sink_reset(&sink);
    memset(states, 0, sizeof states);
    build_refuses = false;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    lx_ai_fini(&ai);
    fake_req_free(&req);
    fake_up_reset(&up);
    event_base_free(base);
    return 0;
}

/* The endpoint's build step: every target gets the client's bytes; the
 * answer passes through when the target speaks the client's wire. */
static int fake_build(lx_call_input_t *in, const lx_target_t *t, lx_up_build_t *out,
                      bool *passthrough, char *err, size_t errlen)
{
    if (build_refuses) {
        snprintf(err, errlen, "that provider cannot take this request");
        return LX_ERROR;
    }
    lx_buf_printf(&out->url, "http://upstream.test/%s", t->conf.name);
    lx_buf_append(&out->body, in->body.p, in->body.n);
    bool openai_kind =
        t->conf.kind == LX_PROVIDER_OPENAI || t->conf.kind == LX_PROVIDER_OPENAI_COMPAT;
    *passthrough =
        cur_client == LX_FMT_OPENAI ? openai_kind : t->conf.kind == LX_PROVIDER_ANTHROPIC;
    return LX_OK;
}

/* Starts a call from a client of wire `client` over n targets of the
 * given provider kinds. Returns what lx_call_run returned. */
static int start_call(lx_client_fmt_t client, bool stream, int n, const lx_provider_kind_t *kinds)
{
    cur_client = client;
    fake_req_init(&req, base, client == LX_FMT_ANTHROPIC);
    lx_target_t t[3];
    memset(t, 0, sizeof t);
    for (int i = 0; i < n; i++) {
        t[i].conf.name = (char *)names[i];
        t[i].conf.kind = kinds[i];
        t[i].conf.timeouts = (lx_timeouts_t){1000, 5000, 5000, 30000};
        snprintf(t[i].upstream_model, sizeof t[i].upstream_model, "model-%s", names[i]);
        t[i].state = &states[i];
    }
    static const char body[] =
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}";
    lx_call_opts_t o;
    memset(&o, 0, sizeof o);
    o.ai = &ai;
    o.req = &req;
    o.client = client;
    o.kind = LX_CALL_CHAT;
    o.feature = client == LX_FMT_ANTHROPIC ? "messages" : "chat";
    o.key_id = "key-1";
    o.api_key_id = 7;
    o.stream = stream;
    o.input_tokens_estimate = 5;
    o.t_handler_start = lx_now_us();
    o.build = fake_build;
    o.in.body = (lx_str_t){body, sizeof body - 1};
    o.in.model = lx_str("m");
    o.in.stream = stream;
    snprintf(o.requested_model, sizeof o.requested_model, "m");
    return lx_call_run(&o, t, n);
}

static const lx_provider_kind_t OPENAI3[3] = {LX_PROVIDER_OPENAI, LX_PROVIDER_OPENAI,
                                              LX_PROVIDER_OPENAI};

/* Runs the loop (the retry timer) until the upstream saw n calls, or
 * nothing is left to run. */
static void loop_until_calls(int n)
{
    int64_t until = lx_now_us() + 3000000;
    while (up.ncalls < n && lx_now_us() < until)
        if (event_base_loop(base, EVLOOP_ONCE) != 0)
            break; /* no event pending */
}

/* The client's bytes as text. */
static const char *client_text(void)
{
    static char text[8192];
    size_t n = req.body.n < sizeof text - 1 ? req.body.n : sizeof text - 1;
    memcpy(text, req.body.p ? req.body.p : "", n);
    text[n] = '\0';
    return text;
}

static fake_call_t *call_at(int i)
{
    assert_true(i < up.ncalls);
    return up.calls[i];
}

/* What holds after every call, whatever its outcome: it ended once (or the
 * client left and it said nothing more), nothing reached the client after
 * the end, no transfer was used after it was cancelled or over, none is
 * left running, and exactly one usage record holds the status the client
 * saw. Returns that record. */
static const lx_usage_t *ended_once(void)
{
    event_base_loop(base, EVLOOP_NONBLOCK); /* anything still due runs now */
    assert_true(req.finished);
    assert_int_equal(req.late, 0);
    assert_int_equal(req.gave_up, 0);
    assert_int_equal(req.ends, req.client_gone ? 0 : 1);
    assert_null(req.on_abort);
    for (int i = 0; i < up.ncalls; i++) {
        assert_int_equal(up.calls[i]->misuse, 0);
        assert_int_equal(up.calls[i]->callbacks_after_cancel, 0);
        assert_true(up.calls[i]->over || up.calls[i]->cancelled);
    }
    assert_int_equal(ai.streams_active, 0);
    assert_int_equal(sink.n, 1);
    const lx_usage_t *u = &sink.recs[0];
    assert_int_equal(u->status, req.status);
    assert_string_equal(u->request_id, "req-test-1");
    assert_string_equal(u->key_id, "key-1");
    assert_int_equal(u->api_key_id, 7);
    return u;
}

/* ---- answers ---- */

/* The baseline: one attempt, a whole answer passed through as it came. */
static void test_whole_answer(void **state)
{
    (void)state;
    assert_int_equal(start_call(LX_FMT_OPENAI, false, 1, OPENAI3), LX_AGAIN);
    assert_int_equal(up.ncalls, 1); /* started at once, no callback yet */
    assert_string_equal(call_at(0)->url, "http://upstream.test/alpha");
    assert_string_equal(call_at(0)->request_id, "req-test-1");
    assert_false(req.finished);
    fake_up_head(call_at(0), 200, NULL);
    assert_int_equal(fake_up_data(call_at(0), OPENAI_ANSWER), LX_OK);
    fake_up_done(call_at(0), LX_UP_OK);
    const lx_usage_t *u = ended_once();
    assert_int_equal(req.status, 200);
    assert_string_equal(client_text(), OPENAI_ANSWER);
    assert_string_equal(fake_req_header(&req, "x-llmux-provider"), "alpha");
    assert_string_equal(fake_req_header(&req, "x-llmux-attempts"), "1");
    assert_null(fake_req_header(&req, "x-llmux-fallback-reason"));
    assert_string_equal(u->provider, "alpha");
    assert_string_equal(u->model, "model-alpha");
    assert_int_equal(u->tokens_in, 3);
    assert_int_equal(u->tokens_out, 2);
    assert_string_equal(u->error, "");
    assert_string_equal(u->error_code, "");
    assert_string_equal(u->feature, "chat");
}

/* A stream passed through byte for byte, ended once. */
static void test_stream_passes_through(void **state)
{
    (void)state;
    start_call(LX_FMT_OPENAI, true, 1, OPENAI3);
    fake_call_t *fc = call_at(0);
    assert_true(fc->stream);
    fake_up_head(fc, 200, NULL);
    assert_false(req.streaming); /* the head waits for the first event */
    fake_up_data(fc, OPENAI_CHUNK);
    assert_true(req.streaming);
    fake_up_data(fc, OPENAI_DONE);
    fake_up_done(fc, LX_UP_OK);
    const lx_usage_t *u = ended_once();
    assert_int_equal(req.status, 200);
    assert_string_equal(req.ctype, "text/event-stream");
    assert_string_equal(client_text(), OPENAI_CHUNK OPENAI_DONE);
    assert_int_equal(req.stream_ends, 1);
    assert_string_equal(u->error_code, "");
}

/* ---- retries and fallbacks ---- */

/* A 5xx before anything reached the client: the same target again after a
 * backoff (routing.retry_same = 1), and its answer is the client's. */
static void test_retry_same_target_after_5xx(void **state)
{
    (void)state;
    start_call(LX_FMT_OPENAI, false, 2, OPENAI3);
    fake_up_head(call_at(0), 500, NULL);
    fake_up_data(call_at(0), "{\"error\":{\"message\":\"boom\"}}");
    fake_up_done(call_at(0), LX_UP_OK);
    assert_false(req.finished);
    assert_int_equal(up.ncalls, 1); /* the retry waits for its backoff timer */
    loop_until_calls(2);
    assert_int_equal(up.ncalls, 2);
    assert_string_equal(call_at(1)->url, "http://upstream.test/alpha");
    fake_up_head(call_at(1), 200, NULL);
    fake_up_data(call_at(1), OPENAI_ANSWER);
    fake_up_done(call_at(1), LX_UP_OK);
    const lx_usage_t *u = ended_once();
    assert_int_equal(req.status, 200);
    assert_string_equal(client_text(), OPENAI_ANSWER); /* nothing of the 500's body */
    assert_string_equal(fake_req_header(&req, "x-llmux-attempts"), "2");
    assert_string_equal(fake_req_header(&req, "x-llmux-fallback-reason"), "500 from alpha");
    assert_string_equal(u->provider, "alpha");
    assert_string_equal(u->error_code, "");
}

/* A 429: the next target at once, and the limited one cools. */
static void test_fallback_after_429(void **state)
{
    (void)state;
    start_call(LX_FMT_OPENAI, false, 2, OPENAI3);
    fake_up_head(call_at(0), 429, "Retry-After", "20", NULL);
    fake_up_data(call_at(0), "{\"error\":{\"message\":\"slow down\"}}");
    fake_up_done(call_at(0), LX_UP_OK);
    loop_until_calls(2);
    assert_int_equal(up.ncalls, 2);
    assert_string_equal(call_at(1)->url, "http://upstream.test/beta");
    assert_true(lx_cooling_left_ms(&states[0], lx_wall_ms()) > 10000);
    fake_up_head(call_at(1), 200, NULL);
    fake_up_data(call_at(1), OPENAI_ANSWER);
    fake_up_done(call_at(1), LX_UP_OK);
    const lx_usage_t *u = ended_once();
    assert_int_equal(req.status, 200);
    assert_string_equal(fake_req_header(&req, "x-llmux-provider"), "beta");
    assert_string_equal(fake_req_header(&req, "x-llmux-fallback-reason"), "429 from alpha");
    assert_string_equal(u->provider, "beta");
}

/* A connect failure: the same target once more (retry_same = 1), then the
 * next one. */
static void test_fallback_after_connect_failure(void **state)
{
    (void)state;
    start_call(LX_FMT_OPENAI, false, 2, OPENAI3);
    fake_up_done(call_at(0), LX_UP_CONNECT_FAILED);
    loop_until_calls(2);
    assert_string_equal(call_at(1)->url, "http://upstream.test/alpha");
    fake_up_done(call_at(1), LX_UP_CONNECT_FAILED);
    loop_until_calls(3);
    assert_int_equal(up.ncalls, 3);
    assert_string_equal(call_at(2)->url, "http://upstream.test/beta");
    fake_up_head(call_at(2), 200, NULL);
    fake_up_data(call_at(2), OPENAI_ANSWER);
    fake_up_done(call_at(2), LX_UP_OK);
    const lx_usage_t *u = ended_once();
    assert_int_equal(req.status, 200);
    assert_string_equal(fake_req_header(&req, "x-llmux-attempts"), "3");
    assert_string_equal(fake_req_header(&req, "x-llmux-fallback-reason"),
                        "connect_failed from alpha");
    assert_string_equal(u->provider, "beta");
    /* the record keeps each attempt: alpha, alpha again, then beta */
    json_error_t je;
    json_t *a = json_loads(u->attempts, 0, &je);
    if (a == NULL)
        fail_msg("attempts: %s (%s)", u->attempts, je.text);
    assert_int_equal(json_array_size(a), 3);
    static const char *const prov[3] = {"alpha", "alpha", "beta"};
    static const char *const then[3] = {"retry", "fallback", "end"};
    static const char *const transport[3] = {"connect_failed", "connect_failed", "ok"};
    for (size_t i = 0; i < 3; i++) {
        json_t *x = json_array_get(a, i);
        assert_string_equal(json_string_value(json_object_get(x, "provider")), prov[i]);
        assert_string_equal(json_string_value(json_object_get(x, "then")), then[i]);
        assert_string_equal(json_string_value(json_object_get(x, "transport")), transport[i]);
        assert_int_equal(json_is_true(json_object_get(x, "retry")), i == 1);
        assert_int_equal(json_is_true(json_object_get(x, "fallback")), i == 2);
        assert_true(json_integer_value(json_object_get(x, "duration_us")) >= 0);
    }
    assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "reason")),
                        "connect_failed");
    assert_true(json_is_null(json_object_get(json_array_get(a, 0), "status")));
    assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 2), "status")), 200);
    assert_string_equal(json_string_value(json_object_get(json_array_get(a, 2), "verdict")),
                        "success");
    json_decref(a);
    assert_true(u->ttfc_us > 0 && u->ttfc_us <= u->total_us);
    assert_true(u->overhead_us >= 0);
}

/* The attempts text never overflows its room: past it, whole attempts are
 * dropped and the array ends with {"more": n}; names are JSON-escaped. */
static void test_attempts_text_is_bounded(void **state)
{
    (void)state;
    lx_call_t *c = calloc(1, sizeof *c + sizeof(lx_target_t));
    char name[200];
    memset(name, 'n', sizeof name - 1);
    name[0] = '"';
    name[sizeof name - 1] = '\0';
    c->ntargets = 1;
    c->targets[0].conf.name = name;
    snprintf(c->targets[0].upstream_model, sizeof c->targets[0].upstream_model, "m\x01");
    for (int i = 0; i < 12; i++) {
        lx_call_log_start(c, 1000 * i);
        c->attempts++;
        lx_up_result_t res = {.outcome = LX_UP_OK, .first_byte_us = 5, .total_us = 10};
        lx_call_log_end(c, &res, 503, 1);
        lx_call_log_then(c, LX_ATT_THEN_RETRY);
    }
    char out[LX_USAGE_ATTEMPTS_MAX];
    lx_call_log_render(c, 99999, out, sizeof out);
    assert_true(strlen(out) < sizeof out);
    json_error_t je;
    json_t *a = json_loads(out, 0, &je);
    assert_non_null(a);
    size_t n = json_array_size(a);
    assert_true(n >= 2 && n < 12);
    assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "provider")), name);
    assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "model")), "m\x01");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(a, n - 1), "more")),
                     12 - (int)(n - 1));
    json_decref(a);
    char tiny[40];
    lx_call_log_render(c, 99999, tiny, sizeof tiny);
    assert_string_equal(tiny, "[{\"more\":12}]");
    free(c);
}

/* The attempts text, byte for byte (it is written without printf). */
static void test_attempts_text_exact(void **state)
{
    (void)state;
    lx_call_t *c = calloc(1, sizeof *c + sizeof(lx_target_t));
    c->ntargets = 1;
    c->targets[0].conf.name = "p\n";
    snprintf(c->targets[0].upstream_model, sizeof c->targets[0].upstream_model, "m");
    lx_call_log_start(c, 1000);
    c->attempts++;
    lx_up_result_t bad = {.outcome = LX_UP_OK, .first_byte_us = 5, .total_us = 1234567890123};
    lx_call_log_end(c, &bad, 503, LX_FAIL_RETRY);
    lx_call_log_then(c, LX_ATT_THEN_RETRY);
    lx_call_log_start(c, 2000);
    c->attempts++;
    char out[LX_USAGE_ATTEMPTS_MAX];
    lx_call_log_render(c, 1500, out, sizeof out); /* the second still open */
    assert_string_equal(
        out, "[{\"n\":1,\"provider\":\"p\\u000a\",\"connection_id\":0,\"model\":\"m\","
             "\"status\":503,\"transport\":\"ok\",\"verdict\":\"retry\",\"then\":\"retry\","
             "\"reason\":\"HTTP 503\",\"retry\":false,\"fallback\":false,"
             "\"duration_us\":1234567890123,\"ttfb_us\":5},"
             "{\"n\":2,\"provider\":\"p\\u000a\",\"connection_id\":0,\"model\":\"m\","
             "\"status\":null,\"transport\":\"open\",\"verdict\":\"open\",\"then\":\"end\","
             "\"retry\":true,\"fallback\":false,\"duration_us\":-500,\"ttfb_us\":null}]");
    free(c);
}

/* Every target fails: each is retried once (routing.retry_same = 1), and
 * the last failure is the client's (504 for a timeout), recorded once. */
static void test_all_targets_fail(void **state)
{
    (void)state;
    start_call(LX_FMT_OPENAI, false, 2, OPENAI3);
    static const char *const order[4] = {"alpha", "alpha", "beta", "beta"};
    for (int i = 0; i < 4; i++) {
        loop_until_calls(i + 1);
        assert_int_equal(up.ncalls, i + 1);
        assert_string_equal(call_at(i)->url + strlen("http://upstream.test/"), order[i]);
        fake_up_done(call_at(i), LX_UP_TIMEOUT_FIRST_BYTE);
    }
    const lx_usage_t *u = ended_once();
    assert_int_equal(up.ncalls, 4);
    assert_int_equal(req.status, 504);
    assert_int_equal(req.err, LX_E_UPSTREAM_TIMEOUT);
    assert_non_null(strstr(req.err_message, "upstream beta failed"));
    assert_string_equal(fake_req_header(&req, "x-llmux-attempts"), "4");
    assert_string_equal(u->error_code, "upstream_timeout");
    assert_string_equal(u->provider, "beta");
}

/* Once a byte reached the client, a failure is never retried: the stream
 * ends with an error event in OpenAI's stream shape, and the record says
 * 200 (what the client saw) with the error code. */
static void test_no_retry_once_bytes_reached_client(void **state)
{
    (void)state;
    start_call(LX_FMT_OPENAI, true, 2, OPENAI3);
    fake_up_head(call_at(0), 200, NULL);
    fake_up_data(call_at(0), OPENAI_CHUNK);
    fake_up_done(call_at(0), LX_UP_BROKEN);
    loop_until_calls(2);
    const lx_usage_t *u = ended_once();
    assert_int_equal(up.ncalls, 1);
    assert_int_equal(req.status, 200);
    assert_int_equal(req.stream_ends, 1);
    assert_string_equal(client_text(),
                        OPENAI_CHUNK "data: {\"error\":{\"message\":\"upstream stream failed: "
                                     "broken\",\"type\":\"server_error\",\"param\":null,"
                                     "\"code\":\"upstream_error\"}}\n\n");
    assert_int_equal(u->status, 200);
    assert_string_equal(u->error_code, "upstream_error");
    assert_int_equal(u->tokens_out, 1); /* billed for the event delivered */
    assert_int_equal(u->tokens_in, 5);  /* the client's estimate: upstream said nothing */
}

/* A stream that stops without its end marker is no normal end: an error
 * event, not a retry (the client has its first bytes). */
static void test_stream_ended_early(void **state)
{
    (void)state;
    start_call(LX_FMT_OPENAI, true, 2, OPENAI3);
    fake_up_head(call_at(0), 200, NULL);
    fake_up_data(call_at(0), OPENAI_CHUNK);
    fake_up_done(call_at(0), LX_UP_OK); /* no [DONE] */
    loop_until_calls(2);
    const lx_usage_t *u = ended_once();
    assert_int_equal(up.ncalls, 1);
    assert_non_null(strstr(client_text(), "data: {\"error\":{\"message\":\"upstream stream "
                                          "ended early\""));
    assert_int_equal(u->status, 200);
    assert_string_equal(u->error_code, "upstream_error");
}

/* A stream that ends before its first event was never started: retried
 * like any failure before the first byte. */
static void test_empty_stream_is_retried(void **state)
{
    (void)state;
    start_call(LX_FMT_OPENAI, true, 2, OPENAI3);
    fake_up_head(call_at(0), 200, NULL);
    fake_up_done(call_at(0), LX_UP_OK);
    assert_false(req.streaming);
    loop_until_calls(2);
    assert_int_equal(up.ncalls, 2);
    fake_up_head(call_at(1), 200, NULL);
    fake_up_data(call_at(1), OPENAI_CHUNK OPENAI_DONE);
    fake_up_done(call_at(1), LX_UP_OK);
    const lx_usage_t *u = ended_once();
    assert_string_equal(client_text(), OPENAI_CHUNK OPENAI_DONE);
    assert_string_equal(u->error_code, "");
}

/* ---- the outcome in each wire ---- */

/* An upstream error before anything was sent: not retried (a 400 is the
 * request's fault), replied with its status and message, the error in
 * OpenAI's shape on an OpenAI route. */
static void test_error_reply_openai(void **state)
{
    (void)state;
    start_call(LX_FMT_OPENAI, false, 2, OPENAI3);
    fake_up_head(call_at(0), 400, NULL);
    fake_up_data(call_at(0), "{\"error\":{\"message\":\"bad thing\",\"type\":\"x\"}}");
    fake_up_done(call_at(0), LX_UP_OK);
    loop_until_calls(2);
    const lx_usage_t *u = ended_once();
    assert_int_equal(up.ncalls, 1);
    assert_int_equal(req.status, 400);
    assert_false(req.anthropic);
    assert_true(req.error_replied);
    assert_int_equal(req.err, LX_E_BAD_REQUEST);
    assert_string_equal(lx_err_info(req.err)->openai_type, "invalid_request_error");
    assert_string_equal(req.err_message, "upstream alpha returned 400: bad thing");
    assert_string_equal(fake_req_header(&req, "x-llmux-provider"), "alpha");
    assert_int_equal(u->status, 400);
    assert_string_equal(u->error_code, "bad_request");
    assert_string_equal(u->error, "upstream error status");
}

/* An Anthropic client, an Anthropic upstream's 429 on the last target:
 * passed on with its Retry-After, as an Anthropic rate_limit_error. */
static void test_error_reply_anthropic(void **state)
{
    (void)state;
    static const lx_provider_kind_t kinds[1] = {LX_PROVIDER_ANTHROPIC};
    start_call(LX_FMT_ANTHROPIC, false, 1, kinds);
    fake_up_head(call_at(0), 429, "Retry-After", "7", NULL);
    fake_up_data(call_at(0), "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\","
                             "\"message\":\"slow down\"}}");
    fake_up_done(call_at(0), LX_UP_OK);
    const lx_usage_t *u = ended_once();
    assert_int_equal(up.ncalls, 1);
    assert_int_equal(req.status, 429);
    assert_true(req.anthropic);
    assert_int_equal(req.err, LX_E_RATE_LIMITED);
    assert_string_equal(lx_err_info(req.err)->anthropic_type, "rate_limit_error");
    assert_string_equal(req.err_message, "upstream alpha returned 429: slow down");
    assert_string_equal(fake_req_header(&req, "Retry-After"), "7");
    assert_int_equal(u->status, 429);
    assert_string_equal(u->error_code, "rate_limit_exceeded");
    assert_string_equal(u->feature, "messages");
}

/* An Anthropic client on a translated stream (an OpenAI upstream) that
 * breaks: the stream ends with an Anthropic error event. */
static void test_stream_error_event_anthropic(void **state)
{
    (void)state;
    start_call(LX_FMT_ANTHROPIC, true, 2, OPENAI3);
    fake_up_head(call_at(0), 200, NULL);
    fake_up_data(call_at(0), OPENAI_CHUNK);
    assert_true(req.streaming);
    fake_up_done(call_at(0), LX_UP_TIMEOUT_IDLE);
    loop_until_calls(2);
    const lx_usage_t *u = ended_once();
    assert_int_equal(up.ncalls, 1);
    const char *text = client_text();
    assert_non_null(strstr(text, "event: message_start\n"));
    assert_non_null(strstr(text, "event: content_block_delta\n"));
    const char *err = strstr(text, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
                                   "\"api_error\",\"message\":\"upstream stream failed: "
                                   "idle_timeout\"}}\n\n");
    assert_non_null(err);
    assert_null(strstr(text, "message_stop")); /* never a fake normal end */
    assert_int_equal(req.stream_ends, 1);
    assert_int_equal(u->status, 200);
    assert_string_equal(u->error_code, "upstream_error");
}

/* An Anthropic client on a translated stream that ends normally: the
 * Messages events, closed by message_stop, and the upstream's usage. */
static void test_translated_stream_anthropic(void **state)
{
    (void)state;
    start_call(LX_FMT_ANTHROPIC, true, 1, OPENAI3);
    fake_up_head(call_at(0), 200, NULL);
    fake_up_data(call_at(0), OPENAI_CHUNK);
    fake_up_data(call_at(0), "data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\","
                             "\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},"
                             "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":9,"
                             "\"completion_tokens\":4,\"total_tokens\":13}}\n\n" OPENAI_DONE);
    fake_up_done(call_at(0), LX_UP_OK);
    const lx_usage_t *u = ended_once();
    const char *text = client_text();
    assert_non_null(strstr(text, "event: message_start\n"));
    assert_non_null(strstr(text, "\"text\":\"hi\""));
    assert_non_null(strstr(text, "event: message_stop\n"));
    assert_null(strstr(text, "event: error"));
    assert_null(strstr(text, "[DONE]")); /* OpenAI's end marker is not Anthropic's */
    assert_int_equal(req.stream_ends, 1);
    assert_int_equal(u->status, 200);
    assert_string_equal(u->error_code, "");
    assert_int_equal(u->tokens_in, 9);
    assert_int_equal(u->tokens_out, 4);
}

/* The Anthropic upstream's own error event in a pass-through stream goes
 * to the client as it came, with no second error event after it. */
static void test_upstream_error_event_passes_once(void **state)
{
    (void)state;
    static const lx_provider_kind_t kinds[1] = {LX_PROVIDER_ANTHROPIC};
    start_call(LX_FMT_ANTHROPIC, true, 1, kinds);
    static const char start[] =
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\","
        "\"usage\":{\"input_tokens\":4,\"output_tokens\":1}}}\n\n";
    static const char error[] = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
                                "\"overloaded_error\",\"message\":\"busy\"}}\n\n";
    fake_up_head(call_at(0), 200, NULL);
    fake_up_data(call_at(0), start);
    fake_up_data(call_at(0), error);
    fake_up_done(call_at(0), LX_UP_OK);
    const lx_usage_t *u = ended_once();
    char want[512];
    snprintf(want, sizeof want, "%s%s", start, error);
    assert_string_equal(client_text(), want);
    assert_int_equal(u->status, 200);
    assert_string_equal(u->error_code, "upstream_error");
    assert_int_equal(u->tokens_in, 4);
}

/* ---- the client leaves ---- */

/* Before the upstream answered: the transfer is cancelled, nothing is
 * rendered, the record says 499. */
static void test_cancel_before_upstream_answered(void **state)
{
    (void)state;
    start_call(LX_FMT_OPENAI, false, 2, OPENAI3);
    fake_req_abort(&req);
    assert_true(call_at(0)->cancelled);
    const lx_usage_t *u = ended_once();
    assert_int_equal(up.ncalls, 1);
    assert_int_equal(req.body.n, 0);
    assert_int_equal(u->status, 499);
    assert_string_equal(u->error_code, "client_gone");
    assert_string_equal(u->provider, "alpha");
}

/* While streaming: cancelled, no error event, billed for what reached the
 * client. */
static void test_cancel_while_streaming(void **state)
{
    (void)state;
    start_call(LX_FMT_OPENAI, true, 2, OPENAI3);
    fake_up_head(call_at(0), 200, NULL);
    fake_up_data(call_at(0), OPENAI_CHUNK);
    fake_req_abort(&req);
    assert_true(call_at(0)->cancelled);
    const lx_usage_t *u = ended_once();
    assert_string_equal(client_text(), OPENAI_CHUNK);
    assert_int_equal(req.stream_ends, 0);
    assert_int_equal(u->status, 499);
    assert_string_equal(u->error_code, "client_gone");
    assert_int_equal(u->tokens_out, 1);
    assert_int_equal(u->ttfb_us, 1000); /* the upstream's first byte, read before cancel */
}

/* Backpressure: a client behind by more than the high-water mark holds
 * upstream (the bytes are not taken) until its output drains to half. */
static void test_backpressure_holds_and_resumes(void **state)
{
    (void)state;
    start_call(LX_FMT_OPENAI, true, 1, OPENAI3);
    fake_up_head(call_at(0), 200, NULL);
    fake_up_data(call_at(0), OPENAI_CHUNK);
    req.pending = cfg.stream_high_water + 1;
    assert_int_equal(fake_up_data(call_at(0), OPENAI_CHUNK), LX_AGAIN);
    assert_int_equal(ai.upstream_pauses, 1);
    assert_string_equal(client_text(), OPENAI_CHUNK); /* the second is held upstream */
    fake_req_drain(&req, cfg.stream_high_water / 2 + 1);
    assert_int_equal(call_at(0)->resumes, 0); /* not drained enough */
    fake_req_drain(&req, cfg.stream_high_water / 2);
    assert_int_equal(call_at(0)->resumes, 1);
    assert_int_equal(fake_up_data(call_at(0), OPENAI_CHUNK), LX_OK); /* handed back */
    fake_up_data(call_at(0), OPENAI_DONE);
    fake_up_done(call_at(0), LX_UP_OK);
    const lx_usage_t *u = ended_once();
    assert_string_equal(client_text(), OPENAI_CHUNK OPENAI_CHUNK OPENAI_DONE);
    assert_int_equal(u->status, 200);
    assert_string_equal(u->error_code, "");
}

/* While upstream is held by backpressure: cancelled, never resumed. */
static void test_cancel_while_paused(void **state)
{
    (void)state;
    start_call(LX_FMT_OPENAI, true, 1, OPENAI3);
    fake_up_head(call_at(0), 200, NULL);
    fake_up_data(call_at(0), OPENAI_CHUNK);
    req.pending = cfg.stream_high_water + 1;
    assert_int_equal(fake_up_data(call_at(0), OPENAI_CHUNK), LX_AGAIN);
    assert_non_null(req.on_drain);
    fake_req_abort(&req);
    assert_true(call_at(0)->cancelled);
    fake_req_drain(&req, 0);
    const lx_usage_t *u = ended_once();
    assert_int_equal(call_at(0)->resumes, 0);
    assert_int_equal(u->status, 499);
    assert_string_equal(u->error_code, "client_gone");
}

/* During a retry's backoff: the timer is dropped, no attempt follows. */
static void test_cancel_during_retry_backoff(void **state)
{
    (void)state;
    start_call(LX_FMT_OPENAI, false, 2, OPENAI3);
    fake_up_head(call_at(0), 503, NULL);
    fake_up_done(call_at(0), LX_UP_OK);
    assert_int_equal(up.ncalls, 1);
    fake_req_abort(&req);
    loop_until_calls(2); /* the backoff would have ended well within this */
    const lx_usage_t *u = ended_once();
    assert_int_equal(up.ncalls, 1);
    assert_int_equal(req.body.n, 0);
    assert_int_equal(u->status, 499);
    assert_string_equal(u->error_code, "client_gone");
}

/* ---- ends before any transfer ---- */

/* The transfer could not start: a 500 from llmux, recorded once. */
static void test_upstream_not_started(void **state)
{
    (void)state;
    up.refuse_start = true;
    assert_int_equal(start_call(LX_FMT_OPENAI, false, 2, OPENAI3), LX_OK);
    const lx_usage_t *u = ended_once();
    assert_int_equal(req.status, 500);
    assert_int_equal(req.err, LX_E_INTERNAL);
    assert_string_equal(u->error_code, "internal_error");
    assert_string_equal(u->error, "upstream call not started");
}

/* The request cannot be built for the target: the client's 400. */
static void test_build_refused(void **state)
{
    (void)state;
    build_refuses = true;
    assert_int_equal(start_call(LX_FMT_ANTHROPIC, false, 2, OPENAI3), LX_OK);
    const lx_usage_t *u = ended_once();
    assert_int_equal(up.ncalls, 0);
    assert_int_equal(req.status, 400);
    assert_int_equal(req.err, LX_E_BAD_REQUEST);
    assert_string_equal(req.err_param, "model");
    assert_string_equal(req.err_message, "that provider cannot take this request");
    assert_string_equal(u->error_code, "bad_request");
}

/* Every target cooling: no transfer, a local 429 with Retry-After. */
static void test_every_target_cooling(void **state)
{
    (void)state;
    int64_t now = lx_wall_ms();
    lx_cooling_set(&states[0], now, "30", 5000, 60000);
    lx_cooling_set(&states[1], now, "12", 5000, 60000);
    assert_int_equal(start_call(LX_FMT_OPENAI, true, 2, OPENAI3), LX_OK);
    const lx_usage_t *u = ended_once();
    assert_int_equal(up.ncalls, 0);
    assert_int_equal(req.status, 429);
    assert_false(req.streaming);
    assert_string_equal(fake_req_header(&req, "Retry-After"), "12");
    assert_string_equal(u->error_code, "rate_limit_exceeded");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_whole_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_passes_through, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_same_target_after_5xx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fallback_after_429, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fallback_after_connect_failure, setup, teardown),
        cmocka_unit_test(test_attempts_text_is_bounded),
        cmocka_unit_test(test_attempts_text_exact),
        cmocka_unit_test_setup_teardown(test_all_targets_fail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_retry_once_bytes_reached_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_ended_early, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_stream_is_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_reply_openai, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_reply_anthropic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_error_event_anthropic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_translated_stream_anthropic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upstream_error_event_passes_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_before_upstream_answered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_while_streaming, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backpressure_holds_and_resumes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_while_paused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_during_retry_backoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upstream_not_started, setup, teardown),
        cmocka_unit_test_setup_teardown(test_build_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_target_cooling, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
