/* api.c - the task routes (task.h, "HTTP"): list and submit on
 * /api/v1/tasks, read and cancel on /api/v1/tasks/{id}, and the progress
 * stream on /api/v1/tasks/{id}/events. Errors are OpenAI-shaped. A
 * request waiting for the database keeps an rctx; if the client leaves, the
 * answer (or the abort, for a stream) ends the request. */
#include "task/internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#define PREFIX "/api/v1/tasks"

typedef struct {
    lx_req_t *req;
    lx_task_http_t *h;
    lx_task_sub_t *sub;
    bool gone, streaming;
} rctx_t;

static rctx_t *rctx_new(lx_req_t *req, lx_task_http_t *h);

static void on_abort(lx_req_t *req, void *arg)
{
    rctx_t *c = arg;
    c->gone = true;
    if (c->sub) { /* a stream: nothing else will end it */
        lx_task_unsubscribe(c->sub);
        lx_req_finish(req);
        free(c);
    }
}

static rctx_t *rctx_new(lx_req_t *req, lx_task_http_t *h)
{
    rctx_t *c = calloc(1, sizeof *c);
    if (c) {
        c->req = req;
        c->h = h;
        lx_req_on_abort(req, on_abort, c);
    }
    return c;
}

static void reply_err(lx_req_t *req, lx_err_t err, const char *msg)
{
    lx_req_reply_error(req, err, msg, NULL);
}

/* The common answer: the object, or the error. */
static void answer(json_t *task, lx_err_t err, void *arg, int ok_status)
{
    rctx_t *c = arg;
    lx_req_t *req = c->req;
    bool gone = c->gone;
    lx_req_on_abort(req, NULL, NULL);
    free(c);
    if (gone) {
        json_decref(task);
        lx_req_finish(req);
        return;
    }
    if (err == LX_E_NONE) {
        lx_req_reply_json(req, ok_status, task);
        return;
    }
    char msg[160];
    const char *st = json_string_value(json_object_get(task, "status"));
    switch (err) {
    case LX_E_NOT_FOUND:
        reply_err(req, err, "no such task");
        break;
    case LX_E_CONFLICT:
        snprintf(msg, sizeof msg, "the task has already finished (status %s)", st ? st : "?");
        reply_err(req, err, msg);
        break;
    case LX_E_UNAVAILABLE:
        reply_err(req, err, "the task store is not available; try again");
        break;
    default:
        reply_err(req, LX_E_INTERNAL, NULL);
    }
    json_decref(task);
}

static void answer_200(json_t *task, lx_err_t err, void *arg)
{
    answer(task, err, arg, 200);
}

static void answer_202(json_t *task, lx_err_t err, void *arg)
{
    rctx_t *c = arg;
    if (err == LX_E_NONE)
        lx_task_runner_kick(c->h->runner);
    answer(task, err, arg, 202);
}

bool lx_task_id_valid(const char *p, size_t n)
{
    if (n < 1 || n >= LX_TASK_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)p[i]) || p[i] == '_' || p[i] == '-'))
            return false;
    return true;
}

static int started(lx_req_t *req, rctx_t *c, int rc)
{
    if (rc == LX_OK)
        return LX_AGAIN;
    lx_req_on_abort(req, NULL, NULL);
    free(c);
    reply_err(req, LX_E_UNAVAILABLE, "the task store is busy; try again");
    return LX_OK;
}

/* ---- SSE ---- */

