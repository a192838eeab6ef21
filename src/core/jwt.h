/* jwt.h - verification of compact JWS tokens (JWTs) signed with HS256,
 * RS256 or ES256, against a key set built once at start-up.
 *
 * Ownership: a key set (lx_jwt_keyset_t) is built by the start-up thread
 * with lx_jwt_keyset_new and the add functions, then only read: any number
 * of threads may call lx_jwt_verify on it at once, without a lock, until the
 * one lx_jwt_keyset_free. Adding keys after the first verify is not allowed.
 * lx_jwt_verify keeps no pointer to the token, the policy or the result;
 * the result holds copies of the claims it reports (fixed-size arrays), and
 * its message is static text. The verifier reads no clock: the caller
 * passes the time. Nothing here logs; no message ever contains the token,
 * a claim's value or a secret, so every message is safe to show a client. */
#ifndef LX_CORE_JWT_H
#define LX_CORE_JWT_H

#include "core/common.h"

/* Tokens longer than this are refused as malformed before any decoding. */
#define LX_JWT_MAX_TOKEN 8192
/* HS256 secrets shorter than this are refused at start-up (RFC 7518 3.2). */
#define LX_JWT_MIN_HMAC_SECRET 32
/* RSA keys with a smaller modulus are refused at start-up. */
#define LX_JWT_MIN_RSA_BITS 2048
/* Longest user, team or role value reported (bytes, without the NUL); a
 * longer value is refused as malformed rather than cut. */
#define LX_JWT_CLAIM_MAX 255
#define LX_JWT_KID_MAX   127

typedef enum {
    LX_JWT_OK = 0,
    LX_JWT_MALFORMED,       /* not a compact JWS of base64url JSON objects */
    LX_JWT_UNSUPPORTED_ALG, /* alg none, unknown, or not the key's alg */
    LX_JWT_BAD_SIGNATURE,
    LX_JWT_EXPIRED,       /* now >= exp + leeway */
    LX_JWT_NOT_YET_VALID, /* now + leeway < nbf, or iat in the future */
    LX_JWT_WRONG_ISSUER,
    LX_JWT_WRONG_AUDIENCE,
    LX_JWT_UNKNOWN_KID,
    LX_JWT_MISSING_CLAIM, /* exp, the user claim, or iss/aud when required */
    LX_JWT__COUNT
} lx_jwt_reason_t;

typedef enum {
    LX_JWT_ALG_NONE = 0, /* no algorithm: never accepted */
    LX_JWT_HS256,
    LX_JWT_RS256,
    LX_JWT_ES256,
} lx_jwt_alg_t;

/* Stable machine name of a reason ("malformed", "bad_signature", ...). */
const char *lx_jwt_reason_name(lx_jwt_reason_t r);
/* Short default message of a reason, safe to show a client. */
const char *lx_jwt_reason_message(lx_jwt_reason_t r);

typedef struct lx_jwt_keyset lx_jwt_keyset_t;

lx_jwt_keyset_t *lx_jwt_keyset_new(void);
void lx_jwt_keyset_free(lx_jwt_keyset_t *ks);
/* Number of keys in the set. */
size_t lx_jwt_keyset_count(const lx_jwt_keyset_t *ks);

/* Adds an HS256 secret (copied; at least LX_JWT_MIN_HMAC_SECRET bytes) under
 * kid (copied; NULL for a key that tokens select by having no kid). Returns
 * LX_ERROR with a reason in err (never the secret) if the secret is short,
 * the kid is too long or already in the set. */
int lx_jwt_keyset_add_hmac(lx_jwt_keyset_t *ks, const char *kid, const unsigned char *secret,
                           size_t n, char *err, size_t errlen);

/* Adds the public keys of a JWKS document (RFC 7517; p[0..n) is read, not
 * kept): {"keys": [...]} with kty RSA (n, e) or kty EC with crv P-256 (x, y),
 * each with an optional kid, alg (RS256 or ES256, must fit the kty) and use
 * (must be "sig" when present). Keys of another kty, crv, alg or use are
 * skipped; a key that claims a supported type but is broken (bad base64url,
 * a point not on the curve, an RSA modulus under LX_JWT_MIN_RSA_BITS), a
 * symmetric key (kty oct) and a duplicate kid are errors. The whole call
 * fails (nothing added) on an error, or if no key was usable. */
int lx_jwt_keyset_add_jwks(lx_jwt_keyset_t *ks, const char *p, size_t n, char *err, size_t errlen);

/* What a verification checks besides the signature. Strings are borrowed
 * for the call only. */
typedef struct {
    const char *issuer;     /* non-NULL: iss must be present and equal */
    const char *audience;   /* non-NULL: aud (string or array) must hold it */
    int64_t leeway_s;       /* allowed clock skew for exp, nbf and iat (>= 0) */
    const char *user_claim; /* NULL: "sub"; required */
    const char *team_claim; /* NULL: "team"; optional */
    const char *role_claim; /* NULL: "role"; optional */
} lx_jwt_policy_t;

typedef struct {
    lx_jwt_reason_t reason; /* LX_JWT_OK when accepted */
    const char *message;    /* static, client-safe; "" when accepted */
    lx_jwt_alg_t alg;
    char kid[LX_JWT_KID_MAX + 1]; /* "" when the token named none */
    char user[LX_JWT_CLAIM_MAX + 1];
    char team[LX_JWT_CLAIM_MAX + 1]; /* "" when absent */
    char role[LX_JWT_CLAIM_MAX + 1]; /* "" when absent */
    int64_t exp;                     /* seconds since the epoch */
    int64_t iat;                     /* 0 when absent */
} lx_jwt_result_t;

/* Verifies token[0..n) (the bytes after "Bearer ") at time now_s (seconds
 * since the epoch) against ks and pol. Key choice: the token's kid selects
 * the key with that kid; a token without kid uses the set's one key without
 * kid, or else its only key. The token's alg must be the key's alg (so a
 * public key is never used as an HMAC secret). Returns LX_OK with *out filled,
 * or LX_ERROR with out->reason and out->message set and the claims empty. */
int lx_jwt_verify(const lx_jwt_keyset_t *ks, const lx_jwt_policy_t *pol, const char *token,
                  size_t n, int64_t now_s, lx_jwt_result_t *out);

/* Strict base64url without padding (RFC 7515 2): only A-Z a-z 0-9 - _, no
 * '=', no whitespace, length % 4 != 1, unused bits of the last digit zero.
 * Returns the decoded length, or -1 on bad input or if outcap is too small. */
long lx_base64url_decode(const char *in, size_t n, unsigned char *out, size_t outcap);

#endif
