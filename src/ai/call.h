/* call.h - one AI request in flight: the upstream call, the translation of
 * its answer into the client's wire format, and the usage record.
 *
 * Handlers (chat.c, messages.c, embed.c) validate the client's request,
 * resolve the target, build the upstream request and hand over to
 * lx_call_run. From then on the call owns the client request until it ends
 * through call_finalize (call.c), the only place that cancels the upstream
 * call, emits the usage record and frees the call. */
#ifndef LX_AI_CALL_H
#define LX_AI_CALL_H

#include "ai/adapter.h"
#include "ai/ai.h"
#include "ai/catalog.h"
#include "ai/registry.h"

typedef enum {
    LX_FMT_OPENAI = 0,
    LX_FMT_ANTHROPIC,
} lx_client_fmt_t;

typedef enum {
    LX_CALL_CHAT = 0,
    LX_CALL_EMBED,
    LX_CALL_IMAGE,
} lx_call_kind_t;

typedef struct {
    lx_ai_t *ai;
    lx_req_t *req;
    lx_snapshot_t *snap; /* the request's registry reference: the call releases it */
    lx_client_fmt_t client;
    lx_call_kind_t kind;
    const lx_provider_conf_t *prov;
    const lx_adapter_t *adapter; /* the provider's adapter */
    const char *feature;         /* usage feature: "chat", "messages", "embed" */
    const char *key_id;
    int64_t api_key_id;        /* 0: the admin key */
    const lx_target_t *target; /* borrowed during lx_call_run: model prices, credential */
    const char *upstream_model;
    const char *client_model; /* the model name reported in translated answers */
    bool stream;
    bool passthrough;              /* same wire on both sides: forward upstream's bytes */
    bool client_usage;             /* an OpenAI client asked for stream usage */
    int64_t input_tokens_estimate; /* for Anthropic message_start before usage is known */
    int64_t t_handler_start;
} lx_call_opts_t;

/* Starts the upstream call described by build (consumed). The strings in o
 * are copied; o itself need not outlive the call. Returns LX_AGAIN
 * when the call now owns the request, or LX_OK if it already replied (an
 * error). */
int lx_call_run(const lx_call_opts_t *o, lx_up_build_t *build);

#endif
