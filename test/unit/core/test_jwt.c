/* test_jwt.c - unit tests for src/core/jwt.c and jwt_keys.c: tokens are made
 * here with OpenSSL (an HMAC secret, an RSA 2048 key and an EC P-256 key
 * generated at set-up), the JWKS from their public parts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/jwt.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>

#define NOW 1700000000LL

static const unsigned char SECRET[] = "0123456789abcdef0123456789abcdef-hs256";
static const unsigned char SECRET2[] = "another secret of at least 32 bytes!!";
static EVP_PKEY *rsa, *ec, *rsa_small;
static char jwks[4096];

/* ---- token making ---- */

static size_t b64url(const unsigned char *in, size_t n, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = a[(v >> 18) & 63];
        out[o++] = a[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = a[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = a[v & 63];
    }
    out[o] = '\0';
    return o;
}

static size_t b64url_str(const char *s, char *out)
{
    return b64url((const unsigned char *)s, strlen(s), out);
}

typedef enum { SIGN_HS, SIGN_HS2, SIGN_RS, SIGN_ES, SIGN_ES_DER, SIGN_EMPTY } signer_t;

static size_t sign_pkey(EVP_PKEY *k, const char *data, unsigned char *sig, size_t cap)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t n = cap;
    assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k), 1);
    assert_int_equal(EVP_DigestSign(md, sig, &n, (const unsigned char *)data, strlen(data)), 1);
    EVP_MD_CTX_free(md);
    return n;
}

static size_t sign(signer_t s, const char *data, unsigned char *sig)
{
    unsigned int n = 0;
    switch (s) {
    case SIGN_HS:
    case SIGN_HS2: {
        const unsigned char *key = s == SIGN_HS ? SECRET : SECRET2;
        size_t kn = s == SIGN_HS ? sizeof SECRET - 1 : sizeof SECRET2 - 1;
        HMAC(EVP_sha256(), key, (int)kn, (const unsigned char *)data, strlen(data), sig, &n);
        return n;
    }
    case SIGN_RS:
        return sign_pkey(rsa, data, sig, 512);
    case SIGN_ES_DER:
        return sign_pkey(ec, data, sig, 128);
    case SIGN_ES: {
        unsigned char der[128];
        size_t dn = sign_pkey(ec, data, der, sizeof der);
        const unsigned char *p = der;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)dn);
        assert_non_null(es);
        const BIGNUM *r, *sv;
        ECDSA_SIG_get0(es, &r, &sv);
        BN_bn2binpad(r, sig, 32);
        BN_bn2binpad(sv, sig + 32, 32);
        ECDSA_SIG_free(es);
        return 64;
    }
    case SIGN_EMPTY:
        return 0;
    }
    return 0;
}

/* A token with header {"alg":alg[,"kid":kid]} and payload, signed by s.
 * Returns a static buffer. */
static char *token_raw(const char *header, const char *payload, signer_t s)
{
    static char tok[16384];
    size_t o = b64url_str(header, tok);
    tok[o++] = '.';
    o += b64url_str(payload, tok + o);
    unsigned char sig[512];
    size_t sn = sign(s, tok, sig);
    tok[o++] = '.';
    b64url(sig, sn, tok + o);
    return tok;
}

static char *token(const char *alg, const char *kid, const char *payload, signer_t s)
{
    char header[256];
    if (kid)
        snprintf(header, sizeof header, "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}", alg,
                 kid);
    else
        snprintf(header, sizeof header, "{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);
    return token_raw(header, payload, s);
}

static const char *claims(long long exp)
{
    static char buf[512];
    snprintf(buf, sizeof buf,
             "{\"sub\":\"alice\",\"team\":\"research\",\"role\":\"viewer\",\"iss\":\"https://"
             "idp.example\",\"aud\":\"llmux\",\"iat\":%lld,\"exp\":%lld}",
             NOW - 10, exp);
    return buf;
}

/* ---- set-up: keys and their JWKS ---- */

static void bn_b64(EVP_PKEY *k, const char *param, size_t pad, char *out)
{
    BIGNUM *bn = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(k, param, &bn), 1);
    unsigned char bin[1024];
    size_t n = pad ? pad : (size_t)BN_num_bytes(bn);
    BN_bn2binpad(bn, bin, (int)n);
    b64url(bin, n, out);
    BN_free(bn);
}

static void rsa_jwk(EVP_PKEY *k, const char *kid, char *out, size_t cap)
{
    char n[1500], e[16];
    bn_b64(k, OSSL_PKEY_PARAM_RSA_N, 0, n);
    bn_b64(k, OSSL_PKEY_PARAM_RSA_E, 0, e);
    snprintf(out, cap,
             "{\"kty\":\"RSA\",\"kid\":\"%s\",\"use\":\"sig\",\"alg\":\"RS256\",\"n\":\"%s\",\"e\":"
             "\"%s\"}",
             kid, n, e);
}

