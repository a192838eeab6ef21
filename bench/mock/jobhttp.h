/* jobhttp.h - the HTTP steps both job APIs share (video.c, runway.c): a
 * submit with its idempotency key and faults, and a status poll with its
 * poll_fail and Retry-After controls. */
#ifndef MOCK_JOBHTTP_H
#define MOCK_JOBHTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "call.h"
#include "jobs.h"
#include "reply.h"
#include "stats.h"

struct evbuffer;

/* Writes a job as its API shows it; fresh: the submit reply. Runs locked. */
typedef void (*mock_job_render_fn)(struct evbuffer *out, const mock_job_t *j, uint64_t now,
                                   bool fresh);

/* Creates the job of spec (or finds it by its Idempotency-Key) and replies
 * 200 with render(..., fresh=true) through mock_deliver (latency and body
 * faults apply). Status faults (4xx/5xx, quota, raw) answer before any job
 * exists; stall_headers and drop happen after the job was created, as when a
 * provider accepted the job and the answer was lost. */
void mock_jobhttp_submit(mock_call_t *c, const mock_job_spec_t *spec, mock_api_t api,
                         mock_stat_t counter, mock_job_render_fn render);

/* GET of a job's status: 404 (not_found_msg) for an unknown or deleted id or
 * one of the other API; a failing poll (poll_fail) answers the job's
 * poll_fail_status; Retry-After is added when the job's poll_retry_after (or
 * the request's, which wins) is > 0. */
void mock_jobhttp_poll(evhtp_request_t *req, const mock_opts_t *o, mock_api_t api,
                       mock_job_api_t japi, const char *id, size_t id_len,
                       const char *not_found_msg, mock_job_render_fn render);

/* The Idempotency-Key and x-mock-tag headers of req (NULL when absent). */
const char *mock_jobhttp_idem(evhtp_request_t *req);
const char *mock_jobhttp_tag(evhtp_request_t *req);

#endif
