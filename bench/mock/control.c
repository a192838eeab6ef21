/* control.c - the /_mock/... endpoints tests use to observe and reset the mock
 * (/_mock/jobs is in jobctl.c). */
#include "control.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "call.h"
#include "jobs.h"
#include "jsonw.h"
#include "record.h"
#include "reply.h"
#include "stats.h"
#include "util.h"

static void reply_buf(evhtp_request_t *req, int status, struct evbuffer *b)
{
    mock_reply_now(req, status, MOCK_CT_JSON, b);
    evbuffer_free(b);
}

void mock_control(evhtp_request_t *req, const char *path, size_t n)
{
    const char *query = req->uri && req->uri->query_raw ? (const char *)req->uri->query_raw : "";
    htp_method m = evhtp_request_get_method(req);
    bool get = m == htp_method_GET;
    struct evbuffer *b;

    if (mock_starts_with(path, n, "/_mock/files/")) {
        if (!get) {
            mock_reply_error(req, MOCK_API_OPENAI, 405, NULL, 0);
            return;
        }
        mock_file(req, path + 13);
        return;
    }
    if (strcmp(path, "/_mock/jobs") == 0 || mock_starts_with(path, n, "/_mock/jobs/")) {
        mock_jobs_control(req, path, n, query);
        return;
    }
    if ((b = evbuffer_new()) == NULL) {
        evhtp_send_reply(req, EVHTP_RES_SERVERR);
        return;
    }
    if (strcmp(path, "/_mock/stats") == 0 && get) {
        char *jobs = mock_query_param(query, "jobs");
        MOCK_LIT(b, "{");
        mock_stats_json_fields(b);
        if (jobs == NULL || strcmp(jobs, "0") != 0) {
            MOCK_LIT(b, ",");
            mock_jobs_stats_field(b);
        }
        MOCK_LIT(b, "}");
        free(jobs);
        reply_buf(req, 200, b);
    } else if (strcmp(path, "/_mock/reset") == 0 && m == htp_method_POST) {
        mock_stats_reset();
        mock_jobs_reset();
        mock_record_clear();
        MOCK_LIT(b, "{\"reset\":true}");
        reply_buf(req, 200, b);
    } else if (strcmp(path, "/_mock/requests") == 0 && get) {
        mock_record_json_all(b);
        reply_buf(req, 200, b);
    } else if (strcmp(path, "/_mock/last") == 0 && get) {
        if (mock_record_json_last(b)) {
            reply_buf(req, 200, b);
        } else {
            evbuffer_free(b);
            mock_reply_error_code(req, MOCK_API_OPENAI, 404, "No request recorded", "not_found");
        }
    } else if (strcmp(path, "/_mock/health") == 0 && get) {
        MOCK_LIT(b, "{\"ok\":true}");
        reply_buf(req, 200, b);
    } else {
        bool known = strcmp(path, "/_mock/stats") == 0 || strcmp(path, "/_mock/reset") == 0 ||
                     strcmp(path, "/_mock/requests") == 0 || strcmp(path, "/_mock/last") == 0 ||
                     strcmp(path, "/_mock/health") == 0;
        evbuffer_free(b);
        mock_reply_error_code(req, MOCK_API_OPENAI, known ? 405 : 404,
                              known ? "Method not allowed" : "Unknown mock control path",
                              known ? "method_not_allowed" : "unknown_url");
    }
}
