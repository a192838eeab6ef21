/* request.h - the per-request context handlers see.
 *
 * Ownership: the HTTP server creates an lx_req_t when a request's headers are
 * in and frees it after the reply has been handed to the connection (or the
 * connection died). A handler that returned LX_AGAIN must end the request
 * exactly once, through lx_req_reply_* or lx_req_stream_end, both of which
 * call the one finalizer (lx_req_finish). If the client goes away first, the
 * abort callback runs once; the handler must then stop using the request and
 * call lx_req_finish itself (from any later point on the loop, or from the
 * callback). All functions run on the request's own loop thread. */
#ifndef LX_HTTP_REQUEST_H
#define LX_HTTP_REQUEST_H

#include "core/common.h"
#include "core/err.h"

#include <jansson.h>

typedef struct lx_req lx_req_t;

typedef void (*lx_req_cb)(lx_req_t *req, void *arg);

/* ---- what the client sent (views valid until the request ends) ---- */
lx_str_t lx_req_method(const lx_req_t *req);
lx_str_t lx_req_path(const lx_req_t *req);
lx_str_t lx_req_query_raw(const lx_req_t *req);
/* Value of a query parameter (NULL if absent); borrowed. */
const char *lx_req_query(lx_req_t *req, const char *name);
/* Header value (case-insensitive name) or NULL; borrowed. */
const char *lx_req_header(const lx_req_t *req, const char *name);
/* The headers llmux itself reads, picked out while the head is parsed, so
 * that reading one does not walk the client's header list (an SDK sends a
 * dozen or more). The first of repeated headers wins, as in lx_req_header. */
typedef enum {
    LX_HDR_REQUEST_ID,
    LX_HDR_CONTENT_LENGTH,
    LX_HDR_AUTHORIZATION,
    LX_HDR_X_API_KEY,
    LX_HDR_LLMUX_PROVIDER,
    LX_HDR_LLMUX_ROUTE,
    LX_HDR_ANTHROPIC_VERSION,
    LX_HDR_ANTHROPIC_BETA,
    LX_HDR_TRACEPARENT,
    LX_HDR_TRACESTATE,
    LX_HDR_COUNT
} lx_hdr_t;
const char *lx_req_hdr(const lx_req_t *req, lx_hdr_t h);
/* The whole body, contiguous; borrowed. */
lx_str_t lx_req_body(lx_req_t *req);
/* The body as a JSON object (depth-limited, duplicate keys refused; new
 * reference), or NULL after replying 400 in the request's error shape. */
json_t *lx_req_json_body(lx_req_t *req);
lx_str_t lx_req_id(const lx_req_t *req);
int64_t lx_req_start_us(const lx_req_t *req);
bool lx_req_is_http10(const lx_req_t *req);
bool lx_req_client_gone(const lx_req_t *req);
bool lx_req_anthropic_errors(const lx_req_t *req);
int lx_req_worker_id(const lx_req_t *req);
struct event_base *lx_req_base(const lx_req_t *req);

/* Bearer token from Authorization, else x-api-key, else NULL; borrowed. */
lx_str_t lx_req_api_key(const lx_req_t *req);
/* Records who made the request, for the access log (never a secret). */
void lx_req_set_key_id(lx_req_t *req, const char *key_id);

/* ---- replying ---- */
/* Adds (or replaces) a response header. A name that is not an HTTP token,
 * or a value with a control character other than HTAB (CR, LF, NUL, ...),
 * is refused (LX_ERROR, nothing set): a header never splits the head. */
int lx_req_set_header(lx_req_t *req, const char *name, const char *value);
/* The cheap form for a header the request does not have yet, whose name is
 * a constant HTTP token of name_len bytes followed by a NUL (neither is
 * checked; the value is, as above). No replacement: set it once. */
int lx_req_add_header(lx_req_t *req, const char *name, size_t name_len, const char *value,
                      size_t value_len);
/* Sends a complete reply and finishes the request. body is copied. */
void lx_req_reply(lx_req_t *req, int status, const char *content_type, const char *body,
                  size_t len);
void lx_req_reply_json(lx_req_t *req, int status, json_t *body); /* steals body */
/* An error in the client's API shape (OpenAI, or Anthropic on Anthropic
 * routes). message NULL takes the reason's default text; param may be NULL. */
void lx_req_reply_error(lx_req_t *req, lx_err_t err, const char *message, const char *param);
/* Same, with an explicit status (e.g. an upstream's 4xx). */
void lx_req_reply_error_status(lx_req_t *req, int status, lx_err_t err, const char *message,
                               const char *param);

/* ---- streaming (SSE and other incremental bodies) ----
 * HTTP/1.1 clients get chunked encoding; HTTP/1.0 clients get a plain body
 * and the connection closes at the end. */
void lx_req_stream_start(lx_req_t *req, int status, const char *content_type);
/* Queues bytes for the client. Returns false if the client is gone. */
bool lx_req_stream_write(lx_req_t *req, const void *p, size_t n);
/* Bytes queued for the client and not yet written to the socket. */
size_t lx_req_pending_bytes(const lx_req_t *req);
/* From cork, stream writes are collected and then sent together, at
 * uncork or, at the latest, once the loop has run the callbacks it already
 * had due (or when another request corks): one syscall for all the events
 * of one upstream read. */
void lx_req_cork(lx_req_t *req);
void lx_req_uncork(lx_req_t *req);
/* Ends the body and finishes the request. */
void lx_req_stream_end(lx_req_t *req);
bool lx_req_streaming(const lx_req_t *req);

/* Called once when the client's output drains below low_water after having
 * been above it; re-armed by each call. Pass NULL to cancel. */
void lx_req_on_drain(lx_req_t *req, size_t low_water, lx_req_cb cb, void *arg);
/* Called once if the client goes away before the request finished. */
void lx_req_on_abort(lx_req_t *req, lx_req_cb cb, void *arg);

/* The one finalizer of the HTTP side: hands the connection back to evhtp.
 * Idempotent. Replies call it; a handler whose client left calls it. */
void lx_req_finish(lx_req_t *req);

/* The status replied (or streamed) so far, 0 before any reply. */
int lx_req_status(const lx_req_t *req);
/* The reason of the error reply sent (lx_req_reply_error*), LX_E_NONE if
 * none was. */
lx_err_t lx_req_error(const lx_req_t *req);

/* Builds the error body in the request's shape into a new json_t. */
json_t *lx_error_body(bool anthropic, lx_err_t err, const char *message, const char *param);

#endif
