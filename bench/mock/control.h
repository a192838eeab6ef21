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

#endif
