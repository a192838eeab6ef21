/* h2.h - HTTP/2 on a TLS connection (libnghttp2): each request stream is sent
 * as one HTTP/1.1 request on its own loopback connection to the plain
 * listener, and the answer comes back piece by piece (status and headers,
 * then the body as it arrives, chunked encoding removed) as the stream's
 * HEADERS and DATA, under HTTP/2 flow control: a stream whose window is shut
 * stops reading its inner connection. An inner connection that ends before
 * its answer is complete (the drop fault) resets the stream
 * (INTERNAL_ERROR); a stream the client resets closes its inner connection
 * (the mock counts client_gone). */
#ifndef MOCK_H2_H
#define MOCK_H2_H

#include "tconn.h"

/* Starts the session on c (takes over c->bev's callbacks, sends SETTINGS).
 * Returns -1 on failure (the caller closes c). */
int mock_h2_start(mock_tconn_t *c, unsigned max_streams);

/* Frees the session and every stream (from mock_tconn_close). */
void mock_h2_free(mock_h2_t *h);

#endif
