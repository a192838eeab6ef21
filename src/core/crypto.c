/* crypto.c - OpenSSL-backed helpers. */
/* SHA256_Init & co. are deprecated in OpenSSL 3 but remain its fastest
 * one-shot path for short inputs (see lx_sha256). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "core/crypto.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <sys/random.h>
#include <errno.h>

static bool is_b64_digit(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

long lx_base64_decode(const char *in, size_t n, unsigned char *out, size_t outcap)
{
    /* EVP_DecodeBlock skips whitespace and takes '=' anywhere, so the text is
     * checked here first and only whole groups of 4 digits are handed to it. */
    size_t pad = 0;
    while (pad < n && in[n - 1 - pad] == '=')
        pad++;
    size_t d = n - pad; /* digits */
    if (pad > 2 || d % 4 == 1 || (pad && (n % 4 || d == 0)))
        return -1;
    for (size_t i = 0; i < d; i++)
        if (!is_b64_digit((unsigned char)in[i]))
            return -1;
    size_t full = d / 4 * 4, rest = d % 4;
    size_t len = full / 4 * 3 + (rest ? rest - 1 : 0);
    if (len > outcap || len > LONG_MAX)
        return -1;
    unsigned char tail[4] = {'A', 'A', 'A', 'A'}, dec[3] = {0};
    if (rest) {
        memcpy(tail, in + full, rest);
        EVP_DecodeBlock(dec, tail, 4);
        OPENSSL_cleanse(tail, sizeof tail);
        if (dec[rest - 1] != 0) { /* unused low bits set: not the canonical text */
            OPENSSL_cleanse(dec, sizeof dec);
            return -1;
        }
    }
    for (size_t i = 0; i < full;) { /* in blocks, so the int length cannot overflow */
        size_t chunk = full - i < 4096 ? full - i : 4096;
        EVP_DecodeBlock(out + i / 4 * 3, (const unsigned char *)in + i, (int)chunk);
        i += chunk;
    }
    if (rest)
        memcpy(out + full / 4 * 3, dec, rest - 1);
    OPENSSL_cleanse(dec, sizeof dec);
    return (long)len;
}

size_t lx_base64_encode(const unsigned char *in, size_t n, char *out)
{
    return (size_t)EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

void lx_sha256(const void *p, size_t n, unsigned char out[32])
{
    /* The low-level calls, not SHA256(): in OpenSSL 3 that one goes through
     * EVP_Q_digest, which looks the algorithm up on every call (several
     * times the cost of hashing an API key). */
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, p, n);
    SHA256_Final(out, &c);
}

void lx_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void lx_random_bytes(void *p, size_t n)
{
    unsigned char *b = p;
    while (n > 0) {
        ssize_t r = getrandom(b, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            abort();
        }
        b += r;
        n -= (size_t)r;
    }
}

bool lx_ct_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

void lx_hmac_sha256(const void *key, size_t klen, const void *p, size_t n, unsigned char out[32])
{
    unsigned int len = 32;
    HMAC(EVP_sha256(), key, (int)klen, p, n, out, &len);
}
