/* routes.c - the media routes (routes.h). Each waits for one task-store
 * answer; an rctx_t carries the request until then, and a client that
 * left is finished when the answer comes. Native routes answer the task
 * object; /v1/videos answers OpenAI video objects (input.h). */
#include "media/routes.h"
#include "media/input.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#define NATIVE  "/api/v1/media/"
#define OLD     "/api/v1/ai/media/"
#define OPENAI  "/v1/videos"
#define VIDEO_T "video.generate"

static const char *str_or(const char *s)
{
    return s ? s : "";
}

typedef enum { A_NATIVE, A_VIDEO, A_LIST, A_DELETE, A_CONTENT } act_t;

typedef struct {
    lx_req_t *req;
    lx_media_http_t *h;
    act_t act;
    lx_task_caller_t who;
    bool gone;
} rctx_t;

static void on_abort(lx_req_t *req, void *arg)
{
    ((rctx_t *)arg)->gone = true;
}

static rctx_t *rctx_new(lx_req_t *req, lx_media_http_t *h, act_t act, const lx_task_caller_t *who)
{
    rctx_t *c = calloc(1, sizeof *c);
    if (c) {
        *c = (rctx_t){.req = req, .h = h, .act = act, .who = *who};
        lx_req_on_abort(req, on_abort, c);
    }
    return c;
}

static int started(lx_req_t *req, rctx_t *c, int rc)
{
    if (rc == LX_OK)
        return LX_AGAIN;
    if (c) {
        lx_req_on_abort(req, NULL, NULL);
        free(c);
    }
    lx_req_reply_error(req, LX_E_UNAVAILABLE, "the task store is busy; try again", NULL);
    return LX_OK;
}

static json_t *video_object(const json_t *t)
{
    const json_t *in = json_object_get(t, "input");
    const json_t *e = json_object_get(t, "error");
    const char *st = json_string_value(json_object_get(t, "status"));
    lx_media_video_view_t v = {
        .id = json_string_value(json_object_get(t, "id")),
        .model = json_string_value(json_object_get(in, "model")),
        .status = st ? st : "queued",
        .progress = (int)json_integer_value(json_object_get(t, "progress")),
        .created_at = json_integer_value(json_object_get(t, "created_unix")),
        .completed_at = st && strcmp(st, "succeeded") == 0
                            ? json_integer_value(json_object_get(t, "finished_unix"))
                            : 0,
        .prompt = json_string_value(json_object_get(in, "prompt")),
        .size = json_string_value(json_object_get(in, "size")),
        .seconds = (int)json_integer_value(json_object_get(in, "seconds")),
        .error_code = json_string_value(json_object_get(e, "code")),
        .error_message = json_string_value(json_object_get(e, "message")),
    };
    return lx_media_openai_video_object(&v);
}