static void ec_jwk(EVP_PKEY *k, const char *kid, char *out, size_t cap)
{
    char x[64], y[64];
    bn_b64(k, OSSL_PKEY_PARAM_EC_PUB_X, 32, x);
    bn_b64(k, OSSL_PKEY_PARAM_EC_PUB_Y, 32, y);
    snprintf(out, cap,
             "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"}", kid, x,
             y);
}

static int setup(void **state)
{
    (void)state;
    rsa = EVP_RSA_gen(2048);
    rsa_small = EVP_RSA_gen(1024);
    ec = EVP_EC_gen("P-256");
    if (!rsa || !ec || !rsa_small)
        return -1;
    char r[2048], e[512];
    rsa_jwk(rsa, "rsa-1", r, sizeof r);
    ec_jwk(ec, "ec-1", e, sizeof e);
    snprintf(jwks, sizeof jwks,
             "{\"keys\":[%s,%s,{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AAAA\"},"
             "{\"kty\":\"RSA\",\"use\":\"enc\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}",
             r, e);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(rsa_small);
    EVP_PKEY_free(ec);
    return 0;
}

/* A set with an HS256 key "hs-1", and the JWKS's RS256 "rsa-1" and ES256
 * "ec-1". */
static lx_jwt_keyset_t *full_set(void)
{
    char err[256] = "";
    lx_jwt_keyset_t *ks = lx_jwt_keyset_new();
    assert_int_equal(lx_jwt_keyset_add_hmac(ks, "hs-1", SECRET, sizeof SECRET - 1, err, sizeof err),
                     LX_OK);
    if (lx_jwt_keyset_add_jwks(ks, jwks, strlen(jwks), err, sizeof err) != LX_OK)
        fail_msg("jwks: %s", err);
    assert_int_equal(lx_jwt_keyset_count(ks), 3);
    return ks;
}

static const lx_jwt_policy_t POLICY = {
    .issuer = "https://idp.example",
    .audience = "llmux",
    .leeway_s = 0,
};

static lx_jwt_reason_t run(const lx_jwt_keyset_t *ks, const lx_jwt_policy_t *pol, const char *tok,
                           int64_t now, lx_jwt_result_t *res)
{
    int rc = lx_jwt_verify(ks, pol, tok, strlen(tok), now, res);
    assert_int_equal(rc, res->reason == LX_JWT_OK ? LX_OK : LX_ERROR);
    assert_non_null(res->message);
    if (res->reason != LX_JWT_OK) {
        /* a rejection says nothing of the token or its claims */
        assert_true(res->message[0] != '\0');
        assert_string_equal(res->user, "");
        assert_null(strstr(res->message, "alice"));
        assert_null(strstr(res->message, "eyJ"));
    }
    return res->reason;
}

static lx_jwt_reason_t check(const lx_jwt_keyset_t *ks, const char *tok, int64_t now)
{
    lx_jwt_result_t res;
    return run(ks, &POLICY, tok, now, &res);
}

/* ---- each algorithm accepted ---- */

static void accepted(const char *alg, const char *kid, signer_t s)
{
    lx_jwt_keyset_t *ks = full_set();
    lx_jwt_result_t res;
    assert_int_equal(run(ks, &POLICY, token(alg, kid, claims(NOW + 60), s), NOW, &res), LX_JWT_OK);
    assert_string_equal(res.user, "alice");
    assert_string_equal(res.team, "research");
    assert_string_equal(res.role, "viewer");
    assert_string_equal(res.kid, kid);
    assert_int_equal(res.exp, NOW + 60);
    assert_int_equal(res.iat, NOW - 10);
    assert_string_equal(res.message, "");
    lx_jwt_keyset_free(ks);
}

static void test_hs256_accepted(void **state)
{
    (void)state;
    accepted("HS256", "hs-1", SIGN_HS);
}

static void test_rs256_accepted(void **state)
{
    (void)state;
    accepted("RS256", "rsa-1", SIGN_RS);
}

static void test_es256_accepted(void **state)
{
    (void)state;
    accepted("ES256", "ec-1", SIGN_ES);
}

static void test_claim_names_configurable(void **state)
{
    (void)state;
    lx_jwt_keyset_t *ks = full_set();
    lx_jwt_policy_t pol = {.user_claim = "email", .team_claim = "org", .role_claim = "llmux_role"};
    lx_jwt_result_t res;
    const char *tok = token("HS256", "hs-1",
                            "{\"sub\":\"x\",\"email\":\"a@b.c\",\"org\":\"eng\","
                            "\"llmux_role\":\"admin\",\"exp\":1700000100}",
                            SIGN_HS);
    assert_int_equal(run(ks, &pol, tok, NOW, &res), LX_JWT_OK);
    assert_string_equal(res.user, "a@b.c");
    assert_string_equal(res.team, "eng");
    assert_string_equal(res.role, "admin");
    /* team and role are optional; the user claim is not */
    tok = token("HS256", "hs-1", "{\"email\":\"a@b.c\",\"exp\":1700000100}", SIGN_HS);
    assert_int_equal(run(ks, &pol, tok, NOW, &res), LX_JWT_OK);
    assert_string_equal(res.team, "");
    assert_string_equal(res.role, "");
    tok = token("HS256", "hs-1", "{\"sub\":\"x\",\"exp\":1700000100}", SIGN_HS);
    assert_int_equal(run(ks, &pol, tok, NOW, &res), LX_JWT_MISSING_CLAIM);
    /* a claim that is not a short string is refused, not cut or coerced */
    tok = token("HS256", "hs-1", "{\"email\":\"a@b.c\",\"org\":7,\"exp\":1700000100}", SIGN_HS);
    assert_int_equal(run(ks, &pol, tok, NOW, &res), LX_JWT_MALFORMED);
    char big[600];
    memset(big, 'u', 300);
    snprintf(big + 300, sizeof big - 300, "\",\"exp\":1700000100}");
    char payload[700];
    snprintf(payload, sizeof payload, "{\"email\":\"%s", big);
    assert_int_equal(run(ks, &pol, token("HS256", "hs-1", payload, SIGN_HS), NOW, &res),
                     LX_JWT_MALFORMED);
    lx_jwt_keyset_free(ks);
}

