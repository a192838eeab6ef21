/* body.c - top-level JSON key splicing. */
#include "ai/body.h"
#include "core/jscan.h"

#include <jansson.h>

static bool escaped_key_is(const char *lit, size_t n, const char *key)
{
    json_t *s = json_loadb(lit, n, JSON_DECODE_ANY, NULL);
    bool eq = json_is_string(s) && strcmp(json_string_value(s), key) == 0;
    json_decref(s);
    return eq;
}

/* Walks the top-level members of the object p[0..n). The value of each
 * keys[k] (its first occurrence) goes to [vs[k], ve[k]); ve[k] stays 0 for
 * a key not met (no value starts at 0). With stop, returns LX_OK as soon as
 * keys[0] is found and LX_ERROR if it is not; without, walks to the closing
 * brace and returns LX_OK only if the object is whole, with nothing but
 * whitespace after it. */
static int walk_members(const char *p, size_t n, const char *const *keys, int nkeys, size_t *vs,
                        size_t *ve, bool stop)
{
    for (int k = 0; k < nkeys; k++)
        vs[k] = ve[k] = 0;
    size_t i = lx_jscan_ws(p, n, 0);
    if (i >= n || p[i] != '{')
        return LX_ERROR;
    i = lx_jscan_ws(p, n, i + 1);
    if (!stop && i < n && p[i] == '}')
        return lx_jscan_ws(p, n, i + 1) == n ? LX_OK : LX_ERROR;
    for (;;) {
        if (i >= n || p[i] != '"')
            return LX_ERROR;
        size_t ks = i + 1, kend = lx_jscan_skip_string(p, n, i);
        bool escaped = memchr(p + ks, '\\', kend - ks) != NULL; /* "mod\u0065l" is "model" too */
        int hit = -1;
        for (int k = 0; k < nkeys && hit < 0; k++) {
            size_t klen = strlen(keys[k]);
            if (ve[k] == 0 && ((kend - ks - 1 == klen && memcmp(p + ks, keys[k], klen) == 0) ||
                               (escaped && escaped_key_is(p + i, kend - i, keys[k]))))
                hit = k;
        }
        i = lx_jscan_ws(p, n, kend);
        if (i >= n || p[i] != ':')
            return LX_ERROR;
        i = lx_jscan_ws(p, n, i + 1);
        size_t end = lx_jscan_skip_value(p, n, i);
        if (end >= n)
            return LX_ERROR; /* the value runs off the end: a truncated document */
        if (hit >= 0) {
            vs[hit] = i;
            ve[hit] = end;
            if (stop)
                return LX_OK;
        }
        i = lx_jscan_ws(p, n, end);
        if (!stop && i < n && p[i] == '}')
            return lx_jscan_ws(p, n, i + 1) == n ? LX_OK : LX_ERROR;
        if (i >= n || p[i] != ',')
            return LX_ERROR;
        i = lx_jscan_ws(p, n, i + 1);
    }
}

int lx_body_find(const char *p, size_t n, const char *key, size_t *vs, size_t *ve)
{
    return walk_members(p, n, &key, 1, vs, ve, true);
}

bool lx_body_scan(const char *p, size_t n, const char *const *keys, int nkeys, size_t *vs,
                  size_t *ve)
{
    return walk_members(p, n, keys, nkeys, vs, ve, false) == LX_OK;
}

void lx_body_set(lx_buf_t *out, const char *p, size_t n, const char *key, const char *value,
                 size_t vlen)
{
    size_t vs, ve;
    lx_buf_reserve(out, n + vlen + strlen(key) + 8);
    if (lx_body_find(p, n, key, &vs, &ve) == LX_OK) {
        lx_buf_append(out, p, vs);
        lx_buf_append(out, value, vlen);
        lx_buf_append(out, p + ve, n - ve);
        return;
    }
    size_t open = lx_jscan_ws(p, n, 0) + 1; /* just after '{' */
    size_t next = lx_jscan_ws(p, n, open);
    bool empty = next < n && p[next] == '}';
    lx_buf_append(out, p, open);
    lx_buf_printf(out, "\"%s\":", key);
    lx_buf_append(out, value, vlen);
    if (!empty)
        lx_buf_append_char(out, ',');
    lx_buf_append(out, p + open, n - open);
}

void lx_body_set_usage(lx_buf_t *out, const char *p, size_t n)
{
    static const char usage[] = "{\"include_usage\":true}";
    size_t vs, ve;
    lx_buf_t so;
    lx_buf_init(&so, 64);
    if (lx_body_find(p, n, "stream_options", &vs, &ve) == LX_OK && p[vs] == '{')
        lx_body_set(&so, p + vs, ve - vs, "include_usage", "true", 4);
    else
        lx_buf_append(&so, usage, sizeof usage - 1);
    lx_body_set(out, p, n, "stream_options", so.p, so.n);
    lx_buf_free(&so);
}

void lx_body_set_model(lx_buf_t *out, const char *p, size_t n, const char *model)
{
    lx_buf_t quoted;
    lx_buf_init(&quoted, 64);
    lx_buf_append_json_str(&quoted, model, strlen(model));
    lx_body_set(out, p, n, "model", quoted.p, quoted.n);
    lx_buf_free(&quoted);
}
