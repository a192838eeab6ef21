/* jwt_int.h - the inside of a JWT key set, shared by jwt.c (verification)
 * and jwt_keys.c (building the set) only.
 *
 * Ownership: the key set owns its array of keys, each key's secret copy and
 * its EVP_PKEY; all are freed by lx_jwt_keyset_free. */
#ifndef LX_CORE_JWT_INT_H
#define LX_CORE_JWT_INT_H

#include "core/jwt.h"

#include <openssl/types.h>

typedef struct {
    char kid[LX_JWT_KID_MAX + 1];
    bool has_kid;
    lx_jwt_alg_t alg;
    unsigned char *secret; /* HS256: the secret's copy */
    size_t secret_n;
    EVP_PKEY *pkey; /* RS256 / ES256: the public key */
} lx_jwt_key_t;

struct lx_jwt_keyset {
    lx_jwt_key_t *keys;
    size_t n, cap;
};

/* The key a token selects (see lx_jwt_verify): by kid when has_kid, else the
 * set's key without kid, else its only key. NULL when none fits. Borrowed
 * from ks. */
const lx_jwt_key_t *lx_jwt_keyset_select(const lx_jwt_keyset_t *ks, const char *kid, size_t kid_n,
                                         bool has_kid);

#endif
