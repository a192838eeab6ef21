/* corpus.h - realistic upstream SSE streams for the micro-benchmarks, built
 * from a seed: an OpenAI chat.completion.chunk stream, an Anthropic Messages
 * stream (text deltas, a tool_use block with input_json_delta, usage) and a
 * Gemini streamGenerateContent?alt=sse stream. The field order, ids, spacing
 * and line ends follow what each provider sends; the text is drawn from a
 * word list that includes escapes (\n, \") and multi-byte UTF-8. */
#ifndef LX_BENCH_CORPUS_H
#define LX_BENCH_CORPUS_H

#include "core/buf.h"

typedef struct {
    lx_buf_t bytes; /* the whole stream as the upstream sends it */
    size_t *ends;   /* end offset of every event (blank line included) */
    size_t nevents; /* events as an SSE parser dispatches them */
    size_t cap;
    size_t chunks; /* OpenAI chunks the translation should emit (0 if n/a) */
} corpus_t;

/* tokens content deltas, then the finish chunk, a usage chunk and [DONE]. */
void corpus_openai(corpus_t *c, int tokens, uint64_t seed);
/* message_start, a text block of text_deltas deltas (1-4 words each) with a
 * ping after the first, a tool_use block of up to json_deltas
 * input_json_delta events (fewer when the arguments run out), message_delta (stop_reason tool_use,
 * usage), message_stop. */
void corpus_anthropic(corpus_t *c, int text_deltas, int json_deltas, uint64_t seed);
/* text_events responses of 3-12 words each, one functionCall part, then the
 * final response with finishReason and the full usageMetadata. */
void corpus_gemini(corpus_t *c, int text_events, uint64_t seed);
void corpus_free(corpus_t *c);

#endif
