/* baseurl.c - the provider base_url rule (see baseurl.h). */
#include "core/baseurl.h"

#include <string.h>

const char *lx_base_url_problem(const char *url)
{
    size_t scheme = strncmp(url, "https://", 8) == 0 ? 8 : strncmp(url, "http://", 7) == 0 ? 7 : 0;
    if (scheme == 0)
        return "must start with http:// or https://";
    for (const char *c = url; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f)
            return "must not contain spaces or control characters";
    const char *host = url + scheme;
    size_t auth = strcspn(host, "/?#");
    if (auth == 0)
        return "must name a host after the scheme";
    if (memchr(host, '@', auth) || memchr(host, '\\', auth))
        return "must not carry user:password@ (put the key in the credential, which is sealed)";
    if (strchr(host, '?'))
        return "must not have a query (?...)";
    if (strchr(host, '#'))
        return "must not have a fragment (#...)";
    return NULL;
}