static void event_cb(json_t *task, lx_err_t err, void *arg)
{
    rctx_t *c = arg;
    lx_req_t *req = c->req;
    if (!c->streaming) {
        if (err != LX_E_NONE) { /* before the stream: a plain error reply */
            lx_req_on_abort(req, NULL, NULL);
            lx_task_unsubscribe(c->sub);
            free(c);
            reply_err(req, err,
                      err == LX_E_NOT_FOUND ? "no such task" : "the task store is not available");
            return;
        }
        lx_req_set_header(req, "Cache-Control", "no-cache");
        lx_req_stream_start(req, 200, "text/event-stream");
        c->streaming = true;
    }
    bool end = true;
    if (err == LX_E_NONE) {
        const char *st = json_string_value(json_object_get(task, "status"));
        lx_task_status_t s = lx_task_status_parse(st);
        end = lx_task_status_terminal(s);
        char *data = json_dumps(task, JSON_COMPACT);
        char head[64];
        int n = snprintf(head, sizeof head, "event: %s\ndata: ", end ? st : "progress");
        lx_req_stream_write(req, head, (size_t)n);
        lx_req_stream_write(req, data, strlen(data));
        lx_req_stream_write(req, "\n\n", 2);
        free(data);
    } else {
        static const char e[] = "event: error\ndata: {\"error\":{\"message\":\"the task store is "
                                "not available\",\"type\":\"server_error\"}}\n\n";
        lx_req_stream_write(req, e, sizeof e - 1);
    }
    if (end) {
        lx_req_on_abort(req, NULL, NULL);
        lx_task_unsubscribe(c->sub);
        free(c);
        lx_req_stream_end(req);
    }
}

/* ---- routes ---- */

static int submit(lx_req_t *req, lx_task_http_t *h, const lx_task_caller_t *who)
{
    json_t *body = lx_req_json_body(req);
    if (body == NULL)
        return LX_OK; /* 400 replied */
    const char *type = json_string_value(json_object_get(body, "type"));
    json_t *input = json_object_get(body, "input");
    json_t *prio = json_object_get(body, "priority");
    json_t *cb = json_object_get(body, "callback_url");
    const lx_task_executor_t *ex = type ? lx_task_executor(type) : NULL;
    char provider[128] = "", cred[128] = "", msg[256] = "";
    const char *bad = NULL, *param = NULL;
    if (type == NULL)
        bad = "type is required", param = "type";
    else if (ex == NULL || ex->prepare == NULL)
        bad = "unknown task type", param = "type";
    else if (input && !json_is_object(input))
        bad = "input must be an object", param = "input";
    else if (prio && (!json_is_integer(prio) || json_integer_value(prio) < -1000 ||
                      json_integer_value(prio) > 1000))
        bad = "priority must be an integer from -1000 to 1000", param = "priority";
    else if (cb && (!json_is_string(cb) ||
                    (strncmp(json_string_value(cb), "http://", 7) != 0 &&
                     strncmp(json_string_value(cb), "https://", 8) != 0) ||
                    json_string_length(cb) > 2048))
        bad = "callback_url must be an http(s) URL", param = "callback_url";
    json_t *in = input ? input : json_object();
    if (bad == NULL && ex->prepare(in, provider, cred, msg) != LX_OK)
        bad = msg, param = "input";
    if (bad) {
        if (!input)
            json_decref(in);
        lx_req_reply_error(req, LX_E_BAD_REQUEST, bad, param);
        json_decref(body);
        return LX_OK;
    }
    lx_task_new_t t = {
        .type = type,
        .input = in,
        .priority = prio ? (int)json_integer_value(prio) : 0,
        .provider = provider[0] ? provider : NULL,
        .credential_id = cred[0] ? cred : NULL,
        .callback_url = json_string_value(cb),
        .owner = *who,
    };
    rctx_t *c = rctx_new(req, h);
    char id[LX_TASK_ID_MAX];
    int rc = c ? lx_task_submit(h->pg, h->conf, &t, id, answer_202, c) : LX_ERROR;
    if (!input)
        json_decref(in);
    json_decref(body);
    return started(req, c, rc);
}

