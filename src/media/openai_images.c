/* openai_images.c - OpenAI's synchronous image API as a job adapter:
 * POST {base}/images/generations {model, prompt, n, size, quality, style,
 * background, output_format, response_format} answers {created, data:
 * [{url | b64_json, revised_prompt}], usage} at once, so the submit's result
 * is already terminal (succeeded, the images in output) and images run as
 * tasks through the same executor path as video. Submit only. */
#include "media/adapter.h"
#include "media/adapter_int.h"

#include <stdio.h>
#include <stdlib.h>

static const char *const passed[] = {"size",       "quality",       "style",
                                     "background", "output_format", "response_format"};

static int build(const lx_media_adapter_t *a, lx_job_op_t op, const lx_job_ctx_t *ctx,
                 lx_job_req_t *out, char *err, size_t errlen)
{
    LX_UNUSED(a);
    memset(out, 0, sizeof *out);
    if (op != LX_JOB_OP_SUBMIT) {
        snprintf(err, errlen, "images are synchronous: there is no %s call", lx_job_op_name(op));
        return LX_ERROR;
    }
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
    json_t *n = json_object_get(in, "n");
    if (json_is_integer(n))
        json_object_set_new(body, "n", json_integer(json_integer_value(n)));
    for (size_t i = 0; i < LX_ARRAY_LEN(passed); i++) {
        const char *s = lx_media_in_str(in, passed[i]);
        if (s)
            json_object_set_new(body, passed[i], json_string(s));
    }
    lx_job_req_start(out, "POST", ctx->base_url, "/images/generations", ctx->key);
    lx_job_req_set_json(out, body);
    json_decref(body);
    return LX_OK;
}

static void parse(const lx_media_adapter_t *a, lx_job_op_t op, const lx_job_answer_t *ans,
                  lx_job_result_t *out)
{
    LX_UNUSED(a);
    LX_UNUSED(op);
    if (ans->status < 200 || ans->status > 299) {
        lx_job_http_error(ans, out);
        return;
    }
    json_t *v = lx_job_answer_json(ans, out);
    if (v == NULL)
        return;
    json_t *urls = json_array(), *images = json_array();
    json_t *data = json_object_get(v, "data");
    size_t i;
    json_t *d;
    json_array_foreach(data, i, d)
    {
        json_t *url = json_object_get(d, "url"), *b64 = json_object_get(d, "b64_json");
        json_t *img = json_object();
        if (json_is_string(url)) {
            json_array_append(urls, url);
            json_object_set(img, "url", url);
        } else if (json_is_string(b64)) {
            json_object_set(img, "b64_json", b64);
        } else {
            json_decref(img);
            continue;
        }
        json_t *rp = json_object_get(d, "revised_prompt");
        if (json_is_string(rp))
            json_object_set(img, "revised_prompt", rp);
        json_array_append_new(images, img);
    }
    if (json_array_size(images) == 0) {
        json_decref(urls);
        json_decref(images);
        json_decref(v);
        lx_job_result_fail(out, LX_JOB_NONE, "bad_answer", "the provider's answer has no images",
                           false);
        return;
    }
    json_t *meta = json_object();
    static const char *const keep[] = {"created", "usage",         "size",
                                       "quality", "output_format", "background"};
    for (size_t k = 0; k < LX_ARRAY_LEN(keep); k++) {
        json_t *x = json_object_get(v, keep[k]);
        if (x && !json_is_null(x))
            json_object_set(meta, keep[k], x);
    }
    out->state = LX_JOB_SUCCEEDED;
    out->progress = 100;
    out->output = json_pack("{s:o,s:o,s:o}", "urls", urls, "images", images, "metadata", meta);
    json_decref(v);
}

const lx_media_adapter_t lx_media_openai_images = {
    .name = "openai-images",
    .ops = 1u << LX_JOB_OP_SUBMIT,
    .idempotent_submit = false,
    .build = build,
    .parse = parse,
};
