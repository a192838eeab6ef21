/* jwt.c - verifying a compact JWS: framing, header, signature (HS256, RS256,
 * ES256 on OpenSSL 3 EVP), then the registered and mapped claims. */
#include "core/jwt_int.h"

#include "core/crypto.h"
#include "core/json.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

static const struct {
    const char *name, *message;
} reasons[LX_JWT__COUNT] = {
    [LX_JWT_OK] = {"ok", ""},
    [LX_JWT_MALFORMED] = {"malformed", "the token is not a well-formed JWT"},
    [LX_JWT_UNSUPPORTED_ALG] = {"unsupported_alg",
                                "the token's signature algorithm is not accepted for its key"},
    [LX_JWT_BAD_SIGNATURE] = {"bad_signature", "the token's signature does not verify"},
    [LX_JWT_EXPIRED] = {"expired", "the token has expired"},
    [LX_JWT_NOT_YET_VALID] = {"not_yet_valid", "the token is not valid yet"},
    [LX_JWT_WRONG_ISSUER] = {"wrong_issuer", "the token's issuer is not accepted"},
    [LX_JWT_WRONG_AUDIENCE] = {"wrong_audience", "the token is not meant for this audience"},
    [LX_JWT_UNKNOWN_KID] = {"unknown_kid", "the token's key id matches no configured key"},
    [LX_JWT_MISSING_CLAIM] = {"missing_claim", "the token lacks a required claim"},
};

const char *lx_jwt_reason_name(lx_jwt_reason_t r)
{
    return (unsigned)r < LX_JWT__COUNT ? reasons[r].name : "unknown";
}

const char *lx_jwt_reason_message(lx_jwt_reason_t r)
{
    return (unsigned)r < LX_JWT__COUNT ? reasons[r].message : "";
}

/* Ends a verification: on a rejection the result keeps only the reason and
 * a message (msg, static, or the reason's default when NULL). */
static int finish(lx_jwt_result_t *out, lx_jwt_reason_t r, const char *msg)
{
    if (r != LX_JWT_OK)
        memset(out, 0, sizeof *out);
    out->reason = r;
    out->message = msg ? msg : lx_jwt_reason_message(r);
    return r == LX_JWT_OK ? LX_OK : LX_ERROR;
}

/* ---- signatures ---- */

/* One DER INTEGER of a 32-byte unsigned big-endian value; returns its size. */
static size_t der_integer(unsigned char *o, const unsigned char v[32])
{
    size_t i = 0;
    while (i < 31 && v[i] == 0)
        i++;
    size_t len = 32 - i, k = 0;
    bool pad = (v[i] & 0x80) != 0;
    o[k++] = 0x02;
    o[k++] = (unsigned char)(len + pad);
    if (pad)
        o[k++] = 0x00;
    memcpy(o + k, v + i, len);
    return k + len;
}

/* JOSE's raw r || s (RFC 7518 3.4) as the DER ECDSA-Sig-Value OpenSSL
 * verifies; at most 2 + 2 * 35 = 72 bytes. */
static size_t es256_der(unsigned char der[72], const unsigned char raw[64])
{
    size_t n = der_integer(der + 2, raw);
    n += der_integer(der + 2 + n, raw + 32);
    der[0] = 0x30;
    der[1] = (unsigned char)n;
    return n + 2;
}

static bool verify_pkey(EVP_PKEY *pkey, const unsigned char *sig, size_t sig_n, const char *data,
                        size_t n)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) == 1 &&
              EVP_DigestVerify(md, sig, sig_n, (const unsigned char *)data, n) == 1;
    EVP_MD_CTX_free(md);
    ERR_clear_error(); /* a failed verify leaves entries behind */
    return ok;
}

static bool verify_sig(const lx_jwt_key_t *k, const unsigned char *sig, size_t sig_n,
                       const char *data, size_t n)
{
    switch (k->alg) {
    case LX_JWT_HS256: {
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int mac_n = 0;
        if (sig_n != 32 || HMAC(EVP_sha256(), k->secret, (int)k->secret_n,
                                (const unsigned char *)data, n, mac, &mac_n) == NULL)
            return false;
        return mac_n == 32 && lx_ct_equal(mac, sig, 32);
    }
    case LX_JWT_RS256:
        return sig_n == (size_t)EVP_PKEY_get_size(k->pkey) &&
               verify_pkey(k->pkey, sig, sig_n, data, n);
    case LX_JWT_ES256: {
        unsigned char der[72];
        if (sig_n != 64)
            return false;
        return verify_pkey(k->pkey, der, es256_der(der, sig), data, n);
    }
    default:
        return false;
    }
}

/* ---- claims ---- */

#define DATE_LIMIT ((int64_t)1 << 52)

/* A NumericDate member: 0 absent, 1 read into *v (whole seconds, clamped to
 * +-2^52), -1 present but not a number. */
