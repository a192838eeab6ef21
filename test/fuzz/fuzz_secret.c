/* fuzz_secret.c - the credential decoders: base64 (src/core/crypto.c, the
 * master key's form), Postgres bytea text (src/core/secret.c) and sealed
 * blobs (lx_secret_open), with a seal/open round trip of the input. */
#include "core/crypto.h"
#include "core/secret.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned char KEY[32] = "0123456789abcdef0123456789abcde";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;

    /* base64: what decodes must encode back to the same text. */
    size_t cap = size / 4 * 3 + 3;
    unsigned char *dec = malloc(cap);
    long n = lx_base64_decode(p, size, dec, cap);
    if (n > (long)cap)
        abort();
    if (n >= 0) {
        char *enc = malloc((size_t)n / 3 * 4 + 5);
        size_t m = lx_base64_encode(dec, (size_t)n, enc);
        /* The encoder pads; the decoder also takes unpadded text. */
        if (m < size || memcmp(enc, p, size) != 0)
            abort();
        free(enc);
    }
    free(dec);

    /* bytea text form: NUL-terminated input. */
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    lx_buf_t out;
    lx_buf_init(&out, 16);
    if (lx_bytea_decode(text, &out) == LX_OK) {
        lx_buf_t again;
        lx_buf_init(&again, 16);
        lx_bytea_encode(out.p, out.n, &again);
        lx_buf_t back;
        lx_buf_init(&back, 16);
        if (lx_bytea_decode(again.p, &back) != LX_OK || back.n != out.n ||
            memcmp(back.p, out.p, out.n) != 0)
            abort();
        lx_buf_free(&again);
        lx_buf_free(&back);
    }
    free(text);

    /* A sealed blob from anywhere must not open (or crash). */
    lx_buf_reset(&out);
    unsigned char ver = 0;
    if (lx_secret_open(KEY, "t.c:1", data, size, &out, &ver) == LX_OK && size < LX_SEAL_OVERHEAD)
        abort();

    /* Seal and open the input as a plaintext. */
    lx_buf_t sealed;
    lx_buf_init(&sealed, 64);
    lx_buf_reset(&out);
    if (lx_secret_seal(KEY, 3, "t.c:1", data, size, &sealed) != LX_OK ||
        lx_secret_open(KEY, "t.c:1", sealed.p, sealed.n, &out, &ver) != LX_OK || ver != 3 ||
        out.n != size || (size && memcmp(out.p, data, size) != 0))
        abort();
    lx_buf_reset(&out);
    if (lx_secret_open(KEY, "t.c:2", sealed.p, sealed.n, &out, NULL) == LX_OK)
        abort(); /* the AAD binds the blob */
    lx_buf_free(&sealed);
    lx_buf_free(&out);
    return 0;
}
