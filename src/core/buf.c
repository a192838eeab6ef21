/* buf.c - growable byte buffer. */
#include "core/buf.h"

#include <stdio.h>
#include <stdlib.h>

void lx_buf_init(lx_buf_t *b, size_t cap)
{
    b->p = NULL;
    b->n = 0;
    b->cap = 0;
    if (cap)
        lx_buf_reserve(b, cap);
}

void lx_buf_free(lx_buf_t *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

void lx_buf_reset(lx_buf_t *b)
{
    b->n = 0;
    if (b->p)
        b->p[0] = '\0';
}

void lx_buf_grow(lx_buf_t *b, size_t extra)
{
    size_t need = b->n + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    b->p = lx_realloc(b->p, cap);
    b->cap = cap;
}

void lx_buf_append_str(lx_buf_t *b, lx_str_t s)
{
    lx_buf_append(b, s.p, s.n);
}

void lx_buf_append_cstr(lx_buf_t *b, const char *s)
{
    lx_buf_append(b, s, strlen(s));
}

void lx_buf_append_char(lx_buf_t *b, char c)
{
    lx_buf_append(b, &c, 1);
}

void lx_buf_append_uint(lx_buf_t *b, uint64_t v)
{
    char d[20];
    int k = (int)sizeof d;
    do
        d[--k] = (char)('0' + v % 10);
    while (v /= 10);
    lx_buf_append(b, d + k, sizeof d - (size_t)k);
}

void lx_buf_vprintf(lx_buf_t *b, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        return;
    lx_buf_reserve(b, (size_t)n); /* even for n == 0, so p is never left NULL */
    vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
    b->n += (size_t)n;
}

void lx_buf_printf(lx_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lx_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void lx_buf_append_json_str(lx_buf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    lx_buf_reserve(b, n + 2);
    lx_buf_append_char(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[6];
        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        default:
            if (c < 0x20) {
                u[0] = '\\', u[1] = 'u', u[2] = '0', u[3] = '0';
                u[4] = hex[c >> 4], u[5] = hex[c & 15];
            }
        }
        if (esc == NULL && c >= 0x20) {
            run++;
            continue;
        }
        lx_buf_append(b, s + i - run, run);
        run = 0;
        if (esc)
            lx_buf_append_cstr(b, esc);
        else
            lx_buf_append(b, u, 6);
    }
    lx_buf_append(b, s + n - run, run);
    lx_buf_append_char(b, '"');
}

void lx_buf_consume(lx_buf_t *b, size_t n)
{
    if (n >= b->n) {
        lx_buf_reset(b);
        return;
    }
    memmove(b->p, b->p + n, b->n - n);
    b->n -= n;
    b->p[b->n] = '\0';
}
