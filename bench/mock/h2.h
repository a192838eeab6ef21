/* h2.h - HTTP/2 on a TLS connection (libnghttp2): each request stream is sent
 * as one HTTP/1.1 request on a loopback connection to the plain listener that
 * no other stream uses meanwhile (kept alive in the worker's idle pool
 * between streams), and the answer comes back piece by piece (status and headers,
 * then the body as it arrives, chunked encoding removed) as the stream's
 * HEADERS and DATA, under HTTP/2 flow control: a stream whose window is shut
 * stops reading its inner connection. An inner connection that ends before
 * its answer is complete (the drop fault) resets the stream
 * (INTERNAL_ERROR); a stream the client resets closes its inner connection
 * (the mock counts client_gone). */
#ifndef MOCK_H2_H
#define MOCK_H2_H

#include "tconn.h"

/* Starts the session on c (takes over c->bev's callbacks, sends SETTINGS
 * with SETTINGS_MAX_CONCURRENT_STREAMS max_streams). With max_requests > 0,
 * the stream that is the connection's max_requests-th is its last: a GOAWAY
 * (NO_ERROR, last stream id that stream) goes out as it begins, later
 * streams are refused, and the connection closes once its streams ended.
 * Returns -1 on failure (the caller closes c). */
int mock_h2_start(mock_tconn_t *c, unsigned max_streams, unsigned max_requests);

/* Frees the session and every stream (from mock_tconn_close). */
void mock_h2_free(mock_h2_t *h);

#endif
