/* jwt_keys.c - the JWT key set: HS256 secrets from configuration and public
 * keys from a JWKS document (RFC 7517), built once at start-up; strict
 * base64url. */
#include "core/jwt_int.h"

#include "core/json.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- base64url ---- */

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

long lx_base64url_decode(const char *in, size_t n, unsigned char *out, size_t outcap)
{
    if (n % 4 == 1)
        return -1;
    size_t len = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    if (len > outcap)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (b64url_value((unsigned char)in[i]) < 0)
            return -1;
    /* unused low bits of the last digit must be zero: one text per value */
    if (n % 4 == 2 && (b64url_value((unsigned char)in[n - 1]) & 0x0f))
        return -1;
    if (n % 4 == 3 && (b64url_value((unsigned char)in[n - 1]) & 0x03))
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 6) | (uint32_t)b64url_value((unsigned char)in[i]);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return (long)o;
}

/* ---- the set ---- */

lx_jwt_keyset_t *lx_jwt_keyset_new(void)
{
    return lx_calloc(1, sizeof(lx_jwt_keyset_t));
}

static void key_clear(lx_jwt_key_t *k)
{
    if (k->secret) {
        OPENSSL_cleanse(k->secret, k->secret_n);
        free(k->secret);
    }
    EVP_PKEY_free(k->pkey);
    memset(k, 0, sizeof *k);
}

void lx_jwt_keyset_free(lx_jwt_keyset_t *ks)
{
    if (ks == NULL)
        return;
    for (size_t i = 0; i < ks->n; i++)
        key_clear(&ks->keys[i]);
    free(ks->keys);
    free(ks);
}

size_t lx_jwt_keyset_count(const lx_jwt_keyset_t *ks)
{
    return ks ? ks->n : 0;
}

static const lx_jwt_key_t *find_kid(const lx_jwt_key_t *keys, size_t n, const char *kid,
                                    size_t kid_n)
{
    for (size_t i = 0; i < n; i++)
        if (keys[i].has_kid && strlen(keys[i].kid) == kid_n && memcmp(keys[i].kid, kid, kid_n) == 0)
            return &keys[i];
    return NULL;
}

const lx_jwt_key_t *lx_jwt_keyset_select(const lx_jwt_keyset_t *ks, const char *kid, size_t kid_n,
                                         bool has_kid)
{
    if (has_kid)
        return find_kid(ks->keys, ks->n, kid, kid_n);
    for (size_t i = 0; i < ks->n; i++)
        if (!ks->keys[i].has_kid)
            return &ks->keys[i];
    return ks->n == 1 ? &ks->keys[0] : NULL;
}

/* Appends k (taking its secret and pkey) to ks. */
static void push_key(lx_jwt_keyset_t *ks, const lx_jwt_key_t *k)
{
    if (ks->n == ks->cap) {
        ks->cap = ks->cap ? ks->cap * 2 : 4;
        ks->keys = lx_realloc(ks->keys, ks->cap * sizeof *ks->keys);
    }
    ks->keys[ks->n++] = *k;
}

/* Checks that kid (NULL: none) is well formed and new to ks; fills k->kid. */
static int set_kid(const lx_jwt_keyset_t *ks, lx_jwt_key_t *k, const char *kid, size_t kid_n,
                   char *err, size_t errlen)
{
    if (kid == NULL)
        return LX_OK;
    if (kid_n == 0 || kid_n > LX_JWT_KID_MAX || memchr(kid, '\0', kid_n)) {
        snprintf(err, errlen, "a key id must be 1 to %d bytes without NUL", LX_JWT_KID_MAX);
        return LX_ERROR;
    }
    if (find_kid(ks->keys, ks->n, kid, kid_n)) {
        snprintf(err, errlen, "key id \"%.*s\" appears twice", (int)kid_n, kid);
        return LX_ERROR;
    }
    memcpy(k->kid, kid, kid_n);
    k->kid[kid_n] = '\0';
    k->has_kid = true;
    return LX_OK;
}

