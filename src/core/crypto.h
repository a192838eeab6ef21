/* crypto.h - hashing, encodings and randomness on OpenSSL.
 *
 * All functions write into caller-owned buffers; none keeps a pointer. */
#ifndef LX_CORE_CRYPTO_H
#define LX_CORE_CRYPTO_H

#include "core/common.h"

/* Decodes standard base64 of any length, strictly: only A-Z a-z 0-9 + /, then
 * either no padding or exactly the '=' that completes the last group of 4; no
 * whitespace, and unused bits of the last digit must be zero (so each value
 * has one text). Returns the decoded length, or -1 on bad input or if out
 * (outcap bytes) is too small; on -1 nothing has been written to out. */
long lx_base64_decode(const char *in, size_t n, unsigned char *out, size_t outcap);
/* Encodes into out (needs 4*ceil(n/3)+1 bytes); returns the length written. */
size_t lx_base64_encode(const unsigned char *in, size_t n, char *out);

void lx_sha256(const void *p, size_t n, unsigned char out[32]);
void lx_hex(const unsigned char *in, size_t n, char *out); /* out: 2n+1 bytes */
/* HMAC-SHA256 of p (n bytes) under key (klen bytes). */
void lx_hmac_sha256(const void *key, size_t klen, const void *p, size_t n, unsigned char out[32]);

/* Fills p with cryptographically random bytes; aborts if the kernel cannot. */
void lx_random_bytes(void *p, size_t n);

/* Compares in time that depends only on n. */
bool lx_ct_equal(const void *a, const void *b, size_t n);

#endif
