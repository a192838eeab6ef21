/* content.c - GET /v1/videos/{id}/content (routes.h): the provider's file
 * streamed to the client through the worker's upstream client, never held
 * whole: each piece is written as it comes, and the transfer pauses while
 * the client's output holds more than HIGH_WATER bytes. The client's Range
 * goes to the provider; its status (200, 206, 416) and Content-Range,
 * Content-Length, Content-Type and Accept-Ranges come back. A provider
 * error before the first byte is an OpenAI-shaped error; after it, the
 * body ends short. The stream_t lives from the call's start to its on_done
 * or the client's abort, whichever is first. */
#include "media/routes.h"

#include <stdio.h>
#include <stdlib.h>

#define HIGH_WATER (1u << 20)
#define MAX_ERROR  4096

typedef struct {
    lx_req_t *req;
    lx_up_call_t *call;
    lx_buf_t err; /* a non-2xx answer's body */
    int status;
    bool streaming, paused;
    lx_media_target_t target;
} stream_t;

static void st_free(stream_t *s)
{
    lx_media_target_free(&s->target);
    lx_buf_free(&s->err);
    free(s);
}

static void on_abort(lx_req_t *req, void *arg)
{
    stream_t *s = arg;
    lx_up_call_cancel(s->call);
    lx_req_on_drain(req, 0, NULL, NULL);
    lx_req_finish(req);
    st_free(s);
}

static void on_drain(lx_req_t *req, void *arg)
{
    stream_t *s = arg;
    if (s->paused) {
        s->paused = false;
        lx_up_call_resume(s->call);
    }
}

static void on_headers(lx_up_call_t *call, int status, void *arg)
{
    stream_t *s = arg;
    s->status = status;
    if (status < 200 || status > 299)
        return;
    static const char *const pass[] = {"Content-Type", "Content-Range", "Accept-Ranges",
                                       "Content-Disposition"};
    for (size_t i = 0; i < LX_ARRAY_LEN(pass); i++) {
        const char *v = lx_up_call_header(call, pass[i]);
        if (v && i > 0)
            lx_req_set_header(s->req, pass[i], v);
    }
    const char *ct = lx_up_call_header(call, "Content-Type");
    lx_req_stream_start(s->req, status, ct ? ct : "video/mp4");
    s->streaming = true;
}

static int on_data(lx_up_call_t *call, const char *p, size_t n, void *arg)
{
    stream_t *s = arg;
    if (!s->streaming) {
        if (s->err.n + n <= MAX_ERROR)
            lx_buf_append(&s->err, p, n);
        return LX_OK;
    }
    if (lx_req_pending_bytes(s->req) > HIGH_WATER) {
        s->paused = true;
        lx_req_on_drain(s->req, HIGH_WATER / 2, on_drain, s);
        return LX_AGAIN;
    }
    return lx_req_stream_write(s->req, p, n) ? LX_OK : LX_ERROR;
}

static void on_done(lx_up_call_t *call, const lx_up_result_t *res, void *arg)
{
    stream_t *s = arg;
    lx_req_t *req = s->req;
    lx_req_on_abort(req, NULL, NULL);
    lx_req_on_drain(req, 0, NULL, NULL);
    if (s->streaming) {
        lx_req_stream_end(req); /* short if the transfer broke: Content-Length tells */
    } else if (res->outcome != LX_UP_OK) {
        lx_req_reply_error(req, LX_E_UPSTREAM, "the provider did not send the content", NULL);
    } else {
        lx_job_answer_t ans = {.status = s->status, .body = s->err.p, .body_len = s->err.n};
        lx_job_result_t r;
        lx_job_result_init(&r);
        lx_job_http_error(&ans, &r);
        int st = s->status == 404 || s->status == 416 ? s->status : 502;
        lx_req_reply_error_status(
            req, st, st == 404 ? LX_E_NOT_FOUND : LX_E_UPSTREAM,
            r.error_message ? r.error_message : "the provider refused the content", NULL);
        lx_job_result_free(&r);
    }
    st_free(s);
}

