/* runway.c - Runway's API as a job adapter (X-Runway-Version 2024-11-06,
 * bearer key): POST {base}/text_to_video {model, promptText, ratio,
 * duration} or, with an image, POST {base}/image_to_video {model,
 * promptImage, promptText, ratio, duration} -> {"id"}; GET {base}/tasks/{id}
 * (PENDING, THROTTLED, RUNNING with progress 0-1, SUCCEEDED with output
 * URLs, FAILED with failure/failureCode, CANCELLED); DELETE {base}/tasks/{id}.
 * The base URL includes the version path, like OpenAI's:
 * "https://api.dev.runwayml.com/v1". No content operation: the output URLs
 * are the content. */
#include "media/adapter.h"
#include "media/adapter_int.h"

#include <stdio.h>
#include <stdlib.h>

#define RUNWAY_VERSION       "2024-11-06"
#define RUNWAY_DEFAULT_RATIO "1280:720"

/* "1280x720" -> "1280:720" into out; LX_ERROR when size is not WxH. */
static int ratio_of(const char *size, char out[32])
{
    const char *x = strchr(size, 'x');
    size_t n = strlen(size);
    if (x == NULL || x == size || x[1] == '\0' || n >= 32)
        return LX_ERROR;
    for (const char *p = size; *p; p++)
        if (p != x && (*p < '0' || *p > '9'))
            return LX_ERROR;
    memcpy(out, size, n + 1);
    out[x - size] = ':';
    return LX_OK;
}

static int build_submit(const lx_job_ctx_t *ctx, lx_job_req_t *out, char *err, size_t errlen)
{
    const json_t *in = ctx->input;
    const char *model = lx_media_in_str(in, "model");
    const char *prompt = lx_media_in_str(in, "prompt");
    const char *image = lx_media_in_str(in, "image");
    if (model == NULL || (prompt == NULL && image == NULL)) {
        snprintf(err, errlen, "the input has no %s", model == NULL ? "model" : "prompt");
        return LX_ERROR;
    }
    char ratio[32] = RUNWAY_DEFAULT_RATIO;
    const char *size = lx_media_in_str(in, "size");
    if (size && ratio_of(size, ratio) != LX_OK) {
        snprintf(err, errlen, "size \"%.32s\" is not WIDTHxHEIGHT", size);
        return LX_ERROR;
    }
    json_t *body = json_object();
    json_object_set_new(body, "model", json_string(model));
    if (image)
        json_object_set_new(body, "promptImage", json_string(image));
    if (prompt)
        json_object_set_new(body, "promptText", json_string(prompt));
    json_object_set_new(body, "ratio", json_string(ratio));
    json_t *secs = json_object_get(in, "seconds");
    if (json_is_integer(secs))
        json_object_set_new(body, "duration", json_integer(json_integer_value(secs)));
    lx_job_req_start(out, "POST", ctx->base_url, image ? "/image_to_video" : "/text_to_video",
                     ctx->key);
    lx_job_req_add_header(out, "X-Runway-Version", RUNWAY_VERSION);
    lx_job_req_set_json(out, body);
    json_decref(body);
    return LX_OK;
}

static int build(const lx_media_adapter_t *a, lx_job_op_t op, const lx_job_ctx_t *ctx,
                 lx_job_req_t *out, char *err, size_t errlen)
{
    LX_UNUSED(a);
    memset(out, 0, sizeof *out);
    if (op == LX_JOB_OP_SUBMIT)
        return build_submit(ctx, out, err, errlen);
    if (op == LX_JOB_OP_CONTENT) {
        snprintf(err, errlen, "runway has no content call: its output URLs are the content");
        return LX_ERROR;
    }
    lx_buf_t path;
    lx_buf_init(&path, 64);
    lx_buf_append_lit(&path, "/tasks/");
    if (lx_media_id_segment(&path, ctx->job_id, err, errlen) != LX_OK) {
        lx_buf_free(&path);
        return LX_ERROR;
    }
    lx_job_req_start(out, op == LX_JOB_OP_CANCEL ? "DELETE" : "GET", ctx->base_url, path.p,
                     ctx->key);
    lx_job_req_add_header(out, "X-Runway-Version", RUNWAY_VERSION);
    lx_buf_free(&path);
    return LX_OK;
}

