/* test_jobs_conf.c - a provider's settings.jobs (src/media/jobs_conf.c):
 * checks naming the setting, and the adapter picked for videos and
 * images. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "media/generic.h"
#include "media/jobs_conf.h"
#include "media_test.h"

#define GENERIC                                                                                    \
    "{\"submit\":{\"method\":\"POST\",\"path\":\"/jobs\"},\"poll\":{\"path\":\"/jobs/{id}\"},"     \
    "\"job_id_path\":\"id\",\"status_path\":\"status\","                                           \
    "\"states\":{\"ok\":\"succeeded\",\"bad\":\"failed\"},\"output_paths\":[\"url\"]}"

static void refused(const char *text, const char *want)
{
    json_t *j = J(text);
    char err[512] = "";
    assert_int_equal(lx_media_jobs_validate(j, err, sizeof err), LX_ERROR);
    if (strstr(err, want) == NULL)
        fail_msg("'%s' does not name '%s'", err, want);
    json_decref(j);
}

static void test_validate(void **state)
{
    (void)state;
    refused("[]", "settings.jobs: must be a JSON object");
    refused("{}", "settings.jobs.adapter");
    refused("{\"adapter\":\"pika\"}", "settings.jobs.adapter");
    refused("{\"adapter\":\"runway\",\"x\":1}", "settings.jobs.x: unknown setting");
    refused("{\"adapter\":\"runway\",\"generic\":" GENERIC "}", "settings.jobs.generic: only");
    refused("{\"adapter\":\"generic\"}", "settings.jobs.generic: the generic");
    refused("{\"adapter\":\"generic\",\"generic\":{\"submit\":{\"path\":\"/jobs\"}}}",
            "settings.jobs.generic.poll");
    const char *ok[] = {"{\"adapter\":\"runway\"}", "{\"adapter\":\"openai_videos\"}",
                        "{\"adapter\":\"generic\",\"generic\":" GENERIC "}"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        json_t *j = J(ok[i]);
        char err[512] = "";
        assert_int_equal(lx_media_jobs_validate(j, err, sizeof err), LX_OK);
        json_decref(j);
    }
}

static void test_pick(void **state)
{
    (void)state;
    const lx_media_adapter_t *a;
    lx_media_adapter_t *owned;
    char err[256];
    assert_int_equal(lx_media_jobs_pick(NULL, true, &a, &owned, err, sizeof err), LX_OK);
    assert_ptr_equal(a, &lx_media_openai_videos);
    assert_null(owned);
    assert_int_equal(lx_media_jobs_pick(NULL, false, &a, &owned, err, sizeof err), LX_OK);
    assert_ptr_equal(a, &lx_media_openai_images);
    json_t *rw = J("{\"adapter\":\"runway\"}");
    assert_int_equal(lx_media_jobs_pick(rw, true, &a, &owned, err, sizeof err), LX_OK);
    assert_ptr_equal(a, &lx_media_runway);
    assert_int_equal(lx_media_jobs_pick(rw, false, &a, &owned, err, sizeof err), LX_ERROR);
    assert_non_null(strstr(err, "runway"));
    assert_null(a);
    json_decref(rw);
    json_t *g = J("{\"adapter\":\"generic\",\"generic\":" GENERIC "}");
    assert_int_equal(lx_media_jobs_pick(g, false, &a, &owned, err, sizeof err), LX_OK);
    assert_non_null(owned);
    assert_ptr_equal(a, owned);
    assert_string_equal(a->name, "generic");
    lx_media_generic_free(owned);
    json_decref(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_pick),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
