/* router.c - maps method + path to an endpoint, parses the body and the
 * per-request options once, records the request, and calls the handler. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "call.h"
#include "control.h"
#include "record.h"
#include "reply.h"
#include "stats.h"
#include "util.h"

typedef enum {
    R_NONE = 0,
    R_CHAT,
    R_EMBED,
    R_IMAGES,
    R_MESSAGES,
    R_COUNT_TOKENS,
    R_GEMINI,
    R_VIDEO_SUBMIT,
    R_VIDEO_GET,
    R_VIDEO_CONTENT,
    R_MODELS,
    R_MODEL,
    R_GEMINI_MODELS,
    R_GEMINI_MODEL,
    R_RUNWAY_T2V,  /* POST .../text_to_video */
    R_RUNWAY_I2V,  /* POST .../image_to_video */
    R_RUNWAY_TASK, /* GET or DELETE .../tasks/{id} */
} route_t;

typedef struct {
    route_t r;
    const char *rest; /* after "/models/", "/videos/" or "/tasks/" */
    size_t rest_len;
} match_t;

static match_t match(const char *p, size_t n)
{
    match_t m = {R_NONE, NULL, 0};
    const char *models = strstr(p, "/models/");
    const char *videos, *tasks;

    if (models != NULL) {
        m.rest = models + 8;
        m.rest_len = n - (size_t)(m.rest - p);
        if (memchr(m.rest, ':', m.rest_len) != NULL)
            m.r = R_GEMINI;
        else if (mock_starts_with(p, n, "/v1beta/"))
            m.r = R_GEMINI_MODEL;
        else
            m.r = R_MODEL;
        return m;
    }
    if (mock_ends_with(p, n, "/chat/completions"))
        m.r = R_CHAT;
    else if (mock_ends_with(p, n, "/embeddings"))
        m.r = R_EMBED;
    else if (mock_ends_with(p, n, "/messages"))
        m.r = R_MESSAGES;
    else if (mock_ends_with(p, n, "/messages/count_tokens"))
        m.r = R_COUNT_TOKENS;
    else if (mock_ends_with(p, n, "/images/generations"))
        m.r = R_IMAGES;
    else if (mock_ends_with(p, n, "/videos"))
        m.r = R_VIDEO_SUBMIT;
    else if (mock_ends_with(p, n, "/models"))
        m.r = mock_starts_with(p, n, "/v1beta/") ? R_GEMINI_MODELS : R_MODELS;
    else if (mock_ends_with(p, n, "/text_to_video"))
        m.r = R_RUNWAY_T2V;
    else if (mock_ends_with(p, n, "/image_to_video"))
        m.r = R_RUNWAY_I2V;
    else if ((videos = strstr(p, "/videos/")) != NULL) {
        m.rest = videos + 8;
        m.rest_len = n - (size_t)(m.rest - p);
        if (mock_ends_with(m.rest, m.rest_len, "/content")) {
            m.r = R_VIDEO_CONTENT;
            m.rest_len -= 8;
        } else {
            m.r = R_VIDEO_GET;
        }
        if (m.rest_len == 0 || memchr(m.rest, '/', m.rest_len) != NULL)
            m.r = R_NONE;
    } else if ((tasks = strstr(p, "/tasks/")) != NULL) {
        m.rest = tasks + 7;
        m.rest_len = n - (size_t)(m.rest - p);
        if (m.rest_len > 0 && memchr(m.rest, '/', m.rest_len) == NULL)
            m.r = R_RUNWAY_TASK;
    }
    return m;
}

static bool is_post(route_t r)
{
    switch (r) {
    case R_CHAT:
    case R_EMBED:
    case R_IMAGES:
    case R_MESSAGES:
    case R_COUNT_TOKENS:
    case R_GEMINI:
    case R_VIDEO_SUBMIT:
    case R_RUNWAY_T2V:
    case R_RUNWAY_I2V:
        return true;
    default:
        return false;
    }
}

/* POST routes take POST (and GET for the video list); a job (OpenAI video,
 * Runway task) GET and DELETE; the rest GET. */
