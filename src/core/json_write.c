/* json_write.c - compact JSON text from a jansson value, with every real
 * printed as the shortest text that reads back as the same double.
 *
 * jansson prints reals with "%.17g" (0.15 -> 0.14999999999999999) unless
 * JSON_REAL_PRECISION is set, and that precision is one for the whole
 * document. Here each real takes the first of %.15g, %.16g, %.17g that
 * strtod reads back equal (17 significant digits always round-trip an
 * IEEE double), so 0.15 stays 0.15 and 2.6e-05 keeps printf's exponent.
 * Everything else matches jansson's JSON_COMPACT output: keys in insertion
 * order, the same string escapes. */
#include "core/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t lx_json_real_text(double d, char out[32])
{
    if (!isfinite(d)) { /* jansson never holds one; JSON has no spelling for it */
        memcpy(out, "null", 5);
        return 4;
    }
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(out, 32, "%.*g", prec, d);
        if (prec == 17 || strtod(out, NULL) == d)
            break;
    }
    /* a real stays a real when read back: "1" -> "1.0" (as jansson does) */
    if (strpbrk(out, ".eE") == NULL && n + 2 < 32) {
        memcpy(out + n, ".0", 3);
        n += 2;
    }
    return (size_t)n;
}

static void write_string(lx_buf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF"; /* as jansson writes them */
    lx_buf_append(b, "\"", 1);
    size_t run = 0; /* start of the bytes not yet copied */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        lx_buf_append(b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"':
            lx_buf_append(b, "\\\"", 2);
            break;
        case '\\':
            lx_buf_append(b, "\\\\", 2);
            break;
        case '\b':
            lx_buf_append(b, "\\b", 2);
            break;
        case '\f':
            lx_buf_append(b, "\\f", 2);
            break;
        case '\n':
            lx_buf_append(b, "\\n", 2);
            break;
        case '\r':
            lx_buf_append(b, "\\r", 2);
            break;
        case '\t':
            lx_buf_append(b, "\\t", 2);
            break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            lx_buf_append(b, u, 6);
        }
        }
    }
    lx_buf_append(b, s + run, n - run);
    lx_buf_append(b, "\"", 1);
}

static void write_value(lx_buf_t *b, const json_t *v, int depth)
{
    char num[32];
    if (depth > 2 * LX_JSON_MAX_DEPTH) { /* values llmux builds are never this deep */
        lx_buf_append(b, "null", 4);
        return;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        lx_buf_append(b, "{", 1);
        bool first = true;
        for (void *it = json_object_iter((json_t *)v); it;
             it = json_object_iter_next((json_t *)v, it)) {
            if (!first)
                lx_buf_append(b, ",", 1);
            first = false;
            write_string(b, json_object_iter_key(it), json_object_iter_key_len(it));
            lx_buf_append(b, ":", 1);
            write_value(b, json_object_iter_value(it), depth + 1);
        }
        lx_buf_append(b, "}", 1);
        break;
    }
    case JSON_ARRAY: {
        lx_buf_append(b, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                lx_buf_append(b, ",", 1);
            write_value(b, json_array_get(v, i), depth + 1);
        }
        lx_buf_append(b, "]", 1);
        break;
    }
    case JSON_STRING:
        write_string(b, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER: {
        int n = snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        lx_buf_append(b, num, (size_t)n);
        break;
    }
    case JSON_REAL: {
        size_t n = lx_json_real_text(json_real_value(v), num);
        lx_buf_append(b, num, n);
        break;
    }
    case JSON_TRUE:
        lx_buf_append(b, "true", 4);
        break;
    case JSON_FALSE:
        lx_buf_append(b, "false", 5);
        break;
    case JSON_NULL:
        lx_buf_append(b, "null", 4);
        break;
    }
}

void lx_json_write(lx_buf_t *b, const json_t *v)
{
    if (v == NULL)
        return;
    write_value(b, v, 0);
}

char *lx_json_text(const json_t *v, size_t *len)
{
    lx_buf_t b;
    lx_buf_init(&b, 256);
    lx_json_write(&b, v);
    lx_buf_reserve(&b, 1);
    b.p[b.n] = '\0';
    if (len)
        *len = b.n;
    return b.p; /* the buffer's bytes become the caller's */
}
