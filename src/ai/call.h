/* call.h - one AI request in flight: the upstream call, the translation of
 * its answer into the client's wire format, and the usage record.
 *
 * The endpoint driver (endpoint.c, one row per endpoint in handlers.h)
 * validates the client's request, resolves its targets and hands over to
 * lx_call_run. From then on the call owns the client request until it ends
 * through lx_call_end (call_end.c), the only place that cancels the upstream
 * call, renders the outcome, emits the usage record and frees the call. */
#ifndef LX_AI_CALL_H
#define LX_AI_CALL_H

#include "ai/adapter.h"
#include "ai/ai.h"
#include "ai/catalog.h"
#include "ai/outcome.h"
#include "ai/registry.h"
#include "ai/routing/limits.h"
#include "ai/routing/route.h"

typedef enum {
    LX_FMT_OPENAI = 0,
    LX_FMT_ANTHROPIC,
} lx_client_fmt_t;

typedef enum {
    LX_CALL_CHAT = 0,
    LX_CALL_EMBED,
    LX_CALL_IMAGE,
} lx_call_kind_t;

#define LX_CALL_MAX_TARGETS 8

/* What an endpoint read from the client's request, handed to the call
 * (which owns root and canon from lx_call_run on and frees them at its end).
 * Views point into the client's request, valid while it lives. */
typedef struct {
    json_t *root;   /* the parsed body, NULL if no tree was needed yet */
    json_t *canon;  /* its canonical (OpenAI) form, if the wire is not OpenAI's */
    lx_str_t body;  /* the client's bytes */
    lx_str_t model; /* the model asked for (a view into body or root) */
    unsigned need;  /* capabilities the body asks for beyond the endpoint's */
    bool stream;
    bool client_usage;       /* an OpenAI client asked for stream usage */
    int64_t prompt_estimate; /* input tokens estimated from the body, 0: none */
    int64_t max_tokens;      /* what the client allows for the answer, 0: not said */
    const char *anthropic_version, *anthropic_beta; /* client headers, borrowed */
} lx_call_input_t;

/* Builds the upstream request for one target and says whether its wire is
 * the client's own (pass-through). May fill in->root or in->canon on first
 * need. LX_ERROR with a message in err means the client's request cannot go
 * to that target (not retried). */
typedef int (*lx_call_build_fn)(lx_call_input_t *in, const lx_target_t *t, lx_up_build_t *out,
                                bool *passthrough, char *err, size_t errlen);

typedef struct {
    lx_ai_t *ai;
    lx_req_t *req;
    lx_snapshot_t *snap; /* the request's registry reference: the call releases it */
    lx_client_fmt_t client;
    lx_call_kind_t kind;
    const char *feature; /* usage feature: "chat", "messages", "embed", "image" */
    const char *key_id;
    int64_t api_key_id;       /* 0: the admin key */
    int64_t user_id, team_id; /* a JWT's user and team (0: none), for usage */
    /* The spend slots the call's cost goes to (budget.h: the key's or a
     * JWT user's levels and their model entries; all NULL for the admin
     * key; slots live for the process). The finalizer adds the cost. */
    lx_spend_set_t spend;
    bool stream;
    bool client_usage;             /* an OpenAI client asked for stream usage */
    int64_t input_tokens_estimate; /* for Anthropic message_start before usage is known */
    int64_t t_handler_start;
    lx_call_build_fn build;
    lx_call_input_t in; /* owned by the call from lx_call_run on */
    /* The allowances the request counts against (the key's or a JWT
     * user's; slots live for the process) and what admission took
     * (allow.h): the finalizer settles them once. */
    lx_allow_set_t allow;
    lx_allow_ticket_t allow_ticket;
    char requested_model[256]; /* the name the client asked for: for usage */
} lx_call_opts_t;

/* Starts the call: tries targets[0..ntargets) in order, first choice first,
 * the rest are the fallbacks (retrying, rotating and falling back only
 * before the first byte reaches the client). o and the targets are copied.
 * Returns LX_AGAIN when the call now owns the request, or LX_OK if it
 * already ended (an error, rendered and recorded). Either way o->in is the
 * call's. */
int lx_call_run(const lx_call_opts_t *o, const lx_target_t *targets, int ntargets);

/* call_targets.c: the one "no upstream can take this request" outcome, from
 * the exclusion counts over ncand candidates (lx_route_error). When the
 * reason is local (cooling, rate limits: 429) Retry-After is the soonest
 * any of t[0..n) can take a request again: the end of its cooling (credential
 * and deployment), or of the rate window it has used up; 1 s if none is
 * known. */
void lx_call_no_target(lx_outcome_t *o, const lx_route_excl_t *excl, int ncand,
                       const lx_target_t *t, int n);

/* call_targets.c: fills the ordered targets for a resolved model: the
 * provider's active credentials, ordered by the strategy chain (health,
 * limits, priority, weight). Returns the count; 0 with the refusal in o. */
int lx_call_targets(lx_req_t *req, const lx_route_conf_t *rc, const lx_snapshot_t *snap,
                    const lx_resolved_t *t, unsigned need, int64_t prompt_tokens,
                    int64_t max_tokens, lx_target_t *out, int max, lx_outcome_t *o);

/* call_trace.c: the server span of an AI request refused before any call
 * (feature: the endpoint's usage feature; model: what the client asked
 * for, may be empty); nothing with tracing off or when not sampled. */
void lx_ai_trace_refusal(lx_ai_t *ai, lx_req_t *req, const char *feature, lx_str_t model,
                         const lx_outcome_t *o);

/* call_targets.c: fills r from the configuration. */
void lx_routing_init(lx_routing_t *r, const lx_config_t *cfg);

#endif
