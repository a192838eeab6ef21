/* usage_log.c - usage records as log lines. */
#include "ai/usage.h"
#include "core/buf.h"
#include "core/log.h"

static void push(lx_usage_sink_t *sink, const lx_usage_t *u)
{
    lx_buf_t b;
    lx_buf_init(&b, 256);
    lx_buf_append_json_str(&b, u->error, strlen(u->error));
    lx_log_info(
        "usage",
        "\"request_id\":\"%s\",\"key_id\":\"%s\",\"provider\":\"%s\",\"model\":\"%s\","
        "\"requested_model\":\"%s\",\"feature\":\"%s\",\"tokens_in\":%lld,\"tokens_out\":%lld,"
        "\"tokens_cached\":%lld,\"status\":%d,\"error\":%s,\"error_code\":\"%s\","
        "\"ttfb_us\":%lld,\"total_us\":%lld",
        u->request_id, u->key_id, u->provider, u->model, u->requested_model, u->feature,
        (long long)u->tokens_in, (long long)u->tokens_out, (long long)u->tokens_cached, u->status,
        b.p, u->error_code, (long long)u->ttfb_us, (long long)u->total_us);
    lx_buf_free(&b);
}

lx_usage_sink_t *lx_usage_log_sink(void)
{
    static lx_usage_sink_t sink = {push};
    return &sink;
}

static void drop(lx_usage_sink_t *sink, const lx_usage_t *u) {}

lx_usage_sink_t *lx_usage_null_sink(void)
{
    static lx_usage_sink_t sink = {drop};
    return &sink;
}
