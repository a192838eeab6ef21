/* embed.c - deterministic embedding vectors and the OpenAI embeddings endpoint. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "call.h"
#include "jsonw.h"
#include "reply.h"
#include "stats.h"
#include "util.h"

/* Fills v[0..dims) with a unit vector derived from the text's hash. */
static void fill_vector(float *v, long dims, const char *text, size_t n)
{
    uint64_t x = mock_hash(text, n) | 1u;
    double norm = 0;

    for (long i = 0; i < dims; i++) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        uint64_t r = x * 2685821657736338717ull;
        double d = (double)(r >> 11) / (double)(1ull << 53) * 2.0 - 1.0;
        v[i] = (float)d;
        norm += d * d;
    }
    norm = sqrt(norm);
    if (norm > 0)
        for (long i = 0; i < dims; i++)
            v[i] = (float)(v[i] / norm);
}

void mock_embed_vector(struct evbuffer *out, const char *text, size_t n, long dims)
{
    float *v = malloc(sizeof(float) * (size_t)dims);

    MOCK_LIT(out, "[");
    if (v != NULL) {
        fill_vector(v, dims, text, n);
        for (long i = 0; i < dims; i++)
            evbuffer_add_printf(out, i ? ",%.7f" : "%.7f", (double)v[i]);
        free(v);
    }
    MOCK_LIT(out, "]");
}

/* Little-endian float32 array, base64. */
static void embed_base64(struct evbuffer *out, const char *text, size_t n, long dims)
{
    float *v = malloc(sizeof(float) * (size_t)dims);
    unsigned char *bytes = malloc(4 * (size_t)dims);

    MOCK_LIT(out, "\"");
    if (v != NULL && bytes != NULL) {
        fill_vector(v, dims, text, n);
        for (long i = 0; i < dims; i++) {
            uint32_t u;
            memcpy(&u, &v[i], 4);
            bytes[4 * i] = (unsigned char)(u & 0xFF);
            bytes[4 * i + 1] = (unsigned char)((u >> 8) & 0xFF);
            bytes[4 * i + 2] = (unsigned char)((u >> 16) & 0xFF);
            bytes[4 * i + 3] = (unsigned char)((u >> 24) & 0xFF);
        }
        mock_base64(out, bytes, 4 * (size_t)dims);
    }
    free(v);
    free(bytes);
    MOCK_LIT(out, "\"");
}

static bool is_token_array(json_t *a)
{
    return json_is_array(a) && json_array_size(a) > 0 && json_is_integer(json_array_get(a, 0));
}

/* One embedding object for input item `in` (a string or a token array). */
static void one(struct evbuffer *b, json_t *in, size_t index, long dims, bool b64)
{
    char *dump = NULL;
    const char *text;
    size_t n;

    if (json_is_string(in)) {
        text = json_string_value(in);
        n = json_string_length(in);
    } else {
        dump = json_dumps(in, JSON_COMPACT);
        text = dump ? dump : "";
        n = strlen(text);
    }
    evbuffer_add_printf(
        b, "%s{\"object\":\"embedding\",\"index\":%zu,\"embedding\":", index ? "," : "", index);
    if (b64)
        embed_base64(b, text, n, dims);
    else
        mock_embed_vector(b, text, n, dims);
    MOCK_LIT(b, "}");
    free(dump);
}

void mock_openai_embeddings(mock_call_t *c)
{
    json_t *input = json_object_get(c->json, "input");
    json_t *fmt = json_object_get(c->json, "encoding_format");
    json_t *dimensions = json_object_get(c->json, "dimensions");
    bool b64 = json_is_string(fmt) && strcmp(json_string_value(fmt), "base64") == 0;
    long dims = c->opts.dims;
    struct evbuffer *b;

    mock_stat_add(MOCK_ST_EMBEDDINGS, 1);
    if (mock_fault_early(c->req, &c->opts, MOCK_API_OPENAI, c->opts.latency_ms, false))
        return;
    if (!(json_is_string(input) || (json_is_array(input) && json_array_size(input) > 0))) {
        mock_reply_error(c->req, MOCK_API_OPENAI, 400,
                         "'input' must be a string or a non-empty array", 0);
        return;
    }
    if (!c->opts.dims_set && json_is_integer(dimensions) && json_integer_value(dimensions) > 0 &&
        json_integer_value(dimensions) <= 65536)
        dims = (long)json_integer_value(dimensions);
    if ((b = evbuffer_new()) == NULL) {
        evhtp_send_reply(c->req, EVHTP_RES_SERVERR);
        return;
    }
    MOCK_LIT(b, "{\"object\":\"list\",\"data\":[");
    if (json_is_string(input) || is_token_array(input)) {
        one(b, input, 0, dims, b64);
    } else {
        for (size_t i = 0; i < json_array_size(input); i++)
            one(b, json_array_get(input, i), i, dims, b64);
    }
    MOCK_LIT(b, "],\"model\":");
    mock_jw_str(b, c->model, c->model_len);
    evbuffer_add_printf(b, ",\"usage\":{\"prompt_tokens\":%ld,\"total_tokens\":%ld}}",
                        c->prompt_tokens, c->prompt_tokens);
    mock_deliver(c->req, &c->opts, 200, MOCK_CT_JSON, b);
}
