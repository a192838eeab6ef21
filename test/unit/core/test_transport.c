/* test_transport.c - unit tests for src/core/transport.c: a provider's
 * connection settings checked one by one (messages name the setting), a
 * settings object applied with its other keys left alone, and the JSON
 * written back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/common.h"
#include "core/transport.h"

#include <jansson.h>
#include <string.h>

static int set(lx_transport_t *t, const char *key, const char *json, char *err, size_t n)
{
    json_t *v = json_loads(json, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    assert_non_null(v);
    int rc = lx_transport_set(t, key, v, err, n);
    json_decref(v);
    return rc;
}

static void test_keys(void **state)
{
    (void)state;
    assert_true(lx_transport_is_key("http2"));
    assert_true(lx_transport_is_key("http1_connections"));
    assert_true(lx_transport_is_key("http1_streams"));
    assert_true(lx_transport_is_key("max_connections"));
    assert_true(lx_transport_is_key("max_streams_per_connection"));
    assert_true(lx_transport_is_key("ca_file"));
    assert_false(lx_transport_is_key("jobs"));
    assert_false(lx_transport_is_key("HTTP2"));
}

static void test_good_values(void **state)
{
    (void)state;
    lx_transport_t t = {0};
    char err[200];
    assert_int_equal(t.http2, LX_HTTP2_AUTO); /* the default */
    assert_int_equal(set(&t, "http2", "false", err, sizeof err), LX_OK);
    assert_int_equal(t.http2, LX_HTTP2_OFF);
    assert_int_equal(set(&t, "http2", "true", err, sizeof err), LX_OK);
    assert_int_equal(t.http2, LX_HTTP2_ON);
    assert_int_equal(set(&t, "http2", "\"auto\"", err, sizeof err), LX_OK);
    assert_int_equal(t.http2, LX_HTTP2_AUTO);
    assert_int_equal(set(&t, "http1_connections", "1", err, sizeof err), LX_OK);
    assert_int_equal(t.http1_connections, 1);
    assert_int_equal(set(&t, "http1_connections", "100000", err, sizeof err), LX_OK);
    assert_int_equal(t.http1_connections, 100000);
    assert_int_equal(set(&t, "http1_streams", "64", err, sizeof err), LX_OK);
    assert_int_equal(t.http1_streams, 64);
    assert_int_equal(set(&t, "max_connections", "1", err, sizeof err), LX_OK);
    assert_int_equal(t.max_connections, 1);
    assert_int_equal(set(&t, "max_connections", "100000", err, sizeof err), LX_OK);
    assert_int_equal(t.max_connections, 100000);
    assert_int_equal(set(&t, "max_streams_per_connection", "1000", err, sizeof err), LX_OK);
    assert_int_equal(t.max_streams, 1000);
    assert_int_equal(set(&t, "ca_file", "\"/a/ca.pem\"", err, sizeof err), LX_OK);
    assert_int_equal(set(&t, "ca_file", "\"/b/ca.pem\"", err, sizeof err), LX_OK); /* no leak */
    assert_string_equal(t.ca_file, "/b/ca.pem");
    lx_transport_free(&t);
    assert_null(t.ca_file);
}

static void test_bad_values_name_the_setting(void **state)
{
    (void)state;
    static const struct {
        const char *key, *json;
    } bad[] = {
        {"http2", "1"},
        {"http2", "\"false\""},
        {"http2", "null"},
        {"http2", "\"AUTO\""},
        {"http1_connections", "0"},
        {"http1_connections", "100001"},
        {"http1_connections", "\"8\""},
        {"http1_streams", "0"},
        {"http1_streams", "1.5"},
        {"max_connections", "0"},
        {"max_connections", "-1"},
        {"max_connections", "100001"},
        {"max_connections", "1.5"},
        {"max_connections", "\"8\""},
        {"max_streams_per_connection", "0"},
        {"max_streams_per_connection", "1001"},
        {"max_streams_per_connection", "true"},
        {"ca_file", "\"\""},
        {"ca_file", "\"ca.pem\""},
        {"ca_file", "\"/a\\nb\""},
        {"ca_file", "\"/a\\u0000b\""},
        {"ca_file", "7"},
        {"timeout", "1"},
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(bad); i++) {
        lx_transport_t t = {0};
        char err[200] = "";
        if (set(&t, bad[i].key, bad[i].json, err, sizeof err) != LX_ERROR)
            fail_msg("%s = %s accepted", bad[i].key, bad[i].json);
        if (strncmp(err, bad[i].key, strlen(bad[i].key)) != 0)
            fail_msg("'%s' does not start with %s", err, bad[i].key);
        assert_null(t.ca_file);
        assert_int_equal(t.max_connections, 0);
        assert_int_equal(t.max_streams, 0);
        assert_int_equal(t.http1_connections, 0);
        assert_int_equal(t.http1_streams, 0);
        assert_int_equal(t.http2, LX_HTTP2_AUTO);
    }
    /* a long path */
    char path[LX_TRANSPORT_CA_FILE_MAX + 8];
    memset(path, 'a', sizeof path - 1);
    path[0] = '/';
    path[sizeof path - 1] = '\0';
    json_t *v = json_string(path);
    lx_transport_t t = {0};
    char err[200];
    assert_int_equal(lx_transport_set(&t, "ca_file", v, err, sizeof err), LX_ERROR);
    json_decref(v);
}