/* The task store's answer, for every action. */
static void answer(json_t *task, lx_err_t err, void *arg)
{
    rctx_t *c = arg;
    lx_req_t *req = c->req;
    lx_req_on_abort(req, NULL, NULL);
    act_t act = c->act;
    lx_media_http_t *h = c->h;
    bool gone = c->gone;
    free(c);
    if (gone) {
        json_decref(task);
        lx_req_finish(req);
        return;
    }
    if (err == LX_E_NOT_FOUND) {
        lx_req_reply_error(req, err, act == A_NATIVE ? "no such task" : "no such video", NULL);
    } else if (err == LX_E_CONFLICT && act == A_DELETE) {
        err = LX_E_NONE; /* finished already: deleting it still succeeds */
    } else if (err != LX_E_NONE) {
        lx_req_reply_error(
            req, err == LX_E_UNAVAILABLE ? err : LX_E_INTERNAL,
            err == LX_E_UNAVAILABLE ? "the task store is not available; try again" : NULL, NULL);
    }
    if (err != LX_E_NONE) {
        json_decref(task);
        return;
    }
    switch (act) {
    case A_NATIVE:
        lx_task_runner_kick(h->runner);
        lx_req_reply_json(req, 202, json_incref(task));
        break;
    case A_VIDEO:
        if (strcmp(str_or(json_string_value(json_object_get(task, "type"))), VIDEO_T) != 0)
            lx_req_reply_error(req, LX_E_NOT_FOUND, "no such video", NULL);
        else
            lx_req_reply_json(req, 200, video_object(task));
        break;
    case A_DELETE:
        lx_req_reply_json(req, 200,
                          json_pack("{s:O, s:s, s:b}", "id", json_object_get(task, "id"), "object",
                                    "video.deleted", "deleted", 1));
        break;
    case A_CONTENT:
        lx_media_content(h, req, task);
        break;
    case A_LIST: {
        json_t *data = json_array(), *src = json_object_get(task, "data");
        size_t i;
        json_t *t;
        json_array_foreach(src, i, t) json_array_append_new(data, video_object(t));
        size_t n = json_array_size(data);
        json_t *first = n ? json_object_get(json_array_get(data, 0), "id") : NULL;
        json_t *last = n ? json_object_get(json_array_get(data, n - 1), "id") : NULL;
        lx_req_reply_json(req, 200,
                          json_pack("{s:s, s:o, s:O?, s:O?, s:O}", "object", "list", "data", data,
                                    "first_id", first, "last_id", last, "has_more",
                                    json_object_get(task, "has_more")));
        break;
    }
    }
    json_decref(task);
}

/* For POST /v1/videos: the stored task read back whole (its input and
 * times), rendered as a video object. */
static void submitted_video(json_t *task, lx_err_t err, void *arg)
{
    rctx_t *c = arg;
    if (err != LX_E_NONE || c->gone) {
        answer(task, err, arg);
        return;
    }
    lx_task_runner_kick(c->h->runner);
    char id[LX_TASK_ID_MAX];
    snprintf(id, sizeof id, "%s", str_or(json_string_value(json_object_get(task, "id"))));
    json_decref(task);
    c->act = A_VIDEO;
    if (lx_task_get_full(c->h->pg, id, &c->who, answer, c) != LX_OK)
        answer(NULL, LX_E_UNAVAILABLE, c);
}

static int submit(lx_req_t *req, lx_media_http_t *h, const lx_task_caller_t *who,
                  lx_media_kind_t kind, json_t *input, bool openai)
{
    const char *model = json_string_value(json_object_get(input, "model"));
    lx_media_target_t t = {0};
    char err[256] = "";
    lx_media_resolve_fn resolve = lx_media_resolver();
    if (resolve == NULL || resolve(model, kind, NULL, &t, err, sizeof err) != LX_OK) {
        json_decref(input);
        lx_req_reply_error(req, LX_E_MODEL_NOT_FOUND,
                           err[0] ? err : "no provider serves this model", "model");
        return LX_OK;
    }
    if (h->admit && !h->admit(req, h->admit_arg, model, kind)) {
        lx_media_target_free(&t);
        json_decref(input);
        return LX_OK; /* refused and replied */
    }
    lx_task_new_t nt = {
        .type = kind == LX_MEDIA_VIDEO ? VIDEO_T : "image.generate",
        .input = input,
        .provider = t.provider,
        .credential_id = t.credential_id,
        .callback_url = json_string_value(json_object_get(input, "callback_url")),
        .owner = *who,
    };
    rctx_t *c = rctx_new(req, h, A_NATIVE, who);
    char id[LX_TASK_ID_MAX];
    int rc = c ? lx_task_submit(h->pg, h->conf, &nt, id, openai ? submitted_video : answer, c)
               : LX_ERROR;
    lx_media_target_free(&t);
    json_decref(input);
    return started(req, c, rc);
}

