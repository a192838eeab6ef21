/* test_crypto.c - unit tests for src/core/crypto.c: base64, SHA-256, hex,
 * constant-time compare and randomness. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/crypto.h"

#include <stdio.h>
#include <stdlib.h>

/* An independent reference encoder, so the round trip is not checked only
 * against itself. */
static void ref_base64(const unsigned char *in, size_t n, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = a[(v >> 18) & 63];
        out[o++] = a[(v >> 12) & 63];
        out[o++] = i + 1 < n ? a[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? a[v & 63] : '=';
    }
    out[o] = '\0';
}

/* ---- base64 ---- */

static const struct {
    const char *plain, *b64;
} rfc4648[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

static void test_base64_encode_rfc4648_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < LX_ARRAY_LEN(rfc4648); i++) {
        char out[32];
        memset(out, 'X', sizeof out);
        size_t n = lx_base64_encode((const unsigned char *)rfc4648[i].plain,
                                    strlen(rfc4648[i].plain), out);
        assert_int_equal(n, strlen(rfc4648[i].b64));
        assert_string_equal(out, rfc4648[i].b64);
    }
}

static void test_base64_decode_rfc4648_vectors_padded_and_unpadded(void **state)
{
    (void)state;
    for (size_t i = 0; i < LX_ARRAY_LEN(rfc4648); i++) {
        const char *b64 = rfc4648[i].b64;
        size_t plain_n = strlen(rfc4648[i].plain);
        unsigned char out[32];
        long n = lx_base64_decode(b64, strlen(b64), out, sizeof out);
        assert_int_equal(n, (long)plain_n);
        assert_memory_equal(out, rfc4648[i].plain, plain_n);

        size_t unpadded = strlen(b64);
        while (unpadded > 0 && b64[unpadded - 1] == '=')
            unpadded--;
        memset(out, 0, sizeof out);
        n = lx_base64_decode(b64, unpadded, out, sizeof out);
        assert_int_equal(n, (long)plain_n);
        assert_memory_equal(out, rfc4648[i].plain, plain_n);
    }
}

static void test_base64_round_trip_lengths_0_to_40(void **state)
{
    (void)state;
    unsigned char patterns[3][40];
    for (int i = 0; i < 40; i++) {
        patterns[0][i] = (unsigned char)(i * 37 + 11); /* mixed */
        patterns[1][i] = 0xff;                         /* all ones: '/' heavy */
        patterns[2][i] = 0x00;
    }
    lx_random_bytes(patterns[0] + 20, 20);
    for (int p = 0; p < 3; p++) {
        for (size_t len = 0; len <= 40; len++) {
            char enc[64], ref[64];
            memset(enc, 0x7f, sizeof enc);
            size_t en = lx_base64_encode(patterns[p], len, enc);
            ref_base64(patterns[p], len, ref);
            assert_int_equal(en, (len + 2) / 3 * 4);
            assert_int_equal(enc[en], '\0');
            assert_string_equal(enc, ref);

            unsigned char dec[64];
            memset(dec, 0xaa, sizeof dec);
            long dn = lx_base64_decode(enc, en, dec, sizeof dec);
            assert_int_equal(dn, (long)len);
            assert_memory_equal(dec, patterns[p], len);
            assert_int_equal(dec[len], 0xaa); /* nothing written past the result */

            /* The same text without its '=' padding decodes the same. */
            size_t un = en;
            while (un > 0 && enc[un - 1] == '=')
                un--;
            memset(dec, 0xaa, sizeof dec);
            dn = lx_base64_decode(enc, un, dec, sizeof dec);
            assert_int_equal(dn, (long)len);
            assert_memory_equal(dec, patterns[p], len);

            /* An output buffer of exactly len bytes is enough; len-1 is not. */
            unsigned char *exact = malloc(len ? len : 1);
            assert_int_equal(lx_base64_decode(enc, en, exact, len), (long)len);
            assert_memory_equal(exact, patterns[p], len);
            if (len > 0)
                assert_int_equal(lx_base64_decode(enc, en, exact, len - 1), -1);
            free(exact);
        }
    }
}

static void test_base64_decode_large_input(void **state)
{
    (void)state;
    /* No length limit: sizes around the decoder's 4096-character blocks and
     * well past them, padded and unpadded. */
    static const size_t lens[] = {3071, 3072, 3073, 3074, 6144, 100000};
    for (size_t i = 0; i < LX_ARRAY_LEN(lens); i++) {
        size_t len = lens[i], en = (len + 2) / 3 * 4;
        unsigned char *plain = malloc(len), *dec = malloc(len);
        char *enc = malloc(en + 1);
        lx_random_bytes(plain, len);
        assert_int_equal(lx_base64_encode(plain, len, enc), en);
        assert_int_equal(lx_base64_decode(enc, en, dec, len), (long)len);
        assert_memory_equal(dec, plain, len);
        while (enc[en - 1] == '=')
            en--;
        memset(dec, 0, len);
        assert_int_equal(lx_base64_decode(enc, en, dec, len), (long)len);
        assert_memory_equal(dec, plain, len);
        enc[en / 2] = ' '; /* a bad character deep inside is still found */
        assert_int_equal(lx_base64_decode(enc, en, dec, len), -1);
        free(plain);
        free(dec);
        free(enc);
    }
}

