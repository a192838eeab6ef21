/* task_post.c - the task module's webhook poster (task.h,
 * lx_task_poster_t) on a worker's upstream client: task may not include
 * upstream, so the app lends it this. Each POST is one upstream call; its
 * answer's body is not read. Runs on the worker's loop. */
#include "app/app.h"

#include <stdlib.h>

typedef struct {
    lx_up_call_t *call;
    lx_task_post_done done;
    void *done_arg;
} post_t;

static void on_headers(lx_up_call_t *call, int status, void *arg) {}

static int on_data(lx_up_call_t *call, const char *p, size_t n, void *arg)
{
    return LX_OK;
}

static void on_done(lx_up_call_t *call, const lx_up_result_t *res, void *arg)
{
    post_t *p = arg;
    int status = res->outcome == LX_UP_OK ? res->status : 0;
    lx_task_post_done done = p->done;
    void *done_arg = p->done_arg;
    free(p);
    done(status, done_arg);
}

static void *post(void *arg, const char *url, const char *const *headers, int nheaders,
                  const char *body, size_t len, lx_task_post_done done, void *done_arg)
{
    post_t *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->done = done;
    p->done_arg = done_arg;
    lx_up_request_t rq = {
        .method = "POST",
        .url = url,
        .headers = headers,
        .nheaders = nheaders,
        .body = body,
        .body_len = len,
        .timeouts = {.connect_ms = 5000,
                     .first_byte_ms = 10000,
                     .idle_ms = 10000,
                     .total_ms = 15000},
    };
    static const lx_up_handlers_t handlers = {on_headers, on_data, on_done};
    p->call = lx_up_call_start(arg, &rq, &handlers, p);
    if (p->call == NULL) {
        free(p);
        return NULL;
    }
    return p;
}

static void cancel(void *arg, void *handle)
{
    post_t *p = handle;
    lx_up_call_cancel(p->call);
    free(p);
}

lx_task_poster_t lx_app_task_poster(lx_upstream_t *up)
{
    return (lx_task_poster_t){.post = post, .cancel = cancel, .arg = up};
}
