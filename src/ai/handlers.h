/* handlers.h - what the AI endpoint handlers share (chat.c) and the
 * handlers themselves. All run on the request's loop; on failure they have
 * already replied to the client. */
#ifndef LX_AI_HANDLERS_H
#define LX_AI_HANDLERS_H

#include "ai/ai.h"
#include "ai/adapter.h"
#include "ai/call.h"
#include "ai/catalog.h"

/* Who is calling, and the registry snapshot the request reads. */
typedef struct {
    lx_snapshot_t *snap;    /* a reference, released by lx_ai_end or by the call */
    const lx_apikey_t *key; /* NULL for the admin key */
    char key_id[64];        /* "admin" or "key_<id>": for logs and usage */
    char model[256];        /* the model name asked for, once resolved: for usage */
    const char *feature;    /* set by a body that records usage: "chat", ... */
} lx_ai_auth_t;

/* Authorizes the caller (admin key, or an API key from the snapshot: 401 if
 * unknown, disabled or expired) and takes a snapshot reference. False after
 * replying. */
bool lx_ai_begin(lx_ai_t *ai, lx_req_t *req, lx_ai_auth_t *a);
void lx_ai_end(lx_ai_auth_t *a);
/* Runs body between lx_ai_begin and lx_ai_end. A body that hands the
 * snapshot to a call sets a->snap to NULL. A body that set a->feature and
 * refused the request itself (an error reply without a call) gets a usage
 * row for it (lx_ai_record_refusal). */
int lx_ai_guarded(lx_ai_t *ai, lx_req_t *req,
                  int (*body)(lx_ai_t *ai, lx_req_t *req, lx_ai_auth_t *a));

/* Gives the call its request builder and the caller's snapshot reference,
 * then runs it: from here on the call owns ctx, the snapshot and the
 * request. */
int lx_ai_run_call(lx_ai_auth_t *a, lx_call_opts_t *o, lx_call_build_fn build, void *ctx,
                   void (*ctx_free)(void *ctx));

/* The body as a JSON object (depth-limited, duplicate keys refused), or NULL
 * after a 400. */
json_t *lx_ai_parse_body(lx_req_t *req);
/* Resolves root.model to a target with the capabilities in need that the
 * caller's key may use; false after a 400/403/404. */
bool lx_ai_resolve(lx_ai_auth_t *a, lx_req_t *req, json_t *root, unsigned need, lx_target_t *t);
/* The same for a model name read without a tree (a view into the body).
 * Either keeps the name in a->model. */
bool lx_ai_resolve_model(lx_ai_auth_t *a, lx_req_t *req, lx_str_t model, unsigned need,
                         lx_target_t *t);
int64_t lx_ai_estimate_tokens(size_t body_bytes);

/* refusal.c: pushes the usage row of a request refused before any call
 * (status >= 400 replied, 401 excepted: unauthenticated refusals are only
 * counted, in lx_ai_t.unauthenticated): zero tokens, the status and error
 * code replied, the model asked for. Nothing if a->feature is NULL. */
void lx_ai_record_refusal(lx_ai_t *ai, lx_req_t *req, const lx_ai_auth_t *a);

int lx_ai_messages_handler(lx_req_t *req, void *ai);  /* POST /v1/messages */
int lx_ai_embed_handler(lx_req_t *req, void *ai);     /* POST /v1/embeddings */
int lx_ai_models_handler(lx_req_t *req, void *ai);    /* GET /v1/models */
int lx_ai_model_get_handler(lx_req_t *req, void *ai); /* GET /v1/models/{id} */
int lx_ai_images_handler(lx_req_t *req, void *ai);    /* POST /v1/images/generations */

#endif
