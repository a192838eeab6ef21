/* openai_videos.c - the OpenAI Videos API as a job adapter:
 * POST {base}/videos (JSON: model, prompt, seconds as a string, size,
 * input_reference {image_url}; Idempotency-Key), GET {base}/videos/{id}
 * (status queued | in_progress | completed | failed, progress 0-100,
 * error {code, message}), GET {base}/videos/{id}/content[?variant=],
 * DELETE {base}/videos/{id}. */
#include "media/adapter.h"
#include "media/adapter_int.h"

#include <stdio.h>
#include <stdlib.h>

static int build_submit(const lx_job_ctx_t *ctx, lx_job_req_t *out, char *err, size_t errlen)
{
    const json_t *in = ctx->input;
    const char *model = lx_media_in_str(in, "model");
    const char *prompt = lx_media_in_str(in, "prompt");
    if (model == NULL || prompt == NULL) {
        snprintf(err, errlen, "the input has no %s", model == NULL ? "model" : "prompt");
        return LX_ERROR;
    }
    json_t *body = json_object();
    json_object_set_new(body, "model", json_string(model));
    json_object_set_new(body, "prompt", json_string(prompt));
    json_t *secs = json_object_get(in, "seconds");
    if (json_is_integer(secs)) {
        char s[24];
        lx_i64_str(s, json_integer_value(secs));
        json_object_set_new(body, "seconds", json_string(s));
    }
    const char *size = lx_media_in_str(in, "size");
    if (size)
        json_object_set_new(body, "size", json_string(size));
    const char *image = lx_media_in_str(in, "image");
    if (image)
        json_object_set_new(body, "input_reference", json_pack("{s:s}", "image_url", image));
    lx_job_req_start(out, "POST", ctx->base_url, "/videos", ctx->key);
    if (ctx->idempotency_key && *ctx->idempotency_key)
        lx_job_req_add_header(out, "Idempotency-Key", ctx->idempotency_key);
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
    lx_buf_t path;
    lx_buf_init(&path, 64);
    lx_buf_append_lit(&path, "/videos/");
    if (lx_media_id_segment(&path, ctx->job_id, err, errlen) != LX_OK) {
        lx_buf_free(&path);
        return LX_ERROR;
    }
    const char *method = op == LX_JOB_OP_CANCEL ? "DELETE" : "GET";
    if (op == LX_JOB_OP_CONTENT) {
        lx_buf_append_lit(&path, "/content");
        if (ctx->variant && *ctx->variant) {
            lx_buf_append_lit(&path, "?variant=");
            lx_job_query_value(&path, ctx->variant);
        }
    }
    lx_job_req_start(out, method, ctx->base_url, path.p, ctx->key);
    lx_buf_free(&path);
    return LX_OK;
}

/* A failed video: permanent unless the provider blames itself. */
static bool failure_transient(const char *code)
{
    return code && (strstr(code, "internal") || strstr(code, "server_error") ||
                    strstr(code, "timeout") || strstr(code, "unavailable"));
}

static void parse_video(const json_t *v, lx_job_result_t *out)
{
    if (lx_job_take_id(out, json_object_get(v, "id")) != LX_OK) {
        lx_job_result_fail(out, LX_JOB_NONE, "bad_answer", "the provider's video has no id", false);
        return;
    }
    const char *status = json_string_value(json_object_get(v, "status"));
    json_t *progress = json_object_get(v, "progress");
    if (json_is_number(progress))
        out->progress = lx_media_progress(json_number_value(progress), 100);
    if (status == NULL) {
        lx_job_result_fail(out, LX_JOB_NONE, "bad_answer", "the provider's video has no status",
                           false);
    } else if (strcmp(status, "queued") == 0) {
        out->state = LX_JOB_QUEUED;
    } else if (strcmp(status, "in_progress") == 0) {
        out->state = LX_JOB_RUNNING;
    } else if (strcmp(status, "completed") == 0) {
        out->state = LX_JOB_SUCCEEDED;
        out->progress = 100;
        json_t *meta = json_object();
        static const char *const keep[] = {"model",      "seconds",      "size",
                                           "created_at", "completed_at", "expires_at"};
        for (size_t i = 0; i < LX_ARRAY_LEN(keep); i++) {
            json_t *x = json_object_get(v, keep[i]);
            if (x && !json_is_null(x))
                json_object_set(meta, keep[i], x);
        }
        /* The file is fetched through the content operation (it needs the
         * credential), not from a public URL. */
        out->output = json_pack("{s:[],s:s,s:o}", "urls", "content", "provider", "metadata", meta);
    } else if (strcmp(status, "failed") == 0) {
        json_t *e = json_object_get(v, "error");
        const char *code = json_string_value(json_object_get(e, "code"));
        const char *msg = json_string_value(json_object_get(e, "message"));
        lx_job_result_fail(out, LX_JOB_FAILED, code && *code ? code : "video_failed",
                           msg ? msg : "the provider failed the video", !failure_transient(code));
    } else if (strcmp(status, "cancelled") == 0) {
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
    if (op == LX_JOB_OP_CONTENT) {
        out->state = LX_JOB_SUCCEEDED;
        return;
    }
    if (op == LX_JOB_OP_CANCEL) {
        out->state = LX_JOB_CANCELLED;
        json_t *v = lx_job_answer_json(ans, out);
        if (v)
            lx_job_take_id(out, json_object_get(v, "id"));
        out->state = LX_JOB_CANCELLED; /* a 2xx deletes it, whatever the body says */
        out->error_code[0] = '\0';
        free(out->error_message);
        out->error_message = NULL;
        json_decref(v);
        return;
    }
    json_t *v = lx_job_answer_json(ans, out);
    if (v == NULL)
        return;
    parse_video(v, out);
    json_decref(v);
}

const lx_media_adapter_t lx_media_openai_videos = {
    .name = "openai-videos",
    .ops = (1u << LX_JOB_OP_SUBMIT) | (1u << LX_JOB_OP_POLL) | (1u << LX_JOB_OP_CANCEL) |
           (1u << LX_JOB_OP_CONTENT),
    .idempotent_submit = true,
    .build = build,
    .parse = parse,
};
