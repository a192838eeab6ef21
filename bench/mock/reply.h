/* reply.h - sending replies: immediate JSON, provider-shaped errors, and the
 * non-stream delivery path that applies latency and body faults. */
#ifndef MOCK_REPLY_H
#define MOCK_REPLY_H

#include <stdbool.h>

#include <evhtp.h>

#include "opts.h"

/* Which provider's wire format an endpoint speaks (selects error shapes). */
typedef enum {
    MOCK_API_OPENAI = 0,
    MOCK_API_ANTHROPIC,
    MOCK_API_GEMINI,
    MOCK_API_RUNWAY, /* errors are {"error":"<message>"} */
} mock_api_t;

#define MOCK_CT_JSON "application/json"
#define MOCK_CT_SSE  "text/event-stream"

/* Sends status with body now (body's bytes are moved out; the caller still owns
 * and frees the evbuffer). ctype must be a string literal. */
void mock_reply_now(evhtp_request_t *req, int status, const char *ctype, struct evbuffer *body);

/* Appends the provider's error JSON for status to out. msg NULL uses a default
 * message; code NULL uses the default OpenAI "code" for the status. */
void mock_error_body(struct evbuffer *out, mock_api_t api, int status, const char *msg,
                     const char *code);

/* Sends the provider's error for status now; retry_after > 0 adds Retry-After. */
void mock_reply_error(evhtp_request_t *req, mock_api_t api, int status, const char *msg,
                      long retry_after);

/* Same with an explicit OpenAI error code (e.g. "unknown_url"). */
void mock_reply_error_code(evhtp_request_t *req, mock_api_t api, int status, const char *msg,
                           const char *code);

/* Handles the faults that replace the whole reply: MOCK_FAULT_STATUS (after
 * delay_ms), MOCK_FAULT_STALL_HEADERS, and MOCK_FAULT_DROP when !stream. Returns
 * true if it took the request; the handler must then do nothing more. */
bool mock_fault_early(evhtp_request_t *req, const mock_opts_t *o, mock_api_t api, long delay_ms,
                      bool stream);

/* Delivers a complete non-stream reply: after o->latency_ms, applying the body
 * faults malformed (half the body), slow_body (two halves 200 ms apart) and
 * stall_mid (headers and half the body, then silence). Takes ownership of body.
 * ctype must be a string literal. */
void mock_deliver(evhtp_request_t *req, const mock_opts_t *o, int status, const char *ctype,
                  struct evbuffer *body);

#endif
