/* buf.h - a growable byte buffer (in the spirit of redis' sds, without the
 * header tricks).
 *
 * The lx_buf_t owns its bytes; lx_buf_free releases them. p is always
 * NUL-terminated after any append so it can be handed to C APIs, but n is
 * the length that counts. */
#ifndef LX_CORE_BUF_H
#define LX_CORE_BUF_H

#include "core/common.h"

#include <stdarg.h>
#include <string.h> /* memcpy, in the inline append */

typedef struct {
    char *p;
    size_t n;
    size_t cap;
} lx_buf_t;

void lx_buf_init(lx_buf_t *b, size_t cap);
void lx_buf_free(lx_buf_t *b);
void lx_buf_reset(lx_buf_t *b);
/* Makes room for extra more bytes and the NUL (out of line: rare). */
void lx_buf_grow(lx_buf_t *b, size_t extra);

/* Inline: responses, log lines and request bodies are built from many
 * short appends, and a call per append cost more than the copy. */
static inline void lx_buf_reserve(lx_buf_t *b, size_t extra)
{
    if (b->n + extra + 1 > b->cap)
        lx_buf_grow(b, extra);
}

static inline void lx_buf_append(lx_buf_t *b, const void *p, size_t n)
{
    lx_buf_reserve(b, n);
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = '\0';
}

/* A string literal, its length known at compile time. */
#define lx_buf_append_lit(b, lit) lx_buf_append((b), "" lit, sizeof(lit) - 1)

void lx_buf_append_str(lx_buf_t *b, lx_str_t s);
void lx_buf_append_cstr(lx_buf_t *b, const char *s);
void lx_buf_append_char(lx_buf_t *b, char c);
/* Appends v in decimal (no printf on hot paths). */
void lx_buf_append_uint(lx_buf_t *b, uint64_t v);
void lx_buf_printf(lx_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lx_buf_vprintf(lx_buf_t *b, const char *fmt, va_list ap);
/* Appends s as a JSON string literal, quotes included. */
void lx_buf_append_json_str(lx_buf_t *b, const char *s, size_t n);
/* Drops the first n bytes. */
void lx_buf_consume(lx_buf_t *b, size_t n);

static inline lx_str_t lx_buf_str(const lx_buf_t *b)
{
    return (lx_str_t){b->p, b->n};
}

#endif
