/* tls.c - the TLS options of a worker's easy handles (multi_int.h): how a
 * new upstream connection is verified, and the CA bundle a handle names. */
#include "upstream/multi_int.h"
#include "core/clock.h"

#include <openssl/ssl.h>

char *lx_up_tls_default_ca(void)
{
    CURL *e = curl_easy_init();
    char *ca = NULL;
    if (e && curl_easy_getinfo(e, CURLINFO_CAINFO, &ca) == CURLE_OK && ca)
        ca = lx_strdup(ca);
    else
        ca = NULL;
    curl_easy_cleanup(e);
    return ca;
}

/* CURLOPT_SSL_CTX_FUNCTION, for each new TLS connection before its
 * handshake: the transfer's CA store (its provider's, taken when it
 * started; else the client's, looked up here, so that a transfer on a kept
 * connection costs no lookup), and the handshake fails unless the server's
 * chain verifies against it. No store (its file cannot be read): no
 * connection. */
static CURLcode ssl_ctx_cb(CURL *e, void *ssl_ctx, void *arg)
{
    (void)arg;
    lx_up_call_t *c = NULL;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&c);
    if (c == NULL)
        return CURLE_SSL_CACERT_BADFILE;
    X509_STORE *ca =
        c->own_ca ? c->ca : lx_ca_stores_get(c->u->cas, c->u->ca_base, lx_now_us() / 1000000);
    if (ca == NULL)
        return CURLE_SSL_CACERT_BADFILE;
    SSL_CTX_set1_cert_store(ssl_ctx, ca); /* the SSL_CTX's own reference */
    if (!c->own_ca)
        X509_STORE_free(ca);
    SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_PEER, NULL);
    return CURLE_OK;
}

void lx_up_tls_setopts(const lx_upstream_t *u, CURL *e)
{
    /* The peer's certificate and name verified, at least TLS 1.2 (1.3 when
     * the server has it), sessions resumed through the share (multi.c).
     *
     * The chain is verified by OpenSSL during the handshake, against the
     * worker's parsed CA store (ca_store.h), which ssl_ctx_cb gives every
     * new connection with SSL_VERIFY_PEER: a chain that does not verify
     * ends the handshake (CURLE_PEER_FAILED_VERIFICATION). curl's own
     * VERIFYPEER is off only so that curl does not parse the bundle
     * itself: it would, once per curl multi and again whenever a multi's
     * transfers switch CA file (21 ms with the system bundle). The host
     * name is curl's check (VERIFYHOST). CAINFO still names the file,
     * unread: curl reuses a connection or a TLS session only for a
     * transfer with the same one, so a provider's own CA is never bypassed
     * through a connection verified against another bundle. No CA
     * directory (CAPATH): it would take part in that match only. */
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb);
    curl_easy_setopt(e, CURLOPT_SSLVERSION, u->tls_min);
    if (u->ca_base)
        curl_easy_setopt(e, CURLOPT_CAINFO, u->ca_base);
    curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
}