/* ---- framing ---- */

static void test_malformed_framing(void **state)
{
    (void)state;
    lx_jwt_keyset_t *ks = full_set();
    char good[16384], bad[16400];
    snprintf(good, sizeof good, "%s", token("HS256", "hs-1", claims(NOW + 60), SIGN_HS));
    assert_int_equal(check(ks, good, NOW), LX_JWT_OK);

    /* padding on the signature (32 bytes: 43 digits, padded to 44) */
    snprintf(bad, sizeof bad, "%s=", good);
    assert_int_equal(check(ks, bad, NOW), LX_JWT_MALFORMED);
    /* whitespace around or inside */
    snprintf(bad, sizeof bad, " %s", good);
    assert_int_equal(check(ks, bad, NOW), LX_JWT_MALFORMED);
    snprintf(bad, sizeof bad, "%s\n", good);
    assert_int_equal(check(ks, bad, NOW), LX_JWT_MALFORMED);
    /* an extra segment, and too few */
    snprintf(bad, sizeof bad, "%s.AAAA", good);
    assert_int_equal(check(ks, bad, NOW), LX_JWT_MALFORMED);
    char *dot = strrchr(good, '.');
    snprintf(bad, sizeof bad, "%.*s", (int)(dot - good), good);
    assert_int_equal(check(ks, bad, NOW), LX_JWT_MALFORMED);
    assert_int_equal(check(ks, "", NOW), LX_JWT_MALFORMED);
    assert_int_equal(check(ks, "..", NOW), LX_JWT_MALFORMED);
    /* standard base64 digits are not base64url */
    snprintf(bad, sizeof bad, "%s", good);
    bad[2] = '+';
    assert_int_equal(check(ks, bad, NOW), LX_JWT_MALFORMED);
    /* a header that is not an object, or lacks alg */
    assert_int_equal(check(ks, token_raw("[1]", claims(NOW + 60), SIGN_HS), NOW), LX_JWT_MALFORMED);
    assert_int_equal(check(ks, token_raw("{\"kid\":\"hs-1\"}", claims(NOW + 60), SIGN_HS), NOW),
                     LX_JWT_MALFORMED);
    /* critical extensions are not understood */
    assert_int_equal(
        check(ks,
              token_raw("{\"alg\":\"HS256\",\"kid\":\"hs-1\",\"crit\":[\"b64\"],\"b64\":false}",
                        claims(NOW + 60), SIGN_HS),
              NOW),
        LX_JWT_MALFORMED);
    /* a payload that is not JSON, though signed */
    assert_int_equal(check(ks, token("HS256", "hs-1", "{\"sub\":", SIGN_HS), NOW),
                     LX_JWT_MALFORMED);
    lx_jwt_keyset_free(ks);
}

static void test_oversized_token(void **state)
{
    (void)state;
    lx_jwt_keyset_t *ks = full_set();
    /* a validly signed token just over the cap is refused; one under passes */
    char payload[8192];
    for (size_t pad = 5900; pad < 6200; pad += 5) {
        snprintf(payload, sizeof payload, "{\"sub\":\"alice\",\"exp\":%lld,\"x\":\"%0*d\"}",
                 NOW + 60, (int)pad, 0);
        lx_jwt_policy_t pol = {0};
        lx_jwt_result_t res;
        const char *tok = token("HS256", "hs-1", payload, SIGN_HS);
        lx_jwt_reason_t want = strlen(tok) > LX_JWT_MAX_TOKEN ? LX_JWT_MALFORMED : LX_JWT_OK;
        assert_int_equal(run(ks, &pol, tok, NOW, &res), want);
    }
    lx_jwt_keyset_free(ks);
}

