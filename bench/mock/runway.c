/* runway.c - the Runway task API: POST /text_to_video and /image_to_video
 * (X-Runway-Version required) -> {"id"}; GET /tasks/{id}; DELETE /tasks/{id}.
 * Jobs live in jobs.c. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "call.h"
#include "jobhttp.h"
#include "jsonw.h"
#include "util.h"

static void iso_time(char out[40], int64_t unix_ms)
{
    time_t s = (time_t)(unix_ms / 1000);
    struct tm tm;
    char base[24];

    gmtime_r(&s, &tm);
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 40, "%s.%03dZ", base, (int)(unix_ms % 1000));
}

static void render_submit(struct evbuffer *b, const mock_job_t *j)
{
    char id[48];

    mock_job_id(j, id);
    evbuffer_add_printf(b, "{\"id\":\"%s\"}", id);
}

/* The task object: id, status, createdAt; progress 0..1 while RUNNING;
 * output when SUCCEEDED; failure and failureCode when FAILED. */
static void render(struct evbuffer *b, const mock_job_t *j, uint64_t now, bool fresh)
{
    long pm;
    mock_job_phase_t ph;
    char id[48], at[40];

    if (fresh) {
        render_submit(b, j);
        return;
    }
    ph = mock_job_phase(j, now, &pm);
    mock_job_id(j, id);
    iso_time(at, j->created_ms);
    evbuffer_add_printf(b, "{\"id\":\"%s\",\"status\":\"%s\",\"createdAt\":\"%s\"", id,
                        mock_job_status_name(MOCK_JOB_RUNWAY, ph), at);
    if (ph == MOCK_JP_RUNNING)
        evbuffer_add_printf(b, ",\"progress\":%ld.%03ld", pm / 1000, pm % 1000);
    else if (ph == MOCK_JP_SUCCEEDED)
        evbuffer_add_printf(b, ",\"output\":[\"http://%s/_mock/files/%s.mp4\"]", mock_listen_addr,
                            id);
    else if (ph == MOCK_JP_FAILED)
        MOCK_LIT(b, ",\"failure\":\"Video generation failed (mock fault)\","
                    "\"failureCode\":\"INTERNAL.BAD_OUTPUT.CODE01\"");
    MOCK_LIT(b, "}");
}

/* Every Runway request must name the API version. */
static bool version_ok(evhtp_request_t *req)
{
    const char *v = evhtp_header_find(req->headers_in, "X-Runway-Version");

    if (v != NULL && *v != '\0')
        return true;
    mock_reply_error(req, MOCK_API_RUNWAY, 400,
                     "The X-Runway-Version header is required (e.g. 2024-11-06)", 0);
    return false;
}

void mock_runway_submit(mock_call_t *c, bool image)
{
    json_t *jt = json_object_get(c->json, "promptText");
    json_t *ji = json_object_get(c->json, "promptImage");
    const char *prompt = json_is_string(jt) ? json_string_value(jt) : NULL;
    const char *tag = mock_jobhttp_tag(c->req);
    mock_job_spec_t spec;

    if (!version_ok(c->req))
        return;
    if (!image && prompt == NULL) {
        mock_reply_error(c->req, MOCK_API_RUNWAY, 400, "promptText: Required", 0);
        return;
    }
    if (image && !json_is_string(ji) && !json_is_array(ji)) {
        mock_reply_error(c->req, MOCK_API_RUNWAY, 400, "promptImage: Required", 0);
        return;
    }
    if (tag == NULL && prompt == NULL && json_is_string(ji))
        tag = json_string_value(ji);
    spec = (mock_job_spec_t){
        .api = MOCK_JOB_RUNWAY,
        .model = c->model,
        .model_len = c->model_len,
        .prompt = prompt,
        .idem = mock_jobhttp_idem(c->req),
        .tag = tag ? tag : prompt,
        .opts = &c->opts,
    };
    mock_jobhttp_submit(c, &spec, MOCK_API_RUNWAY, MOCK_ST_RUNWAY_SUBMIT, render);
}

void mock_runway_get(evhtp_request_t *req, const char *id, size_t id_len, const mock_opts_t *o)
{
    mock_stat_add(MOCK_ST_RUNWAY_POLL, 1);
    if (!version_ok(req))
        return;
    mock_jobhttp_poll(req, o, MOCK_API_RUNWAY, MOCK_JOB_RUNWAY, id, id_len, "Task not found",
                      render);
}

/* A task not yet finished is cancelled (GET then shows CANCELLED); any other
 * is deleted (GET then answers 404). 204 either way. */
void mock_runway_delete(evhtp_request_t *req, const char *id, size_t id_len, const mock_opts_t *o)
{
    mock_job_t *j;
    bool found = false;

    mock_stat_add(MOCK_ST_RUNWAY_CANCEL, 1);
    if (!version_ok(req) || mock_fault_early(req, o, MOCK_API_RUNWAY, o->latency_ms, false))
        return;
    mock_jobs_lock();
    j = mock_job_find(id, id_len);
    if (j != NULL && j->api == MOCK_JOB_RUNWAY && !j->deleted) {
        uint64_t now = mock_now_ms();
        long pm;
        mock_job_phase_t ph = mock_job_phase(j, now, &pm);
        found = true;
        j->cancels++;
        if (ph == MOCK_JP_THROTTLED || ph == MOCK_JP_QUEUED || ph == MOCK_JP_RUNNING) {
            j->cancelled = true;
            j->cancel_ms = now;
        } else {
            j->deleted = true;
        }
    }
    mock_jobs_unlock();
    if (!found) {
        mock_reply_error(req, MOCK_API_RUNWAY, 404, "Task not found", 0);
        return;
    }
    evhtp_send_reply(req, EVHTP_RES_NOCONTENT);
}
