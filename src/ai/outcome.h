/* outcome.h - how a request ended, as a value.
 *
 * Resolvers, predicates, target assembly and the attempt loop fill an
 * lx_outcome_t instead of replying; the one function that ends a request
 * (lx_ai_refuse for a request refused before any call, the call's
 * finalizer otherwise) renders it in the client's wire and records usage
 * from the same value. An outcome owns nothing: message and retry_after
 * are copied in, param and detail point at static text or at memory that
 * outlives the finalizer (the call's). */
#ifndef LX_AI_OUTCOME_H
#define LX_AI_OUTCOME_H

#include "core/common.h"
#include "core/err.h"
#include "http/request.h"

/* Which side the failure is on. */
typedef enum {
    LX_SIDE_NONE = 0, /* success */
    LX_SIDE_CLIENT,   /* the client's request (4xx), or the client left (499) */
    LX_SIDE_LLMUX,    /* llmux refused or failed itself (local limits, no target, internal) */
    LX_SIDE_UPSTREAM, /* the upstream answered with an error, broke or timed out */
} lx_side_t;

typedef struct {
    int status;   /* the HTTP status the client saw (200 for a stream once started) */
    lx_err_t err; /* LX_E_NONE on success */
    lx_side_t side;
    const char *param;    /* the request field at fault, or NULL (static) */
    const char *detail;   /* the short cause recorded in usage.error, or NULL: message */
    char retry_after[80]; /* the Retry-After header value, "" for none */
    char message[512];    /* the error message the client sees */
} lx_outcome_t;

/* Success (status 200). */
void lx_outcome_ok(lx_outcome_t *o);
/* A failure of reason e on a side; status 0 takes the reason's status. */
void lx_outcome_fail(lx_outcome_t *o, lx_side_t side, int status, lx_err_t e, const char *param,
                     const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Retry-After in whole seconds from a wait in ms (rounded up; 1 s when the
 * wait is not positive). */
void lx_outcome_retry_after_ms(lx_outcome_t *o, int64_t wait_ms);
/* The error code recorded in usage: the reason's name, or "" on success. */
const char *lx_outcome_code(const lx_outcome_t *o);
/* Renders a failure as an error reply in the request's shape (OpenAI, or
 * Anthropic on Anthropic routes), with Retry-After when set. This ends the
 * request (lx_req_reply_error_status). */
void lx_outcome_reply(lx_req_t *req, const lx_outcome_t *o);

#endif