static void test_duplicate_json_keys(void **state)
{
    (void)state;
    lx_jwt_keyset_t *ks = full_set();
    /* two subs in a signed payload: which one would the caller act on? */
    assert_int_equal(
        check(ks,
              token("HS256", "hs-1",
                    "{\"sub\":\"alice\",\"sub\":\"root\",\"iss\":\"https://idp.example\","
                    "\"aud\":\"llmux\",\"exp\":1700000100}",
                    SIGN_HS),
              NOW),
        LX_JWT_MALFORMED);
    /* two algs in a header */
    assert_int_equal(check(ks,
                           token_raw("{\"alg\":\"HS256\",\"alg\":\"none\",\"kid\":\"hs-1\"}",
                                     claims(NOW + 60), SIGN_HS),
                           NOW),
                     LX_JWT_MALFORMED);
    lx_jwt_keyset_free(ks);
}

/* ---- algorithms ---- */

static void test_alg_none_and_unknown(void **state)
{
    (void)state;
    lx_jwt_keyset_t *ks = full_set();
    assert_int_equal(check(ks, token("none", "hs-1", claims(NOW + 60), SIGN_EMPTY), NOW),
                     LX_JWT_UNSUPPORTED_ALG);
    assert_int_equal(check(ks, token("none", NULL, claims(NOW + 60), SIGN_EMPTY), NOW),
                     LX_JWT_UNSUPPORTED_ALG);
    assert_int_equal(check(ks, token("NONE", "hs-1", claims(NOW + 60), SIGN_HS), NOW),
                     LX_JWT_UNSUPPORTED_ALG);
    assert_int_equal(check(ks, token("HS512", "hs-1", claims(NOW + 60), SIGN_HS), NOW),
                     LX_JWT_UNSUPPORTED_ALG);
    assert_int_equal(check(ks, token("hs256", "hs-1", claims(NOW + 60), SIGN_HS), NOW),
                     LX_JWT_UNSUPPORTED_ALG);
    lx_jwt_keyset_free(ks);
}

static void test_alg_confusion(void **state)
{
    (void)state;
    lx_jwt_keyset_t *ks = full_set();
    /* The attacker HMACs with the RSA key's public PEM as the secret. */
    BIO *bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PUBKEY(bio, rsa), 1);
    char *pem = NULL;
    long pem_n = BIO_get_mem_data(bio, &pem);
    char tok[16384];
    size_t o = b64url_str("{\"alg\":\"HS256\",\"kid\":\"rsa-1\"}", tok);
    tok[o++] = '.';
    o += b64url_str(claims(NOW + 60), tok + o);
    unsigned char mac[32];
    unsigned int mn = 0;
    HMAC(EVP_sha256(), pem, (int)pem_n, (unsigned char *)tok, o, mac, &mn);
    tok[o++] = '.';
    b64url(mac, mn, tok + o);
    assert_int_equal(check(ks, tok, NOW), LX_JWT_UNSUPPORTED_ALG);
    BIO_free(bio);
    /* and an RS256 token presented as ES256, an ES256 one as RS256 */
    assert_int_equal(check(ks, token("ES256", "rsa-1", claims(NOW + 60), SIGN_RS), NOW),
                     LX_JWT_UNSUPPORTED_ALG);
    assert_int_equal(check(ks, token("RS256", "ec-1", claims(NOW + 60), SIGN_ES), NOW),
                     LX_JWT_UNSUPPORTED_ALG);
    assert_int_equal(check(ks, token("RS256", "hs-1", claims(NOW + 60), SIGN_HS), NOW),
                     LX_JWT_UNSUPPORTED_ALG);
    lx_jwt_keyset_free(ks);
}

/* ---- signatures ---- */

static void flip_sig(char *tok)
{
    char *sig = strrchr(tok, '.') + 1;
    /* the first digit carries six whole bits: any change is a new value */
    sig[0] = sig[0] == 'A' ? 'B' : 'A';
}

static void test_bad_signature(void **state)
{
    (void)state;
    lx_jwt_keyset_t *ks = full_set();
    static const struct {
        const char *alg, *kid;
        signer_t s;
    } cases[] = {
        {"HS256", "hs-1", SIGN_HS}, {"RS256", "rsa-1", SIGN_RS}, {"ES256", "ec-1", SIGN_ES}};
    for (size_t i = 0; i < LX_ARRAY_LEN(cases); i++) {
        char *tok = token(cases[i].alg, cases[i].kid, claims(NOW + 60), cases[i].s);
        assert_int_equal(check(ks, tok, NOW), LX_JWT_OK);
        flip_sig(tok);
        assert_int_equal(check(ks, tok, NOW), LX_JWT_BAD_SIGNATURE);
        /* a signature of another payload */
        char other[16384];
        snprintf(other, sizeof other, "%s",
                 token(cases[i].alg, cases[i].kid, claims(NOW + 61), cases[i].s));
        tok = token(cases[i].alg, cases[i].kid, claims(NOW + 60), cases[i].s);
        char spliced[16384];
        snprintf(spliced, sizeof spliced, "%.*s%s", (int)(strrchr(tok, '.') - tok), tok,
                 strrchr(other, '.'));
        assert_int_equal(check(ks, spliced, NOW), LX_JWT_BAD_SIGNATURE);
        /* no signature at all */
        assert_int_equal(
            check(ks, token(cases[i].alg, cases[i].kid, claims(NOW + 60), SIGN_EMPTY), NOW),
            LX_JWT_BAD_SIGNATURE);
    }
    /* the right kid, another secret */
    assert_int_equal(check(ks, token("HS256", "hs-1", claims(NOW + 60), SIGN_HS2), NOW),
                     LX_JWT_BAD_SIGNATURE);
    lx_jwt_keyset_free(ks);
}

