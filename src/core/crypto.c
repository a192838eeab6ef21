/* crypto.c - OpenSSL-backed helpers. */
#include "core/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <sys/random.h>
#include <errno.h>

long lx_base64_decode(const char *in, size_t n, unsigned char *out, size_t outcap)
{
    if (n == 0)
        return 0;
    /* EVP_DecodeBlock wants padded input and reports padding as zero bytes. */
    size_t padded = (n + 3) / 4 * 4;
    if (padded > 4096)
        return -1;
    char tmp[4096];
    memcpy(tmp, in, n);
    for (size_t i = n; i < padded; i++)
        tmp[i] = '=';
    size_t pad = 0;
    for (size_t i = padded; i > 0 && tmp[i - 1] == '='; i--)
        pad++;
    if (pad > 2)
        return -1;
    unsigned char dec[3072];
    int len = EVP_DecodeBlock(dec, (const unsigned char *)tmp, (int)padded);
    if (len < 0)
        return -1;
    len -= (int)pad;
    if ((size_t)len > outcap)
        return -1;
    memcpy(out, dec, (size_t)len);
    OPENSSL_cleanse(dec, sizeof dec);
    OPENSSL_cleanse(tmp, sizeof tmp);
    return len;
}

size_t lx_base64_encode(const unsigned char *in, size_t n, char *out)
{
    return (size_t)EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

void lx_sha256(const void *p, size_t n, unsigned char out[32])
{
    SHA256(p, n, out);
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
