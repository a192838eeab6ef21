/* media.c - images (URL or b64_json), /_mock/files, multipart form fields. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "call.h"
#include "jobs.h"
#include "jsonw.h"
#include "mp4.h"
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

static void reply_file(evhtp_request_t *req, const char *ctype, const unsigned char *data, size_t n)
{
    evhtp_headers_add_header(req->headers_out, evhtp_header_new("Content-Type", ctype, 0, 0));
    evbuffer_add(req->buffer_out, data, n);
    evhtp_send_reply(req, EVHTP_RES_OK);
}

/* A job's file (<job id>.mp4) is that job's video (counted as a content
 * fetch); any other .mp4 is the 32-byte stub. Range is honoured for both. */
static void video_file(evhtp_request_t *req, const char *name, size_t n)
{
    mock_job_t *j;
    long total = 32;

    mock_jobs_lock();
    j = mock_job_find(name, n - 4);
    if (j != NULL && !j->deleted) {
        j->content_fetches++;
        total = j->content_bytes;
    }
    mock_jobs_unlock();
    mock_mp4_reply(req, total);
}

void mock_file(evhtp_request_t *req, const char *name)
{
    size_t n = strlen(name);

    if (mock_ends_with(name, n, ".png"))
        reply_file(req, "image/png", png_1x1, sizeof(png_1x1));
    else if (mock_ends_with(name, n, ".mp4"))
        video_file(req, name, n);
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
