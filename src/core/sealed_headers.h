/* sealed_headers.h - a provider's extra_headers at rest.
 *
 * Header values may carry tokens (an OpenAI-Organization, a
 * cf-access-token, an Authorization for a self-hosted proxy), so they are
 * stored like credentials (secret.h): the headers' JSON object text sealed
 * with the master key, the AAD binding the blob to its provider row
 * ("ai_providers.extra_headers:<id>"). Only the names stay readable (in
 * ai_providers.extra_header_names). Caller owns all buffers. */
#ifndef LX_CORE_SEALED_HEADERS_H
#define LX_CORE_SEALED_HEADERS_H

#include "core/buf.h"
#include "core/config.h"

#define LX_HEADERS_KEY_VERSION 1 /* of a fresh seal; a rotation adds one */

/* The AAD that binds a provider's sealed headers to its row. */
void lx_headers_aad(int64_t provider_id, char *out, size_t outlen);

/* Seals json (the headers' object text) for provider_id with key and
 * appends it to hex in Postgres' bytea text form ("\x..."). */
int lx_headers_seal_hex(const unsigned char key[32], int64_t provider_id, const char *json,
                        lx_buf_t *hex);

/* Opens a sealed blob with cfg's master key, else its old key (a blob
 * sealed before a rotation): appends the JSON text to out. LX_ERROR if
 * neither opens it (or no key is configured); out then holds nothing. The
 * caller zeroes out when done. */
int lx_headers_open(const lx_config_t *cfg, int64_t provider_id, const void *blob, size_t n,
                    lx_buf_t *out);

/* Adds the headers of a JSON object text (may be NULL or unreadable:
 * nothing is added) to conf's extra headers, copies owned by conf, up to
 * LX_MAX_EXTRA_HEADERS; values that are not strings are skipped. */
void lx_headers_add_from_json(lx_provider_conf_t *conf, const char *text);

/* True when text (extra_headers::text, may be NULL) holds no header. */
bool lx_headers_json_empty(const char *text);

#endif
