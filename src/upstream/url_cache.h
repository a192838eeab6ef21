/* url_cache.h - parsed upstream URLs, one table per worker, owned by its
 * lx_upstream_t (multi.c); no locks, its loop is the only user.
 *
 * Given CURLOPT_URL alone, curl parses the URL and prints it back
 * normalized on every transfer: about a sixth of the instructions of a
 * non-stream request. Given a parsed CURLU (CURLOPT_CURLU) it only copies
 * it. A gateway sends to a handful of URLs (a provider's base URL and a few
 * paths; Gemini adds the model), so each is parsed once per worker.
 *
 * Entries live as long as the table: a transfer never outlives the CURLU it
 * was given. When the table is full, further URLs are not cached and curl
 * parses them itself as before. */
#ifndef LX_UPSTREAM_URL_CACHE_H
#define LX_UPSTREAM_URL_CACHE_H

#include <curl/curl.h>

#define LX_URL_CACHE_MAX 128

typedef struct lx_url_cache lx_url_cache_t;

lx_url_cache_t *lx_url_cache_new(void);
void lx_url_cache_free(lx_url_cache_t *c);
/* The parsed form of url, parsed now if new; NULL when the table is full or
 * curl rejects the URL (the caller then leaves it to curl, which reports
 * the error). */
CURLU *lx_url_cache_get(lx_url_cache_t *c, const char *url);
int lx_url_cache_count(const lx_url_cache_t *c);

#endif