static bool method_ok(route_t r, htp_method m)
{
    if (r == R_VIDEO_SUBMIT) /* GET lists the videos */
        return m == htp_method_POST || m == htp_method_GET;
    if (is_post(r))
        return m == htp_method_POST;
    if (r == R_VIDEO_GET || r == R_RUNWAY_TASK)
        return m == htp_method_GET || m == htp_method_DELETE;
    return m == htp_method_GET;
}

static mock_api_t api_of(route_t r)
{
    switch (r) {
    case R_MESSAGES:
    case R_COUNT_TOKENS:
        return MOCK_API_ANTHROPIC;
    case R_GEMINI:
    case R_GEMINI_MODELS:
    case R_GEMINI_MODEL:
        return MOCK_API_GEMINI;
    case R_RUNWAY_T2V:
    case R_RUNWAY_I2V:
    case R_RUNWAY_TASK:
        return MOCK_API_RUNWAY;
    default:
        return MOCK_API_OPENAI;
    }
}

/* Applies "+key=value" options carried by the API key (e.g. a gateway
 * credential "sk-a+fault=429"), so that two credentials of one provider can
 * behave differently. The model's options, applied later, win. */
static void key_opts(evhtp_request_t *req, mock_opts_t *o)
{
    const char *k = evhtp_header_find(req->headers_in, "Authorization");
    if (k && strncasecmp(k, "Bearer ", 7) == 0)
        k += 7;
    if (k == NULL)
        k = evhtp_header_find(req->headers_in, "x-api-key");
    if (k == NULL)
        k = evhtp_header_find(req->headers_in, "x-goog-api-key");
    if (k)
        mock_opts_apply_model(o, k, strlen(k));
}

/* Applies every x-mock-* header to o. */
static void header_opts(evhtp_request_t *req, mock_opts_t *o)
{
    evhtp_kv_t *kv;

    TAILQ_FOREACH(kv, req->headers_in, next)
    {
        if (kv->klen > 7 && kv->val != NULL && strncasecmp(kv->key, "x-mock-", 7) == 0)
            mock_opts_set(o, kv->key + 7, kv->klen - 7, kv->val, kv->vlen);
    }
}

static void not_found(evhtp_request_t *req, const char *path)
{
    char msg[256];

    mock_stat_add(MOCK_ST_NOT_FOUND, 1);
    snprintf(msg, sizeof(msg), "Unknown request URL: %.200s", path);
    mock_reply_error_code(req, MOCK_API_OPENAI, 404, msg, "unknown_url");
}

/* The POST endpoints: body, model and options, then the handler. */
static void api_call(evhtp_request_t *req, match_t *m, const char *path, const char *query,
                     const char *body, size_t len)
{
    mock_api_t api = api_of(m->r);
    mock_call_t c = {.req = req, .path = path, .query = query, .body = body, .body_len = len};
    char model_buf[512];
    json_error_t jerr;

    c.json = len > 0 ? json_loadb(body, len, 0, &jerr) : NULL;
    if (c.json == NULL && m->r == R_VIDEO_SUBMIT)
        c.json = mock_form_fields(evhtp_header_find(req->headers_in, "Content-Type"), body, len);
    if (c.json == NULL && m->r == R_GEMINI && len == 0)
        c.json = json_object();
    if (!json_is_object(c.json)) {
        json_decref(c.json);
        mock_reply_error(req, api, 400,
                         "We could not parse the JSON body of your request. (mock: body must be a "
                         "JSON object)",
                         0);
        return;
    }

    if (m->r == R_GEMINI) {
        const char *colon = memrchr(m->rest, ':', m->rest_len);
        size_t dl =
            mock_pct_decode(model_buf, sizeof(model_buf), m->rest, (size_t)(colon - m->rest));
        if (dl == (size_t)-1) {
            json_decref(c.json);
            mock_reply_error(req, api, 400, "Model name too long", 0);
            return;
        }
        c.model = model_buf;
        c.model_len = dl;
        c.action = colon + 1;
    } else {
        json_t *jm = json_object_get(c.json, "model");
        if (json_is_string(jm)) {
            c.model = json_string_value(jm);
            c.model_len = json_string_length(jm);
        } else if (m->r == R_IMAGES || m->r == R_VIDEO_SUBMIT || m->r == R_COUNT_TOKENS) {
            c.model = m->r == R_IMAGES ? "dall-e-2" : m->r == R_VIDEO_SUBMIT ? "sora-2" : "";
            c.model_len = strlen(c.model);
        } else {
            json_decref(c.json);
            mock_reply_error(req, api, 400,
                             api == MOCK_API_ANTHROPIC ? "model: Field required"
                             : api == MOCK_API_RUNWAY  ? "model: Required"
                                                       : "you must provide a model parameter",
                             0);
            return;
        }
    }

    c.opts = mock_opts_defaults;
    header_opts(req, &c.opts);
    key_opts(req, &c.opts);
    c.base_len = mock_opts_apply_model(&c.opts, c.model, c.model_len);
    c.prompt_tokens = len / 4 > 0 ? (long)(len / 4) : 1;

    switch (m->r) {
    case R_CHAT:
        mock_openai_chat(&c);
        break;
    case R_EMBED:
        mock_openai_embeddings(&c);
        break;
    case R_IMAGES:
        mock_images(&c);
        break;
    case R_MESSAGES:
        mock_anthropic_messages(&c);
        break;
    case R_COUNT_TOKENS:
        mock_anthropic_count_tokens(&c);
        break;
    case R_GEMINI:
        mock_gemini(&c);
        break;
    case R_VIDEO_SUBMIT:
        mock_video_submit(&c);
        break;
    case R_RUNWAY_T2V:
    case R_RUNWAY_I2V:
        mock_runway_submit(&c, m->r == R_RUNWAY_I2V);
        break;
    default:
        not_found(req, path);
        break;
    }
    json_decref(c.json);
}

