/* url_cache.c - parsed upstream URLs per worker (see url_cache.h). */
#include "upstream/url_cache.h"
#include "core/strmap.h"

#include <stdlib.h>

struct lx_url_cache {
    lx_strmap_t index; /* url -> position in entries */
    int n;
    struct {
        char *url; /* the index keeps this pointer */
        CURLU *parsed;
    } entries[LX_URL_CACHE_MAX];
};

lx_url_cache_t *lx_url_cache_new(void)
{
    lx_url_cache_t *c = lx_calloc(1, sizeof *c);
    lx_strmap_init(&c->index, LX_URL_CACHE_MAX);
    return c;
}

void lx_url_cache_free(lx_url_cache_t *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < c->n; i++) {
        curl_url_cleanup(c->entries[i].parsed);
        free(c->entries[i].url);
    }
    lx_strmap_free(&c->index);
    free(c);
}

int lx_url_cache_count(const lx_url_cache_t *c)
{
    return c->n;
}

CURLU *lx_url_cache_get(lx_url_cache_t *c, const char *url)
{
    size_t len = strlen(url);
    int32_t at = lx_strmap_get(&c->index, (lx_str_t){url, len});
    if (at >= 0)
        return c->entries[at].parsed;
    if (c->n == LX_URL_CACHE_MAX)
        return NULL;
    CURLU *parsed = curl_url();
    /* The flags curl uses when it parses CURLOPT_URL itself. */
    if (parsed == NULL ||
        curl_url_set(parsed, CURLUPART_URL, url, CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) !=
            CURLUE_OK) {
        curl_url_cleanup(parsed);
        return NULL;
    }
    char *key = lx_strndup(url, len);
    c->entries[c->n].url = key;
    c->entries[c->n].parsed = parsed;
    lx_strmap_put(&c->index, key, len, c->n);
    c->n++;
    return parsed;
}
