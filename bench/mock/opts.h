/* opts.h - per-request mock options.
 *
 * Three layers, later wins: command-line defaults (mock_opts_defaults), request
 * headers x-mock-*, and "+key=value" segments appended to the model name. */
#ifndef MOCK_OPTS_H
#define MOCK_OPTS_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    MOCK_FAULT_NONE = 0,
    MOCK_FAULT_STATUS,        /* reply opts.status with the provider's error body */
    MOCK_FAULT_STALL_HEADERS, /* never answer */
    MOCK_FAULT_STALL_MID,     /* stream: `after` units then silence */
    MOCK_FAULT_DROP,          /* close the TCP connection (after `after` units if streaming) */
    MOCK_FAULT_MALFORMED,     /* a frame / body that is not JSON */
    MOCK_FAULT_ERROR_EVENT,   /* stream: the provider's mid-stream error event, then end */
    MOCK_FAULT_FAIL,          /* video job ends "failed" */
    MOCK_FAULT_SLOW_BODY,     /* non-stream: body in two halves 200 ms apart */
    MOCK_FAULT_MAX_TOKENS,    /* stop reason: max tokens */
    MOCK_FAULT_REFUSAL,       /* stop reason: refusal / content filter */
    MOCK_FAULT_RAW_STATUS,    /* raw reply: status line opts.status (100..999), a body, close */
    MOCK_FAULT_CR_HEADER,     /* raw 429 whose Retry-After holds a bare CR and a Set-Cookie */
    MOCK_FAULT_HUGE_EVENT,    /* stream: one event of opts.size bytes of data, then on */
    MOCK_FAULT_HUGE_BODY,     /* non-stream: the answer padded with opts.size bytes */
    MOCK_FAULT_QUOTA,         /* 429 whose body says the quota is exhausted (insufficient_quota) */
} mock_fault_t;

/* How a video job (OpenAI videos, Runway tasks) ends. */
typedef enum {
    MOCK_OUTCOME_SUCCEED = 0, /* completed / SUCCEEDED after duration_ms */
    MOCK_OUTCOME_FAIL,        /* failed / FAILED after duration_ms (also fault=fail) */
    MOCK_OUTCOME_STALL,       /* never ends: in_progress / RUNNING, progress stuck at 50% */
} mock_outcome_t;

typedef struct {
    long chunks;      /* completion pieces "tok{i} " */
    long gap_ms;      /* stream: pause between pieces */
    long ttft_ms;     /* stream: delay before the headers and the first piece */
    long latency_ms;  /* non-stream: delay before the reply */
    long after;       /* mid-stream faults: number of units sent before the fault */
    long retry_after; /* seconds, for fault 429 */
    long dims;        /* embedding dimensions */
    long duration_ms; /* video job length */
    long size;        /* bytes of padding for huge_event / huge_body */
    /* video jobs, fixed at submit (see jobs.h) */
    long steps;            /* progress steps (0: smooth) */
    long throttle_ms;      /* THROTTLED (Runway) / queued (OpenAI) phase before the job runs */
    long poll_fail;        /* the next N status polls fail; -1: every poll */
    long poll_fail_status; /* status of a failed poll (500..599, default 503) */
    long poll_retry_after; /* Retry-After seconds on status polls (0: none) */
    long content_bytes;    /* size of the job's MP4 (>= 32) */
    mock_outcome_t outcome;
    int status; /* HTTP status when fault == MOCK_FAULT_STATUS or RAW_STATUS */
    mock_fault_t fault;
    bool dims_set; /* dims came from a header or the model name */
} mock_opts_t;

/* Defaults set once by main before the workers start; read-only afterwards. */
extern mock_opts_t mock_opts_defaults;

/* Sets one option. key uses the model-suffix spelling (chunks, gap_ms, ttft_ms,
 * latency_ms, fault, after, retry_after, dims, duration_ms, size, steps, throttle_ms,
 * poll_fail, poll_fail_status, poll_retry_after, content_bytes, outcome); '-' is treated as '_'
 * and "fault_after" as "after". Unknown keys and unparsable values are ignored.
 * Returns true if the key was recognised and the value accepted. */
bool mock_opts_set(mock_opts_t *o, const char *key, size_t klen, const char *val, size_t vlen);

/* Applies the "+key=value" segments of model[0..n). Returns the length of the
 * base name (the part before the first '+'). */
size_t mock_opts_apply_model(mock_opts_t *o, const char *model, size_t n);

/* Name of a fault for logs and docs ("none", "429", "drop", ...). */
const char *mock_fault_name(mock_fault_t f);

#endif
