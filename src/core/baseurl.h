/* baseurl.h - what a provider's base_url may be: http:// or https://, a
 * host, a path; no user:password@ (credentials belong in the sealed
 * credential), no query, no fragment, no blanks or control characters.
 * Shared by the config check (start-up) and the admin API. */
#ifndef LX_CORE_BASEURL_H
#define LX_CORE_BASEURL_H

/* NULL if url is a usable base URL, else why not (static text that reads
 * after the field's name: "must not carry user:password@ ..."). */
const char *lx_base_url_problem(const char *url);

#endif