void lx_media_content(lx_media_http_t *h, lx_req_t *req, const json_t *task)
{
    const char *st = json_string_value(json_object_get(task, "status"));
    const char *type = json_string_value(json_object_get(task, "type"));
    if (type == NULL || strcmp(type, "video.generate") != 0) {
        lx_req_reply_error(req, LX_E_NOT_FOUND, "no such video", NULL);
        return;
    }
    if (st == NULL || strcmp(st, "succeeded") != 0) {
        lx_req_reply_error(req, LX_E_NOT_FOUND, "the video is not ready (it has not completed)",
                           NULL);
        return;
    }
    const char *variant = lx_req_query(req, "variant");
    if (variant && strcmp(variant, "video") != 0 && strcmp(variant, "thumbnail") != 0 &&
        strcmp(variant, "spritesheet") != 0) {
        lx_req_reply_error(req, LX_E_BAD_REQUEST, "variant must be video, thumbnail or spritesheet",
                           "variant");
        return;
    }
    stream_t *s = calloc(1, sizeof *s);
    if (s == NULL) {
        lx_req_reply_error(req, LX_E_INTERNAL, NULL, NULL);
        return;
    }
    s->req = req;
    lx_buf_init(&s->err, 0);
    const json_t *in = json_object_get(task, "input");
    char err[256] = "";
    lx_media_resolve_fn resolve = lx_media_resolver();
    if (resolve == NULL || resolve(json_string_value(json_object_get(in, "model")), LX_MEDIA_VIDEO,
                                   json_string_value(json_object_get(task, "credential_id")),
                                   &s->target, err, sizeof err) != LX_OK) {
        st_free(s);
        lx_req_reply_error(req, LX_E_UNAVAILABLE, err[0] ? err : "the provider is not available",
                           NULL);
        return;
    }
    const lx_media_adapter_t *a = s->target.adapter;
    lx_job_req_t rq = {0};
    const char *url = NULL;
    if (lx_media_adapter_can(a, LX_JOB_OP_CONTENT)) {
        lx_job_ctx_t ctx = {.base_url = s->target.base_url,
                            .key = s->target.key,
                            .job_id = json_string_value(json_object_get(task, "external_id")),
                            .variant = variant};
        if (a->build(a, LX_JOB_OP_CONTENT, &ctx, &rq, err, sizeof err) != LX_OK) {
            st_free(s);
            lx_req_reply_error(req, LX_E_INTERNAL, err, NULL);
            return;
        }
        url = rq.url;
    } else { /* the output's first URL, fetched without the provider's key */
        url = json_string_value(
            json_array_get(json_object_get(json_object_get(task, "output"), "urls"), 0));
        if (url == NULL || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)) {
            st_free(s);
            lx_req_reply_error(req, LX_E_NOT_FOUND, "the provider gave no content URL", NULL);
            return;
        }
    }
    char *lines[LX_JOB_MAX_HEADERS + 1];
    int nl = 0;
    for (int i = 0; i < rq.n_headers; i++) {
        size_t n = strlen(rq.headers[i].name) + strlen(rq.headers[i].value) + 3;
        if ((lines[nl] = malloc(n)) != NULL)
            snprintf(lines[nl++], n, "%s: %s", rq.headers[i].name, rq.headers[i].value);
    }
    const char *range = lx_req_header(req, "range");
    if (range && strlen(range) < 200 && strchr(range, '\r') == NULL &&
        strchr(range, '\n') == NULL) {
        size_t n = strlen(range) + 8;
        if ((lines[nl] = malloc(n)) != NULL)
            snprintf(lines[nl++], n, "Range: %s", range);
    }
    lx_up_request_t ur = {
        .method = "GET",
        .url = url,
        .headers = (const char *const *)lines,
        .nheaders = nl,
        .timeouts = {.connect_ms = 5000,
                     .first_byte_ms = 60000,
                     .idle_ms = 60000,
                     .total_ms = 3600000},
        .transport = &s->target.transport,
    };
    static const lx_up_handlers_t handlers = {on_headers, on_data, on_done};
    s->call = lx_up_call_start(h->up, &ur, &handlers, s);
    for (int i = 0; i < nl; i++) {
        explicit_bzero(lines[i], strlen(lines[i]));
        free(lines[i]);
    }
    lx_job_req_free(&rq);
    if (s->call == NULL) {
        st_free(s);
        lx_req_reply_error(req, LX_E_UNAVAILABLE, "could not reach the provider", NULL);
        return;
    }
    lx_req_on_abort(req, on_abort, s);
}
