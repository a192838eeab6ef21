/* video.c - the OpenAI Videos API: POST /videos, GET /videos, GET /videos/{id},
 * GET /videos/{id}/content, DELETE /videos/{id}. Jobs live in jobs.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "call.h"
#include "control.h"
#include "jobhttp.h"
#include "jsonw.h"
#include "mp4.h"
#include "util.h"

static const char *str_field(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The video object (the real API's fields; "url" and "quality" are mock extras). */
static void render(struct evbuffer *b, const mock_job_t *j, uint64_t now, bool fresh)
{
    long pm = 0;
    mock_job_phase_t ph = fresh ? MOCK_JP_QUEUED : mock_job_phase(j, now, &pm);
    long created = (long)(j->created_ms / 1000);
    char id[48];

    mock_job_id(j, id);
    evbuffer_add_printf(b, "{\"id\":\"%s\",\"object\":\"video\",\"model\":", id);
    mock_jw_cstr(b, j->model);
    evbuffer_add_printf(b, ",\"status\":\"%s\",\"progress\":%ld,\"created_at\":%ld",
                        mock_job_status_name(MOCK_JOB_OPENAI, ph),
                        ph == MOCK_JP_SUCCEEDED ? 100L : pm / 10, created);
    if (ph == MOCK_JP_SUCCEEDED) {
        long done = created + (j->throttle_ms + j->duration_ms + 999) / 1000;
        evbuffer_add_printf(b, ",\"completed_at\":%ld,\"expires_at\":%ld", done, done + 3600);
    } else {
        MOCK_LIT(b, ",\"completed_at\":null,\"expires_at\":null");
    }
    MOCK_LIT(b, ",\"prompt\":");
    mock_jw_cstr(b, j->prompt);
    MOCK_LIT(b, ",\"size\":");
    mock_jw_cstr(b, j->size);
    MOCK_LIT(b, ",\"seconds\":");
    mock_jw_cstr(b, j->seconds);
    MOCK_LIT(b, ",\"quality\":\"standard\",\"remixed_from_video_id\":null");
    if (ph == MOCK_JP_FAILED)
        MOCK_LIT(b, ",\"error\":{\"code\":\"generation_failed\","
                    "\"message\":\"Video generation failed (mock fault)\"}");
    else
        MOCK_LIT(b, ",\"error\":null");
    if (ph == MOCK_JP_SUCCEEDED)
        evbuffer_add_printf(b, ",\"url\":\"http://%s/_mock/files/%s.mp4\"", mock_listen_addr, id);
    MOCK_LIT(b, "}");
}

void mock_video_submit(mock_call_t *c)
{
    json_t *jsec = json_object_get(c->json, "seconds");
    const char *size = str_field(c->json, "size");
    const char *prompt = str_field(c->json, "prompt");
    const char *tag = mock_jobhttp_tag(c->req);
    char secbuf[24];
    mock_job_spec_t spec;

    if (json_is_integer(jsec))
        snprintf(secbuf, sizeof(secbuf), "%lld", (long long)json_integer_value(jsec));
    else
        snprintf(secbuf, sizeof(secbuf), "%.20s",
                 json_is_string(jsec) ? json_string_value(jsec) : "4");
    spec = (mock_job_spec_t){
        .api = MOCK_JOB_OPENAI,
        .model = c->model,
        .model_len = c->model_len,
        .prompt = prompt,
        .size = size ? size : "720x1280",
        .seconds = secbuf,
        .idem = mock_jobhttp_idem(c->req),
        .tag = tag ? tag : prompt,
        .opts = &c->opts,
    };
    mock_jobhttp_submit(c, &spec, MOCK_API_OPENAI, MOCK_ST_VIDEO_SUBMIT, render);
}

/* GET /videos: the list of live OpenAI jobs, newest first (order=asc:
 * oldest first), at most limit (1..100, default 20), after the id `after`. */
