/* secret.h - credentials at rest: AES-256-GCM with the master key.
 *
 * A sealed blob is: 0x01 (format) | key version (1 byte) | nonce (12) |
 * ciphertext | tag (16). The AAD binds the blob to where it is stored
 * (e.g. "ai_connections.credential:42"), so a blob copied to another row
 * or column does not open. Every failure is the same single error: nothing
 * tells a wrong key from a tampered blob. Caller owns all buffers. */
#ifndef LX_CORE_SECRET_H
#define LX_CORE_SECRET_H

#include "core/buf.h"

#define LX_SEAL_OVERHEAD (2 + 12 + 16)

/* Appends the sealed form of plain to out. */
int lx_secret_seal(const unsigned char key[32], unsigned char key_version, const char *aad,
                   const void *plain, size_t n, lx_buf_t *out);
/* Appends the plaintext to out (NUL-terminated by lx_buf). LX_ERROR if the
 * blob does not open with this key and AAD. *key_version receives the
 * blob's version when not NULL. */
int lx_secret_open(const unsigned char key[32], const char *aad, const void *blob, size_t n,
                   lx_buf_t *out, unsigned char *key_version);

/* Hex of Postgres' bytea text form ("\x0102...") <-> bytes. */
int lx_bytea_decode(const char *text, lx_buf_t *out);
void lx_bytea_encode(const void *p, size_t n, lx_buf_t *out);

#endif
