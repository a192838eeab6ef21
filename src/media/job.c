/* job.c - the request and result values every media adapter shares. */
#include "media/job.h"

#include "core/json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

static const char *const state_names[LX_JOB__COUNT] = {
    [LX_JOB_NONE] = "none",           [LX_JOB_QUEUED] = "queued", [LX_JOB_RUNNING] = "running",
    [LX_JOB_SUCCEEDED] = "succeeded", [LX_JOB_FAILED] = "failed", [LX_JOB_CANCELLED] = "cancelled",
};

static const char *const op_names[LX_JOB_OP__COUNT] = {
    [LX_JOB_OP_SUBMIT] = "submit",
    [LX_JOB_OP_POLL] = "poll",
    [LX_JOB_OP_CANCEL] = "cancel",
    [LX_JOB_OP_CONTENT] = "content",
};

const char *lx_job_state_name(lx_job_state_t s)
{
    return (unsigned)s < LX_JOB__COUNT ? state_names[s] : "none";
}

lx_job_state_t lx_job_state_parse(const char *s)
{
    for (int i = LX_JOB_QUEUED; s && i < LX_JOB__COUNT; i++)
        if (strcmp(s, state_names[i]) == 0)
            return (lx_job_state_t)i;
    return LX_JOB_NONE;
}

const char *lx_job_op_name(lx_job_op_t op)
{
    return (unsigned)op < LX_JOB_OP__COUNT ? op_names[op] : "unknown";
}

void lx_job_req_free(lx_job_req_t *r)
{
    free(r->url);
    for (int i = 0; i < r->n_headers; i++)
        free(r->headers[i].value);
    free(r->body);
    memset(r, 0, sizeof *r);
}

const char *lx_job_req_header(const lx_job_req_t *r, const char *name)
{
    for (int i = 0; i < r->n_headers; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

void lx_job_result_init(lx_job_result_t *res)
{
    memset(res, 0, sizeof *res);
    res->progress = -1;
    res->retry_after_ms = -1;
}

void lx_job_result_free(lx_job_result_t *res)
{
    free(res->job_id);
    free(res->error_message);
    json_decref(res->output);
    lx_job_result_init(res);
}

void lx_job_result_fail(lx_job_result_t *res, lx_job_state_t state, const char *code,
                        const char *msg, bool permanent)
{
    res->state = state;
    res->permanent = permanent;
    lx_copy(res->error_code, sizeof res->error_code, code, strlen(code));
    free(res->error_message);
    res->error_message = msg ? lx_strndup(msg, strnlen(msg, 512)) : NULL;
}

void lx_job_req_start(lx_job_req_t *r, const char *method, const char *base_url, const char *path,
                      const char *key)
{
    memset(r, 0, sizeof *r);
    r->method = method;
    size_t n = base_url ? strlen(base_url) : 0;
    while (n > 0 && base_url[n - 1] == '/')
        n--;
    lx_buf_t b;
    lx_buf_init(&b, n + strlen(path) + 1);
    lx_buf_append(&b, base_url, n);
    lx_buf_append_cstr(&b, path);
    r->url = b.p;
    if (key && *key) {
        lx_buf_t h;
        lx_buf_init(&h, strlen(key) + 8);
        lx_buf_append_lit(&h, "Bearer ");
        lx_buf_append_cstr(&h, key);
        lx_copy(r->headers[0].name, sizeof r->headers[0].name, "Authorization", 13);
        r->headers[0].value = h.p;
        r->n_headers = 1;
    }
}

int lx_job_req_add_header(lx_job_req_t *r, const char *name, const char *value)
{
    size_t n = strlen(name);
    if (r->n_headers >= LX_JOB_MAX_HEADERS || n >= sizeof r->headers[0].name)
        return LX_ERROR;
    lx_copy(r->headers[r->n_headers].name, sizeof r->headers[0].name, name, n);
    r->headers[r->n_headers].value = lx_strdup(value);
    r->n_headers++;
    return LX_OK;
}

void lx_job_req_set_json(lx_job_req_t *r, const json_t *v)
{
    free(r->body);
    r->body = lx_json_text(v, &r->body_len);
    r->content_type = "application/json";
}

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '~' || c == '.';
}

static void escape(lx_buf_t *b, const char *s, size_t n, bool all)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!all && unreserved(c)) {
            lx_buf_append_char(b, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            lx_buf_append(b, e, 3);
        }
    }
}

