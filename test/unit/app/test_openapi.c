/* test_openapi.c - docs/openapi.json documents every route: each entry of
 * the public route table (app/routes.c) and of the admin route table
 * (admin/router.c) must appear in `paths` with its method. The document's
 * path is argv[1]. */
#include "app/app.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

static const char *doc_path;
static json_t *doc;

static int setup(void **state)
{
    json_error_t err;
    doc = json_load_file(doc_path, 0, &err);
    if (doc == NULL)
        fprintf(stderr, "# %s: %s (line %d)\n", doc_path, err.text, err.line);
    return doc ? 0 : -1;
}

static int teardown(void **state)
{
    json_decref(doc);
    return 0;
}

static void lower(const char *m, char out[16])
{
    size_t i = 0;
    for (; m[i] && i < 15; i++)
        out[i] = (char)(m[i] >= 'A' && m[i] <= 'Z' ? m[i] + 32 : m[i]);
    out[i] = '\0';
}

/* The document has path with method (any operation when method is NULL);
 * with prefix, any path that starts with it will do. */
static bool documented(const char *method, const char *path, bool prefix)
{
    json_t *paths = json_object_get(doc, "paths");
    char m[16] = "";
    if (method)
        lower(method, m);
    const char *p;
    json_t *item;
    json_object_foreach(paths, p, item)
    {
        bool match = prefix ? strncmp(p, path, strlen(path)) == 0 : strcmp(p, path) == 0;
        if (!match)
            continue;
        if (method ? json_object_get(item, m) != NULL : json_object_size(item) > 0)
            return true;
    }
    fprintf(stderr, "# not in %s: %s %s%s\n", doc_path, method ? method : "*", path,
            prefix ? "*" : "");
    return false;
}

static void test_document_is_openapi_3_1(void **state)
{
    assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
    assert_true(json_is_object(json_object_get(doc, "paths")));
}

static void test_every_public_route_is_documented(void **state)
{
    static lx_worker_t w; /* only addresses are taken */
    lx_route_t routes[LX_MAX_ROUTES];
    size_t n = lx_routes_build(&w, routes, LX_MAX_ROUTES);
    assert_true(n > 5);
    int missing = 0, admin = 0;
    for (size_t i = 0; i < n; i++) {
        const lx_route_t *r = &routes[i];
        if (r->fn == lx_admin_handler) {
            admin++; /* expanded through its own table below */
            continue;
        }
        if (!documented(r->method, r->path, (r->flags & LX_ROUTE_PREFIX) != 0))
            missing++;
    }
    assert_int_equal(admin, 1);
    assert_int_equal(missing, 0);
}

static void test_every_admin_route_is_documented(void **state)
{
    const char *method, *pattern;
    int missing = 0;
    size_t i = 0;
    for (; lx_admin_route_at(i, &method, &pattern); i++) {
        char path[256];
        snprintf(path, sizeof path, "/api/v1/admin/ai/%s", pattern);
        if (!documented(method, path, false))
            missing++;
    }
    assert_true(i > 20);
    assert_int_equal(missing, 0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s docs/openapi.json\n", argv[0]);
        return 2;
    }
    doc_path = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_document_is_openapi_3_1),
        cmocka_unit_test(test_every_public_route_is_documented),
        cmocka_unit_test(test_every_admin_route_is_documented),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