void mock_video_list(evhtp_request_t *req, const char *query)
{
    char *lim = mock_query_param(query, "limit");
    char *order = mock_query_param(query, "order");
    char *after = mock_query_param(query, "after");
    bool asc = order != NULL && strcmp(order, "asc") == 0;
    long limit = lim != NULL ? strtol(lim, NULL, 10) : 20, lo, hi, n, count = 0;
    struct evbuffer *b = evbuffer_new(), *data = evbuffer_new();
    char first[48] = "", last[48] = "";
    bool more = false;
    uint64_t now = mock_now_ms();

    mock_stat_add(MOCK_ST_VIDEO_POLL, 1);
    if (limit < 1 || limit > 100)
        limit = 20;
    if (b == NULL || data == NULL) {
        evhtp_send_reply(req, EVHTP_RES_SERVERR);
        goto out;
    }
    mock_jobs_lock();
    mock_job_at(0, &lo, &hi);
    n = asc ? lo : hi - 1;
    if (after != NULL) {
        mock_job_t *a = mock_job_find(after, strlen(after));
        if (a != NULL)
            n = asc ? a->n + 1 : a->n - 1;
    }
    for (; n >= lo && n < hi; n += asc ? 1 : -1) {
        mock_job_t *j = mock_job_at(n, NULL, NULL);
        if (j == NULL || j->api != MOCK_JOB_OPENAI || j->deleted)
            continue;
        if (count == limit) {
            more = true;
            break;
        }
        if (count++)
            MOCK_LIT(data, ",");
        render(data, j, now, false);
        mock_job_id(j, count == 1 ? first : last);
    }
    mock_jobs_unlock();
    if (count == 1)
        memcpy(last, first, sizeof(last));
    MOCK_LIT(b, "{\"object\":\"list\",\"data\":[");
    evbuffer_add_buffer(b, data);
    MOCK_LIT(b, "],\"first_id\":");
    mock_jw_cstr(b, count ? first : NULL);
    MOCK_LIT(b, ",\"last_id\":");
    mock_jw_cstr(b, count ? last : NULL);
    evbuffer_add_printf(b, ",\"has_more\":%s}", more ? "true" : "false");
    mock_reply_now(req, 200, MOCK_CT_JSON, b);
out:
    if (b != NULL)
        evbuffer_free(b);
    if (data != NULL)
        evbuffer_free(data);
    free(lim);
    free(order);
    free(after);
}

void mock_video_get(evhtp_request_t *req, const char *id, size_t id_len, const mock_opts_t *o)
{
    mock_stat_add(MOCK_ST_VIDEO_POLL, 1);
    mock_jobhttp_poll(req, o, MOCK_API_OPENAI, MOCK_JOB_OPENAI, id, id_len, "Video not found",
                      render);
}

void mock_video_content(evhtp_request_t *req, const char *id, size_t id_len, const mock_opts_t *o)
{
    mock_job_t *j;
    bool found = false, ready = false;
    long total = 0;

    mock_stat_add(MOCK_ST_VIDEO_CONTENT, 1);
    if (mock_fault_early(req, o, MOCK_API_OPENAI, o->latency_ms, false))
        return;
    mock_jobs_lock();
    j = mock_job_find(id, id_len);
    if (j != NULL && j->api == MOCK_JOB_OPENAI && !j->deleted) {
        long pm;
        found = true;
        j->content_fetches++;
        ready = mock_job_phase(j, mock_now_ms(), &pm) == MOCK_JP_SUCCEEDED;
        total = j->content_bytes;
    }
    mock_jobs_unlock();
    if (o->content_bytes != mock_opts_defaults.content_bytes)
        total = o->content_bytes;
    if (!found)
        mock_reply_error_code(req, MOCK_API_OPENAI, 404, "Video not found", "not_found");
    else if (!ready)
        mock_reply_error_code(req, MOCK_API_OPENAI, 404, "Video is not ready", "not_ready");
    else
        mock_mp4_reply(req, total);
}

void mock_video_delete(evhtp_request_t *req, const char *id, size_t id_len, const mock_opts_t *o)
{
    struct evbuffer *b;
    mock_job_t *j;
    bool found = false;

    mock_stat_add(MOCK_ST_VIDEO_DELETE, 1);
    if (mock_fault_early(req, o, MOCK_API_OPENAI, o->latency_ms, false))
        return;
    mock_jobs_lock();
    j = mock_job_find(id, id_len);
    if (j != NULL && j->api == MOCK_JOB_OPENAI && !j->deleted) {
        found = true;
        j->deleted = true;
        j->cancels++;
    }
    mock_jobs_unlock();
    if (!found) {
        mock_reply_error_code(req, MOCK_API_OPENAI, 404, "Video not found", "not_found");
        return;
    }
    if ((b = evbuffer_new()) == NULL) {
        evhtp_send_reply(req, EVHTP_RES_SERVERR);
        return;
    }
    MOCK_LIT(b, "{\"id\":");
    mock_jw_str(b, id, id_len);
    MOCK_LIT(b, ",\"object\":\"video.deleted\",\"deleted\":true}");
    mock_reply_now(req, 200, MOCK_CT_JSON, b);
    evbuffer_free(b);
}