int lx_job_path_segment(lx_buf_t *b, const char *s, size_t n)
{
    if (n == 0 || n > 1024)
        return LX_ERROR;
    bool dots = true;
    for (size_t i = 0; i < n && dots; i++)
        dots = s[i] == '.';
    escape(b, s, n, dots);
    return LX_OK;
}

void lx_job_query_value(lx_buf_t *b, const char *s)
{
    escape(b, s, strlen(s), false);
}

int lx_job_retry_after_ms(const char *v, int64_t *ms)
{
    if (v == NULL)
        return LX_ERROR;
    while (*v == ' ' || *v == '\t')
        v++;
    if (*v < '0' || *v > '9')
        return LX_ERROR;
    int64_t s = 0;
    for (; *v >= '0' && *v <= '9'; v++) {
        if (s > 86400LL * 365)
            return LX_ERROR;
        s = s * 10 + (*v - '0');
    }
    while (*v == ' ' || *v == '\t')
        v++;
    if (*v != '\0')
        return LX_ERROR;
    *ms = s * 1000;
    return LX_OK;
}

json_t *lx_job_answer_json(const lx_job_answer_t *a, lx_job_result_t *res)
{
    char err[128];
    json_t *v = a->body_len
                    ? lx_json_parse(a->body, a->body_len, LX_JSON_MAX_DEPTH, err, sizeof err)
                    : NULL;
    if (!json_is_object(v)) {
        json_decref(v);
        lx_job_result_fail(res, LX_JOB_NONE, "bad_answer",
                           "the provider's answer is not a JSON object", false);
        return NULL;
    }
    return v;
}

int lx_job_take_id(lx_job_result_t *res, const json_t *v)
{
    if (!json_is_string(v))
        return LX_ERROR;
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n == 0 || n > 1024 || memchr(s, '\0', n) != NULL)
        return LX_ERROR;
    free(res->job_id);
    res->job_id = lx_strndup(s, n);
    return LX_OK;
}

static bool transient_status(int st)
{
    return st == 0 || st == 408 || st == 409 || st == 425 || st == 429 || st >= 500;
}

void lx_job_http_error(const lx_job_answer_t *a, lx_job_result_t *res)
{
    char code[32], msg[160];
    if (a->status == 0) {
        lx_copy(code, sizeof code, "no_answer", 9);
        snprintf(msg, sizeof msg, "the provider did not answer");
    } else {
        snprintf(code, sizeof code, "http_%d", a->status);
        snprintf(msg, sizeof msg, "the provider answered HTTP %d", a->status);
    }
    lx_job_result_fail(res, LX_JOB_NONE, code, msg, !transient_status(a->status));
    if (a->status == 404)
        lx_job_result_fail(res, LX_JOB_NONE, "not_found", "the provider does not know this job",
                           true);
    int64_t ms;
    if (lx_job_retry_after_ms(a->retry_after, &ms) == LX_OK)
        res->retry_after_ms = ms;
    if (a->status == 401 || a->status == 403) {
        /* The provider's own text may quote part of the key: not copied. */
        snprintf(msg, sizeof msg, "the provider refused the credential (HTTP %d)", a->status);
        lx_job_result_fail(res, LX_JOB_NONE, "provider_auth", msg, true);
        return;
    }
    char err[128];
    json_t *v = a->body_len
                    ? lx_json_parse(a->body, a->body_len, LX_JSON_MAX_DEPTH, err, sizeof err)
                    : NULL;
    json_t *e = json_object_get(v, "error");
    const char *m = NULL, *c = NULL;
    if (json_is_string(e)) {
        m = json_string_value(e);
    } else if (json_is_object(e)) {
        m = json_string_value(json_object_get(e, "message"));
        c = json_string_value(json_object_get(e, "code"));
        if (c == NULL)
            c = json_string_value(json_object_get(e, "type"));
    }
    if (c && *c && strlen(c) < sizeof res->error_code)
        lx_copy(res->error_code, sizeof res->error_code, c, strlen(c));
    if (m && *m) {
        free(res->error_message);
        res->error_message = lx_strndup(m, strnlen(m, 512));
    }
    json_decref(v);
}
