/* target.c - URL parsing, address resolution and the pre-built request bytes
 * (see target.h). */
#include "target.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/ssl.h>

#include "lx_version.h"

#define MAX_BODY_FILE (64u * 1024u * 1024u)

static int parse_url(lb_target_t *t, const lb_opts_t *o)
{
    const char *u = o->url, *h, *hend, *pstart;
    size_t hl;
    long port = 80;

    if (strncmp(u, "https://", 8) == 0) {
        t->tls = true;
        port = 443;
        h = u + 8;
    } else if (strncmp(u, "http://", 7) == 0) {
        h = u + 7;
    } else {
        goto bad;
    }
    pstart = h + strcspn(h, "/?#");
    if (*h == '[') {
        hend = memchr(h, ']', (size_t)(pstart - h));
        if (hend == NULL)
            goto bad;
        hl = (size_t)(hend - h - 1);
        if (hl == 0 || hl >= sizeof(t->host))
            goto bad;
        memcpy(t->host, h + 1, hl);
        hend++;
    } else {
        hend = memchr(h, ':', (size_t)(pstart - h));
        if (hend == NULL)
            hend = pstart;
        hl = (size_t)(hend - h);
        if (hl == 0 || hl >= sizeof(t->host))
            goto bad;
        memcpy(t->host, h, hl);
    }
    t->host[hl] = '\0';
    if (hend < pstart) {
        char *end;
        if (*hend != ':')
            goto bad;
        errno = 0;
        port = strtol(hend + 1, &end, 10);
        if (errno != 0 || end != pstart || end == hend + 1 || port < 1 || port > 65535)
            goto bad;
    }
    t->port = (uint16_t)port;
    if (*pstart == '\0' || (*pstart != '/' && *pstart != '?')) {
        snprintf(t->path, sizeof(t->path), "%s",
                 o->anthropic ? "/v1/messages" : "/v1/chat/completions");
    } else {
        size_t pl = strcspn(pstart, "#");
        if (pl >= sizeof(t->path) || strpbrk(pstart, " \r\n\t") != NULL)
            goto bad;
        snprintf(t->path, sizeof(t->path), "%s%.*s", *pstart == '?' ? "/" : "", (int)pl, pstart);
    }
    return 0;
bad:
    fprintf(stderr, "llmux-bench: bad --url '%s' (want http[s]://HOST[:PORT][/PATH])\n", u);
    return -1;
}

static int resolve(lb_target_t *t)
{
    struct addrinfo hints = {0}, *res = NULL;
    char port[8], num[INET6_ADDRSTRLEN];
    int rc;

    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof(port), "%u", (unsigned)t->port);
    rc = getaddrinfo(t->host, port, &hints, &res);
    if (rc != 0 || res == NULL) {
        fprintf(stderr, "llmux-bench: cannot resolve %s: %s\n", t->host, gai_strerror(rc));
        return -2;
    }
    memcpy(&t->addr, res->ai_addr, res->ai_addrlen);
    t->addr_len = res->ai_addrlen;
    if (res->ai_family == AF_INET6) {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)res->ai_addr)->sin6_addr, num,
                  sizeof(num));
        snprintf(t->addr_text, sizeof(t->addr_text), "[%s]:%u", num, (unsigned)t->port);
    } else {
        inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)res->ai_addr)->sin_addr, num,
                  sizeof(num));
        snprintf(t->addr_text, sizeof(t->addr_text), "%s:%u", num, (unsigned)t->port);
    }
    freeaddrinfo(res);
    return 0;
}

/* The client context: TLS 1.2+, the server verified against --cacert (or the
 * system's CAs), ALPN http/1.1, a client session cache so a reconnecting
 * connection resumes (conn.c keeps each connection's last session). */
static int tls_init(lb_target_t *t, const lb_opts_t *o)
{
    static const unsigned char alpn[] = "\x08http/1.1";
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (ctx == NULL)
        goto fail;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if ((o->cacert ? SSL_CTX_load_verify_locations(ctx, o->cacert, NULL)
                   : SSL_CTX_set_default_verify_paths(ctx)) != 1) {
        fprintf(stderr, "llmux-bench: cannot load the CA file %s\n",
                o->cacert ? o->cacert : "(system default)");
        SSL_CTX_free(ctx);
        return -2;
    }
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT);
    if (SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1) != 0)
        goto fail;
    t->ssl_ctx = ctx;
    return 0;