static void test_es256_signature_length(void **state)
{
    (void)state;
    lx_jwt_keyset_t *ks = full_set();
    /* OpenSSL's own DER form is not JOSE's raw r || s */
    assert_int_equal(check(ks, token("ES256", "ec-1", claims(NOW + 60), SIGN_ES_DER), NOW),
                     LX_JWT_BAD_SIGNATURE);
    /* a valid raw signature with a byte more or less */
    char tok[16384];
    snprintf(tok, sizeof tok, "%s", token("ES256", "ec-1", claims(NOW + 60), SIGN_ES));
    assert_int_equal(check(ks, tok, NOW), LX_JWT_OK);
    char *sig = strrchr(tok, '.') + 1;
    unsigned char raw[80];
    assert_int_equal(lx_base64url_decode(sig, strlen(sig), raw, sizeof raw), 64);
    raw[64] = 0;
    b64url(raw, 65, sig);
    assert_int_equal(check(ks, tok, NOW), LX_JWT_BAD_SIGNATURE);
    b64url(raw, 63, sig);
    assert_int_equal(check(ks, tok, NOW), LX_JWT_BAD_SIGNATURE);
    /* r = 0 and s = 0 */
    memset(raw, 0, 64);
    b64url(raw, 64, sig);
    assert_int_equal(check(ks, tok, NOW), LX_JWT_BAD_SIGNATURE);
    lx_jwt_keyset_free(ks);
}

/* ---- dates ---- */

static void test_exp_and_leeway(void **state)
{
    (void)state;
    lx_jwt_keyset_t *ks = full_set();
    lx_jwt_result_t res;
    const char *tok = token("HS256", "hs-1", claims(NOW), SIGN_HS);
    assert_int_equal(check(ks, tok, NOW - 1), LX_JWT_OK);
    assert_int_equal(check(ks, tok, NOW), LX_JWT_EXPIRED); /* on exp: expired */
    lx_jwt_policy_t pol = POLICY;
    pol.leeway_s = 30;
    assert_int_equal(run(ks, &pol, tok, NOW + 29, &res), LX_JWT_OK);
    assert_int_equal(run(ks, &pol, tok, NOW + 30, &res), LX_JWT_EXPIRED);
    /* a fractional exp counts by its whole second */
    tok = token("HS256", "hs-1", "{\"sub\":\"a\",\"exp\":1700000000.9}", SIGN_HS);
    lx_jwt_policy_t bare = {0};
    assert_int_equal(run(ks, &bare, tok, NOW - 1, &res), LX_JWT_OK);
    assert_int_equal(run(ks, &bare, tok, NOW, &res), LX_JWT_EXPIRED);
    /* huge and tiny values neither overflow nor wrap */
    tok = token("HS256", "hs-1", "{\"sub\":\"a\",\"exp\":1e300}", SIGN_HS);
    assert_int_equal(run(ks, &bare, tok, NOW, &res), LX_JWT_OK);
    tok = token("HS256", "hs-1", "{\"sub\":\"a\",\"exp\":9223372036854775807}", SIGN_HS);
    pol = bare;
    pol.leeway_s = INT64_MAX;
    assert_int_equal(run(ks, &pol, tok, INT64_MAX, &res), LX_JWT_EXPIRED);
    tok = token("HS256", "hs-1", "{\"sub\":\"a\",\"exp\":-1e300}", SIGN_HS);
    assert_int_equal(run(ks, &bare, tok, NOW, &res), LX_JWT_EXPIRED);
    /* exp is required and must be a number */
    tok = token("HS256", "hs-1", "{\"sub\":\"a\"}", SIGN_HS);
    assert_int_equal(run(ks, &bare, tok, NOW, &res), LX_JWT_MISSING_CLAIM);
    tok = token("HS256", "hs-1", "{\"sub\":\"a\",\"exp\":\"1800000000\"}", SIGN_HS);
    assert_int_equal(run(ks, &bare, tok, NOW, &res), LX_JWT_MALFORMED);
    lx_jwt_keyset_free(ks);
}