void mock_route(evhtp_request_t *req, void *arg)
{
    const char *path =
        req->uri && req->uri->path && req->uri->path->full ? req->uri->path->full : "/";
    const char *query = req->uri && req->uri->query_raw ? (const char *)req->uri->query_raw : "";
    size_t n = strlen(path);
    size_t len = evbuffer_get_length(req->buffer_in);
    const char *body = len ? (const char *)evbuffer_pullup(req->buffer_in, -1) : "";
    htp_method method = evhtp_request_get_method(req);
    match_t m;

    (void)arg;
    if (mock_starts_with(path, n, "/_mock/")) {
        mock_control(req, path, n);
        return;
    }
    mock_stat_add(MOCK_ST_REQUESTS, 1);
    if (mock_record_enabled)
        mock_record_request(req, body, len);

    m = match(path, n);
    if (m.r == R_NONE) {
        not_found(req, path);
        return;
    }
    if (!method_ok(m.r, method)) {
        mock_stat_add(MOCK_ST_NOT_FOUND, 1);
        mock_reply_error(req, api_of(m.r), 405, "Method not allowed", 0);
        return;
    }
    if (is_post(m.r) && method == htp_method_POST) {
        api_call(req, &m, path, query, body, len);
        return;
    }

    switch (m.r) {
    case R_MODELS:
        mock_openai_models(req, NULL);
        break;
    case R_GEMINI_MODELS:
        mock_gemini_models(req, NULL);
        break;
    case R_MODEL:
    case R_GEMINI_MODEL: {
        char id[256];
        if (mock_pct_decode(id, sizeof(id), m.rest, m.rest_len) == (size_t)-1) {
            not_found(req, path);
        } else if (m.r == R_MODEL) {
            mock_openai_models(req, id);
        } else {
            mock_gemini_models(req, id);
        }
        break;
    }
    case R_VIDEO_SUBMIT:
        mock_video_list(req, query);
        break;
    case R_VIDEO_GET:
    case R_VIDEO_CONTENT:
    case R_RUNWAY_TASK: {
        bool del = method == htp_method_DELETE;
        mock_opts_t o = mock_opts_defaults;
        header_opts(req, &o);
        key_opts(req, &o);
        if (m.r == R_VIDEO_CONTENT)
            mock_video_content(req, m.rest, m.rest_len, &o);
        else if (m.r == R_VIDEO_GET)
            (del ? mock_video_delete : mock_video_get)(req, m.rest, m.rest_len, &o);
        else
            (del ? mock_runway_delete : mock_runway_get)(req, m.rest, m.rest_len, &o);
        break;
    }
    default:
        not_found(req, path);
        break;
    }
}