static json_t *client_body(lx_req_t *req, bool allow_form)
{
    const char *ct = lx_req_header(req, "content-type");
    if (allow_form && ct && strncasecmp(ct, "multipart/form-data", 19) == 0) {
        lx_str_t b = lx_req_body(req);
        char bad[64];
        json_t *o = lx_media_multipart(ct, b.p, b.n, bad, sizeof bad);
        if (o == NULL) {
            char msg[160];
            if (bad[0])
                snprintf(msg, sizeof msg, "file uploads are not supported (%s): send an image URL",
                         bad);
            lx_req_reply_error(req, LX_E_BAD_REQUEST,
                               bad[0] ? msg : "the multipart/form-data body is malformed",
                               bad[0] ? bad : NULL);
        }
        return o;
    }
    return lx_req_json_body(req); /* NULL: replied */
}

static int native(lx_req_t *req, lx_media_http_t *h, const lx_task_caller_t *who, lx_str_t rest)
{
    lx_media_kind_t kind;
    if (lx_str_eq_cstr(rest, "videos"))
        kind = LX_MEDIA_VIDEO;
    else if (lx_str_eq_cstr(rest, "images"))
        kind = LX_MEDIA_IMAGE;
    else {
        lx_req_reply_error(req, LX_E_NOT_FOUND, "no such route", NULL);
        return LX_OK;
    }
    if (!lx_str_eq_cstr(lx_req_method(req), "POST")) {
        lx_req_reply_error(req, LX_E_METHOD_NOT_ALLOWED, NULL, NULL);
        return LX_OK;
    }
    json_t *body = client_body(req, false);
    if (body == NULL)
        return LX_OK;
    lx_media_problem_t p;
    json_t *in =
        kind == LX_MEDIA_VIDEO ? lx_media_video_input(body, &p) : lx_media_image_input(body, &p);
    json_decref(body);
    if (in == NULL) {
        lx_req_reply_error(req, LX_E_BAD_REQUEST, p.message, p.param[0] ? p.param : NULL);
        return LX_OK;
    }
    return submit(req, h, who, kind, in, false);
}

static int openai(lx_req_t *req, lx_media_http_t *h, const lx_task_caller_t *who, lx_str_t rest)
{
    lx_str_t m = lx_req_method(req);
    bool get = lx_str_eq_cstr(m, "GET"), post = lx_str_eq_cstr(m, "POST"),
         del = lx_str_eq_cstr(m, "DELETE");
    if (rest.n == 0) {
        if (post) {
            json_t *body = client_body(req, true);
            if (body == NULL)
                return LX_OK;
            lx_media_problem_t p;
            json_t *in = lx_media_openai_video_input(body, &p);
            json_decref(body);
            if (in == NULL) {
                lx_req_reply_error(req, LX_E_BAD_REQUEST, p.message, p.param[0] ? p.param : NULL);
                return LX_OK;
            }
            return submit(req, h, who, LX_MEDIA_VIDEO, in, true);
        }
        if (!get) {
            lx_req_reply_error(req, LX_E_METHOD_NOT_ALLOWED, NULL, NULL);
            return LX_OK;
        }
        const char *after = lx_req_query(req, "after"), *limit = lx_req_query(req, "limit"),
                   *order = lx_req_query(req, "order");
        int lim = 20;
        if (limit) {
            char *end;
            long v = strtol(limit, &end, 10);
            if (*limit == '\0' || *end != '\0' || v < 1 || v > 100) {
                lx_req_reply_error(req, LX_E_BAD_REQUEST, "limit must be from 1 to 100", "limit");
                return LX_OK;
            }
            lim = (int)v;
        }
        if (order && strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0) {
            lx_req_reply_error(req, LX_E_BAD_REQUEST, "order must be asc or desc", "order");
            return LX_OK;
        }
        if (after && !lx_task_id_valid(after, strlen(after))) {
            lx_req_reply_error(req, LX_E_BAD_REQUEST, "after must be a video id", "after");
            return LX_OK;
        }
        rctx_t *c = rctx_new(req, h, A_LIST, who);
        int rc = c ? lx_task_list_full(h->pg, who, VIDEO_T, after,
                                       order && strcmp(order, "asc") == 0, lim, answer, c)
                   : LX_ERROR;
        return started(req, c, rc);
    }
    if (rest.p[0] != '/') {
        lx_req_reply_error(req, LX_E_NOT_FOUND, "no such route", NULL);
        return LX_OK;
    }
    const char *id = rest.p + 1;
    size_t n = rest.n - 1;
    bool content = n > 8 && memcmp(id + n - 8, "/content", 8) == 0;
    if (content)
        n -= 8;
    if (!lx_task_id_valid(id, n)) {
        lx_req_reply_error(req, LX_E_NOT_FOUND, "no such video", NULL);
        return LX_OK;
    }
    if (content ? !get : !(get || del)) {
        lx_req_reply_error(req, LX_E_METHOD_NOT_ALLOWED, NULL, NULL);
        return LX_OK;
    }
    char buf[LX_TASK_ID_MAX];
    memcpy(buf, id, n);
    buf[n] = '\0';
    rctx_t *c = rctx_new(req, h, content ? A_CONTENT : del ? A_DELETE : A_VIDEO, who);
    if (c == NULL)
        return started(req, c, LX_ERROR);
    int rc = del ? lx_task_cancel(h->pg, buf, who, answer, c)
                 : lx_task_get_full(h->pg, buf, who, answer, c);
    return started(req, c, rc);
}

