/* openapi.h - GET /openapi.json: the OpenAPI 3.1 document of every public
 * and admin route.
 *
 * The document is docs/openapi.json, embedded at build time
 * (scripts/embed_file.py); it is static data for the life of the process. */
#ifndef LX_ADMIN_OPENAPI_H
#define LX_ADMIN_OPENAPI_H

#include "http/request.h"

#include <stddef.h>

/* The document's bytes (NUL-terminated; the NUL is not counted). */
extern const char lx_openapi_json[];
extern const size_t lx_openapi_json_len;

/* Serves the document as application/json, with no key needed. */
int lx_openapi_handler(lx_req_t *req, void *arg);

#endif