static void test_nbf_iat_and_leeway(void **state)
{
    (void)state;
    lx_jwt_keyset_t *ks = full_set();
    lx_jwt_result_t res;
    lx_jwt_policy_t pol = {0};
    char payload[256];
    snprintf(payload, sizeof payload, "{\"sub\":\"a\",\"exp\":%lld,\"nbf\":%lld}", NOW + 100, NOW);
    const char *tok = token("HS256", "hs-1", payload, SIGN_HS);
    assert_int_equal(run(ks, &pol, tok, NOW, &res), LX_JWT_OK);
    assert_int_equal(run(ks, &pol, tok, NOW - 1, &res), LX_JWT_NOT_YET_VALID);
    pol.leeway_s = 10;
    assert_int_equal(run(ks, &pol, tok, NOW - 10, &res), LX_JWT_OK);
    assert_int_equal(run(ks, &pol, tok, NOW - 11, &res), LX_JWT_NOT_YET_VALID);
    /* issued in the future, beyond the leeway */
    snprintf(payload, sizeof payload, "{\"sub\":\"a\",\"exp\":%lld,\"iat\":%lld}", NOW + 100,
             NOW + 10);
    tok = token("HS256", "hs-1", payload, SIGN_HS);
    assert_int_equal(run(ks, &pol, tok, NOW, &res), LX_JWT_OK);
    assert_int_equal(run(ks, &pol, tok, NOW - 1, &res), LX_JWT_NOT_YET_VALID);
    /* nbf of the wrong type */
    snprintf(payload, sizeof payload, "{\"sub\":\"a\",\"exp\":%lld,\"nbf\":null}", NOW + 100);
    assert_int_equal(run(ks, &pol, token("HS256", "hs-1", payload, SIGN_HS), NOW, &res),
                     LX_JWT_MALFORMED);
    lx_jwt_keyset_free(ks);
}

/* ---- issuer and audience ---- */

static const char *with_iss_aud(const char *iss_aud)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "{\"sub\":\"alice\",\"exp\":%lld%s}", NOW + 60, iss_aud);
    return token("HS256", "hs-1", buf, SIGN_HS);
}

static void test_issuer(void **state)
{
    (void)state;
    lx_jwt_keyset_t *ks = full_set();
    assert_int_equal(
        check(ks, with_iss_aud(",\"iss\":\"https://idp.example\",\"aud\":\"llmux\""), NOW),
        LX_JWT_OK);
    assert_int_equal(
        check(ks, with_iss_aud(",\"iss\":\"https://evil.example\",\"aud\":\"llmux\""), NOW),
        LX_JWT_WRONG_ISSUER);
    assert_int_equal(
        check(ks, with_iss_aud(",\"iss\":\"https://idp.example/\",\"aud\":\"llmux\""), NOW),
        LX_JWT_WRONG_ISSUER);
    assert_int_equal(check(ks, with_iss_aud(",\"aud\":\"llmux\""), NOW), LX_JWT_MISSING_CLAIM);
    assert_int_equal(
        check(ks, with_iss_aud(",\"iss\":[\"https://idp.example\"],\"aud\":\"llmux\""), NOW),
        LX_JWT_MALFORMED);
    /* without a configured issuer, any iss passes */
    lx_jwt_policy_t pol = {.audience = "llmux"};
    lx_jwt_result_t res;
    assert_int_equal(run(ks, &pol, with_iss_aud(",\"iss\":\"x\",\"aud\":\"llmux\""), NOW, &res),
                     LX_JWT_OK);
    lx_jwt_keyset_free(ks);
}

static void test_audience(void **state)
{
    (void)state;
    lx_jwt_keyset_t *ks = full_set();
    const char *iss = ",\"iss\":\"https://idp.example\"";
    char buf[256];
    static const struct {
        const char *aud;
        lx_jwt_reason_t want;
    } cases[] = {
        {",\"aud\":\"llmux\"", LX_JWT_OK},
        {",\"aud\":[\"other\",\"llmux\"]", LX_JWT_OK},
        {",\"aud\":[\"llmux\"]", LX_JWT_OK},
        {",\"aud\":\"other\"", LX_JWT_WRONG_AUDIENCE},
        {",\"aud\":\"llmux2\"", LX_JWT_WRONG_AUDIENCE},
        {",\"aud\":[\"other\",\"more\"]", LX_JWT_WRONG_AUDIENCE},
        {"", LX_JWT_MISSING_CLAIM},
        {",\"aud\":[]", LX_JWT_MALFORMED},
        {",\"aud\":[\"llmux\",3]", LX_JWT_MALFORMED},
        {",\"aud\":{\"llmux\":1}", LX_JWT_MALFORMED},
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(cases); i++) {
        snprintf(buf, sizeof buf, "%s%s", iss, cases[i].aud);
        lx_jwt_reason_t got = check(ks, with_iss_aud(buf), NOW);
        if (got != cases[i].want)
            fail_msg("aud %s: %s, want %s", cases[i].aud, lx_jwt_reason_name(got),
                     lx_jwt_reason_name(cases[i].want));
    }
    lx_jwt_keyset_free(ks);
}

/* ---- keys ---- */

