/* jobhttp.c - submit and poll steps shared by the OpenAI and Runway job APIs. */
#include "jobhttp.h"

#include <stdio.h>

#include <event2/buffer.h>

#include "util.h"

const char *mock_jobhttp_idem(evhtp_request_t *req)
{
    const char *v = evhtp_header_find(req->headers_in, "Idempotency-Key");
    return v != NULL && *v != '\0' ? v : NULL;
}

const char *mock_jobhttp_tag(evhtp_request_t *req)
{
    const char *v = evhtp_header_find(req->headers_in, "x-mock-tag");
    return v != NULL && *v != '\0' ? v : NULL;
}

static void retry_after(evhtp_request_t *req, long secs)
{
    char v[24];

    snprintf(v, sizeof(v), "%ld", secs);
    evhtp_headers_add_header(req->headers_out, evhtp_header_new("Retry-After", v, 0, 1));
}

void mock_jobhttp_submit(mock_call_t *c, const mock_job_spec_t *spec, mock_api_t api,
                         mock_stat_t counter, mock_job_render_fn render)
{
    mock_fault_t f = c->opts.fault;
    bool accept_first = f == MOCK_FAULT_STALL_HEADERS || f == MOCK_FAULT_DROP;
    struct evbuffer *b;
    mock_job_t *j;
    bool created = false;

    mock_stat_add(counter, 1);
    if (!accept_first && mock_fault_early(c->req, &c->opts, api, c->opts.latency_ms, false))
        return;
    if ((b = evbuffer_new()) == NULL) {
        evhtp_send_reply(c->req, EVHTP_RES_SERVERR);
        return;
    }
    mock_jobs_lock();
    j = mock_job_submit(spec, &created);
    if (j != NULL)
        render(b, j, mock_now_ms(), true);
    mock_jobs_unlock();
    if (j == NULL) {
        evbuffer_free(b);
        mock_reply_error(c->req, api, 500, "Out of memory (mock)", 0);
        return;
    }
    mock_stat_add(created ? MOCK_ST_JOBS_CREATED : MOCK_ST_JOB_DUPLICATES, 1);
    if (created && f == MOCK_FAULT_FAIL)
        mock_stat_add(MOCK_ST_FAULTS, 1);
    if (accept_first && mock_fault_early(c->req, &c->opts, api, c->opts.latency_ms, false)) {
        evbuffer_free(b);
        return;
    }
    mock_deliver(c->req, &c->opts, 200, MOCK_CT_JSON, b);
}

void mock_jobhttp_poll(evhtp_request_t *req, const mock_opts_t *o, mock_api_t api,
                       mock_job_api_t japi, const char *id, size_t id_len,
                       const char *not_found_msg, mock_job_render_fn render)
{
    struct evbuffer *b;
    mock_job_t *j;
    bool found = false, fail = false;
    long ra = o->poll_retry_after;
    int fail_status = 503;

    if (mock_fault_early(req, o, api, o->latency_ms, false))
        return;
    if ((b = evbuffer_new()) == NULL) {
        evhtp_send_reply(req, EVHTP_RES_SERVERR);
        return;
    }
    mock_jobs_lock();
    j = mock_job_find(id, id_len);
    if (j != NULL && j->api == japi) {
        if (j->deleted) {
            j->polls++;
        } else {
            found = true;
            fail = mock_job_poll(j);
            fail_status = j->poll_fail_status;
            if (ra == 0)
                ra = j->poll_retry_after;
            if (!fail)
                render(b, j, mock_now_ms(), false);
        }
    }
    mock_jobs_unlock();
    if (!found) {
        mock_reply_error_code(req, api, 404, not_found_msg, "not_found");
    } else if (fail) {
        mock_stat_add(MOCK_ST_FAULTS, 1);
        mock_reply_error(req, api, fail_status, NULL, ra);
    } else {
        if (ra > 0)
            retry_after(req, ra);
        mock_reply_now(req, 200, MOCK_CT_JSON, b);
    }
    evbuffer_free(b);
}