/* Runway's task failures: SAFETY.* must not be retried; INTERNAL.* (the
 * provider's own fault, INTERNAL.BAD_OUTPUT.* included) may be. */
static bool failure_permanent(const char *code)
{
    return code == NULL || strncmp(code, "INTERNAL", 8) != 0;
}

static void parse_task(const json_t *v, lx_job_result_t *out)
{
    lx_job_take_id(out, json_object_get(v, "id"));
    const char *status = json_string_value(json_object_get(v, "status"));
    if (status == NULL) {
        lx_job_result_fail(out, LX_JOB_NONE, "bad_answer", "the provider's task has no status",
                           false);
    } else if (strcmp(status, "PENDING") == 0 || strcmp(status, "THROTTLED") == 0) {
        out->state = LX_JOB_QUEUED;
        out->progress = 0;
    } else if (strcmp(status, "RUNNING") == 0) {
        out->state = LX_JOB_RUNNING;
        json_t *p = json_object_get(v, "progress");
        if (json_is_number(p))
            out->progress = lx_media_progress(json_number_value(p), 1);
    } else if (strcmp(status, "SUCCEEDED") == 0) {
        json_t *urls = json_array();
        json_t *o = json_object_get(v, "output");
        size_t i;
        json_t *u;
        json_array_foreach(o, i, u)
        {
            if (json_is_string(u))
                json_array_append(urls, u);
        }
        if (json_array_size(urls) == 0) {
            json_decref(urls);
            lx_job_result_fail(out, LX_JOB_NONE, "bad_answer",
                               "the provider's task succeeded without output URLs", false);
            return;
        }
        out->state = LX_JOB_SUCCEEDED;
        out->progress = 100;
        json_t *meta = json_object();
        json_t *created = json_object_get(v, "createdAt");
        if (json_is_string(created))
            json_object_set(meta, "created_at", created);
        out->output = json_pack("{s:o,s:o}", "urls", urls, "metadata", meta);
    } else if (strcmp(status, "FAILED") == 0) {
        const char *code = json_string_value(json_object_get(v, "failureCode"));
        const char *msg = json_string_value(json_object_get(v, "failure"));
        lx_job_result_fail(out, LX_JOB_FAILED, code && *code ? code : "task_failed",
                           msg ? msg : "the provider failed the task", failure_permanent(code));
    } else if (strcmp(status, "CANCELLED") == 0) {
        out->state = LX_JOB_CANCELLED;
    } else {
        lx_media_unknown_status(out, status);
    }
}

static void parse(const lx_media_adapter_t *a, lx_job_op_t op, const lx_job_answer_t *ans,
                  lx_job_result_t *out)
{
    LX_UNUSED(a);
    if (ans->status < 200 || ans->status > 299) {
        lx_job_http_error(ans, out);
        return;
    }
    if (op == LX_JOB_OP_CANCEL) {
        out->state = LX_JOB_CANCELLED; /* 204, no body */
        return;
    }
    json_t *v = lx_job_answer_json(ans, out);
    if (v == NULL)
        return;
    if (op == LX_JOB_OP_SUBMIT) {
        if (lx_job_take_id(out, json_object_get(v, "id")) == LX_OK) {
            out->state = LX_JOB_QUEUED;
            out->progress = 0;
        } else {
            lx_job_result_fail(out, LX_JOB_NONE, "bad_answer",
                               "the provider's answer has no task id", false);
        }
    } else {
        parse_task(v, out);
    }
    json_decref(v);
}

const lx_media_adapter_t lx_media_runway = {
    .name = "runway",
    .ops = (1u << LX_JOB_OP_SUBMIT) | (1u << LX_JOB_OP_POLL) | (1u << LX_JOB_OP_CANCEL),
    .idempotent_submit = false,
    .build = build,
    .parse = parse,
};
