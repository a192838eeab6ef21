/* anthropic_stream.h - private to the Anthropic adapter (anthropic.c,
 * anthropic_stream.c): the stream decoder's entries and the usage helpers
 * both the whole-answer parser and the decoder use. */
#ifndef LX_AI_ADAPTERS_ANTHROPIC_STREAM_H
#define LX_AI_ADAPTERS_ANTHROPIC_STREAM_H

#include "ai/adapter.h"

#include <jansson.h>

/* Token counts from an Anthropic usage object (clamped) into t. */
void lx_anthropic_tokens_from(const json_t *u, lx_tokens_t *t);
/* An OpenAI usage object for t (new reference). */
json_t *lx_anthropic_usage_json(const lx_tokens_t *t);

lx_stream_dec_t *lx_anthropic_stream_new(const char *model, const char *id, bool include_usage,
                                         lx_chunk_fn emit, void *arg);
lx_stream_rc_t lx_anthropic_stream_event(lx_stream_dec_t *d, lx_str_t event, lx_str_t data,
                                         lx_tokens_t *usage, char *err, size_t errlen);
void lx_anthropic_stream_free(lx_stream_dec_t *d);

#endif
