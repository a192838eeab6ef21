/* generic.c - the generic job adapter's build and parse, driven by the
 * settings generic_conf.c checked. */
#include "core/json.h"
#include "media/adapter_int.h"
#include "media/generic_int.h"
#include "media/jpath.h"
#include "media/template.h"

#include <stdio.h>
#include <stdlib.h>

/* Fields of the normalized input that are llmux's, not the provider's. */
static const char *const own_fields[] = {"type", "callback_url", "metadata"};

static json_t *pass_through(const json_t *input)
{
    json_t *body = json_deep_copy(input);
    if (!json_is_object(body)) {
        json_decref(body);
        return json_object();
    }
    for (size_t i = 0; i < LX_ARRAY_LEN(own_fields); i++)
        json_object_del(body, own_fields[i]);
    return body;
}

int lx_generic_build(const lx_media_adapter_t *a, lx_job_op_t op, const lx_job_ctx_t *ctx,
                     lx_job_req_t *out, char *err, size_t errlen)
{
    const lx_generic_t *g = a->conf;
    memset(out, 0, sizeof *out);
    if ((unsigned)op >= LX_JOB_OP__COUNT || g->call[op].method == NULL) {
        snprintf(err, errlen, "this provider's settings have no %s call", lx_job_op_name(op));
        return LX_ERROR;
    }
    if (op != LX_JOB_OP_SUBMIT && (ctx->job_id == NULL || *ctx->job_id == '\0')) {
        snprintf(err, errlen, "no provider job id");
        return LX_ERROR;
    }
    lx_buf_t path;
    lx_buf_init(&path, 64);
    if (lx_tpl_path_fill(&path, g->call[op].path, ctx->job_id, ctx->input) != LX_OK) {
        lx_buf_free(&path);
        snprintf(err, errlen, "the %s path needs a value that is missing or unusable",
                 lx_job_op_name(op));
        return LX_ERROR;
    }
    lx_job_req_start(out, g->call[op].method, ctx->base_url, path.p, NULL);
    lx_buf_free(&path);
    if (ctx->key && *ctx->key) {
        lx_buf_t h;
        lx_buf_init(&h, 64);
        lx_buf_append_cstr(&h, g->auth_prefix);
        lx_buf_append_cstr(&h, ctx->key);
        lx_job_req_add_header(out, g->auth_header, h.p);
        lx_buf_free(&h);
    }
    if (op == LX_JOB_OP_SUBMIT) {
        if (g->idempotency_header && ctx->idempotency_key && *ctx->idempotency_key)
            lx_job_req_add_header(out, g->idempotency_header, ctx->idempotency_key);
        json_t *body = g->body ? lx_tpl_body_fill(g->body, ctx->input, ctx->idempotency_key)
                               : pass_through(ctx->input);
        lx_job_req_set_json(out, body);
        json_decref(body);
    }
    return LX_OK;
}

/* The job's status as text ("done", or "3" for a number), or NULL. */
static const char *status_text(const json_t *v, char num[24])
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        lx_i64_str(num, json_integer_value(v));
        return num;
    }
    return NULL;
}

static void take_urls(json_t *urls, const json_t *v)
{
    if (json_is_string(v)) {
        json_array_append(urls, (json_t *)v);
        return;
    }
    size_t i;
    json_t *u;
    json_array_foreach(v, i, u)
    {
        if (json_is_string(u))
            json_array_append(urls, u);
    }
}

static void parse_state(const lx_generic_t *g, const json_t *v, lx_job_result_t *out)
{
    char num[24];
    json_t *sv = lx_jpath_get(v, g->status_path);
    const char *status = status_text(sv, num);
    if (status == NULL) {
        lx_job_result_fail(out, LX_JOB_NONE, "bad_answer",
                           "the provider's answer has no status where status_path says", false);
        return;
    }
    lx_job_state_t st = LX_JOB_NONE;
    for (int i = 0; i < g->n_states && st == LX_JOB_NONE; i++)
        if (strcmp(g->states[i].name, status) == 0)
            st = g->states[i].state;
    if (st == LX_JOB_NONE) {
        lx_media_unknown_status(out, status);
        return;
    }
    if (g->progress_path) {
        json_t *p = lx_jpath_get(v, g->progress_path);
        if (json_is_number(p))
            out->progress = lx_media_progress(json_number_value(p), g->progress_scale);
    }
    if (st == LX_JOB_SUCCEEDED) {
        json_t *urls = json_array();
        for (int i = 0; i < g->n_outputs; i++)
            take_urls(urls, lx_jpath_get(v, g->outputs[i]));
        if (json_array_size(urls) == 0 && g->call[LX_JOB_OP_CONTENT].method == NULL) {
            json_decref(urls);
            lx_job_result_fail(out, LX_JOB_NONE, "bad_answer",
                               "the provider's job succeeded without output URLs", false);
            return;
        }
        out->state = st;
        out->progress = 100;
        out->output = json_pack("{s:o,s:{}}", "urls", urls, "metadata");
        if (g->call[LX_JOB_OP_CONTENT].method)
            json_object_set_new(out->output, "content", json_string("provider"));
    } else if (st == LX_JOB_FAILED) {
        json_t *e = g->error_path ? lx_jpath_get(v, g->error_path) : NULL;
        json_t *c = g->error_code_path ? lx_jpath_get(v, g->error_code_path) : NULL;
        char *text = json_is_string(e) ? NULL : (e ? lx_json_text(e, NULL) : NULL);
        const char *msg = json_is_string(e) ? json_string_value(e) : text;
        lx_job_result_fail(out, LX_JOB_FAILED,
                           json_is_string(c) && json_string_length(c) ? json_string_value(c)
                                                                      : "job_failed",
                           msg ? msg : "the provider failed the job", true);
        free(text);
    } else {
        out->state = st;
    }
}

void lx_generic_parse(const lx_media_adapter_t *a, lx_job_op_t op, const lx_job_answer_t *ans,
                      lx_job_result_t *out)
{
    const lx_generic_t *g = a->conf;
    if (ans->status < 200 || ans->status > 299) {
        lx_job_http_error(ans, out);
        return;
    }
    if (op == LX_JOB_OP_CANCEL || op == LX_JOB_OP_CONTENT) {
        out->state = op == LX_JOB_OP_CANCEL ? LX_JOB_CANCELLED : LX_JOB_SUCCEEDED;
        return;
    }
    json_t *v = lx_job_answer_json(ans, out);
    if (v == NULL)
        return;
    if (op == LX_JOB_OP_SUBMIT) {
        char num[24];
        json_t *id = lx_jpath_get(v, g->job_id_path);
        const char *s = status_text(id, num);
        json_t *sid = s ? json_string(s) : NULL;
        if (lx_job_take_id(out, sid) != LX_OK) {
            lx_job_result_fail(out, LX_JOB_NONE, "bad_answer",
                               "the provider's answer has no job id where job_id_path says", false);
        } else if (lx_jpath_get(v, g->status_path) != NULL) {
            parse_state(g, v, out); /* some answer a state at once */
        } else {
            out->state = LX_JOB_QUEUED;
            out->progress = 0;
        }
        json_decref(sid);
    } else {
        parse_state(g, v, out);
    }
    json_decref(v);
}
