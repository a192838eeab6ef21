/* secret.c - AES-256-GCM sealing with OpenSSL EVP. */
#include "core/secret.h"
#include "core/crypto.h"

#include <openssl/evp.h>

#define FORMAT 0x01

int lx_secret_seal(const unsigned char key[32], unsigned char key_version, const char *aad,
                   const void *plain, size_t n, lx_buf_t *out)
{
    unsigned char nonce[12], tag[16];
    lx_random_bytes(nonce, sizeof nonce);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL)
        return LX_ERROR;
    int len = 0,
        ok = EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) == 1 &&
             EVP_EncryptUpdate(ctx, NULL, &len, (const unsigned char *)aad, (int)strlen(aad)) == 1;
    size_t start = out->n;
    lx_buf_reserve(out, n + LX_SEAL_OVERHEAD);
    unsigned char *o = (unsigned char *)out->p + start;
    o[0] = FORMAT;
    o[1] = key_version;
    memcpy(o + 2, nonce, 12);
    int clen = 0, flen = 0;
    ok = ok && EVP_EncryptUpdate(ctx, o + 14, &clen, plain, (int)n) == 1 &&
         EVP_EncryptFinal_ex(ctx, o + 14 + clen, &flen) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok)
        return LX_ERROR;
    memcpy(o + 14 + clen + flen, tag, 16);
    out->n = start + 14 + (size_t)(clen + flen) + 16;
    out->p[out->n] = '\0';
    return LX_OK;
}

int lx_secret_open(const unsigned char key[32], const char *aad, const void *blob, size_t n,
                   lx_buf_t *out, unsigned char *key_version)
{
    const unsigned char *b = blob;
    if (n < LX_SEAL_OVERHEAD || b[0] != FORMAT)
        return LX_ERROR;
    size_t clen = n - LX_SEAL_OVERHEAD;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL)
        return LX_ERROR;
    size_t start = out->n;
    lx_buf_reserve(out, clen + 16);
    unsigned char *o = (unsigned char *)out->p + start;
    int len = 0, plen = 0, flen = 0;
    int ok =
        EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, b + 2) == 1 &&
        EVP_DecryptUpdate(ctx, NULL, &len, (const unsigned char *)aad, (int)strlen(aad)) == 1 &&
        EVP_DecryptUpdate(ctx, o, &plen, b + 14, (int)clen) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, (void *)(b + 14 + clen)) == 1 &&
        EVP_DecryptFinal_ex(ctx, o + plen, &flen) == 1;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) {
        explicit_bzero(o, clen);
        return LX_ERROR;
    }
    out->n = start + (size_t)(plen + flen);
    out->p[out->n] = '\0';
    if (key_version)
        *key_version = b[1];
    return LX_OK;
}

int lx_bytea_decode(const char *text, lx_buf_t *out)
{
    if (text[0] != '\\' || text[1] != 'x')
        return LX_ERROR;
    const char *h = text + 2;
    size_t n = strlen(h);
    if (n % 2)
        return LX_ERROR;
    lx_buf_reserve(out, n / 2);
    for (size_t i = 0; i < n; i += 2) {
        int a = lx_hex_digit(h[i]), b = lx_hex_digit(h[i + 1]);
        if (a < 0 || b < 0)
            return LX_ERROR;
        lx_buf_append_char(out, (char)(a * 16 + b));
    }
    return LX_OK;
}

void lx_bytea_encode(const void *p, size_t n, lx_buf_t *out)
{
    lx_buf_reserve(out, 2 + 2 * n);
    lx_buf_append(out, "\\x", 2);
    char *o = out->p + out->n;
    lx_hex(p, n, o);
    out->n += 2 * n;
    out->p[out->n] = '\0';
}
