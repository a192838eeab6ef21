/* input.c - client bodies for media tasks, checked field by field. */
#include "media/input.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_PROMPT_BYTES   32000
#define MAX_MODEL_BYTES    256
#define MAX_URL_BYTES      2048
#define MAX_IMAGE_BYTES    (20u << 20) /* a data: URI */
#define MAX_SECONDS        600
#define MAX_IMAGES         10
#define MAX_METADATA_PAIRS 16

static json_t *refuse(lx_media_problem_t *p, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static json_t *refuse(lx_media_problem_t *p, const char *param, const char *fmt, ...)
{
    lx_copy(p->param, sizeof p->param, param, strlen(param));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->message, sizeof p->message, fmt, ap);
    va_end(ap);
    return NULL;
}

/* Each check returns false after filling p. */

static bool only_known(const json_t *body, const char *const *known, lx_media_problem_t *p)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)body, k, v)
    {
        bool ok = false;
        for (const char *const *q = known; *q && !ok; q++)
            ok = strcmp(k, *q) == 0;
        if (!ok) {
            refuse(p, k, "%.64s: unknown field", k);
            return false;
        }
    }
    return true;
}

/* A string field of 1..max bytes without NUL; *out NULL when absent. */
static bool str_field(const json_t *body, const char *key, size_t max, bool required,
                      const char **out, lx_media_problem_t *p)
{
    json_t *v = json_object_get(body, key);
    *out = NULL;
    if (v == NULL || json_is_null(v)) {
        if (required)
            refuse(p, key, "%s: required", key);
        return !required;
    }
    if (!json_is_string(v)) {
        refuse(p, key, "%s: must be a string", key);
        return false;
    }
    size_t n = json_string_length(v);
    if (n == 0 || n > max || memchr(json_string_value(v), '\0', n) != NULL) {
        refuse(p, key, "%s: must be 1 to %zu bytes of text", key, max);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

static bool is_size(const char *s)
{
    const char *x = strchr(s, 'x');
    if (x == NULL || x == s || x[1] == '\0' || x - s > 5 || strlen(x + 1) > 5)
        return false;
    for (const char *q = s; *q; q++)
        if (q != x && (*q < '0' || *q > '9'))
            return false;
    return atoi(s) > 0 && atoi(x + 1) > 0;
}

static bool is_http_url(const char *s)
{
    if (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0)
        return false;
    const char *host = strstr(s, "://") + 3;
    if (*host == '\0' || *host == '/')
        return false;
    for (const unsigned char *q = (const unsigned char *)s; *q; q++)
        if (*q <= ' ' || *q == 0x7f)
            return false;
    size_t hl = strcspn(host, "/?#");
    return memchr(host, '@', hl) == NULL; /* no user:password@ */
}

static bool image_ref(const char *s)
{
    return is_http_url(s) || strncmp(s, "data:image/", 11) == 0;
}

static bool common_tail(const json_t *body, json_t *out, lx_media_problem_t *p)
{
    const char *cb;
    if (!str_field(body, "callback_url", MAX_URL_BYTES, false, &cb, p))
        return false;
    if (cb && !is_http_url(cb)) {
        refuse(p, "callback_url",
               "callback_url: must be an http:// or https:// URL without user:password@");
        return false;
    }
    if (cb)
        json_object_set_new(out, "callback_url", json_string(cb));
    json_t *m = json_object_get(body, "metadata");
    if (m == NULL || json_is_null(m))
        return true;
    if (!json_is_object(m) || json_object_size(m) > MAX_METADATA_PAIRS) {
        refuse(p, "metadata", "metadata: must be an object of up to %d string values",
               MAX_METADATA_PAIRS);
        return false;
    }
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v)
    {
        if (strlen(k) > 64 || !json_is_string(v) || json_string_length(v) > 512) {
            refuse(p, "metadata",
                   "metadata.%.64s: keys up to 64 characters, values strings up to 512", k);
            return false;
        }
    }
    json_object_set(out, "metadata", m);
    return true;
}

static json_t *start(const char *type, const char *model, const char *prompt)
{
    return json_pack("{s:s,s:s,s:s}", "type", type, "model", model, "prompt", prompt);
}

static bool size_field(const json_t *body, json_t *out, bool allow_auto, lx_media_problem_t *p)
{
    const char *size;
    if (!str_field(body, "size", 16, false, &size, p))
        return false;
    if (size && !is_size(size) && !(allow_auto && strcmp(size, "auto") == 0)) {
        refuse(p, "size", "size: must be WIDTHxHEIGHT, such as \"1280x720\"%s",
               allow_auto ? ", or \"auto\"" : "");
        return false;
    }
    if (size)
        json_object_set_new(out, "size", json_string(size));
    return true;
}

static bool image_field(const json_t *body, const char *key, json_t *out, lx_media_problem_t *p)
{
    const char *img;
    if (!str_field(body, key, MAX_IMAGE_BYTES, false, &img, p))
        return false;
    if (img && !image_ref(img)) {
        refuse(p, key, "%s: must be an http(s) URL or a data:image/... URI", key);
        return false;
    }
    if (img)
        json_object_set_new(out, "image", json_string(img));
    return true;
}

json_t *lx_media_video_input(const json_t *body, lx_media_problem_t *p)
{
    static const char *const known[] = {"model", "prompt",       "seconds",  "size",
                                        "image", "callback_url", "metadata", NULL};
    if (!json_is_object(body))
        return refuse(p, "", "the body must be a JSON object");
    const char *model, *prompt;
    if (!only_known(body, known, p) ||
        !str_field(body, "model", MAX_MODEL_BYTES, true, &model, p) ||
        !str_field(body, "prompt", MAX_PROMPT_BYTES, true, &prompt, p))
        return NULL;
    json_t *out = start("video.generate", model, prompt);
    json_t *s = json_object_get(body, "seconds");
    if (s && !json_is_null(s)) {
        if (!json_is_integer(s) || json_integer_value(s) < 1 ||
            json_integer_value(s) > MAX_SECONDS) {
            json_decref(out);
            return refuse(p, "seconds", "seconds: must be a whole number from 1 to %d",
                          MAX_SECONDS);
        }
        json_object_set(out, "seconds", s);
    }
    if (!size_field(body, out, false, p) || !image_field(body, "image", out, p) ||
        !common_tail(body, out, p)) {
        json_decref(out);
        return NULL;
    }
    return out;
}

json_t *lx_media_image_input(const json_t *body, lx_media_problem_t *p)
{
    static const char *const known[] = {"model",        "prompt",        "n",
                                        "size",         "quality",       "style",
                                        "background",   "output_format", "response_format",
                                        "callback_url", "metadata",      NULL};
    static const char *const texts[] = {"quality", "style", "background", "output_format"};
    if (!json_is_object(body))
        return refuse(p, "", "the body must be a JSON object");
    const char *model, *prompt;
    if (!only_known(body, known, p) ||
        !str_field(body, "model", MAX_MODEL_BYTES, true, &model, p) ||
        !str_field(body, "prompt", MAX_PROMPT_BYTES, true, &prompt, p))
        return NULL;
    json_t *out = start("image.generate", model, prompt);
    json_t *n = json_object_get(body, "n");
    if (n && !json_is_null(n)) {
        if (!json_is_integer(n) || json_integer_value(n) < 1 ||
            json_integer_value(n) > MAX_IMAGES) {
            json_decref(out);
            return refuse(p, "n", "n: must be a whole number from 1 to %d", MAX_IMAGES);
        }
        json_object_set(out, "n", n);
    }
    for (size_t i = 0; i < LX_ARRAY_LEN(texts); i++) {
        const char *t;
        if (!str_field(body, texts[i], 32, false, &t, p)) {
            json_decref(out);
            return NULL;
        }
        if (t)
            json_object_set_new(out, texts[i], json_string(t));
    }
    const char *rf;
    if (!str_field(body, "response_format", 16, false, &rf, p) ||
        (rf && strcmp(rf, "url") != 0 && strcmp(rf, "b64_json") != 0)) {
        json_decref(out);
        if (rf)
            refuse(p, "response_format", "response_format: must be \"url\" or \"b64_json\"");
        return NULL;
    }
    if (rf)
        json_object_set_new(out, "response_format", json_string(rf));
    if (!size_field(body, out, true, p) || !common_tail(body, out, p)) {
        json_decref(out);
        return NULL;
    }
    return out;
}

json_t *lx_media_openai_video_input(const json_t *body, lx_media_problem_t *p)
{
    static const char *const known[] = {"model", "prompt",          "seconds",
                                        "size",  "input_reference", NULL};
    if (!json_is_object(body))
        return refuse(p, "", "the body must be a JSON object");
    const char *model, *prompt, *secs;
    if (!only_known(body, known, p) ||
        !str_field(body, "model", MAX_MODEL_BYTES, false, &model, p) ||
        !str_field(body, "prompt", MAX_PROMPT_BYTES, true, &prompt, p))
        return NULL;
    json_t *sv = json_object_get(body, "seconds");
    if (sv && !json_is_null(sv) && !json_is_string(sv))
        return refuse(p, "seconds", "seconds: must be a string of whole seconds, such as \"8\"");
    if (!str_field(body, "seconds", 3, false, &secs, p))
        return refuse(p, "seconds", "seconds: must be a string of whole seconds, such as \"8\"");
    long n = 0;
    if (secs) {
        char *end;
        n = strtol(secs, &end, 10);
        if (*end != '\0' || secs[0] < '0' || secs[0] > '9' || n < 1 || n > MAX_SECONDS)
            return refuse(p, "seconds",
                          "seconds: must be a string of whole seconds, such as \"8\"");
    }
    json_t *out = start("video.generate", model ? model : "sora-2", prompt);
    if (secs)
        json_object_set_new(out, "seconds", json_integer(n));
    if (!size_field(body, out, false, p)) {
        json_decref(out);
        return NULL;
    }
    json_t *ref = json_object_get(body, "input_reference");
    if (ref && !json_is_null(ref)) {
        if (!json_is_object(ref) || json_object_get(ref, "file_id") != NULL ||
            !only_known(ref, (const char *const[]){"image_url", NULL}, p) ||
            !image_field(ref, "image_url", out, p) || !json_object_get(out, "image")) {
            json_decref(out);
            return refuse(p, "input_reference",
                          "input_reference: must be {\"image_url\": an http(s) URL or a "
                          "data:image/... URI} (file_id is not supported)");
        }
    }
    return out;
}

const char *lx_media_openai_video_status(const char *s)
{
    if (s == NULL)
        return "failed";
    if (strcmp(s, "queued") == 0 || strcmp(s, "submitting") == 0)
        return "queued";
    if (strcmp(s, "running") == 0)
        return "in_progress";
    if (strcmp(s, "succeeded") == 0)
        return "completed";
    return "failed";
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

json_t *lx_media_openai_video_object(const lx_media_video_view_t *v)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(v->id ? v->id : ""));
    json_object_set_new(o, "object", json_string("video"));
    json_object_set_new(o, "model", json_string(v->model ? v->model : ""));
    const char *status = lx_media_openai_video_status(v->status);
    json_object_set_new(o, "status", json_string(status));
    int progress = v->progress < 0 ? 0 : v->progress > 100 ? 100 : v->progress;
    if (strcmp(status, "completed") == 0)
        progress = 100;
    json_object_set_new(o, "progress", json_integer(progress));
    json_object_set_new(o, "created_at", json_integer(v->created_at));
    json_object_set_new(o, "completed_at",
                        v->completed_at ? json_integer(v->completed_at) : json_null());
    json_object_set_new(o, "expires_at", v->expires_at ? json_integer(v->expires_at) : json_null());
    json_object_set_new(o, "prompt", str_or_null(v->prompt));
    json_object_set_new(o, "size", json_string(v->size ? v->size : ""));
    char secs[24] = "";
    if (v->seconds > 0)
        lx_i64_str(secs, v->seconds);
    json_object_set_new(o, "seconds", json_string(secs));
    json_object_set_new(o, "remixed_from_video_id", json_null());
    const char *code = v->error_code, *msg = v->error_message;
    if (code == NULL && v->status && strcmp(v->status, "cancelled") == 0)
        code = "cancelled", msg = msg ? msg : "the video was cancelled";
    if (code == NULL && v->status && strcmp(v->status, "expired") == 0)
        code = "expired", msg = msg ? msg : "the video did not finish in time";
    if (code == NULL && strcmp(status, "failed") == 0)
        code = "failed";
    json_object_set_new(
        o, "error",
        code ? json_pack("{s:s,s:s}", "code", code, "message", msg ? msg : "the video failed")
             : json_null());
    return o;
}
