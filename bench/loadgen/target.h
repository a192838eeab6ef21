/* target.h - where the load goes and what is sent: the URL split into host,
 * port and path, the address resolved once at start-up, and the complete
 * request bytes (head and body) built once and shared read-only by every
 * connection. */
#ifndef LB_TARGET_H
#define LB_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "opts.h"

typedef struct {
    char host[256];             /* as written in the URL, without brackets */
    bool tls;                   /* https://: TLS (HTTP/1.1 by ALPN), verified, sessions resumed */
    struct ssl_ctx_st *ssl_ctx; /* owned when tls; shared by every thread */
    uint16_t port;
    char path[1024];
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char addr_text[64]; /* numeric address:port actually used */
    char *req;          /* owned: the whole request */
    size_t req_len;
    size_t body_len;
} lb_target_t;

/* Fills t from o. Returns 0; -1 on bad usage (bad URL); -2 on a setup error
 * (unresolvable host, unreadable body file). A message is printed either way. */
int lb_target_init(lb_target_t *t, const lb_opts_t *o);
void lb_target_free(lb_target_t *t);

#endif
