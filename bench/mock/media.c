/* media.c - images (URL or b64_json), the async video job API, /_mock/files. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "call.h"
#include "jsonw.h"
#include "reply.h"
#include "stats.h"
#include "util.h"

/* A valid 1x1 RGBA PNG. */
static const unsigned char png_1x1[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
    0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00,
    0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78,
    0xda, 0x63, 0xf0, 0x9a, 0xf0, 0xe8, 0x3f, 0x00, 0x05, 0xa0, 0x02, 0xbc, 0xb6, 0x05,
    0xf1, 0xab, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
};

/* An MP4 "ftyp" box followed by an empty "mdat" box. */
static const unsigned char mp4_stub[] = {
    0x00, 0x00, 0x00, 0x18, 'f', 't', 'y', 'p', 'i',  's',  'o',  'm',  0x00, 0x00, 0x02, 0x00,
    'i',  's',  'o',  'm',  'm', 'p', '4', '1', 0x00, 0x00, 0x00, 0x08, 'm',  'd',  'a',  't',
};

static const char *str_field(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* ---- images ---- */

void mock_images(mock_call_t *c)
{
    json_t *jn = json_object_get(c->json, "n");
    const char *fmt = str_field(c->json, "response_format");
    const char *prompt = str_field(c->json, "prompt");
    bool b64 = fmt != NULL && strcmp(fmt, "b64_json") == 0;
    long n = json_is_integer(jn) ? (long)json_integer_value(jn) : 1;
    struct evbuffer *b;

    mock_stat_add(MOCK_ST_IMAGES, 1);
    if (mock_fault_early(c->req, &c->opts, MOCK_API_OPENAI, c->opts.latency_ms, false))
        return;
    if (prompt == NULL) {
        mock_reply_error(c->req, MOCK_API_OPENAI, 400, "Missing required parameter: 'prompt'.", 0);
        return;
    }
    if (n < 1 || n > 10) {
        mock_reply_error(c->req, MOCK_API_OPENAI, 400, "'n' must be between 1 and 10", 0);
        return;
    }
    if ((b = evbuffer_new()) == NULL) {
        evhtp_send_reply(c->req, EVHTP_RES_SERVERR);
        return;
    }
    evbuffer_add_printf(b, "{\"created\":%ld,\"data\":[", mock_unix_s());
    for (long i = 0; i < n; i++) {
        if (i)
            MOCK_LIT(b, ",");
        if (b64) {
            MOCK_LIT(b, "{\"b64_json\":\"");
            mock_base64(b, png_1x1, sizeof(png_1x1));
            MOCK_LIT(b, "\"");
        } else {
            evbuffer_add_printf(b, "{\"url\":\"http://%s/_mock/files/img_%ld.png\"",
                                mock_listen_addr, mock_next_id());
        }
        MOCK_LIT(b, ",\"revised_prompt\":");
        mock_jw_cstr(b, prompt);
        MOCK_LIT(b, "}");
    }
    MOCK_LIT(b, "]}");
    mock_deliver(c->req, &c->opts, 200, MOCK_CT_JSON, b);
}

/* ---- video jobs ---- */

typedef struct {
    char *model, *size, *seconds;
    uint64_t start_ms;
    long created_at;
    long duration_ms;
    bool fail;
} job_t;

static pthread_mutex_t jobs_lock = PTHREAD_MUTEX_INITIALIZER;
static job_t **jobs; /* jobs[k] is video_mock{k+1} */
static size_t n_jobs, cap_jobs;

static void job_free(job_t *j)
{
    if (j == NULL)
        return;
    free(j->model);
    free(j->size);
    free(j->seconds);
    free(j);
}

/* Adds j to the table; returns its number (>= 1) or 0 on failure. */
static long job_add(job_t *j)
{
    long n = 0;

    pthread_mutex_lock(&jobs_lock);
    if (n_jobs == cap_jobs) {
        size_t cap = cap_jobs ? cap_jobs * 2 : 64;
        job_t **grown = realloc(jobs, cap * sizeof(*grown));
        if (grown != NULL) {
            jobs = grown;
            cap_jobs = cap;
        }
    }
    if (n_jobs < cap_jobs) {
        jobs[n_jobs++] = j;
        n = (long)n_jobs;
    }
    pthread_mutex_unlock(&jobs_lock);
    return n;
}

void mock_media_cleanup(void)
{
    pthread_mutex_lock(&jobs_lock);
    for (size_t i = 0; i < n_jobs; i++)
        job_free(jobs[i]);
    free(jobs);
    jobs = NULL;
    n_jobs = cap_jobs = 0;
    pthread_mutex_unlock(&jobs_lock);
}

/* Writes the video object for job number n; the caller holds jobs_lock.
 * fresh: the submit reply, always "queued". */
static void video_json(struct evbuffer *b, long n, const job_t *j, uint64_t now, bool fresh)
{
    uint64_t age = now - j->start_ms;
    const char *status;
    long progress;

    if (fresh || age * 10 < (uint64_t)j->duration_ms) {
        status = "queued";
        progress = 0;
    } else if (age < (uint64_t)j->duration_ms) {
        status = "in_progress";
        progress = (long)(age * 100 / (uint64_t)j->duration_ms);
        if (progress > 99)
            progress = 99;
    } else {
        status = j->fail ? "failed" : "completed";
        progress = j->fail ? (long)0 : 100;
    }
    evbuffer_add_printf(b, "{\"id\":\"video_mock%ld\",\"object\":\"video\",\"model\":", n);
    mock_jw_cstr(b, j->model);
    evbuffer_add_printf(b,
                        ",\"status\":\"%s\",\"progress\":%ld,\"created_at\":%ld,\"size\":", status,
                        progress, j->created_at);
    mock_jw_cstr(b, j->size);
    MOCK_LIT(b, ",\"seconds\":");
    mock_jw_cstr(b, j->seconds);
    MOCK_LIT(b, ",\"quality\":\"standard\"");
    if (strcmp(status, "completed") == 0) {
        long done = j->created_at + (j->duration_ms + 999) / 1000;
        evbuffer_add_printf(b,
                            ",\"completed_at\":%ld,\"expires_at\":%ld,"
                            "\"url\":\"http://%s/_mock/files/video_mock%ld.mp4\"",
                            done, done + 3600, mock_listen_addr, n);
    } else if (strcmp(status, "failed") == 0) {
        MOCK_LIT(b, ",\"error\":{\"code\":\"generation_failed\","
                    "\"message\":\"Video generation failed (mock fault)\"}");
    }
    MOCK_LIT(b, "}");
}

void mock_video_submit(mock_call_t *c)
{
    const char *size = str_field(c->json, "size");
    json_t *jsec = json_object_get(c->json, "seconds");
    char secbuf[24];
    struct evbuffer *b;
    job_t *j;
    long n;

    mock_stat_add(MOCK_ST_VIDEO_SUBMIT, 1);
    if (mock_fault_early(c->req, &c->opts, MOCK_API_OPENAI, c->opts.latency_ms, false))
        return;
    if (json_is_integer(jsec))
        snprintf(secbuf, sizeof(secbuf), "%lld", (long long)json_integer_value(jsec));
    else
        snprintf(secbuf, sizeof(secbuf), "%.20s",
                 json_is_string(jsec) ? json_string_value(jsec) : "4");
    if ((j = calloc(1, sizeof(*j))) == NULL) {
        evhtp_send_reply(c->req, EVHTP_RES_SERVERR);
        return;
    }
    j->model = strndup(c->model, c->model_len);
    j->size = strdup(size ? size : "720x1280");
    j->seconds = strdup(secbuf);
    j->start_ms = mock_now_ms();
    j->created_at = mock_unix_s();
    j->duration_ms = c->opts.duration_ms;
    j->fail = c->opts.fault == MOCK_FAULT_FAIL;
    if (j->model == NULL || j->size == NULL || j->seconds == NULL || (n = job_add(j)) == 0) {
        job_free(j);
        evhtp_send_reply(c->req, EVHTP_RES_SERVERR);
        return;
    }
    if (j->fail)
        mock_stat_add(MOCK_ST_FAULTS, 1);
    if ((b = evbuffer_new()) == NULL) {
        evhtp_send_reply(c->req, EVHTP_RES_SERVERR);
        return;
    }
    pthread_mutex_lock(&jobs_lock);
    video_json(b, n, j, j->start_ms, true);
    pthread_mutex_unlock(&jobs_lock);
    mock_deliver(c->req, &c->opts, 200, MOCK_CT_JSON, b);
}

/* Parses "video_mock<n>" into n; 0 if it is not one. */
static long parse_video_id(const char *id, size_t len)
{
    const char *p = "video_mock";
    size_t k = strlen(p);
    long n = 0;

    if (len <= k || memcmp(id, p, k) != 0 || len - k > 12)
        return 0;
    for (size_t i = k; i < len; i++) {
        if (id[i] < '0' || id[i] > '9')
            return 0;
        n = n * 10 + (id[i] - '0');
    }
    return n;
}

static void reply_file(evhtp_request_t *req, const char *ctype, const unsigned char *data, size_t n)
{
    evhtp_headers_add_header(req->headers_out, evhtp_header_new("Content-Type", ctype, 0, 0));
    evbuffer_add(req->buffer_out, data, n);
    evhtp_send_reply(req, EVHTP_RES_OK);
}

void mock_video_get(evhtp_request_t *req, const char *id, size_t id_len, bool content,
                    const mock_opts_t *o)
{
    long n = parse_video_id(id, id_len);
    struct evbuffer *b;
    bool found = false, ready = false;

    mock_stat_add(MOCK_ST_VIDEO_POLL, 1);
    if (mock_fault_early(req, o, MOCK_API_OPENAI, o->latency_ms, false))
        return;
    if ((b = evbuffer_new()) == NULL) {
        evhtp_send_reply(req, EVHTP_RES_SERVERR);
        return;
    }
    pthread_mutex_lock(&jobs_lock);
    if (n >= 1 && (size_t)n <= n_jobs) {
        const job_t *j = jobs[n - 1];
        uint64_t now = mock_now_ms();
        found = true;
        ready = !j->fail && now - j->start_ms >= (uint64_t)j->duration_ms;
        if (!content)
            video_json(b, n, j, now, false);
    }
    pthread_mutex_unlock(&jobs_lock);
    if (!found) {
        mock_reply_error_code(req, MOCK_API_OPENAI, 404, "Video not found", "not_found");
    } else if (content && !ready) {
        mock_reply_error_code(req, MOCK_API_OPENAI, 404, "Video is not ready", "not_ready");
    } else if (content) {
        reply_file(req, "video/mp4", mp4_stub, sizeof(mp4_stub));
    } else {
        mock_reply_now(req, 200, MOCK_CT_JSON, b);
    }
    evbuffer_free(b);
}

void mock_file(evhtp_request_t *req, const char *name)
{
    size_t n = strlen(name);

    if (mock_ends_with(name, n, ".png"))
        reply_file(req, "image/png", png_1x1, sizeof(png_1x1));
    else if (mock_ends_with(name, n, ".mp4"))
        reply_file(req, "video/mp4", mp4_stub, sizeof(mp4_stub));
    else
        reply_file(req, "application/octet-stream", (const unsigned char *)"mock", 4);
}

/* ---- multipart/form-data (the real video API takes a form) ---- */

json_t *mock_form_fields(const char *ctype, const char *body, size_t n)
{
    const char *bp = ctype ? strcasestr(ctype, "boundary=") : NULL;
    char delim[256];
    size_t dlen;
    json_t *obj;
    const char *p, *end = body + n;

    if (bp == NULL)
        return NULL;
    bp += 9;
    if (*bp == '"')
        bp++;
    dlen = strcspn(bp, "\";, ");
    if (dlen == 0 || dlen + 4 >= sizeof(delim))
        return NULL;
    delim[0] = '-';
    delim[1] = '-';
    memcpy(delim + 2, bp, dlen);
    dlen += 2;
    if ((obj = json_object()) == NULL)
        return NULL;
    p = memmem(body, n, delim, dlen);
    while (p != NULL) {
        const char *hdr = p + dlen, *val, *next, *name, *name_end;
        if (end - hdr >= 2 && hdr[0] == '-' && hdr[1] == '-')
            break;
        val = memmem(hdr, (size_t)(end - hdr), "\r\n\r\n", 4);
        if (val == NULL)
            break;
        val += 4;
        next = memmem(val, (size_t)(end - val), delim, dlen);
        if (next == NULL)
            break;
        name = memmem(hdr, (size_t)(val - hdr), "name=\"", 6);
        if (name != NULL && memmem(hdr, (size_t)(val - hdr), "filename=", 9) == NULL) {
            name += 6;
            name_end = memchr(name, '"', (size_t)(val - name));
            const char *vend = next;
            if (vend - val >= 2 && vend[-2] == '\r' && vend[-1] == '\n')
                vend -= 2;
            if (name_end != NULL) {
                char *key = strndup(name, (size_t)(name_end - name));
                if (key != NULL)
                    json_object_set_new(obj, key, json_stringn(val, (size_t)(vend - val)));
                free(key);
            }
        }
        p = next;
    }
    return obj;
}
