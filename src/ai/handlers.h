/* handlers.h - what the AI endpoint handlers share (chat.c) and the
 * handlers themselves. All run on the request's loop; on failure they have
 * already replied to the client. */
#ifndef LX_AI_HANDLERS_H
#define LX_AI_HANDLERS_H

#include "ai/ai.h"
#include "ai/catalog.h"

/* The body as a JSON object (depth-limited, duplicate keys refused), or NULL
 * after a 400. */
json_t *lx_ai_parse_body(lx_req_t *req);
/* Resolves root.model to a target whose provider has the capabilities in
 * need; false after a 400/404. */
bool lx_ai_resolve(lx_ai_t *ai, lx_req_t *req, json_t *root, unsigned need, lx_target_t *t);
int64_t lx_ai_estimate_tokens(size_t body_bytes);

int lx_ai_messages_handler(lx_req_t *req, void *ai); /* POST /v1/messages */
int lx_ai_embed_handler(lx_req_t *req, void *ai);    /* POST /v1/embeddings */
int lx_ai_models_handler(lx_req_t *req, void *ai);   /* GET /v1/models */

#endif
