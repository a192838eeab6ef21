/* chat_scan.h - what a chat completion request asks for, read either from
 * the client's bytes without building a tree (the common case) or from the
 * jansson tree (when the scan cannot be sure of the body).
 *
 * Owns nothing: model is a view into the body or into the tree it was read
 * from, valid while that lives. */
#ifndef LX_AI_CHAT_SCAN_H
#define LX_AI_CHAT_SCAN_H

#include "core/common.h"

#include <jansson.h>
#include <stdint.h>

typedef struct {
    bool messages_array; /* "messages" is an array */
    bool messages_wrong; /* "messages" is there (not null) but not an array */
    bool model_wrong;    /* "model" is there (not null) but not a string */
    bool stream;         /* "stream" is true */
    bool client_usage;   /* "stream_options"."include_usage" is true */
    unsigned need;       /* LX_CAP_TOOLS, LX_CAP_JSON, LX_CAP_VISION as the body asks */
    int64_t max_tokens;  /* max_completion_tokens if an integer, else max_tokens if one, else 0 */
    /* "max_completion_tokens" or "max_tokens" (in that order) when it is
     * present and not null but not an integer in [1, LX_TOKENS_MAX] (the
     * handler refuses the request naming it); NULL when both are fine. */
    const char *bad_param;
    lx_str_t model; /* the "model" string; LX_NULL_STR if absent or not a string */
} lx_chat_req_t;

/* Reads the request from the body alone. False when it cannot say for sure
 * (the body is not valid JSON, is not an object, holds something only
 * jansson can judge, or a model name written with escapes): then parse the
 * body and use lx_chat_req_from_json. */
bool lx_chat_req_scan(lx_str_t body, lx_chat_req_t *r);

/* The same from a parsed body (an object). */
void lx_chat_req_from_json(const json_t *root, lx_chat_req_t *r);

#endif
