/* fuzz_media_answer.c - provider answers through every media job adapter
 * (src/media: openai_videos.c, runway.c, openai_images.c, generic.c) and
 * the client task bodies (input.c). The first byte picks the operation
 * and the status class; the rest is the body (and, for the input readers,
 * the client's JSON). Checks: a result is consistent (progress in -1..100;
 * a state NONE or FAILED has an error code; only SUCCEEDED has output;
 * a job id is non-empty); a refused body names why. */
#include "media/adapter.h"
#include "media/generic.h"
#include "media/input.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char generic_conf[] =
    "{\"submit\":{\"path\":\"/jobs\"},\"poll\":{\"path\":\"/jobs/{id}\"},"
    "\"cancel\":{\"method\":\"DELETE\",\"path\":\"/jobs/{id}\"},\"job_id_path\":\"data.id\","
    "\"status_path\":\"data.status\",\"states\":{\"pending\":\"queued\",\"run\":\"running\","
    "\"ok\":\"succeeded\",\"err\":\"failed\",\"stop\":\"cancelled\",\"1\":\"running\"},"
    "\"progress_path\":\"data.progress\",\"progress_scale\":1,"
    "\"output_paths\":[\"data.url\",\"data.urls\",\"data.0\"],\"error_path\":\"data.error\","
    "\"error_code_path\":\"data.code\"}";

static void check(const lx_job_result_t *r)
{
    if (r->progress < -1 || r->progress > 100)
        abort();
    if ((r->state == LX_JOB_NONE || r->state == LX_JOB_FAILED) && r->error_code[0] == '\0')
        abort();
    if ((r->output != NULL) != (r->state == LX_JOB_SUCCEEDED) && r->state != LX_JOB_SUCCEEDED)
        abort();
    if (r->job_id && r->job_id[0] == '\0')
        abort();
    if ((unsigned)r->state >= LX_JOB__COUNT)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static lx_media_adapter_t *generic;
    if (generic == NULL) {
        json_error_t e;
        json_t *c = json_loads(generic_conf, 0, &e);
        char err[256];
        generic = lx_media_generic_new(c, err, sizeof err);
        json_decref(c);
        if (generic == NULL)
            abort();
    }
    if (size == 0)
        return 0;
    static const int statuses[] = {200, 201, 204, 400, 401, 404, 429, 500, 503, 0};
    lx_job_op_t op = (lx_job_op_t)(data[0] % LX_JOB_OP__COUNT);
    int status = statuses[(data[0] >> 2) % LX_ARRAY_LEN(statuses)];
    lx_job_answer_t ans = {status, (const char *)data + 1, size - 1,
                           (data[0] & 0x80) ? "17" : NULL};
    const lx_media_adapter_t *all[] = {&lx_media_openai_videos, &lx_media_runway,
                                       &lx_media_openai_images, generic};
    for (size_t i = 0; i < LX_ARRAY_LEN(all); i++) {
        lx_job_result_t r;
        lx_job_result_init(&r);
        all[i]->parse(all[i], op, &ans, &r);
        check(&r);
        lx_job_result_free(&r);
    }

    /* The same bytes as a client body and as a task input to build from. */
    char err[128];
    json_t *body = json_loadb((const char *)data + 1, size - 1, 0, NULL);
    if (body) {
        json_t *(*readers[])(const json_t *, lx_media_problem_t *) = {
            lx_media_video_input, lx_media_image_input, lx_media_openai_video_input};
        for (size_t i = 0; i < LX_ARRAY_LEN(readers); i++) {
            lx_media_problem_t p;
            memset(&p, 0, sizeof p);
            json_t *in = readers[i](body, &p);
            if (in == NULL && p.message[0] == '\0')
                abort();
            json_decref(in);
        }
        lx_job_ctx_t ctx = {.base_url = "https://p.example/v1",
                            .key = "k",
                            .idempotency_key = "i",
                            .input = body,
                            .job_id = "j"};
        for (size_t i = 0; i < LX_ARRAY_LEN(all); i++) {
            lx_job_req_t req;
            if (all[i]->build(all[i], op, &ctx, &req, err, sizeof err) == LX_OK) {
                if (req.url == NULL || strncmp(req.url, "https://p.example/v1/", 21) != 0)
                    abort();
                lx_job_req_free(&req);
            } else if (err[0] == '\0') {
                abort();
            }
        }
        json_decref(body);
    }
    return 0;
}
