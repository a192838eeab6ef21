/* adapter.c - what every adapter shares: request building, lookup, reason
 * mappings. */
#include "ai/adapter.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void lx_up_build_init(lx_up_build_t *b)
{
    memset(b, 0, sizeof *b);
    lx_buf_init(&b->url, 0);
    lx_buf_init(&b->body, 0);
}

void lx_up_build_free(lx_up_build_t *b)
{
    lx_buf_free(&b->url);
    if (b->body.p)
        explicit_bzero(b->body.p, b->body.n);
    lx_buf_free(&b->body);
    for (int i = 0; i < b->nheaders; i++) {
        explicit_bzero(b->headers[i], strlen(b->headers[i])); /* may hold a key */
        free(b->headers[i]);
    }
    b->nheaders = 0;
}

void lx_up_build_header(lx_up_build_t *b, const char *fmt, ...)
{
    if (b->nheaders == LX_UP_MAX_HEADERS)
        return;
    lx_buf_t line;
    lx_buf_init(&line, 64);
    va_list ap;
    va_start(ap, fmt);
    lx_buf_vprintf(&line, fmt, ap);
    va_end(ap);
    b->headers[b->nheaders++] = line.p;
}

void lx_up_build_header_kv(lx_up_build_t *b, const char *name, const char *value)
{
    if (b->nheaders == LX_UP_MAX_HEADERS)
        return;
    size_t nn = strlen(name), vn = strlen(value);
    char *line = lx_alloc(nn + 2 + vn + 1);
    memcpy(line, name, nn);
    memcpy(line + nn, ": ", 2);
    memcpy(line + nn + 2, value, vn + 1);
    b->headers[b->nheaders++] = line;
}

const lx_adapter_t *lx_adapter_for(lx_provider_kind_t kind)
{
    switch (kind) {
    case LX_PROVIDER_ANTHROPIC:
        return &lx_adapter_anthropic;
    case LX_PROVIDER_GEMINI:
        return &lx_adapter_gemini;
    case LX_PROVIDER_OPENAI:
    case LX_PROVIDER_OPENAI_COMPAT:
    default:
        return &lx_adapter_openai;
    }
}

const char *lx_finish_from_anthropic(const char *r)
{
    if (r == NULL)
        return NULL;
    if (!strcmp(r, "end_turn") || !strcmp(r, "stop_sequence") || !strcmp(r, "pause_turn"))
        return "stop";
    if (!strcmp(r, "max_tokens"))
        return "length";
    if (!strcmp(r, "tool_use"))
        return "tool_calls";
    if (!strcmp(r, "refusal"))
        return "content_filter";
    return "stop";
}

const char *lx_finish_from_gemini(const char *r)
{
    if (r == NULL)
        return NULL;
    if (!strcmp(r, "STOP"))
        return "stop";
    if (!strcmp(r, "MAX_TOKENS"))
        return "length";
    if (!strcmp(r, "SAFETY") || !strcmp(r, "RECITATION") || !strcmp(r, "BLOCKLIST") ||
        !strcmp(r, "PROHIBITED_CONTENT") || !strcmp(r, "SPII") || !strcmp(r, "IMAGE_SAFETY"))
        return "content_filter";
    if (!strcmp(r, "MALFORMED_FUNCTION_CALL"))
        return "stop";
    return "stop";
}

void lx_adapter_error_message(const char *body, size_t n, char *out, size_t outlen)
{
    out[0] = '\0';
    json_t *root = json_loadb(body, n, 0, NULL);
    json_t *e = json_object_get(root, "error");
    const char *m = json_string_value(json_object_get(e, "message"));
    if (m == NULL)
        m = json_string_value(e);
    if (m == NULL)
        m = json_string_value(json_object_get(root, "message"));
    if (m)
        snprintf(out, outlen, "%s", m);
    json_decref(root);
}
