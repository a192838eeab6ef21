/* handlers.h - the AI endpoints: one driver (endpoint.c) runs every row of
 * the endpoint table (chat.c, embed.c, images.c, messages.c), and the
 * checks they share. Everything runs on the request's loop. No function
 * here both replies and returns a failure: checks fill an lx_outcome_t,
 * and the request ends in one place (lx_ai_refuse before a call, the
 * call's finalizer after). Ownership: lx_ai_auth_t lives on the driver's
 * stack; once the call runs it owns the request, its input and the
 * snapshot reference. */
#ifndef LX_AI_HANDLERS_H
#define LX_AI_HANDLERS_H

#include "ai/ai.h"
#include "ai/adapter.h"
#include "ai/call.h"
#include "ai/catalog.h"
#include "ai/outcome.h"

/* Who is calling, and the registry snapshot the request reads. */
typedef struct lx_ai_auth {
    lx_snapshot_t *snap;    /* a reference, released by lx_ai_end or by the call */
    const lx_apikey_t *key; /* NULL for the admin key and a JWT */
    char key_id[64];        /* "admin", "key_<id>" or "user_<id>": for logs and usage */
    /* The allowances the request counts against: the key's set, or a
     * JWT's {NULL, user, team} (signin.h); all NULL for the admin key. */
    lx_allow_set_t allow;
    lx_spend_set_t spend; /* the same levels' spend and budgets */
    /* Each level's per-model overrides (NULL: none), and the entry that
     * applies to the request's model (lx_ai_model_scope), which also sits
     * in allow.s[3 + level] and spend.s[3 + level]. */
    const lx_model_limits_t *mls[LX_LEVELS];
    const lx_model_limit_t *mlim[LX_LEVELS];
    int64_t user_id, team_id; /* a JWT's user and team (0: none) */
    char model[256];          /* the model name asked for, once resolved: for usage */
    const char *feature;      /* the endpoint's usage feature: "chat", ... */
} lx_ai_auth_t;

/* An endpoint: one row of the table the driver runs. */
typedef struct lx_endpoint {
    const char *paths[3]; /* the POST routes it answers (NULL-terminated) */
    const char *feature;  /* usage feature: "chat", "messages", "embed", "image" */
    lx_client_fmt_t wire; /* the client's wire (errors, streams, answers) */
    lx_call_kind_t kind;  /* how a whole answer is read and rendered (call.c) */
    unsigned need;        /* capabilities every request needs (LX_CAP_*) */
    /* Reads the client's request into in (a tree it builds is in->root, and
     * the driver frees it on refusal). LX_ERROR with the refusal in o. */
    int (*read)(lx_req_t *req, lx_call_input_t *in, lx_outcome_t *o);
    /* After the model resolved: what only the target can tell (NULL: none). */
    int (*check)(lx_call_input_t *in, const lx_resolved_t *t, lx_outcome_t *o);
    lx_call_build_fn build; /* the upstream request for one target */
} lx_endpoint_t;

extern const lx_endpoint_t lx_endpoint_chat;
extern const lx_endpoint_t lx_endpoint_messages;
extern const lx_endpoint_t lx_endpoint_embed;
extern const lx_endpoint_t lx_endpoint_images;

/* The driver: auth, read, resolve, check, targets, then the call (which
 * owns the request from there), or the refusal. */
int lx_ai_endpoint(lx_ai_t *ai, lx_req_t *req, const lx_endpoint_t *ep);

/* Authorizes the caller (admin key, or an API key from the snapshot: 401 if
 * unknown, disabled or expired) and takes a snapshot reference. False with
 * the refusal in o (nothing replied, no reference held). */
bool lx_ai_begin(lx_ai_t *ai, lx_req_t *req, lx_ai_auth_t *a, lx_outcome_t *o);
void lx_ai_end(lx_ai_auth_t *a);
/* For endpoints that only read the snapshot (the model listings): body runs
 * between lx_ai_begin and lx_ai_end and replies itself. */
int lx_ai_guarded(lx_ai_t *ai, lx_req_t *req,
                  int (*body)(lx_ai_t *ai, lx_req_t *req, lx_ai_auth_t *a));

/* The body as a JSON object (depth-limited, duplicate keys refused), or
 * NULL with a 400 in o. */
json_t *lx_ai_parse_body(lx_req_t *req, lx_outcome_t *o);
/* Resolves a model name to a target with the capabilities in need that the
 * caller's key may use (keeping the name in a->model); false with the
 * 400/403/404 in o. */
bool lx_ai_resolve_model(lx_ai_auth_t *a, lx_str_t model, unsigned need, lx_resolved_t *t,
                         lx_outcome_t *o);
int64_t lx_ai_estimate_tokens(size_t body_bytes);
/* After the model resolved (t): puts each level's override entry that
 * applies to the model sent (model_limit.h) in a->mlim and in a's sets.
 * No allocation; nothing for a caller without overrides. */
void lx_ai_model_scope(lx_ai_auth_t *a, lx_str_t sent, const lx_resolved_t *t);

/* Admission (after lx_ai_model_scope): the budgets of every subject of a
 * (a 429 insufficient_quota / budget_exceeded naming the level while a
 * period's spend is at or over one), then the key's, its user's and its
 * team's limits (allow.h): a request and t->tokens from each window and a
 * place in flight (only rpm and rpd when t->requests_only), or a 429
 * rate_limit_exceeded naming the level and the window, with Retry-After.
 * Refusals are counted in ai's limit_refusals / budget_refusals; the
 * x-ratelimit-* headers are set either way. true: admitted (give back
 * with lx_allow_release or settle with lx_allow_settle, unless
 * requests_only, whose requests are simply spent); false with o. */
bool lx_ai_admit(lx_ai_t *ai, lx_req_t *req, const lx_ai_auth_t *a, lx_allow_ticket_t *t,
                 lx_outcome_t *o);

/* refusal.c: ends a request refused before any call: renders o in the
 * client's shape, pushes its usage row (zero tokens, o's status and code,
 * the model asked for; none for 401: unauthenticated refusals are only
 * counted, in lx_ai_t.unauthenticated, and none without a->feature) and
 * releases the snapshot reference. */
void lx_ai_refuse(lx_ai_t *ai, lx_req_t *req, lx_ai_auth_t *a, const lx_outcome_t *o);

int lx_ai_models_handler(lx_req_t *req, void *ai);    /* GET /v1/models */
int lx_ai_model_get_handler(lx_req_t *req, void *ai); /* GET /v1/models/{id} */
int lx_ai_key_info_handler(lx_req_t *req, void *ai);  /* GET /v1/key/info (key_info.c) */

#endif
