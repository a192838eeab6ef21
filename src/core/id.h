/* id.h - request ids: "req_" + 24 hex digits, unique per process run.
 *
 * Each thread keeps its own generator state, so no lock is taken. */
#ifndef LX_CORE_ID_H
#define LX_CORE_ID_H

#include "core/common.h"

#define LX_REQUEST_ID_MAX 128

/* Writes a fresh id into out (at least 29 bytes) and returns its length. */
size_t lx_request_id_new(char *out);

/* True if a client-supplied id is safe to echo and log: 1..128 bytes of
 * [A-Za-z0-9._:-]. */
bool lx_request_id_valid(const char *p, size_t n);

#endif
