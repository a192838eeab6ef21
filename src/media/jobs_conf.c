/* jobs_conf.c - a provider's "jobs" settings: checked with messages naming
 * the setting, and turned into the job adapter a media task uses. */
#include "media/jobs_conf.h"
#include "media/generic.h"

#include <stdio.h>

static const char *const adapters[] = {"openai_videos", "runway", "generic"};

int lx_media_jobs_validate(const json_t *jobs, char *err, size_t errlen)
{
    if (!json_is_object(jobs)) {
        snprintf(err, errlen, "settings.jobs: must be a JSON object");
        return LX_ERROR;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)jobs, k, v)
    {
        if (strcmp(k, "adapter") != 0 && strcmp(k, "generic") != 0) {
            snprintf(err, errlen, "settings.jobs.%.64s: unknown setting (adapter, generic)", k);
            return LX_ERROR;
        }
    }
    const char *a = json_string_value(json_object_get(jobs, "adapter"));
    bool known = false;
    for (size_t i = 0; a && i < LX_ARRAY_LEN(adapters); i++)
        known |= strcmp(a, adapters[i]) == 0;
    if (!known) {
        snprintf(err, errlen,
                 "settings.jobs.adapter: must be one of openai_videos, runway, generic");
        return LX_ERROR;
    }
    json_t *g = json_object_get(jobs, "generic");
    if (strcmp(a, "generic") != 0) {
        if (g) {
            snprintf(err, errlen, "settings.jobs.generic: only with adapter \"generic\"");
            return LX_ERROR;
        }
        return LX_OK;
    }
    if (!json_is_object(g)) {
        snprintf(err, errlen,
                 "settings.jobs.generic: the generic adapter's settings (an object) are required");
        return LX_ERROR;
    }
    char why[400];
    if (lx_media_generic_validate(g, why, sizeof why) != LX_OK) {
        snprintf(err, errlen, "settings.jobs.generic.%s", why);
        return LX_ERROR;
    }
    return LX_OK;
}

int lx_media_jobs_pick(const json_t *jobs, bool video, const lx_media_adapter_t **adapter,
                       lx_media_adapter_t **owned, char *err, size_t errlen)
{
    *adapter = NULL;
    *owned = NULL;
    const char *a = jobs ? json_string_value(json_object_get(jobs, "adapter")) : NULL;
    if (a == NULL || strcmp(a, "openai_videos") == 0) {
        *adapter = video ? &lx_media_openai_videos : &lx_media_openai_images;
        return LX_OK;
    }
    if (strcmp(a, "runway") == 0) {
        if (!video) {
            snprintf(err, errlen, "the provider's job API (runway) makes no images");
            return LX_ERROR;
        }
        *adapter = &lx_media_runway;
        return LX_OK;
    }
    if (strcmp(a, "generic") == 0) {
        char why[400];
        *owned = lx_media_generic_new(json_object_get(jobs, "generic"), why, sizeof why);
        if (*owned == NULL) {
            snprintf(err, errlen, "the provider's settings.jobs.generic is not usable: %s", why);
            return LX_ERROR;
        }
        *adapter = *owned;
        return LX_OK;
    }
    snprintf(err, errlen, "the provider's settings.jobs.adapter is unknown");
    return LX_ERROR;
}