static void test_apply_and_json(void **state)
{
    (void)state;
    json_t *o = json_loads("{\"jobs\": {\"adapter\": \"runway\"}, \"http2\": false, "
                           "\"http1_connections\": 9, \"http1_streams\": 5, \"max_connections\": "
                           "3, \"max_streams_per_connection\": 7, "
                           "\"ca_file\": \"/x/ca.pem\"}",
                           0, NULL);
    assert_non_null(o);
    lx_transport_t t = {0};
    char err[200];
    assert_int_equal(lx_transport_apply(&t, o, err, sizeof err), LX_OK); /* jobs: not ours */
    json_decref(o);
    assert_int_equal(t.http2, LX_HTTP2_OFF);
    assert_int_equal(t.http1_connections, 9);
    assert_int_equal(t.http1_streams, 5);
    assert_int_equal(t.max_connections, 3);
    assert_int_equal(t.max_streams, 7);

    lx_transport_t c;
    lx_transport_copy(&c, &t);
    assert_ptr_not_equal(c.ca_file, t.ca_file);
    lx_transport_free(&t);
    json_t *j = lx_transport_to_json(&c);
    char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(
        s, "{\"ca_file\":\"/x/ca.pem\",\"http1_connections\":9,\"http1_streams\":5,\"http2\":false,"
           "\"max_connections\":3,\"max_streams_per_connection\":7}");
    free(s);
    json_decref(j);
    lx_transport_free(&c);

    lx_transport_t d = {0}; /* the defaults write nothing */
    j = lx_transport_to_json(&d);
    assert_int_equal(json_object_size(j), 0);
    json_decref(j);
    d.http2 = LX_HTTP2_ON; /* "always HTTP/2" is not the default: written */
    j = lx_transport_to_json(&d);
    assert_true(json_is_true(json_object_get(j, "http2")));
    assert_int_equal(json_object_size(j), 1);
    json_decref(j);

    o = json_loads("{\"http2\": true, \"max_connections\": 0}", 0, NULL);
    assert_int_equal(lx_transport_apply(&d, o, err, sizeof err), LX_ERROR);
    assert_non_null(strstr(err, "max_connections"));
    json_decref(o);
}

/* Settings stored as text: no text or not an object holds none. */
static void test_apply_text(void **state)
{
    (void)state;
    lx_transport_t t = {0};
    char err[200];
    assert_int_equal(lx_transport_apply_text(&t, NULL, err, sizeof err), LX_OK);
    assert_int_equal(lx_transport_apply_text(&t, "[1]", err, sizeof err), LX_OK);
    assert_int_equal(lx_transport_apply_text(&t, "not json", err, sizeof err), LX_OK);
    assert_int_equal(t.http2, LX_HTTP2_AUTO);
    assert_int_equal(
        lx_transport_apply_text(&t, "{\"http2\": false, \"jobs\": {}}", err, sizeof err), LX_OK);
    assert_int_equal(t.http2, LX_HTTP2_OFF);
    assert_int_equal(lx_transport_apply_text(&t, "{\"max_connections\": 0}", err, sizeof err),
                     LX_ERROR);
    assert_non_null(strstr(err, "max_connections"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_good_values),
        cmocka_unit_test(test_bad_values_name_the_setting),
        cmocka_unit_test(test_apply_and_json),
        cmocka_unit_test(test_apply_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
