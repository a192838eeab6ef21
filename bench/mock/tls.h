/* tls.h - the mock's HTTPS listener (optional, --tls-port): TLS 1.2/1.3 with
 * session resumption (tickets and a server cache), ALPN h2 and http/1.1.
 *
 * Every request that arrives over TLS is served by the plain listener's own
 * handlers: an HTTP/1.1 connection is piped byte for byte to a loopback
 * connection to the plain listener (tls.c), an HTTP/2 stream becomes one
 * HTTP/1.1 request on a loopback connection of its own while it lasts (h2.c;
 * kept alive in the worker's idle pool between streams). So every route,
 * option and fault behaves the same over https and h2 as over plain HTTP.
 *
 * The SSL_CTX is built once by main before it forks the TLS front (a child
 * process, see main.c) and is read-only afterwards; each front worker owns
 * its listener, its TLS connections and its idle pool. */
#ifndef MOCK_TLS_H
#define MOCK_TLS_H

#include <stdbool.h>
#include <sys/socket.h>

struct event_base;

typedef struct {
    const char *cert;              /* PEM certificate chain file */
    const char *key;               /* PEM private key file */
    bool offer_h2;                 /* ALPN offers h2 (else http/1.1 only) */
    unsigned max_streams;          /* SETTINGS_MAX_CONCURRENT_STREAMS */
    unsigned max_requests;         /* GOAWAY after this many streams on a connection (0: never) */
    struct sockaddr_storage addr;  /* the TLS listener */
    socklen_t addr_len;            /* 0: TLS off */
    struct sockaddr_storage inner; /* the plain listener, as a loopback target */
    socklen_t inner_len;
} mock_tls_conf_t;

extern mock_tls_conf_t mock_tls_conf;

/* Builds the SSL_CTX from mock_tls_conf. Returns 0, or -1 with a message on
 * stderr. */
int mock_tls_init(void);

/* Frees the SSL_CTX (after the workers stopped). */
void mock_tls_cleanup(void);

static inline bool mock_tls_enabled(void)
{
    return mock_tls_conf.addr_len > 0;
}

typedef struct mock_tls_worker mock_tls_worker_t;

/* Binds this worker's TLS listener (SO_REUSEPORT) on base. NULL on failure
 * (message on stderr). */
mock_tls_worker_t *mock_tls_worker_new(struct event_base *base, unsigned index);

/* Closes the listener and every TLS connection of the worker, on its thread. */
void mock_tls_worker_free(mock_tls_worker_t *w);

#endif