static int list(lx_req_t *req, lx_task_http_t *h, const lx_task_caller_t *who)
{
    const char *status = lx_req_query(req, "status");
    const char *type = lx_req_query(req, "type");
    const char *after = lx_req_query(req, "after");
    const char *limit = lx_req_query(req, "limit");
    int lim = 20;
    if (status && lx_task_status_parse(status) == LX_TASK__COUNT) {
        lx_req_reply_error(req, LX_E_BAD_REQUEST, "unknown status", "status");
        return LX_OK;
    }
    if (limit) {
        char *end;
        long v = strtol(limit, &end, 10);
        if (*limit == '\0' || *end != '\0' || v < 1 || v > 100) {
            lx_req_reply_error(req, LX_E_BAD_REQUEST, "limit must be from 1 to 100", "limit");
            return LX_OK;
        }
        lim = (int)v;
    }
    if (after && !lx_task_id_valid(after, strlen(after))) {
        lx_req_reply_error(req, LX_E_BAD_REQUEST, "after must be a task id", "after");
        return LX_OK;
    }
    rctx_t *c = rctx_new(req, h);
    int rc = c ? lx_task_list(h->pg, who, status, type, after, lim, answer_200, c) : LX_ERROR;
    return started(req, c, rc);
}

/* rest: the path after the routes' prefix ("", "/", "/{id}" or
 * "/{id}/events"). */
static int serve(lx_req_t *req, lx_task_http_t *h, const lx_task_caller_t *who, lx_str_t rest)
{
    if (h->pg == NULL) {
        reply_err(req, LX_E_UNAVAILABLE, "tasks need a database (database_url)");
        return LX_OK;
    }
    lx_str_t m = lx_req_method(req);
    bool get = lx_str_eq_cstr(m, "GET"), del = lx_str_eq_cstr(m, "DELETE"),
         post = lx_str_eq_cstr(m, "POST");
    if (rest.n <= 1) {
        if (get)
            return list(req, h, who);
        if (post)
            return submit(req, h, who);
        reply_err(req, LX_E_METHOD_NOT_ALLOWED, NULL);
        return LX_OK;
    }
    const char *id = rest.p + 1;
    size_t n = rest.n - 1;
    bool events = n > 7 && memcmp(id + n - 7, "/events", 7) == 0;
    if (events)
        n -= 7;
    char buf[LX_TASK_ID_MAX];
    if (!lx_task_id_valid(id, n)) {
        reply_err(req, LX_E_NOT_FOUND, "no such task");
        return LX_OK;
    }
    memcpy(buf, id, n);
    buf[n] = '\0';
    if (events ? !get : !(get || del)) {
        reply_err(req, LX_E_METHOD_NOT_ALLOWED, NULL);
        return LX_OK;
    }
    rctx_t *c = rctx_new(req, h);
    if (c == NULL)
        return started(req, c, LX_ERROR);
    if (events) {
        /* With the worker's hub, changes arrive as notifications: the row
         * is read on each, and every 5 s as a safety net. */
        c->sub = lx_task_subscribe_events(lx_req_base(req), h->pg, h->events, buf, who,
                                          h->events ? LX_TASK_EVENTS_SAFETY_MS : 250, event_cb, c);
        return started(req, c, c->sub ? LX_OK : LX_ERROR);
    }
    int rc = get ? lx_task_get(h->pg, buf, who, answer_200, c)
                 : lx_task_cancel(h->pg, buf, who, answer_200, c);
    return started(req, c, rc);
}

static int task_handler(lx_req_t *req, void *arg)
{
    lx_task_http_t *h = arg;
    lx_str_t path = lx_req_path(req);
    size_t plen = sizeof PREFIX - 1;
    if (path.n > plen && path.p[plen] != '/') {
        reply_err(req, LX_E_NOT_FOUND, "no such route");
        return LX_OK;
    }
    lx_task_caller_t who = {0};
    if (!h->auth(req, h->auth_arg, &who))
        return LX_OK; /* 401 replied */
    return serve(req, h, &who, (lx_str_t){path.p + plen, path.n - plen});
}

int lx_task_http_serve(lx_req_t *req, lx_task_http_t *h, const lx_task_caller_t *who, lx_str_t rest)
{
    return serve(req, h, who, rest);
}

size_t lx_task_routes(lx_task_http_t *h, lx_route_t *routes, size_t cap)
{
    if (cap < 1)
        return 0;
    routes[0] = (lx_route_t){NULL, PREFIX, task_handler, h, LX_ROUTE_PREFIX};
    return 1;
}
