/* usage_text.h - token counts read from the usage objects of upstream JSON
 * answers (OpenAI and Anthropic shapes) straight from the text, without
 * building a jansson tree: the usage object is found with lx_body_find and
 * only its integer members are read.
 *
 * Inputs are views of upstream bytes; nothing is retained. A member that is
 * absent or not an integer reads as 0, as json_integer_value would; every
 * count is clamped to [0, LX_TOKENS_MAX] and sums cannot overflow. */
#ifndef LX_AI_USAGE_TEXT_H
#define LX_AI_USAGE_TEXT_H

#include "ai/adapter.h"

/* The integer value of a top-level key of the object text p[0..n). */
bool lx_json_text_int(const char *p, size_t n, const char *key, int64_t *out);

/* Whether p[0..n) (after leading whitespace) is a JSON object / array text
 * with no members / elements. */
bool lx_json_text_is_object(const char *p, size_t n);
bool lx_json_text_is_empty_array(const char *p, size_t n);

/* From an OpenAI usage object: prompt, completion and cached prompt tokens.
 * Leaves t unchanged unless the text is an object. */
void lx_usage_text_openai(lx_tokens_t *t, const char *p, size_t n);

/* From an Anthropic usage object: input counts cache reads and writes too
 * (llmux counts all input); output is cumulative, so it overwrites. */
void lx_usage_text_anthropic(lx_tokens_t *t, const char *p, size_t n);

#endif