static void test_kid_selection(void **state)
{
    (void)state;
    char err[256];
    lx_jwt_keyset_t *ks = full_set();
    assert_int_equal(
        lx_jwt_keyset_add_hmac(ks, "hs-2", SECRET2, sizeof SECRET2 - 1, err, sizeof err), LX_OK);
    assert_int_equal(check(ks, token("HS256", "hs-2", claims(NOW + 60), SIGN_HS2), NOW), LX_JWT_OK);
    assert_int_equal(check(ks, token("HS256", "hs-1", claims(NOW + 60), SIGN_HS), NOW), LX_JWT_OK);
    /* hs-1's signature under hs-2's name */
    assert_int_equal(check(ks, token("HS256", "hs-2", claims(NOW + 60), SIGN_HS), NOW),
                     LX_JWT_BAD_SIGNATURE);
    assert_int_equal(check(ks, token("HS256", "hs-3", claims(NOW + 60), SIGN_HS), NOW),
                     LX_JWT_UNKNOWN_KID);
    assert_int_equal(check(ks, token("RS256", "RSA-1", claims(NOW + 60), SIGN_RS), NOW),
                     LX_JWT_UNKNOWN_KID);
    /* no kid, and every key has one */
    assert_int_equal(check(ks, token("HS256", NULL, claims(NOW + 60), SIGN_HS), NOW),
                     LX_JWT_UNKNOWN_KID);
    /* a kid that is not a string */
    assert_int_equal(
        check(ks, token_raw("{\"alg\":\"HS256\",\"kid\":1}", claims(NOW + 60), SIGN_HS), NOW),
        LX_JWT_MALFORMED);
    /* a set's one key without kid takes the tokens without kid */
    assert_int_equal(lx_jwt_keyset_add_hmac(ks, NULL, SECRET2, sizeof SECRET2 - 1, err, sizeof err),
                     LX_OK);
    assert_int_equal(check(ks, token("HS256", NULL, claims(NOW + 60), SIGN_HS2), NOW), LX_JWT_OK);
    assert_int_equal(check(ks, token("HS256", NULL, claims(NOW + 60), SIGN_HS), NOW),
                     LX_JWT_BAD_SIGNATURE);
    assert_int_equal(lx_jwt_keyset_add_hmac(ks, NULL, SECRET, sizeof SECRET - 1, err, sizeof err),
                     LX_ERROR);
    lx_jwt_keyset_free(ks);

    /* a set of one key takes tokens without kid too */
    ks = lx_jwt_keyset_new();
    assert_int_equal(lx_jwt_keyset_add_hmac(ks, "only", SECRET, sizeof SECRET - 1, err, sizeof err),
                     LX_OK);
    assert_int_equal(check(ks, token("HS256", NULL, claims(NOW + 60), SIGN_HS), NOW), LX_JWT_OK);
    lx_jwt_keyset_free(ks);
}

static lx_rc_t load(const char *doc, char *err, size_t errlen)
{
    lx_jwt_keyset_t *ks = lx_jwt_keyset_new();
    int rc = lx_jwt_keyset_add_jwks(ks, doc, strlen(doc), err, errlen);
    if (rc != LX_OK)
        assert_int_equal(lx_jwt_keyset_count(ks), 0);
    lx_jwt_keyset_free(ks);
    return rc;
}

static void test_keyset_loading(void **state)
{
    (void)state;
    char err[256], doc[4096], r[2048], e[512];
    lx_jwt_keyset_t *ks = lx_jwt_keyset_new();
    /* short HMAC secrets, duplicate kids */
    assert_int_equal(
        lx_jwt_keyset_add_hmac(ks, "k", (const unsigned char *)"short", 5, err, sizeof err),
        LX_ERROR);
    assert_null(strstr(err, "short"));
    assert_int_equal(lx_jwt_keyset_add_hmac(ks, "k", SECRET, sizeof SECRET - 1, err, sizeof err),
                     LX_OK);
    assert_int_equal(lx_jwt_keyset_add_hmac(ks, "k", SECRET2, sizeof SECRET2 - 1, err, sizeof err),
                     LX_ERROR);
    rsa_jwk(rsa, "k", r, sizeof r);
    snprintf(doc, sizeof doc, "{\"keys\":[%s]}", r);
    assert_int_equal(lx_jwt_keyset_add_jwks(ks, doc, strlen(doc), err, sizeof err), LX_ERROR);
    assert_int_equal(lx_jwt_keyset_count(ks), 1);
    lx_jwt_keyset_free(ks);

    assert_int_equal(load(jwks, err, sizeof err), LX_OK);
    /* a kid twice in one document */
    rsa_jwk(rsa, "same", r, sizeof r);
    ec_jwk(ec, "same", e, sizeof e);
    snprintf(doc, sizeof doc, "{\"keys\":[%s,%s]}", r, e);
    assert_int_equal(load(doc, err, sizeof err), LX_ERROR);
    /* an RSA modulus under 2048 bits */
    rsa_jwk(rsa_small, "small", r, sizeof r);
    snprintf(doc, sizeof doc, "{\"keys\":[%s]}", r);
    assert_int_equal(load(doc, err, sizeof err), LX_ERROR);
    assert_non_null(strstr(err, "2048"));
    /* a point off the curve: y + 1 */
    ec_jwk(ec, "ec", e, sizeof e);
    char *y = strstr(e, "\"y\":\"") + 5;
    y[10] = y[10] == 'A' ? 'B' : 'A';
    snprintf(doc, sizeof doc, "{\"keys\":[%s]}", e);
    assert_int_equal(load(doc, err, sizeof err), LX_ERROR);
    /* a symmetric key in a JWKS */
    assert_int_equal(load("{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}]}", err, sizeof err),
                     LX_ERROR);
    assert_null(strstr(err, "c2VjcmV0"));
    /* nothing usable: an encryption key, an unsupported curve, another alg */
    assert_int_equal(load("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"A\",\"y\":\"A\"}]}",
                          err, sizeof err),
                     LX_ERROR);
    rsa_jwk(rsa, "enc", r, sizeof r);
    char *sig = strstr(r, "\"sig\"");
    memcpy(sig, "\"enc\"", 5);
    snprintf(doc, sizeof doc, "{\"keys\":[%s]}", r);
    assert_int_equal(load(doc, err, sizeof err), LX_ERROR);
    rsa_jwk(rsa, "ps", r, sizeof r);
    memcpy(strstr(r, "RS256"), "PS256", 5);
    snprintf(doc, sizeof doc, "{\"keys\":[%s]}", r);
    assert_int_equal(load(doc, err, sizeof err), LX_ERROR);
    /* not a JWKS, duplicate keys in it */
    assert_int_equal(load("{\"keys\":{}}", err, sizeof err), LX_ERROR);
    assert_int_equal(load("[]", err, sizeof err), LX_ERROR);
    rsa_jwk(rsa, "d", r, sizeof r);
    snprintf(doc, sizeof doc, "{\"keys\":[%s],\"keys\":[]}", r);
    assert_int_equal(load(doc, err, sizeof err), LX_ERROR);
    /* x of the wrong length */
    assert_int_equal(load("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAA\",\"y\":"
                          "\"AAAA\"}]}",
                          err, sizeof err),
                     LX_ERROR);
}

