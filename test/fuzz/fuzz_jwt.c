/* fuzz_jwt.c - the JWT verifier (src/core/jwt.c): each input is a token,
 * verified against a fixed key set (an HS256 secret under kid "hs" and
 * without kid, an RS256 and an ES256 public key from a JWKS) under two
 * policies. An input starting "JWKS\n" is instead a JWKS document for
 * lx_jwt_keyset_add_jwks (src/core/jwt_keys.c). The seed corpus was signed
 * with throwaway private keys whose public halves are below. */
#include "core/jwt.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char SECRET[] = "fuzz-hs256-secret-0123456789abcdef";
static const char JWKS[] =
    "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"rsa\",\"alg\":\"RS256\",\"use\":\"sig\",\"n\":"
    "\"kk1eAVs3eNOY9EL4Z_oyg1kN7cxqIOo2F8GZx_92d3KvlA-3CW2Q-"
    "Sp5QRFLgbUiEkyywDHYa7BTLd7swlZTBoSzNJUCQvhz_DzR46QaL09jUkaRxcRPQ6Xs7ROR45_"
    "Wwo003cHCK3aoRRfmHzhLyjTxtsB4LvZhhGyDhQSGFsCgujDOeckgC8ZZsWEFIFrit-4BE_fQBukNQpdsBTjO3QcDbrh_"
    "fMqBmqHqx3kJhV6_"
    "sobdORJ05PDkqjKxxiXmOM2tQGgWryLiem0zKS7K73Nkg0JEKL3UGn0vpNsJrvc3XMaY27Zkyyx3KGcwPtFVYaDg5SkZDa"
    "f3j8vlvFFoDQ\",\"e\":\"AQAB\"},{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"ec\",\"x\":\"KnC_"
    "OuUgNtPDJrHY4hZVlJXD4FtNg6LLBMH5dAD_sp4\",\"y\":\"s-5gZTwaGNr-c_"
    "GuW4jtaS1EmCEIAK5QLZKvgNLMih0\"}]}";

static lx_jwt_keyset_t *keys;

static void load_keys(void)
{
    char err[256];
    keys = lx_jwt_keyset_new();
    if (lx_jwt_keyset_add_hmac(keys, "hs", (const unsigned char *)SECRET, sizeof SECRET - 1, err,
                               sizeof err) != LX_OK ||
        lx_jwt_keyset_add_hmac(keys, NULL, (const unsigned char *)SECRET, sizeof SECRET - 1, err,
                               sizeof err) != LX_OK ||
        lx_jwt_keyset_add_jwks(keys, JWKS, sizeof JWKS - 1, err, sizeof err) != LX_OK)
        abort();
}

/* An accepted HS256 token must carry the HMAC of its signing input. */
static void check_hmac(const char *p, size_t n)
{
    const char *dot = memrchr(p, '.', n);
    unsigned char sig[64], mac[32];
    unsigned int mn = 0;
    if (dot == NULL ||
        lx_base64url_decode(dot + 1, n - (size_t)(dot + 1 - p), sig, sizeof sig) != 32)
        abort();
    HMAC(EVP_sha256(), SECRET, sizeof SECRET - 1, (const unsigned char *)p, (size_t)(dot - p), mac,
         &mn);
    if (memcmp(sig, mac, 32) != 0)
        abort();
}

static void check_result(int rc, const lx_jwt_result_t *r, const char *p, size_t n)
{
    if (r->message == NULL || (rc == LX_OK) != (r->reason == LX_JWT_OK))
        abort();
    if (rc != LX_OK) {
        if (r->message[0] == '\0' || r->user[0] || r->team[0] || r->role[0] || r->kid[0])
            abort();
        return;
    }
    size_t un = strnlen(r->user, sizeof r->user);
    if (un == 0 || un > LX_JWT_CLAIM_MAX || strnlen(r->team, sizeof r->team) > LX_JWT_CLAIM_MAX ||
        strnlen(r->role, sizeof r->role) > LX_JWT_CLAIM_MAX)
        abort();
    if (r->alg == LX_JWT_HS256)
        check_hmac(p, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    char err[256];
    if (size >= 5 && memcmp(p, "JWKS\n", 5) == 0) {
        lx_jwt_keyset_t *ks = lx_jwt_keyset_new();
        int rc = lx_jwt_keyset_add_jwks(ks, p + 5, size - 5, err, sizeof err);
        if ((rc == LX_OK) != (lx_jwt_keyset_count(ks) > 0) ||
            (rc != LX_OK && !memchr(err, 0, sizeof err)))
            abort();
        lx_jwt_keyset_free(ks);
        return 0;
    }
    if (keys == NULL)
        load_keys();
    static const lx_jwt_policy_t loose = {.leeway_s = 120};
    static const lx_jwt_policy_t strict = {.issuer = "https://idp.example",
                                           .audience = "llmux",
                                           .leeway_s = 60,
                                           .user_claim = "sub",
                                           .team_claim = "team",
                                           .role_claim = "role"};
    lx_jwt_result_t a, b;
    int ra = lx_jwt_verify(keys, &loose, p, size, 1700000000, &a);
    check_result(ra, &a, p, size);
    int rb = lx_jwt_verify(keys, &strict, p, size, 1700000000, &b);
    check_result(rb, &b, p, size);
    /* what the strict policy accepts, the loose one (no iss or aud, more
     * leeway) accepts too */
    if (rb == LX_OK && ra != LX_OK)
        abort();
    return 0;
}