static bool has_kidless(const lx_jwt_keyset_t *ks)
{
    for (size_t i = 0; i < ks->n; i++)
        if (!ks->keys[i].has_kid)
            return true;
    return false;
}

int lx_jwt_keyset_add_hmac(lx_jwt_keyset_t *ks, const char *kid, const unsigned char *secret,
                           size_t n, char *err, size_t errlen)
{
    lx_jwt_key_t k = {.alg = LX_JWT_HS256};
    if (n < LX_JWT_MIN_HMAC_SECRET) {
        snprintf(err, errlen, "an HS256 secret needs at least %d bytes", LX_JWT_MIN_HMAC_SECRET);
        return LX_ERROR;
    }
    if (set_kid(ks, &k, kid, kid ? strlen(kid) : 0, err, errlen) != LX_OK)
        return LX_ERROR;
    if (!k.has_kid && has_kidless(ks)) {
        snprintf(err, errlen, "only one key may have no key id");
        return LX_ERROR;
    }
    k.secret = lx_alloc(n);
    memcpy(k.secret, secret, n);
    k.secret_n = n;
    push_key(ks, &k);
    return LX_OK;
}

/* ---- JWKS ---- */

/* Decodes the base64url member name of jwk into out; -1 if absent or bad. */
static long member_b64(const json_t *jwk, const char *name, unsigned char *out, size_t cap)
{
    lx_str_t s = lx_json_str(jwk, name);
    if (s.p == NULL)
        return -1;
    return lx_base64url_decode(s.p, s.n, out, cap);
}

static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM_BLD *bld)
{
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    if (pkey) {
        /* for EC: the point is on the curve and not the identity */
        EVP_PKEY_CTX *check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
        bool ok = check && EVP_PKEY_public_check(check) == 1;
        EVP_PKEY_CTX_free(check);
        if (!ok) {
            EVP_PKEY_free(pkey);
            pkey = NULL;
        }
    }
    return pkey;
}

static EVP_PKEY *rsa_key(const json_t *jwk, const char **why)
{
    unsigned char n[1024], e[16];
    long nn = member_b64(jwk, "n", n, sizeof n), en = member_b64(jwk, "e", e, sizeof e);
    if (nn <= 0 || en <= 0) {
        *why = "n and e must be base64url (modulus up to 8192 bits)";
        return NULL;
    }
    BIGNUM *bn = BN_bin2bn(n, (int)nn, NULL), *be = BN_bin2bn(e, (int)en, NULL);
    EVP_PKEY *pkey = NULL;
    *why = "not a usable RSA public key";
    if (bn && be && BN_num_bits(bn) < LX_JWT_MIN_RSA_BITS) {
        *why = "the RSA modulus is shorter than " LX_STRINGIFY(LX_JWT_MIN_RSA_BITS) " bits";
    } else if (bn && be && BN_is_odd(be) && !BN_is_one(be)) {
        OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        if (bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
            pkey = pkey_from_params("RSA", bld);
        OSSL_PARAM_BLD_free(bld);
    }
    BN_free(bn);
    BN_free(be);
    return pkey;
}

static EVP_PKEY *ec_key(const json_t *jwk, const char **why)
{
    unsigned char pub[65];
    pub[0] = 0x04; /* uncompressed point: 04 || x || y */
    if (member_b64(jwk, "x", pub + 1, 32) != 32 || member_b64(jwk, "y", pub + 33, 32) != 32) {
        *why = "x and y must be 32 bytes of base64url each";
        return NULL;
    }
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    if (bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub))
        pkey = pkey_from_params("EC", bld);
    OSSL_PARAM_BLD_free(bld);
    if (pkey == NULL)
        *why = "x and y are not a point on P-256";
    return pkey;
}

