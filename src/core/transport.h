/* transport.h - a provider's connection settings (README "Providers",
 * "Connection settings"): HTTP/2 auto, on or off, the HTTP/1.1 connections
 * "auto" keeps busy before it multiplexes, a per-worker cap on its
 * connections, a cap on streams per HTTP/2 connection, and its own CA
 * bundle. They come from the config file's provider block, or from the
 * provider's "settings" JSON in the admin API (stored in
 * ai_providers.settings), and reach the upstream client with each request
 * (upstream.h: lx_up_request_t.transport).
 *
 * Ownership: an lx_transport_t owns ca_file (lx_transport_free). The
 * parsers borrow their JSON. */
#ifndef LX_CORE_TRANSPORT_H
#define LX_CORE_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>

struct json_t;

/* The stream cap on one HTTP/2 connection when a provider sets none. */
#define LX_TRANSPORT_STREAMS_DEFAULT 100
/* HTTP/1.1 requests at once per worker (keep-alive connections, one
 * request each) before "auto" sends further ones over HTTP/2 (upstream.h
 * has the why). */
#define LX_TRANSPORT_HTTP1_CONNS_DEFAULT 256
/* Of those, streams: an HTTP/2 stream costs curl less CPU than a stream on
 * a TLS connection of its own once a worker holds many (multi.c). */
#define LX_TRANSPORT_HTTP1_STREAMS_DEFAULT 64
#define LX_TRANSPORT_STREAMS_MAX           1000
#define LX_TRANSPORT_CONNS_MAX             100000
#define LX_TRANSPORT_CA_FILE_MAX           1024

/* "http2" over TLS: "auto" (HTTP/1.1 keep-alive up to http1_connections
 * requests at once per worker, a stream only while fewer than
 * http1_streams streams run on either protocol, HTTP/2 past them), true
 * (always offer HTTP/2), false (HTTP/1.1 only). Plain http:// is always
 * HTTP/1.1. */
typedef enum { LX_HTTP2_AUTO = 0, LX_HTTP2_ON, LX_HTTP2_OFF } lx_http2_mode_t;

typedef struct {
    lx_http2_mode_t http2;
    int http1_connections; /* "auto"'s HTTP/1.1 requests per worker; 0: the default */
    int http1_streams;     /* streams (either protocol) below which one may
                              go on HTTP/1.1; 0: the default */
    int max_connections;   /* per worker; 0: no cap */
    int max_streams;       /* per HTTP/2 connection; 0: LX_TRANSPORT_STREAMS_DEFAULT */
    char *ca_file;         /* CA bundle for this provider; NULL: upstream.ca_file */
} lx_transport_t;

/* Whether key is one of the settings above ("http2", "http1_connections",
 * "http1_streams", "max_connections", "max_streams_per_connection",
 * "ca_file"). */
bool lx_transport_is_key(const char *key);

/* Applies one setting to t. On a bad value returns LX_ERROR and writes
 * "<key>: <what is expected>" into err; an unknown key is an error too. */
int lx_transport_set(lx_transport_t *t, const char *key, const struct json_t *v, char *err,
                     size_t errlen);

/* Applies every known key of obj (a JSON object) and ignores the others;
 * the first bad value fails as lx_transport_set does. */
int lx_transport_apply(lx_transport_t *t, const struct json_t *obj, char *err, size_t errlen);

/* The same for a settings object stored as JSON text (ai_providers.settings);
 * text that is not a JSON object holds no setting (LX_OK). */
int lx_transport_apply_text(lx_transport_t *t, const char *json, char *err, size_t errlen);

/* The settings that differ from the defaults as a JSON object (new
 * reference), for storing them in ai_providers.settings. */
struct json_t *lx_transport_to_json(const lx_transport_t *t);

/* A deep copy into dst (which must not own anything). */
void lx_transport_copy(lx_transport_t *dst, const lx_transport_t *src);
void lx_transport_free(lx_transport_t *t);

#endif