static int numeric_date(const json_t *obj, const char *name, int64_t *v)
{
    json_t *j = json_object_get(obj, name);
    if (j == NULL)
        return 0;
    if (json_is_integer(j)) {
        json_int_t i = json_integer_value(j);
        *v = i > DATE_LIMIT ? DATE_LIMIT : i < -DATE_LIMIT ? -DATE_LIMIT : (int64_t)i;
        return 1;
    }
    if (json_is_real(j)) {
        double d = json_real_value(j);
        *v = d >= (double)DATE_LIMIT    ? DATE_LIMIT
             : d <= -(double)DATE_LIMIT ? -DATE_LIMIT
                                        : (int64_t)d;
        if ((double)*v > d) /* floor for negative fractions */
            (*v)--;
        return 1;
    }
    return -1;
}

/* Copies a string claim into dst[LX_JWT_CLAIM_MAX + 1]: 0 absent, 1 copied,
 * -1 not a string, empty, too long or holding a NUL. */
static int string_claim(const json_t *obj, const char *name, char *dst)
{
    json_t *j = json_object_get(obj, name);
    if (j == NULL)
        return 0;
    if (!json_is_string(j))
        return -1;
    size_t n = json_string_length(j);
    const char *s = json_string_value(j);
    if (n == 0 || n > LX_JWT_CLAIM_MAX || memchr(s, '\0', n))
        return -1;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 1;
}

/* aud holds audience: 1 yes, 0 no, -1 malformed. */
static int audience_match(const json_t *aud, const char *audience)
{
    if (json_is_string(aud))
        return lx_str_eq_cstr((lx_str_t){json_string_value(aud), json_string_length(aud)},
                              audience);
    if (!json_is_array(aud) || json_array_size(aud) == 0)
        return -1;
    int found = 0;
    for (size_t i = 0; i < json_array_size(aud); i++) {
        json_t *a = json_array_get(aud, i);
        if (!json_is_string(a))
            return -1;
        if (lx_str_eq_cstr((lx_str_t){json_string_value(a), json_string_length(a)}, audience))
            found = 1;
    }
    return found;
}

static int64_t sat_add(int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b; /* b >= 0 */
}

static int check_claims(const json_t *c, const lx_jwt_policy_t *pol, int64_t now,
                        lx_jwt_result_t *out)
{
    int64_t leeway = pol->leeway_s < 0 ? 0 : LX_MIN(pol->leeway_s, (int64_t)86400 * 365);
    int64_t v = 0;
    int r = numeric_date(c, "exp", &out->exp);
    if (r < 0)
        return finish(out, LX_JWT_MALFORMED, "the token's exp is not a number");
    if (r == 0)
        return finish(out, LX_JWT_MISSING_CLAIM, "the token has no exp claim");
    if (now >= sat_add(out->exp, leeway))
        return finish(out, LX_JWT_EXPIRED, NULL);
    r = numeric_date(c, "nbf", &v);
    if (r < 0)
        return finish(out, LX_JWT_MALFORMED, "the token's nbf is not a number");
    if (r > 0 && sat_add(now, leeway) < v)
        return finish(out, LX_JWT_NOT_YET_VALID, NULL);
    r = numeric_date(c, "iat", &out->iat);
    if (r < 0)
        return finish(out, LX_JWT_MALFORMED, "the token's iat is not a number");
    if (r > 0 && sat_add(now, leeway) < out->iat)
        return finish(out, LX_JWT_NOT_YET_VALID, "the token was issued in the future");

    if (pol->issuer) {
        json_t *iss = json_object_get(c, "iss");
        if (iss == NULL)
            return finish(out, LX_JWT_MISSING_CLAIM, "the token has no iss claim");
        if (!json_is_string(iss))
            return finish(out, LX_JWT_MALFORMED, "the token's iss is not a string");
        if (!lx_str_eq_cstr((lx_str_t){json_string_value(iss), json_string_length(iss)},
                            pol->issuer))
            return finish(out, LX_JWT_WRONG_ISSUER, NULL);
    }
    if (pol->audience) {
        json_t *aud = json_object_get(c, "aud");
        if (aud == NULL)
            return finish(out, LX_JWT_MISSING_CLAIM, "the token has no aud claim");
        r = audience_match(aud, pol->audience);
        if (r < 0)
            return finish(out, LX_JWT_MALFORMED,
                          "the token's aud is not a string or an array of strings");
        if (r == 0)
            return finish(out, LX_JWT_WRONG_AUDIENCE, NULL);
    }

    r = string_claim(c, pol->user_claim ? pol->user_claim : "sub", out->user);
    if (r == 0)
        return finish(out, LX_JWT_MISSING_CLAIM, "the token has no user claim");
    if (r < 0)
        return finish(out, LX_JWT_MALFORMED, "the token's user claim is not a short string");
    if (string_claim(c, pol->team_claim ? pol->team_claim : "team", out->team) < 0)
        return finish(out, LX_JWT_MALFORMED, "the token's team claim is not a short string");
    if (string_claim(c, pol->role_claim ? pol->role_claim : "role", out->role) < 0)
        return finish(out, LX_JWT_MALFORMED, "the token's role claim is not a short string");
    return finish(out, LX_JWT_OK, NULL);
}

/* ---- the token ---- */