/* 1: added to k, 0: skipped (a type llmux does not verify), -1: error. */
static int one_jwk(const lx_jwt_keyset_t *ks, const json_t *jwk, lx_jwt_key_t *k, char *err,
                   size_t errlen, size_t idx)
{
    if (!json_is_object(jwk)) {
        snprintf(err, errlen, "JWKS key %zu is not an object", idx);
        return -1;
    }
    lx_str_t kty = lx_json_str(jwk, "kty"), alg = lx_json_str(jwk, "alg"),
             use = lx_json_str(jwk, "use"), crv = lx_json_str(jwk, "crv");
    json_t *kid = json_object_get(jwk, "kid");
    if (kty.p == NULL || (json_object_get(jwk, "alg") && alg.p == NULL) ||
        (json_object_get(jwk, "use") && use.p == NULL) || (kid && !json_is_string(kid))) {
        snprintf(err, errlen, "JWKS key %zu: kty must be a string, and kid, alg, use strings", idx);
        return -1;
    }
    if (lx_str_eq_cstr(kty, "oct")) {
        snprintf(err, errlen, "JWKS key %zu: symmetric keys (kty oct) do not belong in a JWKS",
                 idx);
        return -1;
    }
    if (use.p && !lx_str_eq_cstr(use, "sig"))
        return 0;
    if (lx_str_eq_cstr(kty, "RSA"))
        k->alg = LX_JWT_RS256;
    else if (lx_str_eq_cstr(kty, "EC") && lx_str_eq_cstr(crv, "P-256"))
        k->alg = LX_JWT_ES256;
    else
        return 0;
    if (alg.p && !lx_str_eq_cstr(alg, k->alg == LX_JWT_RS256 ? "RS256" : "ES256"))
        return 0;
    if (kid && set_kid(ks, k, json_string_value(kid), json_string_length(kid), err, errlen) != 0) {
        size_t l = strlen(err);
        snprintf(err + l, errlen > l ? errlen - l : 0, " (JWKS key %zu)", idx);
        return -1;
    }
    if (kid == NULL && has_kidless(ks)) {
        snprintf(err, errlen, "JWKS key %zu: only one key may have no key id", idx);
        return -1;
    }
    const char *why = NULL;
    k->pkey = k->alg == LX_JWT_RS256 ? rsa_key(jwk, &why) : ec_key(jwk, &why);
    if (k->pkey == NULL) {
        snprintf(err, errlen, "JWKS key %zu: %s", idx, why);
        return -1;
    }
    return 1;
}

int lx_jwt_keyset_add_jwks(lx_jwt_keyset_t *ks, const char *p, size_t n, char *err, size_t errlen)
{
    char jerr[160];
    json_t *doc = lx_json_parse(p, n, 8, jerr, sizeof jerr);
    if (doc == NULL) {
        snprintf(err, errlen, "JWKS: %s", jerr);
        return LX_ERROR;
    }
    json_t *keys = json_object_get(doc, "keys");
    if (!json_is_array(keys)) {
        snprintf(err, errlen, "JWKS: \"keys\" must be an array");
        json_decref(doc);
        return LX_ERROR;
    }
    /* Keys go into the set as they are read (so a kid repeated inside the
     * document is found), and are taken out again on an error. */
    size_t first = ks->n;
    int rc = LX_OK;
    for (size_t i = 0; i < json_array_size(keys); i++) {
        lx_jwt_key_t k = {0};
        int r = one_jwk(ks, json_array_get(keys, i), &k, err, errlen, i);
        if (r < 0) {
            key_clear(&k);
            rc = LX_ERROR;
            break;
        }
        if (r > 0)
            push_key(ks, &k);
    }
    if (rc == LX_OK && ks->n == first) {
        snprintf(err, errlen, "JWKS: no RS256 or ES256 signing key in it");
        rc = LX_ERROR;
    }
    if (rc != LX_OK)
        while (ks->n > first)
            key_clear(&ks->keys[--ks->n]);
    json_decref(doc);
    return rc;
}
