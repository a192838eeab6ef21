/* adapter.c - the built-in adapters by name, and the helpers they share. */
#include "media/adapter.h"
#include "media/adapter_int.h"

#include <math.h>
#include <stdio.h>

const lx_media_adapter_t *lx_media_adapter_find(const char *name)
{
    static const lx_media_adapter_t *const all[] = {&lx_media_openai_videos, &lx_media_runway,
                                                    &lx_media_openai_images};
    for (size_t i = 0; name && i < LX_ARRAY_LEN(all); i++)
        if (strcmp(all[i]->name, name) == 0)
            return all[i];
    return NULL;
}

const char *lx_media_in_str(const json_t *input, const char *key)
{
    const char *s = json_string_value(json_object_get(input, key));
    return s && *s ? s : NULL;
}

int lx_media_id_segment(lx_buf_t *b, const char *id, char *err, size_t errlen)
{
    if (id == NULL || lx_job_path_segment(b, id, strlen(id)) != LX_OK) {
        snprintf(err, errlen, "no usable provider job id (empty or over 1024 bytes)");
        return LX_ERROR;
    }
    return LX_OK;
}

int lx_media_progress(double v, double scale)
{
    if (isnan(v) || scale <= 0)
        return -1;
    double p = v * (100.0 / scale);
    if (p <= 0)
        return 0;
    if (p >= 100)
        return 100;
    return (int)p;
}

void lx_media_unknown_status(lx_job_result_t *out, const char *status)
{
    char msg[160];
    snprintf(msg, sizeof msg, "the provider answered an unknown status \"%.64s\"", status);
    lx_job_result_fail(out, LX_JOB_NONE, "unknown_status", msg, false);
}
