/* record.h - the ring of the last 64 requests (GET /_mock/requests, /_mock/last).
 *
 * Each entry is stored as ready-made JSON text built when the request arrives,
 * so reads only concatenate. One mutex guards the ring; benchmarks start the
 * mock with --no-record to skip all of it. */
#ifndef MOCK_RECORD_H
#define MOCK_RECORD_H

#include <stdbool.h>
#include <stddef.h>

#include <evhtp.h>

#define MOCK_RECORD_SLOTS    64
#define MOCK_RECORD_MAX_BODY (64 * 1024)

/* Set by main before the workers start. */
extern bool mock_record_enabled;

/* Records req (method, path, query, selected headers) and body[0..n)
 * (truncated at MOCK_RECORD_MAX_BODY). Copies everything; keeps no pointer. */
void mock_record_request(evhtp_request_t *req, const char *body, size_t n);

/* Appends {"requests":[...oldest first]} to out. */
void mock_record_json_all(struct evbuffer *out);

/* Appends the newest entry; returns false (appending nothing) if there is none. */
bool mock_record_json_last(struct evbuffer *out);

/* Drops every entry (POST /_mock/reset, and at exit). */
void mock_record_clear(void);

#endif
