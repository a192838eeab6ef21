/* test_sealed_headers.c - unit tests for src/core/sealed_headers.c: a
 * provider's headers sealed for its row, opened with the master key or the
 * old one, and nothing else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/sealed_headers.h"
#include "core/secret.h"

#include <string.h>

static const char HEADERS[] = "{\"X-Token\":\"hdr-secret-123\",\"OpenAI-Organization\":\"org-9\"}";

static void key_of(unsigned char k[32], unsigned char v)
{
    for (int i = 0; i < 32; i++)
        k[i] = (unsigned char)(v + i);
}

/* Seals HEADERS for provider id with key k: the raw blob in out. */
static void seal(const unsigned char k[32], int64_t id, lx_buf_t *out)
{
    lx_buf_t hex;
    lx_buf_init(&hex, 0);
    assert_int_equal(lx_headers_seal_hex(k, id, HEADERS, &hex), LX_OK);
    assert_true(hex.n > 2 && memcmp(hex.p, "\\x", 2) == 0);
    assert_null(strstr(hex.p, "hdr-secret"));
    lx_buf_init(out, 0);
    assert_int_equal(lx_bytea_decode(hex.p, out), LX_OK);
    assert_null(memmem(out->p, out->n, "hdr-secret", 10)); /* not plain bytes either */
    lx_buf_free(&hex);
}

static void test_aad_names_the_row(void **state)
{
    (void)state;
    char aad[64];
    lx_headers_aad(42, aad, sizeof aad);
    assert_string_equal(aad, "ai_providers.extra_headers:42");
}

static void test_round_trip_with_the_master_key(void **state)
{
    (void)state;
    lx_config_t cfg = {0};
    key_of(cfg.master_key, 1);
    cfg.has_master_key = true;
    lx_buf_t blob, plain;
    seal(cfg.master_key, 7, &blob);
    lx_buf_init(&plain, 0);
    assert_int_equal(lx_headers_open(&cfg, 7, blob.p, blob.n, &plain), LX_OK);
    assert_string_equal(plain.p, HEADERS);
    lx_buf_free(&plain);
    lx_buf_free(&blob);
}

static void test_bound_to_its_row(void **state)
{
    (void)state;
    lx_config_t cfg = {0};
    key_of(cfg.master_key, 1);
    cfg.has_master_key = true;
    lx_buf_t blob, plain;
    seal(cfg.master_key, 7, &blob);
    lx_buf_init(&plain, 0);
    assert_int_equal(lx_headers_open(&cfg, 8, blob.p, blob.n, &plain), LX_ERROR);
    assert_int_equal(plain.n, 0);
    /* nor as a credential of the same id */
    char aad[64];
    snprintf(aad, sizeof aad, "ai_connections.credential:%d", 7);
    assert_int_equal(lx_secret_open(cfg.master_key, aad, blob.p, blob.n, &plain, NULL), LX_ERROR);
    lx_buf_free(&plain);
    lx_buf_free(&blob);
}

static void test_old_key_opens_during_a_rotation(void **state)
{
    (void)state;
    lx_config_t cfg = {0};
    key_of(cfg.master_key, 2);
    cfg.has_master_key = true;
    unsigned char old[32];
    key_of(old, 1);
    lx_buf_t blob, plain;
    seal(old, 3, &blob);
    lx_buf_init(&plain, 0);
    assert_int_equal(lx_headers_open(&cfg, 3, blob.p, blob.n, &plain), LX_ERROR);
    memcpy(cfg.master_key_old, old, 32);
    cfg.has_master_key_old = true;
    assert_int_equal(lx_headers_open(&cfg, 3, blob.p, blob.n, &plain), LX_OK);
    assert_string_equal(plain.p, HEADERS);
    lx_buf_free(&plain);
    /* no key at all: nothing opens */
    lx_config_t none = {0};
    lx_buf_init(&plain, 0);
    assert_int_equal(lx_headers_open(&none, 3, blob.p, blob.n, &plain), LX_ERROR);
    lx_buf_free(&plain);
    lx_buf_free(&blob);
}

static void test_tampered_blob_does_not_open(void **state)
{
    (void)state;
    lx_config_t cfg = {0};
    key_of(cfg.master_key, 1);
    cfg.has_master_key = true;
    lx_buf_t blob, plain;
    seal(cfg.master_key, 5, &blob);
    blob.p[20] ^= 1;
    lx_buf_init(&plain, 0);
    assert_int_equal(lx_headers_open(&cfg, 5, blob.p, blob.n, &plain), LX_ERROR);
    assert_int_equal(lx_headers_open(&cfg, 5, blob.p, 10, &plain), LX_ERROR);
    lx_buf_free(&plain);
    lx_buf_free(&blob);
}

static void test_json_empty(void **state)
{
    (void)state;
    assert_true(lx_headers_json_empty(NULL));
    assert_true(lx_headers_json_empty(""));
    assert_true(lx_headers_json_empty("{}"));
    assert_false(lx_headers_json_empty("{\"a\": \"b\"}"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aad_names_the_row),
        cmocka_unit_test(test_round_trip_with_the_master_key),
        cmocka_unit_test(test_bound_to_its_row),
        cmocka_unit_test(test_old_key_opens_during_a_rotation),
        cmocka_unit_test(test_tampered_blob_does_not_open),
        cmocka_unit_test(test_json_empty),
    };
    return cmocka_run_group_tests_name("core/sealed_headers", tests, NULL, NULL);
}
