/* server.h - the worker threads: one event_base and one evhtp per thread, all
 * bound to the same port with SO_REUSEPORT; shared-nothing on the request path. */
#ifndef MOCK_SERVER_H
#define MOCK_SERVER_H

#include <stdint.h>

typedef struct mock_server mock_server_t;

/* Starts n workers bound to host:port (host as evhtp takes it: "127.0.0.1",
 * "ipv6:::1"); with host NULL, n workers of the TLS front instead (tls.h,
 * mock_tls_conf; counters in slots MOCK_MAX_WORKERS + i). Returns once every
 * worker is bound, or NULL (with a message on stderr) if any failed; then
 * nothing is left running. */
mock_server_t *mock_server_start(unsigned n, const char *host, uint16_t port);

/* Stops every loop, closes every connection, joins and frees everything. */
void mock_server_stop(mock_server_t *s);

#endif