static int redirect(lx_req_t *req)
{
    lx_str_t path = lx_req_path(req), q = lx_req_query_raw(req);
    lx_buf_t loc;
    lx_buf_init(&loc, 128);
    lx_buf_append_cstr(&loc, NATIVE);
    lx_buf_append(&loc, path.p + sizeof OLD - 1, path.n - (sizeof OLD - 1));
    if (q.n) {
        lx_buf_append_char(&loc, '?');
        lx_buf_append(&loc, q.p, q.n);
    }
    lx_buf_append_char(&loc, '\0');
    if (lx_req_set_header(req, "Location", loc.p) != LX_OK) {
        lx_buf_free(&loc);
        lx_req_reply_error(req, LX_E_BAD_REQUEST, "invalid path", NULL);
        return LX_OK;
    }
    lx_buf_free(&loc);
    static const char body[] = "{\"moved\":\"/api/v1/media/\"}";
    lx_req_reply(req, 308, "application/json", body, sizeof body - 1);
    return LX_OK;
}

static int handler(lx_req_t *req, void *arg)
{
    lx_media_http_t *h = arg;
    lx_str_t path = lx_req_path(req);
    bool old = path.n >= sizeof OLD - 1 && memcmp(path.p, OLD, sizeof OLD - 1) == 0;
    if (old)
        return redirect(req);
    bool nat = path.n >= sizeof NATIVE - 1 && memcmp(path.p, NATIVE, sizeof NATIVE - 1) == 0;
    if (!nat && path.n > sizeof OPENAI - 1 && path.p[sizeof OPENAI - 1] != '/') {
        lx_req_reply_error(req, LX_E_NOT_FOUND, "no such route", NULL);
        return LX_OK;
    }
    lx_task_caller_t who = {0};
    if (!h->auth(req, h->auth_arg, &who))
        return LX_OK; /* 401 replied */
    if (h->pg == NULL) {
        lx_req_reply_error(req, LX_E_UNAVAILABLE, "media tasks need a database (database_url)",
                           NULL);
        return LX_OK;
    }
    if (nat)
        return native(req, h, &who,
                      (lx_str_t){path.p + sizeof NATIVE - 1, path.n - (sizeof NATIVE - 1)});
    return openai(req, h, &who,
                  (lx_str_t){path.p + sizeof OPENAI - 1, path.n - (sizeof OPENAI - 1)});
}

size_t lx_media_routes(lx_media_http_t *h, lx_route_t *routes, size_t cap)
{
    const lx_route_t table[] = {
        {NULL, OLD, handler, h, LX_ROUTE_PREFIX},
        {NULL, NATIVE, handler, h, LX_ROUTE_PREFIX},
        {NULL, OPENAI, handler, h, LX_ROUTE_PREFIX},
    };
    size_t n = LX_MIN(cap, LX_ARRAY_LEN(table));
    memcpy(routes, table, n * sizeof *routes);
    return n;
}
