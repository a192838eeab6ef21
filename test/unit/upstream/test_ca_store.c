/* src/upstream/ca_store.c: a worker's parsed CA bundles (ca_store.h), with
 * real files under a temporary directory and a made-up clock. */
#include "upstream/ca_store.h"

#include <openssl/x509.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

/* A self-signed test CA (its key was thrown away: only loading matters). */
static const char ca_pem[] = "-----BEGIN CERTIFICATE-----\n"
                             "MIIBkTCCATegAwIBAgIUGdM9KjygdYn/KYEUsEmwcOu5mLAwCgYIKoZIzj0EAwIw\n"
                             "HTEbMBkGA1UEAwwSbGxtdXggdW5pdCB0ZXN0IENBMCAXDTI2MTIwNTEyMDExMloY\n"
                             "DzIxMjYxMTExMTIwMTEyWjAdMRswGQYDVQQDDBJsbG11eCB1bml0IHRlc3QgQ0Ew\n"
                             "WTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQohg9ZNl3AQvOhKTvnlYZdTbLgq15p\n"
                             "/7nvrZkdfWeWNx+apUs5ZpNsBpXHCfSWsBCvYv6upSRHJTn59QC/0Ooqo1MwUTAd\n"
                             "BgNVHQ4EFgQUNSXmh3k322NHKBpZwaF8NGnwYe8wHwYDVR0jBBgwFoAUNSXmh3k3\n"
                             "22NHKBpZwaF8NGnwYe8wDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBF\n"
                             "AiEAvQf2XxxlzRPbkwFLjxwgTnirKA0xMZsuLPBay8pUIQgCICZO3q4QCXVhWQUi\n"
                             "NlzeSzrRQ3Q4WYiZvs4Fh2R5QNVX\n"
                             "-----END CERTIFICATE-----\n";

static char dir[] = "/tmp/lx-ca-store-XXXXXX";

static const char *file(int i)
{
    static char path[64][128];
    snprintf(path[i], sizeof path[i], "%s/ca%d.pem", dir, i);
    return path[i];
}

static void write_ca(int i)
{
    FILE *f = fopen(file(i), "w");
    assert_non_null(f);
    fputs(ca_pem, f);
    fclose(f);
}

static int certs_in(X509_STORE *s)
{
    return sk_X509_OBJECT_num(X509_STORE_get0_objects(s));
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i <= LX_CA_STORE_MAX; i++)
        unlink(file(i));
    return rmdir(dir);
}

/* One parse per file, however many transfers ask; curl's flags are set. */
static void test_parsed_once(void **state)
{
    (void)state;
    write_ca(0);
    lx_ca_stores_t *t = lx_ca_stores_new();
    X509_STORE *a = lx_ca_stores_get(t, file(0), 1000);
    X509_STORE *b = lx_ca_stores_get(t, file(0), 1001);
    assert_non_null(a);
    assert_ptr_equal(a, b);
    assert_int_equal(lx_ca_stores_parsed(t), 1);
    assert_int_equal(certs_in(a), 1);
    unsigned long flags = X509_VERIFY_PARAM_get_flags(X509_STORE_get0_param(a));
    assert_true(flags & X509_V_FLAG_PARTIAL_CHAIN);
    assert_true(flags & X509_V_FLAG_TRUSTED_FIRST);
    X509_STORE_free(a);
    X509_STORE_free(b);
    lx_ca_stores_free(t);
}

/* A file that cannot be read: no store, and no new attempt for
 * LX_CA_STORE_RETRY_S; once there, it is read. */
static void test_unreadable_is_retried_later(void **state)
{
    (void)state;
    unlink(file(1));
    lx_ca_stores_t *t = lx_ca_stores_new();
    assert_null(lx_ca_stores_get(t, file(1), 1000));
    write_ca(1);
    assert_null(lx_ca_stores_get(t, file(1), 1000 + LX_CA_STORE_RETRY_S - 1));
    assert_int_equal(lx_ca_stores_parsed(t), 1);
    X509_STORE *s = lx_ca_stores_get(t, file(1), 1000 + LX_CA_STORE_RETRY_S);
    assert_non_null(s);
    assert_int_equal(lx_ca_stores_parsed(t), 2);
    X509_STORE_free(s);
    lx_ca_stores_free(t);
}

/* A day later the file is read again; if it is gone, the old store stays
 * (and is tried again after the retry delay). */
static void test_day_old_is_read_again(void **state)
{
    (void)state;
    write_ca(2);
    lx_ca_stores_t *t = lx_ca_stores_new();
    X509_STORE *first = lx_ca_stores_get(t, file(2), 1000);
    unlink(file(2));
    X509_STORE *kept = lx_ca_stores_get(t, file(2), 1000 + LX_CA_STORE_TTL_S);
    assert_ptr_equal(kept, first);
    assert_int_equal(lx_ca_stores_parsed(t), 2);
    write_ca(2);
    X509_STORE *still = lx_ca_stores_get(t, file(2), 1000 + LX_CA_STORE_TTL_S + 1);
    assert_ptr_equal(still, first);
    X509_STORE *fresh =
        lx_ca_stores_get(t, file(2), 1000 + LX_CA_STORE_TTL_S + LX_CA_STORE_RETRY_S);
    assert_non_null(fresh);
    assert_ptr_not_equal(fresh, first);
    assert_int_equal(lx_ca_stores_parsed(t), 3);
    X509_STORE_free(first);
    X509_STORE_free(kept);
    X509_STORE_free(still);
    X509_STORE_free(fresh);
    lx_ca_stores_free(t);
}

/* Full: the least recently used file goes; a reference taken before stays
 * valid (ASan would see a use after free). */
static void test_least_recently_used_goes(void **state)
{
    (void)state;
    lx_ca_stores_t *t = lx_ca_stores_new();
    X509_STORE *held = NULL;
    for (int i = 0; i < LX_CA_STORE_MAX; i++) {
        write_ca(i);
        X509_STORE *s = lx_ca_stores_get(t, file(i), 1000 + i);
        if (i == 0)
            held = s;
        else
            X509_STORE_free(s);
    }
    X509_STORE_free(lx_ca_stores_get(t, file(0), 2000)); /* 0 used again: 1 is the oldest */
    assert_int_equal(lx_ca_stores_parsed(t), LX_CA_STORE_MAX);
    write_ca(LX_CA_STORE_MAX);
    X509_STORE_free(lx_ca_stores_get(t, file(LX_CA_STORE_MAX), 2001));
    X509_STORE_free(lx_ca_stores_get(t, file(0), 2002));
    assert_int_equal(lx_ca_stores_parsed(t), LX_CA_STORE_MAX + 1);
    X509_STORE_free(lx_ca_stores_get(t, file(1), 2003)); /* evicted: parsed again */
    assert_int_equal(lx_ca_stores_parsed(t), LX_CA_STORE_MAX + 2);
    lx_ca_stores_free(t);
    assert_int_equal(certs_in(held), 1);
    X509_STORE_free(held);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parsed_once),
        cmocka_unit_test(test_unreadable_is_retried_later),
        cmocka_unit_test(test_day_old_is_read_again),
        cmocka_unit_test(test_least_recently_used_goes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