static void test_base64_decode_rejects_bad_input(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "Z",     /* one character cannot encode a byte */
        "Zm9vY", /* 5 characters: same */
        "Zg===", /* too much padding */
        "=",
        "==",
        "====",
        "Zm!v",      /* outside the alphabet */
        "Zm9v Zm9v", /* whitespace inside */
        "Zm9-",      /* base64url is not standard base64 */
        "Zm9_",
        "Zm\x80v",
        "    Zm9v",         /* leading whitespace */
        "Zm9vYmFy\n\n\n\n", /* trailing whitespace */
        "Zg==Zm9v",         /* padding in the middle */
        "Zm=v",             /* '=' as a digit */
        "Zg=",              /* padding that does not complete a group */
        "Zm9v==",           /* padding after a complete group */
        "Zh==",             /* unused bits set: not canonical */
        "Zm9=",             /* same, with 3 digits */
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(bad); i++) {
        unsigned char out[32];
        long n = lx_base64_decode(bad[i], strlen(bad[i]), out, sizeof out);
        if (n != -1)
            fail_msg("decoded bad input '%s' to %ld bytes", bad[i], n);
    }
}

static void test_base64_decode_empty(void **state)
{
    (void)state;
    unsigned char out[1] = {0x5a};
    assert_int_equal(lx_base64_decode("", 0, out, 0), 0);
    assert_int_equal(out[0], 0x5a);
}

/* ---- SHA-256 ---- */

static void sha_hex(const void *p, size_t n, char hex[65])
{
    unsigned char d[32];
    lx_sha256(p, n, d);
    lx_hex(d, 32, hex);
}

static void test_sha256_known_vectors(void **state)
{
    (void)state;
    static const struct {
        const char *msg, *hex;
    } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {"The quick brown fox jumps over the lazy dog",
         "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592"},
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(v); i++) {
        char hex[65];
        sha_hex(v[i].msg, strlen(v[i].msg), hex);
        assert_string_equal(hex, v[i].hex);
    }
    size_t n = 1000000;
    char *a = malloc(n);
    memset(a, 'a', n);
    char hex[65];
    sha_hex(a, n, hex);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(a);
}

static void test_sha256_uses_length_not_nul(void **state)
{
    (void)state;
    char h1[65], h2[65];
    sha_hex("abc\0def", 7, h1);
    sha_hex("abc", 3, h2);
    assert_string_not_equal(h1, h2);
    sha_hex("abcdef", 3, h1);
    assert_string_equal(h1, h2);
}

/* ---- hex ---- */

static void test_hex(void **state)
{
    (void)state;
    const unsigned char in[] = {0x00, 0x01, 0x0f, 0x10, 0xab, 0xcd, 0xef, 0xff};
    char *out = malloc(2 * sizeof in + 1); /* exact size: ASan catches overruns */
    lx_hex(in, sizeof in, out);
    assert_string_equal(out, "00010f10abcdefff");
    free(out);
    char empty[1] = {'X'};
    lx_hex(in, 0, empty);
    assert_int_equal(empty[0], '\0');
    /* All 256 byte values give lowercase two-digit pairs. */
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    char hex[513];
    lx_hex(all, 256, hex);
    for (int i = 0; i < 256; i++) {
        char want[3];
        snprintf(want, sizeof want, "%02x", i);
        assert_memory_equal(hex + 2 * i, want, 2);
    }
    assert_int_equal(strlen(hex), 512);
}

/* ---- constant-time compare ---- */

static void test_ct_equal(void **state)
{
    (void)state;
    unsigned char a[64], b[64];
    lx_random_bytes(a, sizeof a);
    memcpy(b, a, sizeof b);
    assert_true(lx_ct_equal(a, b, sizeof a));
    for (size_t i = 0; i < sizeof a; i++) {
        b[i] ^= 0x01;
        assert_false(lx_ct_equal(a, b, sizeof a));
        b[i] ^= 0x81; /* high bit only */
        assert_false(lx_ct_equal(a, b, sizeof a));
        b[i] ^= 0x80;
    }
    assert_true(lx_ct_equal(a, b, sizeof a));
    assert_true(lx_ct_equal("abc", "abd", 2)); /* only n bytes */
    assert_true(lx_ct_equal("x", "y", 0));
}

/* ---- randomness ---- */

static bool all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static void test_random_bytes(void **state)
{
    (void)state;
    unsigned char a[32] = {0}, b[32] = {0};
    lx_random_bytes(a, sizeof a);
    lx_random_bytes(b, sizeof b);
    assert_false(all_zero(a, sizeof a));
    assert_false(all_zero(b, sizeof b));
    assert_memory_not_equal(a, b, sizeof a);

    unsigned char one = 0x42;
    lx_random_bytes(&one, 0); /* n = 0 touches nothing */
    assert_int_equal(one, 0x42);
}

static void test_random_bytes_fill_the_whole_buffer(void **state)
{
    (void)state;
    size_t n = 1u << 20;
    unsigned char *p = calloc(1, n);
    assert_non_null(p);
    lx_random_bytes(p, n);
    /* Every 64-byte window is touched, and byte values are spread: about
     * n/256 = 4096 zeros are expected (sigma ~64). */
    for (size_t off = 0; off < n; off += 64)
        assert_false(all_zero(p + off, 64));
    size_t zeros = 0;
    for (size_t i = 0; i < n; i++)
        zeros += p[i] == 0;
    assert_in_range(zeros, 3500, 4700);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64_encode_rfc4648_vectors),
        cmocka_unit_test(test_base64_decode_rfc4648_vectors_padded_and_unpadded),
        cmocka_unit_test(test_base64_round_trip_lengths_0_to_40),
        cmocka_unit_test(test_base64_decode_large_input),
        cmocka_unit_test(test_base64_decode_rejects_bad_input),
        cmocka_unit_test(test_base64_decode_empty),
        cmocka_unit_test(test_sha256_known_vectors),
        cmocka_unit_test(test_sha256_uses_length_not_nul),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_ct_equal),
        cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_random_bytes_fill_the_whole_buffer),
    };
    return cmocka_run_group_tests_name("core/crypto", tests, NULL, NULL);
}
