/* control.h - the router entry point and the /_mock/... control endpoints. */
#ifndef MOCK_CONTROL_H
#define MOCK_CONTROL_H

#include <stddef.h>

#include <evhtp.h>

/* evhtp general callback: routes every request (router.c). */
void mock_route(evhtp_request_t *req, void *arg);

/* Serves /_mock/stats, /_mock/reset, /_mock/requests, /_mock/last,
 * /_mock/health and /_mock/files/<name> (control.c). */
void mock_control(evhtp_request_t *req, const char *path, size_t n);

/* /_mock/jobs and /_mock/jobs/{id} (jobctl.c); query is the raw query string. */
void mock_jobs_control(evhtp_request_t *req, const char *path, size_t n, const char *query);

/* The %-decoded value of key in a raw query string ('+' is a space), as a new
 * string the caller frees; NULL if absent (jobctl.c). */
char *mock_query_param(const char *query, const char *key);

#endif
