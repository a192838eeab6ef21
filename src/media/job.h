/* job.h - a provider's media job as pure values: the HTTP request an
 * adapter builds (submit, poll, cancel, content) and the normalized result
 * it reads from the provider's answer.
 *
 * Pure: nothing here does I/O, reads a clock or keeps state between calls.
 * An lx_job_req_t owns its url, header values and body (lx_job_req_free);
 * an lx_job_result_t owns its job_id, message and output
 * (lx_job_result_free). What the caller passes in (lx_job_ctx_t,
 * lx_job_answer_t) is borrowed for the length of the call only. */
#ifndef LX_MEDIA_JOB_H
#define LX_MEDIA_JOB_H

#include "core/buf.h"
#include "core/common.h"

#include <jansson.h>

/* The normalized job states. LX_JOB_NONE: the answer told no state (the
 * call itself failed: see permanent and retry_after_ms). */
typedef enum {
    LX_JOB_NONE = 0,
    LX_JOB_QUEUED,
    LX_JOB_RUNNING,
    LX_JOB_SUCCEEDED,
    LX_JOB_FAILED,
    LX_JOB_CANCELLED,
    LX_JOB__COUNT
} lx_job_state_t;

/* "none", "queued", "running", "succeeded", "failed", "cancelled". */
const char *lx_job_state_name(lx_job_state_t s);
/* The state named s (one of the names above but "none"), or LX_JOB_NONE. */
lx_job_state_t lx_job_state_parse(const char *s);
static inline bool lx_job_state_terminal(lx_job_state_t s)
{
    return s == LX_JOB_SUCCEEDED || s == LX_JOB_FAILED || s == LX_JOB_CANCELLED;
}

typedef enum {
    LX_JOB_OP_SUBMIT,
    LX_JOB_OP_POLL,
    LX_JOB_OP_CANCEL,
    LX_JOB_OP_CONTENT,
    LX_JOB_OP__COUNT
} lx_job_op_t;

const char *lx_job_op_name(lx_job_op_t op);

/* What an operation needs. Everything is borrowed for the call. */
typedef struct {
    const char *base_url;        /* the provider's base URL ("https://api.openai.com/v1");
                                    a trailing '/' is ignored */
    const char *key;             /* the credential's secret, NULL for none */
    const char *idempotency_key; /* submit: sent where the provider takes one */
    const json_t *input;         /* submit: the normalized task input (input.h), its
                                    "model" already the upstream model name */
    const char *job_id;          /* poll, cancel, content: the provider's job id */
    const char *variant;         /* content: "video", "thumbnail", ...; NULL for the default */
} lx_job_ctx_t;

#define LX_JOB_MAX_HEADERS 8

typedef struct {
    char name[64]; /* a copy */
    char *value;   /* owned */
} lx_job_header_t;

/* One HTTP request to the provider. Secrets (the Authorization value) are
 * in headers only: never log a request's headers. */
typedef struct {
    const char *method; /* static: "GET", "POST", "DELETE", ... */
    char *url;          /* owned, absolute */
    lx_job_header_t headers[LX_JOB_MAX_HEADERS];
    int n_headers;
    char *body; /* owned, NULL for none */
    size_t body_len;
    const char *content_type; /* static, NULL when there is no body */
} lx_job_req_t;

void lx_job_req_free(lx_job_req_t *r);
/* The value of header name (case-insensitive), or NULL. */
const char *lx_job_req_header(const lx_job_req_t *r, const char *name);

/* The provider's answer, borrowed. */
typedef struct {
    int status;       /* HTTP status; 0 when no answer came (connect error, timeout) */
    const char *body; /* may be NULL when body_len is 0; need not be NUL-terminated */
    size_t body_len;
    const char *retry_after; /* the Retry-After header's value, NULL for none */
} lx_job_answer_t;

/* The normalized result of one answer. */
typedef struct {
    lx_job_state_t state;
    int progress;           /* 0..100, -1 when the answer said nothing */
    char *job_id;           /* owned, NULL when the answer carried none */
    json_t *output;         /* owned: {"urls": [...], "metadata": {...}} on success, else NULL */
    char error_code[64];    /* "" for none */
    char *error_message;    /* owned, NULL for none */
    int64_t retry_after_ms; /* the provider's hint, -1 for none */
    bool permanent;         /* a failure (state NONE or FAILED) that retrying will not
                               fix; false: worth retrying (after retry_after_ms) */
} lx_job_result_t;

void lx_job_result_init(lx_job_result_t *res);
void lx_job_result_free(lx_job_result_t *res);
/* Sets state NONE or FAILED with code and a message (copied; truncated to
 * 512 bytes). */
void lx_job_result_fail(lx_job_result_t *res, lx_job_state_t state, const char *code,
                        const char *msg, bool permanent);

/* ---- helpers the adapters share ---- */

/* Starts r: method, url = base_url (its trailing '/' dropped) + path, and
 * the header "Authorization: Bearer <key>" when key is set. */
void lx_job_req_start(lx_job_req_t *r, const char *method, const char *base_url, const char *path,
                      const char *key);
/* Adds a header (name and value copied); LX_ERROR when the table is full
 * or the name is 64 bytes or longer. */
int lx_job_req_add_header(lx_job_req_t *r, const char *name, const char *value);
/* Sets a JSON body (serialized; v is not stolen). */
void lx_job_req_set_json(lx_job_req_t *r, const json_t *v);

/* Appends s[0..n) as one path segment: every byte but A-Z a-z 0-9 - _ ~ .
 * percent-encoded, and a segment made only of dots ("." "..") encoded whole,
 * so an id can never change the path it is put into. LX_ERROR (nothing
 * appended) when n is 0 or over 1024. */
int lx_job_path_segment(lx_buf_t *b, const char *s, size_t n);
/* Appends s as a query-string value (the same escaping). */
void lx_job_query_value(lx_buf_t *b, const char *s);

/* Retry-After as delta-seconds ("120") -> ms in *ms; LX_ERROR for anything
 * else (HTTP dates are not taken: the result stays pure, without a clock). */
int lx_job_retry_after_ms(const char *v, int64_t *ms);

/* The result of an HTTP answer that is not a 2xx: state NONE; permanent
 * unless the status is 0, 408, 409, 425, 429 or 5xx; the message and code
 * from an OpenAI-shaped ({"error": {"message", "code"|"type"}}) or flat
 * ({"error": "..."}) body when there is one; retry_after_ms from the
 * header. A 401 or 403 gets code "provider_auth" and a message of ours:
 * the provider's text may quote part of the key. */
void lx_job_http_error(const lx_job_answer_t *a, lx_job_result_t *res);

/* Parses a 2xx answer's body as a JSON object (depth-limited). NULL and
 * res failed (NONE, "bad_answer", not permanent) when it is not one. */
json_t *lx_job_answer_json(const lx_job_answer_t *a, lx_job_result_t *res);

/* Copies a JSON string id into res->job_id; LX_ERROR (res untouched) when v
 * is not a string of 1..1024 bytes without NUL. */
int lx_job_take_id(lx_job_result_t *res, const json_t *v);

#endif