/* ---- the rest ---- */

static void test_reason_names_distinct(void **state)
{
    (void)state;
    static const char *want[] = {
        "ok",          "malformed",     "unsupported_alg", "bad_signature",
        "expired",     "not_yet_valid", "wrong_issuer",    "wrong_audience",
        "unknown_kid", "missing_claim"};
    assert_int_equal(LX_ARRAY_LEN(want), LX_JWT__COUNT);
    for (int i = 0; i < LX_JWT__COUNT; i++) {
        assert_string_equal(lx_jwt_reason_name((lx_jwt_reason_t)i), want[i]);
        for (int j = 1; j < i; j++)
            assert_string_not_equal(lx_jwt_reason_message((lx_jwt_reason_t)i),
                                    lx_jwt_reason_message((lx_jwt_reason_t)j));
    }
    assert_string_equal(lx_jwt_reason_name(LX_JWT__COUNT), "unknown");
}

static void test_base64url_strict(void **state)
{
    (void)state;
    unsigned char out[16];
    assert_int_equal(lx_base64url_decode("Zm9vYmFy", 8, out, sizeof out), 6);
    assert_memory_equal(out, "foobar", 6);
    assert_int_equal(lx_base64url_decode("Zg", 2, out, sizeof out), 1);
    assert_int_equal(lx_base64url_decode("Zm8", 3, out, sizeof out), 2);
    assert_int_equal(lx_base64url_decode("-_-_", 4, out, sizeof out), 3);
    assert_int_equal(out[0], 0xfb);
    assert_int_equal(lx_base64url_decode("", 0, out, sizeof out), 0);
    assert_int_equal(lx_base64url_decode("Zg==", 4, out, sizeof out), -1);
    assert_int_equal(lx_base64url_decode("Zm9v\n", 5, out, sizeof out), -1);
    assert_int_equal(lx_base64url_decode("Zm 9", 4, out, sizeof out), -1);
    assert_int_equal(lx_base64url_decode("+/+/", 4, out, sizeof out), -1);
    assert_int_equal(lx_base64url_decode("Z", 1, out, sizeof out), -1);
    assert_int_equal(lx_base64url_decode("Zh", 2, out, sizeof out), -1); /* unused bits set */
    assert_int_equal(lx_base64url_decode("Zm9", 3, out, sizeof out), -1);
    assert_int_equal(lx_base64url_decode("Zm9vYmFy", 8, out, 5), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hs256_accepted),
        cmocka_unit_test(test_rs256_accepted),
        cmocka_unit_test(test_es256_accepted),
        cmocka_unit_test(test_claim_names_configurable),
        cmocka_unit_test(test_malformed_framing),
        cmocka_unit_test(test_oversized_token),
        cmocka_unit_test(test_duplicate_json_keys),
        cmocka_unit_test(test_alg_none_and_unknown),
        cmocka_unit_test(test_alg_confusion),
        cmocka_unit_test(test_bad_signature),
        cmocka_unit_test(test_es256_signature_length),
        cmocka_unit_test(test_exp_and_leeway),
        cmocka_unit_test(test_nbf_iat_and_leeway),
        cmocka_unit_test(test_issuer),
        cmocka_unit_test(test_audience),
        cmocka_unit_test(test_kid_selection),
        cmocka_unit_test(test_keyset_loading),
        cmocka_unit_test(test_reason_names_distinct),
        cmocka_unit_test(test_base64url_strict),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
