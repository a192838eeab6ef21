/* jobctl.c - /_mock/jobs: tests read a job's counters by id or by tag, and
 * change a running job (release a stall, make polls fail). */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "control.h"
#include "jobs.h"
#include "jsonw.h"
#include "reply.h"
#include "util.h"

static int hex(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Decodes the value of key in the raw query (%XX and '+' as space) into a new
 * string (caller frees), or NULL if absent. */
char *mock_query_param(const char *query, const char *key)
{
    size_t kl = strlen(key);
    const char *p = query;

    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
            const char *v = p + kl + 1;
            size_t vl = len - kl - 1, o = 0;
            char *out = malloc(vl + 1);
            if (out == NULL)
                return NULL;
            for (size_t i = 0; i < vl; i++) {
                int hi, lo;
                if (v[i] == '+') {
                    out[o++] = ' ';
                } else if (v[i] == '%' && i + 2 < vl && (hi = hex(v[i + 1])) >= 0 &&
                           (lo = hex(v[i + 2])) >= 0) {
                    out[o++] = (char)(hi * 16 + lo);
                    i += 2;
                } else {
                    out[o++] = v[i];
                }
            }
            out[o] = '\0';
            return out;
        }
        p = end ? end + 1 : NULL;
    }
    return NULL;
}

static void send_json(evhtp_request_t *req, int status, struct evbuffer *b)
{
    mock_reply_now(req, status, MOCK_CT_JSON, b);
    evbuffer_free(b);
}

/* Applies {"outcome","poll_fail","poll_retry_after","duration_ms"} to j; false
 * on a bad value (nothing is changed then). Locked. */
static bool update(mock_job_t *j, json_t *body)
{
    mock_opts_t o = {.outcome = j->outcome,
                     .poll_fail = j->poll_fail,
                     .poll_retry_after = j->poll_retry_after,
                     .duration_ms = j->duration_ms};
    const char *keys[] = {"outcome", "poll_fail", "poll_retry_after", "duration_ms"};

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        json_t *v = json_object_get(body, keys[i]);
        char num[32];
        const char *s = num;
        size_t n;
        if (v == NULL)
            continue;
        if (json_is_string(v)) {
            s = json_string_value(v);
            n = json_string_length(v);
        } else if (json_is_integer(v)) {
            n = (size_t)snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        } else {
            return false;
        }
        if (!mock_opts_set(&o, keys[i], strlen(keys[i]), s, n))
            return false;
    }
    j->outcome = o.outcome;
    j->poll_fail = o.poll_fail;
    j->poll_retry_after = o.poll_retry_after;
    j->duration_ms = o.duration_ms;
    return true;
}

/* One job: GET reads its record, POST changes it. */
static void one_job(evhtp_request_t *req, const char *id, bool post)
{
    json_t *body = NULL;
    struct evbuffer *b = evbuffer_new();
    mock_job_t *j;
    bool ok = true;

    if (b == NULL) {
        evhtp_send_reply(req, EVHTP_RES_SERVERR);
        return;
    }
    if (post) {
        size_t len = evbuffer_get_length(req->buffer_in);
        const char *raw = len ? (const char *)evbuffer_pullup(req->buffer_in, -1) : "";
        body = json_loadb(raw, len, 0, NULL);
        if (!json_is_object(body)) {
            json_decref(body);
            evbuffer_free(b);
            mock_reply_error(req, MOCK_API_OPENAI, 400, "body must be a JSON object", 0);
            return;
        }
    }
    mock_jobs_lock();
    j = mock_job_find(id, strlen(id));
    if (j != NULL && body != NULL)
        ok = update(j, body);
    if (j != NULL && ok)
        mock_job_stats_json(b, j, mock_now_ms());
    mock_jobs_unlock();
    json_decref(body);
    if (j == NULL) {
        evbuffer_free(b);
        mock_reply_error_code(req, MOCK_API_OPENAI, 404, "No such job", "not_found");
    } else if (!ok) {
        evbuffer_free(b);
        mock_reply_error(req, MOCK_API_OPENAI, 400,
                         "outcome must be succeed|fail|stall; poll_fail, poll_retry_after, "
                         "duration_ms numbers",
                         0);
    } else {
        send_json(req, 200, b);
    }
}

void mock_jobs_control(evhtp_request_t *req, const char *path, size_t n, const char *query)
{
    htp_method m = evhtp_request_get_method(req);
    struct evbuffer *b;

    if (n > 12 && path[11] == '/') { /* "/_mock/jobs/<id>" */
        if (m != htp_method_GET && m != htp_method_POST) {
            mock_reply_error_code(req, MOCK_API_OPENAI, 405, "Method not allowed",
                                  "method_not_allowed");
            return;
        }
        one_job(req, path + 12, m == htp_method_POST);
        return;
    }
    if (n != 11) {
        mock_reply_error_code(req, MOCK_API_OPENAI, 404, "Unknown mock control path",
                              "unknown_url");
        return;
    }
    if (m != htp_method_GET) {
        mock_reply_error_code(req, MOCK_API_OPENAI, 405, "Method not allowed",
                              "method_not_allowed");
        return;
    }
    if ((b = evbuffer_new()) == NULL) {
        evhtp_send_reply(req, EVHTP_RES_SERVERR);
        return;
    }
    char *tag = mock_query_param(query, "tag");
    mock_jobs_list_json(b, tag, tag ? strlen(tag) : 0);
    free(tag);
    send_json(req, 200, b);
}
