/* json.c - depth-limited parsing. */
#include "core/json.h"

#include <stdio.h>
#include <string.h>

int lx_json_depth(const char *p, size_t n, int limit)
{
    int depth = 0, max = 0;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > limit)
                return -1;
            if (depth > max)
                max = depth;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return max;
}

json_t *lx_json_parse(const char *p, size_t n, int max_depth, char *err, size_t errlen)
{
    if (lx_json_depth(p, n, max_depth) < 0) {
        snprintf(err, errlen, "JSON nested deeper than %d levels", max_depth);
        return NULL;
    }
    /* No raw NUL byte belongs in JSON text, yet jansson ends a number at
     * one and reads on ("{\"a\":1<NUL>}" is {"a":1} to it): a body llmux
     * accepts must be one any upstream parses alike. */
    const char *nul = memchr(p, '\0', n);
    if (nul) {
        snprintf(err, errlen, "invalid JSON at byte %zu: a NUL byte", (size_t)(nul - p));
        return NULL;
    }
    json_error_t jerr;
    /* Duplicate keys are refused: the router and the byte splicer must see
     * the same "model". */
    json_t *root = json_loadb(p, n, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        snprintf(err, errlen, "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
                 jerr.text);
    return root;
}

lx_str_t lx_json_str(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        return LX_NULL_STR;
    return (lx_str_t){json_string_value(v), json_string_length(v)};
}

static int dump_to_buf(const char *p, size_t n, void *b)
{
    lx_buf_append(b, p, n);
    return 0;
}

void lx_json_dump_buf(lx_buf_t *b, const json_t *v, size_t flags)
{
    /* compact output goes through our writer: shortest round-trip reals */
    if ((flags & ~(size_t)(JSON_COMPACT | JSON_ENCODE_ANY)) == 0 && (flags & JSON_COMPACT))
        lx_json_write(b, v);
    else
        json_dump_callback(v, dump_to_buf, b, flags);
}
