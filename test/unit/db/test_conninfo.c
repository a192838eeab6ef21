/* test_conninfo.c - unit tests for src/db/conninfo.c: a database URL is
 * checked with libpq's own parser, and no message llmux prints about it
 * holds its password, however it was written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/common.h"
#include "db/conninfo.h"

#include <string.h>

static void expect_scrub(const char *conninfo, const char *msg, const char *want)
{
    char out[512];
    assert_string_equal(lx_conninfo_scrub(conninfo, msg, out, sizeof out), want);
}

static void test_scrub_parsed_passwords(void **state)
{
    (void)state;
    /* a URL's user information, raw and percent-decoded */
    expect_scrub("postgresql://bob:hunter2@db.example:5432/app",
                 "connection to \"db.example\" failed for bob:hunter2 (hunter2)",
                 "connection to \"db.example\" failed for bob:*** (***)");
    expect_scrub("postgresql://bob:p%40ss%2Fw0rd@h/app", "p@ss/w0rd and p%40ss%2Fw0rd",
                 "*** and ***");
    /* a password= query parameter */
    expect_scrub("postgresql://h/app?user=bob&password=s3cr3t&sslmode=disable", "token \"s3cr3t\"",
                 "token \"***\"");
    /* key=value, plain and quoted with escapes */
    expect_scrub("host=h password=topsecret user=bob", "x topsecret y", "x *** y");
    expect_scrub("host=h password = 'it\\'s secret' user=bob", "got it's secret, it\\'s secret",
                 "got ***, ***");
    expect_scrub("host=h PASSWORD=Upper", "Upper", "***");
    /* nothing to hide: the message is left alone */
    expect_scrub("host=h user=bob", "could not connect to \"h\"", "could not connect to \"h\"");
    expect_scrub("postgresql://bob@h/app", "role \"bob\" does not exist",
                 "role \"bob\" does not exist");
    expect_scrub(NULL, NULL, "");
}

static void test_scrub_unparsed(void **state)
{
    (void)state;
    /* libpq quotes what it choked on: the whole URL, or a piece of a
     * password it split differently ("abc def" read as abc, then def) */
    expect_scrub("postgresql://bob:S3cret@[::1/db",
                 "end of string reached when looking for matching \"]\" in IPv6 host address in "
                 "URI: \"postgresql://bob:S3cret@[::1/db\"",
                 "end of string reached when looking for matching \"]\" in IPv6 host address in "
                 "URI: \"***\"");
    expect_scrub("host=x password=abc def", "missing \"=\" after \"def\" in connection info string",
                 "missing \"=\" after \"***\" in connection info string");
    expect_scrub("postgresql://bob:S3cr%zz@h/db", "invalid percent-encoded token: \"S3cr%zz\"",
                 "invalid percent-encoded token: \"***\"");
    /* no password anywhere: quoted pieces stay (they help) */
    expect_scrub("host=x bogus=1", "invalid connection option \"bogus\"",
                 "invalid connection option \"bogus\"");
}

static void test_scrub_bounded(void **state)
{
    (void)state;
    char out[8];
    lx_conninfo_scrub("host=h password=pw", "0123456789 pw pw", out, sizeof out);
    assert_string_equal(out, "0123456");
    lx_conninfo_scrub("host=h password=pw", "pw pw pw", out, sizeof out);
    assert_string_equal(out, "*** ***");
    char one[1] = {'x'};
    lx_conninfo_scrub("host=h", "abc", one, sizeof one);
    assert_int_equal(one[0], '\0');
}

static void test_check(void **state)
{
    (void)state;
    char err[300];
    assert_int_equal(lx_conninfo_check("postgresql://bob:pw@127.0.0.1:5432/app", err, sizeof err),
                     LX_OK);
    assert_int_equal(
        lx_conninfo_check("host=/var/run/postgresql dbname=x port=5432,5433", err, sizeof err),
        LX_OK);
    static const char *const bad[] = {
        "postgresql://bob:Secr3tPW@[::1/db",
        "postgresql://bob:Secr3tPW%zz@h/db",
        "postgresql://bob:Secr3tPW@h/db?foo=bar",
        "host=h password=Secr3tPW bogus=1",
        "host=h password='Secr3tPW",
        "postgresql://bob:Secr3tPW@h:notaport/db",
        "host=h password=Secr3tPW connect_timeout=soon",
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(bad); i++) {
        err[0] = '\0';
        assert_int_equal(lx_conninfo_check(bad[i], err, sizeof err), LX_ERROR);
        if (strncmp(err, "database_url: ", 14) != 0 || strstr(err, "Secr3t") != NULL)
            fail_msg("'%s': %s", bad[i], err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scrub_parsed_passwords),
        cmocka_unit_test(test_scrub_unparsed),
        cmocka_unit_test(test_scrub_bounded),
        cmocka_unit_test(test_check),
    };
    return cmocka_run_group_tests_name("db/conninfo", tests, NULL, NULL);
}
