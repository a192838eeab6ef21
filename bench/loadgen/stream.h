/* stream.h - what one SSE response said: data events, content chunks, the
 * end marker, error events and fidelity against the mock's known text.
 *
 * OpenAI streams: a chunk is an event whose choices[0].delta.content is a
 * non-empty string; the end marker is "data: [DONE]". Anthropic streams
 * (recognised by a top-level "type"): a chunk is a content_block_delta whose
 * delta is a text_delta (its text is the content); the end marker is
 * message_stop. A top-level "error" member (or type "error") is an error
 * event. A data event that is not a JSON object (other than [DONE]) makes the
 * stream corrupt, expectation or not. With an expectation (--expect-chunks N) the reassembled text
 * must be exactly "tok0 tok1 ... tok{N-1} ", which llmux-mock sends for +chunks=N; it is compared
 * as it arrives, without storing it. */
#ifndef LB_STREAM_H
#define LB_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The expected text, built once per run and shared read-only by all threads. */
typedef struct {
    char *text; /* owned */
    size_t len;
    uint32_t n;
} lb_expect_t;

int lb_expect_build(lb_expect_t *e, uint32_t n);
void lb_expect_free(lb_expect_t *e);

typedef enum { LB_SK_UNKNOWN, LB_SK_OPENAI, LB_SK_ANTHROPIC } lb_stream_kind_t;

/* What went wrong with the text, first problem only. */
typedef enum {
    LB_FID_NONE = 0,
    LB_FID_MISSING, /* a later token came first, or the text stopped short */
    LB_FID_REORDER, /* an earlier token came again: reordered or duplicated */
    LB_FID_CORRUPT, /* text that is not the next token, or an event that is not JSON */
} lb_fid_t;

typedef struct {
    const lb_expect_t *exp; /* NULL: no text check */
    size_t pos;             /* bytes of exp->text matched so far */
    uint32_t events;        /* data events, the end marker included */
    uint32_t chunks;        /* content chunks */
    uint8_t kind;           /* lb_stream_kind_t */
    uint8_t problem;        /* lb_fid_t */
    bool done;              /* end marker seen */
    bool error_event;
} lb_stream_t;

/* Starts a new stream; exp may be NULL. */
void lb_stream_start(lb_stream_t *s, const lb_expect_t *exp);
/* One dispatched SSE event (name may be empty). */
void lb_stream_event(lb_stream_t *s, const char *name, size_t name_len, const char *data, size_t n);

typedef struct {
    bool ok;          /* end marker seen, no error event, text as expected */
    bool no_done;     /* a recognised stream ended without its end marker */
    lb_fid_t problem; /* text problem (only with an expectation) */
} lb_stream_verdict_t;

/* The verdict once the HTTP body ended cleanly. */
lb_stream_verdict_t lb_stream_verdict(const lb_stream_t *s);

#endif
