/* routes.h - the client routes of media tasks (README "Media"):
 *   POST /api/v1/media/videos, POST /api/v1/media/images -> 202, the task
 *   POST /v1/videos (JSON or multipart/form-data), GET /v1/videos,
 *   GET|DELETE /v1/videos/{id}, GET /v1/videos/{id}/content (streamed
 *   from the provider, Range passed through)
 *   /api/v1/ai/media/... -> 308 to /api/v1/media/...
 * Auth through the task module's seam (task.h, lx_task_auth_fn): a task
 * belongs to its key; others get 404; the admin key sees all. A
 * submission (POST /api/v1/media/videos|images, POST /v1/videos) is
 * admitted through the app's seam (lx_media_admit_fn) once its model
 * resolved and before the task is stored.
 *
 * The context belongs to its worker and must outlive its routes. */
#ifndef LX_MEDIA_ROUTES_H
#define LX_MEDIA_ROUTES_H

#include "media/exec.h"

/* Admission of one submission for model (the client's name; kind: what is
 * made): true when admitted; false after replying (429 in the OpenAI shape,
 * or 401/403). Runs on the request's loop; must not block. */
typedef bool (*lx_media_admit_fn)(lx_req_t *req, void *admit_arg, const char *model,
                                  lx_media_kind_t kind);

typedef struct {
    lx_pg_t *pg; /* NULL: every route answers 503 */
    const lx_task_conf_t *conf;
    lx_task_runner_t *runner; /* kicked after a submit; may be NULL */
    lx_task_auth_fn auth;
    void *auth_arg;
    lx_media_admit_fn admit; /* NULL: every submission is admitted */
    void *admit_arg;
    lx_upstream_t *up; /* content streams */
} lx_media_http_t;

size_t lx_media_routes(lx_media_http_t *h, lx_route_t *routes, size_t cap);

/* content.c: GET /v1/videos/{id}/content for a task object from
 * lx_task_get_full (borrowed for the call). Replies in every case. */
void lx_media_content(lx_media_http_t *h, lx_req_t *req, const json_t *task);

/* multipart.c: a multipart/form-data body's text fields as a JSON object
 * of strings (new reference), or NULL when it is not one. File parts are
 * refused (NULL, with the field's name in bad_field). */
json_t *lx_media_multipart(const char *content_type, const char *body, size_t len, char *bad_field,
                           size_t bad_len);

#endif