fail:
    SSL_CTX_free(ctx);
    fprintf(stderr, "llmux-bench: cannot set up TLS\n");
    return -2;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;

    if (f == NULL) {
        fprintf(stderr, "llmux-bench: cannot open --body-file %s: %s\n", path, strerror(errno));
        return NULL;
    }
    for (;;) {
        if (n == cap) {
            char *b;
            cap = cap ? cap * 2 : 4096;
            if (cap > MAX_BODY_FILE + 1 || (b = realloc(buf, cap)) == NULL) {
                fprintf(stderr, "llmux-bench: --body-file %s is too large\n", path);
                goto fail;
            }
            buf = b;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    if (ferror(f)) {
        fprintf(stderr, "llmux-bench: cannot read --body-file %s\n", path);
        goto fail;
    }
    fclose(f);
    *len = n;
    return buf;
fail:
    free(buf);
    fclose(f);
    return NULL;
}

/* The built-in chat body: OpenAI chat completions or Anthropic messages. */
static char *build_body(const lb_opts_t *o, size_t *len)
{
    json_t *b = json_object(), *msgs = json_array(), *m = json_object();
    char *s = NULL;

    if (b == NULL || msgs == NULL || m == NULL)
        goto out;
    json_object_set_new(m, "role", json_string("user"));
    json_object_set_new(m, "content", json_string(o->prompt));
    json_array_append(msgs, m);
    json_object_set_new(b, "model", json_string(o->model));
    if (o->anthropic)
        json_object_set_new(b, "max_tokens", json_integer(o->max_tokens > 0 ? o->max_tokens : 256));
    else if (o->max_tokens > 0)
        json_object_set_new(b, "max_tokens", json_integer(o->max_tokens));
    json_object_set(b, "messages", msgs);
    if (o->stream)
        json_object_set_new(b, "stream", json_true());
    s = json_dumps(b, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (s != NULL)
        *len = strlen(s);
out:
    json_decref(m);
    json_decref(msgs);
    json_decref(b);
    if (s == NULL)
        fprintf(stderr, "llmux-bench: cannot build the request body (bad UTF-8 in --model or "
                        "--prompt?)\n");
    return s;
}

int lb_target_init(lb_target_t *t, const lb_opts_t *o)
{
    char *body;
    size_t blen = 0, cap, n;
    int rc;
    bool v6;

    memset(t, 0, sizeof(*t));
    if (parse_url(t, o) < 0)
        return -1;
    if ((rc = resolve(t)) < 0)
        return rc;
    if (t->tls && (rc = tls_init(t, o)) < 0)
        return rc;
    body = o->body_file ? read_file(o->body_file, &blen) : build_body(o, &blen);
    if (body == NULL)
        return o->body_file ? -2 : -1;
    cap = 1024 + strlen(t->path) + strlen(t->host) + blen + (o->api_key ? strlen(o->api_key) : 0);
    for (size_t i = 0; i < o->nheaders; i++)
        cap += strlen(o->headers[i]) + 2;
    t->req = malloc(cap);
    if (t->req == NULL) {
        free(body);
        return -2;
    }
    v6 = strchr(t->host, ':') != NULL;
    n = (size_t)snprintf(t->req, cap,
                         "POST %s HTTP/1.1\r\n"
                         "Host: %s%s%s",
                         t->path, v6 ? "[" : "", t->host, v6 ? "]" : "");
    if (t->port != (t->tls ? 443 : 80))
        n += (size_t)snprintf(t->req + n, cap - n, ":%u", (unsigned)t->port);
    n += (size_t)snprintf(t->req + n, cap - n,
                          "\r\nUser-Agent: llmux-bench/%s\r\n"
                          "Content-Type: application/json\r\n"
                          "Accept: %s\r\n",
                          LX_VERSION, o->stream ? "text/event-stream" : "application/json");
    if (o->api_key && o->anthropic)
        n += (size_t)snprintf(t->req + n, cap - n, "x-api-key: %s\r\n", o->api_key);
    else if (o->api_key)
        n += (size_t)snprintf(t->req + n, cap - n, "Authorization: Bearer %s\r\n", o->api_key);
    if (o->anthropic)
        n += (size_t)snprintf(t->req + n, cap - n, "anthropic-version: 2023-06-01\r\n");
    for (size_t i = 0; i < o->nheaders; i++)
        n += (size_t)snprintf(t->req + n, cap - n, "%s\r\n", o->headers[i]);
    n += (size_t)snprintf(t->req + n, cap - n, "Content-Length: %zu\r\n\r\n", blen);
    memcpy(t->req + n, body, blen);
    t->req_len = n + blen;
    t->body_len = blen;
    free(body);
    return 0;
}

void lb_target_free(lb_target_t *t)
{
    free(t->req);
    t->req = NULL;
    SSL_CTX_free(t->ssl_ctx);
    t->ssl_ctx = NULL;
}
