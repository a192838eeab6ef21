/* stream.h - the timed chunk emitter shared by every streaming endpoint.
 *
 * A provider describes its stream as: a preamble (sent with the headers), n
 * "units" (one per token piece or tool-argument fragment), and a tail (finish,
 * usage, terminator). The emitter sends the headers, preamble and unit 0 after
 * ttft_ms, unit i at ttft_ms + i * gap_ms (units due together go out as one
 * write), then the tail. Mid-stream faults fire just before unit `after`. */
#ifndef MOCK_STREAM_H
#define MOCK_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <evhtp.h>

#include "opts.h"

typedef struct mock_stream mock_stream_t;

typedef struct {
    const char *content_type; /* string literal */
    void (*preamble)(mock_stream_t *s, struct evbuffer *out);
    void (*unit)(mock_stream_t *s, long i, struct evbuffer *out);
    void (*tail)(mock_stream_t *s, struct evbuffer *out);
    void (*malformed)(mock_stream_t *s, struct evbuffer *out);   /* a frame that is not JSON */
    void (*error_event)(mock_stream_t *s, struct evbuffer *out); /* the provider's error event */
} mock_stream_ops_t;

struct mock_stream {
    const mock_stream_ops_t *ops;
    mock_opts_t opts;
    long n_units;       /* units to send */
    long next;          /* next unit to send */
    long id;            /* numeric part of the reply id */
    long created;       /* unix seconds */
    long prompt_tokens; /* for usage */
    long flags;         /* provider-specific bits */
    char *model;        /* as received, NUL-terminated, owned */
    char *tool;         /* function/tool name to call, or NULL; owned */
    char *prefix;       /* provider-built frame prefix, or NULL; owned */
    size_t prefix_len;
    uint64_t t0_ms;
    bool headers_sent;
    bool fault_done;
};

/* Allocates a stream; model[0..model_len) and tool (may be NULL) are copied.
 * Returns NULL on allocation failure. */
mock_stream_t *mock_stream_new(const mock_stream_ops_t *ops, const mock_opts_t *o,
                               const char *model, size_t model_len, const char *tool);

/* Frees a stream that was never started. */
void mock_stream_free(mock_stream_t *s);

/* Starts emitting on req; takes ownership of s in every case. */
void mock_stream_start(evhtp_request_t *req, mock_stream_t *s);

/* The tool-call arguments every mock tool call carries. */
#define MOCK_TOOL_ARGS "{\"location\":\"Paris\",\"unit\":\"celsius\"}"

/* Fragment i of n of MOCK_TOOL_ARGS: sets *off and *len (n >= 1). */
void mock_tool_fragment(long i, long n, size_t *off, size_t *len);

/* Number of argument fragments for a streamed tool call: max(3, chunks),
 * at most the argument length. */
long mock_tool_fragments(long chunks);

#endif
