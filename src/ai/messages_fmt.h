/* messages_fmt.h - the Anthropic Messages wire as a client format: requests
 * from Anthropic clients become canonical (OpenAI) requests, and canonical
 * answers and chunks become Anthropic messages and SSE events, so that an
 * Anthropic client can reach any provider.
 *
 * Ownership: json_t arguments are borrowed; returned json_t are new
 * references. The encoder owns its state; SSE bytes are appended to the
 * caller's buffer. */
#ifndef LX_AI_MESSAGES_FMT_H
#define LX_AI_MESSAGES_FMT_H

#include "ai/adapter.h"

/* An Anthropic Messages request to a canonical chat request ("model" kept as
 * given). On bad input: NULL, a message in err and the offending field's name
 * in *param (e.g. "messages", "max_tokens"). */
json_t *lx_messages_to_openai(const json_t *req, char *err, size_t errlen, const char **param);

/* A canonical chat.completion to an Anthropic message object. */
json_t *lx_messages_from_openai(const json_t *completion, const char *model,
                                const lx_tokens_t *usage);

/* Shared by messages_fmt.c and messages_enc.c: an Anthropic message id from
 * an OpenAI one ("chatcmpl-abc" -> "msg_abc"; malloc'd), and the Anthropic
 * stop_reason for an OpenAI finish_reason (static). */
char *lx_msg_id_from(const char *id);
const char *lx_msg_stop_reason(const char *finish, bool has_tools);

/* messages_enc.c: the stream encoder. */
typedef struct lx_msg_enc lx_msg_enc_t;

lx_msg_enc_t *lx_msg_enc_new(const char *model, const char *msg_id, int64_t input_tokens);
/* One canonical chunk in; the Anthropic events it implies are appended to
 * out ("event: X\ndata: {...}\n\n"). */
int lx_msg_enc_chunk(lx_msg_enc_t *e, const char *json, size_t n, lx_buf_t *out);
/* Normal end: closes open blocks, then message_delta (stop_reason, usage
 * with cumulative output_tokens) and message_stop. */
void lx_msg_enc_finish(lx_msg_enc_t *e, const lx_tokens_t *usage, lx_buf_t *out);
/* Failure mid-stream: event: error with the given Anthropic error type. */
void lx_msg_enc_error(lx_msg_enc_t *e, const char *type, const char *message, lx_buf_t *out);
void lx_msg_enc_free(lx_msg_enc_t *e);

#endif