static lx_jwt_alg_t alg_of(lx_str_t s)
{
    if (lx_str_eq_cstr(s, "HS256"))
        return LX_JWT_HS256;
    if (lx_str_eq_cstr(s, "RS256"))
        return LX_JWT_RS256;
    if (lx_str_eq_cstr(s, "ES256"))
        return LX_JWT_ES256;
    return LX_JWT_ALG_NONE;
}

/* Reads the header: alg, kid; 0 or a rejection with its message. */
static lx_jwt_reason_t read_header(const unsigned char *p, size_t n, lx_jwt_result_t *out,
                                   const char **msg)
{
    char jerr[128];
    json_t *h = lx_json_parse((const char *)p, n, 4, jerr, sizeof jerr);
    lx_jwt_reason_t r = LX_JWT_MALFORMED;
    *msg = "the token's header is not a JSON object";
    if (!json_is_object(h))
        goto done;
    lx_str_t alg = lx_json_str(h, "alg");
    json_t *kid = json_object_get(h, "kid");
    *msg = "the token's header has no alg";
    if (alg.p == NULL)
        goto done;
    *msg = "the token's header has a kid that is not a short string";
    if (kid && (!json_is_string(kid) || json_string_length(kid) == 0 ||
                json_string_length(kid) > LX_JWT_KID_MAX ||
                memchr(json_string_value(kid), '\0', json_string_length(kid))))
        goto done;
    /* No extension is understood, so none may be critical (RFC 7515 4.1.11). */
    *msg = "the token's header lists critical extensions";
    if (json_object_get(h, "crit"))
        goto done;
    out->alg = alg_of(alg);
    if (out->alg == LX_JWT_ALG_NONE) {
        r = LX_JWT_UNSUPPORTED_ALG;
        *msg = "the token's alg is not HS256, RS256 or ES256";
        goto done;
    }
    if (kid)
        memcpy(out->kid, json_string_value(kid), json_string_length(kid) + 1);
    r = LX_JWT_OK;
    *msg = NULL;
done:
    json_decref(h);
    return r;
}

int lx_jwt_verify(const lx_jwt_keyset_t *ks, const lx_jwt_policy_t *pol, const char *token,
                  size_t n, int64_t now_s, lx_jwt_result_t *out)
{
    memset(out, 0, sizeof *out);
    if (n == 0 || n > LX_JWT_MAX_TOKEN)
        return finish(out, LX_JWT_MALFORMED, n ? "the token is too long" : NULL);
    const char *d1 = memchr(token, '.', n);
    const char *d2 = d1 ? memchr(d1 + 1, '.', (size_t)(token + n - d1 - 1)) : NULL;
    if (d2 == NULL || memchr(d2 + 1, '.', (size_t)(token + n - d2 - 1)))
        return finish(out, LX_JWT_MALFORMED, "a JWT has exactly three dot-separated parts");

    /* Every part decodes strictly; one buffer holds all three (base64url
     * only shrinks, so n bytes suffice). */
    unsigned char buf[LX_JWT_MAX_TOKEN];
    size_t hn = (size_t)(d1 - token), pn = (size_t)(d2 - d1 - 1), sn = (size_t)(token + n - d2 - 1);
    long h_len = lx_base64url_decode(token, hn, buf, sizeof buf);
    long p_len =
        h_len > 0 ? lx_base64url_decode(d1 + 1, pn, buf + h_len, sizeof buf - (size_t)h_len) : -1;
    long s_len = p_len > 0 ? lx_base64url_decode(d2 + 1, sn, buf + h_len + p_len,
                                                 sizeof buf - (size_t)(h_len + p_len))
                           : -1;
    /* An empty signature is left to the checks below (alg none has one). */
    if (s_len < 0)
        return finish(out, LX_JWT_MALFORMED,
                      "a JWT's parts are base64url without padding, header and payload not empty");
    const unsigned char *hdr = buf, *payload = buf + h_len, *sig = buf + h_len + p_len;

    const char *msg = NULL;
    lx_jwt_reason_t r = read_header(hdr, (size_t)h_len, out, &msg);
    if (r != LX_JWT_OK)
        return finish(out, r, msg);
    const lx_jwt_key_t *key = lx_jwt_keyset_select(ks, out->kid, strlen(out->kid), out->kid[0]);
    if (key == NULL)
        return finish(out, LX_JWT_UNKNOWN_KID,
                      out->kid[0] ? NULL : "the token names no key id and several keys are set");
    if (key->alg != out->alg)
        return finish(out, LX_JWT_UNSUPPORTED_ALG, "the token's alg is not its key's alg");
    if (!verify_sig(key, sig, (size_t)s_len, token, (size_t)(d2 - token)))
        return finish(out, LX_JWT_BAD_SIGNATURE, NULL);

    char jerr[128];
    json_t *claims = lx_json_parse((const char *)payload, (size_t)p_len, 16, jerr, sizeof jerr);
    int rc;
    if (!json_is_object(claims))
        rc = finish(out, LX_JWT_MALFORMED, "the token's payload is not a JSON object");
    else
        rc = check_claims(claims, pol, now_s, out);
    json_decref(claims);
    return rc;
}
