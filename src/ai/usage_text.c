/* usage_text.c - token counts from usage objects without a JSON parse. */
#include "ai/usage_text.h"
#include "ai/body.h"
#include "core/jscan.h"

bool lx_json_text_is_object(const char *p, size_t n)
{
    size_t i = lx_jscan_ws(p, n, 0);
    return i < n && p[i] == '{';
}

bool lx_json_text_is_empty_array(const char *p, size_t n)
{
    size_t i = lx_jscan_ws(p, n, 0);
    if (i >= n || p[i] != '[')
        return false;
    i = lx_jscan_ws(p, n, i + 1);
    return i < n && p[i] == ']';
}

/* A JSON integer: -?(0|[1-9][0-9]*) that fits int64, and nothing else (a
 * fraction or exponent makes it a real, which json_integer_value reads as 0). */
static bool parse_int(const char *p, size_t n, int64_t *out)
{
    size_t i = lx_jscan_ws(p, n, 0), end = n;
    while (end > i &&
           (p[end - 1] == ' ' || p[end - 1] == '\t' || p[end - 1] == '\n' || p[end - 1] == '\r'))
        end--;
    bool neg = i < end && p[i] == '-';
    if (neg)
        i++;
    if (i >= end || p[i] < '0' || p[i] > '9' || (p[i] == '0' && end - i > 1))
        return false;
    uint64_t v = 0;
    for (; i < end; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (v > (uint64_t)INT64_MAX + (neg ? 1 : 0))
        return false;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

bool lx_json_text_int(const char *p, size_t n, const char *key, int64_t *out)
{
    size_t vs, ve;
    if (lx_body_find(p, n, key, &vs, &ve) != LX_OK)
        return false;
    return parse_int(p + vs, ve - vs, out);
}

/* A token count: absent or not an integer reads 0; clamped to
 * [0, LX_TOKENS_MAX] (an upstream's number is not trusted). */
static int64_t int_or_zero(const char *p, size_t n, const char *key)
{
    int64_t v = 0;
    return lx_json_text_int(p, n, key, &v) ? lx_tokens_clamp(v) : 0;
}

void lx_usage_text_openai(lx_tokens_t *t, const char *p, size_t n)
{
    if (!lx_json_text_is_object(p, n))
        return;
    t->in = int_or_zero(p, n, "prompt_tokens");
    t->out = int_or_zero(p, n, "completion_tokens");
    t->cached = 0;
    size_t vs, ve;
    if (lx_body_find(p, n, "prompt_tokens_details", &vs, &ve) == LX_OK &&
        lx_json_text_is_object(p + vs, ve - vs))
        t->cached = int_or_zero(p + vs, ve - vs, "cached_tokens");
}

void lx_usage_text_anthropic(lx_tokens_t *t, const char *p, size_t n)
{
    if (!lx_json_text_is_object(p, n))
        return;
    int64_t in, out;
    if (lx_json_text_int(p, n, "input_tokens", &in)) {
        int64_t read = int_or_zero(p, n, "cache_read_input_tokens");
        int64_t made = int_or_zero(p, n, "cache_creation_input_tokens");
        t->in = lx_tokens_add(lx_tokens_add(in, read), made);
        t->cached = read;
    }
    if (lx_json_text_int(p, n, "output_tokens", &out))
        t->out = lx_tokens_clamp(out);
}
