/* common.h - types and macros every llmux module uses.
 *
 * Owns nothing. lx_str_t is a borrowed view: it never owns the bytes it points
 * at and is valid only as long as whoever owns those bytes says so. */
#ifndef LX_CORE_COMMON_H
#define LX_CORE_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef enum {
    LX_OK = 0,
    LX_ERROR = -1,
    LX_AGAIN = -2, /* not finished yet: the caller will be called back */
    LX_DONE = -3,  /* finished early, nothing more to do */
} lx_rc_t;

typedef struct {
    const char *p;
    size_t n;
} lx_str_t;

#define LX_STR(lit)      ((lx_str_t){(lit), sizeof(lit) - 1})
#define LX_NULL_STR      ((lx_str_t){NULL, 0})
#define LX_UNUSED(x)     ((void)(x))
#define LX_ARRAY_LEN(a)  (sizeof(a) / sizeof((a)[0]))
#define LX_MIN(a, b)     ((a) < (b) ? (a) : (b))
#define LX_MAX(a, b)     ((a) > (b) ? (a) : (b))
#define lx_likely(x)     __builtin_expect(!!(x), 1)
#define lx_unlikely(x)   __builtin_expect(!!(x), 0)
#define LX_STRINGIFY_(x) #x
#define LX_STRINGIFY(x)  LX_STRINGIFY_(x)

static inline lx_str_t lx_str(const char *s)
{
    return (lx_str_t){s, s ? strlen(s) : 0};
}

static inline bool lx_str_eq(lx_str_t a, lx_str_t b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static inline bool lx_str_eq_cstr(lx_str_t a, const char *b)
{
    return lx_str_eq(a, lx_str(b));
}

static inline bool lx_str_has_prefix(lx_str_t s, const char *prefix)
{
    size_t n = strlen(prefix);
    return s.n >= n && memcmp(s.p, prefix, n) == 0;
}

/* Case-insensitive ASCII comparison, for header names and tokens. */
bool lx_str_ieq(lx_str_t a, lx_str_t b);

/* Allocation that cannot fail on a request path without us noticing: aborts
 * on OOM, the same policy as redis' zmalloc. */
void *lx_alloc(size_t n);
void *lx_calloc(size_t count, size_t n);
void *lx_realloc(void *p, size_t n);
char *lx_strndup(const char *p, size_t n);
char *lx_strdup(const char *s);

/* Writes v in decimal into out (NUL-terminated); returns the length. */
size_t lx_i64_str(char out[24], int64_t v);

/* Copies p[0..n) into dst[cap], truncated to cap - 1 and NUL-terminated
 * (cap > 0): snprintf(dst, cap, "%.*s", ...) without the format engine, which
 * costs more than the copy on hot paths. Returns the length written. */
size_t lx_copy(char *dst, size_t cap, const char *p, size_t n);
/* The value of one hexadecimal digit, -1 for any other character. */
static inline int lx_hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static inline size_t lx_copy_cstr(char *dst, size_t cap, const char *s)
{
    return lx_copy(dst, cap, s ? s : "", s ? strlen(s) : 0);
}

#endif
