/* ca_store.h - parsed CA bundles (OpenSSL X509_STOREs), one table per
 * worker, owned by its lx_upstream_t (multi.c); no locks, its loop is the
 * only user. A store's reference count is OpenSSL's (atomic): a transfer
 * and the SSL_CTX of each connection hold their own reference, so a store
 * the table drops lives on while one of them uses it.
 *
 * Why not curl's own: curl 7.88 keeps one parsed store per curl multi, for
 * one file. A worker has several multis (a lane per protocol and caps, the
 * shards of a burst, a fresh multi after lx_upstream_trim), and each parsed
 * the bundle again for its first TLS connection; a multi whose transfers
 * go to a provider with its own ca_file and to one without parsed a file
 * again at every switch. Debian's system bundle (145 certificates) costs
 * about 21 ms of the loop's CPU per parse. Here a file is parsed once per
 * worker, at its first HTTPS transfer that names it (the store of the
 * system's bundle holds about 1 MB).
 *
 * A store is read again when it is LX_CA_STORE_TTL_S old (a day, curl's
 * CURLOPT_CA_CACHE_TIMEOUT default), so a renewed bundle is picked up; if
 * the file cannot be read then, the old store stays. A file that cannot be
 * read at all is tried again after LX_CA_STORE_RETRY_S. */
#ifndef LX_UPSTREAM_CA_STORE_H
#define LX_UPSTREAM_CA_STORE_H

#include <openssl/x509_vfy.h>
#include <stdint.h>

#define LX_CA_STORE_MAX     32
#define LX_CA_STORE_TTL_S   (24 * 3600)
#define LX_CA_STORE_RETRY_S 60

typedef struct lx_ca_stores lx_ca_stores_t;

lx_ca_stores_t *lx_ca_stores_new(void);
void lx_ca_stores_free(lx_ca_stores_t *t);
/* A new reference to the store of path, a PEM bundle (NULL: OpenSSL's
 * default locations), parsed now if the table has none or its copy is
 * older than the TTL; the caller frees it (X509_STORE_free). NULL when the
 * file cannot be read (logged). With LX_CA_STORE_MAX files in the table,
 * the least recently used one goes. now_s: a monotonic clock in seconds. */
X509_STORE *lx_ca_stores_get(lx_ca_stores_t *t, const char *path, int64_t now_s);
/* Bundles parsed so far (successfully or not): for tests and benchmarks. */
int lx_ca_stores_parsed(const lx_ca_stores_t *t);

#endif
