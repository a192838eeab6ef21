/* allow_headers.h - the OpenAI rate-limit headers of a limited key's
 * responses (success, error and stream): x-ratelimit-limit-requests,
 * x-ratelimit-remaining-requests, x-ratelimit-reset-requests for the
 * strictest request window (the least remaining of every level's minute and
 * day windows) and the -tokens three for the strictest tokens window, each
 * set only when such a window exists. Reset in OpenAI's form ("1s",
 * "6m0s", "1h2m3s", "250ms"). No allocation beyond the request's header
 * store; nothing at all for a key without limits (the caller skips it).
 * Set once per request (lx_req_add_header: no replacement). */
#ifndef LX_AI_ALLOW_HEADERS_H
#define LX_AI_ALLOW_HEADERS_H

#include "auth/allow.h"
#include "http/request.h"

/* Sets the headers on req (before its reply or stream starts). */
void lx_allow_headers(lx_req_t *req, const lx_allow_set_t *set, int64_t now_ms);

/* Writes ms as OpenAI's reset duration into out (>= 16 bytes). */
void lx_allow_duration(int64_t ms, char *out);

#endif
