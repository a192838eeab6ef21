/* fuzz_translate_stream.c - streaming translators: an upstream SSE body
 * through the real SSE parser (sse.c) into one provider's stream decoder
 * (openai.c, anthropic.c or gemini.c, picked by the first byte), and every
 * canonical chunk it emits on through the Anthropic Messages encoder
 * (messages_fmt.c), as call.c chains them for an Anthropic client. Emitted
 * chunks must be JSON, and nothing is fed after the decoder said END or
 * FAILED. */
#include "ai/adapter.h"
#include "ai/messages_fmt.h"
#include "ai/sse.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const lx_adapter_t *const ADAPTERS[] = {&lx_adapter_openai, &lx_adapter_anthropic,
                                               &lx_adapter_gemini};

typedef struct {
    const lx_adapter_t *a;
    lx_stream_dec_t *d;
    lx_msg_enc_t *enc;
    lx_buf_t out;
    lx_tokens_t tok;
    lx_stream_rc_t last;
    char err[300];
} run_t;

static void on_chunk(void *arg, const char *json, size_t n)
{
    run_t *r = arg;
    json_t *j = json_loadb(json, n, 0, NULL);
    if (j == NULL && r->a != &lx_adapter_openai) { /* openai passes its bytes on */
        fprintf(stderr, "%s emitted a chunk that is not JSON: %.*s\n", r->a->name, (int)n, json);
        abort();
    }
    json_decref(j);
    lx_buf_reset(&r->out);
    lx_msg_enc_chunk(r->enc, json, n, &r->out);
}

static int on_event(const lx_sse_event_t *ev, void *arg)
{
    run_t *r = arg;
    if (r->last != LX_STREAM_MORE)
        abort();
    r->last = r->a->stream_event(r->d, ev->event, ev->data, &r->tok, r->err, sizeof r->err);
    return r->last == LX_STREAM_MORE ? LX_OK : LX_DONE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    run_t r = {.a = ADAPTERS[data[0] % 3], .last = LX_STREAM_MORE};
    bool include_usage = data[0] & 4;
    lx_buf_init(&r.out, 256);
    r.enc = lx_msg_enc_new("m", "msg_1", 10);
    r.d = r.a->stream_new("m", "chatcmpl-1", include_usage, on_chunk, &r);
    lx_sse_parser_t p;
    lx_sse_init(&p, on_event, &r);
    /* Fed in pieces of up to 61 bytes, as upstream reads arrive. */
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    for (size_t i = 0; i < n && r.last == LX_STREAM_MORE; i += 61)
        lx_sse_feed(&p, s + i, n - i < 61 ? n - i : 61);
    lx_sse_free(&p);
    lx_buf_reset(&r.out);
    if (r.last == LX_STREAM_FAILED)
        lx_msg_enc_error(r.enc, "api_error", r.err, &r.out);
    else
        lx_msg_enc_finish(r.enc, &r.tok, &r.out);
    r.a->stream_free(r.d);
    lx_msg_enc_free(r.enc);
    lx_buf_free(&r.out);
    return 0;
}
